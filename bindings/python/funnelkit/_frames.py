"""Column access and checks shared by every public function.

Input tables may be a pandas or Polars DataFrame, a PyArrow Table or RecordBatch, a DuckDB
relation, anything else that exports the Arrow PyCapsule stream interface, or a plain mapping of
column name to array-like. Columns come out as one-dimensional numpy arrays of exactly the
dtype the compiled core expects, and every conversion that could lose information raises
``TypeError`` or ``ValueError`` naming the column, the row and the value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = [
    "entity_ids",
    "time_info",
    "time_axis",
    "column_names",
    "has_column",
    "as_table",
    "column",
    "entity_codes",
    "timestamps",
    "int32_codes",
    "stage_codes",
    "category_codes",
    "amounts",
    "n_rows",
    "Labels",
]


def as_table(data: Any) -> Any:
    """Normalises the input once: returns an object whose columns :func:`column` can read.
    Polars LazyFrames are collected; DuckDB relations and anything exporting the Arrow
    PyCapsule stream (``__arrow_c_stream__``) are read as PyArrow tables."""
    if isinstance(data, Mapping):
        return data
    mod = type(data).__module__
    if mod.startswith("polars") and type(data).__name__ == "LazyFrame":
        return data.collect()
    if mod.startswith("pandas") or mod.startswith("polars"):
        return data
    if mod.startswith("pyarrow"):
        if type(data).__name__ == "RecordBatchReader":
            return data.read_all()
        return data
    if mod.startswith("duckdb"):
        if hasattr(data, "to_arrow_table"):
            return data.to_arrow_table()
        out = data.arrow()
        return out.read_all() if hasattr(out, "read_all") else out
    if hasattr(data, "__arrow_c_stream__"):
        pa = _need_pyarrow()
        return pa.table(data)
    raise TypeError(
        "expected a pandas or Polars DataFrame (or LazyFrame), a PyArrow table, a DuckDB relation, an "
        f"object with __arrow_c_stream__ or a mapping of column name to array, got {type(data).__name__}"
    )


def _need_pyarrow() -> Any:
    from ._result import need

    return need("pyarrow", "reading Arrow data")


def column_names(table: Any) -> list[str]:
    """The column names of a normalised input table."""
    if isinstance(table, Mapping):
        return [str(k) for k in table.keys()]
    names = getattr(table, "column_names", None)
    if names is not None:
        return list(names)
    return [str(c) for c in getattr(table, "columns", [])]


def has_column(data: Any, name: str) -> bool:
    return name in column_names(as_table(data))


def column(data: Any, name: str, option: str | None = None, *, labels: bool = False,
           known: Sequence[str] | None = None) -> Any:
    """The named column as a one-dimensional numpy array (object dtype for strings); a missing
    column is an error that lists the columns present and the closest names. ``option`` names
    the keyword argument that chose the column (e.g. ``entity=``). With ``labels=True``, a
    column of strings or categories comes as :class:`Labels` (dictionary codes encoded by Arrow
    or taken from the categorical, never an object array); other columns as without it.
    ``known`` labels (e.g. the stage names), when given, take the first codes of Python strings
    (see :meth:`Labels.of`)."""
    table = as_table(data)
    present = column_names(table)
    if name not in present:
        from ._names import closest

        near = closest(name, present)
        hint = f"; did you mean {' or '.join(repr(c) for c in near)}?" if near else ""
        opt = f" (option '{option}')" if option and option != name else ""
        raise ValueError(f"column {name!r}{opt} is not in the input{hint} (columns: {', '.join(map(repr, present))})")
    mod = type(table).__module__
    if mod.startswith("pyarrow"):
        col = table.column(name)
    else:
        col = table[name]
    if labels:
        encoded = Labels.of(col, known)
        if encoded is not None:
            return encoded
    cmod = type(col).__module__
    if cmod.startswith("pandas"):
        if isinstance(col.dtype, _pandas_categorical()):
            return col  # kept as a Categorical series: category_codes() reads its codes
        if getattr(col.dtype, "tz", None) is not None:
            col = col.dt.tz_convert("UTC").dt.tz_localize(None)
        # Nullable integer and boolean columns (pandas extension dtypes): without a missing
        # value, as their numpy dtype (as if the caller had passed a numpy column); with one,
        # float64 with NaN, which the checks downstream report at its row. A numpy dtype cannot
        # hold a missing integer: no scan there (it cost a few milliseconds per 1e7 rows).
        if not isinstance(col.dtype, np.dtype) and col.dtype.kind in "iub":
            plain = getattr(col.dtype, "numpy_dtype", None)
            col = col.astype("float64") if plain is None or col.hasnans else col.astype(plain)
        arr = col.to_numpy()
    elif cmod.startswith("polars"):
        if str(col.dtype).startswith("Categorical") or str(col.dtype).startswith("Enum"):
            col = col.cast(str)
        arr = col.to_numpy()
    elif cmod.startswith("pyarrow"):
        import pyarrow as pa

        if isinstance(col, pa.ChunkedArray):
            col = col.chunk(0) if col.num_chunks == 1 else col.combine_chunks()
        if pa.types.is_dictionary(col.type):
            col = col.cast(col.type.value_type)
        arr = col.to_numpy(zero_copy_only=False)
    else:
        arr = np.asarray(col)
    if arr.ndim != 1:
        raise ValueError(f"column '{name}' must be one-dimensional, got shape {arr.shape}")
    return arr


def _pandas_categorical() -> type:
    import pandas as pd

    return pd.CategoricalDtype


class Labels:
    """A column of strings or categories as dictionary codes: ``codes`` (signed integers of any
    width, one per row, -1 where the value is missing) and ``categories`` (the distinct values, a
    list). Built in C++ from Python strings, by Arrow's dictionary encoding, or from a
    categorical's own codes, so that no Python code runs per row."""

    __slots__ = ("codes", "categories", "_counts", "_owned")

    def __init__(self, codes: np.ndarray, categories: list[Any], counts: np.ndarray | None = None,
                 owned: bool = False):
        self.codes = codes
        self.categories = categories
        self._counts = counts
        # Codes made for this object alone (not a view of the caller's data): mapped() may then
        # overwrite them, as its last use.
        self._owned = owned

    def __len__(self) -> int:
        return len(self.codes)

    @classmethod
    def of(cls, col: Any, known: Sequence[str] | None = None) -> Labels | None:
        """The labels of a pandas, Polars, PyArrow or numpy column of strings or categories;
        None for any other column (numbers, datetimes, mixed objects). For Python strings,
        ``known`` labels come first (codes 0.., present or not), so that a caller mapping labels
        to those codes finds the codes already in place (see :meth:`mapped`)."""
        mod = type(col).__module__
        if mod.startswith("pandas"):
            if isinstance(col.dtype, _pandas_categorical()):
                # The categorical's own codes, at their own width (int8 for up to 127 categories).
                return cls(np.ascontiguousarray(col.cat.codes.to_numpy()), col.cat.categories.tolist())
            if col.dtype.kind in "OSU" or str(col.dtype).startswith("string"):
                return cls._from_arrow_values(col, known)
            return None
        if mod.startswith("polars"):
            dtype = str(col.dtype)
            if dtype.startswith(("Categorical", "Enum", "String", "Utf8")):
                return cls._of_arrow(col.to_arrow())
            return None
        if mod.startswith("pyarrow"):
            return cls._of_arrow(col)
        if isinstance(col, np.ndarray) and col.ndim == 1 and col.dtype.kind in "OSU":
            return cls._from_arrow_values(col, known)
        return None

    @classmethod
    def _from_arrow_values(cls, values: Any, known: Sequence[str] | None = None) -> Labels | None:
        # Python strings: one pass in C++ (a label is usually the same object row after row),
        # else pandas' hash factorisation, else Arrow's.
        from . import _core

        arr = values.to_numpy() if type(values).__module__.startswith("pandas") else values
        if isinstance(arr, np.ndarray) and arr.dtype.kind == "O":
            encoded = _core.encode_strings(arr, None if known is None else [str(k) for k in known])
            if encoded is not None:
                return cls(encoded[0], encoded[1], counts=encoded[2], owned=True)
        try:
            import pandas as pd
        except ImportError:
            pd = None
        if pd is not None:
            try:
                codes, uniques = pd.factorize(values, use_na_sentinel=True)
            except TypeError:  # unhashable values: the generic path reports them
                return None
            if len(uniques) and not all(isinstance(u, str) for u in uniques[: min(len(uniques), 64)]):
                return None  # not a column of strings
            return cls(np.asarray(codes, dtype=np.int32), list(uniques))
        pa = _need_pyarrow()
        try:
            arr = pa.array(values, from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError):
            return None  # mixed or unusual objects: the generic path handles them
        return cls._of_arrow(arr)

    @classmethod
    def _of_arrow(cls, col: Any) -> Labels | None:
        import pyarrow as pa
        import pyarrow.compute as pc

        if isinstance(col, pa.ChunkedArray):
            if pa.types.is_dictionary(col.type) and col.num_chunks > 1:
                col = col.unify_dictionaries()
            col = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
        kind = col.type.value_type if pa.types.is_dictionary(col.type) else col.type
        if not (pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind)
                or pa.types.is_dictionary(col.type)):
            return None
        if not pa.types.is_dictionary(col.type):
            if pa.types.is_string_view(kind):
                col = col.cast(pa.large_string())
            col = pc.dictionary_encode(col)
        indices = col.indices
        if indices.null_count:
            # Unsigned indices (Polars categoricals: uint32) have no -1: signed first.
            if not pa.types.is_signed_integer(indices.type):
                indices = indices.cast(pa.int64())
            indices = pc.fill_null(indices, -1)
        codes = np.asarray(indices.to_numpy(zero_copy_only=False), dtype=np.int32)
        return cls(codes, col.dictionary.to_pylist())

    def counts(self) -> np.ndarray:
        """Rows per category, then (last) the rows with a missing value; one pass in C++."""
        if self._counts is None:
            from . import _core

            self._counts = _core.code_counts(self.codes, len(self.categories))
        return self._counts

    def present(self) -> np.ndarray:
        """Which categories occur in the column (a bool per category)."""
        return self.counts()[:-1] > 0

    def first_row(self, code: int) -> int:
        """The first row holding category ``code`` (-1: a missing value)."""
        return int(np.flatnonzero(self.codes == code)[0])

    def check_no_missing(self, name: str) -> None:
        if self.counts()[-1]:
            raise ValueError(f"column '{name}', row {self.first_row(-1)}: missing value")

    def mapped(self, mapping: np.ndarray, narrow: bool = False) -> np.ndarray:
        """``mapping[code]`` (int32) for every row, ``mapping[-1]`` for a missing value. The last
        use of the object: codes it owns are overwritten rather than copied. With ``narrow``
        the result is int8 when every mapped value fits (a quarter of the memory)."""
        from . import _core

        mapping = np.ascontiguousarray(mapping, dtype=np.int32)
        narrow = narrow and mapping.size > 0 and -128 <= int(mapping.min()) and int(mapping.max()) <= 127
        width = np.int8 if narrow else np.int32
        if self._owned and self.codes.dtype == width and self._counts is not None:
            # Codes already in place (labels encoded with the caller's known labels first): every
            # present code maps to itself, so the codes are the answer and no pass is needed.
            present = np.flatnonzero(self._counts[:-1])
            if (self._counts[-1] == 0 or mapping[-1] == -1) and np.array_equal(mapping[present], present):
                out, self.codes, self._counts, self._owned = self.codes, None, None, False
                return out
        out = _core.remap_codes(self.codes, mapping, narrow=narrow,
                                in_place=self._owned and self.codes.dtype == width)
        if self._owned:
            self.codes, self._counts, self._owned = None, None, False  # spent
        return out


