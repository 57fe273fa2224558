"""Pickles and bytes of this release's mergeable results, stored under tests/data, keep loading
and equal the results computed today. Regenerate (only when the format version changes, keeping
the old files) with ``python tests/python/test_pickles.py --write``."""

from __future__ import annotations

import pickle
import sys
from pathlib import Path

import numpy as np
import pytest

import funnelkit as fk

DATA = Path(__file__).resolve().parents[1] / "data"
RELEASE = "0.1.0"  # with the core's state format 2 inside


def _conversion():
    return fk.conversion(fk.sample_crm(2000, seed=9), segment="source")


def _window_funnel():
    rng = np.random.default_rng(4)
    events = {"entity": rng.integers(0, 300, 3000), "time": rng.integers(0, 86_400, 3000),
              "step": rng.choice(np.array(["visit", "signup", "demo", "other"], dtype=object), 3000)}
    return fk.window_funnel(events, window="2h", steps=["visit", "signup", "demo"], strict_order=True)


def _suppression():
    s = fk.SuppressionList()
    s.add_ids(["alice", "Bob "], "spam")
    s.add_ids(np.array([17, 42]), "poor fit")
    s.add_keys("email", ["Carol@Example.com"], "bounced")
    return s


BUILDERS = {"ConversionTable": _conversion, "WindowFunnel": _window_funnel, "SuppressionList": _suppression}


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_stored_pickles_and_bytes_load(name):
    want = BUILDERS[name]()
    stored = pickle.loads((DATA / f"{name}_{RELEASE}.pickle").read_bytes())
    assert type(stored) is type(want) and stored == want
    blob = (DATA / f"{name}_{RELEASE}.bin").read_bytes()
    assert fk.restore(blob) == want


def test_pickles_name_the_public_restore():
    assert b"funnelkit\x94\x8c\x07restore" in pickle.dumps(_conversion()) or b"cfunnelkit\nrestore" in \
        pickle.dumps(_conversion(), protocol=0)


if __name__ == "__main__" and "--write" in sys.argv:
    for name, build in BUILDERS.items():
        result = build()
        (DATA / f"{name}_{RELEASE}.pickle").write_bytes(pickle.dumps(result))
        (DATA / f"{name}_{RELEASE}.bin").write_bytes(result.to_bytes())
        print("wrote", name)
