"""Backup and restore at a given database: how long `pilots backup` takes to copy it (while the
app could be serving), how long `pilots restore` takes to check a copy and put it in place, and their
sizes. Works on a copy in a scratch folder, so the measured database is left as it was."""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pilots import backup  # noqa: E402
from pilots.access import COMMAND_LINE  # noqa: E402
from pilots.db import Database  # noqa: E402


def measure(database: Path, scratch: Path) -> dict[str, float]:
    """Seconds to back up and to restore a copy of `database`, and the file's size in MB."""
    if scratch.exists():
        shutil.rmtree(scratch)
    scratch.mkdir(parents=True)
    working = scratch / "pilots.duckdb"
    shutil.copyfile(database, working)
    db = Database(working)
    try:
        started = time.perf_counter()
        made = backup.make_backup(db, COMMAND_LINE, reason="benchmark")
        backup_seconds = time.perf_counter() - started
    finally:
        db.close()
    started = time.perf_counter()
    backup.restore_backup(made.path, working, force=True)
    restore_seconds = time.perf_counter() - started
    shutil.rmtree(scratch)
    return {"backup_s": backup_seconds, "restore_s": restore_seconds, "size_mb": made.bytes / 1e6}


if __name__ == "__main__":
    found = measure(Path(sys.argv[1]), Path(sys.argv[2]) if len(sys.argv) > 2 else Path("bench/out/backup_scratch"))
    print(f"backup {found['backup_s']:.2f} s, restore {found['restore_s']:.2f} s, {found['size_mb']:.1f} MB")
