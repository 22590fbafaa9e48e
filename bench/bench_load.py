"""Load: 200 WebSocket viewers plus 50 REST requests per second for 60 s
against a real `tradedeck serve` (the demo, trading on the real clock) in its
own process. Goal: zero errors, zero lost events for clients that kept up.

"Kept up" means the client never received a `resync`; for those, `seq` must
have no gaps, and every one of them must have seen the same order events.

    python -m bench.bench_load [--quick]
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import websockets

from bench.report import command_line

TRADEDECK = Path(sys.executable).with_name("tradedeck")
VIEWERS = 200
REST_PER_SECOND = 50
REST_PATHS = ("/workers", "/portfolio", "/portfolio/positions", "/risk/alerts", "/system/status")


class Viewer:
    def __init__(self) -> None:
        self.messages = 0
        self.gaps = 0
        self.resyncs = 0
        self.errors = 0
        self.closed_early: str | None = None
        self.orders: set[tuple[int, str]] = set()
        self._last_seq = 0

    def receive(self, raw: str | bytes) -> None:
        message = json.loads(raw)
        self.messages += 1
        seq = message["seq"]
        if seq != self._last_seq + 1:
            self.gaps += 1
        self._last_seq = seq
        kind = message["type"]
        if kind == "resync":
            self.resyncs += 1
        elif kind == "error":
            self.errors += 1
        elif kind == "event" and message["channel"] == "orders":
            order = message["data"]["order"]
            self.orders.add((order["ticket"], order["status"]))


async def _viewer(url: str, key: str, viewer: Viewer, stop: asyncio.Event) -> None:
    try:
        async with websockets.connect(
            url, additional_headers={"Authorization": f"Bearer {key}"}, max_size=2**22
        ) as ws:
            for channel in ("orders", "ticker", "workers"):
                await ws.send(json.dumps({"action": "subscribe", "channel": channel}))
            while not stop.is_set():
                try:
                    raw = await asyncio.wait_for(ws.recv(), timeout=0.5)
                except TimeoutError:
                    continue
                viewer.receive(raw)
    except Exception as error:
        viewer.closed_early = f"{type(error).__name__}: {error}"


async def _rest(base: str, key: str, seconds: float) -> Counter[int]:
    statuses: Counter[int] = Counter()
    interval = 1 / REST_PER_SECOND
    async with httpx.AsyncClient(base_url=base, headers={"X-API-Key": key}, timeout=10) as client:
        began = time.perf_counter()
        sent = 0
        pending: set[asyncio.Task[None]] = set()

        async def one(path: str) -> None:
            try:
                statuses[(await client.get(path)).status_code] += 1
            except httpx.HTTPError:
                statuses[0] += 1

        while time.perf_counter() - began < seconds:
            task = asyncio.create_task(one(REST_PATHS[sent % len(REST_PATHS)]))
            pending.add(task)
            task.add_done_callback(pending.discard)
            sent += 1
            await asyncio.sleep(max(0.0, began + sent * interval - time.perf_counter()))
        await asyncio.gather(*pending)
    return statuses


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_server(db: Path) -> tuple[subprocess.Popen[str], str, int]:
    """`tradedeck serve` on a fresh database with a viewer key; (process, key, port)."""
    key = subprocess.run(
        [TRADEDECK, "keys", "create", "--role", "viewer", "--db", str(db)],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    port = _free_port()
    # The load is the point here, not the rate limiter: lift every limit.
    env = {
        **os.environ,
        "TRADEDECK_SERVER__RATE_LIMITS__DEFAULT": "1000000",
        "TRADEDECK_SERVER__RATE_LIMITS__GROUPS": json.dumps(
            {"system": 1_000_000, "orders": 1_000_000, "auth": 1_000_000}
        ),
    }
    server = subprocess.Popen(
        [TRADEDECK, "--db", str(db), "serve", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    return server, key, port


async def run(quick: bool = False) -> dict[str, Any]:
    seconds = 15.0 if quick else 60.0
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "load.db"
        server, key, port = _start_server(db)
        base = f"http://127.0.0.1:{port}/api/v1"
        try:
            async with httpx.AsyncClient() as probe:
                for _ in range(300):
                    try:
                        if (await probe.get(f"http://127.0.0.1:{port}/ready")).is_success:
                            break
                    except httpx.TransportError:
                        pass
                    await asyncio.sleep(0.1)
            viewers = [Viewer() for _ in range(VIEWERS)]
            stop = asyncio.Event()
            ws_url = f"ws://127.0.0.1:{port}/api/v1/ws"
            tasks = [asyncio.create_task(_viewer(ws_url, key, v, stop)) for v in viewers]
            await asyncio.sleep(2)  # all connected and subscribed
            statuses = await _rest(base, key, seconds)
            await asyncio.sleep(1)
            stop.set()
            await asyncio.gather(*tasks)
        finally:
            server.send_signal(signal.SIGINT)
            server.communicate(timeout=30)
    kept_up = [v for v in viewers if not v.resyncs and v.closed_early is None]
    reference = max((v.orders for v in kept_up), key=len, default=set())
    return {
        "seconds": seconds,
        "viewers": VIEWERS,
        "rest_requests": sum(statuses.values()),
        "rest_errors": sum(n for status, n in statuses.items() if not 200 <= status < 300),
        "rest_statuses": dict(sorted(statuses.items())),
        "ws_messages": sum(v.messages for v in viewers),
        "ws_closed_early": sum(1 for v in viewers if v.closed_early is not None),
        "ws_error_messages": sum(v.errors for v in viewers),
        "viewers_kept_up": len(kept_up),
        "seq_gaps_in_kept_up": sum(v.gaps for v in kept_up),
        "order_events_per_viewer": len(reference),
        "viewers_missing_order_events": sum(1 for v in kept_up if v.orders != reference),
        "server_exit_code": server.returncode,
    }


def main() -> None:
    command_line(run, __doc__)


if __name__ == "__main__":
    main()
