"""Our own small HTTP/1.1 client: keep-alive connections to the one origin a session mostly talks to.

Every registry request of a run goes to the registry's own host (and every token request to its
token server's). Through urllib3 a small GET cost about 0.29 ms of CPU (http.client's header
parsing through ``email``, layers of wrappers), through this client 0.09 ms (2,000 GETs of the
profiling rig's registry), and urllib3's import, with http.client and ``email``, took about 25 ms
of every run. This client does what that path needs and nothing else:

* a thread-safe pool of keep-alive connections for one ``(scheme, host, port)``, plain or TLS (the
  caller's ``ssl.SSLContext``: hostname checked, SNI sent), TCP_NODELAY, connect and read timeouts;
* requests with no body, a bytes body, or an iterator of blocks (sent chunked);
* answers framed by ``Content-Length``, chunked, or until the server closes; none for HEAD, 1xx,
  204, 304; gzip and deflate decoded on request (``ACCEPT_ENCODING`` advertises only those);
* a connection goes back to the pool only after its answer was read to the end and the server
  keeps it alive; an idle one the server closed is noticed before reuse (polled for readability);
  a request on a reused connection that got no byte of an answer because the server had closed it
  (end of stream, or the request could not be sent) is sent once more on a new connection, when
  its body can be sent again and its method is idempotent. A reset after the request was sent is
  an error like any other (the caller's retry policy decides).

Failures raise ``TransportError`` subclasses whose ``reason`` is the short text users read
(``Connection refused``, ``timed out``, ``10 bytes read, 990 more expected``); the urllib3 path
(``transport.pooled``: proxies, other hosts) raises the same types. A body read that breaks after
some bytes arrived returns those bytes first and raises on the next read and every later one.
A compressed body is decoded no further ahead than a read asks for (at least 64 KiB), so a small
gzip answer cannot fill memory before the reader's own limit (a manifest's, ``http.MAX_LOADED_BODY``)
is checked. Request targets are percent-encoded as urllib3 does (fragment dropped); a header with a
line break raises ``InvalidHeader`` (naming the header, never its value).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import select
import socket
import ssl
import threading
import zlib
from collections.abc import Iterable, Iterator, Mapping
from typing import TypeVar, cast, overload

from okdrelease.errors import printable

log = logging.getLogger(__name__)
_T = TypeVar("_T")

#: The codings this client (and the urllib3 path) decodes, sent as ``Accept-Encoding``.
ACCEPT_ENCODING = "gzip, deflate"
_RECV = 64 << 10
_BLOCK = 256 << 10
_MIN_DECODE = 64 << 10  # decoded ahead at least (a smaller read takes the rest from the buffer)
_COALESCE = 16 << 10
_MAX_HEAD = 256 << 10
_MAX_LINE = 64 << 10
_MAX_BLANK = 128  # bytes of empty lines skipped before a status line
#: The port of a URL that names none, by scheme.
DEFAULT_PORTS = {"http": 80, "https": 443}
_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
_BODYLESS = frozenset({204, 304})
#: The verify message runs to ``. (_ssl.c:N)``, or to the end of the exception text quoting it; a name
#: mismatch quotes the name (``IP address mismatch, certificate is not valid for '127.0.0.1'``).
_SSL_VERIFY_RE = re.compile(r"certificate verify failed: (.+?)\.?(?: \(_ssl\.c:\d+\)|[\")\]]|$)")
_SSL_REASON_RE = re.compile(r"\[SSL: [A-Z0-9_]+\] ([^(\]'\"]+)")
_TARGET_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@/?")
_TARGET_OK_RE = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=:@/?%]*")
_ESCAPE_RE = re.compile(r"%[0-9A-Fa-f]{2}")
_ERRNO_RE = re.compile(r"\[Errno -?\d+\] ([^'\")\]]+)")
_INCOMPLETE_RE = re.compile(r"IncompleteRead\((\d+ bytes read, \d+ more expected)\)")
#: Said of an answer that never started (what the urllib3 path called it: its error type).
NO_RESPONSE = "ProtocolError"


class TransportError(Exception):
    """A request that got no complete answer; ``reason`` is the short text a user reads."""

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = message if reason is None else reason
        #: The ``host[:port]`` the request that failed went to (set by ``http.HttpSession``), or "".
        self.host = ""


class TlsError(TransportError):
    """The TLS handshake failed (certificate verification, protocol)."""


class ConnectError(TransportError):
    """No answer: the connection could not be made, or it broke before an answer started."""


class BrokenResponse(TransportError):
    """The answer is not HTTP, or it broke off (a cut body, a reset, a stall)."""


class InvalidAddress(TransportError):
    """The URL names no host and port a connection can be made to."""


class InvalidHeader(TransportError):
    """A request header holds a line break (its value is not repeated: it may be a credential)."""


class BadFraming(TransportError):
    """An answer whose ``Content-Length`` is no length (negative, not a number, repeats disagreeing):
    Go's client refuses it at once, and so do we (asking again brings the same answer)."""


