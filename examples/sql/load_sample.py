"""Loads funnelkit's sample CRM data into PostgreSQL and creates the BI views of views.sql.

    python examples/sql/load_sample.py "host=/tmp/fk-pg user=postgres dbname=postgres" [--leads 20000]

Tables: crm (one row per stage change: entity, time, stage, source, amount) and deals (one row
per opportunity: entity, source, created, closed, outcome, amount, and the cycle starts sql_time
and first_touch). Needs psycopg 3 and a server
with the funnelkit extension installed (bash scripts/postgres.sh install; start a throwaway server
with bash scripts/postgres.sh start DIR).
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import pandas as pd
import psycopg

import funnelkit as fk

VIEWS = Path(__file__).with_name("views.sql")


def copy_frame(conn: psycopg.Connection, name: str, df: pd.DataFrame, types: dict[str, str]) -> None:
    conn.execute(f"DROP TABLE IF EXISTS {name} CASCADE")
    conn.execute(f"CREATE TABLE {name} (" + ", ".join(f"{c} {types[c]}" for c in df.columns) + ")")
    buf = io.StringIO()
    df.to_csv(buf, index=False, header=False, na_rep="")
    with conn.cursor() as cur, cur.copy(f"COPY {name} FROM STDIN WITH (FORMAT csv)") as copy:
        copy.write(buf.getvalue())
    conn.execute(f"ANALYZE {name}")


def load(conninfo: str, leads: int = 20_000, seed: int = 42) -> None:
    crm = fk.sample_crm(leads, seed=seed)
    records = pd.DataFrame({"entity": crm["entity"], "time": crm["time"], "stage": crm["stage"].astype(str),
                            "source": crm["source"].astype(str), "amount": crm["amount"]})
    opps = fk.opportunities_from_stages(crm).to_pandas()
    deals = pd.DataFrame({"entity": opps["entity"], "source": opps["source"].astype(str),
                          "created": opps["created"], "closed": opps["closed"], "outcome": opps["outcome"],
                          "amount": opps["amount"], "sql_time": opps["sql_time"],
                          "first_touch": opps["first_touch"]})
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("SET TimeZone = 'UTC'")
        copy_frame(conn, "crm", records, {"entity": "bigint", "time": "timestamp", "stage": "text",
                                          "source": "text", "amount": "float8"})
        copy_frame(conn, "deals", deals, {"entity": "bigint", "source": "text", "created": "timestamp",
                                          "closed": "timestamp", "outcome": "text", "amount": "float8",
                                          "sql_time": "timestamp", "first_touch": "timestamp"})
        conn.execute(VIEWS.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("conninfo", help="libpq connection string, e.g. 'host=/tmp/fk-pg user=postgres dbname=postgres'")
    parser.add_argument("--leads", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    load(args.conninfo, args.leads, args.seed)
    with psycopg.connect(args.conninfo) as conn:
        for row in conn.execute("SELECT source, stage, reached, round(cumulative_rate::numeric, 4) FROM "
                                "funnel_by_source WHERE stage = 'Customer' ORDER BY source"):
            print(*row, sep="\t")


if __name__ == "__main__":
    main()