def n_rows(arr: Any) -> int:
    return len(arr)


def _first_bad(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def entity_codes(arr: Any, name: str = "entity") -> np.ndarray:
    """Entity ids as int64. Integer ids pass through; any other ids (strings, UUIDs) are
    replaced by dense codes in order of first appearance, which identifies the same entities."""
    if isinstance(arr, Labels):
        arr.check_no_missing(name)
        return arr.codes.astype(np.int64)
    arr = _values(arr)
    if arr.dtype.kind in "iu":
        if arr.dtype == np.uint64 and arr.size and arr.max() > np.iinfo(np.int64).max:
            row = _first_bad(arr > np.iinfo(np.int64).max)
            raise ValueError(f"column '{name}', row {row}: value {_plain(arr[row])} does not fit in int64")
        return np.ascontiguousarray(arr, dtype=np.int64)
    if arr.dtype.kind == "f":
        bad = ~np.isfinite(arr) | (arr != np.round(arr))
        if bad.any():
            row = _first_bad(bad)
            raise TypeError(f"column '{name}', row {row}: value {_plain(arr[row])!r} is not an integer id")
        # 2**63 is exact in float64; anything at or beyond it (or below -2**63) has no int64.
        out_of_range = (arr >= 2.0**63) | (arr < -(2.0**63))
        if out_of_range.any():
            row = _first_bad(out_of_range)
            raise ValueError(f"column '{name}', row {row}: value {_plain(arr[row])!r} does not fit in int64")
        return arr.astype(np.int64)
    encoded = Labels.of(arr)
    if encoded is not None:
        return entity_codes(encoded, name)
    _check_no_missing(arr, name)
    codes, _ = _factorize(arr)
    return codes.astype(np.int64)


def entity_ids(arr: Any, name: str = "entity") -> tuple[np.ndarray, np.ndarray | None]:
    """Like :func:`entity_codes`, and also the original ids of the codes when the ids were not
    integers (None otherwise), to label per-entity results."""
    if isinstance(arr, Labels):
        arr.check_no_missing(name)
        return arr.codes.astype(np.int64), np.asarray(arr.categories, dtype=object)
    values = _values(arr)
    if values.dtype.kind in "iuf":
        return entity_codes(values, name), None
    encoded = Labels.of(values)
    if encoded is not None:
        return entity_ids(encoded, name)
    _check_no_missing(values, name)
    codes, uniques = _factorize(values)
    return codes.astype(np.int64), np.asarray(uniques, dtype=object)


def time_info(arr: Any, time_unit: str | None, name: str = "time",
              check_never: bool = True) -> tuple[np.ndarray, int, bool]:
    """Timestamps as int64 plus (ticks per second, is_datetime). Datetime columns carry their
    unit; integer columns take ``time_unit`` (default seconds)."""
    values = _values(arr) if not _is_pandas_categorical(arr) else np.asarray(arr)
    ticks = timestamps(values, name, check_never)
    if values.dtype.kind == "M":
        unit = np.datetime_data(values.dtype)[0]
        if time_unit is not None and time_unit != unit:
            raise ValueError(f"option 'time_unit': value {time_unit!r} contradicts the datetime64[{unit}] column '{name}'")
        return ticks, _TICKS[unit], True
    unit = time_unit or "s"
    if unit not in _TICKS:
        raise ValueError(f"option 'time_unit': value {unit!r} is not one of {', '.join(_TICKS)}")
    return ticks, _TICKS[unit], False


_TICKS = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}


