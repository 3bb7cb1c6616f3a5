"""Issue 11 findings of the transport: concurrent layout writers, limits, inputs refused, flags checked."""

from __future__ import annotations

import io
import json
import math
import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from imagegen import build_image, push_image
from registry_rig import RegistryInfo, RepoNamer, TokenServer
from test_faults import ROOT, cli, new_args
from test_registry import options_for, repo_at

from okdrelease.errors import LayoutError, UsageError
from okdrelease.oci import mediatypes as mt
from okdrelease.oci.digest import sha256_digest
from okdrelease.oci.model import Descriptor
from okdrelease.transport.base import MAX_MANIFEST_SIZE, REFUSED, BlobMount, Repository, TransportOptions
from okdrelease.transport.client import RegistryClient
from okdrelease.transport.copy import copy_blobs
from okdrelease.transport.http import RetryPolicy, parse_duration
from okdrelease.transport.layout import REF_NAME, LayoutRepository

WRITERS = 8
TAGS_EACH = 6

# --------------------------------------------------------------------------------------------
# Layout writers in several processes


def _write_tags(path: str, writer: int, start: multiprocessing.synchronize.Event) -> None:  # type: ignore[name-defined]
    repo = LayoutRepository(path)
    images = [build_image(seed=f"w{writer}-{n}", layers=1, layer_size=64) for n in range(TAGS_EACH)]
    start.wait(10)
    for n, image in enumerate(images):
        push_image(repo, image, f"w{writer}-t{n}")


def test_concurrent_processes_writing_one_layout_keep_every_tag(tmp_path: Path) -> None:
    """Eight processes tagging into one layout at once: every tag present, each pointing at its image."""
    path = tmp_path / "layout"
    LayoutRepository(path, create=True)
    context = multiprocessing.get_context("fork")
    start = context.Event()
    workers = [context.Process(target=_write_tags, args=(str(path), w, start)) for w in range(WRITERS)]
    for worker in workers:
        worker.start()
    start.set()
    for worker in workers:
        worker.join(60)
    assert [w.exitcode for w in workers] == [0] * WRITERS
    index = json.loads((path / "index.json").read_text())
    tags = {entry["annotations"][REF_NAME]: entry["digest"] for entry in index["manifests"]}
    expected = {
        f"w{w}-t{n}": build_image(seed=f"w{w}-{n}", layers=1, layer_size=64).digest
        for w in range(WRITERS)
        for n in range(TAGS_EACH)
    }
    assert tags == expected
    assert len(index["manifests"]) == WRITERS * TAGS_EACH


# --------------------------------------------------------------------------------------------
# Limits


def test_layout_refuses_a_manifest_over_the_registry_cap(tmp_path: Path) -> None:
    repo = LayoutRepository(tmp_path, create=True)
    huge = json.dumps(
        {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": [], "pad": "x" * MAX_MANIFEST_SIZE}
    ).encode()
    digest = sha256_digest(huge)
    (tmp_path / "blobs" / "sha256" / digest.split(":")[1]).write_bytes(huge)
    index = json.loads((tmp_path / "index.json").read_text())
    index["manifests"].append(
        {"mediaType": mt.OCI_INDEX, "digest": digest, "size": len(huge), "annotations": {REF_NAME: "big"}}
    )
    (tmp_path / "index.json").write_text(json.dumps(index))
    for reference in ("big", digest):
        with pytest.raises(LayoutError) as err:
            repo.get_manifest(reference)
        assert str(err.value) == (
            f"manifest {digest} ({reference}) in oci:{tmp_path} is larger than {MAX_MANIFEST_SIZE} bytes"
        )


def test_retry_policy_deadline_and_backoff() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    retrier = RetryPolicy(retries=10, max_delay=4.0, deadline=6.0).start(sleep=sleep, clock=lambda: now[0])
    # 0.25 + 0.5 + 1 + 2 = 3.75 s; the next wait (4 s) would end past the 6 s deadline.
    assert [retrier.again("x", "busy") for _ in range(5)] == [True, True, True, True, False]
    assert slept == [0.25, 0.5, 1.0, 2.0]
    assert RetryPolicy(max_delay=5.0).delay(0, "30") == 5.0
    with pytest.raises(UsageError, match="must not be negative"):
        RetryPolicy(retries=-1)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90.0),
        ("1m30s", 90.0),
        ("500ms", 0.5),
        ("2", 2.0),
        ("1h", 3600.0),
        ("2562047h", 9223369200.0),
        # Go's time.ParseDuration forms (each accepted by oc's --timeout flag of oc wait too).
        ("+5s", 5.0),
        ("1h2m3.5s", 3723.5),
        ("1.5h", 5400.0),
        (".5s", 0.5),
        ("1.s", 1.0),
        ("250us", 0.00025),
        ("250\u00b5s", 0.00025),
        ("250\u03bcs", 0.00025),
        ("1500000000ns", 1.5),
        ("1s500ms", 1.5),
        ("9223372036854775807ns", (2**63 - 1) / 1e9),
    ],
)
def test_timeout_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


