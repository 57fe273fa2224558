"""Closed-loop suppression: entities sales disqualified must never be handed to sales again.

A :class:`SuppressionList` holds entities by id and by normalised keys of any kind (e.g.
``"email_domain"``, ``"company"``), each with the set of reasons it was suppressed for;
:meth:`SuppressionList.check` says, per row of a batch of new leads, whether it must be held back
and why. Rules (``include/funnelkit/suppression.hpp``):

* Ids match by value, exactly: integers as integers, and any other id (strings, UUIDs) as its
  text, case and spaces included, so ``"alice"`` matches ``"alice"`` in every batch and never
  ``"Alice"``. An integer id never matches a text id.
* Keys are normalised before they are stored or looked up: leading and trailing whitespace
  removed and ASCII letters lower-cased; ``transform="email_domain"`` first keeps the part
  after the last ``@`` and drops a trailing dot, so ``"Ann@Example.COM "`` matches the domain
  ``"example.com"``.
* An id or key added with several reasons keeps all of them, so adding and merging commute.

The list is a :class:`~funnelkit.Mergeable`: ``a + b`` is the union, ``to_bytes()`` / pickles
carry every id, key and reason (the core's versioned, canonical bytes), and
:func:`funnelkit.restore` reads them back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from . import _core, _frames, _names
from ._result import Mergeable, Table
from .model import StageModel

__all__ = ["SuppressionCheck", "SuppressionList", "normalise_key", "TRANSFORMS"]

#: Key transforms: ``"normalise"`` (trim, ASCII lower-case) and ``"email_domain"``.
TRANSFORMS = ("normalise", "normalize", "email_domain")
_RAW_MAGIC = b"FKSP"


def normalise_key(key: str, *, transform: str = "normalise") -> str:
    """The normalised form under which a key is stored and matched: trimmed, ASCII lower-case;
    ``transform="email_domain"`` first keeps the part after the last ``@`` and drops a trailing
    dot."""
    return _core.normalise_key(key, _names.choice(transform, TRANSFORMS, "transform"))


def _id_column(values: Any, name: str) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Ids as (int64 array, None) when they are integers (or whole floats), else (None, object
    array of texts): ids are matched by their value, never by a per-call code."""
    v = _frames._values(values) if not isinstance(values, (list, tuple)) else np.asarray(values)
    if v.dtype.kind in "iuf" or v.dtype == bool:
        return _frames.entity_codes(v, name), None
    if v.dtype.kind == "U":
        return None, v.astype(object)
    if v.dtype.kind == "O":
        if len(v) and all(isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_)) for x in v):
            for row, x in enumerate(v.tolist()):
                if not -(2**63) <= x < 2**63:
                    raise ValueError(f"column '{name}', row {row}: value {x} does not fit in a 64-bit integer id")
            return np.array(v.tolist(), dtype=np.int64), None
        return None, v
    raise TypeError(f"column '{name}': ids must be integers or text, got dtype {v.dtype}")


def _texts(values: Any) -> np.ndarray:
    v = _frames._values(values) if not isinstance(values, (list, tuple)) else np.asarray(values, dtype=object)
    return v if v.dtype.kind == "O" else v.astype(object)


def _reason_codes(reason: Any, n: int, name: str = "reason") -> tuple[np.ndarray, list[str]]:
    """One reason for all rows (a string) or one per row: int32 codes and their names."""
    if isinstance(reason, str):
        return np.zeros(n, dtype=np.int32), [reason]
    v = _texts(reason)
    if len(v) != n:
        raise ValueError(f"column '{name}' has {len(v)} rows but there are {n} ids or keys")
    for i, x in enumerate(v):
        if not isinstance(x, str):
            shown = "missing" if x is None or (isinstance(x, float) and x != x) else repr(x)
            raise ValueError(f"column '{name}', row {i}: value {shown} is not a reason; every suppression needs "
                             "a reason name")
    uniques, inverse = np.unique(v.astype(str), return_inverse=True) if n else (np.array([], dtype=str),
                                                                                 np.zeros(0, dtype=np.int64))
    return inverse.reshape(-1).astype(np.int32), [str(u) for u in uniques]