def time_axis(arr: Any, name: str, time_unit: str | None = None,
              check_never: bool = True) -> tuple[np.ndarray, Any]:
    """Timestamps as int64 and the :class:`funnelkit._time.TimeAxis` of the column: datetime
    columns carry their own unit (``time_unit`` must then agree or be None); integer columns
    are in ``time_unit`` (default seconds). ``check_never=False`` leaves the check for the
    reserved smallest int64 to a kernel that makes it in its own pass."""
    from ._time import TimeAxis, parse_unit

    ticks, tps, is_dt = time_info(arr, time_unit, name, check_never)
    unit = {1: "s", 1_000: "ms", 1_000_000: "us", 1_000_000_000: "ns"}[tps]
    if not is_dt:
        unit = parse_unit(time_unit)
    return ticks, TimeAxis(column=name, unit=unit, is_datetime=is_dt)


def timestamps(arr: Any, name: str = "time", check_never: bool = True) -> np.ndarray:
    """Timestamps as int64. Integer columns pass through in their own unit; datetime64 columns
    become integers in their own unit (e.g. nanoseconds for datetime64[ns]); time-zone aware
    pandas columns are converted to UTC first. Floats, strings and missing values are rejected."""
    arr = _values(arr)
    if arr.dtype.kind in "iu":
        if arr.dtype == np.uint64 and arr.size and arr.max() > np.iinfo(np.int64).max:
            row = _first_bad(arr > np.iinfo(np.int64).max)
            raise ValueError(f"column '{name}', row {row}: value {_plain(arr[row])} does not fit in int64")
        out = np.ascontiguousarray(arr, dtype=np.int64)
        if check_never:
            _check_not_never(out, name)
        return out
    if arr.dtype.kind == "M":
        nat = np.isnat(arr)
        if nat.any():
            raise ValueError(f"column '{name}', row {_first_bad(nat)}: value NaT is a missing timestamp")
        return arr.view(np.int64)
    if arr.dtype.kind == "f":
        bad = ~np.isfinite(arr) | (arr != np.round(arr))
        row = _first_bad(bad) if bad.any() else 0
        value = _plain(arr[row]) if arr.size else "?"
        raise TypeError(
            f"column '{name}', row {row}: value {value!r} is not an integer timestamp; timestamps must be "
            f"integers or datetimes, got dtype {arr.dtype}"
        )
    raise TypeError(f"column '{name}': timestamps must be integers or datetimes, got dtype {arr.dtype}")


