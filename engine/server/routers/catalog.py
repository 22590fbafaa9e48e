"""The data catalog: the datasets the engine holds (`engine.catalog`), each
described, and downloaded as CSV or JSON Lines that stream a page at a time:
a year of M1 bars never sits in memory, on the server or in the response.

Any key may read; a key limited to some accounts sees its accounts' rows only.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import StreamingResponse

from engine.engine import Engine
from engine.models import Dataset
from engine.security.principal import Principal
from engine.server.deps import get_engine, viewer
from engine.server.schemas import Page, Paging, error_responses, paging

log = logging.getLogger("tradedeck.api.catalog")

router = APIRouter(prefix="/catalog", tags=["catalog"], responses=error_responses(401, 422, 429))

_paging = paging("id", "kind", "rows", "size_bytes", "start", "end", default="id")
DatasetId = Path(pattern=r"^[A-Za-z0-9_.:-]{1,80}$", examples=["fills", "bars.EURUSD.M1"])
_MEDIA = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}


@router.get("", response_model=Page[Dataset])
async def list_datasets(
    paging: Paging = Depends(_paging),
    kind: Literal["stored", "market"] | None = Query(None),
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(viewer),
) -> Page[Dataset]:
    """Every dataset with its columns, rows, time range and size (the stored
    ones counted over the caller's accounts)."""
    datasets = await engine.catalog.datasets(principal.accounts)
    return paging.page([d for d in datasets if kind is None or d.kind == kind])


@router.get("/datasets/{dataset_id}", response_model=Dataset, responses=error_responses(404))
async def get_dataset(
    dataset_id: str = DatasetId,
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(viewer),
) -> Dataset:
    return await engine.catalog.dataset(dataset_id, principal.accounts)


@router.get(
    "/datasets/{dataset_id}/download",
    response_class=StreamingResponse,
    responses={
        200: {"content": {_MEDIA["csv"]: {}, _MEDIA["jsonl"]: {}}, "description": "the rows"},
        **error_responses(404),
    },
)
async def download(
    dataset_id: str = DatasetId,
    format: Literal["csv", "jsonl"] = Query("csv", description="CSV with a header, or JSON Lines"),
    start: datetime | None = Query(None, description="rows at or after this time"),
    end: datetime | None = Query(None, description="rows before this time"),
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(viewer),
) -> StreamingResponse:
    """The dataset's rows in [start, end), oldest first, streamed."""
    dataset = await engine.catalog.dataset(dataset_id, principal.accounts)  # 404 before streaming
    pages = engine.catalog.pages(dataset_id, principal.accounts, start, end)
    columns = [c.name for c in dataset.columns]
    body = _csv(pages, columns) if format == "csv" else _jsonl(pages)
    return StreamingResponse(
        _logged(body, dataset_id),
        media_type=_MEDIA[format],
        headers={"Content-Disposition": f'attachment; filename="{dataset_id}.{format}"'},
    )


Pages = AsyncIterator[list[Mapping[str, Any]]]


async def _csv(pages: Pages, columns: list[str]) -> AsyncIterator[str]:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    yield _drain(buffer)
    async for page in pages:
        writer.writerows(page)
        yield _drain(buffer)


async def _jsonl(pages: Pages) -> AsyncIterator[str]:
    async for page in pages:
        yield "".join(json.dumps(row, separators=(",", ":")) + "\n" for row in page)


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


async def _logged(body: AsyncIterator[str], dataset_id: str) -> AsyncIterator[str]:
    """A failure once the response has started cannot change its status: the
    body ends short, and the log says why."""
    try:
        async for text in body:
            yield text
    except Exception:
        log.exception("the download of %s failed part way", dataset_id)
        raise
