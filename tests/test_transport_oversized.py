"""Answers too big to read whole (``http.MAX_LOADED_BODY``) are refusals: they fail at once, not retried."""

from __future__ import annotations

import gzip
import http.server
from collections.abc import Iterator
from typing import Any

import pytest
from registry_rig import RepoNamer
from test_registry import Fault, Loopback, RecordingProxy, proxy_client, repo_at

from okdrelease.errors import NotFoundError, RegistryError, UnauthorizedError
from okdrelease.transport.base import TransportOptions
from okdrelease.transport.client import RegistryClient
from okdrelease.transport.http import MAX_LOADED_BODY

#: How an oversized answer is sent: as it is, or gzip-encoded (a few KB that decode past the bound).
ENCODINGS = ("gzip", "identity")


@pytest.fixture(scope="module")
def oversized() -> dict[str, bytes]:
    """A token answer one byte over the bound, by encoding (made when a test of this module asks)."""
    token = b'{"token": "' + b"t" * (MAX_LOADED_BODY - 12) + b'"}'
    return {"identity": token, "gzip": gzip.compress(token, 1)}


class OversizedTokens(Loopback):
    """A loopback token server answering every request ``status`` with ``body``; counts them."""

    def __init__(self, encoding: str, body: bytes, status: int = 200) -> None:
        """Serve on a free loopback port, ``body`` sent in ``encoding``."""
        self.requests: list[str] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802
                server.requests.append(self.path)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                if encoding != "identity":
                    self.send_header("Content-Encoding", encoding)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except OSError:
                    pass  # the client stopped reading at the bound

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        super().__init__(Handler)


@pytest.fixture(params=ENCODINGS)
def oversized_tokens(
    request: pytest.FixtureRequest, oversized: dict[str, bytes]
) -> Iterator[OversizedTokens]:
    """A token server whose answer is over the bound, sent plain or gzip-encoded."""
    server = OversizedTokens(request.param, oversized[request.param])
    yield server
    server.stop()


@pytest.fixture
def http_proxy(registry_http: Any) -> Iterator[RecordingProxy]:
    """A recording proxy in front of the plain-HTTP registry."""
    proxy = RecordingProxy(registry_http).start()
    yield proxy
    proxy.stop()


def test_an_oversized_token_answer_fails_at_once_naming_the_token_server(
    http_proxy: RecordingProxy, oversized_tokens: OversizedTokens, unique_repo: RepoNamer
) -> None:
    """The registry (its ping answered 401 with a challenge naming the loopback token server) is read
    with credentials; the token server's answer is over the bound: exactly one token request, no
    back-off, and an error naming the token server, the registry and the scope (its repository), as
    a refusal does, without the credentials.
    Before, the refusal was taken for a broken connection and asked again three times."""
    realm = f"http://{oversized_tokens.host}/token"
    challenge = f'Bearer realm="{realm}",service="oversized"'
    http_proxy.faults.append(Fault("GET", r"^/v2/$", 401, {"WWW-Authenticate": challenge}))
    sleeps: list[float] = []
    options = TransportOptions(
        insecure_registries=frozenset({http_proxy.host}),
        credentials={http_proxy.host: ("alice", "s3cret-token-pw")},
    )
    name = unique_repo()
    with RegistryClient(options, sleep=sleeps.append) as client, pytest.raises(UnauthorizedError) as err:
        repo_at(client, http_proxy.host, name).get_manifest("v1")
    assert str(err.value) == (
        f"token server {realm} for registry {http_proxy.host} (scope repository:{name}:pull): "
        f"the response body is larger than {MAX_LOADED_BODY} bytes"
    )
    assert (err.value.registry, err.value.repository) == (http_proxy.host, name)
    assert oversized_tokens.requests == [
        f"/token?service=oversized&scope=repository%3A{name.replace('/', '%2F')}%3Apull"
    ]
    assert [(m, p) for m, p, _ in http_proxy.log] == [("GET", "/v2/")]
    assert sleeps == []


