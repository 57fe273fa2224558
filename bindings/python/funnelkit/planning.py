"""Planning: the reverse funnel from a revenue goal to the volume each stage needs, rep
capacity, goal splits, and the time lags between a lead and its win (estimated from data,
projected forwards, planned backwards).

Reverse funnel: deals = G / A; the volume stage k needs = deals / the product of the rates
from k to won; per period and per rep per period by division. Every volume is rounded up to
whole entities once per stage by :func:`ceil_whole`, which is not fooled by floating point:
0.5 * 0.6 * 0.5 * (1/3) is 0.049999999999999996 in binary, and the $40,000 / $800 plan asks
for 1,000 leads, not 1,001.

Lags: wins(m) = p * sum_k leads(m - k) * f_k, with f_k the share of eventual wins that close k
lag units (months by default) after the lead came in. Lag units are fixed durations (a month
is the mean Gregorian month, 2,629,746 seconds) in the time column's unit.

The numbers come from the compiled core; ``explain()`` shows its formula, inputs and options.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from . import _core, _frames, _names
from ._result import Explanation, Scalar, Table
from .velocity import (MISSING, OVERALL, _core_explanation, _labels_of, _plain_table, _time_value, _unit,
                       _warn_renamed)

if TYPE_CHECKING:
    from .conversion import ConversionTable

__all__ = [
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
]


def _warn_renamed_value(option: str, old: str, new: str, where: str) -> None:
    import warnings

    warnings.warn(f"{where}: {option}={old!r} is deprecated; use {option}={new!r}", DeprecationWarning, stacklevel=3)


def ceil_whole(x: float, *, tolerance: float = 1e-9) -> float:
    """``x`` rounded up to a whole number, except that a value within
    ``tolerance * max(1, |x|)`` of an integer is that integer (so 50 / (0.5*0.6*0.5*(1/3)) =
    1000.0000000000001 gives 1000, not 1001). Raises ValueError on NaN or infinity."""
    return float(_core.ceil_whole(float(x), float(tolerance)))


# -- the reverse funnel ----------------------------------------------------------------------------
class FunnelPlan(Table):
    """Result of :func:`plan_reverse_funnel`: one row per stage, top of the funnel first and the
    won stage last.

    Columns: ``stage``; ``rate`` (conversion to the next stage; null for the won stage);
    ``rate_to_won`` (product of the rates to the won stage); ``exact`` (unrounded volume);
    ``volume`` (whole entities over the plan's periods); ``per_period`` and
    ``per_rep_per_period`` (whole entities, rounded up from ``volume``). ``total_goal`` is
    the revenue goal over all periods (currency).
    """

    definition = ("The reverse funnel: deals = goal / deal value; the volume stage k needs = deals / the product "
                  "of the conversion rates from k to won, rounded up to whole entities (a value within a relative "
                  "1e-9 of an integer is that integer, so floating point cannot ask for one entity too many); per "
                  "period and per rep per period by division, rounded up again. rounding='deals_first' rounds the "
                  "deals up before the stages, 'chained' rounds each stage from the rounded stage below, "
                  "'round_once' rounds every figure once per stage from the unrounded goal.")

    def __init__(self, raw: Mapping[str, Any], *, options: Mapping[str, Any], inputs: Mapping[str, Any]):
        stages = [str(s) for s in raw["stage"]]
        cols = {"stage": stages, **{k: np.asarray(raw[k]) for k in ("rate", "rate_to_won", "exact", "volume",
                                                                     "per_period", "per_rep_per_period")}}
        super().__init__(cols, options=options, inputs=inputs, categories={"stage": stages})
        self._core = raw["explanation"]
        #: The revenue goal over all periods (currency).
        self.total_goal = float(raw["total_goal"])
        #: Stage names, top of the funnel first, the won stage last.
        self.stages = stages

    def volume(self, stage: str) -> float:
        """Whole volume the plan needs at ``stage`` (over all periods)."""
        if stage not in self.stages:
            raise ValueError(_names.unknown("stage", stage, self.stages))
        return float(self._table()["volume"][self.stages.index(stage)])

    def explain(self) -> Explanation:
        """The definition, the core's inputs (goal, deal value, rates, volumes) and options."""
        return _core_explanation(self._core, "FunnelPlan", definition=self.definition, inputs=self._inputs,
                                 options=self._options)

    def __repr__(self) -> str:
        c = self._table()
        lines = [f"FunnelPlan(goal {self.total_goal:,.2f})"]
        width = max(len(s) for s in self.stages)
        for i, s in enumerate(self.stages):
            lines.append(f"  {s:<{width}}  {c['volume'][i]:>12,.0f}  per period {c['per_period'][i]:>10,.0f}"
                         f"  per rep {c['per_rep_per_period'][i]:>8,.0f}")
        return "\n".join(lines)


def _steps(steps: Any, won_name: str) -> list[tuple[str, float]]:
    if isinstance(steps, str):
        raise TypeError("option 'steps': expected a mapping or (stage, rate) pairs, got one string")
    items = list(steps.items()) if isinstance(steps, Mapping) else [tuple(s) for s in steps]
    out: list[tuple[str, float]] = []
    for i, item in enumerate(items):
        if len(item) != 2:
            raise ValueError(f"option 'steps': item {i} is not a (stage, rate) pair: {item!r}")
        name, rate = str(item[0]), item[1]
        if isinstance(rate, bool) or not isinstance(rate, (int, float, np.integer, np.floating)):
            raise TypeError(f"option 'steps': the rate of stage {name!r} must be a number, got {rate!r}")
        out.append((name, float(rate)))
    names = [n for n, _ in out]
    for n in names:
        if names.count(n) > 1:
            raise ValueError(f"option 'steps': stage names must be distinct ({n!r} is repeated)")
    if won_name in names:
        raise ValueError(f"option 'won_name': {won_name!r} is also a step; the won stage comes after the last step")
    return out


def plan_reverse_funnel(
    *,
    goal: float,
    deal_value: float,
    steps: Mapping[str, float] | Sequence[tuple[str, float]],
    won_name: str = "Customer",
    periods: int = 1,
    reps: int = 1,
    goal_per_period: bool = False,
    rounding: str = "deals_first",
    tolerance: float = 1e-9,
) -> FunnelPlan:
    """The reverse funnel from a revenue goal to the whole volume each stage needs.

    Parameters
    ----------
    goal:
        Revenue goal (currency) over ``periods`` periods, or per period with
        ``goal_per_period=True``.
    deal_value:
        Average revenue per won deal (currency), > 0.
    steps:
        Each stage, top of the funnel first, with its conversion rate to the next stage (the
        last one's next stage is ``won_name``), in (0, 1]: a mapping or (stage, rate) pairs.
    periods, reps:
        Periods the goal covers (e.g. 12 months) and reps sharing the volume.
    rounding:
        ``"deals_first"`` (default: the deals are rounded up first, each stage from that whole
        number of deals), ``"chained"`` (each stage from the rounded volume of the stage below)
        or ``"round_once"`` (every figure from the unrounded goal, rounded up once: $35,000 at
        $800 with a 5% lead-to-deal rate needs 875 leads, where rounding the 43.75 deals up
        first asks for 880). ``"from_goal"`` is the deprecated name of ``"deals_first"``.
    tolerance:
        Relative tolerance of :func:`ceil_whole`.

    The $40,000 goal at $800 per customer with rates 0.5, 0.6, 0.5 and 1/3 needs 50 customers,
    150 demos, 300 discovery calls, 500 connects and 1,000 leads (100 per rep for 10 reps).
    """
    if rounding == "from_goal":
        _warn_renamed_value("rounding", "from_goal", "deals_first", "plan_reverse_funnel()")
        rounding = "deals_first"
    rounding = _names.choice(rounding, ("deals_first", "chained", "round_once"), "rounding")
    pairs = _steps(steps, str(won_name))
    opts = _core.ReverseFunnelOptions(goal=float(goal), deal_value=float(deal_value), steps=pairs,
                                      basis="per_period" if goal_per_period else "total", won_name=str(won_name),
                                      periods=int(periods), reps=int(reps), rounding=rounding,
                                      tolerance=float(tolerance))
    raw = _core.plan_reverse_funnel(opts)
    options = {"goal_per_period": bool(goal_per_period), "periods": int(periods), "reps": int(reps),
               "rounding": rounding, "tolerance": float(tolerance), "won_name": str(won_name)}
    inputs = {"goal": float(goal), "deal_value": float(deal_value), "steps": [[n, r] for n, r in pairs]}
    return FunnelPlan(raw, options=options, inputs=inputs)


def steps_from_conversion(table: ConversionTable, *, segment: Any = None) -> list[tuple[str, float]]:
    """Measured steps for :func:`plan_reverse_funnel` from a :class:`funnelkit.ConversionTable`:
    every ladder stage but the won one, with its step rate to the next stage, overall or for
    one ``segment`` (a label of the table's segment column, checked)."""
    if segment is not None:
        labels = list(getattr(table, "segments", []) or [])
        if segment not in labels:
            raise ValueError(_names.unknown("segment", segment, labels, where="option 'segment'"))
    stages = list(table.stages)
    out = []
    for k in range(len(stages) - 1):
        r = table.step_rate(k + 1, segment)
        if r is None:
            raise ValueError(f"stage {stages[k]!r} has no entities: its rate to the next stage is undefined")
        out.append((stages[k], float(r)))
    return out


@dataclass(frozen=True)
class CapacityResult(Scalar):
    """Result of :func:`reps_needed`: ``volume_per_month``, the ``capacity`` per rep as given
    and ``per`` its period, ``capacity_per_month``, ``exact_reps`` (unrounded) and ``reps``
    (whole reps)."""

    definition = ("Reps needed = volume per month / capacity per rep per month, rounded up to whole reps (a value "
                  "within a relative 1e-9 of an integer is that integer); a weekly capacity is capacity * 52 / 12 "
                  "a month.")

    volume_per_month: float
    capacity: float
    per: str
    capacity_per_month: float
    exact_reps: float
    reps: int
    _explanation: str = field(default="", repr=False, compare=False)

    def explain(self) -> Explanation:
        """The definition and the core's inputs and options."""
        return _core_explanation(self._explanation, "CapacityResult", definition=self.definition)


def reps_needed(volume_per_month: float, *, capacity: float, per: str = "month", tolerance: float = 1e-9) -> CapacityResult:
    """Reps needed = ceil(volume per month / capacity per rep per month), where a weekly
    capacity (``per="week"``) is capacity * 52 / 12 a month (20 prospects a week = 86.67 a
    month)."""
    per = _names.choice(per, ("week", "month"), "per")
    r = _core.reps_needed(float(volume_per_month), capacity=float(capacity), per=per, tolerance=float(tolerance))
    return CapacityResult(float(r["volume_per_month"]), float(r["capacity"]), per, float(r["capacity_per_month"]),
                          float(r["exact_reps"]), int(r["reps"]), r["explanation"].json())


def split_goal(goal: float, shares: Mapping[str, float]) -> Table:
    """Splits a goal between teams or sources by shares in [0, 1] that sum to 1: a table of
    ``name``, ``share`` and ``goal`` (goal * share, currency). ``dict(zip(t["name"],
    t["goal"]))`` gives the old mapping."""
    if not isinstance(shares, Mapping):
        raise TypeError(f"option 'shares': expected a mapping of name to share, got {type(shares).__name__}")
    pairs = [(str(k), float(v)) for k, v in shares.items()]
    r = _core.split_goal(float(goal), pairs)
    return Table({"name": list(r["name"]), "share": np.asarray(r["share"]), "goal": np.asarray(r["goal"])},
                 name="GoalSplit", definition="Each team's or source's goal = the total goal * its share; the shares "
                                              "are in [0, 1] and sum to 1.",
                 inputs={"goal": float(goal)}, options={"shares": dict(pairs)})


# -- time lags --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LagModel:
    """The lag model: wins(m) = win_rate * sum_k leads(m - k) * shares[k]; revenue(m) =
    wins(m) * deal_value. ``shares[k]`` is the share of eventual wins that close k lag units
    (months) after the lead came in; the shares sum to 1."""

    win_rate: float
    shares: tuple[float, ...]
    deal_value: float = 1.0

    def _core_model(self) -> _core.LagModel:
        return _core.LagModel(win_rate=float(self.win_rate), shares=[float(s) for s in self.shares],
                              deal_value=float(self.deal_value))

    def project(self, leads: Sequence[float], *, history: Sequence[float] = ()) -> Table:
        """Wins and revenue per month from a lead plan for months 0, 1, ..., with the leads of
        earlier months in ``history`` (oldest first). Columns: ``month``, ``leads``, ``wins``,
        ``revenue`` (currency) and ``from_history`` (wins from the leads before month 0)."""
        plan = [float(x) for x in leads]
        r = _core.project_forward(self._core_model(), plan, history=[float(x) for x in history])
        return Table({"month": np.arange(len(plan), dtype=np.int64), "leads": np.asarray(plan),
                      "wins": np.asarray(r["wins"]), "revenue": np.asarray(r["revenue"]),
                      "from_history": np.asarray(r["from_history"])},
                     name="LagProjection",
                     definition=_core_explanation(r["explanation"], "LagProjection").definition,
                     inputs={"leads": plan, "history": [float(x) for x in history]},
                     options={"win_rate": self.win_rate, "shares": list(self.shares), "deal_value": self.deal_value})

    def plan(self, revenue_targets: Sequence[float], *, history: Sequence[float] = ()) -> LeadPlan:
        """Lead targets per month (month 0 = now) for revenue targets per month (currency),
        with the leads of earlier months in ``history``; see :class:`LeadPlan`."""
        targets = [float(x) for x in revenue_targets]
        r = _core.plan_leads(self._core_model(), targets, history=[float(x) for x in history])
        return LeadPlan(r, inputs={"revenue_targets": targets, "history": [float(x) for x in history]},
                        options={"win_rate": self.win_rate, "shares": list(self.shares),
                                 "deal_value": self.deal_value})


class LeadPlan(Table):
    """Monthly lead targets solved backwards from revenue targets.

    Columns: ``month`` (0 = now), ``target_revenue``, ``target_wins``, ``from_history`` (wins
    from the leads before month 0), ``leads`` (exact), ``leads_whole`` (rounded up),
    ``projected_wins``, ``projected_revenue``, ``gap`` (projected - target revenue),
    ``status`` (``met``, ``exceeded``, ``too_close``) and ``reason``. ``feasible`` is False
    when a month is too close to now for any new lead to close by then; ``first_lag`` is the
    smallest lag with a positive share.
    """

    definition = ("Lead targets per month solved backwards from revenue targets through the lag model wins(m) = p * "
                  "sum_k leads(m - k) * f_k: the lower-triangular system with no negative lead count; months closer "
                  "than the first positive lag cannot be reached by new leads (too_close).")

    def __init__(self, raw: Mapping[str, Any], *, inputs: Mapping[str, Any], options: Mapping[str, Any]):
        n = len(raw["leads"])
        cols: dict[str, Any] = {"month": np.arange(n, dtype=np.int64)}
        for k in ("target_revenue", "target_wins", "from_history", "leads", "leads_whole", "projected_wins",
                  "projected_revenue", "gap"):
            cols[k] = np.asarray(raw[k])
        cols["status"] = np.array(raw["status"], dtype=object)
        cols["reason"] = np.array(raw["reason"], dtype=object)
        super().__init__(cols, inputs=inputs, options=options)
        self._core = raw["explanation"]
        #: True when every month's target is met or exceeded.
        self.feasible = bool(raw["feasible"])
        #: Smallest lag with a positive share: leads of month j first close in month j + first_lag.
        self.first_lag = int(raw["first_lag"])

    def explain(self) -> Explanation:
        """The definition, the core's formula, inputs and options."""
        return _core_explanation(self._core, "LeadPlan", definition=self.definition, inputs=self._inputs,
                                 options=self._options)

    def __repr__(self) -> str:
        c = self._table()
        lines = [f"LeadPlan({len(self)} months, feasible={self.feasible}, first_lag={self.first_lag})"]
        for i in range(len(self)):
            lines.append(f"  month {i:>2}: leads {c['leads_whole'][i]:>10,.0f}  target {c['target_revenue'][i]:>14,.2f}"
                         f"  projected {c['projected_revenue'][i]:>14,.2f}  {c['status'][i]}")
        return "\n".join(lines)


class LagTable(Table):
    """Result of :func:`estimate_lags`: the long table of lag shares, one row per segment and
    lag: the segment column (``"(all)"`` for every lead), ``lag`` (in lag units) and ``share``
    (of the wins within ``max_lag`` that closed at that lag).

    ``summary()`` gives per segment the mature leads, wins, wins beyond ``max_lag``, win rate
    and deal value; ``model(segment)`` the :class:`LagModel` of one segment.
    """

    definition = ("Lag k of a win = floor((won - created) / lag unit); per segment, share f_k = wins at lag k / wins "
                  "within max_lag lags, and win rate p = those wins / leads, over mature leads only (created at "
                  "least max_lag + 1 lag units before the end of the data), so that every lag could be observed.")

    def __init__(self, raw: list[Mapping[str, Any]], segment_name: str | None, labels: list[Any], *,
                 inputs: Mapping[str, Any], options: Mapping[str, Any]):
        self._raw = raw
        #: Name of the segment column ("segment" without ``segment=``) and its labels.
        self.segment_name = segment_name or "segment"
        self.segments = list(labels)
        names = [OVERALL, *labels]
        seg: list[Any] = []
        lag: list[int] = []
        share: list[float] = []
        for d in raw:
            for k, s in enumerate(d["shares"]):
                seg.append(names[d["segment"] + 1])
                lag.append(k)
                share.append(s)
        super().__init__({self.segment_name: np.array(seg, dtype=object), "lag": np.array(lag, dtype=np.int64),
                          "share": np.array(share, dtype=np.float64)}, inputs=inputs, options=options)

    def summary(self) -> Table:
        """Per segment: ``leads`` (mature), ``wins`` (within ``max_lag``), ``beyond`` (wins
        later than that), ``win_rate`` (wins / leads), ``deal_value`` (mean won amount) and
        ``reason`` (why a value is undefined)."""
        names = [OVERALL, *self.segments]
        return Table({self.segment_name: [names[d["segment"] + 1] for d in self._raw],
                      "leads": np.array([d["leads"] for d in self._raw], dtype=np.int64),
                      "wins": np.array([d["wins"] for d in self._raw], dtype=np.int64),
                      "beyond": np.array([d["beyond"] for d in self._raw], dtype=np.int64),
                      "win_rate": np.array([d["win_rate"] for d in self._raw], dtype=np.float64),
                      "deal_value": np.array([d["deal_value"] for d in self._raw], dtype=np.float64),
                      "reason": [d["reason"] for d in self._raw]},
                     name="LagSummary", definition=self.definition, inputs=self._inputs, options=self._options)

    def _entry(self, segment: Any) -> Mapping[str, Any]:
        if segment is None or segment == OVERALL:
            return self._raw[0]
        if segment not in self.segments:
            raise ValueError(_names.unknown("segment", segment, self.segments, where=f"column '{self.segment_name}'"))
        return self._raw[self.segments.index(segment) + 1]

    def model(self, segment: Any = None, *, deal_value: float | None = None) -> LagModel:
        """The lag model of one segment (None: every lead); ``deal_value`` (currency) defaults
        to the segment's mean won amount."""
        d = self._entry(segment)
        if not np.isfinite(d["win_rate"]) or not d["shares"]:
            raise ValueError(f"no lag model for segment {segment!r}: {d['reason']}")
        dv = deal_value if deal_value is not None else d["deal_value"]
        if dv is None or not np.isfinite(dv):
            raise ValueError("option 'deal_value': the data has no won amounts; pass deal_value=")
        return LagModel(float(d["win_rate"]), tuple(float(s) for s in d["shares"]), float(dv))

    def explain(self, segment: Any = None) -> Explanation:
        """The definition with the core's inputs for one segment (None: every lead)."""
        label = OVERALL if segment is None else segment
        return _core_explanation(self._entry(segment)["explanation"], "LagTable", definition=self.definition,
                                 inputs=self._inputs, options=self._options, relabel={"segment": label})

    def __repr__(self) -> str:
        lines = [f"LagTable({len(self._raw)} segments by {self.segment_name!r}, {len(self)} rows)"]
        names = [OVERALL, *self.segments]
        for d in self._raw:
            sh = " ".join(f"{s:.2f}" for s in d["shares"][:8])
            wr = "undefined" if not np.isfinite(d["win_rate"]) else f"{d['win_rate']:.3f}"
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
    unit: Any = "month",
    max_lag: int = 12,
    time_unit: str | None = None,
    period: Any = None,
) -> LagTable:
    """Lag distributions from data: per segment, the share f_k of the wins that closed k lag
    units after the lead came in (k = floor((won - created) / unit)), and the win rate p =
    wins / leads, over *mature* leads only (created at least ``max_lag + 1`` units before
    ``data_end``).

    Parameters
    ----------
    created, won:
        Columns of the lead's arrival and of its win (missing for leads not won, or not yet).
    data_end:
        Exclusive end of the data: a datetime or ISO string (ticks for integer time columns).
    segment, amount:
        Optional columns: the grouping (e.g. source) and the won amount (for the deal value).
    unit:
        Length of one lag step: ``"month"`` (default; the mean Gregorian month of 2,629,746
        seconds), ``"week"``, ``"day"``, or a duration such as ``"30d"``.
    max_lag:
        Largest lag (in units) the distribution holds; later wins are counted as ``beyond``.
    time_unit:
        What integer times count (``"s"`` default, ``"ms"``, ``"us"``, ``"ns"``).
    period:
        Deprecated name of ``unit``.
    """
    if period is not None:
        _warn_renamed("period", "unit", "estimate_lags()")
        unit = period
    if isinstance(max_lag, bool) or not isinstance(max_lag, (int, np.integer)) or max_lag < 0:
        raise ValueError(f"option 'max_lag': value {max_lag!r} must be an integer >= 0")
    data = _plain_table(data)
    cr, axis = _frames.time_axis(_frames.column(data, created, "created"), created, time_unit)
    wn = _frames.times_on_axis(_frames.column(data, won, "won"), axis, won, missing=MISSING)
    seg, labels = _labels_of(data, segment, "segment")
    am = _frames.amounts(_frames.column(data, amount, "amount"), amount) if amount else None
    unit_ticks, unit_name = _unit(unit, axis)
    end = axis.timestamp(data_end, "data_end")
    opts = _core.LagOptions(period=int(unit_ticks), max_lag=int(max_lag), data_end=int(end))
    raw = list(_core.estimate_lags(cr, wn, options=opts, segment=seg, amount=am))
    options = {"unit": unit_name, "unit_ticks": int(unit_ticks), "max_lag": int(max_lag),
               "data_end": _time_value(axis.datetimes(np.array([end]))[0]), "time_unit": axis.unit,
               "time_is_datetime": axis.is_datetime}
    inputs = {"leads": int(len(cr)), "segments": len(labels),
              "columns": {"created": created, "won": won, "segment": segment, "amount": amount}}
    return LagTable(raw, segment, labels, inputs=inputs, options=options)