class _Ended(BrokenResponse):
    """The stream ended in the middle of a line."""


def tls_reason(err: BaseException) -> str:
    """The OpenSSL reason of a TLS failure (``certificate verify failed: ...``, ``wrong version number``)."""
    text = str(err)
    match = _SSL_VERIFY_RE.search(text)
    if match:
        return "certificate verify failed: " + match.group(1).strip()
    match = _SSL_REASON_RE.search(text)
    if match:
        return match.group(1).strip()
    return "SSLError"


def name_mismatch(reason: str) -> bool:
    """Whether the TLS failure ``reason`` (:func:`tls_reason`) is a certificate issued for other names
    than the one connected to: its chain was trusted (OpenSSL checks the name after the chain)."""
    return (
        reason.startswith("certificate verify failed: ")
        and "mismatch, certificate is not valid for" in reason
    )


def os_reason(err: BaseException) -> str:
    """The OS reason of a failure (``Connection refused``, ``timed out``), else the error's type."""
    text = str(err)
    match = _ERRNO_RE.search(text)
    if match:
        return match.group(1).strip()
    match = _INCOMPLETE_RE.search(text)
    if match:
        return match.group(1)
    if isinstance(err, TimeoutError) or "timed out" in text.lower():
        return "timed out"
    if "Connection reset" in text or "ConnectionResetError" in text:
        return "Connection reset by peer"
    return type(err).__name__


def _broken(err: OSError) -> str:
    """The reason of a connection that broke while a request or answer was under way."""
    return "SSLError" if isinstance(err, ssl.SSLError) else os_reason(err)


def load_system_trust(context: ssl.SSLContext) -> None:
    """Trust the system's CAs as Go does (oc): OpenSSL's default store, SSL_CERT_FILE and SSL_CERT_DIR
    included, and besides every file of each SSL_CERT_DIR directory (``:``-separated), which Go reads
    whole where OpenSSL looks certificates up by hash links only (a directory holding a plain
    ``ca.crt`` works with oc). A file there that holds no certificate is passed over, as Go passes it.
    A directory with hash links (``c_rehash``'s, such as /etc/ssl/certs) is left to OpenSSL's lookup:
    reading its hundreds of files for every context would cost far more than the lookups.
    """
    context.load_default_certs()
    for directory in filter(None, os.environ.get("SSL_CERT_DIR", "").split(":")):
        try:
            names = sorted(os.listdir(directory))
        except OSError:
            continue
        if any(_HASH_LINK.fullmatch(name) for name in names):
            continue
        for name in names:
            path = os.path.join(directory, name)
            with contextlib.suppress(OSError, ssl.SSLError, ValueError):
                if os.path.isfile(path) and os.path.getsize(path) <= _MAX_TRUST_FILE:
                    context.load_verify_locations(cafile=path)


#: The largest file of an SSL_CERT_DIR directory read for its certificates.
_MAX_TRUST_FILE = 16 << 20
#: The name of an OpenSSL hash link (``c_rehash``): a certificate's (``.N``) or a CRL's (``.rN``).
_HASH_LINK = re.compile(r"[0-9a-f]{8}\.r?[0-9]+")


def client_context(verified: bool) -> ssl.SSLContext:
    """A TLS client context as urllib3 makes one: TLS 1.2 or later, no compression or tickets,
    post-handshake authentication; verifying certificates and hostnames (no CA loaded) or neither."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.options |= ssl.OP_NO_SSLv2 | ssl.OP_NO_SSLv3 | ssl.OP_NO_COMPRESSION | ssl.OP_NO_TICKET
    context.post_handshake_auth = True
    if verified:
        context.verify_mode = ssl.CERT_REQUIRED
        context.check_hostname = True
    else:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    context.hostname_checks_common_name = False
    keylog = os.path.expandvars(os.environ.get("SSLKEYLOGFILE", ""))
    if keylog:
        context.keylog_filename = keylog
    return context


class Headers(Mapping[str, str]):
    """Response headers: names case-insensitive, repeated fields joined with ``, ``."""

    __slots__ = ("_fields",)

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        fields: dict[str, tuple[str, str]] = {}
        for name, value in items:
            key = name.lower()
            known = fields.get(key)
            fields[key] = (name, value) if known is None else (known[0], f"{known[1]}, {value}")
        self._fields = fields

    def __getitem__(self, name: str) -> str:
        return self._fields[name.lower()][1]

    @overload
    def get(self, name: str, /) -> str | None: ...
    @overload
    def get(self, name: str, /, default: str | _T) -> str | _T: ...
    def get(self, name: str, /, default: object = None) -> object:
        """The field's value, or ``default``."""
        field = self._fields.get(name.lower())
        return default if field is None else field[1]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._fields

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._fields.values())

    def __len__(self) -> int:
        return len(self._fields)

    def __repr__(self) -> str:
        return f"Headers({dict(self.items())!r})"


