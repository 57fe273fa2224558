"""The type stubs of the compiled core name every public object it exports."""

import ast
import pathlib

import funnelkit._core as core

STUB = pathlib.Path(__file__).resolve().parents[2] / "bindings" / "python" / "funnelkit" / "_core.pyi"


def _stub_names():
    tree = ast.parse(STUB.read_text())
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def test_stubs_cover_the_extension_module():
    public = {n for n in dir(core) if not n.startswith("_")}
    missing = public - _stub_names()
    assert not missing, f"regenerate the stubs with scripts/stubs.sh; missing: {sorted(missing)}"


def test_package_is_typed():
    assert (STUB.parent / "py.typed").exists()
