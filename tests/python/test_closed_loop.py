"""Closed-loop reporting against independent reference implementations written here:
brute-force attribution (rule-based weights per path, Markov absorption by a dense numpy solve
over tuple states, Shapley values by enumerating orderings), a dict-based suppression list,
O(n^2) pair counts and scipy's Mann-Whitney U for the AUC, pandas group-bys and statsmodels for
the campaign report."""

from __future__ import annotations

import itertools
import math
import pickle
from collections import defaultdict

import numpy as np
import pandas as pd
import pytest

import funnelkit
from funnelkit import closed_loop as cl


# -- random paths ------------------------------------------------------------------------------
def random_paths(seed: int, n_paths: int, n_channels: int, max_len: int, *, strings: bool = False):
    rng = np.random.default_rng(seed)
    rows = []
    outcomes = []
    names = [f"ch{c}" for c in range(n_channels)]
    for p in range(n_paths):
        length = int(rng.integers(1, max_len + 1))
        times = np.sort(rng.choice(1000, size=length, replace=False))
        for k in range(length):
            c = int(rng.integers(0, n_channels))
            ms = "lead_created" if (k == 1 and rng.random() < 0.5) else ("opportunity_created" if k == length - 1 and rng.random() < 0.5 else None)
            rows.append({"path": f"p{p}" if strings else p, "time": int(times[k]), "channel": names[c] if strings else c,
                         "milestone": ms})
        conv = bool(rng.random() < 0.35)
        outcomes.append({"path": f"p{p}" if strings else p, "converted": int(conv),
                         "value": float(rng.integers(1, 200)) if conv else 0.0, "conversion_time": 1000})
    touches = pd.DataFrame(rows).sample(frac=1.0, random_state=seed).reset_index(drop=True)  # any row order
    return touches, pd.DataFrame(outcomes)


def grouped(touches: pd.DataFrame, outcomes: pd.DataFrame):
    """path -> (channels in time order, times, milestones, converted, value)."""
    out = {}
    oc = outcomes.set_index("path")
    for p, g in touches.sort_values(["path", "time"], kind="stable").groupby("path", sort=False):
        o = oc.loc[p]
        out[p] = (list(g["channel"]), list(g["time"]), list(g["milestone"]), bool(o["converted"]), float(o["value"]))
    return out


def ref_rule(paths, model: str, *, half_life: float = 100.0, conv_time: float = 1000.0,
             head=(), tail=(), middle=0.0, u=(0.4, 0.2, 0.4), w=(0.3, 0.3, 0.3, 0.1)):
    credit = defaultdict(float)
    for chans, times, ms, conv, val in paths.values():
        if not conv:
            continue
        n = len(chans)
        if model == "first_touch":
            wt = [1.0] + [0.0] * (n - 1)
        elif model == "last_touch":
            wt = [0.0] * (n - 1) + [1.0]
        elif model == "linear":
            wt = [1.0 / n] * n
        elif model in ("u_shaped", "position"):
            hd, tl, mid = ((u[0],), (u[2],), u[1]) if model == "u_shaped" else (head, tail, middle)
            wt = [None] * n
            for i in range(min(len(hd), n)):
                wt[i] = hd[i]
            free = [i for i in range(n) if wt[i] is None]
            for j, x in enumerate(tl):
                if j < len(free):
                    wt[free[-1 - j]] = x
            rest = [i for i in range(n) if wt[i] is None]
            for i in rest:
                wt[i] = mid / len(rest)
            s = sum(wt)
            wt = [x / s for x in wt] if s > 0 else [1.0 / n] * n
        elif model == "w_shaped":
            lead = next((i for i, m in enumerate(ms) if m == "lead_created"), 0)
            opp = next((i for i, m in enumerate(ms) if m == "opportunity_created"), n - 1)
            wt = [0.0] * n
            wt[0] += w[0]
            wt[lead] += w[1]
            wt[opp] += w[2]
            rest = [i for i in range(n) if i not in (0, lead, opp)]
            for i in rest:
                wt[i] = w[3] / len(rest)
            s = sum(wt)
            wt = [x / s for x in wt]
        elif model == "time_decay":
            raw = [2.0 ** (-(conv_time - t) / half_life) for t in times]
            wt = [x / sum(raw) for x in raw]
        for c, x in zip(chans, wt):
            credit[c] += x * val
    return credit