def _per_value(codes: np.ndarray, text: Any) -> np.ndarray:
    """``text(code)`` for every element, computed once per distinct code."""
    uniques, inverse = np.unique(codes, return_inverse=True)
    texts = np.empty(len(uniques), dtype=object)
    texts[:] = [text(int(u)) for u in uniques]
    return texts[inverse.reshape(-1)]


class SuppressionCheck(Table):
    """Result of :meth:`SuppressionList.check`, one row per checked row.

    Columns: ``suppressed`` (the row must not be delivered), ``reasons`` (``"; "``-joined
    reason names in alphabetical order, empty when not suppressed) and ``matched_by`` (``"id"``
    and/or the key kinds that matched). Attributes: ``suppressed``, ``reasons``, ``matched_by`` (arrays),
    ``count`` (suppressed rows) and ``reason_mask`` (bit r set when reason r of the list's
    core applies).
    """

    definition = ("A row is suppressed when its id equals a suppressed id (exact value) or one of its keys, "
                  "normalised (trimmed, ASCII lower-case; e-mail domains cut after the last '@'), equals a "
                  "suppressed key of that kind; reasons = the union of the reasons of every match.")

    def __init__(self, raw: Mapping[str, Any], lst: SuppressionList, kinds: list[str], *,
                 inputs: dict[str, Any], options: dict[str, Any]):
        reason_mask = np.asarray(raw["reasons"], dtype=np.uint64)
        matched = np.asarray(raw["matched_by"], dtype=np.uint32)
        names = ["id", *kinds]
        reasons = _per_value(reason_mask, lambda m: "; ".join(lst._reason_names(m)) if m else "")
        matched_by = _per_value(matched, lambda b: ", ".join(nm for j, nm in enumerate(names) if b >> j & 1))
        cols = {"suppressed": np.asarray(raw["suppressed"]).astype(bool), "reasons": reasons, "matched_by": matched_by}
        super().__init__(cols, inputs=inputs, options=options)
        #: Number of suppressed rows.
        self.count = int(raw["count"])
        #: Per row, bit r set when reason r (in the list's core order) applies.
        self.reason_mask = reason_mask

    @property
    def suppressed(self) -> np.ndarray:
        """Per row: True when it must not be delivered."""
        return self.column("suppressed")

    @property
    def reasons(self) -> np.ndarray:
        """Per row: the reasons, ``"; "``-joined ("" when not suppressed)."""
        return self.column("reasons")

    @property
    def matched_by(self) -> np.ndarray:
        """Per row: what matched (``"id"``, key kinds), comma-separated."""
        return self.column("matched_by")

    def __repr__(self) -> str:
        return f"SuppressionCheck({self.count:,} of {len(self):,} rows suppressed)"


