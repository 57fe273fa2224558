"""Pipeline forecast: hand-worked histories in every input format, the Markov chain against numpy
linear algebra, the semi-Markov forecast against a direct simulation of its own hazards, the
backtest on the sample data, and checked options."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import funnelkit as fk
from conftest import as_format
from contract import check_contract

ABC = fk.StageModel([("A", "sales", "step"), ("B", "sales", "step"), ("Won", "sales", "won"),
                     ("Lost", "sales", "lost")])


def _hand_records() -> pd.DataFrame:
    """Times in steps of 1 (integer ticks), origin 10: e1 A@0 B@2 Won@3 (500); e2 A@0 Lost@1;
    e3 A@5 (1000) open; e4 B@4 A@6 open; e9 B@10 (sets the end of the data). NaN: no amount."""
    nan = float("nan")
    rows = [(1, 0, "A", nan), (1, 2, "B", nan), (1, 3, "Won", 500.0), (2, 0, "A", nan), (2, 1, "Lost", nan),
            (3, 5, "A", 1000.0), (4, 4, "B", nan), (4, 6, "A", nan), (9, 10, "B", nan)]
    return pd.DataFrame(rows, columns=["entity", "time", "stage", "amount"])


def test_hand_worked_markov_forecast_in_every_input_format(input_format):
    """Without path memory. A: 12 steps at risk, one move to B and one to Lost; B: 3 steps, one
    to Won and one back to A. Jump chain A -> B | Lost (1/2 each), B -> A | Won (1/2 each):
    P(won | A) = 1/3, P(won | B) = 2/3."""
    f = fk.forecast_pipeline(as_format(_hand_records(), input_format), model=ABC, method="markov", step=1,
                             period_length=5, periods=2, max_age=0, simulations=0, memory="none")
    assert isinstance(f, fk.PipelineForecast)
    e = f.entities()
    assert list(e["entity"]) == [3, 4, 9] and list(e["stage"]) == ["A", "A", "B"]
    np.testing.assert_allclose(e["p_won"], [1 / 3, 1 / 3, 2 / 3], rtol=1e-12)
    assert list(e["amount"]) == [1000.0, 500.0, 500.0] and list(e["own_amount"]) == [True, False, False]
    tr = f.transitions().to_pandas()
    a_to_b = tr[(tr["from"] == "A") & (tr["to"] == "B")]
    assert a_to_b["hazard"].iloc[0] == pytest.approx(1 / 12) and a_to_b["at_risk"].iloc[0] == 12
    st = f.stages()
    np.testing.assert_allclose(st["p_won"], [1 / 3, 2 / 3], rtol=1e-12)
    np.testing.assert_allclose(st["stage_probability"], [0.5, 1.0])
    assert f.weighted.revenue == pytest.approx(0.5 * 1000 + 0.5 * 500 + 500)
    ref = fk.forecast_pipeline(_hand_records(), model=ABC, method="markov", step=1, period_length=5, periods=2,
                               max_age=0, simulations=0, memory="none")
    assert f.to_dict() == ref.to_dict() and e.to_dict() == ref.entities().to_dict()


@pytest.fixture(scope="module")
def crm() -> pd.DataFrame:
    return fk.sample_crm(8_000, seed=11)


def test_markov_chain_against_numpy(crm):
    """The estimated per-step chain, solved again with numpy: B = (I - Q)^-1 R, t = (I - Q)^-1 1,
    and P(won in the first period) from powers of the full step matrix."""
    f = fk.forecast_pipeline(crm, method="markov", origin="2024-10-01", simulations=0, memory="none")
    names = list(fk.sample_model().names)
    tr = f.transitions().to_pandas()
    st = f.stages().to_pandas()
    transient = list(st["stage"])
    absorbing = [n for n in names if n not in transient]
    order = transient + absorbing
    P = np.zeros((len(order), len(order)))
    for r in tr.itertuples():
        P[order.index(r[1]), order.index(r[3])] = r.hazard
    for i in range(len(transient)):
        P[i, i] = 1 - P[i].sum()
    for j in range(len(transient), len(order)):
        P[j, j] = 1.0
    nt = len(transient)
    Q, R = P[:nt, :nt], P[:nt, nt:]
    N = np.linalg.inv(np.eye(nt) - Q)
    won = nt + absorbing.index("Customer")
    np.testing.assert_allclose(st["p_won"], (N @ R)[:, won - nt], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(st["expected_days_to_close"], N @ np.ones(nt), rtol=1e-9)
    first = np.linalg.matrix_power(P, 30)[:, won]
    e = f.entities().to_pandas()
    want = np.array([first[order.index(s)] for s in e["stage"]])
    np.testing.assert_allclose(e["p_won_period_1"], want, rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(f["expected_wins"][0], want.sum(), rtol=1e-9)
    np.testing.assert_allclose(f["expected_revenue"][0], (want * e["amount"]).sum(), rtol=1e-9)


def test_semi_markov_against_a_direct_simulation(crm):
    """The semi-Markov chance of a win within the horizon, against a simulation (numpy) of the
    estimated hazards, for the open opportunities (ages differ: old ones rarely close)."""
    f = fk.forecast_pipeline(crm, origin="2024-10-01", simulations=0, max_age="60d", memory="none")
    tr = f.transitions().to_pandas()
    names = list(fk.sample_model().names)
    A = int(tr["age"].max())
    H = np.zeros((len(names), A + 1, len(names)))
    for r in tr.itertuples():
        H[names.index(r[1]), r.age, names.index(r[3])] = r.hazard
    terminal = {"Customer", "Lost", "Disqualified"}
    e = f.entities().to_pandas()
    opps = e[e["stage"] == "Opportunity"]
    rng = np.random.default_rng(5)
    reps = 4000
    steps = 90
    for _, row in opps.head(5).iterrows():
        state = np.full(reps, names.index("Opportunity"))
        age = np.full(reps, int(round(row["age_days"])))
        won = np.zeros(reps, dtype=bool)
        done = np.zeros(reps, dtype=bool)
        for _ in range(steps):
            rows = H[state, np.minimum(age, A)]
            cum = np.cumsum(rows, axis=1)
            u = rng.random(reps)
            dest = (u[:, None] >= cum).sum(axis=1)  # len(names): stays
            move = (dest < len(names)) & ~done
            age = np.where(move, 0, age + 1)
            state = np.where(move, dest, state)
            hit = move & np.isin(state, [names.index(n) for n in terminal])
            won |= hit & (state == names.index("Customer"))
            done |= hit
        p = won.mean()
        want = row[[f"p_won_period_{k}" for k in (1, 2, 3)]].sum()
        assert want == pytest.approx(p, abs=4 * np.sqrt(p * (1 - p) / reps) + 1e-3)


def test_forecast_contract_and_intervals(crm):
    f = fk.forecast_pipeline(crm, origin="2024-09-01", segment="source", by_segment=True, simulations=60, seed=3)
    assert list(f["period"]) == [0, 1, 2, -1]
    assert str(f["period_start"][0])[:10] == "2024-09-01" and str(f["period_end"][2])[:10] == "2024-11-30"
    # Quantiles of counts need not bracket the mean; they are ordered and within the counts.
    assert (f["wins_lower"] <= f["wins_upper"]).all() and (f["wins_lower"] >= 0).all()
    assert (f["wins_upper"] <= len(f.entities())).all()
    assert f["expected_wins"][3] == pytest.approx(f["expected_wins"][:3].sum())
    for result in (f, f.entities(), f.stages(), f.transitions(), f.weighted):
        check_contract(result)
    e = f.entities()
    assert set(e["segment"]) <= set(crm["source"].cat.categories)
    np.testing.assert_allclose(e["p_won"] + e["p_lost"] + e["p_never"], 1.0, atol=1e-9)
    ex = f.explain()
    assert ex.options["method"] == "semi_markov" and "Aalen-Johansen" in ex["formula"]
    assert str(ex.inputs["origin"]).startswith("2024-09-01")
    assert "PipelineForecast(origin" in repr(f)
    same = fk.forecast_pipeline(crm, origin="2024-09-01", segment="source", by_segment=True, simulations=60, seed=3)
    assert same.to_dict() == f.to_dict()


def test_backtest_on_the_sample_data():
    """Six monthly origins, three 30-day periods each: the semi-Markov 80% intervals hold the
    actual wins in 70-90% of the cells; the plain chain and the weighted pipeline overstate."""
    crm = fk.sample_crm(20_000, seed=42)
    bt = fk.backtest_forecast(crm, as_of="2024-12-31", simulations=200, no_amount=0)
    assert isinstance(bt, fk.ForecastBacktest)
    s = bt.summary().to_pandas().set_index("method")
    assert s.loc["semi_markov", "intervals"] == 18
    assert 0.7 <= s.loc["semi_markov", "coverage_wins"] <= 0.9
    assert s.loc["markov", "bias_wins"] > s.loc["semi_markov", "bias_wins"]
    assert s.loc["weighted_pipeline", "mae_wins"] > s.loc["semi_markov", "mae_wins"]
    rows = bt.to_pandas()
    assert len(rows) == 6 * 9
    # Coverage recomputed from the interval bounds and the actual wins (not the covered_wins column).
    semi = rows[(rows["method"] == "semi_markov") & (rows["period"] != "all") & (rows["expected_wins"] > 0)]
    held = (semi["actual_wins"] >= semi["wins_lower"]) & (semi["actual_wins"] <= semi["wins_upper"])
    assert held.mean() == pytest.approx(s.loc["semi_markov", "coverage_wins"])
    cal = bt.calibration().to_pandas()
    assert (cal.groupby("method", observed=True)["entities"].sum() > 0).all()
    for result in (bt, bt.summary(), bt.calibration()):
        check_contract(result)
    assert "coverage" in repr(bt)


def test_options_are_checked():
    df = _hand_records()
    with pytest.raises(ValueError, match="did you mean 'markov'"):
        fk.forecast_pipeline(df, model=ABC, method="markv", step=1, period_length=5, max_age=0)
    with pytest.raises(ValueError, match="period_length"):
        fk.forecast_pipeline(df, model=ABC, step=2, period_length=5, max_age=0)
    with pytest.raises(ValueError, match="by_segment"):
        fk.forecast_pipeline(df, model=ABC, step=1, period_length=5, max_age=0, by_segment=True)
    with pytest.raises(ValueError, match="origin"):
        fk.forecast_pipeline(df, model=ABC, step=1, period_length=5, max_age=0, origin=11)
    with pytest.raises(ValueError, match="origins"):
        fk.backtest_forecast(df, model=ABC, step=1, period_length=5, max_age=0, origins=[8])
    with pytest.raises(TypeError, match="bare number"):
        fk.forecast_pipeline(fk.sample_crm(200, seed=1), step=1)


def test_row_order_and_weekly_steps(crm):
    """The forecast depends on the records as a set (shuffled rows give the same numbers, bit for
    bit, intervals included); a weekly chain gives the same kind of answer as a daily one."""
    kw = dict(origin="2024-10-01", simulations=200, seed=9)
    ref = fk.forecast_pipeline(crm, **kw)
    shuffled = crm.sample(frac=1.0, random_state=4).reset_index(drop=True)
    got = fk.forecast_pipeline(shuffled, **kw)
    assert got.to_dict() == ref.to_dict()
    assert got.entities().to_dict() == ref.entities().to_dict()
    weekly = fk.forecast_pipeline(crm, step="7d", period_length="28d", max_age="84d", **kw)
    assert weekly.explain().options["step"] == "7d" and len(weekly) == 4
    assert weekly["expected_wins"][3] == pytest.approx(ref["expected_wins"][:3].sum(), rel=0.25)
    # Weekly steps with the defaults: 30 and 90 days rounded to whole weeks (28 and 91 days).
    default = fk.forecast_pipeline(crm, step="1w", **kw)
    assert default.to_dict() == fk.forecast_pipeline(crm, step="7d", period_length="28d", max_age="91d", **kw).to_dict()


# -- review fixes: explanations, empty backtest cells, segments, amounts, parameter uncertainty ----
def test_forecast_explain_reports_the_table_totals():
    """The explanation is built before the result's columns are handed over: its inputs are the
    table's figures, not zeros."""
    crm = fk.sample_crm(3_000, seed=3)
    f = fk.forecast_pipeline(crm, origin="2024-10-01", simulations=100)
    ins = f.explain().inputs
    whole = len(f) - 1
    assert ins["open_entities"] == len(f.entities()) > 0
    for k in ("expected_wins", "wins_lower", "wins_upper", "expected_revenue"):
        assert ins[k] == pytest.approx(f[k][whole]), k
    assert ins["weighted_revenue"] == pytest.approx(f.weighted.revenue)


