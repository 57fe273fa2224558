"""Statistics of conversion rates: confidence intervals, tests that compare two rates, the
Bayesian probability that one rate beats another and multiple-comparison adjustment.

Rates (x successes of n trials, confidence 1 - alpha, z the 1 - alpha/2 normal quantile):

- ``wilson`` (default): ``(x + z^2/2 +- z*sqrt(x(n-x)/n + z^2/4)) / (n + z^2)``;
- ``agresti_coull``: ``p~ +- z*sqrt(p~(1-p~)/n~)``, ``n~ = n + z^2``, ``p~ = (x + z^2/2)/n~``;
- ``jeffreys``: Beta(x+1/2, n-x+1/2) quantiles, lower bound 0 at x = 0, upper 1 at x = n;
- ``clopper_pearson``: Beta quantiles with (x, n-x+1) and (x+1, n-x).

Wilson and Agresti-Coull bounds are clipped to [0, 1]. With n = 0 a rate is undefined:
scalar functions return ``None`` and tables carry ``defined = False`` with null bounds.

Two-sample functions take sample A's counts first, then sample B's, and report B against A
(a positive z means B's rate is higher). Every number comes from the compiled core
(``include/funnelkit/rates.hpp``); this module converts inputs and names the results.

Array arguments are array-likes (lists, numpy arrays, pandas or Polars Series, Arrow arrays)
or, with ``data=`` (a pandas or Polars DataFrame or LazyFrame, an Arrow table, a DuckDB
relation or a dict of arrays), names of columns of ``data``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from . import _core, _frames, _names
from ._result import Scalar, Table

__all__ = [
    "INTERVALS",
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
]

T = TypeVar("T")

#: The interval methods, in one vocabulary for every function that reports a rate.
INTERVALS = ("wilson", "agresti_coull", "jeffreys", "clopper_pearson")
_ALTERNATIVES = ("two-sided", "larger", "smaller")
_ADJUSTMENTS = ("holm", "benjamini_hochberg", "bh", "fdr_bh")

_INTERVAL_TEXT = {
    "wilson": "the Wilson score interval (x + z^2/2 +- z*sqrt(x(n-x)/n + z^2/4)) / (n + z^2), clipped to [0, 1]",
    "agresti_coull": "the Agresti-Coull interval p~ +- z*sqrt(p~(1-p~)/n~) with n~ = n + z^2 and "
                     "p~ = (x + z^2/2)/n~, clipped to [0, 1]",
    "jeffreys": "the Jeffreys interval: the alpha/2 and 1-alpha/2 quantiles of Beta(x+1/2, n-x+1/2), with "
                "lower bound 0 when x = 0 and upper bound 1 when x = n",
    "clopper_pearson": "the Clopper-Pearson (exact) interval: the alpha/2 quantile of Beta(x, n-x+1) and the "
                       "1-alpha/2 quantile of Beta(x+1, n-x)",
}


def interval_definition(interval: str) -> str:
    """The definition of a rate and its interval, in words (for ``explain()``)."""
    return (f"rate = x / n for x successes of n trials, with {_INTERVAL_TEXT[interval]}, at confidence "
            f"1 - alpha (z is the 1 - alpha/2 standard normal quantile); undefined when n = 0.")


# -- shared input handling (also used by survival, accumulators and lifecycle) -------------------
def renamed(new: T, old: T | None, new_name: str, old_name: str, where: str) -> T:
    """The value of a renamed option: the old keyword still works for one release and emits a
    DeprecationWarning naming the new one."""
    if old is None:
        return new
    warnings.warn(f"{where}: option '{old_name}' is deprecated; use '{new_name}'", DeprecationWarning, stacklevel=3)
    return old


def check_confidence(value: Any, option: str = "confidence") -> float:
    """A confidence level strictly between 0 and 1."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"option '{option}': expected a number between 0 and 1 such as 0.95, got {value!r}")
    if not 0.0 < float(value) < 1.0:
        raise ValueError(f"option '{option}': value {value!r} must lie strictly between 0 and 1 (e.g. 0.95)")
    return float(value)


def check_interval(value: Any, option: str = "interval") -> str:
    """One of :data:`INTERVALS`, with the closest names suggested for a misspelling."""
    return _names.choice(value, INTERVALS, option)


