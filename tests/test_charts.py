"""Chart functions: valid Vega-Lite, the expected marks and encodings, numbers that match an
independent computation, good news green and bad news vermillion whichever way the metric moves,
and no chart of more than MAX_ROWS rows."""

import datetime as dt
import re
import xml.etree.ElementTree as ET

import altair as alt
import numpy as np
import pandas as pd
import pytest
import vl_convert
from scipy import stats

from pilots import analysis, charts, inference, org, store, trends
from pilots.access import COMMAND_LINE, AccessDenied, Actor
from pilots.inference import Cell
from pilots.cells import RolloutAssumptions
from pilots.inference import unit_effect
from pilots.model import Direction
from pilots.value import RolloutValue, UnitValue
from vega import data_of, layers, mark_type


def from_cells(metric, cells: dict, target=None):
    """A metric result from a textbook's four cells (pilot unit 0, one control unit 1)."""
    keys = {"treated_before": (0, 0, "before"), "treated_after": (0, 0, "after"),
            "control_before": (1, 0, "before"), "control_after": (1, 0, "after")}
    effect = unit_effect({keys[name]: cell for name, cell in cells.items()}, (0,),
                         (1,) if "control_before" in cells else (), sd_known=True)
    return analysis.estimate_metric(metric, "primary", effect, target)


def synthetic(direction: Direction, change: float, seed: int = 1, target: float | None = None):
    """A metric result from drawn samples: controls flat, the pilot unit moved by `change`."""
    rng = np.random.default_rng(seed)
    metric = store.Metric("m", "Resolution days" if direction == "lower" else "Score", "days", direction, "mean")
    cells = {"treated_before": Cell.of(rng.normal(10, 2, 400)),
             "treated_after": Cell.of(rng.normal(10 + change, 2, 400)),
             "control_before": Cell.of(rng.normal(8, 2, 400)), "control_after": Cell.of(rng.normal(8, 2, 400))}
    return from_cells(metric, cells, target)


def effect_rule_colour(chart) -> str:
    """The colour of the bracket that marks the effect on a four-cells chart."""
    spec = chart.to_dict()
    rules = [l for l in layers(spec) if mark_type(l) == "rule" and "y2" in l.get("encoding", {})]
    assert len(rules) == 1
    return rules[0]["mark"]["color"]


# ---------------------------------------------------------------- four cells

def test_four_cells_means_and_intervals_match_an_independent_t_interval(demo):
    result = analysis.analyze_pilot(demo, COMMAND_LINE, 1).primary
    spec = charts.four_cells(result, width=600).to_dict()
    assert spec["$schema"].startswith("https://vega.github.io/schema/vega-lite/")
    marks = {mark_type(l) for l in layers(spec)}
    assert {"line", "errorbar", "point", "text", "rule"} <= marks
    bars = next(l for l in layers(spec) if mark_type(l) == "errorbar")
    assert bars["encoding"]["y"]["field"] == "low" and bars["encoding"]["y2"]["field"] == "high"
    rows = {(r["arm"], r["window"]): r for r in data_of(spec, bars)}
    assert len(rows) == 4
    for arm, arm_label in (("treated", "Pilot unit"), ("control", "Controls")):
        for phase, window in (("before", "Baseline"), ("after", "Pilot window")):
            cell = result.cell(f"{arm}_{phase}")
            low, high = stats.t.interval(0.95, cell.df, loc=cell.mean, scale=cell.sd / np.sqrt(cell.n))
            row = rows[(arm_label, window)]
            assert row["mean"] == pytest.approx(cell.mean)
            assert row["low"] == pytest.approx(low) and row["high"] == pytest.approx(high)


def test_four_cells_effect_colour_follows_the_direction_of_good():
    assert effect_rule_colour(charts.four_cells(synthetic("lower", -1.5))) == charts.GOOD_COLOUR   # days fell
    assert effect_rule_colour(charts.four_cells(synthetic("lower", +1.5))) == charts.BAD_COLOUR    # days rose
    assert effect_rule_colour(charts.four_cells(synthetic("higher", +1.5))) == charts.GOOD_COLOUR
    assert effect_rule_colour(charts.four_cells(synthetic("higher", -1.5))) == charts.BAD_COLOUR
    assert effect_rule_colour(charts.four_cells(synthetic("higher", 0.0))) == charts.NEUTRAL_COLOUR


