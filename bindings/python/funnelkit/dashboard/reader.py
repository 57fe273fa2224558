"""Reading stage records (and touches, events) from files into the frame the report computes on.

DuckDB, embedded, reads CSV, JSON lines, DuckDB databases (a table or a query) and globs of
them; PyArrow reads Parquet (only the columns the report needs, text columns straight into
dictionaries) and Arrow IPC files, which is faster than going through DuckDB. Whatever the
reader, the result is a pandas DataFrame with integer or categorical columns, so every library
call reads codes, not millions of strings.

Errors are :class:`DataError` with one line that names the file, the column, the row and the
value: an unknown column lists the columns present, an unparseable time names its row (and its
line in a CSV file), an empty file says so, a file read as one column names the delimiter it
seems to use.
"""

from __future__ import annotations

import glob as _glob
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import _names
from .._result import need
from .config import DataError

if TYPE_CHECKING:
    import pandas

__all__ = ["Columns", "Loaded", "read_frame", "file_kind", "inspect_relation"]

_KINDS = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".csv.gz": "csv", ".parquet": "parquet", ".pq": "parquet",
          ".jsonl": "json", ".ndjson": "json", ".json": "json", ".arrow": "arrow", ".feather": "arrow",
          ".ipc": "arrow", ".duckdb": "duckdb", ".db": "duckdb", ".ddb": "duckdb"}


@dataclass
class Columns:
    """The columns to read and what each holds: ``times`` are parsed as times, ``labels`` as
    categories, ``numbers`` as floats (missing = 0), ``ids`` as entity ids; ``options`` names the
    flag or key that chose each column, for error messages."""

    ids: list[str] = field(default_factory=list)
    times: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    numbers: list[str] = field(default_factory=list)
    options: dict[str, str] = field(default_factory=dict)
    time_unit: str | None = None

    @property
    def all(self) -> list[str]:
        """Every column, each once, in a stable order."""
        out: list[str] = []
        for name in [*self.ids, *self.times, *self.labels, *self.numbers]:
            if name not in out:
                out.append(name)
        return out


@dataclass
class Loaded:
    """A frame read from files: ``frame`` (pandas), ``entity_labels`` (the original ids when
    they were not integers; the frame holds their codes), and ``source`` (what was read, by which
    reader, how many rows, in how many seconds)."""

    frame: pandas.DataFrame
    entity_labels: np.ndarray | None
    source: dict[str, Any]


def file_kind(path: str) -> str:
    """"csv", "parquet", "json", "arrow" or "duckdb", from the file name's ending."""
    low = path.lower()
    for ending in sorted(_KINDS, key=len, reverse=True):
        if low.endswith(ending):
            return _KINDS[ending]
    raise DataError(f"{path}: unknown file type; expected one of {', '.join(sorted(set(_KINDS)))}")


def _expand(paths: Sequence[str]) -> list[str]:
    out: list[str] = []
    for p in paths:
        if any(ch in p for ch in "*?["):
            hits = sorted(_glob.glob(p))
            if not hits:
                raise DataError(f"{p}: no file matches this pattern")
            out.extend(hits)
        else:
            if not os.path.exists(p):
                raise DataError(f"{p}: no such file")
            out.append(p)
    for p in out:
        if os.path.isfile(p) and os.path.getsize(p) == 0:
            raise DataError(f"{p}: the file is empty")
    return out


def _duckdb() -> Any:
    return need("duckdb", "reading CSV, JSON and DuckDB files")


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sql_list(paths: Sequence[str]) -> str:
    return "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"


def _tidy(exc: Exception) -> str:
    """A DuckDB or Arrow error message on one line."""
    text = " ".join(str(exc).split())
    return text if len(text) <= 400 else text[:397] + "..."


