"""Risk evaluation's share of the engine: 50 paper accounts trading 6 symbols
at 1,000 ticks per second in all, with every account's equity limits judged on
each of its equity changes (every `AccountEvent`: each mark, each trade).

Each account has one limit of every kind (6 x 50) and the book has three limits
over all accounts. Two figures, both from one process:

- timed share: the time spent in the risk engine (its bus listener, the pass
  over the limits spanning accounts, the pre-trade check), measured around each
  call, over the whole run's wall time;
- with/without: the same run with the risk engine detached (no listener, no
  pre-trade check), interleaved three times each; the extra time in per cent.

The market steps every 250 ms and the engine marks every 500 ms, as its loops
do by default, on the virtual clock (one settle turn per timer, as in
bench_engine).

    python -m bench.bench_risk [--quick]
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from bench.bench_engine import bench_settings
from bench.report import command_line
from config.models import RiskLimitConfig, Settings
from engine.clock import VirtualClock
from engine.domain import RiskLimitKind, RiskScope
from engine.engine import Engine
from engine.models import AccountEvent, Event, PositionEvent
from engine.risk import RISK_CHECK, RISK_RANK

ACCOUNTS = 50
TICKS_PER_SECOND = 1_000
STEP_SECONDS = 0.25
MARK_EVERY_STEPS = 2
RUNS = 3

_RISK_EVENTS = (AccountEvent, PositionEvent)

P = ParamSpec("P")
R = TypeVar("R")

# One of each kind per account: (kind, warning, threshold), loose enough that
# trading goes on (a breach would stop orders and change the work measured).
_ACCOUNT_LIMITS = (
    (RiskLimitKind.MAX_POSITION_SIZE, "40", "50"),
    (RiskLimitKind.MAX_EXPOSURE, "40000000", "50000000"),
    (RiskLimitKind.MAX_OPEN_POSITIONS, "400", "500"),
    (RiskLimitKind.MAX_DAILY_LOSS, "8000", "9000"),
    (RiskLimitKind.MAX_DRAWDOWN, "80", "90"),
    (RiskLimitKind.MAX_ORDERS_PER_MINUTE, "5000", "6000"),
)
_BOOK_LIMITS = (
    (RiskLimitKind.MAX_DRAWDOWN, "80", "90"),
    (RiskLimitKind.MAX_DAILY_LOSS, "400000", "450000"),
    (RiskLimitKind.MAX_EXPOSURE, "2000000000", "2500000000"),
)


def risk_settings() -> Settings:
    """bench_engine's 50 accounts, the market scaled to 1,000 ticks/s, limits."""
    settings = bench_settings(ACCOUNTS)
    rate = sum(i.ticks_per_second for i in settings.instruments.values())
    instruments = {
        symbol: instrument.model_copy(
            update={"ticks_per_second": instrument.ticks_per_second * TICKS_PER_SECOND / rate}
        )
        for symbol, instrument in settings.instruments.items()
    }
    limits = [
        RiskLimitConfig(
            id=f"{account.id}-{kind.value}",
            scope=RiskScope.ACCOUNT,
            account_id=account.id,
            kind=kind,
            warning=Decimal(warning),
            threshold=Decimal(threshold),
        )
        for account in settings.accounts
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
    settings.instruments = instruments
    settings.risk.limits = limits
    return settings


class Stopwatch:
    """Time spent inside the wrapped callables."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.calls = 0

    def wrap(self, function: Callable[P, R]) -> Callable[P, R]:
        def timed(*args: P.args, **kwargs: P.kwargs) -> R:
            began = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - began
                self.calls += 1

        return timed


async def engine_run(settings: Settings, seconds: float, db: Path, *, risk: bool) -> dict[str, Any]:
    clock = VirtualClock(settle_rounds=1)
    engine = await Engine.open(settings, db, clock)
    await engine.start(run_loops=False)
    stopwatch = Stopwatch()
    service = engine.risk
    # The listener the engine added at start, and the pass it schedules, timed
    # (or, without risk, detached with the pre-trade check).
    engine.bus.remove_listener(service._on_event)
    if risk:
        # Only the events it acts on are timed: the clock calls would cost more
        # than its type check of a quote.
        on_event = stopwatch.wrap(service._on_event)
        engine.bus.add_listener(
            lambda event: on_event(event) if type(event) in _RISK_EVENTS else None
        )
        service._wide_pass = stopwatch.wrap(service._wide_pass)  # type: ignore[method-assign]
        engine.gate.add(RISK_CHECK, stopwatch.wrap(service.check), rank=RISK_RANK)
    else:
        engine.gate.remove(RISK_CHECK)
    counts = {"ticks": 0, "account_events": 0}

    def count(event: Event) -> None:
        if type(event) is AccountEvent:
            counts["account_events"] += 1

    engine.bus.add_listener(count)
    await engine.quiesce()
    steps = round(seconds / STEP_SECONDS)
    began = time.perf_counter()
    cpu_began = time.process_time()
    for n in range(1, steps + 1):
        await clock.advance(STEP_SECONDS)
        counts["ticks"] += engine.step_market()
        if n % MARK_EVERY_STEPS == 0:
            engine.mark()
    await engine.quiesce()
    elapsed = time.perf_counter() - began
    cpu = time.process_time() - cpu_began
    evaluation = service.evaluate() if risk else None
    await engine.close()
    return {
        "elapsed": elapsed,
        "cpu": cpu,
        "risk_seconds": stopwatch.seconds,
        "risk_calls": stopwatch.calls,
        "violations": len(evaluation.violations) if evaluation else 0,
        "limits": len(evaluation.metrics) if evaluation else 0,
        **counts,
    }


async def run(quick: bool = False) -> dict[str, Any]:
    seconds = 30.0 if quick else 120.0
    settings = risk_settings()
    with_risk: list[dict[str, Any]] = []
    without: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        await engine_run(settings, 10.0, Path(tmp) / "warm-up.db", risk=True)
        for n in range(RUNS):
            with_risk.append(await engine_run(settings, seconds, Path(tmp) / f"r{n}.db", risk=True))
            without.append(await engine_run(settings, seconds, Path(tmp) / f"n{n}.db", risk=False))
    shares = [r["risk_seconds"] / r["elapsed"] for r in with_risk]
    cpu_with = statistics.median(r["cpu"] for r in with_risk)
    cpu_without = statistics.median(r["cpu"] for r in without)
    last = with_risk[-1]
    return {
        "accounts": ACCOUNTS,
        "limits": last["limits"],
        "simulated_seconds": seconds,
        "ticks_per_simulated_second": round(last["ticks"] / seconds),
        "account_events_per_simulated_second": round(last["account_events"] / seconds),
        "risk_calls": last["risk_calls"],
        "violations_at_end": last["violations"],
        "timed_risk_share_pct": round(100 * statistics.median(shares), 2),
        "timed_risk_share_range_pct": f"{100 * min(shares):.2f}-{100 * max(shares):.2f}",
        "engine_cpu_s_with_risk": round(cpu_with, 2),
        "engine_cpu_s_without_risk": round(cpu_without, 2),
        "extra_cpu_with_risk_pct": round(100 * (cpu_with - cpu_without) / cpu_with, 2),
    }


def main() -> None:
    command_line(run, __doc__)


if __name__ == "__main__":
    main()
