"""`reconcile_account`: compare what the broker holds (positions, open orders)
with what the store says, record the differences in the event log and alert
on them. Read-only, so running it twice is harmless."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from engine.jobs.context import JobContext, PermanentFailure
from engine.jobs.registry import Handler
from engine.models import JobPriority, Order, Position, Severity, WorkerState


class ReconcileArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account_id: str | None = None  # None: every running account


async def reconcile_account(ctx: JobContext, args: ReconcileArgs) -> dict[str, Any]:
    services = ctx.services
    workers = services.workers.workers
    if args.account_id is not None and args.account_id not in workers:
        raise PermanentFailure(f"No account named {args.account_id!r} is configured.")
    accounts = [args.account_id] if args.account_id else sorted(workers)
    results = {}
    for account_id in accounts:
        ctx.checkpoint()
        results[account_id] = await _reconcile(ctx, account_id)
    return {"accounts": results}


async def _reconcile(ctx: JobContext, account_id: str) -> dict[str, Any]:
    services = ctx.services
    worker = services.workers.workers[account_id]
    if worker.state is not WorkerState.RUNNING or worker.broker is None:
        return {"checked": False, "reason": "the worker is not running"}
    # A difference seen once may be a change the writer has not committed yet:
    # only one that is still there after the next commit is reported.
    differences = await _compare(ctx, account_id)
    if differences:
        differences = await _compare(ctx, account_id)
    key = f"reconcile:{account_id}"
    if differences:
        summary = "; ".join(differences[:5])
        services.log(
            f"reconciliation found {len(differences)} difference(s): {summary}",
            level="error",
            account_id=account_id,
        )
        services.alerts.raise_alert(
            "reconcile",
            Severity.HIGH,
            f"{account_id}: the broker and the store disagree ({len(differences)}): {summary}",
            account_id=account_id,
            dedup_key=key,
            data={"differences": differences},
        )
    else:
        services.alerts.resolve_key(key)
    return {"checked": True, "differences": differences}


async def _compare(ctx: JobContext, account_id: str) -> list[str]:
    services = ctx.services
    broker = services.workers.workers[account_id].broker
    positions = {p.ticket: p for p in broker.positions()}
    orders = {o.ticket: o for o in broker.open_orders()}
    await services.store.db.writer.flush()
    stored_positions = {p.ticket: p for p in await services.store.ledger.positions(account_id)}
    stored_orders = {
        o.ticket: o
        for o in await services.store.ledger.orders(account_id, open_only=True, limit=-1)
    }
    return [
        *_diff("position", positions, stored_positions, _position_key),
        *_diff("order", orders, stored_orders, _order_key),
    ]


def _diff(what: str, broker: dict[int, Any], store: dict[int, Any], key: Any) -> list[str]:
    found = []
    for ticket in sorted(broker.keys() - store.keys()):
        found.append(f"{what} #{ticket} at the broker is missing from the store")
    for ticket in sorted(store.keys() - broker.keys()):
        found.append(f"{what} #{ticket} in the store is not at the broker")
    for ticket in sorted(broker.keys() & store.keys()):
        if key(broker[ticket]) != key(store[ticket]):
            found.append(
                f"{what} #{ticket} differs: broker {key(broker[ticket])}, "
                f"store {key(store[ticket])}"
            )
    return found


def _position_key(p: Position) -> tuple[object, ...]:
    return (p.symbol, p.side.value, str(p.volume), str(p.open_price), str(p.sl), str(p.tp))


def _order_key(o: Order) -> tuple[object, ...]:
    return (o.symbol, o.side.value, o.type.value, str(o.volume), str(o.price), o.status.value)


HANDLER = Handler(
    name="reconcile_account",
    run=reconcile_account,
    args_model=ReconcileArgs,
    priority=JobPriority.HIGH,
    timeout_seconds=60,
    description=(
        "Compare the broker's positions and open orders with the store, for one account or "
        "every running one; log and alert on every difference. Read-only: safe to run again."
    ),
)
