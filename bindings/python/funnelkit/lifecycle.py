"""Lifecycle analytics over CRM stage histories.

:func:`lifecycle` builds per-entity stage histories from stage-change records (any row order;
ties at equal times are read in ladder order and exact duplicates count once) and returns a
:class:`Lifecycle`, whose methods return :class:`~funnelkit.Table` results:

- ``histories()``: one row per entity (current stage, status, recycles, skipped stages, entry
  times);
- ``conversion()``: reach, step and cumulative rates with confidence intervals, overall, per
  segment and per cohort period (calendar periods in any time zone), with immature cohorts
  flagged or excluded;
- ``transitions()``: the stage-to-stage move matrix, backward moves and recycles included;
- ``exits()`` and ``reasons()``: where entities left the funnel (open, won, lost,
  disqualified) and why (closed-loop feedback);
- ``time_in_stage()`` and ``time_to_convert()``: count, mean, median, p90, min, max of
  completed durations, the Kaplan-Meier median that counts open entities as censored, and for
  conversions the Aalen-Johansen probability of converting versus leaving otherwise;
- ``stuck()``: open entities that have been in their stage longer than a fixed limit or a
  percentile of history;
- ``summary()``: the mergeable :class:`LifecycleSummary` (reach, flow and time in stage).

Time, one way: ``as_of`` is a datetime or an ISO string (a bare integer only for integer time
columns, in their ticks); ``maturity`` and the ``stuck`` limits are durations (``"90d"``,
``datetime.timedelta``, ...; bare numbers only for integer time columns, in their ticks);
periods are ``"day"``, ``"week"`` (ISO, Monday), ``"month"``, ``"quarter"``, ``"year"`` in the
time zone ``tz``. Durations in results are in days (float, the unit in the Table's ``units``),
as the metrics are defined in days; times come back as datetimes when the input times were
datetimes (read at nanosecond resolution whatever the input's unit), and as integers in the
input unit otherwise. Every number comes from the compiled core
(``include/funnelkit/lifecycle.hpp``, ``rates.hpp``, ``survival.hpp``, ``accumulators.hpp``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from . import _core, _frames, _names, _time
from ._result import Mergeable, Table
from ._time import TimeAxis
from .accumulators import DurationSummary
from .conversion import OVERALL, ConversionTable, _rename
from .model import StageModel
from .rates import check_confidence, check_interval, interval_definition, renamed

__all__ = ["Lifecycle", "LifecycleSummary", "lifecycle"]

_NEVER = int(np.iinfo(np.int64).min)
_BY = ("segment", "cohort")
_SKIPPED = ("implied", "recorded")
_PASSES = ("first", "every")
_DURATION_STATS = ("mean", "median", "p90", "min", "max")
_DAYS = "days"

_REACH_TEXT = ("An entity reached a ladder stage when it has a record of that stage (with skipped='implied', also "
               "when it has a record of a later ladder stage; with passes='every', each pass of a recycled entity "
               "counts as one entry).")


class Lifecycle:
    """Stage histories of a set of entities and the metrics computed from them. Build it with
    :func:`lifecycle`; every method returns a :class:`~funnelkit.Table` (or, for
    :meth:`summary`, a mergeable :class:`LifecycleSummary`)."""

    def __init__(self, histories: Any, model: StageModel, *, axis: TimeAxis, segment_name: str | None,
                 segments: list[Any], reasons: list[Any] | None, ids: np.ndarray | None,
                 inputs: dict[str, Any] | None = None):
        self._h = histories
        #: The stage model.
        self.model = model
        #: Name of the segment column, or None.
        self.segment_name = segment_name
        #: Segment labels (codes index them).
        self.segments = list(segments)
        #: Reason labels, or None without a reason column.
        self.reason_labels = reasons
        self._ids = ids
        self._axis = axis
        self._inputs = dict(inputs or {})
        self._per_entity: dict[str, np.ndarray] | None = None
        self._as_of_given = True  # lifecycle() clears it when as_of came from the records alone

    # -- helpers ---------------------------------------------------------------------------
    @property
    def stages(self) -> list[str]:
        """Ladder stage names, in funnel order."""
        return self.model.ladder

    @property
    def time_axis(self) -> TimeAxis:
        """The time column: its name, unit and whether it held datetimes."""
        return self._axis

    @property
    def as_of(self) -> np.datetime64 | np.int64 | None:
        """The observation end (open entities are censored here): a ``numpy.datetime64`` for
        datetime input, else ticks of the time column; None when there were no records and no
        ``as_of`` was given (there is no observation end to report)."""
        if self._inputs.get("rows") == 0 and not self._as_of_given:
            return None
        return self._axis.datetimes(np.array([self._h.as_of], dtype=np.int64))[0]

    def __len__(self) -> int:
        return int(self._h.size)

    @property
    def _per_day(self) -> float:
        return float(self._axis.ticks_per_second) * 86_400.0

    def _arrays(self) -> dict[str, np.ndarray]:
        if self._per_entity is None:
            self._per_entity = dict(self._h.summary())
        return self._per_entity

    def _entity_labels(self, codes: np.ndarray) -> np.ndarray:
        return codes if self._ids is None else self._ids[codes]

    def _rank(self, stage: Any, option: str) -> int:
        if isinstance(stage, (int, np.integer)) and not isinstance(stage, (bool, np.bool_)):
            if not 0 <= int(stage) < len(self.stages):
                raise ValueError(f"option '{option}': stage {stage!r} is not a ladder position "
                                 f"(0..{len(self.stages) - 1})")
            return int(stage)
        if stage not in self.stages:
            raise ValueError(_names.unknown("stage", stage, self.stages, where=f"option '{option}'"))
        return self.stages.index(stage)

    def _segment_key(self) -> str:
        return self.segment_name or "segment"

    def _need_segments(self, option: str) -> None:
        if self.segment_name is None:
            raise ValueError(f"option '{option}' needs a segment column (lifecycle(..., segment=...))")

    def _in_days(self, cols: dict[str, Any], names: Sequence[str]) -> dict[str, Any]:
        """Duration columns from ticks of the time column to days (unit conversion only)."""
        return {k: np.asarray(v, dtype=np.float64) / self._per_day if k in names else v for k, v in cols.items()}

    def _table_options(self, by_segment: bool, confidence: float = 0.95) -> Any:
        """The core's options of the per-segment tables: rows for every segment label."""
        if by_segment:
            self._need_segments("by_segment")
        return _core.LifecycleTableOptions(by_segment=by_segment, n_segments=len(self.segments),
                                           confidence=confidence)

    def _labelled(self, core: Mapping[str, np.ndarray], by_segment: bool, *, stage: str | None = "stage",
                  drop: Sequence[str] = ()) -> dict[str, Any]:
        """A core table's columns with names instead of codes: the segment label (``"(all)"``
        for the overall rows) when ``by_segment``, and the stage name of each ladder rank in
        ``stage``; ``drop`` lists core columns left out."""
        cols: dict[str, Any] = {}
        if by_segment:
            labels = np.array([OVERALL, *self.segments], dtype=object)
            cols[self._segment_key()] = labels[np.asarray(core["segment"]) + 1].tolist()
        if stage is not None:
            cols[stage] = [self.stages[k] for k in np.asarray(core["rank"]).tolist()]
        for key, values in core.items():
            if key not in ("segment", "rank", *drop):
                cols[key] = values
        return cols

    def _table(self, cols: dict[str, Any], *, name: str, definition: str, options: dict[str, Any],
               units: dict[str, str] | None = None, categories: dict[str, list[Any]] | None = None) -> Table:
        inputs = dict(self._inputs)
        inputs["as_of"] = self.as_of
        return Table(cols, name=name, definition=definition, inputs=inputs, options=options, units=units,
                     categories=categories)

    # -- per entity -------------------------------------------------------------------------
    def histories(self) -> Table:
        """One row per entity: entity, the segment (if any), current_stage, status (open, won,
        lost, disqualified), since (time of the last move), exit_stage (the stage it was won,
        lost or disqualified from, or is in), recycles (backward moves), skipped (ladder stages
        passed over, comma-separated), reason (if any), and one ``entered_<stage>`` column per
        ladder stage (first recorded entry; null when never). Times are datetimes for datetime
        input, else ticks of the time column."""
        s = self._arrays()
        names = np.array(self.model.names, dtype=object)
        kinds = np.array([k.kind for k in self.model.stages], dtype=object)
        status = kinds[s["current"]]
        status = np.where(status == "step", "open", status)
        ladder = np.array(self.stages + [None], dtype=object)  # exit rank -1: None
        cols: dict[str, Any] = {"entity": self._entity_labels(s["entity"])}
        if self.segment_name is not None:
            cols[self.segment_name] = np.array(self.segments, dtype=object)[s["segment"]] if len(s["segment"]) \
                else np.array([], dtype=object)
        cols["current_stage"] = names[s["current"]]
        cols["status"] = status
        cols["since"] = self._axis.datetimes(s["current_since"])
        cols["exit_stage"] = ladder[s["exit_rank"]]
        cols["recycles"] = np.asarray(s["recycles"], dtype=np.int64)
        cols["skipped"] = [",".join(self.stages[k] for k in range(len(self.stages)) if m >> k & 1)
                           for m in s["skipped"].tolist()]
        if self.reason_labels is not None:
            labels = np.array(list(self.reason_labels) + [None], dtype=object)
            cols["reason"] = labels[s["reason"]]
        entries = self._h.entry_times(False)
        for k, st in enumerate(self.stages):
            cols[f"entered_{st}"] = self._times_or_null(entries[:, k].copy())
        return self._table(cols, name="Histories", options={}, categories={
            "current_stage": self.model.names, "exit_stage": self.stages},
            definition="One row per entity: its last record (current_stage, since; status open while that is "
                       "a step stage), the ladder stage it exited from or is in (exit_stage), backward moves "
                       "(recycles), ladder stages below its highest recorded one without a record (skipped), "
                       "and the first recorded entry time of each ladder stage.")

    def _times_or_null(self, ticks: np.ndarray) -> np.ndarray | list[int | None]:
        """Times for display: datetimes (NaT for never) or ticks (None for never)."""
        if self._axis.is_datetime:
            return self._axis.datetimes(ticks, never=_NEVER)
        return [None if t == _NEVER else t for t in ticks.tolist()]

    # -- conversion -------------------------------------------------------------------------
    def conversion(self, *, by: str | Sequence[str] | None = None, period: str = "month",
                   cohort_stage: str | int | None = None, tz: str | int = "UTC", maturity: Any = None,
                   immature: str = "flag", skipped: str = "implied", passes: str = "first",
                   interval: str = "wilson", confidence: float = 0.95, level: float | None = None) -> Table:
        """Reach and conversion rates (proportions, 0..1) with confidence intervals.

        ``by``: ``None`` (overall), ``"segment"`` (the segment column), ``"cohort"`` (the
        calendar ``period`` - ``"day"``, ``"week"`` (ISO, Monday), ``"month"``, ``"quarter"``,
        ``"year"`` - in which entities reached ``cohort_stage``, default the first stage, in the
        time zone ``tz``: ``"UTC"``, an IANA name or a fixed offset in seconds east of UTC), or
        ``["cohort", "segment"]``. ``maturity`` (a duration such as ``"90d"``; a bare number only
        for integer time columns, in their ticks) marks cohorts whose period ended less than
        that before ``as_of`` as immature: ``immature="flag"`` adds a ``mature`` column,
        ``"exclude"`` drops them. ``skipped`` (``"implied"``/``"recorded"``) and ``passes``
        (``"first"``/``"every"``) choose how skipped stages and recycled entities count.

        Columns: ``cohort`` and ``cohort_end`` (period bounds: datetimes for datetime input),
        ``mature``, the segment, ``stage``, ``owner``, ``entities``, ``reached``,
        ``step_rate``, ``cumulative_rate``, and the intervals (``interval`` = wilson,
        agresti_coull, jeffreys or clopper_pearson, at ``confidence``; ``level=`` is a
        deprecated alias) of the step rate (``step_lower``, ``step_upper``) and of the
        cumulative rate (``cum_lower``, ``cum_upper``), null where the rate is undefined or not a
        proportion (a step rate above 1 with ``skipped="recorded"``).
        """
        confidence = check_confidence(renamed(confidence, level, "confidence", "level", "Lifecycle.conversion()"))
        interval = check_interval(interval)
        keys = [by] if isinstance(by, str) else list(by or [])
        for k in keys:
            _names.choice(k, _BY, "by")
        if "segment" in keys:
            self._need_segments("by")
        immature = _names.choice(immature, ("flag", "exclude"), "immature")
        skipped = _names.choice(skipped, _SKIPPED, "skipped")
        passes = _names.choice(passes, _PASSES, "passes")
        reach = _core.ReachOptions(skipped=skipped, passes=passes)
        period = _time.parse_period(period)
        zone = _time.parse_tz(tz)
        rank = 0 if cohort_stage is None else self._rank(cohort_stage, "cohort_stage")
        maturity_ticks = self._axis.duration(maturity, "maturity", allow_none=True)
        if maturity_ticks is not None and "cohort" not in keys:
            raise ValueError("option 'maturity' applies to cohorts: pass by='cohort' as well")
        n = len(self)
        # Grouping columns: (name, code per entity, number of codes).
        parts: list[tuple[str, np.ndarray, int]] = []
        starts = ends = np.zeros(0, dtype=np.int64)
        if "cohort" in keys:
            codes, starts, ends = self._cohorts(rank, period, zone)
            parts.append(("cohort", codes, len(starts)))
        if "segment" in keys:
            parts.append((self._segment_key(), self._arrays()["segment"], len(self.segments)))
        if not parts:
            counts = self._h.reach(None, reach)
            combos: list[tuple[int, ...]] = [()]
        else:
            # Dense codes over the combinations present (mixed radix, first part most significant).
            combined = np.zeros(n, dtype=np.int64)
            valid = np.ones(n, dtype=bool)
            for _, codes, size in parts:
                combined = combined * max(size, 1) + np.maximum(codes, 0)
                valid &= codes >= 0
            uniq, dense = np.unique(np.where(valid, combined, -1), return_inverse=True)
            dense = dense.astype(np.int32).reshape(-1)
            if len(uniq) and uniq[0] == -1:
                dense -= 1
                uniq = uniq[1:]
            counts = self._h.reach(dense, reach)
            combos = []
            for g in uniq.tolist():
                combo = []
                for _, _, size in reversed(parts):
                    combo.append(g % max(size, 1))
                    g //= max(size, 1)
                combos.append(tuple(reversed(combo)))
        k_stages = len(self.stages)
        owners = self.model.owners
        rows_group = np.repeat(np.arange(len(combos)), k_stages)
        rank_col = np.tile(np.arange(k_stages), len(combos))
        # The core's table: (group, rank) rows with the rates and their intervals; overall rows
        # without grouping columns, the groups' rows with them.
        core = _core.tabulate_reach(counts, _core.ReachTableOptions(
            overall=not parts, groups=bool(parts), confidence=confidence, interval=interval))
        cols: dict[str, Any] = {}
        keep = np.ones(len(rows_group), dtype=bool)
        for j, (name, _, _) in enumerate(parts):
            idx = np.array([combos[i][j] for i in rows_group], dtype=np.int64)
            if name == "cohort":
                cohort_end = ends[idx] if len(idx) else np.zeros(0, np.int64)
                cols["cohort"] = self._axis.datetimes(starts[idx] if len(idx) else np.zeros(0, np.int64))
                cols["cohort_end"] = self._axis.datetimes(cohort_end)
                if maturity_ticks is not None:
                    mature = _core.mature_cohorts(np.ascontiguousarray(cohort_end, dtype=np.int64), maturity_ticks,
                                                  self._h.as_of).astype(bool)
                    if immature == "exclude":
                        keep = mature
                    else:
                        cols["mature"] = mature
            else:
                cols[name] = [self.segments[c] for c in idx.tolist()]
        cols.update({"stage": [self.stages[k] for k in rank_col.tolist()],
                     "owner": [owners[k] for k in rank_col.tolist()]})
        cols.update({k: core[k] for k in ("entities", "reached", "step_rate", "cumulative_rate", "step_lower",
                                          "step_upper", "cum_lower", "cum_upper")})
        if not keep.all():
            cols = {k: (np.asarray(v, dtype=object) if isinstance(v, list) else v)[keep] for k, v in cols.items()}
        cohort_text = ""
        if "cohort" in keys:
            cohort_text = (f" Cohorts: the calendar {period} (in time zone {tz}) in which entities reached "
                           f"{self.stages[rank]}; cohort_end is the period's exclusive end"
                           + ("; a cohort is mature when cohort_end + maturity <= as_of." if maturity_ticks is not None
                              else "."))
        definition = (_REACH_TEXT + " step_rate = reached / reached(previous stage), cumulative_rate = reached / "
                      "reached(first stage), null for a zero denominator. Intervals (step_lower, step_upper, "
                      "cum_lower, cum_upper): " + interval_definition(interval) + cohort_text)
        options = {"by": keys, "period": period if "cohort" in keys else None, "tz": tz,
                   "cohort_stage": self.stages[rank] if "cohort" in keys else None,
                   "maturity": _shown(maturity), "immature": immature if maturity_ticks is not None else None,
                   "skipped": skipped, "passes": passes, "interval": interval, "confidence": confidence}
        return self._table(cols, name="LifecycleConversion", definition=definition, options=options,
                           categories={"stage": self.stages})

    def _cohorts(self, rank: int, period: str, zone: int | str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Cohort code per entity (-1: never reached the stage) and the bounds (ticks) of each
        cohort period. Fixed offsets use the core's calendar; IANA zones (daylight saving
        included) the package's one calendar routine."""
        if isinstance(zone, int):
            c = self._h.cohorts(_core.CohortOptions(stage=rank, period=period,
                                                    ticks_per_second=self._axis.ticks_per_second,
                                                    utc_offset_seconds=zone))
            return (np.asarray(c["code"]), np.asarray(c["start"], dtype=np.int64),
                    np.asarray(c["end"], dtype=np.int64))
        reach = self._h.entry_times(True)[:, rank]
        has = reach != _NEVER
        starts = _time.calendar_floor(reach[has], self._axis, period, zone)
        uniq, inverse = np.unique(starts, return_inverse=True)
        codes = np.full(len(reach), -1, dtype=np.int32)
        codes[has] = inverse.reshape(-1).astype(np.int32)
        return codes, uniq.astype(np.int64), _time.period_end(uniq, self._axis, period, zone)

    # -- flow ---------------------------------------------------------------------------------
    def transitions(self) -> Table:
        """Counts of moves from stage (rows: the ``from`` column) to stage (one column per stage
        name), over all stage codes, backward moves and recycles included."""
        return _transitions_table(self._h.flow().transitions(), self.model, self._table)

    def exits(self, *, by_segment: bool = False) -> Table:
        """Per ladder stage of exit (see :meth:`histories`), overall and with ``by_segment``
        per segment: how many entities are open there or were won, lost or disqualified from
        there (counts), the total, and each outcome's share of the total (0..1, null for no
        entities)."""
        core = _core.tabulate_exits(self._h.flow(), self.model._m, self._table_options(by_segment))
        return self._table(self._labelled(core, by_segment), name="Exits", options={"by_segment": by_segment},
                           categories={"stage": self.stages},
                           definition="Per ladder stage: entities whose exit stage it is (the last step stage "
                                      "before a won, lost or disqualified outcome, or the current stage of an "
                                      "open entity), by outcome; <outcome>_share = count / total.")

    def reasons(self, *, by_segment: bool = False) -> Table:
        """Lost and disqualified exits by stage and reason (and with ``by_segment`` per segment):
        count and share of that stage's lost and disqualified exits (0..1). Needs the
        ``reason`` column."""
        if self.reason_labels is None:
            raise ValueError("reasons() needs a reason column (lifecycle(..., reason=...))")
        core = dict(_core.tabulate_reasons(self._h.flow(), self._table_options(by_segment)))
        labels = np.array(self.reason_labels, dtype=object)
        core["reason"] = labels[np.asarray(core["reason"])].tolist() if len(labels) else []
        return self._table(self._labelled(core, by_segment), name="Reasons", options={"by_segment": by_segment},
                           categories={"stage": self.stages},
                           definition="Lost and disqualified exits per exit stage and reason; share = count / "
                                      "(lost + disqualified exits of that stage).")

    # -- durations ------------------------------------------------------------------------------
    def time_in_stage(self, *, by_segment: bool = False, confidence: float = 0.95,
                      level: float | None = None) -> Table:
        """Time spent in each ladder step stage per visit, in days: visits, completed, open;
        mean, median, p90, min, max of completed visits; km_median (Kaplan-Meier median counting
        open visits as censored; inf when fewer than half have left) with its interval
        km_median_lower, km_median_upper at ``confidence`` (``level=`` is a deprecated alias).
        Overall and, with ``by_segment``, per segment."""
        confidence = check_confidence(renamed(confidence, level, "confidence", "level", "Lifecycle.time_in_stage()"))
        core = self._h.tabulate_time_in_stage(self._table_options(by_segment, confidence))
        days = (*_DURATION_STATS, "km_median", "km_median_lower", "km_median_upper")
        return self._table(self._in_days(self._labelled(core, by_segment), days), name="TimeInStage",
                           options={"by_segment": by_segment, "confidence": confidence},
                           units={k: _DAYS for k in days}, categories={"stage": self.stages},
                           definition="One visit per record of a step stage, lasting until the entity's next record; "
                                      "the last visit of an open entity is censored at as_of. mean, median, p90 "
                                      "(linear interpolation), min, max over completed visits, in days; km_median: "
                                      "the Kaplan-Meier median with open visits censored (infinite when fewer than "
                                      "half have left), with its exponential-Greenwood interval.")

    def time_to_convert(self, from_stage: str | int, to_stage: str | int, *, by_segment: bool = False,
                        confidence: float = 0.95, level: float | None = None) -> Table:
        """Days from reaching ``from_stage`` to reaching ``to_stage`` (stage names or ladder
        positions; skipped stages count as reached). Per group: entered, converted,
        closed_otherwise (lost or disqualified first), open; mean, median, p90, min, max of the
        converted; km_median with its interval at ``confidence`` (open and closed-otherwise
        entities censored; ``level=`` is a deprecated alias); and the Aalen-Johansen cumulative
        incidences p_convert and p_closed_otherwise at the last observed time (won vs lost as
        competing outcomes)."""
        confidence = check_confidence(renamed(confidence, level, "confidence", "level",
                                              "Lifecycle.time_to_convert()"))
        a, b = self._rank(from_stage, "from_stage"), self._rank(to_stage, "to_stage")
        core = self._h.tabulate_time_to_convert(a, b, self._table_options(by_segment, confidence))
        cols = self._labelled(core, by_segment, stage=None)
        n = len(core["entered"])
        cols = {**{k: v for k, v in cols.items() if k == self._segment_key()},
                "from_stage": [self.stages[a]] * n, "to_stage": [self.stages[b]] * n,
                **{k: v for k, v in cols.items() if k != self._segment_key()}}
        days = (*_DURATION_STATS, "km_median", "km_median_lower", "km_median_upper")
        return self._table(self._in_days(cols, days), name="TimeToConvert", units={k: _DAYS for k in days},
                           categories={"from_stage": self.stages, "to_stage": self.stages},
                           options={"from_stage": self.stages[a], "to_stage": self.stages[b], "by_segment": by_segment,
                                    "confidence": confidence},
                           definition="Days from reaching from_stage to reaching to_stage (reach times: skipped stages "
                                      "count as reached), for entities that reached from_stage: converted, closed "
                                      "otherwise first (lost or disqualified, a competing outcome) or still open "
                                      "(censored at as_of). mean, median, p90, min, max over the converted; km_median: "
                                      "Kaplan-Meier median with the other two censored; p_convert and "
                                      "p_closed_otherwise: Aalen-Johansen cumulative incidences at the last time.")

    def visits(self) -> Table:
        """Every visit of a step stage, one row each: entity, stage (name), entered (a datetime
        for datetime input, else ticks), days (time spent in the visit, in days) and completed
        (False for an open entity's current visit, censored at as_of). The durations behind
        :meth:`time_in_stage`, e.g. for ``kaplan_meier(v["days"], v["completed"])`` of one
        stage."""
        v = self._h.time_in_stage()
        names = np.array(self.model.names, dtype=object)
        ids = self._arrays()["entity"]  # the core's rows index the entities in id order
        cols = {"entity": self._entity_labels(ids[np.asarray(v["entity"])]), "stage": names[np.asarray(v["stage"])],
                "entered": self._axis.datetimes(np.asarray(v["entered"], dtype=np.int64)),
                "days": np.asarray(v["duration"], dtype=np.float64) / self._per_day,
                "completed": np.asarray(v["completed"]).astype(bool)}
        return self._table(cols, name="Visits", options={}, units={"days": _DAYS},
                           categories={"stage": self.model.names},
                           definition="One row per visit of a step stage: from a record of the stage until the "
                                      "entity's next record (completed), or until as_of for an open entity's "
                                      "current visit (completed = false, censored); days = its length in days.")

    def conversion_times(self, from_stage: str | int, to_stage: str | int) -> Table:
        """Per entity that reached ``from_stage`` (a stage name or ladder position): entity, days
        from reaching it to reaching ``to_stage`` (converted), to closing otherwise (lost or
        disqualified first) or to as_of (still open), and outcome: 1 converted, 2 closed
        otherwise, 0 open (censored), the codes :func:`funnelkit.aalen_johansen` takes. The
        durations behind :meth:`time_to_convert`."""
        a, b = self._rank(from_stage, "from_stage"), self._rank(to_stage, "to_stage")
        t = self._h.time_to_convert(a, b)
        cols = {"entity": self._entity_labels(self._arrays()["entity"][np.asarray(t["entity"])]),
                "days": np.asarray(t["duration"], dtype=np.float64) / self._per_day,
                "outcome": np.asarray(t["outcome"]).astype(np.int64)}
        return self._table(cols, name="ConversionTimes", units={"days": _DAYS},
                           options={"from_stage": self.stages[a], "to_stage": self.stages[b]},
                           definition="One row per entity that reached from_stage (reach times: skipped stages count "
                                      "as reached): days until it reached to_stage (outcome 1), until it was lost or "
                                      "disqualified first (outcome 2, a competing outcome) or until as_of while still "
                                      "open (outcome 0, censored).")

    # -- aging -------------------------------------------------------------------------------------
    def stuck(self, *, limit: Mapping[Any, Any] | None = None, percentile: float = 90.0) -> Table:
        """Open entities that have been in their current stage longer than a limit: a fixed
        ``limit`` per stage (a mapping from stage name or ladder position to a duration such
        as ``"3d"``; bare numbers only for integer time columns, in their ticks), else the
        ``percentile`` (0 < p <= 100; 0 disables) of completed visits of that stage. Sorted by
        how far over they are: entity, stage, entered (a datetime for datetime input), age_days,
        limit_days, over_days (days)."""
        if isinstance(percentile, bool) or not isinstance(percentile, (int, float, np.integer, np.floating)) \
                or not 0 <= float(percentile) <= 100:
            raise ValueError(f"option 'percentile': value {percentile!r} must lie between 0 and 100")
        fixed = [0] * len(self.stages)
        shown: dict[str, Any] = {}
        for st, value in (limit or {}).items():
            k = self._rank(st, "limit")
            ticks = self._axis.duration(value, f"limit[{self.stages[k]!r}]", allow_negative=True)
            if ticks is None or ticks <= 0:
                raise ValueError(f"option 'limit': value {value!r} for stage {self.stages[k]!r} must be positive")
            fixed[k] = ticks
            shown[self.stages[k]] = _shown(value)
        a = self._h.stuck(_core.AgingOptions(limit=fixed, percentile=float(percentile)))
        names = np.array(self.model.names, dtype=object)
        age = np.asarray(a["age"], dtype=np.float64)
        lim = np.asarray(a["limit"], dtype=np.float64)
        cols = {"entity": self._entity_labels(np.asarray(a["entity"])), "stage": names[np.asarray(a["stage"])],
                "entered": self._axis.datetimes(a["entered"]),
                "age_days": age / self._per_day, "limit_days": lim / self._per_day,
                "over_days": np.asarray(a["over"], dtype=np.float64) / self._per_day}
        return self._table(cols, name="Stuck", options={"limit": shown, "percentile": float(percentile)},
                           units={k: _DAYS for k in ("age_days", "limit_days", "over_days")},
                           categories={"stage": self.model.names},
                           definition="Open entities whose current visit of a step stage (as_of - entry) is longer "
                                      "than the limit of that stage: the fixed limit given, else the percentile of "
                                      "completed visits of the stage (linear interpolation); over_days = age_days - "
                                      "limit_days, most first.")

    # -- mergeable state -----------------------------------------------------------------------------
    def summary(self, *, skipped: str = "implied", passes: str = "first") -> LifecycleSummary:
        """The mergeable aggregate (reach, flow, time in stage) of these histories."""
        skipped = _names.choice(skipped, _SKIPPED, "skipped")
        passes = _names.choice(passes, _PASSES, "passes")
        return LifecycleSummary(self._h.summarize(_core.ReachOptions(skipped=skipped, passes=passes)), self.model, segment_name=self.segment_name,
                                segments=self.segments, reasons=self.reason_labels, time_unit=self._axis.unit,
                                skipped=skipped, passes=passes, inputs=self._inputs)

    def __repr__(self) -> str:
        seg = f", segments by {self.segment_name!r}" if self.segment_name else ""
        when = "no records" if self.as_of is None else f"as of {self.as_of}"
        return f"Lifecycle({len(self):,} entities{seg}, {when})"