class _Conn:
    """One connection: its socket, bytes received but not yet consumed, and whether it was used before."""

    __slots__ = ("buffer", "reused", "sock", "timeout")

    def __init__(self, sock: socket.socket, timeout: float | None) -> None:
        self.sock = sock
        self.buffer = bytearray()
        self.reused = False
        self.timeout = timeout

    def fill(self) -> bool:
        """Receive more bytes into the buffer; False at the end of the stream."""
        data = self.sock.recv(_RECV)
        self.buffer += data
        return bool(data)

    def readline(self) -> bytes:
        """One line (without its line end); ``_Ended`` when the stream ends first."""
        buffer = self.buffer
        while (end := buffer.find(b"\n")) < 0:
            if len(buffer) > _MAX_LINE:
                raise BrokenResponse("a line of the response is too long")
            if not self.fill():
                raise _Ended("Response ended prematurely")
        line = bytes(buffer[:end]).rstrip(b"\r")
        del buffer[: end + 1]
        return line

    def dropped(self) -> bool:
        """True when the idle connection is closed (or has something unasked to say)."""
        pending = getattr(self.sock, "pending", None)
        if pending is not None and pending():
            return True
        if not hasattr(select, "poll"):  # Windows
            return bool(select.select([self.sock], [], [], 0)[0])
        poller = select.poll()
        poller.register(self.sock, select.POLLIN)
        return bool(poller.poll(0))

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


class _Stale(Exception):
    """A reused connection the server had closed: the request got no byte of an answer."""

    def __init__(self, error: TransportError) -> None:
        super().__init__(str(error))
        self.error = error


class _NoAnswer(Exception):
    """The stream ended before any byte of an answer."""


def _head_lines(conn: _Conn) -> list[str]:
    """The status line and header lines of one answer (raises ``_NoAnswer`` when nothing came);
    up to ``_MAX_BLANK`` bytes of empty lines before the status line are skipped."""
    buffer = conn.buffer
    blank = 0
    while True:
        if buffer.startswith((b"\r", b"\n")):
            rest = buffer.lstrip(b"\r\n")
            blank += len(buffer) - len(rest)
            buffer[:] = rest
            if blank > _MAX_BLANK:
                raise BrokenResponse("invalid HTTP status line: too many empty lines before it")
        crlf, lf = buffer.find(b"\r\n\r\n"), buffer.find(b"\n\n")  # a head ends at whichever comes first
        if crlf >= 0 and (lf < 0 or crlf < lf):
            cut = crlf + 4
            break
        if lf >= 0:
            cut = lf + 2
            break
        if len(buffer) > _MAX_HEAD:
            raise BrokenResponse("the response headers are too long")
        if not conn.fill():
            if not buffer and not blank:
                raise _NoAnswer
            raise BrokenResponse("the connection closed in the response headers")
    head = bytes(buffer[:cut]).decode("latin-1")
    del buffer[:cut]
    return [line.rstrip("\r") for line in head.split("\n") if line not in ("", "\r")]


def _parse_head(lines: list[str]) -> tuple[str, int, Headers]:
    """``(version, status, headers)`` of an answer's head; ``BrokenResponse`` when it is not HTTP."""
    status_line = lines[0]
    version, _, rest = status_line.partition(" ")
    code = rest[:3]
    if not version.startswith("HTTP/") or not code.isdigit() or rest[3:4] not in ("", " "):
        raise BrokenResponse(f"invalid HTTP status line '{printable(status_line[:100])}'")
    items: list[tuple[str, str]] = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and items:  # an obsolete folded continuation
            name, value = items[-1]
            items[-1] = (name, f"{value} {line.strip()}")
            continue
        name, sep, value = line.partition(":")
        if sep and name and name == name.rstrip():
            items.append((name, value.strip()))
    return version, int(code), Headers(items)


