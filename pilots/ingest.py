"""Getting data in, the one code path the command line and the Data page share: a file (CSV or
XLSX) or a table typed in the app is read (pilots.reading), every row checked (pilots.checks) and,
when every check passes, written as one batch, all inside one `db.write`, so a refused file writes
nothing and a clean one is checked against the units, metrics and batches as they stand when it is
written. A file identical to an earlier batch is recognised by its bytes. Also here, as the doors
the app and the command line use: manual entry of measurements, listing, undoing and redoing
batches (their mechanics in pilots.batches), and the coverage of what data exist.

A clean file is parsed once: the checks stage its typed rows in a temporary table the write reads
from. A refused file is read a second time, for its problems (pilots.checks).

Its length: the doors to the import path (file, typed table, template, coverage) in one place,
so every way in is seen to go through the same checks.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import os
import threading
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from . import batches, checks, reading, store, templates
from .access import Actor, require_editor
from .batches import BatchInfo
from .db import Database, Write
from .model import Problem, ValidationError
from .reading import KINDS

if TYPE_CHECKING:
    import pandas as pd

Progress = Callable[[float, str], None]


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
    """A file checked but not written: its first rows (when only checked), every problem (listed up
    to a cap per kind of problem, counted in full) and what `commit` needs to write it: the source
    as it was given (a path, the bytes or the file object of an upload: never a copy of it)."""

    kind: str
    file_name: str
    rows: int
    preview: pd.DataFrame | None
    problems: list[Problem]
    problem_count: int
    replace: bool = False
    source: object = field(default=None, repr=False)
    # The newest earlier batch of this kind whose file had the same bytes (a standing one before an
    # undone one), or None. Not a problem: importing it again is refused unless confirmed.
    identical_to: BatchInfo | None = None
    content_hash: str | None = field(default=None, repr=False)

    @property
    def duplicate(self) -> bool:
        """Whether the file is identical to a batch whose rows are in use: importing it again would
        count them twice, so it needs an explicit confirmation (`allow_duplicate`)."""
        return self.identical_to is not None and not self.identical_to.undone


# ---------------------------------------------------------------- one code path: load, check, write

def _sha256(read: Callable[[int], bytes]) -> str:
    digest = hashlib.sha256()
    for block in iter(lambda: read(1 << 20), b""):
        digest.update(block)
    return digest.hexdigest()


def content_hash(source) -> str | None:
    """sha256 of a file's bytes (a path, the bytes or the file object of an upload); None for a
    table typed in the app."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return hashlib.sha256(source).hexdigest()
    if isinstance(source, (str, os.PathLike)) and os.path.isfile(source):
        with open(source, "rb") as handle:
            return _sha256(handle.read)
    if hasattr(source, "read"):
        source.seek(0)
        return _sha256(source.read)
    return None


class _Digest(threading.Thread):
    """The sha256 of the file being imported, computed beside the checks (DuckDB and hashlib both
    let go of the interpreter while they work), so recognising a file costs no time of its own."""

    def __init__(self, path: str | None):
        super().__init__(daemon=True)
        self.path, self.value = path, None
        if path is not None:
            self.start()

    def run(self) -> None:
        try:
            self.value = content_hash(self.path)
        except OSError:  # the file went away: the batch is kept without its hash
            self.value = None

    def result(self) -> str | None:
        if self.path is not None:
            self.join()
        return self.value


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
    name = reading.file_name(source, file_name)
    staged = f"ingest_{uuid.uuid4().hex[:12]}"
    try:
        # Checking happens inside the write too: the rows are checked against the units, metrics
        # and batches as they stand when they are written, and a refused file rolls everything back.
        with db.write(actor, "import data") as w:
            report(0.0, f"reading and checking {name}")
            try:
                validation = _examine(db, actor, w.cursor, source, name, kind, replace, staged, preview=not write)
            except ValidationError as refused:
                raise _NotWritten(Validation(kind, name, 0, None, refused.problems, len(refused.problems), replace,
                                             source)) from None
            if write and not validation.problems and validation.duplicate and not (allow_duplicate or replace):
                validation.problems = [duplicate_problem(validation.identical_to, name)]
                validation.problem_count = 1
            if validation.problems or not write:
                report(1.0, f"checked {validation.rows:,} rows")
                raise _NotWritten(validation)
            report(0.6, f"writing {validation.rows:,} rows")
            result = _write(w, kind, name, staged, replace, only_changed, validation.content_hash)
            result = dataclasses.replace(result, identical_to=validation.identical_to)
    except _NotWritten as checked_only:
        return checked_only.validation, None
    report(1.0, f"imported {result.rows:,} rows")
    return validation, result


