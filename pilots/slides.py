"""The slide model: what a pilot's case and the portfolio say in a meeting, as a sequence of slides,
each one message and at most one chart. Present mode (on screen) and the decks (pilots.export) both
draw these same slides, so what is presented is what is sent round afterwards.

Charts on slides are built at a large base type size (SLIDE_BASE_SIZE) and a fixed width, so they
read from the back of a room and render offline to the same picture as on screen.

A slide's words carry people's text (names, hypotheses, owners, rationales) into present mode and
every deck: each slide's text is made printable, bounded and one line (pilots.text.printable)
before it leaves here, whatever was stored."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from dataclasses import dataclass, field

import altair as alt
import pandas as pd

from . import analysis, charts, org, results, store, text, wording
from .casefile import CaseFile, case_file
from .access import Actor
from .db import Database
from .model import STATUSES

SLIDE_BASE_SIZE = 24
SLIDE_WIDTH = 1050
SLIDE_HEIGHT = 330
TITLE_TEXT = 160  # characters of a slide's title (a pilot's name, or a metric's label and a few words)
SLIDE_TEXT = 600  # characters of a message, bullet or figure: all a slide can show (a hypothesis is cut)
HYPOTHESIS_TEXT = 450  # characters of a hypothesis: with the unit's name, one message

TITLE, NUMBERS, CHART, TEXT, APPENDIX = "title", "numbers", "chart", "text", "appendix"
EVIDENCE_WORDS = {results.RANDOMISED: "Randomised", results.CONTROLLED: "Controlled",
                  results.BEFORE_AFTER: "Before/after only"}


@dataclass
class Slide:
    """One slide: a title, the one message it carries (a sentence), at most one chart, and bullets.
    `kind` says how to lay it out: TITLE, NUMBERS (headline figures in `numbers`, as (label, value,
    detail); also written out in `bullets`), CHART, TEXT or APPENDIX (small print)."""

    title: str
    message: str
    chart: alt.TopLevelMixin | None = None
    bullets: list[str] = field(default_factory=list)
    kind: str = CHART
    numbers: list[tuple[str, str, str]] = field(default_factory=list)


def _money(value: float | None, currency: org.OrgSettings | None = None) -> str:
    return org.format_money(value, currency)


def one_line(value, limit: int) -> str:
    """Text as a slide or a deck's cover shows it: printable and bounded (pilots.text.printable), on one line."""
    return " ".join(text.printable(value, limit).split())


def _as_shown(pilot):
    """The pilot with its names and texts as slides show them, each bounded on its own, so that a
    sentence naming several keeps them all. For words only: data are looked up by the pilot itself."""
    def name(value):
        return one_line(value, text.MAX_NAME)

    return dataclasses.replace(
        pilot, name=name(pilot.name), unit_name=name(pilot.unit_name), owner=name(pilot.owner),
        sponsor=name(pilot.sponsor), hypothesis=one_line(pilot.hypothesis, HYPOTHESIS_TEXT),
        control_unit_names=tuple(map(name, pilot.control_unit_names)),
        further_unit_names=tuple(map(name, pilot.further_unit_names)),
        decision_rationale=one_line(pilot.decision_rationale, SLIDE_TEXT) if pilot.decision_rationale else None)


def _printable(slide: Slide) -> Slide:
    """The slide with every text printable, bounded and on one line: PowerPoint and PDF refuse
    control characters, and a very long text stalls them."""
    return dataclasses.replace(
        slide, title=one_line(slide.title, TITLE_TEXT), message=one_line(slide.message, SLIDE_TEXT),
        bullets=[one_line(bullet, SLIDE_TEXT) for bullet in slide.bullets],
        numbers=[(one_line(label, SLIDE_TEXT), one_line(shown, SLIDE_TEXT), one_line(detail, SLIDE_TEXT))
                 for label, shown, detail in slide.numbers])


def _effect_words(m: analysis.MetricResult) -> tuple[str, str]:
    """The primary effect in its units, and its interval and target, for the headline."""
    if not m.has_estimate:
        return "no estimate", "a window or arm has too little data"
    target = ""
    if m.target is not None:
        signed = abs(m.target) if m.direction == "higher" else -abs(m.target)
        target = f"; target {charts._fmt(signed, m.unit, signed=True)}"
    return (charts._fmt(m.effect, m.unit, signed=True),
            f"95% interval {charts._fmt(m.ci_low)} to {charts._fmt(m.ci_high)}, {wording.interval_basis(m)}{target}")