def array_arg(value: Any, data: Any, option: str) -> np.ndarray:
    """An array argument: the array-like itself, or with ``data`` the column of that name."""
    if data is None:
        if isinstance(value, str):
            raise TypeError(f"option '{option}': {value!r} looks like a column name; pass data= as well")
        arr = value.to_numpy() if hasattr(value, "to_numpy") and not isinstance(value, np.ndarray) else value
        return np.asarray(arr)
    if not isinstance(value, str):
        raise TypeError(f"option '{option}': with data=, pass the name of a column, got {type(value).__name__}")
    return _frames.column(data, value, option)


def _count(v: Any, name: str) -> int:
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
        if isinstance(v, (float, np.floating)) and float(v).is_integer():
            return int(v)
        raise TypeError(f"option '{name}': expected an integer count, got {v!r}")
    return _in_int64(int(v), f"option '{name}'")


_INT64 = (-2 ** 63, 2 ** 63 - 1)


def _in_int64(v: int, where: str) -> int:
    """A count that fits the 64-bit integers of the kernels (beyond them it would wrap)."""
    if not _INT64[0] <= v <= _INT64[1]:
        raise ValueError(f"{where}: value {v} does not fit in a 64-bit integer count")
    return v


def _cell(arr: np.ndarray, flat: int) -> str:
    """Where the flat index ``flat`` is: its row, and its column for a table."""
    if arr.ndim == 2:
        r, c = np.unravel_index(flat, arr.shape)
        return f"row {int(r)}, column {int(c)}"
    return f"row {flat}"


def int_array(v: Any, name: str) -> np.ndarray:
    """Integer counts as int64; fractional, missing or non-numeric values name the row."""
    arr = np.asarray(v)
    # Python integers beyond int64 make an object, uint64 or float64 array (the last one rounded):
    # name the first one with its exact value
    ints = np.array(v, dtype=object) if isinstance(v, (list, tuple)) or arr.dtype.kind == "O" else None
    if ints is not None and all(isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_))
                                for x in ints.ravel()):
        for flat, x in enumerate(ints.ravel()):
            _in_int64(int(x), f"column '{name}', {_cell(ints, flat)}")
    if arr.dtype.kind == "f":
        bad = ~np.isfinite(arr) | (arr != np.round(arr))
        if bad.any():
            flat = int(np.flatnonzero(bad.ravel())[0])
            raise TypeError(f"column '{name}', {_cell(arr, flat)}: value {arr.ravel()[flat].item()!r} is not an "
                            "integer count")
        big = (arr < -2.0 ** 63) | (arr >= 2.0 ** 63)
    elif arr.dtype.kind == "u":
        big = arr > np.uint64(_INT64[1])
    elif arr.dtype.kind not in "ib":
        raise TypeError(f"column '{name}': expected integer counts, got dtype {arr.dtype}")
    else:
        big = np.zeros(arr.shape, dtype=bool)
    if big.any():  # a cast would wrap these to other (often negative) numbers
        flat = int(np.flatnonzero(big.ravel())[0])
        raise ValueError(f"column '{name}', {_cell(arr, flat)}: value {arr.ravel()[flat].item()!r} does not fit in "
                         "a 64-bit integer count")
    return np.ascontiguousarray(arr, dtype=np.int64)


def count_array(value: Any, data: Any, option: str) -> np.ndarray:
    """Integer counts of an array argument, flat. A list goes to int_array as it is, so that an
    integer beyond int64 is named with its exact value (not as numpy's uint64 or float)."""
    raw = value if data is None and isinstance(value, (list, tuple)) else array_arg(value, data, option)
    return int_array(raw, option).reshape(-1)


def _float_array(v: Any, name: str) -> np.ndarray:
    arr = np.asarray(v)
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"column '{name}': expected numbers, got dtype {arr.dtype}")
    return np.ascontiguousarray(arr, dtype=np.float64)


def _core_intervals(x: np.ndarray, n: np.ndarray, confidence: float, interval: str) -> dict[str, np.ndarray]:
    return _core.rate_intervals(np.ascontiguousarray(x, dtype=np.int64), np.ascontiguousarray(n, dtype=np.int64),
                                confidence, interval)


