"""transport.wire: our HTTP/1.1 client, against the real registry rig and against small loopback
servers scripted byte by byte for what a registry does not produce (chunked and close-delimited
bodies, HTTP/1.0, gzip, idle connections closed, broken heads and bodies)."""

from __future__ import annotations

import gzip
import logging
import socket
import struct
import subprocess
import sys
import threading
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

import pytest
from faultproxy import FaultProxy, Rule
from imagegen import make_image
from registry_rig import RegistryInfo, RepoNamer
from test_registry import options_for, repo_at

from okdrelease.errors import NotFoundError, RegistryError, UnauthorizedError
from okdrelease.reference import ImageReference
from okdrelease.transport.auth import Challenge, fetch_token
from okdrelease.transport.base import TransportOptions
from okdrelease.transport.client import RegistryClient
from okdrelease.transport.http import HttpSession, RetryPolicy
from okdrelease.transport.wire import (
    BrokenResponse,
    ConnectError,
    Headers,
    InvalidAddress,
    InvalidHeader,
    TlsError,
    WirePool,
    client_context,
)

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = (5.0, 5.0)
Script = Callable[["Server", socket.socket, BinaryIO, int], None]


class Server:
    """A loopback TCP server handing each connection (and its number, from 0) to ``script``;
    ``requests`` records ``(connection, request line, body)`` of every request a script read."""

    def __init__(self, script: Script) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.netloc = f"127.0.0.1:{self.listener.getsockname()[1]}"
        self.requests: list[tuple[int, str, bytes]] = []
        self.connections = 0
        self._script = script
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            index = self.connections
            self.connections += 1
            threading.Thread(target=self._run, args=(conn, index), daemon=True).start()

    def _run(self, conn: socket.socket, index: int) -> None:
        with conn, conn.makefile("rb") as rfile:
            try:
                self._script(self, conn, rfile, index)
            except OSError:
                pass

    def read_request(self, rfile: BinaryIO, index: int) -> bool:
        """Read one request (a Content-Length or chunked body too); False when the client closed."""
        line = rfile.readline()
        if not line:
            return False
        headers = {}
        while (field := rfile.readline()) not in (b"\r\n", b""):
            name, _, value = field.decode().partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding") == "chunked":
            parts = []
            while size := int(rfile.readline().strip(), 16):
                parts.append(rfile.read(size))
                rfile.readline()
            rfile.readline()
            body = b"".join(parts)
        else:
            body = rfile.read(int(headers.get("content-length", "0")))
        self.requests.append((index, line.decode().strip(), body))
        return True

    def close(self) -> None:
        """Stop listening (a new connection is refused)."""
        if self.listener.fileno() >= 0:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread: close alone would not
            self.listener.close()


@pytest.fixture
def serve() -> Iterator[Callable[[Script], Server]]:
    started: list[Server] = []

    def start(script: Script) -> Server:
        started.append(Server(script))
        return started[-1]

    yield start
    for server in started:
        server.close()


def ok(body: bytes, *extra: str) -> bytes:
    """An HTTP/1.1 200 answer with a Content-Length."""
    head = ["HTTP/1.1 200 OK", f"Content-Length: {len(body)}", *extra]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def keep_answering(answer: Callable[[int], bytes]) -> Script:
    """A script answering every request of a connection with ``answer(request number)``."""

    def script(server: Server, conn: socket.socket, rfile: BinaryIO, index: int) -> None:
        while server.read_request(rfile, index):
            conn.sendall(answer(len(server.requests)))

    return script


def pool_for(server: Server) -> WirePool:
    return WirePool("http", server.netloc, context=None, maxsize=4)


def get(pool: WirePool, path: str = "/x", method: str = "GET", body: bytes | None = None) -> bytes:
    response = pool.request(method, path, {"User-Agent": "t"}, body, TIMEOUT)
    try:
        return response.read()
    finally:
        response.close()


# --------------------------------------------------------------------------------------------
# Against the real registry


