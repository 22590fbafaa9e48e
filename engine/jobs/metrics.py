"""Performance metrics as the jobs store them: a flat JSON object, measured
on minute closes (a day's report and a backtest of hours have too few daily
closes for any metric)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from engine.analytics.performance import Conventions
from engine.models import PerformanceMetrics

# Minute closes; 252 trading days of 24 hours (FX trades round the clock).
INTRADAY = Conventions(periods_per_year=252 * 24 * 60, resolution=timedelta(minutes=1))


def metrics_dict(metrics: PerformanceMetrics) -> dict[str, Any]:
    """Every metric by name (None where undefined), times as ISO strings."""
    return metrics.model_dump(mode="json")
