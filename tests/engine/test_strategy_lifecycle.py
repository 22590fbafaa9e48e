"""A strategy's life: pause, resume and stop, what it reports about itself, and
order ids that stay the same when a decision is repeated."""

from __future__ import annotations

import pytest

from engine.domain import Timeframe
from engine.errors import Conflict
from engine.models import Side, StrategyState
from tests.engine.strategy_harness import (
    RecordingContext,
    bar_time,
    make_strategy,
    run_bars,
)
from tests.engine.test_strategy_bollinger import CLOSES as BOLLINGER_CLOSES
from tests.engine.test_strategy_ma_crossover import CLOSES, PARAMS


def test_paused_strategy_opens_nothing_but_keeps_its_indicators_current() -> None:
    ctx = RecordingContext()
    strategy = make_strategy("ma_crossover", PARAMS, ctx)
    run_bars(strategy, ctx, "EURUSD", CLOSES[:5])

    strategy.pause()
    paused = run_bars(strategy, ctx, "EURUSD", CLOSES[5:8], first_index=5)
    assert strategy.state is StrategyState.PAUSED
    assert ctx.orders == []
    assert paused[5][0].reason.endswith("crossed above slow SMA 1.09780; skipped: strategy paused")

    # The averages kept moving while paused, so the cross down lands on bar 8.
    strategy.resume()
    resumed = run_bars(strategy, ctx, "EURUSD", CLOSES[8:], first_index=8)
    assert sorted(resumed) == [8]
    assert [(o.side, o.client_order_id) for o in ctx.orders] == [
        (Side.SELL, f"s1:EURUSD:{int(bar_time(8).timestamp())}")
    ]


def test_paused_strategy_keeps_its_positions() -> None:
    ctx = RecordingContext()
    strategy = make_strategy("bollinger_reversion", {"period": 4, "deviations": 1.0}, ctx)
    run_bars(strategy, ctx, "EURUSD", BOLLINGER_CLOSES[:5])  # long at bar 4
    strategy.pause()

    signals = run_bars(strategy, ctx, "EURUSD", BOLLINGER_CLOSES[5:7], first_index=5)

    assert ctx.closes == []
    assert [p.side for p in ctx.open] == [Side.BUY]
    assert signals[6][0].reason.endswith("back above the mean 1.09965; skipped: strategy paused")


def test_stopped_strategy_does_nothing() -> None:
    ctx = RecordingContext()
    strategy = make_strategy("ma_crossover", PARAMS, ctx)
    strategy.stop()

    assert run_bars(strategy, ctx, "EURUSD", CLOSES) == {}
    assert ctx.orders == [] and ctx.signals == []
    with pytest.raises(Conflict, match="s1 is stopped"):
        strategy.resume()
    with pytest.raises(Conflict):
        strategy.pause()
    assert strategy.state is StrategyState.STOPPED


def test_info_reports_state_and_signals() -> None:
    ctx = RecordingContext()
    strategy = make_strategy("ma_crossover", PARAMS, ctx, symbols=("EURUSD", "GBPUSD"))
    run_bars(strategy, ctx, "EURUSD", CLOSES)
    strategy.pause()

    info = strategy.info("account-test")

    assert info.model_dump() == {
        "id": "s1",
        "account_id": "account-test",
        "kind": "ma_crossover",
        "params": {"fast": 2, "slow": 4},
        "symbols": ["EURUSD", "GBPUSD"],
        "timeframe": Timeframe.M1,
        "state": StrategyState.PAUSED,
        "signals": 2,
        "last_signal_at": ctx.signals[-1].time,
    }


def test_the_same_decision_gives_the_same_client_order_id() -> None:
    # A restarted strategy deciding on the same bar asks for the same order, so
    # the worker can recognise the repeat.
    first, second = RecordingContext(), RecordingContext()
    for ctx in (first, second):
        run_bars(make_strategy("ma_crossover", PARAMS, ctx), ctx, "EURUSD", CLOSES[:7])

    assert [o.client_order_id for o in first.orders] == [o.client_order_id for o in second.orders]
    assert len(first.orders) == 1


def test_a_long_strategy_id_still_fits_the_client_order_id() -> None:
    ctx = RecordingContext()
    long_id = "account-with-a-long-name:ma_crossover:" + "x" * 40
    strategy = make_strategy("ma_crossover", PARAMS, ctx, strategy_id=long_id)

    run_bars(strategy, ctx, "EURUSD", CLOSES[:7])

    (order,) = ctx.orders
    assert len(order.client_order_id) <= 64
    assert order.client_order_id.endswith(f":EURUSD:{int(bar_time(5).timestamp())}")
    assert order.strategy_id == long_id
