#!/usr/bin/env python3
"""Stage reach by segment over CRM stage records: funnelkit against Polars and DuckDB.

The question: per lead source, how many leads reached each stage of the ladder Lead -> MQL ->
SAL -> SQL -> Opportunity -> Customer (reaching a stage implies the earlier ones, as in
``fk.conversion(..., skipped="implied")``). Records: ``--records`` stage changes of
``--records / 8`` leads with Zipf-like record counts (the lead of size rank r holds a share
proportional to 1/r, at least one record each: a Lead record), walking the ladder with a
drop-off at every stage, some recycled back to Lead, some ending Lost or Disqualified
(stages off the ladder); timestamps in seconds with ties; each lead's records carry its one
source (eight sources); rows shuffled.

Input kinds (``--kind``), as users hold them:
- ``codes``: integer stage codes (0..7, the model's order) and source codes (int32);
- ``categorical``: stages and sources as categoricals (pandas ``category`` for funnelkit,
  Polars ``Categorical``, an Arrow dictionary scanned by DuckDB);
- ``strings``: stages and sources as plain strings (pandas object columns for funnelkit,
  Polars ``String``, DuckDB ``VARCHAR``).

Every engine runs in its own subprocess on the same data, one thread, ``--runs`` times; the
script reports median wall time, peak resident memory, and checks first that all engines
returned the same reach table. For funnelkit it also reports how much of the call is Python
ingestion (the time of ``fk.conversion`` minus the time of the core call on codes).

Usage:
    python benchmarks/reach.py --records 10000000 --kind categorical
    python benchmarks/reach.py --quick
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ENGINES = ("funnelkit", "polars", "duckdb")
STAGES = ["Lead", "MQL", "SAL", "SQL", "Opportunity", "Customer", "Lost", "Disqualified"]
LADDER = 6
SOURCES = ["Webinar", "Paid Search", "Organic", "Referral", "Trade Show", "Outbound", "Partner", "Event"]


def generate(records: int, seed: int = 7) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    leads = max(1, records // 8)
    weight = 1.0 / np.arange(1, leads + 1, dtype=np.float64)
    sizes = np.ones(leads, dtype=np.int64) + rng.multinomial(records - leads, weight / weight.sum())
    del weight
    ent = np.repeat(rng.permutation(leads).astype(np.int64) * 104729 + 11, sizes)
    pos = np.arange(records, dtype=np.int64) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    # Each lead walks up the ladder to a random top stage, then (long histories) recycles.
    top = np.minimum(rng.geometric(0.45, size=leads) - 1, LADDER - 1)
    top_row = np.repeat(top, sizes)
    stage = (pos % (top_row + 1)).astype(np.int32)
    end = np.repeat(np.cumsum(sizes) - 1, sizes) == np.arange(records)
    lost = end & (top_row < LADDER - 1) & (rng.random(records) < 0.5)
    stage[lost] = np.where(rng.random(int(lost.sum())) < 0.5, 6, 7)
    del top_row, end, lost
    source = np.repeat(rng.integers(0, len(SOURCES), size=leads).astype(np.int32), sizes)
    start = np.repeat(rng.integers(1_700_000_000, 1_700_000_000 + 365 * 86400, size=leads), sizes)
    tim = start + pos * rng.integers(0, 3 * 86400, size=records) // 4  # steps days apart, some tied
    o = rng.permutation(records)
    return {"entity": ent[o], "time": tim[o].astype(np.int64), "stage": stage[o], "source": source[o]}


def expected(d: dict[str, np.ndarray]) -> list[list[int]]:
    """Reference reach table with numpy: per source, [entities, reached(0..5)]."""
    rank = np.where(d["stage"] < LADDER, d["stage"], -1)
    ids, inv = np.unique(d["entity"], return_inverse=True)
    top = np.full(len(ids), -1)
    np.maximum.at(top, inv, rank)
    src = np.zeros(len(ids), dtype=np.int64)
    src[inv] = d["source"]
    out = []
    for s in range(len(SOURCES)):
        t = top[src == s]
        out.append([int(len(t))] + [int((t >= k).sum()) for k in range(LADDER)])
    return out


def load(kind: str, engine: str, d: dict[str, np.ndarray]):
    """The records as the engine's users hold them."""
    stage_names = np.array(STAGES, dtype=object)
    source_names = np.array(SOURCES, dtype=object)
    if engine == "funnelkit":
        if kind == "codes":
            return dict(d)
        import pandas as pd

        if kind == "categorical":
            return pd.DataFrame({"entity": d["entity"], "time": d["time"],
                                 "stage": pd.Categorical.from_codes(d["stage"], STAGES),
                                 "source": pd.Categorical.from_codes(d["source"], SOURCES)})
        return pd.DataFrame({"entity": d["entity"], "time": d["time"], "stage": stage_names[d["stage"]],
                             "source": source_names[d["source"]]})
    if engine == "polars":
        import polars as pl

        df = pl.DataFrame({"entity": d["entity"], "time": d["time"], "stage": d["stage"], "source": d["source"]})
        if kind == "codes":
            return df
        dtype = pl.Categorical if kind == "categorical" else pl.String
        return df.with_columns(pl.col("stage").replace_strict(list(range(8)), STAGES, return_dtype=pl.String)
                               .cast(dtype),
                               pl.col("source").replace_strict(list(range(8)), SOURCES, return_dtype=pl.String)
                               .cast(dtype))
    import pyarrow as pa

    if kind == "codes":
        return pa.table(d)
    stage = pa.DictionaryArray.from_arrays(pa.array(d["stage"]), pa.array(STAGES))
    source = pa.DictionaryArray.from_arrays(pa.array(d["source"]), pa.array(SOURCES))
    if kind == "strings":
        stage, source = stage.cast(pa.string()), source.cast(pa.string())
    return pa.table({"entity": d["entity"], "time": d["time"], "stage": stage, "source": source})


