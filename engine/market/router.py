"""The market's data engine: the newest quote of every symbol, and who hears
each symbol's quotes (brokers with a trigger band in it, the strategies trading
it, the price alerts watching it). This is the engine's hot path.

A crash in a worker's handler detaches that worker at once through `crashed`
(its supervisor's), so the other workers never miss a quote.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime

from engine.brokers.base import NEVER, TriggerBand
from engine.domain import Timeframe
from engine.market.price_alerts import PriceAlerts
from engine.market.simulator import MarketSimulator
from engine.models import Bar, Event, Quote, QuoteEvent
from engine.workers.worker import QuoteHandler, Worker


class QuoteRouter:
    def __init__(
        self,
        instruments: Callable[[], Collection[str]],
        publish: Callable[[Event], None],
        price_alerts: PriceAlerts,
    ) -> None:
        self._instruments = instruments
        self._publish = publish
        self._price_alerts = price_alerts
        self.simulator: MarketSimulator | None = None
        self._latest: dict[str, Quote] = {}
        self._routes: dict[str, _Route] = {}
        self._attached: dict[str, Worker] = {}  # in the order quotes reach them
        # Set by whoever supervises the workers: a handler raised.
        self.crashed: Callable[[Worker, BaseException], None] = _unsupervised

    def open(self, simulator: MarketSimulator) -> None:
        """Quote from `simulator` from now on, starting from its current quotes."""
        self.simulator = simulator
        self._latest = simulator.quotes()

    @property
    def latest(self) -> dict[str, Quote]:
        return self._latest

    def quote(self, symbol: str) -> Quote | None:
        return self._latest.get(symbol)

    def quotes(self) -> list[Quote]:
        return list(self._latest.values())

    def history(self, symbol: str, timeframe: Timeframe, count: int, end: datetime) -> list[Bar]:
        assert self.simulator is not None
        return self.simulator.history(symbol, timeframe, count, end)

    def step(self, now: datetime) -> int:
        """Advance the simulator to `now` and dispatch the new quotes."""
        assert self.simulator is not None
        quotes = self.simulator.step(now)
        self.process_quotes(quotes)
        return len(quotes)

    def process_quotes(self, quotes: list[Quote]) -> None:
        """The hot path: each quote to the brokers whose trigger bands it reaches
        (one exact check of their union spares all the others), then to every
        strategy trading its symbol, then to the price alerts whose nearest level
        it reaches, then to the bus."""
        latest = self._latest
        routes = self._routes
        deliver = self._deliver
        publish = self._publish
        watches = self._price_alerts.watches
        for quote in quotes:
            latest[quote.symbol] = quote
            route = routes.get(quote.symbol)
            if route is not None:
                if route.moved:
                    self._reroute_brokers(route)
                if route.band.reached(quote.bid, quote.ask):
                    deliver(quote, route.brokers, route.broker_owners)
                # Read after the brokers: a crash there has rerouted the symbol.
                deliver(quote, route.strategies, route.strategy_owners)
            watch = watches.get(quote.symbol)
            if watch is not None and (quote.bid >= watch.low or quote.bid <= watch.high):
                self._price_alerts.cross(watch, quote)
            publish(QuoteEvent(time=quote.time, quote=quote))

    def _deliver(
        self, quote: Quote, handlers: tuple[QuoteHandler, ...], owners: tuple[Worker, ...]
    ) -> None:
        """Call every handler with `quote`. One that raises crashes its worker, whose
        other handlers then miss the quote; the other workers' still get it."""
        while handlers:
            try:
                for handler in handlers:
                    handler(quote)
                return
            except Exception as exc:
                # `handler` is the one that raised: carry on after it.
                index = handlers.index(handler)
                worker = owners[index]
                rest = [
                    (h, w)
                    for h, w in zip(handlers[index + 1 :], owners[index + 1 :], strict=True)
                    if w is not worker
                ]
                handlers = tuple(h for h, _ in rest)
                owners = tuple(w for _, w in rest)
                self.crashed(worker, exc)

    def strategies_moved(self, worker: Worker) -> None:
        """The worker's strategies changed: route its symbols' quotes again."""
        if self._attached.get(worker.account_id) is worker:
            for symbol in worker.account.symbols:
                self._reroute_strategies(self._routes[symbol])

    def attach(self, worker: Worker) -> None:
        """Route quotes to the worker, from now until `detach`."""
        self._attached.pop(worker.account_id, None)
        self._attached[worker.account_id] = worker
        worker.on_band = functools.partial(self._band_changed, worker)
        # Every instrument's band, not only the account's symbols: it may hold
        # positions restored in a symbol it no longer trades, whose stops still
        # need quotes.
        for symbol in self._instruments():
            route = self._routes.setdefault(symbol, _Route(symbol))
            route.moved.add(worker)
        for symbol in worker.account.symbols:
            self._reroute_strategies(self._routes[symbol])

    def detach(self, worker: Worker) -> None:
        if self._attached.get(worker.account_id) is not worker:
            return
        del self._attached[worker.account_id]
        worker.on_band = None
        for route in self._routes.values():
            route.moved.discard(worker)
            route.bands.pop(worker, None)
            self._reroute_brokers(route)
        for symbol in worker.account.symbols:
            self._reroute_strategies(self._routes[symbol])

    def _band_changed(self, worker: Worker, symbol: str) -> None:
        """The worker's trigger band for `symbol` moved (an order or a position
        came, went or changed its levels): reroute before the symbol's next quote,
        once however many moved meanwhile (orders come in bursts)."""
        route = self._routes.get(symbol)
        if route is not None:
            route.moved.add(worker)

    def _reroute_strategies(self, route: _Route) -> None:
        symbol = route.symbol
        # A worker streaming its own quotes (MT5: its terminal's) gets none of ours.
        strategies = [
            (handler, worker)
            for worker in self._attached.values()
            if symbol in worker.account.symbols and not worker.streams_own_quotes
            for handler in worker.strategy_handlers(symbol)
        ]
        route.strategies = tuple(h for h, _ in strategies)
        route.strategy_owners = tuple(w for _, w in strategies)

    def _reroute_brokers(self, route: _Route) -> None:
        """Read the bands that moved; rebuild which brokers hear the symbol's
        quotes (in the workers' order) and the union of their bands."""
        symbol = route.symbol
        for worker in route.moved:
            band = worker.trigger_band(symbol)
            if band is None:
                route.bands.pop(worker, None)
            else:
                route.bands[worker] = band
        route.moved.clear()
        owners = tuple(w for w in self._attached.values() if w in route.bands)
        route.band = TriggerBand.covering(route.bands.values())
        route.brokers = tuple(w.feed_broker for w in owners)
        route.broker_owners = owners


def _unsupervised(worker: Worker, error: BaseException) -> None:
    raise error


@dataclass(slots=True)
class _Route:
    """Who hears one symbol's quotes: the strategies trading it, and the brokers
    with a trigger band in it, with the union of their bands (a quote outside it
    goes to no broker). Handlers and their workers are parallel tuples."""

    symbol: str
    strategies: tuple[QuoteHandler, ...] = ()
    strategy_owners: tuple[Worker, ...] = ()
    brokers: tuple[QuoteHandler, ...] = ()
    broker_owners: tuple[Worker, ...] = ()
    band: TriggerBand = NEVER
    bands: dict[Worker, TriggerBand] = field(default_factory=dict)  # each broker's own
    moved: set[Worker] = field(default_factory=set)  # whose band to read again