def _examine(db: Database, actor: Actor, cur, source, name: str, kind: str, replace: bool, staged: str,
             preview: bool) -> Validation:
    """Read and check the source inside the open write, its clean rows left in the table `staged`.
    Raises ValidationError for a file refused as a whole."""
    with reading.opened(cur, source, name, kind, staged) as text:
        digest = _Digest(text.path)
        try:
            first_rows = reading.preview(cur, text) if preview else None
            rows, count, problems = checks.check(cur, text, store.list_metrics(db), store.list_units(db, actor),
                                                 replace, staged)
        finally:
            hashed = digest.result()
    identical = batches.identical_batch(cur, kind, hashed)
    return Validation(kind, name, rows, first_rows, problems, count, replace, source, identical, hashed)


class _NotWritten(Exception):
    """Ends an import's write without writing (a refused file, or a check only), with what was found."""

    def __init__(self, validation: Validation):
        super().__init__("not written")
        self.validation = validation


def _write(w: Write, kind: str, name: str, staged: str, replace: bool,
           only_changed: bool, digest: str | None) -> ImportResult:
    cur = w.cursor
    if kind == "observations":
        select = f"SELECT unit_id, metric_key, day AS obs_date, num AS value FROM {staged} WHERE NOT blank"
    else:
        select = (f"SELECT s.unit_id, s.metric_key, s.day AS period_start, s.num AS value, "
                  f"CAST(s.n_num AS BIGINT) AS n, s.sd_num AS sd FROM {staged} s WHERE NOT s.blank")
        if only_changed:
            # A table typed in the app holds the stored rows too; only new or changed ones are written.
            select += (" AND NOT EXISTS (SELECT 1 FROM measurements m WHERE m.unit_id = s.unit_id "
                       "AND m.metric_key = s.metric_key AND m.period_start = s.day AND m.value = s.num "
                       "AND m.n IS NOT DISTINCT FROM CAST(s.n_num AS BIGINT) AND m.sd IS NOT DISTINCT FROM s.sd_num)")
    view = f"{staged}_rows"
    cur.execute(f"CREATE TEMP VIEW {view} AS {select}")
    date = "obs_date" if kind == "observations" else "period_start"
    rows, first, last, metrics, units = cur.execute(
        f"SELECT count(*), min({date}), max({date}), "
        f"(SELECT list(metric_key ORDER BY metric_key) FROM (SELECT DISTINCT metric_key FROM {view})), "
        f"(SELECT list(name ORDER BY name) FROM business_units WHERE unit_id IN (SELECT unit_id FROM {view})) "
        f"FROM {view}").fetchone()
    replaced = 0
    if kind == "measurements" and replace:
        replaced = cur.execute(f"SELECT count(*) FROM measurements m JOIN {view} r "
                               f"USING (unit_id, metric_key, period_start)").fetchone()[0]
    if not rows:
        # Nothing new (a typed table whose rows are all stored already): the write says so.
        w.audit("import", "batch", None, after={"kind": kind, "source": name, "rows": 0})
    batch_id = batches.insert_batch(w, kind, name, view, replace, content_hash=digest) if rows else None
    return ImportResult(batch_id, kind, rows, tuple(units or ()), tuple(metrics or ()), first, last, name, replaced)


