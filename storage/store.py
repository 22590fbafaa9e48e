"""The store the engine holds: one database and a repository per concept."""

from __future__ import annotations

from pathlib import Path

from config.models import StorageSettings
from storage.accounts import AccountStateStore
from storage.alerts import AlertStore
from storage.catalog import CatalogStore
from storage.db import Database
from storage.equity import EquityStore
from storage.events import EventLogStore
from storage.instruments import InstrumentStore
from storage.jobs import JobStore
from storage.ledger import LedgerStore
from storage.market import MarketStateStore
from storage.meta import MetaStore
from storage.param_sets import ParamSetStore
from storage.price_alerts import PriceAlertStore
from storage.reports import ReportStore
from storage.retention import RetentionStore
from storage.risk import RiskStore
from storage.schedules import ScheduleStore
from storage.security import SecurityStore
from storage.signals import SignalStore
from storage.strategies import StrategyStore
from storage.trades import TradeStore
from storage.webhooks import WebhookStore


class Store:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.ledger = LedgerStore(db)
        self.accounts = AccountStateStore(db)
        self.equity = EquityStore(db)
        self.signals = SignalStore(db)
        self.alerts = AlertStore(db)
        self.events = EventLogStore(db)
        self.market = MarketStateStore(db)
        self.meta = MetaStore(db)
        self.security = SecurityStore(db)
        self.jobs = JobStore(db)
        self.schedules = ScheduleStore(db)
        self.param_sets = ParamSetStore(db)
        self.reports = ReportStore(db)
        self.retention = RetentionStore(db)
        self.strategies = StrategyStore(db)
        self.price_alerts = PriceAlertStore(db)
        self.instruments = InstrumentStore(db)
        self.trades = TradeStore(db)
        self.risk = RiskStore(db)
        self.catalog = CatalogStore(db)
        self.webhooks = WebhookStore(db)

    @classmethod
    async def open(cls, path: Path, settings: StorageSettings | None = None) -> Store:
        """Open the database at `path` (settings.path is resolved by the caller)."""
        settings = settings or StorageSettings()
        db = await Database.open(
            path, synchronous=settings.synchronous, batch_max=settings.batch_max
        )
        return cls(db)

    async def close(self) -> None:
        """Commit everything submitted, then close the file."""
        await self.db.close()
