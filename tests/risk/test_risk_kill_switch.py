"""The kill switch under live trading on every demo account: after it no new
order reaches any broker, every pending order is cancelled, with flatten
every position is closed, and it holds across a restart until an admin
clears it."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from config.models import Settings
from engine.brokers import retcodes
from engine.clock import VirtualClock
from engine.domain import SystemMode
from engine.engine import Engine
from engine.errors import Conflict
from engine.models import OrderStatus, OrderType, Side, StrategyState
from tests.conftest import FROZEN_START, EngineFactory
from tests.risk.risk_support import send


def brokers(engine: Engine) -> list[object]:
    assert engine.manager is not None
    return [w.broker for w in engine.manager.workers.values() if w.broker is not None]


async def orders_since(engine: Engine, moment: datetime) -> list[object]:
    """Orders that reached a broker (not refused before it) since `moment`."""
    orders = await engine.store.ledger.orders(limit=10_000)
    return [o for o in orders if o.created_at >= moment and o.status is not OrderStatus.REJECTED]


async def park_pending_orders(engine: Engine) -> None:
    """A buy limit far below the market on every account."""
    for account in engine.settings.accounts:
        symbol = account.symbols[0]
        quote = engine.quote(symbol)
        assert quote is not None
        price = (quote.bid * Decimal("0.9")).quantize(engine.settings.instruments[symbol].point)
        volume = engine.settings.instruments[symbol].volume_min
        result = await send(
            engine,
            account.id,
            symbol,
            str(volume),
            f"park-{account.id}",
            type=OrderType.LIMIT,
            price=price,
        )
        assert result.ok, result.message


@pytest.mark.slow
async def test_the_kill_switch_halts_every_account_and_survives_a_restart(
    engine_factory: EngineFactory, demo_settings: Settings, tmp_path: Path
) -> None:
    db, clock = tmp_path / "halt.db", VirtualClock(FROZEN_START)
    engine = await engine_factory(demo_settings, db_path=db, clock=clock)
    await clock.advance(120)  # the strategies trade
    await park_pending_orders(engine)
    assert sum(len(b.positions()) for b in brokers(engine)) > 0  # type: ignore[attr-defined]

    state = await engine.kill_switch.engage(flatten=True, by="test", reason="drill")
    await engine.quiesce()
    assert state.engaged and state.flatten and state.mode_before is SystemMode.PAPER
    assert state.cancelled_orders >= len(engine.settings.accounts)
    assert state.closed_positions > 0
    assert engine.status().mode is SystemMode.HALTED
    for broker in brokers(engine):
        assert broker.open_orders() == []  # type: ignore[attr-defined]
        assert broker.positions() == []  # type: ignore[attr-defined]
    assert {s.state for s in engine.strategies()} == {StrategyState.PAUSED}
    critical = [a for a in engine.alerts.recent() if a.kind == "kill_switch"]
    assert len(critical) == 1 and "drill" in critical[0].message

    await clock.advance(1)
    halted_at = clock.now()
    await clock.advance(60)
    refused = await send(engine, "account-001", "EURUSD", "0.1", "after-halt")
    assert refused.retcode == retcodes.TRADE_DISABLED and "kill switch" in refused.message
    assert await orders_since(engine, halted_at) == []
    with pytest.raises(Conflict):
        engine.set_mode(SystemMode.LIVE)
    await engine.close()

    again = await engine_factory(demo_settings, db_path=db, clock=clock)
    assert again.kill_switch.engaged and again.status().mode is SystemMode.HALTED
    restarted_at = clock.now()
    await clock.advance(60)
    assert not (await send(again, "account-002", "XAUUSD", "0.1", "after-restart")).ok
    assert await orders_since(again, restarted_at) == []

    cleared = await again.kill_switch.clear(by="admin")
    assert not cleared.engaged and cleared.cleared_by == "admin"
    assert again.status().mode is SystemMode.PAPER
    assert (await send(again, "account-002", "XAUUSD", "0.1", "after-clear")).ok
    # Strategies stay paused until someone resumes them.
    assert {s.state for s in again.strategies()} == {StrategyState.PAUSED}
    with pytest.raises(Conflict):
        await again.kill_switch.clear(by="admin")


async def test_closing_passes_the_kill_switch_but_strategies_do_not(
    engine_factory: EngineFactory, demo_settings: Settings
) -> None:
    engine = await engine_factory(demo_settings, run_loops=False)
    opened = await send(engine, "account-001", "EURUSD", "0.1", "k-1")
    assert opened.ok
    await engine.kill_switch.engage(by="test")
    assert engine.manager is not None
    position = engine.manager.get("account-001").broker.positions()[0]  # type: ignore[union-attr]
    from engine.models import OrderSource

    by_strategy = await send(
        engine,
        "account-001",
        "EURUSD",
        "0.1",
        "k-2",
        Side.SELL,
        position_ticket=position.ticket,
        source=OrderSource.STRATEGY,
        strategy_id="s",
    )
    assert by_strategy.retcode == retcodes.TRADE_DISABLED
    by_person = await send(
        engine, "account-001", "EURUSD", "0.1", "k-3", Side.SELL, position_ticket=position.ticket
    )
    assert by_person.ok, by_person.message
