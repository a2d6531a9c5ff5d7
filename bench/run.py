"""The benchmark: speed and memory of the import, the analysis and every page, at the realistic
scale (the demo organisation) and at a large scale (50 units, 500 pilots, 10 million survey answers
over five years, generated deterministically in DuckDB SQL), printed as one table.

    python bench/run.py [--scale realistic|large|both] [--rows 1000000] [--observations 10000000]
                        [--import-large]

Databases and files go to bench/out/ (git-ignored); the large database is reused while its
parameters are unchanged. Anything measured in a subprocess (the command-line import, DuckDB's own
read_csv, the analysis, the pages) gets a fresh interpreter, so its peak memory and cold timings are
its own. A section whose code is not there yet reports "not available yet: <reason>".
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pilots import batches, lifecycle, store  # noqa: E402
from pilots.access import Actor  # noqa: E402
from pilots.db import Database  # noqa: E402
from pilots.model import PilotDraft, Status  # noqa: E402

ACTOR = Actor("bench", "editor")
LARGE_FIRST_WEEK = dt.date(2021, 11, 22)
LARGE_WEEKS = 261  # five years; the last week starts on 2026-11-16
GENERATOR_VERSION = 2  # bump when the large data set's recipe changes, so a stored one is rebuilt
SURVEY_METRICS = ("nps", "csat", "ces")
FIGURE_METRICS = ("fcr", "churn", "complaints", "resolution_days", "cost_to_serve")
PRIMARY_CYCLE = ("nps", "csat", "ces", "fcr", "resolution_days")
CHART_ROW_LIMIT = 5_000


# ---------------------------------------------------------------- the large data set

def _uniform(i: str, k: int) -> str:
    """SQL for a deterministic pseudo-random number in [0, 1) from the row number and a stream."""
    return f"((hash({i}, {k}) % 1000000) / 1e6)"


def _normal(i: str, k: int) -> str:
    """SQL for an approximately standard normal number: the centred sum of three uniforms, scaled."""
    return f"(2 * ({_uniform(i, k)} + {_uniform(i, k + 1)} + {_uniform(i, k + 2)} - 1.5))"


def _unit_names(count: int) -> list[str]:
    return [f"Unit {n:02d}" for n in range(1, count + 1)]


def add_units(db: Database, count: int) -> None:
    for n, name in enumerate(_unit_names(count)):
        store.add_unit(db, ACTOR, name, head=f"Head of unit {n + 1:02d}", customers=20_000 + 7_919 * (n % 40) * 10,
                       revenue_per_customer=150.0 + 37.0 * (n % 11))


def _unit_index_sql(count: int) -> str:
    names = ", ".join(f"('{name}', {k})" for k, name in enumerate(_unit_names(count)))
    return (f"(SELECT u.unit_id, u.name, k FROM business_units u "
            f"JOIN (VALUES {names}) AS v(name, k) ON v.name = u.name)")


def survey_rows_sql(rows: int, units: int, by_name: bool) -> str:
    """SQL of `rows` survey answers (nps, csat, ces) spread over the units and the five years, each
    unit with its own level. Columns (unit_id, metric_key, obs_date, value), or the file's columns
    (unit, metric, date, value) when `by_name`."""
    days = LARGE_WEEKS * 7
    z = _normal("i", 1)
    columns = ("u.name AS unit, g.metric_key AS metric, g.obs_date AS date" if by_name
               else "u.unit_id, g.metric_key, g.obs_date")
    return f"""
    WITH g AS (
        SELECT i, i % {units} AS k, ['nps', 'csat', 'ces'][1 + (i // {units}) % 3] AS metric_key,
               DATE '{LARGE_FIRST_WEEK}' + (((i // {units * 3}) * 7919) % {days})::INTEGER AS obs_date,
               {z} AS z
        FROM range({rows}) AS t(i)
    )
    SELECT {columns},
           CASE g.metric_key
               WHEN 'nps' THEN least(10, greatest(0, round(7.3 + (g.k % 7 - 3) * 0.25 + 2.2 * g.z)))
               WHEN 'csat' THEN least(5, greatest(1, round(3.9 + (g.k % 5 - 2) * 0.15 + 1.0 * g.z)))
               ELSE least(7, greatest(1, round(5.0 + (g.k % 7 - 3) * 0.2 + 1.4 * g.z)))
           END AS value
    FROM g JOIN {_unit_index_sql(units)} u ON u.k = g.k
    """


def _figure_rows_sql(units: int) -> str:
    """Weekly figures of every unit for the five years: fcr and resolution days with n and sd."""
    z = _normal("i", 11)
    metrics = ", ".join(f"'{m}'" for m in FIGURE_METRICS)
    return f"""
    WITH g AS (
        SELECT i, i % {units} AS k, [{metrics}][1 + (i // {units}) % {len(FIGURE_METRICS)}] AS metric_key,
               DATE '{LARGE_FIRST_WEEK}' + 7 * (i // {units * len(FIGURE_METRICS)})::INTEGER AS period_start,
               {z} AS z
        FROM range({units * len(FIGURE_METRICS) * LARGE_WEEKS}) AS t(i)
    )
    SELECT u.unit_id, g.metric_key, g.period_start,
           round(CASE g.metric_key
               WHEN 'fcr' THEN 0.65 + 0.01 * (g.k % 9) + 0.02 * g.z
               WHEN 'churn' THEN 0.003 + 0.0002 * g.z
               WHEN 'complaints' THEN 2.0 + 0.1 * (g.k % 5) + 0.2 * g.z
               WHEN 'resolution_days' THEN 5.0 + 0.5 * (g.k % 8) + 0.3 * g.z
               ELSE 4.0 + 0.3 * (g.k % 10) + 0.1 * g.z END, 5) AS value,
           CASE WHEN g.metric_key IN ('fcr', 'resolution_days') THEN 300 + 40 * (g.k % 10) END::BIGINT AS n,
           CASE g.metric_key WHEN 'fcr' THEN 0.47 WHEN 'resolution_days' THEN 3.5 END AS sd
    FROM g JOIN {_unit_index_sql(units)} u ON u.k = g.k
    """


def _large_pilots(units: int, pilots: int) -> list[tuple[PilotDraft, str | None, bool]]:
    """(draft, decision, rolled out) for every pilot: windows spread over the five years, every
    lifecycle state, one to three controls."""
    names = _unit_names(units)
    plan = []
    for p in range(pilots):
        unit = p % units
        start = LARGE_FIRST_WEEK + dt.timedelta(weeks=12 + (p * 37) % (LARGE_WEEKS - 26))
        primary = PRIMARY_CYCLE[p % len(PRIMARY_CYCLE)]
        secondary = PRIMARY_CYCLE[(p + 1) % len(PRIMARY_CYCLE)]
        controls = sorted({names[(unit + 1 + 7 * k) % units] for k in range(1 + p % 3)} - {names[unit]})
        stage = p % 10
        status: Status = ("proposed", "baseline", "running", "running", "evaluating", "evaluating")[stage] \
            if stage < 6 else "evaluating"
        decision = {6: "roll_out", 7: "stop", 8: "extend", 9: "roll_out"}.get(stage)
        target = {"nps": 5.0, "csat": 0.04, "ces": 0.3, "fcr": 0.04, "resolution_days": -0.5}[primary]
        plan.append((PilotDraft(
            name=f"Pilot {p + 1:03d}", unit=names[unit], primary_metric=primary,
            baseline_start=start - dt.timedelta(weeks=12), baseline_end=start - dt.timedelta(days=1),
            pilot_start=start, pilot_end=start + dt.timedelta(weeks=13, days=-1), controls=controls,
            secondary_metrics=[secondary], guardrail_metrics=["cost_to_serve"], target_effect=target,
            owner=f"Owner {p % 37:02d}", sponsor=f"Sponsor {p % 11:02d}", journey_stage="Get help",
            barrier_type=("operational", "cultural", "technical")[p % 3], cost=50_000.0 + 1_000 * (p % 200),
            value_per_point=1.0, status=status), decision, stage == 9))
    return plan


def build_large(path: Path, units: int, pilots: int, observations: int) -> str:
    """The large database at `path`, rebuilt unless one with the same parameters is there."""
    meta = {"units": units, "pilots": pilots, "observations": observations, "generator": GENERATOR_VERSION}
    meta_path = path.with_suffix(".json")
    if path.exists() and meta_path.exists() and json.loads(meta_path.read_text()) == meta:
        return "reused"
    for stale in (path, path.with_name(path.name + ".wal"), meta_path):
        stale.unlink(missing_ok=True)
    db = Database(path)
    try:
        add_units(db, units)
        with db.write(ACTOR, "load the benchmark's data") as w:
            cur = w.cursor
            cur.execute(f"CREATE TEMP VIEW bench_answers AS {survey_rows_sql(observations, units, by_name=False)}")
            batches.insert_batch(w, "observations", "bench: generated survey answers", "bench_answers")
            cur.execute(f"CREATE TEMP VIEW bench_figures AS {_figure_rows_sql(units)}")
            batches.insert_batch(w, "measurements", "bench: generated weekly figures", "bench_figures")
            cur.execute("DROP VIEW bench_answers")
            cur.execute("DROP VIEW bench_figures")
        for draft, decision, rolled_out in _large_pilots(units, pilots):
            pilot_id = store.add_pilot(db, ACTOR, draft)
            if decision:
                lifecycle.record_decision(db, ACTOR, pilot_id, decision, "benchmark decision", "Steering committee",
                                      draft.pilot_end + dt.timedelta(days=14))
            if rolled_out:  # in two waves where there are two controls: the first two months after the window
                for wave, unit in enumerate(draft.controls[:2]):
                    lifecycle.record_rollout(db, ACTOR, pilot_id, [unit],
                                             draft.pilot_end + dt.timedelta(days=60 + 120 * wave))
        with db.cursor() as cur:
            cur.execute("CHECKPOINT")
    finally:
        db.close()
    meta_path.write_text(json.dumps(meta))
    return "built"


def build_realistic(path: Path) -> str:
    from pilots.demo import load_demo

    for stale in (path, path.with_name(path.name + ".wal")):
        stale.unlink(missing_ok=True)
    db = Database(path)
    try:
        return str(load_demo(db))
    finally:
        db.close()


# ---------------------------------------------------------------- measuring

# A small launcher runs each measured command as its own child and reports that child's resource
# use: a process forked from this (large) benchmark would inherit its peak RSS across exec.
_LAUNCHER = ("import os, subprocess, sys, time; start = time.perf_counter(); child = subprocess.Popen(sys.argv[2:]); "
             "_, status, usage = os.wait4(child.pid, 0); open(sys.argv[1], 'w').write("
             "f'{time.perf_counter() - start} {usage.ru_maxrss} {os.waitstatus_to_exitcode(status)}')")


def run_child(args: list[str], env: dict | None = None) -> tuple[float, float, int, str, str]:
    """Run a command; (wall seconds, peak resident MB of that process, exit status, stdout, stderr)."""
    with tempfile.TemporaryDirectory() as scratch:
        report, out, err = (Path(scratch) / name for name in ("report", "out", "err"))
        with out.open("wb") as stdout, err.open("wb") as stderr:
            subprocess.run([sys.executable, "-I", "-S", "-c", _LAUNCHER, str(report), *args], stdout=stdout,
                           stderr=stderr, cwd=ROOT, env={**os.environ, **(env or {})}, check=False)
        seconds, peak_kb, status = report.read_text().split()
        return float(seconds), int(peak_kb) / 1024, int(status), out.read_text(), err.read_text()


def child_json(kind: str, db_path: Path, *extra: str) -> dict:
    """Run one of this script's in-process measurements in a fresh interpreter; its JSON result."""
    _, _, status, out, err = run_child([sys.executable, str(Path(__file__).resolve()), "--child", kind,
                                        "--db", str(db_path), *extra], env={"PILOTS_DB": str(db_path)})
    lines = out.strip().splitlines()
    if status != 0 or not lines:
        raise RuntimeError(f"child '{kind}' failed ({status}): {err.strip().splitlines()[-1:] or 'no output'}")
    return json.loads(lines[-1])


# The import's targets against DuckDB's own read_csv of the same file, by size of the file.
IMPORT_TARGETS = ((5_000_000, 1.5), (None, 2.0))  # up to 5 M rows within 1.5x; beyond, within 2x
IMPORT_REPEATS = 3  # each timed command runs this often, best kept: the machine may be shared


def _import_target(rows: int) -> float:
    return next(ratio for limit, ratio in IMPORT_TARGETS if limit is None or rows <= limit)


def measure_import(out_dir: Path, rows: int, units: int) -> list[tuple[str, str, str]]:
    """Import a file of `rows` observations through the command line and with DuckDB's read_csv,
    each in a fresh process and into a fresh database, best of IMPORT_REPEATS runs each (runs
    alternate, so a busy moment of the machine hits both alike)."""
    csv_path = out_dir / f"import_{rows}.csv"
    base, target, plain = (out_dir / f"import_{name}.duckdb" for name in ("base", "target", "duckdb"))

    def fresh(*paths: Path) -> None:
        for path in paths:
            for stale in (path, path.with_name(path.name + ".wal")):
                stale.unlink(missing_ok=True)

    fresh(base)
    db = Database(base)
    try:
        add_units(db, units)
        with db.cursor() as cur:
            cur.execute(f"COPY ({survey_rows_sql(rows, units, by_name=True)} ORDER BY date, unit) "
                        f"TO '{csv_path}' (HEADER, DELIMITER ',')")
    finally:
        db.close()
    cli, duck = [], []
    for _ in range(IMPORT_REPEATS):
        fresh(target, plain)
        shutil.copyfile(base, target)
        seconds, peak_mb, status, _, err = run_child(
            [sys.executable, "-m", "pilots", "--db", str(target), "import", "observations", str(csv_path)])
        if status != 0:
            reason = (err.strip().splitlines() or ["no message"])[-1]
            return [("import", f"{rows:,} rows via CLI", f"not available yet: exit {status}: {reason}")]
        cli.append((seconds, peak_mb))
        seconds, peak_mb, _, _, _ = run_child([sys.executable, "-c", (
            "import duckdb, sys; con = duckdb.connect(sys.argv[1]); "
            "con.execute('CREATE TABLE observations AS SELECT * FROM read_csv(?)', [sys.argv[2]]); con.close()"),
            str(plain), str(csv_path)])
        duck.append((seconds, peak_mb))
    startup_s, startup_mb, _, _, _ = run_child([sys.executable, "-m", "pilots", "--db", str(target), "units", "list"])
    check = Database(target)
    try:
        with check.cursor() as cur:
            stored = cur.execute("SELECT count(*) FROM observations").fetchone()[0]
    finally:
        check.close()
    (cli_s, _), (duck_s, _) = min(cli), min(duck)
    cli_mb, duck_mb = max(mb for _, mb in cli), max(mb for _, mb in duck)
    size = csv_path.stat().st_size / 2**20
    csv_path.unlink()
    fresh(base, target, plain)
    return [
        ("import", f"file of {rows:,} rows ({size:.0f} MB CSV)", f"{stored:,} rows stored by the CLI"),
        ("import", f"CLI `import observations` (best of {IMPORT_REPEATS}: process wall time; peak RSS)",
         f"{cli_s:.2f} s, {cli_mb:.0f} MB"),
        ("import", "of which CLI start-up (`units list` on the same database)",
         f"{startup_s:.2f} s, {startup_mb:.0f} MB"),
        ("import", f"DuckDB read_csv into a table (best of {IMPORT_REPEATS}: process wall time; peak RSS)",
         f"{duck_s:.2f} s, {duck_mb:.0f} MB"),
        ("import", f"ratio CLI / DuckDB at {rows:,} rows (target ≤ {_import_target(rows):g}×; memory target < 1 GB)",
         f"{cli_s / duck_s:.2f}× time, {cli_mb / duck_mb:.2f}× memory"),
    ]


def _chosen_pilot(db_path: Path) -> int:
    """The pilot the analysis and the Pilot page are timed on: the first with three or more control
    units (so its case fits a synthetic control and its placebos), preferably evaluating; else the one
    with the most controls."""
    db = Database(db_path)
    try:
        with db.cursor() as cur:
            return cur.execute("""
                SELECT pilot_id FROM pilots p
                ORDER BY least((SELECT count(*) FROM pilot_controls c WHERE c.pilot_id = p.pilot_id), 3) DESC,
                         status = 'evaluating' DESC, pilot_id
                LIMIT 1""").fetchone()[0]
    finally:
        db.close()


def measure_analysis(db_path: Path, scale: str) -> list[tuple[str, str, str]]:
    pilot_id = _chosen_pilot(db_path)
    result = child_json("analysis", db_path, "--pilot", str(pilot_id))
    rows = []
    for key, label in (("pilot", f"analyze_pilot (pilot {pilot_id}, synthetic control and placebos included; target < 300 ms warm)"),
                       ("portfolio", "portfolio_effects (all pilots; target < 3 s cold)"),
                       ("cases", "analyze_pilots (every pilot's full case and verdict)"),
                       ("waves", "rollout waves of every rolled-out pilot (weekly panels read cold; target < 3 s)"),
                       ("drivers", "driver → north star, every driver on NPS (target < 3 s cold)")):
        got = result[key]
        rows.append((f"analysis · {scale}", label, got if isinstance(got, str) else
                     f"cold {got['cold'] * 1000:.0f} ms, warm {got['warm'] * 1000:.0f} ms"))
    return rows


def measure_pages(db_path: Path, scale: str) -> list[tuple[str, str, str]]:
    pilot_id = _chosen_pilot(db_path)
    result = child_json("pages", db_path, "--pilot", str(pilot_id))
    rows = []
    for page, got in result.items():
        if "error" in got:
            rows.append((f"pages · {scale}", page, got["error"]))
            continue
        if "again" not in got:
            rows.append((f"pages · {scale}", page, f"{got['first'] * 1000:.0f} ms"))
            continue
        charts = f"; largest chart {got['chart_rows']:,} rows" if got["chart_rows"] is not None else ""
        flag = " (over the 5,000-row limit)" if (got["chart_rows"] or 0) > CHART_ROW_LIMIT else ""
        shown = f" (pilot {pilot_id})" if page == "pilot" else ""
        rows.append((f"pages · {scale}", f"{page}{shown} (target < 1 s)",
                     f"first {got['first'] * 1000:.0f} ms, again {got['again'] * 1000:.0f} ms{charts}{flag}"))
    return rows


# ---------------------------------------------------------------- what runs in the child processes

def child_analysis(db_path: str, pilot_id: int) -> dict:
    """Cold = first call with nothing cached (the analysis cache is emptied before each kind, so
    every cold figure pays for the whole portfolio's evidence); warm = median of five more."""
    db = Database(db_path)
    from pilots.access import COMMAND_LINE

    from pilots import analysis

    pilots = store.list_pilots(db, COMMAND_LINE)
    results = analysis._evidence(db).results

    def waves():
        # The rollout part of the evidence alone, on the pilots' metric results computed beforehand.
        return analysis._rollout_evaluations(db, pilots, store.metric_lookup(db), results)

    def transfer():
        from pilots import drivers

        return drivers.transfer_function(db, COMMAND_LINE)

    result = {}
    for key, call in (("pilot", lambda: analysis.analyze_pilot(db, COMMAND_LINE, pilot_id)),
                      ("portfolio", lambda: analysis.portfolio_effects(db, COMMAND_LINE)),
                      ("cases", lambda: analysis.analyze_pilots(db, COMMAND_LINE)),
                      ("waves", waves), ("drivers", transfer)):
        try:
            analysis._CACHE.clear()
            times = []
            for _ in range(6):
                start = time.perf_counter()
                call()
                times.append(time.perf_counter() - start)
            result[key] = {"cold": times[0], "warm": statistics.median(times[1:])}
        except Exception as failed:
            result[key] = f"not available yet: {type(failed).__name__}: {failed}"
    return result


def _largest_chart(at) -> int | None:
    import pyarrow as pa

    sizes = [pa.ipc.open_stream(data.data.data).read_all().num_rows
             for chart in at.get("vega_lite_chart") + at.get("arrow_vega_lite_chart")
             for data in chart.proto.datasets if data.data.data]
    return max(sizes) if sizes else None


def child_pages(db_path: str, pilot_id: int | None) -> dict:
    """Every page's script run: `first` after switching to it, `again` a rerun of it; the Pilot
    page shows `pilot_id`. The app's first run in this fresh process (imports, cold caches) is
    reported apart, so it does not count against whichever page comes first."""
    from streamlit.testing.v1 import AppTest

    app = str(ROOT / "app.py")
    start = time.perf_counter()
    AppTest.from_file(app, default_timeout=300).run()
    result = {"first run of the app in a new process": {"first": time.perf_counter() - start}}
    pages = sorted(p.stem for p in (ROOT / "pages").glob("*.py") if not p.name.startswith("_"))
    for page in pages:
        try:
            at = AppTest.from_file(app, default_timeout=300)
            at.run()
            if page != "portfolio":
                at.switch_page(f"pages/{page}.py")
            if page == "pilot" and pilot_id is not None:
                at.query_params["id"] = str(pilot_id)
            start = time.perf_counter()
            at.run()
            first = time.perf_counter() - start
            start = time.perf_counter()
            at.run()
            again = time.perf_counter() - start
            if at.exception:
                result[page] = {"error": f"exception: {at.exception[0].value}"}
                continue
            result[page] = {"first": first, "again": again, "chart_rows": _largest_chart(at)}
        except Exception as failed:
            result[page] = {"error": f"not available yet: {type(failed).__name__}: {failed}"}
    return result


# ---------------------------------------------------------------- the table

def measure_backup(db_path: Path, out_dir: Path, scale: str) -> list[tuple[str, str, str]]:
    """`pilots backup` and `pilots restore` of a copy of the database (bench/backup_timing.py)."""
    from backup_timing import measure

    found = measure(db_path, out_dir / f"backup_{scale}")
    return [(f"backup · {scale}", f"copy of {found['size_mb']:.1f} MB",
             f"backup {found['backup_s']:.2f} s, restore (checked, then put in place) {found['restore_s']:.2f} s")]


def section(rows: list, name: str, measure) -> None:
    """Run one measurement; a missing piece becomes a 'not available yet' row, not a crash."""
    try:
        rows.extend(measure())
    except Exception as failed:
        reason = f"{type(failed).__name__}: {failed}".splitlines()[0][:160]
        rows.append((name, "—", f"not available yet: {reason}"))
        if os.environ.get("BENCH_DEBUG"):
            traceback.print_exc()


def print_table(rows: list[tuple[str, str, str]], out=sys.stdout) -> None:
    widths = [max(len(r[i]) for r in rows + [("section", "measure", "result")]) for i in range(3)]
    line = "  ".join("{:<%d}" % w for w in widths)
    print(line.format("section", "measure", "result"), file=out)
    print(line.format(*("-" * w for w in widths)), file=out)
    for row in rows:
        print(line.format(*row), file=out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", choices=["realistic", "large", "both"], default="both")
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the imported file")
    parser.add_argument("--observations", type=int, default=10_000_000, help="survey answers at the large scale")
    parser.add_argument("--units", type=int, default=50, help="business units at the large scale")
    parser.add_argument("--pilots", type=int, default=500, help="pilots at the large scale")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    parser.add_argument("--import-large", action="store_true",
                        help="also time the import at --observations rows (10 million: about two minutes more)")
    parser.add_argument("--no-browser", action="store_true", help="skip the timings in a real browser")
    parser.add_argument("--child", choices=["analysis", "pages"], help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--pilot", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child == "analysis":
        print(json.dumps(child_analysis(args.db, args.pilot)))
        return 0
    if args.child == "pages":
        print(json.dumps(child_pages(args.db, args.pilot)))
        return 0

    args.out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    rows: list[tuple[str, str, str]] = []
    scales = ["realistic", "large"] if args.scale == "both" else [args.scale]
    paths = {"realistic": args.out / "realistic.duckdb", "large": args.out / "large.duckdb"}
    for scale in scales:
        def build(scale=scale):
            start = time.perf_counter()
            if scale == "realistic":
                what = build_realistic(paths[scale])
            else:
                what = build_large(paths[scale], args.units, args.pilots, args.observations)
            shape = (f"{args.units} units, {args.pilots} pilots, {args.observations:,} survey answers"
                     if scale == "large" else "demo organisation")
            return [(f"build · {scale}", shape, f"{what} in {time.perf_counter() - start:.1f} s")]
        section(rows, f"build · {scale}", build)
    section(rows, "import", lambda: measure_import(args.out, args.rows, args.units))
    if args.import_large:
        section(rows, "import", lambda: measure_import(args.out, args.observations, args.units))
    for scale in scales:
        if paths[scale].exists():
            section(rows, f"analysis · {scale}", lambda scale=scale: measure_analysis(paths[scale], scale))
            section(rows, f"pages · {scale}", lambda scale=scale: measure_pages(paths[scale], scale))
    for scale in scales:
        if paths[scale].exists():
            section(rows, f"backup · {scale}", lambda scale=scale: measure_backup(paths[scale], args.out, scale))
    if "realistic" in scales and paths["realistic"].exists() and not args.no_browser:
        # What a person feels, in a real browser: first screens, page to page, a slide step (on the demo).
        from browser_timing import browser_timings
        section(rows, "browser · realistic", lambda: browser_timings(paths["realistic"]))
    rows.append(("total", "benchmark run time", f"{time.perf_counter() - started:.0f} s on {os.cpu_count()} cores"))
    print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
