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
