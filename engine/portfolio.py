"""The portfolio read side: accounts and their total, per-strategy P&L, equity
curves over a range at a resolution, and performance over a range per account,
per strategy or over several accounts, from what the store recorded.

The metrics themselves come from the pure `engine.analytics.performance`;
this module only gathers the series (docs/metrics.md says how).
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import accumulate

from config.models import Settings
from engine.analytics.performance import Conventions, compute_performance
from engine.clock import Clock
from engine.domain import Timeframe
from engine.errors import InvalidRequest, WorkerNotFound
from engine.models import (
    AccountSnapshot,
    Bar,
    DealEntry,
    EquityPoint,
    Fill,
    PerformanceMetrics,
    PerformanceReport,
    Portfolio,
    PortfolioTotal,
    Position,
    StrategyInfo,
    StrategyPnl,
)
from storage.equity import EquityStore
from storage.ledger import LedgerStore


@dataclass(frozen=True, slots=True)
class PortfolioSources:
    """What the read side is computed from; the kernel fills it in."""

    settings: Settings
    clock: Clock
    ledger: LedgerStore
    equity: EquityStore
    accounts: Callable[[], list[AccountSnapshot]]
    positions: Callable[[], list[Position]]
    strategies: Callable[[], list[StrategyInfo]]
    strategy: Callable[[str], StrategyInfo]
    history: Callable[[str, Timeframe, int, datetime], list[Bar]]


# Closes and deals read for one request, at most: a year of hourly closes
# for fifty accounts.
MAX_POINTS = 500_000
_MAX_BENCHMARK_BARS = 10_000
_TRADING_DAYS = 252
_HUNDRED = Decimal(100)
_CENT = Decimal("0.01")


async def summary(sources: PortfolioSources, accounts: Collection[str] | None = None) -> Portfolio:
    """Every account of `accounts` (None: all) as the engine holds it now,
    their total, and each of their strategies' P&L."""
    shown = [a for a in sources.accounts() if accounts is None or a.account_id in accounts]
    return Portfolio(
        time=sources.clock.now(),
        accounts=shown,
        total=total(shown),
        strategies=await strategy_pnl(sources, accounts),
    )


