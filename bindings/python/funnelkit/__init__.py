"""funnelkit: sales and marketing funnel analytics.

Stage models with owners, handoffs, recycling and terminal outcomes; conversion rates over CRM
stage histories; and the built-in synthetic CRM data set. The compiled core is C++; this package
takes pandas, Polars, PyArrow, DuckDB or dict-of-numpy input and returns DataFrames.
"""

from __future__ import annotations

from . import _core

__version__: str = _core.__version__

from ._result import Explanation, Mergeable, Scalar, Table, restore  # noqa: E402
from .conversion import ConversionTable, conversion  # noqa: E402
from .funnel_analysis import FunnelAnalysis, funnel_analysis  # noqa: E402
from .window_funnel import WindowFunnel, window_funnel  # noqa: E402
from .lifecycle import Lifecycle, LifecycleSummary, lifecycle  # noqa: E402
from .model import Stage, StageModel  # noqa: E402
from .sample import sample_crm, sample_crm_arrays, sample_labels, sample_model, sample_touches  # noqa: E402
from . import closed_loop, revenue, stats  # noqa: E402  (modules kept for code written against them)
from .attribution import AttributionResult, attribute, compare_attribution  # noqa: E402
from .audit import AuditResult, qualification_audit, roc_auc  # noqa: E402
from .campaign import CampaignReport, campaign_report  # noqa: E402
from .markov import AbsorbingChain, solve_absorbing_chain  # noqa: E402
from .drivers import Drivers, drivers, dropoff_drivers  # noqa: E402
from .planning import (  # noqa: E402
    CapacityResult,
    FunnelPlan,
    LagModel,
    LagTable,
    LeadPlan,
    ceil_whole,
    estimate_lags,
    plan_reverse_funnel,
    reps_needed,
    split_goal,
    steps_from_conversion,
)
from .forecast import (  # noqa: E402
    ForecastBacktest,
    ForecastOptions,
    PipelineForecast,
    WeightedPipeline,
    backtest_forecast,
    forecast_pipeline,
)
from .revenue import revenue_report  # noqa: E402
from .sla import ResponseSLA, VolumeSLA, sla_response, sla_volume  # noqa: E402
from .suppression import SuppressionCheck, SuppressionList, normalise_key  # noqa: E402
from .velocity import (  # noqa: E402
    VelocityDecomposition,
    VelocityTable,
    decompose_velocity,
    opportunities_from_stages,
    velocity,
    velocity_formula,
)
from .stats import (  # noqa: E402
    CumulativeIncidence,
    DurationSummary,
    KaplanMeier,
    aalen_johansen,
    adjust_p_values,
    chi2_test,
    compare_to_baseline,
    describe_durations,
    kaplan_meier,
    probability_b_beats_a,
    rate_interval,
    rate_intervals,
    two_proportion_ztest,
)

__all__ = [
    "__version__",
    "Explanation",
    "Mergeable",
    "Scalar",
    "Table",
    "restore",
    "Stage",
    "StageModel",
    "ConversionTable",
    "conversion",
    "FunnelAnalysis",
    "WindowFunnel",
    "funnel_analysis",
    "window_funnel",
    "Lifecycle",
    "LifecycleSummary",
    "lifecycle",
    "sample_crm",
    "sample_crm_arrays",
    "sample_labels",
    "sample_model",
    "sample_touches",
    "stats",
    "revenue",
    "closed_loop",
    "AbsorbingChain",
    "AttributionResult",
    "AuditResult",
    "CampaignReport",
    "SuppressionCheck",
    "SuppressionList",
    "attribute",
    "campaign_report",
    "compare_attribution",
    "normalise_key",
    "qualification_audit",
    "roc_auc",
    "solve_absorbing_chain",
    "CapacityResult",
    "FunnelPlan",
    "LagModel",
    "LagTable",
    "LeadPlan",
    "ResponseSLA",
    "VelocityDecomposition",
    "VelocityTable",
    "VolumeSLA",
    "ceil_whole",
    "decompose_velocity",
    "estimate_lags",
    "opportunities_from_stages",
    "plan_reverse_funnel",
    "reps_needed",
    "revenue_report",
    "sla_response",
    "sla_volume",
    "split_goal",
    "steps_from_conversion",
    "velocity",
    "velocity_formula",
    "ForecastBacktest",
    "ForecastOptions",
    "PipelineForecast",
    "WeightedPipeline",
    "backtest_forecast",
    "forecast_pipeline",
    "CumulativeIncidence",
    "DurationSummary",
    "KaplanMeier",
    "aalen_johansen",
    "adjust_p_values",
    "chi2_test",
    "compare_to_baseline",
    "describe_durations",
    "kaplan_meier",
    "probability_b_beats_a",
    "rate_interval",
    "rate_intervals",
    "two_proportion_ztest",
    "Drivers",
    "drivers",
    "dropoff_drivers",
]
