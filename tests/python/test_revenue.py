"""Revenue math: worked examples of the definitions, and checks against independent pandas /
numpy computations of the same definitions on random data."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import funnelkit
from funnelkit import revenue as rv

DAY = 86_400


# -- worked examples ----------------------------------------------------------------------------
def test_velocity_formula_domain_example():
    v = rv.velocity_formula(40, 25_000, 0.25, 90)
    assert round(v, 2) == 2777.78
    with pytest.raises(ValueError, match="cycle_length"):
        rv.velocity_formula(40, 25_000, 0.25, 0)


def test_domain_plan_and_floating_point_trap():
    p = 0.5 * 0.6 * 0.5 * (1 / 3)
    assert math.ceil(50 / p) == 1001  # the naive answer
    assert rv.ceil_whole(50 / p) == 1000
    plan = rv.plan_reverse_funnel(goal=40_000, deal_value=800, goal_per_period=True, reps=10,
                                  steps={"Lead": 0.5, "Connect": 0.6, "Discovery call": 0.5, "Demo": 1 / 3})
    df = plan.to_pandas()
    assert list(df["stage"]) == ["Lead", "Connect", "Discovery call", "Demo", "Customer"]
    assert list(df["volume"]) == [1000, 500, 300, 150, 50]
    assert plan.volume("Lead") == 1000
    assert df["per_rep_per_period"].iloc[0] == 100
    assert plan.explain()["inputs"]["volume Lead"] == "1000"
    assert "Lead" in repr(plan)
    with pytest.raises(ValueError, match="infinite"):
        rv.plan_reverse_funnel(goal=1, deal_value=1, steps={"Lead": 0.0})
    with pytest.raises(ValueError, match="goal"):
        rv.plan_reverse_funnel(goal=-1, deal_value=1, steps={"Lead": 0.5})


def test_capacity_and_split():
    r = rv.reps_needed(1000, capacity=20, per="week")
    assert r.capacity_per_month == pytest.approx(20 * 52 / 12)
    assert r.reps == 12
    assert rv.reps_needed(12 * 20 * 52 / 12, capacity=20, per="week").reps == 12
    assert rv.split_goal(1_000, {"marketing": 0.7, "partners": 0.3}) == pytest.approx({"marketing": 700, "partners": 300})
    with pytest.raises(ValueError):
        rv.split_goal(1_000, {"marketing": 0.7})
    with pytest.raises(ValueError, match="per"):
        rv.reps_needed(10, capacity=2, per="fortnight")


def test_velocity_domain_records_pandas_and_polars():
    rows = []
    for i in range(40):
        c = pd.Timestamp("2024-01-01") + pd.Timedelta(days=i)
        if i < 10:
            rows.append((c, c + pd.Timedelta(days=90), "won", 25_000.0))
        else:
            rows.append((c, c + pd.Timedelta(days=5), "lost", 10_000.0))
    df = pd.DataFrame(rows, columns=["created", "closed", "outcome", "amount"])
    t = rv.velocity(df, periods=["2024-01-01", "2025-01-01"])
    out = t.to_pandas()
    assert len(out) == 1
    assert out["velocity"].iloc[0] == pytest.approx(2777.7777777777778)
    assert out["n"].iloc[0] == 40 and out["win_rate"].iloc[0] == 0.25
    assert t.explain(0)["inputs"]["L"] == "90"
    import polars as pl

    t2 = rv.velocity(pl.from_pandas(df), periods=["2024-01-01", "2025-01-01"])
    assert t2.to_pandas()["velocity"].iloc[0] == out["velocity"].iloc[0]
    assert isinstance(t2.to_polars(), pl.DataFrame)


# -- velocity against an independent pandas computation ---------------------------------------
def _random_opps(rng: np.random.Generator, n: int) -> pd.DataFrame:
    created = rng.integers(0, 400 * DAY, n)
    oc = rng.integers(0, 3, n)
    closed = np.where(oc > 0, created + rng.integers(0, 120 * DAY, n), -1)
    sql = created - rng.integers(0, 30 * DAY, n)
    return pd.DataFrame({
        "created": created,
        "closed": pd.Series(np.where(oc > 0, closed, 0), dtype="Int64").mask(oc == 0),
        "outcome": np.array(["open", "won", "lost"])[oc],
        "amount": rng.integers(100, 50_000, n).astype(float),
        "source": rng.choice(["Webinar", "Organic", "Referral"], n),
        "sql": sql,
    })


def _pandas_velocity(df: pd.DataFrame, edges: list[int], *, count: str, win_rate: str, cycle_from: str,
                     cycle_over: str, cycle_stat: str) -> pd.DataFrame:
    out = []
    closed = df["closed"].astype("float64")
    start_col = df["created"] if cycle_from == "created" else df["sql"]
    for p in range(len(edges) - 1):
        lo, hi = edges[p], edges[p + 1]
        for seg in [None, *sorted(df["source"].unique())]:
            d = df if seg is None else df[df["source"] == seg]
            cl = closed.loc[d.index]
            is_closed = d["outcome"] != "open"
            if count == "created_in_period":
                n = int(((d["created"] >= lo) & (d["created"] < hi)).sum())
            else:
                n = int(((d["created"] < lo) & (~is_closed | (cl >= lo))).sum())
            inp = is_closed & (cl >= lo) & (cl < hi)
            won = d[inp & (d["outcome"] == "won")]
            lost = d[inp & (d["outcome"] == "lost")]
            v = np.nan
            if len(won):
                dv = won["amount"].mean()
                w = len(won) / (len(won) + len(lost)) if win_rate == "count" else \
                    won["amount"].sum() / (won["amount"].sum() + lost["amount"].sum())
                cyc_rows = won if cycle_over == "won" else d[inp]
                cyc = (cl.loc[cyc_rows.index] - start_col.loc[cyc_rows.index]) / DAY
                L = cyc.mean() if cycle_stat == "mean" else cyc.median()
                if L > 0:
                    v = n * dv * w / L
            out.append((p, seg or "(all)", n, v))
    return pd.DataFrame(out, columns=["p", "source", "n", "velocity"])


@pytest.mark.parametrize("count", ["created_in_period", "open_at_start"])
@pytest.mark.parametrize("win_rate", ["count", "value"])
@pytest.mark.parametrize("cycle", [("created", "won", "mean"), ("sql", "closed", "median"), ("created", "closed", "median")])
def test_velocity_matches_pandas(count, win_rate, cycle):
    rng = np.random.default_rng(17)
    df = _random_opps(rng, 3000)
    edges = [30 * DAY * m for m in range(1, 14)]
    cycle_from, cycle_over, cycle_stat = cycle
    t = rv.velocity(df, periods=edges, segment="source", count=count, win_rate=win_rate,
                    cycle_from=cycle_from, cycle_over=cycle_over, cycle_stat=cycle_stat,
                    sql_time="sql" if cycle_from == "sql" else None)
    got = t.to_pandas()
    ref = _pandas_velocity(df, edges, count=count, win_rate=win_rate, cycle_from=cycle_from,
                           cycle_over=cycle_over, cycle_stat=cycle_stat)
    assert len(got) == len(ref)
    np.testing.assert_array_equal(got["n"].to_numpy(), ref["n"].to_numpy())
    np.testing.assert_array_equal(got["source"].to_numpy(), ref["source"].to_numpy())
    np.testing.assert_allclose(got["velocity"].to_numpy(), ref["velocity"].to_numpy(), rtol=1e-10, equal_nan=True)
    # Undefined values are flagged, never silent.
    undefined = got["velocity"].isna()
    assert (got.loc[undefined, "status"] != "ok").all()
    assert (got.loc[~undefined, "status"] == "ok").all()


def test_velocity_bootstrap_is_reproducible():
    df = _random_opps(np.random.default_rng(2), 800)
    a = rv.velocity(df, periods=[0, 400 * DAY], bootstrap=200, seed=5).to_pandas()
    b = rv.velocity(df, periods=[0, 400 * DAY], bootstrap=200, seed=5).to_pandas()
    assert a["ci_lower"].iloc[0] == b["ci_lower"].iloc[0]
    assert a["ci_lower"].iloc[0] < a["velocity"].iloc[0] < a["ci_upper"].iloc[0]


def test_velocity_bad_input():
    df = pd.DataFrame({"created": [10], "closed": [5], "outcome": ["won"], "amount": [1.0]})
    with pytest.raises(ValueError, match="closed"):
        rv.velocity(df, periods=[0, 100])
    df = pd.DataFrame({"created": [1], "closed": [5], "outcome": ["maybe"], "amount": [1.0]})
    with pytest.raises(ValueError, match="outcome"):
        rv.velocity(df, periods=[0, 100])
    df = pd.DataFrame({"created": [1], "closed": [5], "outcome": ["won"], "amount": [-1.0]})
    with pytest.raises(ValueError, match="amount"):
        rv.velocity(df, periods=[0, 100])
    df = pd.DataFrame({"created": [1], "closed": [5], "outcome": ["won"], "amount": [1.0]})
    with pytest.raises(ValueError, match="cycle_stat"):
        rv.velocity(df, periods=[0, 100], cycle_stat="mode")


def test_sample_velocity_by_source():
    crm = funnelkit.sample_crm(20_000, seed=3)
    opps = rv.opportunities_from_stages(crm)
    assert set(opps["outcome"]) == {"open", "won", "lost"}
    n_opp = crm.loc[crm["stage"] == "Opportunity", "entity"].nunique()
    assert len(opps) == n_opp
    t = rv.velocity(opps, periods="Q", segment="source")
    df = t.to_pandas()
    assert set(df["source"]) >= {"(all)", "Webinar", "Referral"}
    assert df["velocity"].notna().sum() > 10


# -- driver split ----------------------------------------------------------------------------
positive = st.floats(min_value=1e-3, max_value=1e6, allow_nan=False, allow_infinity=False)
rate = st.floats(min_value=1e-3, max_value=1.0, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(positive, positive, rate, positive, positive, positive, rate, positive)
def test_lmdi_sums_to_the_change(n0, d0, w0, l0, n1, d1, w1, l1):
    r = rv.decompose_velocity((n0, d0, w0, l0), (n1, d1, w1, l1))
    v0, v1 = n0 * d0 * w0 / l0, n1 * d1 * w1 / l1
    assert r.v0 == pytest.approx(v0, rel=1e-12)
    assert r.v1 == pytest.approx(v1, rel=1e-12)
    assert sum(r.additive.values()) == pytest.approx(v1 - v0, rel=1e-9, abs=1e-9 * max(v0, v1))
    assert sum(r.log.values()) == pytest.approx(math.log(v1 / v0), abs=1e-9)
    # Each additive term has the sign of its driver's change (minus for L).
    assert r.additive["N"] * math.log(n1 / n0) >= 0
    assert r.additive["L"] * math.log(l0 / l1) >= 0


def test_lmdi_equal_values():
    r = rv.decompose_velocity((40, 25_000, 0.25, 90), (40, 25_000, 0.25, 90))
    assert r.weight == r.v0
    assert all(v == 0 for v in r.additive.values())
    df = r.to_pandas()
    assert list(df["driver"]) == ["N", "D", "W", "L"]
    with pytest.raises(ValueError):
        rv.decompose_velocity((0, 1, 1, 1), (1, 1, 1, 1))


# -- lags ------------------------------------------------------------------------------------
def test_lags_match_numpy_and_plan_round_trip():
    rng = np.random.default_rng(11)
    n = 5000
    created = rng.integers(0, 700 * DAY, n)
    won = np.where(rng.random(n) < 0.2, created + rng.integers(0, 200 * DAY, n), -1)
    seg = rng.choice(["A", "B"], n)
    df = pd.DataFrame({"created": created, "won": pd.Series(won, dtype="Int64").mask(won < 0), "source": seg,
                       "amount": rng.integers(1000, 2000, n).astype(float)})
    period, max_lag, end = 30 * DAY, 6, 800 * DAY
    t = rv.estimate_lags(df, created="created", won="won", segment="source", amount="amount", period=period,
                         max_lag=max_lag, data_end=end)
    mature = created + (max_lag + 1) * period <= end
    for s in ["A", "B"]:
        m = mature & (seg == s)
        lag = (won[m & (won >= 0)] - created[m & (won >= 0)]) // period
        in_range = lag[lag <= max_lag]
        ref = np.bincount(in_range, minlength=max_lag + 1) / len(in_range)
        lm = t.model(s)
        np.testing.assert_allclose(lm.shares, ref, rtol=1e-12)
        assert lm.win_rate == pytest.approx(len(in_range) / m.sum())
    lm = t.model()
    leads = rng.integers(100, 1000, 12).astype(float)
    fwd = lm.project(leads)
    plan = lm.plan(fwd["revenue"].to_numpy())
    pdf = plan.to_pandas()
    np.testing.assert_allclose(pdf["leads"], leads, rtol=1e-6)
    assert plan.feasible
    assert set(pdf["status"]) == {"met"}


def test_lead_plan_too_close_to_now():
    lm = rv.LagModel(0.1, (0.0, 0.6, 0.4), 1000.0)
    plan = lm.plan([5000, 6000, 6000])
    assert not plan.feasible
    df = plan.to_pandas()
    assert df["status"].iloc[0] == "too_close"
    assert "too close" in df["reason"].iloc[0]
    assert (df["leads"] >= 0).all()
    with pytest.raises(ValueError, match="sum to 1"):
        rv.LagModel(0.1, (0.5, 0.4), 1000.0).plan([1.0])


# -- SLA -------------------------------------------------------------------------------------
def test_sla_response_matches_pandas():
    rng = np.random.default_rng(5)
    n = 4000
    created = pd.Timestamp("2024-03-01") + pd.to_timedelta(rng.integers(0, 30 * DAY, n), unit="s")
    delay = pd.to_timedelta(rng.exponential(20 * 3600, n).astype(np.int64), unit="s")
    touched = rng.random(n) < 0.8
    first = (created + delay).where(touched, pd.NaT)
    df = pd.DataFrame({"created": created, "first_touch": first, "rep": rng.choice(["Ann", "Bo", "Cy"], n)})
    as_of = pd.Timestamp("2024-03-28")
    res = rv.sla_response(df, created="created", first_touch="first_touch", limit="24h", as_of=as_of, rep="rep")
    # Reference with pandas: touches after as_of do not count yet.
    deadline = df["created"] + pd.Timedelta("24h")
    t = df["first_touch"].where(df["first_touch"] <= as_of)
    status = np.select(
        [df["created"] > as_of, t.notna() & (t <= deadline), t.notna(), as_of > deadline],
        ["not_started", "met", "breached", "breached"], default="pending")
    np.testing.assert_array_equal(res.status, status)
    g = res.to_pandas()
    met, breached = (status == "met").sum(), (status == "breached").sum()
    assert g["compliance"].iloc[0] == pytest.approx(met / (met + breached))
    assert res.compliance == pytest.approx(met / (met + breached))
    for rep in ["Ann", "Bo", "Cy"]:
        row = g[(g["by"] == "rep") & (g["group"] == rep)].iloc[0]
        m = (df["rep"] == rep).to_numpy()
        assert row["met"] == (status[m] == "met").sum()
        assert row["pending"] == (status[m] == "pending").sum()
    b = res.breaches()
    assert len(b) == breached
    over = np.where(t.notna(), (t - deadline).dt.total_seconds(), (as_of - deadline).dt.total_seconds()) / 3600
    np.testing.assert_allclose(b["over_hours"], over[status == "breached"])
    assert "compliance" in repr(res)


def test_sla_touches_within_and_errors():
    items = pd.DataFrame({"created": [0, 0, 450]})
    touches = pd.DataFrame({"item": [0, 0, 1, 1, 2], "time": [10, 90, 10, 150, 460]})
    res = rv.sla_response(items, created="created", limit=100, touches=2, touch_data=touches, as_of=500)
    assert list(res.status) == ["met", "breached", "pending"]
    bad = pd.DataFrame({"created": [100], "first_touch": [50]})
    with pytest.raises(ValueError, match="before"):
        rv.sla_response(bad, created="created", first_touch="first_touch", limit=10, as_of=1000)


def test_sla_volume_matches_pandas():
    rng = np.random.default_rng(9)
    n = 3000
    t = rng.integers(0, 28 * DAY, n)
    rep = rng.choice(["Ann", "Bo", "Cy", "Di"], n)
    df = pd.DataFrame({"time": t, "rep": rep})
    weeks = [7 * DAY * k for k in range(5)]
    as_of = 17 * DAY + 12 * 3600
    res = rv.sla_volume(df, time="time", rep="rep", target=180, periods=weeks, as_of=as_of, reps=["Ann", "Bo", "Cy", "Di", "Ed"])
    out = res.to_pandas()
    assert len(out) == 4 * 6
    for k in range(4):
        lo, hi = weeks[k], weeks[k + 1]
        in_p = (t >= lo) & (t < hi) & (t < as_of)
        elapsed = min(1.0, max(0.0, (as_of - lo) / (hi - lo)))
        block = out.iloc[k * 6:(k + 1) * 6]
        assert block["delivered"].iloc[0] == in_p.sum()
        assert block["committed"].iloc[0] == 180 * 5
        for j, r in enumerate(["Ann", "Bo", "Cy", "Di", "Ed"]):
            row = block.iloc[j + 1]
            d = (in_p & (rep == r)).sum()
            assert row["rep"] == r and row["delivered"] == d
            if elapsed >= 1:
                assert row["status"] == ("met" if d >= 180 else "breached")
            elif elapsed > 0:
                assert row["status"] == "pending"
                assert row["forecast"] == pytest.approx(d / elapsed)
                assert row["pacing"] == pytest.approx(d / (180 * elapsed))
            else:
                assert row["status"] == "not_started" and np.isnan(row["pacing"])
    br = res.breaches()
    assert (br["status"] == "breached").all()
    assert "Ed" in set(br["rep"])  # a rep with nothing delivered is a breach, not absent
    assert res.explain()["metric"].startswith("volume SLA")


def test_sla_volume_by_month_frequency():
    t = pd.to_datetime(["2024-01-03", "2024-01-20", "2024-02-02", "2024-03-15"])
    df = pd.DataFrame({"time": t, "rep": ["a", "b", "a", "a"]})
    res = rv.sla_volume(df, time="time", rep="rep", target=1, periods="M", as_of="2024-03-16")
    out = res.to_pandas()
    assert list(out["period_start"].dt.month.unique()) == [1, 2, 3]
    assert list(out["status"]) == ["met", "met", "met", "breached", "met", "breached",
                                   "pending", "pending", "pending"]


def test_revenue_report_demo():
    text = rv.revenue_report(5_000, seed=1)
    assert "Sales velocity by source" in text
    assert "Webinar" in text and "Plan for" in text and "ResponseSLA(compliance" in text
