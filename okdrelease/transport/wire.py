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
some bytes arrived returns those bytes first and raises on the next read.
"""

from __future__ import annotations

import logging
import os
import re
import select
import socket
import ssl
import threading
import zlib
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, cast

log = logging.getLogger(__name__)

#: The codings this client (and the urllib3 path) decodes, sent as ``Accept-Encoding``.
ACCEPT_ENCODING = "gzip, deflate"
_RECV = 64 << 10
_BLOCK = 256 << 10
_COALESCE = 16 << 10
_MAX_HEAD = 256 << 10
_MAX_LINE = 64 << 10
_DEFAULT_PORTS = {"http": 80, "https": 443}
_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
_BODYLESS = frozenset({204, 304})
_SSL_VERIFY_RE = re.compile(r"certificate verify failed: ([^(\]'\"]+)")
_SSL_REASON_RE = re.compile(r"\[SSL: [A-Z0-9_]+\] ([^(\]'\"]+)")
_ERRNO_RE = re.compile(r"\[Errno -?\d+\] ([^'\")\]]+)")
_INCOMPLETE_RE = re.compile(r"IncompleteRead\((\d+ bytes read, \d+ more expected)\)")
#: Said of an answer that never started (what the urllib3 path called it: its error type).
NO_RESPONSE = "ProtocolError"


class TransportError(Exception):
    """A request that got no complete answer; ``reason`` is the short text a user reads."""

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = message if reason is None else reason


class TlsError(TransportError):
    """The TLS handshake failed (certificate verification, protocol)."""


class ConnectError(TransportError):
    """No answer: the connection could not be made, or it broke before an answer started."""


class BrokenResponse(TransportError):
    """The answer is not HTTP, or it broke off (a cut body, a reset, a stall)."""


class InvalidAddress(TransportError):
    """The URL names no host and port a connection can be made to."""


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
    if isinstance(err, TimeoutError):
        return "timed out"
    if isinstance(err, ConnectionResetError):
        return "Connection reset by peer"
    if isinstance(err, ssl.SSLError):
        return "SSLError"
    return err.strerror or type(err).__name__


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

    def get(self, name: str, default: Any = None) -> Any:
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
        """One line (without its line end); ``BrokenResponse`` when the stream ends first."""
        buffer = self.buffer
        while (end := buffer.find(b"\n")) < 0:
            if len(buffer) > _MAX_LINE:
                raise BrokenResponse("a line of the response is too long")
            if not self.fill():
                raise BrokenResponse("Response ended prematurely")
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
    """The status line and header lines of one answer (raises ``_NoAnswer`` when nothing came)."""
    buffer = conn.buffer
    while True:
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
            if not buffer:
                raise _NoAnswer
            raise BrokenResponse("the connection closed in the response headers")
    head = bytes(buffer[:cut]).decode("latin-1")
    del buffer[:cut]
    lines = [line.rstrip("\r") for line in head.split("\n") if line not in ("", "\r")]
    return lines or _head_lines(conn)  # only empty lines before the status line: skipped


def _parse_head(lines: list[str]) -> tuple[str, int, Headers]:
    """``(version, status, headers)`` of an answer's head; ``BrokenResponse`` when it is not HTTP."""
    status_line = lines[0]
    version, _, rest = status_line.partition(" ")
    code = rest[:3]
    if not version.startswith("HTTP/") or not code.isdigit() or rest[3:4] not in ("", " "):
        raise BrokenResponse(f"invalid HTTP status line {status_line[:100]!r}")
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
    """Decodes a gzip or deflate body (as urllib3 did: concatenated gzip members, raw deflate too)."""

    def __init__(self, coding: str) -> None:
        self.coding = coding
        self._first = True
        self._obj = self._new()

    def _new(self) -> Any:
        return zlib.decompressobj(16 + zlib.MAX_WBITS if self.coding == "gzip" else zlib.MAX_WBITS)

    def feed(self, data: bytes) -> bytes:
        try:
            return self._feed(data)
        except zlib.error:
            raise BrokenResponse(
                f"Received response with content-encoding: {self.coding}, but failed to decode it.",
                "DecodeError",
            ) from None

    def _feed(self, data: bytes) -> bytes:
        if self.coding == "deflate" and self._first and data:
            self._first = False
            try:
                return bytes(self._obj.decompress(data))
            except zlib.error:  # raw deflate, without the zlib wrapper
                self._obj = zlib.decompressobj(-zlib.MAX_WBITS)
        out = [self._obj.decompress(data)]
        while self.coding == "gzip" and self._obj.unused_data:
            rest = self._obj.unused_data
            self._obj = self._new()
            out.append(self._obj.decompress(rest))
        return b"".join(out)

    def flush(self) -> bytes:
        return bytes(self._obj.flush())


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
        "_fault",
        "_pool",
        "_read",
        "_remaining",
        "headers",
        "keep",
        "status",
        "version",
    )

    def __init__(self, pool: WirePool, conn: _Conn, head: tuple[str, int, Headers], method: str) -> None:
        self.version, self.status, self.headers = head
        self._pool: WirePool | None = pool
        self._conn: _Conn | None = conn
        self._read = 0  # body bytes received
        self._fault: BaseException | None = None
        self._eof = False
        self._decoded = bytearray()
        coding = self.headers.get("Content-Encoding", "").strip().lower()
        self._decoder = _Decoder(coding) if coding in ("gzip", "deflate") else None
        connection = self.headers.get("Connection", "").lower()
        if self.version == "HTTP/1.1":
            self.keep = "close" not in connection
        else:
            self.keep = "keep-alive" in connection
        self._chunk = -1  # bytes left of the current chunk; -1: not chunked
        self._remaining: int | None = None
        if method == "HEAD" or self.status < 200 or self.status in _BODYLESS:
            self._remaining = 0
        elif "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self._chunk = 0
        else:
            self._remaining = _content_length(self.headers.get("Content-Length"))
            if self._remaining is None:
                self.keep = False  # until the server closes
        if self._remaining == 0:
            self._finish()

    def __repr__(self) -> str:
        return f"<WireResponse [{self.status}]>"

    # -- reading -------------------------------------------------------------------------------

    def read(self, amount: int | None = None, decode_content: bool = True) -> bytes:
        """Up to ``amount`` bytes of the body (all with None); b"" at its end."""
        if decode_content and self._decoder is not None:
            return self._read_decoded(amount, self._decoder)
        if amount is None:
            parts = []
            while block := self._read_raw(_BLOCK):
                parts.append(block)
            return b"".join(parts)
        return self._read_raw(amount) if amount > 0 else b""

    def stream(self, size: int, decode_content: bool = True) -> Iterator[bytes]:
        """The body in blocks of up to ``size`` bytes."""
        while block := self.read(size, decode_content):
            yield block

    def _read_decoded(self, amount: int | None, decoder: _Decoder) -> bytes:
        buffer = self._decoded
        while amount is None or len(buffer) < amount:
            raw = self._read_raw(_BLOCK)
            if not raw:
                buffer += decoder.flush()
                break
            buffer += decoder.feed(raw)
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
            while conn.readline():  # trailer fields, up to the empty line
                pass
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