def test_four_cells_labels_the_effect_in_two_lines_of_plain_text():
    result = synthetic("lower", -1.5)
    spec = charts.four_cells(result).to_dict()
    effect_texts = [l["mark"]["text"] for l in layers(spec)
                    if mark_type(l) == "text" and isinstance(l["mark"], dict) and "text" in l["mark"]]
    assert abs(result.effect) >= 1
    assert effect_texts == [["effect", f"{result.effect:+,.2f} days".replace("-", "−")]]  # a true minus sign


def test_four_cells_says_which_way_is_better_and_uses_the_base_size():
    spec = charts.four_cells(synthetic("lower", -1.5), base_size=26).to_dict()
    titles = [l["encoding"]["y"].get("title") for l in layers(spec) if "y" in l.get("encoding", {})]
    assert ["Resolution days", "(days) ↓ better"] in titles
    assert spec["config"]["axis"]["labelFontSize"] == 26


def test_four_cells_without_controls_or_data_still_draws():
    metric = store.Metric("m", "Score", "", "higher", "mean")
    rng = np.random.default_rng(3)
    before_after = from_cells(metric, {
        "treated_before": Cell.of(rng.normal(5, 1, 50)), "treated_after": Cell.of(rng.normal(6, 1, 50))})
    spec = charts.four_cells(before_after).to_dict()
    assert not [l for l in layers(spec) if mark_type(l) == "rule"]  # no counterfactual without controls
    empty = from_cells(metric, {})
    assert charts.four_cells(empty).to_dict()


# ---------------------------------------------------------------- effects against target

def test_effects_vs_target_reads_every_metric_in_its_direction_of_good(demo):
    case = analysis.analyze_pilot(demo, COMMAND_LINE, 5)  # same-day dispatch: fcr up, cost to serve up
    spec = charts.effects_vs_target(case, width=500).to_dict()
    rows = spec["vconcat"]
    assert len(rows) == len(case.metrics)
    for row, m in zip(rows, case.metrics, strict=True):
        g, low, high = m.oriented
        expected = "better" if low > 0 else "worse" if high < 0 else "unclear"
        point = next(l for l in row["layer"] if mark_type(l) == "point" and l["encoding"]["x"]["field"] == "g")
        (data,) = data_of(spec, point)
        assert data["reads"] == expected
        assert data["g"] == pytest.approx(g)
        colour = point["encoding"]["color"]["scale"]
        assert colour["range"][colour["domain"].index(expected)] == dict(
            zip(charts.EFFECT_CLASSES, charts.EFFECT_COLOURS, strict=True))[expected]
        flipped = "format(-datum.value" in point["encoding"]["x"]["axis"]["labelExpr"]
        assert flipped == (m.direction == "lower")
        assert (m.role == "guardrail") == ("GUARDRAIL" in row["title"]["text"])
    reads = {m.metric: charts.effects_frame(case).set_index("metric").loc[m.metric, "reads"] for m in case.metrics}
    assert reads["fcr"] == "better" and reads["cost_to_serve"] == "worse"  # cost rose: bad news


def test_effects_vs_target_marks_the_target_of_a_lower_is_better_primary_on_the_good_side(demo):
    case = analysis.analyze_pilot(demo, COMMAND_LINE, 2)  # claim tracker: resolution days fell
    assert case.primary.metric == "resolution_days" and case.primary.effect < 0
    frame = charts.effects_frame(case)
    primary = frame.iloc[0]
    assert primary["reads"] == "better" and primary["g"] > 0
    assert primary["target"] == pytest.approx(abs(case.target_effect))
    spec = charts.effects_vs_target(case).to_dict()
    diamonds = [l for l in layers(spec) if isinstance(l["mark"], dict) and l["mark"].get("shape") == "diamond"]
    assert len(diamonds) == 1 and diamonds[0]["encoding"]["x"]["field"] == "target"


