"""Performance over any range: per account, per strategy, or over the caller's
accounts together, optionally against an instrument's buy-and-hold.
Conventions (periods per year, risk-free rate, sample deviation): docs/metrics.md."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NoReturn

from fastapi import APIRouter, Depends, Query
from fastapi.exceptions import RequestValidationError

from engine import portfolio as book
from engine.engine import Engine
from engine.errors import NotFound
from engine.models import RESOLUTIONS, PerformanceMetrics, PerformanceReport, Resolution
from engine.security.principal import Principal
from engine.server.deps import account_scope, check_account, get_engine, viewer
from engine.server.schemas import error_responses, utc

router = APIRouter(
    prefix="/performance", tags=["performance"], responses=error_responses(401, 404, 422, 429)
)


@dataclass(frozen=True, slots=True)
class Scope:
    """A validated query: whose equity and trades, over which range, against what."""

    accounts: Collection[str] | None
    strategy: str | None
    since: datetime | None
    until: datetime | None
    benchmark: str | None
    resolution: timedelta


def _scope(
    account: str | None = Query(
        None, description="this account; the caller's accounts together by default"
    ),
    strategy: str | None = Query(None, description="this strategy's closed trades"),
    from_: datetime | None = Query(None, alias="from", description="at or after this time"),
    to: datetime | None = Query(None, description="at or before this time; now by default"),
    benchmark: str | None = Query(
        None, description="an instrument, bought and held over the range"
    ),
    resolution: Resolution = Query("1d", description="returns between closes this far apart"),
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(viewer),
) -> Scope:
    since, until = utc(from_, "from"), utc(to, "to")
    if since is not None and until is not None and since > until:
        _invalid("to", "`to` is before `from`")
    if benchmark is not None and benchmark not in engine.settings.instruments:
        _invalid("benchmark", f"unknown symbol {benchmark!r}")
    if account is not None:
        check_account(principal, account)
    book.check_scope(
        engine.portfolio_sources, account, strategy
    )  # unknown account or strategy: 404
    if strategy is not None and not principal.sees(engine.strategy(strategy).account_id):
        raise NotFound(f"There is no strategy {strategy}.")
    return Scope(
        accounts=account_scope(principal, account),
        strategy=strategy,
        since=since,
        until=until,
        benchmark=benchmark,
        resolution=RESOLUTIONS[resolution],
    )


@router.get("", response_model=PerformanceMetrics)
async def summary(
    scope: Scope = Depends(_scope), engine: Engine = Depends(get_engine)
) -> PerformanceMetrics:
    """Return, volatility, Sharpe, Sortino, max drawdown and its duration,
    Calmar, win rate, profit factor, average win/loss, expectancy, trades, and
    the benchmark's return, the excess over it, beta and alpha."""
    return await book.performance(
        engine.portfolio_sources,
        accounts=scope.accounts,
        strategy_id=scope.strategy,
        since=scope.since,
        until=scope.until,
        benchmark=scope.benchmark,
        resolution=scope.resolution,
    )


@router.get("/metrics", response_model=PerformanceReport)
async def metrics(
    scope: Scope = Depends(_scope), engine: Engine = Depends(get_engine)
) -> PerformanceReport:
    """The same metrics with what they were computed over (accounts, range,
    resolution, periods per year, risk-free rate) and each strategy's trades,
    wins, losses and P&L in that scope and range."""
    return await book.report(
        engine.portfolio_sources,
        accounts=scope.accounts,
        strategy_id=scope.strategy,
        since=scope.since,
        until=scope.until,
        benchmark=scope.benchmark,
        resolution=scope.resolution,
    )


def _invalid(name: str, message: str) -> NoReturn:
    raise RequestValidationError([{"loc": ("query", name), "msg": message, "type": "value_error"}])
