"""Pilot: the case for rollout of one pilot. The headline (verdict, effect against target, evidence
grade, rollout value), the charts behind it, the checks and the reasons in plain words, the rollout
assumptions next to the value they give (editable by the CCO office), planning for a pilot still to
run, data coverage, downloads and present mode, then the decision trail."""


import dataclasses

import pandas as pd
import streamlit as st

from pages._case import GRADES, SEVERITY, change_words, money, number, target_words
from pages._ui import current_actor, database, in_app_shell, pilot_trail, show_problems
from pilots import analysis, cells, charts, export, formats, ingest, org, planning, store, wording
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
try:
    current = int(wanted) if wanted is not None else pilots[0].pilot_id
except ValueError:
    current = pilots[0].pilot_id
if current not in by_id:
    try:
        store.get_pilot(db, actor, current)
        st.warning(f"There is no pilot {current}.")
    except (LookupError, AccessDenied):
        st.warning(f"Pilot {wanted} does not exist or is not yours to see.")
    current = pilots[0].pilot_id

ids = list(by_id)
chosen = st.selectbox("Pilot", ids, index=ids.index(current),
                      format_func=lambda i: f"{by_id[i].name} — {by_id[i].unit_name}")
if chosen != current or wanted is None:
    st.query_params["id"] = str(chosen)
pilot = by_id[chosen]
metrics = store.metric_lookup(db)
primary_metric = metrics[pilot.primary_metric]
case = analysis.analyze_pilot(db, actor, pilot.pilot_id)
primary = case.primary
slug = "".join(c if c.isalnum() else "-" for c in pilot.name.lower()).strip("-")


def chart_downloads(chart, name: str) -> None:
    """PNG and SVG of a chart as shown, rendered only when asked for."""
    row = st.container(horizontal=True)
    row.download_button("PNG", data=lambda: export.chart_png(chart), file_name=f"{slug}-{name}.png",
                        mime="image/png", icon=":material/image:", on_click="ignore", key=f"png_{name}",
                        type="tertiary")
    row.download_button("SVG", data=lambda: export.chart_svg(chart), file_name=f"{slug}-{name}.svg",
                        mime="image/svg+xml", icon=":material/draw:", on_click="ignore", key=f"svg_{name}",
                        type="tertiary")


# ---------------------------------------------------------------- title and actions

st.title(pilot.name)
st.caption(f"{pilot.unit_name} · {pilot.status.replace('_', ' ')} · owner {pilot.owner or '—'} · "
           f"sponsor {pilot.sponsor or '—'} · baseline {pilot.baseline_start:%d %b %Y} – {pilot.baseline_end:%d %b %Y}"
           f" · pilot window {pilot.pilot_start:%d %b %Y} – {pilot.pilot_end:%d %b %Y}")
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
    st.markdown(f"**Hypothesis.** {pilot.hypothesis}")

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
    head[1].metric("Effect, percentage points" if shares else f"Effect, {primary.unit}" if primary.unit else "Effect",
                   number(100 * primary.effect if shares else primary.effect, signed=True),
                   help=f"On {primary.label}",
                   delta=significance, delta_arrow="up" if primary.effect > 0 else "down",
                   delta_color="green" if primary.significant and primary.good else "red" if primary.harmed else "gray",
                   border=True)
else:
    head[1].metric("Effect", "—", help=f"On {primary.label}", delta="not enough data yet", delta_color="gray",
                   delta_arrow="off", border=True)
head[2].metric("Evidence", GRADES[case.evidence_grade] if primary.has_estimate else "—",
               delta=f"{len(pilot.control_unit_ids)} control unit{'s' if len(pilot.control_unit_ids) != 1 else ''}",
               delta_color="gray", delta_arrow="off", border=True, help=primary.method)
if value.total is not None:
    head[3].metric("Rollout value a year", money(value.total, currency),
                   delta=f"range {money(value.total_low, currency)} to {money(value.total_high, currency)}",
                   delta_color="green" if value.total_low > 0 else "red" if value.total_high < 0 else "gray",
                   delta_arrow="off", border=True,
                   help=f"Rolled out to {len(value.units)} unit{'s' if len(value.units) != 1 else ''}; the 95% range "
                        f"holds the effect's uncertainty, units differing and the share kept at scale.")
else:
    head[3].metric("Rollout value a year", "—", delta="no value yet", delta_color="gray", delta_arrow="off",
                   border=True, help=" ".join(value.notes))
