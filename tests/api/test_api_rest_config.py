"""`/config`: reading (secrets redacted, scoped), changing a section with
validation and honest effect reporting, export and atomic import."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from config.models import Settings
from engine.domain import SystemMode
from engine.server.routers.config_routes import REDACTED


async def engine_section(api: Any) -> dict[str, Any]:
    return dict((await api.client("admin").get("/api/v1/config/engine")).json())


def fields(response: Any) -> list[str]:
    return [f["path"] for f in response.json()["error"]["details"]["fields"]]


async def test_the_whole_configuration_and_each_section_are_readable(api: Any) -> None:
    viewer = api.client("viewer")
    config = (await viewer.get("/api/v1/config")).json()
    # Every section of the settings, and nothing else.
    assert set(config) == set(Settings.model_fields)
    assert {"engine", "server", "instruments", "accounts"} <= set(config)
    assert len(config["accounts"]) == 4
    assert config["instruments"]["EURUSD"]["point"] == "0.00001"

    section = await viewer.get("/api/v1/config/instruments")
    assert section.status_code == 200
    assert section.json() == config["instruments"]

    unknown = await viewer.get("/api/v1/config/secrets")
    assert unknown.status_code == 422
    assert fields(unknown) == ["path.section"]
    assert (await api.client().get("/api/v1/config")).status_code == 401


async def test_a_scoped_key_sees_only_its_accounts(api: Any) -> None:
    scoped = api.client("scoped")
    accounts = (await scoped.get("/api/v1/config/accounts")).json()
    assert [a["id"] for a in accounts] == ["account-001"]
    exported = (await scoped.post("/api/v1/config/export")).json()
    assert [a["id"] for a in exported["settings"]["accounts"]] == ["account-001"]


async def test_secrets_are_redacted_and_survive_being_written_back(api: Any) -> None:
    api.engine.settings.server.secret_file = Path("/srv/tradedeck/jwt.secret")
    admin = api.client("admin")
    server = (await admin.get("/api/v1/config/server")).json()
    assert server["secret_file"] == REDACTED
    assert "/srv/tradedeck" not in (await admin.get("/api/v1/config")).text

    response = await admin.put("/api/v1/config/server", json=server)
    assert response.status_code == 200, response.text
    assert response.json()["changed"] == []
    assert api.engine.settings.server.secret_file == Path("/srv/tradedeck/jwt.secret")


async def test_a_setting_read_at_use_applies_at_once(api: Any) -> None:
    engine = await engine_section(api)
    response = await api.client("admin").put(
        "/api/v1/config/engine", json={**engine, "max_restarts": 9, "stop_timeout_seconds": 3}
    )
    assert response.status_code == 200, response.text
    applied = response.json()
    assert applied["changed"] == ["engine.stop_timeout_seconds", "engine.max_restarts"]
    assert applied["applied_now"] == applied["changed"]
    assert applied["applied_at_worker_start"] == []
    assert api.engine.settings.engine.max_restarts == 9
    # The workers read the very same settings object.
    assert api.engine.manager.rt.settings.engine.stop_timeout_seconds == 3
    assert (await engine_section(api))["max_restarts"] == 9


async def test_defaults_apply_at_each_workers_next_start_with_warnings(api: Any) -> None:
    admin = api.client("admin")
    defaults = (await admin.get("/api/v1/config/defaults")).json()
    defaults["risk"]["risk_percent"] = 15.0
    response = await admin.put("/api/v1/config/defaults", json=defaults)
    assert response.status_code == 200, response.text
    applied = response.json()
    assert applied["applied_at_worker_start"] == ["defaults.risk.risk_percent"]
    assert applied["applied_now"] == []
    assert [w["path"] for w in applied["warnings"]] == ["defaults.risk.risk_percent"]
    assert api.engine.settings.default_risk().risk_percent == 15.0


async def test_a_change_that_needs_a_restart_is_refused_and_nothing_applies(api: Any) -> None:
    engine = await engine_section(api)
    response = await api.client("admin").put(
        "/api/v1/config/engine", json={**engine, "seed": 7, "max_restarts": 9}
    )
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "CONFLICT"
    assert error["details"]["restart_required"] == ["engine.seed"]
    assert "restart" in error["message"]
    assert api.engine.settings.engine.seed == 42
    assert api.engine.settings.engine.max_restarts == engine["max_restarts"]


async def test_invalid_values_are_422_with_field_paths(api: Any) -> None:
    admin = api.client("admin")
    engine = await engine_section(api)
    typed = await admin.put(
        "/api/v1/config/engine", json={**engine, "max_restarts": -1, "turbo": True}
    )
    assert typed.status_code == 422
    assert fields(typed) == ["engine.max_restarts", "engine.turbo"]

    defaults = (await admin.get("/api/v1/config/defaults")).json()
    defaults["risk"]["stop_loss_pips"] = 0
    ruled = await admin.put("/api/v1/config/defaults", json=defaults)
    assert ruled.status_code == 422
    assert fields(ruled) == ["defaults.risk.stop_loss_pips"]
    assert ruled.json()["error"]["code"] == "INVALID_REQUEST"
    assert api.engine.settings.default_risk().stop_loss_pips == 30


async def test_halting_through_the_configuration_is_refused(api: Any) -> None:
    engine = await engine_section(api)
    response = await api.client("admin").put(
        "/api/v1/config/engine", json={**engine, "mode": "halted"}
    )
    assert response.status_code == 400
    assert "kill switch" in response.json()["error"]["message"]
    assert api.engine.settings.engine.mode is SystemMode.PAPER


async def test_only_unscoped_admins_change_the_configuration(api: Any) -> None:
    engine = await engine_section(api)
    for role in ("viewer", "trader", "scoped"):
        response = await api.client(role).put("/api/v1/config/engine", json=engine)
        assert response.status_code == 403, role
        assert response.json()["error"]["code"] == "FORBIDDEN"
        export = await api.client(role).post("/api/v1/config/import", json={"settings": {}})
        assert export.status_code == 403, role


async def test_export_then_import_round_trips_and_applies_changes(api: Any) -> None:
    admin = api.client("admin")
    document = (await admin.post("/api/v1/config/export")).json()
    assert (document["format"], document["version"]) == ("tradedeck.config", 1)
    assert document["exported_at"].startswith("2026-01-05T09:00")

    unchanged = await admin.post("/api/v1/config/import", json=document)
    assert unchanged.status_code == 200, unchanged.text
    assert unchanged.json()["changed"] == []

    document["settings"]["engine"]["mode"] = "live"
    document["settings"]["engine"]["restart_backoff_max"] = 30.0
    applied = await admin.post("/api/v1/config/import", json=document)
    assert applied.status_code == 200, applied.text
    assert applied.json()["applied_now"] == ["engine.mode", "engine.restart_backoff_max"]
    assert api.engine.settings.engine.mode is SystemMode.LIVE
    assert (await admin.get("/api/v1/system/status")).json()["mode"] == "live"


async def test_import_is_all_or_nothing(api: Any) -> None:
    admin = api.client("admin")
    document = (await admin.post("/api/v1/config/export")).json()
    document["settings"]["engine"]["max_restarts"] = 9
    document["settings"]["instruments"]["EURUSD"]["spread_points"] = 1
    refused = await admin.post("/api/v1/config/import", json=document)
    assert refused.status_code == 409
    assert refused.json()["error"]["details"]["restart_required"] == [
        "instruments.EURUSD.spread_points"
    ]
    assert api.engine.settings.engine.max_restarts == 5

    document = (await admin.post("/api/v1/config/export")).json()
    document["settings"]["engine"]["max_restarts"] = 9
    document["settings"]["accounts"][1]["symbols"] = []
    invalid = await admin.post("/api/v1/config/import", json=document)
    assert invalid.status_code == 422
    assert fields(invalid)[0] == "accounts[1].symbols"
    assert api.engine.settings.engine.max_restarts == 5
