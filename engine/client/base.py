"""The one interface the panel talks to.

`EngineClient` has two implementations: `LocalEngineClient` calls an
in-process engine (`engine.client.local`); the remote one (`engine.client.remote`)
speaks REST + WebSocket. Every
screen works with both, so nothing here may assume the engine is local.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Protocol

from config.issues import ValidationReport
from engine.domain import SystemMode
from engine.models import (
    Alert,
    EquityPoint,
    Event,
    Job,
    JobsOverview,
    JobState,
    KillSwitchState,
    Order,
    OrderCheck,
    OrderRequest,
    ParamSet,
    PerformanceMetrics,
    Resolution,
    RiskEvaluation,
    Schedule,
    Snapshot,
    StrategyInfo,
    SystemStatus,
    WorkerDetail,
    WorkerInfo,
)

# Actions a client may be allowed to take, each with the least API role that
# may take it; the remote client narrows them to what its token's role
# permits, and the panel disables the keys for the rest, naming the role.
ACTION_ROLES: dict[str, str] = {
    "workers.start": "trader",
    "workers.stop": "trader",
    "workers.restart": "trader",
    "workers.start_all": "trader",
    "workers.stop_all": "trader",
    "alerts.acknowledge": "trader",
    # --- trading: orders, positions, strategies and the kill switch ---
    "orders.place": "trader",
    "orders.cancel": "trader",
    "positions.close": "trader",
    "orders.flatten": "trader",
    "strategies.pause": "trader",
    "strategies.resume": "trader",
    "kill_switch.engage": "trader",
    "kill_switch.clear": "admin",
    "system.mode": "admin",
    # --- jobs: the queue, its dead letters, schedules and models ---
    "jobs.retry": "trader",
    "jobs.cancel": "trader",
    "schedules.run": "trader",
    "schedules.enable": "admin",
    "schedules.disable": "admin",
    "models.deploy": "trader",
}
# Actions on the whole system, which a key limited to some accounts may not take.
SYSTEM_ACTIONS = frozenset(
    {"kill_switch.engage", "kill_switch.clear", "system.mode"}
    # Schedules and models are system-wide too (the API asks for an unscoped key).
    | {"schedules.run", "schedules.enable", "schedules.disable", "models.deploy"}
)
ACTIONS = frozenset(ACTION_ROLES)


# Equity samples a chart asks for at most (the API's largest page).
EQUITY_POINTS = 500

# Finished jobs the jobs pane lists, latest first.
RECENT_JOBS = 20
# Jobs one tab of the jobs screen lists at most, and the parameter sets of one search.
JOBS_PAGE = 200

# Who acts, in the engine's records, when the local panel acts: the owner at the terminal.
LOCAL_USER = "local panel"


class EventStream(Protocol):
    def __aiter__(self) -> AsyncIterator[Event]: ...

    async def close(self) -> None: ...


class EngineClient(Protocol):
    @property
    def description(self) -> str:
        """Where the engine is, for the header: 'local' or a URL."""
        ...

    @property
    def permissions(self) -> frozenset[str]:
        """The subset of `ACTIONS` this client may perform."""
        ...

    @property
    def connected(self) -> bool:
        """Whether events are flowing; False while a remote link reconnects."""
        ...

    async def snapshot(self) -> Snapshot: ...

    def subscribe(self) -> EventStream:
        """A stream of every event from now on; a `ResyncEvent` in it means
        events were lost and the caller should take a new snapshot."""
        ...

    async def start_worker(self, account_id: str) -> WorkerInfo: ...

    async def stop_worker(self, account_id: str, timeout: float | None = None) -> WorkerInfo: ...

    async def restart_worker(self, account_id: str) -> WorkerInfo: ...

    async def start_all(self) -> list[WorkerInfo]: ...

    async def stop_all(self) -> int: ...

    async def validate_worker(self, account_id: str) -> ValidationReport: ...

    async def worker_detail(self, account_id: str) -> WorkerDetail: ...

    async def acknowledge_alert(self, alert_id: int) -> Alert: ...

    async def close(self) -> None: ...

    # --- trading: orders, positions, strategies, risk and the kill switch --------

    async def check_order(self, request: OrderRequest) -> OrderCheck:
        """The order's dry run: margin required and the pre-trade verdict, sending nothing."""
        ...

    async def place_order(self, request: OrderRequest) -> Order:
        """Send an order; a refused one comes back `rejected` with its reason."""
        ...

    async def cancel_order(self, account_id: str, ticket: int) -> Order:
        """Cancel a pending order; raises `OrderRejected` saying why when it cannot."""
        ...

    async def close_position(self, account_id: str, ticket: int) -> Order:
        """Close a position at market; raises `OrderRejected` saying why when it cannot."""
        ...

    async def flatten(self, account_id: str) -> list[Order]:
        """Close every open position of an account at market: the closing orders."""
        ...

    async def equity_history(
        self,
        account_id: str,
        since: datetime | None,
        resolution: Resolution | None = None,
    ) -> list[EquityPoint]:
        """The newest `EQUITY_POINTS` equity samples since `since` (all when None),
        oldest first; with a `resolution`, the first sample and each period's close."""
        ...

    async def performance(
        self, account_id: str, since: datetime | None, resolution: Resolution
    ) -> PerformanceMetrics:
        """An account's performance since `since` (all when None), from the
        returns between its equity closes `resolution` apart."""
        ...

    async def pause_strategy(self, strategy_id: str) -> StrategyInfo: ...

    async def resume_strategy(self, strategy_id: str) -> StrategyInfo: ...

    async def risk_evaluation(self) -> RiskEvaluation:
        """Every enabled limit's metric now, the violations, and the kill switch."""
        ...

    async def engage_kill_switch(self, *, flatten: bool, reason: str = "") -> KillSwitchState: ...

    async def clear_kill_switch(self) -> KillSwitchState: ...

    async def set_mode(self, mode: SystemMode) -> SystemStatus:
        """Paper or live (MT5 accounts trade only in live)."""
        ...

    # --- jobs: the queue, its dead letters, schedules and models -------------------

    async def jobs_overview(self) -> JobsOverview:
        """Queued counts by priority, the running jobs, the `RECENT_JOBS` latest finished."""
        ...

    async def jobs(self, states: list[JobState]) -> list[Job]:
        """The newest `JOBS_PAGE` jobs in any of `states`, newest first."""
        ...

    async def job(self, job_id: int) -> Job:
        """One job with its arguments, attempts, error, traceback and result."""
        ...

    async def retry_job(self, job_id: int) -> Job:
        """Run a dead job again (out of the dead-letter queue)."""
        ...

    async def cancel_job(self, job_id: int) -> Job:
        """Cancel a job still to run; ask a running one to stop."""
        ...

    async def schedules(self) -> list[Schedule]: ...

    async def run_schedule(self, name: str) -> Job:
        """Enqueue the schedule's job now (or return its job still active)."""
        ...

    async def enable_schedule(self, name: str) -> Schedule: ...

    async def disable_schedule(self, name: str) -> Schedule: ...

    async def models(self, job_id: int) -> list[ParamSet]:
        """The parameter sets an optimisation job tried, best rank first."""
        ...

    async def deploy_model(self, model_id: int, strategy_id: str | None = None) -> StrategyInfo:
        """Apply a parameter set to a running strategy (default: the one it was tuned for)."""
        ...
