"""Byte-exact emulation of Go ``encoding/json`` output (Marshal, MarshalIndent) for plain Python values.

Dicts are written in insertion order (callers order struct fields; use :func:`sorted_map` for Go
maps). Python ``float`` is Go float64, ``int`` is a Go integer, ``None`` is ``null``.
"""

from __future__ import annotations

import json
import json.encoder
import math
import re
import struct
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from okdrelease._repr import value_repr
from okdrelease.errors import ReleaseError
from okdrelease.gocompat.jsonbounds import json_too_deep, max_depth_message
from okdrelease.gocompat.strconv import go_quote

__all__ = [
    "GoCustom",
    "GoJSONError",
    "GoMap",
    "GoSlice",
    "GoStruct",
    "RawNumber",
    "check_valid",
    "decode_typed",
    "go_type_error",
    "go_type_name",
    "json_kind",
    "loads_typed",
    "format_float",
    "parse_valid",
    "loads_go",
    "loads_go_numbers",
    "marshal",
    "marshal_indent",
    "quote_string",
    "sorted_map",
    "to_interface",
]


class GoJSONError(ReleaseError):
    """JSON input Go's decoder would reject; the message is Go's."""


_SHORT_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


def _escape_char(ch: str) -> str:
    """Return the Go encoding of one character of a JSON string."""
    escaped = _SHORT_ESCAPES.get(ch)
    if escaped is not None:
        return escaped
    code = ord(ch)
    if code < 0x20:
        return f"\\u00{code:02x}"
    if 0xD800 <= code <= 0xDFFF:  # lone surrogate (e.g. an undecodable byte): Go writes U+FFFD
        return "\ufffd"
    return ch


_ESCAPE_TABLE = {code: _escape_char(chr(code)) for code in range(0x20)} | {
    ord(ch): esc for ch, esc in _SHORT_ESCAPES.items()
}


_SURROGATE = re.compile("[\ud800-\udfff]")
#: A character Go writes escaped (or replaces): when a string has none, it is written as it is.
_NEEDS_ESCAPE = re.compile('[\x00-\x1f"\\\\<>&\u2028\u2029\ud800-\udfff]')


#: A JSON string encoder: a ``str`` to its quoted literal.
Quote = Callable[[str], str]
#: The C ``json`` module's string literal without ASCII escaping (see :func:`_render`).
_quote_python: Quote = json.encoder.encode_basestring


def quote_string(text: str) -> str:
    """Return ``text`` as a Go JSON string literal (HTML-escaped, non-ASCII kept raw)."""
    if _NEEDS_ESCAPE.search(text) is None:
        return '"' + text + '"'
    return _quote_escaping(text)


def _quote_escaping(text: str) -> str:
    """:func:`quote_string` character by character (what it returns for every string)."""
    quoted = text.translate(_ESCAPE_TABLE)
    if not quoted.isascii() and _SURROGATE.search(quoted):
        quoted = "".join(_escape_char(ch) for ch in quoted)
    return '"' + quoted + '"'


def _fixed(sign: str, digits: str, point: int) -> str:
    """Render significant ``digits`` with the decimal point after ``point`` digits, without exponent."""
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return sign + digits + "0" * (point - len(digits))
    return f"{sign}{digits[:point]}.{digits[point:]}"


def format_float(value: float) -> str:
    """Format a float64 like Go's JSON encoder: shortest digits, exponent only below 1e-6 or from 1e21."""
    if not math.isfinite(value):
        raise ValueError(f"json: unsupported value: {value!r}")
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    sign = "-" if value < 0 else ""
    magnitude = abs(value)
    mantissa, _, exp_text = repr(magnitude).partition("e")
    whole, _, frac = mantissa.partition(".")
    digits = whole + frac
    point = len(whole) + (int(exp_text) if exp_text else 0)
    stripped = digits.lstrip("0")
    point -= len(digits) - len(stripped)
    digits = stripped.rstrip("0") or "0"
    if magnitude < 1e-6 or magnitude >= 1e21:
        exponent = point - 1
        body = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        exp_sign = "-" if exponent < 0 else "+"
        exp_digits = str(abs(exponent))
        if exp_sign == "+" and len(exp_digits) < 2:
            exp_digits = "0" + exp_digits
        return f"{sign}{body}e{exp_sign}{exp_digits}"
    return _fixed(sign, digits, point)


