"""Building strategies from settings: one class per configurable kind, defaults
filled in, unknown kinds and bad parameters rejected with the parameter named."""

from __future__ import annotations

import pytest

from config.models import RiskSettings
from config.strategies import STRATEGY_PARAMS
from engine.domain import Timeframe
from engine.errors import InvalidRequest, ValidationFailed
from engine.strategies import STRATEGIES, Strategy, create_strategy
from tests.engine.strategy_harness import RecordingContext


def test_every_configurable_kind_has_a_strategy() -> None:
    assert STRATEGIES.keys() == STRATEGY_PARAMS.keys()
    for kind, cls in STRATEGIES.items():
        assert cls.kind == kind and cls.params_model is STRATEGY_PARAMS[kind]


def build(kind: str, params: dict[str, object]) -> Strategy:
    return create_strategy(
        kind, "s1", params, ["EURUSD"], Timeframe.M1, RiskSettings(), RecordingContext()
    )


def test_create_strategy_fills_defaults() -> None:
    strategy = create_strategy(
        "bollinger_reversion",
        "b1",
        {},
        ["EURUSD"],
        Timeframe.S15,
        RiskSettings(),
        RecordingContext(),
    )
    assert strategy.info("a").params == {"period": 20, "deviations": 2.0}
    assert strategy.timeframe is Timeframe.S15


def test_unknown_kind_is_rejected() -> None:
    with pytest.raises(InvalidRequest, match="Unknown strategy kind 'turtle'"):
        build("turtle", {})


@pytest.mark.parametrize(
    ("kind", "params", "path", "message"),
    [
        ("ma_crossover", {"fast": 0}, "fast", "fast: Input should be greater than or equal to 1"),
        ("ma_crossover", {"fast": 30, "slow": 10}, "", "fast (30) must be smaller than slow (10)"),
        ("ma_crossover", {"fastest": 3}, "fastest", "fastest: Extra inputs are not permitted"),
        ("donchian_breakout", {"period": "wide"}, "period", "period: Input should be a valid"),
        ("bollinger_reversion", {"deviations": 0}, "deviations", "deviations: Input should be"),
    ],
)
def test_bad_params_are_rejected_naming_the_parameter(
    kind: str, params: dict[str, object], path: str, message: str
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        build(kind, params)

    assert caught.value.message.startswith(f"Invalid parameters for {kind}: {message}")
    assert [issue["path"] for issue in caught.value.details["issues"]] == [path]
