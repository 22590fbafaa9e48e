"""The built-in strategies, by kind, and the one way to build one from settings."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from config.models import RiskSettings
from engine.domain import Timeframe
from engine.errors import InvalidRequest, ValidationFailed
from engine.strategies.base import Strategy, StrategyContext
from engine.strategies.bollinger import BollingerReversion
from engine.strategies.donchian import DonchianBreakout
from engine.strategies.ma_crossover import MaCrossover

__all__ = ["STRATEGIES", "Strategy", "StrategyContext", "create_strategy"]

STRATEGIES: dict[str, type[Strategy[Any]]] = {
    cls.kind: cls for cls in (MaCrossover, DonchianBreakout, BollingerReversion)
}


def create_strategy(
    kind: str,
    strategy_id: str,
    params: dict[str, Any],
    symbols: list[str],
    timeframe: Timeframe,
    risk: RiskSettings,
    context: StrategyContext,
) -> Strategy[Any]:
    """Build a strategy of `kind` with `params` validated by the kind's model.

    Raises `InvalidRequest` for an unknown kind and `ValidationFailed` naming
    each bad parameter.
    """
    cls = STRATEGIES.get(kind)
    if cls is None:
        known = ", ".join(sorted(STRATEGIES))
        raise InvalidRequest(f"Unknown strategy kind {kind!r}; known kinds: {known}.", kind=kind)
    try:
        validated = cls.params_model.model_validate(params)
    except ValidationError as exc:
        issues = [_issue(error) for error in exc.errors(include_url=False)]
        problems = "; ".join(
            f"{i['path']}: {i['message']}" if i["path"] else i["message"] for i in issues
        )
        raise ValidationFailed(f"Invalid parameters for {kind}: {problems}.", issues) from exc
    return cls(strategy_id, validated, symbols, timeframe, risk, context)


def _issue(error: ErrorDetails) -> dict[str, Any]:
    path = ".".join(str(part) for part in error["loc"])
    message = str(error["msg"]).removeprefix("Value error, ")
    return {"path": path, "message": message}
