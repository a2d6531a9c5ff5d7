"""The monthly CX scorecard, for one business unit or the whole organisation: the north-star metric and
its drivers (metrics whose role_hint is 'north_star' or 'driver') this month against last month and the
same month last year, pilots in flight, decisions due, and (filled in by whoever evaluates rollouts)
rollouts that need a look. Plain data for the Scorecard page and the one-page PDF (`pilots.scorecard_pdf`).

A month's value is computed in SQL, whatever the volume of answers: every answer in the month (its
score from `scored_observations`: NPS +100/0/−100, top-2-box 1/0, else the value) and every period
figure whose period starts in the month (weighted by its n, 1 when it has none) count once, pooled
over the unit or over every unit, as `pilots.trends` pools weeks. A figure counts, as a window does in
the analysis (`pilots.inference.MIN_ANSWERS`), from 10 answers, or from 2 periods when some are
reported without n; below that the card says "too little data" instead of a number.

Pilots are read as on the card's date, the month's last day (today for the current month): in flight
when their pilot window overlaps the month, each with its state today as `pilots.wording` words it;
a decision is due when the window ended before the card's date and no decision was recorded between
then and the card's date (an Extend recorded before the window's end does not count). A unit head
reads only their own units' cards; the organisation's card is for the CCO office and steering."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass
from typing import Literal

from . import analysis, store, text, wording
from .access import AccessDenied, Actor, require_unit
from .db import Database
from .formats import SHARES, amount, number
from .inference import MIN_ANSWERS
from .model import Metric, Problem, ValidationError

ROLES = ("north_star", "driver")
WHOLE_ORGANISATION = "Whole organisation"
# Streamlit's named colours, as the Pilot page colours an effect: good news, bad news, no sign.
Colour = Literal["green", "red", "gray"]
GOOD: Colour = "green"
BAD: Colour = "red"
NEUTRAL: Colour = "gray"
_MONTH = re.compile(r"(\d{4})-(\d{2})")
ENOUGH = (f"a figure needs {MIN_ANSWERS} answers (or 2 period figures reported without n) before it is shown; "
          f"below that the card says so")


# ---------------------------------------------------------------- months

def month_start(month: str) -> dt.date:
    """The first day of a month written YYYY-MM; ValidationError naming the field 'month' otherwise."""
    found = _MONTH.fullmatch(month.strip()) if isinstance(month, str) else None
    if found is None or not 1 <= int(found.group(2)) <= 12 or int(found.group(1)) < 1990:
        raise ValidationError([Problem("must be a month written YYYY-MM, such as 2026-11", column="month",
                                       value=text.printable(month, 40))])
    return dt.date(int(found.group(1)), int(found.group(2)), 1)


def month_end(first: dt.date) -> dt.date:
    return first.replace(day=calendar.monthrange(first.year, first.month)[1])


def month_words(first: dt.date) -> str:
    """'November 2026'."""
    return f"{first:%B %Y}"


def _earlier(first: dt.date, months: int) -> dt.date:
    index = first.year * 12 + first.month - 1 - months
    return dt.date(index // 12, index % 12 + 1, 1)


# ---------------------------------------------------------------- the card's parts

@dataclass(frozen=True)
class Reading:
    """A metric's value over one month: the mean score of its answers and n-weighted period figures,
    None when there is too little data; n (answers, plus each period's n or 1), the period figures
    among them and how many of those came without n."""

    month: dt.date
    value: float | None
    n: int = 0
    periods: int = 0
    unsized: int = 0

    @property
    def basis(self) -> str:
        """The n behind the figure: 'n = 1,234', or the period figures when some have no n."""
        if self.unsized:
            return (f"{self.periods} period figure{'s' if self.periods != 1 else ''} "
                    f"({self.unsized} without n)")
        return f"n = {self.n:,}"


@dataclass(frozen=True)
class Change:
    """This month against an earlier one: the change in the metric's units (None without both
    figures), in words, and whether it is good news given the metric's direction of good."""

    against: str  # "last month", "last year"
    month: dt.date
    change: float | None
    words: str  # "a fall of 0.21 days", "no comparison: too little data in November 2025"
    good: bool | None

    @property
    def colour(self) -> Colour:
        return NEUTRAL if self.good is None else GOOD if self.good else BAD

    @property
    def reads(self) -> str:
        """The words with what they mean, so colour is never the only cue: 'a fall of 0.21 days, better'."""
        return self.words if self.good is None else f"{self.words}, {'better' if self.good else 'worse'}"


