"""Drivers of conversion against an independent computation: 2x2 tables counted with pandas,
p-values from scipy (fisher_exact, chi2_contingency), odds-ratio intervals from statsmodels
(Table2x2), q-values from statsmodels' multipletests; every input format, names checked, the
result contract."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import funnelkit as fk
from conftest import as_format
from contract import check_contract

scipy_stats = pytest.importorskip("scipy.stats")
tables = pytest.importorskip("statsmodels.stats.contingency_tables")
multitest = pytest.importorskip("statsmodels.stats.multitest")


def _reference_row(a: int, b: int, c: int, d: int, *, test: str = "automatic", min_expected: float = 5.0) -> dict:
    """The statistics of one 2x2 table, from scipy and statsmodels."""
    t = np.array([[a, b], [c, d]], dtype=float)
    shifted = t + 0.5 if (t == 0).any() else t  # Haldane-Anscombe: 1/2 added to every cell
    tab = tables.Table2x2(shifted, shift_zeros=False)
    lo, hi = tab.oddsratio_confint(alpha=0.05)
    n = t.sum()
    expected = np.outer(t.sum(axis=1), t.sum(axis=0)) / n
    fisher = test == "fisher" or (test == "automatic" and expected.min() < min_expected)
    p = scipy_stats.fisher_exact(t).pvalue if fisher else scipy_stats.chi2_contingency(t, correction=True).pvalue
    return {"odds_ratio": tab.oddsratio, "lower": lo, "upper": hi, "p_value": p, "test": "fisher" if fisher else "chi2"}


def _reference_segments(df: pd.DataFrame, target: str, segments: list[str], base_stages: list[str] | None = None,
                        **kw) -> pd.DataFrame:
    """Per segment value, the counts and statistics, from the records with pandas alone."""
    first = df.sort_values(["entity", "time"], kind="stable").groupby("entity").head(1).set_index("entity")
    reached = df.groupby("entity")["stage"].agg(set)
    population = reached.index if base_stages is None else reached.index[
        reached.map(lambda s: bool(s & set(base_stages))).to_numpy()]
    converted = reached.loc[population].map(lambda s: target in s)
    rows = []
    for seg in segments:
        values = first.loc[population, seg]
        for v in sorted(values.dropna().unique()):
            has = (values == v).to_numpy()
            conv = converted.to_numpy()
            a, b = int((has & conv).sum()), int((has & ~conv).sum())
            c, d = int((~has & conv).sum()), int((~has & ~conv).sum())
            rows.append({"segment": seg, "value": v, "entities": a + b, "converted": a, "entities_without": c + d,
                         "converted_without": c, **_reference_row(a, b, c, d, **kw)})
    out = pd.DataFrame(rows)
    out["q_value"] = multitest.multipletests(out["p_value"], method="fdr_bh")[1]
    return out


def _compare(ours: fk.Drivers, ref: pd.DataFrame, keys: list[str]) -> None:
    got = ours.to_pandas().set_index(keys).sort_index()
    want = ref.set_index(keys).sort_index()
    assert list(got.index) == list(want.index)
    for col in ("entities", "converted", "entities_without", "converted_without"):
        if col in want:
            np.testing.assert_array_equal(got[col].to_numpy(), want[col].to_numpy(), err_msg=col)
    for col in ("odds_ratio", "lower", "upper"):
        np.testing.assert_allclose(got[col].to_numpy(), want[col].to_numpy(), rtol=1e-10, err_msg=col)
    np.testing.assert_allclose(got["p_value"].to_numpy(), want["p_value"].to_numpy(), rtol=1e-8, atol=1e-300)
    np.testing.assert_allclose(got["q_value"].to_numpy(), want["q_value"].to_numpy(), rtol=1e-8, atol=1e-300)
    assert list(got["test"]) == list(want["test"])


@pytest.fixture(scope="module")
def crm() -> pd.DataFrame:
    return fk.sample_crm(3_000, seed=11)


def test_segment_drivers_match_scipy_and_statsmodels(crm):
    ours = fk.drivers(crm, target="Customer", segments=["source", "campaign", "rep"], maturity=None)
    ref = _reference_segments(crm, "Customer", ["source", "campaign", "rep"])
    _compare(ours, ref, ["segment", "value"])
    assert ours.population == crm["entity"].nunique()
    # Ranked by q-value, then by |ln OR|.
    q = ours.q_value
    assert np.all(np.diff(q) >= 0)
    assert list(ours["rank"]) == list(range(1, len(ours) + 1))
    assert "association, not a cause" in ours.explain().definition
    assert "association, not cause" in repr(ours)


def test_base_stage_and_forced_tests(crm):
    # Among the entities that reached SQL (or later: skipped stages are implied), what drives Customer?
    ladder = fk.StageModel.b2b().ladder
    later = ladder[ladder.index("SQL"):]
    for test in ("fisher", "chi2"):
        ours = fk.drivers(crm, target="Customer", segments=["source"], base="SQL", test=test,
                          maturity=None)
        ref = _reference_segments(crm, "Customer", ["source"], base_stages=later, test=test)
        _compare(ours, ref, ["segment", "value"])
        assert set(ours["test"]) == {test}
        assert ours.explain().options["base"] == "SQL"


def test_every_input_format_and_row_order_give_the_same_table(crm, input_format):
    ref = fk.drivers(crm, target="Customer", segments=["source", "campaign"]).to_pandas()
    shuffled = crm.sample(frac=1.0, random_state=3).reset_index(drop=True)
    got = fk.drivers(as_format(shuffled, input_format), target="Customer", segments=["source", "campaign"])
    pd.testing.assert_frame_equal(got.to_pandas(), ref)


def test_missing_values_and_string_ids():
    df = pd.DataFrame({
        "entity": ["a", "a", "b", "c", "c", "d", "e", "e", "f"],
        "time": [1, 5, 2, 3, 9, 4, 1, 2, 7],
        "stage": ["Lead", "Customer", "Lead", "Lead", "Customer", "Lead", "Lead", "Customer", "Lead"],
        "source": ["ads", "web", None, "ads", "ads", "web", "web", "web", "ads"],
    })
    out = fk.drivers(df, target="Customer", segments=["source"], test="fisher", maturity=None)
    d = out.to_pandas().set_index("value")
    # Earliest records: a ads, b missing, c ads, d web, e web, f ads; customers: a, c, e.
    assert d.loc["ads", "entities"] == 3 and d.loc["ads", "converted"] == 2
    assert d.loc["web", "entities"] == 2 and d.loc["web", "converted"] == 1
    assert d.loc["ads", "entities_without"] == 3  # b (missing), d, e
    ref = _reference_row(2, 1, 1, 2, test="fisher")
    assert d.loc["ads", "p_value"] == pytest.approx(ref["p_value"], rel=1e-12)
    assert d.loc["ads", "odds_ratio"] == pytest.approx(4.0)
    assert out.population == 6 and out.with_outcome == 3


def test_contract_and_significant(crm):
    out = fk.drivers(crm, target="Customer", segments=["source", "rep"])
    doc = check_contract(out)
    assert doc["data"][0]["rank"] == 1
    sig = out.significant(0.5)
    check_contract(sig)
    assert len(sig) <= len(out) and np.all(sig["q_value"] <= 0.5)
    with pytest.raises(ValueError, match="option 'level'"):
        out.significant(1.5)


def test_names_and_options_are_checked(crm):
    with pytest.raises(ValueError, match="stage 'Custmer' is not valid; did you mean 'Customer'"):
        fk.drivers(crm, target="Custmer", segments=["source"])
    with pytest.raises(ValueError, match="sourc"):
        fk.drivers(crm, target="Customer", segments=["sourc"])
    with pytest.raises(ValueError, match="option 'test'.*'fischer'.*did you mean 'fisher'"):
        fk.drivers(crm, target="Customer", segments=["source"], test="fischer")
    with pytest.raises(ValueError, match="option 'confidence'"):
        fk.drivers(crm, target="Customer", segments=["source"], confidence=95)
    with pytest.raises(TypeError, match="option 'segments'"):
        fk.drivers(crm, target="Customer", segments="source")
    with pytest.raises(ValueError, match="repeated"):
        fk.drivers(crm, target="Customer", segments=["source", "source"])


# -- drop-off drivers over event streams ---------------------------------------------------------
def _events(seed: int = 5, n: int = 600) -> pd.DataFrame:
    """Visit -> signup -> purchase funnels with side events; 'pricing' makes dropping at purchase
    less likely, 'error' more likely."""
    rng = np.random.default_rng(seed)
    rows = []
    for e in range(n):
        t = int(rng.integers(0, 1000))
        rows.append((e, t, "visit"))
        saw_error, saw_pricing = rng.random() < 0.3, rng.random() < 0.4
        if saw_error:
            rows.append((e, t + int(rng.integers(1, 5)), "error"))
        if saw_pricing:
            rows.append((e, t + int(rng.integers(1, 5)), "pricing"))
        if rng.random() < 0.2:
            rows.append((e, t + int(rng.integers(1, 5)), "blog"))
        if rng.random() < 0.8:
            rows.append((e, t + 6, "signup"))
            p = 0.6 + 0.3 * saw_pricing - 0.4 * saw_error
            if rng.random() < p:
                rows.append((e, t + int(rng.integers(7, 30)), "purchase"))
                if rng.random() < 0.5:
                    rows.append((e, t + 40, "blog"))  # after purchase: outside the comparison
        if rng.random() < 0.1:
            rows.append((e, t - 5, "error"))  # before entry: outside the window
    return pd.DataFrame(rows, columns=["entity", "time", "event"])


def _level(g: pd.DataFrame, steps: list[str], t0: int, window: int) -> int:
    """The funnel level of one entity's events (steps in order, within the window of t0)."""
    level, last = 0, t0
    for s in steps:
        hits = g[(g["event"] == s) & (g["time"] >= last) & (g["time"] - t0 <= window)]
        if hits.empty:
            break
        level += 1
        last = hits["time"].min()
    return level