def test_backtest_explain_matches_its_summary():
    crm = fk.sample_crm(3_000, seed=3)
    bt = fk.backtest_forecast(crm, n_origins=3, simulations=100)
    ins = bt.explain().inputs
    s = bt.summary().to_pandas().set_index("method")
    for m in ("markov", "semi_markov", "weighted_pipeline"):
        for k in ("intervals", "empty_cells", "coverage_wins", "mae_wins", "bias_wins", "brier"):
            assert ins[f"{k} {m}"] == pytest.approx(s.loc[m, k]), (k, m)


def test_backtest_refuses_origins_before_the_data_or_with_nothing_open():
    """Origins before the first record used to count their empty cells (0 in [0, 0]) as covered:
    sample_crm(3000, seed=3) with 40 origins had 93 of 120 cells trivial."""
    crm = fk.sample_crm(3_000, seed=3)
    with pytest.raises(ValueError, match=r"before the first record \(2024-01-0\d"):
        fk.backtest_forecast(crm, n_origins=40, simulations=0)
    with pytest.raises(ValueError, match=r"origins\[0\] = 2023-06-01"):
        fk.backtest_forecast(crm, origins=["2023-06-01", "2024-06-01"], simulations=0)
    # Nothing open at the origin (every entity has closed): refused, the origin shown as a date.
    rows = [(1, "2024-01-01", "A"), (1, "2024-01-02", "Won"), (2, "2024-01-01", "A"), (2, "2024-01-03", "Lost"),
            (3, "2024-03-01", "A")]
    df = pd.DataFrame(rows, columns=["entity", "time", "stage"])
    df["time"] = pd.to_datetime(df["time"])
    with pytest.raises(ValueError, match=r"2024-01-10.*no entity open"):
        fk.backtest_forecast(df, model=ABC, amount=None, origins=["2024-01-10"], period_length="5d", periods=2,
                             max_age="0d", simulations=10)


