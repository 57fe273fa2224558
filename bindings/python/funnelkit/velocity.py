"""Sales velocity: V = N * D * W / L per calendar period and segment, its bootstrap interval,
the split of a change of V into its four drivers, and opportunity records derived from stage
changes.

Definitions (each choice is an option, named in ``explain()``):

- N (``count=``): ``"average_open"`` (the default) is the time-averaged open pipeline over the
  period: the number of opportunities open (created, not yet closed) integrated over the period
  and divided by its length. By Little's law the open pipeline equals the arrival rate times the
  time a deal stays open, so N * D * W / L is then the won revenue per day in a steady state.
  ``"open_at_start"``: opportunities open at the period's start (created before it and not
  closed before it), also over L. ``"created_per_period"``: opportunities created in the period;
  N * D * W is then revenue *per period* and V divides it by the period's length, not by L.
  ``"vendor"``: created in the period and divided by L, the formula as vendors print it, which
  overstates revenue per day by the ratio period / L (a year of arrivals over a 30-day cycle
  is about 12 times too high). ``"created_in_period"`` is the deprecated name of ``"vendor"``
  (its meaning before ``"created_per_period"`` existed): it warns and gives the vendor figure;
- D: mean amount of the deals won in the period;
- W: won / (won + lost) of the deals closed in the period, by count or by value;
- L: per deal, close - start of its cycle (creation, SQL time or first touch), over won deals
  or all closed deals, the mean or the median, in ``unit`` (days by default);
- V = N * D * W / L (or / the period length): revenue per ``unit`` (a day by default), and
  ``velocity_per_period`` = V * the period length. Beside it, as a check, ``realised``: the
  amount of the deals won in the period divided by its length (revenue per ``unit``).

Times: the ``created`` column sets the time axis of the call. Integer times are ticks of
``time_unit`` (seconds by default); datetime columns carry their own unit. Every other time
column (``closed``, ``sql_time``, ``first_touch``) holds the same kind of time; missing values
(NaT, None, null) mean "not closed" or "no such time". Periods are calendar periods
(``period="day" | "week" | "month" | "quarter" | "year"`` in the time zone ``tz``) or explicit
``edges``; period starts come back as datetimes when the input had datetimes.

The numbers come from the compiled core; undefined values are nulls with a ``status`` and a
``reason`` column, never silent.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from . import _core, _frames, _names, _time
from ._result import Explanation, Scalar, Table
from ._time import TimeAxis

if TYPE_CHECKING:  # optional packages and types named in annotations only
    import matplotlib.axes
    import pandas

    from .model import StageModel

__all__ = [
    "velocity",
    "VelocityTable",
    "velocity_formula",
    "decompose_velocity",
    "VelocityDecomposition",
    "opportunities_from_stages",
]

#: Label of the rows that cover every segment.
OVERALL = "(all)"
MISSING = int(_core.missing_time)
_OUTCOMES = ("open", "won", "lost")
#: Named units of L (and of lags and SLA displays): fixed lengths. A month is the mean
#: Gregorian month, 365.2425 / 12 days = 2,629,746 seconds.
UNITS = {"second": "1s", "minute": "1m", "hour": "1h", "day": "1d", "week": "1w", "month": "2629746s"}
_NUMBER = re.compile(r"^-?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$", re.IGNORECASE)


# -- shared by the revenue modules ------------------------------------------------------------
def _warn_renamed(old: str, new: str, where: str) -> None:
    warnings.warn(f"{where}: the keyword '{old}' is deprecated; use '{new}'", DeprecationWarning, stacklevel=3)


def _core_value(text: Any) -> Any:
    """A value of the core's explanation: numbers as numbers, "undefined" as None (values that
    arrive typed pass through)."""
    if not isinstance(text, str):
        return text
    if text == "undefined":
        return None
    if _NUMBER.match(text):
        number = float(text)
        if number.is_integer() and "." not in text and "e" not in text.lower():
            return int(text)
        return number
    return text


def _core_explanation(core: Any, result: str, *, definition: str | None = None,
                      inputs: Mapping[str, Any] | None = None, options: Mapping[str, Any] | None = None,
                      relabel: Mapping[str, Any] | None = None, core_inputs: bool = True) -> Explanation:
    """The core's explanation (an ``_core.Explanation`` or its JSON text) as an
    :class:`Explanation`: the metric and formula (with the core's note) as the definition, the
    core's inputs and options with numbers as numbers, then the Python-side ``inputs`` and
    ``options``. ``relabel`` replaces core input values (codes by labels, ticks by datetimes);
    ``core_inputs=False`` leaves the core's inputs out (they describe one row of a table)."""
    if isinstance(core, str):
        d = json.loads(core)
        metric, formula, note = d["metric"], d["formula"], d.get("note", "")
        pairs_in, pairs_opt = list(d["inputs"].items()), list(d["options"].items())
    else:
        metric, formula, note = core.metric, core.formula, core.note
        pairs_in, pairs_opt = list(core.inputs), list(core.options)
    ins = {k: _core_value(v) for k, v in pairs_in} if core_inputs else {}
    ins.update(relabel or {})
    ins.update(inputs or {})
    opts = {k: _core_value(v) for k, v in pairs_opt}
    opts.update(options or {})
    text = definition or f"{metric}: {formula}."
    if note:
        text += f" {note[0].upper()}{note[1:]}."
    return Explanation(result, text, ins, opts, metric=metric, formula=formula)


def _unit(unit: Any, axis: TimeAxis, option: str = "unit") -> tuple[int, str]:
    """A unit of time (a word of :data:`UNITS` or a duration) as (ticks, name)."""
    if isinstance(unit, str) and unit in UNITS:
        return int(axis.duration(UNITS[unit], option)), unit
    if isinstance(unit, str) and unit.rstrip("s") in UNITS:
        return _unit(unit.rstrip("s"), axis, option)
    try:
        ticks = axis.duration(unit, option)
    except ValueError as exc:
        if isinstance(unit, str):
            raise ValueError(f"{exc}; or name a unit: {', '.join(map(repr, UNITS))}") from None
        raise
    if not ticks:
        raise ValueError(f"option '{option}': value {unit!r} must be a positive duration")
    return int(ticks), str(unit) if isinstance(unit, str) else f"{ticks} {axis.unit}"


def _periods(axis: TimeAxis, period: str | None, edges: Any, tz: Any, span: tuple[int, int] | None,
             where: str) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Half-open periods as (starts, ends) in ticks: calendar periods covering ``span`` or the
    explicit ``edges`` (a sequence of boundaries, or of (start, end) pairs)."""
    if (period is None) == (edges is None):
        raise ValueError(f"{where}: give either period= ({', '.join(map(repr, _time.PERIODS))}) or edges= "
                         "(period boundaries)")
    if period is not None:
        if not isinstance(period, str):
            raise TypeError(f"option 'period': expected one of {', '.join(map(repr, _time.PERIODS))}, got {period!r}; "
                            "pass explicit boundaries as edges=")
        period = _time.parse_period(period)
        tz_value = _time.parse_tz(tz)
        if span is None or span[1] < span[0]:
            raise ValueError(f"option 'period': no times in the input to derive {period} periods from; pass edges=")
        starts, ends = _time.calendar_periods(span[0], span[1], axis, period, tz_value)
        return starts, ends, {"period": period, "tz": tz if isinstance(tz, (str, int)) else str(tz)}
    items = list(edges)
    if items and isinstance(items[0], (tuple, list)):
        starts = np.array([axis.timestamp(a, f"edges[{i}]") for i, (a, _) in enumerate(items)], dtype=np.int64)
        ends = np.array([axis.timestamp(b, f"edges[{i}]") for i, (_, b) in enumerate(items)], dtype=np.int64)
    else:
        bounds = np.array([axis.timestamp(e, f"edges[{i}]") for i, e in enumerate(items)], dtype=np.int64)
        if len(bounds) < 2:
            raise ValueError("option 'edges': give at least two boundaries, or (start, end) pairs")
        starts, ends = bounds[:-1].copy(), bounds[1:].copy()
    shown = axis.datetimes(np.concatenate([starts, ends]))
    return starts, ends, {"edges": [[_time_value(a), _time_value(b)] for a, b in zip(shown[:len(starts)],
                                                                                    shown[len(starts):])]}


def _time_value(value: Any) -> str | int:
    """A point in time for explain(): ISO text for datetimes, the integer for ticks."""
    return str(value) if isinstance(value, np.datetime64) else int(value)


def _period_spec(period: Any, edges: Any, periods: Any, where: str) -> tuple[Any, Any]:
    """``period``/``edges`` after the deprecated ``periods=`` (a word went to period=, a
    sequence to edges=)."""
    if periods is None:
        return period, edges
    if isinstance(periods, str):
        _warn_renamed("periods", "period", where)
        return (periods if period is None else period), edges
    _warn_renamed("periods", "edges", where)
    return period, (periods if edges is None else edges)


def _labels_of(data: Any, col: str | None, option: str) -> tuple[np.ndarray | None, list[Any]]:
    if col is None:
        return None, []
    return _frames.category_codes(_frames.column(data, col, option), col)


def _plain_table(data: Any) -> Any:  # a mapping of columns or a table _frames reads
    """Input tables; a funnelkit Table (e.g. from :func:`opportunities_from_stages`) is read
    column by column without Arrow."""
    if isinstance(data, Table):
        return {name: data.column(name) for name in data.columns}
    return _frames.as_table(data)


def _outcome_codes(arr: Any, name: str) -> np.ndarray:
    """Outcomes as codes 0 open, 1 won, 2 lost, from the words (any case) or the codes;
    missing values are open."""
    values = _frames._values(arr)
    if values.dtype.kind in "iufb":
        if values.dtype.kind == "f":
            values = np.where(np.isnan(values), 0, values)
        bad = (values < 0) | (values > 2) | (values != np.round(values))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise ValueError(f"column '{name}', row {row}: value {values[row]!r} is not an outcome code "
                             "(0 open, 1 won, 2 lost)")
        return values.astype(np.int8)
    lookup = {w: i for i, w in enumerate(_OUTCOMES)}
    out = np.zeros(len(values), dtype=np.int8)
    for i, v in enumerate(values):
        if v is None or (isinstance(v, float) and v != v):
            continue
        key = str(v).strip().lower()
        if key not in lookup:
            raise ValueError(_names.unknown("outcome", v, list(_OUTCOMES), where=f"column '{name}', row {i}"))
        out[i] = lookup[key]
    return out


# -- velocity -------------------------------------------------------------------------------------
class VelocityTable(Table):
    """Result of :func:`velocity`: one row per period and segment, the overall rows (labelled
    ``"(all)"``) first in each period.

    Columns: ``period_start`` and ``period_end`` (datetimes for datetime input, else ticks),
    the segment column (with ``segment=``), ``n`` (N: a count, or the time-averaged open
    pipeline with ``count="average_open"``), ``deal_value`` (D, mean won amount),
    ``win_rate`` (W), ``cycle_length`` (L, in ``unit``), ``velocity`` (V, revenue per
    ``unit``), ``velocity_per_period`` (V times the period length), ``realised`` (won revenue
    of the period per ``unit``, the check beside V), ``period_length`` (in ``unit``), ``won``, ``lost``, ``won_amount``, ``lost_amount``, ``cycle_deals`` (deals
    in L), ``cycle_missing`` (deals without the cycle's start time), ``ci_lower``/``ci_upper``
    (percentile bootstrap interval of V at ``confidence``, null without ``bootstrap``),
    ``observed`` (share of the period up to the end of the data) and ``partial`` (the period
    runs past the end of the data: not comparable with whole periods),
    ``status`` (``ok`` or why V is undefined), ``reason``, and ``basis`` (the options the
    drivers depend on, ``"count=..., win_rate=..., ..."``: :func:`decompose_velocity` refuses
    two rows of different bases).
    """

    definition = ("Sales velocity V = N * D * W / L per period and segment: N the time-averaged open pipeline over "
                  "the period (or the opportunities open at its start; or created in it, when N * D * W is "
                  "revenue per period and V divides by the period length instead of L; or the vendor formula, "
                  "created in the period over L), D the mean amount of the deals won in the period, W = won / "
                  "(won + lost) of the deals closed in the period by count or by value, L the mean or median "
                  "cycle length of the deals closed in the period. By Little's law the open pipeline is the "
                  "arrival rate times the time open, so with N the open pipeline V is won revenue per unit of "
                  "time in a steady state; the realised won revenue per unit is reported beside it as a check.")

    def __init__(self, raw: Mapping[str, Any], axis: TimeAxis, segment_name: str | None, labels: list[Any], *,
                 unit_name: str, options: Mapping[str, Any], inputs: Mapping[str, Any]):
        seg = np.asarray(raw["segment"])
        keep = np.ones(len(seg), dtype=bool) if segment_name is not None else seg < 0
        names = np.array([OVERALL, *labels], dtype=object)
        cols: dict[str, Any] = {"period_start": axis.datetimes(np.asarray(raw["start"])[keep]),
                                "period_end": axis.datetimes(np.asarray(raw["end"])[keep])}
        if segment_name is not None:
            cols[segment_name] = names[seg + 1]
        for k in ("n", "deal_value", "win_rate", "cycle_length", "velocity", "velocity_per_period", "realised",
                  "period_length", "won", "lost", "won_amount",
                  "lost_amount", "cycle_deals", "cycle_missing", "ci_lower", "ci_upper", "observed"):
            cols[k] = np.asarray(raw[k])[keep]
        cols["partial"] = np.asarray(raw["partial"])[keep].astype(bool)
        basis = ", ".join(f"{k}={options[k]}" for k in _BASIS_FIELDS if k in options)
        cols["basis"] = np.array([basis] * int(keep.sum()), dtype=object)
        cols["status"] = np.array(raw["status"], dtype=object)[keep]
        cols["reason"] = np.array(raw["reason"], dtype=object)[keep]
        plural = unit_name if unit_name not in UNITS else unit_name + "s"
        super().__init__(cols, options=options, inputs=inputs,
                         units={"cycle_length": plural, "velocity": f"revenue per {unit_name}",
                                "realised": f"revenue per {unit_name}", "velocity_per_period": "revenue per period",
                                "period_length": plural,
                                "ci_lower": f"revenue per {unit_name}", "ci_upper": f"revenue per {unit_name}"})
        self._core = [e for e, k in zip(raw["explanation"], keep) if k]
        self._axis = axis
        #: Name of the segment column (None without ``segment=``) and its labels.
        self.segment_name = segment_name
        self.segments = list(labels)

    @property
    def options(self) -> dict[str, Any]:
        """The options in force (as in ``explain().options``)."""
        return self.explain().options

    def explain(self, row: int | None = None) -> Explanation:
        """How the table (``row=None``) or one row was computed: the definition, the core's
        formula, inputs (N, D, W, L, V and the counts behind them) and options."""
        if row is None:
            core = self._core[0] if self._core else None
            if core is None:
                return super().explain()
            return _core_explanation(core, "VelocityTable", definition=self.definition, inputs=self._inputs,
                                     options=self._options, core_inputs=False)
        n = len(self)
        if not -n <= row < n:
            raise IndexError(f"row {row} is out of range for a table of {n} rows")
        cols = self._table()
        relabel = {"period": [_time_value(cols["period_start"][row]), _time_value(cols["period_end"][row])],
                   "period_start": _time_value(cols["period_start"][row]),
                   "period_end": _time_value(cols["period_end"][row]),
                   "segment": cols[self.segment_name][row] if self.segment_name else OVERALL}
        as_of = dict(self._core[row].inputs).get("as_of")
        if as_of is not None and self._axis.is_datetime:
            relabel["as_of"] = _time_value(self._axis.datetimes(np.array([int(as_of)], dtype=np.int64))[0])
        return _core_explanation(self._core[row], "VelocityTable", relabel=relabel, options=self._options)

    def __repr__(self) -> str:
        c = self._table()
        o = self._options
        lines = [f"VelocityTable({len(self)} rows, unit={o['unit']!r}, count={o['count']!r}, win_rate={o['win_rate']!r}, "
                 f"cycle={o['cycle_stat']} from {o['cycle_from']} over {o['cycle_over']})"]
        for i in range(min(len(self), 12)):
            seg = f" {c[self.segment_name][i]!s:<14}" if self.segment_name else ""
            v = c["velocity"][i]
            vtxt = f"{v:>12,.2f}" if np.isfinite(v) else f"{'undefined':>12} ({c['status'][i]})"
            lines.append(f"  {str(c['period_start'][i])[:10]:<10}{seg} N={c['n'][i]:<9,.1f} V={vtxt}"
                         f"  realised={c['realised'][i]:,.2f}")
        if len(self) > 12:
            lines.append(f"  ... {len(self) - 12} more rows")
        return "\n".join(lines)


def velocity(
    data: Any,
    *,
    period: str | None = None,
    edges: Sequence[Any] | None = None,
    tz: Any = "UTC",
    created: str = "created",
    closed: str = "closed",
    outcome: str = "outcome",
    amount: str = "amount",
    segment: str | None = None,
    sql_time: str | None = None,
    first_touch: str | None = None,
    count: str = "average_open",
    win_rate: str = "count",
    cycle_from: str = "created",
    cycle_over: str = "closed",
    cycle_stat: str = "mean",
    unit: Any = "day",
    bootstrap: int = 0,
    confidence: float = 0.95,
    seed: int = 42,
    as_of: Any = None,
    time_unit: str | None = None,
    periods: Any = None,
) -> VelocityTable:
    """Sales velocity V = N * D * W / L per period (and per segment) from opportunity records.

    Parameters
    ----------
    data:
        One row per opportunity: a pandas or Polars DataFrame (or LazyFrame), a PyArrow table,
        a dict of arrays, or the table of :func:`opportunities_from_stages`.
    period, tz:
        Calendar periods covering the data: ``"day"``, ``"week"`` (ISO, from Monday),
        ``"month"``, ``"quarter"`` or ``"year"``, in the time zone ``tz`` ("UTC", an IANA name
        or an offset in seconds east of UTC).
    edges:
        Instead of ``period``: explicit boundaries (datetimes, ISO strings, or ticks of an
        integer time column), consecutive pairs giving half-open periods [start, end), or a
        sequence of (start, end) pairs.
    created, closed, outcome, amount:
        Column names. ``outcome`` holds ``"won"``/``"lost"``/``"open"`` (any case; codes 1/2/0
        too); ``closed`` is missing for open deals; ``amount`` is the deal's value (currency).
    segment:
        Optional grouping column (source, campaign, rep): a row per segment beside the overall row.
    sql_time, first_touch:
        Columns of the cycle's start when ``cycle_from`` is ``"sql"`` or ``"first_touch"``.
    count:
        N = ``"average_open"`` (default: the time-averaged open pipeline; V is then revenue per
        ``unit`` by Little's law), ``"open_at_start"``, ``"created_per_period"`` (V = N * D * W
        / the period length; ``velocity_per_period`` = N * D * W) or ``"vendor"`` (created in
        the period, divided by L: the vendor formula, too high by the ratio period / L).
        ``"created_in_period"`` is a deprecated alias of ``"vendor"`` (DeprecationWarning).
    win_rate:
        W = won / (won + lost) by ``"count"`` (default) or by ``"value"``.
    cycle_from, cycle_over, cycle_stat:
        L from ``"created"``, ``"sql"`` or ``"first_touch"`` to the close; over all
        ``"closed"`` deals (default: Little's law needs the mean time open of every deal, the
        population N counts) or ``"won"`` deals only; the ``"mean"`` or ``"median"``.
    unit:
        Unit of L and of V's denominator: ``"day"`` (default), ``"hour"``, ``"week"``,
        ``"month"`` (a mean Gregorian month), or a duration such as ``"30d"``.
    bootstrap, confidence, seed:
        Replicates of a percentile bootstrap interval of V (0: none), its confidence level, and
        the seed that makes it reproducible.
    as_of:
        The end of the data (default: the latest time in it). A period running past it is
        *partial*: N keeps counting the deals still open after the data ends and ``realised``
        covers only the observed part, so its V and realised are not comparable with whole
        periods. The ``partial`` and ``observed`` (share of the period up to ``as_of``) columns
        and ``explain(row)`` say so.
    time_unit:
        What integer times count (``"s"`` default, ``"ms"``, ``"us"``, ``"ns"``); datetime
        columns carry their own unit.
    periods:
        Deprecated: a period word (now ``period=``) or boundaries (now ``edges=``).

    D, W and L are measured on the deals closed in the period; undefined values are null with a
    ``status`` and a ``reason``. Raises ValueError or TypeError naming the column, the row and
    the value for bad input.
    """
    period, edges = _period_spec(period, edges, periods, "velocity()")
    if count == "created_in_period":
        warnings.warn("velocity(count='created_in_period') is deprecated: it is the vendor figure (created in the "
                      "period, divided by L), now count='vendor'; for revenue per period (divided by the period "
                      "length) use count='created_per_period'", DeprecationWarning, stacklevel=2)
        count = "vendor"
    count = _names.choice(count, _COUNTS, "count")
    win_rate = _names.choice(win_rate, ("count", "value"), "win_rate")
    cycle_from = _names.choice(cycle_from, ("created", "sql", "first_touch"), "cycle_from")
    cycle_over = _names.choice(cycle_over, ("won", "closed"), "cycle_over")
    cycle_stat = _names.choice(cycle_stat, ("mean", "median"), "cycle_stat")
    if isinstance(bootstrap, bool) or not isinstance(bootstrap, (int, np.integer)) or bootstrap < 0:
        raise ValueError(f"option 'bootstrap': value {bootstrap!r} must be an integer >= 0")
    if cycle_from == "sql" and sql_time is None:
        raise ValueError("option 'cycle_from': 'sql' needs the column of SQL times (sql_time=)")
    if cycle_from == "first_touch" and first_touch is None:
        raise ValueError("option 'cycle_from': 'first_touch' needs the column of first touches (first_touch=)")
    data = _plain_table(data)
    cr, axis = _frames.time_axis(_frames.column(data, created, "created"), created, time_unit)
    cl = _frames.times_on_axis(_frames.column(data, closed, "closed"), axis, closed, missing=MISSING)
    oc = _outcome_codes(_frames.column(data, outcome, "outcome"), outcome)
    am = _frames.amounts(_frames.column(data, amount, "amount"), amount)
    seg, labels = _labels_of(data, segment, "segment")
    sq = _frames.times_on_axis(_frames.column(data, sql_time, "sql_time"), axis, sql_time, missing=MISSING) \
        if sql_time else None
    ft = _frames.times_on_axis(_frames.column(data, first_touch, "first_touch"), axis, first_touch,
                               missing=MISSING) if first_touch else None
    unit_ticks, unit_name = _unit(unit, axis)
    span = None
    if len(cr):
        done = cl[cl != MISSING]
        span = (int(min(cr.min(), done.min(initial=cr.min()))), int(max(cr.max(), done.max(initial=cr.max()))))
    starts, ends, period_opts = _periods(axis, period, edges, tz, span, "velocity()")
    opts = _core.VelocityOptions(count=count, win_rate=win_rate, cycle_from=cycle_from, cycle_over=cycle_over,
                                 cycle_stat=cycle_stat, time_unit=float(unit_ticks), unit_name=unit_name,
                                 bootstrap=int(bootstrap), confidence=float(confidence), seed=int(seed),
                                 as_of=axis.timestamp(as_of, "as_of", allow_none=True))
    raw = _core.velocity(cr, cl, oc, am, starts, ends, options=opts, segment=seg, sql_time=sq, first_touch=ft)
    options = {**period_opts, "count": count, "win_rate": win_rate, "cycle_from": cycle_from,
               "cycle_over": cycle_over, "cycle_stat": cycle_stat, "unit": unit_name, "unit_ticks": int(unit_ticks),
               "bootstrap": int(bootstrap),
               "confidence": float(confidence), "seed": int(seed), "time_unit": axis.unit,
               "time_is_datetime": axis.is_datetime}
    inputs = {"opportunities": int(len(cr)), "periods": int(len(starts)), "segments": len(labels),
              "columns": {"created": created, "closed": closed, "outcome": outcome, "amount": amount,
                          "segment": segment, "sql_time": sql_time, "first_touch": first_touch}}
    return VelocityTable(raw, axis, segment, labels, unit_name=unit_name, options=options, inputs=inputs)


def velocity_formula(n: float, deal_value: float, win_rate: float, cycle_length: float) -> float:
    """V = n * deal_value * win_rate / cycle_length: revenue per unit of ``cycle_length``
    (the DOMAIN example 40 * 25,000 * 0.25 / 90 = 2,777.78 per day). Raises ValueError on a
    negative or non-finite input, a win rate above 1 or a cycle length <= 0."""
    return float(_core.velocity_formula(float(n), float(deal_value), float(win_rate), float(cycle_length)))


# -- the change of V by driver -------------------------------------------------------------------
_DRIVERS = ("N", "D", "W", "L")
_COUNTS = ("average_open", "open_at_start", "created_per_period", "vendor")
# The options a velocity row's drivers depend on, in the order they are compared.
_BASIS_FIELDS = ("count", "win_rate", "cycle_from", "cycle_over", "cycle_stat", "unit")


@dataclass(frozen=True)
class VelocityDecomposition(Scalar):
    """The change V1 - V0 split into its drivers N, D, W and L.

    ``log``: ln(x1 / x0) per driver (minus for L), summing exactly to ln(V1 / V0).
    ``additive``: LMDI-I contributions weight * ln(x1 / x0) (minus for L), with weight =
    (V1 - V0) / (ln V1 - ln V0), summing exactly to V1 - V0 (revenue per unit of L).
    ``shapley``: each driver's change of V averaged over the 4! orders in which the four
    factors N, D, W and 1/L could change from period 0 to period 1; also summing to V1 - V0.
    """

    definition = ("The change of sales velocity V = N * D * W / L between two periods split into its drivers: on "
                  "the log scale ln V1 - ln V0 = ln(N1/N0) + ln(D1/D0) + ln(W1/W0) - ln(L1/L0); additively by "
                  "LMDI-I, contribution = L(V1, V0) * ln(x1/x0) (minus for L) with L(a, b) = (a - b) / "
                  "(ln a - ln b), the four summing to V1 - V0; and by Shapley values, each factor's marginal "
                  "change averaged over the 24 orders in which N, D, W and 1/L can change, also summing to "
                  "V1 - V0.")

    v0: float
    v1: float
    weight: float
    log: dict[str, float]
    additive: dict[str, float]
    shapley: dict[str, float] = field(default_factory=dict)
    _explanation: str = field(default="", repr=False, compare=False)

    @property
    def change(self) -> float:
        """V1 - V0 (revenue per unit of L)."""
        return self.v1 - self.v0

    def explain(self) -> Explanation:
        """The definition, the core's inputs (N, D, W, L of both periods, V0, V1, the weight and
        the contributions) and the method."""
        return _core_explanation(self._explanation, "VelocityDecomposition", definition=self.definition)

    def drivers(self) -> Table:
        """A table of the drivers: ``driver``, ``log_contribution``, ``additive_contribution``
        (LMDI-I) and ``shapley_contribution``."""
        return Table({"driver": list(_DRIVERS), "log_contribution": np.array([self.log[k] for k in _DRIVERS]),
                      "additive_contribution": np.array([self.additive[k] for k in _DRIVERS]),
                      "shapley_contribution": np.array([self.shapley.get(k, np.nan) for k in _DRIVERS])},
                     name="VelocityDrivers", definition=self.definition,
                     inputs={"v0": self.v0, "v1": self.v1, "weight": self.weight},
                     options={"method": "LMDI-I and Shapley"})

    def plot(self, ax: matplotlib.axes.Axes | None = None, **kwargs: Any) -> matplotlib.axes.Axes:
        """The waterfall from V0 through the drivers' additive contributions to V1, with
        matplotlib (``pip install 'funnelkit[plot]'``); returns the Axes."""
        from .plot import plot_result

        return plot_result(self, ax, **kwargs)

    def to_pandas(self) -> pandas.DataFrame:
        """Deprecated: use ``drivers().to_pandas()``."""
        warnings.warn("VelocityDecomposition.to_pandas() is deprecated; use drivers().to_pandas()",
                      DeprecationWarning, stacklevel=2)
        return self.drivers().to_pandas()

    def __repr__(self) -> str:
        parts = ", ".join(f"{k} {v:+,.2f}" for k, v in self.additive.items())
        return f"VelocityDecomposition(V {self.v0:,.2f} -> {self.v1:,.2f}, change {self.change:+,.2f} = {parts})"


def _basis(x: Any) -> dict[str, str] | None:
    """The options of a velocity row (its ``basis`` column), or None for a bare (N, D, W, L)."""
    if isinstance(x, (tuple, list)):
        return None
    try:
        text = x["basis"]
    except (KeyError, TypeError, IndexError):
        return None
    if not isinstance(text, str):
        return None
    return dict(part.split("=", 1) for part in text.split(", ") if "=" in part)


def _nwdl(x: Any, option: str) -> tuple[float, float, float, float]:
    if isinstance(x, (tuple, list)):
        if len(x) != 4:
            raise ValueError(f"option '{option}': expected (N, D, W, L), got {len(x)} values")
        return tuple(float(v) for v in x)  # type: ignore[return-value]
    try:
        n, d, w = float(x["n"]), float(x["deal_value"]), float(x["win_rate"])
        basis = _basis(x) or {}
        # A row of count="created_per_period" divides by the period length (V * period = N * D *
        # W); every other basis by L. The row says which in its basis column.
        if basis.get("count") == "created_per_period":
            denominator = float(x["period_length"])
        else:
            denominator = float(x["cycle_length"]) if x["cycle_length"] is not None else float("nan")
        return n, d, w, denominator
    except (KeyError, TypeError, IndexError):
        raise TypeError(f"option '{option}': expected (N, D, W, L) or a row with n, deal_value, win_rate and "
                        f"cycle_length, got {x!r}") from None


def _same_basis(before: Any, after: Any) -> None:
    a, b = _basis(before), _basis(after)
    if a is None or b is None:
        return  # explicit (N, D, W, L) numbers: the caller chose them
    for k in _BASIS_FIELDS:
        if a.get(k) != b.get(k):
            raise ValueError(f"option '{k}': {a.get(k)!r} (before) vs {b.get(k)!r} (after): the two rows were "
                             "computed on different bases, and their drivers do not split")


def decompose_velocity(before: Any, after: Any) -> VelocityDecomposition:
    """Splits the change of velocity between two periods into its four drivers.

    ``before`` and ``after`` are (N, D, W, L) tuples or rows with ``n``, ``deal_value``,
    ``win_rate`` and ``cycle_length`` (e.g. ``table.to_dict("records")[i]`` of a
    :class:`VelocityTable`; a row of ``count="created_per_period"`` uses its period length as
    the denominator). Two rows computed with different options (count, win_rate, cycle_from,
    cycle_over, cycle_stat, unit: the ``basis`` column) raise ValueError naming the option:
    their drivers are on different bases. The inputs are checked as :func:`velocity_formula`
    checks them (a win rate in [0, 1], the others finite) and must also be > 0 (a driver of 0
    has no logarithm); a bad value raises ValueError naming the row (``before``/``after``) and
    the field. The result has the log split, the LMDI-I split and the Shapley split."""
    _same_basis(before, after)
    a, b = _nwdl(before, "before"), _nwdl(after, "after")
    r = _core.decompose_velocity(*a, *b)
    return VelocityDecomposition(float(r["v0"]), float(r["v1"]), float(r["weight"]),
                                 dict(zip(_DRIVERS, map(float, r["log"]))),
                                 dict(zip(_DRIVERS, map(float, r["additive"]))),
                                 dict(zip(_DRIVERS, map(float, r["shapley"]))), r["explanation"].json())


# -- opportunities from stage records ------------------------------------------------------------
def opportunities_from_stages(
    data: Any,
    *,
    model: StageModel | None = None,
    entity: str = "entity",
    time: str = "time",
    stage: str = "stage",
    segment: str | None = "source",
    amount: str | None = "amount",
    opportunity_stage: str = "Opportunity",
    sql_stage: str | None = "SQL",
    time_unit: str | None = None,
) -> Table:
    """One opportunity per entity that entered ``opportunity_stage``, from stage-change records
    (e.g. :func:`funnelkit.sample_crm`), ready for :func:`velocity`.

    Columns: ``entity``; ``created`` (first entry into the opportunity stage); ``closed``
    (first won or lost record after it; null while open); ``outcome`` (``"open"``, ``"won"``,
    ``"lost"``); ``amount`` (of the closing record, or of the opportunity while open);
    ``sql_time`` (first entry into ``sql_stage``; null without); ``first_touch`` (the entity's
    earliest record); and the segment column (of the earliest record). Times are datetimes for
    datetime input, else ticks of the time column. Stage names are checked against the model.
    """
    from .model import StageModel

    m = model if model is not None else StageModel.b2b()
    core_model = getattr(m, "_m", m)
    for option, name in (("opportunity_stage", opportunity_stage), ("sql_stage", sql_stage)):
        if name is not None and name not in m.names:
            raise ValueError(_names.unknown("stage", name, list(m.names), where=f"option '{option}'"))
    data = _plain_table(data)
    ent, ent_labels = _frames.entity_ids(_frames.column(data, entity, "entity"), entity)
    tm, axis = _frames.time_axis(_frames.column(data, time, "time"), time, time_unit)
    st = _frames.stage_codes(_frames.column(data, stage, "stage"), m.names, stage)
    seg, labels = _labels_of(data, segment, "segment")
    am = _frames.amounts(_frames.column(data, amount, "amount"), amount) if amount else None
    r = _core.opportunities_from_stages(core_model, ent, tm, st, segment=seg, amount=am,
                                        opportunity_stage=opportunity_stage, sql_stage=sql_stage or "")

    def times(ticks: Any) -> np.ndarray | list[int | None]:
        arr = np.asarray(ticks, dtype=np.int64)
        if axis.is_datetime:
            return axis.datetimes(arr, never=MISSING)
        return [None if t == MISSING else t for t in arr.tolist()]

    ids = np.asarray(r["entity"])
    cols: dict[str, Any] = {
        "entity": ent_labels[ids] if ent_labels is not None else ids,
        "created": times(r["created"]), "closed": times(r["closed"]),
        "outcome": np.array(_OUTCOMES, dtype=object)[np.asarray(r["outcome"])],
        "amount": np.asarray(r["amount"]), "sql_time": times(r["sql_time"]), "first_touch": times(r["first_touch"]),
    }
    if segment is not None and "segment" in r:
        codes = np.asarray(r["segment"])
        cols[segment] = np.array(labels, dtype=object)[codes] if len(labels) else np.array([], dtype=object)
    return Table(cols, name="Opportunities",
                 definition=("One row per entity that entered the opportunity stage: created = its first entry; "
                             "closed and outcome from its first won or lost record after that; amount of the "
                             "closing record (or of the opportunity while open); sql_time = first entry into the "
                             "SQL stage; first_touch = the entity's earliest record; the segment of that record."),
                 inputs={"rows": int(len(ent)), "columns": {"entity": entity, "time": time, "stage": stage,
                                                            "segment": segment, "amount": amount}},
                 options={"opportunity_stage": opportunity_stage, "sql_stage": sql_stage, "time_unit": axis.unit,
                          "time_is_datetime": axis.is_datetime})