def _check_not_never(ticks: np.ndarray, name: str) -> None:
    """The smallest int64 is the core's "never" marker: as a timestamp it would silently mean
    "no time at all"."""
    if ticks.size and ticks.min() == np.iinfo(np.int64).min:
        row = _first_bad(ticks == np.iinfo(np.int64).min)
        raise ValueError(f"column '{name}', row {row}: value {int(ticks[row])} is the smallest int64, which is "
                         "reserved for 'no time'; it is not a valid timestamp")


def int32_codes(arr: Any, name: str, keep_int8: bool = False) -> np.ndarray:
    """Integer codes as int32, with range and integrality checks; with ``keep_int8``, a
    contiguous int8 column is returned as it is (for kernels that read one-byte codes)."""
    arr = _values(arr)
    if keep_int8 and isinstance(arr, np.ndarray) and arr.dtype == np.int8:
        return np.ascontiguousarray(arr)
    if arr.dtype.kind == "f":
        bad = ~np.isfinite(arr) | (arr != np.round(arr))
        if bad.any():
            row = _first_bad(bad)
            raise TypeError(f"column '{name}', row {row}: value {_plain(arr[row])!r} is not an integer code")
    elif arr.dtype.kind not in "iub":
        raise TypeError(f"column '{name}': expected integer codes, got dtype {arr.dtype}")
    info = np.iinfo(np.int32)
    fits = arr.dtype.kind == "b" or (arr.dtype.kind in "iu" and np.can_cast(arr.dtype, np.int32))
    if arr.size and not fits and (arr.min() < info.min or arr.max() > info.max):
        bad = (arr < info.min) | (arr > info.max)
        row = _first_bad(bad)
        raise ValueError(f"column '{name}', row {row}: value {_plain(arr[row])} does not fit in int32")
    return np.ascontiguousarray(arr, dtype=np.int32)