def test_registry_requests_reuse_one_connection(
    registry_http: RegistryInfo, unique_repo: RepoNamer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="okdrelease.transport.wire")
    name = unique_repo()
    with RegistryClient(options_for(registry_http)) as client:
        image = make_image(repo_at(client, registry_http.host, name), "v1", seed="wire-reuse")
    caplog.clear()
    with RegistryClient(options_for(registry_http, max_per_registry=1)) as client:
        repo = repo_at(client, registry_http.host, name)
        for _ in range(5):
            assert repo.get_manifest("v1").digest == image.digest
            for blob in image.blobs:
                assert repo.read_blob(blob.digest) == blob.data
                assert repo.has_blob(blob.digest)
    # (the https ping of the insecure registry tried first fails)
    started = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Starting new HTTP ")]
    assert started == [f"Starting new HTTP connection (1): 127.0.0.1:{registry_http.host.split(':')[1]}"]


def test_verified_tls_to_the_registry_and_its_failures(registry_tls: RegistryInfo) -> None:
    assert registry_tls.ca_file is not None
    context = client_context(verified=True)
    context.load_verify_locations(registry_tls.ca_file)
    pool = WirePool("https", registry_tls.host, context=context, maxsize=2)
    response = pool.request("GET", "/v2/", {}, None, TIMEOUT)
    assert response.status in (200, 401)
    response.read()
    untrusted = WirePool("https", registry_tls.host, context=client_context(verified=True), maxsize=2)
    with pytest.raises(TlsError) as err:
        untrusted.request("GET", "/v2/", {}, None, TIMEOUT)
    assert err.value.reason.startswith("certificate verify failed: ")
    plain = WirePool("http", registry_tls.host, context=None, maxsize=2)
    response = plain.request("GET", "/v2/", {}, None, TIMEOUT)  # Go answers plain HTTP on a TLS port
    assert response.status == 400
    response.close()


def test_a_plain_http_run_loads_neither_urllib3_nor_http_client(
    registry_http: RegistryInfo, unique_repo: RepoNamer
) -> None:
    name = unique_repo()
    with RegistryClient(options_for(registry_http)) as client:
        image = make_image(repo_at(client, registry_http.host, name), "v1", seed="wire-imports")
    probe = (
        "import sys\n"
        "from okdrelease.reference import ImageReference\n"
        "from okdrelease.transport.base import TransportOptions\n"
        "from okdrelease.transport.client import RegistryClient\n"
        f"options = TransportOptions(insecure_registries=frozenset({{{registry_http.host!r}}}))\n"
        "with RegistryClient(options) as client:\n"
        f"    repo = client.repository(ImageReference.parse({registry_http.host + '/' + name!r}))\n"
        "    print(repo.get_manifest('v1').digest)\n"
        "print(sorted(m for m in ('urllib3', 'http.client', 'email.parser') if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=60, check=False
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, f"{image.digest}\n[]\n", "")


# --------------------------------------------------------------------------------------------
# Bodies a registry does not send


def test_chunked_answer_with_extensions_and_trailers(serve: Callable[[Script], Server]) -> None:
    body = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nX-T: 1\r\n\r\n"
    server = serve(keep_answering(lambda n: body))
    pool = pool_for(server)
    assert get(pool) == b"hello, world"
    response = pool.request("GET", "/y", {}, None, TIMEOUT)
    assert [response.read(3), response.read(100), response.read(5)] == [b"hel", b"lo, world", b""]
    assert server.connections == 1  # read to its end: the connection was reused


def test_close_delimited_and_http_1_0_answers_are_not_reused(serve: Callable[[Script], Server]) -> None:
    def script(server: Server, conn: socket.socket, rfile: BinaryIO, index: int) -> None:
        server.read_request(rfile, index)
        if index == 0:
            conn.sendall(b"HTTP/1.1 200 OK\r\n\r\nuntil the end")
        else:
            conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nold")
            time.sleep(0.5)  # keep it open: the client must not reuse an HTTP/1.0 connection

    server = serve(script)
    pool = pool_for(server)
    assert get(pool) == b"until the end"
    assert get(pool) == b"old"
    assert get(pool) == b"old"
    assert server.connections == 3


