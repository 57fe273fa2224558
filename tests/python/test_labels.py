"""Label columns (strings, categoricals) reach the core as codes without per-row Python: the
C++ string encoder, label-code counting and remapping, checked against pandas and numpy, and
every user-facing format giving the same table and the same errors."""

import numpy as np
import pandas as pd
import pytest

import funnelkit as fk
from funnelkit import _core, _frames


def _fresh(s: str) -> str:
    """An equal string that is a different object (no interning), as a CSV reader makes them."""
    return "".join(list(s))


def test_encode_strings_matches_pandas_factorize():
    rng = np.random.default_rng(3)
    words = ["Lead", "MQL", "Sälj", "機会", "", "a b", "Lead "]
    vals = np.array([_fresh(words[i]) if rng.random() < 0.5 else words[i] for i in rng.integers(0, len(words), 20_000)],
                    dtype=object)
    vals[rng.integers(0, len(vals), 300)] = None
    vals[rng.integers(0, len(vals), 300)] = float("nan")
    codes, uniques, counts = _core.encode_strings(vals)
    want_codes, want_uniques = pd.factorize(vals, use_na_sentinel=True)
    assert codes.dtype == np.int8  # up to 128 distinct strings
    np.testing.assert_array_equal(codes, want_codes)
    assert uniques == list(want_uniques)
    np.testing.assert_array_equal(counts, _core.code_counts(codes, len(uniques)))
    # Equal text in different objects is one label.
    a, b = _fresh("Webinar"), _fresh("Webinar")
    assert a is not b
    codes, uniques, counts = _core.encode_strings(np.array([a, b, "x", a, None], dtype=object))
    assert codes.tolist() == [0, 0, 1, 0, -1] and uniques == ["Webinar", "x"] and counts.tolist() == [3, 1, 1]


@pytest.mark.parametrize("distinct", [128, 129, 130, 5000])
def test_encode_strings_widens_past_127_labels(distinct):
    """Codes start as int8 (codes 0..127) and turn int32 at the 129th distinct string, wherever it first
    appears (here late, after many rows of the earlier ones)."""
    rng = np.random.default_rng(distinct)
    labels = [f"s{i}" for i in range(distinct)]
    head = rng.integers(0, min(distinct, 127), 30_000)
    tail = rng.integers(0, distinct, 30_000)
    vals = np.array([labels[i] for i in np.concatenate([head, tail])], dtype=object)
    vals[::997] = None
    codes, uniques, counts = _core.encode_strings(vals)
    want_codes, want_uniques = pd.factorize(vals, use_na_sentinel=True)
    assert codes.dtype == (np.int8 if len(want_uniques) <= 128 else np.int32)
    np.testing.assert_array_equal(codes, want_codes)
    assert uniques == list(want_uniques)
    np.testing.assert_array_equal(counts, _core.code_counts(codes, len(uniques)))
    want_counts = np.bincount(want_codes + 1, minlength=len(want_uniques) + 1)
    np.testing.assert_array_equal(counts, np.concatenate([want_counts[1:], want_counts[:1]]))
    # The owned int8 codes are remapped in place with narrow=True; int32 ones with narrow=False.
    mapping = np.concatenate([np.arange(len(uniques), dtype=np.int32)[::-1] % 100, [-1]]).astype(np.int32)
    labels_obj = _frames.Labels(codes, uniques, counts, owned=True)
    out = labels_obj.mapped(mapping, narrow=True)
    np.testing.assert_array_equal(out, mapping[want_codes])
    assert out.dtype == np.int8 and labels_obj.codes is None