def ref_markov(paths, order: int, n_channels: int):
    """P(convert) and P(convert without c) by a dense solve over the tuple states."""
    def fit(removed):
        counts = defaultdict(lambda: defaultdict(float))
        for chans, _, _, conv, _ in paths.values():
            state = ("start",)
            hist: tuple = ()
            for c in chans:
                hist = (hist + (c,))[-order:]
                counts[state][hist] += 1
                state = hist
            counts[state]["conv" if conv else "null"] += 1
        states = sorted({s for s in counts if s != ("start",)} | {t for d in counts.values() for t in d if isinstance(t, tuple)}, key=str)
        states = [s for s in states if removed is None or removed not in s]
        idx = {s: i for i, s in enumerate(states)}
        m = len(states)
        q = np.zeros((m, m))
        r = np.zeros(m)
        for s in states:
            tot = sum(counts[s].values())
            for t, k in counts[s].items():
                if t == "conv":
                    r[idx[s]] += k / tot
                elif isinstance(t, tuple) and t in idx:
                    q[idx[s], idx[t]] += k / tot
        x = np.linalg.solve(np.eye(m) - q, r) if m else np.zeros(0)
        tot = sum(counts[("start",)].values())
        return sum(k / tot * x[idx[t]] for t, k in counts[("start",)].items() if t in idx)

    base = fit(None)
    without = [fit(c) for c in range(n_channels)]
    return base, without


def ref_shapley(paths, n_channels: int, game: str):
    sets = [(frozenset(ch), conv, val) for ch, _, _, conv, val in paths.values()]

    def v(coalition: frozenset) -> float:
        covered = [(conv, val) for s, conv, val in sets if s <= coalition]
        total = sum(val for conv, val in covered if conv)
        if game == "covered_value":
            return total
        return total / len(covered) if covered else 0.0

    present = sorted({c for s, _, _ in sets for c in s})
    phi = defaultdict(float)
    perms = list(itertools.permutations(present))
    for perm in perms:
        prev, co = 0.0, frozenset()
        for c in perm:
            co = co | {c}
            now = v(co)
            phi[c] += now - prev
            prev = now
    return {c: phi[c] / len(perms) for c in present}, v(frozenset(present))


# -- attribution -------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("model", ["first_touch", "last_touch", "linear", "u_shaped", "w_shaped", "time_decay"])
def test_rule_based_models_match_reference(seed, model):
    touches, outcomes = random_paths(seed, 150, 5, 6)
    ref = ref_rule(grouped(touches, outcomes), model)
    got = cl.attribute(touches, outcomes, model=model, milestone="milestone", conversion_time="conversion_time",
                       half_life=100.0)
    for c, x in zip(got.channels, got.value):
        assert x == pytest.approx(ref.get(c, 0.0), rel=1e-9, abs=1e-9), c
    assert got.value.sum() == pytest.approx(outcomes["value"].sum(), rel=1e-12)
    assert got.conversions.sum() == pytest.approx(outcomes["converted"].sum())


def test_position_weights_and_string_ids():
    touches, outcomes = random_paths(4, 120, 4, 7, strings=True)
    ref = ref_rule(grouped(touches, outcomes), "position", head=(0.5, 0.1), tail=(0.3,), middle=0.1)
    got = cl.attribute(touches, outcomes, model="position", head=(0.5, 0.1), tail=(0.3,), middle=0.1)
    for c, x in zip(got.channels, got.value):
        assert x == pytest.approx(ref.get(c, 0.0), rel=1e-9), c


