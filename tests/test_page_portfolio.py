"""AppTest of the Portfolio page on the demo organisation: the forest plot of every evaluated pilot
coloured by its verdict and linking to it, filters by unit, state and metric, the projected value
of rolling out the winners, and the way into the portfolio's present mode."""


from streamlit.testing.v1 import AppTest

from apptest_charts import chart_rows
from apptests import open_page, read
from pilots import analysis, org, store, wording
from pilots.access import COMMAND_LINE


def open_portfolio(view_as: str = "editor") -> AppTest:
    at = open_page("portfolio", view_as)
    assert at.title[0].value == "Portfolio"
    return at


def forest_rows(at: AppTest) -> list[dict]:
    """The pilots the forest plot draws: the rows of its data that link to a pilot."""
    found = chart_rows(at, "href")
    return found[0].to_dict("records") if found else []


def expected_forest(db, keep=lambda row: True) -> dict[int, str]:
    """Pilot id -> verdict of every pilot with an estimate and a target, by the analysis itself."""
    effects = analysis.portfolio_effects(db, COMMAND_LINE)
    effects = effects[effects["effect"].notna() & effects["target"].notna()]
    return {int(row.pilot_id): analysis.analyze_pilot(db, COMMAND_LINE, int(row.pilot_id)).verdict
            for row in effects.itertuples() if keep(row)}


def test_forest_plot_shows_every_evaluated_pilot_with_its_verdict_and_link(demo_org):
    at = open_portfolio()
    rows = forest_rows(at)
    expected = expected_forest(demo_org)
    assert len(expected) >= 5
    assert {int(r["pilot_id"]): r["verdict"] for r in rows} == expected
    assert all(r["href"] == f"pilot?id={r['pilot_id']}" for r in rows)


def test_filters_change_the_forest_plot(demo_org):
    at = open_portfolio()
    everything = len(forest_rows(at))
    at.multiselect[0].select("Claims").run()
    claims = forest_rows(at)
    assert {r["unit"] for r in claims} == {"Claims"}
    assert len(claims) == len(expected_forest(demo_org, lambda row: row.unit == "Claims")) < everything
    at.multiselect[1].select("evaluating").run()
    assert len(forest_rows(at)) == len(expected_forest(
        demo_org, lambda row: row.unit == "Claims" and row.status == "evaluating"))
    at.multiselect[0].unselect("Claims").run()
    at.multiselect[1].unselect("evaluating").run()
    at.multiselect[2].select("nps").run()
    assert len(forest_rows(at)) == len(expected_forest(demo_org, lambda row: row.metric == "nps")) < everything
    assert {m.label: m.value for m in at.metric}["Pilots"] == str(
        sum(p.primary_metric == "nps" for p in store.list_pilots(demo_org, COMMAND_LINE)))


def test_projected_value_sums_what_leads_with_roll_out(demo_org):
    at = open_portfolio()
    pilots = store.list_pilots(demo_org, COMMAND_LINE)
    cases = [analysis.analyze_pilot(demo_org, COMMAND_LINE, p.pilot_id) for p in pilots]
    total = sum(c.rollout_value.total for c in cases
                if wording.state(c).label == "Roll out" and c.rollout_value.total is not None)
    assert total > 0
    shown = read({m.label: m.value for m in at.metric}["Rollout value a year"])
    assert shown == org.format_money(total, org.org_settings(demo_org))


def test_present_portfolio_and_its_deck_are_offered(demo_org):
    at = open_portfolio(view_as="steering")
    links = [e.proto for e in at.get("page_link")]
    assert any(link.page == "present" and not link.query_string for link in links)
    assert {"Deck (PowerPoint)", "Deck (PDF)"} <= {e.proto.label for e in at.get("download_button")}


def test_rolled_out_pilots_say_whether_the_effect_held(demo_org):
    at = open_portfolio()
    held = [c for c in analysis.analyze_pilots(demo_org, COMMAND_LINE) if c.rollout is not None]
    assert held, "the demo has a pilot rolled out in waves"
    labels = [read(link.label) for link in at.get("page_link")]
    for case in held:
        assert read(f"{case.pilot} — rollout: {case.rollout.verdict}") in labels
        for line in wording.needs_a_look(case):
            assert any(read(line) in read(w.body) for w in at.warning)
