"""Service level agreements between marketing and sales, evaluated as of a point in time.

Response SLAs ("follow up every MQL within 24 hours", "3 touches within 7 days"): an item
starts its clock at ``created``; its deadline is created + ``limit`` (inclusive). Met: the
touches-th touch at or before the deadline. Breached: later, or still missing after the
deadline. Pending: still missing while the deadline has not passed; pending items are not
breaches, so compliance = met / (met + breached).

Volume SLAs ("100 leads per rep per month", "20 contacts per rep per week"): per calendar
period and rep, delivered vs committed, pacing (delivered / the commitment pro-rated to
``as_of``) and a linear forecast for the period end; finished periods are met or breached.

Times: the items' (or events') time column sets the axis of the call: integer times are ticks
of ``time_unit`` (seconds by default); durations (``limit``, ``unit``) are timedeltas or
strings such as ``"24h"``; ``as_of`` is a datetime or an ISO string (ticks for integer
columns). Times in the results are datetimes when the input had datetimes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from . import _core, _frames, _names
from ._result import Explanation, Table
from ._time import TimeAxis
from ._result import shown as _shown
from .velocity import (MISSING, OVERALL, _core_explanation, _labels_of, _period_spec, _periods, _plain_table,
                       _time_value, _unit, _warn_renamed)

__all__ = ["sla_response", "ResponseSLA", "sla_volume", "VolumeSLA"]

_STATUS = np.array(["met", "breached", "pending", "not_started"], dtype=object)


class ResponseSLA(Table):
    """Result of :func:`sla_response`: compliance per group, the overall row first, then one per
    rep, team and segment label.

    Columns: ``by`` (``all``, ``rep``, ``team`` or ``segment``), ``group`` (the label;
    ``"(all)"`` overall), ``met``, ``breached``, ``pending``, ``not_started``,
    ``breached_untouched`` (breaches still without the touches), ``compliance`` (met / (met +
    breached); null while nothing is decided), ``mean_over`` and ``max_over`` (time over the
    deadline among the breaches, in ``unit``s).

    ``status`` holds the status of every input row; ``items()`` and ``breaches()`` are tables.
    """

    definition = ("Compliance of a response SLA = met / (met + breached): an item is met when its k-th touch comes "
                  "at or before created + limit (inclusive), breached when it comes later or is still missing after "
                  "the deadline, pending while missing before the deadline (not a breach), not_started when created "
                  "after as_of; touches after as_of are ignored.")

    def __init__(self, raw: Mapping[str, Any], labels: Mapping[str, list[Any]], columns: Mapping[str, str | None],
                 axis: TimeAxis, created: np.ndarray, entity: np.ndarray | None, *, unit_name: str,
                 inputs: Mapping[str, Any], options: Mapping[str, Any]):
        g = raw["groups"]
        by = [str(b) for b in g["by"]]
        codes = np.asarray(g["code"])
        group = [OVERALL if b == "all" else labels[b][c] for b, c in zip(by, codes)]
        cols: dict[str, Any] = {"by": by, "group": np.array(group, dtype=object)}
        for k in ("met", "breached", "pending", "not_started", "breached_untouched", "compliance", "mean_over",
                  "max_over"):
            cols[k] = np.asarray(g[k])
        plural = unit_name + "s" if unit_name.isalpha() else unit_name
        super().__init__(cols, inputs=inputs, options=options, units={"mean_over": plural, "max_over": plural})
        self._raw = raw
        self._labels = dict(labels)
        self._group_columns = dict(columns)
        self._axis = axis
        self._created = created
        self._entity = entity
        self._unit_name = plural
        #: The status of every input row: "met", "breached", "pending" or "not_started".
        self.status: np.ndarray = _STATUS[np.asarray(raw["status"], dtype=np.int64)]

    @property
    def compliance(self) -> float:
        """Overall met / (met + breached); NaN while nothing is decided."""
        return float(self._table()["compliance"][0])

    def _labelled(self, cols: dict[str, Any], rows: np.ndarray, codes: Mapping[str, np.ndarray]) -> dict[str, Any]:
        if self._entity is not None:
            cols["entity"] = self._entity[rows]
        for key in ("rep", "team", "segment"):
            if self._labels.get(key):
                name = self._group_columns[key] or key
                cols[name] = np.array(self._labels[key], dtype=object)[np.asarray(codes[key])]
        return cols

    def breaches(self) -> Table:
        """One row per breach, in row order: ``row`` (of the input), the ``entity`` id (with
        ``entity=``), the rep/team/segment labels, ``created``, ``deadline``, ``over`` (time
        over the deadline: a timedelta for datetime input, else ticks), ``over_<unit>s`` (the
        same in display units) and ``touched`` (False: still untouched)."""
        b = self._raw["breaches"]
        rows = np.asarray(b["row"], dtype=np.int64)
        cols: dict[str, Any] = {"row": rows}
        cols = self._labelled(cols, rows, b)
        over = f"over_{self._unit_name}"
        cols.update({"created": self._axis.datetimes(b["created"]), "deadline": self._axis.datetimes(b["deadline"]),
                     "over": self._axis.timedeltas(np.asarray(b["over"], dtype=np.int64)),
                     over: np.asarray(b["over_display"]), "touched": np.asarray(b["touched"]).astype(bool)})
        units = {over: self._unit_name}
        if not self._axis.is_datetime:
            units["over"] = self._axis.unit_name
        return Table(cols, name="SLABreaches", definition="The breaches of a response SLA: items whose k-th touch came "
                     "after the deadline, or that were still untouched after it; over = touch (or as_of) - deadline.",
                     inputs=self._inputs, options=self._options, units=units)

    def items(self) -> Table:
        """One row per input item: ``row``, the ``entity`` id (with ``entity=``), the group
        labels, ``created`` and ``status``."""
        rows = np.arange(len(self.status), dtype=np.int64)
        codes = {k: c for k, c in self._raw.get("codes", {}).items()}
        cols = self._labelled({"row": rows}, rows, codes)
        cols.update({"created": self._axis.datetimes(self._created), "status": self.status})
        return Table(cols, name="SLAItems", definition="The status of every item of a response SLA as of as_of: met, "
                     "breached, pending (untouched inside the limit) or not_started (created after as_of).",
                     inputs=self._inputs, options=self._options)

    def explain(self) -> Explanation:
        """The definition, the core's commitment (limit, touches, as_of), counts and options."""
        return _core_explanation(self._raw["explanation"], "ResponseSLA", definition=self.definition,
                                 inputs=self._inputs, options=self._options)

    def __repr__(self) -> str:
        c = self._table()
        comp = c["compliance"][0]
        ctxt = f"{comp:.1%}" if np.isfinite(comp) else "undefined"
        return (f"ResponseSLA(compliance {ctxt}: met {c['met'][0]:,}, breached {c['breached'][0]:,} "
                f"({c['breached_untouched'][0]:,} untouched), pending {c['pending'][0]:,}; "
                f"max over {c['max_over'][0]:,.1f} {self._unit_name})")