# --------------------------------------------------------------------------------------------
# Command-line inputs refused


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--retry-times", "-5"], "error: --retry-times must not be negative (got -5)"),
        # What Go's time.ParseDuration refuses, in its words as oc's duration flags give them (oc wait --timeout).
        (
            ["--timeout", "soon"],
            'error: invalid argument "soon" for "--timeout" flag: time: invalid duration "soon"',
        ),
        (
            ["--timeout", "1x"],
            'error: invalid argument "1x" for "--timeout" flag: time: unknown unit "x" in duration "1x"',
        ),
        (
            ["--timeout", '1"s'],
            'error: invalid argument "1\\"s" for "--timeout" flag: time: unknown unit "\\"s" in duration "1\\"s"',
        ),
        (
            ["--timeout", "1\ts"],
            'error: invalid argument "1\\ts" for "--timeout" flag: time: unknown unit "\\x09s" in duration "1\\x09s"',
        ),
        (
            ["--timeout", "1.5.5s"],
            'error: invalid argument "1.5.5s" for "--timeout" flag: time: missing unit in duration "1.5.5s"',
        ),
        (
            ["--timeout", ".s"],
            'error: invalid argument ".s" for "--timeout" flag: time: invalid duration ".s"',
        ),
        (
            ["--timeout", "1e3s"],
            'error: invalid argument "1e3s" for "--timeout" flag: time: unknown unit "e" in duration "1e3s"',
        ),
        (
            ["--timeout", "1\u00b5x"],
            'error: invalid argument "1\u00b5x" for "--timeout" flag: time: unknown unit "\\xc2\\xb5x" in duration'
            ' "1\\xc2\\xb5x"',
        ),
        (
            ["--timeout", "0s"],
            'error: invalid argument "0s" for "--timeout" flag: the duration must be positive',
        ),
        # A signed duration is a duration (before: 'expected a duration'); a negative one is not positive.
        (
            ["--timeout=-1s"],
            'error: invalid argument "-1s" for "--timeout" flag: the duration must be positive',
        ),
        (
            ["--timeout=-1.5h"],
            'error: invalid argument "-1.5h" for "--timeout" flag: the duration must be positive',
        ),
        (
            ["--timeout=-2562047h47m16.854775808s"],
            'error: invalid argument "-2562047h47m16.854775808s" for "--timeout" flag: the duration must be positive',
        ),
        # Not a number or not finite: refused before the options are made (exit 2).
        (
            ["--timeout", "nan"],
            'error: invalid argument "nan" for "--timeout" flag: time: invalid duration "nan"',
        ),
        (
            ["--timeout", "inf"],
            'error: invalid argument "inf" for "--timeout" flag: time: invalid duration "inf"',
        ),
        (
            ["--timeout=-1"],
            'error: invalid argument "-1" for "--timeout" flag: the duration must be positive',
        ),
        (
            ["--timeout", "9223372036854775808ns"],
            'error: invalid argument "9223372036854775808ns" for "--timeout" flag: time: invalid duration'
            ' "9223372036854775808ns"',
        ),
        # Past Go's largest duration (2562047h47m16.854775807s): oc's (pflag's and Go's) words.
        (
            ["--timeout", "2562048h"],
            'error: invalid argument "2562048h" for "--timeout" flag: time: invalid duration "2562048h"',
        ),
        (
            ["--timeout", "99999999999h"],
            'error: invalid argument "99999999999h" for "--timeout" flag: time: invalid duration "99999999999h"',
        ),
    ],
)
def test_bad_retry_and_timeout_flags_are_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str], message: str
) -> None:
    for command in (
        ["copy", *flags, f"oci:{tmp_path}/a:x", f"oci:{tmp_path}/b:x"],
        ["info", *flags, "x/y:z"],
    ):
        code, out, err = cli(capsys, *command)
        assert (code, out) == (2, "")
        assert err.splitlines()[0] == message, err
        assert not (tmp_path / "b").exists()


