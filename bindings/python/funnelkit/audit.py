"""The qualification audit: does the MQL definition pick the leads that end up winning, does
sales accept what marketing qualifies, and does the definition drift ("do we still agree on
what an MQL is?").

Definitions (``include/funnelkit/audit.hpp``), counts always beside the rates:

* acceptance rate = MQLs accepted by sales / MQLs; MQL -> SQL = MQLs that became SQL / MQLs;
  SQL -> won = those of them won / MQL SQLs;
* against the outcome, among closed leads only (open leads are neither hits nor misses):
  tp = MQL and won, fp = MQL, closed and not won, fn = not MQL and won, tn = the rest of the
  closed leads; precision = tp / (tp + fp), recall = tp / (tp + fn);
* ROC of the score over closed leads (positives = won), one point per distinct score; AUC =
  its trapezoid area = P(score of a won lead > score of a lost one) + 1/2 P(tie).

Rates with a zero denominator are undefined (NaN in ``summary``, null in tables).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from . import _core, _frames, _names, _time
from ._result import Table
from .conversion import _rename

__all__ = ["AuditResult", "qualification_audit", "roc_auc"]

_COUNTS = ("leads", "mqls", "accepted", "sqls", "won", "closed", "mql_sqls", "mql_sql_won", "tp", "fp", "fn", "tn")
_RATES = ("acceptance_rate", "mql_to_sql", "sql_to_won", "precision", "recall", "auc", "mean_score")
_DEFINITION = ("acceptance_rate = MQLs accepted by sales / MQLs; mql_to_sql = MQLs that became SQL / MQLs; "
               "sql_to_won = those won / MQL SQLs; among closed leads: tp = MQL and won, fp = MQL and not won, "
               "fn = not MQL and won, tn = the rest; precision = tp / (tp + fp), recall = tp / (tp + fn); auc = "
               "P(score of a won lead > score of a closed lost one) + 1/2 P(tie); a rate with a zero denominator "
               "is undefined (null).")


def roc_auc(score: Any, label: Any) -> float | None:
    """AUC of ``score`` against 0/1 ``label`` (array-likes of one length: numpy, lists, pandas
    or Polars series, Arrow arrays): the Mann-Whitney probability that a positive scores above
    a negative, ties counted one half. None when a class is empty."""
    return _core.roc_auc(_frames.numbers(score, "score"), _frames.flags(label, "label"))


def _summary_columns(summaries: Sequence[dict[str, Any]]) -> dict[str, Any]:
    cols: dict[str, Any] = {k: np.array([int(s[k]) for s in summaries], dtype=np.int64) for k in _COUNTS}
    cols.update({k: np.array([float(s[k]) for s in summaries], dtype=np.float64) for k in _RATES})
    return cols


class AuditResult(Table):
    """Result of :func:`qualification_audit`.

    The table has one row per drift group (calendar period, or segment value), first column
    ``period_start`` (datetimes for datetime input, else ticks of the time column) or the
    segment column's name (``segment`` when that name is one of the result's columns), then the
    counts and rates; without drift, one row for all leads.
    Attributes: ``summary`` (dict of the overall counts and rates; NaN where undefined),
    ``overall`` (the same as a one-row table), ``roc`` (threshold, fpr, tpr), ``sweep``
    (threshold, mqls, tp, fp, fn, tn, precision, recall, f1) and ``drift`` (this table).
    """

    definition = _DEFINITION

    def __init__(self, raw: dict[str, Any], group: str | None, labels: Any, *, inputs: dict[str, Any],
                 options: dict[str, Any]):
        #: Overall counts and rates (undefined rates are NaN).
        self.summary: dict[str, Any] = dict(raw["overall"])
        by = [dict(d) for d in raw["by_period"]] if group is not None else [self.summary]
        cols: dict[str, Any] = {group: labels} if group is not None else {}
        cols.update(_summary_columns(by))
        super().__init__(cols, inputs=inputs, options=options)
        self._group = group
        roc = raw["roc"]
        self.roc = Table({k: np.asarray(roc[k], dtype=np.float64) for k in ("threshold", "fpr", "tpr")},
                         name="AuditROC", inputs=inputs, options=options,
                         definition="ROC of the score over closed leads (positives = won): leads with score >= "
                                    "threshold are predicted positive; fpr = false positives / closed not won, tpr "
                                    "= true positives / won; the first point has threshold +inf.")
        sw = raw["sweep"]
        self.sweep = Table({k: np.asarray(sw[k]) for k in ("threshold", "mqls", "tp", "fp", "fn", "tn", "precision",
                                                              "recall", "f1")},
                           name="AuditSweep", inputs=inputs, options=options,
                           definition="Per threshold: MQL = score >= threshold; mqls counts every lead, tp, fp, fn, "
                                      "tn the closed ones; precision = tp / (tp + fp), recall = tp / (tp + fn), f1 "
                                      "their harmonic mean; null where undefined.")

    @property
    def overall(self) -> Table:
        """The overall counts and rates as a one-row table."""
        return Table(_summary_columns([self.summary]), name="AuditSummary", definition=_DEFINITION,
                     inputs=self._inputs, options=self._options)

    @property
    def drift(self) -> AuditResult:
        """The drift table (this result): one row per period or segment value."""
        return self

    @property
    def auc(self) -> float | None:
        """Overall AUC of the score; None when undefined."""
        v = self.summary["auc"]
        return None if v != v else float(v)

    def __repr__(self) -> str:
        s = self.summary

        def pct(v: float) -> str:
            return "-" if v != v else f"{100 * v:.1f}%"

        groups = f", {len(self)} {'periods' if self._group == 'period_start' else 'groups'}" if self._group else ""
        head = (f"AuditResult({s['leads']:,} leads, {s['mqls']:,} MQLs: accepted {pct(s['acceptance_rate'])}, "
                f"MQL->SQL {pct(s['mql_to_sql'])}, SQL->won {pct(s['sql_to_won'])}, precision {pct(s['precision'])}, "
                f"recall {pct(s['recall'])}, AUC {'-' if s['auc'] != s['auc'] else format(s['auc'], '.4f')}{groups})")
        return head + ("\n" + "\n".join(super().__repr__().splitlines()[1:]) if self._group else "")


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
    time: str | None = None,
    period: str | None = None,
    tz: Any = "UTC",
    segment: str | None = None,
    sweep: Sequence[float] | None = None,
    time_unit: str | None = None,
) -> AuditResult:
    """Audits the MQL definition against sales acceptance and the final outcome.

    Parameters
    ----------
    leads:
        One row per lead (a pandas or Polars DataFrame or LazyFrame, a PyArrow table, a DuckDB
        relation or a dict of arrays).
    score, mql, threshold:
        ``mql`` names a 0/1 column (the rule's outcome); without it MQL means ``score >=
        threshold``. ``score`` (finite numbers) gives the ROC, the AUC and the sweep.
    accepted, sql, won, closed:
        0/1 columns: accepted by sales, became SQL, won, and (optional) has a final outcome;
        open leads are left out of precision, recall and the ROC (default: every lead is
        closed). ``None`` leaves ``accepted`` or ``sql`` out.
    time, period, tz:
        Drift per calendar ``period`` (``"day"``, ``"week"`` (ISO, Monday), ``"month"`` (the
        default with ``time``), ``"quarter"``, ``"year"``) of the ``time`` column (datetimes,
        or integers in ``time_unit``, default seconds) in the time zone ``tz`` (``"UTC"``, an
        IANA name or an offset in seconds).
    segment:
        Instead of periods: drift per value of this column (e.g. a cohort label or a source).
        ``period=<column name>`` is the deprecated spelling.
    sweep:
        Thresholds to evaluate (default: every distinct score of the closed leads).

    Raises ValueError naming the column, the row and the value for bad input.
    """
    table = _frames.as_table(leads)
    if period is not None and not (isinstance(period, str) and period in _time.PERIODS):
        if isinstance(period, str) and period in _frames.column_names(table) and segment is None:
            _names.renamed("period=<column>", "segment=<column>")
            segment, period = period, None
        else:
            _time.parse_period(period)
    if period is not None and time is None:
        raise ValueError(f"option 'period': value {period!r} needs the time column (time=) to put leads in periods")
    if segment is not None and time is not None:
        raise ValueError("give either time= (drift per calendar period) or segment= (drift per value), not both")
    tz_value = _time.parse_tz(tz)

    def flags(name: str | None, option: str) -> np.ndarray | None:
        return _frames.flags(_frames.column(table, name, option), name) if name else None

    sc = _frames.numbers(_frames.column(table, score, "score"), score) if score else None
    group: str | None = None
    labels: Any = []
    codes = None
    axis = None
    if time is not None:
        period = period or "month"
        ticks, axis = _frames.time_axis(_frames.column(table, time, "time"), time, time_unit)
        starts = _time.calendar_floor(ticks, axis, period, tz_value)
        uniq, inverse = np.unique(starts, return_inverse=True)
        codes = inverse.reshape(-1).astype(np.int32)
        group = "period_start"
    elif segment is not None:
        codes, seg_labels = _frames.category_codes(_frames.column(table, segment, "segment"), segment)
        group = segment if segment not in (*_COUNTS, *_RATES) else "segment"  # a 0/1 column such as "won"
    options_core = _core.AuditOptions(threshold=None if threshold is None else float(threshold),
                                      sweep=[float(x) for x in (sweep or [])])
    try:
        raw = _core.qualification_audit(score=sc, mql=flags(mql, "mql"), accepted=flags(accepted, "accepted"),
                                        sql=flags(sql, "sql"), won=flags(won, "won"), closed=flags(closed, "closed"),
                                        period=codes, options=options_core)
    except ValueError as exc:
        raise ValueError(_rename(str(exc), score=score, mql=mql, accepted=accepted, sql=sql, won=won,
                                 closed=closed)) from None
    present = [int(p) for p in raw["periods"]]
    if group == "period_start":
        assert axis is not None
        labels = axis.datetimes(uniq[np.asarray(present, dtype=np.int64)])
    elif group is not None:
        labels = [seg_labels[p] for p in present]
    inputs = {"rows": int(raw["overall"]["leads"]),
              "columns": {"score": score, "mql": mql, "accepted": accepted, "sql": sql, "won": won, "closed": closed,
                          "time": time, "segment": segment}}
    options = {"threshold": threshold, "sweep": None if sweep is None else [float(x) for x in sweep],
               "period": period if time is not None else None, "tz": tz if isinstance(tz, (str, int)) else str(tz),
               "time_unit": axis.unit if axis is not None else None,
               "time_is_datetime": axis.is_datetime if axis is not None else None}
    return AuditResult(raw, group, labels, inputs=inputs, options=options)
