"""`GET /metrics` in the Prometheus text format.

It needs a token with the viewer role (Prometheus sends one with
`authorization: {credentials: ...}` in its scrape config); `/health` stays open
for probes. Metrics cover every account, so an account-scoped key is refused.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from engine.security.principal import Principal
from engine.server.deps import require_all_accounts, viewer
from engine.server.metrics import Metrics

router = APIRouter(tags=["metrics"])


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text"}},
)
async def metrics(request: Request, principal: Principal = Depends(viewer)) -> Response:
    require_all_accounts(principal, "read metrics, which cover every account")
    registry: Metrics = request.app.state.metrics
    return Response(registry.render(), media_type=CONTENT_TYPE_LATEST)
