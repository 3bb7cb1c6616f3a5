"""Reading containers/image's signature fixtures (../shared, never copied into the repository), and
a loopback HTTP signature store."""

from __future__ import annotations

import http.server
from pathlib import Path

import pytest

from okdrelease import cli

FIXTURES = Path(__file__).resolve().parents[2] / ".." / "shared" / "fixtures" / "containers-image-signature"


def fixture(name: str) -> bytes:
    """Read a containers/image fixture; the copy turned its symlinks into files holding the link target."""
    path = FIXTURES / name
    data = path.read_bytes()
    while len(data) < 100 and data.startswith(b"../"):
        path = path.parent / data.decode().strip()
        data = path.read_bytes()
    return data


class StoreHandler(http.server.BaseHTTPRequestHandler):
    """A signature store answering ``responses[path]`` (404 otherwise); records each request's path
    in ``seen`` and its Authorization header in ``authorization``. Subclass it per server."""

    responses: dict[str, tuple[int, bytes]] = {}
    seen: list[str] = []
    authorization: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        self.seen.append(self.path)
        self.authorization.append(self.headers.get("Authorization", ""))
        status, body = self.responses.get(self.path, (404, b""))
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server API
        return


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``cli.main(argv)``: its exit code, standard output and standard error."""
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err
