"""The HTML dashboard: one self-contained file rendered from the report document.

Charts are SVG written by :mod:`funnelkit.dashboard.svg`; styles are inline; the document
itself is embedded as JSON (``<script type="application/json" id="funnelkit-report">``, data
only, never executed), so the page and the JSON for BI hold the same numbers. There is no
script, font, image or style sheet to fetch: the file opens offline and prints (print styles
put each section on the page whole and open every table).
"""

from __future__ import annotations

import html
import json
from typing import Any

from . import svg
from .svg import num, pct
from .text import rows

__all__ = ["render_html"]

_CSS = """
:root { --ink: #222; --muted: #666; --line: #e2e2e2; --accent: #0072B2; --bg: #f6f7f9; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink);
       background: var(--bg); }
header { background: #fff; border-bottom: 1px solid var(--line); padding: 18px 28px; }
header h1 { margin: 0 0 4px; font-size: 22px; }
header p { margin: 2px 0; color: var(--muted); }
nav { margin-top: 8px; font-size: 12.5px; }
nav a { color: var(--accent); text-decoration: none; margin-right: 12px; white-space: nowrap; }
main { max-width: 1180px; margin: 0 auto; padding: 18px 20px 40px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 16px 20px; margin: 0 0 18px;
          page-break-inside: avoid; break-inside: avoid; }
section h2 { margin: 0 0 2px; font-size: 18px; }
.size { color: var(--muted); margin: 0 0 10px; font-size: 13px; }
.body { display: grid; grid-template-columns: minmax(0, 3fr) minmax(220px, 1.15fr); gap: 18px; align-items: start; }
.chart { width: 100%; height: auto; display: block; }
.charts > * + * { margin-top: 12px; }
.charts h3 { font-size: 13.5px; margin: 10px 0 4px; color: #333; }
aside { font-size: 12.5px; color: #444; border-left: 3px solid var(--line); padding-left: 12px; }
aside p { margin: 0 0 8px; }
aside dl { margin: 0; display: grid; grid-template-columns: auto 1fr; gap: 2px 8px; }
aside dt { color: var(--muted); } aside dd { margin: 0; word-break: break-word; }
.note { color: #8a5a00; font-size: 12.5px; margin: 6px 0 0; }
details { margin-top: 10px; } summary { cursor: pointer; color: var(--accent); font-size: 13px; }
table { border-collapse: collapse; font-size: 12px; margin-top: 6px; width: 100%; }
th, td { border-bottom: 1px solid var(--line); padding: 3px 6px; text-align: right; white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
th { background: #fafafa; font-weight: 600; }
.tablewrap { overflow-x: auto; }
.skipped { color: var(--muted); font-size: 13px; }
footer { color: var(--muted); font-size: 12px; text-align: center; padding: 10px; }
@media (max-width: 900px) { .body { grid-template-columns: 1fr; } aside { border-left: 0; padding-left: 0; } }
@media print {
  body { background: #fff; font-size: 11px; }
  header, section { border: 0; }
  nav, summary { display: none; }
  details > *:not(summary) { display: block !important; }
  main { max-width: none; padding: 0; }
  section { page-break-inside: avoid; break-inside: avoid; padding: 8px 0; border-top: 1px solid #ccc; }
  .body { grid-template-columns: minmax(0, 3fr) minmax(0, 1fr); }
}
"""


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


_PCT = {"rate", "lower", "upper", "share", "compliance", "pacing", "elapsed", "attainment", "p_convert",
        "p_closed_otherwise", "survival", "won_share", "roi_share"}
_PCT_PREFIX = ("step_", "cum_", "lead_to_", "mql_to_", "sql_to_", "opportunity_to_")
_SCI = {"p_value", "p_holm", "p_adjusted", "q_value", "z", "score", "statistic"}


def _is_pct(name: str) -> bool:
    return name in _PCT or name.endswith(("rate", "_share")) or name.startswith(_PCT_PREFIX + ("rate_",))


def _cell(value: Any, unit: str | None, name: str, ratios: frozenset[str] = frozenset()) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return _e(", ".join(map(str, value)))
    if isinstance(value, (int, float)):
        if _is_pct(name) and name not in ratios:
            return pct(value)
        if isinstance(value, float) and name in _SCI:
            return f"{value:.3g}"
        return num(value)
    return _e(value)


