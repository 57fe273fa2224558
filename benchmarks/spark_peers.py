#!/usr/bin/env python3
"""funnelkit on Spark against the same funnel in Spark SQL and against funnelkit on one machine.

Workload: `--events` events over about `--entities` entities with Zipf-like sizes (entity id
floor(E * u**3): the largest entity holds about 1% of the events), times uniform over 30 days
as Spark timestamps (microseconds), and an event name per row: "visit", "signup", "trial",
"pay" (the four funnel steps) with probabilities 0.20, 0.10, 0.05, 0.02, else "other" or
"help" (events matching no step). The funnel is window_funnel's default mode with a one-day
window. The data is generated once with numpy and written to Parquet, which every engine reads.

Engines (each in its own subprocess, so that its peak memory is its own):
- `fk_spark`: funnelkit.spark.window_funnel on a Spark DataFrame in local mode with 1 and with
  2 cores (`local[1]`, `local[2]`), 8 shuffle partitions;
- `spark_transfer`: the same repartition by entity and mapInArrow, with a body that only
  gathers each partition's Arrow batches (no funnelkit): the time in the JVM, the shuffle and
  the Arrow transfer to Python; fk_spark - spark_transfer is the time in funnelkit;
- `spark_sql`: the funnel in Spark SQL with window functions (below), same sessions;
- `fk_local`: funnelkit.window_funnel on the Parquet file read with PyArrow (threads 1 and 2),
  and the core alone on integer step codes.

Spark SQL has no windowFunnel; the default mode is computed exactly with window functions
over each entity's step events ordered by (time, step), descending so that every frame is a
running one: from each step-k event the greedy chain (the earliest step-(k+1) event at or after
it, then the earliest step-(k+2) event at or after that, ...) is carried back as a struct; an
entity's level is the longest chain from one of its step-1 events whose steps all lie within the
window of that event. Before any time is reported, every engine's level counts
[n0, n1, ..., n4] (entities whose level is at least k) must agree.

Reported: median wall time over `--runs` runs, events per second, the ratios, and the peak
resident memory of the process tree (the Python driver, the JVM and its Python workers).

Usage:
    python benchmarks/spark_peers.py --events 10000000 --json spark-peers.json
    python benchmarks/spark_peers.py --quick          # a small check that every engine agrees
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

STEPS = ["visit", "signup", "trial", "pay"]
WINDOW_SECONDS = 86_400


# -- workload -------------------------------------------------------------------------------------
def generate(path: Path, events: int, entities: int, seed: int = 42) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    entity = np.floor(entities * rng.random(events) ** 3).astype(np.int64) * 7919 + 13
    start = np.datetime64("2024-03-01T00:00:00", "us").astype(np.int64)
    time_us = start + rng.integers(0, 30 * 86_400, events, dtype=np.int64) * 1_000_000
    names = np.array(STEPS + ["other", "help"], dtype=object)
    event = names[rng.choice(6, events, p=[0.20, 0.10, 0.05, 0.02, 0.50, 0.13])]
    table = pa.table({"entity": entity, "time": pa.array(time_us, pa.timestamp("us", tz="UTC")),
                      "event": pa.array(event, pa.string())})
    pq.write_table(table, path, row_group_size=1_000_000)


# -- memory of the process tree ---------------------------------------------------------------------
class PeakMemory:
    """Samples the resident memory of this process and its descendants every 0.2 s."""

    def __init__(self) -> None:
        import psutil

        self._proc = psutil.Process()
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            total = 0
            try:
                for p in [self._proc, *self._proc.children(recursive=True)]:
                    try:
                        total += p.memory_info().rss
                    except Exception:  # a worker that just exited
                        pass
            except Exception:
                pass
            self.peak = max(self.peak, total)
            time.sleep(0.2)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def timed(fn, runs: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(runs):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def reached_of_levels(levels: dict[int, int], steps: int) -> list[int]:
    """Entities per exact level -> entities whose level is at least k."""
    return [sum(c for lvl, c in levels.items() if lvl >= k) for k in range(steps + 1)]


# -- engines ----------------------------------------------------------------------------------------
def run_local(data: Path, runs: int) -> dict:
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    import funnelkit as fk

    mem = PeakMemory()
    table = pq.read_table(data)
    out: dict = {"engine": "fk_local"}
    for threads in (1, 2):
        secs, res = timed(lambda: fk.window_funnel(table, window="1d", steps=STEPS, step="event",
                                                   threads=threads), runs)
        out[f"seconds_threads{threads}"] = secs
        out["reached"] = res.reached
    codes = pc.fill_null(pc.index_in(table["event"], value_set=__import__("pyarrow").array(STEPS)), -1)
    coded = table.set_column(2, "event", codes.cast("int32"))
    secs, res = timed(lambda: fk.window_funnel(coded, window="1d", steps=len(STEPS), step="event"), runs)
    out["seconds_core_codes"] = secs
    assert res.reached == out["reached"]
    out["peak_mb"] = mem.stop() / 2**20
    return out


SQL = """
WITH f AS (
  SELECT entity, unix_micros(time) AS t,
         CASE event WHEN 'visit' THEN 0 WHEN 'signup' THEN 1 WHEN 'trial' THEN 2 WHEN 'pay' THEN 3 END AS s
  FROM events WHERE event IN ('visit', 'signup', 'trial', 'pay')),
