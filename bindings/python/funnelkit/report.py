"""The ``funnelkit`` command: ``report`` (a report of your own stage records, or of the built-in
sample, for the terminal, as an HTML dashboard, JSON for BI and CSV files), ``init`` (a starting
``funnelkit.toml`` from a file's columns and values) and ``demo`` (the text report of the
sample).

Exit codes: 0 done, 2 usage error (a wrong flag), 1 data error (a missing column, a bad value,
an empty file: one line on stderr; ``--debug`` shows the traceback)."""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from collections.abc import Sequence
from typing import Any

from . import __version__
from .conversion import conversion
from .dashboard.config import DataError
from .lifecycle import lifecycle
from .revenue import revenue_report
from .sample import sample_crm, sample_model


def _pct(r: float | None) -> str:
    return "     -" if r is None else f"{100 * r:5.1f}%"


def funnel_report(leads: int = 20_000, *, seed: int = 42) -> str:
    """Builds the demo report for ``leads`` sample leads generated with ``seed``."""
    import pandas as pd

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


_EXAMPLES = """examples:
  funnelkit report --sample                        the built-in sample, in the terminal
  funnelkit report --sample --html report.html     the dashboard of the sample
  funnelkit init crm.csv                           write a starting funnelkit.toml for crm.csv
  funnelkit report crm.csv --html report.html      columns and model from ./funnelkit.toml
  funnelkit report crm.csv --entity lead_id --time changed_at --stage stage --segment source \\
      --amount amount --owner rep --json report.json --csv tables/
  funnelkit report 'exports/*.parquet' --config funnelkit.toml --html report.html
  funnelkit report crm.duckdb --table stage_changes --html report.html
  funnelkit report crm.duckdb --query "select * from changes where region = 'EU'" --json -

exit codes: 0 done, 2 usage error, 1 data error (one line; --debug shows the traceback)
"""


