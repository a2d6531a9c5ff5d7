"""Journeys in a real headless Chromium against the real app server: open a pilot, present it in a
meeting (buttons and arrow keys) with nothing of Streamlit's on screen, not even while a slide
changes, leave present mode with the sidebar back, and take the deck away as PowerPoint; the
slides fill a laptop, a meeting-room screen and a 4K screen without scrolling, and follow the window
when it is resized.

With CX_SCREENSHOTS=DIR set, the size test also saves the headline, week-by-week and forest-plot
slides at 1366 x 768 and 1920 x 1080 as DIR/present-<width>-<slide>.png (the README's pictures)."""

import os
import re
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import expect
from pptx import Presentation

from browser import app_server, browser_page
from pilots import slides, store
from pilots.access import COMMAND_LINE
from pilots.db import Database

PILOT = "Digital claim status tracker"
CHROME = ("header[data-testid='stHeader']", "[data-testid='stToolbar']", "[data-testid='stStatusWidget']",
          "[data-testid='stAppDeployButton']", "[data-testid='stMainMenu']", "[data-testid='stDecoration']")
# Set on every frame from now on: whether any of Streamlit's chrome has been on screen, or the slide faded.
WATCH_CHROME = """(selectors) => {
  window.__chromeSeen = []; window.__faded = false;
  const watch = () => {
    for (const selector of selectors) {
      for (const e of document.querySelectorAll(selector)) {
        const box = e.getBoundingClientRect();
        if (getComputedStyle(e).display !== 'none' && box.width > 0 && box.height > 0
            && !window.__chromeSeen.includes(selector)) window.__chromeSeen.push(selector);
      }
    }
    const title = document.querySelector('[data-testid=stMain] h1');
    for (let e = title; e; e = e.parentElement) {
      if (parseFloat(getComputedStyle(e).opacity) < 1) window.__faded = true;
    }
    requestAnimationFrame(watch);
  };
  requestAnimationFrame(watch);
}"""
LAYOUT = """() => {
  const box = s => { const e = document.querySelector(s); if (!e) return null; const b = e.getBoundingClientRect();
                     return {top: b.top, bottom: b.bottom, height: b.height}; };
  const main = document.querySelector('[data-testid=stMain]');
  const cards = [...document.querySelectorAll('.st-key-present_slide [data-testid=stMetric]')]
    .map(e => e.closest('[data-testid=stLayoutWrapper]').getBoundingClientRect().bottom);
  return {inner: innerHeight, scroll: Math.max(main.scrollHeight, document.scrollingElement.scrollHeight),
          chart: box('[data-testid=stMain] [data-testid=stVegaLiteChart]'),
          canvas: box('[data-testid=stMain] [data-testid=stVegaLiteChart] canvas, '
                      + '[data-testid=stMain] [data-testid=stVegaLiteChart] svg.marks'),
          cards: cards.length ? Math.max(...cards) : null};
}"""


@pytest.fixture(scope="module")
def demo_server(demo_file, tmp_path_factory):
    """The app on a copy of the demo organisation: its URL, the pilot PILOT and its slides' titles,
    and the portfolio deck's titles."""
    path = tmp_path_factory.mktemp("present") / "pilots.duckdb"
    shutil.copy(demo_file, path)
    db = Database(path)
    pilot = next(p for p in store.list_pilots(db, COMMAND_LINE) if p.name == PILOT)
    titles = [s.title for s in slides.pilot_slides(db, COMMAND_LINE, pilot.pilot_id)]
    portfolio = [s.title for s in slides.portfolio_slides(db, COMMAND_LINE)]
    db.close()
    with app_server(path) as url:
        yield url, pilot.pilot_id, titles, portfolio


def heading(page, text: str):
    return page.get_by_role("heading", name=text, exact=True)


def sidebar_collapsed(page) -> bool:
    return page.locator("[data-testid='stSidebar']").get_attribute("data-collapsed") == "true"


