"""Reading the trail: the audit log (who changed what, when, the values before and after, and the
same in words: "status: running → evaluating; target effect: 3 → 5"), the check that its hash
chain is whole, and each pilot's decision log with its frozen evidence. Read-only by design: the
only write to the audit log anywhere is the INSERT of the write path (`pilots.db`), and
tests/test_audit.py fails if any code updates or deletes its rows or those of the decision log."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from dataclasses import dataclass
from typing import Any

import pandas as pd

from .access import Actor, require_editor
from .db import AUDIT_FIELDS, Database, audit_digest
from .store import get_pilot

AUDIT_COLUMNS = ["audit_id", "logged_at", "actor", "action", "entity", "entity_id", "before", "after"]


@dataclass(frozen=True)
class ChainCheck:
    """What `verify_chain` found: how many entries it checked, the first entry (by id) whose hash
    does not follow from the ones before it (an entry changed, removed before it, or inserted around
    the write path), and the hash of the last entry: keep it elsewhere (the backups do), and a log
    cut short after that point shows too."""

    entries: int
    broken_at: int | None
    reason: str | None
    head: str

    @property
    def intact(self) -> bool:
        return self.broken_at is None

    def __str__(self) -> str:
        if self.intact:
            return f"the audit log is intact: {self.entries:,} entries, each sealed onto the one before (head {self.head[:16]})"
        return f"the audit log has been altered at entry {self.broken_at}: {self.reason}"


def verify_chain(db: Database, actor: Actor) -> ChainCheck:
    """Recompute every entry's hash from the one before it. Editors only."""
    require_editor(actor, "verify the audit log")
    previous, checked = "", 0
    with db.cursor() as cur:
        rows = cur.execute(f"SELECT {', '.join(AUDIT_FIELDS[:7])}, CAST(before AS VARCHAR), CAST(after AS VARCHAR), "
                           f"entry_hash FROM audit_log ORDER BY audit_id")
        while batch := rows.fetchmany(10_000):
            for *entry, stored in batch:
                if stored is None:
                    return ChainCheck(checked, entry[0], "the entry has no seal (written around the write path)",
                                      previous)
                if audit_digest(previous, tuple(entry)) != stored:
                    return ChainCheck(checked, entry[0], "its content or the entry before it is not what was "
                                      "sealed (changed, deleted or inserted afterwards)", previous)
                previous, checked = stored, checked + 1
    return ChainCheck(checked, None, None, previous)


@dataclass(frozen=True)
class AuditFilter:
    """What to look for; every field left empty matches everything."""

    actors: tuple[str, ...] = ()
    entities: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()
    entity_id: str | None = None
    since: dt.date | None = None
    until: dt.date | None = None
    text: str | None = None


def _where(found: AuditFilter) -> tuple[str, list]:
    conditions, params = ["TRUE"], []
    for column, values in (("actor", found.actors), ("entity", found.entities), ("action", found.actions)):
        if values:
            conditions.append(f"{column} IN ({', '.join('?' * len(values))})")
            params += list(values)
    if found.entity_id:
        conditions.append("entity_id = ?")
        params.append(str(found.entity_id).strip())
    if found.since:
        conditions.append("logged_at >= ?")
        params.append(found.since)
    if found.until:
        conditions.append("logged_at < ? + INTERVAL 1 DAY")
        params.append(found.until)
    if found.text and found.text.strip():
        conditions.append("(contains(lower(coalesce(CAST(before AS VARCHAR), '')), ?) "
                          "OR contains(lower(coalesce(CAST(after AS VARCHAR), '')), ?))")
        params += [found.text.strip().lower()] * 2
    return " AND ".join(conditions), params


def list_audit(db: Database, actor: Actor, found: AuditFilter = AuditFilter(), limit: int = 1000) -> pd.DataFrame:
    """Audit entries matching the filter, newest first, at most `limit` of them. Editors only."""
    require_editor(actor, "read the audit log")
    where, params = _where(found)
    with db.cursor() as cur:
        return cur.execute(f"SELECT {', '.join(AUDIT_COLUMNS)} FROM audit_log WHERE {where} "
                           f"ORDER BY audit_id DESC LIMIT {int(limit)}", params).df()


