"""The engine facade: one object that owns the market, the workers, the alerts
and the store, and offers snapshots, an event stream and commands. The panel
(through `LocalEngineClient`) and the API server use only this."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Collection, Coroutine
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from config.issues import ValidationReport
from config.models import InstrumentConfig, RiskOverrides, Settings, SystemMode, Timeframe
from engine import portfolio as book
from engine.alerts import AlertCenter
from engine.brokers.base import NEVER, OrderRequest, TriggerBand
from engine.bus import EventBus, Subscription
from engine.clock import Clock, RealClock
from engine.commit import after_commit
from engine.errors import Conflict, InvalidRequest, ValidationFailed
from engine.ids import IdSequence
from engine.jobs.handlers import builtin_handlers
from engine.jobs.service import JobService
from engine.market.cache import CacheKind, MarketCache
from engine.market.instruments import InstrumentService
from engine.market.price_alerts import PriceAlerts
from engine.market.simulator import MarketSimulator
from engine.models import (
    AccountEvent,
    AccountSnapshot,
    Alert,
    Bar,
    EngineState,
    EquityPoint,
    Event,
    FillEvent,
    MarketCacheStats,
    MarketView,
    Order,
    OrderCheck,
    OrderEvent,
    PerformanceReport,
    Portfolio,
    Position,
    PositionEvent,
    PriceAlert,
    PriceDirection,
    Quote,
    QuoteEvent,
    Severity,
    Snapshot,
    StrategyDefinition,
    StrategyEvent,
    StrategyInfo,
    SystemEvent,
    SystemStatus,
    WorkerDetail,
    WorkerInfo,
    WorkerState,
)
from engine.orders.gate import OrderGate
from engine.orders.preview import preview_order
from engine.orders.service import OrderService
from engine.orders.validation import VALIDATION_CHECK, VALIDATION_RANK, OrderValidation
from engine.risk import KillSwitch, RiskEngine
from engine.runtime import Runtime
from engine.strategies.service import StrategyService
from engine.workers.manager import WorkerManager
from engine.workers.worker import QuoteHandler, Worker
from storage.lock import StoreLock
from storage.store import Store

log = logging.getLogger("tradedeck.engine")

_RECENT_ORDERS = 200
_MARKET_SAVE_SECONDS = 5.0


class Engine:
    def __init__(self, settings: Settings, store: Store, clock: Clock | None = None) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock or RealClock()
        self.bus = EventBus(self.clock.now)
        self.alerts = AlertCenter(store, self.bus, self.clock)
        self.gate = OrderGate()
        # Symbol, volume, prices, stops and margin, judged before any broker (rank 100).
        validation = OrderValidation(settings.account, self.quote)
        self.gate.add(VALIDATION_CHECK, validation, rank=VALIDATION_RANK)
        self.orders = OrderService(self)
        self.strategy_service = StrategyService(settings, store, self.clock)
        self.instrument_service = InstrumentService(settings, store, self.clock)
        self.price_alerts = PriceAlerts(store, self.alerts, self.clock)
        self.market_cache = MarketCache(self.quote, self.history, store.trades, self.clock)
        # Background jobs and their schedules (`engine.jobs.schedules`).
        self.jobs = JobService(self, builtin_handlers())
        # Risk limits (a gate check at rank 200, evaluated on every AccountEvent)
        # and the kill switch (a gate check at rank 0).
        self.risk = RiskEngine(self)
        self.kill_switch = KillSwitch(self)
        self.state = EngineState.STOPPED
        self.started_at: datetime | None = None
        self._latest: dict[str, Quote] = {}
        self._routes: dict[str, _Route] = {}
        self._attached: dict[str, Worker] = {}  # in the order quotes reach them
        self._tasks: set[asyncio.Task[None]] = set()
        self._accounts: dict[str, AccountSnapshot] = {}
        self._positions: dict[int, Position] = {}
        self._orders: dict[int, Order] = {}
        self.simulator: MarketSimulator | None = None
        self.manager: WorkerManager | None = None
        self.bus.add_listener(self._track)
        self._lock: StoreLock | None = None

    @classmethod
    async def open(cls, settings: Settings, db_path: Path, clock: Clock | None = None) -> Engine:
        """Lock the store for this engine alone (a second engine on it is
        refused), then open it read-write with its schema brought current."""
        lock = StoreLock.acquire(db_path)
        try:
            store = await Store.open(db_path, settings.storage)
        except BaseException:
            lock.release()
            raise
        engine = cls(settings, store, clock)
        engine._lock = lock
        return engine

    # --- lifecycle -------------------------------------------------------------

    async def start(self, *, run_loops: bool = True) -> None:
        """Restore state from the store, start the workers that should run, and
        (unless a test drives the market itself) the market and marking loops."""
        self._set_state(EngineState.STARTING)
        self.started_at = self.clock.now()
        await self.alerts.load()
        await self.instrument_service.load()  # before the market reads the instruments
        await self.strategy_service.load()
        await self.price_alerts.load()
        last_quotes = await self.store.market.load()
        self.simulator = MarketSimulator(
            self.settings.instruments, self.settings.engine.seed, self.clock.now(), last_quotes
        )
        self._latest = self.simulator.quotes()
        runtime = Runtime(
            settings=self.settings,
            clock=self.clock,
            store=self.store,
            bus=self.bus,
            alerts=self.alerts,
            market=self,
            tickets=IdSequence(await self.store.ledger.max_ticket()),
            signal_ids=IdSequence(await self.store.signals.max_id()),
            strategy_service=self.strategy_service,
            gate=self.gate,
        )
        self.manager = WorkerManager(runtime, self._attach, self._detach)
        await self._load_ledgers()
        await self.kill_switch.load()  # halted before any worker can send an order
        await self.risk.start()
        if run_loops:
            self._spawn(self._market_loop(), "market")
            self._spawn(self._mark_loop(), "mark")
        desired = await self.store.accounts.desired()
        to_start = [a.id for a in self.settings.accounts if desired.get(a.id, a.enabled)]
        results = await asyncio.gather(
            *(self.manager.start(a) for a in to_start), return_exceptions=True
        )
        for account_id, result in zip(to_start, results, strict=True):
            if isinstance(result, BaseException):
                runtime.log(f"could not start: {result}", level="error", account_id=account_id)
        await self.jobs.start()
        self._set_state(EngineState.RUNNING)

    async def stop(self) -> None:
        """Stop workers and loops; what should run is left stored for the next start."""
        if self.state in (EngineState.STOPPED, EngineState.STOPPING):
            return
        self._set_state(EngineState.STOPPING)
        await self.jobs.stop()  # first: a running job may use the workers
        await self.risk.stop()  # its flatten/pause actions use the workers
        if self.manager is not None:
            await self.manager.shutdown(self.settings.engine.stop_timeout_seconds)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self._latest:
            await self.store.market.save(list(self._latest.values()))
        await self.store.db.writer.flush()
        self._set_state(EngineState.STOPPED)

    async def close(self) -> None:
        try:
            await self.stop()
            await self.store.close()
        finally:
            if self._lock is not None:
                self._lock.release()

    async def quiesce(self) -> None:
        """Wait until every write submitted so far is committed and published
        (tests and benchmarks use it to observe a settled engine)."""
        for _ in range(3):
            await asyncio.sleep(0)
            await self.store.db.writer.flush()
        await asyncio.sleep(0)

    # --- market ----------------------------------------------------------------

    def quote(self, symbol: str) -> Quote | None:
        return self._latest.get(symbol)

    def history(self, symbol: str, timeframe: Timeframe, count: int, end: datetime) -> list[Bar]:
        assert self.simulator is not None
        return self.simulator.history(symbol, timeframe, count, end)

    def step_market(self) -> int:
        """Advance the simulator to the clock's time and dispatch the new quotes."""
        assert self.simulator is not None
        quotes = self.simulator.step(self.clock.now())
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
        publish = self.bus.publish
        watches = self.price_alerts.watches
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
                self.price_alerts.cross(watch, quote)
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
                self._manager().crashed(worker, exc)

    # --- reading ---------------------------------------------------------------

    def status(self) -> SystemStatus:
        accounts = self._accounts.values()
        manager = self.manager
        return SystemStatus(
            state=self.state,
            mode=self.settings.engine.mode,
            started_at=self.started_at,
            time=self.clock.now(),
            workers_total=len(self.settings.accounts),
            workers_running=manager.running if manager else 0,
            total_equity=sum((a.equity for a in accounts), Decimal(0)),
            total_balance=sum((a.balance for a in accounts), Decimal(0)),
            pnl_today=sum((a.pnl_today for a in accounts), Decimal(0)),
            open_alerts=self.alerts.open_count,
        )

    def snapshot(self) -> Snapshot:
        return Snapshot(
            system=self.status(),
            workers=self.workers(),
            accounts=list(self._accounts.values()),
            positions=sorted(self._positions.values(), key=lambda p: p.ticket),
            orders=sorted(self._orders.values(), key=lambda o: o.ticket, reverse=True),
            alerts=self.alerts.recent(),
            quotes=list(self._latest.values()),
        )

    def subscribe(self, maxsize: int = 10_000) -> Subscription:
        return self.bus.subscribe(maxsize)

    def workers(self) -> list[WorkerInfo]:
        return self._manager().infos()

    def worker(self, account_id: str) -> WorkerInfo:
        return self._manager().get(account_id).info

    def strategies(self) -> list[StrategyInfo]:
        """Every account's strategies, running or not."""
        return [s for w in self._manager().workers.values() for s in w.strategy_infos()]

    async def worker_detail(self, account_id: str) -> WorkerDetail:
        worker = self._manager().get(account_id)
        ledger = self.store.ledger
        return WorkerDetail(
            worker=worker.info,
            account=self._accounts.get(account_id),
            strategies=worker.strategy_infos(),
            validation=self._manager().validate(account_id),
            positions=[p for p in self._positions.values() if p.account_id == account_id],
            orders=await ledger.orders(account_id, limit=50),
            fills=await ledger.fills(account_id, limit=50),
            signals=await self.store.signals.recent(account_id=account_id, limit=50),
            equity=await self.store.equity.history(account_id, limit=500),
        )

    # --- portfolio and performance (engine/portfolio.py) ---------------------------

    async def portfolio(self, accounts: Collection[str] | None = None) -> Portfolio:
        """Each account's live figures, their total, and each strategy's P&L."""
        return await book.summary(self, accounts)

    async def equity_history(
        self,
        accounts: Collection[str] | None = None,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        resolution: timedelta | None = None,
        limit: int = 1000,
    ) -> list[EquityPoint]:
        """Stored equity samples over a range, oldest first; with a `resolution`,
        each account's closes at it (an equity chart over any range)."""
        return await book.equity_history(
            self, accounts, since=since, until=until, resolution=resolution, limit=limit
        )

    async def performance(
        self,
        *,
        accounts: Collection[str] | None = None,
        strategy_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        benchmark: str | None = None,
        resolution: timedelta = timedelta(days=1),
    ) -> PerformanceReport:
        """Performance metrics over a range (docs/metrics.md), with each
        strategy's trades and P&L: per account, per strategy or in total."""
        return await book.report(
            self,
            accounts=accounts,
            strategy_id=strategy_id,
            since=since,
            until=until,
            benchmark=benchmark,
            resolution=resolution,
        )

    # --- commands --------------------------------------------------------------

    async def start_worker(self, account_id: str, *, validate: bool = True) -> WorkerInfo:
        info = await self._manager().start(account_id, validate=validate)
        await self.store.accounts.set_desired(account_id, True)
        return info

    async def stop_worker(self, account_id: str, timeout: float | None = None) -> WorkerInfo:
        manager = self._manager()
        manager.get(account_id)
        await self.store.accounts.set_desired(account_id, False)
        return await manager.stop(account_id, timeout)

    async def restart_worker(self, account_id: str) -> WorkerInfo:
        info = await self._manager().restart(account_id)
        await self.store.accounts.set_desired(account_id, True)
        return info

    async def start_all(self) -> list[WorkerInfo]:
        infos = await self._manager().start_all()
        await asyncio.gather(*(self.store.accounts.set_desired(i.account_id, True) for i in infos))
        return infos

    async def stop_all(self, timeout: float | None = None) -> int:
        manager = self._manager()
        running = [
            w.account_id for w in manager.workers.values() if w.state is not WorkerState.STOPPED
        ]
        await asyncio.gather(*(self.store.accounts.set_desired(a, False) for a in running))
        return await manager.stop_all(timeout)

    def validate_worker(self, account_id: str) -> ValidationReport:
        return self._manager().validate(account_id)

    def validate_all(self) -> dict[str, ValidationReport]:
        return self._manager().validate_all()

    def set_mode(self, mode: SystemMode) -> SystemStatus:
        """Switch between paper and live trading. `halted` belongs to the kill
        switch: it is neither set nor left here."""
        current = self.settings.engine.mode
        if mode is SystemMode.HALTED:
            raise InvalidRequest("Only the kill switch halts trading.", mode=mode.value)
        if current is SystemMode.HALTED:
            raise Conflict(
                "Trading is halted by the kill switch; clear the kill switch first.",
                mode=current.value,
            )
        if mode is not current:
            self.settings.engine.mode = mode
            self.log(f"system mode changed from {current.value} to {mode.value}")
            self.bus.publish(SystemEvent(time=self.clock.now(), status=self.status()))
        return self.status()

    def log(
        self,
        message: str,
        *,
        level: Literal["debug", "info", "warning", "error"] = "info",
        account_id: str | None = None,
    ) -> None:
        """A line in the event log and on the panel's log line."""
        self._manager().rt.log(message, level=level, account_id=account_id)

    async def acknowledge_alert(self, alert_id: int) -> Alert:
        return await self.alerts.acknowledge(alert_id)

    async def resolve_alert(self, alert_id: int) -> Alert:
        return await self.alerts.resolve(alert_id)

    def check_order(self, request: OrderRequest) -> OrderCheck:
        """An order's dry run for the order ticket: the margin it needs and the
        pre-trade checks' verdict, sending and counting nothing."""
        return preview_order(self, request)

    # --- strategies at run time (stored: a restart keeps them) -----------------

    def strategy(self, strategy_id: str) -> StrategyInfo:
        return self._strategy_info(self.strategy_service.get(strategy_id))

    async def add_strategy(
        self,
        account_id: str,
        kind: str,
        params: dict[str, Any],
        symbols: list[str] | None,
        timeframe: Timeframe | None = None,
        *,
        risk: RiskOverrides | None = None,
        strategy_id: str | None = None,
        paused: bool = False,
    ) -> StrategyInfo:
        """Add a strategy to an account (its symbols when `symbols` is empty) and,
        if the worker runs, run it now, warmed up on recent history."""
        worker = self._manager().get(account_id)
        definition = await self.strategy_service.add(
            account_id,
            kind,
            params,
            symbols,
            timeframe,
            risk=risk,
            strategy_id=strategy_id,
            paused=paused,
        )
        info = worker.add_strategy(definition)
        self._strategies_moved(worker)
        self._strategy_changed(info, f"added ({kind} on {', '.join(definition.symbols)})")
        return info

    async def remove_strategy(self, strategy_id: str) -> StrategyInfo:
        """Stop and forget a strategy; its open positions stay, guarded by their SL/TP."""
        definition = self.strategy_service.get(strategy_id)
        worker = self._manager().get(definition.account_id)
        worker.remove_strategy(strategy_id)
        self._strategies_moved(worker)
        await self.strategy_service.remove(strategy_id)
        info = worker.strategy_info(definition.model_copy(update={"paused": False}))
        self._strategy_changed(info, "removed", removed=True)
        return info

    async def pause_strategy(self, strategy_id: str) -> StrategyInfo:
        """Pause a strategy: it keeps its positions (their stops stay at the broker)
        but opens and closes nothing until resumed."""
        info, stored = self._set_paused(self.strategy_service.get(strategy_id), True)
        await stored
        return info

    async def resume_strategy(self, strategy_id: str) -> StrategyInfo:
        info, stored = self._set_paused(self.strategy_service.get(strategy_id), False)
        await stored
        return info

    def pause_strategies(self, account_id: str | None = None) -> list[StrategyInfo]:
        """Pause every strategy of `account_id` (of every account when None) at once
        and return them all. Synchronous, for the risk engine's actions: the
        strategies stop opening positions before this returns; the stored state
        commits moments later."""
        if account_id is not None:
            self._manager().get(account_id)
        return [self._set_paused(d, True)[0] for d in self.strategy_service.definitions(account_id)]

    # --- instruments (stored: a restart keeps the edits) -----------------------

    async def add_instrument(self, symbol: str, config: InstrumentConfig) -> InstrumentConfig:
        added = await self.instrument_service.add(symbol, config)
        self.log(f"instrument {symbol} added; its simulated market starts at the next start")
        return added

    async def update_instrument(self, symbol: str, config: InstrumentConfig) -> InstrumentConfig:
        """Replace an instrument's definition; refused for the fields that value
        positions (digits, point, contract size, profit currency) while an account
        holds positions or orders in it."""
        holders = [p.account_id for p in self._positions.values() if p.symbol == symbol]
        holders += [
            o.account_id for o in self._orders.values() if o.symbol == symbol and o.status.is_open
        ]
        updated = await self.instrument_service.update(symbol, config, holders)
        self.market_cache.invalidate(symbol)
        self.log(f"instrument {symbol} changed")
        return updated

    async def remove_instrument(self, symbol: str) -> InstrumentConfig:
        """Delete an instrument no account, strategy or active price alert uses."""
        users = {
            "accounts": [a.id for a in self.settings.accounts if symbol in a.symbols],
            "strategies": [
                d.id for d in self.strategy_service.definitions() if symbol in d.symbols
            ],
            "price alerts": [
                str(a.id) for a in self.price_alerts.list() if a.symbol == symbol and a.active
            ],
        }
        removed = await self.instrument_service.remove(symbol, users)
        self.market_cache.invalidate(symbol)
        self.log(f"instrument {symbol} deleted")
        return removed

    # --- market data and price alerts --------------------------------------------

    async def market_view(
        self, symbol: str, timeframe: Timeframe, bars: int = 50, trades: int = 20
    ) -> MarketView:
        """`symbol`'s latest quote, recent closed bars and our recent fills, from
        the market-data cache."""
        self.instrument_service.get(symbol)
        cache = self.market_cache
        return MarketView(
            symbol=symbol,
            quote=cache.quote(symbol),
            timeframe=timeframe,
            bars=cache.bars(symbol, timeframe, bars),
            trades=await cache.trades(symbol, trades),
        )

    def cache_stats(self) -> MarketCacheStats:
        return self.market_cache.stats()

    def invalidate_cache(self, symbol: str | None = None, kind: CacheKind | None = None) -> int:
        """Drop cached bars and trades (of `symbol`, of `kind`); the number dropped."""
        if symbol is not None:
            self.instrument_service.get(symbol)
        return self.market_cache.invalidate(symbol, kind)

    def list_price_alerts(self) -> list[PriceAlert]:
        return self.price_alerts.list()

    def price_alert(self, alert_id: int) -> PriceAlert:
        return self.price_alerts.get(alert_id)

    async def add_price_alert(
        self,
        symbol: str,
        direction: PriceDirection,
        level: Decimal,
        *,
        repeat: bool = False,
        severity: Severity = Severity.MEDIUM,
        note: str = "",
        account_id: str | None = None,
        created_by: str = "",
    ) -> PriceAlert:
        """Watch `symbol`'s bid cross `level`; each crossing raises a `price_alert`
        alert (once, or every time the price comes back and crosses again)."""
        if symbol not in self.settings.instruments:
            raise ValidationFailed(
                f"symbol: no instrument {symbol!r} is configured.",
                [{"path": "symbol", "loc": ["symbol"], "message": f"unknown symbol {symbol!r}"}],
            )
        if account_id is not None:
            self._manager().get(account_id)
        quote = self.quote(symbol)
        alert = await self.price_alerts.add(
            symbol,
            direction,
            level,
            bid=quote.bid if quote is not None else None,
            repeat=repeat,
            severity=severity,
            note=note,
            account_id=account_id,
            created_by=created_by,
        )
        self.log(
            f"price alert {alert.id}: {symbol} {direction.value} {level}"
            f"{' (repeating)' if repeat else ''}",
            account_id=account_id,
        )
        return alert

    async def delete_price_alert(self, alert_id: int) -> PriceAlert:
        alert = await self.price_alerts.delete(alert_id)
        self.log(f"price alert {alert_id} deleted", account_id=alert.account_id)
        return alert

    # --- internals -------------------------------------------------------------

    def _manager(self) -> WorkerManager:
        if self.manager is None:
            raise RuntimeError("the engine has not been started")
        return self.manager

    def _strategy_info(self, definition: StrategyDefinition) -> StrategyInfo:
        return self._manager().get(definition.account_id).strategy_info(definition)

    def _set_paused(
        self, definition: StrategyDefinition, paused: bool
    ) -> tuple[StrategyInfo, asyncio.Future[None]]:
        """Pause or resume at once; the future resolves once that is stored (and
        the change published). Nothing is written when nothing changes."""
        if definition.paused is paused:
            done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            done.set_result(None)
            return self._strategy_info(definition), done
        definition, stored = self.strategy_service.set_paused(definition.id, paused)
        info = self._manager().get(definition.account_id).set_strategy_paused(definition)
        after_commit(
            stored, lambda: self._strategy_changed(info, "paused" if paused else "resumed")
        )
        return info, stored

    def _strategy_changed(self, info: StrategyInfo, what: str, *, removed: bool = False) -> None:
        self.bus.publish(StrategyEvent(time=self.clock.now(), strategy=info, removed=removed))
        self.log(f"strategy {info.id} {what}", account_id=info.account_id)

    def _strategies_moved(self, worker: Worker) -> None:
        """The worker's strategies changed: route its symbols' quotes again."""
        if self._attached.get(worker.account_id) is worker:
            for symbol in worker.account.symbols:
                self._reroute_strategies(self._routes[symbol])

    def _set_state(self, state: EngineState) -> None:
        self.state = state
        self.bus.publish(SystemEvent(time=self.clock.now(), status=self.status()))

    def _attach(self, worker: Worker) -> None:
        """Route quotes to the worker, from now until `_detach`."""
        self._attached.pop(worker.account_id, None)
        self._attached[worker.account_id] = worker
        worker.on_band = functools.partial(self._band_changed, worker)
        # Every instrument's band, not only the account's symbols: it may hold
        # positions restored in a symbol it no longer trades, whose stops still
        # need quotes.
        for symbol in self.settings.instruments:
            route = self._routes.setdefault(symbol, _Route(symbol))
            route.moved.add(worker)
        for symbol in worker.account.symbols:
            self._reroute_strategies(self._routes[symbol])

    def _detach(self, worker: Worker) -> None:
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

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(coro, name=f"engine:{name}")
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.critical("engine task %s died", task.get_name(), exc_info=task.exception())

    async def _load_ledgers(self) -> None:
        """Accounts, positions and orders as stored, so the panel shows stopped
        accounts too."""
        now = self.clock.now()
        for account in self.settings.accounts:
            ledger = await self.store.ledger.load(account.id, account.starting_balance, now)
            self._accounts[account.id] = AccountSnapshot(
                account_id=account.id,
                broker=account.broker,
                currency=account.currency,
                leverage=account.leverage,
                starting_balance=account.starting_balance,
                balance=ledger.balance,
                equity=ledger.balance + sum((p.profit for p in ledger.positions), Decimal(0)),
                free_margin=ledger.balance,
                realised_pnl=ledger.realised_pnl,
                commission=ledger.commission,
                open_positions=len(ledger.positions),
                pending_orders=len(ledger.orders),
                time=now,
            )
        for position in await self.store.ledger.positions():
            self._positions[position.ticket] = position
        for order in await self.store.ledger.orders(limit=_RECENT_ORDERS):
            self._orders[order.ticket] = order
        for order in await self.store.ledger.orders(open_only=True, limit=10_000):
            self._orders[order.ticket] = order

    def _track(self, event: Event) -> None:
        """Keep the snapshot caches current from the events themselves."""
        if isinstance(event, PositionEvent):
            if event.closed:
                self._positions.pop(event.position.ticket, None)
            else:
                self._positions[event.position.ticket] = event.position
        elif isinstance(event, OrderEvent):
            self._orders[event.order.ticket] = event.order
            if len(self._orders) > _RECENT_ORDERS * 2:
                self._trim_orders()
        elif isinstance(event, AccountEvent):
            self._accounts[event.account.account_id] = event.account
        elif isinstance(event, FillEvent):
            self.market_cache.add_fill(event.fill)

    def _trim_orders(self) -> None:
        closed = sorted(t for t, o in self._orders.items() if not o.status.is_open)
        for ticket in closed[: len(closed) - _RECENT_ORDERS]:
            del self._orders[ticket]

    async def _market_loop(self) -> None:
        step = self.settings.engine.market_step_ms / 1000
        saved_at = self.clock.monotonic()
        while True:
            await self.clock.sleep(step)
            self.step_market()
            if self.clock.monotonic() - saved_at >= _MARKET_SAVE_SECONDS:
                saved_at = self.clock.monotonic()
                self.store.market.save(list(self._latest.values()))

    async def _mark_loop(self) -> None:
        interval = self.settings.engine.mark_interval_ms / 1000
        sample_every = self.settings.engine.equity_sample_seconds
        sampled_at: float | None = None
        while True:
            await self.clock.sleep(interval)
            sample = sampled_at is None or self.clock.monotonic() - sampled_at >= sample_every
            if sample:
                sampled_at = self.clock.monotonic()
            self.mark(sample_equity=sample)

    def mark(self, *, sample_equity: bool = False) -> None:
        """Stop out the running accounts whose margin level fell too low, publish
        every one marked to market; store an equity sample."""
        now = self.clock.now()
        publish = self.bus.publish
        points: list[EquityPoint] = []
        for worker in self._manager().workers.values():
            if worker.state is not WorkerState.RUNNING or worker.broker is None:
                continue
            worker.check_stop_out()
            account = worker.broker.account()
            publish(AccountEvent(time=now, account=account))
            for position in worker.broker.positions():
                publish(PositionEvent(time=now, position=position))
            if sample_equity:
                points.append(
                    EquityPoint(
                        account_id=account.account_id,
                        time=now,
                        balance=account.balance,
                        equity=account.equity,
                        margin=account.margin,
                    )
                )
        if points:
            after_commit(self.store.equity.add(points), lambda: None)
        publish(SystemEvent(time=now, status=self.status()))


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
