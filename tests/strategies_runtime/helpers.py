"""Driving a real engine on its virtual clock for the run-time strategy tests."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from config.models import Settings
from engine.engine import Engine

ACCOUNT = "account-001"


def one_account(settings: Settings) -> Settings:
    """The demo's first account alone, without its configured strategies: what
    trades is what a test adds."""
    settings = settings.model_copy(deep=True)
    settings.accounts = settings.accounts[:1]
    settings.accounts[0].strategies = []
    return settings


async def run_market(engine: Engine, seconds: float, step: float = 1.0) -> None:
    """Advance the clock and the market `seconds`, marking as the loops would."""
    for n in range(1, int(seconds / step) + 1):
        await engine.clock.advance(step)  # type: ignore[attr-defined]
        engine.step_market()
        if n % 10 == 0:
            engine.mark()
    await engine.quiesce()


async def run_until(
    engine: Engine, condition: Callable[[], Awaitable[bool]], *, limit: float, step: float = 30.0
) -> None:
    """Run the market in `step`s until `condition` holds; fail after `limit` seconds."""
    elapsed = 0.0
    while not await condition():
        assert elapsed < limit, f"the condition did not hold within {limit} simulated seconds"
        await run_market(engine, step)
        elapsed += step
