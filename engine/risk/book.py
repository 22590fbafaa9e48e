"""One account as the risk limits see it: its positions as net volumes per
symbol, its equity against the day's start and the peak, and the orders it
sent in the last minute. Kept current from the bus, read at every evaluation."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from config.models import InstrumentConfig
from engine.brokers.base import Holding, holdings_of
from engine.models import Position, Quote, RiskBook

ORDER_WINDOW_SECONDS = 60.0

_ZERO = Decimal(0)
_TWO = Decimal(2)
_HUNDRED = Decimal(100)
_CENT = Decimal("0.01")


@dataclass(slots=True)
class Holdings:
    """Net signed volume and number of positions per symbol."""

    nets: dict[str, Decimal] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    # Notional per symbol, priced by `priced` once: for holdings made for one
    # order's check (the book's own are priced by `AccountBook.exposures`).
    notionals: dict[str, Decimal] | None = field(default=None, compare=False)

    def priced(self, valuer: Valuer, currency: str) -> dict[str, Decimal]:
        if self.notionals is None:
            self.notionals = {s: valuer.notional(s, net, currency) for s, net in self.nets.items()}
        return self.notionals

    @property
    def largest(self) -> Decimal:
        """The largest net volume in one symbol."""
        return max((abs(net) for net in self.nets.values()), default=_ZERO)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @classmethod
    def of(cls, positions: Iterable[Position]) -> Holdings:
        return cls.held(holdings_of(positions))

    @classmethod
    def held(cls, holdings: Mapping[str, Holding]) -> Holdings:
        """A copy of a broker's holdings per symbol, to apply orders to."""
        return cls(
            {s: h.net for s, h in holdings.items()}, {s: h.count for s, h in holdings.items()}
        )


class AccountBook:
    """An account (or `*`, every account together) for the risk limits."""

    __slots__ = (
        "_exposures",
        "_holdings",
        "account_id",
        "currency",
        "day",
        "day_start",
        "equity",
        "generation",
        "orders",
        "peak",
        "positions",
    )

    def __init__(self, account_id: str, currency: str = "USD") -> None:
        self.account_id = account_id
        self.currency = currency
        self.equity: Decimal | None = None
        self.peak: Decimal | None = None
        self.day: date | None = None
        self.day_start: Decimal | None = None
        self.positions: dict[int, Position] = {}
        self.orders: deque[tuple[float, str]] = deque()  # (monotonic time, symbol)
        self._holdings: Holdings | None = None
        # Bumped by every equity observed and every change of positions: what
        # was computed in one generation holds until the next.
        self.generation = 0
        self._exposures: tuple[int, dict[str, Decimal]] | None = None

    def follow(self, source: AccountBook) -> None:
        """Become `source` as it stands (sharing its positions and orders), to
        observe equities on without moving `source` itself."""
        self.equity, self.peak = source.equity, source.peak
        self.day, self.day_start = source.day, source.day_start
        self.positions, self.orders, self._holdings = (
            source.positions,
            source.orders,
            source._holdings,
        )
        self._exposures = None
        self.generation += 1

    def observe(self, equity: Decimal, today: date) -> bool:
        """Take a new equity; True when the peak or the day moved (to be stored).
        The daily loss counts from the first equity seen on each UTC day."""
        self.equity = equity
        self.generation += 1
        moved = False
        if self.day != today:
            self.day, self.day_start = today, equity
            moved = True
        if self.peak is None or equity > self.peak:
            self.peak = equity
            moved = True
        return moved

    def set_position(self, position: Position, closed: bool) -> None:
        old = self.positions.get(position.ticket)
        if closed:
            if old is not None:
                del self.positions[position.ticket]
                self._changed()
            return
        self.positions[position.ticket] = position
        if old is None or old.volume != position.volume or old.side is not position.side:
            self._changed()

    def replace_positions(self, positions: Iterable[Position]) -> None:
        """Take the broker's positions as they are now."""
        self.positions = {p.ticket: p for p in positions}
        self._changed()

    @property
    def holdings(self) -> Holdings:
        if self._holdings is None:
            self._holdings = Holdings.of(self.positions.values())
        return self._holdings

    def exposures(self, valuer: Valuer) -> dict[str, Decimal]:
        """Notional per symbol in the account currency, priced once per generation
        (the account's limits and the ones over all accounts share it)."""
        cached = self._exposures
        if cached is None or cached[0] != self.generation:
            currency = self.currency
            values = {s: valuer.notional(s, net, currency) for s, net in self.holdings.nets.items()}
            cached = self._exposures = (self.generation, values)
        return cached[1]

    def sent(self, now: float, symbol: str) -> None:
        self.orders.append((now, symbol))
        self._forget(now)

    def orders_sent(self, now: float, symbol: str | None = None) -> int:
        """Orders sent in the last minute (in `symbol` when given)."""
        self._forget(now)
        if symbol is None:
            return len(self.orders)
        return sum(1 for _, s in self.orders if s == symbol)

    def daily_loss(self) -> Decimal:
        equity = self.equity
        if equity is None or self.day_start is None:
            return _ZERO
        return max(_ZERO, self.day_start - equity)

    def drawdown(self) -> Decimal:
        """Percent below the peak equity."""
        equity = self.equity
        peak = self.peak
        if equity is None or peak is None or peak <= 0 or equity >= peak:
            return _ZERO
        return ((peak - equity) / peak * _HUNDRED).quantize(_CENT)

    def model(self) -> RiskBook:
        equity = self.equity or _ZERO
        return RiskBook(
            account_id=self.account_id,
            equity=equity,
            peak_equity=self.peak if self.peak is not None else equity,
            day=self.day,
            day_start_equity=self.day_start,
            daily_loss=self.daily_loss(),
            drawdown_percent=self.drawdown(),
        )

    def _changed(self) -> None:
        self._holdings = None
        self.generation += 1

    def _forget(self, now: float) -> None:
        orders = self.orders
        horizon = now - ORDER_WINDOW_SECONDS
        while orders and orders[0][0] <= horizon:
            orders.popleft()


