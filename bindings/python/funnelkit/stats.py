"""Statistics for funnels, in one namespace: rate intervals and segment comparisons
(:mod:`funnelkit.rates`), survival curves (:mod:`funnelkit.survival`) and mergeable duration
summaries (:mod:`funnelkit.accumulators`), each the Python side of the C++ header of the same
name (``rates.hpp``, ``survival.hpp``, ``accumulators.hpp``).

Rates (x successes of n trials, confidence 1 - alpha, z the 1 - alpha/2 normal quantile):

- ``wilson`` (default): ``(x + z^2/2 +- z*sqrt(x(n-x)/n + z^2/4)) / (n + z^2)``;
- ``agresti_coull``: ``p~ +- z*sqrt(p~(1-p~)/n~)``, ``n~ = n + z^2``, ``p~ = (x + z^2/2)/n~``;
- ``jeffreys``: Beta(x+1/2, n-x+1/2) quantiles, lower bound 0 at x = 0, upper 1 at x = n;
- ``clopper_pearson``: Beta quantiles with (x, n-x+1) and (x+1, n-x).

Wilson and Agresti-Coull bounds are clipped to [0, 1]. With n = 0 a rate is undefined:
scalar functions return ``None`` and tables carry ``defined = False`` with null bounds.
Two-sample functions take A first, then B, and report B against A. Options use one vocabulary:
``confidence=`` (formerly ``level=``) and ``interval=`` (formerly ``method=``).

Durations are plain numbers in whatever unit the caller uses (seconds, days), or timedeltas;
results say their unit. Open (still-running) entities are right-censored: see
:func:`kaplan_meier`.
"""

from __future__ import annotations

from .accumulators import DurationSummary, describe_durations
from .rates import (
    INTERVALS,
    Chi2Result,
    RateInterval,
    TestResult,
    adjust_p_values,
    chi2_test,
    compare_to_baseline,
    probability_b_beats_a,
    probability_beta_greater,
    rate_interval,
    rate_intervals,
    two_proportion_ztest,
)
from .survival import CumulativeIncidence, KaplanMeier, aalen_johansen, kaplan_meier

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
    "KaplanMeier",
    "kaplan_meier",
    "CumulativeIncidence",
    "aalen_johansen",
    "DurationSummary",
    "describe_durations",
]