@pytest.mark.parametrize("order", [1, 2, 3])
@pytest.mark.parametrize("seed", [5, 6])
def test_markov_removal_effects_match_dense_solve(order, seed):
    touches, outcomes = random_paths(seed, 200, 5, 5)
    base, without = ref_markov(grouped(touches, outcomes), order, 5)
    got = cl.attribute(touches, outcomes, model="markov", markov_order=order)
    assert got.base == pytest.approx(base, rel=1e-10)
    re = np.array([max(0.0, 1 - w / base) for w in without])
    np.testing.assert_allclose(got.score, re, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(got.value, outcomes["value"].sum() * re / re.sum(), rtol=1e-9)


@pytest.mark.parametrize("game", ["covered_value", "value_rate"])
def test_shapley_matches_enumeration_of_orderings(game):
    touches, outcomes = random_paths(8, 80, 6, 3)
    phi, v_all = ref_shapley(grouped(touches, outcomes), 6, game)
    got = cl.attribute(touches, outcomes, model="shapley", shapley_game=game)
    assert got.exact
    total = outcomes["value"].sum()
    for c, x in zip(got.channels, got.value):
        assert x == pytest.approx(phi.get(c, 0.0) * total / v_all, rel=1e-9, abs=1e-9), c
    if game == "covered_value":  # closed form: exact whatever the number of channels
        assert cl.attribute(touches, outcomes, model="shapley", shapley_game=game, shapley_exact_max=0).exact
        return
    # Sampling with a seed approaches the exact values and is reproducible.
    s1 = cl.attribute(touches, outcomes, model="shapley", shapley_game=game, shapley_exact_max=0,
                      shapley_samples=20000, seed=3)
    s2 = cl.attribute(touches, outcomes, model="shapley", shapley_game=game, shapley_exact_max=0,
                      shapley_samples=20000, seed=3)
    assert not s1.exact
    np.testing.assert_array_equal(s1.value, s2.value)
    np.testing.assert_allclose(s1.value, got.value, atol=0.04 * total)


def test_null_touches_unattributed_and_bad_input():
    touches = pd.DataFrame({"path": [1, 1, 2, 3], "time": [0, 1, 0, 0], "channel": [None, "A", None, "B"]})
    outcomes = pd.DataFrame({"path": [1, 2, 9], "converted": [1, 1, 1], "value": [10.0, 5.0, 4.0]})
    r = cl.attribute(touches, outcomes)
    assert r.channels == ["A", "B"]
    np.testing.assert_allclose(r.value, [10.0, 0.0])
    assert r.unattributed_value == 9.0 and r.unattributed_conversions == 2.0
    assert "unattributed 9.00" in repr(r)
    bad = outcomes.assign(converted=[1, 2, 0])
    with pytest.raises(ValueError, match=r"column 'converted', row 1: value 2"):
        cl.attribute(touches, bad)
    with pytest.raises(ValueError, match="option 'model'"):
        cl.attribute(touches, outcomes, model="nope")
    with pytest.raises(ValueError, match="half_life"):
        cl.attribute(touches, outcomes, model="time_decay", half_life=0.0)
    with pytest.raises(ValueError, match="milestone"):
        cl.attribute(touches, outcomes, model="w_shaped")
    dup = pd.DataFrame({"path": [1, 1], "converted": [1, 0], "value": [1.0, 0.0]})
    with pytest.raises(ValueError, match="repeats a path id"):
        cl.attribute(touches, dup)


def test_compare_attribution_table_and_datetimes():
    touches, outcomes = random_paths(9, 50, 3, 4)
    touches["time"] = pd.Timestamp("2024-01-01") + pd.to_timedelta(touches["time"], unit="D")
    table = cl.compare_attribution(touches, outcomes, half_life=pd.Timedelta(days=7))
    assert list(table.columns[:2]) == ["channel", "first_touch"]
    for m in table.columns[1:]:
        assert table[m].sum() == pytest.approx(outcomes["value"].sum())
    # A 7-day half-life in days on datetimes equals 7 units on the integer day numbers.
    t2, o2 = random_paths(9, 50, 3, 4)
    a = cl.attribute(touches, outcomes, model="time_decay", half_life=pd.Timedelta(days=7))
    b = cl.attribute(t2, o2, model="time_decay", half_life=7.0)
    np.testing.assert_allclose(a.value, b.value, rtol=1e-12)


def test_absorbing_chain():
    t = 1 / 3
    q = [[0, t, t], [0, 0, 0.5], [t, 0, 0]]
    r = [[t, 0], [0.5, 0], [t, t]]
    out = cl.solve_absorbing_chain(q, r)
    n = np.linalg.inv(np.eye(3) - np.array(q))
    np.testing.assert_allclose(out["absorption"], n @ np.array(r), rtol=1e-12)
    np.testing.assert_allclose(out["expected_steps"], n.sum(axis=1), rtol=1e-12)
    np.testing.assert_allclose(out["absorption"][:, 0], [0.8, 0.8, 0.6], rtol=1e-12)


# -- suppression -------------------------------------------------------------------------------
def test_suppression_against_dict_reference():
    rng = np.random.default_rng(1)
    alphabet = list("abcXYZ.@ ")
    reasons = ["spam", "poor fit", "student"]

    def key():
        return "".join(rng.choice(alphabet, size=int(rng.integers(1, 12))))

    s = cl.SuppressionList()
    ref_ids, ref_keys = defaultdict(set), defaultdict(set)
    ids = rng.integers(-500, 500, size=800)
    why = [reasons[i] for i in rng.integers(0, 3, size=800)]
    s.add_ids(ids, why)
    for i, r in zip(ids, why):
        ref_ids[int(i)].add(r)
    norm = lambda k: cl.normalise_key(k, transform="email_domain")  # noqa: E731
    keys = [key() for _ in range(600)]
    keys = [k for k in keys if norm(k)]  # keys empty after normalisation are rejected
    kwhy = [reasons[i] for i in rng.integers(0, 3, size=len(keys))]
    s.add_keys("email_domain", keys, kwhy, transform="email_domain")
    for k, r in zip(keys, kwhy):
        ref_keys[norm(k)].add(r)
    with pytest.raises(ValueError, match="empty after normalisation"):
        s.add_keys("email_domain", ["someone@"], "spam", transform="email_domain")
    batch = pd.DataFrame({"id": rng.integers(-600, 600, size=3000), "email": [key() for _ in range(3000)]})
    res = s.check(batch, id="id", keys={"email_domain": ("email", "email_domain")})
    for i, (lead, email) in enumerate(zip(batch["id"], batch["email"])):
        want = ref_ids.get(int(lead), set()) | (ref_keys.get(norm(email), set()) if norm(email) else set())
        got = set(res.reasons[i].split("; ")) if res.reasons[i] else set()
        assert got == want, i
        assert res.suppressed[i] == bool(want)
    assert res.count == int(res.suppressed.sum())


def test_suppression_merge_pickle_and_reasons():
    a = cl.SuppressionList().add_ids([1, 2], "spam").add_keys("company", ["  ACME Corp "], "poor fit")
    b = cl.SuppressionList().add_ids([2, 3], ["student", "spam"])
    ab, ba = a + b, b + a
    assert ab == ba and ab != a
    assert sorted(ab.id_reasons(2)) == ["spam", "student"]
    assert ab.key_reasons("company", "acme corp") == ["poor fit"]
    assert pickle.loads(pickle.dumps(ab)) == ab
    assert cl.SuppressionList.from_bytes(ab.to_bytes()) == ab
    assert len(ab) == 4
    df = funnelkit.sample_crm(2000, seed=3)
    s = cl.SuppressionList().add_disqualified(df, model=funnelkit.sample_model())
    dq = set(df.loc[df["stage"] == "Disqualified", "entity"])
    assert s.n_ids == len(dq)
    res = s.check(pd.DataFrame({"entity": sorted(dq) + [10**9]}), id="entity")
    assert res.suppressed[:-1].all() and not res.suppressed[-1]
    assert set(s.reasons) <= set(df["reason"].dropna().astype(str)) | {"disqualified"}
    with pytest.raises(ValueError):
        cl.SuppressionList().add_ids([1], [None])
    with pytest.raises(ValueError):
        a.check(pd.DataFrame({"id": [1]}))


# -- qualification audit -----------------------------------------------------------------------
def test_audit_against_pair_counts_scipy_and_manual_counts():
    from scipy.stats import mannwhitneyu

    rng = np.random.default_rng(2)
    n = 600
    score = np.round(rng.random(n) * 20) / 20  # ties
    won = (rng.random(n) < 0.15 + 0.5 * score).astype(int)
    closed = np.where(won == 1, 1, (rng.random(n) < 0.8).astype(int))
    accepted = (rng.random(n) < 0.7).astype(int)
    sql = accepted * (rng.random(n) < 0.6)
    month = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 90, size=n), unit="D")
    leads = pd.DataFrame({"score": score, "won": won, "closed": closed, "accepted": accepted, "sql": sql,
                          "created": month})
    res = cl.qualification_audit(leads, threshold=0.5, closed="closed", time="created")
    s = res.summary
    m = score >= 0.5
    c = closed == 1
    assert s["mqls"] == m.sum()
    assert s["tp"] == (m & (won == 1)).sum()
    assert s["fp"] == (m & c & (won == 0)).sum()
    assert s["fn"] == (~m & (won == 1)).sum()
    assert s["precision"] == pytest.approx((m & (won == 1)).sum() / (m & c).sum())
    assert s["recall"] == pytest.approx((m & (won == 1)).sum() / (won == 1).sum())
    assert s["acceptance_rate"] == pytest.approx((m & (accepted == 1)).sum() / m.sum())
    pos, neg = score[c & (won == 1)], score[c & (won == 0)]
    pairs = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    assert s["auc"] == pytest.approx(pairs / (len(pos) * len(neg)), rel=1e-12)
    u = mannwhitneyu(pos, neg).statistic
    assert s["auc"] == pytest.approx(u / (len(pos) * len(neg)), rel=1e-12)
    assert cl.roc_auc(score[c], won[c]) == pytest.approx(s["auc"])
    # ROC area by trapezoids equals the AUC; the sweep at 0.5 reproduces the confusion counts.
    assert np.trapezoid(res.roc["tpr"], res.roc["fpr"]) == pytest.approx(s["auc"])
    row = res.sweep.loc[np.isclose(res.sweep["threshold"], 0.5)].iloc[0]
    assert (row["tp"], row["fp"], row["fn"]) == (s["tp"], s["fp"], s["fn"])
    # Drift: one row per calendar month, and each month's counts add up to the total.
    assert list(res.drift["month"]) == ["2024-01", "2024-02", "2024-03"]
    assert res.drift["leads"].sum() == n
    jan = leads["created"] < "2024-02-01"
    assert res.drift["mqls"].iloc[0] == (m & jan.to_numpy()).sum()
    assert "AuditResult(600 leads" in repr(res)
    assert res.to_pandas()["month"].iloc[0] == "(all)"


