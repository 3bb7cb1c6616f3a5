"""go-yaml v2's reader for the pure-Python loader: what of the input it decodes, and its words for a byte
it refuses.

go-yaml reads its input 512 bytes at a time (its raw buffer), each read ending at a multiple of 512 (an
incomplete character left at a read's end is kept for the next), and decodes and checks all of a read
at once, when its scanner needs a character it has not decoded yet. A byte it refuses (invalid UTF-8, or a
character YAML does not allow) is therefore refused when the read holding it is decoded: as soon as
the scanner needs a character past the reads before it, wherever it stands in that read, and never
when the scanner finishes (the first document: at the character after a ``---`` or ``...`` that ends it)
before. PyYAML's reader decodes all of a text at once and refuses such a byte anywhere.

:class:`GoReaderMixin` gives a pure loader go-yaml's reader for UTF-8 bytes: the text before the first
refused byte, of which only the characters go-yaml's reads before that byte's read are handed to the
scanner; needing one more raises :class:`GoReaderError` in go-yaml's words (``invalid leading UTF-8
octet``, ``invalid trailing UTF-8 octet``, ``invalid length of a UTF-8 sequence``, ``invalid Unicode
character``, ``incomplete UTF-8 octet sequence``, ``control characters are not allowed``).
"""

from __future__ import annotations

import codecs
from typing import Any, NamedTuple

import yaml
from yaml.reader import Reader

__all__ = ["READ_SIZE", "AlignedBytes", "GoReaderError", "GoReaderMixin", "first_refusal"]

#: The bytes go-yaml's reader reads at a time (``input_raw_buffer_size``).
READ_SIZE = 512
_CONTROL = "control characters are not allowed"


class GoReaderError(yaml.reader.ReaderError):
    """go-yaml's reader refused a byte; ``problem`` is its words."""

    def __init__(self, problem: str, position: int) -> None:
        super().__init__("<byte string>", position, 0, "go-yaml", problem)
        self.problem = problem

    def __str__(self) -> str:
        return self.problem


class AlignedBytes(bytes):
    """Bytes that stand at ``offset`` of a larger input: go-yaml's reads are aligned to that input."""

    offset: int = 0

    def __new__(cls, data: bytes, offset: int) -> AlignedBytes:
        made = super().__new__(cls, data)
        made.offset = offset
        return made


class Refusal(NamedTuple):
    """The first byte go-yaml's reader refuses."""

    at: int  #: where its character starts
    #: the bytes go-yaml must have read to refuse it (its whole character; None: the end of the input)
    through: int | None
    problem: str


def _undecodable(data: bytes, at: int) -> Refusal:
    """go-yaml's refusal of the character at ``at``, which Python's UTF-8 decoder refused."""
    lead = data[at]
    width = 2 if lead & 0xE0 == 0xC0 else 3 if lead & 0xF0 == 0xE0 else 4 if lead & 0xF8 == 0xF0 else 0
    if width == 0:
        return Refusal(at, at + 1, "invalid leading UTF-8 octet")
    if at + width > len(data):
        return Refusal(at, None, "incomplete UTF-8 octet sequence")
    value = lead & (0x7F >> width)
    for octet in data[at + 1 : at + width]:
        if octet & 0xC0 != 0x80:
            return Refusal(at, at + width, "invalid trailing UTF-8 octet")
        value = (value << 6) | (octet & 0x3F)
    if value < (0x80, 0x800, 0x10000)[width - 2]:
        return Refusal(at, at + width, "invalid length of a UTF-8 sequence")
    return Refusal(at, at + width, "invalid Unicode character")  # a surrogate or past U+10FFFF


def first_refusal(data: bytes) -> tuple[str, Refusal | None]:
    """The text of UTF-8 ``data`` before the first byte go-yaml's reader refuses, and that refusal (None:
    the whole text, every character allowed)."""
    try:
        text = data.decode("utf-8")
        refusal = None
    except UnicodeDecodeError as err:
        text = data[: err.start].decode("utf-8")
        refusal = _undecodable(data, err.start)
    control = Reader.NON_PRINTABLE.search(text)  # YAML's printable characters are go-yaml's too
    if control is not None:
        at = len(text[: control.start()].encode("utf-8"))
        text = text[: control.start()]
        refusal = Refusal(at, at + len(control.group().encode("utf-8")), _CONTROL)
    return text, refusal


def _readable(data: bytes, text: str, refusal: Refusal, offset: int) -> str:
    """The characters of ``text`` (``data`` before the refused byte) that go-yaml decodes before the read
    that holds the refusal: those ending by the last multiple of :data:`READ_SIZE` before the bytes it
    must read (``offset``: where ``data`` stands in the input)."""
    if refusal.through is None:
        return text
    before = (offset + refusal.through - 1) // READ_SIZE * READ_SIZE - offset
    if before >= refusal.at:
        return text
    if before <= 0:
        return ""
    return data[:before].decode("utf-8", "ignore")  # (a character cut by the read is not decoded)


class GoReaderMixin:
    """Put before a pure-Python PyYAML loader in its bases to read UTF-8 bytes as go-yaml's reader does
    (text, and UTF-16 found by its byte-order mark, are read as PyYAML reads them); an
    :class:`AlignedBytes` input is read as the part of a larger input it is."""

    def determine_encoding(self) -> None:
        """Decode the text before the first refused byte (PyYAML's reader calls this first)."""
        me: Any = self
        raw = me.raw_buffer
        if not isinstance(raw, bytes) or raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            super().determine_encoding()  # type: ignore[misc]
            return
        me.encoding = "utf-8"
        me.raw_buffer = None  # PyYAML's update() reads no more
        text, refusal = first_refusal(raw)
        if refusal is None:
            me.buffer = text + "\0"
            return
        me.buffer = _readable(raw, text, refusal, getattr(raw, "offset", 0))
        me._go_refusal = refusal
        me.update(1)

    def update(self, length: int) -> None:
        """Make ``length`` characters from the current one readable: needing one past those decoded before
        the refused byte's read is go-yaml's refusal."""
        me: Any = self
        refusal: Refusal | None = me.__dict__.get("_go_refusal")
        if refusal is not None and len(me.buffer) - me.pointer < length:
            raise GoReaderError(refusal.problem, refusal.at)
        super().update(length)  # type: ignore[misc]
