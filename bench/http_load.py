"""HTTP load from its own process, in the manner of `wrk`: concurrent keep-alive
HTTP/1.1 connections sending GET requests back to back, reporting the rate and
latency percentiles as JSON.

The client is a few lines on asyncio streams rather than httpx: on this kind of
machine httpx spends milliseconds of CPU per request, so with it a benchmark
measures the client instead of the server. A separate process keeps the load
off the event loop of the server it measures.

    python -m bench.http_load URL [--key KEY] [--seconds S] [--concurrency N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from urllib.parse import urlsplit


async def load(url: str, key: str, seconds: float, concurrency: int) -> dict[str, float]:
    """`concurrency` connections for `seconds` (after a short warm-up): requests
    per second, p50 and p99 latency, and the count of non-200 answers."""
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    headers = f"X-API-Key: {key}\r\n" if key else ""
    request = (
        f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\n{headers}"
        "Accept: application/json\r\n\r\n"
    ).encode()
    latencies: list[float] = []
    errors = 0

    async def connection(warm_until: float, until: float) -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        try:
            while (began := time.perf_counter()) < until:
                writer.write(request)
                status = await _response(reader)
                if began >= warm_until:
                    latencies.append(time.perf_counter() - began)
                    errors += status != 200
        finally:
            writer.close()

    warm_until = time.perf_counter() + min(1.0, seconds / 2)
    until = warm_until + seconds
    await asyncio.gather(*(connection(warm_until, until) for _ in range(concurrency)))
    latencies.sort()
    return {
        "rate": len(latencies) / seconds,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
        "errors": errors,
    }


async def _response(reader: asyncio.StreamReader) -> int:
    """Read one response (headers, then a Content-Length body); its status."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = next(
        int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length:")
    )
    await reader.readexactly(length)
    return int(lines[0].split(" ", 2)[1])


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.http_load", description=__doc__)
    parser.add_argument("url")
    parser.add_argument("--key", default="", help="sent as X-API-Key")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(load(args.url, args.key, args.seconds, args.concurrency))))


if __name__ == "__main__":
    main()