def _headline_message(case: analysis.PilotCase) -> str:
    """What the headline figures mean, in words they do not already say: the effect's likely range
    against the target, and why the verdict is what it is."""
    if not case.primary.has_estimate:
        return f"No estimate yet: {wording.why(case)}."
    said = wording.likely(case, basis=False)
    return said if case.interim else f"{said[:-1]}: {wording.why(case)}."


def _headline(case: analysis.PilotCase, pilot, currency: org.OrgSettings | None) -> Slide:
    m, status = case.primary, wording.state(case)
    effect, detail = _effect_words(m)
    value = case.rollout_value
    controls = len(pilot.control_unit_names)
    numbers = [
        ("Decision" if status.decided else "Verdict", status.label,
         status.headline + (f"; {status.evidence}" if status.evidence else "") if status.decided
         else f"{status.headline}; no decision recorded yet"),
        (f"Effect on {m.label}", effect, detail),
        ("Evidence", EVIDENCE_WORDS.get(case.evidence_grade, case.evidence_grade),
         (f"compared with {controls} control unit{'s' if controls != 1 else ''}" if controls
          else "no control unit to compare with")
         + f"; {sum(c.n for c in (m.cell(n) for n in analysis.CELL_NAMES) if c is not None):,.0f} answers or cases"),
        ("Rollout value a year", _money(value.total, currency),
         f"95% range {_money(value.total_low, currency)} to {_money(value.total_high, currency)}"
         if value.total is not None else "; ".join(value.notes)),
    ]
    return Slide("The case in numbers", _headline_message(case),
                 bullets=[f"{label}: {shown} ({more})" if more else f"{label}: {shown}"
                          for label, shown, more in numbers], kind=NUMBERS, numbers=numbers)


def _four_cells_message(m: analysis.MetricResult) -> str:
    if not m.has_estimate:
        return f"{m.label} has no estimate yet: a window or arm has too little data."
    moved = m.treated_after.mean - m.treated_before.mean
    text = f"The pilot unit moved {charts._fmt(moved, m.unit, signed=True)}"
    if m.control_before is not None and m.control_after is not None:
        text += (f", its controls {charts._fmt(m.control_after.mean - m.control_before.mean, m.unit, signed=True)}: "
                 f"the pilot's effect is {charts._fmt(m.effect, m.unit, signed=True)}")
    news = "good news" if m.good else "bad news"
    return text + f" ({news}, {'significant' if m.significant else 'not significant'} at 5%)."


def _metrics_message(case: analysis.PilotCase) -> str:
    reads = charts.effects_frame(case)["reads"]
    guardrails = [m for m in case.metrics if m.role == "guardrail"]
    harmed = [m.label for m in guardrails if m.harmed]
    text = (f"{(reads == charts.BETTER).sum()} of {len(reads)} metrics clearly better, "
            f"{(reads == charts.WORSE).sum()} clearly worse")
    if guardrails:
        text += f"; guardrail{'s' if len(guardrails) > 1 else ''} " + (
            f"harmed: {', '.join(harmed)}" if harmed else "held")
    return text + "."


