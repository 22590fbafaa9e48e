"""The kernel: the one place that builds every service and wires each to the
narrow ports it uses (as NautilusTrader's `system/kernel.py` does). It also
runs the engine's life: restoring state at start, the market and marking
loops, and stopping in order.

No service receives the kernel or the facade (`engine.engine.Engine`, which
the clients and the server use): each gets the few objects and callables
its ports name, declared beside it. docs/architecture.md draws the wiring.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from decimal import Decimal

from config.models import Settings
from engine.alerts import AlertCenter
from engine.bus import EventBus
from engine.catalog import Catalog
from engine.clock import Clock, RealClock
from engine.commit import after_commit
from engine.ids import IdSequence
from engine.jobs.context import JobServices
from engine.jobs.handlers import builtin_handlers
from engine.jobs.service import JobService
from engine.market.cache import MarketCache
from engine.market.instruments import InstrumentService
from engine.market.price_alerts import PriceAlerts
from engine.market.router import QuoteRouter
from engine.market.simulator import MarketSimulator
from engine.models import (
    AccountEvent,
    AccountSnapshot,
    EngineState,
    EquityPoint,
    Event,
    FillEvent,
    Order,
    OrderEvent,
    Position,
    PositionEvent,
    Snapshot,
    SystemEvent,
    SystemStatus,
    WorkerState,
)
from engine.notify import Notifier
from engine.orders.gate import OrderGate
from engine.orders.preview import OrderPreview
from engine.orders.service import OrderService
from engine.orders.validation import VALIDATION_CHECK, VALIDATION_RANK, OrderValidation
from engine.portfolio import PortfolioSources
from engine.risk.kill_switch import KillSwitch
from engine.risk.ports import KillSwitchPorts, RiskPorts
from engine.risk.service import RiskEngine
from engine.runtime import Runtime
from engine.strategies.control import StrategyControl
from engine.strategies.service import StrategyService
from engine.tasks import TaskSet
from engine.workers.manager import WorkerManager
from storage.store import Store

log = logging.getLogger("tradedeck.engine")

_RECENT_ORDERS = 200
_MARKET_SAVE_SECONDS = 5.0


class Kernel:
    def __init__(self, settings: Settings, store: Store, clock: Clock | None = None) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock = clock or RealClock()
        self.bus = bus = EventBus(clock.now)
        self.alerts = alerts = AlertCenter(store, bus, clock)
        self.gate = gate = OrderGate()
        self.strategy_service = StrategyService(settings, store, clock)
        self.instrument_service = InstrumentService(settings, store, clock)
        self.price_alerts = PriceAlerts(store, alerts, clock)
        self.market = market = QuoteRouter(
            lambda: settings.instruments, bus.publish, self.price_alerts
        )
        # Symbol, volume, prices, stops and margin, judged before any broker (rank 100).
        gate.add(
            VALIDATION_CHECK, OrderValidation(settings.account, market.quote), rank=VALIDATION_RANK
        )
        self.catalog = Catalog(
            store.catalog, lambda: market.simulator, lambda: settings.instruments, clock
        )
        self.market_cache = MarketCache(
            market.quote, market.history, store.trades, clock, quoted=lambda: len(market.latest)
        )
        # Seeded from the store at start, so ids never repeat across restarts.
        self._tickets, self._signal_ids = IdSequence(), IdSequence()
        self.runtime = runtime = Runtime(
            settings=settings,
            clock=clock,
            store=store,
            bus=bus,
            alerts=alerts,
            market=market,
            tickets=self._tickets,
            signal_ids=self._signal_ids,
            strategy_service=self.strategy_service,
            gate=gate,
        )
        self.manager = manager = WorkerManager(runtime, market.attach, market.detach)
        market.crashed = manager.crashed
        self.strategy_control = StrategyControl(
            self.strategy_service,
            manager,
            routes_changed=market.strategies_moved,
            publish=bus.publish,
            clock=clock,
            log=runtime.log,
        )
        self.orders = OrderService(manager, runtime.log)
        self.preview = OrderPreview(settings, manager, market.quote, gate, clock)
        # The kill switch (a gate check at rank 0) and the risk limits (rank 200,
        # evaluated on every AccountEvent).
        self.kill_switch = KillSwitch(
            KillSwitchPorts(
                settings=settings,
                clock=clock,
                store=store.risk,
                bus=bus,
                alerts=alerts,
                gate=gate,
                log=runtime.log,
                orders=self.orders,
                strategies=self.strategy_control,
                status=self.status,
            )
        )
        self.risk = RiskEngine(
            RiskPorts(
                settings=settings,
                clock=clock,
                store=store.risk,
                bus=bus,
                alerts=alerts,
                gate=gate,
                log=runtime.log,
                workers=manager,
                orders=self.orders,
                strategies=self.strategy_control,
                quote=market.quote,
                accounts=self.accounts,
                definitions=self.strategy_service.definitions,
                kill_switch_state=lambda: self.kill_switch.state,
            )
        )
        self.portfolio_sources = PortfolioSources(
            settings=settings,
            clock=clock,
            ledger=store.ledger,
            equity=store.equity,
            accounts=self.accounts,
            positions=self.positions,
            strategies=self.strategy_control.strategies,
            strategy=self.strategy_control.strategy,
            history=market.history,
        )
        # Background jobs and their schedules (`engine.jobs.schedules`).
        self.jobs = JobService(
            JobServices(
                settings=settings,
                clock=clock,
                store=store,
                bus=bus,
                alerts=alerts,
                log=runtime.log,
                workers=manager,
                strategy_service=self.strategy_service,
                accounts=self.accounts,
                strategies=self.strategy_control.strategies,
                history=market.history,
            ),
            builtin_handlers(),
        )
        # Every alert to the configured targets and registered webhooks, via the queue.
        self.notifier = Notifier(settings.notifications, store, bus, clock)
        self.jobs.registry.register(self.notifier.handler)
        self.state = EngineState.STOPPED
        self.started_at: datetime | None = None
        self._tasks = TaskSet("engine", logger=log)
        self._accounts: dict[str, AccountSnapshot] = {}
        self._positions: dict[int, Position] = {}
        self._orders: dict[int, Order] = {}
        bus.add_listener(self._track)

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
        self.market.open(
            MarketSimulator(
                self.settings.instruments, self.settings.engine.seed, self.clock.now(), last_quotes
            )
        )
        self._tickets.advance_to(await self.store.ledger.max_ticket())
        self._signal_ids.advance_to(await self.store.signals.max_id())
        await self._load_ledgers()
        await self.kill_switch.load()  # halted before any worker can send an order
        await self.risk.start()
        if run_loops:
            self._tasks.spawn(self._market_loop(), "market")
            self._tasks.spawn(self._mark_loop(), "mark")
        desired = await self.store.accounts.desired()
        to_start = [a.id for a in self.settings.accounts if desired.get(a.id, a.enabled)]
        results = await asyncio.gather(
            *(self.manager.start(a) for a in to_start), return_exceptions=True
        )
        for account_id, result in zip(to_start, results, strict=True):
            if isinstance(result, BaseException):
                self.runtime.log(f"could not start: {result}", level="error", account_id=account_id)
        await self.notifier.start(self.jobs.enqueue)
        await self.jobs.start()
        self._set_state(EngineState.RUNNING)

    async def stop(self) -> None:
        """Stop workers and loops; what should run is left stored for the next start."""
        if self.state in (EngineState.STOPPED, EngineState.STOPPING):
            return
        self._set_state(EngineState.STOPPING)
        await self.notifier.stop()  # enqueues nothing more
        await self.jobs.stop()  # first: a running job may use the workers
        await self.risk.stop()  # its flatten/pause actions use the workers
        await self.manager.shutdown(self.settings.engine.stop_timeout_seconds)
        await self._tasks.stop()
        if self.market.latest:
            await self.store.market.save(self.market.quotes())
        await self.store.db.writer.flush()
        self._set_state(EngineState.STOPPED)

    async def quiesce(self) -> None:
        """Wait until every write submitted so far is committed and published
        (tests and benchmarks use it to observe a settled engine)."""
        for _ in range(3):
            await asyncio.sleep(0)
            await self.store.db.writer.flush()
        await asyncio.sleep(0)

    # --- the state the panel and the API read --------------------------------------

    def status(self) -> SystemStatus:
        accounts = self._accounts.values()
        return SystemStatus(
            state=self.state,
            mode=self.settings.engine.mode,
            started_at=self.started_at,
            time=self.clock.now(),
            workers_total=len(self.settings.accounts),
            workers_running=self.manager.running,
            total_equity=sum((a.equity for a in accounts), Decimal(0)),
            total_balance=sum((a.balance for a in accounts), Decimal(0)),
            pnl_today=sum((a.pnl_today for a in accounts), Decimal(0)),
            open_alerts=self.alerts.open_count,
        )

    def snapshot(self) -> Snapshot:
        return Snapshot(
            system=self.status(),
            workers=self.manager.infos(),
            accounts=self.accounts(),
            positions=self.positions(),
            orders=sorted(self._orders.values(), key=lambda o: o.ticket, reverse=True),
            alerts=self.alerts.recent(),
            quotes=self.market.quotes(),
        )

    def accounts(self) -> list[AccountSnapshot]:
        """Each account's newest snapshot, stopped accounts included."""
        return list(self._accounts.values())

    def positions(self) -> list[Position]:
        return sorted(self._positions.values(), key=lambda p: p.ticket)

    def step_market(self) -> int:
        """Advance the simulator to the clock's time and dispatch the new quotes."""
        return self.market.step(self.clock.now())

    def mark(self, *, sample_equity: bool = False) -> None:
        """Stop out the running accounts whose margin level fell too low, publish
        every one marked to market; store an equity sample."""
        now = self.clock.now()
        publish = self.bus.publish
        points: list[EquityPoint] = []
        for worker in self.manager.workers.values():
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
        self.risk.marked()  # every account of this instant is in: the whole book
        publish(SystemEvent(time=now, status=self.status()))

    # --- internals -------------------------------------------------------------

    def _set_state(self, state: EngineState) -> None:
        self.state = state
        self.bus.publish(SystemEvent(time=self.clock.now(), status=self.status()))

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
                self.store.market.save(self.market.quotes())

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