def _reference_dropoff(df: pd.DataFrame, steps: list[str], window: int, at: str, tau: int | None = None) -> pd.DataFrame:
    """Levels, windows and event sets with pandas alone, for funnels whose events come in order
    (here every entity's steps are ordered and within the window), compared at the landmark tau
    (default: the median time from entry to the first `at` event among those who went on)."""
    k = steps.index(at)
    entry = df[df["event"] == steps[0]].groupby("entity")["time"].min()
    rows = []
    outcome = {}
    sets = {}
    data_end = df["time"].max()
    if tau is None:
        lags = []
        for e, g in df.groupby("entity"):
            if e in entry.index:
                hit = g[(g["event"] == at) & (g["time"] >= entry[e])]["time"]
                if len(hit) and _level(g, steps, entry[e], window) > k:
                    lags.append(hit.min() - entry[e])
        tau = int(np.median(lags))
    for e, g in df.groupby("entity"):
        if e not in entry.index:
            continue
        t0 = entry[e]
        level = _level(g, steps, t0, window)
        if level < k or t0 + window > data_end:  # not at the step before `at`, or the window still open
            continue
        went_on = level > k
        hit = g[(g["event"] == at) & (g["time"] >= t0)]["time"]
        if len(hit) and hit.min() - t0 <= tau:  # reached `at` by the landmark
            continue
        win = g[(g["time"] >= t0) & (g["time"] - t0 <= tau) & ~g["event"].isin(steps)]
        outcome[e] = not went_on
        sets[e] = set(win["event"])
    names = sorted(set().union(*sets.values()))
    for v in names:
        has = np.array([v in sets[e] for e in outcome])
        drop = np.array([outcome[e] for e in outcome])
        a, b = int((has & drop).sum()), int((has & ~drop).sum())
        c, d = int((~has & drop).sum()), int((~has & ~drop).sum())
        rows.append({"event": v, "entities": a + b, "converted": a, **_reference_row(a, b, c, d)})
    out = pd.DataFrame(rows)
    out["q_value"] = multitest.multipletests(out["p_value"], method="fdr_bh")[1]
    return out.rename(columns={"converted": "dropped"})


