"""One result contract for every function of the package.

- :class:`Table` is the base of every tabular result. Arrow comes first: ``to_arrow()`` and
  the Arrow PyCapsule stream (``__arrow_c_stream__``) are built from the result's columns, and
  ``to_pandas()``, ``to_polars()``, ``to_dict()`` and ``to_json()`` are derived from that Arrow
  table, so every export shows the same numbers, labels and types. Undefined numbers (a rate
  with a zero denominator) are Arrow nulls: NaN in pandas, null in Polars and JSON.
- :class:`Scalar` is mixed into the frozen dataclasses of single-number results.
- :class:`Mergeable` adds the state contract (``merge``, ``+``, ``==``, ``to_bytes`` /
  ``from_bytes``, pickling through the public :func:`restore`) to results computed in parts.
  Its bytes carry the labels (stage, segment, step names) and the options that give the
  numbers their meaning, around the core's own versioned state, with a CRC-32 over the whole.
- Every result has ``explain()``: an :class:`Explanation` with the definition of the numbers,
  the inputs they came from and the options in force.
"""

from __future__ import annotations

import datetime as _dt
import html
import json
import math
import struct
import zlib
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import numpy as np

if TYPE_CHECKING:  # optional packages, named in annotations only
    import matplotlib.axes
    import pandas
    import polars
    import pyarrow

__all__ = ["Explanation", "Table", "Scalar", "Mergeable", "restore", "need", "shown"]

T = TypeVar("T", bound="Mergeable")
_MAX_ROWS_SHOWN = 20


def need(module: str, feature: str) -> Any:
    """Imports an optional dependency, or says which extra to install."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        extra = {"pandas": "pandas", "polars": "polars", "pyarrow": "arrow"}.get(module, module)
        raise ImportError(f"{feature} needs {module}: pip install 'funnelkit[{extra}]'") from None


# -- plain values ----------------------------------------------------------------------------
def plain(value: Any) -> Any:
    """A Python value fit for JSON: numpy scalars unwrapped, NaN/inf as None, datetimes as ISO
    strings, durations as seconds, containers recursively."""
    if isinstance(value, np.generic):
        if isinstance(value, np.datetime64):
            return None if np.isnat(value) else str(value)
        if isinstance(value, np.timedelta64):
            return None if np.isnat(value) else value / np.timedelta64(1, "s")
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, _dt.timedelta):
        return value.total_seconds()
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def shown(value: Any) -> Any:
    """An option as given, for explain(): numbers stay numbers, durations become text."""
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    if isinstance(value, np.generic) and not isinstance(value, (np.datetime64, np.timedelta64)):
        return value.item()
    return str(value)


# -- explanations ------------------------------------------------------------------------------
class Explanation(Mapping[str, Any]):
    """What a result means: ``result`` (its type), ``definition`` (the formula in words),
    ``inputs`` (sizes and columns it was computed from) and ``options`` (every option in force).
    A read-only mapping; ``str()`` gives text to show beside the number."""

    __slots__ = ("_d",)

    def __init__(self, result: str, definition: str, inputs: Mapping[str, Any] | None = None,
                 options: Mapping[str, Any] | None = None, **extra: Any):
        self._d: dict[str, Any] = {"result": result, "definition": " ".join(definition.split())}
        self._d.update({k: v for k, v in extra.items() if v is not None})
        self._d["inputs"] = dict(inputs or {})
        self._d["options"] = dict(options or {})

    def __getitem__(self, key: str) -> Any:
        return self._d[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._d)

    def __len__(self) -> int:
        return len(self._d)

    @property
    def definition(self) -> str:
        """The definition of the numbers, in words."""
        return self._d["definition"]

    @property
    def inputs(self) -> dict[str, Any]:
        """What the numbers were computed from: sizes, column names."""
        return self._d["inputs"]

    @property
    def options(self) -> dict[str, Any]:
        """Every option in force, as passed or defaulted."""
        return self._d["options"]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (numbers stay numbers; undefined numbers are None)."""
        return plain(self._d)

    def to_json(self, **kwargs: Any) -> str:
        """The explanation as JSON text (keyword arguments go to ``json.dumps``)."""
        return json.dumps(self.to_dict(), allow_nan=False, **kwargs)

    def __str__(self) -> str:
        lines = [f"{self._d['result']}: {self._d['definition']}"]
        for key, value in self._d.items():
            if key in ("result", "definition", "inputs", "options"):
                continue
            lines.append(f"{key}: {value}")
        for key in ("inputs", "options"):
            if self._d[key]:
                lines.append(f"{key}: " + ", ".join(f"{k}={_short(v)}" for k, v in self._d[key].items()))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"Explanation({self.to_dict()!r})"

    def _repr_html_(self) -> str:
        rows = "".join(f"<tr><th style='text-align:left'>{html.escape(str(k))}</th><td style='text-align:left'>"
                       f"{html.escape(_short(v, 200))}</td></tr>" for k, v in self._d.items() if k != "definition")
        return (f"<div><p><b>{html.escape(self._d['result'])}</b>: {html.escape(self._d['definition'])}</p>"
                f"<table>{rows}</table></div>")


