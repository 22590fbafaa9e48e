"""Mt5Broker against the stand-in terminal, through a real bridge process:
login, orders of every kind, what the terminal does on its own, MT5's result
handling (retries, reconciliation, rejections in words) and supervision (a
killed bridge, a terminal that stops answering, a broken IPC link)."""

from __future__ import annotations

import os
import signal
import socket
from datetime import UTC, datetime, time
from decimal import Decimal

import pytest

from engine.brokers import retcodes
from engine.brokers.mt5 import constants as mt5
from engine.domain import Timeframe
from engine.errors import InvalidRequest, Unavailable
from engine.models import DealEntry, OrderRequest, OrderStatus, OrderType, Side, WorkerState
from tests.engine.helpers import eventually
from tests.engine.mt5.conftest import LOGIN, MAGIC, Harness, mt5_account
from tests.engine.mt5.fake_terminal import FakeTerminal

pytestmark = pytest.mark.slow


def request(**changes: object) -> OrderRequest:
    values: dict[str, object] = {
        "account_id": "mt5-001",
        "symbol": "EURUSD",
        "side": Side.BUY,
        "volume": Decimal("0.10"),
        "client_order_id": "c-1",
    }
    values.update(changes)
    return OrderRequest.model_validate(values)


def fills(harness: Harness) -> list:  # type: ignore[type-arg]
    return [f for c in harness.changes for f in c.fills]


async def test_connects_logs_in_and_reads_the_account(terminal: FakeTerminal, make_broker) -> None:  # type: ignore[no-untyped-def]
    harness = await make_broker()
    account = harness.broker.account()
    assert account.balance == Decimal("10000.00") and account.broker.value == "mt5"
    assert harness.broker.last_quote("EURUSD").ask == Decimal("1.10010")  # type: ignore[union-attr]
    assert {"initialize", "login", "symbol_select", "symbol_info"} <= set(terminal.calls)
    assert terminal.calls.index("symbol_select") < terminal.calls.index("symbol_info_tick")


