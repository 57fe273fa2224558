"""Event-stream funnels: ClickHouse-compatible ``windowFunnel`` over raw events.

For every entity, the *level* is the number of leading funnel steps it completed in order,
each within ``window`` time units of the step-1 event that started the chain (boundary
inclusive). The rules are those of ClickHouse's ``windowFunnel(window, modes)(time, cond1, ...)``
bit for bit, including its tie rule: events with equal timestamps are taken in funnel order,
so a tie between step 1 and step 2 completes both, and an event matching several steps counts
as each of them. Modes (combinable, as in ClickHouse):

- ``strict_deduplication``: a repeat of an already reached step (other than step 1) ends the
  entity's search at its current level;
- ``strict_order``: after step 1, an event matching no step, or a step occurring before the
  step it follows, ends the search;
- ``allow_reentry`` (with ``strict_order``): out-of-order steps are ignored instead;
- ``strict_increase``: a step advances a chain only when strictly later than the previous step.

The answer does not depend on the row order of the input. The full rules are documented in
``include/funnelkit/window_funnel.hpp``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from . import _core, _frames

__all__ = ["FunnelAnalysis", "WindowFunnel", "funnel_analysis", "window_funnel"]

_ORDERS = ("detect", "entity_time", "time", "unsorted")


class WindowFunnel:
    """Result of :func:`window_funnel`: how many entities reached each level.

    ``reached[k]`` is the number of entities whose level is at least ``k`` (``reached[0]`` is
    every entity with at least one event). Mergeable: results of disjoint sets of entities
    add up (``a + b``); picklable through funnelkit's versioned binary format.
    """

    __slots__ = ("_counts", "step_names", "entity", "level")

    def __init__(self, counts: Any, step_names: Sequence[str], entity: np.ndarray | None = None,
                 level: np.ndarray | None = None):
        self._counts = counts
        self.step_names = list(step_names)
        #: With ``per_entity=True``: entity ids in ascending order (int64) and their levels.
        self.entity = entity
        self.level = level

    @property
    def steps(self) -> int:
        """Number of funnel steps."""
        return int(self._counts.steps)

    @property
    def entities(self) -> int:
        """Number of entities counted."""
        return int(self._counts.entities)

    @property
    def reached(self) -> list[int]:
        """reached[k] = entities whose level is at least k, for k = 0..steps."""
        return [int(x) for x in self._counts.reached_counts()]

    def at_level(self, level: int) -> int:
        """Entities whose level is exactly ``level``."""
        return int(self._counts.at_level(level))

    def to_dict(self) -> dict[str, np.ndarray]:
        """One row per step: step (name), level (1-based), reached, step_rate (reached over the
        previous step's), cumulative_rate (over step 1's). Rates are NaN for a zero denominator."""
        r = np.asarray(self.reached[1:], dtype=np.int64)
        prev = np.concatenate([[r[0]], r[:-1]]) if len(r) else r
        with np.errstate(divide="ignore", invalid="ignore"):
            step_rate = np.where(prev > 0, r / np.where(prev > 0, prev, 1), np.nan)
            cum = np.where(r[0] > 0, r / max(int(r[0]), 1), np.nan) if len(r) else r.astype(float)
        return {
            "step": np.array(self.step_names, dtype=object),
            "level": np.arange(1, len(r) + 1, dtype=np.int64),
            "reached": r,
            "step_rate": step_rate,
            "cumulative_rate": cum,
        }

    def to_pandas(self) -> Any:
        """The per-step table of :meth:`to_dict` as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame(self.to_dict())

    def to_polars(self) -> Any:
        import polars as pl

        d = self.to_dict()
        d["step"] = d["step"].tolist()
        return pl.DataFrame(d)

    def entity_levels(self) -> Any:
        """A pandas DataFrame of (entity, level); needs ``per_entity=True``."""
        if self.entity is None:
            raise ValueError("per-entity levels were not computed: call window_funnel(..., per_entity=True)")
        import pandas as pd

        return pd.DataFrame({"entity": self.entity, "level": self.level})

    # -- state contract --------------------------------------------------------------------
    def merge(self, other: WindowFunnel) -> WindowFunnel:
        """Adds the counts of another result over disjoint entities (in place); returns self.
        Per-entity levels are dropped."""
        if not isinstance(other, WindowFunnel):
            raise TypeError(f"cannot merge a WindowFunnel with {type(other).__name__}")
        if other.steps != self.steps:
            raise ValueError(f"cannot merge funnels of {self.steps} and {other.steps} steps")
        self._counts.merge(other._counts)
        self.entity = self.level = None
        return self

    def __add__(self, other: WindowFunnel) -> WindowFunnel:
        out = WindowFunnel(_core.WindowFunnelCounts.deserialize(self._counts.serialize()), self.step_names)
        return out.merge(other)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, WindowFunnel) and self._counts == other._counts and self.step_names == other.step_names

    def to_bytes(self) -> bytes:
        """The level counts in funnelkit's versioned binary format (step names not included)."""
        return self._counts.serialize()

    @classmethod
    def from_bytes(cls, data: bytes, *, step_names: Sequence[str] | None = None) -> WindowFunnel:
        counts = _core.WindowFunnelCounts.deserialize(bytes(data))
        names = list(step_names) if step_names is not None else [f"step {k + 1}" for k in range(counts.steps)]
        if len(names) != counts.steps:
            raise ValueError(f"the blob has {counts.steps} steps but {len(names)} step names were given")
        return cls(counts, names)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore, (self.to_bytes(), self.step_names))

    def __repr__(self) -> str:
        lines = [f"WindowFunnel({self.entities:,} entities, {self.steps} steps)"]
        d = self.to_dict()
        width = max([len(s) for s in self.step_names] + [4])
        for name, reached, cum in zip(d["step"], d["reached"], d["cumulative_rate"]):
            pct = "-" if cum != cum else f"{100 * cum:.1f}%"
            lines.append(f"  {name:<{width}}  {int(reached):>12,}  {pct:>7}")
        return "\n".join(lines)


