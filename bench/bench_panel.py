"""The panel under load: with 1,000 and 5,000 engine events per second flowing, how long
from an event to the frame that shows it, and from a key press to the frame
that answers it. Headless (`run_test`, 160x48) against the real demo engine.

"Painted" means rendered to terminal output: the headless driver writes
nothing, so the benchmark wraps the app's display step, renders each update to
the escape sequences a terminal would receive (the cost a real terminal pays
too) and timestamps the first frame that contains a probe's text.
The load is real engine events (account updates and log lines for the demo
accounts) published on the engine's bus; every 150-250 ms a probe log line.
A key probe that no frame answers within 2 s counts as never painted.

    python -m bench.bench_panel [--quick]
"""

from __future__ import annotations

import asyncio
import bisect
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.report import command_line
from config.loader import load_settings
from config.models import Settings
from engine.client import LocalEngineClient
from engine.clock import VirtualClock
from engine.engine import Engine
from engine.models import AccountEvent, LogEvent, LogRecord
from tui.app import PAINT_INTERVAL, TradeDeckApp

RATES = (1000, 5000)
SIZE = (160, 48)


class FrameWatch:
    """Timestamps of the frames the app displays, searchable for text."""

    def __init__(self, app: TradeDeckApp) -> None:
        self.frames: list[tuple[float, str]] = []
        self._app = app
        self._display = app._display
        app._display = self.display  # type: ignore[method-assign]

    def display(self, screen: Any, renderable: Any) -> None:
        self._display(screen, renderable)
        if renderable is None or self._app._batch_count:
            return
        if hasattr(renderable, "render_segments"):
            data = renderable.render_segments(self._app.console)
        else:
            data = self._app.console._render_buffer(self._app.console.render(renderable))
        self.frames.append((time.perf_counter(), data))

    def first_containing(self, text: str, after: float) -> float | None:
        start = bisect.bisect_left(self.frames, after, key=lambda frame: frame[0])
        for stamp, data in self.frames[start:]:
            if text in data:
                return stamp
        return None


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _load(
    engine: Engine, rate: int, seconds: float, probes: dict[str, float], seed: int = 7
) -> int:
    """Publish `rate` events a second for `seconds`, as many each millisecond as
    are due; probes (log lines) go out every 150-250 ms at seeded random times, so
    they never lock to the paint timer's phase."""
    rng = random.Random(seed)
    accounts = list(engine.snapshot().accounts)
    sent = 0
    began = time.perf_counter()
    next_probe = began + rng.uniform(0.15, 0.25)
    while (now_perf := time.perf_counter()) - began < seconds:
        due = int((now_perf - began) * rate)
        now = datetime.now(UTC)
        if now_perf >= next_probe:
            marker = f"probe-{len(probes):06d}"
            record = LogRecord(time=now, account_id="account-001", message=marker)
            probes[marker] = time.perf_counter()
            engine.bus.publish(LogEvent(time=now, record=record))
            next_probe = now_perf + rng.uniform(0.15, 0.25)
            sent += 1
        while sent < due:
            account = accounts[sent % len(accounts)]
            changed = account.model_copy(update={"time": now, "equity": account.equity + sent % 97})
            engine.bus.publish(AccountEvent(time=now, account=changed))
            sent += 1
        await asyncio.sleep(0.001)
    return sent


async def run(quick: bool = False) -> dict[str, Any]:
    """The panel at 1,000 and at 5,000 events a second, in one run."""
    result: dict[str, Any] = {"paint_interval_ms": PAINT_INTERVAL * 1000}
    for rate in RATES:
        figures = await measure(quick, rate)
        result.update({f"{k}@{rate}/s": v for k, v in figures.items()})
    return result


async def measure(
    quick: bool,
    rate: int,
    paint_interval: float = PAINT_INTERVAL,
    *,
    settings: Settings | None = None,
    keys: bool = True,
) -> dict[str, Any]:
    """The figures at `rate` events a second, on the demo's accounts or on
    `settings`'; `keys=False` leaves out the key probes."""
    seconds = 4.0 if quick else 12.0
    key_rounds = (15 if quick else 40) if keys else 0
    with tempfile.TemporaryDirectory() as tmp:
        engine = await Engine.open(
            settings or load_settings(None, env={}), Path(tmp) / "panel.db", VirtualClock()
        )
        await engine.start()
        await engine.clock.advance(60)  # some trading to show
        await engine.quiesce()
        app = TradeDeckApp(LocalEngineClient(engine), paint_interval=paint_interval)
        watch = FrameWatch(app)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause(0.5)
            probes: dict[str, float] = {}
            cpu = time.process_time()
            sent = await _load(engine, rate, seconds, probes)
            cpu = (time.process_time() - cpu) / seconds
            await pilot.pause(0.5)
            delays = [
                (painted - published) * 1000
                for marker, published in probes.items()
                if (painted := watch.first_containing(marker, published)) is not None
            ]
            missed = len(probes) - len(delays)

            # key press -> painted response, with the load still running
            load = asyncio.create_task(_load(engine, rate, 3600, {}))
            key_delays: list[float] = []
            await pilot.press("1")  # focus the workers pane
            for _ in range(key_rounds):
                # `/` opens the pane's filter; its placeholder is the response
                # (the cursor covers its first letter).
                pressed = time.perf_counter()
                await pilot.press("slash")
                painted = watch.first_containing("ilter workers", pressed)
                while painted is None and time.perf_counter() - pressed < 2:
                    await asyncio.sleep(0.001)
                    painted = watch.first_containing("ilter workers", pressed)
                if painted is not None:
                    key_delays.append((painted - pressed) * 1000)
                await pilot.press("escape")
                await pilot.pause(0.1)
            load.cancel()
        await engine.close()
    figures = {
        "events_sent_per_s": round(sent / seconds),
        "loop_cpu_share": round(cpu, 2),
        "probes": len(probes),
        "probes_never_painted": missed,
        "event_to_paint_p50_ms": round(statistics.median(delays), 1),
        "event_to_paint_p95_ms": round(_percentile(delays, 0.95), 1),
    }
    if not keys:
        return figures
    return {
        **figures,
        "keys": key_rounds,
        "keys_never_painted": key_rounds - len(key_delays),
        "key_to_paint_p50_ms": round(statistics.median(key_delays), 1) if key_delays else None,
        "key_to_paint_p95_ms": round(_percentile(key_delays, 0.95), 1) if key_delays else None,
    }


def main() -> None:
    command_line(run, __doc__)


if __name__ == "__main__":
    main()
