#!/usr/bin/env python3
"""funnelkit's window_funnel against its peers on one generated event workload.

Engines: funnelkit, ClickHouse's windowFunnel in-process through chdb, DuckDB SQL, Polars and
pandas (pandas only up to 1e7 events). The workload has `--events` events over `--entities`
entities with Zipf-like sizes (the entity of size rank r holds a share proportional to 1/r);
each entity's events come in sessions of about ten within half an hour, spread over 30 days
(timestamps in seconds, one event in five tied with the previous one of its entity); an event
is step 0..3 with probability 0.16, 0.10, 0.06, 0.03 (0.01 for further steps) and no step
otherwise (65% of the events); the window is one hour.

Every engine runs in its own subprocess (so its peak resident memory is its own; "loaded MB" is
its resident memory once the interpreter is up and the input columns are loaded), loads the
same columns, runs the query `--runs` times and reports the median wall time (and the median
CPU time of the process, steadier on a shared machine) and the level
counts [n0, n1, ..., nN] (n_k = entities whose level is at least k). Before any timing is
reported the script checks that every engine returned the same level counts.

DuckDB, Polars and pandas have no windowFunnel; they compute the default mode exactly with
forward as-of joins: from every step-1 event, the earliest next-step event at or after the
previous step's time, kept while it lies within the window of the start (ties allowed, as in
ClickHouse's tie rule for events matching one step each).

Usage:
    python benchmarks/peers.py --events 10000000 --entities 100000 --order entity_time \
        --json peers.json
    python benchmarks/peers.py --quick          # CI-sized check
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import funnel_sql

ENGINES = ("funnelkit", "chdb", "duckdb", "polars", "pandas")
PANDAS_MAX_EVENTS = 10_000_000


# -- workload -------------------------------------------------------------------------------
def generate(events: int, entities: int, steps: int, order: str, seed: int = 42) -> dict[str, np.ndarray]:
    """The event workload (see the module documentation): skewed entity sizes, most events
    matching no step, timestamps in seconds with ties, in the requested row order."""
    rng = np.random.default_rng(seed)
    entities = max(1, min(entities, events))
    # Zipf-like entity sizes: entity of rank r gets a share proportional to 1/r (the largest
    # holds about 8% of the events at 1e5 entities), at least one event each; ranks are given
    # to ids at random so that id order says nothing about size.
    weight = 1.0 / np.arange(1, entities + 1, dtype=np.float64)
    sizes = np.ones(entities, dtype=np.int64) + rng.multinomial(events - entities, weight / weight.sum())
    ids = rng.permutation(entities).astype(np.int64) * 7919 + 13
    ent = np.repeat(ids, sizes)
    del weight
    # Sessions of about ten events within half an hour, sessions uniform over 30 days; one event
    # in five repeats the previous event's second (ties).
    starts = np.cumsum(sizes) - sizes
    idx_in_entity = np.arange(events, dtype=np.int64) - np.repeat(starts, sizes)
    session_id = np.repeat(starts, sizes) + idx_in_entity // 10
    del idx_in_entity
    session_start = rng.integers(0, 30 * 86400, size=events, dtype=np.int64)
    tim = 1_700_000_000 + session_start[session_id] + rng.integers(0, 1800, size=events, dtype=np.int64)
    del session_start, session_id
    # Step k with probability 0.16, 0.10, 0.06, 0.03 (then 0.01 each), no step otherwise (65%).
    probs = np.array([0.16, 0.10, 0.06, 0.03] + [0.01] * max(0, steps - 4))[:steps]
    u = rng.random(events)
    step = np.searchsorted(np.cumsum(probs), u, side="right").astype(np.int32)
    step[step >= steps] = -1
    del u
    # (entity, time) order, ties added, then the requested order.
    o = np.lexsort((tim, ent))
    ent, tim, step = ent[o], tim[o], step[o]
    del o
    tie = np.flatnonzero(rng.random(events) < 0.2)
    tie = tie[(tie > 0)]
    tie = tie[ent[tie] == ent[tie - 1]]
    tim[tie] = tim[tie - 1]  # earlier rows first: the time order within an entity is kept
    if order == "time":
        o = np.argsort(tim, kind="stable")
    elif order == "shuffled":
        o = rng.permutation(events)
    else:
        o = None
    if o is not None:
        ent, tim, step = ent[o], tim[o], step[o]
    return {"entity": ent, "time": tim, "step": step}


def levels_from(level_per_entity: np.ndarray, steps: int) -> list[int]:
    hist = np.bincount(np.asarray(level_per_entity, dtype=np.int64), minlength=steps + 1)
    return [int(x) for x in np.cumsum(hist[::-1])[::-1]]


# -- engines (each runs in a worker subprocess) ----------------------------------------------
def run_funnelkit(d, steps, window, threads, order):
    from funnelkit.window_funnel import window_funnel

    promise = {"entity_time": "entity_time", "time": "time", "shuffled": "unsorted"}[order]

    def q():
        return window_funnel(d, window=window, steps=steps, order=promise, threads=threads).reached

    return q


def run_chdb(d, steps, window, threads, order):
    sess = funnel_sql.chdb_session(d)
    sql = funnel_sql.chdb_levels_sql(steps, window, threads)

    def q():
        out = sess.query(sql, "CSV").data()
        hist = np.zeros(steps + 1, dtype=np.int64)
        for line in out.strip().splitlines():
            lv, n = line.split(",")
            hist[int(lv)] = int(n)
        return [int(x) for x in np.cumsum(hist[::-1])[::-1]]

    return q


def _asof_sql(steps: int, window: int) -> str:
    return funnel_sql.chain_sql(steps, lambda k: (
        f"e{k} AS (SELECT entity, time AS tk FROM ev WHERE step = {k}), "
        f"s{k} AS (SELECT s.entity, s.t0, e.tk AS tp FROM s{k - 1} s ASOF JOIN e{k} e "
        f"ON s.entity = e.entity AND s.tp <= e.tk WHERE e.tk <= s.t0 + {window})"), group_reach=False)


def run_duckdb(d, steps, window, threads, order):
    import duckdb

    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    ent, tim, stp = d["entity"], d["time"], d["step"]  # noqa: F841 - scanned by name
    con.execute("CREATE TABLE ev AS SELECT * FROM (SELECT unnest([1]) AS x) LIMIT 0")
    con.execute("DROP TABLE ev")
    import pyarrow as pa

    tbl = pa.table({"entity": ent, "time": tim, "step": stp})  # noqa: F841
    con.execute("CREATE TABLE ev AS SELECT * FROM tbl")
    del tbl
    sql = _asof_sql(steps, window)

    def q():
        hist = np.zeros(steps + 1, dtype=np.int64)
        for lv, n in con.execute(sql).fetchall():
            hist[int(lv)] = int(n)
        return [int(x) for x in np.cumsum(hist[::-1])[::-1]]

    return q


def run_polars(d, steps, window, threads, order):
    os.environ["POLARS_MAX_THREADS"] = str(threads)
    import polars as pl

    ev = pl.DataFrame(d)

    def q():
        cur = ev.filter(pl.col("step") == 0).select("entity", pl.col("time").alias("t0"), pl.col("time").alias("tp"))
        cur = cur.sort("tp")
        reached = [cur.select("entity").unique().with_columns(pl.lit(1).alias("level"))]
        for k in range(1, steps):
            ek = ev.filter(pl.col("step") == k).select("entity", pl.col("time").alias("tk")).sort("tk")
            cur = cur.join_asof(ek, left_on="tp", right_on="tk", by="entity", strategy="forward")
            cur = cur.filter(pl.col("tk").is_not_null() & (pl.col("tk") <= pl.col("t0") + window))
            cur = cur.select("entity", "t0", pl.col("tk").alias("tp")).sort("tp")
            reached.append(cur.select("entity").unique().with_columns(pl.lit(k + 1).alias("level")))
        lv = pl.concat(reached).group_by("entity").agg(pl.col("level").max())
        n_entities = ev.select(pl.col("entity").n_unique()).item()
        hist = np.zeros(steps + 1, dtype=np.int64)
        for level, n in lv.group_by("level").len().iter_rows():
            hist[int(level)] = int(n)
        hist[0] = n_entities - hist[1:].sum()
        return [int(x) for x in np.cumsum(hist[::-1])[::-1]]

    return q


def run_pandas(d, steps, window, threads, order):
    import pandas as pd

    ev = pd.DataFrame(d)

    def q():
        cur = ev.loc[ev["step"] == 0, ["entity", "time"]].rename(columns={"time": "t0"})
        cur["tp"] = cur["t0"]
        cur = cur.sort_values("tp", kind="stable")
        best = pd.Series(0, index=pd.Index(ev["entity"].unique()))
        best.loc[cur["entity"].unique()] = 1
        for k in range(1, steps):
            ek = ev.loc[ev["step"] == k, ["entity", "time"]].rename(columns={"time": "tk"}).sort_values("tk", kind="stable")
            cur = pd.merge_asof(cur, ek, left_on="tp", right_on="tk", by="entity", direction="forward")
            cur = cur[cur["tk"].notna() & (cur["tk"] <= cur["t0"] + window)]
            cur = cur[["entity", "t0"]].assign(tp=cur["tk"].astype(np.int64)).sort_values("tp", kind="stable")
            best.loc[cur["entity"].unique()] = k + 1
        return levels_from(best.to_numpy(), steps)

    return q


RUNNERS = {"funnelkit": run_funnelkit, "chdb": run_chdb, "duckdb": run_duckdb, "polars": run_polars,
           "pandas": run_pandas}


def worker(args: argparse.Namespace) -> None:
    d = {k: np.load(Path(args.data) / f"{k}.npy") for k in ("entity", "time", "step")}
    loaded_mb = _proc_status_mb("VmRSS")
    q = RUNNERS[args.worker](d, args.steps, args.window, args.threads, args.order)
    del d
    times, cpu, levels = [], [], None
    for _ in range(args.runs):
        c0 = time.process_time()
        t0 = time.perf_counter()
        levels = q()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    # VmHWM, not getrusage's ru_maxrss: on Linux the latter keeps the peak of the forked parent
    # image across exec, which would charge the workload generator to every engine.
    rss_mb = _proc_status_mb("VmHWM")
    if rss_mb != rss_mb:
        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps({"median_s": statistics.median(times), "times_s": times,
                      "median_cpu_s": statistics.median(cpu), "peak_rss_mb": round(rss_mb, 1),
                      "loaded_rss_mb": round(loaded_mb, 1), "levels": levels}))


def _proc_status_mb(key: str) -> float:
    """A memory figure of /proc/self/status in MiB (VmRSS: resident now; VmHWM: peak)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--entities", type=int, default=None, help="default: events / 100")
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--window", type=int, default=3600, help="seconds (default one hour)")
    ap.add_argument("--order", choices=("entity_time", "time", "shuffled"), default="entity_time")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--engines", default=",".join(ENGINES))
    ap.add_argument("--quick", action="store_true", help="CI-sized: 200k events, 2k entities, 3 runs")
    ap.add_argument("--json", metavar="PATH", help="write the results as JSON")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args)
        return
    if args.quick:
        args.events, args.entities, args.runs = 200_000, 2_000, 3
    if args.entities is None:
        args.entities = max(1, args.events // 100)
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    for e in engines:
        if e not in RUNNERS:
            ap.error(f"unknown engine {e!r} (choose from {', '.join(ENGINES)})")
    if "pandas" in engines and args.events > PANDAS_MAX_EVENTS:
        engines.remove("pandas")
        print(f"pandas skipped above {PANDAS_MAX_EVENTS:,} events", file=sys.stderr)

    workload = {"events": args.events, "entities": args.entities, "steps": args.steps, "window": args.window,
                "order": args.order, "threads": args.threads, "runs": args.runs}
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="funnelkit-peers-") as tmp:
        d = generate(args.events, args.entities, args.steps, args.order)
        input_mb = sum(a.nbytes for a in d.values()) / 2**20
        for k, a in d.items():
            np.save(Path(tmp) / f"{k}.npy", a)
        del d
        env = dict(os.environ)
        here = Path(__file__).resolve().parent
        in_tree = here.parent / "bindings" / "python"
        if any((in_tree / "funnelkit").glob("_core*.so")):  # a development build in the source tree
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(in_tree), env.get("PYTHONPATH")]))
        failed: list[str] = []
        for e in engines:
            cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", e, "--data", tmp,
                   "--steps", str(args.steps), "--window", str(args.window), "--threads", str(args.threads),
                   "--order", args.order, "--runs", str(args.runs)]
            p = subprocess.run(cmd, capture_output=True, text=True, env=env)
            if p.returncode != 0:
                print(f"{e}: failed\n{p.stderr.strip()[-2000:]}", file=sys.stderr)
                failed.append(e)
                continue
            results[e] = json.loads(p.stdout.strip().splitlines()[-1])
            print(f"{e:>10}: {results[e]['median_s']:.3f} s", file=sys.stderr)

    ref = next(iter(results.values()))["levels"] if results else None
    agree = bool(results) and all(r["levels"] == ref for r in results.values())
    out = {"workload": workload, "input_mb": round(input_mb, 1), "agree": agree, "engines": results}
    fk = results.get("funnelkit")
    print(f"\n{args.events:,} events, {args.entities:,} entities, {args.steps} steps, window {args.window} s, "
          f"order {args.order}, {args.threads} thread(s); input {input_mb:.0f} MB; median of {args.runs} runs")
    print(f"{'engine':<10} {'median s':>10} {'CPU s':>8} {'M events/s':>11} {'peak RSS MB':>12} {'loaded MB':>10} "
          f"{'vs funnelkit':>13}  levels")
    for e, r in results.items():
        ratio = f"{r['median_s'] / fk['median_s']:.1f}x" if fk else "-"
        print(f"{e:<10} {r['median_s']:>10.3f} {r.get('median_cpu_s', float('nan')):>8.3f} "
              f"{args.events / r['median_s'] / 1e6:>11.1f} {r['peak_rss_mb']:>12.0f} "
              f"{r['loaded_rss_mb']:>10.0f} {ratio:>13}  {r['levels']}")
    print("all engines agree" if agree else "ENGINES DISAGREE")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
    if failed:
        print(f"engines that failed: {', '.join(failed)}", file=sys.stderr)
    if not agree or failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
