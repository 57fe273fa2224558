"""The closed-loop campaign and source report (``include/funnelkit/campaign.hpp``).

Per segment of stage-change records (lead source, campaign, or any column): leads, MQLs, SQLs,
opportunities, won, lost and revenue; with a cost per segment, cost per lead, cost per MQL,
customer acquisition cost and ROI; conversion rates with confidence intervals; days to win and
sales velocity; and a two-proportion z-test of each segment's lead-to-won rate.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from . import _core, _frames, _names
from ._result import Table
from .conversion import _rename
from .model import StageModel

__all__ = ["CampaignReport", "campaign_report", "INTERVALS", "TOTAL"]

#: Label of the total row.
TOTAL = "(all)"
#: Confidence interval methods for the rates.
INTERVALS = ("wilson", "agresti_coull", "jeffreys", "clopper_pearson")
_RATES = ("lead_to_mql", "mql_to_sql", "sql_to_opportunity", "opportunity_to_won", "lead_to_won")


class CampaignReport(Table):
    """Result of :func:`campaign_report`: one row per segment, then the total row ``"(all)"``.

    Columns: the segment (named after the segment column), ``leads``, ``mqls``, ``sqls``,
    ``opportunities``, ``won``, ``lost``, ``revenue``, ``cost``, ``cost_missing``,
    ``cost_per_lead``, ``cost_per_mql``, ``cac``, ``roi``; each rate (``lead_to_mql``,
    ``mql_to_sql``, ``sql_to_opportunity``, ``opportunity_to_won``, ``lead_to_won``) with
    ``_lower`` / ``_upper`` bounds; ``days_to_win`` (days), ``average_deal``, ``win_rate``,
    ``velocity`` (revenue per day); ``z``, ``p_value`` and ``p_holm`` of the lead-to-won test
    (a = all other leads, b = the segment: z > 0 when the segment converts better). Undefined
    numbers are null. ``missing_cost`` lists the segments with leads but no cost.
    """

    definition = ("Per segment (an entity's segment is that of its earliest record): leads, MQLs, SQLs, "
                  "opportunities and won reached (skipped stages implied or not, per the skipped option), lost = "
                  "reached a lost stage and never won, revenue = amount of each won entity's latest won record. "
                  "cost_per_lead = cost / leads, cost_per_mql = cost / MQLs, cac = cost / won, roi = (revenue - "
                  "cost) / cost; rates with confidence intervals; days_to_win = mean days from the first record to "
                  "the first won record; average_deal = revenue / won; win_rate = won / (won + lost); velocity = "
                  "opportunities * average_deal * win_rate / days_to_win (revenue per day); z and p_value: pooled "
                  "two-proportion z-test of lead-to-won, b = the segment against a = all other leads (z > 0 when "
                  "the segment converts better), p_holm = Holm-adjusted over the segments tested. The total row's "
                  "cost metrics are null when a segment with leads has no cost.")

    def __init__(self, raw: dict[str, Any], labels: list[Any], segment_name: str, *, inputs: dict[str, Any],
                 options: dict[str, Any]):
        cols: dict[str, Any] = {segment_name: [*labels, TOTAL]}
        for key, values in raw.items():
            if key in ("segment", "missing_cost"):
                continue
            cols[key] = np.asarray(values).astype(bool) if key == "cost_missing" else np.asarray(values)
        units = {"days_to_win": "days", "velocity": "revenue per day"}
        super().__init__(cols, inputs=inputs, options=options, units=units)
        #: Segment labels (rows before the total), and the segment column's name.
        self.labels = list(labels)
        self.segment_name = segment_name
        #: Segments with leads but no cost (their cost metrics are null, and the total's).
        self.missing_cost = [labels[i] for i in raw["missing_cost"]]

    def row(self, segment: Any) -> dict[str, Any]:
        """One segment's row (or the total with ``"(all)"``) as a dict of plain values; an
        unknown segment raises ValueError naming the closest ones."""
        names = [*self.labels, TOTAL]
        if segment not in names:
            raise ValueError(_names.unknown("segment", segment, names))
        return self.to_dict("records")[names.index(segment)]

    def __repr__(self) -> str:
        d = self._table()
        lines = [f"CampaignReport(by {self.segment_name!r}, {len(self.labels)} segments"
                 + (f", missing cost: {self.missing_cost}" if self.missing_cost else "") + ")"]
        width = max([len(str(x)) for x in d[self.segment_name]] + [4])
        for i, lab in enumerate(d[self.segment_name]):
            cac = d["cac"][i]
            lines.append(f"  {str(lab):<{width}}  leads {d['leads'][i]:>8,}  MQL {d['mqls'][i]:>7,}  "
                         f"won {d['won'][i]:>6,}  revenue {d['revenue'][i]:>14,.0f}  "
                         f"CAC {'-' if cac != cac else format(cac, ',.0f'):>9}")
        return "\n".join(lines)


def _ladder_stage(model: StageModel, name: str, option: str) -> str:
    if name not in model.ladder:
        raise ValueError(_names.unknown("stage", name, model.ladder, where=f"option '{option}'"))
    return name


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
    absent: str = "error",
    mql_stage: str = "MQL",
    sql_stage: str = "SQL",
    opportunity_stage: str = "Opportunity",
    skipped: str = "implied",
    confidence: float = 0.95,
    interval: str = "wilson",
    time_unit: str | None = None,
    level: float | None = None,
    threads: int = 1,
) -> CampaignReport:
    """Closed-loop report per source, campaign or any segment of stage-change records.

    Parameters
    ----------
    data:
        Stage-change records, one row per move of an entity into a stage (a pandas or Polars
        DataFrame or LazyFrame, a PyArrow table, a DuckDB relation or a dict of arrays).
    model:
        The stage model (default :meth:`StageModel.b2b`); ``mql_stage``, ``sql_stage`` and
        ``opportunity_stage`` name its ladder stages (checked, with the closest names).
    entity, time, stage, segment, amount:
        Column names; ``amount`` is the deal value of won records (``None``: revenue 0).
    cost:
        Segment label -> cost (finite, >= 0): gives cost per lead, cost per MQL, CAC and ROI.
        Segments without a cost are flagged (``cost_missing``, ``missing_cost``). A label that
        is not a segment of the data is an error listing the closest segment names
        (``absent="warn"``: a warning, and the cost is ignored).
    skipped:
        ``"implied"`` (reaching a stage implies the earlier ones) or ``"recorded"``.
    confidence, interval:
        Confidence level and method (``"wilson"``, ``"agresti_coull"``, ``"jeffreys"``,
        ``"clopper_pearson"``) of the rate intervals. ``level`` is the deprecated name of
        ``confidence``.
    time_unit:
        What integer times count (``"s"`` default, ``"ms"``, ``"us"``, ``"ns"``), for days to
        win and velocity; datetime columns carry their own unit.
    threads:
        Worker threads (>= 1) for records not sorted by entity: each folds the leads of its
        hash partition; the report never depends on it.

    Raises ValueError or TypeError naming the column, the row and the value for bad input.
    """
    if level is not None:
        _names.renamed("level", "confidence")
        confidence = level
    prep = _Prepared(data, model=model, entity=entity, time=time, stage=stage, segment=segment, amount=amount,
                     mql_stage=mql_stage, sql_stage=sql_stage, opportunity_stage=opportunity_stage, skipped=skipped,
                     confidence=confidence, interval=interval, time_unit=time_unit, threads=threads)
    options_core = prep.core_options(cost, absent)
    try:
        raw = _core.campaign_report(prep.model._m, entity=prep.ent, time=prep.tim, stage=prep.stg, segment=prep.seg,
                                    amount=prep.amt, options=options_core)
    except ValueError as exc:
        raise ValueError(prep.renamed(exc)) from None
    return prep.report(raw, cost)


class _Prepared:
    """The checked options and the columns of a campaign report as codes: what the report on
    one machine and the per-partition states of funnelkit.spark / funnelkit.dask share.
    ``categories`` fixes the segment labels (their codes are then the positions in it)."""

    def __init__(self, data: Any, *, model: StageModel | None, entity: str, time: str, stage: str, segment: str,
                 amount: str | None, mql_stage: str, sql_stage: str, opportunity_stage: str, skipped: str,
                 confidence: float, interval: str, time_unit: str | None, categories: list[Any] | None = None,
                 threads: int = 1):
        self.threads = _names.threads_option(threads)
        self.model = model or StageModel.b2b()
        self.skipped = _names.choice(skipped, ("implied", "recorded"), "skipped")
        self.interval = _names.choice(interval, INTERVALS, "interval")
        self.stages = {opt: _ladder_stage(self.model, name, opt) for opt, name in
                       (("mql_stage", mql_stage), ("sql_stage", sql_stage), ("opportunity_stage", opportunity_stage))}
        self.confidence = confidence
        self.columns = {"entity": entity, "time": time, "stage": stage, "segment": segment, "amount": amount}
        table = _frames.as_table(data)
        self.ent = _frames.entity_codes(_frames.column(table, entity, "entity"), entity)
        self.tim, self.axis = _frames.time_axis(_frames.column(table, time, "time"), time, time_unit)
        self.stg = _frames.stage_codes(_frames.column(table, stage, "stage"), self.model.names, stage)
        self.seg, labels = _frames.category_codes(_frames.column(table, segment, "segment"), segment, categories)
        self.labels = list(labels)
        self.amt = _frames.amounts(_frames.column(table, amount, "amount"), amount) if amount else None

    def core_options(self, cost: Mapping[Any, float] | None, absent: str) -> Any:
        costs = [float("nan")] * len(self.labels)
        if cost is not None:
            segment = self.columns["segment"]
            _names.check_in_data(list(cost), self.labels, what="segment", column=segment, option="cost", absent=absent)
            by_label = {str(lab): i for i, lab in enumerate(self.labels)}
            for key, c in cost.items():
                if str(key) not in by_label:
                    continue  # absent="warn": ignored
                c = float(c)
                if not (c >= 0) or np.isinf(c):
                    raise ValueError(f"option 'cost': value {c} for segment {key!r} is not a cost >= 0")
                costs[by_label[str(key)]] = c
        return _core.CampaignOptions(**self.stages, skipped=self.skipped, cost=costs,
                                     confidence=float(self.confidence), interval=self.interval,
                                     ticks_per_day=86_400.0 * self.axis.ticks_per_second, threads=self.threads)

    def renamed(self, exc: Exception) -> str:
        return _rename(str(exc), **self.columns)

    def state(self) -> Any:
        """The mergeable CampaignState of these rows (with every segment label)."""
        try:
            return _core.campaign_sums(self.model._m, entity=self.ent, time=self.tim, stage=self.stg,
                                       segment=self.seg, amount=self.amt, options=self.core_options(None, "error"),
                                       segments=len(self.labels))
        except ValueError as exc:
            raise ValueError(self.renamed(exc)) from None

    def report(self, raw: Any, cost: Mapping[Any, float] | None, **inputs: Any) -> CampaignReport:
        inputs = {"rows": int(len(self.ent)), "entities": int(raw["leads"][-1]) if len(raw["leads"]) else 0,
                  "columns": dict(self.columns), **inputs}
        options = {**self.stages, "skipped": self.skipped, "confidence": float(self.confidence),
                   "interval": self.interval, "cost": {str(k): float(v) for k, v in (cost or {}).items()},
                   "time_unit": self.axis.unit, "time_is_datetime": self.axis.is_datetime}
        return CampaignReport(dict(raw), list(self.labels), self.columns["segment"], inputs=inputs, options=options)
