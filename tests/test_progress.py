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
from okdrelease.events import BlobDone, BytesMoved, Event, ImageDone, Message, RequestDone, safe_url
from okdrelease.transport.registry import STREAM_BLOCK

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
    assert re.search(r"3 requests, 3\.0 MB \[[\d:]+\]", text), text
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
    assert re.search(
        r"^info: 1 image copied, 3 blobs copied, \d+\.\d kB at [\d.]+ [kM]?B/s in \d+\.\d s; "
        r"\d+ requests: 3 blobs pushed, 1 manifest pushed, ",
        err,
        re.M,
    ), err
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


# --------------------------------------------------------------------------------------------
# Blob bytes: library events, bars on a terminal, plain lines in a pipe, the summary


def test_copy_reports_every_blobs_bytes_read_and_written(
    registry_http: RegistryInfo, unique_repo: RepoNamer, tmp_path: Path
) -> None:
    """Layout → registry → layout: per blob, the bytes read and the bytes written each add up to its size."""
    from imagegen import OCI, make_image

    from okdrelease.reference import parse_location
    from okdrelease.transport.base import TransportOptions
    from okdrelease.transport.copy import copy_location
    from okdrelease.transport.layout import LayoutRepository
    from okdrelease.transport.open import DefaultTransport

    image = make_image(
        LayoutRepository(tmp_path / "src", create=True),
        "v1",
        seed="bytes",
        layers=2,
        layer_size=3_000_000,
        flavour=OCI,
    )
    sizes = {blob.digest: len(blob.data) for blob in image.blobs}
    assert max(sizes.values()) > 2 * STREAM_BLOCK  # several reads per layer, so the counts add up
    remote = f"docker://{registry_http.host}/{unique_repo()}:v1"
    for src, dst in ((f"oci:{tmp_path / 'src'}:v1", remote), (remote, f"oci:{tmp_path / 'back'}:v1")):
        seen: list[Event] = []
        with DefaultTransport(TransportOptions(insecure=True, events=seen.append)) as transport:
            copy_location(parse_location(src), parse_location(dst), source=transport, destination=transport)
        moved: dict[tuple[str, str], int] = {}
        for event in seen:
            if isinstance(event, BytesMoved):
                assert event.total == sizes[event.digest]
                key = (event.digest, event.direction)
                moved[key] = moved.get(key, 0) + event.count
        assert moved == {(d, direction): size for d, size in sizes.items() for direction in ("read", "write")}
        outcomes = [(e.digest, e.size, e.outcome) for e in seen if isinstance(e, BlobDone)]
        assert sorted(outcomes) == sorted((d, size, "copied") for d, size in sizes.items())
        assert [e for e in seen if isinstance(e, ImageDone)] == [
            ImageDone(dst.removeprefix("docker://"), image.digest)
        ]


def _moving(reporter: Reporter, digest: str, total: int, steps: int, clock: list[float]) -> None:
    """``total`` bytes of ``digest`` read and written in ``steps`` steps, one second apart."""
    for _ in range(steps):
        clock[0] += 1.0
        reporter(BytesMoved(digest, total // steps, total, "read"))
        reporter(BytesMoved(digest, total // steps, total, "write"))
    reporter(BlobDone(digest, total, "copied"))


def test_terminal_shows_a_bar_per_big_blob_with_bytes_rate_and_eta() -> None:
    out = Terminal()
    clock = [0.0]
    reporter = Reporter(out, refresh_interval=0, bar_delay=0, clock=lambda: clock[0])
    big, small = "sha256:" + "a" * 64, "sha256:" + "b" * 64
    _moving(reporter, small, 999_999, 3, clock)  # below BAR_MIN_BYTES: no bar of its own
    for _ in range(2):
        clock[0] += 1.0
        reporter(BytesMoved(big, 20_000_000, 60_000_000, "read"))
    text = out.getvalue()
    assert re.search(r"aaaaaaaaaaaa: +\d+%\|.*\| 40\.0M/60\.0M \[[\d:]+<[\d:]+, +[\d.]+[kMGT]?B/s\]", text), (
        text
    )
    assert "bbbbbbbbbbbb" not in text
    reporter(BytesMoved(big, 20_000_000, 60_000_000, "read"))
    reporter(ImageDone("oci:/tmp/x:v1", "sha256:" + "c" * 64))
    reporter.close()
    assert out.getvalue().endswith("info: 1 image copied, 1 blob copied, 61.0 MB at 12.2 MB/s in 5.0 s\n"), (
        out.getvalue()[-300:]
    )


def test_pipe_gets_a_plain_line_for_a_slow_blob_and_quiet_gets_nothing() -> None:
    clock = [0.0]
    out = io.StringIO()
    reporter = Reporter(out, line_interval=10, clock=lambda: clock[0])
    digest = "sha256:" + "d" * 64
    _moving(reporter, digest, 150_000_000, 30, clock)
    reporter.close()
    assert out.getvalue() == (
        "info: blob dddddddddddd: 55.0 MB of 150.0 MB (36%, 5.5 MB/s)\n"
        "info: blob dddddddddddd: 105.0 MB of 150.0 MB (70%, 5.2 MB/s)\n"
    )
    assert "\r" not in out.getvalue() and "\x1b" not in out.getvalue()
    for quiet in (
        Reporter(io.StringIO(), quiet=True, clock=lambda: clock[0]),
        Reporter(Terminal(), quiet=True),
    ):
        _moving(quiet, digest, 150_000_000, 30, clock)
        quiet.close()
        assert quiet.stream.getvalue() == ""  # type: ignore[attr-defined]
    as_json = io.StringIO()
    reporter = Reporter(as_json, json_log=True, line_interval=10, clock=lambda: clock[0])
    _moving(reporter, digest, 150_000_000, 30, clock)
    reporter.close()
    events = [json.loads(line) for line in as_json.getvalue().splitlines()]
    assert [(e["event"], e.get("bytes")) for e in events] == [
        ("progress", 55_000_000),
        ("progress", 105_000_000),
        ("summary", 150_000_000),
    ]
    assert events[-1]["blobs_copied"] == 1 and events[-1]["images"] == 0


def test_cli_copy_on_a_pipe_prints_plain_lines_and_the_summary_with_v(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["copy", f"oci:{SAMPLE}:hyperkube", f"oci:{tmp_path / 'copy'}:hyperkube"]) == 0
    err = capsys.readouterr().err
    assert "\r" not in err and "\x1b" not in err
    assert err.splitlines() and all(
        line.startswith(("Copying blob ", "Writing manifest ", "warning: ")) for line in err.splitlines()
    )
    assert main(["-v", "copy", f"oci:{SAMPLE}:hyperkube", f"oci:{tmp_path / 'again'}:hyperkube"]) == 0
    last = capsys.readouterr().err.splitlines()[-1]
    assert re.fullmatch(
        r"info: 1 image copied, \d+ blobs (copied|mounted), [\d.]+ [kM]?B at \S+ \S+/s in \d+\.\d s", last
    ), last
    assert (
        main(["-q", "copy", "--format", "oci", f"oci:{SAMPLE}:hyperkube", f"oci:{tmp_path / 'quiet'}:h"]) == 0
    )
    assert capsys.readouterr().err == ""
