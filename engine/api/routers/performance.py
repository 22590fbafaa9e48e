"""Performance over any range: per account, per strategy, or over the caller's
accounts together, optionally against an instrument's buy-and-hold.
Conventions (periods per year, risk-free rate, sample deviation): docs/metrics.md."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from fastapi import APIRouter, Depends, Query
from fastapi.exceptions import RequestValidationError

from engine import portfolio
from engine.api.deps import account_scope, check_account, get_engine, viewer
from engine.api.schemas import error_responses, utc
from engine.engine import Engine
from engine.errors import NotFound
from engine.models import PerformanceMetrics
from engine.security.principal import Principal

router = APIRouter(
    prefix="/performance", tags=["performance"], responses=error_responses(401, 404, 422, 429)
)

Resolution = Literal["1m", "5m", "15m", "1h", "1d"]
_RESOLUTIONS: dict[str, timedelta] = {
    "1m": timedelta(minutes=1),
    "5m": timedelta(minutes=5),
    "15m": timedelta(minutes=15),
    "1h": timedelta(hours=1),
    "1d": timedelta(days=1),
}


@router.get("", response_model=PerformanceMetrics)
async def summary(
    account: str | None = Query(
        None, description="this account; the caller's accounts together by default"
    ),
    strategy: str | None = Query(None, description="this strategy's closed trades"),
    from_: datetime | None = Query(None, alias="from"),
    to: datetime | None = Query(None),
    benchmark: str | None = Query(
        None, description="an instrument, bought and held over the range"
    ),
    resolution: Resolution = Query("1d", description="returns between closes this far apart"),
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(viewer),
) -> PerformanceMetrics:
    """Return, volatility, Sharpe, Sortino, max drawdown and its duration,
    Calmar, win rate, profit factor, average win/loss, expectancy, trades."""
    since, until = utc(from_, "from"), utc(to, "to")
    if since is not None and until is not None and since > until:
        raise RequestValidationError(
            [{"loc": ("query", "to"), "msg": "`to` is before `from`", "type": "value_error"}]
        )
    if account is not None:
        check_account(principal, account)
        if engine.settings.account(account) is None:
            raise NotFound(f"There is no account {account}.")
    if strategy is not None:
        owner = engine.strategy(strategy).account_id  # StrategyNotFound: 404
        if not principal.sees(owner):
            raise NotFound(f"There is no strategy {strategy}.")
    if benchmark is not None and benchmark not in engine.settings.instruments:
        raise RequestValidationError(
            [
                {
                    "loc": ("query", "benchmark"),
                    "msg": f"unknown symbol {benchmark!r}",
                    "type": "value_error",
                }
            ]
        )
    return await portfolio.performance(
        engine,
        accounts=account_scope(principal, account),
        strategy_id=strategy,
        since=since,
        until=until,
        benchmark=benchmark,
        resolution=_RESOLUTIONS[resolution],
    )


@router.get("/metrics", response_model=PerformanceMetrics)
async def metrics(
    account: str | None = Query(None),
    strategy: str | None = Query(None),
    from_: datetime | None = Query(None, alias="from"),
    to: datetime | None = Query(None),
    benchmark: str | None = Query(None),
    resolution: Resolution = Query("1d"),
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(viewer),
) -> PerformanceMetrics:
    """The same metrics as `GET /performance`, under the name SPEC 6 lists."""
    return await summary(account, strategy, from_, to, benchmark, resolution, engine, principal)
