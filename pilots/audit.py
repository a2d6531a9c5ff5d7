"""Reading the trail: the audit log (who changed what, when, the values before and after) and each
pilot's decision log with its frozen evidence. Read-only by design: the only write to the audit log
anywhere is the INSERT in `store.record_audit`, and tests/test_audit.py fails if any code updates
or deletes its rows or those of the decision log."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import pandas as pd

from .access import Actor, require_editor
from .db import Database
from .store import get_pilot

AUDIT_COLUMNS = ["audit_id", "logged_at", "actor", "action", "entity", "entity_id", "before", "after"]


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