class _Progress:
    """Progress on stderr while reading and computing: rich or tqdm when installed, nothing
    otherwise, and nothing at all when stderr is not a terminal or with --quiet."""

    def __init__(self, enabled: bool, total: int):
        self._bar: Any = None
        self._rich: Any = None
        if not enabled:
            return
        try:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self._rich = Progress(TextColumn("{task.description:<28}"), BarColumn(), TimeElapsedColumn(),
                                  console=Console(stderr=True), transient=True)
            self._rich.start()
            self._task = self._rich.add_task("funnelkit", total=total)
            return
        except ImportError:
            pass
        try:
            from tqdm import tqdm

            self._bar = tqdm(total=total, file=sys.stderr, leave=False, unit="step")
        except ImportError:
            pass

    def __call__(self, name: str) -> None:
        if self._rich is not None:
            self._rich.update(self._task, description=name[:28], advance=1)
        elif self._bar is not None:
            self._bar.set_description(name[:28])
            self._bar.update(1)

    def close(self) -> None:
        if self._rich is not None:
            self._rich.stop()
        elif self._bar is not None:
            self._bar.close()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="funnelkit", description="funnelkit: funnel analytics on stage records",
                                     epilog=_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"funnelkit {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{report,init,demo,version}")
    rep = sub.add_parser("report", help="report on stage records (a file, a glob, a DuckDB database or --sample)",
                         description="Computes every section the data allows and prints it, or writes it as HTML, "
                                     "JSON or CSV.", epilog=_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    rep.add_argument("data", nargs="*", metavar="DATA",
                     help="CSV, Parquet, JSON lines or Arrow IPC files, globs of them, or a DuckDB database")
    src = rep.add_argument_group("input")
    src.add_argument("--sample", action="store_true", help="use the built-in sample data set")
    src.add_argument("--leads", type=int, default=20_000, help="sample size with --sample (default 20000)")
    src.add_argument("--seed", type=int, default=42, help="sample seed with --sample (default 42)")
    src.add_argument("--config", metavar="FILE", help="funnelkit.toml to read (default: ./funnelkit.toml if present)")
    src.add_argument("--table", help="table of a DuckDB database to read")
    src.add_argument("--query", help="SQL query over a DuckDB database")
    src.add_argument("--delimiter", help="CSV delimiter (default: detected)")
    cols = rep.add_argument_group("columns (override funnelkit.toml)")
    for name, text in (("entity", "entity id"), ("time", "time of the stage change"), ("stage", "stage name"),
                       ("segment", "segment: source, campaign, ..."),
                       ("campaign", "campaign (a second segment for the drivers of conversion)"), ("amount", "deal value"),
                       ("owner", "owner (rep) of the record"), ("reason", "lost or disqualification reason")):
        cols.add_argument(f"--{name}", metavar="COLUMN", help=f"column of the {text}")
    cols.add_argument("--time-unit", choices=("s", "ms", "us", "ns"), help="unit of integer times (default s)")
    mod = rep.add_argument_group("model and terms")
    mod.add_argument("--stages", metavar="LIST", help="stage model, e.g. 'Lead,MQL,SQL,Won:won,Lost:lost' "
                                                        "(ladder order; kinds step, won, lost, disqualified)")
    mod.add_argument("--recycle-target", metavar="STAGE", help="stage recycled entities return to")
    mod.add_argument("--goal", type=float, help="revenue goal per month for the plan")
    mod.add_argument("--cost-file", metavar="CSV", help="costs per segment: segment,cost lines")
    mod.add_argument("--as-of", metavar="TIME", help="observation end (default: the last record)")
    mod.add_argument("--period", help="cohort period: day, week, month, quarter, year (default month)")
    mod.add_argument("--maturity", help="cohorts younger than this are immature (default 90d)")
    mod.add_argument("--confidence", type=float, help="confidence level of intervals (default 0.95)")
    mod.add_argument("--title", help="report title")
    more = rep.add_argument_group("touches and events")
    more.add_argument("--touches", nargs="+", metavar="FILE", help="marketing touches (entity, time, channel) for "
                                                                   "attribution")
    more.add_argument("--events", nargs="+", metavar="FILE", help="events (entity, time, step) for an event funnel")
    more.add_argument("--touch-channel", metavar="COLUMN", help="column of the touches' channel (default channel)")
    more.add_argument("--event-step", metavar="COLUMN", help="column of the events' step (default step)")
    more.add_argument("--steps", help="event funnel steps, comma-separated")
    more.add_argument("--window", help="event funnel window (default 30d)")
    out = rep.add_argument_group("output")
    out.add_argument("--html", metavar="FILE", help="write the HTML dashboard")
    out.add_argument("--json", metavar="FILE", help="write the report as JSON ('-': standard output)")
    out.add_argument("--csv", metavar="DIR", help="write every table as a CSV file into DIR")
    out.add_argument("--print", action="store_true", help="print the terminal report even when writing files")
    out.add_argument("--quiet", action="store_true", help="no progress and no messages on stderr")
    out.add_argument("--debug", action="store_true", help="show the traceback of errors")
    ini = sub.add_parser("init", help="write a starting funnelkit.toml by inspecting a file")
    ini.add_argument("data", nargs="+", metavar="DATA")
    ini.add_argument("--table")
    ini.add_argument("--query")
    ini.add_argument("--delimiter")
    ini.add_argument("-o", "--output", default="funnelkit.toml", help="file to write ('-': standard output)")
    ini.add_argument("--force", action="store_true", help="overwrite an existing file")
    ini.add_argument("--debug", action="store_true", help="show the traceback of errors")
    demo = sub.add_parser("demo", help="print the funnel report of the built-in sample data set")
    demo.add_argument("--leads", type=int, default=20_000, help="number of sample leads (default 20000)")
    demo.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    sub.add_parser("version", help="print the version")
    return parser


def _model_flag(text: str, recycle: str | None) -> Any:
    from .model import StageModel

    stages = []
    for part in text.split(","):
        name, _, kind = part.strip().partition(":")
        if not name:
            raise DataError(f"option --stages: empty stage name in {text!r}")
        stages.append((name, "", kind or "step"))
    try:
        return StageModel(stages, recycle_target=recycle)
    except (ValueError, TypeError) as exc:
        raise DataError(f"option --stages: {exc}") from None


def _config(args: argparse.Namespace) -> Any:
    import os

    from .dashboard import ReportConfig, load_toml, read_costs, sample_config

    path = args.config or ("funnelkit.toml" if not args.sample and os.path.exists("funnelkit.toml") else None)
    cfg = sample_config() if args.sample else ReportConfig()
    if path:
        cfg = load_toml(path, cfg)
    for key in ("entity", "time", "stage", "segment", "campaign", "amount", "owner", "reason", "time_unit", "goal", "period",
                "maturity", "confidence", "title", "as_of", "window"):
        value = getattr(args, key)
        if value is not None:
            setattr(cfg, key, value)
    if args.stages:
        cfg.model = _model_flag(args.stages, args.recycle_target)
    if args.cost_file:
        cfg.costs = read_costs(args.cost_file)
    if args.touches:
        cfg.touches = list(args.touches)
    if args.events:
        cfg.events = list(args.events)
    if args.touch_channel:
        cfg.touch_channel = args.touch_channel
    if args.event_step:
        cfg.event_step = args.event_step
    if args.steps:
        cfg.steps = [s.strip() for s in args.steps.split(",") if s.strip()]
    return cfg


def _report(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from . import dashboard

    if args.sample == bool(args.data):
        parser.error("report: give DATA files or --sample (one of the two)")
    cfg = _config(args)
    quiet = args.quiet
    progress = _Progress(not quiet and sys.stderr.isatty(), total=17)
    try:
        if args.sample:
            doc = _sample_with(cfg, args, progress)
        else:
            doc = dashboard.report_from_files(args.data, cfg, table=args.table, query=args.query,
                                              delimiter=args.delimiter, progress=progress)
    finally:
        progress.close()
    written = []
    if args.json:
        text = json.dumps(doc, allow_nan=False, indent=1)
        if args.json == "-":
            sys.stdout.write(text + "\n")
        else:
            with open(args.json, "w", encoding="utf-8") as fh:
                fh.write(text)
            written.append(args.json)
    if args.html:
        with open(args.html, "w", encoding="utf-8") as fh:
            fh.write(dashboard.render_html(doc))
        written.append(args.html)
    if args.csv:
        paths = dashboard.write_csv(doc, args.csv)
        written.append(f"{args.csv} ({len(paths)} CSV files)")
    if args.print or not (args.json or args.html or args.csv):
        sys.stdout.write(dashboard.render_text(doc))
    if written and not quiet:
        print("funnelkit: wrote " + ", ".join(written), file=sys.stderr)
    return 0


def _sample_with(cfg: Any, args: argparse.Namespace, progress: Any) -> dict[str, Any]:
    from .dashboard import build_document, sample_inputs

    inputs = sample_inputs(args.leads, args.seed, cfg)
    return build_document(inputs["frame"], cfg, source=inputs["source"], touches=inputs["touches"],
                          events=inputs["events"], events_note=inputs["events_note"], progress=progress)


def _init(args: argparse.Namespace) -> int:
    import os

    from .dashboard.init import init_text

    text = init_text(args.data, table=args.table, query=args.query, delimiter=args.delimiter)
    if args.output == "-":
        sys.stdout.write(text)
        return 0
    if os.path.exists(args.output) and not args.force:
        raise DataError(f"{args.output} exists; pass --force to overwrite it")
    with open(args.output, "w", encoding="utf-8") as fh:
        fh.write(text)
    print(f"funnelkit: wrote {args.output}; check the stage model and the columns, then run "
          f"funnelkit report {' '.join(args.data)}", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """The ``funnelkit`` command; returns the exit code (0 done, 2 usage error, 1 data error)."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version (0) and usage errors (2)
        return int(exc.code or 0)
    if args.command == "version":
        print(__version__)
        return 0
    if args.command == "demo":
        print(funnel_report(args.leads, seed=args.seed))
        print()
        print(revenue_report(args.leads, seed=args.seed))
        print()
        print(closed_loop_report(args.leads, seed=args.seed))
        return 0
    try:
        return _report(args, parser) if args.command == "report" else _init(args)
    except SystemExit as exc:
        return int(exc.code or 0)
    except (DataError, ValueError, TypeError, OSError, ImportError) as exc:
        if getattr(args, "debug", False):
            traceback.print_exc()
        print(f"funnelkit: error: {_one_line(exc)}", file=sys.stderr)
        return 1


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    if isinstance(exc, OSError) and exc.filename:
        text = f"{exc.filename}: {exc.strerror or text}"
    return text or type(exc).__name__
