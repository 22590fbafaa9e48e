"""`RemoteEngineClient`: the panel's `EngineClient` for an engine on another
machine, over the REST + WebSocket API.

Commands and snapshots are REST calls (httpx); events come over one WebSocket.
When the stream drops, the client reconnects with exponential backoff and
hands the panel a `ResyncEvent`, so it repaints from a fresh snapshot. The
token's role decides `permissions`, and the panel disables the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx
import websockets
from pydantic import TypeAdapter, ValidationError

from config.issues import ValidationReport
from engine.client.base import ACTION_ROLES, EQUITY_POINTS, JOBS_PAGE, RECENT_JOBS, SYSTEM_ACTIONS
from engine.domain import SystemMode
from engine.errors import (
    Conflict,
    EngineError,
    InvalidRequest,
    NotFound,
    OrderRejected,
    Unavailable,
)
from engine.models import (
    Alert,
    EquityPoint,
    Event,
    Job,
    JobsOverview,
    JobState,
    JobStats,
    KillSwitchState,
    Order,
    OrderCheck,
    OrderRequest,
    ParamSet,
    PerformanceMetrics,
    Resolution,
    ResyncEvent,
    RiskEvaluation,
    Schedule,
    Snapshot,
    StrategyInfo,
    SystemStatus,
    WorkerDetail,
    WorkerInfo,
)
from engine.security.principal import Role

log = logging.getLogger("tradedeck.remote")

# The stream channels whose events the panel folds into its state (`ticker`
# for the order ticket's live bid and ask; the server conflates it per symbol).
CHANNELS = (
    "system",
    "workers",
    "orders",
    "fills",
    "positions",
    "portfolio",
    "alerts",
    "logs",
    "ticker",
    "jobs",
)
# The server closes with this when it refuses the token or an administrator
# disconnects the client: reconnecting would not help, so the stream ends.
_CLOSE_POLICY = 1008
_EVENT = TypeAdapter(Event)
_ERRORS: dict[str, type[EngineError]] = {
    "NOT_FOUND": NotFound,
    "CONFLICT": Conflict,
    "INVALID_REQUEST": InvalidRequest,
    "SERVICE_UNAVAILABLE": Unavailable,
}


class RemoteError(EngineError):
    """An error the server reported (refused token, forbidden, rate limited),
    with its code and the server's own sentence as `message`."""

    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(message, status=status)
        self.code = code
        self.status = status


