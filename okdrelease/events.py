"""What the library reports while it works, for whoever listens.

The library never prints. Code that talks to registries or moves content calls an ``EventSink``
with these frozen events; the command line draws them on stderr (progress bar, ``-v`` request
trace, ``--log-format json``), a pipeline can log or count them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import BinaryIO
from urllib.parse import urlsplit, urlunsplit

import attrs

from okdrelease._repr import value_repr
from okdrelease.errors import printable


@attrs.frozen
class RequestDone:
    """One HTTP request answered: ``url`` without credentials or query, body sizes from the headers."""

    __repr__ = value_repr

    method: str
    url: str
    status: int
    received: int
    sent: int
    seconds: float


@attrs.frozen
class BytesMoved:
    """``count`` more bytes of blob ``digest`` were read or written (``total`` is its size, 0 if unknown).

    ``direction`` is ``read`` (downloaded from a registry, read from a layout) or ``write`` (uploaded,
    stored in a layout); a copy reports both for the same blob, each adding up to its size.
    """

    __repr__ = value_repr

    digest: str
    count: int
    total: int = 0
    direction: str = "read"


@attrs.frozen
class BlobDone:
    """One blob of a copy is in place: ``outcome`` is ``copied``, ``mounted``, ``exists`` or ``skipped``."""

    __repr__ = value_repr

    digest: str
    size: int
    outcome: str


@attrs.frozen
class ImageDone:
    """An image (or a manifest list with its images) was copied to ``destination`` as ``digest``."""

    __repr__ = value_repr

    destination: str
    digest: str


@attrs.frozen
class Message:
    """A progress line in oc's words (``info: …``, ``warning: …``), split into level and text."""

    __repr__ = value_repr

    level: str
    text: str

    @classmethod
    def from_line(cls, line: str) -> Message:
        """``info: Loading …`` → Message("info", "Loading …"); a line without a level is ``info``."""
        head, sep, rest = line.partition(": ")
        if sep and head in ("info", "warning", "error"):
            return cls(head, rest)
        return cls("info", line)


Event = RequestDone | BytesMoved | BlobDone | ImageDone | Message
EventSink = Callable[[Event], None]


class MeteredStream:
    """A binary stream that reports what is read from it as ``BytesMoved`` of blob ``digest``."""

    def __init__(
        self, stream: BinaryIO, sink: EventSink, digest: str, total: int | None, direction: str
    ) -> None:
        self._stream = stream
        self._sink = sink
        self._digest = digest
        self._total = total or 0
        self._direction = direction

    def read(self, size: int | None = -1) -> bytes:
        """Read from the stream; report the bytes read."""
        data = self._stream.read(-1 if size is None else size)
        if data:
            self._sink(BytesMoved(self._digest, len(data), self._total, self._direction))
        return data

    def readable(self) -> bool:
        """Streams are readable."""
        return True

    def close(self) -> None:
        """Close the stream."""
        self._stream.close()

    def __enter__(self) -> MeteredStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def metered(
    stream: BinaryIO, sink: EventSink | None, digest: str, total: int | None, direction: str
) -> BinaryIO:
    """``stream`` reporting its reads to ``sink`` (``stream`` itself when nobody listens)."""
    if sink is None:
        return stream
    return MeteredStream(stream, sink, digest, total, direction)  # type: ignore[return-value]


def safe_url(url: str) -> str:
    """``url`` with any ``user:password@``, query string and fragment removed, control characters escaped
    (``errors.printable``).

    Query strings can carry signatures (pre-signed blob URLs of S3 or GCS redirects) or token
    scopes; the path alone identifies the request.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port is not None else host
    return printable(urlunsplit((parts.scheme, netloc, parts.path, "", "")))
