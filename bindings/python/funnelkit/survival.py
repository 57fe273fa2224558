"""Survival analysis of right-censored durations: the Kaplan-Meier estimator (time to convert,
counting open entities as censored, not as failures) and the Aalen-Johansen cumulative
incidence of competing outcomes (won vs lost).

Durations are numbers in the caller's unit (seconds, days), or ``timedelta64`` values (then
numbers in the timedelta's own unit, recorded in the Table's ``units``). Every number comes
from the compiled core (``include/funnelkit/survival.hpp``). Array arguments are array-likes or,
with ``data=``, column names of a pandas or Polars DataFrame (or LazyFrame), an Arrow table, a
DuckDB relation or a dict of arrays.
"""

from __future__ import annotations

import datetime as _dt
import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import _core, _frames, _names, _time
from ._result import Table
from .accumulators import duration_name, duration_values
from .rates import array_arg, check_confidence, renamed

__all__ = ["KaplanMeier", "kaplan_meier", "CumulativeIncidence", "aalen_johansen"]


def _time_arg(t: Any, unit: str | None) -> float | np.ndarray:
    """A time argument of survival_at()/incidence_at(): a number or an array of numbers, or
    timedeltas when the durations were timedeltas (converted to their unit)."""
    if isinstance(t, _dt.timedelta):  # also pandas.Timedelta
        t = np.timedelta64(_time.parse_duration_ns(t, "t"), "ns")
    arr = np.asarray(t)
    if arr.dtype.kind == "m":
        if unit is None:
            raise TypeError("the durations were plain numbers: pass a number, not a timedelta")
        arr = arr.astype(f"timedelta64[{unit}]").astype(np.float64)
    elif arr.dtype.kind not in "iufb":
        raise TypeError(f"option 't': expected numbers or timedeltas, got {t!r}")
    arr = arr.astype(np.float64)
    return float(arr) if arr.ndim == 0 else arr


def _lookup(values: float | np.ndarray) -> float | np.ndarray:
    return float(values) if np.ndim(values) == 0 else np.asarray(values)


class _Curve(Table):
    """A table with one row per distinct duration: what Kaplan-Meier and Aalen-Johansen share.
    The core's result object is kept for the lookups (step functions, percentiles)."""

    _unit: str | None
    _result: Any

    @property
    def time(self) -> np.ndarray:
        """Distinct durations, ascending (the input's unit)."""
        return self.column("time")

    @property
    def at_risk(self) -> np.ndarray:
        """n_j: durations >= t_j."""
        return self.column("at_risk")

    @property
    def censored(self) -> np.ndarray:
        """c_j: censored durations at t_j."""
        return self.column("censored")

    @property
    def survival(self) -> np.ndarray:
        """S(t_j): the probability of no event (no outcome) yet."""
        return self.column("survival")

    @property
    def count(self) -> int:
        """Number of durations (n at the first time)."""
        return int(self.at_risk[0]) if len(self) else 0

    def survival_at(self, t: Any) -> float | np.ndarray:
        """S(t) (a probability: no event, or no outcome, yet) as a right-continuous step
        function, 1 before the first time; ``t`` a number (or an array) in the durations' unit,
        or timedeltas when they were timedeltas."""
        return _lookup(self._result.survival_at(_time_arg(t, self._unit)))

    def _step(self, values: np.ndarray, before: float, t: Any) -> float | np.ndarray:
        """Former private lookup, kept while funnelkit.dashboard calls it: the column ``values``
        (survival, or a Kaplan-Meier band: lower, upper) at ``t``, from the core's step
        functions. Use survival_at, lower_at, upper_at instead."""
        for name in ("survival", "lower", "upper"):
            at = getattr(self, f"{name}_at", None)
            if at is not None and name in self.columns and (
                    values is self.column(name) or np.array_equal(values, self.column(name))):
                return at(t)
        raise ValueError(f"{type(self).__name__}._step: values must be one of its curves (survival, lower, upper)")


