"""Lifecycle analytics: every result against independent pandas/statsmodels/lifelines
computations, the time and name rules, every input format, the result contract and the
mergeable summary (bytes, pickles, the core's golden blob)."""

import datetime as dt
import pickle
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import funnelkit as fk
from conftest import as_format
from contract import check_contract
from row_orders import THREADS, three_orders
from funnelkit import _core
from funnelkit.lifecycle import LifecycleSummary, lifecycle

SOURCES = fk.sample_labels()["source"]
REASONS = fk.sample_labels()["reason"]
DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture(scope="module")
def crm():
    return fk.sample_crm(6_000, seed=11)


@pytest.fixture(scope="module")
def lc(crm):
    return lifecycle(crm, segment="source", reason="reason", as_of=crm.attrs["end"])


def _sorted(df):
    order = pd.Series(pd.Categorical(df["stage"]).codes, index=df.index)
    return df.assign(_o=order).sort_values(["entity", "time", "_o"], kind="stable").drop(columns="_o")


def _example():
    """The hand-worked example of tests/cpp/test_lifecycle.cpp (integer seconds, stage codes:
    Lead=0 MQL=1 SAL=2 SQL=3 Opportunity=4 Customer=5 Lost=6 Disqualified=7)."""
    rows = [(1, 10 + s, s, 0, -1) for s in range(6)]
    rows += [(2, 5, 0, 0, -1), (2, 6, 1, 0, -1), (2, 7, 7, 0, 2)]
    rows += [(3, 1, 0, 1, -1), (3, 9, 3, 1, -1), (3, 20, 6, 1, 6)]
    rows += [(4, 2, 0, 1, -1), (4, 3, 1, 1, -1), (4, 4, 2, 1, -1), (4, 5, 0, 1, -1), (4, 6, 1, 1, -1)]
    rows += [(5, 3, 0, 1, -1), (5, 8, 0, 0, -1)]
    cols = list(zip(*rows))
    return {"entity": np.array(cols[0]), "time": np.array(cols[1]), "stage": np.array(cols[2]),
            "segment": np.array(cols[3]), "reason": np.array(cols[4])}


# -- numbers against independent computations ----------------------------------------------------
def test_transitions_match_pandas(crm, lc):
    s = _sorted(crm)
    same = s["entity"].to_numpy()[1:] == s["entity"].to_numpy()[:-1]
    pairs = pd.DataFrame({"from": s["stage"].astype(str).to_numpy()[:-1][same],
                          "to": s["stage"].astype(str).to_numpy()[1:][same]})
    expected = pairs.value_counts()
    got = lc.transitions().to_pandas().set_index("from")
    for (a, b), n in expected.items():
        assert got.loc[a, b] == n
    assert got.to_numpy().sum() == len(pairs)
    assert lc.transitions().columns == ["from", *fk.StageModel.b2b().names]


def test_cohort_conversion_matches_pandas(crm, lc):
    first = crm[crm["stage"] == "Lead"].groupby("entity")["time"].min()
    month = first.dt.to_period("M")
    won = set(crm.loc[crm["stage"] == "Customer", "entity"])
    got = lc.conversion(by="cohort").to_pandas()
    for period, ents in month.groupby(month):
        rows = got[got["cohort"] == period.start_time]
        assert rows.iloc[0]["reached"] == len(ents)
        assert rows.iloc[0]["cohort_end"] == (period + 1).start_time
        cust = rows[rows["stage"] == "Customer"].iloc[0]
        assert cust["reached"] == len(set(ents.index) & won)
    # The IANA-zone path (the package's calendar) agrees with the core's fixed-offset path for UTC.
    utc = lc.conversion(by="cohort", tz="Etc/UTC")
    np.testing.assert_array_equal(utc["reached"], got["reached"].to_numpy())
    np.testing.assert_array_equal(utc["cohort"], lc.conversion(by="cohort")["cohort"])


def test_cohorts_in_a_named_time_zone_match_pandas(crm, lc):
    zone = "America/New_York"
    first = crm[crm["stage"] == "Lead"].groupby("entity")["time"].min()
    local = first.dt.tz_localize("UTC").dt.tz_convert(zone)
    start = local.dt.tz_localize(None).dt.to_period("Q").dt.start_time.dt.tz_localize(zone).dt.tz_convert("UTC")
    expected = start.dt.tz_localize(None).value_counts().sort_index()
    got = lc.conversion(by="cohort", period="quarter", tz=zone).to_pandas()
    lead = got[got["stage"] == "Lead"]
    np.testing.assert_array_equal(lead["cohort"].to_numpy(), expected.index.to_numpy())
    np.testing.assert_array_equal(lead["reached"].to_numpy(), expected.to_numpy())
    # A fixed offset of -5 hours differs from New York only in summer: same quarters, shifted by DST.
    fixed = lc.conversion(by="cohort", period="quarter", tz=-5 * 3600).to_pandas()
    assert len(fixed) == len(got)