c3 AS (
  SELECT *, last(CASE WHEN s = 3 THEN t END, true) OVER w AS n3 FROM f
  WINDOW w AS (PARTITION BY entity ORDER BY t DESC, s DESC ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)),
c2 AS (
  SELECT *, last(CASE WHEN s = 2 THEN named_struct('t2', t, 't3', n3) END, true) OVER w AS n2 FROM c3
  WINDOW w AS (PARTITION BY entity ORDER BY t DESC, s DESC ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)),
c1 AS (
  SELECT *, last(CASE WHEN s = 1 THEN named_struct('t1', t, 't2', n2.t2, 't3', n2.t3) END, true) OVER w AS n1
  FROM c2
  WINDOW w AS (PARTITION BY entity ORDER BY t DESC, s DESC ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)),
starts AS (
  SELECT entity,
         1 + CASE WHEN n1.t1 IS NOT NULL AND n1.t1 <= t + {w} THEN
               1 + CASE WHEN n1.t2 IS NOT NULL AND n1.t2 <= t + {w} THEN
                     1 + CASE WHEN n1.t3 IS NOT NULL AND n1.t3 <= t + {w} THEN 1 ELSE 0 END
                   ELSE 0 END
             ELSE 0 END AS level
  FROM c1 WHERE s = 0),
per_entity AS (
  SELECT e.entity, coalesce(max(s.level), 0) AS level
  FROM (SELECT DISTINCT entity FROM events) e LEFT JOIN starts s ON e.entity = s.entity
  GROUP BY e.entity)
SELECT level, count(*) AS n FROM per_entity GROUP BY level
""".format(w=WINDOW_SECONDS * 1_000_000)


def _gather(batches):
    """A mapInArrow body without funnelkit: the partition's batches as one table, one row out."""
    import pyarrow as pa

    table = pa.Table.from_batches(list(batches))
    yield pa.RecordBatch.from_arrays([pa.array([table.num_rows], pa.int64())], names=["rows"])


