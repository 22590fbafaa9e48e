"""The data catalog: the datasets the engine holds, described (columns, rows,
time range, size) and read a page at a time.

- stored: `fills`, `orders`, `equity_history` and `signals`, the store's rows
  (of the accounts the caller may see);
- market: `bars.<SYMBOL>.<TF>`, the last `BARS_DAYS` days of bars per symbol
  and timeframe (M1 to D1), drawn by the market source on demand. The
  simulator draws its past backwards from the current price, so the bars are
  the same from one download to the next only while the price stands.

Pages are lists of plain rows (dicts); formatting them is the caller's.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Collection, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from engine.clock import Clock
from engine.domain import Timeframe
from engine.errors import NotFound
from engine.market.simulator import MarketSimulator
from engine.models import Bar, Dataset, DatasetColumn
from storage.catalog import TABLES, CatalogStore

BARS_DAYS = 365
BAR_TIMEFRAMES = tuple(tf for tf in Timeframe if tf.seconds >= 60)
_BAR_CSV_BYTES = 72  # a bar's CSV line, about
_BAR_CHUNK = 5_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_BAR_COLUMNS = [
    DatasetColumn(name=name, type=kind)
    for name, kind in (
        ("symbol", "TEXT"),
        ("timeframe", "TEXT"),
        ("time", "TEXT"),
        ("open", "REAL"),
        ("high", "REAL"),
        ("low", "REAL"),
        ("close", "REAL"),
        ("ticks", "INTEGER"),
    )
]
_DESCRIPTIONS = {
    "fills": "Deals: every execution of an order, with its price, commission and profit.",
    "orders": "Orders as they stand: requested, placed, filled, cancelled or rejected.",
    "equity_history": "Balance, equity and margin per account over time.",
    "signals": "The strategies' signals, each with its side, strength and reason.",
}


class DatasetNotFound(NotFound):
    def __init__(self, dataset_id: str) -> None:
        super().__init__(
            f"No dataset {dataset_id!r}; GET /api/v1/catalog lists them.", dataset_id=dataset_id
        )


class Catalog:
    def __init__(
        self,
        store: CatalogStore,
        simulator: Callable[[], MarketSimulator | None],  # the market source, once open
        symbols: Callable[[], Collection[str]],
        clock: Clock,
    ) -> None:
        self._store = store
        self._simulator = simulator
        self._symbols = symbols
        self._clock = clock

    async def datasets(self, accounts: Collection[str] | None) -> list[Dataset]:
        stored = [await self._stored(name, accounts) for name in TABLES]
        return stored + [
            self._bars(s, tf) for s in sorted(self._symbols()) for tf in BAR_TIMEFRAMES
        ]

    async def dataset(self, dataset_id: str, accounts: Collection[str] | None) -> Dataset:
        if dataset_id in TABLES:
            return await self._stored(dataset_id, accounts)
        symbol, timeframe = self._bar_key(dataset_id)
        return self._bars(symbol, timeframe)

    async def pages(
        self,
        dataset_id: str,
        accounts: Collection[str] | None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> AsyncIterator[list[Mapping[str, Any]]]:
        """The dataset's rows in [start, end), oldest first, a page at a time."""
        if dataset_id in TABLES:
            async for page in self._store.pages(TABLES[dataset_id], accounts, start, end):
                yield [dict(row) for row in page]
            return
        symbol, timeframe = self._bar_key(dataset_id)
        simulator = self._simulator()
        if simulator is None:
            return
        first, last, count = self._window(timeframe)
        low = max(first, start) if start is not None else first
        high = min(last, end) if end is not None else last
        if low >= high:
            return
        for chunk in simulator.iter_history(symbol, timeframe, count, last, _BAR_CHUNK):
            rows = [_bar_row(b) for b in chunk if low <= b.time < high]
            if rows:
                yield rows
            if chunk[-1].time >= high:
                return
            await asyncio.sleep(0)  # a year of M1 bars must not hold the loop

    # --- internals -----------------------------------------------------------------

    async def _stored(self, name: str, accounts: Collection[str] | None) -> Dataset:
        table = TABLES[name]
        columns = await self._store.columns(table)
        summary = await self._store.summary(table, accounts)
        return Dataset(
            id=name,
            name=name.replace("_", " "),
            kind="stored",
            description=_DESCRIPTIONS[name],
            columns=[DatasetColumn(name=c.name, type=c.type) for c in columns],
            rows=summary.rows,
            start=summary.start,
            end=summary.end,
            size_bytes=summary.size_bytes,
            size_estimated=False,
        )

    def _bar_key(self, dataset_id: str) -> tuple[str, Timeframe]:
        kind, _, rest = dataset_id.partition(".")
        symbol, _, tf = rest.rpartition(".")
        if kind != "bars" or symbol not in self._symbols():
            raise DatasetNotFound(dataset_id)
        try:
            timeframe = Timeframe(tf)
        except ValueError:
            raise DatasetNotFound(dataset_id) from None
        if timeframe not in BAR_TIMEFRAMES:
            raise DatasetNotFound(dataset_id)
        return symbol, timeframe

    def _window(self, timeframe: Timeframe) -> tuple[datetime, datetime, int]:
        """The first bar's open, the current bar's open, and the closed bars between."""
        seconds = timeframe.seconds
        now = int((self._clock.now() - _EPOCH).total_seconds())
        last = _EPOCH + timedelta(seconds=now // seconds * seconds)
        count = BARS_DAYS * 86_400 // seconds
        return last - timedelta(seconds=count * seconds), last, count

    def _bars(self, symbol: str, timeframe: Timeframe) -> Dataset:
        first, last, count = self._window(timeframe)
        return Dataset(
            id=f"bars.{symbol}.{timeframe.value}",
            name=f"{symbol} {timeframe.value} bars",
            kind="market",
            description=f"The last {BARS_DAYS} days of {timeframe.value} bars of {symbol} "
            "(open, high, low, close as mids; ticks is the tick volume).",
            columns=_BAR_COLUMNS,
            rows=count,
            start=first,
            end=last - timedelta(seconds=timeframe.seconds),
            size_bytes=count * _BAR_CSV_BYTES,
            size_estimated=True,
        )


def _bar_row(bar: Bar) -> dict[str, Any]:
    return {
        "symbol": bar.symbol,
        "timeframe": bar.timeframe.value,
        "time": bar.time.isoformat(),
        "open": bar.open,
        "high": bar.high,
        "low": bar.low,
        "close": bar.close,
        "ticks": bar.ticks,
    }
