"""A seeded simulated market: bid/ask ticks for every configured instrument.

Each symbol follows its own geometric random walk with the instrument's
annualised volatility, ticks arriving at random (exponential gaps around
`ticks_per_second`), spreads that vary around `spread_points` and widen in
occasional volatility bursts. Prices are kept as floats and become `Decimal`
only at the edge, as integer points, so quotes are exact to the instrument's
digits and bid < ask, both above zero, always.

Real markets move too slowly to show a strategy at work in a demo, so time
runs faster for prices than for the clock: with `time_scale` 60, one second
on the clock carries the variance of one minute of trading, and a 30-pip stop
on EURUSD is reached in minutes rather than hours.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from operator import attrgetter

from config.models import InstrumentConfig
from engine.domain import Timeframe
from engine.models import Bar, BookLevel, OrderBook, Quote

DEFAULT_TIME_SCALE = 60.0
SECONDS_PER_YEAR = 365 * 24 * 3600

# Bursts: about one every ten minutes per symbol, lasting half a minute on
# average, with three times the volatility and a spread twice as wide.
BURST_EVERY_SECONDS = 600.0
BURST_MEAN_SECONDS = 30.0
BURST_VOLATILITY = 3.0
BURST_SPREAD = 2.0
# Calm spreads vary between 80 % and 140 % of `spread_points`.
SPREAD_LOW = 0.8
SPREAD_RANGE = 0.6

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_by_time = attrgetter("time")


class MarketSimulator:
    """Every instrument's quotes, advanced on demand to the clock's time.

    Deterministic: the same seed, start and sequence of `step` times give the
    same quotes. Each symbol draws from its own `random.Random`, and a tick's
    time is drawn when the previous tick is made, so the quotes do not even
    depend on how finely time is stepped.
    """

    def __init__(
        self,
        instruments: Mapping[str, InstrumentConfig],
        seed: int,
        start: datetime,
        last_quotes: Mapping[str, Quote] | None = None,
        *,
        time_scale: float = DEFAULT_TIME_SCALE,
    ) -> None:
        """Start every symbol at `start`, from its last quote when given (a resumed
        market continues where it stopped), else from its `start_price`."""
        self.seed = seed
        self.time_scale = time_scale
        start_ms = _to_ms(start)
        self._walks: dict[str, _Walk] = {}
        for symbol, instrument in instruments.items():
            last = last_quotes.get(symbol) if last_quotes else None
            self._walks[symbol] = _Walk.create(
                symbol, instrument, f"{seed}:{symbol}:{start_ms}", start_ms, time_scale, last
            )

    def step(self, now: datetime) -> list[Quote]:
        """Advance every symbol to `now`; the new quotes in time order."""
        until = _to_ms(now)
        quotes: list[Quote] = []
        for walk in self._walks.values():
            if walk.next_ms <= until:
                walk.advance(until, quotes)
        if len(self._walks) > 1:
            quotes.sort(key=_by_time)  # stable: ties keep the instruments' order
        return quotes

    def quote(self, symbol: str) -> Quote | None:
        walk = self._walks.get(symbol)
        return walk.last if walk is not None else None

    def quotes(self) -> dict[str, Quote]:
        return {symbol: walk.last for symbol, walk in self._walks.items()}

    def book(self, symbol: str, depth: int = 5) -> OrderBook | None:
        """Depth of market around the latest quote: `depth` levels a side, one
        point apart from the best bid and ask, with volumes drawn from a
        generator seeded by the symbol and the quote's time (the same quote
        always shows the same book; the walk's own draws are untouched)."""
        walk = self._walks.get(symbol)
        if walk is None:
            return None
        quote = walk.last
        rng = random.Random(f"{self.seed}:{symbol}:{_to_ms(quote.time)}:book")
        step = Decimal(walk.point_units).scaleb(-walk.digits)

        def side(best: Decimal, sign: int) -> list[BookLevel]:
            return [
                BookLevel(price=best + sign * step * i, volume=round(0.1 + rng.expovariate(0.5), 2))
                for i in range(depth)
                if best + sign * step * i > 0
            ]

        return OrderBook(
            symbol=symbol, time=quote.time, bids=side(quote.bid, -1), asks=side(quote.ask, 1)
        )

    def history(self, symbol: str, timeframe: Timeframe, count: int, end: datetime) -> list[Bar]:
        """`count` closed bars before the period that contains `end`, oldest first,
        the last one closing at the current price: warm-up history that joins the
        live bars without a gap, so strategies can trade on their first live bar.

        The same arguments give the same bars; an unknown symbol gives none."""
        chunks = self.iter_history(symbol, timeframe, count, end, chunk=max(1, count))
        return next(chunks, [])

    def iter_history(
        self, symbol: str, timeframe: Timeframe, count: int, end: datetime, chunk: int = 10_000
    ) -> Iterator[list[Bar]]:
        """`history`'s bars in chunks of at most `chunk`, oldest first, holding
        one chunk at a time: a year of M1 bars streams in constant memory.

        The bars are drawn backwards from the current price, so a first pass
        runs the draws from the newest bar to the oldest keeping only the
        generator's state where each chunk starts; each chunk is then drawn
        again from its saved state, from the oldest chunk to the newest."""
        walk = self._walks.get(symbol)
        if walk is None or count <= 0:
            return
        draw = _Draw(self.seed, walk, timeframe, end, count, rng_key=f"{symbol}:{timeframe.value}")
        if count <= chunk:  # one chunk: no first pass
            yield draw.bars(draw.rng.getstate(), draw.close, count - 1, 0)
            return
        starts = draw.checkpoints(chunk)
        for index, (state, close) in reversed(list(enumerate(starts))):
            newest = count - 1 - index * chunk
            oldest = max(0, newest - chunk + 1)
            yield draw.bars(state, close, newest, oldest)


