"""Incremental indicators: each bar costs O(1), whatever the period.

Running sums drift as floats add and subtract for hours; every `period`
updates the sums are recomputed exactly from the window (amortised O(1)), so
the error never grows with the length of a run.
"""

from __future__ import annotations

import math
from collections import deque


class RollingStats:
    """Mean and population standard deviation of the last `period` values.

    Sums are kept relative to a reference value (the mean at the last
    recompute), so the variance of prices like 1.08412 with tiny spreads does
    not vanish in the cancellation of two large sums of squares.
    """

    def __init__(self, period: int) -> None:
        if period < 1:
            raise ValueError(f"period must be at least 1, got {period}")
        self.period = period
        self._window: deque[float] = deque()
        self._ref = 0.0
        self._sum = 0.0
        self._sumsq = 0.0
        self._since_recompute = 0

    @property
    def ready(self) -> bool:
        return len(self._window) == self.period

    def update(self, value: float) -> None:
        window = self._window
        window.append(value)
        shifted = value - self._ref
        self._sum += shifted
        self._sumsq += shifted * shifted
        if len(window) > self.period:
            old = window.popleft() - self._ref
            self._sum -= old
            self._sumsq -= old * old
        self._since_recompute += 1
        if self._since_recompute >= self.period:
            self._recompute()

    @property
    def mean(self) -> float:
        return self._ref + self._sum / len(self._window)

    @property
    def std(self) -> float:
        n = len(self._window)
        shifted_mean = self._sum / n
        return math.sqrt(max(0.0, self._sumsq / n - shifted_mean * shifted_mean))

    def _recompute(self) -> None:
        window = self._window
        self._ref = math.fsum(window) / len(window)
        shifted = [v - self._ref for v in window]
        self._sum = math.fsum(shifted)
        self._sumsq = math.fsum(s * s for s in shifted)
        self._since_recompute = 0


class SMA:
    """Simple moving average of the last `period` values."""

    def __init__(self, period: int) -> None:
        self._stats = RollingStats(period)

    @property
    def ready(self) -> bool:
        return self._stats.ready

    @property
    def value(self) -> float:
        return self._stats.mean

    def update(self, value: float) -> None:
        self._stats.update(value)


class RollingExtreme:
    """The highest (or lowest) of the last `period` values, by a monotonic deque:
    each value enters and leaves the deque once, so an update is O(1) amortised."""

    def __init__(self, period: int, *, highest: bool) -> None:
        if period < 1:
            raise ValueError(f"period must be at least 1, got {period}")
        self.period = period
        self._highest = highest
        self._candidates: deque[tuple[int, float]] = deque()  # (index, value), best first
        self._count = 0

    @property
    def ready(self) -> bool:
        return self._count >= self.period

    @property
    def value(self) -> float:
        return self._candidates[0][1]

    def update(self, value: float) -> None:
        candidates = self._candidates
        if self._highest:
            while candidates and candidates[-1][1] <= value:
                candidates.pop()
        else:
            while candidates and candidates[-1][1] >= value:
                candidates.pop()
        candidates.append((self._count, value))
        self._count += 1
        if candidates[0][0] <= self._count - 1 - self.period:
            candidates.popleft()
