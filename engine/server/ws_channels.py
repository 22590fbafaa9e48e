"""The stream's channels: a registry where adding one is one `register` call.

A channel is a name, the snapshot a subscription starts with, and three traits:
whether its events are conflated to the latest per symbol (`ticker`), whether
its events without an account are hidden from account-scoped keys, and how
an event that sums over every account is narrowed to the subscriber's
accounts (`system`: equity and P&L totals).
Events reach a channel through `engine.models.EVENT_CHANNELS` (event kind ->
channel name).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from engine.engine import Engine
from engine.models import EVENT_CHANNELS, Event, SystemEvent
from engine.portfolio import total as portfolio_total
from engine.server.routers.system import scoped_status

_RECENT = 100  # rows in the snapshot of a stored history (fills, signals, logs)


@dataclass(frozen=True, slots=True)
class View:
    """What one subscriber may and wants to see: account and symbol filters,
    each None for everything. `require_account` hides events that carry no
    account (system-wide alerts and log lines) from account-scoped keys."""

    accounts: frozenset[str] | None = None
    symbols: frozenset[str] | None = None
    require_account: bool = False

    def matches(self, account: str | None, symbol: str | None) -> bool:
        if account is None:
            if self.require_account:
                return False
        elif self.accounts is not None and account not in self.accounts:
            return False
        return symbol is None or self.symbols is None or symbol in self.symbols

    def keep(self, items: Iterable[Any]) -> list[Any]:
        """The items (models with `account_id` and maybe `symbol`) this view shows."""
        return [
            item
            for item in items
            if self.matches(getattr(item, "account_id", None), getattr(item, "symbol", None))
        ]

    def only_account(self) -> str | None:
        """The single account to ask storage for, when the view names exactly one."""
        if self.accounts is not None and len(self.accounts) == 1:
            return next(iter(self.accounts))
        return None


SnapshotBuilder = Callable[[Engine, View], Awaitable[dict[str, Any]]]
# The event as a subscriber limited to these accounts may see it.
Rescope = Callable[[Engine, Event, frozenset[str]], Event]


@dataclass(frozen=True, slots=True)
class Channel:
    name: str
    snapshot: SnapshotBuilder
    conflate: bool = False
    account_bound: bool = False
    rescope: Rescope | None = None


class ChannelRegistry:
    def __init__(self) -> None:
        self._channels: dict[str, Channel] = {}
        # The channels that narrow their events per subscriber, and those
        # conflated per symbol (both looked up per event).
        self.rescopes: dict[str, Rescope] = {}
        self.conflated: set[str] = set()

    def register(self, channel: Channel) -> Channel:
        if channel.name in self._channels:
            raise ValueError(f"channel {channel.name!r} is already registered")
        self._channels[channel.name] = channel
        if channel.rescope is not None:
            self.rescopes[channel.name] = channel.rescope
        if channel.conflate:
            self.conflated.add(channel.name)
        return channel

    def get(self, name: str) -> Channel | None:
        return self._channels.get(name)

    @property
    def names(self) -> list[str]:
        return list(self._channels)


def event_channel(event: Event) -> str | None:
    return EVENT_CHANNELS.get(event.kind)


_PAYLOAD_FIELD: dict[type, str | None] = {}


def event_keys(event: Event) -> tuple[str | None, str | None]:
    """(account_id, symbol) of the model an event carries, None where it has none."""
    cls = type(event)
    try:
        name = _PAYLOAD_FIELD[cls]
    except KeyError:
        name = next((f for f in cls.model_fields if f not in ("time", "kind")), None)
        _PAYLOAD_FIELD[cls] = name
    payload = getattr(event, name, None) if name else None
    return getattr(payload, "account_id", None), getattr(payload, "symbol", None)


# --- the built-in channels ------------------------------------------------------


async def _system(engine: Engine, view: View) -> dict[str, Any]:
    status = engine.status()
    if view.accounts is not None:
        status = scoped_status(engine, status, view.accounts)
    return {"status": status}


def _system_rescope(engine: Engine, event: Event, accounts: frozenset[str]) -> Event:
    if not isinstance(event, SystemEvent):
        return event  # a resync notice carries no totals
    return event.model_copy(update={"status": scoped_status(engine, event.status, accounts)})


async def _workers(engine: Engine, view: View) -> dict[str, Any]:
    return {"workers": view.keep(engine.workers())}


async def _orders(engine: Engine, view: View) -> dict[str, Any]:
    return {"orders": view.keep(engine.snapshot().orders)}


async def _positions(engine: Engine, view: View) -> dict[str, Any]:
    return {"positions": view.keep(engine.snapshot().positions)}


async def _portfolio(engine: Engine, view: View) -> dict[str, Any]:
    """The subscriber's accounts and their total (events then bring each
    account's snapshot as it is marked)."""
    accounts = view.keep(engine.snapshot().accounts)
    return {"accounts": accounts, "total": portfolio_total(accounts)}


async def _alerts(engine: Engine, view: View) -> dict[str, Any]:
    return {"alerts": view.keep(engine.alerts.recent())}


async def _ticker(engine: Engine, view: View) -> dict[str, Any]:
    return {"quotes": view.keep(engine.snapshot().quotes)}


async def _fills(engine: Engine, view: View) -> dict[str, Any]:
    rows = await engine.store.ledger.fills(view.only_account(), limit=_RECENT)
    return {"fills": view.keep(rows)}


async def _signals(engine: Engine, view: View) -> dict[str, Any]:
    rows = await engine.store.signals.recent(account_id=view.only_account(), limit=_RECENT)
    return {"signals": view.keep(rows)}


async def _logs(engine: Engine, view: View) -> dict[str, Any]:
    rows = await engine.store.events.recent(account_id=view.only_account(), limit=_RECENT)
    return {"records": view.keep(rows)}


CHANNELS = ChannelRegistry()
CHANNELS.register(Channel("system", _system, rescope=_system_rescope))
CHANNELS.register(Channel("workers", _workers))
CHANNELS.register(Channel("orders", _orders))
CHANNELS.register(Channel("fills", _fills))
CHANNELS.register(Channel("positions", _positions))
CHANNELS.register(Channel("portfolio", _portfolio))
CHANNELS.register(Channel("alerts", _alerts, account_bound=True))
CHANNELS.register(Channel("ticker", _ticker, conflate=True))


async def _trades(engine: Engine, view: View) -> dict[str, Any]:
    """The market's prints start from now: the latest quote of each symbol."""
    symbols = (
        sorted(view.symbols) if view.symbols is not None else list(engine.settings.instruments)
    )
    return {"quotes": [q for q in (engine.quote(s) for s in symbols) if q is not None]}


CHANNELS.register(Channel("trades", _trades))
CHANNELS.register(Channel("signals", _signals))
CHANNELS.register(Channel("logs", _logs, account_bound=True))


async def _jobs(engine: Engine, view: View) -> dict[str, Any]:
    """The jobs pane: queue counts, running jobs with progress, recent
    completions and failures, schedules (system-wide: not for scoped keys)."""
    everything = not view.require_account and view.accounts is None
    return {
        "stats": await engine.jobs.stats() if everything else None,
        "running": view.keep(engine.jobs.running()),
        "recent": view.keep(await engine.jobs.recent(_RECENT)),
        "schedules": engine.jobs.schedules.list() if everything else [],
    }


CHANNELS.register(Channel("jobs", _jobs, account_bound=True))
