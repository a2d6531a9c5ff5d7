"""Every door locked in the domain: each public function of `pilots` that reads or writes the
database takes the acting user and checks it. The test enumerates the package's functions, so a new
one cannot slip through: it must appear below, called as a unit head on another unit's pilot, and be
refused, or show only what that unit head may see; or be listed as open to everyone, with the reason."""

import dataclasses
import datetime as dt
import importlib
import inspect
import pkgutil

import pandas as pd
import pytest

import pilots
from pilots.access import COMMAND_LINE, AccessDenied, Actor
from pilots.db import Database
from pilots.model import Metric, PilotDraft

from pilots import (analysis, audit, backup, casefile, cells, comments, demo, drivers, export, ingest, lifecycle, org,
                    planning, scorecard, scorecard_pdf, slides, store, trends, users)

OPEN_TO_EVERY_ROLE = {
    "cells.data_version": "a cache key: row counts and the latest audit id, nothing of any unit",
    "store.is_empty": "whether any unit exists, asked before there is anyone to act (the demo loader)",
    "store.table_counts": "row counts, for the command line's summary and tests; nothing of any unit",
    "store.list_metrics": "the metric catalogue is the same for every role: every form and chart names metrics",
    "store.metric_lookup": "the metric catalogue, keyed",
    "org.org_settings": "the organisation's name, currency and logo are on every deck every role exports",
    "users.actor_for": "turns a mapped e-mail into the acting user: there is no actor before it",
    "users.actor_for_identity": "turns a sign-in into the acting user: there is no actor before it",
    "ingest.template": "a blank file to fill in: header and example rows, named units and metrics only",
    "ingest.template_frame": "the template as a table",
    "drivers.north_star_of": "which metric is the north star: the metric catalogue, the same for every role",
}

START = dt.date(2025, 1, 6)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    db = Database(tmp_path_factory.mktemp("doors") / "pilots.duckdb")
    units = {name: store.add_unit(db, COMMAND_LINE, name, customers=1000, revenue_per_customer=100.0)
             for name in ("Retail", "Online", "Phone")}
    rows = [f"{unit},nps,{START + dt.timedelta(days=d)},{(d * 7 + i) % 11}"
            for unit in units for d in range(0, 180) for i in range(3)]
    ingest.import_file(db, COMMAND_LINE, ("unit,metric,date,value\n" + "\n".join(rows) + "\n").encode(),
                       "observations", file_name="answers.csv")
    ingest.import_file(db, COMMAND_LINE, b"unit,metric,period_start,value,n\nOnline,fcr,2025-08-04,0.5,100\n"
                       b"Retail,fcr,2025-08-04,0.6,100\n", "measurements", file_name="figures.csv")

    def register(name, unit):
        return store.add_pilot(db, COMMAND_LINE, PilotDraft(
            name=name, unit=unit, primary_metric="nps", baseline_start=START, baseline_end=dt.date(2025, 3, 30),
            pilot_start=dt.date(2025, 3, 31), pilot_end=dt.date(2025, 6, 29), controls=["Phone"], target_effect=5))

    theirs = register("Chat for returns", "Online")
    mine = register("Callback", "Retail")
    rita = Actor("rita@example.com", "unit_head", frozenset({units["Retail"].unit_id}))
    yield db, rita, units, store.get_pilot(db, COMMAND_LINE, theirs), mine
    db.close()


def refused(call):
    def check(world):
        db = world[0]
        before = store.table_counts(db)
        with pytest.raises(AccessDenied):
            call(*world)
        after = store.table_counts(db)
        assert {k: v for k, v in after.items() if k != "audit_log"} == \
            {k: v for k, v in before.items() if k != "audit_log"}
    return check


def only_own(call, shows_theirs):
    """Called as Rita, the result must not show the other unit's pilot (`shows_theirs` says whether it does)."""
    def check(world):
        result = call(*world)
        assert not shows_theirs(result, world), result
    return check


