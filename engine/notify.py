"""One router for every alert: risk warnings and breaches, worker errors,
price alerts, dead jobs, the kill switch.

Each alert the engine raises is matched against `[notifications] rules` (by
severity, kind, account) and sent to their targets, Apprise URLs (Telegram,
Discord, Slack, email, ntfy, a JSON webhook...), and to the signed webhooks
registered over the API whose events and accounts match it. Each delivery is
a job on the durable queue (`notify.deliver`): the engine only enqueues, a
dead or slow target costs it nothing, a failure is retried with backoff and
ends in the dead-letter queue, whose `job_dead` alert shows in the alerts
pane (and goes to the other targets, never back to the one that failed). The
same alert goes to the same destination at most once per `dedup_seconds`.

A webhook delivery is a POST of `{"event", "alert", "test", "sent_at"}` with
`X-Tradedeck-Event`, `X-Tradedeck-Delivery` (the job id),
`X-Tradedeck-Timestamp` (Unix seconds) and `X-Tradedeck-Signature:
sha256=<hex>`, the HMAC-SHA256 with the webhook's secret of
`"<timestamp>.<body>"`; a receiver recomputes it and refuses an old timestamp.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import secrets
from collections import OrderedDict
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import apprise
import httpx
from pydantic import BaseModel, Field

from config.models import NotificationSettings, NotifyRule
from engine.bus import EventBus
from engine.clock import Clock
from engine.errors import NotFound, ValidationFailed
from engine.ids import IdSequence
from engine.jobs import Handler, JobContext
from engine.jobs.context import PermanentFailure
from engine.models import Alert, AlertEvent, AlertStatus, Event, JobPriority, Severity, Webhook
from engine.tasks import TaskSet
from storage.store import Store

log = logging.getLogger("tradedeck.notify")

DELIVER = "notify.deliver"
_ORDER = {s: n for n, s in enumerate(Severity)}
_APPRISE_TYPE = {
    Severity.LOW: apprise.NotifyType.INFO,
    Severity.MEDIUM: apprise.NotifyType.WARNING,
    Severity.HIGH: apprise.NotifyType.FAILURE,
    Severity.CRITICAL: apprise.NotifyType.FAILURE,
}
_ROUTED_KEPT = 10_000  # alert ids remembered as routed (an alert re-published on ack is not news)


class Delivery(BaseModel):
    destination: str = Field(pattern=r"^(target|webhook):[A-Za-z0-9_.-]{1,40}$")
    alert: dict[str, Any]
    account_id: str | None = None
    test: bool = False


class WebhookNotFound(NotFound):
    def __init__(self, hook_id: int) -> None:
        super().__init__(f"No webhook {hook_id}.", webhook_id=hook_id)


class Notifier:
    def __init__(self, settings: NotificationSettings, store: Store, bus: EventBus, clock: Clock):
        self.settings = settings
        self._store = store
        self._bus = bus
        self._clock = clock
        self._hooks: dict[int, Webhook] = {}
        self._ids = IdSequence()
        self._sent: dict[tuple[str, str], datetime] = {}
        self._routed: OrderedDict[int, None] = OrderedDict()
        self._destinations: dict[int, str] = {}  # delivery job id -> destination
        self._tasks = TaskSet("notify", logger=log)
        self._enqueue: Any = None  # JobService.enqueue, once attached
        self.handler = Handler(
            name=DELIVER,
            run=self._deliver,
            args_model=Delivery,
            priority=JobPriority.HIGH,
            max_retries=settings.max_retries,
            timeout_seconds=settings.timeout_seconds * 3,
            description="Send one alert to one notification target or webhook (the router "
            "enqueues these; retried with backoff, then the dead-letter queue).",
        )

    async def start(self, enqueue: Any) -> None:
        """Read the webhooks and start routing (`enqueue`: the job queue's)."""
        self._enqueue = enqueue
        self._hooks = {h.id: h for h in await self._store.webhooks.all()}
        self._ids = IdSequence(await self._store.webhooks.max_id())
        self._bus.add_listener(self._on_event)

    async def stop(self) -> None:
        self._bus.remove_listener(self._on_event)
        await self._tasks.stop()

    # --- routing (on the bus: cheap, never waits) ---------------------------------

    def _on_event(self, event: Event) -> None:
        if not isinstance(event, AlertEvent):
            return
        alert = event.alert
        if alert.status is not AlertStatus.TRIGGERED or alert.id is None:
            return
        if alert.id in self._routed:
            return
        self._routed[alert.id] = None
        if len(self._routed) > _ROUTED_KEPT:
            self._routed.popitem(last=False)
        for destination in self.destinations(alert):
            if self._fresh(destination, alert):
                self._tasks.spawn(self._send(destination, alert), f"enqueue {destination}")

    def destinations(self, alert: Alert) -> list[str]:
        """Where `alert` goes: the targets of the rules it matches, then the
        webhooks whose events and accounts it matches."""
        failed = None
        if alert.kind == "job_dead" and alert.data.get("handler") == DELIVER:
            # A delivery that died: tell the others, never the one that failed
            # (unknown after a restart: then tell no one, the pane shows it).
            failed = self._destinations.get(int(alert.data.get("job_id", 0)), "*")
        targets: list[str] = []
        for rule in self.settings.rules:
            if _matches(rule, alert):
                targets += [f"target:{t}" for t in rule.targets if f"target:{t}" not in targets]
        for hook in self._hooks.values():
            if ("*" in hook.events or alert.kind in hook.events) and (
                hook.accounts is None or alert.account_id in hook.accounts
            ):
                targets.append(f"webhook:{hook.id}")
        if failed is not None:
            return [] if failed == "*" else [t for t in targets if t != failed]
        return targets

    def _fresh(self, destination: str, alert: Alert) -> bool:
        """Not sent to `destination` within `dedup_seconds`."""
        key = (destination, alert.dedup_key or f"{alert.kind}:{alert.account_id}:{alert.message}")
        now = self._clock.now()
        last = self._sent.get(key)
        if last is not None and (now - last).total_seconds() < self.settings.dedup_seconds:
            return False
        self._sent[key] = now
        if len(self._sent) > _ROUTED_KEPT:  # forget what is past its interval
            horizon = self.settings.dedup_seconds
            self._sent = {
                k: t for k, t in self._sent.items() if (now - t).total_seconds() < horizon
            }
        return True

    async def _send(self, destination: str, alert: Alert, *, test: bool = False) -> int:
        job, _ = await self._enqueue(
            DELIVER,
            Delivery(
                destination=destination,
                alert=alert.model_dump(mode="json"),
                account_id=alert.account_id,
                test=test,
            ).model_dump(),
            description=f"{alert.kind} to {destination}",
        )
        self._destinations[job.id] = destination
        return int(job.id)

    # --- webhooks -----------------------------------------------------------------

    def webhooks(self) -> list[Webhook]:
        return list(self._hooks.values())

    def webhook(self, hook_id: int) -> Webhook:
        hook = self._hooks.get(hook_id)
        if hook is None:
            raise WebhookNotFound(hook_id)
        return hook

    async def add_webhook(
        self,
        url: str,
        events: list[str],
        secret: str | None,
        accounts: list[str] | None,
        created_by: str,
    ) -> tuple[Webhook, str]:
        """Register a webhook; returns it with its secret (made when not given),
        which is shown this once."""
        if not url.startswith(("http://", "https://")):
            raise ValidationFailed(
                "url: a webhook is an http:// or https:// URL.",
                [{"path": "url", "loc": ["url"], "message": "http:// or https:// only"}],
            )
        secret = secret or secrets.token_urlsafe(32)
        hook = Webhook(
            id=self._ids(),
            url=url,
            events=sorted(set(events)) or ["*"],
            accounts=None if accounts is None else sorted(set(accounts)),
            secret=secret,
            created_by=created_by,
            created_at=self._clock.now(),
        )
        await self._store.webhooks.add(hook)
        self._hooks[hook.id] = hook
        return hook, secret

    async def delete_webhook(self, hook_id: int) -> Webhook:
        hook = self.webhook(hook_id)
        await self._store.webhooks.delete(hook_id)
        del self._hooks[hook_id]
        return hook

    async def test(self, destination: str) -> int:
        """Enqueue a test delivery to `destination`; its job id."""
        if destination.startswith("webhook:"):
            self.webhook(int(destination.removeprefix("webhook:")))
        alert = test_alert(self._clock.now())
        return await self._send(destination, alert, test=True)

    # --- delivering (a job) ---------------------------------------------------------

    async def _deliver(self, ctx: JobContext, delivery: Delivery) -> dict[str, Any]:
        alert = Alert.model_validate(delivery.alert)
        kind, _, name = delivery.destination.partition(":")
        if kind == "target":
            target = next((t for t in self.settings.targets if t.name == name), None)
            if target is None:
                raise PermanentFailure(f"No notification target {name!r} is configured.")
            await send_apprise(target.url, alert, self.settings.timeout_seconds)
            return {"destination": delivery.destination, "sent": True}
        hook = self._hooks.get(int(name))
        if hook is None:
            raise PermanentFailure(f"Webhook {name} was deleted.")
        status = await post_webhook(
            hook, alert, ctx.job.id, self._clock.now(), self.settings.timeout_seconds, delivery.test
        )
        return {"destination": delivery.destination, "status": status}


def _matches(rule: NotifyRule, alert: Alert) -> bool:
    return (
        _ORDER[alert.severity] >= _ORDER[Severity(rule.min_severity)]
        and (not rule.kinds or alert.kind in rule.kinds)
        and (not rule.accounts or alert.account_id in rule.accounts)
    )


def test_alert(now: datetime) -> Alert:
    return Alert(
        id=0,
        kind="notification_test",
        severity=Severity.LOW,
        message="A test notification from tradedeck: this target works.",
        created_at=now,
    )


def title(alert: Alert) -> str:
    where = f" {alert.account_id}" if alert.account_id else ""
    return f"[tradedeck] {alert.severity.value.upper()} {alert.kind}{where}"


async def send_apprise(url: str, alert: Alert, timeout: float) -> None:
    """One Apprise notification; raises naming the service when it fails."""
    sender = apprise.Apprise()
    if not sender.add(url):
        raise PermanentFailure(f"{service_of(url)}: not a URL Apprise knows.")
    async with asyncio.timeout(timeout):
        sent = await sender.async_notify(
            body=alert.message, title=title(alert), notify_type=_APPRISE_TYPE[alert.severity]
        )
    if not sent:
        raise RuntimeError(f"{service_of(url)}: the service refused or could not be reached.")


def service_of(url: str) -> str:
    """A URL's service and host, without its credentials, for messages and logs."""
    scheme, _, rest = url.partition("://")
    host = rest.rsplit("@", 1)[-1].split("/", 1)[0].split("?", 1)[0]
    return f"{scheme}://{host}"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


async def post_webhook(
    hook: Webhook, alert: Alert, delivery: int, now: datetime, timeout: float, test: bool
) -> int:
    """POST the alert, signed; the status, or raise on anything but 2xx."""
    body = json.dumps(
        {
            "event": alert.kind,
            "alert": alert.model_dump(mode="json"),
            "test": test,
            "sent_at": now.isoformat(),
        },
        separators=(",", ":"),
    ).encode()
    stamp = str(int(now.timestamp()))
    headers: Mapping[str, str] = {
        "Content-Type": "application/json",
        "User-Agent": "tradedeck-webhooks",
        "X-Tradedeck-Event": alert.kind,
        "X-Tradedeck-Delivery": str(delivery),
        "X-Tradedeck-Timestamp": stamp,
        "X-Tradedeck-Signature": signature(hook.secret, stamp, body),
    }
    async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:
        try:
            response = await client.post(hook.url, content=body, headers=headers)
        except httpx.HTTPError as error:
            raise RuntimeError(f"webhook {hook.id}: {type(error).__name__}: {error}") from None
    if not response.is_success:
        raise RuntimeError(f"webhook {hook.id}: answered {response.status_code}")
    return response.status_code