@dataclass(frozen=True)
class FigureLine:
    """One metric on the card: this month, last month and the same month last year, the changes."""

    metric_key: str
    label: str
    role: str  # 'north_star' or 'driver'
    direction: str
    this_month: Reading
    last_month: Reading
    last_year: Reading
    value_words: str  # "32.1 points", "72.4%", "too little data (n = 4)"
    vs_last_month: Change
    vs_last_year: Change


@dataclass(frozen=True)
class PilotLine:
    """A pilot in flight in the month, with its state today (pilots.wording)."""

    pilot_id: int
    name: str
    unit: str
    window: tuple[dt.date, dt.date]
    state: wording.State


@dataclass(frozen=True)
class DecisionDue:
    """A pilot whose window has ended with no decision recorded since, and how long it has waited."""

    pilot_id: int
    name: str
    unit: str
    window_ended: dt.date
    waiting_days: int
    state: wording.State

    @property
    def waiting(self) -> str:
        """'waiting 5 days', '3 weeks', '4 months'."""
        days = self.waiting_days
        if days < 14:
            return f"{days} day{'s' if days != 1 else ''}"
        if days < 63:
            return f"{days // 7} weeks"
        return f"{round(days / 30.44)} months"


@dataclass(frozen=True)
class Card:
    """The scorecard of one month for one unit (unit_id) or the whole organisation (None)."""

    month: dt.date  # its first day
    unit_id: int | None
    scope: str  # the unit's name, or WHOLE_ORGANISATION
    as_of: dt.date  # the month's last day, or today for the current month
    north_star: tuple[FigureLine, ...]
    drivers: tuple[FigureLine, ...]
    in_flight: tuple[PilotLine, ...]
    decisions_due: tuple[DecisionDue, ...]
    rollouts_needing_a_look: tuple[str, ...] = ()  # short plain-language lines, one per rollout

    @property
    def title(self) -> str:
        return f"CX scorecard, {month_words(self.month)}"

    @property
    def key(self) -> str:
        """'2026-11'."""
        return f"{self.month:%Y-%m}"

    def pilot_name(self, pilot: PilotLine | DecisionDue) -> str:
        """A pilot as the card names it: with its unit on the organisation's card."""
        return pilot.name if self.unit_id is not None else f"{pilot.name} ({pilot.unit})"


# ---------------------------------------------------------------- monthly values, in SQL

# `{metrics}` and `{units}` are placeholders only (a unit card repeats its unit as a constant, the
# organisation's reads every unit), and so are the three months' first and last days: ranges the scans
# skip the rest of the data by (a filter on the month computed from each row reads every row in between).
_MONTHLY = """
WITH pieces AS (
    SELECT metric_key, date_trunc('month', obs_date)::DATE AS month, sum(score) AS total, count(*) AS n,
           0 AS periods, 0 AS unsized
    FROM scored_observations
    WHERE metric_key IN ({metrics}) AND {units}
      AND (obs_date BETWEEN ? AND ? OR obs_date BETWEEN ? AND ? OR obs_date BETWEEN ? AND ?)
    GROUP BY ALL
    UNION ALL
    SELECT metric_key, date_trunc('month', period_start)::DATE, sum(value * coalesce(n, 1)), sum(coalesce(n, 1)),
           count(*), count(*) - count(n)
    FROM measurements
    WHERE metric_key IN ({metrics}) AND {units}
      AND (period_start BETWEEN ? AND ? OR period_start BETWEEN ? AND ? OR period_start BETWEEN ? AND ?)
    GROUP BY ALL
)
SELECT metric_key, month, sum(total) / sum(n) AS value, sum(n)::BIGINT AS n, sum(periods)::BIGINT AS periods,
       sum(unsized)::BIGINT AS unsized
FROM pieces GROUP BY ALL
"""

_MONTHS = """
SELECT DISTINCT month FROM (
    SELECT DISTINCT date_trunc('month', obs_date)::DATE AS month FROM observations
    WHERE metric_key IN ({metrics}) AND {units}
    UNION ALL
    SELECT DISTINCT date_trunc('month', period_start)::DATE FROM measurements
    WHERE metric_key IN ({metrics}) AND {units}
) ORDER BY month DESC
"""


