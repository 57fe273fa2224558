"""funnel_analysis: exclusions, held properties, unordered funnels, segments, calendar trends,
per-step gaps and optional steps (the exact dynamic programme against a brute force)."""

from __future__ import annotations


import numpy as np
import pandas as pd
import pytest

from funnelkit.funnel_analysis import funnel_analysis
from row_orders import THREADS, three_orders


def test_funnel_analysis_features():
    df = pd.DataFrame({
        "user": ["u1"] * 6 + ["u2"] * 5 + ["u3"] * 2,
        "ts": [0, 1, 2, 10, 12, 16, 0, 1, 2, 3, 4, 86_495, 86_498],
        "event": ["view", "signup", "buy", "view", "signup", "buy",
                  "view", "signup", "refund", "signup", "buy", "view", "signup"],
        "src": ["ads", "seo", "seo", "seo", "seo", "seo", "seo", "seo", "seo", "seo", "seo", "ads", "ads"],
        "deal": [1, 1, 1, 2, 2, 2, 7, 7, 7, 8, 7, 3, 3],
    })
    steps = ["view", "signup", "buy"]
    r = funnel_analysis(df, window=10, steps=steps, entity="user", time="ts", step="event", data_end=86_500,
                        count_conversions=True, segment="src", period="day")
    assert r.conversions == 3
    assert r.closed.reached == [2, 2, 2, 2]
    assert r.open.reached == [1, 1, 1, 0]
    assert r.by_segment["ads"].reached == [2, 2, 2, 1]
    assert r.by_segment["seo"].reached == [1, 1, 1, 1]
    assert sorted(r.by_period) == [0, 86_400]  # u3 enters on the second day
    assert r.trend()["period_start"].tolist() == [0] * 3 + [86_400] * 3
    ttc = r.time_to_convert()
    assert ttc["count"].tolist() == [3, 2]
    assert ttc["median"].tolist() == [1.0, 3.0]
    # A refund between signup and buy does not exclude u2: signup at 3 restarts that segment.
    # A refund between view and buy does (u2 keeps level 2). A held deal id splits u2's events.
    r2 = funnel_analysis(df, window=10, steps=steps, entity="user", time="ts", step="event", data_end=100,
                         exclusions=[("refund", "signup", "buy")])
    assert r2.closed.reached == [2, 2, 2, 2]
    r2 = funnel_analysis(df, window=10, steps=steps, entity="user", time="ts", step="event", data_end=100,
                         exclusions=[("refund", "view", "buy")])
    assert r2.closed.reached == [2, 2, 2, 1]
    r3 = funnel_analysis(df, window=10, steps=steps, entity="user", time="ts", step="event", data_end=100,
                         hold="deal")
    assert r3.closed.reached == [2, 2, 2, 2]
    r4 = funnel_analysis(df[df["user"] == "u2"], window=10, steps=steps, entity="user", time="ts", step="event",
                         hold="deal", data_end=100)
    assert r4.closed.reached == [1, 1, 1, 1]  # deal 7: view 0, signup 1, buy 4
    un = funnel_analysis(pd.DataFrame({"entity": [1, 1, 1], "time": [0, 1, 2], "step": [2, 0, 1]}),
                         window=5, steps=3, unordered=True)
    assert un.closed.reached == [1, 1, 1, 1]
    assert "conversions" in repr(r)
    assert len(r.to_pandas()) == 3
    with pytest.raises(ValueError, match="option 'attribution'"):
        funnel_analysis(df, window=10, steps=steps, entity="user", time="ts", step="event", segment="src",
                        attribution="middle")


@pytest.mark.parametrize("seed", range(40))
def test_step_rules_against_brute_force(seed):
    rng = np.random.default_rng(1000 + seed)
    n = int(rng.integers(3, 6))
    window = int(rng.integers(2, 10))
    max_gap = [None] + [int(rng.integers(0, window + 1)) if rng.random() < 0.5 else None for _ in range(1, n)]
    min_gap = [0] + [int(rng.integers(0, (window if g is None else g) + 1)) if rng.random() < 0.4 else 0
                     for g in max_gap[1:]]
    optional = {k for k in range(1, n - 1) if rng.random() < 0.4}
    counts = rng.integers(1, 8, size=150)
    ent = np.repeat(np.arange(150), counts)
    t = rng.integers(0, 12, size=len(ent))
    code = np.where(rng.random(len(ent)) < 0.15, -1, rng.integers(0, n, size=len(ent))).astype(np.int32)
    df = pd.DataFrame({"entity": ent, "time": t, "step": code})
    data_end = 10
    got = funnel_analysis(df, window=window, steps=n, data_end=data_end, max_gap=max_gap, min_gap=min_gap,
                          optional=sorted(optional))
    closed = np.zeros(n + 1, dtype=np.int64)
    opened = np.zeros(n + 1, dtype=np.int64)
    through = np.zeros(n, dtype=np.int64)
    for _, g in df.groupby("entity"):
        level, thr, is_open = brute_step_rules(list(zip(g["time"], g["step"])), window, n, max_gap, min_gap,
                                               optional, data_end)
        (opened if is_open else closed)[level] += 1
        for k in thr:
            through[k] += 1
    reached = lambda h: np.cumsum(h[::-1])[::-1].tolist()  # noqa: E731
    assert got.closed.reached == reached(closed)
    assert got.open.reached == reached(opened)
    assert list(got.through_step.values()) == through.tolist()