def pilot_slides(db: Database, actor: Actor, pilot_id: int, base_size: int = SLIDE_BASE_SIZE,
                 width: int = SLIDE_WIDTH, screen_height: int | None = None) -> list[Slide]:
    """The case for rollout of one pilot as slides: title; headline numbers; the primary metric week
    by week; the four cells; every metric against its target; the rollout value (when there is one);
    once rolled out, whether the effect held in its waves; the decision and its reasons; an appendix
    with the method, the checks and the data coverage.
    `screen_height`: the height every chart must fit on a screen (present mode); without it (decks,
    whose pictures are scaled into the slide) charts are SLIDE_HEIGHT high or as their rows need."""
    height = screen_height or SLIDE_HEIGHT
    view = case_file(db, actor, pilot_id)
    stored, case = view.pilot, view.case
    pilot = _as_shown(stored)
    m = case.primary
    controls = ", ".join(pilot.control_unit_names) or "no control units"
    slides = [Slide(
        pilot.name, f"{pilot.units_label}: {pilot.hypothesis}" if pilot.hypothesis else pilot.units_label,
        bullets=[f"Status: {pilot.status.replace('_', ' ')}",
                 f"Baseline {pilot.baseline_start:%d %b %Y} – {pilot.baseline_end:%d %b %Y}; "
                 f"pilot {pilot.pilot_start:%d %b %Y} – {pilot.pilot_end:%d %b %Y}",
                 f"Compared with: {controls}",
                 *([f"Owner: {pilot.owner}"] if pilot.owner else []),
                 *([f"Sponsor: {pilot.sponsor}"] if pilot.sponsor else [])],
        kind=TITLE)]
    currency = org.org_settings(db)
    slides.append(_headline(case, pilot, currency))
    series = view.series
    slides.append(Slide(
        f"{m.label} week by week",
        f"{pilot.units_label} against {controls}; baseline and pilot windows shaded, go-live dashed.",
        charts.pilot_timeline(series, stored.units_label, f"{m.label} {charts.better_arrow(m.direction)}",
                              case.baseline, case.pilot_window, base_size=base_size, width=width, height=height)))
    slides.append(Slide("Before and after", _four_cells_message(m),
                        charts.four_cells(m, base_size=base_size, width=width, height=height)))
    if m.synthetic is not None:
        slides.append(Slide("Against a synthetic twin", wording.twin_words(m.synthetic, pilot.unit_name) + " "
                            + wording.placebo_words(m.synthetic, pilot.unit_name, m.unit, short=True),
                            charts.synthetic_chart(m.synthetic, pilot.unit_name, m.label, pilot.pilot_start,
                                                   m.direction, base_size=base_size, width=width, height=height,
                                                   title=""),
                            bullets=[wording.placebo_words(m.synthetic, pilot.unit_name, m.unit)]))
    slides.append(Slide("Every metric against its target", _metrics_message(case),
                        charts.effects_vs_target(case, base_size=base_size, width=width, height=screen_height)))
    value = case.rollout_value
    if value.total is not None and value.units:
        slides.append(Slide(
            "What rolling out is worth",
            f"{_money(value.total, currency)} a year across {len(value.units)} units (95% range "
            f"{_money(value.total_low, currency)} to {_money(value.total_high, currency)}), "
            f"at {value.assumptions.realisation:.0%} of the pilot's effect"
            + (f" after shrinking it to {value.shrink_factor:.0%} for the luck in a pilot that looks good."
               if value.shrink_factor is not None else "."),
            charts.rollout_value_chart(value, base_size=base_size, width=width, currency=currency)))
    if case.rollout is not None:
        found = case.rollout
        look = [f"Needs a look: {line}" for line in wording.needs_a_look(case)]
        slides.append(Slide(
            "Did the effect hold?", wording.rollout_sentence(found, m.label, m.unit, m.aggregation),
            charts.event_study(found, m.label, m.direction, base_size=base_size, width=width, height=height,
                               title="") if found.event_study else None,
            bullets=look + [f"{w.label} ({', '.join(w.units)}): {w.state}, {w.reason}" for w in found.waves[1:]],
            kind=CHART if found.event_study else TEXT))
    if pilot.decision:
        status = wording.state(case)
        decided = f"{status.headline}. The evidence today says {case.verdict}."
        rationale = [f"Rationale: {pilot.decision_rationale}"] if pilot.decision_rationale else []
    else:
        status = wording.state(case)
        decided = (f"Recommended: {status.headline}. No decision recorded yet."
                   if status.label not in (wording.PLAN, wording.INTERIM)
                   else f"{status.headline}: no recommendation before the pilot window has ended.")
        rationale = []
    slides.append(Slide("Decision and reasons", decided, bullets=rationale + list(case.reasons), kind=TEXT))
    slides.append(Slide("Appendix: method", m.evidence_grade.capitalize() + ".",
                        bullets=[f"{r.label}: {r.method}" for r in case.metrics[:1]]
                        + ([f"Drift: {wording.drift_words(m)}"] if m.drift_aware else [])
                        + [f"Target: {m.target} {m.unit}" if m.target is not None else "No target set."]
                        + [_trend_words(m)], kind=APPENDIX))
    slides.append(Slide("Appendix: checks",
                        f"{len(case.checks)} check{'s' if len(case.checks) != 1 else ''} raised" if case.checks
                        else "No check raised a warning.",
                        bullets=[f"{c.severity.capitalize()}: {c.message}" for c in case.checks], kind=APPENDIX))
    slides.append(_coverage_slide(view, m, base_size, width))
    return [_printable(slide) for slide in slides]


