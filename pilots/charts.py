"""Pure functions from aggregated rows to Altair charts, with one visual theme shared by the screen
and the exports: colour-blind-safe colours (Okabe–Ito), type large enough for the back of a room,
and good news in green whether the metric went up or down. Charts never receive raw rows: callers
pass aggregates, and each function refuses more than MAX_ROWS.

Type, lines and points are drawn for a type size (`base_size`): a chart for a 4K screen in larger
type keeps the look of one on a laptop (line widths grow with the type, a point's area with its
square). Names, labels and titles are someone's text: each is made printable and bounded
(pilots.text.printable) before it reaches a chart, since a control character in it aborts the chart
renderer and a very long one stalls it; numbers carry a true minus sign.

Its length is deliberate: every chart of the app, present mode and the decks is here, sharing
one set of sizes, colours and number formats, so that they look and read alike.
"""

from __future__ import annotations

import datetime as dt

import altair as alt
import pandas as pd
from scipy import stats

from . import formats, org, text

MAX_ROWS = 5_000

# Okabe & Ito (2008), "Color Universal Design": distinguishable with every common colour-vision deficiency.
PILOT_COLOUR = "#0072B2"     # blue
CONTROL_COLOUR = "#7F7F7F"   # grey
GOOD_COLOUR = "#009E73"      # bluish green
BAD_COLOUR = "#D55E00"       # vermillion
NEUTRAL_COLOUR = "#999999"
BASELINE_SHADE = "#E69F00"   # orange
PILOT_SHADE = "#56B4E9"      # sky blue

FONT = "Source Sans Pro, Helvetica, Arial, sans-serif"
REFERENCE_SIZE = 14  # the type size (px) of a chart on a page; line widths and point sizes are given for it
TITLE_LIMIT = 300  # characters of a chart's title or subtitle
MINUS = "\u2212"


def _line(base_size: float, width: float) -> float:
    """A line (or dash) `width` pixels long at the reference type size, at `base_size`."""
    return round(width * base_size / REFERENCE_SIZE, 2)


def _dash(base_size: float, *lengths: float) -> list[float]:
    return [_line(base_size, length) for length in lengths]


def _area(base_size: float, area: float) -> float:
    """A point's size (Vega's area, square pixels) `area` at the reference type size, at `base_size`:
    the area grows with the square of the type, so that the point's width keeps step with it."""
    return round(area * (base_size / REFERENCE_SIZE) ** 2, 1)


def _name(value) -> str:
    """Someone's name or label (a unit, a pilot, a metric or its unit) as a chart may draw it."""
    return text.printable(value, text.MAX_NAME)


def _named(frame: pd.DataFrame, *columns: str) -> pd.DataFrame:
    """`frame` with the names in `columns` as a chart may draw them (_name)."""
    return frame.assign(**{column: frame[column].map(_name) for column in columns if column in frame.columns})


def _true_minus(expression: str) -> str:
    """A Vega expression for a label, its minus sign a true one (U+2212) rather than a hyphen."""
    return f"replace({expression}, '-', '{MINUS}')"


def theme(base_size: int = REFERENCE_SIZE) -> dict:
    """Vega-Lite config: the one look of every chart, on screen and in decks, its ticks, padding and
    legend symbols scaled with the type."""
    return {
        "font": FONT,
        "axis": {"labelFontSize": base_size, "labelLimit": base_size * 24, "titleFontSize": base_size + 1,
                 "gridColor": "#E6E6E6", "domainColor": "#888888", "tickColor": "#888888", "titleFontWeight": "normal",
                 "tickSize": _line(base_size, 5), "tickWidth": _line(base_size, 1), "domainWidth": _line(base_size, 1),
                 "gridWidth": _line(base_size, 1), "labelPadding": _line(base_size, 2),
                 "titlePadding": _line(base_size, 4)},
        "legend": {"labelFontSize": base_size, "titleFontSize": base_size, "orient": "top", "labelLimit": 0,
                   "titleLimit": 0, "symbolSize": _area(base_size, 112), "symbolStrokeWidth": _line(base_size, 1.5)},
        "title": {"fontSize": base_size + 6, "anchor": "start", "fontWeight": "normal"},
        "header": {"labelFontSize": base_size, "titleFontSize": base_size},
        "view": {"stroke": None},
    }


def _checked(frame: pd.DataFrame) -> pd.DataFrame:
    if len(frame) > MAX_ROWS:
        raise ValueError(f"a chart takes at most {MAX_ROWS} aggregated rows, got {len(frame)}: aggregate in SQL first")
    return frame


def _styled(chart: alt.TopLevelMixin, base_size: int) -> alt.TopLevelMixin:
    return chart.configure(**theme(base_size))


