"""Strategies of every account, as they run (or would run): read only here;
adding, removing, pausing and resuming them is a later issue."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Query

from engine.api.deps import get_engine, viewer
from engine.api.schemas import Page, Paging, error_responses, paging
from engine.engine import Engine
from engine.errors import NotFound
from engine.models import StrategyInfo, StrategyState
from engine.security.principal import Principal

router = APIRouter(
    prefix="/strategies", tags=["strategies"], responses=error_responses(401, 422, 429)
)

_paging = paging(
    "id", "account_id", "kind", "state", "timeframe", "signals", "last_signal_at", default="id"
)


class StrategyNotFound(NotFound):
    def __init__(self, strategy_id: str) -> None:
        super().__init__(f"No strategy with id {strategy_id!r}.", strategy_id=strategy_id)


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


@router.get("/{strategy_id}", response_model=StrategyInfo, responses=error_responses(404))
async def get_strategy(
    strategy_id: str = Path(examples=["account-001:ma_crossover:1"]),
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(viewer),
) -> StrategyInfo:
    for strategy in engine.strategies():
        if strategy.id == strategy_id and principal.sees(strategy.account_id):
            return strategy
    raise StrategyNotFound(strategy_id)