def test_dropoff_drivers_match_an_independent_count():
    df = _events()
    steps = ["visit", "signup", "purchase"]
    ours = fk.dropoff_drivers(df, steps=steps, window=60, dropped_at="purchase")
    ref = _reference_dropoff(df, steps, 60, "purchase")
    got = ours.to_pandas().set_index("event").sort_index()
    want = ref.set_index("event").sort_index()
    assert list(got.index) == list(want.index) == ["blog", "error", "pricing"]
    fixed = fk.dropoff_drivers(df, steps=steps, window=60, dropped_at="purchase", landmark=10).to_pandas()
    want10 = _reference_dropoff(df, steps, 60, "purchase", tau=10).set_index("event").sort_index()
    np.testing.assert_array_equal(fixed.set_index("event").sort_index()["entities"], want10["entities"])
    np.testing.assert_array_equal(fixed.set_index("event").sort_index()["dropped"], want10["dropped"])
    np.testing.assert_array_equal(got["entities"], want["entities"])
    np.testing.assert_array_equal(got["dropped"], want["dropped"])
    for col in ("odds_ratio", "lower", "upper", "p_value", "q_value"):
        np.testing.assert_allclose(got[col], want[col], rtol=1e-8, err_msg=col)
    # The planted effects: errors go with dropping, pricing against it.
    assert got.loc["error", "odds_ratio"] > 1 > got.loc["pricing", "odds_ratio"]
    assert ours["event"][0] in ("error", "pricing")
    check_contract(ours)
    assert ours.explain().options["dropped_at"] == "purchase"


