"""The pipeline as an absorbing Markov chain.

Transient stages move among themselves with probabilities Q (n x n) and end in absorbing
outcomes (won, lost, ...) with probabilities R (n x m). The core solves, exactly:

* the fundamental matrix N = (I - Q)^-1: expected visits to each transient stage;
* the absorption probabilities B = N R: from each stage, the probability of ending in each
  outcome (the probability that an open entity in that stage is eventually won);
* the expected steps to absorption t = N 1: how many moves remain before an outcome.

Every result is labelled with the stage and outcome names.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from . import _core, _frames, _names
from ._result import Table

__all__ = ["AbsorbingChain", "solve_absorbing_chain"]

_RESERVED = ("state", "expected_steps")


def _is_table(x: Any) -> bool:
    mod = type(x).__module__
    return isinstance(x, Mapping) or mod.startswith(("pandas", "polars", "pyarrow", "duckdb")) \
        or (hasattr(x, "__arrow_c_stream__") and not isinstance(x, np.ndarray))


def _matrix(x: Any, option: str) -> tuple[np.ndarray, list[str] | None]:
    """A probability matrix and, for a table, its column names (the labels of its columns)."""
    if _is_table(x):
        table = _frames.as_table(x)
        names = _frames.column_names(table)
        cols = [_frames.numbers(_frames.column(table, c), f"{option}.{c}") for c in names]
        n = len(cols[0]) if cols else 0
        m = np.column_stack(cols) if cols else np.zeros((n, 0))
        return np.ascontiguousarray(m, dtype=np.float64), [str(c) for c in names]
    m = np.asarray(x, dtype=np.float64)
    if m.ndim != 2:
        raise ValueError(f"option '{option}': expected a 2-dimensional matrix, got shape {m.shape}")
    return np.ascontiguousarray(m), None


def _names_for(option: str, given: Sequence[Any] | None, from_table: list[str] | None, count: int,
               default: str) -> list[str]:
    if given is not None:
        names = [str(x) for x in given]
        if len(names) != count:
            raise ValueError(f"option '{option}': {len(names)} names given for {count} states")
        if from_table is not None and from_table != names:
            raise ValueError(f"option '{option}': names {names} disagree with the matrix columns {from_table}")
        return names
    if from_table is not None:
        return from_table
    return [f"{default} {i}" for i in range(count)]


class AbsorbingChain(Table):
    """Result of :func:`solve_absorbing_chain`, one row per transient state.

    Columns: ``state``, one column per absorbing outcome (the absorption probabilities B, e.g.
    ``chain["won"]`` is P(eventually won) from each stage) and ``expected_steps`` (t).
    Labelled tables: :attr:`absorption` (B), :attr:`fundamental` (N, one column per transient
    state), :attr:`expected_steps` (t); :meth:`probability` reads one entry by names.
    """

    definition = ("Absorbing Markov chain: transient states Q, absorbing outcomes R; fundamental matrix "
                  "N = (I - Q)^-1 (expected visits to each transient state), absorption probabilities B = N R "
                  "(probability of ending in each outcome, per starting state) and expected steps to absorption "
                  "t = N 1.")

    def __init__(self, solution: Any, transient: list[str], absorbing: list[str], *, inputs: dict[str, Any],
                 options: dict[str, Any]):
        n, m = len(transient), len(absorbing)
        self._b = np.asarray(solution.absorption, dtype=np.float64).reshape(n, m)
        self._n = np.asarray(solution.fundamental, dtype=np.float64).reshape(n, n)
        self._t = np.asarray(solution.expected_steps, dtype=np.float64).reshape(n)
        cols: dict[str, Any] = {"state": list(transient)}
        for j, name in enumerate(absorbing):
            cols[name] = self._b[:, j].copy()
        cols["expected_steps"] = self._t.copy()
        super().__init__(cols, inputs=inputs, options=options, categories={"state": list(transient)})
        #: Names of the transient states (rows) and of the absorbing outcomes.
        self.transient = list(transient)
        self.absorbing = list(absorbing)

    def _labelled(self, name: str, columns: dict[str, Any], definition: str) -> Table:
        return Table({"state": list(self.transient), **columns}, name=name, definition=definition,
                     inputs=self._inputs, options=self._options, categories={"state": list(self.transient)})

    @property
    def absorption(self) -> Table:
        """B = N R: per transient state (rows), the probability of ending in each outcome."""
        columns = {a: self._b[:, j].copy() for j, a in enumerate(self.absorbing)}
        return self._labelled("AbsorptionProbabilities", columns,
                              "Absorption probabilities B = N R: the probability of ending in each absorbing "
                              "outcome (columns) from each transient state (rows).")

    @property
    def fundamental(self) -> Table:
        """N = (I - Q)^-1: expected visits to each transient state (columns) from each (rows)."""
        return self._labelled("FundamentalMatrix", {s: self._n[:, k].copy() for k, s in enumerate(self.transient)},
                              "Fundamental matrix N = (I - Q)^-1: the expected number of visits to each transient "
                              "state (columns) starting from each transient state (rows), the start included.")

    @property
    def expected_steps(self) -> Table:
        """t = N 1: expected number of steps before absorption, per transient state."""
        return self._labelled("ExpectedSteps", {"expected_steps": self._t.copy()},
                              "Expected steps to absorption t = N 1: the expected number of moves before an "
                              "absorbing outcome, per starting transient state.")

    def probability(self, state: str, outcome: str) -> float:
        """P(ending in ``outcome`` | starting in ``state``); unknown names raise ValueError with
        the closest valid names."""
        if state not in self.transient:
            raise ValueError(_names.unknown("state", state, self.transient))
        if outcome not in self.absorbing:
            raise ValueError(_names.unknown("outcome", outcome, self.absorbing))
        return float(self._b[self.transient.index(state), self.absorbing.index(outcome)])

    def matrices(self) -> dict[str, np.ndarray]:
        """The unlabelled arrays: ``absorption`` (n x m), ``expected_steps`` (n),
        ``fundamental`` (n x n); rows and columns in the order of :attr:`transient` and
        :attr:`absorbing`."""
        return {"absorption": self._b.copy(), "expected_steps": self._t.copy(), "fundamental": self._n.copy()}

    def __getitem__(self, name: str) -> np.ndarray:
        """A column (``chain["won"]``). The keys of the former dict result (``"absorption"``,
        ``"fundamental"``) still give its arrays, with a DeprecationWarning."""
        if name in ("absorption", "fundamental") and name not in self.columns:
            warnings.warn(f"solve_absorbing_chain(...)[{name!r}] is deprecated; use the labelled table "
                          f".{name} or .matrices()[{name!r}]", DeprecationWarning, stacklevel=2)
            return self.matrices()[name]
        return super().__getitem__(name)


def solve_absorbing_chain(
    q: Any,
    r: Any,
    *,
    transient: Sequence[Any] | None = None,
    absorbing: Sequence[Any] | None = None,
    labels: Sequence[Any] | None = None,
) -> AbsorbingChain:
    """Solves the absorbing chain of transient-to-transient probabilities ``q`` (n x n) and
    transient-to-absorbing probabilities ``r`` (n x m).

    ``q`` and ``r`` are matrices (numpy arrays, nested lists) or tables whose columns are the
    states they lead to, rows in the same order as ``q``'s columns (a pandas or Polars
    DataFrame, a PyArrow table or a dict of columns): then the column names label the states.
    ``transient`` and ``absorbing`` name the states (or ``labels``: the transient names, then
    the absorbing ones); default ``"state 0"``, ... and ``"outcome 0"``, ...

    Every row of ``[Q R]`` must hold non-negative probabilities summing to at most 1, and every
    transient state must be able to reach an outcome; otherwise ValueError.
    """
    qm, q_names = _matrix(q, "q")
    rm, r_names = _matrix(r, "r")
    n = qm.shape[0]
    if qm.shape[1] != n:
        raise ValueError(f"option 'q': expected a square matrix, got shape {qm.shape}")
    if rm.shape[0] != n:
        raise ValueError(f"option 'r': {rm.shape[0]} rows, but q has {n} (one row per transient state)")
    if labels is not None:
        labels = [str(x) for x in labels]
        if transient is not None or absorbing is not None:
            raise TypeError("give either labels= or transient=/absorbing=, not both")
        if len(labels) != n + rm.shape[1]:
            raise ValueError(f"option 'labels': {len(labels)} names given for {n} transient and {rm.shape[1]} "
                             "absorbing states")
        transient, absorbing = labels[:n], labels[n:]
    t_names = _names_for("transient", transient, q_names, n, "state")
    a_names = _names_for("absorbing", absorbing, r_names, rm.shape[1], "outcome")
    every = t_names + a_names
    if len(set(every)) != len(every):
        dup = next(x for x in every if every.count(x) > 1)
        raise ValueError(f"state name {dup!r} is used twice (transient and absorbing names must all differ)")
    for name in a_names:
        if name in _RESERVED:
            raise ValueError(f"option 'absorbing': the name {name!r} is reserved for a column of the result")
    solution = _core.solve_absorbing_chain(qm, rm)
    inputs = {"transient_states": n, "absorbing_states": len(a_names)}
    options = {"transient": t_names, "absorbing": a_names}
    return AbsorbingChain(solution, t_names, a_names, inputs=inputs, options=options)
