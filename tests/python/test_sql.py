"""The PostgreSQL extension: a real PostgreSQL 15 server started for this module, every SQL
function checked against the Python API on the sample data and on random data, serial and with
parallel plans forced (Partial Aggregate in EXPLAIN, identical answers), the ClickHouse
conformance cases of the window funnel through SQL, bad input as SQL errors, and a server log
without a crashed backend at the end."""

from __future__ import annotations

import io
import math
import re
import warnings

import numpy as np
import pandas as pd
import pytest

import funnelkit as fk
import pg_server
from test_window_funnel import MODES, chdb_levels, random_events

pytestmark = pytest.mark.filterwarnings("error")

PARALLEL = {"parallel_setup_cost": "0", "parallel_tuple_cost": "0", "min_parallel_table_scan_size": "0",
            "max_parallel_workers_per_gather": "2"}
SERIAL = {"max_parallel_workers_per_gather": "0"}
LADDER = ["Lead", "MQL", "SAL", "SQL", "Opportunity", "Customer"]


@pytest.fixture(scope="session")
def server():
    reason = pg_server.missing_reason()
    if reason:
        pytest.skip(reason)
    pytest.importorskip("psycopg")
    missing = pg_server.extension_missing()
    if missing:
        pytest.fail(missing)
    srv = pg_server.Server().start()
    try:
        with srv.connect() as conn:
            conn.execute("CREATE EXTENSION funnelkit")
        yield srv
    finally:
        crashes = srv.crashes()
        srv.stop(remove=not crashes)
    assert not crashes, f"the server log reports crashes ({srv.log}):\n" + "\n".join(crashes)


@pytest.fixture(scope="module")
def db(server):
    with server.connect() as conn:
        conn.execute("SET TimeZone = 'UTC'")
        yield conn


def settings(conn, values: dict[str, str]) -> None:
    for k, v in values.items():
        conn.execute(f"SET {k} = {v}")


def reset(conn) -> None:
    for k in {**PARALLEL, **SERIAL}:
        conn.execute(f"RESET {k}")


def load(conn, name: str, df: pd.DataFrame, types: dict[str, str]) -> None:
    """A fresh table `name` with the columns of df (in order) and the given SQL types."""
    conn.execute(f"DROP TABLE IF EXISTS {name}")
    conn.execute(f"CREATE TABLE {name} (" + ", ".join(f"{c} {types[c]}" for c in df.columns) + ")")
    buf = io.StringIO()
    df.to_csv(buf, index=False, header=False, na_rep="")
    with conn.cursor() as cur:
        with cur.copy(f"COPY {name} FROM STDIN WITH (FORMAT csv)") as copy:
            copy.write(buf.getvalue())
    conn.execute(f"ANALYZE {name}")


def rows(conn, sql: str, params=None) -> list[tuple]:
    return conn.execute(sql, params).fetchall()


def plan(conn, sql: str) -> str:
    return "\n".join(r[0] for r in conn.execute("EXPLAIN " + sql).fetchall())


def conditions(steps: int) -> str:
    return ", ".join(f"(mask & {1 << k}) <> 0" for k in range(steps))


def funnel_sql(table: str, window, steps: int, modes: tuple[str, ...]) -> str:
    mode = f"'{','.join(modes)}', " if modes else ""
    return (f"SELECT entity, window_funnel({window}, {mode}time, {conditions(steps)}) FROM {table} "
            f"GROUP BY entity ORDER BY entity")


def python_levels(df: pd.DataFrame, window, steps: int, modes: tuple[str, ...]) -> list[tuple[int, int]]:
    r = fk.window_funnel(df, window=window, steps=steps, step=None, step_mask="mask", per_entity=True,
                         **{m: True for m in modes})
    return list(zip(r.entity.tolist(), r.level.astype(int).tolist()))


# --- window_funnel ------------------------------------------------------------------------------

@pytest.mark.parametrize("multi", [False, True], ids=["codes", "multi-step"])
def test_window_funnel_matches_python_and_clickhouse(db, multi):
    """Every mode on random events with frequent ties, as in test_window_funnel's conformance
    cases: SQL == funnelkit.window_funnel, and == ClickHouse's windowFunnel on the first case."""
    for case, (seed, steps, window) in enumerate([(1, 3, 0), (2, 4, 5), (3, 2, 17), (4, 5, 40)]):
        df = random_events(seed * 10 + multi, 400, steps, multi)
        load(db, "ev", df, {"entity": "bigint", "time": "bigint", "mask": "bigint"})
        for modes in MODES:
            got = rows(db, funnel_sql("ev", window, steps, modes))
            assert got == python_levels(df, window, steps, modes), (seed, modes)
            if case == 0 and pytest.importorskip("chdb"):
                want = chdb_levels(df, window, steps, modes)
                assert [lv for _, lv in got] == want.tolist(), (seed, modes)


def test_window_funnel_parallel_plan(db):
    """Forced parallel plans: a Partial Aggregate in EXPLAIN, two workers, the same levels."""
    df = random_events(99, 6000, 4, True)
    load(db, "ev_big", df, {"entity": "bigint", "time": "bigint", "mask": "bigint"})
    for modes in [(), ("strict_order",), ("strict_deduplication", "strict_increase")]:
        q = funnel_sql("ev_big", 7, 4, modes)
        settings(db, SERIAL)
        serial = rows(db, q)
        assert "Partial" not in plan(db, q)
        settings(db, PARALLEL)
        text = plan(db, q)
        assert "Partial" in text and "Gather" in text, text
        analyzed = "\n".join(r[0] for r in db.execute("EXPLAIN (ANALYZE, COSTS OFF) " + q).fetchall())
        assert "Workers Launched: 2" in analyzed, analyzed
        assert rows(db, q) == serial
        reset(db)
        assert serial == python_levels(df, 7, 4, modes)
    # Without GROUP BY (one entity made of every row): partial states of every worker combine.
    q1 = f"SELECT window_funnel(3, time, {conditions(4)}) FROM ev_big"
    settings(db, PARALLEL)
    assert "Partial Aggregate" in plan(db, q1)
    par = rows(db, q1)
    reset(db)
    one = df.assign(entity=0)
    assert par == [(python_levels(one, 3, 4, ())[0][1],)]


@pytest.mark.parametrize("parallel", [False, True], ids=["serial", "parallel"])
def test_window_funnel_counts_match_python(db, parallel):
    """Levels counted by window_funnel_counts and shown by window_funnel_rows == the table of
    funnelkit.window_funnel (reached, step and cumulative rates), with Wilson intervals."""
    df = random_events(5, 3000, 4, True)
    load(db, "ev_counts", df, {"entity": "bigint", "time": "bigint", "mask": "bigint"})
    db.execute("DROP TABLE IF EXISTS ev_levels")
    db.execute(f"CREATE TABLE ev_levels AS SELECT entity, window_funnel(6, time, {conditions(4)}) AS level "
               f"FROM ev_counts GROUP BY entity")
    db.execute("ANALYZE ev_levels")
    q = ("SELECT r.* FROM (SELECT window_funnel_counts(level, 4) AS c FROM ev_levels) s, "
         "window_funnel_rows(s.c, ARRAY['a', 'b', 'c', 'd']) r ORDER BY r.level")
    settings(db, PARALLEL if parallel else SERIAL)
    if parallel:
        assert "Partial Aggregate" in plan(db, q)
    got = rows(db, q)
    reset(db)
    want = fk.window_funnel(df, window=6, steps=4, step=None, step_mask="mask")
    table = want.to_pandas()
    assert [g[1] for g in got] == ["a", "b", "c", "d"]
    assert [g[2] for g in got] == [want.reached[0]] * 4
    assert [g[3] for g in got] == table["reached"].tolist()
    assert [g[4] for g in got] == pytest.approx(table["step_rate"].tolist(), rel=1e-15)
    assert [g[5] for g in got] == pytest.approx(table["cumulative_rate"].tolist(), rel=1e-15)
    for g in got:
        iv = fk.rate_interval(g[3], want.reached[1])
        assert (g[6], g[7]) == pytest.approx((iv.lower, iv.upper), rel=1e-14)
    state = db.execute("SELECT window_funnel_counts(level, 4) FROM ev_levels").fetchone()[0]
    assert db.execute("SELECT funnelkit_state_check(%s)", (state,)).fetchone()[0] == "window_funnel counts: 4 steps"


