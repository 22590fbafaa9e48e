"""The one error storage raises: a plain sentence naming the file and the problem."""

from __future__ import annotations


class StorageError(Exception):
    pass