def validate_file(db: Database, actor: Actor, source, kind: str, file_name: str | None = None,
                  replace: bool = False, progress: Progress | None = None) -> Validation:
    """Check a file (a path, the bytes or the file object of an upload) without writing anything."""
    return _run(db, actor, source, kind, file_name, replace, progress, write=False)[0]


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
    (and writes nothing) if anything is wrong. `path` may also be the bytes or the file object of an
    upload.

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

def list_batches(db: Database, actor: Actor) -> pd.DataFrame:
    """Every import, newest first: its status (Active; Undone; Redone: undone, then brought back),
    who, when, file, kind, rows, units, metrics, date range, when it was undone or redone and by
    whom, and whether it can be redone (its rows were kept when it was undone). The CCO office's
    view: it names every unit's data."""
    require_editor(actor, "list the imports")
    with db.cursor() as cur:
        return cur.execute(batches.LISTING).df()


def undo_batch(db: Database, actor: Actor, batch_id: int) -> int:
    """Take every row of one import out of use, mark the batch undone and record it in the audit
    log, all or nothing. The rows are kept unchanged (see `redo_batch`); measurements the batch had
    replaced are put back. Returns the number of rows taken out. A backup is taken first, so even
    an undo made by mistake can be walked back whole."""
    if actor.is_editor:  # anyone else is refused (and logged) by the write door below
        from .backup import make_backup

        make_backup(db, actor, reason=f"before undo of batch {batch_id}")
    with db.write(actor, "undo an import") as w:
        return batches.undo(w, batch_id)


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
        return batches.redo(w, batch_id)


def get_batch(db: Database, actor: Actor, batch_id: int) -> BatchInfo:
    """One import as a person recognises it (for a confirmation that names it)."""
    require_editor(actor, "look at an import")
    with db.cursor() as cur:
        return batches.batch_info(cur, batch_id)


# ---------------------------------------------------------------- templates

def template_frame(db: Database, kind: str) -> pd.DataFrame:
    """An example file of this kind using the current units and metrics: every unit and every
    metric appear at least once, with a value in the metric's valid range."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind of data '{kind}'")
    with db.cursor() as cur:
        units = [r[0] for r in cur.execute("SELECT name FROM business_units ORDER BY lower(name)").fetchall()]
    return templates.example_frame(units, store.list_metrics(db), kind)


def template(db: Database, kind: str, fmt: str = "csv") -> bytes:
    """The example file as CSV (UTF-8, comma) or XLSX (real Excel dates) bytes."""
    return templates.as_file(template_frame(db, kind), kind, fmt)


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
        import pandas as pd

        return pd.DataFrame(columns=["unit", "metric", "first_date", "last_date", "months", "volume"])
    return (frame.groupby(["unit", "metric"], as_index=False)
            .agg(first_date=("first_date", "min"), last_date=("last_date", "max"),
                 months=("month", "nunique"), volume=("volume", "sum")))


def pilot_windows(db: Database, actor: Actor, metric_key: str) -> pd.DataFrame:
    """Baseline and pilot windows of the pilots that use this metric, per unit (the pilot's own and
    its controls): what the coverage must reach back to."""
    import pandas as pd

    rows = []
    for pilot in store.list_pilots(db, actor):
        if metric_key not in dict(pilot.metric_roles()):
            continue
        for unit, role in [(u, "pilot unit") for u in pilot.unit_names] + [(c, "control") for c in pilot.control_unit_names]:
            rows.append({"unit": unit, "pilot_id": pilot.pilot_id, "pilot": pilot.name, "role": role,
                         "baseline_start": pilot.baseline_start, "pilot_end": pilot.pilot_end})
    return pd.DataFrame(rows, columns=["unit", "pilot_id", "pilot", "role", "baseline_start", "pilot_end"])
