"""The report document against its versioned JSON Schema, docs/report.schema.json.

The schema is generated from the sample's document by ``schema_for()`` below and committed; a
test fails when the document changes shape without the schema (regenerate it with
``python tests/python/test_report_schema.py --write`` and bump the version when a change is not
backwards compatible). ``validate()`` is a small JSON Schema (2020-12) validator for the
keywords the schema uses, so no package is needed to run the check.
"""

from __future__ import annotations

import json
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "docs" / "report.schema.json"

# Tables a section holds only when the data or configuration allows.
OPTIONAL_TABLES = {("flow", "reasons"), ("velocity", "drivers"), ("plan", "per_rep"), ("sla", "volume")}
_TYPES = {"integer": ["integer", "null"], "number": ["number", "null"], "string": ["string", "null"],
          "boolean": ["boolean", "null"], "datetime": ["string", "null"], "duration[seconds]": ["number", "null"],
          "array": ["array", "null"]}


# -- a small validator -------------------------------------------------------------------------------
def _is_type(value, t):
    return {"object": isinstance(value, dict), "array": isinstance(value, list), "string": isinstance(value, str),
            "boolean": isinstance(value, bool), "null": value is None,
            "integer": isinstance(value, int) and not isinstance(value, bool),
            "number": isinstance(value, (int, float)) and not isinstance(value, bool)}[t]


def validate(value, schema, root=None, path="$"):
    """Raises AssertionError naming the path of the first value that does not match."""
    root = root if root is not None else schema
    if schema is True or schema == {}:
        return
    if "$ref" in schema:
        ref = schema["$ref"]
        assert ref.startswith("#/"), ref
        target = root
        for part in ref[2:].split("/"):
            target = target[part]
        validate(value, target, root, path)
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        assert any(_is_type(value, t) for t in types), f"{path}: {value!r:.80} is not of type {types}"
    if "const" in schema:
        assert value == schema["const"], f"{path}: {value!r} is not {schema['const']!r}"
    if "enum" in schema:
        assert value in schema["enum"], f"{path}: {value!r} is not one of {schema['enum']}"
    if "minimum" in schema and _is_type(value, "number"):
        assert value >= schema["minimum"], f"{path}: {value} < {schema['minimum']}"
    for sub in schema.get("allOf", []):
        validate(value, sub, root, path)
    if "if" in schema:
        try:
            validate(value, schema["if"], root, path)
            ok = True
        except AssertionError:
            ok = False
        if ok and "then" in schema:
            validate(value, schema["then"], root, path)
    if isinstance(value, dict):
        for key in schema.get("required", []):
            assert key in value, f"{path}: missing {key!r}"
        props = schema.get("properties", {})
        for key, v in value.items():
            if key in props:
                validate(v, props[key], root, f"{path}.{key}")
            elif "additionalProperties" in schema:
                extra = schema["additionalProperties"]
                assert extra is not False, f"{path}: unexpected key {key!r}"
                validate(v, extra, root, f"{path}.{key}")
    if isinstance(value, list) and "items" in schema:
        for i, v in enumerate(value):
            validate(v, schema["items"], root, f"{path}[{i}]")


