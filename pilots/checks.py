"""Checking a file's rows, every one of them, as SQL over the text pilots.reading makes of it: the
header (which column is which), the rules of each column, and for measurements the keys (a unit,
metric and period named twice in the file, or stored already unless replacing).

Each cell of a column the format uses gets, as its one problem, the first rule of its column it
breaks: the text rules first (a control character such as NUL, more than MAX_CELL_CHARS
characters, a formula, and for a unit or metric name a leading + - @ that a spreadsheet would run
as a formula), then the column's own (missing, not a date, an implausible date, unknown, not a
number, not finite, out of range, not whole). A row with more fields than the header is a problem
of its own: an unquoted decimal comma (4,5) would otherwise lose its decimals.

The same rules run in two shapes. `check` reads the file once, writing its typed rows to a
temporary table with a flag per row saying whether it breaks any rule: a clean file is written from
that table, so it is parsed once. Only when something is flagged is the file read again with row
numbers, to count every problem and list the first LISTED_PER_CHECK of each kind in bounded memory.

Its length: one SQL rule per column and kind of file, side by side, so the rules read as a table.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import duckdb

from . import store
from .model import Metric, Problem, Unit
from .reading import DATE_COLUMN, EXTRA, MAX_CELL_CHARS, MAX_ROWS, OPTIONAL, REQUIRED, Text
from .text import printable, refused_characters

# Rows listed per kind of problem; every problem is counted, but a million rows naming the same
# mistake help nobody.
LISTED_PER_CHECK = 25
# Dates outside this window are typos (2204 for 2024, 9999-12-31 for "no end"), not customer data.
EARLIEST_DATE = dt.date(1990, 1, 1)

# The checked rows' text column behind each column of the file format (None: the row's extra field).
_TEXT_OF = {"unit": "unit_text", "metric": "metric_text", "date": "date_text", "period_start": "date_text",
            "value": "value_text", "n": "n_text", "sd": "sd_text", None: "extra_text"}


@dataclass(frozen=True)
class Rule:
    column: str | None              # the format's column a problem names; None: the row as a whole
    condition: str                  # SQL over the checked rows, true when the rule is broken
    reason: Callable[[dict], str]   # from one listed row: its value, metric, low and high
    by_name: bool = False           # listed per distinct name (an unknown unit or metric)


def _normalise(name: str) -> str:
    """Header names in any case, with stray spaces, BOM, or 'period start' for period_start."""
    return "_".join(name.replace("\ufeff", "").strip().lower().replace("-", " ").split())


def header(names: Iterable[str], kind: str) -> tuple[dict[str, str], list[Problem]]:
    """Which text column (c0 …) holds each column of the format, or the problems of the header."""
    names = list(names)
    found: dict[str, str] = {}
    problems = []
    for index, name in enumerate(names):
        key = _normalise(name)
        if key in found:
            if key in REQUIRED[kind] + OPTIONAL[kind]:
                first = int(found[key][1:]) + 1
                problems.append(Problem(f"the header names column '{key}' twice (columns {first} and {index + 1}): "
                                        f"keep one", row=None, column=key))
            continue
        found[key] = f"c{index}"
    for name in REQUIRED[kind]:
        if name not in found:
            near = store.suggest(name, [n for n in found if n not in REQUIRED[kind]])
            hint = f"; is '{near}' meant to be it?" if near else ""
            optional = f" (optional: {', '.join(OPTIONAL[kind])})" if OPTIONAL[kind] else ""
            shown = ", ".join(repr(printable(c, 40)) for c in names) or "nothing"
            problems.append(Problem(f"missing column '{name}': the first row must be the header "
                                    f"{', '.join(REQUIRED[kind])}{optional}; found {shown}{hint}", column=name))
    wanted = REQUIRED[kind] + OPTIONAL[kind]
    return {k: v for k, v in found.items() if k in wanted}, problems


# ---------------------------------------------------------------- the rules

def _range_text(low, high) -> str:
    if low is not None and high is not None:
        return f"between {low:g} and {high:g}"
    return f"at least {low:g}" if low is not None else f"at most {high:g}"


def _control_reason(row: dict) -> str:
    found = refused_characters(row["value"]) or ["a control character"]
    return (f"contains {', '.join(found[:3])}, a control character no name, date or number holds: is this the "
            f"right file, saved as CSV UTF-8?")


def _formula_reason(row: dict) -> str:
    if row["value"].startswith("="):
        return ("a formula, not a value: save the values instead (in Excel: Copy, then Paste Special, Values) and "
                "import again")
    return (f"begins with '{row['value'][0]}', which a spreadsheet opening this data would run as a formula: "
            f"names never begin with = + - @")


def _text_rules(column: str, unread: str, is_name: bool) -> list[Rule]:
    """Why a cell could not be read (`unread`: as a known name, a date or a number), when the reason
    is the text itself. A cell that reads is never refused for its text: a known unit may be named
    '+Plus', and DuckDB reads ' 4' and '4\\t' as 4 but no number or date with a NUL in it."""
    text = _TEXT_OF[column]
    leading = "=+@-" if is_name else "="

    def when_unread(test: str) -> str:
        # CASE, not AND: DuckDB evaluates a CASE branch only for the rows that reach it, so the
        # rows that read (nearly all) cost no regular expression.
        return f"CASE WHEN {unread} THEN {test} ELSE FALSE END"

    return [
        Rule(column, when_unread(f"regexp_matches({text}, '[\\x00-\\x1f\\x7f-\\x9f]')"), _control_reason),
        Rule(column, when_unread(f"length({text}) > {MAX_CELL_CHARS}"),
             lambda r: f"the cell holds {len(r['value']):,} characters; at most {MAX_CELL_CHARS:,} are read"),
        Rule(column, when_unread(f"regexp_matches({text}, '^[{leading}]')"), _formula_reason),
    ]


def _beyond_header(text: Text) -> Rule:
    width = len(text.names)
    if text.spreadsheet:
        return Rule(None, "extra_text IS NOT NULL",
                    lambda r: f"the row has a value beyond the header's {width} columns: give its column a header "
                              f"or take the value out")
    return Rule(None, "extra_text IS NOT NULL",
                lambda r: f"the row has more fields than the header's {width}: write a decimal with a point (4.5), "
                          f"put a decimal comma in quotes (\"4,5\") or save the file with semicolons")


def _rules(text: Text) -> list[Rule]:
    kind = text.kind
    date = DATE_COLUMN[kind]
    what = "answers" if kind == "observations" else "period values"
    latest = "current_date + INTERVAL 366 DAY"
    rules = [
        _beyond_header(text),
        Rule("unit", "unit_text IS NULL", lambda r: "the unit is missing"),
        *_text_rules("unit", "unit_id IS NULL", is_name=True),
        Rule("unit", "unit_id IS NULL", lambda r: "unknown unit", by_name=True),
        Rule("metric", "metric_text IS NULL", lambda r: "the metric is missing"),
        *_text_rules("metric", "metric_key IS NULL", is_name=True),
        Rule("metric", "metric_key IS NULL", lambda r: "unknown metric", by_name=True),
        Rule(date, "NOT date_present", lambda r: "the date is missing"),
        *_text_rules(date, "day IS NULL", is_name=False),
        Rule(date, "day IS NULL", lambda r: "not a date: write dates as YYYY-MM-DD (e.g. 2025-03-31)"),
        Rule(date, f"day < DATE '{EARLIEST_DATE}' OR day > {latest}",
             lambda r: f"an implausible date: expected from {EARLIEST_DATE} to a year from today"),
        Rule("value", "NOT value_present", lambda r: "the value is missing"),
        *_text_rules("value", "num IS NULL", is_name=False),
        Rule("value", "num IS NULL", lambda r: "not a number"),
        Rule("value", "NOT isfinite(num)", lambda r: "not a finite number: NaN and infinity are not values"),
        Rule("value", "num < low OR num > high",
             lambda r: f"{r['metric']} {what} must be {_range_text(r['low'], r['high'])}"),
        Rule("value", "whole AND num <> round(num)", lambda r: f"{r['metric']} answers are whole numbers"),
    ]
    if kind == "measurements":
        rules += [
            *_text_rules("n", "n_num IS NULL", is_name=False),
            Rule("n", "n_present AND (n_num IS NULL OR NOT isfinite(n_num) OR n_num <= 0 OR n_num <> round(n_num))",
                 lambda r: "n (how many answers or cases the value sums up) must be a whole number above 0"),
            *_text_rules("sd", "sd_num IS NULL", is_name=False),
            Rule("sd", "sd_present AND (sd_num IS NULL OR NOT isfinite(sd_num) OR sd_num < 0)",
                 lambda r: "sd (standard deviation) must be a number of 0 or more"),
        ]
    return rules


def _metric_ranges(metrics: Iterable[Metric], kind: str) -> str:
    """The metric catalogue as SQL rows (key, low, high, whole) of the valid range for this kind."""
    rows = []
    for metric in metrics:
        low, high = (metric.min_value, metric.max_value) if kind == "observations" else metric.period_range()
        whole = metric.whole_numbers and kind == "observations"
        key = metric.key.replace("'", "''")
        rows.append(f"('{key}', {'NULL' if low is None else float(low)}::DOUBLE, "
                    f"{'NULL' if high is None else float(high)}::DOUBLE, {str(whole).upper()})")
    return ("SELECT * FROM (VALUES " + ", ".join(rows) + ") AS r(metric_key, low, high, whole)") if rows else \
        "SELECT NULL::VARCHAR AS metric_key, NULL::DOUBLE AS low, NULL::DOUBLE AS high, FALSE AS whole LIMIT 0"


def _number(expr: str, semicolon: bool) -> str:
    """A text cell as DOUBLE; in semicolon files a decimal comma (4,5) is the local way of writing 4.5."""
    if semicolon:
        expr = f"CASE WHEN regexp_full_match({expr}, '-?[0-9]*,[0-9]+') THEN replace({expr}, ',', '.') ELSE {expr} END"
    return f"TRY_CAST({expr} AS DOUBLE)"


def _checked(text: Text, columns: dict[str, str], metrics: list[Metric], numbered: bool) -> str:
    """The file's rows as text and typed values, joined to the units and the metrics' ranges, with
    whether each typed cell holds anything (`…_present`) and whether the row is blank."""
    kind = text.kind

    def raw(name: str) -> str:
        return f"nullif(r.{columns[name]}, '')" if name in columns else "NULL::VARCHAR"

    def name(column: str) -> str:
        # Names are matched trimmed. trim() copies every string it is given, so only a cell with a
        # space at either end goes through it; dates and numbers are read with their spaces.
        cell = f"r.{columns[column]}" if column in columns else "NULL::VARCHAR"
        return (f"CASE WHEN {cell} LIKE ' %' OR {cell} LIKE '% ' THEN nullif(trim({cell}), '') "
                f"ELSE nullif({cell}, '') END")

    def present(text_column: str, typed: str) -> str:
        # A cell that reads holds something; only one that does not is looked at for more than spaces.
        return f"CASE WHEN {typed} IS NOT NULL THEN TRUE ELSE trim(coalesce({text_column}, '')) <> '' END"

    typed = {"date_text": "day", "value_text": "num"}
    texts = [f"{name('unit')} AS unit_text", f"{name('metric')} AS metric_text",
             f"{raw(DATE_COLUMN[kind])} AS date_text", f"{raw('value')} AS value_text"]
    day = "TRY_CAST(date_text AS DATE)"
    if text.spreadsheet:
        # A date cell Excel stored as a plain number counts days from 1899-12-30.
        day = (f"coalesce({day}, CASE WHEN TRY_CAST(date_text AS DOUBLE) BETWEEN 1 AND 2958465 "
               f"THEN DATE '1899-12-30' + CAST(floor(TRY_CAST(date_text AS DOUBLE)) AS INTEGER) END)")
    numbers = f"{_number('value_text', text.semicolon)} AS num"
    if kind == "measurements":
        texts += [f"{raw('n')} AS n_text", f"{raw('sd')} AS sd_text"]
        typed |= {"n_text": "n_num", "sd_text": "sd_num"}
        numbers += f", {_number('n_text', text.semicolon)} AS n_num, {_number('sd_text', text.semicolon)} AS sd_num"
    presence = ", ".join(f"{present(t, v)} AS {t.replace('_text', '_present')}" for t, v in typed.items())
    anything = " OR ".join(["unit_text IS NOT NULL", "metric_text IS NOT NULL"]
                           + [t.replace("_text", "_present") for t in typed] + ["trim(extra_text) <> ''"])
    return f"""
        SELECT *, NOT coalesce({anything}, FALSE) AS blank FROM (
            SELECT *, {presence} FROM (
                SELECT t.*, u.unit_id, u.name AS unit_name, k.metric_key, k.low, k.high, k.whole,
                       {day} AS day, {numbers}
                FROM (SELECT {'r.row' if numbered else 'NULL'} AS row, {', '.join(texts)}, r.{EXTRA} AS extra_text
                      FROM {text.numbered if numbered else text.relation} r) t
                LEFT JOIN (SELECT unit_id, name, lower(trim(name)) AS folded FROM business_units) u
                       ON u.folded = lower(t.unit_text)
                LEFT JOIN ({_metric_ranges(metrics, kind)}) k ON k.metric_key = lower(t.metric_text)))"""


# ---------------------------------------------------------------- one pass, then the listing if needed

def check(cur: duckdb.DuckDBPyConnection, text: Text, metrics: list[Metric], units: list[Unit], replace: bool,
          staged: str) -> tuple[int, int, list[Problem]]:
    """Check every row against the metric catalogue and the units (those the importer sees, for
    suggesting a name). Returns (data rows, problem count, problems listed); when there is no
    problem the typed rows (unit_id, metric_key, day, num, and n_num, sd_num for measurements;
    `blank` rows to be left out) are in the temporary table `staged`."""
    kind = text.kind
    columns, problems = header(text.names, kind)
    if problems:
        return 0, len(problems), problems
    rules = _rules(text)
    flagged = " OR ".join(f"coalesce({rule.condition}, FALSE)" for rule in rules)
    typed = "unit_id, metric_key, day, num" + (", n_num, sd_num" if kind == "measurements" else "")
    # The staged rows need no order (row numbers come from the second reading, if any), and without
    # it DuckDB reads the file on every core despite the relation's row limit. (A failed statement
    # leaves the setting on a cursor the failed write closes.)
    cur.execute("SET SESSION preserve_insertion_order = false")
    text.execute(cur, f"CREATE TEMP TABLE {staged} AS SELECT blank, {typed}, NOT blank AND ({flagged}) AS flagged "
                      f"FROM ({_checked(text, columns, metrics, numbered=False)}) c")
    cur.execute("RESET SESSION preserve_insertion_order")
    read, rows, broken = cur.execute(f"SELECT count(*), count(*) FILTER (WHERE NOT blank), "
                                     f"count(*) FILTER (WHERE flagged) FROM {staged}").fetchone()
    expected = ", ".join(REQUIRED[kind])
    if read > MAX_ROWS:
        return rows, 1, [Problem(f"the file has more than {MAX_ROWS:,} rows: split it into files of at most "
                                 f"{MAX_ROWS:,} rows and import them one after the other", column=expected)]
    if rows == 0:
        return 0, 1, [Problem(f"no data rows below the header {expected}", row=1, column=expected)]
    if not broken and not (kind == "measurements" and _key_clashes(cur, staged, replace)):
        return rows, 0, []
    count, problems = _diagnose(cur, text, columns, metrics, units, rules, replace, staged)
    if not problems:  # the file read differently the second time
        problems = [Problem("the file changed while it was being read: import it again", column=expected)]
    return rows, max(count, len(problems)), problems


def _key_clashes(cur: duckdb.DuckDBPyConnection, staged: str, replace: bool) -> int:
    """How many staged measurements repeat a unit, metric and period, or (unless replacing) are stored."""
    repeated = cur.execute(f"SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM {staged} WHERE NOT blank "
                           f"GROUP BY unit_id, metric_key, day HAVING count(*) > 1)").fetchone()[0]
    if replace:
        return repeated
    stored = cur.execute(f"SELECT count(*) FROM {staged} s JOIN measurements m ON m.unit_id = s.unit_id "
                         f"AND m.metric_key = s.metric_key AND m.period_start = s.day WHERE NOT s.blank").fetchone()[0]
    return repeated + stored


def _slot(column: str | None) -> str:
    return f"broken_{column or 'row'}"


def _diagnose(cur: duckdb.DuckDBPyConnection, text: Text, columns: dict[str, str], metrics: list[Metric],
              units: list[Unit], rules: list[Rule], replace: bool, tag: str) -> tuple[int, list[Problem]]:
    """Read the file again with row numbers: every problem counted, the first of each kind listed."""
    slots: dict[str | None, list[int]] = {}
    for index, rule in enumerate(rules):
        slots.setdefault(rule.column, []).append(index)
    cases = ", ".join(
        f"CASE {' '.join(f'WHEN coalesce({rules[i].condition}, FALSE) THEN {i}' for i in members)} END AS {_slot(c)}"
        for c, members in slots.items())
    source = f"(SELECT *, {cases} FROM ({_checked(text, columns, metrics, numbered=True)}) c WHERE NOT blank)"
    if text.kind == "measurements":
        # Measurement files are small; the keys are checked across rows, so they are read once here.
        text.execute(cur, f"CREATE TEMP TABLE {tag}_numbered AS SELECT * FROM {source}")
        source = f"{tag}_numbered"
    aggregates = []
    for index, rule in enumerate(rules):
        where = f"FILTER (WHERE {_slot(rule.column)} = {index})"
        aggregates.append(f"count(*) {where}")
        aggregates.append("NULL" if rule.by_name else
                          f"min({{'row': row, 'value': {_TEXT_OF[rule.column]}, 'metric': metric_key, 'low': low, "
                          f"'high': high}}, {LISTED_PER_CHECK}) {where}")
    found = text.execute(cur, f"SELECT {', '.join(aggregates)} FROM {source}").fetchone()
    total, problems = 0, []
    for index, rule in enumerate(rules):
        count, listed = found[2 * index], found[2 * index + 1]
        if not count:
            continue
        total += count
        if rule.by_name:
            problems += _unknown_names(cur, text, source, rule, index, metrics, units)
        else:
            problems += _listed(rule, count, listed)
    if text.kind == "measurements":
        count, listed = _key_problems(cur, source, replace)
        total += count
        problems += listed
    problems.sort(key=lambda p: (p.row is None, p.row or 0))
    return total, problems


def _listed(rule: Rule, count: int, rows: list[dict]) -> list[Problem]:
    problems = [Problem(rule.reason(r), row=r["row"], column=rule.column, value=printable(r["value"], 60))
                for r in rows]
    if count > len(rows):
        problems.append(Problem(f"and {count - len(rows):,} more rows like this: {rule.reason(rows[-1])}",
                                column=rule.column))
    return problems


def _unknown_names(cur: duckdb.DuckDBPyConnection, text: Text, source: str, rule: Rule, index: int,
                   metrics: list[Metric], units: list[Unit]) -> list[Problem]:
    """Unknown units or metric keys, one suggestion per distinct name, the first rows of each listed."""
    column = rule.column
    groups = text.execute(cur, f"""
        SELECT name, n, rows, count(*) OVER () AS names FROM (
            SELECT {_TEXT_OF[column]} AS name, count(*) AS n, min(row, {LISTED_PER_CHECK}) AS rows, min(row) AS first
            FROM {source} WHERE {_slot(column)} = {index} GROUP BY 1)
        ORDER BY first LIMIT {LISTED_PER_CHECK}""").fetchall()
    known = [m.key for m in metrics]
    problems = []
    for name, count, rows, _ in groups:
        shown = printable(name, 60)
        if column == "unit":
            template = store.unknown_unit_problem(shown, units, column="unit")
        else:
            near = store.suggest(name, known)
            hint = f": did you mean '{near}'?" if near else f"; defined metrics: {', '.join(sorted(known))}"
            template = Problem(f"unknown metric '{shown}'{hint}", column="metric", value=shown)
        problems += [Problem(template.reason, row=row, column=column, value=shown) for row in rows]
        if count > len(rows):
            problems.append(Problem(f"and {count - len(rows):,} more rows with {column} '{shown}'", column=column))
    if groups and groups[0][3] > LISTED_PER_CHECK:
        problems.append(Problem(f"and {groups[0][3] - LISTED_PER_CHECK:,} more unknown {column} names", column=column))
    return problems


def _key_problems(cur: duckdb.DuckDBPyConnection, source: str, replace: bool) -> tuple[int, list[Problem]]:
    """Measurements named twice in the file, and (unless replacing) measurements stored already,
    among the rows whose unit, metric and period are valid."""
    valid = (f"(SELECT * FROM {source} WHERE broken_unit IS NULL AND broken_metric IS NULL "
             f"AND broken_period_start IS NULL)")
    problems = []
    dupes = cur.execute(
        f"SELECT unit_name, metric_key, day, list(row ORDER BY row) AS rows FROM {valid} "
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
    stored_at = (f"FROM {valid} c JOIN measurements m ON m.unit_id = c.unit_id AND m.metric_key = c.metric_key "
                 f"AND m.period_start = c.day")
    stored_count = cur.execute(f"SELECT count(*) {stored_at}").fetchone()[0]
    stored = cur.execute(f"SELECT c.row, c.unit_name, c.metric_key, c.day, m.value, m.batch_id {stored_at} "
                         f"ORDER BY c.row LIMIT {LISTED_PER_CHECK}").fetchall()
    for row, unit, metric, day, value, batch in stored:
        problems.append(Problem(
            f"a measurement for {unit}, {metric}, {day} is stored already ({value:g}, batch {batch}); "
            f"choose 'replace' to overwrite it", row=row, column="period_start", value=str(day)))
    if stored_count > len(stored):
        problems.append(Problem(f"and {stored_count - len(stored):,} more measurements stored already; "
                                f"choose 'replace' to overwrite them", column="period_start"))
    return count + stored_count, problems