def test_dropoff_drivers_formats_datetimes_and_names(input_format):
    df = _events(n=200)
    ref = fk.dropoff_drivers(df, steps=["visit", "signup", "purchase"], window=60, dropped_at=3).to_pandas()
    dt = df.assign(time=pd.Timestamp("2025-01-01") + pd.to_timedelta(df["time"], unit="s"))
    got = fk.dropoff_drivers(as_format(dt, input_format), steps=["visit", "signup", "purchase"], window="60s",
                             dropped_at="purchase")
    pd.testing.assert_frame_equal(got.to_pandas(), ref)
    with pytest.raises(ValueError, match="did you mean 'purchase'"):
        fk.dropoff_drivers(df, steps=["visit", "signup", "purchase"], window=60, dropped_at="purchse")
    with pytest.raises(ValueError, match="first step"):
        fk.dropoff_drivers(df, steps=["visit", "signup", "purchase"], window=60, dropped_at="visit")
    with pytest.raises(TypeError):
        fk.dropoff_drivers(dt, steps=["visit", "signup", "purchase"], window=60, dropped_at="purchase")


def test_open_windows_are_not_dropoffs():
    # Entity 2 entered at 95 with a window of 10 and the data end at 100: still open, left out.
    df = pd.DataFrame({"entity": [1, 1, 1, 2, 2, 3, 3, 3, 4, 4],
                       "time": [0, 1, 2, 95, 96, 10, 11, 12, 20, 21],
                       "event": ["visit", "ad", "signup", "visit", "ad", "visit", "ad", "signup", "visit", "mail"]})
    # With the landmark at 1 tick, 1 and 3 (signup at 2) are still on the way and count.
    out = fk.dropoff_drivers(df, steps=["visit", "signup"], window=10, dropped_at="signup", data_end=100,
                             landmark=1)
    d = out.to_pandas().set_index("event")
    assert out.population == 3  # entities 1, 3, 4
    assert d.loc["ad", "entities"] == 2 and d.loc["ad", "dropped"] == 0
    assert d.loc["mail", "entities"] == 1 and d.loc["mail", "dropped"] == 1
    later = fk.dropoff_drivers(df, steps=["visit", "signup"], window=10, dropped_at="signup", data_end=200,
                               landmark=1)
    assert later.population == 4
    # At the default landmark (the median time to signup, 2) both went on by then: only 4 is left.
    auto = fk.dropoff_drivers(df, steps=["visit", "signup"], window=10, dropped_at="signup", data_end=100)
    assert auto.population == 1 and auto.explain().options["landmark_ticks"] == 2


