"""Pre-trade check cost: orders per second through the engine's whole
pre-trade gate (kill switch, validation, risk limits) and the paper broker,
beside the paper broker's `send_order` alone, in the same run, on an account
already holding 0, 10 and 100 open positions.

One paper account (hedging, six symbols, strategies paused) with one loose
risk limit of every kind and three over the book, so every check does its full
work and none refuses. The account is given its open positions first (each
the smallest volume of its symbol, spread over the account's symbols, no
stops), then each timed order is a 0.01-lot EURUSD market order with SL and
TP, as a strategy sends it, closed again untimed, so every order meets
exactly that many positions; the virtual clock
moves 0.6 s per order, so the order-rate limit sees 100 orders a minute. Four
ways are timed per order, interleaved round by round on the same quotes:

- `paper`: `PaperBroker.send_order` on a broker of its own;
- `gate + paper`: a fresh `OrderContext` judged by `engine.gate`, then the
  same broker's `send_order` (what the checks add is the difference); and the
  same with a gate of the kill switch and validation only (what risk adds);
- `Worker.send`: the engine's real path for a strategy's order (gate, broker,
  de-duplication, the ledger write queued and the events published at commit).

The goal is the checks adding at most half the broker's own cost per order, at
every number of positions; the gate alone on a fresh context is timed as well,
a figure without the subtraction's noise.

    python -m bench.bench_orders [--quick]
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench.bench_engine import bench_settings
from bench.report import command_line
from config.models import RiskLimitConfig, Settings
from engine.brokers.base import TradeResult
from engine.brokers.paper import PaperBroker
from engine.clock import VirtualClock
from engine.domain import RiskLimitKind, RiskScope
from engine.engine import Engine
from engine.models import OrderRequest, OrderSource, Side
from engine.orders.gate import OrderContext, OrderGate
from engine.orders.validation import (
    VALIDATION_CHECK,
    VALIDATION_RANK,
    OrderValidation,
)
from engine.risk import KILL_SWITCH_CHECK, KILL_SWITCH_RANK
from engine.workers.worker import Worker

SYMBOL = "EURUSD"
HELD = (0, 10, 100)  # open positions the account holds while orders are timed
ORDER_SECONDS = 0.6  # of virtual time per order: 100 orders a minute, a busy account
VOLUME = Decimal("0.01")

# Loose enough that nothing is refused: refusals are cheaper and would flatter the gate.
_ACCOUNT_LIMITS = (
    (RiskLimitKind.MAX_POSITION_SIZE, "400", "500"),
    (RiskLimitKind.MAX_EXPOSURE, "4000000000", "5000000000"),
    (RiskLimitKind.MAX_OPEN_POSITIONS, "4000", "5000"),
    (RiskLimitKind.MAX_DAILY_LOSS, "800000", "900000"),
    (RiskLimitKind.MAX_DRAWDOWN, "80", "90"),
    (RiskLimitKind.MAX_ORDERS_PER_MINUTE, "8000000", "9000000"),
)
_BOOK_LIMITS = (
    (RiskLimitKind.MAX_DRAWDOWN, "80", "90"),
    (RiskLimitKind.MAX_DAILY_LOSS, "800000", "900000"),
    (RiskLimitKind.MAX_EXPOSURE, "4000000000", "5000000000"),
)


def orders_settings() -> Settings:
    settings = bench_settings(1)
    account = settings.accounts[0].model_copy(update={"starting_balance": Decimal(1_000_000)})
    settings.accounts = [account]
    settings.risk.limits = [
        RiskLimitConfig(
            id=f"{account.id}-{kind.value}",
            scope=RiskScope.ACCOUNT,
            account_id=account.id,
            kind=kind,
            warning=Decimal(warning),
            threshold=Decimal(threshold),
        )
        for kind, warning, threshold in _ACCOUNT_LIMITS
    ] + [
        RiskLimitConfig(
            id=f"book-{kind.value}",
            scope=RiskScope.GLOBAL,
            kind=kind,
            warning=Decimal(warning),
            threshold=Decimal(threshold),
        )
        for kind, warning, threshold in _BOOK_LIMITS
    ]
    return settings


Send = Callable[[OrderRequest], Awaitable[int]]  # an order sent one way; the new position


class Bench:
    """The engine, its worker, and a paper broker of its own on the same quotes."""

    def __init__(self, engine: Engine) -> None:
        assert engine.manager is not None
        self.engine = engine
        assert isinstance(engine.clock, VirtualClock)
        self.clock = engine.clock
        self.worker: Worker = next(iter(engine.manager.workers.values()))
        self.account_id = self.worker.account_id
        self.symbols = engine.settings.accounts[0].symbols
        self.broker = PaperBroker(
            self.worker.account,
            engine.settings.instruments,
            engine.clock,
            self.worker.rt.tickets,
            quote_source=engine.quote,
        )
        quote = engine.quote(SYMBOL)
        assert quote is not None
        # The engine's gate without the risk engine's check.
        self.no_risk = OrderGate()
        self.no_risk.add(KILL_SWITCH_CHECK, engine.kill_switch.check, rank=KILL_SWITCH_RANK)
        validation = OrderValidation(engine.settings.account, engine.quote)
        self.no_risk.add(VALIDATION_CHECK, validation, rank=VALIDATION_RANK)
        self.sl = quote.bid - Decimal("0.00500")
        self.tp = quote.bid + Decimal("0.00500")
        self._ids = 0
        self.gate_seconds = 0.0  # spent in the gate by `gated`, context included

    def request(self, symbol: str = SYMBOL) -> OrderRequest:
        self._ids += 1
        stops = symbol == SYMBOL
        return OrderRequest(
            account_id=self.account_id,
            symbol=symbol,
            side=Side.BUY,
            volume=VOLUME if stops else self.engine.settings.instruments[symbol].volume_min,
            sl=self.sl if stops else None,
            tp=self.tp if stops else None,
            client_order_id=f"bench-{self._ids}",
            source=OrderSource.STRATEGY,
            strategy_id="bench",
        )

    def context(self, request: OrderRequest) -> OrderContext:
        instrument = self.engine.settings.instruments.get(request.symbol)
        return OrderContext(request, self.broker, instrument, self.engine.clock.now())

    # --- the four ways, each giving the ticket of the position it opened -------------

    async def paper(self, request: OrderRequest) -> int:
        return _opened(await self.broker.send_order(request))

    async def gated(self, request: OrderRequest) -> int:
        began = time.perf_counter()
        rejection = self.engine.gate.check(self.context(request))
        self.gate_seconds += time.perf_counter() - began
        assert rejection is None, rejection
        return _opened(await self.broker.send_order(request))

    async def gated_no_risk(self, request: OrderRequest) -> int:
        rejection = self.no_risk.check(self.context(request))
        assert rejection is None, rejection
        return _opened(await self.broker.send_order(request))

    async def worker_send(self, request: OrderRequest) -> int:
        return _opened(await self.worker.send(request, durable=False))

    async def close(self, way: Send, ticket: int) -> None:
        if way == self.worker_send:
            result = await self.worker.close_position(ticket)
        else:
            result = await self.broker.close_position(ticket)
        assert result.ok, result.message

    async def hold(self, positions: int) -> None:
        """Open positions (spread over the account's symbols) until the bench's
        broker and the worker's each hold `positions`."""
        assert self.worker.broker is not None
        for broker, send in ((self.broker, self.paper), (self.worker.broker, self.worker_send)):
            held = len(broker.positions())
            assert held <= positions, f"{held} positions held, {positions} wanted"
            for n in range(held, positions):
                await send(self.request(self.symbols[n % len(self.symbols)]))
            await self.clock.advance(ORDER_SECONDS)

    async def timed(self, way: Send, orders: int) -> float:
        """Seconds per order sent `way`, each opened position closed again untimed."""
        spent = 0.0
        perf_counter = time.perf_counter
        for _ in range(orders):
            request = self.request()
            began = perf_counter()
            ticket = await way(request)
            spent += perf_counter() - began
            await self.close(way, ticket)
            await self.clock.advance(ORDER_SECONDS)
        return spent / orders

    def check_seconds(self, check: Callable[[OrderContext], object], orders: int) -> float:
        """Seconds per call of one check alone, on a fresh context each time (as
        the worker builds one per order)."""
        requests = [self.request() for _ in range(orders)]
        began = time.perf_counter()
        for request in requests:
            check(self.context(request))
        return (time.perf_counter() - began) / orders


def _opened(result: TradeResult) -> int:
    assert result.ok and result.order is not None, result.message
    return result.order.ticket  # a hedging account's new position has the order's ticket


async def run(quick: bool = False) -> dict[str, Any]:
    rounds, orders = (3, 400) if quick else (5, 2_000)
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        engine = await Engine.open(orders_settings(), Path(tmp) / "orders.db", VirtualClock())
        await engine.start(run_loops=False)
        try:
            await _measure(engine, rounds, orders, figures)
        finally:
            await engine.quiesce()
            await engine.close()
    figures["goal_checks_at_most_half_the_broker"] = all(
        figures[f"{held}_positions_checks_vs_paper"] <= 0.5 for held in HELD
    )
    return figures


async def _measure(engine: Engine, rounds: int, orders: int, figures: dict[str, Any]) -> None:
    engine.pause_strategies()
    bench = Bench(engine)
    ways: dict[str, Send] = {
        "paper": bench.paper,
        "gated": bench.gated,
        "no_risk": bench.gated_no_risk,
        "worker": bench.worker_send,
    }
    validation = OrderValidation(engine.settings.account, engine.quote)
    for way in ways.values():  # warm-up: caches, first-time imports
        await bench.timed(way, 200)
    figures["gate"] = ", ".join(engine.gate.names)
    figures["orders_per_round"] = orders
    figures["rounds"] = rounds
    for held in HELD:
        await bench.hold(held)
        seconds: dict[str, list[float]] = {name: [] for name in ways}
        seconds["in_flow"] = []
        for _ in range(rounds):
            for name, way in ways.items():
                bench.gate_seconds = 0.0
                seconds[name].append(await bench.timed(way, orders))
                if way == bench.gated:
                    seconds["in_flow"].append(bench.gate_seconds / orders)
        alone = {
            "kill_switch": bench.check_seconds(engine.kill_switch.check, orders),
            "validation": bench.check_seconds(validation, orders),
            "risk": bench.check_seconds(engine.risk.check, orders),
            "gate": bench.check_seconds(engine.gate.check, orders),
        }
        figures.update(_figures(held, seconds, alone))


def _figures(held: int, seconds: dict[str, list[float]], alone: dict[str, float]) -> dict[str, Any]:
    paper, gated, no_risk, worker, in_flow = (
        statistics.median(seconds[name])
        for name in ("paper", "gated", "no_risk", "worker", "in_flow")
    )

    def added(way: str) -> list[float]:
        """µs per order `way` adds to the broker alone, round by round."""
        return [(w - p) * 1e6 for w, p in zip(seconds[way], seconds["paper"], strict=True)]

    checks, without_risk = added("gated"), added("no_risk")
    at = f"{held}_positions"
    return {
        f"{at}_paper_us_per_order": round(paper * 1e6, 1),
        f"{at}_gate_plus_paper_us_per_order": round(gated * 1e6, 1),
        f"{at}_worker_send_us_per_order": round(worker * 1e6, 1),
        f"{at}_paper_send_order_per_s": round(1 / paper),
        f"{at}_gate_plus_paper_per_s": round(1 / gated),
        f"{at}_gate_without_risk_per_s": round(1 / no_risk),
        f"{at}_checks_add_us_per_order": round(statistics.median(checks), 1),
        f"{at}_checks_add_us_range": f"{min(checks):.1f}-{max(checks):.1f}",
        f"{at}_kill_switch_and_validation_add_us": round(statistics.median(without_risk), 1),
        **{f"{at}_{name}_alone_us": round(s * 1e6, 1) for name, s in alone.items()},
        f"{at}_gate_in_flow_us": round(in_flow * 1e6, 1),
        f"{at}_gate_in_flow_vs_paper": round(in_flow / paper, 2),
        f"{at}_checks_vs_paper": round(statistics.median(checks) / (paper * 1e6), 2),
        f"{at}_gate_alone_vs_paper": round(alone["gate"] / paper, 2),
    }


if __name__ == "__main__":
    command_line(run, __doc__)
