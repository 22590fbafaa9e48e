"""How the engine routes quotes: every strategy trading the symbol hears each
quote; a broker hears it only when it reaches the broker's trigger band, which
the engine checks once per quote against the union of all the bands. Stop-out
is checked at every mark."""

from __future__ import annotations

import itertools
import random
from decimal import Decimal
from pathlib import Path

import pytest

from config.models import Settings
from engine.brokers.base import NEVER, TriggerBand
from engine.engine import Engine
from engine.models import OrderRequest, OrderType, Quote, Side, WorkerState
from engine.workers.worker import Worker
from tests.conftest import EngineFactory
from tests.engine.helpers import eventually

POINT = Decimal("0.00001")
SPREAD = 12 * POINT
_ids = itertools.count(1)


def test_the_union_of_bands_is_reached_exactly_when_one_of_them_is() -> None:
    rng = random.Random(3)
    grid = [Decimal(n) for n in range(10)]  # few values, so quotes often sit on a level

    def level(default: Decimal) -> Decimal:
        return rng.choice([default, *grid])

    inf = Decimal("Infinity")
    for _ in range(300):
        bands = [
            TriggerBand(level(-inf), level(inf), level(-inf), level(inf))
            for _ in range(rng.randint(0, 4))
        ]
        union = TriggerBand.covering(bands)
        for bid, ask in itertools.product(grid, grid):
            assert union.reached(bid, ask) == any(b.reached(bid, ask) for b in bands)
    assert TriggerBand.covering([]) == NEVER


def quote_at(engine: Engine, symbol: str, *, bid: Decimal) -> Quote:
    ask = bid + SPREAD
    return Quote(symbol=symbol, bid=bid, ask=ask, time=engine.clock.now(), mid=float(bid + ask) / 2)


async def send(worker: Worker, symbol: str, side: Side, volume: str, **fields: object) -> int:
    request = OrderRequest(
        account_id=worker.account_id,
        symbol=symbol,
        side=side,
        volume=Decimal(volume),
        client_order_id=f"routing-{next(_ids)}",
        **fields,  # type: ignore[arg-type]
    )
    result = await worker.send(request)
    assert result.ok and result.order is not None, result.message
    return result.order.ticket


def open_tickets(worker: Worker) -> set[int]:
    assert worker.broker is not None
    return {p.ticket for p in worker.broker.positions()}


async def system_comments(engine: Engine, account_id: str, ticket: int) -> list[str]:
    orders = await engine.store.ledger.orders(account_id, limit=100)
    return [o.comment for o in orders if o.position_ticket == ticket]


async def test_a_quote_exactly_at_a_stop_loss_closes_the_position(
    engine_factory: EngineFactory,
) -> None:
    engine = await engine_factory(run_loops=False)
    assert engine.manager is not None
    worker = engine.manager.get("account-001")
    market = engine.quote("EURUSD")
    assert market is not None
    sl = market.bid - 500 * POINT
    ticket = await send(worker, "EURUSD", Side.BUY, "0.1", sl=sl)

    engine.process_quotes([quote_at(engine, "EURUSD", bid=sl + POINT)])
    await engine.quiesce()
    assert ticket in open_tickets(worker)

    engine.process_quotes([quote_at(engine, "EURUSD", bid=sl)])
    await engine.quiesce()
    assert ticket not in open_tickets(worker)
    assert "[sl]" in await system_comments(engine, "account-001", ticket)


async def test_the_mark_stops_out_an_account_whose_margin_level_fell_below_50_percent(
    engine_factory: EngineFactory,
) -> None:
    engine = await engine_factory(run_loops=False)
    assert engine.manager is not None
    worker = engine.manager.get("account-001")  # 10,000 USD at 1:100
    market = engine.quote("EURUSD")
    assert market is not None
    ticket = await send(worker, "EURUSD", Side.BUY, "8")  # ~8,700 of margin, no stops

    # -6,400: equity ~3,600 against ~8,700 of margin, ~41 %. No band is reached,
    # so the broker does not hear the quote; the next mark stops the account out.
    engine.process_quotes([quote_at(engine, "EURUSD", bid=market.bid - 800 * POINT)])
    await engine.quiesce()
    assert ticket in open_tickets(worker)

    engine.mark()
    await engine.quiesce()
    assert ticket not in open_tickets(worker)
    assert "[so]" in await system_comments(engine, "account-001", ticket)
    account = engine.snapshot().accounts
    assert next(a for a in account if a.account_id == "account-001").open_positions == 0


async def test_a_broker_failing_on_a_quote_crashes_only_its_worker(
    engine_factory: EngineFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = await engine_factory(run_loops=False)
    manager = engine.manager
    assert manager is not None
    failing, neighbour = manager.get("account-001"), manager.get("account-004")
    market = engine.quote("EURUSD")
    assert market is not None
    limit = market.ask - 100 * POINT
    for worker in (failing, neighbour):
        await send(worker, "EURUSD", Side.BUY, "0.1", type=OrderType.LIMIT, price=limit)
    engine.market.detach(neighbour)  # the failing broker now comes first for EURUSD
    engine.market.attach(neighbour)

    def broken(quote: object) -> None:
        raise ZeroDivisionError("bad tick")

    assert failing.broker is not None and neighbour.broker is not None
    monkeypatch.setattr(failing.broker, "on_quote", broken)
    engine.process_quotes([quote_at(engine, "EURUSD", bid=limit - SPREAD)])  # ask at the limit

    await eventually(lambda: failing.state is WorkerState.ERROR)
    assert "ZeroDivisionError" in (failing.info.error or "")
    assert neighbour.state is WorkerState.RUNNING
    assert neighbour.broker.open_orders() == []  # its limit filled all the same
    assert len(neighbour.broker.positions()) == 1


async def test_stops_fire_in_a_symbol_the_account_no_longer_trades(
    engine_factory: EngineFactory, demo_settings: Settings, tmp_path: Path
) -> None:
    db = tmp_path / "routing.db"
    first = await engine_factory(db_path=db, run_loops=False)
    assert first.manager is not None
    market = first.quote("GBPUSD")
    assert market is not None
    sl = market.bid - 500 * POINT
    ticket = await send(first.manager.get("account-001"), "GBPUSD", Side.BUY, "0.1", sl=sl)
    await first.close()

    settings = demo_settings.model_copy(deep=True)
    account = settings.accounts[0]
    account.symbols = [s for s in account.symbols if s != "GBPUSD"]  # no longer traded
    for strategy in account.strategies:
        if strategy.symbols is not None:
            strategy.symbols = [s for s in strategy.symbols if s != "GBPUSD"]
    second = await engine_factory(settings, db_path=db, run_loops=False)
    assert second.manager is not None
    worker = second.manager.get("account-001")
    assert worker.state is WorkerState.RUNNING and ticket in open_tickets(worker)

    second.process_quotes([quote_at(second, "GBPUSD", bid=sl)])
    await second.quiesce()
    assert ticket not in open_tickets(worker)
    assert "[sl]" in await system_comments(second, "account-001", ticket)
