"""Reading and writing the domain's records: business units, metric definitions and pilots
(registration, reading as the actor may see them, editing). Their lifecycle is in `pilots.lifecycle`,
import batches in `pilots.batches`, weekly series for charts in `pilots.trends`. Every write goes through
`Database.write` (one transaction, the audit entry, the role check), every text a person typed is
checked by `pilots.text`, and every call takes the acting user so roles hold whatever the caller.

Its length: units, metrics and pilots share one visibility rule (who may see which unit's
records) and one way of checking a draft against the units and metrics as stored; apart, that rule
would be read across files.
"""

from __future__ import annotations

import dataclasses
import difflib
from typing import TYPE_CHECKING, Iterable

import duckdb

from .access import Actor, require_unit
from .db import Database, Write
from .text import MAX_TEXT, checked_text

if TYPE_CHECKING:  # pandas costs half a second to import: `pilots import` reaches this module without needing it
    import pandas as pd
from .model import (
    BARRIER_TYPES, DIRECTIONS, AGGREGATIONS, STATUSES,
    Metric, Pilot, PilotDraft, Problem, RolloutWave, Unit, ValidationError,
)


# ---------------------------------------------------------------- business units

_UNIT_COLUMNS = "unit_id, name, head, customers, revenue_per_customer"


def list_units(db: Database, actor: Actor) -> list[Unit]:
    """Every unit, by name (names are not secret: controls need them). Customers and revenue per
    customer are commercial figures: a unit head gets them for their own units only, unless the CCO
    office has opened them to every unit head (organisation settings)."""
    with db.cursor() as cur:
        rows = cur.execute(f"SELECT {_UNIT_COLUMNS} FROM business_units ORDER BY lower(name)").fetchall()
        opened = actor.sees_all_units() or bool(cur.execute(
            "SELECT any_value(unit_figures_for_unit_heads) FROM org_settings").fetchone()[0])
    units = [Unit(*row) for row in rows]
    return units if opened else [u if u.unit_id in actor.unit_ids else
                                 dataclasses.replace(u, customers=None, revenue_per_customer=None) for u in units]


def unit_lookup(units: Iterable[Unit]) -> dict[str, Unit]:
    """Units by case-folded, trimmed name."""
    return {u.name.strip().casefold(): u for u in units}


def suggest(name: str, candidates: Iterable[str]) -> str | None:
    """The closest candidate to a mistyped name, if one is close enough to be a likely typo."""
    by_fold = {c.casefold(): c for c in candidates}
    match = difflib.get_close_matches(name.strip().casefold(), list(by_fold), n=1, cutoff=0.6)
    return by_fold[match[0]] if match else None


def unknown_unit_problem(name: str, units: Iterable[Unit], column: str, row: int | None = None) -> Problem:
    names = [u.name for u in units]
    near = suggest(name, names)
    hint = f": did you mean '{near}'?" if near else f"; known units: {', '.join(sorted(names)) or 'none yet'}"
    return Problem(f"unknown unit '{name}'{hint}", row=row, column=column, value=name)


def _check_unit(cur: duckdb.DuckDBPyConnection, name: str, head: str | None, customers: int | None,
                revenue_per_customer: float | None, unit_id: int | None = None) -> None:
    """Refuse a unit without a name, with the name of another unit (whatever its capitals), with a
    name or head that is not plain text, or with negative size figures."""
    problems: list[Problem] = []
    checked_text(problems, name, "name", "unit name", required=True)
    checked_text(problems, head, "head", "unit head")
    if customers is not None and customers < 0:
        problems.append(Problem("must not be negative", column="customers", value=str(customers)))
    if revenue_per_customer is not None and revenue_per_customer < 0:
        problems.append(Problem("must not be negative", column="revenue_per_customer", value=str(revenue_per_customer)))
    clash = cur.execute("SELECT name FROM business_units WHERE lower(trim(name)) = lower(?) AND unit_id IS DISTINCT "
                        "FROM ?", [name, unit_id]).fetchone()
    if clash:
        problems.append(Problem(f"a unit named '{clash[0]}' exists already", column="name", value=name))
    if problems:
        raise ValidationError(problems)


