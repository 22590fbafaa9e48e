"""The configuration: read it (secrets redacted), change a section, export and
import the whole of it.

When a change takes effect depends on when the engine reads the setting:
- now: read each time it is used (the trading mode, stop timeout, restart backoff);
- at each worker's next start: read when a worker builds its strategies (the
  defaults, the heartbeat interval);
- only after a restart of tradedeck: everything else (the market, the store,
  the server, the accounts and instruments are built when the engine starts).
A change that needs a restart is refused with 409 and nothing is applied:
edit the configuration file and restart instead.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from fastapi import APIRouter, Body, Depends, Request
from pydantic import BaseModel, Field, ValidationError

from config.issues import ValidationIssue, ValidationReport
from config.models import Settings
from config.validation import field_path, path_under, pydantic_message, validate_settings
from engine.domain import SystemMode
from engine.engine import Engine
from engine.security.principal import Principal
from engine.server.deps import admin, audited, get_engine, require_all_accounts, viewer
from engine.server.errors import ApiError
from engine.server.schemas import Request as RequestBody
from engine.server.schemas import error_responses

router = APIRouter(prefix="/config", tags=["config"], responses=error_responses(401, 422, 429))

ConfigSection = StrEnum("ConfigSection", {name: name for name in Settings.model_fields})  # type: ignore[misc]

# Read by the engine each time it is used.
APPLIES_NOW = (
    "engine.mode",
    "engine.stop_timeout_seconds",
    "engine.restart_backoff_initial",
    "engine.restart_backoff_max",
    "engine.max_restarts",
)
# Read when a worker starts: running workers keep the old values until restarted.
APPLIES_AT_WORKER_START = ("engine.heartbeat_seconds", "defaults")

REDACTED = "********"
# A notification target's `url` is an Apprise URL, which carries its service's token.
_SECRET = re.compile(r"(^|_)(password|secret|token|api_key|tls_key|url)(_file)?$")


class ConfigDocument(RequestBody):
    """The whole configuration as `POST /config/export` gives it and
    `POST /config/import` takes it back (redacted values keep their current value)."""

    format: Literal["tradedeck.config"] = "tradedeck.config"
    version: Literal[1] = 1
    exported_at: datetime | None = None
    settings: dict[str, Any] = Field(description="every section, as `GET /config` shows it")


class ConfigApplied(BaseModel):
    changed: list[str] = Field(description="field paths whose value changed")
    applied_now: list[str]
    applied_at_worker_start: list[str] = Field(
        description="take effect for each worker at its next start or restart"
    )
    warnings: list[ValidationIssue]


@router.get("", response_model=dict[str, Any])
async def get_config(
    engine: Engine = Depends(get_engine), principal: Principal = Depends(viewer)
) -> dict[str, Any]:
    return _visible_config(engine, principal)


@router.get("/{section}", response_model=dict[str, Any] | list[Any])
async def get_section(
    section: ConfigSection,
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(viewer),
) -> dict[str, Any] | list[Any]:
    value: dict[str, Any] | list[Any] = _visible_config(engine, principal)[section.value]
    return value


@router.put("/{section}", response_model=ConfigApplied, responses=error_responses(400, 403, 409))
async def put_section(
    section: ConfigSection,
    request: Request,
    value: dict[str, Any] | list[Any] = Body(..., description="the section's new value"),
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(admin),
) -> ConfigApplied:
    """Replace one section (fields left out take their defaults)."""
    require_all_accounts(principal, "change the configuration")
    async with audited(request, principal, "config.update", f"config.{section.value}"):
        current = engine.settings.model_dump(mode="json")
        proposed = {**current, section.value: _unredact(value, current[section.value])}
        return _apply(engine, principal, proposed)


@router.post("/export", response_model=ConfigDocument)
async def export_config(
    engine: Engine = Depends(get_engine), principal: Principal = Depends(viewer)
) -> ConfigDocument:
    return ConfigDocument(
        exported_at=engine.clock.now(), settings=_visible_config(engine, principal)
    )


@router.post("/import", response_model=ConfigApplied, responses=error_responses(400, 403, 409))
async def import_config(
    document: ConfigDocument,
    request: Request,
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(admin),
) -> ConfigApplied:
    """Replace the whole configuration: every section is validated first, then
    all changes apply together or none does."""
    require_all_accounts(principal, "change the configuration")
    async with audited(request, principal, "config.import", "config"):
        current = engine.settings.model_dump(mode="json")
        return _apply(engine, principal, _unredact(document.settings, current))


# --- applying ----------------------------------------------------------------------------


def _apply(engine: Engine, principal: Principal, proposed: dict[str, Any]) -> ConfigApplied:
    """Validate `proposed` (the whole configuration), refuse what needs a restart,
    then apply every change at once."""
    settings, report = _validated(proposed)
    changed = _changed(engine.settings.model_dump(mode="json"), settings.model_dump(mode="json"))
    now = [p for p in changed if any(path_under(p, prefix) for prefix in APPLIES_NOW)]
    later = [p for p in changed if any(path_under(p, prefix) for prefix in APPLIES_AT_WORKER_START)]
    restart = [p for p in changed if p not in now and p not in later]
    if restart:
        raise ApiError(
            409,
            "CONFLICT",
            f"{', '.join(restart)} cannot change while tradedeck runs: edit the configuration "
            "file and restart. Nothing was applied.",
            restart_required=restart,
            changed=changed,
        )
    if "engine.mode" in changed:
        # First, because it is the one change that can still be refused (the kill switch).
        engine.set_mode(SystemMode(settings.engine.mode))
    for section in dict.fromkeys(_section_of(p) for p in changed):
        setattr(engine.settings, section, getattr(settings, section))
    if changed:
        engine.log(f"configuration changed by {principal.name}: {', '.join(changed)}")
    return ConfigApplied(
        changed=changed, applied_now=now, applied_at_worker_start=later, warnings=report.warnings
    )


def _validated(data: dict[str, Any]) -> tuple[Settings, ValidationReport]:
    """The settings `data` describes, or a 422 naming every field that is wrong."""
    try:
        settings = Settings.model_validate(data)
    except ValidationError as error:
        raise _invalid(
            [
                {
                    "path": field_path(*d["loc"]),
                    "message": pydantic_message(d),
                    "type": d["type"],
                }
                for d in error.errors()
            ],
            [],
        ) from None
    report = validate_settings(settings)
    if not report.valid:
        raise _invalid(
            [{"path": i.path, "message": i.message, "type": "config"} for i in report.errors],
            report.warnings,
        )
    return settings, report


def _invalid(fields: list[dict[str, Any]], warnings: list[ValidationIssue]) -> ApiError:
    first = fields[0]
    return ApiError(
        422,
        "INVALID_REQUEST",
        f"The configuration is not valid ({len(fields)} error(s)); first: "
        f"{first['path'] or 'the document'}: {first['message']}",
        fields=fields,
        warnings=[w.model_dump(mode="json") for w in warnings],
    )


_MISSING = object()


def _changed(old: Any, new: Any, at: tuple[str | int, ...] = ()) -> list[str]:
    """The field paths at which `new` differs from `old` (both JSON values)."""
    if isinstance(old, dict) and isinstance(new, dict):
        keys = [*old, *(k for k in new if k not in old)]
        return [
            path
            for key in keys
            for path in _changed(old.get(key, _MISSING), new.get(key, _MISSING), (*at, key))
        ]
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [
            path
            for i, (a, b) in enumerate(zip(old, new, strict=True))
            for path in _changed(a, b, (*at, i))
        ]
    return [] if old == new else [field_path(*at)]


def _section_of(path: str) -> str:
    return re.split(r"[.\[]", path, maxsplit=1)[0]


# --- reading -----------------------------------------------------------------------------


def _visible_config(engine: Engine, principal: Principal) -> dict[str, Any]:
    """The configuration as the caller may see it: secrets redacted, and for a
    key limited to some accounts, only those accounts."""
    data: dict[str, Any] = _redact(engine.settings.model_dump(mode="json"))
    if principal.accounts is not None:
        data["accounts"] = [a for a in data["accounts"] if principal.sees(a["id"])]
        # Limits of other accounts name them; global and symbol limits name none.
        risk = data.get("risk") or {}
        risk["limits"] = [
            limit for limit in risk.get("limits", []) if principal.sees(limit.get("account_id"))
        ]
    return data


def _is_secret(key: Any, value: Any) -> bool:
    return (
        isinstance(key, str)
        and _SECRET.search(key) is not None
        and value is not None
        and not isinstance(value, dict | list)
    )


def _redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: REDACTED if _is_secret(k, v) else _redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v) for v in value]
    return value


def _unredact(new: Any, current: Any) -> Any:
    """`new` with every redacted secret put back to its current value, so what
    was read can be written back unchanged."""
    if isinstance(new, dict):
        known = current if isinstance(current, dict) else {}
        return {
            k: known.get(k) if v == REDACTED and _is_secret(k, v) else _unredact(v, known.get(k))
            for k, v in new.items()
        }
    if isinstance(new, list):
        items = current if isinstance(current, list) else []
        return [_unredact(v, items[i] if i < len(items) else None) for i, v in enumerate(new)]
    return new