class _Draw:
    """The backward walk of one `history` call (see `MarketSimulator.iter_history`)."""

    def __init__(
        self, seed: int, walk: _Walk, timeframe: Timeframe, end: datetime, count: int, rng_key: str
    ) -> None:
        self.symbol = walk.symbol
        self.timeframe = timeframe
        self.count = count
        self.seconds = seconds = timeframe.seconds
        self.rng = random.Random(f"{seed}:{rng_key}:{_to_ms(end)}")
        self.sigma = walk.sigma * math.sqrt(seconds)
        self.digits = walk.digits
        self.ticks = max(1, round(seconds * walk.ticks_per_second))
        self.first_open = (_to_ms(end) // 1000 // seconds - count) * seconds
        self.close = walk.last.mid

    def checkpoints(self, chunk: int) -> list[tuple[object, float]]:
        """The generator's state and the close at the newest bar of each chunk,
        newest chunk first (a pass that makes no bars)."""
        rng, sigma = self.rng, self.sigma
        gauss = rng.gauss
        close = self.close
        starts: list[tuple[object, float]] = []
        for step in range(self.count):
            if step % chunk == 0:
                starts.append((rng.getstate(), close))
            open_ = close / math.exp(sigma * gauss(0.0, 1.0))
            gauss(0.0, 0.5)
            gauss(0.0, 0.5)
            close = open_
        return starts

    def bars(self, state: object, close: float, newest: int, oldest: int) -> list[Bar]:
        """Bars `oldest`..`newest` (by index from the first), oldest first;
        each bar opens where the one before it closed."""
        rng, sigma, digits = self.rng, self.sigma, self.digits
        rng.setstate(state)  # type: ignore[arg-type]
        gauss = rng.gauss
        seconds, first_open = self.seconds, self.first_open
        bars: list[Bar] = []
        for index in range(newest, oldest - 1, -1):
            open_ = close / math.exp(sigma * gauss(0.0, 1.0))
            high = max(open_, close) * math.exp(abs(gauss(0.0, 0.5)) * sigma)
            low = min(open_, close) / math.exp(abs(gauss(0.0, 0.5)) * sigma)
            bars.append(
                Bar(
                    symbol=self.symbol,
                    timeframe=self.timeframe,
                    time=_EPOCH + timedelta(seconds=first_open + index * seconds),
                    open=round(open_, digits),
                    high=round(high, digits),
                    low=round(low, digits),
                    close=round(close, digits),
                    ticks=self.ticks,
                )
            )
            close = open_
        bars.reverse()
        return bars


@dataclass(slots=True)
class _Walk:
    """One symbol's price process and its precomputed constants."""

    symbol: str
    rng: random.Random
    digits: int
    point: float
    point_units: int  # one point in units of 10**-digits
    spread: float  # base spread in points
    sigma: float  # log-price volatility per square-root second of clock time
    ticks_per_second: float
    price: float  # mid, in price units
    last_ms: int
    next_ms: int
    burst_until_ms: int
    last: Quote = field(init=False)

    @classmethod
    def create(
        cls,
        symbol: str,
        instrument: InstrumentConfig,
        seed: str,
        start_ms: int,
        time_scale: float,
        last: Quote | None,
    ) -> _Walk:
        digits = instrument.digits
        point_units = instrument.point.scaleb(digits)
        if point_units != point_units.to_integral_value() or point_units < 1:
            raise ValueError(
                f"{symbol}: point {instrument.point} is not a multiple of 10^-{digits}"
            )
        walk = cls(
            symbol=symbol,
            rng=random.Random(seed),
            digits=digits,
            point=float(instrument.point),
            point_units=int(point_units),
            spread=float(max(1, instrument.spread_points)),
            sigma=instrument.volatility * math.sqrt(time_scale / SECONDS_PER_YEAR),
            ticks_per_second=instrument.ticks_per_second,
            price=last.mid if last is not None else float(instrument.start_price),
            last_ms=start_ms,
            next_ms=start_ms,
            burst_until_ms=start_ms,
        )
        if last is None:
            walk.last = walk.make_quote(start_ms, round(walk.spread))
        else:
            walk.last = Quote.model_construct(
                symbol=symbol, bid=last.bid, ask=last.ask, time=_from_ms(start_ms), mid=last.mid
            )
        walk.next_ms = start_ms + walk.gap_ms()
        return walk

    def gap_ms(self) -> int:
        return 1 + int(self.rng.expovariate(self.ticks_per_second) * 1000)

    def advance(self, until_ms: int, out: list[Quote]) -> None:
        """Emit every tick due by `until_ms` into `out`."""
        rng = self.rng
        gauss = rng.gauss
        uniform = rng.random
        sigma = self.sigma
        spread = self.spread
        ms = self.next_ms
        while ms <= until_ms:
            dt = (ms - self.last_ms) / 1000.0
            self.last_ms = ms
            if ms < self.burst_until_ms:
                burst = True
            elif uniform() < dt / BURST_EVERY_SECONDS:
                burst = True
                self.burst_until_ms = ms + int(rng.expovariate(1 / BURST_MEAN_SECONDS) * 1000)
            else:
                burst = False
            if burst:
                self.price *= math.exp(sigma * BURST_VOLATILITY * math.sqrt(dt) * gauss(0.0, 1.0))
                width = spread * BURST_SPREAD
            else:
                self.price *= math.exp(sigma * math.sqrt(dt) * gauss(0.0, 1.0))
                width = spread
            points = round(width * (SPREAD_LOW + SPREAD_RANGE * uniform())) or 1
            self.last = quote = self.make_quote(ms, points)
            out.append(quote)
            ms += self.gap_ms()
        self.next_ms = ms

    def make_quote(self, ms: int, spread_points: int) -> Quote:
        """A quote around the current mid, in whole points; the bid never below one point."""
        bid_points = round(self.price / self.point - spread_points / 2)
        if bid_points < 1:
            bid_points = 1
        ask_points = bid_points + spread_points
        units, digits = self.point_units, -self.digits
        return Quote.model_construct(
            symbol=self.symbol,
            bid=Decimal(bid_points * units).scaleb(digits),
            ask=Decimal(ask_points * units).scaleb(digits),
            time=_from_ms(ms),
            mid=(bid_points + ask_points) * 0.5 * self.point,
        )


def _to_ms(when: datetime) -> int:
    return (when - _EPOCH) // _MS


def _from_ms(ms: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=ms)