class RemoteEngineClient:
    """An `EngineClient` over the API at `url` with an API key or access token.

    Call `connect()` first: it checks the token and learns its role."""

    def __init__(
        self,
        url: str,
        token: str,
        *,
        timeout: float = 10.0,
        reconnect_initial: float = 0.5,
        reconnect_max: float = 10.0,
    ) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.role: Role | None = None
        # The only accounts the token sees; None for all of them.
        self.accounts: frozenset[str] | None = None
        self._token = token
        self._http = httpx.AsyncClient(
            base_url=f"{self.url}/api/v1",
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
        )
        self._reconnect = (reconnect_initial, reconnect_max)
        self._reachable = False
        self._streams: set[_Stream] = set()

    @property
    def description(self) -> str:
        return self.url

    @property
    def permissions(self) -> frozenset[str]:
        role = self.role
        if role is None:
            return frozenset()
        allowed = frozenset(a for a, needed in ACTION_ROLES.items() if role.allows(Role(needed)))
        # The server refuses system-wide actions to a key limited to some accounts.
        return allowed - SYSTEM_ACTIONS if self.accounts is not None else allowed

    @property
    def connected(self) -> bool:
        """With a stream open: whether it is live. Without: whether the last
        request reached the server."""
        if self._streams:
            return any(stream.live.is_set() for stream in self._streams)
        return self._reachable

    async def connect(self) -> None:
        """Check the token and learn its role; raises `RemoteError` when refused
        and `Unavailable` when the server cannot be reached."""
        me = await self._call("GET", "/auth/me")
        self.role = Role(me["role"])
        accounts = me.get("accounts")
        self.accounts = None if accounts is None else frozenset(accounts)

    async def snapshot(self) -> Snapshot:
        # A snapshot taken before a new stream is live could miss the events in
        # between; wait for it (briefly), and if it is still not live, let it
        # announce a resync once it is.
        pending = [s.live.wait() for s in self._streams if not s.live.is_set()]
        if pending:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.timeout):
                    await asyncio.gather(*pending)
        for stream in self._streams:
            if not stream.live.is_set():
                stream.missed = True
        return Snapshot.model_validate(await self._call("GET", "/snapshot"))

    def subscribe(self) -> _Stream:
        stream = _Stream(self)
        self._streams.add(stream)
        return stream

    async def start_worker(self, account_id: str) -> WorkerInfo:
        return WorkerInfo.model_validate(await self._call("POST", f"/workers/{account_id}/start"))

    async def stop_worker(self, account_id: str, timeout: float | None = None) -> WorkerInfo:
        body = {"timeout": timeout} if timeout is not None else None
        data = await self._call("POST", f"/workers/{account_id}/stop", json=body)
        return WorkerInfo.model_validate(data)

    async def restart_worker(self, account_id: str) -> WorkerInfo:
        return WorkerInfo.model_validate(await self._call("POST", f"/workers/{account_id}/restart"))

    async def start_all(self) -> list[WorkerInfo]:
        data = await self._call("POST", "/workers/start-all")
        return [WorkerInfo.model_validate(w) for w in data["started_workers"].values()]

    async def stop_all(self) -> int:
        return int((await self._call("POST", "/workers/stop-all"))["stopped_count"])

    async def validate_worker(self, account_id: str) -> ValidationReport:
        detail = await self.worker_detail(account_id)
        return detail.validation

    async def worker_detail(self, account_id: str) -> WorkerDetail:
        return WorkerDetail.model_validate(await self._call("GET", f"/workers/{account_id}/detail"))

    async def acknowledge_alert(self, alert_id: int) -> Alert:
        return Alert.model_validate(
            await self._call("POST", f"/risk/alerts/{alert_id}/acknowledge")
        )

    async def close(self) -> None:
        for stream in list(self._streams):
            await stream.close()
        await self._http.aclose()

    # --- trading: strategies, risk and the kill switch ---------------------------

    async def check_order(self, request: OrderRequest) -> OrderCheck:
        data = await self._call("POST", "/orders/check", json=_order_body(request))
        return OrderCheck.model_validate(data)

    async def place_order(self, request: OrderRequest) -> Order:
        return Order.model_validate(await self._call("POST", "/orders", json=_order_body(request)))

    async def cancel_order(self, account_id: str, ticket: int) -> Order:
        return Order.model_validate(await self._call("DELETE", f"/orders/{ticket}"))

    async def close_position(self, account_id: str, ticket: int) -> Order:
        data = await self._call("POST", f"/portfolio/positions/{ticket}/close")
        return Order.model_validate(data)

    async def flatten(self, account_id: str) -> list[Order]:
        data = await self._call("POST", "/orders/flatten", json={"account_id": account_id})
        return [Order.model_validate(o) for o in data["orders"]]

    async def equity_history(
        self, account_id: str, since: datetime | None, resolution: Resolution | None = None
    ) -> list[EquityPoint]:
        params: dict[str, str | int] = {
            "account": account_id,
            "sort": "time",
            "order": "desc",
            "limit": EQUITY_POINTS,
        }
        if since is not None:
            params["from"] = since.isoformat()
        if resolution is not None:
            params["resolution"] = resolution
        page = await self._call("GET", "/portfolio/history", params=params)
        return [EquityPoint.model_validate(p) for p in reversed(page["items"])]

    async def performance(
        self, account_id: str, since: datetime | None, resolution: Resolution
    ) -> PerformanceMetrics:
        params = {"account": account_id, "resolution": resolution}
        if since is not None:
            params["from"] = since.isoformat()
        return PerformanceMetrics.model_validate(
            await self._call("GET", "/performance", params=params)
        )

    async def pause_strategy(self, strategy_id: str) -> StrategyInfo:
        data = await self._call("PUT", f"/strategies/{strategy_id}/pause")
        return StrategyInfo.model_validate(data)

    async def resume_strategy(self, strategy_id: str) -> StrategyInfo:
        data = await self._call("PUT", f"/strategies/{strategy_id}/resume")
        return StrategyInfo.model_validate(data)

    async def risk_evaluation(self) -> RiskEvaluation:
        return RiskEvaluation.model_validate(await self._call("POST", "/risk/evaluate"))

    async def engage_kill_switch(self, *, flatten: bool, reason: str = "") -> KillSwitchState:
        body = {"flatten": flatten, "reason": reason}
        data = await self._call("POST", "/system/kill-switch", json=body)
        return KillSwitchState.model_validate(data)

    async def clear_kill_switch(self) -> KillSwitchState:
        data = await self._call("POST", "/system/kill-switch/clear")
        return KillSwitchState.model_validate(data)

    async def set_mode(self, mode: SystemMode) -> SystemStatus:
        data = await self._call("POST", "/system/mode", json={"mode": mode.value})
        return SystemStatus.model_validate(data)

    # --- jobs: the queue, its dead letters, schedules and models -------------------

    async def jobs_overview(self) -> JobsOverview:
        stats, running, recent = await asyncio.gather(
            self._call("GET", "/jobs/stats"),
            self._jobs_page([JobState.RUNNING], sort="id", order="asc", limit=JOBS_PAGE),
            self._jobs_page(list(_FINISHED), sort="finished_at", order="desc", limit=RECENT_JOBS),
        )
        return JobsOverview(stats=JobStats.model_validate(stats), running=running, recent=recent)

    async def jobs(self, states: list[JobState]) -> list[Job]:
        return await self._jobs_page(states, sort="id", order="desc", limit=JOBS_PAGE)

    async def job(self, job_id: int) -> Job:
        return Job.model_validate(await self._call("GET", f"/jobs/{job_id}"))

    async def retry_job(self, job_id: int) -> Job:
        return Job.model_validate(await self._call("POST", f"/jobs/dlq/{job_id}/retry"))

    async def cancel_job(self, job_id: int) -> Job:
        return Job.model_validate(await self._call("POST", f"/jobs/{job_id}/cancel"))

    async def schedules(self) -> list[Schedule]:
        return [Schedule.model_validate(s) for s in await self._call("GET", "/schedules")]

    async def run_schedule(self, name: str) -> Job:
        return Job.model_validate(await self._call("POST", f"/schedules/{_path(name)}/run"))

    async def enable_schedule(self, name: str) -> Schedule:
        data = await self._call("POST", f"/schedules/{_path(name)}/enable")
        return Schedule.model_validate(data)

    async def disable_schedule(self, name: str) -> Schedule:
        data = await self._call("POST", f"/schedules/{_path(name)}/disable")
        return Schedule.model_validate(data)

    async def models(self, job_id: int) -> list[ParamSet]:
        params = {"job_id": job_id, "sort": "rank", "order": "asc", "limit": JOBS_PAGE}
        page = await self._call("GET", "/models", params=params)
        return [ParamSet.model_validate(p) for p in page["items"]]

    async def deploy_model(self, model_id: int, strategy_id: str | None = None) -> StrategyInfo:
        body = {"model_id": model_id, "strategy_id": strategy_id}
        return StrategyInfo.model_validate(await self._call("POST", "/models/deploy", json=body))

    async def _jobs_page(
        self, states: list[JobState], *, sort: str, order: str, limit: int
    ) -> list[Job]:
        params = {"state": [s.value for s in states], "sort": sort, "order": order, "limit": limit}
        page = await self._call("GET", "/jobs", params=params)
        return [Job.model_validate(j) for j in page["items"]]

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = await self._http.request(method, path, **kwargs)
        except httpx.HTTPError as error:
            self._reachable = False
            reason = str(error) or type(error).__name__
            raise Unavailable(f"Cannot reach {self.url}: {reason}.") from error
        self._reachable = True
        if response.is_success:
            return response.json()
        try:
            error = response.json()["error"]
            code, message = str(error["code"]), str(error["message"])
        except (ValueError, KeyError, TypeError):
            code, message = "INTERNAL_ERROR", f"{response.status_code} {response.reason_phrase}"
        if code == "ORDER_REJECTED":
            details = error.get("details") or {}
            raise OrderRejected(int(details.get("retcode") or 0), message)
        kind = _ERRORS.get(code)
        if kind is not None:
            raise kind(message)
        raise RemoteError(code, message, response.status_code)

    def _ws_url(self) -> str:
        base = self.url.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
        return f"{base}/api/v1/ws"