def sla_response(
    data: Any,
    *,
    created: str,
    limit: Any,
    as_of: Any,
    first_touch: str | None = None,
    touches: int = 1,
    touch_data: Any = None,
    entity: str | None = None,
    touch_item: str = "item",
    touch_time: str = "time",
    rep: str | None = None,
    team: str | None = None,
    segment: str | None = None,
    name: str = "response time",
    team_name: str = "sales",
    unit: Any = "hour",
    time_unit: str | None = None,
    display_unit: Any = None,
) -> ResponseSLA:
    """Compliance with a response SLA ("follow up every MQL within 24 hours"; with
    ``touches=3``, "3 touches within the limit") as of ``as_of``.

    Parameters
    ----------
    data:
        One row per item (lead, MQL) whose clock starts at the ``created`` column.
    limit:
        The SLA's limit: a duration such as ``"24h"`` or ``datetime.timedelta(hours=24)`` (a bare
        number only for integer time columns: ticks). The deadline created + limit is inclusive.
    as_of:
        Evaluation time (a datetime or ISO string; ticks for integer columns): touches after it
        are ignored, items created after it are ``not_started``.
    first_touch:
        Column of each item's first touch (missing: untouched), for ``touches=1``.
    touches, touch_data, touch_item, touch_time:
        ``touches`` touches needed; with ``touch_data``, one row per touch: ``touch_time``
        and ``touch_item``, the row number of the item in ``data``; with ``entity=``, the item's
        id instead, in the ``touch_item`` column or else in a column named like ``entity``.
    entity:
        Column of item ids in ``data``: touches are matched by id, and breaches list the ids.
    rep, team, segment:
        Optional grouping columns: compliance per label beside the overall row.
    name, team_name:
        The commitment's name and the team that owes it.
    unit:
        Display unit of ``mean_over``/``max_over``: ``"hour"`` (default), ``"minute"``,
        ``"day"``..., or a duration.
    time_unit:
        What integer times count (``"s"`` default, ``"ms"``, ``"us"``, ``"ns"``).
    display_unit:
        Deprecated name of ``unit``.
    """
    if display_unit is not None:
        _warn_renamed("display_unit", "unit", "sla_response()")
        unit = display_unit
    if isinstance(touches, bool) or not isinstance(touches, (int, np.integer)) or touches < 1:
        raise ValueError(f"option 'touches': value {touches!r} must be an integer >= 1")
    if touches > 1 and touch_data is None:
        raise ValueError(f"option 'touches': {touches} touches need the touch events (touch_data=)")
    data = _plain_table(data)
    cr, axis = _frames.time_axis(_frames.column(data, created, "created"), created, time_unit)
    ft = _frames.times_on_axis(_frames.column(data, first_touch, "first_touch"), axis, first_touch,
                               missing=MISSING) if first_touch else None
    labels: dict[str, list[Any]] = {}
    codes: dict[str, Any] = {}
    for key, col in (("rep", rep), ("team", team), ("segment", segment)):
        codes[key], labels[key] = _labels_of(data, col, key)
    ids = None
    if entity is not None:
        ids, id_labels = _frames.entity_ids(_frames.column(data, entity, "entity"), entity)
        if len(np.unique(ids)) != len(ids):
            raise ValueError(f"column '{entity}': item ids must be unique to match touches to items")
    ti = tt = None
    if touch_data is not None:
        touch_data = _plain_table(touch_data)
        tt = _frames.times_on_axis(_frames.column(touch_data, touch_time, "touch_time"), axis, touch_time)
        raw_items = _frames.column(touch_data, touch_item if entity is None or _frames.has_column(touch_data, touch_item)
                                   else entity, "touch_item")
        if entity is None:
            ti = _frames.entity_codes(raw_items, touch_item)
        else:
            ti = _match_ids(raw_items, _frames.column(data, entity, "entity"), touch_item, entity)
    unit_ticks, unit_name = _unit(unit, axis)
    limit_ticks = axis.duration(limit, "limit")
    as_of_ticks = axis.timestamp(as_of, "as_of")
    commitment = _core.SlaCommitment(name=str(name), team=str(team_name), kind="response", limit=int(limit_ticks),
                                     touches=int(touches), unit_name=unit_name, display_unit=float(unit_ticks))
    raw = dict(_core.sla_response(commitment, cr, int(as_of_ticks), first_touch=ft, rep=codes["rep"],
                                  team=codes["team"], segment=codes["segment"], touch_item=ti, touch_time=tt))
    raw["codes"] = {k: v for k, v in codes.items() if v is not None}
    options = {"limit": _shown(limit), "limit_ticks": int(limit_ticks), "touches": int(touches),
               "as_of": _time_value(axis.datetimes(np.array([as_of_ticks]))[0]), "unit": unit_name, "name": str(name),
               "team": str(team_name), "time_unit": axis.unit, "time_is_datetime": axis.is_datetime}
    inputs = {"items": int(len(cr)), "touches": None if tt is None else int(len(tt)),
              "columns": {"created": created, "first_touch": first_touch, "entity": entity, "rep": rep,
                          "team": team, "segment": segment}}
    entity_labels = None
    if entity is not None:
        entity_labels = id_labels if id_labels is not None else ids
    return ResponseSLA(raw, labels, {"rep": rep, "team": team, "segment": segment}, axis, cr, entity_labels,
                       unit_name=unit_name, inputs=inputs, options=options)


