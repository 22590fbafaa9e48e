"""The kill switch: halt all trading at once, and (admins only) clear it.

Engaging is for traders and admins (stopping trading must be quick for the
people who trade), clearing is for admins. Both act on the whole system, so a
key limited to some accounts may do neither. `GET /system/status` shows the
halted state through its `mode`.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from pydantic import Field

from engine.engine import Engine
from engine.models import KillSwitchState
from engine.security.principal import Principal
from engine.server.deps import admin, audited, get_engine, require_all_accounts, trader, viewer
from engine.server.schemas import Request as RequestBody
from engine.server.schemas import error_responses

router = APIRouter(
    prefix="/system/kill-switch", tags=["system"], responses=error_responses(401, 422, 429)
)


class KillSwitchRequest(RequestBody):
    flatten: bool = Field(default=False, description="also close every open position")
    reason: str = Field(default="", max_length=200, description="kept with the state and alert")


@router.get("", response_model=KillSwitchState)
async def kill_switch_state(
    engine: Engine = Depends(get_engine), principal: Principal = Depends(viewer)
) -> KillSwitchState:
    return engine.kill_switch.state


@router.post("", response_model=KillSwitchState, responses=error_responses(403))
async def engage(
    request: Request,
    body: KillSwitchRequest | None = None,
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(trader),
) -> KillSwitchState:
    """Refuse new orders everywhere, pause every strategy, cancel every pending
    order, close every position with `flatten`, and set the mode to `halted`
    (stored: a restart stays halted). Engaging again repeats the cancels (and
    the flatten when asked)."""
    body = body or KillSwitchRequest()
    require_all_accounts(principal, "engage the kill switch")
    async with audited(
        request, principal, "system.kill_switch", "system", flatten=body.flatten, reason=body.reason
    ):
        return await engine.kill_switch.engage(
            flatten=body.flatten, by=principal.name, reason=body.reason
        )


@router.post("/clear", response_model=KillSwitchState, responses=error_responses(403, 409))
async def clear(
    request: Request, engine: Engine = Depends(get_engine), principal: Principal = Depends(admin)
) -> KillSwitchState:
    """Let trading resume in the mode it had before the halt; strategies stay
    paused until resumed one by one."""
    require_all_accounts(principal, "clear the kill switch")
    async with audited(request, principal, "system.kill_switch_clear", "system"):
        return await engine.kill_switch.clear(by=principal.name)
