"""Lifecycle analytics over CRM stage histories.

:func:`lifecycle` builds per-entity stage histories from stage-change records (any row order;
ties at equal times are read in ladder order and exact duplicates count once) and returns a
:class:`Lifecycle`, which answers:

- ``conversion()``: reach, step and cumulative rates with confidence intervals, overall, per
  segment and per cohort period (calendar-correct in any time zone), with immature cohorts
  flagged or excluded;
- ``transitions()``: the stage-to-stage move matrix, backward moves and recycles included;
- ``exits()`` and ``reasons()``: where entities left the funnel (open, won, lost,
  disqualified) and why (closed-loop feedback);
- ``time_in_stage()`` and ``time_to_convert()``: count, mean, median, p90, min, max of
  completed durations, the Kaplan-Meier median that counts open entities as censored, and for
  conversions the Aalen-Johansen probability of converting versus leaving otherwise;
- ``stuck()``: open entities that have been in their stage longer than a fixed limit or a
  percentile of history;
- ``summary()``: the mergeable, picklable aggregate of reach, flow and time in stage.

Durations are reported in days (float). Times come back as datetimes when the input times
were datetimes, and as integers in the input unit otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from . import _core, _frames
from .conversion import ConversionTable, _rename
from .model import StageModel
from .stats import aalen_johansen, kaplan_meier, rate_intervals

__all__ = ["Lifecycle", "LifecycleSummary", "lifecycle"]

_OUTCOMES = ("open", "won", "lost", "disqualified")
_NEVER = np.iinfo(np.int64).min


class Lifecycle:
    """Stage histories of a set of entities and the metrics computed from them. Build it with
    :func:`lifecycle`."""

    def __init__(self, histories: Any, model: StageModel, *, segment_name: str | None, segments: list[Any],
                 reasons: list[Any] | None, ids: np.ndarray | None, ticks_per_second: int, is_datetime: bool,
                 time_unit: str):
        self._h = histories
        self.model = model
        self.segment_name = segment_name
        self.segments = segments
        self.reason_labels = reasons
        self._ids = ids
        self._tps = ticks_per_second
        self._is_datetime = is_datetime
        self._unit = time_unit

    # -- helpers ---------------------------------------------------------------------------
    @property
    def stages(self) -> list[str]:
        return self.model.ladder

    @property
    def as_of(self) -> Any:
        """The observation end: open entities are censored here."""
        return self._time(np.array([self._h.as_of]))[0]

    def __len__(self) -> int:
        return int(self._h.size)

    def _days(self, ticks: Any) -> np.ndarray:
        return np.asarray(ticks, dtype=np.float64) / (self._tps * 86_400.0)

    def _time(self, ticks: np.ndarray) -> np.ndarray:
        if self._is_datetime:
            out = ticks.astype(f"datetime64[{self._unit}]")
            out[ticks == _NEVER] = np.datetime64("NaT")
            return out
        return ticks

    def _entity_labels(self, codes: np.ndarray) -> np.ndarray:
        return codes if self._ids is None else self._ids[codes]

    def _rank(self, stage: str | int) -> int:
        if isinstance(stage, str):
            if stage not in self.stages:
                raise ValueError(f"stage {stage!r} is not a ladder stage ({', '.join(self.stages)})")
            return self.stages.index(stage)
        if not 0 <= int(stage) < len(self.stages):
            raise ValueError(f"stage {stage!r} is not a ladder position (0..{len(self.stages) - 1})")
        return int(stage)

    # -- per entity -------------------------------------------------------------------------
    def histories(self) -> Any:
        """One row per entity: entity, segment, current_stage, status (open, won, lost,
        disqualified), since (time of the last move), exit_stage (the stage it was won, lost or
        disqualified from, or is in), recycles, skipped (stages passed over), reason, and one
        ``entered_<stage>`` column per ladder stage (first recorded entry)."""
        import pandas as pd

        s = self._h.summary()
        names = np.array(self.model.names, dtype=object)
        kinds = np.array([k.kind for k in self.model.stages], dtype=object)
        status = kinds[s["current"]]
        status = np.where(status == "step", "open", status)
        ladder = np.array(self.stages + [None], dtype=object)
        df = pd.DataFrame({"entity": self._entity_labels(s["entity"])})
        if self.segment_name is not None:
            df[self.segment_name] = np.array(self.segments, dtype=object)[s["segment"]]
        df["current_stage"] = names[s["current"]]
        df["status"] = status
        df["since"] = self._time(s["current_since"])
        df["exit_stage"] = ladder[s["exit_rank"]]
        df["recycles"] = s["recycles"]
        skipped = s["skipped"]
        df["skipped"] = [",".join(self.stages[k] for k in range(len(self.stages)) if m >> k & 1) for m in skipped.tolist()]
        if self.reason_labels is not None:
            labels = np.array(list(self.reason_labels) + [None], dtype=object)
            df["reason"] = labels[s["reason"]]
        entries = self._h.entry_times(False)
        for k, st in enumerate(self.stages):
            df[f"entered_{st}"] = self._time(entries[:, k].copy())
        return df

    # -- conversion -------------------------------------------------------------------------
    def conversion(self, *, by: str | Sequence[str] | None = None, period: str = "month",
                   cohort_stage: str | None = None, tz: str | int = "UTC", maturity: Any = None,
                   immature: str = "flag", skipped: str = "implied", passes: str = "first",
                   interval: str = "wilson", level: float = 0.95) -> Any:
        """Reach and conversion rates as a DataFrame, with confidence intervals.

        ``by``: ``None`` (overall), ``"segment"`` (the segment column), ``"cohort"`` (the
        calendar ``period`` - day, week, month, quarter, year - in which entities reached
        ``cohort_stage``, default the first stage, in time zone ``tz``: an IANA name or a fixed
        offset in seconds), or ``["cohort", "segment"]``. ``maturity`` (days, or a timedelta)
        marks cohorts whose period ended less than that before ``as_of`` as immature:
        ``immature="flag"`` adds a ``mature`` column, ``"exclude"`` drops them. ``skipped``
        (``"implied"``/``"recorded"``) and ``passes`` (``"first"``/``"every"``) choose how
        skipped stages and recycled entities count. Intervals (``interval`` = wilson,
        agresti_coull, jeffreys or clopper_pearson, at ``level``) are given for the step rate
        (``step_lower``, ``step_upper``) and the cumulative rate (``cum_lower``, ``cum_upper``).
        """
        import pandas as pd

        keys = [by] if isinstance(by, str) else list(by or [])
        for k in keys:
            if k not in ("segment", "cohort"):
                raise ValueError(f"option 'by': value {k!r} is not 'segment' or 'cohort'")
        if "segment" in keys and self.segment_name is None:
            raise ValueError("option 'by': 'segment' needs a segment column (lifecycle(..., segment=...))")
        if immature not in ("flag", "exclude"):
            raise ValueError(f"option 'immature': value {immature!r} is not 'flag' or 'exclude'")
        n = len(self)
        parts: list[tuple[str, np.ndarray, list[Any]]] = []
        cohort_end = None
        if "cohort" in keys:
            codes, labels, cohort_end = self._cohorts(period, cohort_stage, tz)
            parts.append(("cohort", codes, labels))
        if "segment" in keys:
            seg = self._h.summary()["segment"]
            parts.append((self.segment_name or "segment", seg, list(self.segments)))
        if not parts:
            group = None
            group_labels: list[tuple[Any, ...]] = []
            counts = self._h.reach(np.full(n, -1, dtype=np.int32), skipped, passes)
        else:
            group = np.zeros(n, dtype=np.int64)
            valid = np.ones(n, dtype=bool)
            for _, codes, labels in parts:
                group = group * max(len(labels), 1) + np.maximum(codes, 0)
                valid &= codes >= 0
            # Dense codes over the combinations present.
            uniq, dense = np.unique(np.where(valid, group, -1), return_inverse=True)
            dense = dense.astype(np.int32).reshape(-1)
            if len(uniq) and uniq[0] == -1:
                dense -= 1
                uniq = uniq[1:]
            group = dense
            group_labels = []
            for g in uniq.tolist():  # decode the mixed-radix combination code
                combo = []
                for _, _, labels in reversed(parts):
                    combo.append(labels[g % max(len(labels), 1)])
                    g //= max(len(labels), 1)
                group_labels.append(tuple(reversed(combo)))
        if group is not None:
            counts = self._h.reach(group, skipped, passes)
        table = ConversionTable(counts, self.model, "group" if group is not None else None,
                                list(range(len(group_labels))))
        cols = table._table() if group is None else table.without_overall()._table()
        df = pd.DataFrame({("segment" if k == "group" else k): (np.asarray(v, dtype=object) if isinstance(v, list) else v)
                           for k, v in cols.items()})
        if group is not None:
            codes = df.pop("segment").to_numpy().astype(int)
            for j, (name, _, _) in enumerate(parts):
                df.insert(j, name, [group_labels[c][j] for c in codes])
        reached = df["reached"].to_numpy()
        is_first = df["stage"].to_numpy() == self.stages[0]
        prev = np.where(is_first, 0, np.roll(reached, 1))
        first = df.groupby(list(df.columns[: len(parts)]) or (lambda _: 0), sort=False)["reached"].transform("first").to_numpy()
        # Intervals where the rate is a proportion: a previous stage with entities that holds
        # every entity of this one (with skipped="recorded" a step rate may exceed 1).
        df["step_lower"], df["step_upper"] = _bounds(reached, prev, ~is_first & (prev > 0) & (reached <= prev), level, interval)
        df["cum_lower"], df["cum_upper"] = _bounds(reached, first, (first > 0) & (reached <= first), level, interval)
        if cohort_end is not None:
            df.insert(1, "cohort_end", [cohort_end[c] for c in df["cohort"]])
            if maturity is not None:
                window = _timedelta_days(maturity, "maturity")
                ends = np.array([self._cohort_end_ticks[c] for c in df["cohort"]], dtype=np.float64)
                mature = self._days(ends) + window <= self._days(self._h.as_of)
                if immature == "exclude":
                    df = df[mature].reset_index(drop=True)
                else:
                    df.insert(2, "mature", mature)
        df["stage"] = pd.Categorical(df["stage"], categories=self.stages, ordered=True)
        return df

    def _cohorts(self, period: str, cohort_stage: str | None, tz: str | int) -> tuple[np.ndarray, list[Any], dict[Any, Any]]:
        rank = 0 if cohort_stage is None else self._rank(cohort_stage)
        if isinstance(tz, (int, np.integer)) or tz == "UTC":
            offset = 0 if tz == "UTC" else int(tz)
            c = self._h.cohorts(rank, period, self._tps, offset)
            labels = list(self._time(c["start"].copy())) if self._is_datetime else c["start"].tolist()
            self._cohort_end_ticks = dict(zip(labels, c["end"].tolist()))
            ends = dict(zip(labels, list(self._time(c["end"].copy())) if self._is_datetime else c["end"].tolist()))
            return c["code"], labels, ends
        # A named time zone: calendar periods of local wall-clock time, daylight saving included.
        import pandas as pd

        if period not in ("day", "week", "month", "quarter", "year"):
            raise ValueError(f"option 'period': value {period!r} is not one of 'day', 'week', 'month', 'quarter', 'year'")
        reach = self._h.entry_times(True)[:, rank]
        has = reach != _NEVER
        ns = reach[has] * (1_000_000_000 // self._tps) if self._tps <= 1_000_000_000 else reach[has]
        local = pd.to_datetime(ns, unit="ns", utc=True).tz_convert(tz).tz_localize(None)
        freq = {"day": "D", "week": "W-SUN", "month": "M", "quarter": "Q", "year": "Y"}[period]
        per = local.to_period(freq)
        starts = per.start_time.tz_localize(tz, ambiguous="NaT", nonexistent="shift_forward")
        ends = (per + 1).start_time.tz_localize(tz, ambiguous="NaT", nonexistent="shift_forward")
        keys = starts.tz_convert("UTC").tz_localize(None)
        uniq, inverse = np.unique(keys.to_numpy(), return_inverse=True)
        codes = np.full(len(self), -1, dtype=np.int32)
        codes[has] = inverse.reshape(-1).astype(np.int32)
        end_ns = ends.tz_convert("UTC").tz_localize(None).to_numpy().astype("datetime64[ns]").astype(np.int64)
        end_by_start = dict(zip(keys.to_numpy().astype("datetime64[ns]").astype(np.int64).tolist(), end_ns.tolist()))
        uniq_ns = uniq.astype("datetime64[ns]").astype(np.int64).tolist()
        labels = [pd.Timestamp(u, unit="ns").tz_localize("UTC").tz_convert(tz) for u in uniq_ns]
        self._cohort_end_ticks = {lab: end_by_start[u] // (1_000_000_000 // self._tps) for lab, u in zip(labels, uniq_ns)}
        ends_out = {lab: pd.Timestamp(end_by_start[u], unit="ns").tz_localize("UTC").tz_convert(tz)
                    for lab, u in zip(labels, uniq_ns)}
        return codes, labels, ends_out

    # -- flow ---------------------------------------------------------------------------------
    def transitions(self) -> Any:
        """Counts of moves from stage (rows) to stage (columns), all stage codes, backward
        moves and recycles included."""
        import pandas as pd

        m = self._h.flow().transitions()
        names = self.model.names
        return pd.DataFrame(m, index=pd.Index(names, name="from"), columns=pd.Index(names, name="to"))

    def exits(self, *, by_segment: bool = False) -> Any:
        """Per ladder stage of exit (see :meth:`histories`): how many entities are open there,
        were won, lost or disqualified from there, with the shares of each outcome."""
        import pandas as pd

        e = self._h.flow().exits()
        rows = []
        groups = [(-1, None)] + ([(g, lab) for g, lab in enumerate(self.segments)] if by_segment else [])
        for g, lab in groups:
            for k, st in enumerate(self.stages):
                if st == self.model.won:
                    continue  # won is an outcome, never a stage to exit from
                counts = e[g + 1, k]
                total = int(counts.sum())
                row = {"stage": st} if not by_segment else {self.segment_name or "segment": "(all)" if lab is None else lab, "stage": st}
                row.update({o: int(counts[j]) for j, o in enumerate(_OUTCOMES)})
                row["total"] = total
                for j, o in enumerate(_OUTCOMES):
                    row[f"{o}_share"] = counts[j] / total if total else math.nan
                rows.append(row)
        return pd.DataFrame(rows)

    def reasons(self, *, by_segment: bool = False) -> Any:
        """Lost and disqualified exits by stage and reason (and segment): count and share of
        that stage's lost and disqualified exits. Needs the ``reason`` column."""
        import pandas as pd

        if self.reason_labels is None:
            raise ValueError("reasons() needs a reason column (lifecycle(..., reason=...))")
        f = self._h.flow()
        r = f.reasons()
        e = f.exits()
        rows = []
        groups = [(-1, "(all)")] + ([(g, lab) for g, lab in enumerate(self.segments)] if by_segment else [])
        for g, lab in groups:
            for k, st in enumerate(self.stages):
                closed = int(e[g + 1, k, 2] + e[g + 1, k, 3])
                for why in range(r.shape[2]):
                    c = int(r[g + 1, k, why])
                    if c == 0:
                        continue
                    row = {self.segment_name or "segment": lab} if by_segment else {}
                    row.update({"stage": st, "reason": self.reason_labels[why], "count": c,
                                "share": c / closed if closed else math.nan})
                    rows.append(row)
        cols = ([self.segment_name or "segment"] if by_segment else []) + ["stage", "reason", "count", "share"]
        return pd.DataFrame(rows, columns=cols)

    # -- durations ------------------------------------------------------------------------------
    def time_in_stage(self, *, by_segment: bool = False, level: float = 0.95) -> Any:
        """Time spent in each ladder step stage per visit, in days: visits, completed, open,
        mean, median, p90, min, max (of completed visits) and km_median (Kaplan-Meier median
        counting open visits as censored; inf when fewer than half have left)."""
        v = self._h.time_in_stage()
        s = self._h.summary()
        rank_of = {c: r for r, c in enumerate(self.model.ladder_codes)}
        ranks = np.array([rank_of[c] for c in v["stage"].tolist()], dtype=np.int64) if len(v["stage"]) else np.zeros(0, np.int64)
        seg = s["segment"][v["entity"]] if len(v["entity"]) else np.zeros(0, np.int32)
        return self._duration_table(ranks, seg, self._days(v["duration"]), v["completed"].astype(bool), by_segment,
                                    [st for st in self.stages if st != self.model.won], level)

    def time_to_convert(self, from_stage: str | int, to_stage: str | int, *, by_segment: bool = False,
                        level: float = 0.95) -> Any:
        """Days from reaching ``from_stage`` to reaching ``to_stage`` (skipped stages count as
        reached). Per group: entered, converted, closed_otherwise (lost or disqualified first),
        open; mean, median, p90 of the converted; km_median (open and closed-otherwise entities
        censored); and Aalen-Johansen cumulative incidences p_convert and p_closed_otherwise at
        the last observed time (won vs lost as competing outcomes)."""
        import pandas as pd

        a, b = self._rank(from_stage), self._rank(to_stage)
        t = self._h.time_to_convert(a, b)
        seg = self._h.summary()["segment"][t["entity"]] if len(t["entity"]) else np.zeros(0, np.int32)
        days = self._days(t["duration"])
        outcome = t["outcome"].astype(np.int32)
        groups = [(None, np.ones(len(days), dtype=bool))]
        if by_segment:
            groups += [(lab, seg == g) for g, lab in enumerate(self.segments)]
        rows = []
        for lab, mask in groups:
            d, o = days[mask], outcome[mask]
            conv = d[o == 1]
            row: dict[str, Any] = {}
            if by_segment:
                row[self.segment_name or "segment"] = "(all)" if lab is None else lab
            row.update({"from_stage": self.stages[a], "to_stage": self.stages[b], "entered": int(len(d)),
                        "converted": int((o == 1).sum()), "closed_otherwise": int((o == 2).sum()),
                        "open": int((o == 0).sum())})
            row.update(_describe(conv))
            if len(d):
                km = kaplan_meier(d, (o == 1).astype(np.uint8), level=level)
                aj = aalen_johansen(d, o, labels=["convert", "closed_otherwise"])
                row["km_median"] = km.median
                row["p_convert"] = aj.final("convert")
                row["p_closed_otherwise"] = aj.final("closed_otherwise")
            else:
                row.update({"km_median": math.nan, "p_convert": math.nan, "p_closed_otherwise": math.nan})
            rows.append(row)
        return pd.DataFrame(rows)

    def _duration_table(self, ranks: np.ndarray, seg: np.ndarray, days: np.ndarray, done: np.ndarray, by_segment: bool,
                        stages: list[str], level: float) -> Any:
        import pandas as pd

        groups = [(None, np.ones(len(days), dtype=bool))]
        if by_segment:
            groups += [(lab, seg == g) for g, lab in enumerate(self.segments)]
        rows = []
        for lab, gmask in groups:
            for st in stages:
                k = self.stages.index(st)
                mask = gmask & (ranks == k)
                d, c = days[mask], done[mask]
                row: dict[str, Any] = {}
                if by_segment:
                    row[self.segment_name or "segment"] = "(all)" if lab is None else lab
                row.update({"stage": st, "visits": int(mask.sum()), "completed": int(c.sum()), "open": int((~c).sum())})
                row.update(_describe(d[c]))
                row["km_median"] = kaplan_meier(d, c.astype(np.uint8), level=level).median if len(d) else math.nan
                rows.append(row)
        return pd.DataFrame(rows)

    # -- aging -------------------------------------------------------------------------------------
    def stuck(self, *, limit: Mapping[str, Any] | None = None, percentile: float = 90.0) -> Any:
        """Open entities that have been in their current stage longer than a limit: a fixed
        ``limit`` per stage name (days, or a timedelta), else the ``percentile`` (0 < p <= 100;
        0 disables) of completed visits of that stage. Sorted by how far over they are: entity,
        stage, entered, age_days, limit_days, over_days."""
        import pandas as pd

        fixed = [0] * len(self.stages)
        for st, value in (limit or {}).items():
            ticks = int(round(_timedelta_days(value, f"limit[{st!r}]") * 86_400 * self._tps))
            if ticks <= 0:
                raise ValueError(f"option 'limit': value {value!r} for stage {st!r} must be positive")
            fixed[self._rank(st)] = ticks
        a = self._h.stuck(fixed, float(percentile))
        names = np.array(self.model.names, dtype=object)
        return pd.DataFrame({
            "entity": self._entity_labels(a["entity"]) if self._ids is None else self._ids[a["entity"]],
            "stage": names[a["stage"]], "entered": self._time(a["entered"]), "age_days": self._days(a["age"]),
            "limit_days": self._days(a["limit"]), "over_days": self._days(a["age"] - a["limit"]),
        })

    # -- mergeable state -----------------------------------------------------------------------------
    def summary(self, *, skipped: str = "implied", passes: str = "first") -> LifecycleSummary:
        """The mergeable aggregate (reach, flow, time in stage) of these histories."""
        return LifecycleSummary(self._h.summarize(skipped, passes), self.model, self.segment_name, self.segments,
                                self._tps)

    def __repr__(self) -> str:
        seg = f", segments by {self.segment_name!r}" if self.segment_name else ""
        return f"Lifecycle({len(self):,} entities{seg}, as of {self.as_of})"