def table_html(t: dict[str, Any], *, limit: int = 60, columns: list[str] | None = None,
               ratios: frozenset[str] = frozenset()) -> str:
    """A table document as an HTML table (the first ``limit`` rows), units in the header;
    ``ratios`` names columns shown as numbers although their names suggest percentages."""
    cols = [c for c in t["columns"] if columns is None or c["name"] in columns]
    head = "".join(f"<th>{_e(c['name'])}" + (f" <small>({_e(c['unit'])})</small>" if c.get("unit") else "") + "</th>"
                   for c in cols)
    body = []
    for r in t["data"][:limit]:
        body.append("<tr>" + "".join(f"<td>{_cell(r[c['name']], c.get('unit'), c['name'], ratios)}</td>"
                                     for c in cols) + "</tr>")
    more = f"<p class='size'>{len(t['data']) - limit:,} more rows in the JSON and CSV output.</p>" \
        if len(t["data"]) > limit else ""
    return f"<div class='tablewrap'><table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>{more}"


def _aside(s: dict[str, Any]) -> str:
    ex = s["explain"]
    inputs = ex.get("inputs", {})
    opts = {k: v for k, v in ex.get("options", {}).items() if v not in (None, {}, [])}

    def short(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.6g}" if abs(v) < 1e6 else f"{v:,.0f}"
        text = v if isinstance(v, str) else json.dumps(v)
        return text if len(text) <= 90 else text[:87] + "..."

    items = "".join(f"<dt>{_e(k)}</dt><dd>{_e(short(v))}</dd>" for k, v in {**inputs, **opts}.items()
                    if k not in ("columns",))
    return (f"<aside><p><b>{_e(ex.get('result', ''))}</b>: {_e(s['definition'])}</p>"
            f"<p>Sample size: <b>{_e(s['sample_size'])}</b></p><dl>{items}</dl></aside>")


# -- one renderer per section --------------------------------------------------------------------
def _funnel(s: dict[str, Any]) -> str:
    d = rows(s["tables"]["funnel"])
    return svg.funnel([r["stage"] for r in d], [r["reached"] for r in d], [r["step_rate"] for r in d],
                      [r["step_lower"] for r in d], [r["step_upper"] for r in d], [r["cumulative_rate"] for r in d],
                      label="funnel: entities reaching each stage")


def _segments(s: dict[str, Any]) -> str:
    t = s["tables"]["tests"]
    seg = t["columns"][0]["name"]
    d = sorted(rows(t), key=lambda r: -(r["rate"] or 0))
    sm = s["summary"]
    chart = svg.forest([str(r[seg]) for r in d], [r["rate"] for r in d], [r["lower"] for r in d],
                       [r["upper"] for r in d], [bool(r["significant"]) for r in d], [r["z"] for r in d],
                       [r["p_holm"] for r in d], overall=sm["overall_rate"], overall_lo=sm["overall_lower"],
                       overall_hi=sm["overall_upper"], counts=[f"{r['reached']:,} of {r['entered']:,}" for r in d],
                       label=f"conversion to {sm['stage']} by {seg}")
    return (f"<h3>Conversion to {_e(sm['stage'])} by {_e(seg)}: dot = rate, line = interval, dashed = all "
            f"entities; ▲/▼ = significantly higher/lower than the rest (Holm)</h3>{chart}")


def _drivers(s: dict[str, Any]) -> str:
    sm = s["summary"]
    d = rows(s["tables"]["drivers"])[: sm["shown"]]
    significant = [r["q_value"] is not None and r["q_value"] <= sm["level"] for r in d]
    chart = svg.odds_forest([f"{r['segment']} = {r['value']}" for r in d], [r["odds_ratio"] for r in d],
                            [r["lower"] for r in d], [r["upper"] for r in d], [r["q_value"] for r in d], significant,
                            counts=[f"{r['converted']:,} of {r['entities']:,} reached {sm['target']} "
                                    f"({pct(r['rate'])}) against {pct(r['rate_without'])} of the rest" for r in d],
                            label=f"drivers of conversion to {sm['target']}")
    more = len(s["tables"]["drivers"]["data"]) - len(d)
    return (f"<h3>Odds of reaching {_e(sm['target'])} with each value against everyone else ({pct(sm['confidence'], 0)} "
            f"interval, log scale); green/red: q-value (Benjamini-Hochberg) at or below {sm['level']:g}"
            + (f"; the {len(d)} strongest of {len(d) + more} shown" if more > 0 else "") + "</h3>" + chart)