async def test_a_wrong_password_says_where_the_password_comes_from(
    terminal: FakeTerminal, make_broker, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("TRADEDECK_MT5_PASSWORD_MT5_001", "wrong")
    with pytest.raises(Exception, match=r"authorization failed.*TRADEDECK_MT5_PASSWORD_MT5_001"):
        await make_broker()


async def test_a_missing_password_is_refused_before_the_terminal_is_reached(
    terminal: FakeTerminal, make_broker, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("TRADEDECK_MT5_PASSWORD_MT5_001")
    with pytest.raises(InvalidRequest, match="set TRADEDECK_MT5_PASSWORD_MT5_001"):
        await make_broker()
    assert terminal.calls == []


async def test_a_market_order_fills_opens_a_position_and_closes_with_profit(
    terminal: FakeTerminal, make_broker
) -> None:  # type: ignore[no-untyped-def]
    harness = await make_broker()
    broker = harness.broker
    result = await broker.send_order(request(sl=Decimal("1.09000"), strategy_id="s1"))
    assert result.retcode == retcodes.DONE, result.message
    order = result.order
    assert order is not None and order.status is OrderStatus.FILLED
    assert order.fill_price == Decimal("1.10010") and order.filled_volume == Decimal("0.1")
    [fill] = result.changes.fills
    assert (fill.entry, fill.order_ticket, fill.position_ticket) == (
        DealEntry.IN,
        order.ticket,
        order.ticket,
    )
    [position] = broker.positions()
    assert position.ticket == order.ticket and position.sl == Decimal("1.09000")
    assert position.strategy_id == "s1"
    # What the pre-trade checks read: the terminal's numbers, without a snapshot.
    assert broker.position(position.ticket) == position
    assert broker.position(position.ticket + 1000) is None
    assert {s: (h.net, h.count) for s, h in broker.holdings().items()} == {
        "EURUSD": (Decimal("0.1"), 1)
    }
    account, funds = broker.account(), broker.funds()
    assert (funds.currency, funds.leverage) == (account.currency, account.leverage)
    assert (funds.equity, funds.free_margin) == (account.equity, account.free_margin)

    terminal.set_price("EURUSD", "1.10510", "1.10520")
    closed = await broker.close_position(position.ticket)
    assert closed.ok, closed.message
    [out] = closed.changes.fills
    assert out.entry is DealEntry.OUT and out.profit == Decimal("50.00")
    assert [p.ticket for p in closed.changes.closed] == [position.ticket]
    assert broker.positions() == []
    assert broker.holdings() == {}
    assert closed.changes.balance == Decimal("10050.00")


async def test_a_limit_order_rests_then_the_terminal_fills_it(
    terminal: FakeTerminal, make_broker
) -> None:  # type: ignore[no-untyped-def]
    harness = await make_broker()
    broker = harness.broker
    placed = await broker.send_order(
        request(type=OrderType.LIMIT, price=Decimal("1.09500"), tp=Decimal("1.12000"))
    )
    assert placed.retcode == retcodes.PLACED and placed.order.status is OrderStatus.PLACED  # type: ignore[union-attr]
    assert [o.ticket for o in broker.open_orders()] == [placed.order.ticket]  # type: ignore[union-attr]

    terminal.set_price("EURUSD", "1.09490", "1.09500")
    await eventually(lambda: len(fills(harness)) == 1)
    [fill] = fills(harness)
    assert fill.order_ticket == placed.order.ticket and fill.price == Decimal("1.09500")  # type: ignore[union-attr]
    filled = [o for c in harness.changes for o in c.orders if o.ticket == fill.order_ticket]
    assert filled[-1].status is OrderStatus.FILLED
    assert broker.open_orders() == [] and broker.positions()[0].tp == Decimal("1.12000")


async def test_the_terminal_closing_at_the_stop_loss_is_reported(
    terminal: FakeTerminal, make_broker
) -> None:  # type: ignore[no-untyped-def]
    harness = await make_broker()
    result = await harness.broker.send_order(request(sl=Decimal("1.09500")))
    ticket = result.order.ticket  # type: ignore[union-attr]
    terminal.set_price("EURUSD", "1.09400", "1.09410")
    await eventually(lambda: any(c.closed for c in harness.changes))
    out = [f for f in fills(harness) if f.entry is DealEntry.OUT]
    assert [f.position_ticket for f in out] == [ticket]
    assert out[0].profit == Decimal("-61.00")
    system = [o for c in harness.changes for o in c.orders if o.source.value == "system"]
    assert system and system[0].comment.startswith("[sl")


async def test_requotes_are_retried_with_a_fresh_price(terminal: FakeTerminal, make_broker) -> None:  # type: ignore[no-untyped-def]
    harness = await make_broker()
    terminal.requotes = 2
    result = await harness.broker.send_order(request())
    assert result.retcode == retcodes.DONE
    deals = [r for r in terminal.requests if r["action"] == 1]
    assert len(deals) == 3
    assert len(harness.broker.positions()) == 1


async def test_a_lost_answer_is_reconciled_and_never_sent_twice(
    terminal: FakeTerminal, make_broker
) -> None:  # type: ignore[no-untyped-def]
    harness = await make_broker()
    terminal.timeout_after_execution = 1
    result = await harness.broker.send_order(request())
    assert result.ok and result.order.status is OrderStatus.FILLED  # type: ignore[union-attr]
    assert len(terminal.requests) == 1, "the order executed: it must not be sent again"
    assert len(harness.broker.positions()) == 1
    assert len(result.changes.fills) == 1


async def test_a_dead_trade_server_is_reconciled_then_retried(
    terminal: FakeTerminal, make_broker
) -> None:  # type: ignore[no-untyped-def]
    harness = await make_broker()
    terminal.server_down = True
    result = await harness.broker.send_order(request())
    assert result.retcode == retcodes.CONNECTION
    assert "No connection with the trade server" in result.message
    assert result.order.status is OrderStatus.REJECTED  # type: ignore[union-attr]
    assert len(terminal.requests) == 4 and harness.broker.positions() == []


async def test_refusals_are_final_and_in_words(terminal: FakeTerminal, make_broker) -> None:  # type: ignore[no-untyped-def]
    harness = await make_broker()
    result = await harness.broker.send_order(request(volume=Decimal("0.015")))
    assert result.retcode == retcodes.INVALID_VOLUME
    assert result.order.reason.startswith("Invalid volume in the request")  # type: ignore[union-attr]
    assert len(terminal.requests) == 1
    broke = await harness.broker.send_order(request(client_order_id="c-2", volume=Decimal(90)))
    assert broke.retcode == retcodes.NO_MONEY and "not enough money" in broke.message
    assert len(terminal.requests) == 1, "order_check refused it before order_send"


async def test_algo_trading_off_raises_an_alert_saying_what_to_switch_on(
    terminal: FakeTerminal, make_broker
) -> None:  # type: ignore[no-untyped-def]
    harness = await make_broker()
    terminal.algo_trading = False
    result = await harness.broker.send_order(request())
    assert result.retcode == retcodes.CLIENT_DISABLES_AT
    [alert] = [a for a in harness.alerts.recent() if a.kind == "mt5_autotrading"]
    assert "Algo Trading" in alert.message and alert.account_id == "mt5-001"


async def test_a_partial_fill_reports_what_was_filled(terminal: FakeTerminal, make_broker) -> None:  # type: ignore[no-untyped-def]
    harness = await make_broker(mt5_account(symbols=["EURUSD"]))
    terminal.partial = Decimal("0.5")
    from engine.models import Filling

    result = await harness.broker.send_order(request(volume=Decimal("0.40"), filling=Filling.IOC))
    assert result.retcode == retcodes.DONE_PARTIAL
    order = result.order
    assert order is not None and order.filled_volume == Decimal("0.2")
    assert "only 0.2 of 0.40 lots" in (order.reason or "")
    assert harness.broker.positions()[0].volume == Decimal("0.2")


async def test_cancel_and_modify_pending_and_stops(terminal: FakeTerminal, make_broker) -> None:  # type: ignore[no-untyped-def]
    harness = await make_broker()
    broker = harness.broker
    placed = await broker.send_order(request(type=OrderType.STOP, price=Decimal("1.11000")))
    ticket = placed.order.ticket  # type: ignore[union-attr]
    moved = await broker.modify_order(ticket, Decimal("1.11500"), Decimal("1.10500"), None)
    assert moved.ok
    await eventually(lambda: broker.open_orders()[0].price == Decimal("1.11500"))
    cancelled = await broker.cancel_order(ticket)
    assert cancelled.ok and cancelled.order.status is OrderStatus.CANCELLED  # type: ignore[union-attr]
    assert broker.open_orders() == []
    opened = await broker.send_order(request(client_order_id="c-3"))
    position = opened.order.ticket  # type: ignore[union-attr]
    stops = await broker.modify_position(position, Decimal("1.09000"), Decimal("1.12000"))
    assert stops.ok
    assert (broker.positions()[0].sl, broker.positions()[0].tp) == (
        Decimal("1.09000"),
        Decimal("1.12000"),
    )


async def test_a_killed_bridge_reconnects_and_resynchronises(
    terminal: FakeTerminal, make_broker
) -> None:  # type: ignore[no-untyped-def]
    harness = await make_broker()
    broker = harness.broker
    result = await broker.send_order(request())
    pid = broker.bridge.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    await eventually(lambda: (WorkerState.RUNNING, None) in harness.links, timeout=15)
    assert harness.links[0][0] is WorkerState.RECONNECTING
    assert broker.bridge.pid != pid and broker.connected
    assert [p.ticket for p in broker.positions()] == [result.order.ticket]  # type: ignore[union-attr]
    assert len(fills(harness)) == 0, "nothing new happened: nothing is reported twice"
    again = await broker.send_order(request(client_order_id="c-2"))
    assert again.ok


async def test_a_terminal_that_stops_answering_times_out_and_comes_back(
    terminal: FakeTerminal, make_broker
) -> None:  # type: ignore[no-untyped-def]
    harness = await make_broker(mt5_account(mt5_timeout_seconds=0.5))
    broker = harness.broker
    with terminal.silent():
        result = await broker.send_order(request())
        assert result.retcode == retcodes.TIMEOUT
        assert result.order.status is OrderStatus.PENDING  # type: ignore[union-attr]
        assert "did not answer" in result.message
        await eventually(lambda: harness.links and harness.links[0][0] is WorkerState.RECONNECTING)
        refused = await broker.send_order(request(client_order_id="c-2"))
        assert refused.retcode == retcodes.CONNECTION
    await eventually(lambda: (WorkerState.RUNNING, None) in harness.links, timeout=20)
    settled = [o for c in harness.changes for o in c.orders if o.ticket == result.order.ticket]  # type: ignore[union-attr]
    # The silent terminal never saw the request: after reconnecting it is ruled out.
    assert settled[-1].status is OrderStatus.REJECTED
    assert broker.positions() == []


async def test_a_broken_ipc_link_reconnects_with_backoff(
    terminal: FakeTerminal, make_broker
) -> None:  # type: ignore[no-untyped-def]
    harness = await make_broker()
    terminal.ipc_down = True
    await eventually(lambda: harness.links and harness.links[0][0] is WorkerState.RECONNECTING)
    await eventually(lambda: len(harness.links) >= 3, timeout=15)  # failed attempts
    terminal.ipc_down = False
    await eventually(lambda: harness.links[-1] == (WorkerState.RUNNING, None), timeout=15)
    assert harness.broker.connected


async def test_rates_are_the_closed_bars_of_copy_rates_from_pos(
    terminal: FakeTerminal, make_broker
) -> None:  # type: ignore[no-untyped-def]
    harness = await make_broker()
    bars = await harness.broker.rates("EURUSD", Timeframe.M5, 5)
    assert terminal.rates_requests == [("EURUSD", mt5.TIMEFRAME_M5, 1, 5)]
    assert len(bars) == 5 and bars[-1].close == 1.1
    forming = int(terminal.now().timestamp()) // 300 * 300
    assert int(bars[-1].time.timestamp()) == forming - 300, "the forming bar is left out"
    assert [int(b.time.timestamp()) for b in bars] == list(range(forming - 1500, forming, 300))


async def test_the_terminals_ticks_stream_as_quotes_when_they_move(
    terminal: FakeTerminal, make_broker
) -> None:  # type: ignore[no-untyped-def]
    harness = await make_broker()
    assert sorted((q.symbol, q.bid) for q in harness.quotes) == [
        ("EURUSD", Decimal("1.10000")),
        ("GBPUSD", Decimal("1.27000")),
    ]
    terminal.set_price("EURUSD", "1.10200", "1.10210")
    await eventually(lambda: harness.quotes[-1].bid == Decimal("1.10200"))
    reads = terminal.calls.count("positions_get")
    await eventually(lambda: terminal.calls.count("positions_get") >= reads + 3)
    # GBPUSD never moved and EURUSD moved once: nothing else was news.
    assert [(q.symbol, q.bid) for q in harness.quotes[2:]] == [("EURUSD", Decimal("1.10200"))]
    assert harness.broker.last_quote("EURUSD").ask == Decimal("1.10210")  # type: ignore[union-attr]


async def test_pnl_today_is_todays_realised_deals_plus_the_open_profit(
    terminal: FakeTerminal, make_broker
) -> None:  # type: ignore[no-untyped-def]
    account = terminal.accounts[LOGIN]
    account.commission_per_lot = Decimal(7)
    harness = await make_broker()
    broker = harness.broker
    day_start = datetime.combine(terminal.now().astimezone(UTC).date(), time.min, UTC)
    with terminal.lock:  # a deal of ours closed a second before midnight (UTC)
        account.deals.append(
            {
                "ticket": 1, "order": 2, "time": int(day_start.timestamp()) - 1,
                "time_msc": int(day_start.timestamp()) * 1000 - 1000, "type": mt5.DEAL_TYPE_SELL,
                "entry": mt5.DEAL_ENTRY_OUT, "magic": MAGIC, "position_id": 3, "reason": 4,
                "volume": 0.1, "price": 1.1, "commission": 0.0, "swap": 0.0, "profit": 100.0,
                "fee": 0.0, "symbol": "EURUSD", "comment": "", "external_id": "",
            }
        )  # fmt: skip
    opened = await broker.send_order(request())
    terminal.set_price("EURUSD", "1.10510", "1.10520")
    closed = await broker.close_position(opened.order.ticket)  # type: ignore[union-attr]
    assert closed.ok, closed.message
    await broker.send_order(request(client_order_id="c-2"))  # opens at 1.10520
    terminal.set_price("EURUSD", "1.10420", "1.10430")
    await eventually(lambda: broker.positions()[0].profit == Decimal("-10.00"))
    snapshot = broker.account()
    # +50.00 on the closed trade, less 3 x 0.70 commission; the open one is -10.00.
    assert snapshot.pnl_today == Decimal("37.90")
    assert snapshot.unrealised_pnl == Decimal("-10.00")
    assert snapshot.realised_pnl == Decimal("150.00"), "yesterday's deal is realised, not today"


async def test_orders_deals_and_positions_carry_their_terminal_tickets(
    terminal: FakeTerminal, make_broker
) -> None:  # type: ignore[no-untyped-def]
    harness = await make_broker()
    result = await harness.broker.send_order(request())
    [deal] = terminal.accounts[LOGIN].deals
    [position] = harness.broker.positions()
    assert result.order.broker_ticket == deal["order"]  # type: ignore[union-attr]
    assert result.changes.fills[0].broker_ticket == deal["ticket"]
    assert position.broker_ticket == deal["position_id"]
    pending = await harness.broker.send_order(
        request(client_order_id="c-2", type=OrderType.LIMIT, price=Decimal("1.09000"))
    )
    [resting] = terminal.accounts[LOGIN].orders
    assert pending.order.broker_ticket == resting  # type: ignore[union-attr]


async def test_an_mt5linux_server_that_does_not_answer_is_named_when_connecting(
    terminal: FakeTerminal, make_broker
) -> None:  # type: ignore[no-untyped-def]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, not listening: connections are refused
        account = mt5_account(mt5linux_host="127.0.0.1", mt5linux_port=port)
        with pytest.raises(Unavailable, match=f"mt5linux server at 127.0.0.1:{port} does not"):
            await make_broker(account)
    assert terminal.calls == []


async def test_orders_carry_the_accounts_magic_and_login(
    terminal: FakeTerminal, make_broker
) -> None:  # type: ignore[no-untyped-def]
    harness = await make_broker()
    await harness.broker.send_order(request(comment="my note"))
    [sent] = terminal.requests
    assert sent["magic"] == MAGIC and sent["comment"].endswith("my note")
    assert terminal.accounts[LOGIN].positions


async def test_depth_of_market_from_market_book_where_the_terminal_has_it(
    terminal: FakeTerminal, make_broker
) -> None:  # type: ignore[no-untyped-def]
    harness = await make_broker()
    assert await harness.broker.book("EURUSD", 5) is None  # this server gives no depth
    assert terminal.calls.count("market_book_add") == 1
    assert await harness.broker.book("EURUSD", 5) is None
    assert terminal.calls.count("market_book_add") == 1  # not asked again

    terminal.book_depth = 3
    deep = await make_broker()
    book = await deep.broker.book("GBPUSD", 2)
    assert book is not None and terminal.books == {"GBPUSD"}
    # market_book_get lists by price, highest first; the book is best first.
    assert [(str(level.price), level.volume) for level in book.asks] == [
        ("1.27012", 1.0),
        ("1.27013", 2.0),
    ]
    assert [(str(level.price), level.volume) for level in book.bids] == [
        ("1.27000", 2.0),
        ("1.26999", 3.0),
    ]
    await deep.broker.disconnect()
    assert terminal.books == set()  # released with the connection
