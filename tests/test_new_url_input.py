"""``new -f URL`` reads through the transport's HTTP client: the registries' trust and opt-outs, a
bounded body, errors naming the URL without ``user:password@`` or query, in the transport's words."""

from __future__ import annotations

import http.server
import socket
import ssl
from collections.abc import Iterator

import pytest
from registry_rig import LocalCA
from test_registry import Loopback
from test_transport_tls_hosts import server_context

from okdrelease.cli import main
from okdrelease.regularfile import MAX_USER_FILE_BYTES

NOT_A_STREAM = b'{"kind": "Pod", "apiVersion": "v1"}\n'
WRONG_KIND = "error: unrecognized input image stream file, must be an ImageStream in image.openshift.io/v1\n"


class _Files(http.server.BaseHTTPRequestHandler):
    """``/is.yaml``: a Pod (read, then refused by kind); ``/zeros``: an endless body; else 404.
    Every request's Authorization header is recorded on the server."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        """Nothing on stderr (the CLI's stderr is compared)."""

    def do_GET(self) -> None:
        self.server.seen.append((self.path, self.headers.get("Authorization")))  # type: ignore[attr-defined]
        path = self.path.partition("?")[0]
        if path == "/is.yaml":
            self.send_response(200)
            self.send_header("Content-Length", str(len(NOT_A_STREAM)))
            self.end_headers()
            self.wfile.write(NOT_A_STREAM)
        elif path == "/zeros":
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            block = b"\0" * (1 << 20)
            try:
                while True:
                    self.wfile.write(block)
            except OSError:
                return
        else:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()


def _serve(context: ssl.SSLContext | None) -> Loopback:
    server = Loopback(_Files, context)
    server._httpd.seen = []  # type: ignore[attr-defined]
    return server


@pytest.fixture
def plain() -> Iterator[Loopback]:
    server = _serve(None)
    yield server
    server.stop()


@pytest.fixture
def tls(registry_ca: LocalCA) -> Iterator[Loopback]:
    server = _serve(server_context(registry_ca, "url-input"))
    yield server
    server.stop()


def _new(capsys: pytest.CaptureFixture[str], url: str, *flags: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["new", "-f", url, "--dry-run", *flags])
    out, err = capsys.readouterr()
    return code, out, err


def test_secrets_in_the_url_are_never_shown(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://user:file-secret-pw@127.0.0.1:{port}/is.yaml?tok=qs-secret"
    assert _new(capsys, url) == (
        1,
        "",
        f"error: unable to read input image stream file: http://127.0.0.1:{port}/is.yaml: cannot connect"
        " (Connection refused)\n",
    )


def test_a_url_is_read_with_its_credentials_and_http_errors_name_it(
    plain: Loopback, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _new(capsys, f"http://user:file-secret-pw@{plain.host}/is.yaml?tok=qs-secret")
    assert (code, out, err) == (1, "", WRONG_KIND)
    assert plain._httpd.seen == [  # type: ignore[attr-defined]
        ("/is.yaml?tok=qs-secret", "Basic dXNlcjpmaWxlLXNlY3JldC1wdw==")
    ]
    assert _new(capsys, f"{plain.url}/missing.yaml?tok=qs-secret") == (
        1,
        "",
        f"error: unable to read input image stream file: {plain.url}/missing.yaml: HTTP 404\n",
    )


def test_an_endless_body_is_refused_past_the_bound(
    plain: Loopback, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _new(capsys, f"{plain.url}/zeros") == (
        1,
        "",
        f"error: unable to read input image stream file: {plain.url}/zeros is larger than"
        f" {MAX_USER_FILE_BYTES} bytes\n",
    )


def test_https_uses_the_registries_trust_and_opt_out(
    tls: Loopback, registry_ca: LocalCA, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"{tls.url}/is.yaml"
    code, out, err = _new(capsys, url)
    assert (code, out) == (1, "")
    assert err.startswith(
        f"error: unable to read input image stream file: {url}: TLS verification failed (certificate verify"
        " failed: unable to get local issuer certificate); trust its CA with --certificate-authority"
    )
    assert _new(capsys, url, "--certificate-authority", str(registry_ca.ca_file)) == (1, "", WRONG_KIND)
    assert _new(capsys, url, "--insecure-registry", tls.host) == (1, "", WRONG_KIND)