def test_backtest_summary_against_pandas():
    """Coverage (empty cells left out), MAE and bias recomputed with pandas from the rows; the
    Brier score and the calibration table from the per-entity forecasts at each origin and what
    the entities did (pandas on the raw records)."""
    crm = fk.sample_crm(3_000, seed=3)
    origins = ["2024-08-01", "2024-09-01"]
    bt = fk.backtest_forecast(crm, origins=origins, simulations=200, periods=2, calibration_bins=5, no_amount=0)
    rows = bt.to_pandas()
    s = bt.summary().to_pandas().set_index("method")
    for m in ("markov", "semi_markov", "weighted_pipeline"):
        r = rows[(rows["method"] == m) & ((rows["period"] != "all") if m != "weighted_pipeline" else True)]
        full = r[r["expected_wins"] > 0]
        cov = ((full["actual_wins"] >= full["wins_lower"]) & (full["actual_wins"] <= full["wins_upper"])).mean()
        assert s.loc[m, "empty_cells"] == (r["expected_wins"] == 0).sum()
        assert s.loc[m, "intervals"] == len(full)
        assert s.loc[m, "coverage_wins"] == pytest.approx(cov)
        assert s.loc[m, "mae_wins"] == pytest.approx((r["expected_wins"] - r["actual_wins"]).abs().mean())
        assert s.loc[m, "bias_wins"] == pytest.approx((r["expected_wins"] - r["actual_wins"]).mean())
        assert s.loc[m, "bias_revenue"] == pytest.approx((r["expected_revenue"] - r["actual_revenue"]).mean())
    # Per-entity predictions at each origin, outcomes from the records.
    horizon = pd.Timedelta(days=60)
    preds, outcome = [], []
    for o in origins:
        t0 = pd.Timestamp(o)
        e = fk.forecast_pipeline(crm, origin=o, method="semi_markov", periods=2, simulations=0).entities().to_pandas()
        after = crm[(crm["time"] > t0) & crm["entity"].isin(e["entity"])]
        terminal = after[after["stage"].isin(["Customer", "Lost", "Disqualified"])].sort_values("time")
        first = terminal.groupby("entity", observed=True).first()
        won = first[(first["stage"] == "Customer") & (first["time"] <= t0 + horizon)].index
        preds.append(e["p_won_period_1"] + e["p_won_period_2"])
        outcome.append(e["entity"].isin(won).astype(float))
    p, y = pd.concat(preds).to_numpy(), pd.concat(outcome).to_numpy()
    assert s.loc["semi_markov", "brier"] == pytest.approx(((p - y) ** 2).mean(), rel=1e-9)
    cal = bt.calibration().to_pandas()
    c = cal[cal["method"] == "semi_markov"].set_index("bin")
    bins = np.minimum((p * 5).astype(int), 4)
    for b in range(5):
        assert c.loc[b, "entities"] == (bins == b).sum()
        if (bins == b).any():
            assert c.loc[b, "predicted"] == pytest.approx(p[bins == b].mean())
            assert c.loc[b, "observed"] == pytest.approx(y[bins == b].mean())


