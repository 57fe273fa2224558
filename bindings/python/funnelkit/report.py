"""The demo report: a plain-text funnel report of the sample data set."""

from __future__ import annotations

from typing import Any

import pandas as pd

from . import __version__
from .conversion import conversion
from .sample import sample_crm, sample_model


def _pct(r: float | None) -> str:
    return "     -" if r is None else f"{100 * r:5.1f}%"


def funnel_report(leads: int = 20_000, *, seed: int = 42) -> str:
    """Builds the demo report for ``leads`` sample leads generated with ``seed``."""
    df = sample_crm(leads, seed=seed)
    model = sample_model()
    out: list[str] = []
    end = pd.Timestamp(df.attrs["end"])
    out.append(f"funnelkit {__version__} - funnel report of the sample CRM data set")
    out.append(
        f"{leads:,} leads, {len(df):,} stage moves, {df['time'].min():%Y-%m-%d} to {end:%Y-%m-%d} (seed {seed})"
    )
    out.append("")
    overall = conversion(df, model=model)
    out.append("Funnel, all sources (reached = entered the stage; step = over the previous stage)")
    out.append(f"  {'stage':<12} {'owner':<10} {'reached':>9} {'step':>7} {'cumulative':>11}")
    for k, s in enumerate(overall.stages):
        out.append(
            f"  {s:<12} {model.owners[k]:<10} {overall.reached(k):>9,} {_pct(overall.step_rate(k)):>7}"
            f" {_pct(overall.cumulative_rate(k)):>11}"
        )
    for a, b in model.handoffs:
        out.append(f"  handoff: {a} -> {b} ({model.owners[model.ladder.index(a)]} to {model.owners[model.ladder.index(b)]})")
    out.append("")
    by_source = conversion(df, model=model, segment="source")
    out.append("Conversion by source (cumulative rate from Lead)")
    header = f"  {'source':<12} {'leads':>7}" + "".join(f" {s:>12}" for s in by_source.stages[1:])
    out.append(header)
    rows: list[tuple[float, str]] = []
    for src in by_source.segments:
        line = f"  {src:<12} {by_source.entities(src):>7,}" + "".join(
            f" {_pct(by_source.cumulative_rate(s, src)):>12}" for s in by_source.stages[1:]
        )
        rows.append((by_source.cumulative_rate(by_source.stages[-1], src) or 0.0, line))
    out.extend(line for _, line in sorted(rows, reverse=True))
    return "\n".join(out)


def main(argv: Any = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="funnelkit", description="funnelkit command-line tool")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="print the funnel report of the built-in sample data set")
    demo.add_argument("--leads", type=int, default=20_000, help="number of sample leads (default 20000)")
    demo.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    sub.add_parser("version", help="print the version")
    args = parser.parse_args(argv)
    if args.command == "version":
        print(__version__)
        return 0
    print(funnel_report(args.leads, seed=args.seed))
    return 0