def test_gzip_answer_decoded_or_raw(serve: Callable[[Script], Server]) -> None:
    packed = gzip.compress(b'{"token": "t"}' * 1000)
    server = serve(keep_answering(lambda n: ok(packed, "Content-Encoding: gzip")))
    pool = pool_for(server)
    assert get(pool) == b'{"token": "t"}' * 1000
    response = pool.request("GET", "/raw", {}, None, TIMEOUT)
    assert response.read(decode_content=False) == packed
    response = pool.request("GET", "/blocks", {}, None, TIMEOUT)
    assert list(response.stream(5000)) == [
        (b'{"token": "t"}' * 1000)[i : i + 5000] for i in range(0, 14000, 5000)
    ]
    assert server.connections == 1


def test_a_body_bigger_than_a_read_and_bodyless_answers(serve: Callable[[Script], Server]) -> None:
    big = bytes(range(256)) * 8192  # 2 MiB

    def answer(n: int) -> bytes:
        if n == 1:
            return ok(big)
        if n == 2:
            return b"HTTP/1.1 204 No Content\r\n\r\n"
        if n == 3:  # HEAD: a length, no body
            return b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n"
        return b"HTTP/1.1 100 Continue\r\n\r\n" + ok(b"after 100")

    server = serve(keep_answering(answer))
    pool = pool_for(server)
    response = pool.request("GET", "/big", {}, None, TIMEOUT)
    blocks = []
    while block := response.read(256 << 10, decode_content=False):
        blocks.append(block)
    assert b"".join(blocks) == big and max(map(len, blocks)) == 256 << 10
    assert get(pool) == b""
    assert get(pool, method="HEAD") == b""
    assert get(pool) == b"after 100"
    assert server.connections == 1


def test_headers_split_across_segments(serve: Callable[[Script], Server]) -> None:
    answer = (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Folded: a\r\n  b\r\nContent-Length: 4\r\n\r\nbody"
    )

    def script(server: Server, conn: socket.socket, rfile: BinaryIO, index: int) -> None:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        server.read_request(rfile, index)
        for i in range(len(answer)):
            conn.sendall(answer[i : i + 1])
            time.sleep(0.001)

    server = serve(script)
    response = pool_for(server).request("GET", "/x", {}, None, TIMEOUT)
    assert (response.status, response.headers.get("content-type"), response.headers["X-FOLDED"]) == (
        200,
        "text/plain",
        "a b",
    )
    assert response.read() == b"body"


def test_headers_are_case_insensitive_and_repeats_joined() -> None:
    headers = Headers([("WWW-Authenticate", 'Bearer realm="a"'), ("www-authenticate", "Basic"), ("X", "1")])
    assert headers.get("Www-Authenticate") == 'Bearer realm="a", Basic'
    assert (list(headers), len(headers), "x" in headers, headers.get("Y", "none")) == (
        ["WWW-Authenticate", "X"],
        2,
        True,
        "none",
    )


def test_chunked_request_body(serve: Callable[[Script], Server]) -> None:
    server = serve(keep_answering(lambda n: ok(b"stored")))
    pool = pool_for(server)
    blocks = iter([b"ab", b"", b"c" * 40000, b"d"])
    response = pool.request("PUT", "/up", {"Content-Type": "x"}, blocks, TIMEOUT)
    assert (response.status, response.read()) == (200, b"stored")
    assert server.requests == [(0, "PUT /up HTTP/1.1", b"ab" + b"c" * 40000 + b"d")]


# --------------------------------------------------------------------------------------------
# Connections the server closes


def hang_up_on_the_second_request(server: Server, conn: socket.socket, rfile: BinaryIO, index: int) -> None:
    """Answer the first request of the first connection, then read its second and close it
    without a word (as when the server's idle timeout strikes as the request arrives); answer
    ``again`` on later connections."""
    server.read_request(rfile, index)
    conn.sendall(ok(b"first" if index == 0 else b"again"))
    if index == 0 and server.read_request(rfile, index):
        conn.shutdown(socket.SHUT_WR)  # a clean close, no answer
        rfile.read()


def test_idle_connection_closed_by_the_server_is_retried_once(serve: Callable[[Script], Server]) -> None:
    """The server closes a kept-alive connection on the second request: the GET goes again on a new one."""
    server = serve(hang_up_on_the_second_request)
    pool = pool_for(server)
    assert get(pool) == b"first"
    assert get(pool, "/second") == b"again"
    assert server.requests == [
        (0, "GET /x HTTP/1.1", b""),
        (0, "GET /second HTTP/1.1", b""),
        (1, "GET /second HTTP/1.1", b""),
    ]