def test_segment_without_history_uses_the_pooled_hazards():
    """by_segment=True: a segment with no training history used to get p_won = 0 and p_never = 1."""
    rows = ([(i, 0, "A", 0.0) for i in range(1, 11)] + [(i, 2, "Won", 5.0) for i in range(1, 6)]
            + [(i, 3, "Lost", 0.0) for i in range(6, 11)] + [(20, 4, "A", 9.0), (21, 4, "A", 9.0)])
    df = pd.DataFrame(rows, columns=["entity", "time", "stage", "amount"])
    df["seg"] = ["x"] * 20 + ["y", "y"]
    kw = dict(model=ABC, step=1, period_length=5, periods=2, max_age=0, simulations=0, method="markov")
    f = fk.forecast_pipeline(df, segment="seg", by_segment=True, **kw)
    e = f.entities().to_pandas()
    # Pooled: A has 5 * 2 + 5 * 3 = 25 steps at risk, 5 moves to Won and 5 to Lost: P(won) = 1/2.
    np.testing.assert_allclose(e["p_won"], [0.5, 0.5], rtol=1e-12)
    assert (e["p_never"] == 0).all() and e["pooled"].all() and (e["at_risk"] == 0).all()
    ex = f.explain()
    assert ex.inputs["pooled_entities"] == 2 and "pooled hazards" in ex.definition
    check_contract(f.entities())