def test_step_rules_hand_worked_and_errors():
    steps = ["visit", "newsletter", "demo", "buy"]
    df = pd.DataFrame({
        "user": ["a"] * 3 + ["b"] * 4 + ["c"] * 2,
        "ts": [0, 5, 9, 0, 1, 4, 30, 0, 50],
        "event": ["visit", "demo", "buy", "visit", "newsletter", "demo", "buy", "visit", "demo"],
    })
    kw = dict(window=100, steps=steps, entity="user", time="ts", step="event", data_end=1000)
    plain = funnel_analysis(df, **kw)
    assert plain.closed.reached == [3, 3, 1, 1, 1]  # only b has a newsletter
    # a skips the optional newsletter: a and b buy; c reaches the demo.
    r = funnel_analysis(df, **kw, optional=["newsletter"])
    assert r.closed.reached == [3, 3, 3, 3, 2]
    assert r.through_step == {"visit": 3, "newsletter": 1, "demo": 3, "buy": 2}
    # buy at most 10 after the demo: b's buy (26 after) no longer counts; demo at most 20 after
    # the previous step: c's demo (50 after the visit) no longer counts.
    r = funnel_analysis(df, **kw, optional=["newsletter"], max_gap={"buy": 10, "demo": 20})
    assert r.closed.reached == [3, 3, 2, 2, 1]
    # demo at least 4 after the previous step: a (5 after the visit) passes; b's demo is 3
    # after the newsletter but 4 after the visit, so b passes by skipping the newsletter.
    r = funnel_analysis(df, **kw, optional=["newsletter"], min_gap=[0, 0, 4, 0])
    assert r.closed.reached == [3, 3, 3, 3, 2]
    assert r.through_step["newsletter"] == 1  # b's newsletter chain still exists (to level 2)
    with pytest.raises(ValueError, match=r"option 'min_gap\[demo\]': value -1"):
        funnel_analysis(df, **kw, min_gap={"demo": -1})
    with pytest.raises(ValueError, match=r"option 'min_gap\[demo\]': value 5 .*max_gap"):
        funnel_analysis(df, **kw, min_gap={"demo": 5}, max_gap={"demo": 3})
    with pytest.raises(ValueError, match=r"option 'min_gap\[buy\]': value 101 .*window"):
        funnel_analysis(df, **kw, min_gap={"buy": 101})
    with pytest.raises(ValueError, match=r"option 'optional\[visit\]'"):
        funnel_analysis(df, **kw, optional=["visit"])
    with pytest.raises(ValueError, match=r"option 'optional\[buy\]'"):
        funnel_analysis(df, **kw, optional=["buy"])
    with pytest.raises(ValueError, match=r"option 'optional': step 'lunch' is not valid"):
        funnel_analysis(df, **kw, optional=["lunch"])
    with pytest.raises(ValueError, match=r"option 'max_gap': 2 values given"):
        funnel_analysis(df, **kw, max_gap=[None, 3])
    with pytest.raises(ValueError, match=r"option 'max_gap\[visit\]': value 3 is not allowed"):
        funnel_analysis(df, **kw, max_gap={"visit": 3})
    with pytest.raises(ValueError, match="unordered"):
        funnel_analysis(df, **kw, unordered=True, optional=["newsletter"])


def brute_step_rules(events, window, n, max_gap, min_gap, optional, data_end):
    """Every subset of one entity's distinct (time, step) occurrences, taken in (time, step)
    order, is a candidate chain; returns (level, set of steps gone through, open)."""
    import itertools

    occ = sorted({(t, k) for t, k in events if k >= 0})
    level, through, tails = 0, set(), []
    for size in range(1, len(occ) + 1):
        for chain in itertools.combinations(occ, size):
            ks = [k for _, k in chain]
            ts = [t for t, _ in chain]
            if ks[0] != 0 or ts[-1] - ts[0] > window:
                continue
            ok = True
            for (t0, k0), (t1, k1) in zip(chain, chain[1:]):
                gap = t1 - t0
                if (k1 <= k0 or any(s not in optional for s in range(k0 + 1, k1))
                        or gap < min_gap[k1] or (max_gap[k1] is not None and gap > max_gap[k1])):
                    ok = False
                    break
            if ok:
                level = max(level, ks[-1] + 1)
                through.update(ks)
                tails.append((ts[-1], ts[0], ks[-1]))
    is_open = False
    if level < n:
        for last, start, p in tails:
            for q in range(p + 1, n):
                hi = min(last + (window if max_gap[q] is None else max_gap[q]), start + window)
                if max(data_end, last + min_gap[q]) <= hi:
                    is_open = True
                if q not in optional:
                    break
    return level, through, is_open