def _claim_name(w: Write, name: str, unit_id: int) -> None:
    """Hold the unit's name, folded, in `unit_name_keys`: its primary key makes a second unit of the
    same name impossible even for two writers who both checked before either wrote."""
    w.execute("DELETE FROM unit_name_keys WHERE unit_id = ?", [unit_id])
    try:
        w.execute("INSERT INTO unit_name_keys VALUES (lower(trim(?)), ?)", [name, unit_id])
    except duckdb.ConstraintException:
        raise ValidationError([Problem(f"a unit named '{name}' exists already", column="name", value=name)]) from None


def add_unit(db: Database, actor: Actor, name: str, head: str | None = None,
             customers: int | None = None, revenue_per_customer: float | None = None) -> Unit:
    name = (name or "").strip()
    with db.write(actor, "add a business unit") as w:
        cur = w.cursor
        _check_unit(cur, name, head, customers, revenue_per_customer)
        unit_id = cur.execute(
            "INSERT INTO business_units (name, head, customers, revenue_per_customer) VALUES (?, ?, ?, ?) "
            "RETURNING unit_id", [name, head, customers, revenue_per_customer]).fetchone()[0]
        _claim_name(w, name, unit_id)
        unit = Unit(unit_id, name, head, customers, revenue_per_customer)
        w.audit("add", "unit", unit_id, after=unit)
    return unit


def update_unit(db: Database, actor: Actor, unit: Unit, expected: Unit | None = None) -> Unit:
    """Change a unit's name, head and size figures, checked as when it was added. With `expected`
    (the unit as the editor loaded it), refused as stale if it has changed since: nothing is overwritten."""
    unit = dataclasses.replace(unit, name=(unit.name or "").strip())
    with db.write(actor, "change a business unit") as w:
        cur = w.cursor
        row = cur.execute(f"SELECT {_UNIT_COLUMNS} FROM business_units WHERE unit_id = ?", [unit.unit_id]).fetchone()
        if row is None:
            raise ValidationError([Problem(f"no unit with id {unit.unit_id}", column="unit_id")])
        before = Unit(*row)
        if expected is not None and before != expected:
            raise StaleEdit([Problem(f"{before.name} was changed by someone else after you opened it; nothing was "
                                     "saved: load it again and redo your change", column="unit")])
        _check_unit(cur, unit.name, unit.head, unit.customers, unit.revenue_per_customer, unit.unit_id)
        _claim_name(w, unit.name, unit.unit_id)
        cur.execute("UPDATE business_units SET name = ?, head = ?, customers = ?, revenue_per_customer = ? "
                    "WHERE unit_id = ?", [unit.name, unit.head, unit.customers, unit.revenue_per_customer,
                                          unit.unit_id])
        w.audit("update", "unit", unit.unit_id, before=before, after=unit)
    return unit


# ---------------------------------------------------------------- metric definitions

_METRIC_COLUMNS = ("metric_key, label, unit, direction, aggregation, min_value, max_value, "
                   "whole_numbers, role_hint, description")


def list_metrics(db: Database) -> list[Metric]:
    with db.cursor() as cur:
        rows = cur.execute(f"SELECT {_METRIC_COLUMNS} FROM metrics ORDER BY metric_key").fetchall()
    return [Metric(*row) for row in rows]


def metric_lookup(db: Database) -> dict[str, Metric]:
    return {m.key: m for m in list_metrics(db)}


