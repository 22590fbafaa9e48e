"""Bars from quotes: one `BarBuilder` per symbol and timeframe folds quote mids
into OHLC bars aligned to epoch multiples of the timeframe, as MT5 aligns them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from engine.domain import Timeframe
from engine.models import Bar, Quote

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class BarBuilder:
    """Aggregates one symbol's quotes into bars of one timeframe.

    The bar in progress lives in plain attributes; a `Bar` model is built only
    when a bar closes, so a quote inside the current period costs a datetime
    comparison and a few float comparisons. A period without quotes yields no
    bar (as on a real feed), so bars may skip periods.
    """

    __slots__ = (
        "_close",
        "_end",
        "_high",
        "_low",
        "_open",
        "_open_time",
        "_seconds",
        "_ticks",
        "symbol",
        "timeframe",
    )

    def __init__(self, symbol: str, timeframe: Timeframe) -> None:
        self.symbol = symbol
        self.timeframe = timeframe
        self._seconds = timeframe.seconds
        self._open_time: datetime | None = None
        self._end = _EPOCH  # every real quote is past it, so the first one opens a bar
        self._open = self._high = self._low = self._close = 0.0
        self._ticks = 0

    def update(self, quote: Quote) -> Bar | None:
        """Fold `quote` in; return the bar that closed if this quote opened a new period."""
        mid = quote.mid
        if quote.time < self._end:
            if mid > self._high:
                self._high = mid
            elif mid < self._low:
                self._low = mid
            self._close = mid
            self._ticks += 1
            return None
        closed = self.current
        start = int((quote.time - _EPOCH).total_seconds()) // self._seconds * self._seconds
        self._open_time = _EPOCH + timedelta(seconds=start)
        self._end = self._open_time + timedelta(seconds=self._seconds)
        self._open = self._high = self._low = self._close = mid
        self._ticks = 1
        return closed

    @property
    def current(self) -> Bar | None:
        """The bar in progress, or None before the first quote."""
        if self._open_time is None:
            return None
        return Bar.model_construct(
            symbol=self.symbol,
            timeframe=self.timeframe,
            time=self._open_time,
            open=self._open,
            high=self._high,
            low=self._low,
            close=self._close,
            ticks=self._ticks,
        )
