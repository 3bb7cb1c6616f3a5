"""A certificate from a trusted CA issued for other names: the reason names the host it is not valid
for, and the hint is not to trust the CA (it is trusted) but that the name differs."""

from __future__ import annotations

import http.server
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from registry_rig import LocalCA
from test_registry import Loopback

from okdrelease.cli import main as cli_main


class _Ok(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture
def wrong_name_server(registry_ca: LocalCA) -> Iterator[Loopback]:
    """An HTTPS server on 127.0.0.1 whose certificate (issued by the session CA) names wrong.example only."""
    cert, key = registry_ca.issue_server_cert("wrong-name", dns_names=["wrong.example"])
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = Loopback(_Ok, context)
    yield server
    server.stop()


def test_a_name_mismatch_names_the_host_and_does_not_ask_to_trust_the_ca(
    wrong_name_server: Loopback, registry_ca: LocalCA, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    host = wrong_name_server.host
    code = cli_main(
        [
            "info",
            "--certificate-authority",
            str(registry_ca.ca_file),
            "-a",
            str(tmp_path / "none.json"),
            f"{host}/ns/rel:1",
        ]
    )
    out, err = capsys.readouterr()
    assert (code, out) == (1, "")
    assert err == (
        f"error: unable to read image {host}/ns/rel:1: reading manifest {host}/ns/rel:1: registry {host}: TLS"
        " verification failed (certificate verify failed: IP address mismatch, certificate is not valid for"
        f" '127.0.0.1'); its certificate is for other host names: use a name it holds, or mark the host"
        f" insecure (--insecure-registry {host}) to accept it\n"
    )