class KaplanMeier(_Curve):
    """Result of :func:`kaplan_meier`: the survival curve, one row per distinct duration.

    Columns: ``time`` (distinct durations, ascending), ``at_risk``, ``events``, ``censored``,
    ``survival`` (S(t)) and the exponential-Greenwood band ``lower``, ``upper`` at
    ``confidence``. ``median`` is the smallest time with S(t) <= 0.5 (lifelines' convention),
    ``inf`` when the curve never falls that low (too many entities still open);
    ``median_ci`` applies the same rule to the band.
    """

    definition = ("Kaplan-Meier estimate for right-censored durations: at each distinct duration t_j, n_j at "
                  "risk (duration >= t_j), d_j events and c_j censored; S(t_j) = prod over i <= j of (1 - d_i/n_i), "
                  "S = 1 before the first time. Band: exponential Greenwood, S^exp(+-z sqrt(V)/|log S|) with V = "
                  "sum of d_i/(n_i(n_i - d_i)). Median: the smallest t with S(t) <= 0.5, infinite when never reached "
                  "(open entities are censored, not failures).")

    def __init__(self, result: Any, *, unit: str | None = None, inputs: dict[str, Any] | None = None):
        cols = {k: getattr(result, k) for k in ("time", "at_risk", "events", "censored", "survival", "lower", "upper")}
        super().__init__(cols, inputs=inputs, options={"confidence": result.confidence},
                         units={"time": unit} if unit else None)
        self._result = result
        self._unit = unit
        #: Confidence level of the band and of the median's interval.
        self.confidence: float = result.confidence
        #: Smallest time with S(t) <= 0.5; ``inf`` when never reached.
        self.median: float = _or_inf(result.median)
        #: The median of the lower and of the upper band (``inf`` when not reached).
        self.median_ci: tuple[float, float] = (_or_inf(result.median_lower), _or_inf(result.median_upper))

    @property
    def events(self) -> np.ndarray:
        """d_j: events at t_j."""
        return self.column("events")

    @property
    def lower(self) -> np.ndarray:
        """Lower band of S(t_j) at ``confidence``."""
        return self.column("lower")

    @property
    def upper(self) -> np.ndarray:
        """Upper band of S(t_j) at ``confidence``."""
        return self.column("upper")

    @property
    def level(self) -> float:
        """Deprecated: use ``confidence``."""
        warnings.warn("KaplanMeier.level is deprecated; use KaplanMeier.confidence", DeprecationWarning, stacklevel=2)
        return self.confidence


    def lower_at(self, t: Any) -> float | np.ndarray:
        """The lower band of S at ``confidence`` as a step function of t (1 before the first
        time), like :meth:`survival_at`."""
        return _lookup(self._result.lower_at(_time_arg(t, self._unit)))

    def upper_at(self, t: Any) -> float | np.ndarray:
        """The upper band of S at ``confidence`` as a step function of t (1 before the first
        time), like :meth:`survival_at`."""
        return _lookup(self._result.upper_at(_time_arg(t, self._unit)))

    def percentile(self, q: float) -> float:
        """Smallest time with S(t) <= q (0 < q < 1), in the durations' unit; ``inf`` when never
        reached."""
        return _or_inf(self._result.percentile(float(q)))

    def __repr__(self) -> str:
        return (f"KaplanMeier({self.count} durations, {self._result.event_count} events, median {self.median:g} "
                f"[{self.median_ci[0]:g}, {self.median_ci[1]:g}] at {self.confidence:.0%})")


def _or_inf(v: float | None) -> float:
    return math.inf if v is None else float(v)


def _observed(v: Any) -> np.ndarray:
    ob = np.asarray(v).reshape(-1)
    if ob.dtype.kind == "f":
        bad = ~np.isin(ob, (0.0, 1.0))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise ValueError(f"column 'observed', row {row}: value {ob[row]!r} must be 0 (censored) or 1 (event)")
    elif ob.dtype.kind not in "iub":
        raise TypeError(f"column 'observed': expected booleans or 0/1, got dtype {ob.dtype}")
    elif ob.dtype.kind in "iu" and ob.size and (ob.min() < 0 or ob.max() > 1):
        row = int(np.flatnonzero((ob < 0) | (ob > 1))[0])
        raise ValueError(f"column 'observed', row {row}: value {ob[row]} must be 0 (censored) or 1 (event)")
    return np.ascontiguousarray(ob, dtype=np.uint8)


