"""Price alerts on the quote path: a crossing fires once, a repeating alert
fires again only after the price went back across, levels out of reach cost
nothing, and a restart resumes where each alert stood."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from config.models import Settings
from engine.engine import Engine
from engine.errors import ValidationFailed
from engine.market.price_alerts import PriceAlertNotFound
from engine.models import Alert, PriceDirection, Quote, Severity
from tests.conftest import EngineFactory

ABOVE, BELOW = PriceDirection.ABOVE, PriceDirection.BELOW
SYMBOL = "EURUSD"


def quote(engine: Engine, bid: str) -> None:
    """Feed one EURUSD quote at `bid` through the engine's quote path."""
    price = Decimal(bid)
    engine.process_quotes(
        [
            Quote(
                symbol=SYMBOL,
                bid=price,
                ask=price + Decimal("0.00012"),
                time=engine.clock.now(),
                mid=float(price) + 0.00006,
            )
        ]
    )


async def fired(engine: Engine) -> list[Alert]:
    await engine.quiesce()
    return [a for a in engine.alerts.recent() if a.kind == "price_alert"][::-1]


@pytest.fixture
async def engine(engine_factory: EngineFactory, demo_settings: Settings) -> Engine:
    engine = await engine_factory(demo_settings, run_loops=False)
    quote(engine, "1.08000")
    return engine


async def test_once_alert_fires_on_the_crossing_and_then_never(engine: Engine) -> None:
    alert = await engine.add_price_alert(
        SYMBOL, ABOVE, Decimal("1.08500"), severity=Severity.HIGH, note="breakout"
    )
    assert alert.armed and alert.active

    quote(engine, "1.08499")
    assert await fired(engine) == []
    quote(engine, "1.08500")  # reaching the level is crossing it
    quote(engine, "1.08000")
    quote(engine, "1.09000")

    [raised] = await fired(engine)
    assert raised.severity is Severity.HIGH
    assert raised.message == "EURUSD bid rose to 1.08500, crossing above 1.08500: breakout"
    assert raised.data["price_alert_id"] == alert.id
    done = engine.price_alert(alert.id)
    assert (done.active, done.armed, done.triggered_count) == (False, False, 1)
    assert done.last_price == Decimal("1.08500")


async def test_repeating_alert_rearms_only_after_going_back_across(engine: Engine) -> None:
    alert = await engine.add_price_alert(SYMBOL, BELOW, Decimal("1.07500"), repeat=True)

    quote(engine, "1.07400")  # fires
    quote(engine, "1.07300")  # still below: nothing
    quote(engine, "1.07500")  # back at the level, not across it: nothing
    assert len(await fired(engine)) == 1
    assert not engine.price_alert(alert.id).armed
    quote(engine, "1.07501")  # across: re-armed
    assert engine.price_alert(alert.id).armed
    quote(engine, "1.07500")  # fires again

    raised = await fired(engine)
    assert [a.data["price"] for a in raised] == ["1.07400", "1.07500"]
    assert engine.price_alert(alert.id).triggered_count == 2
    assert engine.price_alert(alert.id).active


async def test_an_alert_created_beyond_its_level_waits_for_a_real_crossing(
    engine: Engine,
) -> None:
    alert = await engine.add_price_alert(SYMBOL, ABOVE, Decimal("1.07000"))
    assert not alert.armed  # the bid (1.08000) is above already

    quote(engine, "1.08100")
    assert await fired(engine) == []
    quote(engine, "1.06900")
    quote(engine, "1.07000")
    assert len(await fired(engine)) == 1


async def test_one_quote_fires_every_level_it_jumps(engine: Engine) -> None:
    levels = ["1.08100", "1.08200", "1.08300", "1.09500"]
    for level in levels:
        await engine.add_price_alert(SYMBOL, ABOVE, Decimal(level))
    low = await engine.add_price_alert(SYMBOL, BELOW, Decimal("1.07000"))

    quote(engine, "1.08300")

    assert sorted(a.data["level"] for a in await fired(engine)) == levels[:3]
    watch = engine.price_alerts.watches[SYMBOL]
    assert (watch.low, watch.high) == (Decimal("1.09500"), Decimal("1.07000"))
    await engine.delete_price_alert(low.id)
    assert engine.price_alerts.watches[SYMBOL].high == Decimal("-Infinity")


async def test_deleted_alert_no_longer_fires(engine: Engine) -> None:
    alert = await engine.add_price_alert(SYMBOL, ABOVE, Decimal("1.08500"))
    await engine.delete_price_alert(alert.id)

    quote(engine, "1.09000")

    assert await fired(engine) == []
    with pytest.raises(PriceAlertNotFound):
        engine.price_alert(alert.id)
    assert await engine.store.price_alerts.all() == []


async def test_a_restart_resumes_each_alert_where_it_stood(
    engine_factory: EngineFactory, demo_settings: Settings, tmp_path: Path
) -> None:
    db = tmp_path / "alerts.db"
    first = await engine_factory(demo_settings, db_path=db, run_loops=False)
    quote(first, "1.08000")
    repeating = await first.add_price_alert(SYMBOL, ABOVE, Decimal("1.08500"), repeat=True)
    once = await first.add_price_alert(SYMBOL, BELOW, Decimal("1.07000"))
    quote(first, "1.08600")  # the repeating one fires and waits to re-arm
    await first.quiesce()
    await first.close()

    second = await engine_factory(demo_settings, db_path=db, run_loops=False)
    restored = second.price_alert(repeating.id)
    assert (restored.armed, restored.triggered_count) == (False, 1)
    quote(second, "1.08700")  # not re-armed: nothing
    quote(second, "1.06000")  # re-arms the repeating one, fires the once one
    quote(second, "1.08500")  # fires the repeating one again

    raised = await fired(second)
    assert [a.data["price_alert_id"] for a in raised[-2:]] == [once.id, repeating.id]
    assert second.price_alert(repeating.id).triggered_count == 2
    new = await second.add_price_alert(SYMBOL, ABOVE, Decimal("1.10000"))
    assert new.id > once.id  # ids continue


async def test_an_unknown_symbol_is_refused(engine: Engine) -> None:
    with pytest.raises(ValidationFailed, match="no instrument 'NOPE'"):
        await engine.add_price_alert("NOPE", ABOVE, Decimal(1))
