"""The qualification audit against O(n^2) pair counts, scipy's Mann-Whitney U and manual counts;
drift by calendar period in a time zone, or by segment; every input format; the contract."""

from __future__ import annotations

import math
import sys

import numpy as np
import pandas as pd
import pytest

import funnelkit as fk
from conftest import as_format
from contract import check_contract
from funnelkit import audit


def _leads(n: int = 600, seed: int = 2) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    score = np.round(rng.random(n) * 20) / 20  # ties
    won = (rng.random(n) < 0.15 + 0.5 * score).astype(int)
    closed = np.where(won == 1, 1, (rng.random(n) < 0.8).astype(int))
    accepted = (rng.random(n) < 0.7).astype(int)
    sql = accepted * (rng.random(n) < 0.6)
    created = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 90 * 24, size=n), unit="h")
    return pd.DataFrame({"score": score, "won": won, "closed": closed, "accepted": accepted, "sql": sql,
                         "created": created, "source": rng.choice(["Webinar", "Referral", "Organic"], size=n)})


def test_audit_against_pair_counts_scipy_and_manual_counts():
    from scipy.stats import mannwhitneyu

    leads = _leads()
    score, won, closed, accepted = (leads[c].to_numpy() for c in ("score", "won", "closed", "accepted"))
    res = audit.qualification_audit(leads, threshold=0.5, closed="closed", time="created")
    s = res.summary
    m = score >= 0.5
    c = closed == 1
    assert s["mqls"] == m.sum()
    assert s["tp"] == (m & (won == 1)).sum()
    assert s["fp"] == (m & c & (won == 0)).sum()
    assert s["fn"] == (~m & (won == 1)).sum()
    assert s["precision"] == pytest.approx((m & (won == 1)).sum() / (m & c).sum())
    assert s["recall"] == pytest.approx((m & (won == 1)).sum() / (won == 1).sum())
    assert s["acceptance_rate"] == pytest.approx((m & (accepted == 1)).sum() / m.sum())
    pos, neg = score[c & (won == 1)], score[c & (won == 0)]
    pairs = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    assert s["auc"] == pytest.approx(pairs / (len(pos) * len(neg)), rel=1e-12)
    u = mannwhitneyu(pos, neg).statistic
    assert res.auc == pytest.approx(u / (len(pos) * len(neg)), rel=1e-12)
    assert audit.roc_auc(score[c], won[c]) == pytest.approx(s["auc"])
    # ROC area by trapezoids equals the AUC; the sweep at 0.5 reproduces the confusion counts.
    assert np.trapezoid(res.roc["tpr"], res.roc["fpr"]) == pytest.approx(s["auc"])
    sweep = res.sweep.to_dict("records")
    row = next(r for r in sweep if math.isclose(r["threshold"], 0.5))
    assert (row["tp"], row["fp"], row["fn"]) == (s["tp"], s["fp"], s["fn"])
    # Drift: one row per calendar month (period starts as datetimes), counts adding up.
    assert res.columns[0] == "period_start"
    assert list(res["period_start"]) == list(np.array(["2024-01-01", "2024-02-01", "2024-03-01"],
                                                      dtype="datetime64[ns]"))
    assert res.drift["leads"].sum() == len(leads)
    jan = (leads["created"] < "2024-02-01").to_numpy()
    assert res["mqls"][0] == (m & jan).sum()
    assert "AuditResult(600 leads" in repr(res)
    assert res.overall.to_dict("records")[0]["mqls"] == s["mqls"]


