"""Sales velocity: the DOMAIN worked example, every input format, time one way (datetimes,
integer ticks in any unit, calendar periods in a time zone), checked names, the driver split,
and a check against an independent pandas computation of the same definitions."""

from __future__ import annotations

import datetime as dt
import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import funnelkit as fk
from conftest import as_format
from contract import check_contract

DAY = 86_400
#: The DOMAIN example's definitions: N created in the period over L of the won deals.
VENDOR = {"count": "vendor", "cycle_over": "won"}


# -- the DOMAIN example ----------------------------------------------------------------------------
def test_velocity_formula_domain_example():
    v = fk.velocity_formula(40, 25_000, 0.25, 90)
    assert round(v, 2) == 2777.78
    with pytest.raises(ValueError, match="cycle_length"):
        fk.velocity_formula(40, 25_000, 0.25, 0)


def _domain_opportunities() -> pd.DataFrame:
    """40 opportunities created in 2024: 10 won at 25,000 after 90 days, 30 lost after 5."""
    rows = []
    for i in range(40):
        c = pd.Timestamp("2024-01-01") + pd.Timedelta(days=i)
        if i < 10:
            rows.append((c, c + pd.Timedelta(days=90), "won", 25_000.0, "Webinar"))
        else:
            rows.append((c, c + pd.Timedelta(days=5), "lost", 10_000.0, "Organic" if i % 2 else "Referral"))
    rows.append((pd.Timestamp("2024-03-01"), pd.NaT, "open", 5_000.0, "Organic"))
    return pd.DataFrame(rows, columns=["created", "closed", "outcome", "amount", "source"])


def test_domain_example_in_every_input_format(input_format):
    df = _domain_opportunities()
    t = fk.velocity(as_format(df, input_format), period="year", **VENDOR)
    assert isinstance(t, fk.VelocityTable) and len(t) == 1
    assert t["n"][0] == 41 and t["win_rate"][0] == 0.25 and t["cycle_length"][0] == 90
    assert t["velocity"][0] == pytest.approx(41 * 25_000 * 0.25 / 90)
    # Datetime input: period starts are datetimes, never raw int64.
    assert t["period_start"].dtype.kind == "M"
    assert str(t["period_start"][0])[:10] == "2024-01-01" and str(t["period_end"][0])[:10] == "2025-01-01"
    ref = fk.velocity(df, period="year", segment="source")
    got = fk.velocity(as_format(df, input_format), period="year", segment="source")
    assert got.to_dict() == ref.to_dict()


def test_domain_example_exactly_and_the_contract():
    df = _domain_opportunities().iloc[:40]
    t = fk.velocity(df, edges=["2024-01-01", "2025-01-01"], **VENDOR)
    assert t["velocity"][0] == pytest.approx(2777.7777777777778)
    doc = check_contract(t)
    assert doc["data"][0]["velocity"] == pytest.approx(2777.7777777777778)
    assert doc["data"][0]["period_start"].startswith("2024-01-01")
    row = t.explain(0)
    assert row["inputs"]["L"] == 90 and row["inputs"]["N"] == 40 and row["inputs"]["W"] == 0.25
    assert row["inputs"]["period"][0].startswith("2024-01-01")
    assert row["options"]["cycle_stat"] == "mean"
    ex = t.explain()
    assert "V = N * D * W / L" in ex.definition and "overstates" in ex.definition
    assert ex["formula"].startswith("V = N * D * W / L")
    assert ex.options["unit"] == "day" and ex.options["edges"]
    assert "N" not in ex.inputs and ex.inputs["opportunities"] == 40  # row values are in explain(row)
    assert t._units["cycle_length"] == "days"
    assert "VelocityTable(1 rows" in repr(t)


