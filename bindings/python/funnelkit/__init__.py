"""funnelkit: sales and marketing funnel analytics.

Stage models with owners, handoffs, recycling and terminal outcomes; conversion rates over CRM
stage histories; and the built-in synthetic CRM data set. The compiled core is C++; this package
takes pandas, Polars, PyArrow, DuckDB or dict-of-numpy input and returns DataFrames.
"""

from __future__ import annotations

from . import _core

__version__: str = _core.__version__

from .conversion import ConversionTable, conversion  # noqa: E402
from .model import Stage, StageModel  # noqa: E402
from .sample import sample_crm, sample_crm_arrays, sample_labels, sample_model  # noqa: E402

__all__ = [
    "__version__",
    "Stage",
    "StageModel",
    "ConversionTable",
    "conversion",
    "sample_crm",
    "sample_crm_arrays",
    "sample_labels",
    "sample_model",
]
