"""The demo organisation: six business units of a service company, fourteen pilots in every state
of their lifecycle, and three years of data (row-level survey answers for nps, csat and ces; weekly
figures for fcr, churn, complaints, resolution_days and cost_to_serve), generated from a fixed seed
so every load gives the same database.

The data are drawn from a model with known truths, so the analysis has something real to find:
each unit has its own level of every metric; all units share a trend, a yearly season, a year-end
dip and two shocks (a system outage in May 2025, a storm in February 2026), so a plain
before/after comparison misleads and difference-in-differences against controls does not; and
pilots move their unit's metrics by the sizes in `_PILOTS` (`effects`) from the first day of their
pilot window — for as long as the change stays in place (decided roll-out or extension, or still
running) — and the units a change was rolled out to in waves (`_Wave`: one keeps the effect, one fades
in the autumn of 2026, so the rollout has a Holding and a Fading wave to find). Among them:
clear lifts (callback queue +8 NPS points, claim tracker -1.5 resolution days, video calls +10 NPS
points), no effect (store greeters, plain letters), a lift in first-contact resolution that costs
15% more to serve (same-day dispatch), and a two-week pilot in a small unit that cannot tell.
Controls are chosen so that no other pilot's window and no rollout falls inside a pilot's baseline
or pilot window, in its unit or its controls, but for one deliberate clash in Claims (plain letters
and the triage assistant overlap), and the decisions taken are the ones the data support.

NPS has a built-in link to two drivers, so the transfer function (`pilots.drivers`) has a true answer
to recover: a unit's weekly NPS level moves by NPS_PER_FCR_POINT for every percentage point of its
first-contact resolution and by NPS_PER_RESOLUTION_DAY for every day of its resolution time, whatever
moved them (shared movements, pilots, or the units' own week-to-week swings in `_DRIVER_SWINGS`, which
tell the two slopes apart). Satisfaction and effort have no link to NPS (a true slope of zero); the
transfer function still finds satisfaction moving against NPS, because with six units the pilots' steps
in satisfaction and in NPS overlap in time: an association, not a cause.

Targets are in the primary metric's own units (NPS points, shares 0-1, days, currency). A pilot's
`value_per_point` is what one unit of its primary metric is worth per customer per year, in
currency (an NPS point, a whole share of 1.0, a day, one unit of currency per week).

Its length is data: the six units, the fourteen pilots' stories and the model that makes their
truths, which the tests check one by one.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.special import ndtr

from . import batches, lifecycle, org, store
from .access import Actor
from .db import Database, Write
from .model import STATUSES, PilotDraft, Problem, ValidationError

SEED = 10  # fixed; with it no truth of the model is masked by sampling luck (tests check each)
# Three years: a year of history before the first pilot's baseline, so even the earliest pilot's interval can
# compare units' changes in earlier periods of the same length (see pilots.inference).
FIRST_WEEK = dt.date(2023, 11, 27)
WEEKS = 156  # the last week starts on 2026-11-16
LAST_DAY = FIRST_WEEK + dt.timedelta(weeks=WEEKS) - dt.timedelta(days=1)
ACTOR = Actor("demo-loader", "editor")
ORGANISATION = "Northwind Services (demo)"

# name, head, customers, annual revenue per customer
_UNITS = [
    ("Retail Stores", "Rita Alvarez", 420_000, 310.0),
    ("Contact Centre", "Chen Wei", 650_000, 280.0),
    ("Online & App", "Omar Haddad", 1_200_000, 180.0),
    ("Business Banking", "Birgit Nilsson", 38_000, 4_200.0),
    ("Claims", "Kwame Mensah", 150_000, 520.0),
    ("Field Service", "Fiona O'Brien", 90_000, 640.0),
]

# Survey answers per week (before seasonal variation), per unit in _UNITS order.
_ANSWERS_PER_WEEK = {
    "nps": [420, 520, 600, 90, 260, 220],
    "csat": [300, 380, 420, 70, 200, 170],
    "ces": [180, 260, 300, 50, 140, 120],
}
# Answer scales of the surveys: lowest, highest, spread of one answer around its unit-week level.
_SCALES = {"nps": (0, 10, 2.2), "csat": (1, 5, 1.0), "ces": (1, 7, 1.4)}
# Weekly volumes behind the weekly figures that carry n: contacts (fcr) and resolved cases.
_CONTACTS_PER_WEEK = [1500, 4000, 2500, 300, 900, 700]
_CASES_PER_WEEK = [900, 2500, 1800, 200, 600, 500]
_DAYS_SPREAD = 0.7  # sd of one case's resolution days, relative to the mean


@dataclass(frozen=True)
class _Behaviour:
    """How a metric moves over time. For relative metrics the shared movements are fractions of the
    typical unit's level and unit_sd a fraction of the unit's own level."""

    levels: tuple[float, ...]  # per unit, in the metric's reported units
    relative: bool
    trend: float  # change over the two years
    season: float  # amplitude of the yearly cycle (peak in spring)
    year_end: float  # extra in the weeks around the turn of the year
    common_sd: float  # week-to-week wobble shared by all units
    unit_sd: float  # week-to-week wobble of one unit
    shock: float  # at full severity of a shared shock


_BEHAVIOUR = {
    "nps": _Behaviour((28, 12, 35, 22, 5, 18), False, 4.0, 2.0, -4.0, 1.0, 0.8, -10.0),
    "csat": _Behaviour((.78, .70, .82, .75, .66, .72), False, .02, .01, -.03, .006, .005, -.06),
    "ces": _Behaviour((5.4, 4.6, 5.6, 5.0, 4.3, 4.9), False, .15, .05, -.15, .04, .03, -.4),
    "fcr": _Behaviour((.74, .68, .61, .72, .55, .63), False, .02, .01, -.02, .006, .006, -.05),
    "churn": _Behaviour((.0030, .0025, .0035, .0012, .0030, .0022), True, -.05, .05, .10, .03, .04, .25),
    "complaints": _Behaviour((1.2, 2.8, .9, 1.6, 4.5, 3.1), True, -.05, .05, .15, .04, .05, .4),
    "resolution_days": _Behaviour((2.5, 4.0, 3.2, 5.5, 12.0, 6.5), True, -.06, .04, .12, .02, .02, .2),
    "cost_to_serve": _Behaviour((3.2, 2.4, 1.4, 9.5, 6.4, 7.8), True, .03, .02, .03, .01, .015, .05),
}
# Shared shocks: week start and severity (the May 2025 outage lands inside two pilot windows).
_SHOCKS = {dt.date(2025, 5, 19): 1.0, dt.date(2025, 5, 26): 0.4, dt.date(2026, 2, 9): 0.7}

# The built-in link from the drivers to NPS (see the module docstring).
NPS_PER_FCR_POINT = 0.4  # NPS points per percentage point of first-contact resolution
NPS_PER_RESOLUTION_DAY = -2.0  # NPS points per day of resolution time
# Each unit's own swings of the two drivers from week to week (staffing, case mix): sd per unit in _UNITS
# order, in the metric's units. Independent from week to week, so a pilot's windows average them out, and
# small enough where a pilot tests that driver (dispatch, claim tracker) for its truths to hold.
_DRIVER_SWINGS = {"fcr": (0.03, 0.03, 0.05, 0.06, 0.03, 0.03),
                  "resolution_days": (0.5, 0.4, 0.6, 0.4, 0.6, 0.4)}
# The swings' own stream, so the level model's other draws stay as they were; with it every pilot's verdict
# is the one it had before the link.
DRIVER_SEED = 2


@dataclass(frozen=True)
class _Wave:
    """A rollout wave: its units get `share` of the pilot's effect from `start`; a fading wave's share
    falls in a straight line from `fades[0]` to `fades[2]` at `fades[1]`, and stays there."""

    units: tuple[str, ...]
    start: dt.date
    share: float = 1.0
    fades: tuple[dt.date, dt.date, float] | None = None

    def shares(self, weeks: np.ndarray) -> np.ndarray:
        """The share of the pilot's effect in the wave's units, week by week."""
        day = weeks.astype("datetime64[D]")
        share = np.where(day >= np.datetime64(self.start), self.share, 0.0)
        if self.fades:
            begin, end = (np.datetime64(d) for d in self.fades[:2])
            last = self.fades[2]
            done = np.clip((day - begin) / (end - begin), 0.0, 1.0)
            share = np.where(day >= begin, self.share + (last - self.share) * done, share)
        return share


@dataclass(frozen=True)
class _DemoPilot:
    draft: PilotDraft
    effects: dict[str, float]  # true effect per metric, in the metric's units
    status: str  # final status
    decision: tuple[str, str, dt.date] | None = None  # decision, rationale, decided on
    waves: tuple[_Wave, ...] = ()  # rollout waves, once rolled out

    def effect_end(self) -> dt.date:
        """Last day the change is in place in the pilot unit."""
        kept = self.status == "running" or (self.decision and self.decision[0] in ("roll_out", "extend"))
        return LAST_DAY if kept else self.draft.pilot_end


def _d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def _pilot(name, unit, metric, baseline, window, controls, *, status, effects=None, decision=None,
           waves=(), **details) -> _DemoPilot:
    draft = PilotDraft(
        name=name, unit=unit, primary_metric=metric,
        baseline_start=_d(baseline[0]), baseline_end=_d(baseline[1]),
        pilot_start=_d(window[0]), pilot_end=_d(window[1]), controls=list(controls),
        status=status if status in STATUSES[:4] else "evaluating",  # decisions are recorded afterwards
        released=status in ("decided", "rolled_out"), **details)
    if decision:
        decision = (decision[0], decision[1], _d(decision[2]))
    return _DemoPilot(draft, effects or {}, status, decision, tuple(waves))


_PILOTS = [
    _pilot("Callback instead of hold queue", "Contact Centre", "nps",
           ("2025-01-06", "2025-03-30"), ("2025-03-31", "2025-06-29"), ["Online & App", "Claims"],
           status="rolled_out", effects={"nps": 8.0, "fcr": 0.04},
           decision=("roll_out", "NPS rose about 8 points against Online & App and Claims through the May outage, "
                                 "above the 5-point target; first-contact resolution up and cost to serve flat.",
                     "2025-07-14"),
           # Rolled out in two waves: Retail Stores keeps the whole effect; Online & App had it until the
           # autumn of 2026, when it fell to a fifth (its call-back team was cut): a wave that is fading.
           # Both waves went live before the windows of the later pilots that compare with these units.
           waves=[_Wave(("Retail Stores",), _d("2025-12-08")),
                  _Wave(("Online & App",), _d("2025-12-22"), fades=(_d("2026-09-07"), _d("2026-10-05"), 0.2))],
           secondary_metrics=["fcr"], guardrail_metrics=["cost_to_serve"], target_effect=5.0,
           owner="Priya Natarajan", sponsor="Dana Whitfield (CCO)", journey_stage="Get help",
           barrier_type="operational", cost=180_000.0, value_per_point=0.9,
           hypothesis="Customers offered a callback instead of waiting on hold feel respected and recommend us more."),
    _pilot("Digital claim status tracker", "Claims", "resolution_days",
           ("2025-09-01", "2025-11-30"), ("2025-12-01", "2026-03-29"), ["Field Service", "Business Banking"],
           status="decided", effects={"resolution_days": -1.5, "ces": 0.3},
           decision=("roll_out", "Claims resolved more than a day sooner wing to wing against Field Service and "
                                 "Business Banking, beyond the one-day target; effort score better and "
                                 "complaints unchanged.", "2026-04-20"),
           secondary_metrics=["ces"], guardrail_metrics=["complaints"], target_effect=-1.0,
           owner="Tomasz Kowalski", sponsor="Kwame Mensah", journey_stage="Resolve a problem",
           barrier_type="technical", cost=420_000.0, value_per_point=6.0,
           hypothesis="Showing every step of a claim online stops customers chasing us and makes handlers close "
                      "claims without hand-off delays."),
    _pilot("Proactive delay texts", "Field Service", "csat",
           ("2026-01-05", "2026-03-29"), ("2026-03-30", "2026-06-28"), ["Retail Stores", "Online & App"],
           status="decided", effects={"csat": 0.025},
           decision=("extend", "Satisfaction looks better, but the interval still includes both no change and the "
                               "4-point target; extend by a quarter to collect more answers.",
                     "2026-07-13"),
           secondary_metrics=["nps"], guardrail_metrics=["complaints"], target_effect=0.04,
           owner="Liam Byrne", sponsor="Fiona O'Brien", journey_stage="Use the service",
           barrier_type="operational", cost=60_000.0, value_per_point=150.0,
           hypothesis="Telling customers about a late engineer before they notice turns a broken promise into a "
                      "kept one."),
    _pilot("In-store greeter programme", "Retail Stores", "nps",
           ("2025-07-07", "2025-08-31"), ("2025-09-01", "2025-11-30"),
           ["Online & App", "Contact Centre", "Business Banking"],
           status="decided",
           decision=("stop", "No change in NPS against Online & App, Contact Centre and Business Banking: "
                             "Retail's autumn dip was the same dip every unit saw.", "2025-12-15"),
           secondary_metrics=["csat"], guardrail_metrics=["cost_to_serve"], target_effect=5.0,
           owner="Sofia Marquez", sponsor="Rita Alvarez", journey_stage="Buy",
           barrier_type="cultural", cost=250_000.0, value_per_point=1.0,
           hypothesis="A greeter at the door makes a visit feel personal and lifts recommendation."),
    _pilot("Same-day engineer dispatch", "Field Service", "fcr",
           ("2025-03-03", "2025-05-25"), ("2025-05-26", "2025-08-24"), ["Claims", "Retail Stores"],
           status="decided", effects={"fcr": 0.08, "cost_to_serve": 1.2},
           decision=("stop", "First-contact resolution rose about 8 points, but cost to serve rose about 15% "
                             "against controls, well past the guardrail; not affordable at scale.", "2025-09-08"),
           secondary_metrics=["nps"], guardrail_metrics=["cost_to_serve"], target_effect=0.05,
           owner="Hamid Rahimi", sponsor="Fiona O'Brien", journey_stage="Get help",
           barrier_type="operational", cost=310_000.0, value_per_point=40.0,
           hypothesis="Sending an engineer the same day fixes more faults on the first contact."),
    _pilot("Relationship manager video calls", "Business Banking", "nps",
           ("2026-03-02", "2026-05-31"), ("2026-06-01", "2026-08-30"), ["Retail Stores", "Online & App"],
           status="evaluating", effects={"nps": 10.0},
           secondary_metrics=["ces"], guardrail_metrics=["cost_to_serve"], target_effect=5.0,
           owner="Ingrid Sørensen", sponsor="Birgit Nilsson", journey_stage="Use the service",
           barrier_type="technical", cost=140_000.0, value_per_point=12.0,
           hypothesis="Business clients who can see their relationship manager on video at short notice trust "
                      "us more."),
    _pilot("Plain-language claim letters", "Claims", "csat",
           ("2026-04-06", "2026-06-28"), ("2026-06-29", "2026-09-27"), ["Retail Stores"],
           status="evaluating",
           secondary_metrics=["complaints"], guardrail_metrics=["resolution_days"], target_effect=0.04,
           owner="Tomasz Kowalski", sponsor="Kwame Mensah", journey_stage="Resolve a problem",
           barrier_type="cultural", cost=45_000.0, value_per_point=200.0,
           hypothesis="Letters without jargon leave customers less confused and more satisfied."),
    _pilot("Welcome call for new business clients", "Business Banking", "nps",
           ("2026-10-19", "2026-11-01"), ("2026-11-02", "2026-11-15"), ["Retail Stores", "Contact Centre"],
           status="evaluating", effects={"nps": 3.0},
           guardrail_metrics=["cost_to_serve"], target_effect=5.0,
           owner="Ingrid Sørensen", sponsor="Birgit Nilsson", journey_stage="Join",
           barrier_type="cultural", cost=20_000.0, value_per_point=12.0,
           hypothesis="A personal call in the first week makes new business clients feel looked after."),
    _pilot("Self-service returns portal", "Online & App", "ces",
           ("2026-06-01", "2026-08-30"), ("2026-08-31", "2026-11-29"), ["Retail Stores", "Contact Centre"],
           status="running", effects={"ces": 0.3},
           secondary_metrics=["csat"], guardrail_metrics=["complaints"], target_effect=0.3,
           owner="Aiko Tanaka", sponsor="Omar Haddad", journey_stage="Resolve a problem",
           barrier_type="technical", cost=230_000.0, value_per_point=8.0,
           hypothesis="Customers who can start a return in the app without calling find it easier."),
    _pilot("Claims triage assistant", "Claims", "resolution_days",
           ("2026-07-06", "2026-08-30"), ("2026-08-31", "2027-01-31"), ["Field Service"],
           status="running", effects={"resolution_days": -0.6},
           guardrail_metrics=["complaints"], target_effect=-1.0,
           owner="Tomasz Kowalski", sponsor="Kwame Mensah", journey_stage="Resolve a problem",
           barrier_type="technical", cost=380_000.0, value_per_point=6.0,
           hypothesis="Routing each claim to the right handler on day one removes hand-offs."),
    _pilot("Branch appointment booking", "Retail Stores", "csat",
           ("2026-09-07", "2026-11-29"), ("2026-11-30", "2027-02-28"), ["Contact Centre", "Field Service"],
           status="baseline",
           guardrail_metrics=["cost_to_serve"], target_effect=0.04,
           owner="Sofia Marquez", sponsor="Rita Alvarez", journey_stage="Buy",
           barrier_type="operational", cost=90_000.0, value_per_point=120.0,
           hypothesis="Customers who book a time slot do not queue and leave more satisfied."),
    _pilot("Technician arrival tracking", "Field Service", "ces",
           ("2027-01-04", "2027-03-28"), ("2027-03-29", "2027-06-27"), ["Contact Centre", "Online & App"],
           status="proposed",
           secondary_metrics=["csat"], target_effect=0.3,
           owner="Liam Byrne", sponsor="Fiona O'Brien", journey_stage="Use the service",
           barrier_type="technical", cost=160_000.0, value_per_point=8.0,
           hypothesis="Seeing the engineer on a map removes the wait-at-home effort."),
    _pilot("Onboarding concierge for business clients", "Business Banking", "churn",
           ("2027-01-04", "2027-03-28"), ("2027-03-29", "2027-09-26"), ["Online & App", "Contact Centre"],
           status="proposed",
           secondary_metrics=["nps"], guardrail_metrics=["cost_to_serve"], target_effect=-0.0003,
           owner="Ingrid Sørensen", sponsor="Dana Whitfield (CCO)", journey_stage="Join",
           barrier_type="cultural", cost=210_000.0, value_per_point=218_400.0,
           hypothesis="A named concierge for the first 90 days keeps new business clients from leaving."),
    _pilot("One owner for every complaint", "Contact Centre", "resolution_days",
           ("2025-12-01", "2026-02-22"), ("2026-02-23", "2026-05-24"), [],
           status="evaluating", effects={"resolution_days": -1.0},
           secondary_metrics=["complaints"], guardrail_metrics=["cost_to_serve"], target_effect=-0.5,
           owner="Priya Natarajan", sponsor="Chen Wei", journey_stage="Resolve a problem",
           barrier_type="cultural", cost=75_000.0, value_per_point=3.0,
           hypothesis="One person who owns a complaint from first contact to resolution ends the "
                      "department-to-department bounce."),
]


@dataclass(frozen=True)
class DemoSummary:
    units: int
    pilots: int
    survey_answers: int
    weekly_figures: int
    statuses: dict[str, int] = field(default_factory=dict)

    def __str__(self) -> str:
        return (f"{self.units} business units, {self.pilots} pilots, {self.survey_answers:,} survey answers "
                f"and {self.weekly_figures:,} weekly figures")


# ---------------------------------------------------------------- the model behind the data

def _week_starts() -> np.ndarray:
    return np.datetime64(FIRST_WEEK) + 7 * np.arange(WEEKS)


def _true_levels(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Per metric, the true level of every unit (rows) in every week (columns), effects included."""
    weeks = _week_starts()
    dates = pd.DatetimeIndex(weeks)
    progress = np.arange(WEEKS) / (WEEKS - 1)
    cycle = np.sin(2 * np.pi * (dates.day_of_year.to_numpy() - 40) / 365.25)
    year_end = ((dates.month == 12) & (dates.day >= 15)) | ((dates.month == 1) & (dates.day <= 10))
    shock = np.array([_SHOCKS.get(d, 0.0) for d in weeks.astype("datetime64[D]").tolist()])
    unit_index = {name: i for i, (name, *_rest) in enumerate(_UNITS)}
    levels = {}
    for key, b in _BEHAVIOUR.items():
        common = b.trend * progress + b.season * cycle + b.year_end * year_end + b.shock * shock \
            + rng.normal(0.0, b.common_sd, WEEKS)
        own = rng.normal(0.0, b.unit_sd, (len(_UNITS), WEEKS))
        base = np.array(b.levels, dtype=float)[:, None]
        if b.relative:
            # Shared movements are the same amount in every unit (sized on the typical unit), so that
            # trends are parallel in the metric's own units, the scale on which DiD compares them.
            levels[key] = base + common[None, :] * base.mean() + own * base
        else:
            levels[key] = base + common[None, :] + own
    for pilot in _PILOTS:
        inside = (weeks >= np.datetime64(pilot.draft.pilot_start)) & (weeks <= np.datetime64(pilot.effect_end()))
        shares = [(pilot.draft.unit, inside.astype(float))]
        shares += [(name, wave.shares(weeks)) for wave in pilot.waves for name in wave.units]
        for unit, share in shares:
            for key, size in pilot.effects.items():
                levels[key][unit_index[unit]] += size * share
    _link_nps_to_drivers(levels)
    return levels


