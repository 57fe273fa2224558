"""funnelkit.dask gives the single-machine results on Dask DataFrames: equal (``==`` for the
mergeable results, ``to_arrow().equals`` for every table) on the sample data and on random
events with skewed entities, for 1, 2 and 7 partitions. One local cluster of two worker
processes (one thread each) serves the whole module: parts travel between processes as they
would between machines."""

from __future__ import annotations

import numpy as np
import pytest

dask = pytest.importorskip("dask", reason="funnelkit.dask needs dask[distributed]: pip install 'funnelkit[dask]'")
distributed = pytest.importorskip("distributed", reason="funnelkit.dask tests need dask[distributed]")
pd = pytest.importorskip("pandas")

import dask.dataframe as dd  # noqa: E402

import funnelkit as fk  # noqa: E402
import funnelkit.dask as fkd  # noqa: E402
from contract import check_contract  # noqa: E402
from distributed_data import (  # noqa: E402
    EVENTS, PARTITIONS, STEPS, crm_records, quiet, same_errors, same_result, skewed_events, with_amounts)
from funnelkit import _distributed  # noqa: E402

pytestmark = quiet("distributed", "dask")


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


@pytest.fixture(scope="module")
def crm():
    """The sample CRM records, times at Spark's resolution (microseconds)."""
    return crm_records()


@pytest.fixture(scope="module")
def events():
    return skewed_events(seed=3)


