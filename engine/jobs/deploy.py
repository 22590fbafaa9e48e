"""Deploying a model: a parameter set an optimisation stored, applied to a
running strategy of the same kind. The strategy keeps its positions and
trades with the new parameters from its next bar, its indicators warmed up
on the market's history."""

from __future__ import annotations

from pydantic import ValidationError

from engine.errors import Conflict, InvalidRequest, NotFound
from engine.jobs.context import JobServices
from engine.models import ParamSet, StrategyEvent, StrategyInfo, WorkerState

_WARM_UP_BARS = 200


class ParamSetNotFound(NotFound):
    def __init__(self, set_id: int) -> None:
        super().__init__(f"No model (parameter set) with id {set_id}.", model_id=set_id)


async def deploy(
    services: JobServices, set_id: int, strategy_id: str | None = None
) -> StrategyInfo:
    """Apply parameter set `set_id` to `strategy_id` (default: the strategy it
    was tuned for), which must be running; the strategy as it now is."""
    param_set = await services.store.param_sets.get(set_id)
    if param_set is None:
        raise ParamSetNotFound(set_id)
    target = strategy_id or param_set.strategy_id
    if target is None:
        raise InvalidRequest(
            f"Model {set_id} was not tuned for a particular strategy; name the strategy_id "
            "to deploy it to.",
            model_id=set_id,
        )
    info = _apply(services, param_set, target)
    now = services.clock.now()
    await services.store.param_sets.deployed(set_id, target, now)
    # Stored with the strategy too, so a restart runs it on these parameters.
    await services.strategy_service.set_params(target, info.params, set_id)
    services.bus.publish(StrategyEvent(time=now, strategy=info))
    services.log(f"model {set_id} deployed to strategy {target}: {param_set.params}")
    return info


def _apply(services: JobServices, param_set: ParamSet, strategy_id: str) -> StrategyInfo:
    workers = services.workers.workers.values()
    for worker in workers:
        strategy = worker.strategies.get(strategy_id)
        if strategy is None:
            continue
        if worker.state is not WorkerState.RUNNING:
            break
        if strategy.kind != param_set.kind:
            raise Conflict(
                f"Model {param_set.id} is for {param_set.kind}; strategy {strategy_id} is "
                f"{strategy.kind}.",
                model_id=param_set.id,
                strategy_id=strategy_id,
            )
        try:
            params = strategy.params_model.model_validate(param_set.params)
        except ValidationError as error:
            raise InvalidRequest(
                f"Model {param_set.id}'s parameters no longer fit {strategy.kind}: {error}",
                model_id=param_set.id,
            ) from error
        now = services.clock.now()
        history = {
            symbol: services.history(symbol, strategy.timeframe, _WARM_UP_BARS, now)
            for symbol in strategy.symbols
        }
        strategy.reconfigure(params, history)
        return strategy.info(worker.account_id)
    raise Conflict(
        f"Strategy {strategy_id} is not running; start its worker to deploy a model to it.",
        strategy_id=strategy_id,
    )
