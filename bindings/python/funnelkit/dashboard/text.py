"""The report document for a terminal (plain text) and as CSV files (one per table)."""

from __future__ import annotations

import csv
import os
from typing import Any

__all__ = ["render_text", "write_csv", "rows", "fmt"]


def rows(table: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows of a table document."""
    return list(table["data"])


def fmt(value: Any, kind: str = "num") -> str:
    """A value for display: percentages for ``kind="pct"``, thousands separators for counts,
    "-" for null."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        return value[:10] if kind == "date" else value
    if kind == "pct":
        return f"{100 * value:.1f}%"
    if kind == "days":
        return f"{value:,.1f}"
    if isinstance(value, int) or (kind == "num" and float(value).is_integer() and abs(value) < 1e15):
        return f"{int(value):,}"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:,.2f}" if abs(value) >= 1 else f"{value:.3g}"


def _grid(header: list[str], body: list[list[str]], indent: str = "  ") -> list[str]:
    widths = [max(len(h), *(len(r[j]) for r in body)) if body else len(h) for j, h in enumerate(header)]
    out = [indent + "  ".join(h.ljust(w) if j == 0 else h.rjust(w) for j, (h, w) in enumerate(zip(header, widths)))]
    for r in body:
        out.append(indent + "  ".join(v.ljust(w) if j == 0 else v.rjust(w) for j, (v, w) in enumerate(zip(r, widths))))
    return out


def _section_lines(s: dict[str, Any]) -> list[str]:
    t = s["tables"]
    sid = s["id"]
    out: list[str] = []
    if sid == "funnel":
        body = [[r["stage"], r["owner"], fmt(r["reached"]), fmt(r["step_rate"], "pct"),
                 f"[{fmt(r['step_lower'], 'pct')}, {fmt(r['step_upper'], 'pct')}]", fmt(r["cumulative_rate"], "pct")]
                for r in rows(t["funnel"])]
        out += _grid(["stage", "owner", "reached", "step", "interval", "cumulative"], body)
        for h in s["summary"].get("handoffs", []):
            out.append(f"  handoff: {h['from']} -> {h['to']}")
    elif sid == "segments":
        seg = t["tests"]["columns"][0]["name"]
        body = [[str(r[seg]), fmt(r["entered"]), fmt(r["reached"]), fmt(r["rate"], "pct"),
                 f"[{fmt(r['lower'], 'pct')}, {fmt(r['upper'], 'pct')}]", fmt(r["p_holm"]),
                 ("*" if r["significant"] else "")] for r in sorted(rows(t["tests"]), key=lambda r: -(r["rate"] or 0))]
        out += _grid([seg, "entered", "reached", "rate", "interval", "p (Holm)", ""], body)
    elif sid == "drivers":
        sm = s["summary"]
        body = [[f"{r['segment']} = {r['value']}", fmt(r["entities"]), fmt(r["rate"], "pct"),
                 fmt(r["rate_without"], "pct"), f"{r['odds_ratio']:.2f}" if r["odds_ratio"] is not None else "-",
                 f"[{r['lower']:.2f}, {r['upper']:.2f}]" if r["lower"] is not None else "-",
                 "-" if r["q_value"] is None else f"{r['q_value']:.3g}",
                 "*" if r["q_value"] is not None and r["q_value"] <= sm["level"] else ""]
                for r in rows(t["drivers"])[:10]]
        out += _grid(["value", "entities", "rate", "rest", "odds ratio", "interval", "q (BH)", ""], body)
        if len(t["drivers"]["data"]) > 10:
            out.append(f"  ... {len(t['drivers']['data']) - 10} more values in the JSON and CSV output")
    elif sid == "cohorts":
        data = rows(t["cohorts"])
        stages = list(dict.fromkeys(r["stage"] for r in data))
        last = stages[-1]
        body = [[fmt(r["cohort"], "date"), fmt(r["entities"]), fmt(r["cumulative_rate"], "pct"),
                 "" if r.get("mature", True) else "immature"] for r in data if r["stage"] == last]
        out += _grid(["cohort", "entities", f"-> {last}", ""], body)
    elif sid == "time_in_stage":
        body = [[r["stage"], fmt(r["visits"]), fmt(r["open"]), fmt(r["median"], "days"), fmt(r["p90"], "days"),
                 fmt(r["km_median"], "days")] for r in rows(t["time_in_stage"])]
        out += _grid(["stage", "visits", "open", "median d", "p90 d", "KM median d"], body)
    elif sid == "time_to_convert":
        r = rows(t["time_to_convert"])[0]
        out.append(f"  {r['from_stage']} -> {r['to_stage']}: {fmt(r['converted'])} of {fmt(r['entered'])} converted, "
                   f"median {fmt(r['median'], 'days')} days, p90 {fmt(r['p90'], 'days')} days; KM median "
                   f"{fmt(r['km_median'], 'days')} days")
    elif sid == "won_lost":
        sm = s["summary"]
        out.append(f"  P(won) {fmt(sm['p_won'], 'pct')} [{fmt(sm['p_won_lower'], 'pct')}, {fmt(sm['p_won_upper'], 'pct')}], "
                   f"P(lost) {fmt(sm['p_lost'], 'pct')} [{fmt(sm['p_lost_lower'], 'pct')}, "
                   f"{fmt(sm['p_lost_upper'], 'pct')}] (Aalen-Johansen at the last observed time, "
                   f"{fmt(100 * sm['confidence'])}% intervals)")
    elif sid == "flow":
        if "reasons" in t:
            top = sorted(rows(t["reasons"]), key=lambda r: -r["count"])[:5]
            out += _grid(["stage", "reason", "count"], [[r["stage"], str(r["reason"]), fmt(r["count"])] for r in top])
    elif sid == "stuck":
        body = [[str(r["entity"]), r["stage"], fmt(r["age_days"], "days"), fmt(r["limit_days"], "days")]
                for r in rows(t["stuck"])[:5]]
        out += _grid(["entity", "stage", "days in stage", "limit"], body)
    elif sid == "velocity":
        v = t["velocity"]
        seg = v["columns"][2]["name"] if v["columns"][2]["name"] != "n" else None
        body = [[str(r[seg]) if seg else "(all)", fmt(r["n"]), fmt(r["deal_value"]), fmt(r["win_rate"], "pct"),
                 fmt(r["cycle_length"], "days"), fmt(r["velocity"]), fmt(r.get("realised"))] for r in rows(v)]
        out += _grid(["segment", "N open", "D", "W", "L days", "V / day", "realised / day"], body)
        if "drivers" in t:
            d = rows(t["drivers"])
            out.append(f"  change of V between the two halves: {fmt(s['summary']['v0'])} -> {fmt(s['summary']['v1'])} = "
                       + ", ".join(f"{r['driver']} {r['additive_contribution']:+,.0f}" for r in d))
    elif sid == "forecast":
        body = [["whole horizon" if r["period"] < 0 else f"period {r['period'] + 1}", fmt(r["expected_wins"]),
                 f"{fmt(r['wins_lower'])}-{fmt(r['wins_upper'])}", fmt(r["expected_revenue"])]
                for r in rows(t["forecast"])]
        out += _grid(["period", "wins", "80% interval", "revenue"], body)
        if "backtest" in t:
            out += _grid(["method", "coverage wins", "MAE wins", "bias wins"],
                         [[r["method"], fmt(r["coverage_wins"], "pct"), fmt(r["mae_wins"]), fmt(r["bias_wins"])]
                          for r in rows(t["backtest"])])
    elif sid == "plan":
        body = [[r["stage"], fmt(r["volume"]), fmt(r["per_rep_per_period"])] for r in rows(t["plan"])]
        out += _grid(["stage", f"per {s['summary']['period']}", "per rep"], body)
    elif sid == "sla":
        r = rows(t["response"])[0]
        out.append(f"  {s['summary']['response_stage']} follow-up within {s['summary']['limit']}: compliance "
                   f"{fmt(r['compliance'], 'pct')} (met {fmt(r['met'])}, breached {fmt(r['breached'])}, pending "
                   f"{fmt(r['pending'])})")
        if "volume" in t:
            vol = [r for r in rows(t["volume"]) if r[t["volume"]["columns"][2]["name"]] == "(all)"]
            if vol:
                r = vol[-1]
                out.append(f"  volume, period from {fmt(r['period_start'], 'date')}: delivered {fmt(r['delivered'])} "
                           f"of {fmt(r['committed'])} committed, pacing {fmt(r['pacing'], 'pct')} ({r['status']})")
    elif sid == "campaign":
        c = t["campaign"]
        seg = c["columns"][0]["name"]
        body = [[str(r[seg]), fmt(r["leads"]), fmt(r["won"]), fmt(r["revenue"]), fmt(r["cac"]), fmt(r["roi"])]
                for r in rows(c)]
        out += _grid([seg, "leads", "won", "revenue", "CAC", "ROI"], body)
    elif sid == "attribution":
        a = t["attribution"]
        models = [col["name"] for col in a["columns"][1:]]
        total = [sum((r[m] or 0) for r in rows(a)) for m in models]
        body = [[str(r["channel"])] + [fmt((r[m] or 0) / tot if tot else None, "pct") for m, tot in zip(models, total)]
                for r in rows(a)]
        out += _grid(["channel", *models], body)
    elif sid == "events":
        body = [[r["step"], fmt(r["reached"]), fmt(r["step_rate"], "pct"), fmt(r["cumulative_rate"], "pct")]
                for r in rows(t["event_funnel"])]
        out += _grid(["step", "reached", "step", "cumulative"], body)
    for note in s.get("notes", []):
        out.append(f"  note: {note}")
    return out


