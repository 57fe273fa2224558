"""The built-in synthetic CRM data set: deterministic, seeded, any size.

Leads arrive uniformly over the period from six sources (Webinar, Paid Search, Organic,
Referral, Trade Show, Outbound), each with its own campaigns, conversion probabilities, speed
and deal size, and walk :meth:`StageModel.b2b`: Lead -> MQL -> SAL -> SQL -> Opportunity ->
Customer, with disqualification (with a reason), recycling from SAL/SQL back to Lead, referral
leads that skip straight to SQL, lost deals (with a reason) and log-normal delays. Moves after
the end of the period are not emitted, so open entities are right-censored as in a real CRM
export. Every lead has its own random stream keyed by (seed, lead id): generating ids in chunks
(``first_lead``) and concatenating gives exactly the rows of one call.
"""

from __future__ import annotations

import datetime as _dt
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas
    import polars
    import pyarrow

from . import _core, _names
from ._result import need
from .model import StageModel

__all__ = ["sample_crm", "sample_crm_arrays", "sample_model", "sample_labels", "sample_touches"]


def sample_model() -> StageModel:
    """The stage model of the sample data (:meth:`StageModel.b2b`)."""
    return StageModel.b2b()


def sample_labels() -> dict[str, list[str]]:
    """Labels of the sample's code columns: ``source``, ``campaign``, ``reason`` and the touches'
    ``channel`` (code = index), and ``campaign_source`` (the source code of each campaign)."""
    return {
        "source": list(_core.sample_sources()),
        "campaign": list(_core.sample_campaigns()),
        "reason": list(_core.sample_reasons()),
        "campaign_source": list(_core.sample_campaign_sources()),
        "channel": list(_core.sample_channels()),
    }


def _epoch_seconds(start: Any) -> int:
    if isinstance(start, (int, np.integer)):
        return int(start)
    if isinstance(start, str):
        start = _dt.datetime.fromisoformat(start)
    if isinstance(start, _dt.date) and not isinstance(start, _dt.datetime):
        start = _dt.datetime(start.year, start.month, start.day)
    if isinstance(start, _dt.datetime):
        if start.tzinfo is None:
            start = start.replace(tzinfo=_dt.timezone.utc)
        return int(start.timestamp())
    raise TypeError(f"option 'start': expected seconds since the epoch, an ISO date string or a datetime, got {start!r}")


def _core_args(leads: Any, seed: Any, start: Any, days: Any, reps: Any, first_lead: Any) -> tuple[int, ...]:
    """The sample's options checked and in the order the core's generators take them: (leads,
    seed, first_lead, start in epoch seconds, days, reps)."""
    for name, value in (("leads", leads), ("days", days), ("reps", reps), ("first_lead", first_lead)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
            raise TypeError(f"option '{name}': expected an integer, got {value!r}")
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"option 'seed': value {seed!r} must be an integer >= 0")
    return int(leads), int(seed), int(first_lead), _epoch_seconds(start), int(days), int(reps)


def sample_crm_arrays(
    leads: int = 10_000,
    *,
    seed: int = 42,
    start: Any = "2024-01-01",
    days: int = 365,
    reps: int = 12,
    first_lead: int = 0,
) -> dict[str, Any]:
    """The sample as a dict of numpy arrays of codes (no copies): ``entity`` (int64),
    ``time`` (int64 seconds since the Unix epoch, UTC), ``stage`` (int32 code of
    :func:`sample_model`), ``source``, ``campaign``, ``rep`` and ``reason`` (int32 codes; reason
    -1 when a move has none), ``amount`` (float64 deal value on Opportunity, Customer and Lost
    rows, 0 elsewhere), and ``end`` (int, exclusive end of the period in epoch seconds).
    Rows are ordered by (entity, time)."""
    return dict(_core.sample_arrays(*_core_args(leads, seed, start, days, reps, first_lead)))


