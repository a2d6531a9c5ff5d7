"""Pilot: the case for rollout of one pilot. The headline (verdict, effect against target, evidence
grade, rollout value), the charts behind it, the checks and the reasons in plain words, the rollout
assumptions next to the value they give (editable by the CCO office), planning for a pilot still to
run, data coverage, downloads and present mode, then the decision trail.

The first screen comes first: the charts behind the headline sit in tabs, and the statistician's
detail and the data coverage in expanders, each drawn only once opened (a fragment, so opening one
reruns only it); a chart takes longer to build and draw than the rest of the page.

Names, hypotheses, rationales and reasons are someone's text: shown as typed (pages._ui.literal),
never read as Markdown; a pilot number in the address is never repeated back."""


import dataclasses

import pandas as pd
import streamlit as st

from pages._case import GRADES, SEVERITY, money, number
from pages._ui import chart_spec, current_actor, database, in_app_shell, literal, pilot_trail, show_problems
from pilots import analysis, casefile, cells, charts, drivers, export, formats, org, planning, store, text, wording
from pilots.access import AccessDenied
from pilots.model import ValidationError

in_app_shell()

db, actor = database(), current_actor()
pilots = store.list_pilots(db, actor)
if not pilots:
    st.title("Pilot")
    st.info("No pilot to show yet.")
    st.stop()

by_id = {p.pilot_id: p for p in pilots}
wanted = st.query_params.get("id")
current = int(wanted) if wanted is not None and wanted.isdigit() else None
if current not in by_id:
    if wanted is not None:  # whatever the address says is not repeated: it could be anyone's words
        st.warning("No pilot with that number is yours to see; the first of yours is shown instead.")
    current = pilots[0].pilot_id

ids = list(by_id)
chosen = st.selectbox("Pilot", ids, index=ids.index(current),
                      format_func=lambda i: f"{text.printable(by_id[i].name)} — {text.printable(by_id[i].units_label)}")
if chosen != current or wanted is None:
    st.query_params["id"] = str(chosen)
pilot = by_id[chosen]
metrics = store.metric_lookup(db)
primary_metric = metrics[pilot.primary_metric]
view = casefile.case_file(db, actor, pilot.pilot_id)
case = view.case
primary = case.primary
slug = "".join(c if c.isalnum() else "-" for c in text.printable(pilot.name, 60).lower()).strip("-")


def show_chart(name: str, build, downloads: bool = True, empty: str = "") -> None:
    """A chart of this pilot, its spec built once per data version (pages._ui.chart_spec), with PNG
    and SVG downloads of it as shown, rendered only when asked for; `empty` said instead when
    build() finds nothing to draw (returns None)."""
    spec = chart_spec(db, actor, f"{name}/{pilot.pilot_id}", build)
    if spec is None:
        st.info(empty)
        return
    st.vega_lite_chart(spec, width="stretch")
    if not downloads:
        return
    row = st.container(horizontal=True)
    row.download_button("PNG", data=lambda: export.chart_png(spec), file_name=f"{slug}-{name}.png",
                        mime="image/png", icon=":material/image:", on_click="ignore", key=f"png_{name}",
                        type="tertiary")
    row.download_button("SVG", data=lambda: export.chart_svg(spec), file_name=f"{slug}-{name}.svg",
                        mime="image/svg+xml", icon=":material/draw:", on_click="ignore", key=f"svg_{name}",
                        type="tertiary")


# ---------------------------------------------------------------- title and actions

st.title(literal(pilot.name, text.MAX_NAME), anchor=False)
st.caption(f"{literal(pilot.units_label)} · {pilot.status.replace('_', ' ')} · owner {literal(pilot.owner or '—')} · "
           f"sponsor {literal(pilot.sponsor or '—')} · baseline {pilot.baseline_start:%d %b %Y} – "
           f"{pilot.baseline_end:%d %b %Y} · pilot window {pilot.pilot_start:%d %b %Y} – {pilot.pilot_end:%d %b %Y}")
actions = st.container(horizontal=True, vertical_alignment="center")
actions.page_link("pages/present.py", label="Present", icon=":material/slideshow:",
                  query_params={"pilot": pilot.pilot_id})
actions.download_button("Deck (PowerPoint)", data=lambda: export.export_pilot(db, actor, pilot.pilot_id, "pptx"),
                        file_name=f"{slug}.pptx", on_click="ignore", icon=":material/download:",
                        mime="application/vnd.openxmlformats-officedocument.presentationml.presentation")
