"""The JWT signing secret and the tokens signed with it.

The secret is generated on first start into a file only its owner can read;
there is no default secret. Tokens are HS256 and decoding accepts nothing
else, so `alg: none` or a token for another algorithm is refused. Expiry is
checked against the engine's clock, not the machine's, so it follows the same
time as everything else.
"""

from __future__ import annotations

import os
import secrets
import stat
from datetime import datetime
from pathlib import Path
from typing import Any

import jwt

from engine.security.models import InsecureSecret

ALGORITHM = "HS256"
ACCESS = "access"
REFRESH = "refresh"
_SECRET_BYTES = 64
_CLAIMS = ["sub", "role", "jti", "typ", "iat", "exp", "fam"]


def load_secret(path: Path) -> bytes:
    """The secret in `path`, created (0600) if the file does not exist.

    A file that group or others may read or write is refused: anyone who can
    read it can sign tokens for any role."""
    path = Path(path).expanduser()
    try:
        info = path.stat()
    except FileNotFoundError:
        return _create_secret(path)
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise InsecureSecret(
            f"The JWT secret file {path} is readable or writable by other users "
            f"(mode {stat.S_IMODE(info.st_mode):04o}); run 'chmod 600 {path}' and start again."
        )
    try:
        secret = bytes.fromhex(path.read_text(encoding="ascii").strip())
    except (OSError, ValueError) as error:
        raise InsecureSecret(f"Cannot read the JWT secret file {path}: {error}.") from error
    if len(secret) < 32:
        raise InsecureSecret(
            f"The JWT secret in {path} is shorter than 32 bytes; delete the file to make a new one."
        )
    return secret


def _create_secret(path: Path) -> bytes:
    secret = secrets.token_bytes(_SECRET_BYTES)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # O_EXCL: never overwrite a file that appeared meanwhile; 0600 from the start.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as error:
        raise InsecureSecret(f"Cannot create the JWT secret file {path}: {error}.") from error
    with os.fdopen(fd, "w", encoding="ascii") as file:
        file.write(secret.hex() + "\n")
    return secret


def encode(secret: bytes, claims: dict[str, Any]) -> str:
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def decode(secret: bytes, token: str, *, typ: str, now: datetime) -> dict[str, Any] | None:
    """The claims of a valid, unexpired token of type `typ`; None otherwise."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            # Times are checked below against the engine's clock.
            options={"require": _CLAIMS, "verify_exp": False, "verify_iat": False},
        )
    except jwt.PyJWTError:
        return None
    if claims.get("typ") != typ:
        return None
    exp = claims.get("exp")
    if not isinstance(exp, int | float) or exp <= now.timestamp():
        return None
    return claims
