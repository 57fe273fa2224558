"""Attribution against independent reference implementations written here: rule-based weights per
path, Markov absorption by a dense numpy solve over tuple states, Shapley values by enumerating
orderings; the same answers for every input format; time, names and the result contract."""

from __future__ import annotations

import datetime as dt
import itertools
from collections import defaultdict

import numpy as np
import pandas as pd
import pytest

import funnelkit as fk
from conftest import as_format
from contract import check_contract
from row_orders import THREADS, three_orders
from funnelkit import attribution as at


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
            ms = "lead_created" if (k == 1 and rng.random() < 0.5) else (
                "opportunity_created" if k == length - 1 and rng.random() < 0.5 else None)
            rows.append({"path": f"p{p}" if strings else p, "time": int(times[k]),
                         "channel": names[c] if strings else c, "milestone": ms})
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
        states = sorted({s for s in counts if s != ("start",)}
                        | {t for d in counts.values() for t in d if isinstance(t, tuple)}, key=str)
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


def ref_shapley(paths, game: str):
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


# -- reference checks --------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("model", ["first_touch", "last_touch", "linear", "u_shaped", "w_shaped", "time_decay"])
def test_rule_based_models_match_reference(seed, model):
    touches, outcomes = random_paths(seed, 150, 5, 6)
    ref = ref_rule(grouped(touches, outcomes), model)
    got = at.attribute(touches, outcomes, model=model, milestone="milestone", conversion_time="conversion_time",
                       half_life=100.0)
    for c, x in zip(got.channels, got.value):
        assert x == pytest.approx(ref.get(c, 0.0), rel=1e-9, abs=1e-9), c
    # Credits sum to the converted value and the conversions.
    assert got.value.sum() == pytest.approx(outcomes["value"].sum(), rel=1e-12)
    assert got.conversions.sum() == pytest.approx(outcomes["converted"].sum())
    assert got.total_value == pytest.approx(outcomes["value"].sum(), rel=1e-12)


def test_position_weights_and_string_ids():
    touches, outcomes = random_paths(4, 120, 4, 7, strings=True)
    ref = ref_rule(grouped(touches, outcomes), "position", head=(0.5, 0.1), tail=(0.3,), middle=0.1)
    got = at.attribute(touches, outcomes, model="position", head=(0.5, 0.1), tail=(0.3,), middle=0.1)
    assert got.channels == ["ch0", "ch1", "ch2", "ch3"]
    for c, x in zip(got.channels, got.value):
        assert x == pytest.approx(ref.get(c, 0.0), rel=1e-9), c
        assert got.credit(c) == x


