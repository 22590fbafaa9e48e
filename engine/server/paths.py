"""Which request paths are the API's, and under which endpoint group.

`/api/v1/<group>/...` is the API; the seeds' dialects add `/api/<group>/...`
and a few groups at the root (`/strategies`, `/catalog`, ...). A path in a
group is rate-limited with that group's budget (a dialect's `/api/workers`
shares `/api/v1/workers`'s) and audited when it changes something. Health,
readiness, info, metrics and the API documents are in no group: never limited.
"""

from __future__ import annotations

from collections.abc import Iterable

V1 = "/api/v1/"
SEEDS = "/api/"
OPEN = frozenset({"health", "ready", "info", "metrics", "docs", "redoc", "openapi.json"})


class ApiPaths:
    """The groups of this server: v1's, `/api/`'s, and the root groups the
    enabled dialects registered."""

    def __init__(self, root_groups: Iterable[str] = ()) -> None:
        self.root_groups = frozenset(root_groups)

    def endpoint(self, method: str, path: str) -> str:
        """`POST /api/v1/orders/7` -> `POST /orders/7`: the path after the API
        prefix, as `[server.rate_limits] endpoints` names it."""
        if path.startswith(V1):
            path = path[len(V1) - 1 :]
        elif path.startswith(SEEDS):
            path = path[len(SEEDS) - 1 :]
        return f"{method} {path.rstrip('/') or '/'}"

    def group(self, path: str) -> str | None:
        """`/api/v1/workers/x` -> `workers`; None for a path outside the API."""
        if path.startswith(V1):
            rest = path[len(V1) :]
        elif path.startswith(SEEDS):
            rest = path[len(SEEDS) :]
        elif path == V1.rstrip("/"):
            return "root"
        else:
            first = path.lstrip("/").split("/", 1)[0]
            return first if first in self.root_groups else None
        group = rest.split("/", 1)[0]
        if group in OPEN:
            return None
        return group or "root"
