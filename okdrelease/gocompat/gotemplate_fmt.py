"""Go's ``fmt`` for template values: ``%v`` and ``printf``'s verbs, flags, width and precision.

Template values are the data oc's template printer sees (Kubernetes' JSON decoding: whole numbers
are ``int64``, :class:`Int64` here; others ``float64``), template literals (``int``, ``float64``,
``string``, ``bool``) and nil. A verb that does not fit the value prints as Go prints it,
``%!d(string=x)`` (under the same width and precision); lists and maps apply the verb to each element
(and key), as Go does. ``printf`` follows Go's doPrintf: ``*`` widths and precisions taken from the
arguments (``%!(BADWIDTH)``, ``%!(BADPREC)``), ``[n]`` argument indexes (``%!d(BADINDEX)``; no
``%!(EXTRA …)`` once reordered), ``%#v`` in Go syntax (``map[string]interface {}{"a":1}``) and ``%p``
(a map's or list's address: this process's own, as Go prints its own).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from okdrelease.gocompat.strconv import go_quote

__all__ = ["Int64", "go_syntax", "go_type", "sprint_value", "sprintf"]


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


_MAX_NUMBER = 1_000_000  # fmt's tooLarge: widths, precisions and argument indexes past it are refused


def _parse_number(fmt: str, start: int, end: int) -> tuple[int, bool, int]:
    """fmt's parsenum: (number, found, index after it); a number past 1e6 is none, ending at ``end``."""
    number, found, index = 0, False, start
    while index < end and "0" <= fmt[index] <= "9":
        if number > _MAX_NUMBER:
            return 0, False, end
        number = number * 10 + ord(fmt[index]) - ord("0")
        found = True
        index += 1
    return number, found, index


class _Printf:
    """One ``fmt.Sprintf`` call: Go's doPrintf, argument indexes and ``*`` widths included."""

    def __init__(self, fmt: str, args: list[Any], float_text: Callable[[float], str]) -> None:
        self.fmt, self.args, self.float_text = fmt, args, float_text
        self.out: list[str] = []
        self.reordered = False
        self.good_arg = True

    def arg_number(self, arg: int, index: int) -> tuple[int, int, bool]:
        """fmt's argNumber: an explicit ``[n]`` at ``index`` (arg, index after it, found)."""
        fmt = self.fmt
        if index >= len(fmt) or fmt[index] != "[":
            return arg, index, False
        self.reordered = True
        close = fmt.find("]", index + 1)
        if len(fmt) - index < 3 or close < 0:
            self.good_arg = False
            return arg, index + 1, False
        number, found, after = _parse_number(fmt, index + 1, close)
        if not found or after != close:
            self.good_arg = False
            return arg, close + 1, False
        if 0 <= number - 1 < len(self.args):
            return number - 1, close + 1, True
        self.good_arg = False
        return arg, close + 1, True

    def int_arg(self, arg: int) -> tuple[int, bool, int]:
        """fmt's intFromArg: a ``*`` width or precision from argument ``arg``."""
        if arg >= len(self.args):
            return 0, False, arg
        value = self.args[arg]
        ok = isinstance(value, int) and not isinstance(value, bool)
        number = int(value) if ok else 0
        if not -_MAX_NUMBER <= number <= _MAX_NUMBER:
            number, ok = 0, False
        return number, ok, arg + 1

    def run(self) -> str:
        fmt, end, arg = self.fmt, len(self.fmt), 0
        index = 0
        while index < end:
            self.good_arg = True
            start = fmt.find("%", index)
            if start < 0:
                self.out.append(fmt[index:])
                break
            self.out.append(fmt[index:start])
            index = start + 1
            flags = ""
            while index < end and fmt[index] in "#0+- ":
                flags += fmt[index]
                index += 1
            arg, index, after_index = self.arg_number(arg, index)
            width, has_width = 0, False
            if index < end and fmt[index] == "*":
                index += 1
                width, has_width, arg = self.int_arg(arg)
                if not has_width:
                    self.out.append("%!(BADWIDTH)")
                if width < 0:
                    width, flags = -width, flags.replace("0", "") + "-"
                after_index = False
            else:
                width, has_width, index = _parse_number(fmt, index, end)
                if after_index and has_width:
                    self.good_arg = False
            precision: int | None = None
            if index + 1 < end and fmt[index] == ".":
                index += 1
                if after_index:
                    self.good_arg = False
                arg, index, after_index = self.arg_number(arg, index)
                if index < end and fmt[index] == "*":
                    index += 1
                    value, ok, arg = self.int_arg(arg)
                    precision = value if ok and value >= 0 else None
                    if precision is None:
                        self.out.append("%!(BADPREC)")
                    after_index = False
                else:
                    value, _found, index = _parse_number(fmt, index, end)
                    precision = value
            if not after_index:
                arg, index, after_index = self.arg_number(arg, index)
            if index >= end:
                self.out.append("%!(NOVERB)")
                break
            verb = fmt[index]
            index += 1
            if verb == "%":
                self.out.append("%")
            elif not self.good_arg:
                self.out.append(f"%!{verb}(BADINDEX)")
            elif arg >= len(self.args):
                self.out.append(f"%!{verb}(MISSING)")
            else:
                self.out.append(
                    _format(self.args[arg], verb, _Spec(flags, width, precision), self.float_text)
                )
                arg += 1
        if not self.reordered and arg < len(self.args):
            extra = ", ".join(
                "<nil>" if value is None else f"{go_type(value)}={sprint_value(value, self.float_text)}"
                for value in self.args[arg:]
            )
            self.out.append(f"%!(EXTRA {extra})")
        return "".join(self.out)


