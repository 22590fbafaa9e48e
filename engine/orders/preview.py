"""An order's dry run: the margin it would need and the pre-trade gate's verdict,
judged now and sent nowhere. The order ticket shows it before the trader sends.

Nothing is counted or stored: the gate sees a `dry_run` context (a rate limit
does not count it). The broker may still refuse what the gate lets pass (a
price moved, the market closed in between); sending says so in its result.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from config.models import Settings
from engine.clock import Clock
from engine.models import OrderCheck, OrderRequest, OrderType, Quote, Side, WorkerState
from engine.orders.gate import OrderContext, OrderGate
from engine.ports import WorkerDirectory
from engine.risk.book import Valuer

_CENT = Decimal("0.01")


class OrderPreview:
    def __init__(
        self,
        settings: Settings,
        workers: WorkerDirectory,
        quote: Callable[[str], Quote | None],
        gate: OrderGate,
        clock: Clock,
    ) -> None:
        self.settings = settings
        self.workers = workers
        self.quote = quote
        self.gate = gate
        self.clock = clock

    def check(self, request: OrderRequest) -> OrderCheck:
        return preview_order(self, request)


def preview_order(ports: OrderPreview, request: OrderRequest) -> OrderCheck:
    """What `request` would meet if sent now (see the module)."""
    worker = ports.workers.get(request.account_id)
    quote = ports.quote(request.symbol)
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
            "margin_required": margin_required(ports, request, snapshot.leverage),
        }
    )
    instrument = ports.settings.instruments.get(request.symbol)
    context = OrderContext(request, broker, instrument, ports.clock.now(), dry_run=True)
    rejection = ports.gate.check(context)
    if rejection is not None:
        return check.model_copy(
            update={
                "retcode": rejection.retcode,
                "rule": rejection.rule,
                "message": rejection.message,
            }
        )
    return check.model_copy(update={"passed": True, "message": "Passes the pre-trade checks."})


def margin_required(ports: OrderPreview, request: OrderRequest, leverage: int) -> Decimal | None:
    """The margin the order's whole volume needs in the account currency
    (volume x contract size x entry price / leverage); zero for a close, None
    when it cannot be priced (no quote, no price, no conversion pair)."""
    if request.position_ticket is not None:
        return Decimal(0)
    instrument = ports.settings.instruments.get(request.symbol)
    account = ports.settings.account(request.account_id)
    if instrument is None or account is None or leverage <= 0:
        return None
    if request.type is OrderType.MARKET:
        quote = ports.quote(request.symbol)
        if quote is None:
            return None
        entry = quote.ask if request.side is Side.BUY else quote.bid
    else:
        entry_price = request.stop_limit or request.price
        if entry_price is None:
            return None
        entry = entry_price
    valuer = Valuer(lambda: ports.settings.instruments, ports.quote)
    rate = valuer.rate(instrument.profit_currency, account.currency)
    if rate is None:
        return None
    notional = request.volume * instrument.contract_size * entry * rate
    return (notional / leverage).quantize(_CENT)
