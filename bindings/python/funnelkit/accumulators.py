"""Mergeable summaries of durations (time in stage, time to convert): count, mean, median, p90,
min and max.

The moments stream through the compiled core (``include/funnelkit/accumulators.hpp``); the
quantiles are exact, by numpy's default ("linear", Hyndman-Fan type 7) rule on the kept values:
on the sorted values x_0..x_(n-1), h = (n-1) q and the q-quantile is
x_floor(h) + (h - floor(h)) (x_(floor(h)+1) - x_floor(h)). Durations are numbers in a unit the
summary records (``unit=``, e.g. ``"days"``), or ``timedelta64`` values (then numbers in the
summary's unit, or in the timedelta's own unit for a summary without one).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _core, _frames
from ._result import Mergeable, Table
from ._time import TICKS_PER_SECOND
from .rates import array_arg, renamed

__all__ = ["DurationSummary", "describe_durations"]

_STATS = ("count", "mean", "median", "p90", "min", "max")
_VALUE_STATS = _STATS[1:]
#: Nanoseconds per unit of the units a timedelta can be converted to.
_UNIT_NS = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": 10**9, "minutes": 60 * 10**9, "hours": 3600 * 10**9,
            "days": 86_400 * 10**9, "weeks": 604_800 * 10**9}

DEFINITION = ("count, mean, median, p90, min and max of durations; quantiles by linear interpolation (numpy's "
              "default, Hyndman-Fan type 7): on the sorted values x_0..x_(n-1), h = (n-1)q and the q-quantile is "
              "x_floor(h) + (h - floor(h))(x_(floor(h)+1) - x_floor(h)); median q = 0.5, p90 q = 0.9; "
              "undefined (null) for no durations.")


def duration_values(v: Any, name: str = "duration") -> tuple[np.ndarray, str | None]:
    """Durations as float64 and their unit: ``None`` for plain numbers, the timedelta's unit
    ("s", "ms", "us" or "ns") for ``timedelta64`` input (coarser units are read as seconds)."""
    arr = np.asarray(v)
    unit = None
    if arr.dtype.kind == "m":
        nat = np.isnat(arr)
        if nat.any():
            raise ValueError(f"column '{name}', row {int(np.flatnonzero(nat.ravel())[0])}: value NaT is missing")
        unit = np.datetime_data(arr.dtype)[0]
        if unit not in TICKS_PER_SECOND:
            if unit in ("Y", "M"):
                raise ValueError(f"column '{name}': durations in {unit!r} units have no fixed length")
            arr, unit = arr.astype("timedelta64[s]"), "s"
        arr = arr.astype(np.int64)
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"column '{name}': expected numeric durations or timedeltas, got dtype {arr.dtype}")
    out = np.ascontiguousarray(arr, dtype=np.float64).reshape(-1)
    bad = ~np.isfinite(out)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        shown = "NaN" if np.isnan(out[row]) else str(out[row])
        raise ValueError(f"column '{name}', row {row}: value {shown} is not a finite duration")
    return out, unit


def duration_name(durations: Any, data: Any) -> str:
    """The name of the durations in messages: the column's with ``data=``, else 'duration'."""
    return durations if isinstance(durations, str) and data is not None else "duration"


def _stats_of(state: Any) -> dict[str, Any]:
    return dict(state.stats())


def _stats_columns(rows: list[dict[str, Any]]) -> dict[str, Any]:
    cols: dict[str, Any] = {"count": np.array([int(r["count"]) for r in rows], dtype=np.int64)}
    for key in _VALUE_STATS:
        cols[key] = np.array([np.nan if r[key] is None else r[key] for r in rows], dtype=np.float64)
    return cols


