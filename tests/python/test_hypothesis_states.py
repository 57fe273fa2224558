"""Properties of the mergeable states behind campaign_report, attribute and funnel_analysis's
time to convert (hypothesis): the states of any partition of the entities, merged in any
order, give the single-machine result to the last bit; sums of doubles (revenue, credits,
total value, velocity amounts) do not depend on the order of the rows; states record their
definition, and merging states of other definitions is an error naming the field."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import funnelkit as fk
from funnelkit import _core
from funnelkit.attribution import _options, _Paths
from funnelkit.campaign import _Prepared
from test_hypothesis_api import DAY, EVENTS, crm, events, touches

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow],
                    derandomize=True)


def _parts(ids: np.ndarray, k: int, salt: int) -> np.ndarray:
    """A partition of the entity ids into k parts (uneven, chosen by the salt)."""
    return (ids.astype(np.int64) * 2654435761 + salt) % 977 % k


@SETTINGS
@given(events(), st.integers(1, 5), st.integers(0, 1000))
def test_funnel_durations_of_parts_merge_to_the_whole(df, k, salt):
    kw = dict(window=2 * DAY, steps=EVENTS, step="event", absent="warn", data_end=12 * DAY)
    whole = fk.funnel_analysis(df, **kw)
    merged = _core.FunnelDurations()
    part = _parts(df["entity"].to_numpy(), k, salt)
    for p in reversed(range(k)):
        sub = df[part == p].reset_index(drop=True)
        merged.merge(_core.FunnelDurations.deserialize(fk.funnel_analysis(sub, **kw)._duration_state.serialize()))
    assert merged == whole._duration_state
    assert merged.summaries() == whole._durations


@SETTINGS
@given(crm(), st.integers(1, 5), st.integers(0, 1000))
def test_campaign_states_of_parts_merge_to_the_whole(df, k, salt):
    kw = dict(model=None, entity="entity", time="time", stage="stage", segment="source", amount="amount",
              mql_stage="MQL", sql_stage="SQL", opportunity_stage="Opportunity", skipped="implied",
              confidence=0.9, interval="jeffreys", time_unit=None)
    labels = sorted(df["source"].unique())
    whole = _Prepared(df, **kw)
    merged = _core.CampaignState()
    part = _parts(df["entity"].to_numpy(), k, salt)
    for p in range(k):
        merged.merge(_Prepared(df[part == p].reset_index(drop=True), categories=labels, **kw).state())
    assert merged == whole.state()
    cost = {labels[0]: 1000.0}
    got = whole.report(_core.campaign_report_of(merged, options=whole.core_options(cost, "error")), cost)
    want = fk.campaign_report(df, confidence=0.9, interval="jeffreys", cost=cost)
    assert got.to_arrow().equals(want.to_arrow())


@SETTINGS
@given(touches(), st.integers(1, 4), st.integers(0, 1000),
       st.sampled_from(["linear", "u_shaped", "time_decay", "markov", "shapley", "value_rate"]))
def test_attribution_states_of_parts_merge_to_the_whole(data, k, salt, model):
    t, o = data
    labels = sorted(t["channel"].unique())
    cols = dict(entity="path", time="time", channel="channel", milestone=None, outcome_entity=None,
                converted="converted", value="value", conversion_time=None, channels=labels, absent="warn",
                time_unit=None)
    opts = dict(model=model, u_weights=(0.4, 0.2, 0.4), w_weights=(0.3, 0.3, 0.3, 0.1), half_life=7200.0, head=(),
                tail=(), middle=0.0, markov_order=1, shapley_game="covered_value", shapley_exact_max=15,
                shapley_samples=100, seed=1)
    if model == "value_rate":
        opts.update(model="shapley", shapley_game="value_rate")
    merged = _core.AttributionState()
    tp, op = _parts(t["path"].to_numpy(), k, salt), _parts(o["path"].to_numpy(), k, salt)
    for p in range(k):
        paths = _Paths(t[tp == p].reset_index(drop=True), o[op == p].reset_index(drop=True), **cols)
        merged.merge(_core.attribution_sums(paths.core, _options(**opts)))
    whole = _core.attribution_sums(_Paths(t, o, **cols).core, _options(**opts))
    assert merged == whole
    a, b = _core.attribute_state(merged), _core.attribute_state(whole)
    assert np.array_equal(a.value, b.value) and np.array_equal(a.conversions, b.conversions)
    assert a.total_value == b.total_value and a.base == b.base


@SETTINGS
@given(touches(), st.integers(0, 2 ** 16))
def test_attribution_total_value_does_not_depend_on_row_order(data, seed):
    t, o = data
    want = fk.attribute(t, o)
    got = fk.attribute(t.sample(frac=1.0, random_state=seed), o.sample(frac=1.0, random_state=seed + 1))
    assert got.total_value == want.total_value and got.unattributed_value == want.unattributed_value
    assert np.array_equal(got.value, want.value)


@SETTINGS
@given(st.lists(st.integers(1, 10 ** 9).map(lambda x: x / 7), min_size=1, max_size=40), st.integers(0, 2 ** 16))
def test_velocity_amounts_do_not_depend_on_row_order(amounts, seed):
    n = len(amounts)
    df = pd.DataFrame({"created": pd.to_datetime(np.arange(n) * 3600, unit="s"),
                       "closed": pd.to_datetime(np.arange(n) * 3600 + 30 * DAY, unit="s"),
                       "outcome": np.where(np.arange(n) % 3 == 0, "lost", "won"), "amount": amounts})
    want = fk.velocity(df, edges=["1970-01-01", "1971-01-01"]).to_arrow()
    got = fk.velocity(df.sample(frac=1.0, random_state=seed), edges=["1970-01-01", "1971-01-01"]).to_arrow()
    assert got.equals(want)


def test_states_record_their_definition():
    ev = pd.DataFrame({"entity": [1, 1, 2, 2], "time": [0, 60, 0, 7200], "event": ["visit", "signup"] * 2})
    kw = dict(steps=["visit", "signup"], step="event", data_end=10_000)
    a = fk.funnel_analysis(ev, window=3600, **kw)
    b = fk.funnel_analysis(ev, window=7200, **kw)
    with pytest.raises(ValueError, match=r"funnel_durations: window differs \(3600 vs 7200\)"):
        a._duration_state.merge(b._duration_state)
    with pytest.raises(ValueError, match="options"):
        a.closed.merge(b.closed)  # the Python parts compare their options first
    with pytest.raises(ValueError, match=r"window_funnel_counts: window differs \(3600 vs 7200\)"):
        a.closed._state.merge(b.closed._state)  # and the core counts record the window
    c = fk.funnel_analysis(ev, window=3600, count_conversions=True, **kw)
    with pytest.raises(ValueError, match="count_conversions differs"):
        a._duration_state.merge(c._duration_state)
    # The time unit: the same numbers read as seconds and as milliseconds do not merge.
    ms = fk.funnel_analysis(ev, window=3600, time_unit="ms", **kw)
    with pytest.raises(ValueError, match=r"time unit differs \(1 vs 1000 ticks per second\)"):
        a._duration_state.merge(ms._duration_state)
    wf_s = fk.window_funnel(ev, window=3600, steps=["visit", "signup"], step="event")
    wf_ms = fk.window_funnel(ev, window=3600, steps=["visit", "signup"], step="event", time_unit="ms")
    with pytest.raises(ValueError, match="ticks per second|time unit"):
        wf_s._state.merge(wf_ms._state)
    crm_ = fk.sample_crm(50, seed=1)
    secs = crm_.assign(time=crm_["time"].astype("datetime64[s]").astype(np.int64))
    life_s = fk.lifecycle(secs, time_unit="s").summary()
    life_ms = fk.lifecycle(secs.assign(time=secs["time"] * 1000), time_unit="ms").summary()
    assert life_s._state.ticks_per_second == 1 and life_ms._state.ticks_per_second == 1000
    with pytest.raises(ValueError, match="time unit differs"):
        life_s._state.merge(life_ms._state)
    d = _core.DurationSummary(True, ticks_per_second=1000)
    assert d.ticks_per_second == 1000
    with pytest.raises(ValueError, match="time unit differs"):
        d.merge(_core.DurationSummary(True, ticks_per_second=1))
