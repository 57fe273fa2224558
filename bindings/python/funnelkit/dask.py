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
``campaign_report`` and ``attribute`` raise NotImplementedError: their results do not merge
exactly from partitions (see their messages).
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
        import dask
        import pandas as pd

        ddf = data[list(plan.columns)]
        if entity is not None:
            ddf = ddf.shuffle(on=entity, npartitions=partitions or ddf.npartitions)
        parts = ddf.map_partitions(_part_series, plan, meta=pd.Series([], dtype=object))
        level = list(parts.to_delayed())
        merge = dask.delayed(_merge_series, pure=True)
        while len(level) > 1:
            level = [merge(*level[i:i + _d.FANOUT]) for i in range(0, len(level), _d.FANOUT)]
        (root,) = dask.compute(merge(level[0]) if level else None)
        return root


_ENGINE = _Dask()

(window_funnel, conversion, lifecycle, funnel_analysis, campaign_report,
 attribute) = _d.publish(_ENGINE)
