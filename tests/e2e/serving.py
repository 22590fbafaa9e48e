"""`tradedeck serve` as a user runs it, for the end-to-end tests: keys made
with `tradedeck keys create`, the server a child process whose console is
read for the addresses it prints, stopped with SIGTERM (and must exit 0)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

START_SECONDS = 60.0  # real time `tradedeck serve` may take to listen


def tradedeck(*args: str) -> list[str]:
    return [sys.executable, "-m", "tui.cli", *args]


def create_keys(db: Path, roles: tuple[str, ...], prefix: str) -> dict[str, str]:
    """One key per role, named `<prefix>-<role>`."""
    keys = {}
    for role in roles:
        command = tradedeck("keys", "create", "--role", role, "--name", f"{prefix}-{role}")
        created = subprocess.run(
            [*command, "--db", str(db)],
            capture_output=True, text=True, timeout=START_SECONDS, check=True,
        )  # fmt: skip
        keys[role] = created.stdout.strip().splitlines()[-1]
        assert keys[role].startswith("tdk_"), created.stdout
    return keys


@contextmanager
def serving(home: Path, *args: str, wait_for: tuple[re.Pattern[str], ...]) -> Iterator[list[str]]:
    """`tradedeck serve ARGS` until the block ends; yields the first group of
    each `wait_for` pattern once all have appeared on its console."""
    console = home / "serve.out"
    with console.open("w") as out:
        process = subprocess.Popen(
            tradedeck("serve", *args),
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200"},
        )  # fmt: skip
    try:
        deadline = time.monotonic() + START_SECONDS
        while True:
            found = [pattern.search(console.read_text()) for pattern in wait_for]
            if all(found):
                break
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"tradedeck serve did not start:\n{console.read_text()}")
            time.sleep(0.1)
        yield [match[1] for match in found if match is not None]
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            assert process.wait(timeout=30) == 0, console.read_text()
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
