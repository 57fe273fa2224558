"""`funnelkit report` on the other inputs it reads: JSON lines, Arrow IPC files and a glob over
several CSV parts; each must give the numbers of the Python API on the same records, exactly as
CSV and Parquet do in test_report.py."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.feather as feather
import pytest

import funnelkit as fk
from funnelkit.report import main
from test_report import FLAGS, api_numbers, check_against_api
from test_report_schema import SCHEMA, validate


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    d = tmp_path_factory.mktemp("inputs")
    df = fk.sample_crm(1200, seed=11)
    df.to_json(d / "crm.jsonl", orient="records", lines=True, date_format="iso", date_unit="us")
    feather.write_feather(pa.Table.from_pandas(df, preserve_index=False), d / "crm.arrow", compression="uncompressed")
    parts = d / "parts"
    parts.mkdir()
    # Three parts of unequal size, rows of one entity possibly split across files.
    cuts = [0, 500, 1700, len(df)]
    for i, (a, b) in enumerate(zip(cuts, cuts[1:])):
        df.iloc[a:b].to_csv(parts / f"part-{i}.csv", index=False)
    return {"dir": d, "df": df, "end": df.attrs["end"]}


@pytest.mark.parametrize("name, kind", [("crm.jsonl", "json"), ("crm.arrow", "arrow"), ("parts/part-*.csv", "csv")])
def test_report_reads_json_lines_arrow_and_globs(records, tmp_path, name, kind):
    out = tmp_path / "r.json"
    src = str(records["dir"] / name)
    assert main(["report", src, *FLAGS, "--as-of", str(records["end"]), "--json", str(out), "--quiet"]) == 0
    doc = json.loads(out.read_text())
    assert doc["source"]["kind"] == kind
    assert doc["source"]["rows"] == len(records["df"])
    check_against_api(doc, api_numbers(records["df"], records["end"]))
    validate(doc, json.loads(SCHEMA.read_text()))


def test_a_glob_matching_nothing_is_one_clear_line(records, capsys):
    code = main(["report", str(records["dir"] / "nothing-*.csv"), *FLAGS, "--quiet"])
    assert code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no file matches this pattern" in err[0]
