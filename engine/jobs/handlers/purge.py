"""`purge_history`: retention. Equity samples, signals and log lines older
than `days` are deleted; the ledger and the daily reports never are."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from engine.jobs.context import JobContext
from engine.jobs.registry import Handler
from engine.models import JobPriority


class PurgeArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    days: int = Field(default=90, ge=1, le=36500, description="keep this many days")


async def purge_history(ctx: JobContext, args: PurgeArgs) -> dict[str, Any]:
    cutoff = ctx.clock.now() - timedelta(days=args.days)
    deleted = await ctx.services.store.retention.purge(cutoff)
    return {"before": cutoff.isoformat(), "deleted": deleted}


HANDLER = Handler(
    name="purge_history",
    run=purge_history,
    args_model=PurgeArgs,
    priority=JobPriority.LOW,
    timeout_seconds=600,
    description=(
        "Delete equity samples, signals and event-log lines older than `days`. The ledger "
        "and daily reports are kept. Idempotent."
    ),
)
