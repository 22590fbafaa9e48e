"""Helpers for the risk tests: a demo engine without the demo's limits, orders
to send, and quotes to move a market by hand."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from config.models import Settings
from engine.brokers.base import TradeResult
from engine.engine import Engine
from engine.models import OrderRequest, Quote, Side
from tests.conftest import EngineFactory


async def bare_engine(
    factory: EngineFactory, settings: Settings, *, run_loops: bool = False, **options: Any
) -> Engine:
    """The demo engine with no risk limits of its own (tests add theirs)."""
    settings.risk.limits = []
    return await factory(settings, run_loops=run_loops, **options)


async def send(
    engine: Engine,
    account_id: str,
    symbol: str,
    volume: str,
    client_order_id: str,
    side: Side = Side.BUY,
    **fields: Any,
) -> TradeResult:
    assert engine.manager is not None
    request = OrderRequest(
        account_id=account_id,
        symbol=symbol,
        side=side,
        volume=Decimal(volume),
        client_order_id=client_order_id,
        **fields,
    )
    return await engine.manager.get(account_id).send(request)


def move(engine: Engine, symbol: str, bid: str) -> None:
    """Quote `symbol` at `bid` (its usual spread above for the ask) now."""
    instrument = engine.settings.instruments[symbol]
    low = Decimal(bid)
    high = low + instrument.spread_points * instrument.point
    engine.process_quotes(
        [
            Quote(
                symbol=symbol,
                bid=low,
                ask=high,
                time=engine.clock.now(),
                mid=float((low + high) / 2),
            )
        ]
    )


def limit(kind: str, threshold: str, **fields: Any) -> dict[str, Any]:
    """The fields of a limit: account scope on account-001 unless told."""
    fields.setdefault("scope", "account" if "symbol" not in fields else "symbol")
    if fields["scope"] != "global":
        fields.setdefault("account_id", "account-001")
    return {"kind": kind, "threshold": Decimal(threshold), **fields}
