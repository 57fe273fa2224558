"""What :mod:`funnelkit.spark` and :mod:`funnelkit.dask` share: the work of one partition, the
parts it returns, their merge and the results built from them on the driver.

The pattern is the one every mergeable result of funnelkit follows: partition by entity,
compute partial states, merge. An engine (Spark, Dask) only moves data: it groups the rows of
each entity into one partition, calls :func:`part_of_table` on every partition (an Arrow
table, handed to the compiled core column by column) and merges the returned bytes in a tree
with :func:`merge_parts`. Raw rows never leave the executors; the driver receives one small
part per partition (or per merge group) and builds the result.

Each function runs as follows:

1. a *dry run* of the single-machine function on an empty table of the input's schema, on the
   driver: it checks every column and argument with the single-machine messages and gives the
   options of the result (so that it equals the single-machine result, labels included);
2. a *scan* (a map-only pass, no shuffle) when the result needs something global before the
   states can be computed: the sorted segment and reason labels (states index segments by
   code, so every part needs the same codes) and the largest timestamp (funnel_analysis's
   default ``data_end``);
3. the *states*: rows grouped by entity, one part per partition, merged in a tree.

Parts are bytes: the magic ``FKDP``, a format version, a JSON header (kind, the funnelkit
version that wrote it, counts to add, value sets to unite) and the nested result bytes of
:meth:`funnelkit.Mergeable.to_bytes` (each with its own versions and CRC), then a CRC-32 of the
whole. A part written in another format is refused with both versions named.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import struct
import warnings
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from . import _core, _frames, _names
from ._result import Mergeable, _decode, _encode, restore
from .attribution import MODELS, SHAPLEY_GAMES, AttributionResult, _channel_codes, _entity_alias, _options, _Paths
from .attribution import attribute as attribute_local
from .campaign import CampaignReport, _Prepared
from .campaign import campaign_report as campaign_report_local
from .conversion import ConversionTable
from .conversion import conversion as conversion_local
from .funnel_analysis import FunnelAnalysis
from .funnel_analysis import funnel_analysis as funnel_analysis_local
from .lifecycle import LifecycleSummary, _reason_codes
from .lifecycle import lifecycle as lifecycle_local
from .window_funnel import WindowFunnel, _step_names
from .window_funnel import window_funnel as window_funnel_local

__all__ = ["FORMAT", "MergeRoundingWarning", "Engine", "part_of_table", "merge_parts", "open_part", "publish"]

#: Format version of the parts exchanged between executors and the driver.
FORMAT = 1
_MAGIC = b"FKDP"
#: Parts merged by one merge task (the arity of the merge tree).
FANOUT = 16


class MergeRoundingWarning(UserWarning):
    """Kept for code that filters it: no longer emitted. Every sum a merged result reports is
    exact (duration sums, revenue, credits: exact expansions rounded once), so merged results
    equal single-machine ones to the last bit."""


# -- parts ---------------------------------------------------------------------------------------
def pack_part(header: Mapping[str, Any], states: Mapping[str, bytes]) -> bytes:
    """A part as bytes: magic, format, JSON header (with the writer's funnelkit version and
    the names and sizes of the states), the states, CRC-32."""
    head = dict(header)
    head["funnelkit"] = _core.__version__
    head["states"] = [[name, len(blob)] for name, blob in states.items()]
    text = json.dumps(head, allow_nan=False, sort_keys=True).encode()
    body = _MAGIC + struct.pack("<HI", FORMAT, len(text)) + text + b"".join(states.values())
    return body + struct.pack("<I", zlib.crc32(body))


def open_part(data: Any) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The header and the states of a part; a part of another format or a corrupted one is an
    error that says which funnelkit versions are involved."""
    data = bytes(data)
    if len(data) < 14 or data[:4] != _MAGIC:
        raise ValueError("not a funnelkit part: the bytes do not start with the FKDP magic number")
    (version,) = struct.unpack_from("<H", data, 4)
    if version != FORMAT:
        raise ValueError(
            f"a funnelkit part in format {version} reached a driver running funnelkit {_core.__version__}, which "
            f"reads format {FORMAT}: the executors run another funnelkit release than the driver; install the "
            "same funnelkit wheel on the driver and on every executor")
    (crc,) = struct.unpack_from("<I", data, len(data) - 4)
    if zlib.crc32(data[:-4]) != crc:
        raise ValueError("corrupted funnelkit part: the checksum does not match the bytes")
    (hlen,) = struct.unpack_from("<I", data, 6)
    header = json.loads(data[10:10 + hlen].decode())
    pos = 10 + hlen
    states: dict[str, bytes] = {}
    for name, size in header.pop("states"):
        states[name] = data[pos:pos + size]
        pos += size
    if pos != len(data) - 4:
        raise ValueError("corrupted funnelkit part: the state sizes do not match the bytes")
    return header, states


