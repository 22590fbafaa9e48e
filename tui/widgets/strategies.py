"""A worker's strategies, keyed by strategy id, for the detail screen: `p`
pauses or resumes the one under the cursor."""

from __future__ import annotations

import json
from collections.abc import Iterable

from rich.text import Text

from engine.models import StrategyInfo, StrategyState
from tui.widgets.keyed_table import Column, KeyedTable, Row

_STATE_STYLES = {
    StrategyState.RUNNING: "green",
    StrategyState.PAUSED: "bold yellow",
    StrategyState.STOPPED: "dim",
}


class StrategiesTable(KeyedTable):
    COLUMNS = (
        Column("strategy", "Strategy", 31),
        Column("kind", "Kind", 19),
        Column("state", "State", 7),
        Column("timeframe", "TF", 3),
        Column("signals", "Sig", 4, numeric=True),
        Column("params", "Params", 26),
        Column("symbols", "Symbols", 16),
    )


def strategy_rows(strategies: Iterable[StrategyInfo]) -> list[Row]:
    return [(s.id, _cells(s)) for s in strategies]


def _cells(strategy: StrategyInfo) -> tuple[str | Text, ...]:
    params = json.dumps(strategy.params, separators=(", ", "="), sort_keys=True)
    return (
        strategy.id,
        strategy.kind,
        Text(strategy.state.value, style=_STATE_STYLES[strategy.state]),
        strategy.timeframe.value,
        Text(str(strategy.signals), justify="right"),
        params.strip("{}").replace('"', ""),
        ", ".join(strategy.symbols),
    )
