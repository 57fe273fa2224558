"""Drivers of conversion: which segment values, or which events, go with converting (or with
dropping out) more often than the rest.

For a feature v (a value of a segment column such as ``source`` or ``campaign``, or "saw event
e") and a binary outcome, the entities form the 2x2 table (has v / has not) x (outcome / not).
The core (``include/funnelkit/drivers.hpp``) computes, per feature:

* the odds ratio ``(a d) / (b c)`` with its Woolf (logit) interval ``exp(ln OR +- z se)``,
  ``se = sqrt(1/a + 1/b + 1/c + 1/d)``, adding 1/2 to every cell when one is 0
  (Haldane-Anscombe; ``corrected`` says so);
* a two-sided p-value: Fisher's exact test when an expected count is below ``min_expected``
  (5), Pearson's chi-squared with Yates' correction otherwise (``test="automatic"``), or one of
  them for every row (``test="fisher"`` / ``"chi2"``);
* the Benjamini-Hochberg q-value over every tested feature, and a rank: by q-value, then by the
  size of the effect ``|ln OR|``.

A driver is an association, not a cause: entities with a value may differ from the others in
ways the table does not see.

:func:`drivers` reads stage histories (who reached the target stage, among those who reached the
base stage); :func:`dropoff_drivers` reads event streams (which events were seen by those who
dropped out at a funnel step, against those who went on). Both observe every entity equally
long, or time alone would look like a driver: :func:`drivers` over a maturity window (entities
followed for T, the outcome reached within T), :func:`dropoff_drivers` at a landmark (events in
the first tau after entry, among the entities that had not gone on by then).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from . import _core, _frames, _names
from ._result import Table, shown as _shown
from .conversion import conversion
from .model import StageModel
from .window_funnel import window_funnel

__all__ = ["Drivers", "drivers", "dropoff_drivers", "DRIVER_TESTS"]

#: How the p-value of each feature is computed.
DRIVER_TESTS = ("automatic", "fisher", "chi2")
_ADJUST = ("benjamini_hochberg", "holm", "none")

_STATISTICS = (
    "For a feature v and the outcome, a = entities with v and the outcome, b = with v without it, c = "
    "without v with the outcome, d = neither. odds_ratio = (a d) / (b c), with 1/2 added to every cell "
    "when one is 0 (Haldane-Anscombe; corrected = true); lower, upper: the Woolf interval exp(ln OR +- z "
    "sqrt(1/a + 1/b + 1/c + 1/d)) at the confidence level. p_value: two-sided, Fisher's exact test "
    "(the hypergeometric probability of every table no more likely than the observed one, margins "
    "fixed) when test = fisher, or when test = automatic and an expected count is below min_expected; "
    "otherwise Pearson's chi-squared with Yates' correction. q_value: the p-values adjusted over every "
    "tested feature (Benjamini-Hochberg by default). rank: by q_value, then by |ln odds_ratio| "
    "descending; features whose table has an empty row or column are untested and ranked last. "
    "A driver is an association, not a cause: entities with v may differ from the others in ways the "
    "table does not see.")


class Drivers(Table):
    """Result of :func:`drivers` and :func:`dropoff_drivers`: one row per feature, ranked.

    Columns: the feature (``segment`` and ``value`` for segment drivers, ``event`` for drop-off
    drivers), ``entities`` (with the feature), ``<outcome>`` (of them, with the outcome:
    ``converted`` or ``dropped``), ``rate``, then the same for everyone else (``entities_without``,
    ``<outcome>_without``, ``rate_without``), ``odds_ratio``, ``lower``, ``upper`` (its interval),
    ``p_value``, ``q_value``, ``test`` (``"fisher"`` or ``"chi2"``; empty when untested),
    ``corrected`` and ``rank`` (1 = strongest evidence). Attributes: ``outcome`` (the outcome's
    word), ``population`` (entities compared), ``with_outcome`` (of them, with the outcome) and
    ``confidence``. A driver is an association, not a cause.
    """

    definition = _STATISTICS

    def __init__(self, raw: dict[str, Any], labels: dict[str, list[Any]], *, outcome: str, confidence: float,
                 definition: str, inputs: dict[str, Any], options: dict[str, Any]):
        feature = np.asarray(raw["feature"], dtype=np.int64)
        cols: dict[str, Any] = {k: np.asarray(v, dtype=object)[feature] for k, v in labels.items()}
        cols.update({
            "entities": raw["with_total"], outcome: raw["with_outcome"], "rate": raw["rate_with"],
            "entities_without": raw["without_total"], f"{outcome}_without": raw["without_outcome"],
            "rate_without": raw["rate_without"], "odds_ratio": raw["odds_ratio"], "lower": raw["lower"],
            "upper": raw["upper"], "p_value": raw["p_value"], "q_value": raw["q_value"], "test": list(raw["test"]),
            "corrected": np.asarray(raw["corrected"], dtype=bool), "rank": raw["rank"]})
        super().__init__(cols, inputs=inputs, options=options, definition=definition)
        #: The outcome's word: "converted" or "dropped".
        self.outcome = outcome
        #: Entities of the population, and those of them with the outcome.
        self.population = int(raw["entities"])
        self.with_outcome = int(raw["with_outcome_total"])
        #: Confidence level of the odds-ratio intervals.
        self.confidence = float(confidence)

    @property
    def odds_ratio(self) -> np.ndarray:
        """Odds ratio of the outcome with the feature over without it (rank order)."""
        return self.column("odds_ratio")

    @property
    def p_value(self) -> np.ndarray:
        """Two-sided p-value of independence (rank order; NaN when untested)."""
        return self.column("p_value")

    @property
    def q_value(self) -> np.ndarray:
        """Adjusted p-value over the tested features (rank order; NaN when untested)."""
        return self.column("q_value")

    def significant(self, level: float = 0.05) -> Table:
        """The rows whose q-value is at most ``level``, in rank order."""
        if not 0.0 < level < 1.0:
            raise ValueError(f"option 'level': value {level!r} must lie strictly between 0 and 1")
        cols = self._table()
        with np.errstate(invalid="ignore"):
            keep = np.asarray(cols["q_value"], dtype=np.float64) <= level
        out = {k: (np.asarray(v, dtype=object) if isinstance(v, list) else np.asarray(v))[keep]
               for k, v in cols.items()}
        return Table(out, name="Drivers", definition=self.explain().definition, inputs=self._inputs,
                     options={**self._options, "level": level})

    def __repr__(self) -> str:
        head = (f"Drivers({len(self)} features; {self.with_outcome:,} of {self.population:,} entities "
                f"{self.outcome}; association, not cause)")
        return head + "\n" + "\n".join(super().__repr__().splitlines()[1:])


# -- helpers -------------------------------------------------------------------------------------
def _is_missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and v != v) or type(v).__name__ in ("NaTType", "NAType")


def _value_codes(raw: Any, name: str) -> tuple[np.ndarray, list[Any]]:
    """Codes (int64, -1 for a missing value) and the sorted distinct labels of a column, the
    same for every input format."""
    values = _frames._values(raw)
    try:
        import pandas as pd
    except ImportError:  # pandas is optional: the numpy path below
        pd = None
    if pd is not None and values.dtype.kind in "OUSf":
        try:
            codes, uniques = pd.factorize(values, sort=True, use_na_sentinel=True)  # missing -> -1
        except TypeError:
            raise TypeError(f"column '{name}': values must be of one type (e.g. all strings)") from None
        return codes.astype(np.int64), [_frames._plain(u) for u in np.asarray(uniques)]
    if values.dtype.kind == "f":
        missing = np.isnan(values)
    elif values.dtype.kind == "O":
        missing = np.fromiter((_is_missing(v) for v in values), dtype=bool, count=len(values))
    else:
        missing = np.zeros(len(values), dtype=bool)
    codes = np.full(len(values), -1, dtype=np.int64)
    present = values[~missing]
    try:
        uniques, inverse = np.unique(present, return_inverse=True)
    except TypeError:
        raise TypeError(f"column '{name}': values must be of one type (e.g. all strings)") from None
    codes[~missing] = inverse.reshape(-1)
    return codes, [_frames._plain(u) for u in uniques]


def _options(test: str, confidence: float, adjust: str, min_expected: float) -> Any:
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float, np.floating)) \
            or not 0.0 < float(confidence) < 1.0:
        raise ValueError(f"option 'confidence': value {confidence!r} must lie strictly between 0 and 1")
    return _core.DriverOptions(test=_names.choice(test, DRIVER_TESTS, "test"), confidence=float(confidence),
                               adjust=_names.choice(adjust, _ADJUST, "adjust"), min_expected=float(min_expected))


def _dense_entities(raw: Any, name: str, with_codes: bool = False) -> Any:
    """Per row, a dense entity index 0..E-1 (in order of the sorted entity codes), and the ids of
    the E entities as the other funnelkit results report them (the original ids, or the codes);
    with ``with_codes``, also each row's entity code."""
    codes, labels = _frames.entity_ids(raw, name)
    uniq, dense = np.unique(codes, return_inverse=True)
    ids = uniq if labels is None else labels[uniq]
    dense = dense.reshape(-1).astype(np.int64)
    return (dense, ids, (codes, uniq)) if with_codes else (dense, ids)