class LifecycleSummary:
    """Mergeable, picklable aggregate of a :class:`Lifecycle`: reach counts, flow counts and time
    in stage per stage and segment. Summaries of disjoint entity sets with the same model and
    segment labels add up (``a + b``) to the summary of all of them."""

    __slots__ = ("_s", "model", "segment_name", "segments", "_tps")

    def __init__(self, state: Any, model: StageModel, segment_name: str | None, segments: list[Any], tps: int):
        self._s, self.model, self.segment_name, self.segments, self._tps = state, model, segment_name, list(segments), tps

    def conversion(self) -> ConversionTable:
        return ConversionTable(self._s.conversion, self.model, self.segment_name, self.segments)

    def time_in_stage(self, stage: str, segment: Any = None) -> Any:
        """The :class:`~funnelkit.stats.DurationSummary` of completed visits (in the input time unit)."""
        from .stats import DurationSummary

        g = -1 if segment is None else self.segments.index(segment)
        out = DurationSummary.__new__(DurationSummary)
        out._s = self._s.time_in_stage(self.model.ladder.index(stage), g)
        return out

    def transitions(self) -> Any:
        import pandas as pd

        names = self.model.names
        return pd.DataFrame(self._s.flow.transitions(), index=pd.Index(names, name="from"),
                            columns=pd.Index(names, name="to"))

    def _check(self, other: Any) -> None:
        if not isinstance(other, LifecycleSummary):
            raise TypeError(f"cannot merge a LifecycleSummary with {type(other).__name__}")
        if other.model != self.model or other.segment_name != self.segment_name or (
                other.segments and self.segments and other.segments != self.segments):
            raise ValueError("cannot merge lifecycle summaries of different models or segment labels; "
                             "pass the same segment_categories= to lifecycle() for every part")

    def merge(self, other: LifecycleSummary) -> LifecycleSummary:
        self._check(other)
        self._s.merge(other._s)
        if not self.segments:
            self.segments = list(other.segments)
        return self

    def __add__(self, other: LifecycleSummary) -> LifecycleSummary:
        out = LifecycleSummary(_core.LifecycleSummary.deserialize(self._s.serialize()), self.model, self.segment_name,
                               self.segments, self._tps)
        return out.merge(other)

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, LifecycleSummary) and self._s == other._s and self.model == other.model
                and self.segments == other.segments and self.segment_name == other.segment_name)

    def to_bytes(self) -> bytes:
        return self._s.serialize()

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore_summary, (self.to_bytes(), self.model, self.segment_name, self.segments, self._tps))

    def __repr__(self) -> str:
        return f"LifecycleSummary({self._s.conversion.entities()} entities, {len(self.segments)} segments)"