def test_open_entities_can_be_left_out(crm):
    # Decided = reached Customer, or the latest record is Lost or Disqualified (terminal stages).
    last = crm.sort_values(["entity", "time"], kind="stable").groupby("entity").tail(1).set_index("entity")["stage"]
    reached = crm.groupby("entity")["stage"].agg(set)
    decided = reached.index[(reached.map(lambda s: "Customer" in s)
                             | last.loc[reached.index].isin(["Lost", "Disqualified", "Customer"])).to_numpy()]
    ours = fk.drivers(crm, target="Customer", segments=["source"], open_entities="exclude", maturity=None)
    ref = _reference_segments(crm[crm["entity"].isin(decided)], "Customer", ["source"])
    _compare(ours, ref, ["segment", "value"])
    assert ours.population == len(decided) < crm["entity"].nunique()
    assert "decided" in ours.explain().definition
    with pytest.raises(ValueError, match="option 'open_entities'"):
        fk.drivers(crm, target="Customer", segments=["source"], open_entities="drop")


# -- no driver where there is none: equal follow-up ----------------------------------------------
def _week(seed: int, n: int = 2_000) -> pd.DataFrame:
    """Visits and purchases within a week. 'pageview' comes at a uniform time of the week,
    independent of everything; 'help' comes within a day of the visit and halves the chance of
    buying (0.6 -> 0.3); purchases come 1 to 7 days after the visit."""
    rng = np.random.default_rng(seed)
    day = 86_400
    rows = []
    for e in range(n):
        t0 = int(rng.integers(0, 60 * day))
        rows.append((e, t0, "visit"))
        helped = rng.random() < 0.3
        if helped:
            rows.append((e, t0 + int(rng.integers(1, day)), "help"))
        if rng.random() < (0.3 if helped else 0.6):
            rows.append((e, t0 + int(rng.integers(day, 7 * day)), "purchase"))
        if rng.random() < 0.5:
            rows.append((e, t0 + int(rng.integers(1, 7 * day)), "pageview"))
    return pd.DataFrame(rows, columns=["entity", "time", "event"])


def test_dropoff_drivers_leave_an_unrelated_event_alone_and_find_a_real_one():
    log_or, small_p = [], 0
    for seed in range(20):
        d = fk.dropoff_drivers(_week(seed), steps=["visit", "purchase"], window="7d",
                               dropped_at="purchase").to_pandas().set_index("event")
        log_or.append(np.log(d.loc["pageview", "odds_ratio"]))
        small_p += d.loc["pageview", "p_value"] < 0.05
        # The real driver: odds of dropping with 'help' about (0.7/0.3)/(0.4/0.6) = 3.5 at the start;
        # among those still waiting at tau the odds ratio is higher still.
        assert d.loc["help", "odds_ratio"] > 2 and d.loc["help", "q_value"] < 1e-6
    # Unrelated: the log odds ratios centre on 0 (about 0.13 apart from seed to seed, so their
    # mean over 20 seeds within 0.03) and the p-values are not small more often than chance.
    assert abs(np.mean(log_or)) < 0.1
    assert small_p <= 4


