"""funnelkit on Dask: the single-machine functions for a Dask DataFrame.

``funnelkit.dask.window_funnel(ddf, ...)``, ``conversion``, ``lifecycle`` and
``funnel_analysis`` take a Dask DataFrame and the arguments of the single-machine functions,
and return the same result types, equal to the single-machine results on the same rows. Rows
are grouped by entity (``ddf.shuffle(on=entity)``), ``map_partitions`` hands every partition to
the compiled core as an Arrow table and returns its partial state as bytes, and the states
merge in a tree of tasks (16 parts per merge) whose root the client receives. Raw rows never
travel to the client. The computation runs on the current scheduler (a
``distributed.Client`` if one is active).

Time columns are datetimes or integers (``time_unit=``), durations timedeltas or strings, as
on one machine. Needs ``pip install 'funnelkit[dask]'`` and the same funnelkit on every worker.
``campaign_report`` and ``attribute`` (touches and outcomes, each a Dask DataFrame, shuffled
alike by entity) compute the core's mergeable campaign and attribution states per partition,
exact to the last bit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from . import _distributed as _d

__all__ = ["window_funnel", "conversion", "lifecycle", "funnel_analysis", "campaign_report", "attribute",
           "MergeRoundingWarning"]

MergeRoundingWarning = _d.MergeRoundingWarning


def _part_series(frame: Any, plan: _d.Plan) -> Any:
    """map_partitions body: one pandas partition -> a Series holding its part (or nothing)."""
    import pandas as pd
    import pyarrow as pa

    blob = _d.part_of_table(plan, pa.Table.from_pandas(frame, preserve_index=False))
    return pd.Series([] if blob is None else [blob], dtype=object)


def _merge_series(*parts: Any) -> bytes | None:
    """A merge task: parts (Series of bytes, or bytes) -> one part."""
    blobs: list[Any] = []
    for p in parts:
        if p is None:
            continue
        blobs.extend(p.tolist() if hasattr(p, "tolist") else [p])
    return _d.merge_parts(blobs)


class _Dask(_d.Engine):
    takes = "a Dask DataFrame"
    module = "funnelkit.dask"

    def check(self, data: Any) -> None:
        if not (type(data).__module__.startswith("dask") and hasattr(data, "map_partitions")
                and hasattr(data, "shuffle")):
            raise TypeError(f"funnelkit.dask takes a Dask DataFrame, got {type(data).__name__}; for pandas, Polars "
                            "or Arrow data use the functions of funnelkit itself")

    def columns(self, data: Any) -> list[str]:
        return [str(c) for c in data.columns]

    def empty(self, data: Any, columns: Sequence[str]) -> Any:
        import pyarrow as pa

        return pa.Table.from_pandas(data._meta[list(columns)], preserve_index=False)

    def map_reduce(self, data: Any, plan: _d.Plan, entity: str | None, partitions: int | None) -> bytes | None:
        import pandas as pd

        ddf = data[list(plan.columns)]
        if entity is not None:
            ddf = ddf.shuffle(on=entity, npartitions=partitions or ddf.npartitions)
        return _tree_merge(ddf.map_partitions(_part_series, plan, meta=pd.Series([], dtype=object)))

    def map_reduce_pair(self, first: Any, second: Any, plan: _d.Plan, partitions: int | None) -> bytes | None:
        import dask.dataframe as dd
        import numpy as np
        import pandas as pd

        assert plan.entities is not None
        a = first[[plan.entities[0], *plan.columns]]
        b = second[[plan.entities[1], *plan.other_columns]]
        ta, tb = a.dtypes[plan.entities[0]], b.dtypes[plan.entities[1]]
        if ta != tb and ta.kind in "iuf" and tb.kind in "iuf":  # equal ids must hash alike
            common = np.result_type(ta, tb)
            a = a.astype({plan.entities[0]: common})
            b = b.astype({plan.entities[1]: common})
        n = partitions or max(a.npartitions, b.npartitions)
        # The same hash partitioning of both: an entity's touches and outcomes meet in one partition.
        a = a.shuffle(on=plan.entities[0], npartitions=n)
        b = b.shuffle(on=plan.entities[1], npartitions=n)
        return _tree_merge(dd.map_partitions(_pair_series, a, b, plan, meta=pd.Series([], dtype=object),
                                             align_dataframes=False))


def _tree_merge(parts: Any) -> bytes | None:
    """The parts (a Series per partition) merged in a tree of tasks, FANOUT parts per task; the
    client receives the root."""
    import dask

    level = list(parts.to_delayed())
    merge = dask.delayed(_merge_series, pure=True)
    while len(level) > 1:
        level = [merge(*level[i:i + _d.FANOUT]) for i in range(0, len(level), _d.FANOUT)]
    (root,) = dask.compute(merge(level[0]) if level else None)
    return root


def _pair_series(first: Any, second: Any, plan: _d.Plan) -> Any:
    """map_partitions body of a pair job: the two inputs' partitions -> a Series with the part."""
    import pandas as pd
    import pyarrow as pa

    blob = _d.part_of_pair(plan, pa.Table.from_pandas(first, preserve_index=False),
                           pa.Table.from_pandas(second, preserve_index=False))
    return pd.Series([] if blob is None else [blob], dtype=object)


_ENGINE = _Dask()

(window_funnel, conversion, lifecycle, funnel_analysis, campaign_report,
 attribute) = _d.publish(_ENGINE)
