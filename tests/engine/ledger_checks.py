"""Ledger invariants, checked against the store itself."""

from __future__ import annotations

from decimal import Decimal

from config.models import Settings
from storage.store import Store


async def assert_ledgers_exact(store: Store, settings: Settings) -> int:
    """For every account: the stored balance and positions equal what the fills
    alone rebuild. Returns the number of fills seen."""
    total_fills = 0
    for account in settings.accounts:
        start = account.starting_balance
        loaded = await store.ledger.load(account.id, start, _epoch())
        rebuilt = await store.ledger.rebuild(account.id, start)
        fills = await store.ledger.fills(account.id, limit=1_000_000)
        total_fills += len(fills)
        profit = sum((f.profit for f in fills), Decimal(0))
        commission = sum((f.commission for f in fills), Decimal(0))
        assert loaded.balance == start + profit - commission, account.id
        assert rebuilt.balance == loaded.balance, account.id
        assert loaded.realised_pnl == profit and loaded.commission == commission, account.id
        stored = {p.ticket: (p.symbol, p.side, p.volume) for p in loaded.positions}
        from_fills = {p.ticket: (p.symbol, p.side, p.volume) for p in rebuilt.positions}
        assert stored == from_fills, account.id
        for position in rebuilt.positions:
            opened = [f for f in fills if f.position_ticket == position.ticket]
            net = sum(
                (f.volume if f.entry.value == "in" else -f.volume for f in opened), Decimal(0)
            )
            assert net == position.volume, (account.id, position.ticket)
    return total_fills


def _epoch():  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    return datetime(1970, 1, 1, tzinfo=UTC)
