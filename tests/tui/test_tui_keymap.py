"""Keymaps: `[keys]` remaps bindings by id; the footer, the help screen and the
keys themselves follow it on either client; `validate` refuses unknown ids,
conflicts (naming both bindings) and keys a terminal takes first; and no
default key is one of those."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import DataTable, Footer

from config.loader import load_settings
from engine.client import EngineClient
from engine.engine import Engine
from tests.tui.helpers import ready, until
from tui.app import TradeDeckApp
from tui.cli import main
from tui.keymap import RESERVED_KEYS, check_keymap, default_conflicts, keys_of, places
from tui.screens.help import HelpScreen
from tui.screens.order_ticket import OrderTicketScreen

ROOT = Path(__file__).resolve().parents[2]


def test_no_default_key_is_taken_by_tmux_screen_or_ssh() -> None:
    for place in places(TradeDeckApp.BINDINGS):
        for binding in place.bindings:
            for key in keys_of(binding):
                assert key not in RESERVED_KEYS, (binding.id, key, RESERVED_KEYS.get(key))


def test_the_default_keys_do_not_conflict() -> None:
    assert default_conflicts(TradeDeckApp.BINDINGS) == []


def test_every_binding_has_an_id_and_docs_list_them() -> None:
    listed = (ROOT / "docs" / "keys.md").read_text()
    for place in places(TradeDeckApp.BINDINGS):
        for binding in place.bindings:
            assert binding.id, f"{binding.key} ({binding.description}) in {place.name} has no id"
            assert f"`{binding.id}`" in listed, binding.id


def test_a_keymap_is_checked_by_id_conflict_and_terminal() -> None:
    problems = check_keymap(
        {"order_ticket": "n", "orders.place": "s", "app.help": "ctrl+b", "risk.open": ""},
        TradeDeckApp.BINDINGS,
    )
    said = {p.path: p.message for p in problems}
    assert "did you mean orders.place" in said["keys.order_ticket"]
    assert "tmux's prefix" in said["keys.app.help"]
    assert "needs a key" in said["keys.risk.open"]
    # Both bindings are named, with where they meet.
    assert said["keys.orders.place"] == (
        "s is both orders.place (New order) and workers.start (Start) on the workers pane"
    )
    assert (
        check_keymap({"orders.place": "N", "workers.stop": "ctrl+x"}, TradeDeckApp.BINDINGS) == []
    )


def test_validate_refuses_a_bad_keymap(tmp_path: Path, capsys) -> None:
    demo = (ROOT / "config" / "demo.toml").read_text()
    good = tmp_path / "good.toml"
    good.write_text(demo + '\n[keys.orders]\nplace = "N"\n')
    assert load_settings(good, env={}).keys == {"orders.place": "N"}
    assert main(["validate", str(good)]) == 0
    bad = tmp_path / "bad.toml"
    bad.write_text(demo + '\n[keys]\n"orders.place" = "x"\n')
    assert main(["validate", str(bad)]) == 1
    out = capsys.readouterr().out
    assert "orders.place" in out and "workers.stop" in out


async def test_the_panel_uses_the_users_keys(client: EngineClient, engine: Engine) -> None:
    app = TradeDeckApp(client, keymap={"orders.place": "N", "risk.open": "ctrl+r"})
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot)
        footer = app.screen.query_one(Footer)
        await until(pilot, lambda: bool(footer.children))
        shown = {(key.key, key.description) for key in footer.query("FooterKey")}
        assert ("N", "New order") in shown and ("o", "New order") not in shown

        await pilot.press("o")  # the old key does nothing now
        await pilot.pause()
        assert not isinstance(app.screen, OrderTicketScreen)
        await pilot.press("N")
        await until(pilot, lambda: isinstance(app.screen, OrderTicketScreen))
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, OrderTicketScreen))

        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        listed = app.screen.query_one("#help-keys", DataTable)
        rows = [[str(cell) for cell in listed.get_row_at(i)] for i in range(listed.row_count)]
        assert ["everywhere", "N", "New order"] == rows_for(rows, "New order")
        assert rows_for(rows, "Risk")[1] == "^r"


def rows_for(rows: list[list[str]], action: str) -> list[str]:
    return next(row[:3] for row in rows if row[2] == action)
