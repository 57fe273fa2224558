"""Revenue math: sales velocity, the reverse funnel from a revenue goal to lead volume, time
lags between a lead and its win, and SLA compliance between marketing and sales.

Times: integer columns are seconds since the Unix epoch; datetime columns (pandas, Polars,
Arrow, numpy ``datetime64``) are converted to whole seconds (UTC). Missing times (``NaT``,
``None``, ``NaN``) mean "not closed", "never touched" or "not won" where a column allows them.

Every result can say how it was computed: ``explain()`` returns a dict with the metric, the
formula, the inputs and the options (the same fields as the C++ ``explanation``), ready to show
beside the number in a notebook or a BI tool. Undefined numbers are NaN in tables *and* carry a
``status`` and a ``reason`` column; they are never silent.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import _core, _frames

__all__ = [
    "velocity",
    "VelocityTable",
    "velocity_formula",
    "decompose_velocity",
    "VelocityDecomposition",
    "opportunities_from_stages",
    "ceil_whole",
    "plan_reverse_funnel",
    "FunnelPlan",
    "steps_from_conversion",
    "reps_needed",
    "CapacityResult",
    "split_goal",
    "estimate_lags",
    "LagTable",
    "LagModel",
    "LeadPlan",
    "sla_response",
    "ResponseSLA",
    "sla_volume",
    "VolumeSLA",
    "revenue_report",
]

OVERALL = "(all)"
MISSING = int(_core.missing_time)
_UNITS = {"second": 1.0, "minute": 60.0, "hour": 3600.0, "day": 86400.0, "week": 604800.0,
          "month": 2629746.0}


# -- time helpers ------------------------------------------------------------------------------
def _seconds(value: Any, name: str) -> int:
    """A point in time as integer seconds since the epoch (UTC)."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"option '{name}': expected a time, got {value!r}")
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, np.datetime64):
        return int(value.astype("datetime64[s]").astype(np.int64))
    if isinstance(value, str):
        import pandas as pd

        value = pd.Timestamp(value)
    if hasattr(value, "to_pydatetime"):
        value = value.to_pydatetime()
    if isinstance(value, _dt.date) and not isinstance(value, _dt.datetime):
        value = _dt.datetime(value.year, value.month, value.day)
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=_dt.timezone.utc)
        return int(value.timestamp() // 1)
    raise TypeError(f"option '{name}': expected seconds since the epoch, a datetime or an ISO string, got {value!r}")


def _duration(value: Any, name: str) -> int:
    """A duration as integer seconds: a number of seconds, a timedelta or a string like '24h'."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"option '{name}': expected a duration, got {value!r}")
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        if not np.isfinite(value) or value != round(value):
            raise ValueError(f"option '{name}': value {value!r} must be a whole number of seconds")
        return int(value)
    if isinstance(value, str):
        import pandas as pd

        value = pd.Timedelta(value)
    if isinstance(value, np.timedelta64):
        return int(value.astype("timedelta64[s]").astype(np.int64))
    if hasattr(value, "total_seconds"):
        return int(round(value.total_seconds()))
    raise TypeError(f"option '{name}': expected seconds, a timedelta or a string like '24h', got {value!r}")


def _times(arr: Any, name: str, *, optional: bool) -> np.ndarray:
    """A time column as int64 seconds; missing values become MISSING when ``optional``."""
    values = _frames._values(arr)
    if values.dtype.kind == "M":
        nat = np.isnat(values)
        if nat.any() and not optional:
            raise ValueError(f"column '{name}', row {int(np.flatnonzero(nat)[0])}: value NaT is a missing time")
        out = values.astype("datetime64[s]").astype(np.int64)
        out[nat] = MISSING
        return np.ascontiguousarray(out)
    if values.dtype.kind in "iu":
        return np.ascontiguousarray(values, dtype=np.int64)
    if values.dtype.kind == "f":
        miss = np.isnan(values)
        if miss.any() and not optional:
            raise ValueError(f"column '{name}', row {int(np.flatnonzero(miss)[0])}: value NaN is a missing time")
        bad = ~miss & (~np.isfinite(values) | (values != np.round(values)))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise TypeError(f"column '{name}', row {row}: value {values[row]!r} is not an integer time")
        out = np.where(miss, 0, values).astype(np.int64)
        out[miss] = MISSING
        return out
    if values.dtype.kind == "O":
        out = np.empty(len(values), dtype=np.int64)
        for i, v in enumerate(values):
            if v is None or (isinstance(v, float) and v != v) or (hasattr(v, "isnat") and v.isnat()):
                if not optional:
                    raise ValueError(f"column '{name}', row {i}: missing time")
                out[i] = MISSING
            else:
                try:
                    out[i] = _seconds(v, name)
                except Exception as exc:  # noqa: BLE001 - re-raised with the row
                    raise TypeError(f"column '{name}', row {i}: value {v!r} is not a time") from exc
        return out
    raise TypeError(f"column '{name}': expected times (integers or datetimes), got dtype {values.dtype}")


def _unit_seconds(unit: str | float) -> tuple[float, str]:
    if isinstance(unit, str):
        if unit not in _UNITS:
            raise ValueError(f"option 'unit': value {unit!r} is not one of {', '.join(map(repr, _UNITS))}")
        return _UNITS[unit], unit
    u = float(unit)
    return u, f"{u:g} s"


def _period_edges(periods: Any, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
    """Periods as (starts, ends) in seconds: a pandas frequency alias ('M', 'Q', 'W', 'D', 'Y')
    covering [lo, hi], a sequence of (start, end) pairs, or a sequence of edges."""
    if isinstance(periods, str):
        import pandas as pd

        if hi < lo:
            raise ValueError("no times in the input to derive periods from")
        pr = pd.period_range(pd.Timestamp(lo, unit="s"), pd.Timestamp(hi, unit="s"), freq=periods)
        starts = np.array([int(p.start_time.timestamp()) for p in pr], dtype=np.int64)
        ends = np.array([int((p.end_time + pd.Timedelta(1, "ns")).timestamp()) for p in pr], dtype=np.int64)
        return starts, ends
    items = list(periods)
    if items and isinstance(items[0], (tuple, list)):
        starts = np.array([_seconds(a, "periods") for a, _ in items], dtype=np.int64)
        ends = np.array([_seconds(b, "periods") for _, b in items], dtype=np.int64)
        return starts, ends
    edges = np.array([_seconds(e, "periods") for e in items], dtype=np.int64)
    if len(edges) < 2:
        raise ValueError("option 'periods': give at least two edges, (start, end) pairs or a frequency")
    return edges[:-1].copy(), edges[1:].copy()


def _to_datetime(seconds: np.ndarray) -> np.ndarray:
    return np.asarray(seconds, dtype=np.int64).astype("datetime64[s]")


def _explained(text: str) -> dict[str, Any]:
    return json.loads(text)


def _codes(data: Any, col: str | None, name: str) -> tuple[np.ndarray | None, list[Any]]:
    if col is None:
        return None, []
    return _frames.category_codes(_frames.column(data, col), name)


def _outcomes(arr: Any, name: str) -> np.ndarray:
    values = _frames._values(arr)
    if values.dtype.kind in "iuf":
        if values.dtype.kind == "f" and np.isnan(values).any():
            values = np.where(np.isnan(values), 0, values)
        bad = (values < 0) | (values > 2) | (values != np.round(values))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise ValueError(f"column '{name}', row {row}: value {values[row]!r} is not an outcome (0 open, 1 won, 2 lost)")
        return values.astype(np.int8)
    lookup = {"open": 0, "won": 1, "lost": 2}
    out = np.empty(len(values), dtype=np.int8)
    for i, v in enumerate(values):
        if v is None or (isinstance(v, float) and v != v):
            out[i] = 0
            continue
        key = str(v).strip().lower()
        if key not in lookup:
            raise ValueError(f"column '{name}', row {i}: value {v!r} is not an outcome ('open', 'won', 'lost')")
        out[i] = lookup[key]
    return out


class _Table:
    """Shared conversions of column-dict results."""

    _columns: dict[str, Any]

    def to_dict(self) -> dict[str, np.ndarray]:
        return {k: np.asarray(v) for k, v in self._columns.items()}

    def to_pandas(self) -> Any:
        """The result as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame(self.to_dict())

    def to_polars(self) -> Any:
        """The result as a Polars DataFrame."""
        import polars as pl

        return pl.from_pandas(self.to_pandas())

    def to_arrow(self) -> Any:
        import pyarrow as pa

        return pa.Table.from_pandas(self.to_pandas(), preserve_index=False)

    def __len__(self) -> int:
        first = next(iter(self._columns.values()), [])
        return len(first)


# -- velocity ---------------------------------------------------------------------------------
class VelocityTable(_Table):
    """Result of :func:`velocity`: one row per period and segment (overall rows, labelled
    ``"(all)"``, first in each period). Columns: ``period_start``, ``period_end``, the segment
    column, ``n`` (N), ``deal_value`` (D, mean won amount), ``win_rate`` (W),
    ``cycle_length`` (L, in ``unit``), ``velocity`` (V = N*D*W/L, revenue per ``unit``),
    ``won``, ``lost``, ``won_amount``, ``lost_amount``, ``cycle_deals``, ``cycle_missing``,
    ``ci_lower``/``ci_upper`` (bootstrap, NaN without), ``status`` and ``reason``."""

    def __init__(self, raw: dict[str, Any], segment_name: str | None, labels: list[Any], options: dict[str, Any]):
        self._raw = raw
        self.segment_name = segment_name
        self.segments = labels
        self.options = options
        seg = np.asarray(raw["segment"])
        names = np.array([OVERALL, *labels], dtype=object)
        cols: dict[str, Any] = {
            "period_start": _to_datetime(raw["start"]),
            "period_end": _to_datetime(raw["end"]),
        }
        if segment_name is not None:
            cols[segment_name] = names[seg + 1]
        for k in ("n", "deal_value", "win_rate", "cycle_length", "velocity", "won", "lost", "won_amount",
                  "lost_amount", "cycle_deals", "cycle_missing", "ci_lower", "ci_upper"):
            cols[k] = np.asarray(raw[k])
        cols["status"] = np.array(raw["status"], dtype=object)
        cols["reason"] = np.array(raw["reason"], dtype=object)
        if segment_name is None:
            keep = seg < 0
            cols = {k: v[keep] for k, v in cols.items()}
            self._rows = np.flatnonzero(keep)
        else:
            self._rows = np.arange(len(seg))
        self._columns = cols

    def explain(self, row: int = 0) -> dict[str, Any]:
        """How row ``row`` of the table was computed (formula, inputs, options)."""
        return _explained(self._raw["explanation"][int(self._rows[row])])

    def __repr__(self) -> str:
        c = self._columns
        lines = [f"VelocityTable({len(self)} rows, unit={self.options['unit']!r}, count={self.options['count']!r}, "
                 f"win_rate={self.options['win_rate']!r}, cycle={self.options['cycle_stat']} from "
                 f"{self.options['cycle_from']} over {self.options['cycle_over']})"]
        for i in range(min(len(self), 12)):
            seg = f" {c[self.segment_name][i]!s:<14}" if self.segment_name else ""
            v = c["velocity"][i]
            vtxt = f"{v:>12,.2f}" if np.isfinite(v) else f"{'undefined':>12} ({c['status'][i]})"
            lines.append(f"  {str(c['period_start'][i])[:10]}{seg} N={c['n'][i]:<6} V={vtxt}")
        if len(self) > 12:
            lines.append(f"  ... {len(self) - 12} more rows")
        return "\n".join(lines)


def velocity(
    data: Any,
    *,
    periods: Any,
    created: str = "created",
    closed: str = "closed",
    outcome: str = "outcome",
    amount: str = "amount",
    segment: str | None = None,
    sql_time: str | None = None,
    first_touch: str | None = None,
    count: str = "created_in_period",
    win_rate: str = "count",
    cycle_from: str = "created",
    cycle_over: str = "won",
    cycle_stat: str = "mean",
    unit: str | float = "day",
    bootstrap: int = 0,
    confidence: float = 0.95,
    seed: int = 42,
) -> VelocityTable:
    """Sales velocity V = N * D * W / L per period (and per segment) from opportunity records.

    Parameters (all keyword-only except ``data``):
    - ``periods``: a pandas frequency (``"M"``, ``"Q"``, ``"W"``...) spanning the data, a
      sequence of edges, or of (start, end) pairs; periods are half-open [start, end).
    - ``created``, ``closed``, ``outcome``, ``amount``: column names. ``outcome`` holds
      ``"won"``/``"lost"``/``"open"`` (or codes 1/2/0); ``closed`` may be missing for open deals.
    - ``segment``: optional grouping column (source, campaign, rep).
    - ``count``: N = ``"created_in_period"`` or ``"open_at_start"``.
    - ``win_rate``: W = won/(won+lost) by ``"count"`` or by ``"value"``.
    - ``cycle_from``: L starts at ``"created"``, ``"sql"`` (column ``sql_time``) or
      ``"first_touch"`` (column ``first_touch``); ``cycle_over``: ``"won"`` deals or all
      ``"closed"``; ``cycle_stat``: ``"mean"`` or ``"median"``.
    - ``unit``: unit of L and of V's denominator: ``"day"`` (default), ``"week"``, ``"hour"``...
    - ``bootstrap``: replicates of a percentile bootstrap interval of V (0: none), at
      ``confidence``, reproducible with ``seed``.
    D, W and L are measured on the deals closed in the period; undefined values are NaN with a
    ``status`` and ``reason``.
    """
    cr = _times(_frames.column(data, created), created, optional=False)
    cl = _times(_frames.column(data, closed), closed, optional=True)
    oc = _outcomes(_frames.column(data, outcome), outcome)
    am = _frames.amounts(_frames.column(data, amount), amount)
    seg, labels = _codes(data, segment, segment or "segment")
    sq = _times(_frames.column(data, sql_time), sql_time, optional=True) if sql_time else None
    ft = _times(_frames.column(data, first_touch), first_touch, optional=True) if first_touch else None
    tu, unit_name = _unit_seconds(unit)
    if isinstance(periods, str):
        finite = cl[cl != MISSING]
        lo = int(min(cr.min(initial=np.iinfo(np.int64).max), finite.min(initial=np.iinfo(np.int64).max)))
        hi = int(max(cr.max(initial=np.iinfo(np.int64).min), finite.max(initial=np.iinfo(np.int64).min)))
        starts, ends = _period_edges(periods, lo, hi)
    else:
        starts, ends = _period_edges(periods, 0, 0)
    if isinstance(bootstrap, bool) or not isinstance(bootstrap, (int, np.integer)):
        raise TypeError(f"option 'bootstrap': expected an integer, got {bootstrap!r}")
    raw = _core.velocity(cr, cl, oc, am, seg, sq, ft, starts, ends, count, win_rate, cycle_from, cycle_over,
                         cycle_stat, tu, unit_name, int(bootstrap), float(confidence), int(seed))
    options = dict(count=count, win_rate=win_rate, cycle_from=cycle_from, cycle_over=cycle_over,
                   cycle_stat=cycle_stat, unit=unit_name, bootstrap=bootstrap, confidence=confidence, seed=seed)
    return VelocityTable(raw, segment, labels, options)


def velocity_formula(n: float, deal_value: float, win_rate: float, cycle_length: float) -> float:
    """V = n * deal_value * win_rate / cycle_length (revenue per unit of cycle_length)."""
    return float(_core.velocity_formula(n, deal_value, win_rate, cycle_length))


@dataclass(frozen=True)
class VelocityDecomposition:
    """The change V1 - V0 split into N, D, W and L: ``log`` (ln x1/x0, minus for L; sums to
    ln V1/V0) and ``additive`` (LMDI-I, sums to V1 - V0)."""

    v0: float
    v1: float
    weight: float
    log: dict[str, float]
    additive: dict[str, float]
    _explanation: str = field(repr=False)

    @property
    def change(self) -> float:
        return self.v1 - self.v0

    def explain(self) -> dict[str, Any]:
        return _explained(self._explanation)

    def to_pandas(self) -> Any:
        import pandas as pd

        return pd.DataFrame({"driver": list(self.log), "log_contribution": list(self.log.values()),
                             "additive_contribution": list(self.additive.values())})

    def __repr__(self) -> str:
        parts = ", ".join(f"{k} {v:+,.2f}" for k, v in self.additive.items())
        return f"VelocityDecomposition(V {self.v0:,.2f} -> {self.v1:,.2f}, change {self.change:+,.2f} = {parts})"


def _nwdl(x: Any) -> tuple[float, float, float, float]:
    if isinstance(x, (tuple, list)) and len(x) == 4:
        return tuple(float(v) for v in x)  # type: ignore[return-value]
    return float(x["n"]), float(x["deal_value"]), float(x["win_rate"]), float(x["cycle_length"])


def decompose_velocity(before: Any, after: Any) -> VelocityDecomposition:
    """Splits the change of velocity between two periods into its four drivers. ``before`` and
    ``after`` are (N, D, W, L) tuples or rows with ``n``, ``deal_value``, ``win_rate``,
    ``cycle_length`` (e.g. rows of :meth:`VelocityTable.to_pandas`). Every input must be > 0."""
    a, b = _nwdl(before), _nwdl(after)
    r = _core.decompose_velocity(*a, *b)
    names = ("N", "D", "W", "L")
    return VelocityDecomposition(r["v0"], r["v1"], r["weight"], dict(zip(names, r["log"])),
                                 dict(zip(names, r["additive"])), r["explanation"])


def opportunities_from_stages(data: Any, *, model: Any = None, entity: str = "entity", time: str = "time",
                              stage: str = "stage", segment: str | None = "source", amount: str | None = "amount",
                              opportunity_stage: str = "Opportunity", sql_stage: str = "SQL") -> Any:
    """One opportunity per entity that entered ``opportunity_stage``, from stage-change records
    (e.g. :func:`funnelkit.sample_crm`): a pandas DataFrame with entity, created, closed (NaT
    while open), outcome ('open'/'won'/'lost'), amount, sql_time, first_touch and the segment
    column. Times come back as datetime64[s]."""
    import pandas as pd

    from .model import StageModel

    m = model if model is not None else StageModel.b2b()
    core_model = getattr(m, "_m", m)
    ent = _frames.entity_codes(_frames.column(data, entity), entity)
    tm = _times(_frames.column(data, time), time, optional=False)
    st = _frames.stage_codes(_frames.column(data, stage), m.names, stage)
    seg, labels = _codes(data, segment, segment or "segment")
    am = _frames.amounts(_frames.column(data, amount), amount) if amount else None
    r = _core.opportunities_from_stages(core_model, ent, tm, st, seg, am, opportunity_stage, sql_stage)

    def dt(a: np.ndarray) -> Any:
        out = np.asarray(a).astype("datetime64[s]")
        out[np.asarray(a) == MISSING] = np.datetime64("NaT")
        return out

    df = pd.DataFrame({
        "entity": r["entity"], "created": dt(r["created"]), "closed": dt(r["closed"]),
        "outcome": np.array(["open", "won", "lost"], dtype=object)[np.asarray(r["outcome"])],
        "amount": r["amount"], "sql_time": dt(r["sql_time"]), "first_touch": dt(r["first_touch"]),
    })
    if segment is not None and "segment" in r:
        df[segment] = np.array(labels, dtype=object)[np.asarray(r["segment"])] if len(labels) else []
    return df


# -- reverse funnel ---------------------------------------------------------------------------
def ceil_whole(x: float, *, tolerance: float = 1e-9) -> float:
    """x rounded up to a whole number, except that a value within ``tolerance * max(1, |x|)``
    of an integer is that integer (so 50 / (0.5*0.6*0.5*(1/3)) = 1000.0000000000001 -> 1000)."""
    return float(_core.ceil_whole(float(x), float(tolerance)))


class FunnelPlan(_Table):
    """Result of :func:`plan_reverse_funnel`: one row per stage, top of the funnel first and the
    won stage last. Columns: ``stage``, ``rate`` (to the next stage), ``rate_to_won``,
    ``exact`` (unrounded volume), ``volume`` (whole entities), ``per_period``,
    ``per_rep_per_period``."""

    def __init__(self, raw: dict[str, Any]):
        self._raw = raw
        self.total_goal = float(raw["total_goal"])
        self._columns = {k: (np.array(raw[k], dtype=object) if k == "stage" else np.asarray(raw[k]))
                         for k in ("stage", "rate", "rate_to_won", "exact", "volume", "per_period", "per_rep_per_period")}

    def volume(self, stage: str) -> float:
        """Whole volume the plan needs at ``stage``."""
        names = list(self._columns["stage"])
        if stage not in names:
            raise ValueError(f"stage {stage!r} is not in the plan ({', '.join(names)})")
        return float(self._columns["volume"][names.index(stage)])

    def explain(self) -> dict[str, Any]:
        return _explained(self._raw["explanation"])

    def __repr__(self) -> str:
        c = self._columns
        lines = [f"FunnelPlan(goal {self.total_goal:,.2f})"]
        width = max(len(s) for s in c["stage"])
        for i in range(len(self)):
            lines.append(f"  {c['stage'][i]:<{width}}  {c['volume'][i]:>12,.0f}  per period {c['per_period'][i]:>10,.0f}"
                         f"  per rep {c['per_rep_per_period'][i]:>8,.0f}")
        return "\n".join(lines)


def _steps(steps: Any) -> tuple[list[str], list[float]]:
    items = list(steps.items()) if isinstance(steps, Mapping) else [tuple(s) for s in steps]
    return [str(n) for n, _ in items], [float(r) for _, r in items]


def plan_reverse_funnel(
    *,
    goal: float,
    deal_value: float,
    steps: Mapping[str, float] | Sequence[tuple[str, float]],
    won_name: str = "Customer",
    periods: int = 1,
    reps: int = 1,
    goal_per_period: bool = False,
    rounding: str = "from_goal",
    tolerance: float = 1e-9,
) -> FunnelPlan:
    """The reverse funnel: deals = ceil(goal / deal_value); the volume each stage needs =
    deals / product of the rates from that stage to won, rounded up once per stage to whole
    entities (robustly: see :func:`ceil_whole`); per period and per rep per period by division,
    rounded up again. ``steps`` maps each stage (top of the funnel first) to its conversion
    rate to the next stage, in (0, 1]. ``goal`` (currency) covers ``periods`` periods, or each
    period with ``goal_per_period=True``. ``rounding="chained"`` rounds each stage from the
    rounded volume of the stage below instead."""
    names, rates = _steps(steps)
    raw = _core.plan_reverse_funnel(float(goal), "per_period" if goal_per_period else "total", float(deal_value),
                                    names, rates, won_name, int(periods), int(reps), rounding, float(tolerance))
    return FunnelPlan(raw)


def steps_from_conversion(table: Any, *, segment: Any = None) -> list[tuple[str, float]]:
    """Measured steps for :func:`plan_reverse_funnel` from a :class:`funnelkit.ConversionTable`:
    every ladder stage but the won one, with its step rate to the next stage."""
    stages = table.stages
    out = []
    for k in range(len(stages) - 1):
        r = table.step_rate(k + 1, segment)
        if r is None:
            raise ValueError(f"stage {stages[k]!r} has no entities: its rate to the next stage is undefined")
        out.append((stages[k], float(r)))
    return out


@dataclass(frozen=True)
class CapacityResult:
    """Reps needed for a monthly volume at a per-rep capacity."""

    volume_per_month: float
    capacity: float
    capacity_per_month: float
    exact_reps: float
    reps: int
    _explanation: str = field(repr=False)

    def explain(self) -> dict[str, Any]:
        return _explained(self._explanation)


def reps_needed(volume_per_month: float, *, capacity: float, per: str = "month", tolerance: float = 1e-9) -> CapacityResult:
    """Reps needed = ceil(volume per month / capacity per rep per month), where a weekly
    capacity (``per="week"``) is capacity * 52 / 12 a month."""
    r = _core.reps_needed(float(volume_per_month), float(capacity), per, float(tolerance))
    return CapacityResult(r["volume_per_month"], r["capacity"], r["capacity_per_month"], r["exact_reps"],
                          int(r["reps"]), r["explanation"])


def split_goal(goal: float, shares: Mapping[str, float]) -> dict[str, float]:
    """Splits a goal between teams or sources by shares in [0, 1] that sum to 1."""
    names = [str(k) for k in shares]
    return dict(zip(names, _core.split_goal(float(goal), names, [float(v) for v in shares.values()])))


# -- lags ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LagModel:
    """wins(m) = win_rate * sum_k leads(m - k) * shares[k]; revenue = wins * deal_value."""

    win_rate: float
    shares: tuple[float, ...]
    deal_value: float = 1.0

    def project(self, leads: Sequence[float], *, history: Sequence[float] = ()) -> Any:
        """Wins and revenue per month from a lead plan (months 0..), with the leads of earlier
        months in ``history`` (oldest first). A pandas DataFrame."""
        import pandas as pd

        r = _core.project_forward(self.win_rate, list(self.shares), self.deal_value,
                                  [float(x) for x in leads], [float(x) for x in history])
        return pd.DataFrame({"month": np.arange(len(r["wins"])), "leads": np.asarray(leads, dtype=float),
                             "wins": r["wins"], "revenue": r["revenue"], "from_history": r["from_history"]})

    def plan(self, revenue_targets: Sequence[float], *, history: Sequence[float] = ()) -> LeadPlan:
        """Lead targets per month (month 0 = now) for revenue targets per month; see
        :class:`LeadPlan`."""
        r = _core.plan_leads(self.win_rate, list(self.shares), self.deal_value,
                             [float(x) for x in revenue_targets], [float(x) for x in history])
        return LeadPlan(r)


class LeadPlan(_Table):
    """Monthly lead targets solved backwards from revenue targets. Columns: ``month``,
    ``target_revenue``, ``target_wins``, ``from_history``, ``leads`` (exact), ``leads_whole``,
    ``projected_wins``, ``projected_revenue``, ``gap`` (projected - target revenue), ``status``
    (met / exceeded / too_close) and ``reason``. ``feasible`` is False when a month is too close
    to now for any new lead to close by then."""

    def __init__(self, raw: dict[str, Any]):
        self._raw = raw
        self.feasible = bool(raw["feasible"])
        self.first_lag = int(raw["first_lag"])
        n = len(raw["leads"])
        self._columns = {"month": np.arange(n)}
        for k in ("target_revenue", "target_wins", "from_history", "leads", "leads_whole", "projected_wins",
                  "projected_revenue", "gap"):
            self._columns[k] = np.asarray(raw[k])
        self._columns["status"] = np.array(raw["status"], dtype=object)
        self._columns["reason"] = np.array(raw["reason"], dtype=object)

    def explain(self) -> dict[str, Any]:
        return _explained(self._raw["explanation"])

    def __repr__(self) -> str:
        c = self._columns
        lines = [f"LeadPlan({len(self)} months, feasible={self.feasible}, first_lag={self.first_lag})"]
        for i in range(len(self)):
            lines.append(f"  month {i:>2}: leads {c['leads_whole'][i]:>10,.0f}  target {c['target_revenue'][i]:>14,.2f}"
                         f"  projected {c['projected_revenue'][i]:>14,.2f}  {c['status'][i]}")
        return "\n".join(lines)


class LagTable(_Table):
    """Result of :func:`estimate_lags`: ``to_pandas()`` gives the long table (segment, lag,
    share); ``summary()`` the per-segment leads, wins, beyond, win_rate, deal_value, reason;
    ``model(segment)`` a :class:`LagModel`."""

    def __init__(self, raw: list[dict[str, Any]], segment_name: str | None, labels: list[Any]):
        self._raw = raw
        self.segment_name = segment_name or "segment"
        self.segments = labels
        names = [OVERALL, *labels]
        seg, lag, share = [], [], []
        for d in raw:
            for k, s in enumerate(d["shares"]):
                seg.append(names[d["segment"] + 1])
                lag.append(k)
                share.append(s)
        self._columns = {self.segment_name: np.array(seg, dtype=object), "lag": np.array(lag, dtype=np.int64),
                         "share": np.array(share, dtype=float)}

    def summary(self) -> Any:
        import pandas as pd

        names = [OVERALL, *self.segments]
        return pd.DataFrame({
            self.segment_name: [names[d["segment"] + 1] for d in self._raw],
            "leads": [d["leads"] for d in self._raw],
            "wins": [d["wins"] for d in self._raw],
            "beyond": [d["beyond"] for d in self._raw],
            "win_rate": [np.nan if d["win_rate"] is None else d["win_rate"] for d in self._raw],
            "deal_value": [np.nan if d["deal_value"] is None else d["deal_value"] for d in self._raw],
            "reason": [d["reason"] for d in self._raw],
        })

    def _entry(self, segment: Any) -> dict[str, Any]:
        if segment is None:
            return self._raw[0]
        if segment not in self.segments:
            raise ValueError(f"segment {segment!r} is not in this table")
        return self._raw[self.segments.index(segment) + 1]

    def model(self, segment: Any = None, *, deal_value: float | None = None) -> LagModel:
        """The lag model of one segment (None: overall); ``deal_value`` defaults to the mean
        won amount."""
        d = self._entry(segment)
        if d["win_rate"] is None or not d["shares"]:
            raise ValueError(f"no lag model for segment {segment!r}: {d['reason']}")
        dv = deal_value if deal_value is not None else d["deal_value"]
        if dv is None:
            raise ValueError("option 'deal_value': no amounts in the data; pass deal_value=")
        return LagModel(float(d["win_rate"]), tuple(d["shares"]), float(dv))

    def explain(self, segment: Any = None) -> dict[str, Any]:
        return _explained(self._entry(segment)["explanation"])

    def __repr__(self) -> str:
        lines = [f"LagTable({len(self._raw)} rows by {self.segment_name!r})"]
        names = [OVERALL, *self.segments]
        for d in self._raw:
            sh = " ".join(f"{s:.2f}" for s in d["shares"][:8])
            wr = "undefined" if d["win_rate"] is None else f"{d['win_rate']:.3f}"
            lines.append(f"  {names[d['segment'] + 1]!s:<14} leads {d['leads']:>8,}  p {wr}  f {sh}")
        return "\n".join(lines)


def estimate_lags(
    data: Any,
    *,
    created: str,
    won: str,
    data_end: Any,
    segment: str | None = None,
    amount: str | None = None,
    period: str | int = "month",
    max_lag: int = 12,
) -> LagTable:
    """Lag distributions from data: per segment, the share f_k of the wins that closed k
    periods after the lead came in (k = floor((won - created) / period)), and the win rate p =
    wins / leads, over *mature* leads only (created at least max_lag + 1 periods before
    ``data_end``). ``won`` is missing for leads not won; ``period`` is ``"month"`` (2,629,746 s),
    ``"week"``, ``"day"`` or seconds."""
    cr = _times(_frames.column(data, created), created, optional=False)
    wn = _times(_frames.column(data, won), won, optional=True)
    seg, labels = _codes(data, segment, segment or "segment")
    am = _frames.amounts(_frames.column(data, amount), amount) if amount else None
    per = int(_UNITS[period]) if isinstance(period, str) and period in _UNITS else _duration(period, "period")
    raw = _core.estimate_lags(cr, wn, seg, am, per, int(max_lag), _seconds(data_end, "data_end"))
    return LagTable(list(raw), segment, labels)


# -- SLA ---------------------------------------------------------------------------------------
_STATUS = np.array(["met", "breached", "pending", "not_started"], dtype=object)


class ResponseSLA(_Table):
    """Result of :func:`sla_response`. ``to_pandas()``: compliance per group (``by`` = all /
    rep / team / segment, ``group`` label, met, breached, pending, not_started,
    breached_untouched, compliance = met / (met + breached), mean_over and max_over in
    ``display_unit``). ``breaches()``: one row per breach with how far over. ``status``: the
    status of every input row."""

    def __init__(self, raw: dict[str, Any], labels: dict[str, list[Any]], display: str):
        self._raw = raw
        self.display_unit = display
        self.status = _STATUS[np.asarray(raw["status"], dtype=np.int64)]
        g = raw["groups"]
        by = list(g["by"])
        codes = np.asarray(g["code"])
        group = [OVERALL if b == "all" else labels[b][c] for b, c in zip(by, codes)]
        self._columns = {"by": np.array(by, dtype=object), "group": np.array(group, dtype=object)}
        for k in ("met", "breached", "pending", "not_started", "breached_untouched", "compliance", "mean_over", "max_over"):
            self._columns[k] = np.asarray(g[k])
        self._labels = labels

    @property
    def compliance(self) -> float:
        """Overall met / (met + breached); NaN when nothing is decided yet."""
        return float(self._columns["compliance"][0])

    def breaches(self) -> Any:
        """A pandas DataFrame of the breaches: row, rep, team, segment (labels), created,
        deadline, over (display units), touched."""
        import pandas as pd

        b = self._raw["breaches"]
        out = pd.DataFrame({"row": b["row"], "created": _to_datetime(b["created"]), "deadline": _to_datetime(b["deadline"]),
                            f"over_{self.display_unit}s": b["over_display"], "touched": np.asarray(b["touched"]).astype(bool)})
        for col in ("rep", "team", "segment"):
            if self._labels.get(col):
                out[col] = np.array(self._labels[col], dtype=object)[np.asarray(b[col])]
        return out

    def explain(self) -> dict[str, Any]:
        return _explained(self._raw["explanation"])

    def __repr__(self) -> str:
        c = self._columns
        comp = c["compliance"][0]
        ctxt = f"{comp:.1%}" if np.isfinite(comp) else "undefined"
        return (f"ResponseSLA(compliance {ctxt}: met {c['met'][0]:,}, breached {c['breached'][0]:,} "
                f"({c['breached_untouched'][0]:,} untouched), pending {c['pending'][0]:,}; "
                f"max over {c['max_over'][0]:,.1f} {self.display_unit}s)")


def sla_response(
    data: Any,
    *,
    created: str,
    limit: Any,
    as_of: Any,
    first_touch: str | None = None,
    touches: int = 1,
    touch_data: Any = None,
    touch_item: str = "item",
    touch_time: str = "time",
    rep: str | None = None,
    team: str | None = None,
    segment: str | None = None,
    name: str = "response time",
    team_name: str = "sales",
    display_unit: str = "hour",
) -> ResponseSLA:
    """Compliance with a response SLA ("follow up every MQL within 24 hours"; with
    ``touches=3``, "3 touches within the limit") as of ``as_of``.

    Each row of ``data`` is an item whose clock starts at ``created``; its deadline is created +
    ``limit`` (seconds, a timedelta or a string like ``"24h"``), inclusive. Met: the touches-th
    touch at or before the deadline. Breached: later, or still missing after the deadline.
    Pending: still missing, deadline not passed (not a breach). Touches come from the
    ``first_touch`` column (one touch) or from ``touch_data`` (columns ``touch_item`` = row
    number in ``data`` and ``touch_time``). Touches after ``as_of`` are ignored; rows created
    after it are ``not_started``."""
    cr = _times(_frames.column(data, created), created, optional=False)
    ft = _times(_frames.column(data, first_touch), first_touch, optional=True) if first_touch else None
    labels: dict[str, list[Any]] = {}
    cols = {}
    for key, col in (("rep", rep), ("team", team), ("segment", segment)):
        codes, labs = _codes(data, col, col or key)
        cols[key] = codes
        labels[key] = labs
    ti = tt = None
    if touch_data is not None:
        ti = _frames.entity_codes(_frames.column(touch_data, touch_item), touch_item)
        tt = _times(_frames.column(touch_data, touch_time), touch_time, optional=False)
    du, dname = _unit_seconds(display_unit)
    raw = _core.evaluate_response(name, team_name, _duration(limit, "limit"), int(touches), dname, du, cr, ft,
                                  cols["rep"], cols["team"], cols["segment"], _seconds(as_of, "as_of"), ti, tt)
    return ResponseSLA(raw, labels, dname)


class VolumeSLA(_Table):
    """Result of :func:`sla_volume`: per period, the team total (rep ``"(all)"``) then each
    rep: committed, delivered, elapsed (share of the period), expected_to_date, pacing
    (delivered / expected), forecast (delivered / elapsed), shortfall, on_track and status
    (met / breached for finished periods, pending while running, not_started)."""

    def __init__(self, raw: dict[str, Any], rep_labels: list[Any], rep_name: str):
        self._raw = raw
        reps = np.array([OVERALL, *rep_labels], dtype=object)
        self._columns = {"period_start": _to_datetime(raw["start"]), "period_end": _to_datetime(raw["end"]),
                         rep_name: reps[np.asarray(raw["rep"]) + 1]}
        for k in ("committed", "delivered", "elapsed", "expected_to_date", "pacing", "forecast", "shortfall"):
            self._columns[k] = np.asarray(raw[k])
        self._columns["on_track"] = np.asarray(raw["on_track"]).astype(bool)
        self._columns["status"] = np.array(raw["status"], dtype=object)

    def breaches(self) -> Any:
        """Rows of finished periods short of the commitment."""
        df = self.to_pandas()
        return df[df["status"] == "breached"].reset_index(drop=True)

    def explain(self) -> dict[str, Any]:
        return _explained(self._raw["explanation"])

    def __repr__(self) -> str:
        s = self._columns["status"]
        return (f"VolumeSLA({len(self)} rows: {int((s == 'met').sum())} met, {int((s == 'breached').sum())} breached, "
                f"{int((s == 'pending').sum())} running, {int((~self._columns['on_track']).sum())} off track)")


def sla_volume(
    data: Any,
    *,
    time: str,
    rep: str,
    target: float,
    periods: Any,
    as_of: Any,
    reps: Sequence[Any] | None = None,
    name: str = "volume",
    team_name: str = "marketing",
) -> VolumeSLA:
    """A volume SLA ("100 leads per rep per month", "20 contacts per rep per week"): each row
    of ``data`` is one delivered event at ``time`` for ``rep``. ``target`` is per rep per
    period; ``periods`` as in :func:`velocity`; ``reps`` lists every rep the commitment covers
    (default: the reps present), so reps with nothing delivered appear too. Events at or after
    ``as_of`` are not counted."""
    tm = _times(_frames.column(data, time), time, optional=False)
    codes, labels = _frames.category_codes(_frames.column(data, rep), rep, categories=reps)
    if isinstance(periods, str):
        if len(tm) == 0:
            raise ValueError("option 'periods': no events to derive periods from; pass edges")
        starts, ends = _period_edges(periods, int(tm.min()), int(tm.max()))
    else:
        starts, ends = _period_edges(periods, 0, 0)
    n_reps = len(labels)
    if n_reps == 0:
        raise ValueError("option 'reps': no reps to evaluate")
    raw = _core.evaluate_volume(name, team_name, float(target), tm, codes, starts, ends, _seconds(as_of, "as_of"), n_reps)
    return VolumeSLA(raw, list(labels), rep)


# -- demo ----------------------------------------------------------------------------------------
def revenue_report(leads: int = 20_000, *, seed: int = 42, goal: float = 1_000_000.0) -> str:
    """Text report on the sample CRM data: sales velocity by source over the year, the reverse
    funnel for a stated monthly revenue goal with the sample's measured stage rates, and the
    status of two SLAs (MQL follow-up within 24 hours; 100 leads per rep per month)."""
    from .conversion import conversion
    from .sample import sample_crm

    crm = sample_crm(leads, seed=seed)
    start = crm["time"].min().normalize()
    end = start + np.timedelta64(365, "D")
    opps = opportunities_from_stages(crm)
    vel = velocity(opps, periods=[start, end], segment="source").to_pandas()
    lines = [f"Sales velocity by source, {str(start)[:10]} .. {str(end)[:10]} (revenue per day, N created in period)"]
    for _, r in vel.iterrows():
        v = f"{r['velocity']:>12,.0f}" if np.isfinite(r["velocity"]) else f"{'undefined':>12} ({r['reason']})"
        lines.append(f"  {r['source']:<12} N {r['n']:>6,}  D {r['deal_value']:>9,.0f}  W {r['win_rate']:>6.1%}"
                     f"  L {r['cycle_length']:>6.1f} d  V {v}")
    table = conversion(crm)
    steps = steps_from_conversion(table)
    deal = float(vel["deal_value"].iloc[0])
    reps = int(crm["rep"].nunique())
    plan = plan_reverse_funnel(goal=goal, deal_value=deal, steps=steps, reps=reps, goal_per_period=True,
                               won_name="Customer")
    lines.append("")
    lines.append(f"Plan for {goal:,.0f} a month at {deal:,.0f} per deal with the measured stage rates, {reps} reps")
    for _, r in plan.to_pandas().iterrows():
        lines.append(f"  {r['stage']:<12} {r['volume']:>10,.0f} a month  {r['per_rep_per_period']:>8,.0f} per rep")
    mql = crm[crm["stage"] == "MQL"]
    nxt = crm.groupby("entity")["time"].shift(-1).loc[mql.index]
    items = {"created": mql["time"].to_numpy(), "first_touch": nxt.to_numpy(),
                        "rep": mql["rep"].astype(str).to_numpy()}
    sla = sla_response(items, created="created", first_touch="first_touch", limit="24h", as_of=end, rep="rep",
                       name="MQL follow-up within 24 hours")
    lines.append("")
    lines.append(f"SLA {sla!r}")
    leads_rows = crm[crm["stage"] == "Lead"].drop_duplicates("entity")
    vol = sla_volume({"time": leads_rows["time"].to_numpy(), "rep": leads_rows["rep"].astype(str).to_numpy()},
                     time="time", rep="rep", target=100, periods="M", as_of=end, name="100 leads per rep per month")
    lines.append(f"SLA 100 leads per rep per month: {vol!r}")
    return "\n".join(lines)
