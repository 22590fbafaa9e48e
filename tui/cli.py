"""The `tradedeck` command: the composition root that wires configuration,
storage, the engine and the panel together.

Heavy imports (Textual, the engine) happen inside the commands that need them,
so `tradedeck --help` and `tradedeck validate` stay quick.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from platformdirs import user_data_path
from rich.console import Console
from rich.text import Text

from config.loader import ConfigError, check_file, load_settings
from config.models import Settings
from config.report import render_report, summary_line

APP_NAME = "tradedeck"


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    console = Console(stderr=True)
    if args.command == "validate":
        return _validate(args, Console())
    try:
        settings = load_settings(args.config)
    except ConfigError as error:
        console.print(Text(str(error), style="bold red"))
        console.print(render_report(error.report))
        return 1
    db_path = resolve_db_path(args, settings)
    _log_to_file(db_path.parent / f"{APP_NAME}.log")
    return asyncio.run(_run_panel(settings, db_path, console))


def resolve_db_path(args: argparse.Namespace, settings: Settings) -> Path:
    """--db, then the configuration's storage.path, then the user data directory
    (a separate file for the demo, so it never mixes with a real configuration)."""
    if args.db is not None:
        return Path(args.db).expanduser()
    if settings.storage.path is not None:
        return settings.storage.path.expanduser()
    name = "demo.db" if args.config is None else f"{APP_NAME}.db"
    return user_data_path(APP_NAME) / name


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=APP_NAME,
        description="Keyboard-driven control panel for algorithmic trading. "
        "With no configuration it opens the built-in paper-trading demo.",
    )
    _common_options(parser)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    validate = commands.add_parser(
        "validate",
        help="validate a configuration file; exit 1 on errors",
        description="Print the configuration's errors and warnings; exit 1 if there are errors.",
    )
    validate.add_argument(
        "file", nargs="?", type=Path, help="the TOML file (default: --config, or the demo)"
    )
    _common_options(validate)
    return parser


def _common_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", type=Path, metavar="FILE", default=argparse.SUPPRESS,
        help="configuration file (TOML); without it the built-in demo runs",
    )
    parser.add_argument(
        "--db", type=Path, metavar="PATH", default=argparse.SUPPRESS,
        help="the SQLite file (default: storage.path, or the user data directory)",
    )
    parser.set_defaults(config=None, db=None)


def _validate(args: argparse.Namespace, console: Console) -> int:
    path = args.file or args.config
    if path is None:
        try:
            load_settings(None)
        except ConfigError as error:
            report = error.report
        else:
            console.print("The built-in demo configuration is valid.")
            return 0
    else:
        report = check_file(path)
    if report.issues:
        console.print(render_report(report))
    console.print(summary_line(report))
    return 0 if report.valid else 1


async def _run_panel(settings: Settings, db_path: Path, console: Console) -> int:
    from engine.client import LocalEngineClient
    from engine.engine import Engine
    from storage.db import StorageError
    from tui.app import TradeDeckApp

    try:
        engine = await Engine.open(settings, db_path)
    except StorageError as error:
        console.print(Text(str(error), style="bold red"))
        return 1
    try:
        await engine.start()
        app = TradeDeckApp(LocalEngineClient(engine))
        await app.run_async()
    finally:
        await engine.close()
    return app.return_code or 0


def _log_to_file(path: Path) -> None:
    """Logs go to a file: the terminal belongs to the panel."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("tradedeck")
    root.addHandler(handler)
    root.setLevel(logging.INFO)


if __name__ == "__main__":
    sys.exit(main())
