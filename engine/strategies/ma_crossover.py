"""Moving-average crossover: long when the fast SMA of closes crosses above the
slow one, short when it crosses below (each closing the opposite position)."""

from __future__ import annotations

from dataclasses import dataclass

from config.strategies import MaCrossoverParams
from engine.models import Bar, Side
from engine.strategies.base import Decision, Intent, Strategy
from engine.strategies.indicators import SMA


@dataclass(slots=True)
class _Series:
    fast: SMA
    slow: SMA
    # Which side the fast SMA was on at the last bar where they differed; a
    # touch (equal values) is not a cross, so it keeps the previous side.
    above: bool | None = None


class MaCrossover(Strategy[_Series]):
    kind = "ma_crossover"
    params_model = MaCrossoverParams
    params: MaCrossoverParams

    def new_series(self) -> _Series:
        return _Series(SMA(self.params.fast), SMA(self.params.slow))

    def evaluate(self, bar: Bar, series: _Series) -> Decision | None:
        series.fast.update(bar.close)
        series.slow.update(bar.close)
        if not series.slow.ready:
            return None
        fast, slow = series.fast.value, series.slow.value
        if fast == slow:
            return None
        above, was_above = fast > slow, series.above
        series.above = above
        if was_above is None or above == was_above:
            return None
        side = Side.BUY if above else Side.SELL
        direction = "above" if above else "below"
        symbol = bar.symbol
        return Decision(
            Intent.ENTER,
            side,
            f"fast SMA {self.fmt(symbol, fast)} crossed {direction} slow SMA "
            f"{self.fmt(symbol, slow)}",
        )
