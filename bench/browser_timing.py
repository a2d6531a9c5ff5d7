"""Speed a person feels: the app in a real headless Chromium (Playwright, Debian's /usr/bin/chromium),
timed from navigation (or the click, or the key) to the last expected element drawn.

    python bench/browser_timing.py --db PATH [--runs 3] [--width 1366 --height 768]

`browser_timings(db_path)` returns rows like bench/run.py's (section, measure, result):

- first screen of every page: from the browser's navigation start to the moment the page is done
  and stays done for STABLE_MS: its heading shown, the script no longer running, nothing stale or
  loading, every visible chart and table drawn. The first visit after the server starts (imports,
  cold caches) is reported apart from the warm median.
- page to page: a click on a link (in the page or the sidebar) to the next page done, the way a
  person moves about: portfolio, a pilot, present mode and back, the register, a unit.
- present mode: a step to the next slide with the arrow key to the new slide done (its chart drawn).
- what the Pilot page draws only once asked: a click on a chart's tab (every metric against its
  target) to its chart drawn, and on the data coverage expander to its chart drawn.

The server runs on a copy of the database (the app writes nothing on these visits, but DuckDB lets
one process at a time hold the file). Timings are measured, never asserted.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

STABLE_MS = 300  # done means done for this long: a rerun that follows (e.g. present mode learning the window) counts

# The page is done: `heading` (a prefix of the main heading; null for any) and `text` (a paragraph
# that must be shown; null for none) are there, the script is not running, nothing is stale or
# loading, and every visible chart is drawn (by a new canvas, not the one drawn before the
# click: window.__old) and every visible table laid out. Records when it became done and stayed so.
_DONE = """([heading, text, stable]) => {
  const main = document.querySelector('[data-testid=stMain]');
  const app = document.querySelector('[data-testid=stApp]');
  let ok = !!main && !!app && app.getAttribute('data-test-script-state') === 'notRunning';
  if (ok && heading !== null) {
    const h1 = main.querySelector('h1');
    ok = !!h1 && h1.textContent.trim().startsWith(heading);
  }
  if (ok && text !== null) ok = [...main.querySelectorAll('p')].some(p => p.textContent.trim() === text);
  if (ok) ok = !main.querySelector('[data-stale=true], [data-testid=stSkeleton], [data-testid=stSpinner]');
  if (ok) {
    const old = window.__old || [];
    for (const chart of main.querySelectorAll('[data-testid=stVegaLiteChart]')) {
      if (chart.offsetParent === null) continue;
      const drawn = chart.querySelector('canvas, svg.marks');
      if (!drawn || drawn.getBoundingClientRect().height === 0 || old.includes(drawn)) { ok = false; break; }
    }
  }
  if (ok) {
    for (const table of main.querySelectorAll('[data-testid=stDataFrame]')) {
      if (table.offsetParent !== null && table.getBoundingClientRect().height === 0) { ok = false; break; }
    }
  }
  const now = performance.now();
  if (!ok) { window.__doneSince = null; return false; }
  if (window.__doneSince == null) window.__doneSince = now;
  return now - window.__doneSince >= stable;
}"""
_START = """() => { window.__doneSince = null;
  window.__old = [...document.querySelectorAll('[data-testid=stMain] canvas, [data-testid=stMain] svg.marks')];
  window.__t0 = performance.now(); }"""


# A chart that was not there before the click (window.__old) is drawn, the script no longer running.
_NEW_CHART = """() => {
  const app = document.querySelector('[data-testid=stApp]');
  const drawn = [...document.querySelectorAll('[data-testid=stMain] canvas, [data-testid=stMain] svg.marks')]
    .some(c => !(window.__old || []).includes(c) && c.getBoundingClientRect().height > 0);
  if (drawn && app.getAttribute('data-test-script-state') === 'notRunning') {
    window.__drawnAt = performance.now();
    return true;
  }
  return false;
}"""


def _wait_done(page, heading: str | None, text: str | None = None, timeout: float = 120_000) -> float:
    """Milliseconds from the recorded start (window.__t0, or navigation start) to done."""
    page.wait_for_function(_DONE, arg=[heading, text, STABLE_MS], polling="raf", timeout=timeout)
    return page.evaluate("() => window.__doneSince - (window.__t0 || 0)")


def _ms(values: list[float]) -> str:
    return f"{statistics.median(values):.0f} ms"


def _subject(db_path: Path) -> tuple[int, str, int]:
    """A pilot to show (a decided one with controls, as a committee would open; else the first) and
    the number of slides in its deck."""
    from pilots import slides, store
    from pilots.access import COMMAND_LINE
    from pilots.db import Database

    db = Database(db_path)
    try:
        pilots = store.list_pilots(db, COMMAND_LINE)
        if not pilots:
            raise LookupError("the database has no pilots")
        chosen = next((p for p in pilots if p.status == "decided" and p.control_unit_names), pilots[0])
        return chosen.pilot_id, chosen.name, len(slides.pilot_slides(db, COMMAND_LINE, chosen.pilot_id))
    finally:
        db.close()


def browser_timings(db_path: Path, runs: int = 3, width: int = 1366, height: int = 768,
                    copy: bool = True) -> list[tuple[str, str, str]]:
    """Start the app on (a copy of) the database at `db_path` and time it in headless Chromium at
    `width` x `height`: the first screen of every page (`runs` visits each after a first one),
    page to page (`runs` rounds) and slide steps in present mode (`runs` times through the pilot's
    deck). Rows (section, measure, result) like bench/run.py's."""
    from browser import app_server, browser_page

    pilot_id, pilot_name, slide_count = _subject(db_path)
    with tempfile.TemporaryDirectory() as scratch:
        served = Path(scratch) / "bench.duckdb" if copy else db_path
        if copy:
            shutil.copy(db_path, served)
        with app_server(served) as url, browser_page(width, height) as page:
            return (_first_screens(page, url, pilot_id, pilot_name, runs, width, height)
                    + _page_to_page(page, url, runs)
                    + _slide_steps(page, url, pilot_id, slide_count, runs)
                    + _opened_later(page, url, pilot_id, pilot_name, runs))


