"""Synthetic control (pilots.synth): weights checked against two independent solvers (every support
enumerated; accelerated projected gradient onto the simplex), exact fits, the placebo test with and
without an effect, the guarantees of the weights, and a published case: California's Proposition 99
(Abadie, Diamond & Hainmueller 2010). Then the two charts that show it."""

from itertools import combinations

import numpy as np
import pandas as pd
import pytest
import vl_convert

from pilots import charts, synth

from vega import data_of, layers, mark_type

PILOT = "pilot"


# ---------------------------------------------------------------- independent solvers

def enumerated_weights(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The exact simplex least-squares weights by brute force: on every support, the least squares
    with weights summing to one (its KKT system, solved by lstsq); the best fit whose weights are all
    non-negative wins. Nothing shared with the code under test: no active set, no centring, no ridge."""
    j = x.shape[1]
    best, best_loss = None, np.inf
    for size in range(1, j + 1):
        for support in combinations(range(j), size):
            xs = x[:, support]
            kkt = np.block([[2 * xs.T @ xs, np.ones((size, 1))], [np.ones((1, size)), np.zeros((1, 1))]])
            solution = np.linalg.lstsq(kkt, np.append(2 * xs.T @ y, 1.0), rcond=None)[0]
            w = solution[:size]
            if w.min() < -1e-12:
                continue
            loss = float(np.sum((y - xs @ w) ** 2))
            if loss < best_loss - 1e-12:
                best_loss, best = loss, np.zeros(j)
                best[list(support)] = w
    return best


def simplex_projection(v: np.ndarray) -> np.ndarray:
    """Euclidean projection onto the probability simplex (Duchi, Shalev-Shwartz, Singer & Chandra 2008,
    Figure 1)."""
    u = np.sort(v)[::-1]
    cumulative = np.cumsum(u)
    steps = np.arange(1, len(v) + 1)
    rho = np.nonzero(u - (cumulative - 1) / steps > 0)[0][-1]
    return np.maximum(v - (cumulative[rho] - 1) / (rho + 1), 0.0)


def gradient_weights(y: np.ndarray, x: np.ndarray, iterations: int = 30_000) -> np.ndarray:
    """The same weights by accelerated projected gradient descent (FISTA, Beck & Teboulle 2009) on the
    raw levels, from equal weights."""
    lipschitz = 2 * np.linalg.norm(x, 2) ** 2
    w = z = np.full(x.shape[1], 1 / x.shape[1])
    t = 1.0
    for _ in range(iterations):
        following = simplex_projection(z - 2 * x.T @ (x @ z - y) / lipschitz)
        t_next = (1 + np.sqrt(1 + 4 * t * t)) / 2
        z = following + (t - 1) / t_next * (following - w)
        w, t = following, t_next
    return w


def test_the_independent_solvers_agree_with_each_other():
    """The two reference solvers are themselves checked: they agree on a random problem."""
    rng = np.random.default_rng(11)
    x = rng.normal(0, 1, (15, 7))
    y = rng.normal(0, 1, 15)
    assert np.abs(enumerated_weights(y, x) - gradient_weights(y, x)).max() < 1e-4
    assert simplex_projection(np.array([0.5, 0.5])) == pytest.approx([0.5, 0.5])
    assert simplex_projection(np.array([2.0, 0.0, -1.0])) == pytest.approx([1.0, 0.0, 0.0])


# ---------------------------------------------------------------- fixtures

def panel(seed: int, units: int = 6, pre: int = 20, post: int = 8, noise: float = 1.0):
    """Weekly means of `units` units sharing a random-walk trend with their own level and loading:
    weeks, a weeks × units array, and the pilot-window mask."""
    rng = np.random.default_rng(seed)
    weeks = pd.date_range("2025-01-06", periods=pre + post, freq="7D")
    trend = np.cumsum(rng.normal(0, 1, pre + post))
    values = (rng.normal(50, 5, units) + trend[:, None] * rng.normal(1, 0.3, units)
              + rng.normal(0, noise, (pre + post, units)))
    return weeks, values, np.arange(pre + post) >= pre


def donor_names(count: int) -> list[str]:
    return [f"d{j}" for j in range(count)]


def wide_of(weeks, pilot: np.ndarray, donors: np.ndarray) -> pd.DataFrame:
    frame = pd.DataFrame(donors, index=weeks, columns=donor_names(donors.shape[1]))
    frame.insert(0, PILOT, pilot)
    return frame


def blended(seed: int = 7, jump: float = 0.0, noise: float = 0.1):
    """6 donors; the pilot unit 0.6·d1 + 0.4·d3 plus a little noise, plus `jump` in the pilot weeks."""
    weeks, donors, post = panel(seed)
    rng = np.random.default_rng(seed + 1000)
    pilot = 0.6 * donors[:, 1] + 0.4 * donors[:, 3] + rng.normal(0, noise, len(weeks)) + jump * post
    return wide_of(weeks, pilot, donors), post


# ---------------------------------------------------------------- 1. weights against independent solvers

def test_weights_match_an_exhaustive_search_and_recover_the_blend():
    wide, post = blended()
    pre = ~post
    y, x = wide[PILOT].to_numpy()[pre], wide[donor_names(6)].to_numpy()[pre]
    w = synth.fit_weights(y, x)
    assert np.abs(w - enumerated_weights(y, x)).max() < 0.01
    assert np.abs(w - gradient_weights(y, x)).max() < 0.01
    truth = np.array([0.0, 0.6, 0.0, 0.4, 0.0, 0.0])
    assert np.abs(w - truth).max() < 0.05
    sc = synth.synthetic_control(wide, PILOT, donor_names(6), post)
    assert np.abs(np.array(list(sc.weights.values())) - truth).max() < 0.05


@pytest.mark.parametrize("seed,weeks,donors", [(1, 30, 12), (2, 10, 20), (3, 52, 20), (4, 5, 8)])
def test_weights_match_projected_gradient_on_larger_and_underdetermined_problems(seed, weeks, donors):
    """Many donors, and fewer baseline weeks than donors: the optimum value is unique even where the
    weights are not, so the fits are compared; where the weights are unique (more weeks than
    donors), the weights too."""
    _, values, _ = panel(seed, units=donors + 1, pre=weeks, post=0)
    y, x = values[:, 0], values[:, 1:]
    w, reference = synth.fit_weights(y, x), gradient_weights(y, x)
    loss = lambda v: float(np.sum((y - x @ v) ** 2))
    assert loss(w) <= loss(reference) + 1e-6 * max(1.0, loss(reference))
    if weeks > donors:
        assert np.abs(w - reference).max() < 0.01


@pytest.mark.parametrize("seed", range(6))
def test_the_active_set_reaches_the_optimum_from_any_start(seed):
    """The solver's answer does not hang on its warm start: from the non-negative least squares start,
    from the best single donor (no start) and from equal weights (every donor free, so that it has
    to step back to the boundary), the weights are the exhaustive search's."""
    _, values, _ = panel(40 + seed, units=8, pre=15, post=0, noise=2.0)
    y, x = values[:, 0], values[:, 1:]
    exact = enumerated_weights(y, x)
    centred = synth._centred(values)
    gram = centred.T @ centred
    for start in (synth._nnls_start(centred[:, 1:], centred[:, 0]), None, np.full(7, 1 / 7)):
        assert np.abs(synth._simplex_qp(gram[1:, 1:], gram[1:, 0], start) - exact).max() < 1e-6


# ---------------------------------------------------------------- 2. an exact blend

def test_an_exact_convex_combination_is_fitted_exactly():
    weeks, donors, post = panel(5)
    wide = wide_of(weeks, 0.25 * donors[:, 0] + 0.75 * donors[:, 4], donors)
    sc = synth.synthetic_control(wide, PILOT, donor_names(6), post)
    assert sc.pre_rmspe < 1e-6 * wide.abs().mean().mean()
    assert sc.weights == {"d0": 0.25, "d1": 0.0, "d2": 0.0, "d3": 0.0, "d4": 0.75, "d5": 0.0}
    assert abs(sc.effect) < 1e-6 * wide.abs().mean().mean()
    assert synth.fit_weights(wide[PILOT][~post], donors[~post]) == pytest.approx([0.25, 0, 0, 0, 0.75, 0], abs=1e-6)


# ---------------------------------------------------------------- 3. placebo test

def test_a_jump_in_the_pilot_weeks_is_the_effect_and_ranks_first():
    wide, post = blended(jump=5.0)
    sc = synth.synthetic_control(wide, PILOT, donor_names(6), post)
    assert sc.effect == pytest.approx(5.0, abs=0.3)
    assert sc.placebo_units == 7
    assert sc.placebo_rank == 1
    assert sc.p_value == pytest.approx(1 / 7)
    assert max(sc.ratios, key=sc.ratios.get) == PILOT
    assert sc.path.loc[sc.path["post"], "gap"].mean() == pytest.approx(sc.effect)
    # The RMSPEs are those of the path's gaps.
    assert sc.pre_rmspe == pytest.approx(np.sqrt(np.mean(sc.path.loc[~sc.path["post"], "gap"] ** 2)))
    assert sc.post_rmspe == pytest.approx(np.sqrt(np.mean(sc.path.loc[sc.path["post"], "gap"] ** 2)))
    assert sc.ratios[PILOT] == pytest.approx(sc.post_rmspe / sc.pre_rmspe)


def test_without_an_effect_the_pilot_unit_ranks_anywhere():
    """Under the null, the pilot unit is drawn like every other unit: its rank is (close to) uniform on
    1..7, so rank 1 comes up about 1/7 of the time and the mean p-value is about 4/7."""
    ranks = []
    for seed in range(40):
        weeks, values, post = panel(100 + seed, units=7)
        sc = synth.synthetic_control(wide_of(weeks, values[:, 0], values[:, 1:]), PILOT, donor_names(6), post)
        assert sc.placebo_units == 7
        ranks.append(sc.placebo_rank)
    ranks = np.array(ranks)
    assert np.mean(ranks == 1) < 0.3
    assert 0.4 < np.mean(ranks / 7) < 0.75
    assert len(set(ranks)) >= 4


def test_placebos_use_the_other_donors_and_never_the_pilot_unit():
    """A placebo's gap is refitted from the other donors only: recomputed here by hand for one donor,
    d2, which the pilot unit copies before the pilot (so that, were the pilot unit in d2's pool, d2
    would be fitted exactly)."""
    weeks, donors, post = panel(17)
    wide = wide_of(weeks, donors[:, 2] + 5.0 * post, donors)
    sc = synth.synthetic_control(wide, PILOT, donor_names(6), post)
    assert sc.weights["d2"] == 1.0 and sc.effect == pytest.approx(5.0)
    others = [d for d in donor_names(6) if d != "d2"]
    w = synth.fit_weights(wide["d2"][~post], wide[others].to_numpy()[~post])
    gap = wide["d2"].to_numpy() - wide[others].to_numpy() @ w
    placebo = sc.placebo_gaps[sc.placebo_gaps["unit"] == "d2"]
    assert placebo["gap"].to_numpy() == pytest.approx(gap)
    pre, post_ = np.sqrt(np.mean(gap[~post] ** 2)), np.sqrt(np.mean(gap[post] ** 2))
    assert sc.ratios["d2"] == pytest.approx(post_ / pre)
    assert len(sc.placebo_gaps) == 7 * len(wide)
    assert set(sc.placebo_gaps["unit"]) == {PILOT, *donor_names(6)}


def test_ties_count_against_the_pilot_unit():
    """Every unit the same series: every fit is exact, every ratio the same, and the pilot unit is
    ranked last among the ties, so p = 1."""
    weeks = pd.date_range("2025-01-06", periods=12, freq="7D")
    series = np.linspace(40, 45, 12)
    wide = wide_of(weeks, series, np.tile(series[:, None], (1, 4)))
    sc = synth.synthetic_control(wide, PILOT, donor_names(4), np.arange(12) >= 8)
    assert sc.placebo_units == 5
    assert sc.placebo_rank == 5
    assert sc.p_value == 1.0


# ---------------------------------------------------------------- 4. guarantees of the weights

@pytest.mark.parametrize("seed,weeks,donors", [(21, 20, 6), (22, 8, 15), (23, 52, 20), (24, 3, 3)])
def test_weights_are_non_negative_and_sum_to_one(seed, weeks, donors):
    _, values, _ = panel(seed, units=donors + 1, pre=weeks, post=0)
    w = synth.fit_weights(values[:, 0], values[:, 1:])
    assert w.min() >= 0
    assert abs(w.sum() - 1) < 1e-9


def test_rounded_weights_sum_to_exactly_one():
    for weights in ([1 / 3] * 3, [1 / 6] * 6, [1 / 7] * 7, [0.0004, 0.4996, 0.5], [0.33349, 0.33349, 0.33302]):
        rounded = synth._rounded(np.array(weights))
        assert round(sum(rounded) * 1000) == 1000
        assert all(v == round(v, 3) and v >= 0 for v in rounded)
        assert np.abs(rounded - np.array(weights)).max() <= 0.001 + 1e-12
    wide, post = blended(seed=9)
    values = synth.synthetic_control(wide, PILOT, donor_names(6), post).weights.values()
    assert sum(round(v * 1000) for v in values) == 1000
    assert abs(sum(values) - 1) < 1e-12


def test_fits_are_deterministic():
    wide, post = blended(jump=2.0)
    first = synth.synthetic_control(wide, PILOT, donor_names(6), post)
    second = synth.synthetic_control(wide.copy(), PILOT, donor_names(6), post.copy())
    assert first.weights == second.weights
    assert first.ratios == second.ratios
    assert (first.effect, first.placebo_rank) == (second.effect, second.placebo_rank)
    pd.testing.assert_frame_equal(first.path, second.path)
    pd.testing.assert_frame_equal(first.placebo_gaps, second.placebo_gaps)


def test_identical_donors_share_their_weight():
    weeks, donors, post = panel(31, units=4)
    donors = np.column_stack([donors, donors[:, 0]])        # d4 is d0 again
    wide = wide_of(weeks, 0.5 * donors[:, 0] + 0.5 * donors[:, 2], donors)
    sc = synth.synthetic_control(wide, PILOT, donor_names(5), post)
    assert sc.weights["d0"] == pytest.approx(0.25, abs=0.001)
    assert sc.weights["d4"] == pytest.approx(0.25, abs=0.001)
    assert sc.weights["d2"] == pytest.approx(0.5, abs=0.001)
    assert synth.synthetic_control(wide, PILOT, donor_names(5), post).weights == sc.weights


def test_too_little_to_fit_returns_none():
    wide, post = blended()
    assert synth.synthetic_control(wide, PILOT, ["d0", "d1"], post) is None
    few_pre = np.arange(len(wide)) >= 2
    assert synth.synthetic_control(wide, PILOT, donor_names(6), few_pre) is None
    assert synth.synthetic_control(wide, PILOT, donor_names(6), np.zeros(len(wide), dtype=bool)) is None
    # Four baseline weeks, two of them missing for a donor: two remain, too few.
    gappy = wide.copy()
    gappy.iloc[[0, 3], 2] = np.nan
    assert synth.synthetic_control(gappy, PILOT, donor_names(6), np.arange(len(wide)) >= 4) is None
    assert synth.synthetic_control(gappy, PILOT, donor_names(6), np.arange(len(wide)) >= 5) is not None


def test_weeks_with_a_missing_value_are_dropped():
    wide, post = blended(jump=3.0)
    gappy = wide.copy()
    gappy.loc[gappy.index[[2, 5]], "d2"] = np.nan
    gappy.loc[gappy.index[len(wide) - 1], PILOT] = np.nan
    kept = gappy.notna().all(axis=1).to_numpy()
    sc = synth.synthetic_control(gappy, PILOT, donor_names(6), post)
    clean = synth.synthetic_control(wide[kept], PILOT, donor_names(6), post[kept])
    assert len(sc.path) == len(wide) - 3
    assert list(sc.path["week"]) == list(wide.index[kept])
    assert sc.weights == clean.weights
    assert sc.effect == pytest.approx(clean.effect)
    assert sc.ratios == pytest.approx(clean.ratios)


def test_post_as_a_series_is_aligned_on_the_weeks():
    wide, post = blended(jump=3.0)
    by_position = synth.synthetic_control(wide, PILOT, donor_names(6), post)
    aligned = synth.synthetic_control(wide, PILOT, donor_names(6), pd.Series(post, index=wide.index).iloc[::-1])
    assert aligned.effect == by_position.effect and aligned.weights == by_position.weights
    with pytest.raises(ValueError):
        synth.synthetic_control(wide, PILOT, donor_names(6), post[:-1])
    with pytest.raises(ValueError):
        synth.synthetic_control(wide, PILOT, [PILOT] + donor_names(6), post)


# ---------------------------------------------------------------- 5. a published case: Proposition 99

# Cigarette sales in packs per capita, 1970–2000, of the 38 control states and California (the last
# column), as distributed with the synthdid R package (data/california_prop99.csv, from the Synth
# MATLAB toolbox of Abadie, Diamond & Hainmueller 2010), rounded to the 0.1 pack they were recorded in.
PROP99_STATES = [
    "Alabama", "Arkansas", "Colorado", "Connecticut", "Delaware", "Georgia", "Idaho", "Illinois", "Indiana", "Iowa",
    "Kansas", "Kentucky", "Louisiana", "Maine", "Minnesota", "Mississippi", "Missouri", "Montana", "Nebraska",
    "Nevada", "New Hampshire", "New Mexico", "North Carolina", "North Dakota", "Ohio", "Oklahoma", "Pennsylvania",
    "Rhode Island", "South Carolina", "South Dakota", "Tennessee", "Texas", "Utah", "Vermont", "Virginia",
    "West Virginia", "Wisconsin", "Wyoming", "California"]
PROP99 = """
1970  89.8 100.3 124.8 120 155 109.9 102.4 124.8 134.6 108.5 114 155.8 115.9 128.5 104.3 93.4 121.3 111.2 108.1
      189.5 265.7 90 172.4 93.8 121.6 108.4 107.3 123.9 103.6 92.7 99.8 106.4 65.5 122.6 124.3 114.5 106.4 132.2 123
1971  95.4 104.1 125.5 117.6 161.1 115.7 108.5 125.6 139.3 108.4 102.8 163.5 119.8 133.2 116.4 105.4 127.6 115.6 108.6
      190.5 278 92.6 187.6 98.5 124.6 115.4 106.3 123.2 115 96.7 106.3 108.9 67.7 124.4 128.4 111.5 105.4 131.7 121
1972  101.1 103.9 134.3 110.8 156.3 117 126.1 126.6 149.2 109.4 111 179.4 125.3 136.5 96.8 112.1 130 122.2 104.9
      198.6 296.2 99.3 214.1 103.8 124.4 121.7 109 134.4 118.7 103 111.5 108.6 71.3 138 137 117.5 108.8 140 123.5
1973  102.9 108 137.9 109.3 154.7 119.8 121.8 124.4 156 110.6 115.2 201.9 126.7 138 106.8 115 132.1 119.9 106.6
      201.5 279 98.9 226.5 108.7 120.5 124.1 110.7 142 125.5 103.5 109.7 110.4 72.7 146.8 143.1 116.6 109.5 141.2 124.4
1974  108.2 109.7 132.8 112.4 151.3 123.7 125.6 131.9 159.6 116.1 118.6 212.4 129.9 142.1 110.6 117.1 135.4 121.9 110.5
      204.7 269.8 100.3 227.3 110.5 122.1 130.5 114.2 146.1 129.7 108.4 114.8 114.7 75.6 151.8 149.6 119.9 111.8 145.8 126.7
1975  111.7 114.8 131 110.2 147.6 122.9 123.3 131.8 162.4 120.5 123.4 223 133.6 140.7 111.5 116.8 135.6 123.7 114.1
      205.2 269.1 103.1 226 117.9 122.5 132.9 114.6 154.7 130.5 113.5 117.4 116 75.8 155.5 152.7 123.2 113.5 160.7 127.1
1976  116.2 119.1 134.2 113.4 153 125.9 125.1 134.4 166.6 124.4 127.7 230.9 139.6 144.9 116.7 120.9 139.5 124.9 118.1
      201.4 290.5 102.4 230.2 125.4 124.6 138.6 118.8 150.2 136.8 116.7 121.7 121.4 77.9 171.1 158.1 129.7 115.4 161.5 128
1977  117.1 122.6 132 117.3 153.3 127.9 125 134 173 125.5 127.9 229.4 140 145.6 117.2 122.1 140.8 127 117.7
      190.8 278.8 102.4 217 122.2 127.3 140.4 120.1 148.8 137.2 115.6 124.6 124.2 78 169.4 157.7 133.9 117.2 160.4 126.4
1978  123 127.3 129.2 117.5 155.5 130.6 122.8 136.7 150.9 127.1 127.1 224.7 142.7 143.9 118.9 124.9 141.8 127.2 117.4
      187 269.6 103.1 205.5 121.9 131.3 143.6 122.3 146.8 140.4 116.9 127.3 126.6 79.6 162.4 155.9 131.6 116.7 160.3 126.1
1979  121.4 126.5 131.5 117.4 150.2 131 117.5 135.3 148.9 124.2 126.4 214.9 140.1 138.5 118.3 123.9 140.2 120.3 116.1
      183.3 254.6 101 197.3 121.3 130.9 141.6 122.6 145.8 135.7 117.4 127.2 126.4 79.1 160.9 151.8 122.1 117.1 168.6 121.9
1980  123.2 131.8 131 118 150.5 134 115.2 135.2 146.9 124.6 127.1 215.3 143.8 141.2 117.7 127 142.1 122 116.3
      177.7 247.8 102.7 187.8 123.7 133.5 141.6 124 149.3 138.3 114.7 130.4 129.7 74.8 161.6 148.9 122.3 117.6 158.1 120.2
1981  119.6 128.7 133.8 116.4 152.6 131.7 114.1 133 148.5 132.9 132 209.7 144 138.9 120.8 125.3 140.5 121.1 117
      171.9 245.4 103 179.3 125.7 132.8 143.7 125.2 151.2 136.1 115.7 129.1 129 77.6 163.8 149.9 120.5 119.9 163.1 118.6
1982  119.1 127.4 130.5 114.7 154.1 131.2 111.5 130.7 147.7 116.2 130.9 210.6 143.9 139.5 119.4 125.8 139.7 122.4 117.1
      165.1 239.8 97.5 179 126.8 134 147 123.3 146.3 136 113 131.4 131.2 73.6 162.3 147.4 119.8 115.6 157.7 115.4
1983  116.3 128 125.3 114.1 149.6 128.6 111.3 127.9 143 115.6 127.6 201.1 133.7 135.4 113.2 122.3 134.1 113.7 110.8
      159.2 232.9 96.3 169.8 119.6 130 140 125.3 135.8 131.1 109.8 129 126.4 69 153.8 144.7 115.7 106.3 141.2 110.8
1984  113 123.1 119.7 112.5 144 126.3 103.6 124 137.8 111.2 121.7 183.2 128.9 135.5 110.8 116.4 130 110.1 107.7
      136.6 215.1 88.9 160.6 109.4 127.1 128.1 115.3 136.9 127 105.7 125.1 117.2 66.3 144.3 136.8 111.9 105.6 128.9 104.8
1985  114.5 125.8 112.4 111 144.5 128.8 100.7 121.6 135.3 109.4 115.7 182.4 125 127.9 113 115.3 129.2 103.6 105.1
      146.7 201.1 88 156.3 103.2 126.7 124.2 115.8 133.4 125.4 104.4 128.7 115.9 66.5 144.5 134.6 109.1 107 125.7 102.8
1986  116.3 126 109.9 108.5 142.4 129 96.7 118.2 137.6 104.1 109.4 179.8 121.2 119 104.3 113.2 128.8 97.8 103.1
      142.6 195.9 88.2 154.4 99.8 126.3 119.9 113.9 136.3 126.6 97 129 113.7 64.4 131.2 135.8 112.1 105.4 124.8 99.7
1987  114 122.3 102.4 109 141 129.3 95 109.5 134 101.1 105.2 171.2 116.5 125 108.8 110 128.7 91.7 101.3
      147.7 195.1 82.3 150.5 92.3 124.6 113.1 110.6 124.4 126.6 95.8 130.6 105.8 67.7 128.3 133 107.5 106 110.4 97.5
1988  112.1 121.5 94.6 104.8 137.1 124.1 84.5 107.6 134 100.2 103.2 173.2 110.9 125 94.1 109 127.4 87.1 92.9
      141.9 180.4 77.7 146 87.1 122.4 103.6 107.6 138 124.4 91.9 125.3 96.5 55 128.7 129.5 109.1 102.6 114.3 90.1
1989  105.6 118.3 88.8 100.6 131.7 117.1 78.4 104.6 132.5 94.4 96.5 171.6 103.6 122.4 92.3 108.3 122.8 86.2 93.8
      137.9 172.9 74.4 139.3 84.1 118.6 97.5 107.1 120.8 122.4 87.4 124.7 94.5 57 120.9 122.5 104 100.3 111.4 82.4
1990  108.6 113.1 87.4 91.5 127.2 113.8 90.1 94.1 128.3 95.4 94.3 182.5 101.5 117.5 90.7 101.8 119.1 84.7 89.9
      137.3 152.4 70.8 133.7 77.1 115.5 88.4 101.3 101.4 118.6 88.3 121.8 85.6 53.4 124.3 118.9 104.1 94 96.9 77.8
1991  107.9 116.8 90.2 86.7 118.8 109.6 85.4 96.1 127.2 97.1 91.8 170.4 107.2 116.1 86.2 105.6 119.9 82.9 92.4
      115.5 144.8 69.9 132.7 85.2 113.2 87.8 102.5 103.6 121.5 91.8 120.6 79.4 53.5 120.9 109.1 100.1 95.5 109.1 68.7
1992  109.1 126 88.3 83.5 120 109.2 85.1 94.8 128.2 95.2 90 167.6 108.5 114.5 83.8 103.9 122.3 86.6 90.6
      110 143.7 71.4 128.9 74.3 112.3 86.3 96.2 100.1 112.8 93 121 77.2 55 126.5 108.2 97.9 96.2 110.8 67.5
1993  108.5 113.8 88.6 79.1 123.8 109.2 86.7 94.6 126.8 92.5 89.9 167.6 106.2 108.5 81.6 105.4 121.6 86 91.1
      108.1 148.9 69 129.7 83 108.9 86.2 94.7 94.1 115.2 91.6 120.8 81.3 56.2 117.2 105.4 111 91.2 108.4 63.4
1994  107.1 108.8 89.1 76.6 126.1 107.8 93 85.7 128.2 93.4 89.1 170.1 105.3 101.6 83.4 106 119.4 88.2 85.9
      105.2 153.8 68.2 112.7 81 108.6 104.8 95.4 91.9 112.2 94.8 118.8 78.8 55.8 120.3 106.2 104.2 91.8 111.2 58.6
1995  102.6 113 85.4 79.3 127.2 100.3 78.2 84.3 135.4 93 90.1 175.3 105.7 102.3 84.1 107.5 124 90.5 88.5
      100.9 158.5 67 124.9 80.6 111.7 109.5 95.4 90.8 109.2 98.6 125.4 75.2 52 123.2 106.7 115.2 93.5 115 56.4
1996  101.4 110.7 83.1 76 128.3 102.7 73.6 81.8 135.1 94 88.7 179 106.8 100 81.7 106.9 124.1 87.3 86.2
      99 158 65.7 129.7 80.8 107.6 110.8 93.3 87.5 102.9 92.3 119.2 74.6 54 102.5 104.6 112.7 92.1 110.3 54.5
1997  104.9 108.7 81.3 75.9 124.1 100.6 75 79.6 135.3 93.9 89.2 186.8 105.3 101.1 84.1 106.3 120.6 88.9 85.5
      95.6 174.4 61.8 125.6 77.5 108.6 111.8 92.9 90 124.5 88.8 118.9 72.6 57 97.7 108 114.5 91.9 108.8 53.8
1998  106.2 109.5 81.2 75.5 132.8 100.5 78.9 80.3 135.9 94 87.6 171.3 103.2 94.5 83.2 107 120.1 89.1 83.1
      102.4 173.8 62.6 126 79.1 106.4 112.2 92.1 88.7 126.9 88.3 119.7 73.2 42.3 97 105.6 114.6 88.7 102.9 52.3
1999  100.7 104.8 79.6 73.4 139.5 97.1 75.1 72.2 133.3 91.7 83.3 165.3 101 85.5 80.7 103.9 118 82.6 86.6
      103.9 171.7 59.7 113.1 74.7 104 111.4 91.1 86.9 109.4 83.5 115.6 67.6 43.9 94.1 102.1 112.4 84.4 104.8 47.2
2000  96.2 99.4 73 71.4 140.7 88.4 66.9 70 125.5 88.9 79.8 156.2 104.3 82.9 76 97.2 113.8 75.5 77.6
      93.2 147.3 53.8 109 72.5 99.9 108.9 87.9 83.1 103.9 75.1 108.7 69.3 40.7 88.9 96.7 107.9 80.1 90.5 41.6
"""


def prop99() -> pd.DataFrame:
    table = np.array(PROP99.split(), dtype=float).reshape(31, 40)
    return pd.DataFrame(table[:, 1:], index=table[:, 0].astype(int), columns=PROP99_STATES)


def test_proposition_99_matches_the_published_synthetic_control():
    """Published: the outcome-only synthetic control of California on these data estimates −19.6
    packs per capita over 1989–2000 (Arkhangelsky, Athey, Hirshberg, Imbens & Wager 2021, AER, Table 1,
    'SC', whose weights are found approximately, by Frank–Wolfe steps) and −19.5 (Stata's sdid with
    method(sc), in a public tutorial). Abadie et al. (2010), Table 2, weight Colorado 0.164,
    Connecticut 0.069, Montana 0.199, Nevada 0.234 and Utah 0.334 (chosen to match covariates too):
    a point of the same simplex, so its baseline fit can be no better than the outcome-only optimum.
    The weights are also checked against projected gradient descent on this 38-donor problem."""
    wide = prop99()
    donors = PROP99_STATES[:-1]
    post = wide.index >= 1989
    sc = synth.synthetic_control(wide, "California", donors, post)
    assert -19.7 < sc.effect < -19.4
    adh = {"Colorado": 0.164, "Connecticut": 0.069, "Montana": 0.199, "Nevada": 0.234, "Utah": 0.334}
    adh_gap = wide["California"] - sum(w * wide[state] for state, w in adh.items())
    adh_pre_rmspe = float(np.sqrt(np.mean(adh_gap[~post] ** 2)))
    assert sc.pre_rmspe < adh_pre_rmspe
    x, y = wide[donors].to_numpy()[~post], wide["California"].to_numpy()[~post]
    assert np.abs(synth.fit_weights(y, x) - gradient_weights(y, x, iterations=60_000)).max() < 0.01
    assert sc.placebo_units == 39
    assert len(sc.path) == 31 and sc.path["post"].sum() == 12


# ---------------------------------------------------------------- charts

def test_synthetic_chart_draws_the_pilot_unit_against_its_twin():
    wide, post = blended(jump=5.0)
    sc = synth.synthetic_control(wide, PILOT, donor_names(6), post)
    start = wide.index[post][0].date()
    spec = charts.synthetic_chart(sc, "Retail", "NPS", start, direction="higher", width=600).to_dict()
    lines = [l for l in layers(spec) if mark_type(l) == "line"]
    assert len(lines) == 1
    rows = pd.DataFrame(data_of(spec, lines[0]))
    assert len(rows) == 2 * len(wide)
    assert set(rows["series"]) == {"Retail", "synthetic twin"}
    pilot_rows = rows[rows["series"] == "Retail"]
    assert pilot_rows["value"].to_numpy() == pytest.approx(wide[PILOT].to_numpy())
    twin = rows[rows["series"] == "synthetic twin"]["value"].to_numpy()
    assert twin == pytest.approx(sc.path["synthetic"].to_numpy())
    colour = lines[0]["encoding"]["color"]["scale"]
    assert colour["domain"] == ["Retail", "synthetic twin"]
    assert colour["range"] == [charts.PILOT_COLOUR, charts.CONTROL_COLOUR]
    rules = [l for l in layers(spec) if mark_type(l) == "rule"]
    assert [pd.Timestamp(r["start"]) for r in data_of(spec, rules[0])] == [pd.Timestamp(start)]
    assert "Retail" in spec["title"]["text"] and "+" in spec["title"]["subtitle"]
    assert "↑ better" in lines[0]["encoding"]["y"]["title"]
    assert vl_convert.vegalite_to_svg(spec).startswith("<svg")


def test_placebo_chart_draws_every_gap_and_the_pilot_unit_on_top():
    wide, post = blended(jump=5.0)
    sc = synth.synthetic_control(wide, PILOT, donor_names(6), post)
    names = {PILOT: "Retail", **{d: f"Unit {d}" for d in donor_names(6)}}
    start = wide.index[post][0].date()
    spec = charts.placebo_chart(sc, names, "NPS", start, width=600).to_dict()
    lines = [l for l in layers(spec) if mark_type(l) == "line"]
    assert len(lines) == 2
    rows = pd.DataFrame(data_of(spec, lines[0]))
    assert len(rows) == 7 * len(wide)
    assert set(rows["name"]) == set(names.values())
    assert set(rows.loc[rows["name"] == "Retail", "role"]) == {"Retail"}
    assert rows.loc[rows["name"] == "Retail", "gap"].to_numpy() == pytest.approx(sc.path["gap"].to_numpy())
    colour = lines[0]["encoding"]["color"]["scale"]
    assert colour["range"][colour["domain"].index("Retail")] == charts.PILOT_COLOUR
    # The pilot unit's line is drawn last, over the placebos.
    assert lines[-1]["transform"] == [{"filter": "datum.piloted"}] and set(rows.loc[rows["piloted"], "name"]) == {"Retail"}
    rules = [l for l in layers(spec) if mark_type(l) == "rule"]
    rule_data = [data_of(spec, r)[0] for r in rules]
    assert {"gap": 0.0} in rule_data
    assert any(pd.Timestamp(d.get("start", "1900-01-01")) == pd.Timestamp(start) for d in rule_data)
    assert "ranks 1 of 7" in spec["title"]["subtitle"]
    assert vl_convert.vegalite_to_svg(spec).startswith("<svg")


def test_synthetic_charts_take_a_title_or_none():
    wide, post = blended()
    sc = synth.synthetic_control(wide, PILOT, donor_names(6), post)
    start = wide.index[post][0].date()
    assert "title" not in charts.synthetic_chart(sc, "Retail", "NPS", start, title="").to_dict()
    assert charts.placebo_chart(sc, {}, "NPS", start, title="Placebos").to_dict()["title"]["text"] == "Placebos"