def stage_codes(arr: Any, names: Sequence[str], name: str = "stage", narrow: bool = False) -> np.ndarray:
    """Stage codes from stage names (strings or categoricals) or integer codes. Unknown names
    raise ValueError naming the row and the value; integer codes are range-checked by the core.
    With ``narrow``, codes made from labels are int8 (for kernels that read one-byte codes)."""
    if _is_pandas_categorical(arr):
        arr = Labels.of(arr)
    if isinstance(arr, Labels):
        arr.check_no_missing(name)
        lookup = {n: i for i, n in enumerate(names)}
        mapping = np.full(len(arr.categories) + 1, -1, dtype=np.int32)
        present = arr.present()
        for j, c in enumerate(arr.categories):
            key = str(c)
            if key in lookup:
                mapping[j] = lookup[key]
            elif present[j]:
                from ._names import closest

                near = closest(key, names)
                raise ValueError(
                    f"column '{name}', row {arr.first_row(j)}: value '{key}' is not a stage of the model"
                    + (f"; did you mean {' or '.join(repr(c) for c in near)}?" if near else "")
                    + f" (stages: {', '.join(names)})"
                )
        return arr.mapped(mapping, narrow)
    arr = _values(arr)
    if arr.dtype.kind in "iuf":
        return int32_codes(arr, name)
    encoded = Labels.of(arr, names)
    if encoded is not None:
        return stage_codes(encoded, names, name, narrow)
    _check_no_missing(arr, name)
    uniques, inverse = np.unique(arr.astype(str), return_inverse=True)
    lookup = {n: i for i, n in enumerate(names)}
    mapping = np.empty(len(uniques), dtype=np.int32)
    for j, u in enumerate(uniques):
        if u not in lookup:
            row = _first_bad(inverse == j)
            from ._names import closest

            near = closest(u, names)
            raise ValueError(
                f"column '{name}', row {row}: value '{u}' is not a stage of the model"
                + (f"; did you mean {' or '.join(repr(c) for c in near)}?" if near else "")
                + f" (stages: {', '.join(names)})"
            )
        mapping[j] = lookup[u]
    return mapping[inverse.reshape(-1)]