def kaplan_meier(durations: Any, observed: Any = None, *, data: Any = None, confidence: float = 0.95,
                 level: float | None = None) -> KaplanMeier:
    """Kaplan-Meier survival curve for right-censored ``durations``.

    ``observed`` flags the rows whose event happened (e.g. converted); 0/False rows are
    censored (still open at the end of the data). ``None`` means all observed. Durations must be
    finite and >= 0 (numbers in any unit, or timedelta64 in its own unit). ``confidence`` is
    the level of the band and of the median's interval (``level=`` is a deprecated alias).
    With ``data=``, ``durations`` and ``observed`` are column names. Matches lifelines'
    ``KaplanMeierFitter`` (survival, confidence band, median).
    """
    confidence = check_confidence(renamed(confidence, level, "confidence", "level", "kaplan_meier()"))
    table = None if data is None else _frames.as_table(data)
    d, unit = duration_values(array_arg(durations, table, "duration"), duration_name(durations, table))
    o = None if observed is None else _observed(array_arg(observed, table, "observed"))
    r = _core.kaplan_meier(d, o, confidence)
    return KaplanMeier(r, unit=unit, inputs={"durations": int(len(d)), "events": int(r.event_count)})


class CumulativeIncidence(_Curve):
    """Result of :func:`aalen_johansen`: cumulative incidence of competing outcomes, one row per
    distinct duration.

    Columns: ``time``, ``at_risk``, ``censored``, ``events_<label>`` and ``incidence_<label>``
    for each outcome, ``survival`` (no outcome yet), then the pointwise confidence band
    ``lower_<label>`` and ``upper_<label>`` of each incidence at level ``confidence`` (it covers
    each time's incidence at that level, not the whole curve at once). ``incidence[j, k - 1]`` is
    the probability of having ended in outcome k by ``time[j]``; incidences and survival add up
    to 1. ``variance[j, k - 1]`` is the delta-method variance of that incidence.
    """

    definition = ("Aalen-Johansen cumulative incidence of competing outcomes 1..K (0 = censored, e.g. still "
                  "open): S is the Kaplan-Meier curve with any outcome as the event, and the incidence of outcome k "
                  "is F_k(t_j) = sum over i <= j of S(t_(i-1)) d_(k,i) / n_i; the incidences and S add up to 1. "
                  "The probability of being won by t with lost as a competing outcome (not 1 - KM with lost "
                  "censored).")
    #: The definition of the band columns, added to :meth:`explain` of every result.
    band_definition = ("Band (lower_<label>, upper_<label>), pointwise: at each time it covers F_k(t) with the "
                       "confidence level, but it is not a simultaneous band for the whole curve (the curve stays "
                       "inside it at every time at once with a lower probability). Its variance is the delta-method "
                       "(Greenwood-type) variance of Collett, as in lifelines' AalenJohansenFitter: Var F_k(t) = sum over t_i <= t of (F_k(t) - F_k(t_i))^2 "
                       "d_i / (n_i (n_i - d_i)) + S(t_(i-1))^2 d_(k,i) (n_i - d_(k,i)) / n_i^3 - 2 (F_k(t) - F_k(t_i)) "
                       "S(t_(i-1)) d_(k,i) / n_i^2 (d_i: all events at t_i; a time that empties the risk set adds "
                       "nothing to the first sum), on the log(-log) scale: with se = sqrt(Var) / (F |log F|), lower = "
                       "F^exp(z se), upper = F^exp(-z se), z the normal quantile of the confidence level; 0 where F = "
                       "0, 1 where F = 1.")

    def __init__(self, result: Any, labels: list[Any], *, unit: str | None = None,
                 inputs: dict[str, Any] | None = None):
        events = result.events
        incidence = result.incidence
        cols: dict[str, Any] = {"time": result.time, "at_risk": result.at_risk, "censored": result.censored}
        for k, lab in enumerate(labels):
            cols[f"events_{lab}"] = events[:, k]
        for k, lab in enumerate(labels):
            cols[f"incidence_{lab}"] = incidence[:, k]
        cols["survival"] = result.survival
        lower, upper = result.lower, result.upper
        for k, lab in enumerate(labels):
            cols[f"lower_{lab}"] = lower[:, k]
            cols[f"upper_{lab}"] = upper[:, k]
        confidence = float(result.confidence)
        super().__init__(cols, inputs=inputs, options={"labels": list(labels), "confidence": confidence},
                         units={"time": unit} if unit else None,
                         definition=self.definition + " " + self.band_definition)
        #: Confidence level of the band.
        self.confidence = confidence
        #: Delta-method variance of F_k(t_j) at [j, k - 1].
        self.variance = result.variance
        self._result = result
        self._unit = unit
        #: Outcome labels, for codes 1..K.
        self.labels = list(labels)
        #: F_k(t_j) at [j, k - 1] (probabilities).
        self.incidence = incidence
        #: d_(k,j) at [j, k - 1].
        self.events = events

    def incidence_at(self, outcome: Any, t: Any) -> float | np.ndarray:
        """F_outcome(t) (a probability) as a right-continuous step function, 0 before the first
        time; ``t`` in the durations' unit (timedeltas when they were timedeltas)."""
        return _lookup(self._result.incidence_at(self._index(outcome) + 1, _time_arg(t, self._unit)))

    def lower_at(self, outcome: Any, t: Any) -> float | np.ndarray:
        """Lower bound of the band of F_outcome at ``t`` (a step function like
        :meth:`incidence_at`, 0 before the first time)."""
        return _lookup(self._result.lower_at(self._index(outcome) + 1, _time_arg(t, self._unit)))

    def upper_at(self, outcome: Any, t: Any) -> float | np.ndarray:
        """Upper bound of the band of F_outcome at ``t`` (a step function like
        :meth:`incidence_at`, 0 before the first time)."""
        return _lookup(self._result.upper_at(self._index(outcome) + 1, _time_arg(t, self._unit)))

    def final(self, outcome: Any) -> float:
        """Incidence at the last time: the share ending in ``outcome`` as far as the data tells
        (0 without durations)."""
        return float(self._result.final_incidence(self._index(outcome) + 1))

    def _index(self, outcome: Any) -> int:
        if outcome in self.labels:
            return self.labels.index(outcome)
        raise ValueError(_names.unknown("outcome", outcome, self.labels))

    def __repr__(self) -> str:
        parts = ", ".join(f"{lab}: {self.final(lab):.3f}" for lab in self.labels)
        return f"CumulativeIncidence({self.count} durations; final incidence {parts})"


