"""A worker: the running unit for one broker account.

It connects the account's broker, feeds it and the account's strategies with
quotes, sends the strategies' orders one at a time, and stores every change
to the ledger before anyone hears of it. A paper account's quotes come from
the engine's market (the engine routes them here); an MT5 account streams
its own from its terminal (`streams_own_quotes`), and warms its strategies
up on the terminal's bars. A worker knows nothing of supervision: when it
fails it calls `on_crash` and its manager decides.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import datetime, time
from decimal import Decimal

from config.models import AccountConfig, InstrumentConfig
from engine.brokers.base import Broker, Changes, PaperLedger, TradeResult, TriggerBand, new_order
from engine.brokers.mt5.broker import TIMEFRAMES, Mt5Broker, Mt5Hooks, deals_from
from engine.brokers.mt5.guard import LIVE_MODE_CHECK, LIVE_MODE_RANK, live_mode_check
from engine.brokers.paper import PaperBroker
from engine.commit import after_commit
from engine.domain import BrokerKind, Timeframe
from engine.errors import Conflict, EngineError
from engine.models import (
    AccountEvent,
    AccountSnapshot,
    Bar,
    FillEvent,
    OrderEvent,
    OrderRequest,
    OrderSource,
    OrderStatus,
    Position,
    PositionEvent,
    Quote,
    Side,
    Signal,
    SignalEvent,
    StrategyDefinition,
    StrategyInfo,
    StrategyState,
    WorkerEvent,
    WorkerInfo,
    WorkerState,
)
from engine.orders.gate import OrderContext
from engine.runtime import Runtime
from engine.strategies import create_strategy
from engine.strategies.base import Strategy
from engine.tasks import TaskSet

QuoteHandler = Callable[[Quote], None]
History = Mapping[tuple[str, Timeframe], list[Bar]]
"""Warm-up bars by symbol and timeframe."""

_WARM_UP_BARS = 200
_REMEMBERED_CLIENT_IDS = 10_000


class Worker:
    def __init__(
        self,
        account: AccountConfig,
        runtime: Runtime,
        on_crash: Callable[[Worker, BaseException], None],
    ) -> None:
        self.account = account
        self.rt = runtime
        self._on_crash = on_crash
        self._heartbeat_at: datetime | None = None
        self._info = WorkerInfo(
            account_id=account.id,
            name=account.name,
            broker=account.broker,
            enabled=account.enabled,
            symbols=list(account.symbols),
            created_at=runtime.clock.now(),
            label=account.label,
            colour=account.colour,
        )
        self.broker: Broker | None = None
        self.strategies: dict[str, Strategy] = {}
        self._orders: asyncio.Queue[OrderRequest | tuple[int, str]] = asyncio.Queue()
        self._quotes: asyncio.Queue[list[Quote]] = asyncio.Queue()  # own feed (MT5)
        self._tasks = TaskSet(self.account_id, lambda _task, error: self._on_crash(self, error))
        self._send_lock = asyncio.Lock()
        self._by_client_id: OrderedDict[str, TradeResult] = OrderedDict()
        self.crashes = 0
        # Set by whoever routes quotes to this worker (the engine), to hear which
        # symbol's trigger band changed.
        self.on_band: Callable[[str], None] | None = None

    # --- state ---------------------------------------------------------------

    @property
    def account_id(self) -> str:
        return self.account.id

    @property
    def state(self) -> WorkerState:
        return self._info.status

    @property
    def streams_own_quotes(self) -> bool:
        """Whether the account's quotes come from its own broker (an MT5 terminal)
        rather than the engine's market, which then routes it none of its own."""
        return self.account.broker is BrokerKind.MT5

    @property
    def info(self) -> WorkerInfo:
        """The worker as the world sees it; the heartbeat is folded in only when
        read, so a beat costs an attribute store, not a model copy."""
        if self._info.heartbeat_at != self._heartbeat_at:
            self._info = self._info.model_copy(update={"heartbeat_at": self._heartbeat_at})
        return self._info

    def set_state(self, state: WorkerState, *, error: str | None = None, **changes: object) -> None:
        self._info = self.info.model_copy(update={"status": state, "error": error, **changes})
        if "heartbeat_at" in changes:
            self._heartbeat_at = self._info.heartbeat_at
        self.rt.bus.publish(WorkerEvent(time=self.rt.clock.now(), worker=self._info))

    # --- lifecycle -----------------------------------------------------------

    async def start(self) -> None:
        """Connect, restore the ledger, build and warm the strategies, start the tasks."""
        clock = self.rt.clock
        self.set_state(
            WorkerState.STARTING,
            worker_id=f"{self.account_id}-{uuid.uuid4().hex[:8]}",
            started_at=clock.now(),
            stopped_at=None,
        )
        self.broker = await self._connect()
        for order in await self.rt.store.ledger.orders(self.account_id, limit=1000):
            self._remember(order.client_order_id, TradeResult(order.retcode or 0, "known", order))
        if not self.streams_own_quotes:
            for symbol in self.account.symbols:
                quote = self.rt.market.quote(symbol)
                if quote is not None:
                    self._apply(self.broker.on_quote(quote))
        self.strategies = await self._build_strategies()
        if self.streams_own_quotes:
            self._tasks.spawn(self._quote_loop(), "quotes")
        self._tasks.spawn(self._order_loop(), "orders")
        self._tasks.spawn(self._heartbeat_loop(), "heartbeat")
        self.set_state(WorkerState.RUNNING, heartbeat_at=clock.now())
        self.rt.log(
            f"worker started ({len(self.strategies)} strategies on "
            f"{', '.join(self.account.symbols)})",
            account_id=self.account_id,
        )

    async def stop(self, timeout: float) -> None:
        """Stop the tasks and disconnect; never waits longer than `timeout`."""
        self.set_state(WorkerState.STOPPING)
        await self.halt(timeout)
        self.set_state(WorkerState.STOPPED, stopped_at=self.rt.clock.now())
        self.rt.log("worker stopped", account_id=self.account_id)

    async def halt(self, timeout: float) -> None:
        """Cancel the tasks and disconnect the broker, leaving the state as it is."""
        await self._tasks.stop(timeout)
        for strategy in self.strategies.values():
            strategy.stop()
        self._drain_orders()
        if self.broker is not None:
            with contextlib.suppress(Exception, TimeoutError):
                async with asyncio.timeout(timeout):
                    await self.broker.disconnect()

    # --- the hot path --------------------------------------------------------

    def strategy_handlers(self, symbol: str) -> tuple[QuoteHandler, ...]:
        """The `on_quote` of every strategy trading `symbol`, for the engine to call."""
        return tuple(s.on_quote for s in self.strategies.values() if symbol in s.symbols)

    def trigger_band(self, symbol: str) -> TriggerBand | None:
        """Where `symbol`'s quotes must go to `feed_broker`; None when nowhere."""
        return self.broker.trigger_band(symbol) if self.broker is not None else None

    def feed_broker(self, quote: Quote) -> None:
        """Give the broker a quote that reached its trigger band; store what fired."""
        assert self.broker is not None
        self._apply(self.broker.on_quote(quote))

    def quote(self, symbol: str) -> Quote | None:
        """`symbol`'s latest quote as this account sees it: its terminal's for the
        symbols an MT5 account trades, else the engine's market (for an MT5
        account, only to convert currencies it does not trade)."""
        if self.streams_own_quotes and symbol in self.account.symbols:
            return self.broker.last_quote(symbol) if self.broker is not None else None
        return self.rt.market.quote(symbol)

    def check_stop_out(self) -> None:
        """Let the broker close positions if the margin level fell below its
        stop-out level (the engine asks at every mark)."""
        if self.broker is not None:
            self._apply(self.broker.check_stop_out())

    # --- orders --------------------------------------------------------------

    async def send(self, request: OrderRequest, *, durable: bool = True) -> TradeResult:
        """Send one order. The same `client_order_id` twice returns the first result.

        With `durable`, return only once the outcome is committed (what a person
        or an API client is told is never lost); strategies don't wait.
        """
        if self.broker is None or self.state is not WorkerState.RUNNING:
            raise Conflict(f"Worker {self.account_id} is not running.")
        async with self._send_lock:
            known = self._by_client_id.get(request.client_order_id)
            if known is None and request.source is not OrderSource.STRATEGY:
                stored = await self.rt.store.ledger.order_by_client_id(
                    self.account_id, request.client_order_id
                )
                if stored is not None:
                    known = TradeResult(stored.retcode or 0, "duplicate client_order_id", stored)
            if known is not None:
                return known
            result = self._refused(request) or await self.broker.send_order(request)
            self._remember(request.client_order_id, result)
            committed = self._record(result.changes)
        if not result.ok:
            self.rt.log(
                f"order rejected ({result.retcode}): {result.message}",
                level="warning",
                account_id=self.account_id,
            )
        if durable:
            await committed
        return result

    def _refused(self, request: OrderRequest) -> TradeResult | None:
        """The gate's rejection of `request`, as a rejected order for the ledger."""
        assert self.broker is not None
        now = self.rt.clock.now()
        context = OrderContext(request, self.broker, self.rt.instruments.get(request.symbol), now)
        rejection = self.rt.gate.check(context)
        if rejection is None:
            return None
        order = new_order(request, self.account_id, self.rt.tickets(), now).model_copy(
            update={
                "status": OrderStatus.REJECTED,
                "retcode": rejection.retcode,
                "reason": rejection.message,
                "rule": rejection.rule,
            }
        )
        return TradeResult(rejection.retcode, rejection.message, order, Changes([order]))

    async def close_position(
        self, ticket: int, volume: Decimal | None = None, *, durable: bool = True
    ) -> TradeResult:
        """Close position `ticket`, or `volume` of it."""
        return await self._act(lambda b: b.close_position(ticket, volume), durable=durable)

    async def cancel_order(self, ticket: int) -> TradeResult:
        return await self._act(lambda b: b.cancel_order(ticket))

    async def modify_order(
        self,
        ticket: int,
        price: Decimal,
        sl: Decimal | None,
        tp: Decimal | None,
        stop_limit: Decimal | None = None,
    ) -> TradeResult:
        return await self._act(lambda b: b.modify_order(ticket, price, sl, tp, stop_limit))

    async def modify_position(
        self, ticket: int, sl: Decimal | None, tp: Decimal | None
    ) -> TradeResult:
        return await self._act(lambda b: b.modify_position(ticket, sl, tp))

    async def _act(
        self, action: Callable[[Broker], Awaitable[TradeResult]], *, durable: bool = True
    ) -> TradeResult:
        """One broker action on what the account already holds, serialised with
        orders and recorded; with `durable`, returned once committed."""
        if self.broker is None or self.state is not WorkerState.RUNNING:
            raise Conflict(f"Worker {self.account_id} is not running.")
        async with self._send_lock:
            result = await action(self.broker)
            committed = self._record(result.changes)
        if durable:
            await committed
        return result

    # --- what the engine reads -----------------------------------------------

    def account_snapshot(self) -> AccountSnapshot | None:
        return self.broker.account() if self.broker is not None else None

    def strategy_infos(self) -> list[StrategyInfo]:
        return [
            self.strategy_info(d) for d in self.rt.strategy_service.definitions(self.account_id)
        ]

    def strategy_info(self, definition: StrategyDefinition) -> StrategyInfo:
        """The live strategy's info while the worker runs; else the definition,
        `paused` or `stopped`, with what the last run counted."""
        strategy = self.strategies.get(definition.id)
        if self.state is WorkerState.RUNNING and strategy is not None:
            return strategy.info(self.account_id)
        return StrategyInfo(
            id=definition.id,
            account_id=self.account_id,
            kind=definition.kind,
            params=definition.params,
            symbols=list(definition.symbols),
            timeframe=definition.timeframe,
            state=StrategyState.PAUSED if definition.paused else StrategyState.STOPPED,
            signals=strategy.signals if strategy is not None else 0,
            last_signal_at=strategy.last_signal_at if strategy is not None else None,
        )

    # --- strategies at run time ----------------------------------------------
    # The engine changes the strategy service first, then tells a running worker
    # here; a worker that is not running builds what the service says at start.

    def add_strategy(self, definition: StrategyDefinition) -> StrategyInfo:
        """Build, warm up and run `definition` now (once: a strategy the worker
        already runs is left as it is). On an MT5 account it runs at once and
        warms up as soon as the terminal's bars arrive."""
        if self.state is WorkerState.RUNNING and definition.id not in self.strategies:
            if isinstance(self.broker, Mt5Broker):
                strategy = self._build_strategy(definition, _Context(self), {})
                warm_up = self._warm_up_from_terminal(strategy, definition, self.broker)
                self._tasks.spawn(warm_up, "warm-up")
            else:
                history = self._market_history([definition])
                strategy = self._build_strategy(definition, _Context(self), history)
            self.strategies[definition.id] = strategy
        return self.strategy_info(definition)

    def remove_strategy(self, strategy_id: str) -> None:
        """Stop the strategy; its positions stay open, guarded by their SL/TP."""
        strategy = self.strategies.pop(strategy_id, None)
        if strategy is not None:
            strategy.stop()

    def set_strategy_paused(self, definition: StrategyDefinition) -> StrategyInfo:
        """Pause or resume the running strategy as `definition.paused` says. A
        paused one opens and closes nothing; the broker still applies its stops."""
        strategy = self.strategies.get(definition.id)
        if self.state is WorkerState.RUNNING and strategy is not None:
            if definition.paused:
                strategy.pause()
            else:
                strategy.resume()
        return self.strategy_info(definition)

    # --- internals -----------------------------------------------------------

    async def _connect(self) -> Broker:
        clock = self.rt.clock
        now = clock.now()
        day_start = datetime.combine(now.date(), time.min, tzinfo=now.tzinfo)
        ledger = await self.rt.store.ledger.load(
            self.account_id, self.account.starting_balance, day_start
        )
        if self.account.broker is BrokerKind.MT5:
            return await self._connect_mt5(ledger)
        broker = PaperBroker(
            self.account,
            self.rt.instruments,
            clock,
            self.rt.tickets,
            ledger,
            quote_source=self.rt.market.quote,
            on_band=self._band_changed,
        )
        await broker.connect()
        return broker

    async def _connect_mt5(self, ledger: PaperLedger) -> Mt5Broker:
        """An MT5 terminal: its changes are stored like any broker's, its link state
        is the worker's (`reconnecting`), and its orders need live mode."""
        rt = self.rt
        rt.gate.add(
            LIVE_MODE_CHECK, live_mode_check(lambda: rt.settings.engine.mode), rank=LIVE_MODE_RANK
        )
        # A fresh feed per connection: what an old one still delivers goes nowhere.
        self._quotes = asyncio.Queue()
        hooks = Mt5Hooks(
            on_changes=self._apply,
            on_quotes=self._quotes.put_nowait,
            on_link=lambda state, error: self.set_state(state, error=error),
            alerts=rt.alerts,
            log=lambda message, level: rt.log(message, level=level, account_id=self.account_id),
        )
        since = deals_from(rt.clock.now(), ledger)
        known = await rt.store.ledger.fills_since(self.account_id, since)
        broker = Mt5Broker(self.account, rt.clock, rt.tickets, ledger, hooks, known_fills=known)
        await broker.connect()
        return broker

    async def _build_strategies(self) -> dict[str, Strategy]:
        definitions = self.rt.strategy_service.definitions(self.account_id)
        history: History = {}
        if not isinstance(self.broker, Mt5Broker):
            history = self._market_history(definitions)
        else:
            # A terminal lost right after connecting is the poller's to reconnect;
            # the strategies then build their bars from live ticks.
            try:
                history = await self._terminal_history(self.broker, definitions)
            except EngineError as exc:
                self._no_warm_up("strategies", exc)
        context = _Context(self)
        return {d.id: self._build_strategy(d, context, history) for d in definitions}

    def _market_history(self, definitions: Iterable[StrategyDefinition]) -> History:
        now = self.rt.clock.now()
        wanted = {(symbol, d.timeframe) for d in definitions for symbol in d.symbols}
        return {
            (symbol, frame): self.rt.market.history(symbol, frame, _WARM_UP_BARS, now)
            for symbol, frame in wanted
        }

    async def _terminal_history(
        self, broker: Mt5Broker, definitions: Iterable[StrategyDefinition]
    ) -> History:
        """The terminal's last closed bars (copy_rates_from_pos), one call per
        symbol and timeframe. MT5 has no bars shorter than M1: strategies on
        those build their first bars from live ticks."""
        wanted = sorted({(symbol, d.timeframe) for d in definitions for symbol in d.symbols})
        history: dict[tuple[str, Timeframe], list[Bar]] = {}
        for symbol, frame in wanted:
            if frame in TIMEFRAMES:
                history[symbol, frame] = await broker.rates(symbol, frame, _WARM_UP_BARS)
        for frame in sorted({frame for _, frame in wanted if frame not in TIMEFRAMES}):
            self.rt.log(
                f"MT5 has no {frame.value} bars: strategies on {frame.value} warm up on live ticks",
                account_id=self.account_id,
            )
        return history

    async def _warm_up_from_terminal(
        self, strategy: Strategy, definition: StrategyDefinition, broker: Mt5Broker
    ) -> None:
        try:
            history = await self._terminal_history(broker, [definition])
        except EngineError as exc:
            self._no_warm_up(f"strategy {strategy.id}", exc)
            return
        for symbol in strategy.symbols:
            strategy.warm_up(history.get((symbol, strategy.timeframe), []))

    def _no_warm_up(self, who: str, error: EngineError) -> None:
        self.rt.log(
            f"{who}: no warm-up bars from the terminal ({error}); bars come from live ticks",
            level="warning",
            account_id=self.account_id,
        )

    def _build_strategy(
        self, definition: StrategyDefinition, context: _Context, history: History
    ) -> Strategy:
        risk = self.rt.settings.account_risk(self.account).merged(definition.risk)
        strategy = create_strategy(
            definition.kind,
            definition.id,
            definition.params,
            definition.symbols,
            definition.timeframe,
            risk,
            context,
        )
        for symbol in definition.symbols:
            strategy.warm_up(history.get((symbol, definition.timeframe), []))
        if definition.paused:
            strategy.pause()
        return strategy

    async def _order_loop(self) -> None:
        while True:
            item = await self._orders.get()
            if isinstance(item, OrderRequest):
                await self.send(item, durable=False)
            else:
                ticket, reason = item
                result = await self.close_position(ticket, durable=False)
                if not result.ok:
                    self.rt.log(
                        f"closing position {ticket} ({reason}) failed: {result.message}",
                        level="warning",
                        account_id=self.account_id,
                    )

    async def _quote_loop(self) -> None:
        """An MT5 account's own feed: the terminal's ticks that moved, to its
        broker and its strategies. A strategy that raises crashes the worker."""
        broker = self.broker
        assert broker is not None
        while True:
            for quote in await self._quotes.get():
                self._apply(broker.on_quote(quote))
                for handler in self.strategy_handlers(quote.symbol):
                    handler(quote)

    async def _heartbeat_loop(self) -> None:
        interval = self.rt.settings.engine.heartbeat_seconds
        while True:
            await self.rt.clock.sleep(interval)
            self._heartbeat_at = self.rt.clock.now()

    def _drain_orders(self) -> None:
        while not self._orders.empty():
            self._orders.get_nowait()

    def _remember(self, client_order_id: str, result: TradeResult) -> None:
        self._by_client_id[client_order_id] = result
        if len(self._by_client_id) > _REMEMBERED_CLIENT_IDS:
            self._by_client_id.popitem(last=False)

    def _record(self, changes: Changes) -> asyncio.Future[None]:
        """Store a broker's changes; publish them once committed."""
        if not changes and changes.balance is None:
            return _done()
        future = self.rt.store.ledger.record(
            self.account_id, changes, starting_balance=self.account.starting_balance
        )
        after_commit(future, lambda: self._publish(changes))
        return future

    def _apply(self, changes: Changes | None) -> None:
        if changes:
            self._record(changes)

    def _band_changed(self, symbol: str) -> None:
        if self.on_band is not None:
            self.on_band(symbol)

    def _publish(self, changes: Changes) -> None:
        now = self.rt.clock.now()
        publish = self.rt.bus.publish
        for order in changes.orders:
            publish(OrderEvent(time=now, order=order))
        for fill in changes.fills:
            publish(FillEvent(time=now, fill=fill))
        for position in changes.positions:
            publish(PositionEvent(time=now, position=position))
        for position in changes.closed:
            publish(PositionEvent(time=now, position=position, closed=True))
        snapshot = self.account_snapshot()
        if snapshot is not None:
            publish(AccountEvent(time=now, account=snapshot))


