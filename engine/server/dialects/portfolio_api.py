"""The strategies/portfolio API as its clients know it: v1's groups at the root.

The seed documents paths, not shapes, and v1 was built from it, so each
endpoint is the v1 handler under the seed's path, answering v1's shapes:
`/strategies` (start, list, get, stop and remove, pause and resume),
`/portfolio` (summary, positions, history), `/orders` (submit, list, get,
cancel, modify), `/performance` (summary, metrics) and `/catalog` (the
datasets, each described and downloaded as CSV or JSON Lines). Its stream,
`/ws`, is the control panel's, which takes this API's channel names too.
"""

from __future__ import annotations

from fastapi import APIRouter

from engine.server.routers import catalog, orders, performance, portfolio, strategies

TITLE = "strategies and portfolio"
TAG = "dialect: strategies and portfolio"
GROUPS = ("strategies", "portfolio", "orders", "performance", "catalog")

router = APIRouter()
for group in (strategies, portfolio, orders, performance, catalog):
    router.include_router(group.router, tags=[TAG])
