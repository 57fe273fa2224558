"""The one surface: time, names, inputs and results behave the same in every function."""

from __future__ import annotations

import datetime as dt
import json
import pickle

import numpy as np
import pandas as pd
import pytest

import funnelkit as fk
from conftest import as_format
from contract import check_contract


def _events():
    t0 = pd.Timestamp("2024-03-01 09:00:00")
    return pd.DataFrame({
        "user": ["a", "a", "a", "b", "b", "c"],
        "ts": [t0, t0 + pd.Timedelta("10min"), t0 + pd.Timedelta("50min"), t0, t0 + pd.Timedelta("2h"), t0],
        "event": ["visit", "signup", "demo", "visit", "signup", "visit"],
    })


# -- time -----------------------------------------------------------------------------------
@pytest.mark.parametrize("window", ["1h", "60min", "3600s", "PT1H", dt.timedelta(hours=1), np.timedelta64(1, "h"),
                                    pd.Timedelta("1h")])
def test_window_as_a_duration_on_datetime_columns(window):
    wf = fk.window_funnel(_events(), window=window, steps=["visit", "signup", "demo"], entity="user", time="ts",
                          step="event")
    assert wf.reached == [3, 3, 1, 1]  # b signs up after 2h: outside the hour


def test_bare_number_with_datetimes_is_an_error_that_says_what_to_pass():
    with pytest.raises(TypeError, match=r"option 'window': a bare number \(3600\) is ambiguous with the datetime "
                                        r"column 'ts'; pass a duration such as '1h'"):
        fk.window_funnel(_events(), window=3600, steps=["visit", "signup"], entity="user", time="ts", step="event")
    with pytest.raises(TypeError, match="option 'data_end': a bare number"):
        fk.funnel_analysis(_events(), window="1h", steps=["visit", "signup"], entity="user", time="ts",
                           step="event", data_end=1735603200)


def test_integer_columns_take_ticks_or_durations_in_time_unit():
    ev = _events()
    ev["ts"] = ev["ts"].astype("int64") // 10**9  # seconds
    kw = dict(steps=["visit", "signup", "demo"], entity="user", time="ts", step="event")
    assert fk.window_funnel(ev, window=3600, **kw).reached == [3, 3, 1, 1]
    assert fk.window_funnel(ev, window="1h", **kw).reached == [3, 3, 1, 1]
    ms = ev.assign(ts=ev["ts"] * 1000)
    assert fk.window_funnel(ms, window="1h", time_unit="ms", **kw).reached == [3, 3, 1, 1]
    # Without time_unit the column is read as seconds: one hour is 3,600,000 ticks too few.
    assert fk.window_funnel(ms, window="1h", **kw).reached == [3, 3, 0, 0]
    with pytest.raises(ValueError, match="option 'window': value '500ms' is not a whole number of seconds"):
        fk.window_funnel(ev, window="500ms", **kw)
    with pytest.raises(ValueError, match="option 'window'.*not a duration"):
        fk.window_funnel(ev, window="1 fortnight", **kw)
    with pytest.raises(ValueError, match="must not be negative"):
        fk.window_funnel(ev, window="-1h", **kw)


def test_duration_strings_are_exact():
    from funnelkit._time import parse_duration_ns

    assert parse_duration_ns("90s", "w") == 90 * 10**9
    assert parse_duration_ns("1h30m", "w") == 5400 * 10**9
    assert parse_duration_ns("2w", "w") == 14 * 86_400 * 10**9
    assert parse_duration_ns("1.5d", "w") == 129_600 * 10**9
    assert parse_duration_ns("P7D", "w") == 7 * 86_400 * 10**9
    assert parse_duration_ns("250us", "w") == 250_000
    assert parse_duration_ns(pd.Timedelta(nanoseconds=7), "w") == 7
    assert parse_duration_ns(3600, "w") is None  # a bare number: the caller decides


