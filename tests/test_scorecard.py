"""The monthly scorecard: its figures are the month's pooled answers and n-weighted period figures that an
independent pandas computation gives (a small organisation imported through the import path, and the
demo), changes are worded and coloured by the metric's direction of good, thin months say so, pilots in
flight and decisions due are read as on the card's date, roles hold, and the one-page PDF reads back."""

import dataclasses
import datetime as dt
import io
import time

import numpy as np
import pandas as pd
import pytest
from pypdf import PdfReader

from pilots import analysis, formats, ingest, lifecycle, org, scorecard, scorecard_pdf, store, wording
from pilots.access import COMMAND_LINE, AccessDenied, Actor
from pilots.model import Metric, ValidationError

MONTH = "2025-11"
WAIT = Metric("wait_minutes", "Wait on the phone", "minutes", "lower", "mean", 0, None, role_hint="driver")


def month_days(first: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=i) for i in range(scorecard.month_end(first).day)]


def answers(rng) -> pd.DataFrame:
    """NPS answers of Retail and Online every month from October 2024 to November 2025, CSAT answers in the
    card's three months; Retail's NPS answers of November 2025 are all detractors (a sure fall), and Claims
    has only five answers, all in November 2025 (too few for a figure)."""
    rows = []
    for index in range(14):
        first = dt.date(2024 + (9 + index) // 12, (9 + index) % 12 + 1, 1)
        days = month_days(first)
        for unit, metric, low, high in (("Retail", "nps", 0, 10), ("Online", "nps", 3, 10),
                                        ("Retail", "csat", 1, 5), ("Online", "csat", 2, 5)):
            if metric == "csat" and f"{first:%Y-%m}" not in ("2024-11", "2025-10", "2025-11"):
                continue
            if (unit, metric, f"{first:%Y-%m}") == ("Retail", "nps", MONTH):
                high = 6
            for _ in range(int(rng.integers(30, 60))):
                rows.append((unit, metric, days[int(rng.integers(len(days)))], int(rng.integers(low, high + 1))))
    rows += [("Claims", "nps", dt.date(2025, 11, 3 + i), 10) for i in range(5)]
    return pd.DataFrame(rows, columns=["unit", "metric", "date", "value"])


def figures(rng) -> pd.DataFrame:
    """Weekly figures: resolution days with n and sd (Retail 5 days a case in October 2025, 4 in November),
    first-contact resolution with n, and the wait on the phone without n (Claims: one week only)."""
    rows = []
    for week in pd.date_range("2024-10-07", "2025-11-24", freq="W-MON").date:
        for unit in ("Retail", "Online"):
            days = rng.uniform(3, 7)
            if unit == "Retail" and week.year == 2025 and week.month in (10, 11):
                days = 5.0 if week.month == 10 else 4.0
            rows.append((unit, "resolution_days", week, round(days, 3), int(rng.integers(50, 200)), 1.5))
            rows.append((unit, "fcr", week, round(rng.uniform(0.5, 0.9), 3), int(rng.integers(100, 400)), None))
            rows.append((unit, "wait_minutes", week, round(rng.uniform(2, 9), 2), None, None))
    rows.append(("Claims", "wait_minutes", dt.date(2025, 11, 10), 12.0, None, None))
    return pd.DataFrame(rows, columns=["unit", "metric", "period_start", "value", "n", "sd"])


@pytest.fixture
def scored(small_org, tmp_path):
    """small_org (Retail's pilot ran 31 Mar to 29 Jun 2025) with a wait-time driver and the data above,
    imported as a person would."""
    db, pilot_id = small_org
    store.add_metric(db, COMMAND_LINE, WAIT)
    rng = np.random.default_rng(20251130)
    obs, meas = answers(rng), figures(rng)
    for frame, kind in ((obs, "observations"), (meas, "measurements")):
        frame.to_csv(tmp_path / f"{kind}.csv", index=False)
        ingest.import_file(db, COMMAND_LINE, tmp_path / f"{kind}.csv", kind)
    return db, pilot_id, obs, meas


def expected_months(obs: pd.DataFrame, meas: pd.DataFrame, metrics: dict[str, Metric], units=None) -> pd.DataFrame:
    """Per metric and month, by pandas from the raw rows: each answer's score (NPS +100/0/−100, top-2-box
    1/0, else the value) and each period figure weighted by its n (1 without) pooled; n; figures without n."""
    obs = obs if units is None else obs[obs["unit"].isin(units)]
    meas = meas if units is None else meas[meas["unit"].isin(units)]
    scores = []
    for key, rows in obs.groupby("metric"):
        metric, value = metrics[key], rows["value"].astype(float)
        if metric.aggregation == "nps":
            score = np.select([value >= 9, value <= 6], [100.0, -100.0], 0.0)
        elif metric.aggregation == "top2box":
            score = (value >= metric.max_value - 1).astype(float)
        else:
            score = value
        scores.append(pd.DataFrame({"metric": key, "month": pd.to_datetime(rows["date"]).dt.strftime("%Y-%m"),
                                    "weighted": score, "n": 1.0, "unsized": 0}))
    weights = meas["n"].fillna(1).astype(float)
    scores.append(pd.DataFrame({"metric": meas["metric"],
                                "month": pd.to_datetime(meas["period_start"]).dt.strftime("%Y-%m"),
                                "weighted": meas["value"] * weights, "n": weights,
                                "unsized": meas["n"].isna().astype(int)}))
    summed = pd.concat(scores).groupby(["metric", "month"])[["weighted", "n", "unsized"]].sum()
    return summed.assign(value=summed["weighted"] / summed["n"])


def readings(card: scorecard.Card) -> dict[str, scorecard.FigureLine]:
    return {f.metric_key: f for f in card.north_star + card.drivers}


@pytest.mark.parametrize("scope", ["Retail", None])
def test_monthly_figures_are_the_pooled_answers_and_weighted_figures(scored, scope):
    db, _, obs, meas = scored
    metrics = store.metric_lookup(db)
    units = store.unit_lookup(store.list_units(db, COMMAND_LINE))
    card = scorecard.monthly_card(db, COMMAND_LINE, MONTH, None if scope is None else units["retail"].unit_id)
    expected = expected_months(obs, meas, metrics, None if scope is None else [scope])
    assert [f.metric_key for f in card.north_star] == ["nps"]
    assert {f.metric_key for f in card.drivers} == {"csat", "ces", "fcr", "resolution_days", "wait_minutes"}
    checked = 0
    for key, line in readings(card).items():
        for reading in (line.this_month, line.last_month, line.last_year):
            month = f"{reading.month:%Y-%m}"
            if (key, month) not in expected.index:
                assert reading.value is None and reading.n == 0
                continue
            row = expected.loc[(key, month)]
            assert reading.n == row["n"] and reading.unsized == row["unsized"]
            assert reading.value == pytest.approx(row["value"], rel=1e-12, abs=1e-9)
            checked += 1
    assert checked >= 12  # nps, csat, fcr, resolution days and wait time in all three months
    assert [r.month for r in (card.north_star[0].this_month, card.north_star[0].last_month,
                              card.north_star[0].last_year)] == [dt.date(2025, 11, 1), dt.date(2025, 10, 1),
                                                                 dt.date(2024, 11, 1)]


def test_changes_respect_the_direction_of_good(scored):
    db, _, obs, meas = scored
    retail = store.unit_lookup(store.list_units(db, COMMAND_LINE))["retail"].unit_id
    card = readings(scorecard.monthly_card(db, COMMAND_LINE, MONTH, retail))
    expected = expected_months(obs, meas, store.metric_lookup(db), ["Retail"])
    # Resolution days fell from 5 to 4 (lower is better): good news, worded in days.
    days = card["resolution_days"].vs_last_month
    fall = expected.loc[("resolution_days", "2025-10"), "value"] - expected.loc[("resolution_days", MONTH), "value"]
    assert fall > 0 and days.change == pytest.approx(-fall)
    assert (days.good, days.colour) == (True, scorecard.GOOD)
    assert days.reads == f"a fall of {formats.amount(fall, 'days')}, better"
    # NPS fell (every answer a detractor; higher is better): bad news, in points.
    nps = card["nps"].vs_last_month
    assert card["nps"].this_month.value == -100
    assert nps.change < 0 and (nps.good, nps.colour) == (False, scorecard.BAD)
    assert nps.reads.startswith("a fall of ") and nps.reads.endswith(" points, worse")
    # A share's level is a per cent and its change in percentage points.
    fcr = card["fcr"]
    assert fcr.value_words == f"{formats.number(100 * expected.loc[('fcr', MONTH), 'value'])}%"
    assert "percentage points" in fcr.vs_last_year.words
    assert fcr.vs_last_year.good == (fcr.vs_last_year.change > 0)
    # Wait time, lower is better: whichever way it moved, the colour follows the direction of good.
    wait = card["wait_minutes"].vs_last_month
    assert wait.good == (wait.change < 0) and wait.colour == (scorecard.GOOD if wait.change < 0 else scorecard.BAD)


def test_a_thin_month_says_too_little_data_instead_of_a_number(scored):
    db, _, obs, meas = scored
    claims = store.unit_lookup(store.list_units(db, COMMAND_LINE))["claims"].unit_id
    card = readings(scorecard.monthly_card(db, COMMAND_LINE, MONTH, claims))
    answered = int(((obs["unit"] == "Claims") & (obs["metric"] == "nps")).sum())
    assert answered < 10
    nps = card["nps"]
    assert nps.this_month.value is None and nps.this_month.n == answered
    assert nps.value_words == f"too little data (n = {answered})"
    assert nps.vs_last_month.change is None and nps.vs_last_month.colour == scorecard.NEUTRAL
    assert nps.vs_last_month.words == "no comparison: too little data in November 2025"
    wait = card["wait_minutes"]  # one weekly figure without n: a spread needs two
    assert wait.value_words == "too little data (1 period figure (1 without n))"
    assert card["csat"].value_words == "no data"


@pytest.mark.parametrize("month", ["2025-13", "11/2025", "2025-1", "", "2025-11; DROP TABLE x", "1789-07"])
def test_a_malformed_month_is_refused_naming_the_field(scored, month):
    db = scored[0]
    with pytest.raises(ValidationError) as refused:
        scorecard.monthly_card(db, COMMAND_LINE, month)
    assert [p.column for p in refused.value.problems] == ["month"]


def test_a_month_without_data_is_refused_naming_the_field(scored):
    db = scored[0]
    with pytest.raises(ValidationError) as refused:
        scorecard.monthly_card(db, COMMAND_LINE, "2023-05")
    assert [p.column for p in refused.value.problems] == ["month"]
    assert "May 2023" in str(refused.value)
    with pytest.raises(ValidationError) as refused:
        scorecard.monthly_card(db, COMMAND_LINE, MONTH, 999)
    assert [p.column for p in refused.value.problems] == ["unit"]


def test_a_unit_head_reads_their_own_units_card_only(scored):
    db = scored[0]
    units = store.unit_lookup(store.list_units(db, COMMAND_LINE))
    rita = Actor("rita@example.com", "unit_head", frozenset({units["retail"].unit_id}))
    assert scorecard.monthly_card(db, rita, MONTH, units["retail"].unit_id).scope == "Retail"
    for unit_id in (units["online"].unit_id, None):
        with pytest.raises(AccessDenied):
            scorecard.monthly_card(db, rita, MONTH, unit_id)
        with pytest.raises(AccessDenied):
            scorecard.months_with_data(db, rita, unit_id)
    with pytest.raises(AccessDenied):
        scorecard_pdf.export_scorecard(db, rita, MONTH, "Online")
    steering = Actor("board@example.com", "steering")
    assert scorecard.monthly_card(db, steering, MONTH).scope == scorecard.WHOLE_ORGANISATION


def test_pilots_in_flight_and_decisions_due_as_on_the_cards_date(scored):
    db, pilot_id, _, _ = scored
    state = wording.state(analysis.analyze_pilot(db, COMMAND_LINE, pilot_id))
    may = scorecard.monthly_card(db, COMMAND_LINE, "2025-05")
    assert [(p.pilot_id, p.state) for p in may.in_flight] == [(pilot_id, state)]
    assert may.decisions_due == ()  # the window runs until 29 June
    november = scorecard.monthly_card(db, COMMAND_LINE, MONTH)
    assert november.in_flight == ()
    [due] = november.decisions_due
    assert (due.pilot_id, due.window_ended) == (pilot_id, dt.date(2025, 6, 29))
    assert due.waiting_days == (dt.date(2025, 11, 30) - dt.date(2025, 6, 29)).days
    assert due.waiting == f"{round(due.waiting_days / 30.44)} months"
    # An Extend taken before the window ended leaves the decision due; a Stop after it settles it from then on.
    lifecycle.record_decision(db, COMMAND_LINE, pilot_id, "extend", "Give it longer", "Steering", dt.date(2025, 6, 15))
    assert [d.pilot_id for d in scorecard.monthly_card(db, COMMAND_LINE, "2025-07").decisions_due] == [pilot_id]
    lifecycle.record_decision(db, COMMAND_LINE, pilot_id, "stop", "No lift", "Steering", dt.date(2025, 8, 1))
    july = scorecard.monthly_card(db, COMMAND_LINE, "2025-07")
    assert [(d.pilot_id, d.waiting_days) for d in july.decisions_due] == [(pilot_id, 32)]
    assert scorecard.monthly_card(db, COMMAND_LINE, MONTH).decisions_due == ()
    online = store.unit_lookup(store.list_units(db, COMMAND_LINE))["online"].unit_id
    assert scorecard.monthly_card(db, COMMAND_LINE, "2025-05", online).in_flight == ()  # a control unit runs none


def test_the_default_month_is_the_last_one_that_has_ended(scored):
    db = scored[0]
    months = scorecard.months_with_data(db, COMMAND_LINE)
    assert months[0] == MONTH and months[-1] == "2024-10" and months == sorted(months, reverse=True)
    assert scorecard.last_complete_month(db, COMMAND_LINE) == MONTH  # today is long after November 2025
    later = analysis.today().replace(day=1)
    assert scorecard.latest_complete([f"{later:%Y-%m}", MONTH]) == MONTH
    assert scorecard.latest_complete([]) is None


def pdf_text(data: bytes) -> tuple[PdfReader, str]:
    reader = PdfReader(io.BytesIO(data))
    return reader, " ".join(" ".join(page.extract_text().split()) for page in reader.pages)


def test_the_pdf_is_one_a4_page_of_real_text(scored):
    db = scored[0]
    store.update_unit(db, COMMAND_LINE, dataclasses.replace(
        store.unit_lookup(store.list_units(db, COMMAND_LINE))["retail"], name="Retail <b>R&D</b>"))
    data = scorecard_pdf.export_scorecard(db, COMMAND_LINE, "2025-05", "retail <B>r&d</b>")
    reader, shown = pdf_text(data)
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (842, 595)  # A4 landscape, in points
    card = scorecard.monthly_card(db, COMMAND_LINE, "2025-05", store.unit_lookup(
        store.list_units(db, COMMAND_LINE))["retail <b>r&d</b>"].unit_id)
    assert "CX scorecard, May 2025: Retail <b>R&D</b>" in shown  # the name as typed, never markup
    assert card.north_star[0].value_words in shown
    assert "Callback instead of hold queue" in shown and org.DEFAULT_NAME in shown
    assert "Rollouts that need a look" not in shown
    with pytest.raises(ValidationError) as refused:
        scorecard_pdf.export_scorecard(db, COMMAND_LINE, MONTH, "Retial")
    assert [p.column for p in refused.value.problems] == ["unit"]
    assert scorecard_pdf.file_name(card) == "cx-scorecard-2025-05-retail-b-r-d-b.pdf"


def test_rollouts_that_need_a_look_are_printed_when_there_are_some(scored):
    db = scored[0]
    card = dataclasses.replace(scorecard.monthly_card(db, COMMAND_LINE, MONTH),
                               rollouts_needing_a_look=("Callback queue in Online & App: fell below the pilot's range",))
    _, shown = pdf_text(scorecard_pdf.card_pdf(card, org.org_settings(db)))
    assert "Rollouts that need a look" in shown and "fell below the pilot's range" in shown


# ---------------------------------------------------------------- the demo organisation

@pytest.fixture(scope="module")
def demo_raw(demo):
    """The demo's raw rows, read straight from the tables (no view, no scoring) for pandas."""
    with demo.cursor() as cur:
        obs = cur.execute("SELECT u.name AS unit, o.metric_key AS metric, o.obs_date AS date, o.value "
                          "FROM observations o JOIN business_units u USING (unit_id)").df()
        meas = cur.execute("SELECT u.name AS unit, m.metric_key AS metric, m.period_start, m.value, m.n, m.sd "
                           "FROM measurements m JOIN business_units u USING (unit_id)").df()
    return obs, meas


@pytest.mark.parametrize("unit", [None, "Contact Centre"])
def test_the_demo_card_matches_pandas(demo, demo_raw, unit):
    obs, meas = demo_raw
    metrics = store.metric_lookup(demo)
    month = scorecard.last_complete_month(demo, COMMAND_LINE)
    assert month == "2026-11"  # the demo's data end on 22 November 2026
    units = store.unit_lookup(store.list_units(demo, COMMAND_LINE))
    unit_id = None if unit is None else units[unit.casefold()].unit_id
    started = time.perf_counter()
    card = scorecard.monthly_card(demo, COMMAND_LINE, month, unit_id)
    print(f"monthly_card on the demo ({unit or 'organisation'}): {time.perf_counter() - started:.3f} s")
    expected = expected_months(obs, meas, metrics, None if unit is None else [unit])
    assert [f.label for f in card.north_star] == ["Net Promoter Score"]
    for key, line in readings(card).items():
        for reading in (line.this_month, line.last_month, line.last_year):
            row = expected.loc[(key, f"{reading.month:%Y-%m}")]
            assert reading.n == row["n"]
            assert reading.value == pytest.approx(row["value"], rel=1e-12, abs=1e-9)
    pilots = store.list_pilots(demo, COMMAND_LINE, unit_ids=None if unit_id is None else [unit_id])
    first, last = dt.date(2026, 11, 1), dt.date(2026, 11, 30)
    assert {p.pilot_id for p in card.in_flight} == {p.pilot_id for p in pilots
                                                   if p.pilot_start <= last and p.pilot_end >= first}
    undecided = {p.pilot_id for p in pilots if p.decision is None and p.pilot_end < last}
    assert {d.pilot_id for d in card.decisions_due} == undecided
    if unit is None:
        assert card.in_flight and card.decisions_due
        _, shown = pdf_text(scorecard_pdf.card_pdf(card, org.org_settings(demo)))
        assert "November 2026" in shown and card.north_star[0].value_words in shown
        assert card.in_flight[0].name in shown and "Northwind Services" in shown


@pytest.mark.slow
def test_the_command_line_writes_a_units_card_for_a_schedule(demo_file, tmp_path):
    from pathlib import Path

    from pilots.cli import main

    path = tmp_path / "demo.duckdb"
    path.write_bytes(Path(demo_file).read_bytes())
    out, err = io.StringIO(), io.StringIO()
    target = tmp_path / "cards" / "claims.pdf"
    code = main(["--db", str(path), "scorecard", "--month", "2026-10", "--unit", "claims", "--format", "pdf",
                 "--out", str(target)], out=out, err=err)
    assert code == 0, err.getvalue()
    pages = PdfReader(target).pages
    assert len(pages) == 1 and "October 2026" in pages[0].extract_text() and "Claims" in pages[0].extract_text()
    code = main(["--db", str(path), "scorecard", "--unit", "Claimz", "--out", str(tmp_path / "x.pdf")],
                out=out, err=err)
    assert code == 1 and "Claims" in err.getvalue() and not (tmp_path / "x.pdf").exists()
