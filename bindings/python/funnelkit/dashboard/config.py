"""What a report is computed from: the column mapping, the stage model, the goal, the SLA terms,
the costs and the report's own options, read from ``funnelkit.toml`` and command-line flags
(flags win), and ``funnelkit init``'s starting file written by inspecting the data.

A ``funnelkit.toml`` looks like this (every key is optional; ``funnelkit init DATA`` writes one)::

    title = "Pipeline report"

    [columns]                 # column names of the stage records
    entity = "lead_id"
    time = "changed_at"
    stage = "stage"
    segment = "source"        # conversion by segment, campaign ROI, velocity by source
    campaign = "campaign"     # drivers of conversion (beside segment and owner)
    amount = "amount"         # deal value: revenue, velocity, the plan
    owner = "rep"             # SLA per rep, the plan per rep
    reason = "reason"         # why leads leave
    # time_unit = "s"         # for integer time columns: "s", "ms", "us", "ns"

    [model]                   # the stage model, ladder order; kind: step, won, lost, disqualified
    recycle_target = "Lead"
    stages = [
      { name = "Lead", owner = "marketing" },
      { name = "Customer", owner = "sales", kind = "won" },
      { name = "Lost", owner = "sales", kind = "lost" },
    ]
    mql = "MQL"               # the stages campaign rates and velocity need
    sql = "SQL"
    opportunity = "Opportunity"

    [goal]
    revenue = 1000000         # revenue goal per period, for the reverse-funnel plan
    period = "month"

    [sla]
    response_stage = "MQL"    # the clock starts at a record of this stage, stops at the next record
    response_limit = "24h"
    volume_target = 100       # records of volume_stage per owner per volume_period
    volume_stage = "Lead"
    volume_period = "month"

    [costs]                   # cost per segment value (or: file = "costs.csv" with segment,cost)
    "Paid Search" = 250000

    [report]
    period = "month"          # cohort periods
    tz = "UTC"
    maturity = "90d"          # cohorts younger than this are marked immature
    confidence = 0.95
    stuck_percentile = 90
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .. import _names
from ..model import StageModel

__all__ = ["ReportConfig", "DataError", "load_toml", "config_to_toml"]

_COLUMN_KEYS = ("entity", "time", "stage", "segment", "campaign", "amount", "owner", "reason")
_KINDS = ("step", "won", "lost", "disqualified")


class DataError(Exception):
    """A problem with the input data or the configuration, shown as one line (exit code 1)."""


@dataclasses.dataclass
class ReportConfig:
    """Everything a report is computed from. Column names default to the sample's."""

    entity: str = "entity"
    time: str = "time"
    stage: str = "stage"
    segment: str | None = None
    campaign: str | None = None
    amount: str | None = None
    owner: str | None = None
    reason: str | None = None
    time_unit: str | None = None
    model: StageModel = dataclasses.field(default_factory=StageModel.b2b)
    mql: str | None = None
    sql: str | None = None
    opportunity: str | None = None
    goal: float | None = None
    goal_period: str = "month"
    response_stage: str | None = None
    response_limit: str = "24h"
    volume_target: float | None = None
    volume_stage: str | None = None
    volume_period: str = "month"
    costs: dict[str, float] | None = None
    period: str = "month"
    tz: str = "UTC"
    maturity: str = "90d"
    confidence: float = 0.95
    stuck_percentile: float = 90.0
    as_of: str | None = None
    title: str | None = None
    # inputs beside the stage records
    touches: list[str] | None = None
    touch_entity: str = "entity"
    touch_time: str = "time"
    touch_channel: str = "channel"
    touch_milestone: str | None = None
    attribution_models: tuple[str, ...] = ("first_touch", "last_touch", "linear", "u_shaped", "time_decay",
                                           "markov", "shapley")
    events: list[str] | None = None
    event_entity: str = "entity"
    event_time: str = "time"
    event_step: str = "step"
    steps: list[str] | None = None
    window: str = "30d"

    # -- derived ------------------------------------------------------------------------------
    def stage_role(self, role: str) -> str | None:
        """The ladder stage playing ``role`` ("mql", "sql", "opportunity"): as configured, else
        the ladder stage of that name (any case), else None."""
        given = getattr(self, role)
        ladder = self.model.ladder
        if given is not None:
            if given not in ladder:
                raise DataError(_names.unknown("stage", given, ladder, where=f"[model] {role}"))
            return given
        wanted = {"mql": ("mql", "marketing qualified lead"), "sql": ("sql", "sales qualified lead"),
                  "opportunity": ("opportunity", "opp", "deal")}[role]
        for name in ladder:
            if name.lower() in wanted:
                return name
        return None

    def to_dict(self) -> dict[str, Any]:
        """The configuration as JSON-ready data (the model as stage triples)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "model":
                value = self.model.to_dict()
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return json.loads(json.dumps(out, default=str))


# -- reading funnelkit.toml ----------------------------------------------------------------------
def _tomllib() -> Any:
    try:
        import tomllib  # Python 3.11+

        return tomllib
    except ImportError:  # pragma: no cover - older Pythons
        try:
            import tomli

            return tomli
        except ImportError:
            raise DataError("reading funnelkit.toml needs Python 3.11 or the tomli package (pip install tomli)") \
                from None


def _model_from(section: Mapping[str, Any], where: str) -> StageModel:
    stages = section.get("stages")
    if not isinstance(stages, list) or not stages:
        raise DataError(f"{where}: [model] needs a non-empty list 'stages'")
    parsed = []
    for i, s in enumerate(stages):
        if isinstance(s, str):
            parsed.append((s, "", "step"))
            continue
        if not isinstance(s, Mapping) or "name" not in s:
            raise DataError(f"{where}: [model] stages[{i}] must be a name or a table with 'name'")
        unknown = set(s) - {"name", "owner", "kind"}
        if unknown:
            raise DataError(f"{where}: [model] stages[{i}]: unknown key {sorted(unknown)[0]!r} "
                            "(keys: name, owner, kind)")
        kind = s.get("kind", "step")
        if kind not in _KINDS:
            raise DataError(_names.unknown("kind", kind, _KINDS, where=f"{where}: [model] stages[{i}]"))
        parsed.append((str(s["name"]), str(s.get("owner", "")), kind))
    try:
        return StageModel(parsed, recycle_target=section.get("recycle_target"))
    except (ValueError, TypeError) as exc:
        raise DataError(f"{where}: [model]: {exc}") from None


_SECTIONS = {
    "columns": {**{k: k for k in _COLUMN_KEYS}, "time_unit": "time_unit"},
    "model": {"mql": "mql", "sql": "sql", "opportunity": "opportunity"},
    "goal": {"revenue": "goal", "period": "goal_period"},
    "sla": {"response_stage": "response_stage", "response_limit": "response_limit", "volume_target": "volume_target",
            "volume_stage": "volume_stage", "volume_period": "volume_period"},
    "report": {"period": "period", "tz": "tz", "maturity": "maturity", "confidence": "confidence",
               "stuck_percentile": "stuck_percentile", "as_of": "as_of"},
    "touches": {"files": "touches", "entity": "touch_entity", "time": "touch_time", "channel": "touch_channel",
                "milestone": "touch_milestone", "models": "attribution_models"},
    "events": {"files": "events", "entity": "event_entity", "time": "event_time", "step": "event_step",
               "steps": "steps", "window": "window"},
}


def load_toml(path: str | Path, config: ReportConfig | None = None) -> ReportConfig:
    """Reads ``funnelkit.toml`` into a :class:`ReportConfig` (on top of ``config``). Unknown
    sections and keys are errors naming the closest valid ones; file paths inside are relative
    to the file."""
    path = Path(path)
    cfg = config or ReportConfig()
    try:
        with open(path, "rb") as fh:
            doc = _tomllib().load(fh)
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror}") from None
    except ValueError as exc:  # tomllib.TOMLDecodeError
        raise DataError(f"{path}: not valid TOML: {exc}") from None
    where = str(path)
    valid = [*_SECTIONS, "costs", "title"]
    for key, value in doc.items():
        if key not in valid:
            raise DataError(_names.unknown("section", key, valid, where=where))
        if key == "title":
            cfg.title = str(value)
            continue
        if not isinstance(value, Mapping):
            raise DataError(f"{where}: [{key}] must be a table")
        if key == "costs":
            cfg.costs = _costs(value, path.parent, where)
            continue
        keys = _SECTIONS[key]
        for k, v in value.items():
            if key == "model" and k in ("stages", "recycle_target"):
                continue
            if k not in keys:
                raise DataError(_names.unknown("key", k, list(keys), where=f"{where}: [{key}]"))
            if k in ("files",):
                v = [str(path.parent / f) for f in ([v] if isinstance(v, str) else v)]
            elif k == "models":
                v = tuple(v)
            setattr(cfg, keys[k], v)
        if key == "model":
            cfg.model = _model_from(value, where)
    return cfg


def _costs(section: Mapping[str, Any], base: Path, where: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for k, v in section.items():
        if k == "file":
            out.update(read_costs(base / str(v)))
            continue
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise DataError(f"{where}: [costs] {k!r}: expected a number, got {v!r}")
        out[str(k)] = float(v)
    return out


def read_costs(path: str | Path) -> dict[str, float]:
    """Costs per segment from a CSV file with two columns: the segment value and the cost."""
    import csv

    out: dict[str, float] = {}
    try:
        with open(path, newline="") as fh:
            rows = list(csv.reader(fh))
    except OSError as exc:
        raise DataError(f"cannot read the cost file {path}: {exc.strerror}") from None
    for i, row in enumerate(rows):
        if not row or not "".join(row).strip():
            continue
        if len(row) < 2:
            raise DataError(f"cost file {path}, line {i + 1}: expected 'segment,cost', got {','.join(row)!r}")
        try:
            out[row[0].strip()] = float(row[1])
        except ValueError:
            if i == 0:
                continue  # a header line
            raise DataError(f"cost file {path}, line {i + 1}: value {row[1]!r} is not a number") from None
    return out


# -- writing funnelkit.toml ----------------------------------------------------------------------
def _q(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def config_to_toml(cfg: ReportConfig, *, comments: Mapping[str, str] | None = None) -> str:
    """The configuration as ``funnelkit.toml`` text (what ``funnelkit init`` writes)."""
    c = dict(comments or {})
    lines = ["# funnelkit report configuration: `funnelkit report DATA` reads it from the current",
             "# directory (or --config FILE). Flags on the command line win over this file.", ""]
    if cfg.title:
        lines += [f"title = {_q(cfg.title)}", ""]
    lines.append("[columns]")
    for key in _COLUMN_KEYS:
        value = getattr(cfg, key)
        note = f"  # {c[key]}" if key in c else ""
        lines.append(f"{key} = {_q(value)}{note}" if value is not None else f"# {key} = \"\"{note}")
    if cfg.time_unit:
        lines.append(f"time_unit = {_q(cfg.time_unit)}")
    lines += ["", "[model]", "# Ladder stages in funnel order, then the outcomes; kind: step, won, lost, disqualified."]
    if cfg.model.recycle_target:
        lines.append(f"recycle_target = {_q(cfg.model.recycle_target)}")
    lines.append("stages = [")
    for s in cfg.model.stages:
        parts = [f"name = {_q(s.name)}"]
        if s.owner:
            parts.append(f"owner = {_q(s.owner)}")
        if s.kind != "step":
            parts.append(f"kind = {_q(s.kind)}")
        lines.append("  { " + ", ".join(parts) + " },")
    lines.append("]")
    for role in ("mql", "sql", "opportunity"):
        value = getattr(cfg, role)
        lines.append(f"{role} = {_q(value)}" if value else f"# {role} = \"\"")
    lines += ["", "[goal]", "# revenue goal per period for the reverse-funnel plan (default: the observed revenue)"]
    lines.append(f"revenue = {cfg.goal!r}" if cfg.goal is not None else "# revenue = 1000000")
    lines.append(f"period = {_q(cfg.goal_period)}")
    lines += ["", "[sla]"]
    lines.append(f"response_stage = {_q(cfg.response_stage)}" if cfg.response_stage else "# response_stage = \"MQL\"")
    lines.append(f"response_limit = {_q(cfg.response_limit)}")
    lines.append(f"volume_target = {cfg.volume_target!r}" if cfg.volume_target is not None
                 else "# volume_target = 100   # records of volume_stage per owner per period")
    lines.append(f"volume_stage = {_q(cfg.volume_stage)}" if cfg.volume_stage else "# volume_stage = \"Lead\"")
    lines.append(f"volume_period = {_q(cfg.volume_period)}")
    lines += ["", "[costs]", "# cost per segment value, for cost per lead, CAC and ROI (or file = \"costs.csv\")"]
    for k, v in (cfg.costs or {}).items():
        lines.append(f"{_q(k)} = {v!r}")
    if not cfg.costs:
        lines.append("# \"Paid Search\" = 250000")
    lines += ["", "[report]", f"period = {_q(cfg.period)}", f"tz = {_q(cfg.tz)}", f"maturity = {_q(cfg.maturity)}",
              f"confidence = {cfg.confidence!r}", f"stuck_percentile = {cfg.stuck_percentile!r}", ""]
    return "\n".join(lines)