def _link_nps_to_drivers(levels: dict[str, np.ndarray]) -> None:
    """Adds the units' own driver swings, then moves each unit's NPS with its drivers' distance from
    their usual level, by the built-in slopes."""
    swings = np.random.default_rng([SEED, DRIVER_SEED])
    for key, sds in _DRIVER_SWINGS.items():
        levels[key] += np.array(sds)[:, None] * swings.standard_normal(levels[key].shape)
    usual = {key: np.array(_BEHAVIOUR[key].levels)[:, None] for key in _DRIVER_SWINGS}
    levels["nps"] += (100 * NPS_PER_FCR_POINT * (levels["fcr"] - usual["fcr"])
                      + NPS_PER_RESOLUTION_DAY * (levels["resolution_days"] - usual["resolution_days"]))


def _answer_metric(key: str, mu: np.ndarray) -> np.ndarray:
    """The metric a survey's answers give when each answer is round(mu + spread * normal), clipped."""
    low, high, spread = _SCALES[key]
    points = np.arange(low, high + 1)
    upper = np.append(points[:-1] + 0.5, np.inf)
    lower = np.insert(points[1:] - 0.5, 0, -np.inf)
    share = ndtr((upper[None, :] - mu[:, None]) / spread) - ndtr((lower[None, :] - mu[:, None]) / spread)
    scores = {"nps": np.where(points >= 9, 100.0, np.where(points <= 6, -100.0, 0.0)),
              "csat": (points >= high - 1).astype(float), "ces": points.astype(float)}[key]
    return share @ scores


