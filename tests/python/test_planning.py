"""Planning: the reverse funnel (the DOMAIN's $40,000 / $800 example and its floating-point
trap), capacity, goal splits, and time lags (estimated from every input format and checked
against numpy, projected forwards and planned backwards)."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest

import funnelkit as fk
from conftest import as_format
from contract import check_contract

DAY = 86_400
DOMAIN_STEPS = {"Lead": 0.5, "Connect": 0.6, "Discovery call": 0.5, "Demo": 1 / 3}


# -- the reverse funnel ------------------------------------------------------------------------------
def test_domain_plan_and_the_floating_point_trap():
    p = 0.5 * 0.6 * 0.5 * (1 / 3)
    assert math.ceil(50 / p) == 1001  # the naive answer
    assert fk.ceil_whole(50 / p) == 1000
    plan = fk.plan_reverse_funnel(goal=40_000, deal_value=800, goal_per_period=True, reps=10, steps=DOMAIN_STEPS)
    assert isinstance(plan, fk.FunnelPlan)
    assert plan.stages == ["Lead", "Connect", "Discovery call", "Demo", "Customer"]
    assert list(plan["volume"]) == [1000, 500, 300, 150, 50]
    assert plan.volume("Lead") == 1000 and plan["per_rep_per_period"][0] == 100
    doc = check_contract(plan)
    assert [r["volume"] for r in doc["data"]] == [1000, 500, 300, 150, 50]
    assert doc["data"][-1]["rate"] is None  # the won stage has no next stage
    ex = plan.explain()
    assert ex["inputs"]["volume Lead"] == 1000 and ex["inputs"]["goal"] == 40_000
    assert "ceil" in ex["formula"] and "once per stage" in ex.definition
    assert ex.options["rounding"] == "deals_first" and ex.options["reps"] == 10
    assert "Lead" in repr(plan)
    df = plan.to_pandas()
    assert list(df["stage"].cat.categories) == plan.stages


def test_round_once_against_exact_fractions():
    """$35,000 at $800 is 43.75 deals: rounding the deals up first (or chained) asks for 880 leads,
    rounding the unrounded goal once per stage for 875; checked with exact rational arithmetic."""
    from fractions import Fraction
    from math import ceil

    rates = [Fraction(1, 2), Fraction(3, 5), Fraction(1, 2), Fraction(1, 3)]
    deals = Fraction(35_000, 800)

    def need(start: Fraction, k: int) -> Fraction:
        prod = Fraction(1)
        for r in rates[k:]:
            prod *= r
        return start / prod

    once = [ceil(need(deals, k)) for k in range(4)] + [ceil(deals)]
    first = [ceil(need(Fraction(ceil(deals)), k)) for k in range(4)] + [ceil(deals)]
    assert once[0] == 875 and first[0] == 880
    for mode, want in (("round_once", once), ("deals_first", first), ("chained", first)):
        plan = fk.plan_reverse_funnel(goal=35_000, deal_value=800, steps=DOMAIN_STEPS, rounding=mode, reps=10)
        assert list(plan["volume"]) == want, mode
        assert plan.explain().options["rounding"] == mode
    plan = fk.plan_reverse_funnel(goal=35_000, deal_value=800, steps=DOMAIN_STEPS, rounding="round_once", reps=10)
    assert list(plan["per_rep_per_period"]) == [ceil(need(deals, k) / 10) for k in range(4)] + [ceil(deals / 10)]
    assert "rounded once" in plan.explain()["formula"]
    check_contract(plan)
    # No floating-point excess in any mode: $40,000 needs 1,000 leads.
    for mode in ("round_once", "deals_first", "chained"):
        assert fk.plan_reverse_funnel(goal=40_000, deal_value=800, steps=DOMAIN_STEPS, rounding=mode).volume("Lead") == 1000
    with pytest.warns(DeprecationWarning, match="deals_first"):
        old = fk.plan_reverse_funnel(goal=35_000, deal_value=800, steps=DOMAIN_STEPS, rounding="from_goal")
    assert old.volume("Lead") == 880


def test_plan_names_are_checked():
    plan = fk.plan_reverse_funnel(goal=40_000, deal_value=800, steps=DOMAIN_STEPS)
    with pytest.raises(ValueError, match="stage 'Leed' is not valid; did you mean 'Lead'"):
        plan.volume("Leed")
    with pytest.raises(ValueError, match="'Lead' is repeated"):
        fk.plan_reverse_funnel(goal=1, deal_value=1, steps=[("Lead", 0.5), ("Lead", 0.5)])
    with pytest.raises(ValueError, match="won_name"):
        fk.plan_reverse_funnel(goal=1, deal_value=1, steps={"Customer": 0.5})
    with pytest.raises(ValueError, match="option 'rounding'.*did you mean 'chained'"):
        fk.plan_reverse_funnel(goal=1, deal_value=1, steps={"Lead": 0.5}, rounding="chaned")
    with pytest.raises(ValueError, match="infinite"):
        fk.plan_reverse_funnel(goal=1, deal_value=1, steps={"Lead": 0.0})
    with pytest.raises(ValueError, match="goal"):
        fk.plan_reverse_funnel(goal=-1, deal_value=1, steps={"Lead": 0.5})
    chained = fk.plan_reverse_funnel(goal=40_000, deal_value=800, steps=DOMAIN_STEPS, rounding="chained")
    assert chained.volume("Lead") == 1000


def test_steps_from_conversion_with_checked_segments(sample_df):
    table = fk.conversion(sample_df, segment="source")
    steps = fk.steps_from_conversion(table)
    assert [s for s, _ in steps] == table.stages[:-1]
    assert all(0 < r <= 1 for _, r in steps)
    assert fk.steps_from_conversion(table, segment="Webinar") != steps
    with pytest.raises(ValueError, match="segment 'Webnar' is not valid; did you mean 'Webinar'"):
        fk.steps_from_conversion(table, segment="Webnar")


def test_capacity_is_a_scalar_result():
    r = fk.reps_needed(1000, capacity=20, per="week")
    assert isinstance(r, fk.CapacityResult)
    assert r.capacity_per_month == pytest.approx(20 * 52 / 12) and r.reps == 12 and r.per == "week"
    assert fk.reps_needed(12 * 20 * 52 / 12, capacity=20, per="week").reps == 12
    doc = check_contract(r)
    assert doc["data"]["reps"] == 12
    assert r.explain()["inputs"]["volume_per_month"] == 1000 and "52 / 12" in r.explain().definition
    with pytest.raises(ValueError, match="option 'per'.*did you mean 'week'"):
        fk.reps_needed(10, capacity=2, per="weeks")


def test_goal_split_is_a_table():
    t = fk.split_goal(1_000, {"marketing": 0.7, "partners": 0.3})
    assert dict(zip(t["name"], t["goal"])) == pytest.approx({"marketing": 700, "partners": 300})
    check_contract(t)
    with pytest.raises(ValueError):
        fk.split_goal(1_000, {"marketing": 0.7})


# -- lags ---------------------------------------------------------------------------------------------
def _leads(n: int = 5000, seed: int = 11) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    created = rng.integers(0, 700 * DAY, n)
    won = np.where(rng.random(n) < 0.2, created + rng.integers(0, 200 * DAY, n), -1)
    return pd.DataFrame({"created": created, "won": pd.Series(won, dtype="Int64").mask(won < 0),
                         "source": rng.choice(["A", "B"], n), "amount": rng.integers(1000, 2000, n).astype(float)})


def test_lags_match_numpy():
    df = _leads()
    created, won, seg = df["created"].to_numpy(), df["won"].fillna(-1).to_numpy(np.int64), df["source"].to_numpy()
    unit, max_lag, end = 30 * DAY, 6, 800 * DAY
    t = fk.estimate_lags(df, created="created", won="won", segment="source", amount="amount", unit=unit,
                         max_lag=max_lag, data_end=end)
    mature = created + (max_lag + 1) * unit <= end
    for s in ["A", "B"]:
        m = mature & (seg == s)
        lag = (won[m & (won >= 0)] - created[m & (won >= 0)]) // unit
        in_range = lag[lag <= max_lag]
        lm = t.model(s)
        np.testing.assert_allclose(lm.shares, np.bincount(in_range, minlength=max_lag + 1) / len(in_range), rtol=1e-12)
        assert lm.win_rate == pytest.approx(len(in_range) / m.sum())
    check_contract(t)
    summary = t.summary()
    check_contract(summary)
    assert list(summary["source"]) == ["(all)", "A", "B"]
    assert t.explain("B")["inputs"]["segment"] == "B" and t.explain().options["max_lag"] == 6
    with pytest.raises(ValueError, match="segment 'b' is not valid; did you mean 'B'"):
        t.model("b")


def test_lags_in_every_input_format_and_with_datetimes(input_format):
    df = _leads(2000, seed=4)
    kw = dict(created="created", won="won", segment="source", amount="amount", max_lag=5)
    ref = fk.estimate_lags(df, unit=30 * DAY, data_end=800 * DAY, **kw)
    got = fk.estimate_lags(as_format(df, input_format), unit=30 * DAY, data_end=800 * DAY, **kw)
    assert got.to_dict() == ref.to_dict() and got.summary().to_dict() == ref.summary().to_dict()
    dts = df.assign(created=pd.to_datetime(df["created"], unit="s"), won=pd.to_datetime(df["won"].astype("float64"), unit="s"))
    for unit in ("30d", dt.timedelta(days=30), np.timedelta64(30, "D")):
        t = fk.estimate_lags(as_format(dts, input_format), unit=unit, data_end=pd.Timestamp(800 * DAY, unit="s"), **kw)
        assert t.to_dict() == ref.to_dict()
    with pytest.raises(TypeError, match="option 'unit': a bare number"):
        fk.estimate_lags(dts, unit=30 * DAY, data_end="1972-03-11", **kw)
    with pytest.raises(TypeError, match="option 'data_end': a bare number"):
        fk.estimate_lags(dts, unit="30d", data_end=800 * DAY, **kw)


def test_lag_unit_words_and_the_deprecated_period_keyword():
    df = _leads(1000)
    month = fk.estimate_lags(df, created="created", won="won", data_end=800 * DAY, unit="month")
    assert month.explain().options["unit_ticks"] == 2_629_746
    with pytest.warns(DeprecationWarning, match="'period' is deprecated; use 'unit'"):
        old = fk.estimate_lags(df, created="created", won="won", data_end=800 * DAY, period="month")
    assert old.to_dict() == month.to_dict()


def test_projection_and_plan_round_trip():
    df = _leads()
    t = fk.estimate_lags(df, created="created", won="won", amount="amount", unit=30 * DAY, max_lag=6,
                         data_end=800 * DAY)
    lm = t.model()
    leads = np.random.default_rng(1).integers(100, 1000, 12).astype(float)
    fwd = lm.project(leads)
    check_contract(fwd)
    assert list(fwd.columns) == ["month", "leads", "wins", "revenue", "from_history"]
    plan = lm.plan(fwd["revenue"])
    assert isinstance(plan, fk.LeadPlan)
    check_contract(plan)
    np.testing.assert_allclose(plan["leads"], leads, rtol=1e-6)
    assert plan.feasible and set(plan["status"]) == {"met"}
    assert plan.explain()["metric"] and plan.explain().options["win_rate"] == lm.win_rate


def test_lead_plan_too_close_to_now():
    lm = fk.LagModel(0.1, (0.0, 0.6, 0.4), 1000.0)
    plan = lm.plan([5000, 6000, 6000])
    assert not plan.feasible and plan.first_lag == 1
    assert plan["status"][0] == "too_close" and "too close" in plan["reason"][0]
    assert (plan["leads"] >= 0).all()
    check_contract(plan)
    with pytest.raises(ValueError, match="sum to 1"):
        fk.LagModel(0.1, (0.5, 0.4), 1000.0).plan([1.0])