def _match_ids(touch_ids: Any, item_ids: Any, touch_col: str, item_col: str) -> np.ndarray:
    """Row numbers of the items whose id each touch names; an unknown id is an error."""
    items = np.asarray(item_ids)
    touches = np.asarray(touch_ids)
    try:
        order = np.argsort(items, kind="stable")
        pos = np.searchsorted(items[order], touches)
    except TypeError:
        raise TypeError(f"column '{touch_col}': touch ids are not comparable with the ids of column '{item_col}'") \
            from None
    pos = np.minimum(pos, max(len(items) - 1, 0))
    found = (items[order][pos] == touches) if len(items) else np.zeros(len(touches), dtype=bool)
    if not np.all(found):
        row = int(np.flatnonzero(~found)[0])
        raise ValueError(f"column '{touch_col}', row {row}: id {touches[row]!r} is not an item of column '{item_col}'")
    return order[pos].astype(np.int64)


class VolumeSLA(Table):
    """Result of :func:`sla_volume`: per period, the team total (rep ``"(all)"``) then each rep.

    Columns: ``period_start``, ``period_end`` (datetimes for datetime input), the rep column,
    ``committed``, ``delivered``, ``elapsed`` (share of the period elapsed at ``as_of``),
    ``expected_to_date`` (committed * elapsed), ``pacing`` (delivered / expected; null before
    the period starts), ``forecast`` (delivered / elapsed), ``shortfall``, ``on_track`` and
    ``status`` (met / breached for finished periods, pending while running, not_started).
    """

    definition = ("A volume SLA per period and rep: delivered = events in [start, min(end, as_of)); committed = the "
                  "target per rep (the team row: target * reps); a finished period is met when delivered >= "
                  "committed, else breached; a running one is pending, with pacing = delivered / (committed * "
                  "elapsed share) and forecast = delivered / elapsed share.")

    def __init__(self, raw: Mapping[str, Any], axis: TimeAxis, rep_labels: list[Any], rep_name: str, *,
                 inputs: Mapping[str, Any], options: Mapping[str, Any]):
        reps = np.array([OVERALL, *rep_labels], dtype=object)
        cols: dict[str, Any] = {"period_start": axis.datetimes(raw["start"]), "period_end": axis.datetimes(raw["end"]),
                                rep_name: reps[np.asarray(raw["rep"]) + 1]}
        for k in ("committed", "delivered", "elapsed", "expected_to_date", "pacing", "forecast", "shortfall"):
            cols[k] = np.asarray(raw[k])
        cols["on_track"] = np.asarray(raw["on_track"]).astype(bool)
        cols["status"] = np.array(raw["status"], dtype=object)
        super().__init__(cols, inputs=inputs, options=options)
        self._core = raw["explanation"]

    def breaches(self) -> Table:
        """The rows (reps and team totals) of finished periods short of the commitment."""
        cols = self._table()
        keep = np.asarray(cols["status"]) == "breached"
        return Table({k: np.asarray(v)[keep] for k, v in cols.items()}, name="VolumeSLABreaches",
                     definition="The rows of finished periods where delivered < committed.", inputs=self._inputs,
                     options=self._options)

    def explain(self) -> Explanation:
        """The definition, the core's commitment, counts and options."""
        return _core_explanation(self._core, "VolumeSLA", definition=self.definition, inputs=self._inputs,
                                 options=self._options)

    def __repr__(self) -> str:
        c = self._table()
        s = np.asarray(c["status"])
        return (f"VolumeSLA({len(self)} rows: {int((s == 'met').sum())} met, {int((s == 'breached').sum())} breached, "
                f"{int((s == 'pending').sum())} running, {int((~np.asarray(c['on_track'])).sum())} off track)")


