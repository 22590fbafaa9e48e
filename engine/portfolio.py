"""Performance over a range, per account, per strategy or over several
accounts, from what the store recorded: equity samples and closing deals.

The metrics themselves come from the pure `engine.analytics.performance`;
this module only gathers the series (docs/metrics.md says how).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from datetime import datetime, timedelta
from itertools import accumulate
from typing import TYPE_CHECKING

from config.models import Timeframe
from engine.analytics.performance import Conventions, compute_performance
from engine.models import PerformanceMetrics

if TYPE_CHECKING:
    from engine.engine import Engine

# Equity samples read for one request, at most: a year of minute marks for a
# handful of accounts.
_MAX_POINTS = 500_000
_MAX_BENCHMARK_BARS = 10_000
_TRADING_DAYS = 252


def conventions_for(resolution: timedelta) -> Conventions:
    """Periods per year for returns taken every `resolution`: 252 trading days
    of 24 hours (FX trades round the clock), so daily closes give 252."""
    per_day = timedelta(days=1) / resolution
    return Conventions(periods_per_year=round(_TRADING_DAYS * per_day), resolution=resolution)


async def performance(
    engine: Engine,
    *,
    accounts: Collection[str] | None,
    strategy_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    benchmark: str | None = None,
    resolution: timedelta = timedelta(days=1),
) -> PerformanceMetrics:
    """Metrics of `accounts` (None: all) summed, or of one strategy, over
    [since, until], against an instrument's buy-and-hold when `benchmark` names one.

    A strategy has no equity of its own: its curve is its account's starting
    balance plus its realised P&L, deal by deal."""
    until = until or engine.clock.now()
    fills = await engine.store.ledger.closing_fills(
        accounts=accounts, strategy_id=strategy_id, since=since, until=until
    )
    trades = [float(f.profit - f.commission) for f in fills]  # commission is a cost
    if strategy_id is not None:
        account = engine.settings.account(engine.strategy(strategy_id).account_id)
        base = float(account.starting_balance) if account is not None else 0.0
        start = since or (fills[0].time if fills else until)
        balances = list(accumulate(trades, initial=base))[1:]
        curve = [(start, base), *zip((f.time for f in fills), balances, strict=True)]
    else:
        curve = await _equity_curve(engine, accounts, since, until)
    bench = _benchmark(engine, benchmark, curve) if benchmark else None
    return compute_performance(
        curve, trades, benchmark=bench, conventions=conventions_for(resolution)
    )


async def _equity_curve(
    engine: Engine, accounts: Collection[str] | None, since: datetime | None, until: datetime
) -> list[tuple[datetime, float]]:
    """Equity summed over the accounts at each sampling time (every account is
    sampled at the same marks)."""
    points, _ = await engine.store.equity.query(
        accounts=accounts, since=since, until=until, limit=_MAX_POINTS
    )
    totals: dict[datetime, float] = defaultdict(float)
    for point in points:
        totals[point.time] += float(point.equity)
    return sorted(totals.items())


def _benchmark(
    engine: Engine, symbol: str, curve: list[tuple[datetime, float]]
) -> list[tuple[datetime, float]]:
    """The symbol's minute closes over the curve's range: buying it and holding."""
    if symbol not in engine.settings.instruments:
        raise KeyError(symbol)
    if len(curve) < 2:
        return []
    start, end = curve[0][0], curve[-1][0]
    minutes = min(_MAX_BENCHMARK_BARS, int((end - start) / timedelta(minutes=1)) + 1)
    bars = engine.history(symbol, Timeframe.M1, minutes, end)
    return [(bar.time, bar.close) for bar in bars if bar.time >= start - timedelta(minutes=1)]
