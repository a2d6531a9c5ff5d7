"""The one way to open the database: a DuckDB file, one handle per process and path, a fresh
cursor for every use, and the numbered migrations that create and upgrade its schema.

Streamlit serves each browser session on its own thread; one DuckDB connection shared by threads
fails or returns empty results, while cursors of one handle are safe, so every caller goes
through `Database.cursor()` or `Database.transaction()`.
"""

from __future__ import annotations

import os
import re
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import duckdb

DEFAULT_PATH = "data/pilots.duckdb"
MIGRATIONS_DIR = Path(__file__).with_name("migrations")

# There is no network where the app runs: never let DuckDB try to fetch an extension.
_CONFIG = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}

_handles: dict[str, duckdb.DuckDBPyConnection] = {}
_handles_lock = threading.Lock()
# The cursor of the transaction each thread has open, per database path.
_open_transactions = threading.local()


def database_path(explicit: str | os.PathLike | None = None) -> Path:
    """The path given, else $PILOTS_DB, else data/pilots.duckdb."""
    return Path(explicit or os.environ.get("PILOTS_DB") or DEFAULT_PATH).resolve()


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def migrations() -> list[Migration]:
    """The numbered migrations shipped with the package, in order."""
    found = []
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        match = re.fullmatch(r"(\d+)_(\w+)\.sql", path.name)
        if match:
            found.append(Migration(int(match[1]), match[2], path.read_text(encoding="utf-8")))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"two migrations share a number in {MIGRATIONS_DIR}")
    return sorted(found, key=lambda m: m.version)


def migrate(handle: duckdb.DuckDBPyConnection) -> list[int]:
    """Apply every migration not yet recorded; each in its own transaction. Returns those applied."""
    cur = handle.cursor()
    try:
        cur.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version INTEGER PRIMARY KEY, name VARCHAR NOT NULL,"
            " applied_at TIMESTAMP NOT NULL DEFAULT current_timestamp)"
        )
        done = {row[0] for row in cur.execute("SELECT version FROM schema_migrations").fetchall()}
        applied = []
        for migration in migrations():
            if migration.version in done:
                continue
            cur.begin()
            try:
                cur.execute(migration.sql)
                cur.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES (?, ?)",
                    [migration.version, migration.name],
                )
                cur.commit()
            except Exception:
                cur.rollback()
                raise
            applied.append(migration.version)
        return applied
    finally:
        cur.close()


class Database:
    """A DuckDB file, migrated on first open. Cheap to create: handles are shared per process."""

    def __init__(self, path: str | os.PathLike | None = None):
        self.path = database_path(path)
        key = str(self.path)
        with _handles_lock:
            handle = _handles.get(key)
            if handle is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                handle = duckdb.connect(key, config=_CONFIG)
                migrate(handle)
                _handles[key] = handle
        self._handle = handle

    def _open_transaction(self) -> duckdb.DuckDBPyConnection | None:
        return getattr(_open_transactions, str(self.path), None)

    def in_transaction(self) -> bool:
        """Whether this thread is inside a transaction on this database."""
        return self._open_transaction() is not None

    @contextmanager
    def cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A fresh cursor; inside a transaction on this thread, that transaction's cursor, so that a
        read sees what the transaction has written so far."""
        ambient = self._open_transaction()
        if ambient is not None:
            yield ambient
            return
        cur = self._handle.cursor()
        try:
            yield cur
        finally:
            cur.close()

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor inside one transaction: committed when the block ends, rolled back on error.
        A transaction opened inside another on the same thread joins it, so several domain calls
        (loading the demo, say) commit or roll back as one."""
        ambient = self._open_transaction()
        if ambient is not None:
            yield ambient
            return
        key = str(self.path)
        with self.cursor() as cur:
            cur.begin()
            setattr(_open_transactions, key, cur)
            try:
                yield cur
            except BaseException:
                cur.rollback()
                raise
            else:
                cur.commit()
            finally:
                delattr(_open_transactions, key)

    def schema_version(self) -> int:
        with self.cursor() as cur:
            return cur.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()[0]

    def close(self) -> None:
        """Close the shared handle for this file (tests and the command line use this)."""
        with _handles_lock:
            handle = _handles.pop(str(self.path), None)
        if handle is not None:
            handle.close()