class _Decoder:
    """Decodes a gzip or deflate body as urllib3 does: concatenated gzip members (bytes after a
    complete member that start no other are ignored), deflate with or without the zlib wrapper, and
    never more than asked for at a time (the input left over is kept for the next call), so a small
    compressed body cannot fill memory before its reader's limits are checked."""

    __slots__ = ("_members", "_obj", "_seen", "_swallow", "_tail", "coding")

    def __init__(self, coding: str) -> None:
        self.coding = coding
        self._obj = self._new()
        self._tail = b""  # input not decoded yet (the last call's output was full)
        self._seen: bytes | None = b"" if coding == "deflate" else None  # deflate: input of the zlib try
        self._members = 0  # gzip: complete members decoded
        self._swallow = False  # gzip: what follows the members is not gzip, ignored

    def _new(self) -> zlib._Decompress:
        return zlib.decompressobj(16 + zlib.MAX_WBITS if self.coding == "gzip" else zlib.MAX_WBITS)

    @property
    def pending(self) -> bool:
        """True when input is left that the last call had no room to decode."""
        return bool(self._tail)

    def feed(self, data: bytes, limit: int) -> bytes:
        """Decode ``data`` after the input left over, at most ``limit`` (> 0) bytes of output."""
        if self._tail:
            data, self._tail = self._tail + data, b""
        if self._swallow or not data:
            return b""
        try:
            if self._seen is not None:
                return self._first_deflate(data, limit)
            return self._decode(data, limit)
        except zlib.error:
            raise BrokenResponse(
                f"Received response with content-encoding: {self.coding}, but failed to decode it.",
                "DecodeError",
            ) from None

    def _first_deflate(self, data: bytes, limit: int) -> bytes:
        """Deflate's first output: with the zlib wrapper, else raw (all input so far again)."""
        assert self._seen is not None
        self._seen += data
        try:
            out = self._decode(data, limit)
        except zlib.error:
            data, self._seen = self._seen, None
            self._obj = zlib.decompressobj(-zlib.MAX_WBITS)
            self._tail = b""
            return self._decode(data, limit)
        if out:
            self._seen = None
        return out

    def _decode(self, data: bytes, limit: int) -> bytes:
        out: list[bytes] = []
        size = 0
        while True:
            obj = self._obj
            try:
                block = obj.decompress(data, limit - size)
            except zlib.error:
                if not self._members:
                    raise
                self._swallow = True  # trailing bytes after a complete member: ignored
                return b"".join(out)
            out.append(block)
            size += len(block)
            if not obj.eof:
                self._tail = obj.unconsumed_tail
                return b"".join(out)
            if self.coding != "gzip":
                return b"".join(out)  # (deflate: bytes after the stream ignored)
            self._members += 1
            self._obj = self._new()
            data = obj.unused_data
            if not data or size >= limit:
                self._tail = data
                return b"".join(out)

    def flush(self) -> bytes:
        """What the decoder still holds once all input was fed (and decoded: nothing pending)."""
        return b"" if self._swallow else bytes(self._obj.flush())


