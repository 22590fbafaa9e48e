"""`/system/kill-switch`: viewers read it, traders engage it, only unlimited
admins clear it; the halted mode shows in `/system/status`; both actions are
audited and streamed."""

from __future__ import annotations

from tests.api.conftest import Api

SWITCH = "/api/v1/system/kill-switch"


async def test_traders_engage_and_only_admins_clear(api: Api) -> None:
    viewer, trader, admin = api.client("viewer"), api.client("trader"), api.client("admin")
    events = api.engine.subscribe()
    assert (await viewer.get(SWITCH)).json()["engaged"] is False
    assert (await viewer.post(SWITCH, json={})).status_code == 403
    assert (await api.client("scoped").post(SWITCH, json={})).status_code == 403
    assert (await trader.post(SWITCH, json={"flatten": "maybe"})).status_code == 422

    engaged = await trader.post(SWITCH, json={"flatten": True, "reason": "drill"})
    assert engaged.status_code == 200, engaged.text
    state = engaged.json()
    assert (state["engaged"], state["flatten"], state["reason"]) == (True, True, "drill")
    assert state["mode_before"] == "paper"
    status = (await viewer.get("/api/v1/system/status")).json()
    assert status["mode"] == "halted"
    blocked = await admin.post("/api/v1/system/mode", json={"mode": "paper"})
    assert blocked.status_code == 409

    assert (await trader.post(f"{SWITCH}/clear")).status_code == 403
    cleared = await admin.post(f"{SWITCH}/clear")
    assert cleared.status_code == 200 and cleared.json()["engaged"] is False
    assert (await viewer.get("/api/v1/system/status")).json()["mode"] == "paper"
    again = await admin.post(f"{SWITCH}/clear")
    assert again.status_code == 409 and again.json()["error"]["code"] == "CONFLICT"

    audit = (await admin.get("/api/v1/audit", params={"limit": 500})).json()["items"]
    actions = {(e["action"], e["outcome"]) for e in audit}
    assert ("system.kill_switch", "ok") in actions
    assert ("system.kill_switch_clear", "ok") in actions
    assert ("system.kill_switch_clear", "CONFLICT") in actions

    kinds = []
    while len([k for k in kinds if k == "kill_switch"]) < 3:
        kinds.append((await events.get()).kind)
    assert "system" in kinds
    await events.close()
