"""Background tasks, supervised the same way in every service.

A service that runs tasks of its own (the kernel's market and mark loops, a
worker's order and heartbeat loops, the job runners, the risk engine's flatten
actions, the key reloads) owns a `TaskSet`. It starts each task under a name
prefixed with the service, keeps it referenced until it ends (the event loop
holds only weak references), reports a task that died of an exception once, to
the service's handler or to the log, and cancels and awaits every task
together on stop, within a deadline when one is given.

`backoff` is the wait before retry number `attempt`: exponential from
`initial`, capped at `ceiling`, plus up to `jitter` of itself so that things
failing together do not retry together.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

Failure = Callable[[asyncio.Task[Any], BaseException], None]


class TaskSet:
    """The background tasks of one service."""

    def __init__(
        self,
        prefix: str,
        on_failure: Failure | None = None,
        *,
        logger: logging.Logger | None = None,
        level: int = logging.CRITICAL,
    ) -> None:
        self.prefix = prefix
        self._on_failure = on_failure
        self._log = logger or logging.getLogger("tradedeck.tasks")
        self._level = level
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """Start `coro` as the task `<prefix>:<name>`."""
        task = asyncio.create_task(coro, name=f"{self.prefix}:{name}")
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def __len__(self) -> int:
        return len(self._tasks)

    def __iter__(self) -> Iterator[asyncio.Task[Any]]:
        return iter(list(self._tasks))

    def cancel_all(self) -> list[asyncio.Task[Any]]:
        """Cancel every task without waiting; returns them, for a caller that will."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        self._tasks.clear()
        return tasks

    async def stop(self, timeout: float | None = None) -> None:
        """Cancel every task and wait for them to end, at most `timeout` seconds."""
        tasks = self.cancel_all()
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        if error is None:
            return
        if self._on_failure is not None:
            self._on_failure(task, error)
        else:
            self._log.log(self._level, "task %s died", task.get_name(), exc_info=error)


def backoff(
    attempt: int, initial: float, ceiling: float, jitter: float, rng: random.Random
) -> float:
    """Seconds to wait before retry number `attempt` (1-based)."""
    base = min(ceiling, initial * 2 ** (attempt - 1))
    return base * (1 + jitter * rng.random())
