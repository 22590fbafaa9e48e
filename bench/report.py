"""What every benchmark's command line shares: `--quick`, and the figures
printed as an aligned two-column table."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any


def print_figures(result: Mapping[str, Any], indent: str = "") -> None:
    width = max(map(len, result), default=0)
    for key, value in result.items():
        print(f"{indent}{key:<{width}}  {value}")


def command_line(run: Callable[[bool], Awaitable[Mapping[str, Any]]], doc: str | None) -> None:
    """`python -m bench.bench_<name> [--quick]`: run once and print the figures."""
    parser = argparse.ArgumentParser(description=doc)
    parser.add_argument("--quick", action="store_true", help="a shorter run")
    print_figures(asyncio.run(run(parser.parse_args().quick)))
