"""bench/browser_timing.py runs end to end on the demo organisation once (one visit of each kind) and
returns a row for every page, every move, the slide step and what the Pilot page draws once opened.
No timing is asserted."""

import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from browser_timing import browser_timings  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_browser_timings_report_every_page_move_and_step(demo_file):
    rows = browser_timings(demo_file, runs=1)
    assert all(len(row) == 3 for row in rows)
    by_section = {}
    for section, measure, result in rows:
        by_section.setdefault(section, []).append((measure, result))
    assert {m.rsplit(" (target", 1)[0] for m, _ in by_section["browser · first screen"]} >= {
        "Portfolio", "Pilots", "Pilot", "Unit", "Present (a pilot)", "Present (the portfolio)"}
    assert len(by_section["browser · page to page"]) == 6
    assert len(by_section["browser · present mode"]) == 1
    assert len(by_section["browser · opened on the Pilot page"]) == 2
    assert all(re.search(r"\d+ ms", result) for _, result in sum(by_section.values(), []))