def _card_metrics(db: Database) -> list[Metric]:
    """The north star(s) and the drivers, each group by label."""
    chosen = [m for m in store.list_metrics(db) if m.role_hint in ROLES]
    return sorted(chosen, key=lambda m: (ROLES.index(m.role_hint or ""), m.label.casefold()))


def _scope(db: Database, actor: Actor, unit_id: int | None) -> str:
    """The card's scope as the actor may read it: a unit of theirs, or (editors and steering) the
    organisation."""
    if unit_id is None:
        if not actor.sees_all_units():
            raise AccessDenied(f"{actor.email} ({actor.role}) may not read the organisation's scorecard: "
                               "a unit head reads their own units' cards")
        return WHOLE_ORGANISATION
    require_unit(actor, unit_id, "read this unit's scorecard")
    name = next((u.name for u in store.list_units(db, actor) if u.unit_id == unit_id), None)
    if name is None:
        raise ValidationError([Problem("no such business unit", column="unit", value=str(unit_id))])
    return name


def _sql(template: str, metrics: list[Metric], unit_id: int | None) -> tuple[str, list, list]:
    """The template with its placeholders, and the parameters of its metric and unit lists."""
    keys = [m.key for m in metrics] or [None]
    units = "TRUE" if unit_id is None else "unit_id = ?"
    sql = template.format(metrics=", ".join("?" * len(keys)), units=units)
    return sql, keys, [] if unit_id is None else [unit_id]


def _monthly_values(db: Database, metrics: list[Metric], months: tuple[dt.date, dt.date, dt.date],
                    unit_id: int | None) -> dict[tuple[str, dt.date], Reading]:
    """The metrics' values in three months (first days) for a unit or the organisation, as
    {(metric key, month): Reading}; months without any data are absent."""
    sql, keys, units = _sql(_MONTHLY, metrics, unit_id)
    scan = [*keys, *units, *(day for first in months for day in (first, month_end(first)))]
    with db.cursor() as cur:
        rows = cur.execute(sql, scan + scan).fetchall()
    return {(key, month): Reading(month, value, int(n), int(periods), int(unsized))
            for key, month, value, n, periods, unsized in rows}


def months_with_data(db: Database, actor: Actor, unit_id: int | None = None) -> list[str]:
    """Every month (YYYY-MM, newest first) in which a card metric has data for the unit or the organisation."""
    _scope(db, actor, unit_id)
    sql, keys, units = _sql(_MONTHS, _card_metrics(db), unit_id)
    with db.cursor() as cur:
        rows = cur.execute(sql, [*keys, *units] * 2).fetchall()
    return [f"{month:%Y-%m}" for (month,) in rows]


def last_complete_month(db: Database, actor: Actor, unit_id: int | None = None) -> str | None:
    """The latest month that has ended and has data (the latest with data if none has ended yet);
    None without any data: what a card opens on."""
    return latest_complete(months_with_data(db, actor, unit_id))


def latest_complete(months: list[str]) -> str | None:
    """Of months with data (YYYY-MM, newest first), the latest that has ended, else the newest."""
    this_month = analysis.today().replace(day=1)
    return next((m for m in months if month_start(m) < this_month), months[0] if months else None)


# ---------------------------------------------------------------- the card

def _enough(reading: Reading) -> bool:
    return reading.n >= MIN_ANSWERS if not reading.unsized else reading.periods >= 2


def level_words(metric: Metric, value: float) -> str:
    """A month's level in the metric's own format: shares as per cent, anything else with its unit."""
    return f"{number(100 * value)}%" if metric.aggregation in SHARES else amount(value, metric.unit)


def _reading(values: dict, metric: Metric, month: dt.date) -> Reading:
    found = values.get((metric.key, month))
    if found is None:
        return Reading(month, None)
    return found if _enough(found) else Reading(month, None, found.n, found.periods, found.unsized)


def _shown(metric: Metric, reading: Reading) -> str:
    if reading.value is not None:
        return level_words(metric, reading.value)
    return f"too little data ({reading.basis})" if reading.n else "no data"


