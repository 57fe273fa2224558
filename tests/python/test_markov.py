"""The absorbing Markov chain against numpy's dense inverse; labelled tables; every input format."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import funnelkit as fk
from conftest import as_format
from contract import check_contract
from funnelkit import markov

T = 1 / 3
Q = [[0, T, T], [0, 0, 0.5], [T, 0, 0]]
R = [[T, 0], [0.5, 0], [T, T]]
STAGES = ["MQL", "SQL", "Opportunity"]
OUTCOMES = ["won", "lost"]


def test_absorbing_chain_matches_the_dense_inverse():
    out = markov.solve_absorbing_chain(Q, R, transient=STAGES, absorbing=OUTCOMES)
    n = np.linalg.inv(np.eye(3) - np.array(Q))
    np.testing.assert_allclose(out.matrices()["fundamental"], n, rtol=1e-12)
    np.testing.assert_allclose(out.matrices()["absorption"], n @ np.array(R), rtol=1e-12)
    np.testing.assert_allclose(out["expected_steps"], n.sum(axis=1), rtol=1e-12)
    np.testing.assert_allclose(out["won"], [0.8, 0.8, 0.6], rtol=1e-12)
    assert out.probability("Opportunity", "lost") == pytest.approx(0.4, rel=1e-12)
    assert out.columns == ["state", "won", "lost", "expected_steps"]
    assert list(out["state"]) == STAGES
    fundamental = out.fundamental
    assert fundamental.columns == ["state", *STAGES]
    np.testing.assert_allclose(fundamental["SQL"], n[:, 1], rtol=1e-12)
    assert out.absorption.columns == ["state", "won", "lost"]
    assert out.expected_steps.columns == ["state", "expected_steps"]


def test_results_keep_the_contract_with_labels():
    out = markov.solve_absorbing_chain(Q, R, labels=[*STAGES, *OUTCOMES])
    doc = check_contract(out)
    assert [row["state"] for row in doc["data"]] == STAGES
    assert "N = (I - Q)^-1" in out.explain().definition
    for table in (out.absorption, out.fundamental, out.expected_steps):
        check_contract(table)
    default = markov.solve_absorbing_chain(Q, R)
    assert default.transient == ["state 0", "state 1", "state 2"] and default.absorbing == ["outcome 0", "outcome 1"]


def test_former_dict_keys_are_deprecated():
    out = markov.solve_absorbing_chain(Q, R)
    with pytest.warns(DeprecationWarning, match=r"\['absorption'\] is deprecated"):
        b = out["absorption"]
    with pytest.warns(DeprecationWarning, match="fundamental"):
        n = out["fundamental"]
    np.testing.assert_allclose(b[:, 0], [0.8, 0.8, 0.6], rtol=1e-12)
    assert n.shape == (3, 3)


def test_names_and_shapes_are_checked():
    out = markov.solve_absorbing_chain(Q, R, transient=STAGES, absorbing=OUTCOMES)
    with pytest.raises(ValueError, match=r"state 'Oportunity' is not valid; did you mean 'Opportunity'"):
        out.probability("Oportunity", "won")
    with pytest.raises(ValueError, match=r"outcome 'wn' is not valid; did you mean 'won'"):
        out.probability("SQL", "wn")
    with pytest.raises(ValueError, match="option 'absorbing': 1 names given for 2 states"):
        markov.solve_absorbing_chain(Q, R, absorbing=["won"])
    with pytest.raises(ValueError, match="state name 'won' is used twice"):
        markov.solve_absorbing_chain(Q, R, transient=["won", "b", "c"], absorbing=OUTCOMES)
    with pytest.raises(ValueError, match="option 'q': expected a square matrix"):
        markov.solve_absorbing_chain([[0.5, 0.5]], R)
    with pytest.raises(ValueError, match="option 'r': 2 rows"):
        markov.solve_absorbing_chain(Q, R[:2])
    with pytest.raises(ValueError, match="absorbed|singular|sums"):
        markov.solve_absorbing_chain([[1.0, 0], [0, 0]], [[0], [1.0]])
    with pytest.raises(ValueError, match="disagree with the matrix columns"):
        markov.solve_absorbing_chain(pd.DataFrame(Q, columns=STAGES), R, transient=["a", "b", "c"])


def test_every_input_format_labels_the_states_from_the_columns(input_format):
    q = as_format(pd.DataFrame(np.array(Q), columns=STAGES), input_format)
    r = as_format(pd.DataFrame(np.array(R), columns=OUTCOMES), input_format)
    out = markov.solve_absorbing_chain(q, r)
    assert out.transient == STAGES and out.absorbing == OUTCOMES
    ref = markov.solve_absorbing_chain(Q, R, transient=STAGES, absorbing=OUTCOMES)
    assert out.to_dict() == ref.to_dict()
    assert fk.solve_absorbing_chain is markov.solve_absorbing_chain


# -- value-weighted Markov removal effects (attribution) ---------------------------------------
def _random_paths(seed: int, n: int = 400, channels: int = 4):
    rng = np.random.default_rng(seed)
    touches, outcomes = [], []
    for p in range(n):
        k = int(rng.integers(1, 6))
        chans = rng.integers(0, channels, k)
        for t, c in enumerate(chans):
            touches.append((p, t, f"ch{c}"))
        converted = rng.random() < 0.2 + 0.15 * (chans[-1] == 1) + 0.1 * (0 in chans)
        value = float(rng.choice([100.0, 250.0, 1000.0])) * (1 + (chans[-1] == 2)) if converted else 0.0
        outcomes.append((p, int(converted), value))
    return (pd.DataFrame(touches, columns=["path", "time", "channel"]),
            pd.DataFrame(outcomes, columns=["path", "converted", "value"]))


def _numpy_removal(touches: pd.DataFrame, outcomes: pd.DataFrame):
    """The order-1 chain built by hand: Q from the transition shares, r (to conversion) and r_v (the
    converted value leaving each state per move out of it); P(convert) and E[value] from the start,
    and both again with each channel removed (moves into it go nowhere)."""
    names = sorted(touches["channel"].unique())
    idx = {c: i for i, c in enumerate(names)}
    m = len(names)
    counts = np.zeros((m, m))
    conv, value, out_total, start = np.zeros(m), np.zeros(m), np.zeros(m), np.zeros(m)
    paths = touches.sort_values(["path", "time"]).groupby("path")["channel"].apply(list)
    o = outcomes.set_index("path")
    for p, chans in paths.items():
        s = [idx[c] for c in chans]
        start[s[0]] += 1
        for a, b in zip(s[:-1], s[1:]):
            counts[a, b] += 1
            out_total[a] += 1
        out_total[s[-1]] += 1
        if o.loc[p, "converted"]:
            conv[s[-1]] += 1
            value[s[-1]] += o.loc[p, "value"]
    q = counts / out_total[:, None]
    start /= start.sum()

    def solve(keep, reward):
        k = np.flatnonzero(keep)
        x = np.linalg.solve(np.eye(len(k)) - q[np.ix_(k, k)], reward[k])
        return float(start[k] @ x)

    every = np.ones(m, dtype=bool)
    p_all, v_all = solve(every, conv / out_total), solve(every, value / out_total)
    re, re_v = np.zeros(m), np.zeros(m)
    for c in range(m):
        keep = every.copy()
        keep[c] = False
        re[c] = 1 - solve(keep, conv / out_total) / p_all
        re_v[c] = 1 - solve(keep, value / out_total) / v_all
    return names, p_all, v_all, re, re_v


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_value_weighted_removal_effects_match_a_numpy_chain(seed):
    touches, outcomes = _random_paths(seed)
    names, p_all, v_all, re, re_v = _numpy_removal(touches, outcomes)
    ours = fk.attribute(touches, outcomes, model="markov", markov_weight="value")
    assert ours.channels == names
    total_value = outcomes.loc[outcomes["converted"] == 1, "value"].sum()
    np.testing.assert_allclose(ours.score, re_v, rtol=1e-10)
    np.testing.assert_allclose(ours.value, total_value * re_v / re_v.sum(), rtol=1e-10)
    np.testing.assert_allclose(ours.conversions, outcomes["converted"].sum() * re / re.sum(), rtol=1e-10)
    assert ours.base == pytest.approx(p_all, rel=1e-12)
    # The default (conversion-weighted) is unchanged: value split by P(convert)'s removal effects.
    plain = fk.attribute(touches, outcomes, model="markov")
    np.testing.assert_allclose(plain.score, re, rtol=1e-10)
    np.testing.assert_allclose(plain.value, total_value * re / re.sum(), rtol=1e-10)
    assert "value-weighted" in ours.explain().definition and ours.explain().options["markov_weight"] == "value"
    check_contract(ours)


def test_markov_weight_in_every_format_and_checked(input_format):
    touches, outcomes = _random_paths(4, n=150)
    ref = fk.attribute(touches, outcomes, model="markov", markov_weight="value").to_pandas()
    got = fk.attribute(as_format(touches, input_format), as_format(outcomes, input_format), model="markov",
                       markov_weight="value")
    pd.testing.assert_frame_equal(got.to_pandas(), ref)
    both = fk.compare_attribution(touches, outcomes, models=["markov", "linear"], markov_weight="value")
    np.testing.assert_allclose(both["markov"], ref["value"], rtol=1e-12)
    with pytest.raises(ValueError, match="option 'markov_weight'.*did you mean 'value'"):
        fk.attribute(touches, outcomes, model="markov", markov_weight="valeu")
