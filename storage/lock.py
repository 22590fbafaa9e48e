"""One engine per store: an exclusive OS lock on a file beside the database.

The lock is `flock` on `<db>.lock`, held for the engine's lifetime. The OS
releases it when the process ends however it ends (`kill -9` included), so a
crashed engine never leaves a stale lock behind. The file says who holds it
(PID, host, since when) for the refusal a second engine prints. Commands
that only manage keys and users open the store without the lock.
"""

from __future__ import annotations

import json
import os
import socket
from datetime import UTC, datetime
from pathlib import Path

from storage.errors import StorageError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: msvcrt's locking instead
    fcntl = None  # type: ignore[assignment]


class StoreLocked(StorageError):
    """Another engine holds the store."""


class StoreLock:
    """Held from `acquire` until `release` (or the process's end)."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = Path(db_path)
        self.path = lock_path(self.db_path)
        self._fd: int | None = None

    @classmethod
    def acquire(cls, db_path: Path) -> StoreLock:
        lock = cls(db_path)
        lock._acquire()
        return lock

    @property
    def held(self) -> bool:
        return self._fd is not None

    def _acquire(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:
            raise StorageError(
                f"Cannot create the lock file {self.path} for the store {self.db_path}: "
                f"{error.strerror or error}."
            ) from error
        try:
            _lock(fd)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise StoreLocked(
                f"The store {self.db_path} is in use by another engine ({holder}); "
                "stop that engine first, or use another --db."
            ) from None
        except OSError as error:
            os.close(fd)
            raise StorageError(
                f"Cannot lock the store {self.db_path}: {error.strerror or error}."
            ) from error
        holder = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        # Past the first byte: on Windows that byte is what is locked.
        os.ftruncate(fd, 1)
        os.lseek(fd, 1, os.SEEK_SET)
        os.write(fd, json.dumps(holder).encode())
        self._fd = fd

    def release(self) -> None:
        """Let another engine open the store. The file stays: deleting it would
        let a third process lock a fresh inode while a second still waits on
        the old one."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 1)
        finally:
            os.close(fd)  # closing drops the flock


def lock_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".lock")


def _lock(fd: int) -> None:
    if fcntl is None:  # pragma: no cover
        import msvcrt

        try:
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError as error:
            raise BlockingIOError(str(error)) from error
        return
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


def _read_holder(fd: int) -> str:
    try:
        os.lseek(fd, 1, os.SEEK_SET)
        holder = json.loads(os.read(fd, 4096) or b"{}")
    except (OSError, ValueError):
        holder = {}
    if not isinstance(holder, dict) or "pid" not in holder:
        return "holder unknown"
    return f"PID {holder['pid']} on {holder.get('host', '?')} since {holder.get('since', '?')}"