def run_funnelkit(data, kind):
    import funnelkit as fk  # the installed package (scripts/install-python.sh), as peers.py

    def q():
        t = fk.conversion(data, entity="entity", time="time", stage="stage", segment="source")
        return {_label(s, kind): [t.entities(s)] + [t.reached(st, s) for st in STAGES[:LADDER]] for s in t.segments}

    return q


def run_polars(df, kind):
    import polars as pl

    rank = pl.col("stage") if kind == "codes" else pl.col("stage").cast(pl.String).replace_strict(
        STAGES, list(range(8)), return_dtype=pl.Int32)
    rank = pl.when(rank < LADDER).then(rank).otherwise(-1)

    def q():
        per = df.group_by("entity").agg(rank.max().alias("top"), pl.col("source").min())
        out = per.group_by("source").agg([pl.len().alias("n")] + [(pl.col("top") >= k).sum().alias(f"r{k}")
                                                                 for k in range(LADDER)])
        return {_label(r[0], kind): [int(x) for x in r[1:]] for r in out.iter_rows()}

    return q


def run_duckdb(tbl, kind):
    import duckdb

    con = duckdb.connect()
    con.execute("SET threads = 1")
    con.register("src", tbl)
    con.execute("CREATE TABLE rec AS SELECT * FROM src")
    con.unregister("src")
    if kind == "codes":
        rank = "CASE WHEN stage < 6 THEN stage ELSE -1 END"
    else:
        cases = " ".join(f"WHEN '{s}' THEN {k}" for k, s in enumerate(STAGES[:LADDER]))
        rank = f"CASE stage {cases} ELSE -1 END"
    cols = ", ".join(f"count(*) FILTER (WHERE top >= {k})" for k in range(LADDER))
    sql = (f"SELECT source, count(*), {cols} FROM (SELECT entity, max({rank}) AS top, min(source) AS source "
           f"FROM rec GROUP BY entity) GROUP BY source")

    def q():
        return {_label(r[0], kind): [int(x) for x in r[1:]] for r in con.execute(sql).fetchall()}

    return q


def _label(v, kind):
    return SOURCES[int(v)] if kind == "codes" else str(v)


RUNNERS = {"funnelkit": run_funnelkit, "polars": run_polars, "duckdb": run_duckdb}


