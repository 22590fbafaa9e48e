"""A worker on an MT5 account, in the real engine on the virtual clock, trading
through the stand-in terminal beside the paper accounts. The terminal's prices
follow the engine's market but 10 % higher, so it shows whose prices the MT5
account's strategies trade on: the terminal's ticks and bars, never the
simulator's. The ledger invariants hold against the terminal's own deals; the
live-mode guard stands in front of it; a restart matches by terminal tickets."""

from __future__ import annotations

import asyncio
import re
from decimal import Decimal

import pytest

from config.loader import load_settings
from config.models import Settings, StrategyConfig
from engine.brokers import retcodes
from engine.brokers.mt5 import constants as mt5
from engine.domain import BrokerKind, SystemMode, Timeframe
from engine.engine import Engine
from engine.models import OrderRequest, OrderStatus, Side, WorkerState
from tests.conftest import EngineFactory
from tests.engine.helpers import eventually
from tests.engine.ledger_checks import assert_ledgers_exact
from tests.engine.mt5.conftest import LOGIN, MAGIC, PASSWORD, SERVER
from tests.engine.mt5.fake_terminal import FakeAccount, FakeTerminal

pytestmark = pytest.mark.slow

SIMULATED_MINUTES = 20
ACCOUNT = "account-001"
TERMINAL_PREMIUM = Decimal("1.1")  # the terminal's prices over the simulator's
PRICE = re.compile(r"(?:SMA|close|band|mean|at|SL|TP) (\d+\.\d+)")


def mt5_settings(mode: SystemMode, *strategies: StrategyConfig) -> Settings:
    settings = load_settings(None, env={})
    account = settings.accounts[0]
    assert account.id == ACCOUNT
    settings.accounts[0] = account.model_copy(
        update={
            "broker": BrokerKind.MT5,
            "login": LOGIN,
            "server": SERVER,
            "magic": MAGIC,
            "mt5_poll_ms": 1000,
            "mt5_timeout_seconds": 5.0,
            "strategies": list(strategies or account.strategies),
        }
    )
    settings.engine.mode = mode
    return settings


async def mt5_engine(
    engine_factory: EngineFactory,
    monkeypatch: pytest.MonkeyPatch,
    mode: SystemMode,
    *strategies: StrategyConfig,
) -> tuple[Engine, FakeTerminal]:
    engine = await engine_factory(mt5_settings(mode, *strategies), start=False)
    terminal = FakeTerminal(
        engine.settings.instruments, engine.clock.now, lambda s: terminal_price(engine, s)
    )
    terminal.add_account(FakeAccount(LOGIN, PASSWORD, SERVER, Decimal(10000)))
    for name, value in terminal.environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TRADEDECK_MT5_PASSWORD_ACCOUNT_001", PASSWORD)
    await engine.start(run_loops=False)
    return engine, terminal


def terminal_price(engine: Engine, symbol: str) -> tuple[Decimal, Decimal] | None:
    """The stand-in terminal's bid and ask: the simulator's, 10 % higher."""
    quote = engine.quote(symbol)
    if quote is None:
        return None
    step = Decimal(1).scaleb(-engine.settings.instruments[symbol].digits)
    return (quote.bid * TERMINAL_PREMIUM).quantize(step), (quote.ask * TERMINAL_PREMIUM).quantize(
        step
    )


def priced_off(reason: str, level: Decimal) -> list[str]:
    """The prices in a signal's reason that are more than 2 % away from `level`."""
    return [p for p in PRICE.findall(reason) if abs(Decimal(p) / level - 1) > Decimal("0.02")]


async def settle(engine: Engine, terminal: FakeTerminal) -> None:
    """With the market still, let the worker's queued orders and the terminal's
    IPC finish and the terminal be read until the ledger has every deal, twice
    in a row (an order still on its way would add one)."""
    deals = terminal.accounts[LOGIN].deals
    worker = engine.manager.get(ACCOUNT)  # type: ignore[union-attr]
    caught_up = 0
    async with asyncio.timeout(30):
        while caught_up < 2:
            await engine.clock.advance(1.0)  # type: ignore[attr-defined]
            await asyncio.sleep(0.05)  # the bridge's pipes are real I/O
            await engine.quiesce()
            stored = len(await engine.store.ledger.fills(ACCOUNT, limit=-1))
            idle = worker._orders.empty() and not worker._send_lock.locked()
            caught_up = caught_up + 1 if idle and stored == len(deals) else 0


