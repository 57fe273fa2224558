"""Statistics for funnels: rate intervals, segment comparisons, survival and duration summaries.

Rates (x successes of n trials, level 1 - alpha, z the 1 - alpha/2 normal quantile):

- ``wilson`` (default): ``(x + z^2/2 +- z*sqrt(x(n-x)/n + z^2/4)) / (n + z^2)``;
- ``agresti_coull``: ``p~ +- z*sqrt(p~(1-p~)/n~)``, ``n~ = n + z^2``, ``p~ = (x + z^2/2)/n~``;
- ``jeffreys``: Beta(x+1/2, n-x+1/2) quantiles, lower bound 0 at x = 0, upper 1 at x = n;
- ``clopper_pearson``: Beta quantiles with (x, n-x+1) and (x+1, n-x).

Wilson and Agresti-Coull bounds are clipped to [0, 1]. With n = 0 a rate is undefined:
scalar functions return ``None`` and tables carry ``defined = False`` with NaN bounds.

Durations are plain numbers in whatever unit the caller uses (seconds, days); results use the
same unit. Open (still-running) entities are right-censored: see :func:`kaplan_meier`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import _core, _frames

__all__ = [
    "RateInterval",
    "TestResult",
    "Chi2Result",
    "rate_interval",
    "rate_intervals",
    "two_proportion_ztest",
    "chi2_test",
    "probability_b_beats_a",
    "probability_beta_greater",
    "adjust_p_values",
    "compare_to_baseline",
    "KaplanMeier",
    "kaplan_meier",
    "CumulativeIncidence",
    "aalen_johansen",
    "DurationSummary",
    "describe_durations",
]

_METHODS = ("wilson", "agresti_coull", "jeffreys", "clopper_pearson")


def _count(v: Any, name: str) -> int:
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
        if isinstance(v, (float, np.floating)) and float(v).is_integer():
            return int(v)
        raise TypeError(f"option '{name}': expected an integer count, got {v!r}")
    return int(v)


def _int_array(v: Any, name: str) -> np.ndarray:
    arr = np.asarray(v)
    if arr.dtype.kind == "f":
        bad = ~np.isfinite(arr) | (arr != np.round(arr))
        if bad.any():
            row = int(np.flatnonzero(bad.ravel())[0])
            raise TypeError(f"column '{name}', row {row}: value {arr.ravel()[row].item()!r} is not an integer count")
    elif arr.dtype.kind not in "iub":
        raise TypeError(f"column '{name}': expected integer counts, got dtype {arr.dtype}")
    return np.ascontiguousarray(arr, dtype=np.int64)


def _float_array(v: Any, name: str) -> np.ndarray:
    arr = np.asarray(v)
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"column '{name}': expected numbers, got dtype {arr.dtype}")
    return np.ascontiguousarray(arr, dtype=np.float64)


# ---------------------------------------------------------------------------------- rates
@dataclass(frozen=True)
class RateInterval:
    """A rate ``estimate = successes / trials`` with its confidence interval [lower, upper]."""

    successes: int
    trials: int
    estimate: float
    lower: float
    upper: float
    level: float
    method: str


@dataclass(frozen=True)
class TestResult:
    """Test statistic and p-value."""

    statistic: float
    p_value: float


@dataclass(frozen=True)
class Chi2Result:
    """Pearson chi-squared test of independence; ``corrected`` tells whether the Yates
    continuity correction was applied (only ever for 1 degree of freedom)."""

    statistic: float
    p_value: float
    dof: int
    corrected: bool


def rate_interval(successes: int, trials: int, *, level: float = 0.95, method: str = "wilson") -> RateInterval | None:
    """Confidence interval for ``successes`` of ``trials`` at confidence ``level``.

    ``method`` is one of ``"wilson"`` (default), ``"agresti_coull"``, ``"jeffreys"``,
    ``"clopper_pearson"``. Returns ``None`` when ``trials == 0`` (the rate is undefined).
    Raises ValueError for negative counts, successes > trials or a level outside (0, 1).
    """
    x, n = _count(successes, "successes"), _count(trials, "trials")
    d = _core.rate_intervals(np.array([x], dtype=np.int64), np.array([n], dtype=np.int64), float(level), method)
    if not d["defined"][0]:
        return None
    return RateInterval(x, n, float(d["estimate"][0]), float(d["lower"][0]), float(d["upper"][0]), float(level), method)


def rate_intervals(successes: Any, trials: Any, *, level: float = 0.95, method: str = "wilson") -> Any:
    """Vectorised :func:`rate_interval`: a pandas DataFrame with columns successes, trials,
    estimate, lower, upper, defined (False where trials == 0; the numbers are NaN there)."""
    import pandas as pd

    x = _int_array(successes, "successes").reshape(-1)
    n = _int_array(trials, "trials").reshape(-1)
    d = _core.rate_intervals(x, n, float(level), method)
    return pd.DataFrame({"successes": x, "trials": n, "estimate": d["estimate"], "lower": d["lower"],
                         "upper": d["upper"], "defined": d["defined"].astype(bool)})


def two_proportion_ztest(x1: int, n1: int, x2: int, n2: int, *, alternative: str = "two-sided") -> TestResult | None:
    """Pooled two-proportion z-test of rate 1 = x1/n1 against rate 2 = x2/n2.

    ``alternative``: ``"two-sided"``, ``"larger"`` (rate 1 > rate 2) or ``"smaller"``. Same
    statistic as ``statsmodels.stats.proportion.proportions_ztest([x1, x2], [n1, n2])``.
    Returns ``None`` when a group is empty or both rates are 0 (or both 1): the variance is 0.
    """
    r = _core.two_proportion_z_test(_count(x1, "x1"), _count(n1, "n1"), _count(x2, "x2"), _count(n2, "n2"),
                                    alternative)
    return None if r is None else TestResult(*r)


def chi2_test(table: Any, *, yates: bool = True) -> Chi2Result | None:
    """Chi-squared test of independence of an r x c table of counts (r, c >= 2).

    With ``yates=True`` (as ``scipy.stats.chi2_contingency``'s default) the continuity
    correction applies to 2x2 tables only. Returns ``None`` when a row or column sums to 0.
    For two rates pass ``[[x1, n1 - x1], [x2, n2 - x2]]``.
    """
    t = _int_array(table, "table")
    r = _core.chi2_independence(t, bool(yates))
    return None if r is None else Chi2Result(float(r[0]), float(r[1]), int(r[2]), bool(r[3]))


def probability_beta_greater(a_x: float, b_x: float, a_y: float, b_y: float) -> float:
    """P(X > Y) for independent X ~ Beta(a_x, b_x), Y ~ Beta(a_y, b_y), computed exactly (a
    finite sum or adaptive quadrature to about 1e-12), not by sampling."""
    return float(_core.probability_beta_greater(float(a_x), float(b_x), float(a_y), float(b_y)))


def probability_b_beats_a(x_a: int, n_a: int, x_b: int, n_b: int, *,
                          prior: tuple[float, float] = (1.0, 1.0)) -> float:
    """Posterior probability that rate B beats rate A, with a Beta(prior) prior on each rate
    (default uniform Beta(1, 1); Jeffreys is (0.5, 0.5))."""
    return float(_core.probability_b_beats_a(_count(x_a, "x_a"), _count(n_a, "n_a"), _count(x_b, "x_b"),
                                             _count(n_b, "n_b"), float(prior[0]), float(prior[1])))


def adjust_p_values(p_values: Any, *, method: str = "holm") -> np.ndarray:
    """Multiple-comparison adjustment: ``"holm"`` (family-wise error) or
    ``"benjamini_hochberg"`` (false discovery rate; also ``"bh"``, ``"fdr_bh"``). Same values as
    ``statsmodels.stats.multitest.multipletests(p, method="holm" / "fdr_bh")[1]``."""
    p = _float_array(p_values, "p_value").reshape(-1)
    return _core.adjust_p_values(p, method)


def compare_to_baseline(successes: Any, trials: Any, *, labels: Sequence[Any] | None = None, baseline: int = 0,
                        test: str = "z", adjust: str = "holm", level: float = 0.95, method: str = "wilson",
                        prior: tuple[float, float] = (1.0, 1.0)) -> Any:
    """Compares every segment's rate with the baseline segment (position ``baseline``).

    Returns a pandas DataFrame, one row per segment: segment, successes, trials, rate, lower,
    upper (interval by ``method``), and for non-baseline rows: difference (rate - baseline
    rate), statistic and p_value of the test (``"z"``: pooled z-test; ``"chi2"``: 2x2
    chi-squared with Yates; ``"chi2_plain"``: without), p_adjusted (``adjust``: ``"holm"``,
    ``"benjamini_hochberg"``, or ``"none"``) and prob_beats_baseline (Bayesian, Beta(prior)).
    Undefined tests (empty segment, zero variance) give NaN with ``tested = False``; they do
    not count in the adjustment.
    """
    import pandas as pd

    x = _int_array(successes, "successes").reshape(-1)
    n = _int_array(trials, "trials").reshape(-1)
    if len(x) != len(n):
        raise ValueError(f"column 'trials' has {len(n)} rows but column 'successes' has {len(x)}")
    if not 0 <= baseline < len(x):
        raise ValueError(f"option 'baseline': value {baseline} is not a segment position (0..{len(x) - 1})")
    if test not in ("z", "chi2", "chi2_plain"):
        raise ValueError(f"option 'test': value {test!r} is not one of 'z', 'chi2', 'chi2_plain'")
    labels = list(range(len(x))) if labels is None else list(labels)
    ci = rate_intervals(x, n, level=level, method=method)
    stat = np.full(len(x), np.nan)
    pval = np.full(len(x), np.nan)
    beats = np.full(len(x), np.nan)
    tested = np.zeros(len(x), dtype=bool)
    xb, nb = int(x[baseline]), int(n[baseline])
    for i in range(len(x)):
        if i == baseline:
            continue
        beats[i] = probability_b_beats_a(xb, nb, int(x[i]), int(n[i]), prior=prior)
        if test == "z":
            r = two_proportion_ztest(int(x[i]), int(n[i]), xb, nb)
        else:
            r = chi2_test([[x[i], n[i] - x[i]], [xb, nb - xb]], yates=test == "chi2") if n[i] > 0 and nb > 0 else None
        if r is not None:
            stat[i], pval[i], tested[i] = r.statistic, r.p_value, True
    adj = np.full(len(x), np.nan)
    if adjust == "none":
        adj[tested] = pval[tested]
    elif tested.any():
        adj[tested] = adjust_p_values(pval[tested], method=adjust)
    else:
        _core.adjust_p_values(np.zeros(0), adjust)  # validates the option name
    with np.errstate(invalid="ignore"):
        diff = ci["estimate"].to_numpy() - ci["estimate"].to_numpy()[baseline]
    diff[baseline] = np.nan
    return pd.DataFrame({
        "segment": labels, "successes": x, "trials": n, "rate": ci["estimate"], "lower": ci["lower"],
        "upper": ci["upper"], "is_baseline": np.arange(len(x)) == baseline, "difference": diff,
        "statistic": stat, "p_value": pval, "p_adjusted": adj, "tested": tested, "prob_beats_baseline": beats,
    })


# ------------------------------------------------------------------------------- survival
def _durations(v: Any, name: str = "duration") -> np.ndarray:
    arr = np.asarray(v)
    if arr.dtype.kind == "m":  # timedelta64: keep its own unit as a number
        if np.isnat(arr).any():
            raise ValueError(f"column '{name}', row {int(np.flatnonzero(np.isnat(arr))[0])}: value NaT is missing")
        arr = arr.astype(np.int64)
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"column '{name}': expected numeric durations, got dtype {arr.dtype}")
    return np.ascontiguousarray(arr, dtype=np.float64).reshape(-1)


@dataclass(frozen=True, repr=False)
class KaplanMeier:
    """Kaplan-Meier estimate. Arrays are indexed by the distinct durations ``time``.

    ``median`` is the smallest time with S(t) <= 0.5 (lifelines' convention), ``inf`` when the
    curve never falls that low (too many entities still open); ``median_ci`` applies the same
    rule to the exponential-Greenwood band.
    """

    time: np.ndarray
    at_risk: np.ndarray
    events: np.ndarray
    censored: np.ndarray
    survival: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    median: float
    median_ci: tuple[float, float]
    level: float

    def survival_at(self, t: Any) -> Any:
        """S(t) as a right-continuous step function (1 before the first time); scalar or array."""
        idx = np.searchsorted(self.time, np.asarray(t, dtype=np.float64), side="right")
        out = np.where(idx > 0, np.concatenate([[1.0], self.survival])[idx], 1.0)
        return float(out) if np.ndim(out) == 0 else out

    def percentile(self, q: float) -> float:
        """Smallest time with S(t) <= q (0 < q < 1); ``inf`` when never reached."""
        if not 0 < q < 1:
            raise ValueError(f"option 'q': value {q} must lie strictly between 0 and 1")
        hit = np.flatnonzero(self.survival <= q)
        return float(self.time[hit[0]]) if len(hit) else math.inf

    def to_pandas(self) -> Any:
        """One row per distinct duration: time, at_risk, events, censored, survival, lower, upper."""
        import pandas as pd

        return pd.DataFrame({"time": self.time, "at_risk": self.at_risk, "events": self.events,
                             "censored": self.censored, "survival": self.survival, "lower": self.lower,
                             "upper": self.upper})

    def __repr__(self) -> str:
        n = int(self.at_risk[0]) if len(self.at_risk) else 0
        return (f"KaplanMeier({n} durations, {int(self.events.sum())} events, median {self.median:g} "
                f"[{self.median_ci[0]:g}, {self.median_ci[1]:g}] at {self.level:.0%})")


def kaplan_meier(durations: Any, observed: Any = None, *, level: float = 0.95) -> KaplanMeier:
    """Kaplan-Meier survival curve for right-censored ``durations``.

    ``observed`` flags the rows whose event happened (e.g. converted); 0/False rows are
    censored (still open at the end of the data). ``None`` means all observed. Durations must be
    finite and >= 0 (numbers or timedelta64, in their own unit). Matches lifelines'
    ``KaplanMeierFitter`` (survival, confidence band, median).
    """
    d = _durations(durations)
    o = None
    if observed is not None:
        ob = np.asarray(observed).reshape(-1)
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
        o = np.ascontiguousarray(ob, dtype=np.uint8)
    r = _core.kaplan_meier(d, o, float(level))

    def inf(v: float | None) -> float:
        return math.inf if v is None else float(v)

    return KaplanMeier(r["time"], r["at_risk"], r["events"], r["censored"], r["survival"], r["lower"], r["upper"],
                       inf(r["median"]), (inf(r["median_lower"]), inf(r["median_upper"])), float(level))


@dataclass(frozen=True, repr=False)
class CumulativeIncidence:
    """Aalen-Johansen cumulative incidence of competing outcomes.

    ``incidence[j, k - 1]`` is the probability of having ended in outcome k by ``time[j]``;
    ``survival`` is the probability of no outcome yet. Incidences and survival add up to 1.
    """

    time: np.ndarray
    at_risk: np.ndarray
    censored: np.ndarray
    events: np.ndarray
    incidence: np.ndarray
    survival: np.ndarray
    labels: list[Any]

    def incidence_at(self, outcome: Any, t: Any) -> Any:
        """F_outcome(t) as a right-continuous step function (0 before the first time)."""
        k = self._index(outcome)
        idx = np.searchsorted(self.time, np.asarray(t, dtype=np.float64), side="right")
        out = np.concatenate([[0.0], self.incidence[:, k]])[idx]
        return float(out) if np.ndim(out) == 0 else out

    def final(self, outcome: Any) -> float:
        """Incidence at the last time: the share ending in ``outcome`` as far as the data tells."""
        k = self._index(outcome)
        return float(self.incidence[-1, k]) if len(self.time) else 0.0

    def _index(self, outcome: Any) -> int:
        try:
            return self.labels.index(outcome)
        except ValueError:
            raise ValueError(f"outcome {outcome!r} is not among {self.labels}") from None

    def to_pandas(self) -> Any:
        """One row per distinct duration: time, at_risk, censored, events_<label>,
        incidence_<label> for each outcome, survival."""
        import pandas as pd

        d: dict[str, Any] = {"time": self.time, "at_risk": self.at_risk, "censored": self.censored}
        for k, lab in enumerate(self.labels):
            d[f"events_{lab}"] = self.events[:, k]
        for k, lab in enumerate(self.labels):
            d[f"incidence_{lab}"] = self.incidence[:, k]
        d["survival"] = self.survival
        return pd.DataFrame(d)

    def __repr__(self) -> str:
        parts = ", ".join(f"{lab}: {self.final(lab):.3f}" for lab in self.labels)
        n = int(self.at_risk[0]) if len(self.at_risk) else 0
        return f"CumulativeIncidence({n} durations; final incidence {parts})"


def aalen_johansen(durations: Any, outcomes: Any, *, labels: Sequence[Any] | None = None) -> CumulativeIncidence:
    """Aalen-Johansen cumulative incidence for competing outcomes (e.g. won vs lost).

    ``outcomes`` holds 0 for censored (still open) and 1..K for the outcome; ``labels`` names
    outcomes 1..K (default 1..K). Ties at one time are processed together. Matches lifelines'
    ``AalenJohansenFitter`` on data without tied times (lifelines jitters ties at random).
    """
    d = _durations(durations)
    o = _frames.int32_codes(np.asarray(outcomes).reshape(-1), "outcome")
    r = _core.aalen_johansen(d, o)
    k = int(r["n_outcomes"])
    labs = list(range(1, k + 1)) if labels is None else list(labels)
    if len(labs) < k:
        raise ValueError(f"option 'labels': {len(labs)} labels for outcome codes up to {k}")
    if len(labs) > k:  # outcomes that never occurred: zero columns
        extra = len(labs) - k
        r["events"] = np.hstack([r["events"], np.zeros((len(r["time"]), extra), dtype=np.int64)])
        r["incidence"] = np.hstack([r["incidence"], np.zeros((len(r["time"]), extra))])
    return CumulativeIncidence(r["time"], r["at_risk"], r["censored"], r["events"], r["incidence"], r["survival"], labs)


# -------------------------------------------------------------------------- summaries
class DurationSummary:
    """Mergeable summary of durations: count, mean, median, p90, min, max.

    Moments stream through Boost.Accumulators; quantiles are exact, by numpy's default
    ("linear") interpolation, from the kept values (``keep_values=False`` keeps O(1) memory and
    leaves median and p90 undefined). Summaries of disjoint parts merge (``a + b``) into the
    summary of all; pickling uses funnelkit's versioned binary format.
    """

    __slots__ = ("_s",)

    def __init__(self, values: Any = None, *, keep_values: bool = True):
        self._s = _core.DurationSummary(bool(keep_values))
        if values is not None:
            self.fill(values)

    def fill(self, values: Any) -> DurationSummary:
        """Adds values (finite numbers, or timedelta64 in its own unit); returns self."""
        self._s.fill(_durations(values))
        return self

    @property
    def count(self) -> int:
        return int(self._s.count)

    @property
    def keeps_values(self) -> bool:
        return bool(self._s.keeps_values)

    def quantile(self, q: float) -> float | None:
        """The q-quantile (numpy linear interpolation); None when empty or values not kept."""
        return self._s.quantile(float(q))

    def stats(self) -> dict[str, Any]:
        """count, mean, median, p90, min, max (None where undefined)."""
        return self._s.stats()

    def to_pandas(self) -> Any:
        import pandas as pd

        return pd.DataFrame([self.stats()])

    def merge(self, other: DurationSummary) -> DurationSummary:
        if not isinstance(other, DurationSummary):
            raise TypeError(f"cannot merge a DurationSummary with {type(other).__name__}")
        self._s.merge(other._s)
        return self

    def __add__(self, other: DurationSummary) -> DurationSummary:
        out = DurationSummary.from_bytes(self.to_bytes())
        return out.merge(other)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DurationSummary) and self._s == other._s

    __hash__ = None  # type: ignore[assignment]

    def to_bytes(self) -> bytes:
        return self._s.serialize()

    @classmethod
    def from_bytes(cls, data: bytes) -> DurationSummary:
        out = cls.__new__(cls)
        out._s = _core.DurationSummary.deserialize(bytes(data))
        return out

    def __reduce__(self) -> tuple[Any, ...]:
        return (DurationSummary.from_bytes, (self.to_bytes(),))

    def __repr__(self) -> str:
        s = self.stats()
        if not s["count"]:
            return "DurationSummary(empty)"
        fields = ", ".join(f"{k} {s[k]:g}" for k in ("mean", "median", "p90", "min", "max") if s[k] is not None)
        return f"DurationSummary(count {s['count']}, {fields})"


def describe_durations(durations: Any, by: Any = None, *, name: str = "segment") -> Any:
    """count, mean, median, p90, min, max of ``durations``, overall or per group of ``by``
    (any array-like of labels, same length). Returns a pandas DataFrame, one row per group in
    sorted label order."""
    import pandas as pd

    d = _durations(durations)
    if by is None:
        return DurationSummary(d).to_pandas()
    codes, labels = _frames.category_codes(by, name)
    if len(codes) != len(d):
        raise ValueError(f"column '{name}' has {len(codes)} rows but column 'duration' has {len(d)}")
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(labels) + 1))
    rows = []
    for k, lab in enumerate(labels):
        s = DurationSummary(d[order[bounds[k]:bounds[k + 1]]]).stats()
        rows.append({name: lab, **s})
    return pd.DataFrame(rows, columns=[name, "count", "mean", "median", "p90", "min", "max"])
