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

from . import _core, _frames, _names
from ._result import Mergeable, Table
from .model import StageModel

__all__ = ["ConversionTable", "conversion"]

OVERALL = "(all)"


class ConversionTable(Mergeable):
    """Result of :func:`conversion`: reach counts and rates per stage, overall and per segment.

    Columns: ``segment`` (named after the segment column, e.g. ``source``; overall rows are
    labelled ``"(all)"`` and come first), ``stage`` (ladder order), ``owner``, ``entities``,
    ``reached``, ``step_rate``, ``cumulative_rate`` (null where undefined).

    Mergeable: tables computed on disjoint sets of entities with the same model, options and
    segment labels add up (``a + b``) to the table of all of them; ``to_bytes()`` and pickles
    carry the model and the labels.
    """

    definition = ("An entity reached a ladder stage when it has a record of that stage (with skipped='implied', "
                  "also when it has a record of a later ladder stage). step_rate = reached(stage) / "
                  "reached(previous stage); cumulative_rate = reached(stage) / reached(first stage); a rate "
                  "with a zero denominator is undefined (null). An entity's segment is the segment of its "
                  "earliest record.")
    _state_class = _core.ConversionCounts

    def __init__(self, counts: Any, model: StageModel, segment_name: str | None, segments: Sequence[Any],
                 *, skipped: str = "implied", inputs: dict[str, Any] | None = None):
        super().__init__(inputs=inputs, options={"skipped": skipped, "segment": segment_name},
                         categories={"stage": model.ladder})
        self._state = counts
        self.model = model
        self.segment_name = segment_name
        self.segments = list(segments)
        self.skipped = skipped

    # -- state contract ----------------------------------------------------------------------
    def _labels(self) -> dict[str, Any]:
        return {"model": self.model.to_dict(), "segment_name": self.segment_name, "segments": self.segments,
                "skipped": self.skipped}

    @classmethod
    def _from_state(cls, state: Any, labels: dict[str, Any]) -> ConversionTable:
        model = StageModel.from_dict(labels["model"])
        if state.n_stages != len(model.ladder):
            raise ValueError(f"corrupted ConversionTable: the state has {state.n_stages} stages but the model's "
                             f"ladder has {len(model.ladder)}")
        return cls(state, model, labels["segment_name"], labels["segments"], skipped=labels.get("skipped", "implied"))

    def _merge_labels(self, other: Any) -> None:
        if other.model != self.model:
            raise ValueError("cannot merge ConversionTable parts with different stage models")
        if other.skipped != self.skipped:
            raise ValueError(f"cannot merge ConversionTable parts with different 'skipped': "
                             f"{self.skipped!r} vs {other.skipped!r}")
        if other.segment_name != self.segment_name or (other.segments and self.segments
                                                        and other.segments != self.segments):
            raise ValueError("cannot merge ConversionTable parts with different segment labels; pass the same "
                             "segment_categories= to conversion() for every part")
        if not self.segments:
            self.segments = list(other.segments)
        self._reach = None  # per-entity reach describes one part only

    # -- getters ---------------------------------------------------------------------------
    @property
    def stages(self) -> list[str]:
        """Ladder stage names, in funnel order."""
        return self.model.ladder

    def _rank(self, stage: str | int) -> int:
        if isinstance(stage, str):
            if stage not in self.stages:
                raise ValueError(_names.unknown("stage", stage, self.stages))
            return self.stages.index(stage)
        if not 0 <= int(stage) < len(self.stages):
            raise ValueError(f"stage {stage!r} is not a ladder position (0..{len(self.stages) - 1})")
        return int(stage)

    def _seg(self, segment: Any) -> int:
        if segment is None:
            return -1
        try:
            return self.segments.index(segment)
        except ValueError:
            raise ValueError(_names.unknown("segment", segment, self.segments)) from None

    def entities(self, segment: Any = None) -> int:
        """Number of entities (overall, or in one segment)."""
        return int(self._state.entities(self._seg(segment)))

    def reached(self, stage: str | int, segment: Any = None) -> int:
        """Number of entities that reached ``stage`` (a name or a ladder position)."""
        return int(self._state.reached(self._rank(stage), self._seg(segment)))

    def step_rate(self, stage: str | int, segment: Any = None) -> float | None:
        """reached(stage) / reached(previous stage); None for the first stage or a zero denominator."""
        return self._state.step_rate(self._rank(stage), self._seg(segment))

    def cumulative_rate(self, stage: str | int, segment: Any = None) -> float | None:
        """reached(stage) / reached(first stage); None for a zero denominator."""
        return self._state.cumulative_rate(self._rank(stage), self._seg(segment))

    # -- the table ---------------------------------------------------------------------------
    def _columns(self) -> dict[str, Any]:
        t = self._state.table()  # every number from the core: counts and both rates
        # Without a segment column only the overall rows exist.
        keep = t["segment"] < 0 if self.segment_name is None else np.ones(len(t["segment"]), dtype=bool)
        seg, rank = t["segment"][keep], t["rank"][keep]
        owners = np.array(self.model.owners, dtype=object)
        out: dict[str, Any] = {}
        if self.segment_name is not None:
            labels = np.array([OVERALL, *self.segments[: self._state.n_segments]], dtype=object)
            out[self.segment_name] = labels[seg + 1]
        out.update({"stage": np.array(self.stages, dtype=object)[rank], "owner": owners[rank],
                    "entities": t["entities"][keep], "reached": t["reached"][keep],
                    "step_rate": t["step_rate"][keep], "cumulative_rate": t["cumulative_rate"][keep]})
        return out

    # -- who is behind the numbers -------------------------------------------------------------
    def _reach_matrix(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        reach = getattr(self, "_reach", None)
        if reach is None:
            raise ValueError("per-entity reach was not kept: call conversion(..., per_entity=True)")
        return reach

    def _entity_mask(self, segment: Any) -> np.ndarray:
        ids, reached, seg = self._reach_matrix()
        if segment is None:
            return np.ones(len(ids), dtype=bool)
        return seg == self._seg(segment)

    def entities_at(self, stage: str | int, segment: Any = None) -> np.ndarray:
        """Ids of the entities that reached ``stage`` (overall, or in one segment); needs
        ``conversion(..., per_entity=True)``. Their number is ``reached(stage, segment)``."""
        ids, reached, _ = self._reach_matrix()
        k = self._rank(stage)
        return ids[reached[:, k] & self._entity_mask(segment)]

    def dropped_at(self, stage: str | int, segment: Any = None) -> np.ndarray:
        """Ids of the entities that reached the stage before ``stage`` but not ``stage`` ("who
        dropped at SQL?"); needs ``conversion(..., per_entity=True)``."""
        ids, reached, _ = self._reach_matrix()
        k = self._rank(stage)
        if k == 0:
            raise ValueError(f"stage {self.stages[0]!r} is the first stage: nobody drops before it")
        return ids[reached[:, k - 1] & ~reached[:, k] & self._entity_mask(segment)]

    def without_overall(self) -> Table:
        """The table without the overall ("(all)") rows: segments only."""
        cols = self._table()
        if self.segment_name is None:
            raise ValueError("this table has no segments: conversion(..., segment=...) gives them")
        keep = np.array([lab != OVERALL for lab in cols[self.segment_name]], dtype=bool)
        return Table({k: (np.asarray(v, dtype=object) if isinstance(v, list) else v)[keep] for k, v in cols.items()},
                     name="ConversionTable", definition=self.definition, inputs=self._inputs,
                     options=self._options, categories=self._categories)

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
    per_entity: bool = False,
    threads: int = 1,
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
    per_entity:
        Also keep which entities reached which stage, for ``result.entities_at(stage)`` and
        ``result.dropped_at(stage)`` (costs the stage histories of every entity).
    threads:
        Worker threads for records not sorted by entity (entities are partitioned by a hash of
        their id); the counts never depend on it.

    Raises ValueError or TypeError naming the column, the row and the value for bad input.
    """
    model = model or StageModel.b2b()
    skipped = _names.choice(skipped, ("implied", "recorded"), "skipped")
    threads = _names.threads_option(threads)
    data = _frames.as_table(data)
    ent, ent_labels = _frames.entity_ids(_frames.column(data, entity, "entity", labels=True), entity)
    tim = _frames.timestamps(_frames.column(data, time, "time"), time)
    # Codes made from labels are one byte where they fit: the core reads int8 stage and segment
    # codes as they are (any other mix is read as int32).
    stg = _frames.stage_codes(_frames.column(data, stage, "stage", labels=True, known=model.names), model.names, stage,
                               narrow=True)
    seg = None
    labels: list[Any] = []
    if segment is not None:
        seg, labels = _frames.category_codes(_frames.column(data, segment, "segment", labels=True), segment,
                                             segment_categories, narrow=True)
    try:
        counts = _core.conversion(model._m, ent, tim, stg, seg, skipped, int(threads))
    except ValueError as exc:
        raise ValueError(_rename(str(exc), entity=entity, time=time, stage=stage, segment=segment)) from None
    if segment is not None and segment_categories is not None and counts.n_segments < len(labels):
        counts.merge(_core.ConversionCounts(len(model.ladder), len(labels)))
    inputs = {"rows": int(len(ent)), "entities": int(counts.entities(-1)),
              "columns": {"entity": entity, "time": time, "stage": stage, "segment": segment}}
    table = ConversionTable(counts, model, segment, labels, skipped=skipped, inputs=inputs)
    if per_entity:
        # The core's stage histories read each entity's reach exactly as the counts do.
        h = _core.build_histories(model._m, ent, tim, stg, seg, None, _core.HistoryOptions())
        never = np.iinfo(np.int64).min
        summary = h.summary()
        codes = summary["entity"]
        ids = codes if ent_labels is None else ent_labels[codes]
        reached = h.entry_times(skipped == "implied") != never
        table._reach = (ids, reached, summary["segment"] if seg is not None else None)
    return table


def _rename(message: str, **names: str | None) -> str:
    """Replaces the core's generic column names by the caller's column names."""
    for generic, actual in names.items():
        if actual and actual != generic:
            message = message.replace(f"column '{generic}'", f"column '{actual}'")
    return message
