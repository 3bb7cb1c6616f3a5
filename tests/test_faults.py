"""Fault matrix: ``copy``, ``info`` and ``new`` through a proxy that breaks the registry's answers.

Each transient fault (one occurrence) must end in success with the exact result of a clean run;
each permanent fault (every occurrence) in exit 1 and one ``error:`` line naming what failed,
after at most ``retries + 1`` attempts of the failing request (the time bound: attempts, not wall
time). The runs use ``--retry-times 2``, ``--timeout 1s`` against stalls and Retry-After of 0-1 s
so they stay fast.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest
from faultproxy import FaultProxy, Rule
from imagegen import GeneratedImage, build_image, push_image
from proxied_cli import ProxiedCli, cli
from registry_rig import RegistryInfo, RepoNamer
from test_registry import options_for, repo_at

from okdrelease.cli import main
from okdrelease.errors import NotFoundError
from okdrelease.transport.client import RegistryClient
from okdrelease.transport.layout import LayoutRepository
from okdrelease.transport.registry import SMALL_BLOB

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "testdata" / "sample-payload"
RELEASE = "4.16.0-okd.sample"
RETRIES = 2
#: A timeout no healthy request comes near even on a loaded machine, so only injected faults fail.
FAST = ("--retry-times", str(RETRIES), "--timeout", "20s", "-q")
#: Stall cases: the proxy says nothing for 6 s; the client gives up after 1 s (as test_faults_refetch's base
#: layer timeout: a healthy answer on loopback comes in far less).
STALLING = ("--retry-times", str(RETRIES), "--timeout", "1s", "-q")
#: One fault of each kind a response can suffer (extra Rule arguments beside the name).
RESPONSE_FAULTS: dict[str, dict[str, object]] = {
    "reset": {},
    "reset-body": {},
    "truncate": {},
    "flip": {},
    "stall": {"stall": 6.0},
    "503": {"status": 503, "retry_after": "0"},
    "429": {"status": 429, "retry_after": "1"},
}


def rule(method: str, path: str, fault: str, times: int | None = 1) -> Rule:
    """A rule for one of ``RESPONSE_FAULTS`` (503/429 are ``status`` faults)."""
    extra = dict(RESPONSE_FAULTS.get(fault, {}))
    kind = "status" if fault in ("503", "429", "500") else fault
    return Rule(method, path, kind, times=times, **extra)  # type: ignore[arg-type]


def flags(fault: str) -> tuple[str, ...]:
    """Retry and timeout flags for a run through ``fault``."""
    return STALLING if fault == "stall" else FAST


def one_error_line(err: str) -> str:
    """The single ``error:`` line of a failed run (no traceback, no internal error)."""
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "internal error" not in err and "Traceback" not in err
    return lines[0]


def big_image(seed: str) -> GeneratedImage:
    """One layer larger than SMALL_BLOB (streamed, resumed) and a small config (read whole)."""
    image = build_image(seed=seed, layers=1, layer_size=SMALL_BLOB + (512 << 10))
    assert image.layers[0].data.__len__() > SMALL_BLOB
    return image


def seed_registry(info: RegistryInfo, name: str, image: GeneratedImage) -> None:
    """Push ``image`` as ``name:v1`` straight to the registry (not through the proxy)."""
    with RegistryClient(options_for(info)) as client:
        push_image(repo_at(client, info.host, name), image, "v1")


def seed_layout(path: Path, image: GeneratedImage) -> str:
    """Write ``image`` as ``oci:PATH:v1``."""
    push_image(LayoutRepository(path, create=True), image, "v1")
    return f"oci:{path}:v1"


def target_path(image: GeneratedImage, target: str) -> str:
    """The request path pattern of the layer blob, the config blob or the tagged manifest."""
    if target == "layer":
        return f"/blobs/{image.layers[0].digest}$"
    if target == "config":
        return f"/blobs/{image.config.digest}$"
    return "/manifests/v1$"


# --------------------------------------------------------------------------------------------
# copy: registry -> layout (every read fault) and layout -> registry (every upload fault)


@pytest.fixture(scope="module")
def download_source(registry_http: RegistryInfo) -> tuple[str, GeneratedImage]:
    """One big image pushed straight to the registry as NAME:v1: (NAME, image), for every download
    test (they only read it; each has its own proxy, layout and cache)."""
    name = RepoNamer("faults-download")()
    image = big_image("download")
    seed_registry(registry_http, name, image)
    return name, image


@pytest.mark.parametrize("target", ["layer", "config", "manifest"])
@pytest.mark.parametrize("fault", sorted(RESPONSE_FAULTS))
def test_copy_download_survives_one_fault(
    proxy: FaultProxy,
    proxied: ProxiedCli,
    download_source: tuple[str, GeneratedImage],
    tmp_path: Path,
    fault: str,
    target: str,
) -> None:
    name, image = download_source
    path = target_path(image, target)
    injected = proxy.add(rule("GET", path, fault)).rules[0]
    code, out, err = proxied.copy(proxied.image(name), f"oci:{tmp_path}:v1", *flags(fault))
    assert (code, out) == (0, image.digest + "\n"), err
    assert injected.injected == 1
    copied = LayoutRepository(tmp_path)
    for blob in image.blobs:
        assert copied.read_blob(blob.digest) == blob.data
    assert copied.resolve("v1").digest == image.digest
    # The faulted request and exactly one more: a streamed layer resumes where it broke off.
    requests = proxy.seen("GET", path)
    assert len(requests) == 2
    if target == "layer" and fault in ("reset-body", "truncate", "stall"):
        assert requests[1].range is not None and requests[1].range.startswith("bytes=")
        assert requests[1].range != "bytes=0-"


@pytest.mark.parametrize("target", ["layer", "config", "manifest"])
@pytest.mark.parametrize("fault", ["reset-body", "flip", "503", "stall"])
def test_copy_download_permanent_fault_is_one_clear_line(
    proxy: FaultProxy,
    proxied: ProxiedCli,
    download_source: tuple[str, GeneratedImage],
    tmp_path: Path,
    fault: str,
    target: str,
) -> None:
    name, image = download_source
    path = target_path(image, target)
    proxy.add(rule("GET", path, fault, times=None))
    code, _out, err = proxied.copy(proxied.image(name), f"oci:{tmp_path}:v1", *flags(fault))
    assert code == 1
    line = one_error_line(err)
    named = image.layers[0].digest if target == "layer" else image.config.digest
    assert (named if target != "manifest" else f"manifest {proxy.host}/{name}:v1") in line
    expected = {
        "reset-body": "connection broken",
        "flip": "does not match its digest",
        "503": "HTTP 503 (FAULT: injected)",
        "stall": "timed out",
    }[fault]
    if target == "manifest" and fault == "flip":
        expected = "does not match the registry's digest"
    assert expected in line
    assert proxy.count("GET", path) == RETRIES + 1
    assert not (tmp_path / "index.json").exists() or LayoutRepository(tmp_path).list_tags() == []


@pytest.mark.parametrize(
    ("method", "path", "fault"),
    [
        ("POST", "/blobs/uploads/$", "503"),
        ("PUT", "/blobs/uploads/", "503"),
        ("PUT", "/blobs/uploads/", "429"),
        ("PUT", "/blobs/uploads/", "reset"),
        ("PUT", "/manifests/v1$", "503"),
        ("PUT", "/manifests/v1$", "reset"),
        ("HEAD", "/blobs/", "503"),
    ],
)
def test_copy_upload_survives_one_fault(
    proxy: FaultProxy,
    proxied: ProxiedCli,
    registry_http: RegistryInfo,
    unique_repo: RepoNamer,
    tmp_path: Path,
    method: str,
    path: str,
    fault: str,
) -> None:
    name = unique_repo()
    image = big_image(f"ul-{method}-{fault}")
    source = seed_layout(tmp_path / "src", image)
    injected = proxy.add(rule(method, path, fault)).rules[0]
    code, out, err = proxied.copy(source, proxied.image(name), *flags(fault))
    assert (code, out) == (0, image.digest + "\n"), err
    assert injected.injected == 1
    with RegistryClient(options_for(registry_http)) as client:
        repo = repo_at(client, registry_http.host, name)
        assert repo.resolve("v1").digest == image.digest
        for blob in image.blobs:
            assert repo.read_blob(blob.digest) == blob.data
    assert proxy.count(method, path) == (len(image.blobs) + 1 if path.startswith("/blobs/") else 2)


def test_copy_upload_permanent_fault_leaves_no_tag(
    proxy: FaultProxy,
    proxied: ProxiedCli,
    registry_http: RegistryInfo,
    unique_repo: RepoNamer,
    tmp_path: Path,
) -> None:
    name = unique_repo()
    image = big_image("ul-permanent")
    source = seed_layout(tmp_path / "src", image)
    layer = image.layers[0].digest
    proxy.add(rule("PUT", f"/blobs/uploads/.*digest={layer.replace(':', '%3A')}", "503", times=None))
    code, _out, err = proxied.copy(source, proxied.image(name), *FAST)
    assert code == 1
    line = one_error_line(err)
    assert line == f"error: uploading blob {proxy.host}/{name}@{layer}: HTTP 503 (FAULT: injected)"
    assert proxy.count("PUT", "/blobs/uploads/.*" + layer.split(":")[1]) == RETRIES + 1
    with RegistryClient(options_for(registry_http)) as client, pytest.raises(NotFoundError):
        repo_at(client, registry_http.host, name).resolve("v1")


def test_unauthorized_mid_run_gets_a_new_token(
    token_proxy: FaultProxy,
    registry_token: RegistryInfo,
    unique_repo: RepoNamer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A 401 in the middle of a streamed upload and of a read: a new token, and the request again."""
    name = unique_repo("alice")
    image = big_image("token-mid-run")
    source = seed_layout(tmp_path / "src", image)
    layer = image.layers[0].digest
    token_server = registry_token.token_server
    assert token_server is not None
    token_server.reset_log()
    token_proxy.add(
        Rule("PUT", f"/blobs/uploads/.*{layer.split(':')[1]}", "unauthorized"),
        Rule("GET", "/manifests/v1$", "unauthorized"),
    )
    auth = tmp_path / "auth.json"
    entry = registry_token.docker_config("alice")["auths"][registry_token.host]
    auth.write_text(json.dumps({"auths": {token_proxy.host: entry}}))
    common = (
        *FAST,
        "--insecure-registry",
        token_proxy.host,
        "--certificate-authority",
        str(registry_token.ca_file),
    )
    code, out, err = cli(
        capsys, "copy", *common, "--authfile", str(auth), source, f"{token_proxy.host}/{name}:v1"
    )
    assert (code, out) == (0, image.digest + "\n"), err
    code, out, err = cli(
        capsys,
        "copy",
        *common,
        "--authfile",
        str(auth),
        f"{token_proxy.host}/{name}:v1",
        f"oci:{tmp_path / 'back'}:v1",
    )
    assert (code, out) == (0, image.digest + "\n"), err
    assert [r.injected for r in token_proxy.rules] == [1, 1]
    # Each 401 made the client fetch a new token: pull and push before the upload's 401, push after
    # it; pull before the read's 401 and after it.
    scopes = [r.scopes[0].rsplit(":", 1)[1] for r in token_server.requests]
    assert scopes == ["pull", "pull,push", "pull,push", "pull", "pull"]
    assert token_proxy.count("PUT", f"/blobs/uploads/.*{layer.split(':')[1]}") == 2


