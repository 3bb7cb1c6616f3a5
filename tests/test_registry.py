"""RegistryRepository against real Distribution registries (http, TLS, Basic, token) and a fault proxy."""

from __future__ import annotations

import base64
import bisect
import http.server
import io
import json
import re
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from faultproxy import read_request_body
from imagegen import DOCKER, build_image, make_image, make_index, push_image
from registry_rig import RegistryInfo, RepoNamer, TokenServer

from okdrelease.errors import DigestMismatchError, NotFoundError, RegistryError, UnauthorizedError
from okdrelease.oci import mediatypes as mt
from okdrelease.oci.digest import sha256_digest
from okdrelease.reference import ImageReference
from okdrelease.transport.base import MOUNTED, REFUSED, Repository, TransportOptions
from okdrelease.transport.client import RegistryClient
from okdrelease.transport.http import retry_after_seconds
from okdrelease.transport.registry import RegistryRepository
from okdrelease.transport.upload import UploadsAhead

FLAVOURS = ("registry_http", "registry_tls", "registry_basic", "registry_token")


# --------------------------------------------------------------------------------------------
# Helpers


def options_for(info: RegistryInfo, **kwargs: Any) -> TransportOptions:
    """TransportOptions that reach ``info`` with its default user's credentials."""
    if info.scheme == "http":
        return TransportOptions(insecure_registries=frozenset({info.host}), **kwargs)
    credentials = {info.host: info.auth} if info.auth else {}
    return TransportOptions(ca_file=info.ca_file, credentials=credentials, **kwargs)


def repo_at(client: RegistryClient, host: str, name: str) -> RegistryRepository:
    """The repository ``host/name`` through ``client``."""
    return client.repository(ImageReference.parse(f"{host}/{name}"))


def blob_data_file(info: RegistryInfo, digest: str) -> Path:
    """Path of a blob's bytes in the registry's filesystem storage."""
    hex_part = digest.partition(":")[2]
    return info.storage_dir / "docker/registry/v2/blobs/sha256" / hex_part[:2] / hex_part / "data"


@attrs.define
class Fault:
    """Answer the next ``count`` requests matching ``method`` and ``path`` (regex) with ``status``."""

    method: str
    path: str
    status: int
    headers: dict[str, str] = attrs.field(factory=dict)
    count: int = 1
    #: The answer's body (None: a registry error body naming the code FAULT).
    body: bytes | None = None


_FAULT_BODY = {"errors": [{"code": "FAULT", "message": "injected"}]}