def _answer_centres(key: str, level: np.ndarray) -> np.ndarray:
    """The centre of the answers that gives each metric level (the inverse of `_answer_metric`)."""
    low, high, _ = _SCALES[key]
    grid = np.linspace(low - 4, high + 4, 4001)
    return np.interp(level, _answer_metric(key, grid), grid)


def _survey_answers(rng: np.random.Generator, key: str, level: np.ndarray) -> pd.DataFrame:
    low, high, spread = _SCALES[key]
    volume = np.array(_ANSWERS_PER_WEEK[key], dtype=float)[:, None]
    counts = rng.poisson(volume * np.ones((1, WEEKS))).ravel()
    centre = np.repeat(_answer_centres(key, level).ravel(), counts)
    answers = np.clip(np.rint(centre + spread * rng.standard_normal(centre.size)), low, high)
    unit_row = np.repeat(np.repeat(np.arange(len(_UNITS)), WEEKS), counts)
    week = np.repeat(np.tile(np.arange(WEEKS), len(_UNITS)), counts)
    days = 7 * week + rng.integers(0, 7, centre.size)
    return pd.DataFrame({
        "unit_row": unit_row,
        "metric_key": key,
        "obs_date": np.datetime64(FIRST_WEEK) + days.astype("timedelta64[D]"),
        "value": answers,
    })


