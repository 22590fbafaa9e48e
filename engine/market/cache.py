"""The market-data cache: what readers (the API, the panel) ask of a symbol,
served without going back to the source each time.

- quotes: the engine's latest quote per symbol, always current (the quote path
  writes it); a read of a symbol with no quote yet counts as a miss;
- bars: recent closed bars per (symbol, timeframe), computed once and kept until
  the current bar closes, when they are stale (history is the costly read: the
  simulator generates it, an MT5 terminal would copy it over IPC);
- trades: our recent fills per symbol, read from the store once, then kept
  current from the fills the engine publishes.

Hits and misses are counted per kind; `invalidate` drops what is held so that
the next read goes back to the source.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from engine.clock import Clock
from engine.domain import Timeframe
from engine.models import Bar, CacheCounter, CacheType, Fill, MarketCacheStats, MarketDay, Quote
from storage.trades import TradeStore

CacheKind = Literal["quotes", "bars", "trades"]
History = Callable[[str, Timeframe, int, datetime], list[Bar]]

BARS_KEPT = 500
TRADES_KEPT = 100

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class MarketCache:
    def __init__(
        self,
        quotes: Callable[[str], Quote | None],
        history: History,
        trades: TradeStore,
        clock: Clock,
        *,
        quoted: Callable[[], int] = lambda: 0,
        bars_kept: int = BARS_KEPT,
        trades_kept: int = TRADES_KEPT,
    ) -> None:
        self._quotes = quotes
        self._quoted = quoted  # symbols with a quote
        self._history = history
        self._trade_store = trades
        self._clock = clock
        self._bars_kept = bars_kept
        self._trades_kept = trades_kept
        self._bars: dict[tuple[str, Timeframe], _Series] = {}
        self._trades: dict[str, deque[Fill]] = {}
        self._loads: dict[str, asyncio.Future[deque[Fill]]] = {}
        self._arrived: dict[str, list[Fill]] = {}  # fills published while a symbol loads
        self._counts = {kind: _Count() for kind in ("quotes", "bars", "trades")}
        self._invalidations = 0
        self._since = clock.now()

    # --- reads ---------------------------------------------------------------------

    def quote(self, symbol: str) -> Quote | None:
        quote = self._quotes(symbol)
        self._counts["quotes"].count(quote is not None)
        return quote

    def bars(self, symbol: str, timeframe: Timeframe, count: int) -> list[Bar]:
        """The `count` closed bars before the current one, oldest first."""
        if count <= 0:
            return []
        now = self._clock.now()
        key = (symbol, timeframe)
        series = self._bars.get(key)
        hit = series is not None and now < series.valid_until and len(series.bars) >= count
        self._counts["bars"].count(hit)
        if not hit:
            bars = self._history(symbol, timeframe, max(count, self._bars_kept), now)
            series = _Series(bars, _period_end(now, timeframe))
            self._bars[key] = series
        assert series is not None
        return series.bars[-count:]

    async def trades(self, symbol: str, count: int) -> list[Fill]:
        """Our `count` most recent fills in `symbol`, newest first."""
        held = self._trades.get(symbol)
        self._counts["trades"].count(held is not None)
        if held is None:
            load = self._loads.get(symbol)
            if load is None:  # readers that miss together share one read of the store
                load = asyncio.ensure_future(self._load_trades(symbol))
                self._loads[symbol] = load
            held = await asyncio.shield(load)
        return list(held)[:count]

    # --- upkeep --------------------------------------------------------------------

    def add_fill(self, fill: Fill) -> None:
        """A new fill (the engine calls this for every one it publishes)."""
        held = self._trades.get(fill.symbol)
        if held is not None:
            held.appendleft(fill)
        elif fill.symbol in self._arrived:
            self._arrived[fill.symbol].append(fill)

    def invalidate(self, symbol: str | None = None, kind: CacheKind | None = None) -> int:
        """Drop what is held for `symbol` (every symbol when None) of `kind`
        (bars and trades when None; quotes are never held apart from the
        engine's own); the number of entries dropped."""
        dropped = 0
        if kind in (None, "bars"):
            keys = [k for k in self._bars if symbol is None or k[0] == symbol]
            for key in keys:
                del self._bars[key]
            dropped += len(keys)
        if kind in (None, "trades"):
            symbols = [s for s in self._trades if symbol is None or s == symbol]
            for held in symbols:
                del self._trades[held]
            dropped += len(symbols)
        self._invalidations += 1
        return dropped

    def day(self, symbol: str) -> MarketDay | None:
        """The last 24 hours of `symbol` from its cached H1 bars (a bars read);
        None without a quote."""
        quote = self._quotes(symbol)
        if quote is None:
            return None
        bars = self.bars(symbol, Timeframe.H1, 24)
        if not bars:
            return None
        start = bars[0].open
        return MarketDay(
            open=start,
            high=max(max(b.high for b in bars), quote.mid),
            low=min(min(b.low for b in bars), quote.mid),
            last=quote.mid,
            change_24h=round((quote.mid / start - 1) * 100, 4) if start else 0.0,
            volume_24h=sum(b.ticks for b in bars),
        )

    def stats(self) -> MarketCacheStats:
        counts = self._counts
        now = self._clock.now()
        ttls = [(s.valid_until - now).total_seconds() for s in self._bars.values()]
        market = _Count(
            counts["bars"].hits + counts["trades"].hits,
            counts["bars"].misses + counts["trades"].misses,
        )
        return MarketCacheStats(
            quotes=counts["quotes"].model(),
            bars=counts["bars"].model(),
            trades=counts["trades"].model(),
            bar_series=len(self._bars),
            trade_symbols=len(self._trades),
            invalidations=self._invalidations,
            since=self._since,
            market_data_cache=CacheType(
                keys=len(self._bars) + len(self._trades),
                hit_rate=market.model().hit_rate,
                avg_ttl_seconds=round(sum(ttls) / len(ttls), 3) if ttls else None,
            ),
            price_cache=CacheType(
                keys=self._quoted(),
                hit_rate=counts["quotes"].model().hit_rate,
                avg_ttl_seconds=None,
            ),
        )

    # --- internals -----------------------------------------------------------------

    async def _load_trades(self, symbol: str) -> deque[Fill]:
        self._arrived[symbol] = []
        try:
            stored = await self._trade_store.recent(symbol, self._trades_kept)
        finally:
            arrived = self._arrived.pop(symbol)
            del self._loads[symbol]
        newest = stored[0].ticket if stored else 0
        # A fill published while the store was read may or may not be in `stored`.
        fresh = [f for f in reversed(arrived) if f.ticket > newest]
        held = deque([*fresh, *stored], maxlen=self._trades_kept)
        self._trades[symbol] = held
        return held


@dataclass(slots=True)
class _Series:
    bars: list[Bar]
    valid_until: datetime  # when the current bar closes and a new closed bar exists


@dataclass(slots=True)
class _Count:
    hits: int = 0
    misses: int = 0

    def count(self, hit: bool) -> None:
        if hit:
            self.hits += 1
        else:
            self.misses += 1

    def model(self) -> CacheCounter:
        reads = self.hits + self.misses
        return CacheCounter(
            hits=self.hits, misses=self.misses, hit_rate=self.hits / reads if reads else None
        )


def _period_end(now: datetime, timeframe: Timeframe) -> datetime:
    """When the bar of `timeframe` that contains `now` closes (bars align to the epoch)."""
    seconds = timeframe.seconds
    elapsed = int((now - _EPOCH).total_seconds())
    return _EPOCH + timedelta(seconds=(elapsed // seconds + 1) * seconds)