def test_an_oversized_tag_page_fails_at_once(
    http_proxy: RecordingProxy, unique_repo: RepoNamer, oversized: dict[str, bytes]
) -> None:
    """The same bound on a registry's own answer read whole (a tag page, gzip-encoded): one request,
    an error naming the registry and repository; before, it was retried as a broken connection."""
    http_proxy.faults.append(
        Fault(
            "GET",
            "/tags/list",
            200,
            {"Content-Type": "application/json", "Content-Encoding": "gzip"},
            body=oversized["gzip"],
        )
    )
    client, sleeps = proxy_client(http_proxy)
    name = unique_repo()
    with client, pytest.raises(RegistryError) as err:
        repo_at(client, http_proxy.host, name).list_tags()
    assert str(err.value) == (
        f"listing tags of {http_proxy.host}/{name}: registry {http_proxy.host}: "
        f"the response body is larger than {MAX_LOADED_BODY} bytes"
    )
    assert len(http_proxy.requests_matching("GET", "/tags/list")) == 1
    assert sleeps == []


def oversized_tag_answer(
    proxy: RecordingProxy, status: int, body: bytes
) -> tuple[str, RegistryError, list[float]]:
    """List the tags of a new repository through ``proxy``, which answers every tag-list request
    ``status`` with ``body`` (gzip-encoded): the repository, the error, the back-off sleeps."""
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    proxy.faults.append(Fault("GET", "/tags/list", status, headers, count=10, body=body))
    client, sleeps = proxy_client(proxy)
    name = f"alice/oversized-{status}"
    with client, pytest.raises(RegistryError) as err:
        repo_at(client, proxy.host, name).list_tags()
    return name, err.value, sleeps


@pytest.mark.parametrize(("status", "sleeps"), [(404, []), (500, [0.25, 0.5, 1.0])])
def test_an_error_status_with_an_oversized_body_is_that_status(
    http_proxy: RecordingProxy, oversized: dict[str, bytes], status: int, sleeps: list[float]
) -> None:
    """An error status whose body is over the bound (gzip-encoded): the error is the status's, named
    with the registry and repository, and saying the body was not read; a 500 is retried as a 500
    is. Before, the body was read first and the error said only that it was too large, without the
    status, and was never retried."""
    name, err, slept = oversized_tag_answer(http_proxy, status, oversized["gzip"])
    assert str(err) == (
        f"listing tags of {http_proxy.host}/{name}: HTTP {status}"
        f" (its body, larger than {MAX_LOADED_BODY} bytes, was not read)"
    )
    assert (err.status, err.registry, err.repository) == (status, http_proxy.host, name)
    assert isinstance(err, NotFoundError) is (status == 404)
    assert (slept, len(http_proxy.requests_matching("GET", "/tags/list"))) == (sleeps, len(sleeps) + 1)


@pytest.mark.parametrize("status", [401, 500])
def test_a_token_server_s_error_status_with_an_oversized_body_is_that_status(
    http_proxy: RecordingProxy, oversized: dict[str, bytes], unique_repo: RepoNamer, status: int
) -> None:
    """The token server answers an error status with a body over the bound: the error names the
    status, the token server, the registry and the scope; a 500 is retried. Before, the status was
    lost ("the response body is larger than ...") and nothing was retried."""
    tokens = OversizedTokens("gzip", oversized["gzip"], status)
    try:
        realm = f"http://{tokens.host}/token"
        challenge = f'Bearer realm="{realm}",service="oversized"'
        http_proxy.faults.append(Fault("GET", r"^/v2/$", 401, {"WWW-Authenticate": challenge}))
        options = TransportOptions(
            insecure_registries=frozenset({http_proxy.host}),
            credentials={http_proxy.host: ("alice", "s3cret-token-pw")},
        )
        name = unique_repo()
        sleeps: list[float] = []
        with RegistryClient(options, sleep=sleeps.append) as client, pytest.raises(UnauthorizedError) as err:
            repo_at(client, http_proxy.host, name).get_manifest("v1")
    finally:
        tokens.stop()
    scope = f"scope repository:{name}:pull"
    assert str(err.value) == (
        f"token server {realm} refused the credentials for registry {http_proxy.host} ({scope}): HTTP 401;"
        f" credentials from command line"
        if status == 401
        else f"token server {realm} for registry {http_proxy.host} ({scope}) answered HTTP 500"
    )
    assert (err.value.status, err.value.registry, err.value.repository) == (status, http_proxy.host, name)
    assert len(tokens.requests) == (1 if status == 401 else 4)
    assert "s3cret-token-pw" not in str(err.value)
