"""The panel in a browser, end to end: `tradedeck serve --web` on the demo,
driven in headless Chromium (Debian's, through Playwright): wrong credentials
see nothing, a key and a user sign in, the workers pane shows the demo's
accounts, `enter` opens one's detail. The terminal is drawn on a canvas, so
the test reads what the panel sent to the browser (the WebSocket's frames,
the screen's text) and keeps screenshots as artifacts in
`tests/e2e/artifacts/`. `.ci/run` installs Chromium.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.e2e.serving import create_keys, serving, tradedeck

pytestmark = pytest.mark.slow

ARTIFACTS = Path(__file__).parent / "artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PASSWORD = "correct horse battery staple"
_PANEL = re.compile(r"panel in a browser on (http://\S+?)/?\s")
_API = re.compile(r"API on (http://\S+?)/api/v1")
ANSI = re.compile(rb"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")


@dataclass
class Served:
    api: str
    panel: str
    keys: dict[str, str]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    home = tmp_path_factory.mktemp("web")
    db = home / "engine.db"
    keys = create_keys(db, ("trader", "viewer"), "web")
    subprocess.run(
        tradedeck("users", "add", "ana", "--role", "viewer", "--password-stdin", "--db", str(db)),
        input=PASSWORD + "\n", capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    args = ("--db", str(db), "--port", "0", "--web", "--web-port", "0")
    with serving(home, *args, wait_for=(_API, _PANEL)) as (api, panel):
        yield Served(api, panel, keys)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if CHROMIUM is None:
        pytest.fail("Chromium is required for the browser test (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield chromium
        chromium.close()


class Screen:
    """What the panel sent to one page, as text without escape sequences."""

    def __init__(self, page: object) -> None:
        self.data = bytearray()
        page.on("websocket", self._watch)  # type: ignore[attr-defined]

    def _watch(self, socket: object) -> None:
        def received(payload: bytes | str) -> None:
            self.data += payload if isinstance(payload, bytes) else payload.encode()

        socket.on("framereceived", received)  # type: ignore[attr-defined]

    @property
    def text(self) -> str:
        return ANSI.sub(b"", bytes(self.data)).decode("utf-8", "replace")

    def wait_for(self, needle: str, page: object, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.text:
            assert time.monotonic() < deadline, f"{needle!r} never reached the browser"
            page.wait_for_timeout(100)  # type: ignore[attr-defined]


def _sign_in(browser: object, served: Served, **fields: str) -> tuple[object, Screen]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})  # type: ignore[attr-defined]
    page = context.new_page()
    screen = Screen(page)
    page.goto(served.panel + "/")
    for name, value in fields.items():
        page.fill(f"#{name}", value)
    page.click("#sign-in")
    page.wait_for_load_state()
    return page, screen


def test_wrong_credentials_see_nothing(served: Served, browser: object) -> None:
    for fields in ({"key": "tdk_nope_nope"}, {"username": "ana", "password": "wrong"}):
        page, screen = _sign_in(browser, served, **fields)
        assert "/panel" not in page.url  # type: ignore[attr-defined]
        assert "Wrong credentials." in page.inner_text("body")  # type: ignore[attr-defined]
        page.screenshot(path=ARTIFACTS / "wrong-credentials.png")  # type: ignore[attr-defined]
        assert screen.data == b""  # no panel was started, nothing streamed
    with httpx.Client(base_url=served.panel, follow_redirects=False) as client:
        assert client.get("/panel").status_code == 303  # back to the sign-in
        assert client.get("/ws").status_code == 403
        assert "tdk_" not in client.get("/").text
    home = httpx.get(served.api + "/").text  # the API's own page links the panel
    assert f'href="{served.panel}/"' in home and 'href="/api/docs"' in home


def test_a_trader_signs_in_sees_the_workers_and_opens_one(served: Served, browser: object) -> None:
    page, screen = _sign_in(browser, served, key=served.keys["trader"])
    assert page.url == served.panel + "/panel"  # type: ignore[attr-defined]
    for account in ("account-001", "account-002", "account-003", "account-004"):
        screen.wait_for(account, page)
    page.wait_for_timeout(1000)  # type: ignore[attr-defined]
    page.screenshot(path=ARTIFACTS / "workers-pane.png")  # type: ignore[attr-defined]
    before = len(screen.data)
    page.locator(".xterm").click()  # type: ignore[attr-defined]
    page.keyboard.press("Enter")  # type: ignore[attr-defined]
    screen.wait_for("Worker id", page)  # the worker detail screen
    assert len(screen.data) > before
    page.wait_for_timeout(1000)  # type: ignore[attr-defined]
    page.screenshot(path=ARTIFACTS / "worker-detail.png")  # type: ignore[attr-defined]
    with httpx.Client(base_url=served.api, headers={"X-API-Key": served.keys["trader"]}) as api:
        connections = api.get("/api/v1/connections").json()["items"]
    assert any(c["principal"] == "web-trader" for c in connections)  # the panel's own stream


def test_a_viewer_signs_in_with_a_password_and_can_only_look(
    served: Served, browser: object
) -> None:
    page, screen = _sign_in(browser, served, username="ana", password=PASSWORD)
    assert page.url == served.panel + "/panel"  # type: ignore[attr-defined]
    screen.wait_for("account-001", page)
    page.locator(".xterm").click()  # type: ignore[attr-defined]
    page.keyboard.press("Enter")  # type: ignore[attr-defined]
    screen.wait_for("Worker id", page)
    page.keyboard.press("x")  # stop this worker: not for a viewer
    screen.wait_for("Not allowed", page)
    page.wait_for_timeout(500)  # type: ignore[attr-defined]
    page.screenshot(path=ARTIFACTS / "viewer-refused.png")  # type: ignore[attr-defined]
    with httpx.Client(base_url=served.api, headers={"X-API-Key": served.keys["viewer"]}) as api:
        worker = api.get("/api/v1/workers/account-001").json()
    assert worker["status"] == "running"