def _scalar(value: Any, quote: Quote) -> str | None:
    """Encode a non-container value (a string with ``quote``), or return None for lists and mappings."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return quote(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format_float(value)
    if isinstance(value, (list, tuple, Mapping)):
        return None
    raise TypeError(f"json: unsupported type: {type(value).__name__}")


class _Layout:
    """The separators of one encoding at each depth: compact (``newline`` None) or indented."""

    __slots__ = ("_indent", "_levels", "_newline")

    def __init__(self, newline: str | None, indent: str) -> None:
        self._newline, self._indent = newline, indent
        self._levels: list[tuple[str, str, str, str, str, str]] = []

    def level(self, depth: int) -> tuple[str, str, str, str, str, str]:
        """(between members, after a key, an object's opening and closing, a list's) at ``depth``."""
        levels = self._levels
        while len(levels) <= depth:
            newline, indent, at = self._newline, self._indent, len(levels)
            if newline is None:
                levels.append((",", ":", "{", "}", "[", "]"))
            else:
                inner = newline + indent * (at + 1)
                outer = newline + indent * at
                levels.append(("," + inner, ": ", "{" + inner, outer + "}", "[" + inner, outer + "]"))
        return levels[depth]


def _encode(value: Any, out: list[str], layout: _Layout, depth: int, quote: Quote) -> None:
    """Append the encoding of ``value``, strings written by ``quote``. A member that is a string or null
    is written with its key in one piece (the usual member of the documents oc writes)."""
    if type(value) is str:  # the most common value first
        out.append(quote(value))
        return
    is_map = type(value) is dict
    if not is_map and type(value) is not list:
        scalar = _scalar(value, quote)
        if scalar is not None:
            out.append(scalar)
            return
        is_map = isinstance(value, Mapping)
    if not value:
        out.append("{}" if is_map else "[]")
        return
    inner, separator, map_open, map_close, list_open, list_close = layout.level(depth)
    append = out.append
    first = True
    if is_map:
        append(map_open)
        for key, item in value.items():
            if type(key) is not str and not isinstance(key, str):
                raise TypeError(f"json: unsupported map key type: {type(key).__name__}")
            if first:
                first = False
            else:
                append(inner)
            if type(item) is str:
                append(quote(key) + separator + quote(item))
            elif item is None:
                append(quote(key) + separator + "null")
            else:
                append(quote(key) + separator)
                _encode(item, out, layout, depth + 1, quote)
        append(map_close)
        return
    append(list_open)
    for item in value:
        if first:
            first = False
        else:
            append(inner)
        if type(item) is str:
            append(quote(item))
        else:
            _encode(item, out, layout, depth + 1, quote)
    append(list_close)


#: Characters Go escapes in a string and Python's string encoder (:data:`_quote_python`) writes as
#: they are, UTF-8 encoded, and Go's escapes. Outside strings an encoding holds none of them (only
#: brackets, commas, colons, digits, ``-+.e``, ``true``, ``false``, ``null`` and its layout, which is
#: checked), so each one found in the whole output is in a string.
_GO_ONLY_ESCAPES = tuple(
    (char.encode("utf-8"), _SHORT_ESCAPES[char].encode("ascii")) for char in "<>&\u2028\u2029"
)


def _render(obj: Any, newline: str | None, indent: str) -> bytes:
    """The encoding of ``obj`` with ``newline`` (None: compact) and ``indent``.

    Strings are quoted by the C string encoder of Python's ``json`` (:data:`_quote_python`), which
    writes what :func:`quote_string` writes (Go's short escapes, ``\\b`` and ``\\f`` included, and
    ``\\u00XX`` in lower case) except for (a) the characters of :data:`_GO_ONLY_ESCAPES`, replaced by
    their escapes in the whole output afterwards, and (b) surrogates, which it keeps where Go writes
    U+FFFD: an output holding one has no UTF-8 encoding and is made again with :func:`quote_string`,
    as is one whose layout itself holds a character of (a).
    """
    layout = _Layout(newline, indent)
    spacing = ((newline or "") + indent).encode("utf-8", "surrogatepass")
    if not any(char in spacing for char, _escape in _GO_ONLY_ESCAPES):
        out: list[str] = []
        _encode(obj, out, layout, 0, _quote_python)
        try:
            data = "".join(out).encode("utf-8")
        except UnicodeEncodeError:
            pass
        else:
            for char, escape in _GO_ONLY_ESCAPES:
                if char in data:
                    data = data.replace(char, escape)
            return data
    out = []
    _encode(obj, out, layout, 0, quote_string)
    return "".join(out).encode("utf-8")


def marshal(obj: Any) -> bytes:
    """Return the compact Go ``json.Marshal`` encoding of ``obj``."""
    return _render(obj, None, "")


def marshal_indent(obj: Any, indent: str = "  ", prefix: str = "") -> bytes:
    """Return Go ``json.MarshalIndent(obj, prefix, indent)`` (no trailing newline)."""
    return _render(obj, "\n" + prefix, indent)


def sorted_map(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """Return a copy of ``mapping`` with keys in Go's map encoding order (bytewise sorted)."""
    return {key: mapping[key] for key in sorted(mapping, key=lambda k: k.encode("utf-8", "surrogatepass"))}


