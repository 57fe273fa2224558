"""Stage reach and conversion rates, overall and per segment.

An entity *reached* a ladder stage when it has a record of that stage. With
``skipped="implied"`` (the default, as in forward-only CRM lifecycles) reaching a stage also
counts as reaching every earlier ladder stage; with ``skipped="recorded"`` only recorded stages
count, so step rates can exceed 1 when entities skip stages. Recycled entities count once per
stage. An entity's segment is the segment value of its earliest record (ties: the smallest
code), so the result does not depend on row order.

step rate = reached(stage) / reached(previous stage); cumulative rate = reached(stage) /
reached(first stage). Rates are undefined (NaN in tables, ``None`` from getters) when the
denominator is 0; the counts are always reported next to them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from . import _core, _frames
from .model import StageModel

__all__ = ["ConversionTable", "conversion"]

OVERALL = "(all)"


class ConversionTable:
    """Result of :func:`conversion`: reach counts and rates per stage, overall and per segment.

    Mergeable: tables computed on disjoint sets of entities with the same model and the same
    segment labels add up (``a + b``) to the table of all of them. Picklable through funnelkit's
    versioned binary format (``to_bytes`` / ``from_bytes``).
    """

    __slots__ = ("_counts", "model", "segment_name", "segments")

    def __init__(self, counts: Any, model: StageModel, segment_name: str | None, segments: Sequence[Any]):
        self._counts = counts
        self.model = model
        self.segment_name = segment_name
        self.segments = list(segments)

    # -- getters ---------------------------------------------------------------------------
    @property
    def stages(self) -> list[str]:
        """Ladder stage names, in funnel order."""
        return self.model.ladder

    def _rank(self, stage: str | int) -> int:
        if isinstance(stage, str):
            try:
                return self.stages.index(stage)
            except ValueError:
                raise ValueError(f"stage {stage!r} is not a ladder stage ({', '.join(self.stages)})") from None
        return int(stage)

    def _seg(self, segment: Any) -> int:
        if segment is None:
            return -1
        try:
            return self.segments.index(segment)
        except ValueError:
            raise ValueError(f"segment {segment!r} is not in this table") from None

    def entities(self, segment: Any = None) -> int:
        """Number of entities (overall, or in one segment)."""
        return int(self._counts.entities(self._seg(segment)))

    def reached(self, stage: str | int, segment: Any = None) -> int:
        """Number of entities that reached ``stage`` (a name or a ladder position)."""
        return int(self._counts.reached(self._rank(stage), self._seg(segment)))

    def step_rate(self, stage: str | int, segment: Any = None) -> float | None:
        """reached(stage) / reached(previous stage); None for the first stage or a zero denominator."""
        return self._counts.step_rate(self._rank(stage), self._seg(segment))

    def cumulative_rate(self, stage: str | int, segment: Any = None) -> float | None:
        """reached(stage) / reached(first stage); None for a zero denominator."""
        return self._counts.cumulative_rate(self._rank(stage), self._seg(segment))

    # -- conversion to tables --------------------------------------------------------------
    def to_dict(self, *, include_overall: bool = True) -> dict[str, np.ndarray]:
        """Columns of the long table: segment, stage, owner, entities, reached, step_rate,
        cumulative_rate (one row per segment and ladder stage; overall rows first, labelled
        "(all)")."""
        t = self._counts.table()
        seg, rank = t["segment"], t["rank"]
        keep = np.ones(len(seg), dtype=bool) if include_overall else seg >= 0
        reached = t["reached"].astype(np.int64)
        n_stages = self._counts.n_stages
        first = reached[(np.arange(len(reached)) // max(n_stages, 1)) * n_stages] if len(reached) else reached
        prev = np.where(rank > 0, np.roll(reached, 1), 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = np.where((rank > 0) & (prev > 0), reached / np.where(prev > 0, prev, 1), np.nan)
            cum = np.where(first > 0, reached / np.where(first > 0, first, 1), np.nan)
        labels = np.array([OVERALL, *self.segments], dtype=object)
        names = np.array(self.stages, dtype=object)
        owners = np.array(self.model.owners, dtype=object)
        out = {
            "segment": labels[seg + 1][keep],
            "stage": names[rank][keep],
            "owner": owners[rank][keep],
            "entities": t["entities"][keep],
            "reached": reached[keep],
            "step_rate": step[keep],
            "cumulative_rate": cum[keep],
        }
        if self.segment_name is None:
            del out["segment"]
        return out

    def to_pandas(self, *, include_overall: bool = True) -> Any:
        """A pandas DataFrame of :meth:`to_dict`; the segment column is named after the input
        column (e.g. ``source``)."""
        import pandas as pd

        d = self.to_dict(include_overall=include_overall)
        df = pd.DataFrame(d)
        if self.segment_name is not None:
            df = df.rename(columns={"segment": self.segment_name})
        df["stage"] = pd.Categorical(df["stage"], categories=self.stages, ordered=True)
        return df

    def to_arrow(self, *, include_overall: bool = True) -> Any:
        import pyarrow as pa

        return pa.Table.from_pandas(self.to_pandas(include_overall=include_overall), preserve_index=False)

    def to_polars(self, *, include_overall: bool = True) -> Any:
        import polars as pl

        d = self.to_dict(include_overall=include_overall)
        d = {k: (v.tolist() if v.dtype == object else v) for k, v in d.items()}
        df = pl.DataFrame(d)
        if self.segment_name is not None:
            df = df.rename({"segment": self.segment_name})
        return df

    # -- state contract --------------------------------------------------------------------
    def merge(self, other: ConversionTable) -> ConversionTable:
        """Adds another table of disjoint entities into this one (in place) and returns self."""
        if not isinstance(other, ConversionTable):
            raise TypeError(f"cannot merge a ConversionTable with {type(other).__name__}")
        if other.model != self.model:
            raise ValueError("cannot merge conversion tables of different stage models")
        if other.segment_name != self.segment_name or (other.segments and self.segments and other.segments != self.segments):
            raise ValueError(
                "cannot merge conversion tables with different segment labels; pass the same "
                "segment_categories= to conversion() for every part"
            )
        self._counts.merge(other._counts)
        if not self.segments:
            self.segments = list(other.segments)
        return self

    def __add__(self, other: ConversionTable) -> ConversionTable:
        out = ConversionTable(_core.ConversionCounts.deserialize(self._counts.serialize()), self.model,
                              self.segment_name, self.segments)
        return out.merge(other)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, ConversionTable)
            and self._counts == other._counts
            and self.model == other.model
            and self.segment_name == other.segment_name
            and self.segments == other.segments
        )

    def to_bytes(self) -> bytes:
        """The counts in funnelkit's versioned binary format (labels and model not included)."""
        return self._counts.serialize()

    @classmethod
    def from_bytes(cls, data: bytes, *, model: StageModel, segment_name: str | None = None,
                   segments: Sequence[Any] = ()) -> ConversionTable:
        counts = _core.ConversionCounts.deserialize(bytes(data))
        if counts.n_stages != len(model.ladder):
            raise ValueError(f"the blob has {counts.n_stages} stages but the model's ladder has {len(model.ladder)}")
        return cls(counts, model, segment_name, segments)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore, (self.to_bytes(), self.model, self.segment_name, self.segments))

    def __repr__(self) -> str:
        lines = [f"ConversionTable({self.entities()} entities"
                 + (f", {len(self.segments)} segments by {self.segment_name!r}" if self.segment_name else "") + ")"]
        width = max(len(s) for s in self.stages)
        for k, s in enumerate(self.stages):
            step = self.step_rate(k)
            cum = self.cumulative_rate(k)
            lines.append(
                f"  {s:<{width}}  {self.reached(k):>10,}  step {_pct(step):>7}  cumulative {_pct(cum):>7}"
            )
        return "\n".join(lines)