def _reach_times(model: StageModel, codes_of: tuple[np.ndarray, np.ndarray], ticks: np.ndarray,
                 stage_code: np.ndarray, skipped: str, base: str, target: str) -> tuple[np.ndarray, np.ndarray]:
    """When each entity (in dense order) reached ``base`` and ``target``, from the core's stage
    histories as :func:`funnelkit.conversion` reads them (the smallest int64 when never)."""
    codes, uniq = codes_of
    h = _core.build_histories(model._m, codes, ticks, stage_code, None, None, _core.HistoryOptions())
    times = np.asarray(h.entry_times(skipped == "implied"))
    rows = np.searchsorted(uniq, np.asarray(h.summary()["entity"], dtype=np.int64))
    ladder = model.ladder
    never = np.iinfo(np.int64).min
    out = []
    for name in (base, target):
        t = np.full(len(uniq), never, dtype=np.int64)
        t[rows] = times[:, ladder.index(name)]
        out.append(t)
    return out[0], out[1]


def _span(ticks: int, axis: Any) -> str:
    """A duration in ticks as text: the ticks and their unit, and days when that unit is known."""
    per_second = {"s": 1, "ms": 1e3, "us": 1e6, "ns": 1e9}.get(axis.unit)
    days = f"{ticks / per_second / 86_400:.1f} days" if per_second else ""
    if axis.is_datetime and days:
        return days
    return f"{ticks} {axis.unit}" + (f" ({days})" if days else "")


