"""Text is data, never markup or control, on the rendering side: a pilot whose name, unit, owner and
hypothesis hold control characters (\\x00 \\x01 \\x0b \\x0c \\x1b U+FFFE), Markdown (an image, a link, a
heading, HTML) and 100 KB of text, written straight into the database as a row stored before the
entry checks existed would be. Every export (PNG and SVG charts rendered in this very process, so
that a renderer that aborts takes the test run with it; PowerPoint; PDF) opens back with the text
there, cleaned and bounded; every page shows it as literal text; a link in the address is never
repeated; and in a real browser nothing is fetched from outside and the server stays up."""

import io
import re
import shutil
import urllib.parse
import urllib.request

import duckdb
import pytest
from PIL import Image
from pptx import Presentation
from pypdf import PdfReader

from apptests import open_page, read
from browser import app_server, browser_page
from pilots import export, slides, text
from pilots.access import COMMAND_LINE
from pilots.db import Database

CONTROL = "\x00\x01\x0b\x0c\x1b\ufffe"
LONG = "x" * 50_000 + " word" * 10_000  # 100 KB: one unbroken run, then words
NAME = f"Bad{CONTROL}name ![x](https://evil.example/a.png) {LONG}"
UNIT = f"Claims{CONTROL} [Session expired, sign in again](https://evil.example/login) {LONG}"
OWNER = f"Eve{CONTROL} <img src=https://evil.example/o.png> {LONG}"
HYPOTHESIS = f"# heading\n![x](https://evil.example/h.png){CONTROL} If we show every step, fewer chase. {LONG}"
PHISHING = "[Session expired, sign in again](https://evil.example/login)"
PILOT = "Digital claim status tracker"


@pytest.fixture
def hostile(demo_file, tmp_path):
    """A copy of the demo organisation in which PILOT, its unit and its owner hold the hostile texts,
    written with SQL around the store (whose entry checks would refuse them); the path and the
    pilot's id."""
    path = tmp_path / "pilots.duckdb"
    shutil.copy(demo_file, path)
    with duckdb.connect(str(path)) as raw:
        pilot_id, unit_id = raw.execute("SELECT pilot_id, unit_id FROM pilots WHERE name = ?", [PILOT]).fetchone()
        raw.execute("UPDATE pilots SET name = ?, owner = ?, hypothesis = ? WHERE pilot_id = ?",
                    [NAME, OWNER, HYPOTHESIS, pilot_id])
        raw.execute("UPDATE business_units SET name = ? WHERE unit_id = ?", [UNIT, unit_id])
    return path, pilot_id


@pytest.fixture
def hostile_db(hostile):
    path, pilot_id = hostile
    db = Database(path)
    yield db, pilot_id
    db.close()


def cleaned(texts) -> None:
    """Every text as a renderer may draw it: no refused character left, nothing of 100 KB."""
    for shown in texts:
        assert not text.refused_characters(shown, multiline=True), repr(shown[:80])
        assert len(shown) < 10_000, f"{len(shown):,} characters: {shown[:80]!r}"


def one_line(value: str) -> str:
    return " ".join(value.split())


# ---------------------------------------------------------------- exports, opened back

@pytest.mark.slow
def test_charts_of_hostile_names_render_as_png_and_svg_in_this_process(hostile_db):
    db, pilot_id = hostile_db
    deck = slides.pilot_slides(db, COMMAND_LINE, pilot_id)
    assert deck[0].title.startswith("Bad name ![x](https://evil.example/a.png) xxx")
    png = Image.open(io.BytesIO(export.export_pilot(db, COMMAND_LINE, pilot_id, "png")))
    assert png.format == "PNG" and png.size[0] > 1000
    forest = Image.open(io.BytesIO(export.export_portfolio(db, COMMAND_LINE, "png")))
    assert forest.format == "PNG"
    charted = [s for s in deck if s.chart is not None]
    assert len(charted) >= 4
    for slide in charted:
        svg = export.chart_svg(slide.chart)
        assert Image.open(io.BytesIO(export.chart_png(slide.chart, scale=1))).format == "PNG"
        drawn = re.findall(r">([^<]+)</text>", svg)
        cleaned(drawn)
        assert not text.refused_characters(svg, multiline=True)
    weekly = export.chart_svg(next(s.chart for s in deck if s.title.endswith("week by week")))
    assert re.search(r"Claims\s+\[Session expired", weekly), "the unit's name is drawn, cleaned"
    headline = export.chart_svg(export.headline_chart(deck, deck[0].title, "Every metric"))
    assert "Bad name ![x](https://evil.example/a.png) xxx" in headline


