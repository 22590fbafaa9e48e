"""The rule that nothing is told to the rest of the world (bus, panel, API)
before it is durably stored."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

log = logging.getLogger("tradedeck.engine")


def after_commit(future: asyncio.Future[None], action: Callable[[], object]) -> None:
    """Run `action` once `future` (a store write) has committed; log a failed write."""

    def done(f: asyncio.Future[None]) -> None:
        if f.cancelled():
            return
        error = f.exception()
        if error is not None:
            log.error("store write failed: %s", error, exc_info=error)
            return
        action()

    future.add_done_callback(done)
