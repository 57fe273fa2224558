"""Funnel analysis beyond ClickHouse's ``windowFunnel``: exclusion steps, a property held constant
across steps, unordered funnels, every conversion counted, entrants whose window is still open
reported apart, breakdown by segment, trends by calendar period, time to convert per step,
per-step gaps and optional steps. Levels follow :func:`funnelkit.window_funnel`; the rules are
documented in ``include/funnelkit/funnel_analysis.hpp``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from . import _core, _frames, _names, _time
from ._result import Table, shown as _shown
from ._time import TimeAxis
from .window_funnel import WindowFunnel, _rename_columns, _step_codes, _step_names

if TYPE_CHECKING:
    import pandas

__all__ = ["FunnelAnalysis", "funnel_analysis"]


class FunnelAnalysis(Table):
    """Result of :func:`funnel_analysis`.

    The table has one row per step: ``reached`` among entities whose outcome is final, ``open``
    (entrants whose window was still open at ``data_end``: they could still convert, so they are
    not drop-offs), ``through_step`` (entities whose chain went through the step itself; with
    optional steps the levels count skipped optional steps as passed), and step and cumulative
    rates over the closed entities. ``closed`` and ``open`` are :class:`WindowFunnel` level
    counts; ``by_segment`` maps segment labels and ``by_period`` entry-period starts to level
    counts; ``segments()``, ``trend()`` and ``time_to_convert()`` are tables; ``conversions``
    counts completed funnels (with ``count_conversions=True``).
    """

    definition = ("Funnel levels as in window_funnel, with exclusions, held properties, per-step gaps and optional "
                  "steps; entrants whose window is still open at data_end are reported apart (open) and left out "
                  "of the rates; step_rate and cumulative_rate are over closed entities.")

    def __init__(self, raw: dict, step_names: list[str], segment_labels: list[Any] | None, axis: TimeAxis,
                 by_period: dict[Any, WindowFunnel], *, options: dict[str, Any], inputs: dict[str, Any]):
        super().__init__(inputs=inputs, options=options, categories={"step": list(step_names)})
        self.step_names = step_names
        self._axis = axis
        self.closed = WindowFunnel(raw["closed"], step_names, options=options)
        self.open = WindowFunnel(raw["open"], step_names, options=options)
        self.by_segment: dict[Any, WindowFunnel] = (
            {lab: WindowFunnel(c, step_names, options=options) for lab, c in zip(segment_labels, raw["by_segment"])}
            if segment_labels is not None else {})
        if segment_labels is not None:
            for lab in segment_labels[len(raw["by_segment"]):]:
                # A segment no entity was attributed to: empty counts with the core's definition
                # (window, time unit) of this analysis.
                empty = _core.WindowFunnelCounts.deserialize(raw["closed"].serialize())
                empty.reset()
                self.by_segment[lab] = WindowFunnel(empty, step_names, options=options)
        self.unattributed = WindowFunnel(raw["unattributed"], step_names, options=options)
        self.by_period = by_period
        self.conversions = int(raw["conversions"])
        self.histogram_edges = axis.timedeltas(np.asarray(raw["histogram_edges"], dtype=np.int64))
        self.data_end = axis.datetimes(np.array([raw["data_end"]], dtype=np.int64))[0]
        self._durations = raw["time_to_step"]
        # The mergeable state behind time_to_step (per-entity durations and the definition).
        self._duration_state = raw.get("durations")
        #: Entities with a chain that went through each step itself (step name -> count).
        self.through_step = {name: int(c) for name, c in zip(step_names, raw["through_step"])}

    def _columns(self) -> dict[str, Any]:
        cols = dict(self.closed._table())
        out: dict[str, Any] = {}
        for key in ("step", "level", "reached"):
            out[key] = cols[key]
        out["open"] = np.asarray(self.open.reached[1:], dtype=np.int64)
        out["through_step"] = np.array([self.through_step[n] for n in self.step_names], dtype=np.int64)
        out["step_rate"] = cols["step_rate"]
        out["cumulative_rate"] = cols["cumulative_rate"]
        return out

    def _long(self, key: str, groups: dict[Any, WindowFunnel], name: str, definition: str) -> Table:
        labels: list[Any] = []
        parts: dict[str, list[Any]] = {"step": [], "level": [], "reached": [], "step_rate": [], "cumulative_rate": []}
        for lab, wf in groups.items():
            t = wf._table()
            labels.extend([lab] * len(t["step"]))
            for k in parts:
                parts[k].extend(list(t[k]))
        cols: dict[str, Any] = {key: labels}
        cols.update({k: np.asarray(v, dtype=np.float64 if "rate" in k else np.int64) if k != "step" else v
                     for k, v in parts.items()})
        return Table(cols, name=name, definition=definition, options=self._options, inputs=self._inputs,
                     categories={"step": self.step_names})

    def segments(self) -> Table:
        """Long table: segment, step, level, reached, step_rate, cumulative_rate."""
        key = self._options.get("segment") or "segment"
        return self._long(key, self.by_segment, "FunnelSegments",
                          "Funnel levels per segment; an entity's segment is chosen by the attribution option.")

    def trend(self) -> Table:
        """Long table: period_start, step, level, reached, step_rate, cumulative_rate; entities
        grouped by the calendar period of their first step-1 event."""
        return self._long("period_start", self.by_period, "FunnelTrend",
                          "Funnel levels per calendar period of the entity's first step-1 event.")

    def time_to_convert(self) -> Table:
        """Per step after the first: count, mean, median, p90, min, max of the time from step 1
        (timedeltas for datetime input, else ticks of the time column), and the histogram counts
        over ``histogram_edges``."""
        rows: dict[str, list[Any]] = {k: [] for k in ("step", "count", "mean", "median", "p90", "min", "max",
                                                       "histogram")}
        for k, d in enumerate(self._durations[1:], start=1):
            rows["step"].append(self.step_names[k])
            rows["count"].append(int(d["count"]))
            for key in ("mean", "median", "p90", "min", "max"):
                rows[key].append(float(d[key]) if d["count"] else np.nan)
            rows["histogram"].append([int(x) for x in d["histogram"]])
        cols: dict[str, Any] = {"step": rows["step"], "count": np.asarray(rows["count"], dtype=np.int64)}
        for key in ("mean", "median", "p90", "min", "max"):
            cols[key] = self._axis.timedeltas(np.asarray(rows[key], dtype=np.float64))
        cols["histogram"] = rows["histogram"]
        unit = None if self._axis.is_datetime else self._axis.unit_name
        return Table(cols, name="TimeToConvert", options=self._options, inputs=self._inputs,
                     units={k: unit for k in ("mean", "median", "p90", "min", "max")} if unit else None,
                     definition="Time from the chain's step-1 event to each later step, over chains that reached it.")

    def segments_to_pandas(self) -> pandas.DataFrame:
        """Deprecated: use ``segments().to_pandas()``."""
        import warnings

        warnings.warn("FunnelAnalysis.segments_to_pandas() is deprecated; use segments().to_pandas()",
                      DeprecationWarning, stacklevel=2)
        return self.segments().to_pandas()

    def trend_to_pandas(self) -> pandas.DataFrame:
        """Deprecated: use ``trend().to_pandas()``."""
        import warnings

        warnings.warn("FunnelAnalysis.trend_to_pandas() is deprecated; use trend().to_pandas()",
                      DeprecationWarning, stacklevel=2)
        return self.trend().to_pandas()

    def __repr__(self) -> str:
        return (f"FunnelAnalysis({self.closed.entities:,} closed + {self.open.entities:,} open entities, "
                f"{len(self.step_names)} steps, {self.conversions:,} conversions)\n"
                + "\n".join(repr(self.closed).splitlines()[1:]))


def funnel_analysis(
    data: Any,
    *,
    window: Any,
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
    period: str | None = None,
    tz: Any = "UTC",
    data_end: Any = None,
    histogram_edges: Sequence[Any] = (),
    max_gap: Mapping[Any, Any] | Sequence[Any] | None = None,
    min_gap: Mapping[Any, Any] | Sequence[Any] | None = None,
    optional: Sequence[Any] = (),
    time_unit: str | None = None,
    absent: str = "error",
    threads: int = 1,
) -> FunnelAnalysis:
    """Funnel analysis beyond ``windowFunnel`` (rules in ``include/funnelkit/funnel_analysis.hpp``).

    Durations (``window``, ``max_gap``, ``min_gap``, ``histogram_edges``) are timedeltas or
    strings such as ``"1h"``; bare integers only with an integer time column (its ticks).

    Parameters
    ----------
    window:
        Conversion window, inclusive.
    steps:
        Step names in funnel order (values of the ``step`` column; each must occur in it), or a
        number of steps (then ``step`` holds codes ``0..steps-1``, ``-1`` for none, and codes
        above for other events).
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
    period, tz:
        Trend by entry period: entities grouped by the calendar period (``"day"``, ``"week"``
        (ISO, Monday), ``"month"``, ``"quarter"``, ``"year"``) of their first step-1 event, in
        the time zone ``tz`` ("UTC", an IANA name, or an offset in seconds).
    data_end:
        Exclusive end of the data for open entrants (a datetime or ISO string; ticks for integer
        time columns; default: the largest timestamp + 1).
    histogram_edges:
        Upper bin edges of the time-to-convert histograms (default: ten bins over the window).
    max_gap, min_gap:
        Per-step gaps, inclusive: step ``k`` of a chain must come at most ``max_gap[k]`` and at
        least ``min_gap[k]`` after the chain's previous step (the step it actually went
        through), on top of ``window`` from the first step. A mapping from step (name or 0-based
        index) to duration, or one value per step (``None`` = no limit); the first step takes
        none.
    optional:
        Steps (names or 0-based indices) that may be skipped; not the first nor the last step.
    time_unit:
        What integer timestamps count (``"s"`` default, ``"ms"``, ``"us"``, ``"ns"``).
    absent:
        ``"error"`` or ``"warn"`` for a step name that never occurs in the step column.
    threads:
        Worker threads (>= 1) for events not sorted by entity and time: they take buckets of
        entities (grouped by a hash of the id); the result never depends on it.
    """
    threads = _names.threads_option(threads)
    names, lookup = _step_names(steps)
    n_steps = len(names)
    attribution = _names.choice(attribution, ("first_touch", "last_touch", "step"), "attribution")
    tz_value = _time.parse_tz(tz)
    if period is not None:
        if not isinstance(period, str):
            raise TypeError(f"option 'period': expected one of {', '.join(map(repr, _time.PERIODS))}, got {period!r}")
        period = _time.parse_period(period)

    def step_index(v: Any, what: str) -> int:
        if lookup is not None and str(v) in lookup:
            return lookup[str(v)]
        if isinstance(v, (int, np.integer)) and not isinstance(v, bool) and 0 <= int(v) < n_steps:
            return int(v)
        raise ValueError(_names.unknown("step", v, names, where=f"option '{what}'"))

    excl: list[tuple[int, int, int]] = []
    extra: dict[str, int] = {}
    for ev_name, after, before in exclusions:
        if lookup is not None and not isinstance(ev_name, (int, np.integer)):
            code = extra.setdefault(str(ev_name), n_steps + len(extra))
        else:
            code = int(ev_name)
        excl.append((code, step_index(after, "exclusions.after"), step_index(before, "exclusions.before")))

    data = _frames.as_table(data)
    ent = _frames.entity_codes(_frames.column(data, entity, "entity", labels=True), entity)
    tim, axis = _frames.time_axis(_frames.column(data, time, "time"), time, time_unit)
    window_ticks = axis.duration(window, "window")
    raw = _frames.column(data, step, "step", labels=lookup is not None)
    code_arr = _frames.int32_codes(raw, step) if lookup is None else _step_codes(raw, lookup, step, absent=absent,
                                                                                 extra=extra)
    seg = prop = None
    labels = None
    if segment is not None:
        seg, labels = _frames.category_codes(_frames.column(data, segment, "segment", labels=True), segment)
    if hold is not None:
        prop = _frames.entity_codes(_frames.column(data, hold, "hold"), hold)
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

    rules: list[tuple[int, int | None, bool]] = []
    if max_gap is not None or min_gap is not None or len(optional) > 0:
        maxes = per_step(max_gap, "max_gap")
        mins = per_step(min_gap, "min_gap")
        opt = {step_index(x, "optional") for x in optional}
        for k in range(n_steps):
            lo = axis.duration(mins[k], f"min_gap[{names[k]}]", allow_none=True)
            hi = axis.duration(maxes[k], f"max_gap[{names[k]}]", allow_none=True)
            rules.append((0 if lo is None else lo, hi, k in opt))
    edges = [axis.duration(e, f"histogram_edges[{i}]") for i, e in enumerate(histogram_edges)]
    end_ticks = axis.timestamp(data_end, "data_end", allow_none=True)
    # Trend: the kernel groups entities into fixed buckets (a day, or 15 minutes in a time zone
    # with daylight saving); their level counts merge exactly into calendar periods below.
    bucket = origin = 0
    tps = axis.ticks_per_second
    if period is not None:
        if isinstance(tz_value, int):
            bucket, origin = 86_400 * tps, -tz_value * tps
        else:
            bucket, origin = 900 * tps, 0
    try:
        opts = _core.FunnelAnalysisOptions(
            window=int(window_ticks), steps=n_steps, unordered=bool(unordered),
            count_conversions=bool(count_conversions), exclusions=excl, attribution=attribution,
            attribution_step=att_step, period=int(bucket), period_origin=int(origin), data_end=end_ticks,
            histogram_edges=edges, step_rules=rules, ticks_per_second=int(tps), threads=threads)
        res = _core.funnel_analysis(ent, tim, code_arr, None, seg, prop, options=opts)
    except ValueError as exc:
        msg = _rename_columns(str(exc), (("entity", entity), ("time", time), ("step", step), ("segment", segment),
                                         ("property", hold)))
        msg = re.sub(r"option 'step_rules\[(\d+)\]\.(min_gap|max_gap|optional)'",
                     lambda m_: f"option '{m_.group(2)}[{names[int(m_.group(1))]}]'", msg)
        raise ValueError(msg) from None
    options = {"window": _shown(window), "window_ticks": int(window_ticks), "time_unit": axis.unit,
               "time_is_datetime": axis.is_datetime, "unordered": bool(unordered),
               "count_conversions": bool(count_conversions), "hold": hold, "segment": segment,
               "attribution": attribution, "period": period, "tz": tz if isinstance(tz, (str, int)) else str(tz),
               "exclusions": [[_shown(e), _shown(a), _shown(b)] for e, a, b in exclusions],
               "max_gap": _plain_steps(max_gap), "min_gap": _plain_steps(min_gap), "optional": [_shown(o) for o in optional]}
    inputs = {"rows": int(len(ent)), "columns": {"entity": entity, "time": time, "step": step}}
    by_period: dict[Any, WindowFunnel] = {}
    if period is not None and len(res["period_start"]):
        starts = _time.calendar_floor(np.asarray(res["period_start"], dtype=np.int64), axis, period, tz_value)
        merged: dict[int, Any] = {}
        for st, counts in zip(starts.tolist(), res["by_period"]):
            if st in merged:
                merged[st].merge(counts)
            else:
                merged[st] = counts
        keys = sorted(merged)
        shown = axis.datetimes(np.asarray(keys, dtype=np.int64))
        by_period = {(k.item() if isinstance(k, np.generic) and not axis.is_datetime else k): WindowFunnel(
            merged[kk], names, options=options) for k, kk in zip(shown, keys)}
    return FunnelAnalysis(res, names, labels, axis, by_period, options=options, inputs=inputs)


def _plain_steps(values: Any) -> Any:
    if values is None:
        return None
    if isinstance(values, Mapping):
        return {str(k): _shown(v) for k, v in values.items()}
    return [_shown(v) for v in values]