class WireResponse:
    """One answer on a pooled connection: status, headers, and its body read on demand.

    ``read`` and ``stream`` return the body (decoded unless ``decode_content=False``); the
    connection goes back to the pool once the body was read to its end, and is closed by
    ``close`` when it was not.
    """

    __slots__ = (
        "_chunk",
        "_conn",
        "_decoded",
        "_decoder",
        "_eof",
        "_error",
        "_fault",
        "_pool",
        "_read",
        "_remaining",
        "headers",
        "keep",
        "status",
        "version",
    )

    def __init__(
        self, pool: WirePool, conn: _Conn, head: tuple[str, int, Headers], method: str, *, keep: bool = True
    ) -> None:
        """``keep=False``: the connection is closed after this answer whatever it says."""
        self.version, self.status, self.headers = head
        self._pool: WirePool | None = pool
        self._conn: _Conn | None = conn
        self._read = 0  # body bytes received
        self._fault: BaseException | None = None
        self._error: TransportError | None = None  # what every read raises once one failed
        self._eof = False
        self._decoded = bytearray()
        coding = self.headers.get("Content-Encoding", "").strip().lower()
        self._decoder = _Decoder(coding) if coding in ("gzip", "deflate") else None
        connection = self.headers.get("Connection", "").lower()
        if self.version == "HTTP/1.1":
            self.keep = keep and "close" not in connection
        else:
            self.keep = keep and "keep-alive" in connection
        if self.status == 101:
            self.keep = False  # switched to another protocol: never reused
        self._chunk = -1  # bytes left of the current chunk; -1: not chunked
        self._remaining: int | None = None
        framing = self.headers.get("Transfer-Encoding")
        if method == "HEAD" or self.status < 200 or self.status in _BODYLESS:
            self._remaining = 0
        elif framing is not None and "chunked" in framing.lower():
            self._chunk = 0
            if framing.strip().lower() != "chunked" or "Content-Length" in self.headers:
                self.keep = False  # an unusual framing: the connection is not trusted after it
        else:
            if framing is not None:
                self.keep = False
            length = self.headers.get("Content-Length")
            self._remaining = content_length(length)
            if length is not None and self._remaining is None:
                # As Go's client: a length that is no number (or repeats disagreeing) frames nothing.
                raise BadFraming(f"bad Content-Length '{printable(length[:40])}'")
            if self._remaining is None:
                self.keep = False  # until the server closes
        if self._remaining == 0:
            self._finish()

    def __repr__(self) -> str:
        return f"<WireResponse [{self.status}]>"

    # -- reading -------------------------------------------------------------------------------

    def read(self, amount: int | None = None, decode_content: bool = True) -> bytes:
        """Up to ``amount`` bytes of the body; b"" at its end. With None or a negative amount all of
        it, unbounded as under urllib3 (``http.Response.load`` reads in blocks and stops at its cap).

        Once a read failed, every later one raises the same error (decoded bytes that had
        arrived before it are handed out first)."""
        if amount is not None and amount < 0:
            amount = None
        if decode_content and self._decoder is not None:
            return self._read_decoded(amount, self._decoder)
        if self._error is not None:
            raise self._error
        try:
            if amount is None:
                parts = []
                while block := self._read_raw(_BLOCK):
                    parts.append(block)
                return b"".join(parts)
            return self._read_raw(amount) if amount > 0 else b""
        except TransportError as err:
            self._error = err
            raise

    def stream(self, size: int, decode_content: bool = True) -> Iterator[bytes]:
        """The body in blocks of up to ``size`` bytes."""
        while block := self.read(size, decode_content):
            yield block

    def _read_decoded(self, amount: int | None, decoder: _Decoder) -> bytes:
        """Up to ``amount`` decoded bytes; no more than ``amount`` (at least ``_MIN_DECODE``) is
        decoded ahead, so what a reader's own limit sees is about what memory holds."""
        buffer = self._decoded
        while self._error is None and (amount is None or len(buffer) < amount):
            room = _MIN_DECODE if amount is None else max(amount - len(buffer), _MIN_DECODE)
            try:
                if decoder.pending:
                    buffer += decoder.feed(b"", room)
                    continue
                raw = self._read_raw(_BLOCK)
                if not raw:
                    buffer += decoder.flush()
                    break
                buffer += decoder.feed(raw, room)
            except TransportError as err:
                self._error = err
                self.close()
        if not buffer and self._error is not None:
            raise self._error
        size = len(buffer) if amount is None else min(amount, len(buffer))
        out = bytes(buffer[:size])
        del buffer[:size]
        return out

    def _read_raw(self, amount: int) -> bytes:
        if self._conn is None:
            return b""
        if self._chunk >= 0:
            return self._read_chunked(amount)
        want = amount if self._remaining is None else min(amount, self._remaining)
        data = self._take(want)
        self._read += len(data)
        if self._remaining is not None:
            self._remaining -= len(data)
            if self._remaining == 0:
                self._finish()
                return data
        if data:
            return data
        if self._fault is None and self._remaining is None:  # the server closed: the body's end
            self._finish()
            return b""
        raise self._failure()

    def _read_chunked(self, amount: int) -> bytes:
        parts: list[bytes] = []
        total = 0
        while total < amount and self._conn is not None:
            try:
                if self._chunk == 0 and not self._next_chunk(self._conn):
                    break
            except (TransportError, OSError) as err:
                if not parts:
                    raise self._translate(err) from None
                self._fault = err
                break
            want = min(amount - total, self._chunk)
            data = self._take(want)
            self._chunk -= len(data)
            self._read += len(data)
            if data:
                parts.append(data)
                total += len(data)
            if len(data) < want:
                if not parts:
                    raise self._failure()
                break
        return b"".join(parts)

    def _next_chunk(self, conn: _Conn) -> bool:
        """Read the next chunk's size line (after the previous chunk's line end); False after the last."""
        if self._fault is not None or self._eof:
            raise self._failure()
        if self._read:
            conn.readline()  # the line end after the previous chunk's data
        size_line = conn.readline().split(b";", 1)[0].strip()
        try:
            size = int(size_line, 16)
        except ValueError:
            raise BrokenResponse(f"invalid chunk length {size_line[:40]!r}") from None
        if size < 0:
            raise BrokenResponse(f"invalid chunk length {size_line[:40]!r}")
        if size == 0:
            try:
                while conn.readline():  # trailer fields, up to the empty line
                    pass
            except _Ended:  # the server closed in the trailer: the body's end (as http.client)
                self.keep = False
                conn.buffer.clear()
            self._finish()
            return False
        self._chunk = size
        return True

    def _take(self, want: int) -> bytes:
        """Up to ``want`` bytes: buffered ones, then from the socket until ``want``, the end or a
        failure (kept in ``_fault``/``_eof`` for the next read, so bytes that came are not lost)."""
        conn = self._conn
        if conn is None or want <= 0:
            return b""
        buffer = conn.buffer
        if len(buffer) >= want:
            data = bytes(buffer[:want])
            del buffer[:want]
            return data
        if self._fault is not None or self._eof:
            data = bytes(buffer)
            buffer.clear()
            return data
        out = bytearray(want)
        got = len(buffer)
        out[:got] = buffer
        buffer.clear()
        with memoryview(out) as view:
            while got < want:
                try:
                    count = conn.sock.recv_into(view[got:], want - got)
                except OSError as err:
                    self._fault = err
                    break
                if not count:
                    self._eof = True
                    break
                got += count
        if got < want:
            del out[got:]
        return bytes(out)

    def _failure(self) -> TransportError:
        """The error of a body that cannot go on (the connection is closed)."""
        fault = self._fault
        self.close()
        if fault is not None:
            return self._translate(fault)
        if self._remaining is not None:
            return BrokenResponse(f"{self._read} bytes read, {self._remaining} more expected")
        return BrokenResponse("Response ended prematurely")

    def _translate(self, err: BaseException) -> TransportError:
        self.close()
        if isinstance(err, TransportError):
            return err
        assert isinstance(err, OSError)
        return BrokenResponse(f"connection broken: {err}", _broken(err))

    # -- the connection ------------------------------------------------------------------------

    def _finish(self) -> None:
        """The body was read to its end: the connection goes back to the pool (or is closed)."""
        conn, pool = self._conn, self._pool
        self._conn = self._pool = None
        if conn is None or pool is None:
            return
        if self.keep and not conn.buffer and self._fault is None and not self._eof:
            pool.release(conn)
        else:
            conn.close()

    def close(self) -> None:
        """Close the connection unless the body was read to its end (it went back to the pool)."""
        conn = self._conn
        if conn is None:
            return
        if self._remaining is not None and 0 < self._remaining <= len(conn.buffer):
            del conn.buffer[: self._remaining]  # the rest already arrived: the connection stays good
            self._remaining = 0
            self._finish()
            return
        self._conn = self._pool = None
        conn.close()