@pytest.mark.slow
def test_a_hostile_pilot_exports_to_powerpoint_with_its_text_cleaned_and_bounded(hostile_db):
    db, pilot_id = hostile_db
    deck = Presentation(io.BytesIO(export.export_pilot(db, COMMAND_LINE, pilot_id, "pptx")))
    texts = [shape.text_frame.text for page in deck.slides for shape in page.shapes if shape.has_text_frame]
    texts += [page.notes_slide.notes_text_frame.text for page in deck.slides]
    cleaned(texts)
    title = deck.slides[0].shapes.title.text_frame.text
    assert title.startswith("Bad name ![x](https://evil.example/a.png) xxx") and len(title) <= slides.TITLE_TEXT
    assert title.endswith("…")
    assert len(deck.core_properties.title) <= export.PROPERTY_LIMIT
    first = " ".join(s.text_frame.text for s in deck.slides[0].shapes if s.has_text_frame)
    assert "Claims [Session expired, sign in again](https://evil.example/login) xxx" in first
    assert "# heading ![x](https://evil.example/h.png) If we show every step" in first
    assert "Owner: Eve <img src=https://evil.example/o.png> xxx" in first


@pytest.mark.slow
def test_a_hostile_pilot_and_the_portfolio_export_to_pdf_with_their_text_cleaned(hostile_db):
    db, pilot_id = hostile_db
    reader = PdfReader(io.BytesIO(export.export_pilot(db, COMMAND_LINE, pilot_id, "pdf")))
    assert len(reader.pages) == len(export.pdf_pages(slides.pilot_slides(db, COMMAND_LINE, pilot_id)))
    pages = [page.extract_text() for page in reader.pages]
    cleaned(pages)
    first = one_line(pages[0])
    assert "Bad name ![x](https://evil.example/a.png)" in first
    assert "# heading ![x](https://evil.example/h.png) If we show every step" in first
    assert "Owner: Eve <img src=https://evil.example/o.png>" in first
    assert len(reader.metadata.title) <= export.PROPERTY_LIMIT
    portfolio = PdfReader(io.BytesIO(export.export_portfolio(db, COMMAND_LINE, "pdf")))
    decisions = [one_line(page.extract_text()) for page in portfolio.pages]
    cleaned(decisions)
    assert any("Bad name ![x](https://evil.example/a.png) xxx" in page for page in decisions)


# ---------------------------------------------------------------- pages: literal text, no reflection

MARKDOWN_KINDS = ("title", "header", "subheader", "markdown", "caption", "warning", "error", "info", "success")


def markdown_bodies(at) -> list[str]:
    """The body of every element Streamlit reads as Markdown, labels and help texts included."""
    bodies = [e.value for kind in MARKDOWN_KINDS for e in at.get(kind)]
    bodies += [part for m in at.metric for part in (m.label, m.value, m.proto.help)]
    bodies += [e.label for e in at.expander] + [t.label for t in at.tabs]
    bodies += [link.proto.label for link in at.get("page_link")]
    return bodies


def assert_literal(at) -> None:
    """No image, link, heading or HTML made of anyone's text: every Markdown metacharacter of it is
    escaped, and no address is left whole for Markdown to link."""
    assert not at.exception, [e.value for e in at.exception]
    for body in markdown_bodies(at):
        assert not re.search(r"(?<!\\)!\\?\[", body), body[:200]
        assert not re.search(r"(?<!\\)\]\(", body), body[:200]
        assert "https://" not in body and not re.search(r"(?<!\\)<img", body), body[:200]
        assert not re.search(r"(?<!\\)# heading", body), body[:200]


@pytest.fixture
def hostile_app(hostile, monkeypatch):
    path, pilot_id = hostile
    monkeypatch.setenv("PILOTS_DB", str(path))
    return pilot_id


@pytest.mark.apptest
@pytest.mark.slow
def test_the_pilot_page_shows_hostile_text_as_typed(hostile_app):
    at = open_page("pilot", "editor", id=str(hostile_app))
    assert_literal(at)
    assert read(at.title[0].value) == text.printable(NAME, text.MAX_NAME)
    assert at.title[0].value.startswith("Bad      name \\!\\[x\\]\\(https\\:\u2060//evil\\.example/a\\.png\\)")
    hypothesis = next(m.value for m in at.markdown if m.value.startswith("**Hypothesis.**"))
    assert hypothesis.startswith("**Hypothesis.** \\# heading\n\\!\\[x\\]")
    assert read(hypothesis).removeprefix("**Hypothesis.** ") == text.printable(HYPOTHESIS, text.MAX_TEXT)
    caption = read(at.caption[0].value)
    assert caption.startswith(text.printable(UNIT, text.MAX_TEXT)[:100])
    assert f"owner {text.printable(OWNER, text.MAX_TEXT)} ·" in caption
    assert not [h for h in at.get("subheader") + at.get("header") if "heading" in h.value]


