"""AppTest of the shell and of the Portfolio, Pilots, Pilot and Settings pages on a small organisation."""

import dataclasses

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from apptests import open_page
from pilots import analysis, batches, store, wording
from pilots.access import COMMAND_LINE


@pytest.fixture
def app_db(small_org, monkeypatch):
    """The small organisation with weekly NPS answers for its pilot and control units."""
    db, pilot_id = small_org
    rng = np.random.default_rng(7)
    units = store.unit_lookup(store.list_units(db, COMMAND_LINE))
    days = pd.date_range("2024-12-02", "2025-08-31", freq="D")
    frames = [pd.DataFrame({"unit_id": units[name].unit_id, "metric_key": "nps",
                            "obs_date": np.repeat(days.date, 5), "value": rng.integers(0, 11, 5 * len(days))})
              for name in ("retail", "online")]
    with db.write(COMMAND_LINE, "load test answers") as w:
        w.cursor.register("answers", pd.concat(frames, ignore_index=True))
        batches.insert_batch(w, "observations", "test answers", "answers")
    monkeypatch.setenv("PILOTS_DB", str(db.path))
    return db, pilot_id


def run_page(page: str, **query) -> AppTest:
    return open_page(page, timeout=30, **query)


def test_portfolio_counts_pilots_and_links_to_them(app_db):
    at = run_page("portfolio")
    assert at.title[0].value == "Portfolio"
    assert {m.label: m.value for m in at.metric}["Pilots"] == "1"
    assert at.get("vega_lite_chart"), "the pipeline chart is shown"
    assert not at.success, "no demo message: the database was not empty"


def test_register_filters_by_unit_and_status(app_db):
    at = run_page("pilots")
    assert at.title[0].value == "Pilots"
    assert at.dataframe[0].value["pilot"].tolist() == ["Callback instead of hold queue"]
    at.multiselect[0].select("Online").run()
    assert at.dataframe[0].value.empty
    at.multiselect[0].unselect("Online").select("Retail").run()
    at.multiselect[1].select("running").run()
    assert at.dataframe[0].value.empty
    at.multiselect[1].unselect("running").select("proposed").run()
    assert len(at.dataframe[0].value) == 1


def test_register_shows_each_pilots_primary_effect_so_far(demo_org):
    at = run_page("pilots")
    table = at.dataframe[0].value.set_index("id")
    for pilot in store.list_pilots(demo_org, COMMAND_LINE):
        case = analysis.analyze_pilot(demo_org, COMMAND_LINE, pilot.pilot_id)
        primary = case.primary
        shown = table.loc[pilot.pilot_id, "effect so far (95% interval)"]
        assert table.loc[pilot.pilot_id, "leads with"] == wording.state(case).label  # as on the pilot's page
        if primary.has_estimate:
            first = float(shown.split()[0].replace("−", "-").replace(",", ""))
            assert first == pytest.approx(primary.effect, rel=0.01, abs=0.01), (pilot.name, shown)
        else:
            assert shown == "—"


def test_pilot_page_shows_facts_and_the_timeline(app_db):
    _, pilot_id = app_db
    at = run_page("pilot", id=str(pilot_id))
    assert at.title[0].value == "Callback instead of hold queue"
    assert "Online" in " ".join(m.value for m in at.markdown)
    charts = at.get("vega_lite_chart")
    assert charts, "the primary metric's timeline is drawn"
    assert not at.info


def test_pilot_page_with_unknown_id_says_so(app_db):
    at = run_page("pilot", id="999")
    assert at.warning[0].value.startswith("No pilot with that number is yours to see")
    shown = [e.value for kind in ("title", "markdown", "caption", "warning", "error", "info") for e in at.get(kind)]
    assert not any("999" in text for text in shown), "the address's words are never repeated"


def test_settings_adds_a_unit_and_refuses_a_duplicate(app_db):
    db, _ = app_db
    at = run_page("settings")
    form_inputs = at.text_input
    form_inputs[0].input("Field Service")
    at.button[0].click().run()
    assert "Field Service" in [u.name for u in store.list_units(db, COMMAND_LINE)]
    at.text_input[0].input("retail")
    at.button[0].click().run()
    assert "nothing was saved" in at.error[0].value
    problems = [d.value for d in at.dataframe if "reason" in d.value.columns]
    assert "exists already" in problems[0]["reason"].iloc[0]


def test_settings_corrects_a_unit_and_refuses_a_save_over_someone_elses(app_db):
    db, _ = app_db
    at = run_page("settings")
    retail = store.unit_lookup(store.list_units(db, COMMAND_LINE))["retail"]
    at.selectbox(key="correct_unit").select(retail.unit_id).run()

    def save_customers(customers: int) -> None:
        correcting = [n for n in at.number_input if n.label == "Customers"][-1]
        correcting.set_value(customers)
        next(b for b in at.button if b.label == "Save unit").click().run()
        assert not at.exception

    store.update_unit(db, COMMAND_LINE, dataclasses.replace(retail, head="Someone else"))  # another session
    save_customers(150_000)
    assert "changed by someone else" in " ".join(str(d.value["reason"].iloc[0]) for d in at.dataframe
                                                   if "reason" in d.value.columns)
    stored = store.unit_lookup(store.list_units(db, COMMAND_LINE))["retail"]
    assert (stored.head, stored.customers) == ("Someone else", retail.customers)  # nothing overwritten

    at.run()  # the form now starts from the stored unit
    save_customers(150_000)
    assert "Saved Retail" in at.success[0].value
    stored = store.unit_lookup(store.list_units(db, COMMAND_LINE))["retail"]
    assert (stored.head, stored.customers) == ("Someone else", 150_000)