def _short(value: Any, limit: int = 60) -> str:
    text = json.dumps(plain(value)) if not isinstance(value, str) else value
    return text if len(text) <= limit else text[: limit - 3] + "..."


# -- the explain() part every result shares ------------------------------------------------------
class _Explained:
    #: The definition of the numbers, in words (one paragraph).
    definition: ClassVar[str] = ""

    def _explanation_parts(self) -> tuple[dict[str, Any], dict[str, Any]]:
        return dict(getattr(self, "_inputs", None) or {}), dict(getattr(self, "_options", None) or {})

    def explain(self) -> Explanation:
        """The definition of the numbers, the inputs they came from and the options in force."""
        inputs, options = self._explanation_parts()
        return Explanation(type(self).__name__, self.definition or (type(self).__doc__ or "").split("\n\n")[0],
                           inputs, options)


# -- tables --------------------------------------------------------------------------------------
class Table(_Explained):
    """A tabular result. Subclasses provide the columns through :meth:`_columns` (called once,
    lazily) or pass them to the constructor.

    Column values are numpy arrays or lists; ``categories`` maps a column to its ordered labels
    (stages in funnel order) so that exports keep that order; ``units`` maps a column to its
    unit ("days", "seconds", ...), kept in the Arrow field metadata and in ``to_json``.
    """

    _cols: dict[str, Any] | None
    _categories: dict[str, list[Any]]
    _units: dict[str, str]
    _inputs: dict[str, Any]
    _options: dict[str, Any]

    def __init__(self, columns: Mapping[str, Any] | None = None, *, inputs: Mapping[str, Any] | None = None,
                 options: Mapping[str, Any] | None = None, categories: Mapping[str, list[Any]] | None = None,
                 units: Mapping[str, str] | None = None, definition: str | None = None, name: str | None = None):
        self._cols = dict(columns) if columns is not None else None
        self._inputs = dict(inputs or {})
        self._options = dict(options or {})
        self._categories = dict(categories or {})
        self._units = dict(units or {})
        if definition is not None:
            self._definition_override = definition
        if name is not None:
            self._name_override = name

    # subclasses with lazily built columns override this
    def _columns(self) -> dict[str, Any]:
        raise NotImplementedError

    def _table(self) -> dict[str, Any]:
        if self._cols is None:
            self._cols = self._columns()
        return self._cols

    def _invalidate(self) -> None:
        """Called after an in-place change (a merge): the columns are rebuilt on next use."""
        if type(self)._columns is not Table._columns:
            self._cols = None

    def explain(self) -> Explanation:
        inputs, options = self._explanation_parts()
        definition = getattr(self, "_definition_override", None) or self.definition \
            or (type(self).__doc__ or "").split("\n\n")[0]
        return Explanation(self._result_name, definition, inputs, options)

    @property
    def _result_name(self) -> str:
        return getattr(self, "_name_override", None) or type(self).__name__

    # -- shape ------------------------------------------------------------------------------
    @property
    def columns(self) -> list[str]:
        """Column names, in order."""
        return list(self._table())

    def __len__(self) -> int:
        cols = self._table()
        return len(next(iter(cols.values()))) if cols else 0

    def __getitem__(self, name: str) -> np.ndarray:
        """One column as a numpy array (``result["reached"]``)."""
        return self.column(name)

    def column(self, name: str) -> np.ndarray:
        """One column as a numpy array."""
        cols = self._table()
        if name not in cols:
            from ._names import unknown

            raise KeyError(unknown("column", name, list(cols)))
        return np.asarray(cols[name])

    # -- Arrow first ------------------------------------------------------------------------
    def to_arrow(self) -> pyarrow.Table:
        """The result as a ``pyarrow.Table``; undefined numbers are nulls, stage columns are
        ordered dictionaries, the explanation is in the schema metadata (``funnelkit``)."""
        pa = need("pyarrow", "to_arrow()")
        arrays, fields = [], []
        for name, values in self._table().items():
            arr = _arrow_array(pa, values, self._categories.get(name))
            meta = {b"unit": self._units[name].encode()} if name in self._units else None
            arrays.append(arr)
            fields.append(pa.field(name, arr.type, metadata=meta))
        meta = {b"funnelkit": json.dumps({"result": self._result_name, "explain": self.explain().to_dict()},
                                         allow_nan=False).encode()}
        return pa.Table.from_arrays(arrays, schema=pa.schema(fields, metadata=meta))

    def __arrow_c_stream__(self, requested_schema: Any = None) -> Any:
        """The Arrow PyCapsule stream interface: any Arrow-aware library reads the result
        directly (``polars.DataFrame(result)``, ``duckdb.sql("... from result")``)."""
        return self.to_arrow().__arrow_c_stream__(requested_schema)

    def to_pandas(self) -> pandas.DataFrame:
        """A pandas DataFrame (stage columns as ordered categoricals)."""
        need("pandas", "to_pandas()")
        return self.to_arrow().to_pandas()

    def to_polars(self) -> polars.DataFrame:
        """A Polars DataFrame."""
        pl = need("polars", "to_polars()")
        return pl.from_arrow(self.to_arrow())

    def to_dict(self, orient: str = "list") -> dict[str, list[Any]] | list[dict[str, Any]]:
        """Plain Python values: ``orient="list"`` gives {column: [values]}, ``"records"`` a list
        of row dicts. Undefined numbers are None; datetimes are ``datetime`` objects."""
        from ._names import choice

        choice(orient, ("list", "records"), "orient")
        table = self.to_arrow()
        return table.to_pylist() if orient == "records" else table.to_pydict()

    def to_json(self, *, orient: str = "records", indent: int | None = None) -> str:
        """JSON text: ``{"result", "explain", "columns": [{name, type, unit}], "data"}`` with real
        numbers, ``null`` for undefined ones, ISO 8601 datetimes and durations in seconds."""
        table = self.to_arrow()
        columns = [{"name": f.name, "type": _json_type(f.type), **({"unit": self._units[f.name]}
                                                                       if f.name in self._units else {})}
                   for f in table.schema]
        doc = {"result": self._result_name, "explain": self.explain().to_dict(), "columns": columns,
               "data": plain(self.to_dict(orient))}
        return json.dumps(doc, allow_nan=False, indent=indent)

    def plot(self, ax: matplotlib.axes.Axes | None = None, **kwargs: Any) -> matplotlib.axes.Axes:
        """Draws the result with matplotlib (``pip install 'funnelkit[plot]'``) on ``ax``, a new
        figure when None, and returns the Axes; :mod:`funnelkit.plot` says what each result
        draws (``kwargs`` go to ``Axes.set``)."""
        from .plot import plot_result

        return plot_result(self, ax, **kwargs)

    # -- display ----------------------------------------------------------------------------
    def _display_rows(self) -> tuple[list[str], list[list[str]], int]:
        cols = self._table()
        n = len(self)
        idx = list(range(n)) if n <= _MAX_ROWS_SHOWN else (list(range(_MAX_ROWS_SHOWN // 2))
                                                           + list(range(n - _MAX_ROWS_SHOWN // 2, n)))
        names = list(cols)
        rows = [[_fmt(cols[c][i]) for c in names] for i in idx]
        return names, rows, n

    def __repr__(self) -> str:
        names, rows, n = self._display_rows()
        title = f"{self._result_name} ({n:,} row{'s' if n != 1 else ''})"
        if not names:
            return title
        widths = [max(len(c), *(len(r[j]) for r in rows)) if rows else len(c) for j, c in enumerate(names)]
        out = [title, "  ".join(c.rjust(w) for c, w in zip(names, widths))]
        for i, r in enumerate(rows):
            if n > _MAX_ROWS_SHOWN and i == _MAX_ROWS_SHOWN // 2:
                out.append("...")
            out.append("  ".join(v.rjust(w) for v, w in zip(r, widths)))
        return "\n".join(out)

    def _repr_html_(self) -> str:
        names, rows, n = self._display_rows()
        head = "".join(f"<th>{html.escape(c)}{_unit_tag(self._units.get(c))}</th>" for c in names)
        body = []
        for i, r in enumerate(rows):
            if n > _MAX_ROWS_SHOWN and i == _MAX_ROWS_SHOWN // 2:
                body.append(f"<tr><td colspan='{len(names)}'>...</td></tr>")
            body.append("<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in r) + "</tr>")
        ex = self.explain()
        opts = ", ".join(f"{k}={_short(v)}" for k, v in ex.options.items())
        return (f"<div class='funnelkit-result'><p><b>{html.escape(self._result_name)}</b> "
                f"({n:,} rows): {html.escape(ex.definition)}</p>"
                f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
                + (f"<p><small>options: {html.escape(opts)}</small></p>" if opts else "") + "</div>")


def _unit_tag(unit: str | None) -> str:
    return f" <small>({html.escape(unit)})</small>" if unit else ""


def _fmt(v: Any) -> str:
    if isinstance(v, np.generic):
        if isinstance(v, np.datetime64):
            return "NaT" if np.isnat(v) else str(v)
        if isinstance(v, np.timedelta64):
            return "NaT" if np.isnat(v) else str(v.astype("timedelta64[s]")) if v.dtype != np.dtype("m8[s]") else str(v)
        v = v.item()
    if v is None:
        return "-"
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "-"
        return f"{v:,.0f}" if abs(v) >= 1e6 else f"{v:.6g}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def _arrow_array(pa: Any, values: Any, categories: list[Any] | None) -> Any:
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        return values
    if categories is not None:
        lookup = {c: i for i, c in enumerate(categories)}
        idx = [None if v is None else lookup[v] for v in (values.tolist() if isinstance(values, np.ndarray) else values)]
        return pa.DictionaryArray.from_arrays(pa.array(idx, type=pa.int32()),
                                              _arrow_array(pa, list(categories), None), ordered=True)
    if isinstance(values, np.ndarray) and values.dtype.kind in "biufMm":
        if values.dtype.kind in "Mm":
            return pa.array(values, from_pandas=True)
        return pa.array(values, from_pandas=values.dtype.kind == "f")
    items = values.tolist() if isinstance(values, np.ndarray) else list(values)
    items = [None if isinstance(v, float) and math.isnan(v) else v for v in items]
    try:
        return pa.array(items, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        # Mixed label types (e.g. integer segments beside the "(all)" row): text for all.
        return pa.array([None if v is None else str(v) for v in items], type=pa.string())


def _json_type(t: Any) -> str:
    import pyarrow as pa

    if pa.types.is_dictionary(t):
        return _json_type(t.value_type)
    if pa.types.is_integer(t):
        return "integer"
    if pa.types.is_floating(t):
        return "number"
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_timestamp(t) or pa.types.is_date(t):
        return "datetime"
    if pa.types.is_duration(t):
        return "duration[seconds]"
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return "array"
    return "string"


# -- scalars ---------------------------------------------------------------------------------------
class Scalar(_Explained):
    """Mixed into the frozen dataclasses of single results: ``explain()``, ``to_dict()``,
    ``to_json()`` and ``_repr_html_()``. A dataclass field named ``options`` (if any) holds the
    options in force and is left out of ``to_dict()``."""

    def _explanation_parts(self) -> tuple[dict[str, Any], dict[str, Any]]:
        import dataclasses

        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)  # type: ignore[arg-type]
                  if f.name != "options" and not f.name.startswith("_")}
        return values, dict(getattr(self, "options", None) or {})

    def to_dict(self) -> dict[str, Any]:
        """The fields as plain JSON-ready values (undefined numbers are None)."""
        return plain(self._explanation_parts()[0])

    def to_json(self, *, indent: int | None = None) -> str:
        """``{"result", "explain", "data"}`` as JSON text, undefined numbers as null."""
        return json.dumps({"result": type(self).__name__, "explain": self.explain().to_dict(), "data": self.to_dict()},
                          allow_nan=False, indent=indent)

    def _repr_html_(self) -> str:
        rows = "".join(f"<tr><th style='text-align:left'>{html.escape(k)}</th><td>{html.escape(_fmt(v))}</td></tr>"
                       for k, v in self._explanation_parts()[0].items())
        return (f"<div class='funnelkit-result'><p><b>{type(self).__name__}</b>: "
                f"{html.escape(self.explain().definition)}</p><table>{rows}</table></div>")


# -- mergeable states ------------------------------------------------------------------------------
_MAGIC = b"FKPY"
_VERSION = 1
_REGISTRY: dict[str, type[Mergeable]] = {}


class Mergeable(Table):
    """A result computed in parts: tables of disjoint entities merge exactly (``a + b`` equals
    the table of all of them). Subclasses hold a core state in ``_state`` and say which labels
    and options make two parts comparable (:meth:`_labels`), and how to rebuild from them
    (:meth:`_from_state`)."""

    _state: Any

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _REGISTRY[cls.__name__] = cls

    # to implement
    def _labels(self) -> dict[str, Any]:
        """JSON-ready labels and options that give the numbers their meaning."""
        raise NotImplementedError

    @classmethod
    def _from_state(cls: type[T], state: Any, labels: dict[str, Any]) -> T:
        raise NotImplementedError

    #: The core state class (with a static ``deserialize``).
    _state_class: ClassVar[Any] = None

    @classmethod
    def _state_from_bytes(cls, blob: bytes) -> Any:
        try:
            return cls._state_class.deserialize(blob)
        except ValueError as exc:
            raise ValueError(f"corrupted {cls.__name__} state: {exc}") from None

    def _merge_labels(self, other: Any) -> None:
        """Checks that ``other`` can be merged: same labels. Subclasses may relax (e.g. adopt
        the labels of a part that had none)."""
        mine, theirs = self._labels(), other._labels()
        for key in sorted(set(mine) | set(theirs)):
            a, b = mine.get(key), theirs.get(key)
            if a == b:
                continue
            if isinstance(a, dict) and isinstance(b, dict):
                # name the first field of an options dict that differs, not the whole dict
                field = next(k for k in sorted(set(a) | set(b), key=str) if a.get(k) != b.get(k))
                raise ValueError(f"cannot merge {type(self).__name__} parts with different {key!r}: "
                                 f"{field!r} differs ({_short(a.get(field))} vs {_short(b.get(field))})")
            raise ValueError(f"cannot merge {type(self).__name__} parts with different {key!r}: "
                             f"{_short(a)} vs {_short(b)}")

    # the contract
    def merge(self: T, other: T) -> T:
        """Adds a part computed on other entities into this one (in place); returns self."""
        if type(other) is not type(self):
            raise TypeError(f"cannot merge a {type(self).__name__} with a {type(other).__name__}")
        self._merge_labels(other)
        self._state.merge(other._state)
        self._invalidate()
        return self

    def copy(self: T) -> T:
        """An independent copy (through the bytes, so labels and state are copied alike)."""
        return type(self).from_bytes(self.to_bytes())

    def __add__(self: T, other: T) -> T:
        return self.copy().merge(other)

    def __iadd__(self: T, other: T) -> T:
        return self.merge(other)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self._labels() == other._labels() and self._state == other._state  # type: ignore[attr-defined]

    __hash__ = None  # type: ignore[assignment]  # mutable

    def to_bytes(self) -> bytes:
        """The state with its labels: ``FKPY`` magic, format version, a JSON header (type,
        labels, options), the core's versioned state bytes and a CRC-32 of all of it."""
        header = json.dumps({"type": type(self).__name__, "labels": _encode(self._labels())},
                            allow_nan=False, sort_keys=True).encode()
        state = bytes(self._state.serialize())
        body = _MAGIC + struct.pack("<HI", _VERSION, len(header)) + header + struct.pack("<Q", len(state)) + state
        return body + struct.pack("<I", zlib.crc32(body))

    @classmethod
    def from_bytes(cls: type[T], data: bytes) -> T:
        """Rebuilds a result from :meth:`to_bytes`; rejects other types and corrupted bytes."""
        kind, labels, state = _open_envelope(data)
        if kind != cls.__name__ and cls is not Mergeable:
            raise ValueError(f"the bytes hold a {kind}, not a {cls.__name__}")
        target = _REGISTRY[kind] if cls is Mergeable else cls
        return target._from_state(target._state_from_bytes(state), labels)

    def __reduce__(self) -> tuple[Any, ...]:
        return (restore, (self.to_bytes(),))


def restore(data: bytes) -> Mergeable:
    """Rebuilds any mergeable result from its bytes (``to_bytes()``, or a pickle's payload).
    Stable across releases: old formats keep loading."""
    kind, _, _ = _open_envelope(data)
    return _REGISTRY[kind].from_bytes(data)


# Pickles name the public path, so they keep loading whatever module holds the code.
restore.__module__ = "funnelkit"


def _open_envelope(data: Any) -> tuple[str, dict[str, Any], bytes]:
    data = bytes(data)
    if len(data) < 4 + 6 + 8 + 4 or data[:4] != _MAGIC:
        raise ValueError("not a funnelkit result: the bytes do not start with the FKPY magic number")
    (crc,) = struct.unpack_from("<I", data, len(data) - 4)
    if zlib.crc32(data[:-4]) != crc:
        raise ValueError("corrupted funnelkit result: the checksum does not match the bytes")
    version, hlen = struct.unpack_from("<HI", data, 4)
    if version != _VERSION:
        raise ValueError(f"funnelkit result format version {version} is not supported (this release reads {_VERSION})")
    pos = 10
    if pos + hlen + 8 > len(data) - 4:
        raise ValueError("corrupted funnelkit result: the header length runs past the end")
    try:
        header = json.loads(data[pos:pos + hlen].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"corrupted funnelkit result: bad header ({exc})") from None
    pos += hlen
    (slen,) = struct.unpack_from("<Q", data, pos)
    pos += 8
    if pos + slen != len(data) - 4:
        raise ValueError("corrupted funnelkit result: the state length does not match the bytes")
    kind = header.get("type") if isinstance(header, dict) else None
    if kind not in _REGISTRY:
        raise ValueError(f"funnelkit result type {kind!r} is not known to this release")
    return kind, _decode(header.get("labels", {})), data[pos:pos + slen]


def _encode(value: Any) -> Any:
    """Labels to JSON, keeping datetimes and integers apart from strings."""
    if isinstance(value, np.generic):
        value = value.item() if not isinstance(value, np.datetime64) else value
    if isinstance(value, np.datetime64):
        return {"$datetime64": str(value)}
    if type(value).__module__.startswith("pandas") and hasattr(value, "isoformat"):
        return {"$timestamp": value.isoformat()}
    if isinstance(value, _dt.datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, _dt.date):
        return {"$date": value.isoformat()}
    if isinstance(value, Mapping):
        return {str(k): _encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return {"$float": repr(value)}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if len(value) == 1:
            (key, v), = value.items()
            if key == "$datetime64":
                return np.datetime64(v)
            if key == "$timestamp":
                import pandas as pd

                return pd.Timestamp(v)
            if key == "$datetime":
                return _dt.datetime.fromisoformat(v)
            if key == "$date":
                return _dt.date.fromisoformat(v)
            if key == "$float":
                return float(v)
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value