# --------------------------------------------------------------------------------------------
# info: a release read through the faults


@pytest.fixture(scope="module")
def pushed_release(registry_http: RegistryInfo) -> str:
    """The sample payload built by ``new`` and pushed (straight, not through a proxy) as okd/faults:TAG."""
    target = f"{registry_http.host}/okd/faults:{RELEASE}"
    code = main([*new_args(target), "--insecure-registry", registry_http.host, "-q"])
    assert code == 0
    return f"okd/faults:{RELEASE}"


def new_args(to_image: str) -> list[str]:
    """``new`` on the sample payload (a fixed name and creation time, so the digest is fixed)."""
    return [
        "new",
        "--from-oci-layout",
        str(SAMPLE),
        "--layout-repository",
        "quay.io/okd/scos-content",
        "--name",
        RELEASE,
        "--created",
        "2024-05-01T00:00:00Z",
        "--to-image",
        to_image,
    ]


@pytest.mark.parametrize(
    ("path", "fault"),
    [
        ("/manifests/", "reset-body"),
        ("/manifests/", "flip"),
        ("/manifests/", "503"),
        ("/blobs/", "reset-body"),
        ("/blobs/", "truncate"),
        ("/blobs/", "flip"),
        ("/blobs/", "stall"),
        ("/blobs/", "429"),
    ],
)
def test_info_survives_one_fault(
    proxy: FaultProxy, proxied: ProxiedCli, pushed_release: str, path: str, fault: str
) -> None:
    argv = [*flags(fault), "-o", "json", f"{proxy.host}/{pushed_release}"]
    code, clean, err = proxied.run("info", *argv)
    assert code == 0, err
    proxy.clear()
    injected = proxy.add(rule("GET", path, fault)).rules[0]
    code, out, err = proxied.run("info", *argv)
    assert (code, out) == (0, clean), err
    assert injected.injected == 1
    first = proxy.seen("GET", path)[0].path
    assert proxy.count("GET", re.escape(first) + "$") == 2


