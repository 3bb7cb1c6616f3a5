"""Progress and logs on stderr: the reporter (okdrelease/_cli/progress.py) and library events."""

from __future__ import annotations

import base64
import io
import json
import logging
import re
from pathlib import Path

import pytest
from registry_rig import RegistryInfo, RepoNamer

from okdrelease._cli.progress import Reporter, Tally, human_bytes
from okdrelease.cli import main
from okdrelease.events import Message, RequestDone, safe_url

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "testdata" / "sample-payload"
BLOB = "http://r:5000/v2/a/b/blobs/sha256:" + "0" * 64


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def request(method: str, url: str, status: int, received: int = 0, sent: int = 0) -> RequestDone:
    return RequestDone(method, url, status, received, sent, 0.0125)


def test_safe_url_drops_credentials_query_and_fragment() -> None:
    assert safe_url("https://alice:s3cret@quay.io:443/v2/a/blobs/x?X-Amz-Signature=abc#f") == (
        "https://quay.io:443/v2/a/blobs/x"
    )
    assert safe_url("http://[::1]:5000/v2/?scope=repository:a:pull") == "http://[::1]:5000/v2/"
    assert safe_url("https://token.example/auth") == "https://token.example/auth"


def test_message_from_line() -> None:
    assert Message.from_line("info: Loading 3 images") == Message("info", "Loading 3 images")
    assert Message.from_line("warning: x: y") == Message("warning", "x: y")
    assert Message.from_line("Copying blob sha256:1") == Message("info", "Copying blob sha256:1")


def test_tally_classifies_requests_and_summarises() -> None:
    tally = Tally()
    for event in (
        request("GET", "http://r:5000/v2/", 401),
        request("GET", BLOB, 200, received=2_500_000),
        request("HEAD", BLOB, 200),
        request("HEAD", BLOB, 404),
        request("POST", "http://r:5000/v2/a/b/blobs/uploads/", 201),
        request("POST", "http://r:5000/v2/a/b/blobs/uploads/", 202),
        request("PUT", "http://r:5000/v2/a/b/blobs/uploads/u-1", 201, sent=1500),
        request("GET", "http://r:5000/v2/a/b/manifests/v1", 200, received=700),
        request("PUT", "http://r:5000/v2/a/b/manifests/v2", 201, sent=700),
    ):
        tally.add(event)
    assert (tally.requests, tally.fetched, tally.present, tally.mounted, tally.pushed) == (9, 1, 1, 1, 1)
    assert (tally.manifests_read, tally.manifests_pushed, tally.received, tally.sent) == (
        1,
        1,
        2_500_700,
        2200,
    )
    assert tally.summary(2.04) == (
        "9 requests in 2.0 s: 1 blob fetched, 1 blob pushed, 1 blob mounted, 1 blob already present, "
        "1 manifest read, 1 manifest pushed, 2.5 MB received, 2.2 kB sent"
    )
    assert [human_bytes(n) for n in (0, 999, 1000, 1_234_567, 5e12)] == [
        "0 B",
        "999 B",
        "1.0 kB",
        "1.2 MB",
        "5000.0 GB",
    ]


def test_plain_stream_shows_lines_as_they_are_and_no_trace_without_v() -> None:
    out = io.StringIO()
    reporter = Reporter(out)
    reporter.line("info: Loading 3 images")
    reporter(request("GET", BLOB, 200, received=10))
    reporter(Message("warning", "odd"))
    reporter.close()
    assert out.getvalue() == "info: Loading 3 images\nwarning: odd\n"


def test_quiet_shows_only_errors() -> None:
    out = io.StringIO()
    reporter = Reporter(out, quiet=True, verbose=1)
    reporter.line("info: Loading")
    reporter(request("GET", BLOB, 200))
    reporter(Message("warning", "odd"))
    reporter.error("registry r:5000: HTTP 401")
    reporter.close()
    assert out.getvalue() == "error: registry r:5000: HTTP 401\n"


def test_verbose_traces_each_request_and_summarises() -> None:
    out = io.StringIO()
    reporter = Reporter(out, verbose=1)
    reporter(request("GET", BLOB, 200, received=1234))
    reporter.close()
    lines = out.getvalue().splitlines()
    assert lines[0] == f"trace: GET {BLOB} 200 1.2 kB 0.013 s"
    assert re.fullmatch(r"info: 1 request in \d+\.\d s: 1 blob fetched, 1\.2 kB received, 0 B sent", lines[1])
    assert len(lines) == 2