def _restore(blob: bytes, step_names: list[str]) -> WindowFunnel:
    return WindowFunnel.from_bytes(blob, step_names=step_names)


def window_funnel(
    data: Any,
    *,
    window: int,
    steps: int | Sequence[Any],
    entity: str = "entity",
    time: str = "time",
    step: str | None = "step",
    step_mask: str | None = None,
    strict_deduplication: bool = False,
    strict_order: bool = False,
    strict_increase: bool = False,
    allow_reentry: bool = False,
    exact_increase: bool = False,
    order: str = "detect",
    threads: int = 1,
    per_entity: bool = False,
) -> WindowFunnel:
    """Per-entity funnel levels over an event stream, counted per level.

    Parameters
    ----------
    data:
        Events, one row each: a pandas or Polars DataFrame, a PyArrow table, a DuckDB relation
        or a dict of numpy arrays.
    window:
        Conversion window, in the unit of the time column (seconds for second timestamps,
        nanoseconds for ``datetime64[ns]``); ``>= 0``; the boundary is inclusive.
    steps:
        The number of steps (then the ``step`` column holds integer codes ``0..steps-1``, or
        ``-1`` for an event matching no step), or the step names in funnel order (then the
        ``step`` column holds names and any other value matches no step). At most 64 steps.
    entity, time, step:
        Column names. Entity ids are integers or any hashable values (strings are encoded);
        times are integers in any unit or datetimes.
    step_mask:
        Instead of ``step``: a column of unsigned bitmasks, bit k set when the event matches
        step k (an event may match several steps).
    strict_deduplication, strict_order, strict_increase, allow_reentry:
        ClickHouse's modes (see the module documentation).
    exact_increase:
        With ``strict_increase`` alone: the exact longest chain of strictly increasing times.
        ClickHouse keeps one chain per level and can lose an older chain that would still
        advance (e.g. steps 1@0, 2@10, 1@3000, 2@3100, 3@3100 with a 3600 window: ClickHouse
        says 2, the exact answer is 3). Off by default for compatibility.
    order:
        ``"detect"`` (scan the input once), or a promise that is checked during the pass:
        ``"entity_time"`` (sorted by entity, then time), ``"time"`` (event-log order) or
        ``"unsorted"``.
    threads:
        Worker threads (partitioned by entity).
    per_entity:
        Also return every entity's level (``result.entity``, ``result.level``,
        ``result.entity_levels()``).

    Raises ValueError or TypeError naming the column, the row and the value for bad input.
    """
    if order not in _ORDERS:
        raise ValueError(f"option 'order': value {order!r} is not one of {', '.join(map(repr, _ORDERS))}")
    if isinstance(steps, (int, np.integer)) and not isinstance(steps, bool):
        n_steps = int(steps)
        names = [f"step {k + 1}" for k in range(max(n_steps, 0))]
        lookup = None
    else:
        names = [str(s) for s in steps]
        n_steps = len(names)
        lookup = {s: k for k, s in enumerate(steps)}
        if len(lookup) != n_steps:
            raise ValueError("option 'steps': step names must be distinct")
    if n_steps < 1 or n_steps > 64:
        raise ValueError(f"option 'steps': value {n_steps} must be between 1 and 64")
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)):
        raise TypeError(f"option 'window': value {window!r} must be an integer in the time column's unit")
    if int(window) < 0:
        raise ValueError(f"option 'window': value {int(window)} must be >= 0")
    if threads < 1:
        raise ValueError(f"option 'threads': value {threads} must be >= 1")
    data = _frames.as_table(data)
    ent = _frames.entity_codes(_frames.column(data, entity), entity)
    tim = _frames.timestamps(_frames.column(data, time), time)
    code = mask = None
    if step_mask is not None:
        raw = np.asarray(_frames.column(data, step_mask))
        if raw.dtype.kind not in "iu":
            raise TypeError(f"column '{step_mask}': expected integer bitmasks, got dtype {raw.dtype}")
        if raw.dtype.kind == "i" and raw.size and (raw < 0).any():
            row = int(np.flatnonzero(raw < 0)[0])
            raise ValueError(f"column '{step_mask}', row {row}: value {int(raw[row])} is not a bitmask")
        mask = np.ascontiguousarray(raw, dtype=np.uint64)
    elif step is not None:
        raw = _frames.column(data, step)
        if lookup is None:
            code = _frames.int32_codes(raw, step)
        else:
            values = np.asarray(raw.astype(object) if hasattr(raw, "cat") else raw, dtype=object)
            uniques, inverse = np.unique(values.astype(str), return_inverse=True)
            str_lookup = {str(k): v for k, v in lookup.items()}
            mapping = np.array([str_lookup.get(u, -1) for u in uniques], dtype=np.int32)
            code = mapping[inverse.reshape(-1)] if len(values) else np.empty(0, dtype=np.int32)
    else:
        raise ValueError("give the column of step codes (step=) or of step bitmasks (step_mask=)")
    try:
        counts, ids, levels = _core.window_funnel(
            ent, tim, code, mask, int(window), n_steps, bool(strict_deduplication), bool(strict_order),
            bool(strict_increase), bool(allow_reentry), order, int(threads), bool(per_entity),
            bool(exact_increase))
    except ValueError as exc:
        msg = str(exc)
        for generic, actual in (("entity", entity), ("time", time), ("step", step), ("step_mask", step_mask)):
            if actual and actual != generic:
                msg = msg.replace(f"column '{generic}'", f"column '{actual}'")
        raise ValueError(msg) from None
    return WindowFunnel(counts, names, ids if per_entity else None, levels if per_entity else None)