@pytest.mark.apptest
@pytest.mark.slow
@pytest.mark.parametrize("page", ["portfolio", "pilots", "unit"])
def test_other_pages_show_hostile_names_as_typed(hostile_app, page):
    at = open_page(page, "editor")
    assert_literal(at)
    if page == "portfolio":
        labels = [read(link.proto.label) for link in at.get("page_link") if link.proto.page == "pilot"]
        assert any(label.startswith(text.printable(NAME, text.MAX_NAME)) for label in labels)


@pytest.mark.apptest
@pytest.mark.slow
def test_present_mode_shows_hostile_slides_as_typed(hostile_app):
    at = open_page("present", "steering", pilot=str(hostile_app))
    assert_literal(at)
    assert read(at.title[0].value).startswith("Bad name ![x](https://evil.example/a.png) xxx")
    assert any(read(m.value).startswith("#### Claims [Session expired, sign in again](https://evil.example/login)")
               for m in at.markdown)
    next(b for b in at.button if b.label == "Next").click().run()
    assert_literal(at)


@pytest.mark.apptest
@pytest.mark.parametrize("page, query", [("present", "pilot"), ("pilot", "id")])
def test_a_link_in_the_address_is_never_repeated(demo_org, page, query):
    at = open_page(page, "editor", **{query: PHISHING})
    assert_literal(at)
    shown = " ".join(markdown_bodies(at))
    assert "Session expired" not in shown and "evil" not in shown
    assert "No pilot with that number" in " ".join(w.value for w in at.warning)


# ---------------------------------------------------------------- in a real browser

@pytest.mark.browser
def test_in_the_browser_nothing_leaves_the_machine_and_the_server_stays_up(hostile, tmp_path):
    path, pilot_id = hostile
    requests = []
    with app_server(path) as url, browser_page(1366, 768) as page:
        page.on("request", lambda request: requests.append(request.url))
        page.goto(f"{url}/pilot?id={pilot_id}")
        page.get_by_role("heading", name=re.compile("^Bad")).wait_for(timeout=120_000)
        page.locator("[data-testid=stMain] [data-testid=stVegaLiteChart] canvas, "
                     "[data-testid=stMain] [data-testid=stVegaLiteChart] svg.marks").first.wait_for()
        seen = [_page_facts(page)]
        with page.expect_download(timeout=180_000) as download:
            page.get_by_role("button", name=re.compile("Deck \\(PDF\\)")).click()
        deck = PdfReader(download.value.path())
        assert "Bad name" in one_line(deck.pages[0].extract_text())
        page.goto(f"{url}/present?pilot={urllib.parse.quote(PHISHING)}")
        page.get_by_role("heading", name="Nothing to present").wait_for(timeout=120_000)
        seen.append(_page_facts(page))
        assert "Session expired" not in page.locator("[data-testid=stMain]").inner_text()
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=10) as reply:
            assert reply.status == 200, "the server still answers"
    outside = [r for r in requests if not r.startswith(("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:"))]
    assert not outside, outside
    for facts in seen:
        assert not facts["images"], facts["images"]
        assert not facts["links"], facts["links"]
        assert not facts["headings"], facts["headings"]


def _page_facts(page) -> dict:
    """What the page shows that anyone's text could have made: pictures from elsewhere, links to
    evil.example, headings holding the hypothesis's "# heading"."""
    return page.evaluate("""() => ({
      images: [...document.querySelectorAll('img')].map(i => i.src)
        .filter(src => !src.startsWith(location.origin) && !src.startsWith('data:') && !src.startsWith('blob:')),
      links: [...document.querySelectorAll('a[href]')].map(a => a.href)
        .filter(href => new URL(href, location.href).hostname.endsWith('evil.example')),
      headings: [...document.querySelectorAll('h1, h2, h3, h4, h5, h6')].map(h => h.textContent)
        .filter(t => t.trim().startsWith('heading')),
    })""")


@pytest.mark.slow  # a command line run per case
@pytest.mark.parametrize("name", ["Bad\x0bname", "Bad\x00name", "Esc\x1b[31mred", "Stop\u202epots", "x" * 121])
def test_the_command_line_refuses_hostile_names_naming_the_field_and_writes_nothing(tmp_path, name):
    from pilots.cli import main
    from pilots.store import table_counts

    path = tmp_path / "pilots.duckdb"
    assert main(["--db", str(path), "units", "add", "Retail"], out=io.StringIO(), err=io.StringIO()) == 0
    before = table_counts(Database(path))
    for argv in (["units", "add", name],
                 ["pilots", "add", "--name", name, "--unit", "Retail", "--metric", "nps",
                  "--baseline", "2025-01-06", "2025-03-30", "--pilot", "2025-03-31", "2025-06-29"]):
        err = io.StringIO()
        assert main(["--db", str(path), *argv], out=io.StringIO(), err=err) == 1
        assert "column 'name'" in err.getvalue() and "Traceback" not in err.getvalue()
        assert ("at most 120" in err.getvalue()) == (len(name) > 120)
    db = Database(path)
    try:
        assert table_counts(db) == before
    finally:
        db.close()