def test_json_log_format() -> None:
    out = io.StringIO()
    reporter = Reporter(out, verbose=1, json_log=True)
    reporter.line("info: Loading 3 images")
    reporter(request("PUT", "http://r:5000/v2/a/b/manifests/v1", 201, sent=700))
    logging.getLogger("okdrelease.test").addHandler(handler := _handler(reporter))
    try:
        logging.getLogger("okdrelease.test").warning("careful %s", "now")
    finally:
        logging.getLogger("okdrelease.test").removeHandler(handler)
    reporter.error("boom")
    reporter.close()
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", e.pop("time")) for e in events)
    assert events[0] == {"event": "message", "level": "info", "message": "Loading 3 images"}
    assert events[1] == {
        "event": "request",
        "method": "PUT",
        "url": "http://r:5000/v2/a/b/manifests/v1",
        "status": 201,
        "received": 0,
        "sent": 700,
        "seconds": 0.0125,
    }
    assert events[2] == {
        "event": "log",
        "level": "warning",
        "logger": "okdrelease.test",
        "message": "careful now",
    }
    assert events[3] == {"event": "error", "level": "error", "message": "boom"}
    assert events[4]["event"] == "summary" and events[4]["manifests_pushed"] == 1 and events[4]["sent"] == 700


def _handler(reporter: Reporter) -> logging.Handler:
    from okdrelease._cli.progress import ReporterLogHandler

    return ReporterLogHandler(reporter, logging.INFO)


def test_terminal_draws_a_bar_and_ends_with_a_summary() -> None:
    out = Terminal()
    reporter = Reporter(out, refresh_interval=0)
    reporter.line("info: Loading")
    for _ in range(3):
        reporter(request("GET", BLOB, 200, received=1_000_000))
    reporter.close()
    text = out.getvalue()
    assert "info: Loading\n" in text
    assert re.search(r"3 requests \[.*\], 3\.0 MB", text), text
    assert re.search(r"info: 3 requests in \d+\.\d s: 3 blobs fetched, 3\.0 MB received, 0 B sent\n$", text)
    quiet = Terminal()
    reporter = Reporter(quiet, quiet=True)
    reporter(request("GET", BLOB, 200))
    reporter.close()
    assert quiet.getvalue() == ""


def test_cli_traces_registry_requests_without_credentials(
    registry_basic: RegistryInfo, unique_repo: RepoNamer, capsys: pytest.CaptureFixture[str]
) -> None:
    password = registry_basic.users["alice"]
    dst = f"docker://{registry_basic.host}/{unique_repo()}:traced"
    argv = ["--certificate-authority", str(registry_basic.ca_file), "--dest-creds", f"alice:{password}"]
    capsys.readouterr()
    assert main(["-v", "copy", *argv, f"oci:{SAMPLE}:hyperkube", dst]) == 0
    err = capsys.readouterr().err
    secrets = (password, base64.b64encode(f"alice:{password}".encode()).decode())
    assert not any(secret in err for secret in secrets)
    host = re.escape(registry_basic.host)
    assert re.search(
        rf"^trace: PUT https://{host}/v2/[^ ]+/manifests/traced 201 \d+ B \d+\.\d{{3}} s$", err, re.M
    )
    assert re.search(rf"^trace: GET https://{host}/v2/ 401 ", err, re.M)
    assert re.search(r"^info: \d+ requests in .* 1 manifest pushed", err, re.M)
    assert "?" not in "".join(line for line in err.splitlines() if line.startswith("trace: "))

    assert main(["copy", "--log-format", "json", "-v", *argv, f"oci:{SAMPLE}:hyperkube", dst]) == 0
    err = capsys.readouterr().err
    assert not any(secret in err for secret in secrets)
    events = [json.loads(line) for line in err.splitlines()]
    assert {e["event"] for e in events} >= {"message", "request", "summary"}
    assert events[-1]["event"] == "summary" and events[-1]["requests"] == sum(
        e["event"] == "request" for e in events
    )


def test_cli_without_v_on_a_pipe_prints_no_trace_or_summary(
    registry_http: RegistryInfo, unique_repo: RepoNamer, capsys: pytest.CaptureFixture[str]
) -> None:
    dst = f"docker://{registry_http.host}/{unique_repo()}:plain"
    capsys.readouterr()
    assert main(["copy", "--dest-tls-verify=false", f"oci:{SAMPLE}:hyperkube", dst]) == 0
    err = capsys.readouterr().err
    assert err and not any(line.startswith(("trace:", "info: ")) for line in err.splitlines()), err


def test_error_ending_with_a_newline_gets_no_second_one() -> None:
    """oc prints "...got: - a\\n- b\\n" (a manifest excerpt) without adding a blank line; so do we."""
    stream = io.StringIO()
    reporter = Reporter(stream)
    reporter.error("f.yaml: not a valid YAML/JSON object, got: - a\n- b\n")
    reporter.error("plain")
    assert stream.getvalue() == "error: f.yaml: not a valid YAML/JSON object, got: - a\n- b\nerror: plain\n"
