"""The benchmark script runs end to end at a tiny size and prints its table (no timing is asserted;
the benchmark itself is not part of the test suite)."""

import re
import subprocess
import sys
from pathlib import Path

from pilots import store
from pilots.db import Database

ROOT = Path(__file__).resolve().parents[1]


def test_bench_runs_at_a_tiny_scale_and_reports_every_section(tmp_path):
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--scale", "large", "--rows", "2000",
         "--observations", "20000", "--units", "5", "--pilots", "12", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    rows = [re.split(r"\s{2,}", line.strip()) for line in done.stdout.splitlines()[2:]]
    sections = {row[0] for row in rows}
    assert {"build · large", "import", "analysis · large", "pages · large", "backup · large", "total"} <= sections
    measures = {row[1].split(" (")[0] for row in rows if row[0] == "analysis · large"}
    assert {"rollout waves of every rolled-out pilot", "driver → north star, every driver on NPS"} <= measures
    assert not [row for row in rows if "not available yet" in row[-1]], "every section measured"
    assert any("2,000 rows stored by the CLI" in row[-1] for row in rows)
    pages = {p.stem for p in (ROOT / "pages").glob("*.py") if not p.name.startswith("_")}
    # Every page has its row, timed.
    page_rows = {row[1].split()[0]: row[-1] for row in rows if row[0] == "pages · large"}
    assert pages <= set(page_rows)
    assert all(re.match(r"first \d+ ms, again \d+ ms", page_rows[p]) for p in pages), page_rows
    db = Database(tmp_path / "large.duckdb")
    try:
        counts = store.table_counts(db)
    finally:
        db.close()
    assert (counts["business_units"], counts["pilots"], counts["observations"]) == (5, 12, 20_000)
    assert counts["measurements"] == 5 * 5 * 261