def test_maturity_flag_and_exclude(lc):
    flagged = lc.conversion(by="cohort", maturity="90d").to_pandas()
    assert flagged["mature"].dtype == bool
    assert flagged["mature"].any() and not flagged["mature"].all()
    # Immature cohorts are the last ones: their period ended within 90 days of the end.
    last = flagged[~flagged["mature"]]["cohort"].min()
    assert flagged[flagged["cohort"] >= last]["mature"].sum() == 0
    ends = flagged["cohort_end"] + pd.Timedelta(days=90) <= pd.Timestamp(lc.as_of)
    np.testing.assert_array_equal(flagged["mature"].to_numpy(), ends.to_numpy())
    for maturity in (pd.Timedelta(days=90), dt.timedelta(days=90), np.timedelta64(90, "D"), "P90D", "2160h"):
        excluded = lc.conversion(by="cohort", maturity=maturity, immature="exclude")
        assert len(excluded) == int(flagged["mature"].sum())


def test_conversion_intervals_against_statsmodels(lc):
    from statsmodels.stats.proportion import proportion_confint

    df = lc.conversion(by="segment", interval="jeffreys", confidence=0.9).to_pandas()
    # x = n rows: DOMAIN's Jeffreys rule pins the upper bound to 1 (statsmodels does not).
    lead = df[df["stage"] == "Lead"]
    assert (lead["cum_upper"] == 1.0).all()
    inner = df[df["stage"] != "Lead"]
    for _, row in inner.sample(10, random_state=1).iterrows():
        first = df[(df["source"] == row["source"]) & (df["stage"] == "Lead")]["reached"].iloc[0]
        lo, hi = proportion_confint(row["reached"], first, alpha=0.1, method="jeffreys")
        assert row["cum_lower"] == pytest.approx(lo, abs=1e-10)
        assert row["cum_upper"] == pytest.approx(hi, abs=1e-10)
    with pytest.warns(DeprecationWarning, match="'level' is deprecated; use 'confidence'"):
        old = lc.conversion(by="segment", interval="jeffreys", level=0.9)
    np.testing.assert_array_equal(old["cum_lower"], df["cum_lower"].to_numpy())
    with pytest.raises(ValueError, match=r"option 'interval'.*did you mean 'wilson'"):
        lc.conversion(interval="wilsn")


def test_conversion_matches_plain_conversion(crm, lc):
    a = lc.conversion(by="segment")
    b = fk.conversion(crm, segment="source").to_pandas()
    b = b[b["source"] != "(all)"]
    np.testing.assert_array_equal(a["reached"], b["reached"].to_numpy())
    every = lc.conversion(passes="every")
    assert every["entities"][0] > len(lc)  # recycled entities count once per pass


def test_time_in_stage_against_lifelines(crm, lc):
    from lifelines import KaplanMeierFitter

    table = lc.time_in_stage()
    assert table.to_arrow().schema.field("median").metadata == {b"unit": b"days"}
    df = table.to_pandas()
    # Independent visit durations from the sorted records.
    s = _sorted(crm)
    end = pd.Timestamp(crm.attrs["end"])
    nxt = s.groupby("entity")["time"].shift(-1)
    mql = s[s["stage"] == "MQL"]
    done = nxt[mql.index].notna().to_numpy()
    days = ((nxt[mql.index].fillna(end) - mql["time"]).dt.total_seconds() / 86400).to_numpy()
    row = df[df["stage"] == "MQL"].iloc[0]
    assert row["visits"] == len(mql) and row["completed"] == done.sum()
    assert row["mean"] == pytest.approx(days[done].mean(), rel=1e-12)
    assert row["median"] == pytest.approx(np.median(days[done]), rel=1e-12)
    assert row["p90"] == pytest.approx(np.quantile(days[done], 0.9), rel=1e-12)
    km = KaplanMeierFitter().fit(days, done)
    assert row["km_median"] == pytest.approx(km.median_survival_time_, rel=1e-9)
    assert row["km_median_lower"] <= row["km_median"] <= row["km_median_upper"]


