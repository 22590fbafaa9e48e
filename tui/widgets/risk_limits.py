"""The risk screen's limits: each limit's value now against its warning and
threshold, drawn as a bar, keyed by limit id."""

from __future__ import annotations

from decimal import Decimal

from engine.models import RiskMetric
from tui import formatting as fmt
from tui.widgets.keyed_table import Column, KeyedTable, Row

BAR_WIDTH = 20


class LimitsTable(KeyedTable):
    COLUMNS = (
        Column("limit", "Limit", 22),
        Column("scope", "Scope", 22),
        Column("kind", "Kind", 21),
        Column("value", "Value", 13, numeric=True),
        Column("bar", "To threshold (|=warn)", BAR_WIDTH + 1),
        Column("warning", "Warning", 9, numeric=True),
        Column("threshold", "Threshold", 9, numeric=True),
        Column("level", "Level", 7),
        Column("action", "Action", 7),
    )


def limit_rows(metrics: list[RiskMetric]) -> list[Row]:
    """Breaches first, then warnings, then the rest; by id within each."""
    order = {"breach": 0, "warning": 1, "ok": 2}
    rows: list[Row] = []
    for m in sorted(metrics, key=lambda m: (order[m.level.value], m.limit_id)):
        rows.append(
            (
                m.limit_id,
                (
                    m.limit_id,
                    fmt.risk_scope(m.scope, m.account_id, m.symbol),
                    m.kind.value,
                    fmt.right(f"{_number(m.value)} {_short_unit(m.unit)}"),
                    fmt.limit_bar(m.value, m.warning, m.threshold, m.level, BAR_WIDTH),
                    fmt.right(_number(m.warning) if m.warning is not None else fmt.DASH),
                    fmt.right(_number(m.threshold)),
                    fmt.risk_level(m.level),
                    m.action.value,
                ),
            )
        )
    return rows


def _number(value: Decimal) -> str:
    """A limit's figure as people write it: no trailing zeros, two places at most."""
    rounded = value.quantize(Decimal("0.01")).normalize()
    return f"{rounded:,f}"


def _short_unit(unit: str) -> str:
    return {"positions": "pos", "orders/min": "/min"}.get(unit, unit)
