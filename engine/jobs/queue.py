"""The queue's in-memory index over the stored jobs: which are ready (strict
priority, FIFO within one) and which wait for a time. It holds ids only; the
job itself and its state live in the service, which skips ids whose job has
since left the state they were queued in (cancelled, say) — cheaper than
removing them from the middle of a lane."""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from datetime import datetime

from engine.models import JobPriority


class ReadyLanes:
    """One FIFO lane per priority; `pop` takes from the highest non-empty one."""

    def __init__(self) -> None:
        self._lanes: tuple[deque[int], ...] = tuple(deque() for _ in JobPriority)

    def push(self, job_id: int, priority: JobPriority) -> None:
        self._lanes[priority.rank].append(job_id)

    def pop(self) -> int | None:
        for lane in self._lanes:
            if lane:
                return lane.popleft()
        return None

    def __len__(self) -> int:
        return sum(len(lane) for lane in self._lanes)


class Timetable:
    """Jobs waiting for their `run_at`, earliest first (ties by id, so FIFO)."""

    def __init__(self) -> None:
        self._heap: list[tuple[datetime, int, int]] = []
        self._order = itertools.count()

    def add(self, job_id: int, run_at: datetime) -> None:
        heapq.heappush(self._heap, (run_at, next(self._order), job_id))

    def next_time(self) -> datetime | None:
        return self._heap[0][0] if self._heap else None

    def due(self, now: datetime) -> list[int]:
        """Remove and return the ids whose time has come, in time order."""
        ids = []
        while self._heap and self._heap[0][0] <= now:
            ids.append(heapq.heappop(self._heap)[2])
        return ids

    def __len__(self) -> int:
        return len(self._heap)
