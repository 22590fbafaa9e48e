"""The `o` order ticket: account, symbol, side, type, volume, price and SL/TP,
with the live bid/ask, the margin the order needs and the pre-trade checks'
verdict, all before the trader sends it.

The ticket only builds the order; the app sends it and reports the outcome.
Its `client_order_id` is made when the ticket opens, so however often the
trader presses send, the engine creates one order.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import cast

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from engine.models import OrderCheck, OrderRequest, OrderType, Side
from tui import formatting as fmt
from tui.host import Panel

DEFAULT_VOLUME = "0.10"
# How long the ticket waits after the last edit before asking for a verdict,
# so typing a volume asks once, not once per key.
CHECK_DELAY = 0.15
# While the live panel runs: how often bid/ask repaint and the verdict is asked again.
QUOTE_INTERVAL = 0.25
RECHECK_INTERVAL = 2.0

_TYPES = (
    ("market", OrderType.MARKET),
    ("limit", OrderType.LIMIT),
    ("stop", OrderType.STOP),
    ("stop limit", OrderType.STOP_LIMIT),
)


class OrderTicketScreen(ModalScreen[OrderRequest | None]):
    """Dismisses with the order to send, or None when cancelled."""

    BINDINGS = [
        Binding("ctrl+t", "send", "Send", id="ticket.send", tooltip="Send the order as shown"),
        Binding("escape", "cancel", "Cancel", id="ticket.cancel", tooltip="Close, send nothing"),
    ]

    def __init__(
        self,
        panel: Panel,
        symbols: Mapping[str, Sequence[str]],
        *,
        account_id: str | None = None,
        symbol: str | None = None,
        side: Side = Side.BUY,
    ) -> None:
        """`symbols` lists each account the trader may use with its symbols."""
        super().__init__()
        self.panel = panel
        self.symbols = {a: list(s) for a, s in symbols.items()}
        accounts = sorted(self.symbols)
        self._account = account_id if account_id in self.symbols else accounts[0]
        tradable = self.symbols[self._account]
        self._symbol = symbol if symbol in tradable else (tradable[0] if tradable else None)
        self._side = side
        self.client_order_id = f"panel-{uuid.uuid4().hex[:20]}"
        self.check: OrderCheck | None = None
        # The order `check` judged: the form may have changed since.
        self.checked: OrderRequest | None = None
        self.problem: str | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="ticket-dialog"):
            yield Label("New order", id="ticket-title")
            with Grid(id="ticket-form"):
                yield Label("Account")
                yield Select(
                    [(a, a) for a in sorted(self.symbols)],
                    value=self._account,
                    allow_blank=False,
                    compact=True,
                    id="ticket-account",
                )
                yield Label("Symbol")
                yield Select(
                    self._symbol_options(self._account),
                    value=self._symbol if self._symbol is not None else Select.NULL,
                    allow_blank=self._symbol is None,
                    compact=True,
                    id="ticket-symbol",
                )
                yield Label("Side")
                yield Select(
                    [("buy", Side.BUY), ("sell", Side.SELL)],
                    value=self._side,
                    allow_blank=False,
                    compact=True,
                    id="ticket-side",
                )
                yield Label("Type")
                yield Select(
                    list(_TYPES),
                    value=OrderType.MARKET,
                    allow_blank=False,
                    compact=True,
                    id="ticket-type",
                )
                yield Label("Volume")
                yield Input(DEFAULT_VOLUME, compact=True, id="ticket-volume")
                yield Label("Price")
                yield Input(placeholder="at market", compact=True, id="ticket-price")
                yield Label("Limit")
                yield Input(placeholder="stop-limit only", compact=True, id="ticket-limit")
                yield Label("Stop loss")
                yield Input(placeholder="none", compact=True, id="ticket-sl")
                yield Label("Take profit")
                yield Input(placeholder="none", compact=True, id="ticket-tp")
            yield Static(id="ticket-quote")
            yield Static(id="ticket-margin")
            yield Static(id="ticket-verdict")
            with Horizontal(id="ticket-buttons"):
                yield Button("Send", variant="success", id="ticket-send")
                yield Button("Cancel", variant="primary", id="ticket-cancel")

    def on_mount(self) -> None:
        for field in self.query(Input):
            field.cursor_blink = not self.app.is_headless
        self._sync_fields()
        self.query_one("#ticket-volume", Input).focus()
        if self.panel.clock_tick:
            self.set_interval(QUOTE_INTERVAL, self._show_quote, name="ticket-quote")
            self.set_interval(RECHECK_INTERVAL, self._recheck, name="ticket-recheck")
        self._changed()

    # --- reading the form ------------------------------------------------------

    def request(self) -> OrderRequest | str:
        """The order the form describes, or a sentence saying what is missing."""
        account = self._value("#ticket-account")
        symbol = self._value("#ticket-symbol")
        if not account or not symbol:
            return "Choose an account and a symbol."
        order_type = cast(OrderType, self._value("#ticket-type"))
        volume = _decimal(self._text("#ticket-volume"))
        if volume is None or volume <= 0:
            return "Volume: enter the lots to trade, like 0.10."
        fields: dict[str, Decimal | None] = {}
        for name in ("price", "limit", "sl", "tp"):
            text = self._text(f"#ticket-{name}")
            value = _decimal(text)
            if text and (value is None or value <= 0):
                return f"{_LABELS[name]}: {text!r} is not a price."
            fields[name] = value
        if order_type is not OrderType.MARKET and fields["price"] is None:
            return f"Price: a {order_type.value.replace('_', ' ')} order needs one."
        if order_type is OrderType.STOP_LIMIT and fields["limit"] is None:
            return "Limit: a stop limit order needs the limit price it places."
        return OrderRequest(
            account_id=account,
            symbol=symbol,
            side=cast(Side, self._value("#ticket-side")),
            type=order_type,
            volume=volume,
            price=fields["price"] if order_type is not OrderType.MARKET else None,
            stop_limit=fields["limit"] if order_type is OrderType.STOP_LIMIT else None,
            sl=fields["sl"],
            tp=fields["tp"],
            client_order_id=self.client_order_id,
            comment="panel",
        )

    @property
    def settled(self) -> bool:
        """Whether the verdict shown is for the order the form shows now."""
        return self.check is not None and self.checked == self.request()

    # --- reacting --------------------------------------------------------------

    @on(Select.Changed, "#ticket-account")
    def _account_changed(self, event: Select.Changed) -> None:
        account = cast(str, event.value)
        if account == self._account:
            return
        self._account = account
        symbols = self.query_one("#ticket-symbol", Select)
        current = self._value("#ticket-symbol")
        options = self._symbol_options(account)
        symbols.set_options(options)
        tradable = self.symbols.get(account, [])
        if current in tradable:
            symbols.value = current
        elif tradable:
            symbols.value = tradable[0]
        self._changed()

    @on(Select.Changed, "#ticket-symbol, #ticket-side, #ticket-type")
    def _select_changed(self) -> None:
        self._sync_fields()
        self._changed()

    @on(Input.Changed)
    def _input_changed(self) -> None:
        self._changed()

    @on(Input.Submitted)
    def _next_field(self) -> None:
        # Enter moves on; only ctrl+t or the Send button sends.
        self.focus_next()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "ticket-send":
            self.action_send()
        else:
            self.action_cancel()

    def action_send(self) -> None:
        request = self.request()
        if isinstance(request, str):
            self._show_problem(request)
            self.app.bell()
            return
        self.dismiss(request)

    def action_cancel(self) -> None:
        self.dismiss(None)

    # --- the verdict -----------------------------------------------------------

    def _changed(self) -> None:
        self._show_quote()
        request = self.request()
        if isinstance(request, str):
            self.check = self.checked = None
            self._show_problem(request)
            return
        self.problem = None
        self.run_check(request)

    def _recheck(self) -> None:
        request = self.request()
        if not isinstance(request, str):
            self.run_check(request)

    @work(exclusive=True, group="ticket-check")
    async def run_check(self, request: OrderRequest) -> None:
        await asyncio.sleep(CHECK_DELAY)
        check = await self.panel.attempt(
            "Could not check the order", self.panel.client.check_order(request)
        )
        if check is not None and self.request() == request:
            self.check, self.checked = check, request
            self._show_check(check)

    def _show_problem(self, problem: str) -> None:
        self.problem = problem
        self.query_one("#ticket-margin", Static).update(Text("Margin: -", style="dim"))
        self.query_one("#ticket-verdict", Static).update(Text(problem, style="yellow"))

    def _show_check(self, check: OrderCheck) -> None:
        margin = Text("Margin required: ")
        if check.margin_required is None:
            margin.append("-", style="dim")
        else:
            short = check.free_margin is not None and check.margin_required > check.free_margin
            margin.append(
                f"{fmt.money(check.margin_required)} {check.currency}",
                style="bold red" if short else "bold",
            )
        if check.free_margin is not None:
            margin.append(f" of {fmt.money(check.free_margin)} free", style="dim")
        self.query_one("#ticket-margin", Static).update(margin)
        if check.passed:
            verdict = Text.assemble(("Risk check: ", "bold"), (check.message, "green"))
        else:
            why = f" ({check.rule})" if check.rule else ""
            verdict = Text.assemble(
                (f"Would be rejected{why}: ", "bold red"), (check.message, "red")
            )
        self.query_one("#ticket-verdict", Static).update(verdict)

    def _show_quote(self) -> None:
        symbol = self._value("#ticket-symbol")
        quote = self.panel.state.quotes.get(symbol) if symbol else None
        line = Text()
        if quote is None:
            line.append(f"{symbol or '-'}  no quote yet", style="dim")
        else:
            digits = self.panel.state.digits.get(quote.symbol)
            line.append(f"{quote.symbol}  ", style="bold")
            line.append("bid ", style="dim")
            line.append(fmt.price(quote.bid, digits), style="magenta")
            line.append("  ask ", style="dim")
            line.append(fmt.price(quote.ask, digits), style="cyan")
            line.append(f"  at {fmt.hms(quote.time)}", style="dim")
        self.query_one("#ticket-quote", Static).update(line)

    # --- helpers ---------------------------------------------------------------

    def _sync_fields(self) -> None:
        """Price fields only where the order type uses them; the send button says what it sends."""
        order_type = self._value("#ticket-type")
        self.query_one("#ticket-price", Input).disabled = order_type is OrderType.MARKET
        self.query_one("#ticket-limit", Input).disabled = order_type is not OrderType.STOP_LIMIT
        side = self._value("#ticket-side") or Side.BUY
        label = f"Send {side} {str(order_type).replace('_', ' ')}"
        self.query_one("#ticket-send", Button).label = label

    def _symbol_options(self, account_id: str) -> list[tuple[str, str]]:
        return [(s, s) for s in self.symbols.get(account_id, [])]

    def _value(self, selector: str) -> str | None:
        value = self.query_one(selector, Select).value
        return None if value is Select.NULL else cast(str, value)

    def _text(self, selector: str) -> str:
        return self.query_one(selector, Input).value.strip()


_LABELS = {"price": "Price", "limit": "Limit", "sl": "Stop loss", "tp": "Take profit"}


def _decimal(text: str) -> Decimal | None:
    if not text:
        return None
    try:
        value = Decimal(text.replace(",", ""))
    except InvalidOperation:
        return None
    return value if value.is_finite() else None