# ---------------------------------------------------------------------------------------------
# Beyond windowFunnel


class FunnelAnalysis:
    """Result of :func:`funnel_analysis`.

    ``closed`` counts entities whose outcome is final; ``open`` the entrants whose window was
    still open at ``data_end`` (they could still convert, so they are not drop-offs). Both are
    :class:`WindowFunnel` level counts. ``by_segment`` maps segment labels to level counts,
    ``trend`` maps entry-period starts to level counts, ``time_to_convert()`` summarises the
    time from step 1 to each later step, ``conversions`` counts completed funnels.
    """

    def __init__(self, raw: dict, step_names: list[str], segment_labels: list[Any] | None):
        self.step_names = step_names
        self.closed = WindowFunnel(raw["closed"], step_names)
        self.open = WindowFunnel(raw["open"], step_names)
        self.by_segment = ({lab: WindowFunnel(c, step_names) for lab, c in zip(segment_labels, raw["by_segment"])}
                           if segment_labels is not None else {})
        if segment_labels is not None:
            for lab in segment_labels[len(raw["by_segment"]):]:
                self.by_segment[lab] = WindowFunnel(_core.WindowFunnelCounts(len(step_names)), step_names)
        self.unattributed = WindowFunnel(raw["unattributed"], step_names)
        self.trend = {int(p): WindowFunnel(c, step_names) for p, c in zip(raw["period_start"], raw["by_period"])}
        self.conversions = int(raw["conversions"])
        self.histogram_edges = list(raw["histogram_edges"])
        self.data_end = int(raw["data_end"])
        self._durations = raw["time_to_step"]
        #: Entities with a chain that went through each step itself (step name -> count); with
        #: optional steps it tells how many took them, the level counts treating them as passed.
        self.through_step = {name: int(c) for name, c in zip(step_names, raw["through_step"])}

    def to_pandas(self) -> Any:
        """One row per step: reached among closed entities, open entrants at that level or
        above, and step / cumulative rates over closed entities only."""
        import pandas as pd

        df = self.closed.to_pandas()
        df.insert(3, "open", self.open.reached[1:])
        return df

    def time_to_convert(self) -> Any:
        """A pandas DataFrame: per step after the first, count, mean, median, p90, min, max of
        the time from step 1 (in time-column units), and the histogram counts."""
        import pandas as pd

        rows = []
        for k, d in enumerate(self._durations[1:], start=1):
            rows.append({"step": self.step_names[k], "count": d["count"], "mean": d["mean"] if d["count"] else np.nan,
                         "median": d["median"] if d["count"] else np.nan, "p90": d["p90"] if d["count"] else np.nan,
                         "min": d["min"] if d["count"] else np.nan, "max": d["max"] if d["count"] else np.nan,
                         "histogram": list(d["histogram"])})
        return pd.DataFrame(rows)

    def segments_to_pandas(self) -> Any:
        """Long table: segment, step, reached, cumulative_rate."""
        import pandas as pd

        parts = []
        for lab, wf in self.by_segment.items():
            t = wf.to_pandas()
            t.insert(0, "segment", lab)
            parts.append(t)
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()

    def trend_to_pandas(self) -> Any:
        """Long table: period_start, step, reached, cumulative_rate."""
        import pandas as pd

        parts = []
        for p, wf in self.trend.items():
            t = wf.to_pandas()
            t.insert(0, "period_start", p)
            parts.append(t)
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()

    def __repr__(self) -> str:
        return (f"FunnelAnalysis({self.closed.entities:,} closed + {self.open.entities:,} open entities, "
                f"{len(self.step_names)} steps, {self.conversions:,} conversions)\n"
                + "\n".join(repr(self.closed).splitlines()[1:]))


