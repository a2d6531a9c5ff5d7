"""The demo organisation: its shape, its determinism, its refusal to load twice, and the truths
built into its data, checked with a difference-in-differences computed here from weekly cell
means in SQL (independent of pilots.analysis)."""

import dataclasses
import io
import json
import math

import pytest

from pilots import analysis, demo as demo_module, store
from pilots.access import COMMAND_LINE
from pilots.cli import main
from pilots.db import Database
from pilots.demo import load_demo
from pilots.model import DECISIONS, STATUSES, ValidationError


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    db = Database(tmp_path_factory.mktemp("demo") / "demo.duckdb")
    summary = load_demo(db)
    yield db, summary
    db.close()


def pilot_named(db, name):
    [pilot] = [p for p in store.list_pilots(db, COMMAND_LINE) if p.name == name]
    return pilot


# Per week in the baseline and pilot windows: the pilot unit's value minus the mean of its
# controls' values (the unit's own value when it has none). DiD = mean gap after - mean gap before,
# with its standard error from the weeks' spread in each window.
_GAPS = """
WITH weekly AS (
    SELECT unit_id, date_trunc('week', obs_date)::DATE AS week, avg(score) AS v
    FROM scored_observations WHERE metric_key = $metric GROUP BY ALL
    UNION ALL
    SELECT unit_id, period_start, sum(value * coalesce(n, 1)) / sum(coalesce(n, 1))
    FROM measurements WHERE metric_key = $metric GROUP BY ALL
), controls AS (
    SELECT w.week, avg(w.v) AS v FROM weekly w JOIN pilot_controls c USING (unit_id)
    WHERE c.pilot_id = $pilot GROUP BY w.week
), gaps AS (
    SELECT w.week >= p.pilot_start AS after, w.v - coalesce(c.v, 0) AS gap
    FROM pilots p JOIN weekly w ON w.unit_id = p.unit_id AND w.week BETWEEN p.baseline_start AND p.pilot_end
    LEFT JOIN controls c ON c.week = w.week
    WHERE p.pilot_id = $pilot
)
SELECT after, avg(gap), var_samp(gap), count(*) FROM gaps GROUP BY after ORDER BY after
"""


def did(db, pilot, metric):
    """(effect, standard error) of the pilot on a metric."""
    with db.cursor() as cur:
        (_, before, var_before, n_before), (_, after, var_after, n_after) = cur.execute(
            _GAPS, {"metric": metric, "pilot": pilot.pilot_id}).fetchall()
    return after - before, math.sqrt(var_before / n_before + var_after / n_after)


def z(db, name, metric=None):
    pilot = pilot_named(db, name)
    effect, se = did(db, pilot, metric or pilot.primary_metric)
    return effect / se


def test_shape_units_pilots_and_every_lifecycle_state(demo):
    db, summary = demo
    units = store.list_units(db, COMMAND_LINE)
    pilots = store.list_pilots(db, COMMAND_LINE)
    assert len(units) >= 6 and summary.units == len(units)
    assert all(u.head and u.customers > 0 and u.revenue_per_customer > 0 for u in units)
    assert len(pilots) >= 12 and summary.pilots == len(pilots)
    assert {p.status for p in pilots} == set(STATUSES)
    assert {p.decision for p in pilots if p.status in ("decided", "rolled_out")} == set(DECISIONS)
    assert all(p.decision is None for p in pilots if p.status not in ("decided", "rolled_out"))
    controls = [len(p.control_unit_ids) for p in pilots]
    assert controls.count(0) == 1 and sum(1 <= c <= 3 for c in controls) == len(pilots) - 1
    assert {p.barrier_type for p in pilots} == {"operational", "cultural", "technical"}
    assert all(p.hypothesis and p.owner and p.sponsor and p.journey_stage and p.cost and p.value_per_point
               and p.target_effect is not None for p in pilots)
    assert any(p.guardrail_metrics for p in pilots) and any(p.secondary_metrics for p in pilots)
    with db.cursor() as cur:
        decisions = cur.execute("SELECT count(*) FROM decision_log").fetchone()[0]
        rollouts = cur.execute("SELECT count(DISTINCT pilot_id) FROM pilot_rollouts").fetchone()[0]
    assert decisions == sum(p.status in ("decided", "rolled_out") for p in pilots)
    assert rollouts == sum(p.status == "rolled_out" for p in pilots)
    assert str(summary).startswith(f"{len(units)} business units, {len(pilots)} pilots, ")


