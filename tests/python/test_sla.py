"""SLA compliance: response SLAs (met, breached, pending) and volume SLAs (delivered, pacing,
forecast) checked against pandas, in every input format, with durations and timestamps in
every form and checked names."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

import funnelkit as fk
from conftest import as_format
from contract import check_contract

DAY = 86_400


# -- response SLAs ---------------------------------------------------------------------------------
def _mqls(n: int = 4000, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    created = pd.Timestamp("2024-03-01") + pd.to_timedelta(rng.integers(0, 30 * DAY, n), unit="s")
    delay = pd.to_timedelta(rng.exponential(20 * 3600, n).astype(np.int64), unit="s")
    first = (created + delay).where(rng.random(n) < 0.8, pd.NaT)
    return pd.DataFrame({"created": created, "first_touch": first, "rep": rng.choice(["Ann", "Bo", "Cy"], n),
                         "lead": [f"L{i:05d}" for i in range(n)]})


def test_response_sla_matches_pandas():
    df = _mqls()
    as_of = pd.Timestamp("2024-03-28")
    res = fk.sla_response(df, created="created", first_touch="first_touch", limit="24h", as_of=as_of, rep="rep")
    assert isinstance(res, fk.ResponseSLA)
    deadline = df["created"] + pd.Timedelta("24h")
    t = df["first_touch"].where(df["first_touch"] <= as_of)
    status = np.select([df["created"] > as_of, t.notna() & (t <= deadline), t.notna(), as_of > deadline],
                       ["not_started", "met", "breached", "breached"], default="pending")
    np.testing.assert_array_equal(res.status, status)
    met, breached = (status == "met").sum(), (status == "breached").sum()
    assert res["compliance"][0] == pytest.approx(met / (met + breached))
    assert res.compliance == pytest.approx(met / (met + breached))
    for rep in ["Ann", "Bo", "Cy"]:
        i = list(res["group"]).index(rep)
        m = (df["rep"] == rep).to_numpy()
        assert res["by"][i] == "rep" and res["met"][i] == (status[m] == "met").sum()
        assert res["pending"][i] == (status[m] == "pending").sum()
    b = res.breaches()
    assert len(b) == breached
    over = np.where(t.notna(), (t - deadline).dt.total_seconds(), (as_of - deadline).dt.total_seconds())
    np.testing.assert_allclose(b["over_hours"], over[status == "breached"] / 3600)
    # Datetime input: deadlines are datetimes and "over" a timedelta, never raw ticks.
    assert b["deadline"].dtype.kind == "M" and b["over"].dtype.kind == "m"
    np.testing.assert_array_equal(b["over"].astype("timedelta64[s]").astype(np.int64), over[status == "breached"])
    assert list(b["rep"]) == list(df["rep"].to_numpy()[status == "breached"])
    check_contract(res)
    check_contract(b)
    items = res.items()
    check_contract(items)
    assert list(items["status"]) == list(status)
    assert "compliance" in repr(res)
    ex = res.explain()
    assert "met / (met + breached)" in ex.definition and ex.options["limit"] == "24h" and ex["inputs"]
    assert res._units["max_over"] == "hours"


@pytest.mark.parametrize("limit", ["24h", "1d", "PT24H", dt.timedelta(hours=24), np.timedelta64(24, "h"),
                                   pd.Timedelta("24h")])
def test_response_sla_in_every_input_format_and_limit_form(input_format, limit):
    df = _mqls(500)
    kw = dict(created="created", first_touch="first_touch", as_of="2024-03-28", rep="rep", entity="lead")
    ref = fk.sla_response(df, limit="24h", **kw)
    got = fk.sla_response(as_format(df, input_format), limit=limit, **kw)
    assert got.to_dict() == ref.to_dict()
    assert got.breaches().to_dict() == ref.breaches().to_dict()
    assert list(got.breaches()["entity"])[:3] == list(df["lead"].to_numpy()[got.status == "breached"][:3])


def test_durations_and_times_follow_the_time_column():
    df = _mqls(300)
    with pytest.raises(TypeError, match="option 'limit': a bare number \\(86400\\) is ambiguous"):
        fk.sla_response(df, created="created", first_touch="first_touch", limit=86400, as_of="2024-03-28")
    with pytest.raises(TypeError, match="option 'as_of': a bare number"):
        fk.sla_response(df, created="created", first_touch="first_touch", limit="1d", as_of=1711584000)
    secs = df.assign(created=df["created"].astype("int64") // 10**9,
                     first_touch=pd.Series(df["first_touch"].astype("int64") // 10**9, dtype="Int64")
                     .mask(df["first_touch"].isna()))
    ref = fk.sla_response(df, created="created", first_touch="first_touch", limit="1d", as_of="2024-03-28")
    for limit in (86400, "1d"):
        got = fk.sla_response(secs, created="created", first_touch="first_touch", limit=limit, as_of=1711584000)
        np.testing.assert_array_equal(got.status, ref.status)
        assert got.breaches()["over"].dtype == np.int64
    ms = secs.assign(created=secs["created"] * 1000, first_touch=secs["first_touch"] * 1000)
    got = fk.sla_response(ms, created="created", first_touch="first_touch", limit="1d", as_of=1711584000_000,
                          time_unit="ms")
    np.testing.assert_array_equal(got.status, ref.status)
    minutes = fk.sla_response(df, created="created", first_touch="first_touch", limit="1d", as_of="2024-03-28",
                              unit="minute")
    np.testing.assert_allclose(minutes["max_over"], ref["max_over"] * 60)
    with pytest.warns(DeprecationWarning, match="'display_unit' is deprecated; use 'unit'"):
        old = fk.sla_response(df, created="created", first_touch="first_touch", limit="1d", as_of="2024-03-28",
                              display_unit="minute")
    assert old.to_dict() == minutes.to_dict()


def test_touches_within_the_limit_by_row_or_by_entity():
    items = pd.DataFrame({"created": [0, 0, 450], "lead": ["a", "b", "c"]})
    touches = pd.DataFrame({"item": [0, 0, 1, 1, 2], "time": [10, 90, 10, 150, 460]})
    res = fk.sla_response(items, created="created", limit=100, touches=2, touch_data=touches, as_of=500)
    assert list(res.status) == ["met", "breached", "pending"]
    by_id = pd.DataFrame({"lead": ["b", "a", "a", "c", "b"], "time": [10, 10, 90, 460, 150]})
    for fmt in ("pandas", "polars", "arrow", "dict"):
        got = fk.sla_response(items, created="created", limit=100, touches=2, touch_data=as_format(by_id, fmt),
                              entity="lead", as_of=500)
        assert list(got.status) == ["met", "breached", "pending"]
        assert list(got.breaches()["entity"]) == ["b"]
    with pytest.raises(ValueError, match="id 'z' is not an item"):
        fk.sla_response(items, created="created", limit=100, touches=2, entity="lead", as_of=500,
                        touch_data=pd.DataFrame({"lead": ["z"], "time": [5]}))
    with pytest.raises(ValueError, match="touch_data="):
        fk.sla_response(items, created="created", limit=100, touches=2, as_of=500)
    bad = pd.DataFrame({"created": [100], "first_touch": [50]})
    with pytest.raises(ValueError, match="before"):
        fk.sla_response(bad, created="created", first_touch="first_touch", limit=10, as_of=1000)
    with pytest.raises(ValueError, match="column 'first_tuch'.*did you mean 'first_touch'"):
        fk.sla_response(bad, created="created", first_touch="first_tuch", limit=10, as_of=1000)


# -- volume SLAs ------------------------------------------------------------------------------------
def test_volume_sla_matches_pandas():
    rng = np.random.default_rng(9)
    n = 3000
    t = rng.integers(0, 28 * DAY, n)
    rep = rng.choice(["Ann", "Bo", "Cy", "Di"], n)
    df = pd.DataFrame({"time": t, "rep": rep})
    weeks = [7 * DAY * k for k in range(5)]
    as_of = 17 * DAY + 12 * 3600
    reps = ["Ann", "Bo", "Cy", "Di", "Ed"]
    res = fk.sla_volume(df, time="time", rep="rep", target=180, edges=weeks, as_of=as_of, reps=reps)
    assert isinstance(res, fk.VolumeSLA) and len(res) == 4 * 6
    rows = res.to_dict("records")
    for k in range(4):
        lo, hi = weeks[k], weeks[k + 1]
        in_p = (t >= lo) & (t < hi) & (t < as_of)
        elapsed = min(1.0, max(0.0, (as_of - lo) / (hi - lo)))
        block = rows[k * 6:(k + 1) * 6]
        assert block[0]["delivered"] == in_p.sum() and block[0]["committed"] == 180 * 5
        for j, r in enumerate(reps):
            row = block[j + 1]
            d = (in_p & (rep == r)).sum()
            assert row["rep"] == r and row["delivered"] == d and row["period_start"] == lo
            if elapsed >= 1:
                assert row["status"] == ("met" if d >= 180 else "breached")
            elif elapsed > 0:
                assert row["status"] == "pending"
                assert row["forecast"] == pytest.approx(d / elapsed)
                assert row["pacing"] == pytest.approx(d / (180 * elapsed))
            else:
                assert row["status"] == "not_started" and row["pacing"] is None
    br = res.breaches()
    assert (br["status"] == "breached").all()
    assert "Ed" in set(br["rep"])  # a rep with nothing delivered is a breach, not absent
    check_contract(res)
    check_contract(br)
    ex = res.explain()
    assert ex["metric"].startswith("volume SLA") and ex.options["target"] == 180


def test_volume_sla_by_calendar_month_in_every_input_format(input_format):
    df = pd.DataFrame({"time": pd.to_datetime(["2024-01-03", "2024-01-20", "2024-02-02", "2024-03-15"]),
                       "rep": ["a", "b", "a", "a"]})
    res = fk.sla_volume(as_format(df, input_format), time="time", rep="rep", target=1, period="month",
                        as_of="2024-03-16")
    assert [str(s)[:10] for s in res["period_start"][::3]] == ["2024-01-01", "2024-02-01", "2024-03-01"]
    assert res["period_start"].dtype.kind == "M"
    assert list(res["status"]) == ["met", "met", "met", "breached", "met", "breached", "pending", "pending", "pending"]
    ref = fk.sla_volume(df, time="time", rep="rep", target=1, period="month", as_of="2024-03-16")
    assert res.to_dict() == ref.to_dict()


def test_volume_sla_periods_names_and_deprecations():
    df = pd.DataFrame({"time": pd.to_datetime(["2024-01-03", "2024-01-20"]), "rep": ["a", "b"]})
    kw = dict(time="time", rep="rep", target=1, as_of="2024-03-16")
    with pytest.raises(ValueError, match="did you mean 'month'"):
        fk.sla_volume(df, period="M", **kw)
    with pytest.warns(DeprecationWarning, match="use 'period'"):
        old = fk.sla_volume(df, periods="month", **kw)
    assert old.to_dict() == fk.sla_volume(df, period="month", **kw).to_dict()
    with pytest.raises(ValueError, match="rep 'b' is not valid; did you mean 'bb'"):
        fk.sla_volume(df, period="month", reps=["a", "bb"], **kw)
    berlin = fk.sla_volume(df, period="week", tz="Europe/Berlin", **kw)
    assert str(berlin["period_start"][0]) == "2023-12-31T23:00:00.000000000"  # Monday 00:00 in Berlin
    with pytest.raises(ValueError, match="is not a time zone; did you mean 'Europe/Berlin'"):
        fk.sla_volume(df, period="week", tz="Europe/Berln", **kw)


def test_revenue_report_demo():
    text = fk.revenue_report(5_000, seed=1)
    assert "Sales velocity by source" in text
    assert "Webinar" in text and "Plan for" in text and "ResponseSLA(compliance" in text
    assert "VolumeSLA(" in text


# -- mean over the limit: exact, unit-free and order-free ------------------------------------------
_OVERS = [719_831, 227_121, 442_622, 761_112, 30_452]  # seconds over a 24 h limit


def _late(unit: str, order: list[int] | None = None) -> pd.DataFrame:
    start = np.datetime64("2024-03-01T00:00:00", unit)
    created = np.array([start] * len(_OVERS), dtype=f"datetime64[{unit}]")
    touch = created + np.array([24 * 3600 + o for o in _OVERS], dtype="timedelta64[s]").astype(f"timedelta64[{unit}]")
    df = pd.DataFrame({"created": created, "first_touch": touch, "rep": ["a", "b", "a", "b", "a"]})
    return df if order is None else df.iloc[order].reset_index(drop=True)


def test_mean_over_is_the_same_for_every_time_unit_and_row_order():
    from fractions import Fraction
    kw = dict(created="created", first_touch="first_touch", limit="24h", as_of="2024-06-01", rep="rep")
    ref = fk.sla_response(_late("s"), **kw)
    # Hand-worked: 2,181,138 s over the limit in 5 breaches = 121.17433... hours, rounded once.
    assert ref["breached"][0] == 5
    assert ref["mean_over"][0] == float(Fraction(sum(_OVERS), 5 * 3600))
    assert ref["max_over"][0] == 761_112 / 3600
    for unit in ("ms", "us", "ns"):
        got = fk.sla_response(_late(unit), **kw)
        # Identical to the bit (the double sum in nanoseconds used to land one ulp away).
        np.testing.assert_array_equal(np.asarray(got["mean_over"]), np.asarray(ref["mean_over"]))
        np.testing.assert_array_equal(np.asarray(got["max_over"]), np.asarray(ref["max_over"]))
        np.testing.assert_array_equal(np.asarray(got.breaches()["over_hours"]),
                                      np.asarray(ref.breaches()["over_hours"]))
    # Row order: many breaches of large nanosecond overs, summed exactly.
    df = _mqls(4000)
    df = df.assign(created=df["created"].astype("datetime64[ns]"), first_touch=df["first_touch"] + pd.Timedelta("123ns"))
    kw = dict(created="created", first_touch="first_touch", limit="1h", as_of="2024-04-30", rep="rep")
    want = np.asarray(fk.sla_response(df, **kw)["mean_over"])
    for seed in range(5):
        got = fk.sla_response(df.sample(frac=1.0, random_state=seed).reset_index(drop=True), **kw)
        np.testing.assert_array_equal(np.asarray(got["mean_over"]), want)
