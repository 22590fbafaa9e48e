"""Scaling with the number of accounts: 10, 50, 200 and 500 paper accounts
(six symbols each, one strategy each, as `bench engine`), each size in a fresh
interpreter so its memory is its own:

- `us_per_worker_tick`: engine time per worker-tick (one quote reaching one
  account's strategy: bars, signals, orders, fills, the store), on the
  virtual clock, every size given about the same number of worker-ticks; the
  goal is a cost per tick flat within 1.5x from 10 to 500 accounts;
- `rss_per_account_kb`: resident memory the engine added (started, run, still
  open) over the interpreter with everything imported, per account;
- `panel_event_to_paint_p95_ms`: the panel (headless, 160x48) over that
  engine, with 1,000 account events a second spread over every account and a
  probe log line every 150-250 ms, as `bench panel` measures it.

    python -m bench.bench_scaling [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.report import command_line
from config.models import Settings
from engine.clock import VirtualClock
from engine.engine import Engine

SIZES = (10, 50, 200, 500)
WORKER_TICKS = 600_000  # per size, about: 500 accounts x 6 symbols x 200 s
PANEL_RATE = 1000
MEMORY_SECONDS = 60
FLAT_WITHIN = 1.5


def _rss_kb() -> int:
    """Resident set size now (not the peak), from /proc where there is one."""
    try:
        with open("/proc/self/statm") as statm:
            pages = int(statm.read().split()[1])
    except OSError:  # not Linux: the peak is the best there is
        import resource

        return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    import os

    return pages * os.sysconf("SC_PAGE_SIZE") // 1024


async def _memory(settings: Settings, db: Path) -> float:
    """KB of resident memory per account: an engine started and run for a
    simulated minute (market, bars, a mark), still open, over the interpreter
    before it was opened."""
    gc.collect()
    before = _rss_kb()
    clock = VirtualClock(settle_rounds=1)
    engine = await Engine.open(settings, db, clock)
    await engine.start(run_loops=False)
    for _ in range(MEMORY_SECONDS):
        await clock.advance(1.0)
        engine.step_market()
    engine.mark(sample_equity=True)
    await engine.quiesce()
    gc.collect()
    grown = _rss_kb() - before
    await engine.close()
    return grown / len(settings.accounts)


async def one(accounts: int, quick: bool) -> dict[str, Any]:
    """One size, in this interpreter: engine cost and memory, then the panel."""
    from bench.bench_engine import bench_settings, engine_rate
    from bench.bench_panel import measure

    settings = bench_settings(accounts)
    settings.risk.limits = []  # the demo's limits name the demo's accounts
    ticks = WORKER_TICKS // (3 if quick else 1)
    seconds = max(60, ticks // (accounts * len(settings.accounts[0].symbols)))
    with tempfile.TemporaryDirectory() as tmp:
        rss_per_account = await _memory(settings, Path(tmp) / "memory.db")
        run = await engine_rate(settings, seconds, Path(tmp) / "scaling.db")
    panel = await measure(True, PANEL_RATE, settings=settings, keys=False)
    return {
        "simulated_seconds": seconds,
        "fills": run.fills,
        "us_per_worker_tick": round(1e6 / run.rate, 3),
        "rss_per_account_kb": round(rss_per_account, 1),
        "panel_event_to_paint_p95_ms": panel["event_to_paint_p95_ms"],
        "panel_probes_never_painted": panel["probes_never_painted"],
    }


def _in_child(accounts: int, quick: bool) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.bench_scaling", "--one", str(accounts)]
    if quick:
        command.append("--quick")
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{accounts} accounts failed:\n{done.stderr[-2000:]}")
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


async def run(quick: bool = False) -> dict[str, Any]:
    result: dict[str, Any] = {}
    costs = []
    for accounts in SIZES:
        figures = await asyncio.to_thread(_in_child, accounts, quick)
        costs.append(figures["us_per_worker_tick"])
        result.update({f"{accounts}_accounts_{k}": v for k, v in figures.items()})
    spread = max(costs) / min(costs)
    # How much dearer a tick is with more accounts than with fewer: the growth
    # the goal is about (a tick at 10 accounts also carries the simulator's
    # fixed work per second, shared by fewer ticks).
    growth = max(costs[j] / costs[i] for i in range(len(costs)) for j in range(i + 1, len(costs)))
    result["cost_per_tick_max_over_min"] = round(spread, 2)
    result["cost_per_tick_growth"] = round(growth, 2)
    result[f"goal_flat_within_{FLAT_WITHIN}x"] = spread <= FLAT_WITHIN
    result[f"goal_no_growth_beyond_{FLAT_WITHIN}x"] = growth <= FLAT_WITHIN
    sizes = SIZES[0], SIZES[-1]
    kb = [result[f"{n}_accounts_rss_per_account_kb"] * n for n in sizes]
    result["rss_kb_per_added_account"] = round((kb[1] - kb[0]) / (sizes[1] - sizes[0]), 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--one", type=int)
    parser.add_argument("--quick", action="store_true")
    known, _ = parser.parse_known_args()
    if known.one is None:
        command_line(run, __doc__)
        return
    print(json.dumps(asyncio.run(one(known.one, known.quick))))


if __name__ == "__main__":
    main()
