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
- ``strict_increase``: a step advances a chain only when strictly later than the previous step;
- ``strict_once``: an event counts for one step of a chain at most (an event matching steps 1
  and 2 no longer completes both; with one step per event it changes nothing).

The answer does not depend on the row order of the input. The full rules are documented in
``include/funnelkit/window_funnel.hpp``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any


import numpy as np

from . import _core, _frames, _names
from ._result import Mergeable, Table, shown as _shown

__all__ = ["WindowFunnel", "window_funnel"]

_ORDERS = ("detect", "entity_time", "time", "unsorted")


class WindowFunnel(Mergeable):
    """Result of :func:`window_funnel`: how many entities reached each level.

    Table columns: ``step`` (name), ``level`` (1-based), ``reached`` (entities whose level is at
    least that step), ``step_rate`` (over the previous step's), ``cumulative_rate`` (over step
    1's); rates are null for a zero denominator. ``reached_counts[k]`` is the number of entities
    whose level is at least ``k`` (``reached_counts[0]`` is every entity with an event).
    Mergeable: results of disjoint sets of entities add up (``a + b``); bytes and pickles keep
    the step names and the options.
    """

    definition = ("The level of an entity is the number of leading funnel steps it completed in order, each "
                  "within the window of the step-1 event that started the chain (boundary inclusive), as "
                  "ClickHouse's windowFunnel defines it; reached = entities whose level is at least the step; "
                  "step_rate = reached(step) / reached(previous step); cumulative_rate = reached(step) / "
                  "reached(step 1).")
    _state_class = _core.WindowFunnelCounts

    def __init__(self, counts: Any, step_names: Sequence[str], entity: np.ndarray | None = None,
                 level: np.ndarray | None = None, *, options: dict[str, Any] | None = None,
                 inputs: dict[str, Any] | None = None):
        super().__init__(inputs=inputs, options=options, categories={"step": list(step_names)})
        self._state = counts
        self.step_names = list(step_names)
        #: With ``per_entity=True``: entity ids in ascending order and their levels.
        self.entity = entity
        self.level = level

    # -- state contract ----------------------------------------------------------------------
    def _labels(self) -> dict[str, Any]:
        return {"steps": self.step_names, "options": self._options}

    @classmethod
    def _from_state(cls, state: Any, labels: dict[str, Any]) -> WindowFunnel:
        names = list(labels["steps"])
        if len(names) != state.steps:
            raise ValueError(f"corrupted WindowFunnel: the state has {state.steps} steps but {len(names)} names")
        return cls(state, names, options=labels.get("options") or {})

    def _merge_labels(self, other: Any) -> None:
        if other.steps != self.steps:
            raise ValueError(f"cannot merge funnels of {self.steps} and {other.steps} steps")
        super()._merge_labels(other)
        self.entity = self.level = None  # per-entity levels describe one part only

    # -- getters -----------------------------------------------------------------------------
    @property
    def steps(self) -> int:
        """Number of funnel steps."""
        return int(self._state.steps)

    @property
    def entities(self) -> int:
        """Number of entities counted."""
        return int(self._state.entities)

    @property
    def reached(self) -> list[int]:
        """reached[k] = entities whose level is at least k, for k = 0..steps."""
        return [int(x) for x in self._state.reached_counts()]

    reached_counts = reached

    def at_level(self, level: int) -> int:
        """Entities whose level is exactly ``level``."""
        return int(self._state.at_level(level))

    def _columns(self) -> dict[str, Any]:
        r = np.asarray(self.reached[1:], dtype=np.int64)
        prev = np.concatenate([[r[0]], r[:-1]]) if len(r) else r
        with np.errstate(divide="ignore", invalid="ignore"):
            step_rate = np.where(prev > 0, r / np.where(prev > 0, prev, 1), np.nan)
            cum = np.where(r[0] > 0, r / max(int(r[0]), 1), np.nan) if len(r) else r.astype(float)
        return {"step": list(self.step_names), "level": np.arange(1, len(r) + 1, dtype=np.int64), "reached": r,
                "step_rate": step_rate, "cumulative_rate": cum}

    # -- who is behind the numbers -------------------------------------------------------------
    def _step_level(self, step: Any) -> int:
        if isinstance(step, (int, np.integer)) and not isinstance(step, bool):
            if not 1 <= int(step) <= self.steps:
                raise ValueError(f"step {step!r} is not a level between 1 and {self.steps}")
            return int(step)
        if step not in self.step_names:
            raise ValueError(_names.unknown("step", step, self.step_names))
        return self.step_names.index(step) + 1

    def _levels(self) -> tuple[np.ndarray, np.ndarray]:
        if self.entity is None or self.level is None:
            raise ValueError("per-entity levels were not computed: call window_funnel(..., per_entity=True)")
        return np.asarray(self.entity), np.asarray(self.level)

    def entities_at(self, step: Any) -> np.ndarray:
        """Ids of the entities that reached ``step`` (a name or a 1-based level); needs
        ``per_entity=True``."""
        ids, levels = self._levels()
        return ids[levels >= self._step_level(step)]

    def dropped_at(self, step: Any) -> np.ndarray:
        """Ids of the entities that reached the step before ``step`` but not ``step`` itself
        ("who dropped at signup?"); needs ``per_entity=True``."""
        ids, levels = self._levels()
        return ids[levels == self._step_level(step) - 1]

    def entity_levels(self) -> Table:
        """A table of (entity, level); needs ``per_entity=True``."""
        ids, levels = self._levels()
        return Table({"entity": ids, "level": levels}, name="EntityLevels",
                     definition="Each entity's funnel level (0 = no step-1 event in a chain).",
                     options=self._options)

    def __repr__(self) -> str:
        lines = [f"WindowFunnel({self.entities:,} entities, {self.steps} steps)"]
        d = self._table()
        width = max([len(s) for s in self.step_names] + [4])
        for name, reached, cum in zip(d["step"], d["reached"], d["cumulative_rate"]):
            pct = "-" if cum != cum else f"{100 * cum:.1f}%"
            lines.append(f"  {name:<{width}}  {int(reached):>12,}  {pct:>7}")
        return "\n".join(lines)