@pytest.mark.parametrize("command", ["copy", "info"])
def test_port_out_of_range_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    argv = (
        ["copy", "127.0.0.1:99999/x:y", f"oci:{tmp_path}/out:y"]
        if command == "copy"
        else ["info", "127.0.0.1:99999/x:y"]
    )
    code, out, err = cli(capsys, *argv)
    assert (code, out) == (1, "")
    frame = "" if command == "copy" else "unable to read image 127.0.0.1:99999/x:y: "  # info: oc's frame
    assert err == (
        f"error: {frame}reading manifest 127.0.0.1:99999/x:y: invalid registry address 127.0.0.1:99999:"
        " the port must be a number from 1 to 65535\n"
    )


# --------------------------------------------------------------------------------------------
# A missing password and a wrong one are told apart


def _seed(info: RegistryInfo, name: str, tmp_path: Path) -> str:
    layout = tmp_path / "src"
    push_image(LayoutRepository(layout, create=True), build_image(seed=name, layers=1, layer_size=64), "v1")
    return f"oci:{layout}:v1"


def test_basic_auth_missing_and_wrong_password_named_by_source(
    registry_basic: RegistryInfo, unique_repo: RepoNamer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name = unique_repo()
    source = _seed(registry_basic, name, tmp_path)
    empty = tmp_path / "empty.json"
    empty.write_text('{"auths": {}}')
    wrong = tmp_path / "wrong.json"
    config = registry_basic.docker_config()
    config["auths"][registry_basic.host]["auth"] = (
        "YWxpY2U6bm90LWhlci1wYXNzd29yZA=="  # alice:not-her-password
    )
    wrong.write_text(json.dumps(config))
    ca = ["--certificate-authority", str(registry_basic.ca_file), "--retry-times", "0"]
    target = f"{registry_basic.host}/{name}:v1"
    code, _, missing = cli(capsys, "copy", *ca, "--authfile", str(empty), source, target)
    assert code == 1
    assert missing.endswith(f"; no credentials for {registry_basic.host} in {empty}\n"), missing
    assert missing.startswith("error: ") and "HTTP 401" in missing
    code, _, refused = cli(capsys, "copy", *ca, "--authfile", str(wrong), source, target)
    assert code == 1
    assert refused.endswith(f"; credentials from {wrong} ({registry_basic.host})\n"), refused
    assert "not-her-password" not in refused and "YWxpY2U6" not in refused


def test_token_auth_missing_and_wrong_password_named_by_source(
    registry_token: RegistryInfo,
    token_server: TokenServer,
    unique_repo: RepoNamer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    name = unique_repo()
    source = _seed(registry_token, name, tmp_path)
    empty = tmp_path / "empty.json"
    empty.write_text("{}")
    ca = ["--certificate-authority", str(registry_token.ca_file), "--retry-times", "0"]
    target = f"{registry_token.host}/{name}:v1"
    code, _, missing = cli(capsys, "copy", *ca, "--authfile", str(empty), source, target)
    assert code == 1
    # The token server hands anonymous users a token without rights; the registry refuses it.
    assert (
        missing.startswith(f"error: checking blob {registry_token.host}/{name}@sha256:")
        and "HTTP 401" in missing
    )
    assert missing.endswith(f"; no credentials for {registry_token.host} in {empty}\n"), missing
    code, _, refused = cli(
        capsys,
        "copy",
        *ca,
        "--authfile",
        str(empty),
        "--dest-creds",
        "alice:not-her-password",
        source,
        target,
    )
    assert code == 1
    assert "refused the credentials" in refused
    assert refused.endswith("; credentials from command line\n"), refused
    assert "not-her-password" not in refused


def test_options_refuse_impossible_values() -> None:
    with pytest.raises(UsageError, match="must not be negative"):
        TransportOptions(retries=-5)
    with pytest.raises(UsageError, match="timeout must be a positive, finite number of seconds"):
        TransportOptions(timeout=0)


@pytest.mark.parametrize("timeout", [math.nan, math.inf, -math.inf, -1.0, 0.0])
def test_options_refuse_a_timeout_that_is_not_a_positive_finite_number(timeout: float) -> None:
    # NaN passed every comparison before, and infinity reached socket.settimeout mid-run as an
    # OverflowError; both are refused when the options are made, in the same words as zero.
    with pytest.raises(UsageError) as refused:
        TransportOptions(timeout=timeout)
    assert str(refused.value) == (
        f"the request timeout must be a positive, finite number of seconds (got {timeout})"
    )


@pytest.mark.parametrize("field", ["retry_deadline", "retry_max_sleep"])
def test_options_refuse_a_nan_retry_time(field: str) -> None:
    with pytest.raises(UsageError) as refused:
        TransportOptions(**{field: math.nan})
    assert str(refused.value) == "retry delays must not be negative and the deadline must be positive"


# --------------------------------------------------------------------------------------------
# Eight `new` processes at once into one layout and into one registry repository


def _new_processes(targets: list[str], *extra: str) -> list[subprocess.CompletedProcess[str]]:
    """Run ``okdrelease new`` on the sample payload once per target, all at the same time."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "okdrelease", *new_args(target), *extra, "-q"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for target in targets
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=240)
        results.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    return results


def _odd_runs(repo: Repository, tags: list[str], keep: Path) -> str:
    """What differs between releases that should be identical: per distinct release digest, its
    tags, config, and the payload files whose bytes differ from the first release's (each release's
    payload layer is kept under ``keep`` for a later look); a flaky mismatch leaves its evidence."""
    import gzip
    import hashlib
    import tarfile

    keep.mkdir(parents=True, exist_ok=True)
    by_digest: dict[str, list[str]] = {}
    for tag in tags:
        by_digest.setdefault(repo.resolve(tag).digest, []).append(tag)
    files: dict[str, dict[str, str]] = {}
    lines = []
    for digest, named in by_digest.items():
        manifest = repo.get_manifest(digest)
        payload = repo.read_blob(manifest.layers[-1].digest)
        (keep / f"{named[0]}.tar.gz").write_bytes(payload)
        with tarfile.open(fileobj=io.BytesIO(gzip.decompress(payload))) as tar:
            files[digest] = {
                m.name: f"{m.mtime}:{hashlib.sha256(tar.extractfile(m).read()).hexdigest()}"  # type: ignore[union-attr]
                for m in tar.getmembers()
                if m.isfile()
            }
        lines.append(f"{digest} {named} config {manifest.config.digest}")  # type: ignore[union-attr]
    first = files[next(iter(files))]
    for digest, found in files.items():
        changed = sorted(n for n in first.keys() | found.keys() if first.get(n) != found.get(n))
        lines.append(f"{digest}: {len(changed)} payload files differ: {changed[:20]}")
    return f"payload layers kept in {keep}\n" + "\n".join(lines)


def test_eight_new_runs_into_one_layout_keep_every_tag(tmp_path: Path) -> None:
    tags = [f"run{n}" for n in range(WRITERS)]
    results = _new_processes([f"oci:{tmp_path / 'out'}:{tag}" for tag in tags])
    assert [(r.returncode, r.stderr) for r in results] == [(0, "")] * WRITERS
    digests = {r.stdout.split()[0] for r in results}
    layout = LayoutRepository(tmp_path / "out")
    assert len(digests) == 1, _odd_runs(layout, tags, tmp_path / "odd")  # identical inputs, identical release
    assert sorted(layout.list_tags()) == tags
    assert {layout.resolve(tag).digest for tag in tags} == digests


def test_eight_new_runs_into_one_registry_repository(
    registry_http: RegistryInfo, unique_repo: RepoNamer, tmp_path: Path
) -> None:
    name = unique_repo("okd")
    tags = [f"run{n}" for n in range(WRITERS)]
    results = _new_processes(
        [f"{registry_http.host}/{name}:{tag}" for tag in tags], "--insecure-registry", registry_http.host
    )
    assert [(r.returncode, r.stderr) for r in results] == [(0, "")] * WRITERS
    digests = {r.stdout.split()[0] for r in results}
    with RegistryClient(options_for(registry_http)) as client:
        repo = repo_at(client, registry_http.host, name)
        assert len(digests) == 1, _odd_runs(repo, tags, tmp_path / "odd")
        assert sorted(repo.list_tags()) == tags
        assert {repo.resolve(tag).digest for tag in tags} == digests


# --------------------------------------------------------------------------------------------
# The first permanent failure cancels the rest of a parallel copy


class _SlowSource(LayoutRepository):
    """A layout whose blob ``slow`` trickles out one small read per 50 ms (a copy that is running)."""

    slow = ""
    reads = 0

    def open_blob(self, digest: str, size: int | None = None):  # type: ignore[no-untyped-def]
        stream = super().open_blob(digest, size)
        if digest != self.slow:
            return stream
        outer = self

        class Trickle(io.RawIOBase):
            def readable(self) -> bool:
                return True

            def read(self, n: int = -1) -> bytes:
                outer.reads += 1
                time.sleep(0.05)
                return stream.read(16)

            def close(self) -> None:
                stream.close()
                super().close()

        return Trickle()


class _RefusingDest(LayoutRepository):
    """A layout that refuses to store blob ``refused`` (a permanent failure)."""

    refused = ""

    def mount_blob(self, digest: str, source: Repository) -> BlobMount:
        return REFUSED  # copy every blob through put_blob

    def put_blob(self, source, digest: str, size: int | None = None) -> None:  # type: ignore[no-untyped-def]
        if digest == self.refused:
            raise LayoutError(f"cannot write blob {digest}: refused")
        super().put_blob(source, digest, size)


def test_first_permanent_failure_stops_running_copies(tmp_path: Path) -> None:
    image = build_image(seed="cancel", layers=2, layer_size=4096)
    src = _SlowSource(tmp_path / "src", create=True)
    push_image(src, image, "v1")
    slow, refused = image.layers[0], image.layers[1]
    src.slow = slow.digest
    dst = _RefusingDest(tmp_path / "dst", create=True)
    dst.refused = refused.digest
    blobs = [Descriptor(b.media_type, b.digest, len(b.data)) for b in (slow, refused)]
    started = time.monotonic()
    with pytest.raises(LayoutError, match=f"cannot write blob {refused.digest}: refused"):
        copy_blobs(src, dst, blobs, workers=2)
    # The slow copy (several hundred reads of 16 bytes) stopped at its next read, not at its end.
    assert src.reads < len(slow.data) // 16 // 4
    assert not dst.has_blob(slow.digest)
    assert time.monotonic() - started < len(slow.data) // 16 * 0.05 / 4