@pytest.mark.parametrize("ts_type", ["timestamp", "timestamptz"])
def test_window_funnel_timestamps(db, ts_type):
    """Timestamps with an interval window == Python with a datetime column and window="1h"."""
    rng = np.random.default_rng(7)
    n = 20_000
    df = pd.DataFrame({"entity": rng.integers(0, 1500, n),
                       "time": pd.to_datetime(rng.integers(0, 3 * 86400, n) * 1_000_000, unit="us"),
                       "mask": (1 << rng.integers(0, 4, n)) * (rng.random(n) < 0.7)})
    load(db, "ev_ts", df, {"entity": "bigint", "time": ts_type, "mask": "bigint"})
    for modes in [(), ("strict_order", "allow_reentry"), ("strict_increase",)]:
        mode = f"'{','.join(modes)}', " if modes else ""
        q = (f"SELECT entity, window_funnel(interval '1 hour', {mode}time, {conditions(4)}) FROM ev_ts "
             f"GROUP BY entity ORDER BY entity")
        want = python_levels(df, "1h", 4, modes)
        assert rows(db, q) == want
        settings(db, PARALLEL)
        assert rows(db, q) == want
        reset(db)
    # An interval of days is 24 hours; 90 minutes as an interval.
    q = f"SELECT entity, window_funnel(interval '90 minutes', time, {conditions(4)}) FROM ev_ts GROUP BY 1 ORDER BY 1"
    assert rows(db, q) == python_levels(df, "90min", 4, ())


def test_window_funnel_hand_cases(db):
    """Call shapes of ClickHouse: 1@0, 2@10, 1@3000, 2@3100, 3@3100 with a one-hour window."""
    db.execute("DROP TABLE IF EXISTS hand")
    db.execute("CREATE TABLE hand (uid int, ts bigint, step int)")
    db.execute("INSERT INTO hand VALUES (1,0,1),(1,10,2),(1,3000,1),(1,3100,2),(1,3100,3),(2,0,2),(3,5,1)")
    base = "FROM hand GROUP BY uid ORDER BY uid"
    assert rows(db, f"SELECT uid, window_funnel(3600, ts, step = 1, step = 2, step = 3) {base}") == \
        [(1, 3), (2, 0), (3, 1)]
    assert rows(db, f"SELECT uid, window_funnel(3600, 'strict_increase', ts, step = 1, step = 2, step = 3) {base}") \
        == [(1, 2), (2, 0), (3, 1)]
    assert rows(db, f"SELECT uid, window_funnel(3600, 'strict_increase, exact_increase', ts, step = 1, step = 2, "
                    f"step = 3) {base}") == [(1, 3), (2, 0), (3, 1)]
    # NULL conditions count as false (as in WHERE); no rows: level 0.
    assert rows(db, "SELECT window_funnel(10, ts, NULL, step = 2) FROM hand WHERE uid = 1") == [(0,)]
    assert rows(db, "SELECT window_funnel(10, ts, step = 1) FROM hand WHERE false") == [(0,)]
    # As a window function over a running frame.
    got = rows(db, "SELECT window_funnel(3600, ts, step = 1, step = 2) OVER (ORDER BY ts, step) FROM hand "
                   "WHERE uid = 1 ORDER BY ts, step")
    assert [g[0] for g in got] == [1, 2, 2, 2, 2]


# --- stage reach and conversion ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def crm(db):
    df = fk.sample_crm(3000, seed=11)
    out = pd.DataFrame({"entity": df["entity"], "time": df["time"], "stage": df["stage"].astype(str),
                        "source": df["source"].astype(str), "amount": df["amount"]})
    load(db, "crm", out, {"entity": "bigint", "time": "timestamp", "stage": "text", "source": "text",
                          "amount": "float8"})
    return df


CONVERSION_SQL = """
WITH per_entity AS (
    SELECT entity, stage_reach(stage, %(ladder)s) AS reached,
           (array_agg(source ORDER BY time, source))[1] AS source
    FROM crm GROUP BY entity),
counts AS (SELECT source, conversion_counts(reached, 6) AS c FROM per_entity GROUP BY source)
SELECT source, r.stage, r.entities, r.reached, r.step_rate, r.cumulative_rate, r.lower, r.upper
FROM counts, conversion_rows(counts.c, %(ladder)s) r ORDER BY source, r.rank
"""

# The same in two steps, both of them parallel: per-entity reach into a table (the segment is
# the same on every record of an entity in the sample, so min() is the earliest record's), then
# conversion counts per source.
ENTITY_SQL = """
CREATE TABLE crm_entities AS
SELECT entity, stage_reach(stage, %(ladder)s) AS reached, min(source) AS source FROM crm GROUP BY entity
"""
COUNTS_SQL = """
WITH counts AS (SELECT source, conversion_counts(reached, 6) AS c FROM crm_entities GROUP BY source)
SELECT source, r.stage, r.entities, r.reached, r.step_rate, r.cumulative_rate, r.lower, r.upper
FROM counts, conversion_rows(counts.c, %(ladder)s) r ORDER BY source, r.rank
"""


@pytest.mark.parametrize("parallel", [False, True], ids=["serial", "parallel"])
def test_conversion_by_segment_matches_python(db, crm, parallel):
    if not parallel:
        settings(db, SERIAL)
        got = rows(db, CONVERSION_SQL, {"ladder": LADDER})
    else:
        settings(db, PARALLEL)
        literal = {"ladder": "ARRAY" + str(LADDER)}
        # stage_reach combines partial masks too (one group of every row: the union of reach).
        q_all = "SELECT stage_reach(stage, %(ladder)s) FROM crm"
        assert "Partial Aggregate" in plan(db, q_all % literal)
        assert rows(db, q_all, {"ladder": LADDER}) == [(63,)]
        db.execute("DROP TABLE IF EXISTS crm_entities")
        db.execute(ENTITY_SQL, {"ladder": LADDER})
        db.execute("ANALYZE crm_entities")
        assert "Partial" in plan(db, COUNTS_SQL % literal)
        got = rows(db, COUNTS_SQL, {"ladder": LADDER})
    reset(db)
    want = fk.conversion(crm, segment="source").without_overall().to_pandas()
    assert len(got) == len(want)
    for g, (_, w) in zip(got, want.iterrows()):
        assert g[0] == w["source"] and g[1] == w["stage"]
        assert (g[2], g[3]) == (w["entities"], w["reached"])
        for a, b in ((g[4], w["step_rate"]), (g[5], w["cumulative_rate"])):
            assert (a is None and math.isnan(b)) or a == pytest.approx(b, rel=1e-15)
        iv = fk.rate_interval(int(w["reached"]), int(want[want["source"] == w["source"]]["reached"].iloc[0]))
        assert (g[6], g[7]) == pytest.approx((iv.lower, iv.upper), rel=1e-14)


