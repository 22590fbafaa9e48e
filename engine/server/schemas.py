"""Shapes at the API's edge: the list envelope, paging, the error body, and the
request bodies. Request bodies forbid unknown fields, so a client can never set
what it must not."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from typing import Annotated, Any, Generic, Literal, TypeVar

from fastapi import Path, Query
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model
from starlette.requests import Request as HttpRequest

T = TypeVar("T")

Order = Literal["asc", "desc"]


# Lists paged in SQL pass `skip` as an OFFSET: SQLite's integers are 64-bit.
MAX_SKIP = 2**63 - 1

# Path parameters. Ids are SQLite integers (64-bit): a larger one names nothing.
RowId = Annotated[int, Path(ge=1, le=2**63 - 1, examples=[1])]
Symbol = Annotated[str, Path(description="an instrument's symbol", examples=["EURUSD"])]


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    skip: int
    limit: int


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorInfo(BaseModel):
    code: str = Field(description="INVALID_REQUEST, UNAUTHORIZED, FORBIDDEN, NOT_FOUND, ...")
    message: str
    details: dict[str, Any]


class ErrorResponse(BaseModel):
    """The one error envelope (SPEC 6)."""

    error: ErrorInfo
    request_id: str


_ERROR_DESCRIPTIONS = {
    400: "Invalid request",
    401: "Not authenticated",
    403: "The token's role does not allow this",
    404: "Not found (or outside the token's accounts)",
    409: "The current state does not allow this",
    422: "Invalid request: `details.fields` names each field",
    429: "Rate limited: retry after `Retry-After` seconds",
    503: "The engine is not running",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error statuses a route can answer with."""
    return {
        status: {"model": ErrorResponse, "description": _ERROR_DESCRIPTIONS[status]}
        for status in statuses
    }


class Paging:
    """`skip`/`limit` (default 50, max 500) and `sort`/`order` query parameters.

    Prefer `Depends(paging(...))`: it accepts only the named sort fields, lists
    them in OpenAPI, and runs on the event loop, where `Depends()` on this class
    costs a hop through FastAPI's thread pool per request (classes always take
    it). As `Depends()`, any field of the listed model is accepted as `sort`."""

    def __init__(
        self,
        skip: int = Query(0, ge=0, le=MAX_SKIP, description="items to skip"),
        limit: int = Query(50, ge=1, le=500, description="items to return (max 500)"),
        sort: str | None = Query(None, description="field to sort by"),
        order: Order = Query("asc"),
    ) -> None:
        self.skip = skip
        self.limit = limit
        self.sort = sort
        self.order = order

    @property
    def descending(self) -> bool:
        return self.order == "desc"

    def page(self, items: Sequence[T], *, key: Callable[[T], Any] | None = None) -> Page[T]:
        """Sort (by `sort`, else by `key`), then cut out the requested page."""
        rows = list(items)
        if self.sort is not None:
            field = self.sort
            if rows and field not in type(rows[0]).model_fields:  # type: ignore[attr-defined]
                raise invalid_sort(field, sorted(type(rows[0]).model_fields))  # type: ignore[attr-defined]
            rows.sort(key=lambda item: _sort_key(getattr(item, field)), reverse=self.descending)
        elif key is not None:
            rows.sort(key=key, reverse=self.descending)
        return Page[Any](
            items=rows[self.skip : self.skip + self.limit],
            total=len(rows),
            skip=self.skip,
            limit=self.limit,
        )


def paging(*fields: str, default: str, order: Order = "asc") -> Callable[..., Paging]:
    """A `Paging` dependency whose `sort` is one of `fields` (an enum in OpenAPI;
    anything else is a 422 naming `query.sort`), `default` when not given."""
    if default not in fields:
        raise ValueError(f"the default sort field {default!r} is not among {fields}")
    sort_field = Literal[fields]  # type: ignore[valid-type]

    async def dependency(skip: int, limit: int, sort: str, order: Order) -> Paging:
        return Paging(skip, limit, sort, order)

    # Built by hand: the annotations must be the objects made above, which a
    # string annotation (this module uses postponed evaluation) cannot name.
    def param(name: str, annotation: Any, default: Any) -> inspect.Parameter:
        return inspect.Parameter(
            name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default
        )

    dependency.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            param("skip", int, Query(0, ge=0, le=MAX_SKIP, description="items to skip")),
            param("limit", int, Query(50, ge=1, le=500, description="items to return (max 500)")),
            param("sort", sort_field, Query(default, description="field to sort by")),
            param("order", Order, Query(order, description="sort direction")),
        ],
        return_annotation=Paging,
    )
    return dependency