def aalen_johansen(durations: Any, outcomes: Any, *, data: Any = None,
                   labels: Sequence[Any] | None = None, confidence: float = 0.95) -> CumulativeIncidence:
    """Aalen-Johansen cumulative incidence for competing outcomes (e.g. won vs lost).

    ``outcomes`` holds 0 for censored (still open) and 1..K for the outcome; ``labels`` names
    outcomes 1..K (default 1..K). Ties at one time are processed together. With ``data=``,
    ``durations`` and ``outcomes`` are column names. ``confidence`` (in (0, 1)) is the level of
    the pointwise band of every incidence (delta-method variance on the log(-log) scale, see
    :class:`CumulativeIncidence`). Matches lifelines' ``AalenJohansenFitter`` (estimate,
    ``variance_`` and ``confidence_interval_``) on data without tied times (lifelines jitters
    ties at random).
    """
    table = None if data is None else _frames.as_table(data)
    d, unit = duration_values(array_arg(durations, table, "duration"), duration_name(durations, table))
    o = _frames.int32_codes(np.asarray(array_arg(outcomes, table, "outcome")).reshape(-1), "outcome")
    if labels is not None and len(set(map(str, labels))) != len(labels):
        raise ValueError(f"option 'labels': labels must be distinct, got {list(labels)!r}")
    # Outcomes that never occur (labels beyond the largest code) get zero columns from the core.
    r = _core.aalen_johansen(d, o, 0 if labels is None else len(labels), float(confidence))
    k = int(r.n_outcomes)
    labs = list(range(1, k + 1)) if labels is None else list(labels)
    if len(labs) < k:
        raise ValueError(f"option 'labels': {len(labs)} labels for outcome codes up to {k}")
    return CumulativeIncidence(r, labs, unit=unit, inputs={"durations": int(len(d))})