actions.download_button("Deck (PDF)", data=lambda: export.export_pilot(db, actor, pilot.pilot_id, "pdf"),
                        file_name=f"{slug}.pdf", mime="application/pdf", on_click="ignore",
                        icon=":material/picture_as_pdf:")
if pilot.hypothesis:
    st.markdown(f"**Hypothesis.** {literal(pilot.hypothesis)}")

# ---------------------------------------------------------------- headline

value = case.rollout_value
currency = org.org_settings(db)
head = st.columns([1, 1.2, 1, 1.2])
status = wording.state(case)
head[0].metric("Decision" if status.decided else "Verdict", status.label, delta=status.evidence or status.why,
               delta_color=status.colour,
               delta_arrow="off", border=True)
if primary.has_estimate:
    significance = ("clearly better" if primary.significant and primary.good
                    else "clearly worse" if primary.significant else "could be no change")
    # The unit goes in the label: beside the number it would cut the value short on a laptop screen.
    shares = primary.aggregation in formats.SHARES  # shares read as percentage points
    head[1].metric("Effect, percentage points" if shares else f"Effect, {literal(primary.unit)}" if primary.unit
                   else "Effect", number(100 * primary.effect if shares else primary.effect, signed=True),
                   help=f"On {literal(primary.label)}",
                   delta=significance, delta_arrow="up" if primary.effect > 0 else "down",
                   delta_color="green" if primary.significant and primary.good else "red" if primary.harmed else "gray",
                   border=True)
else:
    head[1].metric("Effect", "—", help=f"On {literal(primary.label)}", delta="not enough data yet", delta_color="gray",
                   delta_arrow="off", border=True)
head[2].metric("Evidence", GRADES[case.evidence_grade] if primary.has_estimate else "—",
               delta=f"{len(pilot.control_unit_ids)} control unit{'s' if len(pilot.control_unit_ids) != 1 else ''}",
               delta_color="gray", delta_arrow="off", border=True, help=literal(primary.method))
if value.total is not None:
    head[3].metric("Rollout value a year", literal(money(value.total, currency)),
                   delta=literal(f"range {money(value.total_low, currency)} to {money(value.total_high, currency)}"),
                   delta_color="green" if value.total_low > 0 else "red" if value.total_high < 0 else "gray",
                   delta_arrow="off", border=True,
                   help=f"Rolled out to {len(value.units)} unit{'s' if len(value.units) != 1 else ''}; the 95% range "
                        f"holds the effect's uncertainty, units differing and the share kept at scale.")
else:
    head[3].metric("Rollout value a year", "—", delta="no value yet", delta_color="gray", delta_arrow="off",
                   border=True, help=literal(" ".join(value.notes)))
if primary.has_estimate:
    st.markdown(literal(wording.likely(case)))

if status.decided:
    st.markdown(f"#### {status.icon} {status.badge} — {status.headline}")
    if pilot.decision_rationale:
        st.text(text.printable(pilot.decision_rationale, text.MAX_TEXT))
    evidence = wording.state(dataclasses.replace(case, decision=None))
    st.markdown(f"##### What the evidence says today: {evidence.badge}")
else:
    st.markdown(f"#### {status.icon} {status.badge} — why")
st.markdown("\n".join(f"- {literal(reason)}" for reason in case.reasons))

if case.rollout is not None:
    rollout = case.rollout
    st.markdown(f"#### {wording.rollout_badge(rollout.verdict)} — did the effect hold where it was rolled out?")
    st.markdown(literal(wording.rollout_sentence(rollout, primary.label, primary.unit, primary.aggregation)))
    for wave in rollout.needs_a_look:
        st.warning(literal(f"{wave.label} ({', '.join(wave.units)}) needs a look: {wave.reason}."),
                   icon=":material/trending_down:")
    st.dataframe(pd.DataFrame([{
        "wave": w.label, "units": text.printable(", ".join(w.units)), "live from": w.start,
        "effect": w.effect, "95% low": w.ci_low, "95% high": w.ci_high, "weeks of data": w.periods * 4,
        "lately": w.recent, "state": w.state} for w in rollout.waves]), hide_index=True, width="stretch",
        column_config={c: st.column_config.NumberColumn(format="%.3g")
                       for c in ("effect", "95% low", "95% high", "lately")})
    st.caption(literal(
        f"Each wave against {len(rollout.comparison_units)} units without the change "
        f"({', '.join(rollout.comparison_units) or 'none'}), data through "
        f"{rollout.through:%d %b %Y}. " if rollout.through else "")
        + "Intervals allow for how much units drift on their own; \"lately\" is the last twelve weeks.")

