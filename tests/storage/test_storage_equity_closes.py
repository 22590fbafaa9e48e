"""Equity history at a resolution: per account, the first sample in the range,
then the last sample of each UTC period, as the pure metrics resample."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from engine.analytics.performance import resample
from engine.models import EquityPoint
from storage.store import Store

T0 = datetime(2026, 1, 5, 9, 0, 30, 250_000, tzinfo=UTC)
SECOND = timedelta(seconds=1)


def point(account: str, seconds: float, equity: int) -> EquityPoint:
    return EquityPoint(
        account_id=account,
        time=T0 + seconds * SECOND,
        balance=Decimal(10_000),
        equity=Decimal(equity),
    )


@pytest.fixture
async def sampled(store: Store) -> Store:
    # Account a every 20 s for five minutes; account b every 45 s from the
    # second minute on.
    points = [point("a", 20 * i, 10_000 + i) for i in range(15)]
    points += [point("b", 60 + 45 * i, 5_000 - i) for i in range(5)]
    await store.equity.add(points)
    return store


async def test_minute_closes_per_account_match_the_pure_resample(sampled: Store) -> None:
    every, _ = await sampled.equity.query(limit=1000)
    closes, total = await sampled.equity.query(resolution=timedelta(minutes=1), limit=1000)
    assert total == len(closes)
    for account in ("a", "b"):
        raw = [(p.time, float(p.equity)) for p in every if p.account_id == account]
        mine = [(p.time, float(p.equity)) for p in closes if p.account_id == account]
        assert mine == resample(raw, timedelta(minutes=1))
    # Account a (from 09:00:30.25): its first sample, then the closes of the
    # minutes ending 09:01, 09:02 .. 09:06.
    assert [int(p.equity) for p in closes if p.account_id == "a"] == [
        10_000,
        10_001,
        10_004,
        10_007,
        10_010,
        10_013,
        10_014,
    ]


async def test_a_range_a_sort_and_pages(sampled: Store) -> None:
    since = T0 + 100 * SECOND
    closes, total = await sampled.equity.query(
        accounts=["a"], since=since, resolution=timedelta(minutes=1), limit=1000
    )
    assert closes[0].time == T0 + 100 * SECOND  # the range's first sample opens it
    assert all(p.time >= since and p.account_id == "a" for p in closes)
    newest, same_total = await sampled.equity.query(
        accounts=["a"],
        since=since,
        resolution=timedelta(minutes=1),
        descending=True,
        limit=2,
        skip=1,
    )
    assert same_total == total
    assert newest == closes[::-1][1:3]


async def test_a_resolution_is_whole_seconds(store: Store) -> None:
    with pytest.raises(ValueError, match="whole seconds"):
        await store.equity.query(resolution=timedelta(milliseconds=1500))