# The fields of an `OrderRequest` a person sets; the rest (source, strategy) the server decides.
_ORDER_FIELDS = frozenset(
    {"account_id", "symbol", "side", "type", "volume", "price", "stop_limit", "sl", "tp"}
) | {"client_order_id"}


def _order_body(request: OrderRequest) -> dict[str, Any]:
    return request.model_dump(mode="json", include=set(_ORDER_FIELDS), exclude_none=True)


# The jobs the pane's "recent" lists: as `JobService.recent` picks them.
_FINISHED = (JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED, JobState.DEAD)


def _path(name: str) -> str:
    """A schedule name as one path segment (names may hold `:` and `.`)."""
    return quote(name, safe="")


class _Stream:
    """Events from the WebSocket, reconnecting with backoff. `live` is set
    while every channel is subscribed; the first event after events may have
    been lost (a reconnect, or a snapshot taken before going live) is a
    `ResyncEvent`. A policy close (token refused, disconnected by an
    administrator) ends the stream with a `RemoteError`."""

    def __init__(self, client: RemoteEngineClient) -> None:
        self.live = asyncio.Event()
        self.missed = False
        self._client = client
        self._time: datetime | None = None
        self._queue: asyncio.Queue[Event | _End] = asyncio.Queue(maxsize=10_000)
        self._task = asyncio.create_task(self._run(), name="remote:stream")

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Event]:
        while True:
            item = await self._queue.get()
            if isinstance(item, _End):
                if item.error is not None:
                    raise item.error
                return
            yield item

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._end(None)

    def _end(self, error: RemoteError | None) -> None:
        self.live.clear()
        self._client._streams.discard(self)
        if self._queue.full():
            self._queue.get_nowait()
        self._queue.put_nowait(_End(error))

    def _put(self, event: Event) -> None:
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            # The panel fell behind: drop the backlog and ask it to resnapshot.
            while not self._queue.empty():
                self._queue.get_nowait()
            self._queue.put_nowait(ResyncEvent(time=event.time))

    async def _run(self) -> None:
        try:
            await self._follow()
        except Exception:
            # A bug, not a network fault: end the stream loudly rather than hang it.
            log.exception("stream from %s failed", self._client.url)
            self._end(RemoteError("INTERNAL_ERROR", "The event stream failed; see the log."))

    async def _follow(self) -> None:
        initial, ceiling = self._client._reconnect
        delay = initial
        while True:
            try:
                async with websockets.connect(
                    self._client._ws_url(),
                    additional_headers={"Authorization": f"Bearer {self._client._token}"},
                    max_size=4 * 1024 * 1024,
                    open_timeout=self._client.timeout,
                ) as ws:
                    await self._open(ws)
                    delay = initial
                    async for raw in ws:
                        self._handle(raw)
            except websockets.ConnectionClosed as closed:
                frame = closed.rcvd
                if frame is not None and frame.code == _CLOSE_POLICY:
                    log.warning("stream from %s refused: %s", self._client.url, frame.reason)
                    reason = frame.reason or "The server closed the stream."
                    self._client._reachable = False
                    self._end(RemoteError("FORBIDDEN", reason))
                    return
                log.info("stream from %s closed (%s)", self._client.url, closed)
            except (OSError, TimeoutError, websockets.WebSocketException) as error:
                log.info("stream from %s lost: %s", self._client.url, error)
            if self.live.is_set():
                self.live.clear()
                self.missed = True
            # Jitter, so that many panels do not all return at the same instant.
            await asyncio.sleep(random.uniform(delay / 2, delay))
            delay = min(ceiling, delay * 2)

    async def _open(self, ws: websockets.ClientConnection) -> None:
        """Subscribe to every channel and wait for each answer; then the stream is live."""
        for channel in CHANNELS:
            await ws.send(json.dumps({"action": "subscribe", "channel": channel, "id": channel}))
        waiting = set(CHANNELS)
        while waiting:
            message = self._handle(await ws.recv())
            data = message.get("data") or {}
            if message.get("type") in ("ack", "error") and data.get("id") in waiting:
                if message["type"] == "error":
                    log.warning("cannot subscribe to %s: %s", data["id"], data.get("message"))
                waiting.discard(data["id"])
        self.live.set()
        if self.missed:
            self.missed = False
            assert self._time is not None  # every server message carries its time
            self._put(ResyncEvent(time=self._time))

    def _handle(self, raw: str | bytes) -> dict[str, Any]:
        message: dict[str, Any] = json.loads(raw)
        time = self._time = datetime.fromisoformat(message["ts"])
        kind = message.get("type")
        if kind == "event":
            try:
                event = _EVENT.validate_python(message["data"])
            except ValidationError:
                # A newer server's kind of event: nothing this panel could show.
                log.debug("skipped an event this client does not know: %s", message["data"])
            else:
                self._put(event)
        elif kind == "resync":
            self._put(ResyncEvent(time=time, dropped=message["data"].get("dropped", 0)))
        return message


class _End:
    """The stream's last item: it ended, maybe with an error to raise."""

    __slots__ = ("error",)

    def __init__(self, error: RemoteError | None) -> None:
        self.error = error
