"""Revenue math: sales velocity (:mod:`funnelkit.velocity`), the reverse funnel, capacity and
time lags (:mod:`funnelkit.planning`), and SLA compliance (:mod:`funnelkit.sla`), re-exported
here under one name, with :func:`revenue_report`, the text report of the demo."""

from __future__ import annotations

import numpy as np

from . import planning as _planning
from . import sla as _sla
from . import velocity as _velocity
from .planning import *  # noqa: F403 - re-exported under this module's name
from .sla import *  # noqa: F403
from .velocity import *  # noqa: F403

__all__ = [*_velocity.__all__, *_planning.__all__, *_sla.__all__, "revenue_report"]


def revenue_report(leads: int = 20_000, *, seed: int = 42, goal: float = 1_000_000.0) -> str:
    """Text report on the sample CRM data (:func:`funnelkit.sample_crm_arrays`; no pandas
    needed): sales velocity by source over the sample's year (revenue per day, N = the
    time-averaged open pipeline, with the realised won revenue per day beside it), the reverse funnel for a monthly revenue ``goal``
    (currency) with the sample's measured stage rates, and the status of two SLAs (MQL
    follow-up within 24 hours; 100 leads per rep per month)."""
    from .conversion import conversion
    from .sample import sample_crm_arrays, sample_labels, sample_model

    crm = sample_crm_arrays(leads, seed=seed)
    model = sample_model()
    sources = np.array(sample_labels()["source"], dtype=object)
    n_reps = int(crm["rep"].max()) + 1 if len(crm["rep"]) else 1
    reps = np.array([f"Rep {i + 1:02d}" for i in range(n_reps)], dtype=object)
    data = {"entity": crm["entity"], "time": crm["time"].astype("datetime64[s]"),
            "stage": np.array(model.names, dtype=object)[crm["stage"]], "source": sources[crm["source"]],
            "rep": reps[crm["rep"]], "amount": crm["amount"]}
    start = data["time"].min().astype("datetime64[D]")
    end = np.datetime64(int(crm["end"]), "s")
    opps = opportunities_from_stages(data)
    vel = velocity(opps, edges=[start, end], segment="source")
    cols = {c: vel[c] for c in vel.columns}
    lines = [f"Sales velocity by source, {str(start)[:10]} .. {str(end)[:10]} (revenue per day; N = open pipeline, "
             "time-averaged; realised = won revenue per day)"]
    for i in range(len(vel)):
        v = cols["velocity"][i]
        vtxt = f"{v:>12,.0f}" if np.isfinite(v) else f"{'undefined':>12} ({cols['reason'][i]})"
        lines.append(f"  {cols['source'][i]:<12} N {cols['n'][i]:>7,.1f}  D {cols['deal_value'][i]:>9,.0f}  "
                     f"W {cols['win_rate'][i]:>6.1%}  L {cols['cycle_length'][i]:>6.1f} d  V {vtxt}  "
                     f"realised {cols['realised'][i]:>10,.0f}")
    steps = steps_from_conversion(conversion(data))
    deal = float(cols["deal_value"][0])
    plan = plan_reverse_funnel(goal=goal, deal_value=deal, steps=steps, reps=n_reps, goal_per_period=True,
                               won_name="Customer")
    lines.append("")
    lines.append(f"Plan for {goal:,.0f} a month at {deal:,.0f} per deal with the measured stage rates, {n_reps} reps")
    for stage, volume, per_rep in zip(plan["stage"], plan["volume"], plan["per_rep_per_period"]):
        lines.append(f"  {stage:<12} {volume:>10,.0f} a month  {per_rep:>8,.0f} per rep")
    # MQL follow-up: the clock starts at an entity's MQL record and stops at its next record.
    ent, stage = crm["entity"], crm["stage"]
    is_mql = stage == model.names.index("MQL")
    same_next = np.append(ent[1:] == ent[:-1], False)
    nxt = np.append(data["time"][1:], np.datetime64("NaT", "s"))
    items = {"created": data["time"][is_mql], "first_touch": np.where(same_next, nxt, np.datetime64("NaT", "s"))[is_mql],
             "rep": data["rep"][is_mql]}
    sla = sla_response(items, created="created", first_touch="first_touch", limit="24h", as_of=end, rep="rep",
                       name="MQL follow-up within 24 hours")
    lines.append("")
    lines.append(f"SLA {sla!r}")
    # Leads delivered: each entity's first Lead record (rows are ordered by entity, then time).
    lead_rows = np.flatnonzero(stage == model.names.index("Lead"))
    first_lead = lead_rows[np.append(True, ent[lead_rows][1:] != ent[lead_rows][:-1])]
    vol = sla_volume({"time": data["time"][first_lead], "rep": data["rep"][first_lead]}, time="time", rep="rep",
                     target=100, period="month", as_of=end, name="100 leads per rep per month")
    lines.append(f"SLA 100 leads per rep per month: {vol!r}")
    return "\n".join(lines)