def test_audit_rule_outcome_and_bad_input():
    leads = pd.DataFrame({"score": [0.9, 0.1, 0.5], "mql": [True, False, True], "won": [1, 0, 0]})
    res = cl.qualification_audit(leads, mql="mql", accepted=None, sql=None)
    assert res.summary["precision"] == 0.5 and res.summary["recall"] == 1.0
    assert math.isnan(res.summary["acceptance_rate"])
    with pytest.raises(ValueError, match="threshold"):
        cl.qualification_audit(leads, accepted=None, sql=None)
    with pytest.raises(ValueError, match=r"column 'score', row 1"):
        cl.qualification_audit(leads.assign(score=[0.1, np.nan, 0.2]), mql="mql", accepted=None, sql=None)
    with pytest.raises(ValueError, match=r"column 'won', row 2"):
        cl.qualification_audit(leads.assign(won=[1, 0, 3]), mql="mql", accepted=None, sql=None)


# -- campaign report ---------------------------------------------------------------------------
def reference_campaign(df: pd.DataFrame, segment: str) -> pd.DataFrame:
    ladder = ["Lead", "MQL", "SAL", "SQL", "Opportunity", "Customer"]
    rank = {s: i for i, s in enumerate(ladder)}
    d = df.sort_values(["entity", "time"], kind="stable")
    first = d.groupby("entity").first()
    top = d.assign(r=d["stage"].astype(str).map(rank)).groupby("entity")["r"].max()
    won = d[d["stage"] == "Customer"].groupby("entity").agg(t=("time", "min"), amount=("amount", "last"))
    lost = set(d.loc[d["stage"] == "Lost", "entity"])
    e = pd.DataFrame({"seg": first[segment].astype(str), "top": top, "start": first["time"]})
    e["won"] = e.index.isin(won.index)
    e["lost"] = e.index.isin(lost) & ~e["won"]
    e["revenue"] = won["amount"].reindex(e.index).fillna(0.0)
    e["days"] = (won["t"].reindex(e.index) - e["start"]).dt.total_seconds() / 86400
    g = e.groupby("seg")
    return pd.DataFrame({
        "leads": g.size(), "mqls": g["top"].apply(lambda s: (s >= 1).sum()), "sqls": g["top"].apply(lambda s: (s >= 3).sum()),
        "opportunities": g["top"].apply(lambda s: (s >= 4).sum()), "won": g["won"].sum(), "lost": g["lost"].sum(),
        "revenue": g["revenue"].sum(), "days_to_win": g["days"].mean(),
    })