def content_length(value: str | None) -> int | None:
    """The length a ``Content-Length`` value gives (repeats agreeing), else None."""
    if value is None:
        return None
    values = {v.strip() for v in value.split(",")}
    if len(values) != 1:
        return None
    (text,) = values
    return int(text) if text.isdigit() else None


def strip_userinfo(netloc: str) -> str:
    """``netloc`` without a ``user:password@`` (never sent, logged or shown: it may be a secret)."""
    return netloc.rpartition("@")[2] if "@" in netloc else netloc


def _split_netloc(scheme: str, netloc: str) -> tuple[str, int]:
    """``(host, port)`` of ``host[:port]`` (``[v6]:port`` too); ``InvalidAddress`` when it names none."""
    host, sep, port = netloc.rpartition(":")
    if not sep or host.endswith(("[", ":")) or (netloc.startswith("[") and not host.endswith("]")):
        host, port = netloc, ""
    if port and not (port.isdigit() and 0 < int(port) < 65536):
        raise InvalidAddress(f"invalid port in '{printable(netloc)}'")
    host = host.strip("[]")
    if not host or scheme not in DEFAULT_PORTS:
        raise InvalidAddress(f"cannot connect to {scheme}://{netloc}")
    return host, int(port) if port else DEFAULT_PORTS[scheme]