def test_encode_strings_counts_long_runs_and_evicted_slots():
    """The counts come from the cache slots (four ways per slot): long runs of one label, labels
    that take one another's slot (thousands of distinct strings in a 4096-slot cache), fresh
    objects of equal text and missing values all count as a separate tally would."""
    rng = np.random.default_rng(11)
    labels = [f"label-{i}" for i in range(6000)]
    parts = [np.array(["Lead"] * 10_007, dtype=object),  # one run, not a multiple of the ways
             np.array([labels[i] for i in rng.integers(0, len(labels), 40_000)], dtype=object),
             np.array([_fresh("Lead") for _ in range(501)], dtype=object),
             np.array([None] * 33 + ["MQL"] * 3, dtype=object)]
    vals = np.concatenate(parts)
    codes, uniques, counts = _core.encode_strings(vals)
    want_codes, want_uniques = pd.factorize(vals, use_na_sentinel=True)
    np.testing.assert_array_equal(codes, want_codes)
    assert uniques == list(want_uniques)
    want = np.bincount(want_codes + 1, minlength=len(want_uniques) + 1)
    np.testing.assert_array_equal(counts, np.concatenate([want[1:], want[:1]]))


def test_encode_strings_tells_apart_texts_of_every_length():
    """Labels that differ in one byte, at every length from 0 to 40 (each length takes another way
    through the text hash: three bytes, two four-byte words, eight-byte words with an overlapping
    last one), non-ASCII ones too, each row its own string object, as json.loads makes them."""
    rng = np.random.default_rng(9)
    labels = [""] + ["a" * k for k in range(1, 41)]
    labels += ["a" * j + "b" + "a" * (k - j - 1) for k in range(1, 41) for j in range(k)]
    labels += ["é" * k for k in range(1, 12)] + ["a" * k + "é" for k in range(1, 12)]
    picks = rng.integers(0, len(labels), 60_000)
    vals = np.array([_fresh(labels[i]) for i in picks], dtype=object)
    codes, uniques, counts = _core.encode_strings(vals)
    want_codes, want_uniques = pd.factorize(vals, use_na_sentinel=True)
    np.testing.assert_array_equal(codes, want_codes)
    assert uniques == list(want_uniques)
    np.testing.assert_array_equal(counts[:-1], np.bincount(want_codes, minlength=len(want_uniques)))


def test_encode_strings_tells_apart_labels_equal_at_both_ends():
    """Labels of 17 to 24 bytes whose first and last eight bytes agree, few enough that they
    share the encoder's small table (and so meet each other while probing): each its own code."""
    labels = ["A" * 8 + f"{i:0{k}d}" + "B" * 8 for k in (1, 3, 8) for i in range(min(10**k, 60))]
    rng = np.random.default_rng(5)
    vals = np.array([_fresh(labels[i]) for i in rng.integers(0, len(labels), 5_000)], dtype=object)
    codes, uniques, counts = _core.encode_strings(vals)
    want_codes, want_uniques = pd.factorize(vals, use_na_sentinel=True)
    np.testing.assert_array_equal(codes, want_codes)
    assert uniques == list(want_uniques)


@pytest.mark.parametrize("fresh_objects", [False, True])
@pytest.mark.parametrize("with_known", [False, True])
def test_encode_strings_many_labels(fresh_objects, with_known):
    """Columns of many distinct labels, such as lead ids (more labels than the encoder's object
    cache has slots, so rows are looked up a block at a time and counted from the codes at the
    end): equal to pandas, with labels that differ only inside (texts up to 24 bytes are compared
    by words, longer ones byte by byte), non-ASCII ones, missing values, each label one shared
    object or every row an object of its own."""
    rng = np.random.default_rng(11 + fresh_objects + 2 * with_known)
    base = [f"00Q{i:015d}" for i in range(12_000)]  # 18 characters
    base += [f"{i:05d}-{'x' * (i % 30)}-tail" for i in range(6_000)]  # 11 to 40 characters
    base += ["a" * 20 + c + "b" * 20 for c in "0123456789"]  # equal first and last 16 bytes
    # 17 to 24 bytes with equal first and last eight: told apart by the bytes in between
    base += ["A" * 8 + f"{i:0{k}d}" + "B" * 8 for k in range(1, 9) for i in range(10)]
    base += [f"é{i}" for i in range(300)] + [str(i) for i in range(500)]
    pool = base + [None, float("nan")]
    picks = rng.integers(0, len(pool), 200_000)
    if fresh_objects:
        vals = np.array([_fresh(pool[i]) if isinstance(pool[i], str) else pool[i] for i in picks], dtype=object)
    else:
        vals = np.array([pool[i] for i in picks], dtype=object)
    known = base[:50] if with_known else None
    codes, uniques, counts = _core.encode_strings(vals, known)
    offset = 50 if with_known else 0
    want_codes, want_uniques = pd.factorize(vals, use_na_sentinel=True)
    got_labels = np.array(uniques, dtype=object)[np.maximum(codes, 0)]
    np.testing.assert_array_equal(got_labels[codes >= 0], vals[want_codes >= 0])
    np.testing.assert_array_equal(codes < 0, want_codes < 0)
    if not with_known:
        np.testing.assert_array_equal(codes, want_codes)
        assert uniques == list(want_uniques)
    assert len(set(uniques)) == len(uniques)
    np.testing.assert_array_equal(counts[:-1], np.bincount(codes[codes >= 0], minlength=len(uniques)))
    assert counts[-1] == (codes < 0).sum()


