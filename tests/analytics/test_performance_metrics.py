"""Performance metrics against values computed by hand on series with known
answers (docs/metrics.md gives the conventions: empyrical's definitions)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from engine.analytics.performance import Conventions, compute_performance, resample

DAY = timedelta(days=1)
START = datetime(2026, 1, 5, tzinfo=UTC)
# Four periods a year, so a year of quarterly closes annualises to itself.
QUARTERLY = Conventions(periods_per_year=4)


def daily(*values: float) -> list[tuple[datetime, float]]:
    return [(START + i * DAY, v) for i, v in enumerate(values)]


def test_a_flat_curve_has_no_return_no_risk_and_no_ratios() -> None:
    m = compute_performance(daily(100, 100, 100, 100, 100))
    assert m.periods == 4
    assert m.total_return == 0
    assert m.volatility == 0
    assert m.max_drawdown == 0
    assert m.max_drawdown_duration == 0
    # Zero deviation: the ratios are undefined, not infinite.
    assert m.sharpe is None and m.sortino is None and m.calmar is None


def test_steady_growth_compounds_and_never_draws_down() -> None:
    m = compute_performance(
        daily(100, 110, 121, 133.1), conventions=Conventions(periods_per_year=3)
    )
    assert m.total_return == pytest.approx(0.331)
    assert m.annualised_return == pytest.approx(0.331)  # three periods of a three-period year
    assert m.volatility == pytest.approx(0, abs=1e-12)
    assert m.max_drawdown == 0
    assert m.calmar is None


def test_one_drawdown_its_depth_and_duration() -> None:
    m = compute_performance(daily(100, 120, 90, 108, 130))
    assert m.total_return == pytest.approx(0.3)
    assert m.max_drawdown == pytest.approx(90 / 120 - 1)  # -25 %
    # Peak on day 1, back above it on day 4.
    assert m.max_drawdown_duration == 3 * DAY.total_seconds()
    annual = 1.3 ** (252 / 4) - 1
    assert m.annualised_return == pytest.approx(annual)
    assert m.calmar == pytest.approx(annual / 0.25)


def test_an_unrecovered_drawdown_lasts_until_the_end() -> None:
    m = compute_performance(daily(100, 120, 110, 100))
    assert m.max_drawdown == pytest.approx(100 / 120 - 1)
    assert m.max_drawdown_duration == 2 * DAY.total_seconds()


def test_alternating_returns_sharpe_sortino_volatility() -> None:
    # +10 %, -5 %, +10 %, -5 %: mean 2.5 %, sample std sqrt(0.0075),
    # downside deviation sqrt(mean([0, 0.0025, 0, 0.0025])) = sqrt(0.00125).
    m = compute_performance(daily(100, 110, 104.5, 114.95, 109.2025), conventions=QUARTERLY)
    std = math.sqrt(0.0075)
    assert m.volatility == pytest.approx(std * 2)
    assert m.sharpe == pytest.approx(0.025 / std * 2)  # 0.57735
    assert m.sortino == pytest.approx(0.025 * 4 / (math.sqrt(0.00125) * 2))  # 1.41421
    assert m.total_return == pytest.approx(0.092025)
    assert m.annualised_return == pytest.approx(0.092025)
    assert m.max_drawdown == pytest.approx(-0.05)
    assert m.calmar == pytest.approx(0.092025 / 0.05)


def test_the_risk_free_rate_is_annual_and_taken_per_period() -> None:
    conventions = Conventions(periods_per_year=4, risk_free_rate=0.04)
    per_period = 1.04**0.25 - 1
    m = compute_performance(daily(100, 110, 104.5, 114.95, 109.2025), conventions=conventions)
    assert m.sharpe == pytest.approx((0.025 - per_period) / math.sqrt(0.0075) * 2)


def test_trade_statistics() -> None:
    m = compute_performance(daily(100, 101), [10, -5, 20, -5, 0])
    assert m.trades == 5
    assert m.win_rate == pytest.approx(0.4)
    assert m.profit_factor == pytest.approx(3.0)
    assert m.avg_win == 15 and m.avg_loss == -5
    assert m.expectancy == pytest.approx(4.0)
    no_losses = compute_performance(daily(100, 101), [1, 2])
    assert no_losses.profit_factor is None and no_losses.avg_loss is None


def test_against_a_benchmark() -> None:
    # The curve's returns are twice the benchmark's: beta 2.
    bench = daily(100, 101, 99.99, 101.9898)
    curve = daily(100, 102, 99.96, 103.9584)
    m = compute_performance(curve, benchmark=bench)
    assert m.benchmark_return == pytest.approx(0.019898)
    assert m.excess_return == pytest.approx(0.039584 - 0.019898)
    assert m.beta == pytest.approx(2.0)


def test_irregular_points_are_resampled_to_the_opening_value_and_period_closes() -> None:
    hour = timedelta(hours=1)
    points = [
        (START + DAY + hour, 95.0),  # out of order on purpose
        (START, 100.0),  # the opening value (a midnight sample closes the day before)
        (START + 3 * hour, 105.0),
        (START + 23 * hour, 90.0),  # day 0 closes at 90
        (START + 3 * DAY, 99.0),  # day 2 has no point and is skipped; 99 closes day 2's end
    ]
    assert [v for _, v in resample(points, DAY)] == [100.0, 90.0, 95.0, 99.0]
    m = compute_performance(points)
    assert m.periods == 3
    assert m.total_return == pytest.approx(-0.01)
    assert m.max_drawdown == pytest.approx(-0.10)


def test_periods_are_utc_calendar_periods() -> None:
    # Sampled from 09:00: the first day closes at midnight, not 24 h after 09:00.
    nine = START + timedelta(hours=9)
    points = [(nine, 100.0), (nine + timedelta(hours=14), 104.0), (nine + DAY, 110.0)]
    assert [v for _, v in resample(points, DAY)] == [100.0, 104.0, 110.0]


def test_a_range_within_one_period_still_has_its_return() -> None:
    minute = timedelta(minutes=1)
    m = compute_performance([(START + i * minute, 100.0 + i) for i in range(1, 6)])
    assert m.periods == 1
    assert m.total_return == pytest.approx(105 / 101 - 1)


def test_alpha_is_the_compounded_mean_return_beta_does_not_explain() -> None:
    # Returns: the curve's are 1 % plus the benchmark's: beta 1, alpha
    # (1 + 0.01)^4 - 1 a year at four periods a year (empyrical's `alpha`).
    bench = daily(100, 102, 100.98, 103.0)
    returns = [0.03, 0.0, 0.01 + (103.0 / 100.98 - 1)]
    values = [100.0]
    for r in returns:
        values.append(values[-1] * (1 + r))
    m = compute_performance(daily(*values), benchmark=bench, conventions=QUARTERLY)
    assert m.beta == pytest.approx(1.0)
    assert m.alpha == pytest.approx(1.01**4 - 1)


def test_the_benchmark_is_read_at_the_curves_closes() -> None:
    # The benchmark has a point every hour; the curve one a day with day 2
    # missing. Each close takes the benchmark's last price at or before it.
    hour = timedelta(hours=1)
    bench = [(START + i * hour, 100.0 + i) for i in range(0, 4 * 24 + 1)]
    curve = [(START, 1000.0), (START + DAY, 1010.0), (START + 3 * DAY, 1040.0)]
    m = compute_performance(curve, benchmark=bench)
    assert m.benchmark_return == pytest.approx(172 / 100 - 1)
    assert m.excess_return == pytest.approx(0.04 - 0.72)
    # A benchmark that starts after the curve: the closes before it are left out.
    late = compute_performance(curve, benchmark=bench[10:])
    assert late.benchmark_return == pytest.approx(172 / 124 - 1)
    assert late.excess_return == pytest.approx(1040 / 1010 - 172 / 124)


def test_too_little_data_leaves_metrics_undefined() -> None:
    assert compute_performance([]).total_return is None
    one = compute_performance(daily(100))
    assert one.periods == 0 and one.total_return is None and one.sharpe is None
