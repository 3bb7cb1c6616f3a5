"""A fault-injecting HTTP proxy on 127.0.0.1 in front of a real registry from ``registry_rig``.

Clients speak plain HTTP to the proxy (mark its ``host`` insecure); the proxy forwards every
request to the registry (HTTPS trusted through the rig's CA) and relays the answer, except where a
``Rule`` says otherwise. A rule matches requests by method and a regular expression on the path,
counts them, and from the ``nth`` match on injects its fault into ``times`` of them (``None``:
every one from then on, a permanent fault):

* ``reset``      -- read the request, then drop the connection with a TCP reset (no answer);
* ``reset-body`` -- send the headers and half the body, then reset;
* ``truncate``   -- send the headers and half the body, then close cleanly;
* ``flip``       -- send the whole body with one byte changed;
* ``stall``      -- send the headers and half the body, then say nothing for ``stall`` seconds;
* ``slow``       -- send the whole body at about ``rate`` bytes a second (a slow link);
* ``status``     -- answer ``status`` (429, 503 …) with ``Retry-After`` when given and an error
  body with ``code``;
* ``replace``    -- relay the registry's status and headers with ``body`` in place of its body
  (and no ``Docker-Content-Digest``): a registry serving a manifest it should not have accepted;
* ``unauthorized`` -- answer 401 with the registry's own Bearer challenge for the request (what
  a registry says when a token expired or was revoked mid-run);
* ``answer``     -- answer ``status`` with exactly ``headers`` and ``body`` (an odd answer: a bad
  ``Location``, a token that is no header value, a tag list of the wrong shape); ``content_length``
  sends that ``Content-Length`` text instead of the body's length, then closes the connection.

Every request is logged as ``Seen(method, path, fault)``. Locations are relayed relative, so
upload sessions keep going through the proxy.
"""

from __future__ import annotations

import http.server
import json
import re
import socket
import struct
import threading
import time
import urllib.parse
from typing import Any

import attrs
import requests
from registry_rig import RegistryInfo

FAULTS = (
    "reset",
    "reset-body",
    "truncate",
    "flip",
    "stall",
    "slow",
    "status",
    "unauthorized",
    "replace",
    "answer",
)
#: How often the serving loop looks for ``shutdown()`` (seconds).
_POLL_INTERVAL = 0.02
_HOP_BY_HOP = {"transfer-encoding", "connection", "content-length", "content-encoding", "keep-alive"}


@attrs.define
class Rule:
    """Inject ``fault`` into matching requests number ``nth`` .. ``nth + times - 1`` (1-based)."""

    method: str
    path: str
    fault: str
    nth: int = 1
    times: int | None = 1
    status: int = 503
    retry_after: str | None = None
    code: str = "FAULT"
    stall: float = 3.0
    rate: int = 1 << 20
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    content_length: str | None = None
    matched: int = 0
    injected: int = 0

    def __attrs_post_init__(self) -> None:
        if self.fault not in FAULTS:
            raise ValueError(f"unknown fault {self.fault!r}")

    def hit(self, method: str, path: str) -> bool:
        """Count a request; True when this one gets the fault."""
        if method != self.method or not re.search(self.path, path):
            return False
        self.matched += 1
        if self.matched < self.nth or (self.times is not None and self.injected >= self.times):
            return False
        self.injected += 1
        return True


@attrs.frozen
class Seen:
    """One request the proxy received, and the fault it got (None: relayed)."""

    method: str
    path: str
    fault: str | None
    range: str | None = None


class _Dropped(Exception):
    """The handler dropped the connection on purpose."""


