"""Attribution of conversions and converted value to the marketing touches on each entity's path.

Definitions follow the C++ core (``include/funnelkit/attribution.hpp`` and ``markov.hpp``):

* Only converting paths hand out credit. Each converting path with at least one non-null touch
  distributes exactly one conversion and its value, so the credits of every model sum to the
  attributed totals; converting paths without any touch are reported as ``unattributed``.
  Null touches (a missing channel) are dropped. Position-based models spread the weights of
  positions a short path lacks over the positions it has.
* Markov: removal effect ``1 - P(convert without c) / P(convert)`` of an order-k chain (k = 1..3)
  fitted to every path, solved exactly; credit proportional to the removal effect. With
  ``markov_weight="value"`` (ChannelAttribution's convention) the value is split by the
  value-weighted removal effect ``1 - E[value without c] / E[value]`` instead, each conversion
  worth the mean value of the conversions observed after the same state.
* Shapley: ``covered_value`` (value of converting paths whose channel set is covered; closed
  form) or ``value_rate`` (value per path among covered paths; exact up to
  ``shapley_exact_max`` channels, sampled with ``seed`` above), scaled to the total value.

Time: the touch time column is read once into a :class:`~funnelkit._time.TimeAxis`; the time
decay ``half_life`` is a duration (``"7d"``, ``datetime.timedelta``, ...), or a number of ticks
of an integer time column, whose unit ``time_unit=`` names (seconds by default).
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import _core, _frames, _names
from ._result import Table
from .conversion import _rename

__all__ = ["MODELS", "AttributionResult", "attribute", "compare_attribution"]

#: The attribution models, by name.
MODELS = ("first_touch", "last_touch", "linear", "u_shaped", "w_shaped", "time_decay", "position", "markov",
          "shapley")
#: The Shapley games.
SHAPLEY_GAMES = ("covered_value", "value_rate")
#: What a conversion is worth in the Markov removal effect.
MARKOV_WEIGHTS = ("conversions", "value")
_MILESTONES = {"lead_created": 1, "opportunity_created": 2}
_DEFAULT_MODELS = ("first_touch", "last_touch", "linear", "u_shaped", "time_decay", "markov", "shapley")
#: The keyword arguments of attribute() that are model options (compare_attribution takes them too).
_MODEL_OPTIONS = ("u_weights", "w_weights", "half_life", "head", "tail", "middle", "markov_order", "shapley_game",
                  "shapley_exact_max", "shapley_samples", "seed", "markov_weight")

_COMMON = ("Only converting paths hand out credit: each converting path with at least one touch gives exactly one "
           "conversion and its value to its touches, so every model's credits sum to the attributed totals; "
           "converting paths without a touch are unattributed; null touches are dropped. share = value / "
           "attributed value. ")
_MODEL_DEFINITIONS = {
    "first_touch": "first_touch: everything to the path's first touch.",
    "last_touch": "last_touch: everything to the path's last touch.",
    "linear": "linear: equal parts to every touch of the path.",
    "u_shaped": ("u_shaped: u_weights (default 40/20/40) to the first touch, the touches between (shared equally) "
                 "and the last touch; weights of positions a short path lacks are spread over those it has."),
    "w_shaped": ("w_shaped: w_weights (default 30/30/30/10) to the first touch, the lead-creation touch, the "
                 "opportunity-creation touch and the rest (shared equally); a touch in two roles gets both."),
    "time_decay": ("time_decay: weight 2^(-age / half_life) per touch, age = conversion time - touch time, "
                   "normalised per path."),
    "position": ("position: head weights from the first touch, tail weights from the last, middle shared by the "
                 "touches in neither, normalised per path."),
    "markov": ("markov: credit proportional to the removal effect 1 - P(convert without c) / P(convert) of an "
               "order-k absorbing Markov chain fitted to all paths (converting or not), solved exactly; score = "
               "the removal effect, base = P(convert)."),
    "markov_value": ("markov with markov_weight='value' (ChannelAttribution's convention): conversions are split by "
                     "the removal effects of P(convert), the value by the value-weighted removal effects 1 - "
                     "E[value without c] / E[value], where a conversion reached from a state is worth the mean value "
                     "of the observed conversions after that state and E[value] is the expected converted value of a "
                     "path, solved exactly from the same chain; score = the value-weighted removal effect, base = "
                     "P(convert)."),
    "shapley": ("shapley: Shapley values of the chosen game over channel sets (covered_value: converted value of "
                "the paths whose channels are all in the set; value_rate: value per path among them), scaled to "
                "the total converted value; score = the raw Shapley value, base = v(all channels)."),
}


# -- columns -----------------------------------------------------------------------------------
def _is_missing(x: Any) -> bool:
    return x is None or (isinstance(x, float) and x != x)


def _channel_codes(raw: Any, name: str, channels: Sequence[Any] | None,
                   absent: str) -> tuple[np.ndarray, list[Any]]:
    """Channel codes (int32, -1 for a missing channel, i.e. a null touch) and their labels.

    Without ``channels``: integer columns are codes (>= -1) labelled by their own values; other
    columns are labelled by the sorted distinct values present, so every input format and row
    order gives the same table. With ``channels``: those labels in that order; a value outside
    them is an error, a channel that never occurs is an error (or a warning with
    ``absent="warn"``)."""
    values = _frames._values(raw)
    if channels is None and values.dtype.kind in "iu":
        codes = values.astype(np.int64)
        if codes.size and codes.min() < -1:
            row = _frames._first_bad(codes < -1)
            raise ValueError(f"column '{name}', row {row}: value {int(codes[row])} is not a channel code "
                             "(expected >= -1; -1 marks a null touch)")
        if codes.size and codes.max() > np.iinfo(np.int32).max:
            row = _frames._first_bad(codes > np.iinfo(np.int32).max)
            raise ValueError(f"column '{name}', row {row}: value {int(codes[row])} does not fit in int32")
        return codes.astype(np.int32), list(range(int(codes.max()) + 1 if codes.size else 0))
    obj = values if values.dtype.kind == "O" else values.astype(object)
    missing = np.fromiter((_is_missing(x) for x in obj), dtype=bool, count=len(obj))
    present = obj[~missing]
    try:
        uniques, inverse = np.unique(present, return_inverse=True)
    except TypeError:
        raise TypeError(f"column '{name}': channel labels must be of one type (e.g. all strings)") from None
    found = [_frames._plain(u) for u in uniques]
    if channels is None:
        labels = found
        mapping = np.arange(len(found), dtype=np.int32)
    else:
        labels = list(channels)
        lookup = {c: i for i, c in enumerate(labels)}
        if len(lookup) != len(labels):
            dup = next(c for c in labels if labels.count(c) > 1)
            raise ValueError(f"option 'channels': channel {dup!r} is repeated")
        mapping = np.empty(len(found), dtype=np.int32)
        for j, u in enumerate(found):
            if u not in lookup:
                row = int(np.flatnonzero(~missing)[_frames._first_bad(inverse.reshape(-1) == j)])
                raise ValueError(_names.unknown("channel", u, labels,
                                                where=f"column '{name}', row {row} (not in option 'channels')"))
            mapping[j] = lookup[u]
        _names.check_in_data(labels, found, what="channel", column=name, option="channels", absent=absent)
    codes = np.full(len(obj), -1, dtype=np.int32)
    codes[~missing] = mapping[inverse.reshape(-1)] if len(present) else mapping[:0]
    return codes, labels


def _joint_codes(a: Any, b: Any, names: tuple[str, str]) -> tuple[np.ndarray, np.ndarray]:
    """Entity ids of the touches and of the outcomes, encoded together so that equal ids match."""
    va, vb = _frames._values(a), _frames._values(b)
    if va.dtype.kind in "iuf" and vb.dtype.kind in "iuf":
        return _frames.entity_codes(va, names[0]), _frames.entity_codes(vb, names[1])
    for v, n in ((va, names[0]), (vb, names[1])):
        _frames._check_no_missing(v.astype(object) if v.dtype.kind != "O" else v, n)
    both = np.concatenate([va.astype(object), vb.astype(object)])
    try:  # sorted codes: the same paths get the same codes whatever the row order
        codes, _ = _frames._factorize(both, sort=True)
    except TypeError:
        both = np.array([f"{type(x).__name__}:{x}" for x in both], dtype=object)
        codes, _ = _frames._factorize(both, sort=True)
    codes = np.asarray(codes, dtype=np.int64)
    return codes[: len(va)], codes[len(va):]


def _milestone_codes(raw: Any, name: str) -> np.ndarray:
    """W-shape milestones: ``"lead_created"``, ``"opportunity_created"``, missing (or "none"), or
    the codes 1, 2, 0."""
    m = _frames._values(raw)
    if m.dtype.kind in "iub":
        codes = m.astype(np.int64)
        bad = (codes < 0) | (codes > 2)
        if bad.any():
            row = _frames._first_bad(bad)
            raise ValueError(f"column '{name}', row {row}: value {int(codes[row])} is not a milestone code (0, 1, 2)")
        return codes.astype(np.uint8)
    obj = m if m.dtype.kind == "O" else m.astype(object)
    out = np.zeros(len(obj), dtype=np.uint8)
    valid = [*_MILESTONES, "none"]
    for i, x in enumerate(obj):
        if _is_missing(x) or x == "" or x == "none":
            continue
        if x not in _MILESTONES:
            raise ValueError(_names.unknown("milestone", x, valid, where=f"column '{name}', row {i}"))
        out[i] = _MILESTONES[x]
    return out


class _Paths:
    """The prepared input of every model: the core's path set, channel labels, time axis and the
    description of the inputs for explain()."""

    def __init__(self, touches: Any, outcomes: Any, *, entity: str, time: str, channel: str, milestone: str | None,
                 outcome_entity: str | None, converted: str, value: str | None, conversion_time: str | None,
                 channels: Sequence[Any] | None, absent: str, time_unit: str | None, threads: int = 1):
        touches = _frames.as_table(touches)
        outcomes = _frames.as_table(outcomes)
        out_entity = outcome_entity or entity
        e_t, e_o = _joint_codes(_frames.column(touches, entity, "entity"),
                                _frames.column(outcomes, out_entity, "outcome_entity"), (entity, out_entity))
        tim, self.axis = _frames.time_axis(_frames.column(touches, time, "time"), time, time_unit)
        ch, self.labels = _channel_codes(_frames.column(touches, channel, "channel"), channel, channels, absent)
        ms = _milestone_codes(_frames.column(touches, milestone, "milestone"), milestone) if milestone else None
        conv = _frames.flags(_frames.column(outcomes, converted, "converted"), converted)
        val = _frames.numbers(_frames.column(outcomes, value, "value"), value) if value is not None else None
        ct = (_frames.ticks_on(_frames.column(outcomes, conversion_time, "conversion_time"), self.axis,
                               conversion_time) if conversion_time else None)
        try:
            self.core = _core.PathSet(path=e_t, time=tim, channel=ch, milestone=ms, outcome_path=e_o, converted=conv,
                                      value=val, conversion_time=ct, n_channels=len(self.labels),
                                      threads=_names.threads_option(threads))
        except ValueError as exc:
            raise ValueError(_rename(str(exc), path=entity, time=time, channel=channel, milestone=milestone,
                                     **{"outcome path": out_entity}, converted=converted, value=value,
                                     conversion_time=conversion_time)) from None
        self.inputs = {"touches": int(len(e_t)), "outcomes": int(len(e_o)), "paths": int(self.core.n_paths),
                       "channels": len(self.labels),
                       "columns": {"entity": entity, "time": time, "channel": channel, "milestone": milestone,
                                   "outcome_entity": out_entity, "converted": converted, "value": value,
                                   "conversion_time": conversion_time}}

    def half_life(self, half_life: Any) -> float:
        """The time-decay half-life in ticks of the time column (default seven days)."""
        if half_life is None:
            return float(self.axis.duration("7d", "half_life"))
        if isinstance(half_life, (int, float, np.integer, np.floating)) and not isinstance(half_life, bool) \
                and not self.axis.is_datetime:
            return float(half_life)  # ticks of the integer time column; fractions allowed
        return float(self.axis.duration(half_life, "half_life"))

    def options(self, opts: dict[str, Any], half_life: Any, **extra: Any) -> dict[str, Any]:
        """The options in force, for explain(): the half-life as given and in ticks, the unit."""
        return {**extra, **{k: _shown(v) for k, v in opts.items()},
                "half_life": _shown("7d" if half_life is None else half_life), "half_life_ticks": opts["half_life"],
                "time_unit": self.axis.unit, "time_is_datetime": self.axis.is_datetime}


def _shown(value: Any) -> Any:
    """An option as given, for explain(): numbers and text stay, anything else becomes text."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic) and not isinstance(value, (np.datetime64, np.timedelta64)):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_shown(v) for v in value]
    return str(value)


