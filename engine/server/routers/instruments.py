"""The instruments the engine knows, with their MT5-style symbol properties: list
and inspect them; add, change and delete them (admin).

Edits are stored and applied over the configuration file at every start. They
apply at once to orders and the brokers; the simulated market follows its
parameters (start price, spread, volatility, ticks) from the next start.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request, status

from config.models import InstrumentConfig
from engine.engine import Engine
from engine.market.instruments import InstrumentNotFound
from engine.security.principal import Principal
from engine.server.body_errors import body_fields
from engine.server.deps import admin, audited, get_engine, require_all_accounts, viewer
from engine.server.schemas import Page, Paging, Symbol, error_responses, paging

router = APIRouter(
    prefix="/instruments", tags=["instruments"], responses=error_responses(401, 422, 429)
)

_paging = paging("symbol", "digits", "spread_points", "volatility", default="symbol")


class Instrument(InstrumentConfig):
    symbol: str


def instrument(engine: Engine, symbol: str) -> Instrument:
    """`symbol`'s properties; 404 when the engine does not know it."""
    config = engine.settings.instruments.get(symbol)
    if config is None:
        raise InstrumentNotFound(symbol)
    return _shown(symbol, config)


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


@router.post(
    "",
    response_model=Instrument,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(403, 409),
)
async def add_instrument(
    body: Instrument,
    request: Request,
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(admin),
) -> Instrument:
    """Add an instrument (409 if the symbol exists). Accounts trade it once the
    configuration lists it for them; the simulated market quotes it from the
    next start."""
    require_all_accounts(principal, "change instruments")
    config = InstrumentConfig.model_validate(body.model_dump(exclude={"symbol"}))
    with body_fields():
        async with audited(request, principal, "instrument.add", body.symbol):
            return _shown(body.symbol, await engine.add_instrument(body.symbol, config))


@router.get("/{symbol}", response_model=Instrument, responses=error_responses(404))
async def get_instrument(
    symbol: Symbol, engine: Engine = Depends(get_engine), _: Principal = Depends(viewer)
) -> Instrument:
    return instrument(engine, symbol)


@router.put("/{symbol}", response_model=Instrument, responses=error_responses(403, 404, 409))
async def update_instrument(
    symbol: Symbol,
    body: InstrumentConfig,
    request: Request,
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(admin),
) -> Instrument:
    """Replace an instrument's properties (fields left out take their defaults).
    digits, point, contract_size and profit_currency cannot change while an
    account holds positions or orders in the symbol (409 naming them)."""
    require_all_accounts(principal, "change instruments")
    with body_fields():
        async with audited(request, principal, "instrument.update", symbol):
            return _shown(symbol, await engine.update_instrument(symbol, body))


@router.delete("/{symbol}", response_model=Instrument, responses=error_responses(403, 404, 409))
async def delete_instrument(
    symbol: Symbol,
    request: Request,
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(admin),
) -> Instrument:
    """Delete an instrument; refused (409, naming them) while an account, a
    strategy or an active price alert uses it."""
    require_all_accounts(principal, "change instruments")
    async with audited(request, principal, "instrument.delete", symbol):
        return _shown(symbol, await engine.remove_instrument(symbol))


def _shown(symbol: str, config: InstrumentConfig) -> Instrument:
    return Instrument(symbol=symbol, **config.model_dump())
