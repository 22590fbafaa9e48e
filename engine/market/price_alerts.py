"""Price alerts: raise an alert when a symbol's bid crosses a level.

Quotes are the hot path, so each symbol keeps its watched levels sorted in two
lists: those that act when the bid rises to them, and those that act when it
falls to them. A quote is compared with the nearest level on each side and
costs nothing more unless it reaches one; then only the levels it reached move.

An alert fires on a crossing. Once fired, a repeating one waits for the bid to
go back across its level (strictly), re-arms, and can fire again; a once one is
done. Every change of state is stored, so a restart resumes where it was.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from decimal import Decimal

from engine.alerts import AlertCenter
from engine.clock import Clock
from engine.errors import NotFound
from engine.ids import IdSequence
from engine.models import PriceAlert, PriceDirection, Quote, Severity
from storage.store import Store

_ABOVE = PriceDirection.ABOVE
_INF = Decimal("Infinity")

# Entries in `_Watch.rising`: (level, strict, alert id), ascending. A bid reaches
# an entry when it is above the level, or at it for an inclusive (0) entry, so the
# entries a bid reaches are always a prefix.
_INCLUSIVE_RISING, _STRICT_RISING = 0, 1
# Entries in `_Watch.falling`: (level, rank, alert id), ascending; read from the
# end. A bid reaches an entry when it is below the level, or at it for an
# inclusive (1) entry, so the entries a bid reaches are always a suffix.
_STRICT_FALLING, _INCLUSIVE_FALLING = 0, 1

_Entry = tuple[Decimal, int, int]


class PriceAlertNotFound(NotFound):
    def __init__(self, alert_id: int) -> None:
        super().__init__(f"No price alert with id {alert_id}.", price_alert_id=alert_id)


@dataclass(slots=True)
class _Watch:
    """One symbol's watched levels. `low` and `high` are the nearest levels above
    and below the price: a bid inside (high, low) reaches nothing."""

    rising: list[_Entry] = field(default_factory=list)
    falling: list[_Entry] = field(default_factory=list)
    low: Decimal = _INF
    high: Decimal = -_INF

    def bounds(self) -> None:
        self.low = self.rising[0][0] if self.rising else _INF
        self.high = self.falling[-1][0] if self.falling else -_INF


class PriceAlerts:
    def __init__(self, store: Store, alerts: AlertCenter, clock: Clock) -> None:
        self._store = store
        self._alerts = alerts
        self._clock = clock
        self._ids = IdSequence()
        self._by_id: dict[int, PriceAlert] = {}
        # By symbol; read by the engine on every quote: `watch.low <= bid` or
        # `bid <= watch.high` means `cross` has something to do.
        self.watches: dict[str, _Watch] = {}

    async def load(self) -> None:
        self._ids = IdSequence(await self._store.price_alerts.max_id())
        self._by_id = {}
        self.watches = {}
        for alert in await self._store.price_alerts.all():
            self._by_id[alert.id] = alert
            if alert.active:
                self._watch(alert)

    # --- reading ---------------------------------------------------------------------

    def list(self) -> list[PriceAlert]:
        """Every price alert, fired-once ones included, oldest first."""
        return [self._by_id[i] for i in sorted(self._by_id)]

    def get(self, alert_id: int) -> PriceAlert:
        alert = self._by_id.get(alert_id)
        if alert is None:
            raise PriceAlertNotFound(alert_id)
        return alert

    # --- changing --------------------------------------------------------------------

    async def add(
        self,
        symbol: str,
        direction: PriceDirection,
        level: Decimal,
        *,
        bid: Decimal | None,
        repeat: bool = False,
        severity: Severity = Severity.MEDIUM,
        note: str = "",
        account_id: str | None = None,
        created_by: str = "",
    ) -> PriceAlert:
        """Watch `symbol` from now. With the current `bid` already at or beyond the
        level, the alert starts disarmed: it fires only after a real crossing."""
        beyond = bid is not None and (bid >= level if direction is _ABOVE else bid <= level)
        alert = PriceAlert(
            id=self._ids(),
            symbol=symbol,
            direction=direction,
            level=level,
            repeat=repeat,
            severity=severity,
            note=note,
            account_id=account_id,
            armed=not beyond,
            created_by=created_by,
            created_at=self._clock.now(),
        )
        await self._store.price_alerts.save([alert])
        self._by_id[alert.id] = alert
        self._watch(alert)
        return alert

    async def delete(self, alert_id: int) -> PriceAlert:
        alert = self.get(alert_id)
        self._unwatch(alert)
        del self._by_id[alert_id]
        await self._store.price_alerts.delete(alert_id)
        return alert

    def symbols(self) -> set[str]:
        """The symbols any price alert names (fired-once ones included)."""
        return {a.symbol for a in self._by_id.values()}

    # --- the quote path ----------------------------------------------------------------

    def cross(self, watch: _Watch, quote: Quote) -> None:
        """Act on every level `quote` reached. The engine calls this only when the
        bid is at or beyond `watch.low` or `watch.high`."""
        bid = quote.bid
        rising, falling = watch.rising, watch.falling
        reached = 0
        for level, strict, _ in rising:
            if level < bid or (level == bid and strict == _INCLUSIVE_RISING):
                reached += 1
            else:
                break
        up = rising[:reached]
        del rising[:reached]
        start = len(falling)
        while start and (
            falling[start - 1][0] > bid
            or (falling[start - 1][0] == bid and falling[start - 1][1] == _INCLUSIVE_FALLING)
        ):
            start -= 1
        down = falling[start:]
        del falling[start:]
        changed = [self._reached(alert_id, quote) for *_, alert_id in (*up, *down)]
        watch.bounds()
        if changed:
            self._store.price_alerts.save(changed)

    # --- internals -------------------------------------------------------------------

    def _reached(self, alert_id: int, quote: Quote) -> PriceAlert:
        """The bid reached one of the alert's levels: fire an armed alert (and
        watch for its re-arming if it repeats), or re-arm a disarmed one."""
        alert = self._by_id[alert_id]
        if not alert.armed:
            alert = alert.model_copy(update={"armed": True})
        else:
            now = self._clock.now()
            alert = alert.model_copy(
                update={
                    "armed": False,
                    "active": alert.repeat,
                    "triggered_count": alert.triggered_count + 1,
                    "last_triggered_at": now,
                    "last_price": quote.bid,
                }
            )
            self._fire(alert)
        self._by_id[alert_id] = alert
        if alert.active:
            self._watch(alert)
        return alert

    def _fire(self, alert: PriceAlert) -> None:
        verb = "rose to" if alert.direction is _ABOVE else "fell to"
        note = f": {alert.note}" if alert.note else ""
        self._alerts.raise_alert(
            "price_alert",
            alert.severity,
            f"{alert.symbol} bid {verb} {alert.last_price}, crossing {alert.direction.value} "
            f"{alert.level}{note}",
            account_id=alert.account_id,
            data={
                "price_alert_id": alert.id,
                "symbol": alert.symbol,
                "direction": alert.direction.value,
                "level": str(alert.level),
                "price": str(alert.last_price),
                "repeat": alert.repeat,
                "triggered_count": alert.triggered_count,
            },
        )

    def _watch(self, alert: PriceAlert) -> None:
        """Put the alert's next level in its symbol's lists: where it fires when
        armed, where it re-arms when not."""
        watch = self.watches.setdefault(alert.symbol, _Watch())
        rises = (alert.direction is _ABOVE) == alert.armed
        if rises:
            rank = _INCLUSIVE_RISING if alert.armed else _STRICT_RISING
            bisect.insort(watch.rising, (alert.level, rank, alert.id))
        else:
            rank = _INCLUSIVE_FALLING if alert.armed else _STRICT_FALLING
            bisect.insort(watch.falling, (alert.level, rank, alert.id))
        watch.bounds()

    def _unwatch(self, alert: PriceAlert) -> None:
        watch = self.watches.get(alert.symbol)
        if watch is None:
            return
        watch.rising = [e for e in watch.rising if e[2] != alert.id]
        watch.falling = [e for e in watch.falling if e[2] != alert.id]
        watch.bounds()
        if not watch.rising and not watch.falling:
            del self.watches[alert.symbol]