def render_text(doc: dict[str, Any]) -> str:
    """The terminal report: a block per section with its key numbers and sample size."""
    src = doc["source"]
    what = "the built-in sample" if src.get("kind") == "sample" else ", ".join(src.get("files", [])) or "the input"
    out = [f"funnelkit {doc['funnelkit']} - {doc['title']}",
           f"{src['rows']:,} stage records of {src['entities']:,} entities from {what}, "
           f"{fmt(src['first_time'], 'date')} to {fmt(src['last_time'], 'date')}", ""]
    for s in doc["sections"]:
        out.append(f"{s['title']} ({s['sample_size']})")
        out += _section_lines(s)
        out.append("")
    for s in doc["skipped"]:
        out.append(f"{s['title']}: not computed - {s['reason']}")
    return "\n".join(out).rstrip() + "\n"


def write_csv(doc: dict[str, Any], directory: str) -> list[str]:
    """Writes every table of the document as ``<section>__<table>.csv`` in ``directory`` (created
    if needed); returns the paths. Nulls are empty cells; lists are joined with ``;``."""
    os.makedirs(directory, exist_ok=True)
    paths = []
    for s in doc["sections"]:
        for name, table in s["tables"].items():
            path = os.path.join(directory, f"{s['id']}__{name}.csv")
            cols = [c["name"] for c in table["columns"]]
            with open(path, "w", newline="") as fh:
                w = csv.writer(fh)
                w.writerow(cols)
                for r in table["data"]:
                    w.writerow(["" if r[c] is None else ";".join(map(str, r[c])) if isinstance(r[c], list) else r[c]
                                for c in cols])
            paths.append(path)
    return paths
