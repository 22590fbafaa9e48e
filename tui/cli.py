"""The `tradedeck` command: the composition root that wires configuration,
storage, the engine and the panel together.

Heavy imports (Textual, the engine) happen inside the commands that need them,
so `tradedeck --help` and `tradedeck validate` stay quick.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import faulthandler
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from platformdirs import user_data_path
from rich.console import Console
from rich.text import Text

from config.issues import ValidationReport
from config.loader import ConfigError, check_file, load_settings
from config.models import Settings
from config.report import render_report, summary_line
from engine.security import cli as security_cli

if TYPE_CHECKING:
    from engine.engine import Engine

APP_NAME = "tradedeck"


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    # Options may stand before or after the command; absent ones are None.
    for name in ("config", "db", "host", "port"):
        if not hasattr(args, name):
            setattr(args, name, None)
    args.read_only = getattr(args, "read_only", False)
    console = Console(stderr=True)
    if args.command == "validate":
        return _validate(args, Console())
    if args.command == "connect":
        # No database here, so the log goes where the demo's would.
        _log_to_file(user_data_path(APP_NAME) / f"{APP_NAME}-connect.log")
        return asyncio.run(_run_remote(args, console))
    try:
        settings = load_settings(args.config)
    except ConfigError as error:
        console.print(Text(str(error), style="bold red"))
        console.print(render_report(error.report))
        return 1
    settings = _with_server_options(args, settings)
    if args.command == "notify":
        return asyncio.run(_notify_test(settings, args.target, Console()))
    db_path = resolve_db_path(args, settings)
    if security_cli.handles(args):
        return asyncio.run(
            security_cli.run(args, settings, db_path, secret_path(settings, db_path))
        )
    _log_to_file(db_path.parent / f"{APP_NAME}.log")
    if args.command == "serve":
        if args.web_port is not None:
            server = settings.server.model_copy(update={"web_port": args.web_port})
            settings = settings.model_copy(update={"server": server})
        return asyncio.run(_run_headless(settings, db_path, console, web=args.web))
    return asyncio.run(
        _run_panel(settings, db_path, console, serve=args.serve, read_only=args.read_only)
    )


def resolve_db_path(args: argparse.Namespace, settings: Settings) -> Path:
    """--db, then the configuration's storage.path, then the user data directory
    (a separate file for the demo, so it never mixes with a real configuration)."""
    if args.db is not None:
        return Path(args.db).expanduser()
    if settings.storage.path is not None:
        return settings.storage.path.expanduser()
    name = "demo.db" if args.config is None else f"{APP_NAME}.db"
    return user_data_path(APP_NAME) / name


def secret_path(settings: Settings, db_path: Path) -> Path:
    """The JWT signing secret: server.secret_file, else next to the database."""
    return settings.server.secret_file or db_path.with_name(f"{db_path.stem}.jwt-secret")


def _with_server_options(args: argparse.Namespace, settings: Settings) -> Settings:
    changes = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    if not changes:
        return settings
    return settings.model_copy(update={"server": settings.server.model_copy(update=changes)})


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
    serve = commands.add_parser(
        "serve",
        help="run the engine headless, serving REST + WebSocket",
        description="Run the engine without the panel and serve the API until SIGTERM/Ctrl-C.",
    )
    _common_options(serve)
    _server_options(serve)
    serve.add_argument(
        "--web",
        action="store_true",
        help="also serve the panel in a browser, behind a sign-in (on --web-port)",
    )
    serve.add_argument(
        "--web-port",
        type=int,
        default=None,
        help="port of the browser panel (default: server.web_port, else the API's port + 1)",
    )
    connect = commands.add_parser(
        "connect",
        help="open the panel on a remote engine (tradedeck serve)",
        description="Open the panel against a headless engine over REST + WebSocket. The token "
        "(an API key or a JWT access token) comes from --token or TRADEDECK_TOKEN.",
    )
    connect.add_argument("url", help="the engine's address, e.g. http://127.0.0.1:8765")
    connect.add_argument("--token", default=None, help="API key or access token")
    _config_option(connect, "a configuration file whose [keys] the panel uses (nothing else)")
    connect.add_argument(
        "--read-only",
        action="store_true",
        default=argparse.SUPPRESS,
        help="every action off: look, never touch",
    )
    notify = commands.add_parser(
        "notify",
        help="send a test notification to the configured targets",
        description="Send a test notification to every target of [notifications] (or the one "
        "named), directly, and print what each answered; exit 1 if any failed. Webhooks "
        "registered over the API are tested with POST /api/v1/webhooks/{id}/test.",
    )
    notify.add_argument("action", choices=["test"])
    notify.add_argument("target", nargs="?", help="a target's name (default: all)")
    _common_options(notify)
    security_cli.add_commands(commands, _common_options)
    parser.add_argument(
        "--serve", action="store_true", help="also serve the API while the panel runs"
    )
    parser.add_argument(
        "--read-only",
        action="store_true",
        help="the panel with every action off: look, never touch",
    )
    _server_options(parser)
    return parser


def _server_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--host", default=argparse.SUPPRESS, help="address to bind (default 127.0.0.1)"
    )
    parser.add_argument(
        "--port", type=int, default=argparse.SUPPRESS, help="port to bind (default 8765)"
    )


def _config_option(parser: argparse.ArgumentParser, help: str) -> None:
    parser.add_argument("--config", type=Path, metavar="FILE", default=argparse.SUPPRESS, help=help)


def _common_options(parser: argparse.ArgumentParser) -> None:
    _config_option(parser, "configuration file (TOML); without it the built-in demo runs")
    parser.add_argument(
        "--db",
        type=Path,
        metavar="PATH",
        default=argparse.SUPPRESS,
        help="the SQLite file (default: storage.path, or the user data directory)",
    )


async def _notify_test(settings: Settings, name: str | None, console: Console) -> int:
    from engine.clock import RealClock
    from engine.notify import send_apprise, test_alert

    config = settings.notifications
    targets = [t for t in config.targets if name is None or t.name == name]
    if not targets:
        known = ", ".join(t.name for t in config.targets) or "none are configured"
        console.print(
            f"No notification target {name!r}; targets: {known}."
            if name
            else "No notification targets are configured ([notifications] targets)."
        )
        return 1
    alert = test_alert(RealClock().now())
    failed = 0
    for target in targets:
        try:
            await send_apprise(target.url, alert, config.timeout_seconds)
        except Exception as error:  # each target's own failure, in its words
            failed += 1
            console.print(f"{target.name}: failed: {error or type(error).__name__}")
        else:
            console.print(f"{target.name}: sent")
    return 1 if failed else 0


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
        if report.valid:
            _check_keys(load_settings(path).keys, report)
    if report.issues:
        console.print(render_report(report))
    console.print(summary_line(report))
    return 0 if report.valid else 1


def _check_keys(keys: dict[str, str], report: ValidationReport) -> None:
    """The panel's own rules for `[keys]`: its binding ids, their conflicts."""
    from tui.app import TradeDeckApp
    from tui.keymap import check_keymap

    for problem in check_keymap(keys, TradeDeckApp.BINDINGS):
        if problem.error:
            report.error(problem.path, problem.message)
        else:
            report.warning(problem.path, problem.message)