def category_codes(arr: Any, name: str, categories: Sequence[Any] | None = None,
                   narrow: bool = False) -> tuple[np.ndarray, list[Any]]:
    """Dense int32 codes and their labels for any column (strings, categoricals, integers).
    Labels are the sorted distinct values present, for every input format (a categorical's
    declared categories and order are not used), unless ``categories`` fixes them; values
    outside ``categories`` raise ValueError. With ``narrow``, codes made from labels are int8
    when they fit."""
    if _is_pandas_categorical(arr):
        arr = Labels.of(arr)
    if isinstance(arr, Labels):
        arr.check_no_missing(name)
        cats = [_plain(c) for c in arr.categories]
        remap = np.full(len(cats) + 1, -1, dtype=np.int32)
        present = np.flatnonzero(arr.present())
        if categories is not None:
            out = list(categories)
            lookup = {c: i for i, c in enumerate(out)}
            for j in present:
                if cats[j] not in lookup:
                    raise ValueError(f"column '{name}', row {arr.first_row(int(j))}: value {cats[j]!r} is not among "
                                     "the given categories")
                remap[j] = lookup[cats[j]]
            return arr.mapped(remap, narrow), out
        order = sorted(present.tolist(), key=lambda j: cats[j])
        remap[order] = np.arange(len(order), dtype=np.int32)
        return arr.mapped(remap, narrow), [cats[j] for j in order]
    arr = _values(arr)
    encoded = Labels.of(arr) if arr.dtype.kind in "OSU" else None
    if encoded is not None:
        return category_codes(encoded, name, categories, narrow)
    _check_no_missing(arr, name)
    if categories is not None:
        cats = list(categories)
        lookup = {c: i for i, c in enumerate(cats)}
        uniques, inverse = np.unique(arr, return_inverse=True)
        mapping = np.empty(len(uniques), dtype=np.int32)
        for j, u in enumerate(uniques):
            key = _plain(u)
            if key not in lookup:
                row = _first_bad(inverse == j)
                raise ValueError(f"column '{name}', row {row}: value {key!r} is not among the given categories")
            mapping[j] = lookup[key]
        return mapping[inverse.reshape(-1)], cats
    if arr.dtype.kind in "iu" and arr.size:
        # Integer codes in a compact range (the usual case): which values occur, by counting,
        # then one table lookup per row; no hashing, no int64 codes.
        counts = None
        if arr.dtype.kind == "i":  # one pass each in C++, no shifted copy of the column
            from . import _core

            arr = np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("="))  # read as native integers
            # Values 0..4095 are counted in one pass, without finding the range first.
            lo, counts = 0, _core.small_value_counts(arr, 4096)
            if counts is None:
                lo, hi = int(arr.min()), int(arr.max())
                if hi - lo < 4 * arr.size + 1024:
                    counts = _core.code_counts(arr, hi - lo + 1, lo)[:-1]
            if counts is not None:
                present = np.flatnonzero(counts)
                hi = lo + int(present[-1])
                if lo == 0 and len(present) == hi + 1 and arr.dtype == np.int32:
                    return arr, list(range(hi + 1))  # already the dense codes 0..hi
                remap = np.full(hi - lo + 2, -1, dtype=np.int32)
                remap[present] = np.arange(len(present), dtype=np.int32)
                return _core.remap_codes(arr, remap, lo), [int(v) + lo for v in present.tolist()]
        else:
            lo, hi = int(arr.min()), int(arr.max())
            if hi - lo < 4 * arr.size + 1024:
                present = np.flatnonzero(np.bincount((arr - lo).astype(np.intp, copy=False), minlength=hi - lo + 1))
                remap = np.full(hi - lo + 1, -1, dtype=np.int32)
                remap[present] = np.arange(len(present), dtype=np.int32)
                return remap[arr - lo], [int(v) + lo for v in present.tolist()]
    codes, uniques = _factorize(arr, sort=True)
    return codes.astype(np.int32), [_plain(u) for u in uniques]