def _trend_words(m: analysis.MetricResult) -> str:
    pre = m.pre_trend
    if pre is None or not pre.checked:
        return "Baseline trend: not checkable (fewer than 3 baseline weeks with data)."
    return (f"Baseline trend of the {pre.compares}: {charts._fmt(pre.slope, m.unit, signed=True)} a week over "
            f"{pre.weeks} weeks ({analysis.p_words(pre.p_value)})"
            f"{': failed' if pre.failed else ', no drift detected'}.")


CELL_WORDS = {"treated_before": "pilot unit in the baseline", "treated_after": "pilot unit in the pilot window",
              "control_before": "controls in the baseline", "control_after": "controls in the pilot window"}


def _coverage_slide(view: CaseFile, m: analysis.MetricResult, base_size: int, width: int) -> Slide:
    """The coverage of the pilot's units around its windows (two months either side: a slide's width)."""
    pilot = view.pilot
    first = pd.Timestamp(pilot.baseline_start).to_period("M").to_timestamp() - pd.DateOffset(months=2)
    last = pd.Timestamp(pilot.pilot_end) + pd.DateOffset(months=2)
    months = pd.to_datetime(view.coverage["month"])
    found = view.coverage[(months >= first) & (months <= last)]
    windows = view.windows
    cells = [m.cell(name) for name in analysis.CELL_NAMES]
    volume = sum(c.n for c in cells if c is not None)
    message = (f"{volume:,.0f} answers or cases of {m.label} in the four cells; weeks with data: "
               + ", ".join(f"{CELL_WORDS[name]} {c.weeks}" for name, c in zip(analysis.CELL_NAMES, cells, strict=True)
                           if c is not None) + ".")
    chart = charts.coverage_heatmap(found, windows, m.label, base_size=base_size, width=width) if len(found) else None
    return Slide("Appendix: data coverage", message, chart, kind=APPENDIX)


# ---------------------------------------------------------------- the portfolio

def portfolio_frame(db: Database, actor: Actor) -> pd.DataFrame:
    """Every pilot the actor may see, one row each, from its full case (analysis.analyze_pilots):
    its primary metric's effect, SE, 95% interval, p-value, MDE, target and signal (NaN where there is
    no estimate), the full verdict (design checks and guardrails weighed), the state it leads with on
    every surface (`state`: the decision once taken, see pilots.wording), once rolled out whether the
    effect held (`rollout`, and the waves that need a look) and the yearly rollout value with its range."""
    rows = []
    for case in analysis.analyze_pilots(db, actor):
        m, value, status = case.primary, case.rollout_value, wording.state(case)
        rows.append({
            "pilot_id": case.pilot_id, "pilot": case.pilot, "unit": case.unit, "status": case.status,
            "metric": m.metric, "direction": m.direction, "evidence_grade": m.evidence_grade,
            **{column: getattr(m, column) for column in ("effect", "se", "ci_low", "ci_high", "p_value", "mde")},
            "target": math.nan if case.target_effect is None else case.target_effect,
            "signal": m.signal, "verdict": case.verdict, "state": status.label, "headline": status.headline,
            "rollout": status.rollout, "needs_a_look": "; ".join(wording.needs_a_look(case)),
            "value": value.total, "value_low": value.total_low, "value_high": value.total_high})
    frame = pd.DataFrame(rows, columns=[
        "pilot_id", "pilot", "unit", "status", "metric", "direction", "evidence_grade", "effect", "se", "ci_low",
        "ci_high", "p_value", "mde", "target", "signal", "verdict", "state", "headline", "rollout", "needs_a_look",
        "value", "value_low", "value_high"])
    return frame.astype({c: "Float64" for c in ("value", "value_low", "value_high")})


