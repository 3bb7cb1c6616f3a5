"""Bounds on JSON and raw YAML text that need no YAML parser (``okdrelease.gocompat.yamlbounds`` adds the
parsers' own): nesting depth of JSON before ``json.loads`` or a walk recurses on it, and the cheap
raw-text scans run before libyaml composes (it crashes the process, a C stack overflow, on about
100,000 nested flow brackets, and its parser takes quadratic time on them).

Kept apart from the YAML bounds so that readers of JSON (manifests, configs, credentials) do not load
PyYAML: a warm ``new`` reads no YAML at all.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

__all__ = [
    "MAX_DEPTH",
    "MAX_INT_DIGITS",
    "flow_overflow",
    "json_loads",
    "json_too_deep",
    "libyaml_may_differ",
    "libyaml_parses",
    "max_depth_message",
    "text_too_deep",
]

MAX_DEPTH = 200
#: float64 tops out near 1.8e308: an integer literal with more digits is out of range for Go's decoder.
MAX_INT_DIGITS = 309
# The raw-text scan refuses only what could crash libyaml or take it seconds; check_node is exact.
_PRESCAN_DEPTH = 10_000
_BRACKETS_STR = re.compile(r"[\[\]{}]")
_BRACKETS_BYTES = re.compile(rb"[\[\]{}]")
# A line starting with _PRESCAN_DEPTH spaces / "- " / "? " indicators may nest that deep in block style.
# To find one at C speed, those three bytes become b" ", line feeds stay and every other byte becomes b"x".
_PREFIX_CLASSES = bytes(0x20 if b in b" -?" else 0x0A if b == 0x0A else 0x78 for b in range(256))
_DEEP_RUN = b" " * _PRESCAN_DEPTH
_UTF8_BOM = b"\xef\xbb\xbf"


def max_depth_message() -> str:
    """The refusal text for nesting deeper than :data:`MAX_DEPTH`."""
    return f"exceeded max depth of {MAX_DEPTH}"


def _bracket_levels(text: str | bytes) -> Iterator[tuple[int, int]]:
    """(offset, flow level after it) at every bracket, from level 0 (brackets inside quoted text count too)."""
    if isinstance(text, str):
        marks = [(m.start(), m.group() in "]}") for m in _BRACKETS_STR.finditer(text)]
    else:
        marks = [(m.start(), m.group() in b"]}") for m in _BRACKETS_BYTES.finditer(text)]
    level = 0
    for offset, closes in marks:
        level = max(level - 1, 0) if closes else level + 1
        yield offset, level


def _bracket_count(text: str | bytes) -> int:
    return text.count("[") + text.count("{") if isinstance(text, str) else text.count(b"[") + text.count(b"{")


def _bracket_depth(text: str | bytes, limit: int) -> int:
    """Upper bound of the flow nesting (brackets inside quoted text count too)."""
    count = _bracket_count(text)
    if count <= limit:
        return count
    # The levels of _bracket_levels without their offsets: this runs on every JSON document with
    # more than ``limit`` brackets (manifests, configs, image-references), the offsets only on refusal.
    marks, closing = (
        (_BRACKETS_STR.findall(text), "]}")
        if isinstance(text, str)
        else (_BRACKETS_BYTES.findall(text), b"]}")
    )
    level = deepest = 0
    for mark in marks:
        if mark in closing:
            level = max(level - 1, 0)
        else:
            level += 1
            deepest = max(deepest, level)
    return deepest


def flow_overflow(text: str | bytes, limit: int) -> int | None:
    """The offset of the first bracket that opens flow level ``limit + 1`` (as :func:`check_text` counts), or None."""
    if _bracket_count(text) <= limit:
        return None
    return next((offset for offset, level in _bracket_levels(text) if level > limit), None)


def _deep_prefix(text: str | bytes) -> bool:
    """Whether a line (the text's first, after a leading byte-order mark, or one after a line feed)
    starts with _PRESCAN_DEPTH of ``" -?"``."""
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    classes = data.translate(_PREFIX_CLASSES)  # ~7 times faster than a MULTILINE regex search
    first = len(_UTF8_BOM) if data.startswith(_UTF8_BOM) else 0
    return classes.startswith(_DEEP_RUN, first) or b"\n" + _DEEP_RUN in classes


def text_too_deep(text: str | bytes) -> bool:
    """Whether raw YAML/JSON text could nest past what the composers survive (cheap, C-speed)."""
    if len(text) <= _PRESCAN_DEPTH:
        return False
    return _bracket_depth(text, _PRESCAN_DEPTH) > _PRESCAN_DEPTH or _deep_prefix(text)


def libyaml_may_differ(data: bytes) -> bool:
    """Whether libyaml may read ``data`` more leniently than the go-yaml-like pure-Python parser.

    A tab anywhere (libyaml takes a tab inside a plain scalar, ``kind: a\tb``, as text), a UTF-8
    byte-order mark after the first byte (libyaml skips one at a line start), UTF-16 (found by its
    mark) and a ``\\/`` escape in a double-quoted scalar (libyaml 0.2.5 reads it as ``/``, go-yaml v2
    refuses it: :func:`_slash_escape`): such input goes to the pure parser only. Elsewhere both read
    the same, and libyaml is ~20 times faster; a byte-order mark that opens the text is skipped by both
    (some real manifests have one).
    """
    # A one-byte search is a memchr, ~15 times faster than one for the mark's three bytes: \xef (the
    # lead byte of U+F000-U+FFFF) is rare in manifests.
    later_bom = data.find(_UTF8_BOM[:1], 1) != -1 and data.find(_UTF8_BOM, 1) != -1
    return (
        b"\t" in data
        or later_bom
        or data[:2] in (b"\xff\xfe", b"\xfe\xff")
        or (b"\\/" in data and _slash_escape(data))
    )


def _slash_escape(data: bytes) -> bool:
    """Whether a ``\\/`` of ``data`` may be an escape in a double-quoted scalar (or libyaml is absent).

    Regular expressions (``pattern: ^https:\\/\\/``) put ``\\/`` in plain scalars of real CRDs, where it is
    text to both parsers. libyaml answers where each one stands: with every ``\\/`` turned into ``\\q``
    (same length, same lines), a text it still parses has none in a double-quoted scalar, where ``\\q``
    is an unknown escape, while elsewhere (plain, single-quoted and block scalars, comments) a
    backslash is text whatever follows it. An escaped backslash before ``/`` (``"\\\\/"``) stays valid:
    the search takes the backslash pair first. A text libyaml does not parse, before or after, counts as
    one that may differ (the pure parser reads and words it), and so does one nested deep enough for the
    raw-text scan to refuse it (libyaml's parser takes quadratic time on deep nesting: the scan comes
    first, as it does before every other parse).
    """
    if text_too_deep(data):
        return True
    try:
        return not libyaml_parses(data.replace(b"\\/", b"\\q"))
    except ImportError:  # no libyaml: the callers use the pure parser anyway
        return True


def libyaml_parses(data: bytes) -> bool:
    """Whether libyaml's parser reads all of ``data`` (every document) without an error: its reader's (a
    byte that is no UTF-8, a control character), its scanner's or its parser's, each a ``YAMLError``.
    ``CParser.raw_parse`` builds no Python event. PyYAML is loaded on first use (an ImportError when it
    was built without libyaml)."""
    from yaml import YAMLError
    from yaml._yaml import CParser  # type: ignore[import-not-found, unused-ignore]

    parser = CParser(data if type(data) is bytes else bytes(data))  # (it takes no bytes subclass)
    try:
        parser.raw_parse()
    except YAMLError:
        return False
    finally:
        parser.dispose()
    return True


def json_too_deep(text: str | bytes) -> bool:
    """Whether JSON ``text`` nests past MAX_DEPTH (checked before ``json.loads`` or a walk recurses on it).

    Brackets inside strings count too: only a document with MAX_DEPTH unclosed ones in its strings
    is refused wrongly.
    """
    return _bracket_depth(text, MAX_DEPTH) > MAX_DEPTH


def _bounded_int(text: str) -> int:
    """An integer literal as ``int``; one past float64's range (Go's decoder refuses it anywhere) is a ValueError.

    This also keeps Python's own "Exceeds the limit (4300 digits)" wording from reaching a user.
    """
    digits = len(text) - text.startswith("-")
    if digits > MAX_INT_DIGITS:
        raise ValueError(f"number {text[:20]}... with {digits} digits is out of range")
    return int(text)


def json_loads(data: str | bytes, **kwargs: Any) -> Any:
    """``json.loads`` refusing nesting past MAX_DEPTH and integers past float64's range (ValueErrors, as
    other JSON syntax errors)."""
    if json_too_deep(data):
        raise ValueError(max_depth_message())
    kwargs.setdefault("parse_int", _bounded_int)
    return json.loads(data, **kwargs)