def pilot_timeline(series: pd.DataFrame, pilot_unit: str, metric_label: str, baseline: tuple[dt.date, dt.date],
                   pilot_window: tuple[dt.date, dt.date], base_size: int = 14, width: int | str = "container",
                   height: int = 360) -> alt.TopLevelMixin:
    """Weekly metric of the pilot unit against its pooled controls, baseline and pilot windows shaded,
    go-live marked. `series` has columns group, week, value, n (trends.pilot_series)."""
    series = _named(_checked(series), "group")
    pilot_unit, metric_label = _name(pilot_unit), _name(metric_label)
    windows = pd.DataFrame({
        "window": ["Baseline", "Pilot"],
        "start": pd.to_datetime([baseline[0], pilot_window[0]]),
        "end": pd.to_datetime([baseline[1], pilot_window[1]]),
    })
    shade = alt.Chart(windows).mark_rect(opacity=0.12).encode(
        x="start:T", x2="end:T",
        color=alt.Color("window:N", scale=alt.Scale(domain=["Baseline", "Pilot"],
                                                    range=[BASELINE_SHADE, PILOT_SHADE]),
                        legend=alt.Legend(title="Window")))
    go_live = alt.Chart(windows.iloc[[1]]).mark_rule(strokeDash=_dash(base_size, 6, 4), strokeWidth=_line(base_size, 2),
                                                     color="#333333").encode(x="start:T")
    go_live_label = alt.Chart(windows.iloc[[1]]).mark_text(
        align="left", dx=6, dy=-4, baseline="bottom", fontSize=base_size, color="#333333",
        text="go-live").encode(x="start:T", y=alt.value(0))
    groups = [pilot_unit] + [g for g in series["group"].unique() if g != pilot_unit]
    colours = [PILOT_COLOUR] + [CONTROL_COLOUR] * (len(groups) - 1)
    lines = alt.Chart(series).mark_line(point=alt.OverlayMarkDef(size=_area(base_size, 30)),
                                        strokeWidth=_line(base_size, 3)).encode(
        x=alt.X("week:T", title=None),
        y=alt.Y("value:Q", title=metric_label, scale=alt.Scale(zero=False)),
        color=alt.Color("group:N", scale=alt.Scale(domain=groups, range=colours), legend=alt.Legend(title=None)),
        strokeDash=alt.StrokeDash("group:N", legend=None, scale=alt.Scale(
            domain=groups, range=[[1, 0]] + [_dash(base_size, 6, 3)] * (len(groups) - 1))),
        tooltip=[alt.Tooltip("group:N", title="Unit"), alt.Tooltip("week:T", title="Week of"),
                 alt.Tooltip("value:Q", title=metric_label, format=",.2f"), alt.Tooltip("n:Q", title="n", format=",")],
    )
    chart = alt.layer(shade, lines, go_live, go_live_label).resolve_scale(color="independent").properties(
        width=width, height=height)
    return _styled(chart, base_size)


def pipeline_chart(counts: pd.DataFrame, statuses: tuple[str, ...], base_size: int = 14,
                   width: int | str = "container") -> alt.TopLevelMixin:
    """Pilots per business unit and lifecycle state, as a grid of counts (store.pipeline)."""
    counts = _named(_checked(counts), "unit").assign(state=lambda f: f["status"].str.replace("_", " "))
    order = [s.replace("_", " ") for s in statuses]
    base = alt.Chart(counts).encode(
        x=alt.X("state:N", sort=order, scale=alt.Scale(domain=order), title=None,
                axis=alt.Axis(orient="top", labelAngle=0)),
        y=alt.Y("unit:N", title=None))
    cells = base.mark_rect(cornerRadius=4).encode(
        color=alt.Color("pilots:Q", scale=alt.Scale(scheme="blues", domainMin=0), legend=None),
        tooltip=["unit:N", "state:N", "pilots:Q"])
    # Dark cells (the upper half of the colour scale) take white numbers.
    dark = max(int(counts["pilots"].max()) if len(counts) else 0, 2) / 2
    labels = base.mark_text(fontSize=base_size + 2, fontWeight="bold").encode(
        text="pilots:Q",
        color=alt.condition(alt.datum.pilots > dark, alt.value("white"), alt.value("#222222")))
    return _styled(alt.layer(cells, labels).properties(width=width, height=alt.Step(max(44, round(base_size * 2.2)))),
                   base_size)


def coverage_heatmap(coverage: pd.DataFrame, windows: pd.DataFrame | None = None, metric_label: str = "",
                     base_size: int = 14, width: int | str = "container") -> alt.TopLevelMixin:
    """What data exist: units down, months across, shade = volume (answers or cases), so a gap before
    a pilot's baseline is obvious. `coverage` holds one metric's rows of ingest.coverage (unit, month,
    rows, volume, first_date, last_date); `windows` (ingest.pilot_windows) marks each pilot's baseline
    start with a triangle on its units."""
    coverage, metric_label = _named(_checked(coverage), "unit"), _name(metric_label)
    x = alt.X("yearmonth(month):O", title=None, axis=alt.Axis(format="%b %y", labelAngle=-45))
    y = alt.Y("unit:N", title=None, sort="ascending")
    cells = alt.Chart(coverage).mark_rect(stroke="white", strokeWidth=_line(base_size, 1)).encode(
        x=x, y=y,
        color=alt.Color("volume:Q", scale=alt.Scale(scheme="blues", type="log"),
                        # A few short labels: a log legend's default ones run together ("300400").
                        legend=alt.Legend(title=f"Volume{' of ' + metric_label if metric_label else ''}",
                                          format="~s", tickCount=3, labelOverlap=True)),
        tooltip=[alt.Tooltip("unit:N", title="Unit"), alt.Tooltip("yearmonth(month):T", title="Month", format="%b %Y"),
                 alt.Tooltip("volume:Q", title="Answers or cases", format=","),
                 alt.Tooltip("rows:Q", title="Rows", format=","),
                 alt.Tooltip("first_date:T", title="First date", format="%d %b %Y"),
                 alt.Tooltip("last_date:T", title="Last date", format="%d %b %Y")])
    layers = [cells]
    if windows is not None and len(windows):
        starts = _named(_checked(windows), "pilot", "unit").assign(
            baseline_start=lambda f: pd.to_datetime(f["baseline_start"]),
                                          pilot_end=lambda f: pd.to_datetime(f["pilot_end"]),
                                          month=lambda f: f["baseline_start"])
        # Only where the grid has a month: a marker outside it would float beside the chart.
        shown = pd.to_datetime(coverage["month"]).dt.to_period("M")
        starts = starts[starts["month"].dt.to_period("M").between(shown.min(), shown.max())
                        & starts["unit"].isin(set(coverage["unit"]))] if len(coverage) else starts.iloc[0:0]
        layers.append(alt.Chart(starts).mark_point(shape="triangle-right", size=_area(base_size, 140), filled=True,
                                                   color=BASELINE_SHADE, opacity=0.95).encode(
            x=alt.X("yearmonth(month):O"), y=y,
            tooltip=[alt.Tooltip("pilot:N", title="Pilot"), alt.Tooltip("role:N", title="Unit is"),
                     alt.Tooltip("baseline_start:T", title="Baseline starts", format="%d %b %Y"),
                     alt.Tooltip("pilot_end:T", title="Pilot ends", format="%d %b %Y")]))
    chart = alt.layer(*layers).properties(width=width, height=alt.Step(max(24, round(base_size * 1.7))))
    return _styled(chart, base_size)