def _plain(v: Any) -> Any:
    """numpy scalars to Python scalars, for labels."""
    return v.item() if isinstance(v, np.generic) else v


def amounts(arr: Any, name: str = "amount") -> np.ndarray:
    """Amounts as float64; NaN, inf and negatives are rejected by the core with the row."""
    arr = _values(arr)
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"column '{name}': expected numeric amounts, got dtype {arr.dtype}")
    return np.ascontiguousarray(arr, dtype=np.float64)


def _is_pandas_categorical(arr: Any) -> bool:
    return type(arr).__module__.startswith("pandas") and isinstance(getattr(arr, "dtype", None), _pandas_categorical())


def _values(arr: Any) -> np.ndarray:
    if _is_pandas_categorical(arr):
        return np.asarray(arr.astype(object))
    return np.asarray(arr)


def _check_no_missing(arr: np.ndarray, name: str) -> None:
    if arr.dtype.kind in "fc" and len(arr):  # NaN (nullable integer columns arrive as floats)
        missing = np.isnan(arr)
        if missing.any():
            raise ValueError(f"column '{name}', row {_first_bad(missing)}: missing value")
    if arr.dtype.kind in "mM" and len(arr):
        missing = np.isnat(arr)
        if missing.any():
            raise ValueError(f"column '{name}', row {_first_bad(missing)}: missing value")
    if arr.dtype.kind == "O" and len(arr):
        # None and float NaN, compared in C: `x != x` holds only for NaN.
        try:
            missing = np.asarray(np.equal(arr, None) | np.not_equal(arr, arr), dtype=bool)
        except TypeError:  # values whose comparison is not a bool (pandas.NA)
            missing = np.array([v is None or (isinstance(v, float) and v != v) for v in arr], dtype=bool)
        if missing.any():
            raise ValueError(f"column '{name}', row {_first_bad(missing)}: missing value")


def _factorize(arr: np.ndarray, sort: bool = False) -> tuple[np.ndarray, np.ndarray]:
    try:
        import pandas as pd
    except ImportError:  # pandas is optional: numpy's sort-based factorisation (sorted labels)
        uniques, inverse = np.unique(arr, return_inverse=True)
        return inverse.reshape(-1), uniques
    codes, uniques = pd.factorize(arr, sort=sort)
    return codes, np.asarray(uniques)


