"""The suppression list against a dict-based reference; ids keyed on their value; the state
contract (merge, bytes with every label, the core's golden blob); every input format."""

from __future__ import annotations

import pickle
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import funnelkit as fk
from conftest import as_format
from contract import check_contract
from funnelkit import suppression as sp

DATA = Path(__file__).resolve().parents[1] / "data"


def _column(frame, name):
    """One column of a frame in its own library's type (pandas/Polars series, Arrow array, numpy)."""
    if type(frame).__name__ == "LazyFrame":
        frame = frame.collect()
    if isinstance(frame, dict):
        return frame[name]
    if type(frame).__module__.startswith("pyarrow"):
        return frame.column(name)
    return frame[name]


def test_suppression_against_dict_reference():
    rng = np.random.default_rng(1)
    alphabet = list("abcXYZ.@ ")
    reasons = ["spam", "poor fit", "student"]

    def key():
        return "".join(rng.choice(alphabet, size=int(rng.integers(1, 12))))

    s = sp.SuppressionList()
    ref_ids, ref_keys = defaultdict(set), defaultdict(set)
    ids = rng.integers(-500, 500, size=800)
    why = [reasons[i] for i in rng.integers(0, 3, size=800)]
    s.add_ids(ids, why)
    for i, r in zip(ids, why):
        ref_ids[int(i)].add(r)
    norm = lambda k: sp.normalise_key(k, transform="email_domain")  # noqa: E731
    keys = [key() for _ in range(600)]
    keys = [k for k in keys if norm(k)]  # keys empty after normalisation are rejected
    kwhy = [reasons[i] for i in rng.integers(0, 3, size=len(keys))]
    s.add_keys("email_domain", keys, kwhy, transform="email_domain")
    for k, r in zip(keys, kwhy):
        ref_keys[norm(k)].add(r)
    with pytest.raises(ValueError, match=r"column 'key', row 0: value \"someone@\" is empty after normalisation"):
        s.add_keys("email_domain", ["someone@"], "spam", transform="email_domain")
    batch = pd.DataFrame({"id": rng.integers(-600, 600, size=3000), "email": [key() for _ in range(3000)]})
    res = s.check(batch, id="id", keys={"email_domain": ("email", "email_domain")})
    for i, (lead, email) in enumerate(zip(batch["id"], batch["email"])):
        want = ref_ids.get(int(lead), set()) | (ref_keys.get(norm(email), set()) if norm(email) else set())
        got = set(res.reasons[i].split("; ")) if res.reasons[i] else set()
        assert got == want, i
        assert res.suppressed[i] == bool(want)
    assert res.count == int(res.suppressed.sum())


# -- ids keyed on their value (regression) --------------------------------------------------------
def test_string_ids_match_by_value_not_by_order_of_appearance():
    s = sp.SuppressionList().add_ids(["alice", "bob"], "spam")
    res = s.check(pd.DataFrame({"id": ["carol", "dave", "alice"]}), id="id")
    assert res.suppressed.tolist() == [False, False, True]
    assert res.matched_by.tolist() == ["", "", "id"]
    # Exact values: case and spaces matter, a text id never matches an integer id, and every
    # byte survives (including the escape character and non-ASCII text).
    odd = ["Alice", " alice", "al%41ice", "Zoë", "a\tb", "%", "x" * 40]
    s.add_ids(odd, "poor fit")
    s.add_ids([7], "student")
    batch = ["alice", "ALICE", "Alice", " alice", "al%41ice", "alAice", "Zoë", "zoë", "a\tb", "a b", "%", "7",
             "x" * 40, "x" * 39, None]
    got = s.check({"id": np.array(batch, dtype=object)}, id="id")
    assert got.suppressed.tolist() == [True, False, True, True, True, False, True, False, True, False, True, False,
                                       True, False, False]
    assert s.id_reasons("Zoë") == ["poor fit"] and s.id_reasons("zoë") == [] and s.id_reasons(7) == ["student"]
    assert s.n_ids == 2 + len(odd) + 1 and s.n_keys == 0 and s.kinds == []
    keys = sorted(k for k in s.to_dict()["key"] if k is not None)
    assert keys == sorted(["alice", "bob", *odd])
    # The same after bytes, pickles and merges, and in whatever batch the ids come.
    back = fk.restore(s.to_bytes())
    assert back == s and back.check({"id": np.array(batch, dtype=object)}, id="id").suppressed.tolist() == \
        got.suppressed.tolist()
    other = sp.SuppressionList().add_ids(["dave"], "spam")
    merged = other + s
    assert merged.check(pd.DataFrame({"id": ["dave", "alice", "carol"]}), id="id").suppressed.tolist() == \
        [True, True, False]
    with pytest.raises(ValueError, match=r"column 'id', row 1: value missing is not allowed"):
        sp.SuppressionList().add_ids(np.array(["a", None], dtype=object), "spam")
    with pytest.raises(ValueError, match=r"column 'id', row 0: value \"\" is an empty id"):
        sp.SuppressionList().add_ids([""], "spam")
    with pytest.raises(ValueError, match=r"column 'id', row 1: value 1180591620717411303424 does not fit"):
        sp.SuppressionList().add_ids([1, 2**70], "spam")
    with pytest.raises(ValueError, match="option 'kind'.*reserved"):
        sp.SuppressionList().add_keys(fk._core.TEXT_ID_KIND, ["x"], "spam")