def _names(frame: pd.DataFrame, column: str) -> set:
    return set(frame[column]) if column in frame else set()


THEIR_PILOT = "Chat for returns"

CALLS_AS_RITA_ON_ONLINE = {
    "analysis.analyze_pilot": refused(lambda db, rita, u, theirs, mine: analysis.analyze_pilot(db, rita, theirs.pilot_id)),
    "analysis.analyze_pilots": only_own(lambda db, rita, u, theirs, mine: analysis.analyze_pilots(db, rita),
                                        lambda cases, w: THEIR_PILOT in {c.pilot for c in cases}),
    "analysis.portfolio_effects": only_own(lambda db, rita, u, theirs, mine: analysis.portfolio_effects(db, rita),
                                           lambda frame, w: THEIR_PILOT in _names(frame, "pilot")),
    "audit.audit_choices": refused(lambda db, rita, *_: audit.audit_choices(db, rita)),
    "audit.count_audit": refused(lambda db, rita, *_: audit.count_audit(db, rita)),
    "audit.list_audit": refused(lambda db, rita, *_: audit.list_audit(db, rita)),
    "audit.verify_chain": refused(lambda db, rita, *_: audit.verify_chain(db, rita)),
    "audit.decisions": refused(lambda db, rita, u, theirs, mine: audit.decisions(db, rita, theirs.pilot_id)),
    "backup.make_backup": refused(lambda db, rita, *_: backup.make_backup(db, rita)),
    "cells.decision_dates": refused(lambda db, rita, u, theirs, mine: cells.decision_dates(db, rita, [theirs])),
    "cells.design_cells": refused(lambda db, rita, u, theirs, mine: cells.design_cells(
        db, rita, "nps", u["Online"].unit_id, [u["Phone"].unit_id], (START, dt.date(2025, 3, 30)),
        (dt.date(2025, 3, 31), dt.date(2025, 6, 29)))),
    "cells.last_data_date": refused(lambda db, rita, u, theirs, mine: cells.last_data_date(
        db, rita, "nps", u["Online"].unit_id, dt.date.max)),
    "cells.load_assumptions": refused(lambda db, rita, u, theirs, mine: cells.load_assumptions(db, rita, [theirs])),
    "cells.overlapping_pilots": refused(lambda db, rita, u, theirs, mine: cells.overlapping_pilots(db, rita, [theirs])),
    # A pilot object forged to look like Rita's own pilot but pointing at Online's: judged as stored.
    "cells.pilot_cells": refused(lambda db, rita, u, theirs, mine: cells.pilot_cells(
        db, rita, [dataclasses.replace(theirs, unit_id=u["Retail"].unit_id)])),
    "cells.save_assumptions": refused(lambda db, rita, u, theirs, mine: cells.save_assumptions(
        db, rita, theirs.pilot_id, cells.RolloutAssumptions(1.0))),
    "comments.add_comment": refused(lambda db, rita, u, theirs, mine: comments.add_comment(db, rita, theirs.pilot_id, "x")),
    "comments.list_comments": refused(lambda db, rita, u, theirs, mine: comments.list_comments(db, rita, theirs.pilot_id)),
    "demo.load_demo": refused(lambda db, rita, *_: demo.load_demo(db, rita)),
    "export.deck_cover": only_own(lambda db, rita, *_: export.deck_cover(db, rita),
                                  lambda cover, w: THEIR_PILOT in str(cover)),
    "export.export_pilot": refused(lambda db, rita, u, theirs, mine: export.export_pilot(db, rita, theirs.pilot_id, "pptx")),
    "export.export_portfolio": only_own(lambda db, rita, *_: export.export_portfolio(db, rita, "pdf"),
                                        lambda pdf, w: THEIR_PILOT.encode() in pdf),
    "ingest.commit": refused(lambda db, rita, *_: ingest.commit(db, rita, ingest.validate_file(
        db, COMMAND_LINE, b"unit,metric,date,value\nOnline,nps,2025-08-01,9\n", "observations", file_name="x.csv"))),
    "ingest.coverage": only_own(lambda db, rita, *_: ingest.coverage(db, rita),
                                lambda frame, w: "Online" in _names(frame, "unit")),
    "ingest.get_batch": refused(lambda db, rita, *_: ingest.get_batch(db, rita, 1)),
    "ingest.import_file": refused(lambda db, rita, *_: ingest.import_file(
        db, rita, b"unit,metric,date,value\nOnline,nps,2025-08-01,9\n", "observations", file_name="x.csv")),
    "ingest.list_batches": refused(lambda db, rita, *_: ingest.list_batches(db, rita)),
    "ingest.measurements_frame": only_own(lambda db, rita, *_: ingest.measurements_frame(db, rita, "Online"),
                                          lambda frame, w: len(frame) > 0),
    "ingest.pilot_windows": only_own(lambda db, rita, *_: ingest.pilot_windows(db, rita, "nps"),
                                     lambda frame, w: THEIR_PILOT in _names(frame, "pilot")),
    "ingest.redo_batch": refused(lambda db, rita, *_: ingest.redo_batch(db, rita, 1)),
    "ingest.save_measurements": refused(lambda db, rita, *_: ingest.save_measurements(db, rita, pd.DataFrame(
        {"unit": ["Online"], "metric": ["fcr"], "period_start": ["2025-08-04"], "value": [0.5]}))),
    "ingest.undo_batch": refused(lambda db, rita, *_: ingest.undo_batch(db, rita, 1)),
    "ingest.validate_file": refused(lambda db, rita, *_: ingest.validate_file(
        db, rita, b"unit,metric,date,value\nOnline,nps,2025-08-01,9\n", "observations", file_name="x.csv")),
    "org.save_org_settings": refused(lambda db, rita, *_: org.save_org_settings(
        db, rita, org.OrgSettings(name="Mine"), expected_version=None)),
    "planning.weeks_needed": refused(lambda db, rita, u, theirs, mine: planning.weeks_needed(db, rita, theirs.pilot_id)),
    "slides.pilot_slides": refused(lambda db, rita, u, theirs, mine: slides.pilot_slides(db, rita, theirs.pilot_id)),
    "slides.portfolio_frame": only_own(lambda db, rita, *_: slides.portfolio_frame(db, rita),
                                       lambda frame, w: THEIR_PILOT in _names(frame, "pilot")),
    "slides.portfolio_slides": only_own(lambda db, rita, *_: slides.portfolio_slides(db, rita),
                                        lambda deck, w: THEIR_PILOT in repr(deck)),
    "store.add_metric": refused(lambda db, rita, *_: store.add_metric(db, rita, Metric(
        "wait", "Wait", "min", "lower", "mean"))),
    "store.add_pilot": refused(lambda db, rita, u, theirs, mine: store.add_pilot(
        db, rita, dataclasses.replace(store.pilot_draft(theirs), name="Mine now"))),
    "store.add_unit": refused(lambda db, rita, *_: store.add_unit(db, rita, "Branches")),
    "store.get_pilot": refused(lambda db, rita, u, theirs, mine: store.get_pilot(db, rita, theirs.pilot_id)),
    "store.list_pilots": only_own(lambda db, rita, *_: store.list_pilots(db, rita),
                                  lambda found, w: THEIR_PILOT in {p.name for p in found}),
    "store.list_units": only_own(lambda db, rita, *_: store.list_units(db, rita),
                                 lambda found, w: any(x.customers is not None for x in found
                                                      if x.unit_id not in w[1].unit_ids)),
    "trends.org_series": refused(lambda db, rita, u, *_: trends.org_series(
        db, rita, "nps", u["Online"].unit_id, START, dt.date(2025, 6, 29))),
    "trends.pilot_series": refused(lambda db, rita, u, theirs, mine: trends.pilot_series(
        db, rita, dataclasses.replace(theirs, unit_id=u["Retail"].unit_id), "nps")),
    "store.pipeline": only_own(lambda db, rita, *_: store.pipeline(db, rita),
                               lambda frame, w: "Online" in _names(frame, "unit")),
    "lifecycle.record_decision": refused(lambda db, rita, u, theirs, mine: lifecycle.record_decision(
        db, rita, theirs.pilot_id, "stop", "no", "Board", dt.date(2025, 7, 1))),
    "lifecycle.record_rollout": refused(lambda db, rita, u, theirs, mine: lifecycle.record_rollout(
        db, rita, theirs.pilot_id, ["Retail"], dt.date(2025, 8, 1))),
    "lifecycle.set_status": refused(lambda db, rita, u, theirs, mine: lifecycle.set_status(db, rita, theirs.pilot_id, "running")),
    "store.stored_pilots": refused(lambda db, rita, u, theirs, mine: store.stored_pilots(db, rita, [theirs])),
    "store.update_pilot": refused(lambda db, rita, u, theirs, mine: store.update_pilot(
        db, rita, theirs.pilot_id, store.pilot_draft(theirs), theirs.version)),
    "store.update_unit": refused(lambda db, rita, u, *_: store.update_unit(
        db, rita, dataclasses.replace(u["Online"], head="Rita"))),
    "analysis.cached": only_own(lambda db, rita, *_: [
        analysis.cached("door probe", db, COMMAND_LINE, lambda: store.list_pilots(db, COMMAND_LINE)),
        analysis.cached("door probe", db, rita, lambda: store.list_pilots(db, rita))][1],
        lambda found, w: THEIR_PILOT in {p.name for p in found}),  # no role is served another's entry
    "casefile.case_file": refused(lambda db, rita, u, theirs, mine: casefile.case_file(db, rita, theirs.pilot_id)),
    "store.rollout_waves": only_own(lambda db, rita, u, theirs, mine: _waves_after_rolling_out(db, rita, theirs),
                                    lambda found, w: w[3].pilot_id in found),
    "trends.unit_week_panel": refused(lambda db, rita, u, *_: trends.unit_week_panel(
        db, rita, ["nps"], [u["Online"].unit_id])),
    "drivers.transfer_function": only_own(lambda db, rita, *_: _panel_units(db, rita),
                                          lambda units, w: units - set(w[1].unit_ids)),
    "drivers.value_per_north_star_point": only_own(
        lambda db, rita, u, theirs, mine: [store.update_pilot(db, COMMAND_LINE, theirs.pilot_id, dataclasses.replace(
            store.pilot_draft(theirs), value_per_point=7.0), store.get_pilot(db, COMMAND_LINE, theirs.pilot_id).version),
            drivers.value_per_north_star_point(db, rita, "nps")][1], lambda value, w: value == 7.0),
    "scorecard.monthly_card": refused(lambda db, rita, u, *_: scorecard.monthly_card(db, rita, "2025-05",
                                                                                     u["Online"].unit_id)),
    "scorecard.months_with_data": refused(lambda db, rita, u, *_: scorecard.months_with_data(db, rita,
                                                                                             u["Online"].unit_id)),
    "scorecard.last_complete_month": refused(lambda db, rita, u, *_: scorecard.last_complete_month(
        db, rita, u["Online"].unit_id)),
    "scorecard_pdf.export_scorecard": refused(lambda db, rita, *_: scorecard_pdf.export_scorecard(
        db, rita, "2025-05", "Online")),
    "users.list_users": refused(lambda db, rita, *_: users.list_users(db, rita)),
    "users.remove_user": refused(lambda db, rita, *_: users.remove_user(db, rita, "cco@example.com")),
    "users.set_user": refused(lambda db, rita, *_: users.set_user(db, rita, "rita@example.com", "editor")),
}