def _relation(con: Any, paths: list[str], kind: str, *, table: str | None, query: str | None,
              delimiter: str | None, varchar: Sequence[str] = ()) -> tuple[Any, str]:
    """A DuckDB relation over the input and the SQL text of its source."""
    if kind == "duckdb":
        if len(paths) != 1:
            raise DataError("give one DuckDB database file at a time")
        if (table is None) == (query is None):
            raise DataError(f"{paths[0]}: a DuckDB database needs --table NAME or --query SQL")
        try:
            con.execute(f"ATTACH {_sql_list(paths)[1:-1]} AS src (READ_ONLY)")
            if table is not None:
                tables = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE database_name = 'src'"
                                                    " UNION ALL SELECT view_name FROM duckdb_views() WHERE "
                                                    "database_name = 'src'").fetchall()]
                if table not in tables:
                    raise DataError(_names.unknown("table", table, tables, where=paths[0]))
                con.execute("USE src")
                return con.sql(f"SELECT * FROM {_quote(table)}"), f"table {table}"
            con.execute("USE src")
            return con.sql(query), "query"
        except DataError:
            raise
        except Exception as exc:  # duckdb.Error
            raise DataError(f"{paths[0]}: {_tidy(exc)}") from None
    if table is not None or query is not None:
        raise DataError("--table and --query apply to DuckDB database files only")
    src = _sql_list(paths)
    try:
        if kind == "csv":
            opts = ["header = true"]
            if delimiter:
                opts.append("delim = '" + delimiter.replace("'", "''") + "'")
            if varchar:
                opts.append("types = {" + ", ".join(f"'{c}': 'VARCHAR'" for c in varchar) + "}")
            return con.sql(f"SELECT * FROM read_csv({src}, {', '.join(opts)})"), "read_csv"
        if kind == "json":
            return con.sql(f"SELECT * FROM read_json_auto({src}, format = 'newline_delimited')"), "read_json"
    except Exception as exc:
        raise DataError(f"{', '.join(paths)}: {_tidy(exc)}") from None
    raise DataError(f"{paths[0]}: DuckDB does not read {kind} files here")


def _check_columns(present: list[str], cols: Columns, where: str) -> None:
    for name in cols.all:
        if name in present:
            continue
        near = _names.closest(name, present)
        opt = cols.options.get(name)
        hint = f"; did you mean {' or '.join(repr(c) for c in near)}?" if near else ""
        extra = ""
        if len(present) == 1:
            for d in (";", "\t", "|", ","):
                if d in present[0]:
                    extra = (f"; the file was read as one column named {present[0]!r}: its delimiter looks like "
                             f"{d!r} (pass --delimiter {d!r})")
                    break
        raise DataError(f"{where}: column {name!r}" + (f" ({opt})" if opt else "") + f" is not in the data{hint}"
                        f"{extra} (columns: {', '.join(map(repr, present))})")


def inspect_relation(paths: Sequence[str], *, table: str | None = None, query: str | None = None,
                     delimiter: str | None = None) -> tuple[Any, Any]:
    """A DuckDB connection and relation over the input, for ``funnelkit init``."""
    files = _expand(paths)
    kind = file_kind(files[0])
    duckdb = _duckdb()
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    if kind in ("parquet", "arrow"):
        arrow = _read_arrow_files(files, kind, None, ())
        return con, con.from_arrow(arrow)
    rel, _ = _relation(con, files, kind, table=table, query=query, delimiter=delimiter)
    return con, rel


