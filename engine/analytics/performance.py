"""Performance metrics of an equity curve and a list of trades.

One pure module, so the API, the panel, the daily report and the optimiser
all agree. The definitions follow empyrical (quantopian/empyrical,
`empyrical/stats.py`); docs/metrics.md states each convention and where it
matches:

- returns are simple returns between consecutive period closes;
- an irregular equity series is first resampled to `conventions.resolution`:
  its first point (the opening value), then the last point of each period
  (UTC calendar periods: days, hours, minutes) that has one; empty periods are
  skipped, as empyrical's daily series skip non-trading days;
- annualisation by `periods_per_year`; the risk-free rate is annual and
  converted to a per-period rate;
- volatility and Sharpe use the sample standard deviation (ddof=1);
- Sortino divides the annualised mean excess return by the annualised
  downside deviation sqrt(mean(min(r - rf, 0)^2)) taken over all periods;
- max drawdown is the worst fall from the running peak, negative;
- Calmar is the annualised return over |max drawdown|;
- the benchmark is read at each of the curve's closes (its last price at or
  before it); beta and alpha are empyrical's `beta` and `alpha` on the two
  aligned return series.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from statistics import fmean, stdev

from engine.models import PerformanceMetrics

Series = Sequence[tuple[datetime, float]]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Conventions:
    """Periods per year (252: daily closes), the annual risk-free rate, and the
    period returns are taken over; deviations are always sample ones (ddof=1)."""

    periods_per_year: int = 252
    risk_free_rate: float = 0.0  # annual
    resolution: timedelta = timedelta(days=1)

    @property
    def risk_free_per_period(self) -> float:
        return (1 + self.risk_free_rate) ** (1 / self.periods_per_year) - 1


def resample(series: Series, resolution: timedelta) -> list[tuple[datetime, float]]:
    """The first point, then the last point of each UTC period `resolution`
    long (a period ends at, and includes, a multiple of `resolution` since the
    epoch: a sample at midnight closes the day before), in time order; periods
    with no point are skipped."""
    if not series:
        return []
    points = sorted(series, key=lambda p: p[0])
    closes: dict[int, tuple[datetime, float]] = {}
    for time, value in points[1:]:
        since_epoch = (time if time.tzinfo else time.replace(tzinfo=UTC)) - _EPOCH
        closes[-(-since_epoch // resolution)] = (time, value)
    return [points[0], *(closes[k] for k in sorted(closes))]


def simple_returns(values: Sequence[float]) -> list[float]:
    return [b / a - 1 if a else 0.0 for a, b in pairwise(values)]


def max_drawdown(values: Sequence[float]) -> float | None:
    """The worst fall from a running peak, as a fraction <= 0."""
    if not values:
        return None
    peak = values[0]
    worst = 0.0
    for value in values:
        peak = max(peak, value)
        if peak > 0:
            worst = min(worst, value / peak - 1)
    return worst


def max_drawdown_duration(series: Series) -> float | None:
    """The longest time, in seconds, from a peak until equity is back at it (or
    until the series ends, for a drawdown not yet recovered)."""
    if not series:
        return None
    longest = 0.0
    peak_value, peak_time = series[0][1], series[0][0]
    underwater = False
    for time, value in series:
        if value >= peak_value:
            if underwater:
                longest = max(longest, (time - peak_time).total_seconds())
            peak_value, peak_time, underwater = value, time, False
        else:
            underwater = True
    if underwater:
        longest = max(longest, (series[-1][0] - peak_time).total_seconds())
    return longest


def sharpe_ratio(returns: Sequence[float], conventions: Conventions) -> float | None:
    if len(returns) < 2:
        return None
    excess = [r - conventions.risk_free_per_period for r in returns]
    deviation = stdev(excess)
    if deviation == 0:
        return None
    return fmean(excess) / deviation * math.sqrt(conventions.periods_per_year)


def sortino_ratio(returns: Sequence[float], conventions: Conventions) -> float | None:
    if not returns:
        return None
    excess = [r - conventions.risk_free_per_period for r in returns]
    downside = math.sqrt(fmean([min(r, 0.0) ** 2 for r in excess]))
    if downside == 0:
        return None
    periods = conventions.periods_per_year
    return fmean(excess) * periods / (downside * math.sqrt(periods))


def annualised_return(total: float, periods: int, conventions: Conventions) -> float | None:
    if periods == 0 or total <= -1:
        return None
    return (1 + total) ** (conventions.periods_per_year / periods) - 1


def beta(returns: Sequence[float], benchmark: Sequence[float]) -> float | None:
    """cov(r, b) / var(b) over two aligned return series of the same length."""
    if len(returns) < 2 or len(returns) != len(benchmark):
        return None
    mean_r, mean_b = fmean(returns), fmean(benchmark)
    variance = sum((x - mean_b) ** 2 for x in benchmark)
    if variance == 0:
        return None
    covariance = sum((x - mean_r) * (y - mean_b) for x, y in zip(returns, benchmark, strict=True))
    return covariance / variance


def alpha(
    returns: Sequence[float], benchmark: Sequence[float], conventions: Conventions
) -> float | None:
    """Annualised mean of the returns beta does not explain, compounded:
    (1 + mean(r - rf - beta (b - rf)))^periods_per_year - 1."""
    b = beta(returns, benchmark)
    if b is None:
        return None
    rf = conventions.risk_free_per_period
    unexplained = fmean(r - rf - b * (m - rf) for r, m in zip(returns, benchmark, strict=True))
    if unexplained <= -1:
        return None
    return (1 + unexplained) ** conventions.periods_per_year - 1


def align(closes: Series, benchmark: Series) -> list[tuple[float, float]]:
    """(curve value, benchmark value) at each of the curve's closes: the
    benchmark's last price at or before it; closes before its first are left out."""
    points = sorted(benchmark, key=lambda p: p[0])
    times = [time for time, _ in points]
    pairs = []
    for time, value in closes:
        index = bisect_right(times, time) - 1
        if index >= 0:
            pairs.append((value, points[index][1]))
    return pairs


