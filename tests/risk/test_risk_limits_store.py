"""Limits from the configuration are written to the store the first time
their id is seen; after that the stored limit wins: edits and deletions made
at run time survive a restart. Bad limits are refused with the field named."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from config.loader import load_settings
from config.models import RiskLimitConfig, Settings
from config.validation import validate_settings
from engine.clock import VirtualClock
from engine.errors import Conflict, ValidationFailed
from engine.models import RiskLimitOrigin
from engine.risk.service import RiskLimitNotFound
from tests.conftest import FROZEN_START, EngineFactory
from tests.risk.risk_support import limit


def config_limit(limit_id: str, threshold: str) -> RiskLimitConfig:
    return RiskLimitConfig(
        id=limit_id,
        scope="account",  # type: ignore[arg-type]
        account_id="account-001",
        kind="max_open_positions",  # type: ignore[arg-type]
        threshold=Decimal(threshold),
    )


async def test_configured_limits_are_seeded_once_then_the_store_wins(
    engine_factory: EngineFactory, demo_settings: Settings, tmp_path: Path
) -> None:
    db, clock = tmp_path / "limits.db", VirtualClock(FROZEN_START)
    demo_settings.risk.limits = [config_limit("kept", "5"), config_limit("dropped", "6")]
    engine = await engine_factory(demo_settings, db_path=db, clock=clock, run_loops=False)
    assert [(lim.id, lim.origin) for lim in engine.risk.limits()] == [
        ("dropped", RiskLimitOrigin.CONFIG),
        ("kept", RiskLimitOrigin.CONFIG),
    ]
    await engine.risk.update("kept", {"threshold": Decimal(9), "warning": Decimal(7)})
    await engine.risk.delete("dropped")
    await engine.close()

    # The file still says 5 and still lists "dropped"; a new id appears.
    demo_settings.risk.limits.append(config_limit("new", "3"))
    again = await engine_factory(demo_settings, db_path=db, clock=clock, run_loops=False)
    limits = {lim.id: lim for lim in again.risk.limits()}
    assert sorted(limits) == ["kept", "new"]
    assert limits["kept"].threshold == 9 and limits["kept"].warning == 7
    with pytest.raises(RiskLimitNotFound):
        again.risk.get("dropped")
    with pytest.raises(Conflict):  # a deleted id is not reused
        await again.risk.create(limit("max_open_positions", "2"), limit_id="dropped")


async def test_bad_limits_are_refused_naming_the_field(
    engine_factory: EngineFactory, demo_settings: Settings
) -> None:
    demo_settings.risk.limits = []
    engine = await engine_factory(demo_settings, run_loops=False)
    cases = {
        "warning": limit("max_open_positions", "5", warning=Decimal(5)),
        "account_id": limit("max_open_positions", "5", account_id="account-999"),
        "scope": limit("max_drawdown", "5", scope="symbol", symbol="EURUSD"),
        "symbol": limit("max_exposure", "5", scope="symbol", symbol="NOPE"),
        "threshold": limit("max_orders_per_minute", "2.5"),
        "action": limit("max_exposure", "5", scope="symbol", symbol="EURUSD", action="flatten"),
        "kind": limit("max_leverage", "5"),
    }
    for field, fields in cases.items():
        with pytest.raises(ValidationFailed) as caught:
            await engine.risk.create(fields)
        paths = [issue["path"] for issue in caught.value.details["issues"]]
        assert field in paths, (field, caught.value.message)
    assert engine.risk.limits() == []
    made = await engine.risk.create(limit("max_exposure", "100000"))
    assert made.id == "max_exposure-account-001" and made.origin is RiskLimitOrigin.RUNTIME
    again = await engine.risk.create(limit("max_exposure", "200000"))
    assert again.id == "max_exposure-account-001-2"


def test_the_configuration_check_names_each_bad_limit(demo_settings: Settings) -> None:
    demo_settings.risk.limits = [
        config_limit("a", "5").model_copy(update={"warning": Decimal(8)}),
        config_limit("a", "5").model_copy(update={"account_id": None}),
    ]
    report = validate_settings(demo_settings, env={})
    problems = {(i.path, i.message) for i in report.errors if i.path.startswith("risk")}
    assert ("risk.limits[0].warning", "warning (8) must be below the threshold (5)") in problems
    assert ("risk.limits[1].account_id", "an account limit needs an account_id") in problems
    assert any(path == "risk.limits[1].id" and "duplicate" in m for path, m in problems)
    # The demo's own limits are valid.
    demo = load_settings(None, env={})
    assert len(demo.risk.limits) >= 5
    assert not [i for i in validate_settings(demo, env={}).issues if i.path.startswith("risk")]
