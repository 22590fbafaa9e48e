"""Donchian breakout: long on a close above the highest high of the previous
`period` bars, short on a close below their lowest low (each closing the
opposite position)."""

from __future__ import annotations

from dataclasses import dataclass

from config.strategies import DonchianBreakoutParams
from engine.models import Bar, Side
from engine.strategies.base import Decision, Intent, Strategy
from engine.strategies.indicators import RollingExtreme


@dataclass(slots=True)
class _Series:
    highs: RollingExtreme
    lows: RollingExtreme


class DonchianBreakout(Strategy[_Series]):
    kind = "donchian_breakout"
    params_model = DonchianBreakoutParams
    params: DonchianBreakoutParams

    def new_series(self) -> _Series:
        period = self.params.period
        return _Series(RollingExtreme(period, highest=True), RollingExtreme(period, highest=False))

    def evaluate(self, bar: Bar, series: _Series) -> Decision | None:
        # The channel is that of the bars before this one, so read it first.
        decision = self._breakout(bar, series) if series.highs.ready else None
        series.highs.update(bar.high)
        series.lows.update(bar.low)
        return decision

    def _breakout(self, bar: Bar, series: _Series) -> Decision | None:
        symbol, period, close = bar.symbol, self.params.period, bar.close
        high, low = series.highs.value, series.lows.value
        if close > high:
            reason = (
                f"close {self.fmt(symbol, close)} broke above the {period}-bar high "
                f"{self.fmt(symbol, high)}"
            )
            return Decision(Intent.ENTER, Side.BUY, reason)
        if close < low:
            reason = (
                f"close {self.fmt(symbol, close)} broke below the {period}-bar low "
                f"{self.fmt(symbol, low)}"
            )
            return Decision(Intent.ENTER, Side.SELL, reason)
        return None