def _first_screens(page, url, pilot_id, pilot_name, runs, width, height) -> list[tuple[str, str, str]]:
    screens = [("Portfolio", "", "Portfolio", None), ("Pilots", "pilots", "Pilots", None),
               ("Pilot", f"pilot?id={pilot_id}", pilot_name, None), ("Unit", "unit", "Unit", None),
               ("Present (a pilot)", f"present?pilot={pilot_id}", None, "1 / "),
               ("Present (the portfolio)", "present", None, "1 / "),
               ("Register or edit", "edit", "Register or edit", None), ("Data", "data", "Data", None),
               ("Settings", "settings", "Settings", None), ("Audit log", "audit", "Audit log", None)]
    rows = []
    for label, path, heading, counter in screens:
        times = []
        for _ in range(runs + 1):
            page.goto(f"{url}/{path}")
            if counter is not None:  # present mode: its page number, whatever the deck's length
                times.append(_wait_done(page, None, _counter(page, counter)))
            else:
                times.append(_wait_done(page, heading))
        rows.append(("browser · first screen", f"{label} (target < 1.5 s warm)",
                     f"{_ms(times[1:])} warm (median of {runs}), first visit {times[0]:.0f} ms"))
    return rows


def _page_to_page(page, url, runs) -> list[tuple[str, str, str]]:
    sidebar = "[data-testid=stSidebarNav] a"
    labels = ["Portfolio → Pilot", "Pilot → Present", "Present → Pilot (Exit)", "Pilot → Pilots (sidebar)",
              "Pilots → Unit (sidebar)", "Unit → Portfolio (sidebar)"]
    times: dict[str, list[float]] = {label: [] for label in labels}

    def move(label: str, link: str, heading: str | None, counter: str | None = None) -> None:
        page.evaluate(_START)
        page.locator(link).first.click()
        if counter is not None:
            times[label].append(_wait_done(page, None, _counter(page, counter)))
        else:
            times[label].append(_wait_done(page, heading))

    for _ in range(runs):
        page.goto(f"{url}/")
        _wait_done(page, "Portfolio")
        first = page.locator("[data-testid=stMain] a[href*='pilot?id=']:visible").first  # the portfolio's first pilot
        pilot_id = first.get_attribute("href").rsplit("=", 1)[1]
        name = first.inner_text().strip().splitlines()[-1].split(" — ")[0].strip()  # after its icon's name
        move(labels[0], f"[data-testid=stMain] a[href*='pilot?id={pilot_id}']:visible", name)
        move(labels[1], f"[data-testid=stMain] a[href*='present?pilot={pilot_id}']", None, "1 / ")
        move(labels[2], "[data-testid=stMain] a[href*='pilot?id=']", name)
        move(labels[3], f"{sidebar}[href$='/pilots']", "Pilots")
        move(labels[4], f"{sidebar}[href$='/unit']", "Unit")
        move(labels[5], f"{sidebar}[href='{url}/']", "Portfolio")
    return [("browser · page to page", f"{label} (target < 1 s)", f"{_ms(got)} (median of {len(got)})")
            for label, got in times.items()]


