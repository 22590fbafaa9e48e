"""Models: the parameter sets optimisations tried, each with its backtest
metrics and rank; training one (an `optimize_strategy` job) and deploying a
set to a running strategy are for traders."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request, status
from pydantic import Field

from engine.engine import Engine
from engine.jobs.deploy import ParamSetNotFound
from engine.jobs.handlers.optimize import OptimizeArgs
from engine.models import Job, JobPriority, ParamSet, StrategyInfo
from engine.security.principal import Principal
from engine.server.deps import audited, get_engine, require_all_accounts, trader, viewer
from engine.server.routers.jobs import invalid_as_422
from engine.server.schemas import Page, Paging, RowId, error_responses, paging
from engine.server.schemas import Request as RequestBody

router = APIRouter(prefix="/models", tags=["models"], responses=error_responses(401, 422, 429))

_paging = paging("id", "score", "rank", "created_at", "job_id", default="id", order="desc")


class TrainModel(OptimizeArgs):
    """The search to run (see the `optimize_strategy` handler)."""

    priority: JobPriority | None = None


class DeployModel(RequestBody):
    model_id: int = Field(ge=1, le=2**63 - 1)
    strategy_id: str | None = Field(
        default=None, description="default: the strategy the set was tuned for"
    )


@router.get("", response_model=Page[ParamSet])
async def list_models(
    paging: Paging = Depends(_paging),
    job_id: int | None = Query(None, ge=1, description="the sets one search tried"),
    kind: str | None = Query(None, description="strategy kind"),
    strategy_id: str | None = Query(None),
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(viewer),
) -> Page[ParamSet]:
    """Sort by `rank` (ascending) within a `job_id` for a search's results table."""
    items, total = await engine.store.param_sets.query(
        job_id=job_id,
        kind=kind,
        strategy_id=strategy_id,
        sort=paging.sort or "id",
        descending=paging.descending,
        skip=paging.skip,
        limit=paging.limit,
    )
    return Page[ParamSet](items=items, total=total, skip=paging.skip, limit=paging.limit)


@router.get("/{model_id}", response_model=ParamSet, responses=error_responses(404))
async def get_model(
    model_id: RowId, engine: Engine = Depends(get_engine), principal: Principal = Depends(viewer)
) -> ParamSet:
    param_set = await engine.store.param_sets.get(model_id)
    if param_set is None:
        raise ParamSetNotFound(model_id)
    return param_set


@router.post(
    "/train",
    response_model=Job,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(403),
)
async def train(
    body: TrainModel,
    request: Request,
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(trader),
) -> Job:
    """Enqueue an `optimize_strategy` job; follow it at `/jobs/{id}`, then read
    its sets at `/models?job_id=...&sort=rank&order=asc`."""
    require_all_accounts(principal, "train models")
    args = body.model_dump(mode="json", exclude={"priority"}, exclude_none=True)
    async with audited(request, principal, "model.train", "handler:optimize_strategy"):
        job, _ = await invalid_as_422(
            engine.jobs.enqueue("optimize_strategy", args, priority=body.priority), "body"
        )
    return job


@router.post("/deploy", response_model=StrategyInfo, responses=error_responses(403, 404, 409))
async def deploy_model(
    body: DeployModel,
    request: Request,
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(trader),
) -> StrategyInfo:
    """Apply a parameter set to a running strategy of its kind: it trades with
    them from its next bar, keeping its positions."""
    require_all_accounts(principal, "deploy models")
    async with audited(request, principal, "model.deploy", f"model:{body.model_id}"):
        return await engine.jobs.deploy(body.model_id, body.strategy_id)
