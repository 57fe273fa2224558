"""Mergeable duration summaries against numpy, the state contract (merge, bytes with the unit,
the core's golden blob, pickles), per-segment tables and every input format."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import funnelkit as fk
from conftest import as_format
from contract import check_contract
from funnelkit import accumulators

DATA = Path(__file__).resolve().parents[1] / "data"


def test_duration_summary_matches_numpy():
    rng = np.random.default_rng(9)
    for n in (1, 2, 3, 10, 101, 5000):
        v = rng.lognormal(3, 1.5, n)
        s = accumulators.DurationSummary(v).stats()
        assert s["count"] == n
        assert s["mean"] == pytest.approx(v.mean(), rel=1e-12)
        assert s["median"] == np.median(v)
        assert s["p90"] == np.quantile(v, 0.9)
        assert s["min"] == v.min() and s["max"] == v.max()
    for q in (0.0, 0.1, 0.25, 0.5, 0.75, 0.95, 1.0):
        assert accumulators.DurationSummary(v).quantile(q) == np.quantile(v, q)


def test_duration_summary_state_contract():
    rng = np.random.default_rng(10)
    v = np.floor(rng.exponential(86400 * 3, 20000))  # integer seconds: sums are exact
    whole = accumulators.DurationSummary(v, unit="s")
    parts = [accumulators.DurationSummary(v[i::4], unit="s") for i in range(4)]
    merged = parts[3] + parts[1] + parts[0] + parts[2]
    assert merged == whole
    assert merged.to_bytes() == whole.to_bytes()
    assert pickle.loads(pickle.dumps(whole)) == whole
    assert fk.restore(whole.to_bytes()).unit == "s"
    assert accumulators.DurationSummary().stats()["median"] is None
    lean = accumulators.DurationSummary(v, keep_values=False, unit="s")
    assert lean.stats()["median"] is None and lean.stats()["mean"] == whole.stats()["mean"]
    assert not lean.keeps_values and (lean + whole).stats()["median"] is None
    with pytest.raises(ValueError, match="column 'duration', row 1: value NaN"):
        accumulators.DurationSummary([1.0, float("nan")])
    with pytest.raises(ValueError, match="wrong magic number"):
        accumulators.DurationSummary.from_bytes(b"XXXX\x01\x00")
    with pytest.raises(ValueError, match="different 'unit': s vs days"):
        whole + accumulators.DurationSummary([1.0], unit="days")
    with pytest.raises(ValueError, match="checksum"):
        blob = bytearray(whole.to_bytes())
        blob[-9] ^= 1
        accumulators.DurationSummary.from_bytes(bytes(blob))


def test_golden_blob_of_the_core_still_loads():
    golden = accumulators.DurationSummary.from_bytes((DATA / "duration_summary_v1.bin").read_bytes())
    assert golden == accumulators.DurationSummary([3, 1, 4, 1, 5, 9, 2, 6])
    assert golden.unit is None
    assert fk.restore(golden.to_bytes()) == golden


def test_pickles_of_this_release_keep_loading():
    stored = pickle.loads((DATA / "duration_summary_v1.pickle").read_bytes())
    assert stored == accumulators.DurationSummary([3, 1, 4, 1, 5, 9, 2, 6], unit="days")


def test_timedeltas_fill_in_the_summary_unit():
    td = accumulators.DurationSummary(np.array([1, 2, 3], dtype="timedelta64[h]"))
    assert td.unit == "s" and td.stats()["median"] == 7200.0
    days = accumulators.DurationSummary(pd.to_timedelta([12, 36], unit="h"), unit="days")
    assert days.stats()["mean"] == pytest.approx(1.0)
    days.fill([2.0])  # numbers are in the summary's unit
    assert days.stats()["max"] == 2.0
    assert days.to_arrow().schema.field("mean").metadata == {b"unit": b"days"}
    plain = accumulators.DurationSummary([1.0])
    with pytest.raises(TypeError, match="plain numbers"):
        plain.fill(np.array([1], dtype="timedelta64[s]"))
    with pytest.raises(TypeError, match="cannot convert timedeltas to the summary's unit 'visits'"):
        accumulators.DurationSummary(unit="visits").fill(np.array([1], dtype="timedelta64[s]"))


def test_describe_durations_by_segment():
    rng = np.random.default_rng(11)
    v = rng.exponential(5, 3000)
    g = rng.choice(["email", "webinar", "ads"], 3000)
    ours = accumulators.describe_durations(v, g, name="source", unit="days")
    ref = pd.DataFrame({"v": v, "g": g}).groupby("g")["v"]
    assert list(ours["source"]) == ["ads", "email", "webinar"]
    np.testing.assert_array_equal(ours["count"], ref.count().to_numpy())
    np.testing.assert_allclose(ours["mean"], ref.mean().to_numpy(), rtol=1e-12)
    np.testing.assert_array_equal(ours["median"], ref.median().to_numpy())
    np.testing.assert_array_equal(ours["p90"], ref.quantile(0.9).to_numpy())
    assert ours.to_arrow().schema.field("p90").metadata == {b"unit": b"days"}
    overall = accumulators.describe_durations(v)
    assert overall.columns == ["count", "mean", "median", "p90", "min", "max"] and overall["count"][0] == 3000
    with pytest.warns(DeprecationWarning, match="'by' is deprecated; use 'segment'"):
        old = accumulators.describe_durations(v, by=g)
    np.testing.assert_array_equal(old["mean"], ours["mean"])
    with pytest.raises(ValueError, match="has 2 rows but column 'duration' has 3000"):
        accumulators.describe_durations(v, ["a", "b"])


def test_every_input_format_gives_the_same_summaries(input_format):
    rng = np.random.default_rng(13)
    df = pd.DataFrame({"days": np.round(rng.exponential(5, 500), 4), "source": rng.choice(["a", "b", "c"], 500)})
    data = as_format(df, input_format)
    got = accumulators.describe_durations("days", "source", data=data, unit="days")
    ref = accumulators.describe_durations(df["days"].to_numpy(), df["source"].to_numpy(), name="source", unit="days")
    assert got.to_arrow().equals(ref.to_arrow())
    assert got.columns[0] == "source"


def test_accumulator_results_keep_the_contract():
    check_contract(accumulators.DurationSummary([3, 1, 4, 1, 5], unit="days"))
    check_contract(accumulators.DurationSummary())
    check_contract(accumulators.describe_durations([1.0, 2.0, 4.0], ["x", "y", "x"], unit="hours"))
    check_contract(accumulators.describe_durations([1.0, 2.0, 4.0]))
    assert isinstance(fk.DurationSummary([1.0]), fk.Mergeable)


def test_describe_durations_per_segment_is_one_core_call():
    from funnelkit import _core

    d = np.array([4.0, 1.0, 3.0, 2.0, 8.0])
    seg = np.array(["b", "a", "b", "a", "c"], dtype=object)
    table = accumulators.describe_durations(d, seg)
    states = _core.summarize_durations(d, np.array([1, 0, 1, 0, 2], dtype=np.int32), 3)
    assert [s.stats()["mean"] for s in states] == list(table["mean"]) == [1.5, 3.5, 8.0]
    # A bad value is reported at its row of the input, not of its segment.
    with pytest.raises(ValueError, match="column 'duration', row 3: value NaN"):
        accumulators.describe_durations([1.0, 2.0, 3.0, float("nan")], ["a", "b", "a", "b"])