async def strategy_pnl(
    sources: PortfolioSources,
    accounts: Collection[str] | None = None,
    *,
    strategy_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[StrategyPnl]:
    """Each strategy's closed trades, wins, losses and realised P&L over
    [since, until] (from its fills, Decimal-exact), with its positions open now;
    one row per account and strategy, known strategies without fills included,
    deals placed by hand as `strategy_id` None."""
    check_range(since, until)
    rows: dict[tuple[str, str | None], StrategyPnl] = {}

    def row(account_id: str, strategy: str | None) -> StrategyPnl:
        key = (account_id, strategy)
        if key not in rows:
            rows[key] = StrategyPnl(strategy_id=strategy, account_id=account_id)
        return rows[key]

    for info in sources.strategies():
        if _in_scope(info.account_id, accounts) and strategy_id in (None, info.id):
            row(info.account_id, info.id)
    fills = await sources.ledger.fills_between(
        accounts=accounts, strategy_id=strategy_id, since=since, until=until, limit=MAX_POINTS
    )
    for fill in fills:
        _add_fill(row(fill.account_id, fill.strategy_id), fill)
    for position in sources.positions():
        if _in_scope(position.account_id, accounts) and strategy_id in (None, position.strategy_id):
            target = row(position.account_id, position.strategy_id)
            target.open_positions += 1
            target.unrealised_pnl += position.profit
    return sorted(rows.values(), key=lambda r: (r.account_id, r.strategy_id is None, r.strategy_id))


async def equity_history(
    sources: PortfolioSources,
    accounts: Collection[str] | None = None,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    resolution: timedelta | None = None,
    limit: int = 1000,
) -> list[EquityPoint]:
    """The newest `limit` equity samples of `accounts` (None: all) in
    [since, until], oldest first (as a chart draws them); with a `resolution`,
    each account's closes at it (`EquityStore.query` says which points)."""
    check_range(since, until)
    points, _ = await sources.equity.query(
        accounts=accounts,
        since=since,
        until=until,
        resolution=resolution,
        descending=True,
        limit=limit,
    )
    return points[::-1]


def total(accounts: list[AccountSnapshot]) -> PortfolioTotal:
    """The accounts summed; the margin level of the sums, as MT5 computes one."""

    def add(field: str) -> Decimal:
        return sum((getattr(a, field) for a in accounts), Decimal(0))

    equity, margin = add("equity"), add("margin")
    return PortfolioTotal(
        balance=add("balance"),
        equity=equity,
        margin=margin,
        free_margin=add("free_margin"),
        margin_level=(equity / margin * _HUNDRED).quantize(_CENT) if margin else None,
        realised_pnl=add("realised_pnl"),
        unrealised_pnl=add("unrealised_pnl"),
        commission=add("commission"),
        pnl_today=add("pnl_today"),
        open_positions=sum(a.open_positions for a in accounts),
        pending_orders=sum(a.pending_orders for a in accounts),
    )


async def equity_curve(
    sources: PortfolioSources,
    accounts: Collection[str] | None,
    since: datetime | None,
    until: datetime | None,
    resolution: timedelta,
) -> list[tuple[datetime, Decimal]]:
    """Equity of `accounts` (None: all) summed, at the first sample in the range
    and each period's close. An account not sampled at a time counts with its
    latest equity before it (its first, before its first sample), so a worker
    that stops or starts later does not make the total jump."""
    points, count = await sources.equity.query(
        accounts=accounts, since=since, until=until, resolution=resolution, limit=MAX_POINTS
    )
    if count > MAX_POINTS:
        raise InvalidRequest(
            f"The range holds {count} equity closes at this resolution, more than "
            f"{MAX_POINTS}; narrow the range or choose a coarser resolution.",
            closes=count,
        )
    curves: dict[str, list[tuple[datetime, Decimal]]] = defaultdict(list)
    for point in points:
        curves[point.account_id].append((point.time, point.equity))
    stamps = [([t for t, _ in curve], curve) for curve in curves.values()]
    totals = []
    for time in sorted({t for curve in curves.values() for t, _ in curve}):
        value = Decimal(0)
        for times, curve in stamps:
            value += curve[max(bisect.bisect_right(times, time) - 1, 0)][1]
        totals.append((time, value))
    return totals


def conventions_for(resolution: timedelta) -> Conventions:
    """Periods per year for returns taken every `resolution`: 252 trading days
    of 24 hours (FX trades round the clock), so daily closes give 252."""
    per_day = timedelta(days=1) / resolution
    return Conventions(periods_per_year=round(_TRADING_DAYS * per_day), resolution=resolution)


async def performance(
    sources: PortfolioSources,
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
    balance plus its closed trades' P&L (net of commission): what it had made
    before `since`, then deal by deal."""
    until = until or sources.clock.now()
    check_range(since, until)
    fills = await sources.ledger.closing_fills(
        accounts=accounts, strategy_id=strategy_id, since=since, until=until, limit=MAX_POINTS
    )
    trades = [_net(f) for f in fills]
    curve: list[tuple[datetime, float]]
    if strategy_id is not None:
        curve = await _strategy_curve(sources, strategy_id, fills, trades, since, until)
    else:
        summed = await equity_curve(sources, accounts, since, until, resolution)
        curve = [(t, float(v)) for t, v in summed]
    bench = _benchmark(sources, benchmark, curve, resolution) if benchmark else None
    return compute_performance(
        curve, trades, benchmark=bench, conventions=conventions_for(resolution)
    )


async def report(
    sources: PortfolioSources,
    *,
    accounts: Collection[str] | None,
    strategy_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    benchmark: str | None = None,
    resolution: timedelta = timedelta(days=1),
) -> PerformanceReport:
    """`performance` with its scope, range and conventions, and each strategy's
    trades and P&L over the same range (a strategy's scope is its account)."""
    if strategy_id is not None:
        accounts = [sources.strategy(strategy_id).account_id]
    until = until or sources.clock.now()
    metrics = await performance(
        sources,
        accounts=accounts,
        strategy_id=strategy_id,
        since=since,
        until=until,
        benchmark=benchmark,
        resolution=resolution,
    )
    conventions = conventions_for(resolution)
    return PerformanceReport(
        accounts=sorted(a.id for a in sources.settings.accounts if _in_scope(a.id, accounts)),
        strategy_id=strategy_id,
        since=since,
        until=until,
        benchmark=benchmark,
        resolution=resolution,
        periods_per_year=conventions.periods_per_year,
        risk_free_rate=conventions.risk_free_rate,
        metrics=metrics,
        strategies=await strategy_pnl(
            sources, accounts, strategy_id=strategy_id, since=since, until=until
        ),
    )


def check_scope(sources: PortfolioSources, account: str | None, strategy_id: str | None) -> None:
    """WorkerNotFound for an account the configuration lacks, StrategyNotFound
    for a strategy no worker has."""
    if account is not None and sources.settings.account(account) is None:
        raise WorkerNotFound(account)
    if strategy_id is not None:
        sources.strategy(strategy_id)


def check_range(since: datetime | None, until: datetime | None) -> None:
    if since is not None and until is not None and since > until:
        raise InvalidRequest(f"The range ends ({until}) before it starts ({since}).")


async def _strategy_curve(
    sources: PortfolioSources,
    strategy_id: str,
    fills: Sequence[Fill],
    trades: Sequence[float],
    since: datetime | None,
    until: datetime,
) -> list[tuple[datetime, float]]:
    info = sources.strategy(strategy_id)
    account = sources.settings.account(info.account_id)
    base = float(account.starting_balance) if account is not None else 0.0
    if since is not None:
        earlier = await sources.ledger.closing_fills(
            strategy_id=strategy_id, until=since - timedelta(microseconds=1), limit=MAX_POINTS
        )
        base += sum(_net(f) for f in earlier)
    start = since or (fills[0].time if fills else until)
    balances = list(accumulate(trades, initial=base))[1:]
    return [(start, base), *zip((f.time for f in fills), balances, strict=True)]


def _net(fill: Fill) -> float:
    """A closing deal's P&L: its profit less its commission (paper and MT5 book
    commission as a positive cost)."""
    return float(fill.profit - fill.commission)


def _in_scope(account_id: str, accounts: Collection[str] | None) -> bool:
    return accounts is None or account_id in accounts


def _add_fill(row: StrategyPnl, fill: Fill) -> None:
    row.commission += fill.commission
    row.realised_pnl += fill.profit - fill.commission
    row.first_fill = row.first_fill or fill.time
    row.last_fill = fill.time
    if fill.entry is DealEntry.IN:
        return
    row.trades += 1
    net = fill.profit - fill.commission
    if net > 0:
        row.wins += 1
        row.gross_profit += net
    elif net < 0:
        row.losses += 1
        row.gross_loss += net


def _benchmark(
    sources: PortfolioSources,
    symbol: str,
    curve: list[tuple[datetime, float]],
    resolution: timedelta,
) -> list[tuple[datetime, float]]:
    """The symbol's bar closes (at each bar's end) over the curve's range: buying
    it and holding. No bars are recorded, so they come from the market's history,
    in the finest timeframe up to `resolution` that covers the range."""
    if symbol not in sources.settings.instruments:
        raise InvalidRequest(f"There is no instrument {symbol!r} to compare with.", symbol=symbol)
    if len(curve) < 2:
        return []
    start, end = curve[0][0], curve[-1][0]
    frames = [tf for tf in Timeframe if timedelta(seconds=tf.seconds) <= resolution] or [
        min(Timeframe, key=lambda tf: tf.seconds)
    ]
    timeframe = next(
        (
            tf
            for tf in frames
            if (end - start) / timedelta(seconds=tf.seconds) < _MAX_BENCHMARK_BARS
        ),
        frames[-1],
    )
    length = timedelta(seconds=timeframe.seconds)
    count = min(_MAX_BENCHMARK_BARS, int((end - start) / length) + 2)
    bars = sources.history(symbol, timeframe, count, end)
    return [(bar.time + length, bar.close) for bar in bars]