@pytest.mark.parametrize(
    ("path", "fault"), [("/manifests/", "503"), ("/blobs/", "flip"), ("/blobs/", "reset")]
)
def test_info_permanent_fault_is_one_clear_line(
    proxy: FaultProxy, proxied: ProxiedCli, pushed_release: str, path: str, fault: str
) -> None:
    proxy.add(rule("GET", path, fault, times=None))
    code, out, err = proxied.run("info", *flags(fault), f"{proxy.host}/{pushed_release}")
    assert (code, out) == (1, "")
    line = one_error_line(err)
    first = proxy.seen("GET", path)[0].path
    assert first.rsplit("/", 1)[1] in line
    # The failing request was made retries + 1 times and nothing was read after it.
    assert proxy.count("GET", re.escape(first) + "$") == RETRIES + 1
    assert proxy.seen("GET", path)[-1].path == first


# --------------------------------------------------------------------------------------------
# new: a release pushed through the faults; no tag unless the whole release is in place


@pytest.fixture(scope="module")
def release_digest(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The digest ``new`` gives the sample release (built into a layout, no registry involved).

    ``--format v2s2``: what a registry gets by default (a layout's default is OCI).
    """
    out = tmp_path_factory.mktemp("reference-release")
    assert main([*new_args(f"oci:{out}:{RELEASE}"), "--format", "v2s2", "-q"]) == 0
    return LayoutRepository(out).resolve(RELEASE).digest


@pytest.mark.parametrize(
    ("method", "path", "fault"),
    [
        ("POST", "/blobs/uploads/$", "429"),
        ("PUT", "/blobs/uploads/", "503"),
        ("PUT", "/blobs/uploads/", "reset"),
        ("PUT", "/manifests/", "503"),
        ("HEAD", "/blobs/", "reset"),
    ],
)
def test_new_survives_one_fault(
    proxy: FaultProxy,
    proxied: ProxiedCli,
    registry_http: RegistryInfo,
    release_digest: str,
    unique_repo: RepoNamer,
    method: str,
    path: str,
    fault: str,
) -> None:
    name = unique_repo("okd")
    injected = proxy.add(rule(method, path, fault)).rules[0]
    code, out, err = proxied.run(*new_args(proxied.image(name, RELEASE)), *flags(fault))
    assert code == 0, err
    assert out.split()[0] == release_digest
    assert injected.injected == 1
    with RegistryClient(options_for(registry_http)) as client:
        assert repo_at(client, registry_http.host, name).resolve(RELEASE).digest == release_digest


@pytest.mark.parametrize(("method", "path"), [("PUT", "/blobs/uploads/"), ("POST", "/blobs/uploads/$")])
def test_new_permanent_fault_pushes_no_tag(
    proxy: FaultProxy,
    proxied: ProxiedCli,
    registry_http: RegistryInfo,
    unique_repo: RepoNamer,
    method: str,
    path: str,
) -> None:
    name = unique_repo("okd")
    proxy.add(rule(method, path, "503", times=None))
    code, out, err = proxied.run(*new_args(proxied.image(name, RELEASE)), *FAST)
    assert (code, out) == (1, "")
    line = one_error_line(err)
    assert f"{proxy.host}/{name}@sha256:" in line and "HTTP 503 (FAULT: injected)" in line
    # The release's four new blobs (two base layers from the layout, payload layer, config) go up
    # together; none is attempted more than retries + 1 times, then the run ends: no manifest is pushed.
    # Two more POSTs: the sessions opened ahead for the config and the payload (one attempt each).
    ahead = 2 if method == "POST" else 0
    assert RETRIES + 1 <= proxy.count(method, path) <= 4 * (RETRIES + 1) + ahead
    if method == "PUT":
        per_blob = Counter(s.path.rsplit("digest=", 1)[1] for s in proxy.seen(method, path))
        assert max(per_blob.values()) == RETRIES + 1
    assert proxy.count("PUT", "/manifests/") == 0
    with RegistryClient(options_for(registry_http)) as client, pytest.raises(NotFoundError):
        repo_at(client, registry_http.host, name).resolve(RELEASE)


def test_new_survives_unauthorized_mid_upload(
    token_proxy: FaultProxy,
    registry_token: RegistryInfo,
    release_digest: str,
    unique_repo: RepoNamer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    name = unique_repo("alice")
    auth = tmp_path / "auth.json"
    entry = registry_token.docker_config("alice")["auths"][registry_token.host]
    auth.write_text(json.dumps({"auths": {token_proxy.host: entry}}))
    injected = token_proxy.add(Rule("PUT", "/blobs/uploads/", "unauthorized")).rules[0]
    code, out, err = cli(
        capsys,
        *new_args(f"{token_proxy.host}/{name}:{RELEASE}"),
        *FAST,
        "--insecure-registry",
        token_proxy.host,
        "--certificate-authority",
        str(registry_token.ca_file),
        "-a",
        str(auth),
    )
    assert code == 0, err
    assert out.split()[0] == release_digest
    assert injected.injected == 1
    assert token_proxy.count("PUT", "/manifests/") == 1


@pytest.mark.parametrize("times", [1, None])
def test_manifest_refused_for_a_blob_just_written_is_pushed_again(
    proxy: FaultProxy,
    registry_http: RegistryInfo,
    unique_repo: RepoNamer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    times: int | None,
) -> None:
    """400 MANIFEST_BLOB_UNKNOWN right after the blobs went up (eventually consistent storage, or
    Distribution re-linking a blob for a concurrent client) is transient; seen 8 parallel ``new``."""
    name = unique_repo()
    image = big_image("blob-unknown")
    source = seed_layout(tmp_path / "src", image)
    proxy.add(Rule("PUT", "/manifests/v1$", "status", status=400, code="MANIFEST_BLOB_UNKNOWN", times=times))
    code, out, err = cli(
        capsys, "copy", *FAST, "--insecure-registry", proxy.host, source, f"{proxy.host}/{name}:v1"
    )
    if times == 1:
        assert (code, out) == (0, image.digest + "\n"), err
        assert proxy.count("PUT", "/manifests/v1$") == 2
        return
    assert code == 1
    assert one_error_line(err) == (
        f"error: pushing manifest {proxy.host}/{name}:v1: HTTP 400 (MANIFEST_BLOB_UNKNOWN: injected)"
    )
    assert proxy.count("PUT", "/manifests/v1$") == RETRIES + 1
