import os

import pytest


def pytest_report_header(config):
    import funnelkit

    return f"funnelkit {funnelkit.__version__} from {os.path.dirname(funnelkit.__file__)}"


@pytest.fixture(scope="session")
def sample_df():
    import funnelkit

    return funnelkit.sample_crm(5_000, seed=42)


FORMATS = ("pandas", "polars", "polars_lazy", "arrow", "dict")


def as_format(df, fmt):
    """A pandas DataFrame in one of the input formats every public function accepts."""
    import numpy as np

    if fmt == "pandas":
        return df
    if fmt == "dict":
        return {c: df[c].to_numpy() if str(df[c].dtype) != "category" else np.asarray(df[c].astype(object))
                for c in df.columns}
    import pyarrow as pa

    table = pa.Table.from_pandas(df, preserve_index=False)
    if fmt == "arrow":
        return table
    import polars as pl

    frame = pl.from_arrow(table)
    return frame.lazy() if fmt == "polars_lazy" else frame


@pytest.fixture(params=FORMATS)
def input_format(request):
    """Parametrises a test over every input format; convert with ``as_format(df, input_format)``."""
    return request.param