def test_zero_is_an_amount_and_nan_is_none():
    df = _hand_records()
    df.loc[len(df)] = (5, 9, "A", 0.0)  # e5 enters A with an amount of 0
    e = fk.forecast_pipeline(df, model=ABC, method="markov", step=1, period_length=5, periods=2, max_age=0,
                             simulations=0).entities().to_pandas().set_index("entity")
    assert e.loc[5, "amount"] == 0.0 and e.loc[5, "own_amount"]
    assert e.loc[4, "amount"] == 500.0 and not e.loc[4, "own_amount"]  # NaN: the mean won amount
    # no_amount=0 reads the zeros as "none" (sample_crm writes 0 on rows without a deal).
    z = fk.forecast_pipeline(df, model=ABC, method="markov", step=1, period_length=5, periods=2, max_age=0,
                             simulations=0, no_amount=0).entities().to_pandas().set_index("entity")
    assert z.loc[5, "amount"] == 500.0 and not z.loc[5, "own_amount"]
    bad = _hand_records()
    bad.loc[0, "amount"] = -1.0
    with pytest.raises(ValueError, match="amount"):
        fk.forecast_pipeline(bad, model=ABC, step=1, period_length=5, max_age=0)


def test_checked_inputs_speak_in_datetimes_and_steps():
    crm = fk.sample_crm(300, seed=1)
    with pytest.raises(ValueError, match="max_age.*whole number of steps"):
        fk.forecast_pipeline(crm, max_age="36h")
    with pytest.raises(ValueError, match="0 rows"):
        fk.forecast_pipeline(crm.iloc[:0])
    with pytest.raises(ValueError, match=r"origin.*2030-01-01.*after the end of the data \(as_of 2024-"):
        fk.forecast_pipeline(crm, origin="2030-01-01")
    f = fk.forecast_pipeline(crm, simulations=0)
    units = {c["name"]: c.get("unit") for c in json.loads(f.to_json())["columns"]}
    assert units["revenue_lower"] == units["revenue_upper"] == units["expected_revenue"] == "currency"
    stage_units = {c["name"]: c.get("unit") for c in json.loads(f.stages().to_json())["columns"]}
    assert stage_units["open_amount"] == "currency"
    weekly = fk.forecast_pipeline(crm, simulations=0, step="7d", period_length="28d", max_age="84d")
    tr, ents = weekly.transitions(), weekly.entities()
    assert (np.asarray(tr["age_days"]) == np.asarray(tr["age"]) * 7.0).all()
    assert (np.asarray(ents["age_days"]) % 7 == 0).all()