# -- the schema, generated from a document ------------------------------------------------------------
def schema_for(doc):
    """The JSON Schema of report documents, from one document (the sample's): every section and
    table with its fixed columns and their types; columns named after the data (the segment and
    owner columns, stage names, model names) are allowed as additional columns."""
    from funnelkit.dashboard import SECTIONS, VERSION

    cfg = doc["config"]
    dynamic = {cfg["segment"], cfg["owner"], *(s[0] for s in cfg["model"]["stages"]), *cfg["attribution_models"]}
    defs = {
        "explain": {"type": "object", "required": ["result", "definition", "inputs", "options"],
                    "properties": {"result": {"type": "string"}, "definition": {"type": "string"},
                                   "inputs": {"type": "object"}, "options": {"type": "object"}}},
        "column": {"type": "object", "required": ["name", "type"], "additionalProperties": False,
                   "properties": {"name": {"type": "string"}, "type": {"enum": sorted(_TYPES)},
                                  "unit": {"type": "string"}}},
        "value": {"type": ["number", "string", "boolean", "null", "array"]},
    }
    branches = []
    for s in doc["sections"]:
        tables = {}
        for name, t in s["tables"].items():
            props = {}
            required = []
            for c in t["columns"]:
                if c["name"] in dynamic:
                    continue
                if c["name"] == "entity":
                    types = ["integer", "string"]
                elif (s["id"], c["name"]) == ("drivers", "value"):  # the values of the data's segment columns
                    types = ["integer", "number", "string", "boolean", "null"]
                else:
                    types = _TYPES[c["type"]]
                props[c["name"]] = {"type": types, **({"description": f"unit: {c['unit']}"} if c.get("unit") else {})}
                required.append(c["name"])
            key = f"table_{s['id']}_{name}"
            defs[key] = {
                "description": t["explain"]["definition"], "type": "object",
                "required": ["result", "explain", "columns", "data"],
                "properties": {"result": {"const": t["result"]}, "explain": {"$ref": "#/$defs/explain"},
                               "columns": {"type": "array", "items": {"$ref": "#/$defs/column"}},
                               "data": {"type": "array", "items": {
                                   "type": "object", "required": required, "properties": props,
                                   "additionalProperties": {"$ref": "#/$defs/value"}}}}}
            tables[name] = {"$ref": f"#/$defs/{key}"}
        req = [n for n in s["tables"] if (s["id"], n) not in OPTIONAL_TABLES]
        branches.append({"if": {"properties": {"id": {"const": s["id"]}}},
                         "then": {"properties": {"tables": {"type": "object", "required": req, "properties": tables,
                                                            "additionalProperties": False}}}})
    defs["section"] = {
        "type": "object",
        "required": ["id", "title", "definition", "n", "sample_size", "explain", "notes", "summary", "tables"],
        "properties": {"id": {"enum": list(SECTIONS)}, "title": {"type": "string"},
                       "definition": {"type": "string", "description": "the definition of the section's main table"},
                       "n": {"type": "integer", "minimum": 0, "description": "the sample size, counted in the "
                             "unit sample_size names"},
                       "sample_size": {"type": "string"}, "explain": {"$ref": "#/$defs/explain"},
                       "notes": {"type": "array", "items": {"type": "string"}}, "summary": {"type": "object"},
                       "tables": {"type": "object"}},
        "additionalProperties": False, "allOf": branches}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"urn:funnelkit:report:{VERSION}",
        "title": f"funnelkit report document, version {VERSION}",
        "description": ("What `funnelkit report --json` writes and the HTML dashboard embeds: every section the "
                        "library computed, each with tables in the library's to_json() form (columns with types "
                        "and units; data rows with numbers as JSON numbers and null for undefined ones; datetimes "
                        "as ISO 8601 text; durations in seconds). Sections the data could not give are listed "
                        "under 'skipped' with the reason."),
        "type": "object",
        "required": ["format", "version", "funnelkit", "generated_at", "title", "source", "config", "sections",
                     "skipped"],
        "additionalProperties": False,
        "properties": {
            "format": {"const": "funnelkit-report"}, "version": {"const": VERSION},
            "funnelkit": {"type": "string", "description": "version of funnelkit that wrote the document"},
            "generated_at": {"type": "string"}, "title": {"type": "string"},
            "source": {"type": "object", "required": ["kind", "rows", "entities", "first_time", "last_time", "as_of"],
                       "properties": {"kind": {"enum": ["sample", "csv", "parquet", "json", "arrow", "duckdb"]},
                                      "rows": {"type": "integer"}, "entities": {"type": "integer"},
                                      "files": {"type": "array", "items": {"type": "string"}}}},
            "config": {"type": "object", "description": "the configuration in force (columns, model, terms)"},
            "sections": {"type": "array", "items": {"$ref": "#/$defs/section"}},
            "skipped": {"type": "array", "items": {
                "type": "object", "required": ["id", "title", "reason"], "additionalProperties": False,
                "properties": {"id": {"enum": list(SECTIONS)}, "title": {"type": "string"},
                               "reason": {"type": "string"}}}},
        },
        "$defs": defs,
    }


def check_numbers(doc):
    """Every table value has the JSON type its column declares (numbers as numbers)."""
    for s in doc["sections"]:
        for name, t in s["tables"].items():
            types = {c["name"]: c["type"] for c in t["columns"]}
            for i, row in enumerate(t["data"]):
                assert list(row) == list(types), (s["id"], name)
                for col, v in row.items():
                    if v is None:
                        continue
                    want = types[col]
                    ok = {"integer": lambda x: isinstance(x, int) and not isinstance(x, bool),
                          "number": lambda x: isinstance(x, (int, float)) and not isinstance(x, bool),
                          "boolean": lambda x: isinstance(x, bool), "array": lambda x: isinstance(x, list),
                          "duration[seconds]": lambda x: isinstance(x, (int, float))}.get(want, lambda x: isinstance(x, str))
                    assert ok(v), f"{s['id']}.{name}[{i}].{col}: {v!r} is not a JSON {want}"


@pytest.fixture(scope="module")
def sample_doc():
    from funnelkit.dashboard import sample_document

    return sample_document(2000, seed=5)


def test_committed_schema_is_the_generated_one(sample_doc):
    committed = json.loads(SCHEMA.read_text())
    assert committed == json.loads(json.dumps(schema_for(sample_doc))), \
        "the report document changed shape: run python tests/python/test_report_schema.py --write"


def test_sample_document_validates(sample_doc):
    validate(json.loads(json.dumps(sample_doc)), json.loads(SCHEMA.read_text()))
    check_numbers(sample_doc)


def test_validator_rejects_a_number_as_text(sample_doc):
    doc = json.loads(json.dumps(sample_doc))
    doc["sections"][0]["tables"]["funnel"]["data"][0]["reached"] = "20000"
    with pytest.raises(AssertionError, match="reached"):
        validate(doc, json.loads(SCHEMA.read_text()))
    doc = json.loads(json.dumps(sample_doc))
    del doc["sections"][0]["tables"]["funnel"]
    with pytest.raises(AssertionError, match="funnel"):
        validate(doc, json.loads(SCHEMA.read_text()))


if __name__ == "__main__" and "--write" in sys.argv:
    from funnelkit.dashboard import sample_document

    SCHEMA.parent.mkdir(exist_ok=True)
    SCHEMA.write_text(json.dumps(schema_for(sample_document(2000, seed=5)), indent=1) + "\n")
    print(f"wrote {SCHEMA}")