def _read_arrow_files(files: list[str], kind: str, columns: list[str] | None, dictionary: Sequence[str]) -> Any:
    import pyarrow as pa

    try:
        if kind == "parquet":
            import pyarrow.parquet as pq

            if columns is not None:
                present = pq.read_schema(files[0]).names
                _check_columns(present, _only(columns), files[0])
            tables = [pq.read_table(f, columns=columns, read_dictionary=[c for c in dictionary]) for f in files]
        else:
            import pyarrow.ipc as ipc

            tables = []
            for f in files:
                try:
                    with pa.memory_map(f) as src:
                        tables.append(ipc.open_file(src).read_all())
                except pa.ArrowInvalid:
                    with pa.memory_map(f) as src:
                        tables.append(ipc.open_stream(src).read_all())
            if columns is not None:
                _check_columns(tables[0].column_names, _only(columns), files[0])
                tables = [t.select(columns) for t in tables]
    except DataError:
        raise
    except (OSError, pa.ArrowException) as exc:
        raise DataError(f"{files[0]}: {_tidy(exc)}") from None
    return tables[0] if len(tables) == 1 else pa.concat_tables(tables, promote_options="permissive")


def _only(names: list[str]) -> Columns:
    return Columns(ids=list(names))


def read_frame(paths: Sequence[str], cols: Columns, *, table: str | None = None, query: str | None = None,
               delimiter: str | None = None, what: str = "stage records") -> Loaded:
    """Reads the columns ``cols`` of the input files into a :class:`Loaded` frame."""
    import time as _t

    start = _t.perf_counter()
    files = _expand(paths)
    kinds = {file_kind(f) for f in files}
    if len(kinds) != 1:
        raise DataError(f"the {what} files mix types ({', '.join(sorted(kinds))}); give files of one type")
    kind = kinds.pop()
    where = files[0] if len(files) == 1 else f"{files[0]} (and {len(files) - 1} more)"
    if kind in ("parquet", "arrow"):
        arrow = _read_arrow_files(files, kind, cols.all, cols.labels)
        reader = "pyarrow"
    else:
        duckdb = _duckdb()
        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
        rel, _ = _relation(con, files, kind, table=table, query=query, delimiter=delimiter)
        _check_columns(list(rel.columns), cols, where)
        if kind == "csv":  # times as text, parsed below with the row of any bad value
            rel, _ = _relation(con, files, kind, table=table, query=query, delimiter=delimiter, varchar=cols.times)
        try:
            arrow = rel.select(", ".join(_quote(c) for c in cols.all)).to_arrow_table()
        except Exception as exc:
            raise DataError(f"{where}: {_tidy(exc)}") from None
        reader = "duckdb"
    if arrow.num_rows == 0:
        raise DataError(f"{where}: no rows of {what}")
    frame, labels = _to_frame(arrow, cols, where, csv=kind == "csv" and len(files) == 1)
    return Loaded(frame, labels, {"kind": kind, "files": files, "reader": reader, "rows": int(arrow.num_rows),
                                  "read_seconds": _t.perf_counter() - start,
                                  **({"table": table} if table else {}), **({"query": query} if query else {})})


# -- Arrow to the frame ----------------------------------------------------------------------------
def _to_frame(arrow: Any, cols: Columns, where: str, *, csv: bool) -> tuple[Any, np.ndarray | None]:
    import pyarrow as pa
    import pyarrow.compute as pc

    pd = need("pandas", "funnelkit report")
    data: dict[str, Any] = {}
    entity_labels = None
    for name in cols.all:
        col = arrow.column(name)
        if isinstance(col, pa.ChunkedArray):
            col = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
        t = col.type
        if name in cols.times:
            data[name] = _times(col, name, where, csv=csv)
        elif name in cols.ids:
            if pa.types.is_integer(t):
                _no_nulls(col, name, where, csv)
                data[name] = col.to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
            else:
                _no_nulls(col, name, where, csv)
                enc = col if pa.types.is_dictionary(t) else pc.dictionary_encode(col)
                data[name] = pc.cast(enc.indices, pa.int64()).to_numpy(zero_copy_only=False)
                entity_labels = np.asarray(enc.dictionary.to_pylist(), dtype=object)
        elif name in cols.numbers:
            if not (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t) or pa.types.is_null(t)):
                values = col.to_pylist()
                for i, v in enumerate(values):
                    try:
                        float(v) if v not in (None, "") else 0.0
                    except (TypeError, ValueError):
                        raise DataError(f"{where}: column {name!r}, {_row(i, csv)}: value {v!r} is not a number") \
                            from None
                col = pa.array([0.0 if v in (None, "") else float(v) for v in values])
            data[name] = np.nan_to_num(pc.fill_null(pc.cast(col, pa.float64()), 0.0).to_numpy(zero_copy_only=False),
                                       nan=0.0)
        else:  # labels
            if pa.types.is_integer(t):
                enc = pc.dictionary_encode(pc.cast(col, pa.string()))
            elif pa.types.is_dictionary(t):
                enc = col
            else:
                enc = pc.dictionary_encode(pc.cast(col, pa.string()) if not pa.types.is_string(t) else col)
            idx = pc.fill_null(pc.cast(enc.indices, pa.int32()), -1).to_numpy(zero_copy_only=False)
            cats = [str(v) for v in enc.dictionary.to_pylist()]
            data[name] = pd.Categorical.from_codes(idx, categories=cats) if len(set(cats)) == len(cats) else \
                pd.Categorical([None if i < 0 else cats[i] for i in idx.tolist()])
    return pd.DataFrame(data, copy=False), entity_labels


