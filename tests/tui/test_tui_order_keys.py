"""c cancels the pending order under the cursor; f closes the position under
the cursor, or flattens the account, after saying what will happen."""

from __future__ import annotations

from decimal import Decimal

from engine.client import EngineClient
from engine.engine import Engine
from engine.models import OrderRequest, OrderStatus, OrderType, Position, Side
from tests.tui.helpers import notifications, ready, table, until
from tui.app import TradeDeckApp
from tui.screens.confirm import ConfirmScreen


async def test_c_cancels_the_pending_order_under_the_cursor(client: EngineClient, engine: Engine):
    quote = engine.quote("EURUSD")
    assert quote is not None
    request = OrderRequest(
        account_id="account-001",
        symbol="EURUSD",
        side=Side.BUY,
        type=OrderType.LIMIT,
        volume=Decimal("0.10"),
        price=(quote.bid * Decimal("0.98")).quantize(Decimal("0.00001")),
        client_order_id="tui-cancel-me",
    )
    placed = (await engine.orders.place(request)).order
    assert placed is not None and placed.status is OrderStatus.PLACED
    app = TradeDeckApp(client)
    async with app.run_test() as pilot:
        await ready(pilot)
        await pilot.press("3")
        orders = table(app, "orders")
        await until(pilot, lambda: orders.cursor_key == str(placed.ticket))
        await pilot.press("c")
        await until(pilot, lambda: str(orders.get_cell(str(placed.ticket), "status")) == "canceled")
        stored = await engine.store.ledger.order_by_client_id("account-001", "tui-cancel-me")
        assert stored is not None and stored.status is OrderStatus.CANCELLED
        await until(
            pilot,
            lambda: f"Cancelled order {placed.ticket} on account-001." in _messages(app),
        )
        assert not app.screen.active_bindings["c"].enabled, "a cancelled order cannot be again"


async def test_f_closes_the_position_under_the_cursor_after_asking(
    client: EngineClient, engine: Engine
):
    app = TradeDeckApp(client)
    async with app.run_test() as pilot:
        await ready(pilot)
        await pilot.press("2")
        ticket = table(app, "positions").cursor_key
        assert ticket is not None
        position = app.state.positions[int(ticket)]
        await pilot.press("f")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert app.screen.question.startswith(
            f"Close position {ticket} on {position.account_id}? A {position.side.opposite} "
            f"{position.volume:.2f} {position.symbol} order closes it at market"
        )
        await pilot.press("y")
        await until(
            pilot, lambda: int(ticket) not in {p.ticket for p in engine.snapshot().positions}
        )
        await until(
            pilot,
            lambda: ticket not in [str(r.key.value) for r in table(app, "positions").ordered_rows],
        )
        await until(
            pilot, lambda: any(m.startswith(f"Closed position {ticket}") for m in _messages(app))
        )


async def test_f_on_a_worker_flattens_its_account_after_asking(
    client: EngineClient, engine: Engine
):
    app = TradeDeckApp(client)
    async with app.run_test() as pilot:
        await ready(pilot)
        held = [p for p in engine.snapshot().positions if p.account_id == "account-001"]
        others = [p for p in engine.snapshot().positions if p.account_id != "account-001"]
        assert held and others
        await pilot.press("f")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert app.screen.question.startswith(
            f"Flatten account-001? Its {len(held)} open positions"
        )
        await pilot.press("escape")
        await pilot.pause()
        assert len(
            [p for p in engine.snapshot().positions if p.account_id == "account-001"]
        ) == len(held)
        await pilot.press("f")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(
            pilot,
            lambda: not [p for p in engine.snapshot().positions if p.account_id == "account-001"],
        )
        assert {p.ticket for p in engine.snapshot().positions} >= {p.ticket for p in others}
        await until(
            pilot, lambda: f"Flattened account-001: {len(held)} positions closed." in _messages(app)
        )


def _tickets(engine: Engine) -> set[int]:
    return {p.ticket for p in engine.snapshot().positions}


def _held(engine: Engine, account_id: str) -> list[Position]:
    return [p for p in engine.snapshot().positions if p.account_id == account_id]


def _messages(app: TradeDeckApp) -> list[str]:
    return [n.message for n in notifications(app)]
