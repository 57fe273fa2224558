"""Rate statistics against statsmodels and scipy on random inputs, the edge cases (x = 0,
x = n, n = 0), the (a, b) convention of two-sample functions, the option vocabulary with its
deprecated aliases, every input format and the result contract."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import funnelkit as fk
from conftest import as_format
from contract import check_contract
from funnelkit import rates

scipy_stats = pytest.importorskip("scipy.stats")
integrate = pytest.importorskip("scipy.integrate")
sm_prop = pytest.importorskip("statsmodels.stats.proportion")
sm_multi = pytest.importorskip("statsmodels.stats.multitest")

INTERVALS = {"wilson": "wilson", "agresti_coull": "agresti_coull", "jeffreys": "jeffreys", "clopper_pearson": "beta"}


# ----------------------------------------------------------------------------- intervals
def test_domain_example():
    r = rates.rate_interval(7, 50)
    assert r is not None
    assert r.lower == pytest.approx(0.069508, abs=5e-7)
    assert r.upper == pytest.approx(0.261862, abs=5e-7)
    assert r.estimate == 0.14
    assert (r.confidence, r.interval) == (0.95, "wilson")
    assert "Wilson" in r.explain().definition


@pytest.mark.parametrize("interval", list(INTERVALS))
def test_intervals_match_statsmodels_on_random_counts(interval):
    rng = np.random.default_rng(1)
    n = rng.integers(1, 5000, size=400)
    x = np.minimum(n, (rng.random(400) ** 2 * n * rng.random(400) * 1.3).astype(np.int64))
    x[:20] = 0
    x[20:40] = n[20:40]
    n[40:50] = 1
    x[40:50] = rng.integers(0, 2, size=10)
    for confidence in (0.8, 0.9, 0.95, 0.99, 0.999):
        ours = rates.rate_intervals(x, n, confidence=confidence, interval=interval)
        lo, hi = sm_prop.proportion_confint(x, n, alpha=1 - confidence, method=INTERVALS[interval])
        lo, hi = np.asarray(lo, dtype=float), np.asarray(hi, dtype=float)
        if interval == "jeffreys":  # the definition pins the bounds at x = 0 and x = n
            lo = np.where(x == 0, 0.0, lo)
            hi = np.where(x == n, 1.0, hi)
        np.testing.assert_allclose(ours["lower"], lo, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(ours["upper"], hi, rtol=1e-9, atol=1e-12)
        assert ours["defined"].all()


def test_zero_trials_is_undefined_not_nan():
    assert rates.rate_interval(0, 0) is None
    t = rates.rate_intervals([0, 3], [0, 5])
    assert list(t["defined"]) == [False, True]
    assert np.isnan(t["lower"]).tolist() == [True, False]
    assert t.to_dict()["lower"][0] is None  # null in every export
    assert rates.two_proportion_ztest(0, 0, 1, 5) is None
    assert rates.two_proportion_ztest(0, 5, 0, 7) is None
    assert rates.chi2_test([[0, 5], [0, 7]]) is None


def test_bad_input_messages():
    with pytest.raises(ValueError, match="option 'successes': value 6 exceeds the number of trials 5"):
        rates.rate_interval(6, 5)
    with pytest.raises(ValueError, match="option 'confidence': value 1.2 must lie strictly between 0 and 1"):
        rates.rate_interval(1, 5, confidence=1.2)
    with pytest.raises(ValueError, match=r"option 'interval': value 'wald' is not valid"):
        rates.rate_interval(1, 5, interval="wald")
    with pytest.raises(ValueError, match=r"did you mean 'jeffreys'"):
        rates.rate_intervals([1], [5], interval="jefreys")
    with pytest.raises(ValueError, match="row 1: option 'successes': value -1"):
        rates.rate_intervals([1, -1], [5, 5])
    with pytest.raises(TypeError, match="column 'successes', row 0: value 1.5"):
        rates.rate_intervals([1.5], [5])
    with pytest.raises(ValueError, match="column 'p_value', row 1: value NaN"):
        rates.adjust_p_values([0.1, float("nan")])
    with pytest.raises(ValueError, match="column 'table', row 1: value -2 is negative"):
        rates.chi2_test([[1, -2], [3, 4]])
    with pytest.raises(ValueError, match=r"option 'alternative'.*did you mean 'larger'"):
        rates.two_proportion_ztest(1, 5, 2, 5, alternative="large")
    with pytest.raises(TypeError, match="looks like a column name; pass data="):
        rates.rate_intervals("won", "leads")


def test_deprecated_option_names_still_work():
    with pytest.warns(DeprecationWarning, match="'level' is deprecated; use 'confidence'"):
        old = rates.rate_interval(7, 50, level=0.9)
    assert old == rates.rate_interval(7, 50, confidence=0.9)
    with pytest.warns(DeprecationWarning, match="'method' is deprecated; use 'interval'"):
        old = rates.rate_intervals([7], [50], method="jeffreys")
    assert old["lower"][0] == rates.rate_interval(7, 50, interval="jeffreys").lower
    r = rates.rate_interval(7, 50)
    with pytest.warns(DeprecationWarning, match="RateInterval.level"):
        assert r.level == 0.95
    with pytest.warns(DeprecationWarning, match="RateInterval.method"):
        assert r.method == "wilson"
    with pytest.warns(DeprecationWarning, match="'labels' is deprecated; use 'segment'"):
        t = rates.compare_to_baseline([3, 4], [10, 10], labels=["a", "b"])
    assert list(t["segment"]) == ["a", "b"]


@settings(max_examples=300, deadline=None)
@given(n=st.integers(1, 10**7), frac=st.floats(0, 1), confidence=st.floats(0.5, 0.9999),
       interval=st.sampled_from(list(INTERVALS)))
def test_interval_properties(n, frac, confidence, interval):
    x = min(n, int(frac * n))
    r = rates.rate_interval(x, n, confidence=confidence, interval=interval)
    assert r is not None
    assert 0.0 <= r.lower <= r.estimate <= r.upper <= 1.0
    wider = rates.rate_interval(x, n, confidence=min(0.99999, confidence + (1 - confidence) / 2), interval=interval)
    assert wider.lower <= r.lower + 1e-12 and wider.upper >= r.upper - 1e-12


# ---------------------------------------------------------------------------------- tests
def test_ztest_tests_b_against_a_as_statsmodels_does():
    rng = np.random.default_rng(2)
    for _ in range(300):
        n_a, n_b = rng.integers(1, 3000, size=2)
        x_a, x_b = rng.integers(0, n_a + 1), rng.integers(0, n_b + 1)
        if x_a + x_b in (0, n_a + n_b):
            assert rates.two_proportion_ztest(x_a, n_a, x_b, n_b) is None
            continue
        for alt in ("two-sided", "larger", "smaller"):
            # statsmodels tests its first count against its second: B first for "B against A".
            z, p = sm_prop.proportions_ztest([x_b, x_a], [n_b, n_a], alternative=alt)
            r = rates.two_proportion_ztest(int(x_a), int(n_a), int(x_b), int(n_b), alternative=alt)
            assert r.statistic == pytest.approx(z, rel=1e-10, abs=1e-12)
            assert r.p_value == pytest.approx(p, rel=1e-8, abs=1e-14)
            assert r.alternative == alt


def test_two_sample_functions_agree_on_which_sample_is_b():
    # B (45 of 210) converts better than A (30 of 200): z > 0, P(B > A) > 1/2, "larger" is significant-ish.
    z = rates.two_proportion_ztest(30, 200, 45, 210)
    assert z.statistic > 0
    assert rates.probability_b_beats_a(30, 200, 45, 210) > 0.5
    assert rates.two_proportion_ztest(30, 200, 45, 210, alternative="larger").p_value < 0.5
    assert rates.two_proportion_ztest(45, 210, 30, 200).statistic == pytest.approx(-z.statistic)
    assert "positive when B's rate is higher" in z.explain().definition


def test_ztest_former_keywords_keep_their_former_meaning():
    new = rates.two_proportion_ztest(x_a=30, n_a=200, x_b=45, n_b=210)
    with pytest.warns(DeprecationWarning, match="'x1' is deprecated; use 'x_b'"):
        old = rates.two_proportion_ztest(x1=45, n1=210, x2=30, n2=200)
    assert old == new
    with pytest.raises(TypeError, match="missing required argument 'n_b'"):
        rates.two_proportion_ztest(1, 5, 2)
    with pytest.raises(TypeError, match="unexpected keyword argument 'x3'"):
        rates.two_proportion_ztest(1, 5, 2, 5, x3=1)


def test_chi2_matches_scipy():
    rng = np.random.default_rng(3)
    for _ in range(300):
        r_, c_ = rng.integers(2, 6, size=2)
        table = rng.integers(0, rng.choice([5, 50, 2000]), size=(r_, c_))
        for yates in (True, False):
            ours = rates.chi2_test(table, yates=yates)
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
        ours = rates.probability_b_beats_a(int(x_a), int(n_a), int(x_b), int(n_b), prior=prior)
        ref = _quad_greater(prior[0] + x_b, prior[1] + n_b - x_b, prior[0] + x_a, prior[1] + n_a - x_a)
        assert ours == pytest.approx(ref, abs=1e-8)


def test_bayesian_probability_is_exact_not_sampled():
    # Uniform A against B ~ Beta(2, 1): 2/3 exactly; repeated calls give identical numbers.
    assert rates.probability_beta_greater(2, 1, 1, 1) == pytest.approx(2 / 3, abs=1e-14)
    assert rates.probability_b_beats_a(30, 200, 45, 210) == rates.probability_b_beats_a(30, 200, 45, 210)
    # Against a large Monte Carlo as a sanity check of direction (1e6 draws: +-0.002).
    rng = np.random.default_rng(5)
    a = rng.beta(31, 171, 1_000_000)
    b = rng.beta(46, 166, 1_000_000)
    assert rates.probability_b_beats_a(30, 200, 45, 210) == pytest.approx((b > a).mean(), abs=3e-3)


@pytest.mark.parametrize("method,sm_name", [("holm", "holm"), ("benjamini_hochberg", "fdr_bh"), ("bh", "fdr_bh")])
def test_adjustments_match_statsmodels(method, sm_name):
    rng = np.random.default_rng(6)
    for m in (1, 2, 5, 17, 200):
        for _ in range(30):
            p = rng.random(m) ** 3
            p[: m // 4] = p[0]  # ties
            ref = sm_multi.multipletests(p, method=sm_name)[1]
            got = rates.adjust_p_values(p, method=method)
            np.testing.assert_allclose(got["p_adjusted"], ref, rtol=1e-12, atol=1e-15)
            np.testing.assert_array_equal(got["p_value"], p)
    with pytest.raises(ValueError, match=r"option 'method'.*did you mean 'holm'"):
        rates.adjust_p_values([0.1], method="hlm")


def test_compare_to_baseline():
    t = rates.compare_to_baseline([30, 45, 20, 0], [200, 210, 150, 0], segment=["web", "webinar", "ads", "none"])
    df = t.to_pandas()
    assert list(df["segment"]) == ["web", "webinar", "ads", "none"]
    assert list(df["tested"]) == [False, True, True, False]
    # Each segment (B) against the baseline (A): statsmodels with B's counts first.
    z, p = sm_prop.proportions_ztest([45, 30], [210, 200])
    assert df.loc[1, "statistic"] == pytest.approx(z) and z > 0
    assert df.loc[1, "statistic"] == pytest.approx(rates.two_proportion_ztest(30, 200, 45, 210).statistic)
    raw = df.loc[[1, 2], "p_value"].to_numpy()
    np.testing.assert_allclose(df.loc[[1, 2], "p_adjusted"], sm_multi.multipletests(raw, method="holm")[1])
    assert math.isnan(df.loc[3, "p_value"])
    assert df.loc[1, "prob_beats_baseline"] == pytest.approx(rates.probability_b_beats_a(30, 200, 45, 210))
    assert df.loc[1, "difference"] == pytest.approx(45 / 210 - 30 / 200)
    # An empty segment keeps the uniform prior: P(U > A) = 1 - E[A] = 1 - 31/202.
    assert df.loc[3, "prob_beats_baseline"] == pytest.approx(1 - 31 / 202, abs=1e-12)
    # The baseline by label; a misspelt label is an error with the closest names.
    by_label = rates.compare_to_baseline([30, 45, 20], [200, 210, 150], segment=["web", "webinar", "ads"],
                                         baseline="webinar")
    assert list(by_label["is_baseline"]) == [False, True, False]
    with pytest.raises(ValueError, match=r"option 'baseline': segment 'webnar' is not valid; did you mean 'webinar'"):
        rates.compare_to_baseline([30, 45], [200, 210], segment=["web", "webinar"], baseline="webnar")
    with pytest.raises(ValueError, match="option 'baseline': value 5 is not a segment position"):
        rates.compare_to_baseline([30, 45], [200, 210], baseline=5)
    chi = rates.compare_to_baseline([30, 45], [200, 210], test="chi2", adjust="none")
    ref = scipy_stats.chi2_contingency([[45, 165], [30, 170]], correction=True)
    assert chi["p_value"][1] == pytest.approx(ref.pvalue) and chi["p_adjusted"][1] == chi["p_value"][1]
    with pytest.raises(ValueError, match=r"option 'test'.*did you mean 'chi2'"):
        rates.compare_to_baseline([30, 45], [200, 210], test="chi")


# -------------------------------------------------------------------------- inputs and results
def _segments_frame():
    return pd.DataFrame({"source": ["Web", "Webinar", "Ads", "Referral"], "won": [30, 45, 20, 9],
                         "leads": [200, 210, 150, 40], "p": [0.01, 0.04, 0.03, 0.5]})


def test_every_input_format_gives_the_same_rates(input_format):
    df = _segments_frame()
    data = as_format(df, input_format)
    arrays = rates.rate_intervals(df["won"].to_numpy(), df["leads"].to_numpy())
    assert rates.rate_intervals("won", "leads", data=data).to_arrow().equals(arrays.to_arrow())
    ref = rates.compare_to_baseline(df["won"].tolist(), df["leads"].tolist(), segment=df["source"].tolist(),
                                    baseline="Web")
    got = rates.compare_to_baseline("won", "leads", data=data, segment="source", baseline="Web")
    assert got.columns[0] == "source"
    np.testing.assert_array_equal(got["p_adjusted"], ref["p_adjusted"])
    assert got.to_arrow().drop_columns(["source"]).equals(ref.to_arrow().drop_columns(["segment"]))
    assert rates.adjust_p_values("p", data=data).to_arrow().equals(rates.adjust_p_values(df["p"]).to_arrow())


def test_series_of_every_library_are_arrays():
    import polars as pl
    import pyarrow as pa

    df = _segments_frame()
    ref = rates.rate_intervals(df["won"].tolist(), df["leads"].tolist()).to_arrow()
    for x, n in ((df["won"], df["leads"]), (pl.Series(df["won"]), pl.Series(df["leads"])),
                 (pa.chunked_array([df["won"]]), pa.array(df["leads"]))):
        assert rates.rate_intervals(x, n).to_arrow().equals(ref)


def test_every_rate_result_keeps_the_contract():
    check_contract(rates.rate_interval(7, 50, interval="clopper_pearson"))
    check_contract(rates.two_proportion_ztest(30, 200, 45, 210, alternative="smaller"))
    check_contract(rates.chi2_test([[30, 170], [45, 165]]))
    check_contract(rates.rate_intervals([0, 7], [0, 50]))
    check_contract(rates.adjust_p_values([0.01, 0.2]))
    check_contract(rates.compare_to_baseline([30, 45, 0], [200, 210, 0], segment=["a", "b", "c"]))
    assert isinstance(fk.stats.rate_intervals([1], [2]), fk.Table)


def test_compare_to_baseline_is_the_cores_table():
    from funnelkit import _core

    x, n = np.array([30, 45, 20, 0]), np.array([200, 210, 150, 0])
    t = rates.compare_to_baseline(x, n, test="chi2_plain", adjust="benjamini_hochberg", baseline=1)
    core = _core.compare_to_baseline(x, n, _core.BaselineOptions(baseline=1, test="chi2_plain",
                                                                 adjust="benjamini_hochberg"))
    for key in ("rate", "lower", "upper", "difference", "statistic", "p_value", "p_adjusted", "prob_beats_baseline"):
        np.testing.assert_array_equal(t[key], core[key])
    assert list(t["tested"]) == [True, False, True, False]
    # Counts are checked row by row in the core.
    with pytest.raises(ValueError, match="row 2: option 'successes': value 200 exceeds the number of trials 150"):
        rates.compare_to_baseline([30, 45, 200], [200, 210, 150])
    with pytest.raises(ValueError, match="option 'test'"):
        _core.BaselineOptions(test="t")
