"""Go's ``fmt`` for template values: ``%v`` and ``printf``'s verbs, flags, width and precision.

Template values are the data oc's template printer sees (Kubernetes' JSON decoding: whole numbers
are ``int64``, :class:`Int64` here; others ``float64``), template literals (``int``, ``float64``,
``string``, ``bool``) and nil. A verb that does not fit the value prints as Go prints it,
``%!d(string=x)``; lists and maps apply the verb to each element (and key), as Go does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from okdrelease.gocompat.strconv import go_quote

__all__ = ["Int64", "go_type", "sprintf", "sprint_value"]


class Int64(int):
    """A whole JSON number in template data: Go's ``int64`` (a plain ``int`` is a literal's ``int``)."""

    __slots__ = ()


def go_type(value: Any) -> str:
    """The Go type of a template value, as ``%T`` and Go's errors name it."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, Int64):
        return "int64"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "[]interface {}"
    if isinstance(value, Mapping):
        return "map[string]interface {}"
    return "<nil>"


def sprint_value(value: Any, float_text: Callable[[float], str]) -> str:
    """Go's ``%v``; ``float_text`` prints a float64 (``strconv.FormatFloat(f, 'g', -1, 64)``)."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return float_text(value)
    if isinstance(value, list):
        return "[" + " ".join(sprint_value(item, float_text) for item in value) + "]"
    if isinstance(value, Mapping):
        items = (f"{key}:{sprint_value(value[key], float_text)}" for key in sorted(value))
        return "map[" + " ".join(items) + "]"
    return str(value)


_SPEC = re.compile(r"%([-+# 0]*)(\d*)(?:\.(\d*))?(.?)", re.S)


def sprintf(fmt: str, args: list[Any], float_text: Callable[[float], str]) -> str:
    """Go's ``fmt.Sprintf(fmt, args...)`` (no ``*`` widths or ``[n]`` argument indexes); nil is None."""
    out: list[str] = []
    position = 0
    used = 0
    while position < len(fmt):
        start = fmt.find("%", position)
        if start < 0:
            out.append(fmt[position:])
            break
        out.append(fmt[position:start])
        match = _SPEC.match(fmt, start)
        assert match is not None
        flags, width, precision, verb = match.groups()
        position = match.end()
        if not verb:
            out.append("%!(NOVERB)")
        elif verb == "%":
            out.append("%")
        elif used >= len(args):
            out.append(f"%!{verb}(MISSING)")
        else:
            spec = _Spec(
                flags, int(width) if width else 0, int(precision or 0) if precision is not None else None
            )
            out.append(_format(args[used], verb, spec, float_text))
            used += 1
    if used < len(args):
        extra = ", ".join(
            "<nil>" if value is None else f"{go_type(value)}={sprint_value(value, float_text)}"
            for value in args[used:]
        )
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)


class _Spec:
    __slots__ = ("flags", "precision", "width")

    def __init__(self, flags: str, width: int, precision: int | None) -> None:
        self.flags, self.width, self.precision = flags, width, precision

    def pad(self, text: str) -> str:
        if len(text) >= self.width:
            return text
        return text.ljust(self.width) if "-" in self.flags else text.rjust(self.width)

    def number(self, text: str) -> str:
        """Pad a number: zeros after the sign with the 0 flag (not with -), spaces otherwise."""
        if "0" in self.flags and "-" not in self.flags and len(text) < self.width:
            sign = text[:1] if text[:1] in "+- " else ""
            return sign + text[len(sign) :].rjust(self.width - len(sign), "0")
        return self.pad(text)

    def sign(self, text: str) -> str:
        if text.startswith("-"):
            return text
        return "+" + text if "+" in self.flags else " " + text if " " in self.flags else text


def _quote_rune(code: int) -> str:
    if not 0 <= code <= 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        code = 0xFFFD
    inner = go_quote(chr(code))[1:-1]
    return "'" + ("\\'" if inner == "'" else '"' if inner == '\\"' else inner) + "'"


def _format_int(value: int, verb: str, spec: _Spec) -> str | None:
    if verb == "c":
        return spec.pad(chr(value) if 0 <= value <= 0x10FFFF else "\ufffd")
    if verb == "q":
        return spec.pad(_quote_rune(value))
    if verb == "U":
        return spec.pad(f"U+{value:04X}")
    base = {"v": "d", "d": "d", "b": "b", "o": "o", "O": "o", "x": "x", "X": "X"}.get(verb)
    if base is None:
        return None
    digits = format(abs(value), base)
    if spec.precision is not None:
        digits = digits.rjust(spec.precision, "0") if spec.precision or value else ""
    prefix = (
        ("0x" if verb == "x" else "0X" if verb == "X" else "0" if verb == "o" else "")
        if "#" in spec.flags
        else ""
    )
    prefix = "0o" if verb == "O" else prefix
    return spec.number(spec.sign(("-" if value < 0 else "") + prefix + digits))


def _format_float(value: float, verb: str, spec: _Spec, float_text: Callable[[float], str]) -> str | None:
    if verb in "vgG" and spec.precision is None:
        text = float_text(value)
        text = text.upper() if verb == "G" else text
    elif verb in "eEfFgG" or verb == "v":
        precision = 6 if spec.precision is None else spec.precision
        text = format(value, f".{precision}{'g' if verb == 'v' else verb}")
    else:
        return None
    return spec.number(spec.sign(text))


def _format(value: Any, verb: str, spec: _Spec, float_text: Callable[[float], str]) -> str:
    """One argument under one verb: Go's printArg."""
    if verb == "T":
        return spec.pad(go_type(value))
    if value is None:
        return spec.pad("<nil>") if verb == "v" else f"%!{verb}(<nil>)"
    text: str | None = None
    if isinstance(value, bool):
        text = spec.pad("true" if value else "false") if verb in "tv" else None
    elif isinstance(value, int):
        text = _format_int(value, verb, spec)
    elif isinstance(value, float):
        text = _format_float(value, verb, spec, float_text)
    elif isinstance(value, str):
        if verb in "vs":
            text = spec.pad(value if spec.precision is None else value[: spec.precision])
        elif verb == "q":
            text = spec.pad(go_quote(value))
        elif verb in "xX":
            hexed = value.encode("utf-8", "surrogateescape").hex()
            text = spec.pad(hexed.upper() if verb == "X" else hexed)
    elif isinstance(value, list):
        return "[" + " ".join(_format(item, verb, spec, float_text) for item in value) + "]"
    elif isinstance(value, Mapping):
        items = (
            f"{_format(key, verb, spec, float_text)}:{_format(value[key], verb, spec, float_text)}"
            for key in sorted(value)
        )
        return "map[" + " ".join(items) + "]"
    if text is None:
        return f"%!{verb}({go_type(value)}={sprint_value(value, float_text)})"
    return text
