"""Random valid and invalid inputs through the public entry points (hypothesis).

For each entry point:
- valid input: the result does not depend on the order of the rows, on the input format
  (pandas, Polars, Polars lazy, Arrow, dict of arrays) nor, where there is a ``threads=``
  option, on the thread count; seeded results (velocity's bootstrap intervals, sampled
  Shapley values) included;
- a row with a missing value in one column: either a ValueError / TypeError naming that
  column, or the result on the input without that row, or where a missing value has a
  documented meaning (a missing event matches no step) the result with that meaning (never a
  crash or another number);
- an unknown option value: a ValueError naming the option.

The example counts are kept small (the suite runs in well under a minute); ``deadline=None``
because the first call of a kernel may be slow on a loaded machine.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import funnelkit as fk
from conftest import FORMATS, as_format

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow],
                    derandomize=True)
EVENTS = ["visit", "signup", "trial", "pay"]
STAGES = ["Lead", "MQL", "SAL", "SQL", "Opportunity", "Customer", "Lost", "Disqualified"]
CHANNELS = ["ads", "mail", "seo", "social"]
DAY = 86_400


# -- strategies ------------------------------------------------------------------------------------
@st.composite
def events(draw: st.DrawFn) -> pd.DataFrame:
    """Event streams: a few entities (some with many events), ties in time, unknown events."""
    n = draw(st.integers(0, 60))
    ent = draw(st.lists(st.integers(0, 7), min_size=n, max_size=n))
    tim = draw(st.lists(st.integers(0, 10 * DAY // 3600).map(lambda h: h * 3600), min_size=n, max_size=n))
    ev = draw(st.lists(st.sampled_from(EVENTS + ["other"]), min_size=n, max_size=n))
    seg = draw(st.lists(st.sampled_from(CHANNELS), min_size=n, max_size=n))
    return pd.DataFrame({"entity": np.asarray(ent, dtype=np.int64), "time": np.asarray(tim, dtype=np.int64),
                         "event": pd.Series(ev, dtype=object), "channel": pd.Series(seg, dtype=object)})


@st.composite
def crm(draw: st.DrawFn) -> pd.DataFrame:
    """Stage-change records of a few entities, each entered as a lead from one source."""
    rows = []
    for e in range(draw(st.integers(1, 8))):
        source = draw(st.sampled_from(["Webinar", "Paid Search", "Referral"]))
        t = draw(st.integers(0, 30)) * DAY
        rows.append((e, t, "Lead", source, 0.0))
        for stage in draw(st.lists(st.sampled_from(STAGES[1:]), max_size=4)):
            t += draw(st.integers(0, 5)) * DAY
            amount = float(draw(st.integers(0, 10_000))) / 4 if stage == "Customer" else 0.0
            rows.append((e, t, stage, source, amount))
    df = pd.DataFrame(rows, columns=["entity", "time", "stage", "source", "amount"])
    df["time"] = pd.to_datetime(df["time"], unit="s")
    return df


@st.composite
def touches(draw: st.DrawFn) -> tuple[pd.DataFrame, pd.DataFrame]:
    n = draw(st.integers(1, 40))
    path = draw(st.lists(st.integers(0, 9), min_size=n, max_size=n))
    tim = draw(st.lists(st.integers(0, 200), min_size=n, max_size=n))
    ch = draw(st.lists(st.sampled_from(CHANNELS), min_size=n, max_size=n))
    t = pd.DataFrame({"path": np.asarray(path, dtype=np.int64), "time": np.asarray(tim, dtype=np.int64) * 3600,
                      "channel": pd.Series(ch, dtype=object)})
    ids = sorted(set(path))
    conv = draw(st.lists(st.booleans(), min_size=len(ids), max_size=len(ids)))
    val = draw(st.lists(st.integers(0, 10 ** 6).map(lambda x: x / 7), min_size=len(ids), max_size=len(ids)))
    o = pd.DataFrame({"path": np.asarray(ids, dtype=np.int64), "converted": np.asarray(conv, dtype=np.int64),
                      "value": np.where(conv, val, 0.0)})
    return t, o


@st.composite
def opportunities(draw: st.DrawFn) -> pd.DataFrame:
    rows = []
    for _ in range(draw(st.integers(1, 25))):
        c = draw(st.integers(0, 300)) * DAY
        outcome = draw(st.sampled_from(["won", "lost", "open"]))
        closed = c + draw(st.integers(1, 90)) * DAY if outcome != "open" else None
        rows.append((c, closed, outcome, float(draw(st.integers(1, 100_000))) / 3,
                     draw(st.sampled_from(["Webinar", "Referral"]))))
    df = pd.DataFrame(rows, columns=["created", "closed", "outcome", "amount", "source"])
    df["created"] = pd.to_datetime(df["created"], unit="s")
    df["closed"] = pd.to_datetime(df["closed"], unit="s")
    return df


@st.composite
def leads(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(2, 40))
    score = draw(st.lists(st.integers(0, 100), min_size=n, max_size=n))
    flags = [draw(st.lists(st.booleans(), min_size=n, max_size=n)) for _ in range(3)]
    return pd.DataFrame({"score": np.asarray(score, dtype=np.float64), "accepted": flags[0],
                         "sql": np.logical_and(flags[0], flags[1]), "won": np.logical_and(flags[1], flags[2]),
                         "source": draw(st.lists(st.sampled_from(["Webinar", "Referral"]), min_size=n, max_size=n))})


@st.composite
def touches_by_rep(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(1, 40))
    return pd.DataFrame({"time": pd.to_datetime(np.asarray(draw(st.lists(st.integers(0, 60 * DAY), min_size=n,
                                                                           max_size=n)), dtype=np.int64), unit="s"),
                         "rep": pd.Series(draw(st.lists(st.sampled_from(["ann", "bob", "cy"]), min_size=n,
                                                        max_size=n)), dtype=object)})


@st.composite
def durations(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(1, 40))
    return pd.DataFrame({"days": np.asarray(draw(st.lists(st.integers(0, 400), min_size=n, max_size=n)),
                                            dtype=np.float64) / 4,
                         "observed": draw(st.lists(st.booleans(), min_size=n, max_size=n)),
                         "source": draw(st.lists(st.sampled_from(["Webinar", "Referral"]), min_size=n, max_size=n))})


# -- the entry points: name -> (strategy, call(data) -> comparable result, columns) -------------------
def _table(result):
    return result.to_arrow()


def _window_funnel(df, **kw):
    return fk.window_funnel(df, window=2 * DAY, steps=EVENTS, step="event", absent="warn", **kw)


ENTRY = {
    "window_funnel": (events(), lambda df, **kw: _window_funnel(df, **kw), ("entity", "time", "event")),
    "funnel_analysis": (events(), lambda df, **kw: fk.funnel_analysis(
        df, window=2 * DAY, steps=EVENTS, step="event", segment="channel", absent="warn",
        data_end=12 * DAY, **kw), ("entity", "time", "event", "channel")),
    "conversion": (crm(), lambda df, **kw: fk.conversion(df, segment="source", **kw),
                   ("entity", "time", "stage", "source")),
    "lifecycle": (crm(), lambda df, **kw: fk.lifecycle(df, segment="source", as_of="1970-03-01", **kw).summary(),
                  ("entity", "time", "stage", "source")),
    "campaign_report": (crm(), lambda df, **kw: fk.campaign_report(df, skipped="recorded", **kw),
                        ("entity", "time", "stage", "source", "amount")),
    "velocity": (opportunities(), lambda df, **kw: fk.velocity(df, period="quarter", segment="source", bootstrap=30,
                                                               seed=3, **kw),
                 # a missing close time or outcome is an open deal, not a bad row
                 ("created", "source")),
    "opportunities_from_stages": (crm(), lambda df, **kw: fk.opportunities_from_stages(df, **kw),
                                  ("entity", "time", "stage", "source")),
    "qualification_audit": (leads(), lambda df, **kw: fk.qualification_audit(df, segment="source", threshold=50,
                                                                             **kw),
                            ("score", "source")),
    "sla_volume": (touches_by_rep(), lambda df, **kw: fk.sla_volume(df, time="time", rep="rep", target=3,
                                                                    as_of="1970-03-05", period="month", **kw),
                   ("time", "rep")),
    "describe_durations": (durations(), lambda df, **kw: fk.describe_durations("days", "source", data=df, **kw),
                           ("days", "source")),
    "kaplan_meier": (durations(), lambda df, **kw: fk.kaplan_meier("days", "observed", data=df, **kw),
                     ("days", "observed")),
}


#: Missing values with a meaning of their own (the result equals the input with this value).
NULL_MEANS = {"window_funnel": {"event": "other"}, "funnel_analysis": {"event": "other"}}


def _result(name, df):
    out = ENTRY[name][1](df)
    if name == "funnel_analysis":
        return (out.to_arrow(), out.segments().to_arrow(), out.time_to_convert().to_arrow())
    return out.to_arrow()


def _shuffled(df: pd.DataFrame, seed: int) -> pd.DataFrame:
    return df.sample(frac=1.0, random_state=seed).reset_index(drop=True)


def _equal(a, b) -> bool:
    if isinstance(a, tuple):
        return all(_equal(x, y) for x, y in zip(a, b))
    return a.equals(b)


@pytest.mark.parametrize("name", list(ENTRY))
def test_row_order_and_input_format_do_not_matter(name):
    strategy = ENTRY[name][0]

    @SETTINGS
    @given(strategy, st.integers(0, 2 ** 16), st.sampled_from(FORMATS))
    def check(df, seed, fmt):
        want = _result(name, df)
        assert _equal(_result(name, _shuffled(df, seed)), want)
        assert _equal(_result(name, as_format(df, fmt)), want)

    check()


@SETTINGS
@given(events(), st.integers(2, 4))
def test_thread_count_does_not_matter(df, threads):
    assert _window_funnel(df, threads=threads) == _window_funnel(df, threads=1)


@SETTINGS
@given(touches(), st.integers(0, 2 ** 16), st.sampled_from(["linear", "time_decay", "markov", "shapley", "sampled"]))
def test_attribution_row_order_and_format(data, seed, model):
    t, o = data
    kw = dict(model=model)
    if model == "sampled":  # seeded permutation sampling of the Shapley values
        kw = dict(model="shapley", shapley_game="value_rate", shapley_exact_max=1, shapley_samples=50, seed=seed)
    want = fk.attribute(t, o, **kw).to_arrow()
    assert fk.attribute(_shuffled(t, seed), _shuffled(o, seed + 1), **kw).to_arrow().equals(want)
    for fmt in ("polars", "arrow", "dict"):
        assert fk.attribute(as_format(t, fmt), as_format(o, fmt), **kw).to_arrow().equals(want)
    if model == "linear":  # every default model at once
        table = fk.compare_attribution(t, o).to_arrow()
        assert fk.compare_attribution(_shuffled(t, seed), as_format(o, "arrow")).to_arrow().equals(table)


@pytest.mark.parametrize("name", list(ENTRY))
def test_a_missing_value_is_named_or_left_out(name):
    """A missing value in a used column: a ValueError/TypeError naming the column, or the
    result without that row."""
    strategy, call, columns = ENTRY[name]

    @SETTINGS
    @given(strategy, st.data())
    def check(df, data):
        if len(df) == 0:
            return
        row = data.draw(st.integers(0, len(df) - 1))
        col = data.draw(st.sampled_from(columns))
        bad = df.copy()
        if bad[col].dtype.kind in "iu":
            bad[col] = bad[col].astype("float64")
        elif bad[col].dtype.kind == "b":
            bad[col] = bad[col].astype(object)
        bad.loc[row, col] = None
        try:
            got = _result(name, bad)
        except (ValueError, TypeError) as exc:
            assert col in str(exc), f"{type(exc).__name__}: {exc} does not name column {col!r}"
            return
        if col in NULL_MEANS.get(name, {}):  # a documented meaning: e.g. an event matching no step
            cleaned = df.copy()
            cleaned.loc[row, col] = NULL_MEANS[name][col]
        else:
            cleaned = df.drop(index=row).reset_index(drop=True)
        assert _equal(got, _result(name, cleaned)), f"a missing {col!r} gave a result other than leaving the row out"

    check()


@pytest.mark.parametrize("name, option, value", [
    ("window_funnel", "order", "sideways"), ("conversion", "skipped", "maybe"), ("campaign_report", "interval", "wald2"),
    ("velocity", "cycle_stat", "mode"), ("funnel_analysis", "attribution", "middle_touch"),
    ("lifecycle", "time_unit", "fortnight")])
def test_unknown_option_values_are_named(name, option, value):
    samples = {"window_funnel": pd.DataFrame({"entity": [1], "time": [0], "event": ["visit"], "channel": ["ads"]}),
               "funnel_analysis": pd.DataFrame({"entity": [1], "time": [0], "event": ["visit"], "channel": ["ads"]}),
               "conversion": fk.sample_crm(20, seed=1), "campaign_report": fk.sample_crm(20, seed=1),
               "lifecycle": fk.sample_crm(20, seed=1),
               "velocity": pd.DataFrame({"created": pd.to_datetime([0], unit="s"), "closed": pd.to_datetime([DAY],
                                                                                                           unit="s"),
                                         "outcome": ["won"], "amount": [1.0], "source": ["x"]})}
    data = samples[name]
    if name == "lifecycle":
        call = lambda: fk.lifecycle(data, **{option: value})  # noqa: E731
    else:
        call = lambda: ENTRY[name][1](data, **{option: value})  # noqa: E731
    with pytest.raises((ValueError, TypeError), match=option):
        call()


@pytest.mark.parametrize("interval", ["wilson", "agresti_coull", "jeffreys", "clopper_pearson"])
def test_campaign_step_rates_above_one_have_no_interval(interval):
    """With skipped stages not implied a step rate can exceed 1: it is reported without an
    interval, whatever the interval method (a non-Wilson method used to raise 'successes
    exceeds trials')."""
    report = fk.campaign_report(fk.sample_crm(400, seed=3), skipped="recorded", interval=interval).to_pandas()
    above = report["mql_to_sql"] > 1
    assert above.any()
    assert report.loc[above, "mql_to_sql_lower"].isna().all() and report.loc[above, "mql_to_sql_upper"].isna().all()
    assert report.loc[~above & (report["mqls"] > 0), "mql_to_sql_lower"].notna().all()
