"""Rate statistics, survival and duration summaries against statsmodels, scipy, lifelines and
numpy on random inputs, plus the edge cases (x = 0, x = n, n = 0) and bad input."""

from __future__ import annotations

import math
import pickle
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from funnelkit import stats

scipy_stats = pytest.importorskip("scipy.stats")
integrate = pytest.importorskip("scipy.integrate")
sm_prop = pytest.importorskip("statsmodels.stats.proportion")
sm_multi = pytest.importorskip("statsmodels.stats.multitest")

METHODS = {"wilson": "wilson", "agresti_coull": "agresti_coull", "jeffreys": "jeffreys", "clopper_pearson": "beta"}
DATA = Path(__file__).resolve().parents[1] / "data"


# ----------------------------------------------------------------------------- intervals
def test_domain_example():
    r = stats.rate_interval(7, 50)
    assert r is not None
    assert r.lower == pytest.approx(0.069508, abs=5e-7)
    assert r.upper == pytest.approx(0.261862, abs=5e-7)
    assert r.estimate == 0.14


@pytest.mark.parametrize("method", list(METHODS))
def test_intervals_match_statsmodels_on_random_counts(method):
    rng = np.random.default_rng(1)
    n = rng.integers(1, 5000, size=400)
    x = np.minimum(n, (rng.random(400) ** 2 * n * rng.random(400) * 1.3).astype(np.int64))
    x[:20] = 0
    x[20:40] = n[20:40]
    n[40:50] = 1
    x[40:50] = rng.integers(0, 2, size=10)
    for level in (0.8, 0.9, 0.95, 0.99, 0.999):
        ours = stats.rate_intervals(x, n, level=level, method=method)
        lo, hi = sm_prop.proportion_confint(x, n, alpha=1 - level, method=METHODS[method])
        lo, hi = np.asarray(lo, dtype=float), np.asarray(hi, dtype=float)
        if method == "jeffreys":  # the definition pins the bounds at x = 0 and x = n
            lo = np.where(x == 0, 0.0, lo)
            hi = np.where(x == n, 1.0, hi)
        np.testing.assert_allclose(ours["lower"], lo, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(ours["upper"], hi, rtol=1e-9, atol=1e-12)
        assert ours["defined"].all()


def test_zero_trials_is_undefined_not_nan():
    assert stats.rate_interval(0, 0) is None
    t = stats.rate_intervals([0, 3], [0, 5])
    assert list(t["defined"]) == [False, True]
    assert t["lower"].isna().tolist() == [True, False]
    assert stats.two_proportion_ztest(0, 0, 1, 5) is None
    assert stats.two_proportion_ztest(0, 5, 0, 7) is None
    assert stats.chi2_test([[0, 5], [0, 7]]) is None


def test_bad_input_messages():
    with pytest.raises(ValueError, match="option 'successes': value 6 exceeds the number of trials 5"):
        stats.rate_interval(6, 5)
    with pytest.raises(ValueError, match="option 'level'"):
        stats.rate_interval(1, 5, level=1.2)
    with pytest.raises(ValueError, match="option 'method': value 'wald'"):
        stats.rate_interval(1, 5, method="wald")
    with pytest.raises(ValueError, match="row 1: option 'successes': value -1"):
        stats.rate_intervals([1, -1], [5, 5])
    with pytest.raises(TypeError, match="column 'successes', row 0: value 1.5"):
        stats.rate_intervals([1.5], [5])
    with pytest.raises(ValueError, match="column 'p_value', row 1: value NaN"):
        stats.adjust_p_values([0.1, float("nan")])
    with pytest.raises(ValueError, match="column 'table', row 1: value -2 is negative"):
        stats.chi2_test([[1, -2], [3, 4]])


@settings(max_examples=300, deadline=None)
@given(n=st.integers(1, 10**7), frac=st.floats(0, 1), level=st.floats(0.5, 0.9999),
       method=st.sampled_from(list(METHODS)))
def test_interval_properties(n, frac, level, method):
    x = min(n, int(frac * n))
    r = stats.rate_interval(x, n, level=level, method=method)
    assert r is not None
    assert 0.0 <= r.lower <= r.estimate <= r.upper <= 1.0
    wider = stats.rate_interval(x, n, level=min(0.99999, level + (1 - level) / 2), method=method)
    assert wider.lower <= r.lower + 1e-12 and wider.upper >= r.upper - 1e-12


# ---------------------------------------------------------------------------------- tests
def test_ztest_matches_statsmodels():
    rng = np.random.default_rng(2)
    for _ in range(300):
        n1, n2 = rng.integers(1, 3000, size=2)
        x1, x2 = rng.integers(0, n1 + 1), rng.integers(0, n2 + 1)
        if x1 + x2 in (0, n1 + n2):
            assert stats.two_proportion_ztest(x1, n1, x2, n2) is None
            continue
        for alt in ("two-sided", "larger", "smaller"):
            z, p = sm_prop.proportions_ztest([x1, x2], [n1, n2], alternative=alt)
            r = stats.two_proportion_ztest(int(x1), int(n1), int(x2), int(n2), alternative=alt)
            assert r.statistic == pytest.approx(z, rel=1e-10, abs=1e-12)
            assert r.p_value == pytest.approx(p, rel=1e-8, abs=1e-14)


def test_chi2_matches_scipy():
    rng = np.random.default_rng(3)
    for _ in range(300):
        r_, c_ = rng.integers(2, 6, size=2)
        table = rng.integers(0, rng.choice([5, 50, 2000]), size=(r_, c_))
        for yates in (True, False):
            ours = stats.chi2_test(table, yates=yates)
            if (table.sum(axis=0) == 0).any() or (table.sum(axis=1) == 0).any():
                assert ours is None
                continue
            ref = scipy_stats.chi2_contingency(table, correction=yates)
            assert ours.statistic == pytest.approx(ref.statistic, rel=1e-10, abs=1e-12)
            assert ours.p_value == pytest.approx(ref.pvalue, rel=1e-8, abs=1e-14)
            assert ours.dof == ref.dof
            assert ours.corrected == (yates and ref.dof == 1)


def _quad_greater(ax, bx, ay, by):
    f = lambda t: scipy_stats.beta.pdf(t, ax, bx) * scipy_stats.beta.cdf(t, ay, by)  # noqa: E731
    lo = min(scipy_stats.beta.ppf(1e-15, ax, bx), scipy_stats.beta.ppf(1e-15, ay, by))
    hi = max(scipy_stats.beta.isf(1e-15, ax, bx), scipy_stats.beta.isf(1e-15, ay, by))
    pts = sorted({ax / (ax + bx), ay / (ay + by)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        v, _ = integrate.quad(f, lo, hi, points=pts, epsabs=1e-13, epsrel=1e-12, limit=1000)
    return v


def test_bayesian_probability_matches_scipy_quadrature():
    rng = np.random.default_rng(4)
    for _ in range(120):
        n_a, n_b = rng.integers(0, 3000, size=2)
        x_a, x_b = rng.integers(0, n_a + 1), rng.integers(0, n_b + 1)
        prior = (1.0, 1.0) if rng.random() < 0.5 else tuple(rng.uniform(0.3, 3.0, size=2))
        ours = stats.probability_b_beats_a(int(x_a), int(n_a), int(x_b), int(n_b), prior=prior)
        ref = _quad_greater(prior[0] + x_b, prior[1] + n_b - x_b, prior[0] + x_a, prior[1] + n_a - x_a)
        assert ours == pytest.approx(ref, abs=1e-8)


def test_bayesian_probability_is_exact_not_sampled():
    # Uniform A against B ~ Beta(2, 1): 2/3 exactly; repeated calls give identical numbers.
    assert stats.probability_beta_greater(2, 1, 1, 1) == pytest.approx(2 / 3, abs=1e-14)
    assert stats.probability_b_beats_a(30, 200, 45, 210) == stats.probability_b_beats_a(30, 200, 45, 210)
    # Against a large Monte Carlo as a sanity check of direction (1e6 draws: +-0.002).
    rng = np.random.default_rng(5)
    a = rng.beta(31, 171, 1_000_000)
    b = rng.beta(46, 166, 1_000_000)
    assert stats.probability_b_beats_a(30, 200, 45, 210) == pytest.approx((b > a).mean(), abs=3e-3)


@pytest.mark.parametrize("method,sm_name", [("holm", "holm"), ("benjamini_hochberg", "fdr_bh")])
def test_adjustments_match_statsmodels(method, sm_name):
    rng = np.random.default_rng(6)
    for m in (1, 2, 5, 17, 200):
        for _ in range(30):
            p = rng.random(m) ** 3
            p[: m // 4] = p[0]  # ties
            ref = sm_multi.multipletests(p, method=sm_name)[1]
            np.testing.assert_allclose(stats.adjust_p_values(p, method=method), ref, rtol=1e-12, atol=1e-15)


def test_compare_to_baseline():
    df = stats.compare_to_baseline([30, 45, 20, 0], [200, 210, 150, 0], labels=["web", "webinar", "ads", "none"])
    assert list(df["segment"]) == ["web", "webinar", "ads", "none"]
    assert list(df["tested"]) == [False, True, True, False]
    z, p = sm_prop.proportions_ztest([45, 30], [210, 200])
    assert df.loc[1, "statistic"] == pytest.approx(z)
    raw = df.loc[[1, 2], "p_value"].to_numpy()
    np.testing.assert_allclose(df.loc[[1, 2], "p_adjusted"], sm_multi.multipletests(raw, method="holm")[1])
    assert math.isnan(df.loc[3, "p_value"])
    assert df.loc[1, "prob_beats_baseline"] == pytest.approx(stats.probability_b_beats_a(30, 200, 45, 210))
    # An empty segment keeps the uniform prior: P(U > A) = 1 - E[A] = 1 - 31/202.
    assert df.loc[3, "prob_beats_baseline"] == pytest.approx(1 - 31 / 202, abs=1e-12)


# ------------------------------------------------------------------------------- survival
def _lifelines():
    return pytest.importorskip("lifelines")


def test_kaplan_meier_matches_lifelines_on_random_data():
    lifelines = _lifelines()
    from lifelines.utils import median_survival_times

    rng = np.random.default_rng(7)
    for trial in range(25):
        n = int(rng.integers(5, 400))
        dur = np.floor(rng.exponential(20, n)) if trial % 2 else rng.exponential(20, n)
        obs = rng.random(n) < rng.uniform(0.2, 0.9)
        level = float(rng.choice([0.9, 0.95]))
        ours = stats.kaplan_meier(dur, obs, level=level)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            kmf = lifelines.KaplanMeierFitter(alpha=1 - level).fit(dur, obs)
            ref_s = kmf.survival_function_.iloc[:, 0].loc[ours.time].to_numpy()
            ci = kmf.confidence_interval_.loc[ours.time].to_numpy()
            med_ci = median_survival_times(kmf.confidence_interval_).to_numpy().ravel()
        np.testing.assert_allclose(ours.survival, ref_s, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(ours.lower, ci[:, 0], rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(ours.upper, ci[:, 1], rtol=1e-9, atol=1e-12)
        assert ours.median == kmf.median_survival_time_
        assert ours.median_ci == (med_ci[0], med_ci[1])
        et = kmf.event_table.loc[ours.time]
        np.testing.assert_array_equal(ours.at_risk, et["at_risk"].to_numpy())
        np.testing.assert_array_equal(ours.events, et["observed"].to_numpy())


def test_kaplan_meier_open_entities_are_censored_not_failures():
    # 2 of 5 converted, 3 still open: the median time to convert is not reached.
    km = stats.kaplan_meier([1, 2, 10, 10, 10], [True, True, False, False, False])
    assert km.median == math.inf
    assert km.percentile(0.7) == 2.0
    assert km.survival_at(1.5) == pytest.approx(0.8)
    assert "KaplanMeier(5 durations, 2 events" in repr(km)
    df = km.to_pandas()
    assert list(df.columns) == ["time", "at_risk", "events", "censored", "survival", "lower", "upper"]
    with pytest.raises(ValueError, match="column 'duration', row 1: value -1"):
        stats.kaplan_meier([1, -1], [1, 1])
    with pytest.raises(ValueError, match="column 'observed', row 0: value 2"):
        stats.kaplan_meier([1, 1], [2, 1])


def test_aalen_johansen_matches_lifelines_on_random_data():
    lifelines = _lifelines()
    rng = np.random.default_rng(8)
    for _ in range(15):
        n = int(rng.integers(10, 300))
        dur = rng.exponential(30, n) + 1e-3  # continuous: no ties, so lifelines does not jitter
        out = rng.choice([0, 1, 2], size=n, p=[0.3, 0.4, 0.3])
        ours = stats.aalen_johansen(dur, out, labels=["won", "lost"])
        for k, lab in ((1, "won"), (2, "lost")):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ajf = lifelines.AalenJohansenFitter(calculate_variance=False).fit(dur, out, event_of_interest=k)
                ref = ajf.cumulative_density_.iloc[:, 0].loc[ours.time].to_numpy()
            np.testing.assert_allclose(ours.incidence[:, k - 1], ref, rtol=1e-11, atol=1e-14)
            assert ours.final(lab) == pytest.approx(ref[-1])
        np.testing.assert_allclose(ours.incidence.sum(axis=1) + ours.survival, 1.0, atol=1e-12)


def test_aalen_johansen_ties_and_labels():
    # Hand-worked in tests/cpp/test_survival.cpp: final won 7/12, lost 5/12.
    aj = stats.aalen_johansen([3, 1, 4, 2, 5, 3], [0, 1, 2, 2, 1, 1], labels=["won", "lost"])
    assert aj.final("won") == pytest.approx(7 / 12)
    assert aj.incidence_at("lost", 3.5) == pytest.approx(1 / 6)
    assert list(aj.to_pandas().columns) == ["time", "at_risk", "censored", "events_won", "events_lost",
                                            "incidence_won", "incidence_lost", "survival"]
    with pytest.raises(ValueError, match="column 'outcome', row 1: value -1"):
        stats.aalen_johansen([1, 2], [1, -1])


# ------------------------------------------------------------------------------ summaries
def test_duration_summary_matches_numpy():
    rng = np.random.default_rng(9)
    for n in (1, 2, 3, 10, 101, 5000):
        v = rng.lognormal(3, 1.5, n)
        s = stats.DurationSummary(v).stats()
        assert s["count"] == n
        assert s["mean"] == pytest.approx(v.mean(), rel=1e-12)
        assert s["median"] == np.median(v)
        assert s["p90"] == np.quantile(v, 0.9)
        assert s["min"] == v.min() and s["max"] == v.max()
    for q in (0.0, 0.1, 0.25, 0.5, 0.75, 0.95, 1.0):
        assert stats.DurationSummary(v).quantile(q) == np.quantile(v, q)


def test_duration_summary_state_contract():
    rng = np.random.default_rng(10)
    v = np.floor(rng.exponential(86400 * 3, 20000))  # integer seconds: sums are exact
    whole = stats.DurationSummary(v)
    parts = [stats.DurationSummary(v[i::4]) for i in range(4)]
    merged = parts[3] + parts[1] + parts[0] + parts[2]
    assert merged == whole
    assert merged.to_bytes() == whole.to_bytes()
    assert pickle.loads(pickle.dumps(whole)) == whole
    golden = stats.DurationSummary.from_bytes((DATA / "duration_summary_v1.bin").read_bytes())
    assert golden == stats.DurationSummary([3, 1, 4, 1, 5, 9, 2, 6])
    assert stats.DurationSummary().stats()["median"] is None
    lean = stats.DurationSummary(v, keep_values=False)
    assert lean.stats()["median"] is None and lean.stats()["mean"] == whole.stats()["mean"]
    with pytest.raises(ValueError, match="column 'duration', row 1: value NaN"):
        stats.DurationSummary([1.0, float("nan")])
    with pytest.raises(ValueError, match="wrong magic number"):
        stats.DurationSummary.from_bytes(b"XXXX\x01\x00")


def test_describe_durations_by_group():
    import pandas as pd

    rng = np.random.default_rng(11)
    v = rng.exponential(5, 3000)
    g = rng.choice(["email", "webinar", "ads"], 3000)
    ours = stats.describe_durations(v, g, name="source")
    ref = pd.DataFrame({"v": v, "g": g}).groupby("g")["v"]
    assert list(ours["source"]) == ["ads", "email", "webinar"]
    np.testing.assert_array_equal(ours["count"], ref.count().to_numpy())
    np.testing.assert_allclose(ours["mean"], ref.mean().to_numpy(), rtol=1e-12)
    np.testing.assert_array_equal(ours["median"], ref.median().to_numpy())
    np.testing.assert_array_equal(ours["p90"], ref.quantile(0.9).to_numpy())
