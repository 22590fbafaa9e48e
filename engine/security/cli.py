"""`tradedeck keys ...` and `tradedeck users ...`: credentials managed at the
server's own terminal, straight in its database (a running server picks the
changes up within seconds). Every change is written to the audit log as done
by the local operator.

`tui.cli` adds these commands to its parser with `add_commands` and runs them
with `run` once it has resolved the settings and the database path.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from config.models import Settings
from engine.errors import EngineError, InvalidRequest
from engine.security.principal import Principal, Role

if TYPE_CHECKING:
    from engine.security.service import Security


@dataclass(frozen=True, slots=True)
class Context:
    security: Security
    settings: Settings
    args: argparse.Namespace
    out: TextIO
    err: TextIO


Command = Callable[[Context], Awaitable[int]]

_ROLES = [role.value for role in Role]


def add_commands(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    common_options: Callable[[argparse.ArgumentParser], None],
) -> None:
    """Add `keys` and `users` (each with its subcommands); `common_options`
    adds `--config`/`--db` to each parser, as for the other commands."""
    # --config/--db go on the actions (`keys list --db X`): an option given
    # before a subcommand would be reset by the subcommand's defaults.
    keys = subparsers.add_parser(
        "keys", help="API keys: create, list, revoke", description="Manage API keys."
    )
    key_commands = keys.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    create = key_commands.add_parser(
        "create",
        help="create a key and print it (shown this once)",
        description="Create an API key. The key is printed on its own line on stdout and "
        "never shown again; only its hash is stored.",
    )
    create.add_argument("--role", required=True, choices=_ROLES)
    create.add_argument("--name", default="", help="a label, e.g. who or what uses the key")
    create.add_argument(
        "--accounts", default=None, metavar="A,B", help="limit the key to these accounts"
    )
    create.set_defaults(security_command=_keys_create)
    listing = key_commands.add_parser("list", help="list keys by their visible prefix")
    listing.set_defaults(security_command=_keys_list)
    revoke = key_commands.add_parser("revoke", help="revoke a key; it stops working")
    revoke.add_argument("id", help="the key's id (the part after tdk_ in its prefix)")
    revoke.set_defaults(security_command=_keys_revoke)
    for parser in (create, listing, revoke):
        common_options(parser)

    users = subparsers.add_parser(
        "users",
        help="users for JWT login: add, list, remove, passwd",
        description="Manage the users who log in with a password.",
    )
    user_commands = users.add_subparsers(dest="users_command", metavar="ACTION", required=True)
    add = user_commands.add_parser("add", help="add a user (password from a prompt or stdin)")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=_ROLES)
    add.set_defaults(security_command=_users_add)
    user_list = user_commands.add_parser("list", help="list users")
    user_list.set_defaults(security_command=_users_list)
    remove = user_commands.add_parser("remove", help="remove a user and end their sessions")
    remove.add_argument("name")
    remove.set_defaults(security_command=_users_remove)
    passwd = user_commands.add_parser("passwd", help="set a user's password; sessions end")
    passwd.add_argument("name")
    passwd.set_defaults(security_command=_users_passwd)
    for parser in (add, passwd):
        parser.add_argument(
            "--password-stdin",
            action="store_true",
            help="read the password from the first line of stdin instead of a prompt",
        )
    for parser in (add, user_list, remove, passwd):
        common_options(parser)


def handles(args: argparse.Namespace) -> bool:
    """Whether the parsed command is one of these."""
    return getattr(args, "security_command", None) is not None


async def run(
    args: argparse.Namespace,
    settings: Settings,
    db_path: Path,
    secret_path: Path,
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Run the parsed command against the database; 0 on success, 1 with a
    message on stderr otherwise."""
    # Imported here so that building the parser (`tradedeck --help`) stays quick.
    from engine.clock import RealClock
    from engine.security.service import Security
    from storage.db import StorageError
    from storage.store import Store

    out = out or sys.stdout
    err = err or sys.stderr
    command: Command = args.security_command
    try:
        store = await Store.open(db_path, settings.storage)
    except StorageError as error:
        print(error, file=err)
        return 1
    try:
        security = await Security.open(
            store, settings.server, secret_path=secret_path, clock=RealClock()
        )
        return await command(Context(security, settings, args, out, err))
    except EngineError as error:
        print(error.message, file=err)
        return 1
    finally:
        await store.close()