# ---------------------------------------------------------------- the evidence in charts

def week_by_week() -> None:
    st.caption(f"{literal(primary_metric.label)}: the pilot unit against its controls, week by week.")

    def timeline():
        series = view.series
        return None if series.empty else charts.pilot_timeline(
            series, pilot.units_label, f"{primary_metric.label} ({primary_metric.unit})", case.baseline,
            case.pilot_window)

    show_chart("timeline", timeline, empty="No data for this metric in these units around the pilot's windows yet. "
                                           "Import some on the Data page.")


def before_and_after() -> None:
    show_chart("before-after", lambda: charts.four_cells(primary))


def synthetic_twin() -> None:
    twin = primary.synthetic
    st.markdown(literal(wording.twin_words(twin, pilot.unit_name)))
    show_chart("synthetic-twin", lambda: charts.synthetic_chart(twin, pilot.unit_name, primary.label,
                                                                 pilot.pilot_start, primary.direction))
    show_chart("placebos", lambda: charts.placebo_chart(twin, {name: name for name in twin.ratios}, primary.label,
                                                         pilot.pilot_start))
    st.caption(literal(wording.placebo_words(twin, pilot.unit_name, primary.unit)))


def rollout_event_study() -> None:
    show_chart("event-study", lambda: charts.event_study(case.rollout, primary.label, primary.direction))
    found = case.rollout
    if found.simple is not None:
        st.caption(literal(
            f"Overall effect since go-live: {number(found.simple.effect, signed=True)} {primary.unit} "
            f"(standard error {number(found.simple.se)}; by wave, averaged: {number(found.group.effect, signed=True)}, "
            f"standard error {number(found.group.se)}). Callaway & Sant'Anna with "
            f"{found.control_group.replace('_', '-')} units as comparison; these standard errors assume many "
            f"units, so with few the waves' intervals above are the ones to read."))


def every_metric() -> None:
    show_chart("effects", lambda: charts.effects_vs_target(case))


@st.fragment
def evidence_charts() -> None:
    """The charts behind the headline, one tab each; only the open tab's chart is built (a tab
    change reruns this fragment alone)."""
    st.subheader("The evidence in charts")
    shown = {"Week by week": week_by_week}
    if primary.treated_before is not None and primary.treated_after is not None:
        shown["Before and after"] = before_and_after
        if primary.synthetic is not None:
            shown["Against a synthetic twin"] = synthetic_twin
        shown["Every metric against its target"] = every_metric
    if case.rollout is not None and case.rollout.event_study:
        shown["Did it hold?"] = rollout_event_study
    tabs = st.tabs(list(shown), key=f"evidence_{pilot.pilot_id}", on_change="rerun")
    for tab, draw in zip(tabs, shown.values(), strict=True):
        if tab.open:
            with tab:
                draw()


evidence_charts()

st.subheader("Checks")
if not case.checks:
    st.success("No warnings: enough data, a stable baseline, controls untouched by other pilots, guardrails held.",
               icon=":material/verified:")
for severity, (icon, heading) in SEVERITY.items():
    for check in (c for c in case.checks if c.severity == severity):
        show = st.error if severity in ("blocking", "stop") else st.warning
        show(f"**{heading}.** {literal(check.message)}", icon=icon)


