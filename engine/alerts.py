"""Alerts: raised by the engine, stored, streamed, acknowledged by a person.

An alert with a `dedup_key` is raised once while it stays open: a condition
that persists (a worker in error, a limit still breached) does not flood the
panel with copies.
"""

from __future__ import annotations

import asyncio
from typing import Any

from engine.bus import EventBus
from engine.clock import Clock
from engine.commit import after_commit
from engine.errors import AlertNotFound, Conflict
from engine.ids import IdSequence
from engine.models import Alert, AlertEvent, AlertStatus, Severity
from storage.store import Store


class AlertCenter:
    def __init__(self, store: Store, bus: EventBus, clock: Clock) -> None:
        self._store = store
        self._bus = bus
        self._clock = clock
        self._ids = IdSequence()
        self._alerts: dict[int, Alert] = {}  # open ones and the recent closed ones
        self._open_keys: dict[str, int] = {}

    async def load(self) -> None:
        self._ids = IdSequence(await self._store.alerts.max_id())
        for alert in reversed(await self._store.alerts.list(limit=200)):
            self._remember(alert)

    def recent(self) -> list[Alert]:
        return sorted(self._alerts.values(), key=lambda a: a.id or 0, reverse=True)

    @property
    def open_count(self) -> int:
        return sum(1 for a in self._alerts.values() if a.status is not AlertStatus.RESOLVED)

    def raise_alert(
        self,
        kind: str,
        severity: Severity,
        message: str,
        *,
        account_id: str | None = None,
        dedup_key: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> Alert | None:
        """Record and publish an alert; None when an open one has the same key."""
        if dedup_key is not None and dedup_key in self._open_keys:
            return None
        alert = Alert(
            id=self._ids(),
            kind=kind,
            severity=severity,
            message=message,
            account_id=account_id,
            dedup_key=dedup_key,
            data=data or {},
            created_at=self._clock.now(),
        )
        self._save(alert)
        return alert

    async def acknowledge(self, alert_id: int) -> Alert:
        alert = self._get(alert_id)
        if alert.status is not AlertStatus.TRIGGERED:
            raise Conflict(f"Alert {alert_id} is already {alert.status.value}.")
        alert = alert.model_copy(
            update={"status": AlertStatus.ACKNOWLEDGED, "acknowledged_at": self._clock.now()}
        )
        await self._save(alert)
        return alert

    async def resolve(self, alert_id: int) -> Alert:
        alert = self._get(alert_id)
        if alert.status is AlertStatus.RESOLVED:
            raise Conflict(f"Alert {alert_id} is already resolved.")
        alert = alert.model_copy(
            update={"status": AlertStatus.RESOLVED, "resolved_at": self._clock.now()}
        )
        await self._save(alert)
        return alert

    def resolve_key(self, dedup_key: str) -> None:
        """The condition behind an alert cleared (e.g. the worker runs again)."""
        alert_id = self._open_keys.get(dedup_key)
        if alert_id is not None:
            alert = self._alerts[alert_id].model_copy(
                update={"status": AlertStatus.RESOLVED, "resolved_at": self._clock.now()}
            )
            self._save(alert)

    def _get(self, alert_id: int) -> Alert:
        alert = self._alerts.get(alert_id)
        if alert is None:
            raise AlertNotFound(alert_id)
        return alert

    def _remember(self, alert: Alert) -> None:
        assert alert.id is not None
        self._alerts[alert.id] = alert
        if alert.dedup_key is not None:
            if alert.status is AlertStatus.RESOLVED:
                if self._open_keys.get(alert.dedup_key) == alert.id:
                    del self._open_keys[alert.dedup_key]
            else:
                self._open_keys[alert.dedup_key] = alert.id
        if len(self._alerts) > 500:
            for old in sorted(self._alerts)[:100]:
                if self._alerts[old].status is AlertStatus.RESOLVED:
                    del self._alerts[old]

    def _save(self, alert: Alert) -> asyncio.Future[None]:
        self._remember(alert)
        future = self._store.alerts.save(alert)
        after_commit(
            future, lambda: self._bus.publish(AlertEvent(time=alert.created_at, alert=alert))
        )
        return future