@pytest.mark.parametrize("order", [1, 2, 3])
@pytest.mark.parametrize("seed", [5, 6])
def test_markov_removal_effects_match_dense_solve(order, seed):
    touches, outcomes = random_paths(seed, 200, 5, 5)
    base, without = ref_markov(grouped(touches, outcomes), order, 5)
    got = at.attribute(touches, outcomes, model="markov", markov_order=order)
    assert got.base == pytest.approx(base, rel=1e-10)
    re = np.array([max(0.0, 1 - w / base) for w in without])
    np.testing.assert_allclose(got.score, re, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(got["score"], re, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(got.value, outcomes["value"].sum() * re / re.sum(), rtol=1e-9)


@pytest.mark.parametrize("game", ["covered_value", "value_rate"])
def test_shapley_matches_enumeration_of_orderings(game):
    touches, outcomes = random_paths(8, 80, 6, 3)
    phi, v_all = ref_shapley(grouped(touches, outcomes), game)
    got = at.attribute(touches, outcomes, model="shapley", shapley_game=game)
    assert got.exact
    total = outcomes["value"].sum()
    for c, x in zip(got.channels, got.value):
        assert x == pytest.approx(phi.get(c, 0.0) * total / v_all, rel=1e-9, abs=1e-9), c
    if game == "covered_value":  # closed form: exact whatever the number of channels
        assert at.attribute(touches, outcomes, model="shapley", shapley_game=game, shapley_exact_max=0).exact
        return
    # Sampling with a seed approaches the exact values and is reproducible.
    s1 = at.attribute(touches, outcomes, model="shapley", shapley_game=game, shapley_exact_max=0,
                      shapley_samples=20000, seed=3)
    s2 = at.attribute(touches, outcomes, model="shapley", shapley_game=game, shapley_exact_max=0,
                      shapley_samples=20000, seed=3)
    assert not s1.exact
    np.testing.assert_array_equal(s1.value, s2.value)
    np.testing.assert_allclose(s1.value, got.value, atol=0.04 * total)


def test_null_touches_unattributed_and_bad_input():
    touches = pd.DataFrame({"path": [1, 1, 2, 3], "time": [0, 1, 0, 0], "channel": [None, "A", None, "B"]})
    outcomes = pd.DataFrame({"path": [1, 2, 9], "converted": [1, 1, 1], "value": [10.0, 5.0, 4.0]})
    r = at.attribute(touches, outcomes)
    assert r.channels == ["A", "B"]
    np.testing.assert_allclose(r.value, [10.0, 0.0])
    assert r.unattributed_value == 9.0 and r.unattributed_conversions == 2.0
    assert "unattributed 9.00" in repr(r)
    bad = outcomes.assign(converted=[1, 2, 0])
    with pytest.raises(ValueError, match=r"column 'converted', row 1: value 2"):
        at.attribute(touches, bad)
    with pytest.raises(ValueError, match="option 'half_life'"):
        at.attribute(touches, outcomes, model="time_decay", half_life=0.0)
    with pytest.raises(ValueError, match="milestone"):
        at.attribute(touches, outcomes, model="w_shaped")
    dup = pd.DataFrame({"path": [1, 1], "converted": [1, 0], "value": [1.0, 0.0]})
    with pytest.raises(ValueError, match="repeats a path id"):
        at.attribute(touches, dup)
    with pytest.raises(ValueError, match=r"column 'milestone', row 0: milestone 'lead_create' is not valid; "
                                         r"did you mean 'lead_created'"):
        at.attribute(touches.assign(milestone=["lead_create", None, None, None]), outcomes, milestone="milestone")
    with pytest.raises(ValueError, match=r"column 'chan' \(option 'channel'\) is not in the input; did you mean "
                                         r"'channel'"):
        at.attribute(touches, outcomes, channel="chan")


# -- names checked -------------------------------------------------------------------------------
def test_models_games_and_channels_are_checked_with_the_closest_names():
    touches, outcomes = random_paths(3, 40, 3, 4, strings=True)
    with pytest.raises(ValueError, match=r"option 'model': value 'markow' is not valid; did you mean 'markov'"):
        at.attribute(touches, outcomes, model="markow")
    with pytest.raises(ValueError, match=r"option 'models': value 'first_tuch' is not valid; did you mean "
                                         r"'first_touch'"):
        at.compare_attribution(touches, outcomes, models=["linear", "first_tuch"])
    with pytest.raises(ValueError, match="option 'models': model 'linear' is repeated"):
        at.compare_attribution(touches, outcomes, models=["linear", "linear"])
    with pytest.raises(ValueError, match=r"option 'shapley_game': value 'covered' is not valid; did you mean "
                                         r"'covered_value'"):
        at.attribute(touches, outcomes, model="shapley", shapley_game="covered")
    with pytest.raises(TypeError, match="option 'half_lif' is not valid; did you mean 'half_life'"):
        at.compare_attribution(touches, outcomes, half_lif="7d")
    # channels= fixes labels and order; a listed channel absent from the data is an error with the
    # closest channels present, or a warning and a row of zeros.
    r = at.attribute(touches, outcomes, channels=["ch2", "ch0", "ch1"])
    assert r.channels == ["ch2", "ch0", "ch1"]
    plain = at.attribute(touches, outcomes)
    assert r.credit("ch0") == plain.credit("ch0")
    with pytest.raises(ValueError, match=r"option 'channels': channel 'ch9' \(did you mean .*\) never "
                                         r"occurs in column 'channel'"):
        at.attribute(touches, outcomes, channels=["ch0", "ch1", "ch2", "ch9"])
    with pytest.warns(UserWarning, match="'ch9'"):
        w = at.attribute(touches, outcomes, channels=["ch0", "ch1", "ch2", "ch9"], absent="warn")
    assert w.credit("ch9") == 0.0
    with pytest.raises(ValueError, match=r"column 'channel', row \d+ \(not in option 'channels'\): channel 'ch2'"):
        at.attribute(touches, outcomes, channels=["ch0", "ch1"])
    with pytest.raises(ValueError, match=r"channel 'ch7' is not valid; did you mean 'ch"):
        r.credit("ch7")


# -- time ---------------------------------------------------------------------------------------
def test_half_life_is_a_duration_and_integer_times_are_seconds_by_default():
    touches, outcomes = random_paths(9, 50, 3, 4)
    # Integer times in seconds (the default): a bare half-life counts seconds, "100s" is the same.
    a = at.attribute(touches, outcomes, model="time_decay", half_life=100, conversion_time="conversion_time")
    b = at.attribute(touches, outcomes, model="time_decay", half_life="100s", conversion_time="conversion_time")
    np.testing.assert_array_equal(a.value, b.value)
    # The same path in days: time_unit names the unit of integer times, so durations convert.
    days = touches.assign(time=touches["time"] * 86_400_000)
    d_out = outcomes.assign(conversion_time=outcomes["conversion_time"] * 86_400_000)
    c = at.attribute(days, d_out, model="time_decay", half_life="100d", conversion_time="conversion_time",
                     time_unit="ms")
    np.testing.assert_allclose(c.value, a.value, rtol=1e-12)
    # Datetimes: durations in any form; a bare number is refused because it is ambiguous.
    t0 = pd.Timestamp("2024-01-01")
    dtt = touches.assign(time=t0 + pd.to_timedelta(touches["time"], unit="D"))
    dto = outcomes.assign(conversion_time=t0 + pd.to_timedelta(outcomes["conversion_time"], unit="D"))
    for hl in ("100d", dt.timedelta(days=100), np.timedelta64(100, "D"), pd.Timedelta(days=100)):
        e = at.attribute(dtt, dto, model="time_decay", half_life=hl, conversion_time="conversion_time")
        np.testing.assert_allclose(e.value, a.value, rtol=1e-12)
        assert e.explain().options["time_is_datetime"] is True
    with pytest.raises(TypeError, match=r"option 'half_life': a bare number \(100\) is ambiguous with the datetime "
                                        r"column 'time'"):
        at.attribute(dtt, dto, model="time_decay", half_life=100)
    with pytest.raises(TypeError, match="column 'conversion_time' holds (numbers|integers) but the time column 'time' holds "
                                        "datetimes"):
        at.attribute(dtt, outcomes, model="time_decay", half_life="7d", conversion_time="conversion_time")
    # The default half-life is seven days in every unit.
    default = at.attribute(dtt, dto, model="time_decay", conversion_time="conversion_time")
    seven = at.attribute(dtt, dto, model="time_decay", conversion_time="conversion_time", half_life="7d")
    np.testing.assert_array_equal(default.value, seven.value)
    assert default.explain().options["half_life"] == "7d"


def test_deprecated_path_keywords():
    touches, outcomes = random_paths(2, 30, 3, 3)
    t2 = touches.rename(columns={"path": "lead"})
    o2 = outcomes.rename(columns={"path": "lead_id"})
    new = at.attribute(t2, o2, entity="lead", outcome_entity="lead_id")
    with pytest.warns(DeprecationWarning, match="option 'path' is deprecated.*use 'entity'"):
        with pytest.warns(DeprecationWarning, match="option 'outcome_path' is deprecated"):
            old = at.attribute(t2, o2, path="lead", outcome_path="lead_id")
    np.testing.assert_array_equal(new.value, old.value)


# -- every input format -------------------------------------------------------------------------
def _sample_touches():
    touches, outcomes = fk.sample_touches(400, seed=7)
    return touches, outcomes


def test_every_input_format_gives_the_same_attribution(input_format):
    touches, outcomes = _sample_touches()
    t, o = as_format(touches, input_format), as_format(outcomes, input_format)
    for model in ("first_touch", "w_shaped", "time_decay", "markov", "shapley"):
        ref = at.attribute(touches, outcomes, model=model, milestone="milestone", conversion_time="conversion_time")
        got = at.attribute(t, o, model=model, milestone="milestone", conversion_time="conversion_time")
        assert got.channels == ref.channels
        np.testing.assert_allclose(got.value, ref.value, rtol=1e-12)
        assert got.to_dict() == ref.to_dict()
    cmp_ref = at.compare_attribution(touches, outcomes, milestone="milestone", half_life="3d")
    cmp_got = at.compare_attribution(t, o, milestone="milestone", half_life="3d")
    assert isinstance(cmp_got, fk.Table) and cmp_got.to_dict() == cmp_ref.to_dict()


def test_attribution_results_keep_the_contract():
    touches, outcomes = _sample_touches()
    for model in ("linear", "markov", "shapley"):
        r = at.attribute(touches, outcomes, model=model, milestone="milestone")
        doc = check_contract(r)
        assert [c["name"] for c in doc["columns"]][:4] == ["channel", "conversions", "value", "share"]
        assert model in r.explain().definition and "sum to the attributed totals" in r.explain().definition
        assert sum(row["share"] for row in doc["data"]) == pytest.approx(1.0)
    table = at.compare_attribution(touches, outcomes, milestone="milestone")
    doc = check_contract(table)
    assert doc["result"] == "AttributionComparison"
    assert table.columns == ["channel", "first_touch", "last_touch", "linear", "u_shaped", "time_decay", "markov",
                             "shapley"]
    for m in table.columns[1:]:
        assert table[m].sum() == pytest.approx(outcomes["value"].sum())
    # A Polars result from a Polars input goes through to_polars(); no pandas DataFrame comes back.
    import polars as pl

    assert isinstance(table.to_polars(), pl.DataFrame)


def test_numpy_and_dict_input_need_no_pandas(monkeypatch):
    touches, outcomes = random_paths(12, 40, 3, 4, strings=True)
    t = {k: touches[k].to_numpy(dtype=object if touches[k].dtype == object else None) for k in touches.columns}
    o = {k: outcomes[k].to_numpy() for k in outcomes.columns}
    ref = at.attribute(touches, outcomes, model="markov", milestone="milestone")
    import sys

    monkeypatch.setitem(sys.modules, "pandas", None)  # any import of pandas now fails
    got = at.attribute(t, o, model="markov", milestone="milestone")
    assert got.channels == ref.channels
    np.testing.assert_allclose(got.value, ref.value, rtol=1e-12)
    at.compare_attribution(t, o, models=["linear", "shapley"])


def test_row_order_and_threads_give_identical_paths_and_credits():
    touches, outcomes = random_paths(4, 4_000, 6, 12)
    assert len(touches) > 3 * 8192  # every thread gets rows
    touches["time"] = touches["time"] // 10  # ties within paths
    ref = None
    for name, frame in three_orders(touches, entity="path").items():
        for threads in THREADS:
            got = [at.attribute(frame, outcomes, model=m, milestone="milestone", conversion_time="conversion_time",
                                threads=threads).to_pandas() for m in ("markov", "w_shaped", "time_decay")]
            cmp = at.compare_attribution(frame, outcomes, models=["linear", "shapley"], threads=threads).to_pandas()
            if ref is None:
                ref = (got, cmp)
                continue
            for a, b in zip(got + [cmp], ref[0] + [ref[1]]):
                pd.testing.assert_frame_equal(a, b, obj=f"{name}, {threads} threads")
    with pytest.raises(ValueError, match="option 'threads'"):
        at.attribute(touches, outcomes, threads=0)
