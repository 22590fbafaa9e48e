"""The layers hold: the engine, storage and config never reach the panel.

import-linter checks the static imports (contracts in pyproject.toml); the
second test checks what actually gets loaded at run time.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_import_linter_contracts_hold() -> None:
    result = subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports")), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "broken" not in result.stdout.lower().replace("0 broken", "")


def test_headless_engine_loads_no_textual() -> None:
    probe = (
        "import sys, engine.engine, engine.client, storage.store, config.loader;"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'tui'));"
        "print(','.join(bad))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


def _cycles(package: str) -> list[list[str]]:
    """The import cycles among `package`'s modules (strongly connected groups of
    more than one), `TYPE_CHECKING` imports included: grimp reads them all."""
    import grimp

    graph = grimp.build_graph(package, cache_dir=None)
    modules = graph.modules
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in modules:
                continue
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for module in sorted(modules):
        if module not in index:
            visit(module)
    return found


@pytest.mark.parametrize("package", ["engine", "tui", "storage", "config"])
def test_no_import_cycles(package: str) -> None:
    assert _cycles(package) == []


def test_nothing_ignored_is_tracked() -> None:
    """Generated files (the virtual environment, caches, databases) stay out of git."""
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    tracked = subprocess.run(
        ["git", "ls-files", "--cached", "--ignored", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert tracked == [], f"{len(tracked)} ignored paths are tracked, e.g. {tracked[:5]}"
