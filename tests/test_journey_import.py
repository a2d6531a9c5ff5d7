"""Journey in a real headless Chromium: upload a file on the Data page, see its problems, fix it,
import it (the uploader is emptied, the file let go), and find the new batch in the list."""

import re

from playwright.sync_api import expect

from browser import app_server, browser_page

GOOD = "unit,metric,date,value\n" + "".join(
    f"Retail Stores,nps,2026-11-{day:02d},{day % 11}\n" for day in range(1, 21))
BAD = GOOD.replace("Retail Stores,nps,2026-11-03,3", "Retial Stores,nps,2026-11-03,13")


def test_upload_problems_then_commit_and_see_the_batch(tmp_path):
    (tmp_path / "bad.csv").write_text(BAD)
    (tmp_path / "answers.csv").write_text(GOOD)
    with app_server(tmp_path / "pilots.duckdb") as url, browser_page() as page:
        page.goto(f"{url}/data")
        expect(page.get_by_role("heading", name="Data", exact=True)).to_be_visible(timeout=120_000)

        page.locator("input[type='file']").set_input_files(str(tmp_path / "bad.csv"))
        expect(page.get_by_text(re.compile(r"Refused, nothing was saved: 2 problems"))).to_be_visible()
        expect(page.locator("[data-testid='stDataFrame']:visible")).to_have_count(2)  # the preview and the problems
        assert page.get_by_role("button", name=re.compile(r"^Import \d")).count() == 0

        page.locator("input[type='file']").set_input_files(str(tmp_path / "answers.csv"))
        uploaded = page.locator("[data-testid='stFileUploader'] [data-testid='stFileChip']")
        expect(uploaded).to_have_count(1)
        page.get_by_role("button", name="Import 20 observations").click()
        expect(page.get_by_text(re.compile(r"Imported batch \d+: 20 observations from answers.csv"))).to_be_visible()
        expect(uploaded).to_have_count(0)  # the imported upload is let go: an empty uploader for the next file
        assert page.locator("[data-testid='stException']").count() == 0

        page.get_by_role("tab", name="Batches").click()
        # the batch table is drawn on a canvas; the undo picker names the new batch, preselected as the newest
        expect(page.get_by_role("combobox", name="Batch to undo")).to_have_value(
            re.compile(r"^batch \d+: answers\.csv, 20 observations imported on "))