def test_segments_and_explained_rows():
    t = fk.velocity(_domain_opportunities(), period="year", segment="source")
    assert list(t["source"]) == ["(all)", "Organic", "Referral", "Webinar"]
    check_contract(t)
    assert t.explain(3)["inputs"]["segment"] == "Webinar"
    assert t["status"][1] == "no_won_deals" and math.isnan(t["velocity"][1])
    assert t.to_dict("records")[1]["velocity"] is None
    with pytest.raises(IndexError):
        t.explain(9)


# -- time, one way ----------------------------------------------------------------------------------
def _as_seconds(df: pd.DataFrame, scale: int = 1) -> pd.DataFrame:
    out = df.copy()
    out["created"] = out["created"].astype("int64") // 10**9 * scale
    out["closed"] = pd.Series(out["closed"].astype("int64") // 10**9 * scale, dtype="Int64").mask(df["closed"].isna())
    return out


def test_integer_times_are_seconds_by_default_or_time_unit():
    df = _domain_opportunities()
    start, end = pd.Timestamp("2024-01-01").value // 10**9, pd.Timestamp("2025-01-01").value // 10**9
    ref = fk.velocity(df, edges=["2024-01-01", "2025-01-01"])
    secs = fk.velocity(_as_seconds(df), edges=[start, end])
    assert secs["period_start"][0] == start and secs["period_start"].dtype == np.int64
    assert secs["velocity"][0] == ref["velocity"][0]
    ms = fk.velocity(_as_seconds(df, 1000), edges=[start * 1000, end * 1000], time_unit="ms")
    assert ms["velocity"][0] == ref["velocity"][0]
    # Calendar periods work on integer columns too, in the column's unit.
    by_month = fk.velocity(_as_seconds(df), period="month")
    assert by_month["period_start"][0] == start
    assert by_month.to_dict()["n"] == fk.velocity(df, period="month").to_dict()["n"]


def test_units_of_l_are_words_or_durations():
    df = _domain_opportunities()
    days = fk.velocity(df, period="year", **VENDOR)
    for unit in ("week", "1w", "7d", dt.timedelta(weeks=1), np.timedelta64(7, "D")):
        weeks = fk.velocity(df, period="year", unit=unit, **VENDOR)
        assert weeks["cycle_length"][0] == pytest.approx(90 / 7)
        assert weeks["velocity"][0] == pytest.approx(days["velocity"][0] * 7)
    with pytest.raises(TypeError, match="option 'unit': a bare number"):
        fk.velocity(df, period="year", unit=86400)
    assert fk.velocity(_as_seconds(df), period="year", unit=86400, **VENDOR)["cycle_length"][0] == 90
    with pytest.raises(ValueError, match="option 'unit'"):
        fk.velocity(df, period="year", unit="fortnight")


def test_calendar_periods_and_time_zones():
    df = pd.DataFrame({"created": pd.to_datetime(["2024-03-31 23:30", "2024-04-01 00:30"]),
                       "closed": pd.to_datetime(["2024-04-10", "2024-04-10"]), "outcome": ["won", "lost"],
                       "amount": [100.0, 100.0]})
    utc = fk.velocity(df, period="month", count="created_per_period")
    assert [str(s)[:10] for s in utc["period_start"]] == ["2024-03-01", "2024-04-01"]
    assert list(utc["n"]) == [1, 1]
    # In Berlin (UTC+2 in April) both were created in April, and April starts at 22:00 UTC.
    berlin = fk.velocity(df, period="month", tz="Europe/Berlin", count="created_per_period")
    assert str(berlin["period_start"][0]) == "2024-03-31T22:00:00.000000000"
    assert list(berlin["n"]) == [2]
    weeks = fk.velocity(df, period="week")
    assert str(weeks["period_start"][0])[:10] == "2024-03-25"  # ISO weeks start on Monday


@pytest.mark.parametrize("alias, word", [("W", "week"), ("M", "month"), ("Q", "quarter"), ("D", "day")])
def test_pandas_frequency_aliases_point_to_the_word(alias, word):
    with pytest.raises(ValueError, match=f"did you mean '{word}'"):
        fk.velocity(_domain_opportunities(), period=alias)


def test_deprecated_periods_keyword():
    df = _domain_opportunities()
    with pytest.warns(DeprecationWarning, match="'periods' is deprecated; use 'period'"):
        a = fk.velocity(df, periods="year")
    with pytest.warns(DeprecationWarning, match="use 'edges'"):
        b = fk.velocity(df, periods=["2024-01-01", "2025-01-01"])
    assert a.to_dict() == b.to_dict() == fk.velocity(df, period="year").to_dict()
    with pytest.warns(DeprecationWarning), pytest.raises(ValueError, match="did you mean 'month'"):
        fk.velocity(df, periods="M")


def test_period_or_edges_is_required_and_bare_edges_are_refused_with_datetimes():
    df = _domain_opportunities()
    with pytest.raises(ValueError, match="give either period="):
        fk.velocity(df)
    with pytest.raises(ValueError, match="give either period="):
        fk.velocity(df, period="year", edges=["2024-01-01", "2025-01-01"])
    with pytest.raises(TypeError, match="option 'edges\\[0\\]': a bare number"):
        fk.velocity(df, edges=[0, 10**9])
    pairs = fk.velocity(df, edges=[("2024-01-01", "2024-07-01"), ("2024-07-01", "2025-01-01")])
    assert len(pairs) == 2


def test_mixed_kinds_of_time_are_refused():
    df = _domain_opportunities()
    df["closed"] = df["closed"].astype("int64")
    with pytest.raises(TypeError, match="column 'closed' holds integers but the time column 'created' holds datetimes"):
        fk.velocity(df, period="year")


# -- names and bad input -----------------------------------------------------------------------------
def test_bad_input_names_the_problem():
    df = pd.DataFrame({"created": [10], "closed": [5], "outcome": ["won"], "amount": [1.0]})
    with pytest.raises(ValueError, match="closed"):
        fk.velocity(df, edges=[0, 100])
    df = pd.DataFrame({"created": [1], "closed": [5], "outcome": ["wonn"], "amount": [1.0]})
    with pytest.raises(ValueError, match="outcome 'wonn' is not valid; did you mean 'won'"):
        fk.velocity(df, edges=[0, 100])
    df = pd.DataFrame({"created": [1], "closed": [5], "outcome": ["Won"], "amount": [-1.0]})
    with pytest.raises(ValueError, match="amount"):
        fk.velocity(df, edges=[0, 100])
    df["amount"] = 1.0
    with pytest.raises(ValueError, match="option 'cycle_stat'.*did you mean 'median'"):
        fk.velocity(df, edges=[0, 100], cycle_stat="medain")
    with pytest.raises(ValueError, match="column 'amout'.*did you mean 'amount'"):
        fk.velocity(df, edges=[0, 100], amount="amout")
    with pytest.raises(ValueError, match="sql_time="):
        fk.velocity(df, edges=[0, 100], cycle_from="sql")
    with pytest.raises(ValueError, match="bootstrap"):
        fk.velocity(df, edges=[0, 100], bootstrap=-1)


# -- against an independent pandas computation ------------------------------------------------------
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
            if count in ("created_per_period", "vendor"):
                n = float(((d["created"] >= lo) & (d["created"] < hi)).sum())
            elif count == "open_at_start":
                n = float(((d["created"] < lo) & (~is_closed | (cl >= lo))).sum())
            else:  # time open inside the period over its length
                stop = cl.where(is_closed, np.inf).clip(upper=hi)
                n = float((stop - d["created"].clip(lower=lo)).clip(lower=0).sum() / (hi - lo))
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
                if count == "created_per_period":
                    v = n * dv * w / ((hi - lo) / DAY)  # revenue per period over the period's length
                elif L > 0:
                    v = n * dv * w / L
            out.append((p, seg or "(all)", n, v))
    return pd.DataFrame(out, columns=["p", "source", "n", "velocity"])


@pytest.mark.parametrize("count", ["average_open", "open_at_start", "created_per_period", "vendor"])
@pytest.mark.parametrize("win_rate", ["count", "value"])
@pytest.mark.parametrize("cycle", [("created", "won", "mean"), ("sql", "closed", "median"), ("created", "closed", "median")])
def test_velocity_matches_pandas(count, win_rate, cycle):
    df = _random_opps(np.random.default_rng(17), 3000)
    edges = [30 * DAY * m for m in range(1, 14)]
    cycle_from, cycle_over, cycle_stat = cycle
    t = fk.velocity(df, edges=edges, segment="source", count=count, win_rate=win_rate, cycle_from=cycle_from,
                    cycle_over=cycle_over, cycle_stat=cycle_stat, sql_time="sql" if cycle_from == "sql" else None)
    ref = _pandas_velocity(df, edges, count=count, win_rate=win_rate, cycle_from=cycle_from, cycle_over=cycle_over,
                           cycle_stat=cycle_stat)
    assert len(t) == len(ref)
    np.testing.assert_allclose(t["n"], ref["n"].to_numpy(), rtol=1e-12)
    np.testing.assert_array_equal(t["source"], ref["source"].to_numpy())
    np.testing.assert_allclose(t["velocity"], ref["velocity"].to_numpy(), rtol=1e-10, equal_nan=True)
    undefined = np.isnan(t["velocity"])
    assert (t["status"][undefined] != "ok").all() and (t["status"][~undefined] == "ok").all()


def test_random_data_in_every_input_format(input_format):
    df = _random_opps(np.random.default_rng(3), 500)
    edges = [0, 100 * DAY, 200 * DAY, 400 * DAY]
    kw = dict(edges=edges, segment="source", cycle_from="sql", sql_time="sql", bootstrap=50, seed=7)
    assert fk.velocity(as_format(df, input_format), **kw).to_dict() == fk.velocity(df, **kw).to_dict()


def test_bootstrap_interval_is_reproducible():
    df = _random_opps(np.random.default_rng(2), 800)
    a = fk.velocity(df, edges=[0, 400 * DAY], bootstrap=200, seed=5, confidence=0.9)
    b = fk.velocity(df, edges=[0, 400 * DAY], bootstrap=200, seed=5, confidence=0.9)
    assert a["ci_lower"][0] == b["ci_lower"][0]
    assert a["ci_lower"][0] < a["velocity"][0] < a["ci_upper"][0]
    assert a.explain().options["confidence"] == 0.9 and a.explain(0)["inputs"]["ci_lower"] is not None


# -- opportunities from stage records ----------------------------------------------------------------
def test_opportunities_from_the_sample_in_every_input_format(sample_df, input_format):
    opps = fk.opportunities_from_stages(as_format(sample_df, input_format))
    ref = fk.opportunities_from_stages(sample_df)
    assert opps.to_dict() == ref.to_dict()
    check_contract(opps)
    assert set(opps["outcome"]) == {"open", "won", "lost"}
    assert len(opps) == sample_df.loc[sample_df["stage"] == "Opportunity", "entity"].nunique()
    assert opps["created"].dtype.kind == "M" and np.isnat(opps["closed"]).any()
    t = fk.velocity(opps, period="quarter", segment="source")
    assert set(t["source"]) >= {"(all)", "Webinar", "Referral"}
    assert np.isfinite(t["velocity"]).sum() > 10
    assert len(t) == 4 * 7  # the four quarters of the sample year, overall and six sources


def test_opportunities_with_integer_times_and_checked_stage_names(sample_df):
    ints = sample_df.assign(time=sample_df["time"].astype("int64"))
    opps = fk.opportunities_from_stages(ints)
    assert opps["created"].dtype == np.int64
    assert None in list(opps["closed"])  # open deals: null, not a sentinel
    a = fk.velocity(opps, period="quarter")
    b = fk.velocity(fk.opportunities_from_stages(sample_df), period="quarter")
    np.testing.assert_array_equal(a["velocity"], b["velocity"])
    with pytest.raises(ValueError, match="option 'opportunity_stage'.*did you mean 'Opportunity'"):
        fk.opportunities_from_stages(sample_df, opportunity_stage="Oportunity")


# -- the change of V by driver -------------------------------------------------------------------------
positive = st.floats(min_value=1e-3, max_value=1e6, allow_nan=False, allow_infinity=False)
rate = st.floats(min_value=1e-3, max_value=1.0, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(positive, positive, rate, positive, positive, positive, rate, positive)
def test_lmdi_sums_to_the_change(n0, d0, w0, l0, n1, d1, w1, l1):
    r = fk.decompose_velocity((n0, d0, w0, l0), (n1, d1, w1, l1))
    v0, v1 = n0 * d0 * w0 / l0, n1 * d1 * w1 / l1
    assert r.v0 == pytest.approx(v0, rel=1e-12)
    assert r.v1 == pytest.approx(v1, rel=1e-12)
    assert sum(r.additive.values()) == pytest.approx(v1 - v0, rel=1e-9, abs=1e-9 * max(v0, v1))
    assert sum(r.log.values()) == pytest.approx(math.log(v1 / v0), abs=1e-9)
    assert r.additive["N"] * math.log(n1 / n0) >= 0
    assert r.additive["L"] * math.log(l0 / l1) >= 0


def test_decomposition_is_a_scalar_result_with_the_core_explanation():
    r = fk.decompose_velocity((40, 25_000, 0.25, 90), (40, 25_000, 0.25, 90))
    assert r.weight == r.v0 and all(v == 0 for v in r.additive.values())
    doc = check_contract(r)
    assert doc["data"]["additive"] == {"N": 0.0, "D": 0.0, "W": 0.0, "L": 0.0}
    ex = r.explain()
    assert ex["inputs"]["N0"] == 40 and ex.options["method"] == "LMDI-I and Shapley" and "LMDI-I" in ex.definition
    assert "Shapley" in ex.definition and r.shapley == {"N": 0.0, "D": 0.0, "W": 0.0, "L": 0.0}
    drivers = r.drivers()
    check_contract(drivers)
    assert list(drivers["driver"]) == ["N", "D", "W", "L"]
    with pytest.warns(DeprecationWarning, match="drivers"):
        assert list(r.to_pandas()["driver"]) == ["N", "D", "W", "L"]
    with pytest.raises(ValueError):
        fk.decompose_velocity((0, 1, 1, 1), (1, 1, 1, 1))
    t = fk.velocity(_domain_opportunities(), edges=["2024-01-01", "2024-04-01", "2025-01-01"])
    rows = t.to_dict("records")
    assert fk.decompose_velocity(rows[0], (41, 25_000, 0.25, 90)).v0 == pytest.approx(rows[0]["velocity"])


# -- pandas is optional ---------------------------------------------------------------------------------
def test_numpy_and_arrow_input_need_no_pandas():
    code = """
import importlib.abc, sys
class NoPandas(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split('.')[0] == 'pandas':
            raise ImportError('pandas is not installed')
sys.meta_path.insert(0, NoPandas())
import numpy as np, pyarrow as pa
import funnelkit as fk
d = {'created': np.array([0, 10, 20]), 'closed': np.array([50.0, 40.0, np.nan]),
     'outcome': np.array(['won', 'lost', 'open'], dtype=object), 'amount': np.array([100.0, 50.0, 10.0]),
     'source': np.array(['a', 'b', 'a'], dtype=object)}
for data in (d, pa.table(d)):
    t = fk.velocity(data, edges=[0, 100], segment='source', count='vendor', cycle_over='won')
    assert t['velocity'][0] == 3 * 100 * 0.5 / (50 / 86400)
    t.to_arrow(); t.to_json(); t.to_dict()
    lags = fk.estimate_lags(data, created='created', won='closed', data_end=10**8, unit=10)
    sla = fk.sla_response(data, created='created', first_touch='closed', limit=45, as_of=100)
    vol = fk.sla_volume(data, time='created', rep='source', target=1, edges=[0, 100], as_of=100)
    assert sla['met'][0] == 1 and vol['delivered'][0] == 3
plan = fk.plan_reverse_funnel(goal=40_000, deal_value=800, steps={'Lead': 0.5})
print(fk.revenue_report(2000, seed=1).splitlines()[0])
assert 'pandas' not in sys.modules
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "Sales velocity by source" in out.stdout


# -- which N, and the realised revenue beside V -----------------------------------------------------
def test_average_open_by_hand_and_the_realised_revenue(input_format):
    """Over [0, 10 days): A open all along (1), B open from day 5 (0.5), C open days 2-4 (0.2, won
    600), D open days 4-8 (0.4, lost): N = 2.1, D = 600, W = 1/2, L = mean(2, 4) = 3 days."""
    df = pd.DataFrame({"created": np.array([-10, 5, 2, 4]) * DAY,
                       "closed": pd.Series([None, 15 * DAY, 4 * DAY, 8 * DAY], dtype="Int64"),
                       "outcome": ["open", "won", "won", "lost"], "amount": [0.0, 900.0, 600.0, 50.0]})
    t = fk.velocity(as_format(df, input_format), edges=[0, 10 * DAY])
    assert t["n"][0] == pytest.approx(2.1, rel=1e-12)
    assert t["cycle_length"][0] == 3
    assert t["velocity"][0] == pytest.approx(2.1 * 600 * 0.5 / 3)
    assert t["velocity_per_period"][0] == pytest.approx(10 * 2.1 * 600 * 0.5 / 3)
    assert t["realised"][0] == 60 and t["period_length"][0] == 10
    row = t.explain(0)
    assert row.options["count"] == "average_open" and "Little's law" in row.definition
    assert t._units["realised"] == "revenue per day"
    check_contract(t)


def test_created_in_period_is_per_period_and_vendor_divides_by_l():
    df = _domain_opportunities().iloc[:40]
    per = fk.velocity(df, edges=["2024-01-01", "2025-01-01"], count="created_per_period", cycle_over="won")
    assert per["velocity_per_period"][0] == pytest.approx(40 * 25_000 * 0.25)
    assert per["velocity"][0] == pytest.approx(40 * 25_000 * 0.25 / 366)  # 2024 has 366 days
    assert per["realised"][0] == pytest.approx(250_000 / 366)
    vendor = fk.velocity(df, edges=["2024-01-01", "2025-01-01"], **VENDOR)
    assert vendor["velocity"][0] == pytest.approx(2777.7777777777778)
    assert "vendor formula" in vendor.explain(0).definition
    # A row of created_in_period splits by driver with the period length as the denominator.
    rows = fk.velocity(df, edges=["2024-01-01", "2024-07-01", "2025-01-01"], count="created_per_period").to_dict("records")
    split = fk.decompose_velocity(rows[0], rows[0])
    assert split.v0 == pytest.approx(rows[0]["velocity"])


def test_default_velocity_is_the_realised_revenue_in_steady_state():
    """Little's law on the sample data: after the pipeline has filled (the second half of the
    year) N * D * W / L with N the time-averaged open pipeline is within 10% of the won revenue
    realised per day; the vendor formula is several times too high."""
    crm = fk.sample_crm(20_000, seed=42)
    opps = fk.opportunities_from_stages(crm)
    edges = ["2024-07-01", "2024-12-31"]
    t = fk.velocity(opps, edges=edges)
    assert t["velocity"][0] / t["realised"][0] == pytest.approx(1.0, abs=0.10)
    # Independently: the won amounts closed in the window over its length in days.
    d = opps.to_pandas()
    lo, hi = pd.Timestamp(edges[0]), pd.Timestamp(edges[1])
    won = d[(d["outcome"] == "won") & (d["closed"] >= lo) & (d["closed"] < hi)]
    assert t["realised"][0] == pytest.approx(won["amount"].sum() / ((hi - lo) / pd.Timedelta(days=1)))
    vendor = fk.velocity(opps, edges=edges, **VENDOR)
    assert vendor["velocity"][0] / vendor["realised"][0] > 3


def test_shapley_split_against_every_order():
    import itertools

    x0 = [40.0, 25_000.0, 0.25, 1 / 90]
    x1 = [50.0, 24_000.0, 0.30, 1 / 80]
    want = [0.0] * 4
    for order in itertools.permutations(range(4)):
        cur = list(x0)
        for k in order:
            before = math.prod(cur)
            cur[k] = x1[k]
            want[k] += math.prod(cur) - before
    r = fk.decompose_velocity((40, 25_000, 0.25, 90), (50, 24_000, 0.30, 80))
    got = [r.shapley[k] for k in ("N", "D", "W", "L")]
    np.testing.assert_allclose(got, np.array(want) / 24, rtol=1e-12)
    assert sum(got) == pytest.approx(r.change)
    table = r.drivers()
    np.testing.assert_allclose(table["shapley_contribution"], got)
    check_contract(table)


# -- review fixes: count words, decomposition bases, Little's law in explain() ---------------------
def test_created_in_period_is_a_deprecated_alias_of_the_vendor_figure():
    """count="created_in_period" keeps the numbers old callers got (created in the period, over
    L), with a warning naming both new words; the per-period figure is "created_per_period"."""
    df = _domain_opportunities()
    edges = ["2024-01-01", "2025-01-01"]
    with pytest.warns(DeprecationWarning, match="created_per_period") as rec:
        old = fk.velocity(df, edges=edges, count="created_in_period", cycle_over="won")
    assert "vendor" in str(rec[0].message)
    vendor = fk.velocity(df, edges=edges, **VENDOR)
    assert old["velocity"][0] == vendor["velocity"][0] == pytest.approx(41 * 25_000 * 0.25 / 90)
    assert old.explain().options["count"] == "vendor"
    per = fk.velocity(df, edges=edges, count="created_per_period", cycle_over="won")
    assert per["velocity_per_period"][0] == pytest.approx(41 * 25_000 * 0.25)


def test_decomposition_refuses_rows_of_different_bases():
    """A created_per_period row (L = period length) against an average_open row (L = cycle
    length) used to split silently into meaningless drivers; the error names the option."""
    crm = fk.sample_crm(20_000, seed=42)
    opp = fk.opportunities_from_stages(crm)
    a = fk.velocity(opp, edges=["2024-07-01", "2024-10-01"], count="created_per_period").to_dict("records")[0]
    b = fk.velocity(opp, edges=["2024-10-01", "2024-12-31"]).to_dict("records")[0]
    with pytest.raises(ValueError, match="option 'count': 'created_per_period' \\(before\\) vs 'average_open'"):
        fk.decompose_velocity(a, b)
    c = fk.velocity(opp, edges=["2024-10-01", "2024-12-31"], cycle_stat="median").to_dict("records")[0]
    with pytest.raises(ValueError, match="option 'cycle_stat'"):
        fk.decompose_velocity(b, c)
    # Same basis: the denominator is read from the row's basis, not guessed; L for average_open.
    b0 = fk.velocity(opp, edges=["2024-07-01", "2024-10-01"]).to_dict("records")[0]
    d = fk.decompose_velocity(b0, b)
    assert d.v0 == pytest.approx(b0["n"] * b0["deal_value"] * b0["win_rate"] / b0["cycle_length"])
    a1 = fk.velocity(opp, edges=["2024-10-01", "2024-12-31"], count="created_per_period").to_dict("records")[0]
    d = fk.decompose_velocity(a, a1)
    assert d.v0 == pytest.approx(a["n"] * a["deal_value"] * a["win_rate"] / a["period_length"])
    assert d.v0 == pytest.approx(a["velocity"])


def test_explain_claims_littles_law_only_when_it_holds():
    df = _domain_opportunities()
    edges = ["2024-01-01", "2025-01-01"]
    ok = fk.velocity(df, edges=edges).explain(0).definition
    assert "by Little's law" in ok
    won = fk.velocity(df, edges=edges, cycle_over="won", cycle_stat="median").explain(0).definition
    assert "by Little's law" not in won and "does not apply" in won
    assert "won deals only" in won and "median" in won
    start = fk.velocity(df, edges=edges, count="open_at_start").explain(0).definition
    assert "by Little's law" not in start


def test_periods_past_the_data_end_are_marked_partial():
    """A quarter cut at 2024-11-15: N keeps the deals open after the data ends while realised
    counts only the observed half, so V is not comparable: the row says so."""
    crm = fk.sample_crm(20_000, seed=42)
    cut = crm[crm["time"] < "2024-11-15"]
    opp = fk.opportunities_from_stages(cut)
    t = fk.velocity(opp, edges=["2024-07-01", "2024-10-01", "2025-01-01"])
    rows = t.to_pandas()
    assert not rows["partial"][0] and rows["observed"][0] == 1.0
    assert rows["partial"][1]
    # The end of the data: the latest created, closed, SQL or first-touch time of the opportunities.
    last = max(pd.Series(opp[c]).max() for c in ("created", "closed", "sql_time", "first_touch"))
    share = (last - pd.Timestamp("2024-10-01")) / (pd.Timestamp("2025-01-01") - pd.Timestamp("2024-10-01"))
    assert rows["observed"][1] == pytest.approx(share, abs=1e-12)
    ex = t.explain(1)
    assert "PARTIAL" in ex.definition and str(ex.inputs["as_of"]).startswith("2024-11-14")
    assert str(ex.inputs["period_start"]).startswith("2024-10-01")
    # An explicit as_of at the period end makes it whole.
    whole = fk.velocity(opp, edges=["2024-10-01", "2025-01-01"], as_of="2025-01-01")
    assert not whole["partial"][0]


def test_decompose_velocity_checks_inputs_like_velocity_formula():
    """A win rate above 1, a negative or a NaN input is refused as velocity_formula refuses it,
    naming the row (before / after) and the field."""
    with pytest.raises(ValueError, match="option 'win_rate': value 1.5 must be in \\[0, 1\\]"):
        fk.velocity_formula(40, 25_000, 1.5, 90)
    good = (40, 25_000, 0.25, 90)
    with pytest.raises(ValueError, match="option 'after', field 'win_rate': value 1.5 must be in"):
        fk.decompose_velocity(good, (50, 24_000, 1.5, 80))
    with pytest.raises(ValueError, match="option 'before', field 'win_rate': value -0.25"):
        fk.decompose_velocity((40, 25_000, -0.25, 90), good)
    with pytest.raises(ValueError, match="option 'before', field 'n': value NaN"):
        fk.decompose_velocity((math.nan, 25_000, 0.25, 90), good)
    with pytest.raises(ValueError, match="option 'after', field 'cycle_length'"):
        fk.decompose_velocity(good, (40, 25_000, 0.25, -1))
    row = {"n": 50, "deal_value": 24_000, "win_rate": 1.2, "cycle_length": 80}
    with pytest.raises(ValueError, match="option 'after', field 'win_rate': value 1.2"):
        fk.decompose_velocity(good, row)
    # A win rate of exactly 1 is a valid input of both.
    assert fk.decompose_velocity(good, (40, 25_000, 1.0, 90)).v1 == pytest.approx(fk.velocity_formula(40, 25_000, 1.0, 90))