class WirePool:
    """Keep-alive connections to one origin (``scheme://host:port``); thread-safe.

    ``context`` is the TLS context of an https origin (it decides verification; None: verified
    against the system's trust store); up to ``maxsize`` idle connections are kept (more may be
    open while busy; extras close when given back). A ``user:password@`` in ``netloc`` is dropped.
    """

    def __init__(self, scheme: str, netloc: str, *, context: ssl.SSLContext | None, maxsize: int) -> None:
        """Nothing is connected yet; ``InvalidAddress`` when ``netloc`` names no host and port."""
        self.scheme = scheme
        self.netloc = netloc = strip_userinfo(netloc)
        self._address = host, port = _split_netloc(scheme, netloc)
        name = f"[{host}]" if ":" in host else host
        self._host_field = name if port == DEFAULT_PORTS[scheme] else f"{name}:{port}"
        # An ASCII name as bytes to the resolver and TLS: a str would load the idna codec (3-7 ms).
        self._name: str | bytes = host.encode() if host.isascii() else host
        if scheme == "https" and context is None:
            context = client_context(verified=True)
            load_system_trust(context)
        self._context = context if scheme == "https" else None
        self._maxsize = maxsize
        self._idle: list[_Conn] = []
        self._lock = threading.Lock()
        self._opened = 0
        self._closed = False

    def __repr__(self) -> str:
        return f"WirePool({self.scheme}://{self.netloc})"

    def close(self) -> None:
        """Close every idle connection (connections in use close when given back)."""
        with self._lock:
            idle, self._idle = self._idle, []
            self._closed = True
        for conn in idle:
            conn.close()

    def release(self, conn: _Conn) -> None:
        """Take back a connection whose last answer was read to its end."""
        with self._lock:
            if not self._closed and len(self._idle) < self._maxsize:
                self._idle.append(conn)
                return
        conn.close()

    def request(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str],
        body: bytes | bytearray | Iterable[bytes] | None,
        timeout: tuple[float, float],
    ) -> WireResponse:
        """Send a request and read its answer's head (the body is left to read).

        ``body``: None, bytes (a ``Content-Length`` is added unless ``headers`` has one) or an
        iterable of blocks (sent chunked); ``timeout``: ``(connect, read)`` seconds."""
        if isinstance(body, bytes | bytearray) and "Content-Length" not in headers:
            headers = {**headers, "Content-Length": str(len(body))}
        head = self._request_head(method, path, headers, chunked=not _replayable(body))
        conn = self._checkout(timeout)
        try:
            return self._exchange(conn, method, head, body)
        except _Stale as stale:
            if not (_replayable(body) and method in _IDEMPOTENT):
                raise stale.error from None
            log.debug("%s: the server had closed an idle connection; sending %s again", self, method)
        return self._exchange(self._connect(timeout), method, head, body)

    def _request_head(self, method: str, path: str, headers: Mapping[str, str], *, chunked: bool) -> bytes:
        lines = [f"{method} {request_target(path)} HTTP/1.1", f"Host: {self._host_field}"]
        lines.extend(f"{name}: {value}" for name, value in headers.items())
        if chunked:
            lines.append("Transfer-Encoding: chunked")
        text = "\r\n".join(lines)
        if text.count("\n") != len(lines) - 1 or text.count("\r") != len(lines) - 1:
            check_headers(headers)
            raise InvalidAddress(f"a line break in the method or host of {method} {self}")
        return (text + "\r\n\r\n").encode("latin-1")

    def _checkout(self, timeout: tuple[float, float]) -> _Conn:
        """An idle connection still open, else a new one."""
        while True:
            with self._lock:
                conn = self._idle.pop() if self._idle else None
            if conn is None:
                return self._connect(timeout)
            if conn.dropped():
                conn.close()
                continue
            if conn.timeout != timeout[1]:
                conn.sock.settimeout(timeout[1])
                conn.timeout = timeout[1]
            conn.reused = True
            return conn

    def _connect(self, timeout: tuple[float, float]) -> _Conn:
        host, port = self._address
        with self._lock:
            self._opened += 1
            count = self._opened
        log.debug("Starting new %s connection (%d): %s:%s", self.scheme.upper(), count, host, port)
        try:
            # (getaddrinfo takes bytes, typeshed says str)
            sock = socket.create_connection((cast(str, self._name), port), timeout=timeout[0])
        except UnicodeError:
            raise InvalidAddress(f"cannot connect to {self.scheme}://{self.netloc}") from None
        except OSError as err:
            raise ConnectError(f"cannot connect to {self.netloc}: {err}", os_reason(err)) from None
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self._context is not None:
                sock = self._context.wrap_socket(sock, server_hostname=self._name)
            sock.settimeout(timeout[1])
        except ssl.SSLError as err:
            sock.close()
            raise TlsError(f"TLS with {self.netloc} failed: {err}", tls_reason(err)) from None
        except OSError as err:
            sock.close()
            raise ConnectError(f"TLS with {self.netloc} failed: {err}", _broken(err)) from None
        return _Conn(sock, timeout[1])

    def _exchange(
        self,
        conn: _Conn,
        method: str,
        head: bytes,
        body: bytes | bytearray | Iterable[bytes] | None,
    ) -> WireResponse:
        """Send the request on ``conn`` and read its answer's head; raises ``_Stale`` when a reused
        connection turned out closed before the server saw the request."""
        unsent: OSError | None = None
        try:
            _send(conn.sock, head, body)
        except (BrokenPipeError, ConnectionResetError) as err:
            unsent = err  # the server closed: an answer it sent first may still be there
        except OSError as err:
            conn.close()
            raise _request_error(self, err) from None
        except BaseException:
            conn.close()
            raise
        informed = False  # an informational (1xx) head came: the server saw the request
        try:
            while True:
                parsed = _parse_head(_head_lines(conn))
                if not 100 <= parsed[1] < 200 or parsed[1] == 101:
                    return WireResponse(self, conn, parsed, method, keep=unsent is None)
                informed = True
        except _NoAnswer:
            conn.close()
            error = ConnectError(f"{self.netloc} closed the connection without an answer", NO_RESPONSE)
            if conn.reused and not informed:
                raise _Stale(error) from None
            raise error from None
        except OSError as err:
            conn.close()
            failure = _request_error(self, err)
            if conn.reused and unsent is not None and not conn.buffer and not informed:
                raise _Stale(failure) from None
            raise failure from None
        except BaseException:
            conn.close()
            raise