async def test_an_mt5_worker_trades_and_the_ledger_matches_the_terminals_deals(
    engine_factory: EngineFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, terminal = await mt5_engine(engine_factory, monkeypatch, SystemMode.LIVE)
    try:
        worker = engine.manager.get(ACCOUNT)  # type: ignore[union-attr]
        assert worker.state is WorkerState.RUNNING and worker.broker.kind is BrokerKind.MT5  # type: ignore[union-attr]
        for step in range(1, SIMULATED_MINUTES * 60 + 1):
            await engine.clock.advance(1.0)  # type: ignore[attr-defined]
            engine.step_market()
            if step % 10 == 0:
                engine.mark()
                await asyncio.sleep(0)  # the bridge's pipes are real I/O
        await settle(engine, terminal)

        assert worker.state is WorkerState.RUNNING
        fills = await assert_ledgers_exact(engine.store, engine.settings)
        mt5_fills = await engine.store.ledger.fills(ACCOUNT, limit=-1)
        deals = terminal.accounts[LOGIN].deals
        assert len(mt5_fills) == len(deals) >= 4, "the strategies should trade"
        assert fills > len(mt5_fills), "the paper accounts trade beside it"
        assert sum(f.profit for f in mt5_fills) == sum(Decimal(str(d["profit"])) for d in deals)
        stored = await engine.store.ledger.load(ACCOUNT, Decimal(10000), engine.clock.now())
        assert stored.balance == terminal.accounts[LOGIN].balance
        on_terminal = sorted(
            (p["symbol"], Decimal(str(p["volume"])))
            for p in terminal.accounts[LOGIN].positions.values()
        )
        assert sorted((p.symbol, p.volume) for p in stored.positions) == on_terminal
        assert all(r["magic"] == MAGIC for r in terminal.requests)
        assert {f.broker_ticket for f in mt5_fills} == {d["ticket"] for d in deals}

        # Its strategies traded on the terminal's prices; the paper account on the
        # same symbols (account-004: EURUSD, USDJPY) on the simulator's.
        ours = await engine.store.signals.recent(account_id=ACCOUNT, limit=-1)
        assert len(ours) >= 4
        for signal in ours:
            bid, ask = terminal_price(engine, signal.symbol)  # type: ignore[misc]
            assert PRICE.findall(signal.reason), signal.reason
            assert priced_off(signal.reason, (bid + ask) / 2) == [], signal.reason
        paper = await engine.store.signals.recent(account_id="account-004", limit=-1)
        for signal in (s for s in paper if s.symbol in ("EURUSD", "USDJPY")):
            quote = engine.quote(signal.symbol)
            assert priced_off(signal.reason, quote.bid) == [], signal.reason  # type: ignore[union-attr]
        # The terminal's ticks went to the MT5 account's strategies, none of the
        # simulator's: the engine routes it nothing.
        assert all(
            worker not in engine.market._routes[s].strategy_owners for s in worker.account.symbols
        )
    finally:
        terminal.close()


async def test_mt5_strategies_warm_up_on_the_terminals_bars(
    engine_factory: EngineFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    minutes = StrategyConfig(
        kind="ma_crossover", id="m1", symbols=["EURUSD"], timeframe=Timeframe.M1,
        params={"fast": 3, "slow": 8},
    )  # fmt: skip
    engine, terminal = await mt5_engine(engine_factory, monkeypatch, SystemMode.LIVE, minutes)
    try:
        worker = engine.manager.get(ACCOUNT)  # type: ignore[union-attr]
        assert terminal.rates_requests == [("EURUSD", mt5.TIMEFRAME_M1, 1, 200)]
        bid, _ = terminal_price(engine, "EURUSD")  # type: ignore[misc]
        # The stand-in's bars are flat at its bid: the slow SMA is warm, on it.
        series = worker.strategies["m1"]._series["EURUSD"]
        assert series.slow.ready and Decimal(str(series.slow.value)) == bid

        await engine.add_strategy(
            ACCOUNT, "bollinger_reversion", {"period": 12}, ["GBPUSD"], Timeframe.M5,
            strategy_id="m5",
        )  # fmt: skip
        await eventually(lambda: len(terminal.rates_requests) == 2)
        assert terminal.rates_requests[1] == ("GBPUSD", mt5.TIMEFRAME_M5, 1, 200)
        added = worker.strategies["m5"]._series["GBPUSD"]
        await eventually(lambda: added.ready)
        gbp_bid, _ = terminal_price(engine, "GBPUSD")  # type: ignore[misc]
        assert abs(added.mean - float(gbp_bid)) < 1e-9
    finally:
        terminal.close()


async def test_mt5_orders_wait_for_live_mode(
    engine_factory: EngineFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, terminal = await mt5_engine(engine_factory, monkeypatch, SystemMode.PAPER)
    try:
        worker = engine.manager.get(ACCOUNT)  # type: ignore[union-attr]
        order = OrderRequest(
            account_id=ACCOUNT,
            symbol="EURUSD",
            side=Side.BUY,
            volume=Decimal("0.10"),
            client_order_id="live-1",
        )
        refused = await worker.send(order)
        assert refused.retcode == retcodes.TRADE_DISABLED
        assert "trades only in live mode" in refused.message
        assert refused.order.status is OrderStatus.REJECTED  # type: ignore[union-attr]
        assert terminal.requests == []

        engine.set_mode(SystemMode.LIVE)
        placed = await worker.send(order.model_copy(update={"client_order_id": "live-2"}))
        assert placed.ok, placed.message
        assert len(terminal.requests) == 1
    finally:
        terminal.close()


async def test_a_restart_stores_no_deal_twice_and_keeps_the_tickets(
    engine_factory: EngineFactory, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    engine, terminal = await mt5_engine(engine_factory, monkeypatch, SystemMode.LIVE)
    try:
        for _ in range(300):
            await engine.clock.advance(1.0)  # type: ignore[attr-defined]
            engine.step_market()
            await asyncio.sleep(0)
        await settle(engine, terminal)
        before = sorted(p.ticket for p in engine.snapshot().positions if p.account_id == ACCOUNT)
        orders = len(await engine.store.ledger.orders(ACCOUNT, limit=-1))
        assert all(p.broker_ticket for p in await engine.store.ledger.positions(ACCOUNT))
        await engine.close()

        again = await engine_factory(
            mt5_settings(SystemMode.LIVE), db_path=tmp_path / "engine.db", start=False
        )
        await again.start(run_loops=False)
        await settle(again, terminal)
        await assert_ledgers_exact(again.store, again.settings)
        fills = await again.store.ledger.fills(ACCOUNT, limit=-1)
        assert len(fills) == len(terminal.accounts[LOGIN].deals)
        worker = again.manager.get(ACCOUNT)  # type: ignore[union-attr]
        assert sorted(p.ticket for p in worker.broker.positions()) == before  # type: ignore[union-attr]
        # Nothing traded meanwhile: the terminal's deals made no order twice.
        assert len(await again.store.ledger.orders(ACCOUNT, limit=-1)) == orders
    finally:
        terminal.close()


async def test_the_order_book_comes_from_the_terminal_where_it_has_depth(
    engine_factory: EngineFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, terminal = await mt5_engine(engine_factory, monkeypatch, SystemMode.PAPER)
    try:
        simulated = await engine.order_book("EURUSD")  # the terminal has no depth yet
        assert simulated is not None and len(simulated.bids) == 5
        terminal.book_depth = 2
        engine.manager.get(ACCOUNT).broker._no_book.clear()  # type: ignore[union-attr]
        book = await engine.order_book("EURUSD", 3)
        bid, ask = terminal_price(engine, "EURUSD")  # type: ignore[misc]
        assert book is not None and len(book.bids) == len(book.asks) == 2
        assert (book.bids[0].price, book.asks[0].price) == (bid, ask)
        # A symbol the account does not trade: the simulator's.
        traded = engine.settings.account(ACCOUNT).symbols  # type: ignore[union-attr]
        other = next(s for s in engine.settings.instruments if s not in traded)
        assert len((await engine.order_book(other)).bids) == 5  # type: ignore[union-attr]
    finally:
        terminal.close()
