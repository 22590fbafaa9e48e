"""Shapes at the API's edge: the list envelope, paging, and the request bodies.
Request bodies forbid unknown fields, so a client can never set what it must not."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Generic, Literal, TypeVar

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    skip: int
    limit: int


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Paging:
    """`skip`/`limit` (default 50, max 500) and `sort`/`order` query parameters."""

    def __init__(
        self,
        skip: int = Query(0, ge=0, description="items to skip"),
        limit: int = Query(50, ge=1, le=500, description="items to return (max 500)"),
        sort: str | None = Query(None, description="field to sort by"),
        order: Literal["asc", "desc"] = Query("asc"),
    ) -> None:
        self.skip = skip
        self.limit = limit
        self.sort = sort
        self.order = order

    def page(self, items: Sequence[T], *, key: Callable[[T], Any] | None = None) -> Page[T]:
        rows = list(items)
        if self.sort is not None:
            rows.sort(key=lambda item: _sort_key(item, self.sort), reverse=self.order == "desc")
        elif key is not None:
            rows.sort(key=key, reverse=self.order == "desc")
        return Page[Any](
            items=rows[self.skip : self.skip + self.limit],
            total=len(rows),
            skip=self.skip,
            limit=self.limit,
        )


def _sort_key(item: Any, field: str | None) -> tuple[bool, Any]:
    value = getattr(item, field, None) if field else None
    return (value is None, value if value is not None else 0)


class StartWorker(Request):
    apply_defaults: bool = True
    validate_config: bool = Field(default=True, alias="validate")

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class StopWorker(Request):
    timeout: float | None = Field(default=None, gt=0, le=300)


class BatchStarted(BaseModel):
    started_count: int
    started_workers: dict[str, Any]


class BatchStopped(BaseModel):
    stopped_count: int


class ValidationResult(BaseModel):
    valid: bool
    account_id: str
    errors: list[str]
    warnings: list[str]
    has_errors: bool
    has_warnings: bool


class BatchValidation(BaseModel):
    total_count: int
    valid_count: int
    invalid_count: int
    results: dict[str, ValidationResult]