def count_audit(db: Database, actor: Actor, found: AuditFilter = AuditFilter()) -> int:
    """How many entries match the filter (the list shows only the newest)."""
    require_editor(actor, "read the audit log")
    where, params = _where(found)
    with db.cursor() as cur:
        return cur.execute(f"SELECT count(*) FROM audit_log WHERE {where}", params).fetchone()[0]


def audit_choices(db: Database, actor: Actor) -> dict[str, list[str]]:
    """The actors, entities and actions that occur in the log, for filter menus."""
    require_editor(actor, "read the audit log")
    with db.cursor() as cur:
        return {column: [row[0] for row in cur.execute(
            f"SELECT DISTINCT {column} FROM audit_log ORDER BY {column}").fetchall()]
            for column in ("actor", "entity", "action")}


# ---------------------------------------------------------------- before and after in words

# Bookkeeping a reader of the change list does not need (a record's version, a file's sha256); the
# full JSON keeps it.
QUIET_KEYS = frozenset({"version", "sha256"})
# A value longer than this is cut in the change list (the full JSON has all of it).
MAX_VALUE_CHARS = 60
RECORDS_LISTED = 3
_TIMESTAMP = re.compile(r"(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d)(:\d\d(\.\d+)?)?")


def _label(key: str) -> str:
    return key.replace("_", " ")


def _flat(value: dict, prefix: str = "") -> dict[str, Any]:
    """Nested objects as dotted keys: {"a": {"b": 1}} -> {"a.b": 1}."""
    flat = {}
    for key, item in value.items():
        name = f"{prefix}{key}"
        if isinstance(item, dict) and item:
            flat.update(_flat(item, name + "."))
        else:
            flat[name] = item
    return flat


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def value_text(value: Any, max_chars: int | None = MAX_VALUE_CHARS) -> str:
    """One value as a reader wants it: '—' for nothing, yes/no, 5 not 5.0, lists joined with
    commas, dates without a midnight time, timestamps to the minute, long text cut with '…'."""
    if _is_empty(value):
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        if all(isinstance(item, dict) for item in value):
            return f"{len(value)} record{'s' if len(value) != 1 else ''}"
        return ", ".join(value_text(item, max_chars) for item in value)
    if isinstance(value, dict):
        return "; ".join(f"{_label(k)} {value_text(v, max_chars)}" for k, v in _flat(value).items())
    text = " ".join(str(value).split())
    stamp = _TIMESTAMP.fullmatch(text)
    if stamp:
        text = stamp[1] if stamp[2] == "00:00" and not (stamp[3] or "").strip(":0.") else f"{stamp[1]} {stamp[2]}"
    return text if max_chars is None or len(text) <= max_chars else text[:max_chars - 1] + "…"


def _records_text(records: list, verb: str) -> str:
    """A list of stored rows (the measurements a batch replaced) in a few words."""
    shown = []
    for record in records[:RECORDS_LISTED]:
        if isinstance(record, dict):
            what = " ".join(value_text(record[k]) for k in ("metric_key", "period_start") if k in record)
            shown.append(f"{what}: {value_text(record.get('value'))}" if "value" in record else what)
    more = f" and {len(records) - RECORDS_LISTED:,} more" if len(records) > RECORDS_LISTED else ""
    rows = f"{len(records):,} stored row{'s' if len(records) != 1 else ''}"
    return f"{rows} {verb}" + (f" ({'; '.join(shown)}{more})" if shown else "")


