"""A pilot's case file: everything the surfaces show of one pilot, in one place. The stored pilot, its
case (`pilots.analysis`: results, checks, verdict, value, rollout waves), the week-by-week series of
its primary metric for its units against its controls, and the data coverage of those units with the
pilot's windows. Built once per data version and actor (each part when it is first read, so a page
that never opens the coverage never reads it), and shared by the Pilot page, present mode and the
decks, so they show the same thing and none of them reads the database on its own."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from . import analysis, ingest, store, trends
from .access import Actor
from .db import Database

if TYPE_CHECKING:
    import pandas as pd


class CaseFile:
    def __init__(self, db: Database, actor: Actor, pilot_id: int):
        self.pilot = store.get_pilot(db, actor, pilot_id)  # as stored, and visible to the actor
        self.case = analysis.analyze_pilot(db, actor, pilot_id)
        self._db, self._actor = db, actor

    @cached_property
    def series(self) -> pd.DataFrame:
        """The primary metric week by week: the pilot's units and its controls (trends.pilot_series)."""
        return trends.pilot_series(self._db, self._actor, self.pilot, self.pilot.primary_metric)

    @cached_property
    def coverage(self) -> pd.DataFrame:
        """What data of the primary metric the pilot's units and controls have, month by month."""
        found = ingest.coverage(self._db, self._actor, self.pilot.primary_metric)
        return found[found["unit"].isin([*self.pilot.unit_names, *self.pilot.control_unit_names])]

    @cached_property
    def windows(self) -> pd.DataFrame:
        """This pilot's baseline and pilot windows per unit, for the coverage chart."""
        found = ingest.pilot_windows(self._db, self._actor, self.pilot.primary_metric)
        return found[found["pilot_id"] == self.pilot.pilot_id]  # names need not be unique


def case_file(db: Database, actor: Actor, pilot_id: int) -> CaseFile:
    """The case file of a pilot the actor may see, cached until the data change (AccessDenied or
    LookupError otherwise)."""
    store.get_pilot(db, actor, pilot_id)  # the check comes first, whatever is cached
    return analysis.cached(("case file", pilot_id), db, actor, lambda: CaseFile(db, actor, pilot_id))
