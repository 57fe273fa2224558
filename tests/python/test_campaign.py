"""The campaign report against pandas group-bys and statsmodels; names, time units and intervals;
every input format; the contract."""

from __future__ import annotations

import math
import sys

import numpy as np
import pandas as pd
import pytest

import funnelkit as fk
from conftest import as_format
from contract import check_contract
from row_orders import THREADS, three_orders
from funnelkit import campaign


def reference_campaign(df: pd.DataFrame, segment: str) -> pd.DataFrame:
    ladder = ["Lead", "MQL", "SAL", "SQL", "Opportunity", "Customer"]
    rank = {s: i for i, s in enumerate(ladder)}
    d = df.sort_values(["entity", "time"], kind="stable")
    first = d.groupby("entity").first()
    top = d.assign(r=d["stage"].astype(str).map(rank)).groupby("entity")["r"].max()
    won = d[d["stage"] == "Customer"].groupby("entity").agg(t=("time", "min"), amount=("amount", "last"))
    lost = set(d.loc[d["stage"] == "Lost", "entity"])
    e = pd.DataFrame({"seg": first[segment].astype(str), "top": top, "start": first["time"]})
    e["won"] = e.index.isin(won.index)
    e["lost"] = e.index.isin(lost) & ~e["won"]
    e["revenue"] = won["amount"].reindex(e.index).fillna(0.0)
    e["days"] = (won["t"].reindex(e.index) - e["start"]).dt.total_seconds() / 86400
    g = e.groupby("seg")
    return pd.DataFrame({
        "leads": g.size(), "mqls": g["top"].apply(lambda s: (s >= 1).sum()),
        "sqls": g["top"].apply(lambda s: (s >= 3).sum()), "opportunities": g["top"].apply(lambda s: (s >= 4).sum()),
        "won": g["won"].sum(), "lost": g["lost"].sum(), "revenue": g["revenue"].sum(), "days_to_win": g["days"].mean(),
    })


@pytest.mark.parametrize("segment", ["source", "campaign"])
def test_campaign_report_matches_pandas_reference(sample_df, segment):
    from statsmodels.stats.multitest import multipletests
    from statsmodels.stats.proportion import proportion_confint, proportions_ztest

    labels = sorted(sample_df[segment].astype(str).unique())
    cost = {lab: 1000.0 * (i + 1) for i, lab in enumerate(labels) if i != 1}
    rep = campaign.campaign_report(sample_df, model=fk.sample_model(), segment=segment, cost=cost)
    got = rep.to_pandas().set_index(segment)
    ref = reference_campaign(sample_df, segment)
    for lab in ref.index:
        row = got.loc[lab]
        for col in ["leads", "mqls", "sqls", "opportunities", "won", "lost"]:
            assert row[col] == ref.loc[lab, col], (lab, col)
        assert row["revenue"] == pytest.approx(ref.loc[lab, "revenue"], rel=1e-12)
        if ref.loc[lab, "won"] > 0:
            assert row["days_to_win"] == pytest.approx(ref.loc[lab, "days_to_win"], rel=1e-9)
        lo, hi = proportion_confint(int(row["won"]), int(row["leads"]), alpha=0.05, method="wilson")
        assert (row["lead_to_won_lower"], row["lead_to_won_upper"]) == pytest.approx((lo, hi), rel=1e-9)
        # (a, b): b = the segment against a = all other leads; z > 0 when the segment converts better.
        x_rest = got.loc["(all)", "won"] - row["won"]
        n_rest = got.loc["(all)", "leads"] - row["leads"]
        z, p = proportions_ztest([row["won"], x_rest], [row["leads"], n_rest])
        assert row["z"] == pytest.approx(z, rel=1e-9)
        assert row["p_value"] == pytest.approx(p, rel=1e-9, abs=1e-300)
        if lab in cost:
            assert row["cac"] == pytest.approx(cost[lab] / row["won"]) if row["won"] else math.isnan(row["cac"])
            assert row["roi"] == pytest.approx((row["revenue"] - cost[lab]) / cost[lab])
            assert not row["cost_missing"]
        else:
            assert row["cost_missing"] and math.isnan(row["cost_per_lead"])
    assert rep.missing_cost == [labels[1]]
    assert got.loc["(all)", "cost_missing"] and math.isnan(got.loc["(all)", "cac"])
    tested = got.drop(index="(all)")["p_value"].dropna()
    holm = multipletests(tested.to_numpy(), method="holm")[1]
    np.testing.assert_allclose(got.loc[tested.index, "p_holm"], holm, rtol=1e-9)
    assert "CampaignReport(by" in repr(rep)
    assert rep.row(labels[0])["leads"] == ref.loc[labels[0], "leads"]


@pytest.mark.parametrize("interval", ["agresti_coull", "jeffreys", "clopper_pearson"])
def test_confidence_and_interval_methods(sample_df, interval):
    from statsmodels.stats.proportion import proportion_confint

    method = {"agresti_coull": "agresti_coull", "jeffreys": "jeffreys", "clopper_pearson": "beta"}[interval]
    rep = campaign.campaign_report(sample_df, model=fk.sample_model(), confidence=0.9, interval=interval)
    for r in rep.to_dict("records"):
        lo, hi = proportion_confint(r["mqls"], r["leads"], alpha=0.1, method=method)
        assert (r["lead_to_mql_lower"], r["lead_to_mql_upper"]) == pytest.approx((lo, hi), rel=1e-7, abs=1e-12)
    assert rep.explain().options["interval"] == interval and rep.explain().options["confidence"] == 0.9
    with pytest.warns(DeprecationWarning, match="option 'level' is deprecated.*'confidence'"):
        old = campaign.campaign_report(sample_df, model=fk.sample_model(), level=0.9, interval=interval)
    assert old.to_dict() == rep.to_dict()


