"""Parameter models of the built-in strategy kinds.

They live in `config` because they are what the user writes; the engine's
strategies take a validated instance. `STRATEGY_PARAMS` is the one registry
both validation and the engine look kinds up in.
"""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator


class StrategyParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MaCrossoverParams(StrategyParams):
    """Buy when the fast moving average crosses above the slow one, sell below."""

    fast: int = Field(default=10, ge=1, le=500)
    slow: int = Field(default=30, ge=2, le=2000)

    @model_validator(mode="after")
    def _fast_below_slow(self) -> Self:
        if self.fast >= self.slow:
            raise ValueError(f"fast ({self.fast}) must be smaller than slow ({self.slow})")
        return self


class DonchianBreakoutParams(StrategyParams):
    """Buy a close above the highest high of `period` bars, sell one below the lowest low."""

    period: int = Field(default=20, ge=2, le=1000)


class BollingerReversionParams(StrategyParams):
    """Buy a close below the lower band, sell one above the upper; exit at the mean."""

    period: int = Field(default=20, ge=2, le=1000)
    deviations: float = Field(default=2.0, gt=0, le=10)


STRATEGY_PARAMS: dict[str, type[StrategyParams]] = {
    "ma_crossover": MaCrossoverParams,
    "donchian_breakout": DonchianBreakoutParams,
    "bollinger_reversion": BollingerReversionParams,
}
