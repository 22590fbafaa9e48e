"""Pre-trade check cost: orders per second through the engine's whole
pre-trade gate (kill switch, validation, risk limits) and the paper broker,
beside the paper broker's `send_order` alone, in the same run.

One paper account (hedging, six symbols, strategies paused) with one loose
risk limit of every kind and three over the book, so every check does its full
work and none refuses. Each order is a 0.01-lot market order with SL and TP,
as a strategy sends it; orders go in batches of 10, after which the account is
flattened untimed, so the account never holds more than 10 positions, and
the virtual clock moves 6 s, so the order-rate limit sees 100 orders a minute. Three
ways are timed per order, interleaved round by round on the same quotes:

- `paper`: `PaperBroker.send_order` on a broker of its own;
- `gate + paper`: a fresh `OrderContext` judged by `engine.gate`, then the
  same broker's `send_order` (what the checks add is the difference); and the
  same with a gate of the kill switch and validation only (what risk adds);
- `Worker.send`: the engine's real path for a strategy's order (gate, broker,
  de-duplication, the ledger write queued and the events published at commit).

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
BATCH = 10
BATCH_SECONDS = 6.0  # of virtual time per batch: 100 orders a minute, a busy account
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


class Bench:
    """The engine, its worker, and a paper broker of its own on the same quotes."""

    def __init__(self, engine: Engine) -> None:
        assert engine.manager is not None
        self.engine = engine
        assert isinstance(engine.clock, VirtualClock)
        self.clock = engine.clock
        self.worker: Worker = next(iter(engine.manager.workers.values()))
        self.account_id = self.worker.account_id
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

    def request(self) -> OrderRequest:
        self._ids += 1
        return OrderRequest(
            account_id=self.account_id,
            symbol=SYMBOL,
            side=Side.BUY,
            volume=VOLUME,
            sl=self.sl,
            tp=self.tp,
            client_order_id=f"bench-{self._ids}",
            source=OrderSource.STRATEGY,
            strategy_id="bench",
        )

    def context(self, request: OrderRequest) -> OrderContext:
        instrument = self.engine.settings.instruments.get(request.symbol)
        return OrderContext(request, self.broker, instrument, self.engine.clock.now())

    # --- the three ways --------------------------------------------------------------

    async def paper(self, request: OrderRequest) -> None:
        result = await self.broker.send_order(request)
        assert result.ok, result.message

    async def gated(self, request: OrderRequest) -> None:
        rejection = self.engine.gate.check(self.context(request))
        assert rejection is None, rejection
        result = await self.broker.send_order(request)
        assert result.ok, result.message

    async def gated_no_risk(self, request: OrderRequest) -> None:
        rejection = self.no_risk.check(self.context(request))
        assert rejection is None, rejection
        result = await self.broker.send_order(request)
        assert result.ok, result.message

    async def worker_send(self, request: OrderRequest) -> None:
        result = await self.worker.send(request, durable=False)
        assert result.ok, result.message

    async def flatten(self) -> None:
        for position in self.broker.positions():
            await self.broker.close_position(position.ticket)
        assert self.worker.broker is not None
        for position in self.worker.broker.positions():
            await self.worker.close_position(position.ticket)

    async def timed(self, send: Callable[[OrderRequest], Awaitable[None]], orders: int) -> float:
        """Seconds per order of `send`, flattening untimed after every batch."""
        spent = 0.0
        for _ in range(orders // BATCH):
            requests = [self.request() for _ in range(BATCH)]
            began = time.perf_counter()
            for request in requests:
                await send(request)
            spent += time.perf_counter() - began
            await self.flatten()
            await self.clock.advance(BATCH_SECONDS)
        return spent / (orders // BATCH * BATCH)

    def check_seconds(self, check: Callable[[OrderContext], object], orders: int) -> float:
        """Seconds per call of one check alone, on a fresh context each time (as
        the worker builds one per order), with the broker holding one position."""
        requests = [self.request() for _ in range(orders)]
        began = time.perf_counter()
        for request in requests:
            check(self.context(request))
        return (time.perf_counter() - began) / orders


async def run(quick: bool = False) -> dict[str, Any]:
    rounds, orders = (3, 1_000) if quick else (5, 4_000)
    with tempfile.TemporaryDirectory() as tmp:
        engine = await Engine.open(orders_settings(), Path(tmp) / "orders.db", VirtualClock())
        await engine.start(run_loops=False)
        engine.pause_strategies()
        bench = Bench(engine)
        ways = {
            "paper": bench.paper,
            "gated": bench.gated,
            "no_risk": bench.gated_no_risk,
            "worker": bench.worker_send,
        }
        for send in ways.values():  # warm-up: caches, first-time imports
            await bench.timed(send, 200)
        seconds: dict[str, list[float]] = {name: [] for name in ways}
        for _ in range(rounds):
            for name, send in ways.items():
                seconds[name].append(await bench.timed(send, orders))
        await bench.paper(bench.request())  # one open position for the per-check timings
        validation = OrderValidation(engine.settings.account, engine.quote)
        per_check = {
            "kill_switch": bench.check_seconds(engine.kill_switch.check, orders),
            "validation": bench.check_seconds(validation, orders),
            "risk": bench.check_seconds(engine.risk.check, orders),
            "gate": bench.check_seconds(engine.gate.check, orders),
        }
        gate_names = engine.gate.names
        await engine.quiesce()
        await engine.close()
    paper, gated, no_risk, worker = (statistics.median(seconds[name]) for name in ways)

    def added(way: str) -> list[float]:
        """µs per order `way` adds to the broker alone, round by round."""
        return [(w - p) * 1e6 for w, p in zip(seconds[way], seconds["paper"], strict=True)]

    checks, without_risk = added("gated"), added("no_risk")
    return {
        "gate": ", ".join(gate_names),
        "orders_per_round": orders,
        "rounds": rounds,
        "paper_send_order_per_s": round(1 / paper),
        "gate_plus_paper_per_s": round(1 / gated),
        "worker_send_per_s": round(1 / worker),
        "paper_us_per_order": round(paper * 1e6, 1),
        "gate_plus_paper_us_per_order": round(gated * 1e6, 1),
        "worker_send_us_per_order": round(worker * 1e6, 1),
        "checks_add_us_per_order": round(statistics.median(checks), 1),
        "checks_add_us_range": f"{min(checks):.1f}-{max(checks):.1f}",
        "kill_switch_and_validation_add_us": round(statistics.median(without_risk), 1),
        "gate_without_risk_per_s": round(1 / no_risk),
        "worker_adds_us_per_order": round((worker - paper) * 1e6, 1),
        **{f"{name}_alone_us": round(s * 1e6, 1) for name, s in per_check.items()},
        "goal_checks_under_50_us": statistics.median(checks) < 50,
    }


if __name__ == "__main__":
    command_line(run, __doc__)