@pytest.mark.parametrize("height", [360, 420, 480])
def test_effects_vs_target_given_a_height_fits_in_it_when_rendered(demo, height):
    case = analysis.analyze_pilot(demo, COMMAND_LINE, 1)
    assert len(case.metrics) == 3
    png = vl_convert.vegalite_to_png(charts.effects_vs_target(case, base_size=24, width=900, height=height).to_dict())
    drawn_height = int.from_bytes(png[20:24], "big")  # the IHDR chunk: width at 16-20, height at 20-24
    assert height * 0.75 < drawn_height <= height
    unbounded = vl_convert.vegalite_to_png(charts.effects_vs_target(case, base_size=24, width=900).to_dict())
    assert int.from_bytes(unbounded[20:24], "big") > height  # the fit did shrink it


# ---------------------------------------------------------------- forest plot

def test_forest_plot_shows_every_evaluated_pilot_as_share_of_target_with_links(demo):
    portfolio = analysis.portfolio_effects(demo, COMMAND_LINE)
    spec = charts.forest_plot(portfolio, width=500).to_dict()
    point = next(l for l in layers(spec) if mark_type(l) == "point")
    assert point["encoding"]["href"]["field"] == "href"
    assert point["encoding"]["color"]["field"] == "verdict"
    assert {t["field"] for t in point["encoding"]["tooltip"]} >= {"pilot", "effect_text", "verdict"}
    rows = {r["pilot_id"]: r for r in data_of(spec, point)}
    expected = portfolio[portfolio["effect"].notna() & portfolio["target"].notna()]
    assert set(rows) == set(expected["pilot_id"]) and len(rows) >= 8
    for p in expected.itertuples(index=False):
        g, low, high = inference.oriented(p.direction, p.effect, p.ci_low, p.ci_high)
        row = rows[p.pilot_id]
        assert row["href"] == f"pilot?id={p.pilot_id}"
        assert row["share"] == pytest.approx(100 * g / abs(p.target))
        assert row["share_low"] == pytest.approx(100 * low / abs(p.target))
        assert row["share_high"] == pytest.approx(100 * high / abs(p.target))
        assert row["verdict"] == p.verdict


def test_forest_plot_colours_by_the_verdict_column_and_names_pilots_without_target(demo):
    portfolio = analysis.portfolio_effects(demo, COMMAND_LINE)
    portfolio["verdict"] = "Inconclusive"
    portfolio.loc[portfolio["pilot_id"] == 1, "target"] = np.nan
    spec = charts.forest_plot(portfolio, title="Pilots").to_dict()
    point = next(l for l in layers(spec) if mark_type(l) == "point")
    assert {r["verdict"] for r in data_of(spec, point)} == {"Inconclusive"}
    assert 1 not in {r["pilot_id"] for r in data_of(spec, point)}
    assert "Callback instead of hold queue" in spec["title"]["subtitle"]


def drawn_texts(svg: str) -> list[tuple[str, float, float]]:
    """Every text a rendered SVG draws, with where it stands on the picture (x, y of its anchor),
    its groups' translations added up."""
    found = []

    def walk(element, x: float, y: float) -> None:
        moved = re.match(r"translate\(([-\d.e]+),([-\d.e]+)\)", element.get("transform", ""))
        if moved:
            x, y = x + float(moved[1]), y + float(moved[2])
        if element.tag.endswith("text") and element.text:
            found.append((element.text, x, y))
        for child in element:
            walk(child, x, y)

    walk(ET.fromstring(svg), 0.0, 0.0)
    return found


@pytest.mark.parametrize("base_size", [14, 24, 62])  # a page, a deck, present mode on a 4K screen
def test_forest_plot_names_no_change_and_target_above_the_first_row(demo, base_size):
    portfolio = analysis.portfolio_effects(demo, COMMAND_LINE)
    texts = drawn_texts(vl_convert.vegalite_to_svg(charts.forest_plot(portfolio, base_size=base_size,
                                                                      width=40 * base_size).to_dict()))
    where = {name: (x, y) for name, x, y in texts}
    rows = [y for name, _, y in texts if " — " in name]  # the pilots' rows, by their labels
    plot_top = min(rows) - base_size * 2.6 / 2
    for name in ("no change", "target"):
        assert where[name][1] <= plot_top + 0.5, f"'{name}' runs into the first row at {base_size} px"
    assert where["no change"][0] < where["target"][0]  # each on its own side of its line