def sample_crm(
    leads: int = 10_000,
    *,
    seed: int = 42,
    start: Any = "2024-01-01",
    days: int = 365,
    reps: int = 12,
    first_lead: int = 0,
    frame: str = "pandas",
) -> pandas.DataFrame | pyarrow.Table | polars.DataFrame:
    """The sample as a data frame with readable labels: ``entity`` (int64), ``time``
    (datetime64[s], UTC), ``stage``, ``source``, ``campaign``, ``rep`` and ``reason``
    (categoricals; reason missing when a move has none) and ``amount`` (float64).

    ``frame`` chooses the type: ``"pandas"`` (default; the data's exclusive end is in
    ``df.attrs["end"]`` as an ISO string and in ``df.attrs["end_epoch_s"]``), ``"arrow"`` (a
    ``pyarrow.Table`` with dictionary-encoded labels and the end in the schema metadata
    ``end``) or ``"polars"``. See :func:`sample_crm_arrays` for the codes."""
    _names.choice(frame, ("pandas", "arrow", "polars"), "frame")
    a = sample_crm_arrays(leads, seed=seed, start=start, days=days, reps=reps, first_lead=first_lead)
    labels = sample_labels()
    model = sample_model()
    rep_names = [f"Rep {i + 1:02d}" for i in range(reps)]
    if frame != "pandas":
        pa = need("pyarrow", "sample_crm(frame='arrow')")
        end = str(np.datetime64(int(a["end"]), "s"))
        table = pa.table({
            "entity": a["entity"], "time": a["time"].astype("datetime64[s]"),
            "stage": _dictionary(pa, a["stage"], model.names), "source": _dictionary(pa, a["source"], labels["source"]),
            "campaign": _dictionary(pa, a["campaign"], labels["campaign"]),
            "rep": _dictionary(pa, a["rep"], rep_names),
            "reason": _dictionary(pa, a["reason"], labels["reason"]), "amount": a["amount"],
        }).replace_schema_metadata({"end": end, "end_epoch_s": str(int(a["end"]))})
        return table if frame == "arrow" else need("polars", "sample_crm(frame='polars')").from_arrow(table)
    pd = need("pandas", "sample_crm()")

    def cat(codes: np.ndarray, names: list[str], ordered: bool = False) -> Any:
        return pd.Categorical.from_codes(codes, categories=names, ordered=ordered)

    df = pd.DataFrame(
        {
            "entity": a["entity"],
            "time": a["time"].astype("datetime64[s]"),
            "stage": cat(a["stage"], model.names),
            "source": cat(a["source"], labels["source"]),
            "campaign": cat(a["campaign"], labels["campaign"]),
            "rep": cat(a["rep"], rep_names),
            "reason": cat(a["reason"], labels["reason"]),
            "amount": a["amount"],
        }
    )
    # Plain JSON-friendly values, so the frame converts to Arrow with its attributes.
    df.attrs["end"] = pd.Timestamp(a["end"], unit="s").isoformat()
    df.attrs["end_epoch_s"] = int(a["end"])
    return df


def _dictionary(pa: Any, codes: np.ndarray, names: list[str]) -> Any:
    """Dictionary-encoded labels; negative codes are nulls."""
    idx = pa.array(codes.astype(np.int32), mask=codes < 0)
    return pa.DictionaryArray.from_arrays(idx, pa.array(names, type=pa.string()))


def sample_touches(
    leads: int = 10_000,
    *,
    seed: int = 42,
    start: Any = "2024-01-01",
    days: int = 365,
    reps: int = 12,
    first_lead: int = 0,
) -> tuple[Any, Any]:
    """Marketing touches of the sample's leads, for attribution: ``(touches, outcomes)``.

    ``touches`` has one row per touch: ``path`` (the lead's entity id), ``time``
    (datetime64[s]), ``channel`` (categorical: the six sources, Email, Social, Retargeting) and
    ``milestone`` (``"lead_created"``, ``"opportunity_created"`` or missing, for the W-shaped
    model). Leads see 0-3 touches in the 30 days before they come in, a creation touch in their
    source's channel, 0-4 nurture touches until their opportunity and the opportunity's
    creation touch. ``outcomes`` has one row per lead: ``path``, ``converted`` (0/1: became a
    customer), ``value`` (the won amount) and ``conversion_time``. Same arguments as
    :func:`sample_crm`, whose leads these are (pandas DataFrames)."""
    pd = need("pandas", "sample_touches()")

    t = _core.sample_touch_arrays(*_core_args(leads, seed, start, days, reps, first_lead))
    channels = list(_core.sample_channels())
    milestone = pd.Categorical.from_codes(t["milestone"].astype(np.int8) - 1, categories=["lead_created", "opportunity_created"])
    touches = pd.DataFrame({"path": t["path"], "time": t["time"].astype("datetime64[s]"),
                            "channel": pd.Categorical.from_codes(t["channel"], categories=channels),
                            "milestone": milestone})
    outcomes = pd.DataFrame({"path": t["outcome_path"], "converted": t["converted"], "value": t["value"],
                             "conversion_time": t["conversion_time"].astype("datetime64[s]")})
    return touches, outcomes