def _done() -> asyncio.Future[None]:
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    future.set_result(None)
    return future


class _Context:
    """The worker as its strategies see it."""

    def __init__(self, worker: Worker) -> None:
        self._worker = worker
        self.account_id = worker.account_id
        self.clock = worker.rt.clock

    def instrument(self, symbol: str) -> InstrumentConfig:
        return self._worker.rt.instruments[symbol]

    def account(self) -> AccountSnapshot:
        snapshot = self._worker.account_snapshot()
        assert snapshot is not None, "strategies run only while the broker is connected"
        return snapshot

    def balance(self) -> Decimal:
        return self.account().balance

    def positions(self, symbol: str | None = None) -> list[Position]:
        broker = self._worker.broker
        if broker is None:
            return []
        positions = broker.positions()
        return positions if symbol is None else [p for p in positions if p.symbol == symbol]

    def quote(self, symbol: str) -> Quote | None:
        return self._worker.quote(symbol)

    def submit(self, request: OrderRequest) -> None:
        self._worker._orders.put_nowait(request)

    def close_position(self, ticket: int, reason: str) -> None:
        self._worker._orders.put_nowait((ticket, reason))

    def signal(
        self, strategy_id: str, symbol: str, side: Side, strength: float, reason: str
    ) -> None:
        rt = self._worker.rt
        signal = Signal(
            id=rt.signal_ids(),
            account_id=self.account_id,
            strategy_id=strategy_id,
            symbol=symbol,
            side=side,
            strength=strength,
            reason=reason,
            time=rt.clock.now(),
        )
        after_commit(
            rt.store.signals.add(signal),
            lambda: rt.bus.publish(SignalEvent(time=signal.time, signal=signal)),
        )
