"""The incremental indicators agree with recomputing each window from scratch,
over a run long enough for running sums to drift if nothing kept them honest."""

from __future__ import annotations

import random
import statistics

import pytest

from engine.strategies.indicators import SMA, RollingExtreme, RollingStats


def random_walk(n: int, start: float, step: float, seed: int = 7) -> list[float]:
    rng = random.Random(seed)
    values, price = [], start
    for _ in range(n):
        price += rng.gauss(0.0, step)
        values.append(price)
    return values


@pytest.mark.parametrize(("start", "step"), [(1.08412, 0.00005), (2350.0, 0.8), (150.0, 0.01)])
def test_rolling_mean_and_std_match_the_window(start: float, step: float) -> None:
    values = random_walk(20_000, start, step)
    stats, sma = RollingStats(20), SMA(20)
    for i, value in enumerate(values):
        stats.update(value)
        sma.update(value)
        assert stats.ready is sma.ready is (i >= 19)
        if i >= 19 and i % 97 == 0:
            window = values[i - 19 : i + 1]
            assert stats.mean == pytest.approx(statistics.fmean(window), rel=1e-12)
            assert sma.value == stats.mean
            assert stats.std == pytest.approx(statistics.pstdev(window), rel=1e-6)


def test_std_of_a_flat_window_is_zero() -> None:
    stats = RollingStats(5)
    for _ in range(12):
        stats.update(1.08412)
    assert stats.std == 0.0
    assert stats.mean == pytest.approx(1.08412, rel=1e-15)


def test_rolling_extremes_match_the_window() -> None:
    values = random_walk(5_000, 1.1, 0.0003)
    highest, lowest = RollingExtreme(14, highest=True), RollingExtreme(14, highest=False)
    for i, value in enumerate(values):
        highest.update(value)
        lowest.update(value)
        assert highest.ready is lowest.ready is (i >= 13)
        window = values[max(0, i - 13) : i + 1]
        assert highest.value == max(window)
        assert lowest.value == min(window)


def test_periods_below_one_are_refused() -> None:
    with pytest.raises(ValueError, match="period"):
        RollingStats(0)
    with pytest.raises(ValueError, match="period"):
        RollingExtreme(0, highest=True)
