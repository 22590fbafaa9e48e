"""kill -9 while jobs run: after a restart every job completes, none is lost,
none is left running; a job runs more than once only if it was running
when the process died (at-least-once)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
JOBS = 1000


def _start(db: Path, *args: str) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.jobs.crash_engine", str(db), *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line.strip() == "ready", process.stderr.read() if process.stderr else line
    return process


def _rows(db: Path, sql: str) -> list[tuple[int, ...]]:
    with sqlite3.connect(db, timeout=10) as conn:
        return list(conn.execute(sql))


def _count(db: Path, sql: str) -> int:
    return int(_rows(db, sql)[0][0])


def _wait_for(db: Path, sql: str, at_least: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while _count(db, sql) < at_least:
        assert time.monotonic() < deadline, f"{sql!r} stayed below {at_least}"
        time.sleep(0.05)


def test_kill_9_while_jobs_run_loses_none(tmp_path: Path) -> None:
    db = tmp_path / "jobs.db"
    completed = "select count(*) from jobs where state = 'completed'"
    process = _start(db, "--enqueue", str(JOBS))
    try:
        assert _count(db, "select count(*) from jobs") == JOBS  # every enqueue committed
        _wait_for(db, completed, 100)
        _wait_for(db, "select count(*) from crash_runs where job_id = 1", 1)
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
    assert process.returncode == -signal.SIGKILL
    done_before = _count(db, completed)
    assert done_before < JOBS, "the jobs finished before the kill; nothing was tested"
    running_at_kill = {r[0] for r in _rows(db, "select id from jobs where state = 'running'")}
    assert 1 in running_at_kill  # the job that holds its runner

    process = _start(db)
    try:
        _wait_for(db, completed, JOBS)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(20)
    assert process.returncode == 0

    states = dict(_rows(db, "select state, count(*) from jobs group by state"))
    assert states == {"completed": JOBS}
    runs = dict(_rows(db, "select job_id, count(*) from crash_runs group by job_id"))
    assert set(runs) == {r[0] for r in _rows(db, "select id from jobs")}  # none lost
    repeated = {job_id for job_id, n in runs.items() if n > 1}
    assert repeated <= running_at_kill  # only an interrupted job ran twice
    interrupted = _rows(
        db, f"select attempts from jobs where id in ({','.join(map(str, running_at_kill))})"
    )
    assert all(attempts == 2 for (attempts,) in interrupted)