def test_time_to_convert_counts_and_competing_outcomes(crm, lc):
    t = lc.time_to_convert("Opportunity", "Customer", by_segment=True).to_pandas()
    overall = t.iloc[0]
    assert overall["source"] == "(all)"
    assert overall["entered"] == (crm["stage"] == "Opportunity").groupby(crm["entity"]).any().sum()
    assert overall["converted"] == crm.loc[crm["stage"] == "Customer", "entity"].nunique()
    assert overall["closed_otherwise"] == crm.loc[crm["stage"] == "Lost", "entity"].nunique()
    assert overall["converted"] + overall["closed_otherwise"] + overall["open"] == overall["entered"]
    assert 0 < overall["p_convert"] < 1 and overall["p_convert"] + overall["p_closed_otherwise"] <= 1 + 1e-12
    # With open deals censored, the probability of winning exceeds the naive won share.
    assert overall["p_convert"] >= overall["converted"] / overall["entered"]
    assert t["entered"].iloc[1:].sum() == overall["entered"]
    # The same numbers as the stats functions on the same durations.
    aj = fk.aalen_johansen(*_ttc_durations(crm), labels=["convert", "closed_otherwise"])
    assert overall["p_convert"] == pytest.approx(aj.final("convert"), rel=1e-12)


def _ttc_durations(crm):
    """Days from Opportunity to Customer (1) or Lost (2), or to the end (0), from the records."""
    end = pd.Timestamp(crm.attrs["end"])
    g = crm.groupby(["entity", "stage"], observed=True)["time"].min().unstack()
    opp = g["Opportunity"].dropna()
    won, lost = g["Customer"].reindex(opp.index), g["Lost"].reindex(opp.index)
    stop = won.fillna(lost).fillna(end)
    outcome = np.where(won.notna(), 1, np.where(lost.notna(), 2, 0))
    return ((stop - opp).dt.total_seconds() / 86400).to_numpy(), outcome


def test_exits_reasons_histories(crm, lc):
    ex = lc.exits()
    assert list(ex["stage"]) == ["Lead", "MQL", "SAL", "SQL", "Opportunity"]
    assert ex["won"].sum() == crm.loc[crm["stage"] == "Customer", "entity"].nunique()
    assert ex["total"].sum() == len(lc)
    rs = lc.reasons()
    assert rs["count"].sum() == crm["stage"].isin(["Lost", "Disqualified"]).sum()
    assert set(rs["reason"]) <= set(REASONS)
    h = lc.histories().to_pandas()
    assert len(h) == crm["entity"].nunique()
    assert (h["status"] == "won").sum() == ex["won"].sum()
    assert h.loc[h["recycles"] > 0].shape[0] > 0
    assert h["entered_Lead"].notna().all()
    assert str(h["since"].dtype).startswith("datetime64")
    first_mql = crm[crm["stage"] == "MQL"].groupby("entity")["time"].min()
    got = h.set_index("entity")["entered_MQL"].dropna()
    np.testing.assert_array_equal(got.sort_index().to_numpy(), first_mql.sort_index().to_numpy())


def test_stuck(lc):
    fixed = lc.stuck(limit={"MQL": "3d"}, percentile=0)
    assert set(fixed["stage"]) == {"MQL"}
    assert (fixed["age_days"] > 3).all() and (fixed["limit_days"] == 3).all()
    assert (np.diff(fixed["over_days"]) <= 0).all()
    assert str(fixed["entered"].dtype).startswith("datetime64")
    pct = lc.stuck(percentile=90).to_pandas()
    tis = lc.time_in_stage().to_pandas().set_index("stage")
    for stage, lim in pct.groupby("stage", observed=True)["limit_days"].first().items():
        assert lim == pytest.approx(tis.loc[stage, "p90"], rel=1e-12)
    assert len(lc.stuck(limit={"MQL": dt.timedelta(days=3)}, percentile=0)) == len(fixed)
    with pytest.raises(ValueError, match="must be positive"):
        lc.stuck(limit={"MQL": "-1d"})
    with pytest.raises(TypeError, match=r"option 'limit\['MQL'\]': a bare number \(3\) is ambiguous"):
        lc.stuck(limit={"MQL": 3})
    with pytest.raises(ValueError, match=r"option 'limit': stage 'MQLL' is not valid; did you mean 'MQL'"):
        lc.stuck(limit={"MQLL": "1d"})
    with pytest.raises(ValueError, match="option 'percentile'"):
        lc.stuck(percentile=120)


