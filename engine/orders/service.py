"""Order management: what a person (the panel, the API) or the risk engine
does to orders and positions. Every new order goes through `Worker.send`, the
same path as strategies' orders (the pre-trade gate, then the broker, then the
ledger), and the same `client_order_id` twice gives back the first order.
"""

from __future__ import annotations

from decimal import Decimal

from engine.brokers.base import TradeResult
from engine.errors import Conflict, NotFound
from engine.models import Order, OrderRequest, WorkerState
from engine.ports import LogSink, WorkerDirectory
from engine.workers.worker import Worker


class OrderService:
    def __init__(self, workers: WorkerDirectory, log: LogSink) -> None:
        self._directory = workers
        self._write_log = log

    async def place(self, request: OrderRequest) -> TradeResult:
        """Send a new order; the result once its outcome is committed."""
        return await self._worker(request.account_id).send(request)

    async def modify(
        self,
        account_id: str,
        ticket: int,
        *,
        price: Decimal | None = None,
        sl: Decimal | None = None,
        tp: Decimal | None = None,
        stop_limit: Decimal | None = None,
    ) -> TradeResult:
        """New prices for a pending order; a price left out keeps its value."""
        worker = self._worker(account_id)
        order = self._open_order(worker, ticket)
        return await worker.modify_order(
            ticket,
            price if price is not None else order.price or Decimal(0),
            sl if sl is not None else order.sl,
            tp if tp is not None else order.tp,
            stop_limit if stop_limit is not None else order.stop_limit,
        )

    async def modify_position(
        self, account_id: str, ticket: int, *, sl: Decimal | None, tp: Decimal | None
    ) -> TradeResult:
        """New SL/TP for an open position (None removes one)."""
        worker = self._worker(account_id)
        self._open_position(worker, ticket)
        return await worker.modify_position(ticket, sl, tp)

    async def cancel(self, account_id: str, ticket: int) -> TradeResult:
        worker = self._worker(account_id)
        self._open_order(worker, ticket)
        return await worker.cancel_order(ticket)

    async def close_position(
        self, account_id: str, ticket: int, volume: Decimal | None = None
    ) -> TradeResult:
        """Close a position, or `volume` of it."""
        worker = self._worker(account_id)
        self._open_position(worker, ticket)
        return await worker.close_position(ticket, volume)

    async def flatten(self, account_id: str | None = None, *, reason: str) -> list[TradeResult]:
        """Close every open position of one account, or of every running one."""
        results: list[TradeResult] = []
        for worker in self._workers(account_id):
            assert worker.broker is not None
            for position in worker.broker.positions():
                results.append(await worker.close_position(position.ticket))
        self._log("flatten", account_id, results, reason)
        return results

    async def cancel_all(self, account_id: str | None = None, *, reason: str) -> list[TradeResult]:
        """Cancel every pending order of one account, or of every running one."""
        results: list[TradeResult] = []
        for worker in self._workers(account_id):
            assert worker.broker is not None
            for order in worker.broker.open_orders():
                results.append(await worker.cancel_order(order.ticket))
        self._log("cancel all", account_id, results, reason)
        return results

    # --- helpers -----------------------------------------------------------------

    def _worker(self, account_id: str) -> Worker:
        worker = self._directory.get(account_id)  # WorkerNotFound for an unknown id
        if worker.broker is None or worker.state is not WorkerState.RUNNING:
            raise Conflict(f"Worker {account_id} is not running: start it to trade.")
        return worker

    def _workers(self, account_id: str | None) -> list[Worker]:
        if account_id is not None:
            return [self._worker(account_id)]
        return [
            w
            for w in self._directory.workers.values()
            if w.broker is not None and w.state is WorkerState.RUNNING
        ]

    @staticmethod
    def _open_order(worker: Worker, ticket: int) -> Order:
        assert worker.broker is not None
        for order in worker.broker.open_orders():
            if order.ticket == ticket:
                return order
        raise NotFound(f"Account {worker.account_id} has no pending order {ticket}.")

    @staticmethod
    def _open_position(worker: Worker, ticket: int) -> None:
        assert worker.broker is not None
        if not any(p.ticket == ticket for p in worker.broker.positions()):
            raise NotFound(f"Account {worker.account_id} has no open position {ticket}.")

    def _log(
        self, action: str, account_id: str | None, results: list[TradeResult], reason: str
    ) -> None:
        failed = [r for r in results if not r.ok]
        message = f"{action}: {len(results) - len(failed)} done, {len(failed)} failed ({reason})"
        if failed:
            # Each distinct refusal once, so the trader sees why without a log line per order.
            why = dict.fromkeys(f"[{r.retcode}] {r.message}" for r in failed)
            message += ": " + "; ".join(why)
        self._write_log(message, level="warning" if failed else "info", account_id=account_id)