if primary.has_estimate:
    g, g_low, g_high = primary.oriented
    so_far = f"Interim, {case.interim}: so far, " if case.interim else ""
    if g_low > 0 or g_high < 0:
        likely = (f"the {'gain' if g_low > 0 else 'loss'} in {primary.label} is most likely between "
                  f"{formats.amount(abs(g_low if g_low > 0 else g_high), primary.unit, primary.aggregation).split(' ')[0]} "
                  f"and {formats.amount(abs(g_high if g_low > 0 else g_low), primary.unit, primary.aggregation)}")
    else:
        likely = (f"the change in {primary.label} is most likely between "
                  f"{change_words(primary.direction, g_low, primary.unit, primary.aggregation)} and "
                  f"{change_words(primary.direction, g_high, primary.unit, primary.aggregation)}, so it could be none at all")
    st.markdown(f"{so_far}{likely if so_far else likely[0].upper() + likely[1:]} (95% interval, "
                f"{wording.interval_basis(primary)}), against a target of "
                f"{target_words(primary.direction, primary.target, primary.unit, primary.aggregation)}.")

if status.decided:
    st.markdown(f"#### {status.icon} {status.badge} — {status.headline}")
    if pilot.decision_rationale:
        st.text(pilot.decision_rationale)
    evidence = wording.state(dataclasses.replace(case, decision=None))
    st.markdown(f"##### What the evidence says today: {evidence.badge}")
else:
    st.markdown(f"#### {status.icon} {status.badge} — why")
st.markdown("\n".join(f"- {reason}" for reason in case.reasons))

# ---------------------------------------------------------------- the evidence in charts

st.subheader(f"{primary_metric.label}: pilot unit against controls, week by week")
series = store.pilot_series(db, actor, pilot, pilot.primary_metric)
if series.empty:
    st.info("No data for this metric in these units around the pilot's windows yet. Import some on the Data page.")
else:
    timeline = charts.pilot_timeline(series, pilot.unit_name, f"{primary_metric.label} ({primary_metric.unit})",
                                     case.baseline, case.pilot_window)
    st.altair_chart(timeline, width="stretch")
    chart_downloads(timeline, "timeline")

if primary.treated_before is not None and primary.treated_after is not None:
    st.subheader("Before and after")
    before_after = charts.four_cells(primary)
    st.altair_chart(before_after, width="stretch")
    chart_downloads(before_after, "before-after")
    if primary.synthetic is not None:
        twin = primary.synthetic
        st.subheader("Against a synthetic twin")
        st.markdown(wording.twin_words(twin, pilot.unit_name))
        twin_chart = charts.synthetic_chart(twin, pilot.unit_name, primary.label, pilot.pilot_start, primary.direction)
        st.altair_chart(twin_chart, width="stretch")
        chart_downloads(twin_chart, "synthetic-twin")
        placebos = charts.placebo_chart(twin, {name: name for name in twin.ratios}, primary.label, pilot.pilot_start)
        st.altair_chart(placebos, width="stretch")
        chart_downloads(placebos, "placebos")
        st.caption(wording.placebo_words(twin, pilot.unit_name, primary.unit))
    st.subheader("Every metric against its target")
    against = charts.effects_vs_target(case)
    st.altair_chart(against, width="stretch")
    chart_downloads(against, "effects")

st.subheader("Checks")
if not case.checks:
    st.success("No warnings: enough data, a stable baseline, controls untouched by other pilots, guardrails held.",
               icon=":material/verified:")
for severity, (icon, heading) in SEVERITY.items():
    for check in (c for c in case.checks if c.severity == severity):
        show = st.error if severity in ("blocking", "stop") else st.warning
        show(f"**{heading}.** {check.message}", icon=icon)

with st.expander("How we know: every metric, its cells and the method"):
    st.dataframe(pd.DataFrame([{
        "metric": m.label, "role": m.role, "unit": m.unit, "better": "higher" if m.direction == "higher" else "lower",
        "pilot before": m.treated_before.mean if m.treated_before else None,
        "pilot after": m.treated_after.mean if m.treated_after else None,
        "controls before": m.control_before.mean if m.control_before else None,
        "controls after": m.control_after.mean if m.control_after else None,
        "effect": m.effect, "95% low": m.ci_low, "95% high": m.ci_high, "p-value": m.p_value,
        "standard error": m.se, "from answers only": m.se_sampling, "interval from": m.inference,
        "smallest detectable": m.mde,
        "n (pilot before / after)": " / ".join(f"{c.n:,.0f}" if c else "—" for c in (m.treated_before, m.treated_after)),
    } for m in case.metrics]), hide_index=True, width="stretch",
        column_config={c: st.column_config.NumberColumn(format="%.3g") for c in
                       ("pilot before", "pilot after", "controls before", "controls after", "effect", "95% low",
                        "95% high", "standard error", "from answers only", "smallest detectable")} | {"p-value": st.column_config.NumberColumn(format="%.3f")})
    st.markdown(f"**Method.** {primary.method}")
    if primary.drift_aware:
        st.markdown(f"**Drift.** {wording.drift_words(primary)}")
    trend = primary.pre_trend
    if trend is not None and trend.checked:
        st.markdown(f"**Baseline trend.** The {trend.compares} moved {number(trend.slope, signed=True)} "
                    f"{primary.unit} a week over {trend.weeks} baseline weeks ({analysis.p_words(trend.p_value)}).")

