"""The event bus: typed events from the engine to any number of subscribers.

Publishing never blocks and never waits on a subscriber. Each subscription has
a bounded queue; quotes are conflated to the latest per symbol (a slow panel
still sees current prices), and a subscriber that falls further behind than
its queue loses the backlog and receives one `ResyncEvent` telling it to take
a fresh snapshot.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Any

from engine.models import Event, QuoteEvent, ResyncEvent


class Subscription:
    """One subscriber's view of the bus; iterate it with `async for`."""

    def __init__(self, bus: EventBus, maxsize: int) -> None:
        self._bus = bus
        self._maxsize = maxsize
        self._queue: deque[Event] = deque()
        self._quotes: dict[str, QuoteEvent] = {}
        self._dropped = 0
        self._waiter: asyncio.Future[None] | None = None
        self.closed = False

    @property
    def backlog(self) -> int:
        return len(self._queue) + len(self._quotes)

    def push(self, event: Event) -> None:
        if self.closed:
            return
        if type(event) is QuoteEvent:
            self._quotes[event.quote.symbol] = event
        elif len(self._queue) >= self._maxsize:
            self._dropped += len(self._queue) + 1
            self._queue.clear()
            self._quotes.clear()
        else:
            self._queue.append(event)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def get_nowait(self) -> Event | None:
        if self._dropped:
            dropped, self._dropped = self._dropped, 0
            return ResyncEvent(time=self._bus.now(), dropped=dropped)
        if self._queue:
            return self._queue.popleft()
        if self._quotes:
            symbol = next(iter(self._quotes))
            return self._quotes.pop(symbol)
        return None

    async def get(self) -> Event:
        while True:
            event = self.get_nowait()
            if event is not None:
                return event
            if self.closed:
                raise StopAsyncIteration
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Event:
        return await self.get()

    async def close(self) -> None:
        self.closed = True
        self._bus.unsubscribe(self)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


class EventBus:
    def __init__(self, now: Callable[[], Any]) -> None:
        self.now = now
        self._subscriptions: list[Subscription] = []
        self._listeners: list[Callable[[Event], None]] = []
        self.published = 0

    def publish(self, event: Event) -> None:
        self.published += 1
        for listener in self._listeners:
            listener(event)
        for subscription in self._subscriptions:
            subscription.push(event)

    def subscribe(self, maxsize: int = 10_000) -> Subscription:
        subscription = Subscription(self, maxsize)
        self._subscriptions.append(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        if subscription in self._subscriptions:
            self._subscriptions.remove(subscription)

    def add_listener(self, listener: Callable[[Event], None]) -> None:
        """A synchronous in-process listener (it must be quick and must not raise)."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[Event], None]) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    @property
    def subscribers(self) -> int:
        return len(self._subscriptions)
