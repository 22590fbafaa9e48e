"""An order's dry run: the margin it would need and the pre-trade gate's verdict,
judged now and sent nowhere. The order ticket shows it before the trader sends.

Nothing is counted or stored: the gate sees a `dry_run` context (a rate limit
does not count it). The broker may still refuse what the gate lets pass (a
price moved, the market closed in between); sending says so in its result.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from engine.brokers.base import OrderRequest
from engine.errors import Unavailable
from engine.models import OrderCheck, OrderType, Side, WorkerState
from engine.orders.gate import OrderContext
from engine.risk.book import Valuer

if TYPE_CHECKING:
    from engine.engine import Engine

_CENT = Decimal("0.01")


def preview_order(engine: Engine, request: OrderRequest) -> OrderCheck:
    """What `request` would meet if sent now (see the module)."""
    if engine.manager is None:
        raise Unavailable("The engine has not started.")
    worker = engine.manager.get(request.account_id)
    quote = engine.quote(request.symbol)
    account = worker.account
    check = OrderCheck(
        account_id=request.account_id,
        symbol=request.symbol,
        bid=quote.bid if quote is not None else None,
        ask=quote.ask if quote is not None else None,
        currency=account.currency,
        passed=False,
        message="",
    )
    broker = worker.broker
    if broker is None or worker.state is not WorkerState.RUNNING:
        return check.model_copy(
            update={
                "rule": "worker",
                "message": f"Worker {request.account_id} is not running: start it to trade.",
            }
        )
    snapshot = broker.account()
    check = check.model_copy(
        update={
            "free_margin": snapshot.free_margin,
            "margin_required": margin_required(engine, request, snapshot.leverage),
        }
    )
    instrument = engine.settings.instruments.get(request.symbol)
    context = OrderContext(request, broker, instrument, engine.clock.now(), dry_run=True)
    rejection = engine.gate.check(context)
    if rejection is not None:
        return check.model_copy(
            update={
                "retcode": rejection.retcode,
                "rule": rejection.rule,
                "message": rejection.message,
            }
        )
    return check.model_copy(update={"passed": True, "message": "Passes the pre-trade checks."})


def margin_required(engine: Engine, request: OrderRequest, leverage: int) -> Decimal | None:
    """The margin the order's whole volume needs in the account currency
    (volume x contract size x entry price / leverage); zero for a close, None
    when it cannot be priced (no quote, no price, no conversion pair)."""
    if request.position_ticket is not None:
        return Decimal(0)
    instrument = engine.settings.instruments.get(request.symbol)
    account = engine.settings.account(request.account_id)
    if instrument is None or account is None or leverage <= 0:
        return None
    if request.type is OrderType.MARKET:
        quote = engine.quote(request.symbol)
        if quote is None:
            return None
        entry = quote.ask if request.side is Side.BUY else quote.bid
    else:
        entry_price = request.stop_limit or request.price
        if entry_price is None:
            return None
        entry = entry_price
    valuer = Valuer(lambda: engine.settings.instruments, engine.quote)
    rate = valuer.rate(instrument.profit_currency, account.currency)
    if rate is None:
        return None
    notional = request.volume * instrument.contract_size * entry * rate
    return (notional / leverage).quantize(_CENT)