class Valuer:
    """Notional values in an account's currency at the latest mid price."""

    def __init__(
        self,
        instruments: Callable[[], Mapping[str, InstrumentConfig]],
        quote: Callable[[str], Quote | None],
    ) -> None:
        self._instruments = instruments
        self._quote = quote
        # (symbol, currency) -> (its quote, the conversion pair's quote, the
        # instrument, the value of one lot): priced again only when one of those
        # is a new one.
        self._units: dict[
            tuple[str, str], tuple[Quote, Quote | None, InstrumentConfig, Decimal]
        ] = {}

    def notional(self, symbol: str, volume: Decimal, currency: str) -> Decimal:
        """|volume| lots of `symbol` in `currency`; 0 when it cannot be priced
        (no quote yet, or no pair to convert its profit currency)."""
        if not volume:
            return _ZERO
        unit = self._unit(symbol, currency)
        return _ZERO if unit is None else (abs(volume) * unit).quantize(_CENT)

    def rate(self, currency: str, into: str) -> Decimal | None:
        """The value of one `currency` in `into`, from the direct pair's mid
        (EURUSD for EUR -> USD) or the inverse of the reverse pair's (USDJPY)."""
        if currency == into:
            return Decimal(1)
        direct = self._mid(currency + into)
        if direct is not None:
            return direct
        inverse = self._mid(into + currency)
        return None if inverse is None else 1 / inverse

    def _unit(self, symbol: str, currency: str) -> Decimal | None:
        """One lot of `symbol` in `currency`: contract size x mid x rate."""
        quote = self._quote(symbol)
        if quote is None:
            return None
        instrument = self._instruments().get(symbol)
        if instrument is None:
            return None
        profit = instrument.profit_currency
        # The quote `rate` converts by (the direct pair's, else the reverse's).
        converter = (
            None
            if profit == currency
            else self._quote(profit + currency) or self._quote(currency + profit)
        )
        key = (symbol, currency)
        cached = self._units.get(key)
        if cached is not None and cached[:3] == (quote, converter, instrument):
            return cached[3]
        rate = self.rate(profit, currency)
        if rate is None:
            return None
        unit = instrument.contract_size * ((quote.bid + quote.ask) / _TWO) * rate
        self._units[key] = (quote, converter, instrument, unit)
        return unit

    def _mid(self, symbol: str) -> Decimal | None:
        quote = self._quote(symbol)
        return None if quote is None else (quote.bid + quote.ask) / _TWO