def sprintf(fmt: str, args: list[Any], float_text: Callable[[float], str]) -> str:
    """Go's ``fmt.Sprintf(fmt, args...)``: flags, widths and precisions (also ``*``), ``[n]`` argument
    indexes, Go's complaints (``%!d(MISSING)``, ``%!(EXTRA …)``, ``%!d(BADINDEX)``); nil is None."""
    return _Printf(fmt, args, float_text).run()


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


def go_syntax(value: Any, float_text: Callable[[float], str], *, nested: bool = False) -> str:
    """Go's ``%#v`` of a template value: ``map[string]interface {}{"a":1}``, ``[]interface {}{"x"}``;
    nil is ``<nil>`` as an argument, ``interface {}(nil)`` inside a map or list."""
    if value is None:
        return "interface {}(nil)" if nested else "<nil>"
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, list):
        items = ", ".join(go_syntax(item, float_text, nested=True) for item in value)
        return "[]interface {}{" + items + "}"
    if isinstance(value, Mapping):
        pairs = (f"{go_quote(key)}:{go_syntax(value[key], float_text, nested=True)}" for key in sorted(value))
        return "map[string]interface {}{" + ", ".join(pairs) + "}"
    return sprint_value(value, float_text)


def _format(value: Any, verb: str, spec: _Spec, float_text: Callable[[float], str]) -> str:
    """One argument under one verb: Go's printArg."""
    if verb == "T":
        return spec.pad(go_type(value))
    if verb == "p":  # an address for maps and lists (a run's own, as Go's); no pointer for the others
        if isinstance(value, list | Mapping):
            return spec.pad(("" if "#" in spec.flags else "0x") + f"{id(value):x}")
        return (
            f"%!p({go_type(value)}={sprint_value(value, float_text)})" if value is not None else "%!p(<nil>)"
        )
    if verb == "v" and "#" in spec.flags:
        syntax = go_syntax(value, float_text)
        return spec.pad(syntax) if not isinstance(value, list | Mapping) else syntax
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
    if text is None:  # Go's badVerb: the value as %v under the same width and precision
        plain = _Spec(spec.flags.replace("#", ""), spec.width, spec.precision)
        return f"%!{verb}({go_type(value)}={_format(value, 'v', plain, float_text)})"
    return text