@st.fragment
def how_we_know() -> None:
    """The statistician's detail, built once opened."""
    with st.expander("How we know: every metric, its cells and the method", key=f"how_{pilot.pilot_id}",
                     on_change="rerun") as detail:
        if not detail.open:
            return
        st.dataframe(pd.DataFrame([{
            "metric": text.printable(m.label), "role": m.role, "unit": text.printable(m.unit),
            "better": "higher" if m.direction == "higher" else "lower",
            "pilot before": m.treated_before.mean if m.treated_before else None,
            "pilot after": m.treated_after.mean if m.treated_after else None,
            "controls before": m.control_before.mean if m.control_before else None,
            "controls after": m.control_after.mean if m.control_after else None,
            "effect": m.effect, "95% low": m.ci_low, "95% high": m.ci_high, "p-value": m.p_value,
            "standard error": m.se, "from answers only": m.se_sampling, "interval from": m.inference,
            "smallest detectable": m.mde,
            "n (pilot before / after)": " / ".join(f"{c.n:,.0f}" if c else "—"
                                                   for c in (m.treated_before, m.treated_after)),
        } for m in case.metrics]), hide_index=True, width="stretch",
            column_config={c: st.column_config.NumberColumn(format="%.3g") for c in
                           ("pilot before", "pilot after", "controls before", "controls after", "effect", "95% low",
                            "95% high", "standard error", "from answers only", "smallest detectable")}
            | {"p-value": st.column_config.NumberColumn(format="%.3f")})
        st.markdown(f"**Method.** {literal(primary.method)}")
        if primary.drift_aware:
            st.markdown(f"**Drift.** {literal(wording.drift_words(primary))}")
        trend = primary.pre_trend
        if trend is not None and trend.checked:
            st.markdown("**Baseline trend.** " + literal(
                f"The {trend.compares} moved {number(trend.slope, signed=True)} {primary.unit} a week over "
                f"{trend.weeks} baseline weeks ({analysis.p_words(trend.p_value)})."))


how_we_know()


@st.fragment
def north_star_link() -> None:
    """A pilot on a driver metric: its effect carried to the north star by the transfer function
    (pilots.drivers), built once opened."""
    with st.expander(f"What this means for {literal(north_star.label)}", key=f"north_star_{pilot.pilot_id}",
                     on_change="rerun") as section:
        if not section.open:
            return
        try:
            link = drivers.transfer_function(db, actor, north_star.key)
        except ValidationError as error:
            show_problems(error)
            return
        slope = link.slope(primary.metric)
        st.markdown(literal(drivers.slope_words(link, slope)))
        if primary.has_estimate:
            movement = drivers.projection(slope, primary.effect, primary.ci_low, primary.ci_high)
            st.markdown(literal(drivers.projection_words(link, slope, primary.effect, primary.ci_low,
                                                         primary.ci_high)))
            per_point = drivers.value_per_north_star_point(db, actor, north_star.key)
            customers = sum(u.customers or 0 for u in value.units)
            if per_point and customers:
                st.markdown(literal(drivers.money_words(link, movement, per_point, customers, currency)))
        st.caption(literal(f"{link.caveat} {slope.method}."))


north_star = next((m for m in metrics.values() if m.role_hint == "north_star"), None)
if north_star is not None and primary_metric.role_hint == "driver":
    north_star_link()

# ---------------------------------------------------------------- rollout value and its assumptions

@st.fragment
def value_per_unit(value) -> None:
    """What rolling out is worth in each unit, drawn once opened."""
    with st.expander("Value per unit", key=f"value_units_{pilot.pilot_id}", on_change="rerun") as table:
        if table.open:
            st.dataframe(pd.DataFrame([{"unit": text.printable(u.unit), "customers": u.customers,
                                        "value a year": u.value, "low": u.low, "high": u.high} for u in value.units]),
                         hide_index=True, width="stretch", column_config={
                             c: st.column_config.NumberColumn(format="compact")
                             for c in ("customers", "value a year", "low", "high")})


st.subheader("Value of rolling out")
units = store.list_units(db, actor)
names = {u.unit_id: text.printable(u.name) for u in units}
assumed = value.assumptions
if actor.is_editor:
    with st.form("assumptions"):
        st.markdown("**Assumptions** — what one point of improvement is worth, and where it would go")
        cols = st.columns(4)
        per_point = cols[0].number_input("Value of one point per customer a year",
                                         min_value=0.0, value=float(assumed.value_per_point or 0.0), format="%.4g")
        share = cols[1].number_input("Revenue share per point (%)", min_value=0.0, format="%.3g",
                                     value=float(assumed.revenue_share_per_point * 100))
        realisation = cols[2].slider("Share of the effect kept at scale", 0.0, 1.0, float(assumed.realisation), 0.05)
        others = [u.unit_id for u in units if u.unit_id not in pilot.unit_ids]
        # By default neither the pilot unit nor its controls (see analysis.rollout_value).
        usual = [i for i in others if i not in pilot.control_unit_ids]
        targets = cols[3].multiselect("Roll out to", others, format_func=names.get,
                                      default=usual if assumed.unit_ids is None else
                                      [i for i in others if i in assumed.unit_ids])
        preview_col, save_col, _ = st.columns([1, 1, 4])
        preview = preview_col.form_submit_button("Preview")
        save = save_col.form_submit_button("Save assumptions", type="primary")
    edited = cells.RolloutAssumptions(per_point or None, share / 100, realisation,
                                      None if set(targets) == set(usual) else tuple(targets))
    if save:
        try:
            cells.save_assumptions(db, actor, pilot.pilot_id, edited, expected_version=pilot.version)
            st.toast("Assumptions saved.", icon=":material/check:")
            st.rerun()
        except ValidationError as refused:
            show_problems(refused.problems)
    elif preview:
        problems = edited.problems()
        if problems:
            show_problems(problems)
        else:
            value = analysis.analyze_pilot(db, actor, pilot.pilot_id, assumptions=edited).rollout_value
            st.info("Preview with the assumptions above, not saved.", icon=":material/visibility:")
