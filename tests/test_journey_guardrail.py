"""Journey in a real headless Chromium: the CCO office undoes the demo's cost-to-serve batch, the
guardrail of "Same-day engineer dispatch" loses its data, and every surface says the same thing —
"Guardrail not measured", a blocking check, never "held": the pilot page, its slides in present
mode, the PowerPoint and the PDF; the portfolio's value does not move."""

import io
import re
import shutil

from playwright.sync_api import expect
from pptx import Presentation
from pypdf import PdfReader

from browser import app_server, browser_page
from pilots import store
from pilots.access import COMMAND_LINE
from pilots.db import Database

PILOT = "Same-day engineer dispatch"
NOT_MEASURED = "Guardrail not measured"


def value_shown(page) -> str:
    card = page.locator("[data-testid='stMetric']").filter(has_text="Rollout value a year")
    return card.locator("[data-testid='stMetricValue']").inner_text()


def download(page, button: str) -> bytes:
    with page.expect_download(timeout=120_000) as waiting:
        page.get_by_role("button", name=button).click()
    with open(waiting.value.path(), "rb") as file:
        return file.read()


def test_undoing_a_guardrails_data_reads_guardrail_not_measured_everywhere(demo_file, tmp_path):
    path = tmp_path / "pilots.duckdb"
    shutil.copy(demo_file, path)
    db = Database(path)
    pilot = next(p for p in store.list_pilots(db, COMMAND_LINE) if p.name == PILOT)
    db.close()
    with app_server(path) as url, browser_page(1366, 900) as page:
        page.goto(url)
        expect(page.get_by_role("heading", name="Portfolio")).to_be_visible(timeout=120_000)
        before = value_shown(page)

        page.goto(f"{url}/pilot?id={pilot.pilot_id}")
        expect(page.get_by_role("heading", name=PILOT)).to_be_visible(timeout=120_000)
        expect(page.get_by_text(NOT_MEASURED)).to_have_count(0)

        page.goto(f"{url}/data")
        expect(page.get_by_role("heading", name="Data", exact=True)).to_be_visible(timeout=120_000)
        page.get_by_role("tab", name="Batches").click()
        choice = page.get_by_role("combobox", name="Batch to undo")
        choice.click()
        choice.fill("cost_to_serve")
        page.get_by_role("option", name=re.compile(r"cost_to_serve")).first.click()
        expect(choice).to_have_value(re.compile(r"cost_to_serve"))
        page.get_by_role("button", name="Undo this batch…").click()
        page.get_by_role("button", name=re.compile(r"^Yes, undo batch \d+$")).click()
        expect(page.get_by_text(re.compile(r"Batch \d+ undone"))).to_be_visible(timeout=60_000)

        page.goto(f"{url}/pilot?id={pilot.pilot_id}")
        expect(page.get_by_role("heading", name=PILOT)).to_be_visible(timeout=120_000)
        expect(page.get_by_text(re.compile(NOT_MEASURED)).first).to_be_visible()
        expect(page.get_by_text("Design problem").first).to_be_visible()  # a blocking check, not a caution
        expect(page.get_by_text("evidence since: Inconclusive").first).to_be_visible()  # the decision still leads
        assert page.get_by_text("guardrail held").count() == 0
        decks = {"pptx": download(page, "Deck (PowerPoint)"), "pdf": download(page, "Deck (PDF)")}

        page.goto(f"{url}/present?pilot={pilot.pilot_id}")
        expect(page.get_by_role("heading", name=PILOT)).to_be_visible(timeout=120_000)
        for _ in range(20):  # step to the checks in the appendix
            if page.get_by_text(re.compile(NOT_MEASURED)).count():
                break
            page.get_by_role("button", name=re.compile("^Next")).click()
            page.wait_for_timeout(600)
        expect(page.get_by_text(re.compile(NOT_MEASURED)).first).to_be_visible()

        page.goto(url)
        expect(page.get_by_role("heading", name="Portfolio")).to_be_visible(timeout=120_000)
        assert value_shown(page) == before  # a Stop with an unmeasured guardrail adds nothing

    pptx = " ".join(shape.text_frame.text for slide in Presentation(io.BytesIO(decks["pptx"])).slides
                    for shape in slide.shapes if shape.has_text_frame)
    pdf = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(decks["pdf"])).pages)
    for text in (pptx, " ".join(pdf.split())):
        assert NOT_MEASURED in text and "Decided: Stop" in text