def _cohorts(s: dict[str, Any]) -> str:
    d = rows(s["tables"]["cohorts"])
    stages = list(dict.fromkeys(r["stage"] for r in d))
    cohorts = list(dict.fromkeys(r["cohort"] for r in d))
    val = {(r["cohort"], r["stage"]): r["cumulative_rate"] for r in d}
    mature = {r["cohort"]: r.get("mature", True) for r in d}
    size = {r["cohort"]: r["entities"] for r in d if r["stage"] == stages[0]}
    labels = [str(c)[:10] for c in cohorts]
    return ("<h3>Share of each cohort that reached each stage (cumulative rate); hatched: immature cohorts</h3>"
            + svg.heatmap(labels, stages, [[val.get((c, st)) for st in stages] for c in cohorts],
                          flagged=[not mature[c] for c in cohorts], row_note=[f"n = {size.get(c, 0):,}" for c in cohorts],
                          label="cohort heatmap"))


def _time_in_stage(s: dict[str, Any]) -> str:
    d = rows(s["tables"]["curves"])
    series = []
    for st in dict.fromkeys(r["stage"] for r in d):
        rr = [r for r in d if r["stage"] == st]
        series.append({"name": st, "x": [r["days"] for r in rr], "y": [r["survival"] for r in rr],
                       "lo": [r["lower"] for r in rr], "hi": [r["upper"] for r in rr]})
    return ("<h3>Share of visits still in the stage after t days (Kaplan-Meier, band = confidence interval)</h3>"
            + svg.curves(series, xlabel="days in stage", ylabel="still in stage", label="time in stage"))


def _time_to_convert(s: dict[str, Any]) -> str:
    h = rows(s["tables"]["histogram"])
    r0 = rows(s["tables"]["time_to_convert"])[0]
    return (f"<h3>Days from {_e(r0['from_stage'])} to {_e(r0['to_stage'])} of the converted entities</h3>"
            + svg.histogram([r["bin_start"] for r in h], [r["bin_end"] for r in h], [r["converted"] for r in h],
                            xlabel="days", marks=[("median", r0["median"]), ("p90", r0["p90"])],
                            label="time to convert"))


def _won_lost(s: dict[str, Any]) -> str:
    d = rows(s["tables"]["incidence"])
    x = [r["days"] for r in d]
    series = [{"name": "won", "x": x, "y": [r["won"] for r in d], "colour": svg.PALETTE[2],
               "lo": [r["lower_won"] for r in d], "hi": [r["upper_won"] for r in d]},
              {"name": "lost or disqualified", "x": x, "y": [r["lost"] for r in d], "colour": svg.PALETTE[5],
               "lo": [r["lower_lost"] for r in d], "hi": [r["upper_lost"] for r in d]},
              {"name": "still open", "x": x, "y": [r["open"] for r in d], "colour": svg.PALETTE[8]}]
    sm = s["summary"]
    return (f"<h3>Probability of being won, lost or still open t days after entering (Aalen-Johansen; band = "
            f"{pct(sm['confidence'], 0)} confidence interval): won {pct(sm['p_won'])} [{pct(sm['p_won_lower'])}, "
            f"{pct(sm['p_won_upper'])}], lost {pct(sm['p_lost'])} [{pct(sm['p_lost_lower'])}, "
            f"{pct(sm['p_lost_upper'])}] at the last time</h3>"
            + svg.curves(series, xlabel="days since entering", ylabel="probability", label="won and lost over time"))


def _flow(s: dict[str, Any]) -> str:
    t = s["tables"]["transitions"]
    names = [c["name"] for c in t["columns"][1:]]
    flows = {}
    for r in rows(t):
        for b in names:
            if r[b]:
                flows[(r["from"], b)] = r[b]
    sm = s["summary"]
    exits = rows(s["tables"]["exits"])
    sizes: dict[str, int] = {}
    for o in sm["outcomes"]:
        kind = "lost" if "lost" in o.lower() else "disqualified"
        sizes[o] = sum(r.get(kind, 0) for r in exits)
    out = ("<h3>Moves between stages: bands forward, arcs above = recycling back</h3>"
           + svg.sankey(sm["ladder"], sm["outcomes"], flows, sizes=sizes, label="stage flow"))
    if "reasons" in s["tables"]:
        top = sorted(rows(s["tables"]["reasons"]), key=lambda r: -r["count"])[:8]
        out += "<h3>Why entities leave (top reasons)</h3>" + svg.hbars(
            [f"{r['stage']}: {r['reason']}" for r in top], [r["count"] for r in top], label="reasons")
    return out


