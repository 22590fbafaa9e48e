"""REST throughput and latency: `GET /api/v1/workers` with authentication (an
API key) and rate limiting on, beside bare FastAPI endpoints served by the same
uvicorn server in the same process and run.

Two baselines sit beside the real endpoint: `bare_same_payload` returns the
same workers page from a plain FastAPI app (no auth, rate limiting, request
ids or metrics: what the API's own machinery costs), and `bare_trivial`
returns `{"ok": true}` (the floor of FastAPI + uvicorn + the client here).
Rate limits are raised high enough that nothing is refused.

Load comes from concurrent keep-alive connections in a separate process
(`bench/http_load.py`, a wrk-like client: httpx would measure itself), so the
client does not share the server's event loop; rounds alternate between the
endpoints so a noisy machine slows them alike, and each figure is the median
over the rounds. `server_cpu` is the server process's CPU time over wall time
while loaded: below 1.0 means the machine, not the server, was the limit.

    python -m bench.bench_rest [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from config.loader import load_settings
from config.models import RateLimitSettings
from engine.api.app import create_app
from engine.api.schemas import Page
from engine.api.server import ServerHandle
from engine.engine import Engine
from engine.models import WorkerInfo
from engine.security.principal import Role
from engine.security.service import Security

GOAL_RATIO = 0.7
PATH = "/api/v1/workers"
BARE = {"bare_same_payload": "/bare/workers", "bare_trivial": "/bare/ok"}
# Far above what one machine can send in a window: rate limiting runs, never refuses.
UNLIMITED = 1_000_000_000


async def run(quick: bool = False) -> dict[str, Any]:
    seconds = 2.0 if quick else 6.0
    rounds = 1 if quick else 3
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
        handle = ServerHandle(_with_bare(create_app(engine, security), engine), "127.0.0.1", 0)
        await handle.start()
        try:
            base = f"http://127.0.0.1:{handle.port}"
            await _check(base, key)
            targets = {"api": (PATH, key), **{name: (path, "") for name, path in BARE.items()}}
            samples: dict[str, list[dict[str, float]]] = {name: [] for name in targets}
            for _ in range(rounds):
                for name, (path, token) in targets.items():
                    samples[name].append(await _measure(base + path, token, seconds, concurrency))
        finally:
            await handle.stop()
            await engine.close()
    result: dict[str, Any] = {
        "endpoint": f"GET {PATH} (API key, rate limiting on, {concurrency} clients)"
    }
    for name, runs in samples.items():
        result[f"{name}_req_per_s"] = round(statistics.median(r["rate"] for r in runs))
        result[f"{name}_p50_ms"] = round(statistics.median(r["p50_ms"] for r in runs), 2)
        result[f"{name}_p99_ms"] = round(statistics.median(r["p99_ms"] for r in runs), 2)
        result[f"{name}_server_cpu"] = round(statistics.median(r["server_cpu"] for r in runs), 2)
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