# -- time -----------------------------------------------------------------------------------------
def test_as_of_is_a_timestamp(crm):
    ref = lifecycle(crm, as_of=crm.attrs["end"]).summary()
    for as_of in ("2024-12-31", dt.datetime(2024, 12, 31), pd.Timestamp("2024-12-31"), np.datetime64("2024-12-31"),
                  dt.datetime(2024, 12, 31, 1, tzinfo=dt.timezone(dt.timedelta(hours=1)))):
        other = lifecycle(crm, as_of=as_of)
        assert other.as_of == np.datetime64("2024-12-31T00:00:00", "ns")
        assert other.summary() == ref
    with pytest.raises(TypeError, match=r"option 'as_of': a bare number \(1735603200\) is ambiguous"):
        lifecycle(crm, as_of=1735603200)
    with pytest.raises(ValueError, match=r"option 'as_of': value '2024-01-01' is earlier than the record"):
        lifecycle(crm, as_of="2024-01-01")


def test_integer_time_columns_take_ticks_or_durations():
    crm = fk.sample_crm(1500, seed=4)
    secs = crm.assign(time=crm["time"].astype("int64"))
    end = crm.attrs["end_epoch_s"]
    dt_lc = lifecycle(crm, as_of=crm.attrs["end"])
    int_lc = lifecycle(secs, as_of=end)
    ms_lc = lifecycle(secs.assign(time=secs["time"] * 1000), as_of=end * 1000, time_unit="ms")
    for other in (int_lc, ms_lc):
        np.testing.assert_allclose(other.time_in_stage()["median"], dt_lc.time_in_stage()["median"], rtol=1e-12)
        a = other.conversion(by="cohort", maturity="60d")
        b = dt_lc.conversion(by="cohort", maturity="60d")
        np.testing.assert_array_equal(a["mature"], b["mature"])
        np.testing.assert_array_equal(a["reached"], b["reached"])
    # Bare numbers are ticks of an integer column: 60 days in seconds, in milliseconds.
    np.testing.assert_array_equal(int_lc.conversion(by="cohort", maturity=60 * 86_400)["mature"],
                                  ms_lc.conversion(by="cohort", maturity=60 * 86_400_000)["mature"])
    assert len(int_lc.stuck(limit={"SAL": 3 * 86_400}, percentile=0)) == \
        len(dt_lc.stuck(limit={"SAL": "3d"}, percentile=0))
    assert int_lc.conversion(by="cohort")["cohort"].dtype == np.int64
    with pytest.raises(ValueError, match="option 'maturity': value '500ms' is not a whole number of seconds"):
        int_lc.conversion(by="cohort", maturity="500ms")
    with pytest.raises(ValueError, match="option 'maturity' applies to cohorts"):
        int_lc.conversion(maturity="1d")


# -- names -----------------------------------------------------------------------------------------
def test_stage_and_segment_names_are_checked(lc):
    with pytest.raises(ValueError, match=r"option 'from_stage': stage 'Oportunity' is not valid; did you mean "
                                         r"'Opportunity'"):
        lc.time_to_convert("Oportunity", "Customer")
    with pytest.raises(ValueError, match=r"option 'to_stage'.*did you mean 'Customer'"):
        lc.time_to_convert("Lead", "Costumer")
    with pytest.raises(ValueError, match=r"option 'cohort_stage'.*did you mean 'SQL'"):
        lc.conversion(by="cohort", cohort_stage="SQLL")
    with pytest.raises(ValueError, match=r"option 'by'.*did you mean 'cohort'"):
        lc.conversion(by="cohrt")
    with pytest.raises(ValueError, match=r"option 'immature'.*did you mean 'exclude'"):
        lc.conversion(by="cohort", maturity="30d", immature="exclud")
    summary = lc.summary()
    with pytest.raises(ValueError, match=r"option 'segment': segment 'Webinr' is not valid; did you mean 'Webinar'"):
        summary.time_in_stage("MQL", "Webinr")
    with pytest.raises(ValueError, match=r"did you mean 'SAL'"):
        summary.time_in_stage("SAl")
    assert lc.time_to_convert(4, 5)["converted"][0] == lc.time_to_convert("Opportunity", "Customer")["converted"][0]


# -- inputs and results ------------------------------------------------------------------------------
def _all_results(data, end):
    lc = lifecycle(data, segment="source", reason="reason", as_of=end)
    return {
        "histories": lc.histories(),
        "conversion": lc.conversion(by=["cohort", "segment"], tz="Europe/Berlin", maturity="30d"),
        "conversion_utc": lc.conversion(by="cohort", period="week"),
        "transitions": lc.transitions(),
        "exits": lc.exits(by_segment=True),
        "reasons": lc.reasons(by_segment=True),
        "time_in_stage": lc.time_in_stage(by_segment=True),
        "time_to_convert": lc.time_to_convert("SQL", "Customer", by_segment=True),
        "stuck": lc.stuck(limit={"MQL": "2d"}),
        "summary": lc.summary(),
        "summary_transitions": lc.summary().transitions(),
        "summary_conversion": lc.summary().conversion(),
    }