def test_row_order_and_threads_give_identical_results():
    rng = np.random.default_rng(8)
    n = 30_000
    events = np.array(["view", "signup", "trial", "buy", "refund", "other"])
    df = pd.DataFrame({
        "user": rng.integers(0, 1_000, n) * 7_919,
        "ts": rng.integers(0, 5_000, n),  # many ties
        "event": events[np.minimum(rng.integers(0, 9, n), 5)],  # about half match no step
        "src": np.array(["ads", "seo", "mail"])[rng.integers(0, 3, n)],
        "deal": rng.integers(0, 3, n),
    })
    steps = ["view", "signup", "trial", "buy"]
    variants = [
        dict(segment="src", period="day", count_conversions=True),
        dict(segment="src", attribution="step", attribution_step="signup", hold="deal"),
        dict(exclusions=[("refund", "signup", "buy")], segment="src", attribution="last_touch"),
        dict(unordered=True),
        dict(max_gap={"signup": 60}, optional=["trial"]),
    ]
    for kw in variants:
        ref = None
        for name, frame in three_orders(df, entity="user", time="ts").items():
            for threads in THREADS:
                r = funnel_analysis(frame, window=300, steps=steps, entity="user", time="ts", step="event",
                                    data_end=5_000, threads=threads, **kw)
                got = (r.closed.reached, r.open.reached, r.conversions,
                       {k: v.reached for k, v in r.by_segment.items()},
                       r.time_to_convert().to_pandas() if not kw.get("unordered") else None,
                       r.trend().to_pandas() if "period" in kw else None)
                if ref is None:
                    ref = got
                    continue
                assert got[:4] == ref[:4], (kw, name, threads)
                for a, b in zip(got[4:], ref[4:]):
                    if a is not None:
                        pd.testing.assert_frame_equal(a, b, obj=f"{kw}, {name}, {threads} threads")
        assert sum(ref[0]) > 0
    with pytest.raises(ValueError, match="option 'threads'"):
        funnel_analysis(df, window=300, steps=steps, entity="user", time="ts", step="event", threads=0)


def test_level_counts_record_window_and_unit_from_the_core():
    """Every level count of the result (closed, open, per segment, including a segment no entity
    was attributed to, per period) carries the window and the time unit it was computed with:
    a merge with counts of another window or unit is refused naming the field."""
    df = pd.DataFrame({"user": ["u1", "u1", "u1", "u2", "u2"], "ts": [0, 1, 2, 5, 30],
                       "event": ["view", "signup", "buy", "view", "signup"],
                       "src": ["ads", "ads", "zz", "ads", "ads"]})
    kw = dict(steps=["view", "signup", "buy"], entity="user", time="ts", step="event", data_end=100,
              segment="src", period="day")
    a = funnel_analysis(df, window=10, **kw)
    b = funnel_analysis(df, window=20, **kw)
    ms = funnel_analysis(df, window=10, time_unit="ms", **kw)  # 10 ms: the same ticks, another unit
    # "zz" is on no entity's first event: its counts are empty, with the analysis's definition.
    assert a.by_segment["zz"].reached == [0, 0, 0, 0]
    parts = [a.closed, a.open, a.unattributed, a.by_segment["ads"], a.by_segment["zz"], *a.by_period.values()]

    def state(part):  # an independent copy of the core's level counts
        return type(part._state).deserialize(part._state.serialize())

    for part in parts:
        # The core state names the field that differs ...
        with pytest.raises(ValueError, match="window differs"):
            state(part).merge(b.closed._state)
        with pytest.raises(ValueError, match="time unit differs"):
            state(part).merge(ms.closed._state)
        merged = state(part)
        merged.merge(a.closed._state)
        assert merged.entities == part._state.entities + a.closed._state.entities
        # ... and the result refuses the merge as a whole.
        with pytest.raises(ValueError, match="different 'options': 'window' differs \\(10 vs 20\\)"):
            part.copy().merge(b.closed)
    # The window of counts read back from bytes is still checked.
    back = type(a.closed).from_bytes(a.by_segment["zz"].to_bytes())
    with pytest.raises(ValueError, match="window differs"):
        back._state.merge(b.open._state)