# -- scalar results ------------------------------------------------------------------------------
@dataclass(frozen=True)
class RateInterval(Scalar):
    """A rate ``estimate = successes / trials`` with its confidence interval [lower, upper] at
    ``confidence``, by the method ``interval``."""

    successes: int
    trials: int
    estimate: float
    lower: float
    upper: float
    confidence: float
    interval: str

    @property
    def definition(self) -> str:  # type: ignore[override]
        """The definition of the rate and of its interval method, in words."""
        return interval_definition(self.interval)

    @property
    def level(self) -> float:
        """Deprecated: use ``confidence``."""
        warnings.warn("RateInterval.level is deprecated; use RateInterval.confidence", DeprecationWarning,
                      stacklevel=2)
        return self.confidence

    @property
    def method(self) -> str:
        """Deprecated: use ``interval``."""
        warnings.warn("RateInterval.method is deprecated; use RateInterval.interval", DeprecationWarning,
                      stacklevel=2)
        return self.interval


@dataclass(frozen=True)
class TestResult(Scalar):
    """The pooled two-proportion z-test of sample B against sample A: ``statistic`` (z, positive
    when B's rate is higher) and ``p_value`` for the ``alternative``."""

    __test__ = False  # not a pytest test class

    statistic: float
    p_value: float
    alternative: str = "two-sided"

    @property
    def definition(self) -> str:  # type: ignore[override]
        """The test's formula in words."""
        alt = {"two-sided": "P(|Z| >= |z|) (two-sided)", "larger": "P(Z >= z) (alternative: B's rate is larger)",
               "smaller": "P(Z <= z) (alternative: B's rate is smaller)"}[self.alternative]
        return ("Pooled two-proportion z-test of B against A: p = (x_a + x_b) / (n_a + n_b), z = (x_b/n_b - x_a/n_a) "
                f"/ sqrt(p(1-p)(1/n_a + 1/n_b)), positive when B's rate is higher; p_value = {alt} for a "
                "standard normal Z.")


@dataclass(frozen=True)
class Chi2Result(Scalar):
    """Pearson chi-squared test of independence; ``corrected`` tells whether the Yates
    continuity correction was applied (only ever for 1 degree of freedom)."""

    statistic: float
    p_value: float
    dof: int
    corrected: bool

    definition = ("Pearson chi-squared test of independence of an r x c table of counts: statistic = sum over cells "
                  "of (observed - expected)^2 / expected with expected = row sum * column sum / total, dof = "
                  "(r-1)(c-1); with Yates' correction (2x2 tables only) each |observed - expected| is first reduced "
                  "by min(0.5, |observed - expected|); p_value = P(chi2(dof) >= statistic).")


# -- intervals -------------------------------------------------------------------------------------
def rate_interval(successes: int, trials: int, *, confidence: float = 0.95, interval: str = "wilson",
                  level: float | None = None, method: str | None = None) -> RateInterval | None:
    """Confidence interval for ``successes`` of ``trials`` (a proportion, 0..1).

    ``confidence`` is the level 1 - alpha (default 0.95); ``interval`` is one of
    ``"wilson"`` (default), ``"agresti_coull"``, ``"jeffreys"``, ``"clopper_pearson"`` (see the
    module documentation for the formulas). Returns ``None`` when ``trials == 0`` (the rate is
    undefined). Raises ValueError for negative counts, successes > trials or a confidence
    outside (0, 1). ``level=`` and ``method=`` are deprecated aliases.
    """
    confidence = check_confidence(renamed(confidence, level, "confidence", "level", "rate_interval()"))
    interval = check_interval(renamed(interval, method, "interval", "method", "rate_interval()"))
    x, n = _count(successes, "successes"), _count(trials, "trials")
    d = _core_intervals(np.array([x]), np.array([n]), confidence, interval)
    if not d["defined"][0]:
        return None
    return RateInterval(x, n, float(d["estimate"][0]), float(d["lower"][0]), float(d["upper"][0]), confidence,
                        interval)