# ---------------------------------------------------------------- rollout value and its assumptions

st.subheader("Value of rolling out")
units = store.list_units(db, actor)
names = {u.unit_id: u.name for u in units}
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
        others = [u.unit_id for u in units if u.unit_id != pilot.unit_id]
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
    st.markdown(
        f"**Assumptions** (set by the CCO office): one point of {primary_metric.label} is worth "
        f"{number(assumed.value_per_point) if assumed.value_per_point else 'nothing set'} a year per customer"
        f"{f', plus {assumed.revenue_share_per_point:.2%} of revenue per customer' if assumed.revenue_share_per_point else ''}; "
        f"{assumed.realisation:.0%} of the effect is expected to hold at scale; rolled out to "
        f"{'every unit that is neither the pilot unit nor one of its controls' if assumed.unit_ids is None else ', '.join(names.get(i, str(i)) for i in assumed.unit_ids) or 'no unit'}.")
if value.total is not None:
    st.markdown(f"Rolling out is worth **{money(value.total, currency)} a year** (95% range "
                f"{money(value.total_low, currency)} to {money(value.total_high, currency)}, allowing for the effect's uncertainty, units differing from each other "
                f"and the share kept at scale), counting "
                f"{change_words(primary.direction, value.effect_used, primary.unit, primary.aggregation)} per customer "
                "after shrinking and realisation.")
    st.dataframe(pd.DataFrame([{"unit": u.unit, "customers": u.customers, "value a year": u.value, "low": u.low,
                                "high": u.high} for u in value.units]), hide_index=True, width="stretch",
                 column_config={c: st.column_config.NumberColumn(format="compact")
                                for c in ("customers", "value a year", "low", "high")})
for note in value.notes:
    st.caption(note)

# ---------------------------------------------------------------- planning a pilot still to run

if pilot.status in ("proposed", "baseline") or not primary.has_estimate:
    st.subheader("How long must it run?")
    try:
        plan = planning.weeks_needed(db, actor, pilot.pilot_id)
    except ValidationError as refused:
        st.info(" ".join(p.reason.capitalize() for p in refused.problems) + ".")
    else:
        if plan.weeks_each_window is not None:
            planned = (pilot.pilot_end - pilot.pilot_start).days / 7
            verdict = ("" if plan.pilot_weeks is None else
                       f" With the planned {plan.baseline_weeks:.0f}-week baseline, the pilot window needs "
                       f"**{plan.pilot_weeks} weeks**; it is planned for {planned:.0f}, "
                       + ("enough." if plan.pilot_weeks <= planned else "**too short**."))
            st.markdown(f"To detect {target_words(primary.direction, plan.target, primary.unit, primary.aggregation)} "
                        "reliably (80% of the time), "
                        f"at {plan.weekly_n_treated:,.0f} answers a week in {plan.unit}"
                        + (f" and {plan.weekly_n_control:,.0f} in the controls" if plan.weekly_n_control else "")
                        + f", equally long windows need **{plan.weeks_each_window} weeks each**." + verdict)
        for note in plan.notes:
            st.warning(note, icon=":material/warning:")
        st.caption(plan.method)

# ---------------------------------------------------------------- data coverage

st.subheader(f"Data coverage: {primary_metric.label} in the pilot's units")
mine = [pilot.unit_name, *pilot.control_unit_names]
coverage = ingest.coverage(db, actor, pilot.primary_metric)
coverage = coverage[coverage["unit"].isin(mine)]
if coverage.empty:
    st.info("No data yet for these units.")
else:
    windows = ingest.pilot_windows(db, actor, pilot.primary_metric)
    st.altair_chart(charts.coverage_heatmap(coverage, windows[windows["pilot"] == pilot.name], primary_metric.label),
                    width="stretch")
    st.caption("Shade: answers or cases a month. Triangle: where this pilot's baseline starts.")

pilot_trail(pilot)
