"""Backups and restore: a consistent copy of the database file taken while the app serves, kept in a
folder beside it (`<file>.backups/` unless told otherwise) with a manifest of what it holds, the
oldest ones pruned to a configurable number; and the restore that checks a copy (it opens, its
schema is one this code can read, its row counts match its manifest) before it replaces the file.

A copy is consistent because DuckDB writes it (`COPY FROM DATABASE` into a new file) from one
transaction's snapshot: writes go on meanwhile and are simply not in it. The database file itself is
never opened by anything but DuckDB: on POSIX, a process that opens and closes a file loses its lock
on it, and another process could then open the database beside the app. The app takes a backup
before every migration and before every undo of an import; `pilots backup` takes one on demand or
from a scheduler."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import duckdb

from .access import Actor, require_editor
from .db import Database, database_path, migrations

KEEP_VARIABLE = "PILOTS_BACKUPS_KEEP"
DEFAULT_KEEP = 10
# Tables whose rows a manifest counts: what a restore checks was copied whole.
COUNTED_TABLES = ("business_units", "metrics", "pilots", "observations", "measurements", "import_batches",
                  "decision_log", "audit_log", "users", "comments")


class RestoreRefused(ValueError):
    """The backup cannot be restored (damaged, from a newer version, incomplete), or restoring
    would overwrite a database without --force; nothing was changed."""


@dataclass(frozen=True)
class Backup:
    path: Path
    taken_at: dt.datetime
    reason: str
    schema_version: int
    rows: dict[str, int]
    bytes: int
    seconds: float = 0.0

    @property
    def name(self) -> str:
        return self.path.name

    def __str__(self) -> str:
        return f"{self.path} ({self.bytes / 1e6:,.1f} MB, {self.reason}, taken {self.taken_at:%Y-%m-%d %H:%M:%S})"


def backup_folder(db_path: str | os.PathLike, explicit: str | os.PathLike | None = None) -> Path:
    """Where backups of the database at `db_path` go: `explicit`, else `<file>.backups` beside it."""
    path = Path(db_path)
    return Path(explicit).resolve() if explicit else path.with_name(path.name + ".backups")


def keep_count(explicit: int | None = None) -> int:
    """How many backups to keep: `explicit`, else $PILOTS_BACKUPS_KEEP, else 10 (at least 1)."""
    value = explicit if explicit is not None else int(os.environ.get(KEEP_VARIABLE) or DEFAULT_KEEP)
    return max(1, value)


def _manifest_path(copy: Path) -> Path:
    return copy.with_name(copy.name + ".json")


def _counts(cur: duckdb.DuckDBPyConnection) -> dict[str, int]:
    present = {r[0] for r in cur.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    return {t: cur.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in COUNTED_TABLES if t in present}


def copy_database(handle: duckdb.DuckDBPyConnection, source: Path, folder: Path, reason: str) -> Backup:
    """Copy the open database at `source` into `folder`, with its manifest, from one snapshot."""
    started = time.perf_counter()
    folder.mkdir(parents=True, exist_ok=True)
    taken_at = dt.datetime.now().replace(microsecond=0)
    slug = "".join(ch if ch.isalnum() else "-" for ch in reason.lower()).strip("-")[:40] or "backup"
    target = folder / f"{source.stem}-{taken_at:%Y%m%d-%H%M%S}-{slug}.duckdb"
    serial = 1
    while target.exists():
        serial += 1
        target = folder / f"{source.stem}-{taken_at:%Y%m%d-%H%M%S}-{slug}-{serial}.duckdb"
    partial = target.with_name(target.name + ".partial")
    alias = f"backup_{uuid.uuid4().hex[:12]}"
    cur = handle.cursor()
    try:
        cur.begin()  # one snapshot for the counts and the copy
        version = cur.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()[0]
        rows = _counts(cur)
        source_name = cur.execute("SELECT current_database()").fetchone()[0]
        cur.execute(f"ATTACH {_sql_literal(partial)} AS {alias}")
        try:
            cur.execute(f"COPY FROM DATABASE {_sql_identifier(source_name)} TO {alias}")
        finally:
            cur.commit()
            cur.execute(f"DETACH {alias}")
    finally:
        cur.close()
    os.replace(partial, target)  # a copy cut short by a crash never looks like a backup
    backup = Backup(target, taken_at, reason, version, rows, target.stat().st_size,
                    round(time.perf_counter() - started, 3))
    _manifest_path(target).write_text(json.dumps({
        "taken_at": taken_at.isoformat(), "reason": reason, "schema_version": version, "rows": rows,
        "bytes": backup.bytes, "source": str(source)}, indent=2), encoding="utf-8")
    return backup


def _sql_literal(value: object) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _sql_identifier(value: object) -> str:
    return '"' + str(value).replace('"', '""') + '"'


def make_backup(db: Database, actor: Actor, to: str | os.PathLike | None = None, keep: int | None = None,
                reason: str = "on demand") -> Backup:
    """Take a consistent copy of the database now, while it serves (from one snapshot: writes go on
    meanwhile and are not in it), prune the oldest beyond `keep`, and log it. CCO office only."""
    require_editor(actor, "make a backup")
    folder = backup_folder(db.path, to)
    backup = copy_database(db.handle, db.path, folder, reason)
    pruned = prune(folder, keep_count(keep))
    with db.write(actor, "make a backup") as w:
        w.audit("backup", "database", backup.name, after={"path": str(backup.path), "reason": reason,
                                                           "rows": backup.rows, "pruned": [p.name for p in pruned]})
    return backup


def list_backups(db_path: str | os.PathLike, to: str | os.PathLike | None = None) -> list[Backup]:
    """The backups of the database at `db_path` (in `to`, else beside it), newest first."""
    return _backups_in(backup_folder(db_path, to))


def _backups_in(folder: Path) -> list[Backup]:
    """The backups in a folder, newest first (those without a readable manifest are left out)."""
    found = []
    for manifest in folder.glob("*.duckdb.json") if folder.is_dir() else ():
        copy = manifest.with_name(manifest.name.removesuffix(".json"))
        try:
            meta = json.loads(manifest.read_text(encoding="utf-8"))
            found.append(Backup(copy, dt.datetime.fromisoformat(meta["taken_at"]), meta["reason"],
                                int(meta["schema_version"]), dict(meta["rows"]), int(meta["bytes"])))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return sorted((b for b in found if b.path.exists()), key=lambda b: (b.taken_at, b.name), reverse=True)


def latest_backup(db_path: str | os.PathLike) -> Backup | None:
    found = list_backups(db_path)
    return found[0] if found else None


def prune(folder: Path, keep: int) -> list[Path]:
    """Delete the oldest backups beyond `keep`; returns those deleted."""
    backups = _backups_in(folder)
    gone = []
    for old in backups[keep:]:
        old.path.unlink(missing_ok=True)
        _manifest_path(old.path).unlink(missing_ok=True)
        gone.append(old.path)
    return gone


def check_backup(path: str | os.PathLike) -> Backup:
    """Open a backup read-only and check it: a DuckDB file, a schema version this code knows, and,
    when its manifest is there, the row counts it recorded. RestoreRefused says what is wrong."""
    copy = Path(path).resolve()
    if not copy.is_file():
        raise RestoreRefused(f"there is no backup file at {copy}")
    try:
        handle = duckdb.connect(str(copy), read_only=True)
    except duckdb.Error as error:
        raise RestoreRefused(f"{copy.name} cannot be opened as a database ({str(error).splitlines()[0]}): "
                             f"choose another backup") from None
    try:
        try:
            version = handle.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()[0]
            rows = _counts(handle)
        except duckdb.Error as error:
            raise RestoreRefused(f"{copy.name} is not a CX Pilot Tracker database ({str(error).splitlines()[0]})"
                                 ) from None
    finally:
        handle.close()
    newest = migrations()[-1].version
    if version > newest:
        raise RestoreRefused(f"{copy.name} has schema version {version}, newer than this version of the tracker "
                             f"knows ({newest}): upgrade the tracker first")
    manifest = _manifest_path(copy)
    if manifest.exists():
        expected = json.loads(manifest.read_text(encoding="utf-8"))
        differing = {t: (n, rows.get(t)) for t, n in expected.get("rows", {}).items() if rows.get(t) != n}
        if differing:
            listed = ", ".join(f"{t}: {got} rows where {want} were copied" for t, (want, got) in differing.items())
            raise RestoreRefused(f"{copy.name} does not hold what was copied ({listed}): choose another backup")
        taken_at, reason = dt.datetime.fromisoformat(expected["taken_at"]), expected.get("reason", "")
    else:
        taken_at, reason = dt.datetime.fromtimestamp(copy.stat().st_mtime), "no manifest"
    return Backup(copy, taken_at, reason, version, rows, copy.stat().st_size)


def restore_backup(path: str | os.PathLike, db_path: str | os.PathLike | None = None, force: bool = False) -> Backup:
    """Put a checked backup in place of the database file. Refused (nothing changed) if the backup
    fails its check, if a database is there and `force` is not given, or if another process has the
    database open (stop the app first). The file replaced is kept beside the backups."""
    target = database_path(db_path)
    backup = check_backup(path)
    if target.exists() and not force:
        raise RestoreRefused(f"{target} exists: restoring would overwrite it. Add --force to replace it "
                             f"(it is kept as a backup first)")
    if target.exists():
        try:
            handle = duckdb.connect(str(target))
        except duckdb.IOException as error:
            if "lock" in str(error).lower():
                raise RestoreRefused(f"{target} is in use by another process (the app?): stop it, then restore"
                                     ) from None
            handle = None  # a damaged file: nothing to copy consistently, keep its bytes as they are
        folder = backup_folder(target)
        if handle is not None:
            try:
                copy_database(handle, target, folder, "before restore")
            finally:
                handle.close()
        else:
            folder.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(target, folder / f"{target.stem}-damaged-{dt.datetime.now():%Y%m%d-%H%M%S}.duckdb")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".restoring")
    shutil.copyfile(backup.path, partial)
    target.with_name(target.name + ".wal").unlink(missing_ok=True)
    os.replace(partial, target)
    return backup
