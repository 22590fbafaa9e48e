"""o opens the order ticket: live bid/ask, the margin the order needs and the
pre-trade checks' verdict before sending; sending reports the outcome in words."""

from __future__ import annotations

from decimal import Decimal

from textual.widgets import Input, Select, Static

from engine.client import EngineClient
from engine.engine import Engine
from engine.models import OrderStatus, OrderType, Side
from tests.tui.helpers import RestrictedClient, notifications, plain, ready, until
from tui.app import TradeDeckApp
from tui.screens.main import MainScreen
from tui.screens.order_ticket import OrderTicketScreen


async def open_ticket(pilot, app: TradeDeckApp, *keys: str) -> OrderTicketScreen:
    await pilot.press(*keys, "o")
    await until(pilot, lambda: isinstance(app.screen, OrderTicketScreen))
    ticket = app.screen
    assert isinstance(ticket, OrderTicketScreen)
    return ticket


async def fill(pilot, ticket: OrderTicketScreen, **fields: str) -> None:
    """Set the fields in order, each change handled before the next (a new
    account brings its own symbols)."""
    for name, value in fields.items():
        widget = ticket.query_one(f"#ticket-{name}")
        if isinstance(widget, Select):
            widget.value = value
        else:
            assert isinstance(widget, Input)
            widget.value = value
        await pilot.pause()


def verdict(ticket: OrderTicketScreen) -> str:
    """The verdict as one line: the widget wraps it to the ticket's width."""
    return " ".join(plain(ticket.query_one("#ticket-verdict", Static)).split())


async def test_the_ticket_shows_quote_margin_and_a_passing_verdict(
    client: EngineClient, engine: Engine
):
    app = TradeDeckApp(client)
    async with app.run_test(size=(100, 40)) as pilot:
        await ready(pilot)
        ticket = await open_ticket(pilot, app, "down")  # account-002 under the cursor
        assert ticket.query_one("#ticket-account", Select).value == "account-002"
        await fill(pilot, ticket, symbol="XAUUSD", volume="0.20")
        await until(pilot, lambda: ticket.settled)
        check = ticket.check
        assert check is not None and check.passed
        assert verdict(ticket) == "Risk check: Passes the pre-trade checks."
        quote = engine.quote("XAUUSD")
        assert quote is not None and check.ask == quote.ask
        assert f"ask {quote.ask}" in plain(ticket.query_one("#ticket-quote", Static))
        # 0.20 lots x 100 oz x ask / leverage, in USD.
        leverage = engine.settings.account("account-002").leverage  # type: ignore[union-attr]
        assert check.margin_required == (quote.ask * 20 / leverage).quantize(check.margin_required)
        margin = plain(ticket.query_one("#ticket-margin", Static))
        assert f"Margin required: {check.margin_required:,.2f} USD" in margin
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, MainScreen))


async def test_the_ticket_names_the_risk_limit_an_order_would_breach(client: EngineClient):
    app = TradeDeckApp(client)
    async with app.run_test(size=(100, 40)) as pilot:
        await ready(pilot)
        ticket = await open_ticket(pilot, app)
        await fill(pilot, ticket, account="account-003", symbol="BTCUSD", volume="0.4")
        await until(pilot, lambda: ticket.settled)
        check = ticket.check
        assert check is not None and check.rule is not None and check.rule.startswith("risk")
        assert "crypto-btc-size" in check.message
        assert verdict(ticket) == f"Would be rejected ({check.rule}): {check.message}"


async def test_the_ticket_says_what_the_form_is_missing(client: EngineClient):
    app = TradeDeckApp(client)
    async with app.run_test(size=(100, 40)) as pilot:
        await ready(pilot)
        ticket = await open_ticket(pilot, app)
        await fill(pilot, ticket, volume="lots")
        await until(pilot, lambda: ticket.problem is not None)
        assert verdict(ticket) == "Volume: enter the lots to trade, like 0.10."
        await fill(pilot, ticket, volume="0.10", type=OrderType.LIMIT)
        await until(pilot, lambda: verdict(ticket) == "Price: a limit order needs one.")
        assert not ticket.query_one("#ticket-price", Input).disabled
        await fill(pilot, ticket, price="1.5x")
        await until(pilot, lambda: verdict(ticket) == "Price: '1.5x' is not a price.")
        await pilot.press("ctrl+t")
        assert isinstance(app.screen, OrderTicketScreen), "nothing is sent while the form is wrong"


async def test_o_is_disabled_without_the_permission(client: EngineClient):
    app = TradeDeckApp(RestrictedClient(client, frozenset()))
    async with app.run_test() as pilot:
        await ready(pilot)
        assert not app.screen.active_bindings["o"].enabled
        await pilot.press("o")
        await until(
            pilot, lambda: any("needs the trader role" in n.message for n in notifications(app))
        )
        assert not isinstance(app.screen, OrderTicketScreen)


async def test_sending_a_valid_order_fills_it_and_says_so(client: EngineClient, engine: Engine):
    app = TradeDeckApp(client)
    async with app.run_test(size=(100, 40)) as pilot:
        await ready(pilot)
        ticket = await open_ticket(pilot, app)
        await fill(pilot, ticket, symbol="EURUSD", side=Side.SELL, volume="0.30")
        await until(pilot, lambda: ticket.settled)
        client_order_id = ticket.client_order_id
        await pilot.press("ctrl+t")
        await until(pilot, lambda: isinstance(app.screen, MainScreen))
        await until(pilot, lambda: any(n.title == "Order" for n in notifications(app)))
        stored = await engine.store.ledger.order_by_client_id("account-001", client_order_id)
        assert stored is not None and stored.status is OrderStatus.FILLED
        assert (stored.side, stored.volume, stored.symbol) == (Side.SELL, Decimal("0.30"), "EURUSD")
        note = next(n for n in notifications(app) if n.title == "Order")
        assert note.message == (
            f"account-001 sold 0.30 EURUSD at {stored.fill_price} (order {stored.ticket})."
        )


async def test_a_rejected_order_says_why_in_words(client: EngineClient, engine: Engine):
    app = TradeDeckApp(client)
    async with app.run_test(size=(100, 40)) as pilot:
        await ready(pilot)
        ticket = await open_ticket(pilot, app)
        # Far more than the account's free margin: the broker refuses it.
        await fill(pilot, ticket, symbol="EURUSD", volume="90")
        await until(pilot, lambda: ticket.settled)
        await pilot.press("ctrl+t")
        await until(pilot, lambda: any(n.title == "Order rejected" for n in notifications(app)))
        note = next(n for n in notifications(app) if n.title == "Order rejected")
        assert note.severity == "error"
        assert note.message.startswith("account-001 buy 90.00 EURUSD rejected: ")
        assert "margin" in note.message.lower() or "money" in note.message.lower()
