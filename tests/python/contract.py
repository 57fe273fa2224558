"""The result contract every public result type must keep, checked the same way for all.

``check_contract(result)`` exercises every export of a table result (Arrow, the Arrow PyCapsule
stream, pandas, Polars, dict, JSON with real numbers), the notebook and text displays,
``explain()``, and for mergeable results bytes and pickle round trips that keep the labels.
Scalar results (frozen dataclasses) are checked for ``explain()``, ``to_dict()`` and JSON.
Every checked type is recorded; test_zz_contract_coverage.py asserts that no public result type
was left out.
"""

from __future__ import annotations

import json
import math
import pickle

import numpy as np

import funnelkit as fk

CHECKED: set[type] = set()


def _finite_numbers_only(value):
    if isinstance(value, float):
        assert math.isfinite(value), "JSON must not hold NaN or infinity"
    elif isinstance(value, dict):
        for v in value.values():
            _finite_numbers_only(v)
    elif isinstance(value, list):
        for v in value:
            _finite_numbers_only(v)


def check_explain(result):
    ex = result.explain()
    assert isinstance(ex, fk.Explanation)
    assert ex["result"] == type(result).__name__ or isinstance(result, fk.Table)
    assert isinstance(ex.definition, str) and len(ex.definition) > 20, "explain() needs a real definition"
    assert isinstance(ex.inputs, dict) and isinstance(ex.options, dict)
    text = json.dumps(ex.to_dict(), allow_nan=False)
    assert json.loads(text)["definition"] == ex.definition
    assert ex.definition.split()[0] in str(ex)
    assert "<" in ex._repr_html_()


def check_contract(result):
    """Asserts the whole contract for one result; returns the parsed JSON document."""
    import pandas as pd
    import polars as pl
    import pyarrow as pa

    CHECKED.add(type(result))
    check_explain(result)
    if isinstance(result, fk.Scalar):
        d = result.to_dict()
        assert isinstance(d, dict) and d
        doc = json.loads(result.to_json())
        _finite_numbers_only(doc)
        assert doc["data"] == json.loads(json.dumps(d, allow_nan=False))
        assert "<table>" in result._repr_html_()
        assert pickle.loads(pickle.dumps(result)) == result
        return doc
    assert isinstance(result, fk.Table), f"{type(result).__name__} is neither a Table nor a Scalar"
    table = result.to_arrow()
    assert isinstance(table, pa.Table)
    n = len(result)
    assert table.num_rows == n
    assert table.column_names == result.columns
    meta = json.loads(table.schema.metadata[b"funnelkit"])
    assert meta["explain"]["definition"] == result.explain().definition
    # The PyCapsule stream: other libraries read the result directly.
    assert pa.table(result).equals(table)
    assert pl.DataFrame(result).shape == (n, len(result.columns))
    df = result.to_pandas()
    assert isinstance(df, pd.DataFrame) and list(df.columns) == result.columns and len(df) == n
    pdf = result.to_polars()
    assert isinstance(pdf, pl.DataFrame) and pdf.columns == result.columns
    d = result.to_dict()
    assert list(d) == result.columns and all(len(v) == n for v in d.values())
    records = result.to_dict("records")
    assert len(records) == n
    doc = json.loads(result.to_json())
    _finite_numbers_only(doc)
    assert doc["result"] == result.explain()["result"]
    assert [c["name"] for c in doc["columns"]] == result.columns
    assert len(doc["data"]) == n
    for col in doc["columns"]:
        if col["type"] in ("integer", "number"):
            for row in doc["data"]:
                v = row[col["name"]]
                assert v is None or isinstance(v, (int, float)), f"column {col['name']}: {v!r} is not a JSON number"
    # Labels travel: string columns of the table are strings in JSON too.
    for name in result.columns:
        col = table.column(name)
        if pa.types.is_string(col.type) or pa.types.is_dictionary(col.type):
            assert [r[name] for r in doc["data"]] == [None if v is None else str(v) for v in col.to_pylist()]
    html = result._repr_html_()
    assert "<table>" in html and type(result).__name__[:4] in html or result.explain()["result"] in html
    assert isinstance(repr(result), str) and repr(result)
    for name in result.columns:
        assert len(np.asarray(result[name])) == n
    if isinstance(result, fk.Mergeable):
        blob = result.to_bytes()
        back = type(result).from_bytes(blob)
        assert back == result
        assert fk.restore(blob) == result
        assert pickle.loads(pickle.dumps(result)) == result
        assert back.to_arrow().equals(table), "labels must survive the bytes round trip"
        assert (result + type(result).from_bytes(blob)) is not result
    return doc
