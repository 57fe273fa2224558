"""The window funnel written as plain SQL and as ClickHouse's ``windowFunnel``, shared by the
peer benchmarks (peers.py: DuckDB and chdb; sql_peers.py: PostgreSQL and chdb).

The plain-SQL form follows every step-1 event forward: step k's chain takes the earliest
step-k event at or after the chain's previous step and within the window of its start (a
forward as-of join in DuckDB, a LATERAL index lookup in PostgreSQL); an entity's level is the
deepest step any of its chains reached, 0 when none. Exact for the default mode with one step
per event."""
from __future__ import annotations

from typing import Callable


def chain_sql(steps: int, link: Callable[[int], str], *, group_reach: bool) -> str:
    """The level histogram query over table ``ev(entity, time, step)``. ``link(k)`` gives the
    common table expressions of step k (k >= 1) reading chain ``s{k-1}(entity, t0, tp)`` and
    defining ``s{k}``. ``group_reach``: take each entity's deepest level with a GROUP BY
    over the union of the reached levels (the form PostgreSQL plans well) instead of the
    union of DISTINCT levels joined and grouped per entity."""
    parts = ["s0 AS (SELECT entity, time AS t0, time AS tp FROM ev WHERE step = 0)"]
    parts += [link(k) for k in range(1, steps)]
    if group_reach:
        reach = " UNION ALL ".join(f"SELECT entity, {k + 1} AS level FROM s{k}" for k in range(steps))
        tail = (f"r AS (SELECT entity, max(level) AS level FROM ({reach}) u GROUP BY entity), "
                f"per AS (SELECT a.entity, coalesce(r.level, 0) AS level FROM (SELECT DISTINCT entity FROM ev) a "
                f"LEFT JOIN r USING (entity))")
    else:
        reach = " UNION ALL ".join(f"SELECT DISTINCT entity, {k + 1} AS level FROM s{k}" for k in range(steps))
        tail = (f"r AS ({reach}), "
                f"per AS (SELECT a.entity, COALESCE(MAX(r.level), 0) AS level FROM (SELECT DISTINCT entity FROM ev) a "
                f"LEFT JOIN r USING (entity) GROUP BY a.entity)")
    return f"WITH {', '.join(parts)}, {tail} SELECT level, count(*) FROM per GROUP BY level ORDER BY level"


def chdb_session(d: dict):
    """A chdb session holding the columns of ``d`` (entity, time, step) in a Memory table ``ev``."""
    import pandas as pd
    from chdb import session as chs

    sess = chs.Session()
    df = pd.DataFrame(d)  # noqa: F841 - read by the Python() table function
    sess.query("CREATE TABLE ev (entity Int64, time UInt64, step Int32) ENGINE = Memory")
    sess.query("INSERT INTO ev SELECT entity, toUInt64(time), step FROM Python(df)")
    return sess


def chdb_levels_sql(steps: int, window: int, threads: int) -> str:
    """ClickHouse's windowFunnel over ``ev``: the number of entities ending at each level."""
    conds = ", ".join(f"step = {k}" for k in range(steps))
    return (f"SELECT level, count() AS n FROM (SELECT entity, windowFunnel({window})(time, {conds}) AS level "
            f"FROM ev GROUP BY entity) GROUP BY level ORDER BY level SETTINGS max_threads = {threads}")