def _stuck(s: dict[str, Any]) -> str:
    t = s["tables"]["stuck"]
    return ("<h3>Open entities longest over their stage's limit</h3>"
            + table_html(t, limit=20))


def _velocity(s: dict[str, Any]) -> str:
    v = s["tables"]["velocity"]
    seg = v["columns"][2]["name"] if v["columns"][2]["name"] != "n" else None
    d = rows(v)
    labels = [str(r[seg]) if seg else "(all)" for r in d]
    unit = next((c.get("unit") for c in v["columns"] if c["name"] == "velocity"), "")
    out = (f"<h3>Sales velocity V = N × D × W / L by {_e(seg or 'segment')} ({_e(unit)}; N = open pipeline, "
           "time-averaged)</h3>"
           + svg.hbars(labels, [r["velocity"] for r in d],
                       texts=[f"{num(r['velocity'])} vs realised {num(r.get('realised'))}  (N {num(r['n'])} open, "
                              f"W {pct(r['win_rate'])}, L {num(r['cycle_length'])} d)"
                              if r["velocity"] is not None else f"undefined: {r['status']}" for r in d],
                       colours=[svg.PALETTE[1] if lab == "(all)" else svg.PALETTE[0] for lab in labels],
                       label="velocity by segment"))
    if "drivers" in s["tables"]:
        dr = rows(s["tables"]["drivers"])
        sm = s["summary"]
        p0 = " to ".join(str(x)[:10] for x in sm["period_0"])
        p1 = " to ".join(str(x)[:10] for x in sm["period_1"])
        out += (f"<h3>What changed velocity from {_e(p0)} to {_e(p1)} (LMDI drivers)</h3>"
                + svg.waterfall(("V before", sm["v0"]), [(r["driver"], r["additive_contribution"]) for r in dr],
                                ("V after", sm["v1"]), unit=unit or "", label="velocity drivers"))
    return out


def _forecast(s: dict[str, Any]) -> str:
    d = rows(s["tables"]["forecast"])
    labels = [("whole horizon" if r["period"] < 0 else f"days {30 * r['period'] + 1}-{30 * (r['period'] + 1)}")
              for r in d]
    out = ("<h3>Expected revenue of the open pipeline by period (80% interval)</h3>"
           + svg.hbars(labels + ["weighted pipeline"],
                       [r["expected_revenue"] for r in d] + [s["summary"]["weighted_revenue"]],
                       texts=[f"{num(r['expected_revenue'])} [{num(r['revenue_lower'])}, {num(r['revenue_upper'])}], "
                              f"{num(r['expected_wins'])} wins" for r in d]
                       + [f"{num(s['summary']['weighted_revenue'])} (no timing)"],
                       colours=[svg.PALETTE[1] if r["period"] < 0 else svg.PALETTE[0] for r in d] + [svg.PALETTE[2]],
                       label="forecast by period"))
    if "backtest" in s["tables"]:
        out += "<h3>Backtest: coverage of the 80% intervals and errors</h3>" + table_html(s["tables"]["backtest"])
    return out


def _plan(s: dict[str, Any]) -> str:
    d = rows(s["tables"]["plan"])
    sm = s["summary"]
    out = (f"<h3>Needed per {_e(sm['period'])} for a goal of {num(sm['goal'])} ({sm['reps']} reps)</h3>"
           + svg.hbars([r["stage"] for r in d], [r["per_period"] for r in d],
                       texts=[f"{num(r['per_period'])} per {sm['period']}, {num(r['per_rep_per_period'])} per rep"
                              for r in d], label="plan per stage"))
    if "per_rep" in s["tables"]:
        pr = s["tables"]["per_rep"]
        owner = pr["columns"][0]["name"]
        data = rows(pr)
        reps = list(dict.fromkeys(r[owner] for r in data))
        stages = list(dict.fromkeys(r["stage"] for r in data))
        val = {(r[owner], r["stage"]): r["attainment"] for r in data}
        out += ("<h3>Per rep: actual per period / needed per rep (green at or above plan)</h3>"
                + svg.heatmap([str(x) for x in reps], stages, [[val.get((rp, st)) for st in stages] for rp in reps],
                              percent=False, diverging=True, label="plan attainment per rep"))
    return out


