"""Statistics for funnels, in one namespace: rate intervals and segment comparisons
(:mod:`funnelkit.rates`, with the interval formulas), survival curves
(:mod:`funnelkit.survival`) and mergeable duration summaries (:mod:`funnelkit.accumulators`),
each the Python side of the C++ header of the same name (``rates.hpp``, ``survival.hpp``,
``accumulators.hpp``).

Options use one vocabulary: ``confidence=`` (formerly ``level=``) and ``interval=`` (formerly
``method=``); two-sample functions take A first, then B, and report B against A. Undefined
numbers (a rate of 0 trials) are ``None`` from scalar functions and null in tables. Durations
are numbers in the caller's unit, or timedeltas; results say their unit. Open (still-running)
entities are right-censored: see :func:`kaplan_meier`.
"""

from __future__ import annotations

from . import accumulators as _accumulators
from . import rates as _rates
from . import survival as _survival
from .accumulators import *  # noqa: F403
from .rates import *  # noqa: F403
from .survival import *  # noqa: F403

__all__ = [*_rates.__all__, *_survival.__all__, *_accumulators.__all__]