class RecordingProxy:
    """A loopback HTTP proxy in front of a registry that records requests and injects faults."""

    def __init__(self, target: RegistryInfo) -> None:
        """Forward to ``target`` (its TLS trusted via its CA file)."""
        self.target = target
        self.log: list[tuple[str, str, dict[str, str]]] = []
        #: (method, path, status, Location) of every answer, in the order they were sent
        self.answers: list[tuple[str, str, int, str | None]] = []
        self.faults: list[Fault] = []
        self.relative_locations = False
        #: > 0: serve tags/list itself, as Distribution 3 does (2.8 ignores ?n=): pages of ``n`` tags
        #: but at most ``tag_page`` (its ``maxtags``), every tag when no ``n`` is asked for.
        self.tag_page = 0
        #: Tags listed after the registry's own (sorted with them) when ``tag_page`` is set.
        self.extra_tags: list[str] = []
        #: What the next page's Link names, given the page Distribution would name (path and query).
        self.tag_link: Callable[[str], str] | None = None
        self._sorted_tags: dict[tuple[str, ...], list[str]] = {}
        self._lock = threading.Lock()
        self._session = target.session(with_auth=False)
        self._server: Loopback | None = None

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT`` of the proxy."""
        assert self._server is not None
        return self._server.host

    def requests_matching(self, method: str, pattern: str) -> list[tuple[str, str, dict[str, str]]]:
        """Logged requests with ``method`` whose path matches ``pattern``."""
        with self._lock:
            return [r for r in self.log if r[0] == method and re.search(pattern, r[1])]

    def _fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.count > 0 and fault.method == method and re.search(fault.path, path):
                    fault.count -= 1
                    return fault
        return None

    def start(self, context: ssl.SSLContext | None = None) -> RecordingProxy:
        """Serve on a free loopback port (over TLS with ``context``)."""
        self._server = Loopback(type("Handler", (_RecordingHandler,), {"proxy": self}), context)
        return self

    def record(self, method: str, path: str, status: int, location: str | None) -> None:
        """Note an answer (``answers``)."""
        with self._lock:
            self.answers.append((method, path, status, location))

    def stop(self) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.stop()
            self._server = None


_DROPPED_HEADERS = ("transfer-encoding", "connection", "content-length", "content-encoding")


class _RecordingHandler(http.server.BaseHTTPRequestHandler):
    """Serves ``proxy`` (set by ``RecordingProxy.start`` on a subclass)."""

    protocol_version = "HTTP/1.1"
    proxy: RecordingProxy

    def _handle(self) -> None:
        proxy = self.proxy
        body = read_request_body(self)
        headers = {k: v for k, v in self.headers.items()}
        with proxy._lock:
            proxy.log.append((self.command, self.path, headers))
        fault = proxy._fault(self.command, self.path)
        if fault is not None:
            self._answer_fault(fault)
        elif proxy.tag_page and self.command == "GET" and "/tags/list" in self.path:
            self._paginate_tags()
        else:
            self._relay(headers, body)

    def _answer_fault(self, fault: Fault) -> None:
        self.proxy.record(self.command, self.path, fault.status, fault.headers.get("Location"))
        body = json.dumps(_FAULT_BODY).encode() if fault.body is None else fault.body
        data = b"" if self.command == "HEAD" else body
        self.send_response(fault.status)
        for key, value in fault.headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _relay(self, headers: dict[str, str], body: bytes) -> None:
        proxy = self.proxy
        forward = {
            k: v
            for k, v in headers.items()
            if k.lower() not in ("transfer-encoding", "content-length", "connection", "accept-encoding")
        }
        forward["Accept-Encoding"] = "identity"
        response = proxy._session.request(
            self.command, proxy.target.url(self.path), headers=forward, data=body, allow_redirects=False
        )
        self.send_response(response.status_code)
        location = None
        for key, value in response.headers.items():
            if key.lower() in _DROPPED_HEADERS:
                continue
            if key.lower() == "location":
                if proxy.relative_locations:
                    parts = urllib.parse.urlsplit(value)
                    value = urllib.parse.urlunsplit(("", "", parts.path, parts.query, ""))
                location = value
            self.send_header(key, value)
        proxy.record(self.command, self.path, response.status_code, location)
        length = response.headers.get("Content-Length") if self.command == "HEAD" else None
        self.send_header("Content-Length", length or str(len(response.content)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.content)

    def _paginate_tags(self) -> None:
        """Serve the tag list in pages (``tag_page``) with Link headers, as Distribution 3 does."""
        proxy = self.proxy
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        last = query.get("last", [""])[0]
        upstream = proxy._session.get(proxy.target.url(url.path)).json()
        key = tuple(upstream["tags"])
        with proxy._lock:
            every = proxy._sorted_tags.get(key)
            if every is None:
                every = proxy._sorted_tags[key] = sorted({*upstream["tags"], *proxy.extra_tags})
        tags = every[bisect.bisect_right(every, last) :] if last else every
        size = min(int(query["n"][0]), proxy.tag_page) if "n" in query else len(tags)
        page = tags[:size]
        data = json.dumps({"name": upstream["name"], "tags": page}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        if len(tags) > size:
            target = f"{url.path}?{urllib.parse.urlencode({'n': size, 'last': page[-1]})}"
            link = proxy.tag_link(target) if proxy.tag_link is not None else target
            self.send_header("Link", f'<{link}>; rel="next"')
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _handle  # noqa: N815

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@pytest.fixture
def http_proxy(registry_http: RegistryInfo) -> Iterator[RecordingProxy]:
    """A recording proxy in front of the plain-HTTP registry."""
    proxy = RecordingProxy(registry_http).start()
    yield proxy
    proxy.stop()


def proxy_client(proxy: RecordingProxy, **kwargs: Any) -> tuple[RegistryClient, list[float]]:
    """A client for the proxy (insecure http) recording the back-off sleeps instead of sleeping."""
    sleeps: list[float] = []
    options = TransportOptions(insecure_registries=frozenset({proxy.host}), **kwargs)
    return RegistryClient(options, sleep=sleeps.append), sleeps


@pytest.fixture
def token_recorder(registry_token: RegistryInfo) -> Iterator[RecordingProxy]:
    """A recording proxy in front of the Bearer-token registry (Locations relayed relative)."""
    proxy = RecordingProxy(registry_token).start()
    proxy.relative_locations = True
    yield proxy
    proxy.stop()


def token_client(proxy: RecordingProxy) -> RegistryClient:
    """A client for the token registry behind ``proxy``, with its default user's credentials."""
    assert proxy.target.auth is not None
    options = TransportOptions(
        insecure_registries=frozenset({proxy.host}), credentials={proxy.host: proxy.target.auth}
    )
    return RegistryClient(options)


class Loopback:
    """A threaded HTTP server on a free loopback port serving ``handler``; over TLS with ``context``."""

    def __init__(
        self, handler: type[http.server.BaseHTTPRequestHandler], context: ssl.SSLContext | None = None
    ) -> None:
        """Serve at once."""
        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._httpd.handle_error = lambda request, address: None  # type: ignore[method-assign]
        if context is not None:
            self._httpd.socket = context.wrap_socket(self._httpd.socket, server_side=True)
        self.scheme = "http" if context is None else "https"
        threading.Thread(target=self._httpd.serve_forever, args=(0.02,), daemon=True).start()

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``."""
        return f"127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def url(self) -> str:
        """``SCHEME://127.0.0.1:PORT``."""
        return f"{self.scheme}://{self.host}"

    def stop(self) -> None:
        """Stop serving."""
        self._httpd.shutdown()
        self._httpd.server_close()


