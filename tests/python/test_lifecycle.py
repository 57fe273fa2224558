import pickle

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import funnelkit as fk
from funnelkit.lifecycle import lifecycle

SOURCES = fk.sample_labels()["source"]


@pytest.fixture(scope="module")
def crm():
    return fk.sample_crm(6_000, seed=11)


@pytest.fixture(scope="module")
def lc(crm):
    return lifecycle(crm, segment="source", reason="reason", as_of=crm.attrs["end"])


def _sorted(df):
    order = pd.Series(pd.Categorical(df["stage"]).codes, index=df.index)
    return df.assign(_o=order).sort_values(["entity", "time", "_o"], kind="stable").drop(columns="_o")


def test_transitions_match_pandas(crm, lc):
    s = _sorted(crm)
    same = s["entity"].to_numpy()[1:] == s["entity"].to_numpy()[:-1]
    pairs = pd.DataFrame({"from": s["stage"].astype(str).to_numpy()[:-1][same],
                          "to": s["stage"].astype(str).to_numpy()[1:][same]})
    expected = pairs.value_counts()
    got = lc.transitions()
    for (a, b), n in expected.items():
        assert got.loc[a, b] == n
    assert got.to_numpy().sum() == len(pairs)


def test_cohort_conversion_matches_pandas(crm, lc):
    first = crm[crm["stage"] == "Lead"].groupby("entity")["time"].min()
    month = first.dt.to_period("M")
    won = set(crm.loc[crm["stage"] == "Customer", "entity"])
    got = lc.conversion(by="cohort")
    for period, ents in month.groupby(month):
        rows = got[got["cohort"] == period.start_time]
        assert rows.iloc[0]["reached"] == len(ents)
        cust = rows[rows["stage"] == "Customer"].iloc[0]
        assert cust["reached"] == len(set(ents.index) & won)
    # The named-zone path agrees with the fixed-offset path for UTC.
    utc = lc.conversion(by="cohort", tz="Etc/UTC")
    np.testing.assert_array_equal(utc["reached"].to_numpy(), got["reached"].to_numpy())


def test_maturity_flag_and_exclude(lc):
    flagged = lc.conversion(by="cohort", maturity=90)
    assert flagged["mature"].dtype == bool
    assert flagged["mature"].any() and not flagged["mature"].all()
    # Immature cohorts are the last ones: their period ended within 90 days of the end.
    last = flagged[~flagged["mature"]]["cohort"].min()
    assert flagged[flagged["cohort"] >= last]["mature"].sum() == 0
    excluded = lc.conversion(by="cohort", maturity=pd.Timedelta(days=90), immature="exclude")
    assert len(excluded) == int(flagged["mature"].sum())


def test_conversion_intervals_against_statsmodels(lc):
    from statsmodels.stats.proportion import proportion_confint

    df = lc.conversion(by="segment", interval="jeffreys", level=0.9)
    # x = n rows: DOMAIN's Jeffreys rule pins the upper bound to 1 (statsmodels does not).
    lead = df[df["stage"] == "Lead"]
    assert (lead["cum_upper"] == 1.0).all()
    inner = df[df["stage"] != "Lead"]
    for _, row in inner.sample(10, random_state=1).iterrows():
        first = df[(df["source"] == row["source"]) & (df["stage"] == "Lead")]["reached"].iloc[0]
        lo, hi = proportion_confint(row["reached"], first, alpha=0.1, method="jeffreys")
        assert row["cum_lower"] == pytest.approx(lo, abs=1e-10)
        assert row["cum_upper"] == pytest.approx(hi, abs=1e-10)


def test_conversion_matches_plain_conversion(crm, lc):
    a = lc.conversion(by="segment")
    b = fk.conversion(crm, segment="source").without_overall().to_pandas()
    np.testing.assert_array_equal(a["reached"].to_numpy(), b["reached"].to_numpy())
    every = lc.conversion(passes="every")
    assert every.iloc[0]["entities"] > len(lc)  # recycled entities count once per pass


def test_time_in_stage_against_lifelines(crm, lc):
    from lifelines import KaplanMeierFitter

    table = lc.time_in_stage()
    # Independent visit durations from the sorted records.
    s = _sorted(crm)
    end = pd.Timestamp(crm.attrs["end"])
    nxt = s.groupby("entity")["time"].shift(-1)
    mql = s[s["stage"] == "MQL"]
    done = nxt[mql.index].notna().to_numpy()
    days = ((nxt[mql.index].fillna(end) - mql["time"]).dt.total_seconds() / 86400).to_numpy()
    row = table[table["stage"] == "MQL"].iloc[0]
    assert row["visits"] == len(mql) and row["completed"] == done.sum()
    assert row["median"] == pytest.approx(np.median(days[done]), rel=1e-12)
    assert row["p90"] == pytest.approx(np.quantile(days[done], 0.9), rel=1e-12)
    km = KaplanMeierFitter().fit(days, done)
    assert row["km_median"] == pytest.approx(km.median_survival_time_, rel=1e-9)


