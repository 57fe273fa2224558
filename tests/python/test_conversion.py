import io
import os
import pickle
import subprocess

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import funnelkit as fk

MODEL = fk.StageModel.b2b()
LADDER = MODEL.ladder


def reference(entity, time, stage_code, segment=None, implied=True):
    """Independent pandas implementation of the reach definition."""
    rank_of = np.full(len(MODEL), -1)
    for r, c in enumerate(MODEL.ladder_codes):
        rank_of[c] = r
    d = pd.DataFrame({"e": entity, "t": time, "r": rank_of[np.asarray(stage_code)],
                      "g": segment if segment is not None else 0})
    first = d.sort_values(["e", "t", "g"]).groupby("e")["g"].first()
    on = d[d["r"] >= 0]
    n = len(LADDER)
    flags = pd.DataFrame(False, index=first.index, columns=range(n))
    if implied:
        top = on.groupby("e")["r"].max()
        for k in range(n):
            flags.loc[top.index[top >= k], k] = True
    else:
        for k in range(n):
            flags.loc[on.loc[on["r"] == k, "e"].unique(), k] = True
    flags["g"] = first
    return flags


def check_against_reference(table, flags, segments=None):
    n = len(LADDER)
    assert table.entities() == len(flags)
    for k in range(n):
        assert table.reached(k) == int(flags[k].sum())
    if segments is not None:
        for code, label in enumerate(segments):
            sub = flags[flags["g"] == code]
            assert table.entities(label) == len(sub)
            for k in range(n):
                assert table.reached(k, label) == int(sub[k].sum())


@pytest.mark.parametrize("skipped", ["implied", "recorded"])
def test_matches_independent_reference(skipped):
    a = fk.sample_crm_arrays(8000, seed=3)
    labels = fk.sample_labels()["source"]
    table = fk.conversion(a, segment="source", skipped=skipped)
    assert table.segments == list(range(6))  # integer codes are their own labels
    flags = reference(a["entity"], a["time"], a["stage"], a["source"], implied=skipped == "implied")
    check_against_reference(table, flags, segments=list(range(6)))
    assert len(labels) == 6


def test_dataframe_output_and_rates(sample_df):
    t = fk.conversion(sample_df, segment="source")
    df = t.to_pandas()
    assert list(df.columns) == ["source", "stage", "owner", "entities", "reached", "step_rate", "cumulative_rate"]
    assert len(df) == 7 * len(LADDER)
    overall = df[df["source"] == "(all)"].reset_index(drop=True)
    assert list(overall["stage"]) == LADDER
    assert overall.loc[0, "reached"] == 5000 and np.isnan(overall.loc[0, "step_rate"])
    for k in range(1, len(LADDER)):
        assert overall.loc[k, "step_rate"] == overall.loc[k, "reached"] / overall.loc[k - 1, "reached"]
        assert overall.loc[k, "cumulative_rate"] == overall.loc[k, "reached"] / 5000
    assert t.step_rate("MQL") == overall.loc[1, "step_rate"]
    assert t.step_rate("Lead") is None
    by = df[df["source"] != "(all)"]
    # Segments add up to the overall counts.
    assert (by.groupby("stage", observed=True)["reached"].sum().to_numpy() == overall["reached"].to_numpy()).all()
    assert set(by["source"]) == set(fk.sample_labels()["source"])
    assert "ConversionTable(5000 entities" in repr(t)
    no_overall = t.without_overall().to_pandas()
    assert len(no_overall) == 6 * len(LADDER)


def test_input_formats_agree(sample_df):
    import duckdb
    import polars as pl
    import pyarrow as pa

    expected = fk.conversion(sample_df, segment="source")
    arrow = pa.Table.from_pandas(sample_df, preserve_index=False)
    polars = pl.from_pandas(sample_df)
    con = duckdb.connect()
    con.register("crm", arrow)
    rel = con.sql("SELECT * FROM crm")
    plain = {c: sample_df[c].astype(str).to_numpy() if c in ("stage", "source") else sample_df[c].to_numpy()
             for c in ("entity", "time", "stage", "source")}
    for data in (arrow, polars, rel, plain):
        got = fk.conversion(data, segment="source")
        assert got == expected, type(data)
    # String entity ids identify the same entities.
    strings = sample_df.assign(entity="lead-" + sample_df["entity"].astype(str))
    assert fk.conversion(strings, segment="source") == expected
    # tz-aware timestamps and integer seconds give the same answer.
    tz = sample_df.assign(time=sample_df["time"].dt.tz_localize("UTC"))
    assert fk.conversion(tz, segment="source") == expected
    ints = sample_df.assign(time=sample_df["time"].astype("int64"))
    assert fk.conversion(ints, segment="source") == expected


