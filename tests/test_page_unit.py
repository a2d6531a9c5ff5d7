"""AppTest of the Unit page on the demo organisation: a unit head sees only their unit, its pilots
with the analysis' verdicts, and its customer metrics against the rest of the organisation."""


from streamlit.testing.v1 import AppTest

from apptest_charts import chart_frames
from apptests import open_page, read
from pilots import analysis, store, trends, wording
from pilots.access import COMMAND_LINE


def open_unit(view_as: str = "editor", **query) -> AppTest:
    return open_page("unit", view_as, **query)


def trend_groups(at: AppTest) -> set[str]:
    return set(chart_frames(at.get("vega_lite_chart")[0])[0]["group"])


def test_a_unit_head_sees_their_unit_only_with_its_verdicts(demo_org):
    units = store.unit_lookup(store.list_units(demo_org, COMMAND_LINE))
    claims = units["claims"]
    at = open_unit(view_as=f"unit:{claims.unit_id}", unit=str(units["retail stores"].unit_id))
    unit_choice = next(s for s in at.selectbox if s.label == "Business unit")
    assert unit_choice.options == ["Claims"]
    pilots = store.list_pilots(demo_org, COMMAND_LINE, unit_ids=[claims.unit_id])
    links = [e.proto for e in at.get("page_link") if e.proto.page == "pilot"]
    assert [read(link.label) for link in links] == [p.name for p in pilots]
    # each pilot as it reads everywhere: the decision once taken, else the evidence's verdict
    states = [wording.state(analysis.analyze_pilot(demo_org, COMMAND_LINE, p.pilot_id)) for p in pilots]
    assert any(s.decided for s in states) and any(not s.decided for s in states)
    assert [m.value for m in at.markdown if m.value.endswith("]") and "-background[" in m.value] == [
        f":{s.colour}-background[{s.label}]" for s in states]
    assert trend_groups(at) == {"Claims", trends.REST_OF_ORGANISATION}


def test_steering_picks_any_unit_and_metric(demo_org):
    at = open_unit(view_as="steering")
    unit_choice = next(s for s in at.selectbox if s.label == "Business unit")
    assert len(unit_choice.options) == len(store.list_units(demo_org, COMMAND_LINE))
    unit_choice.select("Contact Centre").run()
    assert trend_groups(at) == {"Contact Centre", trends.REST_OF_ORGANISATION}
    metric = next(s for s in at.selectbox if s.label == "Metric")
    assert metric.value == "nps"
    keys = {m.label: m.key for m in store.list_metrics(demo_org)}
    other = next(o for o in metric.options if o != "Net Promoter Score")
    metric.select(keys[other]).run()
    spec = at.get("vega_lite_chart")[0].proto.spec
    assert other in spec and "Net Promoter Score" not in spec
