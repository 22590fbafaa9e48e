"""Bollinger mean reversion: long on a close below the lower band, short on one
above the upper band, and out of the position once the close is back through
the mean (the middle band)."""

from __future__ import annotations

from config.strategies import BollingerReversionParams
from engine.models import Bar, Side
from engine.strategies.base import Decision, Intent, Strategy
from engine.strategies.indicators import RollingStats


class BollingerReversion(Strategy[RollingStats]):
    kind = "bollinger_reversion"
    params_model = BollingerReversionParams
    params: BollingerReversionParams

    def new_series(self) -> RollingStats:
        return RollingStats(self.params.period)

    def evaluate(self, bar: Bar, series: RollingStats) -> Decision | None:
        series.update(bar.close)
        if not series.ready:
            return None
        symbol, close, k = bar.symbol, bar.close, self.params.deviations
        mean, width = series.mean, k * series.std
        lower, upper = mean - width, mean + width
        price = self.fmt(symbol, close)
        if close < lower:
            reason = f"close {price} below the lower band {self.fmt(symbol, lower)} ({k:g} sd)"
            return Decision(Intent.ENTER, Side.BUY, reason)
        if close > upper:
            reason = f"close {price} above the upper band {self.fmt(symbol, upper)} ({k:g} sd)"
            return Decision(Intent.ENTER, Side.SELL, reason)
        # Between the bands: a long is done once the close is back up at the mean,
        # a short once it is back down there. The base ignores an exit with
        # nothing of ours to close, so these are only signals when they act.
        middle = self.fmt(symbol, mean)
        if close >= mean:
            return Decision(Intent.EXIT, Side.SELL, f"close {price} back above the mean {middle}")
        return Decision(Intent.EXIT, Side.BUY, f"close {price} back below the mean {middle}")
