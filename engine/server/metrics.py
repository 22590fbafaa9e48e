"""Prometheus metrics for one API app, in its own `CollectorRegistry`.

Engine figures (workers by state, equity per account, WebSocket clients, ...)
are read at scrape time by a custom collector, so nothing is kept twice.
Order and fill totals come from a bus listener, since the engine keeps no
running count; HTTP latency from an ASGI middleware labelled by route
template, never by raw path, so the label set stays bounded.
"""

from __future__ import annotations

import time
from collections import Counter, OrderedDict
from collections.abc import Iterator

from fastapi import FastAPI
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from engine.engine import Engine
from engine.models import EngineState, Event, FillEvent, OrderEvent, OrderStatus, WorkerState
from engine.server.ws import Hub

# Seconds; REST calls are expected in the low milliseconds.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_ORDERS_REMEMBERED = 10_000


class Metrics:
    def __init__(self, engine: Engine, hub: Hub) -> None:
        self.engine = engine
        self.registry = CollectorRegistry(auto_describe=False)
        self.http_latency = Histogram(
            "tradedeck_http_request_duration_seconds",
            "HTTP request latency by method, route template and status.",
            ["method", "route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.trading = TradingCounts()
        self.registry.register(EngineCollector(engine, hub, self.trading))
        engine.bus.add_listener(self.trading.on_event)

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def close(self) -> None:
        self.engine.bus.remove_listener(self.trading.on_event)


def install(app: FastAPI, engine: Engine, hub: Hub) -> Metrics:
    """Create the app's metrics, time every HTTP request, and detach from the
    engine when the hub closes."""
    metrics = Metrics(engine, hub)
    app.state.metrics = metrics
    app.add_middleware(LatencyMiddleware, histogram=metrics.http_latency)
    hub.on_close(metrics.close)
    return metrics


class TradingCounts:
    """Orders by the status they reached and fills, per account, since start.
    An order counts once per status: repeated events in the same status
    (modifications) are not new transitions."""

    def __init__(self) -> None:
        self.orders: Counter[tuple[str, str]] = Counter()
        self.fills: Counter[str] = Counter()
        self._last: OrderedDict[int, OrderStatus] = OrderedDict()

    def on_event(self, event: Event) -> None:
        if type(event) is OrderEvent:
            order = event.order
            if self._last.get(order.ticket) is order.status:
                return
            self._last[order.ticket] = order.status
            self._last.move_to_end(order.ticket)
            if len(self._last) > _ORDERS_REMEMBERED:
                self._last.popitem(last=False)
            self.orders[(order.account_id, order.status.value)] += 1
        elif type(event) is FillEvent:
            self.fills[event.fill.account_id] += 1


class EngineCollector(Collector):
    def __init__(self, engine: Engine, hub: Hub, trading: TradingCounts) -> None:
        self.engine = engine
        self.hub = hub
        self.trading = trading

    def collect(self) -> Iterator[Metric]:
        engine = self.engine
        yield GaugeMetricFamily(
            "tradedeck_engine_up",
            "1 while the engine is running.",
            value=1 if engine.state is EngineState.RUNNING else 0,
        )
        yield from self._workers()
        yield from self._accounts()
        yield from self._trading()
        yield CounterMetricFamily(
            "tradedeck_events_published",
            "Events published on the engine's bus.",
            value=engine.bus.published,
        )
        yield GaugeMetricFamily(
            "tradedeck_alerts_open", "Alerts not yet resolved.", value=engine.alerts.open_count
        )
        yield from self._websocket()

    def _workers(self) -> Iterator[Metric]:
        states = Counter(w.status for w in self.engine.workers()) if self.engine.manager else {}
        family = GaugeMetricFamily("tradedeck_workers", "Workers by state.", labels=["state"])
        for state in WorkerState:
            family.add_metric([state.value], states.get(state, 0))
        yield family

    def _accounts(self) -> Iterator[Metric]:
        labels = ["account", "currency"]
        equity = GaugeMetricFamily("tradedeck_account_equity", "Account equity.", labels=labels)
        balance = GaugeMetricFamily("tradedeck_account_balance", "Account balance.", labels=labels)
        positions = GaugeMetricFamily(
            "tradedeck_account_open_positions", "Open positions.", labels=["account"]
        )
        for account in self.engine.snapshot().accounts:
            key = [account.account_id, account.currency]
            equity.add_metric(key, float(account.equity))
            balance.add_metric(key, float(account.balance))
            positions.add_metric([account.account_id], account.open_positions)
        yield from (equity, balance, positions)

    def _trading(self) -> Iterator[Metric]:
        orders = CounterMetricFamily(
            "tradedeck_orders",
            "Orders reaching each status since the server started.",
            labels=["account", "status"],
        )
        for (account, status), count in sorted(self.trading.orders.items()):
            orders.add_metric([account, status], count)
        fills = CounterMetricFamily(
            "tradedeck_fills", "Fills (deals) since the server started.", labels=["account"]
        )
        for account, count in sorted(self.trading.fills.items()):
            fills.add_metric([account], count)
        yield from (orders, fills)

    def _websocket(self) -> Iterator[Metric]:
        stats = self.hub.stats()
        yield GaugeMetricFamily(
            "tradedeck_ws_clients", "Connected WebSocket clients.", value=stats["clients"]
        )
        for name, key, help_text in (
            ("tradedeck_ws_connections", "connections_total", "WebSocket connections accepted."),
            ("tradedeck_ws_auth_failures", "auth_failures", "WebSocket authentication failures."),
            ("tradedeck_ws_messages_sent", "messages_sent", "WebSocket messages sent."),
            ("tradedeck_ws_messages_dropped", "dropped", "Messages dropped for slow clients."),
            ("tradedeck_ws_resyncs", "resyncs", "Resync messages sent to slow clients."),
        ):
            yield CounterMetricFamily(name, help_text, value=stats[key])
        disconnects = CounterMetricFamily(
            "tradedeck_ws_disconnects", "Closed WebSocket connections by reason.", labels=["reason"]
        )
        for reason, count in sorted(stats["disconnects"].items()):
            disconnects.add_metric([reason], count)
        yield disconnects


class LatencyMiddleware:
    """Observe every HTTP request's duration, labelled by its route template."""

    def __init__(self, app: ASGIApp, histogram: Histogram) -> None:
        self.app = app
        self.histogram = histogram
        # Label values -> their series: `labels()` checks and locks on every
        # call; the set is bounded by the route templates.
        self._series: dict[tuple[str, str, str], Histogram] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            labels = (scope["method"], route_template(scope), str(status))
            series = self._series.get(labels)
            if series is None:
                series = self._series[labels] = self.histogram.labels(*labels)
            series.observe(time.perf_counter() - began)


def route_template(scope: Scope) -> str:
    """The matched route as a template with its full path (`/api/v1/workers/{account_id}`).

    FastAPI leaves the route of an included router in the scope with its path
    relative to the router's prefix; the prefix is the part of the request
    path in front of what the route's pattern matches.
    """
    route = scope.get("route")
    template = getattr(route, "path_format", None)
    pattern = getattr(route, "path_regex", None)
    if template is None or pattern is None:
        return "unmatched"
    path: str = scope.get("path", "")
    for start, char in enumerate(path):
        if char == "/" and pattern.match(path[start:]):
            return path[:start] + template
    return str(template)
