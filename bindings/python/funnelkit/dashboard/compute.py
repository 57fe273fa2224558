"""The report document: every section the library computes from stage records (and touches and
events when given), as JSON-ready data. The terminal report, the HTML dashboard, the CSV files
and the JSON for BI are all rendered from this one document, whose shape is described by the
versioned JSON Schema ``docs/report.schema.json``.

Each section holds ``tables``: each the ``to_json()`` document of a library result (``result``,
``explain``, ``columns`` with types and units, ``data`` rows with numbers as numbers and null
for undefined ones). Curves and histograms are library results sampled for display, said so in
their definition. A section the data cannot give (no amount column, no touches) is listed under
``skipped`` with the reason.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import __version__
from .._result import Table, plain
from ..attribution import compare_attribution
from ..campaign import campaign_report
from ..drivers import drivers
from ..forecast import backtest_forecast, forecast_pipeline
from ..lifecycle import Lifecycle, lifecycle
from ..planning import plan_reverse_funnel, steps_from_conversion
from ..rates import adjust_p_values, two_proportion_ztest
from ..sla import sla_response, sla_volume
from ..survival import KaplanMeier, aalen_johansen, kaplan_meier
from ..velocity import decompose_velocity, opportunities_from_stages, velocity
from ..window_funnel import window_funnel
from .config import DataError, ReportConfig

__all__ = ["FORMAT", "VERSION", "SECTIONS", "build_document", "table_doc"]

#: The document's format name and version (the schema's ``$id`` carries the version too).
FORMAT = "funnelkit-report"
VERSION = 1

#: Section ids in report order, with their titles.
SECTIONS = {
    "funnel": "Funnel",
    "segments": "Conversion by segment",
    "drivers": "Drivers of conversion",
    "cohorts": "Cohorts",
    "time_in_stage": "Time in stage",
    "time_to_convert": "Time to convert",
    "won_lost": "Won and lost over time",
    "flow": "Stage flow",
    "stuck": "Stuck leads",
    "velocity": "Sales velocity",
    "plan": "Reverse-funnel plan",
    "forecast": "Pipeline forecast",
    "sla": "Service levels",
    "campaign": "Campaign ROI",
    "attribution": "Attribution",
    "events": "Event funnel",
}
_CURVE_POINTS = 80
#: Drivers drawn in the forest plot (the table holds every tested value).
_DRIVER_ROWS = 20
_STUCK_ROWS = 50


def table_doc(table: Table) -> dict[str, Any]:
    """A library result as its JSON document (``result``, ``explain``, ``columns``, ``data``)."""
    return json.loads(table.to_json())


def _head(table: Table, n: int, *, relabel: dict[str, np.ndarray] | None = None) -> Table:
    """The first ``n`` rows of a table, same name, definition, units, category order and
    options (read from its Arrow form: units in the field metadata, categories as dictionaries)."""
    import pyarrow as pa

    arrow = table.to_arrow()
    units = {f.name: f.metadata[b"unit"].decode() for f in arrow.schema if f.metadata and b"unit" in f.metadata}
    categories = {f.name: arrow.column(f.name).combine_chunks().dictionary.to_pylist() for f in arrow.schema
                  if pa.types.is_dictionary(f.type) and f.name not in (relabel or {})}
    cols = {k: table.column(k)[:n] for k in table.columns}
    for k, labels in (relabel or {}).items():
        cols[k] = labels[np.asarray(cols[k], dtype=np.int64)]
    ex = table.explain()
    inputs = dict(ex.inputs)
    inputs["rows_total"] = len(table)
    return Table(cols, name=ex["result"], definition=ex.definition, inputs=inputs, options=ex.options,
                 units=units, categories=categories)


def _fmt_n(n: int, what: str) -> str:
    return f"{int(n):,} {what}"


class _Builder:
    def __init__(self, frame: Any, cfg: ReportConfig, *, entity_labels: np.ndarray | None,
                 touches: tuple[Any, Any] | None, events: Any, events_note: str | None,
                 progress: Callable[[str], None] | None):
        self.frame = frame
        self.cfg = cfg
        self.entity_labels = entity_labels
        self.touches = touches
        self.events = events
        self.events_note = events_note
        self.progress = progress or (lambda name: None)
        self.sections: list[dict[str, Any]] = []
        self.skipped: list[dict[str, str]] = []
        self.model = cfg.model
        self.won = self.model.won
        self.lc: Lifecycle | None = None
        self._velocity_rows: list[dict[str, Any]] | None = None

    # -- helpers --------------------------------------------------------------------------------
    def add(self, sid: str, main: Table, tables: dict[str, Table], *, n: int, size: str,
            notes: list[str] | None = None, summary: dict[str, Any] | None = None) -> None:
        ex = main.explain()
        self.sections.append({
            "id": sid, "title": SECTIONS[sid], "definition": ex.definition, "n": int(n), "sample_size": size,
            "explain": ex.to_dict(), "notes": list(notes or []), "summary": plain(summary or {}),
            "tables": {name: table_doc(t) for name, t in tables.items()},
        })

    def skip(self, sid: str, reason: str) -> None:
        self.skipped.append({"id": sid, "title": SECTIONS[sid], "reason": reason})

    @property
    def cols(self) -> dict[str, str | None]:
        c = self.cfg
        return {"entity": c.entity, "time": c.time, "stage": c.stage}

    def _grid(self, upper: float) -> np.ndarray:
        upper = upper if math.isfinite(upper) and upper > 0 else 1.0
        return np.linspace(0.0, upper, _CURVE_POINTS + 1)

    # -- sections -------------------------------------------------------------------------------
    def run(self) -> None:
        steps: list[tuple[str, Callable[[], None]]] = [
            ("reading stage histories", self.histories), ("funnel", self.funnel), ("segments", self.segments),
            ("drivers", self.drivers),
            ("cohorts", self.cohorts), ("time in stage", self.time_in_stage),
            ("time to convert", self.time_to_convert), ("stage flow", self.flow), ("stuck leads", self.stuck),
            ("velocity", self.velocity), ("plan", self.plan), ("forecast", self.forecast), ("service levels", self.sla),
            ("campaigns", self.campaign), ("attribution", self.attribution), ("event funnel", self.event_funnel)]
        for name, fn in steps:
            self.progress(name)
            fn()
        order = list(SECTIONS)
        self.sections.sort(key=lambda s: order.index(s["id"]))

    def histories(self) -> None:
        c = self.cfg
        try:
            self.lc = lifecycle(self.frame, model=self.model, **self.cols, segment=c.segment, reason=c.reason,
                                as_of=c.as_of, time_unit=c.time_unit)
        except (ValueError, TypeError) as exc:
            raise DataError(str(exc)) from None

    def funnel(self) -> None:
        lc = self.lc
        t = lc.conversion(confidence=self.cfg.confidence)
        n = int(t["entities"][0]) if len(t) else 0
        handoffs = [{"from": a, "to": b} for a, b in self.model.handoffs]
        self.add("funnel", t, {"funnel": t}, n=n, size=_fmt_n(n, "entities"),
                 summary={"handoffs": handoffs, "won": self.won})

    def segments(self) -> None:
        c = self.cfg
        if c.segment is None:
            return self.skip("segments", "no segment column (--segment or [columns] segment)")
        lc = self.lc
        target = self.won or self.model.ladder[-1]
        by = lc.conversion(by="segment", confidence=c.confidence)
        cols = by
        seg = np.asarray(cols[c.segment], dtype=object)
        stage = np.asarray(cols["stage"], dtype=object)
        first = self.model.ladder[0]
        rows = []
        whole = lc.conversion(confidence=c.confidence)
        i, i0 = list(whole["stage"]).index(target), list(whole["stage"]).index(first)
        overall = {"entered": int(whole["reached"][i0]), "reached": int(whole["reached"][i]),
                   "rate": float(whole["cumulative_rate"][i]), "lower": float(whole["cum_lower"][i]),
                   "upper": float(whole["cum_upper"][i])}
        for lab in list(dict.fromkeys(seg.tolist())):
            m_first = (seg == lab) & (stage == first)
            m = (seg == lab) & (stage == target)
            i, i0 = int(np.flatnonzero(m)[0]), int(np.flatnonzero(m_first)[0])
            row = {"segment": lab, "entered": int(cols["reached"][i0]), "reached": int(cols["reached"][i]),
                   "rate": float(cols["cumulative_rate"][i]), "lower": float(cols["cum_lower"][i]),
                   "upper": float(cols["cum_upper"][i])}
            rows.append(row)
        z = np.full(len(rows), np.nan)
        p = np.full(len(rows), np.nan)
        for k, r in enumerate(rows):
            rest_x, rest_n = overall["reached"] - r["reached"], overall["entered"] - r["entered"]
            test = two_proportion_ztest(rest_x, rest_n, r["reached"], r["entered"])
            if test is not None:
                z[k], p[k] = test.statistic, test.p_value
        tested = np.isfinite(p)
        holm = np.full(len(rows), np.nan)
        if tested.any():
            holm[tested] = adjust_p_values(p[tested], method="holm")["p_adjusted"]
        alpha = 1.0 - c.confidence
        tests = Table({c.segment: [r["segment"] for r in rows],
                       "entered": np.array([r["entered"] for r in rows], dtype=np.int64),
                       "reached": np.array([r["reached"] for r in rows], dtype=np.int64),
                       "rate": np.array([r["rate"] for r in rows]), "lower": np.array([r["lower"] for r in rows]),
                       "upper": np.array([r["upper"] for r in rows]), "z": z, "p_value": p, "p_holm": holm,
                       "significant": np.where(tested, holm < alpha, False)},
                      name="SegmentTests",
                      definition=(f"Per segment: rate = entities that reached {target} / entities that entered "
                                  f"{first}, with its interval ({by.explain().options['interval']} at confidence "
                                  f"{c.confidence:g}); z and p_value: pooled two-proportion z-test of the segment "
                                  "(b) against all other entities (a), z > 0 when the segment converts better; "
                                  "p_holm: Holm-adjusted over the segments tested; significant: p_holm < "
                                  f"{alpha:g}."),
                      inputs={"entities": overall["entered"], "segments": len(rows), "overall_rate": overall["rate"]},
                      options={"stage": target, "confidence": c.confidence, "adjust": "holm"})
        self.add("segments", tests, {"tests": tests, "by_segment": by}, n=overall["entered"],
                 size=f"{overall['entered']:,} entities in {len(rows)} segments",
                 summary={"overall_rate": overall["rate"], "overall_lower": overall["lower"],
                          "overall_upper": overall["upper"], "stage": target})

    def cohorts(self) -> None:
        c = self.cfg
        t = self.lc.conversion(by="cohort", period=c.period, tz=c.tz, maturity=c.maturity, immature="flag",
                               confidence=c.confidence)
        cols = t
        first = np.asarray(cols["stage"], dtype=object) == self.model.ladder[0]
        n = int(np.asarray(cols["entities"])[first].sum())
        k = int(first.sum())
        immature = int((~np.asarray(cols["mature"])[first]).sum()) if "mature" in t.columns else 0
        self.add("cohorts", t, {"cohorts": t}, n=n, size=f"{n:,} entities in {k} cohorts ({immature} immature)",
                 summary={"cohorts": k, "immature": immature, "period": c.period, "maturity": c.maturity})

    def drivers(self) -> None:
        c = self.cfg
        columns = list(dict.fromkeys(x for x in (c.segment, c.campaign, c.owner) if x))
        if not columns:
            return self.skip("drivers", "no segment, campaign or owner column (--segment, --campaign, --owner)")
        target = self.won or self.model.ladder[-1]
        try:
            d = drivers(self.frame, target=target, segments=columns, model=self.model, **self.cols,
                        confidence=c.confidence)
        except (ValueError, TypeError) as exc:
            raise DataError(f"drivers of conversion: {exc}") from None
        level = round(1.0 - c.confidence, 12)
        with np.errstate(invalid="ignore"):
            significant = int((np.asarray(d.q_value, dtype=np.float64) <= level).sum())
        tested = int(np.isfinite(np.asarray(d.p_value, dtype=np.float64)).sum())
        notes = [f"{significant} of {tested} tested values have a Benjamini-Hochberg q-value at or below {level:g}. "
                 "A driver is an association, not a cause: entities with a value may differ from the others in "
                 "ways the table does not see."]
        self.add("drivers", d, {"drivers": d}, n=d.population,
                 size=f"{d.population:,} entities, {d.with_outcome:,} reached {target}; {len(d)} values of "
                      f"{', '.join(columns)}",
                 notes=notes,
                 summary={"target": target, "columns": columns, "population": d.population,
                          "reached": d.with_outcome, "confidence": d.confidence, "level": level,
                          "significant": significant, "tested": tested, "shown": min(len(d), _DRIVER_ROWS)})

    def time_in_stage(self) -> None:
        lc = self.lc
        c = self.cfg
        tis = lc.time_in_stage(confidence=c.confidence)
        visits = lc.visits()  # every visit: stage, days, completed (open visits censored at as_of)
        stage = visits["stage"]
        days = visits["days"]
        done = visits["completed"]
        curves: list[tuple[str, KaplanMeier]] = []
        for name in self.model.ladder:
            if name == self.won:
                continue
            m = stage == name
            if not m.any():
                continue
            curves.append((name, kaplan_meier(days[m], done[m], confidence=c.confidence)))
        tails = [km.percentile(0.1) for _, km in curves if len(km)]
        finite = [t for t in tails if math.isfinite(t)]
        upper = 1.2 * max(finite) if finite else max([float(km.time[-1]) for _, km in curves if len(km)] + [1.0])
        grid = self._grid(upper)
        out: dict[str, list[Any]] = {"stage": [], "days": [], "survival": [], "lower": [], "upper": []}
        for name, km in curves:
            out["stage"] += [name] * len(grid)
            out["days"] += grid.tolist()
            out["survival"] += np.atleast_1d(km.survival_at(grid)).tolist()
            out["lower"] += np.atleast_1d(km.lower_at(grid)).tolist()
            out["upper"] += np.atleast_1d(km.upper_at(grid)).tolist()
        ladder = [s for s in self.model.ladder if s != self.won]
        curve_table = Table({"stage": out["stage"], "days": np.array(out["days"]), "survival": np.array(out["survival"]),
                             "lower": np.array(out["lower"]), "upper": np.array(out["upper"])},
                            name="StageSurvival", units={"days": "days"}, categories={"stage": ladder},
                            definition=("Kaplan-Meier curve of the time spent in each stage per visit (open visits "
                                        "censored at as_of), sampled at evenly spaced days: " + KaplanMeier.definition),
                            inputs={"visits": int(len(days)), "completed": int(done.sum())},
                            options={"confidence": c.confidence, "points": _CURVE_POINTS + 1})
        n = int(np.asarray(tis["visits"]).sum())
        self.add("time_in_stage", tis, {"time_in_stage": tis, "curves": curve_table}, n=n,
                 size=f"{n:,} visits ({int((~done).sum()):,} still open)")

    def _conversion_durations(self) -> tuple[str, str, np.ndarray, np.ndarray]:
        a, b = self.model.ladder[0], self.won or self.model.ladder[-1]
        t = self.lc.conversion_times(a, b)
        return a, b, t["days"], t["outcome"].astype(np.int32)

    def time_to_convert(self) -> None:
        lc = self.lc
        c = self.cfg
        a, b, days, outcome = self._conversion_durations()
        ttc = lc.time_to_convert(a, b, by_segment=c.segment is not None, confidence=c.confidence)
        cols = ttc
        converted = days[outcome == 1]
        p90 = float(np.asarray(cols["p90"])[0])
        top = float(np.asarray(cols["max"])[0])
        upper = min(top, 1.5 * p90) if math.isfinite(p90) and p90 > 0 else (top if math.isfinite(top) else 1.0)
        upper = max(upper, 1.0)
        edges = np.linspace(0.0, upper, 31)
        counts, _ = np.histogram(np.minimum(converted, upper), bins=edges)
        hist = Table({"bin_start": edges[:-1], "bin_end": edges[1:], "converted": counts.astype(np.int64)},
                     name="TimeToConvertHistogram", units={"bin_start": "days", "bin_end": "days"},
                     definition=(f"Converted entities by days from reaching {a} to reaching {b}, in 30 equal bins "
                                 f"from 0 to {upper:.1f} days (the converted entities' p90 * 1.5); longer times "
                                 "are counted in the last bin. Entities still open or closed otherwise are not "
                                 "in the histogram (they are in the Kaplan-Meier median and the Aalen-Johansen "
                                 "incidences)."),
                     inputs={"entered": int(len(days)), "converted": int(len(converted))},
                     options={"from_stage": a, "to_stage": b, "bins": 30})
        n = int(np.asarray(cols["entered"])[0])
        self.add("time_to_convert", ttc, {"time_to_convert": ttc, "histogram": hist}, n=n,
                 size=f"{n:,} entered {a}, {len(converted):,} reached {b}")
        # won and lost over time: Aalen-Johansen with closed-otherwise as the competing outcome
        aj = aalen_johansen(days, outcome, labels=["won", "lost"], confidence=c.confidence)
        if not len(aj):
            return self.skip("won_lost", "no durations")
        final = [aj.final("won"), aj.final("lost")]
        inc = aj.incidence
        reach = np.flatnonzero((inc[:, 0] >= 0.99 * final[0]) & (inc[:, 1] >= 0.99 * final[1]))
        upper = float(aj.time[reach[0]]) if len(reach) else float(aj.time[-1])
        grid = self._grid(upper * 1.05)
        curve = Table({"days": grid, "won": np.atleast_1d(aj.incidence_at("won", grid)),
                       "lost": np.atleast_1d(aj.incidence_at("lost", grid)),
                       "open": np.atleast_1d(aj.survival_at(grid)),
                       "lower_won": np.atleast_1d(aj.lower_at("won", grid)),
                       "upper_won": np.atleast_1d(aj.upper_at("won", grid)),
                       "lower_lost": np.atleast_1d(aj.lower_at("lost", grid)),
                       "upper_lost": np.atleast_1d(aj.upper_at("lost", grid))},
                      name="WonLostIncidence", units={"days": "days"},
                      definition=(f"Days from reaching {a}: the probability of having been won (reached {b}) and of "
                                  "having been lost or disqualified first, by the Aalen-Johansen estimator with the "
                                  "two as competing outcomes and open entities censored at as_of; open = neither "
                                  "yet. lower_won, upper_won, lower_lost, upper_lost: the confidence band of each "
                                  "incidence. Sampled at evenly spaced days. " + aj.explain().definition),
                      inputs={"entities": int(len(days)), "won": int((outcome == 1).sum()),
                              "lost": int((outcome == 2).sum()), "open": int((outcome == 0).sum())},
                      options={"from_stage": a, "to_stage": b, "points": _CURVE_POINTS + 1,
                               "confidence": aj.confidence})
        self.add("won_lost", curve, {"incidence": curve}, n=len(days),
                 size=f"{len(days):,} entities ({int((outcome == 0).sum()):,} still open)",
                 summary={"p_won": final[0], "p_lost": final[1], "confidence": aj.confidence,
                          "p_won_lower": float(aj.lower_at("won", aj.time[-1])),
                          "p_won_upper": float(aj.upper_at("won", aj.time[-1])),
                          "p_lost_lower": float(aj.lower_at("lost", aj.time[-1])),
                          "p_lost_upper": float(aj.upper_at("lost", aj.time[-1]))})

    def flow(self) -> None:
        lc = self.lc
        tr = lc.transitions()
        tables = {"transitions": tr, "exits": lc.exits()}
        if self.cfg.reason is not None:
            tables["reasons"] = lc.reasons()
        moves = int(sum(np.asarray(tr[s]).sum() for s in self.model.names))
        self.add("flow", tr, tables, n=moves, size=f"{moves:,} moves between stages of {len(lc):,} entities",
                 summary={"ladder": self.model.ladder, "outcomes": [s.name for s in self.model.stages
                                                                   if s.kind in ("lost", "disqualified")],
                          "recycle_target": self.model.recycle_target})

    def stuck(self) -> None:
        t = self.lc.stuck(percentile=self.cfg.stuck_percentile)
        relabel = {"entity": self.entity_labels} if self.entity_labels is not None else None
        head = _head(t, _STUCK_ROWS, relabel=relabel)
        self.add("stuck", head, {"stuck": head}, n=len(t),
                 size=f"{len(t):,} open entities over the limit; the {min(len(t), _STUCK_ROWS)} furthest over shown")

    # -- revenue ----------------------------------------------------------------------------------
    def _span(self) -> tuple[Any, Any]:
        lc = self.lc
        t = np.asarray(self.frame[self.cfg.time])
        start = t.min()
        if np.issubdtype(t.dtype, np.datetime64):
            start = start.astype("datetime64[D]").astype(t.dtype)
        end = lc.as_of
        last = t.max()
        if end <= last:  # the periods are half-open: the last record must fall before the end
            end = last + (np.timedelta64(1, "s") if np.issubdtype(t.dtype, np.datetime64) else 1)
        return start, end

    def _months(self, start: Any, end: Any) -> float:
        span = (end - start) / np.timedelta64(1, "s") if isinstance(start, np.datetime64) else \
            float(end - start) / self.lc.time_axis.ticks_per_second
        return max(span / 2_629_746.0, 1e-9)

    def velocity(self) -> None:
        c = self.cfg
        opp = c.stage_role("opportunity")
        if c.amount is None:
            return self.skip("velocity", "no amount column (--amount or [columns] amount)")
        if opp is None or self.won is None:
            return self.skip("velocity", "the model has no opportunity stage ([model] opportunity) or no won stage")
        try:
            opps = opportunities_from_stages(self.frame, model=self.model, **self.cols, segment=c.segment,
                                             amount=c.amount, opportunity_stage=opp, sql_stage=c.stage_role("sql"),
                                             time_unit=c.time_unit)
            start, end = self._span()
            vel = velocity(opps, edges=[start, end], segment=c.segment, time_unit=c.time_unit)
        except ValueError as exc:
            return self.skip("velocity", str(exc))
        self._velocity_rows = vel.to_dict("records")
        tables: dict[str, Table] = {"velocity": vel}
        notes = []
        summary: dict[str, Any] = {}
        mid = start + (end - start) // 2
        if isinstance(mid, np.datetime64):  # a whole day, so that every time unit holds it exactly
            mid = mid.astype("datetime64[D]").astype(np.asarray(start).dtype)
        try:
            halves = velocity(opps, edges=[start, mid, end], time_unit=c.time_unit).to_dict("records")
            dec = decompose_velocity(halves[0], halves[1])
            tables["drivers"] = dec.drivers()
            summary = {"v0": dec.v0, "v1": dec.v1, "period_0": [halves[0]["period_start"], halves[0]["period_end"]],
                       "period_1": [halves[1]["period_start"], halves[1]["period_end"]]}
        except (ValueError, TypeError, IndexError) as exc:
            notes.append(f"driver split between the two halves of the data not possible: {exc}")
        overall = self._velocity_rows[0] if self._velocity_rows else {}
        n_open = float(overall.get("n") or 0.0)
        realised = overall.get("realised")
        v = overall.get("velocity")
        summary.update({"count": "average_open", "realised": realised, "velocity": v})
        notes.insert(0, "N is the time-averaged open pipeline (opportunities open at a time, averaged over the "
                        "period) and L the mean time open of the closed deals, so by Little's law V is won revenue "
                        "per day in a steady state; the realised won revenue per day is shown beside it as a check"
                        + (f" (V {v:,.0f} vs realised {realised:,.0f} a day)" if v is not None and realised is not None
                           else "") + ".")
        n = int(round(n_open))
        self.add("velocity", vel, tables, n=n, size=f"{n_open:,.1f} opportunities open on average", notes=notes,
                 summary=summary)

    def forecast(self) -> None:
        c = self.cfg
        if self.won is None:
            return self.skip("forecast", "the model has no won stage")
        # CRM exports write 0 where a record carries no deal amount; the forecast reads those as
        # missing (the mean won amount stands in) rather than as deals worth nothing.
        kw = dict(model=self.model, **self.cols, segment=c.segment, amount=c.amount, time_unit=c.time_unit,
                  no_amount=0.0 if c.amount is not None else None)
        try:
            start, end = self._span()
            fc = forecast_pipeline(self.frame, as_of=end, simulations=1000, **kw)
        except (ValueError, TypeError) as exc:
            return self.skip("forecast", str(exc))
        tables: dict[str, Table] = {"forecast": fc, "stages": fc.stages()}
        notes = [f"the pipeline open at {str(fc.origin)[:10]} run forward through a semi-Markov chain estimated from "
                 "the stage histories (the chance of moving depends on the time already in the stage and on the "
                 "stages visited before); intervals at "
                 "80% from 1,000 seeded simulations. Only entities open now are forecast, not new arrivals.",
                 f"weighted pipeline (stage probability x amount, no timing): {fc.weighted.wins:,.1f} wins, "
                 f"{fc.weighted.revenue:,.0f} revenue."]
        summary: dict[str, Any] = {"origin": fc.origin, "weighted_wins": fc.weighted.wins,
                                   "weighted_revenue": fc.weighted.revenue}
        try:
            bt = backtest_forecast(self.frame, as_of=end, simulations=500, **kw)
            tables["backtest"] = bt.summary()
            semi = next(r for r in bt.summary().to_dict("records") if r["method"] == "semi_markov")
            notes.append(f"backtest over {len(bt.explain().inputs['origins'])} origins 30 days apart: the semi-Markov "
                         f"80% intervals held the actual wins in {semi['coverage_wins']:.0%} of the periods.")
        except (ValueError, TypeError) as exc:
            notes.append(f"backtest not possible: {exc}")
        n_open = len(fc.entities())
        self.add("forecast", fc, tables, n=n_open, size=f"{n_open:,} open entities", notes=notes, summary=summary)

    def plan(self) -> None:
        c = self.cfg
        if self._velocity_rows is None or self.won is None:
            return self.skip("plan", "needs the deal value from the velocity section (amount column, opportunity "
                                     "and won stages)")
        overall = self._velocity_rows[0]
        deal = overall["deal_value"]
        if deal is None or not deal > 0:
            return self.skip("plan", "no won deal with an amount: the deal value is undefined")
        start, end = self._span()
        months = self._months(start, end)
        per_month_factor = {"month": 1.0, "quarter": 3.0, "year": 12.0, "week": 12.0 / 52.0}.get(c.goal_period, 1.0)
        goal = c.goal
        notes = []
        if goal is None:
            goal = float(overall["won_amount"]) / months * per_month_factor
            notes.append(f"goal: the observed won revenue per {c.goal_period} ({goal:,.0f}); set [goal] revenue in "
                         "funnelkit.toml or pass --goal")
        reps = int(self.frame[c.owner].nunique()) if c.owner else 1
        try:
            steps = steps_from_conversion(self.lc.summary().conversion())
            plan = plan_reverse_funnel(goal=float(goal), deal_value=float(deal), steps=steps, won_name=self.won,
                                       reps=max(reps, 1), goal_per_period=True)
        except ValueError as exc:
            return self.skip("plan", str(exc))
        tables: dict[str, Table] = {"plan": plan}
        if c.owner:
            tables["per_rep"] = self._rep_actuals(plan, months / per_month_factor)
        self.add("plan", plan, tables, n=reps, size=f"goal {goal:,.0f} per {c.goal_period}, {reps} reps, deal value "
                                                     f"{deal:,.0f}", notes=notes,
                 summary={"goal": goal, "period": c.goal_period, "reps": reps, "deal_value": deal})

    def _rep_actuals(self, plan: Table, periods: float) -> Table:
        """Per owner and plan stage: entities that reached the stage per period, beside the plan's
        per-rep need."""
        c = self.cfg
        conv = lifecycle(self.frame, model=self.model, **self.cols, segment=c.owner, as_of=c.as_of,
                         time_unit=c.time_unit).conversion(by="segment")
        cols = conv
        need = dict(zip(plan["stage"], plan["per_rep_per_period"]))
        keep = [i for i, s in enumerate(cols["stage"]) if s in need and cols[c.owner][i] != "(all)"]
        reps = [cols[c.owner][i] for i in keep]
        stages = [cols["stage"][i] for i in keep]
        actual = np.array([cols["reached"][i] / periods for i in keep])
        needed = np.array([need[s] for s in stages], dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(needed > 0, actual / needed, np.nan)
        return Table({c.owner: reps, "stage": stages, "actual_per_period": actual, "needed_per_period": needed,
                      "attainment": ratio}, name="PlanPerRep", categories={"stage": self.model.ladder},
                     definition=("Per owner and stage: entities of the owner that reached the stage, per plan period "
                                 "over the data's span (actual_per_period), beside the plan's need per rep per period "
                                 "(needed_per_period); attainment = actual / needed."),
                     inputs={"periods": periods}, options={"period": c.goal_period})

    def sla(self) -> None:
        c = self.cfg
        stage_name = c.response_stage or c.stage_role("mql")
        if stage_name is None:
            return self.skip("sla", "no response stage ([sla] response_stage)")
        if stage_name not in self.model.names:
            raise DataError(_unknown_stage(stage_name, self.model.names, "[sla] response_stage"))
        frame = self.frame
        ent = np.asarray(frame[c.entity])
        tim = np.asarray(frame[c.time])
        stg = np.asarray(frame[c.stage].cat.codes) if hasattr(frame[c.stage], "cat") else None
        cats = list(frame[c.stage].cat.categories) if stg is not None else None
        order = np.lexsort((tim, ent))
        ent_s, tim_s = ent[order], tim[order]
        if stg is not None:
            names_s = np.asarray(cats, dtype=object)[stg[order]]
        else:
            names_s = np.asarray(frame[c.stage], dtype=object)[order]
        is_item = names_s == stage_name
        same_next = np.append(ent_s[1:] == ent_s[:-1], False)
        missing = np.datetime64("NaT") if np.issubdtype(tim.dtype, np.datetime64) else None
        items: dict[str, Any] = {"created": tim_s[is_item]}
        if missing is not None:
            nxt = np.append(tim_s[1:], np.array([missing], dtype=tim.dtype))
            items["first_touch"] = np.where(same_next, nxt, np.array(missing, dtype=tim.dtype))[is_item]
        else:
            nxt = np.append(tim_s[1:], 0).astype(np.float64)
            items["first_touch"] = np.where(same_next, nxt, np.nan)[is_item]
        if c.owner:
            items["rep"] = np.asarray(frame[c.owner], dtype=object)[order][is_item]
        as_of = self.lc.as_of
        as_of_arg = as_of if missing is not None else int(as_of)
        tables: dict[str, Table] = {}
        notes = []
        resp = sla_response(items, created="created", first_touch="first_touch", limit=c.response_limit,
                            as_of=as_of_arg, rep="rep" if c.owner else None, time_unit=c.time_unit,
                            name=f"{stage_name} follow-up within {c.response_limit}")
        tables["response"] = resp
        vol_stage = c.volume_stage or self.model.ladder[0]
        if c.volume_target is not None and c.owner:
            if vol_stage not in self.model.names:
                raise DataError(_unknown_stage(vol_stage, self.model.names, "[sla] volume_stage"))
            first = (names_s == vol_stage)
            idx = np.flatnonzero(first)
            keep = idx[np.append(True, ent_s[idx][1:] != ent_s[idx][:-1])] if len(idx) else idx
            vol = sla_volume({"time": tim_s[keep], "rep": np.asarray(frame[c.owner], dtype=object)[order][keep]},
                             time="time", rep="rep", target=float(c.volume_target), period=c.volume_period,
                             as_of=as_of_arg, time_unit=c.time_unit,
                             name=f"{c.volume_target:g} {vol_stage} per rep per {c.volume_period}")
            tables["volume"] = vol
        else:
            notes.append("volume pacing needs an owner column and [sla] volume_target")
        n = int(is_item.sum())
        self.add("sla", resp, tables, n=n, size=f"{n:,} {stage_name} records", notes=notes,
                 summary={"compliance": resp.compliance, "response_stage": stage_name, "limit": c.response_limit,
                          "volume_stage": vol_stage, "volume_target": c.volume_target})

    def campaign(self) -> None:
        c = self.cfg
        if c.segment is None:
            return self.skip("campaign", "no segment column (--segment or [columns] segment)")
        roles = {r: c.stage_role(r) for r in ("mql", "sql", "opportunity")}
        missing = [r for r, v in roles.items() if v is None]
        if missing:
            return self.skip("campaign", f"the model has no {', '.join(missing)} stage (set [model] "
                                         f"{missing[0]} = \"...\")")
        try:
            rep = campaign_report(self.frame, model=self.model, **self.cols, segment=c.segment, amount=c.amount,
                                  cost=c.costs, mql_stage=roles["mql"], sql_stage=roles["sql"],
                                  opportunity_stage=roles["opportunity"], confidence=c.confidence,
                                  time_unit=c.time_unit)
        except ValueError as exc:
            raise DataError(str(exc)) from None
        notes = [] if c.costs else ["no costs given ([costs] in funnelkit.toml or --cost-file): cost per lead, CAC "
                                    "and ROI are null"]
        if rep.missing_cost and c.costs:
            notes.append(f"segments without a cost: {', '.join(map(str, rep.missing_cost))}")
        n = int(rep["leads"][-1])
        self.add("campaign", rep, {"campaign": rep}, n=n, size=f"{n:,} leads in {len(rep.labels)} segments",
                 notes=notes)

    def attribution(self) -> None:
        c = self.cfg
        if self.touches is None:
            return self.skip("attribution", "no touches given (--touches FILE, or [touches] files)")
        touches, outcomes = self.touches
        try:
            t = compare_attribution(touches, outcomes, models=list(c.attribution_models), entity=c.touch_entity,
                                    time=c.touch_time, channel=c.touch_channel, milestone=c.touch_milestone,
                                    outcome_entity="entity", converted="converted", value="value",
                                    conversion_time="conversion_time", time_unit=c.time_unit)
        except (ValueError, TypeError) as exc:
            raise DataError(f"touches: {exc}") from None
        inputs = t.explain().inputs
        touches_n, paths = int(inputs.get("touches", 0)), int(inputs.get("paths", 0))
        converted = int(np.asarray(outcomes["converted"]).sum()) if "converted" in outcomes else 0
        self.add("attribution", t, {"attribution": t}, n=touches_n,
                 size=f"{touches_n:,} touches on {paths:,} paths, {converted:,} converted",
                 summary={"models": list(c.attribution_models)})

    def event_funnel(self) -> None:
        c = self.cfg
        if self.events is None:
            return self.skip("events", "no events given (--events FILE --steps a,b,c)")
        try:
            wf = window_funnel(self.events, window=c.window, steps=list(c.steps or []), entity=c.event_entity,
                               time=c.event_time, step=c.event_step, time_unit=c.time_unit)
        except (ValueError, TypeError) as exc:
            raise DataError(f"events: {exc}") from None
        self.add("events", wf, {"event_funnel": wf}, n=wf.entities,
                 size=f"{wf.entities:,} entities, window {c.window}",
                 notes=[self.events_note] if self.events_note else [])


def _unknown_stage(name: str, names: list[str], where: str) -> str:
    from .._names import unknown

    return unknown("stage", name, names, where=where)


def outcomes_from_stages(frame: Any, cfg: ReportConfig, entity_labels: np.ndarray | None) -> Any:
    """One row per entity for attribution: ``entity`` (the original ids), ``converted`` (1 when
    it reached the won stage), ``value`` (the amount of its latest won record, 0 without an
    amount column) and ``conversion_time`` (its first won record; its last record otherwise)."""
    won = cfg.model.won
    ent = np.asarray(frame[cfg.entity])
    tim = np.asarray(frame[cfg.time])
    stage = np.asarray(frame[cfg.stage].astype(object))
    amount = np.asarray(frame[cfg.amount], dtype=np.float64) if cfg.amount else np.zeros(len(ent))
    order = np.lexsort((tim, ent))
    ent, tim, stage, amount = ent[order], tim[order], stage[order], amount[order]
    last = np.append(ent[1:] != ent[:-1], True)
    ids = ent[last]
    conv_time = tim[last].copy()
    converted = np.zeros(len(ids), dtype=np.int64)
    value = np.zeros(len(ids))
    is_won = stage == won
    if is_won.any():
        pos = np.searchsorted(ids, ent[is_won])
        converted[pos] = 1
        value[pos] = amount[is_won]  # the latest won record wins (rows are in time order)
        first = np.append(True, ent[is_won][1:] != ent[is_won][:-1])
        conv_time[pos[first]] = tim[is_won][first]
    labels = entity_labels[ids] if entity_labels is not None else ids
    return {"entity": labels, "converted": converted, "value": value, "conversion_time": conv_time}


def build_document(frame: Any, cfg: ReportConfig, *, source: dict[str, Any], entity_labels: np.ndarray | None = None,
                   touches: tuple[Any, Any] | None = None, events: Any = None, events_note: str | None = None,
                   progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Computes every section and returns the report document (JSON-ready)."""
    b = _Builder(frame, cfg, entity_labels=entity_labels, touches=touches, events=events, events_note=events_note,
                 progress=progress)
    b.run()
    lc = b.lc
    times = np.asarray(frame[cfg.time])
    src = dict(source)
    src.update({"rows": int(len(frame)), "entities": len(lc), "first_time": plain(times.min()),
                "last_time": plain(times.max()), "as_of": plain(lc.as_of)})
    return {
        "format": FORMAT, "version": VERSION, "funnelkit": __version__,
        "generated_at": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        "title": cfg.title or "Funnel report", "source": plain(src), "config": cfg.to_dict(),
        "sections": b.sections, "skipped": b.skipped,
    }
