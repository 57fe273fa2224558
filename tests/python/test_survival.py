"""Kaplan-Meier and Aalen-Johansen against lifelines on random data, censoring, timedeltas,
every input format and the result contract."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

import funnelkit as fk
from conftest import as_format
from contract import check_contract
from funnelkit import survival


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
        confidence = float(rng.choice([0.9, 0.95]))
        ours = survival.kaplan_meier(dur, obs, confidence=confidence)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            kmf = lifelines.KaplanMeierFitter(alpha=1 - confidence).fit(dur, obs)
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
    km = survival.kaplan_meier([1, 2, 10, 10, 10], [True, True, False, False, False])
    assert km.median == math.inf
    assert km.percentile(0.7) == 2.0
    assert km.survival_at(1.5) == pytest.approx(0.8)
    np.testing.assert_allclose(km.survival_at([0, 1, 2, 50]), [1.0, 0.8, 0.6, 0.6])
    assert "KaplanMeier(5 durations, 2 events" in repr(km)
    assert km.columns == ["time", "at_risk", "events", "censored", "survival", "lower", "upper"]
    assert km.to_json()  # inf median stays out of the table; the JSON is valid
    with pytest.raises(ValueError, match="column 'duration', row 1: value -1"):
        survival.kaplan_meier([1, -1], [1, 1])
    with pytest.raises(ValueError, match="column 'observed', row 0: value 2"):
        survival.kaplan_meier([1, 1], [2, 1])
    with pytest.raises(ValueError, match="option 'q'"):
        km.percentile(1.5)
    with pytest.warns(DeprecationWarning, match="'level' is deprecated; use 'confidence'"):
        old = survival.kaplan_meier([1, 2, 3], level=0.9)
    assert old.confidence == 0.9
    with pytest.warns(DeprecationWarning, match="KaplanMeier.level"):
        assert old.level == 0.9
    with pytest.raises(ValueError, match="option 'confidence'"):
        survival.kaplan_meier([1, 2], confidence=0)


def test_timedelta_durations_keep_their_unit():
    td = np.array([1, 2, 10, 10, 10], dtype="timedelta64[h]")
    km = survival.kaplan_meier(td, [1, 1, 0, 0, 0])
    np.testing.assert_array_equal(km.time, [3600, 7200, 36000])  # seconds: the hours read as seconds
    assert km.to_arrow().schema.field("time").metadata == {b"unit": b"s"}
    assert km.survival_at(np.timedelta64(90, "m")) == pytest.approx(0.8)
    aj = survival.aalen_johansen(pd.to_timedelta([1, 2, 3], unit="D"), [1, 2, 0])
    assert aj.incidence_at(1, pd.Timedelta(days=1)) == pytest.approx(1 / 3)
    with pytest.raises(TypeError, match="plain numbers"):
        survival.kaplan_meier([1, 2]).survival_at(np.timedelta64(1, "s"))


def test_aalen_johansen_matches_lifelines_on_random_data():
    lifelines = _lifelines()
    rng = np.random.default_rng(8)
    for _ in range(15):
        n = int(rng.integers(10, 300))
        dur = rng.exponential(30, n) + 1e-3  # continuous: no ties, so lifelines does not jitter
        out = rng.choice([0, 1, 2], size=n, p=[0.3, 0.4, 0.3])
        ours = survival.aalen_johansen(dur, out, labels=["won", "lost"])
        for k, lab in ((1, "won"), (2, "lost")):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ajf = lifelines.AalenJohansenFitter(calculate_variance=False).fit(dur, out, event_of_interest=k)
                ref = ajf.cumulative_density_.iloc[:, 0].loc[ours.time].to_numpy()
            np.testing.assert_allclose(ours.incidence[:, k - 1], ref, rtol=1e-11, atol=1e-14)
            np.testing.assert_allclose(ours[f"incidence_{lab}"], ref, rtol=1e-11, atol=1e-14)
            assert ours.final(lab) == pytest.approx(ref[-1])
        np.testing.assert_allclose(ours.incidence.sum(axis=1) + ours.survival, 1.0, atol=1e-12)


def test_aalen_johansen_band_matches_lifelines_on_random_data():
    # lifelines' variance_ and confidence_interval_ (Collett's delta method, log(-log) scale). Its
    # two interval columns are sorted here: lifelines labels the smaller bound "upper". Where the
    # last time empties the risk set lifelines divides by zero (NaN); those rows are skipped.
    lifelines = _lifelines()
    rng = np.random.default_rng(21)
    for trial in range(12):
        n = int(rng.integers(10, 300))
        dur = rng.exponential(30, n) + 1e-3
        out = rng.choice([0, 1, 2], size=n, p=[0.3, 0.4, 0.3])
        confidence = float(rng.choice([0.9, 0.95]))
        ours = survival.aalen_johansen(dur, out, labels=["won", "lost"], confidence=confidence)
        assert ours.confidence == confidence and ours.explain().options["confidence"] == confidence
        assert "delta-method" in ours.explain().definition and "F_k(t_j)" in ours.explain().definition
        for k, lab in ((1, "won"), (2, "lost")):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ajf = lifelines.AalenJohansenFitter(calculate_variance=True, alpha=1 - confidence).fit(
                    dur, out, event_of_interest=k)
                var = ajf.variance_.loc[ours.time].to_numpy()
                ci = np.sort(ajf.confidence_interval_.loc[ours.time].to_numpy(), axis=1)
            ok = np.isfinite(var)
            assert ok.sum() >= len(ok) - 1
            np.testing.assert_allclose(ours.variance[ok, k - 1], var[ok], rtol=1e-9, atol=1e-15)
            band = np.isfinite(ci).all(axis=1) & ok
            np.testing.assert_allclose(ours[f"lower_{lab}"][band], ci[band, 0], rtol=1e-9, atol=1e-13)
            np.testing.assert_allclose(ours[f"upper_{lab}"][band], ci[band, 1], rtol=1e-9, atol=1e-13)
            f = ours.incidence[:, k - 1]
            assert np.all(ours[f"lower_{lab}"] <= f + 1e-15) and np.all(ours[f"upper_{lab}"] >= f - 1e-15)
            t = ours.time[len(ours.time) // 2]
            assert ours.lower_at(lab, t) == ours[f"lower_{lab}"][len(ours.time) // 2]
            assert ours.upper_at(lab, float(ours.time[0]) / 2) == 0.0


def test_aalen_johansen_ties_and_labels():
    # Hand-worked in tests/cpp/test_survival.cpp: final won 7/12, lost 5/12.
    aj = survival.aalen_johansen([3, 1, 4, 2, 5, 3], [0, 1, 2, 2, 1, 1], labels=["won", "lost"])
    assert aj.final("won") == pytest.approx(7 / 12)
    assert aj.incidence_at("lost", 3.5) == pytest.approx(1 / 6)
    assert aj.columns == ["time", "at_risk", "censored", "events_won", "events_lost", "incidence_won",
                          "incidence_lost", "survival", "lower_won", "upper_won", "lower_lost", "upper_lost"]
    with pytest.raises(ValueError, match="option 'confidence'"):
        survival.aalen_johansen([1, 2], [1, 0], confidence=1.0)
    with pytest.raises(ValueError, match="column 'outcome', row 1: value -1"):
        survival.aalen_johansen([1, 2], [1, -1])
    with pytest.raises(ValueError, match=r"outcome 'wn' is not valid; did you mean 'won'"):
        aj.final("wn")
    # Labels for outcomes that never occur give zero columns.
    three = survival.aalen_johansen([1, 2], [1, 0], labels=["won", "lost", "disqualified"])
    assert three.final("disqualified") == 0.0 and three.incidence.shape == (2, 3)


def _durations_frame():
    rng = np.random.default_rng(12)
    n = 300
    return pd.DataFrame({"days": np.round(rng.exponential(20, n), 3), "won": rng.random(n) < 0.6,
                         "outcome": rng.choice([0, 1, 2], n)})


def test_every_input_format_gives_the_same_curves(input_format):
    df = _durations_frame()
    data = as_format(df, input_format)
    km = survival.kaplan_meier("days", "won", data=data, confidence=0.9)
    assert km.to_arrow().equals(survival.kaplan_meier(df["days"].to_numpy(), df["won"].to_numpy(),
                                                      confidence=0.9).to_arrow())
    aj = survival.aalen_johansen("days", "outcome", data=data, labels=["won", "lost"])
    ref = survival.aalen_johansen(df["days"].to_numpy(), df["outcome"].to_numpy(), labels=["won", "lost"])
    assert aj.to_arrow().equals(ref.to_arrow())
    with pytest.raises(ValueError, match=r"column 'dayz' \(option 'duration'\) is not in the input; did you mean"):
        survival.kaplan_meier("dayz", data=data)


def test_survival_results_keep_the_contract():
    km = check_contract(survival.kaplan_meier([1, 2, 10, 10, 10], [1, 1, 0, 0, 0]))
    assert km["explain"]["options"]["confidence"] == 0.95
    check_contract(survival.aalen_johansen([3, 1, 4, 2, 5, 3], [0, 1, 2, 2, 1, 1], labels=["won", "lost"]))
    check_contract(survival.kaplan_meier([]))
    assert fk.KaplanMeier is survival.KaplanMeier and fk.CumulativeIncidence is survival.CumulativeIncidence


def test_lookups_are_the_cores_and_survive_pickling():
    import pickle

    km = survival.kaplan_meier([5, 2, 4, 1, 3, 2], [1, 0, 0, 1, 1, 1], confidence=0.9)
    t = np.array([[0.5, 1.0], [2.5, 100.0]])
    # Arrays keep their shape; one number gives a float.
    assert km.survival_at(t).shape == (2, 2)
    np.testing.assert_array_equal(km.survival_at(t).ravel(), [km.survival_at(v) for v in t.ravel()])
    assert isinstance(km.survival_at(3), float)
    assert km.percentile(0.5) == km.median == 3.0
    assert km.percentile(0.01) == 5.0  # S(5) = 0
    assert survival.kaplan_meier([1, 2, 10, 10, 10], [1, 1, 0, 0, 0]).percentile(0.5) == math.inf
    with pytest.raises(ValueError, match="option 't': value NaN is not a time"):
        km.survival_at(float("nan"))  # formerly read as "after the last time"
    with pytest.raises(TypeError, match="option 't'"):
        km.survival_at("soon")
    np.testing.assert_array_equal(km.lower_at([0.5, 1.0, 2.5]), [1.0, km.lower[0], km.lower[1]])
    np.testing.assert_array_equal(km.upper_at([0.5, 100.0]), [1.0, km.upper[-1]])
    again = pickle.loads(pickle.dumps(km))
    assert again.to_arrow().equals(km.to_arrow())
    assert again.survival_at(2.5) == km.survival_at(2.5) and again.median_ci == km.median_ci
    aj = survival.aalen_johansen([3, 1, 4, 2, 5, 3], [0, 1, 2, 2, 1, 1], labels=["won", "lost"])
    back = pickle.loads(pickle.dumps(aj))
    assert back.final("won") == aj.final("won") == pytest.approx(7 / 12)
    np.testing.assert_array_equal(back.incidence_at("lost", [0, 2, 4]), aj.incidence_at("lost", [0, 2, 4]))
    assert survival.aalen_johansen([], [], labels=["won"]).final("won") == 0.0
    np.testing.assert_array_equal(aj.survival_at([0.5, 3.5, 10]), [1.0, 0.5, 0.0])