# ---------------------------------------------------------------- results of the analysis

# How an effect reads, once turned so that positive is good news: its whole 95% interval on the good
# side, on the bad side, or straddling no change.
BETTER, WORSE, UNCLEAR = "better", "worse", "unclear"
EFFECT_CLASSES = (BETTER, WORSE, UNCLEAR)
EFFECT_COLOURS = (GOOD_COLOUR, BAD_COLOUR, NEUTRAL_COLOUR)
VERDICT_COLOURS = {"Roll out": GOOD_COLOUR, "Extend": PILOT_SHADE, "Stop": BAD_COLOUR, "Inconclusive": NEUTRAL_COLOUR,
                   "Interim": "#9a7fc4"}  # violet, as the Interim badge on the pages
ARM_LABELS = {"treated": "Pilot unit", "control": "Controls"}
WINDOW_LABELS = {"before": "Baseline", "after": "Pilot window"}
COUNTERFACTUAL = "Pilot unit, had it moved like its controls"


def effect_class(g_low: float, g_high: float) -> str:
    """BETTER, WORSE or UNCLEAR for an oriented 95% interval (positive = good news)."""
    if g_low > 0:
        return BETTER
    if g_high < 0:
        return WORSE
    return UNCLEAR


def better_arrow(direction: str) -> str:
    """'↑ better' or '↓ better': said on every axis that carries a metric."""
    return "↑ better" if direction == "higher" else "↓ better"


def _fmt(x: float, unit: str = "", signed: bool = False) -> str:
    return formats.amount(x, unit, signed=signed)


def _titled(title: str | None, subtitle: str | None = None) -> dict:
    if not title:
        return {}
    return {"title": alt.TitleParams(text.printable(title, TITLE_LIMIT),
                                     subtitle=text.printable(subtitle, TITLE_LIMIT) if subtitle else alt.Undefined)}


def four_cells_frame(result) -> pd.DataFrame:
    """The four cells of one metric (analysis.MetricResult) as rows: arm, window, mean, n, sd and the
    95% interval of the mean, mean ± t·sd/√n with t on the cell's degrees of freedom."""
    rows = []
    for arm in ("treated", "control"):
        for phase in ("before", "after"):
            cell = result.cell(f"{arm}_{phase}")
            if cell is None:
                continue
            half = (stats.t.ppf(0.975, cell.df) * cell.sd / cell.n ** 0.5) if cell.df > 0 and cell.sd == cell.sd \
                else float("nan")
            rows.append({"arm": ARM_LABELS[arm], "window": WINDOW_LABELS[phase], "mean": cell.mean, "n": cell.n,
                         "sd": cell.sd, "low": cell.mean - half, "high": cell.mean + half})
    return pd.DataFrame(rows, columns=["arm", "window", "mean", "n", "sd", "low", "high"])


def four_cells(result, base_size: int = 14, width: int | str = "container", height: int = 360,
               title: str | None = None) -> alt.TopLevelMixin:
    """Before/after means of the pilot unit and its controls, each with its 95% interval, joined by
    lines (a slope chart). With controls, a dashed line shows where the pilot unit would have ended
    had it moved like its controls; the bracket from there to where it did end is the effect,
    green when good news, vermillion when bad, grey when its interval spans no change."""
    cells = _checked(four_cells_frame(result))
    order = list(WINDOW_LABELS.values())
    arms = list(ARM_LABELS.values())
    x = alt.X("window:N", sort=order, scale=alt.Scale(domain=order, padding=0.6), title=None,
              axis=alt.Axis(labelAngle=0, labelFontSize=base_size + 2))
    # Two lines, so that the title fits beside a plot as short as a slide's.
    label, unit = _name(result.label), _name(result.unit)
    y_title = [label, f"({unit}) {better_arrow(result.direction)}" if unit else better_arrow(result.direction)]
    y = alt.Y("mean:Q", title=y_title, scale=alt.Scale(zero=False))
    controlled = result.control_before is not None and result.control_after is not None
    legend = alt.Legend(title=None, labelLimit=0, symbolType="stroke", symbolStrokeWidth=_line(base_size, 4),
                        symbolSize=_area(base_size, 420),
                        symbolDash=alt.ExprRef(f"datum.value == '{COUNTERFACTUAL}' ? {_dash(base_size, 8, 6)} : [1, 0]")
                        if controlled else alt.Undefined)
    colour = alt.Color("arm:N", legend=legend, scale=alt.Scale(
        domain=arms + ([COUNTERFACTUAL] if controlled and result.has_estimate else []),
        range=[PILOT_COLOUR, CONTROL_COLOUR, PILOT_COLOUR]))
    tooltip = [alt.Tooltip("arm:N", title="Group"), alt.Tooltip("window:N", title="Window"),
               alt.Tooltip("mean:Q", title="Mean", format=",.3f"),
               alt.Tooltip("low:Q", title="95% low", format=",.3f"),
               alt.Tooltip("high:Q", title="95% high", format=",.3f"), alt.Tooltip("n:Q", title="n", format=",.0f")]
    base = alt.Chart(cells).encode(x=x, color=colour)
    lines = base.mark_line(strokeWidth=_line(base_size, 4)).encode(y=y)
    bars = base.mark_errorbar(thickness=_line(base_size, 3), ticks=alt.TickConfig(
        size=base_size, thickness=_line(base_size, 3))).encode(y=alt.Y("low:Q", title=y_title), y2="high:Q")
    points = base.mark_point(filled=True, size=_area(base_size, 196), opacity=1).encode(y=y, tooltip=tooltip)
    value_text = alt.Text("mean:Q", format=",.3~r")
    labels_before = base.transform_filter(alt.datum.window == order[0]).mark_text(
        align="right", dx=-base_size, fontSize=base_size, fontWeight="bold").encode(y=y, text=value_text)
    labels_after = base.transform_filter(alt.datum.window == order[1]).mark_text(
        align="left", dx=base_size, fontSize=base_size, fontWeight="bold").encode(y=y, text=value_text)
    layers = [lines, bars, points, labels_before, labels_after]
    if result.has_estimate and controlled:
        start = result.treated_before.mean
        expected = start + result.control_after.mean - result.control_before.mean
        _, g_low, g_high = result.oriented
        effect_colour = dict(zip(EFFECT_CLASSES, EFFECT_COLOURS, strict=True))[effect_class(g_low, g_high)]
        path = pd.DataFrame({"window": order, "mean": [start, expected], "arm": [COUNTERFACTUAL] * 2})
        layers.insert(0, alt.Chart(path).mark_line(strokeWidth=_line(base_size, 3), opacity=0.8).encode(
            x=x, y=y, color=colour, strokeDash=alt.StrokeDash(
                "arm:N", legend=None,
                scale=alt.Scale(domain=arms + [COUNTERFACTUAL], range=[[1, 0], [1, 0], _dash(base_size, 8, 6)]))))
        gap = pd.DataFrame({"window": [order[1]], "from": [expected], "to": [result.treated_after.mean],
                            "mid": [(expected + result.treated_after.mean) / 2]})
        offset = base_size * 4.5
        layers.append(alt.Chart(gap).mark_rule(strokeWidth=_line(base_size, 6), xOffset=offset,
                                               color=effect_colour).encode(x=x, y="from:Q", y2="to:Q"))
        # An array as the mark's own text is drawn as two lines; as a data field it would be printed
        # as the array's literal text.
        effect_label = ["effect", _fmt(result.effect, unit, signed=True)]
        layers.append(alt.Chart(gap).mark_text(align="left", dx=offset + base_size * 0.7, fontSize=base_size,
                                               fontWeight="bold", color=effect_colour, text=effect_label).encode(
            x=x, y="mid:Q"))
    chart = alt.layer(*layers).properties(width=width, height=height, **_titled(title))
    return _styled(chart, base_size)