@pytest.mark.parametrize("objects", [1, 3, 8, 16, 17])
@pytest.mark.parametrize("wide", [False, True])
def test_encode_strings_few_objects_in_long_columns(objects, wide):
    """The usual column, a handful of string objects over many rows, goes eight rows at a time
    through comparisons with every object the encoder knows (where the processor allows), its
    counts taken from the codes: equal to pandas on columns whose length is no multiple of the
    groups, with missing values (None and one NaN object), two objects of one text (one code),
    labels first met late (the fast path stops and resumes), as int8 codes and as int32 ones
    (more known labels than a byte holds), contiguous or strided."""
    rng = np.random.default_rng(objects * 2 + wide)
    texts = [f"stage {i}" for i in range(objects)]
    pool = [*texts, _fresh(texts[0]), None, float("nan")]
    late = _fresh("late label")
    n = 70_001
    vals = np.array([pool[i] for i in rng.integers(0, len(pool), n)], dtype=object)
    vals[50_003:50_010] = late
    vals[-5] = late
    known = [f"known {i}" for i in range(200)] if wide else None
    for column in (vals, np.repeat(vals, 2)[::2]):  # the second one strided
        codes, uniques, counts = _core.encode_strings(column, known)
        offset = len(known) if wide else 0
        assert codes.dtype == (np.int32 if wide else np.int8)
        want_codes, want_uniques = pd.factorize(column, use_na_sentinel=True)
        assert uniques[offset:] == list(want_uniques)
        np.testing.assert_array_equal(codes, np.where(want_codes >= 0, want_codes + offset, -1))
        want = np.bincount(want_codes + 1, minlength=len(want_uniques) + 1)
        np.testing.assert_array_equal(counts[offset:], np.concatenate([want[1:], want[:1]]))
        assert not counts[:offset].any()


def test_encode_strings_puts_known_labels_first():
    names = fk.StageModel.b2b().names
    rng = np.random.default_rng(4)
    present = names[1:4]  # the first known label never occurs
    vals = np.array([present[i] for i in rng.integers(0, 3, 5000)] + ["Other", None], dtype=object)
    codes, uniques, counts = _core.encode_strings(vals, list(names))
    assert uniques == list(names) + ["Other"]
    assert codes.dtype == np.int8
    np.testing.assert_array_equal(np.array(uniques, dtype=object)[codes[:-1]], vals[:-1])
    assert codes[-1] == -1 and codes[-2] == len(names)
    want = [int((vals[:-1] == u).sum()) for u in uniques] + [1]
    assert counts.tolist() == want and counts[0] == 0
    # More known labels than one byte holds: int32 from the start.
    many = [f"k{i}" for i in range(200)]
    codes, uniques, _ = _core.encode_strings(np.array(["k150", "new", "k3"], dtype=object), many)
    assert codes.dtype == np.int32 and codes.tolist() == [150, 200, 3] and uniques[-1] == "new"
    with pytest.raises(ValueError, match="known label 'MQL' is given twice"):
        _core.encode_strings(vals, ["MQL", "SQL", "MQL"])
    with pytest.raises(ValueError, match="known labels must be strings"):
        _core.encode_strings(vals, ["MQL", 3])