def test_numbers_on_chart_axes_carry_a_true_minus_sign(demo):
    portfolio = analysis.portfolio_effects(demo, COMMAND_LINE)
    case = analysis.analyze_pilot(demo, COMMAND_LINE, 1)
    for chart in (charts.forest_plot(portfolio, width=500), charts.effects_vs_target(case, width=500)):
        labels = [name for name, _, _ in drawn_texts(vl_convert.vegalite_to_svg(chart.to_dict()))]
        assert any(re.fullmatch("\u2212[\\d.,]+%?", label) for label in labels), labels
        assert not any(re.fullmatch("-[\\d.,]+%?", label) for label in labels), labels


def test_lines_and_points_grow_with_the_type(demo):
    portfolio = analysis.portfolio_effects(demo, COMMAND_LINE)
    small, large = (charts.forest_plot(portfolio, base_size=size).to_dict() for size in (14, 56))
    for kind, channel in (("point", "x"), ("rule", "x2"), ("rule", "strokeDash")):  # a pilot, its interval, a line
        marks = [next(layer["mark"] for layer in layers(spec) if mark_type(layer) == kind
                      and channel in layer["encoding"]) for spec in (small, large)]
        assert marks[1]["strokeWidth"] == pytest.approx(4 * marks[0]["strokeWidth"])
        if kind == "point":
            assert marks[1]["size"] == pytest.approx(16 * marks[0]["size"])  # an area: its width grows 4 times
    for setting in ("tickWidth", "domainWidth", "tickSize"):
        assert large["config"]["axis"][setting] == pytest.approx(4 * small["config"]["axis"][setting])


# ---------------------------------------------------------------- unit trend and its data

def test_org_series_pools_every_other_unit(demo):
    units = {u.name: u.unit_id for u in store.list_units(demo, COMMAND_LINE)}
    start, end = dt.date(2025, 3, 3), dt.date(2025, 4, 27)
    series = trends.org_series(demo, COMMAND_LINE, "nps", units["Claims"], start, end)
    assert set(series["group"]) == {"Claims", trends.REST_OF_ORGANISATION}
    with demo.cursor() as cur:
        raw = cur.execute("SELECT unit_id, obs_date, score FROM scored_observations WHERE metric_key = 'nps' "
                          "AND obs_date BETWEEN ? AND ?", [start, end]).df()
    raw["week"] = pd.to_datetime(raw["obs_date"]).dt.to_period("W-SUN").dt.start_time
    rest = raw[raw["unit_id"] != units["Claims"]].groupby("week")["score"].agg(["mean", "size"])
    got = series[series["group"] == trends.REST_OF_ORGANISATION].set_index(pd.to_datetime(
        series.loc[series["group"] == trends.REST_OF_ORGANISATION, "week"]))
    assert np.allclose(got["value"].to_numpy(), rest["mean"].reindex(got.index).to_numpy())
    assert (got["n"].to_numpy() == rest["size"].reindex(got.index).to_numpy()).all()


def test_org_series_is_refused_for_another_units_head(demo):
    units = {u.name: u.unit_id for u in store.list_units(demo, COMMAND_LINE)}
    head = Actor("rita@example.com", "unit_head", frozenset({units["Retail Stores"]}))
    with pytest.raises(AccessDenied):
        trends.org_series(demo, head, "nps", units["Claims"], dt.date(2025, 1, 1), dt.date(2025, 2, 1))
    assert len(trends.org_series(demo, head, "nps", units["Retail Stores"], dt.date(2025, 1, 1), dt.date(2025, 2, 1)))


def test_unit_trend_draws_the_unit_against_the_organisation(demo):
    units = {u.name: u.unit_id for u in store.list_units(demo, COMMAND_LINE)}
    series = trends.org_series(demo, COMMAND_LINE, "ces", units["Online & App"], dt.date(2025, 1, 1),
                              dt.date(2025, 12, 31))
    spec = charts.unit_trend(series, "Online & App", "Customer effort", direction="lower").to_dict()
    (line,) = layers(spec)
    assert mark_type(line) == "line"
    assert line["encoding"]["x"]["field"] == "week" and line["encoding"]["y"]["field"] == "value"
    colour = line["encoding"]["color"]["scale"]
    assert colour["domain"][0] == "Online & App" and colour["range"][0] == charts.PILOT_COLOUR
    assert "↓ better" in line["encoding"]["y"]["title"]
    assert len(data_of(spec, line)) == len(series)


# ---------------------------------------------------------------- rollout value