class DurationSummary(Mergeable):
    """Mergeable summary of durations: count, mean, median, p90, min, max (in ``unit``).

    ``DurationSummary(values, keep_values=True, unit=None)``. Moments stream through the core;
    quantiles are exact from the kept values (``keep_values=False`` keeps O(1) memory and leaves
    median and p90 undefined). Summaries of disjoint parts merge (``a + b``) into the summary of
    all; parts must have the same ``unit``. ``to_bytes()`` and pickles keep the unit. As a
    Table: one row with the six numbers (null where undefined).
    """

    definition = DEFINITION + (" Summaries of disjoint parts merge exactly: counts and sums add, the extremes "
                               "combine and the kept values are pooled.")
    _state_class = _core.DurationSummary

    def __init__(self, values: Any = None, *, keep_values: bool = True, unit: str | None = None):
        super().__init__(options={"unit": unit})
        self._state = _core.DurationSummary(bool(keep_values))
        self._set_unit(unit)
        if values is not None:
            self.fill(values)

    def _set_unit(self, unit: str | None) -> None:
        if unit is not None and not isinstance(unit, str):
            raise TypeError(f"option 'unit': expected a unit name such as 'days' or 's', got {unit!r}")
        self._unit = unit
        self._options["unit"] = unit
        self._units = {k: unit for k in _VALUE_STATS} if unit else {}

    # -- state contract --------------------------------------------------------------------------
    def _labels(self) -> dict[str, Any]:
        return {"unit": self._unit}

    @classmethod
    def _from_state(cls, state: Any, labels: dict[str, Any]) -> DurationSummary:
        out = cls.__new__(cls)
        Table.__init__(out, options={})
        out._state = state
        out._set_unit(labels.get("unit"))
        return out

    @classmethod
    def from_bytes(cls, data: bytes) -> DurationSummary:
        """Rebuilds a summary from :meth:`to_bytes`, or from the core's own serialised state
        (``duration_summary::serialize()`` in C++, magic ``FKDS``; no unit)."""
        data = bytes(data)
        if data[:4] == b"FKPY":
            return super().from_bytes(data)
        return cls._from_state(cls._state_from_bytes(data), {"unit": None})

    # -- data --------------------------------------------------------------------------------------
    def fill(self, values: Any) -> DurationSummary:
        """Adds durations (finite numbers in the summary's unit, or timedelta64); returns self."""
        v, td_unit = duration_values(values)
        if td_unit is not None:
            if self._unit is None:
                if self.count:
                    raise TypeError("this summary holds plain numbers: pass numbers, not timedeltas")
                self._set_unit(td_unit)
            if self._unit not in _UNIT_NS:
                raise TypeError(f"cannot convert timedeltas to the summary's unit {self._unit!r}; "
                                f"units that can: {', '.join(_UNIT_NS)}")
            if td_unit != self._unit:
                v = v * (_UNIT_NS[td_unit] / _UNIT_NS[self._unit])
        self._state.fill(v)
        self._invalidate()
        return self

    @property
    def unit(self) -> str | None:
        """The unit of the durations (None: plain numbers)."""
        return self._unit

    @property
    def count(self) -> int:
        """Number of durations."""
        return int(self._state.count)

    @property
    def keeps_values(self) -> bool:
        """Whether the values are kept (needed for the median and p90)."""
        return bool(self._state.keeps_values)

    def quantile(self, q: float) -> float | None:
        """The q-quantile (0 <= q <= 1, linear interpolation) in ``unit``; None when empty or
        when the values are not kept."""
        return self._state.quantile(float(q))

    def stats(self) -> dict[str, Any]:
        """count, mean, median, p90, min, max (None where undefined), in ``unit``."""
        return _stats_of(self._state)

    def _columns(self) -> dict[str, Any]:
        return _stats_columns([self.stats()])

    def __repr__(self) -> str:
        s = self.stats()
        if not s["count"]:
            return "DurationSummary(empty)"
        fields = ", ".join(f"{k} {s[k]:g}" for k in _VALUE_STATS if s[k] is not None)
        unit = f" {self._unit}" if self._unit else ""
        return f"DurationSummary(count {s['count']}, {fields}{unit})"


def describe_durations(durations: Any, segment: Any = None, *, data: Any = None, name: str | None = None,
                       unit: str | None = None, by: Any = None) -> Table:
    """count, mean, median, p90, min, max of ``durations``, overall or per segment.

    ``durations`` are numbers (in ``unit``, recorded in the Table) or timedelta64 values (in
    their own unit); ``segment`` is an array-like of labels of the same length (``by=`` is a
    deprecated alias). With ``data=``, both are column names. Returns a Table, one row per
    segment in sorted label order (the segment column is named ``name``, default the segment
    column's name or ``"segment"``), or one row without segments.
    """
    segment = renamed(segment, by, "segment", "by", "describe_durations()")
    table = None if data is None else _frames.as_table(data)
    d, td_unit = duration_values(array_arg(durations, table, "duration"), duration_name(durations, table))
    unit = unit or td_unit
    key = name or (segment if isinstance(segment, str) and table is not None else "segment")
    options = {"unit": unit, "segment": key if segment is not None else None}
    units = {k: unit for k in _VALUE_STATS} if unit else None
    if segment is None:
        state = _core.DurationSummary(True)
        state.fill(d)
        return Table(_stats_columns([_stats_of(state)]), name="DurationTable", definition=DEFINITION,
                     inputs={"durations": int(len(d))}, options=options, units=units)
    codes, labels = _frames.category_codes(array_arg(segment, table, "segment"), key)
    if len(codes) != len(d):
        raise ValueError(f"column '{key}' has {len(codes)} rows but column 'duration' has {len(d)}")
    states = _core.summarize_durations(d, np.ascontiguousarray(codes, dtype=np.int32), len(labels))
    rows = [_stats_of(state) for state in states]
    cols: dict[str, Any] = {key: list(labels)}
    cols.update(_stats_columns(rows))
    return Table(cols, name="DurationTable", definition=DEFINITION + " One row per segment.",
                 inputs={"durations": int(len(d)), "segments": len(labels)}, options=options, units=units)