def test_stage_codes_from_strings_need_no_remapping_pass():
    """Stage names encoded with the model's names first are already the stage codes: the codes
    the encoder made are returned as they are (one byte each), and the answer is the lookup's."""
    model = fk.StageModel.b2b()
    rng = np.random.default_rng(8)
    picks = rng.integers(0, len(model.names), 20_000)
    vals = np.array(model.names, dtype=object)[picks]
    out = _frames.stage_codes(_frames.column({"stage": vals}, "stage", labels=True, known=model.names), model.names,
                              "stage", narrow=True)
    assert out.dtype == np.int8
    np.testing.assert_array_equal(out, picks)
    # Without the known names the codes come in order of first appearance and are remapped.
    out2 = _frames.stage_codes(_frames.column({"stage": vals}, "stage", labels=True), model.names, "stage", narrow=True)
    np.testing.assert_array_equal(out2, picks)
    # A name off the model is still reported at its first row, with the closest names.
    vals[777] = "MQLL"
    with pytest.raises(ValueError, match=r"column 'stage', row 777: value 'MQLL' is not a stage of the model; did you mean"):
        _frames.stage_codes(_frames.column({"stage": vals}, "stage", labels=True, known=model.names), model.names,
                            "stage", narrow=True)


@pytest.mark.parametrize("categories", [1, 8, 15, 16, 40, 127, 300])
@pytest.mark.parametrize("narrow", [True, False])
def test_one_byte_codes_count_and_remap_as_numpy(categories, narrow):
    """One-byte codes take their own paths (a check per block, then a table by the byte, or a
    byte shuffle for up to 15 categories into one-byte codes): the same answers as numpy, at
    every length around the block and vector sizes, copied or in place."""
    rng = np.random.default_rng(categories)
    top = min(categories, 128)
    for n in (0, 1, 15, 16, 17, 4095, 4096, 4097, 50_001):
        codes = rng.integers(-1, top, n).astype(np.int8)
        counts = _core.code_counts(codes, categories)
        want = np.bincount(codes.astype(np.int64) + 1, minlength=categories + 1)
        np.testing.assert_array_equal(counts, np.concatenate([want[1:], want[:1]]))
        mapping = rng.integers(-100, 100, categories + 1).astype(np.int32)
        full = mapping[np.where(codes < 0, categories, codes.astype(np.int64))]
        out = _core.remap_codes(codes, mapping, narrow=narrow)
        assert out.dtype == (np.int8 if narrow else np.int32)
        np.testing.assert_array_equal(out, full)
        if narrow:
            own = codes.copy()
            res = _core.remap_codes(own, mapping, in_place=True, narrow=True)
            assert n == 0 or np.shares_memory(res, own)
            np.testing.assert_array_equal(own, full)


@pytest.mark.parametrize("categories", [8, 40])
def test_one_byte_code_errors_name_the_first_bad_row(categories):
    codes = np.zeros(10_000, np.int8)
    codes[6001] = categories  # one past the last code
    codes[9000] = -5
    with pytest.raises(ValueError, match=f"label code {categories} at row 6001 is outside -1..{categories - 1}"):
        _core.code_counts(codes, categories)
    own = codes.copy()
    with pytest.raises(ValueError, match=f"label code {categories} at row 6001 is outside"):
        _core.remap_codes(own, np.zeros(categories + 1, np.int32), in_place=True, narrow=True)
    assert own[6001] == categories  # reported before its block was overwritten
    codes[6001] = 0
    with pytest.raises(ValueError, match="label code -5 at row 9000 is outside"):
        _core.remap_codes(codes, np.zeros(categories + 1, np.int32))