def test_add_disqualified_checks_lengths_and_stage_codes():
    model = fk.sample_model()
    with pytest.raises(ValueError, match=r"column 'stage' has 2 rows but column 'entity' has 3"):
        sp.SuppressionList().add_disqualified({"entity": np.array([1, 2, 3]), "stage": np.array([7, 7])}, model=model,
                                              reason=None)
    with pytest.raises(ValueError, match=r"column 'stage', row 1: value -1 is not a stage code"):
        sp.SuppressionList().add_disqualified({"entity": np.array([1, 2]), "stage": np.array([0, -1])}, model=model,
                                              reason=None)
    with pytest.raises(ValueError, match=r"column 'stage', row 1: value 'Disqualifed' is not a stage of the model; "
                                         r"did you mean 'Disqualified'"):
        sp.SuppressionList().add_disqualified({"entity": ["a", "b"], "stage": ["Lead", "Disqualifed"]}, model=model)
    with pytest.raises(ValueError, match=r"column 'reason' has 1 rows but column 'entity' has 2"):
        sp.SuppressionList().add_disqualified({"entity": np.array([1, 2]), "stage": np.array([0, 0]),
                                               "reason": np.array([0])}, model=model, reason_labels=["spam"])
    with pytest.raises(ValueError, match=r"column 'reason', row 0: value 3 is not a reason code"):
        sp.SuppressionList().add_disqualified({"entity": np.array([1]), "stage": np.array([0]),
                                               "reason": np.array([3])}, model=model, reason_labels=["spam"])
    # Text entity ids go through the same checks and keep their value.
    dq = model.code("Disqualified")
    s = sp.SuppressionList().add_disqualified({"entity": ["a", "b", "a"], "stage": ["Lead", "Disqualified",
                                                                                   "Disqualified"],
                                               "reason": ["spam", None, "student"]}, model=model)
    assert s.id_reasons("a") == ["student"] and s.id_reasons("b") == ["disqualified"] and s.n_ids == 2
    assert dq > 0


def test_suppression_merge_pickle_and_reasons():
    a = sp.SuppressionList().add_ids([1, 2], "spam").add_keys("company", ["  ACME Corp "], "poor fit")
    b = sp.SuppressionList().add_ids([2, 3], ["student", "spam"])
    ab, ba = a + b, b + a
    assert ab == ba and ab != a
    assert sorted(ab.id_reasons(2)) == ["spam", "student"]
    assert ab.key_reasons("company", "acme corp") == ["poor fit"]
    assert pickle.loads(pickle.dumps(ab)) == ab
    assert sp.SuppressionList.from_bytes(ab.to_bytes()) == ab
    assert len(ab) == 4
    df = fk.sample_crm(2000, seed=3)
    s = sp.SuppressionList().add_disqualified(df, model=fk.sample_model())
    dq = set(df.loc[df["stage"] == "Disqualified", "entity"])
    assert s.n_ids == len(dq)
    res = s.check(pd.DataFrame({"entity": sorted(dq) + [10**9]}), id="entity")
    assert res.suppressed[:-1].all() and not res.suppressed[-1]
    assert set(s.reasons) <= set(df["reason"].dropna().astype(str)) | {"disqualified"}
    with pytest.raises(ValueError, match="row 0.*not a reason"):
        sp.SuppressionList().add_ids([1], [None])
    with pytest.raises(ValueError, match="option 'id'/'keys'"):
        a.check(pd.DataFrame({"id": [1]}))
    with pytest.raises(ValueError, match=r"option 'transform': value 'email' is not valid; did you mean "
                                         r"'email_domain'"):
        a.add_keys("email_domain", ["x@y.z"], "spam", transform="email")