def test_volumes_ranges_and_three_years_of_weeks(demo):
    db, summary = demo
    with db.cursor() as cur:
        per_week = cur.execute("""
            SELECT metric_key, min(n), median(n), max(n), count(*) FROM (
                SELECT unit_id, metric_key, date_trunc('week', obs_date) AS week, count(*) AS n
                FROM observations GROUP BY ALL) GROUP BY metric_key ORDER BY metric_key""").fetchall()
        answers = cur.execute("SELECT count(*) FROM observations").fetchone()[0]
        out_of_range = cur.execute("""
            SELECT count(*) FROM observations o JOIN metrics m USING (metric_key)
            WHERE o.value < m.min_value OR o.value > m.max_value OR o.value <> round(o.value)""").fetchone()[0]
        span = cur.execute("SELECT min(obs_date), max(obs_date) FROM observations").fetchone()
        figures = cur.execute("""
            SELECT metric_key, count(*), count(DISTINCT period_start), count(n), count(sd)
            FROM measurements GROUP BY metric_key ORDER BY metric_key""").fetchall()
        bad_shares = cur.execute("SELECT count(*) FROM measurements WHERE metric_key IN ('fcr', 'churn') "
                                 "AND NOT value BETWEEN 0 AND 1").fetchone()[0]
    units = len(store.list_units(db, COMMAND_LINE))
    assert [row[0] for row in per_week] == ["ces", "csat", "nps"]
    for metric, least, median, most, cells in per_week:
        assert cells == units * demo_module.WEEKS, metric
        assert least >= 20 and most < 1000, metric
    assert max(row[2] for row in per_week) >= 200  # hundreds a week in the larger units
    assert answers == summary.survey_answers and 300_000 < answers < 1_500_000
    assert out_of_range == 0
    assert (span[1] - span[0]).days > 3 * 365 - 14
    assert [row[0] for row in figures] == ["churn", "complaints", "cost_to_serve", "fcr", "resolution_days"]
    assert all(count == units * demo_module.WEEKS and weeks == demo_module.WEEKS == 156 for _, count, weeks, _, _ in figures)
    with_n = {metric for metric, count, _, n, sd in figures if n == count and sd == count}
    assert with_n == {"fcr", "resolution_days"}
    assert bad_shares == 0
    assert sum(row[1] for row in figures) == summary.weekly_figures


def test_truths_clear_lifts_no_effect_guardrail_and_too_little_data(demo):
    db, _ = demo
    # Clear lifts on the primary metric against controls, in the direction of good.
    assert z(db, "Callback instead of hold queue") > 3
    lift, _ = did(db, pilot_named(db, "Callback instead of hold queue"), "nps")
    assert 5 < lift < 12
    assert z(db, "Digital claim status tracker") < -3
    assert z(db, "Relationship manager video calls") > 3
    assert z(db, "Self-service returns portal") > 3
    # No effect: the difference-in-differences stays within noise and small.
    for name in ("In-store greeter programme", "Plain-language claim letters"):
        assert abs(z(db, name)) < 2, name
    flat, _ = did(db, pilot_named(db, "In-store greeter programme"), "nps")
    assert abs(flat) < 3
    # Lifts its primary metric and harms its guardrail (cost to serve: lower is better).
    assert z(db, "Same-day engineer dispatch") > 3
    assert z(db, "Same-day engineer dispatch", "cost_to_serve") > 3
    # Too little data: a two-week pilot in the smallest unit, with a wide interval.
    small = pilot_named(db, "Welcome call for new business clients")
    effect, se = did(db, small, small.primary_metric)
    assert 1.96 * se > small.target_effect
    with db.cursor() as cur:
        answers = cur.execute("SELECT count(*) FROM observations WHERE unit_id = ? AND metric_key = 'nps' "
                              "AND obs_date BETWEEN ? AND ?",
                              [small.unit_id, small.pilot_start, small.pilot_end]).fetchone()[0]
    assert answers < 300


def test_decisions_agree_with_the_data(demo):
    db, _ = demo
    metrics = store.metric_lookup(db)
    for pilot in store.list_pilots(db, COMMAND_LINE, statuses=["decided", "rolled_out"]):
        effect, se = did(db, pilot, pilot.primary_metric)
        good = metrics[pilot.primary_metric].is_improvement(effect) and abs(effect) > 1.96 * se
        guardrails = {key: did(db, pilot, key) for key in pilot.guardrail_metrics}
        harmed = [key for key, (change, error) in guardrails.items()
                  if not metrics[key].is_improvement(change) and abs(change) > 1.96 * error]
        if pilot.decision == "roll_out":
            assert good and not harmed, pilot.name
        elif pilot.decision == "extend":
            assert not good and not harmed, pilot.name
        else:
            assert harmed or not good, pilot.name


def test_every_demo_decision_keeps_a_snapshot_of_its_evidence(demo):
    db, _ = demo
    decided = store.list_pilots(db, COMMAND_LINE, statuses=["decided", "rolled_out"])
    with db.cursor() as cur:
        snapshots = dict(cur.execute("SELECT pilot_id, evidence FROM decision_log").fetchall())
    assert decided and {p.pilot_id for p in decided} <= set(snapshots)
    for pilot in decided:
        evidence = json.loads(snapshots[pilot.pilot_id])
        assert evidence["pilot_id"] == pilot.pilot_id and evidence["verdict"] in analysis.VERDICTS
        assert evidence["metrics"][0]["metric"] == pilot.primary_metric


