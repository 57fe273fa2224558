"""Data and checks shared by the tests of the distributed back ends (test_dask.py and
test_spark.py): the sample CRM records at Spark's time resolution, events of skewed entities,
and the check that a distributed result equals the single-machine one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest

import funnelkit as fk

STEPS = ["Lead", "MQL", "SQL", "Customer"]
EVENTS = ["visit", "signup", "trial", "pay"]
PARTITIONS = (1, 2, 7)


def quiet(*modules: str) -> list[Any]:
    """Test marks that ignore resource warnings and the deprecation warnings raised inside the
    back end's own modules (the suite turns every other warning into an error)."""
    return [pytest.mark.filterwarnings("ignore::ResourceWarning"),
            *(pytest.mark.filterwarnings(f"ignore::DeprecationWarning:{m}") for m in modules)]


def crm_records(utc: bool = False) -> pd.DataFrame:
    """The sample CRM records with times in microseconds (Spark's resolution), in UTC when
    ``utc``, and missing labels as None."""
    df = fk.sample_crm(1500, seed=7)
    df["time"] = df["time"].astype("datetime64[us]")
    if utc:
        df["time"] = df["time"].dt.tz_localize("UTC")
    for c in ("stage", "source", "reason"):
        df[c] = df[c].astype(object).where(df[c].notna(), None)
    return df


def with_amounts(crm: pd.DataFrame) -> pd.DataFrame:
    """The records with a deterministic amount on every Customer record (0 elsewhere)."""
    return crm.assign(amount=np.where(crm["stage"] == "Customer", np.round(np.arange(len(crm)) * 97.13 % 5e4, 2), 0.0))


def skewed_events(seed: int, n: int = 6000) -> pd.DataFrame:
    """Events of skewed entities (a Zipf-like law: one entity holds a large share), ties, events
    matching no step, integer seconds."""
    rng = np.random.default_rng(seed)
    entity = np.minimum(rng.zipf(1.6, n), 400).astype(np.int64)
    time = rng.integers(0, 40 * 86_400, n) // 60 * 60
    event = rng.choice(EVENTS + ["other", "help"], n, p=[0.3, 0.2, 0.15, 0.1, 0.2, 0.05])
    channel = rng.choice(["ads", "mail", "seo"], n)
    return pd.DataFrame({"entity": entity, "time": time, "event": event, "channel": channel})


def same_result(got: Any, want: Any) -> None:
    """A distributed result equals the single-machine one: same type, same Arrow table, and
    ``==`` for mergeable states."""
    assert isinstance(got, type(want))
    assert got.to_arrow().equals(want.to_arrow())
    if isinstance(want, fk.Mergeable):
        assert got == want


#: Options of window_funnel that are wrong for the events of :func:`skewed_events`: a step
#: that never occurs, a fractional window for integer times, a misspelt column.
BAD_FUNNEL_OPTIONS = (dict(window="1d", steps=["visit", "sign_up"], step="event"),
                      dict(window=3600.5, steps=EVENTS, step="event"),
                      dict(window="1d", steps=EVENTS, step="evnt"))


def same_errors(single: Callable[..., Any], distributed: Callable[..., Any],
                cases: tuple[dict[str, Any], ...] = BAD_FUNNEL_OPTIONS) -> None:
    """Each case raises the same exception type and message on one machine and distributed."""
    for kwargs in cases:
        with pytest.raises((ValueError, TypeError)) as one:
            single(**kwargs)
        with pytest.raises(type(one.value)) as dist:
            distributed(**kwargs)
        assert str(dist.value) == str(one.value)