def test_encode_strings_leaves_other_objects_to_the_general_path():
    assert _core.encode_strings(np.array(["a", 1], dtype=object)) is None
    assert _core.encode_strings(np.array(["a", pd.NA], dtype=object)) is None
    assert _core.encode_strings(np.array(["a", "\ud800"], dtype=object)) is None  # a lone surrogate
    assert _core.encode_strings(np.array([1, 2])) is None
    codes, uniques, counts = _core.encode_strings(np.array([], dtype=object))
    assert len(codes) == 0 and uniques == [] and counts.tolist() == [0]


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.int64])
def test_code_counts_and_remap_agree_with_numpy(dtype):
    rng = np.random.default_rng(5)
    codes = rng.integers(-1, 9, 50_000).astype(dtype)
    counts = _core.code_counts(codes, 9)
    np.testing.assert_array_equal(counts[:-1], np.bincount(codes[codes >= 0], minlength=9))
    assert counts[-1] == (codes == -1).sum()
    mapping = rng.integers(-1, 100, 10).astype(np.int32)
    np.testing.assert_array_equal(_core.remap_codes(codes, mapping), mapping[codes])
    # With an offset: values lo.. are codes 0..
    shifted = (codes.astype(np.int64) + 1000).astype(np.int64)
    shifted[codes == -1] = 999
    np.testing.assert_array_equal(_core.code_counts(shifted, 9, 1000), counts)
    np.testing.assert_array_equal(_core.remap_codes(shifted, mapping, 1000), mapping[codes])
    # In place: the int32 codes themselves are overwritten and returned.
    own = codes.astype(np.int32)
    out = _core.remap_codes(own, mapping, in_place=True)
    assert np.shares_memory(out, own)
    np.testing.assert_array_equal(own, mapping[codes])


def test_code_errors_name_the_row_and_value():
    with pytest.raises(ValueError, match="label code 9 at row 2 is outside -1..8"):
        _core.code_counts(np.array([0, 1, 9], np.int32), 9)
    with pytest.raises(ValueError, match="label code -2 at row 1 is outside -1..2"):
        _core.remap_codes(np.array([0, -2], np.int16), np.zeros(4, np.int32))
    with pytest.raises(ValueError, match="contiguous array of signed integers"):
        _core.code_counts(np.arange(10, dtype=np.int32)[::2], 10)
    frozen = np.zeros(3, np.int32)
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="in place needs writeable codes of the output's width"):
        _core.remap_codes(frozen, np.zeros(2, np.int32), in_place=True)
    with pytest.raises(ValueError, match="in place needs writeable codes of the output's width"):
        _core.remap_codes(np.zeros(3, np.int8), np.zeros(2, np.int32), in_place=True)


def test_categorical_codes_keep_their_width():
    col = pd.Series(pd.Categorical(["b", "a", None, "b"]))
    lab = _frames.Labels.of(col)
    assert lab.codes.dtype == np.int8
    assert lab.present().tolist() == [True, True]
    with pytest.raises(ValueError, match="column 'stage', row 2: missing value"):
        lab.check_no_missing("stage")