def _sla(s: dict[str, Any]) -> str:
    t = s["tables"]["response"]
    d = rows(t)
    reps = [r for r in d if r["by"] in ("all", "rep")]
    sm = s["summary"]
    out = (f"<h3>{_e(sm['response_stage'])} follow-up within {_e(sm['limit'])}: compliance = met / (met + breached)</h3>"
           + svg.hbars([str(r["group"]) for r in reps], [r["compliance"] for r in reps], percent=True,
                       texts=[f"{pct(r['compliance'])} ({r['met']:,} met, {r['breached']:,} breached)" for r in reps],
                       colours=[svg.PALETTE[1] if r["by"] == "all" else svg.PALETTE[0] for r in reps],
                       label="response SLA compliance"))
    if "volume" in s["tables"]:
        v = s["tables"]["volume"]
        rep_col = v["columns"][2]["name"]
        team = [r for r in rows(v) if r[rep_col] == "(all)"]
        out += (f"<h3>Volume: {_e(sm['volume_stage'])} delivered per period against the commitment "
                f"({num(sm['volume_target'])} per rep)</h3>"
                + svg.columns([str(r["period_start"])[:7] for r in team],
                              [{"name": "delivered", "values": [r["delivered"] for r in team]},
                               {"name": "expected to date", "values": [r["expected_to_date"] for r in team],
                                "colour": "#bbbbbb"}],
                              target=[r["committed"] for r in team],
                              notes=[("pacing " + pct(r["pacing"], 0)) if r["status"] == "pending" else
                                     ("short" if r["status"] == "breached" else "") for r in team],
                              label="volume pacing"))
    return out


def _campaign(s: dict[str, Any]) -> str:
    t = s["tables"]["campaign"]
    seg = t["columns"][0]["name"]
    d = rows(t)
    has_cost = any(r["roi"] is not None for r in d)
    key = "roi" if has_cost else "revenue"
    title = "Return on investment, (revenue - cost) / cost" if has_cost else "Revenue (no costs given)"
    out = f"<h3>{title} by {_e(seg)}</h3>" + svg.hbars(
        [str(r[seg]) for r in d], [r[key] for r in d],
        texts=[(f"{r['roi']:.2f}× (CAC {num(r['cac'])})" if has_cost and r["roi"] is not None else num(r[key]))
               for r in d],
        colours=[svg.PALETTE[1] if r[seg] == "(all)" else (svg.PALETTE[0] if (r[key] or 0) >= 0 else "#c62828")
                 for r in d], label="campaign ROI")
    cols = [seg, "leads", "mqls", "won", "revenue", "cost", "cost_per_lead", "cac", "roi", "lead_to_won", "p_holm"]
    return out + table_html(t, columns=cols)


def _attribution(s: dict[str, Any]) -> str:
    t = s["tables"]["attribution"]
    models = [c["name"] for c in t["columns"][1:]]
    d = rows(t)
    totals = [sum((r[m] or 0) for r in d) for m in models]
    shares = [[(r[m] or 0) / tot if tot else None for m, tot in zip(models, totals)] for r in d]
    return ("<h3>Share of converted value credited to each channel, by model</h3>"
            + svg.grouped_hbars([str(r["channel"]) for r in d], models, shares, label="attribution by model"))


def _events(s: dict[str, Any]) -> str:
    d = rows(s["tables"]["event_funnel"])
    return svg.funnel([r["step"] for r in d], [r["reached"] for r in d], [r["step_rate"] for r in d], None, None,
                      [r["cumulative_rate"] for r in d], label="event funnel")


_RENDER = {"funnel": _funnel, "segments": _segments, "drivers": _drivers, "cohorts": _cohorts, "time_in_stage": _time_in_stage,
           "time_to_convert": _time_to_convert, "won_lost": _won_lost, "flow": _flow, "stuck": _stuck,
           "velocity": _velocity, "plan": _plan, "forecast": _forecast, "sla": _sla, "campaign": _campaign, "attribution": _attribution,
           "events": _events}
