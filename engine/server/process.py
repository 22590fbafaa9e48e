"""The serving process's resources for component health: CPU, memory, open
files and threads (psutil), and the event loop's lag.

The lag is the overshoot of a short sleep, sampled four times a second by a
task that starts with the first health request and stops with the server:
a loop that a blocking call holds shows it within a quarter second.
"""

from __future__ import annotations

import asyncio
import resource
import time
from collections import deque
from typing import Any

import psutil

SAMPLE_SECONDS = 0.25
SAMPLES = 240  # the last minute
LAG_DEGRADED_SECONDS = 0.25
FILES_DEGRADED = 0.8  # of the soft limit on open files


class ProcessProbe:
    def __init__(self) -> None:
        self._process = psutil.Process()
        self._process.cpu_percent(None)  # the first reading starts the interval
        self._lags: deque[float] = deque(maxlen=SAMPLES)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._sample(), name="health:loop-lag")

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _sample(self) -> None:
        while True:
            started = time.perf_counter()
            await asyncio.sleep(SAMPLE_SECONDS)
            self._lags.append(max(0.0, time.perf_counter() - started - SAMPLE_SECONDS))

    def reading(self) -> tuple[str, str, dict[str, Any]]:
        """(status, message, details) of the process now."""
        self.start()
        process = self._process
        with process.oneshot():
            memory = process.memory_info()
            files = process.num_fds() if hasattr(process, "num_fds") else len(process.open_files())
            details: dict[str, Any] = {
                "pid": process.pid,
                "cpu_percent": process.cpu_percent(None),
                "rss_bytes": memory.rss,
                "open_files": files,
                "threads": process.num_threads(),
            }
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        details["open_files_limit"] = soft if soft != resource.RLIM_INFINITY else None
        lags = list(self._lags)
        details["loop_lag_ms"] = round(lags[-1] * 1000, 2) if lags else None
        details["loop_lag_max_ms"] = round(max(lags) * 1000, 2) if lags else None
        worst = max(lags, default=0.0)
        if worst > LAG_DEGRADED_SECONDS:
            return "degraded", f"the event loop fell {worst * 1000:.0f} ms behind", details
        limit = details["open_files_limit"]
        if limit and files > FILES_DEGRADED * limit:
            return "degraded", f"{files} of {limit} file descriptors in use", details
        mib = memory.rss / 2**20
        return "ok", f"{mib:.0f} MiB resident, {files} open files", details