def test_every_input_format_gives_the_same_lifecycle(input_format):
    crm = fk.sample_crm(2000, seed=3)
    ref = _all_results(crm, crm.attrs["end"])
    got = _all_results(as_format(crm, input_format), crm.attrs["end"])
    for key, table in ref.items():
        assert got[key].to_arrow().equals(table.to_arrow()), key
    assert got["summary"] == ref["summary"]


def test_every_lifecycle_result_keeps_the_contract():
    crm = fk.sample_crm(1500, seed=8)
    for key, result in _all_results(crm, crm.attrs["end"]).items():
        check_contract(result)
    check_contract(lifecycle(_example(), as_of=30).summary())
    check_contract(lifecycle(crm, segment="source", as_of=crm.attrs["end"]).summary().time_in_stage("MQL", "Webinar"))


def test_results_are_tables_not_dataframes(lc):
    for result in (lc.histories(), lc.conversion(), lc.transitions(), lc.exits(), lc.reasons(), lc.time_in_stage(),
                   lc.time_to_convert("Lead", "Customer"), lc.stuck()):
        assert isinstance(result, fk.Table) and not isinstance(result, pd.DataFrame)
        assert len(result.explain().definition) > 40


def test_pandas_is_not_needed_for_dict_and_arrow_input():
    code = """
import importlib.abc, sys

class NoPandas(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] == "pandas":
            raise ImportError("pandas is not installed")

sys.meta_path.insert(0, NoPandas())
import numpy as np, pyarrow as pa
import funnelkit as fk
from funnelkit import stats
d = {"entity": np.array([1, 1, 1, 2, 2, 3]), "stage": np.array(["Lead", "MQL", "SAL", "Lead", "Lost", "Lead"], dtype=object),
     "time": np.array(["2024-01-01", "2024-01-03", "2024-02-01", "2024-01-02", "2024-03-01", "2024-03-02"],
                      dtype="datetime64[s]"), "source": np.array(["a", "a", "a", "b", "b", "a"], dtype=object)}
for data in (d, pa.table(d)):
    lc = fk.lifecycle(data, segment="source", as_of="2024-04-01")
    for t in (lc.histories(), lc.conversion(by=["cohort", "segment"], tz="Europe/Berlin", maturity="7d"),
              lc.transitions(), lc.exits(), lc.time_in_stage(by_segment=True),
              lc.time_to_convert("Lead", "SAL"), lc.stuck(limit={"MQL": "1d"}), lc.summary()):
        t.to_arrow(); t.to_json(); repr(t)
stats.rate_intervals([1, 2], [5, 5]).to_json()
stats.compare_to_baseline([1, 2], [5, 5]).to_json()
stats.kaplan_meier([1, 2, 3], [1, 0, 1]).to_json()
stats.aalen_johansen([1, 2, 3], [1, 2, 0]).to_json()
stats.describe_durations([1.0, 2.0], ["x", "y"]).to_json()
stats.DurationSummary([1.0, 2.0]).to_json()
assert "pandas" not in sys.modules
print("ok")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


# -- the mergeable summary ---------------------------------------------------------------------------
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 500), cut=st.floats(0.05, 0.95))
def test_summary_merge_shuffle_pickle(seed, cut):
    df = fk.sample_crm(600, seed=seed)
    end = df.attrs["end"]
    kw = dict(segment="source", segment_categories=SOURCES, reason="reason", reason_categories=REASONS, as_of=end)
    whole = lifecycle(df, **kw).summary()
    shuffled = df.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    assert lifecycle(shuffled, **kw).summary() == whole
    k = int(cut * 600)
    a = lifecycle(df[df["entity"] < k], **kw).summary()
    b = lifecycle(df[df["entity"] >= k], **kw).summary()
    assert a + b == whole and b + a == whole
    assert pickle.loads(pickle.dumps(whole)) == whole
    assert fk.restore(whole.to_bytes()) == whole
    assert whole.conversion() == fk.conversion(df, segment="source", segment_categories=SOURCES)


def test_summary_merge_refuses_parts_that_mean_different_things():
    crm = fk.sample_crm(800, seed=6)
    secs = crm.assign(time=crm["time"].astype("int64"))
    s = lifecycle(secs).summary()
    ms = lifecycle(secs.assign(time=secs["time"] * 1000), time_unit="ms").summary()
    with pytest.raises(ValueError, match=r"different 'time_unit': 's' vs 'ms'"):
        s + ms
    with pytest.raises(ValueError, match=r"different 'passes': 'first' vs 'every'"):
        s + lifecycle(secs).summary(passes="every")
    with pytest.raises(ValueError, match=r"different 'skipped'"):
        s.merge(lifecycle(secs).summary(skipped="recorded"))
    other_model = fk.StageModel([("Lead", "marketing", "step"), ("MQL", "marketing", "step"),
                                 ("SAL", "sales", "step"), ("SQL", "sales", "step"),
                                 ("Opportunity", "sales", "step"), ("Customer", "sales", "won"),
                                 ("Lost", "sales", "lost"), ("Disqualified", "marketing", "disqualified")])
    with pytest.raises(ValueError, match=r"different 'model'"):
        s + lifecycle(secs, model=other_model).summary()
    a = lifecycle(crm[crm["entity"] < 300], segment="source").summary()
    b = lifecycle(crm[crm["entity"] >= 300], segment="source").summary()
    if a.segments != b.segments:
        with pytest.raises(ValueError, match="segment_categories"):
            a + b
    with pytest.raises(TypeError, match="cannot merge a LifecycleSummary with a DurationSummary"):
        s.merge(fk.DurationSummary([1.0]))
    # The bytes carry the labels: a restored part still refuses.
    with pytest.raises(ValueError, match="'time_unit'"):
        fk.restore(s.to_bytes()) + fk.restore(ms.to_bytes())


def test_golden_blob_of_the_core_still_loads():
    golden = (DATA / "lifecycle_summary_v1.bin").read_bytes()
    state = _core.LifecycleSummary.deserialize(golden)
    lc = lifecycle(_example(), segment="segment", reason="reason", as_of=30)
    summary = lc.summary()
    # A format-1 blob holds the same counts and durations; format 2 also records the definitions
    # (model fingerprint, reach options, time unit), which the old blob leaves unknown.
    wrapped = LifecycleSummary.from_core_bytes(golden, time_unit="s", segment_name="segment", segments=[0, 1],
                                               reasons=list(range(7)))
    assert wrapped.to_arrow().equals(summary.to_arrow())
    assert wrapped.transitions().to_arrow().equals(summary.transitions().to_arrow())
    assert wrapped.time_in_stage("Lead").count == 6  # completed Lead visits: 1, 1, 8, 1, 1, 5
    assert wrapped.time_in_stage("Lead").unit == "s"
    assert fk.restore(wrapped.to_bytes()).to_arrow().equals(summary.to_arrow())
    assert _core.LifecycleSummary.deserialize(summary._state.serialize()) == summary._state
    with pytest.raises(ValueError, match="corrupted LifecycleSummary state"):
        LifecycleSummary.from_core_bytes(golden[:40])


def test_pickles_of_this_release_keep_loading():
    stored = pickle.loads((DATA / "lifecycle_summary_v1.pickle").read_bytes())  # core state format 1 inside
    assert stored.to_arrow().equals(lifecycle(_example(), segment="segment", reason="reason", as_of=30).summary()
                                    .to_arrow())
    assert (stored.time_unit, stored.segments, stored.passes) == ("s", [0, 1], "first")


def test_hand_worked_example_in_every_table():
    lc = lifecycle(_example(), segment="segment", reason="reason", as_of=30)
    h = lc.histories().to_dict()
    assert h["status"] == ["won", "disqualified", "lost", "open", "open"]
    assert h["skipped"][2] == "MQL,SAL"
    assert h["recycles"] == [0, 0, 0, 1, 0]
    assert h["entered_MQL"] == [11, 6, None, 3, None]  # integer ticks, null when never
    assert lc.time_in_stage()["completed"][0] == 6
    table = lc.summary().to_pandas()
    lead = table[(table["segment"] == "(all)") & (table["stage"] == "Lead")].iloc[0]
    assert lead["completed"] == 6
    assert lead["median_days"] == pytest.approx(1 / 86_400)


def test_integer_times_and_string_ids():
    d = {"entity": np.array(["a", "a", "b", "b", "b"], dtype=object),
         "time": np.array([0, 86_400_000, 0, 1000, 172_800_000]),
         "stage": np.array(["Lead", "MQL", "Lead", "MQL", "Disqualified"], dtype=object)}
    lc = lifecycle(d, time_unit="ms")
    h = lc.histories()
    assert list(h["entity"]) == ["a", "b"]
    assert list(h["status"]) == ["open", "disqualified"]
    t = lc.time_in_stage().to_pandas().set_index("stage")
    assert t.loc["Lead", "max"] == pytest.approx(1.0)  # a: one day in Lead
    assert t.loc["MQL", "completed"] == 1 and t.loc["MQL", "open"] == 1
    stuck = lc.stuck(limit={"MQL": 1}, percentile=0)  # one tick: a millisecond
    assert list(stuck["entity"]) == ["a"] and stuck["age_days"][0] == pytest.approx(1.0)
    assert list(stuck["entered"]) == [86_400_000]


def test_bad_input():
    d = {"entity": np.arange(3), "time": np.array([5, 6, 7]), "stage": np.array([0, 1, 2])}
    with pytest.raises(ValueError, match="option 'as_of': value 6 is earlier than the record at row 2"):
        lifecycle(d, as_of=6)
    with pytest.raises(ValueError, match="option 'time_unit'"):
        lifecycle(d, time_unit="minutes")
    with pytest.raises(ValueError, match="column 'reason', row 1"):
        lifecycle({**d, "reason": np.array([0, -5, 1])}, reason="reason")
    lc = lifecycle(d)
    with pytest.raises(ValueError, match="option 'by'"):
        lc.conversion(by="campaign")
    with pytest.raises(ValueError, match="needs a segment column"):
        lc.conversion(by="segment")
    with pytest.raises(ValueError, match="needs a segment column"):
        lc.exits(by_segment=True)
    with pytest.raises(ValueError, match="option 'period'"):
        lc.conversion(by="cohort", period="fortnight")
    with pytest.raises(ValueError, match=r"did you mean 'week'"):
        lc.conversion(by="cohort", period="W")
    with pytest.raises(ValueError, match="option 'tz'.*did you mean 'Europe/Berlin'"):
        lc.conversion(by="cohort", tz="Europe/Berln")
    with pytest.raises(ValueError, match="reason column"):
        lc.reasons()
    with pytest.raises(ValueError, match="option 'passes'"):
        lc.conversion(passes="some")
    with pytest.raises(ValueError, match="option 'confidence'"):
        lc.time_in_stage(confidence=95)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lc.time_to_convert("Lead", "SAL", confidence=0.9)
    with pytest.warns(DeprecationWarning, match="use 'confidence'"):
        lc.time_to_convert("Lead", "SAL", level=0.9)
    with pytest.warns(DeprecationWarning, match="use 'confidence'"):
        lc.time_in_stage(level=0.9)


# -- the tables are the core's -------------------------------------------------------------------------
def test_tables_are_the_cores_in_days(lc):
    per_day = 86_400 * 1e9  # datetime input: nanosecond ticks
    core = lc._h.tabulate_time_in_stage(_core.LifecycleTableOptions(by_segment=True, n_segments=len(SOURCES),
                                                                    confidence=0.9))
    table = lc.time_in_stage(by_segment=True, confidence=0.9)
    for key in ("mean", "median", "p90", "km_median", "km_median_upper"):
        np.testing.assert_array_equal(table[key], core[key] / per_day)
    ttc = lc._h.tabulate_time_to_convert(4, 5, _core.LifecycleTableOptions())
    assert lc.time_to_convert("Opportunity", "Customer")["p_convert"][0] == ttc["p_convert"][0]
    exits = _core.tabulate_exits(lc._h.flow(), lc.model._m, _core.LifecycleTableOptions())
    np.testing.assert_array_equal(lc.exits()["won_share"], exits["won_share"])


def test_segments_without_entities_get_rows_of_zeros():
    # Fixed segment categories with one that no entity has: every per-segment table lists it
    # (exits and reasons formerly failed with an IndexError).
    crm = fk.sample_crm(400, seed=2)
    cats = [*SOURCES, "Partner"]
    lc = lifecycle(crm, segment="source", segment_categories=cats, reason="reason", as_of=crm.attrs["end"])
    ex = lc.exits(by_segment=True).to_pandas()
    partner = ex[ex["source"] == "Partner"]
    assert len(partner) == 5 and (partner["total"] == 0).all() and partner["open_share"].isna().all()
    tis = lc.time_in_stage(by_segment=True).to_pandas()
    assert (tis[tis["source"] == "Partner"]["visits"] == 0).all()
    ttc = lc.time_to_convert("Lead", "MQL", by_segment=True).to_pandas()
    assert ttc[ttc["source"] == "Partner"]["entered"].tolist() == [0]
    assert "Partner" not in set(lc.reasons(by_segment=True)["source"])


def test_maturity_never_overflows():
    # A maturity of ~292 years in nanoseconds: end + maturity leaves the int64 range. numpy
    # arithmetic wrapped around and called such cohorts mature; the core's rule does not.
    crm = fk.sample_crm(300, seed=1)
    secs = crm.assign(time=crm["time"].astype("int64") * 1_000_000_000)
    lc = lifecycle(secs, time_unit="ns", as_of=crm.attrs["end_epoch_s"] * 1_000_000_000)
    huge = np.iinfo(np.int64).max - 10
    assert not lc.conversion(by="cohort", maturity=huge)["mature"].any()
    at_once = lc.conversion(by="cohort", maturity=0)
    np.testing.assert_array_equal(at_once["mature"], at_once["cohort_end"] <= lc.as_of)
    assert at_once["mature"].any()


def test_visits_and_conversion_times_hand_worked():
    """The durations behind time_in_stage and time_to_convert, on three entities worked by hand
    (integer seconds; one day = 86,400)."""
    day = 86_400
    data = {"entity": np.array([1, 1, 1, 2, 2, 3]),
            "time": np.array([0, 2 * day, 5 * day, 0, 3 * day, 1 * day]),
            "stage": np.array(["Lead", "MQL", "Customer", "Lead", "Lost", "Lead"], dtype=object)}
    lc = lifecycle(data, as_of=10 * day)
    v = lc.visits()
    check_contract(v)
    got = sorted(zip(v["entity"].tolist(), v["stage"].tolist(), v["days"].tolist(), v["completed"].tolist()))
    assert got == [(1, "Lead", 2.0, True), (1, "MQL", 3.0, True), (2, "Lead", 3.0, True), (3, "Lead", 9.0, False)]
    assert v.explain().inputs["as_of"] == 10 * day
    t = lc.conversion_times("Lead", "Customer")
    check_contract(t)
    assert sorted(zip(t["entity"].tolist(), t["days"].tolist(), t["outcome"].tolist())) == \
        [(1, 5.0, 1), (2, 3.0, 2), (3, 9.0, 0)]
    assert t.explain().options == {"from_stage": "Lead", "to_stage": "Customer"}
    with pytest.raises(ValueError, match="did you mean"):
        lc.conversion_times("Lead", "Custmer")


def test_visits_and_conversion_times_give_the_tabulated_summaries(crm, lc):
    """Kaplan-Meier and Aalen-Johansen over these durations reproduce time_in_stage and
    time_to_convert; entity ids are the input's."""
    v = lc.visits().to_pandas()
    assert set(v["entity"]) <= set(crm["entity"])
    tis = lc.time_in_stage().to_pandas().set_index("stage")
    for stage in ("Lead", "MQL", "SQL"):
        one = v[v["stage"] == stage]
        assert len(one) == tis.loc[stage, "visits"] and (~one["completed"]).sum() == tis.loc[stage, "open"]
        km = fk.kaplan_meier(one["days"].to_numpy(), one["completed"].to_numpy())
        assert km.median == pytest.approx(tis.loc[stage, "km_median"], rel=1e-12)
    t = lc.conversion_times("Lead", "Customer")
    ttc = lc.time_to_convert("Lead", "Customer").to_dict("records")[0]
    assert len(t) == ttc["entered"] and int((t["outcome"] == 1).sum()) == ttc["converted"]
    aj = fk.aalen_johansen(t["days"], t["outcome"], labels=["won", "lost"])
    assert aj.final("won") == pytest.approx(ttc["p_convert"], rel=1e-12)
    assert aj.final("lost") == pytest.approx(ttc["p_closed_otherwise"], rel=1e-12)


