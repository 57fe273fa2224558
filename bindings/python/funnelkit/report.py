"""The demo report: a plain-text funnel report of the sample data set."""

from __future__ import annotations

from typing import Any

import pandas as pd

from . import __version__
from .conversion import conversion
from .lifecycle import lifecycle
from .revenue import revenue_report
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
    lc = lifecycle(df, model=model, segment="source", reason="reason", as_of=end)
    by = lc.conversion(by="segment").to_pandas()
    won = by[by["stage"] == model.won].sort_values("cumulative_rate", ascending=False)
    out.append("Lead -> Customer by source (95% Wilson interval; open leads are not counted as lost)")
    out.append(f"  {'source':<12} {'leads':>7} {'customers':>10} {'rate':>7}  {'interval':<17}")
    for _, r in won.iterrows():
        out.append(f"  {r['source']:<12} {r['entities']:>7,} {r['reached']:>10,} {_pct(r['cumulative_rate']):>7}"
                   f"  [{100 * r['cum_lower']:4.1f}%, {100 * r['cum_upper']:4.1f}%]")
    out.append("")
    tis = lc.time_in_stage().to_pandas()
    out.append("Time in stage, days (completed visits; KM median counts open visits as censored)")
    out.append(f"  {'stage':<12} {'visits':>7} {'open':>6} {'median':>7} {'p90':>7} {'KM median':>10}")
    for _, r in tis.iterrows():
        out.append(f"  {r['stage']:<12} {r['visits']:>7,} {r['open']:>6,} {r['median']:>7.1f} {r['p90']:>7.1f}"
                   f" {r['km_median']:>10.1f}")
    ttc = lc.time_to_convert("Opportunity", model.won).to_pandas()
    r = ttc.iloc[0]
    out.append(f"  Opportunity -> {model.won}: median {r['median']:.1f} days for won deals; "
               f"P(won) {100 * r['p_convert']:.1f}%, P(lost) {100 * r['p_closed_otherwise']:.1f}% (Aalen-Johansen)")
    out.append("")
    reasons = lc.reasons().to_pandas()
    top = reasons.sort_values("count", ascending=False).head(4)
    out.append("Why leads leave: top lost and disqualification reasons (stage, reason, count)")
    for _, r in top.iterrows():
        out.append(f"  {r['stage']:<12} {r['reason']:<22} {r['count']:>6,}")
    out.append("")
    stuck = lc.stuck(percentile=90).to_pandas()
    out.append(f"Stuck: {len(stuck):,} open leads have been in their stage longer than the stage's p90; the worst:")
    out.append(f"  {'entity':>8} {'stage':<12} {'days in stage':>14} {'p90 limit':>10}")
    for _, r in stuck.head(5).iterrows():
        out.append(f"  {r['entity']:>8} {r['stage']:<12} {r['age_days']:>14.1f} {r['limit_days']:>10.1f}")
    return "\n".join(out)


# Illustrative yearly spend per source for the demo's cost metrics.
DEMO_COSTS = {"Webinar": 120_000, "Paid Search": 250_000, "Organic": 60_000, "Referral": 30_000,
              "Trade Show": 180_000, "Outbound": 200_000}


def closed_loop_report(leads: int = 20_000, *, seed: int = 42) -> str:
    """Campaign table by source with costs, and revenue attribution of the sample's touches."""
    from .closed_loop import campaign_report, compare_attribution
    from .sample import sample_touches

    df = sample_crm(leads, seed=seed)
    out: list[str] = []
    rep = campaign_report(df, segment="source", cost=DEMO_COSTS).to_pandas()
    out.append("Closed loop by source (illustrative yearly costs; z-test of each source against the rest, Holm)")
    out.append(f"  {'source':<12} {'leads':>7} {'MQLs':>6} {'won':>5} {'revenue':>12} {'cost/lead':>9} {'CAC':>8}"
               f" {'ROI':>7} {'p adj.':>8}")
    for _, r in rep.iterrows():
        out.append(f"  {str(r['source']):<12} {r['leads']:>7,} {r['mqls']:>6,} {r['won']:>5,} {r['revenue']:>12,.0f}"
                   f" {r['cost_per_lead']:>9,.1f} {r['cac']:>8,.0f} {r['roi']:>7.1f} {r['p_holm']:>8.2g}")
    out.append("")
    touches, outcomes = sample_touches(leads, seed=seed)
    attr = compare_attribution(touches, outcomes, milestone="milestone",
                               models=("first_touch", "last_touch", "linear", "w_shaped", "markov", "shapley"))
    table = attr.to_pandas()
    total = float(outcomes["value"].sum())
    out.append(f"Revenue attribution of {len(touches):,} touches to {int(outcomes['converted'].sum()):,} won deals "
               f"(share of {total:,.0f}; Markov: removal effect, Shapley: exact)")
    models = [c for c in table.columns if c != "channel"]
    out.append(f"  {'channel':<12}" + "".join(f" {m:>12}" for m in models))
    for _, r in table.iterrows():
        out.append(f"  {str(r['channel']):<12}" + "".join(f" {100 * r[m] / total:>11.1f}%" for m in models))
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
    print()
    print(revenue_report(args.leads, seed=args.seed))
    print()
    print(closed_loop_report(args.leads, seed=args.seed))
    return 0
