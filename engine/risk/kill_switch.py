"""The kill switch: one action that halts all trading.

Engaging it, in this order: the gate refuses new orders everywhere (a rank-0
check, rule `kill_switch`) and the system mode becomes `halted`; the state is
stored (a restart comes back halted); every strategy is paused (so none acts
on a position); every pending order is cancelled; with `flatten`, every
position is closed. Only an admin clears it, which returns the mode to what it
was; strategies stay paused until someone resumes them.

Closing a position stays possible while halted, for people and the system (SL,
TP, stop-out, flatten): a trader must always be able to get out. Strategies'
orders are all refused.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

from engine.brokers import retcodes
from engine.brokers.base import TradeResult
from engine.domain import SystemMode
from engine.errors import Conflict, EngineError
from engine.models import KillSwitchEvent, KillSwitchState, OrderSource, Severity, SystemEvent
from engine.orders.gate import OrderContext, Rejection
from engine.risk.ports import KillSwitchPorts

KILL_SWITCH_CHECK = "kill_switch"
KILL_SWITCH_RANK = 0
ALERT_KIND = "kill_switch"
_DEDUP_KEY = "kill_switch"


class KillSwitch:
    def __init__(self, ports: KillSwitchPorts) -> None:
        self._ports = ports
        self._lock = asyncio.Lock()
        self.state = KillSwitchState()
        ports.gate.add(KILL_SWITCH_CHECK, self.check, rank=KILL_SWITCH_RANK)

    @property
    def engaged(self) -> bool:
        return self.state.engaged

    async def load(self) -> None:
        """Restore the stored state; halted before any worker can send an order."""
        self.state = await self._ports.store.kill_switch()
        if self.state.engaged:
            self._ports.settings.engine.mode = SystemMode.HALTED

    def check(self, context: OrderContext) -> Rejection | None:
        state = self.state
        if not state.engaged:
            return None
        if context.closing and context.request.source is not OrderSource.STRATEGY:
            return None
        since = state.engaged_at.isoformat(timespec="seconds") if state.engaged_at else "now"
        return Rejection(
            retcodes.TRADE_DISABLED,
            f"Trading is halted by the kill switch (since {since}): new orders are refused "
            "until an admin clears it; closing a position is still allowed.",
            KILL_SWITCH_CHECK,
        )

    async def engage(
        self, *, flatten: bool = False, by: str = "", reason: str = ""
    ) -> KillSwitchState:
        """Halt trading (see the module). Engaging it again runs the cancels
        again, and the flatten if asked this time; the first time and mode stay."""
        ports = self._ports
        async with self._lock:
            now = ports.clock.now()
            state = self.state
            if not state.engaged:
                state = KillSwitchState(
                    engaged=True,
                    engaged_at=now,
                    engaged_by=by or None,
                    reason=reason,
                    mode_before=ports.settings.engine.mode,
                )
            self.state = state = state.model_copy(update={"flatten": state.flatten or flatten})
            ports.settings.engine.mode = SystemMode.HALTED
            await ports.store.save_kill_switch(state, now)
            self._announce()
            why = f"kill switch{f' ({reason})' if reason else ''}"
            paused = len(ports.strategies.pause_strategies())
            cancelled = await self._count(ports.orders.cancel_all(None, reason=why), "cancel")
            closed = 0
            if flatten:
                closed = await self._count(ports.orders.flatten(None, reason=why), "flatten")
            self.state = state = state.model_copy(
                update={
                    "cancelled_orders": state.cancelled_orders + cancelled,
                    "closed_positions": state.closed_positions + closed,
                    "paused_strategies": state.paused_strategies + paused,
                }
            )
            await ports.store.save_kill_switch(state, ports.clock.now())
            summary = (
                f"Kill switch engaged{f' by {by}' if by else ''}{f': {reason}' if reason else ''}. "
                f"Trading is halted: {paused} strategies paused, {cancelled} pending orders "
                f"cancelled, {closed} positions closed."
            )
            ports.alerts.raise_alert(
                ALERT_KIND,
                Severity.CRITICAL,
                summary,
                dedup_key=_DEDUP_KEY,
                data={"flatten": flatten, "by": by, "reason": reason},
            )
            ports.log(summary, level="error")
            self._announce()
            return state

    async def clear(self, *, by: str = "") -> KillSwitchState:
        """Let trading resume in the mode it had; strategies stay paused."""
        ports = self._ports
        async with self._lock:
            state = self.state
            if not state.engaged:
                raise Conflict("The kill switch is not engaged.")
            now = ports.clock.now()
            mode = state.mode_before or SystemMode.PAPER
            state = state.model_copy(
                update={"engaged": False, "cleared_at": now, "cleared_by": by or None}
            )
            await ports.store.save_kill_switch(state, now)
            self.state = state
            ports.settings.engine.mode = mode
            ports.alerts.resolve_key(_DEDUP_KEY)
            ports.log(
                f"kill switch cleared{f' by {by}' if by else ''}; mode {mode.value}; "
                "strategies stay paused until resumed"
            )
            self._announce()
            return state

    def _announce(self) -> None:
        ports = self._ports
        now = ports.clock.now()
        ports.bus.publish(KillSwitchEvent(time=now, state=self.state))
        ports.bus.publish(SystemEvent(time=now, status=ports.status()))

    async def _count(self, action: Awaitable[list[TradeResult]], what: str) -> int:
        """How many of an action's results succeeded; a failure is logged, and the
        switch stays engaged whatever happens."""
        try:
            results = await action
        except EngineError as error:
            self._ports.log(f"kill switch: {what} failed: {error.message}", level="error")
            return 0
        return sum(1 for result in results if result.ok)