def _waves_after_rolling_out(db, actor, pilot):
    """The waves the actor sees once the CCO office has rolled `pilot` out to a first wave."""
    lifecycle.record_decision(db, COMMAND_LINE, pilot.pilot_id, "roll_out", "Lift", "Board", dt.date(2025, 7, 1))
    lifecycle.record_rollout(db, COMMAND_LINE, pilot.pilot_id, ["Phone"], dt.date(2025, 8, 4))
    assert pilot.pilot_id in store.rollout_waves(db, COMMAND_LINE)
    return store.rollout_waves(db, actor)


def _panel_units(db, actor) -> set[int]:
    """The units the driver analysis reads for an actor: it refuses a panel of fewer than five units,
    so the door is checked on the panel it reads."""
    with pytest.raises(pilots.model.ValidationError, match="at least 5 business units"):
        drivers.transfer_function(db, actor, "nps", ["fcr"])
    return set(trends.unit_week_panel(db, actor, ["nps", "fcr"])["unit_id"])


def public_functions_reading_the_database() -> set[str]:
    found = set()
    for module_info in pkgutil.iter_modules(pilots.__path__):
        if module_info.name in ("__main__", "cli"):  # the command line acts through the functions below
            continue
        module = importlib.import_module(f"pilots.{module_info.name}")
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if not name.startswith("_") and function.__module__ == module.__name__ \
                    and "db" in inspect.signature(function).parameters:
                found.add(f"{module_info.name}.{name}")
    return found


