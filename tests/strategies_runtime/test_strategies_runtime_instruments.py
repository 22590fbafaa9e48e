"""Instruments edited at run time: validated, applied at once, refused where they
would pull the ground from under an account, and kept over a restart."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from config.models import InstrumentConfig, Settings
from engine.errors import Conflict, ValidationFailed
from engine.market.instruments import InstrumentNotFound
from tests.conftest import EngineFactory
from tests.strategies_runtime.helpers import ACCOUNT, one_account, run_until

NEW = InstrumentConfig(digits=2, point=Decimal("0.01"), start_price=Decimal("180.00"))


async def test_edits_apply_now_and_survive_a_restart(
    engine_factory: EngineFactory, demo_settings: Settings, tmp_path: Path
) -> None:
    settings = one_account(demo_settings)
    db = tmp_path / "instruments.db"
    first = await engine_factory(settings.model_copy(deep=True), db_path=db, run_loops=False)
    await first.add_instrument("AAPL", NEW)
    changed = first.settings.instruments["EURUSD"].model_copy(update={"volume_max": Decimal(5)})
    await first.update_instrument("EURUSD", changed)
    assert first.settings.instruments["EURUSD"].volume_max == Decimal(5)
    await first.remove_instrument("XAUUSD")  # in the file, traded by no account here
    assert "XAUUSD" not in first.settings.instruments
    await first.close()

    second = await engine_factory(settings.model_copy(deep=True), db_path=db, run_loops=False)
    instruments = second.settings.instruments
    assert instruments["AAPL"] == NEW
    assert instruments["EURUSD"].volume_max == Decimal(5)
    assert "XAUUSD" not in instruments
    assert second.quote("AAPL") is not None  # the simulated market quotes it now


async def test_deleting_what_is_in_use_is_refused_naming_the_users(
    engine_factory: EngineFactory, demo_settings: Settings
) -> None:
    engine = await engine_factory(demo_settings, run_loops=False)

    with pytest.raises(Conflict) as refused:
        await engine.remove_instrument("XAUUSD")

    message = refused.value.message
    assert "accounts account-002, account-003" in message
    assert "account-002:donchian_breakout:1" in message
    assert "XAUUSD" in engine.settings.instruments
    with pytest.raises(InstrumentNotFound):
        await engine.remove_instrument("NOPE")


async def test_valuation_cannot_change_under_open_positions(
    engine_factory: EngineFactory, demo_settings: Settings
) -> None:
    engine = await engine_factory(one_account(demo_settings), run_loops=False)
    await engine.add_strategy(ACCOUNT, "donchian_breakout", {"period": 3}, ["EURUSD"])

    async def holds() -> bool:
        return any(p.symbol == "EURUSD" for p in engine.snapshot().positions)

    await run_until(engine, holds, limit=1800)
    current = engine.settings.instruments["EURUSD"]

    with pytest.raises(Conflict, match=f"contract_size of EURUSD cannot change while {ACCOUNT}"):
        await engine.update_instrument(
            "EURUSD", current.model_copy(update={"contract_size": Decimal(1000)})
        )
    assert engine.settings.instruments["EURUSD"] == current
    # What does not revalue them may change.
    await engine.update_instrument("EURUSD", current.model_copy(update={"stops_level": 50}))
    assert engine.settings.instruments["EURUSD"].stops_level == 50


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"point": Decimal("0.015")}, "point"),
        ({"volume_min": Decimal(200)}, "volume_min"),
        ({"trading_hours": ["09:00-08:00"]}, "trading_hours[0]"),
    ],
)
async def test_invalid_instruments_are_refused_naming_the_field(
    engine_factory: EngineFactory, demo_settings: Settings, changes: dict[str, object], path: str
) -> None:
    engine = await engine_factory(demo_settings, run_loops=False)

    with pytest.raises(ValidationFailed) as refused:
        await engine.add_instrument("AAPL", NEW.model_copy(update=changes))

    assert [i["path"] for i in refused.value.details["issues"]] == [path]
    assert "AAPL" not in engine.settings.instruments
    with pytest.raises(Conflict, match="exists already"):
        await engine.add_instrument("EURUSD", NEW)
    with pytest.raises(ValidationFailed, match="not a symbol"):
        await engine.add_instrument("bad symbol", NEW)
