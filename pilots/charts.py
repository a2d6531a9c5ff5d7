"""Pure functions from aggregated rows to Altair charts, with one visual theme shared by the screen
and the exports: colour-blind-safe colours (Okabe–Ito), type large enough for the back of a room,
and good news in green whether the metric went up or down. Charts never receive raw rows: callers
pass aggregates, and each function refuses more than MAX_ROWS."""

from __future__ import annotations

import datetime as dt

import altair as alt
import pandas as pd

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


def theme(base_size: int = 14) -> dict:
    """Vega-Lite config: the one look of every chart, on screen and in decks."""
    return {
        "font": FONT,
        "axis": {"labelFontSize": base_size, "titleFontSize": base_size + 1, "gridColor": "#E6E6E6",
                 "domainColor": "#888888", "tickColor": "#888888", "titleFontWeight": "normal"},
        "legend": {"labelFontSize": base_size, "titleFontSize": base_size, "orient": "top"},
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
    go-live marked. `series` has columns group, week, value, n (store.pilot_series)."""
    series = _checked(series)
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
    go_live = alt.Chart(windows.iloc[[1]]).mark_rule(strokeDash=[6, 4], strokeWidth=2, color="#333333").encode(
        x="start:T")
    go_live_label = alt.Chart(windows.iloc[[1]]).mark_text(
        align="left", dx=6, dy=-4, baseline="bottom", fontSize=base_size, color="#333333",
        text="go-live").encode(x="start:T", y=alt.value(0))
    groups = [pilot_unit] + [g for g in series["group"].unique() if g != pilot_unit]
    colours = [PILOT_COLOUR] + [CONTROL_COLOUR] * (len(groups) - 1)
    lines = alt.Chart(series).mark_line(point=alt.OverlayMarkDef(size=30), strokeWidth=3).encode(
        x=alt.X("week:T", title=None),
        y=alt.Y("value:Q", title=metric_label, scale=alt.Scale(zero=False)),
        color=alt.Color("group:N", scale=alt.Scale(domain=groups, range=colours), legend=alt.Legend(title=None)),
        strokeDash=alt.StrokeDash("group:N", scale=alt.Scale(domain=groups, range=[[1, 0]] + [[6, 3]] * (len(groups) - 1)),
                                  legend=None),
        tooltip=[alt.Tooltip("group:N", title="Unit"), alt.Tooltip("week:T", title="Week of"),
                 alt.Tooltip("value:Q", title=metric_label, format=",.2f"), alt.Tooltip("n:Q", title="n", format=",")],
    )
    chart = alt.layer(shade, lines, go_live, go_live_label).resolve_scale(color="independent").properties(
        width=width, height=height)
    return _styled(chart, base_size)


def pipeline_chart(counts: pd.DataFrame, statuses: tuple[str, ...], base_size: int = 14,
                   width: int | str = "container") -> alt.TopLevelMixin:
    """Pilots per business unit and lifecycle state, as a grid of counts (store.pipeline)."""
    counts = _checked(counts).assign(state=lambda f: f["status"].str.replace("_", " "))
    order = [s.replace("_", " ") for s in statuses]
    base = alt.Chart(counts).encode(
        x=alt.X("state:N", sort=order, scale=alt.Scale(domain=order), title=None,
                axis=alt.Axis(orient="top", labelAngle=0)),
        y=alt.Y("unit:N", title=None))
    cells = base.mark_rect(cornerRadius=4).encode(
        color=alt.Color("pilots:Q", scale=alt.Scale(scheme="blues", domainMin=0), legend=None),
        tooltip=["unit:N", "state:N", "pilots:Q"])
    labels = base.mark_text(fontSize=base_size + 2, fontWeight="bold").encode(
        text="pilots:Q",
        color=alt.condition(alt.datum.pilots >= 3, alt.value("white"), alt.value("#222222")))
    return _styled(alt.layer(cells, labels).properties(width=width, height=alt.Step(44)), base_size)


def coverage_heatmap(coverage: pd.DataFrame, windows: pd.DataFrame | None = None, metric_label: str = "",
                     base_size: int = 14, width: int | str = "container") -> alt.TopLevelMixin:
    """What data exist: units down, months across, shade = volume (answers or cases), so a gap before
    a pilot's baseline is obvious. `coverage` holds one metric's rows of ingest.coverage (unit, month,
    rows, volume, first_date, last_date); `windows` (ingest.pilot_windows) marks each pilot's baseline
    start with a triangle on its units."""
    coverage = _checked(coverage)
    x = alt.X("yearmonth(month):O", title=None, axis=alt.Axis(format="%b %y", labelAngle=-45))
    y = alt.Y("unit:N", title=None, sort="ascending")
    cells = alt.Chart(coverage).mark_rect(stroke="white", strokeWidth=1).encode(
        x=x, y=y,
        color=alt.Color("volume:Q", scale=alt.Scale(scheme="blues", type="log"),
                        legend=alt.Legend(title=f"Volume{' of ' + metric_label if metric_label else ''}")),
        tooltip=[alt.Tooltip("unit:N", title="Unit"), alt.Tooltip("yearmonth(month):T", title="Month"),
                 alt.Tooltip("volume:Q", title="Answers or cases", format=","),
                 alt.Tooltip("rows:Q", title="Rows", format=","),
                 alt.Tooltip("first_date:T", title="First date"), alt.Tooltip("last_date:T", title="Last date")])
    layers = [cells]
    if windows is not None and len(windows):
        starts = _checked(windows).assign(month=lambda f: pd.to_datetime(f["baseline_start"]))
        layers.append(alt.Chart(starts).mark_point(shape="triangle-right", size=140, filled=True,
                                                   color=BASELINE_SHADE, opacity=0.95).encode(
            x=alt.X("yearmonth(month):O"), y=y,
            tooltip=[alt.Tooltip("pilot:N", title="Pilot"), alt.Tooltip("role:N", title="Unit is"),
                     alt.Tooltip("baseline_start:T", title="Baseline starts"),
                     alt.Tooltip("pilot_end:T", title="Pilot ends")]))
    chart = alt.layer(*layers).properties(width=width, height=alt.Step(24))
    return _styled(chart, base_size)