def portfolio_slides(db: Database, actor: Actor, base_size: int = SLIDE_BASE_SIZE,
                     width: int = SLIDE_WIDTH, today: dt.date | None = None,
                     screen_height: int | None = None) -> list[Slide]:
    """The portfolio as slides: title; pipeline per unit and state; forest plot of every evaluated
    pilot's primary effect; total value of rolling out the pilots decided or found worth it; whether
    the rolled-out pilots held, with the waves that need a look; the decisions taken and those pending. `screen_height`: as for pilot_slides, the height the forest
    plot must fit on a screen (present mode), its rows and type shrinking if need be."""
    today = today or dt.date.today()
    pilots = store.list_pilots(db, actor)
    frame = portfolio_frame(db, actor)
    currency = org.org_settings(db)
    units = sorted({name for p in pilots for name in p.unit_names})
    by_status = {s: sum(p.status == s for p in pilots) for s in STATUSES}
    slides = [Slide("Customer-experience pilots", f"{len(pilots)} pilots in {len(units)} business units, "
                    f"as of {today.day} {today:%B %Y}.",
                    bullets=[f"{s.replace('_', ' ').capitalize()}: {n}" for s, n in by_status.items() if n],
                    kind=TITLE)]
    slides.append(Slide("Pipeline", f"{by_status['baseline'] + by_status['running']} running, "
                        f"{by_status['evaluating']} being evaluated, {by_status['decided']} decided, "
                        f"{by_status['rolled_out']} rolled out.",
                        charts.pipeline_chart(store.pipeline(db, actor), STATUSES, base_size=base_size, width=width)))
    evaluated = frame[frame["effect"].notna()]
    met = (evaluated["signal"] == "meets_target").sum()
    slides.append(Slide("Every evaluated pilot against its target",
                        f"{met} of {len(evaluated)} pilots with an estimate beat their target; right is better.",
                        charts.forest_plot(evaluated, base_size=base_size, width=width * 0.62,
                                           height=screen_height)))
    winners = frame[(frame["state"] == "Roll out") & frame["value"].notna()]
    values = pd.DataFrame({"pilot": winners["pilot"], "value": winners["value"].astype(float),
                           "low": winners["value_low"].astype(float), "high": winners["value_high"].astype(float)})
    total = values["value"].sum()
    slides.append(Slide("What rolling out is worth",
                        f"Rolling out the {len(values)} pilots decided or found worth rolling out: "
                        f"{_money(total, currency)} a year (range {_money(values['low'].sum(), currency)} to "
                        f"{_money(values['high'].sum(), currency)}, the sums of each pilot's 95% range ends)."
                        if len(values) else "No pilot has earned a rollout yet.",
                        charts.portfolio_value_chart(values, base_size=base_size, width=width * 0.7, currency=currency)
                        if len(values) else None))
    rolled = frame[frame["rollout"].notna()]
    if len(rolled):
        looks = rolled[rolled["needs_a_look"] != ""]
        slides.append(Slide(
            "Did it hold?", f"{len(rolled)} pilot{'s' if len(rolled) != 1 else ''} rolled out; "
            + (f"{len(looks)} with a wave that needs a look." if len(looks) else "none needs a look."),
            bullets=[f"{one_line(row.pilot, text.MAX_NAME)}: rollout {row.rollout}" for row in rolled.itertuples()]
            + [f"Needs a look: {one_line(row.needs_a_look, SLIDE_TEXT)}" for row in looks.itertuples()], kind=TEXT))
    decided = [p for p in pilots if p.decision]
    pending = frame[frame["status"].eq("evaluating") & frame["pilot_id"].isin([p.pilot_id for p in pilots
                                                                                if not p.decision])]
    slides.append(Slide(
        "Decisions", f"{len(decided)} decided, {len(pending)} awaiting a decision.",
        bullets=[f"{p.name} ({p.units_label}): {wording.DECISION_LABELS.get(p.decision, p.decision)}"
                 + (f". {p.decision_rationale}" if p.decision_rationale else "") for p in map(_as_shown, decided)]
        + [f"{one_line(row.pilot, text.MAX_NAME)} ({one_line(row.unit, text.MAX_NAME)}): awaiting decision; "
           f"the analysis says {row.verdict}"
           for row in pending.itertuples(index=False)], kind=TEXT))
    return [_printable(slide) for slide in slides]
