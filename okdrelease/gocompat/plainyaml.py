"""Plain block YAML read without PyYAML: the shape of operators' ``image-references`` files.

:func:`load_plain` reads a document of block mappings and block sequences whose keys and values are
single-line scalars that go-yaml v2 resolves to strings (letter-first plain scalars other than the
boolean and null words, quoted scalars without escapes), with full-line and trailing comments and
an optional ``---`` first line. It returns what go-yaml v2, converted as sigs.k8s.io/yaml
converts it, returns for such a document, and None for anything else (a flow collection, an anchor,
a tag, a number, a null, a multi-line scalar, a duplicate key, a second document, a tab, non-ASCII
text, ...): the caller then reads the document with PyYAML, which decides it and words any error.
It never raises.

``tests/payload/test_plainyaml.py`` holds it to ``k8syaml.load_yaml``'s result on real, generated and mutated input.
"""

from __future__ import annotations

from typing import Any

from okdrelease.gocompat.jsonbounds import text_too_deep

__all__ = ["load_plain"]

#: Printable ASCII: text with other bytes (tabs, carriage returns, controls, non-ASCII) is not plain.
_PRINTABLE = bytes(range(0x20, 0x7F)) + b"\n"
#: What a plain scalar may hold (a letter first): enough for names, pull specs and annotation keys.
_PLAIN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._/:@+=-")
_LETTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
#: Letter-first plain scalars go-yaml v2 reads as booleans or null.
_NOT_STRINGS = frozenset(
    "y Y yes Yes YES n N no No NO true True TRUE false False FALSE on On ON off Off OFF null Null NULL".split()
)
_MAX_DEPTH = 32


class _NotPlain(Exception):
    """The document is not plain: PyYAML reads it."""


def _plain_scalar(text: str) -> str:
    """A plain scalar that resolves to a string, else _NotPlain."""
    if (
        not text
        or text[0] not in _LETTERS
        or text[-1] == ":"
        or text in _NOT_STRINGS
        or not _PLAIN_CHARS.issuperset(text)
    ):
        raise _NotPlain
    return text


def _comment_rest(rest: str) -> None:
    """What may follow a scalar on its line: nothing, or blanks and a comment."""
    stripped = rest.lstrip(" ")
    if stripped and (not stripped.startswith("#") or stripped == rest):
        raise _NotPlain


def _value(text: str) -> str:
    """The string of a scalar value (text after ``key: `` or ``- ``, leading blanks stripped)."""
    if text[:1] in ('"', "'"):
        end = text.find(text[0], 1)
        if end < 0 or "\\" in text[1:end]:
            raise _NotPlain
        _comment_rest(text[end + 1 :])
        return text[1:end]
    plain, hash_mark, _comment = text.partition(" #")
    if "#" in plain:
        raise _NotPlain
    return _plain_scalar(plain.rstrip(" "))


class _Lines:
    """The document's lines as (indent, content), blank and comment lines left out."""

    def __init__(self, text: str) -> None:
        self.lines: list[tuple[int, str]] = []
        for line in text.split("\n"):
            content = line.lstrip(" ")
            if content and not content.startswith("#"):
                self.lines.append((len(line) - len(content), content.rstrip(" ")))
        self.at = 0

    def peek(self) -> tuple[int, str] | None:
        return self.lines[self.at] if self.at < len(self.lines) else None


def _block(lines: _Lines, indent: int, depth: int) -> dict[str, Any] | list[Any]:
    """The mapping or sequence whose first line (at ``indent``) is next."""
    if depth > _MAX_DEPTH:
        raise _NotPlain
    line = lines.peek()
    assert line is not None and line[0] == indent
    if line[1].startswith("- "):
        return _sequence(lines, indent, depth)
    return _mapping(lines, indent, depth)


def _nested(lines: _Lines, indent: int, depth: int) -> dict[str, Any] | list[Any]:
    """The value of ``key:`` at ``indent`` given on the lines after it (a null value is not plain)."""
    line = lines.peek()
    if line is None or line[0] < indent:
        raise _NotPlain
    if line[0] == indent and not line[1].startswith("- "):
        raise _NotPlain
    return _block(lines, line[0], depth + 1)


def _mapping(lines: _Lines, indent: int, depth: int) -> dict[str, Any]:
    """A block mapping at ``indent`` (its first line may be a sequence entry's rest, see _sequence)."""
    out: dict[str, Any] = {}
    while (line := lines.peek()) is not None and line[0] >= indent:
        if line[0] > indent:
            raise _NotPlain
        key, colon, rest = line[1].partition(":")
        if not colon or (rest and rest[0] != " ") or ":" in key:
            raise _NotPlain
        key = _plain_scalar(key)
        if key in out:
            raise _NotPlain
        lines.at += 1
        rest = rest.lstrip(" ")
        out[key] = _value(rest) if rest and rest[0] != "#" else _nested(lines, indent, depth)
    return out


def _sequence(lines: _Lines, indent: int, depth: int) -> list[Any]:
    """A block sequence at ``indent``; an entry ``- key: ...`` starts a mapping at its key's column."""
    out: list[Any] = []
    while (line := lines.peek()) is not None and line[0] >= indent:
        if line[0] > indent or not line[1].startswith("- "):
            raise _NotPlain
        rest = line[1][2:]
        column = indent + 2 + len(rest) - len(rest.lstrip(" "))
        rest = rest.lstrip(" ")
        if rest[:1] in ('"', "'", "#") or ":" not in rest:
            out.append(_value(rest))
            lines.at += 1
            continue
        lines.lines[lines.at] = (column, rest)  # the entry's mapping starts on this line
        out.append(_mapping(lines, column, depth + 1))
    return out


def load_plain(data: bytes) -> dict[str, Any] | None:
    """The plain YAML mapping ``data`` holds (see the module's description), or None when it is not one."""
    if data.translate(None, _PRINTABLE) or text_too_deep(data):  # the readers' depth scan refuses it
        return None
    lines = _Lines(data.decode("ascii"))
    if lines.peek() == (0, "---"):  # the first document's explicit start
        lines.at += 1
    first = lines.peek()
    if first is None or first[0] != 0:
        return None
    try:
        document = _block(lines, 0, 0)
    except _NotPlain:
        return None
    if lines.peek() is not None or not isinstance(document, dict):
        return None
    return document