def test_names_are_checked(sample_df):
    model = fk.sample_model()
    with pytest.raises(ValueError, match=r"option 'cost': segment 'Webinr' \(did you mean 'Webinar'\?\) never occurs "
                                         r"in column 'source'"):
        campaign.campaign_report(sample_df, model=model, cost={"Webinr": 5.0})
    with pytest.warns(UserWarning, match="'Nowhere'"):
        rep = campaign.campaign_report(sample_df, model=model, cost={"Nowhere": 5.0, "Webinar": 10.0}, absent="warn")
    assert rep.row("Webinar")["cost"] == 10.0
    with pytest.raises(ValueError, match="option 'cost': value -5.0 for segment 'Webinar'"):
        campaign.campaign_report(sample_df, model=model, cost={"Webinar": -5.0})
    with pytest.raises(ValueError, match=r"option 'mql_stage': stage 'MQl' is not valid; did you mean 'MQL'"):
        campaign.campaign_report(sample_df, model=model, mql_stage="MQl")
    with pytest.raises(ValueError, match="option 'mql_stage': stage 'Lost' is not valid"):
        campaign.campaign_report(sample_df, model=model, mql_stage="Lost")
    with pytest.raises(ValueError, match=r"option 'interval': value 'wald' is not valid"):
        campaign.campaign_report(sample_df, model=model, interval="wald")
    with pytest.raises(ValueError, match=r"option 'skipped': value 'implies' is not valid; did you mean 'implied'"):
        campaign.campaign_report(sample_df, model=model, skipped="implies")
    with pytest.raises(ValueError, match=r"column 'sourc' \(option 'segment'\) is not in the input; did you mean "
                                         r"'source'"):
        campaign.campaign_report(sample_df, model=model, segment="sourc")
    rep = campaign.campaign_report(sample_df, model=model)
    with pytest.raises(ValueError, match=r"segment 'Referal' is not valid; did you mean 'Referral'"):
        rep.row("Referal")


def test_time_units(sample_df):
    model = fk.sample_model()
    ref = campaign.campaign_report(sample_df, model=model)
    secs = sample_df.assign(time=sample_df["time"].astype("int64"))  # datetime64[s] -> integer seconds
    assert campaign.campaign_report(secs, model=model).to_dict() == ref.to_dict()
    ms = secs.assign(time=secs["time"] * 1000)
    np.testing.assert_allclose(campaign.campaign_report(ms, model=model, time_unit="ms")["days_to_win"],
                               ref["days_to_win"], rtol=1e-12)
    assert ref._units["days_to_win"] == "days"
    with pytest.raises(ValueError, match="option 'time_unit'"):
        campaign.campaign_report(ms, model=model, time_unit="minutes")


def test_results_keep_the_contract(sample_df):
    rep = campaign.campaign_report(sample_df, model=fk.sample_model(), cost={"Webinar": 1000.0})
    doc = check_contract(rep)
    assert doc["data"][-1]["source"] == "(all)"
    assert {"name": "days_to_win", "type": "number", "unit": "days"} in doc["columns"]
    assert "b = the segment against a = all other leads" in rep.explain().definition


def test_every_input_format_gives_the_same_report(sample_df, input_format):
    frame = as_format(sample_df, input_format)
    for segment in ("source", "campaign"):
        ref = campaign.campaign_report(sample_df, model=fk.sample_model(), segment=segment, cost={"Webinar": 100.0}
                                       if segment == "source" else None)
        got = campaign.campaign_report(frame, model=fk.sample_model(), segment=segment, cost={"Webinar": 100.0}
                                       if segment == "source" else None)
        assert got.to_dict() == ref.to_dict()


def test_numpy_and_dict_input_need_no_pandas(sample_df, monkeypatch):
    d = {c: sample_df[c].to_numpy() if str(sample_df[c].dtype) != "category" else
         np.asarray(sample_df[c].astype(object)) for c in sample_df.columns}
    ref = campaign.campaign_report(sample_df, model=fk.sample_model())
    monkeypatch.setitem(sys.modules, "pandas", None)
    got = campaign.campaign_report(d, model=fk.sample_model())
    np.testing.assert_array_equal(got["won"], ref["won"])


def test_row_order_and_threads_give_identical_reports():
    crm = fk.sample_crm(12_000, seed=9)
    assert len(crm) > 3 * 8192  # every thread gets rows
    cost = {s: 1_000.0 * (i + 1) for i, s in enumerate(sorted(crm["source"].unique()))}
    ref = None
    for name, df in three_orders(crm).items():
        for threads in THREADS:
            rep = campaign.campaign_report(df, model=fk.sample_model(), cost=cost, threads=threads)
            got = rep.to_pandas()
            if ref is None:
                ref = got
                continue
            pd.testing.assert_frame_equal(got, ref, obj=f"{name}, {threads} threads")
    assert ref["leads"].sum() > 0
    with pytest.raises(ValueError, match="option 'threads'"):
        campaign.campaign_report(crm, model=fk.sample_model(), threads=0)


def test_tied_won_records_count_the_larger_amount_in_any_order():
    rows = {"entity": [1, 1, 1, 2], "time": [0, 86_400, 86_400, 0],
            "stage": ["Lead", "Customer", "Customer", "Lead"], "source": ["ads"] * 4,
            "amount": [0.0, 100.0, 900.0, 0.0]}
    df = pd.DataFrame(rows)
    for order in ([0, 1, 2, 3], [3, 2, 1, 0], [2, 0, 3, 1]):
        rep = campaign.campaign_report(df.iloc[order], model=fk.sample_model())
        assert rep.to_pandas()["revenue"].iloc[0] == 900.0