def test_timestamps_accept_datetimes_and_iso_strings():
    ev = _events()
    kw = dict(window="1h", steps=["visit", "signup", "demo"], entity="user", time="ts", step="event")
    ends = ["2024-03-01T09:30:00", dt.datetime(2024, 3, 1, 9, 30), pd.Timestamp("2024-03-01 09:30"),
            np.datetime64("2024-03-01T09:30"), dt.datetime(2024, 3, 1, 10, 30, tzinfo=dt.timezone(dt.timedelta(hours=1)))]
    results = [fk.funnel_analysis(ev, data_end=e, **kw) for e in ends]
    for r in results[1:]:
        assert r.open.reached == results[0].open.reached and r.closed.reached == results[0].closed.reached
    assert results[0].data_end == np.datetime64("2024-03-01T09:30:00", "ns")


def test_calendar_periods_one_vocabulary():
    from funnelkit._time import TimeAxis, calendar_floor, parse_period

    axis = TimeAxis("t", "s", True)
    t = np.array(["2024-12-30T12:00", "2025-01-05T23:59", "2025-01-06T00:00", "1969-12-31T23:00",
                  "2024-02-29T10:00"], dtype="datetime64[s]").astype(np.int64)
    week = calendar_floor(t, axis, "week").astype("datetime64[s]")
    assert [str(x)[:10] for x in week] == ["2024-12-30", "2024-12-30", "2025-01-06", "1969-12-29", "2024-02-26"]
    q = calendar_floor(t, axis, "quarter").astype("datetime64[s]")
    assert [str(x)[:10] for x in q] == ["2024-10-01", "2025-01-01", "2025-01-01", "1969-10-01", "2024-01-01"]
    # Daylight saving: Berlin's 2024-10-27 lasts 25 hours; its day starts at 22:00 UTC the day before.
    berlin = calendar_floor(np.array([np.datetime64("2024-10-27T12:00", "s").astype(np.int64)]), axis, "day",
                            "Europe/Berlin")
    assert str(berlin.astype("datetime64[s]")[0]) == "2024-10-26T22:00:00"
    with pytest.raises(ValueError, match=r"did you mean 'week'"):
        parse_period("W")
    with pytest.raises(ValueError, match=r"option 'period'"):
        fk.funnel_analysis(_events(), window="1h", steps=["visit", "signup"], entity="user", time="ts", step="event",
                           period="fortnight")


def test_funnel_trend_by_calendar_month_merges_exactly():
    rng = np.random.default_rng(3)
    n = 3000
    t = np.datetime64("2024-01-01", "s") + rng.integers(0, 200 * 86_400, n).astype("timedelta64[s]")
    ev = pd.DataFrame({"entity": rng.integers(0, 400, n), "time": t, "step": rng.integers(-1, 3, n)})
    r = fk.funnel_analysis(ev, window="3d", steps=3, period="month", tz="America/New_York")
    parts = list(r.by_period.values())
    total = parts[0]
    for p in parts[1:]:
        total = total + p
    # Every entity with a step-1 event is in exactly one entry month.
    assert total.reached[1] == ev.loc[ev["step"] == 0, "entity"].nunique()
    daily = fk.funnel_analysis(ev, window="3d", steps=3, period="day", tz="America/New_York")
    assert sum(wf.reached[1] for wf in daily.by_period.values()) == total.reached[1]
    starts = list(r.by_period)
    assert all(pd.Timestamp(s).tz_localize("UTC").tz_convert("America/New_York").day == 1 for s in starts)
    check_contract(r.trend())


# -- names ----------------------------------------------------------------------------------
def test_misspelled_step_is_an_error_with_the_closest_name():
    with pytest.raises(ValueError, match=r"step 'sign_up' \(did you mean 'signup'\?\) never occurs in column 'event'"):
        fk.window_funnel(_events(), window="1h", steps=["visit", "sign_up"], entity="user", time="ts", step="event")
    with pytest.raises(ValueError, match=r"did you mean 'signup'"):
        fk.funnel_analysis(_events(), window="1h", steps=["visit", "sign_up"], entity="user", time="ts", step="event")
    with pytest.raises(ValueError, match=r"steps 'sign_up' \(did you mean 'signup'\?\), 'pay' never occur in column "
                                         r"'event'.*count them as never reached"):
        fk.window_funnel(_events(), window="1h", steps=["visit", "sign_up", "pay"], entity="user", time="ts",
                         step="event")


