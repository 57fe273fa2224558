"""Runs in an environment with only funnelkit's required dependencies (numpy, pyarrow): the
package works on numpy, dict and Arrow input, and every path that needs an optional package
says which extra to install."""

import json
import sys

import numpy as np
import pyarrow as pa

import funnelkit as fk

assert "pandas" not in sys.modules, "importing funnelkit must not import pandas"
assert "polars" not in sys.modules, "importing funnelkit must not import polars"

codes = fk.sample_crm_arrays(3000, seed=7)
model = fk.sample_model()
data = {"entity": codes["entity"], "time": codes["time"], "stage": codes["stage"], "source": codes["source"]}
by_dict = fk.conversion(data, model=model, segment="source")
arrow = fk.sample_crm(3000, seed=7, frame="arrow")
by_arrow = fk.conversion(arrow, model=model, segment="source")
assert by_dict.reached("Customer") == by_arrow.reached("Customer") > 0
table = by_arrow.to_arrow()
assert isinstance(table, pa.Table) and table.num_rows == len(by_arrow)
assert pa.table(by_arrow).num_rows == len(by_arrow)
doc = json.loads(by_arrow.to_json())
assert doc["data"][0]["step_rate"] is None
assert fk.restore(by_arrow.to_bytes()) == by_arrow

events = {"entity": np.array([1, 1, 1, 2, 2]), "time": np.array([0, 60, 3000, 0, 5000]),
          "step": np.array(["visit", "signup", "demo", "visit", "signup"], dtype=object)}
wf = fk.window_funnel(events, window="1h", steps=["visit", "signup", "demo"])
assert wf.to_dict()["reached"] == [2, 1, 1], wf.to_dict()

for call, extra in ((lambda: by_arrow.to_pandas(), "funnelkit[pandas]"),
                    (lambda: by_arrow.to_polars(), "funnelkit[polars]"),
                    (lambda: fk.sample_crm(10), "funnelkit[pandas]")):
    try:
        call()
    except ImportError as exc:
        assert extra in str(exc), str(exc)
    else:
        raise AssertionError(f"expected an ImportError naming {extra}")
print("minimal environment: 1 passed, 0 failed")