def test_polars_and_arrow_outputs(sample_df):
    t = fk.conversion(sample_df, segment="source")
    pl_df = t.to_polars()
    assert pl_df.columns[:2] == ["source", "stage"] and pl_df.height == 42
    at = t.to_arrow()
    assert at.num_rows == 42


def _shuffle(df, seed):
    return df.sample(frac=1.0, random_state=seed).reset_index(drop=True)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**31 - 1), leads=st.integers(0, 400), cut=st.floats(0, 1))
def test_properties_order_merge_roundtrip(seed, leads, cut):
    df = fk.sample_crm(leads, seed=seed % 1000)
    sources = fk.sample_labels()["source"]
    whole = fk.conversion(df, segment="source", segment_categories=sources)
    # Row order does not matter.
    assert fk.conversion(_shuffle(df, seed), segment="source", segment_categories=sources) == whole
    # Merge of entity partitions equals the whole, in either order.
    k = int(cut * leads)
    a = fk.conversion(df[df["entity"] < k], segment="source", segment_categories=sources)
    b = fk.conversion(df[df["entity"] >= k], segment="source", segment_categories=sources)
    assert a + b == whole and b + a == whole
    # Serialise / deserialise and pickle round-trip.
    assert pickle.loads(pickle.dumps(whole)) == whole
    back = fk.ConversionTable.from_bytes(whole.to_bytes())
    assert back == whole


def test_merge_requires_same_labels(sample_df):
    a = fk.conversion(sample_df[sample_df["entity"] < 100], segment="campaign")
    b = fk.conversion(sample_df[sample_df["entity"] >= 4990], segment="campaign")
    if a.segments != b.segments:
        with pytest.raises(ValueError, match="segment_categories"):
            a + b
    with pytest.raises(TypeError):
        a.merge(5)


