"""The risk engine: limits on positions, exposure, losses and order rates,
checked before every order and evaluated on every equity change.

Evaluation is incremental and cheap: an account's limits are judged on its own
`AccountEvent` (each mark and each trade), and the limits that span accounts
once per loop iteration however many accounts changed in it. A limit's level
moves `ok` -> `warning` -> `breach` and back; each rise raises one alert (the
alert center de-duplicates by limit and level, and a level that stays raises
nothing more), a breach also takes the limit's action, and a breach clears only
once the value is back at or below the warning (the threshold when there is
none), so a value hovering at the threshold does not flap.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from config.validation import risk_limit_problems
from engine.commit import after_commit
from engine.domain import MarginMode, RiskAction, RiskLimitKind, RiskScope
from engine.errors import Conflict, EngineError, NotFound, ValidationFailed
from engine.models import (
    AccountEvent,
    AccountSnapshot,
    Event,
    PositionEvent,
    RiskEvaluation,
    RiskLevel,
    RiskLimit,
    RiskLimitEvent,
    RiskLimitOrigin,
    RiskMetric,
    Severity,
    WorkerState,
)
from engine.orders.gate import OrderContext, Rejection
from engine.risk.book import AccountBook, Holdings, Valuer
from engine.risk.measure import (
    EQUITY_KINDS,
    POSITION_KINDS,
    covers,
    describe,
    equity_value,
    measure,
    shape_value,
    unit,
)
from engine.risk.ports import RiskPorts
from engine.risk.pretrade import breached, holdings_after, over_limit
from engine.tasks import TaskSet

log = logging.getLogger("tradedeck.risk")

RISK_CHECK = "risk.limits"
RISK_RANK = 200  # after the kill switch (0) and validation (100)
TOTAL = "*"  # the book of all accounts together
ALERT_KIND = "risk_limit"

_EDITABLE = (
    "description",
    "scope",
    "account_id",
    "symbol",
    "kind",
    "warning",
    "threshold",
    "action",
    "enabled",
)


_ZERO = Decimal(0)


class RiskLimitNotFound(NotFound):
    def __init__(self, limit_id: str) -> None:
        super().__init__(f"No risk limit with id {limit_id!r}.", limit_id=limit_id)


class RiskEngine:
    def __init__(self, ports: RiskPorts) -> None:
        self._ports = ports
        self._clock = ports.clock
        self._store = ports.store
        self._valuer = Valuer(lambda: ports.settings.instruments, ports.quote)
        self._limits: dict[str, RiskLimit] = {}
        self._levels: dict[str, RiskLevel] = {}
        self._books: dict[str, AccountBook] = {}
        # The book of all accounts as recorded (peak and day moved, stored, shown)
        # only when every account's equity is of the same moment: at start, at
        # each mark, at an evaluation. Between those, `_live` is judged: it is
        # the recorded book with the equities as they stand now, so a partial
        # sum (one account marked, another not yet) never sets a peak.
        self._total = AccountBook(TOTAL)
        self._live = self._total
        self._provisional = AccountBook(TOTAL)
        self._by_account: dict[str, list[RiskLimit]] = {}
        self._wide: list[RiskLimit] = []  # limits over several accounts
        self._covering: dict[tuple[str, str], _Plan] = {}
        self._dirty: set[str] = set()  # books to store
        # (sum of the accounts' equities, sum of their day-opening equities),
        # kept by `_observe` as each account's equity moves.
        self._sums = (_ZERO, _ZERO)
        self._inputs: dict[str, object] = {}  # limit id -> what it was last judged on
        # An account's daily-loss and drawdown limits -> the book generation they
        # were last judged at: their level stands for the book until it moves.
        self._judged: dict[str, int] = {}
        self._wide_pending = False
        self._tasks = TaskSet("risk", logger=log, level=logging.ERROR)
        self._listening = False
        ports.gate.add(RISK_CHECK, self.check, rank=RISK_RANK)

    # --- lifecycle ---------------------------------------------------------------

    async def start(self) -> None:
        """Write the configuration's new limits, load every stored one and the
        books, then follow the bus. Runs after the ledgers load and before any
        worker starts."""
        settings = self._ports.settings
        known = await self._store.known_ids()
        now = self._clock.now()
        seeds: list[RiskLimit] = []
        for config in settings.risk.limits:
            if config.id in known:
                continue  # stored once: the store wins (edited or deleted since)
            limit = RiskLimit(
                **config.model_dump(), origin=RiskLimitOrigin.CONFIG, created_at=now, updated_at=now
            )
            problems = self._problems(limit)
            if problems:
                log.error("risk limit %s not loaded: %s", limit.id, "; ".join(problems))
                continue
            seeds.append(limit)
        if seeds:
            await self._store.save_limits(seeds)
        self._limits = {limit.id: limit for limit in await self._store.limits()}
        stored = await self._store.books()
        currencies = {a.id: a.currency for a in settings.accounts}
        today = now.date()
        # The stored ledgers' equity opens the day (when no stored day does) and
        # may be a new peak.
        for snapshot in self._ports.accounts():
            book = AccountBook(snapshot.account_id, currencies.get(snapshot.account_id, "USD"))
            self._restore(book, stored.get(snapshot.account_id))
            if book.observe(snapshot.equity, today):
                self._dirty.add(book.account_id)
            self._books[book.account_id] = book
        self._sums = _summed(self._books.values())
        self._restore(self._total, stored.get(TOTAL))
        self._update_total(today, whole=True)
        self._index()
        self._ports.bus.add_listener(self._on_event)
        self._listening = True

    async def stop(self) -> None:
        if self._listening:
            self._ports.bus.remove_listener(self._on_event)
            self._listening = False
        await self._tasks.stop()
        self._dirty.update(self._books)
        self._dirty.add(TOTAL)
        await self._save_books()

    # --- limits ------------------------------------------------------------------

    def limits(self) -> list[RiskLimit]:
        return sorted(self._limits.values(), key=lambda limit: limit.id)

    def get(self, limit_id: str) -> RiskLimit:
        limit = self._limits.get(limit_id)
        if limit is None:
            raise RiskLimitNotFound(limit_id)
        return limit

    async def create(self, fields: dict[str, Any], *, limit_id: str | None = None) -> RiskLimit:
        """A new limit from `fields` (RiskLimit's editable fields), stored, then
        judged at once. Without `limit_id` one is made from the kind and scope."""
        if limit_id is not None and limit_id in await self._store.known_ids():
            raise Conflict(
                f"A risk limit with id {limit_id!r} exists or existed; choose another id.",
                limit_id=limit_id,
            )
        now = self._clock.now()
        limit = self._validated(
            {**fields, "id": limit_id or await self._new_id(fields), "created_at": now},
            now,
        )
        await self._store.save_limits([limit])
        self._put(limit, "created")
        return limit

    async def update(self, limit_id: str, changes: dict[str, Any]) -> RiskLimit:
        """Change some fields; the others keep their values."""
        old = self.get(limit_id)
        unknown = set(changes) - set(_EDITABLE)
        if unknown:
            raise ValidationFailed(
                f"{', '.join(sorted(unknown))}: not a field a limit may change.",
                [{"path": name, "loc": [name], "message": "cannot be changed"} for name in unknown],
            )
        limit = self._validated({**old.model_dump(), **changes}, self._clock.now())
        await self._store.save_limits([limit])
        self._put(limit, "changed")
        return limit

    async def delete(self, limit_id: str) -> RiskLimit:
        limit = self.get(limit_id)
        await self._store.delete_limit(limit)
        del self._limits[limit_id]
        self._forget(limit)
        self._index()
        self._publish(limit, "deleted", deleted=True)
        return limit

    # --- evaluation --------------------------------------------------------------

    def evaluate(self) -> RiskEvaluation:
        """Every enabled limit judged now, from the brokers' current state."""
        today = self._clock.now().date()
        for worker in self._ports.workers.workers.values():
            book = self._books.get(worker.account_id)
            if book is None or worker.broker is None or worker.state is not WorkerState.RUNNING:
                continue
            book.replace_positions(worker.broker.positions())
            if self._observe(book, worker.broker.account().equity, today):
                self._dirty.add(book.account_id)
        self._update_total(today, whole=True)
        now = self._clock.monotonic()
        metrics = []
        for limit in self.limits():
            if limit.enabled:
                value = self._measure(limit, now)
                self._judge(limit, value)
                metrics.append(self._metric(limit, value))
        after_commit(self._save_books(), lambda: None)
        books = [self._books[a] for a in sorted(self._books)] + [self._total]
        return RiskEvaluation(
            time=self._clock.now(),
            metrics=metrics,
            violations=[m for m in metrics if m.level is RiskLevel.BREACH],
            warnings=[m for m in metrics if m.level is RiskLevel.WARNING],
            books=[book.model() for book in books],
            kill_switch=self._ports.kill_switch_state(),
        )

    def level(self, limit_id: str) -> RiskLevel:
        return self._levels.get(limit_id, RiskLevel.OK)

    def check(self, context: OrderContext) -> Rejection | None:
        """The pre-trade check: refuse an order that would take a limit over its
        threshold, or any new order in the scope of a breached limit. Orders that
        close a position, or only reduce a netting one, always pass.

        A few lookups per limit, whatever the account holds: the holdings come
        from the broker per symbol, the order is applied to a copy of them, and
        a limit on the order's own account is valued on that copy directly."""
        if context.closing:
            return None
        request = context.request
        account_id, symbol = request.account_id, request.symbol
        plan = self._covering.get((account_id, symbol))
        if plan is None:
            plan = self._cover(account_id, symbol)
        book = self._books.get(account_id)
        if not plan.limits or book is None:
            return None
        config = self._ports.settings.account(account_id)
        netting = config is not None and config.margin_mode is MarginMode.NETTING
        held: tuple[Holdings, Holdings] | None = None
        if netting or plan.shapes:
            before, after, reduces = holdings_after(
                context.holdings, context.open_orders, request, netting
            )
            if reduces:
                return None
            held = (before, after)
        if plan.equities:
            equity = context.funds.equity
            # Taken already when the book last saw this equity on this day.
            if equity != book.equity or book.day != self._clock.now().date():
                self._observe_now(book, equity, plan.wide_equities)
        now = self._clock.monotonic()
        for limit in plan.limits:
            rejection = self._refusal(limit, book, held, now)
            if rejection is not None:
                return rejection
        if not context.dry_run:
            book.sent(now, symbol)
        return None

    # --- the bus -----------------------------------------------------------------

    def _on_event(self, event: Event) -> None:
        kind = type(event)
        if kind is AccountEvent:
            try:
                self._account_changed(event.account.account_id, event.account.equity)  # type: ignore[union-attr]
            except Exception:
                log.exception("risk evaluation failed")
        elif kind is PositionEvent:
            book = self._books.get(event.position.account_id)  # type: ignore[union-attr]
            if book is not None:
                book.set_position(event.position, event.closed)  # type: ignore[union-attr]

    def _account_changed(self, account_id: str, equity: Decimal) -> None:
        book = self._books.get(account_id)
        if book is None:
            return
        if self._observe(book, equity, self._clock.now().date()):
            self._dirty.add(account_id)
        limits = self._by_account.get(account_id)
        if limits:
            now = self._clock.monotonic()
            holdings = book.holdings
            inputs = self._inputs
            for limit in limits:
                # Sizes and counts move only with the positions, an idle order
                # rate not at all: judged again only when those changed.
                kind = limit.kind
                if kind in _SHAPE_KINDS:
                    if inputs.get(limit.id) is holdings:
                        continue
                    inputs[limit.id] = holdings
                elif kind is RiskLimitKind.MAX_ORDERS_PER_MINUTE:
                    if not book.orders and inputs.get(limit.id) is _IDLE:
                        continue
                    inputs[limit.id] = None if book.orders else _IDLE
                self._judge(limit, self._measure(limit, now))
        self._soon_wide_pass()

    def _soon_wide_pass(self) -> None:
        """Run `_wide_pass` once this loop iteration's events are in."""
        if not self._wide_pending:
            self._wide_pending = True
            asyncio.get_running_loop().call_soon(self._wide_pass)

    def _wide_pass(self) -> None:
        """Once per loop iteration with changes: the book of all accounts, the
        limits over several accounts, and the books to store."""
        self._wide_pending = False
        try:
            self._update_total(self._clock.now().date())
            if self._wide:
                now = self._clock.monotonic()
                for limit in self._wide:
                    self._judge(limit, self._measure(limit, now))
            if self._dirty:
                after_commit(self._save_books(), lambda: None)
        except Exception:
            log.exception("risk evaluation failed")

    def marked(self) -> None:
        """Every running account was just marked (`Kernel.mark`): the book of
        all accounts is whole, and recorded."""
        self._update_total(self._clock.now().date(), whole=True)

    def _observe(self, book: AccountBook, equity: Decimal, today: date) -> bool:
        """`book.observe`, keeping the sums over every book current (so the
        book of all accounts costs the same at 500 accounts as at one)."""
        old = _shares(book)
        moved = book.observe(equity, today)
        new = _shares(book)
        sums = self._sums
        self._sums = (sums[0] + new[0] - old[0], sums[1] + new[1] - old[1])
        return moved

    def _update_total(self, today: date, *, whole: bool = False) -> None:
        equity, day_start = self._sums
        total = self._total
        if whole:
            if total.observe(equity, today):
                self._dirty.add(TOTAL)
            total.day_start = day_start
            self._live = total
            return
        live = self._provisional
        live.follow(total)
        live.observe(equity, today)
        live.day_start = day_start
        self._live = live

    # --- judging -----------------------------------------------------------------

    def _measure(self, limit: RiskLimit, now: float) -> Decimal:
        return measure(limit, self._books, self._live, self._valuer, now)

    def _judge(self, limit: RiskLimit, value: Decimal) -> None:
        if limit.account_id is not None and limit.kind in EQUITY_KINDS:
            book = self._books.get(limit.account_id)
            if book is not None:
                self._judged[limit.id] = book.generation
        old = self._levels.get(limit.id, RiskLevel.OK)
        new = _next_level(old, value, limit)
        if new is not old:
            self._levels[limit.id] = new
            self._moved(limit, old, new, value)

    def _moved(self, limit: RiskLimit, old: RiskLevel, new: RiskLevel, value: Decimal) -> None:
        shown = f"{value} {self._unit(limit)}"
        ports = self._ports
        if old is RiskLevel.BREACH:
            ports.alerts.resolve_key(f"risk:{limit.id}:breach")
        if new is RiskLevel.OK:
            ports.alerts.resolve_key(f"risk:{limit.id}:warning")
            ports.log(f"risk limit {limit.id} ({describe(limit)}) clear at {shown}")
            return
        if new is RiskLevel.WARNING:
            message = (
                f"Risk limit {limit.id} ({describe(limit)}) above its warning: {shown} "
                f"(warning {limit.warning}, threshold {limit.threshold})."
            )
            severity, level = Severity.HIGH, "warning"
        else:
            message = (
                f"Risk limit {limit.id} ({describe(limit)}) breached: {shown} over the "
                f"threshold {limit.threshold}; new orders in its scope are refused"
                f"{_ACTION_WORDS[limit.action]}."
            )
            severity, level = Severity.CRITICAL, "breach"
        ports.alerts.raise_alert(
            ALERT_KIND,
            severity,
            message,
            account_id=limit.account_id,
            dedup_key=f"risk:{limit.id}:{level}",
            data={
                "limit_id": limit.id,
                "kind": limit.kind.value,
                "scope": limit.scope.value,
                "symbol": limit.symbol,
                "level": level,
                "value": str(value),
                "threshold": str(limit.threshold),
                "action": limit.action.value,
            },
        )
        ports.log(message, level="warning" if new is RiskLevel.WARNING else "error")
        if new is RiskLevel.BREACH:
            self._act(limit)

    def _forget(self, limit: RiskLimit) -> None:
        """A deleted or disabled limit stands nowhere: its alerts are resolved."""
        self._levels.pop(limit.id, None)
        self._inputs.pop(limit.id, None)
        self._judged.pop(limit.id, None)
        for level in ("warning", "breach"):
            self._ports.alerts.resolve_key(f"risk:{limit.id}:{level}")

    # --- actions -----------------------------------------------------------------

    def _act(self, limit: RiskLimit) -> None:
        if limit.action is RiskAction.PAUSE:
            self._pause(limit)
        elif limit.action is RiskAction.FLATTEN:
            self._tasks.spawn(self._flatten(limit), f"flatten:{limit.id}")

    def _pause(self, limit: RiskLimit) -> None:
        ports = self._ports
        try:
            if limit.scope is not RiskScope.SYMBOL:
                paused = len(ports.strategies.pause_strategies(limit.account_id))
            else:
                definitions = [
                    d
                    for d in ports.definitions(limit.account_id)
                    if limit.symbol in d.symbols and not d.paused
                ]
                for definition in definitions:
                    self._tasks.spawn(
                        ports.strategies.pause_strategy(definition.id), f"pause:{definition.id}"
                    )
                paused = len(definitions)
        except EngineError as error:
            ports.log(f"risk limit {limit.id}: pausing failed: {error.message}", level="error")
            return
        ports.log(f"risk limit {limit.id}: {paused} strategies paused", level="warning")

    async def _flatten(self, limit: RiskLimit) -> None:
        ports = self._ports
        try:
            results = await ports.orders.flatten(
                limit.account_id, reason=f"risk limit {limit.id} breached"
            )
        except EngineError as error:
            ports.log(f"risk limit {limit.id}: flatten failed: {error.message}", level="error")
            return
        closed = sum(1 for r in results if r.ok)
        ports.log(
            f"risk limit {limit.id}: flatten closed {closed} of {len(results)} positions",
            level="warning",
            account_id=limit.account_id,
        )

    # --- the pre-trade check -----------------------------------------------------

    def _refusal(
        self,
        limit: RiskLimit,
        book: AccountBook,
        held: tuple[Holdings, Holdings] | None,
        now: float,
    ) -> Rejection | None:
        """Why `limit` refuses an order of `book`'s account (None: it lets it
        pass); `held` is the account's holdings before and after the order."""
        kind = limit.kind
        if kind in EQUITY_KINDS:
            if limit.account_id is None or self._judged.get(limit.id) != book.generation:
                # Judged here on the equity this instant (`_observe_now` took it),
                # so the order sees a loss, or a new day, and the alert is raised,
                # before the next mark.
                self._judge(limit, equity_value(limit, self._books, self._live))
            if self._levels.get(limit.id) is RiskLevel.BREACH:
                return breached(limit, self._measure(limit, now), self._unit(limit))
            return None
        if self._levels.get(limit.id) is RiskLevel.BREACH:
            return breached(limit, self._measure(limit, now), self._unit(limit))
        if kind in POSITION_KINDS:
            assert held is not None
            before, after = held
            value = self._value_with(limit, book, after, now)
            if value > limit.threshold and value > self._value_with(limit, book, before, now):
                return over_limit(limit, value, self._unit(limit))
        else:  # orders per minute: this one included
            if limit.account_id is not None:
                value = Decimal(book.orders_sent(now, limit.symbol) + 1)
            else:
                value = self._measure(limit, now) + 1
            if value > limit.threshold:
                return over_limit(limit, value, self._unit(limit))
        return None

    def _value_with(
        self, limit: RiskLimit, book: AccountBook, holdings: Holdings, now: float
    ) -> Decimal:
        """`limit`'s value were `book`'s account to hold `holdings`."""
        if limit.account_id is not None:  # it covers the order, so this account alone
            return shape_value(limit, holdings, book, self._valuer)
        return measure(
            limit, self._books, self._live, self._valuer, now, instead=(book.account_id, holdings)
        )

    def _observe_now(self, book: AccountBook, equity: Decimal, wide: bool) -> None:
        """Take the account's equity this instant, and the book of all accounts
        with it when `wide` (a limit over it covers the order): the order's
        daily-loss and drawdown limits are then judged on it by `_refusal`."""
        today = self._clock.now().date()
        if self._observe(book, equity, today):
            self._dirty.add(book.account_id)
            self._soon_wide_pass()  # which stores it
        if wide:
            self._update_total(today)

    def _cover(self, account_id: str, symbol: str) -> _Plan:
        limits = tuple(
            limit for limit in self.limits() if limit.enabled and covers(limit, account_id, symbol)
        )
        equities = [limit for limit in limits if limit.kind in EQUITY_KINDS]
        plan = _Plan(
            # The daily-loss and drawdown limits first: judged on the new equity
            # before any other limit can refuse the order, and named first, as
            # while one is breached the account takes no new order at all.
            (*equities, *(limit for limit in limits if limit.kind not in EQUITY_KINDS)),
            shapes=any(limit.kind in POSITION_KINDS for limit in limits),
            equities=bool(equities),
            wide_equities=any(limit.account_id is None for limit in equities),
        )
        self._covering[(account_id, symbol)] = plan
        return plan

    # --- internals ---------------------------------------------------------------

    def _index(self) -> None:
        self._by_account = {}
        self._wide = []
        for limit in self.limits():
            if not limit.enabled:
                continue
            if limit.account_id is None:
                self._wide.append(limit)
            else:
                self._by_account.setdefault(limit.account_id, []).append(limit)
        self._covering = {}

    def _put(self, limit: RiskLimit, what: str) -> None:
        self._limits[limit.id] = limit
        self._inputs.pop(limit.id, None)
        self._judged.pop(limit.id, None)
        self._index()
        self._publish(limit, what)
        if not limit.enabled:
            self._forget(limit)
            return
        # Judged afresh: a limit redefined (say, a higher threshold) leaves a breach
        # as soon as its new definition says so, without waiting for the warning.
        value = self._measure(limit, self._clock.monotonic())
        old = self._levels.get(limit.id, RiskLevel.OK)
        new = _next_level(RiskLevel.OK, value, limit)
        if new is not old:
            self._levels[limit.id] = new
            self._moved(limit, old, new, value)

    def _publish(self, limit: RiskLimit, what: str, *, deleted: bool = False) -> None:
        now = self._clock.now()
        self._ports.bus.publish(RiskLimitEvent(time=now, limit=limit, deleted=deleted))
        self._ports.log(f"risk limit {limit.id} ({describe(limit)}) {what}")

    def _validated(self, fields: dict[str, Any], now: datetime) -> RiskLimit:
        """A limit from `fields`, or ValidationFailed naming every bad field."""
        try:
            limit = RiskLimit.model_validate({**fields, "updated_at": now})
        except ValidationError as error:
            issues = [
                {
                    "path": ".".join(str(p) for p in e["loc"]),
                    "loc": list(e["loc"]),
                    "message": e["msg"],
                }
                for e in error.errors()
            ]
            raise ValidationFailed(_sentence(issues), issues) from None
        issues = [
            {"path": name, "loc": [name], "message": message}
            for name, message in risk_limit_problems(
                limit,
                [a.id for a in self._ports.settings.accounts],
                self._ports.settings.instruments,
            )
        ]
        if issues:
            raise ValidationFailed(_sentence(issues), issues)
        return limit

    def _problems(self, limit: RiskLimit) -> list[str]:
        settings = self._ports.settings
        return [
            f"{name}: {message}"
            for name, message in risk_limit_problems(
                limit, [a.id for a in settings.accounts], settings.instruments
            )
        ]

    async def _new_id(self, fields: dict[str, Any]) -> str:
        base = (
            "-".join(
                str(part)
                for part in (fields.get("kind"), fields.get("account_id"), fields.get("symbol"))
                if part
            )
            or "limit"
        )
        known = await self._store.known_ids()
        candidate, n = base, 1
        while candidate in known:
            n += 1
            candidate = f"{base}-{n}"
        return candidate

    def _metric(self, limit: RiskLimit, value: Decimal) -> RiskMetric:
        return RiskMetric(
            limit_id=limit.id,
            kind=limit.kind,
            scope=limit.scope,
            account_id=limit.account_id,
            symbol=limit.symbol,
            value=value,
            warning=limit.warning,
            threshold=limit.threshold,
            unit=self._unit(limit),
            utilisation=float(value / limit.threshold),
            level=self.level(limit.id),
            action=limit.action,
        )

    def _unit(self, limit: RiskLimit) -> str:
        book = self._books.get(limit.account_id or "")
        if book is not None:
            currency = book.currency
        else:
            accounts = self._ports.settings.accounts
            currency = accounts[0].currency if accounts else "USD"
        return unit(limit, currency)

    def _save_books(self) -> asyncio.Future[None]:
        dirty, self._dirty = self._dirty, set()
        books = [self._total if k == TOTAL else self._books[k] for k in sorted(dirty)]
        ready = [b.model() for b in books if b.peak is not None]
        if not ready:
            done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            done.set_result(None)
            return done
        return self._store.save_books(ready, self._clock.now())

    @staticmethod
    def _restore(book: AccountBook, stored: Any) -> None:
        if stored is not None:
            book.peak, book.day, book.day_start = stored


def _next_level(old: RiskLevel, value: Decimal, limit: RiskLimit) -> RiskLevel:
    warning = limit.warning
    if old is RiskLevel.BREACH:
        floor = warning if warning is not None else limit.threshold
        return RiskLevel.BREACH if value > floor else RiskLevel.OK
    if value > limit.threshold:
        return RiskLevel.BREACH
    if warning is not None and value > warning:
        return RiskLevel.WARNING
    return RiskLevel.OK


def _shares(book: AccountBook) -> tuple[Decimal, Decimal]:
    """What one account adds to the book of all accounts: its equity, and its
    day's opening equity (its equity, before it has one)."""
    equity = book.equity if book.equity is not None else _ZERO
    return equity, book.day_start if book.day_start is not None else equity


def _summed(books: Iterable[AccountBook]) -> tuple[Decimal, Decimal]:
    equity = day_start = _ZERO
    for book in books:
        shares = _shares(book)
        equity += shares[0]
        day_start += shares[1]
    return equity, day_start


@dataclass(frozen=True, slots=True)
class _Plan:
    """The enabled limits covering an account's orders in one symbol."""

    limits: tuple[RiskLimit, ...]
    shapes: bool  # any size, count or exposure limit: the order's holdings are needed
    equities: bool  # any daily-loss or drawdown limit: the equity now is needed
    wide_equities: bool  # one of those over several accounts


_SHAPE_KINDS = frozenset({RiskLimitKind.MAX_POSITION_SIZE, RiskLimitKind.MAX_OPEN_POSITIONS})
_IDLE = object()  # an order-rate limit judged with no order in its window

_ACTION_WORDS = {
    RiskAction.BLOCK: "",
    RiskAction.PAUSE: " and its strategies are paused",
    RiskAction.FLATTEN: " and its positions are being closed",
}


def _sentence(issues: list[dict[str, Any]]) -> str:
    return "; ".join(f"{i['path']}: {i['message']}" for i in issues) + "."


def summarised(
    evaluation: RiskEvaluation, accounts: list[AccountSnapshot], symbol: str | None = None
) -> RiskEvaluation:
    """`evaluation` narrowed to the limits that bind `symbol` (its own, and those
    over an account or everything), with its overall level and the margin
    ratio of `accounts`."""
    metrics = evaluation.metrics
    if symbol is not None:
        metrics = [m for m in metrics if m.symbol in (None, symbol)]
    if evaluation.kill_switch.engaged:
        level = "critical"
    elif any(m.level is RiskLevel.BREACH for m in metrics):
        level = "high"
    elif any(m.level is RiskLevel.WARNING or m.utilisation >= 0.5 for m in metrics):
        level = "moderate"
    else:
        level = "low"
    equity = sum((a.equity for a in accounts), Decimal(0))
    margin = sum((a.margin for a in accounts), Decimal(0))
    return evaluation.model_copy(
        update={
            "metrics": metrics,
            "violations": [m for m in metrics if m.level is RiskLevel.BREACH],
            "warnings": [m for m in metrics if m.level is RiskLevel.WARNING],
            "symbol": symbol,
            "risk_level": level,
            "margin_ratio": round(margin / equity, 4) if equity > 0 else None,
        }
    )