class OtherHost(Loopback):
    """A second loopback server an upload ``Location`` may point at: it records every request (method,
    path, headers, body) and takes a PUT (201, the digest of its query) unless its path says ``deny``
    (401 with a Bearer challenge of its own) or ``short`` (201 whose body breaks off after 10 of
    100 bytes), a DELETE (204), a GET of a path in ``blobs`` (200, those bytes), a GET of ``/token``
    when ``tokens`` answers it (a token server here too). Over TLS with ``context``; ``client_certs``
    records, per request, whether the client presented a certificate (asked for with
    ``context.verify_mode = ssl.CERT_OPTIONAL`` or required with ``CERT_REQUIRED``)."""

    def __init__(self, context: ssl.SSLContext | None = None) -> None:
        """Serve on a free loopback port."""
        self.seen: list[tuple[str, str, dict[str, str], bytes]] = []
        self.blobs: dict[str, bytes] = {}
        self.client_certs: list[bool] = []
        #: The answer (status, JSON body) to a GET of ``/token`` given its query and Authorization
        #: (``TokenServer.handle``); None: no token server here.
        self.tokens: Callable[[str, str | None], tuple[int, dict[str, Any]]] | None = None
        host = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                body = read_request_body(self)
                host.seen.append((self.command, self.path, dict(self.headers.items()), body))
                if isinstance(self.connection, ssl.SSLSocket):
                    host.client_certs.append(bool(self.connection.getpeercert()))
                where = urllib.parse.urlsplit(self.path)
                query = urllib.parse.parse_qs(where.query)
                if self.command == "GET" and where.path == "/token" and host.tokens is not None:
                    status, answer = host.tokens(where.query, self.headers.get("Authorization"))
                    self._reply(status, json.dumps(answer).encode(), "application/json")
                    return
                if self.command == "GET" and where.path in host.blobs:
                    self._reply(200, host.blobs[where.path])
                    return
                if "short" in self.path:  # 10 bytes of the 100 it announces, then the connection closes
                    self.send_response(201)
                    self.send_header("Content-Length", "100")
                    self.end_headers()
                    self.wfile.write(b"0123456789")
                    self.close_connection = True
                    return
                if "deny" in self.path:
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", f'Bearer realm="{host.url}/token",service="other"')
                else:
                    self.send_response(201 if self.command == "PUT" else 204)
                    self.send_header("Docker-Content-Digest", query.get("digest", [""])[0])
                self.send_header("Content-Length", "0")
                self.end_headers()

            def _reply(self, status: int, data: bytes, content_type: str = "") -> None:
                self.send_response(status)
                if content_type:
                    self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PUT = do_PATCH = do_DELETE = _handle  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        super().__init__(Handler, context)


@pytest.fixture
def other_host() -> Iterator[OtherHost]:
    """A second loopback server (see ``OtherHost``)."""
    host = OtherHost()
    yield host
    host.stop()


# --------------------------------------------------------------------------------------------
# Every flavour


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_push_pull_roundtrip(flavour: str, request: pytest.FixtureRequest, unique_repo: RepoNamer) -> None:
    info: RegistryInfo = request.getfixturevalue(flavour)
    with RegistryClient(options_for(info)) as client:
        repo = repo_at(client, info.host, unique_repo())
        assert isinstance(repo, Repository)
        assert repo.display == f"{info.host}/{repo.name}"
        image = make_image(repo, "v1", seed=flavour, flavour=DOCKER)
        manifest = repo.get_manifest("v1")
        assert (manifest.raw, manifest.media_type, manifest.digest) == (
            image.manifest,
            mt.DOCKER_MANIFEST,
            image.digest,
        )
        assert repo.get_manifest(image.digest).raw == image.manifest
        descriptor = repo.resolve("v1")
        assert (descriptor.media_type, descriptor.digest, descriptor.size) == (
            mt.DOCKER_MANIFEST,
            image.digest,
            len(image.manifest),
        )
        for blob in image.blobs:
            assert repo.has_blob(blob.digest)
            assert repo.read_blob(blob.digest, len(blob.data)) == blob.data
        assert not repo.has_blob(sha256_digest(b"absent"))
        index = make_index(repo, "multi", seed=flavour)
        assert repo.get_manifest("multi").raw == index.raw
        assert repo.resolve("multi").digest == index.digest
        assert sorted(repo.list_tags()) == ["multi", "v1"]


def test_docker_manifest_digest_is_exactly_local(registry_http: RegistryInfo, unique_repo: RepoNamer) -> None:
    with RegistryClient(options_for(registry_http)) as client:
        repo = repo_at(client, registry_http.host, unique_repo())
        image = build_image(seed="exact", flavour=DOCKER)
        assert push_image(repo, image, "t") == sha256_digest(image.manifest)
    raw = registry_http.session().get(
        registry_http.url(f"/v2/{repo.name}/manifests/t"), headers={"Accept": mt.DOCKER_MANIFEST}
    )
    assert raw.headers["Docker-Content-Digest"] == sha256_digest(image.manifest)
    assert raw.headers["Content-Type"] == mt.DOCKER_MANIFEST
    assert raw.content == image.manifest


def test_not_found_errors_name_everything(registry_http: RegistryInfo, unique_repo: RepoNamer) -> None:
    with RegistryClient(options_for(registry_http)) as client:
        name = unique_repo()
        repo = repo_at(client, registry_http.host, name)
        make_image(repo, "v1", seed="nf")
        with pytest.raises(NotFoundError) as err:
            repo.get_manifest("nope")
        assert str(err.value) == (
            f"reading manifest {registry_http.host}/{name}:nope: HTTP 404 (MANIFEST_UNKNOWN: manifest unknown)"
        )
        assert (err.value.registry, err.value.repository, err.value.reference, err.value.status) == (
            registry_http.host,
            name,
            "nope",
            404,
        )
        missing = sha256_digest(b"missing blob")
        with pytest.raises(
            NotFoundError, match=f"reading blob {registry_http.host}/{name}@{missing}: HTTP 404"
        ):
            repo.read_blob(missing)
        with pytest.raises(NotFoundError, match=f"listing tags of {registry_http.host}/alice/never-pushed"):
            repo_at(client, registry_http.host, "alice/never-pushed").list_tags()


# --------------------------------------------------------------------------------------------
# Digest verification


@pytest.mark.parametrize("chunk_size", [0, 700])
def test_upload_refuses_content_not_matching_digest(
    registry_http: RegistryInfo, unique_repo: RepoNamer, chunk_size: int
) -> None:
    with RegistryClient(options_for(registry_http, chunk_size=chunk_size)) as client:
        repo = repo_at(client, registry_http.host, unique_repo())
        good, bad = build_image(seed="up", layer_size=3000).layers
        with pytest.raises(DigestMismatchError, match=f"does not match its digest {good.digest}"):
            repo.put_blob(bad.data, good.digest)
        with pytest.raises(DigestMismatchError, match=f"does not match its digest {good.digest}"):
            repo.put_blob(io.BytesIO(bad.data), good.digest, len(bad.data))
        with pytest.raises(
            DigestMismatchError, match=f"has {len(good.data)} bytes, expected {len(good.data) + 1}"
        ):
            repo.put_blob(io.BytesIO(good.data), good.digest, len(good.data) + 1)
        assert not repo.has_blob(good.digest)
        repo.put_blob(io.BytesIO(good.data), good.digest)
        assert repo.read_blob(good.digest) == good.data


