"""funnelkit on Spark: the single-machine functions for a Spark DataFrame.

``funnelkit.spark.window_funnel(df, ...)``, ``conversion``, ``lifecycle`` and
``funnel_analysis`` take a PySpark (3.5 or newer) DataFrame and the arguments of the
single-machine functions, and return the same result types, equal to the single-machine
results on the same rows. Rows are grouped by entity on the executors
(``repartition(partitions, entity)``), every partition is handed to the compiled core as Arrow
batches (``mapInArrow``, no row-by-row conversion) and returns its partial state as bytes;
the states merge in a tree (on the executors when there are more than 16 parts, then on the
driver). Raw rows never travel to the driver.

Spark timestamps reach the partitions as Arrow microseconds (``TimestampType`` in UTC,
``TimestampNTZType`` as wall-clock time); durations are timedeltas or strings (``"1h"``,
``"7d"``) as on one machine, and integer time columns take ``time_unit=``.

``campaign_report`` and ``attribute`` (touches and outcomes, each a Spark DataFrame) compute the
core's mergeable campaign and attribution states per partition, exact to the last bit.

Needs ``pip install 'funnelkit[spark]'`` on the driver and the same funnelkit wheel on every
executor (see docs/distributed.md).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator, Sequence
from typing import Any

from . import _distributed as _d

__all__ = ["window_funnel", "conversion", "lifecycle", "funnel_analysis", "campaign_report", "attribute",
           "MergeRoundingWarning"]

MergeRoundingWarning = _d.MergeRoundingWarning


def _map_partition(plan: _d.Plan, batches: Iterator[Any]) -> Iterator[Any]:
    """mapInArrow body: the partition's batches as one table -> its part (one binary row)."""
    import pyarrow as pa

    batches = list(batches)
    if not batches:
        return
    blob = _d.part_of_table(plan, pa.Table.from_batches(batches))
    if blob is not None:
        yield pa.RecordBatch.from_arrays([pa.array([blob], type=pa.binary())], names=["part"])


def _merge_batches(batches: Iterator[Any]) -> Iterator[Any]:
    """mapInArrow body of a merge level: the parts of one task merged into one."""
    import pyarrow as pa

    blobs = [b for batch in batches for b in batch.column(0).to_pylist()]
    merged = _d.merge_parts(blobs)
    if merged is not None:
        yield pa.RecordBatch.from_arrays([pa.array([merged], type=pa.binary())], names=["part"])


def _input_partitions(df: Any) -> int:
    """The number of partitions of the input (a scan makes one part per partition); Spark
    Connect has no RDD to ask, and then the merge tree assumes many."""
    try:
        return int(df.rdd.getNumPartitions())
    except Exception:  # Spark Connect: no RDD API
        return _d.FANOUT + 1


class _Spark(_d.Engine):
    takes = "a Spark DataFrame"
    module = "funnelkit.spark"

    def check(self, data: Any) -> None:
        if not (hasattr(data, "mapInArrow") and hasattr(data, "repartition") and hasattr(data, "schema")):
            raise TypeError(f"funnelkit.spark takes a Spark DataFrame, got {type(data).__name__}; for pandas, Polars "
                            "or Arrow data use the functions of funnelkit itself")

    def columns(self, data: Any) -> list[str]:
        return list(data.columns)

    def empty(self, data: Any, columns: Sequence[str]) -> Any:
        """An empty Arrow table of the columns as the partitions will see them."""
        from pyspark.sql.pandas.types import to_arrow_schema

        schema = data.select(*columns).schema
        tz = data.sparkSession.conf.get("spark.sql.session.timeZone") or "UTC"
        try:
            return to_arrow_schema(schema, timezone=tz).empty_table()
        except TypeError:  # PySpark 3.5: no time zone argument, timestamps in UTC
            return to_arrow_schema(schema).empty_table()

    def map_reduce(self, data: Any, plan: _d.Plan, entity: str | None, partitions: int | None) -> bytes | None:
        df = data.select(*plan.columns)
        if entity is not None:
            df = df.repartition(partitions, entity) if partitions else df.repartition(entity)
            n = partitions or int(data.sparkSession.conf.get("spark.sql.shuffle.partitions"))
        else:
            n = _input_partitions(df)
        return _tree_merge(df.mapInArrow(functools.partial(_map_partition, plan), "part binary"), n)


    def map_reduce_pair(self, first: Any, second: Any, plan: _d.Plan, partitions: int | None) -> bytes | None:
        from pyspark.sql import functions as F

        assert plan.entities is not None

        def side(df: Any, k: int) -> Any:
            cols = [F.lit(k).cast("byte").alias(_d.SIDE), F.col(plan.entities[k]).alias(_d.ENTITY)]
            for prefix, names, source, mine in ((_d.FIRST, plan.columns, first, k == 0),
                                                (_d.SECOND, plan.other_columns, second, k == 1)):
                for c in names:
                    cols.append(F.col(c).alias(prefix + c) if mine
                                else F.lit(None).cast(source.schema[c].dataType).alias(prefix + c))
            return df.select(*cols)

        both = side(first, 0).unionByName(side(second, 1))
        both = both.repartition(partitions, _d.ENTITY) if partitions else both.repartition(_d.ENTITY)
        n = partitions or int(first.sparkSession.conf.get("spark.sql.shuffle.partitions"))
        return _tree_merge(both.mapInArrow(functools.partial(_map_pair, plan), "part binary"), n)


def _tree_merge(parts: Any, n: int) -> bytes | None:
    """The parts of n partitions merged: on the executors, FANOUT parts per task, until few are
    left, which the driver merges."""
    while n > _d.FANOUT:
        n = math.ceil(n / _d.FANOUT)
        parts = parts.repartition(n).mapInArrow(_merge_batches, "part binary")
    return _d.merge_parts(bytes(row[0]) for row in parts.collect())


def _map_pair(plan: _d.Plan, batches: Iterator[Any]) -> Iterator[Any]:
    """mapInArrow body of a pair job: the union's rows of the partition -> its part."""
    import pyarrow as pa

    batches = list(batches)
    if not batches:
        return
    blob = _d.part_of_pair(plan, *_d.split_union(plan, pa.Table.from_batches(batches)))
    if blob is not None:
        yield pa.RecordBatch.from_arrays([pa.array([blob], type=pa.binary())], names=["part"])


_ENGINE = _Spark()

(window_funnel, conversion, lifecycle, funnel_analysis, campaign_report,
 attribute) = _d.publish(_ENGINE)