def test_rollout_value_chart_has_a_bar_and_interval_per_unit(demo):
    value = analysis.analyze_pilot(demo, COMMAND_LINE, 1).rollout_value
    spec = charts.rollout_value_chart(value).to_dict()
    bar = next(l for l in layers(spec) if mark_type(l) == "bar")
    rule = next(l for l in layers(spec) if mark_type(l) == "rule")
    assert rule["encoding"]["x"]["field"] == "low" and rule["encoding"]["x2"]["field"] == "high"
    label = next(l for l in layers(spec) if mark_type(l) == "text")
    assert label["encoding"]["x"]["field"] == "value"  # the label sits on the bar, not at the end of its range
    rows = {r["unit"]: r for r in data_of(spec, bar)}
    assert set(rows) == {u.unit for u in value.units}
    for unit in value.units:
        assert rows[unit.unit]["value"] == pytest.approx(unit.value)
        assert rows[unit.unit]["reads"] == ("better" if unit.low > 0 else "worse" if unit.high < 0 else "unclear")
    titled = charts.rollout_value_chart(value, title="Value").to_dict()
    assert org.format_money(value.total) in titled["title"]["subtitle"]
    euros = charts.rollout_value_chart(value, currency=org.OrgSettings(currency_code="EUR", currency_symbol="€"))
    text = next(l for l in layers(euros.to_dict()) if mark_type(l) == "text")
    assert all(r["text"].lstrip("-").startswith("€") for r in data_of(euros.to_dict(), text))


def test_portfolio_value_total_is_called_a_range_not_an_interval():
    values = pd.DataFrame({"pilot": ["A", "B"], "value": [100_000.0, 50_000.0], "low": [20_000.0, -10_000.0],
                           "high": [180_000.0, 110_000.0]})
    subtitle = charts.portfolio_value_chart(values, title="Value").to_dict()["title"]["subtitle"]
    assert "Total 150.0k a year (range 10.0k to 290.0k" in subtitle
    assert "(95% interval" not in subtitle


# ---------------------------------------------------------------- the row limit

def too_many(columns: dict) -> pd.DataFrame:
    return pd.DataFrame({k: [v] * (charts.MAX_ROWS + 1) for k, v in columns.items()})


def test_every_chart_refuses_more_than_max_rows():
    week = pd.Timestamp("2025-01-06")
    with pytest.raises(ValueError, match="at most 5000"):
        charts.unit_trend(too_many({"group": "A", "week": week, "value": 1.0, "n": 1}), "A", "Score")
    with pytest.raises(ValueError, match="at most 5000"):
        charts.pilot_timeline(too_many({"group": "A", "week": week, "value": 1.0, "n": 1}), "A", "Score",
                              (dt.date(2025, 1, 1), dt.date(2025, 2, 1)), (dt.date(2025, 2, 2), dt.date(2025, 3, 1)))
    with pytest.raises(ValueError, match="at most 5000"):
        charts.forest_plot(too_many({"pilot_id": 1, "pilot": "p", "unit": "u", "status": "running", "metric": "nps",
                                     "direction": "higher", "effect": 1.0, "ci_low": 0.5, "ci_high": 1.5,
                                     "target": 1.0, "verdict": "Roll out"}))
    with pytest.raises(ValueError, match="at most 5000"):
        charts.portfolio_value_chart(too_many({"pilot": "p", "value": 1.0, "low": 0.5, "high": 1.5}))
    many_units = tuple(UnitValue(i, f"u{i}", 10, 1.0, 0.5, 1.5) for i in range(charts.MAX_ROWS + 1))
    with pytest.raises(ValueError, match="at most 5000"):
        charts.rollout_value_chart(RolloutValue(RolloutAssumptions(1.0), 1.0, 1.0, 0.5, 1.5, many_units,
                                                1.0, 0.5, 1.5))
    with pytest.raises(ValueError, match="at most 5000"):
        charts.coverage_heatmap(too_many({"unit": "A", "month": week, "rows": 1, "volume": 1,
                                          "first_date": week, "last_date": week}))


def test_charts_at_the_limit_are_accepted():
    week = pd.Timestamp("2025-01-06")
    frame = pd.DataFrame({"group": ["A"] * charts.MAX_ROWS, "week": week, "value": 1.0, "n": 1})
    assert isinstance(charts.unit_trend(frame, "A", "Score"), alt.TopLevelMixin)
