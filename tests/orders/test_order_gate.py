"""The pre-trade gate: every order, from a person or a strategy, passes its
checks in rank order before the broker hears of it, and a refusal is stored
as a rejected order naming the rule."""

from __future__ import annotations

from decimal import Decimal

from engine.brokers import retcodes
from engine.models import OrderRequest, OrderSource, OrderStatus, Side
from engine.orders.gate import OrderContext, OrderGate, PreTradeCheck, Rejection
from tests.conftest import EngineFactory


def request(client_order_id: str, **fields: object) -> OrderRequest:
    return OrderRequest(
        account_id="account-001",
        symbol="EURUSD",
        side=Side.BUY,
        volume=Decimal("0.1"),
        client_order_id=client_order_id,
        **fields,  # type: ignore[arg-type]
    )


def test_checks_run_in_rank_order_and_the_first_refusal_decides() -> None:
    seen: list[str] = []

    def refuse(name: str) -> PreTradeCheck:
        def check(context: OrderContext) -> Rejection | None:
            seen.append(name)
            return Rejection(retcodes.INVALID, f"{name} says no", name)

        return check

    gate = OrderGate()
    gate.add("late", refuse("late"), rank=200)
    gate.add("early", refuse("early"), rank=0)
    assert gate.names == ["early", "late"]
    rejection = gate.check(OrderContext(request("g-1"), None, None, None))  # type: ignore[arg-type]
    assert rejection is not None and rejection.rule == "early"
    assert seen == ["early"]
    gate.remove("early")
    assert gate.names == ["late"]


async def test_a_refused_order_is_stored_rejected_and_never_reaches_the_broker(
    engine_factory: EngineFactory,
) -> None:
    engine = await engine_factory(run_loops=False)
    assert engine.manager is not None
    worker = engine.manager.get("account-001")
    assert worker.broker is not None
    before = worker.broker.positions()
    seen: list[OrderContext] = []

    def no_eurusd(context: OrderContext) -> Rejection | None:
        seen.append(context)
        if context.request.symbol == "EURUSD":
            return Rejection(retcodes.LIMIT_VOLUME, "EURUSD is closed to new orders.", "test.rule")
        return None

    engine.gate.add("test", no_eurusd)
    result = await worker.send(request("gate-1"))
    assert not result.ok
    assert result.retcode == retcodes.LIMIT_VOLUME
    assert result.message == "EURUSD is closed to new orders."
    assert worker.broker.positions() == before
    stored = await engine.store.ledger.order_by_client_id("account-001", "gate-1")
    assert stored is not None
    assert stored.status is OrderStatus.REJECTED
    assert stored.reason == "EURUSD is closed to new orders."
    # The context gives checks what they need, lazily.
    assert seen[0].funds.equity == worker.broker.account().equity
    assert seen[0].holdings == {} and seen[0].position is None
    assert seen[0].quote is not None and seen[0].instrument is not None

    # Strategies' orders take the same path.
    strategy_order = request("gate-2", source=OrderSource.STRATEGY, strategy_id="s-1")
    assert not (await worker.send(strategy_order)).ok

    engine.gate.remove("test")
    assert (await worker.send(request("gate-3"))).ok
