"""Event-stream funnels, kept for code written against this module: the names of
:mod:`funnelkit.window_funnel` and :mod:`funnelkit.funnel_analysis`."""

from __future__ import annotations

from .funnel_analysis import FunnelAnalysis, funnel_analysis
from .window_funnel import WindowFunnel, window_funnel

__all__ = ["FunnelAnalysis", "WindowFunnel", "funnel_analysis", "window_funnel"]