def _records(n=30_000, seed=2):
    rng = np.random.default_rng(seed)
    names = fk.StageModel.b2b().names
    return pd.DataFrame({
        "entity": rng.integers(0, n // 6, n) * 7 + 3,
        "time": rng.integers(0, 10**6, n),
        "stage": np.array(names, dtype=object)[rng.integers(0, len(names), n)],
        "source": np.array(["Web", "Ads", "Event", "Partner"], dtype=object)[rng.integers(0, 4, n)],
    })


def test_every_label_format_gives_the_same_table():
    import polars as pl
    import pyarrow as pa

    df = _records()
    want = fk.conversion(df, segment="source")
    fresh = df.assign(stage=[_fresh(s) for s in df["stage"]], source=[_fresh(s) for s in df["source"]])
    cat = df.assign(stage=df["stage"].astype("category"), source=df["source"].astype("category"))
    wide = df.assign(source=pd.Categorical(df["source"], categories=[f"c{i}" for i in range(300)] + ["Web", "Ads", "Event",
                                                                                                      "Partner"]))
    assert wide["source"].cat.codes.dtype == np.int16
    for data in (fresh, cat, wide, pa.Table.from_pandas(df), pl.from_pandas(df), pl.from_pandas(cat),
                 df.assign(stage=df["stage"].astype("string[pyarrow]"))):
        got = fk.conversion(data, segment="source")
        assert got == want, type(data)
        assert got.to_pandas().equals(want.to_pandas())
    # Integer segment codes: dense 0..k, shifted, and with gaps all give the labels they hold.
    codes = df.assign(source=df["source"].map({"Web": 0, "Ads": 1, "Event": 2, "Partner": 3}).astype(np.int32))
    t = fk.conversion(codes, segment="source")
    assert list(t.segments) == [0, 1, 2, 3]
    shifted = codes.assign(source=codes["source"] * 10 - 5)
    assert list(fk.conversion(shifted, segment="source").segments) == [-5, 5, 15, 25]
    for s, s2 in zip(t.segments, fk.conversion(shifted, segment="source").segments):
        assert t.entities(s) == fk.conversion(shifted, segment="source").entities(s2)


def test_missing_and_unknown_labels_name_the_row():
    df = _records(200)
    bad = df.copy()
    bad.loc[7, "stage"] = None
    with pytest.raises(ValueError, match="column 'stage', row 7: missing value"):
        fk.conversion(bad)
    bad["stage"] = bad["stage"].astype("category")
    with pytest.raises(ValueError, match="column 'stage', row 7: missing value"):
        fk.conversion(bad)
    typo = df.copy()
    typo.loc[11, "stage"] = _fresh("Opportunty")
    with pytest.raises(ValueError, match="column 'stage', row 11: value 'Opportunty' is not a stage of the model; "
                                         "did you mean 'Opportunity'"):
        fk.conversion(typo)
    nan_src = df.copy()
    nan_src.loc[4, "source"] = float("nan")
    with pytest.raises(ValueError, match="column 'source', row 4: missing value"):
        fk.conversion(nan_src, segment="source")


def test_missing_values_in_dictionary_columns_with_unsigned_indices():
    # Polars categoricals and enums reach Arrow as dictionaries with uint32 indices: a null
    # row is a missing value named by its row (for stages, segments and steps alike), and a
    # null step is no step, as it is for every other format.
    import polars as pl
    import pyarrow as pa

    base = {"entity": [1, 1, 2, 3], "time": [1, 2, 3, 4]}
    for kind in (pl.Categorical, pl.Enum(["SQL", "MQL", "Lead", "unused"])):
        stage = pl.DataFrame({**base, "stage": ["Lead", "MQL", None, "SQL"]}).with_columns(pl.col("stage").cast(kind))
        with pytest.raises(ValueError, match="column 'stage', row 2: missing value"):
            fk.conversion(stage)
    seg = pl.DataFrame({**base, "stage": ["Lead"] * 4, "seg": ["a", None, "b", "a"]}).with_columns(
        pl.col("seg").cast(pl.Categorical))
    with pytest.raises(ValueError, match="column 'seg', row 1: missing value"):
        fk.conversion(seg, segment="seg")
    indices = pa.array([0, None, 1, 0], pa.uint8())
    table = pa.table({**base, "stage": ["Lead"] * 4, "seg": pa.DictionaryArray.from_arrays(indices, pa.array(["a", "b"]))})
    with pytest.raises(ValueError, match="column 'seg', row 1: missing value"):
        fk.conversion(table, segment="seg")
    steps = pl.DataFrame({**base, "step": ["a", None, "b", "a"]})
    want = fk.window_funnel(steps, steps=["a", "b"], window=10)
    got = fk.window_funnel(steps.with_columns(pl.col("step").cast(pl.Categorical)), steps=["a", "b"], window=10)
    assert got == want


def test_the_callers_columns_are_never_modified():
    df = _records(5_000)
    before = df.copy()
    cat = df.assign(stage=df["stage"].astype("category"))
    cat_codes = cat["stage"].cat.codes.to_numpy().copy()
    fk.conversion(df, segment="source")
    fk.conversion(cat, segment="source")
    pd.testing.assert_frame_equal(df, before)
    np.testing.assert_array_equal(cat["stage"].cat.codes.to_numpy(), cat_codes)


def test_code_offsets_near_the_int64_limits_do_not_wrap():
    # INT64_MAX - INT64_MIN wraps to -1 in 64 bits: the far value must not count as missing.
    big = np.array([np.iinfo(np.int64).max], np.int64)
    low = np.iinfo(np.int64).min
    with pytest.raises(ValueError, match="label value 9223372036854775807 at row 0 minus offset -9223372036854775808"):
        _core.code_counts(big, 3, low)
    with pytest.raises(ValueError, match="at row 0 minus offset"):
        _core.remap_codes(big, np.array([0, 1, 2, 9], np.int32), low)
    # INT64_MIN - INT64_MAX wraps to 1: a code in range.
    small = np.array([np.iinfo(np.int64).max, low], np.int64)
    with pytest.raises(ValueError, match="label value -9223372036854775808 at row 1"):
        _core.code_counts(small, 3, np.iinfo(np.int64).max)
    # The extremes themselves, as category_codes passes them (offset = the least value).
    extremes = np.array([low, np.iinfo(np.int64).max, low], np.int64)
    with pytest.raises(ValueError, match="row 1"):
        _core.code_counts(extremes, 3, low)
    np.testing.assert_array_equal(_core.code_counts(np.array([low, low + 2], np.int64), 3, low), [1, 0, 1, 0])
    # No category at all: the range in the message is -1..-1.
    with pytest.raises(ValueError, match=r"label code 5 at row 0 is outside -1\.\.-1$"):
        _core.code_counts(np.array([5], np.int8), 0)


@pytest.mark.parametrize("dtype", [">i2", ">i4", ">i8", "<i2", "<i4"])
def test_integer_segments_in_either_byte_order(dtype):
    # Big-endian int16 256, 0 and 1 read natively as 1, 0 and 256: all in range, so the codes
    # came out wrong without an error.
    values = np.array([256, 0, 256, 1], dtype=dtype)
    codes, labels = _frames.category_codes(values, "segment")
    assert labels == [0, 1, 256]
    np.testing.assert_array_equal(codes, [2, 0, 2, 1])
    codes, labels = _frames.category_codes(pd.DataFrame({"s": values})["s"], "segment")
    assert labels == [0, 1, 256]


def test_label_code_kernels_refuse_byte_swapped_codes():
    swapped = np.array([0, 1], dtype=np.dtype(np.int32).newbyteorder())
    with pytest.raises(ValueError, match="byte order"):
        _core.code_counts(swapped, 2)
    with pytest.raises(ValueError, match="byte order"):
        _core.remap_codes(swapped, np.zeros(3, np.int32))


def test_missing_numeric_segments_are_missing_values():
    df = _records(300)
    seg = (np.arange(300) % 3).astype(float)
    seg[7] = np.nan
    for col in (seg, pd.array(np.where(np.isnan(seg), None, seg), dtype="Int64"),
                pd.Series(pd.to_datetime(np.where(np.isnan(seg), np.datetime64("NaT"),
                                                   np.datetime64("2026-01-01") + seg.astype("timedelta64[D]"))))):
        data = df.assign(seg=col)
        with pytest.raises(ValueError, match="column 'seg', row 7: missing value"):
            fk.conversion(data, segment="seg")
        with pytest.raises(ValueError, match="column 'seg', row 7: missing value"):
            fk.lifecycle(data, segment="seg")
    # Without a missing value, float codes are segments as before.
    ok = df.assign(seg=(np.arange(300) % 3).astype(float))
    assert list(fk.conversion(ok, segment="seg").segments) == [0.0, 1.0, 2.0]


def test_labels_become_one_byte_codes_for_reach():
    """Categoricals and strings reach the conversion kernel as int8 codes (the same table as
    int32 codes, a quarter of the memory); more labels than int8 holds stay int32."""
    m = fk.StageModel.b2b()
    rng = np.random.default_rng(12)
    n = 50_000
    stage = pd.Series(pd.Categorical(rng.choice(m.names, n)))
    few = pd.Series(rng.choice(["web", "ads", "event"], n)).astype(object)
    many = pd.Series([f"src{i}" for i in rng.integers(0, 300, n)]).astype(object)
    assert _frames.stage_codes(stage, m.names, narrow=True).dtype == np.int8
    assert _frames.stage_codes(stage, m.names).dtype == np.int32
    assert _frames.category_codes(few, "source", narrow=True)[0].dtype == np.int8
    assert _frames.category_codes(many, "source", narrow=True)[0].dtype == np.int32
    base = pd.DataFrame({"entity": rng.integers(0, 5_000, n), "time": rng.integers(0, 10**6, n), "stage": stage})
    for source in (few, many):
        labels = base.assign(source=source)
        codes = base.assign(stage=_frames.stage_codes(stage, m.names), source=pd.factorize(source, sort=True)[0])
        want = fk.conversion(codes, segment="source")
        got = fk.conversion(labels, segment="source")
        assert got.to_pandas()["reached"].tolist() == want.to_pandas()["reached"].tolist()
        assert got.to_pandas()["entities"].tolist() == want.to_pandas()["entities"].tolist()


def test_one_byte_codes_in_the_core():
    m = fk.StageModel.b2b()
    ent = np.array([1, 1, 2, 3, 2], dtype=np.int64)
    tim = np.array([1, 2, 3, 4, 5], dtype=np.int64)
    stg = np.array([0, 1, 0, 2, 3], dtype=np.int8)
    seg = np.array([0, 0, 1, 1, 1], dtype=np.int8)
    a = _core.conversion(m._m, ent, tim, stg, seg)
    b = _core.conversion(m._m, ent, tim, stg.astype(np.int32), seg.astype(np.int32))
    c = _core.conversion(m._m, ent, tim, stg, seg.astype(np.int32))  # a mix is read as int32
    assert a.table().keys() == b.table().keys()
    for k in a.table():
        np.testing.assert_array_equal(a.table()[k], b.table()[k])
        np.testing.assert_array_equal(c.table()[k], b.table()[k])
    bad = stg.copy()
    bad[3] = -7
    with pytest.raises(ValueError, match=r"column 'stage', row 3: value -7 is not a stage code"):
        _core.conversion(m._m, ent, tim, bad, seg)
    with pytest.raises(ValueError, match="mapped code 200 does not fit in int8"):
        _core.remap_codes(np.array([0, 1], dtype=np.int8), np.array([0, 200, -1], dtype=np.int32), narrow=True)
    with pytest.raises(ValueError, match="in place"):
        _core.remap_codes(np.array([0, 1], dtype=np.int32), np.array([0, 1, -1], dtype=np.int32), in_place=True,
                          narrow=True)


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.int64])
@pytest.mark.parametrize("case", ["dense", "gaps", "negative", "past_4095", "strided"])
def test_integer_segments_counted_in_one_pass_match_numpy(dtype, case):
    # Values 0..4095 take the one-pass count (small_value_counts); others, and strided or
    # byte-swapped arrays, the range-first path. Both give the sorted distinct values present
    # as labels and the rank of each row's value as its code.
    rng = np.random.default_rng(5)
    if case == "dense":
        values = rng.integers(0, 7, 50_000)
    elif case == "gaps":
        values = rng.choice([0, 2, 5, 100], 50_000)
    elif case == "negative":
        values = rng.integers(-3, 4, 50_000)
    elif case == "past_4095":
        values = rng.choice([3, 4095, 4096, 30_000 if np.iinfo(dtype).max > 30_000 else 127], 50_000)
    else:
        values = rng.integers(0, 9, 100_000)
    values = values.astype(dtype) if case != "past_4095" or np.iinfo(dtype).max >= 4096 else np.clip(values, 0, 127).astype(dtype)
    if case == "strided":
        values = values[::2]
    codes, labels = _frames.category_codes(values, "segment")
    uniques, inverse = np.unique(values, return_inverse=True)
    assert labels == [int(u) for u in uniques]
    np.testing.assert_array_equal(codes, inverse.reshape(-1))
    assert codes.dtype == np.int32


def test_small_value_counts_stops_at_the_first_value_out_of_range():
    np.testing.assert_array_equal(_core.small_value_counts(np.array([0, 3, 3, 1, 0], np.int16), 4), [2, 1, 0, 2])
    assert _core.small_value_counts(np.array([0, 4], np.int32), 4) is None
    assert _core.small_value_counts(np.array([0, -1], np.int64), 4) is None
    np.testing.assert_array_equal(_core.small_value_counts(np.array([], np.int8), 2), [0, 0])