def _step_names(steps: Any) -> tuple[list[str], dict[str, int] | None]:
    """Step names and the name -> index lookup (None when ``steps`` is a count of coded steps)."""
    if isinstance(steps, (int, np.integer)) and not isinstance(steps, bool):
        n = int(steps)
        if n < 1 or n > 64:
            raise ValueError(f"option 'steps': value {n} must be between 1 and 64")
        return [f"step {k + 1}" for k in range(n)], None
    if isinstance(steps, str):
        raise TypeError("option 'steps': expected a list of step names or a number of steps, got one string")
    names = [str(x) for x in steps]
    if not 1 <= len(names) <= 64:
        raise ValueError(f"option 'steps': {len(names)} steps given, expected between 1 and 64")
    lookup = {n: k for k, n in enumerate(names)}
    if len(lookup) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise ValueError(f"option 'steps': step names must be distinct ({dup!r} is repeated)")
    return names, lookup


def _step_codes(raw: Any, lookup: dict[str, int], column: str, *, absent: str, option: str = "steps",
                extra: dict[str, int] | None = None, narrow: bool = False) -> np.ndarray:
    """Step codes of a column of step names: each name's index, ``extra`` codes for named
    non-step events, -1 for anything else. Every step name must occur in the column (or, with
    ``absent="warn"``, a warning says which do not). The names are dictionary-encoded by Arrow
    (or read from a categorical's codes), then mapped once per distinct name. With ``narrow``
    the codes are int8 when they fit (always, with at most 64 steps and 63 extra codes)."""
    labels = raw if isinstance(raw, _frames.Labels) else _frames.Labels.of(raw)
    if labels is None:  # numbers or mixed objects: compare their text
        labels = _frames.Labels.of(np.asarray(raw, dtype=object).astype(str))
    names = [str(c) for c in labels.categories]
    present = labels.present()
    _names.check_in_data(list(lookup), [n for n, p in zip(names, present) if p], what="step", column=column,
                         option=option, absent=absent)
    full = {**lookup, **(extra or {})}
    mapping = np.array([full.get(n, -1) for n in names] + [-1], dtype=np.int32)
    return labels.mapped(mapping, narrow=narrow)


def _rename_columns(message: str, pairs: Sequence[tuple[str, str | None]]) -> str:
    for generic, actual in pairs:
        if actual and actual != generic:
            message = message.replace(f"column '{generic}'", f"column '{actual}'")
    return message


def _datetimes_shown(message: str, axis: Any) -> str:
    """The core names a time by its integer ticks; where the column holds datetimes, a message
    about the order of times shows them as datetimes in the column's unit instead."""
    def shown(ticks: str) -> str:
        return str(np.datetime64(int(ticks), axis.unit))

    return re.sub(r"(column 'time', row \d+: value )(-?\d+)( is smaller than the previous row's )(-?\d+)",
                  lambda m: m[1] + shown(m[2]) + m[3] + shown(m[4]), message)