class FaultProxy:
    """The proxy; ``start()`` it, add ``rules``, read ``log``, ``stop()`` it."""

    def __init__(self, target: RegistryInfo) -> None:
        """Forward to ``target``."""
        self.target = target
        self.rules: list[Rule] = []
        self.log: list[Seen] = []
        self._lock = threading.Lock()
        self._local = threading.local()
        self._httpd: http.server.ThreadingHTTPServer | None = None

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT`` of the proxy."""
        assert self._httpd is not None
        return f"127.0.0.1:{self._httpd.server_address[1]}"

    def add(self, *rules: Rule) -> FaultProxy:
        """Add rules (the first matching rule of a request decides)."""
        with self._lock:
            self.rules.extend(rules)
        return self

    def clear(self) -> None:
        """Forget rules and log."""
        with self._lock:
            self.rules.clear()
            self.log.clear()

    def seen(self, method: str, pattern: str) -> list[Seen]:
        """The logged requests with ``method`` and a path matching ``pattern``."""
        with self._lock:
            return [s for s in self.log if s.method == method and re.search(pattern, s.path)]

    def count(self, method: str, pattern: str) -> int:
        """How many logged requests have ``method`` and a path matching ``pattern``."""
        return len(self.seen(method, pattern))

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self.target.session(with_auth=False)
            self._local.session = session
        return session

    def _decide(self, method: str, path: str, headers: dict[str, str]) -> Rule | None:
        with self._lock:
            chosen = None
            for rule in self.rules:
                if rule.hit(method, path):
                    chosen = rule
                    break
            self.log.append(Seen(method, path, chosen.fault if chosen else None, headers.get("Range")))
            return chosen

    def forward(self, method: str, path: str, headers: dict[str, str], body: bytes) -> requests.Response:
        """Send the request on to the registry; the whole answer is read."""
        keep = {
            k: v for k, v in headers.items() if k.lower() not in _HOP_BY_HOP | {"host", "accept-encoding"}
        }
        keep["Accept-Encoding"] = "identity"
        return self._session().request(
            method, self.target.url(path), headers=keep, data=body, allow_redirects=False, timeout=30
        )

    def start(self) -> FaultProxy:
        """Serve on a free loopback port."""
        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._httpd.daemon_threads = True
        self._httpd.handle_error = lambda request, address: None  # type: ignore[method-assign]
        # A short poll interval: shutdown() waits for the serving loop's next poll (0.5 s by default,
        # paid by every test's teardown).
        threading.Thread(target=self._httpd.serve_forever, args=(_POLL_INTERVAL,), daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def read_request_body(handler: http.server.BaseHTTPRequestHandler) -> bytes:
    """The whole body of the request ``handler`` is answering (chunked or with Content-Length)."""
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        parts: list[bytes] = []
        while True:
            size = int(handler.rfile.readline().split(b";")[0].strip(), 16)
            if size == 0:
                while handler.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(parts)
            parts.append(handler.rfile.read(size))
            handler.rfile.readline()
    length = int(handler.headers.get("Content-Length") or 0)
    return handler.rfile.read(length) if length else b""


def _handler(proxy: FaultProxy) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _body(self) -> bytes:
            return read_request_body(self)

        def _reset(self) -> None:
            self.wfile.flush()
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            raise _Dropped

        def _send(self, status: int, headers: list[tuple[str, str]], body: bytes, length: int) -> None:
            self.send_response(status)
            for key, value in headers:
                self.send_header(key, value)
            self.send_header("Content-Length", str(length))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
            self.wfile.flush()

        def _send_slowly(self, status: int, headers: list[tuple[str, str]], body: bytes, rate: int) -> None:
            self._send(status, headers, b"", len(body))
            piece = max(1, rate // 20)
            for start in range(0, len(body), piece):
                time.sleep(0.05)
                self.wfile.write(body[start : start + piece])
                self.wfile.flush()

        def _relay_headers(self, response: requests.Response) -> list[tuple[str, str]]:
            out = []
            for key, value in response.headers.items():
                if key.lower() in _HOP_BY_HOP:
                    continue
                if key.lower() == "location":
                    parts = urllib.parse.urlsplit(value)
                    value = urllib.parse.urlunsplit(("", "", parts.path, parts.query, ""))
                out.append((key, value))
            return out

        def _handle(self) -> None:
            body = self._body()
            headers = dict(self.headers.items())
            rule = proxy._decide(self.command, self.path, headers)
            try:
                if rule is None or rule.fault in (
                    "reset-body",
                    "truncate",
                    "flip",
                    "stall",
                    "slow",
                    "replace",
                ):
                    self._relay(rule, headers, body)
                else:
                    self._inject(rule, headers, body)
            except _Dropped:
                self.close_connection = True

        def _inject(self, rule: Rule, headers: dict[str, str], body: bytes) -> None:
            if rule.fault == "reset":
                self._reset()
            if rule.fault == "answer":
                self.send_response(rule.status)
                for key, value in rule.headers:
                    self.send_header(key, value)
                length = str(len(rule.body)) if rule.content_length is None else rule.content_length
                self.send_header("Content-Length", length)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(rule.body)
                self.wfile.flush()
                self.close_connection = rule.content_length is not None
                return
            if rule.fault == "status":
                data = json.dumps({"errors": [{"code": rule.code, "message": "injected"}]}).encode()
                extra = [("Content-Type", "application/json")]
                if rule.retry_after is not None:
                    extra.append(("Retry-After", rule.retry_after))
                self._send(rule.status, extra, data, len(data))
                return
            # unauthorized: the registry's own challenge for this request, as if the token had expired
            anonymous = {k: v for k, v in headers.items() if k.lower() != "authorization"}
            response = proxy.forward(self.command, self.path, anonymous, body)
            challenge = response.headers.get("WWW-Authenticate", 'Bearer realm="http://127.0.0.1:1/token"')
            data = json.dumps({"errors": [{"code": "UNAUTHORIZED", "message": "token expired"}]}).encode()
            self._send(
                401, [("WWW-Authenticate", challenge), ("Content-Type", "application/json")], data, len(data)
            )

        def _relay(self, rule: Rule | None, headers: dict[str, str], body: bytes) -> None:
            response = proxy.forward(self.command, self.path, headers, body)
            content = response.content
            relay = self._relay_headers(response)
            if rule is not None and rule.fault == "replace":
                relay = [(k, v) for k, v in relay if k.lower() != "docker-content-digest"]
                self._send(response.status_code, relay, rule.body, len(rule.body))
                return
            length = len(content)
            if self.command == "HEAD":
                length = int(response.headers.get("Content-Length") or 0)
            if rule is None or self.command == "HEAD" or len(content) < 2:
                self._send(response.status_code, relay, content, length)
                return
            if rule.fault == "slow":
                self._send_slowly(response.status_code, relay, content, rule.rate)
                return
            half = len(content) // 2
            if rule.fault == "flip":
                flipped = content[:half] + bytes([content[half] ^ 0x20]) + content[half + 1 :]
                self._send(response.status_code, relay, flipped, length)
                return
            self._send(response.status_code, relay, content[:half], length)
            if rule.fault == "stall":
                time.sleep(rule.stall)
                self._reset()
            if rule.fault == "reset-body":
                time.sleep(0.2)  # let the client take in what was sent: a reset drops unread data
                self._reset()
            self.close_connection = True  # truncate: a clean close before the promised length

        do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _handle  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    return Handler