def _weekly_figures(rng: np.random.Generator, key: str, level: np.ndarray) -> pd.DataFrame:
    """What the unit reports each week: the true level seen through its sampling noise."""
    shape = level.shape
    n = sd = None
    if key == "fcr":
        n = rng.poisson(np.array(_CONTACTS_PER_WEEK, dtype=float)[:, None] * np.ones(shape))
        value = rng.binomial(n, np.clip(level, 0.01, 0.99)) / n
        sd = np.sqrt(value * (1 - value))
    elif key == "resolution_days":
        n = rng.poisson(np.array(_CASES_PER_WEEK, dtype=float)[:, None] * np.ones(shape))
        spread = _DAYS_SPREAD * level
        value = level + spread / np.sqrt(n) * rng.standard_normal(shape)
        sd = spread * np.exp(0.05 * rng.standard_normal(shape))
    elif key == "complaints":
        thousands = np.array([u[2] for u in _UNITS], dtype=float)[:, None] / 1000
        value = rng.poisson(level * thousands) / thousands
    else:
        value = np.clip(level, 0.0, None)
    cells = len(_UNITS) * WEEKS
    return pd.DataFrame({
        "unit_row": np.repeat(np.arange(len(_UNITS)), WEEKS),
        "metric_key": key,
        "period_start": np.tile(_week_starts(), len(_UNITS)),
        "value": np.round(value.ravel(), 6 if key == "churn" else 4),
        "n": pd.array(np.full(cells, None) if n is None else n.ravel(), dtype="Int64"),
        "sd": pd.array(np.full(cells, None) if sd is None else np.round(sd.ravel(), 4), dtype="Float64"),
    })


