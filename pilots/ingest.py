"""Getting data in: reading observation and measurement files (CSV or XLSX) and tables typed in the
app, checking every row, writing a clean file as one batch all-or-nothing, recognising a file
identical to an earlier batch, listing, undoing and redoing batches, example templates, and the
coverage of what data exist.

One code path serves the command line and the Data page: the file is loaded as text into a
temporary DuckDB table and every check is one set-based SQL query over it (counted in full, listed
up to a cap), so a million rows are checked without a Python loop over them. Nothing is written
unless every check passes; then `store.insert_batch` writes the rows in the same transaction.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import hashlib
import io
import json
import math
import os
import re
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import duckdb
import pandas as pd

from . import store
from .access import Actor, require_editor
from .db import Database, Write
from .model import Metric, Problem, ValidationError

KINDS = ("observations", "measurements")
# Columns of each kind of file, as the SPEC fixes them: required, then optional.
REQUIRED = {"observations": ("unit", "metric", "date", "value"),
            "measurements": ("unit", "metric", "period_start", "value")}
OPTIONAL = {"observations": (), "measurements": ("n", "sd")}
DATE_COLUMN = {"observations": "date", "measurements": "period_start"}

PREVIEW_ROWS = 20
# Rows listed per kind of problem; every problem is counted, but a million rows naming the same
# mistake help nobody.
LISTED_PER_CHECK = 25
# Dates outside this window are typos (2204 for 2024), not customer data.
EARLIEST_DATE = dt.date(1990, 1, 1)

Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class BatchInfo:
    """One earlier import, as a person recognises it: id, file, kind, rows, who and when."""

    batch_id: int
    kind: str
    source: str
    rows: int
    imported_by: str
    imported_at: dt.datetime
    undone_at: dt.datetime | None = None
    undone_by: str | None = None

    @property
    def undone(self) -> bool:
        return self.undone_at is not None

    def __str__(self) -> str:
        text = (f"batch {self.batch_id} ({self.source}, {self.rows:,} {self.kind}) imported on "
                f"{self.imported_at:%Y-%m-%d %H:%M} by {self.imported_by}")
        if self.undone:
            text += f", undone on {self.undone_at:%Y-%m-%d %H:%M} by {self.undone_by}"
        return text


@dataclass(frozen=True)
class ImportResult:
    """What one import wrote."""

    batch_id: int | None
    kind: str
    rows: int
    units: tuple[str, ...]
    metrics: tuple[str, ...]
    first_date: dt.date | None
    last_date: dt.date | None
    source: str
    replaced: int = 0
    identical_to: BatchInfo | None = None

    def __str__(self) -> str:
        if not self.rows:
            return f"nothing to import from {self.source}: every row matches what is stored"
        text = (f"batch {self.batch_id}: {self.rows:,} {self.kind} from {self.source} "
                f"for {', '.join(self.units)} ({', '.join(self.metrics)}), {self.first_date} to {self.last_date}")
        if self.replaced:
            text += f"; replaced {self.replaced:,} stored measurement{'s' if self.replaced != 1 else ''}"
        if self.identical_to is not None:
            text += f"; the file is identical to {self.identical_to}"
        return text


@dataclass
class Validation:
    """A file checked but not written: its first rows, every problem (listed up to a cap per kind
    of problem, counted in full) and what `commit` needs to write it."""

    kind: str
    file_name: str
    rows: int
    preview: pd.DataFrame
    problems: list[Problem]
    problem_count: int
    replace: bool = False
    source: bytes | str | None = field(default=None, repr=False)
    # The newest earlier batch of this kind whose file had the same bytes (a standing one before an
    # undone one), or None. Not a problem: importing it again is refused unless confirmed.
    identical_to: BatchInfo | None = None
    content_hash: str | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def duplicate(self) -> bool:
        """Whether the file is identical to a batch whose rows are in use: importing it again would
        count them twice, so it needs an explicit confirmation (`allow_duplicate`)."""
        return self.identical_to is not None and not self.identical_to.undone


# ---------------------------------------------------------------- reading a file as text

def _normalise(name: str) -> str:
    """Header names in any case, with stray spaces, BOM, or 'period start' for period_start."""
    return re.sub(r"[\s\-]+", "_", str(name).replace("\ufeff", "").strip().lower())


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _cell_text(value) -> str | None:
    """One spreadsheet or editor cell as the text a CSV would hold: Excel dates as ISO dates,
    whole floats without '.0', empty cells as NULL."""
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, (pd.Timestamp, dt.datetime)):
        return value.date().isoformat() if value.time() == dt.time(0) else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value).strip()
    return text or None


def _is_xlsx(name: str, head: bytes) -> bool:
    return head[:4] == b"PK\x03\x04" or name.lower().endswith((".xlsx", ".xlsm"))


class _Loaded:
    """The raw table: one VARCHAR column per file column, in file order (rowid 0 = first data row)."""

    def __init__(self, table: str, columns: list[str], semicolon: bool, spreadsheet: bool):
        self.table = table
        self.columns = columns
        self.semicolon = semicolon
        self.spreadsheet = spreadsheet


def _file_problem(reason: str, kind: str, row: int | None = None) -> ValidationError:
    return ValidationError([Problem(reason, row=row, column=", ".join(REQUIRED[kind]))])


def _header_of(path: str, kind: str) -> tuple[list[str], str]:
    """The header row of a CSV and its delimiter (comma, semicolon or tab: whichever the header uses most)."""
    with open(path, "rb") as handle:
        head = handle.read(65536)
    text = head.decode("utf-8-sig", errors="replace")
    if not text.strip():
        raise _file_problem(f"the file is empty: the first line must be the header {', '.join(REQUIRED[kind])}",
                            kind)
    first = text.splitlines()[0] if text.splitlines() else ""
    if not first.strip():
        raise _file_problem("the first line is blank: it must be the header "
                            f"{', '.join(REQUIRED[kind])}", kind, row=None)
    delimiter = max([",", ";", "\t"], key=first.count)
    names = next(csv.reader([first], delimiter=delimiter))
    return names, delimiter


def _read_error(error: duckdb.Error, kind: str) -> ValidationError:
    text = str(error)
    line = re.search(r"Line: (\d+)", text)
    row = int(line[1]) - 1 if line else None
    if "utf-8" in text.lower() or "unicode" in text.lower():
        reason = "the file is not UTF-8 text: save it as 'CSV UTF-8' (or as XLSX) and import it again"
    else:
        reason = "the file could not be read as CSV: " + text.splitlines()[0].split("Error:", 1)[-1].strip()
    return _file_problem(reason, kind, row=row if row and row > 0 else None)


def _load_csv(cur: duckdb.DuckDBPyConnection, path: str, kind: str, table: str) -> _Loaded:
    names, delimiter = _header_of(path, kind)
    columns = [f"c{i}" for i in range(len(names))]
    # The header is read above and every column is text, so DuckDB's sniffer (which can guess a
    # different dialect for an odd first line) is off; short and long rows are padded or cut.
    spec = "{" + ", ".join(f"'{c}': 'VARCHAR'" for c in columns) + "}"
    try:
        cur.execute(
            f"CREATE TEMP TABLE {table} AS SELECT * FROM read_csv(?, auto_detect = false, columns = {spec}, "
            f"delim = ?, quote = '\"', escape = '\"', header = true, null_padding = true, strict_mode = false)",
            [path, delimiter])
    except duckdb.Error as error:
        raise _read_error(error, kind) from None
    _name_columns(cur, table, columns, names)
    return _Loaded(f"{table}_named", names, delimiter == ";", False)


def _name_columns(cur, table: str, columns: list[str], names: list[str]) -> None:
    """A view of the raw table with the file's own column names and __rowid 0 for the first data row.
    (Rows written inside a transaction get row ids from a high base, hence the offset.)"""
    renamed = ", ".join(f"{c} AS {_quote(n.strip() or c)}" for c, n in _dedupe(columns, names))
    cur.execute(f"CREATE TEMP VIEW {table}_named AS SELECT rowid - (SELECT min(rowid) FROM {table}) AS __rowid, "
                f"{renamed} FROM {table}")


def _dedupe(columns: list[str], names: list[str]) -> list[tuple[str, str]]:
    """Pairs (internal column, display name) with display names made unique, so a header naming a
    column twice still loads (the check of the header reports it)."""
    seen: dict[str, int] = {}
    pairs = []
    for column, name in zip(columns, names):
        key = name.strip().lower() or column
        seen[key] = seen.get(key, 0) + 1
        pairs.append((column, name if seen[key] == 1 else f"{name.strip()} ({seen[key]})"))
    return pairs


def _load_frame(cur: duckdb.DuckDBPyConnection, frame: pd.DataFrame, table: str, spreadsheet: bool) -> _Loaded:
    names = [str(c) for c in frame.columns]
    columns = [f"c{i}" for i in range(len(names))]
    text = pd.DataFrame({c: [_cell_text(v) for v in frame.iloc[:, i]] for i, c in enumerate(columns)},
                        columns=columns, dtype=object)
    view = f"{table}_frame"
    cur.register(view, text)
    try:
        casts = ", ".join(f"CAST({c} AS VARCHAR) AS {c}" for c in columns) or "NULL AS c0"
        cur.execute(f"CREATE TEMP TABLE {table} AS SELECT {casts} FROM {view}")
    finally:
        cur.unregister(view)
    _name_columns(cur, table, columns, names)
    return _Loaded(f"{table}_named", names, False, spreadsheet)


def _read_xlsx(path: str, kind: str) -> pd.DataFrame:
    try:
        sheet = pd.read_excel(path, sheet_name=0, header=None, dtype=object, engine="openpyxl")
    except Exception as error:  # openpyxl raises many types for a broken workbook
        raise _file_problem(f"the file could not be read as an Excel workbook (.xlsx): {error}", kind) from None
    if sheet.empty:
        raise _file_problem(f"the first sheet is empty: its first row must be the header "
                            f"{', '.join(REQUIRED[kind])}", kind)
    header = [_cell_text(v) or f"column{i + 1}" for i, v in enumerate(sheet.iloc[0])]
    body = sheet.iloc[1:].reset_index(drop=True)
    body.columns = header
    return body


# ---------------------------------------------------------------- checking

@dataclass(frozen=True)
class _Check:
    column: str
    condition: str                   # SQL over the checked table `c`
    reason: Callable[[tuple], str]   # from (value, metric_key, low, high) of one listed row


def _range_text(low, high) -> str:
    fmt = lambda x: f"{x:g}"  # noqa: E731 - a one-line formatter
    if low is not None and high is not None:
        return f"between {fmt(low)} and {fmt(high)}"
    return f"at least {fmt(low)}" if low is not None else f"at most {fmt(high)}"


def _checks(kind: str) -> list[_Check]:
    date_column = DATE_COLUMN[kind]
    what = "answers" if kind == "observations" else "period values"
    checks = [
        _Check("unit", "unit_text IS NULL", lambda r: "the unit is missing"),
        _Check("metric", "metric_text IS NULL", lambda r: "the metric is missing"),
        _Check(date_column, "date_text IS NULL", lambda r: "the date is missing"),
        _Check(date_column, "date_text IS NOT NULL AND day IS NULL",
               lambda r: "not a date: write dates as YYYY-MM-DD (e.g. 2025-03-31)"),
        _Check(date_column, f"day < DATE '{EARLIEST_DATE}' OR day > current_date + INTERVAL 366 DAY",
               lambda r: f"an implausible date: expected from {EARLIEST_DATE.year} to a year from now"),
        _Check("value", "value_text IS NULL", lambda r: "the value is missing"),
        _Check("value", "value_text IS NOT NULL AND num IS NULL", lambda r: "not a number"),
        _Check("value", "NOT isfinite(num)", lambda r: "must be a finite number"),
        _Check("value", "isfinite(num) AND (num < low OR num > high)",
               lambda r: f"{r[1]} {what} must be {_range_text(r[2], r[3])}"),
        _Check("value", "whole AND isfinite(num) AND num <> round(num)",
               lambda r: f"{r[1]} answers are whole numbers"),
    ]
    if kind == "measurements":
        checks += [
            _Check("n", "n_text IS NOT NULL AND (n_num IS NULL OR NOT isfinite(n_num) OR n_num <= 0 "
                        "OR n_num <> round(n_num))",
                   lambda r: "n (how many answers or cases the value sums up) must be a whole number above 0"),
            _Check("sd", "sd_text IS NOT NULL AND (sd_num IS NULL OR NOT isfinite(sd_num) OR sd_num < 0)",
                   lambda r: "sd (standard deviation) must be a number of 0 or more"),
        ]
    return checks


def _header_problems(loaded: _Loaded, kind: str) -> tuple[dict[str, str], list[Problem]]:
    """Which file column holds each column of the format, or the problems of the header."""
    found: dict[str, str] = {}
    problems = []
    for internal, display in _dedupe(loaded.columns, loaded.columns):
        key = _normalise(internal)
        if key in found:
            if key in REQUIRED[kind] + OPTIONAL[kind]:
                problems.append(Problem(f"the header names column '{key}' twice", row=None, column=key))
            continue
        found[key] = display.strip() or internal
    for name in REQUIRED[kind]:
        if name not in found:
            near = store.suggest(name, [n for n in found if n not in REQUIRED[kind]])
            hint = f"; is '{near}' meant to be it?" if near else ""
            problems.append(Problem(
                f"missing column '{name}': the first row must be the header {', '.join(REQUIRED[kind])}"
                f"{' (optional: ' + ', '.join(OPTIONAL[kind]) + ')' if OPTIONAL[kind] else ''}; "
                f"found {', '.join(repr(c) for c in loaded.columns) or 'nothing'}{hint}", column=name))
    return found, problems


def _rules(metrics: Iterable[Metric], kind: str) -> str:
    """The metric catalogue as SQL rows (key, low, high, whole) of the valid range for this kind."""
    rows = []
    for metric in metrics:
        low, high = (metric.min_value, metric.max_value) if kind == "observations" else metric.period_range()
        whole = metric.whole_numbers and kind == "observations"
        rows.append(f"('{metric.key}', {'NULL' if low is None else float(low)}::DOUBLE, "
                    f"{'NULL' if high is None else float(high)}::DOUBLE, {str(whole).upper()})")
    return ("SELECT * FROM (VALUES " + ", ".join(rows) + ") AS r(metric_key, low, high, whole)") if rows else \
        "SELECT NULL::VARCHAR AS metric_key, NULL::DOUBLE AS low, NULL::DOUBLE AS high, FALSE AS whole LIMIT 0"


def _number(expr: str, semicolon: bool) -> str:
    """A text cell as DOUBLE; in semicolon files a decimal comma (4,5) is the local way of writing 4.5."""
    if semicolon:
        expr = f"CASE WHEN regexp_full_match({expr}, '-?[0-9]*,[0-9]+') THEN replace({expr}, ',', '.') ELSE {expr} END"
    return f"TRY_CAST({expr} AS DOUBLE)"


def _build_checked(cur, loaded: _Loaded, kind: str, columns: dict[str, str], metrics: list[Metric],
                   table: str) -> None:
    def text(name: str) -> str:
        return f"nullif(trim(r.{_quote(columns[name])}), '')" if name in columns else "NULL::VARCHAR"

    date_text = text(DATE_COLUMN[kind])
    day = f"TRY_CAST({date_text} AS DATE)"
    if loaded.spreadsheet:
        # A date cell Excel stored as a plain number counts days from 1899-12-30.
        day = (f"coalesce({day}, CASE WHEN TRY_CAST({date_text} AS DOUBLE) BETWEEN 1 AND 2958465 "
               f"THEN DATE '1899-12-30' + CAST(floor(TRY_CAST({date_text} AS DOUBLE)) AS INTEGER) END)")
    extra = ""
    if kind == "measurements":
        extra = (f", {text('n')} AS n_text, {_number(text('n'), loaded.semicolon)} AS n_num"
                 f", {text('sd')} AS sd_text, {_number(text('sd'), loaded.semicolon)} AS sd_num")
    blank = " AND ".join(f"{text(c)} IS NULL" for c in REQUIRED[kind])
    cur.execute(f"""
        CREATE TEMP TABLE {table} AS
        SELECT r.__rowid + 1 AS row, {text('unit')} AS unit_text, {text('metric')} AS metric_text,
               {date_text} AS date_text, {text('value')} AS value_text,
               u.unit_id, u.name AS unit_name, k.metric_key, k.low, k.high, k.whole,
               {day} AS day, {_number(text('value'), loaded.semicolon)} AS num {extra}
        FROM {loaded.table} r
        LEFT JOIN (SELECT unit_id, name, lower(trim(name)) AS folded FROM business_units) u
               ON u.folded = lower({text('unit')})
        LEFT JOIN ({_rules(metrics, kind)}) k ON k.metric_key = lower({text('metric')})
        WHERE NOT ({blank})""")


def _listed(cur, table: str, condition: str, count: int, column: str, reason) -> list[Problem]:
    rows = cur.execute(
        f"SELECT row, {_TEXT_OF[column]}, metric_key, low, high FROM {table} WHERE {condition} "
        f"ORDER BY row LIMIT {LISTED_PER_CHECK}").fetchall()
    problems = [Problem(reason(r[1:]), row=r[0], column=column, value=r[1]) for r in rows]
    if count > len(rows):
        problems.append(Problem(f"and {count - len(rows):,} more rows like this: {reason(rows[-1][1:])}",
                                column=column))
    return problems


# The checked table's text column behind each column of the file format.
_TEXT_OF = {"unit": "unit_text", "metric": "metric_text", "date": "date_text", "period_start": "date_text",
            "value": "value_text", "n": "n_text", "sd": "sd_text"}


def _unknown_names(cur, table: str, column: str, known: list[str], units) -> list[Problem]:
    """Unknown units or metric keys, one suggestion per distinct name, the first rows of each listed."""
    id_column = "unit_id" if column == "unit" else "metric_key"
    text_column = f"{column}_text"
    groups = cur.execute(
        f"SELECT {text_column}, count(*), list(row ORDER BY row)[1:{LISTED_PER_CHECK}] FROM {table} "
        f"WHERE {text_column} IS NOT NULL AND {id_column} IS NULL GROUP BY 1 ORDER BY min(row)").fetchall()
    problems = []
    for name, count, rows in groups[:LISTED_PER_CHECK]:
        if column == "unit":
            template = store.unknown_unit_problem(name, units, column="unit")
        else:
            near = store.suggest(name, known)
            hint = f": did you mean '{near}'?" if near else f"; defined metrics: {', '.join(sorted(known))}"
            template = Problem(f"unknown metric '{name}'{hint}", column="metric", value=name)
        problems += [Problem(template.reason, row=row, column=column, value=name) for row in rows]
        if count > len(rows):
            problems.append(Problem(f"and {count - len(rows):,} more rows with {column} '{name}'", column=column))
    if len(groups) > LISTED_PER_CHECK:
        problems.append(Problem(f"and {len(groups) - LISTED_PER_CHECK:,} more unknown {column} names", column=column))
    return problems


def _key_problems(cur, table: str, replace: bool) -> tuple[int, list[Problem]]:
    """Measurements named twice in the file, and (unless replacing) measurements stored already."""
    problems = []
    dupes = cur.execute(
        f"SELECT unit_name, metric_key, day, list(row ORDER BY row) AS rows FROM {table} "
        f"WHERE unit_id IS NOT NULL AND metric_key IS NOT NULL AND day IS NOT NULL "
        f"GROUP BY unit_id, unit_name, metric_key, day HAVING count(*) > 1 ORDER BY min(row)").fetchall()
    count = 0
    for unit, metric, day, rows in dupes:
        for row in rows[1:]:
            count += 1
            if count <= LISTED_PER_CHECK:
                problems.append(Problem(
                    f"{unit}, {metric}, {day} is in the file twice (first in row {rows[0]}): one value per unit, "
                    f"metric and period", row=row, column="period_start", value=str(day)))
    if count > LISTED_PER_CHECK:
        problems.append(Problem(f"and {count - LISTED_PER_CHECK:,} more rows repeating a unit, metric and period",
                                column="period_start"))
    if replace:
        return count, problems
    stored_count = cur.execute(
        f"SELECT count(*) FROM {table} c JOIN measurements m "
        f"ON m.unit_id = c.unit_id AND m.metric_key = c.metric_key AND m.period_start = c.day").fetchone()[0]
    stored = cur.execute(
        f"SELECT c.row, c.unit_name, c.metric_key, c.day, m.value, m.batch_id FROM {table} c JOIN measurements m "
        f"ON m.unit_id = c.unit_id AND m.metric_key = c.metric_key AND m.period_start = c.day "
        f"ORDER BY c.row LIMIT {LISTED_PER_CHECK}").fetchall()
    for row, unit, metric, day, value, batch in stored:
        problems.append(Problem(
            f"a measurement for {unit}, {metric}, {day} is stored already ({value:g}, batch {batch}); "
            f"choose 'replace' to overwrite it", row=row, column="period_start", value=str(day)))
    if stored_count > len(stored):
        problems.append(Problem(f"and {stored_count - len(stored):,} more measurements stored already; "
                                f"choose 'replace' to overwrite them", column="period_start"))
    return count + stored_count, problems


def _check(db: Database, actor: Actor, cur, loaded: _Loaded, kind: str, replace: bool,
           checked: str) -> tuple[int, int, list[Problem]]:
    """Build the checked table and run every check. Returns (data rows, problem count, problems listed)."""
    columns, problems = _header_problems(loaded, kind)
    if problems:
        return 0, len(problems), problems
    metrics = store.list_metrics(db)
    _build_checked(cur, loaded, kind, columns, metrics, checked)
    checks = _checks(kind)
    counts = cur.execute(
        "SELECT count(*), count_if(unit_text IS NOT NULL AND unit_id IS NULL), "
        "count_if(metric_text IS NOT NULL AND metric_key IS NULL), "
        + ", ".join(f"count_if(coalesce({c.condition}, FALSE))" for c in checks) + f" FROM {checked}").fetchone()
    rows, unknown, counts = counts[0], dict(zip(("unit", "metric"), counts[1:3])), counts[3:]
    if rows == 0:
        return 0, 1, [Problem(f"no data rows below the header {', '.join(REQUIRED[kind])}", row=1,
                              column=", ".join(REQUIRED[kind]))]
    total = 0
    for check, count in zip(checks, counts):
        if count:
            total += count
            problems += _listed(cur, checked, f"coalesce({check.condition}, FALSE)", count, check.column,
                                check.reason)
    units = store.list_units(db, actor) if unknown["unit"] else []
    for column, known in (("unit", [u.name for u in units]), ("metric", [m.key for m in metrics])):
        if unknown[column]:
            total += unknown[column]
            problems += _unknown_names(cur, checked, column, known, units)
    if kind == "measurements":
        count, listed = _key_problems(cur, checked, replace)
        total += count
        problems += listed
    problems.sort(key=lambda p: (p.row is None, p.row or 0))
    return rows, total, problems


# ---------------------------------------------------------------- one code path: load, check, write

def _source_name(source, file_name: str | None) -> str:
    if file_name:
        return Path(file_name).name
    if isinstance(source, (str, os.PathLike)):
        return Path(source).name
    return "uploaded file"


def _load(cur, source, name: str, kind: str, table: str) -> _Loaded:
    if isinstance(source, pd.DataFrame):
        return _load_frame(cur, source, table, spreadsheet=False)
    if isinstance(source, (bytes, bytearray)):
        if _is_xlsx(name, bytes(source[:4])):
            return _load_frame(cur, _read_xlsx(io.BytesIO(source), kind), table, spreadsheet=True)
        handle, path = tempfile.mkstemp(suffix=".csv")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(source)
            return _load_csv(cur, path, kind, table)
        finally:
            os.unlink(path)
    path = os.fspath(source)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no file {path}")
    with open(path, "rb") as handle:
        head = handle.read(4)
    if _is_xlsx(path, head):
        return _load_frame(cur, _read_xlsx(path, kind), table, spreadsheet=True)
    return _load_csv(cur, path, kind, table)


def content_hash(source) -> str | None:
    """sha256 of a file's bytes (a path or the bytes of an upload); None for a table typed in the app."""
    if isinstance(source, (bytes, bytearray)):
        return hashlib.sha256(bytes(source)).hexdigest()
    if isinstance(source, (str, os.PathLike)) and os.path.isfile(source):
        digest = hashlib.sha256()
        with open(source, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()
    return None


_BATCH_INFO = "batch_id, kind, source, row_count, imported_by, imported_at, undone_at, undone_by"


def _identical_batch(cur, kind: str, digest: str | None) -> BatchInfo | None:
    """The newest batch of this kind imported from a file with the same bytes; one whose rows are in
    use comes before an undone one."""
    if digest is None:
        return None
    row = cur.execute(f"SELECT {_BATCH_INFO} FROM import_batches WHERE content_hash = ? AND kind = ? "
                      f"ORDER BY undone_at IS NULL DESC, batch_id DESC LIMIT 1", [digest, kind]).fetchone()
    return None if row is None else BatchInfo(*row)


def duplicate_problem(identical: BatchInfo, name: str) -> Problem:
    """Why a file identical to a standing batch is not imported again without a confirmation."""
    return Problem(f"this file is identical to {identical}: importing it again would count its {identical.rows:,} "
                   f"{identical.kind} twice. Nothing was imported; to import it again all the same, confirm it on "
                   f"the Data page (on the command line: --allow-duplicate)", column="file", value=name)


def _run(db: Database, actor: Actor, source, kind: str, file_name: str | None, replace: bool,
         progress: Progress | None, write: bool, only_changed: bool = False, allow_duplicate: bool = False
         ) -> tuple[Validation, ImportResult | None]:
    """Load, check and (when `write` and clean) write, all inside one transaction. A file identical
    to a standing batch is written only with `allow_duplicate` (or, for measurements, `replace`:
    without it such a file is refused anyway, its rows being stored already)."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind of data '{kind}'; expected one of {', '.join(KINDS)}")
    if db.in_transaction():
        # An import commits or rolls back on its own (it must, to report a refused file); inside
        # another transaction it would end that one too.
        raise RuntimeError("an import is a transaction of its own; it cannot run inside another")
    report = progress or (lambda fraction, message: None)
    name = _source_name(source, file_name)
    tag = uuid.uuid4().hex[:12]
    raw, checked = f"ingest_raw_{tag}", f"ingest_checked_{tag}"
    kept = os.fspath(source) if isinstance(source, (str, os.PathLike)) else \
        bytes(source) if isinstance(source, (bytes, bytearray)) else None
    try:
        # Checking happens inside the write too: the rows are checked against the units, metrics
        # and batches as they stand when they are written, and a refused file rolls everything back.
        with db.write(actor, "import data") as w:
            cur = w.cursor
            report(0.0, f"reading {name}")
            try:
                loaded = _load(cur, source, name, kind, raw)
            except ValidationError as refused:
                raise _NotWritten(Validation(kind, name, 0, pd.DataFrame(), refused.problems,
                                             len(refused.problems), replace, kept)) from None
            preview = cur.execute(f"SELECT __rowid + 1 AS row, * EXCLUDE (__rowid) FROM {loaded.table} "
                                  f"ORDER BY __rowid LIMIT {PREVIEW_ROWS}").df()
            report(0.3, f"checking the rows of {name}")
            rows, count, problems = _check(db, actor, cur, loaded, kind, replace, checked)
            digest = content_hash(source)
            identical = _identical_batch(cur, kind, digest)
            validation = Validation(kind, name, rows, preview, problems, count, replace, kept, identical, digest)
            if write and not problems and validation.duplicate and not (allow_duplicate or replace):
                validation.problems = [duplicate_problem(identical, name)]
                validation.problem_count = 1
            if validation.problems or not write:
                report(1.0, f"checked {rows:,} rows")
                raise _NotWritten(validation)
            report(0.6, f"writing {rows:,} rows")
            result = _write(w, kind, name, checked, replace, only_changed, digest)
            result = dataclasses.replace(result, identical_to=identical)
    except _NotWritten as checked_only:
        return checked_only.validation, None
    report(1.0, f"imported {result.rows:,} rows")
    return validation, result


class _NotWritten(Exception):
    """Ends an import's write without writing (a refused file, or a check only), with what was found."""

    def __init__(self, validation: Validation):
        super().__init__("not written")
        self.validation = validation


def _write(w: Write, kind: str, name: str, checked: str, replace: bool,
           only_changed: bool, digest: str | None) -> ImportResult:
    cur = w.cursor
    if kind == "observations":
        select = f"SELECT unit_id, unit_name, metric_key, day AS obs_date, num AS value FROM {checked}"
    else:
        select = (f"SELECT c.unit_id, c.unit_name, c.metric_key, c.day AS period_start, c.num AS value, "
                  f"CAST(c.n_num AS BIGINT) AS n, c.sd_num AS sd FROM {checked} c")
        if only_changed:
            # A table typed in the app holds the stored rows too; only new or changed ones are written.
            select += (" WHERE NOT EXISTS (SELECT 1 FROM measurements m WHERE m.unit_id = c.unit_id "
                       "AND m.metric_key = c.metric_key AND m.period_start = c.day AND m.value = c.num "
                       "AND m.n IS NOT DISTINCT FROM CAST(c.n_num AS BIGINT) AND m.sd IS NOT DISTINCT FROM c.sd_num)")
    view = f"{checked}_rows"
    cur.execute(f"CREATE TEMP VIEW {view} AS {select}")
    date = DATE_COLUMN[kind] if kind == "measurements" else "obs_date"
    rows, units, metrics, first, last = cur.execute(
        f"SELECT count(*), list(DISTINCT unit_name ORDER BY unit_name), list(DISTINCT metric_key ORDER BY metric_key), "
        f"min({date}), max({date}) FROM {view}").fetchone()
    replaced = 0
    if kind == "measurements" and replace:
        replaced = cur.execute(f"SELECT count(*) FROM measurements m JOIN {view} r "
                               f"USING (unit_id, metric_key, period_start)").fetchone()[0]
    if not rows:
        # Nothing new (a typed table whose rows are all stored already): the write says so.
        w.audit("import", "batch", None, after={"kind": kind, "source": name, "rows": 0})
    batch_id = store.insert_batch(w, kind, name, view, replace, content_hash=digest) if rows else None
    return ImportResult(batch_id, kind, rows, tuple(units or ()), tuple(metrics or ()), first, last, name, replaced)


def validate_file(db: Database, actor: Actor, path_or_bytes, kind: str, file_name: str | None = None,
                  replace: bool = False, progress: Progress | None = None) -> Validation:
    """Check a file (a path, or the bytes of an upload) without writing anything."""
    return _run(db, actor, path_or_bytes, kind, file_name, replace, progress, write=False)[0]


def commit(db: Database, actor: Actor, validation: Validation, progress: Progress | None = None,
           allow_duplicate: bool = False) -> ImportResult:
    """Write a file checked by `validate_file`. It is checked again in the writing transaction (the
    data may have changed since), so it is refused with every problem if it is no longer clean, and
    as a duplicate (unless `allow_duplicate`) if an identical file was imported meanwhile."""
    return import_file(db, actor, validation.source, validation.kind, replace=validation.replace,
                       progress=progress, file_name=validation.file_name, allow_duplicate=allow_duplicate)


def import_file(db: Database, actor: Actor, path, kind: str, replace: bool = False,
                progress: Progress | None = None, file_name: str | None = None,
                allow_duplicate: bool = False) -> ImportResult:
    """Check a CSV or XLSX file and write it as one batch; raises ValidationError with every problem
    (and writes nothing) if anything is wrong. `path` may also be the bytes of an upload.

    A file with the same bytes as a batch whose rows are in use is refused (one problem naming that
    batch, who imported it and when) unless `allow_duplicate`: observations imported twice count
    twice. Measurements need no flag: stored already, they are refused unless `replace`, which is
    the choice to write over them. The result names the identical batch either way."""
    validation, result = _run(db, actor, path, kind, file_name, replace, progress, write=True,
                              allow_duplicate=allow_duplicate)
    if result is None:
        raise ValidationError(validation.problems)
    return result


# ---------------------------------------------------------------- manual entry of measurements

MEASUREMENT_COLUMNS = ["unit", "metric", "period_start", "value", "n", "sd"]


def measurements_frame(db: Database, actor: Actor, unit: str | None = None, metric: str | None = None,
                       limit: int = 200) -> pd.DataFrame:
    """Stored measurements in the file format, newest first, for correcting them in a table editor."""
    conditions, params = ["TRUE"], []
    if unit:
        conditions.append("lower(u.name) = lower(trim(?))")
        params.append(unit)
    if metric:
        conditions.append("m.metric_key = ?")
        params.append(metric)
    if not actor.sees_all_units():
        conditions.append(f"m.unit_id IN ({', '.join('?' * len(actor.unit_ids)) or 'NULL'})")
        params += sorted(actor.unit_ids)
    with db.cursor() as cur:
        return cur.execute(
            f"SELECT u.name AS unit, m.metric_key AS metric, m.period_start, m.value, m.n, m.sd "
            f"FROM measurements m JOIN business_units u USING (unit_id) WHERE {' AND '.join(conditions)} "
            f"ORDER BY m.period_start DESC, u.name, m.metric_key LIMIT {int(limit)}", params).df()


def save_measurements(db: Database, actor: Actor, frame: pd.DataFrame, replace: bool = True) -> ImportResult:
    """Write a table of measurements typed or corrected in the app, checked exactly like a file.
    Rows equal to what is stored are skipped; changed ones replace the stored value (audited).
    Raises ValidationError with every invalid cell, and saves nothing, if any cell is wrong."""
    validation, result = _run(db, actor, frame, "measurements", "manual entry", replace, None, write=True,
                              only_changed=True)
    if result is None:
        raise ValidationError(validation.problems)
    return result


# ---------------------------------------------------------------- batches
#
# Undo moves a batch's rows, unchanged, from the live table (what every analysis, chart and coverage
# reads) to its "undone_" twin; redo moves them back. A row is in exactly one of the two places, so
# the live tables need no filter, and their row counts (part of `cells.data_version`) change with
# every undo and redo. Measurements a batch replaced are kept in its 'replace' audit entries: an undo
# puts them back, a redo takes them out again.

_UNDONE = {"observations": "undone_observations", "measurements": "undone_measurements"}
_ROW_COLUMNS = {"observations": "batch_id, unit_id, metric_key, obs_date, value",
                "measurements": "batch_id, unit_id, metric_key, period_start, value, n, sd"}
_KEY = ("unit_id", "metric_key", "period_start")

_BATCH_SUMMARY = """
    SELECT d.batch_id, string_agg(DISTINCT u.name, ', ' ORDER BY u.name) AS units,
           string_agg(DISTINCT d.metric_key, ', ' ORDER BY d.metric_key) AS metrics,
           min(d.first_date) AS first_date, max(d.last_date) AS last_date
    FROM (SELECT batch_id, unit_id, metric_key, min(obs_date) AS first_date, max(obs_date) AS last_date
          FROM observations {where} GROUP BY ALL
          UNION ALL
          SELECT batch_id, unit_id, metric_key, min(obs_date), max(obs_date)
          FROM undone_observations {where} GROUP BY ALL
          UNION ALL
          SELECT batch_id, unit_id, metric_key, min(period_start), max(period_start)
          FROM measurements {where} GROUP BY ALL
          UNION ALL
          SELECT batch_id, unit_id, metric_key, min(period_start), max(period_start)
          FROM undone_measurements {where} GROUP BY ALL) d
    JOIN business_units u USING (unit_id)
    GROUP BY d.batch_id
"""


def list_batches(db: Database, actor: Actor) -> pd.DataFrame:
    """Every import, newest first: its status (Active; Undone; Redone: undone, then brought back),
    who, when, file, kind, rows, units, metrics, date range, when it was undone or redone and by
    whom, and whether it can be redone (its rows were kept when it was undone). A batch undone
    before rows were kept takes its units and dates from its undo entry in the audit log. The CCO
    office's view: it names every unit's data."""
    require_editor(actor, "list the imports")
    sql = f"""
    WITH summary AS ({_BATCH_SUMMARY.format(where='')}),
    undone AS (
        SELECT CAST(entity_id AS INTEGER) AS batch_id, arg_max(before, audit_id) AS before
        FROM audit_log WHERE action = 'undo' AND entity = 'batch' GROUP BY 1)
    SELECT b.batch_id AS batch,
           CASE WHEN b.undone_at IS NOT NULL THEN 'Undone' WHEN b.redone_at IS NOT NULL THEN 'Redone'
                ELSE 'Active' END AS status,
           b.imported_at AS imported_at, b.imported_by AS imported_by, b.source AS file,
           b.kind, b.row_count AS rows,
           coalesce(s.units, d.before ->> 'units') AS units,
           coalesce(s.metrics, d.before ->> 'metrics') AS metrics,
           coalesce(s.first_date, TRY_CAST(d.before ->> 'first_date' AS DATE)) AS first_date,
           coalesce(s.last_date, TRY_CAST(d.before ->> 'last_date' AS DATE)) AS last_date,
           b.undone_at IS NOT NULL AS undone, b.undone_at, b.undone_by, b.redone_at, b.redone_by,
           b.undone_at IS NOT NULL AND b.kept_rows IS NOT NULL AS can_redo, b.kept_rows
    FROM import_batches b LEFT JOIN summary s USING (batch_id) LEFT JOIN undone d USING (batch_id)
    ORDER BY b.batch_id DESC
    """
    with db.cursor() as cur:
        return cur.execute(sql).df()


def get_batch(db: Database, actor: Actor, batch_id: int) -> BatchInfo:
    """One import as a person recognises it (for a confirmation that names it)."""
    require_editor(actor, "look at an import")
    with db.cursor() as cur:
        return _batch_info(cur, batch_id)


def _batch_info(cur, batch_id: int) -> BatchInfo:
    row = cur.execute(f"SELECT {_BATCH_INFO} FROM import_batches WHERE batch_id = ?", [batch_id]).fetchone()
    if row is None:
        raise ValidationError([Problem(f"there is no import batch {batch_id}", column="batch", value=str(batch_id))])
    return BatchInfo(*row)


def _summary(cur, batch_id: int) -> dict:
    found = cur.execute(_BATCH_SUMMARY.format(where="WHERE batch_id = $batch"), {"batch": batch_id}).fetchone()
    keys = ("units", "metrics", "first_date", "last_date")
    return dict(zip(keys, found[1:])) if found else dict.fromkeys(keys)


def undo_batch(db: Database, actor: Actor, batch_id: int) -> int:
    """Take every row of one import out of use, mark the batch undone and record it in the audit
    log, all or nothing. The rows are kept unchanged (see `redo_batch`); measurements the batch had
    replaced are put back. Returns the number of rows taken out."""
    with db.write(actor, "undo an import") as w:
        cur = w.cursor
        batch = _batch_info(cur, batch_id)
        if batch.undone:
            raise ValidationError([Problem(f"batch {batch_id} was undone already, by {batch.undone_by} at "
                                           f"{batch.undone_at:%Y-%m-%d %H:%M}", column="batch",
                                           value=str(batch_id))])
        summary = _summary(cur, batch_id)
        kind, columns = batch.kind, _ROW_COLUMNS[batch.kind]
        cur.execute(f"INSERT INTO {_UNDONE[kind]} ({columns}) SELECT {columns} FROM {kind} WHERE batch_id = ?",
                    [batch_id])
        removed = cur.execute(f"DELETE FROM {kind} WHERE batch_id = ?", [batch_id]).fetchone()[0]
        cur.execute("UPDATE import_batches SET undone_at = current_timestamp, undone_by = ?, kept_rows = ? "
                    "WHERE batch_id = ?", [actor.email, removed, batch_id])
        restored = _restore_replaced(w, batch_id) if kind == "measurements" else 0
        before = {"kind": kind, "source": batch.source, "rows": removed, **summary}
        w.audit("undo", "batch", batch_id, before=before,
                after={"undone_by": actor.email, "restored_measurements": restored, "kept_for_redo": removed})
    return removed


def redo_batch(db: Database, actor: Actor, batch_id: int) -> int:
    """Bring an undone batch's rows back exactly as they were (the same values, the same batch),
    mark the batch standing again and record it in the audit log, all or nothing. Returns the number
    of rows brought back.

    Refused (with the reason, nothing written) if there is no such batch, if it is not undone, if
    it was undone before undone rows were kept, or if a measurement it would bring back has since
    been stored by another batch (the problem names unit, metric, period and that batch). A
    measurement this batch had replaced, and which its undo put back, is replaced again (audited,
    so another undo puts it back again); one a later batch replaced stays with that batch."""
    with db.write(actor, "redo an import") as w:
        cur = w.cursor
        batch = _batch_info(cur, batch_id)
        kept = cur.execute("SELECT kept_rows FROM import_batches WHERE batch_id = ?", [batch_id]).fetchone()[0]
        if not batch.undone:
            raise ValidationError([Problem(f"batch {batch_id} is not undone: its {batch.kind} are in use; only an "
                                           f"undone batch can be redone", column="batch", value=str(batch_id))])
        if kept is None:
            raise ValidationError([Problem(
                f"batch {batch_id} was undone on {batch.undone_at:%Y-%m-%d %H:%M}, before undone rows were kept, "
                f"so its rows cannot be brought back: import {batch.source} again instead", column="batch",
                value=str(batch_id))])
        kind, columns, undone = batch.kind, _ROW_COLUMNS[batch.kind], _UNDONE[batch.kind]
        replaced = _reclaim_periods(w, batch_id) if kind == "measurements" else 0
        cur.execute(f"INSERT INTO {kind} ({columns}) SELECT {columns} FROM {undone} WHERE batch_id = ?", [batch_id])
        back = cur.execute(f"DELETE FROM {undone} WHERE batch_id = ?", [batch_id]).fetchone()[0]
        cur.execute("UPDATE import_batches SET undone_at = NULL, undone_by = NULL, kept_rows = NULL, "
                    "redone_at = current_timestamp, redone_by = ? WHERE batch_id = ?", [actor.email, batch_id])
        after = {"kind": kind, "source": batch.source, "rows": back, **_summary(cur, batch_id),
                 "redone_by": actor.email}
        if kind == "measurements":
            after["replaced_measurements"] = replaced
        w.audit("redo", "batch", batch_id,
                before={"undone_at": batch.undone_at, "undone_by": batch.undone_by, "kept_for_redo": kept}, after=after)
    return back


def _replaced_records(cur, owners: Iterable[int]) -> pd.DataFrame:
    """The measurements the given batches replaced, from their 'replace' audit entries: one row per
    replacing batch (`owner`), unit, metric and period, as the latest entry has it."""
    owners = sorted({int(o) for o in owners})
    columns = ["owner", "unit_id", "metric_key", "period_start", "value", "n", "sd", "batch_id"]
    if not owners:
        return pd.DataFrame(columns=columns)
    entries = cur.execute(
        f"SELECT CAST(entity_id AS INTEGER), before FROM audit_log WHERE action = 'replace' "
        f"AND entity = 'measurements' AND entity_id IN ({', '.join('?' * len(owners))}) ORDER BY audit_id",
        [str(o) for o in owners]).fetchall()
    records = [{**r, "owner": owner} for owner, before in entries for r in json.loads(before)]
    frame = pd.DataFrame.from_records(records, columns=columns)
    frame["period_start"] = frame["period_start"].astype(str).str[:10]
    return frame.drop_duplicates(["owner", *_KEY], keep="last").reset_index(drop=True)


def _restore_replaced(w: Write, batch_id: int) -> int:
    """Put back the measurements this batch replaced (kept in the audit log), where their own batch
    still stands and nothing newer took their place. Those of a batch undone meanwhile go with its
    kept rows, so that its redo brings them back too."""
    cur = w.cursor
    records = _replaced_records(cur, [batch_id])
    if records.empty:
        return 0
    view = f"restore_{uuid.uuid4().hex[:12]}"
    cur.register(view, records)
    try:
        restored = cur.execute(f"""
            INSERT INTO measurements (unit_id, metric_key, period_start, value, n, sd, batch_id)
            SELECT r.unit_id, r.metric_key, CAST(r.period_start AS DATE), r.value, CAST(r.n AS BIGINT),
                   r.sd, r.batch_id
            FROM {view} r JOIN import_batches b ON b.batch_id = r.batch_id AND b.undone_at IS NULL
            WHERE NOT EXISTS (SELECT 1 FROM measurements m WHERE m.unit_id = r.unit_id
                              AND m.metric_key = r.metric_key AND m.period_start = CAST(r.period_start AS DATE))
        """).fetchone()[0]
        cur.execute(f"""
            INSERT INTO undone_measurements (batch_id, unit_id, metric_key, period_start, value, n, sd)
            SELECT r.batch_id, r.unit_id, r.metric_key, CAST(r.period_start AS DATE), r.value, CAST(r.n AS BIGINT), r.sd
            FROM {view} r JOIN import_batches b ON b.batch_id = r.batch_id AND b.undone_at IS NOT NULL
                                                 AND b.kept_rows IS NOT NULL
            WHERE NOT EXISTS (SELECT 1 FROM undone_measurements k WHERE k.batch_id = r.batch_id
                              AND k.unit_id = r.unit_id AND k.metric_key = r.metric_key
                              AND k.period_start = CAST(r.period_start AS DATE))""")
        cur.execute(f"""
            UPDATE import_batches b SET kept_rows = (SELECT count(*) FROM undone_measurements k
                                                      WHERE k.batch_id = b.batch_id)
            WHERE b.undone_at IS NOT NULL AND b.kept_rows IS NOT NULL
              AND b.batch_id IN (SELECT DISTINCT batch_id FROM {view})""")
        return restored
    finally:
        cur.unregister(view)


def _reclaim_periods(w: Write, batch_id: int) -> int:
    """Before an undone measurements batch comes back: every period it holds that is stored again
    meanwhile must be one it had replaced (taken out again, audited) or one a later batch replaced
    (its value stays with that batch). Anything else refuses the redo. Returns how many were taken out."""
    cur = w.cursor
    clashes = cur.execute("""
        SELECT k.unit_id, k.metric_key, CAST(k.period_start AS VARCHAR), k.value, m.value, m.batch_id, u.name
        FROM undone_measurements k JOIN measurements m USING (unit_id, metric_key, period_start)
        JOIN business_units u USING (unit_id)
        WHERE k.batch_id = ? ORDER BY u.name, k.metric_key, k.period_start""", [batch_id]).fetchall()
    if not clashes:
        return 0
    records = _replaced_records(cur, [batch_id] + [c[5] for c in clashes])
    ours = set(records.loc[records["owner"] == batch_id, ["unit_id", "metric_key", "period_start", "batch_id"]]
               .itertuples(index=False, name=None))
    theirs = set(records.loc[records["batch_id"] == batch_id, ["owner", "unit_id", "metric_key", "period_start"]]
                 .itertuples(index=False, name=None))
    take_out, leave, problems = [], [], []
    for unit_id, metric, period, mine, stored, holder, unit in clashes:
        if (unit_id, metric, period, holder) in ours:
            take_out.append((unit_id, metric, period))
        elif (holder, unit_id, metric, period) in theirs:
            leave.append((unit_id, metric, period))
        else:
            problems.append(Problem(
                f"{unit}, {metric}, {period}: batch {holder} has stored {stored:g} for this period since; this "
                f"batch would bring back {mine:g}. Undo batch {holder} first, or correct the value instead",
                column="period_start", value=period))
    if problems:
        if len(problems) > LISTED_PER_CHECK:
            problems = problems[:LISTED_PER_CHECK] + [Problem(
                f"and {len(problems) - LISTED_PER_CHECK:,} more periods stored by other batches since",
                column="period_start")]
        raise ValidationError(problems)
    keys = pd.DataFrame(take_out + leave, columns=list(_KEY)).assign(
        take_out=[True] * len(take_out) + [False] * len(leave))
    view = f"reclaim_{uuid.uuid4().hex[:12]}"
    cur.register(view, keys)
    try:
        match = ("t.unit_id = {a}.unit_id AND t.metric_key = {a}.metric_key "
                 "AND CAST(t.period_start AS DATE) = {a}.period_start")
        if take_out:
            moved = cur.execute(f"SELECT m.unit_id, m.metric_key, m.period_start, m.value, m.n, m.sd, m.batch_id "
                                f"FROM measurements m JOIN {view} t ON {match.format(a='m')} AND t.take_out "
                                f"ORDER BY ALL").df()
            cur.execute(f"DELETE FROM measurements m USING {view} t WHERE {match.format(a='m')} AND t.take_out")
            w.audit("replace", "measurements", batch_id,
                    before=moved.to_dict(orient="records"), after={"batch_id": batch_id, "redo": True})
        if leave:
            cur.execute(f"DELETE FROM undone_measurements k USING {view} t WHERE k.batch_id = ? "
                        f"AND {match.format(a='k')} AND NOT t.take_out", [batch_id])
    finally:
        cur.unregister(view)
    return len(take_out)


# ---------------------------------------------------------------- templates

def _example_value(low, high, whole: bool) -> float:
    if low is not None and high is not None:
        value = low + 0.8 * (high - low)
        return float(round(value)) if whole else round(value, 2)
    return (low or 0) + 2.5


def template_frame(db: Database, kind: str) -> pd.DataFrame:
    """An example file of this kind using the current units and metrics: every unit and every
    metric appear at least once, with a value in the metric's valid range."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind of data '{kind}'")
    with db.cursor() as cur:
        units = [r[0] for r in cur.execute("SELECT name FROM business_units ORDER BY lower(name)").fetchall()]
    metrics = store.list_metrics(db)
    units = units or ["Your unit"]
    monday = dt.date.today() - dt.timedelta(days=dt.date.today().weekday() + 7)
    rows = []
    for i in range(max(len(units), len(metrics))):
        metric = metrics[i % len(metrics)]
        if kind == "observations":
            rows.append({"unit": units[i % len(units)], "metric": metric.key, "date": monday + dt.timedelta(days=i % 5),
                         "value": _example_value(metric.min_value, metric.max_value, metric.whole_numbers)})
        else:
            low, high = metric.period_range()
            spread = None if metric.aggregation != "mean" or low is None or high is None else round((high - low) / 4, 2)
            rows.append({"unit": units[i % len(units)], "metric": metric.key, "period_start": monday,
                         "value": _example_value(low, high, False), "n": 250,
                         "sd": spread if spread is not None else (1.0 if metric.aggregation == "mean" else None)})
    return pd.DataFrame(rows, columns=list(REQUIRED[kind] + OPTIONAL[kind]))


def template(db: Database, kind: str, fmt: str = "csv") -> bytes:
    """The example file as CSV (UTF-8, comma) or XLSX (real Excel dates) bytes."""
    frame = template_frame(db, kind)
    if fmt == "csv":
        return frame.to_csv(index=False, date_format="%Y-%m-%d").encode("utf-8")
    if fmt == "xlsx":
        buffer = io.BytesIO()
        with pd.ExcelWriter(buffer, engine="openpyxl", date_format="YYYY-MM-DD") as writer:
            frame.to_excel(writer, sheet_name=kind, index=False)
        return buffer.getvalue()
    raise ValueError(f"unknown format '{fmt}'; expected csv or xlsx")


# ---------------------------------------------------------------- coverage

def _visible_units(actor: Actor, column: str = "unit_id") -> tuple[str, list]:
    if actor.sees_all_units():
        return "TRUE", []
    if not actor.unit_ids:
        return "FALSE", []
    return f"{column} IN ({', '.join('?' * len(actor.unit_ids))})", sorted(actor.unit_ids)


def coverage(db: Database, actor: Actor, metric_key: str | None = None) -> pd.DataFrame:
    """What data exist, per unit, metric and month: rows (observations plus measurement periods),
    volume (observations plus the n behind each measurement, 1 where unknown) and first/last date.
    Aggregated in SQL: at most units x metrics x months rows."""
    where, params = _visible_units(actor)
    if metric_key is not None:
        where += " AND metric_key = ?"
        params.append(metric_key)
    sql = f"""
    SELECT u.name AS unit, d.metric_key AS metric, d.month, sum(d.rows)::BIGINT AS rows,
           sum(d.volume)::BIGINT AS volume, min(d.first_date) AS first_date, max(d.last_date) AS last_date
    FROM (SELECT unit_id, metric_key, date_trunc('month', obs_date)::DATE AS month, count(*) AS rows,
                 count(*) AS volume, min(obs_date) AS first_date, max(obs_date) AS last_date
          FROM observations WHERE {where} GROUP BY ALL
          UNION ALL
          SELECT unit_id, metric_key, date_trunc('month', period_start)::DATE, count(*), sum(coalesce(n, 1)),
                 min(period_start), max(period_start)
          FROM measurements WHERE {where} GROUP BY ALL) d
    JOIN business_units u USING (unit_id)
    GROUP BY ALL ORDER BY unit, metric, month
    """
    with db.cursor() as cur:
        return cur.execute(sql, params + params).df()


def coverage_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Per unit and metric of a `coverage` frame: first and last date, months with data, volume."""
    if frame.empty:
        return pd.DataFrame(columns=["unit", "metric", "first_date", "last_date", "months", "volume"])
    return (frame.groupby(["unit", "metric"], as_index=False)
            .agg(first_date=("first_date", "min"), last_date=("last_date", "max"),
                 months=("month", "nunique"), volume=("volume", "sum")))


def pilot_windows(db: Database, actor: Actor, metric_key: str) -> pd.DataFrame:
    """Baseline and pilot windows of the pilots that use this metric, per unit (the pilot's own and
    its controls): what the coverage must reach back to."""
    rows = []
    for pilot in store.list_pilots(db, actor):
        if metric_key not in dict(pilot.metric_roles()):
            continue
        for unit, role in [(pilot.unit_name, "pilot unit")] + [(c, "control") for c in pilot.control_unit_names]:
            rows.append({"unit": unit, "pilot": pilot.name, "role": role, "baseline_start": pilot.baseline_start,
                         "pilot_end": pilot.pilot_end})
    return pd.DataFrame(rows, columns=["unit", "pilot", "role", "baseline_start", "pilot_end"])
