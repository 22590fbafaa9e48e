"""A live stream display: portfolio updates, trades and order fills as they
happen, over the `/ws` WebSocket with the key in the Authorization header.

    python examples/live_stream.py --key $KEY [--count 20] [--seconds 30]
"""

from __future__ import annotations

import asyncio
import json

import websockets
from _client import arguments

CHANNELS = ("portfolio_updates", "trade_notifications", "order_fills")


def line(message: dict) -> str | None:
    """One message as a line of the display; None for what is not news."""
    data = message.get("data") or {}
    channel = message.get("channel")
    if message.get("type") != "event":
        return None
    if channel == "fills" and "fill" in data:
        f = data["fill"]
        deal = f"{f['side']:<4} {f['volume']} {f['symbol']} @ {f['price']}"
        return f"TRADE  {f['account_id']:<12} {deal}"
    if channel == "orders" and "order" in data:
        o = data["order"]
        return f"ORDER  {o['account_id']:<12} #{o['ticket']} {o['status']}"
    if channel == "portfolio" and "account" in data:
        a = data["account"]
        return f"EQUITY {a['account_id']:<12} {a['equity']} (P&L today {a['pnl_today']})"
    return None


async def run(url: str, key: str, count: int, seconds: float) -> int:
    ws_url = url.replace("http", "ws", 1).rstrip("/") + "/ws"
    shown = 0
    async with websockets.connect(
        ws_url, additional_headers={"Authorization": f"Bearer {key}"}
    ) as ws:
        for channel in CHANNELS:
            await ws.send(json.dumps({"action": "subscribe", "channel": channel}))
        try:
            async with asyncio.timeout(seconds):
                async for raw in ws:
                    text = line(json.loads(raw))
                    if text:
                        print(text, flush=True)
                        shown += 1
                        if shown >= count:
                            break
        except TimeoutError:
            pass
    return shown


def main() -> None:
    parser = arguments(__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20, help="stop after this many lines")
    parser.add_argument("--seconds", type=float, default=60.0, help="stop after this long")
    args = parser.parse_args()
    if not args.key:
        raise SystemExit("No API key: pass --key or set TRADEDECK_KEY (tradedeck keys create).")
    shown = asyncio.run(run(args.url, args.key, args.count, args.seconds))
    print(f"{shown} updates")


if __name__ == "__main__":
    main()
