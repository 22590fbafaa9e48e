"""The risk/market API's cache and WebSocket groups (`/api/v1/cache/...`,
`/api/v1/websocket/...`) and its stream's messages.

The cache is the engine's market-data cache (in process: there is no Redis,
so `redis_connected` is false and `backend` says what it is). Where a path is
v1's (`GET /cache/stats`, `POST /cache/invalidate`), v1 answers, and its
`/cache/stats` carries the seed's `market_data_cache` and `price_cache` too.
The connection routes are v1's `/connections` handlers in the seed's shapes.

A client that opens `/api/v1/ws?token=...` (where the operator allows it) is
this API's: its messages come flat, `{"channel": "ticker", "symbol", "price",
"change_24h", "volume_24h", "timestamp"}`, as the seed documents them.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Path, Request, status
from pydantic import BaseModel, Field

from engine.domain import Timeframe
from engine.engine import Engine
from engine.models import MarketTradeEvent, OrderBook, PriceAlert, Quote, QuoteEvent
from engine.security.principal import Principal
from engine.server.deps import admin, audited, get_engine, trader, viewer
from engine.server.routers import connections as v1_connections
from engine.server.routers import price_alerts as v1_price_alerts
from engine.server.schemas import Paging, Symbol, error_responses
from engine.server.ws import Hub, SocketDialect
from engine.server.ws_protocol import Frame, Framing

TAG = "dialect: risk and jobs"
router = APIRouter(prefix="/api/v1", tags=[TAG], responses=error_responses(401, 403, 422, 429))

CacheType = Literal["market_data", "user_session", "price", "all"]
_ALL = 500  # a page big enough for every connection or price alert


class CacheHealth(BaseModel):
    status: Literal["healthy"] = "healthy"
    backend: Literal["in-process"] = "in-process"
    redis_connected: bool = Field(default=False, description="always false: no Redis is used")
    uptime_seconds: float = Field(description="since the cache started counting")
    cache_hit_rate: float | None = Field(description="hits / reads over every type")


class Trade(BaseModel):
    price: str
    quantity: str
    side: str
    time: datetime


class SeedBook(BaseModel):
    bids: list[tuple[float, float]] = Field(description="[price, volume], best first")
    asks: list[tuple[float, float]]


class MarketData(BaseModel):
    symbol: str
    price: str | None = Field(description="the mid of the latest quote")
    bid: str | None
    ask: str | None
    change_24h: str | None = Field(description="percent")
    volume_24h: str | None = Field(description="ticks")
    order_book: SeedBook
    recent_trades: list[Trade] = Field(description="our fills in the symbol, newest first")
    cached_at: datetime


class Price(BaseModel):
    symbol: str
    price: str | None
    bid: str | None
    ask: str | None
    change_24h: str | None
    volume_24h: str | None
    cached_at: datetime


class PriceAlerts(BaseModel):
    alerts: list[PriceAlert]


class Cleared(BaseModel):
    cleared: int
    cache_type: CacheType


class SeedConnection(BaseModel):
    connection_id: str
    client_id: str = Field(description="the key or user it authenticated as")
    connected_at: datetime
    subscriptions: list[str] = Field(description="`channel` or `channel:SYMBOL`")


class SeedConnections(BaseModel):
    connections: list[SeedConnection]


def _hub(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


# --- cache ---------------------------------------------------------------------------


@router.get("/cache/health", response_model=CacheHealth)
async def cache_health(
    engine: Engine = Depends(get_engine), _: Principal = Depends(viewer)
) -> CacheHealth:
    stats = engine.cache_stats()
    counters = (stats.quotes, stats.bars, stats.trades)
    hits = sum(c.hits for c in counters)
    reads = hits + sum(c.misses for c in counters)
    return CacheHealth(
        uptime_seconds=round((engine.clock.now() - stats.since).total_seconds(), 3),
        cache_hit_rate=round(hits / reads, 4) if reads else None,
    )


@router.get(
    "/cache/market-data/{symbol}", response_model=MarketData, responses=error_responses(404)
)
async def market_data(
    symbol: Symbol, engine: Engine = Depends(get_engine), principal: Principal = Depends(viewer)
) -> MarketData:
    """The latest quote, 24-hour change and tick volume, the order book (five
    levels a side) and our recent fills the caller may see."""
    view = await engine.market_view(symbol, Timeframe.M1, 0, 20)
    book = await engine.order_book(symbol) or OrderBook(
        symbol=symbol, time=engine.clock.now(), bids=[], asks=[]
    )
    return MarketData(
        **_price(engine, symbol).model_dump(exclude={"cached_at"}),
        order_book=SeedBook(
            bids=[(float(level.price), level.volume) for level in book.bids],
            asks=[(float(level.price), level.volume) for level in book.asks],
        ),
        recent_trades=[
            Trade(price=str(f.price), quantity=str(f.volume), side=f.side.value, time=f.time)
            for f in view.trades
            if principal.sees(f.account_id)
        ],
        cached_at=engine.clock.now(),
    )


@router.get("/cache/price/{symbol}", response_model=Price, responses=error_responses(404))
async def price(
    symbol: Symbol, engine: Engine = Depends(get_engine), _: Principal = Depends(viewer)
) -> Price:
    engine.instrument_service.get(symbol)
    return _price(engine, symbol)


def _price(engine: Engine, symbol: str) -> Price:
    fields = _quote_fields(engine, symbol, engine.market_cache.quote(symbol))
    return Price(**fields, cached_at=engine.clock.now())


def _quote_fields(engine: Engine, symbol: str, quote: Quote | None) -> dict[str, str | None]:
    """A quote as this API writes it (strings), with the last 24 hours."""
    day = engine.market_day(symbol)
    return {
        "symbol": symbol,
        "price": str((quote.bid + quote.ask) / 2) if quote is not None else None,
        "bid": str(quote.bid) if quote is not None else None,
        "ask": str(quote.ask) if quote is not None else None,
        "change_24h": f"{day.change_24h:.2f}" if day is not None else None,
        "volume_24h": f"{day.volume_24h:.2f}" if day is not None else None,
    }


@router.post(
    "/cache/price-alert",
    response_model=PriceAlert,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(404),
)
async def add_price_alert(
    body: v1_price_alerts.NewPriceAlert,
    request: Request,
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(trader),
) -> PriceAlert:
    return await v1_price_alerts.add_price_alert(body, request, engine, principal)


@router.get("/cache/price-alerts", response_model=PriceAlerts)
async def list_price_alerts(
    engine: Engine = Depends(get_engine), principal: Principal = Depends(viewer)
) -> PriceAlerts:
    page = await v1_price_alerts.list_price_alerts(
        paging=Paging(0, _ALL, "id", "asc"),
        symbol=None,
        active=None,
        account=None,
        engine=engine,
        principal=principal,
    )
    return PriceAlerts(alerts=page.items)


@router.delete("/cache/{cache_type}", response_model=Cleared)
async def clear(
    request: Request,
    cache_type: CacheType = Path(),
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(admin),
) -> Cleared:
    """`market_data` drops the cached bars and trades; `user_session` reloads
    the keys and users from the store (`cleared` counts the keys dropped and
    read again); `price` clears nothing: the latest quotes are the market
    itself, replaced on every tick; `all` does each."""
    cleared = 0
    async with audited(request, principal, "cache.clear", cache_type):
        if cache_type in ("market_data", "all"):
            cleared += engine.invalidate_cache()
        if cache_type in ("user_session", "all"):
            security = request.app.state.security
            await security.reload()
            cleared += len(await security.list_keys())
    return Cleared(cleared=cleared, cache_type=cache_type)


# --- the stream's connections ------------------------------------------------------


@router.get("/websocket/connections", response_model=SeedConnections)
async def websocket_connections(
    hub: Hub = Depends(_hub), principal: Principal = Depends(viewer)
) -> SeedConnections:
    """Every connection for an admin; the caller's own for anyone else."""
    page = await v1_connections.list_connections(
        paging=Paging(0, _ALL, None, "asc"), channel=None, role=None, hub=hub, principal=principal
    )
    return SeedConnections(
        connections=[
            SeedConnection(
                connection_id=c.id,
                client_id=c.principal,
                connected_at=c.connected_at,
                subscriptions=[
                    f"{s.channel}:{symbol}" for s in c.subscriptions for symbol in s.symbols or ()
                ]
                + [s.channel for s in c.subscriptions if not s.symbols],
            )
            for c in page.items
        ]
    )


