"""Journey: the app serves a CCO office editing in the browser while a scheduler runs `pilots import`
again and again. Every import is taken over by the running app (no "database in use"), every edit
in the browser is saved, nothing raw reaches the screen, and afterwards the file holds every batch
whole, every unit once and an intact audit chain."""

import datetime as dt
import subprocess
import sys
from pathlib import Path

from playwright.sync_api import expect

from browser import REPO, app_server, browser_page
from pilots import audit, store
from pilots.access import COMMAND_LINE
from pilots.db import Database
from pilots.model import PilotDraft

LOADS = 4


def nightly_file(folder: Path, day: int) -> Path:
    path = folder / f"night{day}.csv"
    path.write_text("unit,metric,date,value\n" + "".join(
        f"{unit},nps,2025-02-{day:02d},{score}\n" for unit in ("Retail", "Online") for score in range(11)),
        encoding="utf-8")
    return path


def test_imports_from_the_command_line_while_people_edit_in_the_app(tmp_path):
    path = tmp_path / "pilots.duckdb"
    db = Database(path)
    for name in ("Retail", "Online"):
        store.add_unit(db, COMMAND_LINE, name)
    store.add_pilot(db, COMMAND_LINE, PilotDraft(
        name="Callback", unit="Retail", primary_metric="nps", baseline_start=dt.date(2025, 1, 6),
        baseline_end=dt.date(2025, 3, 30), pilot_start=dt.date(2025, 3, 31), pilot_end=dt.date(2025, 6, 29),
        controls=["Online"]))
    db.close()
    files = [nightly_file(tmp_path, day) for day in range(1, LOADS + 1)]
    with app_server(path) as url, browser_page() as page:
        page.goto(f"{url}/settings")
        expect(page.get_by_role("heading", name="Settings")).to_be_visible(timeout=120_000)
        for i, file in enumerate(files):
            load = subprocess.Popen([sys.executable, "-m", "pilots", "--db", str(path), "import", "observations",
                                     str(file)], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            form = page.locator("[data-testid='stForm']").filter(has_text="Add a business unit")
            name = form.get_by_label("Name")
            expect(name).to_have_count(1)  # the form of the last save has made way for a fresh one
            name.fill(f"Branch {i}")
            form.get_by_role("button", name="Add unit").click()
            expect(page.get_by_text(f"Added Branch {i}")).to_be_visible()
            out, err = load.communicate(timeout=120)
            assert load.returncode == 0 and err == "", err
            assert f"22 observations from {file.name}" in out
        body = page.locator("body").inner_text()
        assert "Traceback" not in body and "IOException" not in body and "in use" not in body
        verified = subprocess.run([sys.executable, "-m", "pilots", "--db", str(path), "audit", "verify"], cwd=REPO,
                                  capture_output=True, text=True, timeout=120)
        assert verified.returncode == 0 and "intact" in verified.stdout
    db = Database(path)
    try:
        with db.cursor() as cur:
            per_batch = [n for (n,) in cur.execute("SELECT count(*) FROM observations GROUP BY batch_id").fetchall()]
        assert per_batch == [22] * LOADS
        names = [u.name for u in store.list_units(db, COMMAND_LINE)]
        assert sorted(n for n in names if n.startswith("Branch")) == [f"Branch {i}" for i in range(LOADS)]
        assert audit.verify_chain(db, COMMAND_LINE).intact
    finally:
        db.close()
