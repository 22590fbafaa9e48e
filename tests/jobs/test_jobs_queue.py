"""The durable queue on a virtual clock: strict priorities with FIFO within
one, timeouts, retries with backoff, the dead-letter queue, dedup keys,
cancellation, progress, and recovery of a job whose runner died."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from engine.engine import Engine
from engine.errors import Conflict, InvalidRequest, ValidationFailed
from engine.jobs import Handler, JobContext, JobNotFound
from engine.models import Job, JobPriority, JobState
from tests.engine.helpers import eventually
from tests.jobs.conftest import JobsEngine


class Tag(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tag: str = ""


async def _settled(engine: Engine, job_id: int) -> Job:
    """The job as committed, once everything submitted is."""
    await engine.quiesce()
    return await engine.jobs.get(job_id)


async def _wait_state(engine: Engine, job_id: int, state: JobState) -> Job:
    async def reached() -> bool:
        return (await _settled(engine, job_id)).state is state

    async with asyncio.timeout(10):
        # Polling is the point: the state is committed by the writer task.
        while not await reached():  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    return await engine.jobs.get(job_id)


async def test_priorities_are_strict_and_fifo_within_one(jobs_engine: JobsEngine) -> None:
    gate = asyncio.Event()
    ran: list[str] = []

    async def blocker(ctx: JobContext, args: Tag) -> None:
        await gate.wait()

    async def record(ctx: JobContext, args: Tag) -> str:
        ran.append(args.tag)
        return args.tag

    engine = await jobs_engine(
        Handler("blocker", blocker, "holds the only runner", Tag),
        Handler("record", record, "notes its tag", Tag),
        runners=1,
    )
    first, _ = await engine.jobs.enqueue("blocker")
    await eventually(lambda: bool(engine.jobs.running()))
    order = [
        ("low-1", JobPriority.LOW),
        ("normal-1", JobPriority.NORMAL),
        ("critical-1", JobPriority.CRITICAL),
        ("low-2", JobPriority.LOW),
        ("high-1", JobPriority.HIGH),
        ("critical-2", JobPriority.CRITICAL),
        ("normal-2", JobPriority.NORMAL),
    ]
    for tag, priority in order:
        await engine.jobs.enqueue("record", {"tag": tag}, priority=priority)
    stats = await engine.jobs.stats()
    assert stats.queued == {
        JobPriority.CRITICAL: 2,
        JobPriority.HIGH: 1,
        JobPriority.NORMAL: 2,
        JobPriority.LOW: 2,
    }
    assert stats.running == 1
    gate.set()
    await eventually(lambda: len(ran) == len(order))
    assert ran == ["critical-1", "critical-2", "high-1", "normal-1", "normal-2", "low-1", "low-2"]
    assert (await _settled(engine, first.id)).state is JobState.COMPLETED


async def test_enqueue_is_committed_and_validated(jobs_engine: JobsEngine) -> None:
    async def echo(ctx: JobContext, args: Tag) -> dict[str, str]:
        return {"tag": args.tag}

    engine = await jobs_engine(Handler("echo", echo, "returns its tag", Tag))
    job, created = await engine.jobs.enqueue("echo", {"tag": "x"})
    assert created
    # Acknowledged means committed: the read connection sees it at once.
    stored = await engine.store.jobs.get(job.id)
    assert stored is not None and stored.args == {"tag": "x"}

    with pytest.raises(InvalidRequest, match="Unknown job handler 'nope'"):
        await engine.jobs.enqueue("nope")
    with pytest.raises(ValidationFailed, match="tag") as bad:
        await engine.jobs.enqueue("echo", {"tag": 5})
    assert bad.value.details["issues"][0]["path"] == "tag"
    with pytest.raises(ValidationFailed, match="colour: Extra inputs"):
        await engine.jobs.enqueue("echo", {"colour": "red"})
    _, total = await engine.jobs.list()
    assert total == 1  # nothing was stored for the refused ones

    done = await _wait_state(engine, job.id, JobState.COMPLETED)
    assert done.result == {"tag": "x"} and done.progress == 100 and done.attempts == 1


async def test_timeout_on_the_virtual_clock(jobs_engine: JobsEngine) -> None:
    async def slow(ctx: JobContext, args: Tag) -> None:
        await ctx.clock.sleep(3600)

    engine = await jobs_engine(Handler("slow", slow, "sleeps an hour", Tag))
    clock = engine.clock
    job, _ = await engine.jobs.enqueue("slow", timeout_seconds=5, max_retries=0)
    await eventually(lambda: bool(engine.jobs.running()))
    await clock.advance(4.9)
    assert (await _settled(engine, job.id)).state is JobState.RUNNING
    await clock.advance(0.2)
    dead = await _wait_state(engine, job.id, JobState.DEAD)
    assert dead.error == "timed out after 5 s"
    assert dead.traceback and "TimeoutError" in dead.traceback


async def test_retries_back_off_then_dead_letter_then_retry(jobs_engine: JobsEngine) -> None:
    attempts: list[float] = []
    succeed = False

    async def flaky(ctx: JobContext, args: Tag) -> str:
        attempts.append(ctx.clock.monotonic())
        if not succeed:
            raise RuntimeError(f"broker unreachable (attempt {ctx.job.attempts})")
        return "ok"

    engine = await jobs_engine(
        Handler("flaky", flaky, "fails until told", Tag),
        backoff_initial_seconds=10,
        backoff_jitter=0.25,
    )
    clock = engine.clock
    job, _ = await engine.jobs.enqueue("flaky", max_retries=2)
    await eventually(lambda: len(attempts) == 1)
    failed = await _wait_state(engine, job.id, JobState.FAILED)
    assert failed.error == "RuntimeError: broker unreachable (attempt 1)"
    assert timedelta(seconds=10) <= failed.run_at - clock.now() <= timedelta(seconds=12.5)

    await clock.advance(9.9)
    assert len(attempts) == 1  # not before the backoff
    await clock.advance(2.7)
    await eventually(lambda: len(attempts) == 2)
    assert 10 <= attempts[1] - attempts[0] <= 12.5
    await _wait_state(engine, job.id, JobState.FAILED)
    await clock.advance(attempts[1] + 19.9 - clock.monotonic())
    assert len(attempts) == 2  # the second backoff doubles
    await clock.advance(5.2)
    await eventually(lambda: len(attempts) == 3)
    assert 20 <= attempts[2] - attempts[1] <= 25

    dead = await _wait_state(engine, job.id, JobState.DEAD)
    assert dead.attempts == 3
    assert dead.error == "RuntimeError: broker unreachable (attempt 3)"
    assert dead.traceback and "flaky" in dead.traceback
    dlq, total = await engine.jobs.dead()
    assert total == 1 and dlq[0].id == job.id
    alert = next(a for a in engine.alerts.recent() if a.kind == "job_dead")
    assert alert.data["job_id"] == job.id and "dead-letter" in alert.message

    succeed = True
    retried = await engine.jobs.retry(job.id)
    assert retried.state is JobState.PENDING and retried.attempts == 0 and retried.error is None
    done = await _wait_state(engine, job.id, JobState.COMPLETED)
    assert done.result == "ok" and done.attempts == 1
    with pytest.raises(Conflict, match="only dead jobs"):
        await engine.jobs.retry(job.id)
    with pytest.raises(JobNotFound):
        await engine.jobs.retry(10_000)


async def test_clearing_the_dead_letter_queue(jobs_engine: JobsEngine) -> None:
    async def broken(ctx: JobContext, args: Tag) -> None:
        raise ValueError("bad data")

    engine = await jobs_engine(Handler("broken", broken, "always fails", Tag))
    jobs = [(await engine.jobs.enqueue("broken", max_retries=0))[0] for _ in range(3)]
    for job in jobs:
        await _wait_state(engine, job.id, JobState.DEAD)
    assert await engine.jobs.clear_dead() == 3
    assert (await engine.jobs.dead())[1] == 0
    assert (await engine.jobs.stats()).dead == 0


async def test_dedup_key_keeps_one_active_job(jobs_engine: JobsEngine) -> None:
    gate = asyncio.Event()
    runs: list[int] = []

    async def once(ctx: JobContext, args: Tag) -> None:
        runs.append(ctx.job.id)
        await gate.wait()

    engine = await jobs_engine(Handler("once", once, "waits for the gate", Tag))
    first, created = await engine.jobs.enqueue("once", dedup_key="eod:account-001")
    again, created_again = await engine.jobs.enqueue("once", dedup_key="eod:account-001")
    assert created and not created_again and again.id == first.id
    await eventually(lambda: runs == [first.id])
    # Still active while it runs.
    _, created_running = await engine.jobs.enqueue("once", dedup_key="eod:account-001")
    assert not created_running
    gate.set()
    await _wait_state(engine, first.id, JobState.COMPLETED)
    later, created_later = await engine.jobs.enqueue("once", dedup_key="eod:account-001")
    assert created_later and later.id != first.id


async def test_cancel_pending_and_running(jobs_engine: JobsEngine) -> None:
    steps: list[int] = []

    async def long(ctx: JobContext, args: Tag) -> str:
        for step in range(100):
            await ctx.progress(step, f"step {step}")
            steps.append(step)
            await ctx.clock.sleep(1)
        return "finished"

    engine = await jobs_engine(Handler("long", long, "a hundred steps", Tag), runners=1)
    running, _ = await engine.jobs.enqueue("long")
    waiting, _ = await engine.jobs.enqueue("long")
    await eventually(lambda: steps == [0])

    cancelled = await engine.jobs.cancel(waiting.id)
    assert cancelled.state is JobState.CANCELLED

    await engine.clock.advance(3)
    await eventually(lambda: len(steps) == 4)
    live = engine.jobs.running()
    assert [j.id for j in live] == [running.id]
    assert live[0].progress == 3 and live[0].message == "step 3"

    asked = await engine.jobs.cancel(running.id)
    assert asked.state is JobState.RUNNING and asked.cancel_requested
    await engine.clock.advance(1)
    stopped = await _wait_state(engine, running.id, JobState.CANCELLED)
    assert stopped.result is None and len(steps) == 4
    with pytest.raises(Conflict, match="cancelled"):
        await engine.jobs.cancel(running.id)
    # The cancelled waiting job never ran.
    assert (await _settled(engine, waiting.id)).attempts == 0


async def test_delayed_job_waits_for_its_time(jobs_engine: JobsEngine) -> None:
    ran: list[Any] = []

    async def note(ctx: JobContext, args: Tag) -> None:
        ran.append(ctx.clock.now())

    engine = await jobs_engine(Handler("note", note, "notes the time", Tag))
    at = engine.clock.now() + timedelta(minutes=5)
    job, _ = await engine.jobs.enqueue("note", run_at=at)
    assert job.state is JobState.SCHEDULED
    await engine.clock.advance(299)
    assert ran == []
    await engine.clock.advance(1)
    await eventually(lambda: ran == [at])


async def test_job_of_a_dead_runner_runs_again_after_restart(
    jobs_engine: JobsEngine, tmp_path: Any
) -> None:
    """A row left `running` (the process died) runs again once its lease has
    lapsed, the lost attempt counted; with no retries left it is dead."""
    ran: list[int] = []

    async def work(ctx: JobContext, args: Tag) -> str:
        ran.append(ctx.job.id)
        return "done"

    db = tmp_path / "restart.db"
    engine = await jobs_engine(Handler("work", work, "works", Tag), db_path=db, lease_seconds=30)
    now = engine.clock.now()
    orphans = [
        Job(
            id=100 + n,
            handler="work",
            state=JobState.RUNNING,
            attempts=1,
            max_retries=retries,
            runner="runner-1",
            created_at=now,
            run_at=now,
            started_at=now,
            lease_until=now + timedelta(seconds=20),
        )
        for n, retries in enumerate((3, 0))
    ]
    await engine.jobs.stop()
    await engine.store.jobs.save(orphans)

    clock = engine.clock
    await engine.close()
    restarted = await jobs_engine(Handler("work", work, "works", Tag), db_path=db, lease_seconds=30)
    # The engine factory gives each engine its own clock; move this one to the lease's end.
    recovered = await _settled(restarted, 100)
    assert recovered.state is JobState.FAILED and "interrupted" in (recovered.error or "")
    dead = await _settled(restarted, 101)
    assert dead.state is JobState.DEAD
    assert ran == []
    await restarted.clock.advance_to(orphans[0].lease_until)  # type: ignore[attr-defined, arg-type]
    done = await _wait_state(restarted, 100, JobState.COMPLETED)
    assert ran == [100] and done.attempts == 2
    assert clock is not restarted.clock
