"""`funnelkit report` and `funnelkit init` on files: CSV, Parquet and a DuckDB database written
here, with flags and with a funnelkit.toml; the JSON holds the Python API's numbers, every
document validates against docs/report.schema.json, and bad files get one clear line (exit 1)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

import funnelkit as fk
from funnelkit.report import main
from test_report_schema import SCHEMA, check_numbers, validate

FLAGS = ["--segment", "source", "--campaign", "campaign", "--amount", "amount", "--owner", "rep", "--reason", "reason"]
#: The columns the drivers of conversion are computed over, in the report's order.
DRIVER_COLUMNS = ["source", "campaign", "rep"]
RENAMED = {"entity": "lead_id", "time": "changed_at", "stage": "lifecycle_stage", "source": "channel",
           "amount": "deal_value", "rep": "owner", "reason": "lost_reason"}


@pytest.fixture(scope="module")
def crm(tmp_path_factory):
    """The sample as CSV, Parquet, a DuckDB database, and a CSV with other column names."""
    import duckdb

    d = tmp_path_factory.mktemp("crm")
    df = fk.sample_crm(1500, seed=3)
    df.to_csv(d / "crm.csv", index=False)
    df.to_parquet(d / "crm.parquet")
    con = duckdb.connect(str(d / "crm.duckdb"))
    con.register("df_view", df)
    con.execute("CREATE TABLE changes AS SELECT * FROM df_view")
    con.close()
    df.rename(columns=RENAMED).to_csv(d / "renamed.csv", index=False)
    touches, outcomes = fk.sample_touches(1500, seed=3)
    touches.rename(columns={"path": "entity"}).to_csv(d / "touches.csv", index=False)
    return {"dir": d, "df": df, "end": df.attrs["end"], "outcomes": outcomes}


def run(args, capsys=None):
    code = main([str(a) for a in args])
    return code


def section(doc, sid):
    return next(s for s in doc["sections"] if s["id"] == sid)


def close(a, b):
    if a is None or b is None:
        return a is None and (b is None or (isinstance(b, float) and math.isnan(b)))
    return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)


def api_numbers(df, as_of, driver_columns=DRIVER_COLUMNS):
    """The numbers the report must show, from the Python API on the same records."""
    model = fk.StageModel.b2b()
    lc = fk.lifecycle(df, model=model, segment="source", reason="reason", as_of=as_of)
    camp = fk.campaign_report(df, model=model, segment="source")
    times = lc.conversion_times("Lead", "Customer")
    aj = fk.aalen_johansen(times["days"], times["outcome"], labels=["won", "lost"], confidence=0.95)
    visits = lc.visits()
    lead = visits["stage"] == "Lead"
    km_lead = fk.kaplan_meier(visits["days"][lead], visits["completed"][lead], confidence=0.95)
    return {"conversion": lc.conversion().to_dict("records"), "time_in_stage": lc.time_in_stage().to_dict("records"),
            "ttc": lc.time_to_convert("Lead", "Customer", by_segment=True).to_dict("records"),
            "campaign": camp.to_dict("records"), "stuck": len(lc.stuck(percentile=90)),
            "drivers": fk.drivers(df, target="Customer", segments=driver_columns, model=model,
                                  confidence=0.95).to_dict("records"),
            "aj": aj, "km_lead": km_lead}


def check_against_api(doc, api):
    for got, want in zip(section(doc, "funnel")["tables"]["funnel"]["data"], api["conversion"]):
        assert got["stage"] == want["stage"] and got["reached"] == want["reached"]
        for k in ("step_rate", "cumulative_rate", "step_lower", "step_upper", "cum_lower", "cum_upper"):
            assert close(got[k], want[k]), k
    for got, want in zip(section(doc, "time_in_stage")["tables"]["time_in_stage"]["data"], api["time_in_stage"]):
        assert got["visits"] == want["visits"] and close(got["median"], want["median"])
    ttc = section(doc, "time_to_convert")["tables"]["time_to_convert"]["data"]
    assert [r["converted"] for r in ttc] == [r["converted"] for r in api["ttc"]]
    assert all(close(a["median"], b["median"]) for a, b in zip(ttc, api["ttc"]))
    camp = section(doc, "campaign")["tables"]["campaign"]["data"]
    for got, want in zip(camp, api["campaign"]):
        assert got["leads"] == want["leads"] and got["won"] == want["won"]
        assert close(got["revenue"], want["revenue"]) and close(got["lead_to_won"], want["lead_to_won"])
        assert close(got["p_holm"], want["p_holm"])
    assert section(doc, "stuck")["n"] == api["stuck"]
    check_drivers_and_bands(doc, api)


def check_drivers_and_bands(doc, api):
    """The drivers of conversion, the Aalen-Johansen band and the Kaplan-Meier curves of the
    document against the Python API."""
    drv = section(doc, "drivers")
    got = drv["tables"]["drivers"]["data"]
    assert len(got) == len(api["drivers"]) > 0
    for g, w in zip(got, api["drivers"]):
        assert (g["segment"], g["value"], g["rank"], g["test"]) == (w["segment"], w["value"], w["rank"], w["test"])
        assert (g["entities"], g["converted"], g["entities_without"]) == (w["entities"], w["converted"],
                                                                           w["entities_without"])
        for k in ("rate", "rate_without", "odds_ratio", "lower", "upper", "p_value", "q_value"):
            assert close(g[k], w[k]), (g["value"], k)
    sm = drv["summary"]
    assert sm["target"] == "Customer" and sm["population"] == drv["n"]
    assert sm["significant"] == sum(1 for w in api["drivers"] if w["q_value"] is not None and w["q_value"] <= 0.05)
    assert "association, not a cause" in drv["definition"] and any("association, not a cause" in n for n in drv["notes"])
    # won and lost over time: incidences and their band on the document's grid
    wl = section(doc, "won_lost")
    aj = api["aj"]
    rows = wl["tables"]["incidence"]["data"]
    days = np.array([r["days"] for r in rows])
    for col, values in (("won", aj.incidence_at("won", days)), ("lost", aj.incidence_at("lost", days)),
                        ("open", aj.survival_at(days)),
                        ("lower_won", aj.lower_at("won", days)), ("upper_won", aj.upper_at("won", days)),
                        ("lower_lost", aj.lower_at("lost", days)), ("upper_lost", aj.upper_at("lost", days))):
        assert all(close(r[col], v) for r, v in zip(rows, values)), col
    assert all(r["lower_won"] <= r["won"] <= r["upper_won"] for r in rows)
    last = aj.time[-1]
    for key, value in (("p_won", aj.final("won")), ("p_lost", aj.final("lost")),
                       ("p_won_lower", aj.lower_at("won", last)), ("p_won_upper", aj.upper_at("won", last)),
                       ("p_lost_lower", aj.lower_at("lost", last)), ("p_lost_upper", aj.upper_at("lost", last))):
        assert close(wl["summary"][key], value), key
    # time in stage: the Kaplan-Meier curve of Lead visits with its band
    curves = [r for r in section(doc, "time_in_stage")["tables"]["curves"]["data"] if r["stage"] == "Lead"]
    km = api["km_lead"]
    t = np.array([r["days"] for r in curves])
    for col, values in (("survival", km.survival_at(t)), ("lower", km.lower_at(t)), ("upper", km.upper_at(t))):
        assert all(close(r[col], v) for r, v in zip(curves, values)), col


@pytest.mark.parametrize("kind", ["csv", "parquet", "duckdb"])
def test_report_on_files_matches_the_python_api(crm, tmp_path, kind):
    out = tmp_path / "r.json"
    src = crm["dir"] / f"crm.{kind}"
    extra = ["--table", "changes"] if kind == "duckdb" else []
    assert run(["report", src, *extra, *FLAGS, "--as-of", crm["end"], "--json", out, "--quiet"]) == 0
    doc = json.loads(out.read_text())
    assert doc["source"]["kind"] == kind and doc["source"]["rows"] == len(crm["df"])
    check_against_api(doc, api_numbers(crm["df"], crm["end"]))
    validate(doc, json.loads(SCHEMA.read_text()))
    check_numbers(doc)
    assert {s["id"] for s in doc["skipped"]} == {"attribution", "events"}


def test_report_with_funnelkit_toml_and_other_column_names(crm, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    src = crm["dir"] / "renamed.csv"
    # init writes a starting file by inspecting the columns and values
    assert run(["init", src]) == 0
    text = (tmp_path / "funnelkit.toml").read_text()
    for key, col in (("entity", "lead_id"), ("time", "changed_at"), ("stage", "lifecycle_stage"),
                     ("segment", "channel"), ("campaign", "campaign"), ("amount", "deal_value"), ("owner", "owner"),
                     ("reason", "lost_reason")):
        assert f'{key} = "{col}"' in text, key
    model = fk.StageModel.b2b()
    for s in model.stages:
        assert f'name = "{s.name}"' in text
    assert run(["init", src]) == 1  # exists: --force to overwrite
    # costs, a goal and a volume target added by hand, as a user would
    text = text.replace('# volume_target = 100', 'volume_target = 20')
    text = text.replace('# revenue = 1000000', 'revenue = 500000')
    text = text.replace('# "Paid Search" = 250000', '"Paid Search" = 250000\n"Webinar" = 120000')
    text += f'as_of = "{crm["end"]}"\n'
    (tmp_path / "funnelkit.toml").write_text(text)
    assert run(["report", src, "--json", "t.json", "--quiet"]) == 0
    doc = json.loads((tmp_path / "t.json").read_text())
    renamed = crm["df"].rename(columns=RENAMED)
    lc = fk.lifecycle(renamed, entity="lead_id", time="changed_at", stage="lifecycle_stage", segment="channel",
                      as_of=crm["end"])
    assert [r["reached"] for r in section(doc, "funnel")["tables"]["funnel"]["data"]] == \
        list(lc.conversion()["reached"])
    assert section(doc, "plan")["summary"]["goal"] == 500000
    assert "volume" in section(doc, "sla")["tables"]
    camp = fk.campaign_report(renamed, entity="lead_id", time="changed_at", stage="lifecycle_stage",
                              segment="channel", amount="deal_value", cost={"Paid Search": 250000, "Webinar": 120000},
                              absent="warn")
    got = {r["channel"]: r for r in section(doc, "campaign")["tables"]["campaign"]["data"]}
    drv = fk.drivers(renamed, target="Customer", segments=["channel", "campaign", "owner"], entity="lead_id",
                     time="changed_at", stage="lifecycle_stage").to_dict("records")
    shown = section(doc, "drivers")["tables"]["drivers"]["data"]
    assert [(r["segment"], r["value"], r["rank"]) for r in shown] == [(r["segment"], r["value"], r["rank"]) for r in drv]
    assert all(close(a["q_value"], b["q_value"]) for a, b in zip(shown, drv))
    assert close(got["Paid Search"]["roi"], camp.row("Paid Search")["roi"])
    # flags win over the file
    assert run(["report", src, "--goal", "750000", "--json", "t2.json", "--quiet"]) == 0
    assert section(json.loads((tmp_path / "t2.json").read_text()), "plan")["summary"]["goal"] == 750000


def test_touches_events_html_and_csv_outputs(crm, tmp_path):
    d = crm["dir"]
    args = ["report", d / "crm.csv", *FLAGS, "--as-of", crm["end"], "--touches", d / "touches.csv",
            "--events", d / "crm.csv", "--event-step", "stage", "--steps", "Lead,MQL,SQL", "--window", "30d",
            "--json", tmp_path / "r.json", "--html", tmp_path / "r.html", "--csv", tmp_path / "csv", "--quiet"]
    code = run(args)
    assert code == 0
    doc = json.loads((tmp_path / "r.json").read_text())
    assert not doc["skipped"]
    attr = section(doc, "attribution")["tables"]["attribution"]["data"]
    o = crm["outcomes"]
    won_value = float(o["value"][o["converted"] == 1].sum())
    assert close(sum(r["linear"] for r in attr), won_value)
    events = {"entity": crm["df"]["entity"], "time": crm["df"]["time"], "step": crm["df"]["stage"].astype(str)}
    wf = fk.window_funnel(events, window="30d", steps=["Lead", "MQL", "SQL"])
    assert [r["reached"] for r in section(doc, "events")["tables"]["event_funnel"]["data"]] == list(wf["reached"])
    files = sorted(os.listdir(tmp_path / "csv"))
    assert "funnel__funnel.csv" in files and "attribution__attribution.csv" in files
    import csv

    with open(tmp_path / "csv" / "drivers__drivers.csv", newline="") as fh:
        table = list(csv.DictReader(fh))
    want = section(doc, "drivers")["tables"]["drivers"]["data"]
    assert [(r["segment"], r["value"]) for r in table] == [(r["segment"], str(r["value"])) for r in want]
    assert all(close(float(a["odds_ratio"]), b["odds_ratio"]) and close(float(a["q_value"]), b["q_value"])
               for a, b in zip(table, want))
    with open(tmp_path / "csv" / "won_lost__incidence.csv", newline="") as fh:
        band = list(csv.DictReader(fh))
    assert {"lower_won", "upper_won", "lower_lost", "upper_lost"} <= set(band[0])
    assert len(files) == sum(len(s["tables"]) for s in doc["sections"])
    html = (tmp_path / "r.html").read_text()
    assert "<script src" not in html and "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    validate(doc, json.loads(SCHEMA.read_text()))


def test_sample_terminal_report(capsys):
    assert run(["report", "--sample", "--leads", "2000"]) == 0
    out = capsys.readouterr()
    for title in ("Funnel (2,000 entities)", "Conversion by segment", "Drivers of conversion", "odds ratio",
                  "association, not a cause", "P(won)", "Cohorts", "Time in stage", "Stage flow",
                  "Sales velocity", "Reverse-funnel plan", "Service levels", "Campaign ROI", "Attribution",
                  "Event funnel"):
        assert title in out.out, title
    assert out.err == ""  # no progress when stderr is not a terminal


def _one_error(capsys, args, *needles):
    assert run(args) == 1
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("funnelkit: error: "), err
    assert "Traceback" not in err
    for n in needles:
        assert n in lines[0], (n, lines[0])
    return lines[0]


def test_bad_files_give_one_clear_line(crm, tmp_path, capsys):
    d = crm["dir"]
    text = (d / "crm.csv").read_text().splitlines()
    _one_error(capsys, ["report", d / "crm.csv", "--entity", "lead_id"], "column 'lead_id' (--entity)",
               "'entity', 'time', 'stage'")
    bad = text[:]
    cells = bad[41].split(",")
    cells[1] = "next tuesday"
    bad[41] = ",".join(cells)
    (tmp_path / "badtime.csv").write_text("\n".join(bad) + "\n")
    _one_error(capsys, ["report", tmp_path / "badtime.csv"], "column 'time', row 40 (line 42 of the file)",
               "'next tuesday'")
    (tmp_path / "empty.csv").write_text("")
    _one_error(capsys, ["report", tmp_path / "empty.csv"], "empty.csv: the file is empty")
    (tmp_path / "header.csv").write_text(text[0] + "\n")
    _one_error(capsys, ["report", tmp_path / "header.csv"], "no rows")
    (tmp_path / "semi.csv").write_text("\n".join(t.replace(",", ";") for t in text) + "\n")
    _one_error(capsys, ["report", tmp_path / "semi.csv", "--delimiter", ","], "delimiter looks like ';'")
    bad = text[:]
    cells = bad[30].split(",")
    cells[2] = "Qualified"
    bad[30] = ",".join(cells)
    (tmp_path / "badstage.csv").write_text("\n".join(bad) + "\n")
    _one_error(capsys, ["report", tmp_path / "badstage.csv"], "row 29 (line 31 of the file)", "'Qualified'",
               "not a stage of the model")
    _one_error(capsys, ["report", d / "crm.csv", "--stages", "Lead,MQL,Customer:won"], "(stages: Lead, MQL, Customer)")
    _one_error(capsys, ["report", tmp_path / "missing.csv"], "no such file")
    _one_error(capsys, ["report", d / "crm.duckdb", "--table", "chnges"], "did you mean 'changes'")
    # --debug shows the traceback; usage errors exit with 2
    assert run(["report", tmp_path / "empty.csv", "--debug"]) == 1
    assert "Traceback" in capsys.readouterr().err
    assert run(["report"]) == 2
    assert run(["report", "--sample", "--no-such-flag"]) == 2
    capsys.readouterr()


def test_the_command_line_entry_point(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    r = subprocess.run([sys.executable, "-m", "funnelkit", "--version"], capture_output=True, text=True, env=env)
    assert r.returncode == 0 and r.stdout.strip() == f"funnelkit {fk.__version__}"
    r = subprocess.run([sys.executable, "-m", "funnelkit", "report", "--help"], capture_output=True, text=True, env=env)
    assert r.returncode == 0 and "funnelkit report --sample" in r.stdout and "exit codes" in r.stdout
    r = subprocess.run([sys.executable, "-m", "funnelkit", "report", str(tmp_path / "none.csv")], capture_output=True,
                       text=True, env=env)
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "no such file" in r.stderr
