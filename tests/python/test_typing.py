"""Every public name has a docstring, and no public function or method is typed ``Any`` where a
concrete type exists (the stubs a type checker reads are the package's own annotations)."""

from __future__ import annotations

import inspect

import pytest

import funnelkit as fk

# Arguments and returns that are honestly "any value" (data frames of several libraries are
# spelled out as a union of their types instead).
ALLOWED_ANY = {
    "Table.__arrow_c_stream__",  # an Arrow PyCapsule
    "Mergeable.__reduce__",
}


MODULES = ["conversion", "window_funnel", "funnel_analysis", "lifecycle", "model", "sample", "stats", "rates",
           "survival", "accumulators", "velocity", "planning", "sla", "campaign", "attribution", "markov",
           "suppression", "audit", "spark", "dask"]


def _public_objects():
    import importlib

    seen = {}
    for name in fk.__all__:
        seen[name] = getattr(fk, name)
    for mod_name in MODULES:
        mod = importlib.import_module(f"funnelkit.{mod_name}")
        for name in getattr(mod, "__all__", []):
            seen.setdefault(name, getattr(mod, name))
    return seen.items()


def _public_members():
    for name, obj in _public_objects():
        yield name, obj
        if inspect.isclass(obj):
            for attr, value in vars(obj).items():
                if attr.startswith("_") and attr not in ("__arrow_c_stream__",):
                    continue
                yield f"{name}.{attr}", value


def test_every_public_name_has_a_docstring():
    missing = []
    for qual, obj in _public_members():
        if inspect.ismodule(obj) or qual == "__version__" or isinstance(obj, (str, int, float, tuple, dict)):
            continue
        target = obj.fget if isinstance(obj, property) else getattr(obj, "__func__", obj)
        if callable(target) or isinstance(obj, property):
            doc = inspect.getdoc(target)
            if not doc or len(doc) < 10:
                missing.append(qual)
    assert not missing, f"public names without a docstring: {missing}"


def test_no_public_function_returns_any():
    loose = []
    for qual, obj in _public_members():
        target = obj.fget if isinstance(obj, property) else getattr(obj, "__func__", obj)
        if not inspect.isfunction(target) or qual in ALLOWED_ANY:
            continue
        ret = inspect.signature(target).return_annotation
        if ret is inspect.Signature.empty or ret in ("Any", "typing.Any"):
            loose.append(qual)
    assert not loose, f"public functions without a concrete return type: {loose}"