def request_target(path: str) -> str:
    """``path`` (with its query) as sent: the fragment dropped, every character a URI may not hold
    (controls, space, non-ASCII as UTF-8, ``"<>\\^`{|}``, a ``%`` not starting an escape when any
    does not) percent-encoded as urllib3 does; escapes already there kept."""
    if "#" in path:
        path = path.partition("#")[0]
    if _TARGET_OK_RE.fullmatch(path) is None or (
        "%" in path and path.count("%") != len(_ESCAPE_RE.findall(path))
    ):
        path = _escape_target(path)
    return path or "/"


def _escape_target(path: str) -> str:
    path, escapes = _ESCAPE_RE.subn(lambda match: match.group(0).upper(), path)
    data = path.encode("utf-8", "surrogatepass")
    keep_percent = escapes == data.count(b"%")
    out = bytearray()
    for byte in data:
        if byte < 128 and (chr(byte) in _TARGET_CHARS or (byte == 37 and keep_percent)):
            out.append(byte)
        else:
            out += b"%%%02X" % byte
    return out.decode("ascii")


def check_headers(headers: Mapping[str, str]) -> None:
    """``InvalidHeader`` naming the first header whose name or value holds a line break."""
    for name, value in headers.items():
        if "\r" in name or "\n" in name:
            raise InvalidHeader(f"invalid header name {name[:40]!r}: it holds a line break")
        if "\r" in value or "\n" in value:
            raise InvalidHeader(f"invalid header value for {name}: it holds a line break")


def _replayable(body: object) -> bool:
    return body is None or isinstance(body, bytes | bytearray)


def _request_error(pool: WirePool, err: OSError) -> TransportError:
    if isinstance(err, ssl.SSLError):
        return TlsError(f"TLS with {pool.netloc} failed: {err}", tls_reason(err))
    return ConnectError(f"connection to {pool.netloc} broke: {err}", _broken(err))


def _send(sock: socket.socket, head: bytes, body: bytes | bytearray | Iterable[bytes] | None) -> None:
    """Send a request: its head, then its body (an iterator's blocks chunked)."""
    if body is None:
        sock.sendall(head)
        return
    if isinstance(body, bytes | bytearray):
        if len(body) <= _COALESCE:
            sock.sendall(head + body)
        else:
            sock.sendall(head)
            sock.sendall(body)
        return
    sock.sendall(head)
    for block in body:
        if not block:
            continue
        size = b"%x\r\n" % len(block)
        if len(block) <= _COALESCE:
            sock.sendall(size + bytes(block) + b"\r\n")
        else:
            sock.sendall(size)
            sock.sendall(block)
            sock.sendall(b"\r\n")
    sock.sendall(b"0\r\n\r\n")