class AttributionResult(Table):
    """Result of :func:`attribute`: credit per channel under one model.

    Columns: ``channel``, ``conversions`` and ``value`` (attributed conversions and converted
    value), ``share`` (of the attributed value; null when nothing was attributed) and, for
    ``markov`` and ``shapley``, ``score`` (the removal effect, or the raw Shapley value).
    Attributes: ``model``, ``channels`` (labels in row order), ``total_conversions`` and
    ``total_value`` (attributed), ``unattributed_conversions`` and ``unattributed_value``
    (converting paths without a touch), ``paths``, ``converting_paths``, ``base``
    (Markov: P(convert); Shapley: v(all channels)) and ``exact`` (Shapley: not sampled).
    """

    definition = _COMMON

    def __init__(self, raw: Any, channels: Sequence[Any], *, model: str, inputs: dict[str, Any],
                 options: dict[str, Any]):
        n = len(channels)
        conversions = np.asarray(raw.conversions, dtype=np.float64)[:n]
        value = np.asarray(raw.value, dtype=np.float64)[:n]
        score = np.asarray(raw.score, dtype=np.float64)[:n]
        #: Attributed converted value and conversions (the sums of the columns).
        self.total_value = float(raw.total_value)
        self.total_conversions = float(raw.total_conversions)
        with np.errstate(divide="ignore", invalid="ignore"):
            share = value / self.total_value if self.total_value > 0 else np.full(n, np.nan)
        cols: dict[str, Any] = {"channel": list(channels), "conversions": conversions, "value": value, "share": share}
        if model in ("markov", "shapley"):
            cols["score"] = score
        key = "markov_value" if model == "markov" and options.get("markov_weight") == "value" else model
        super().__init__(cols, inputs=inputs, options=options, definition=_COMMON + _MODEL_DEFINITIONS[key])
        #: The model's name.
        self.model = model
        #: Channel labels, in row order.
        self.channels = list(channels)
        #: Converting paths without any touch: their conversions and value (never dropped).
        self.unattributed_conversions = float(raw.unattributed_conversions)
        self.unattributed_value = float(raw.unattributed_value)
        #: Paths with at least one touch, and those of them that converted.
        self.paths = int(raw.paths)
        self.converting_paths = int(raw.converting_paths)
        #: Markov: P(convert) of the full chain; Shapley: v(all channels); else 0.
        self.base = float(raw.base)
        #: Shapley: True when the values are exact, False when sampled.
        self.exact = bool(raw.exact)

    @property
    def conversions(self) -> np.ndarray:
        """Attributed conversions per channel (row order)."""
        return self.column("conversions")

    @property
    def value(self) -> np.ndarray:
        """Attributed converted value per channel (row order)."""
        return self.column("value")

    @property
    def share(self) -> np.ndarray:
        """Share of the attributed value per channel (NaN when nothing was attributed)."""
        return self.column("share")

    @property
    def score(self) -> np.ndarray:
        """Markov removal effects in [0, 1] or raw Shapley values; empty for rule-based models."""
        cols = self._table()
        return np.asarray(cols["score"]) if "score" in cols else np.zeros(0)

    def credit(self, channel: Any) -> float:
        """The converted value attributed to one channel (a label); an unknown channel raises
        ValueError naming the closest ones."""
        if channel not in self.channels:
            raise ValueError(_names.unknown("channel", channel, self.channels))
        return float(self.value[self.channels.index(channel)])

    def __repr__(self) -> str:
        head = (f"AttributionResult({self.model}: {self.converting_paths:,} converting of {self.paths:,} paths, "
                f"value {self.total_value:,.2f}, unattributed {self.unattributed_value:,.2f})")
        return head + "\n" + "\n".join(super().__repr__().splitlines()[1:])


