"""``.plot(ax=None)`` on the main results draws with matplotlib and returns the Axes; a result
without a chart says which ones have one. ``python tests/python/test_plot.py --write docs/plot.png``
redraws the README's notebook picture."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import funnelkit as fk

mpl = pytest.importorskip("matplotlib")
mpl.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402


@pytest.fixture(scope="module")
def data():
    df = fk.sample_crm(3000, seed=4)
    lc = fk.lifecycle(df, segment="source", as_of=df.attrs["end"])
    touches, outcomes = fk.sample_touches(3000, seed=4)
    return df, lc, touches, outcomes


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _results(df, lc, touches, outcomes):
    durations = np.array([1.0, 2.0, 2.0, 3.0, 5.0, 8.0, 9.0])
    observed = np.array([1, 1, 0, 1, 0, 1, 1])
    opps = fk.opportunities_from_stages(df)
    halves = fk.velocity(opps, edges=["2024-01-01", "2024-07-01", "2025-01-01"]).to_dict("records")
    steps = fk.steps_from_conversion(fk.conversion(df))
    return {
        "funnel": fk.conversion(df, segment="source"),
        "lifecycle funnel": lc.conversion(),
        "by segment": lc.conversion(by="segment"),
        "cohorts": lc.conversion(by="cohort", maturity="90d"),
        "kaplan-meier": fk.kaplan_meier(durations, observed),
        "aalen-johansen": fk.aalen_johansen(durations, np.array([1, 2, 0, 1, 0, 2, 1]), labels=["won", "lost"]),
        "time to convert": lc.time_to_convert("Lead", "Customer", by_segment=True),
        "velocity drivers": fk.decompose_velocity(halves[0], halves[1]),
        "drivers table": fk.decompose_velocity(halves[0], halves[1]).drivers(),
        "plan": fk.plan_reverse_funnel(goal=500_000, deal_value=25_000, steps=steps, reps=5),
        "attribution": fk.attribute(touches, outcomes, model="linear"),
        "attribution by model": fk.compare_attribution(touches, outcomes, models=["first_touch", "linear", "markov"]),
        "window funnel": fk.window_funnel({"entity": df["entity"], "time": df["time"],
                                           "step": df["stage"].astype(str)}, window="30d",
                                          steps=["Lead", "MQL", "SQL"]),
    }


def test_main_results_plot_and_return_their_axes(data):
    for name, result in _results(*data).items():
        ax = result.plot()
        assert isinstance(ax, Axes), name
        assert ax.has_data(), name
        plt.close("all")


def test_plot_draws_on_the_given_axes_and_sets_options(data):
    df, lc, _, _ = data
    fig, (a, b) = plt.subplots(1, 2)
    assert fk.conversion(df).plot(ax=a, title="mine") is a and a.get_title() == "mine"
    assert lc.time_in_stage().plot is not None
    with pytest.raises(TypeError, match="has no chart; charts exist for"):
        lc.time_in_stage().plot(ax=b)


def test_the_numbers_drawn_are_the_results(data):
    df, _, _, _ = data
    conv = fk.conversion(df)
    ax = conv.plot()
    widths = sorted(p.get_width() for p in ax.patches)
    assert widths == sorted(float(conv.reached(s)) for s in conv.stages)


if __name__ == "__main__" and "--write" in sys.argv:
    target = sys.argv[sys.argv.index("--write") + 1]
    df = fk.sample_crm(20_000, seed=42)
    lc = fk.lifecycle(df, segment="source", as_of=df.attrs["end"])
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2), layout="constrained")
    lc.conversion(by="segment").plot(ax=axes[0])
    opps = fk.opportunities_from_stages(df)
    halves = fk.velocity(opps, edges=["2024-01-01", "2024-07-01", "2025-01-01"]).to_dict("records")
    fk.decompose_velocity(halves[0], halves[1]).plot(ax=axes[1])
    fig.savefig(target, dpi=110)
    print(f"wrote {target}")