_WHITESPACE = frozenset(b" \t\r\n")
_DIGITS = frozenset(b"0123456789")
_HEX = frozenset(b"0123456789abcdefABCDEF")
_ESCAPABLE = frozenset(b'"\\/bfnrt')
_LITERALS = {ord("t"): b"true", ord("f"): b"false", ord("n"): b"null"}


def _offending(data: bytes, pos: int) -> tuple[str, int]:
    """The character of ``data`` at ``pos`` as Go's JSON errors name it, and its length in bytes: the
    whole UTF-8 character (``'é'``, 2), a byte that starts none as ``'\\xff'`` (1); ``'`` and ``"`` as
    Go's quoteChar writes them."""
    char = data[pos : pos + 4].decode("utf-8", "surrogateescape")[0]
    width = 1 if "\udc80" <= char <= "\udcff" else len(char.encode())
    if char == "'":
        return "'\\''", width
    if char == '"':
        return "'\"'", width
    return "'" + go_quote(char)[1:-1] + "'", width


class _Scanner:
    """Go's encoding/json syntax check (checkValid), with its error texts."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0
        #: Go's SyntaxError.Offset of a failure on a character: the bytes through that character.
        self.offset: int | None = None

    def fail(self, context: str) -> GoJSONError:
        """Return the error for the character at the current position (or end of input)."""
        if self.pos >= len(self.data):
            return GoJSONError("unexpected end of JSON input")
        named, width = _offending(self.data, self.pos)
        self.offset = self.pos + width
        return GoJSONError(f"invalid character {named} {context}")

    def peek(self) -> int:
        """Return the current byte, or -1 at the end."""
        return self.data[self.pos] if self.pos < len(self.data) else -1

    def skip_space(self) -> None:
        """Skip JSON white space."""
        while self.pos < len(self.data) and self.data[self.pos] in _WHITESPACE:
            self.pos += 1

    def value(self) -> None:
        """Scan one value (white space before it skipped)."""
        self.skip_space()
        byte = self.peek()
        if byte == ord("{"):
            self.pos += 1
            self.container(ord("}"), True)
        elif byte == ord("["):
            self.pos += 1
            self.container(ord("]"), False)
        elif byte == ord('"'):
            self.string()
        elif byte == ord("-") or byte in _DIGITS:
            self.number()
        elif byte in _LITERALS:
            self.literal(_LITERALS[byte])
        else:
            raise self.fail("looking for beginning of value")

    def container(self, closer: int, is_object: bool) -> None:
        """Scan the members of an object or array after its opening bracket."""
        self.skip_space()
        if self.peek() == closer:
            self.pos += 1
            return
        while True:
            if is_object:
                self.skip_space()
                if self.peek() != ord('"'):
                    raise self.fail("looking for beginning of object key string")
                self.string()
                self.skip_space()
                if self.peek() != ord(":"):
                    raise self.fail("after object key")
                self.pos += 1
            self.value()
            self.skip_space()
            byte = self.peek()
            if byte == ord(","):
                self.pos += 1
                continue
            if byte == closer:
                self.pos += 1
                return
            raise self.fail("after object key:value pair" if is_object else "after array element")

    def string(self) -> None:
        """Scan a string literal starting at its opening quote."""
        self.pos += 1
        while True:
            byte = self.peek()
            if byte == ord('"'):
                self.pos += 1
                return
            if byte == ord("\\"):
                self.escape()
                continue
            if byte == -1 or byte < 0x20:
                raise self.fail("in string")
            self.pos += 1

    def escape(self) -> None:
        """Scan an escape at its backslash. Go 1.27 (encoding/json over jsontext) names a bad one whole: the
        backslash and the byte after it, or ``\\u`` and the (up to) four bytes after it; input that ends
        first is the end of input."""
        data, at = self.data, self.pos
        kind = data[at + 1 : at + 2]
        if kind == b"u":
            digits = data[at + 2 : at + 6]
            if all(digit in _HEX for digit in digits):
                if len(digits) < 4:
                    self.pos = len(data)
                    raise self.fail("")
                self.pos = at + 6
                return
            raise self._bad_escape(data[at : at + 6])
        if not kind:
            self.pos = len(data)
            raise self.fail("")
        if kind[0] not in _ESCAPABLE:
            raise self._bad_escape(data[at : at + 2])
        self.pos = at + 2

    def _bad_escape(self, what: bytes) -> GoJSONError:
        """jsontext's words for the escape ``what``: in backquotes, or Go-quoted (%q) when it holds a
        backquote, a space, a byte that starts no character or anything Go does not print."""
        self.offset = self.pos + len(what)  # Go's SyntaxError.Offset: the bytes through the escape
        text = what.decode("utf-8", "surrogateescape")
        plain = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if any(ch in text for ch in "` \ufffd") or go_quote(text) != plain:
            return GoJSONError(f"invalid escape sequence {go_quote(text)} in string")
        return GoJSONError(f"invalid escape sequence `{text}` in string")

    def digits(self, context: str) -> None:
        """Scan one or more digits."""
        if self.peek() not in _DIGITS:
            raise self.fail(context)
        while self.peek() in _DIGITS:
            self.pos += 1

    def number(self) -> None:
        """Scan a number literal."""
        if self.peek() == ord("-"):
            self.pos += 1
        if self.peek() == ord("0"):
            self.pos += 1
        else:
            self.digits("in numeric literal")
        if self.peek() == ord("."):
            self.pos += 1
            self.digits("after decimal point in numeric literal")
        if self.peek() in (ord("e"), ord("E")):
            self.pos += 1
            if self.peek() in (ord("+"), ord("-")):
                self.pos += 1
            self.digits("in exponent of numeric literal")

    def literal(self, word: bytes) -> None:
        """Scan true, false or null."""
        name = word.decode()
        self.pos += 1
        for expected in word[1:]:
            if self.peek() != expected:
                raise self.fail(f"in literal {name} (expecting {_offending(bytes([expected]), 0)[0]})")
            self.pos += 1


def first_value_error(data: bytes) -> tuple[str, int | None]:
    """Go's scanner error for the first JSON value of ``data`` and its offset as Go's SyntaxError gives it,
    the bytes through the character it names (None at the end of input); ``("", None)`` when the value
    is valid."""
    scanner = _Scanner(data)
    try:
        scanner.value()
    except GoJSONError as err:
        return str(err), scanner.offset
    return "", None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"not JSON: {name}")


def _strictly_valid(data: bytes) -> bool:
    """Whether the C decoder takes ``data`` as strict JSON: UTF-8, no NaN/Infinity, no control
    characters in strings. What it takes, Go's checkValid takes too; the rest goes to the scanner."""
    try:
        json.loads(data.decode("utf-8"), parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        return False
    return True


def check_valid(data: bytes) -> None:
    """Raise GoJSONError with Go's message if ``data`` is not one valid JSON value."""
    if json_too_deep(data):
        raise GoJSONError(max_depth_message())
    if not _strictly_valid(data):
        _scan_valid(data)


def _scan_valid(data: bytes) -> None:
    """Go's syntax check by the scanner (for what the C decoder refused): GoJSONError with Go's text."""
    scanner = _Scanner(data)
    scanner.value()
    scanner.skip_space()
    if scanner.pos < len(data):
        raise scanner.fail("after top-level value")


def _go_float(text: str) -> float:
    """Convert a JSON number to float64, failing where Go's decoder would (out of range)."""
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"json: cannot unmarshal number {text} into Go value of type float64")
    return value


