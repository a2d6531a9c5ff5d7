"""The package as installed by the README's set-up (`pip install -r requirements.txt`): the `pilots`
command, and every pinned requirement at its pinned version."""

import importlib.metadata
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from pilots import store
from pilots.access import COMMAND_LINE
from pilots.db import Database

REPO = Path(__file__).resolve().parents[1]


def test_the_installed_pilots_command_runs_the_command_line(tmp_path):
    command = shutil.which("pilots")
    assert command, "no `pilots` command: run `pip install -r requirements.txt`"
    path = tmp_path / "installed.duckdb"
    result = subprocess.run([command, "--db", str(path), "units", "add", "Claims"], capture_output=True, text=True,
                            cwd=tmp_path, check=False)
    assert result.returncode == 0, result.stderr
    db = Database(path)
    try:
        assert [u.name for u in store.list_units(db, COMMAND_LINE)] == ["Claims"]
    finally:
        db.close()
    usage = subprocess.run([command, "units"], capture_output=True, text=True, check=False)
    assert usage.returncode == 2 and usage.stderr.startswith("usage: pilots units")


def pins(name: str) -> list[tuple[str, str]]:
    lines = (REPO / name).read_text(encoding="utf-8").splitlines()
    return [(m[1], m[2]) for line in lines if (m := re.fullmatch(r"([A-Za-z0-9_.-]+)==(\S+)", line.strip()))]


@pytest.mark.parametrize("requirements", ["requirements-run.txt", "requirements-test.txt"])
def test_every_pinned_requirement_is_installed_at_its_pinned_version(requirements):
    pinned = pins(requirements)
    assert len(pinned) >= 4
    installed = {name: importlib.metadata.version(name) for name, _ in pinned}
    assert installed == dict(pinned), f"run `pip install -r requirements.txt` ({requirements} differs)"
