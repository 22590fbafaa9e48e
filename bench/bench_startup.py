"""Start-up to the first painted screen, and resident memory with 50 paper
workers running, in a real terminal (tmux).

Beside them, in the same run: a bare Textual app's start-up in the same
terminal, the floor any Textual panel pays.

    python -m bench.bench_startup [--quick]
"""

from __future__ import annotations

import asyncio
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

from bench.report import command_line
from config.loader import load_settings

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

_BARE_APP = """
from textual.app import App
from textual.widgets import Static
class Bare(App):
    def compose(self):
        yield Static("bare textual ready")
Bare().run()
"""


def fifty_accounts_config(path: Path) -> Path:
    """The demo's instruments and settings with 50 paper accounts."""
    demo = (ROOT / "config" / "demo.toml").read_text()
    head = demo.split("[[accounts]]", 1)[0]
    symbols = list(load_settings(None, env={}).instruments)[:6]
    kinds = ("ma_crossover", "donchian_breakout", "bollinger_reversion")
    blocks = [
        f'[[accounts]]\nid = "bench-{n:03d}"\nsymbols = {symbols!r}\n'.replace("'", '"')
        + f'[[accounts.strategies]]\nkind = "{kinds[n % 3]}"\ntimeframe = "S15"\n'
        for n in range(50)
    ]
    path.write_text(head + "\n".join(blocks))
    return path


def _tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=False).stdout


def time_to_text(session: str, command: str, marker: str, timeout: float = 30) -> float:
    """Seconds from launching `command` in a fresh 160x48 tmux window until
    `marker` is on the screen."""
    _tmux("kill-session", "-t", session)
    began = time.perf_counter()
    _tmux("new-session", "-d", "-s", session, "-x", "160", "-y", "48", command)
    deadline = began + timeout
    while time.perf_counter() < deadline:
        if marker in _tmux("capture-pane", "-p", "-t", session):
            return time.perf_counter() - began
        time.sleep(0.01)
    screen = _tmux("capture-pane", "-p", "-t", session)
    _tmux("kill-session", "-t", session)
    raise RuntimeError(f"{marker!r} never appeared; the screen was:\n{screen}")


def pane_pid(session: str) -> int:
    return int(_tmux("display-message", "-p", "-t", session, "#{pane_pid}").strip())


async def run(quick: bool = False) -> dict[str, Any]:
    if shutil.which("tmux") is None:
        raise RuntimeError("tmux is needed for this benchmark (apt-get install tmux)")
    rounds = 2 if quick else 5
    tradedeck = BIN / "tradedeck"
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        bare_script = tmpdir / "bare.py"
        bare_script.write_text(_BARE_APP)
        bare, panel = [], []
        for n in range(rounds):
            bare.append(
                time_to_text("bench-bare", f"{sys.executable} {bare_script}", "bare textual ready")
            )
            _tmux("kill-session", "-t", "bench-bare")
            db = tmpdir / f"startup-{n}.db"
            panel.append(time_to_text("bench-panel", f"{tradedeck} --db {db}", "account-001"))
            _tmux("kill-session", "-t", "bench-panel")
        config = fifty_accounts_config(tmpdir / "fifty.toml")
        time_to_text(
            "bench-fifty", f"{tradedeck} --config {config} --db {tmpdir / 'fifty.db'}", "bench-001"
        )
        await asyncio.sleep(5 if quick else 15)  # let all 50 workers run and trade
        process = psutil.Process(pane_pid("bench-fifty"))
        rss = max(p.memory_info().rss for p in [process, *process.children(recursive=True)])
        screen = _tmux("capture-pane", "-p", "-t", "bench-fifty")
        _tmux("kill-session", "-t", "bench-fifty")
    return {
        "rounds": rounds,
        "bare_textual_first_paint_s": round(statistics.median(bare), 3),
        "tradedeck_first_paint_s": round(statistics.median(panel), 3),
        "tradedeck_first_paint_max_s": round(max(panel), 3),
        "rss_50_workers_mb": round(rss / 2**20, 1),
        "fifty_running_on_screen": "50/50" in screen or "50 / 50" in screen,
    }


def main() -> None:
    command_line(run, __doc__)


if __name__ == "__main__":
    main()