def operator() -> Principal:
    """The person at the server's terminal, as the audit log names them."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        name = "unknown"
    return Principal(kind="local", name=f"cli:{name}", role=Role.ADMIN)


async def _keys_create(ctx: Context) -> int:
    accounts = None
    if ctx.args.accounts is not None:
        accounts = [a.strip() for a in ctx.args.accounts.split(",") if a.strip()]
        unknown = [a for a in accounts if ctx.settings.account(a) is None]
        if not accounts or unknown:
            known = ", ".join(a.id for a in ctx.settings.accounts) or "none"
            print(
                f"Unknown accounts: {', '.join(unknown) or '(empty)'}; configured: {known}.",
                file=ctx.err,
            )
            return 1
    security = ctx.security
    info, key = await security.create_key(
        role=Role(ctx.args.role), name=ctx.args.name, accounts=accounts
    )
    await security.audit(
        operator(), "api_key.create", f"api_key:{info.id}", "ok", role=info.role, accounts=accounts
    )
    scope = ", ".join(info.accounts) if info.accounts is not None else "all accounts"
    print(
        f"Created {info.prefix} ({info.role.value}; {scope}). It is shown only once:", file=ctx.err
    )
    print(key, file=ctx.out)
    return 0


async def _keys_list(ctx: Context) -> int:
    keys = await ctx.security.list_keys()
    if not keys:
        print("No API keys. Create one with 'tradedeck keys create --role ROLE'.", file=ctx.err)
        return 0
    rows = [
        (
            info.id,
            info.prefix,
            info.role.value,
            "active" if info.active else f"revoked {info.revoked_at:%Y-%m-%d %H:%M}",
            ",".join(info.accounts) if info.accounts is not None else "*",
            f"{info.created_at:%Y-%m-%d %H:%M}",
            info.name,
        )
        for info in keys
    ]
    _table(("ID", "PREFIX", "ROLE", "STATUS", "ACCOUNTS", "CREATED", "NAME"), rows, ctx.out)
    return 0


async def _keys_revoke(ctx: Context) -> int:
    key_id = ctx.args.id.removeprefix("tdk_")
    async with _audited(ctx, "api_key.revoke", f"api_key:{key_id}"):
        info = await ctx.security.revoke_key(key_id)
    print(f"Revoked {info.prefix}.", file=ctx.out)
    return 0


async def _users_add(ctx: Context) -> int:
    password = _password(ctx)
    name = ctx.args.name
    role = Role(ctx.args.role)
    async with _audited(ctx, "user.add", f"user:{name}", role=role):
        info = await ctx.security.add_user(name, password, role)
    print(f"Added {info.name} ({info.role.value}).", file=ctx.out)
    return 0


async def _users_list(ctx: Context) -> int:
    users = await ctx.security.list_users()
    if not users:
        print("No users. Add one with 'tradedeck users add NAME --role ROLE'.", file=ctx.err)
        return 0
    rows = [
        (u.name, u.role.value, f"{u.created_at:%Y-%m-%d %H:%M}", f"{u.updated_at:%Y-%m-%d %H:%M}")
        for u in users
    ]
    _table(("NAME", "ROLE", "CREATED", "UPDATED"), rows, ctx.out)
    return 0


async def _users_remove(ctx: Context) -> int:
    name = ctx.args.name
    async with _audited(ctx, "user.remove", f"user:{name}"):
        await ctx.security.remove_user(name)
    print(f"Removed {name}; their sessions are ended.", file=ctx.out)
    return 0


async def _users_passwd(ctx: Context) -> int:
    name = ctx.args.name
    async with _audited(ctx, "user.passwd", f"user:{name}"):
        ctx.security.user(name)  # an unknown user fails before the prompt
        await ctx.security.set_password(name, _password(ctx))
    print(f"Password of {name} changed; their sessions are ended.", file=ctx.out)
    return 0


@contextlib.asynccontextmanager
async def _audited(ctx: Context, action: str, target: str, **details: Any) -> AsyncIterator[None]:
    """Audit the change made inside with its outcome (`ok` or the error's code)."""
    try:
        yield
    except EngineError as error:
        await ctx.security.audit(operator(), action, target, error.code, **details)
        raise
    await ctx.security.audit(operator(), action, target, "ok", **details)


def _password(ctx: Context) -> str:
    """The first line of stdin with --password-stdin, else typed twice at a prompt."""
    if ctx.args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise InvalidRequest("The two passwords differ; nothing was changed.")
    return first


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]], out: TextIO) -> None:
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print(
            "  ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip(),
            file=out,
        )
