"""The instruments the engine knows, with their MT5-style symbol properties.
Read only here; adding and changing them is a later issue."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from config.models import InstrumentConfig
from engine.api.deps import get_engine, viewer
from engine.api.schemas import Page, Paging, Symbol, error_responses, paging
from engine.engine import Engine
from engine.errors import NotFound
from engine.security.principal import Principal

router = APIRouter(
    prefix="/instruments", tags=["instruments"], responses=error_responses(401, 422, 429)
)

_paging = paging("symbol", "digits", "spread_points", "volatility", default="symbol")


class Instrument(InstrumentConfig):
    symbol: str


class InstrumentNotFound(NotFound):
    def __init__(self, symbol: str) -> None:
        super().__init__(f"No instrument {symbol!r} is configured.", symbol=symbol)


def instrument(engine: Engine, symbol: str) -> Instrument:
    """`symbol`'s properties; 404 when the engine does not know it."""
    config = engine.settings.instruments.get(symbol)
    if config is None:
        raise InstrumentNotFound(symbol)
    return Instrument(symbol=symbol, **config.model_dump())


@router.get("", response_model=Page[Instrument])
async def list_instruments(
    paging: Paging = Depends(_paging),
    q: str | None = Query(None, description="symbol or description contains this text"),
    engine: Engine = Depends(get_engine),
    _: Principal = Depends(viewer),
) -> Page[Instrument]:
    needle = q.lower() if q else None
    found = [
        instrument(engine, symbol)
        for symbol, config in engine.settings.instruments.items()
        if needle is None or needle in symbol.lower() or needle in config.description.lower()
    ]
    return paging.page(found)


@router.get("/{symbol}", response_model=Instrument, responses=error_responses(404))
async def get_instrument(
    symbol: Symbol, engine: Engine = Depends(get_engine), _: Principal = Depends(viewer)
) -> Instrument:
    return instrument(engine, symbol)