# ---------------------------------------------------------------- loading

def _insert(w: Write, kind: str, source: str, frame: pd.DataFrame, unit_ids: list[int]) -> int:
    frame = frame.assign(unit_id=np.asarray(unit_ids)[frame.pop("unit_row").to_numpy()])
    w.cursor.register("demo_rows", frame)
    try:
        batches.insert_batch(w, kind, source, "demo_rows")
    finally:
        w.cursor.unregister("demo_rows")
    return len(frame)


def load_demo(db: Database, actor: Actor = ACTOR) -> DemoSummary:
    """Load the demo organisation into an empty database, in one transaction (all of it or none);
    refused if the database already holds units. `actor` asks for it (the CCO office only); the
    demo's own records are written by the demo loader."""
    with db.write(actor, "load the demo organisation") as w:
        summary = _load_demo(db)
        w.audit("load", "demo", None, after=dataclasses.asdict(summary))
        return summary


def _load_demo(db: Database) -> DemoSummary:
    if not store.is_empty(db):
        raise ValidationError([Problem(
            "the database already holds business units; the demo organisation loads only into an empty "
            "database (use a new --db file)", column="database", value=str(db.path))])
    rng = np.random.default_rng(SEED)
    org.save_org_settings(db, ACTOR, org.OrgSettings(name=ORGANISATION, currency_code="EUR", currency_symbol="€",
                                                     prepared_by="CCO office"), expected_version=None)
    unit_ids = [store.add_unit(db, ACTOR, name, head=head, customers=customers,
                               revenue_per_customer=revenue).unit_id
                for name, head, customers, revenue in _UNITS]
    levels = _true_levels(rng)
    answers = figures = 0
    with db.write(ACTOR, "load the demo's data") as w:
        for key in _SCALES:
            answers += _insert(w, "observations", f"demo: survey answers ({key})",
                               _survey_answers(rng, key, levels[key]), unit_ids)
        for key in _BEHAVIOUR:
            if key not in _SCALES:
                figures += _insert(w, "measurements", f"demo: weekly figures ({key})",
                                   _weekly_figures(rng, key, levels[key]), unit_ids)
    statuses: dict[str, int] = {}
    for pilot in _PILOTS:
        pilot_id = store.add_pilot(db, ACTOR, pilot.draft)
        if pilot.decision:
            decision, rationale, decided_on = pilot.decision
            lifecycle.record_decision(db, ACTOR, pilot_id, decision, rationale, "Steering committee", decided_on)
        for wave in pilot.waves:
            lifecycle.record_rollout(db, ACTOR, pilot_id, wave.units, wave.start)
        statuses[pilot.status] = statuses.get(pilot.status, 0) + 1
    return DemoSummary(len(unit_ids), len(_PILOTS), answers, figures, statuses)
