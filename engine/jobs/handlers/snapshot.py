"""`equity_snapshot`: store every account's balance, equity and margin now.
One point per account and instant, so a second run at the same time
replaces the first."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from engine.jobs.context import JobContext
from engine.jobs.registry import Handler
from engine.models import EquityPoint


class SnapshotArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account_id: str | None = None


async def equity_snapshot(ctx: JobContext, args: SnapshotArgs) -> dict[str, Any]:
    services = ctx.services
    now = ctx.clock.now()
    accounts = [a for a in services.accounts() if args.account_id in (None, a.account_id)]
    if args.account_id is not None and not accounts:
        raise ValueError(f"No account named {args.account_id!r} is configured.")
    points = [
        EquityPoint(
            account_id=a.account_id, time=now, balance=a.balance, equity=a.equity, margin=a.margin
        )
        for a in accounts
    ]
    await services.store.equity.add(points)
    return {
        "time": now.isoformat(),
        "accounts": {p.account_id: str(p.equity) for p in points},
    }


HANDLER = Handler(
    name="equity_snapshot",
    run=equity_snapshot,
    args_model=SnapshotArgs,
    timeout_seconds=30,
    description=(
        "Store the balance, equity and margin of every account (or one) at this instant. "
        "Idempotent: one point per account and time."
    ),
)