def test_a_post_on_a_closed_idle_connection_is_not_sent_again(serve: Callable[[Script], Server]) -> None:
    server = serve(hang_up_on_the_second_request)
    pool = pool_for(server)
    assert get(pool) == b"first"
    with pytest.raises(ConnectError) as err:
        get(pool, "/upload", method="POST", body=b"data")
    assert err.value.reason == "ProtocolError"
    assert [r[:2] for r in server.requests] == [(0, "GET /x HTTP/1.1"), (0, "POST /upload HTTP/1.1")]


def test_a_new_connection_closed_without_answer_is_not_retried(serve: Callable[[Script], Server]) -> None:
    def script(server: Server, conn: socket.socket, rfile: BinaryIO, index: int) -> None:
        server.read_request(rfile, index)
        conn.shutdown(socket.SHUT_WR)
        rfile.read()

    server = serve(script)
    with pytest.raises(ConnectError) as err:
        get(pool_for(server))
    assert (err.value.reason, server.connections) == ("ProtocolError", 1)


def test_dropped_idle_connection_is_noticed_before_reuse(serve: Callable[[Script], Server]) -> None:
    def script(server: Server, conn: socket.socket, rfile: BinaryIO, index: int) -> None:
        server.read_request(rfile, index)
        conn.sendall(ok(b"one"))  # keep-alive, then closed at once

    server = serve(script)
    pool = pool_for(server)
    assert get(pool) == b"one"
    time.sleep(0.2)
    assert get(pool) == b"one"
    assert [r[0] for r in server.requests] == [0, 1]  # no request was sent on the closed connection


def test_close_after_the_status_line_is_an_error_not_retried(serve: Callable[[Script], Server]) -> None:
    def script(server: Server, conn: socket.socket, rfile: BinaryIO, index: int) -> None:
        while server.read_request(rfile, index):
            if len(server.requests) == 1:
                conn.sendall(ok(b"fine"))
                continue
            conn.sendall(b"HTTP/1.1 200 OK\r\n")
            conn.shutdown(socket.SHUT_WR)
            rfile.read()

    server = serve(script)
    pool = pool_for(server)
    assert get(pool) == b"fine"
    with pytest.raises(BrokenResponse) as err:
        get(pool)  # on the reused connection: response bytes came, so no second attempt
    assert err.value.reason == "the connection closed in the response headers"
    assert len(server.requests) == 2


def test_bad_status_line_is_a_clear_error(serve: Callable[[Script], Server]) -> None:
    def script(server: Server, conn: socket.socket, rfile: BinaryIO, index: int) -> None:
        server.read_request(rfile, index)
        conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n\r\n")

    server = serve(script)
    with pytest.raises(BrokenResponse) as err:
        get(pool_for(server))
    assert err.value.reason == "invalid HTTP status line 'SSH-2.0-OpenSSH_9.2'"


def test_a_cut_body_hands_out_what_came_then_fails(serve: Callable[[Script], Server]) -> None:
    def script(server: Server, conn: socket.socket, rfile: BinaryIO, index: int) -> None:
        server.read_request(rfile, index)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"y" * 10)
        if index == 1:  # a reset instead of a clean close
            time.sleep(0.2)
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    server = serve(script)
    pool = pool_for(server)
    for reason in ("10 bytes read, 990 more expected", "Connection reset by peer"):
        response = pool.request("GET", "/blob", {}, None, TIMEOUT)
        assert response.read(256 << 10, decode_content=False) == b"y" * 10
        with pytest.raises(BrokenResponse) as err:
            response.read(256 << 10, decode_content=False)
        assert err.value.reason == reason