def _restore_summary(blob: bytes, model: StageModel, segment_name: str | None, segments: list[Any], tps: int) -> LifecycleSummary:
    return LifecycleSummary(_core.LifecycleSummary.deserialize(blob), model, segment_name, segments, tps)


def _bounds(x: np.ndarray, n: np.ndarray, ok: np.ndarray, level: float, method: str) -> tuple[np.ndarray, np.ndarray]:
    lower = np.full(len(x), np.nan)
    upper = np.full(len(x), np.nan)
    if ok.any():
        ci = rate_intervals(x[ok], n[ok], level=level, method=method)
        lower[ok] = ci["lower"].to_numpy()
        upper[ok] = ci["upper"].to_numpy()
    else:
        rate_intervals(np.zeros(0, np.int64), np.zeros(0, np.int64), level=level, method=method)  # validates options
    return lower, upper


def _describe(d: np.ndarray) -> dict[str, float]:
    if len(d) == 0:
        return {"mean": math.nan, "median": math.nan, "p90": math.nan, "min": math.nan, "max": math.nan}
    return {"mean": float(d.mean()), "median": float(np.quantile(d, 0.5)), "p90": float(np.quantile(d, 0.9)),
            "min": float(d.min()), "max": float(d.max())}


def _timedelta_days(value: Any, name: str) -> float:
    import datetime as dt

    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, dt.timedelta):
        return value.total_seconds() / 86_400
    if isinstance(value, np.timedelta64):
        return float(value / np.timedelta64(1, "s")) / 86_400
    try:
        import pandas as pd

        return pd.Timedelta(value).total_seconds() / 86_400
    except Exception:
        raise TypeError(f"option '{name}': expected days or a timedelta, got {value!r}") from None


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
    as_of: Any = None,
    time_unit: str | None = None,
) -> Lifecycle:
    """Builds stage histories from stage-change records.

    ``data`` is a pandas or Polars DataFrame, a PyArrow table, a DuckDB relation or a dict of
    arrays with one row per move of an entity into a stage, in any row order. ``segment``
    (e.g. ``"source"``) and ``reason`` (why an entity was lost or disqualified) are optional
    columns. ``as_of`` is the observation end (open entities are censored there; default: the
    last record); give it in the same form as the time column. ``time_unit`` (``"s"``,
    ``"ms"``, ``"us"``, ``"ns"``) says what integer timestamps count; datetime columns carry
    their own unit.
    """
    model = model or StageModel.b2b()
    data = _frames.as_table(data)
    ent, ids = _frames.entity_ids(_frames.column(data, entity), entity)
    tim, tps, is_dt = _frames.time_info(_frames.column(data, time), time_unit, time)
    unit = {1: "s", 1_000: "ms", 1_000_000: "us", 1_000_000_000: "ns"}[tps]
    stg = _frames.stage_codes(_frames.column(data, stage), model.names, stage)
    seg = None
    labels: list[Any] = []
    if segment is not None:
        seg, labels = _frames.category_codes(_frames.column(data, segment), segment, segment_categories)
    why = None
    reasons: list[Any] | None = None
    if reason is not None:
        col = _frames.column(data, reason)
        vals = _frames._values(col)
        missing = np.array([v is None or (isinstance(v, float) and v != v) for v in vals.tolist()], dtype=bool) \
            if vals.dtype.kind in "OfU" else np.zeros(len(vals), dtype=bool)
        if vals.dtype.kind in "iu":
            why = _frames.int32_codes(vals, reason)
            reasons = list(range(int(why.max()) + 1)) if len(why) else []
        else:
            present = vals[~missing]
            codes, reasons = _frames.category_codes(present, reason)
            why = np.full(len(vals), -1, dtype=np.int32)
            why[~missing] = codes
    as_of_ticks = None
    if as_of is not None:
        if is_dt:
            import pandas as pd

            ts = pd.Timestamp(as_of)
            if ts.tzinfo is not None:
                ts = ts.tz_convert("UTC").tz_localize(None)
            as_of_ticks = int(np.datetime64(ts.to_datetime64(), unit).astype(np.int64))
        else:
            as_of_ticks = int(as_of)
    try:
        h = _core.build_histories(model._m, ent, tim, stg, seg, why, as_of_ticks)
    except ValueError as exc:
        raise ValueError(_rename(str(exc), entity=entity, time=time, stage=stage, segment=segment, reason=reason)) from None
    return Lifecycle(h, model, segment_name=segment, segments=labels, reasons=reasons, ids=ids,
                     ticks_per_second=tps, is_datetime=is_dt, time_unit=unit)
