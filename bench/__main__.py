"""`python -m bench [--quick] [NAME ...]`: run the benchmarks and print their
figures side by side with their baselines. Each benchmark module exposes
`async def run(quick: bool = False) -> dict`."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import sys
import time

from bench.report import print_figures

BENCHMARKS = (
    "store",
    "engine",
    "panel",
    "panel_tmux",
    "startup",
    "rest",
    "ws",
    "load",
    "jobs",
    "risk",
    "ws_engine",
    "orders",
    "scaling",
)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="shorter runs")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"any of {', '.join(BENCHMARKS)}")
    args = parser.parse_args()
    unknown = set(args.names) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    results: dict[str, dict[str, object]] = {}
    for name in args.names or BENCHMARKS:
        try:
            module = importlib.import_module(f"bench.bench_{name}")
        except ModuleNotFoundError:
            continue
        began = time.perf_counter()
        results[name] = asyncio.run(module.run(quick=args.quick))
        if not args.json:
            print(f"\n== {name} ({time.perf_counter() - began:.0f} s)")
            print_figures(results[name], indent="  ")
    if args.json:
        json.dump(results, sys.stdout, indent=2, default=str)
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
