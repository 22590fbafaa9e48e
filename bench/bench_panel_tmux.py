"""The panel under load in a real terminal: tmux at 160x48, the panel on the
demo engine in its own process with no load (the floor: tmux, send-keys and
the polling alone), then 1,000 and 5,000 engine events a second
published on its bus (`bench/panel_under_load.py`, the load of
`bench/bench_panel.py`). Keys go in with `tmux send-keys`; the screen is read
with `tmux capture-pane` in a tight loop, so every figure includes tmux's own
redraw and the poll (each capture takes a few milliseconds; it is measured and
printed beside the figures).

Key: `/` on the workers pane until its filter line is on the screen, then
escape until it is gone. Event: the probe log lines the load writes (with the
wall-clock time it published them) until each is on the screen.

    python -m bench.bench_panel_tmux [--quick]
"""

from __future__ import annotations

import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.bench_startup import _tmux
from bench.report import command_line

RATES = (0, 1000, 5000)  # 0: the floor, tmux and the polling alone
SESSION = "bench-panel-load"


def _screen() -> str:
    return _tmux("capture-pane", "-p", "-t", SESSION)


def _until(condition: str, present: bool, timeout: float = 3.0) -> float | None:
    """Poll the screen until `condition` is (or is no longer) on it: the wall
    time it was first seen so, or None."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if (condition in _screen()) == present:
            return time.time()
    return None


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def run(quick: bool = False) -> dict[str, Any]:
    if shutil.which("tmux") is None:
        raise RuntimeError("tmux is needed for this benchmark (apt-get install tmux)")
    result: dict[str, Any] = {}
    for rate in RATES:
        result.update({f"{k}@{rate}/s": v for k, v in measure(quick, rate).items()})
    return result


def measure(quick: bool, rate: int) -> dict[str, Any]:
    keys = 15 if quick else 40
    seconds = 4.0 if quick else 12.0
    with tempfile.TemporaryDirectory() as tmp:
        probes_file = Path(tmp) / "probes.jsonl"
        command = (
            f"{sys.executable} -m bench.panel_under_load --rate {rate} "
            f"--probes {probes_file} --db {Path(tmp) / 'panel.db'}"
        )
        _tmux("kill-session", "-t", SESSION)
        _tmux("new-session", "-d", "-s", SESSION, "-x", "160", "-y", "48", command)
        try:
            if _until("account-001", True, timeout=30) is None:
                raise RuntimeError(f"the panel never showed its workers:\n{_screen()}")
            if _until("probe-", True, timeout=10) is None:
                raise RuntimeError(f"the load never reached the screen:\n{_screen()}")
            # Events: which probe is on the screen, polled for `seconds`.
            seen: dict[str, float] = {}
            captures = 0
            began = time.time()
            while time.time() - began < seconds:
                screen = _screen()
                captures += 1
                now = time.time()
                for word in screen.split():
                    if word.startswith("probe-") and word not in seen:
                        seen[word] = now
            capture_ms = (time.time() - began) / captures * 1000
            published = {
                (entry := json.loads(line))["marker"]: entry["time"]
                for line in probes_file.read_text().splitlines()
            }
            window = [m for m, t in published.items() if began + 0.5 < t < began + seconds - 0.5]
            delays = [(seen[m] - published[m]) * 1000 for m in window if m in seen]
            # Keys.
            key_delays = []
            _tmux("send-keys", "-t", SESSION, "1")
            time.sleep(0.2)
            for _ in range(keys):
                pressed = time.time()
                _tmux("send-keys", "-t", SESSION, "/")
                shown = _until("ilter workers", True)
                if shown is not None:
                    key_delays.append((shown - pressed) * 1000)
                _tmux("send-keys", "-t", SESSION, "Escape")
                _until("ilter workers", False)
                time.sleep(0.1)
        finally:
            _tmux("kill-session", "-t", SESSION)
    return {
        "capture_ms": round(capture_ms, 1),
        "probes": len(window),
        # A probe overwritten on the screen before a capture saw it (the event
        # line shows the newest message only) counts as unseen, not as late.
        "probes_unseen": len(window) - len(delays),
        "event_to_screen_p50_ms": round(statistics.median(delays), 1) if delays else None,
        "event_to_screen_p95_ms": round(_percentile(delays, 0.95), 1) if delays else None,
        "keys": keys,
        "keys_never_painted": keys - len(key_delays),
        "key_to_screen_p50_ms": round(statistics.median(key_delays), 1) if key_delays else None,
        "key_to_screen_p95_ms": round(_percentile(key_delays, 0.95), 1) if key_delays else None,
    }


def main() -> None:
    command_line(run, __doc__)


if __name__ == "__main__":
    main()