def _sort_objects(value: Any) -> Any:
    """Sort every object's keys as Go does for map[string]interface{}."""
    if isinstance(value, dict):
        return sorted_map({key: _sort_objects(item) for key, item in value.items()})
    if isinstance(value, list):
        return [_sort_objects(item) for item in value]
    return value


#: A ``\\u`` escape of a UTF-16 surrogate (D800-DFFF) in JSON text (may also match after an escaped backslash).
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _go_strings(value: Any, data: bytes) -> Any:
    """``value`` decoded from ``data`` with the strings Go's decoder reads: a ``\\uD800``-``\\uDFFF``
    escape that is not half of a pair is U+FFFD (Go's unquote; Python keeps it as a lone surrogate,
    which no UTF-8 encoding takes). Pairs are combined alike; ``data`` without such an escape is
    returned as it is, unwalked."""
    if b"\\u" not in data or _SURROGATE_ESCAPE.search(data) is None:
        return value
    return _replace_surrogates(value)


def _replace_surrogates(value: Any) -> Any:
    if type(value) is str:  # (a RawNumber is a str too, and holds no escape)
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {_replace_surrogates(key): _replace_surrogates(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_replace_surrogates(item) for item in value]
    return value


def loads_go(data: bytes | str) -> Any:
    """Validate ``data`` like Go (its syntax error texts), then decode it keeping integers as int."""
    raw = data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data
    check_valid(raw)
    return _go_strings(json.loads(raw.decode("utf-8", "replace")), raw)


def loads_go_numbers(data: bytes | str) -> Any:
    """Decode JSON like Go into interface{}: numbers become float64, objects get sorted keys."""
    raw = data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data
    check_valid(raw)
    try:
        value = json.loads(raw.decode("utf-8", "replace"), parse_int=_go_float, parse_float=_go_float)
    except ValueError as err:
        raise GoJSONError(str(err)) from err
    return _sort_objects(_go_strings(value, raw))


# --------------------------------------------------------------------------------------------
# Typed decoding: what Go's json.Unmarshal into a struct keeps, and the errors it reports.


@attrs.frozen
class GoStruct:
    """A Go struct type for decoding: ``name`` as Go prints it (``pkg.Type``) and its JSON fields."""

    __repr__ = value_repr

    name: str
    fields: tuple[tuple[str, Any], ...]
    #: The fields by name, and their names by case-folded name (Go matches keys case-insensitively).
    by_name: dict[str, Any] = attrs.field(init=False, eq=False, repr=False)
    by_folded_name: dict[str, str] = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "by_name", dict(self.fields))
        object.__setattr__(self, "by_folded_name", {name.casefold(): name for name, _ in self.fields})

    @property
    def short_name(self) -> str:
        """Return the type name without its package, as used in "Go struct field" errors."""
        return self.name.rpartition(".")[2]