def _shown(value: Any) -> Any:
    """An option value as given, for explain()."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def _transitions_table(matrix: np.ndarray, model: StageModel, make: Any) -> Table:
    names = model.names
    cols: dict[str, Any] = {"from": list(names)}
    for j, name in enumerate(names):
        cols[name] = np.asarray(matrix[:, j], dtype=np.int64)
    return make(cols, name="Transitions", options={}, categories={"from": names},
                definition="Counts of consecutive records of one entity: row 'from' the earlier record's stage, "
                           "column the later record's stage; backward moves (recycling) included.")


class LifecycleSummary(Mergeable):
    """Mergeable, picklable aggregate of a :class:`Lifecycle`: reach counts, flow counts and time
    in stage per stage and segment. Summaries of disjoint entity sets add up (``a + b``) to the
    summary of all of them when they agree on the model, the time unit, the options
    (``skipped``, ``passes``) and the segment and reason labels (pass the same
    ``segment_categories=`` and ``reason_categories=`` to :func:`lifecycle` for every part);
    otherwise merging is an error naming what differs. Bytes and pickles carry all of these.

    As a Table: one row per (segment, ladder stage), overall rows (``"(all)"``) first: entities,
    reached, step_rate, cumulative_rate, and the completed visits of the stage with their mean,
    median, p90, min and max in days.
    """

    definition = (_REACH_TEXT + " step_rate = reached / reached(previous stage), cumulative_rate = reached / "
                  "reached(first stage). Time in stage: completed visits of the stage (from its record to the "
                  "entity's next record); mean, median, p90 (linear interpolation), min, max in days. Parts computed "
                  "on disjoint entities merge exactly.")
    _state_class = _core.LifecycleSummary

    def __init__(self, state: Any, model: StageModel, *, segment_name: str | None, segments: Sequence[Any],
                 reasons: Sequence[Any] | None, time_unit: str, skipped: str = "implied", passes: str = "first",
                 inputs: dict[str, Any] | None = None):
        time_unit = _time.parse_unit(time_unit)
        super().__init__(inputs=inputs, options={"skipped": skipped, "passes": passes, "time_unit": time_unit,
                                                 "segment": segment_name},
                         categories={"stage": model.ladder},
                         units={k: _DAYS for k in (f"{s}_days" for s in _DURATION_STATS)})
        self._state = state
        #: The stage model.
        self.model = model
        #: Name of the segment column, or None.
        self.segment_name = segment_name
        #: Segment labels.
        self.segments = list(segments)
        #: Reason labels, or None.
        self.reasons = None if reasons is None else list(reasons)
        #: Unit of the time column the durations were measured in ("s", "ms", "us", "ns").
        self.time_unit = time_unit
        #: How skipped stages and recycled passes count toward reach.
        self.skipped, self.passes = skipped, passes

    # -- state contract ----------------------------------------------------------------------
    def _labels(self) -> dict[str, Any]:
        return {"model": self.model.to_dict(), "segment_name": self.segment_name, "segments": self.segments,
                "reasons": self.reasons, "time_unit": self.time_unit, "skipped": self.skipped,
                "passes": self.passes}

    @classmethod
    def _from_state(cls, state: Any, labels: dict[str, Any]) -> LifecycleSummary:
        model = StageModel.from_dict(labels["model"])
        if state.n_stages not in (0, len(model.ladder)):
            raise ValueError(f"corrupted LifecycleSummary: the state has {state.n_stages} stages but the model's "
                             f"ladder has {len(model.ladder)}")
        return cls(state, model, segment_name=labels.get("segment_name"), segments=labels.get("segments") or [],
                   reasons=labels.get("reasons"), time_unit=labels.get("time_unit", "s"),
                   skipped=labels.get("skipped", "implied"), passes=labels.get("passes", "first"))

    @classmethod
    def from_core_bytes(cls, data: bytes, *, model: StageModel | None = None, time_unit: str = "s",
                        segment_name: str | None = None, segments: Sequence[Any] = (),
                        reasons: Sequence[Any] | None = None, skipped: str = "implied",
                        passes: str = "first") -> LifecycleSummary:
        """Wraps a state serialised by the C++ core (``lifecycle_summary::serialize()``, magic
        ``FKLS``) with the labels it does not carry: the model (default
        :meth:`StageModel.b2b`), the time unit of its durations and the options it was
        computed with."""
        model = model or StageModel.b2b()
        return cls._from_state(cls._state_from_bytes(bytes(data)), {
            "model": model.to_dict(), "segment_name": segment_name, "segments": list(segments),
            "reasons": None if reasons is None else list(reasons), "time_unit": time_unit,
            "skipped": _names.choice(skipped, _SKIPPED, "skipped"), "passes": _names.choice(passes, _PASSES, "passes")})

    def _merge_labels(self, other: Any) -> None:
        # A part without segment (or reason) labels, e.g. one with no rows, takes the other's.
        for key in ("segments", "reasons"):
            mine, theirs = getattr(self, key), getattr(other, key)
            if mine and theirs and mine != theirs:
                option = "segment_categories" if key == "segments" else "reason_categories"
                raise ValueError(f"cannot merge LifecycleSummary parts with different {key!r}: {mine!r} vs "
                                 f"{theirs!r}; pass the same {option}= to lifecycle() for every part")
        saved = self.segments, self.reasons
        self.segments = self.segments or list(other.segments)
        self.reasons = self.reasons or (None if other.reasons is None else list(other.reasons))
        try:
            mine, theirs = self._labels(), other._labels()
            theirs["segments"], theirs["reasons"] = mine["segments"], mine["reasons"]
            for key in sorted(mine):
                if mine[key] != theirs[key]:
                    raise ValueError(f"cannot merge LifecycleSummary parts with different {key!r}: "
                                     f"{_brief(mine[key])} vs {_brief(theirs[key])}")
        except ValueError:
            self.segments, self.reasons = saved
            raise

    # -- getters -------------------------------------------------------------------------------
    @property
    def stages(self) -> list[str]:
        """Ladder stage names, in funnel order."""
        return self.model.ladder

    def _seg(self, segment: Any) -> int:
        if segment is None:
            return -1
        if segment in self.segments:
            return self.segments.index(segment)
        raise ValueError(_names.unknown("segment", segment, self.segments, where="option 'segment'"))

    def _rank(self, stage: Any) -> int:
        if isinstance(stage, (int, np.integer)) and not isinstance(stage, bool) and 0 <= int(stage) < len(self.stages):
            return int(stage)
        if stage not in self.stages:
            raise ValueError(_names.unknown("stage", stage, self.stages, where="option 'stage'"))
        return self.stages.index(stage)

    def conversion(self) -> ConversionTable:
        """Reach counts and rates (a mergeable :class:`~funnelkit.ConversionTable`)."""
        return ConversionTable(self._state.conversion, self.model, self.segment_name, self.segments,
                               skipped=self.skipped)

    def time_in_stage(self, stage: str | int, segment: Any = None) -> DurationSummary:
        """The :class:`~funnelkit.stats.DurationSummary` of completed visits of ``stage`` (a
        name or ladder position), overall or of one ``segment``, in ticks of the time column
        (its ``unit`` is the time unit)."""
        k, g = self._rank(stage), self._seg(segment)
        state = (self._state.time_in_stage(k, g) if g < self._state.n_segments
                 else _core.DurationSummary(True, ticks_per_second=self._state.ticks_per_second))
        return DurationSummary._from_state(state, {"unit": self.time_unit})

    def transitions(self) -> Table:
        """Counts of moves from stage (the ``from`` column) to stage (one column per stage)."""
        return _transitions_table(self._state.flow.transitions(), self.model,
                                  lambda cols, **kw: Table(cols, inputs=self._inputs, **kw))

    def _columns(self) -> dict[str, Any]:
        per_day = float(_time.TICKS_PER_SECOND[self.time_unit]) * 86_400.0
        by_segment = self.segment_name is not None
        core = _core.tabulate_summary(self._state, _core.LifecycleTableOptions(
            by_segment=by_segment, n_segments=len(self.segments)))
        cols: dict[str, Any] = {}
        if by_segment:
            labels = np.array([OVERALL, *self.segments], dtype=object)
            cols[self.segment_name] = labels[np.asarray(core["segment"]) + 1].tolist()
        cols["stage"] = [self.stages[k] for k in np.asarray(core["rank"]).tolist()]
        cols["owner"] = [self.model.owners[k] for k in np.asarray(core["rank"]).tolist()]
        for key in ("entities", "reached", "step_rate", "cumulative_rate", "completed"):
            cols[key] = core[key]
        for key in _DURATION_STATS:
            cols[f"{key}_days"] = core[key] / per_day
        return cols

    def __repr__(self) -> str:
        seg = f", {len(self.segments)} segments by {self.segment_name!r}" if self.segment_name else ""
        return (f"LifecycleSummary({self._state.conversion.entities(-1):,} entities{seg}, durations in "
                f"{self.time_unit}, skipped={self.skipped!r}, passes={self.passes!r})")


def _brief(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _restore_summary(blob: bytes, model: StageModel, segment_name: str | None, segments: list[Any],
                     tps: int) -> LifecycleSummary:
    """Loads pickles of LifecycleSummary written by earlier releases (core bytes and labels)."""
    unit = {1: "s", 1_000: "ms", 1_000_000: "us", 1_000_000_000: "ns"}[tps]
    return LifecycleSummary.from_core_bytes(blob, model=model, time_unit=unit, segment_name=segment_name,
                                            segments=segments)


def _reason_codes(col: Any, name: str, categories: Sequence[Any] | None) -> tuple[np.ndarray, list[Any]]:
    """Reason codes (-1 where missing) and their labels."""
    vals = _frames._values(col)
    if vals.dtype.kind in "iu" and categories is None:
        why = _frames.int32_codes(vals, name)
        return why, list(range(int(why.max()) + 1)) if len(why) else []
    missing = np.array([v is None or (isinstance(v, float) and v != v) for v in vals.tolist()], dtype=bool) \
        if vals.dtype.kind in "OfU" else np.zeros(len(vals), dtype=bool)
    codes, labels = _frames.category_codes(vals[~missing], name, categories)
    why = np.full(len(vals), -1, dtype=np.int32)
    why[~missing] = codes
    return why, labels


def _nanoseconds(ticks: np.ndarray, axis: TimeAxis) -> tuple[np.ndarray, TimeAxis]:
    """Datetime columns at nanosecond resolution, whatever their unit, so that the same data in
    every input format (pandas seconds, Polars milliseconds) gives the same states."""
    if not axis.is_datetime or axis.unit == "ns":
        return ticks, axis
    factor = 1_000_000_000 // axis.ticks_per_second
    limit = np.iinfo(np.int64).max // factor
    bad = (ticks > limit) | (ticks < -limit)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        value = ticks[row].astype(f"datetime64[{axis.unit}]")
        raise ValueError(f"column '{axis.column}', row {row}: value {value} is outside the range of nanosecond "
                         "timestamps (years 1678 to 2261)")
    return ticks * factor, TimeAxis(column=axis.column, unit="ns", is_datetime=True)


def lifecycle(
    data: Any,
    *,
    model: StageModel | None = None,
    entity: str = "entity",
    time: str = "time",
    stage: str = "stage",
    segment: str | None = None,
    reason: str | None = None,
    segment_categories: Sequence[Any] | None = None,
    reason_categories: Sequence[Any] | None = None,
    as_of: Any = None,
    time_unit: str | None = None,
    threads: int = 1,
) -> Lifecycle:
    """Builds stage histories from stage-change records.

    Parameters
    ----------
    data:
        One row per move of an entity into a stage, in any row order: a pandas or Polars
        DataFrame (or LazyFrame), a PyArrow table, a DuckDB relation, anything with
        ``__arrow_c_stream__`` or a dict of arrays.
    model:
        The stage model; :meth:`StageModel.b2b` when omitted.
    entity, time, stage:
        Column names. Times are datetimes or integers (in ``time_unit``); stages are names of
        the model's stages or integer stage codes.
    segment, reason:
        Optional columns: a grouping key (e.g. ``"source"``) and why an entity was lost or
        disqualified.
    segment_categories, reason_categories:
        Fix the segment and reason labels and their order (needed to merge the summaries of
        several parts).
    as_of:
        The observation end: open entities are censored there (default: the last record). A
        datetime or an ISO string; a bare integer only for integer time columns (in their
        ticks).
    time_unit:
        What integer timestamps count: ``"s"`` (default), ``"ms"``, ``"us"``, ``"ns"``. Datetime
        columns carry their own unit.
    threads:
        Worker threads (>= 1) for records not sorted by entity and time: they take buckets of
        entities; the histories and every table drawn from them never depend on it.

    Raises ValueError or TypeError naming the column, the row and the value for bad input.
    """
    threads = _names.threads_option(threads)
    model = model or StageModel.b2b()
    data = _frames.as_table(data)
    ent, ids = _frames.entity_ids(_frames.column(data, entity, "entity", labels=True), entity)
    tim, axis = _frames.time_axis(_frames.column(data, time, "time"), time, time_unit)
    tim, axis = _nanoseconds(tim, axis)
    stg = _frames.stage_codes(_frames.column(data, stage, "stage", labels=True, known=model.names), model.names, stage)
    seg = None
    labels: list[Any] = []
    if segment is not None:
        seg, labels = _frames.category_codes(_frames.column(data, segment, "segment", labels=True), segment,
                                             segment_categories)
    why = None
    reasons: list[Any] | None = None
    if reason is not None:
        why, reasons = _reason_codes(_frames.column(data, reason, "reason"), reason, reason_categories)
    as_of_ticks = axis.timestamp(as_of, "as_of", allow_none=True)
    try:
        options = _core.HistoryOptions(as_of=as_of_ticks, ticks_per_second=axis.ticks_per_second, threads=threads)
        h = _core.build_histories(model._m, ent, tim, stg, seg, why, options)
    except ValueError as exc:
        msg = _rename(str(exc), entity=entity, time=time, stage=stage, segment=segment, reason=reason)
        if as_of_ticks is not None:
            msg = msg.replace(f"option 'as_of': value {as_of_ticks}", f"option 'as_of': value {as_of!r}")
        raise ValueError(msg) from None
    inputs = {"rows": int(len(ent)), "entities": int(h.size),
              "columns": {"entity": entity, "time": time, "stage": stage, "segment": segment, "reason": reason},
              "time": axis.to_dict()}
    result = Lifecycle(h, model, axis=axis, segment_name=segment, segments=labels, reasons=reasons, ids=ids,
                       inputs=inputs)
    result._as_of_given = as_of_ticks is not None
    return result