@pytest.mark.parametrize("segment", ["source", "campaign"])
def test_campaign_report_matches_pandas_reference(sample_df, segment):
    from statsmodels.stats.multitest import multipletests
    from statsmodels.stats.proportion import proportion_confint, proportions_ztest

    labels = sorted(sample_df[segment].astype(str).unique())
    cost = {lab: 1000.0 * (i + 1) for i, lab in enumerate(labels) if i != 1}
    rep = cl.campaign_report(sample_df, model=funnelkit.sample_model(), segment=segment, cost=cost)
    got = rep.to_pandas().set_index(segment)
    ref = reference_campaign(sample_df, segment)
    for lab in ref.index:
        row = got.loc[lab]
        for col in ["leads", "mqls", "sqls", "opportunities", "won", "lost"]:
            assert row[col] == ref.loc[lab, col], (lab, col)
        assert row["revenue"] == pytest.approx(ref.loc[lab, "revenue"], rel=1e-12)
        if ref.loc[lab, "won"] > 0:
            assert row["days_to_win"] == pytest.approx(ref.loc[lab, "days_to_win"], rel=1e-9)
        lo, hi = proportion_confint(int(row["won"]), int(row["leads"]), alpha=0.05, method="wilson")
        assert (row["lead_to_won_lower"], row["lead_to_won_upper"]) == pytest.approx((lo, hi), rel=1e-9)
        x_rest = got.loc["(all)", "won"] - row["won"]
        n_rest = got.loc["(all)", "leads"] - row["leads"]
        z, p = proportions_ztest([row["won"], x_rest], [row["leads"], n_rest])
        assert row["z"] == pytest.approx(z, rel=1e-9)
        assert row["p_value"] == pytest.approx(p, rel=1e-9, abs=1e-300)
        if lab in cost:
            assert row["cac"] == pytest.approx(cost[lab] / row["won"]) if row["won"] else math.isnan(row["cac"])
            assert row["roi"] == pytest.approx((row["revenue"] - cost[lab]) / cost[lab])
            assert not row["cost_missing"]
        else:
            assert row["cost_missing"] and math.isnan(row["cost_per_lead"])
    assert rep.missing_cost == [labels[1]]
    assert got.loc["(all)", "cost_missing"] and math.isnan(got.loc["(all)", "cac"])
    tested = got.drop(index="(all)")["p_value"].dropna()
    holm = multipletests(tested.to_numpy(), method="holm")[1]
    np.testing.assert_allclose(got.loc[tested.index, "p_holm"], holm, rtol=1e-9)
    assert "CampaignReport(by" in repr(rep)


