"""Pipeline forecast: a transition model estimated from stage histories, the open pipeline run
forward through it, and a backtest that compares such forecasts with what happened.

The chain moves in steps (a day by default) on a grid anchored at the forecast origin: at each
snapshot an entity is in the stage of its last event so far. Terminal stages (won, lost,
disqualified) are absorbing; the others are transient, and moves between them in any direction
(recycling) are allowed.

- ``method="markov"``: the chance of moving from stage s to d in a step does not depend on how
  long the entity has been in s; it is the number of such moves divided by the entity-steps
  spent in s (up to the origin).
- ``method="semi_markov"`` (default): the chance depends on the time already spent in the
  stage. The hazards come from the Aalen-Johansen estimate of each stage's runs (destinations as
  competing outcomes, runs still open at the origin censored); runs older than ``max_age``
  share one pooled hazard. Deals that sit too long rarely close, and this model knows it.
- ``memory="visited"`` (default): the state also holds the set of stages the entity was in before
  its current stay, so recycled leads and deals that skipped the early stages are states of
  their own (``memory="none"``: stage and time in it only).

From the model: each open entity's probability of being won (absorbing chain, N = (I - Q)^-1,
B = N R) and expected time to close; its chance of being won in each period of the horizon; the
expected wins and revenue per period with intervals from a seeded simulation; and beside it the
naive weighted pipeline (stage probability x amount, no timing). Only the pipeline open at the
origin is forecast, not entities that arrive later. The numbers come from the compiled core.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from . import _core, _frames, _names
from ._result import Explanation, Scalar, Table
from ._time import TimeAxis
from .velocity import _core_explanation, _labels_of, _plain_table

if TYPE_CHECKING:
    from .model import StageModel

__all__ = ["forecast_pipeline", "backtest_forecast", "ForecastOptions", "PipelineForecast", "ForecastBacktest",
           "WeightedPipeline"]

_METHODS = ("markov", "semi_markov")
_MEMORY = ("none", "visited")
_BACKTEST_METHODS = ("markov", "semi_markov", "weighted_pipeline")


@dataclass(frozen=True)
class ForecastOptions:
    """The options :func:`forecast_pipeline` and :func:`backtest_forecast` share, in one place.

    Both functions take them as keywords (``fk.forecast_pipeline(crm, step="7d")``) or as one
    object (``options=fk.ForecastOptions(step="7d")``, keywords overriding its fields).

    - ``model``: the :class:`funnelkit.StageModel` (default: the B2B model); terminal stages
      are absorbing.
    - ``entity``, ``time``, ``stage``, ``segment``, ``amount``: column names. ``amount`` holds
      deal values: an entity's amount is its latest known one at the origin (0 is an amount;
      NaN means none, and the mean won amount of the training data is used); ``segment`` labels
      the entities (and, with ``by_segment``, one model each; a segment's (stage, age) cells
      without any history use the pooled hazards).
    - ``no_amount``: a value of the amount column that means "no amount" like NaN
      (``no_amount=0`` for :func:`funnelkit.sample_crm`, which writes 0 on rows without a deal).
    - ``step``, ``period_length``, ``periods``: the chain's step (``"1d"``) and the horizon,
      ``periods`` periods of ``period_length`` (a whole number of steps; by default 30 days
      rounded to whole steps, e.g. 28 days for ``step="1w"``).
    - ``as_of``: the end of the observation (default the latest record).
    - ``max_age``: semi-Markov ages (time in stage) with hazards of their own; older ones are
      pooled (a whole number of steps; by default 90 days rounded to whole steps).
    - ``simulations``, ``confidence``, ``seed``: the seeded simulation of the intervals (0: none;
      default None: 2000 for a forecast, 1000 per origin for a backtest) and their level.
    - ``bootstrap_hazards``: True (default): the intervals carry the uncertainty of the estimated
      model; the hazards are re-estimated on ``bootstrap_models`` (200) bootstrap resamples of
      the training entities (in ascending entity order, so row order never matters) and
      simulation r draws the outcomes from resample r mod ``bootstrap_models``. False: outcome
      randomness only (too narrow).
    - ``resample_amounts``: True (default): an entity without an amount of its own that wins in
      a simulation takes the amount of a random training win, so the revenue intervals carry
      the spread of deal sizes; False: always the mean won amount.
    - ``by_segment``: one transition model per segment (needs ``segment``).
    - ``memory``: what the chain's state remembers of an entity's path besides its stage and the
      time in it: ``"visited"`` (default), the set of stages it was in before the current stay (a fresh lead and a lead handed back by sales are different states, and so
      are deals that skipped the early stages), or ``"none"``. A (state, age) cell without
      training history takes its stage's hazards pooled over every path. Histories with more
      than 256 (stage, visited set) states are refused with ``"visited"``.
    - ``threads``: worker threads of the simulations; the numbers do not depend on it.
    - ``time_unit``: what integer times count (``"s"`` default); datetime columns carry their
      own unit.
    """

    model: StageModel | None = None
    entity: str = "entity"
    time: str = "time"
    stage: str = "stage"
    segment: str | None = None
    amount: str | None = "amount"
    no_amount: float | None = None
    step: Any = "1d"
    period_length: Any = None
    periods: int = 3
    as_of: Any = None
    max_age: Any = None
    simulations: int | None = None
    confidence: float = 0.8
    seed: int = 42
    bootstrap_hazards: bool = True
    bootstrap_models: int = 200
    resample_amounts: bool = True
    by_segment: bool = False
    memory: str = "visited"
    threads: int = 1
    time_unit: str | None = None


def _resolve(options: ForecastOptions | None, keywords: dict[str, Any], function: str) -> ForecastOptions:
    """The options object with the keywords applied; an unknown keyword is a TypeError naming
    the closest option."""
    if options is not None and not isinstance(options, ForecastOptions):
        raise TypeError(f"{function}(): 'options' must be a funnelkit.ForecastOptions, got {type(options).__name__}")
    valid = [f.name for f in fields(ForecastOptions)]
    for k in keywords:
        if k not in valid:
            raise TypeError(f"{function}() got an unexpected keyword argument {k!r}: "
                            + _names.unknown("keyword", k, valid))
    return replace(options if options is not None else ForecastOptions(), **keywords)


def _prepare(data: Any, o: ForecastOptions) -> tuple[Any, Any, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None,
                                                      list[Any], np.ndarray | None, np.ndarray | None, TimeAxis]:
    from .model import StageModel

    if o.by_segment and o.segment is None:
        raise ValueError("option 'by_segment': needs the segment column (segment=)")
    m = o.model if o.model is not None else StageModel.b2b()
    data = _plain_table(data)
    ent, ent_labels = _frames.entity_ids(_frames.column(data, o.entity, "entity"), o.entity)
    tm, axis = _frames.time_axis(_frames.column(data, o.time, "time"), o.time, o.time_unit)
    st = _frames.stage_codes(_frames.column(data, o.stage, "stage"), m.names, o.stage)
    seg, labels = _labels_of(data, o.segment, "segment")
    am = _frames.amounts(_frames.column(data, o.amount, "amount"), o.amount) if o.amount else None
    if am is not None and o.no_amount is not None:
        # A value the data uses for "no amount" (sample_crm writes 0 on rows without a deal).
        am = np.where(am == float(o.no_amount), np.nan, am)
    if len(ent) == 0:
        raise ValueError("data: no stage records (0 rows); a forecast needs the stage histories")
    return m, getattr(m, "_m", m), ent, tm, st, seg, labels, am, ent_labels, axis


@contextlib.contextmanager
def _ticks_as_times(axis: TimeAxis, ticks: Sequence[int | None]) -> Iterator[None]:
    """Re-raises the core's ValueError with the given tick values (origins, the first record, the
    end of the data) shown as datetimes for datetime input, as people read them."""
    try:
        yield
    except ValueError as exc:
        if not axis.is_datetime:
            raise
        text = str(exc)
        for t in sorted({int(t) for t in ticks if t is not None}, key=lambda v: -len(str(v))):
            # a row number ("row 0") is not a time, even when a tick has the same value
            text = re.sub(rf"(?<![0-9])(?<!row ){t}(?![0-9])", _time_value(axis, t), text)
        raise ValueError(text) from None


def _near_whole_steps(axis: TimeAxis, duration: str, option: str, step_ticks: int, *, minimum: int) -> Any:
    """The default of a duration option: ``duration`` rounded to the nearest whole number of
    steps (at least ``minimum``), as ticks, or as a timedelta for datetime columns."""
    ticks = int(axis.duration(duration, option))
    whole = max(minimum, round(ticks / step_ticks)) * step_ticks
    return np.timedelta64(whole, axis.unit) if axis.is_datetime else whole


def _options(axis: TimeAxis, method: str, o: ForecastOptions, simulations: int,
             origin: Any) -> tuple[Any, dict[str, Any], int]:
    method = _names.choice(method, _METHODS, "method")
    memory = _names.choice(o.memory, _MEMORY, "memory")
    step_ticks = int(axis.duration(o.step, "step"))
    if step_ticks <= 0:
        raise ValueError(f"option 'step': value {o.step!r} must be a positive duration")
    period_length, max_age = o.period_length, o.max_age
    if period_length is None:  # about a month, in whole steps
        period_length = _near_whole_steps(axis, "30d", "period_length", step_ticks, minimum=1)
    if max_age is None:  # about a quarter, in whole steps
        max_age = _near_whole_steps(axis, "90d", "max_age", step_ticks, minimum=0)
    plen = int(axis.duration(period_length, "period_length"))
    if plen <= 0 or plen % step_ticks:
        raise ValueError(f"option 'period_length': value {period_length!r} must be a positive whole number of "
                         f"steps (step={o.step!r})")
    age = int(axis.duration(max_age, "max_age"))
    if age < 0 or age % step_ticks:
        raise ValueError(f"option 'max_age': value {max_age!r} must be a whole number of steps >= 0 (step={o.step!r})")
    for name, value, low in (("periods", o.periods, 0), ("simulations", simulations, 0),
                             ("bootstrap_models", o.bootstrap_models, 1), ("threads", o.threads, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"option '{name}': value {value!r} must be an integer >= {low}")
    if not 0 < float(o.confidence) < 1:
        raise ValueError(f"option 'confidence': value {o.confidence!r} must be in (0, 1)")
    core = _core.ForecastOptions(model=method, step=step_ticks, origin=axis.timestamp(origin, "origin", allow_none=True),
                                 as_of=axis.timestamp(o.as_of, "as_of", allow_none=True), periods=int(o.periods),
                                 period_steps=plen // step_ticks, max_age=age // step_ticks,
                                 simulations=int(simulations), confidence=float(o.confidence), seed=int(o.seed),
                                 by_segment=bool(o.by_segment), bootstrap_hazards=bool(o.bootstrap_hazards),
                                 bootstrap_models=int(o.bootstrap_models), resample_amounts=bool(o.resample_amounts),
                                 threads=int(o.threads), memory=memory)
    shown = {"method": method, "step": str(o.step), "period_length": str(period_length), "periods": int(o.periods),
             "max_age": str(max_age), "simulations": int(simulations), "confidence": float(o.confidence),
             "seed": int(o.seed), "bootstrap_hazards": bool(o.bootstrap_hazards),
             "bootstrap_models": int(o.bootstrap_models), "resample_amounts": bool(o.resample_amounts),
             "by_segment": bool(o.by_segment), "memory": memory, "threads": int(o.threads), "no_amount": o.no_amount,
             "time_unit": axis.unit, "time_is_datetime": axis.is_datetime}
    return core, shown, step_ticks


def _time_value(axis: TimeAxis, ticks: int) -> Any:
    v = axis.datetimes(np.array([ticks], dtype=np.int64))[0]
    return str(v) if axis.is_datetime else int(v)


@dataclass(frozen=True)
class WeightedPipeline(Scalar):
    """The naive weighted pipeline of the open entities: the sum over them of the stage
    probability (share won among the training entities that were in the stage and have closed)
    times the amount, and the expected number of wins, with simulated intervals; no timing: the
    whole horizon."""

    definition = ("The weighted pipeline: sum over the entities open at the origin of their stage's probability "
                  "(the share won among the training entities that were in that stage and have closed) times "
                  "their amount; expected wins = the sum of the probabilities. It has no timing.")

    wins: float
    wins_lower: float | None
    wins_upper: float | None
    revenue: float
    revenue_lower: float | None
    revenue_upper: float | None
    options: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


def _nan_none(x: float) -> float | None:
    return None if x != x else float(x)


class PipelineForecast(Table):
    """Result of :func:`forecast_pipeline`: one row per period of the horizon and a last row for
    the whole horizon (``period`` = -1): ``period_start``, ``period_end``, ``expected_wins``
    with ``wins_lower``/``wins_upper``, ``expected_revenue`` with ``revenue_lower``/
    ``revenue_upper`` (simulated intervals at ``confidence``).

    :meth:`entities` gives each open entity's forecast, :meth:`stages` the chain per stage,
    :meth:`transitions` the estimated hazards, :attr:`weighted` the weighted pipeline.
    """

    definition = ("A forecast of the pipeline open at the origin: a transition model estimated from the stage "
                  "histories up to the origin (per step; Markov, or semi-Markov with hazards by time in stage from "
                  "the Aalen-Johansen estimate), absorbing won and lost stages; expected wins per period = the sum "
                  "over the open entities of their probability of being won in the period, revenue with their "
                  "amounts; intervals from a seeded simulation of the entities' outcomes.")

    def __init__(self, raw: dict[str, Any], axis: TimeAxis, stage_names: list[str], seg_labels: list[Any],
                 ent_labels: np.ndarray | None, step_ticks: int, *, options: dict[str, Any], inputs: dict[str, Any]):
        p = raw["periods"]
        cols = {"period": np.asarray(p["period"]), "period_start": axis.datetimes(p["start"]),
                "period_end": axis.datetimes(p["end"])}
        for k in ("expected_wins", "wins_lower", "wins_upper", "expected_revenue", "revenue_lower", "revenue_upper"):
            cols[k] = np.asarray(p[k])
        super().__init__(cols, options=options, inputs=inputs,
                         units={"expected_revenue": "currency", "revenue_lower": "currency", "revenue_upper": "currency"})
        self._raw = raw
        self._axis = axis
        self._stage_names = stage_names
        self._seg_labels = seg_labels
        self._ent_labels = ent_labels
        self._step = step_ticks
        #: The forecast origin and the end of the data (datetimes for datetime input).
        self.origin = _time_value(axis, int(raw["origin"]))
        self.as_of = _time_value(axis, int(raw["as_of"]))
        #: Mean won amount of the training data, used for entities without an amount.
        self.default_amount = float(raw["default_amount"])
        w = raw["weighted"]
        #: The weighted pipeline beside the forecast.
        self.weighted = WeightedPipeline(float(w["wins"]), _nan_none(w["wins_lower"]), _nan_none(w["wins_upper"]),
                                         float(w["revenue"]), _nan_none(w["revenue_lower"]),
                                         _nan_none(w["revenue_upper"]), options=dict(options))

    def explain(self) -> Explanation:
        """The definition, the core's formula and totals (expected wins and revenue, the weighted
        pipeline) and the options."""
        return _core_explanation(self._raw["explanation"], "PipelineForecast", definition=self.definition,
                                 inputs=self._inputs, options=self._options,
                                 relabel={"origin": self.origin, "as_of": self.as_of})

    def entities(self) -> Table:
        """Each entity open at the origin: ``entity``, ``segment`` (with a segment column),
        ``stage``, ``age_days`` (time already in the stage), ``amount`` (its latest amount, or
        the mean won amount when ``own_amount`` is False), ``p_won``, ``p_lost`` (any other
        outcome), ``p_never`` (never closes, as far as the model can tell),
        ``expected_days_to_close`` (among the paths that close), ``p_won_period_1`` ... (won in
        each period of the horizon), ``stage_probability`` (the weighted pipeline's),
        ``at_risk`` (entity-steps of training history behind the entity's (stage, age) cell of
        the model used) and ``pooled`` (with ``by_segment``: the entity's segment had no history
        in that cell, so the pooled hazards were used)."""
        e = self._raw["entities"]
        step_days = float(self._axis.days(self._step))
        ids = np.asarray(e["entity"])
        cols: dict[str, Any] = {"entity": self._ent_labels[ids] if self._ent_labels is not None else ids}
        if self._seg_labels:
            codes = np.asarray(e["segment"])
            labels = np.array(list(self._seg_labels), dtype=object)
            cols["segment"] = np.where(codes >= 0, labels[np.maximum(codes, 0)], None)
        cols["stage"] = [self._stage_names[c] for c in np.asarray(e["stage"])]
        cols["age_days"] = np.asarray(e["age"], dtype=np.float64) * step_days
        cols["amount"] = np.asarray(e["amount"])
        cols["own_amount"] = np.asarray(e["own_amount"]).astype(bool)
        for k in ("p_won", "p_lost", "p_never"):
            cols[k] = np.asarray(e[k])
        cols["expected_days_to_close"] = np.asarray(e["expected_steps"]) * step_days
        pw = np.asarray(e["p_won_in"])
        for q in range(pw.shape[1]):
            cols[f"p_won_period_{q + 1}"] = pw[:, q]
        cols["stage_probability"] = np.asarray(e["stage_probability"])
        cols["at_risk"] = np.asarray(e["at_risk"])
        cols["pooled"] = np.asarray(e["pooled"]).astype(bool)
        return Table(cols, name="ForecastEntities", definition=self.definition + " One row per open entity.",
                     inputs=self._inputs, options=self._options,
                     units={"age_days": "days", "expected_days_to_close": "days", "amount": "currency",
                            "at_risk": "entity-steps"},
                     categories={"stage": list(self._stage_names)})

    def stages(self) -> Table:
        """Per transient stage of the overall model: ``open`` entities and their ``open_amount``,
        ``p_won`` and ``expected_days_to_close`` from a fresh entry into the stage (the absorbing
        chain), and the weighted pipeline's ``stage_probability``."""
        s = self._raw["stages"]
        step_days = float(self._axis.days(self._step))
        cols = {"stage": [self._stage_names[c] for c in np.asarray(s["stage"])], "open": np.asarray(s["open"]),
                "open_amount": np.asarray(s["open_amount"]), "p_won": np.asarray(s["p_won"]),
                "expected_days_to_close": np.asarray(s["expected_steps"]) * step_days,
                "stage_probability": np.asarray(s["stage_probability"])}
        return Table(cols, name="ForecastStages",
                     definition=("Per stage: the probability of being won from a fresh entry, B = N R of the absorbing "
                                 "chain, the expected time to close among the paths that close, and the weighted "
                                 "pipeline's stage probability (share won among closed training entities that were "
                                 "in the stage)."),
                     inputs=self._inputs, options=self._options,
                     units={"expected_days_to_close": "days", "open_amount": "currency"},
                     categories={"stage": [self._stage_names[c] for c in np.asarray(s["stage"])]})

    def transitions(self) -> Table:
        """The estimated overall model: one row per (``from`` stage, ``age`` in steps (and
        ``age_days``, the same age in days as :meth:`entities` reports it), ``to`` stage) with a move: ``hazard`` (probability per step), ``moves`` counted and
        ``at_risk`` (entity-steps behind the row). The age of the last rows (``max_age``) pools
        every older age; the Markov model has age 0 only. With ``memory="visited"`` a
        ``visited`` column names the stages the entities of the row were in before (joined by
        ``+``; empty for a first stay), and ``moves``/``at_risk`` are 0 on rows whose hazards
        were pooled over the paths of their stage."""
        t = self._raw["transitions"]
        names = self._stage_names
        step_days = float(self._axis.days(self._step))
        cols = {"from": [names[c] for c in np.asarray(t["from"])], "age": np.asarray(t["age"]),
                "to": [names[c] for c in np.asarray(t["to"])], "hazard": np.asarray(t["hazard"]),
                "moves": np.asarray(t["moves"]), "at_risk": np.asarray(t["at_risk"]),
                "age_days": np.asarray(t["age"], dtype=np.float64) * step_days}
        if self._options.get("memory") == "visited":
            masks = [int(x) for x in np.asarray(t["visited"])]
            cols["visited"] = ["+".join(n for c, n in enumerate(names) if m >> c & 1) for m in masks]
        return Table(cols, name="ForecastTransitions",
                     definition=("Probability per step of moving from a stage to another (or an outcome) at a given "
                                 "age in the stage: moves / entity-steps at risk (Markov), or the discrete hazard "
                                 "of the Aalen-Johansen estimate (semi-Markov; ages from max_age on pooled)."),
                     inputs=self._inputs, options={**self._options, "max_age_steps": int(t["max_age"])},
                     units={"age": "steps", "age_days": "days", "at_risk": "entity-steps"})

    def __repr__(self) -> str:
        c = self._table()
        lines = [f"PipelineForecast(origin {self.origin}, {self._options['method']}, "
                 f"{len(self._raw['entities']['entity']):,} open entities)"]
        for i in range(len(self)):
            label = "whole horizon" if c["period"][i] < 0 else f"period {c['period'][i] + 1}"
            lines.append(f"  {label:<14} wins {c['expected_wins'][i]:>9,.1f} [{c['wins_lower'][i]:,.0f}, "
                         f"{c['wins_upper'][i]:,.0f}]  revenue {c['expected_revenue'][i]:>14,.0f}")
        lines.append(f"  weighted pipeline: wins {self.weighted.wins:,.1f}, revenue {self.weighted.revenue:,.0f}")
        return "\n".join(lines)


def forecast_pipeline(
    data: Any,
    *,
    method: str = "semi_markov",
    origin: Any = None,
    options: ForecastOptions | None = None,
    **keywords: Any,
) -> PipelineForecast:
    """Forecast of the pipeline open at ``origin`` from stage-change records.

    Parameters
    ----------
    data:
        Stage-change records, one row per (entity, time, stage): pandas or Polars, PyArrow, a
        dict of arrays (e.g. :func:`funnelkit.sample_crm`).
    method:
        ``"semi_markov"`` (default; hazards by time in stage) or ``"markov"``.
    origin:
        The forecast origin: the model is trained on the data up to it (default the end of the
        data).
    options, **keywords:
        The options shared with :func:`backtest_forecast` (:class:`ForecastOptions`: the
        columns ``entity``, ``time``, ``stage``, ``segment``, ``amount``, ``model``,
        ``no_amount``, ``step``, ``period_length``, ``periods``, ``as_of``, ``max_age``,
        ``simulations`` (default 2000), ``confidence``, ``seed``, ``bootstrap_hazards``,
        ``bootstrap_models``, ``resample_amounts``, ``by_segment``, ``threads``,
        ``time_unit``), as one object and/or as keywords (keywords win).
    """
    o = _resolve(options, keywords, "forecast_pipeline")
    m, core_model, ent, tm, st, seg, labels, am, ent_labels, axis = _prepare(data, o)
    sims = 2000 if o.simulations is None else o.simulations
    opts, shown, step_ticks = _options(axis, method, o, sims, origin)
    with _ticks_as_times(axis, [int(tm.min()), int(tm.max()), opts.origin, opts.as_of]):
        raw = _core.forecast_pipeline(core_model, ent, tm, st, options=opts, segment=seg, amount=am)
    inputs = {"rows": int(len(ent)), "columns": {"entity": o.entity, "time": o.time, "stage": o.stage,
                                                 "segment": o.segment, "amount": o.amount}}
    return PipelineForecast(raw, axis, list(m.names), labels, ent_labels, step_ticks, options=shown, inputs=inputs)


class ForecastBacktest(Table):
    """Result of :func:`backtest_forecast`: one row per (origin, method, period): ``origin``,
    ``method`` (``markov``, ``semi_markov``, ``weighted_pipeline``), ``period`` (1.. or
    ``"all"`` for the whole horizon; the weighted pipeline has only that), expected and actual
    wins and revenue with the simulated intervals, and ``covered_wins``/``covered_revenue``
    (the interval held the actual value). :meth:`summary` and :meth:`calibration` sum it up."""

    definition = ("A backtest of the pipeline forecast: at each origin the model is trained on the histories up to "
                  "it, forecasts the wins and revenue of the pipeline open there for the next periods, and is "
                  "compared with what those entities did; the same for the weighted pipeline (whole horizon).")

    def __init__(self, raw: dict[str, Any], axis: TimeAxis, *, options: dict[str, Any], inputs: dict[str, Any]):
        r = raw["rows"]
        method = np.asarray(r["method"])
        period = np.asarray(r["period"])
        cols: dict[str, Any] = {"origin": axis.datetimes(r["origin"]),
                                "method": [_BACKTEST_METHODS[k] for k in method],
                                "period": [("all" if p < 0 else str(p + 1)) for p in period]}
        for k in ("expected_wins", "wins_lower", "wins_upper", "actual_wins", "expected_revenue", "revenue_lower",
                  "revenue_upper", "actual_revenue"):
            cols[k] = np.asarray(r[k])
        cols["covered_wins"] = (cols["actual_wins"] >= cols["wins_lower"]) & (cols["actual_wins"] <= cols["wins_upper"])
        cols["covered_revenue"] = ((cols["actual_revenue"] >= cols["revenue_lower"])
                                   & (cols["actual_revenue"] <= cols["revenue_upper"]))
        money = {k: "currency" for k in ("expected_revenue", "revenue_lower", "revenue_upper", "actual_revenue")}
        super().__init__(cols, options=options, inputs=inputs, units=money,
                         categories={"method": list(_BACKTEST_METHODS)})
        self._raw = raw

    def explain(self) -> Explanation:
        """The definition, the coverage and errors per method, and the options."""
        return _core_explanation(self._raw["explanation"], "ForecastBacktest", definition=self.definition,
                                 inputs=self._inputs, options=self._options)

    def summary(self) -> Table:
        """Per method: ``intervals`` checked, ``empty_cells`` (cells with nothing to forecast,
        expected wins 0, left out of the coverage), ``coverage_wins`` and ``coverage_revenue``
        (share of the checked intervals that held the actual value), ``mae_wins``, ``bias_wins``, ``mae_revenue``,
        ``bias_revenue`` (errors are expected - actual, per period for the chains and over the
        whole horizon for the weighted pipeline) and ``brier`` (of the per-entity probability of
        a win within the horizon)."""
        s = self._raw["summary"]
        cols = {"method": [_BACKTEST_METHODS[k] for k in np.asarray(s["method"])]}
        for k in ("intervals", "empty_cells", "coverage_wins", "coverage_revenue", "mae_wins", "bias_wins",
                  "mae_revenue", "bias_revenue", "brier"):
            cols[k] = np.asarray(s[k])
        return Table(cols, name="ForecastBacktestSummary",
                     definition=("Per forecast method over the backtest origins: the share of the intervals at the "
                                 "confidence level that held the actual wins (revenue), the mean absolute and mean "
                                 "signed errors (expected - actual) of wins and revenue, and the Brier score of the "
                                 "per-entity probabilities of a win within the horizon."),
                     inputs=self._inputs, options=self._options,
                     units={"mae_revenue": "currency", "bias_revenue": "currency"},
                     categories={"method": list(_BACKTEST_METHODS)})

    def calibration(self) -> Table:
        """Per method and bin of the predicted probability of a win within the horizon (pooled
        over the origins): ``entities``, mean ``predicted`` probability, ``observed`` share won."""
        c = self._raw["calibration"]
        cols = {"method": [_BACKTEST_METHODS[k] for k in np.asarray(c["method"])]}
        for k in ("bin", "lower", "upper", "entities", "predicted", "observed"):
            cols[k] = np.asarray(c[k])
        return Table(cols, name="ForecastCalibration",
                     definition=("Calibration: the open entities of every origin binned by their predicted probability "
                                 "of a win within the horizon, with the mean prediction and the share actually won."),
                     inputs=self._inputs, options=self._options, categories={"method": list(_BACKTEST_METHODS)})

    def __repr__(self) -> str:
        s = self._raw["summary"]
        lines = [f"ForecastBacktest({len(self._inputs.get('origins', []))} origins)"]
        for i, k in enumerate(np.asarray(s["method"])):
            lines.append(f"  {_BACKTEST_METHODS[k]:<18} coverage wins {s['coverage_wins'][i]:.0%} revenue "
                         f"{s['coverage_revenue'][i]:.0%}  MAE wins {s['mae_wins'][i]:,.1f}  bias {s['bias_wins'][i]:+,.1f}")
        return "\n".join(lines)


def backtest_forecast(
    data: Any,
    *,
    origins: Sequence[Any] | None = None,
    n_origins: int = 6,
    every: Any = "30d",
    calibration_bins: int = 10,
    options: ForecastOptions | None = None,
    **keywords: Any,
) -> ForecastBacktest:
    """Backtest of :func:`forecast_pipeline`: trains on the data up to each origin, forecasts
    the next ``periods`` periods with the Markov and semi-Markov models and the weighted
    pipeline, and compares with what the entities open at the origin did.

    ``origins`` are explicit forecast origins (ascending); by default the last ``n_origins``
    origins ``every`` apart that leave a whole horizon before the end of the data. An origin
    before the first record, or with no entity open at it, raises ValueError naming it: its
    cells would be empty and count as covered. Cells with nothing to forecast (expected wins 0)
    are left out of the coverage and counted in the summary's ``empty_cells``.
    ``calibration_bins``: equal-width bins of the predicted probability of a win within the
    horizon. The other options are those of :func:`forecast_pipeline`
    (:class:`ForecastOptions`, as one object and/or as keywords; ``simulations`` defaults to
    1000 per origin; ``method`` is not one: both models run).
    """
    o = _resolve(options, keywords, "backtest_forecast")
    m, core_model, ent, tm, st, seg, labels, am, ent_labels, axis = _prepare(data, o)
    sims = 1000 if o.simulations is None else o.simulations
    opts, shown, step_ticks = _options(axis, "semi_markov", o, sims, None)
    del shown["method"]
    if origins is None:
        if isinstance(n_origins, bool) or not isinstance(n_origins, (int, np.integer)) or n_origins < 1:
            raise ValueError(f"option 'n_origins': value {n_origins!r} must be an integer >= 1")
        gap = int(axis.duration(every, "every"))
        if gap <= 0:
            raise ValueError(f"option 'every': value {every!r} must be a positive duration")
        end = opts.as_of if opts.as_of is not None else int(tm.max()) if len(tm) else 0
        last = end - int(o.periods) * opts.period_steps * step_ticks
        ticks = [last - gap * k for k in range(int(n_origins))][::-1]
        shown.update({"n_origins": int(n_origins), "every": str(every)})
    else:
        ticks = [int(axis.timestamp(t, f"origins[{i}]")) for i, t in enumerate(origins)]
    first = int(tm.min())
    for i, t in enumerate(ticks):
        if t < first:
            where = (f"n_origins={int(n_origins)} every {every!r} reaches back to origin {_time_value(axis, t)}"
                     if origins is None else f"origins[{i}] = {_time_value(axis, t)}")
            raise ValueError(f"option 'origins': {where}, before the first record ({_time_value(axis, first)}): "
                             "there is nothing to train on or forecast there; use fewer or later origins")
    with _ticks_as_times(axis, [first, int(tm.max()), opts.as_of, *ticks]):
        raw = _core.backtest_forecast(core_model, ent, tm, st, origins=ticks, options=opts,
                                      calibration_bins=int(calibration_bins), segment=seg, amount=am)
    shown["calibration_bins"] = int(calibration_bins)
    shown_origins = [_time_value(axis, t) for t in ticks]
    inputs = {"rows": int(len(ent)), "origins": shown_origins,
              "columns": {"entity": o.entity, "time": o.time, "stage": o.stage, "segment": o.segment,
                          "amount": o.amount}}
    return ForecastBacktest(raw, axis, options=shown, inputs=inputs)