def random_touches(n_paths: int = 600, seed: int = 4) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Touches of skewed paths (one path holds a large share), null touches, ties in time, and
    outcomes with values, paths without touches and touches without an outcome row."""
    rng = np.random.default_rng(seed)
    n = 8 * n_paths
    path = np.minimum(rng.zipf(1.5, n), n_paths).astype(np.int64)
    channel = rng.choice(["ads", "mail", "seo", "social", "tv", None], n, p=[0.3, 0.2, 0.2, 0.15, 0.1, 0.05])
    touches = pd.DataFrame({"path": path, "time": rng.integers(0, 30 * 86_400, n) // 600 * 600,
                            "channel": channel.astype(object)})
    ids = np.arange(1, n_paths + 40, dtype=np.int64)  # some outcome paths have no touch
    ids = ids[rng.random(len(ids)) < 0.9]  # some touched paths have no outcome row
    converted = (rng.random(len(ids)) < 0.4).astype(np.int64)
    value = np.round(rng.lognormal(6, 1.5, len(ids)), 2) * converted
    outcomes = pd.DataFrame({"path": ids, "converted": converted, "value": value})
    return touches, outcomes


MODELS = [dict(model="first_touch"), dict(model="linear"), dict(model="u_shaped"),
          dict(model="time_decay", half_life="2d"), dict(model="position", head=[0.5], tail=[0.3], middle=0.2),
          dict(model="markov"), dict(model="markov", markov_order=2), dict(model="markov", markov_weight="value"),
          dict(model="shapley"),
          dict(model="shapley", shapley_game="value_rate"),
          dict(model="shapley", shapley_game="value_rate", shapley_exact_max=2, shapley_samples=300, seed=9)]


@pytest.mark.parametrize("partitions", PARTITIONS)
def test_campaign_report_equal_one_machine(client, crm, partitions):
    crm = with_amounts(crm)
    for kw in (dict(cost={"Webinar": 1200.0, "Paid Search": 3e4}), dict(skipped="recorded", interval="jeffreys")):
        got = fkd.campaign_report(_ddf(crm), partitions=partitions, **kw)
        want = fk.campaign_report(crm, **kw)
        same_result(got, want)
        assert got.missing_cost == want.missing_cost
    check_contract(got)


@pytest.mark.parametrize("partitions", PARTITIONS)
def test_attribution_equal_one_machine(client, partitions):
    """Every model, seeded Shapley sampling included, gives the single-machine credits to the
    last bit: rule-based credits are exact sums, Markov and Shapley use the merged paths."""
    touches, outcomes = random_touches()
    t, o = _ddf(touches), _ddf(outcomes, 2)
    for kw in MODELS:
        same_result(fkd.attribute(t, o, partitions=partitions, **kw), fk.attribute(touches, outcomes, **kw))
    # Integer channel codes (-1: a null touch), datetime touches with milestones.
    coded = touches.assign(channel=touches["channel"].map({"ads": 0, "mail": 1, "seo": 2, "social": 3, "tv": 5})
                           .fillna(-1).astype(np.int64))
    same_result(fkd.attribute(_ddf(coded), o, partitions=partitions), fk.attribute(coded, outcomes))
    st, so = fk.sample_touches(400, seed=3)
    st = st.assign(time=st["time"].astype("datetime64[us]"), channel=st["channel"].astype(object),
                   milestone=st["milestone"].astype(object))
    so = so.assign(conversion_time=so["conversion_time"].astype("datetime64[us]"))
    kw = dict(model="w_shaped", milestone="milestone", conversion_time="conversion_time")
    got = fkd.attribute(_ddf(st), _ddf(so), partitions=partitions, **kw)
    same_result(got, fk.attribute(st, so, **kw))
    check_contract(got)


def _ddf(df, n=3):
    return dd.from_pandas(df, npartitions=n, sort=False)


@pytest.mark.parametrize("partitions", PARTITIONS)
def test_conversion_and_lifecycle_equal_one_machine(client, crm, partitions):
    data = _ddf(crm)
    same_result(fkd.conversion(data, segment="source", partitions=partitions), fk.conversion(crm, segment="source"))
    same_result(fkd.conversion(data, skipped="recorded", partitions=partitions), fk.conversion(crm, skipped="recorded"))
    got = fkd.lifecycle(data, segment="source", reason="reason", partitions=partitions)
    same_result(got, fk.lifecycle(crm, segment="source", reason="reason").summary())
    assert got.explain().inputs["rows"] == len(crm)
    same_result(fkd.lifecycle(data, passes="every", as_of="2030-01-01", partitions=partitions),
          fk.lifecycle(crm, as_of="2030-01-01").summary(passes="every"))


@pytest.mark.parametrize("partitions", PARTITIONS)
def test_event_funnels_equal_one_machine(client, crm, events, partitions):
    data = _ddf(crm)
    kw = dict(window="30d", steps=STEPS, step="stage")
    same_result(fkd.window_funnel(data, partitions=partitions, **kw), fk.window_funnel(crm, **kw))
    kw = dict(window=3 * 86_400, steps=EVENTS, step="event", strict_order=True)
    same_result(fkd.window_funnel(_ddf(events, 5), partitions=partitions, **kw), fk.window_funnel(events, **kw))
    kw = dict(window="2d", steps=EVENTS, step="event", segment="channel", period="week", tz="Europe/Berlin",
              exclusions=[("help", "signup", "pay")], max_gap={"trial": "1d"}, optional=["trial"],
              count_conversions=True)
    got, want = fkd.funnel_analysis(_ddf(events, 5), partitions=partitions, **kw), fk.funnel_analysis(events, **kw)
    same_result(got, want)
    for part in ("segments", "trend"):
        assert getattr(got, part)().to_arrow().equals(getattr(want, part)().to_arrow())
    assert (got.closed, got.open, got.unattributed) == (want.closed, want.open, want.unattributed)
    assert got.conversions == want.conversions and got.through_step == want.through_step
    assert got.data_end == want.data_end and list(got.by_period) == list(want.by_period)
    assert got.time_to_convert().to_arrow().equals(want.time_to_convert().to_arrow())


def test_datetime_events_and_results_pass_the_contract(client, crm, events):
    dated = events.assign(time=pd.to_datetime(events["time"], unit="s").astype("datetime64[us]"))
    kw = dict(window="3d", steps=EVENTS, step="event", segment="channel", period="month")
    got = fkd.funnel_analysis(_ddf(dated), data_end="1970-02-15", **kw)
    same_result(got, fk.funnel_analysis(dated, data_end="1970-02-15", **kw))
    assert got.time_to_convert().to_arrow().equals(fk.funnel_analysis(dated, data_end="1970-02-15", **kw)
                                                   .time_to_convert().to_arrow())
    wf = fkd.window_funnel(_ddf(dated), window="3d", steps=EVENTS, step="event")
    for result in (wf, got, fkd.conversion(_ddf(crm), segment="source"), fkd.lifecycle(_ddf(crm))):
        check_contract(result)


def test_errors_are_the_single_machine_ones(client, events):
    data = _ddf(events)
    same_errors(lambda **kw: fk.window_funnel(events, **kw), lambda **kw: fkd.window_funnel(data, **kw))
    with pytest.warns(UserWarning, match="never occurs"):
        got = fkd.window_funnel(data, window="1d", steps=["visit", "sign_up"], step="event", absent="warn")
    with pytest.warns(UserWarning, match="never occurs"):
        assert got == fk.window_funnel(events, window="1d", steps=["visit", "sign_up"], step="event", absent="warn")
    with pytest.raises(NotImplementedError, match="per_entity"):
        fkd.window_funnel(data, window="1d", steps=EVENTS, step="event", per_entity=True)
    with pytest.raises(NotImplementedError, match="per_entity"):
        fkd.conversion(data, per_entity=True)
    touches, outcomes = random_touches(200)
    for kwargs in (dict(model="markv"), dict(channels=["ads", "mail", "seo", "social", "tv", "print"]),
                   dict(model="w_shaped"), dict(u_weights=(0, 0, 0), model="u_shaped")):
        with pytest.raises((ValueError, TypeError)) as single:
            fk.attribute(touches, outcomes, **kwargs)
        with pytest.raises(type(single.value)) as dist:
            fkd.attribute(_ddf(touches), _ddf(outcomes), **kwargs)
        assert str(dist.value) == str(single.value)
    # A channel outside `channels`: the same message, with the row within its partition.
    with pytest.raises(ValueError, match=r"column 'channel', row \d+ \(not in option 'channels'\)"):
        fkd.attribute(_ddf(touches), _ddf(outcomes), channels=["ads", "tv"])
    crm = fk.sample_crm(200, seed=1)
    for kwargs in (dict(cost={"Webinr": 1.0}), dict(mql_stage="MQ"), dict(segment="sourc")):
        with pytest.raises((ValueError, TypeError)) as single:
            fk.campaign_report(crm, **kwargs)
        with pytest.raises(type(single.value)) as dist:
            fkd.campaign_report(_ddf(crm), **kwargs)
        assert str(dist.value) == str(single.value)
    with pytest.raises(TypeError, match="bare number"):
        fkd.lifecycle(_ddf(events.assign(time=pd.to_datetime(events["time"], unit="s"))), as_of=5,
                      stage="event")
    with pytest.raises(TypeError, match="Dask DataFrame"):
        fkd.conversion(events)
    with pytest.raises(ValueError, match="partitions"):
        fkd.conversion(data, partitions=0)


def test_parts_carry_their_format_and_refuse_another(events):
    import pyarrow as pa

    plan = _distributed.Plan("conversion", {"segment": "channel", "segment_categories": ["ads", "mail", "seo"]},
                             ("entity", "time", "stage", "channel"))
    table = pa.Table.from_pandas(events.rename(columns={"event": "stage"}).assign(stage="MQL"), preserve_index=False)
    blob = _distributed.part_of_table(plan, table)
    header, states = _distributed.open_part(blob)
    assert header["funnelkit"] == fk.__version__ and header["kind"] == "conversion"
    # Another release's format is refused, naming both sides.
    other = bytearray(blob)
    other[4:6] = (_distributed.FORMAT + 1).to_bytes(2, "little")
    with pytest.raises(ValueError, match=r"format 2 reached a driver running funnelkit .* reads format 1"):
        _distributed.merge_parts([bytes(other)])
    corrupted = bytearray(blob)
    corrupted[20] ^= 0xFF
    with pytest.raises(ValueError, match="checksum"):
        _distributed.open_part(bytes(corrupted))
    # The same format from another funnelkit version interoperates (its states carry their own
    # versions, checked when they are read).
    assert _distributed.merge_parts([blob, blob]) is not None


def test_same_arguments_as_one_machine():
    """Every distributed function takes the single-machine arguments, with the same defaults,
    and ``partitions=``; the lifecycle summary's options as well."""
    import inspect

    import funnelkit.spark as fks

    extra = {"lifecycle": ["skipped", "passes"]}
    for module in (fkd, fks):
        for name in ("window_funnel", "conversion", "lifecycle", "funnel_analysis", "campaign_report", "attribute"):
            single = inspect.signature(getattr(fk, name)).parameters
            dist = inspect.signature(getattr(module, name)).parameters
            assert [p for p in dist if p not in extra.get(name, [])] == [*single, "partitions"], name
            for key, param in single.items():
                assert dist[key].default == param.default and dist[key].kind == param.kind, (name, key)
            assert getattr(module, name).__doc__ and module.__name__ in getattr(module, name).__module__


def test_many_parts_merge_in_a_tree(client, crm):
    got = fkd.conversion(_ddf(crm, 2), segment="source", partitions=40)
    same_result(got, fk.conversion(crm, segment="source"))


def test_large_duration_sums_merge_exactly(client):
    """Time in stage sums beyond 2**53 ticks: the summaries keep their sums exactly (rounded
    once), so the merged means equal the single-machine ones to the last bit, in any order."""
    crm = fk.sample_crm(20_000, seed=1)
    crm["time"] = crm["time"].astype("datetime64[ns]") + pd.to_timedelta(np.arange(len(crm)) % 997, unit="ns")
    want = fk.lifecycle(crm).summary()
    big = [s for s in want.stages if want._state.time_in_stage(want.stages.index(s), -1).sum >= 2.0 ** 53]
    assert big  # the sums need more than a double's 53 bits of nanoseconds
    got = fkd.lifecycle(_ddf(crm, 4), partitions=7)
    same_result(got, want)
    shuffled = fk.lifecycle(crm.sample(frac=1.0, random_state=2)).summary()
    assert shuffled == want and shuffled.to_arrow().equals(want.to_arrow())