def rate_intervals(successes: Any, trials: Any, *, data: Any = None, confidence: float = 0.95,
                   interval: str = "wilson", level: float | None = None, method: str | None = None) -> Table:
    """Vectorised :func:`rate_interval`: a Table with columns successes, trials, estimate,
    lower, upper (proportions, 0..1) and defined (False where trials == 0; the numbers are null
    there).

    ``successes`` and ``trials`` are array-likes of counts, or column names of ``data``.
    ``level=`` and ``method=`` are deprecated aliases of ``confidence=`` and ``interval=``.
    """
    confidence = check_confidence(renamed(confidence, level, "confidence", "level", "rate_intervals()"))
    interval = check_interval(renamed(interval, method, "interval", "method", "rate_intervals()"))
    table = None if data is None else _frames.as_table(data)
    x = count_array(successes, table, "successes")
    n = count_array(trials, table, "trials")
    d = _core_intervals(x, n, confidence, interval)
    return Table({"successes": x, "trials": n, "estimate": d["estimate"], "lower": d["lower"], "upper": d["upper"],
                  "defined": d["defined"].astype(bool)},
                 name="RateIntervals", definition=interval_definition(interval),
                 inputs={"rows": int(len(x))}, options={"confidence": confidence, "interval": interval})


# -- tests -----------------------------------------------------------------------------------------
def two_proportion_ztest(x_a: int | None = None, n_a: int | None = None, x_b: int | None = None,
                         n_b: int | None = None, *, alternative: str = "two-sided",
                         **deprecated: int) -> TestResult | None:
    """Pooled two-proportion z-test of sample B (``x_b`` of ``n_b``) against sample A (``x_a``
    of ``n_a``).

    z = (x_b/n_b - x_a/n_a) / sqrt(p(1-p)(1/n_a + 1/n_b)) with the pooled rate p = (x_a + x_b) /
    (n_a + n_b): positive when B's rate is higher. ``alternative``: ``"two-sided"``,
    ``"larger"`` (B's rate > A's) or ``"smaller"``. Same numbers as
    ``statsmodels.stats.proportion.proportions_ztest([x_b, x_a], [n_b, n_a])``. Returns ``None``
    when a sample is empty or both rates are 0 (or both 1): the variance is 0.

    The former keywords ``x1, n1`` (the sample tested, now B) and ``x2, n2`` (the reference,
    now A) still work with a DeprecationWarning and give the former answer.
    """
    old = {"x1": "x_b", "n1": "n_b", "x2": "x_a", "n2": "n_a"}
    given = {"x_a": x_a, "n_a": n_a, "x_b": x_b, "n_b": n_b}
    for key, value in deprecated.items():
        if key not in old:
            raise TypeError(f"two_proportion_ztest() got an unexpected keyword argument {key!r}")
        if given[old[key]] is not None:
            raise TypeError(f"two_proportion_ztest() got both {old[key]!r} and its deprecated alias {key!r}")
        given[old[key]] = value
    if deprecated:
        renames = ", ".join(f"'{k}' is deprecated; use '{old[k]}'" for k in deprecated)
        warnings.warn(f"two_proportion_ztest(): {renames} (sample B is tested against sample A)", DeprecationWarning,
                      stacklevel=2)
    for key, value in given.items():
        if value is None:
            raise TypeError(f"two_proportion_ztest() missing required argument {key!r}")
    alternative = _names.choice(alternative, _ALTERNATIVES, "alternative")
    counts = {k: _count(v, k) for k, v in given.items()}
    r = _core.two_proportion_ztest(counts["x_a"], counts["n_a"], counts["x_b"], counts["n_b"], alternative)
    return None if r is None else TestResult(float(r[0]), float(r[1]), alternative)


def chi2_test(table: Any, *, yates: bool = True) -> Chi2Result | None:
    """Chi-squared test of independence of an r x c table of counts (r, c >= 2).

    With ``yates=True`` (as ``scipy.stats.chi2_contingency``'s default) the continuity
    correction applies to 2x2 tables only. Returns ``None`` when a row or column sums to 0.
    For two rates pass ``[[x_a, n_a - x_a], [x_b, n_b - x_b]]``.
    """
    t = int_array(table, "table")
    r = _core.chi2_test(t, bool(yates))
    return None if r is None else Chi2Result(float(r[0]), float(r[1]), int(r[2]), bool(r[3]))


