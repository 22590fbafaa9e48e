"""The panel on the demo engine with a steady load of engine events, for
`bench/bench_panel_tmux.py` to run in a real terminal. Each probe log line's
marker and wall-clock publication time go to `--probes` (JSON Lines).

    python -m bench.panel_under_load --rate 1000 --probes FILE --db PATH
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from datetime import UTC, datetime
from pathlib import Path

from config.loader import load_settings
from engine.client import LocalEngineClient
from engine.clock import VirtualClock
from engine.engine import Engine
from engine.models import AccountEvent, LogEvent, LogRecord
from tui.app import TradeDeckApp


async def _load(engine: Engine, rate: int, probes: Path) -> None:
    """`rate` events a second, as many each millisecond as are due; a probe log
    line every 150-250 ms (seeded), its time written down as it goes out."""
    rng = random.Random(7)
    accounts = list(engine.snapshot().accounts)
    sent = 0
    count = 0
    began = time.perf_counter()
    next_probe = began + 1.0
    with probes.open("a") as out:
        while True:
            now_perf = time.perf_counter()
            due = int((now_perf - began) * rate)
            now = datetime.now(UTC)
            if now_perf >= next_probe:
                marker = f"probe-{count:06d}"
                count += 1
                record = LogRecord(time=now, account_id="account-001", message=marker)
                out.write(json.dumps({"marker": marker, "time": time.time()}) + "\n")
                out.flush()
                engine.bus.publish(LogEvent(time=now, record=record))
                next_probe = now_perf + rng.uniform(0.15, 0.25)
            while sent < due:
                account = accounts[sent % len(accounts)]
                update = {"time": now, "equity": account.equity + sent % 97}
                engine.bus.publish(
                    AccountEvent(time=now, account=account.model_copy(update=update))
                )
                sent += 1
            await asyncio.sleep(0.001)


async def _main(rate: int, probes: Path, db: Path) -> None:
    engine = await Engine.open(load_settings(None, env={}), db, VirtualClock())
    await engine.start()
    await engine.clock.advance(60)
    await engine.quiesce()
    app = TradeDeckApp(LocalEngineClient(engine))
    load = asyncio.create_task(_load(engine, rate, probes))
    try:
        await app.run_async()
    finally:
        load.cancel()
        await engine.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--probes", type=Path, required=True)
    parser.add_argument("--db", type=Path, required=True)
    args = parser.parse_args()
    asyncio.run(_main(args.rate, args.probes, args.db))


if __name__ == "__main__":
    main()