def window_funnel(
    data: Any,
    *,
    window: Any,
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
    strict_once: bool = False,
    order: str = "detect",
    threads: int = 1,
    per_entity: bool = False,
    time_unit: str | None = None,
    absent: str = "error",
) -> WindowFunnel:
    """Per-entity funnel levels over an event stream, counted per level.

    Parameters
    ----------
    data:
        Events, one row each: a pandas or Polars DataFrame (or LazyFrame), a PyArrow table, a
        DuckDB relation, anything with ``__arrow_c_stream__`` or a dict of numpy arrays.
    window:
        Conversion window: a duration (``"1h"``, ``"7d"``, ``datetime.timedelta``,
        ``numpy.timedelta64``, ``pandas.Timedelta``); a bare integer only when the time column
        holds integers (then it counts that column's ticks). ``>= 0``; the boundary is inclusive.
    steps:
        The step names in funnel order (values of the ``step`` column; any other value matches
        no step; every name must occur in the column), or a number of steps (then the ``step``
        column holds integer codes ``0..steps-1``, ``-1`` for none). At most 64 steps.
    entity, time, step:
        Column names. Entity ids are integers or any hashable values (strings are encoded);
        times are integers or datetimes.
    step_mask:
        Instead of ``step``: a column of unsigned bitmasks, bit k set when the event matches
        step k (an event may match several steps).
    strict_deduplication, strict_order, strict_increase, allow_reentry, strict_once:
        ClickHouse's modes (see the module documentation); ``strict_once`` combines with no
        other mode.
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
        Also keep every entity's level (``result.entity``, ``result.level``,
        ``result.entities_at(step)``, ``result.dropped_at(step)``).
    time_unit:
        What integer timestamps count (``"s"`` default, ``"ms"``, ``"us"``, ``"ns"``), so that
        durations such as ``"1h"`` convert; datetime columns carry their own unit.
    absent:
        ``"error"`` (default): a step name that never occurs in the step column is an error
        listing the closest names present; ``"warn"``: a warning, and the step counts as never
        reached.

    Raises ValueError or TypeError naming the column, the row and the value for bad input.
    """
    order = _names.choice(order, _ORDERS, "order")
    names, lookup = _step_names(steps)
    n_steps = len(names)
    threads = _names.threads_option(threads)
    data = _frames.as_table(data)
    ent, ent_labels = _frames.entity_ids(_frames.column(data, entity, "entity", labels=True), entity)
    # The core rejects the reserved smallest int64 in its own pass over the rows.
    tim, axis = _frames.time_axis(_frames.column(data, time, "time"), time, time_unit, check_never=False)
    window_ticks = axis.duration(window, "window")
    code = mask = None
    if step_mask is not None:
        raw = np.asarray(_frames.column(data, step_mask, "step_mask"))
        if raw.dtype.kind not in "iu":
            raise TypeError(f"column '{step_mask}': expected integer bitmasks, got dtype {raw.dtype}")
        if raw.dtype.kind == "i" and raw.size and (raw < 0).any():
            row = int(np.flatnonzero(raw < 0)[0])
            raise ValueError(f"column '{step_mask}', row {row}: value {int(raw[row])} is not a bitmask")
        mask = np.ascontiguousarray(raw, dtype=np.uint64)
    elif step is not None:
        raw = _frames.column(data, step, "step", labels=lookup is not None)
        # One-byte codes (from labels, or given so) reach the core as they are: a quarter of the
        # memory of int32 codes.
        code = (_frames.int32_codes(raw, step, keep_int8=True) if lookup is None
                else _step_codes(raw, lookup, step, absent=absent, narrow=True))
    else:
        raise ValueError("give the column of step codes (step=) or of step bitmasks (step_mask=)")
    try:
        opts = _core.WindowFunnelOptions(
            window=int(window_ticks), steps=n_steps, strict_deduplication=bool(strict_deduplication),
            strict_order=bool(strict_order), strict_increase=bool(strict_increase), allow_reentry=bool(allow_reentry),
            exact_increase=bool(exact_increase), order=order, threads=int(threads), per_entity=bool(per_entity),
            ticks_per_second=int(axis.ticks_per_second),
            strict_once=bool(strict_once))
        narrow = code is not None and code.dtype == np.int8
        counts, ids, levels = _core.window_funnel(ent, tim, None if narrow else code, mask, options=opts,
                                                  step_int8=code if narrow else None)
    except ValueError as exc:
        message = _datetimes_shown(str(exc), axis) if axis.is_datetime else str(exc)
        raise ValueError(_rename_columns(message, (("entity", entity), ("time", time), ("step", step),
                                                   ("step_mask", step_mask)))) from None
    options = {"window": _shown(window), "window_ticks": int(window_ticks), "time_unit": axis.unit,
               "time_is_datetime": axis.is_datetime, "strict_deduplication": bool(strict_deduplication),
               "strict_order": bool(strict_order), "strict_increase": bool(strict_increase),
               "allow_reentry": bool(allow_reentry), "exact_increase": bool(exact_increase)}
    if strict_once:  # recorded only when set: results of earlier releases keep comparing equal
        options["strict_once"] = True
    inputs = {"rows": int(len(ent)), "entities": int(counts.entities),
              "columns": {"entity": entity, "time": time, "step": step if step_mask is None else step_mask}}
    if per_entity and ids is not None and ent_labels is not None:
        ids = ent_labels[ids]
    return WindowFunnel(counts, names, ids if per_entity else None, levels if per_entity else None,
                        options=options, inputs=inputs)