def _pct(r: float | None) -> str:
    return "-" if r is None else f"{100 * r:.1f}%"


def _restore(blob: bytes, model: StageModel, segment_name: str | None, segments: list[Any]) -> ConversionTable:
    return ConversionTable.from_bytes(blob, model=model, segment_name=segment_name, segments=segments)


def conversion(
    data: Any,
    *,
    model: StageModel | None = None,
    entity: str = "entity",
    time: str = "time",
    stage: str = "stage",
    segment: str | None = None,
    segment_categories: Sequence[Any] | None = None,
    skipped: str = "implied",
) -> ConversionTable:
    """Reach and conversion rates per ladder stage, overall and per segment.

    Parameters
    ----------
    data:
        Stage-change records, one row per move of an entity into a stage: a pandas or Polars
        DataFrame, a PyArrow table, a DuckDB relation or a dict of numpy arrays. Rows may come
        in any order.
    model:
        The stage model; :meth:`StageModel.b2b` when omitted.
    entity, time, stage:
        Column names. Entity ids are integers or any hashable values (strings are encoded);
        times are integers in any unit or datetimes; stages are names of the model's stages
        (strings or categoricals) or integer stage codes.
    segment:
        Optional column to break the table down by (e.g. ``"source"``, ``"campaign"``).
    segment_categories:
        Fixes the segment labels and their order (needed to merge tables of several parts).
    skipped:
        ``"implied"`` (reaching a stage implies the earlier ones) or ``"recorded"``.

    Raises ValueError or TypeError naming the column, the row and the value for bad input.
    """
    model = model or StageModel.b2b()
    if skipped not in ("implied", "recorded"):
        raise ValueError(f"option 'skipped': value {skipped!r} is not one of 'implied', 'recorded'")
    data = _frames.as_table(data)
    ent = _frames.entity_codes(_frames.column(data, entity), entity)
    tim = _frames.timestamps(_frames.column(data, time), time)
    stg = _frames.stage_codes(_frames.column(data, stage), model.names, stage)
    seg = None
    labels: list[Any] = []
    if segment is not None:
        seg, labels = _frames.category_codes(_frames.column(data, segment), segment, segment_categories)
    try:
        counts = _core.conversion(model._m, ent, tim, stg, seg, skipped)
    except ValueError as exc:
        raise ValueError(_rename(str(exc), entity=entity, time=time, stage=stage, segment=segment)) from None
    if segment is not None and segment_categories is not None and counts.n_segments < len(labels):
        counts.merge(_core.ConversionCounts(len(model.ladder), len(labels)))
    return ConversionTable(counts, model, segment, labels)


def _rename(message: str, **names: str | None) -> str:
    """Replaces the core's generic column names by the caller's column names."""
    for generic, actual in names.items():
        if actual and actual != generic:
            message = message.replace(f"column '{generic}'", f"column '{actual}'")
    return message
