"""The market's trade prints, read off the quotes: a quote whose mid rose
was a buyer lifting the ask, one whose mid fell a seller hitting the bid; a
quote that left the mid where it was printed nothing.

The simulator quotes, it does not match orders, so this is what its market
"traded". The volume is drawn from the symbol and the quote's time, so the
same quotes always print the same trades. Kept only while someone listens
(the `trades` channel): a first quote after that only sets the mid.
"""

from __future__ import annotations

import zlib
from decimal import Decimal

from engine.models import MarketTrade, Quote, Side

_LOT = Decimal("0.01")


class TradePrints:
    def __init__(self) -> None:
        self._mids: dict[str, float] = {}

    def on_quote(self, quote: Quote) -> MarketTrade | None:
        last = self._mids.get(quote.symbol)
        self._mids[quote.symbol] = quote.mid
        if last is None or quote.mid == last:
            return None
        up = quote.mid > last
        stamp = f"{quote.symbol}:{quote.time.isoformat()}".encode()
        lots = 1 + zlib.crc32(stamp) % 500  # 0.01 to 5.00 lots
        return MarketTrade(
            symbol=quote.symbol,
            price=quote.ask if up else quote.bid,
            volume=_LOT * lots,
            side=Side.BUY if up else Side.SELL,
            time=quote.time,
        )

    def forget(self) -> None:
        self._mids.clear()