def run_spark(data: Path, runs: int, cores: int, partitions: int) -> dict:
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    import funnelkit.spark as fks

    mem = PeakMemory()
    t = time.perf_counter()
    spark = (SparkSession.builder.master(f"local[{cores}]").appName("funnelkit-spark-peers")
             .config("spark.ui.enabled", "false").config("spark.driver.host", "127.0.0.1")
             .config("spark.driver.bindAddress", "127.0.0.1").config("spark.driver.memory", "6g")
             .config("spark.sql.shuffle.partitions", str(partitions)).config("spark.sql.session.timeZone", "UTC")
             .config("spark.sql.adaptive.enabled", "false").config("spark.python.worker.reuse", "true")
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    out: dict = {"engine": f"spark_local{cores}", "cores": cores, "session_seconds": time.perf_counter() - t}
    df = spark.read.parquet(str(data))
    df.createOrReplaceTempView("events")

    secs, res = timed(lambda: fks.window_funnel(df, window="1d", steps=STEPS, step="event", partitions=partitions),
                      runs)
    out["fk_spark_seconds"], out["fk_spark_reached"] = secs, res.reached

    def transfer():
        return df.select("entity", "time", "event").repartition(partitions, "entity") \
            .mapInArrow(_gather, "rows long").groupBy().sum("rows").collect()[0][0]

    secs, rows = timed(transfer, runs)
    out["transfer_seconds"], out["rows"] = secs, int(rows)

    def sql():
        return {int(r["level"]): int(r["n"]) for r in spark.sql(SQL).collect()}

    secs, levels = timed(sql, runs)
    out["sql_seconds"], out["sql_reached"] = secs, reached_of_levels(levels, len(STEPS))
    spark.stop()
    out["peak_mb"] = mem.stop() / 2**20
    return out


# -- driver ---------------------------------------------------------------------------------------
def worker(args: argparse.Namespace) -> None:
    data = Path(args.data)
    if args.worker == "local":
        result = run_local(data, args.runs)
    else:
        result = run_spark(data, args.runs, int(args.worker), args.partitions)
    print(json.dumps(result))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--events", type=float, default=1e7)
    p.add_argument("--entities", type=float, default=None, help="default: events / 10")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--cores", default="1,2", help="Spark local cores to measure, comma-separated")
    p.add_argument("--partitions", type=int, default=8, help="shuffle partitions (funnelkit.spark's partitions=)")
    p.add_argument("--quick", action="store_true", help="20,000 events, one run: check that the engines agree")
    p.add_argument("--json", help="write the results here")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--data", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        return worker(args)
    if args.quick:
        args.events, args.runs, args.cores, args.partitions = 2e4, 1, "2", 3
    events = int(args.events)
    entities = int(args.entities or max(1, events // 10))
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "events.parquet"
        t = time.perf_counter()
        generate(data, events, entities)
        print(f"generated {events:,} events over {entities:,} entity ids in {time.perf_counter() - t:.1f} s",
              flush=True)
        results = []
        for name in ["local", *args.cores.split(",")]:
            cmd = [sys.executable, __file__, "--worker", name, "--data", str(data), "--runs", str(args.runs),
                   "--partitions", str(args.partitions)]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                sys.stderr.write(proc.stderr[-4000:])
                raise SystemExit(f"engine {name} failed")
            results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
            print(json.dumps(results[-1]), flush=True)
    want = results[0]["reached"]
    for r in results[1:]:
        for key in ("fk_spark_reached", "sql_reached"):
            if r[key] != want:
                raise SystemExit(f"{r['engine']} {key} {r[key]} differs from funnelkit's {want}")
    print(f"every engine agrees: reached = {want}")
    local = results[0]
    print(f"\n{events:,} events, {args.runs} runs (median wall seconds; events per second; peak MB of the tree)")
    print(f"  fk_local threads=1        {local['seconds_threads1']:8.2f} s  {events / local['seconds_threads1']:12,.0f}/s"
          f"  {local['peak_mb']:8.0f} MB")
    print(f"  fk_local threads=2        {local['seconds_threads2']:8.2f} s  {events / local['seconds_threads2']:12,.0f}/s")
    print(f"  fk_local core (int codes) {local['seconds_core_codes']:8.2f} s  "
          f"{events / local['seconds_core_codes']:12,.0f}/s")
    for r in results[1:]:
        c = r["cores"]
        print(f"  local[{c}] fk_spark         {r['fk_spark_seconds']:8.2f} s  {events / r['fk_spark_seconds']:12,.0f}/s"
              f"  {r['peak_mb']:8.0f} MB")
        print(f"  local[{c}] transfer only    {r['transfer_seconds']:8.2f} s  (JVM, shuffle, Arrow to Python; "
              f"funnelkit {r['fk_spark_seconds'] - r['transfer_seconds']:.2f} s)")
        print(f"  local[{c}] spark_sql        {r['sql_seconds']:8.2f} s  {events / r['sql_seconds']:12,.0f}/s"
              f"  (sql / fk_spark = {r['sql_seconds'] / r['fk_spark_seconds']:.2f})")
    if args.json:
        Path(args.json).write_text(json.dumps({"events": events, "entities": entities, "runs": args.runs,
                                               "results": results}, indent=2))


if __name__ == "__main__":
    main()
