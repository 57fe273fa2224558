"""Charts of results for notebooks, with matplotlib (``pip install 'funnelkit[plot]'``).

Every result's ``.plot(ax=None)`` comes here and returns the matplotlib ``Axes`` it drew on (a
new figure when ``ax`` is None):

- :class:`~funnelkit.ConversionTable`, :class:`~funnelkit.WindowFunnel` and
  ``Lifecycle.conversion()``: the funnel (reach per stage, step rates and, when the table has
  them, their intervals); ``Lifecycle.conversion(by="segment")``: conversion to the last stage
  by segment as a forest plot; ``by="cohort"``: the cohort heatmap, immature cohorts hatched;
- :class:`~funnelkit.stats.KaplanMeier` and :class:`~funnelkit.stats.CumulativeIncidence`:
  the survival curve with its band, the cumulative incidence of each outcome;
- ``Lifecycle.time_to_convert()``: median, p90 and the Kaplan-Meier median per group; the
  report's ``TimeToConvertHistogram``: the histogram;
- :class:`~funnelkit.VelocityDecomposition` (and its ``drivers()``): the LMDI waterfall;
- :class:`~funnelkit.FunnelPlan`: volume per stage and per rep;
- :class:`~funnelkit.AttributionResult` and ``compare_attribution()``: credit per channel, the
  models side by side.

Plots draw the numbers of the result's own columns: nothing is recomputed here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["plot_result"]

_BLUE, _ORANGE, _GREEN, _RED, _GREY = "#0072B2", "#E69F00", "#009E73", "#D55E00", "#999999"


def _axes(ax: Any, size: tuple[float, float] = (7.0, 4.0)) -> Any:
    if ax is not None:
        return ax
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError("plotting needs matplotlib: pip install 'funnelkit[plot]'") from None
    _, ax = plt.subplots(figsize=size, layout="constrained")
    return ax


def _pct_axis(ax: Any, axis: str = "x") -> None:
    from matplotlib.ticker import PercentFormatter

    (ax.xaxis if axis == "x" else ax.yaxis).set_major_formatter(PercentFormatter(1.0))


def _col(table: Any, name: str) -> np.ndarray:
    return np.asarray(table.column(name))


def _funnel(table: Any, ax: Any, stage: str = "stage") -> Any:
    ax = _axes(ax)
    cols = table.columns
    stages = [str(s) for s in _col(table, stage)]
    reached = _col(table, "reached").astype(float)
    step = _col(table, "step_rate").astype(float)
    y = np.arange(len(stages))[::-1]
    ax.barh(y, reached, color=_BLUE)
    ax.set_yticks(y, stages)
    lo = _col(table, "step_lower").astype(float) if "step_lower" in cols else None
    hi = _col(table, "step_upper").astype(float) if "step_upper" in cols else None
    for i, (yy, n) in enumerate(zip(y, reached)):
        text = f" {int(n):,}"
        if np.isfinite(step[i]) and i > 0:
            text += f"  step {step[i]:.1%}"
            if lo is not None and np.isfinite(lo[i]):
                text += f" [{lo[i]:.1%}, {hi[i]:.1%}]"
        ax.text(n, yy, text, va="center", fontsize=8)
    ax.set_xlim(0, max(reached.max(initial=1) * 1.6, 1))
    ax.set_xlabel("entities reached")
    ax.set_title(table.explain()["result"])
    return ax


def _forest(labels: list[str], rate: np.ndarray, lo: np.ndarray, hi: np.ndarray, ax: Any, *, title: str,
            reference: float | None = None, significant: np.ndarray | None = None) -> Any:
    ax = _axes(ax, (7.0, 0.45 * len(labels) + 1.2))
    order = np.argsort(rate)
    y = np.arange(len(labels))
    for k, i in enumerate(order):
        colour = (_GREEN if reference is None or rate[i] >= reference else _RED) \
            if significant is not None and significant[i] else _BLUE
        ax.plot([lo[i], hi[i]], [k, k], color=colour, lw=2)
        ax.plot(rate[i], k, "o", color=colour)
    ax.set_yticks(y, [labels[i] for i in order])
    if reference is not None:
        ax.axvline(reference, color=_GREY, ls="--", lw=1)
    _pct_axis(ax)
    ax.set_title(title)
    return ax


def _lifecycle_conversion(table: Any, ax: Any) -> Any:
    cols = table.columns
    if "cohort" in cols:
        return _cohorts(table, ax)
    seg = [c for c in cols[: cols.index("stage")] if c not in ("cohort", "cohort_end", "mature")]
    if not seg:
        return _funnel(table, ax)
    seg_col = seg[0]
    stages = [str(s) for s in _col(table, "stage")]
    last = max(set(stages), key=stages.index)
    keep = np.array([s == last for s in stages])
    labels = [str(v) for v in _col(table, seg_col)[keep]]
    return _forest(labels, _col(table, "cumulative_rate")[keep].astype(float),
                   _col(table, "cum_lower")[keep].astype(float), _col(table, "cum_upper")[keep].astype(float), ax,
                   title=f"conversion to {last} by {seg_col}")


def _cohorts(table: Any, ax: Any) -> Any:
    ax = _axes(ax, (7.5, 4.5))
    cohorts = _col(table, "cohort")
    stages = [str(s) for s in _col(table, "stage")]
    order = list(dict.fromkeys(stages))
    keys = list(dict.fromkeys(cohorts.tolist()))
    grid = np.full((len(keys), len(order)), np.nan)
    rate = _col(table, "cumulative_rate").astype(float)
    for c, s, r in zip(cohorts.tolist(), stages, rate):
        grid[keys.index(c), order.index(s)] = r
    ax.imshow(grid, aspect="auto", cmap="Blues", vmin=0, vmax=np.nanmax(grid[:, 1:]) if grid.shape[1] > 1 else 1)
    for i in range(len(keys)):
        for j in range(len(order)):
            if np.isfinite(grid[i, j]):
                ax.text(j, i, f"{grid[i, j]:.1%}", ha="center", va="center", fontsize=7)
    if "mature" in table.columns:
        from matplotlib.patches import Rectangle

        mature = dict(zip(cohorts.tolist(), _col(table, "mature").tolist()))
        for i, c in enumerate(keys):
            if not mature[c]:
                ax.add_patch(Rectangle((-0.5, i - 0.5), len(order), 1, fill=False, hatch="//", edgecolor=_GREY, lw=0))
    ax.set_xticks(range(len(order)), order)
    ax.set_yticks(range(len(keys)), [str(k)[:10] for k in keys])
    ax.set_title("cohort conversion (hatched: immature)")
    return ax


def _km(table: Any, ax: Any) -> Any:
    ax = _axes(ax)
    t = _col(table, "time").astype(float)
    ax.step(np.r_[0, t], np.r_[1, _col(table, "survival")], where="post", color=_BLUE, label="S(t)")
    ax.fill_between(np.r_[0, t], np.r_[1, _col(table, "lower")], np.r_[1, _col(table, "upper")], step="post",
                    color=_BLUE, alpha=0.15, label=f"{table.confidence:.0%} band")
    ax.set_ylim(0, 1.02)
    _pct_axis(ax, "y")
    unit = table._units.get("time")
    ax.set_xlabel(f"time ({unit})" if unit else "time")
    ax.set_ylabel("still without the event")
    ax.set_title(f"Kaplan-Meier, median {table.median:g}")
    ax.legend()
    return ax


def _incidence(table: Any, ax: Any) -> Any:
    ax = _axes(ax)
    t = _col(table, "time").astype(float)
    colours = [_GREEN, _RED, _ORANGE, _BLUE]
    for k, lab in enumerate(table.labels):
        ax.step(np.r_[0, t], np.r_[0, table.incidence[:, k]], where="post", color=colours[k % 4], label=str(lab))
    ax.set_ylim(0, 1.02)
    _pct_axis(ax, "y")
    ax.set_xlabel("time")
    ax.set_ylabel("cumulative incidence")
    ax.set_title("Aalen-Johansen cumulative incidence")
    ax.legend()
    return ax


def _time_to_convert(table: Any, ax: Any) -> Any:
    cols = table.columns
    if "bin_start" in cols:  # the report's histogram
        ax = _axes(ax)
        a, b = _col(table, "bin_start").astype(float), _col(table, "bin_end").astype(float)
        ax.bar(a, _col(table, "converted"), width=b - a, align="edge", color=_BLUE)
        ax.set_xlabel("days")
        ax.set_ylabel("converted entities")
        ax.set_title("time to convert")
        return ax
    first = cols.index("from_stage")
    groups = [str(v) for v in _col(table, cols[0])] if first > 0 else ["(all)"] * len(table)
    ax = _axes(ax, (7.0, 0.45 * len(groups) + 1.2))
    y = np.arange(len(groups))[::-1]
    med, p90 = _col(table, "median").astype(float), _col(table, "p90").astype(float)
    km = _col(table, "km_median").astype(float)
    ax.hlines(y, med, p90, color=_BLUE, lw=3, label="median to p90 (converted)")
    ax.plot(med, y, "o", color=_BLUE)
    ax.plot(np.where(np.isfinite(km), km, np.nan), y, "D", color=_ORANGE, label="Kaplan-Meier median")
    ax.set_yticks(y, groups)
    ax.set_xlabel("days")
    ax.set_title(f"{_col(table, 'from_stage')[0]} to {_col(table, 'to_stage')[0]}")
    ax.legend(fontsize=8)
    return ax


def _waterfall(names: list[str], values: list[float], v0: float, v1: float, ax: Any) -> Any:
    ax = _axes(ax)
    labels = ["V before", *names, "V after"]
    running = v0
    bottoms, heights, colours = [0.0], [v0], [_BLUE]
    for v in values:
        bottoms.append(running if v >= 0 else running + v)
        heights.append(abs(v))
        colours.append(_GREEN if v >= 0 else _RED)
        running += v
    bottoms.append(0.0)
    heights.append(v1)
    colours.append(_BLUE)
    x = np.arange(len(labels))
    ax.bar(x, heights, bottom=bottoms, color=colours)
    for xi, (b, h, v) in enumerate(zip(bottoms, heights, [v0, *values, v1])):
        ax.text(xi, b + h, f"{v:+,.0f}" if 0 < xi < len(labels) - 1 else f"{v:,.0f}", ha="center", va="bottom",
                fontsize=8)
    ax.set_xticks(x, labels)
    ax.set_title("change of sales velocity by driver (LMDI)")
    return ax


def _drivers(table: Any, ax: Any) -> Any:
    ex = table.explain().inputs
    return _waterfall([str(d) for d in _col(table, "driver")], _col(table, "additive_contribution").tolist(),
                      float(ex["v0"]), float(ex["v1"]), ax)


def _plan(table: Any, ax: Any) -> Any:
    ax = _axes(ax)
    stages = list(table.stages)
    y = np.arange(len(stages))[::-1]
    vol = _col(table, "per_period").astype(float)
    rep = _col(table, "per_rep_per_period").astype(float)
    ax.barh(y, vol, color=_BLUE, label="per period")
    ax.barh(y, rep, color=_ORANGE, height=0.4, label="per rep per period")
    for yy, v, r in zip(y, vol, rep):
        ax.text(v, yy, f" {v:,.0f} ({r:,.0f} per rep)", va="center", fontsize=8)
    ax.set_yticks(y, stages)
    ax.set_xlim(0, vol.max(initial=1) * 1.45)
    ax.set_title(f"reverse funnel for a goal of {table.total_goal:,.0f}")
    ax.legend(fontsize=8, loc="lower right")
    return ax


def _attribution(table: Any, ax: Any) -> Any:
    ax = _axes(ax)
    channels = [str(c) for c in _col(table, "channel")]
    y = np.arange(len(channels))[::-1]
    ax.barh(y, np.nan_to_num(_col(table, "share").astype(float)), color=_BLUE)
    ax.set_yticks(y, channels)
    _pct_axis(ax)
    ax.set_title(f"share of converted value, {table.model}")
    return ax


def _attribution_comparison(table: Any, ax: Any) -> Any:
    models = [c for c in table.columns if c != "channel"]
    channels = [str(c) for c in _col(table, "channel")]
    ax = _axes(ax, (7.5, 0.5 * len(channels) + 1.5))
    width = 0.8 / max(len(models), 1)
    y = np.arange(len(channels))[::-1]
    for k, m in enumerate(models):
        v = _col(table, m).astype(float)
        total = v.sum()
        ax.barh(y + 0.4 - (k + 0.5) * width, v / total if total else v * np.nan, height=width, label=m)
    ax.set_yticks(y, channels)
    _pct_axis(ax)
    ax.set_title("share of converted value by model")
    ax.legend(fontsize=7, ncols=2)
    return ax


def _segment_tests(table: Any, ax: Any) -> Any:
    seg = table.columns[0]
    ex = table.explain().inputs
    return _forest([str(v) for v in _col(table, seg)], _col(table, "rate").astype(float),
                   _col(table, "lower").astype(float), _col(table, "upper").astype(float), ax,
                   title=f"conversion by {seg} (colour: significant against the rest)",
                   reference=ex.get("overall_rate"), significant=_col(table, "significant").astype(bool))


_BY_NAME = {
    "ConversionTable": _funnel,
    "LifecycleConversion": _lifecycle_conversion,
    "WindowFunnel": lambda t, ax: _funnel(t, ax, stage="step"),
    "KaplanMeier": _km,
    "CumulativeIncidence": _incidence,
    "TimeToConvert": _time_to_convert,
    "TimeToConvertHistogram": _time_to_convert,
    "VelocityDrivers": _drivers,
    "FunnelPlan": _plan,
    "AttributionResult": _attribution,
    "AttributionComparison": _attribution_comparison,
    "SegmentTests": _segment_tests,
}


def plot_result(result: Any, ax: Axes | None = None, **kwargs: Any) -> Axes:
    """Draws a result on ``ax`` (a new figure when None) and returns the Axes; a TypeError names
    the results that have a chart when this one has none. ``kwargs`` go to ``Axes.set`` (e.g.
    ``title=``, ``xlim=``)."""
    if type(result).__name__ == "VelocityDecomposition":
        out = _waterfall(list(result.additive), list(result.additive.values()), result.v0, result.v1, ax)
    else:
        name = result.explain()["result"]
        if name == "ConversionTable" and result.segment_name is not None:
            result = _overall(result)
        fn = _BY_NAME.get(name)
        if fn is None:
            raise TypeError(f"{name} has no chart; charts exist for {', '.join(sorted(_BY_NAME))} and "
                            "VelocityDecomposition (plot the columns with matplotlib directly)")
        out = fn(result, ax)
    if kwargs:
        out.set(**kwargs)
    return out


def _overall(table: Any) -> Any:
    """The overall rows of a ConversionTable with segments."""
    from ._result import Table

    cols = table._table()
    keep = np.array([v == "(all)" for v in cols[table.segment_name]], dtype=bool)
    return Table({k: np.asarray(v, dtype=object if isinstance(v, list) else None)[keep] for k, v in cols.items()
                  if k != table.segment_name}, name="ConversionTable", definition=table.definition)
