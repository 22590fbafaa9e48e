"""Strategies of every account: list and inspect them; add, remove, pause and
resume them while the engine runs (stored, so a restart keeps each change).

A paused strategy keeps its positions (their SL/TP stay at the broker) but
opens and closes nothing; a removed one leaves its positions open.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request, status
from pydantic import Field

from config.models import RiskOverrides
from engine.domain import Timeframe
from engine.engine import Engine
from engine.models import StrategyInfo, StrategyState
from engine.security.principal import Principal
from engine.server.body_errors import body_fields
from engine.server.deps import audited, check_account, get_engine, trader, viewer
from engine.server.schemas import Page, Paging, error_responses, paging
from engine.server.schemas import Request as RequestBody
from engine.strategies.service import StrategyNotFound

router = APIRouter(
    prefix="/strategies", tags=["strategies"], responses=error_responses(401, 422, 429)
)

_paging = paging(
    "id", "account_id", "kind", "state", "timeframe", "signals", "last_signal_at", default="id"
)

StrategyId = Path(examples=["account-001:ma_crossover:1"])


class NewStrategy(RequestBody):
    account: str = Field(description="the account that runs it", examples=["account-001"])
    kind: str = Field(description="ma_crossover, donchian_breakout or bollinger_reversion")
    params: dict[str, Any] = Field(
        default_factory=dict, description="the kind's parameters; defaults fill the rest"
    )
    symbols: list[str] | None = Field(
        default=None, description="among the account's symbols; all of them when left out"
    )
    timeframe: Timeframe | None = Field(default=None, description="the default one when left out")
    risk: RiskOverrides | None = Field(default=None, description="overrides the account's risk")
    id: str | None = Field(default=None, description="else `<account>:<kind>:<n>`")
    paused: bool = Field(default=False, description="added paused: it opens nothing until resumed")


@router.get("", response_model=Page[StrategyInfo])
async def list_strategies(
    paging: Paging = Depends(_paging),
    account: str | None = Query(None, description="only this account's strategies"),
    kind: str | None = Query(None, description="e.g. ma_crossover"),
    state: StrategyState | None = Query(None),
    symbol: str | None = Query(None, description="only strategies trading this symbol"),
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(viewer),
) -> Page[StrategyInfo]:
    strategies = [
        s
        for s in engine.strategies()
        if principal.sees(s.account_id)
        and (account is None or s.account_id == account)
        and (kind is None or s.kind == kind)
        and (state is None or s.state is state)
        and (symbol is None or symbol in s.symbols)
    ]
    return paging.page(strategies)


@router.post(
    "",
    response_model=StrategyInfo,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(403, 404, 409),
)
async def add_strategy(
    body: NewStrategy,
    request: Request,
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(trader),
) -> StrategyInfo:
    """Add a strategy to an account; if its worker runs, it starts at once,
    warmed up on recent bars. `params` are checked against the kind's model:
    a 422 names each bad field (`body.params.fast`)."""
    check_account(principal, body.account)
    with body_fields():
        async with audited(request, principal, "strategy.add", body.account, kind=body.kind):
            return await engine.add_strategy(
                body.account,
                body.kind,
                body.params,
                body.symbols,
                body.timeframe,
                risk=body.risk,
                strategy_id=body.id,
                paused=body.paused,
            )


@router.get("/{strategy_id}", response_model=StrategyInfo, responses=error_responses(404))
async def get_strategy(
    strategy_id: str = StrategyId,
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(viewer),
) -> StrategyInfo:
    return _visible(engine, principal, strategy_id)


@router.delete("/{strategy_id}", response_model=StrategyInfo, responses=error_responses(403, 404))
async def remove_strategy(
    request: Request,
    strategy_id: str = StrategyId,
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(trader),
) -> StrategyInfo:
    """Stop and remove a strategy; its open positions stay, with their SL/TP."""
    _visible(engine, principal, strategy_id)
    async with audited(request, principal, "strategy.remove", strategy_id):
        return await engine.remove_strategy(strategy_id)


@router.put(
    "/{strategy_id}/pause", response_model=StrategyInfo, responses=error_responses(403, 404)
)
async def pause_strategy(
    request: Request,
    strategy_id: str = StrategyId,
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(trader),
) -> StrategyInfo:
    """Pause (idempotent): positions stay, nothing new opens or closes."""
    _visible(engine, principal, strategy_id)
    async with audited(request, principal, "strategy.pause", strategy_id):
        return await engine.pause_strategy(strategy_id)


@router.put(
    "/{strategy_id}/resume", response_model=StrategyInfo, responses=error_responses(403, 404)
)
async def resume_strategy(
    request: Request,
    strategy_id: str = StrategyId,
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(trader),
) -> StrategyInfo:
    """Resume (idempotent)."""
    _visible(engine, principal, strategy_id)
    async with audited(request, principal, "strategy.resume", strategy_id):
        return await engine.resume_strategy(strategy_id)


def _visible(engine: Engine, principal: Principal, strategy_id: str) -> StrategyInfo:
    """The strategy, or 404 when it does not exist or is outside the caller's accounts."""
    strategy = engine.strategy(strategy_id)
    if not principal.sees(strategy.account_id):
        raise StrategyNotFound(strategy_id)
    return strategy