# -- row order and threads ---------------------------------------------------------------------
def test_lifecycle_threads_and_row_order_give_identical_results():
    crm = fk.sample_crm(12_000, seed=3)
    assert len(crm) > 3 * 8192  # every thread gets rows
    ref = None
    for name, df in three_orders(crm).items():
        for threads in THREADS:
            lc_ = lifecycle(df, segment="source", reason="reason", as_of=crm.attrs["end"], threads=threads)
            got = (lc_.summary(), lc_.histories().to_pandas(), lc_.transitions().to_pandas(),
                   lc_.time_in_stage().to_pandas())
            if ref is None:
                ref = got
                continue
            assert got[0] == ref[0], (name, threads)
            for a, b in zip(got[1:], ref[1:]):
                pd.testing.assert_frame_equal(a, b, obj=f"{name}, {threads} threads")
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="option 'threads'"):
            lifecycle(crm, threads=bad)


def test_empty_records_report_no_observation_end():
    """With no records and no as_of there is no observation end: as_of is None, not the epoch;
    a given as_of is kept."""
    empty = fk.sample_crm(50, seed=1).iloc[:0]
    lc = fk.lifecycle(empty)
    assert len(lc) == 0 and lc.as_of is None
    assert "no records" in repr(lc) and "1970" not in repr(lc)
    given = fk.lifecycle(empty, as_of="2024-06-30")
    assert given.as_of == np.datetime64("2024-06-30T00:00:00")
    assert "as of 2024-06-30" in repr(given)
