"""A pilot's lifecycle after registration: the moves before its decision (proposed, baseline,
running, evaluating), the decision itself with the evidence frozen at that moment, and the rollout
that follows it. Every move checks the version the editor started from and goes through the write
door; the decision takes its evidence snapshot inside the same write, so no caller can hand in
another."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from . import analysis
from .access import Actor
from .db import Database, json_text
from .model import STATUSES, Problem, ValidationError
from .store import get_pilot, list_units, pilot_at_version, unit_lookup, unknown_unit_problem
from .text import MAX_TEXT, checked_text


def set_status(db: Database, actor: Actor, pilot_id: int, status: str, expected_version: int | None = None) -> None:
    """Move a pilot to a lifecycle state before its decision (decisions go through record_decision)."""
    with db.write(actor, "change a pilot's status") as w:
        if status not in STATUSES[:4]:
            raise ValidationError([Problem(f"must be one of {', '.join(STATUSES[:4])}; a decision is recorded "
                                           f"with its rationale", column="status", value=status)])
        cur = w.cursor
        before, _, version = pilot_at_version(cur, pilot_id, expected_version)
        cur.execute("UPDATE pilots SET status = ?, version = version + 1, updated_at = current_timestamp "
                    "WHERE pilot_id = ?", [status, pilot_id])
        w.audit("status", "pilot", pilot_id, before={"status": before, "version": version},
                after={"status": status, "version": version + 1})


def record_decision(db: Database, actor: Actor, pilot_id: int, decision: str, rationale: str, approved_by: str,
                    decided_on: dt.date, expected_version: int | None = None) -> int:
    """Decide a pilot: roll out, extend or stop, with its rationale, approving body and date. The
    evidence the decision was taken on (the pilot's whole case, as `pilots analyze --json` prints
    it) is frozen with it, taken inside the same write, so it is what the data said at that moment
    whoever calls. Returns the decision's id."""
    problems: list[Problem] = []
    if decision not in ("roll_out", "extend", "stop"):
        problems.append(Problem("must be roll_out, extend or stop", column="decision", value=decision))
    checked_text(problems, rationale, "rationale", "rationale", limit=MAX_TEXT, multiline=True, required=True)
    checked_text(problems, approved_by, "approved_by", "approving body", required=True)
    with db.write(actor, "record a decision") as w:
        if problems:
            raise ValidationError(problems)
        cur = w.cursor
        status, before_decision, version = pilot_at_version(cur, pilot_id, expected_version)
        evidence = analysis.case_as_dict(analysis.analyze_pilot(db, actor, pilot_id))
        decision_id = cur.execute(
            "INSERT INTO decision_log (pilot_id, decision, rationale, approved_by, decided_on, recorded_by, evidence) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING decision_id",
            [pilot_id, decision, rationale.strip(), approved_by.strip(), decided_on, actor.email,
             json_text(evidence)]).fetchone()[0]
        cur.execute("UPDATE pilots SET status = 'decided', decision = ?, decision_rationale = ?, "
                    "version = version + 1, updated_at = current_timestamp WHERE pilot_id = ?",
                    [decision, rationale.strip(), pilot_id])
        w.audit("decide", "pilot", pilot_id,
                before={"status": status, "decision": before_decision, "version": version},
                after={"status": "decided", "decision": decision, "rationale": rationale.strip(),
                       "approved_by": approved_by, "decided_on": decided_on, "version": version + 1})
    return decision_id


def record_rollout(db: Database, actor: Actor, pilot_id: int, unit_names: Iterable[str], adopted_on: dt.date,
                   expected_version: int | None = None) -> None:
    """Record a rollout wave of a pilot decided for roll-out: the units that adopt the change and
    the date they go live. Each wave is one such call; a unit adopts once, and never one of the
    pilot's own units."""
    with db.write(actor, "record a rollout") as w:
        units = unit_lookup(list_units(db, actor))
        names = list(unit_names)
        problems = [unknown_unit_problem(n, units.values(), column="units") for n in names
                    if n.strip().casefold() not in units]
        if not names:
            problems.append(Problem("name at least one unit that adopts the change", column="units"))
        if len({n.strip().casefold() for n in names}) != len(names):
            problems.append(Problem("a unit is named twice", column="units"))
        pilot = get_pilot(db, actor, pilot_id)
        adopted = {unit_id: day for _, unit_id, day in w.cursor.execute(
            "SELECT pilot_id, unit_id, adopted_on FROM pilot_rollouts WHERE pilot_id = ?", [pilot_id]).fetchall()}
        for name in names:
            unit = units.get(name.strip().casefold())
            if unit is not None and unit.unit_id in pilot.unit_ids:
                problems.append(Problem("is one of the pilot's own units", column="units", value=name))
            elif unit is not None and unit.unit_id in adopted:
                problems.append(Problem(f"adopted the change on {adopted[unit.unit_id]:%Y-%m-%d} already",
                                        column="units", value=name))
        if adopted_on <= pilot.pilot_start:
            problems.append(Problem(f"a wave goes live after the pilot started ({pilot.pilot_start:%Y-%m-%d})",
                                    column="start", value=f"{adopted_on:%Y-%m-%d}"))
        if problems:
            raise ValidationError(problems)
        cur = w.cursor
        status, decision, version = pilot_at_version(cur, pilot_id, expected_version)
        if decision != "roll_out":
            raise ValidationError([Problem("only a pilot decided for roll-out can be rolled out", column="status",
                                           value=status)])
        for name in names:
            cur.execute("INSERT INTO pilot_rollouts VALUES (?, ?, ?)",
                        [pilot_id, units[name.strip().casefold()].unit_id, adopted_on])
        cur.execute("UPDATE pilots SET status = 'rolled_out', version = version + 1, updated_at = current_timestamp "
                    "WHERE pilot_id = ?", [pilot_id])
        w.audit("roll out", "pilot", pilot_id, before={"status": status, "version": version},
                after={"status": "rolled_out", "units": names, "adopted_on": adopted_on, "version": version + 1})
