"""The trader's keys: every binding of the panel by id, where it applies, and
the checks a keymap from the configuration (`[keys]`) must pass.

A keymap maps binding ids to keys (`"orders.place" = "n"`, alternatives
comma-separated as in Textual: `"up,k"`). Textual applies it to the bindings
(`App.set_keymap`), so the footer and the command palette show the user's keys;
the help screen reads them from here. Two bindings that are active at the same
time may not share a key, an id must exist, and no key may be one that a
terminal multiplexer or an SSH session takes before the panel sees it.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from textual.binding import Binding, BindingType
from textual.keys import _normalize_key_list

from tui.screens.confirm import ConfirmScreen
from tui.screens.help import HelpScreen, HelpSection
from tui.screens.jobs import JobsScreen, ModelsTable, SchedulesTable
from tui.screens.kill_switch import KillSwitchScreen
from tui.screens.main import MainScreen
from tui.screens.order_ticket import OrderTicketScreen
from tui.screens.risk import RiskScreen
from tui.screens.worker_detail import WorkerDetailScreen
from tui.widgets.alerts import AlertsTable
from tui.widgets.jobs import JobsTable
from tui.widgets.orders import OrdersTable
from tui.widgets.pane import Pane
from tui.widgets.positions import PositionsTable
from tui.widgets.workers import WorkersTable

# Keys the panel never binds, by default or by keymap: what reaches it only
# sometimes, or never, in the terminals it runs in.
RESERVED_KEYS: dict[str, str] = {
    "ctrl+b": "tmux's prefix key",
    "ctrl+a": "GNU screen's prefix key (and a common tmux prefix)",
    "ctrl+s": "terminal flow control (XOFF) freezes the output",
    "ctrl+q": "terminal flow control (XON)",
    "ctrl+z": "the shell's suspend",
    "ctrl+backslash": "the terminal's quit signal",
    "ctrl+c": "copy and interrupt; the panel answers it with how to quit",
    "tilde": "SSH's escape character (after enter, ~. drops the connection)",
}

PALETTE = Binding(
    "ctrl+p",
    "command_palette",
    "Commands",
    id="app.commands",
    tooltip="Search every command that applies here",
)


@dataclass(frozen=True)
class Place:
    """Where a group of bindings applies, as the help screen lists them."""

    name: str
    bindings: tuple[Binding, ...]


def _bindings(bindings: Iterable[BindingType]) -> tuple[Binding, ...]:
    return tuple(b for b in bindings if isinstance(b, Binding))


def places(app_bindings: Iterable[BindingType]) -> list[Place]:
    """Every binding of the panel, grouped by where it applies (`app_bindings`
    are the app's own, which everywhere shares)."""
    jobs_table = tuple(b for b in _bindings(JobsTable.BINDINGS) if b.id != "jobs.open")
    return [
        Place("everywhere", (*_bindings(app_bindings), PALETTE)),
        Place("main screen", _bindings(MainScreen.BINDINGS)),
        Place("any pane", _bindings(Pane.BINDINGS)),
        Place("workers pane", _bindings(WorkersTable.BINDINGS)),
        Place("positions pane", _bindings(PositionsTable.BINDINGS)),
        Place("orders pane", _bindings(OrdersTable.BINDINGS)),
        Place("alerts pane", _bindings(AlertsTable.BINDINGS)),
        Place("jobs pane", _bindings(JobsTable.BINDINGS)),
        Place("worker detail", _bindings(WorkerDetailScreen.BINDINGS)),
        Place("risk screen", _bindings(RiskScreen.BINDINGS)),
        Place(
            "jobs screen",
            (
                *_bindings(JobsScreen.BINDINGS),
                *jobs_table,
                *_bindings(SchedulesTable.BINDINGS),
                *_bindings(ModelsTable.BINDINGS),
            ),
        ),
        Place("order ticket", _bindings(OrderTicketScreen.BINDINGS)),
        Place("kill switch", _bindings(KillSwitchScreen.BINDINGS)),
    ]


# The places active at the same time: the app's keys and a screen's, and on the
# main screen a pane's and the focused table's. Two bindings of one of these
# sets sharing a key is a conflict. Modal dialogs sit over the app's keys too.
_PANES = ("workers pane", "positions pane", "orders pane", "alerts pane", "jobs pane")
CONTEXTS: tuple[tuple[str, ...], ...] = (
    *(("everywhere", "main screen", "any pane", pane) for pane in _PANES),
    ("everywhere", "worker detail"),
    ("everywhere", "risk screen"),
    ("everywhere", "jobs screen"),
    ("everywhere", "order ticket"),
    ("everywhere", "kill switch"),
)

# Dialogs whose few keys are not remapped: their ids are accepted anyway.
_DIALOGS = (_bindings(HelpScreen.BINDINGS), _bindings(ConfirmScreen.BINDINGS))


def help_sections(
    app_bindings: Iterable[BindingType], keymap: Mapping[str, str]
) -> list[HelpSection]:
    """The help screen's sections, each binding with the user's keys."""
    return [
        (place.name, [_mapped(b, keymap) for b in place.bindings]) for place in places(app_bindings)
    ]


def _mapped(binding: Binding, keymap: Mapping[str, str]) -> Binding:
    if binding.id is not None and binding.id in keymap:
        return replace(binding, key=keymap[binding.id], key_display=None)
    return binding


def normal_key(key: str) -> str:
    """One key in Textual's long form: `?` is `question_mark`, `N` stays `N`."""
    return _normalize_key_list(key.strip())


def keys_of(binding: Binding) -> list[str]:
    return [normal_key(k) for k in binding.key.split(",") if k.strip()]


@dataclass(frozen=True)
class KeymapProblem:
    path: str
    message: str
    error: bool = True


def check_keymap(
    keymap: Mapping[str, str], app_bindings: Sequence[BindingType]
) -> list[KeymapProblem]:
    """What is wrong with `keymap` (`[keys]`): unknown ids, keys that are not
    keys or that a terminal takes first, and two bindings active at once on one
    key (named both, with where they meet)."""
    found = places(app_bindings)
    by_id = {b.id: b for place in found for b in place.bindings if b.id is not None}
    dialog_ids = {b.id for dialog in _DIALOGS for b in dialog if b.id is not None}
    problems: list[KeymapProblem] = []
    for binding_id, keys in keymap.items():
        path = f"keys.{binding_id}"
        if binding_id in dialog_ids:
            problems.append(KeymapProblem(path, f"{binding_id} is a dialog's key and keeps it"))
            continue
        if binding_id not in by_id:
            near = difflib.get_close_matches(binding_id, by_id, n=3, cutoff=0.5)
            hint = f"; did you mean {' or '.join(near)}?" if near else ""
            problems.append(
                KeymapProblem(
                    path,
                    f"there is no binding {binding_id!r}{hint} (docs/keys.md lists every id)",
                )
            )
            continue
        if not isinstance(keys, str) or not keys.strip():
            problems.append(KeymapProblem(path, f'{binding_id} needs a key, such as "n"'))
            continue
        for key in (normal_key(k) for k in keys.split(",")):
            if not key or key.endswith("+"):
                problems.append(KeymapProblem(path, f"{keys!r} is not a key"))
            elif key in RESERVED_KEYS:
                problems.append(
                    KeymapProblem(
                        path, f"{key} never reliably reaches the panel: {RESERVED_KEYS[key]}"
                    )
                )
    wrong = {p.path for p in problems}
    usable = {k: v for k, v in keymap.items() if f"keys.{k}" not in wrong}
    problems.extend(_conflicts(found, usable))
    return problems


def _conflicts(found: list[Place], keymap: Mapping[str, str]) -> list[KeymapProblem]:
    named = {place.name: [_mapped(b, keymap) for b in place.bindings] for place in found}
    reported: set[tuple[str, str, str]] = set()
    problems: list[KeymapProblem] = []
    for context in CONTEXTS:
        owners: dict[str, Binding] = {}
        for place in context:
            for binding in named[place]:
                for key in keys_of(binding):
                    other = owners.setdefault(key, binding)
                    if other is binding or other.id == binding.id:
                        continue
                    first, second = sorted((str(other.id), str(binding.id)))
                    if (first, second, key) in reported:
                        continue
                    reported.add((first, second, key))
                    mapped = second if second in keymap else first
                    problems.append(
                        KeymapProblem(
                            f"keys.{mapped}",
                            f"{key} is both {first} ({_what(other, binding, first)}) and "
                            f"{second} ({_what(other, binding, second)}) "
                            f"on the {context[-1]}",
                        )
                    )
    return problems


def _what(a: Binding, b: Binding, binding_id: str) -> str:
    return (a if a.id == binding_id else b).description


def default_conflicts(app_bindings: Sequence[BindingType]) -> list[KeymapProblem]:
    """Conflicts among the default keys themselves (none, a test says)."""
    return _conflicts(places(app_bindings), {})
