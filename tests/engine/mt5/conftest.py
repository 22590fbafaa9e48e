"""Fixtures for the MT5 backend: a simulated terminal in this process, the
stand-in `MetaTrader5` module first on the bridge child's path, and an
`Mt5Broker` wired to a real store, bus and alert center."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pytest

from config.loader import load_settings
from config.models import AccountConfig, InstrumentConfig
from engine.alerts import AlertCenter
from engine.brokers.base import Changes, PaperLedger
from engine.brokers.mt5.broker import Mt5Broker, Mt5Hooks, Retry
from engine.bus import EventBus
from engine.clock import RealClock
from engine.domain import BrokerKind
from engine.ids import IdSequence
from engine.models import Quote, WorkerState
from storage.store import Store
from tests.engine.mt5.fake_terminal import FakeAccount, FakeTerminal

LOGIN = 5_012_345
SERVER = "Fake-Demo"
PASSWORD = "s3cret-pass"
MAGIC = 240_101


@pytest.fixture
def instruments() -> dict[str, InstrumentConfig]:
    return dict(load_settings(None, env={}).instruments)


@pytest.fixture
def terminal(
    instruments: dict[str, InstrumentConfig], monkeypatch: pytest.MonkeyPatch
) -> Iterator[FakeTerminal]:
    clock = RealClock()
    fake = FakeTerminal(instruments, clock.now)
    fake.add_account(FakeAccount(LOGIN, PASSWORD, SERVER, Decimal(10000)))
    fake.set_price("EURUSD", "1.10000", "1.10010")
    fake.set_price("GBPUSD", "1.27000", "1.27012")
    for name, value in fake.environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TRADEDECK_MT5_PASSWORD_MT5_001", PASSWORD)
    yield fake
    fake.close()


def mt5_account(**changes: object) -> AccountConfig:
    values: dict[str, object] = {
        "id": "mt5-001",
        "broker": BrokerKind.MT5,
        "login": LOGIN,
        "server": SERVER,
        "magic": MAGIC,
        "symbols": ["EURUSD", "GBPUSD"],
        "mt5_timeout_seconds": 2.0,
        "mt5_poll_ms": 100,
    }
    values.update(changes)
    return AccountConfig.model_validate(values)


@dataclass
class Harness:
    """An `Mt5Broker` and what it told its worker."""

    broker: Mt5Broker
    alerts: AlertCenter
    changes: list[Changes] = field(default_factory=list)
    quotes: list[Quote] = field(default_factory=list)
    links: list[tuple[WorkerState, str | None]] = field(default_factory=list)
    logs: list[str] = field(default_factory=list)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(tmp_path / "mt5.db")
    yield opened
    await opened.close()


@pytest.fixture
async def make_broker(store: Store):  # type: ignore[no-untyped-def]
    """Builds connected brokers; disconnects them (and their bridges) afterwards."""
    made: list[Mt5Broker] = []

    async def make(account: AccountConfig | None = None, *, connect: bool = True) -> Harness:
        clock = RealClock()
        alerts = AlertCenter(store, EventBus(clock.now), clock)
        account = account or mt5_account()
        harness: Harness
        hooks = Mt5Hooks(
            on_changes=lambda c: harness.changes.append(c),
            on_quotes=lambda q: harness.quotes.extend(q),
            on_link=lambda state, error: harness.links.append((state, error)),
            alerts=alerts,
            log=lambda message, level: harness.logs.append(message),
        )
        broker = Mt5Broker(
            account,
            clock,
            IdSequence(),
            PaperLedger(balance=account.starting_balance),
            hooks,
            retry=Retry(order_backoff=0.01, reconnect_initial=0.05, reconnect_max=0.2),
        )
        harness = Harness(broker, alerts)
        made.append(broker)
        if connect:
            await broker.connect()
        return harness

    yield make
    for broker in made:
        await broker.disconnect()
