"""Reports on stage records: ``funnelkit report`` computes one document (every section the
library can give from the data) and renders it for a terminal, as a self-contained HTML
dashboard with SVG charts, as JSON for BI tools (``docs/report.schema.json``) and as CSV files.

>>> from funnelkit import dashboard
>>> doc = dashboard.sample_document(2000)
>>> html = dashboard.render_html(doc)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .compute import FORMAT, SECTIONS, VERSION, build_document, outcomes_from_stages, table_doc
from .config import DataError, ReportConfig, config_to_toml, load_toml, read_costs
from .html import render_html
from .text import render_text, write_csv

__all__ = ["FORMAT", "VERSION", "SECTIONS", "DataError", "ReportConfig", "build_document", "config_to_toml",
           "load_toml", "read_costs", "render_html", "render_text", "write_csv", "sample_config",
           "sample_document", "table_doc", "report_from_files"]

#: Illustrative yearly spend per source of the sample (for cost per lead, CAC and ROI).
SAMPLE_COSTS = {"Webinar": 120_000.0, "Paid Search": 250_000.0, "Organic": 60_000.0, "Referral": 30_000.0,
                "Trade Show": 180_000.0, "Outbound": 200_000.0}


def sample_config() -> ReportConfig:
    """The configuration of the built-in sample: its columns, the B2B model, a goal of 1,000,000
    a month, MQL follow-up within 24 hours, 100 leads per rep per month and illustrative costs."""
    cfg = ReportConfig(segment="source", campaign="campaign", amount="amount", owner="rep", reason="reason", goal=1_000_000.0,
                       response_stage="MQL", response_limit="24h", volume_target=100.0, volume_stage="Lead",
                       costs=dict(SAMPLE_COSTS), title="Funnel report of the sample CRM data set")
    ladder = cfg.model.ladder
    cfg.steps = ladder[: ladder.index("Opportunity") + 1]
    cfg.event_step = "stage"
    cfg.touch_milestone = "milestone"
    return cfg


def sample_inputs(leads: int, seed: int, cfg: ReportConfig) -> dict[str, Any]:
    """Stage records, touches and outcomes of the built-in sample, as :func:`build_document`
    takes them."""
    from ..sample import sample_crm, sample_touches

    frame = sample_crm(leads, seed=seed)
    cfg.as_of = cfg.as_of or frame.attrs["end"]
    touches, outcomes = sample_touches(leads, seed=seed)
    touches = touches.rename(columns={"path": "entity"})
    outcomes = outcomes.rename(columns={"path": "entity"})
    source = {"kind": "sample", "files": [], "reader": "sample", "leads": int(leads), "seed": int(seed)}
    note = (f"the sample's stage records read as events: steps {', '.join(cfg.steps or [])}, each within "
            f"{cfg.window} of the entity's {cfg.steps[0] if cfg.steps else 'first'} record")
    return {"frame": frame, "source": source, "touches": (touches, outcomes), "events": frame, "events_note": note}


def sample_document(leads: int = 20_000, *, seed: int = 42,
                    progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """The report document of ``leads`` sample leads generated with ``seed``."""
    cfg = sample_config()
    inputs = sample_inputs(leads, seed, cfg)
    return build_document(inputs["frame"], cfg, source=inputs["source"], touches=inputs["touches"],
                          events=inputs["events"], events_note=inputs["events_note"], progress=progress)


def report_from_files(paths: Sequence[str], cfg: ReportConfig, *, table: str | None = None, query: str | None = None,
                      delimiter: str | None = None,
                      progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Reads stage records (and the touches and events the configuration names) and computes
    the report document."""
    from .reader import Columns, read_frame

    cols = Columns(ids=[cfg.entity], times=[cfg.time], labels=[cfg.stage], time_unit=cfg.time_unit,
                   options={cfg.entity: "--entity", cfg.time: "--time", cfg.stage: "--stage"})
    for key, flag in (("segment", "--segment"), ("campaign", "--campaign"), ("owner", "--owner"),
                      ("reason", "--reason")):
        name = getattr(cfg, key)
        if name:
            cols.labels.append(name)
            cols.options[name] = flag
    if cfg.amount:
        cols.numbers.append(cfg.amount)
        cols.options[cfg.amount] = "--amount"
    if progress:
        progress("reading " + ", ".join(paths))
    loaded = read_frame(paths, cols, table=table, query=query, delimiter=delimiter)
    _check_stages(loaded.frame, cfg, loaded.source)
    touches = events = None
    if cfg.touches:
        tcols = Columns(ids=[cfg.touch_entity], times=[cfg.touch_time],
                        labels=[cfg.touch_channel] + ([cfg.touch_milestone] if cfg.touch_milestone else []),
                        options={cfg.touch_entity: "[touches] entity", cfg.touch_time: "[touches] time",
                                 cfg.touch_channel: "[touches] channel"})
        if progress:
            progress("reading touches")
        t = read_frame(cfg.touches, tcols, delimiter=delimiter, what="touches")
        frame = t.frame
        if t.entity_labels is not None:
            frame[cfg.touch_entity] = t.entity_labels[np.asarray(frame[cfg.touch_entity])]
        if cfg.touch_milestone:
            frame[cfg.touch_milestone] = frame[cfg.touch_milestone].astype(object)
        touches = (frame, outcomes_from_stages(loaded.frame, cfg, loaded.entity_labels))
    if cfg.events:
        if not cfg.steps:
            raise DataError("events need the funnel steps: --steps a,b,c (or [events] steps)")
        ecols = Columns(ids=[cfg.event_entity], times=[cfg.event_time], labels=[cfg.event_step],
                        options={cfg.event_entity: "[events] entity", cfg.event_time: "[events] time",
                                 cfg.event_step: "[events] step"})
        if progress:
            progress("reading events")
        e = read_frame(cfg.events, ecols, delimiter=delimiter, what="events")
        events = e.frame
        events[cfg.event_step] = events[cfg.event_step].astype(object)
    return build_document(loaded.frame, cfg, source=loaded.source, entity_labels=loaded.entity_labels,
                          touches=touches, events=events, progress=progress)


def _check_stages(frame: Any, cfg: ReportConfig, source: dict[str, Any]) -> None:
    """Every stage value of the data must be a stage of the model: the first unknown one is an
    error naming its row and the closest stage names."""
    from .._names import closest

    col = frame[cfg.stage]
    names = cfg.model.names
    cats = [str(c) for c in col.cat.categories]
    codes = np.asarray(col.cat.codes)
    unknown = [j for j, c in enumerate(cats) if c not in names]
    hits = np.flatnonzero(np.isin(codes, unknown)) if unknown else []
    if len(hits):
        row = int(hits[0])  # the first row in file order with a stage the model does not have
        c = cats[int(codes[row])]
        near = closest(c, names)
        files = source.get("files", [])
        where = f"row {row} (line {row + 2} of the file)" if source.get("kind") == "csv" and len(files) == 1 \
            else f"row {row}"
        raise DataError(f"{files[0] + ': ' if files else ''}column {cfg.stage!r}, {where}: value {c!r} is not a "
                        "stage of the model"
                        + (f"; did you mean {' or '.join(repr(n) for n in near)}?" if near else "")
                        + f" (stages: {', '.join(names)}); add it to [model] stages in funnelkit.toml")
    missing = np.asarray(col.cat.codes) < 0
    if missing.any():
        raise DataError(f"column {cfg.stage!r}, row {int(np.flatnonzero(missing)[0])}: missing stage")