def _options(model: str, *, u_weights: Sequence[float], w_weights: Sequence[float], half_life: float,
             head: Sequence[float], tail: Sequence[float], middle: float, markov_order: int, shapley_game: str,
             shapley_exact_max: int, shapley_samples: int, seed: int, markov_weight: str = "conversions") -> Any:
    return _core.AttributionOptions(
        model=model, u_weights=[float(x) for x in u_weights], w_weights=[float(x) for x in w_weights],
        half_life=float(half_life), head=[float(x) for x in head], tail=[float(x) for x in tail], middle=float(middle),
        markov_order=int(markov_order), shapley_game=shapley_game, shapley_exact_max=int(shapley_exact_max),
        shapley_samples=int(shapley_samples), seed=int(seed), markov_weight=markov_weight)


def _entity_alias(entity: str, path: str | None, outcome_entity: str | None,
                  outcome_path: str | None) -> tuple[str, str | None]:
    if path is not None:
        _names.renamed("path", "entity", stacklevel=4)
        entity = path
    if outcome_path is not None:
        _names.renamed("outcome_path", "outcome_entity", stacklevel=4)
        outcome_entity = outcome_path
    return entity, outcome_entity


def attribute(
    touches: Any,
    outcomes: Any,
    *,
    model: str = "linear",
    entity: str = "path",
    time: str = "time",
    channel: str = "channel",
    milestone: str | None = None,
    outcome_entity: str | None = None,
    converted: str = "converted",
    value: str | None = "value",
    conversion_time: str | None = None,
    channels: Sequence[Any] | None = None,
    absent: str = "error",
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
    time_unit: str | None = None,
    path: str | None = None,
    outcome_path: str | None = None,
    markov_weight: str = "conversions",
    threads: int = 1,
) -> AttributionResult:
    """Attributes conversions and converted value to the channels on each entity's path.

    Parameters
    ----------
    touches:
        One row per touch (a pandas or Polars DataFrame or LazyFrame, a PyArrow table, a DuckDB
        relation or a dict of arrays): the ``entity`` id of the path, the ``time`` (integers or
        datetimes; it orders the touches of a path) and the ``channel`` (labels or integer
        codes; missing = a null touch, dropped). Optional ``milestone`` column for the W shape:
        ``"lead_created"``, ``"opportunity_created"`` or missing (or the codes 1, 2, 0).
    outcomes:
        One row per path: ``outcome_entity`` (default: the ``entity`` column name),
        ``converted`` (0/1) and ``value`` (converted revenue; ``value=None`` counts each
        conversion as 1), optionally ``conversion_time`` (ages for time decay, same kind of
        time as the touches; default: the path's last touch; touches after it are an error).
        Paths without an outcome row do not convert.
    model:
        ``"first_touch"``, ``"last_touch"``, ``"linear"``, ``"u_shaped"`` (``u_weights``
        first / middle / last), ``"w_shaped"`` (``w_weights`` first touch / lead creation /
        opportunity creation / rest; needs ``milestone``), ``"time_decay"`` (weight
        2^(-age / half_life)), ``"position"`` (``head`` weights from the first touch, ``tail``
        from the last, ``middle`` shared by the rest), ``"markov"`` (removal effect,
        ``markov_order`` 1..3, ``markov_weight``) or ``"shapley"`` (``shapley_game``
        ``"covered_value"`` or ``"value_rate"``, ``shapley_exact_max``, ``shapley_samples``,
        ``seed``).
    markov_weight:
        Markov only. ``"conversions"`` (default): conversions and value both split by the
        removal effects of P(convert). ``"value"`` (ChannelAttribution's convention): the value
        split by the value-weighted removal effects 1 - E[value without c] / E[value], each
        conversion worth the mean value of the conversions observed after the same state; the
        conversions still by P(convert)'s; ``score`` then holds the value-weighted effects.
    channels:
        Fixes the channel labels and their order (rows of the result); a channel value outside
        them is an error, and a listed channel that never occurs is an error listing the
        closest channels present (``absent="warn"``: a warning and a row of zeros).
    half_life:
        Time-decay half-life: a duration (``"7d"``, ``datetime.timedelta``,
        ``numpy.timedelta64``, ``pandas.Timedelta``), or a number of ticks when the time
        column holds integers. Default seven days.
    time_unit:
        What integer times count (``"s"`` default, ``"ms"``, ``"us"``, ``"ns"``), so that
        durations such as ``"7d"`` convert; datetime columns carry their own unit.
    path, outcome_path:
        Deprecated names of ``entity`` and ``outcome_entity``.
    threads:
        Worker threads (>= 1) grouping the touches into paths (by a hash of the entity id); the
        paths and credits never depend on it.

    Raises ValueError naming the column, the row and the value for bad input, and the closest
    valid names for an unknown model, game or channel.
    """
    entity, outcome_entity = _entity_alias(entity, path, outcome_entity, outcome_path)
    model = _names.choice(model, MODELS, "model")
    shapley_game = _names.choice(shapley_game, SHAPLEY_GAMES, "shapley_game")
    markov_weight = _names.choice(markov_weight, MARKOV_WEIGHTS, "markov_weight")
    paths = _Paths(touches, outcomes, entity=entity, time=time, channel=channel, milestone=milestone,
                   outcome_entity=outcome_entity, converted=converted, value=value, conversion_time=conversion_time,
                   channels=channels, absent=absent, time_unit=time_unit, threads=threads)
    hl = paths.half_life(half_life)
    opts = dict(u_weights=u_weights, w_weights=w_weights, half_life=hl, head=head, tail=tail, middle=middle,
                markov_order=markov_order, shapley_game=shapley_game, shapley_exact_max=shapley_exact_max,
                shapley_samples=shapley_samples, seed=seed, markov_weight=markov_weight)
    raw = _core.attribute(paths.core, _options(model, **opts))
    shown = paths.options(opts, half_life, model=model)
    return AttributionResult(raw, paths.labels, model=model, inputs=paths.inputs, options=shown)