def test_drift_periods_follow_the_calendar_vocabulary_and_time_zone():
    leads = _leads()
    weekly = audit.qualification_audit(leads, threshold=0.5, time="created", period="week")
    starts = pd.to_datetime(weekly["period_start"])
    assert (starts.dayofweek == 0).all()  # ISO weeks start on Monday
    assert weekly["leads"].sum() == len(leads)
    ref = leads["created"].dt.to_period("W-SUN").dt.start_time.value_counts().sort_index()
    np.testing.assert_array_equal(weekly["leads"], ref.to_numpy())
    # In New York, the first hours of a UTC month still belong to the month before.
    ny = audit.qualification_audit(leads, threshold=0.5, time="created", tz="America/New_York")
    local = leads["created"].dt.tz_localize("UTC").dt.tz_convert("America/New_York")
    ref_ny = local.dt.tz_localize(None).dt.to_period("M").value_counts().sort_index()
    np.testing.assert_array_equal(ny["leads"], ref_ny.to_numpy())
    assert pd.Timestamp(ny["period_start"][1]) == pd.Timestamp("2024-01-01 05:00")  # midnight in New York, UTC
    # Integer times are seconds by default; the period starts are then integers too.
    secs = leads.assign(created=leads["created"].astype("int64") // 10**9)
    by_int = audit.qualification_audit(secs, threshold=0.5, time="created")
    assert list(by_int["period_start"]) == [1704067200, 1706745600, 1709251200]
    ms = secs.assign(created=secs["created"] * 1000)
    assert list(audit.qualification_audit(ms, threshold=0.5, time="created", time_unit="ms")["period_start"]) == \
        [1704067200000, 1706745600000, 1709251200000]
    with pytest.raises(ValueError, match=r"option 'period': value 'M' is not one of .*did you mean 'month'"):
        audit.qualification_audit(leads, threshold=0.5, time="created", period="M")
    with pytest.raises(ValueError, match="option 'period'.*needs the time column"):
        audit.qualification_audit(leads, threshold=0.5, period="month")
    with pytest.raises(ValueError, match="option 'tz'.*not a time zone; did you mean 'Europe/Berlin'"):
        audit.qualification_audit(leads, threshold=0.5, time="created", tz="Europe/Berln")


def test_drift_by_segment_and_the_deprecated_period_column():
    leads = _leads()
    by_source = audit.qualification_audit(leads, threshold=0.5, segment="source")
    assert by_source.columns[0] == "source" and list(by_source["source"]) == ["Organic", "Referral", "Webinar"]
    np.testing.assert_array_equal(by_source["leads"], leads.groupby("source").size().to_numpy())
    with pytest.warns(DeprecationWarning, match="period=<column>.*segment=<column>"):
        old = audit.qualification_audit(leads, threshold=0.5, period="source")
    assert old.to_dict() == by_source.to_dict()
    # A 0/1 column named as the period used to fail inside pandas; now it is a segment with a warning.
    with pytest.warns(DeprecationWarning):
        by_won = audit.qualification_audit(leads, threshold=0.5, period="won")
    assert list(by_won["segment"]) == [0, 1]
    np.testing.assert_array_equal(by_won["won"], [0, (leads["won"] == 1).sum()])


def test_audit_rule_outcome_and_bad_input():
    leads = pd.DataFrame({"score": [0.9, 0.1, 0.5], "mql": [True, False, True], "won": [1, 0, 0]})
    res = audit.qualification_audit(leads, mql="mql", accepted=None, sql=None)
    assert res.summary["precision"] == 0.5 and res.summary["recall"] == 1.0
    assert math.isnan(res.summary["acceptance_rate"])
    assert len(res) == 1 and res.to_dict("records")[0]["acceptance_rate"] is None
    with pytest.raises(ValueError, match="threshold"):
        audit.qualification_audit(leads, accepted=None, sql=None)
    with pytest.raises(ValueError, match=r"column 'points', row 1"):
        audit.qualification_audit(leads.assign(points=[0.1, np.nan, 0.2]), score="points", mql="mql", accepted=None,
                                  sql=None)
    with pytest.raises(ValueError, match=r"column 'won', row 2"):
        audit.qualification_audit(leads.assign(won=[1, 0, 3]), mql="mql", accepted=None, sql=None)
    with pytest.raises(ValueError, match=r"column 'acepted' \(option 'accepted'\) is not in the input"):
        audit.qualification_audit(leads, mql="mql", accepted="acepted", sql=None)
    assert audit.roc_auc([0.1, 0.2], [1, 1]) is None


def test_results_keep_the_contract():
    res = audit.qualification_audit(_leads(), threshold=0.5, closed="closed", time="created")
    doc = check_contract(res)
    assert doc["columns"][0] == {"name": "period_start", "type": "datetime"}
    assert "precision = tp / (tp + fp)" in res.explain().definition
    for table in (res.roc, res.sweep, res.overall):
        check_contract(table)
    check_contract(audit.qualification_audit(_leads(), threshold=0.5))


def test_every_input_format_gives_the_same_audit(input_format):
    leads = _leads()
    frame = as_format(leads, input_format)
    for kw in ({"time": "created"}, {"segment": "source"}, {"time": "created", "period": "quarter", "tz": 3600}):
        ref = audit.qualification_audit(leads, threshold=0.4, closed="closed", **kw)
        got = audit.qualification_audit(frame, threshold=0.4, closed="closed", **kw)
        assert got.to_dict() == ref.to_dict()
        assert got.sweep.to_dict() == ref.sweep.to_dict()
    col = frame.collect() if input_format == "polars_lazy" else frame
    score = col.column("score") if input_format == "arrow" else col["score"]
    won = col.column("won") if input_format == "arrow" else col["won"]
    assert audit.roc_auc(score, won) == audit.roc_auc(leads["score"], leads["won"])


def test_numpy_and_dict_input_need_no_pandas(monkeypatch):
    leads = _leads()
    d = {k: leads[k].to_numpy() for k in leads.columns}
    ref = audit.qualification_audit(leads, threshold=0.5, time="created")
    monkeypatch.setitem(sys.modules, "pandas", None)
    got = audit.qualification_audit(d, threshold=0.5, time="created")
    np.testing.assert_array_equal(got["leads"], ref["leads"])
    assert fk.roc_auc(d["score"], d["won"]) == pytest.approx(ref.auc, rel=1e-12)
