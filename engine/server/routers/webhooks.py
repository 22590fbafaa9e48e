"""Signed webhooks (the notification router's, `engine.notify`): register,
list, delete, test; and a test notification to a configured target.

Admins only: a webhook decides where the engine's alerts go. A key limited
to some accounts registers webhooks for its accounts' alerts only.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, status
from pydantic import BaseModel, Field, field_validator

from engine.engine import Engine
from engine.errors import NotFound
from engine.models import Webhook
from engine.notify import service_of
from engine.security.principal import Principal
from engine.server.deps import admin, audited, check_account, get_engine
from engine.server.schemas import Page, Paging, RowId, error_responses, paging
from engine.server.schemas import Request as RequestBody

router = APIRouter(tags=["notifications"], responses=error_responses(401, 403, 422, 429))

_paging = paging("id", "created_at", "url", default="id")


class NewWebhook(RequestBody):
    url: str = Field(max_length=2000, examples=["https://ops.example.com/hooks/tradedeck"])
    events: list[str] = Field(
        default_factory=lambda: ["*"],
        max_length=100,
        description="alert kinds (risk_limit, worker_error, price_alert, job_dead, "
        "kill_switch, ...); ['*'] for every kind",
    )
    secret: str | None = Field(
        default=None, min_length=16, max_length=200, description="made for you when left out"
    )
    accounts: list[str] | None = Field(
        default=None, description="only these accounts' alerts (a scoped key: within its own)"
    )

    @field_validator("url")
    @classmethod
    def _http(cls, url: str) -> str:
        if not url.startswith(("http://", "https://")):
            raise ValueError("a webhook is an http:// or https:// URL")
        return url

    @field_validator("events")
    @classmethod
    def _kinds(cls, events: list[str]) -> list[str]:
        for kind in events:
            if kind != "*" and not kind.replace("_", "").isalnum():
                raise ValueError(f"{kind!r} is not an alert kind (risk_limit, job_dead, ... or *)")
        return events


class RegisteredWebhook(Webhook):
    secret_shown: str = Field(description="the signing secret: shown this once")


class TestSent(BaseModel):
    job_id: int = Field(description="the delivery job; GET /api/v1/jobs/{id} follows it")
    destination: str


class TargetInfo(BaseModel):
    name: str
    service: str = Field(description="the Apprise service and host, without credentials")


@router.post(
    "/webhooks",
    response_model=RegisteredWebhook,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(404),
)
async def create_webhook(
    body: NewWebhook,
    request: Request,
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(admin),
) -> RegisteredWebhook:
    """Every alert whose kind is in `events` (and, if given, whose account is in
    `accounts`) is POSTed to `url`, signed with `secret` (HMAC-SHA256 of
    `"<X-Tradedeck-Timestamp>.<body>"` in `X-Tradedeck-Signature: sha256=...`)."""
    accounts = body.accounts
    if principal.accounts is not None:
        for account in accounts or []:
            check_account(principal, account)
        accounts = sorted(accounts or principal.accounts)
    for account in accounts or []:
        engine.worker(account)  # 404 for an account that is not configured
    async with audited(request, principal, "webhook.create", body.url):
        hook, secret = await engine.notifier.add_webhook(
            body.url, body.events, body.secret, accounts, principal.name
        )
    return RegisteredWebhook(**hook.model_dump(), secret=secret, secret_shown=secret)


@router.get("/webhooks", response_model=Page[Webhook])
async def list_webhooks(
    paging: Paging = Depends(_paging),
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(admin),
) -> Page[Webhook]:
    return paging.page([h for h in engine.notifier.webhooks() if _sees(principal, h)])


@router.delete("/webhooks/{hook_id}", response_model=Webhook, responses=error_responses(404))
async def delete_webhook(
    hook_id: RowId,
    request: Request,
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(admin),
) -> Webhook:
    _visible(engine, principal, hook_id)
    async with audited(request, principal, "webhook.delete", f"webhook:{hook_id}"):
        return await engine.notifier.delete_webhook(hook_id)


@router.post(
    "/webhooks/{hook_id}/test",
    response_model=TestSent,
    status_code=status.HTTP_202_ACCEPTED,
    responses=error_responses(404),
)
async def test_webhook(
    hook_id: RowId,
    request: Request,
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(admin),
) -> TestSent:
    """A test alert (`notification_test`) through the queue, signed like any."""
    _visible(engine, principal, hook_id)
    destination = f"webhook:{hook_id}"
    async with audited(request, principal, "webhook.test", destination):
        job_id = await engine.notifier.test(destination)
    return TestSent(job_id=job_id, destination=destination)


@router.get("/notifications/targets", response_model=list[TargetInfo])
async def list_targets(
    engine: Engine = Depends(get_engine), principal: Principal = Depends(admin)
) -> list[TargetInfo]:
    return [
        TargetInfo(name=t.name, service=service_of(t.url))
        for t in engine.settings.notifications.targets
    ]


@router.post(
    "/notifications/targets/{name}/test",
    response_model=TestSent,
    status_code=status.HTTP_202_ACCEPTED,
    responses=error_responses(404),
)
async def test_target(
    name: str,
    request: Request,
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(admin),
) -> TestSent:
    if not any(t.name == name for t in engine.settings.notifications.targets):
        raise NotFound(f"No notification target {name!r} is configured.", target=name)
    destination = f"target:{name}"
    async with audited(request, principal, "notify.test", destination):
        job_id = await engine.notifier.test(destination)
    return TestSent(job_id=job_id, destination=destination)


def _sees(principal: Principal, hook: Webhook) -> bool:
    if principal.accounts is None:
        return True
    return hook.accounts is not None and set(hook.accounts) <= principal.accounts


def _visible(engine: Engine, principal: Principal, hook_id: int) -> Webhook:
    hook = engine.notifier.webhook(hook_id)
    if not _sees(principal, hook):
        raise NotFound(f"No webhook {hook_id}.", webhook_id=hook_id)
    return hook
