"""Journey in a real headless Chromium: the CCO office records a third rollout wave of the demo's
callback pilot (Claims, live from 1 June 2026) on the Register page, imports the survey answers of
its weeks since on the Data page, and the Pilot page shows the new wave holding and the event study
of the whole rollout."""

import re
import shutil

import pandas as pd
from playwright.sync_api import expect

from browser import app_server, browser_page
from pilots import store
from pilots.access import COMMAND_LINE
from pilots.db import Database

PILOT = "Callback instead of hold queue"
WAVE_UNIT, GO_LIVE = "Claims", "2026-06-01"
LIFT = 12.0  # NPS points the imported answers add to each week of the wave


def answers_lifting(db: Database, unit: str, since: str, lift: float) -> pd.DataFrame:
    """Promoters' answers (10) that raise each week's NPS of `unit` since `since` by `lift` points:
    k = n·lift / (100 − NPS − lift) added to a week of n answers at that NPS."""
    with db.cursor() as cur:
        weeks = cur.execute(
            "SELECT date_trunc('week', obs_date)::DATE AS week, count(*) AS n, avg(score) AS nps "
            "FROM scored_observations JOIN business_units USING (unit_id) "
            "WHERE metric_key = 'nps' AND name = ? AND obs_date >= ? GROUP BY ALL ORDER BY week",
            [unit, since]).df()
    rows = []
    for week in weeks.itertuples():
        added = round(week.n * lift / (100 - week.nps - lift))
        rows += [{"unit": unit, "metric": "nps", "date": (week.week + pd.Timedelta(days=i % 5)).isoformat()[:10],
                  "value": 10} for i in range(added)]
    return pd.DataFrame(rows)


def test_record_a_wave_import_its_weeks_and_see_it_hold(demo_file, tmp_path):
    path = tmp_path / "pilots.duckdb"
    shutil.copy(demo_file, path)
    db = Database(path)
    pilot = next(p for p in store.list_pilots(db, COMMAND_LINE) if p.name == PILOT)
    answers = answers_lifting(db, WAVE_UNIT, GO_LIVE, LIFT)
    db.close()
    answers.to_csv(tmp_path / "claims-answers.csv", index=False)
    with app_server(path) as url, browser_page(1366, 900) as page:
        page.goto(f"{url}/edit?id={pilot.pilot_id}")
        expect(page.get_by_role("heading", name="Rollout waves")).to_be_visible(timeout=120_000)
        expect(page.get_by_text(re.compile(r"Wave 2, live from 22 Dec 2025"))).to_be_visible()
        units = page.get_by_role("combobox", name=re.compile("Units adopting the change"))
        units.click()
        page.get_by_role("option", name=WAVE_UNIT).click()
        page.keyboard.press("Escape")
        year, month, day = GO_LIVE.split("-")
        for part, typed in (("year", year), ("month", month), ("day", day)):  # a date field of spin buttons
            page.get_by_role("spinbutton", name=f"{part}, Go-live date *").click()
            page.keyboard.type(typed)
        expect(page.get_by_role("spinbutton", name="month, Go-live date *")).to_have_attribute("aria-valuenow", "6")
        page.get_by_role("button", name="Record wave 3").click()
        expect(page.get_by_text(re.compile(r"Recorded wave 3: Claims from 01 Jun 2026"))).to_be_visible()

        page.goto(f"{url}/data")
        expect(page.get_by_role("heading", name="Data", exact=True)).to_be_visible(timeout=120_000)
        page.locator("input[type='file']").set_input_files(str(tmp_path / "claims-answers.csv"))
        page.get_by_role("button", name=f"Import {len(answers):,} observations").click()
        expect(page.get_by_text(re.compile(r"Imported batch \d+"))).to_be_visible(timeout=60_000)

        page.goto(f"{url}/pilot?id={pilot.pilot_id}")
        expect(page.get_by_role("heading", name=PILOT)).to_be_visible(timeout=120_000)
        expect(page.get_by_text(re.compile(r"Wave 3 \(Claims, live from 01 Jun 2026\): holding")).first).to_be_visible()
        expect(page.get_by_text(re.compile(r"Wave 2 \(Online & App, live from 22 Dec 2025\): fading")).first) \
            .to_be_visible()
        expect(page.get_by_text(re.compile(r"Wave 2 \(Online & App\) needs a look"))).to_be_visible()
        page.get_by_role("tab", name="Did it hold?").click()
        chart = page.locator("[data-testid='stVegaLiteChart']").filter(has=page.locator("canvas, svg"))
        expect(chart.first).to_be_visible(timeout=60_000)
        expect(page.get_by_text(re.compile(r"Overall effect since go-live"))).to_be_visible()
        assert page.locator("[data-testid='stException']").count() == 0
