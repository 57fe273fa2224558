#!/usr/bin/env python3
"""window_funnel in PostgreSQL against the same funnel in plain PostgreSQL SQL and in ClickHouse.

The workload is benchmarks/peers.py's (`--events` events over `--entities` entities, sessions of
about ten events within half an hour over 30 days, steps 1..4 with probabilities 0.20, 0.10,
0.05, 0.02 and no step otherwise, a one-hour window), in event-log (time) order. It runs:

- funnelkit's `window_funnel` aggregate in PostgreSQL 15, serial and with two parallel workers
  (`SELECT entity, window_funnel(3600, time, step = 0, ...) ... GROUP BY entity`);
- the same funnel in plain PostgreSQL SQL: from every step-1 event, the earliest next-step event
  at or after the previous step's time (a LATERAL index lookup, with an index on
  (entity, step, time) built before the timing), kept while it lies within the window of the
  start; this is exact for the default mode with events matching one step each; serial and with
  two workers;
- ClickHouse's `windowFunnel` in-process through chdb on the same columns, one and two threads.

Every engine must return the same level counts [n0, ..., n4] (n_k = entities whose level is at
least k) before any time is reported. Times are medians of `--runs` runs of the query alone
(the data is loaded first). A throwaway server is started in a temporary directory (as the user
postgres) with the funnelkit extension installed (bash scripts/postgres.sh install).

    python benchmarks/sql_peers.py --events 10000000 --entities 100000 --json build/sql_peers.json
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "python"))
import pg_server  # noqa: E402

sys.path.insert(0, str(HERE))
import funnel_sql  # noqa: E402

_spec = importlib.util.spec_from_file_location("peers", HERE / "peers.py")
peers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(peers)

PARALLEL = {"parallel_setup_cost": "0", "parallel_tuple_cost": "0", "min_parallel_table_scan_size": "0",
            "max_parallel_workers_per_gather": "2"}
SERIAL = {"max_parallel_workers_per_gather": "0"}


def funnelkit_sql(steps: int, window: int) -> str:
    conds = ", ".join(f"step = {k}" for k in range(steps))
    return (f"SELECT level, count(*) FROM (SELECT entity, window_funnel({window}, time, {conds}) AS level "
            f"FROM ev GROUP BY entity) t GROUP BY level ORDER BY level")


def plain_sql(steps: int, window: int) -> str:
    return funnel_sql.chain_sql(steps, lambda k: (
        f"s{k} AS (SELECT s.entity, s.t0, n.time AS tp FROM s{k - 1} s CROSS JOIN LATERAL "
        f"(SELECT e.time FROM ev e WHERE e.entity = s.entity AND e.step = {k} AND e.time >= s.tp "
        f"ORDER BY e.time LIMIT 1) n WHERE n.time <= s.t0 + {window})"), group_reach=True)


def reached(hist_rows, steps: int) -> list[int]:
    hist = np.zeros(steps + 1, dtype=np.int64)
    for lv, n in hist_rows:
        hist[int(lv)] = int(n)
    return [int(x) for x in np.cumsum(hist[::-1])[::-1]]


def timed(fn, runs: int) -> tuple[float, list[int]]:
    times, answer = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        answer = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), answer


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--entities", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    steps, window = 4, 3600
    d = peers.generate(args.events, args.entities, steps, "time")

    import pyarrow as pa
    import pyarrow.csv as pacsv

    missing = pg_server.missing_reason() or pg_server.extension_missing()
    if missing:
        sys.exit(missing)
    srv = pg_server.Server({"shared_buffers": "1GB", "work_mem": "512MB", "max_parallel_workers": "2",
                            "jit": "off"}).start()
    results: dict[str, dict] = {}
    controls: dict[str, dict] = {}
    try:
        csv = srv.dir / "events.csv"
        pacsv.write_csv(pa.table(d), csv, pacsv.WriteOptions(include_header=False))
        os.chmod(csv, 0o644)
        conn = srv.connect()
        conn.execute("CREATE EXTENSION funnelkit")
        conn.execute("CREATE TABLE ev (entity bigint, time bigint, step integer)")
        t0 = time.perf_counter()
        conn.execute(f"COPY ev FROM '{csv}' WITH (FORMAT csv)")
        conn.execute("VACUUM ANALYZE ev")
        load_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        conn.execute("CREATE INDEX ev_entity_step_time ON ev (entity, step, time)")
        conn.execute("ANALYZE ev")
        index_s = time.perf_counter() - t0
        csv.unlink()

        def pg(sql: str, settings: dict[str, str]):
            for k, v in {**PARALLEL, **settings}.items():
                conn.execute(f"SET {k} = {v}")
            plan = "\n".join(r[0] for r in conn.execute("EXPLAIN " + sql).fetchall())
            return plan, (lambda: reached(conn.execute(sql).fetchall(), steps))

        cases = [("funnelkit window_funnel, serial", funnelkit_sql(steps, window), SERIAL),
                 ("funnelkit window_funnel, 2 workers", funnelkit_sql(steps, window), {}),
                 ("plain SQL (LATERAL lookups), serial", plain_sql(steps, window), SERIAL),
                 ("plain SQL (LATERAL lookups), 2 workers", plain_sql(steps, window), {})]
        # Control: PostgreSQL's own count(*) per entity, serial and parallel, shows what two
        # workers can gain on this machine for a GROUP BY over the same table.
        control = "SELECT sum(c) FROM (SELECT entity, count(*) AS c FROM ev GROUP BY entity) t"
        for name, settings in (("control: count(*) GROUP BY entity, serial", SERIAL),
                               ("control: count(*) GROUP BY entity, 2 workers", {})):
            plan, _ = pg(control, settings)
            med, _ = timed(lambda: conn.execute(control).fetchall(), args.runs)
            controls[name] = {"median_s": med, "partial": "Partial" in plan}
            print(f"{name:42s} {med:8.3f} s  partial={'Partial' in plan}", flush=True)
        for name, sql, settings in cases:
            plan, fn = pg(sql, settings)
            med, ans = timed(fn, args.runs)
            results[name] = {"median_s": med, "reached": ans, "partial": "Partial" in plan,
                             "workers": "Workers Planned: 2" in plan}
            print(f"{name:42s} {med:8.3f} s  {ans}  partial={'Partial' in plan}", flush=True)
        conn.close()
    finally:
        srv.stop()

    sess = funnel_sql.chdb_session(d)
    for threads in (1, 2):
        sql = funnel_sql.chdb_levels_sql(steps, window, threads)

        def q():
            out = sess.query(sql, "CSV").data()
            return reached([line.split(",") for line in out.strip().splitlines()], steps)

        med, ans = timed(q, args.runs)
        name = f"chdb windowFunnel, {threads} thread{'s' if threads > 1 else ''}"
        results[name] = {"median_s": med, "reached": ans}
        print(f"{name:42s} {med:8.3f} s  {ans}", flush=True)

    answers = {json.dumps(r["reached"]) for r in results.values()}
    if len(answers) != 1:
        sys.exit("engines disagree: " + json.dumps({k: v["reached"] for k, v in results.items()}))
    base = results["funnelkit window_funnel, serial"]["median_s"]
    print(f"\nall engines agree: {results['funnelkit window_funnel, serial']['reached']}")
    print(f"load {load_s:.1f} s (COPY + VACUUM ANALYZE), index for plain SQL {index_s:.1f} s")
    print("| engine | median s | M events/s | time vs funnelkit serial |")
    print("|---|---:|---:|---:|")
    for name, r in results.items():
        print(f"| {name} | {r['median_s']:.3f} | {args.events / r['median_s'] / 1e6:.2f} | "
              f"{r['median_s'] / base:.2f}x |")
    for name, r in controls.items():
        print(f"| {name} | {r['median_s']:.3f} | {args.events / r['median_s'] / 1e6:.2f} | |")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"events": args.events, "entities": args.entities, "runs": args.runs,
                                         "load_s": load_s, "index_s": index_s, "results": results,
                                         "controls": controls}, indent=1))


if __name__ == "__main__":
    main()
