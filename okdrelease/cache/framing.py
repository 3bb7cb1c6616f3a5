"""The one framing of cache records that hold files: a line of compact JSON (the header: every field
but the files' bytes, each file's length among them), then the files' bytes back to back.

Layer indexes (``oci.layerindex``) and recorded resolutions (``payload.recorded``) are written this
way: the header parses in one ``json.loads`` and the bytes are cut out of the record without a second
copy of them. The header is ASCII (``json.dumps`` escapes the rest, a lone surrogate included), and
a header that is not is refused.
A change here changes both kinds of record: bump ``oci.layerindex.INDEX_FORMAT`` and
``payload.recorded.RECORD_FORMAT`` with it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["frame_parts", "unframe"]


def frame_parts(head: Any, parts: Iterable[bytes]) -> tuple[bytes, ...]:
    """A record's bytes as parts not joined: ``head`` as one line of compact JSON, then ``parts``
    themselves (a cache stores them so, ``Cache.put_record``, without a copy of the parts' bytes)."""
    text = json.dumps(head, separators=(",", ":")).encode("ascii")
    return (text + b"\n", *parts)


def unframe(payload: bytes, lengths: Callable[[Any], Iterable[int]]) -> tuple[Any, list[bytes]]:
    """The header of a :func:`frame_parts` record (its parts joined) and its parts, cut at the lengths
    ``lengths(header)`` names (which may refuse the header by raising); ValueError when there is no header line, the header is
    not ASCII JSON (nested too deep for the parser included), a length is not a count of bytes (an
    int, not a bool or float, at least 0), or the parts do not fill the rest of ``payload`` exactly."""
    head_end = payload.find(b"\n")
    if head_end < 0:
        raise ValueError("no header line")
    try:
        head = json.loads(payload[:head_end].decode("ascii"))
    except RecursionError:
        raise ValueError("the header nests too deep") from None
    offset = head_end + 1
    parts = []
    for length in lengths(head):
        if type(length) is not int or length < 0:
            raise ValueError("a part's length is not a count of bytes")
        part = payload[offset : offset + length]
        if len(part) != length:
            raise ValueError("a part runs past the end of the record")
        parts.append(part)
        offset += length
    if offset != len(payload):
        raise ValueError("the parts do not fill the record")
    return head, parts
