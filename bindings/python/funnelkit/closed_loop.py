"""Closed-loop reporting: the names of :mod:`funnelkit.campaign`, :mod:`funnelkit.attribution`,
:mod:`funnelkit.markov`, :mod:`funnelkit.suppression` and :mod:`funnelkit.audit` in one place.

Each concept lives in its own module (campaign report, attribution, absorbing Markov chain,
suppression, qualification audit); this module re-exports them for code written against the
former single module.
"""

from __future__ import annotations

from .attribution import MODELS, AttributionResult, attribute, compare_attribution
from .audit import AuditResult, qualification_audit, roc_auc
from .campaign import INTERVALS, TOTAL, CampaignReport, campaign_report
from .markov import AbsorbingChain, solve_absorbing_chain
from .suppression import SuppressionCheck, SuppressionList, normalise_key

__all__ = [
    "AbsorbingChain",
    "AttributionResult",
    "AuditResult",
    "CampaignReport",
    "INTERVALS",
    "MODELS",
    "SuppressionCheck",
    "SuppressionList",
    "TOTAL",
    "attribute",
    "campaign_report",
    "compare_attribution",
    "normalise_key",
    "qualification_audit",
    "roc_auc",
    "solve_absorbing_chain",
]
