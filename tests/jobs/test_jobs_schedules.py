"""Schedules on the virtual clock: interval and cron rules fire on time,
disabled ones do not, run-now does, a run later than its grace is skipped,
and definitions (with their enabled state) survive a restart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from config.models import ScheduleConfig
from engine.clock import VirtualClock
from engine.engine import Engine
from engine.errors import Conflict, InvalidRequest, ValidationFailed
from engine.jobs import Handler, JobContext, NoArgs, ScheduleNotFound
from engine.models import JobState, ScheduleKind
from tests.engine.helpers import eventually
from tests.jobs.conftest import JobsEngine


class Runs:
    """A handler that notes the engine time of every run."""

    def __init__(self) -> None:
        self.times: list[datetime] = []
        self.handler = Handler("tick", self.run, "notes the time", NoArgs)

    async def run(self, ctx: JobContext, args: NoArgs) -> None:
        self.times.append(ctx.clock.now())


async def _advance(engine: Engine, seconds: float) -> None:
    """Move virtual time in small steps, letting each firing's enqueue commit."""
    clock = engine.clock
    target = clock.monotonic() + seconds  # type: ignore[attr-defined]
    while clock.monotonic() < target:  # type: ignore[attr-defined]
        await clock.advance(min(10.0, target - clock.monotonic()))  # type: ignore[attr-defined]
        await engine.quiesce()


async def test_interval_fires_on_time_and_shows_next_run(jobs_engine: JobsEngine) -> None:
    runs = Runs()
    engine = await jobs_engine(runs.handler)
    start = engine.clock.now()
    schedule, created = await engine.jobs.schedules.put("tick-1m", "tick", every_seconds=60)
    assert created and schedule.kind is ScheduleKind.INTERVAL
    assert schedule.next_run_at == start + timedelta(seconds=60)

    await _advance(engine, 59)
    assert runs.times == []
    await _advance(engine, 1)
    await eventually(lambda: len(runs.times) == 1)
    await _advance(engine, 120)
    await eventually(lambda: len(runs.times) == 3)
    assert runs.times == [start + timedelta(seconds=60 * n) for n in (1, 2, 3)]
    listed = engine.jobs.schedules.get("tick-1m")
    assert listed.next_run_at == start + timedelta(seconds=240)
    assert listed.last_run_at == start + timedelta(seconds=180)
    jobs, total = await engine.jobs.list(schedule="tick-1m")
    assert total == 3 and all(j.state is JobState.COMPLETED for j in jobs)


async def test_cron_fires_at_its_minute(jobs_engine: JobsEngine) -> None:
    runs = Runs()
    engine = await jobs_engine(runs.handler)  # the clock starts at 09:00 UTC
    schedule, _ = await engine.jobs.schedules.put("at-0915", "tick", cron="15 9 * * *")
    assert schedule.next_run_at == datetime(2026, 1, 5, 9, 15, tzinfo=UTC)
    await _advance(engine, 14 * 60 + 50)
    assert runs.times == []
    await _advance(engine, 20)
    await eventually(lambda: runs.times == [datetime(2026, 1, 5, 9, 15, tzinfo=UTC)])
    assert engine.jobs.schedules.get("at-0915").next_run_at == datetime(
        2026, 1, 6, 9, 15, tzinfo=UTC
    )


async def test_disabled_does_not_fire_and_run_now_does(jobs_engine: JobsEngine) -> None:
    runs = Runs()
    engine = await jobs_engine(runs.handler)
    schedules = engine.jobs.schedules
    await schedules.put("tick-30s", "tick", every_seconds=30)
    disabled = await schedules.disable("tick-30s")
    assert not disabled.enabled and disabled.next_run_at is None
    with pytest.raises(Conflict, match="already disabled"):
        await schedules.disable("tick-30s")
    await _advance(engine, 120)
    assert runs.times == []

    job, created = await schedules.run_now("tick-30s")
    assert created and job.schedule == "tick-30s"
    await eventually(lambda: len(runs.times) == 1)

    enabled = await schedules.enable("tick-30s")
    assert enabled.next_run_at is not None and enabled.next_run_at > engine.clock.now()
    await _advance(engine, 30)
    await eventually(lambda: len(runs.times) == 2)

    await schedules.delete("tick-30s")
    with pytest.raises(ScheduleNotFound):
        schedules.get("tick-30s")
    await _advance(engine, 90)
    assert len(runs.times) == 2