@attrs.frozen
class GoSlice:
    """A Go slice type ``[]elem``."""

    __repr__ = value_repr

    elem: Any

    @property
    def name(self) -> str:
        """Return the Go spelling of the type."""
        return "[]" + go_type_name(self.elem)


@attrs.frozen
class GoMap:
    """A Go map type with string keys, ``map[string]elem``."""

    __repr__ = value_repr

    elem: Any

    @property
    def name(self) -> str:
        """Return the Go spelling of the type."""
        return "map[string]" + go_type_name(self.elem)


@attrs.frozen
class GoCustom:
    """A leaf type decoded by a function (like a Go UnmarshalJSON method); it raises GoJSONError."""

    __repr__ = value_repr

    name: str
    decode: Any  # Callable[[Any], Any]


# Leaf types are spelled as strings: "string", "bool", "int64", "float64" and "interface {}"
# (any JSON value, numbers as float64, objects with sorted keys).


def go_type_name(typ: Any) -> str:
    """Return how Go prints ``typ`` in error messages."""
    return typ if isinstance(typ, str) else typ.name


class RawNumber(str):
    """A JSON number kept as its literal text until its Go type is known."""

    __slots__ = ()


def json_kind(value: Any) -> str:
    """Go's name for the JSON type of a parsed ``value`` in UnmarshalTypeError (a :class:`RawNumber` is a
    number, a bool is no number)."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (RawNumber, int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


@attrs.define
class _Context:
    """The struct and field path Go reports for a type error."""

    __repr__ = value_repr

    struct: str = ""
    path: tuple[str | int, ...] = ()
    from_yaml: bool = False
    #: The path names map keys and slice indices too, and struct fields by the keys as written (oc's Go
    #: decoding ``--metadata`` and ``release-metadata``); otherwise struct fields alone, by their names.
    full: bool = False
    #: Struct names left out of a ``full`` path (oc's sigs.k8s.io/yaml readers: ``Go struct field .spec.tags``).
    anonymous: bool = False

    def at(self, step: str | int) -> _Context:
        """The context of a map value or slice element (the innermost struct stays)."""
        if not self.full:
            return self
        return _Context(self.struct, (*self.path, step), self.from_yaml, True, self.anonymous)


def _type_error(value_desc: str, typ: Any, ctx: _Context) -> GoJSONError:
    """Build Go's UnmarshalTypeError message. A ``full`` path is written as oc's Go writes it: map keys
    JSON-pointer escaped (``~0``, ``~1``), slice indices, and ``into S.PATH`` (not ``into Go struct field
    S.PATH``) when the value is a slice element."""
    if ctx.struct or ctx.path:
        where = "".join(
            f".{part}" if isinstance(part, int) else "." + part.replace("~", "~0").replace("/", "~1")
            for part in ctx.path
        )
        if not ctx.full:
            where = "." + ".".join(map(str, ctx.path))
        into = "into " if ctx.path and isinstance(ctx.path[-1], int) else "into Go struct field "
        return GoJSONError(
            f"json: cannot unmarshal {value_desc} {into}{ctx.struct}{where} of type {go_type_name(typ)}"
        )
    return GoJSONError(f"json: cannot unmarshal {value_desc} into Go value of type {go_type_name(typ)}")


def _interface(value: Any, ctx: _Context) -> Any:
    """:func:`to_interface` of a value decoded at ``ctx``: a number past float64's range is refused there."""
    if isinstance(value, dict):
        return sorted_map({key: _interface(item, ctx.at(key)) for key, item in value.items()})
    if isinstance(value, list):
        return [_interface(item, ctx.at(index)) for index, item in enumerate(value)]
    try:
        return to_interface(value)
    except GoJSONError:
        raise _type_error(f"number {value}", "float64", ctx) from None


