"""C++ and Python agree on every table of the sample data: examples/sample_tables.cpp prints the
lifecycle report's tables as the core computes them for generate_sample({.leads = 20'000,
.seed = 42}); the same tables from the Python API on fk.sample_crm(20_000, seed=42) must agree
to 1e-12. Runs when FUNNELKIT_EXAMPLE_BIN names the built examples directory (scripts/test.sh
sets it)."""

from __future__ import annotations

import io
import os
import subprocess

import numpy as np
import pandas as pd
import pytest

import funnelkit as fk

RTOL = 1e-12


@pytest.fixture(scope="module")
def cpp() -> dict[str, pd.DataFrame]:
    bindir = os.environ.get("FUNNELKIT_EXAMPLE_BIN")
    if not bindir:
        pytest.skip("FUNNELKIT_EXAMPLE_BIN is not set (scripts/test.sh sets it)")
    out = subprocess.run([os.path.join(bindir, "funnelkit_sample_tables")], check=True, capture_output=True,
                         text=True).stdout
    blocks = {}
    for block in out.strip().split("\n\n"):
        name, _, csv = block.partition("\n")
        assert name.startswith("# ")
        blocks[name[2:]] = pd.read_csv(io.StringIO(csv), float_precision="round_trip", keep_default_na=False,
                                       na_values=["nan"])
    assert list(blocks) == ["conversion_by_source", "time_in_stage", "time_to_convert", "exits", "campaign",
                            "velocity"]
    return blocks


@pytest.fixture(scope="module")
def lc() -> fk.Lifecycle:
    crm = fk.sample_crm(20_000, seed=42)
    return fk.lifecycle(crm, segment="source", segment_categories=fk.sample_labels()["source"],
                        as_of=crm.attrs["end"])


def _agree(cpp_table: pd.DataFrame, py_table: fk.Table, labels: dict[str, str] | None = None) -> None:
    """Every column of the C++ block equals the Python column of that name: labels and counts
    exactly, numbers to RTOL (NaN and infinity in the same places)."""
    py = py_table.to_pandas()
    assert len(cpp_table) == len(py)
    for column in cpp_table.columns:
        ours = py[(labels or {}).get(column, column)]
        theirs = cpp_table[column]
        if theirs.dtype == object or ours.dtype.kind in "iub" or str(ours.dtype) == "category":
            assert [str(v) for v in theirs] == [str(v) for v in ours], column
        else:
            np.testing.assert_allclose(ours.to_numpy(dtype=np.float64), theirs.to_numpy(dtype=np.float64),
                                       rtol=RTOL, atol=0, equal_nan=True, err_msg=column)


def test_conversion_by_source(cpp, lc):
    _agree(cpp["conversion_by_source"], lc.conversion(by="segment", interval="wilson", confidence=0.95))


def test_time_in_stage(cpp, lc):
    table = cpp["time_in_stage"]
    assert np.isfinite(table["km_median"]).all()
    _agree(table, lc.time_in_stage())


def test_time_to_convert(cpp, lc):
    table = cpp["time_to_convert"]
    assert np.isinf(table["km_median_upper"]).any()  # not reached in some sources: inf on both sides
    _agree(table, lc.time_to_convert("Opportunity", "Customer", by_segment=True))


def test_exits(cpp, lc):
    _agree(cpp["exits"], lc.exits())


def _in_cpp_order(cpp_table: pd.DataFrame, result: fk.Table, key: str) -> fk.Table:
    """The Python table's rows in the order of the C++ block (matched on ``key``), as a Table."""
    py = result.to_pandas()
    position = {name: i for i, name in enumerate(cpp_table[key])}
    assert sorted(position) == sorted(str(v) for v in py[key])
    rows = sorted(range(len(py)), key=lambda i: position[str(py[key].iloc[i])])
    return fk.Table({c: py[c].to_numpy()[rows] for c in cpp_table.columns}, name=type(result).__name__,
                    definition="the same table, rows in the order of the C++ example")


def test_campaign_report(cpp):
    crm = fk.sample_crm(20_000, seed=42)
    table = cpp["campaign"]
    _agree(table, _in_cpp_order(table, fk.campaign_report(crm, segment="source"), "source"))


def test_velocity(cpp):
    crm = fk.sample_crm(20_000, seed=42)
    v = fk.velocity(fk.opportunities_from_stages(crm), edges=["2024-01-01", crm.attrs["end"]], segment="source")
    table = cpp["velocity"]
    _agree(table, _in_cpp_order(table, v, "source"))