def _row(i: int, csv: bool) -> str:
    return f"row {i} (line {i + 2} of the file)" if csv else f"row {i}"


def _no_nulls(col: Any, name: str, where: str, csv: bool) -> None:
    if col.null_count:
        import pyarrow.compute as pc

        i = int(pc.index(pc.is_null(col), True).as_py())
        raise DataError(f"{where}: column {name!r}, {_row(i, csv)}: missing value")


def _times(col: Any, name: str, where: str, *, csv: bool) -> np.ndarray:
    """A time column as datetime64 (UTC) or int64 ticks; text is parsed as ISO 8601 (with an
    offset or naive UTC) or as integers, and a value that is neither is an error naming its row."""
    import pyarrow as pa
    import pyarrow.compute as pc

    t = col.type
    if pa.types.is_dictionary(t):
        col = col.cast(t.value_type)
        t = col.type
    if col.null_count:
        _no_nulls(col, name, where, csv)
    if pa.types.is_timestamp(t):
        if t.tz is not None:
            col = col.cast(pa.timestamp(t.unit))
        return col.to_numpy(zero_copy_only=False)
    if pa.types.is_date(t):
        return col.cast(pa.timestamp("s")).to_numpy(zero_copy_only=False)
    if pa.types.is_integer(t):
        return col.to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        as_int = pc.cast(col, pa.int64(), safe=False) if _all_integers(col) else None
        if as_int is not None:
            return as_int.to_numpy(zero_copy_only=False)
        duckdb = _duckdb()
        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
        tbl = pa.table({"v": col})
        con.register("times", tbl)
        bad = con.execute("SELECT i, v FROM (SELECT row_number() OVER () - 1 AS i, v, TRY_CAST(v AS TIMESTAMPTZ) AS t "
                          "FROM times) WHERE t IS NULL ORDER BY i LIMIT 1").fetchall()
        if bad:
            i, v = bad[0]
            raise DataError(f"{where}: column {name!r}, {_row(int(i), csv)}: value {v!r} is not a time (expected "
                            "ISO 8601 such as 2024-01-31 or 2024-01-31T09:30:00+01:00, or integer epoch times)")
        out = con.sql("SELECT CAST(timezone('UTC', CAST(v AS TIMESTAMPTZ)) AS TIMESTAMP) AS t FROM times") \
            .to_arrow_table().column(0)
        return out.combine_chunks().to_numpy(zero_copy_only=False)
    raise DataError(f"{where}: column {name!r} holds {t}, not times (expected datetimes, ISO 8601 text or integers)")


def _all_integers(col: Any) -> bool:
    import pyarrow.compute as pc

    return bool(pc.all(pc.match_substring_regex(col, r"^\s*-?\d+\s*$")).as_py())