def test_every_public_function_is_either_checked_below_or_open_to_every_role_for_a_reason():
    assert public_functions_reading_the_database() == set(CALLS_AS_RITA_ON_ONLINE) | set(OPEN_TO_EVERY_ROLE)


def test_those_open_to_every_role_take_no_acting_user_and_those_checked_do():
    for qualified in public_functions_reading_the_database():
        module, name = qualified.split(".")
        takes_actor = "actor" in inspect.signature(getattr(importlib.import_module(f"pilots.{module}"), name)).parameters
        assert takes_actor == (qualified in CALLS_AS_RITA_ON_ONLINE), qualified


@pytest.mark.parametrize("qualified", sorted(CALLS_AS_RITA_ON_ONLINE))
def test_a_unit_head_is_refused_or_sees_only_their_own(world, qualified):
    CALLS_AS_RITA_ON_ONLINE[qualified](world)


def test_the_same_calls_work_for_the_unit_head_on_their_own_pilot(world):
    """The refusals above are about the unit, not a broken call: Rita reaches her own pilot."""
    db, rita, units, theirs, mine = world
    assert analysis.analyze_pilot(db, rita, mine).pilot_id == mine
    assert comments.add_comment(db, rita, mine, "on my own pilot").body == "on my own pilot"
    assert not trends.pilot_series(db, rita, store.get_pilot(db, rita, mine), "nps").empty
    assert export.export_pilot(db, rita, mine, "pptx")[:2] == b"PK"
    assert set(ingest.measurements_frame(db, rita)["unit"]) == {"Retail"}
    assert [u.customers for u in store.list_units(db, rita) if u.name == "Retail"] == [1000]


def test_unit_figures_open_to_unit_heads_when_the_cco_office_says_so(world):
    db, rita, *_ = world
    current = org.org_settings(db)
    org.save_org_settings(db, COMMAND_LINE, dataclasses.replace(current, unit_figures_for_unit_heads=True),
                          expected_version=current.version)
    try:
        assert all(u.customers == 1000 for u in store.list_units(db, rita))
    finally:
        org.save_org_settings(db, COMMAND_LINE, dataclasses.replace(current, unit_figures_for_unit_heads=False),
                              expected_version=current.version + 1)
    assert [u.customers for u in store.list_units(db, rita)].count(None) == 2
