"""Durable writes per second through the store's writer task, beside the two
bounds it sits between: raw `executemany` in one transaction (the ceiling)
and one aiosqlite transaction per row (what a naive store would do).

Run: `python -m bench.bench_store [--quick] [--synchronous FULL|NORMAL]`.
Every figure uses a fresh file and the same synchronous setting; the writer's
figure counts a row only once the future of its group has resolved, i.e.
after its COMMIT.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiosqlite

from engine.models import DealEntry, Fill, Side
from storage.codec import insert_sql, row_params
from storage.db import Database

GOAL_ROWS_PER_S = 50_000

_COLUMNS = tuple(Fill.model_fields)
_INSERT = insert_sql("fills", _COLUMNS)


async def run(quick: bool = False, *, synchronous: str = "FULL") -> dict[str, Any]:
    """Measure the three ways of writing the same fill rows; return the figures.

    The writer and raw executemany run `repeats` times each on fresh files and
    report their best and median: the machine may be shared, and the best run
    is the one least disturbed by other processes."""
    rows = 20_000 if quick else 100_000
    per_row_rows = 1_000 if quick else 3_000
    repeats = 1 if quick else 3
    group_size, producers = 4, 200
    data = _fill_rows(rows)
    writer_rates: list[float] = []
    raw_rates: list[float] = []
    batches = 0
    with tempfile.TemporaryDirectory(prefix="tradedeck-bench-") as folder:
        root = Path(folder)
        for n in range(repeats):
            rate, batches = await _writer(
                root / f"writer-{n}.db", data, group_size, producers, synchronous
            )
            writer_rates.append(rate)
            raw_rates.append(await _raw_executemany(root / f"raw-{n}.db", data, synchronous))
        per_row = await _per_row(root / "per_row.db", data[:per_row_rows], synchronous)
    return {
        "synchronous": synchronous,
        "rows": rows,
        "repeats": repeats,
        "group_size": group_size,
        "producers": producers,
        "writer_rows_per_s": round(max(writer_rates)),
        "writer_rows_per_s_median": round(statistics.median(writer_rates)),
        "writer_batches": batches,
        "raw_executemany_rows_per_s": round(max(raw_rates)),
        "raw_executemany_rows_per_s_median": round(statistics.median(raw_rates)),
        "per_row_transaction_rows": per_row_rows,
        "per_row_transaction_rows_per_s": round(per_row),
        "goal_rows_per_s": GOAL_ROWS_PER_S,
        "goal_met": max(writer_rates) >= GOAL_ROWS_PER_S,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="Durable writes per second through the store.")
    parser.add_argument("--quick", action="store_true", help="fewer rows, one run each")
    parser.add_argument("--synchronous", default="FULL", choices=["OFF", "NORMAL", "FULL"])
    args = parser.parse_args()
    r = asyncio.run(run(args.quick, synchronous=args.synchronous))
    print(
        f"store: {r['rows']:,} fill rows, synchronous={r['synchronous']}, "
        f"best and median of {r['repeats']}"
    )
    print(f"{'method':<50}{'best rows/s':>14}{'median':>10}")
    writer = f"writer task, {r['producers']} producers, groups of {r['group_size']}"
    print(f"{writer:<50}{r['writer_rows_per_s']:>14,}{r['writer_rows_per_s_median']:>10,}")
    raw = "raw sqlite3 executemany, one transaction"
    print(
        f"{raw:<50}{r['raw_executemany_rows_per_s']:>14,}"
        f"{r['raw_executemany_rows_per_s_median']:>10,}"
    )
    per_row = f"aiosqlite, one transaction per row ({r['per_row_transaction_rows']:,} rows)"
    print(f"{per_row:<50}{r['per_row_transaction_rows_per_s']:>14,}")
    verdict = "met" if r["goal_met"] else "NOT met"
    print(
        f"writer transactions per run: {r['writer_batches']:,}; "
        f"goal {GOAL_ROWS_PER_S:,} rows/s {verdict}"
    )


def _fill_rows(count: int) -> list[tuple[Any, ...]]:
    start = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    return [
        row_params(
            Fill(
                ticket=i,
                order_ticket=i,
                position_ticket=i,
                account_id=f"account-{i % 50:03d}",
                symbol="EURUSD",
                side=Side.BUY,
                entry=DealEntry.IN,
                volume=Decimal("0.10"),
                price=Decimal("1.10000") + Decimal(i % 100) / 100_000,
                commission=Decimal("0.70"),
                profit=Decimal("0.00"),
                strategy_id="ma-1",
                time=start + timedelta(milliseconds=i),
            ),
            _COLUMNS,
        )
        for i in range(1, count + 1)
    ]


async def _writer(
    path: Path, data: list[tuple[Any, ...]], group_size: int, producers: int, synchronous: str
) -> tuple[float, int]:
    """Many producers, each waiting for the acknowledgement of its group before
    sending the next, as a worker does when it sends an order. Returns rows/s
    and the number of transactions."""
    groups = [
        [(_INSERT, params) for params in data[i : i + group_size]]
        for i in range(0, len(data), group_size)
    ]
    db = await Database.open(path, synchronous=synchronous)
    try:

        async def produce(share: Sequence[list[tuple[str, tuple[Any, ...]]]]) -> None:
            for group in share:
                await db.writer.write(group)

        began = time.perf_counter()
        await asyncio.gather(*(produce(groups[n::producers]) for n in range(producers)))
        elapsed = time.perf_counter() - began
        stats = db.writer.stats
    finally:
        await db.close()
    if stats["rows"] != len(data):
        raise RuntimeError(f"the writer committed {stats['rows']} of {len(data)} rows")
    return len(data) / elapsed, stats["batches"]


async def _raw_executemany(path: Path, data: list[tuple[Any, ...]], synchronous: str) -> float:
    """The ceiling: plain sqlite3, every row in one executemany and one transaction."""
    await (await Database.open(path, synchronous=synchronous)).close()  # schema only
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute(f"PRAGMA synchronous = {synchronous}")
        began = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(_INSERT, data)
        conn.execute("COMMIT")
        elapsed = time.perf_counter() - began
    finally:
        conn.close()
    return len(data) / elapsed


async def _per_row(path: Path, data: list[tuple[Any, ...]], synchronous: str) -> float:
    """The naive way: one aiosqlite transaction per row."""
    await (await Database.open(path, synchronous=synchronous)).close()  # schema only
    conn = await aiosqlite.connect(path, isolation_level=None)
    try:
        await conn.execute(f"PRAGMA synchronous = {synchronous}")
        began = time.perf_counter()
        for params in data:
            await conn.execute("BEGIN IMMEDIATE")
            await conn.execute(_INSERT, params)
            await conn.execute("COMMIT")
        elapsed = time.perf_counter() - began
    finally:
        await conn.close()
    return len(data) / elapsed


if __name__ == "__main__":
    main()