def _merge_headers(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    if a["kind"] != b["kind"]:
        raise ValueError(f"cannot merge a {a['kind']} part with a {b['kind']} part")
    out = {"kind": a["kind"], "sums": dict(a["sums"]), "sets": {k: list(v) for k, v in a["sets"].items()},
           "max": dict(a["max"])}
    for k, v in b["sums"].items():
        mine = out["sums"].get(k)
        if mine is None:
            out["sums"][k] = v
        elif isinstance(v, list):
            out["sums"][k] = [x + y for x, y in zip(mine, v)]
        else:
            out["sums"][k] = mine + v
    for k, v in b["sets"].items():
        out["sets"][k] = sorted(set(out["sets"].get(k, [])) | set(v))
    for k, v in b["max"].items():
        mine = out["max"].get(k)
        out["max"][k] = v if mine is None else (mine if v is None else max(mine, v))
    return out


def merge_parts(parts: Iterable[Any]) -> bytes | None:
    """Merges parts (bytes) into one, pairwise in a balanced tree; None when there is none.
    States with the same name merge with :meth:`funnelkit.Mergeable.merge`, which refuses
    parts of other labels or options."""
    opened: list[tuple[dict[str, Any], dict[str, Mergeable]]] = []
    for blob in parts:
        if blob is None:
            continue
        header, states = open_part(blob)
        opened.append((header, {k: _restore_state(k, v) for k, v in states.items()}))
    if not opened:
        return None
    while len(opened) > 1:
        nxt = []
        for i in range(0, len(opened) - 1, 2):
            (ha, sa), (hb, sb) = opened[i], opened[i + 1]
            for k, v in sb.items():
                if k in sa:
                    sa[k].merge(v)
                else:
                    sa[k] = v
            nxt.append((_merge_headers(ha, hb), sa))
        if len(opened) % 2:
            nxt.append(opened[-1])
        opened = nxt
    header, states = opened[0]
    return pack_part(header, {k: _state_bytes(k, v) for k, v in states.items()})


#: States named "core <Class>" hold the bytes of a compiled core state (``_core.<Class>``,
#: its own versioned format with a CRC-32C); the others are Mergeable.to_bytes() envelopes.
_CORE = "core "


def _restore_state(name: str, blob: bytes) -> Any:
    if name.startswith(_CORE):
        return getattr(_core, name[len(_CORE):].split()[0]).deserialize(blob)
    return restore(blob)


def _state_bytes(name: str, state: Any) -> bytes:
    return state.serialize() if name.startswith(_CORE) else state.to_bytes()


# -- the plan of a job (built on the driver, shipped to the executors) ----------------------------
@dataclasses.dataclass(frozen=True)
class Recode:
    """Step names mapped to codes on the executors, so that no partition checks on its own that
    every step occurs (the driver checks the union): the step column, the step names and the
    codes of other named events (exclusions)."""

    column: str
    names: tuple[str, ...]
    extra: tuple[tuple[str, int], ...] = ()


@dataclasses.dataclass(frozen=True)
class Plan:
    """What every partition computes: ``kind`` and the keyword arguments of the single-machine
    function (as the partition calls it), the columns it reads, and for scans what to gather."""

    kind: str
    kwargs: dict[str, Any]
    columns: tuple[str, ...]
    recode: Recode | None = None
    summary: dict[str, Any] | None = None
    scan_time: tuple[str, str | None] | None = None
    scan_labels: tuple[tuple[str, str], ...] = ()
    #: Pair jobs (attribute): the second input's columns and each input's entity column.
    other_columns: tuple[str, ...] = ()
    entities: tuple[str, str] | None = None


def _plain_arrow(table: Any) -> Any:
    """Dictionary columns decoded (the single-machine readers take them as values too)."""
    import pyarrow as pa

    cols = []
    for col in table.columns:
        if pa.types.is_dictionary(col.type):
            col = col.cast(col.type.value_type)
        cols.append(col)
    return pa.Table.from_arrays(cols, names=table.column_names)


def _recode(table: Any, recode: Recode) -> tuple[Any, list[int], list[str]]:
    """The step column replaced by codes (step index, other named events' codes, -1 for the
    rest), the steps present and, when some step is absent from this partition, the distinct
    values of the column (for the driver's message naming the closest values)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    full = {n: k for k, n in enumerate(recode.names)}
    full.update(dict(recode.extra))
    keys = list(full)
    col = table.column(recode.column).combine_chunks()
    if pa.types.is_dictionary(col.type):
        col = col.dictionary_decode()
    text = pc.cast(col, pa.string())
    pos = pc.index_in(text, value_set=pa.array(keys, type=pa.string()))
    lookup = pa.array([full[k] for k in keys], type=pa.int32())
    codes = pc.fill_null(pc.take(lookup, pos), -1) if len(keys) else pa.array(np.full(len(col), -1, np.int32))
    n = len(recode.names)
    present = sorted(int(c) for c in pc.unique(codes).to_pylist() if c is not None and 0 <= c < n)
    values: list[str] = []
    if len(present) < n:
        values = [v for v in pc.unique(text).to_pylist() if v is not None]
    out = table.set_column(table.column_names.index(recode.column), recode.column, codes)
    return out, present, values


def part_of_table(plan: Plan, table: Any) -> bytes | None:
    """The part of one partition (a ``pyarrow.Table`` holding every row of its entities), or
    None for an empty partition. Runs on the executors."""
    if table.num_rows == 0:
        return None
    table = _plain_arrow(table)
    header: dict[str, Any] = {"kind": plan.kind, "sums": {"rows": int(table.num_rows)}, "sets": {}, "max": {}}
    states: dict[str, bytes] = {}
    kwargs = dict(plan.kwargs)
    if plan.recode is not None:
        table, present, values = _recode(table, plan.recode)
        header["sets"]["present"] = present
        header["sets"]["values"] = sorted(values)
    if plan.kind == "scan":
        if plan.scan_time is not None:
            name, unit = plan.scan_time
            ticks, _ = _frames.time_axis(_frames.column(table, name, "time"), name, unit)
            header["max"]["time"] = int(ticks.max())
        for name, how in plan.scan_labels:
            col = _frames.column(table, name, name)
            if how == "reason":
                labels = _reason_codes(col, name, None)[1]
            elif how == "channel":
                labels = _channel_codes(col, name, None, "error")[1]
            else:
                labels = _frames.category_codes(col, name)[1]
            header["sets"][name] = sorted(json.dumps(_encode(v)) for v in labels)
    elif plan.kind == "window_funnel":
        states["result"] = window_funnel_local(table, **kwargs).to_bytes()
    elif plan.kind == "conversion":
        states["result"] = conversion_local(table, **kwargs).to_bytes()
    elif plan.kind == "lifecycle":
        histories = lifecycle_local(table, **kwargs)
        header["sums"]["entities"] = len(histories)
        states["result"] = histories.summary(**(plan.summary or {})).to_bytes()
    elif plan.kind == "funnel_analysis":
        res = funnel_analysis_local(table, **kwargs)
        states["closed"] = res.closed.to_bytes()
        states["open"] = res.open.to_bytes()
        states["unattributed"] = res.unattributed.to_bytes()
        for label, wf in res.by_segment.items():
            states["segment " + json.dumps(_encode(label))] = wf.to_bytes()
        for key, wf in res.by_period.items():
            states["period " + json.dumps(_encode(key))] = wf.to_bytes()
        if res._duration_state is not None:
            states[_CORE + "FunnelDurations"] = res._duration_state.serialize()
        header["sums"]["conversions"] = int(res.conversions)
        header["sums"]["through_step"] = [int(v) for v in res.through_step.values()]
        header["sums"]["entities"] = int(res.closed.entities + res.open.entities)
    elif plan.kind == "campaign":
        prep = _Prepared(table, **kwargs)
        states[_CORE + "CampaignState"] = prep.state().serialize()
    else:
        raise ValueError(f"unknown part kind {plan.kind!r}")
    return pack_part(header, states)


def part_of_pair(plan: Plan, touches: Any, outcomes: Any) -> bytes | None:
    """The part of one partition of a pair job (attribute): the touches and the outcomes of the
    same entities (``pyarrow.Table`` each). Runs on the executors."""
    if touches.num_rows == 0 and outcomes.num_rows == 0:
        return None
    touches, outcomes = _plain_arrow(touches), _plain_arrow(outcomes)
    kwargs = dict(plan.kwargs)
    model_options = kwargs.pop("model_options")
    with warnings.catch_warnings():  # a listed channel absent from this partition is no error here
        warnings.simplefilter("ignore", UserWarning)
        paths = _Paths(touches, outcomes, absent="warn", **kwargs)
    model_options["half_life"] = paths.half_life(model_options["half_life"])
    state = _core.attribution_sums(paths.core, _options(**model_options))
    header = {"kind": plan.kind, "sums": {"rows": int(touches.num_rows), "outcomes": int(outcomes.num_rows)},
              "sets": {}, "max": {}}
    return pack_part(header, {_CORE + "AttributionState": state.serialize()})


#: Column names of a pair job's union (Spark): the side (0 the first input, 1 the second) and
#: the entity; the other columns are prefixed by their side.
SIDE, ENTITY, FIRST, SECOND = "__funnelkit_side", "__funnelkit_entity", "a:", "b:"


def split_union(plan: Plan, table: Any) -> tuple[Any, Any]:
    """The two inputs of a pair job from the rows of their union (see :data:`SIDE`)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    assert plan.entities is not None
    side = table.column(SIDE)
    out = []
    for k, (prefix, cols, entity) in enumerate(((FIRST, plan.columns, plan.entities[0]),
                                                (SECOND, plan.other_columns, plan.entities[1]))):
        rows = table.filter(pc.equal(side, k))
        arrays = [rows.column(ENTITY)] + [rows.column(prefix + c) for c in cols]
        out.append(pa.Table.from_arrays(arrays, names=[entity, *cols]))
    return out[0], out[1]


# -- engines -------------------------------------------------------------------------------------
class Engine:
    """Moves data for the functions below: ``empty`` gives an empty Arrow table of the input's
    schema (for the dry run), ``map_reduce`` runs :func:`part_of_table` on every partition (after
    grouping rows by ``entity`` when it is given) and returns the merged part."""

    #: What the engine takes, for messages ("a Spark DataFrame").
    takes = "a data frame"
    #: The module the public functions live in.
    module = "funnelkit"

    def check(self, data: Any) -> None:
        raise NotImplementedError

    def columns(self, data: Any) -> list[str]:
        raise NotImplementedError

    def empty(self, data: Any, columns: Sequence[str]) -> Any:
        raise NotImplementedError

    def map_reduce(self, data: Any, plan: Plan, entity: str | None, partitions: int | None) -> bytes | None:
        raise NotImplementedError

    def map_reduce_pair(self, first: Any, second: Any, plan: Plan, partitions: int | None) -> bytes | None:
        """Like map_reduce for two inputs whose rows are grouped by the entity columns of
        ``plan.entities``, the rows of one entity from both inputs in the same partition, on
        which :func:`part_of_pair` runs."""
        raise NotImplementedError


def _empty(engine: Engine, data: Any, columns: Sequence[str]) -> Any:
    """An empty table of every column of the input (so that a missing column is reported with
    all the present ones), or of the columns used when some type has no Arrow equivalent."""
    try:
        return engine.empty(data, engine.columns(data))
    except (TypeError, ValueError, NotImplementedError):
        return engine.empty(data, columns)


def _dry_run(fn: Callable[..., Any], empty: Any, **kwargs: Any) -> Any:
    """The single-machine function on an empty table: every check with its own message, and
    the options of the result. Step names cannot occur in no rows: that check is the driver's,
    on the union of the partitions (see :func:`_check_steps`)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return fn(empty, **kwargs)


def _columns(data_columns: Sequence[str], *names: Any) -> tuple[str, ...]:
    """The named columns present in the data, in order, each once (absent ones are left to the
    dry run, which names them with the closest present ones)."""
    out: list[str] = []
    for n in names:
        if isinstance(n, str) and n in data_columns and n not in out:
            out.append(n)
    return tuple(out)


def _scan(engine: Engine, data: Any, columns: Sequence[str], *, time: tuple[str, str | None] | None = None,
          labels: Sequence[tuple[str, str]] = ()) -> dict[str, Any]:
    """One map-only pass: the largest timestamp and the sorted labels of some columns."""
    plan = Plan("scan", {}, tuple(columns), scan_time=time, scan_labels=tuple(labels))
    merged = engine.map_reduce(data, plan, None, None)
    header = open_part(merged)[0] if merged is not None else {"sets": {}, "max": {}}
    out: dict[str, Any] = {"max_time": header["max"].get("time")}
    for name, _ in labels:
        out[name] = sorted((_decode(json.loads(v)) for v in header["sets"].get(name, [])), key=_label_key)
    return out


def _label_key(value: Any) -> Any:
    """Labels sort as the single-machine readers sort them (their natural order)."""
    return value


def _check_steps(header: dict[str, Any], recode: Recode | None, column: str, absent: str) -> None:
    """Every step name must occur somewhere in the data, as on one machine."""
    if recode is None:
        return
    present = [recode.names[i] for i in header["sets"].get("present", [])]
    seen = present + list(header["sets"].get("values", []))
    _names.check_in_data(list(recode.names), seen, what="step", column=column, option="steps", absent=absent)


def _run(engine: Engine, data: Any, plan: Plan, entity: str, partitions: int | None) -> tuple[dict, dict]:
    merged = engine.map_reduce(data, plan, entity, partitions)
    if merged is None:
        return {"sums": {"rows": 0}, "sets": {}, "max": {}}, {}
    header, states = open_part(merged)
    return header, {k: _restore_state(k, v) for k, v in states.items()}


def _partitions(value: int | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"option 'partitions': value {value!r} must be an integer >= 1 (or None)")
    return int(value)


def _no_per_entity(per_entity: bool, name: str) -> None:
    if per_entity:
        raise NotImplementedError(
            f"per_entity=True would bring one row per entity to the driver; the distributed {name} returns the "
            "merged counts only")


def _inputs(dry: Any, header: dict[str, Any], engine: Engine, **extra: Any) -> dict[str, Any]:
    inputs = dict(dry._inputs)
    inputs["rows"] = int(header["sums"].get("rows", 0))
    inputs.update(extra)
    inputs["engine"] = engine.takes
    return inputs


# -- the functions -------------------------------------------------------------------------------
def window_funnel_dist(engine: Engine, data: Any, *, window: Any, steps: int | Sequence[Any], entity: str = "entity",
                  time: str = "time", step: str | None = "step", step_mask: str | None = None,
                  strict_deduplication: bool = False, strict_order: bool = False, strict_increase: bool = False,
                  allow_reentry: bool = False, exact_increase: bool = False, strict_once: bool = False,
                  order: str = "detect", threads: int = 1, per_entity: bool = False, time_unit: str | None = None,
                  absent: str = "error", partitions: int | None = None) -> WindowFunnel:
    """Per-entity funnel levels over an event stream, counted per level: :func:`funnelkit.window_funnel`
    on {takes}, with the same arguments and the same result (equal, ``==``, to the
    single-machine result on the same rows).

    Rows are grouped by ``entity`` across ``partitions`` partitions (default: the engine's);
    every partition counts its entities' levels with the compiled core and the counts add up.
    ``order`` is checked but every partition scans its rows (a shuffle keeps no order), and
    ``per_entity=True`` is not supported: the levels of every entity would all travel to the
    driver (NotImplementedError)."""
    engine.check(data)
    partitions = _partitions(partitions)
    _no_per_entity(per_entity, "window_funnel")
    _names.choice(absent, _names.ABSENT, "absent")
    kwargs = dict(window=window, entity=entity, time=time, step=step, step_mask=step_mask,
                  strict_deduplication=strict_deduplication, strict_order=strict_order,
                  strict_increase=strict_increase, allow_reentry=allow_reentry, exact_increase=exact_increase,
                  strict_once=strict_once, threads=threads, time_unit=time_unit)
    cols = _columns(engine.columns(data), entity, time, step_mask if step_mask is not None else step)
    empty = _empty(engine, data, cols)
    dry = _dry_run(window_funnel_local, empty, steps=steps, order=order, absent="warn", **kwargs)
    names, lookup = _step_names(steps)
    recode = None
    if step_mask is None and lookup is not None:
        recode = Recode(str(step), tuple(names))
        kwargs["steps"] = len(names)
    else:
        kwargs["steps"] = steps
    plan = Plan("window_funnel", kwargs, cols, recode=recode)
    header, states = _run(engine, data, plan, entity, partitions)
    _check_steps(header, recode, str(step), absent)
    counts = states["result"]._state if "result" in states else dry._state
    inputs = _inputs(dry, header, engine, entities=int(counts.entities))
    return WindowFunnel(counts, names, options=dry._options, inputs=inputs)


def conversion_dist(engine: Engine, data: Any, *, model: Any = None, entity: str = "entity", time: str = "time",
                    stage: str = "stage", segment: str | None = None, segment_categories: Sequence[Any] | None = None,
                    skipped: str = "implied", per_entity: bool = False, threads: int = 1,
                    partitions: int | None = None) -> ConversionTable:
    """Reach and conversion rates per ladder stage, overall and per segment: :func:`funnelkit.conversion`
    on {takes}, with the same arguments and the same result (equal, ``==``, to the
    single-machine result on the same rows).

    Without ``segment_categories`` a map-only pass first gathers the sorted segment labels, so
    that every partition codes segments alike. Rows are then grouped by ``entity`` across
    ``partitions`` partitions; the partitions' tables add up exactly (integer counts).
    ``per_entity=True`` is not supported (NotImplementedError)."""
    engine.check(data)
    partitions = _partitions(partitions)
    _no_per_entity(per_entity, "conversion")
    kwargs = dict(model=model, entity=entity, time=time, stage=stage, segment=segment, skipped=skipped, threads=threads)
    cols = _columns(engine.columns(data), entity, time, stage, segment)
    empty = _empty(engine, data, cols)
    dry = _dry_run(conversion_local, empty, segment_categories=segment_categories or ([] if segment else None), **kwargs)
    if segment is not None and segment_categories is None:
        segment_categories = _scan(engine, data, (segment,), labels=((segment, "segment"),))[segment]
    kwargs["segment_categories"] = None if segment_categories is None else list(segment_categories)
    header, states = _run(engine, data, Plan("conversion", kwargs, cols), entity, partitions)
    if "result" in states:
        out = states["result"]
    else:  # no rows at all: the single-machine answer on no rows
        out = conversion_local(empty, **kwargs)
    out._inputs = _inputs(dry, header, engine, entities=int(out._state.entities(-1)))
    return out


def lifecycle_dist(engine: Engine, data: Any, *, model: Any = None, entity: str = "entity", time: str = "time",
                   stage: str = "stage", segment: str | None = None, reason: str | None = None,
                   segment_categories: Sequence[Any] | None = None, reason_categories: Sequence[Any] | None = None,
                   as_of: Any = None, time_unit: str | None = None, skipped: str = "implied", passes: str = "first",
                   threads: int = 1, partitions: int | None = None) -> LifecycleSummary:
    """The mergeable lifecycle summary (reach, flow, time in stage):
    ``funnelkit.lifecycle(data, ...).summary(skipped=..., passes=...)`` on {takes}, with the
    same arguments and the same result (equal, ``==``, to the single-machine summary).

    The per-entity histories of :class:`funnelkit.Lifecycle` stay on the executors: each
    partition builds its entities' histories with the compiled core and returns their summary;
    the summaries merge exactly (counts add, kept durations pool, so medians and p90 are the
    single-machine ones). Without ``segment_categories`` / ``reason_categories`` a map-only
    pass first gathers the sorted labels. The sums of time in stage are kept exactly (rounded
    once when read), so the means are the single-machine ones to the last bit as well."""
    engine.check(data)
    partitions = _partitions(partitions)
    skipped = _names.choice(skipped, ("implied", "recorded"), "skipped")
    passes = _names.choice(passes, ("first", "every"), "passes")
    kwargs = dict(model=model, entity=entity, time=time, stage=stage, segment=segment, reason=reason, as_of=as_of,
                  time_unit=time_unit, threads=threads)
    cols = _columns(engine.columns(data), entity, time, stage, segment, reason)
    empty = _empty(engine, data, cols)
    dry = _dry_run(lifecycle_local, empty, segment_categories=segment_categories or ([] if segment else None),
                   reason_categories=reason_categories, **kwargs)
    wanted = [(c, how) for c, how, given in ((segment, "segment", segment_categories),
                                             (reason, "reason", reason_categories)) if c is not None and given is None]
    if wanted:
        found = _scan(engine, data, [c for c, _ in wanted], labels=wanted)
        if segment is not None and segment_categories is None:
            segment_categories = found[segment]
        if reason is not None and reason_categories is None:
            reason_categories = found[reason]
    kwargs["segment_categories"] = None if segment_categories is None else list(segment_categories)
    kwargs["reason_categories"] = None if reason_categories is None else list(reason_categories)
    summary = {"skipped": skipped, "passes": passes}
    header, states = _run(engine, data, Plan("lifecycle", kwargs, cols, summary=summary), entity, partitions)
    out = states["result"] if "result" in states else lifecycle_local(empty, **kwargs).summary(**summary)
    out._inputs = _inputs(dry.summary(), header, engine, entities=int(header["sums"].get("entities", 0)))
    return out


def funnel_analysis_dist(engine: Engine, data: Any, *, window: Any, steps: Sequence[Any] | int,
                         entity: str = "entity", time: str = "time", step: str = "step",
                         exclusions: Sequence[tuple[Any, Any, Any]] = (), unordered: bool = False,
                         count_conversions: bool = False, hold: str | None = None, segment: str | None = None,
                         attribution: str = "first_touch", attribution_step: Any = None, period: str | None = None,
                         tz: Any = "UTC", data_end: Any = None, histogram_edges: Sequence[Any] = (),
                         max_gap: Mapping[Any, Any] | Sequence[Any] | None = None,
                         min_gap: Mapping[Any, Any] | Sequence[Any] | None = None, optional: Sequence[Any] = (),
                         time_unit: str | None = None, absent: str = "error", threads: int = 1,
                         partitions: int | None = None) -> FunnelAnalysis:
    """Funnel analysis beyond ``windowFunnel``: :func:`funnelkit.funnel_analysis` on {takes},
    with the same arguments. The level counts (closed, open, per segment, per period, through
    each step, conversions) and ``time_to_convert()`` equal the single-machine ones: every
    partition returns the core's mergeable duration state (the per-entity durations to each
    step, with the analysis definition), and the summaries are computed once from the merged
    durations.

    Without ``data_end`` a map-only pass first finds the largest timestamp (the single-machine
    default is that + 1, over all rows, so every partition must use the same one)."""
    engine.check(data)
    partitions = _partitions(partitions)
    _names.choice(absent, _names.ABSENT, "absent")
    kwargs = dict(window=window, entity=entity, time=time, step=step, unordered=unordered,
                  count_conversions=count_conversions, hold=hold, segment=segment, attribution=attribution,
                  period=period, tz=tz, histogram_edges=list(histogram_edges), time_unit=time_unit, threads=threads)
    cols = _columns(engine.columns(data), entity, time, step, hold, segment)
    empty = _empty(engine, data, cols)
    named = dict(steps=steps, exclusions=list(exclusions), attribution_step=attribution_step, max_gap=max_gap,
                 min_gap=min_gap, optional=list(optional))
    dry = _dry_run(funnel_analysis_local, empty, absent="warn", data_end=data_end, **named, **kwargs)
    if data_end is None:
        top = _scan(engine, data, (time,), time=(time, time_unit))["max_time"]
        ticks = 0 if top is None else top + 1
        axis = dry._axis
        data_end = np.datetime64(ticks, axis.unit) if axis.is_datetime else ticks
        dry = _dry_run(funnel_analysis_local, empty, absent="warn", data_end=data_end, **named, **kwargs)
    kwargs["data_end"] = data_end
    names, lookup = _step_names(steps)
    recode = None
    if lookup is None:
        kwargs.update(named)
    else:
        def index(v: Any) -> Any:
            return None if v is None else (lookup[str(v)] if str(v) in lookup else int(v))

        extra: dict[str, int] = {}
        coded = []
        for ev, after, before in exclusions:
            code = int(ev) if isinstance(ev, (int, np.integer)) else extra.setdefault(str(ev), len(names) + len(extra))
            coded.append((code, index(after), index(before)))
        gaps = {}
        for key, value in (("max_gap", max_gap), ("min_gap", min_gap)):
            gaps[key] = ({index(k): v for k, v in value.items()} if isinstance(value, Mapping) else value)
        kwargs.update(steps=len(names), exclusions=coded, attribution_step=index(attribution_step),
                      optional=[index(o) for o in optional], **gaps)
        recode = Recode(step, tuple(names), tuple(extra.items()))
    header, states = _run(engine, data, Plan("funnel_analysis", kwargs, cols, recode=recode), entity, partitions)
    _check_steps(header, recode, step, absent)
    return _merged_analysis(dry, names, header, states, engine)


def _merged_analysis(dry: FunnelAnalysis, names: list[str], header: dict[str, Any], states: dict[str, Any],
                     engine: Engine) -> FunnelAnalysis:
    options = dry._options
    n = len(names)

    def counts(key: str) -> Any:
        return states[key]._state if key in states else _core.WindowFunnelCounts(n)

    segments = sorted((_decode(json.loads(k[len("segment "):])) for k in states if k.startswith("segment ")),
                      key=_label_key)
    periods = sorted((_decode(json.loads(k[len("period "):])) for k in states if k.startswith("period ")))
    axis = dry._axis
    through = header["sums"].get("through_step", [0] * n)
    durations = states.get(_CORE + "FunnelDurations")
    raw = {"closed": counts("closed"), "open": counts("open"), "unattributed": counts("unattributed"),
           "by_segment": [counts("segment " + json.dumps(_encode(s))) for s in segments],
           "conversions": int(header["sums"].get("conversions", 0)),
           "histogram_edges": np.asarray(dry.histogram_edges).astype(np.int64),
           "data_end": int(np.asarray([dry.data_end]).astype(np.int64)[0]),
           "time_to_step": durations.summaries() if durations is not None else dry._durations,
           "through_step": through, "durations": durations}
    by_period = {p: WindowFunnel(counts("period " + json.dumps(_encode(p))), names, options=options) for p in periods}
    return FunnelAnalysis(raw, names, segments if options.get("segment") else None, axis, by_period,
                          options=options, inputs=_inputs(dry, header, engine))


def campaign_report_dist(engine: Engine, data: Any, *, model: Any = None, entity: str = "entity", time: str = "time",
                         stage: str = "stage", segment: str = "source", amount: str | None = "amount",
                         cost: Mapping[Any, float] | None = None, absent: str = "error", mql_stage: str = "MQL",
                         sql_stage: str = "SQL", opportunity_stage: str = "Opportunity", skipped: str = "implied",
                         confidence: float = 0.95, interval: str = "wilson", time_unit: str | None = None,
                         level: float | None = None, threads: int = 1, partitions: int | None = None) -> CampaignReport:
    """The closed-loop campaign and source report: :func:`funnelkit.campaign_report` on {takes},
    with the same arguments and the same result (``to_arrow().equals`` the single-machine
    report on the same rows, to the last bit).

    A map-only pass first gathers the sorted segment labels; rows are then grouped by
    ``entity`` and every partition computes the core's mergeable campaign state (per segment:
    integer counts, the revenue as an exact sum, the time to win as a 128-bit integer), so the
    merged state is the single-machine one and the report (rates, intervals, z-tests, Holm,
    velocity) is computed once from it on the driver."""
    engine.check(data)
    partitions = _partitions(partitions)
    if level is not None:
        _names.renamed("level", "confidence")
        confidence = level
    kwargs = dict(model=model, entity=entity, time=time, stage=stage, segment=segment, amount=amount,
                  mql_stage=mql_stage, sql_stage=sql_stage, opportunity_stage=opportunity_stage, skipped=skipped,
                  confidence=confidence, interval=interval, time_unit=time_unit, threads=threads)
    cols = _columns(engine.columns(data), entity, time, stage, segment, amount)
    empty = _empty(engine, data, cols)
    _dry_run(campaign_report_local, empty, **kwargs)
    labels = _scan(engine, data, (segment,), labels=((segment, "segment"),))[segment]
    prep = _Prepared(empty, categories=list(labels), **kwargs)
    options = prep.core_options(cost, absent)  # checks the cost labels against every segment
    header, states = _run(engine, data, Plan("campaign", dict(kwargs, categories=list(labels)), cols), entity,
                          partitions)
    state = states.get(_CORE + "CampaignState") or prep.state()
    raw = _core.campaign_report_of(state, options=options)
    out = prep.report(raw, cost, engine=engine.takes)
    out._inputs["rows"] = int(header["sums"].get("rows", 0))
    return out


def attribute_dist(engine: Engine, touches: Any, outcomes: Any, *, model: str = "linear", entity: str = "path",
                   time: str = "time", channel: str = "channel", milestone: str | None = None,
                   outcome_entity: str | None = None, converted: str = "converted", value: str | None = "value",
                   conversion_time: str | None = None, channels: Sequence[Any] | None = None, absent: str = "error",
                   u_weights: Sequence[float] = (0.4, 0.2, 0.4), w_weights: Sequence[float] = (0.3, 0.3, 0.3, 0.1),
                   half_life: Any = None, head: Sequence[float] = (), tail: Sequence[float] = (), middle: float = 0.0,
                   markov_order: int = 1, shapley_game: str = "covered_value", shapley_exact_max: int = 15,
                   shapley_samples: int = 2000, seed: int = 1, time_unit: str | None = None, path: str | None = None,
                   outcome_path: str | None = None, markov_weight: str = "conversions", threads: int = 1,
                   partitions: int | None = None) -> AttributionResult:
    """Attribution of conversions and value to channels: :func:`funnelkit.attribute` on {takes}
    (touches and outcomes, each {takes}), with the same arguments and the same result
    (``to_arrow().equals`` the single-machine result, to the last bit, seeded Shapley sampling
    included).

    The touches and the outcomes of each entity are brought to the same partition; every
    partition computes the core's mergeable attribution state: exact per-channel credit sums
    for the rule-based models (and Shapley's covered_value game), the distinct paths with
    their counts for Markov (channel sequences) and Shapley's value_rate game (channel sets).
    The driver merges the states and computes the attribution once, so removal effects and
    Shapley values are those of all the paths. Without ``channels`` a map-only pass first
    gathers the sorted channel labels of a text column."""
    engine.check(touches)
    engine.check(outcomes)
    partitions = _partitions(partitions)
    entity, outcome_entity = _entity_alias(entity, path, outcome_entity, outcome_path)
    out_entity = outcome_entity or entity
    import pyarrow as pa

    model_options = dict(model=_names.choice(model, MODELS, "model"),
                         u_weights=u_weights, w_weights=w_weights, half_life=half_life, head=head, tail=tail,
                         middle=middle, markov_order=markov_order, shapley_game=shapley_game,
                         shapley_exact_max=shapley_exact_max, shapley_samples=shapley_samples, seed=seed,
                         markov_weight=markov_weight)
    cols = dict(entity=entity, time=time, channel=channel, milestone=milestone, outcome_entity=outcome_entity,
                converted=converted, value=value, conversion_time=conversion_time, time_unit=time_unit)
    t_cols = _columns(engine.columns(touches), entity, time, channel, milestone)
    o_cols = _columns(engine.columns(outcomes), out_entity, converted, value, conversion_time)
    t_empty, o_empty = _empty(engine, touches, t_cols), _empty(engine, outcomes, o_cols)
    _dry_run(attribute_local, t_empty, outcomes=o_empty, channels=channels, absent="warn", **model_options, **cols)
    codes = (channels is None and channel in t_empty.column_names
             and pa.types.is_integer(t_empty.schema.field(channel).type))
    labels: list[Any] | None = None  # integer channel codes: labelled by themselves, as on one machine
    if not codes:
        found = _scan(engine, touches, (channel,), labels=((channel, "channel"),))[channel]
        labels = found if channels is None else list(channels)
        if channels is not None:
            _names.check_in_data(labels, found, what="channel", column=channel, option="channels", absent=absent)
    kwargs = dict(cols, channels=labels, threads=threads, model_options=dict(model_options))
    kwargs["model_options"]["shapley_game"] = _names.choice(shapley_game, SHAPLEY_GAMES, "shapley_game")
    plan = Plan("attribute", kwargs, tuple(c for c in t_cols if c != entity), other_columns=tuple(
        c for c in o_cols if c != out_entity), entities=(entity, out_entity))
    merged = engine.map_reduce_pair(touches, outcomes, plan, partitions)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        paths = _Paths(t_empty, o_empty, channels=labels, absent="warn",
                       **{k: v for k, v in cols.items()})
    opts = dict(kwargs["model_options"])
    given_half_life = opts["half_life"]
    opts["half_life"] = paths.half_life(given_half_life)
    if merged is None:
        state = _core.attribution_sums(paths.core, _options(**opts))
        header = {"sums": {}}
    else:
        header, states = open_part(merged)
        state = _core.AttributionState.deserialize(states[_CORE + "AttributionState"])
    raw = _core.attribute_state(state)
    if labels is None:
        labels = list(range(int(state.n_channels)))
    model_name = opts.pop("model")
    shown = paths.options(opts, given_half_life, model=model_name)
    inputs = {"touches": int(header["sums"].get("rows", 0)), "outcomes": int(header["sums"].get("outcomes", 0)),
              "paths": int(state.paths), "channels": len(labels), "engine": engine.takes,
              "columns": {**{k: v for k, v in cols.items() if k != "time_unit"}, "outcome_entity": out_entity}}
    return AttributionResult(raw, labels, model=model_name, inputs=inputs, options=shown)


def public(fn: Callable[..., Any], engine: Engine, name: str, result: Any, doc: str | None = None) -> Callable[..., Any]:
    """``fn(engine, data, ...)`` as the engine module's public ``name(data, ...)``, with the
    signature and docstring of ``fn`` less the engine."""
    sig = inspect.signature(fn)
    params = list(sig.parameters.values())[1:]

    def call(data: Any, *args: Any, **kwargs: Any) -> Any:
        return fn(engine, data, *args, **kwargs)

    call.__name__ = call.__qualname__ = name
    call.__module__ = engine.module
    call.__doc__ = (doc or fn.__doc__ or "").replace("{takes}", engine.takes)
    call.__signature__ = sig.replace(parameters=params, return_annotation=result)  # type: ignore[attr-defined]
    call.__annotations__ = {**{p.name: p.annotation for p in params}, "return": result}
    return call


def publish(engine: Engine) -> tuple[Callable[..., Any], ...]:
    """The public functions of an engine module: window_funnel, conversion, lifecycle,
    funnel_analysis, campaign_report and attribute, in that order."""
    return (public(window_funnel_dist, engine, "window_funnel", WindowFunnel),
            public(conversion_dist, engine, "conversion", ConversionTable),
            public(lifecycle_dist, engine, "lifecycle", LifecycleSummary),
            public(funnel_analysis_dist, engine, "funnel_analysis", FunnelAnalysis),
            public(campaign_report_dist, engine, "campaign_report", CampaignReport),
            public(attribute_dist, engine, "attribute", AttributionResult))