def test_golden_blob_of_the_core_still_loads():
    blob = (DATA / "suppression_list_v1.bin").read_bytes()
    s = sp.SuppressionList.from_bytes(blob)
    assert s.n_ids == 2 and s.n_keys == 3 and s.reasons == ["poor fit", "spam", "student"]
    assert sorted(s.id_reasons(17)) == ["poor fit", "student"]
    assert s.key_reasons("email_domain", "Joe@STUDENT.example.edu", transform="email_domain") == ["student"]
    assert s.to_dict("records")[0] == {"kind": "id", "id": 17, "key": None, "reasons": "poor fit; student"}
    assert fk.restore(s.to_bytes()) == s
    check_contract(s)


def test_results_keep_the_contract():
    s = sp.SuppressionList().add_ids([5, 6], "spam").add_ids(["eve"], "student").add_keys(
        "email_domain", ["a@x.com"], "poor fit", transform="email_domain")
    doc = check_contract(s)
    assert {(r["kind"], r["id"], r["key"]) for r in doc["data"]} == {
        ("id", 5, None), ("id", 6, None), ("id", None, "eve"), ("email_domain", None, "x.com")}
    batch = {"id": np.array(["eve", "bob"], dtype=object), "mail": np.array(["b@X.com", "c@y.com"], dtype=object)}
    res = s.check(batch, id="id", keys={"email_domain": ("mail", "email_domain")})
    doc = check_contract(res)
    assert doc["data"][0] == {"suppressed": True, "reasons": "poor fit; student", "matched_by": "id, email_domain"}
    assert res.explain().options["keys"] == {"email_domain": ["mail", "email_domain"]}


def test_every_input_format_gives_the_same_checks(input_format):
    df = fk.sample_crm(1500, seed=4)
    frame = as_format(df, input_format)
    ref = sp.SuppressionList().add_disqualified(df, model=fk.sample_model())
    got = sp.SuppressionList().add_disqualified(frame, model=fk.sample_model())
    assert got == ref
    batch = pd.DataFrame({"entity": np.arange(0, 1500, dtype=np.int64),
                          "source": df["source"].astype(str)[:1500].to_numpy(),
                          "name": [f"lead {i}" for i in range(1500)]})
    bf = as_format(batch, input_format)
    lst = got.copy().add_keys("source", ["webinar"], "poor fit").add_ids(["lead 3", "lead 4"], "spam")
    r_ref = lst.check(batch, id="entity", keys={"source": "source"})
    r_got = lst.check(bf, id="entity", keys={"source": "source"})
    assert r_got.to_dict() == r_ref.to_dict() and r_ref.count > 0
    by_name = lst.check(bf, id="name")
    assert by_name.suppressed.sum() == 2
    # Ids and reasons given as columns of the input's own library.
    ids = _column(bf, "name")
    texts = sp.SuppressionList().add_ids(ids, _column(bf, "source"))
    assert texts.n_ids == 1500 and texts.id_reasons("lead 0") == [str(batch["source"][0])]
    keyed = sp.SuppressionList().add_keys("name", _column(bf, "name"), _column(bf, "source"))
    assert keyed == sp.SuppressionList().add_keys("name", batch["name"], batch["source"])
    assert keyed.n_keys == 1500 and keyed.key_reasons("name", "LEAD 0") == [str(batch["source"][0])]


def test_numpy_and_dict_input_need_no_pandas(monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)
    s = sp.SuppressionList().add_ids(np.array(["a", "b"]), "spam").add_keys("company", ["ACME"], "poor fit")
    r = s.check({"id": np.array(["b", "c"]), "co": np.array(["acme ", "x"])}, id="id", keys={"company": "co"})
    assert r.suppressed.tolist() == [True, False] and r.reasons.tolist() == ["poor fit; spam", ""]
    assert fk.restore(s.to_bytes()) == s