def test_corrupt_bytes_rejected(sample_df):
    blob = fk.conversion(sample_df).to_bytes()
    for cut in (0, 3, 6, len(blob) - 1):
        with pytest.raises(ValueError, match="not a funnelkit result|corrupted"):
            fk.ConversionTable.from_bytes(blob[:cut])
    with pytest.raises(ValueError, match="FKPY magic"):
        fk.ConversionTable.from_bytes(b"XXXX" + blob[4:])
    # Every single-bit flip is caught by the checksum.
    for pos in range(0, len(blob), max(1, len(blob) // 97)):
        for bit in (0, 3, 7):
            bad = bytearray(blob)
            bad[pos] ^= 1 << bit
            with pytest.raises(ValueError):
                fk.ConversionTable.from_bytes(bytes(bad))
    with pytest.raises(ValueError, match="hold a ConversionTable, not a WindowFunnel"):
        fk.WindowFunnel.from_bytes(blob)


def test_bad_input_errors(sample_df):
    small = sample_df.head(50).copy()
    with pytest.raises(ValueError, match="column 'stage', row 3: value 'Prospect' is not a stage of the model"):
        bad = small.copy()
        bad["stage"] = bad["stage"].astype(str)
        bad.loc[3, "stage"] = "Prospect"
        fk.conversion(bad)
    with pytest.raises(TypeError, match="column 'time', row 2: value 1.5 is not an integer timestamp"):
        fk.conversion({"entity": np.arange(4), "time": np.array([1.0, 2.0, 1.5, 3.0]), "stage": np.zeros(4, np.int32)})
    with pytest.raises(ValueError, match="column 'stage', row 1: value 9 is not a stage code"):
        fk.conversion({"entity": np.arange(3), "time": np.arange(3), "stage": np.array([0, 9, 1])})
    with pytest.raises(ValueError, match="column 'time' has 2 rows but column 'entity' has 3"):
        fk.conversion({"entity": np.arange(3), "time": np.arange(2), "stage": np.array([0, 1, 1])})
    with pytest.raises(ValueError, match="column 'when' has 2 rows"):
        fk.conversion({"entity": np.arange(3), "when": np.arange(2), "stage": np.array([0, 1, 1])}, time="when")
    with pytest.raises(ValueError, match="column 'nope' .*is not in the input"):
        fk.conversion(small, segment="nope")
    with pytest.raises(ValueError, match="column 'source', row 1: missing value"):
        fk.conversion({"entity": np.arange(3), "time": np.arange(3), "stage": np.zeros(3, np.int32),
                       "source": np.array(["a", None, "b"], dtype=object)}, segment="source")
    with pytest.raises(TypeError, match="column 'time': timestamps must be integers or datetimes"):
        fk.conversion({"entity": np.arange(2), "time": np.array(["a", "b"]), "stage": np.zeros(2, np.int32)})
    with pytest.raises(ValueError, match="option 'skipped'"):
        fk.conversion(small, skipped="sometimes")
    with pytest.raises(TypeError, match="expected a pandas or Polars DataFrame"):
        fk.conversion([1, 2, 3])


def test_empty_input():
    t = fk.conversion({"entity": np.array([], np.int64), "time": np.array([], np.int64),
                       "stage": np.array([], np.int32)})
    assert t.entities() == 0 and t.cumulative_rate("SQL") is None
    assert t.to_pandas()["cumulative_rate"].isna().all()


def test_cpp_example_gives_the_same_numbers():
    """examples/quickstart.cpp (the README's C++ example) and the Python API agree exactly."""
    bindir = os.environ.get("FUNNELKIT_EXAMPLE_BIN")
    if not bindir:
        pytest.skip("FUNNELKIT_EXAMPLE_BIN is not set (scripts/test.sh sets it)")
    out = subprocess.run([os.path.join(bindir, "funnelkit_quickstart")], check=True, capture_output=True, text=True).stdout
    cpp = pd.read_csv(io.StringIO(out), float_precision="round_trip")
    df = fk.sample_crm(20_000, seed=42)
    sources = fk.sample_labels()["source"]  # the C++ example reports in source-code order
    py = fk.conversion(df, segment="source", segment_categories=sources).without_overall().to_pandas()
    assert len(cpp) == len(py) == 36
    assert list(cpp["segment"]) == [str(s) for s in py["source"]]
    assert list(cpp["stage"]) == [str(s) for s in py["stage"]]
    assert list(cpp["reached"]) == list(py["reached"])
    np.testing.assert_array_equal(cpp["cumulative_rate"].to_numpy(), py["cumulative_rate"].to_numpy())


def test_labels_rows_order_and_threads_never_change_the_table():
    """Stages and segments as strings, pandas categoricals, Arrow dictionaries or Polars
    categoricals; rows shuffled, in time order or sorted; 1 to 3 threads: one table."""
    import polars as pl
    import pyarrow as pa

    df = fk.sample_crm(6000, seed=21)
    want = fk.conversion(df.sort_values(["entity", "time"], kind="stable"), entity="entity", time="time",
                         stage="stage", segment="source")
    kw = dict(entity="entity", time="time", stage="stage", segment="source")
    shuffled = df.sample(frac=1.0, random_state=4).reset_index(drop=True)
    strings = shuffled.assign(stage=shuffled["stage"].astype(str), source=shuffled["source"].astype(str))
    cats = strings.assign(stage=strings["stage"].astype("category"), source=strings["source"].astype("category"))
    arrow = pa.Table.from_pandas(strings, preserve_index=False)
    arrow_dict = arrow.set_column(arrow.schema.get_field_index("stage"), "stage",
                                  arrow.column("stage").dictionary_encode())
    polars_cat = pl.from_pandas(strings).with_columns(pl.col("stage").cast(pl.Categorical),
                                                      pl.col("source").cast(pl.Categorical))
    for name, frame in [("strings", strings), ("categoricals", cats), ("arrow", arrow), ("arrow dictionary", arrow_dict),
                        ("polars categoricals", polars_cat), ("time order", df.sort_values("time", kind="stable"))]:
        for threads in (1, 2, 3):
            got = fk.conversion(frame, threads=threads, **kw)
            assert got == want, (name, threads)
            assert got.segments == want.segments
    with pytest.raises(ValueError, match="option 'threads'"):
        fk.conversion(df, threads=0, **kw)
