"""Closed-loop reporting: attribution, suppression of disqualified leads, the qualification
audit and the campaign / source report.

Definitions follow the C++ core (``include/funnelkit/attribution.hpp``, ``markov.hpp``,
``suppression.hpp``, ``audit.hpp``, ``campaign.hpp``):

* Attribution: only converting paths hand out credit; each converting path with at least one
  non-null touch distributes exactly one conversion and its value, so the credits of every
  model sum to the attributed totals; converting paths without any touch are reported as
  ``unattributed``. Null touches (missing channel) are dropped. Position-based models
  redistribute the weights of positions a short path lacks over the positions it has.
* Markov: removal effect ``1 - P(convert without c) / P(convert)`` of an order-k chain
  (k = 1..3), solved exactly; credit proportional to the removal effect.
* Shapley: ``covered_value`` (value of converting paths whose channel set is covered; closed
  form) or ``value_rate`` (value per path among covered paths; exact up to
  ``shapley_exact_max`` channels, sampled above, scaled to the total value).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from . import _core, _frames
from .model import StageModel

__all__ = [
    "AttributionResult",
    "attribute",
    "compare_attribution",
    "SuppressionList",
    "SuppressionCheck",
    "normalise_key",
    "AuditResult",
    "qualification_audit",
    "roc_auc",
    "CampaignReport",
    "campaign_report",
    "solve_absorbing_chain",
]

TOTAL = "(all)"
_MODELS = ("first_touch", "last_touch", "linear", "u_shaped", "w_shaped", "time_decay", "position", "markov", "shapley")
_MILESTONES = {"lead_created": 1, "opportunity_created": 2}


# -- column helpers ----------------------------------------------------------------------------
def _codes_with_nulls(arr: Any, name: str) -> tuple[np.ndarray, list[Any]]:
    """Channel codes: int32 with -1 for a missing value, and the labels (code = index).
    Integer columns are taken as codes (>= -1) and labelled by their own values."""
    import pandas as pd

    values = _frames._values(arr)
    if values.dtype.kind in "iu":
        codes = values.astype(np.int64)
        if codes.size and codes.min() < -1:
            row = int(np.flatnonzero(codes < -1)[0])
            raise ValueError(f"column '{name}', row {row}: value {int(codes[row])} is not a channel code (expected >= -1)")
        n = int(codes.max()) + 1 if codes.size else 0
        return codes.astype(np.int32), list(range(n))
    codes, uniques = pd.factorize(pd.Series(np.asarray(arr, dtype=object)), sort=False)
    return codes.astype(np.int32), list(uniques)


def _joint_ids(a: Any, b: Any, names: tuple[str, str]) -> tuple[np.ndarray, np.ndarray]:
    """Path ids of the touches and of the outcomes, encoded together so equal ids match."""
    import pandas as pd

    va, vb = _frames._values(a), _frames._values(b)
    if va.dtype.kind in "iu" and vb.dtype.kind in "iu":
        return _frames.entity_codes(va, names[0]), _frames.entity_codes(vb, names[1])
    both = np.concatenate([va.astype(object), vb.astype(object)])
    codes, _ = pd.factorize(pd.Series(both))
    if (codes < 0).any():
        row = int(np.flatnonzero(codes < 0)[0])
        col, r = (names[0], row) if row < len(va) else (names[1], row - len(va))
        raise ValueError(f"column '{col}', row {r}: value is a missing path id")
    return codes[: len(va)].astype(np.int64), codes[len(va):].astype(np.int64)


def _flags(arr: Any, name: str) -> np.ndarray:
    """0/1 flags as uint8; booleans, integers 0/1 or floats 0.0/1.0."""
    v = _frames._values(arr)
    if v.dtype == bool:
        return v.astype(np.uint8)
    if v.dtype.kind == "O":
        bad = np.array([x not in (0, 1, True, False) for x in v], dtype=bool)
    else:
        with np.errstate(invalid="ignore"):
            bad = ~np.isin(v, (0, 1))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        x = _frames._plain(v[row])
        shown = repr(x) if isinstance(x, str) else x
        raise ValueError(f"column '{name}', row {row}: value {shown} must be 0 or 1")
    return v.astype(np.uint8)


def _floats(arr: Any, name: str) -> np.ndarray:
    v = _frames._values(arr)
    if v.dtype.kind not in "iufb":
        raise TypeError(f"column '{name}' must be numeric, got dtype {v.dtype}")
    return np.ascontiguousarray(v, dtype=np.float64)


def _time_unit_seconds(arr: np.ndarray) -> float:
    """Seconds per unit of a timestamp column: 1 for integers (taken as seconds)."""
    if arr.dtype.kind == "M":
        unit, count = np.datetime_data(arr.dtype)
        return float(np.timedelta64(count, unit) / np.timedelta64(1, "s"))
    return 1.0


def _string_buffers(values: Any) -> tuple[np.ndarray, np.ndarray]:
    """Arrow large_string buffers (data as int8, offsets as int64) of a column of strings;
    missing values become empty strings, which never match."""
    import pyarrow as pa

    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        arr = values
    else:
        v = _frames._values(values) if not isinstance(values, (list, tuple)) else np.asarray(values, dtype=object)
        arr = pa.array([None if x is None or (isinstance(x, float) and x != x) else str(x) for x in v],
                       type=pa.large_string())
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    arr = arr.cast(pa.large_string()).fill_null("")
    bufs = arr.buffers()
    n = len(arr)
    offsets = np.frombuffer(bufs[1], dtype=np.int64, count=n + 1, offset=arr.offset * 8).copy()
    data = np.frombuffer(bufs[2], dtype=np.int8) if bufs[2] is not None else np.zeros(0, dtype=np.int8)
    return data, offsets


# -- attribution -------------------------------------------------------------------------------
class AttributionResult:
    """Credit per channel: ``conversions`` and ``value`` (numpy arrays aligned with
    ``channels``), the attributed totals, the unattributed part, and ``score`` (Markov removal
    effects or raw Shapley values; empty for the rule-based models)."""

    def __init__(self, model: str, channels: list[Any], raw: dict[str, Any]):
        self.model = model
        self.channels = channels
        n = len(channels)
        self.conversions = np.asarray(raw["conversions"])[:n]
        self.value = np.asarray(raw["value"])[:n]
        self.score = np.asarray(raw["score"])[:n]
        self.total_conversions = float(raw["total_conversions"])
        self.total_value = float(raw["total_value"])
        self.unattributed_conversions = float(raw["unattributed_conversions"])
        self.unattributed_value = float(raw["unattributed_value"])
        self.paths = int(raw["paths"])
        self.converting_paths = int(raw["converting_paths"])
        self.base = float(raw["base"])
        self.exact = bool(raw["exact"])

    def to_dict(self) -> dict[str, Any]:
        """Columns channel, conversions, value, share (of the attributed value) and, for Markov
        and Shapley, score."""
        share = self.value / self.total_value if self.total_value > 0 else np.full(len(self.value), np.nan)
        out: dict[str, Any] = {
            "channel": np.array(self.channels, dtype=object),
            "conversions": self.conversions,
            "value": self.value,
            "share": share,
        }
        if self.score.size:
            out["score"] = self.score
        return out

    def to_pandas(self) -> Any:
        """A pandas DataFrame of :meth:`to_dict`, one row per channel."""
        import pandas as pd

        return pd.DataFrame(self.to_dict())

    def __repr__(self) -> str:
        lines = [f"AttributionResult({self.model}: {self.converting_paths:,} converting of {self.paths:,} paths, "
                 f"value {self.total_value:,.2f}, unattributed {self.unattributed_value:,.2f})"]
        width = max([len(str(c)) for c in self.channels] + [7])
        for c, conv, val in zip(self.channels, self.conversions, self.value):
            lines.append(f"  {str(c):<{width}}  {conv:>12,.2f} conv  {val:>16,.2f}")
        return "\n".join(lines)


def _path_set(touches: Any, outcomes: Any, *, path: str, time: str, channel: str, milestone: str | None,
              outcome_path: str | None, converted: str, value: str | None,
              conversion_time: str | None) -> tuple[Any, list[Any], float]:
    touches = _frames.as_table(touches)
    outcomes = _frames.as_table(outcomes)
    p_t, p_o = _joint_ids(_frames.column(touches, path), _frames.column(outcomes, outcome_path or path),
                          (path, outcome_path or path))
    t_raw = _frames.column(touches, time)
    tim = _frames.timestamps(t_raw, time)
    ch, labels = _codes_with_nulls(_frames.column(touches, channel), channel)
    ms = None
    if milestone is not None:
        m = _frames._values(_frames.column(touches, milestone))
        if m.dtype.kind in "iub":
            ms = np.ascontiguousarray(m, dtype=np.int64)
            bad = (ms < 0) | (ms > 2)
            if bad.any():
                row = int(np.flatnonzero(bad)[0])
                raise ValueError(f"column '{milestone}', row {row}: value {int(ms[row])} is not a milestone code (0, 1, 2)")
            ms = ms.astype(np.uint8)
        else:
            ms = np.zeros(len(m), dtype=np.uint8)
            for i, x in enumerate(m):
                if x is None or (isinstance(x, float) and x != x) or x == "" or x == "none":
                    continue
                if x not in _MILESTONES:
                    raise ValueError(f"column '{milestone}', row {i}: value {x!r} is not 'lead_created', "
                                     "'opportunity_created' or missing")
                ms[i] = _MILESTONES[x]
    conv = _flags(_frames.column(outcomes, converted), converted)
    val = _floats(_frames.column(outcomes, value), value) if value is not None else None
    ct = _frames.timestamps(_frames.column(outcomes, conversion_time), conversion_time) if conversion_time else None
    try:
        ps = _core.PathSet(p_t, tim, ch, ms, p_o, conv, val, ct, len(labels))
    except ValueError as exc:
        msg = str(exc).replace("column 'path'", f"column '{path}'").replace("column 'channel'", f"column '{channel}'")
        msg = msg.replace("column 'value'", f"column '{value}'").replace("column 'converted'", f"column '{converted}'")
        raise ValueError(msg) from None
    return ps, labels, _time_unit_seconds(np.asarray(t_raw))


def _run(ps: Any, labels: list[Any], unit_seconds: float, model: str, *, u_weights: Sequence[float],
         w_weights: Sequence[float], half_life: Any, head: Sequence[float], tail: Sequence[float], middle: float,
         markov_order: int, shapley_game: str, shapley_exact_max: int, shapley_samples: int,
         seed: int) -> AttributionResult:
    if model not in _MODELS:
        raise ValueError(f"option 'model': value {model!r} is not one of {', '.join(_MODELS)}")
    if half_life is None:
        hl = 7 * 86400.0 / unit_seconds
    elif isinstance(half_life, (np.timedelta64,)) or type(half_life).__name__ in ("Timedelta", "timedelta"):
        import pandas as pd

        hl = pd.Timedelta(half_life).total_seconds() / unit_seconds
    else:
        hl = float(half_life)
    raw = _core.attribute(ps, model, [float(x) for x in u_weights], [float(x) for x in w_weights], hl,
                          [float(x) for x in head], [float(x) for x in tail], float(middle), int(markov_order),
                          shapley_game, int(shapley_exact_max), int(shapley_samples), int(seed))
    return AttributionResult(model, labels, raw)


def attribute(
    touches: Any,
    outcomes: Any,
    *,
    model: str = "linear",
    path: str = "path",
    time: str = "time",
    channel: str = "channel",
    milestone: str | None = None,
    outcome_path: str | None = None,
    converted: str = "converted",
    value: str | None = "value",
    conversion_time: str | None = None,
    u_weights: Sequence[float] = (0.4, 0.2, 0.4),
    w_weights: Sequence[float] = (0.3, 0.3, 0.3, 0.1),
    half_life: Any = None,
    head: Sequence[float] = (),
    tail: Sequence[float] = (),
    middle: float = 0.0,
    markov_order: int = 1,
    shapley_game: str = "covered_value",
    shapley_exact_max: int = 15,
    shapley_samples: int = 2000,
    seed: int = 1,
) -> AttributionResult:
    """Attributes conversions and converted value to the channels on each path.

    Parameters
    ----------
    touches:
        One row per touch: ``path`` id, ``time`` (integers in any unit, or datetimes) and
        ``channel`` (labels or integer codes; missing = a null touch, dropped). Optional
        ``milestone`` column for the W shape: ``"lead_created"``, ``"opportunity_created"`` or
        missing (or codes 1, 2, 0).
    outcomes:
        One row per path: ``outcome_path`` (default: the ``path`` column name), ``converted``
        (0/1) and ``value`` (converted revenue; ``value=None`` counts each conversion as 1),
        optionally ``conversion_time`` (time decay ages; default: the path's last touch;
        touches after it are dropped). Paths without an outcome row do not convert.
    model:
        ``first_touch``, ``last_touch``, ``linear``, ``u_shaped`` (``u_weights`` first /
        middle / last), ``w_shaped`` (``w_weights`` first touch / lead creation / opportunity
        creation / rest; needs ``milestone``), ``time_decay`` (weight 2^(-age/half_life)),
        ``position`` (``head`` weights from the first touch, ``tail`` from the last,
        ``middle`` shared by the rest), ``markov`` (removal effect, ``markov_order`` 1..3) or
        ``shapley`` (``shapley_game``, ``shapley_exact_max``, ``shapley_samples``, ``seed``).
    half_life:
        In the unit of the time column (seconds for integer times), or a timedelta; default
        7 days.

    Raises ValueError naming the column, the row and the value for bad input.
    """
    ps, labels, unit = _path_set(touches, outcomes, path=path, time=time, channel=channel, milestone=milestone,
                                 outcome_path=outcome_path, converted=converted, value=value,
                                 conversion_time=conversion_time)
    return _run(ps, labels, unit, model, u_weights=u_weights, w_weights=w_weights, half_life=half_life, head=head,
                tail=tail, middle=middle, markov_order=markov_order, shapley_game=shapley_game,
                shapley_exact_max=shapley_exact_max, shapley_samples=shapley_samples, seed=seed)


def compare_attribution(
    touches: Any,
    outcomes: Any,
    *,
    models: Sequence[str] = ("first_touch", "last_touch", "linear", "u_shaped", "time_decay", "markov", "shapley"),
    path: str = "path",
    time: str = "time",
    channel: str = "channel",
    milestone: str | None = None,
    outcome_path: str | None = None,
    converted: str = "converted",
    value: str | None = "value",
    conversion_time: str | None = None,
    **options: Any,
) -> Any:
    """Attributed value per channel under several models (the paths are prepared once): a
    pandas DataFrame with one row per channel and one column per model. ``options`` are the
    model options of :func:`attribute`."""
    import pandas as pd

    ps, labels, unit = _path_set(touches, outcomes, path=path, time=time, channel=channel, milestone=milestone,
                                 outcome_path=outcome_path, converted=converted, value=value,
                                 conversion_time=conversion_time)
    defaults: dict[str, Any] = dict(u_weights=(0.4, 0.2, 0.4), w_weights=(0.3, 0.3, 0.3, 0.1), half_life=None,
                                    head=(), tail=(), middle=0.0, markov_order=1, shapley_game="covered_value",
                                    shapley_exact_max=15, shapley_samples=2000, seed=1)
    unknown = set(options) - set(defaults)
    if unknown:
        raise TypeError(f"unknown option(s): {', '.join(sorted(unknown))}")
    defaults.update(options)
    out = {"channel": labels}
    for m in models:
        out[m] = _run(ps, labels, unit, m, **defaults).value
    return pd.DataFrame(out)


# -- suppression -------------------------------------------------------------------------------
def normalise_key(key: str, *, transform: str = "normalise") -> str:
    """The normalised form under which a key is stored and matched: trimmed, ASCII lower-case;
    ``transform="email_domain"`` first keeps the part after the last '@' and drops a trailing
    dot."""
    return _core.normalise_key(key, transform)


def _reason_codes(reason: Any, n: int) -> tuple[np.ndarray, list[str]]:
    if isinstance(reason, str):
        return np.zeros(n, dtype=np.int32), [reason]
    import pandas as pd

    v = _frames._values(reason) if not isinstance(reason, (list, tuple)) else np.asarray(reason, dtype=object)
    if len(v) != n:
        raise ValueError(f"column 'reason' has {len(v)} rows but there are {n} ids or keys")
    codes, uniques = pd.factorize(pd.Series(v.astype(object)))
    if (codes < 0).any():
        row = int(np.flatnonzero(codes < 0)[0])
        raise ValueError(f"column 'reason', row {row}: value is missing; every suppression needs a reason")
    return codes.astype(np.int32), [str(u) for u in uniques]


class SuppressionCheck:
    """Per row of a checked batch: ``suppressed`` (bool), ``reasons`` (``"; "``-joined names)
    and ``matched_by`` (``"id"`` and/or the key kinds that matched)."""

    def __init__(self, raw: dict[str, Any], lst: SuppressionList, kinds: list[str]):
        self.suppressed = np.asarray(raw["suppressed"]).astype(bool)
        self.reason_mask = np.asarray(raw["reasons"])
        self._matched = np.asarray(raw["matched_by"])
        self.count = int(raw["count"])
        cache: dict[int, str] = {}
        self.reasons = np.array([cache.setdefault(int(m), lst._core.describe(int(m))) if m else "" for m in self.reason_mask],
                                dtype=object)
        names = ["id", *kinds]
        mcache: dict[int, str] = {}

        def label(bits: int) -> str:
            return ", ".join(nm for j, nm in enumerate(names) if bits >> j & 1)

        self.matched_by = np.array([mcache.setdefault(int(b), label(int(b))) if b else "" for b in self._matched],
                                   dtype=object)

    def to_pandas(self) -> Any:
        """DataFrame with columns suppressed, reasons, matched_by (one row per checked row)."""
        import pandas as pd

        return pd.DataFrame({"suppressed": self.suppressed, "reasons": self.reasons, "matched_by": self.matched_by})

    def __len__(self) -> int:
        return len(self.suppressed)

    def __repr__(self) -> str:
        return f"SuppressionCheck({self.count:,} of {len(self):,} rows suppressed)"


class SuppressionList:
    """Disqualified entities by id and by normalised key (e.g. ``"email_domain"``), each with
    the set of reasons it was suppressed for. Duplicate ids or keys keep every reason. Mergeable
    (``a + b``, union), picklable, comparable; ``to_bytes`` / ``from_bytes`` use funnelkit's
    versioned binary format."""

    def __init__(self, _core_list: Any = None):
        self._core = _core_list if _core_list is not None else _core.SuppressionList()

    def add_ids(self, ids: Any, reason: Any) -> SuppressionList:
        """Adds entity ids (integers) with one reason for all, or one reason per id."""
        v = _frames.entity_codes(ids if not isinstance(ids, (list, tuple)) else np.asarray(ids), "id")
        codes, names = _reason_codes(reason, len(v))
        self._core.add_ids(v, codes, names)
        return self

    def add_keys(self, kind: str, keys: Any, reason: Any, *, transform: str = "normalise") -> SuppressionList:
        """Adds keys of a kind (e.g. ``"email_domain"``) with one reason or one per key.
        ``transform="email_domain"`` accepts full e-mail addresses."""
        data, offsets = _string_buffers(keys)
        codes, names = _reason_codes(reason, len(offsets) - 1)
        self._core.add_keys(kind, data, offsets, transform, codes, names)
        return self

    def add_disqualified(self, data: Any, *, model: StageModel | None = None, entity: str = "entity",
                         stage: str = "stage", reason: str | None = "reason",
                         reason_labels: Sequence[str] | None = None) -> SuppressionList:
        """Adds every entity with a record of a disqualified-kind stage, with that record's
        reason (``"disqualified"`` when missing). Reasons may be labels or integer codes into
        ``reason_labels``."""
        model = model or StageModel.b2b()
        data = _frames.as_table(data)
        ent = _frames.entity_codes(_frames.column(data, entity), entity)
        stg = _frames.stage_codes(_frames.column(data, stage), model.names, stage)
        dq = np.array([s.kind == "disqualified" for s in model.stages], dtype=bool)
        rows = np.flatnonzero(dq[stg])
        if reason is None:
            why = ["disqualified"] * len(rows)
        else:
            r = np.asarray(_frames._values(_frames.column(data, reason)))[rows]
            if r.dtype.kind in "iu":
                labels = list(reason_labels or [])
                why = [labels[int(c)] if 0 <= int(c) < len(labels) else "disqualified" for c in r]
            else:
                why = ["disqualified" if x is None or (isinstance(x, float) and x != x) else str(x) for x in r]
        if len(rows):
            self.add_ids(ent[rows], why)
        return self

    def check(self, batch: Any = None, *, id: str | None = None, keys: Mapping[str, Any] | None = None) -> SuppressionCheck:
        """Checks a batch of leads: ``id`` names the id column, ``keys`` maps a key kind to a
        column name or ``(column, transform)``, e.g. ``{"email_domain": ("email",
        "email_domain")}``. Returns which rows must not be delivered and why."""
        table = _frames.as_table(batch) if batch is not None else None
        ids = None
        if id is not None:
            ids = _frames.entity_codes(_frames.column(table, id), id)
        cols = []
        kinds = []
        for kind, spec in (keys or {}).items():
            name, tf = (spec, "normalise") if isinstance(spec, str) else spec
            data, offsets = _string_buffers(_frames.column(table, name))
            cols.append((kind, data, offsets, tf))
            kinds.append(kind)
        if ids is None and not cols:
            raise ValueError("option 'id'/'keys': name an id column or at least one key column to check")
        return SuppressionCheck(self._core.check(ids, cols), self, kinds)

    @property
    def reasons(self) -> list[str]:
        return list(self._core.reasons)

    @property
    def n_ids(self) -> int:
        return int(self._core.n_ids)

    @property
    def n_keys(self) -> int:
        return int(self._core.n_keys)

    def id_reasons(self, id: int) -> list[str]:
        m = self._core.id_reasons(int(id))
        return self._core.describe(m).split("; ") if m else []

    def key_reasons(self, kind: str, key: str, *, transform: str = "normalise") -> list[str]:
        m = self._core.key_reasons(kind, key, transform)
        return self._core.describe(m).split("; ") if m else []

    def merge(self, other: SuppressionList) -> SuppressionList:
        """Union with another list, in place; returns self."""
        if not isinstance(other, SuppressionList):
            raise TypeError(f"cannot merge a SuppressionList with {type(other).__name__}")
        self._core.merge(other._core)
        return self

    def __add__(self, other: SuppressionList) -> SuppressionList:
        return SuppressionList(self._core.copy()).merge(other)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SuppressionList) and self._core == other._core

    def __hash__(self) -> int:  # mutable
        raise TypeError("SuppressionList is mutable and not hashable")

    def to_bytes(self) -> bytes:
        return self._core.serialize()

    @classmethod
    def from_bytes(cls, data: bytes) -> SuppressionList:
        return cls(_core.SuppressionList.deserialize(bytes(data)))

    def __reduce__(self) -> tuple[Any, ...]:
        return (SuppressionList.from_bytes, (self.to_bytes(),))

    def __len__(self) -> int:
        return self.n_ids + self.n_keys

    def __repr__(self) -> str:
        return (f"SuppressionList({self.n_ids:,} ids, {self.n_keys:,} keys of kinds {list(self._core.kinds)}, "
                f"reasons {self.reasons})")


# -- qualification audit -----------------------------------------------------------------------
def roc_auc(score: Any, label: Any) -> float | None:
    """AUC of ``score`` against 0/1 ``label`` with ties counted one half (the Mann-Whitney
    statistic); None when a class is empty."""
    return _core.roc_auc(_floats(np.asarray(score), "score"), _flags(np.asarray(label), "label"))


class AuditResult:
    """Result of :func:`qualification_audit`: ``summary`` (dict), ``roc``, ``sweep`` and
    ``drift`` (pandas DataFrames; drift has one row per period)."""

    def __init__(self, raw: dict[str, Any], period_name: str | None):
        import pandas as pd

        self.summary: dict[str, Any] = dict(raw["overall"])
        self.roc = pd.DataFrame(raw["roc"])
        self.sweep = pd.DataFrame(raw["sweep"])
        drift = pd.DataFrame([dict(d) for d in raw["by_period"]])
        if len(drift):
            drift.insert(0, period_name or "period", list(raw["periods"]))
        self.drift = drift

    @property
    def auc(self) -> float | None:
        v = self.summary["auc"]
        return None if v != v else float(v)

    def to_pandas(self) -> Any:
        """The drift table with an overall row first (period ``"(all)"``)."""
        import pandas as pd

        first = pd.DataFrame([{**({self.drift.columns[0]: TOTAL} if len(self.drift) else {}), **self.summary}])
        return pd.concat([first, self.drift], ignore_index=True) if len(self.drift) else first

    def __repr__(self) -> str:
        s = self.summary

        def pct(v: float) -> str:
            return "-" if v != v else f"{100 * v:.1f}%"

        return (f"AuditResult({s['leads']:,} leads, {s['mqls']:,} MQLs: accepted {pct(s['acceptance_rate'])}, "
                f"MQL->SQL {pct(s['mql_to_sql'])}, SQL->won {pct(s['sql_to_won'])}, precision {pct(s['precision'])}, "
                f"recall {pct(s['recall'])}, AUC {'-' if s['auc'] != s['auc'] else format(s['auc'], '.4f')}, "
                f"{len(self.drift)} periods)")


def qualification_audit(
    leads: Any,
    *,
    score: str | None = "score",
    mql: str | None = None,
    threshold: float | None = None,
    accepted: str | None = "accepted",
    sql: str | None = "sql",
    won: str = "won",
    closed: str | None = None,
    period: str | None = None,
    time: str | None = None,
    sweep: Sequence[float] | None = None,
) -> AuditResult:
    """Audits the MQL definition against sales acceptance and the final outcome.

    One row per lead. ``mql`` names a 0/1 rule-outcome column; without it MQL means
    ``score >= threshold``. ``closed`` (0/1) marks leads with a final outcome; open leads are
    left out of precision, recall and the ROC (default: every lead is closed). Drift is
    reported per ``period`` code, or per calendar month of ``time`` (datetimes, or integer
    Unix seconds). ``sweep``: thresholds to evaluate (default: every distinct score).
    Rates with a zero denominator are NaN; counts are always given.
    """
    t = _frames.as_table(leads)
    sc = _floats(_frames.column(t, score), score) if score else None
    if sc is not None and not np.isfinite(sc).all():
        row = int(np.flatnonzero(~np.isfinite(sc))[0])
        raise ValueError(f"column '{score}', row {row}: value {sc[row]} is not a finite score")
    per = None
    pname = period
    if period is not None:
        per = _frames.int32_codes(_frames.column(t, period), period)
    elif time is not None:
        ts = np.asarray(_frames.column(t, time))
        secs = (ts.astype("datetime64[s]").astype(np.int64) if ts.dtype.kind == "M"
                else _frames.timestamps(ts, time))
        per = np.asarray(_core.month_index(np.ascontiguousarray(secs, dtype=np.int64)), dtype=np.int32)
        pname = "month"
    raw = _core.audit_qualification(
        sc,
        _flags(_frames.column(t, mql), mql) if mql else None,
        _flags(_frames.column(t, accepted), accepted) if accepted else None,
        _flags(_frames.column(t, sql), sql) if sql else None,
        _flags(_frames.column(t, won), won),
        _flags(_frames.column(t, closed), closed) if closed else None,
        per,
        None if threshold is None else float(threshold),
        [float(x) for x in (sweep or [])],
    )
    res = AuditResult(raw, pname)
    if time is not None and period is None and len(res.drift):
        m = res.drift["month"].to_numpy()
        res.drift["month"] = [f"{1970 + int(k) // 12:04d}-{int(k) % 12 + 1:02d}" for k in m]
    return res


# -- campaign / source report ------------------------------------------------------------------
class CampaignReport:
    """Result of :func:`campaign_report`: one row per segment plus a total row ``"(all)"``."""

    def __init__(self, raw: dict[str, Any], labels: list[Any], segment_name: str):
        self._raw = raw
        self.labels = labels
        self.segment_name = segment_name
        self.missing_cost = [labels[i] for i in raw["missing_cost"]]

    def to_dict(self) -> dict[str, Any]:
        """Columns: the segment, leads, mqls, sqls, opportunities, won, lost, revenue, cost,
        cost_missing, cost_per_lead, cost_per_mql, cac, roi, each rate with _lower/_upper
        (Wilson), days_to_win, average_deal, win_rate, velocity, z, p_value, p_holm."""
        out: dict[str, Any] = {self.segment_name: np.array([*self.labels, TOTAL], dtype=object)}
        for k, v in self._raw.items():
            if k in ("segment", "missing_cost"):
                continue
            out[k] = np.asarray(v).astype(bool) if k == "cost_missing" else np.asarray(v)
        return out

    def to_pandas(self) -> Any:
        import pandas as pd

        return pd.DataFrame(self.to_dict())

    def __repr__(self) -> str:
        d = self.to_dict()
        lines = [f"CampaignReport(by {self.segment_name!r}, {len(self.labels)} segments"
                 + (f", missing cost: {self.missing_cost}" if self.missing_cost else "") + ")"]
        width = max([len(str(x)) for x in d[self.segment_name]] + [4])
        for i, lab in enumerate(d[self.segment_name]):
            cac = d["cac"][i]
            lines.append(f"  {str(lab):<{width}}  leads {d['leads'][i]:>8,}  MQL {d['mqls'][i]:>7,}  "
                         f"won {d['won'][i]:>6,}  revenue {d['revenue'][i]:>14,.0f}  "
                         f"CAC {'-' if cac != cac else format(cac, ',.0f'):>9}")
        return "\n".join(lines)


def campaign_report(
    data: Any,
    *,
    model: StageModel | None = None,
    entity: str = "entity",
    time: str = "time",
    stage: str = "stage",
    segment: str = "source",
    amount: str | None = "amount",
    cost: Mapping[Any, float] | None = None,
    mql_stage: str = "MQL",
    sql_stage: str = "SQL",
    opportunity_stage: str = "Opportunity",
    skipped: str = "implied",
    level: float = 0.95,
) -> CampaignReport:
    """Closed-loop report per source, campaign or any segment of stage-change records: leads,
    MQLs, SQLs, opportunities, won, lost, revenue; with ``cost`` (segment label -> cost):
    cost per lead, cost per MQL, CAC and ROI (segments without a cost are flagged in
    ``cost_missing`` and listed in ``missing_cost``; the total's cost metrics are then NaN);
    Wilson intervals of the conversion rates at ``level``; days to win and sales velocity
    (revenue per day); a two-proportion z-test of each segment's lead->won rate against the
    rest, with Holm-adjusted p-values.
    """
    model = model or StageModel.b2b()
    if skipped not in ("implied", "recorded"):
        raise ValueError(f"option 'skipped': value {skipped!r} is not one of 'implied', 'recorded'")
    t = _frames.as_table(data)
    ent = _frames.entity_codes(_frames.column(t, entity), entity)
    t_raw = np.asarray(_frames.column(t, time))
    tim = _frames.timestamps(t_raw, time)
    stg = _frames.stage_codes(_frames.column(t, stage), model.names, stage)
    seg, labels = _frames.category_codes(_frames.column(t, segment), segment)
    amt = _frames.amounts(_frames.column(t, amount), amount) if amount else None
    costs: list[float] = [float("nan")] * len(labels)
    if cost is not None:
        unknown = [k for k in cost if k not in labels]
        if unknown:
            raise ValueError(f"option 'cost': segment(s) {unknown} are not values of column '{segment}'")
        costs = [float(cost.get(lab, np.nan)) for lab in labels]
        for lab, c in zip(labels, costs):
            if c < 0 or np.isinf(c):
                raise ValueError(f"option 'cost': value {c} for segment {lab!r} is not a cost >= 0")
    seconds_per_day = 86400.0 / _time_unit_seconds(t_raw)
    raw = _core.campaign_report(model._m, ent, tim, stg, np.ascontiguousarray(seg, dtype=np.int32), amt, costs,
                                mql_stage, sql_stage, opportunity_stage, skipped, float(level), seconds_per_day)
    return CampaignReport(raw, list(labels), segment)


def solve_absorbing_chain(q: Any, r: Any) -> dict[str, np.ndarray]:
    """Absorbing Markov chain: transient-to-transient ``q`` (n x n) and transient-to-absorbing
    ``r`` (n x m) probabilities. Returns ``absorption`` B = N R (n x m), ``expected_steps``
    t = N 1 and ``fundamental`` N = (I - Q)^-1."""
    q = np.asarray(q, dtype=np.float64)
    r = np.asarray(r, dtype=np.float64)
    out = _core.solve_absorbing_chain(q, r)
    n = q.shape[0]
    return {
        "absorption": np.asarray(out["absorption"]).reshape(n, r.shape[1] if r.ndim == 2 else 0),
        "expected_steps": np.asarray(out["expected_steps"]),
        "fundamental": np.asarray(out["fundamental"]).reshape(n, n),
    }