def _to_float(value: Any) -> float:
    """Convert a decoded number to float64 (Go's interface{} representation)."""
    number = float(value)
    if math.isinf(number):
        raise GoJSONError(f"json: cannot unmarshal number {value} into Go value of type float64")
    return number


def to_interface(value: Any) -> Any:
    """Return ``value`` as Go holds it in interface{}: float64 numbers, objects with sorted keys."""
    if isinstance(value, dict):
        return sorted_map({key: to_interface(item) for key, item in value.items()})
    if isinstance(value, list):
        return [to_interface(item) for item in value]
    if (
        isinstance(value, bool)
        or value is None
        or (isinstance(value, str) and not isinstance(value, RawNumber))
    ):
        return value
    return _to_float(value)


def _decode_number(value: Any, typ: str, ctx: _Context) -> Any:
    """Decode a JSON number into an int64 or float64 field."""
    text = str(value) if not isinstance(value, float) else format_float(value)
    if typ == "float64":
        try:
            return _to_float(value)
        except GoJSONError:
            raise _type_error(f"number {text}", typ, ctx) from None
    if isinstance(value, float) and value.is_integer():
        candidate: int | None = int(value)
    else:
        try:
            candidate = int(text)
        except ValueError:
            candidate = None
    if candidate is None or not -(1 << 63) <= candidate < (1 << 63):
        raise _type_error(f"number {text}", typ, ctx)
    return candidate


