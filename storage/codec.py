"""How model values become SQLite values and back.

Decimals are TEXT so they stay exact (`Decimal("1.10000")` keeps its zeros);
times are ISO-8601 UTC text with a fixed width, so text order is time order.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from pydantic import BaseModel


def timestamp(value: datetime) -> str:
    """UTC, always with microseconds: `2026-01-05T09:00:00.000000+00:00`.

    A naive datetime is taken to be UTC already (the engine's clocks are aware)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def parse_timestamp(text: str) -> datetime:
    return datetime.fromisoformat(text)


def sql_value(value: Any) -> Any:
    """One model attribute as SQLite stores it."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return timestamp(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, bool):
        return int(value)
    return value


def row_params(model: BaseModel, columns: Sequence[str]) -> tuple[Any, ...]:
    """The statement parameters for `model`, in the order of `columns`."""
    return tuple(sql_value(getattr(model, column)) for column in columns)


def upsert_sql(table: str, columns: Sequence[str], key: Sequence[str]) -> str:
    """`INSERT ... ON CONFLICT (key) DO UPDATE` setting every other column."""
    names = ", ".join(columns)
    marks = ", ".join("?" for _ in columns)
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in key)
    return (
        f"INSERT INTO {table} ({names}) VALUES ({marks}) "
        f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}"
    )


def insert_sql(table: str, columns: Sequence[str]) -> str:
    names = ", ".join(columns)
    marks = ", ".join("?" for _ in columns)
    return f"INSERT INTO {table} ({names}) VALUES ({marks})"