def _keymap_refused(keys: dict[str, str], console: Console) -> bool:
    """Whether `[keys]` is wrong; if so the panel does not start, and says why."""
    report = ValidationReport(subject="[keys]")
    _check_keys(keys, report)
    if report.valid:
        return False
    console.print(Text("The panel's keys ([keys]) are not valid:", style="bold red"))
    console.print(render_report(report))
    return True


def _read_only(client: Any) -> Any:
    from engine.client.readonly import ReadOnlyClient

    return ReadOnlyClient(client)


async def _run_panel(
    settings: Settings, db_path: Path, console: Console, *, serve: bool, read_only: bool = False
) -> int:
    from engine.client import LocalEngineClient
    from tui.app import TradeDeckApp

    if _keymap_refused(settings.keys, console):
        return 1
    async with _running_engine(settings, db_path, console, serve=serve) as engine:
        if engine is None:
            return 1
        client = LocalEngineClient(engine)
        app = TradeDeckApp(_read_only(client) if read_only else client, keymap=settings.keys)
        _exit_on_hangup(engine.close)
        await app.run_async()
        return app.return_code or 0
    return 1


def _exit_on_hangup(cleanup: Callable[[], Awaitable[None]]) -> None:
    """A dropped SSH session hangs up the terminal. Stop cleanly (workers stop,
    the store flushes, what should run is remembered), then leave at once:
    there is no terminal left to restore, and Textual's own shutdown can block
    forever writing to a terminal that is gone."""

    async def leave() -> None:
        try:
            async with asyncio.timeout(30):
                await cleanup()
        except BaseException:
            logging.getLogger("tradedeck").exception("clean-up after hangup failed")
        finally:
            logging.shutdown()
            os._exit(0)

    def hung_up() -> None:
        asyncio.get_running_loop().create_task(leave())

    if hasattr(signal, "SIGHUP"):
        with contextlib.suppress(NotImplementedError):
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, hung_up)


