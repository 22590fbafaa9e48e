"""The jobs table round-trips every field of a job (the row is spelled out by
hand for speed, so a field added to `Job` without it fails here)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from engine.models import Job, JobPriority, JobState
from storage.store import Store


async def test_a_job_with_every_field_set_round_trips(tmp_path: Path) -> None:
    at = datetime(2026, 1, 5, 9, 0, 0, 123456, tzinfo=UTC)
    job = Job(
        id=7,
        handler="reconcile_account",
        args={"account_id": "account-001", "nested": [1, 2.5, None]},
        account_id="account-001",
        priority=JobPriority.HIGH,
        state=JobState.RUNNING,
        attempts=2,
        max_retries=5,
        timeout_seconds=12.5,
        dedup_key="reconcile:account-001",
        schedule="reconcile-30m",
        progress=42.5,
        message="half way",
        result={"differences": ["a"]},
        error="RuntimeError: x",
        traceback="Traceback ...",
        cancel_requested=True,
        runner="runner-3",
        created_at=at,
        run_at=at + timedelta(seconds=1),
        started_at=at + timedelta(seconds=2),
        finished_at=at + timedelta(seconds=3),
        lease_until=at + timedelta(seconds=4),
    )
    assert all(getattr(job, f) is not None for f in Job.model_fields)
    store = await Store.open(tmp_path / "jobs.db")
    try:
        await store.jobs.save([job])
        assert await store.jobs.get(7) == job
        finished = job.model_copy(update={"state": JobState.COMPLETED, "result": None})
        await store.jobs.save([finished])
        assert await store.jobs.get(7) == finished
        assert await store.jobs.active() == []
    finally:
        await store.close()
