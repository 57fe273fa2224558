"""Runs last (file name order): every public result type was put through check_contract."""

import inspect
from pathlib import Path

import pytest

import funnelkit as fk
from contract import CHECKED


def _public_result_types():
    from test_typing import _public_objects

    seen = set()
    for name, obj in _public_objects():
        if inspect.isclass(obj) and issubclass(obj, (fk.Table, fk.Scalar)) and obj not in (fk.Table, fk.Scalar, fk.Mergeable):
            seen.add(obj)
    return seen


def test_every_public_result_type_passes_the_contract(request):
    here = Path(__file__).parent
    files = {p.name for p in here.glob("test_*.py")}
    ran = {Path(str(item.fspath)).name for item in request.session.items}
    if request.config.getoption("keyword") or not files <= ran:
        pytest.skip("a partial run does not exercise every result type")
    missing = sorted(t.__name__ for t in _public_result_types() - CHECKED)
    assert not missing, f"result types never checked by check_contract: {missing}"