def _arrivals(seed: int, n: int = 6_000) -> pd.DataFrame:
    """Leads arriving uniformly over a year; each becomes a Customer with chance 0.3 after an
    exponential time (mean 30 days), whatever its month; the rest are Lost after 20 days."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2024-01-01")
    t0 = start + pd.to_timedelta(rng.uniform(0, 365, n), unit="D")
    win = rng.random(n) < 0.3
    later = pd.to_timedelta(np.where(win, rng.exponential(30, n), 20.0), unit="D")
    end = start + pd.Timedelta(days=365)
    rows = pd.DataFrame({"entity": np.arange(n), "time": t0, "stage": "Lead"})
    close = pd.DataFrame({"entity": np.arange(n), "time": t0 + later, "stage": np.where(win, "Customer", "Lost")})
    df = pd.concat([rows, close[close["time"] <= end]], ignore_index=True)
    df["month"] = df["entity"].map(dict(zip(np.arange(n), t0.month)))
    return df


def test_segment_drivers_do_not_blame_recent_arrivals():
    df = _arrivals(1)
    ours = fk.drivers(df, target="Customer", segments=["month"]).to_pandas()
    assert ours["q_value"].min() > 0.01
    tested = ours.dropna(subset=["odds_ratio"])
    assert len(tested) >= 9 and np.all(np.abs(np.log(tested["odds_ratio"])) < 0.5)
    assert set(ours.loc[ours["entities"] == 0, "value"]) <= {11, 12}  # arrived within T of the end
    # Without the window, December looks bad (its leads have had no time to convert).
    naive = fk.drivers(df, target="Customer", segments=["month"], maturity=None).to_pandas().set_index("value")
    assert naive.loc[12, "odds_ratio"] < 0.6 and naive.loc[12, "q_value"] < 1e-6
    # The sample data: the arrival quarter is not a driver once every lead is followed equally long.
    crm = fk.sample_crm(20_000, seed=42)
    crm["cohort"] = "Q" + crm.groupby("entity")["time"].transform("min").dt.quarter.astype(str)
    for oe in ("count", "exclude"):
        d = fk.drivers(crm, target="Customer", segments=["cohort"], open_entities=oe).to_pandas()
        assert d["q_value"].min() > 0.01, oe


def test_maturity_window_matches_an_independent_count(crm):
    """Entry = reaching SQL (the first record at SQL or later on the ladder: skipped stages are
    implied); population = entry at least T before as_of; outcome = Customer by entry + T."""
    ladder = fk.StageModel.b2b().ladder
    rank = crm["stage"].map({s: i for i, s in enumerate(ladder)})
    entry = crm[rank >= ladder.index("SQL")].groupby("entity")["time"].min()
    won = crm[rank >= ladder.index("Customer")].groupby("entity")["time"].min()
    as_of = pd.Timestamp("2024-11-01")
    for maturity, T in (("45d", pd.Timedelta(days=45)), ("auto", None)):
        if T is None:  # the 90th percentile of the time from SQL to Customer
            lag = (won - entry.reindex(won.index)).dropna()
            T = pd.Timedelta(int(np.ceil(np.quantile(lag.dt.total_seconds().to_numpy(), 0.9))), unit="s")
        pop = entry[entry <= as_of - T]
        ok = won.reindex(pop.index) <= pop + T
        sub = crm[crm["entity"].isin(pop.index)].copy()
        sub.loc[sub["entity"].isin(pop.index[~ok.to_numpy()]), "stage"] = "SQL"  # not converted within T
        sub = sub[~((sub["stage"] == "Customer") & ~sub["entity"].isin(pop.index[ok.to_numpy()]))]
        ours = fk.drivers(crm, target="Customer", segments=["source"], base="SQL", maturity=maturity, as_of=as_of)
        ref = _reference_segments(sub, "Customer", ["source"])
        _compare(ours, ref, ["segment", "value"])
        assert ours.population == len(pop)
        unit = np.datetime_data(crm["time"].dtype)[0]
        assert ours.explain().options["maturity_ticks"] == T // pd.Timedelta(1, unit=unit)
        assert "maturity window" in ours.explain().definition


def test_landmark_and_maturity_options_are_checked(crm):
    df = _events(n=100)
    with pytest.raises(ValueError, match="option 'landmark'"):
        fk.dropoff_drivers(df, steps=["visit", "signup"], window=10, dropped_at="signup", landmark=11)
    with pytest.raises(ValueError, match="option 'landmark'"):
        fk.dropoff_drivers(df, steps=["visit", "signup"], window=10, dropped_at="signup", landmark=-1)
    with pytest.raises(ValueError, match="option 'maturity'"):
        fk.drivers(crm, target="Customer", segments=["source"], maturity="-3d")
    with pytest.raises(TypeError, match="option 'maturity'"):
        fk.drivers(crm, target="Customer", segments=["source"], maturity=30)
    with pytest.raises(TypeError, match="option 'as_of'"):
        fk.drivers(crm, target="Customer", segments=["source"], as_of=5)