def test_time_to_convert_counts_and_competing_outcomes(crm, lc):
    t = lc.time_to_convert("Opportunity", "Customer", by_segment=True)
    overall = t.iloc[0]
    assert overall["entered"] == (crm["stage"] == "Opportunity").groupby(crm["entity"]).any().sum()
    assert overall["converted"] == crm.loc[crm["stage"] == "Customer", "entity"].nunique()
    assert overall["closed_otherwise"] == crm.loc[crm["stage"] == "Lost", "entity"].nunique()
    assert overall["converted"] + overall["closed_otherwise"] + overall["open"] == overall["entered"]
    assert 0 < overall["p_convert"] < 1 and overall["p_convert"] + overall["p_closed_otherwise"] <= 1 + 1e-12
    # With open deals censored, the probability of winning exceeds the naive won share.
    assert overall["p_convert"] >= overall["converted"] / overall["entered"]
    assert t["entered"].iloc[1:].sum() == overall["entered"]


def test_exits_reasons_histories(crm, lc):
    ex = lc.exits()
    assert list(ex["stage"]) == ["Lead", "MQL", "SAL", "SQL", "Opportunity"]
    assert ex["won"].sum() == crm.loc[crm["stage"] == "Customer", "entity"].nunique()
    assert ex["total"].sum() == len(lc)
    rs = lc.reasons()
    assert rs["count"].sum() == crm["stage"].isin(["Lost", "Disqualified"]).sum()
    assert set(rs["reason"]) <= set(fk.sample_labels()["reason"])
    h = lc.histories()
    assert len(h) == crm["entity"].nunique()
    assert (h["status"] == "won").sum() == ex["won"].sum()
    assert h.loc[h["recycles"] > 0].shape[0] > 0
    assert (h["entered_Lead"].notna()).all()


def test_stuck(lc):
    fixed = lc.stuck(limit={"MQL": 3}, percentile=0)
    assert set(fixed["stage"]) == {"MQL"}
    assert (fixed["age_days"] > 3).all() and (fixed["limit_days"] == 3).all()
    assert fixed["over_days"].is_monotonic_decreasing
    pct = lc.stuck(percentile=90)
    tis = lc.time_in_stage().set_index("stage")
    for stage, lim in pct.groupby("stage")["limit_days"].first().items():
        assert lim == pytest.approx(tis.loc[stage, "p90"], rel=1e-12)
    with pytest.raises(ValueError, match="must be positive"):
        lc.stuck(limit={"MQL": -1})
    with pytest.raises(ValueError, match="not a ladder stage"):
        lc.stuck(limit={"Nope": 1})


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 500), cut=st.floats(0.05, 0.95))
def test_summary_merge_shuffle_pickle(seed, cut):
    df = fk.sample_crm(600, seed=seed)
    end = df.attrs["end"]
    whole = lifecycle(df, segment="source", segment_categories=SOURCES, as_of=end).summary()
    shuffled = df.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    assert lifecycle(shuffled, segment="source", segment_categories=SOURCES, as_of=end).summary() == whole
    k = int(cut * 600)
    a = lifecycle(df[df["entity"] < k], segment="source", segment_categories=SOURCES, as_of=end).summary()
    b = lifecycle(df[df["entity"] >= k], segment="source", segment_categories=SOURCES, as_of=end).summary()
    assert a + b == whole and b + a == whole
    assert pickle.loads(pickle.dumps(whole)) == whole
    assert whole.conversion() == fk.conversion(df, segment="source", segment_categories=SOURCES)


def test_integer_times_and_string_ids():
    d = {"entity": np.array(["a", "a", "b", "b", "b"], dtype=object),
         "time": np.array([0, 86_400_000, 0, 1000, 172_800_000]),
         "stage": np.array(["Lead", "MQL", "Lead", "MQL", "Disqualified"], dtype=object)}
    lc = lifecycle(d, time_unit="ms")
    h = lc.histories()
    assert list(h["entity"]) == ["a", "b"]
    assert list(h["status"]) == ["open", "disqualified"]
    t = lc.time_in_stage().set_index("stage")
    assert t.loc["Lead", "max"] == pytest.approx(1.0)  # a: one day in Lead
    assert t.loc["MQL", "completed"] == 1 and t.loc["MQL", "open"] == 1


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
    with pytest.raises(ValueError, match="option 'period'"):
        lc.conversion(by="cohort", period="fortnight")
    with pytest.raises(ValueError, match="reason column"):
        lc.reasons()
    with pytest.raises(ValueError, match="option 'passes'"):
        lc.conversion(passes="some")


def test_polars_and_arrow_input_give_the_same_lifecycle(crm):
    import polars as pl
    import pyarrow as pa

    ref = lifecycle(crm, segment="source", reason="reason", as_of=crm.attrs["end"])
    for data in (pl.from_pandas(crm), pa.Table.from_pandas(crm, preserve_index=False)):
        other = lifecycle(data, segment="source", reason="reason", as_of=crm.attrs["end"])
        # Polars holds the times in milliseconds: raw durations differ in unit, results in days agree.
        assert other.summary().conversion() == ref.summary().conversion()
        pd.testing.assert_frame_equal(other.time_in_stage(), ref.time_in_stage())
        pd.testing.assert_frame_equal(other.time_to_convert("SQL", "Customer"), ref.time_to_convert("SQL", "Customer"))
        pd.testing.assert_frame_equal(other.conversion(by="segment"), ref.conversion(by="segment"))