def _counter(page, prefix: str) -> str:
    """Present mode's page number ("1 / 11") once shown, whatever the deck's length."""
    page.wait_for_function("(t) => [...document.querySelectorAll('[data-testid=stMain] p')]"
                           ".some(p => p.textContent.trim().startsWith(t))", arg=prefix, polling="raf", timeout=120_000)
    shown = page.locator("[data-testid=stMain] p").all_inner_texts()
    return next(text for text in shown if text.strip().startswith(prefix)).strip()


def _slide_steps(page, url, pilot_id, slide_count, runs) -> list[tuple[str, str, str]]:
    steps: list[float] = []
    for _ in range(runs):
        page.goto(f"{url}/present?pilot={pilot_id}")
        _wait_done(page, None, f"1 / {slide_count}")
        for number in range(2, slide_count + 1):
            page.evaluate(_START)
            page.keyboard.press("ArrowRight")
            steps.append(_wait_done(page, None, f"{number} / {slide_count}", timeout=30_000))
    return [("browser · present mode", "a step to the next slide, arrow key to slide drawn (target < 300 ms)",
             f"median {_ms(steps)}, slowest {max(steps):.0f} ms ({len(steps)} steps)")]


def _opened_later(page, url, pilot_id, pilot_name, runs) -> list[tuple[str, str, str]]:
    """A click on what the Pilot page draws only once opened, to its chart drawn."""
    opened = {"a chart's tab (every metric against its target)": "[role=tab]:has-text('Every metric')",
              "the data coverage expander": "[data-testid=stExpander] summary:has-text('Data coverage')"}
    times: dict[str, list[float]] = {label: [] for label in opened}
    for _ in range(runs):
        for label, target in opened.items():
            page.goto(f"{url}/pilot?id={pilot_id}")
            _wait_done(page, pilot_name)
            page.evaluate(_START)
            page.locator(target).first.click()
            page.wait_for_function(_NEW_CHART, polling="raf", timeout=60_000)
            times[label].append(page.evaluate("() => window.__drawnAt - window.__t0"))
    return [("browser · opened on the Pilot page", f"{label}, click to chart drawn (target < 1 s)",
             f"{_ms(got)} (median of {len(got)})") for label, got in times.items()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", type=Path, required=True, help="the database to serve (a copy is used)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--width", type=int, default=1366)
    parser.add_argument("--height", type=int, default=768)
    args = parser.parse_args(argv)
    rows = browser_timings(args.db, runs=args.runs, width=args.width, height=args.height)
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