def _status_mb(key: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def _reset_peak() -> None:
    """Resets the process's peak resident memory (VmHWM) to its current size (Linux 4.0+:
    writing 5 to /proc/self/clear_refs); where that is refused the peak keeps its history."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def worker(args) -> None:
    os.environ["POLARS_MAX_THREADS"] = "1"
    d = {k: np.load(Path(args.data) / f"{k}.npy") for k in ("entity", "time", "stage", "source")}
    data = load(args.kind, args.worker, d)
    del d
    q = RUNNERS[args.worker](data, args.kind)  # imports the engine
    # The baseline: the input loaded and the engine imported. The peak is taken over the calls
    # alone (the peak mark reset here, read before funnelkit's core-only timing below, which
    # loads the codes a second time).
    loaded = _status_mb("VmRSS")
    _reset_peak()
    times, cpu, table = [], [], None
    for _ in range(args.runs):
        c0, t0 = time.process_time(), time.perf_counter()
        table = q()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    peak = _status_mb("VmHWM")
    extra = {}
    if args.worker == "funnelkit":
        # The core alone, on the codes ingestion produces: what is left is Python ingestion.
        import funnelkit as fk
        from funnelkit import _core

        model = fk.StageModel.b2b()
        ent = np.load(Path(args.data) / "entity.npy")
        tim = np.load(Path(args.data) / "time.npy")
        stg = np.load(Path(args.data) / "stage.npy")
        src = np.load(Path(args.data) / "source.npy")
        core = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            _core.conversion(model._m, ent, tim, stg, src, "implied")
            core.append(time.perf_counter() - t0)
        extra["core_s"] = statistics.median(core)
    print(json.dumps({"median_s": statistics.median(times), "median_cpu_s": statistics.median(cpu),
                      "peak_rss_mb": round(peak, 1), "loaded_rss_mb": round(loaded, 1),
                      "table": table, **extra}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=10_000_000)
    ap.add_argument("--kind", choices=("codes", "categorical", "strings"), default="codes")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--engines", default=",".join(ENGINES))
    ap.add_argument("--quick", action="store_true", help="200k records, every kind")
    ap.add_argument("--json", metavar="PATH")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args)
        return
    kinds = ("codes", "categorical", "strings") if args.quick else (args.kind,)
    if args.quick:
        args.records = 200_000
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    out, ok = {}, True
    with tempfile.TemporaryDirectory(prefix="funnelkit-reach-") as tmp:
        d = generate(args.records)
        want = {SOURCES[s]: row for s, row in enumerate(expected(d)) if row[0]}
        input_mb = sum(a.nbytes for a in d.values()) / 2**20
        for k, a in d.items():
            np.save(Path(tmp) / f"{k}.npy", a)
        del d
        for kind in kinds:
            res = {}
            for e in engines:
                cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", e, "--data", tmp, "--kind", kind,
                       "--runs", str(args.runs)]
                p = subprocess.run(cmd, capture_output=True, text=True)
                if p.returncode != 0:
                    print(f"{e}: failed\n{p.stderr.strip()[-2000:]}", file=sys.stderr)
                    ok = False
                    continue
                res[e] = json.loads(p.stdout.strip().splitlines()[-1])
            agree = all(r["table"] == want for r in res.values())
            ok = ok and agree
            fk = res.get("funnelkit")
            print(f"\n{args.records:,} records, kind {kind}, input {input_mb:.0f} MB (codes), one thread, "
                  f"median of {args.runs} runs")
            print(f"{'engine':<10} {'median s':>9} {'M rec/s':>8} {'peak RSS MB':>12} {'loaded MB':>10} {'vs funnelkit':>13}")
            for e, r in res.items():
                ratio = f"{r['median_s'] / fk['median_s']:.1f}x" if fk else "-"
                print(f"{e:<10} {r['median_s']:>9.3f} {args.records / r['median_s'] / 1e6:>8.1f} "
                      f"{r['peak_rss_mb']:>12.0f} {r['loaded_rss_mb']:>10.0f} {ratio:>13}")
            if fk:
                ing = max(0.0, fk["median_s"] - fk["core_s"]) / fk["median_s"]
                print(f"funnelkit core alone {fk['core_s']:.3f} s: Python ingestion {100 * ing:.0f}% of the call")
            print("all engines agree with the numpy reference" if agree else "ENGINES DISAGREE")
            out[kind] = {"agree": agree, "engines": res}
    if args.json:
        Path(args.json).write_text(json.dumps({"records": args.records, "input_mb": round(input_mb, 1),
                                               "kinds": out}, indent=2))
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
