"""The terminal book on its own: terminal tickets matching a restart exactly
(the comment tag only as the fallback), deals stored before a restart never
stored twice, today's realised P&L, and ticks that became quotes only when
they moved."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from engine.brokers.base import PaperLedger
from engine.brokers.mt5 import constants as mt5
from engine.brokers.mt5.book import Reading, TerminalBook
from engine.brokers.mt5.mapping import SymbolSpec
from engine.ids import IdSequence
from engine.models import DealEntry, Fill, OrderSource, Position, Side

MAGIC = 240_101
NOW = datetime(2026, 1, 6, 15, 30, tzinfo=UTC)
DAY_START = datetime(2026, 1, 6, tzinfo=UTC)
OPENED = NOW - timedelta(hours=2)


def book(positions: list[Position] = (), fills: list[Fill] = ()) -> TerminalBook:  # type: ignore[assignment]
    ledger = PaperLedger(balance=Decimal(10000), positions=list(positions))
    made = TerminalBook("mt5-001", MAGIC, IdSequence(1000), lambda: NOW, ledger, fills)
    made.specs["EURUSD"] = SymbolSpec("EURUSD", 5, Decimal("0.00001"), 1, 4)
    return made


def reading(positions: list[dict[str, Any]] = (), deals: list[dict[str, Any]] = ()) -> Reading:  # type: ignore[assignment]
    return Reading({"balance": 10000.0, "equity": 10000.0}, positions, [], deals)


def position_record(identifier: int, comment: str) -> dict[str, Any]:
    return {
        "ticket": identifier,
        "identifier": identifier,
        "symbol": "EURUSD",
        "type": mt5.POSITION_TYPE_BUY,
        "volume": 0.1,
        "price_open": 1.1,
        "time": int(OPENED.timestamp()),
        "sl": 0.0,
        "tp": 0.0,
        "price_current": 1.1005,
        "profit": 5.0,
        "swap": 0.0,
        "magic": MAGIC,
        "comment": comment,
    }


def deal(ticket: int, order: int, entry: int, when: datetime, **values: Any) -> dict[str, Any]:
    return {
        "ticket": ticket,
        "order": order,
        "time": int(when.timestamp()),
        "time_msc": int(when.timestamp() * 1000),
        "type": mt5.DEAL_TYPE_BUY if entry == mt5.DEAL_ENTRY_IN else mt5.DEAL_TYPE_SELL,
        "entry": entry,
        "magic": MAGIC,
        "position_id": 700,
        "volume": 0.1,
        "price": 1.1,
        "commission": 0.0,
        "swap": 0.0,
        "profit": 0.0,
        "fee": 0.0,
        "symbol": "EURUSD",
        "comment": "",
        **values,
    }


def stored_position(broker_ticket: int | None, comment: str = "") -> Position:
    return Position(
        ticket=42,
        account_id="mt5-001",
        symbol="EURUSD",
        side=Side.BUY,
        volume=Decimal("0.1"),
        open_price=Decimal("1.10000"),
        open_time=OPENED,
        strategy_id="s1",
        magic=MAGIC,
        comment=comment,
        broker_ticket=broker_ticket,
    )


def stored_fill(broker_ticket: int | None) -> Fill:
    return Fill(
        ticket=43,
        order_ticket=42,
        position_ticket=42,
        account_id="mt5-001",
        symbol="EURUSD",
        side=Side.BUY,
        entry=DealEntry.IN,
        volume=Decimal("0.1"),
        price=Decimal("1.10000"),
        strategy_id="s1",
        time=OPENED,
        broker_ticket=broker_ticket,
    )


def test_a_restart_matches_an_untagged_position_by_its_terminal_ticket() -> None:
    # Opened by hand under the account's magic: no `td` tag in its comment.
    restarted = book([stored_position(broker_ticket=700)])
    changes = restarted.absorb(reading([position_record(700, comment="")]))
    assert list(restarted.positions) == [42]
    assert not changes.closed and not changes.positions, "nothing changed on the terminal"
    # Without its terminal ticket the same position is a stranger: closed, and a new one.
    before_0007 = book([stored_position(broker_ticket=None)])
    changes = before_0007.absorb(reading([position_record(700, comment="")]))
    assert [p.ticket for p in changes.closed] == [42] and list(before_0007.positions) == [1001]


def test_a_tagged_position_stored_before_0007_is_matched_by_its_tag_and_gets_its_ticket() -> None:
    restarted = book([stored_position(broker_ticket=None, comment="")])
    changes = restarted.absorb(reading([position_record(700, comment="td42")]))
    assert not changes.closed
    assert [(p.ticket, p.broker_ticket) for p in changes.positions] == [(42, 700)]


def test_deals_stored_before_a_restart_are_neither_stored_again_nor_given_orders() -> None:
    restarted = book([stored_position(broker_ticket=700)], [stored_fill(broker_ticket=800)])
    stop_loss = deal(
        801, 900, mt5.DEAL_ENTRY_OUT, NOW, price=1.095, profit=-50.0, comment="[sl 1.09500]"
    )
    changes = restarted.absorb(reading([], [deal(800, 700, mt5.DEAL_ENTRY_IN, OPENED), stop_loss]))
    [fill] = changes.fills
    assert (fill.broker_ticket, fill.position_ticket, fill.profit) == (801, 42, Decimal("-50.00"))
    assert fill.strategy_id == "s1"
    [order] = changes.orders  # the terminal's own stop-loss order, not the stored deal's
    assert order.source is OrderSource.SYSTEM and order.broker_ticket == 900
    assert [p.ticket for p in changes.closed] == [42]


def test_an_untagged_stored_deal_falls_back_to_its_time_side_volume_and_price() -> None:
    restarted = book([stored_position(broker_ticket=700)], [stored_fill(broker_ticket=None)])
    changes = restarted.absorb(
        reading([position_record(700, "")], [deal(800, 700, mt5.DEAL_ENTRY_IN, OPENED)])
    )
    assert changes.fills == [] and changes.orders == []


def test_realised_today_counts_profit_less_costs_of_todays_deals_only() -> None:
    account = book([stored_position(broker_ticket=700)])
    yesterday = deal(801, 901, mt5.DEAL_ENTRY_OUT, DAY_START - timedelta(seconds=1), profit=100.0)
    today = deal(
        802, 902, mt5.DEAL_ENTRY_OUT, DAY_START + timedelta(hours=1),
        profit=50.0, swap=-1.5, commission=-0.7, fee=-0.1,
    )  # fmt: skip
    account.absorb(reading([position_record(700, "")], [yesterday, today]))
    assert account.realised_since(DAY_START) == Decimal("47.70")
    assert account.realised == Decimal("148.50"), "both count toward the realised total"
    assert account.realised_since(DAY_START + timedelta(days=1)) == 0


def test_only_ticks_that_moved_become_quotes() -> None:
    account = book()
    tick = {"bid": 1.1, "ask": 1.1001, "time": 1_767_700_000, "time_msc": 1_767_700_000_250}
    [quote] = account.ticks({"EURUSD": tick, "GBPUSD": None})
    assert (quote.bid, quote.ask) == (Decimal("1.10000"), Decimal("1.10010"))
    assert quote.time == datetime.fromtimestamp(1_767_700_000.25, UTC)
    assert account.ticks({"EURUSD": tick}) == [], "the same tick again is no news"
    moved = {**tick, "bid": 1.1002, "time_msc": tick["time_msc"] + 400}
    assert [q.bid for q in account.ticks({"EURUSD": moved})] == [Decimal("1.10020")]
    assert account.quotes["EURUSD"].bid == Decimal("1.10020")