async def test_bad_definitions_are_refused(jobs_engine: JobsEngine) -> None:
    engine = await jobs_engine(Runs().handler)
    schedules = engine.jobs.schedules
    with pytest.raises(InvalidRequest, match="exactly one rule"):
        await schedules.put("none", "tick")
    with pytest.raises(InvalidRequest, match="exactly one rule"):
        await schedules.put("both", "tick", every_seconds=5, cron="* * * * *")
    with pytest.raises(InvalidRequest, match="Invalid cron rule"):
        await schedules.put("bad-cron", "tick", cron="61 * * * *")
    with pytest.raises(InvalidRequest, match="Unknown job handler"):
        await schedules.put("ghost", "ghost", every_seconds=5)
    with pytest.raises(ValidationFailed, match="days"):
        await schedules.put("purge", "purge_history", {"days": 0}, every_seconds=5)
    assert schedules.list() == []


async def test_a_run_later_than_its_grace_is_skipped(
    jobs_engine: JobsEngine, tmp_path: Path
) -> None:
    """A daily run missed while the engine was down is not made hours late."""
    runs = Runs()
    db = tmp_path / "grace.db"
    engine = await jobs_engine(runs.handler, db_path=db)
    await engine.jobs.schedules.put("daily", "tick", cron="5 9 * * *", misfire_grace_seconds=600)
    await engine.close()
    # Back 30 minutes after 09:05, beyond the 10-minute grace: skipped.
    late = await _restart(jobs_engine, runs, db, minutes=35)
    await _advance(late, 5)
    assert runs.times == []
    assert late.jobs.schedules.get("daily").next_run_at == datetime(2026, 1, 6, 9, 5, tzinfo=UTC)


async def test_definitions_survive_a_restart_and_resume(
    jobs_engine: JobsEngine, tmp_path: Path
) -> None:
    runs = Runs()
    db = tmp_path / "schedules.db"
    engine = await jobs_engine(runs.handler, db_path=db)
    await engine.jobs.schedules.put("every-5m", "tick", every_seconds=300)
    await engine.jobs.schedules.put("off", "tick", every_seconds=60, enabled=False)
    await engine.close()

    # Down for 12 minutes: two runs were missed; coalesced, one runs at once.
    again = await _restart(jobs_engine, runs, db, minutes=12)
    names = {s.name: s for s in again.jobs.schedules.list()}
    assert set(names) == {"every-5m", "off"}
    assert not names["off"].enabled and names["off"].next_run_at is None
    await _advance(again, 1)
    await eventually(lambda: len(runs.times) == 1)
    start = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    # Then on its original phase: 09:15, 09:20, ...
    assert again.jobs.schedules.get("every-5m").next_run_at == start + timedelta(minutes=15)


async def test_default_schedules_are_written_once(
    jobs_engine: JobsEngine, demo_settings: Any, tmp_path: Path
) -> None:
    db = tmp_path / "defaults.db"
    settings = demo_settings.model_copy(deep=True)
    defaults = [ScheduleConfig(name="snap", handler="equity_snapshot", every_seconds=900)]
    settings.jobs.schedules = defaults
    engine = await jobs_engine(settings=settings, db_path=db, keep_schedules=True)
    assert [s.name for s in engine.jobs.schedules.list()] == ["snap"]
    await engine.jobs.schedules.delete("snap")
    await engine.close()
    again = await jobs_engine(settings=settings, db_path=db, keep_schedules=True)
    assert again.jobs.schedules.list() == []  # a deleted default stays deleted


async def _restart(jobs_engine: JobsEngine, runs: Runs, db: Path, *, minutes: int) -> Engine:
    clock = VirtualClock(datetime(2026, 1, 5, 9, 0, tzinfo=UTC) + timedelta(minutes=minutes))
    return await jobs_engine(runs.handler, db_path=db, clock=clock)
