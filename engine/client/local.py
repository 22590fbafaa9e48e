"""`LocalEngineClient`: the panel on the engine in the same process."""

from __future__ import annotations

from datetime import datetime

from config.issues import ValidationReport
from engine import portfolio
from engine.brokers.base import TradeResult
from engine.client.base import (
    ACTIONS,
    EQUITY_POINTS,
    JOBS_PAGE,
    LOCAL_USER,
    RECENT_JOBS,
    EventStream,
)
from engine.domain import SystemMode
from engine.engine import Engine
from engine.errors import OrderRejected
from engine.models import (
    RESOLUTIONS,
    Alert,
    EquityPoint,
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


class LocalEngineClient:
    """The panel's view of an engine in the same process: direct calls, and the
    bus for events. The local panel is the owner at the terminal: every action
    is permitted."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @property
    def description(self) -> str:
        return "local"

    @property
    def permissions(self) -> frozenset[str]:
        return ACTIONS

    @property
    def connected(self) -> bool:
        return True

    async def snapshot(self) -> Snapshot:
        return self._engine.snapshot()

    def subscribe(self) -> EventStream:
        return self._engine.subscribe()

    async def start_worker(self, account_id: str) -> WorkerInfo:
        return await self._engine.start_worker(account_id)

    async def stop_worker(self, account_id: str, timeout: float | None = None) -> WorkerInfo:
        return await self._engine.stop_worker(account_id, timeout)

    async def restart_worker(self, account_id: str) -> WorkerInfo:
        return await self._engine.restart_worker(account_id)

    async def start_all(self) -> list[WorkerInfo]:
        return await self._engine.start_all()

    async def stop_all(self) -> int:
        return await self._engine.stop_all()

    async def validate_worker(self, account_id: str) -> ValidationReport:
        return self._engine.validate_worker(account_id)

    async def worker_detail(self, account_id: str) -> WorkerDetail:
        return await self._engine.worker_detail(account_id)

    async def acknowledge_alert(self, alert_id: int) -> Alert:
        return await self._engine.acknowledge_alert(alert_id)

    async def close(self) -> None:
        """The engine's owner (the CLI) closes the engine; the client holds nothing."""

    # --- trading: orders, positions, strategies, risk and the kill switch --------

    async def check_order(self, request: OrderRequest) -> OrderCheck:
        return self._engine.check_order(request)

    async def place_order(self, request: OrderRequest) -> Order:
        return _order(await self._engine.orders.place(request))

    async def cancel_order(self, account_id: str, ticket: int) -> Order:
        return _succeeded(await self._engine.orders.cancel(account_id, ticket))

    async def close_position(self, account_id: str, ticket: int) -> Order:
        return _succeeded(await self._engine.orders.close_position(account_id, ticket))

    async def flatten(self, account_id: str) -> list[Order]:
        results = await self._engine.orders.flatten(account_id, reason=f"flatten by {LOCAL_USER}")
        return [_order(result) for result in results]

    async def equity_history(
        self,
        account_id: str,
        since: datetime | None,
        resolution: Resolution | None = None,
    ) -> list[EquityPoint]:
        self._engine.worker(account_id)  # an unknown account is NotFound, as remotely
        return await portfolio.equity_history(
            self._engine.portfolio_sources,
            [account_id],
            since=since,
            resolution=None if resolution is None else RESOLUTIONS[resolution],
            limit=EQUITY_POINTS,
        )

    async def performance(
        self, account_id: str, since: datetime | None, resolution: Resolution
    ) -> PerformanceMetrics:
        self._engine.worker(account_id)  # an unknown account is NotFound, as remotely
        return await portfolio.performance(
            self._engine.portfolio_sources,
            accounts=[account_id],
            since=since,
            resolution=RESOLUTIONS[resolution],
        )

    async def pause_strategy(self, strategy_id: str) -> StrategyInfo:
        return await self._engine.pause_strategy(strategy_id)

    async def resume_strategy(self, strategy_id: str) -> StrategyInfo:
        return await self._engine.resume_strategy(strategy_id)

    async def risk_evaluation(self) -> RiskEvaluation:
        return self._engine.risk.evaluate()

    async def engage_kill_switch(self, *, flatten: bool, reason: str = "") -> KillSwitchState:
        return await self._engine.kill_switch.engage(flatten=flatten, by=LOCAL_USER, reason=reason)

    async def clear_kill_switch(self) -> KillSwitchState:
        return await self._engine.kill_switch.clear(by=LOCAL_USER)

    async def set_mode(self, mode: SystemMode) -> SystemStatus:
        return self._engine.set_mode(mode)

    # --- jobs: the queue, its dead letters, schedules and models -------------------

    async def jobs_overview(self) -> JobsOverview:
        jobs = self._engine.jobs
        return JobsOverview(
            stats=await jobs.stats(), running=jobs.running(), recent=await jobs.recent(RECENT_JOBS)
        )

    async def jobs(self, states: list[JobState]) -> list[Job]:
        found, _ = await self._engine.jobs.list(states=states, limit=JOBS_PAGE)
        return found

    async def job(self, job_id: int) -> Job:
        return await self._engine.jobs.get(job_id)

    async def retry_job(self, job_id: int) -> Job:
        return await self._engine.jobs.retry(job_id)

    async def cancel_job(self, job_id: int) -> Job:
        return await self._engine.jobs.cancel(job_id)

    async def schedules(self) -> list[Schedule]:
        return self._engine.jobs.schedules.list()

    async def run_schedule(self, name: str) -> Job:
        job, _ = await self._engine.jobs.schedules.run_now(name)
        return job

    async def enable_schedule(self, name: str) -> Schedule:
        return await self._engine.jobs.schedules.enable(name)

    async def disable_schedule(self, name: str) -> Schedule:
        return await self._engine.jobs.schedules.disable(name)

    async def models(self, job_id: int) -> list[ParamSet]:
        found, _ = await self._engine.store.param_sets.query(
            job_id=job_id, sort="rank", descending=False, limit=JOBS_PAGE
        )
        return found

    async def deploy_model(self, model_id: int, strategy_id: str | None = None) -> StrategyInfo:
        return await self._engine.jobs.deploy(model_id, strategy_id)


def _order(result: TradeResult) -> Order:
    """The order a trade request made (a rejected one carries its reason)."""
    if result.order is None:
        raise OrderRejected(result.retcode, result.message)
    return result.order


def _succeeded(result: TradeResult) -> Order:
    """The order of a request that must succeed (a cancel, a close), else why not."""
    if not result.ok:
        raise OrderRejected(result.retcode, result.message)
    return _order(result)
