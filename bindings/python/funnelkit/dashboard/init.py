"""``funnelkit init DATA``: a starting ``funnelkit.toml`` from the columns and values of a file.

Columns are recognised by their names (``lead_id``, ``stage``, ``created_at``, ``source``,
``amount``, ``owner``, ``lost_reason`` ...) and types; the stage model lists the distinct stage
values in the order entities reach them (their mean position in each entity's history), with
won, lost and disqualified outcomes recognised by name. Everything is written for a person to
check: a comment says what was guessed and why.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from ..model import StageModel
from .config import DataError, ReportConfig, config_to_toml
from .reader import _quote, inspect_relation

__all__ = ["guess_config"]

_PATTERNS = {
    "entity": [r"^entity$", r"^(lead|contact|account|deal|opportunity|customer|user|person)_?id$", r"^id$", r"_id$"],
    "time": [r"^time$", r"^timestamp$", r"^(changed|created|updated|entered|event)_?(at|time|date)$", r"_at$",
             r"time", r"date"],
    "stage": [r"^stage$", r"^(lifecycle|lead|deal|funnel)_?stage$", r"stage", r"^status$", r"^state$", r"^step$"],
    "segment": [r"^source$", r"^(lead_?)?source$", r"^channel$", r"^campaign$", r"^utm_source$", r"source", r"segment"],
    "campaign": [r"^campaign$", r"^(utm_)?campaign_?(name|id)?$", r"campaign"],
    "amount": [r"^amount$", r"^(deal_?)?(value|amount)$", r"^revenue$", r"amount", r"value"],
    "owner": [r"^owner$", r"^rep$", r"^(sales_?)?rep$", r"^owner_?(name|id)?$", r"^assignee$", r"owner"],
    "reason": [r"^reason$", r"^(lost|loss|disqualification|dq)_?reason$", r"reason"],
}
_WON = re.compile(r"(^|\b|_)(won|customer|closed[ _-]?won|win|signed|converted)($|\b|_)", re.I)
_LOST = re.compile(r"(^|\b|_)(lost|closed[ _-]?lost|churned)($|\b|_)", re.I)
_DQ = re.compile(r"(disqualif|unqualif|junk|rejected|^dq$|invalid)", re.I)


def _pick(role: str, names: Sequence[str], types: dict[str, str], taken: set[str]) -> str | None:
    for pat in _PATTERNS[role]:
        for n in names:
            if n in taken or not re.search(pat, n, re.I):
                continue
            t = types[n]
            numeric = any(k in t for k in ("INT", "DOUBLE", "FLOAT", "DECIMAL", "REAL"))
            if role == "amount" and not numeric:
                continue
            if role == "time" and not ("TIMESTAMP" in t or "DATE" in t or "VARCHAR" in t or "INT" in t):
                continue
            if role in ("stage", "segment", "campaign", "owner", "reason") and "TIMESTAMP" in t:
                continue
            return n
    return None


def guess_config(paths: Sequence[str], *, table: str | None = None, query: str | None = None,
                 delimiter: str | None = None) -> tuple[ReportConfig, dict[str, str]]:
    """A configuration guessed from the data, and a comment per key saying what was seen."""
    con, rel = inspect_relation(paths, table=table, query=query, delimiter=delimiter)
    names = list(rel.columns)
    types = {n: str(t).upper() for n, t in zip(names, rel.types)}
    taken: set[str] = set()
    found: dict[str, str | None] = {}
    for role in ("entity", "time", "stage", "amount", "reason", "owner", "segment", "campaign"):
        found[role] = _pick(role, names, types, taken)
        if found[role]:
            taken.add(found[role])
    comments: dict[str, str] = {}
    for role in ("entity", "time", "stage"):
        if found[role] is None:
            raise DataError(f"cannot tell which column holds the {role} (columns: {', '.join(map(repr, names))}); "
                            f"write funnelkit.toml by hand or rename the column")
    con.register("src", rel)
    e, t, s = (_quote(found[r]) for r in ("entity", "time", "stage"))
    stats = con.execute(
        f"WITH r AS (SELECT {s} AS stage, ROW_NUMBER() OVER (PARTITION BY {e} ORDER BY {t}) AS k, "
        f"COUNT(*) OVER (PARTITION BY {e}) AS m FROM src WHERE {s} IS NOT NULL) "
        "SELECT CAST(stage AS VARCHAR), COUNT(*), AVG((k - 0.5) / m) FROM r GROUP BY stage ORDER BY 3, 1").fetchall()
    if not stats:
        raise DataError(f"column {found['stage']!r} has no values")
    rows, entities = con.execute(f"SELECT COUNT(*), COUNT(DISTINCT {e}) FROM src").fetchone()
    ladder: list[str] = []
    won: list[str] = []
    outcomes: list[tuple[str, str]] = []
    for name, _, _ in stats:
        if _DQ.search(name):
            outcomes.append((name, "disqualified"))
        elif _LOST.search(name):
            outcomes.append((name, "lost"))
        elif _WON.search(name) and not won:
            won.append(name)
        else:
            ladder.append(name)
    owners = _owners(ladder + won)
    stages = [(n, owners.get(n, ""), "step") for n in ladder] + [(n, owners.get(n, ""), "won") for n in won] \
        + [(n, owners.get(won[0] if won else ladder[-1] if ladder else n, ""), k) for n, k in outcomes]
    try:
        model = StageModel(stages, recycle_target=ladder[0] if ladder else None)
    except (ValueError, TypeError) as exc:
        raise DataError(f"cannot build a stage model from the values of {found['stage']!r}: {exc}") from None
    cfg = ReportConfig(entity=found["entity"], time=found["time"], stage=found["stage"], segment=found["segment"],
                       campaign=found["campaign"], amount=found["amount"], owner=found["owner"], reason=found["reason"], model=model)
    for role in ("mql", "sql", "opportunity"):
        setattr(cfg, role, cfg.stage_role(role))
    cfg.response_stage = cfg.mql
    cfg.volume_stage = model.ladder[0]
    comments["entity"] = f"{entities:,} distinct values in {rows:,} rows"
    comments["stage"] = f"{len(stats)} distinct values; the model below orders them by position in each history"
    for role in ("segment", "campaign", "amount", "owner", "reason"):
        if found[role] is None:
            comments[role] = "no such column recognised"
    if found["segment"]:
        values = [r[0] for r in con.execute(f"SELECT DISTINCT CAST({_quote(found['segment'])} AS VARCHAR) FROM src "
                                            "ORDER BY 1 LIMIT 50").fetchall() if r[0] is not None]
        comments["segment"] = f"{len(values)} values: {', '.join(values[:8])}{', ...' if len(values) > 8 else ''}"
    return cfg, comments


def _owners(names: Sequence[str]) -> dict[str, str]:
    """marketing up to an MQL-like stage, sales after it; no owners when there is none."""
    low = [n.lower() for n in names]
    if "mql" not in low:
        return {}
    cut = low.index("mql")
    return {n: ("marketing" if i <= cut else "sales") for i, n in enumerate(names)}


def init_text(paths: Sequence[str], **kwargs: Any) -> str:
    """The ``funnelkit.toml`` text for the data (see :func:`guess_config`)."""
    cfg, comments = guess_config(paths, **kwargs)
    return config_to_toml(cfg, comments=comments)