else:
    revenue = (f", plus {assumed.revenue_share_per_point:.2%} of revenue per customer"
               if assumed.revenue_share_per_point else "")
    where = ("every unit that is neither the pilot unit nor one of its controls" if assumed.unit_ids is None
             else ", ".join(names.get(i, str(i)) for i in assumed.unit_ids) or "no unit")
    st.markdown("**Assumptions** (set by the CCO office): " + literal(
        f"one point of {primary_metric.label} is worth "
        f"{number(assumed.value_per_point) if assumed.value_per_point else 'nothing set'} a year per customer"
        f"{revenue}; {assumed.realisation:.0%} of the effect is expected to hold at scale; rolled out to {where}."))
if value.total is not None:
    st.markdown(f"Rolling out is worth **{literal(money(value.total, currency))} a year** " + literal(
        f"(95% range {money(value.total_low, currency)} to {money(value.total_high, currency)}, allowing for the "
        f"effect's uncertainty, units differing from each other and the share kept at scale), counting "
        f"{wording.change_words(primary.direction, value.effect_used, primary.unit, primary.aggregation)} per customer "
        "after shrinking and realisation."))
    value_per_unit(value)
for note in value.notes:
    st.caption(literal(note))

# ---------------------------------------------------------------- planning a pilot still to run

if pilot.status in ("proposed", "baseline") or not primary.has_estimate:
    st.subheader("How long must it run?")
    try:
        plan = planning.weeks_needed(db, actor, pilot.pilot_id)
    except ValidationError as refused:
        st.info(literal(" ".join(p.reason.capitalize() for p in refused.problems) + "."))
    except AccessDenied:  # planning reads the lead unit's data, which another unit's head may not see
        st.info(f"Planning reads {literal(pilot.unit_name)}'s data, the pilot's lead unit, which only its head, "
                "the CCO office and the steering committee see.")
    else:
        if plan.weeks_each_window is not None:
            planned = (pilot.pilot_end - pilot.pilot_start).days / 7
            verdict = ("" if plan.pilot_weeks is None else
                       f" With the planned {plan.baseline_weeks:.0f}-week baseline, the pilot window needs "
                       f"**{plan.pilot_weeks} weeks**; it is planned for {planned:.0f}, "
                       + ("enough." if plan.pilot_weeks <= planned else "**too short**."))
            st.markdown(literal(
                f"To detect {wording.target_words(primary.direction, plan.target, primary.unit, primary.aggregation)} "
                f"reliably (80% of the time), at {plan.weekly_n_treated:,.0f} answers a week in {plan.unit}"
                + (f" and {plan.weekly_n_control:,.0f} in the controls" if plan.weekly_n_control else "")
                + ", equally long windows need ") + f"**{plan.weeks_each_window} weeks each**." + verdict)
        for note in plan.notes:
            st.warning(literal(note), icon=":material/warning:")
        st.caption(literal(plan.method))

# ---------------------------------------------------------------- data coverage

@st.fragment
def data_coverage() -> None:
    """What data the pilot's units have month by month, drawn once opened."""
    with st.expander(f"Data coverage: {literal(primary_metric.label)} in the pilot's units",
                     key=f"coverage_{pilot.pilot_id}", on_change="rerun") as section:
        if not section.open:
            return
        if view.coverage.empty:
            st.info("No data yet for these units.")
            return
        show_chart("coverage", lambda: charts.coverage_heatmap(view.coverage, view.windows, primary_metric.label),
                   downloads=False)
        st.caption("Shade: answers or cases a month. Triangle: where this pilot's baseline starts.")


data_coverage()

pilot_trail(pilot, case)
