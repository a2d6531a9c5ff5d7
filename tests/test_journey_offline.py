"""The app works on a machine without internet: in a real headless Chromium, every request a normal
visit makes (the portfolio, a pilot's page, present mode and back) goes to the app's own server,
the page icon included (a Material icon as page icon would be fetched from Google's font host).

The only failing requests allowed are Streamlit's own probes of a deep link's path
(`/<page>/_stcore/health` and `/<page>/_stcore/host-config`, answered 404 before the browser falls
back to the root): its frontend checks whether the app is served under that path as a prefix
(streamlit/streamlit#7074), which the app cannot switch off."""

import re
import shutil
from urllib.parse import urlsplit

from playwright.sync_api import expect

from browser import app_server, browser_page
from pilots import store
from pilots.access import COMMAND_LINE
from pilots.db import Database

LOCAL = {"127.0.0.1", "localhost"}
STREAMLIT_PROBE = re.compile(r"/[^/]+/_stcore/(health|host-config)$")


def settled(page) -> None:
    for _ in range(2):
        page.wait_for_timeout(700)
        page.wait_for_function("() => document.querySelector('[data-testid=stApp]')"
                               ".getAttribute('data-test-script-state') === 'notRunning'")


def test_no_request_leaves_the_machine(demo_file, tmp_path):
    path = tmp_path / "pilots.duckdb"
    shutil.copy(demo_file, path)
    db = Database(path)
    pilot = next(p for p in store.list_pilots(db, COMMAND_LINE) if p.status == "decided")
    db.close()
    requested, failed = [], []
    with app_server(path) as url, browser_page(1366, 768) as page:
        page.on("request", lambda request: requested.append(request.url))
        page.on("websocket", lambda socket: requested.append(socket.url))
        page.on("requestfailed", lambda request: failed.append((request.failure, request.url)))
        page.on("response", lambda response: failed.append((response.status, response.url))
                if response.status >= 400 and not STREAMLIT_PROBE.search(urlsplit(response.url).path) else None)

        page.goto(url)
        expect(page.get_by_role("heading", name="Portfolio", exact=True)).to_be_visible(timeout=120_000)
        expect(page.locator("[data-testid='stVegaLiteChart'] canvas, [data-testid='stVegaLiteChart'] svg")
               .first).to_be_visible()
        icon = page.evaluate("() => [...document.querySelectorAll('link[rel~=icon]')].map(link => link.href)")

        page.goto(f"{url}/pilot?id={pilot.pilot_id}")
        expect(page.get_by_role("heading", name=pilot.name, exact=True)).to_be_visible(timeout=120_000)
        page.locator(f"a[href*='present?pilot={pilot.pilot_id}']").click()
        expect(page.get_by_text(re.compile(r"^1 / \d+$"))).to_be_visible()
        settled(page)  # present mode's first visit redraws once the browser has said how large the window is
        page.keyboard.press("ArrowRight")
        expect(page.get_by_text(re.compile(r"^2 / \d+$"))).to_be_visible()
        page.keyboard.press("ArrowRight")
        expect(page.get_by_text(re.compile(r"^3 / \d+$"))).to_be_visible()
        expect(page.locator("[data-testid='stVegaLiteChart'] canvas, [data-testid='stVegaLiteChart'] svg")
               .first).to_be_visible()
        page.get_by_role("link", name=re.compile("Exit to the pilot")).click()
        expect(page.get_by_role("heading", name=pilot.name, exact=True)).to_be_visible()
        page.wait_for_timeout(1000)  # anything the page asks for once it is shown

    outside = sorted({u for u in requested if urlsplit(u).scheme in ("http", "https", "ws", "wss")
                      and urlsplit(u).hostname not in LOCAL})
    assert requested and not outside, f"requests that left the machine: {outside}"
    assert icon and all(urlsplit(href).hostname in LOCAL or href.startswith("data:") for href in icon), icon
    assert not failed, failed