router.add_api_route(
    "/websocket/stats",
    v1_connections.connection_stats,
    methods=["GET"],
    response_model=v1_connections.ConnectionStats,
)
router.add_api_route(
    "/websocket/broadcast",
    v1_connections.broadcast,
    methods=["POST"],
    response_model=v1_connections.Broadcasted,
)
router.add_api_route(
    "/websocket/connections/{connection_id}",
    v1_connections.disconnect,
    methods=["DELETE"],
    response_model=v1_connections.ConnectionInfo,
    responses=error_responses(404),
)


# --- the stream's messages -----------------------------------------------------------


def _flat(engine: Engine, frame: Frame) -> dict[str, Any] | None:
    """A frame as this API's clients read it: an event's fields at the top
    level beside `channel` and `timestamp`; anything else with its `type`."""
    event = frame.event
    if isinstance(event, QuoteEvent):
        quote = event.quote
        fields = _quote_fields(engine, quote.symbol, quote)
        return {"channel": frame.channel, **fields, "timestamp": frame.time}
    if isinstance(event, MarketTradeEvent):
        trade = event.trade
        return {
            "channel": frame.channel,
            "symbol": trade.symbol,
            "price": str(trade.price),
            "quantity": str(trade.volume),
            "side": trade.side.value,
            "timestamp": frame.time,
        }
    if event is not None:
        fields = event.model_dump(mode="json", exclude={"time"})
        return {"channel": frame.channel, **fields, "timestamp": frame.time}
    return {
        "type": frame.type,
        "channel": frame.channel,
        "data": frame.data,
        "timestamp": frame.time,
    }


def setup(app: Any) -> None:
    """The framing of `/api/v1/ws?token=` clients (used where the operator allows it)."""
    engine = app.state.engine
    framing = Framing("risk_jobs.stream", functools.partial(_flat, engine))
    app.state.url_token_socket = SocketDialect("risk_jobs.stream", framing)
