"""Data read back week by week, aggregated in SQL to one row per group (or unit) and week whatever
the volume of answers: a metric for a pilot's unit against its control units, for one unit against
the rest of the organisation (charts), and the unit-by-week panel of several metrics that rollout
waves and the driver analysis are estimated on. Whoever may see the pilot or units may see these."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from .access import Actor, require_unit
from .db import Database
from .model import Pilot
from .store import get_pilot, list_units

if TYPE_CHECKING:  # pandas costs half a second to import: only the chart readers need it
    import pandas as pd

def _weekly(db: Database, metric_keys: Sequence[str], groups: Mapping[str, Iterable[int]], start: dt.date | None,
            end: dt.date | None) -> pd.DataFrame:
    """Per metric, group of units and week: the pooled value and n, in one scan for all the metrics.
    Columns: metric_key, group, week, value, n."""
    members = [(group, unit_id) for group, ids in groups.items() for unit_id in ids]
    if not members or not metric_keys:
        import pandas as pd

        return pd.DataFrame({"metric_key": pd.Series(dtype=str), "group": pd.Series(dtype=str),
                             "week": pd.Series(dtype="datetime64[us]"), "value": pd.Series(dtype=float),
                             "n": pd.Series(dtype="int64")})
    # The units are repeated as constants in the scans: `IN (SELECT ...)` there would be joined row by row.
    unit_ids = sorted({unit_id for _, unit_id in members})
    units = ", ".join("?" * len(unit_ids))
    keys = ", ".join("?" * len(metric_keys))
    sql = f"""
    WITH members(grp, unit_id) AS (VALUES {', '.join('(?, ?)' for _ in members)}),
    rows AS (
        SELECT metric_key, unit_id, date_trunc('week', obs_date) AS week, sum(score) AS total, count(*) AS n
        FROM scored_observations
        WHERE metric_key IN ({keys}) AND unit_id IN ({units}) AND obs_date BETWEEN ? AND ?
        GROUP BY ALL
        UNION ALL
        SELECT metric_key, unit_id, date_trunc('week', period_start), sum(value * coalesce(n, 1)), sum(coalesce(n, 1))
        FROM measurements
        WHERE metric_key IN ({keys}) AND unit_id IN ({units}) AND period_start BETWEEN ? AND ?
        GROUP BY ALL
    )
    SELECT r.metric_key, m.grp AS "group", r.week::DATE AS week, sum(r.total) / sum(r.n) AS value,
           sum(r.n)::BIGINT AS n
    FROM rows r JOIN members m USING (unit_id)
    GROUP BY ALL ORDER BY r.metric_key, "group", week
    """
    start, end = start or dt.date.min, end or dt.date.max
    params = ([value for member in members for value in member]
              + [*metric_keys, *unit_ids, start, end, *metric_keys, *unit_ids, start, end])
    with db.cursor() as cur:
        return cur.execute(sql, params).df()


def pilot_series(db: Database, actor: Actor, pilot: Pilot, metric_key: str,
                 margin: dt.timedelta = dt.timedelta(weeks=8)) -> pd.DataFrame:
    """Per week: the metric for the pilot's units pooled and for its control units pooled, from a little before
    the baseline to a little after the pilot window. Whoever may see the pilot may see this."""
    pilot = get_pilot(db, actor, pilot.pilot_id)  # as stored: a pilot object made up elsewhere proves nothing
    groups = {pilot.units_label: list(pilot.unit_ids)}
    if pilot.control_unit_ids:
        groups[CONTROL_GROUP] = list(pilot.control_unit_ids)
    return _weekly(db, [metric_key], groups, pilot.baseline_start - margin,
                   pilot.pilot_end + margin).drop(columns="metric_key")


CONTROL_GROUP = "Control units"


def org_series(db: Database, actor: Actor, metric_key: str, unit_id: int, start: dt.date,
               end: dt.date) -> pd.DataFrame:
    """Per week: the metric of one unit and of the rest of the organisation (every other unit pooled,
    each answer or n-weighted period counting equally), as group, week, value, n. The pool is an
    aggregate no other unit can be read from, so a unit head may compare against it."""
    require_unit(actor, unit_id, "read this unit's data")
    units = list_units(db, actor)
    name = next(u.name for u in units if u.unit_id == unit_id)
    groups = {name: [unit_id], REST_OF_ORGANISATION: [u.unit_id for u in units if u.unit_id != unit_id]}
    return _weekly(db, [metric_key], groups, start, end).drop(columns="metric_key")


REST_OF_ORGANISATION = "Rest of organisation"


def unit_week_panel(db: Database, actor: Actor, metric_keys: Iterable[str], unit_ids: Iterable[int] | None = None,
                    start: dt.date | None = None, end: dt.date | None = None) -> pd.DataFrame:
    """The unit-by-week panel: for each metric, each unit (of those given, default every unit the
    actor may see) and each week with data, the week's value (mean score of the answers, or the
    n-weighted mean of the periods given) and its n. Columns: metric_key, unit_id, week (a date, the
    Monday), value, n; one row per metric, unit and week, sorted so."""

    visible = [u.unit_id for u in list_units(db, actor) if actor.can_see_unit(u.unit_id)]
    wanted = visible if unit_ids is None else list(unit_ids)
    for unit_id in wanted:
        require_unit(actor, unit_id, "read this unit's data")
    frame = _weekly(db, list(metric_keys), {str(unit_id): [unit_id] for unit_id in wanted}, start, end)
    frame = frame.assign(unit_id=frame["group"].astype("int64"))[["metric_key", "unit_id", "week", "value", "n"]]
    return frame.sort_values(["metric_key", "unit_id", "week"], ignore_index=True)