# Pooled 80% coverage over data seeds. The per-seed coverage of 3 x 6 cells is noisy (a standard
# error of about 9 points), so the test pins the pooled share of the semi-Markov cells over five
# seeds (90 cells, standard error about 4 points) within a band of about 2.5 standard errors.
# Before the hazards were resampled, seeds 1-10 of the 20,000-lead sample averaged about 68%.
def test_pooled_interval_coverage_over_data_seeds():
    held = cells = 0
    for seed in (1, 2, 3, 4, 5):
        crm = fk.sample_crm(6_000, seed=seed)
        bt = fk.backtest_forecast(crm, simulations=150, no_amount=0, seed=seed)
        s = bt.summary().to_pandas().set_index("method")
        held += s.loc["semi_markov", "coverage_wins"] * s.loc["semi_markov", "intervals"]
        cells += s.loc["semi_markov", "intervals"]
    assert cells == 90
    assert 0.70 <= held / cells <= 0.92


def _snapshot_moves(crm: pd.DataFrame, origin: pd.Timestamp, visited: bool) -> tuple[dict, dict]:
    """Moves and steps at risk from daily snapshots, by the definition: the state of an entity at
    the snapshot origin - k days is the stage of its last record at or before it (with
    ``visited``, and the stages of the entity's earlier runs of records, joined by "+"); a move is
    two consecutive snapshots in different states; at risk: consecutive pairs starting in a
    transient state. Keys (from, visited, to) and (from, visited)."""
    names = list(fk.sample_model().names)
    terminal = {"Customer", "Lost", "Disqualified"}
    day = pd.Timedelta(days=1)
    moves: dict[tuple[str, str, str], int] = {}
    risk: dict[tuple[str, str], int] = {}
    for _, g in crm[crm["time"] <= origin].sort_values(["time"], kind="stable").groupby("entity", observed=True):
        times = g["time"].to_numpy()
        stages = g["stage"].astype(str).to_numpy()
        labels, seen, cur, run_label = [], set(), None, ""
        for s in stages:  # the visited set of each record's run
            if s != cur:
                if cur is not None and cur not in terminal:
                    seen.add(cur)
                cur = s
                run_label = "+".join(n for n in names if n in seen) if visited else ""
            labels.append(run_label)
        k0 = -((origin - pd.Timestamp(times[0])) // day)  # first snapshot at or after the first record
        snaps = np.asarray(origin.to_datetime64() + np.arange(k0, 1) * np.timedelta64(1, "D"), dtype=times.dtype)
        idx = np.searchsorted(times, snaps, side="right") - 1
        states = [(stages[i], labels[i]) for i in idx]
        for a, b in zip(states[:-1], states[1:]):
            if a[0] in terminal:
                break
            risk[a] = risk.get(a, 0) + 1
            if b != a:
                moves[(a[0], a[1], b[0])] = moves.get((a[0], a[1], b[0]), 0) + 1
    return moves, risk


def test_markov_hazards_against_daily_snapshots_in_pandas():
    """The Markov hazards of the sample without path memory, recomputed from daily snapshots."""
    crm = fk.sample_crm(600, seed=8)
    origin = pd.Timestamp("2024-10-01")
    f = fk.forecast_pipeline(crm, method="markov", origin=origin, simulations=0, memory="none")
    moves, risk = _snapshot_moves(crm, origin, visited=False)
    tr = f.transitions().to_pandas()
    got = {(r["from"], r["to"]): (r["moves"], r["at_risk"], r["hazard"]) for _, r in tr.iterrows()}
    assert set(got) == {(a, b) for a, _, b in moves}
    for (a, v, b), n in moves.items():
        m, at_risk, h = got[(a, b)]
        assert (m, at_risk) == (n, risk[(a, v)]), (a, b)
        assert h == pytest.approx(n / risk[(a, v)], rel=1e-12)
    assert "visited" not in tr.columns


def test_weighted_pipeline_interval_against_the_exact_distribution():
    """Without the hazard bootstrap, the weighted pipeline's simulated interval of wins is the
    10% and 90% quantiles of a sum of independent Bernoulli(stage probability) draws; the exact
    (Poisson-binomial) distribution by convolution puts them within one win."""
    crm = fk.sample_crm(2_000, seed=4)
    f = fk.forecast_pipeline(crm, origin="2024-10-01", simulations=4000, bootstrap_hazards=False)
    sp = np.nan_to_num(f.entities().to_pandas()["stage_probability"].to_numpy())
    dist = np.zeros(len(sp) + 1)
    dist[0] = 1.0
    for p in sp:
        dist[1:] = dist[1:] * (1 - p) + dist[:-1] * p
        dist[0] *= 1 - p
    cdf = np.cumsum(dist)
    lo, hi = int(np.searchsorted(cdf, 0.1)), int(np.searchsorted(cdf, 0.9))
    assert f.weighted.wins == pytest.approx(sp.sum())
    assert abs(f.weighted.wins_lower - lo) <= 1 and abs(f.weighted.wins_upper - hi) <= 1


# -- one options object, threads, bounded bootstrap models, amount uncertainty --------------------
def test_options_object_and_keywords_are_one_definition():
    """ForecastOptions holds the options both functions share: passing it, passing the same
    keywords, or overriding its fields with keywords gives the same result."""
    crm = fk.sample_crm(1_500, seed=6)
    o = fk.ForecastOptions(step="7d", periods=2, simulations=40, seed=5, no_amount=0)
    a = fk.forecast_pipeline(crm, origin="2024-09-01", options=o)
    b = fk.forecast_pipeline(crm, origin="2024-09-01", step="7d", periods=2, simulations=40, seed=5, no_amount=0)
    assert a.to_dict() == b.to_dict() and a.explain().options == b.explain().options
    c = fk.forecast_pipeline(crm, origin="2024-09-01", options=fk.ForecastOptions(step="1d"), step="7d", periods=2,
                             simulations=40, seed=5, no_amount=0)
    assert c.to_dict() == a.to_dict()
    bt = fk.backtest_forecast(crm, n_origins=2, options=o)
    assert bt.to_dict() == fk.backtest_forecast(crm, n_origins=2, step="7d", periods=2, simulations=40, seed=5,
                                                no_amount=0).to_dict()
    with pytest.raises(TypeError, match="did you mean 'simulations'"):
        fk.forecast_pipeline(crm, simulation=10)
    with pytest.raises(TypeError, match="ForecastOptions"):
        fk.backtest_forecast(crm, options={"step": "7d"})
    check_contract(a)


def test_threads_and_bootstrap_models():
    """Any thread count gives the same numbers; bootstrap_models caps the refits (at least the
    simulations: the same intervals), and fewer resamples leave the expected values alone."""
    crm = fk.sample_crm(3_000, seed=2)
    kw = dict(origin="2024-10-01", simulations=90, no_amount=0, segment="source", by_segment=True)
    one = fk.forecast_pipeline(crm, **kw)
    two = fk.forecast_pipeline(crm, threads=2, **kw)
    assert one.to_dict() == two.to_dict()
    assert fk.forecast_pipeline(crm, bootstrap_models=90, **kw).to_dict() == \
        fk.forecast_pipeline(crm, bootstrap_models=5000, **kw).to_dict()
    few = fk.forecast_pipeline(crm, bootstrap_models=3, **kw)
    np.testing.assert_array_equal(few["expected_wins"], one["expected_wins"])
    assert "one of 3 bootstrap resamples" in few.explain().definition
    with pytest.raises(ValueError, match="threads"):
        fk.forecast_pipeline(crm, threads=0)


def test_resampled_amounts_against_the_training_wins():
    """An open entity without an amount whose win is certain: the training wins were 100 and 300,
    so with resample_amounts its simulated revenue is one of them (the 25% and 75% quantiles of
    about as many of each), without it always their mean; the expected revenue is 200 either
    way."""
    nan = float("nan")
    df = pd.DataFrame([(1, 0, "A", nan), (1, 1, "Won", 100.0), (2, 0, "A", nan), (2, 1, "Won", 300.0),
                       (3, 2, "A", nan)], columns=["entity", "time", "stage", "amount"])
    kw = dict(model=ABC, method="markov", step=1, period_length=1, periods=1, max_age=0, simulations=400,
              bootstrap_hazards=False, confidence=0.5)
    f = fk.forecast_pipeline(df, **kw)
    assert f["expected_revenue"][0] == 200.0
    assert (f["revenue_lower"][0], f["revenue_upper"][0]) == (100.0, 300.0)
    g = fk.forecast_pipeline(df, resample_amounts=False, **kw)
    assert (g["revenue_lower"][0], g["revenue_upper"][0]) == (200.0, 200.0)


def test_path_memory_by_hand():
    """memory="visited" (Markov, steps of 1, origin 5): e3 sits in A after a visit to B; the
    entities that did so before were all won, so P(won) = 1 (4 steps at risk, 1 move to Won);
    without memory A and B pool fresh and returning entities: P(won | A) = 5/8."""
    rows = [(1, 0, "A"), (1, 1, "B"), (1, 2, "A"), (1, 3, "Won"), (2, 0, "A"), (2, 2, "Lost"), (3, 0, "A"),
            (3, 1, "B"), (3, 2, "A"), (4, 0, "B"), (4, 1, "Won"), (5, 5, "B")]
    df = pd.DataFrame(rows, columns=["entity", "time", "stage"])
    kw = dict(model=ABC, amount=None, method="markov", step=1, period_length=5, periods=1, max_age=0, simulations=0)
    none = fk.forecast_pipeline(df, memory="none", **kw).entities().to_pandas().set_index("entity")
    assert none.loc[3, "p_won"] == pytest.approx(5 / 8, rel=1e-12)
    f = fk.forecast_pipeline(df, memory="visited", **kw)
    e = f.entities().to_pandas().set_index("entity")
    assert e.loc[3, "stage"] == "A" and e.loc[3, "p_won"] == pytest.approx(1.0, rel=1e-12)
    tr = f.transitions().to_pandas()
    got = {(r["from"], r["visited"], r["to"]): (r["moves"], r["at_risk"]) for _, r in tr.iterrows()}
    assert got == {("A", "", "B"): (2, 4), ("A", "", "Lost"): (1, 4), ("A", "A+B", "Won"): (1, 4),
                   ("B", "", "Won"): (1, 1), ("B", "A", "A"): (2, 2)}
    assert f.explain().options["memory"] == "visited"
    with pytest.raises(ValueError, match="did you mean 'visited'"):
        fk.forecast_pipeline(df, memory="visit", **kw)


def test_path_memory_hazards_against_daily_snapshots_in_pandas():
    """The Markov hazards with memory="visited" (the default), recomputed from daily snapshots
    whose state adds the stages of the entity's earlier runs of records."""
    crm = fk.sample_crm(600, seed=8)
    origin = pd.Timestamp("2024-10-01")
    f = fk.forecast_pipeline(crm, method="markov", origin=origin, simulations=0)
    moves, risk = _snapshot_moves(crm, origin, visited=True)
    tr = f.transitions().to_pandas()
    got = {(r["from"], r["visited"], r["to"]): (r["moves"], r["at_risk"]) for _, r in tr.iterrows() if r["moves"] > 0}
    assert set(got) == set(moves)
    for (a, v, b), n in moves.items():
        assert got[(a, v, b)] == (n, risk[(a, v)]), (a, v, b)