class SuppressionList(Mergeable):
    """Disqualified entities by id and by normalised key, each with the set of reasons it was
    suppressed for.

    The table view lists the contents, one row per id or key: ``kind`` (``"id"`` or the key
    kind), ``id`` (integer ids), ``key`` (text ids and normalised keys) and ``reasons``.
    Mergeable (``a + b`` is the union, whatever the order), comparable, picklable; ``to_bytes()``
    holds every id, key and reason in the core's versioned format, and :meth:`from_bytes` also
    reads the core's own bytes (e.g. ``tests/data/suppression_list_v1.bin``).
    """

    definition = ("Entities that must never be handed to sales again, by id (exact value) and by normalised key "
                  "(trimmed, ASCII lower-case; e-mail addresses cut to their domain), each with the union of the "
                  "reasons it was added with; merging is the union.")
    _state_class = _core.SuppressionList

    def __init__(self, _state: Any = None):
        super().__init__()
        self._state = _state if _state is not None else _core.SuppressionList()

    # -- state contract ----------------------------------------------------------------------
    def _labels(self) -> dict[str, Any]:
        return {"text_ids": "exact"}

    @classmethod
    def _from_state(cls, state: Any, labels: dict[str, Any]) -> SuppressionList:
        if labels.get("text_ids", "exact") != "exact":
            raise ValueError(f"SuppressionList bytes with text ids {labels.get('text_ids')!r} are not supported")
        return cls(state)

    @classmethod
    def from_bytes(cls, data: bytes) -> SuppressionList:
        """Rebuilds a list from :meth:`to_bytes`, or from the core's own serialised bytes
        (``FKSP`` magic, e.g. a C++ program's ``suppression_list::serialize()``)."""
        data = bytes(data)
        if data[:4] == _RAW_MAGIC:
            return cls(cls._state_from_bytes(data))
        return super().from_bytes(data)

    def _changed(self) -> SuppressionList:
        self._invalidate()  # the table view is rebuilt on next use
        return self

    # -- adding --------------------------------------------------------------------------------
    def add_ids(self, ids: Any, reason: Any) -> SuppressionList:
        """Adds entity ids with one reason for all (a string) or one reason per id. Ids are
        integers or text (strings, UUIDs as text), matched by value; returns self."""
        ints, texts = _id_column(ids, "id")
        n = len(ints) if ints is not None else len(texts)  # type: ignore[arg-type]
        codes, names = _reason_codes(reason, n)
        if ints is not None:
            self._state.add_ids(ints, codes, names)
        else:
            self._state.add_text_ids(texts, codes, names)
        return self._changed()

    def add_keys(self, kind: str, keys: Any, reason: Any, *, transform: str = "normalise") -> SuppressionList:
        """Adds keys of a kind (e.g. ``"email_domain"``, ``"company"``) with one reason or one
        per key; ``transform="email_domain"`` accepts full e-mail addresses. A key empty after
        normalisation is an error naming its row. Returns self."""
        transform = _names.choice(transform, TRANSFORMS, "transform")
        values = _texts(keys)
        codes, names = _reason_codes(reason, len(values))
        self._state.add_keys(str(kind), values, transform, codes, names)
        return self._changed()

    def add_disqualified(self, data: Any, *, model: StageModel | None = None, entity: str = "entity",
                         stage: str = "stage", reason: str | None = "reason",
                         reason_labels: Sequence[str] | None = None) -> SuppressionList:
        """Adds every entity with a record of a disqualified-kind stage of ``model`` (default
        :meth:`StageModel.b2b`), with that record's reason (``"disqualified"`` when missing).

        ``data`` holds stage-change records (any input format); ``stage`` holds stage names or
        codes; ``reason`` holds labels, or integer codes into ``reason_labels`` (-1: none).
        Columns of different lengths, unknown stage names or codes (e.g. -1) and reason codes
        outside the labels are errors naming the column, the row and the value. Returns self.
        """
        model = model or StageModel.b2b()
        table = _frames.as_table(data)
        ints, texts = _id_column(_frames.column(table, entity, "entity"), entity)
        stg = _frames.stage_codes(_frames.column(table, stage, "stage"), model.names, stage)
        codes = None
        names: list[str] = []
        if reason is not None:
            raw = _frames._values(_frames.column(table, reason, "reason"))
            if raw.dtype.kind in "iuf":
                if reason_labels is None:
                    raise TypeError(f"column '{reason}' holds reason codes: pass reason_labels= (code -> name)")
                codes = _frames.int32_codes(np.where(np.isnan(raw), -1, raw) if raw.dtype.kind == "f" else raw, reason)
                names = [str(x) for x in reason_labels]
            else:
                obj = raw if raw.dtype.kind == "O" else raw.astype(object)
                missing = np.fromiter((x is None or (isinstance(x, float) and x != x) for x in obj), dtype=bool,
                                      count=len(obj))
                uniques, inverse = np.unique(obj[~missing].astype(str), return_inverse=True)
                codes = np.full(len(obj), -1, dtype=np.int32)
                codes[~missing] = inverse.reshape(-1)
                names = [str(u) for u in uniques]
        try:
            self._state.add_disqualified(model._m, ints, texts, stg, codes, names)
        except ValueError as exc:
            from .conversion import _rename

            raise ValueError(_rename(str(exc), entity=entity, stage=stage, reason=reason)) from None
        return self._changed()

    # -- checking ------------------------------------------------------------------------------
    def check(self, batch: Any = None, *, id: str | None = None,
              keys: Mapping[str, str | tuple[str, str]] | None = None) -> SuppressionCheck:
        """Checks a batch of leads (any input format): ``id`` names the id column, ``keys`` maps
        a key kind to a column name or ``(column, transform)``, e.g. ``{"email_domain":
        ("email", "email_domain")}``. Returns which rows must not be delivered and why; a
        missing key never matches."""
        table = _frames.as_table(batch) if batch is not None else None
        ints = texts = None
        if id is not None:
            ints, texts = _id_column(_frames.column(table, id, "id"), id)
        cols = []
        kinds = []
        for kind, spec in (keys or {}).items():
            name, tf = (spec, "normalise") if isinstance(spec, str) else spec
            tf = _names.choice(tf, TRANSFORMS, f"keys[{kind!r}]")
            cols.append((str(kind), _texts(_frames.column(table, name, "keys")), tf))
            kinds.append(str(kind))
        if id is None and not cols:
            raise ValueError("option 'id'/'keys': name an id column or at least one key column to check")
        raw = self._state.check(ints, texts, cols)
        inputs = {"rows": int(len(raw["suppressed"])), "ids": self.n_ids, "keys": self.n_keys}
        options = {"id": id, "keys": {k: (v if isinstance(v, str) else list(v)) for k, v in (keys or {}).items()}}
        return SuppressionCheck(raw, self, kinds, inputs=inputs, options=options)

    # -- contents ------------------------------------------------------------------------------
    @property
    def reasons(self) -> list[str]:
        """Reason names, in order of first use."""
        return list(self._state.reasons)

    @property
    def n_ids(self) -> int:
        """Number of suppressed ids (integer and text)."""
        return int(self._state.n_ids)

    @property
    def n_keys(self) -> int:
        """Number of suppressed keys, all kinds together."""
        return int(self._state.n_keys)

    @property
    def kinds(self) -> list[str]:
        """Key kinds held, sorted."""
        return list(self._state.kinds)

    def id_reasons(self, id: Any) -> list[str]:
        """Reasons an id (integer or text) is suppressed for, sorted; empty when it is not."""
        if isinstance(id, (int, np.integer)) and not isinstance(id, bool):
            m = self._state.id_reasons(int(id))
        elif isinstance(id, str):
            m = self._state.text_id_reasons(id)
        else:
            raise TypeError(f"an id is an integer or a string, got {type(id).__name__}")
        return self._reason_names(m)

    def key_reasons(self, kind: str, key: str, *, transform: str = "normalise") -> list[str]:
        """Reasons a key of a kind is suppressed for (after normalisation), sorted; empty when not."""
        return self._reason_names(self._state.key_reasons(kind, key, _names.choice(transform, TRANSFORMS, "transform")))

    def _reason_names(self, mask: int) -> list[str]:
        """The names of a reason set, sorted (the same text whatever order reasons were added in)."""
        names = self._state.reasons
        return sorted(names[b] for b in range(len(names)) if mask >> b & 1)

    def _columns(self) -> dict[str, Any]:
        e = self._state.entries()
        return {"kind": list(e["kind"]), "id": list(e["id"]), "key": list(e["key"]), "reasons": list(e["reasons"])}

    def __len__(self) -> int:
        return self.n_ids + self.n_keys

    def __repr__(self) -> str:
        return (f"SuppressionList({self.n_ids:,} ids, {self.n_keys:,} keys of kinds {self.kinds}, "
                f"reasons {self.reasons})")
