"""Every order passes the risk limits before its broker: one that would take a
limit over its threshold is refused with the limit named, and while a limit
is breached its scope takes no new order. Closing always passes."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

from config.models import Settings
from engine.brokers import retcodes
from engine.models import OrderStatus, OrderType, Side
from tests.conftest import EngineFactory
from tests.risk.risk_support import bare_engine, limit, move, send


async def test_position_size_refuses_the_order_that_would_make_the_position_too_big(
    engine_factory: EngineFactory, demo_settings: Settings
) -> None:
    engine = await bare_engine(engine_factory, demo_settings)
    await engine.risk.create(
        limit("max_position_size", "0.5", scope="symbol", symbol="EURUSD"), limit_id="eur-size"
    )
    assert (await send(engine, "account-001", "EURUSD", "0.3", "s-1")).ok
    refused = await send(engine, "account-001", "EURUSD", "0.3", "s-2")
    assert not refused.ok
    assert refused.retcode == retcodes.LIMIT_VOLUME
    assert "'eur-size'" in refused.message and "0.6 lots" in refused.message
    stored = await engine.store.ledger.order_by_client_id("account-001", "s-2")
    assert stored is not None and stored.status is OrderStatus.REJECTED
    assert stored.reason is not None and "eur-size" in stored.reason
    # Other symbols are outside the limit; the opposite side brings the net down.
    assert (await send(engine, "account-001", "GBPUSD", "1", "s-3")).ok
    assert (await send(engine, "account-001", "EURUSD", "0.3", "s-4", Side.SELL)).ok


async def test_exposure_counts_the_notional_in_the_account_currency(
    engine_factory: EngineFactory, demo_settings: Settings
) -> None:
    engine = await bare_engine(engine_factory, demo_settings)
    # 1 lot of EURUSD near 1.085 is about 108,500 USD.
    await engine.risk.create(limit("max_exposure", "150000"), limit_id="fx-exposure")
    assert (await send(engine, "account-001", "EURUSD", "1", "e-1")).ok
    refused = await send(engine, "account-001", "EURUSD", "0.5", "e-2")
    assert refused.retcode == retcodes.LIMIT_VOLUME
    assert "'fx-exposure'" in refused.message and "USD" in refused.message
    # USDJPY's notional is converted from yen: 0.3 lot is 30,000 USD.
    assert (await send(engine, "account-001", "USDJPY", "0.3", "e-3")).ok
    assert not (await send(engine, "account-001", "USDJPY", "0.2", "e-4")).ok


async def test_open_positions_refuses_one_too_many_but_closing_passes(
    engine_factory: EngineFactory, demo_settings: Settings
) -> None:
    engine = await bare_engine(engine_factory, demo_settings)
    await engine.risk.create(limit("max_open_positions", "2"), limit_id="two-positions")
    first = await send(engine, "account-001", "EURUSD", "0.1", "p-1")
    assert (await send(engine, "account-001", "GBPUSD", "0.1", "p-2")).ok
    refused = await send(engine, "account-001", "USDJPY", "0.1", "p-3")
    assert refused.retcode == retcodes.LIMIT_POSITIONS
    assert "'two-positions'" in refused.message
    assert first.order is not None
    closing = await send(
        engine,
        "account-001",
        "EURUSD",
        "0.1",
        "p-4",
        Side.SELL,
        position_ticket=first.order.position_ticket or _position_of(engine, "EURUSD"),
    )
    assert closing.ok, closing.message
    assert (await send(engine, "account-001", "USDJPY", "0.1", "p-5")).ok


async def test_pending_orders_count_as_filled_so_together_they_cannot_pass_a_limit(
    engine_factory: EngineFactory, demo_settings: Settings
) -> None:
    """Two buy limits far below the market each pass a count and a size limit
    on their own; once they trigger they would break both. The second is refused
    when placed, and cancelling the first makes room again."""
    engine = await bare_engine(engine_factory, demo_settings)
    await engine.risk.create(limit("max_open_positions", "2"), limit_id="two-positions")
    quote = engine.quote("EURUSD")
    assert quote is not None
    below = {"type": OrderType.LIMIT, "price": quote.bid - Decimal("0.01")}
    assert (await send(engine, "account-001", "GBPUSD", "0.1", "q-1")).ok
    first = await send(engine, "account-001", "EURUSD", "0.3", "q-2", **below)
    assert first.ok and first.order is not None and first.order.status is OrderStatus.PLACED
    refused = await send(engine, "account-001", "EURUSD", "0.3", "q-3", **below)
    assert refused.retcode == retcodes.LIMIT_POSITIONS, refused.message
    assert "'two-positions'" in refused.message and "3 positions" in refused.message

    await engine.risk.delete("two-positions")
    await engine.risk.create(
        limit("max_position_size", "0.5", scope="symbol", symbol="EURUSD"), limit_id="eur-size"
    )
    too_big = await send(engine, "account-001", "EURUSD", "0.3", "q-4", **below)
    assert too_big.retcode == retcodes.LIMIT_VOLUME and "0.6 lots" in too_big.message

    assert (await engine.manager.get("account-001").cancel_order(first.order.ticket)).ok  # type: ignore[union-attr]
    assert (await send(engine, "account-001", "EURUSD", "0.3", "q-5", **below)).ok


async def test_daily_loss_blocks_new_orders_until_the_next_utc_day(
    engine_factory: EngineFactory, demo_settings: Settings
) -> None:
    engine = await bare_engine(engine_factory, demo_settings)
    await engine.risk.create(
        limit("max_daily_loss", "50", account_id="account-002"), limit_id="day-loss"
    )
    assert (await send(engine, "account-002", "XAUUSD", "0.1", "d-1")).ok
    move(engine, "XAUUSD", "2340.00")  # 10 USD an ounce down: about 100 USD lost
    refused = await send(engine, "account-002", "US500", "0.1", "d-2")
    assert refused.retcode == retcodes.TRADE_DISABLED
    assert "'day-loss'" in refused.message and "breached" in refused.message
    # account-002 nets: selling part of the gold only reduces the position.
    assert (await send(engine, "account-002", "XAUUSD", "0.05", "d-3", Side.SELL)).ok
    # Other accounts trade on.
    assert (await send(engine, "account-001", "EURUSD", "0.1", "d-4")).ok
    now = engine.clock.now()
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=1)
    await engine.clock.advance((midnight - now).total_seconds())  # type: ignore[attr-defined]
    assert (await send(engine, "account-002", "US500", "0.1", "d-5")).ok


async def test_drawdown_counts_from_the_peak_equity(
    engine_factory: EngineFactory, demo_settings: Settings
) -> None:
    engine = await bare_engine(engine_factory, demo_settings)
    await engine.risk.create(limit("max_drawdown", "0.2", account_id="account-002"), limit_id="dd")
    assert (await send(engine, "account-002", "XAUUSD", "0.1", "w-1")).ok
    move(engine, "XAUUSD", "2340.00")  # about 100 of 25,000 USD: 0.4 %
    refused = await send(engine, "account-002", "US500", "0.1", "w-2")
    assert refused.retcode == retcodes.TRADE_DISABLED
    assert "'dd'" in refused.message and "%" in refused.message


async def test_orders_per_minute_counts_the_last_sixty_seconds(
    engine_factory: EngineFactory, demo_settings: Settings
) -> None:
    engine = await bare_engine(engine_factory, demo_settings)
    await engine.risk.create(limit("max_orders_per_minute", "2"), limit_id="rate")
    assert (await send(engine, "account-001", "EURUSD", "0.01", "r-1")).ok
    assert (await send(engine, "account-001", "EURUSD", "0.01", "r-2")).ok
    refused = await send(engine, "account-001", "EURUSD", "0.01", "r-3")
    assert refused.retcode == retcodes.TOO_MANY_REQUESTS
    assert "'rate'" in refused.message
    await engine.clock.advance(61)  # type: ignore[attr-defined]
    assert (await send(engine, "account-001", "EURUSD", "0.01", "r-4")).ok


async def test_a_global_limit_counts_every_account(
    engine_factory: EngineFactory, demo_settings: Settings
) -> None:
    engine = await bare_engine(engine_factory, demo_settings)
    await engine.risk.create(
        limit("max_open_positions", "2", scope="global"), limit_id="book-positions"
    )
    assert (await send(engine, "account-001", "EURUSD", "0.1", "g-1")).ok
    assert (await send(engine, "account-004", "EURUSD", "0.1", "g-2")).ok
    refused = await send(engine, "account-003", "XAUUSD", "0.1", "g-3")
    assert refused.retcode == retcodes.LIMIT_POSITIONS
    assert "'book-positions'" in refused.message and "all accounts" in refused.message


async def test_a_disabled_limit_refuses_nothing(
    engine_factory: EngineFactory, demo_settings: Settings
) -> None:
    engine = await bare_engine(engine_factory, demo_settings)
    await engine.risk.create(limit("max_open_positions", "1"), limit_id="one")
    assert (await send(engine, "account-001", "EURUSD", "0.1", "x-1")).ok
    assert not (await send(engine, "account-001", "EURUSD", "0.1", "x-2")).ok
    await engine.risk.update("one", {"enabled": False})
    assert (await send(engine, "account-001", "EURUSD", "0.1", "x-3")).ok


def _position_of(engine: object, symbol: str) -> int:
    positions = engine.manager.get("account-001").broker.positions()  # type: ignore[attr-defined]
    return next(p.ticket for p in positions if p.symbol == symbol)


async def test_a_global_daily_loss_sums_the_losses_of_every_account(
    engine_factory: EngineFactory, demo_settings: Settings
) -> None:
    """The book of all accounts is kept as a running sum of the accounts'
    equities: two accounts losing together breach a book-wide limit that
    neither breaches alone, and a third account's order is refused for it."""
    engine = await bare_engine(engine_factory, demo_settings)
    await engine.risk.create(limit("max_daily_loss", "150", scope="global"), limit_id="book-day")
    assert (await send(engine, "account-002", "XAUUSD", "0.1", "b-1")).ok
    assert (await send(engine, "account-003", "XAUUSD", "0.1", "b-2")).ok
    assert (await send(engine, "account-001", "EURUSD", "0.01", "b-3")).ok
    move(engine, "XAUUSD", "2340.00")  # about 100 USD down in each of the two accounts
    engine.mark()  # every account's equity reaches the risk engine
    await asyncio.sleep(0)  # the pass over all accounts, once per loop turn
    refused = await send(engine, "account-004", "EURUSD", "0.01", "b-4")
    assert refused.retcode == retcodes.TRADE_DISABLED
    assert "'book-day'" in refused.message and "all accounts" in refused.message
    loss = Decimal(refused.message.split("breached at ")[1].split(" USD")[0])
    accounts = engine.accounts()
    day_start = {b.account_id: b.day_start_equity for b in engine.risk.evaluate().books}
    expected = sum((day_start[a.account_id] - a.equity for a in accounts), Decimal(0))
    assert loss == expected > 150


async def test_exposure_is_priced_at_the_newest_quote(
    engine_factory: EngineFactory, demo_settings: Settings
) -> None:
    """Notionals are kept per symbol until a new quote: an order that fits at
    one price is refused once the price has risen enough."""
    engine = await bare_engine(engine_factory, demo_settings)
    await engine.risk.create(limit("max_exposure", "250000"), limit_id="fx")
    move(engine, "EURUSD", "1.08000")
    assert (await send(engine, "account-001", "EURUSD", "1", "x-1")).ok  # 108,000 USD
    assert (await send(engine, "account-001", "EURUSD", "1", "x-2")).ok  # 216,000 USD
    move(engine, "EURUSD", "1.26000")  # the two lots are 252,000 USD now
    refused = await send(engine, "account-001", "EURUSD", "0.01", "x-3")
    assert refused.retcode in (retcodes.LIMIT_VOLUME, retcodes.TRADE_DISABLED)
    assert "'fx'" in refused.message