def sla_volume(
    data: Any,
    *,
    time: str,
    rep: str,
    target: float,
    as_of: Any,
    period: str | None = None,
    edges: Sequence[Any] | None = None,
    tz: Any = "UTC",
    reps: Sequence[Any] | None = None,
    name: str = "volume",
    team_name: str = "marketing",
    time_unit: str | None = None,
    periods: Any = None,
) -> VolumeSLA:
    """A volume SLA ("100 leads per rep per month", "20 contacts per rep per week").

    Parameters
    ----------
    data:
        One row per delivered event (a lead handed over, a contact made) at ``time`` for ``rep``.
    target:
        Events per rep per period.
    as_of:
        Evaluation time (a datetime or ISO string; ticks for integer columns); events at or
        after it are not counted.
    period, tz:
        Calendar periods covering the events: ``"day"``, ``"week"`` (ISO, from Monday),
        ``"month"``, ``"quarter"``, ``"year"``, in the time zone ``tz``.
    edges:
        Instead of ``period``: explicit boundaries, or (start, end) pairs.
    reps:
        Every rep the commitment covers (default: the reps present), so that reps with nothing
        delivered appear too; a rep in the data but not in ``reps`` is an error.
    name, team_name:
        The commitment's name and the team that owes it.
    time_unit:
        What integer times count (``"s"`` default, ``"ms"``, ``"us"``, ``"ns"``).
    periods:
        Deprecated: a period word (now ``period=``) or boundaries (now ``edges=``).
    """
    period, edges = _period_spec(period, edges, periods, "sla_volume()")
    data = _plain_table(data)
    tm, axis = _frames.time_axis(_frames.column(data, time, "time"), time, time_unit)
    raw_rep = _frames.column(data, rep, "rep")
    if reps is not None:
        present = np.unique(np.asarray(_frames._values(raw_rep), dtype=object).astype(str)) if len(tm) else []
        listed = [str(r) for r in reps]
        extra = [p for p in present if p not in listed]
        if extra:
            raise ValueError(_names.unknown("rep", str(extra[0]), listed, where=f"column '{rep}'")
                             + "; add it to reps= or leave reps= out")
    codes, labels = _frames.category_codes(raw_rep, rep, categories=reps)
    if not labels:
        raise ValueError("option 'reps': no reps to evaluate")
    span = (int(tm.min()), int(tm.max())) if len(tm) else None
    starts, ends, period_opts = _periods(axis, period, edges, tz, span, "sla_volume()")
    as_of_ticks = axis.timestamp(as_of, "as_of")
    commitment = _core.SlaCommitment(name=str(name), team=str(team_name), kind="volume", target=float(target))
    raw = _core.sla_volume(commitment, tm, codes, starts, ends, int(as_of_ticks), reps=len(labels))
    options = {**period_opts, "target": float(target), "as_of": _time_value(axis.datetimes(np.array([as_of_ticks]))[0]),
               "reps": list(labels), "name": str(name), "team": str(team_name), "time_unit": axis.unit,
               "time_is_datetime": axis.is_datetime}
    inputs = {"events": int(len(tm)), "periods": int(len(starts)), "columns": {"time": time, "rep": rep}}
    return VolumeSLA(raw, axis, list(labels), rep, inputs=inputs, options=options)
