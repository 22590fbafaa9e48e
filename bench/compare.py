"""`python -m bench.compare [--quick] [--rounds N] BASE [NAME ...]`: the same
benchmarks on another checkout (`BASE`, a directory, e.g. made by
`git worktree add /tmp/base <commit>`) and on this one, side by side.

The machines these run on are noisy, so the two trees take turns benchmark by
benchmark, each in a fresh interpreter (`python -m bench --json NAME` with the
tree first on `PYTHONPATH`), for `--rounds` rounds; each figure is the median of
its rounds. Numeric figures get a change column; the others are shown as they
are. A figure whose name says it is a rate (`/s`) is better higher; the rest
(latencies, sizes) better lower: the sign of the change is printed, not judged.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.__main__ import BENCHMARKS

HERE = Path(__file__).resolve().parent.parent


def measure(tree: Path, name: str, quick: bool) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    command = [sys.executable, "-m", "bench", "--json", *(["--quick"] if quick else []), name]
    done = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{name} failed in {tree}:\n{done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout).get(name, {})
    return result


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    return None


def _median(values: list[Any]) -> Any:
    numbers = [_number(v) for v in values]
    if values and all(n is not None for n in numbers):
        return statistics.median(n for n in numbers if n is not None)
    return values[-1] if values else None


def _show(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return f"{int(value):,}"
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= 100 else f"{value:.3g}"
    return "-" if value is None else str(value)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.compare", description=__doc__)
    parser.add_argument("base", type=Path, help="the other checkout's directory")
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"any of {', '.join(BENCHMARKS)}")
    parser.add_argument("--quick", action="store_true", help="shorter runs")
    parser.add_argument("--rounds", type=int, default=1, help="turns each tree takes (median)")
    args = parser.parse_args()
    base = args.base.resolve()
    if not (base / "bench" / "__main__.py").is_file():
        parser.error(f"{base} is not a tradedeck checkout with benchmarks")
    unknown = set(args.names) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    print(f"base: {base}\nhere: {HERE}")
    for name in args.names or BENCHMARKS:
        runs: dict[str, list[dict[str, Any]]] = {"base": [], "here": []}
        for _ in range(args.rounds):
            runs["base"].append(measure(base, name, args.quick))
            runs["here"].append(measure(HERE, name, args.quick))
        keys = list(dict.fromkeys([*runs["base"][0], *runs["here"][0]]))
        rows = []
        for key in keys:
            before = _median([r[key] for r in runs["base"] if key in r])
            after = _median([r[key] for r in runs["here"] if key in r])
            b, a = _number(before), _number(after)
            change = f"{(a - b) / b:+.1%}" if a is not None and b else ""
            rows.append((key, _show(before), _show(after), change))
        width = max((len(r[0]) for r in rows), default=0)
        print(f"\n== {name}")
        print(f"  {'figure':<{width}}  {'base':>14}  {'here':>14}  change")
        for key, before_text, after_text, change in rows:
            print(f"  {key:<{width}}  {before_text:>14}  {after_text:>14}  {change}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
