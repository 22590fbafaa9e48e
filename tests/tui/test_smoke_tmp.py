from tui.app import TradeDeckApp
from tests.tui.conftest import until

async def test_smoke(client):
    app = TradeDeckApp(client)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.state.loaded)
        await pilot.pause(0.2)
        print(app.export_screenshot()[:100])
        from textual.widgets import DataTable
        t = app.screen.query_one("#workers-table", DataTable)
        print(t.row_count, [r.key.value for r in t.ordered_rows])
        app.save_screenshot("/tmp/s80.svg")

def test_snap(client, snap_compare):
    app = TradeDeckApp(client)
    async def before(pilot):
        await until(pilot, lambda: app.state.loaded)
    assert snap_compare(app, terminal_size=(160, 48), run_before=before)