def probability_beta_greater(a_x: float, b_x: float, a_y: float, b_y: float) -> float:
    """P(X > Y) (a probability, 0..1) for independent X ~ Beta(a_x, b_x), Y ~ Beta(a_y, b_y),
    computed exactly (a finite sum or adaptive quadrature to about 1e-12), not by sampling."""
    return float(_core.probability_beta_greater(float(a_x), float(b_x), float(a_y), float(b_y)))


def probability_b_beats_a(x_a: int, n_a: int, x_b: int, n_b: int, *,
                          prior: tuple[float, float] = (1.0, 1.0)) -> float:
    """Posterior probability (0..1) that B's rate beats A's, P(p_B > p_A), with p_A ~
    Beta(prior[0] + x_a, prior[1] + n_a - x_a) and p_B likewise: a Beta(prior) prior on each rate
    (default uniform Beta(1, 1); Jeffreys is (0.5, 0.5)). Empty samples are allowed (the
    posterior is the prior)."""
    return float(_core.probability_b_beats_a(_count(x_a, "x_a"), _count(n_a, "n_a"), _count(x_b, "x_b"),
                                             _count(n_b, "n_b"), float(prior[0]), float(prior[1])))


def _adjust_name(method: str, option: str) -> str:
    name = _names.choice(method, _ADJUSTMENTS, option)
    return "benjamini_hochberg" if name in ("bh", "fdr_bh") else name


_ADJUST_TEXT = {
    "holm": "Holm (family-wise error): with the p-values sorted ascending p_(1..m), p_adjusted_(i) = "
            "max over j <= i of (m-j+1) p_(j), capped at 1",
    "benjamini_hochberg": "Benjamini-Hochberg (false discovery rate): with the p-values sorted ascending "
                          "p_(1..m), p_adjusted_(i) = min over j >= i of m p_(j) / j, capped at 1",
}


def adjust_p_values(p_values: Any, *, data: Any = None, method: str = "holm") -> Table:
    """Multiple-comparison adjustment of p-values: a Table with columns p_value (as given) and
    p_adjusted, in the input order.

    ``method``: ``"holm"`` (family-wise error) or ``"benjamini_hochberg"`` (false discovery
    rate; also ``"bh"``, ``"fdr_bh"``). Same values as
    ``statsmodels.stats.multitest.multipletests(p, method="holm" / "fdr_bh")[1]``.
    ``p_values`` is an array-like or a column name of ``data``.
    """
    method = _adjust_name(method, "method")
    table = None if data is None else _frames.as_table(data)
    p = _float_array(array_arg(p_values, table, "p_value"), "p_value").reshape(-1)
    adj = _core.adjust_p_values(p, method)
    return Table({"p_value": p, "p_adjusted": np.asarray(adj, dtype=np.float64)}, name="AdjustedPValues",
                 definition=_ADJUST_TEXT[method] + ".", inputs={"rows": int(len(p))}, options={"method": method})


# -- many segments against one -------------------------------------------------------------------------
_TESTS = ("z", "chi2", "chi2_plain")