def _member(ids: np.ndarray, chosen: np.ndarray) -> np.ndarray:
    """Which of ``ids`` are among ``chosen`` (ids of one kind)."""
    try:
        return np.isin(ids, chosen)
    except TypeError:  # ids that numpy cannot sort together
        pick = set(chosen.tolist())
        return np.fromiter((x in pick for x in ids.tolist()), dtype=bool, count=len(ids))


# -- stage histories -----------------------------------------------------------------------------
def drivers(
    data: Any,
    *,
    target: str,
    segments: Sequence[str],
    base: str | None = None,
    model: StageModel | None = None,
    entity: str = "entity",
    time: str = "time",
    stage: str = "stage",
    skipped: str = "implied",
    maturity: Any = "auto",
    as_of: Any = None,
    time_unit: str | None = None,
    open_entities: str = "count",
    test: str = "automatic",
    confidence: float = 0.95,
    adjust: str = "benjamini_hochberg",
    min_expected: float = 5.0,
) -> Drivers:
    """Drivers of conversion to ``target``: for every value of every segment column, the odds
    ratio of reaching ``target`` with that value against everyone else, with its interval, a
    p-value and the Benjamini-Hochberg q-value, ranked (PostHog calls this correlation analysis).

    Parameters
    ----------
    data:
        Stage-change records, one row per move of an entity into a stage (a pandas or Polars
        DataFrame or LazyFrame, a PyArrow table, a DuckDB relation or a dict of numpy arrays),
        with the segment columns beside them. Rows may come in any order.
    target:
        The stage whose reach is the outcome (a ladder stage of ``model``, e.g. ``"Customer"``);
        an unknown name is an error listing the closest stages.
    segments:
        Columns whose values are tested (``["source", "campaign", "rep"]``). An entity's value is
        the one on its earliest record (ties: the first row); a missing value (None, NaN, null)
        gives the entity no value of that column, so it counts among "everyone else" for each.
    base:
        The population: entities that reached this stage (default: the first ladder stage, i.e.
        every entity). Entities that never reached it are left out.
    model, entity, time, stage, skipped:
        As in :func:`funnelkit.conversion`: the stage model (default B2B), column names, and
        whether reaching a stage implies the earlier ones (``"implied"``) or not
        (``"recorded"``).
    maturity:
        The maturity window T, so that every entity compared has been followed equally long.
        With T, the population is the entities that reached ``base`` at least T before
        ``as_of`` (entry = the time they reached ``base``), and the outcome is reaching
        ``target`` within T of entry (by entry + T, inclusive). Without it, entities that arrived
        shortly before the end of the data have had no time to convert, and any segment tied
        to time (arrival month, a new campaign, a new rep) looks like a bad one. ``"auto"``
        (default): T is the 90th percentile of the time from ``base`` to ``target`` among the
        entities that reached both (0 when none did). A duration (``"90d"``,
        ``datetime.timedelta``; a bare integer only for an integer time column, in its ticks)
        sets T; ``None`` turns the window off (every entity in ``base`` counts, converted or
        not by the end of the data; then see ``open_entities``).
    as_of:
        The end of the follow-up (a timestamp like the time column); default the last record.
    time_unit:
        The unit of an integer time column (default seconds), for ``maturity``.
    open_entities:
        What to do with entities that are still open: they have not reached ``target`` (within
        T, with a maturity window) and their latest record (at or before entry + T, with a
        maturity window) is not a terminal stage (won, lost or disqualified in ``model``).
        ``"count"`` (default): they count as not converted. ``"exclude"``: they leave the
        population, so only decided entities are compared (an entity recycled after a loss is
        open again). Without a maturity window, ``"count"`` penalises recent arrivals and
        ``"exclude"`` still favours segments that are decided quickly.
    test:
        ``"automatic"`` (Fisher's exact test when an expected count is below ``min_expected``,
        chi-squared with Yates' correction otherwise), ``"fisher"`` or ``"chi2"``.
    confidence:
        Level of the odds-ratio interval, in (0, 1).
    adjust:
        ``"benjamini_hochberg"`` (default), ``"holm"`` or ``"none"``: the adjustment over every
        tested value of every segment column.

    Returns a :class:`Drivers` table in rank order, columns ``segment`` (the column name) and
    ``value`` first. Raises ValueError naming the column, the row and the value for bad input.
    """
    if isinstance(segments, str):
        raise TypeError("option 'segments': expected a list of column names, got one string")
    segments = list(segments)
    if not segments:
        raise ValueError("option 'segments': give at least one segment column")
    if len(set(segments)) != len(segments):
        dup = next(s for s in segments if segments.count(s) > 1)
        raise ValueError(f"option 'segments': column {dup!r} is repeated")
    opts = _options(test, confidence, adjust, min_expected)
    open_entities = _names.choice(open_entities, ("count", "exclude"), "open_entities")
    model = model or StageModel.b2b()
    table = _frames.as_table(data)
    seg_raw = {s: _frames.column(table, s, "segments") for s in segments}
    reach = conversion(table, model=model, entity=entity, time=time, stage=stage, skipped=skipped, per_entity=True)
    base_name = base if base is not None else reach.stages[0]
    reach.entities_at(target)  # checks the names
    reach.entities_at(base_name)

    dense, ids, codes_of = _dense_entities(_frames.column(table, entity, "entity"), entity, with_codes=True)
    ticks, axis = _frames.time_axis(_frames.column(table, time, "time"), time, time_unit)
    order = np.lexsort((np.arange(len(dense)), ticks, dense))  # by entity, time, row
    first = order[np.r_[True, dense[order][1:] != dense[order][:-1]]] if len(order) else order
    stage_code = _frames.stage_codes(_frames.column(table, stage, "stage"), model.names, stage)
    base_time, target_time = _reach_times(model, codes_of, ticks, stage_code, skipped, base_name, target)
    never = np.iinfo(np.int64).min
    in_base = base_time != never
    reached = target_time != never

    window = None
    if maturity is not None:
        if isinstance(maturity, str) and maturity == "auto":
            both = in_base & reached & (target_time >= base_time)
            lags = (target_time[both] - base_time[both]).astype(np.float64)
            window = int(np.ceil(np.quantile(lags, 0.9))) if len(lags) else 0
        else:
            window = int(axis.duration(maturity, "maturity"))
            if window < 0:
                raise ValueError(f"option 'maturity': value {maturity!r} is negative")
    end = int(ticks.max()) if len(ticks) else 0
    if as_of is not None:
        end = int(axis.timestamp(as_of, "as_of"))
    outcome = np.full(len(ids), 2, dtype=np.uint8)
    if window is None:
        outcome[in_base] = reached[in_base].astype(np.uint8)
        bound = np.full(len(ids), np.iinfo(np.int64).max, dtype=np.int64)
    else:
        matured = in_base & (base_time <= end - window)
        bound = np.where(in_base, base_time + window, never)
        outcome[matured] = (reached[matured] & (target_time[matured] <= bound[matured])).astype(np.uint8)
    if open_entities == "exclude":
        # Each entity's latest record, at or before entry + T with a maturity window.
        seen = ticks[order] <= bound[dense[order]]
        rows = order[seen]
        ents = dense[rows]
        last_rows = rows[np.r_[ents[1:] != ents[:-1], True]] if len(rows) else rows
        terminal = np.array([st.kind != "step" for st in model.stages], dtype=bool)
        decided = np.zeros(len(ids), dtype=bool)
        decided[dense[last_rows]] = terminal[stage_code[last_rows]]
        outcome[(outcome == 0) & ~decided] = 2

    member_entity, member_feature = [], []
    seg_col: list[Any] = []
    val_col: list[Any] = []
    offset = 0
    for s in segments:
        codes, labels = _value_codes(seg_raw[s], s)
        per_entity = codes[first]
        has = per_entity >= 0
        member_entity.append(np.flatnonzero(has).astype(np.int64))
        member_feature.append((per_entity[has] + offset).astype(np.int32))
        seg_col += [s] * len(labels)
        val_col += labels
        offset += len(labels)
    raw = _core.drivers(outcome, np.concatenate(member_entity), np.concatenate(member_feature), offset, opts)
    inputs = {"rows": int(len(dense)), "entities": int(len(ids)), "population": int(raw["entities"]),
              "columns": {"entity": entity, "time": time, "stage": stage, "segments": segments}}
    options = {"target": target, "base": base_name, "skipped": skipped,
               "maturity": None if maturity is None else _shown(maturity), "maturity_ticks": window,
               "as_of": end, "time_unit": axis.unit, "time_is_datetime": axis.is_datetime,
               "open_entities": open_entities, "test": test, "confidence": float(confidence),
               "adjust": adjust, "min_expected": float(min_expected)}
    if window is None:
        definition = (f"Drivers of conversion without a maturity window: among the entities that reached {base_name!r}"
                      + (" and are decided (reached the target, or whose latest record is a terminal stage)"
                         if open_entities == "exclude" else "")
                      + f", the outcome is reaching {target!r} by the end of the data (recent arrivals have had less "
                      "time, so segments tied to arrival time are confounded with it)")
    else:
        definition = (f"Drivers of conversion with a maturity window T = {_span(window, axis)}"
                      + (" (the 90th percentile of the time from base to target among those who reached both)"
                         if isinstance(maturity, str) else "")
                      + f": among the entities that reached {base_name!r} at least T before as_of (entry = that time)"
                      + (" and are decided by entry + T (reached the target, or their latest record by then is a "
                         "terminal stage)" if open_entities == "exclude" else "")
                      + f", the outcome is reaching {target!r} by entry + T; every entity compared was followed for T")
    definition += ("; each feature is one value of a segment column (the value on the entity's earliest record). "
                   + _STATISTICS)
    return Drivers(raw, {"segment": seg_col, "value": val_col}, outcome="converted", confidence=float(confidence),
                   definition=definition, inputs=inputs, options=options)