def _change(metric: Metric, now: Reading, then: Reading, against: str) -> Change:
    if now.value is None or then.value is None:
        missing = month_words(then.month if now.value is not None else now.month)
        return Change(against, then.month, None, f"no comparison: too little data in {missing}", None)
    change = now.value - then.value
    if change == 0:
        return Change(against, then.month, 0.0, "no change", None)
    oriented = change if metric.direction == "higher" else -change
    return Change(against, then.month, change, wording.change_words(metric.direction, oriented, metric.unit,
                                                                    metric.aggregation), metric.is_improvement(change))


def _figure(metric: Metric, values: dict, first: dt.date) -> FigureLine:
    now, last_month, last_year = (_reading(values, metric, month) for month in
                                  (first, _earlier(first, 1), _earlier(first, 12)))
    return FigureLine(metric.key, metric.label, metric.role_hint or "", metric.direction, now, last_month, last_year,
                      _shown(metric, now), _change(metric, now, last_month, "last month"),
                      _change(metric, now, last_year, "last year"))


def _latest_decisions(db: Database, pilot_ids: list[int], on: dt.date) -> dict[int, tuple[str, dt.date]]:
    """The latest decision recorded on or before a date, per pilot: (decision, decided on)."""
    if not pilot_ids:
        return {}
    with db.cursor() as cur:
        rows = cur.execute(
            f"SELECT pilot_id, decision, decided_on FROM decision_log "
            f"WHERE pilot_id IN ({', '.join('?' * len(pilot_ids))}) AND decided_on <= ? "
            f"ORDER BY decided_on, decision_id", [*pilot_ids, on]).fetchall()
    return {pilot_id: (decision, decided_on) for pilot_id, decision, decided_on in rows}  # the latest wins


def monthly_card(db: Database, actor: Actor, month: str, unit_id: int | None = None) -> Card:
    """The scorecard of `month` (YYYY-MM) for a unit the actor may read, or (unit_id None; editors and
    steering) the whole organisation. ValidationError naming 'month' for a malformed month or one without
    data of any card metric, naming 'unit' for an unknown unit; AccessDenied for another's unit."""
    first = month_start(month)
    scope = _scope(db, actor, unit_id)
    metrics = _card_metrics(db)
    values = _monthly_values(db, metrics, (first, _earlier(first, 1), _earlier(first, 12)), unit_id)
    if not any(when == first for _, when in values):
        names = ", ".join(m.label for m in metrics) or "no north-star or driver metric is defined"
        raise ValidationError([Problem(f"no data in {month_words(first)} for {scope} ({names})", column="month",
                                       value=text.printable(month, 40))])
    figures = [_figure(m, values, first) for m in metrics]
    today = analysis.today()
    last = month_end(first)
    as_of = min(last, today)
    units = None if unit_id is None else [unit_id]
    pilots = store.list_pilots(db, actor, unit_ids=units)
    # Every case the actor may see, cached once: moving from one unit's card to another's reads no evidence again.
    cases = analysis.analyze_pilots(db, actor)
    states = {case.pilot_id: wording.state(case) for case in cases}
    mine = {p.pilot_id for p in pilots}
    # Rollouts that need a look: the organisation's, or those of the unit's pilots and of waves the unit is in.
    looks = tuple(line for case in cases if case.rollout is not None and (
        unit_id is None or case.pilot_id in mine or any(scope in wave.units for wave in case.rollout.waves))
        for line in wording.needs_a_look(case))
    in_flight = tuple(PilotLine(p.pilot_id, p.name, p.units_label, (p.pilot_start, p.pilot_end), states[p.pilot_id])
                      for p in pilots if p.pilot_start <= last and p.pilot_end >= first)
    decided = _latest_decisions(db, [p.pilot_id for p in pilots], as_of)
    due = [DecisionDue(p.pilot_id, p.name, p.units_label, p.pilot_end, (as_of - p.pilot_end).days, states[p.pilot_id])
           for p in pilots if p.pilot_end < as_of and (
               p.pilot_id not in decided or decided[p.pilot_id][0] == "extend"
               and decided[p.pilot_id][1] <= p.pilot_end)]
    return Card(first, unit_id, scope, as_of, tuple(f for f in figures if f.role == "north_star"),
                tuple(f for f in figures if f.role == "driver"), in_flight,
                tuple(sorted(due, key=lambda d: -d.waiting_days)), looks)