def add_metric(db: Database, actor: Actor, metric: Metric) -> Metric:
    problems: list[Problem] = []
    checked_text(problems, metric.label, "label", "metric label", required=True)
    checked_text(problems, metric.unit, "unit", "metric unit")
    checked_text(problems, metric.description, "description", "metric description", limit=MAX_TEXT, multiline=True)
    if metric.direction not in DIRECTIONS:
        problems.append(Problem(f"must be one of {', '.join(DIRECTIONS)}", column="direction", value=metric.direction))
    if metric.aggregation not in AGGREGATIONS:
        problems.append(Problem(f"must be one of {', '.join(AGGREGATIONS)}", column="aggregation",
                                value=metric.aggregation))
    if not metric.key or not metric.key.replace("_", "a").isalnum() or not metric.key[0].isalpha() \
            or metric.key != metric.key.lower():
        problems.append(Problem("a key is lower-case letters, digits and _ , starting with a letter",
                                column="key", value=metric.key))
    if metric.aggregation in ("nps", "top2box") and (metric.min_value is None or metric.max_value is None):
        problems.append(Problem(f"an {metric.aggregation} metric needs --min and --max of its answer scale",
                                column="min/max"))
    if metric.aggregation == "rate" and not (
            (metric.min_value is None or metric.min_value >= 0) and (metric.max_value is None or metric.max_value <= 1)):
        problems.append(Problem("a rate lies between 0 and 1", column="min/max"))
    if metric.min_value is not None and metric.max_value is not None and metric.min_value >= metric.max_value:
        problems.append(Problem("min must be below max", column="min/max",
                                value=f"{metric.min_value}..{metric.max_value}"))
    if metric.aggregation == "rate":
        metric = dataclasses.replace(metric, min_value=0.0 if metric.min_value is None else metric.min_value,
                                     max_value=1.0 if metric.max_value is None else metric.max_value)
    with db.write(actor, "define a metric") as w:
        cur = w.cursor
        if cur.execute("SELECT 1 FROM metrics WHERE metric_key = ?", [metric.key]).fetchone():
            problems.append(Problem(f"a metric with key '{metric.key}' exists already", column="key", value=metric.key))
        if problems:
            raise ValidationError(problems)
        cur.execute(f"INSERT INTO metrics ({_METRIC_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    list(dataclasses.astuple(metric)))
        w.audit("add", "metric", metric.key, after=metric)
    return metric


# ---------------------------------------------------------------- pilots

def _check_draft(draft: PilotDraft, units: dict[str, Unit], metrics: dict[str, Metric]) -> list[Problem]:
    problems: list[Problem] = []
    checked_text(problems, draft.name, "name", "pilot name", required=True)
    for column, words in (("owner", "owner"), ("sponsor", "sponsor"), ("journey_stage", "journey stage")):
        checked_text(problems, getattr(draft, column), column, words)
    checked_text(problems, draft.hypothesis, "hypothesis", "hypothesis", limit=MAX_TEXT, multiline=True)
    pilot_units = set()
    for name in draft.units:
        unit = units.get(name.strip().casefold())
        if unit is None:
            problems.append(unknown_unit_problem(name, units.values(), column="unit"))
        else:
            pilot_units.add(unit.unit_id)
    if len({u.strip().casefold() for u in draft.units}) != len(draft.units):
        problems.append(Problem("a pilot unit is named twice", column="unit"))
    for control in draft.controls:
        found = units.get(control.strip().casefold())
        if found is None:
            problems.append(unknown_unit_problem(control, units.values(), column="control"))
        elif found.unit_id in pilot_units:
            problems.append(Problem("a control unit must differ from the pilot's units", column="control",
                                    value=control))
    if len({c.strip().casefold() for c in draft.controls}) != len(draft.controls):
        problems.append(Problem("a control unit is named twice", column="control"))
    keys = [("primary_metric", draft.primary_metric)] + [("secondary_metrics", k) for k in draft.secondary_metrics] \
        + [("guardrail_metrics", k) for k in draft.guardrail_metrics]
    for column, key in keys:
        if key not in metrics:
            problems.append(Problem(f"no metric '{key}' is defined; defined: {', '.join(sorted(metrics))}",
                                    column=column, value=key))
    if len({k for _, k in keys}) != len(keys):
        problems.append(Problem("a metric can have only one role in a pilot", column="metrics"))
    if draft.baseline_start > draft.baseline_end:
        problems.append(Problem("the baseline window ends before it starts", column="baseline",
                                value=f"{draft.baseline_start}..{draft.baseline_end}"))
    if draft.pilot_start > draft.pilot_end:
        problems.append(Problem("the pilot window ends before it starts", column="pilot",
                                value=f"{draft.pilot_start}..{draft.pilot_end}"))
    if draft.baseline_end >= draft.pilot_start:
        problems.append(Problem("the baseline window must end before the pilot window starts", column="baseline",
                                value=f"{draft.baseline_end} >= {draft.pilot_start}"))
    if draft.status not in STATUSES:
        problems.append(Problem(f"must be one of {', '.join(STATUSES)}", column="status", value=draft.status))
    if draft.barrier_type is not None and draft.barrier_type not in BARRIER_TYPES:
        problems.append(Problem(f"must be one of {', '.join(BARRIER_TYPES)}", column="barrier_type",
                                value=draft.barrier_type))
    if draft.cost is not None and draft.cost < 0:
        problems.append(Problem("must not be negative", column="cost", value=str(draft.cost)))
    primary = metrics.get(draft.primary_metric)
    if primary is not None and draft.target_effect is not None:
        low, high = primary.period_range()
        if low is not None and high is not None and abs(draft.target_effect) > high - low:
            problems.append(Problem(f"a target of {draft.target_effect} is larger than the whole range of "
                                    f"{primary.label} ({low} to {high} {primary.unit})",
                                    column="target", value=str(draft.target_effect)))
    return problems


# The columns of `pilots` a draft sets and an edit may change, named as the draft's fields: the one
# list the INSERT, the UPDATE and the draft of a stored pilot read (the unit, primary metric and status
# are set at registration only; status moves through pilots.lifecycle).
EDITABLE_COLUMNS = ("name", "owner", "sponsor", "hypothesis", "journey_stage", "barrier_type", "baseline_start",
                    "baseline_end", "pilot_start", "pilot_end", "target_effect", "cost", "randomised", "released",
                    "value_per_point")


def _editable_values(draft: PilotDraft) -> list:
    return [draft.name.strip() if column == "name" else getattr(draft, column) for column in EDITABLE_COLUMNS]


def add_pilot(db: Database, actor: Actor, draft: PilotDraft) -> int:
    """Register a pilot; returns its id. Refused whole, with every problem, if anything is wrong."""
    with db.write(actor, "register a pilot") as w:
        units = unit_lookup(list_units(db, actor))
        problems = _check_draft(draft, units, metric_lookup(db))
        if draft.status in ("decided", "rolled_out"):
            problems.append(Problem("a pilot is registered before it is decided", column="status",
                                    value=draft.status))
        if problems:
            raise ValidationError(problems)
        unit = units[draft.unit.strip().casefold()]
        cur = w.cursor
        columns = (*EDITABLE_COLUMNS, "unit_id", "primary_metric", "status")
        pilot_id = cur.execute(
            f"INSERT INTO pilots ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))}) RETURNING pilot_id",
            [*_editable_values(draft), unit.unit_id, draft.primary_metric, draft.status]).fetchone()[0]
        for further in draft.further_units:
            cur.execute("INSERT INTO pilot_further_units VALUES (?, ?)",
                        [pilot_id, units[further.strip().casefold()].unit_id])
        for control in draft.controls:
            cur.execute("INSERT INTO pilot_controls VALUES (?, ?)", [pilot_id, units[control.strip().casefold()].unit_id])
        for role, keys in (("secondary", draft.secondary_metrics), ("guardrail", draft.guardrail_metrics)):
            for key in keys:
                cur.execute("INSERT INTO pilot_metrics VALUES (?, ?, ?)", [pilot_id, key, role])
        w.audit("add", "pilot", pilot_id, after=draft)
    return pilot_id


_PILOT_SELECT = """
SELECT p.pilot_id, p.name, p.unit_id, u.name AS unit_name, p.baseline_start, p.baseline_end,
       p.pilot_start, p.pilot_end, p.primary_metric, p.status, p.owner, p.sponsor, p.hypothesis,
       p.journey_stage, p.barrier_type, p.target_effect, p.cost, p.randomised, p.released, p.decision,
       p.decision_rationale, p.value_per_point, p.version,
       coalesce((SELECT list(c.unit_id ORDER BY cu.name) FROM pilot_controls c
                 JOIN business_units cu ON cu.unit_id = c.unit_id WHERE c.pilot_id = p.pilot_id), []),
       coalesce((SELECT list(cu.name ORDER BY cu.name) FROM pilot_controls c
                 JOIN business_units cu ON cu.unit_id = c.unit_id WHERE c.pilot_id = p.pilot_id), []),
       coalesce((SELECT list(metric_key ORDER BY metric_key) FROM pilot_metrics pm
                 WHERE pm.pilot_id = p.pilot_id AND pm.role = 'secondary'), []),
       coalesce((SELECT list(metric_key ORDER BY metric_key) FROM pilot_metrics pm
                 WHERE pm.pilot_id = p.pilot_id AND pm.role = 'guardrail'), []),
       coalesce((SELECT list(f.unit_id ORDER BY fu.name) FROM pilot_further_units f
                 JOIN business_units fu ON fu.unit_id = f.unit_id WHERE f.pilot_id = p.pilot_id), []),
       coalesce((SELECT list(fu.name ORDER BY fu.name) FROM pilot_further_units f
                 JOIN business_units fu ON fu.unit_id = f.unit_id WHERE f.pilot_id = p.pilot_id), [])
FROM pilots p JOIN business_units u ON u.unit_id = p.unit_id
"""


def _visible_clause(actor: Actor) -> tuple[str, list]:
    """SQL condition on pilots `p` for what the actor may see: unit heads see their own units'
    pilots only."""
    if actor.sees_all_units():
        return "TRUE", []
    if not actor.unit_ids:
        return "FALSE", []
    return (f"p.pilot_id IN (SELECT pilot_id FROM pilot_units WHERE unit_id IN "
            f"({', '.join('?' * len(actor.unit_ids))}))", sorted(actor.unit_ids))


def _pilot_from_row(row: tuple) -> Pilot:
    *head, controls, control_names, secondary, guardrails, further, further_names = row
    return Pilot(*head, control_unit_ids=tuple(controls), control_unit_names=tuple(control_names),
                 secondary_metrics=tuple(secondary), guardrail_metrics=tuple(guardrails),
                 further_unit_ids=tuple(further), further_unit_names=tuple(further_names))


def require_pilot(actor: Actor, pilot: Pilot, doing: str) -> None:
    """AccessDenied unless the actor may see one of the pilot's units."""
    if not any(actor.can_see_unit(unit_id) for unit_id in pilot.unit_ids):
        require_unit(actor, pilot.unit_id, doing)


def get_pilot(db: Database, actor: Actor, pilot_id: int) -> Pilot:
    """One pilot; LookupError if there is none, AccessDenied if the actor may not see it."""
    with db.cursor() as cur:
        row = cur.execute(_PILOT_SELECT + " WHERE p.pilot_id = ?", [pilot_id]).fetchone()
    if row is None:
        raise LookupError(f"no pilot with id {pilot_id}")
    pilot = _pilot_from_row(row)
    require_pilot(actor, pilot, f"see pilot {pilot_id}")
    return pilot


def stored_pilots(db: Database, actor: Actor, pilots: Iterable[Pilot]) -> list[Pilot]:
    """The given pilots as stored (units, controls, windows as the database has them, not as the
    objects say), each checked visible to the actor: AccessDenied or LookupError otherwise. Functions
    handed pilot objects read through this, so a forged one reveals nothing."""
    ids = list(dict.fromkeys(p.pilot_id for p in pilots))
    if not ids:
        return []
    with db.cursor() as cur:
        rows = cur.execute(_PILOT_SELECT + f" WHERE p.pilot_id IN ({', '.join('?' * len(ids))})", ids).fetchall()
    found = {p.pilot_id: p for p in map(_pilot_from_row, rows)}
    for pilot_id in ids:
        if pilot_id not in found:
            raise LookupError(f"no pilot with id {pilot_id}")
        require_pilot(actor, found[pilot_id], f"see pilot {pilot_id}")
    return [found[i] for i in ids]


def list_pilots(db: Database, actor: Actor, unit_ids: Iterable[int] | None = None,
                statuses: Iterable[str] | None = None) -> list[Pilot]:
    """The pilots the actor may see, optionally only those of some units and states."""
    where, params = _visible_clause(actor)
    conditions = [where]
    for column, values in (("p.pilot_id IN (SELECT pilot_id FROM pilot_units WHERE unit_id", unit_ids),
                           ("(p.status", statuses)):
        if values is not None:
            values = list(values)
            if not values:
                return []
            conditions.append(f"{column} IN ({', '.join('?' * len(values))}))")
            params += values
    with db.cursor() as cur:
        rows = cur.execute(_PILOT_SELECT + " WHERE " + " AND ".join(conditions) + " ORDER BY p.pilot_id",
                           params).fetchall()
    return [_pilot_from_row(row) for row in rows]


def rollout_waves(db: Database, actor: Actor, pilot_ids: Iterable[int] | None = None) -> dict[int, list[RolloutWave]]:
    """The recorded rollout waves of the pilots the actor may see (of `pilot_ids`, if given), by
    pilot id, earliest first: one wave per adoption date."""
    where, params = _visible_clause(actor)
    if pilot_ids is not None:
        ids = list(pilot_ids) or [None]
        where += f" AND r.pilot_id IN ({', '.join('?' * len(ids))})"
        params = [*params, *ids]
    with db.cursor() as cur:
        rows = cur.execute(
            "SELECT r.pilot_id, r.adopted_on, list(r.unit_id ORDER BY u.name), list(u.name ORDER BY u.name) "
            "FROM pilot_rollouts r JOIN pilots p USING (pilot_id) JOIN business_units u ON u.unit_id = r.unit_id "
            f"WHERE {where} GROUP BY r.pilot_id, r.adopted_on ORDER BY r.pilot_id, r.adopted_on", params).fetchall()
    waves: dict[int, list[RolloutWave]] = {}
    for pilot_id, start, unit_ids, names in rows:
        waves.setdefault(pilot_id, []).append(RolloutWave(start, tuple(unit_ids), tuple(names)))
    return waves


def pilots_frame(pilots: list[Pilot], metrics: dict[str, Metric]) -> pd.DataFrame:
    """The register as a table for display."""
    import pandas as pd

    return pd.DataFrame([{
        "id": p.pilot_id, "pilot": p.name, "unit": p.units_label, "status": p.status.replace("_", " "),
        "primary metric": metrics[p.primary_metric].label if p.primary_metric in metrics else p.primary_metric,
        "target": p.target_effect, "controls": ", ".join(p.control_unit_names) or "none",
        "baseline": f"{p.baseline_start} – {p.baseline_end}", "pilot window": f"{p.pilot_start} – {p.pilot_end}",
        "owner": p.owner, "decision": (p.decision or "").replace("_", " "),
    } for p in pilots], columns=["id", "pilot", "unit", "status", "primary metric", "target", "controls",
                                 "baseline", "pilot window", "owner", "decision"])


def table_counts(db: Database) -> dict[str, int]:
    """Row counts of the data tables (for the command line and for tests that nothing changed)."""
    tables = ["business_units", "metrics", "pilots", "pilot_controls", "pilot_metrics", "import_batches",
              "observations", "measurements", "audit_log"]
    with db.cursor() as cur:
        return {t: cur.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}


def is_empty(db: Database) -> bool:
    """True when no unit has been added yet: the app then loads the demo organisation."""
    with db.cursor() as cur:
        return cur.execute("SELECT count(*) FROM business_units").fetchone()[0] == 0



# ---------------------------------------------------------------- lifecycle and decisions

class StaleEdit(ValidationError):
    """The record changed since the editor loaded it; nothing was overwritten."""


def pilot_at_version(cur: duckdb.DuckDBPyConnection, pilot_id: int, expected_version: int | None) -> tuple:
    """(status, decision, version) of a pilot, read inside a write; StaleEdit if it is no longer at
    `expected_version` (None skips that check), LookupError if there is no such pilot."""
    row = cur.execute("SELECT status, decision, version FROM pilots WHERE pilot_id = ?", [pilot_id]).fetchone()
    if row is None:
        raise LookupError(f"no pilot with id {pilot_id}")
    if expected_version is not None and row[2] != expected_version:
        raise StaleEdit([Problem(
            f"pilot {pilot_id} was changed by someone else since you opened it (your version {expected_version}, "
            f"now {row[2]}); reload it and make your change again", column="version")])
    return row


def pipeline(db: Database, actor: Actor) -> pd.DataFrame:
    """Number of pilots per business unit and lifecycle state, for those the actor may see."""
    where, params = _visible_clause(actor)
    with db.cursor() as cur:
        return cur.execute(
            f"SELECT u.name AS unit, p.status, count(*)::INTEGER AS pilots FROM pilots p "
            f"JOIN business_units u USING (unit_id) WHERE {where} GROUP BY ALL ORDER BY unit, status",
            params).df()


# ---------------------------------------------------------------- editing a registered pilot

def pilot_draft(pilot: Pilot) -> PilotDraft:
    """A registered pilot as the draft that would register it again: what an edit form starts from."""
    return PilotDraft(
        **{column: getattr(pilot, column) for column in EDITABLE_COLUMNS},
        unit=pilot.unit_name, further_units=list(pilot.further_unit_names), primary_metric=pilot.primary_metric,
        controls=list(pilot.control_unit_names), secondary_metrics=list(pilot.secondary_metrics),
        guardrail_metrics=list(pilot.guardrail_metrics), status=pilot.status)


def update_pilot(db: Database, actor: Actor, pilot_id: int, draft: PilotDraft, expected_version: int) -> int:
    """Save an edit of a pilot made from its version `expected_version`; returns the new version.
    Refused whole, with every problem, if the draft is invalid; refused with StaleEdit, overwriting
    nothing, if someone saved the pilot since. The unit and the primary metric are fixed at
    registration (a pilot judged on a metric picked after its data came in is no evidence; DuckDB
    also cannot change those indexed columns of a referenced row), and the status moves only through
    set_status, record_decision and record_rollout."""
    with db.write(actor, "edit a pilot") as w:
        return _update_pilot(db, w, pilot_id, draft, expected_version)


def _update_pilot(db: Database, w: Write, pilot_id: int, draft: PilotDraft, expected_version: int) -> int:
    actor, cur = w.actor, w.cursor
    current = get_pilot(db, actor, pilot_id)
    pilot_at_version(cur, pilot_id, expected_version)
    units = unit_lookup(list_units(db, actor))
    problems = _check_draft(draft, units, metric_lookup(db))
    unit = units.get(draft.unit.strip().casefold())
    chosen = {units[name.strip().casefold()].unit_id for name in draft.units if name.strip().casefold() in units}
    if unit is not None and (unit.unit_id != current.unit_id or chosen != set(current.unit_ids)):
        problems.append(Problem(f"the pilot's units are fixed at registration ({current.units_label}); register "
                                f"a new pilot to try the change in other units", column="unit",
                                value=", ".join(draft.units)))
    if draft.primary_metric != current.primary_metric:
        problems.append(Problem(f"the primary metric is fixed at registration ({current.primary_metric}), so the "
                                f"pilot cannot be judged on a metric chosen after seeing its data",
                                column="primary_metric", value=draft.primary_metric))
    if draft.status != current.status:
        problems.append(Problem("the status changes by a lifecycle move or a decision, not by an edit",
                                column="status", value=draft.status))
    if problems:
        raise ValidationError(problems)
    version = expected_version
    cur.execute(f"UPDATE pilots SET {', '.join(f'{c} = ?' for c in EDITABLE_COLUMNS)}, version = version + 1, "
                f"updated_at = current_timestamp WHERE pilot_id = ?", [*_editable_values(draft), pilot_id])
    cur.execute("DELETE FROM pilot_controls WHERE pilot_id = ?", [pilot_id])
    for control in draft.controls:
        cur.execute("INSERT INTO pilot_controls VALUES (?, ?)", [pilot_id, units[control.strip().casefold()].unit_id])
    cur.execute("DELETE FROM pilot_metrics WHERE pilot_id = ?", [pilot_id])
    for role, keys in (("secondary", draft.secondary_metrics), ("guardrail", draft.guardrail_metrics)):
        for key in keys:
            cur.execute("INSERT INTO pilot_metrics VALUES (?, ?, ?)", [pilot_id, key, role])
    w.audit("update", "pilot", pilot_id, before={**dataclasses.asdict(pilot_draft(current)), "version": version},
            after={**dataclasses.asdict(draft), "version": version + 1})
    return version + 1