# The table shown under each chart (all of a section's tables are in the JSON and CSV output).
_DETAIL = {"funnel": ("funnel", ["stage", "owner", "reached", "step_rate", "step_lower", "step_upper",
                                  "cumulative_rate", "cum_lower", "cum_upper"]),
           "segments": ("tests", None),
           "drivers": ("drivers", ["segment", "value", "entities", "rate", "rate_without", "odds_ratio",
                                   "lower", "upper", "q_value"]),
           "time_in_stage": ("time_in_stage", ["stage", "visits", "open", "median", "p90", "km_median",
                                               "km_median_lower", "km_median_upper"]),
           "time_to_convert": ("time_to_convert", None), "flow": ("exits", None),
           "velocity": ("velocity", None), "plan": ("plan", None), "forecast": ("stages", None),
           "sla": ("response", ["by", "group", "met", "breached", "pending", "breached_untouched", "compliance",
                                "mean_over", "max_over"]),
           "attribution": ("attribution", None), "events": ("event_funnel", None)}
# Columns of a section's table that hold ratios, not proportions (the interval of an odds ratio).
_RATIOS = {"drivers": frozenset({"lower", "upper"})}
# Rows of a section's table shown under the chart when fewer than 60 (the rest are in the JSON and CSV).
_ROWS = {"drivers": 20}
_SKIP_COLUMNS = {"from_stage", "to_stage", "period_start", "period_end", "status", "reason", "cycle_deals",
                 "cycle_missing", "ci_lower", "ci_upper", "won_amount", "lost_amount", "min", "max", "mean"}


def _section(s: dict[str, Any]) -> str:
    chart = _RENDER[s["id"]](s)
    notes = "".join(f"<p class='note'>{_e(n)}</p>" for n in s.get("notes", []))
    detail, columns = _DETAIL.get(s["id"], (None, None))
    table = ""
    if detail and detail in s["tables"]:
        t = s["tables"][detail]
        if columns is None and len(t["columns"]) > 9:
            columns = [c["name"] for c in t["columns"] if c["name"] not in _SKIP_COLUMNS]
        ratios = _RATIOS.get(s["id"], frozenset())
        table = (f"<details open><summary>Table</summary>"
                 f"{table_html(t, columns=columns, ratios=ratios, limit=_ROWS.get(s['id'], 60))}</details>")
    return (f"<section id='sec-{_e(s['id'])}' data-section='{_e(s['id'])}' data-n='{int(s['n'])}'>"
            f"<h2>{_e(s['title'])}</h2><p class='size'>{_e(s['sample_size'])}</p>"
            f"<div class='body'><div class='charts'>{chart}{notes}{table}</div>{_aside(s)}</div></section>")


def render_html(doc: dict[str, Any]) -> str:
    """The dashboard as one self-contained HTML page (no external resource of any kind)."""
    src = doc["source"]
    what = ("the built-in sample" + (f" ({src['leads']:,} leads, seed {src['seed']})" if "leads" in src else "")
            if src.get("kind") == "sample" else ", ".join(src.get("files", [])) or "the input")
    nav = "".join(f"<a href='#sec-{_e(s['id'])}'>{_e(s['title'])}</a>" for s in doc["sections"])
    skipped = "".join(f"<li>{_e(s['title'])}: {_e(s['reason'])}</li>" for s in doc["skipped"])
    data = json.dumps(doc, allow_nan=False, separators=(",", ":")).replace("</", "<\\/")
    body = "".join(_section(s) for s in doc["sections"])
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{_e(doc['title'])}</title><style>{_CSS}</style></head><body>"
        f"<header><h1>{_e(doc['title'])}</h1>"
        f"<p>{src['rows']:,} stage records of {src['entities']:,} entities from {_e(what)}, "
        f"{_e(str(src['first_time'])[:10])} to {_e(str(src['last_time'])[:10])}; as of {_e(str(src['as_of'])[:19])}</p>"
        f"<p>funnelkit {_e(doc['funnelkit'])} · report format {_e(doc['format'])} v{doc['version']} · generated "
        f"{_e(doc['generated_at'])}</p><nav>{nav}</nav></header><main>{body}"
        + (f"<section id='sec-skipped'><h2>Not computed</h2><ul class='skipped'>{skipped}</ul></section>"
           if skipped else "")
        + "</main><footer>Every chart is drawn from the numbers embedded below as JSON (the same document as "
        "<code>--json</code>).</footer>"
        f"<script type='application/json' id='funnelkit-report'>{data}</script></body></html>")
