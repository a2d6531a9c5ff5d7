"""Journey in a real headless Chromium against the real app server: open a pilot, present it in a
meeting (buttons and arrow keys), leave present mode, and take the deck away as PowerPoint."""

import re
import shutil

import pytest
from playwright.sync_api import expect
from pptx import Presentation

from browser import app_server, browser_page
from pilots import slides, store
from pilots.access import COMMAND_LINE
from pilots.db import Database

PILOT = "Digital claim status tracker"


@pytest.fixture(scope="module")
def demo_server(demo_file, tmp_path_factory):
    """The app on a copy of the demo organisation, and the slides the deck of PILOT should have."""
    path = tmp_path_factory.mktemp("present") / "pilots.duckdb"
    shutil.copy(demo_file, path)
    db = Database(path)
    pilot = next(p for p in store.list_pilots(db, COMMAND_LINE) if p.name == PILOT)
    titles = [s.title for s in slides.pilot_slides(db, COMMAND_LINE, pilot.pilot_id)]
    db.close()
    with app_server(path) as url:
        yield url, pilot.pilot_id, titles


def heading(page, text: str):
    return page.get_by_role("heading", name=text, exact=True)


def test_open_a_pilot_present_it_and_take_the_deck(demo_server, tmp_path):
    url, pilot_id, titles = demo_server
    with browser_page(1366, 768) as page:
        page.goto(f"{url}/pilot?id={pilot_id}")
        expect(heading(page, PILOT)).to_be_visible(timeout=120_000)
        expect(page.get_by_text("Verdict")).to_be_visible()

        page.locator(f"a[href*='present?pilot={pilot_id}']").click()
        expect(heading(page, titles[0])).to_be_visible()
        expect(page.get_by_text(f"1 / {len(titles)}", exact=True)).to_be_visible()
        assert page.locator("[data-testid='stSidebar'] [data-testid='stSidebarNav']").is_hidden() \
            or page.locator("[data-testid='stSidebar']").get_attribute("aria-expanded") == "false"

        page.get_by_role("button", name=re.compile("Next")).click()
        expect(heading(page, titles[1])).to_be_visible()
        expect(page.get_by_text(f"2 / {len(titles)}", exact=True)).to_be_visible()
        page.get_by_role("button", name=re.compile("Next")).click()
        expect(heading(page, titles[2])).to_be_visible()
        chart = page.locator("[data-testid='stVegaLiteChart'] canvas, [data-testid='stVegaLiteChart'] svg").first
        expect(chart).to_be_visible()
        page.keyboard.press("ArrowRight")                     # a presenter's clicker or the arrow keys
        expect(heading(page, titles[3])).to_be_visible()
        page.get_by_role("button", name=re.compile("Previous")).click()
        expect(heading(page, titles[2])).to_be_visible()
        assert page.locator("[data-testid='stException']").count() == 0
        assert page.locator("main input, main textarea").count() == 0, "nothing to edit while presenting"

        page.get_by_role("link", name=re.compile("Exit to the pilot")).click()
        expect(heading(page, PILOT)).to_be_visible()

        with page.expect_download(timeout=120_000) as download:
            page.get_by_role("button", name=re.compile("Deck \\(PowerPoint\\)")).click()
        saved = tmp_path / download.value.suggested_filename
        download.value.save_as(saved)
    assert saved.suffix == ".pptx"
    deck = Presentation(str(saved))
    assert len(deck.slides) == len(titles)
    shown = [next(shape.text_frame.text for shape in slide.shapes if shape.has_text_frame) for slide in deck.slides]
    assert shown == titles