def test_stalls_and_refusals(serve: Callable[[Script], Server]) -> None:
    def script(server: Server, conn: socket.socket, rfile: BinaryIO, index: int) -> None:
        server.read_request(rfile, index)
        if index == 1:
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
        time.sleep(1.0)

    server = serve(script)
    pool = pool_for(server)
    with pytest.raises(ConnectError) as err:
        pool.request("GET", "/", {}, None, (5.0, 0.3))
    assert err.value.reason == "timed out"
    response = pool.request("GET", "/", {}, None, (5.0, 0.3))
    assert response.read(10) == b"abc"
    with pytest.raises(BrokenResponse) as broken:
        response.read(10)
    assert broken.value.reason == "timed out"
    server.close()
    with pytest.raises(ConnectError) as refused:
        pool.request("GET", "/", {}, None, TIMEOUT)
    assert refused.value.reason == "Connection refused"


def test_addresses_no_connection_can_be_made_to() -> None:
    for netloc in ("host:0", "host:99999", "host:x", ":80"):
        with pytest.raises(InvalidAddress):
            WirePool("http", netloc, context=None, maxsize=1)
    pool = WirePool("http", "[::1]:1", context=None, maxsize=1)
    with pytest.raises(ConnectError):
        pool.request("GET", "/", {}, None, TIMEOUT)


def test_session_uses_the_wire_pool_for_its_own_host(serve: Callable[[Script], Server]) -> None:
    server = serve(keep_answering(lambda n: ok(gzip.compress(b"{}"), "Content-Encoding: gzip")))
    with HttpSession("ua", 2, host=server.netloc) as session:
        for _ in range(3):
            assert session.get(f"http://{server.netloc}/v2/").json() == {}
        assert list(session._pools) == [("http", server.netloc, True)] and not session._managers
    assert server.connections == 1


@pytest.mark.parametrize("own", [True, False], ids=["wire", "urllib3"])
def test_both_paths_raise_the_same_errors(serve: Callable[[Script], Server], own: bool) -> None:
    """A session's own host goes through the wire pool, any other through urllib3: the same
    failures come out as the same transport errors with the same reasons."""

    def script(server: Server, conn: socket.socket, rfile: BinaryIO, index: int) -> None:
        server.read_request(rfile, index)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"y" * 10)

    server = serve(script)
    refused = Server(lambda *args: None)
    refused.close()
    with HttpSession("ua", 1, host=server.netloc if own else "") as session:
        response = session.get(f"http://{server.netloc}/blob", stream=True)
        assert response.raw.read(100, decode_content=False) == b"y" * 10
        with pytest.raises(BrokenResponse) as broken:
            response.raw.read(100, decode_content=False)
        assert broken.value.reason == "10 bytes read, 990 more expected"
        assert (bool(session._pools), bool(session._managers)) == (own, not own)
    with HttpSession("ua", 1, host=refused.netloc if own else "") as session:
        with pytest.raises(ConnectError) as err:
            session.get(f"http://{refused.netloc}/")
        assert err.value.reason == "Connection refused"


def test_bytes_bodies_are_sized_and_iterables_chunked(serve: Callable[[Script], Server]) -> None:
    server = serve(keep_answering(lambda n: ok(b"")))
    pool = pool_for(server)
    assert get(pool, "/a", method="PUT", body=b"sized") == b""
    assert get(pool, "/b", method="PUT", body=bytearray(b"also")) == b""
    with HttpSession("ua", 1, host=server.netloc) as session:
        session.request("PUT", f"http://{server.netloc}/c", data=memoryview(b"view"))
    assert [(r[1], r[2]) for r in server.requests] == [
        ("PUT /a HTTP/1.1", b"sized"),
        ("PUT /b HTTP/1.1", b"also"),
        ("PUT /c HTTP/1.1", b"view"),
    ]


# --------------------------------------------------------------------------------------------
# The review's findings