def change_list(before: Any, after: Any, max_chars: int | None = MAX_VALUE_CHARS) -> list[str]:
    """Before and after of one audit entry as a list of changes a person reads:
    ["status: running → evaluating", "target effect: 3 → 5"]. Only what differs is listed when both
    sides name the same fields; a record added or removed lists its fields; bookkeeping (version)
    is left out; a list of stored rows (what an import replaced) is counted and its first named.
    Values longer than `max_chars` are cut (None: never)."""
    lines = []
    if isinstance(before, list):
        lines.append(_records_text(before, "replaced"))
        before = None
    if isinstance(after, list):
        lines.append(_records_text(after, "written"))
        after = None
    old = _flat(before) if isinstance(before, dict) else ({} if before is None else {"value": before})
    new = _flat(after) if isinstance(after, dict) else ({} if after is None else {"value": after})
    shared = bool(old.keys() & new.keys())
    # Fields on both sides: in the order of the new values. A record described before and an act
    # described after (an undo: the batch, then who undid it): the record first.
    order = list(new) + [k for k in old if k not in new] if shared else list(old) + list(new)

    def show(value: Any) -> str:
        return value_text(value, max_chars)

    for key in order:
        if key.rsplit(".", 1)[-1] in QUIET_KEYS:
            continue
        if key in old and key in new:
            if old[key] != new[key]:
                lines.append(f"{_label(key)}: {show(old[key])} → {show(new[key])}")
        elif key in new:
            if not _is_empty(new[key]):
                lines.append(f"{_label(key)}: {show(new[key])}")
        elif shared:
            lines.append(f"{_label(key)}: {show(old[key])} → —")
        elif not _is_empty(old[key]):
            lines.append(f"{_label(key)}: {show(old[key])}")
    if shared and not lines:
        lines.append("no value changed")
    return lines


def describe_changes(before: Any, after: Any) -> str:
    """`change_list` on one line, changes separated by '; '."""
    return "; ".join(change_list(before, after))


def parsed(value: Any) -> Any:
    """A before or after value as stored (JSON text) or read back (None for SQL NULL) as Python data."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return json.loads(value) if isinstance(value, str) else value


def readable_audit(entries: pd.DataFrame) -> pd.DataFrame:
    """Entries of `list_audit` as a reader's table: #, when, who, what was done to what
    ("update pilot 3"), and the changes in words. The raw before and after stay in `entries`."""
    rows = []
    for entry in entries.itertuples(index=False):
        what = " ".join(str(part) for part in (entry.action, entry.entity, entry.entity_id)
                        if part is not None and not pd.isna(part))
        rows.append({"audit_id": entry.audit_id, "logged_at": entry.logged_at, "actor": entry.actor,
                     "what": what, "changes": describe_changes(parsed(entry.before), parsed(entry.after))})
    return pd.DataFrame(rows, columns=["audit_id", "logged_at", "actor", "what", "changes"])


def entry_json(entry: Any) -> str:
    """One audit entry's before and after as indented JSON, for the detail view."""
    return json.dumps({"before": parsed(entry["before"]), "after": parsed(entry["after"])}, indent=2,
                      ensure_ascii=False, sort_keys=True)


@dataclass(frozen=True)
class DecisionRecord:
    decision_id: int
    pilot_id: int
    decision: str
    rationale: str
    approved_by: str
    decided_on: dt.date
    recorded_by: str
    recorded_at: dt.datetime
    evidence: Any


def decisions(db: Database, actor: Actor, pilot_id: int) -> list[DecisionRecord]:
    """Every decision taken on a pilot the actor may see, newest first, with the evidence frozen
    when it was recorded."""
    get_pilot(db, actor, pilot_id)
    with db.cursor() as cur:
        rows = cur.execute(
            "SELECT decision_id, pilot_id, decision, rationale, approved_by, decided_on, recorded_by, recorded_at, "
            "CAST(evidence AS VARCHAR) FROM decision_log WHERE pilot_id = ? ORDER BY decision_id DESC",
            [pilot_id]).fetchall()
    return [DecisionRecord(*row[:-1], evidence=None if row[-1] is None else json.loads(row[-1])) for row in rows]