def test_download_refuses_corrupted_blob_and_manifest(
    registry_http: RegistryInfo, unique_repo: RepoNamer
) -> None:
    with RegistryClient(options_for(registry_http)) as client:
        repo = repo_at(client, registry_http.host, unique_repo())
        image = make_image(repo, "v1", seed="corrupt-me", flavour=DOCKER)
        layer = image.layers[0]
        path = blob_data_file(registry_http, layer.digest)
        data = bytearray(path.read_bytes())
        data[100] ^= 0xFF
        path.write_bytes(bytes(data))
        with pytest.raises(
            DigestMismatchError, match=f"blob {registry_http.host}/{repo.name}@{layer.digest}"
        ):
            repo.read_blob(layer.digest)
        with repo.open_blob(layer.digest) as stream:
            stream.read(50)
            with pytest.raises(DigestMismatchError, match=f"does not match its digest {layer.digest}"):
                while stream.read(1000):
                    pass
        manifest_path = blob_data_file(registry_http, image.digest)
        manifest_path.write_bytes(image.manifest.replace(b'"schemaVersion": 2', b'"schemaVersion":  2'))
        with pytest.raises(DigestMismatchError, match=f"does not match its digest {image.digest}"):
            repo.get_manifest(image.digest)
        with pytest.raises(DigestMismatchError, match=f"registry's digest {image.digest}"):
            repo.get_manifest("v1")


# --------------------------------------------------------------------------------------------
# Authentication and TLS


def test_basic_auth_via_auth_file_and_credentials(
    registry_basic: RegistryInfo, unique_repo: RepoNamer, tmp_path: Path
) -> None:
    authfile = tmp_path / "auth.json"
    authfile.write_text(json.dumps(registry_basic.docker_config()))
    name = unique_repo()
    with RegistryClient(TransportOptions(authfile=str(authfile), ca_file=registry_basic.ca_file)) as client:
        image = make_image(repo_at(client, registry_basic.host, name), "v1", seed="basic")
    with RegistryClient(options_for(registry_basic)) as client:
        assert repo_at(client, registry_basic.host, name).get_manifest("v1").digest == image.digest
    wrong = TransportOptions(
        ca_file=registry_basic.ca_file, credentials={registry_basic.host: ("alice", "wrong-pw")}
    )
    with RegistryClient(wrong) as client, pytest.raises(UnauthorizedError) as err:
        repo_at(client, registry_basic.host, name).get_manifest("v1")
    assert str(err.value).startswith(f"reading manifest {registry_basic.host}/{name}:v1: HTTP 401")
    assert "wrong-pw" not in str(err.value)
    with RegistryClient(
        TransportOptions(ca_file=registry_basic.ca_file, authfile=str(tmp_path / "missing.json"))
    ) as c:
        with pytest.raises(Exception, match="missing.json does not exist"):
            repo_at(c, registry_basic.host, name).get_manifest("v1")


def test_tls_verified_with_ca_and_refused_without(
    registry_tls: RegistryInfo, unique_repo: RepoNamer, tmp_path: Path
) -> None:
    name = unique_repo()
    with RegistryClient(options_for(registry_tls)) as client:
        image = make_image(repo_at(client, registry_tls.host, name), "v1", seed="tls")
    with RegistryClient(TransportOptions(certs_dirs=())) as client, pytest.raises(RegistryError) as err:
        repo_at(client, registry_tls.host, name).get_manifest("v1")
    assert f"registry {registry_tls.host}: TLS verification failed" in str(err.value)
    assert "certificate verify failed" in str(err.value)
    # certs.d/HOST/*.crt is trusted like --certificate-authority.
    certs_d = tmp_path / "certs.d"
    (certs_d / registry_tls.host).mkdir(parents=True)
    assert registry_tls.ca_file is not None
    (certs_d / registry_tls.host / "ca.crt").write_bytes(Path(registry_tls.ca_file).read_bytes())
    with RegistryClient(TransportOptions(certs_dirs=(str(certs_d),))) as client:
        assert repo_at(client, registry_tls.host, name).get_manifest("v1").digest == image.digest
    # Insecure: TLS without verification; https is kept although plain http was pinged alongside.
    with RegistryClient(TransportOptions(insecure=True)) as client:
        assert repo_at(client, registry_tls.host, name).get_manifest("v1").digest == image.digest
        assert client.registry(registry_tls.host).base_url == f"https://{registry_tls.host}"


