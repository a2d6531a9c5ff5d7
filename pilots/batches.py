"""Import batches: writing checked rows as one batch (with the measurements it replaces kept in
the audit log), and after the fact: how a batch is named to a person, found by the bytes of its
file, listed with what it covers, and the mechanics of undo and redo inside a write that
pilots.ingest opens.

Undo moves a batch's rows, unchanged, from the live table (what every analysis, chart and coverage
reads) to its "undone_" twin; redo moves them back. A row is in exactly one of the two places, so
the live tables need no filter, and their row counts (part of `cells.data_version`) change with
every undo and redo. Measurements a batch replaced are kept in its 'replace' audit entries: an undo
puts them back, a redo takes them out again.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import duckdb

from .checks import LISTED_PER_CHECK
from .db import Write
from .model import Problem, ValidationError

if TYPE_CHECKING:
    import pandas as pd


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


_BATCH_INFO = "batch_id, kind, source, row_count, imported_by, imported_at, undone_at, undone_by"


def identical_batch(cur: duckdb.DuckDBPyConnection, kind: str, digest: str | None) -> BatchInfo | None:
    """The newest batch of this kind imported from a file with the same bytes; one whose rows are in
    use comes before an undone one."""
    if digest is None:
        return None
    row = cur.execute(f"SELECT {_BATCH_INFO} FROM import_batches WHERE content_hash = ? AND kind = ? "
                      f"ORDER BY undone_at IS NULL DESC, batch_id DESC LIMIT 1", [digest, kind]).fetchone()
    return None if row is None else BatchInfo(*row)


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


# Every import, newest first, with its status and what it covers (pilots.ingest.list_batches). A batch
# undone before rows were kept takes its units and dates from its undo entry in the audit log.
LISTING = f"""
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


def batch_info(cur: duckdb.DuckDBPyConnection, batch_id: int) -> BatchInfo:
    row = cur.execute(f"SELECT {_BATCH_INFO} FROM import_batches WHERE batch_id = ?", [batch_id]).fetchone()
    if row is None:
        raise ValidationError([Problem(f"there is no import batch {batch_id}", column="batch", value=str(batch_id))])
    return BatchInfo(*row)


def _summary(cur, batch_id: int) -> dict:
    found = cur.execute(_BATCH_SUMMARY.format(where="WHERE batch_id = $batch"), {"batch": batch_id}).fetchone()
    keys = ("units", "metrics", "first_date", "last_date")
    return dict(zip(keys, found[1:], strict=False)) if found else dict.fromkeys(keys)


def undo(w: Write, batch_id: int) -> int:
    """Undo, inside the write `w` (see `pilots.ingest.undo_batch`); the number of rows taken out."""
    cur = w.cursor
    batch = batch_info(cur, batch_id)
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
                "WHERE batch_id = ?", [w.actor.email, removed, batch_id])
    restored = _restore_replaced(w, batch_id) if kind == "measurements" else 0
    before = {"kind": kind, "source": batch.source, "rows": removed, **summary}
    w.audit("undo", "batch", batch_id, before=before,
            after={"undone_by": w.actor.email, "restored_measurements": restored, "kept_for_redo": removed})
    return removed


def redo(w: Write, batch_id: int) -> int:
    """Redo, inside the write `w` (see `pilots.ingest.redo_batch`); the number of rows brought back."""
    cur = w.cursor
    batch = batch_info(cur, batch_id)
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
                "redone_at = current_timestamp, redone_by = ? WHERE batch_id = ?", [w.actor.email, batch_id])
    after = {"kind": kind, "source": batch.source, "rows": back, **_summary(cur, batch_id),
             "redone_by": w.actor.email}
    if kind == "measurements":
        after["replaced_measurements"] = replaced
    w.audit("redo", "batch", batch_id,
            before={"undone_at": batch.undone_at, "undone_by": batch.undone_by, "kept_for_redo": kept}, after=after)
    return back


def _replaced_records(cur, owners: Iterable[int]) -> pd.DataFrame:
    """The measurements the given batches replaced, from their 'replace' audit entries: one row per
    replacing batch (`owner`), unit, metric and period, as the latest entry has it."""
    import pandas as pd

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
    import pandas as pd

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


# ---------------------------------------------------------------- writing a batch

def insert_batch(w: Write, kind: str, source: str, rows_view: str, replace: bool = False,
                 content_hash: str | None = None) -> int:
    """Write rows that have already been checked, as one new batch, inside the caller's write.

    `rows_view` names a relation visible to `cur` with columns (unit_id, metric_key, obs_date, value)
    for observations, or (unit_id, metric_key, period_start, value, n, sd) for measurements. With
    `replace`, measurements already stored for the same unit, metric and period are replaced, and
    what they held goes to the audit log. `content_hash` (sha256 of the file) is kept with the batch
    so an identical file is recognised later. Returns the batch id."""
    cur, actor = w.cursor, w.actor
    row_count = cur.execute(f"SELECT count(*) FROM {rows_view}").fetchone()[0]
    batch_id = cur.execute(
        "INSERT INTO import_batches (kind, source, imported_by, row_count, content_hash) VALUES (?, ?, ?, ?, ?) "
        "RETURNING batch_id", [kind, source, actor.email, row_count, content_hash]).fetchone()[0]
    if kind == "observations":
        cur.execute(f"INSERT INTO observations (batch_id, unit_id, metric_key, obs_date, value) "
                    f"SELECT {batch_id}, unit_id, metric_key, obs_date, value FROM {rows_view}")
    elif kind == "measurements":
        if replace:
            replaced = cur.execute(
                f"SELECT m.unit_id, m.metric_key, m.period_start, m.value, m.n, m.sd, m.batch_id FROM measurements m "
                f"JOIN {rows_view} r USING (unit_id, metric_key, period_start)").df()
            if len(replaced):
                cur.execute(f"DELETE FROM measurements m USING {rows_view} r WHERE m.unit_id = r.unit_id "
                            f"AND m.metric_key = r.metric_key AND m.period_start = r.period_start")
                w.audit("replace", "measurements", batch_id, before=replaced.to_dict(orient="records"),
                        after={"batch_id": batch_id})
        cur.execute(f"INSERT INTO measurements (unit_id, metric_key, period_start, value, n, sd, batch_id) "
                    f"SELECT unit_id, metric_key, period_start, value, n, sd, {batch_id} FROM {rows_view}")
    else:
        raise ValueError(f"unknown kind of data '{kind}'")
    after = {"kind": kind, "source": source, "rows": row_count}
    if content_hash is not None:
        after["sha256"] = content_hash
    w.audit("import", "batch", batch_id, after=after)
    return batch_id
