"""Plain data of the domain: business units, metric definitions, pilots, and the problems that
make input invalid. No database and no user interface here."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal, get_args

# The vocabulary, typed: each Literal is what the database's CHECK constraints accept (migrations),
# and the tuple beside it lists the same words in order, for menus, choices and checks.
Status = Literal["proposed", "baseline", "running", "evaluating", "decided", "rolled_out"]
Decision = Literal["roll_out", "extend", "stop"]
Aggregation = Literal["mean", "nps", "top2box", "rate"]
Direction = Literal["higher", "lower"]
BarrierType = Literal["operational", "cultural", "technical"]
MetricRole = Literal["primary", "secondary", "guardrail"]

STATUSES: tuple[Status, ...] = get_args(Status)
DECISIONS: tuple[Decision, ...] = get_args(Decision)
AGGREGATIONS: tuple[Aggregation, ...] = get_args(Aggregation)
DIRECTIONS: tuple[Direction, ...] = get_args(Direction)
BARRIER_TYPES: tuple[BarrierType, ...] = get_args(BarrierType)


@dataclass(frozen=True)
class Unit:
    unit_id: int
    name: str
    head: str | None = None
    customers: int | None = None
    revenue_per_customer: float | None = None


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    unit: str
    direction: Direction
    aggregation: Aggregation
    min_value: float | None = None
    max_value: float | None = None
    whole_numbers: bool = False
    role_hint: str | None = None
    description: str = ""

    def period_range(self) -> tuple[float | None, float | None]:
        """The valid range of one period's aggregate (a measurement), as opposed to one answer."""
        if self.aggregation == "nps":
            return (-100.0, 100.0)
        if self.aggregation in ("top2box", "rate"):
            return (0.0, 1.0)
        return (self.min_value, self.max_value)

    def is_improvement(self, change: float) -> bool:
        """Whether a change of this size is good news, given the metric's direction of good."""
        return change > 0 if self.direction == "higher" else change < 0

    @property
    def is_share(self) -> bool:
        return self.aggregation in ("top2box", "rate")


@dataclass(frozen=True)
class Pilot:
    pilot_id: int
    name: str
    unit_id: int
    unit_name: str
    baseline_start: dt.date
    baseline_end: dt.date
    pilot_start: dt.date
    pilot_end: dt.date
    primary_metric: str
    status: Status = "proposed"
    owner: str = ""
    sponsor: str = ""
    hypothesis: str = ""
    journey_stage: str = ""
    barrier_type: BarrierType | None = None
    target_effect: float | None = None
    cost: float | None = None
    randomised: bool = False
    released: bool = False
    decision: Decision | None = None
    decision_rationale: str | None = None
    value_per_point: float | None = None
    version: int = 1
    control_unit_ids: tuple[int, ...] = ()
    control_unit_names: tuple[str, ...] = ()
    secondary_metrics: tuple[str, ...] = ()
    guardrail_metrics: tuple[str, ...] = ()
    further_unit_ids: tuple[int, ...] = ()  # units the pilot also started in, beside its lead unit
    further_unit_names: tuple[str, ...] = ()

    @property
    def unit_ids(self) -> tuple[int, ...]:
        """Every unit the pilot runs in, the lead unit first."""
        return (self.unit_id, *self.further_unit_ids)

    @property
    def unit_names(self) -> tuple[str, ...]:
        return (self.unit_name, *self.further_unit_names)

    @property
    def units_label(self) -> str:
        """The pilot's units for people: "Claims", "Claims and Field Service", "A, B and C"."""
        names = self.unit_names
        return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"

    def metric_roles(self) -> list[tuple[str, MetricRole]]:
        """(metric key, role) for every metric of the pilot, primary first."""
        roles: list[tuple[str, MetricRole]] = [(self.primary_metric, "primary")]
        return (
            roles
            + [(key, "secondary") for key in self.secondary_metrics]
            + [(key, "guardrail") for key in self.guardrail_metrics]
        )


@dataclass(frozen=True)
class RolloutWave:
    """A rollout wave as recorded: the units that adopted a pilot's change on one date."""

    start: dt.date
    unit_ids: tuple[int, ...]
    unit_names: tuple[str, ...]


@dataclass
class PilotDraft:
    """What a person gives to register a pilot: units by name, metrics by key."""

    name: str
    unit: str  # the lead unit
    primary_metric: str
    baseline_start: dt.date
    baseline_end: dt.date
    pilot_start: dt.date
    pilot_end: dt.date
    controls: list[str] = field(default_factory=list)
    secondary_metrics: list[str] = field(default_factory=list)
    guardrail_metrics: list[str] = field(default_factory=list)
    target_effect: float | None = None
    owner: str = ""
    sponsor: str = ""
    hypothesis: str = ""
    journey_stage: str = ""
    barrier_type: str | None = None
    cost: float | None = None
    randomised: bool = False
    released: bool = False
    status: Status = "proposed"
    value_per_point: float | None = None
    further_units: list[str] = field(default_factory=list)  # units it also starts in, beside the lead

    @property
    def units(self) -> list[str]:
        return [self.unit, *self.further_units]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with input: where (row of the file, 1 = first data row; column or field)
    and why."""

    reason: str
    row: int | None = None
    column: str | None = None
    value: str | None = None

    def __str__(self) -> str:
        where = []
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column '{self.column}'")
        shown = f" (value '{self.value}')" if self.value not in (None, "") else ""
        return f"{', '.join(where) + ': ' if where else ''}{self.reason}{shown}"


class ValidationError(ValueError):
    """Input refused; nothing was written. Carries every problem found."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("; ".join(str(p) for p in self.problems[:20]) + (
            f"; and {len(self.problems) - 20} more" if len(self.problems) > 20 else ""))
