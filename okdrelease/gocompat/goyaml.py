"""YAML as oc reads and writes it: go-yaml v2 scalar resolution and a go-yaml v2 compatible emitter.

``oc adm release extract`` parses each manifest with the Kubernetes YAML-or-JSON decoder (read by
``okdrelease.openshift.k8syaml.load_documents``) and writes each document with ``sigs.k8s.io/yaml``:
the object is encoded as JSON, decoded again by go-yaml v2 and emitted by go-yaml v2's port of
libyaml. This module holds what reading and writing share, and the writing:

* :func:`resolve` is go-yaml v2's resolution of a plain scalar (YAML 1.1 booleans such as
  ``yes``/``on``/``y``, timestamps kept as strings), which ``gocompat.yamldecode`` decodes by;
  :func:`json_key_text` is sigs.k8s.io/yaml's JSON key of a decoded map key;
* :func:`marshal` emits one value exactly as ``yaml.Marshal`` of go-yaml v2 (after the JSON round
  trip) does: keys in go-yaml's natural order, two-space indentation, sequences not indented
  inside mappings, plain scalars where they would not read as another type, double quotes
  otherwise, literal blocks for multi-line strings, long scalars folded past column 80.

The emitter follows libyaml's rules (scalar analysis, style selection, indentation and line folding)
as facts about the output; it is written for the value types JSON can hold.
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

from okdrelease.errors import OkdReleaseError

__all__ = [
    "GoYamlEmitError",
    "GoYamlError",
    "format_float_g",
    "go_implicit_tag",
    "json_key_text",
    "key_less",
    "marshal",
    "marshal_documents",
    "resolves_as_string",
]

BEST_WIDTH = 80
BEST_INDENT = 2
SIMPLE_KEY_LIMIT = 128
INT64_MIN, INT64_MAX, UINT64_MAX = -(1 << 63), (1 << 63) - 1, (1 << 64) - 1


class GoYamlError(OkdReleaseError):
    """A document that the Go YAML/JSON decoder refuses (the message says why)."""


class GoYamlEmitError(GoYamlError):
    """A value that sigs.k8s.io/yaml cannot write (its JSON holds characters go-yaml's reader refuses)."""


#: Characters Go's JSON encoder writes raw that go-yaml's reader then refuses (DEL, C1 controls but NEL,
#: U+FFFE and U+FFFF).
_REFUSED_BY_READER = re.compile("[\x7f-\x84\x86-\x9f\ufffe\uffff]")
#: What go-yaml's reader refuses in a text (YAML's non-printable characters; a byte that is no UTF-8 is a
#: surrogate escape, which is one of them).
_NOT_PRINTABLE = re.compile("[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


# --------------------------------------------------------------------------------------------
# Scalar resolution (go-yaml v2 ``resolve``)

STR, BOOL, NULL, INT, FLOAT, TIMESTAMP, MERGE = (
    f"tag:yaml.org,2002:{name}" for name in ("str", "bool", "null", "int", "float", "timestamp", "merge")
)

#: The plain scalars go-yaml reads as null (the empty one too), as NaN, and as an infinity (each may
#: also carry a sign: ``+.inf``, ``-.Inf``).
NULL_WORDS = ("~", "null", "Null", "NULL")
NAN_WORDS = (".nan", ".NaN", ".NAN")
INF_WORDS = (".inf", ".Inf", ".INF")

_MAP: dict[str, tuple[str, Any]] = {}
for _words, _tag, _value in (
    ("y Y yes Yes YES true True TRUE on On ON".split(), BOOL, True),
    ("n N no No NO false False FALSE off Off OFF".split(), BOOL, False),
    (NULL_WORDS, NULL, None),
    (NAN_WORDS, FLOAT, math.nan),
    ((*INF_WORDS, *("+" + word for word in INF_WORDS)), FLOAT, math.inf),
    (tuple("-" + word for word in INF_WORDS), FLOAT, -math.inf),
):
    for _word in _words:
        _MAP[_word] = (_tag, _value)
_MAP[""] = (NULL, None)

_HINT_MAP = frozenset("yYnNtTfFoO~")
_YAML_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?\Z")
_BASE60_FLOAT = re.compile(r"[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?\Z")
_GO_INT = re.compile(r"([-+]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)\Z")
_GO_FLOAT = re.compile(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?\Z")
#: A plain scalar starting with ``.`` that go-yaml hands to Go's ``strconv.ParseFloat`` as it is: Go's
#: syntax allows an underscore between two digits (``.5_0``, ``.5e1_0``).
_DOT_FLOAT = re.compile(r"\.[0-9](?:_?[0-9])*(?:[eE][-+]?[0-9](?:_?[0-9])*)?\Z")
_TIMESTAMP = re.compile(
    r"(?P<y>[0-9]{4})-(?P<m>[0-9]{1,2})-(?P<d>[0-9]{1,2})"
    r"(?:(?P<sep>[Tt ])(?P<H>[0-9]{1,2}):(?P<M>[0-9]{1,2}):(?P<S>[0-9]{1,2})(?:[.,][0-9]+)?"
    r"(?P<tz>Z|[-+](?P<zh>[0-9]{2}):(?P<zm>[0-9]{2}))?)?\Z"
)
_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _go_parse_int(text: str) -> int | None:
    """Go's ``strconv.ParseInt(text, 0, 64)``-style syntax (range checked by the caller)."""
    match = _GO_INT.match(text)
    if match is None:
        return None
    sign, body = match.groups()
    if body[:2] in ("0x", "0X"):
        value = int(body[2:], 16)
    elif body[:2] in ("0o", "0O"):
        value = int(body[2:], 8)
    elif body[:2] in ("0b", "0B"):
        value = int(body[2:], 2)
    elif body.startswith("0") and len(body) > 1:
        value = int(body[1:], 8)
    else:
        value = int(body)
    return -value if sign == "-" else value


def _go_parse_float(text: str) -> float | None:
    """Go's ``strconv.ParseFloat(text, 64)`` for decimal text; None on syntax or range errors."""
    if not _GO_FLOAT.match(text):
        return None
    value = float(text)
    return None if math.isinf(value) else value


def _is_timestamp(text: str) -> bool:
    match = _TIMESTAMP.match(text)
    if match is None:
        return False
    month, day = int(match["m"]), int(match["d"])
    if not 1 <= month <= 12 or not 1 <= day <= _DAYS[month - 1]:
        return False
    year = int(match["y"])
    if month == 2 and day == 29 and not (year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)):
        return False
    if match["sep"] is None:
        return True
    if match["sep"] == " " and match["tz"] is not None:
        return False
    if match["sep"] != " " and match["tz"] is None:
        return False
    if match["zh"] is not None and (int(match["zh"]) > 24 or int(match["zm"]) > 60):
        return False  # Go's time.Parse takes an offset up to 24 hours and 60 minutes
    return int(match["H"]) < 24 and int(match["M"]) < 60 and int(match["S"]) < 60


def resolve(text: str, *, timestamps: bool = True) -> tuple[str, Any]:
    """The tag and value go-yaml v2 gives the plain scalar ``text`` (timestamps stay strings).

    ``timestamps`` False resolves it against an explicit tag other than ``!!timestamp``, as go-yaml does:
    a date is then not a timestamp."""
    if text in _MAP:
        return _MAP[text]
    first = text[0]
    if first == ".":
        value = _go_parse_float(text.replace("_", "")) if _DOT_FLOAT.match(text) else None
        return (FLOAT, value) if value is not None else (STR, text)
    if not (first in "+-" or "0" <= first <= "9"):
        return STR, text
    if timestamps and _is_timestamp(text):
        return TIMESTAMP, text
    plain = text.replace("_", "")
    number = _go_parse_int(plain)
    if number is not None and (INT64_MIN <= number <= INT64_MAX or 0 <= number <= UINT64_MAX):
        if number > INT64_MAX and plain.startswith(("+", "-")):
            number = None
        if number is not None:
            return INT, number
    if _YAML_FLOAT.match(plain):
        value = _go_parse_float(plain)
        if value is not None:
            return FLOAT, value
    return STR, text


def resolves_as_string(text: str) -> bool:
    """True when ``text`` written plain reads back as the same string (go-yaml's plain check)."""
    return resolve(text)[0] == STR and not (text[:1] in "+-0123456789" and _BASE60_FLOAT.match(text))


# --------------------------------------------------------------------------------------------
# Reading (what ``gocompat.yamldecode`` and the JSON conversion after it take from here)


def go_implicit_tag(value: str) -> str:
    """go-yaml v2's tag of an untagged plain scalar (``<<`` is the merge key)."""
    return MERGE if value == "<<" else resolve(value)[0]


def json_key_text(key: Any) -> str:
    """A mapping key as sigs.k8s.io/yaml turns it into a JSON object key."""
    if isinstance(key, str):
        return key
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, int):
        return str(key)
    if isinstance(key, float):
        return format_float_g(key, bits=32)
    raise GoYamlError(f"error converting YAML to JSON: unsupported map key of type: {type(key).__name__}")


# --------------------------------------------------------------------------------------------
# Numbers


def _digits(value: float, bits: int) -> tuple[str, int]:
    """Shortest decimal digits of ``abs(value)`` and the decimal exponent of the first digit."""
    text = repr(abs(value)) if bits == 64 else f"{abs(value):.9g}"
    if bits == 32:
        import struct

        single = struct.unpack("f", struct.pack("f", abs(value)))[0]
        for precision in range(1, 10):
            candidate = f"{single:.{precision}g}"
            if struct.unpack("f", struct.pack("f", float(candidate)))[0] == single:
                text = candidate
                break
    mantissa, _, exp = text.partition("e")
    whole, _, frac = mantissa.partition(".")
    raw = whole + frac
    stripped = raw.lstrip("0")
    point = len(whole) + (int(exp) if exp else 0) - (len(raw) - len(stripped))
    return stripped.rstrip("0") or "0", point - 1


def format_float_g(value: float, *, bits: int = 64) -> str:
    """Go ``strconv.FormatFloat(value, 'g', -1, bits)`` (also ``%v`` of a float64); YAML spells the infinities."""
    if math.isnan(value):
        return ".nan"
    if math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    if value == 0:
        return "-0" if math.copysign(1, value) < 0 else "0"
    digits, exponent = _digits(value, bits)
    sign = "-" if value < 0 else ""
    if exponent < -4 or exponent >= 6:  # shortest 'g' decides with precision 6
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{mantissa}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"
    if exponent < 0:
        return f"{sign}0.{'0' * (-exponent - 1)}{digits}"
    if len(digits) <= exponent + 1:
        return sign + digits + "0" * (exponent + 1 - len(digits))
    return f"{sign}{digits[: exponent + 1]}.{digits[exponent + 1 :]}"


def _json_float(value: float) -> str:
    """Go's JSON encoding of a float64 (fixed notation between 1e-6 and 1e21)."""
    from okdrelease.gocompat.gojson import format_float

    return format_float(value)


def _scalar_number(value: int | float) -> str:
    """A JSON number as it comes out of sigs.k8s.io/yaml's JSON → go-yaml round trip."""
    if isinstance(value, int) and INT64_MIN <= value <= UINT64_MAX:
        return str(value)
    number = float(value)
    text = _json_float(number)
    parsed = _go_parse_int(text)
    if parsed is not None and INT64_MIN <= parsed <= UINT64_MAX:
        return str(parsed)
    return format_float_g(float(text))


# --------------------------------------------------------------------------------------------
# Key order (go-yaml v2 ``keyList.Less`` for string keys)


def _is_letter(char: str) -> bool:
    return unicodedata.category(char).startswith("L")


def _is_digit(char: str) -> bool:
    return unicodedata.category(char) == "Nd"


def _wrap64(value: int) -> int:
    value &= (1 << 64) - 1
    return value - (1 << 64) if value > INT64_MAX else value


def _digit_run(text: str, start: int, seed: int) -> tuple[int, int]:
    number, end = seed, start
    while end < len(text) and _is_digit(text[end]):
        number = _wrap64(number * 10 + ord(text[end]) - ord("0"))
        end += 1
    return number, end


def key_less(a: str, b: str) -> bool:
    """go-yaml v2's order of string keys: letters after other characters, digit runs by value."""
    for i in range(min(len(a), len(b))):
        ca, cb = a[i], b[i]
        if ca == cb:
            continue
        la, lb = _is_letter(ca), _is_letter(cb)
        if la and lb:
            return ca < cb
        if la or lb:
            return lb
        seed = 0
        if ca == "0" or cb == "0":
            j = i - 1
            while j >= 0 and _is_digit(a[j]):
                if a[j] != "0":
                    seed = 1
                    break
                j -= 1
        an, ai = _digit_run(a, i, seed)
        bn, bi = _digit_run(b, i, seed)
        if an != bn:
            return an < bn
        if ai != bi:
            return ai < bi
        return ca < cb
    return len(a) < len(b)


def _compare_keys(a: str, b: str) -> int:
    if key_less(a, b):
        return -1
    return 1 if key_less(b, a) else 0


_KEY_ORDER = functools.cmp_to_key(_compare_keys)


# --------------------------------------------------------------------------------------------
# Emitter

PLAIN, SINGLE, DOUBLE, LITERAL = "plain", "single", "double", "literal"
_BREAKS = "\r\n\x85\u2028\u2029"
_FIRST_BOTH = frozenset("#,[]{}&*!|>'\"%@`")


def _printable(char: str) -> bool:
    code = ord(char)
    if code == 0x0A or 0x20 <= code <= 0x7E:
        return True
    if 0xA0 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD:
        return code != 0xFEFF
    return False


_SIMPLE_TEXT = re.compile(r"[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?\Z")
_FLOW_INNER = re.compile(r"[,?\[\]{}:]")
_BLOCK_INNER = re.compile(r":(?: |\Z)| #")


class _Analysis:
    """libyaml's scalar analysis: which styles may write ``value``."""

    __slots__ = ("block", "block_plain", "flow_plain", "multiline", "single")

    def __init__(self, value: str) -> None:
        if not value:
            self.multiline, self.flow_plain, self.block_plain = False, False, True
            self.single, self.block = True, False
        elif _SIMPLE_TEXT.match(value):
            self._simple(value)
        else:
            self._full(value)

    def _simple(self, value: str) -> None:
        """Printable ASCII on one line without leading or trailing spaces: only indicators matter."""
        first = value[0]
        followed_by_ws = len(value) == 1 or value[1] == " "
        flow_ind = block_ind = value.startswith(("---", "...")) or first in _FIRST_BOTH
        if first in "?:":
            flow_ind = True
            block_ind = block_ind or followed_by_ws
        elif first == "-" and followed_by_ws:
            flow_ind = block_ind = True
        rest = value[1:]
        if _FLOW_INNER.search(rest) or _BLOCK_INNER.search(rest):
            flow_ind = True
            block_ind = block_ind or _BLOCK_INNER.search(rest) is not None
        self.multiline = False
        self.flow_plain = not flow_ind
        self.block_plain = not block_ind
        self.single = self.block = True

    def _full(self, value: str) -> None:
        block_ind = flow_ind = value.startswith(("---", "..."))
        line_breaks = special = False
        leading_space = leading_break = trailing_space = trailing_break = False
        break_space = space_break = previous_space = previous_break = False
        preceded_by_ws = True
        last = len(value) - 1
        for i, char in enumerate(value):
            followed_by_ws = i == last or value[i + 1] in " \t" + _BREAKS
            if i == 0:
                if char in _FIRST_BOTH:
                    flow_ind = block_ind = True
                elif char in "?:":
                    flow_ind = True
                    block_ind = block_ind or followed_by_ws
                elif char == "-" and followed_by_ws:
                    flow_ind = block_ind = True
            elif char in ",?[]{}":
                flow_ind = True
            elif char == ":":
                flow_ind = True
                block_ind = block_ind or followed_by_ws
            elif char == "#" and preceded_by_ws:
                flow_ind = block_ind = True
            if not _printable(char):
                special = True
            if char == " ":
                leading_space = leading_space or i == 0
                trailing_space = trailing_space or i == last
                break_space = break_space or previous_break
                previous_space, previous_break = True, False
            elif char in _BREAKS:
                line_breaks = True
                leading_break = leading_break or i == 0
                trailing_break = trailing_break or i == last
                space_break = space_break or previous_space
                previous_space, previous_break = False, True
            else:
                previous_space = previous_break = False
            preceded_by_ws = char in " \t\x00" + _BREAKS
        plain_ok = not (leading_space or leading_break or trailing_space or trailing_break)
        plain_ok = plain_ok and not (break_space or space_break or special or line_breaks)
        self.multiline = line_breaks
        self.flow_plain = plain_ok and not flow_ind
        self.block_plain = plain_ok and not block_ind
        self.single = not (break_space or space_break or special)
        self.block = not (trailing_space or space_break or special)


def _escape(char: str) -> str:
    code = ord(char)
    named = {
        0x00: "0",
        0x07: "a",
        0x08: "b",
        0x09: "t",
        0x0A: "n",
        0x0B: "v",
        0x0C: "f",  # fmt: skip
        0x0D: "r",
        0x1B: "e",
        0x22: '"',
        0x5C: "\\",
        0x85: "N",
        0xA0: "_",
        0x2028: "L",
        0x2029: "P",  # fmt: skip
    }
    if code in named:
        return "\\" + named[code]
    if code <= 0xFF:
        return f"\\x{code:02X}"
    if code <= 0xFFFF:
        return f"\\u{code:04X}"
    return f"\\U{code:08X}"


class _Emitter:
    """The block-style subset of libyaml's emitter that go-yaml v2 uses for JSON values."""

    def __init__(self) -> None:
        self.out: list[str] = []
        self.column = 0
        self.indent = -1
        self.indents: list[int] = []
        self.flow_level = 0
        self.whitespace = True
        self.indention = True

    # -- low-level writers
    def put(self, text: str) -> None:
        self.out.append(text)
        self.column += len(text)

    def put_break(self) -> None:
        self.out.append("\n")
        self.column = 0

    def write_break(self, char: str) -> None:
        if char == "\n":
            self.put_break()
        else:
            self.out.append(char)
            self.column = 0

    def write_indent(self) -> None:
        indent = max(self.indent, 0)
        if not self.indention or self.column > indent or (self.column == indent and not self.whitespace):
            self.put_break()
        if self.column < indent:
            self.put(" " * (indent - self.column))
        self.whitespace = self.indention = True

    def indicator(self, text: str, need_ws: bool, is_ws: bool, is_indention: bool) -> None:
        if need_ws and not self.whitespace:
            self.put(" ")
        self.put(text)
        self.whitespace = is_ws
        self.indention = self.indention and is_indention

    def increase_indent(self, flow: bool, indentless: bool) -> None:
        self.indents.append(self.indent)
        if self.indent < 0:
            self.indent = BEST_INDENT if flow else 0
        elif not indentless:
            self.indent += BEST_INDENT

    def pop_indent(self) -> None:
        self.indent = self.indents.pop()

    # -- nodes
    def node(self, value: Any, *, mapping: bool = False, simple_key: bool = False) -> None:
        if isinstance(value, Mapping):
            self.mapping(value, mapping_context=mapping)
        elif isinstance(value, list | tuple):
            self.sequence(value, mapping_context=mapping)
        else:
            text, style = _scalar_event(value)
            self.scalar(text, style, _Analysis(text), simple_key=simple_key)

    def sequence(self, items: Sequence[Any], *, mapping_context: bool) -> None:
        if not items or self.flow_level:
            self.flow_empty("[", "]", items)
            return
        self.increase_indent(False, mapping_context and not self.indention)
        for item in items:
            self.write_indent()
            self.indicator("-", True, False, True)
            self.node(item)
        self.pop_indent()

    def mapping(self, value: Mapping[str, Any], *, mapping_context: bool) -> None:
        del mapping_context
        if not value or self.flow_level:
            self.flow_empty("{", "}", value)
            return
        self.increase_indent(False, False)
        for key in sorted(value, key=_KEY_ORDER):
            self.write_indent()
            text, style = _scalar_event(key)
            analysis = _Analysis(text)
            if not analysis.multiline and len(text.encode("utf-8")) <= SIMPLE_KEY_LIMIT:
                self.scalar(text, style, analysis, simple_key=True)
                self.indicator(":", False, False, False)
            else:
                self.indicator("?", True, False, True)
                self.scalar(text, style, analysis, simple_key=False)
                self.write_indent()
                self.indicator(":", True, False, True)
            self.node(value[key], mapping=True)
        self.pop_indent()

    def flow_empty(self, start: str, end: str, items: Any) -> None:
        if items:
            raise GoYamlError("flow collections with content are not emitted")
        self.indicator(start, True, True, False)
        self.increase_indent(True, False)
        self.pop_indent()
        self.indicator(end, False, False, False)

    def scalar(self, value: str, style: str, analysis: _Analysis, *, simple_key: bool) -> None:
        style = _select_style(style, analysis, simple_key=simple_key, flow=self.flow_level > 0)
        self.increase_indent(True, False)
        if style == PLAIN:
            self.plain(value, allow_breaks=not simple_key)
        elif style == SINGLE:
            self.single_quoted(value, allow_breaks=not simple_key)
        elif style == DOUBLE:
            self.double_quoted(value, allow_breaks=not simple_key)
        else:
            self.literal(value)
        self.pop_indent()

    # -- scalar writers (runs of ordinary characters are written at once; spaces decide folding)
    def plain(self, value: str, *, allow_breaks: bool) -> None:
        if not self.whitespace:
            self.put(" ")
        self._flowing(value, allow_breaks=allow_breaks, quote=None)

    def single_quoted(self, value: str, *, allow_breaks: bool) -> None:
        self.indicator("'", True, False, False)
        self._flowing(value, allow_breaks=allow_breaks, quote="'")
        self.indicator("'", False, False, False)

    def _flowing(self, value: str, *, allow_breaks: bool, quote: str | None) -> None:
        spaces = breaks = False
        last = len(value) - 1
        i = 0
        while i <= last:
            char = value[i]
            if char == " ":
                inner = quote is None or 0 < i < last
                nxt = value[i + 1] if i < last else ""
                if allow_breaks and not spaces and self.column > BEST_WIDTH and inner and nxt != " ":
                    self.write_indent()
                else:
                    self.put(char)
                spaces = True
                i += 1
            elif char in _BREAKS:
                if not breaks and char == "\n":
                    self.put_break()
                self.write_break(char)
                self.indention = breaks = True
                i += 1
            else:
                if breaks:
                    self.write_indent()
                if char == quote:
                    self.put(quote + quote)
                    i += 1
                else:
                    run = (_PLAIN_RUN if quote is None else _SINGLE_RUN).match(value, i)
                    assert run is not None
                    self.put(run.group())
                    i = run.end()
                self.indention = spaces = breaks = False
        self.whitespace = self.indention = False

    def double_quoted(self, value: str, *, allow_breaks: bool) -> None:
        self.indicator('"', True, False, False)
        spaces = False
        escape_all = value.startswith("\ufeff")  # libyaml checks the BOM at the start of the value
        last = len(value) - 1
        i = 0
        while i <= last:
            char = value[i]
            run = None if escape_all else _DOUBLE_RUN.match(value, i)
            if run is not None:
                self.put(run.group())
                i = run.end()
                spaces = False
            elif char == " " and not escape_all:
                if allow_breaks and not spaces and self.column > BEST_WIDTH and 0 < i < last:
                    self.write_indent()
                    if value[i + 1] == " ":
                        self.put("\\")
                else:
                    self.put(char)
                spaces = True
                i += 1
            else:
                self.put(_escape(char))
                spaces = False
                i += 1
        self.indicator('"', False, False, False)
        self.whitespace = self.indention = False

    def literal(self, value: str) -> None:
        self.indicator("|", True, False, False)
        if value[:1] in (" ", *_BREAKS):
            self.indicator(str(BEST_INDENT), False, False, False)
        chomp = _chomp_hint(value)
        if chomp:
            self.indicator(chomp, False, False, False)
        self.put_break()
        self.indention = self.whitespace = True
        breaks = True
        for line, brk in _LINES.findall(value):
            if line:
                if breaks:
                    self.write_indent()
                self.put(line)
                self.indention = breaks = False
            if brk:
                self.write_break(brk)
                self.indention = breaks = True


_PLAIN_RUN = re.compile("[^ \r\n\x85\u2028\u2029]+")
_SINGLE_RUN = re.compile("[^ '\r\n\x85\u2028\u2029]+")
_DOUBLE_RUN = re.compile(
    '[^\\x00-\\x20"\\\\\\x7f-\\x9f\\u2028\\u2029\\ud800-\\udfff\\ufeff\\ufffe\\uffff\\U00010000-\\U0010ffff]+'
)
_LINES = re.compile("([^\r\n\x85\u2028\u2029]*)([\r\n\x85\u2028\u2029]?)")


def _chomp_hint(value: str) -> str:
    if not value or value[-1] not in _BREAKS:
        return "-"
    if len(value) == 1 or value[-2] in _BREAKS:
        return "+"
    return ""


def _select_style(style: str, analysis: _Analysis, *, simple_key: bool, flow: bool) -> str:
    if simple_key and analysis.multiline:
        style = DOUBLE
    if style == PLAIN:
        allowed = analysis.flow_plain if flow else analysis.block_plain
        if not allowed or (not analysis_has_value(analysis) and (flow or simple_key)):
            style = SINGLE
    if style == SINGLE and not analysis.single:
        style = DOUBLE
    if style == LITERAL and (not analysis.block or flow or simple_key):
        style = DOUBLE
    return style


def analysis_has_value(analysis: _Analysis) -> bool:
    """False for the analysis of an empty scalar (flow_plain is never allowed for it)."""
    return not (analysis.block_plain and not analysis.flow_plain and not analysis.block and analysis.single)


def _scalar_event(value: Any) -> tuple[str, str]:
    """The text and requested style go-yaml's encoder gives a JSON scalar."""
    if value is None:
        return "null", PLAIN
    if value is True:
        return "true", PLAIN
    if value is False:
        return "false", PLAIN
    if isinstance(value, int | float):
        return _scalar_number(value), PLAIN
    if not isinstance(value, str):
        raise GoYamlError(f"cannot marshal type: {type(value).__name__}")
    if "\n" in value:
        return value, LITERAL
    return value, PLAIN if resolves_as_string(value) else DOUBLE


def _check_readable(value: Any) -> None:
    """Refuse what go-yaml's reader refuses when it reads back the document's JSON: a JSON manifest's own
    text (``value.json_text``: every byte of it, in go-yaml's words for the first it refuses), else Go's
    JSON text of ``value``."""
    text = getattr(value, "json_text", None)
    if isinstance(text, str):
        if _NOT_PRINTABLE.search(text) is not None:
            from okdrelease.gocompat.yamlreader import first_refusal

            refusal = first_refusal(text.encode("utf-8", "surrogateescape"))[1]
            if refusal is not None:
                raise GoYamlEmitError(f"yaml: {refusal.problem}")
        return
    _check_values(value)


def _check_values(value: Any) -> None:
    if isinstance(value, str):
        if _REFUSED_BY_READER.search(value):
            raise GoYamlEmitError("yaml: control characters are not allowed")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _check_values(key)
            _check_values(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _check_values(item)


def marshal(value: Any) -> str:
    """go-yaml v2 ``Marshal`` of a JSON value (as sigs.k8s.io/yaml ``Marshal`` writes it)."""
    _check_readable(value)
    emitter = _Emitter()
    emitter.node(value)
    emitter.indent = -1
    emitter.write_indent()
    return "".join(emitter.out)


def marshal_documents(docs: Sequence[Any]) -> bytes:
    """Each document as ``---`` and its go-yaml text, as ``oc adm release extract`` writes a manifest file."""
    return "".join("---\n" + marshal(doc) for doc in docs).encode("utf-8")
