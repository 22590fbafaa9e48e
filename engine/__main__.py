"""`python -m engine`: the engine alone, headless and without the API, until
SIGTERM or Ctrl-C. Used by the crash-safety tests and for quick experiments;
`tradedeck serve` (the API server) builds on the same start/stop sequence."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from pathlib import Path

from config.loader import ConfigError, load_settings
from engine.engine import Engine
from storage.errors import StorageError


async def run(config: Path | None, db: Path) -> int:
    try:
        settings = load_settings(config)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 1
    try:
        engine = await Engine.open(settings, db)
    except StorageError as error:
        print(error, file=sys.stderr)
        return 1
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await engine.start()
        print("engine running", flush=True)
        await stop.wait()
    finally:
        await engine.close()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m engine", description=__doc__)
    parser.add_argument("--config", type=Path, default=None)
    parser.add_argument("--db", type=Path, required=True)
    args = parser.parse_args()
    return asyncio.run(run(args.config, args.db))


if __name__ == "__main__":
    sys.exit(main())