async def _run_remote(args: argparse.Namespace, console: Console) -> int:
    from engine.client.remote import RemoteEngineClient
    from engine.errors import EngineError
    from tui.app import TradeDeckApp

    keys: dict[str, str] = {}
    if args.config is not None:
        try:
            keys = load_settings(args.config).keys
        except ConfigError as error:
            console.print(Text(str(error), style="bold red"))
            console.print(render_report(error.report))
            return 1
    if _keymap_refused(keys, console):
        return 1
    token = args.token or os.environ.get("TRADEDECK_TOKEN")
    if not token:
        console.print(
            Text(
                "No token: pass --token or set TRADEDECK_TOKEN (see 'tradedeck keys create').",
                style="bold red",
            )
        )
        return 1
    client = RemoteEngineClient(args.url, token)
    try:
        await client.connect()
    except EngineError as error:
        console.print(Text(f"Cannot connect to {args.url}: {error.message}", style="bold red"))
        await client.close()
        return 1
    try:
        app = TradeDeckApp(_read_only(client) if args.read_only else client, keymap=keys)
        _exit_on_hangup(client.close)
        await app.run_async()
    finally:
        await client.close()
    return app.return_code or 0


async def _run_headless(
    settings: Settings, db_path: Path, console: Console, *, web: bool = False
) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    async with _running_engine(settings, db_path, console, serve=True, web=web) as engine:
        if engine is None:
            return 1
        await stop.wait()
        return 0
    return 1


@contextlib.asynccontextmanager
async def _running_engine(
    settings: Settings, db_path: Path, console: Console, *, serve: bool, web: bool = False
) -> AsyncIterator[Engine | None]:
    """Open and start the engine (and the API); yield None after printing why not.

    Everything that can refuse a start is checked before any worker starts:
    the address can be bound and the TLS files load, the store is ours alone
    (its lock), it opens read-write with its schema current, and an address
    off loopback has credentials. A refusal is one sentence on stderr."""
    from engine.engine import Engine
    from engine.errors import EngineError
    from engine.server.service import ApiService, listen
    from storage.errors import StorageError

    def refuse(error: BaseException) -> None:
        message = error.message if isinstance(error, EngineError) else str(error)
        console.print(Text(message, style="bold red"), soft_wrap=True)

    sock = web_sock = None
    if serve:
        try:
            sock = listen(settings.server)
            if web:
                web_port = settings.server.web_port
                if web_port is None:
                    web_port = sock.getsockname()[1] + 1
                web_sock = listen(settings.server.model_copy(update={"port": web_port}))
        except EngineError as error:
            if sock is not None:
                sock.close()
            refuse(error)
            yield None
            return
    try:
        engine = await Engine.open(settings, db_path)
    except StorageError as error:
        if sock is not None:
            sock.close()
        refuse(error)
        yield None
        return
    api = panel = None
    try:
        if serve:
            api = ApiService(
                engine, settings.server, secret_path=secret_path(settings, db_path), sock=sock
            )
            try:
                await api.prepare()
            except (EngineError, OSError) as error:
                refuse(error)
                yield None
                return
        await engine.start()
        if api is not None:
            await api.start()
            console.print(
                f"tradedeck API on {api.url}/api/v1 (docs at {api.url}/api/docs)", soft_wrap=True
            )
        if api is not None and web_sock is not None:
            from engine.server.web import PanelWeb

            panel = PanelWeb(
                api.security,
                api.url,
                web_sock,
                _web_url(settings, web_sock),
                tls=(settings.server.tls_cert, settings.server.tls_key),
            )
            api.app.state.panel_url = panel.public_url
            await panel.start()
            console.print(f"tradedeck panel in a browser on {panel.public_url}/", soft_wrap=True)
        yield engine
    finally:
        if panel is not None:
            await panel.stop()
        elif web_sock is not None:
            web_sock.close()
        if api is not None:
            await api.stop()
        elif sock is not None:
            sock.close()
        await engine.close()


def _web_url(settings: Settings, sock: Any) -> str:
    scheme = "https" if settings.server.tls_cert else "http"
    return f"{scheme}://{settings.server.host}:{sock.getsockname()[1]}"


def _log_to_file(path: Path) -> None:
    """Logs go to a file: the terminal belongs to the panel. The handler sits on
    the root logger so uvicorn's and every library's records land there too,
    never on the screen. `kill -USR1` writes every thread's stack there, for a
    panel that seems stuck."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    if hasattr(signal, "SIGUSR1"):
        faulthandler.register(signal.SIGUSR1, file=handler.stream, all_threads=True)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    logging.getLogger("tradedeck").setLevel(logging.INFO)
    logging.getLogger("uvicorn.error").setLevel(logging.INFO)


if __name__ == "__main__":
    sys.exit(main())