def compare_attribution(
    touches: Any,
    outcomes: Any,
    *,
    models: Sequence[str] = _DEFAULT_MODELS,
    entity: str = "path",
    time: str = "time",
    channel: str = "channel",
    milestone: str | None = None,
    outcome_entity: str | None = None,
    converted: str = "converted",
    value: str | None = "value",
    conversion_time: str | None = None,
    channels: Sequence[Any] | None = None,
    absent: str = "error",
    time_unit: str | None = None,
    path: str | None = None,
    outcome_path: str | None = None,
    threads: int = 1,
    **options: Any,
) -> Table:
    """Attributed converted value per channel under several models, the paths prepared once.

    Returns a :class:`~funnelkit.Table` named ``AttributionComparison``: one row per channel,
    column ``channel`` then one column per model (attributed value; each sums to the attributed
    total). ``models`` are names of :data:`MODELS` (each checked, with the closest names on a
    typo); ``options`` are the model options of :func:`attribute` (``half_life``,
    ``u_weights``, ``markov_order``, ...). Other arguments (``threads`` too) as in
    :func:`attribute`.
    """
    entity, outcome_entity = _entity_alias(entity, path, outcome_entity, outcome_path)
    if isinstance(models, str):
        raise TypeError("option 'models': expected a list of model names, got one string")
    models = [_names.choice(m, MODELS, "models") for m in models]
    if len(set(models)) != len(models):
        dup = next(m for m in models if models.count(m) > 1)
        raise ValueError(f"option 'models': model {dup!r} is repeated")
    signature = inspect.signature(attribute).parameters
    defaults: dict[str, Any] = {k: signature[k].default for k in _MODEL_OPTIONS}
    for key in options:
        if key not in defaults:
            raise TypeError(_names.unknown("option", key, list(defaults), where="compare_attribution()"))
    defaults.update(options)
    defaults["shapley_game"] = _names.choice(defaults["shapley_game"], SHAPLEY_GAMES, "shapley_game")
    defaults["markov_weight"] = _names.choice(defaults["markov_weight"], MARKOV_WEIGHTS, "markov_weight")
    paths = _Paths(touches, outcomes, entity=entity, time=time, channel=channel, milestone=milestone,
                   outcome_entity=outcome_entity, converted=converted, value=value, conversion_time=conversion_time,
                   channels=channels, absent=absent, time_unit=time_unit, threads=threads)
    half_life = defaults.pop("half_life")
    defaults["half_life"] = paths.half_life(half_life)
    cols: dict[str, Any] = {"channel": list(paths.labels)}
    for m in models:
        cols[m] = np.asarray(_core.attribute(paths.core, _options(m, **defaults)).value,
                             dtype=np.float64)[: len(paths.labels)]
    shown = paths.options(defaults, half_life, models=models)
    definition = (_COMMON + "Each model column holds the converted value attributed to the channel under that "
                  "model; " + " ".join(_MODEL_DEFINITIONS["markov_value" if m == "markov" and defaults["markov_weight"]
                                                          == "value" else m] for m in models))
    return Table(cols, name="AttributionComparison", definition=definition, inputs=paths.inputs, options=shown)
