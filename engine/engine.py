"""The engine facade: the kernel's services behind one API, for the clients
(`engine.client`) and the server (`engine.server`): snapshots, the event stream,
and commands. Nothing inside the engine imports it; services get their own
narrow ports from the kernel (`engine.kernel`)."""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from config.issues import ValidationReport
from config.models import InstrumentConfig, RiskOverrides, Settings
from engine import portfolio as book
from engine.bus import Subscription
from engine.clock import Clock
from engine.domain import SystemMode, Timeframe
from engine.errors import Conflict, InvalidRequest, ValidationFailed
from engine.kernel import Kernel
from engine.market.cache import CacheKind
from engine.market.simulator import MarketSimulator
from engine.models import (
    Alert,
    Bar,
    EquityPoint,
    MarketCacheStats,
    MarketDay,
    MarketView,
    OrderBook,
    OrderCheck,
    OrderRequest,
    PerformanceReport,
    Portfolio,
    PriceAlert,
    PriceDirection,
    Quote,
    Severity,
    StrategyInfo,
    SystemEvent,
    SystemStatus,
    WorkerDetail,
    WorkerInfo,
    WorkerState,
)
from storage.lock import StoreLock
from storage.store import Store


class Engine(Kernel):
    def __init__(self, settings: Settings, store: Store, clock: Clock | None = None) -> None:
        super().__init__(settings, store, clock)
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

    async def close(self) -> None:
        try:
            await self.stop()
            await self.store.close()
        finally:
            if self._lock is not None:
                self._lock.release()

    # --- market ----------------------------------------------------------------

    @property
    def simulator(self) -> MarketSimulator | None:
        return self.market.simulator

    def quote(self, symbol: str) -> Quote | None:
        return self.market.quote(symbol)

    def history(self, symbol: str, timeframe: Timeframe, count: int, end: datetime) -> list[Bar]:
        return self.market.history(symbol, timeframe, count, end)

    def process_quotes(self, quotes: list[Quote]) -> None:
        self.market.process_quotes(quotes)

    # --- reading ---------------------------------------------------------------

    def subscribe(self, maxsize: int = 10_000) -> Subscription:
        return self.bus.subscribe(maxsize)

    def workers(self) -> list[WorkerInfo]:
        return self.manager.infos()

    def worker(self, account_id: str) -> WorkerInfo:
        return self.manager.get(account_id).info

    def strategies(self) -> list[StrategyInfo]:
        """Every account's strategies, running or not."""
        return self.strategy_control.strategies()

    async def worker_detail(self, account_id: str) -> WorkerDetail:
        worker = self.manager.get(account_id)
        ledger = self.store.ledger
        return WorkerDetail(
            worker=worker.info,
            account=self._accounts.get(account_id),
            strategies=worker.strategy_infos(),
            validation=self.manager.validate(account_id),
            positions=[p for p in self.positions() if p.account_id == account_id],
            orders=await ledger.orders(account_id, limit=50),
            fills=await ledger.fills(account_id, limit=50),
            signals=await self.store.signals.recent(account_id=account_id, limit=50),
            equity=await self.store.equity.history(account_id, limit=500),
        )

    # --- portfolio and performance (engine/portfolio.py) ---------------------------

    async def portfolio(self, accounts: Collection[str] | None = None) -> Portfolio:
        """Each account's live figures, their total, and each strategy's P&L."""
        return await book.summary(self.portfolio_sources, accounts)

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
            self.portfolio_sources,
            accounts,
            since=since,
            until=until,
            resolution=resolution,
            limit=limit,
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
            self.portfolio_sources,
            accounts=accounts,
            strategy_id=strategy_id,
            since=since,
            until=until,
            benchmark=benchmark,
            resolution=resolution,
        )

    # --- commands --------------------------------------------------------------

    async def start_worker(self, account_id: str, *, validate: bool = True) -> WorkerInfo:
        info = await self.manager.start(account_id, validate=validate)
        await self.store.accounts.set_desired(account_id, True)
        return info

    async def stop_worker(self, account_id: str, timeout: float | None = None) -> WorkerInfo:
        manager = self.manager
        manager.get(account_id)
        await self.store.accounts.set_desired(account_id, False)
        return await manager.stop(account_id, timeout)

    async def restart_worker(self, account_id: str) -> WorkerInfo:
        info = await self.manager.restart(account_id)
        await self.store.accounts.set_desired(account_id, True)
        return info

    async def start_all(self, *, validate: bool = True) -> list[WorkerInfo]:
        infos = await self.manager.start_all(validate=validate)
        await asyncio.gather(*(self.store.accounts.set_desired(i.account_id, True) for i in infos))
        return infos

    async def stop_all(self, timeout: float | None = None) -> int:
        manager = self.manager
        running = [
            w.account_id for w in manager.workers.values() if w.state is not WorkerState.STOPPED
        ]
        await asyncio.gather(*(self.store.accounts.set_desired(a, False) for a in running))
        return await manager.stop_all(timeout)

    def validate_worker(self, account_id: str) -> ValidationReport:
        return self.manager.validate(account_id)

    def validate_all(self) -> dict[str, ValidationReport]:
        return self.manager.validate_all()

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
        self.manager.rt.log(message, level=level, account_id=account_id)

    async def acknowledge_alert(self, alert_id: int) -> Alert:
        return await self.alerts.acknowledge(alert_id)

    async def resolve_alert(self, alert_id: int) -> Alert:
        return await self.alerts.resolve(alert_id)

    def check_order(self, request: OrderRequest) -> OrderCheck:
        """An order's dry run for the order ticket: the margin it needs and the
        pre-trade checks' verdict, sending and counting nothing."""
        return self.preview.check(request)

    # --- strategies at run time (stored: a restart keeps them) -----------------

    def strategy(self, strategy_id: str) -> StrategyInfo:
        return self.strategy_control.strategy(strategy_id)

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
        return await self.strategy_control.add_strategy(
            account_id,
            kind,
            params,
            symbols,
            timeframe,
            risk=risk,
            strategy_id=strategy_id,
            paused=paused,
        )

    async def remove_strategy(self, strategy_id: str) -> StrategyInfo:
        return await self.strategy_control.remove_strategy(strategy_id)

    async def pause_strategy(self, strategy_id: str) -> StrategyInfo:
        return await self.strategy_control.pause_strategy(strategy_id)

    async def resume_strategy(self, strategy_id: str) -> StrategyInfo:
        return await self.strategy_control.resume_strategy(strategy_id)

    def pause_strategies(self, account_id: str | None = None) -> list[StrategyInfo]:
        return self.strategy_control.pause_strategies(account_id)

    # --- instruments (stored: a restart keeps the edits) -----------------------

    async def add_instrument(self, symbol: str, config: InstrumentConfig) -> InstrumentConfig:
        added = await self.instrument_service.add(symbol, config)
        self.log(f"instrument {symbol} added; its simulated market starts at the next start")
        return added

    async def update_instrument(self, symbol: str, config: InstrumentConfig) -> InstrumentConfig:
        """Replace an instrument's definition; refused for the fields that value
        positions (digits, point, contract size, profit currency) while an account
        holds positions or orders in it."""
        holders = [p.account_id for p in self.positions() if p.symbol == symbol]
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
        self,
        symbol: str,
        timeframe: Timeframe,
        bars: int = 50,
        trades: int = 20,
        *,
        day: bool = False,
    ) -> MarketView:
        """`symbol`'s latest quote, recent closed bars and our recent fills, from
        the market-data cache; with `day`, its last 24 hours too (a read of the
        cached H1 bars)."""
        self.instrument_service.get(symbol)
        cache = self.market_cache
        return MarketView(
            symbol=symbol,
            quote=cache.quote(symbol),
            timeframe=timeframe,
            bars=cache.bars(symbol, timeframe, bars),
            trades=await cache.trades(symbol, trades),
            day=cache.day(symbol) if day else None,
        )

    def market_day(self, symbol: str) -> MarketDay | None:
        """`symbol` over the last 24 hours (change and tick volume)."""
        return self.market_cache.day(symbol)

    async def order_book(self, symbol: str, depth: int = 5) -> OrderBook | None:
        """Depth of market: from a running MT5 account's terminal where its
        server gives depth for `symbol` (`market_book_*`), else the simulator's
        levels around the latest quote; None before the first quote."""
        self.instrument_service.get(symbol)
        for worker in self.manager.workers.values():
            broker = worker.broker
            if (
                worker.streams_own_quotes
                and worker.state is WorkerState.RUNNING
                and broker is not None
                and symbol in worker.account.symbols
            ):
                book = await broker.book(symbol, depth)
                if book is not None:
                    return book
        simulator = self.market.simulator
        return simulator.book(symbol, depth) if simulator is not None else None

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
            self.manager.get(account_id)
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
