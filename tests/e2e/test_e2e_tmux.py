"""End to end in a real terminal: tmux runs `tradedeck` on the demo, the test
types keys and reads the screen with `capture-pane`, as a trader would.

`.ci/run` installs tmux when it is missing.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

pytestmark = pytest.mark.slow

TRADEDECK = Path(sys.executable).with_name("tradedeck")


class Terminal:
    """One tmux session running one command at a fixed size."""

    def __init__(
        self, command: str, status_file: Path, *, width: int = 160, height: int = 48
    ) -> None:
        self.name = f"tradedeck-e2e-{uuid.uuid4().hex[:8]}"
        self.status_file = status_file
        self._tmux("new-session", "-d", "-s", self.name, "-x", str(width), "-y", str(height))
        self._tmux("set-option", "-t", self.name, "remain-on-exit", "on")
        # COLUMNS/LINES inherited from the test runner would override the pane's size.
        # The exit status goes to a file: what the pane shows after the panel
        # restores the terminal is not reliable enough to read it from.
        self._tmux(
            "respawn-pane",
            "-k",
            "-t",
            self.name,
            f"env -u COLUMNS -u LINES {command}; echo $? > {status_file}",
        )

    def _tmux(self, *args: str) -> str:
        result = subprocess.run(["tmux", *args], capture_output=True, text=True, check=False)
        return result.stdout

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-t", self.name)

    def press(self, *keys: str) -> None:
        self._tmux("send-keys", "-t", self.name, *keys)

    def type(self, text: str) -> None:
        self._tmux("send-keys", "-t", self.name, "-l", text)

    def wait_for(self, check: Callable[[str], bool], what: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if check(screen):
                return screen
            time.sleep(0.1)
        panes = self._tmux(
            "list-panes", "-t", self.name, "-F", "dead=#{pane_dead} cmd=#{pane_current_command}"
        )
        raise AssertionError(
            f"timed out waiting for {what} ({panes.strip()}); the screen:\n{screen}"
        )

    def wait_text(self, text: str, timeout: float = 30) -> str:
        return self.wait_for(lambda s: text in s, repr(text), timeout)

    def wait_exit(self, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.status_file.exists() and self.status_file.read_text().strip():
                return self.status_file.read_text().strip()
            time.sleep(0.1)
        raise AssertionError(f"tradedeck did not exit; the screen:\n{self.screen()}")

    def processes(self) -> list[psutil.Process]:
        """The pane's process and its descendants."""
        pane = int(self._tmux("display-message", "-p", "-t", self.name, "#{pane_pid}").strip())
        root = psutil.Process(pane)
        return [root, *root.children(recursive=True)]

    def close(self) -> None:
        self._tmux("kill-session", "-t", self.name)


def workers_pane(screen: str) -> list[str]:
    """The rows of the workers pane (top-left box in the tiled layout)."""
    lines = screen.splitlines()
    start = next(i for i, line in enumerate(lines) if "Workers" in line)
    rows = []
    for line in lines[start + 1 :]:
        if line.startswith("╰"):
            break
        rows.append(line[: len(line) // 2])
    return rows


@pytest.fixture
def terminal_factory(tmp_path: Path) -> Iterator[Callable[[], Terminal]]:
    if shutil.which("tmux") is None:
        pytest.fail("tmux is required for the end-to-end tests (.ci/run installs it)")
    terminals: list[Terminal] = []
    db = tmp_path / "e2e.db"

    def make() -> Terminal:
        status = tmp_path / f"exit-{len(terminals)}"
        terminal = Terminal(f"{TRADEDECK} --db {db}", status)
        terminals.append(terminal)
        return terminal

    yield make
    for terminal in terminals:
        terminal.close()


def test_trader_session_in_a_real_terminal(terminal_factory: Callable[[], Terminal]) -> None:
    term = terminal_factory()
    term.wait_text("workers 4/4 running")
    term.wait_for(lambda s: "account-004" in s and "filled" in s, "the demo to trade")

    # stop the worker under the cursor (the first row: account-001)
    term.press("1")
    term.press("x")
    screen = term.wait_text("workers 3/4 running")
    row = next(r for r in workers_pane(screen) if "account-001" in r)
    assert "stopped" in row

    # filter the workers pane
    term.press("/")
    term.wait_text("filter workers")
    term.type("003")
    screen = term.wait_for(
        lambda s: (
            [r for r in workers_pane(s) if "account-0" in r]
            == [r for r in workers_pane(s) if "account-003" in r]
            and any("account-003" in r for r in workers_pane(s))
        ),
        "the filter to leave only account-003",
    )
    term.press("Escape")
    term.wait_for(
        lambda s: sum("account-0" in r for r in workers_pane(s)) == 4, "the filter to clear"
    )

    # the cursor stayed on the row it was on (account-003): open its detail, go back
    term.press("Enter")
    term.wait_text("Strategies")
    term.wait_text("account-003-")  # its worker id
    term.press("Escape")
    term.wait_text("Workers")

    # quit: it asks while workers run; answer yes
    term.press("q")
    term.wait_text("Quit the panel?")
    term.press("y")
    assert term.wait_exit() == "0"
    assert "Traceback" not in term.screen()

    # run again: the same accounts resume, and the stopped worker stays stopped
    again = terminal_factory()
    screen = again.wait_text("workers 3/4 running")
    row = next(r for r in workers_pane(screen) if "account-001" in r)
    assert "stopped" in row

    # the terminal goes away (a dropped SSH session): tradedeck shuts down, no orphan
    processes = again.processes()
    assert any("tradedeck" in " ".join(p.cmdline()) for p in processes)
    again.close()
    _, alive = psutil.wait_procs(processes, timeout=20)
    assert not alive, f"still running after the terminal hung up: {alive}"
