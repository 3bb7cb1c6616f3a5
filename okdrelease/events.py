"""What the library reports while it works, for whoever listens.

The library never prints. Code that talks to registries or moves content calls an ``EventSink``
with these frozen events; the command line draws them on stderr (progress bar, ``-v`` request
trace, ``--log-format json``), a pipeline can log or count them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import attrs

if TYPE_CHECKING:
    import requests


@attrs.frozen
class RequestDone:
    """One HTTP request answered: ``url`` without credentials or query, body sizes from the headers."""

    method: str
    url: str
    status: int
    received: int
    sent: int
    seconds: float


@attrs.frozen
class BytesMoved:
    """``count`` more bytes of blob ``digest`` were read or written (``total`` is its size, 0 if unknown)."""

    digest: str
    count: int
    total: int = 0


@attrs.frozen
class Message:
    """A progress line in oc's words (``info: …``, ``warning: …``), split into level and text."""

    level: str
    text: str

    @classmethod
    def from_line(cls, line: str) -> Message:
        """``info: Loading …`` → Message("info", "Loading …"); a line without a level is ``info``."""
        head, sep, rest = line.partition(": ")
        if sep and head in ("info", "warning", "error"):
            return cls(head, rest)
        return cls("info", line)


Event = RequestDone | BytesMoved | Message
EventSink = Callable[[Event], None]


def safe_url(url: str) -> str:
    """``url`` with any ``user:password@``, query string and fragment removed.

    Query strings can carry signatures (pre-signed blob URLs of S3 or GCS redirects) or token
    scopes; the path alone identifies the request.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port is not None else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _length(headers: Any) -> int:
    try:
        return max(0, int(headers.get("Content-Length") or 0))
    except (TypeError, ValueError):
        return 0


def request_event(response: requests.Response) -> RequestDone:
    """The event of an answered request (``seconds`` is the time until the response headers).

    Sizes come from ``Content-Length`` (none for a HEAD answer, which has no body); a streamed
    upload without one counts as 0 bytes sent.
    """
    request = response.request
    body = request.body
    sent = len(body) if isinstance(body, bytes | str) else _length(request.headers)
    return RequestDone(
        method=str(request.method or ""),
        url=safe_url(str(request.url or response.url)),
        status=response.status_code,
        received=0 if request.method == "HEAD" else _length(response.headers),
        sent=sent,
        seconds=response.elapsed.total_seconds(),
    )


def response_hook(sink: EventSink) -> Callable[..., None]:
    """A ``requests`` response hook that reports every answered request to ``sink``."""

    def hook(response: requests.Response, *_args: Any, **_kwargs: Any) -> None:
        sink(request_event(response))

    return hook
