"""`daily_report`: each account's and the total performance for one UTC day,
from the stored equity history and closing deals, stored (one row per day
and account, replaced by a new run: idempotent) and exported by
`/analytics/export` as CSV or JSON."""

from __future__ import annotations

import bisect
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict

from engine.analytics.performance import compute_performance
from engine.jobs.context import JobContext
from engine.jobs.metrics import INTRADAY, metrics_dict
from engine.jobs.registry import Handler
from engine.models import DailyReport

TOTAL = "total"


class ReportArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    day: date | None = None  # default: today (UTC, on the engine clock)


async def daily_report(ctx: JobContext, args: ReportArgs) -> dict[str, Any]:
    services = ctx.services
    now = ctx.clock.now()
    day = args.day or now.date()
    start = datetime.combine(day, time.min, tzinfo=UTC)
    end = start + timedelta(days=1)
    curves: dict[str, list[tuple[datetime, Decimal]]] = {}
    reports: list[DailyReport] = []
    all_trades: list[float] = []
    for account in services.settings.accounts:
        curve = await _curve(ctx, account.id, start, end)
        if not curve:
            continue
        trades = await services.store.reports.closing_deals(account.id, start, end)
        curves[account.id] = curve
        all_trades.extend(trades)
        reports.append(_report(day, account.id, curve, trades, now))
    if curves:
        reports.append(_report(day, TOTAL, _total(curves), all_trades, now))
    await services.store.reports.save(reports)
    return {
        "day": day.isoformat(),
        "reports": [r.model_dump(mode="json", exclude={"created_at"}) for r in reports],
    }


async def _curve(
    ctx: JobContext, account_id: str, start: datetime, end: datetime
) -> list[tuple[datetime, Decimal]]:
    """The day's equity, opening with the last sample before it (the previous close)."""
    equity = ctx.services.store.equity
    before = await equity.history(account_id, until=start - timedelta(microseconds=1), limit=1)
    during = await equity.history(
        account_id, since=start, until=end - timedelta(microseconds=1), limit=1_000_000
    )
    return [(p.time, p.equity) for p in (*before, *during)]


def _total(curves: dict[str, list[tuple[datetime, Decimal]]]) -> list[tuple[datetime, Decimal]]:
    """All accounts' equity summed at every sample time (each at its latest value)."""
    times = sorted({t for curve in curves.values() for t, _ in curve})
    keys = [([t for t, _ in curve], curve) for curve in curves.values()]
    total = []
    for when in times:
        value = Decimal(0)
        for stamps, curve in keys:
            # Before an account's first sample, its first value stands in.
            value += curve[max(bisect.bisect_right(stamps, when) - 1, 0)][1]
        total.append((when, value))
    return total


def _report(
    day: date,
    account_id: str,
    curve: list[tuple[datetime, Decimal]],
    trades: list[float],
    now: datetime,
) -> DailyReport:
    metrics = compute_performance([(t, float(v)) for t, v in curve], trades, conventions=INTRADAY)
    first, last = curve[0][1], curve[-1][1]
    return DailyReport(
        day=day,
        account_id=account_id,
        start_equity=first,
        end_equity=last,
        pnl=last - first,
        trades=len(trades),
        metrics=metrics_dict(metrics),
        created_at=now,
    )


HANDLER = Handler(
    name="daily_report",
    run=daily_report,
    args_model=ReportArgs,
    timeout_seconds=300,
    description=(
        "Performance of each account and in total for one UTC day (default today): return, "
        "drawdown, Sharpe, trades... Stored per day and account; a new run replaces it."
    ),
)
