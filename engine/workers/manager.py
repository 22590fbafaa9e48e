"""The worker manager: start, stop, restart and validate workers, and supervise
them. A crashed worker restarts after an exponential backoff with jitter;
after `max_restarts` crashes in a row it stays in `error` and raises an alert.
One worker's crash never touches another."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable

from config.issues import ValidationReport
from config.validation import validate_account
from engine.errors import Conflict, ValidationFailed, WorkerNotFound
from engine.models import Severity, WorkerInfo, WorkerState
from engine.runtime import Runtime
from engine.tasks import TaskSet, backoff
from engine.workers.worker import Worker

_ACTIVE = (WorkerState.STARTING, WorkerState.RUNNING, WorkerState.RECONNECTING)

log = logging.getLogger("tradedeck.workers")


class WorkerManager:
    def __init__(
        self,
        runtime: Runtime,
        attach: Callable[[Worker], None],
        detach: Callable[[Worker], None],
    ) -> None:
        self.rt = runtime
        self._attach = attach
        self._detach = detach
        self._rng = random.Random(runtime.settings.engine.seed)
        self.workers: dict[str, Worker] = {
            account.id: Worker(account, runtime, self.crashed)
            for account in runtime.settings.accounts
        }
        self._locks = {account_id: asyncio.Lock() for account_id in self.workers}
        self._supervisors: dict[str, asyncio.Task[None]] = {}  # by account, while restarting
        self._tasks = TaskSet("workers", logger=log)

    def get(self, account_id: str) -> Worker:
        worker = self.workers.get(account_id)
        if worker is None:
            raise WorkerNotFound(account_id)
        return worker

    def infos(self) -> list[WorkerInfo]:
        return [w.info for w in self.workers.values()]

    @property
    def running(self) -> int:
        return sum(1 for w in self.workers.values() if w.state is WorkerState.RUNNING)

    # --- commands --------------------------------------------------------------

    async def start(self, account_id: str, *, validate: bool = True) -> WorkerInfo:
        worker = self.get(account_id)
        async with self._locks[account_id]:
            self._cancel_supervisor(account_id)
            if worker.state in _ACTIVE:
                raise Conflict(f"Worker {account_id} is already {worker.state.value}.")
            if validate:
                report = self.validate(account_id)
                if not report.valid:
                    first = report.errors[0]
                    raise ValidationFailed(
                        f"Account {account_id} has {len(report.errors)} configuration error(s); "
                        f"first: {first.path}: {first.message}",
                        [issue.model_dump() for issue in report.issues],
                    )
            worker.crashes = 0
            await self._start(worker)
            self.rt.alerts.resolve_key(f"worker_error:{account_id}")
            return worker.info

    async def stop(self, account_id: str, timeout: float | None = None) -> WorkerInfo:
        worker = self.get(account_id)
        async with self._locks[account_id]:
            supervised = self._cancel_supervisor(account_id)
            if worker.state in (WorkerState.STOPPED, WorkerState.STOPPING):
                raise Conflict(f"Worker {account_id} is not running.")
            if worker.state is WorkerState.ERROR and not supervised:
                worker.set_state(WorkerState.STOPPED, stopped_at=self.rt.clock.now())
                return worker.info
            self._detach(worker)
            await worker.stop(timeout or self.rt.settings.engine.stop_timeout_seconds)
            return worker.info

    async def restart(self, account_id: str) -> WorkerInfo:
        worker = self.get(account_id)
        if worker.state in _ACTIVE:
            await self.stop(account_id)
        return await self.start(account_id)

    async def start_all(self, *, validate: bool = True) -> list[WorkerInfo]:
        """Start every enabled worker that is not running; failures are logged, not raised."""
        candidates = [
            w.account_id
            for w in self.workers.values()
            if w.account.enabled and w.state not in _ACTIVE
        ]
        started = await asyncio.gather(
            *(self.start(a, validate=validate) for a in candidates), return_exceptions=True
        )
        infos: list[WorkerInfo] = []
        for account_id, outcome in zip(candidates, started, strict=True):
            if isinstance(outcome, BaseException):
                self.rt.log(f"start failed: {outcome}", level="error", account_id=account_id)
            else:
                infos.append(outcome)
        return infos

    async def stop_all(self, timeout: float | None = None) -> int:
        candidates = [
            w.account_id
            for w in self.workers.values()
            if w.state not in (WorkerState.STOPPED, WorkerState.STOPPING)
        ]
        stopped = await asyncio.gather(
            *(self.stop(a, timeout) for a in candidates), return_exceptions=True
        )
        return sum(1 for outcome in stopped if not isinstance(outcome, BaseException))

    def validate(self, account_id: str) -> ValidationReport:
        self.get(account_id)
        return validate_account(self.rt.settings, account_id)

    def validate_all(self) -> dict[str, ValidationReport]:
        return {account_id: self.validate(account_id) for account_id in self.workers}

    async def shutdown(self, timeout: float) -> None:
        """Stop everything for an engine shutdown (desired state is left as it is)."""
        self._supervisors.clear()
        await self._tasks.stop(timeout)  # the restarts waiting or under way
        active = [w for w in self.workers.values() if w.state in _ACTIVE]
        for worker in active:
            self._detach(worker)
        await asyncio.gather(*(w.stop(timeout) for w in active), return_exceptions=True)

    # --- supervision -----------------------------------------------------------

    def crashed(self, worker: Worker, error: BaseException) -> None:
        """Called by a worker (or the quote dispatch) when it fails."""
        if worker.account_id in self._supervisors or worker.state is WorkerState.STOPPING:
            return
        self._detach(worker)
        started = worker.info.started_at
        stable = self.rt.settings.engine.restart_backoff_max
        if started is not None and (self.rt.clock.now() - started).total_seconds() > stable:
            worker.crashes = 0
        worker.crashes += 1
        self._supervisors[worker.account_id] = self._tasks.spawn(
            self._supervise(worker, error), f"{worker.account_id}:supervisor"
        )

    def backoff(self, attempt: int) -> float:
        """Seconds before restart number `attempt` (1-based): exponential, capped, jittered."""
        engine = self.rt.settings.engine
        return backoff(
            attempt, engine.restart_backoff_initial, engine.restart_backoff_max, 0.25, self._rng
        )

    async def _supervise(self, worker: Worker, error: BaseException) -> None:
        account_id = worker.account_id
        engine = self.rt.settings.engine
        reason = f"{type(error).__name__}: {error}"
        try:
            await worker.halt(engine.stop_timeout_seconds)
            if worker.crashes > engine.max_restarts:
                worker.set_state(
                    WorkerState.ERROR,
                    error=f"crashed {worker.crashes} times in a row; last: {reason}",
                    restarts=worker.crashes - 1,
                )
                self.rt.log(f"gave up restarting: {reason}", level="error", account_id=account_id)
                self.rt.alerts.raise_alert(
                    "worker_error",
                    Severity.CRITICAL,
                    f"Worker {account_id} crashed {worker.crashes} times in a row and was "
                    f"not restarted. Last error: {reason}",
                    account_id=account_id,
                    dedup_key=f"worker_error:{account_id}",
                )
                return
            delay = self.backoff(worker.crashes)
            worker.set_state(
                WorkerState.ERROR,
                error=f"crashed ({reason}); restarting in {delay:.1f}s",
                restarts=worker.crashes,
            )
            self.rt.log(
                f"crashed: {reason}; restart {worker.crashes} in {delay:.1f}s",
                level="error",
                account_id=account_id,
            )
            await self.rt.clock.sleep(delay)
            async with self._locks[account_id]:
                await self._start(worker)
        except Exception as exc:  # the restart itself failed: count it as another crash
            self._supervisors.pop(account_id, None)
            self.crashed(worker, exc)
        finally:
            if self._supervisors.get(account_id) is asyncio.current_task():
                del self._supervisors[account_id]

    def _cancel_supervisor(self, account_id: str) -> bool:
        task = self._supervisors.pop(account_id, None)
        if task is None:
            return False
        task.cancel()
        return True

    async def _start(self, worker: Worker) -> None:
        try:
            await worker.start()
        except BaseException as exc:
            await worker.halt(self.rt.settings.engine.stop_timeout_seconds)
            worker.set_state(WorkerState.STOPPED, error=str(exc), stopped_at=self.rt.clock.now())
            raise
        self._attach(worker)