MIN_FITTED_SIZE = 14


def _fitted_base_size(base_size: int, height: int, rows: int) -> int:
    """The largest type size, up to `base_size`, at which `rows` rows of effects_vs_target fit in
    `height` pixels. Measured on rendered charts: each row takes 6.3 type sizes (its plot, title,
    subtitle and the spacing) and 18 pixels of padding; the axis under the last row 13 pixels."""
    return max(MIN_FITTED_SIZE, min(base_size, int((height - 13 - 18 * rows) / (6.3 * rows))))


def effects_frame(case) -> pd.DataFrame:
    """Every metric of a pilot (analysis.PilotCase) as one row: its effect turned so that positive is
    good news (g, low, high), the target in the same orientation (primary only), how it reads
    (better/worse/unclear) and a one-line label of the effect in the metric's own units."""
    rows = []
    for m in case.metrics:
        g, low, high = m.oriented
        reads = effect_class(low, high) if m.has_estimate else "no estimate"
        rows.append({
            "metric": m.metric, "label": _name(m.label), "role": m.role, "unit": _name(m.unit),
            "direction": m.direction,
            "g": g if m.has_estimate else None, "low": low if m.has_estimate else None,
            "high": high if m.has_estimate else None,
            "target": abs(m.target) if m.target is not None else None, "reads": reads,
            "effect_text": (f"{_fmt(m.effect, _name(m.unit), signed=True)} ({_fmt(m.ci_low)} to {_fmt(m.ci_high)})"
                            if m.has_estimate else "no estimate"),
            "p_value": m.p_value})
    return pd.DataFrame(rows, columns=["metric", "label", "role", "unit", "direction", "g", "low", "high", "target",
                                       "reads", "effect_text", "p_value"])


