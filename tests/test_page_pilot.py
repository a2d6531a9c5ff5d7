"""AppTest of the Pilot page on the demo organisation: the case for rollout as the analysis makes it,
its charts (each tab drawn once opened), checks, assumptions (editable by editors only), planning,
the statistician's detail and data coverage (drawn once opened) and the way into present mode."""


import pytest
from streamlit.testing.v1 import AppTest

from apptest_charts import chart_frames, chart_rows
from apptests import open_page, read
from pilots import analysis, cells, org, planning, store, trends, wording
from pilots.access import COMMAND_LINE


def open_pilot(pilot_id: int, view_as: str = "editor") -> AppTest:
    return open_page("pilot", view_as, id=str(pilot_id))


def opened(at: AppTest, key: str, value=True) -> AppTest:
    """The page after a click on a tab (`value`, its label) or an expander (True) keyed `key`."""
    at.session_state[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def markdown_text(at: AppTest) -> str:
    return read(" ".join(m.value for m in at.markdown))


def pilot_named(db, name: str):
    return next(p for p in store.list_pilots(db, COMMAND_LINE) if p.name == name)


def metrics_of(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


@pytest.mark.parametrize("name", ["Digital claim status tracker", "Same-day engineer dispatch",
                                  "Plain-language claim letters", "Proactive delay texts"])
def test_headline_is_the_analysis_verdict_with_its_reasons(demo_org, name):
    pilot = pilot_named(demo_org, name)
    case = analysis.analyze_pilot(demo_org, COMMAND_LINE, pilot.pilot_id)
    at = open_pilot(pilot.pilot_id)
    assert read(at.title[0].value) == pilot.name
    shown = metrics_of(at)
    status = wording.state(case)  # a decided pilot leads with the decision
    assert shown["Decision" if status.decided else "Verdict"] == status.label
    shares = case.primary.aggregation in ("top2box", "rate")  # shares read as percentage points
    effect = shown["Effect, percentage points" if shares else f"Effect, {case.primary.unit}"]
    expected = 100 * case.primary.effect if shares else case.primary.effect
    assert float(effect.replace("−", "-").replace(",", "")) == pytest.approx(expected, rel=0.01, abs=0.005)
    text = markdown_text(at)
    for reason in case.reasons:
        assert reason in text


def test_charts_of_the_case_are_drawn_one_tab_at_a_time(demo_org):
    pilot = pilot_named(demo_org, "Digital claim status tracker")
    case = analysis.analyze_pilot(demo_org, COMMAND_LINE, pilot.pilot_id)
    at = open_pilot(pilot.pilot_id)
    tab = f"evidence_{pilot.pilot_id}"
    assert [t.label for t in at.tabs] == ["Week by week", "Before and after", "Every metric against its target"]
    assert len(at.get("vega_lite_chart")) == 1, "the first screen draws the open tab's chart only"
    timeline = next(f for f in chart_rows(at, "group") if "week" in f.columns)
    assert set(timeline["group"]) == {pilot.unit_name, trends.CONTROL_GROUP}

    opened(at, tab, "Before and after")
    assert len(at.get("vega_lite_chart")) == 1
    cells = next(f for f in chart_rows(at, "arm") if "mean" in f.columns and len(f) == 4)
    assert sorted(cells["mean"].round(9)) == sorted(round(case.primary.cell(name).mean, 9)
                                                    for name in analysis.CELL_NAMES)
    opened(at, tab, "Every metric against its target")
    labels = " ".join(" ".join(map(str, f.to_numpy().ravel())) for c in at.get("vega_lite_chart")
                      for f in chart_frames(c))
    for metric in case.metrics:
        assert metric.label in labels
    assert not chart_rows(at, "volume"), "data coverage waits until its expander is opened"
    opened(at, f"coverage_{pilot.pilot_id}")
    coverage = chart_rows(at, "volume")
    assert coverage, "the data coverage heatmap"
    assert set(coverage[0]["unit"]) == {pilot.unit_name, *pilot.control_unit_names}


def test_checks_are_listed_in_plain_words(demo_org):
    pilot = pilot_named(demo_org, "Plain-language claim letters")
    case = analysis.analyze_pilot(demo_org, COMMAND_LINE, pilot.pilot_id)
    at = open_pilot(pilot.pilot_id)
    blocking = [c.message for c in case.checks if c.severity == "blocking"]
    assert blocking
    errors = read(" ".join(e.value for e in at.error))
    warnings = read(" ".join(w.value for w in at.warning))
    assert all(message in errors for message in blocking)
    assert all(c.message in warnings for c in case.checks if c.severity == "caution")
    assert not at.success


def test_editor_saves_assumptions_and_the_value_follows(demo_org):
    pilot = pilot_named(demo_org, "Digital claim status tracker")
    at = open_pilot(pilot.pilot_id)
    before = metrics_of(at)["Rollout value a year"]
    at.number_input[0].set_value(3.0 * (pilot.value_per_point or 1.0))
    at.slider[0].set_value(0.5)
    at.button(key="FormSubmitter:assumptions-Save assumptions").click().run()
    assert not at.exception
    stored = store.get_pilot(demo_org, COMMAND_LINE, pilot.pilot_id)
    saved = cells.load_assumptions(demo_org, COMMAND_LINE, [stored])[pilot.pilot_id]
    assert saved.value_per_point == pytest.approx(3.0 * (pilot.value_per_point or 1.0))
    assert saved.realisation == 0.5
    case = analysis.analyze_pilot(demo_org, COMMAND_LINE, pilot.pilot_id)
    after = read(metrics_of(at)["Rollout value a year"])
    assert after != read(before)
    assert after == org.format_money(case.rollout_value.total, org.org_settings(demo_org)) and after.startswith("€")


def test_steering_sees_the_assumptions_but_no_editor(demo_org):
    pilot = pilot_named(demo_org, "Digital claim status tracker")
    at = open_pilot(pilot.pilot_id, view_as="steering")
    case = analysis.analyze_pilot(demo_org, COMMAND_LINE, pilot.pilot_id)
    assert metrics_of(at)["Decision"] == wording.state(case).label
    assert not at.number_input and not at.slider
    assert "Save assumptions" not in [b.label for b in at.button]
    assert any("set by the CCO office" in m.value for m in at.markdown)


def test_a_unit_head_cannot_open_another_units_pilot(demo_org):
    units = store.unit_lookup(store.list_units(demo_org, COMMAND_LINE))
    pilot = pilot_named(demo_org, "Digital claim status tracker")   # in Claims
    retail = units["retail stores"].unit_id
    at = open_pilot(pilot.pilot_id, view_as=f"unit:{retail}")
    assert at.warning[0].value == "No pilot with that number is yours to see; the first of yours is shown instead."
    retail_pilots = {p.name for p in store.list_pilots(demo_org, COMMAND_LINE) if p.unit_id == retail}
    assert read(at.title[0].value) in retail_pilots


def test_a_proposed_pilot_shows_how_long_it_must_run(demo_org):
    pilot = next(p for p in store.list_pilots(demo_org, COMMAND_LINE) if p.status == "proposed")
    plan = planning.weeks_needed(demo_org, COMMAND_LINE, pilot.pilot_id)
    at = open_pilot(pilot.pilot_id)
    assert metrics_of(at)["Verdict"] == "Plan"  # a plan, not a verdict, before the window has run
    text = markdown_text(at)
    assert f"**{plan.weeks_each_window} weeks each**" in text
    assert plan.pilot_weeks is not None and f"**{plan.pilot_weeks} weeks**" in text


def test_present_mode_and_deck_are_offered(demo_org):
    pilot = pilot_named(demo_org, "Digital claim status tracker")
    at = open_pilot(pilot.pilot_id, view_as="steering")
    links = [e.proto for e in at.get("page_link")]
    assert any(link.page == "present" and link.query_string == f"pilot={pilot.pilot_id}" for link in links)
    labels = [e.proto.label for e in at.get("download_button")]
    assert {"Deck (PowerPoint)", "Deck (PDF)", "PNG", "SVG"} <= set(labels)


def test_the_drift_aware_interval_and_the_synthetic_twin_are_shown_in_words(demo_org):
    pilot = pilot_named(demo_org, "In-store greeter programme")  # three control units
    case = analysis.analyze_pilot(demo_org, COMMAND_LINE, pilot.pilot_id)
    twin = case.primary.synthetic
    assert twin is not None and set(twin.weights) == set(pilot.control_unit_names)
    at = open_pilot(pilot.pilot_id)
    assert "allowing for how much units drift on their own" in markdown_text(at)
    assert "Against a synthetic twin" in [t.label for t in at.tabs]
    opened(at, f"evidence_{pilot.pilot_id}", "Against a synthetic twin")
    biggest = max(twin.weights, key=twin.weights.get)
    assert f"The synthetic twin of {pilot.unit_name} is {twin.weights[biggest]:.0%} {biggest}" in markdown_text(at)
    assert len(at.get("vega_lite_chart")) == 2, "the twin and the placebo test"
    captions = read(" ".join(c.value for c in at.caption))
    assert f"ranks {twin.placebo_rank} of {twin.placebo_units}" in captions
    assert f"the smallest possible chance is 1 in {twin.placebo_units}" in captions
    # the statistician's detail sits one click below, and is built only then
    expander = next(e for e in at.expander if e.label.startswith("How we know"))
    assert not expander.markdown
    opened(at, f"how_{pilot.pilot_id}")
    expander = next(e for e in at.expander if e.label.startswith("How we know"))
    detail = read(" ".join(m.value for m in expander.markdown))
    assert "Drift." in detail and f"{case.primary.replicate_df} degrees of freedom" in detail


def test_a_rolled_out_pilot_shows_whether_the_effect_held_in_each_wave(demo_org):
    pilot = next(p for p in store.list_pilots(demo_org, COMMAND_LINE) if p.status == "rolled_out")
    case = analysis.analyze_pilot(demo_org, COMMAND_LINE, pilot.pilot_id)
    found = case.rollout
    at = open_pilot(pilot.pilot_id)
    shown = markdown_text(at)
    assert f"Rollout: {found.verdict}" in shown
    assert read(wording.rollout_sentence(found, case.primary.label, case.primary.unit,
                                         case.primary.aggregation)) in shown
    waves = next(d.value for d in at.dataframe if "wave" in d.value.columns)
    assert list(waves["wave"]) == [w.label for w in found.waves]
    assert list(waves["state"]) == [w.state for w in found.waves]
    assert waves["effect"].tolist()[1:] == pytest.approx([w.effect for w in found.waves[1:]])
    assert [read(w.body) for w in at.warning if "needs a look" in read(w.body)] == [
        read(f"{w.label} ({', '.join(w.units)}) needs a look: {w.reason}.") for w in found.needs_a_look]
    # The event study is one tab of the evidence, drawn when opened, from the rollout's own points.
    assert "Did it hold?" in [t.label for t in at.tabs]
    opened(at, f"evidence_{pilot.pilot_id}", "Did it hold?")
    points = next(f for f in chart_rows(at, "weeks") if "effect" in f.columns)
    assert points["weeks"].tolist() == [p.weeks_since for p in found.event_study]
    assert points["effect"].tolist() == pytest.approx([p.effect for p in found.event_study])


def test_a_driver_pilot_says_what_its_effect_means_for_the_north_star(demo_org):
    from pilots import drivers

    pilot = pilot_named(demo_org, "Digital claim status tracker")  # resolution days, a driver of NPS
    case = analysis.analyze_pilot(demo_org, COMMAND_LINE, pilot.pilot_id)
    at = open_pilot(pilot.pilot_id)
    key = f"north_star_{pilot.pilot_id}"
    assert "A change of" not in markdown_text(at), "the projection waits until its expander is opened"
    opened(at, key)
    link = drivers.transfer_function(demo_org, COMMAND_LINE, "nps")
    slope = link.slope("resolution_days")
    m = case.primary
    shown = markdown_text(at)
    assert read(drivers.slope_words(link, slope)) in shown
    assert read(drivers.projection_words(link, slope, m.effect, m.ci_low, m.ci_high)) in shown
    movement = drivers.projection(slope, m.effect, m.ci_low, m.ci_high)
    customers = sum(u.customers or 0 for u in case.rollout_value.units)
    per_point = drivers.value_per_north_star_point(demo_org, COMMAND_LINE, "nps")
    assert read(drivers.money_words(link, movement, per_point, customers, org.org_settings(demo_org))) in shown
    # A pilot judged on the north star itself has no such section.
    nps_pilot = pilot_named(demo_org, "Callback instead of hold queue")
    assert [e.label for e in at.expander if "What this means for" in e.label] == ["What this means for Net Promoter Score"]
    assert not [e for e in open_pilot(nps_pilot.pilot_id).expander if "What this means for" in e.label]