def times_on_axis(arr: Any, axis: Any, name: str, *, missing: int | None = None) -> np.ndarray:
    """A second time column of a call as int64 ticks of ``axis`` (the call's main time column):
    datetimes of any unit are converted exactly to the axis's unit, integers are taken as its
    ticks. Missing values (NaT, None, NaN, nulls) become ``missing``, or are an error naming
    the row when ``missing`` is None. Datetimes beside an integer axis (or the reverse) are a
    TypeError: the two columns must hold the same kind of time."""
    values = _values(arr)
    kind = values.dtype.kind
    if kind == "O":
        absent = np.array([v is None or (isinstance(v, float) and v != v) or type(v).__name__ in ("NaTType", "NAType")
                           or (isinstance(v, np.datetime64) and np.isnat(v)) for v in values], dtype=bool)
        present = values[~absent]
        if present.size and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in present):
            values = np.where(absent, np.nan, values).astype(np.float64)
        elif present.size:
            try:
                converted = np.array([np.datetime64("NaT") if a else np.datetime64(_as_datetime(v), "ns")
                                      for v, a in zip(values, absent)], dtype="datetime64[ns]")
            except (TypeError, ValueError):
                raise TypeError(f"column '{name}': expected times (integers or datetimes), got values such as "
                                f"{present[0]!r}") from None
            values = converted
        else:
            values = np.full(len(values), np.nan)
        kind = values.dtype.kind
    if kind == "M":
        if not axis.is_datetime:
            raise TypeError(f"column '{name}' holds datetimes but the time column '{axis.column}' holds integers; "
                            "give both columns the same kind of time")
        nat = np.isnat(values)
        out = values.astype(f"datetime64[{axis.unit}]")
        back = out.astype(values.dtype)
        lossy = ~nat & (back != values)
        if lossy.any():
            row = _first_bad(lossy)
            raise ValueError(f"column '{name}', row {row}: value {values[row]} is not a whole number of "
                             f"{axis.unit_name}, the unit of the time column '{axis.column}'")
        ticks = out.view(np.int64).copy()
    elif kind in "iu":
        if axis.is_datetime and values.size:
            raise TypeError(f"column '{name}' holds integers but the time column '{axis.column}' holds datetimes; "
                            "give both columns the same kind of time")
        nat = np.zeros(len(values), dtype=bool)
        ticks = np.ascontiguousarray(values, dtype=np.int64).copy()
    elif kind == "f":
        nat = np.isnan(values)
        if axis.is_datetime and not nat.all():
            raise TypeError(f"column '{name}' holds numbers but the time column '{axis.column}' holds datetimes; "
                            "give both columns the same kind of time")
        bad = ~nat & (~np.isfinite(values) | (values != np.round(values)))
        if bad.any():
            row = _first_bad(bad)
            raise TypeError(f"column '{name}', row {row}: value {_plain(values[row])!r} is not an integer time")
        ticks = np.where(nat, 0, values).astype(np.int64)
    else:
        raise TypeError(f"column '{name}': expected times (integers or datetimes), got dtype {values.dtype}")
    if kind != "M":
        _check_not_never(np.where(nat, 0, ticks), name)
    if nat.any():
        if missing is None:
            raise ValueError(f"column '{name}', row {_first_bad(nat)}: missing time")
        ticks[nat] = missing
    return ticks


def _as_datetime(v: Any) -> Any:
    """A datetime-like value as something numpy reads as a datetime (UTC for aware values)."""
    import datetime as _dt

    if hasattr(v, "to_datetime64"):
        v = v.to_pydatetime() if getattr(v, "tzinfo", None) is not None else v.to_datetime64()
    if isinstance(v, _dt.datetime) and v.tzinfo is not None:
        v = v.astimezone(_dt.timezone.utc).replace(tzinfo=None)
    if isinstance(v, (np.datetime64, _dt.datetime, _dt.date)):
        return v
    raise TypeError(f"{v!r} is not a datetime")

def flags(arr: Any, name: str) -> np.ndarray:
    """A 0/1 column as uint8: booleans, integers 0/1 or floats 0.0/1.0. Anything else (2, NaN,
    a string) raises ValueError naming the column, the row and the value."""
    v = _values(arr)
    if v.dtype == bool:
        return v.astype(np.uint8)
    if v.dtype.kind == "O":
        bad = np.array([not (isinstance(x, (bool, int, float, np.generic)) and x in (0, 1)) for x in v], dtype=bool)
    elif v.dtype.kind in "iuf":
        with np.errstate(invalid="ignore"):
            bad = ~np.isin(v, (0, 1))
    else:
        raise TypeError(f"column '{name}': expected 0/1 flags, got dtype {v.dtype}")
    if bad.any():
        row = _first_bad(bad)
        x = _plain(v[row])
        raise ValueError(f"column '{name}', row {row}: value {x!r} must be 0 or 1")
    return v.astype(np.uint8)


def numbers(arr: Any, name: str) -> np.ndarray:
    """A numeric column as float64 (booleans and integers converted); other dtypes raise
    TypeError naming the column. Finiteness is checked by the caller or the core."""
    v = _values(arr)
    if v.dtype.kind not in "iufb":
        raise TypeError(f"column '{name}' must be numeric, got dtype {v.dtype}")
    return np.ascontiguousarray(v, dtype=np.float64)


def ticks_on(arr: Any, axis: Any, name: str) -> np.ndarray:
    """A second time column (e.g. conversion times beside touch times) as int64 ticks of the
    first column's :class:`TimeAxis`, with no missing values: :func:`times_on_axis`."""
    return times_on_axis(arr, axis, name)