def test_conversion_merge_and_overall(db, crm):
    """The per-source states merged (conversion_merge, and the aggregate over all entities) ==
    the overall Python table; stage_reach with integer ranks == with names."""
    q = ("WITH e AS (SELECT entity, stage_reach(stage, %(l)s) r, "
         "stage_reach(coalesce(array_position(%(l)s, stage) - 1, -1), 6) AS by_rank "
         "FROM crm GROUP BY entity) SELECT bool_and(r = by_rank), conversion_counts(r, 6) FROM e")
    same, state = db.execute(q, {"l": LADDER}).fetchone()
    assert same
    merged = db.execute("WITH e AS (SELECT entity, min(source) s, stage_reach(stage, %(l)s) r FROM crm GROUP BY 1), "
                        "c AS (SELECT conversion_counts(r, 6) c FROM e GROUP BY s) "
                        "SELECT c FROM c", {"l": LADDER}).fetchall()
    total = merged[0][0]
    for (part,) in merged[1:]:
        total = db.execute("SELECT conversion_merge(%s, %s)", (total, part)).fetchone()[0]
    assert bytes(total) == bytes(state)
    want = fk.conversion(crm).to_pandas()
    got = rows(db, "SELECT reached FROM conversion_rows(%s) ORDER BY rank", (state,))
    assert [g[0] for g in got] == want["reached"].tolist()
    assert db.execute("SELECT funnelkit_state_check(%s)", (state,)).fetchone()[0] == \
        f"conversion_counts: 6 stages, {crm['entity'].nunique()} entities"
    # 'recorded': only recorded stages count.
    q2 = ("WITH e AS (SELECT entity, stage_reach(stage, %(l)s, 'recorded') r FROM crm GROUP BY 1) "
          "SELECT r.reached FROM (SELECT conversion_counts(r, 6, 'recorded') c FROM e) s, conversion_rows(s.c) r")
    want2 = fk.conversion(crm, skipped="recorded").to_pandas()
    assert [g[0] for g in rows(db, q2, {"l": LADDER})] == want2["reached"].tolist()


# --- rates -------------------------------------------------------------------------------------------

def test_rate_intervals_and_tests_match_python(db):
    rng = np.random.default_rng(3)
    for _ in range(40):
        n = int(rng.integers(0, 500))
        x = int(rng.integers(0, n + 1))
        conf = float(rng.choice([0.8, 0.9, 0.95, 0.99]))
        for method in ("wilson", "agresti_coull", "jeffreys", "clopper_pearson"):
            got = db.execute("SELECT (rate_interval(%s, %s, %s, %s)).*", (x, n, conf, method)).fetchone()
            want = fk.rate_interval(x, n, confidence=conf, interval=method)
            if n == 0:
                assert got == (None, None, None)
            else:
                assert got == pytest.approx((want.estimate, want.lower, want.upper), rel=1e-15, abs=1e-300)
        if n:
            w = db.execute("SELECT (wilson(%s, %s, %s)).*", (x, n, conf)).fetchone()
            assert w == db.execute("SELECT (rate_interval(%s, %s, %s)).*", (x, n, conf)).fetchone()
        n_b = int(rng.integers(1, 500))
        x_b = int(rng.integers(0, n_b + 1))
        for alt in ("two-sided", "larger", "smaller"):
            got = db.execute("SELECT (two_proportion_ztest(%s, %s, %s, %s, %s)).*", (x, n, x_b, n_b, alt)).fetchone()
            want = fk.two_proportion_ztest(x, n, x_b, n_b, alternative=alt)
            if want is None:
                assert got == (None, None)
            else:
                assert got == pytest.approx((want.statistic, want.p_value), rel=1e-14)
        if n:
            for yates in (True, False):
                got = db.execute("SELECT (chi2_two_proportions(%s, %s, %s, %s, %s)).*",
                                 (x, n, x_b, n_b, yates)).fetchone()
                want = fk.chi2_test(np.array([[x, n - x], [x_b, n_b - x_b]]), yates=yates)
                if want is None:
                    assert got == (None, None)
                else:
                    assert got == pytest.approx((want.statistic, want.p_value), rel=1e-12)
    # The DOMAIN example.
    lo, hi = db.execute("SELECT lower, upper FROM wilson(7, 50)").fetchone()
    assert (round(lo, 6), round(hi, 6)) == (0.069508, 0.261862)


# --- velocity ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def deals(db, crm):
    opps = fk.opportunities_from_stages(crm).to_pandas()
    df = pd.DataFrame({"entity": opps["entity"], "source": opps["source"].astype(str), "created": opps["created"],
                       "closed": opps["closed"], "outcome": opps["outcome"], "amount": opps["amount"],
                       "sql_time": opps["sql_time"], "first_touch": opps["first_touch"]})
    load(db, "deals", df, {"entity": "bigint", "source": "text", "created": "timestamp", "closed": "timestamp",
                           "outcome": "text", "amount": "float8", "sql_time": "timestamp",
                           "first_touch": "timestamp"})
    return df


VELOCITY_COLUMNS = ["n", "won", "lost", "won_amount", "lost_amount", "deal_value", "win_rate", "cycle_length",
                    "velocity", "status", "reason", "velocity_per_period", "realised", "period_length",
                    "cycle_deals", "cycle_missing", "ci_lower", "ci_upper", "as_of", "observed", "partial", "basis"]
# Options of the velocity aggregate taken with every word; cycle_from has its own tests, with
# the aggregate that takes the sql_time and first_touch columns.
VELOCITY_KEYS = ("count", "win_rate", "cycle_over", "cycle_stat")


def option_words(db, key: str) -> list[str]:
    """The words the library's C++ parser accepts for option `key`, as it lists them when it
    refuses an unknown word: the SQL function takes the same words."""
    import psycopg

    with pytest.raises(psycopg.Error, match=f"option '{key}'") as err:
        db.execute(f"SELECT velocity(0, 1, 'won', 1, 0, 10, 1::float8, '{key}=no_such_word')").fetchall()
    accepted = str(err.value).split("is not one of", 1)[1]
    words = re.findall(r"'([a-z_]+)'", accepted)
    assert len(words) >= 2, str(err.value)
    return words


def velocity_option_sets(db) -> list[str]:
    """The defaults, then each word of each option (the others at their defaults), then a few
    combinations."""
    out = [""]
    for key in VELOCITY_KEYS:
        out += [f"{key}={word}" for word in option_words(db, key)]
    out += ["count=open_at_start,win_rate=value,cycle_over=won,cycle_stat=median",
            "count=created_per_period,cycle_stat=median", "count=vendor,win_rate=value,cycle_over=won"]
    return out