def test_open_a_pilot_present_it_and_take_the_deck(demo_server, tmp_path):
    url, pilot_id, titles, _ = demo_server
    with browser_page(1366, 768) as page:
        page.goto(f"{url}/pilot?id={pilot_id}")
        expect(heading(page, PILOT)).to_be_visible(timeout=120_000)
        expect(page.get_by_text("Verdict")).to_be_visible()
        assert not sidebar_collapsed(page)

        page.locator(f"a[href*='present?pilot={pilot_id}']").click()
        expect(heading(page, titles[0])).to_be_visible()
        expect(page.get_by_text(f"1 / {len(titles)}", exact=True)).to_be_visible()
        assert sidebar_collapsed(page)
        for chrome in CHROME:  # nothing of Streamlit's on the meeting room's screen
            assert not any(shown.is_visible() for shown in page.locator(chrome).all()), chrome
        page.evaluate(WATCH_CHROME, list(CHROME))

        page.get_by_role("button", name=re.compile("Next")).click()
        expect(heading(page, titles[1])).to_be_visible()
        expect(page.get_by_text(f"2 / {len(titles)}", exact=True)).to_be_visible()
        page.get_by_role("button", name=re.compile("Next")).click()
        expect(heading(page, titles[2])).to_be_visible()
        chart = page.locator("[data-testid='stVegaLiteChart'] canvas, [data-testid='stVegaLiteChart'] svg").first
        expect(chart).to_be_visible()
        page.keyboard.press("ArrowRight")                     # a presenter's clicker or the arrow keys
        expect(heading(page, titles[3])).to_be_visible()
        page.keyboard.press("ArrowRight")
        expect(heading(page, titles[4])).to_be_visible()
        page.keyboard.press("ArrowLeft")
        expect(heading(page, titles[3])).to_be_visible()
        page.get_by_role("button", name=re.compile("Previous")).click()
        expect(heading(page, titles[2])).to_be_visible()
        expect(page.get_by_text(f"3 / {len(titles)}", exact=True)).to_be_visible()
        assert page.evaluate("() => window.__chromeSeen") == [], "no running indicator or Stop button while stepping"
        assert not page.evaluate("() => window.__faded"), "the slide does not fade while the next one comes"
        assert page.locator("[data-testid='stException']").count() == 0
        assert page.locator("main input, main textarea").count() == 0, "nothing to edit while presenting"

        page.get_by_role("link", name=re.compile("Exit to the pilot")).click()
        expect(heading(page, PILOT)).to_be_visible()
        expect(page.locator("[data-testid='stSidebar']")).to_have_attribute("data-collapsed", "false")
        expect(page.locator("header[data-testid='stHeader']")).to_be_visible()  # the app is itself again

        with page.expect_download(timeout=120_000) as download:
            page.get_by_role("button", name=re.compile("Deck \\(PowerPoint\\)")).click()
        saved = tmp_path / download.value.suggested_filename
        download.value.save_as(saved)
    assert saved.suffix == ".pptx"
    deck = Presentation(str(saved))
    assert len(deck.slides) == len(titles)
    shown = [next(shape.text_frame.text for shape in slide.shapes if shape.has_text_frame) for slide in deck.slides]
    assert shown[-len(titles) + 1:] == titles[1:]  # a cover first, then every slide of present mode


def _settled(page, title: str) -> dict:
    """The layout of the slide `title` once it is drawn at the window's size (present mode learns the
    window's size from the browser on its first visit, and redraws)."""
    expect(heading(page, title)).to_be_visible(timeout=120_000)
    page.wait_for_function("() => document.querySelector('[data-testid=stApp]')"
                           ".getAttribute('data-test-script-state') === 'notRunning'")
    page.wait_for_timeout(1500)
    page.wait_for_function("() => document.querySelector('[data-testid=stApp]')"
                           ".getAttribute('data-test-script-state') === 'notRunning' && [...document.querySelectorAll("
                           "'[data-testid=stMain] [data-testid=stVegaLiteChart]')].every(c => c.querySelector("
                           "'canvas, svg.marks'))")
    return page.evaluate(LAYOUT)


@pytest.mark.parametrize("width,height", [(1366, 768), (1920, 1080), (3840, 2160)])
def test_slides_fill_the_screen_without_scrolling(demo_server, width, height):
    url, pilot_id, titles, portfolio = demo_server
    shots = os.environ.get("CX_SCREENSHOTS")
    weekly = next(n for n, t in enumerate(titles) if t.endswith("week by week")) + 1
    forest = next(n for n, t in enumerate(portfolio) if t.startswith("Every evaluated pilot")) + 1
    with browser_page(width, height) as page:
        for name, path, title in (("headline", f"present?pilot={pilot_id}&slide=2", titles[1]),
                                  ("weekly", f"present?pilot={pilot_id}&slide={weekly}", titles[weekly - 1]),
                                  ("forest", f"present?slide={forest}", portfolio[forest - 1])):
            page.goto(f"{url}/{path}")
            layout = _settled(page, title)
            assert layout["scroll"] <= height + 1, f"{name}: the slide scrolls at {width} x {height}"
            if name == "headline":
                assert height * 0.9 < layout["cards"] <= height, f"the figures fill the screen: {layout}"
            else:
                assert layout["canvas"]["bottom"] <= height, f"{name}: the chart runs off the screen"
                assert layout["chart"]["height"] > 0.6 * height, f"{name}: the chart leaves the screen empty"
            if shots and width <= 1920:
                Path(shots).mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(Path(shots) / f"present-{width}-{name}.png"))


def test_the_slide_follows_the_window(demo_server):
    url, pilot_id, titles, _ = demo_server
    weekly = next(n for n, t in enumerate(titles) if t.endswith("week by week")) + 1
    with browser_page(1366, 768) as page:
        page.goto(f"{url}/present?pilot={pilot_id}&slide={weekly}")
        small = _settled(page, titles[weekly - 1])
        page.set_viewport_size({"width": 1920, "height": 1080})  # the laptop goes onto the meeting room's screen
        page.wait_for_function("(h) => { const c = document.querySelector('[data-testid=stMain] "
                               "[data-testid=stVegaLiteChart]'); return c && c.getBoundingClientRect().height > h; }",
                               arg=small["chart"]["height"] + 100, timeout=60_000)
        large = _settled(page, titles[weekly - 1])
    assert large["scroll"] <= 1081 and large["canvas"]["bottom"] <= 1080
    assert large["chart"]["height"] > 1.3 * small["chart"]["height"]
