"""A symbol's market: the latest quote and recent bars from the engine."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from config.models import Timeframe
from engine.api.deps import get_engine, viewer
from engine.api.routers.instruments import instrument
from engine.api.schemas import Symbol, error_responses
from engine.engine import Engine
from engine.models import Bar, Quote
from engine.security.principal import Principal

router = APIRouter(prefix="/market", tags=["market"], responses=error_responses(401, 422, 429))


class MarketView(BaseModel):
    symbol: str
    quote: Quote | None
    timeframe: Timeframe
    bars: list[Bar]


@router.get("/{symbol}", response_model=MarketView, responses=error_responses(404))
async def market(
    symbol: Symbol,
    timeframe: Timeframe = Query(Timeframe.M1),
    bars: int = Query(50, ge=0, le=500, description="closed bars before the current one"),
    engine: Engine = Depends(get_engine),
    _: Principal = Depends(viewer),
) -> MarketView:
    instrument(engine, symbol)  # 404 for a symbol the engine does not know
    return MarketView(
        symbol=symbol,
        quote=engine.quote(symbol),
        timeframe=timeframe,
        bars=engine.history(symbol, timeframe, bars, engine.clock.now()),
    )