def compare_to_baseline(successes: Any, trials: Any, *, data: Any = None, segment: Any = None, baseline: Any = 0,
                        test: str = "z", adjust: str = "holm", confidence: float = 0.95, interval: str = "wilson",
                        prior: tuple[float, float] = (1.0, 1.0), labels: Sequence[Any] | None = None,
                        level: float | None = None, method: str | None = None) -> Table:
    """Compares every segment's rate (B) with the baseline segment's (A).

    ``successes`` and ``trials`` are array-likes of counts per segment (or column names of
    ``data``); ``segment`` gives the segment labels (an array-like, or a column name of
    ``data``; default positions 0..k-1). ``baseline`` is a segment label (or, without labels,
    a position). Returns a Table, one row per segment: segment, successes, trials, rate,
    lower, upper (interval by ``interval`` at ``confidence``), is_baseline, and for the other
    rows: difference (rate - baseline rate), statistic and p_value of the test of the segment
    against the baseline (``"z"``: pooled z-test, positive when the segment's rate is higher;
    ``"chi2"``: 2x2 chi-squared with Yates; ``"chi2_plain"``: without), p_adjusted
    (``adjust``: ``"holm"``, ``"benjamini_hochberg"``, or ``"none"``), tested, and
    prob_beats_baseline (P(segment's rate > baseline's) under Beta(prior) priors). Undefined
    tests (empty segment, zero variance) give null with ``tested = False``; they do not count
    in the adjustment.

    Deprecated aliases: ``labels=`` (``segment=``), ``level=`` (``confidence=``), ``method=``
    (``interval=``).
    """
    where = "compare_to_baseline()"
    confidence = check_confidence(renamed(confidence, level, "confidence", "level", where))
    interval = check_interval(renamed(interval, method, "interval", "method", where))
    segment = renamed(segment, labels, "segment", "labels", where)
    test = _names.choice(test, _TESTS, "test")
    adjust = "none" if adjust == "none" else _adjust_name(adjust, "adjust")
    table = None if data is None else _frames.as_table(data)
    x = count_array(successes, table, "successes")
    n = count_array(trials, table, "trials")
    if len(x) != len(n):
        raise ValueError(f"column 'trials' has {len(n)} rows but column 'successes' has {len(x)}")
    seg_name = segment if isinstance(segment, str) and table is not None else "segment"
    if segment is None:
        seg_labels: list[Any] = list(range(len(x)))
    else:
        seg_labels = [_frames._plain(v) for v in array_arg(segment, table, "segment").tolist()]
        if len(seg_labels) != len(x):
            raise ValueError(f"column '{seg_name}' has {len(seg_labels)} rows but column 'successes' has {len(x)}")
    base = _baseline_index(baseline, seg_labels, labelled=segment is not None)
    c = _core.compare_to_baseline(x, n, _core.BaselineOptions(
        baseline=base, test=test, adjust=adjust, confidence=confidence, interval=interval,
        prior_alpha=float(prior[0]), prior_beta=float(prior[1])))
    test_text = {"z": "the pooled two-proportion z-test of the segment (B) against the baseline (A), z > 0 when "
                      "the segment's rate is higher",
                 "chi2": "the 2x2 chi-squared test with Yates' correction",
                 "chi2_plain": "the 2x2 chi-squared test without correction"}[test]
    definition = (f"Each segment against the baseline segment {seg_labels[base]!r}: rate = successes / trials with "
                  f"{_INTERVAL_TEXT[interval]} at confidence {confidence:g}; difference = rate - baseline rate; "
                  f"statistic and p_value of {test_text}; p_adjusted by "
                  + ("no adjustment" if adjust == "none" else _ADJUST_TEXT[adjust])
                  + " over the tested segments; prob_beats_baseline = P(segment rate > baseline rate) with "
                  f"Beta({prior[0]:g} + x, {prior[1]:g} + n - x) posteriors.")
    cols: dict[str, Any] = {seg_name: seg_labels, "successes": x, "trials": n}
    cols.update({k: c[k].astype(bool) if k in ("is_baseline", "tested") else c[k] for k in (
        "rate", "lower", "upper", "is_baseline", "difference", "statistic", "p_value", "p_adjusted", "tested",
        "prob_beats_baseline")})
    return Table(cols,
                 name="BaselineComparison", definition=definition, inputs={"segments": int(len(x))},
                 options={"baseline": seg_labels[base], "test": test, "adjust": adjust, "confidence": confidence,
                          "interval": interval, "prior": list(prior)})


def _baseline_index(baseline: Any, labels: list[Any], *, labelled: bool) -> int:
    """The row of the baseline: a segment label, or a position when there are no labels (or the
    position is not itself a label)."""
    is_int = isinstance(baseline, (int, np.integer)) and not isinstance(baseline, (bool, np.bool_))
    if labelled and not isinstance(baseline, (bool, np.bool_)) and baseline in labels:
        return labels.index(baseline)
    if is_int and 0 <= int(baseline) < len(labels):
        return int(baseline)
    if labelled:
        raise ValueError(_names.unknown("segment", baseline, labels, where="option 'baseline'"))
    raise ValueError(f"option 'baseline': value {baseline!r} is not a segment position (0..{len(labels) - 1})")