def test_tls_trusts_the_system_store(
    registry_tls: RegistryInfo, unique_repo: RepoNamer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Like oc, verified TLS trusts the system's CAs (OpenSSL's default paths; SSL_CERT_FILE names them)."""
    name = unique_repo()
    with RegistryClient(options_for(registry_tls)) as client:
        image = make_image(repo_at(client, registry_tls.host, name), "v1", seed="tls-system")
    assert registry_tls.ca_file is not None
    monkeypatch.setenv("SSL_CERT_FILE", str(registry_tls.ca_file))
    with RegistryClient(TransportOptions(certs_dirs=())) as client:
        assert repo_at(client, registry_tls.host, name).get_manifest("v1").digest == image.digest


class _SlowTlsRefusal:
    """A plain-http registry that holds a TLS handshake open until a plain ``GET /v2/`` has arrived
    (at most 10 s), then hangs up on it; ``overlapped``: whether that GET came while it was held."""

    def __init__(self) -> None:
        import socket

        self.sock = socket.create_server(("127.0.0.1", 0))
        self.host = f"127.0.0.1:{self.sock.getsockname()[1]}"
        self.plain_seen = threading.Event()
        self.overlapped: list[bool] = []
        self.requests: list[str] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: Any) -> None:
        with conn:
            first = conn.recv(1, 0x2)  # MSG_PEEK
            if first == b"\x16":  # a TLS ClientHello
                self.overlapped.append(self.plain_seen.wait(10))
                return
            line = conn.makefile("rb").readline().decode()
            self.requests.append(line.strip())
            self.plain_seen.set()
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")

    def close(self) -> None:
        self.sock.close()


def test_insecure_registry_pings_https_and_http_at_once() -> None:
    """For an insecure registry the plain-http ping does not wait for https to fail (one round trip,
    not two, before the first request); plain http is used because https gave no answer."""
    server = _SlowTlsRefusal()
    try:
        options = TransportOptions(insecure_registries=frozenset({server.host}), retries=0)
        with RegistryClient(options) as client:
            state = client.registry(server.host)
        assert state.base_url == f"http://{server.host}"
        assert server.overlapped == [True]
        assert server.requests == ["GET /v2/ HTTP/1.1"]
    finally:
        server.close()


def test_plain_http_only_when_insecure(registry_http: RegistryInfo) -> None:
    sleeps: list[float] = []
    with (
        RegistryClient(TransportOptions(), sleep=sleeps.append) as client,
        pytest.raises(RegistryError) as err,
    ):
        repo_at(client, registry_http.host, "alice/x").list_tags()
    assert f"registry {registry_http.host}: TLS verification failed" in str(err.value)


def test_tokens_cached_and_scoped_across_repositories(
    registry_token: RegistryInfo, token_server: TokenServer, unique_repo: RepoNamer
) -> None:
    names = [unique_repo() for _ in range(3)]
    token_server.clear_grants()
    for name in names:
        token_server.grant("alice", name, ["pull", "push"])
    with RegistryClient(options_for(registry_token)) as client:
        with pytest.raises(UnauthorizedError, match=f"{registry_token.host}/alice/not-granted"):
            make_image(repo_at(client, registry_token.host, "alice/not-granted"), "v1", seed="denied")
        token_server.reset_log()
        repos = [repo_at(client, registry_token.host, name) for name in names]
        images = [make_image(repo, "v1", seed=f"tok-{i}") for i, repo in enumerate(repos)]
        for repo, image in zip(repos, images, strict=True):
            assert repo.get_manifest("v1").digest == image.digest
            assert repo.read_blob(image.layers[0].digest) == image.layers[0].data
        # Mount a blob of repo 0 into repo 2: one token request carrying both scopes.
        assert repos[2].mount_blob(images[0].layers[0].digest, repos[0]) == MOUNTED
        assert repos[2].has_blob(images[0].layers[0].digest)
    log = token_server.requests
    assert all(r.user == "alice" and r.status == 200 for r in log)
    scope_sets = [frozenset(r.scopes) for r in log]
    assert len(scope_sets) == len(set(scope_sets)), "a token was requested twice for the same scopes"
    expected = {frozenset({f"repository:{n}:pull,push"}) for n in names}
    expected |= {frozenset({f"repository:{n}:pull"}) for n in names}
    expected.add(frozenset({f"repository:{names[2]}:pull,push", f"repository:{names[0]}:pull"}))
    assert set(scope_sets) == expected
    mount = next(r for r in log if len(r.scopes) == 2)
    assert sorted(mount.granted) == sorted(mount.scopes)


def test_token_refreshed_after_expiry_and_access_token_key(
    registry_token: RegistryInfo, token_server: TokenServer, unique_repo: RepoNamer
) -> None:
    token_server.expires_in = 2  # usable for 1.8 s: room for two requests on a loaded machine
    token_server.response_keys = ("access_token",)
    with RegistryClient(options_for(registry_token)) as client:
        repo = repo_at(client, registry_token.host, unique_repo())
        image = make_image(repo, "v1", seed="expiry")
        time.sleep(2.0)  # every token so far has expired
        token_server.reset_log()
        repo.get_manifest("v1")
        repo.get_manifest("v1")
        assert len(token_server.requests) == 1
        time.sleep(2.0)
        assert repo.get_manifest("v1").digest == image.digest
        assert len(token_server.requests) == 2


def test_token_scope_refused_names_repository(
    registry_token: RegistryInfo, token_server: TokenServer, unique_repo: RepoNamer
) -> None:
    name = unique_repo()
    token_server.grant("bob", name, ["pull"])
    with RegistryClient(options_for(registry_token)) as client:
        make_image(repo_at(client, registry_token.host, name), "v1", seed="scope")
    bob = TransportOptions(
        ca_file=registry_token.ca_file, credentials={registry_token.host: ("bob", "bob-secret-pw")}
    )
    with RegistryClient(bob) as client:
        repo = repo_at(client, registry_token.host, name)
        assert repo.get_manifest("v1").media_type == mt.OCI_MANIFEST
        image = build_image(seed="bob-push")
        with pytest.raises(UnauthorizedError) as err:
            push_image(repo, image, "v2")
        assert f"{registry_token.host}/{name}" in str(err.value)
        assert "HTTP 401" in str(err.value)
        assert "bob-secret-pw" not in str(err.value)
    anonymous = TransportOptions(ca_file=registry_token.ca_file)
    with RegistryClient(anonymous) as client, pytest.raises(UnauthorizedError, match=f"{name}:v1: HTTP 401"):
        repo_at(client, registry_token.host, name).get_manifest("v1")


# --------------------------------------------------------------------------------------------
# Retries, chunked uploads, mounts, pagination (through the recording proxy)


def test_retries_honour_retry_after(http_proxy: RecordingProxy, unique_repo: RepoNamer) -> None:
    client, sleeps = proxy_client(http_proxy, retries=3, retry_max_sleep=5.0)
    with client:
        repo = repo_at(client, http_proxy.host, unique_repo())
        image = make_image(repo, "v1", seed="retry")
        http_proxy.faults += [
            Fault("GET", "/manifests/v1", 429, {"Retry-After": "2"}),
            Fault("GET", "/manifests/v1", 503, {"Retry-After": "30"}),
            Fault("GET", "/manifests/v1", 502),
        ]
        assert repo.get_manifest("v1").digest == image.digest
        assert sleeps == [2.0, 5.0, 1.0]
        assert len(http_proxy.requests_matching("GET", "/manifests/v1$")) == 4
        sleeps.clear()
        http_proxy.faults.append(Fault("HEAD", "/blobs/", 503, count=4))
        with pytest.raises(RegistryError) as err:
            repo.has_blob(image.layers[0].digest)
        assert err.value.status == 503
        assert f"checking blob {http_proxy.host}/{repo.name}@{image.layers[0].digest}: HTTP 503" in str(
            err.value
        )
        assert sleeps == [0.25, 0.5, 1.0]
        # Upload sessions are retried before any data is sent.
        sleeps.clear()
        http_proxy.faults.append(Fault("POST", "/blobs/uploads/$", 503, {"Retry-After": "1"}))
        other = build_image(seed="retry-upload")
        push_image(repo, other, "v2")
        assert sleeps == [1.0]


def test_connection_errors_retried_then_reported() -> None:
    from registry_rig import free_port

    host = f"127.0.0.1:{free_port()}"
    sleeps: list[float] = []
    options = TransportOptions(insecure_registries=frozenset({host}), retries=2)
    with RegistryClient(options, sleep=sleeps.append) as client, pytest.raises(RegistryError) as err:
        repo_at(client, host, "alice/x").get_manifest("v1")
    assert f"registry {host}: cannot connect" in str(err.value)
    assert sleeps == [0.25, 0.5, 0.25, 0.5]  # https then http, each with two retries


def test_retry_after_parsing() -> None:
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


def test_upload_sessions_opened_ahead(http_proxy: RecordingProxy, unique_repo: RepoNamer) -> None:
    """A blob goes into a session opened before it existed (no POST of its own); a session the
    registry no longer knows is replaced at once, within the same attempt (no retry, no sleep)."""
    client, sleeps = proxy_client(http_proxy, retries=0)
    with client:
        repo = repo_at(client, http_proxy.host, unique_repo())
        first, second = repo.start_upload(), repo.start_upload()
        assert first is not None and second is not None and first.location != second.location
        blob = build_image(seed="ahead", layers=1, layer_size=3000).layers[0]
        before = len(http_proxy.requests_matching("POST", "/blobs/uploads/"))
        repo.put_blob(blob.data, blob.digest, len(blob.data), upload=first)
        assert len(http_proxy.requests_matching("POST", "/blobs/uploads/")) == before
        [put] = http_proxy.requests_matching("PUT", "/blobs/uploads/")
        assert put[1].split("?")[0] == urllib.parse.urlsplit(first.location).path
        repo.cancel_upload(second)  # now unknown to the registry
        other = build_image(seed="ahead-gone", layers=1, layer_size=3000).layers[0]
        repo.put_blob(other.data, other.digest, len(other.data), upload=second)
        assert len(http_proxy.requests_matching("POST", "/blobs/uploads/")) == before + 1
        assert (repo.read_blob(blob.digest), repo.read_blob(other.digest)) == (blob.data, other.data)
    assert sleeps == []


def upload_status(proxy: RecordingProxy, location: str) -> int:
    """What the registry behind ``proxy`` answers about the upload session at ``location`` (asked
    directly, not logged): 204 while it is open, 404 once cancelled."""
    parts = urllib.parse.urlsplit(location)
    path = urllib.parse.urlunsplit(("", "", parts.path, parts.query, ""))
    return int(proxy.target.session().get(proxy.target.url(path)).status_code)


def test_a_session_opened_ahead_is_cancelled_when_its_blob_is_refused_before_sending(
    http_proxy: RecordingProxy, unique_repo: RepoNamer
) -> None:
    """Bytes that do not match their digest are refused before any request: the session opened ahead
    that this blob took is cancelled there and then (no session is left open, none for ``close``)."""
    client, sleeps = proxy_client(http_proxy, retries=0)
    with client:
        repo = repo_at(client, http_proxy.host, unique_repo())
        ahead = UploadsAhead.open(repo, 1)
        (post, _, opened, location) = http_proxy.answers[-1]  # after the ping
        assert (post, opened) == ("POST", 202) and location is not None
        assert upload_status(http_proxy, location) == 204
        http_proxy.log.clear()
        with pytest.raises(DigestMismatchError):
            ahead.put_blob(b"not these bytes", sha256_digest(b"these bytes"))
        ahead.close()
        parts = urllib.parse.urlsplit(location)
        assert [(m, p) for m, p, _ in http_proxy.log] == [("DELETE", f"{parts.path}?{parts.query}")]
        assert upload_status(http_proxy, location) == 404
    assert sleeps == []


def test_chunked_upload_with_relative_locations(http_proxy: RecordingProxy, unique_repo: RepoNamer) -> None:
    http_proxy.relative_locations = True
    client, _ = proxy_client(http_proxy, chunk_size=1000)
    with client:
        repo = repo_at(client, http_proxy.host, unique_repo())
        blob = build_image(seed="chunks", layers=1, layer_size=3500).layers[0]
        size = len(blob.data)
        repo.put_blob(io.BytesIO(blob.data), blob.digest, size)
        patches = http_proxy.requests_matching("PATCH", "/blobs/uploads/")
        ranges = [headers["Content-Range"] for _, _, headers in patches]
        assert ranges == [f"{s}-{min(s + 999, size - 1)}" for s in range(0, size, 1000)]
        # Every PATCH went to the Location of the previous response (distinct upload states).
        assert len({path for _, path, _ in patches}) == len(patches)
        puts = http_proxy.requests_matching("PUT", "/blobs/uploads/")
        assert len(puts) == 1 and f"digest={urllib.parse.quote(blob.digest)}" in puts[0][1]
        assert repo.read_blob(blob.digest) == blob.data
        # Bytes upload, chunked too; an empty blob needs no PATCH.
        empty = b""
        repo.put_blob(empty, sha256_digest(empty))
        assert repo.read_blob(sha256_digest(empty)) == b""


def test_monolithic_upload_streams(http_proxy: RecordingProxy, unique_repo: RepoNamer) -> None:
    client, _ = proxy_client(http_proxy)
    with client:
        repo = repo_at(client, http_proxy.host, unique_repo())
        blob = build_image(seed="mono", layers=1, layer_size=300_000).layers[0]
        repo.put_blob(io.BytesIO(blob.data), blob.digest)
        (put,) = http_proxy.requests_matching("PUT", "/blobs/uploads/")
        assert put[2].get("Transfer-Encoding") == "chunked"
        assert not http_proxy.requests_matching("PATCH", "/blobs/")
        assert repo.read_blob(blob.digest) == blob.data


def test_mount_never_downloads(
    http_proxy: RecordingProxy, unique_repo: RepoNamer, registry_tls: RegistryInfo
) -> None:
    client, _ = proxy_client(http_proxy)
    with client:
        src = repo_at(client, http_proxy.host, unique_repo())
        dst = repo_at(client, http_proxy.host, unique_repo())
        image = make_image(src, "v1", seed="mount")
        http_proxy.log.clear()
        assert [dst.mount_blob(blob.digest, src) for blob in image.blobs] == [MOUNTED] * len(image.blobs)
        assert [m for m, _, _ in http_proxy.log] == ["POST"] * len(image.blobs)
        assert [urllib.parse.parse_qs(urllib.parse.urlsplit(p).query) for _, p, _ in http_proxy.log] == [
            {"mount": [b.digest], "from": [src.name]} for b in image.blobs
        ]
        assert all(dst.has_blob(b.digest) for b in image.blobs)
        # A registry answers 201 again for a blob the repository has: mounted, not present.
        assert dst.mount_blob(image.layers[0].digest, src) == MOUNTED
        # The repository itself, whether it has the blob or not, and another registry: refused
        # without any request (whoever mounts asks the repository anyway: copy_blob).
        http_proxy.log.clear()
        absent = sha256_digest(b"not there")
        assert (src.mount_blob(image.layers[0].digest, src), src.mount_blob(absent, src)) == (
            REFUSED,
            REFUSED,
        )
        with RegistryClient(options_for(registry_tls)) as other_client:
            elsewhere = repo_at(other_client, registry_tls.host, "alice/elsewhere")
            assert dst.mount_blob(image.layers[0].digest, elsewhere) == REFUSED
        assert http_proxy.log == []


def test_a_refused_mount_hands_over_its_upload_session(
    http_proxy: RecordingProxy, unique_repo: RepoNamer
) -> None:
    """Not in the source: the registry answers 202 with an upload session, which the refusal carries;
    a blob put into it goes up with one PUT to that session (no POST of its own), and an unused one
    is cancelled when the refusal is left (``with``)."""
    client, sleeps = proxy_client(http_proxy, retries=0)
    with client:
        src = repo_at(client, http_proxy.host, unique_repo())
        dst = repo_at(client, http_proxy.host, unique_repo())
        blob = build_image(seed="refused-session", layers=1, layer_size=3000).layers[0]
        assert not dst.has_blob(blob.digest)
        http_proxy.log.clear()
        with dst.mount_blob(blob.digest, src) as refused:
            assert refused == REFUSED and refused.session is not None
            refused.session.put_blob(blob.data, blob.digest, len(blob.data))
        (mount, put) = [(m, urllib.parse.urlsplit(p)) for m, p, _ in http_proxy.log]
        assert (mount[0], mount[1].path, put[0]) == ("POST", f"/v2/{dst.name}/blobs/uploads/", "PUT")
        assert put[1].path.startswith(f"/v2/{dst.name}/blobs/uploads/") and put[1].path != mount[1].path
        assert urllib.parse.parse_qs(put[1].query)["digest"] == [blob.digest]
        assert dst.read_blob(blob.digest, len(blob.data)) == blob.data
        http_proxy.log.clear()
        with dst.mount_blob(sha256_digest(b"not there either"), src) as unused:
            assert unused == REFUSED and unused.session is not None
        [(post, _, _), (delete, path, _)] = http_proxy.log
        assert (post, delete) == ("POST", "DELETE") and path.startswith(f"/v2/{dst.name}/blobs/uploads/")
    assert sleeps == []


def test_a_refused_mount_s_session_takes_the_blob_behind_a_token_server(
    token_recorder: RecordingProxy, token_server: TokenServer, unique_repo: RepoNamer
) -> None:
    """On the token registry the mount's token carries pull on the source too; the PUT into the
    session the 202 opened goes with the destination's push token alone, and Distribution takes it:
    the registry sees the mount (202) and one PUT to the very session it named (201), nothing else."""
    src, dst = unique_repo(), unique_repo()
    blob = build_image(seed="refused-token", layers=1, layer_size=3000).layers[0]
    with token_client(token_recorder) as client:
        source, dest = repo_at(client, token_recorder.host, src), repo_at(client, token_recorder.host, dst)
        make_image(source, "v1", seed="refused-token-src")  # the source exists, without this blob
        token_server.reset_log()
        token_recorder.answers.clear()
        with dest.mount_blob(blob.digest, source) as refused:
            assert refused == REFUSED and refused.session is not None
            refused.session.put_blob(blob.data, blob.digest, len(blob.data))
        [(post, mount, opened, location), (put, sent, stored, _)] = token_recorder.answers
        assert location is not None
        mount_url, put_url, session = (urllib.parse.urlsplit(u) for u in (mount, sent, location))
        assert (post, mount_url.path, urllib.parse.parse_qs(mount_url.query), opened) == (
            "POST",
            f"/v2/{dst}/blobs/uploads/",
            {"mount": [blob.digest], "from": [src]},
            202,
        )
        assert (put, put_url.path, urllib.parse.parse_qs(put_url.query), stored) == (
            "PUT",
            session.path,
            {**urllib.parse.parse_qs(session.query), "digest": [blob.digest]},
            201,
        )
        assert session.path.startswith(f"/v2/{dst}/blobs/uploads/")
        assert dest.read_blob(blob.digest, len(blob.data)) == blob.data
    assert [frozenset(r.scopes) for r in token_server.requests] == [
        {f"repository:{dst}:pull,push", f"repository:{src}:pull"},
        {f"repository:{dst}:pull,push"},
        {f"repository:{dst}:pull"},
    ]


def test_credentials_never_go_to_an_upload_location_on_another_host(
    token_recorder: RecordingProxy, other_host: OtherHost, unique_repo: RepoNamer
) -> None:
    """A registry may name an upload session on another host (a 202's Location, its own or a mount's):
    the PUT and the DELETE go there without the registry's Authorization, and a 401 from there is an
    error, not a challenge to answer (no token asked of its realm); one it accepts takes the blob."""
    src, dst = unique_repo(), unique_repo()
    blob = build_image(seed="other-host", layers=1, layer_size=3000).layers[0]
    elsewhere = f"{other_host.url}/upload/1?_state=s"
    token_recorder.faults += [
        Fault("POST", r"/blobs/uploads/$", 202, {"Location": elsewhere}),
        Fault("POST", "mount=", 202, {"Location": f"{other_host.url}/deny/2"}),
    ]
    with token_client(token_recorder) as client:
        dest = repo_at(client, token_recorder.host, dst)
        dest.put_blob(blob.data, blob.digest, len(blob.data))
        with (
            dest.mount_blob(blob.digest, repo_at(client, token_recorder.host, src)) as refused,
            pytest.raises(UnauthorizedError),
        ):
            assert refused.session is not None
            refused.session.put_blob(blob.data, blob.digest, len(blob.data))
    assert [(m, p, b) for m, p, _, b in other_host.seen] == [
        ("PUT", f"/upload/1?_state=s&digest={urllib.parse.quote(blob.digest)}", blob.data),
        ("PUT", f"/deny/2?digest={urllib.parse.quote(blob.digest)}", blob.data),
        ("DELETE", "/deny/2", b""),
    ]
    assert not [h for _, _, h, _ in other_host.seen if "authorization" in {k.lower() for k in h}]
    posts = [h for m, _, h in token_recorder.log if m == "POST"]
    assert len(posts) == 2 and all(h["Authorization"].startswith("Bearer ") for h in posts)


def test_tag_pagination(http_proxy: RecordingProxy, unique_repo: RepoNamer) -> None:
    client, _ = proxy_client(http_proxy)
    with client:
        repo = repo_at(client, http_proxy.host, unique_repo())
        image = build_image(seed="tags")
        tags = [f"t{i}" for i in range(5)]
        for tag in tags:
            push_image(repo, image, tag)
        http_proxy.log.clear()
        http_proxy.tag_page = 3
        assert repo.list_tags(page_size=2) == tags
        assert [p for _, p, _ in http_proxy.requests_matching("GET", "/tags/list")] == [
            f"/v2/{repo.name}/tags/list?n=2",
            f"/v2/{repo.name}/tags/list?n=2&last=t1",
            f"/v2/{repo.name}/tags/list?n=2&last=t3",
        ]
        http_proxy.log.clear()
        assert repo.list_tags() == tags
        assert [p for _, p, _ in http_proxy.requests_matching("GET", "/tags/list")] == [
            f"/v2/{repo.name}/tags/list?n=1000",
            f"/v2/{repo.name}/tags/list?n=3&last=t2",
        ]


def test_parallel_use_of_one_client(registry_basic: RegistryInfo, unique_repo: RepoNamer) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with RegistryClient(options_for(registry_basic, max_per_registry=3)) as client:
        repos = [repo_at(client, registry_basic.host, unique_repo()) for _ in range(4)]
        with ThreadPoolExecutor(8) as pool:
            images = list(pool.map(lambda i: make_image(repos[i % 4], f"p{i}", seed=f"par-{i}"), range(8)))
        for i, image in enumerate(images):
            assert repos[i % 4].get_manifest(f"p{i}").digest == image.digest


def test_basic_header_is_not_logged(
    registry_basic: RegistryInfo, unique_repo: RepoNamer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    with RegistryClient(options_for(registry_basic)) as client:
        make_image(repo_at(client, registry_basic.host, unique_repo()), "v1", seed="log")
    secret = base64.b64encode(f"alice:{registry_basic.users['alice']}".encode()).decode()
    assert registry_basic.users["alice"] not in caplog.text
    assert secret not in caplog.text