def funnel_analysis(
    data: Any,
    *,
    window: int,
    steps: Sequence[Any] | int,
    entity: str = "entity",
    time: str = "time",
    step: str = "step",
    exclusions: Sequence[tuple[Any, Any, Any]] = (),
    unordered: bool = False,
    count_conversions: bool = False,
    hold: str | None = None,
    segment: str | None = None,
    attribution: str = "first_touch",
    attribution_step: Any = None,
    period: int = 0,
    period_origin: int = 0,
    data_end: int | None = None,
    histogram_edges: Sequence[int] = (),
    max_gap: Mapping[Any, int | None] | Sequence[int | None] | None = None,
    min_gap: Mapping[Any, int] | Sequence[int] | None = None,
    optional: Sequence[Any] = (),
) -> FunnelAnalysis:
    """Funnel analysis beyond ``windowFunnel`` (rules in ``include/funnelkit/window_funnel.hpp``).

    Parameters
    ----------
    window:
        Conversion window in time-column units, ``>= 0``, inclusive.
    steps:
        Step names in funnel order (values of the ``step`` column), or a number of steps (then
        ``step`` holds codes ``0..steps-1``, ``-1`` for none, and codes above for other events).
    exclusions:
        ``(event, after, before)`` triples: ``event`` (a value of the step column that is not a
        step, or an integer code >= steps) occurring after step ``after`` and before step
        ``before`` (names or 0-based indices) kills the chain.
    unordered:
        Steps may occur in any order within the window.
    count_conversions:
        Count every completed funnel (``result.conversions``), restarting after each.
    hold:
        Column whose value must be the same on every step of a chain (e.g. a deal id).
    segment, attribution, attribution_step:
        Break the counts down by this column, attributing each entity to the segment of its
        first event (``"first_touch"``), last event (``"last_touch"``) or first event of step
        ``attribution_step`` (``"step"``).
    period, period_origin:
        Trend by entry period: entities grouped by ``floor((t1 - period_origin) / period)``
        of their first step-1 time ``t1`` (``period`` in time-column units; 0 = no trend).
    data_end:
        Exclusive end of the data for open entrants (default: the largest timestamp + 1).
    histogram_edges:
        Upper bin edges of the time-to-convert histograms (default: ten bins over the window).
    max_gap, min_gap:
        Per-step gaps, in time-column units, inclusive: step ``k`` of a chain must come at most
        ``max_gap[k]`` and at least ``min_gap[k]`` after the chain's previous step (the step it
        actually went through, so after a skipped optional step the gap runs from the step
        before it), on top of ``window`` from the first step. Either a mapping from step (name
        or 0-based index) to value, or one value per step (``None`` / 0 = no limit); the first
        step takes none. ``min_gap`` must not exceed ``max_gap`` nor ``window``.
    optional:
        Steps (names or 0-based indices) that may be skipped; not the first nor the last step.
        An entity's level counts skipped optional steps as passed (level = 1 + the furthest
        step reached); ``result.through_step`` counts the entities that actually went through
        each step. With gaps or optional steps the funnel is evaluated exactly over every
        chain; ``unordered`` does not combine with them.
    """
    if isinstance(steps, (int, np.integer)) and not isinstance(steps, bool):
        n_steps = int(steps)
        names = [f"step {k + 1}" for k in range(max(n_steps, 0))]
        lookup = None
    else:
        names = [str(x) for x in steps]
        n_steps = len(names)
        lookup = {str(x): k for k, x in enumerate(steps)}
    if n_steps < 1 or n_steps > 64:
        raise ValueError(f"option 'steps': value {n_steps} must be between 1 and 64")

    def step_index(v: Any, what: str) -> int:
        if lookup is not None and str(v) in lookup:
            return lookup[str(v)]
        if isinstance(v, (int, np.integer)) and 0 <= int(v) < n_steps:
            return int(v)
        raise ValueError(f"option '{what}': value {v!r} is not a step")

    excl: list[tuple[int, int, int]] = []
    extra: dict[str, int] = {}
    for ev_name, after, before in exclusions:
        if lookup is not None and not isinstance(ev_name, (int, np.integer)):
            code = extra.setdefault(str(ev_name), n_steps + len(extra))
        else:
            code = int(ev_name)
        excl.append((code, step_index(after, "exclusions.after"), step_index(before, "exclusions.before")))

    data = _frames.as_table(data)
    ent = _frames.entity_codes(_frames.column(data, entity), entity)
    tim = _frames.timestamps(_frames.column(data, time), time)
    raw = _frames.column(data, step)
    if lookup is None:
        code_arr = _frames.int32_codes(raw, step)
    else:
        values = np.asarray(raw.astype(object) if hasattr(raw, "cat") else raw, dtype=object)
        full = {**lookup, **extra}
        uniques, inverse = np.unique(values.astype(str), return_inverse=True)
        mapping = np.array([full.get(u, -1) for u in uniques], dtype=np.int32)
        code_arr = mapping[inverse.reshape(-1)] if len(values) else np.empty(0, dtype=np.int32)
    seg = prop = None
    labels = None
    if segment is not None:
        seg, labels = _frames.category_codes(_frames.column(data, segment), segment)
    if hold is not None:
        prop = _frames.entity_codes(_frames.column(data, hold), hold)
    att_step = 0 if attribution_step is None else step_index(attribution_step, "attribution_step")

    def per_step(values: Any, what: str) -> list[Any]:
        out: list[Any] = [None] * n_steps
        if values is None:
            return out
        if isinstance(values, Mapping):
            for key, v in values.items():
                out[step_index(key, what)] = v
            return out
        values = list(values)
        if len(values) != n_steps:
            raise ValueError(f"option '{what}': {len(values)} values given, expected one per step ({n_steps})")
        return values

    def gap_value(v: Any, what: str) -> int | None:
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise ValueError(f"option '{what}': value {v!r} is not an integer")
        return int(v)

    rules: list[tuple[int, int | None, bool]] = []
    if max_gap is not None or min_gap is not None or len(optional) > 0:
        maxes = per_step(max_gap, "max_gap")
        mins = per_step(min_gap, "min_gap")
        opt = {step_index(x, "optional") for x in optional}
        for k in range(n_steps):
            lo = gap_value(mins[k], f"min_gap[{names[k]}]")
            rules.append((0 if lo is None else lo, gap_value(maxes[k], f"max_gap[{names[k]}]"), k in opt))
    try:
        res = _core.analyze_funnel(ent, tim, code_arr, None, seg, prop, int(window), n_steps, bool(unordered),
                                   bool(count_conversions), excl, attribution, att_step, int(period),
                                   int(period_origin), None if data_end is None else int(data_end),
                                   [int(x) for x in histogram_edges], rules)
    except ValueError as exc:
        msg = str(exc)
        for generic, actual in (("entity", entity), ("time", time), ("step", step), ("segment", segment),
                                ("property", hold)):
            if actual and actual != generic:
                msg = msg.replace(f"column '{generic}'", f"column '{actual}'")
        # Name the per-step options as the caller gave them.
        msg = re.sub(r"option 'step_rules\[(\d+)\]\.(min_gap|max_gap|optional)'",
                     lambda m_: f"option '{m_.group(2)}[{names[int(m_.group(1))]}]'", msg)
        raise ValueError(msg) from None
    return FunnelAnalysis(res, names, labels)
