"""Input first: a key's effect is painted before live data that was waiting.

Not timed: the test orders what happens. Live data is changed and a key press
and the timer's paint are queued back to back, the paint behind the key; the
frames the panel then sends to the terminal must show the key's effect first
and the data after it. Without the hold the data's paint runs while the key
is still on its way up from the focused table, and its frame comes first (or
with the key's).
"""

from __future__ import annotations

from decimal import Decimal

from textual import events

from bench.bench_panel import FrameWatch
from engine.client import LocalEngineClient
from engine.engine import Engine
from engine.models import AccountEvent
from tests.tui.helpers import ready, until
from tui.app import TradeDeckApp

MARKER = "123,456.78"
FILTER = "ilter workers"  # the filter line's placeholder; the cursor covers its "f"


class Frames(FrameWatch):
    """The text of every frame the app sends to its (headless) terminal, in order."""

    @property
    def texts(self) -> list[str]:
        return [text for _, text in self.frames]

    def first(self, text: str, start: int = 0) -> int | None:
        return next((i for i, t in enumerate(self.texts[start:], start) if text in t), None)


def _change_equity(engine: Engine, account_id: str, equity: Decimal) -> None:
    account = next(a for a in engine.snapshot().accounts if a.account_id == account_id)
    changed = account.model_copy(update={"equity": equity})
    engine.bus.publish(AccountEvent(time=account.time, account=changed))


async def test_a_key_paints_before_the_live_data_queued_behind_it(engine: Engine):
    app = TradeDeckApp(LocalEngineClient(engine), clock_tick=False)
    frames = Frames(app)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot)
        await pilot.press("1")
        _change_equity(engine, "account-001", Decimal("123456.78"))
        await until(pilot, lambda: app.state.accounts["account-001"].equity == Decimal("123456.78"))
        await pilot.pause(0.05)
        assert frames.first(MARKER) is None  # not painted: no timer runs in this test
        start = len(frames.texts)

        # The key, then the timer's paint of live data, in the app's queue in that order.
        app.post_message(events.Key("slash", "/"))
        app.call_later(app.paint_live)
        await until(pilot, lambda: frames.first(MARKER, start) is not None)

        key_frame = frames.first(FILTER, start)
        data_frame = frames.first(MARKER, start)
        assert key_frame is not None and data_frame is not None
        assert key_frame < data_frame, "live data was painted before (or with) the key's effect"
        assert not app.input_pending


async def test_live_data_is_not_held_by_a_key_a_widget_keeps(engine: Engine):
    """Typing into the filter never reaches the app; the hold ends on its own."""
    app = TradeDeckApp(LocalEngineClient(engine), clock_tick=False)
    frames = Frames(app)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot)
        await pilot.press("1", "slash")
        await until(pilot, lambda: not app.input_pending)
        _change_equity(engine, "account-001", Decimal("123456.78"))
        await until(pilot, lambda: app.state.accounts["account-001"].equity == Decimal("123456.78"))
        start = len(frames.texts)

        app.post_message(events.Key("a", "a"))  # typed into the filter's input
        app.call_later(app.paint_live)
        await until(pilot, lambda: frames.first(MARKER, start) is not None, timeout=2)
        assert not app.input_pending