def test_missing_column_lists_the_columns_present():
    with pytest.raises(ValueError, match=r"column 'timestamp' \(option 'time'\) is not in the input; did you mean "
                                         r"'time'\?.*columns: 'entity', 'time'"):
        fk.conversion(fk.sample_crm(100, seed=1), time="timestamp")


def test_unknown_stage_and_option_values_suggest():
    with pytest.raises(ValueError, match=r"did you mean 'recorded'"):
        fk.conversion(fk.sample_crm(100, seed=1), skipped="recordd")
    t = fk.conversion(fk.sample_crm(300, seed=1), segment="source")
    with pytest.raises(ValueError, match=r"did you mean 'Opportunity'"):
        t.reached("Oportunity")
    with pytest.raises(ValueError, match=r"did you mean 'Referral'"):
        t.reached("Lead", "Referal")


# -- inputs ---------------------------------------------------------------------------------
def test_every_input_format_gives_the_same_answers(input_format):
    crm = fk.sample_crm(2000, seed=5)
    data = as_format(crm, input_format)
    assert fk.conversion(data, segment="source") == fk.conversion(crm, segment="source")
    ev = _events()
    got = fk.window_funnel(as_format(ev, input_format), window="1h", steps=["visit", "signup", "demo"],
                           entity="user", time="ts", step="event")
    assert got.reached == [3, 3, 1, 1]
    ev["src"] = ["ads", "ads", "seo", "seo", "seo", "ads"]
    kw = dict(window="1h", steps=["visit", "signup", "demo"], entity="user", time="ts", step="event", segment="src",
              period="week", data_end="2024-03-02")
    want = fk.funnel_analysis(ev, **kw)
    fa = fk.funnel_analysis(as_format(ev, input_format), **kw)
    assert fa.to_arrow().equals(want.to_arrow())
    assert fa.segments().to_arrow().equals(want.segments().to_arrow())
    assert fa.trend().to_arrow().equals(want.trend().to_arrow())
    assert fa.time_to_convert().to_arrow().equals(want.time_to_convert().to_arrow())


def test_duckdb_relations_and_arrow_streams_are_read():
    duckdb = pytest.importorskip("duckdb")
    crm = fk.sample_crm(1000, seed=2)
    con = duckdb.connect()
    con.register("crm", crm)
    rel = con.sql("select * from crm")
    assert fk.conversion(rel, segment="source") == fk.conversion(crm, segment="source")

    class Stream:
        def __init__(self, table):
            self.table = table

        def __arrow_c_stream__(self, requested_schema=None):
            return self.table.__arrow_c_stream__(requested_schema)

    import pyarrow as pa

    assert fk.conversion(Stream(pa.Table.from_pandas(crm)), segment="source") == fk.conversion(crm, segment="source")


# -- results --------------------------------------------------------------------------------
def test_results_keep_the_contract():
    crm = fk.sample_crm(3000, seed=11)
    check_contract(fk.conversion(crm, segment="source"))
    check_contract(fk.conversion(crm))
    wf = fk.window_funnel(_events(), window="1h", steps=["visit", "signup", "demo"], entity="user", time="ts",
                          step="event", per_entity=True)
    check_contract(wf)
    check_contract(wf.entity_levels())
    fa = fk.funnel_analysis(_events(), window="1h", steps=["visit", "signup", "demo"], entity="user", time="ts",
                            step="event")
    check_contract(fa)
    check_contract(fa.time_to_convert())


