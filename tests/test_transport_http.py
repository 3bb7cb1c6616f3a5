"""transport.http.HttpSession (the wire client for its own host, urllib3 otherwise): redirects, proxies, bodies, events, links."""

from __future__ import annotations

import gzip
import http.server
import importlib.util
import logging
import ssl
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import certifi
import pytest
from imagegen import make_image
from registry_rig import RegistryInfo, RepoNamer
from test_registry import options_for, repo_at

from okdrelease.errors import OkdReleaseError
from okdrelease.events import RequestDone
from okdrelease.transport.client import RegistryClient
from okdrelease.transport.http import (
    HttpSession,
    TooManyRedirects,
    environ_proxies,
    select_proxy,
    strip_auth_on_redirect,
    url_host,
)
from okdrelease.transport.wire import ConnectError


class Seen:
    """What a loopback server was asked: (method, path as sent, headers, body) per request."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []


def serve(answer: Any) -> tuple[http.server.ThreadingHTTPServer, Seen]:
    """A loopback server calling ``answer(handler)`` for every request, recording each one."""
    seen = Seen()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def handle_one(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            chunked = self.headers.get("Transfer-Encoding") == "chunked"
            body = self._chunked() if chunked else self.rfile.read(length)
            seen.requests.append((self.command, self.path, dict(self.headers.items()), body))
            answer(self)

        def _chunked(self) -> bytes:
            parts = []
            while size := int(self.rfile.readline().strip(), 16):
                parts.append(self.rfile.read(size))
                self.rfile.readline()
            self.rfile.readline()
            return b"".join(parts)

        do_GET = do_POST = do_PUT = do_HEAD = do_CONNECT = handle_one  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    return server, seen


def reply(
    handler: http.server.BaseHTTPRequestHandler, status: int, body: bytes = b"", **headers: str
) -> None:
    handler.send_response(status)
    for name, value in headers.items():
        handler.send_header(name.replace("_", "-"), value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    if handler.command != "HEAD":
        handler.wfile.write(body)


@pytest.fixture
def servers() -> Iterator[list[http.server.ThreadingHTTPServer]]:
    started: list[http.server.ThreadingHTTPServer] = []
    yield started
    for server in started:
        server.shutdown()
        server.server_close()


def test_redirect_to_another_host_drops_authorization(servers: list[Any]) -> None:
    storage, storage_seen = serve(lambda h: reply(h, 200, b"blob bytes"))
    storage_url = f"http://127.0.0.1:{storage.server_address[1]}"

    def registry_answer(handler: http.server.BaseHTTPRequestHandler) -> None:
        if handler.path.startswith("/v2/moved"):
            reply(handler, 307, Location="/v2/here")
        elif handler.path.startswith("/v2/here"):
            reply(handler, 302, Location=f"{storage_url}/data?sig=secret")
        else:
            reply(handler, 404)

    registry, registry_seen = serve(registry_answer)
    servers += [storage, registry]
    host = f"127.0.0.1:{registry.server_address[1]}"
    events: list[Any] = []
    with HttpSession("okdrelease/test", 4, host=host, events=events.append) as session:
        response = session.request(
            "GET", f"http://{host}/v2/moved", headers={"Authorization": "Bearer tok"}, stream=True
        )
        assert b"".join(response.iter_content(4)) == b"blob bytes"
        response.close()
    assert [(m, p, h.get("Authorization")) for m, p, h, _ in registry_seen.requests] == [
        ("GET", "/v2/moved", "Bearer tok"),
        ("GET", "/v2/here", "Bearer tok"),  # same host and port: the token stays
    ]
    ((method, path, headers, _),) = storage_seen.requests
    assert (method, path, "Authorization" in headers) == ("GET", "/data?sig=secret", False)
    assert headers["User-Agent"] == "okdrelease/test"
    assert response.url == f"{storage_url}/data?sig=secret"
    assert [(e.method, e.url, e.status) for e in events] == [
        ("GET", f"http://{host}/v2/moved", 307),
        ("GET", f"http://{host}/v2/here", 302),
        ("GET", f"{storage_url}/data", 200),  # no query: it may carry a signature
    ]
    assert all(isinstance(e, RequestDone) for e in events)


def test_see_other_turns_a_post_into_a_get_without_body(servers: list[Any]) -> None:
    def answer(handler: http.server.BaseHTTPRequestHandler) -> None:
        if handler.command == "POST":
            reply(handler, 303, Location="/done")
        else:
            reply(handler, 200, b'{"ok": true}', Content_Type="application/json")

    server, seen = serve(answer)
    servers.append(server)
    url = f"http://127.0.0.1:{server.server_address[1]}/start"
    with HttpSession("ua", 1) as session:
        response = session.post(url, data={"grant_type": "password", "scope": "a b"})
    assert response.status_code == 200 and response.json() == {"ok": True}
    (post_method, _, post_headers, post_body), (get_method, get_path, get_headers, get_body) = seen.requests
    assert (post_method, post_body) == ("POST", b"grant_type=password&scope=a+b")
    assert post_headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert (get_method, get_path, get_body, "Content-Type" in get_headers) == ("GET", "/done", b"", False)


def test_endless_redirects_fail(servers: list[Any]) -> None:
    server, seen = serve(lambda h: reply(h, 302, Location="/again"))
    servers.append(server)
    with HttpSession("ua", 1) as session, pytest.raises(TooManyRedirects, match="more than 30 redirects"):
        session.get(f"http://127.0.0.1:{server.server_address[1]}/first")
    assert len(seen.requests) == 31


def test_bodies_params_and_gzip(servers: list[Any]) -> None:
    packed = gzip.compress(b'{"token": "t"}')
    server, seen = serve(lambda h: reply(h, 200, packed, Content_Encoding="gzip"))
    servers.append(server)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    with HttpSession("ua", 1) as session:
        got = session.get(f"{base}/token?x=1", params=[("service", "reg"), ("scope", "repository:a/b:pull")])
        streamed = session.request("PUT", f"{base}/up", data=iter([b"ab", b"cd"]), stream=True)
        streamed.close()
        empty = session.request("POST", f"{base}/post")
    assert got.json() == {"token": "t"} and empty.status_code == 200
    (_, token_path, token_headers, _), (_, _, put_headers, put_body), (_, _, post_headers, _) = seen.requests
    assert token_path == "/token?x=1&service=reg&scope=repository%3Aa%2Fb%3Apull"
    assert "gzip" in token_headers["Accept-Encoding"]
    assert (put_headers.get("Transfer-Encoding"), put_body) == ("chunked", b"abcd")
    assert post_headers["Content-Length"] == "0"


def test_link_header_parsed_by_rel(servers: list[Any]) -> None:
    link = '</v2/a/tags/list?n=2&last=b>; rel="next", <https://x.example/doc>; title=doc'
    server, _ = serve(lambda h: reply(h, 200, b"{}", Link=link))
    servers.append(server)
    with HttpSession("ua", 1) as session:
        response = session.get(f"http://127.0.0.1:{server.server_address[1]}/v2/a/tags/list")
    assert response.links == {
        "next": {"url": "/v2/a/tags/list?n=2&last=b", "rel": "next"},
        "https://x.example/doc": {"url": "https://x.example/doc", "title": "doc"},
    }


def test_requests_go_through_the_proxy_they_are_given(servers: list[Any]) -> None:
    proxy, seen = serve(lambda h: reply(h, 200, b"from proxy"))
    servers.append(proxy)
    proxy_url = f"http://user:p%40ss@127.0.0.1:{proxy.server_address[1]}"
    with HttpSession("ua", 1, host="reg.example") as session:
        response = session.get("http://reg.example/v2/", proxies={"http": proxy_url})
    assert response.content == b"from proxy"
    ((method, target, headers, _),) = seen.requests
    assert (method, target, headers["Host"]) == ("GET", "http://reg.example/v2/", "reg.example")
    sent = {name.lower(): value for name, value in headers.items()}
    assert sent["proxy-authorization"] == "Basic dXNlcjpwQHNz"  # user:p@ss


@pytest.mark.parametrize(
    ("proxy", "message"),
    [
        (
            "http://puser:proxy-secret-pw@127.0.0.1:99999",
            "invalid proxy URL http://127.0.0.1:99999: Port out of range 0-65535",
        ),
        ("http://u:pw@[::1", "invalid proxy URL http://[::1: Invalid IPv6 URL"),
        (
            "ftp://u:pw@127.0.0.1:1",
            "invalid proxy URL ftp://127.0.0.1:1: a proxy is http, https or socks, not 'ftp'",
        ),
        ("http://u:pw@:3128", "invalid proxy URL http://:3128: no host"),
    ],
)
def test_a_bad_proxy_url_is_named_without_its_credentials(proxy: str, message: str) -> None:
    """Before: urllib3's ``LocationParseError: Failed to parse: http://puser:proxy-secret-pw@…`` (the
    password shown) or ValueError/ProxySchemeUnknown, each an internal error of the CLI."""
    with HttpSession("ua", 1) as session, pytest.raises(OkdReleaseError) as caught:
        session.get("https://reg.example/v2/", proxies={"https": proxy})
    assert str(caught.value) == message


def test_a_proxy_url_without_a_scheme_is_http(servers: list[Any]) -> None:
    proxy, seen = serve(lambda h: reply(h, 200, b"from proxy"))
    servers.append(proxy)
    with HttpSession("ua", 1, host="reg.example") as session:
        response = session.get(
            "http://reg.example/v2/", proxies={"http": f"127.0.0.1:{proxy.server_address[1]}"}
        )
    assert response.content == b"from proxy"
    assert [r[1] for r in seen.requests] == ["http://reg.example/v2/"]


def test_a_proxy_that_refuses_is_named(servers: list[Any]) -> None:
    """A proxy refusing the tunnel (407) or the connection is named in the reason (before:
    ``cannot connect (ProxyError)``, no proxy named)."""
    proxy, _ = serve(lambda h: reply(h, 407))
    servers.append(proxy)
    address = f"127.0.0.1:{proxy.server_address[1]}"
    with HttpSession("ua", 1) as session, pytest.raises(ConnectError) as caught:
        session.get("https://reg.example/v2/", proxies={"https": f"http://u:secret@{address}"})
    assert (
        caught.value.reason
        == f"through proxy {address}: Tunnel connection failed: 407 Proxy Authentication Required"
    )
    assert "secret" not in str(caught.value)


def test_proxy_choice_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    proxies = {"https": "http://p1", "all://other.example": "http://p2", "all": "http://p3"}
    assert select_proxy("https://reg.example/v2/", proxies) == "http://p1"
    assert select_proxy("http://other.example/v2/", proxies) == "http://p2"
    assert select_proxy("http://reg.example/v2/", proxies) == "http://p3"
    assert select_proxy("http://reg.example/v2/", {}) is None
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    assert environ_proxies("reg.example:5000", "https") == {}
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    assert environ_proxies("reg.example:5000", "https")["https"] == "http://proxy.example:3128"
    assert environ_proxies("127.0.0.1:5000", "https") == {}  # loopback never goes through a proxy
    monkeypatch.setenv("NO_PROXY", ".example")
    assert environ_proxies("reg.example:5000", "https") == {}
    monkeypatch.setenv("NO_PROXY", "10.0.0.0/8")
    assert environ_proxies("10.1.2.3:5000", "https") == {}
    assert environ_proxies("reg.example:5000", "https") != {}


@pytest.mark.parametrize(
    ("old", "new", "strip"),
    [
        ("https://reg.example/v2/a", "https://reg.example/v2/b", False),
        ("http://reg.example/v2/a", "https://reg.example/v2/b", False),  # upgrade to TLS on default ports
        ("https://reg.example/v2/a", "https://reg.example:443/v2/b", False),
        ("https://reg.example/v2/a", "http://reg.example/v2/b", True),
        ("https://reg.example:5000/v2/a", "https://reg.example:5001/v2/b", True),
        ("https://reg.example/v2/a", "https://storage.example/blob", True),
    ],
)
def test_authorization_kept_only_for_the_same_origin(old: str, new: str, strip: bool) -> None:
    assert strip_auth_on_redirect(old, new) is strip


def test_socks_proxy_without_pysocks_is_a_clear_error() -> None:
    if importlib.util.find_spec("socks") is not None:
        pytest.skip("PySocks is installed: SOCKS proxies work")
    with HttpSession("ua", 1) as session, pytest.raises(OkdReleaseError) as caught:
        session.get("http://reg.example/v2/", proxies={"http": "socks5://user:secret@127.0.0.1:1080"})
    assert str(caught.value) == "proxy socks5://127.0.0.1:1080 is a SOCKS proxy: install PySocks to use it"


def test_verified_tls_loads_its_certificates_once_per_session(
    registry_tls: RegistryInfo,
    unique_repo: RepoNamer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    loads: list[str] = []
    original = ssl.SSLContext.load_verify_locations

    def counting(self: ssl.SSLContext, cafile: Any = None, *args: Any, **kwargs: Any) -> None:
        loads.append(str(cafile))
        original(self, cafile, *args, **kwargs)

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", counting)
    caplog.set_level(logging.DEBUG, logger="okdrelease.transport.wire")
    with RegistryClient(options_for(registry_tls)) as client:
        repo = repo_at(client, registry_tls.host, unique_repo())
        image = make_image(repo, "v1", seed="tls-once")
        with ThreadPoolExecutor(8) as pool:
            digests = set(pool.map(lambda _i: repo.get_manifest("v1").digest, range(32)))
    assert digests == {image.digest}
    connections = [r for r in caplog.records if "Starting new HTTPS connection" in r.getMessage()]
    assert len(connections) > 1
    # The registry's CA file and certifi's bundle, each parsed once, however many connections.
    assert sorted(loads) == sorted([str(registry_tls.ca_file), certifi.where()])


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://Quay.IO:443/v2/x", "quay.io"),
        ("http://tok:s3cret@Reg.example:80?q=1", "reg.example"),
        ("https://reg.example:80/v2/", "reg.example:80"),
        ("http://reg.example:443/v2/", "reg.example:443"),
        ("https://[::1]:5000/upload/1", "[::1]:5000"),
        ("https://127.0.0.1:8443", "127.0.0.1:8443"),
    ],
)
def test_url_host_is_what_tls_settings_are_looked_up_by(url: str, host: str) -> None:
    """The host an upload Location or a redirect names, as its TLS settings are looked up (and
    compared with a session's own): lower case, no userinfo, no default port of its scheme."""
    assert url_host(url) == host