def effects_vs_target(case, base_size: int = 14, width: int | str = "container", row_height: int | None = None,
                      title: str | None = None, height: int | None = None) -> alt.TopLevelMixin:
    """One row per metric of the pilot, each on its own scale in its own units: the effect placed so
    that right is better (a fall in resolution days lies right of 0, its axis labelled as the change
    it is), its 95% interval, no change marked at 0, the target of the primary metric as a diamond,
    guardrails in vermillion type; green when the whole interval is better, vermillion when it is
    worse, grey when it spans no change. Given a `height`, rows and type shrink (to no less than
    MIN_FITTED_SIZE) so that the whole chart fits in it, as on a slide."""
    frame = _checked(effects_frame(case))
    if height is not None:
        base_size = _fitted_base_size(base_size, height, len(frame))
        row_height = round(base_size * 2)
    row_height = row_height or round(base_size * 2.4)
    colours = dict(zip(EFFECT_CLASSES, EFFECT_COLOURS, strict=True), **{"no estimate": "#BBBBBB"})
    colour = alt.Color("reads:N", scale=alt.Scale(domain=list(colours), range=list(colours.values())), legend=None)
    roles = {"primary": "primary metric", "secondary": "secondary metric", "guardrail": "GUARDRAIL, must not get worse"}
    words = {BETTER: "better", WORSE: "worse", UNCLEAR: "no clear change", "no estimate": ""}
    rows = []
    for position, row in enumerate(frame.itertuples(index=False)):
        last = position == len(frame) - 1
        span = [v for v in (row.low, row.high, row.target) if v is not None and v == v]
        reach = max([abs(v) for v in span] + [0.0]) or 1.0
        flip = "-" if row.direction == "lower" else ""
        scale = alt.Scale(domain=[-reach * 1.1, reach * 1.1], nice=False)
        axis = alt.Axis(tickCount=5, grid=False,
                        labelExpr=_true_minus(f"datum.value == 0 ? '0' : format({flip}datum.value, '+~r')"),
                        title="← worse" + "\u00a0" * 24 + "better →" if last else None, titleColor="#555555",
                        titleFontWeight="normal")

        def at(field: str, scale=scale, axis=axis) -> alt.X:
            return alt.X(f"{field}:Q", scale=scale, axis=axis)

        base = alt.Chart(frame.iloc[[position]])
        guardrail = row.role == "guardrail"
        layers = [alt.Chart(pd.DataFrame({"g": [0.0]})).mark_rule(
            color=BAD_COLOUR if guardrail else "#555555", strokeWidth=_line(base_size, 2),
            strokeDash=_dash(base_size, 5, 3) if guardrail else [1, 0]).encode(x=at("g"))]
        if row.g is not None and row.g == row.g:
            tooltip = [alt.Tooltip("label:N", title="Metric"), alt.Tooltip("role:N", title="Role"),
                       alt.Tooltip("effect_text:N", title="Change (95% interval)"),
                       alt.Tooltip("p_value:Q", title="p", format=".3f"), alt.Tooltip("reads:N", title="Reads")]
            layers += [
                base.mark_rule(strokeWidth=base_size * 0.5).encode(x=at("low"), x2="high:Q", color=colour,
                                                                   tooltip=tooltip),
                base.mark_point(filled=True, size=_area(base_size, 308), opacity=1, stroke="white",
                                strokeWidth=_line(base_size, 2)).encode(x=at("g"), color=colour, tooltip=tooltip)]
        if row.target is not None and row.target == row.target:
            layers += [
                base.mark_point(shape="diamond", size=_area(base_size, 308), filled=False,
                                strokeWidth=_line(base_size, 3), color="#222222").encode(x=at("target")),
                base.mark_text(text="target", dy=-base_size * 0.9, baseline="bottom", fontSize=base_size * 0.85,
                               color="#222222").encode(x=at("target"))]
        heading = f"{row.label} ({row.unit}), {roles[row.role]}" if row.unit else f"{row.label}, {roles[row.role]}"
        change = f"{row.effect_text}: {words[row.reads]}" if row.reads != "no estimate" else "no estimate"
        rows.append(alt.layer(*layers).properties(width=width, height=row_height, title=alt.TitleParams(
            heading, subtitle=change, fontSize=base_size + 2, subtitleFontSize=base_size, anchor="start",
            fontWeight="bold" if row.role == "primary" else "normal",
            color=BAD_COLOUR if guardrail else "#222222", subtitleColor=colours[row.reads],
            subtitleFontWeight="bold")))
    chart = alt.vconcat(*rows, spacing=base_size, **_titled(title))
    return _styled(chart, base_size)


def _effect_range_text(frame: pd.DataFrame) -> pd.Series:
    return frame.apply(lambda r: f"{_fmt(r['effect'], signed=True)} ({_fmt(r['ci_low'])} to {_fmt(r['ci_high'])})",
                       axis=1)


def _fitted_forest_size(base_size: int, height: int, rows: int) -> int:
    """The largest type size, up to `base_size`, at which `rows` rows of forest_plot fit in `height`
    pixels. Measured on rendered charts: each row takes 2.6 type sizes, the legend, the names of the
    lines and the axis 7.5 more."""
    return max(MIN_FITTED_SIZE, min(base_size, int(height / (2.6 * rows + 7.5))))