# -- event streams -------------------------------------------------------------------------------
def dropoff_drivers(
    events: Any,
    *,
    steps: Sequence[Any],
    window: Any,
    dropped_at: Any,
    entity: str = "entity",
    time: str = "time",
    event: str = "event",
    include_steps: bool = False,
    landmark: Any = "auto",
    data_end: Any = None,
    time_unit: str | None = None,
    strict_deduplication: bool = False,
    strict_order: bool = False,
    strict_increase: bool = False,
    allow_reentry: bool = False,
    test: str = "automatic",
    confidence: float = 0.95,
    adjust: str = "benjamini_hochberg",
    min_expected: float = 5.0,
) -> Drivers:
    """Events over-represented among the entities that dropped out at a funnel step.

    The funnel is :func:`funnelkit.window_funnel` over ``events`` (steps are values of the
    ``event`` column, ``window`` the conversion window, the ClickHouse modes as there). An
    entity's entry is its first step-1 event. The comparison is made at a landmark tau after
    entry, the same for everyone: the population is the entities that reached the step before
    ``dropped_at``, whose window (entry + ``window``) closed by ``data_end`` (default: the last
    event's time), and that had not reached ``dropped_at`` by entry + tau (their first
    ``dropped_at`` event at or after entry comes later). The outcome is *dropped*: they did not
    reach ``dropped_at`` in the funnel. Each feature is "saw event e" in [entry, entry + tau].
    Every entity is observed over the same interval, so an event that has nothing to do with the
    outcome has an odds ratio near 1 (counting events until conversion for those who went on,
    but over the whole window for those who dropped, would make any steady event look like a
    driver of drop-off). Step events are left out unless ``include_steps``.
    Parameters
    ----------
    events:
        One row per event: ``entity``, ``time`` (integers or datetimes), ``event`` (names).
    steps:
        The funnel's step names in order (values of ``event``; each must occur).
    window:
        Conversion window: ``"7d"``, ``datetime.timedelta``, ...; a bare integer only for an
        integer time column (then in its ticks, ``time_unit`` naming them).
    dropped_at:
        The step (a name of ``steps``, not the first, or its 1-based level) whose non-arrival is
        the outcome.
    landmark:
        tau, the length of the interval after entry in which events are counted, at most
        ``window``. ``"auto"`` (default): the median time from entry to the first ``dropped_at``
        event among the entities that went on (``window`` when none did), so about half of
        them are still on the way at tau. A duration like ``window``. Events after tau are not
        seen: a shorter tau asks about early behaviour, a longer one leaves fewer entities that
        went on in the comparison.
    data_end:
        The end of the data (a timestamp like the time column); default the last event.
    test, confidence, adjust, min_expected:
        As in :func:`drivers`.

    Returns a :class:`Drivers` table in rank order, column ``event`` first, outcome ``dropped``.
    """
    step_names = [s for s in steps] if not isinstance(steps, str) else None
    if step_names is None or len(step_names) < 2:
        raise ValueError("option 'steps': give at least two step names in funnel order")
    if isinstance(dropped_at, (int, np.integer)) and not isinstance(dropped_at, bool):
        if not 2 <= int(dropped_at) <= len(step_names):
            raise ValueError(f"option 'dropped_at': level {dropped_at!r} must lie in 2..{len(step_names)}")
        level = int(dropped_at)
    else:
        if dropped_at not in step_names:
            raise ValueError(_names.unknown("step", dropped_at, step_names, where="option 'dropped_at'"))
        level = step_names.index(dropped_at) + 1
        if level == 1:
            raise ValueError(f"option 'dropped_at': {dropped_at!r} is the first step; nobody drops before it")
    opts = _options(test, confidence, adjust, min_expected)
    table = _frames.as_table(events)
    funnel = window_funnel(table, window=window, steps=step_names, entity=entity, time=time, step=event,
                           strict_deduplication=strict_deduplication, strict_order=strict_order,
                           strict_increase=strict_increase, allow_reentry=allow_reentry, per_entity=True,
                           time_unit=time_unit)
    dense, ids = _dense_entities(_frames.column(table, entity, "entity"), entity)
    ticks, axis = _frames.time_axis(_frames.column(table, time, "time"), time, time_unit)
    window_ticks = int(axis.duration(window, "window"))
    end = int(ticks.max()) if data_end is None and len(ticks) else (
        int(axis.timestamp(data_end, "data_end")) if data_end is not None else 0)
    codes, labels = _value_codes(_frames.column(table, event, "event"), event)

    # Each entity's level, by id (entities without a step-1 event have level 0).
    levels = np.zeros(len(ids), dtype=np.int64)
    f_ids, f_levels = np.asarray(funnel.entity), np.asarray(funnel.level, dtype=np.int64)
    found = _member(ids, f_ids)
    if found.any():
        lookup = dict(zip(f_ids.tolist(), f_levels.tolist()))
        levels[found] = [lookup[x] for x in ids[found].tolist()]

    label_index = {lab: i for i, lab in enumerate(labels)}
    step_code = [label_index.get(s, -2) for s in step_names]
    big = np.iinfo(np.int64).max
    entry = np.full(len(ids), big, dtype=np.int64)
    is_first = codes == step_code[0]
    np.minimum.at(entry, dense[is_first], ticks[is_first])
    row_entry = entry[dense]
    cutoff = np.full(len(ids), big, dtype=np.int64)
    nxt = (codes == step_code[level - 1]) & (ticks >= row_entry)
    np.minimum.at(cutoff, dense[nxt], ticks[nxt])

    went_on = levels >= level
    dropped = levels == level - 1
    if isinstance(landmark, str) and landmark == "auto":
        on = went_on & (cutoff != big)
        lags = cutoff[on] - entry[on]
        tau = int(np.median(lags)) if len(lags) else window_ticks
    else:
        tau = int(axis.duration(landmark, "landmark"))
        if not 0 <= tau <= window_ticks:
            raise ValueError(f"option 'landmark': value {_shown(landmark)!r} must lie between 0 and the window "
                             f"({_shown(window)!r})")
    tau = min(tau, window_ticks)
    closed = entry <= end - window_ticks  # the window [entry, entry + window] ended by data_end
    waiting = cutoff == big  # no dropped_at event by entry + tau
    has_next = ~waiting
    waiting[has_next] = cutoff[has_next] - entry[has_next] > tau
    outcome = np.full(len(ids), 2, dtype=np.uint8)
    outcome[went_on & closed & waiting] = 0
    outcome[dropped & closed & waiting] = 1

    keep = (codes >= 0) & (ticks >= row_entry) & (ticks - row_entry <= tau)
    if not include_steps:
        keep &= ~np.isin(codes, [c for c in step_code if c >= 0])
    feature_codes = codes[keep]
    used = np.unique(feature_codes)
    remap = np.full(len(labels), -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    raw = _core.drivers(outcome, dense[keep], remap[feature_codes].astype(np.int32), int(len(used)), opts)
    inputs = {"rows": int(len(dense)), "entities": int(len(ids)), "population": int(raw["entities"]),
              "columns": {"entity": entity, "time": time, "event": event}}
    options = {"steps": [_shown(s) for s in step_names], "window": _shown(window), "window_ticks": window_ticks,
               "dropped_at": _shown(step_names[level - 1]), "landmark": _shown(landmark), "landmark_ticks": tau,
               "data_end": end, "time_unit": axis.unit,
               "time_is_datetime": axis.is_datetime, "include_steps": bool(include_steps), "test": test,
               "confidence": float(confidence), "adjust": adjust, "min_expected": float(min_expected)}
    nxt_name = step_names[level - 1]
    definition = (f"Drop-off drivers at step {nxt_name!r}, compared at a landmark tau = {_span(tau, axis)} after "
                  "entry (the entity's first step-1 event)"
                  + (f" (the median time to the first {nxt_name!r} event among those who went on)"
                     if isinstance(landmark, str) else "")
                  + f": the population is the entities that reached {step_names[level - 2]!r} (window_funnel levels), "
                  "whose window closed by data_end, and that had no "
                  f"{nxt_name!r} event in [entry, entry + tau]; the outcome is dropped = did not reach {nxt_name!r}. "
                  "Each feature is an event seen in [entry, entry + tau], the same interval for everyone, so an event "
                  "unrelated to the outcome has an odds ratio near 1"
                  + ("" if include_steps else "; step events are left out") + ". " + _STATISTICS)
    return Drivers(raw, {"event": [labels[i] for i in used]}, outcome="dropped", confidence=float(confidence),
                   definition=definition, inputs=inputs, options=options)
