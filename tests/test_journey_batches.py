"""Journey in a real headless Chromium at 1366 x 768: the Data page preselects the newest batch to
undo, names it before anything happens, says "undone" where the person is looking, and redoes it;
the batch table and the audit log fit the screen without sideways scrolling."""

import re

from playwright.sync_api import expect

from browser import app_server, browser_page
from pilots import ingest, store
from pilots.access import Actor
from pilots.db import Database

EDITOR = Actor("cco.office.with.a.long.name@example-company.com", "editor")
ANSWERS = "unit,metric,date,value\n" + "".join(
    f"{unit},nps,2025-02-{day:02d},{day % 11}\n" for unit in ("Retail Stores", "Online Shop", "Claims Handling")
    for day in range(1, 28))


def overflow(page) -> list[int]:
    """How far each table on screen is wider than its box (0: no sideways scrolling)."""
    return page.evaluate("""() => [...document.querySelectorAll("[data-testid='stDataFrame']")]
        .filter(d => d.offsetParent !== null)
        .map(d => { const s = d.querySelector('.dvn-scroller'); return s ? s.scrollWidth - s.clientWidth : 0; })""")


def test_undo_the_newest_batch_see_it_undone_redo_it_and_read_the_log_at_1366(tmp_path):
    path = tmp_path / "pilots.duckdb"
    db = Database(path)
    for name in ("Retail Stores", "Online Shop", "Claims Handling"):
        store.add_unit(db, EDITOR, name)
    for week in range(3):
        ingest.import_file(db, EDITOR, (ANSWERS + f"Retail Stores,nps,2025-03-0{week + 1},9\n").encode(),
                           "observations", file_name=f"survey_answers_export_week_{week}_final_v2.csv")
    db.close()
    with app_server(path) as url, browser_page(1366, 768) as page:
        page.goto(f"{url}/data")
        expect(page.get_by_role("heading", name="Data", exact=True)).to_be_visible(timeout=120_000)
        page.get_by_role("tab", name="Batches").click()
        expect(page.get_by_role("combobox", name="Batch to undo")).to_have_value(
            re.compile(r"^batch 3: survey_answers_export_week_2_final_v2\.csv, 82 observations imported on "))
        expect(page.locator("[data-testid='stDataFrame']:visible")).to_have_count(1)
        assert overflow(page) == [0]

        page.get_by_role("button", name="Undo this batch…").click()
        # The address carries an invisible word joiner after "@", so it never becomes a link (pages._ui.literal).
        question = page.get_by_text(re.compile(r"Undo batch 3: survey_answers_export_week_2_final_v2\.csv, 82 "
                                               r"observations imported on \d{4}-\d\d-\d\d \d\d:\d\d by "
                                               r"cco\.office\.with\.a\.long\.name@\u2060?example-company\.com\?"))
        expect(question).to_be_in_viewport()
        page.get_by_role("button", name="Yes, undo batch 3").click()
        done = page.get_by_text(re.compile(r"Batch 3 undone: 82 observations of survey_answers_export_week_2_final"
                                           r"_v2\.csv are out of every analysis"))
        expect(done).to_be_in_viewport()
        expect(page.get_by_role("tab", name="Batches")).to_have_attribute("aria-selected", "true")
        assert overflow(page) == [0]

        page.get_by_role("button", name="Redo this batch…").click()
        page.get_by_role("button", name="Yes, redo batch 3").click()
        expect(page.get_by_text(re.compile(r"Batch 3 redone: 82 observations"))).to_be_in_viewport()
        assert page.locator("[data-testid='stException']").count() == 0

        page.goto(f"{url}/audit")
        expect(page.get_by_role("heading", name="Audit log")).to_be_visible()
        expect(page.locator("[data-testid='stDataFrame']:visible")).to_have_count(1)
        page.wait_for_timeout(500)
        assert overflow(page) == [0]
        expect(page.get_by_text(re.compile(r"^#\d+ · .* · redo batch 3"))).to_be_visible()
        page.get_by_text("Full before and after (JSON)").click()
        expect(page.locator("[data-testid='stCode']").first).to_contain_text('"redone_by"')
