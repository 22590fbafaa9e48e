"""REST throughput and latency: `GET /api/v1/workers` with authentication (an
API key) and rate limiting on, beside bare FastAPI endpoints served by the same
uvicorn server in the same process and run.

Three baselines sit beside the real endpoint, in a plain FastAPI app (no
auth, rate limiting, request ids or metrics): `bare_same_payload` returns the
same workers page (the goal's baseline: what the API's own machinery costs),
`bare_same_params` also declares the route's query parameters (`skip`,
`limit`, `sort`, `order`, `status`: what FastAPI's parameter handling alone
costs), and `bare_trivial` returns `{"ok": true}` (the floor of FastAPI +
uvicorn + the client here). Rate limits are raised high enough that nothing
is refused.

Load comes from concurrent keep-alive connections in a separate process
(`bench/http_load.py`, a wrk-like client: httpx would measure itself), so the
client does not share the server's event loop; rounds alternate between the
endpoints so a noisy machine slows them alike, and each figure is the median
over the rounds. `server_cpu` is the server process's CPU time over wall time
while loaded: below 1.0 means the machine, not the server, was the limit.
`in_process_us` is the server's own work per request, the ASGI app called
directly without sockets, and `calls` the Python function calls (builtins
included) that work makes: a count, so the same on a busy machine as on an
idle one, and the figure to compare between versions of the code.

    python -m bench.bench_rest [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from fastapi import Depends, FastAPI, Query

from config.loader import load_settings
from config.models import RateLimitSettings
from engine.engine import Engine
from engine.models import WorkerInfo, WorkerState
from engine.security.principal import Role
from engine.security.service import Security
from engine.server.app import create_app
from engine.server.schemas import Page, Paging, paging
from engine.server.server import ServerHandle

GOAL_RATIO = 0.7
PATH = "/api/v1/workers"
BARE = {
    "bare_same_payload": "/bare/workers",
    "bare_same_params": "/bare/workers-params",
    "bare_trivial": "/bare/ok",
}
# Far above what one machine can send in a window: rate limiting runs, never refuses.
UNLIMITED = 1_000_000_000
# The route's paging as separate FastAPI query parameters, for `bare_same_params`
# (its sort fields named here, so the benchmark runs on older trees too).
WORKER_PAGING = paging(
    "account_id", "status", "name", "broker", "started_at", "restarts", default="account_id"
)


async def run(quick: bool = False) -> dict[str, Any]:
    seconds = 2.0 if quick else 6.0
    rounds = 1 if quick else 3
    calls = 500 if quick else 3000
    concurrency = 32
    with tempfile.TemporaryDirectory(prefix="tradedeck-bench-rest-") as folder:
        settings = load_settings(None, env={})
        settings.server.rate_limits = RateLimitSettings(
            default=UNLIMITED, groups=dict.fromkeys(RateLimitSettings().groups, UNLIMITED)
        )
        engine = await Engine.open(settings, Path(folder) / "bench.db")
        await engine.start()
        security = await Security.open(
            engine.store,
            settings.server,
            secret_path=Path(folder) / "jwt.secret",
            clock=engine.clock,
        )
        _, key = await security.create_key(role=Role.VIEWER, name="bench")
        app = _with_bare(create_app(engine, security), engine)
        handle = ServerHandle(app, "127.0.0.1", 0)
        await handle.start()
        targets = {"api": (PATH, key), **{name: (path, "") for name, path in BARE.items()}}
        samples: dict[str, list[dict[str, float]]] = {name: [] for name in targets}
        try:
            base = f"http://127.0.0.1:{handle.port}"
            await _check(base, key)
            for _ in range(rounds):
                for name, (path, token) in targets.items():
                    figures = await _measure(base + path, token, seconds, concurrency)
                    figures["asgi_us"] = await _asgi_cost(app, path, token, calls)
                    samples[name].append(figures)
            call_counts = {
                name: await _calls(app, path, token) for name, (path, token) in targets.items()
            }
        finally:
            await handle.stop()
            await security.close()
            await engine.close()
    return _summary(samples, call_counts, concurrency)


def _summary(
    samples: dict[str, list[dict[str, float]]], calls: dict[str, int], concurrency: int
) -> dict[str, Any]:
    """Medians over the rounds, and the API's rate as a share of each bare one."""
    result: dict[str, Any] = {
        "endpoint": f"GET {PATH} (API key, rate limiting on, {concurrency} connections)"
    }
    for name, runs in samples.items():
        for figure, digits in (("rate", 0), ("p50_ms", 2), ("p99_ms", 2), ("server_cpu", 2)):
            label = "req_per_s" if figure == "rate" else figure
            median = statistics.median(r[figure] for r in runs)
            result[f"{name}_{label}"] = round(median, digits) if digits else round(median)
        result[f"{name}_in_process_us"] = round(statistics.median(r["asgi_us"] for r in runs))
        result[f"{name}_calls"] = calls[name]
    for name in BARE:
        ratio = result["api_req_per_s"] / result[f"{name}_req_per_s"]
        result[f"ratio_to_{name}"] = round(ratio, 2)
    result["goal"] = f">= {GOAL_RATIO} of the bare rate"
    result["errors"] = sum(r["errors"] for runs in samples.values() for r in runs)
    return result


