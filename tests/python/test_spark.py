"""funnelkit.spark gives the single-machine results on Spark DataFrames: equal (``==`` for the
mergeable results, ``to_arrow().equals`` for every table) on the sample data and on random
events with skewed entities, for 1, 2 and 7 partitions, with Spark timestamps (in UTC and in
another session time zone, and without time zone) and integer times. One local[2] session
serves every test (the JVM start dominates otherwise)."""

from __future__ import annotations

import os
import shutil
import sys

import numpy as np
import pytest

pyspark = pytest.importorskip("pyspark", reason="funnelkit.spark needs PySpark: pip install 'funnelkit[spark]'")
if not (shutil.which("java") or os.environ.get("JAVA_HOME")):
    pytest.skip("funnelkit.spark tests need a Java runtime (Debian: openjdk-17-jre-headless)", allow_module_level=True)
pd = pytest.importorskip("pandas")

import funnelkit as fk  # noqa: E402
import funnelkit.spark as fks  # noqa: E402
from contract import check_contract  # noqa: E402
from distributed_data import (  # noqa: E402
    EVENTS, PARTITIONS, STEPS, crm_records, quiet, same_errors, same_result, skewed_events, with_amounts)

pytestmark = quiet("pyspark", "py4j")


@pytest.fixture(scope="session")
def spark():
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    session = (SparkSession.builder.master("local[2]").appName("funnelkit-tests")
               .config("spark.ui.enabled", "false").config("spark.driver.host", "127.0.0.1")
               .config("spark.driver.bindAddress", "127.0.0.1").config("spark.sql.shuffle.partitions", "4")
               .config("spark.sql.session.timeZone", "UTC").config("spark.sql.execution.arrow.pyspark.enabled", "true")
               .config("spark.python.worker.reuse", "true").getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def crm():
    """The sample CRM records with Spark's time resolution (microseconds, UTC)."""
    return crm_records(utc=True)[["entity", "time", "stage", "source", "reason"]]


@pytest.fixture(scope="module")
def events():
    return skewed_events(seed=5)


@pytest.fixture(scope="module")
def spark_crm(spark, crm):
    return spark.createDataFrame(crm).cache()


@pytest.fixture(scope="module")
def spark_events(spark, events):
    return spark.createDataFrame(events).repartition(3).cache()


@pytest.mark.parametrize("partitions", PARTITIONS)
def test_conversion_and_lifecycle_equal_one_machine(spark_crm, crm, partitions):
    same_result(fks.conversion(spark_crm, segment="source", partitions=partitions), fk.conversion(crm, segment="source"))
    got = fks.lifecycle(spark_crm, segment="source", reason="reason", partitions=partitions)
    same_result(got, fk.lifecycle(crm, segment="source", reason="reason").summary())
    assert got.explain().inputs["rows"] == len(crm)


@pytest.mark.parametrize("partitions", PARTITIONS)
def test_event_funnels_equal_one_machine(spark_crm, crm, spark_events, events, partitions):
    kw = dict(window="30d", steps=STEPS, step="stage")
    same_result(fks.window_funnel(spark_crm, partitions=partitions, **kw), fk.window_funnel(crm, **kw))
    kw = dict(window=3 * 86_400, steps=EVENTS, step="event", strict_order=True)
    same_result(fks.window_funnel(spark_events, partitions=partitions, **kw), fk.window_funnel(events, **kw))
    kw = dict(window="2d", steps=EVENTS, step="event", segment="channel", period="week", tz="Europe/Berlin",
              exclusions=[("help", "signup", "pay")], max_gap={"trial": "1d"}, optional=["trial"],
              count_conversions=True)
    got, want = fks.funnel_analysis(spark_events, partitions=partitions, **kw), fk.funnel_analysis(events, **kw)
    same_result(got, want)
    for part in ("segments", "trend"):
        assert getattr(got, part)().to_arrow().equals(getattr(want, part)().to_arrow())
    assert (got.closed, got.open, got.unattributed) == (want.closed, want.open, want.unattributed)
    assert got.conversions == want.conversions and got.through_step == want.through_step
    assert got.time_to_convert().to_arrow().equals(want.time_to_convert().to_arrow())


def test_spark_timestamps_are_instants(spark, spark_crm, crm):
    """TimestampType reaches the partitions as UTC microseconds whatever the session time zone;
    TimestampNTZType as wall-clock microseconds. Both give the single-machine answers."""
    from pyspark.sql import functions as F

    kw = dict(window="30d", steps=STEPS, step="stage", segment="source", period="month")
    want = fk.funnel_analysis(crm, **kw)
    spark.conf.set("spark.sql.session.timeZone", "America/New_York")
    try:
        got = fks.funnel_analysis(spark_crm, partitions=2, **kw)
        same_result(got, want)
        same_result(fks.lifecycle(spark_crm, partitions=2), fk.lifecycle(crm).summary())
    finally:
        spark.conf.set("spark.sql.session.timeZone", "UTC")
    wall = spark_crm.withColumn("time", F.col("time").cast("timestamp_ntz"))
    naive = crm.assign(time=crm["time"].dt.tz_localize(None))
    same_result(fks.window_funnel(wall, window="30d", steps=STEPS, step="stage"),
          fk.window_funnel(naive, window="30d", steps=STEPS, step="stage"))
    check_contract(got)
    for result in (fks.window_funnel(wall, window="30d", steps=STEPS, step="stage"),
                   fks.conversion(spark_crm), fks.lifecycle(spark_crm, segment="source")):
        check_contract(result)


def test_errors_are_the_single_machine_ones(spark_crm, spark_events, events):
    same_errors(lambda **kw: fk.window_funnel(events, **kw), lambda **kw: fks.window_funnel(spark_events, **kw))
    with pytest.raises(TypeError, match="bare number"):
        fks.window_funnel(spark_crm, window=3600, steps=STEPS, step="stage")
    with pytest.raises(NotImplementedError, match="per_entity"):
        fks.window_funnel(spark_events, window="1d", steps=EVENTS, step="event", per_entity=True)
    with pytest.raises(ValueError) as single:
        fk.attribute(events, events, model="markv")
    with pytest.raises(ValueError) as dist:
        fks.attribute(spark_events, spark_events, model="markv")
    assert str(dist.value) == str(single.value)
    with pytest.raises(TypeError, match="Spark DataFrame"):
        fks.conversion(events)
    # An error inside a partition (a stage outside the model) reaches the driver with its text.
    with pytest.raises(Exception, match="is not a stage of the model"):
        fks.conversion(spark_events.withColumnRenamed("event", "stage"))


def test_many_parts_merge_on_the_executors(spark_crm, crm):
    """More parts than one merge task takes: the executors merge them in a tree first."""
    same_result(fks.conversion(spark_crm, segment="source", partitions=40), fk.conversion(crm, segment="source"))


@pytest.mark.parametrize("partitions", PARTITIONS)
def test_campaign_report_equal_one_machine(spark, crm, partitions):
    crm = with_amounts(crm)
    data = spark.createDataFrame(crm)
    kw = dict(cost={"Webinar": 1200.0, "Paid Search": 3e4}, skipped="recorded" if partitions == 7 else "implied")
    got, want = fks.campaign_report(data, partitions=partitions, **kw), fk.campaign_report(crm, **kw)
    same_result(got, want)
    assert got.missing_cost == want.missing_cost
    check_contract(got)


def _touches():
    """Touches of skewed paths (one path holds a large share), null touches, outcome rows
    without touches and touched paths without an outcome row."""
    rng = np.random.default_rng(4)
    n_paths, n = 500, 4000
    touches = pd.DataFrame({"path": np.minimum(rng.zipf(1.5, n), n_paths).astype(np.int64),
                            "time": rng.integers(0, 30 * 86_400, n) // 600 * 600,
                            "channel": rng.choice(["ads", "mail", "seo", "social", None], n,
                                                  p=[0.3, 0.25, 0.2, 0.2, 0.05]).astype(object)})
    ids = np.arange(1, n_paths + 30, dtype=np.int64)
    ids = ids[rng.random(len(ids)) < 0.9]
    converted = (rng.random(len(ids)) < 0.4).astype(np.int64)
    outcomes = pd.DataFrame({"path": ids, "converted": converted,
                             "value": np.round(rng.lognormal(6, 1.5, len(ids)), 2) * converted})
    return touches, outcomes


@pytest.mark.parametrize("partitions", PARTITIONS)
def test_attribution_equal_one_machine(spark, partitions):
    """Rule-based credits (exact sums), Markov (merged paths) and seeded Shapley sampling give
    the single-machine result to the last bit."""
    touches, outcomes = _touches()
    t, o = spark.createDataFrame(touches).repartition(3), spark.createDataFrame(outcomes)
    models = [dict(model="linear"), dict(model="time_decay", half_life=86_400 * 2), dict(model="markov"),
              dict(model="shapley", shapley_game="value_rate", shapley_exact_max=2, shapley_samples=200, seed=5)]
    for kw in models if partitions == 2 else models[::3]:
        same_result(fks.attribute(t, o, partitions=partitions, **kw), fk.attribute(touches, outcomes, **kw))
    if partitions == 2:  # Spark timestamps: the same instants, durations as strings
        dated = touches.assign(time=pd.to_datetime(touches["time"], unit="s").astype("datetime64[us]")
                               .dt.tz_localize("UTC"))
        kw = dict(model="time_decay", half_life="2d")
        same_result(fks.attribute(spark.createDataFrame(dated), o, partitions=2, **kw), fk.attribute(dated, outcomes, **kw))
