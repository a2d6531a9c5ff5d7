"""Journeys in a real headless Chromium against the real app server."""

import re
import shutil

import pytest
from playwright.sync_api import expect

from browser import app_server, browser_page
from pilots import store
from pilots.access import COMMAND_LINE
from pilots.db import Database


@pytest.fixture(scope="module")
def demo_app(tmp_path_factory):
    """The app started on an empty database, as a newcomer would: it loads the demo organisation."""
    with app_server(tmp_path_factory.mktemp("journey") / "pilots.duckdb") as url:
        yield url


def test_first_run_portfolio_to_a_pilot_chart(demo_app, tmp_path):
    with browser_page() as page:
        page.goto(demo_app)
        expect(page.get_by_text("demo organisation was loaded")).to_be_visible(timeout=120_000)
        expect(page.get_by_role("heading", name="Portfolio")).to_be_visible()
        expect(page.get_by_text(re.compile(r"^Evaluating \(\d+\)$"))).to_be_visible()  # opened by default
        link = page.locator("a[href*='pilot?id=']:visible").first
        name = link.inner_text().split(" — ")[0].splitlines()[-1].strip()  # after the icon's ligature text
        link.click()
        expect(page.get_by_role("heading", name=name)).to_be_visible()
        chart = page.locator("[data-testid='stVegaLiteChart'] canvas, [data-testid='stVegaLiteChart'] svg").first
        expect(chart).to_be_visible()
        assert chart.bounding_box()["height"] > 200
        page.screenshot(path=str(tmp_path / "pilot.png"), full_page=True)


@pytest.mark.parametrize("path, heading", [("portfolio", "Portfolio"), ("pilots", "Pilots"), ("pilot", None),
                                           ("data", "Data"), ("settings", "Settings")])
def test_every_page_url_loads_on_first_visit(demo_app, path, heading):
    with browser_page() as page:
        page.goto(f"{demo_app}/{path}")
        page.wait_for_selector("h1", timeout=120_000)
        if heading:
            expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
        assert page.locator("[data-testid='stException']").count() == 0
        page.wait_for_timeout(500)  # Streamlit's "page not found" notice comes after the page's first run
        assert page.get_by_text("Page not found").count() == 0
        # the navigation lists our pages, not Streamlit's page-folder discovery of pages/_ui.py
        nav = page.locator("[data-testid='stSidebarNav']").inner_text()
        assert "Portfolio" in nav and "_ui" not in nav


def test_a_refused_decision_keeps_what_was_typed_and_a_saved_one_clears_the_form(demo_file, tmp_path):
    path = tmp_path / "pilots.duckdb"
    shutil.copy(demo_file, path)
    db = Database(path)
    evaluating = store.list_pilots(db, COMMAND_LINE, statuses=["evaluating"])[0]
    db.close()
    with app_server(path) as url, browser_page() as page:
        page.goto(f"{url}/edit?id={evaluating.pilot_id}")
        expect(page.get_by_role("heading", name="Decision")).to_be_visible(timeout=120_000)
        rationale = page.get_by_label("Rationale")
        rationale.fill("Lift well above target, guardrails held.")
        page.get_by_role("button", name="Record decision").click()
        expect(page.get_by_text("nothing was saved")).to_be_visible()
        expect(rationale).to_have_value("Lift well above target, guardrails held.")  # nothing typed is lost

        page.get_by_label("Approved by").fill("Steering committee")
        page.get_by_role("button", name="Record decision").click()
        expect(page.get_by_text("Recorded the decision")).to_be_visible()
        expect(page.get_by_label("Rationale")).to_have_value("")