def _with_bare(app: FastAPI, engine: Engine) -> Any:
    """One ASGI app for the server: `/bare/...` goes to a plain FastAPI app that
    none of the API's middleware or dependencies touch, everything else to the API."""
    bare = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @bare.get("/bare/workers", response_model=Page[WorkerInfo])
    async def bare_workers() -> Page[WorkerInfo]:
        workers = sorted(engine.workers(), key=lambda w: w.account_id)
        return Page[WorkerInfo](items=workers[:50], total=len(workers), skip=0, limit=50)

    @bare.get("/bare/workers-params", response_model=Page[WorkerInfo])
    async def bare_workers_params(
        paging: Paging = Depends(WORKER_PAGING),
        status_filter: WorkerState | None = Query(None, alias="status"),
    ) -> Page[WorkerInfo]:
        workers = [
            w for w in engine.workers() if status_filter is None or w.status is status_filter
        ]
        return paging.page(workers)

    @bare.get("/bare/ok")
    async def bare_ok() -> dict[str, bool]:
        return {"ok": True}

    async def dispatch(scope: Any, receive: Any, send: Any) -> None:
        target = bare if scope["type"] == "http" and scope["path"].startswith("/bare/") else app
        await target(scope, receive, send)

    return dispatch


async def _check(base: str, key: str) -> None:
    """The endpoints answer what they should before anything is timed."""
    async with httpx.AsyncClient(base_url=base) as client:
        api = await client.get(PATH, headers={"X-API-Key": key})
        bare = await client.get(BARE["bare_same_payload"])
        assert api.status_code == 200, api.text
        assert api.json()["total"] == bare.json()["total"]
        assert "x-ratelimit-limit" in api.headers, "rate limiting must be on"
        assert (await client.get(PATH)).status_code == 401, "authentication must be on"


async def _calls(app: Any, path: str, key: str, requests: int = 200) -> int:
    """Python function calls per request (builtins included), counted by
    cProfile over `requests` in-process requests after a warm-up."""
    await _asgi_cost(app, path, key, 20)
    profile = cProfile.Profile()
    profile.enable()
    await _asgi_cost(app, path, key, requests)
    profile.disable()
    counted = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    return round(sum(entry[1] for entry in counted.values()) / requests)


async def _asgi_cost(app: Any, path: str, key: str, calls: int) -> float:
    """Microseconds of server work per request with no sockets: the ASGI app
    called directly, so neither the client nor the network is in the figure."""
    headers = [(b"host", b"bench")] + ([(b"x-api-key", key.encode())] if key else [])
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 80),
    }
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    began = time.perf_counter()
    for _ in range(calls):
        await app(dict(scope), receive, send)
    elapsed = time.perf_counter() - began
    assert set(statuses) == {200}, statuses[:5]
    return elapsed / calls * 1e6


async def _measure(url: str, key: str, seconds: float, concurrency: int) -> dict[str, float]:
    """Load `url` from a separate process; the server's CPU share while it ran."""
    command = [
        sys.executable,
        "-m",
        "bench.http_load",
        url,
        "--key",
        key,
        "--seconds",
        str(seconds),
        "--concurrency",
        str(concurrency),
    ]
    process = await asyncio.create_subprocess_exec(*command, stdout=subprocess.PIPE)
    cpu, wall = time.process_time(), time.perf_counter()
    out, _ = await process.communicate()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    if process.returncode != 0:
        raise RuntimeError(f"the load process failed ({process.returncode})")
    figures: dict[str, float] = json.loads(out)
    figures["server_cpu"] = cpu / wall
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_rest", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="shorter runs")
    args = parser.parse_args()
    for name, value in asyncio.run(run(quick=args.quick)).items():
        print(f"{name:<28} {value}")


if __name__ == "__main__":
    main()