class ListQuery(BaseModel):
    """A list route's query as one model: paging, sort, and the route's filters
    (a subclass made by `list_query` adds `sort` and the filters)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    skip: int = Field(0, ge=0, le=MAX_SKIP, description="items to skip")
    limit: int = Field(50, ge=1, le=500, description="items to return (max 500)")
    order: Order = Field("asc", description="sort direction")

    @property
    def paging(self) -> Paging:
        return Paging(self.skip, self.limit, getattr(self, "sort", None), self.order)


Q = TypeVar("Q", bound=ListQuery)


class QueryModel(Generic[Q]):
    """A list route's query parameters validated as one model: one pydantic
    validation per request, where FastAPI's handling of separate `Query()`
    parameters costs a pass of its own per parameter (about 25 µs each; the
    most polled routes have five). `parse` is the route's dependency and
    `openapi` its `openapi_extra`, which documents every parameter as FastAPI
    would; errors are the same 422 naming `query.<name>`."""

    def __init__(self, model: type[Q]) -> None:
        self.model = model
        self.openapi: dict[str, Any] = {"parameters": _query_parameters(model)}

        async def parse(request: HttpRequest) -> Q:
            try:
                return model.model_validate(dict(request.query_params))
            except ValidationError as error:
                raise RequestValidationError(
                    [
                        {"loc": ("query", *e["loc"]), "msg": e["msg"], "type": e["type"]}
                        for e in error.errors(include_url=False)
                    ]
                ) from None

        self.parse = parse


def list_query(
    name: str, *fields: str, default: str, filters: dict[str, Any] | None = None
) -> QueryModel[Any]:
    """The query of a list sortable by `fields` (`default` when not given), with
    `filters`: `{param: (annotation, Field(...))}` as pydantic's `create_model` takes."""
    if default not in fields:
        raise ValueError(f"the default sort field {default!r} is not among {fields}")
    model = create_model(
        name,
        __base__=ListQuery,
        sort=(Literal[fields], Field(default, description="field to sort by")),  # type: ignore[valid-type]
        **(filters or {}),
    )
    return QueryModel(model)


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    """OpenAPI query parameters for the model's fields, their schemas inlined."""
    schema = model.model_json_schema(by_alias=True)
    definitions = schema.get("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return inline(definitions[node["$ref"].rsplit("/", 1)[-1]])
            return {k: inline(v) for k, v in node.items()}
        if isinstance(node, list):
            return [inline(v) for v in node]
        return node

    parameters = []
    for name, field_schema in schema["properties"].items():
        field_schema = inline(field_schema)
        description = field_schema.pop("description", None)
        parameter: dict[str, Any] = {"name": name, "in": "query", "required": False}
        if description:
            parameter["description"] = description
        parameter["schema"] = field_schema
        parameters.append(parameter)
    return parameters


def invalid_sort(field: str, allowed: Sequence[str]) -> RequestValidationError:
    """The 422 for an unknown sort field, shaped like every other field error."""
    return RequestValidationError(
        [
            {
                "loc": ("query", "sort"),
                "msg": f"cannot sort by {field!r}; sortable fields: {', '.join(allowed)}",
                "type": "enum",
            }
        ]
    )


def utc(value: datetime | None, name: str) -> datetime | None:
    """A query parameter's time in UTC (a time without a zone is taken as UTC);
    a 422 naming `query.<name>` when it cannot be expressed in UTC."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise RequestValidationError(
            [{"loc": ("query", name), "msg": "the time is out of range", "type": "value_error"}]
        ) from None


def _sort_key(value: Any) -> tuple[bool, Any]:
    """Missing values last (first when descending); values of a type that has no
    order (dicts, lists) by their text."""
    if value is None:
        return (True, 0)
    if isinstance(value, str | int | float | Decimal | datetime | Enum):
        return (False, value)
    return (False, str(value))


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
