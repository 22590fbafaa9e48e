"""Analytics from the stored daily reports (the `daily_report` job): a
dashboard, trends of one metric over days, and an export as JSON or CSV
chosen by the `Accept` header."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field

from engine.engine import Engine
from engine.models import AccountSnapshot, DailyReport, JobState, JobStats, SystemStatus
from engine.security.principal import Principal
from engine.server.deps import get_engine, viewer
from engine.server.routers.system import scoped_status
from engine.server.schemas import error_responses

router = APIRouter(
    prefix="/analytics", tags=["analytics"], responses=error_responses(401, 422, 429)
)

Metric = Literal[
    "pnl",
    "end_equity",
    "trades",
    "total_return",
    "volatility",
    "sharpe",
    "sortino",
    "max_drawdown",
    "calmar",
    "win_rate",
    "profit_factor",
    "expectancy",
    # Of the jobs (the task queue's words), one series named "jobs":
    "completion_rate",
    "avg_duration",
    "error_rate",
]
_JOB_METRICS = ("completion_rate", "avg_duration", "error_rate")
_COLUMNS = ("day", "account_id", "start_equity", "end_equity", "pnl", "trades")


class TaskFigures(BaseModel):
    """The task queue's figures, over the jobs the caller sees (the dashboard's
    and the task queue's `/ws/metrics`)."""

    total_tasks: int = Field(description="jobs stored, in every state")
    completed_tasks: int
    failed_tasks: int = Field(description="in the dead-letter queue")
    pending_tasks: int = Field(description="still to run (waiting, scheduled or to retry)")
    completion_rate: float = Field(description="completed / total, 0..1")
    average_duration: float | None = Field(description="seconds a completed job ran, on average")
    workers_active: int = Field(description="trading workers running")
    workers_total: int


class Dashboard(TaskFigures):
    time: datetime
    status: SystemStatus
    accounts: list[AccountSnapshot]
    day: date | None  # the latest reported day
    reports: list[DailyReport]
    jobs: JobStats


class TrendPoint(BaseModel):
    day: date
    value: float | None


class Trends(BaseModel):
    metric: Metric
    days: int
    series: dict[str, list[TrendPoint]]


@router.get("/dashboard", response_model=Dashboard)
async def dashboard(
    engine: Engine = Depends(get_engine), principal: Principal = Depends(viewer)
) -> Dashboard:
    """The accounts now, the latest day's reports, and the job queue."""
    reports = await _reports(engine, principal, days=7, account=None)
    latest = max((r.day for r in reports), default=None)
    system = _status(engine, principal)
    jobs = await engine.jobs.stats(principal.accounts)
    return Dashboard(
        time=engine.clock.now(),
        status=system,
        accounts=[a for a in engine.snapshot().accounts if principal.sees(a.account_id)],
        day=latest,
        reports=[r for r in reports if r.day == latest],
        jobs=jobs,
        **(await task_figures(engine, principal, jobs, system)).model_dump(),
    )


def _status(engine: Engine, principal: Principal) -> SystemStatus:
    if principal.accounts is None:
        return engine.status()
    return scoped_status(engine, engine.status(), principal.accounts)


async def task_figures(
    engine: Engine,
    principal: Principal,
    jobs: JobStats | None = None,
    system: SystemStatus | None = None,
) -> TaskFigures:
    jobs = jobs or await engine.jobs.stats(principal.accounts)
    system = system or _status(engine, principal)
    total = sum(jobs.states.values())
    completed = jobs.states[JobState.COMPLETED]
    return TaskFigures(
        total_tasks=total,
        completed_tasks=completed,
        failed_tasks=jobs.dead,
        pending_tasks=sum(jobs.queued.values()),
        completion_rate=round(completed / total, 4) if total else 0.0,
        average_duration=_rounded(await engine.jobs.mean_duration(principal.accounts)),
        workers_active=system.workers_running,
        workers_total=system.workers_total,
    )


@router.get("/trends", response_model=Trends)
async def trends(
    days: int = Query(30, ge=1, le=3660),
    metric: Metric = Query("pnl"),
    account: str | None = Query(None, description="one account, or 'total'"),
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(viewer),
) -> Trends:
    """One metric per day and account over the last `days` days; a job metric
    (`completion_rate`, `avg_duration`, `error_rate`) is one series, `jobs`,
    over the jobs the caller sees that ended each day."""
    if metric in _JOB_METRICS:
        return Trends(
            metric=metric,
            days=days,
            series={"jobs": await _job_trend(engine, principal, days, metric)},
        )
    series: dict[str, list[TrendPoint]] = {}
    for report in await _reports(engine, principal, days=days, account=account):
        series.setdefault(report.account_id, []).append(
            TrendPoint(day=report.day, value=_value(report, metric))
        )
    return Trends(metric=metric, days=days, series=series)


@router.get(
    "/export",
    responses={
        200: {
            "content": {"application/json": {}, "text/csv": {}},
            "description": "the daily reports, as JSON or (Accept: text/csv) CSV",
        }
    },
)
async def export(
    request: Request,
    days: int = Query(30, ge=1, le=3660),
    account: str | None = Query(None),
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(viewer),
) -> Response:
    reports = await _reports(engine, principal, days=days, account=account)
    if "text/csv" in request.headers.get("accept", ""):
        return Response(
            _csv(reports),
            media_type="text/csv",
            headers={"Content-Disposition": 'attachment; filename="daily_reports.csv"'},
        )
    body = "[" + ",".join(r.model_dump_json() for r in reports) + "]"
    return Response(body, media_type="application/json")


async def _reports(
    engine: Engine, principal: Principal, *, days: int, account: str | None
) -> list[DailyReport]:
    since = engine.clock.now().date() - timedelta(days=days - 1)
    reports = await engine.store.reports.list(
        since=since, accounts=None if account is None else [account]
    )
    # The total mixes every account: not for a key limited to some of them.
    return [r for r in reports if principal.accounts is None or r.account_id in principal.accounts]


async def _job_trend(
    engine: Engine, principal: Principal, days: int, metric: str
) -> list[TrendPoint]:
    points = []
    for day in await engine.jobs.days(days, principal.accounts):
        if metric == "avg_duration":
            value = _rounded(day.mean_duration_seconds)
        else:
            part = day.completed if metric == "completion_rate" else day.failed
            value = round(part / day.ended, 4) if day.ended else None
        points.append(TrendPoint(day=day.day, value=value))
    return points


def _rounded(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 3)


def _value(report: DailyReport, metric: str) -> float | None:
    if metric in ("pnl", "end_equity", "trades"):
        return float(getattr(report, metric))
    value = report.metrics.get(metric)
    return float(value) if isinstance(value, int | float) else None


def _csv(reports: list[DailyReport]) -> str:
    metrics = sorted({k for r in reports for k in r.metrics})
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*_COLUMNS, *metrics])
    for r in reports:
        writer.writerow(
            [
                r.day.isoformat(),
                r.account_id,
                r.start_equity,
                r.end_equity,
                r.pnl,
                r.trades,
                *(_cell(r.metrics.get(m)) for m in metrics),
            ]
        )
    return out.getvalue()


def _cell(value: Any) -> Any:
    return "" if value is None else str(value) if isinstance(value, Decimal) else value
