"""`optimize_strategy`: search a strategy's parameters by backtest.

Every parameter set tried is stored with its metrics and its rank by the
objective (the "models" of the API); `POST /models/deploy` applies one to
a running strategy. The backtests are seeded, so a run of the same search
gives the same ranking, and a run again after a crash replaces the sets of
the first (idempotent).
"""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, time
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from config.strategies import STRATEGY_PARAMS
from engine.analytics.performance import compute_performance
from engine.backtest import BacktestSpec, run_backtest
from engine.domain import Timeframe
from engine.jobs.context import JobContext, PermanentFailure
from engine.jobs.metrics import INTRADAY, metrics_dict
from engine.jobs.registry import Handler
from engine.models import JobPriority, ParamSet, StrategyInfo

Objective = Literal[
    "sharpe", "sortino", "calmar", "total_return", "profit_factor", "expectancy", "win_rate"
]
_MAX_SETS = 10_000


class OptimizeArgs(BaseModel):
    """Tune a configured strategy (`strategy_id`), or a `kind` on a `symbol`."""

    model_config = ConfigDict(extra="forbid")

    strategy_id: str | None = None
    kind: str | None = None
    symbol: str | None = None
    timeframe: Timeframe | None = None
    grid: dict[str, list[int | float]] = Field(
        description="values to try per parameter, e.g. {'fast': [3, 5], 'slow': [10, 20]}"
    )
    search: Literal["grid", "random"] = "grid"
    samples: int = Field(default=20, ge=1, le=_MAX_SETS, description="random search: sets")
    objective: Objective = "sharpe"
    hours: float = Field(default=4.0, gt=0, le=24 * 14, description="backtest length")
    seed: int | None = Field(default=None, description="default: the engine's market seed")
    start: datetime | None = Field(default=None, description="default: today 00:00 UTC")

    @model_validator(mode="after")
    def _check(self) -> Self:
        if (self.strategy_id is None) == (self.kind is None):
            raise ValueError("give either strategy_id or kind (with symbol)")
        if self.kind is not None:
            if self.kind not in STRATEGY_PARAMS:
                raise ValueError(
                    f"unknown strategy kind {self.kind!r}; known: {', '.join(STRATEGY_PARAMS)}"
                )
            if self.symbol is None:
                raise ValueError("a search by kind needs a symbol")
            _check_grid(self.kind, self.grid)
        if not self.grid or any(not values for values in self.grid.values()):
            raise ValueError("grid needs at least one parameter with at least one value")
        sets = 1
        for values in self.grid.values():
            sets *= len(values)
        if sets > _MAX_SETS:
            raise ValueError(f"the grid has {sets} sets; at most {_MAX_SETS}")
        return self


async def optimize_strategy(ctx: JobContext, args: OptimizeArgs) -> dict[str, Any]:
    services = ctx.services
    target = _target(ctx, args)
    kind, symbol, timeframe = target.kind, target.symbols[0], target.timeframe
    if args.strategy_id is not None:
        try:
            _check_grid(kind, args.grid)
        except ValueError as error:
            raise PermanentFailure(str(error)) from error
    candidates, skipped = _candidates(kind, target.params, args)
    seed = services.settings.engine.seed if args.seed is None else args.seed
    now = ctx.clock.now()
    start = args.start or datetime.combine(now.date(), time.min, tzinfo=UTC)
    account = services.settings.account(target.account_id) if target.account_id else None
    risk = services.settings.account_risk(account) if account else services.settings.default_risk()
    tried: list[tuple[dict[str, Any], dict[str, Any], float | None]] = []
    for index, params in enumerate(candidates):
        await ctx.progress(100 * index / len(candidates), f"backtest {index + 1}/{len(candidates)}")
        result = await run_backtest(
            BacktestSpec(kind, params, symbol, timeframe, start, args.hours, seed, risk),
            services.settings.instruments,
        )
        metrics = metrics_dict(
            compute_performance(result.equity, result.trade_pnls, conventions=INTRADAY)
        )
        metrics["orders"] = result.orders
        metrics["final_balance"] = str(result.final_balance)
        tried.append((params, metrics, _score(metrics.get(args.objective))))
    order = sorted(range(len(tried)), key=lambda i: (tried[i][2] is None, -(tried[i][2] or 0), i))
    rank = {index: position + 1 for position, index in enumerate(order)}
    sets = [
        ParamSet(
            job_id=ctx.job.id,
            kind=kind,
            strategy_id=args.strategy_id,
            symbol=symbol,
            timeframe=timeframe,
            params=params,
            objective=args.objective,
            score=score,
            metrics=metrics,
            rank=rank[index],
            created_at=now,
        )
        for index, (params, metrics, score) in enumerate(tried)
    ]
    await services.store.param_sets.replace_for_job(ctx.job.id, sets)
    await ctx.progress(100, f"{len(sets)} parameter sets tried")
    best = sets[order[0]] if sets else None
    return {
        "kind": kind,
        "symbol": symbol,
        "objective": args.objective,
        "tried": len(sets),
        "skipped": skipped,
        "best": None if best is None else {"params": best.params, "score": best.score},
    }


def _target(ctx: JobContext, args: OptimizeArgs) -> StrategyInfo:
    """The strategy to tune: a configured one, or a stand-in for a kind."""
    if args.strategy_id is not None:
        for strategy in ctx.services.strategies():
            if strategy.id == args.strategy_id:
                return strategy
        raise PermanentFailure(f"No strategy with id {args.strategy_id!r}.")
    assert args.kind is not None and args.symbol is not None
    if args.symbol not in ctx.services.settings.instruments:
        raise PermanentFailure(f"No instrument {args.symbol!r} is configured.")
    return StrategyInfo(
        id=f"search:{args.kind}",
        account_id="",
        kind=args.kind,
        params={},
        symbols=[args.symbol],
        timeframe=args.timeframe or ctx.services.settings.defaults.strategy.timeframe,
    )


def _candidates(
    kind: str, base: dict[str, Any], args: OptimizeArgs
) -> tuple[list[dict[str, Any]], int]:
    """The valid parameter sets to try (the grid over `base`), and how many of
    the grid's sets the kind's model refused (e.g. fast >= slow)."""
    model = STRATEGY_PARAMS[kind]
    names = sorted(args.grid)
    valid, skipped = [], 0
    for values in itertools.product(*(args.grid[n] for n in names)):
        try:
            params = model.model_validate({**base, **dict(zip(names, values, strict=True))})
        except ValidationError:
            skipped += 1
            continue
        valid.append(params.model_dump(mode="json"))
    if args.search == "random" and len(valid) > args.samples:
        seed = args.seed if args.seed is not None else 0
        valid = random.Random(seed).sample(valid, args.samples)
    return valid, skipped


def _check_grid(kind: str, grid: dict[str, Any]) -> None:
    unknown = sorted(set(grid) - set(STRATEGY_PARAMS[kind].model_fields))
    if unknown:
        known = ", ".join(STRATEGY_PARAMS[kind].model_fields)
        raise ValueError(f"{kind} has no parameter {', '.join(unknown)}; its parameters: {known}")


def _score(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


HANDLER = Handler(
    name="optimize_strategy",
    run=optimize_strategy,
    args_model=OptimizeArgs,
    priority=JobPriority.LOW,
    timeout_seconds=3600,
    max_retries=1,
    description=(
        "Grid or random search of a strategy's parameters by seeded backtest; stores every set "
        "tried with its metrics and rank (GET /models). A run again replaces its sets."
    ),
)
