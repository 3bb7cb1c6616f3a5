"""The shared ``__repr__`` (okdrelease._repr.value_repr) writes what attrs' generated one would.

Every attrs class in the package assigns ``__repr__ = value_repr`` (or writes its own) so that
attrs does not compile a ``__repr__`` per class at import; these tests pin the output to attrs'
own and catch a class that brings the generated one back.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

import attrs
import pytest

import okdrelease
from okdrelease._repr import value_repr


def _module_names() -> list[str]:
    # From the files, not pkgutil: okdrelease/openshift is a namespace package pkgutil skips.
    root = Path(okdrelease.__file__).parent
    names = []
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if parts[-1] != "__main__":
            names.append(".".join(parts))
    return names


def _attrs_classes() -> list[type]:
    found: dict[str, type] = {}
    for name in _module_names():
        module = importlib.import_module(name)
        for value in vars(module).values():
            if isinstance(value, type) and value.__module__ == name and "__attrs_attrs__" in value.__dict__:
                found[f"{value.__module__}.{value.__qualname__}"] = value
    return [found[name] for name in sorted(found)]


CLASSES = _attrs_classes()


def test_the_walk_finds_the_package_classes() -> None:
    names = {f"{c.__module__}.{c.__qualname__}" for c in CLASSES}
    assert {
        "okdrelease.oci.model.Platform",
        "okdrelease.oci.model.Manifest",
        "okdrelease.reference._Parsed",
        "okdrelease.oci.layerread.LayerEntry",
        "okdrelease.openshift.imagestream.ImageStream",
    } <= names


class _Shown:
    """A field value with a repr that names its field, so a swapped or missing field shows."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<{self.name}>"


def _generated_repr(cls: type) -> Any:
    """The ``__repr__`` attrs generates for fields like *cls*'s (repr and init flags kept)."""
    these = {a.name: attrs.field(repr=a.repr, init=a.init) for a in attrs.fields(cls)}
    return attrs.make_class("Generated", these).__repr__


def _bare_instance(cls: type) -> Any:
    instance = cls.__new__(cls)
    for a in attrs.fields(cls):
        object.__setattr__(instance, a.name, _Shown(a.name))
    return instance


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: f"{c.__module__}.{c.__qualname__}")
def test_repr_is_attrs_generated_repr(cls: type) -> None:
    instance = _bare_instance(cls)
    expected = _generated_repr(cls)(instance)
    assert repr(instance) == expected
    assert value_repr(instance) == expected
    shown = [a.name for a in attrs.fields(cls) if a.repr is not False]
    assert expected == f"{cls.__qualname__}({', '.join(f'{n}=<{n}>' for n in shown)})"


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: f"{c.__module__}.{c.__qualname__}")
def test_repr_is_the_shared_one_or_the_class_own(cls: type) -> None:
    own = cls.__dict__.get("__repr__")
    if own is value_repr:
        return
    # A hand-written __repr__ lives in the class's module; a generated one in "<attrs generated ...>".
    assert own is not None, f"{cls.__qualname__} has no __repr__ of its own"
    assert own.__code__.co_filename == sys.modules[cls.__module__].__file__, (
        f"{cls.__module__}.{cls.__qualname__}: attrs generated its __repr__; "
        "add `__repr__ = value_repr` (okdrelease._repr) to the class body"
    )


def _pair(**kw: Any) -> tuple[type, type]:
    """The same fields in a class with the shared repr and in one with attrs' generated repr."""

    def build(shared: bool) -> type:
        ns: dict[str, Any] = {
            "a": attrs.field(),
            "b": attrs.field(repr=False),
            "c": attrs.field(repr=lambda v: f"<{len(v)} items>"),
            "d": attrs.field(init=False),
            "_e": attrs.field(default=2),
        }
        if shared:
            ns["__repr__"] = value_repr
        cls = attrs.define(type("Pair", (), ns), **kw)
        cls.__qualname__ = "make.<locals>.Pair"
        return cls

    return build(True), build(False)


@pytest.mark.parametrize("kw", [{}, {"frozen": True}, {"slots": False}])
def test_repr_fields_flags_and_qualname(kw: dict[str, Any]) -> None:
    shared, generated = _pair(**kw)
    assert shared.__repr__ is value_repr and generated.__repr__ is not value_repr
    one, two = shared(1, "hidden", [1, 2, 3]), generated(1, "hidden", [1, 2, 3])
    # d has no __init__ argument and is not set: attrs shows NOTHING.
    assert repr(one) == repr(two) == "Pair(a=1, c=<3 items>, d=NOTHING, _e=2)"
    object.__setattr__(one, "d", "x")
    object.__setattr__(two, "d", "x")
    assert repr(one) == repr(two) == "Pair(a=1, c=<3 items>, d='x', _e=2)"


def test_repr_nested_class_qualname_kept() -> None:
    @attrs.frozen
    class Inner:
        __repr__ = value_repr

        x: int

    Inner.__qualname__ = "Outer.Inner"
    assert repr(Inner(3)) == "Outer.Inner(x=3)"
    Inner.__qualname__ = "f.<locals>.Outer.<locals>.Inner"
    assert repr(Inner(3)) == "Inner(x=3)"


def test_repr_unset_field_with_init_raises_like_attrs() -> None:
    shared, generated = _pair()
    for cls in (shared, generated):
        instance = cls.__new__(cls)
        with pytest.raises(AttributeError, match="'a'"):
            repr(instance)


def test_repr_cycle_shows_ellipsis_like_attrs() -> None:
    shared, generated = _pair()
    for cls in (shared, generated):
        node = cls([], "", [])
        node.a.append(node)
        node.c.append(node)
        assert repr(node) == "Pair(a=[...], c=<1 items>, d=NOTHING, _e=2)"
        # The guard lets go afterwards: the same object shows in full again.
        full = "Pair(a=[...], c=<1 items>, d=NOTHING, _e=2)"
        assert repr([node, node]) == f"[{full}, {full}]"