def _content_length(value: str | None) -> int | None:
    if value is None:
        return None
    values = {v.strip() for v in value.split(",")}
    if len(values) != 1:
        return None
    (text,) = values
    return int(text) if text.isdigit() else None


def _split_netloc(scheme: str, netloc: str) -> tuple[str, int]:
    """``(host, port)`` of ``host[:port]`` (``[v6]:port`` too); ``InvalidAddress`` when it names none."""
    host, sep, port = netloc.rpartition(":")
    if not sep or host.endswith(("[", ":")) or (netloc.startswith("[") and not host.endswith("]")):
        host, port = netloc, ""
    if port and not (port.isdigit() and 0 < int(port) < 65536):
        raise InvalidAddress(f"invalid port in {netloc!r}")
    host = host.strip("[]")
    if not host or scheme not in _DEFAULT_PORTS:
        raise InvalidAddress(f"cannot connect to {scheme}://{netloc}")
    return host, int(port) if port else _DEFAULT_PORTS[scheme]


class WirePool:
    """Keep-alive connections to one origin (``scheme://host:port``); thread-safe.

    ``context`` is the TLS context of an https origin (it decides verification); up to ``maxsize``
    idle connections are kept (more may be open while busy; extras close when given back).
    """

    def __init__(self, scheme: str, netloc: str, *, context: ssl.SSLContext | None, maxsize: int) -> None:
        """Nothing is connected yet; ``InvalidAddress`` when ``netloc`` names no host and port."""
        self.scheme = scheme
        self.netloc = netloc
        self._address = host, port = _split_netloc(scheme, netloc)
        name = f"[{host}]" if ":" in host else host
        self._host_field = name if port == _DEFAULT_PORTS[scheme] else f"{name}:{port}"
        # An ASCII name as bytes to the resolver and TLS: a str would load the idna codec (3-7 ms).
        self._name: str | bytes = host.encode() if host.isascii() else host
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
        if not path.isascii():
            import urllib.parse

            path = urllib.parse.quote(path, safe="".join(map(chr, range(33, 127))))
        lines = [f"{method} {path or '/'} HTTP/1.1", f"Host: {self._host_field}"]
        lines.extend(f"{name}: {value}" for name, value in headers.items())
        if chunked:
            lines.append("Transfer-Encoding: chunked")
        text = "\r\n".join(lines)
        if text.count("\n") != len(lines) - 1 or text.count("\r") != len(lines) - 1:
            raise InvalidAddress(f"a request header or path of {method} {path[:100]!r} holds a line break")
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
        try:
            while True:
                parsed = _parse_head(_head_lines(conn))
                if not 100 <= parsed[1] < 200 or parsed[1] == 101:
                    return WireResponse(self, conn, parsed, method)
        except _NoAnswer:
            conn.close()
            error = ConnectError(f"{self.netloc} closed the connection without an answer", NO_RESPONSE)
            if conn.reused:
                raise _Stale(error) from None
            raise error from None
        except OSError as err:
            conn.close()
            failure = _request_error(self, err)
            if conn.reused and unsent is not None and not conn.buffer:
                raise _Stale(failure) from None
            raise failure from None
        except BaseException:
            conn.close()
            raise


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