def test_only_the_deliberate_clash_overlaps_another_pilot(demo):
    """A clean design: no other pilot window and no rollout inside a pilot's span (baseline start to
    pilot end) in its unit or its controls, except the claim letters and the triage assistant."""
    db, _ = demo
    with db.cursor() as cur:
        clashes = cur.execute("""
            WITH arms AS (
                SELECT pilot_id, unit_id, baseline_start, pilot_end FROM pilots
                UNION ALL
                SELECT c.pilot_id, c.unit_id, p.baseline_start, p.pilot_end
                FROM pilot_controls c JOIN pilots p USING (pilot_id)
            ), events AS (
                SELECT pilot_id, unit_id, pilot_start AS first_day, pilot_end AS last_day FROM pilots
                UNION ALL
                SELECT pilot_id, unit_id, adopted_on, adopted_on FROM pilot_rollouts
            )
            SELECT DISTINCT p.name, o.name
            FROM arms a JOIN events e ON e.unit_id = a.unit_id AND e.pilot_id <> a.pilot_id
                 AND e.first_day <= a.pilot_end AND e.last_day >= a.baseline_start
            JOIN pilots p ON p.pilot_id = a.pilot_id JOIN pilots o ON o.pilot_id = e.pilot_id
            ORDER BY ALL""").fetchall()
    assert clashes == [("Claims triage assistant", "Plain-language claim letters"),
                       ("Plain-language claim letters", "Claims triage assistant")]


def test_control_units_differ_and_time_shocks_are_shared(demo):
    """DiD matters: units differ in level, and every unit dips in the outage week of 2025-05-19."""
    db, _ = demo
    with db.cursor() as cur:
        levels = cur.execute("SELECT unit_id, avg(score) FROM scored_observations WHERE metric_key = 'nps' "
                             "GROUP BY unit_id").fetchall()
        dips = cur.execute("""
            SELECT unit_id,
                   avg(score) FILTER (WHERE obs_date BETWEEN DATE '2025-05-19' AND DATE '2025-05-25')
                 - avg(score) FILTER (WHERE obs_date BETWEEN DATE '2025-04-21' AND DATE '2025-05-11') AS dip
            FROM scored_observations WHERE metric_key = 'nps' GROUP BY unit_id""").fetchall()
    assert max(v for _, v in levels) - min(v for _, v in levels) > 15
    assert all(dip < 0 for _, dip in dips)


def _fingerprint(db):
    with db.cursor() as cur:
        return (
            cur.execute("""SELECT u.name, metric_key, obs_date, count(*), sum(value), sum(value * value)
                           FROM observations JOIN business_units u USING (unit_id)
                           GROUP BY ALL ORDER BY ALL""").fetchall(),
            cur.execute("""SELECT u.name, metric_key, period_start, value, n, sd
                           FROM measurements JOIN business_units u USING (unit_id) ORDER BY ALL""").fetchall(),
            cur.execute("""SELECT name, status, decision, baseline_start, pilot_end, target_effect
                           FROM pilots ORDER BY name""").fetchall(),
        )


def test_two_loads_give_the_same_database(demo, tmp_path):
    db, summary = demo
    other = Database(tmp_path / "again.duckdb")
    try:
        again = load_demo(other)
        assert again == summary
        assert _fingerprint(other) == _fingerprint(db)
    finally:
        other.close()


def test_second_load_is_refused_and_changes_nothing(demo):
    db, _ = demo
    before = store.table_counts(db)
    with pytest.raises(ValidationError, match="already holds business units"):
        load_demo(db)
    assert store.table_counts(db) == before


def test_a_demo_load_that_fails_part_way_leaves_the_database_empty(tmp_path, monkeypatch):
    db = Database(tmp_path / "broken.duckdb")
    try:
        empty = store.table_counts(db)
        last = demo_module._PILOTS[-1]
        broken = dataclasses.replace(last, draft=dataclasses.replace(last.draft, name=""))
        monkeypatch.setattr(demo_module, "_PILOTS", [*demo_module._PILOTS, broken])
        with pytest.raises(ValidationError, match="name"):
            load_demo(db)
        assert store.table_counts(db) == empty
        assert store.is_empty(db)
    finally:
        db.close()


def test_command_line_demo_loads_then_refuses(tmp_path):
    path = str(tmp_path / "cli.duckdb")
    out, err = io.StringIO(), io.StringIO()
    try:
        assert main(["--db", path, "demo"], out=out, err=err) == 0
        assert "business units" in out.getvalue() and "survey answers" in out.getvalue()
        out, err = io.StringIO(), io.StringIO()
        assert main(["--db", path, "demo"], out=out, err=err) == 1
        assert "already holds business units" in err.getvalue()
    finally:
        Database(path).close()
