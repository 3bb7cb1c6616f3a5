"""One shared ``__repr__`` for the package's attrs classes.

attrs generates and compiles a ``__repr__`` for every class it builds (about
0.1 ms each, a hundred classes on every process start).  A class that assigns
``__repr__ = value_repr`` in its body gets this function instead: attrs sees
``__repr__`` in the class's own ``__dict__`` and skips generating one.

The output is byte-for-byte what attrs 26.1's generated repr writes
(``attr._make._make_repr_script``): the class's ``__qualname__`` after its last
``">."`` (so a class defined in a function shows its bare name), then every
field whose ``repr`` is not False as ``name=repr(value)``, or ``name=`` the
field's ``repr`` callable's result; a field without an ``__init__`` argument
that is not set shows ``NOTHING``.  attrs' recursion guard is kept (an object
met again inside its own repr shows ``...``): only a cycle could make it
visible, and then both write the same.
"""

from __future__ import annotations

import threading

import attrs

__all__ = ["value_repr"]

_ACTIVE = threading.local()


def value_repr(self: object) -> str:
    """``Name(field=value, ...)`` exactly as attrs' generated ``__repr__``."""
    try:
        active: set[int] = _ACTIVE.ids
    except AttributeError:
        active = _ACTIVE.ids = set()
    key = id(self)
    if key in active:
        return "..."
    active.add(key)
    try:
        cls = self.__class__
        parts = []
        for a in cls.__attrs_attrs__:  # type: ignore[attr-defined]
            shown = a.repr
            if shown is False:
                continue
            value = getattr(self, a.name) if a.init else getattr(self, a.name, attrs.NOTHING)
            parts.append(f"{a.name}={value!r}" if shown is True else f"{a.name}={shown(value)}")
        return f"{cls.__qualname__.rsplit('>.', 1)[-1]}({', '.join(parts)})"
    finally:
        active.discard(key)