def test_campaign_report_bad_input(sample_df):
    with pytest.raises(ValueError, match="option 'cost'"):
        cl.campaign_report(sample_df, model=funnelkit.sample_model(), cost={"Nowhere": 5.0})
    with pytest.raises(ValueError, match="option 'cost'"):
        cl.campaign_report(sample_df, model=funnelkit.sample_model(), cost={"Webinar": -5.0})
    with pytest.raises(ValueError, match="mql_stage"):
        cl.campaign_report(sample_df, model=funnelkit.sample_model(), mql_stage="Lost")


def test_polars_and_dict_inputs_give_the_same_answers(sample_df):
    import polars as pl

    a = cl.campaign_report(sample_df, model=funnelkit.sample_model(), segment="campaign").to_pandas()
    b = cl.campaign_report(pl.from_pandas(sample_df), model=funnelkit.sample_model(), segment="campaign").to_pandas()
    pd.testing.assert_frame_equal(a, b)
    touches, outcomes = random_paths(11, 60, 4, 4)
    r1 = cl.attribute(touches, outcomes, model="markov", markov_order=2)
    r2 = cl.attribute({k: touches[k].to_numpy() for k in ("path", "time", "channel")},
                      pl.from_pandas(outcomes), model="markov", markov_order=2)
    np.testing.assert_allclose(r1.value, r2.value, rtol=1e-12)