def forest_plot(portfolio: pd.DataFrame, base_size: int = 14, width: int | str = "container",
                title: str | None = None, height: int | None = None) -> alt.TopLevelMixin:
    """Every evaluated pilot's primary effect with its 95% interval, on one scale: the effect turned
    so that right is better, as a share of the pilot's target (0% = no change, 100% = target met),
    since pilots are judged on metrics with different units. Coloured by verdict (column `verdict`);
    a click leads to the pilot's page (`pilot?id=N`). No change and the target are dashed lines named
    on an axis of their own above the plot, so their names never run into a pilot's row. Pilots
    without an estimate or without a target are left out (the subtitle names those without a target).
    Given a `height`, type and rows shrink (to no less than MIN_FITTED_SIZE) to fit in it, as on a slide."""
    frame = _named(_checked(portfolio), "pilot", "unit", "metric")
    frame = frame[frame["effect"].notna()]
    no_target = frame[frame["target"].isna() | (frame["target"] == 0)]
    frame = frame.drop(no_target.index)
    sign = frame["direction"].map({"higher": 1.0, "lower": -1.0})
    tau = frame["target"].abs()
    frame = frame.assign(
        share=100 * sign * frame["effect"] / tau,
        share_low=100 * (sign * frame[["ci_low", "ci_high"]].min(axis=1).where(sign > 0, frame["ci_high"])) / tau,
        share_high=100 * (sign * frame[["ci_low", "ci_high"]].max(axis=1).where(sign > 0, frame["ci_low"])) / tau,
        verdict=frame["verdict"], row=frame["pilot"] + " — " + frame["unit"],
        effect_text=_effect_range_text(frame), href="pilot?id=" + frame["pilot_id"].astype(str))
    order = frame.sort_values("share", ascending=False)["row"].tolist()
    if height is not None:
        base_size = _fitted_forest_size(base_size, height, len(order))
    y = alt.Y("row:N", sort=order, title=None, axis=alt.Axis(labelLimit=base_size * 40, labelFontSize=base_size))
    low = min(-50.0, float(frame["share_low"].min()) if len(frame) else 0.0)
    high = max(150.0, float(frame["share_high"].max()) if len(frame) else 0.0)
    step = 50 if high - low <= 400 else 100
    x_scale = alt.Scale(domain=[low - step / 4, high + step / 4], nice=False)
    shares = alt.Axis(values=list(range(int(low // step) * step, int(high) + step, step)),
                      labelExpr=_true_minus("datum.value + '%'"), grid=True)
    x = alt.X("share:Q", scale=x_scale, title="Effect as % of target  (← worse · better →)", axis=shares)
    colour = alt.Color("verdict:N", scale=alt.Scale(domain=list(VERDICT_COLOURS), range=list(VERDICT_COLOURS.values())),
                       legend=alt.Legend(title=None, symbolSize=_area(base_size, 252)))
    tooltip = [alt.Tooltip("pilot:N", title="Pilot"), alt.Tooltip("unit:N", title="Unit"),
               alt.Tooltip("metric:N", title="Primary metric"),
               alt.Tooltip("effect_text:N", title="Effect (95% interval)"),
               alt.Tooltip("target:Q", title="Target", format="~r"),
               alt.Tooltip("share:Q", title="% of target", format=".0f"),
               alt.Tooltip("verdict:N", title="Verdict"), alt.Tooltip("status:N", title="Status")]
    marks = pd.DataFrame({"share": [0.0, 100.0], "text": ["no change", "target"]})
    # The two lines' names, on an axis along the top of the plot (outside it, above the first row),
    # each on the far side of its line from the other.
    named = alt.Axis(orient="top", values=[0, 100], labelExpr="datum.value == 0 ? 'no change' : 'target'",
                     title=None, grid=False, domain=False, ticks=False, labelFontStyle="italic",
                     labelFontSize=round(base_size * 0.9), labelColor="#333333", labelPadding=_line(base_size, 4),
                     labelAlign={"condition": {"test": "datum.value == 0", "value": "right"}, "value": "left"},
                     labelOffset={"condition": {"test": "datum.value == 0", "value": -_line(base_size, 4)},
                                  "value": _line(base_size, 4)})
    base = alt.Chart(frame).encode(y=y, color=colour, tooltip=tooltip, href="href:N")
    chart = alt.layer(
        alt.Chart(marks).mark_rule(strokeWidth=_line(base_size, 2)).encode(
            x=alt.X("share:Q", scale=x_scale, axis=named), color=alt.value("#555555"),
            strokeDash=alt.StrokeDash("text:N", scale=alt.Scale(domain=["no change", "target"],
                                                                range=[[1, 0], _dash(base_size, 6, 4)]), legend=None)),
        base.mark_rule(strokeWidth=base_size * 0.45).encode(x=alt.X("share_low:Q", scale=x_scale, axis=None),
                                                            x2="share_high:Q"),
        base.mark_point(filled=True, size=_area(base_size, 308), opacity=1, stroke="white",
                        strokeWidth=_line(base_size, 1.5), cursor="pointer").encode(x=x),
    ).resolve_axis(x="independent").properties(
        width=width, height=alt.Step(base_size * 2.6),
        **_titled(title, ("No target, not shown: " + ", ".join(no_target["pilot"])) if len(no_target) else None))
    return _styled(chart, base_size)


def unit_trend(series: pd.DataFrame, unit: str, metric_label: str, direction: str | None = None,
               base_size: int = 14, width: int | str = "container", height: int = 320,
               title: str | None = None) -> alt.TopLevelMixin:
    """A unit's weekly metric against the rest of the organisation (every other unit pooled).
    `series` has columns group, week, value, n (trends.org_series)."""
    series, unit, metric_label = _named(_checked(series), "group"), _name(unit), _name(metric_label)
    groups = [unit] + [g for g in series["group"].unique() if g != unit]
    y_title = f"{metric_label} {better_arrow(direction)}" if direction else metric_label
    chart = alt.Chart(series).mark_line(strokeWidth=_line(base_size, 3),
                                        point=alt.OverlayMarkDef(size=_area(base_size, 28))).encode(
        x=alt.X("week:T", title=None),
        y=alt.Y("value:Q", title=y_title, scale=alt.Scale(zero=False)),
        color=alt.Color("group:N", legend=alt.Legend(title=None, labelLimit=0), scale=alt.Scale(
            domain=groups, range=[PILOT_COLOUR] + [CONTROL_COLOUR] * (len(groups) - 1))),
        strokeDash=alt.StrokeDash("group:N", legend=None, scale=alt.Scale(
            domain=groups, range=[[1, 0]] + [_dash(base_size, 6, 3)] * (len(groups) - 1))),
        tooltip=[alt.Tooltip("group:N", title="Who"), alt.Tooltip("week:T", title="Week of"),
                 alt.Tooltip("value:Q", title=metric_label, format=",.3~r"), alt.Tooltip("n:Q", title="n", format=",")],
    ).properties(width=width, height=height, **_titled(title))
    return _styled(chart, base_size)


def _value_bars(frame: pd.DataFrame, label: str, base_size: int, width: int | str, title: str | None,
                subtitle: str | None, currency: org.OrgSettings | None) -> alt.TopLevelMixin:
    """Horizontal bars of a yearly value with its range (columns: `label`, value, low, high), money in
    the organisation's currency."""
    frame = _named(_checked(frame), label).assign(
        reads=lambda f: [effect_class(lo, hi) for lo, hi in zip(f["low"], f["high"], strict=True)],
        text=lambda f: [_name(org.format_money(v, currency)) for v in f["value"]])
    order = frame.sort_values("value", ascending=False)[label].tolist()
    y = alt.Y(f"{label}:N", sort=order, title=None, axis=alt.Axis(labelLimit=base_size * 40))
    colour = alt.Color("reads:N", scale=alt.Scale(domain=list(EFFECT_CLASSES), range=list(EFFECT_COLOURS)),
                       legend=None)
    tooltip = [alt.Tooltip(f"{label}:N"), alt.Tooltip("value:Q", title="Value a year", format=",.0f"),
               alt.Tooltip("low:Q", title="95% low", format=",.0f"),
               alt.Tooltip("high:Q", title="95% high", format=",.0f")]
    code = f", {_name(currency.currency_code)}" if currency is not None and currency.currency_code else ""
    x = alt.X("value:Q", title=f"Value a year{code} (95% range)",
              axis=alt.Axis(labelExpr=_true_minus(org.money_label_expr(currency))))
    base = alt.Chart(frame).encode(y=y, tooltip=tooltip)
    chart = alt.layer(
        base.mark_bar(opacity=0.75, cornerRadiusEnd=3).encode(x=x, color=colour),
        base.mark_rule(strokeWidth=_line(base_size, 2.5), color="#222222").encode(x="low:Q", x2="high:Q"),
        # The label belongs to the bar, not to the end of its range: it sits at the bar's end, above it.
        base.mark_text(align="left", dx=_line(base_size, 3), dy=-base_size * 0.95, fontSize=base_size,
                       fontWeight="bold", color="#222222").encode(x="value:Q", text="text:N"),
    ).properties(width=width, height=alt.Step(base_size * 2.6), **_titled(title, subtitle))
    return _styled(chart, base_size)


def rollout_value_chart(value, base_size: int = 14, width: int | str = "container",
                        title: str | None = None, currency: org.OrgSettings | None = None) -> alt.TopLevelMixin:
    """What rolling a pilot out would be worth a year in each unit (value.RolloutValue), with its
    95% range; the total in the subtitle."""
    frame = pd.DataFrame([{"unit": u.unit, "value": u.value, "low": u.low, "high": u.high} for u in value.units],
                         columns=["unit", "value", "low", "high"])
    subtitle = (f"Total {org.format_money(value.total, currency)} a year (95% range "
                f"{org.format_money(value.total_low, currency)} to {org.format_money(value.total_high, currency)})"
                if value.total is not None else "; ".join(value.notes))
    return _value_bars(frame, "unit", base_size, width, title, subtitle, currency)


def portfolio_value_chart(values: pd.DataFrame, base_size: int = 14, width: int | str = "container",
                          title: str | None = None, currency: org.OrgSettings | None = None) -> alt.TopLevelMixin:
    """The yearly rollout value of several pilots (columns pilot, value, low, high), total in the subtitle.
    The total's range is the sum of each pilot's interval ends: wider than a 95% interval of the total
    would be (the pilots' errors are independent), so it is called a range, not an interval."""
    subtitle = (f"Total {org.format_money(values['value'].sum(), currency)} a year (range "
                f"{org.format_money(values['low'].sum(), currency)} to "
                f"{org.format_money(values['high'].sum(), currency)}, summing each pilot's 95% range ends)"
                if len(values) else "No pilot has a rollout value yet")
    return _value_bars(values, "pilot", base_size, width, title, subtitle, currency)


def _pilot_starts(pilot_start: dt.date, base_size: int) -> tuple[alt.Chart, alt.Chart]:
    """A dashed rule where the pilot window starts, and its label."""
    start = pd.DataFrame({"start": pd.to_datetime([pilot_start])})
    rule = alt.Chart(start).mark_rule(strokeDash=_dash(base_size, 6, 4), strokeWidth=_line(base_size, 2),
                                      color="#333333").encode(x="start:T")
    label = alt.Chart(start).mark_text(
        align="left", dx=_line(base_size, 6), dy=-_line(base_size, 4), baseline="bottom", fontSize=base_size,
        color="#333333",
        text="pilot starts").encode(x="start:T", y=alt.value(0))
    return rule, label


def synthetic_chart(sc, unit_name: str, metric_label: str, pilot_start: dt.date, direction: str | None = None,
                    base_size: int = 14, width: int | str = "container", height: int = 360,
                    title: str | None = None) -> alt.TopLevelMixin:
    """The pilot unit's weekly metric against its synthetic twin (synth.SyntheticControl): the blend
    of control units that tracked it through the baseline, carried on through the pilot window as
    what the pilot unit would have done without the pilot; pilot start marked. Titled in plain
    words unless `title` is given ("" for none)."""
    path, unit_name, metric_label = _checked(sc.path), _name(unit_name), _name(metric_label)
    twin = "synthetic twin"
    lines = _checked(pd.DataFrame({
        "week": pd.to_datetime(pd.concat([path["week"], path["week"]], ignore_index=True)),
        "series": [unit_name] * len(path) + [twin] * len(path),
        "value": pd.concat([path["treated"], path["synthetic"]], ignore_index=True),
        "gap": pd.concat([path["gap"], path["gap"]], ignore_index=True)}))
    domain = [unit_name, twin]
    y_title = f"{metric_label} {better_arrow(direction)}" if direction else metric_label
    drawn = alt.Chart(lines).mark_line(strokeWidth=_line(base_size, 3),
                                       point=alt.OverlayMarkDef(size=_area(base_size, 28))).encode(
        x=alt.X("week:T", title=None),
        y=alt.Y("value:Q", title=y_title, scale=alt.Scale(zero=False)),
        color=alt.Color("series:N", scale=alt.Scale(domain=domain, range=[PILOT_COLOUR, CONTROL_COLOUR]),
                        legend=alt.Legend(title=None, labelLimit=0)),
        strokeDash=alt.StrokeDash("series:N", scale=alt.Scale(domain=domain, range=[[1, 0], _dash(base_size, 6, 3)]),
                                  legend=None),
        tooltip=[alt.Tooltip("series:N", title="Line"), alt.Tooltip("week:T", title="Week of"),
                 alt.Tooltip("value:Q", title=metric_label, format=",.3~r"),
                 alt.Tooltip("gap:Q", title=f"{unit_name} − twin", format="+,.3~r")])
    rule, rule_label = _pilot_starts(pilot_start, base_size)
    if title is None:
        title = f"{unit_name} against its synthetic twin"
        subtitle = (f"The twin blends the control units that moved like {unit_name} before the pilot; in the pilot "
                    f"weeks {unit_name} ran {_fmt(sc.effect, signed=True)} from it on average")
    else:
        subtitle = None
    chart = alt.layer(drawn, rule, rule_label).properties(width=width, height=height, **_titled(title, subtitle))
    return _styled(chart, base_size)


def placebo_chart(sc, unit_names: dict, metric_label: str, pilot_start: dt.date, base_size: int = 14,
                  width: int | str = "container", height: int = 360, title: str | None = None) -> alt.TopLevelMixin:
    """The placebo test of a synthetic control (synth.SyntheticControl): the weekly gap between each
    unit and its synthetic twin, the pilot unit's in the pilot colour over every control unit's
    refitted as if it had been piloted, in light grey; no gap and pilot start marked. `unit_names`
    maps unit ids to names. Titled in plain words unless `title` is given ("" for none)."""
    gaps, metric_label = _checked(sc.placebo_gaps), _name(metric_label)
    pilot_name = _name(unit_names.get(sc.treated, str(sc.treated)))
    placebos = "control units, each as if piloted"
    frame = gaps.assign(
        week=pd.to_datetime(gaps["week"]), key=gaps["unit"].astype(str),
        name=[_name(unit_names.get(u, str(u))) for u in gaps["unit"]],
        piloted=gaps["unit"] == sc.treated,  # the filters test this, not a name: a name is no expression
        role=[pilot_name if u == sc.treated else placebos for u in gaps["unit"]],
        ratio=[sc.ratios[u] for u in gaps["unit"]])
    x = alt.X("week:T", title=None)
    y = alt.Y("gap:Q", title=f"{metric_label}: unit − its twin")
    colour = alt.Color("role:N", scale=alt.Scale(domain=[pilot_name, placebos], range=[PILOT_COLOUR, "#C8C8C8"]),
                       legend=alt.Legend(title=None, labelLimit=0))
    tooltip = [alt.Tooltip("name:N", title="Unit"), alt.Tooltip("week:T", title="Week of"),
               alt.Tooltip("gap:Q", title="Gap from its twin", format="+,.3~r"),
               alt.Tooltip("ratio:Q", title="Pilot-window misfit ÷ baseline misfit", format=",.2f")]
    base = alt.Chart(frame).encode(x=x, y=y, color=colour, detail="key:N", tooltip=tooltip)
    others = base.transform_filter(~alt.datum.piloted).mark_line(strokeWidth=_line(base_size, 1.5), opacity=0.9)
    pilot = base.transform_filter(alt.datum.piloted).mark_line(strokeWidth=_line(base_size, 3.5))
    zero = alt.Chart(pd.DataFrame({"gap": [0.0]})).mark_rule(strokeWidth=_line(base_size, 1.5),
                                                             color="#555555").encode(y="gap:Q")
    rule, rule_label = _pilot_starts(pilot_start, base_size)
    if title is None:
        title = f"Did {pilot_name} leave its twin more than the control units left theirs?"
        subtitle = (f"{pilot_name} ranks {sc.placebo_rank} of {sc.placebo_units} on how far it moved from its twin in "
                    f"the pilot weeks against how closely it tracked it before (p = {sc.p_value:.2f})")
    else:
        subtitle = None
    chart = alt.layer(others, zero, pilot, rule, rule_label).properties(
        width=width, height=height, **_titled(title, subtitle))
    return _styled(chart, base_size)


def event_study(found, metric_label: str, direction: str, base_size: int = 14,
                width: int | str = "container", height: int = 360, title: str | None = None) -> alt.TopLevelMixin:
    """The rollout's event study (rollouts.RolloutEvaluation): the effect by weeks since each unit went
    live (periods of four weeks, every wave together, Callaway & Sant'Anna), with 95% intervals; zero
    and the lower end of the pilot's own interval marked, so a fading effect shows where it dips below."""
    points = _checked(pd.DataFrame([{"weeks": p.weeks_since, "effect": p.effect, "low": p.ci_low, "high": p.ci_high,
                                     "phase": "before go-live" if p.weeks_since < 0 else "after go-live"}
                                    for p in found.event_study]))
    metric_label = _name(metric_label)
    y = alt.Y("effect:Q", title=f"Effect on {metric_label} {better_arrow(direction)}")
    domain = ["before go-live", "after go-live"]
    colour = alt.Color("phase:N", scale=alt.Scale(domain=domain, range=[CONTROL_COLOUR, PILOT_COLOUR]),
                       legend=alt.Legend(title=None))
    x = alt.X("weeks:Q", title="Weeks since go-live")
    bars = alt.Chart(points).mark_rule(strokeWidth=_line(base_size, 2)).encode(x=x, y=alt.Y("low:Q"), y2="high:Q",
                                                                               color=colour)
    dots = alt.Chart(points).mark_point(filled=True, size=_area(base_size, 60)).encode(
        x=x, y=y, color=colour,
        tooltip=[alt.Tooltip("weeks:Q", title="Weeks since go-live"),
                 alt.Tooltip("effect:Q", title="Effect", format="+,.3~r"),
                 alt.Tooltip("low:Q", title="95% low", format="+,.3~r"),
                 alt.Tooltip("high:Q", title="95% high", format="+,.3~r")])
    pilot_low = found.pilot_low if direction == "higher" else -found.pilot_low
    lines = pd.DataFrame({"at": [0.0] + ([pilot_low] if pilot_low == pilot_low else []),
                          "label": ["no change"] + (["pilot's lower end"] if pilot_low == pilot_low else [])})
    rules = alt.Chart(lines).mark_rule(strokeDash=_dash(base_size, 6, 4), strokeWidth=_line(base_size, 1.5),
                                       color="#333333").encode(y="at:Q")
    labels = alt.Chart(lines).mark_text(align="left", dx=4, dy=-4, baseline="bottom", fontSize=base_size * 0.85,
                                        color="#333333").encode(y="at:Q", x=alt.value(0), text="label:N")
    if title is None:
        title = f"Did the effect hold? {metric_label} by weeks since go-live"
        subtitle = (f"Every rollout wave and the pilot together, against units without the change; "
                    f"{'points above' if direction == 'higher' else 'points below'} zero are improvements")
    else:
        subtitle = None
    chart = alt.layer(rules, labels, bars, dots).properties(width=width, height=height, **_titled(title, subtitle))
    return _styled(chart, base_size)