def _decode(value: Any, typ: Any, ctx: _Context) -> Any:
    """Decode ``value`` (from json/yaml) as Go type ``typ``; None stands for null / zero."""
    if value is None:
        return None
    if isinstance(typ, GoCustom):
        return typ.decode(value, ctx)
    kind = json_kind(value)
    if typ == "interface {}":
        return _interface(value, ctx) if ctx.full else to_interface(value)
    if typ == "string":
        if kind != "string":
            if ctx.from_yaml and kind in ("number", "bool"):
                return _yaml_scalar_string(value)
            raise _type_error(kind, typ, ctx)
        return str(value)
    if typ == "bool":
        if kind != "bool":
            raise _type_error(kind, typ, ctx)
        return value
    if typ in ("int64", "float64"):
        if kind != "number":
            raise _type_error(kind, typ, ctx)
        return _decode_number(value, typ, ctx)
    if isinstance(typ, GoSlice):
        if kind != "array":
            raise _type_error(kind, typ, ctx)
        return [_decode(item, typ.elem, ctx.at(index)) for index, item in enumerate(value)]
    if isinstance(typ, GoMap):
        if kind != "object":
            raise _type_error(kind, typ, ctx)
        return sorted_map(
            {str(key): _decode(item, typ.elem, ctx.at(str(key))) for key, item in value.items()}
        )
    if isinstance(typ, GoStruct):
        if kind != "object":
            raise _type_error(kind, typ, ctx)
        return _decode_struct(value, typ, ctx)
    raise TypeError(f"unknown Go type {typ!r}")


def _decode_struct(value: Mapping[Any, Any], typ: GoStruct, ctx: _Context) -> dict[str, Any]:
    """Decode an object into a struct: known fields only, keys matched exactly or case-insensitively."""
    fields, folded = typ.by_name, typ.by_folded_name
    out: dict[str, Any] = {}
    for raw_key, item in value.items():
        key = str(raw_key)
        name = key if key in fields else folded.get(key.casefold())
        if name is None:
            continue
        struct = "" if ctx.anonymous else typ.short_name
        child = _Context(
            struct, (*ctx.path, key if ctx.full else name), ctx.from_yaml, ctx.full, ctx.anonymous
        )
        out[name] = _decode(item, fields[name], child)
    return out


def decode_typed(
    value: Any, typ: Any, *, from_yaml: bool = False, full_paths: bool = False, anonymous: bool = False
) -> Any:
    """Decode a parsed JSON value (or YAML, converted like sigs.k8s.io/yaml) as Go would into ``typ``;
    ``full_paths``: errors name map keys and slice indices too (see ``_Context.full``), ``anonymous``
    without struct names."""
    return _decode(value, typ, _Context(from_yaml=from_yaml, full=full_paths, anonymous=anonymous))


def _yaml_scalar_string(value: Any) -> str:
    """Render a YAML bool/int/float bound for a Go string field, as sigs.k8s.io/yaml does.

    A float goes through ``strconv.FormatFloat(v, 'g', -1, 32)``: rounded to float32 first
    (one implementation: ``goyaml.format_float_g``), a float32 overflow is an infinity.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    number = float(value)
    try:
        struct.pack("<f", number)
    except OverflowError:
        number = math.copysign(math.inf, number)
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "+Inf" if number > 0 else "-Inf"
    from okdrelease.gocompat.goyaml import format_float_g  # rare: only a float bound for a string

    return format_float_g(number, bits=32)


def go_type_error(value: Any, typ: Any, ctx: Any) -> GoJSONError:
    """Return Go's "cannot unmarshal" error for ``value`` decoded as ``typ`` at ``ctx`` (for GoCustom)."""
    return _type_error(json_kind(value), typ, ctx)


def parse_valid(data: bytes) -> Any:
    """JSON ``data`` parsed as Go's decoder reads it (numbers kept as :class:`RawNumber`) once it passed
    Go's syntax check; GoJSONError with Go's text when it does not.

    Strict JSON (what the C decoder takes, see :func:`_strictly_valid`) is checked and parsed in one
    go; anything else is checked by the scanner first (invalid UTF-8 in strings, which Go replaces).
    """
    if json_too_deep(data):
        raise GoJSONError(max_depth_message())
    try:
        value = json.loads(
            data.decode("utf-8"),
            parse_int=RawNumber,
            parse_float=RawNumber,
            parse_constant=_refuse_constant,
        )
    except (ValueError, RecursionError):
        _scan_valid(data)  # the depth was checked and the strict parse just failed: only the scanner is left
        value = json.loads(data.decode("utf-8", "replace"), parse_int=RawNumber, parse_float=RawNumber)
    return _go_strings(value, data)


def loads_typed(data: bytes, typ: Any, *, full_paths: bool = False) -> Any:
    """Parse JSON ``data`` (Go syntax checks) and decode it as Go type ``typ`` (``full_paths``: see
    :func:`decode_typed`)."""
    return decode_typed(parse_valid(data), typ, full_paths=full_paths)