def python_velocity(df, options: str, **kw) -> pd.DataFrame:
    """fk.velocity with the options of an SQL options string (a deprecated alias warns; the
    numbers are what count here)."""
    opts = dict(o.split("=") for o in options.split(",")) if options else {}
    for k in ("bootstrap", "seed"):
        if k in opts:
            opts[k] = int(opts[k])
    if "confidence" in opts:
        opts["confidence"] = float(opts["confidence"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return fk.velocity(df, **kw, **opts).to_pandas()


def assert_velocity_row(got, want, options: str) -> None:
    """One velocity_result row against one row of fk.velocity's table, field by field (as_of,
    which the table keeps in explain(), only where the expected row is given one)."""
    assert len(got) == len(VELOCITY_COLUMNS)
    for name, value in zip(VELOCITY_COLUMNS, got):
        expected = want[name] if name in want.index else None
        where = f"{name} with options {options!r}"
        if name in ("reason", "as_of") and expected is None:
            continue
        if name in ("status", "reason", "basis", "partial", "as_of"):
            assert value == expected, where
        elif value is None:
            assert expected is None or pd.isna(expected), where
        else:
            assert expected is not None and not pd.isna(expected), where
            assert value == pytest.approx(float(expected), rel=1e-12, abs=1e-12), where


@pytest.mark.parametrize("parallel", [False, True], ids=["serial", "parallel"])
def test_velocity_by_source_matches_python(db, deals, parallel):
    """Every field of velocity_result against fk.velocity on the sample deals, for every option
    word the parser accepts, per source and overall, serial and in parallel plans."""
    start, end = pd.Timestamp("2024-03-01"), pd.Timestamp("2024-09-01")
    for options in velocity_option_sets(db):
        extra = f", '{options}'" if options else ""
        q = (f"SELECT source, (v).* FROM (SELECT source, velocity(created, closed, outcome, amount, "
             f"'{start}'::timestamp, '{end}'::timestamp{extra}) AS v FROM deals GROUP BY source) s ORDER BY source")
        settings(db, PARALLEL if parallel else SERIAL)
        got = rows(db, q)
        if parallel:
            assert "Partial" in plan(db, q)
        reset(db)
        want = python_velocity(deals, options, edges=[start, end], segment="source")
        overall = want[want["source"] == "(all)"].iloc[0]
        want = want[want["source"] != "(all)"].sort_values("source")
        assert [g[0] for g in got] == want["source"].tolist()
        for g, (_, w) in zip(got, want.iterrows()):
            assert_velocity_row(g[1:], w, options)
        # The overall row: the aggregate without GROUP BY.
        q_all = (f"SELECT (velocity(created, closed, outcome, amount, '{start}'::timestamp, "
                 f"'{end}'::timestamp{extra})).* FROM deals")
        assert_velocity_row(db.execute(q_all).fetchone(), overall, options)


def test_velocity_default_is_the_time_averaged_pipeline(db, deals):
    """With no options N is the time-averaged open pipeline (fractional), L is over all closed
    deals, and realised won revenue per day sits beside V."""
    start, end = pd.Timestamp("2024-03-01"), pd.Timestamp("2024-09-01")
    v = db.execute(f"SELECT (v).n, (v).period_length, (v).realised, (v).won_amount, (v).velocity, "
                   f"(v).velocity_per_period, (v).cycle_deals, (v).won + (v).lost FROM (SELECT velocity(created, "
                   f"closed, outcome, amount, '{start}'::timestamp, '{end}'::timestamp) v FROM deals) s").fetchone()
    n, length, realised, won_amount, velocity, per_period, cycle_deals, closed = v
    assert length == (end - start).days
    assert realised == pytest.approx(won_amount / length, rel=1e-15)
    assert per_period == pytest.approx(velocity * length, rel=1e-15)
    assert cycle_deals == closed
    # N by hand: the days each deal is open inside the period, over the period's days.
    c = deals["created"].clip(lower=start, upper=end)
    e = deals["closed"].fillna(end).clip(lower=start, upper=end)
    assert n == pytest.approx(((e - c).dt.total_seconds().clip(lower=0).sum() / 86400) / length, rel=1e-12)
    assert n != round(n)


def test_velocity_bootstrap_interval(db, deals):
    """bootstrap=R gives fk.velocity's percentile interval, serial and parallel alike (the
    interval depends on the deals as a set and the seed, not on their order)."""
    start, end = pd.Timestamp("2024-03-01"), pd.Timestamp("2024-09-01")
    options = "bootstrap=200,confidence=0.9,seed=5"
    q = (f"SELECT source, (v).* FROM (SELECT source, velocity(created, closed, outcome, amount, "
         f"'{start}'::timestamp, '{end}'::timestamp, '{options}') AS v FROM deals GROUP BY source) s ORDER BY source")
    settings(db, SERIAL)
    serial = rows(db, q)
    settings(db, PARALLEL)
    parallel = rows(db, q)
    reset(db)
    assert serial == parallel
    assert any(g[17] is not None for g in serial)
    # Each group is the whole of what the aggregate sees, so its resampling stream is that of
    # fk.velocity's overall row on the group's deals (a segment row of one call draws its own).
    for g in serial:
        want = python_velocity(deals[deals["source"] == g[0]], options, edges=[start, end]).iloc[0]
        assert_velocity_row(g[1:], want, options)


def test_velocity_random_deals(db):
    """Random deals, integer times (seconds, L in days) and timestamptz, every option word:
    every field against fk.velocity."""
    rng = np.random.default_rng(21)
    n = 3000
    created = rng.integers(0, 200 * 86400, n)
    outcome = rng.choice(["won", "lost", "open"], n, p=[0.3, 0.4, 0.3])
    closed = np.where(outcome == "open", -1, created + rng.integers(0, 90 * 86400, n))
    df = pd.DataFrame({"seg": rng.integers(0, 3, n), "created": created,
                       "closed": pd.array(np.where(closed < 0, None, closed), dtype="Int64"),
                       "outcome": outcome, "amount": rng.gamma(2.0, 5000.0, n).round(2)})
    load(db, "rdeals", df, {"seg": "integer", "created": "bigint", "closed": "bigint", "outcome": "text",
                            "amount": "float8"})
    db.execute("CREATE OR REPLACE VIEW rdeals_ts AS SELECT seg, to_timestamp(created) AS created, "
               "to_timestamp(closed) AS closed, outcome, amount FROM rdeals")
    start, end = 30 * 86400, 150 * 86400
    for options in velocity_option_sets(db):
        want = python_velocity(df, options, edges=[start, end], segment="seg")
        want = want[want["seg"] != "(all)"].sort_values("seg")
        extra = f", '{options}'" if options else ""
        # Integer times name their unit in the options (the basis says unit=day, as in Python).
        named = f", '{options + ',' if options else ''}unit_name=day'"
        got_int = rows(db, f"SELECT seg, (v).* FROM (SELECT seg, velocity(created, closed, outcome, amount, "
                           f"{start}, {end}, 86400{named}) v FROM rdeals GROUP BY seg) s ORDER BY seg")
        got_ts = rows(db, f"SELECT seg, (v).* FROM (SELECT seg, velocity(created, closed, outcome, amount, "
                          f"to_timestamp({start}), to_timestamp({end}){extra}) v FROM rdeals_ts GROUP BY seg) s "
                          f"ORDER BY seg")
        for got in (got_int, got_ts):
            assert [g[0] for g in got] == want["seg"].astype(int).tolist()
            for g, (_, w) in zip(got, want.iterrows()):
                assert_velocity_row(g[1:], w, options)


def test_velocity_integer_times(db):
    """bigint times with the unit of L in ticks: the hand-worked example of the C ABI test.
    Deals open days 0..10 (won 1000), 5..35 (won 3000), 6..20 (lost 500), from 7 on (open):
    N = (10 + 30 + 14 + 93) / 100 = 1.47, D = 2000, W = 2/3, L = (10 + 30 + 14) / 3 = 18."""
    day = 86400
    db.execute("DROP TABLE IF EXISTS d")
    db.execute("CREATE TABLE d (created bigint, closed bigint, outcome text, amount float8)")
    db.execute(f"INSERT INTO d VALUES (0, {10 * day}, 'won', 1000), ({5 * day}, {35 * day}, 'won', 3000), "
               f"({6 * day}, {20 * day}, 'lost', 500), ({7 * day}, NULL, 'open', 800)")

    def velocity(options: str = ""):
        extra = f", '{options}'" if options else ""
        row = db.execute(f"SELECT (velocity(created, closed, outcome, amount, 0, {100 * day}, {day}::float8{extra})).* "
                         "FROM d").fetchone()
        return dict(zip(VELOCITY_COLUMNS, row))

    v = velocity()
    assert v["n"] == pytest.approx(1.47, rel=1e-14)
    assert (v["won"], v["lost"], v["cycle_deals"], v["status"]) == (2, 1, 3, "ok")
    assert v["cycle_length"] == pytest.approx(18.0, rel=1e-14)
    assert v["velocity"] == pytest.approx(1.47 * 2000 * (2 / 3) / 18, rel=1e-12)
    assert v["velocity_per_period"] == pytest.approx(1.47 * 2000 * (2 / 3) / 18 * 100, rel=1e-12)
    assert (v["period_length"], v["realised"]) == (100.0, 40.0)
    assert (v["ci_lower"], v["ci_upper"]) == (None, None)
    v = velocity("count=created_per_period")
    assert v["n"] == 4
    assert v["velocity"] == pytest.approx(4 * 2000 * (2 / 3) / 100, rel=1e-12)
    assert v["velocity_per_period"] == pytest.approx(4 * 2000 * (2 / 3), rel=1e-12)
    v = velocity("count=vendor,cycle_over=won")
    assert v["velocity"] == pytest.approx(4 * 2000 * (2 / 3) / 20, rel=1e-12)
    # created_in_period: the deprecated name of the vendor figure, with its meaning.
    assert velocity("count=created_in_period,cycle_over=won")["velocity"] == v["velocity"]


def test_velocity_cycle_from_words(db):
    """The SQL options take the library's cycle_from words, sql and first_touch among them."""
    assert set(option_words(db, "cycle_from")) == {"created", "sql", "first_touch"}


def starts_sql(table: str, group: str, start: str, end: str, options: str, as_of: str | None = None) -> str:
    """The velocity aggregate over deal rows with their cycle starts, per `group` (or overall)."""
    at = f", {as_of}" if as_of else ""
    call = f"velocity(created, closed, outcome, amount, sql_time, first_touch, {start}, {end}{at}, '{options}')"
    if not group:
        return f"SELECT ({call}).* FROM {table}"
    return f"SELECT {group}, (v).* FROM (SELECT {group}, {call} AS v FROM {table} GROUP BY {group}) s ORDER BY {group}"


@pytest.mark.parametrize("parallel", [False, True], ids=["serial", "parallel"])
def test_velocity_cycle_from_matches_python(db, deals, parallel):
    """cycle_from=created, sql and first_touch through the aggregate that takes the sql_time and
    first_touch columns: every field of velocity_result against fk.velocity with the same
    columns, for every option set, per source and overall, serial and in parallel plans."""
    start, end = pd.Timestamp("2024-03-01"), pd.Timestamp("2024-09-01")
    bounds = (f"'{start}'::timestamp", f"'{end}'::timestamp")
    for cycle_from in ("created", "sql", "first_touch"):
        for options in velocity_option_sets(db):
            opts = ",".join(x for x in (options, f"cycle_from={cycle_from}") if x)
            q = starts_sql("deals", "source", *bounds, opts)
            settings(db, PARALLEL if parallel else SERIAL)
            got = rows(db, q)
            if parallel:
                assert "Partial" in plan(db, q)
            overall_got = db.execute(starts_sql("deals", "", *bounds, opts)).fetchone()
            reset(db)
            want = python_velocity(deals, opts, edges=[start, end], segment="source", sql_time="sql_time",
                                   first_touch="first_touch")
            overall = want[want["source"] == "(all)"].iloc[0]
            want = want[want["source"] != "(all)"].sort_values("source")
            assert [g[0] for g in got] == want["source"].tolist()
            for g, (_, w) in zip(got, want.iterrows()):
                assert_velocity_row(g[1:], w, opts)
            assert_velocity_row(overall_got, overall, opts)
            assert overall_got[VELOCITY_COLUMNS.index("basis")].startswith(
                f"count={overall['basis'].split(',')[0].split('=')[1]}, ")
    # L from the SQL time differs from L from creation on the sample (the choice matters).
    ls = [db.execute(starts_sql("deals", "", *bounds, f"cycle_from={c}")).fetchone()[7]
          for c in ("created", "sql", "first_touch")]
    assert len(set(ls)) == 3


def random_deals_with_starts(seed: int, n: int) -> pd.DataFrame:
    """Deals in integer seconds with first touches before creation and SQL times between creation
    and close, each missing on some rows (those rows are left out of L and counted in
    cycle_missing)."""
    rng = np.random.default_rng(seed)
    created = rng.integers(0, 200 * 86400, n)
    outcome = rng.choice(["won", "lost", "open"], n, p=[0.3, 0.4, 0.3])
    closed = np.where(outcome == "open", -1, created + rng.integers(0, 90 * 86400, n))
    first_touch = created - rng.integers(0, 40 * 86400, n)
    sql_time = created + rng.integers(0, 30 * 86400, n)
    sql_time = np.where(closed >= 0, np.minimum(sql_time, closed), sql_time)

    def nullable(values, missing):
        return pd.array(np.where(missing, None, values), dtype="Int64")

    return pd.DataFrame({"seg": rng.integers(0, 3, n), "created": created,
                         "closed": nullable(closed, closed < 0), "outcome": outcome,
                         "amount": rng.gamma(2.0, 5000.0, n).round(2),
                         "sql_time": nullable(sql_time, rng.random(n) < 0.25),
                         "first_touch": nullable(first_touch, rng.random(n) < 0.1)})


def test_velocity_cycle_from_random_deals(db):
    """Random deals with missing cycle starts, integer times and timestamptz, every cycle_from
    and a few option sets: every field against fk.velocity (cycle_missing counts the deals
    without the chosen start)."""
    df = random_deals_with_starts(23, 2500)
    load(db, "sdeals", df, {"seg": "integer", "created": "bigint", "closed": "bigint", "outcome": "text",
                            "amount": "float8", "sql_time": "bigint", "first_touch": "bigint"})
    db.execute("CREATE OR REPLACE VIEW sdeals_ts AS SELECT seg, to_timestamp(created) AS created, "
               "to_timestamp(closed) AS closed, outcome, amount, to_timestamp(sql_time) AS sql_time, "
               "to_timestamp(first_touch) AS first_touch FROM sdeals")
    start, end = 30 * 86400, 150 * 86400
    missing = []
    for cycle_from in ("created", "sql", "first_touch"):
        for options in ("", "cycle_stat=median", "cycle_over=won,count=open_at_start", "count=created_per_period",
                        "win_rate=value,cycle_stat=median,cycle_over=won"):
            opts = ",".join(x for x in (options, f"cycle_from={cycle_from}") if x)
            want = python_velocity(df, opts, edges=[start, end], segment="seg", sql_time="sql_time",
                                   first_touch="first_touch")
            want = want[want["seg"] != "(all)"].sort_values("seg")
            got_int = rows(db, starts_sql("sdeals", "seg", str(start), f"{end}, 86400", opts + ",unit_name=day"))
            got_ts = rows(db, starts_sql("sdeals_ts", "seg", f"to_timestamp({start})", f"to_timestamp({end})", opts))
            for got in (got_int, got_ts):
                assert [g[0] for g in got] == want["seg"].astype(int).tolist()
                for g, (_, w) in zip(got, want.iterrows()):
                    assert_velocity_row(g[1:], w, opts)
            missing.append(sum(g[VELOCITY_COLUMNS.index("cycle_missing") + 1] for g in got_int))
    assert missing[:5] == [0] * 5 and min(missing[5:]) > 0  # created never misses; sql_time and first_touch do


def test_velocity_as_of_and_partial_periods(db, deals):
    """A period running past the end of the data is partial: observed is the share of it up to
    as_of. Without as_of the end of the data is the latest time among the aggregate's rows (per
    group); with as_of every group shares it, as the segments of one fk.velocity call do."""
    start, end = pd.Timestamp("2024-10-01"), pd.Timestamp("2025-04-01")
    bounds = f"'{start}'::timestamp, '{end}'::timestamp"
    # Default: the latest created or closed time of all deals (sql_time and first_touch too in
    # the aggregate that takes them), by hand.
    latest = max(deals["created"].max(), deals["closed"].max())
    latest_all = max(latest, deals["sql_time"].max(), deals["first_touch"].max())
    got = db.execute(f"SELECT (velocity(created, closed, outcome, amount, {bounds})).* FROM deals").fetchone()
    want = python_velocity(deals, "", edges=[start, end]).iloc[0].copy()
    want["as_of"] = latest.to_pydatetime()
    assert_velocity_row(got, want, "")
    assert got[VELOCITY_COLUMNS.index("partial")] is True
    assert got[VELOCITY_COLUMNS.index("observed")] == pytest.approx((latest - start) / (end - start), rel=1e-12)
    got = db.execute(starts_sql("deals", "", f"'{start}'::timestamp", f"'{end}'::timestamp", "")).fetchone()
    assert got[VELOCITY_COLUMNS.index("as_of")] == latest_all.to_pydatetime()

    # An explicit as_of, per source: every row as fk.velocity's segment rows with that as_of.
    as_of = pd.Timestamp("2024-12-15 12:00")
    for options in ("", "count=created_per_period,cycle_from=sql"):
        q = (f"SELECT source, (v).* FROM (SELECT source, velocity(created, closed, outcome, amount, sql_time, "
             f"first_touch, {bounds}, '{as_of}'::timestamp, '{options}') v FROM deals GROUP BY source) s "
             f"ORDER BY source")
        got = rows(db, q)
        want = python_velocity(deals, options, edges=[start, end], segment="source", as_of=as_of,
                               sql_time="sql_time", first_touch="first_touch")
        want = want[want["source"] != "(all)"].sort_values("source")
        for g, (_, w) in zip(got, want.iterrows()):
            w = w.copy()
            w["as_of"] = as_of.to_pydatetime()
            assert_velocity_row(g[1:], w, options)
            assert g[1 + VELOCITY_COLUMNS.index("observed")] == pytest.approx(
                (as_of - start) / (end - start), rel=1e-12)
    # The as_of shape without the cycle starts; an as_of after the period: a whole period.
    q = f"SELECT (velocity(created, closed, outcome, amount, {bounds}, '2025-06-01'::timestamp, '')).* FROM deals"
    got = dict(zip(VELOCITY_COLUMNS, db.execute(q).fetchone()))
    assert (got["partial"], got["observed"]) == (False, 1.0)
    # timestamptz gives as_of as timestamptz, bigint as bigint.
    got = db.execute(f"SELECT (v).as_of, (v).observed FROM (SELECT velocity(created::timestamptz, "
                     f"closed::timestamptz, outcome, amount, '{start}'::timestamptz, '{end}'::timestamptz, "
                     f"'{as_of}'::timestamptz, '') v FROM deals) s").fetchone()
    assert pd.Timestamp(got[0]) == as_of.tz_localize("UTC")
    got = db.execute("SELECT (velocity(0, 10, 'won', 5, 0, 100, 40, 1::float8, '')).as_of").fetchone()
    assert got == (40,)


def test_velocity_integer_times_with_starts(db):
    """The hand-worked example with cycle starts in bigint ticks: SQL times 4, 15 and 10 days
    (won A, won B, lost C), first touches 0, 1 and 2 days before creation. L from the SQL time =
    (10-4 + 35-15 + 20-10) / 3 = 12 days; from the first touch (10 + 31 + 16) / 3 = 19 days.
    With as_of = 60 days the period [0, 100 days) is partial, observed 0.6."""
    day = 86400
    db.execute("DROP TABLE IF EXISTS d2")
    db.execute("CREATE TABLE d2 (created bigint, closed bigint, outcome text, amount float8, sql_time bigint, "
               "first_touch bigint)")
    db.execute(f"INSERT INTO d2 VALUES (0, {10 * day}, 'won', 1000, {4 * day}, 0), "
               f"({5 * day}, {35 * day}, 'won', 3000, {15 * day}, {4 * day}), "
               f"({6 * day}, {20 * day}, 'lost', 500, {10 * day}, {4 * day}), "
               f"({7 * day}, NULL, 'open', 800, NULL, NULL)")

    def velocity(options: str, as_of: str = ""):
        at = f", {as_of}" if as_of else ""
        row = db.execute(f"SELECT (velocity(created, closed, outcome, amount, sql_time, first_touch, 0, {100 * day}"
                         f"{at}, {day}::float8, '{options}')).* FROM d2").fetchone()
        return dict(zip(VELOCITY_COLUMNS, row))

    assert velocity("cycle_from=sql")["cycle_length"] == pytest.approx(12.0, rel=1e-14)
    v = velocity("cycle_from=first_touch,unit_name=day")
    assert v["cycle_length"] == pytest.approx(19.0, rel=1e-14)
    assert v["basis"] == "count=average_open, win_rate=count, cycle_from=first_touch, cycle_over=closed, " \
                         "cycle_stat=mean, unit=day"
    assert (v["as_of"], v["partial"], v["observed"]) == (35 * day, True, 0.35)
    v = velocity("cycle_from=sql", str(60 * day))
    assert (v["as_of"], v["partial"], v["observed"]) == (60 * day, True, pytest.approx(0.6, rel=1e-15))
    assert v["basis"].endswith("unit=86400 ticks")
    assert velocity("")["cycle_length"] == pytest.approx(18.0, rel=1e-14)


# --- the reverse funnel ----------------------------------------------------------------------------

def test_reverse_funnel_matches_python(db):
    steps = [("Lead", 0.5), ("Connect", 0.6), ("Discovery", 0.5), ("Demo", 1 / 3)]
    for goal in (40000, 35000):
        for rounding in ("deals_first", "chained", "round_once"):
            got = rows(db, "SELECT * FROM reverse_funnel(%s, 800, %s, %s, periods => 3, reps => 10, "
                           "rounding => %s)", (goal, [s for s, _ in steps], [r for _, r in steps], rounding))
            want = fk.plan_reverse_funnel(goal=goal, deal_value=800, steps=steps, periods=3, reps=10,
                                          rounding=rounding).to_pandas()
            assert [g[0] for g in got] == want["stage"].tolist()
            for col, k in (("volume", 4), ("per_period", 5), ("per_rep_per_period", 6), ("rate_to_won", 2)):
                assert [g[k] for g in got] == want[col].tolist(), (goal, rounding, col)
        # 'from_goal', the former name of 'deals_first', still reads in SQL.
        assert rows(db, "SELECT * FROM reverse_funnel(%s, 800, %s, %s, rounding => 'from_goal')",
                    (goal, [s for s, _ in steps], [r for _, r in steps])) == \
            rows(db, "SELECT * FROM reverse_funnel(%s, 800, %s, %s)", (goal, [s for s, _ in steps], [r for _, r in steps]))
    vol = [g[0] for g in rows(db, "SELECT volume FROM reverse_funnel(40000, 800, ARRAY['Lead','Connect','Discovery',"
                                  "'Demo'], ARRAY[0.5, 0.6, 0.5, 1.0/3])")]
    assert vol == [1000, 500, 300, 150, 50]


# --- bad input -------------------------------------------------------------------------------------

BAD = [
    ("SELECT window_funnel(-1, ts, step = 1) FROM hand", "option 'window'"),
    ("SELECT window_funnel(NULL::bigint, ts, step = 1) FROM hand", "argument 'window' is NULL"),
    ("SELECT window_funnel(10, NULL::bigint, step = 1) FROM hand", "argument 'timestamp' is NULL"),
    ("SELECT window_funnel(10, 'strict_ordr', ts, step = 1) FROM hand", "strict_ordr"),
    ("SELECT window_funnel(10, 'allow_reentry', ts, step = 1) FROM hand", "requires strict_order"),
    ("SELECT window_funnel(10, ts, VARIADIC ARRAY[]::boolean[]) FROM hand", "1 to 64 conditions, got 0"),
    ("SELECT window_funnel(10, ts, " + ", ".join(["step = 1"] * 65) + ") FROM hand", "1 to 64 conditions, got 65"),
    ("SELECT window_funnel(uid::bigint, ts, step = 1) FROM hand", "must be constant"),
    ("SELECT window_funnel(interval '1 month', now()::timestamp, true)", "no fixed length"),
    ("SELECT window_funnel(interval '1 hour', 'infinity'::timestamp, true)", "infinite"),
    ("SELECT window_funnel(10, 9223372036854775800, true)", "overflows"),
    ("SELECT window_funnel_counts(5, 4)", "level 5 is not 0 to 4"),
    ("SELECT window_funnel_counts(x, 3 + x) FROM (VALUES (0), (1)) v(x)", "must be constant"),
    ("SELECT * FROM window_funnel_rows('FKWF'::bytea)", "cannot deserialise window_funnel_counts"),
    ("SELECT stage_reach(7, 6)", "rank"),
    ("SELECT stage_reach(NULL::int, 6)", "argument 'rank' is NULL"),
    ("SELECT stage_reach('Lead', ARRAY['Lead'], 'sometimes')", "option 'skipped'"),
    ("SELECT conversion_counts(5, 3)", "misses a stage"),
    ("SELECT conversion_counts(x, 3) FROM (VALUES (1::bigint), (NULL)) v(x)", "argument 'reached' is NULL"),
    ("SELECT * FROM conversion_rows('\\x00'::bytea)", "cannot deserialise"),
    ("SELECT funnelkit_state_check('FKEV'::bytea)", "cannot deserialise fk_events"),
    ("SELECT funnelkit_state_check('FKDL'::bytea)", "cannot deserialise fk_deals"),
    ("SELECT funnelkit_state_check('FKWFxx'::bytea)", "cannot deserialise window_funnel_counts"),
    ("SELECT * FROM wilson(8, 5)", "successes"),
    ("SELECT * FROM rate_interval(1, 5, 1.5)", "confidence"),
    ("SELECT * FROM rate_interval(1, 5, 0.9, 'wilsn')", "interval"),
    ("SELECT * FROM two_proportion_ztest(1, 5, 1, 5, 'bigger')", "alternative"),
    ("SELECT * FROM wilson(NULL, 5)", "argument 'successes' is NULL"),
    ("SELECT velocity(1, 0, 'won', 1, 0, 10, 1) ", "closed"),
    ("SELECT velocity(0, 1, 'maybe', 1, 0, 10, 1)", "outcome"),
    ("SELECT velocity(0, 1, 'won', 'NaN', 0, 10, 1)", "amount"),
    ("SELECT velocity(0, 1, 'won', 1, 10, 0, 1)", "period_end"),
    ("SELECT velocity(now(), now(), 'won', 1, now(), now() + interval '1 day', 'colour=blue')", "options"),
    ("SELECT velocity(0, 1, 'won', 1, 0, 10, 1::float8, 'count=sometimes')", "option 'count'"),
    ("SELECT velocity(0, 1, 'won', 1, 0, 10, 1::float8, 'cycle_from=sql')", "option 'cycle_from'"),
    ("SELECT velocity(0, 1, 'won', 1, 0, 10, 1::float8, 'bootstrap=-5')", "option 'bootstrap'"),
    ("SELECT velocity(0, 1, 'won', 1, 0, 10, 1::float8, 'confidence=1')", "option 'confidence'"),
    ("SELECT velocity(0, 1, 'won', 1, 0, 10, 1::float8, 'cycle_from=first_touch')", "option 'cycle_from'"),
    ("SELECT velocity(0, 1, 'won', 1, 0, 10, 1::float8, 'cycle_from=sqltime')", "option 'cycle_from'"),
    ("SELECT velocity(0, 1, 'won', 1, 0, 10, 1::float8, 'count=vendor,count=vendor')", "given twice"),
    ("SELECT velocity(0, 1, 'won', 1, 0, 10, 1::float8, 'as_of=soon')", "option 'as_of'"),
    ("SELECT velocity(0, 1, 'won', 1, 0, 10, 5, 1::float8, 'as_of=5')", "given twice"),
    ("SELECT velocity(0, 1, 'won', 1, 0, 10, NULL::bigint, 1::float8, '')", "argument 'as_of' is NULL"),
    ("SELECT velocity(0, 1, 'won', 1, 0, 10, 5, NULL::float8, '')", "argument 'unit' is NULL"),
    ("SELECT velocity(now(), now(), 'won', 1, now(), now() + interval '1 day', 'infinity'::timestamptz, '')",
     "argument 'as_of' is an infinite timestamp"),
    ("SELECT velocity(now(), now(), 'won', 1, now(), now() + interval '1 day', 'unit_name=week')", "given twice"),
    ("SELECT velocity(0, 5, 'won', 1, 7, NULL::bigint, 0, 10, 1::float8, 'cycle_from=sql')", "sql_time"),
    ("SELECT velocity(0, 5, 'won', 1, NULL::bigint, 6, 0, 10, 1::float8, 'cycle_from=first_touch')", "first_touch"),
    ("SELECT velocity(NULL::bigint, 5, 'won', 1, 1, 0, 0, 10, 1::float8, '')", "argument 'created' is NULL"),
    ("SELECT velocity(5, 1, 'won', 1, 1, 0, 0, 10, 1::float8, 'cycle_from=sql')", "closed"),
    ("SELECT velocity(0, 5, NULL, 1, 1, 0, 0, 10, 1::float8, '')", "argument 'outcome' is NULL"),
    ("SELECT velocity(0, 5, 'won', 1, 1, 0, 10, 0, 1::float8, '')", "period_end"),
    ("SELECT velocity(0, 5, 'won', 1, 1, 0, 0, 10, NULL::bigint, 1::float8, '')", "argument 'as_of' is NULL"),
    ("SELECT velocity(0, 5, 'won', 1, 1, 0, 0, 10, 3, 1::float8, 'cycle_from=nowhere')", "option 'cycle_from'"),
    ("SELECT velocity(now(), now(), 'won', 1, 'infinity'::timestamp, NULL::timestamp, now()::timestamp, "
     "now()::timestamp + interval '1 day', 'cycle_from=sql')", "argument 'sql_time' is an infinite timestamp"),
    ("SELECT velocity(x, 5, 'won', 1, 1, 0, 0, 10, x, 1::float8, '') FROM (VALUES (0::bigint), (1)) v(x)",
     "option 'as_of': value 1 differs from the 0 of earlier rows"),
    ("SELECT velocity(0, 5, 'won', 1, 0, 10, 1::float8, o) FROM (VALUES ('count=vendor'), ('')) v(o)",
     "option 'count': value \\(not given\\) differs from the vendor of earlier rows"),
    ("SELECT * FROM reverse_funnel(100, 10, ARRAY['a'], ARRAY[0.0])", "rate"),
    ("SELECT * FROM reverse_funnel(100, 10, ARRAY['a', 'b'], ARRAY[0.5])", "2 stages but 1 rates"),
]


@pytest.mark.parametrize("sql,message", BAD, ids=[m for _, m in BAD])
def test_bad_input_is_an_sql_error(db, sql, message):
    import psycopg

    db.execute("CREATE TABLE IF NOT EXISTS hand (uid int, ts bigint, step int)")
    if not db.execute("SELECT count(*) FROM hand").fetchone()[0]:
        db.execute("INSERT INTO hand VALUES (1,0,1),(1,10,2),(2,0,2)")
    with pytest.raises(psycopg.Error, match=message):
        db.execute(sql).fetchall()
    assert db.execute("SELECT 1").fetchone() == (1,)  # the backend lives on


def test_corrupted_states_are_refused(db, crm):
    """Every byte of a conversion state flipped: an SQL error (checksum), never a crash."""
    import psycopg

    state = bytes(db.execute("WITH e AS (SELECT stage_reach(stage, %s) r FROM crm GROUP BY entity) "
                             "SELECT conversion_counts(r, 6) FROM e", (LADDER,)).fetchone()[0])
    for i in range(0, len(state)):
        bad = bytearray(state)
        bad[i] ^= 0x01
        with pytest.raises(psycopg.Error, match="cannot deserialise"):
            db.execute("SELECT * FROM conversion_rows(%s)", (bytes(bad),)).fetchall()
    with pytest.raises(psycopg.Error, match="cannot deserialise"):
        db.execute("SELECT conversion_merge(%s, %s)", (state, state[:-1])).fetchall()


def test_zz_server_log_has_no_crash(server):
    assert server.crashes() == []


# --- the BI example ---------------------------------------------------------------------------

def test_bi_example_views(server):
    """examples/sql: load the sample, create the views, and check them against Python."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "examples" / "sql" / "load_sample.py"
    spec = importlib.util.spec_from_file_location("load_sample", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    with server.connect() as conn:
        conn.execute("CREATE DATABASE bi")
    conninfo = server.conninfo.replace("dbname=postgres", "dbname=bi")
    mod.load(conninfo, leads=4000, seed=5)
    crm = fk.sample_crm(4000, seed=5)
    import psycopg

    with psycopg.connect(conninfo) as conn:
        got = conn.execute("SELECT source, stage, reached, cumulative_rate FROM funnel_by_source "
                           "ORDER BY source = '(all)' DESC, source, rank").fetchall()
        want = fk.conversion(crm, segment="source").to_pandas()
        assert [(g[0], g[1], g[2]) for g in got] == list(zip(want["source"], want["stage"], want["reached"]))
        tests = conn.execute("SELECT source, z, p_value FROM source_vs_rest ORDER BY source").fetchall()
        assert len(tests) == crm["source"].nunique() and all(0 <= t[2] <= 1 for t in tests)
        weeks = conn.execute("SELECT sum(entities) FILTER (WHERE step = 1), sum(reached) FILTER (WHERE step = 4) "
                             "FROM event_funnel_by_week").fetchone()
        assert weeks[0] == crm["entity"].nunique()
        wf = fk.window_funnel(crm, window="60d", steps=["Lead", "MQL", "SQL", "Customer"], step="stage")
        assert weeks[1] == wf.reached[4]
        vel = conn.execute("SELECT count(*), count(velocity_per_day) FROM velocity_by_source").fetchone()
        assert vel[0] > 0 and vel[1] > 0
        # The busiest source and quarter against fk.velocity: N the time-averaged open pipeline,
        # V, and the realised won revenue per day beside it.
        row = conn.execute("SELECT source, period_start, avg_open_opportunities, velocity_per_day, "
                           "realised_per_day, velocity_per_quarter, days FROM velocity_by_source "
                           "WHERE velocity_per_day IS NOT NULL ORDER BY won + lost DESC, source, period_start "
                           "LIMIT 1").fetchone()
        source, q0 = row[0], pd.Timestamp(row[1])
        q1 = q0 + pd.DateOffset(months=3)
        want = fk.velocity(fk.opportunities_from_stages(crm).to_pandas(), edges=[q0, q1],
                           segment="source").to_pandas()
        want = want[want["source"] == source].iloc[0]
        assert row[2] == pytest.approx(want["n"], rel=1e-12)
        assert row[3] == pytest.approx(want["velocity"], rel=1e-12)
        assert row[4] == pytest.approx(want["realised"], rel=1e-12)
        assert row[5] == pytest.approx(want["velocity_per_period"], rel=1e-12)
        assert row[6] == (q1 - q0).days
        # L from the SQL stage, and the partial last quarter (every source shares one as_of).
        got = conn.execute("SELECT cycle_days_from_sql, velocity_per_day_from_sql FROM velocity_by_source "
                           "WHERE source = %s AND period_start = %s", (source, row[1])).fetchone()
        opps = fk.opportunities_from_stages(crm).to_pandas()
        want = fk.velocity(opps, edges=[q0, q1], segment="source", cycle_from="sql", sql_time="sql_time",
                           first_touch="first_touch").to_pandas()
        want = want[want["source"] == source].iloc[0]
        assert got == pytest.approx((want["cycle_length"], want["velocity"]), rel=1e-12)
        last = conn.execute("SELECT max(period_start) FROM velocity_by_source").fetchone()[0]
        flags = conn.execute("SELECT DISTINCT partial, observed_share FROM velocity_by_source "
                             "WHERE period_start = %s", (last,)).fetchall()
        l0 = pd.Timestamp(last)
        want = fk.velocity(opps, edges=[l0, l0 + pd.DateOffset(months=3)], sql_time="sql_time",
                           first_touch="first_touch").to_pandas().iloc[0]
        assert flags == [(bool(want["partial"]), pytest.approx(want["observed"], rel=1e-12))]
        plan_rows = conn.execute("SELECT stage, volume FROM plan").fetchall()
        assert [p[0] for p in plan_rows] == LADDER
        assert all(a[1] >= b[1] for a, b in zip(plan_rows, plan_rows[1:]))
