"""The storage side of the analysis: the SQL that turns observations and measurements into the
cells the statistics need (per pilot, metric, arm and window (phase): n, mean, variance per answer and its
degrees of freedom), the weekly series of the baseline for the trend check, other pilots that
overlap a pilot, the history a plan is sized from, and the rollout assumptions stored with a pilot.

How a cell is built, in one SQL pass (`_CELLS`):
- Observations are first reduced to pieces of (metric, unit, day): n, mean and sum of squared
  deviations (m2) of the score of `scored_observations` (NPS +100/0/-100, top-2-box 1/0, else the
  value). Each measurement row is one piece: its value as the mean, its n as weight (1 when n is
  missing) and m2 = (n-1)·sd² (sd is the sample sd of the answers of that period); for shares
  (rate, top-2-box) with n and no sd, m2 = n·p·(1-p), the binomial spread of 0/1 answers.
- Pieces are combined exactly: N = Σn, mean = Σn·mean/N, and when every piece has m2, the variance
  per answer is (Σm2 + Σn·(mean_i − mean)²)/(N−1) with N−1 degrees of freedom — the sample
  variance of all answers. When some period has no sd (and is no share with n), the spread within
  periods is unknown and the variance per answer is estimated from the spread between periods:
  Σn·(mean_i − mean)²/(K−1) over the K periods, with K−1 degrees of freedom (its expectation is σ²
  when periods differ only by sampling, and it also absorbs real period-to-period swings).
- Control units are pooled into one control group: every answer (or n-weighted period) counts
  equally, whichever control unit gave it.
Portfolio and single pilot use the same SQL; only the relation of arms differs.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

import pandas as pd

from . import store
from .access import Actor, require_unit
from .db import Database
from .model import Pilot, Problem, ValidationError

# The combination of pieces into cells. `{arms}` is a relation (pilot_id, metric_key, role, unit_id,
# arm, baseline_start, baseline_end, pilot_start, pilot_end); every arm unit keeps its own cells. Days
# before the baseline fall into `history_blocks` earlier blocks of the pilot's own length (block 1
# ends the day before the baseline starts), each split like the real design into a 'before' part as
# long as the baseline and an 'after' part as long as the pilot window: the placebo-in-time periods
# of the drift-aware interval. `{sums}` and `{weekly}` are _SUMS and _WEEKLY; `{units}`, `{metrics}` and `{span}`
# repeat the arms' units, metrics and dates as constants, so the scan of observations skips what no
# arm needs (a subquery there would become a nested-loop join over every row).
_CELLS = """
WITH arms AS ({arms}),
spans AS (
    SELECT *, base_days, block_days,
           greatest(1, least({max_blocks}, {history_days} // block_days))::INTEGER AS history_blocks
    FROM (SELECT *, (baseline_end - baseline_start + 1)::INTEGER AS base_days,
                 ((baseline_end - baseline_start + 1) + (pilot_end - pilot_start + 1))::INTEGER AS block_days
          FROM arms)
),
pieces AS (
    SELECT metric_key, unit_id, obs_date AS day, count(*)::DOUBLE AS n, avg(score) AS mean,
           coalesce(var_samp(score), 0) * (count(*) - 1) AS m2
    FROM scored_observations
    WHERE unit_id IN ({units}) AND metric_key IN ({metrics}) AND obs_date BETWEEN {span}
    GROUP BY ALL
    UNION ALL
    SELECT m.metric_key, m.unit_id, m.period_start, coalesce(m.n, 1)::DOUBLE, m.value,
           CASE WHEN m.n IS NULL THEN NULL
                WHEN m.sd IS NOT NULL THEN (m.n - 1) * m.sd * m.sd
                WHEN d.aggregation IN ('rate', 'top2box') THEN m.n * m.value * (1 - m.value) END
    FROM measurements m JOIN metrics d USING (metric_key)
    WHERE m.unit_id IN ({units}) AND m.metric_key IN ({metrics}) AND m.period_start BETWEEN {span}
),
placed AS (
    SELECT a.pilot_id, a.metric_key, a.role, a.arm, p.unit_id, p.day, p.n, p.mean, p.m2, a.baseline_start,
           a.baseline_end, a.base_days, a.block_days,
           CASE WHEN p.day >= a.baseline_start THEN 0
                ELSE (1 + (a.baseline_start - 1 - p.day) // a.block_days)::INTEGER END AS block
    FROM pieces p JOIN spans a ON a.unit_id = p.unit_id AND a.metric_key = p.metric_key
     AND (p.day BETWEEN a.baseline_start - a.history_blocks * a.block_days AND a.baseline_end
          OR p.day BETWEEN a.pilot_start AND a.pilot_end)
),
labelled AS MATERIALIZED (
    SELECT pilot_id, metric_key, role, arm, unit_id, block,
           CASE WHEN block = 0 THEN (CASE WHEN day <= baseline_end THEN 'before' ELSE 'after' END)
                WHEN day - (baseline_start - block * block_days) < base_days THEN 'before'
                ELSE 'after' END AS phase,
           date_trunc('week', day)::DATE AS week, n, mean, m2
    FROM placed
),
summed AS (
    SELECT pilot_id, metric_key, role, arm, unit_id, block, phase, NULL::DATE AS week, FALSE AS is_week,
           {sums}
    FROM labelled
    GROUP BY pilot_id, metric_key, role, arm, unit_id, block, phase
    {weekly}
)
SELECT pilot_id, metric_key, role, arm, unit_id, block, phase, week, is_week, n, mean,
       CASE WHEN sd_known THEN (within_ss + between_ss) / nullif(n - 1, 0)
            ELSE between_ss / nullif(periods - 1, 0) END AS variance,
       CASE WHEN sd_known THEN n - 1 ELSE periods - 1 END AS df,
       sd_known, periods, weeks
FROM summed
ORDER BY pilot_id, metric_key, arm, unit_id, block, phase, week NULLS FIRST
"""

# Earlier periods used as placebos: at most this many blocks of the pilot's length, within two years.
MAX_HISTORY_BLOCKS = 6
HISTORY_DAYS = 728


def _pilot_arms(where: str) -> str:
    """Arms of pilots as SQL: the pilot's units are 'treated', its controls 'control', for every metric
    of the pilot (primary, secondary and guardrail)."""
    return f"""
    SELECT p.pilot_id, r.metric_key, r.role, g.unit_id, g.arm,
           p.baseline_start, p.baseline_end, p.pilot_start, p.pilot_end
    FROM pilots p
    JOIN (SELECT pilot_id, primary_metric AS metric_key, 'primary' AS role FROM pilots
          UNION ALL SELECT pilot_id, metric_key, role FROM pilot_metrics) r USING (pilot_id)
    JOIN (SELECT pilot_id, unit_id, 'treated' AS arm FROM pilot_units
          UNION ALL SELECT pilot_id, unit_id, 'control' AS arm FROM pilot_controls) g USING (pilot_id)
    WHERE {where}"""


# What summing pieces gives per cell (n-weighted mean, spread between and within pieces).
_SUMS = """sum(n) AS n, sum(n * mean) / sum(n) AS mean,
           greatest(sum(n * mean * mean) - sum(n * mean) * sum(n * mean) / sum(n), 0) AS between_ss,
           sum(m2) AS within_ss, count(m2) = count(*) AS sd_known, count(*) AS periods,
           count(DISTINCT week) AS weeks"""
# The weekly cells, only where they are read: the primary metric in the real windows.
_WEEKLY = f"""UNION ALL
    SELECT pilot_id, metric_key, role, arm, unit_id, block, phase, week, TRUE, {_SUMS}
    FROM labelled WHERE block = 0 AND role = 'primary'
    GROUP BY pilot_id, metric_key, role, arm, unit_id, block, phase, week"""


def _run(db: Database, arms: str, params: list, weekly: bool, history: bool = True) -> pd.DataFrame:
    max_blocks, history_days = (MAX_HISTORY_BLOCKS, HISTORY_DAYS) if history else (0, 0)
    with db.cursor() as cur:
        units, metrics, first, last = cur.execute(
            f"SELECT list(DISTINCT unit_id), list(DISTINCT metric_key), "
            f"min(baseline_start - ({max_blocks} * ((baseline_end - baseline_start + 1) "
            f"+ (pilot_end - pilot_start + 1)))::INTEGER), max(pilot_end) FROM ({arms})", params).fetchone()
        if not units:
            units, metrics, first, last = [None], [None], None, None
        sql = _CELLS.format(arms=arms, sums=_SUMS, weekly=_WEEKLY if weekly else "", units=", ".join("?" * len(units)),
                            metrics=", ".join("?" * len(metrics)), span="? AND ?", max_blocks=max_blocks,
                            history_days=history_days)
        constants = [*units, *metrics, first, last]
        return cur.execute(sql, [*params, *constants, *constants]).df()


def pilot_cells(db: Database, actor: Actor, pilots: list[Pilot]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """For every metric of the given pilots (as stored, and visible to the actor), in one query:
    the cells of every arm unit (one row per pilot, metric, unit, block and phase; block 0 is the real
    design, blocks 1, 2, ... the earlier periods of the same length) and the weekly cells of the
    primary metric in the real windows (one row per pilot, unit, phase and week). Columns: pilot_id,
    metric_key, role, arm ('treated'/'control'), unit_id, block, phase ('before'/'after'), week, n,
    mean, variance (per answer), df, sd_known, periods, weeks."""
    ids = [p.pilot_id for p in store.stored_pilots(db, actor, pilots)] or [None]
    frame = _run(db, _pilot_arms(f"p.pilot_id IN ({', '.join('?' * len(ids))})"), ids, weekly=True,
                 history=True)
    weekly = frame["is_week"].astype(bool)
    return (frame[~weekly].drop(columns=["week", "is_week"]).reset_index(drop=True),
            frame[weekly].drop(columns=["is_week"]).reset_index(drop=True))


def design_cells(db: Database, actor: Actor, metric_key: str, treated_id: int, control_ids: list[int],
                 baseline: tuple[dt.date, dt.date], window: tuple[dt.date, dt.date]) -> pd.DataFrame:
    """The cells (as pilot_cells gives them, earlier periods included) of a design that need not be
    registered: a metric, a pilot unit (one the actor may see) and its would-be controls, a baseline
    and a pilot window. To size a plan from the units' volumes, spread and drift."""
    require_unit(actor, treated_id, "plan a pilot in this unit")
    rows = [(treated_id, "treated")] + [(unit_id, "control") for unit_id in control_ids]
    values = ", ".join("(0, ?, 'primary', ?, ?, ?::DATE, ?::DATE, ?::DATE, ?::DATE)" for _ in rows)
    params = [v for unit_id, arm in rows for v in (metric_key, unit_id, arm, *baseline, *window)]
    arms = (f"SELECT * FROM (VALUES {values}) AS t(pilot_id, metric_key, role, unit_id, arm, "
            f"baseline_start, baseline_end, pilot_start, pilot_end)")
    return _run(db, arms, params, weekly=False, history=True).drop(columns=["week", "is_week"])


def last_data_date(db: Database, actor: Actor, metric_key: str, unit_id: int,
                   on_or_before: dt.date) -> dt.date | None:
    """The latest date on which a unit (one the actor may see) has data of a metric, no later than a given date."""
    require_unit(actor, unit_id, "read this unit's data")
    with db.cursor() as cur:
        return cur.execute(
            """SELECT max(day) FROM (
                   SELECT max(obs_date) AS day FROM observations WHERE metric_key = ? AND unit_id = ? AND obs_date <= ?
                   UNION ALL
                   SELECT max(period_start) FROM measurements WHERE metric_key = ? AND unit_id = ? AND period_start <= ?)""",
            [metric_key, unit_id, on_or_before] * 2).fetchone()[0]


def overlapping_pilots(db: Database, actor: Actor, pilots: list[Pilot]) -> pd.DataFrame:
    """For each of the given pilots (`for_pilot`), other pilots whose pilot window falls inside its
    span (baseline start to pilot end) in one of its own units ('same_unit') or in one of its control units
    ('control_treated'), and rollouts of other pilots adopted by those units during the span
    ('same_unit_rollout', 'control_rollout'), in one query. Another pilot the actor may not see
    (another unit's, unreleased) is shown without its name. The pilots given may be drafts not yet
    saved, with the dates as typed: each must be in a unit the actor may see."""
    for pilot in pilots:
        store.require_pilot(actor, pilot, "check overlaps in this unit")
    subjects = pd.DataFrame(
        [(p.pilot_id, unit_id, unit_id in p.unit_ids, p.baseline_start, p.pilot_end)
         for p in pilots for unit_id in (*p.unit_ids, *p.control_unit_ids)],
        columns=["for_pilot", "unit_id", "own_unit", "span_start", "span_end"])
    sql = """
    SELECT s.for_pilot, o.pilot_id, o.name, t.unit_id, u.name AS unit, o.released, o.status,
           CASE WHEN s.own_unit THEN 'same_unit' ELSE 'control_treated' END AS kind,
           o.pilot_start AS start, o.pilot_end AS "end"
    FROM overlap_subjects s JOIN pilot_units t ON t.unit_id = s.unit_id AND t.pilot_id <> s.for_pilot
    JOIN pilots o ON o.pilot_id = t.pilot_id AND o.pilot_start <= s.span_end AND o.pilot_end >= s.span_start
    JOIN business_units u ON u.unit_id = t.unit_id
    UNION ALL
    SELECT s.for_pilot, o.pilot_id, o.name, r.unit_id, u.name, o.released, o.status,
           CASE WHEN s.own_unit THEN 'same_unit_rollout' ELSE 'control_rollout' END,
           r.adopted_on, r.adopted_on
    FROM overlap_subjects s JOIN pilot_rollouts r ON r.unit_id = s.unit_id
     AND r.adopted_on BETWEEN s.span_start AND s.span_end
    JOIN pilots o ON o.pilot_id = r.pilot_id AND o.pilot_id <> s.for_pilot
    JOIN business_units u ON u.unit_id = r.unit_id
    ORDER BY for_pilot, kind, start
    """
    with db.cursor() as cur:
        cur.register("overlap_subjects", subjects)
        try:
            frame = cur.execute(sql).df()
        finally:
            cur.unregister("overlap_subjects")
    for column in ("start", "end"):
        frame[column] = pd.to_datetime(frame[column]).dt.date
    hidden = [not (released or actor.can_see_unit(int(unit_id)))
              for released, unit_id in zip(frame["released"], frame["unit_id"])]
    frame["name"] = frame["name"].where(~pd.Series(hidden, index=frame.index, dtype=bool),
                                        "another pilot (not visible to you)")
    return frame


def decision_dates(db: Database, actor: Actor, pilots: list[Pilot]) -> dict[int, dt.date]:
    """The date of the latest decision recorded on each of the given pilots (visible to the actor) that has one."""
    ids = [p.pilot_id for p in store.stored_pilots(db, actor, pilots)] or [None]
    with db.cursor() as cur:
        rows = cur.execute(f"SELECT pilot_id, arg_max(decided_on, decision_id) FROM decision_log "
                           f"WHERE pilot_id IN ({', '.join('?' * len(ids))}) GROUP BY pilot_id", ids).fetchall()
    return dict(rows)


def data_version(db: Database) -> tuple:
    """A key that changes whenever the data an analysis reads change: every write records an audit
    entry (counted, not only the highest id: two saves can commit out of the order of their ids), and
    the row counts catch anything written around the store. For caches."""
    with db.cursor() as cur:
        return cur.execute(
            "SELECT (SELECT max(audit_id) FROM audit_log), (SELECT count(*) FROM audit_log), "
            "(SELECT count(*) FROM observations), "
            "(SELECT count(*) FROM measurements), (SELECT count(*) FROM pilots), "
            "(SELECT count(*) FROM pilot_controls), (SELECT count(*) FROM pilot_rollouts)").fetchone()


# ---------------------------------------------------------------- rollout assumptions

@dataclass(frozen=True)
class RolloutAssumptions:
    """What one point of improvement of the primary metric is worth, and where it would be rolled out.

    value_per_point: currency a year per customer for one point of improvement (in the good
    direction: a fall of one day of resolution time is one point). revenue_share_per_point: share of
    a unit's annual revenue per customer that one point adds (0.002 = 0.2%). realisation: share of the
    pilot's effect expected at scale (1 = all of it; by default half: effects seldom hold in full away from
    the pilot's own team). unit_ids: the units to roll out to; None = every unit that is neither the
    pilot's nor one of its controls."""

    value_per_point: float | None = None
    revenue_share_per_point: float = 0.0
    realisation: float = 0.5
    unit_ids: tuple[int, ...] | None = None

    def problems(self) -> list[Problem]:
        found = []
        if self.value_per_point is not None and self.value_per_point < 0:
            found.append(Problem("must not be negative", column="value_per_point", value=str(self.value_per_point)))
        if self.revenue_share_per_point < 0:
            found.append(Problem("must not be negative", column="revenue_share_per_point",
                                 value=str(self.revenue_share_per_point)))
        if not 0 <= self.realisation <= 1:
            found.append(Problem("is a share between 0 and 1", column="realisation", value=str(self.realisation)))
        return found


def load_assumptions(db: Database, actor: Actor, pilots: list[Pilot]) -> dict[int, RolloutAssumptions]:
    """The assumptions stored with each of the given pilots (visible to the actor; defaults where none
    were saved), by id."""
    pilots = store.stored_pilots(db, actor, pilots)
    ids = [p.pilot_id for p in pilots] or [None]
    with db.cursor() as cur:
        rows = cur.execute("SELECT pilot_id, revenue_share_per_point, realisation, unit_ids FROM rollout_assumptions "
                           f"WHERE pilot_id IN ({', '.join('?' * len(ids))})", ids).fetchall()
    saved = {row[0]: row[1:] for row in rows}
    found = {}
    for pilot in pilots:
        row = saved.get(pilot.pilot_id)
        found[pilot.pilot_id] = RolloutAssumptions(value_per_point=pilot.value_per_point) if row is None else \
            RolloutAssumptions(pilot.value_per_point, row[0], row[1], None if row[2] is None else tuple(row[2]))
    return found


def save_assumptions(db: Database, actor: Actor, pilot_id: int, assumptions: RolloutAssumptions,
                     expected_version: int | None = None) -> None:
    """Store a pilot's rollout assumptions (value per point on the pilot, the rest beside it), audited,
    refused if the pilot changed since the editor loaded it."""
    with db.write(actor, "change a pilot's rollout assumptions") as w:
        problems = assumptions.problems()
        if problems:
            raise ValidationError(problems)
        cur = w.cursor
        _, _, version = store.pilot_at_version(cur, pilot_id, expected_version)
        before = cur.execute(
            "SELECT p.value_per_point, a.revenue_share_per_point, a.realisation, a.unit_ids FROM pilots p "
            "LEFT JOIN rollout_assumptions a USING (pilot_id) WHERE p.pilot_id = ?", [pilot_id]).fetchone()
        cur.execute("UPDATE pilots SET value_per_point = ?, version = version + 1, updated_at = current_timestamp "
                    "WHERE pilot_id = ?", [assumptions.value_per_point, pilot_id])
        cur.execute("INSERT OR REPLACE INTO rollout_assumptions "
                    "(pilot_id, revenue_share_per_point, realisation, unit_ids, updated_by) VALUES (?, ?, ?, ?, ?)",
                    [pilot_id, assumptions.revenue_share_per_point, assumptions.realisation,
                     None if assumptions.unit_ids is None else list(assumptions.unit_ids), actor.email])
        w.audit("assumptions", "pilot", pilot_id,
                before={"value_per_point": before[0], "revenue_share_per_point": before[1],
                        "realisation": before[2], "unit_ids": before[3], "version": version},
                after={**asdict(assumptions), "version": version + 1})
