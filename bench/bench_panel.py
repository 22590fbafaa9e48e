"""The panel under load: with 1,000 engine events per second flowing, how long
from an event to the frame that shows it, and from a key press to the frame
that answers it. Headless (`run_test`, 160x48) against the real demo engine.

"Painted" means rendered to terminal output: the headless driver writes
nothing, so the benchmark wraps the app's display step, renders each update to
the escape sequences a terminal would receive (the cost a real terminal pays
too) and timestamps the first frame that contains a probe's text.
The load is real engine events (account updates and log lines for the demo
accounts) published on the engine's bus; every 20th is a probe log line.

    python -m bench.bench_panel [--quick]
"""

from __future__ import annotations

import asyncio
import bisect
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.report import command_line
from config.loader import load_settings
from engine.client import LocalEngineClient
from engine.clock import VirtualClock
from engine.engine import Engine
from engine.models import AccountEvent, LogEvent, LogRecord
from tui.app import PAINT_INTERVAL, TradeDeckApp

EVENTS_PER_SECOND = 1000
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


async def _load(engine: Engine, seconds: float, probes: dict[str, float]) -> int:
    """Publish EVENTS_PER_SECOND events for `seconds`, every 200th a probe."""
    accounts = list(engine.snapshot().accounts)
    interval = 1 / EVENTS_PER_SECOND
    sent = 0
    began = time.perf_counter()
    while time.perf_counter() - began < seconds:
        now = datetime.now(UTC)
        if sent % 200 == 0:
            marker = f"probe-{sent:06d}"
            record = LogRecord(time=now, account_id="account-001", message=marker)
            probes[marker] = time.perf_counter()
            engine.bus.publish(LogEvent(time=now, record=record))
        else:
            account = accounts[sent % len(accounts)]
            changed = account.model_copy(update={"time": now})
            engine.bus.publish(AccountEvent(time=now, account=changed))
        sent += 1
        target = began + sent * interval
        delay = target - time.perf_counter()
        await asyncio.sleep(max(0.0, delay))
    return sent


async def run(quick: bool = False) -> dict[str, Any]:
    """The panel's default paint interval beside a faster one, in one run."""
    result: dict[str, Any] = {"events_per_second": EVENTS_PER_SECOND}
    for interval in (PAINT_INTERVAL, PAINT_INTERVAL / 2):
        figures = await measure(quick, interval)
        result.update({f"{k}@{interval * 1000:.0f}ms": v for k, v in figures.items()})
    return result


async def measure(quick: bool, paint_interval: float) -> dict[str, Any]:
    seconds = 3.0 if quick else 10.0
    key_rounds = 10 if quick else 30
    with tempfile.TemporaryDirectory() as tmp:
        engine = await Engine.open(
            load_settings(None, env={}), Path(tmp) / "panel.db", VirtualClock()
        )
        await engine.start()
        await engine.clock.advance(60)  # some trading to show
        await engine.quiesce()
        app = TradeDeckApp(LocalEngineClient(engine), paint_interval=paint_interval)
        watch = FrameWatch(app)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause(0.5)
            probes: dict[str, float] = {}
            sent = await _load(engine, seconds, probes)
            await pilot.pause(0.3)
            delays = [
                (painted - published) * 1000
                for marker, published in probes.items()
                if (painted := watch.first_containing(marker, published)) is not None
            ]
            missed = len(probes) - len(delays)

            # key press -> painted response, with the load still running
            load = asyncio.create_task(_load(engine, 3600, {}))
            key_delays = []
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
    return {
        "events_sent": sent,
        "probes": len(probes),
        "probes_never_painted": missed,
        "event_to_paint_p50_ms": round(statistics.median(delays), 1),
        "event_to_paint_p95_ms": round(_percentile(delays, 0.95), 1),
        "key_to_paint_p50_ms": round(statistics.median(key_delays), 1) if key_delays else None,
        "key_to_paint_p95_ms": round(_percentile(key_delays, 0.95), 1) if key_delays else None,
    }


def main() -> None:
    command_line(run, __doc__)


if __name__ == "__main__":
    main()