def zeros_gzip(size: int) -> bytes:
    """A gzip member of ``size`` zero bytes (about 1/1000 of that compressed)."""
    packer = zlib.compressobj(1, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(1 << 20)
    parts = [packer.compress(block) for _ in range(size >> 20)]
    return b"".join([*parts, packer.flush()])


def test_a_compressed_body_is_decoded_no_further_than_asked(serve: Callable[[Script], Server]) -> None:
    """64 MiB of zeros in 64 KB of gzip: a small read decodes 64 KiB, not the whole body; a manifest
    read stops at its cap holding about that much; a body read whole stops at MAX_LOADED_BODY."""
    bomb = zeros_gzip(64 << 20)
    server = serve(keep_answering(lambda n: ok(bomb, "Content-Encoding: gzip")))
    pool = pool_for(server)
    response = pool.request("GET", "/x", {}, None, TIMEOUT)
    assert response.read(1000) == bytes(1000)
    assert len(response._decoded) == (64 << 10) - 1000  # decoded ahead: up to 64 KiB
    assert response.read(300 << 10) == bytes(300 << 10)
    assert len(response._decoded) == 0
    response.close()
    with HttpSession("ua", 1, host=server.netloc) as session:
        response = session.get(f"http://{server.netloc}/v2/", stream=True)
        tracemalloc.start()
        try:
            total = 0
            for block in response.iter_content(64 << 10):
                total += len(block)
                if total > 4 << 20:
                    break
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        response.close()
        assert total == (4 << 20) + (64 << 10) and peak < 2 << 20
        with pytest.raises(BrokenResponse) as err:
            session.get(f"http://{server.netloc}/token")
        assert err.value.reason == "the response body is larger than 33554432 bytes"


def test_userinfo_in_a_url_is_dropped_and_never_shown(
    serve: Callable[[Script], Server], caplog: pytest.LogCaptureFixture
) -> None:
    """A token realm ``http://tok:s3cret@HOST/token`` on the session's own host goes through the
    wire pool without its userinfo; the password is in no error and no log line."""
    caplog.set_level(logging.DEBUG)
    server = serve(keep_answering(lambda n: ok(b'{"token": "t"}')))
    with HttpSession("ua", 1, host=server.netloc) as session:
        response = session.get(f"http://tok:s3cret@{server.netloc}/token?scope=x")
        assert (response.json(), response.url) == ({"token": "t"}, f"http://{server.netloc}/token?scope=x")
        assert list(session._pools) == [("http", server.netloc, True)] and not session._managers
    refused = Server(lambda *args: None)
    refused.close()
    errors = []
    for own in (refused.netloc, ""):
        with HttpSession("ua", 1, host=own) as session, pytest.raises(ConnectError) as err:
            session.get(f"http://tok:s3cret@{refused.netloc}/token")
        errors.append(err.value)
    pool = WirePool("http", f"tok:s3cret@{refused.netloc}", context=None, maxsize=1)
    with pytest.raises(ConnectError) as err:
        pool.request("GET", "/", {}, None, TIMEOUT)
    errors.append(err.value)
    assert [e.reason for e in errors] == ["Connection refused"] * 3
    assert server.requests == [(0, "GET /token?scope=x HTTP/1.1", b"")]
    shown = [str(e) for e in errors] + [repr(pool)] + [r.getMessage() for r in caplog.records]
    assert [text for text in shown if "s3cret" in text or "tok:" in text] == []
    assert any(refused.netloc in text for text in shown)


def test_request_targets_are_percent_encoded_as_urllib3_does(serve: Callable[[Script], Server]) -> None:
    server = serve(keep_answering(lambda n: ok(b"")))
    pool = pool_for(server)
    paths = {
        "/v2/a b/%41#fragment": "/v2/a%20b/%41",
        '/x\x00\t"<>\\^`{|}\x7fé?q=1 2&r=?': "/x%00%09%22%3C%3E%5C%5E%60%7B%7C%7D%7F%C3%A9?q=1%202&r=?",
        "/a\r\nX: y": "/a%0D%0AX:%20y",
        "/50%/%7e": "/50%25/%257E",  # a % that starts no escape: every % is encoded (urllib3)
        "/plain/path:1@x;y?n=1&last=a%2Fb": "/plain/path:1@x;y?n=1&last=a%2Fb",
        "": "/",
    }
    for path in paths:
        assert get(pool, path) == b""
    assert [r[1] for r in server.requests] == [f"GET {sent} HTTP/1.1" for sent in paths.values()]
    import urllib3.util

    assert [urllib3.util.parse_url(f"http://h{p}").request_uri for p in list(paths)[:5]] == list(
        paths.values()
    )[:5]


@pytest.mark.parametrize("own", [True, False], ids=["wire", "urllib3"])
def test_a_chunked_body_closed_after_its_last_chunk_ends_there(
    serve: Callable[[Script], Server], own: bool
) -> None:
    def script(server: Server, conn: socket.socket, rfile: BinaryIO, index: int) -> None:
        server.read_request(rfile, index)
        conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n")
        conn.shutdown(socket.SHUT_WR)
        rfile.read()

    server = serve(script)
    with HttpSession("ua", 1, host=server.netloc if own else "") as session:
        assert [session.get(f"http://{server.netloc}/{n}").content for n in range(2)] == [b"hello"] * 2
    assert server.connections == 2  # closed in the trailer: not reused


def test_no_second_attempt_once_an_informational_answer_came(serve: Callable[[Script], Server]) -> None:
    def script(server: Server, conn: socket.socket, rfile: BinaryIO, index: int) -> None:
        server.read_request(rfile, index)
        conn.sendall(ok(b"first" if index == 0 else b"again"))
        if index == 0 and server.read_request(rfile, index):
            conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            conn.shutdown(socket.SHUT_WR)
            rfile.read()

    server = serve(script)
    pool = pool_for(server)
    assert get(pool) == b"first"
    with pytest.raises(ConnectError) as err:
        get(pool, "/second")
    assert (str(err.value), err.value.reason) == (
        f"{server.netloc} closed the connection without an answer",
        "ProtocolError",
    )
    assert [r[:2] for r in server.requests] == [(0, "GET /x HTTP/1.1"), (0, "GET /second HTTP/1.1")]


def test_empty_lines_before_a_status_line(serve: Callable[[Script], Server]) -> None:
    def script(server: Server, conn: socket.socket, rfile: BinaryIO, index: int) -> None:
        while server.read_request(rfile, index):
            count = len(server.requests)
            conn.sendall(b"\r\n\n" * (1 if count == 1 else 100_000) + ok(b"x"))

    server = serve(script)
    pool = pool_for(server)
    assert get(pool) == b"x"
    with pytest.raises(BrokenResponse) as err:
        get(pool)
    assert err.value.reason == "invalid HTTP status line: too many empty lines before it"


def test_a_switching_protocols_answer_is_not_pooled(serve: Callable[[Script], Server]) -> None:
    def answer(n: int) -> bytes:
        if n == 1:
            return b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
        return ok(b"plain")

    server = serve(keep_answering(answer))
    pool = pool_for(server)
    response = pool.request("GET", "/upgrade", {}, None, TIMEOUT)
    assert (response.status, response.read()) == (101, b"")
    assert get(pool) == b"plain"
    assert server.connections == 2


def test_every_read_after_a_broken_body_fails(serve: Callable[[Script], Server]) -> None:
    """Decoded bytes that came before the break are handed out, then every read raises."""
    data = bytes(range(256)) * 200
    packed = gzip.compress(data)

    def script(server: Server, conn: socket.socket, rfile: BinaryIO, index: int) -> None:
        server.read_request(rfile, index)
        head = f"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {len(packed) + 100}\r\n\r\n"
        conn.sendall(head.encode() + packed)

    server = serve(script)
    pool = pool_for(server)
    expected = f"{len(packed)} bytes read, 100 more expected"
    for decode in (True, False):
        response = pool.request("GET", "/cut", {}, None, TIMEOUT)
        assert response.read(1 << 20, decode_content=decode) == (data if decode else packed)
        for _ in range(3):
            with pytest.raises(BrokenResponse) as err:
                response.read(1 << 20, decode_content=decode)
            assert err.value.reason == expected


@pytest.mark.parametrize("own", [True, False], ids=["wire", "urllib3"])
def test_bytes_after_a_complete_gzip_member_are_ignored(serve: Callable[[Script], Server], own: bool) -> None:
    bodies = [
        gzip.compress(b"one") + b"garbage after the member",
        gzip.compress(b"one") + gzip.compress(b"two") + b"\x00\x01",
        gzip.compress(b"x" * 100_000) + b"not gzip" * 10_000,
        b"not gzip at all" + gzip.compress(b"one"),
    ]
    server = serve(keep_answering(lambda n: ok(bodies[n - 1], "Content-Encoding: gzip")))
    with HttpSession("ua", 1, host=server.netloc if own else "") as session:
        url = f"http://{server.netloc}/"
        assert [session.get(url).content for _ in range(3)] == [b"one", b"onetwo", b"x" * 100_000]
        with pytest.raises(BrokenResponse) as err:
            session.get(url)
        assert err.value.reason == "DecodeError"


@pytest.mark.parametrize("own", [True, False], ids=["wire", "urllib3"])
def test_a_line_break_in_a_header_value_is_named_not_shown(
    serve: Callable[[Script], Server], own: bool
) -> None:
    server = serve(keep_answering(lambda n: ok(b"")))
    with HttpSession("ua", 1, host=server.netloc if own else "") as session:
        with pytest.raises(InvalidHeader) as err:
            session.get(f"http://{server.netloc}/", headers={"Authorization": "Bearer sec\r\nret"})
    assert str(err.value) == "invalid header value for Authorization: it holds a line break"
    assert server.connections == 0


def test_a_header_with_a_line_break_fails_at_once_for_registry_and_token_server(
    serve: Callable[[Script], Server],
) -> None:
    server = serve(keep_answering(lambda n: ok(b"")))
    options = TransportOptions(
        insecure_registries=frozenset({server.netloc}), user_agent="ua\r\nX: y", retries=3
    )
    with RegistryClient(options) as client, pytest.raises(RegistryError) as err:
        repo_at(client, server.netloc, "repo").get_manifest("v1")
    assert str(err.value).endswith(
        f"registry {server.netloc}: invalid header value for User-Agent: it holds a line break"
    )
    challenge = Challenge("bearer", {"realm": f"http://{server.netloc}/token"})
    with HttpSession("ua", 1, host=server.netloc) as session, pytest.raises(UnauthorizedError) as refused:
        fetch_token(
            session, challenge, [], None, registry="reg", user_agent="ua\nX", policy=RetryPolicy(retries=3)
        )
    assert str(refused.value) == (
        f"token request to token server http://{server.netloc}/token for registry reg:"
        " invalid header value for User-Agent: it holds a line break"
    )
    assert server.connections == 0


def test_unusual_framing_closes_the_connection_after_the_body(serve: Callable[[Script], Server]) -> None:
    def answer(n: int) -> bytes:
        if n == 1:  # chunked and a length: the chunks frame the body, the connection is not trusted
            return b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n2\r\nab\r\n0\r\n\r\n"
        if n == 2:  # another coding than chunked: the length frames the body (as http.client)
            return b"HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\nContent-Length: 3\r\n\r\nabc"
        return ok(b"plain")

    server = serve(keep_answering(answer))
    pool = pool_for(server)
    assert [get(pool), get(pool), get(pool), get(pool)] == [b"ab", b"abc", b"plain", b"plain"]
    assert server.connections == 3


def test_a_negative_amount_reads_the_whole_decoded_body(serve: Callable[[Script], Server]) -> None:
    data = bytes(range(256)) * 1000
    server = serve(keep_answering(lambda n: ok(gzip.compress(data), "Content-Encoding: gzip")))
    pool = pool_for(server)
    response = pool.request("GET", "/x", {}, None, TIMEOUT)
    assert (response.read(10), response.read(-1), response.read(-1)) == (data[:10], data[10:], b"")


def test_an_https_pool_without_a_context_verifies(registry_tls: RegistryInfo) -> None:
    pool = WirePool("https", registry_tls.host, context=None, maxsize=1)
    with pytest.raises(TlsError) as err:
        pool.request("GET", "/v2/", {}, None, TIMEOUT)
    assert err.value.reason.startswith("certificate verify failed: ")


def test_an_error_answer_whose_body_breaks_is_reported_by_its_status(registry_http: RegistryInfo) -> None:
    with FaultProxy(registry_http) as proxy:
        host = proxy.host
        proxy.add(Rule("GET", r"/manifests/missing$", "truncate", times=None))
        with RegistryClient(TransportOptions(insecure_registries=frozenset({proxy.host}))) as client:
            name = "wire/absent"
            repo = client.repository(ImageReference.parse(f"{proxy.host}/{name}"))
            with pytest.raises(NotFoundError) as err:
                repo.get_manifest("missing")
    assert str(err.value) == f"reading manifest {host}/{name}:missing: HTTP 404"