def test_json_has_real_numbers_and_nulls():
    t = fk.conversion(fk.sample_crm(500, seed=3), segment="source")
    doc = json.loads(t.to_json())
    first = doc["data"][0]
    assert first["step_rate"] is None and isinstance(first["reached"], int)
    assert isinstance(doc["data"][1]["step_rate"], float)
    assert doc["explain"]["options"]["skipped"] == "implied"
    json.dumps(t.to_dict())  # plain Python values throughout


def test_bytes_keep_labels_and_refuse_other_parts():
    crm = fk.sample_crm(2000, seed=4)
    t = fk.conversion(crm, segment="source")
    back = fk.ConversionTable.from_bytes(t.to_bytes())
    assert back.segments == t.segments and back.model == t.model
    assert back.reached("Customer", "Referral") == t.reached("Customer", "Referral")
    rec = fk.conversion(crm, segment="source", skipped="recorded")
    with pytest.raises(ValueError, match="'skipped'"):
        t + rec
    assert pickle.loads(pickle.dumps(t)) == t


def test_who_dropped_at_a_step():
    wf = fk.window_funnel(_events(), window="1h", steps=["visit", "signup", "demo"], entity="user", time="ts",
                          step="event", per_entity=True)
    assert sorted(wf.entities_at("signup")) == ["a"]
    assert sorted(wf.dropped_at("signup")) == ["b", "c"]
    assert sorted(wf.dropped_at("demo")) == []
    with pytest.raises(ValueError, match="did you mean 'demo'"):
        wf.dropped_at("demoo")


# -- input boundaries -----------------------------------------------------------------------
def test_ids_and_times_outside_int64_are_errors_not_collisions():
    base = {"entity": np.array([1.0, 1e19, 2e19]), "time": np.array([0, 1, 2]), "stage": np.array([0, 1, 2])}
    with pytest.raises(ValueError, match=r"column 'entity', row 1: value 1e\+19 does not fit in int64"):
        fk.conversion(base)
    big = {"entity": np.array([1, 2]), "time": np.array([1, 2**63 + 5], dtype=np.uint64), "stage": np.array([0, 1])}
    with pytest.raises(ValueError, match=r"column 'time', row 1: value 9223372036854775813 does not fit in int64"):
        fk.conversion(big)
    never = {"entity": np.array([1, 2]), "time": np.array([0, np.iinfo(np.int64).min]), "stage": np.array([0, 1])}
    with pytest.raises(ValueError, match=r"column 'time', row 1: .*reserved for 'no time'"):
        fk.conversion(never)
    with pytest.raises(ValueError, match=r"column 'time', row 1: .*reserved"):
        fk.window_funnel({"entity": never["entity"], "time": never["time"], "step": np.array([0, 1])}, window=5,
                         steps=2)


@pytest.mark.parametrize("skipped", ["implied", "recorded"])
def test_who_reached_and_who_dropped_in_a_stage_funnel(skipped):
    crm = fk.sample_crm(3000, seed=8)
    t = fk.conversion(crm, segment="source", skipped=skipped, per_entity=True)
    for k, stage in enumerate(t.stages):
        assert len(t.entities_at(stage)) == t.reached(stage)
        assert len(t.entities_at(stage, "Referral")) == t.reached(stage, "Referral")
        if k and skipped == "implied":
            assert len(t.dropped_at(stage)) == t.reached(k - 1) - t.reached(k)
    sql = set(t.entities_at("SQL"))
    dropped = set(t.dropped_at("SQL"))
    assert dropped and not dropped & sql and dropped <= set(t.entities_at("SAL"))
    # The ids are the input's ids: strings stay strings.
    named = crm.assign(entity="lead-" + crm["entity"].astype(str))
    t2 = fk.conversion(named, per_entity=True, skipped=skipped)
    assert sorted(t2.dropped_at("SQL")) == sorted(f"lead-{i}" for i in dropped)
    with pytest.raises(ValueError, match="per_entity=True"):
        fk.conversion(crm).dropped_at("SQL")