def compute_performance(
    equity: Series,
    trade_pnls: Sequence[float] = (),
    *,
    benchmark: Series | None = None,
    conventions: Conventions = Conventions(),
) -> PerformanceMetrics:
    """Every metric of an equity curve (time, equity) and its trades' P&Ls."""
    closes = resample(equity, conventions.resolution)
    values = [value for _, value in closes]
    returns = simple_returns(values)
    metrics = PerformanceMetrics(
        start=closes[0][0] if closes else None,
        end=closes[-1][0] if closes else None,
        periods=len(returns),
        **_trade_stats(trade_pnls),
    )
    if len(values) < 2 or values[0] <= 0:
        return metrics
    total = values[-1] / values[0] - 1
    annual = annualised_return(total, len(returns), conventions)
    drawdown = max_drawdown(values)
    metrics.total_return = total
    metrics.annualised_return = annual
    metrics.volatility = (
        stdev(returns) * math.sqrt(conventions.periods_per_year) if len(returns) > 1 else None
    )
    metrics.sharpe = sharpe_ratio(returns, conventions)
    metrics.sortino = sortino_ratio(returns, conventions)
    metrics.max_drawdown = drawdown
    metrics.max_drawdown_duration = max_drawdown_duration(closes)
    metrics.calmar = annual / -drawdown if annual is not None and drawdown else None
    if benchmark:
        _compare(metrics, align(closes, benchmark), conventions)
    return metrics


def _compare(
    metrics: PerformanceMetrics, pairs: list[tuple[float, float]], conventions: Conventions
) -> None:
    """The benchmark's buy-and-hold over the closes it covers, against the curve's."""
    if len(pairs) < 2 or pairs[0][0] <= 0 or pairs[0][1] <= 0:
        return
    curve = [v for v, _ in pairs]
    bench = [b for _, b in pairs]
    metrics.benchmark_return = bench[-1] / bench[0] - 1
    metrics.excess_return = curve[-1] / curve[0] - 1 - metrics.benchmark_return
    returns, bench_returns = simple_returns(curve), simple_returns(bench)
    metrics.beta = beta(returns, bench_returns)
    metrics.alpha = alpha(returns, bench_returns, conventions)


def _trade_stats(pnls: Sequence[float]) -> dict[str, float | int | None]:
    wins = [p for p in pnls if p > 0]
    losses = [p for p in pnls if p < 0]
    gross_loss = -sum(losses)
    return {
        "trades": len(pnls),
        "win_rate": len(wins) / len(pnls) if pnls else None,
        "profit_factor": sum(wins) / gross_loss if gross_loss else None,
        "avg_win": fmean(wins) if wins else None,
        "avg_loss": fmean(losses) if losses else None,
        "expectancy": fmean(pnls) if pnls else None,
    }
