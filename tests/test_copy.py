"""copy_image/copy_all and ``okdrelease copy``: golden layouts round-trip through a registry unchanged."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import urllib.parse
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from faultproxy import FaultProxy, Rule
from imagegen import DOCKER, build_image, build_index, make_image, make_index, push_image
from registry_rig import RegistryInfo, RepoNamer, TokenServer
from test_registry import Fault, RecordingProxy, options_for, proxy_client, repo_at, upload_status

from okdrelease.cli import main
from okdrelease.errors import DigestMismatchError, RegistryError
from okdrelease.oci import mediatypes as mt
from okdrelease.oci.digest import sha256_digest
from okdrelease.oci.model import Descriptor
from okdrelease.reference import parse_location
from okdrelease.transport.base import (
    REFUSED,
    BlobMount,
    BlobSource,
    MountOutcome,
    Repository,
    TransportOptions,
)
from okdrelease.transport.client import RegistryClient
from okdrelease.transport.copy import BlobOrder, copy_all, copy_blobs, copy_image
from okdrelease.transport.http import RetryPolicy
from okdrelease.transport.layout import LayoutRepository
from okdrelease.transport.open import DefaultTransport, open_location
from okdrelease.transport.upload import UploadsAhead

GOLDEN = Path(__file__).resolve().parents[1] / ".." / "shared" / "golden"
GOLDEN_LAYOUTS = sorted(
    [p for p in GOLDEN.glob("*/inputs") if (p / "index.json").exists()]
    + [p for p in GOLDEN.glob("*/release") if (p / "index.json").exists()]
)


def layout_refs(path: Path) -> dict[str, tuple[str, str, int]]:
    """ref name → (media type, digest, size) from a layout's index.json."""
    index = json.loads((path / "index.json").read_text())
    return {
        d["annotations"]["org.opencontainers.image.ref.name"]: (d["mediaType"], d["digest"], d["size"])
        for d in index["manifests"]
        if "org.opencontainers.image.ref.name" in d.get("annotations", {})
    }


def layout_blobs(path: Path) -> dict[str, str]:
    """digest → sha256 of the file content, for every blob file of a layout."""
    return {
        f"sha256:{p.name}": "sha256:" + hashlib.sha256(p.read_bytes()).hexdigest()
        for p in (path / "blobs" / "sha256").iterdir()
    }


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run ``okdrelease ARGV`` in-process; return (exit code, stdout, stderr)."""
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def skopeo_raw(host: str, repo: str, tag: str) -> bytes:
    """``skopeo inspect --raw`` of a plain-HTTP registry image."""
    return subprocess.run(
        ["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{host}/{repo}:{tag}"],
        check=True,
        capture_output=True,
        timeout=60,
    ).stdout


def skopeo_inspect(host: str, repo: str, tag: str) -> dict[str, Any]:
    """``skopeo inspect`` (parsed) of a plain-HTTP registry image."""
    out = subprocess.run(
        ["skopeo", "inspect", "--tls-verify=false", f"docker://{host}/{repo}:{tag}"],
        check=True,
        capture_output=True,
        timeout=60,
    ).stdout
    return dict(json.loads(out))


def skopeo_can_parse(layout: Path, digest: str) -> bool:
    """False for oc's Docker schema 2 manifests with OCI layer types, which skopeo 1.9 rejects."""
    manifest = json.loads((layout / "blobs" / "sha256" / digest.partition(":")[2]).read_bytes())
    if "manifests" in manifest:
        return all(skopeo_can_parse(layout, child["digest"]) for child in manifest["manifests"])
    if manifest.get("mediaType") != mt.DOCKER_MANIFEST:
        return True
    return all(layer["mediaType"].startswith("application/vnd.docker.") for layer in manifest["layers"])


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("layout", GOLDEN_LAYOUTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_golden_layout_roundtrip(
    layout: Path, registry_http: RegistryInfo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    refs = layout_refs(layout)
    assert refs, f"{layout} has no ref names"
    repo = f"golden/{layout.parent.name}-{layout.name}"
    host = registry_http.host
    code, out, err = run_cli(
        capsys, "copy", "-q", "--dest-tls-verify=false", f"oci:{layout}", f"docker://{host}/{repo}"
    )
    assert (code, err) == (0, "")
    assert sorted(out.splitlines()) == sorted(f"{digest} {ref}" for ref, (_, digest, _) in refs.items())

    # skopeo reads every tag with the same digest (raw bytes hash to the index entry's digest).
    def check(ref: str) -> tuple[str, str]:
        return ref, _sha(skopeo_raw(host, repo, ref))

    with ThreadPoolExecutor(8) as pool:
        assert dict(pool.map(check, refs)) == {ref: digest for ref, (_, digest, _) in refs.items()}
    # skopeo inspect (parsed) reports the same digest, for every ref whose manifest it can parse.
    readable = [ref for ref in sorted(refs) if skopeo_can_parse(layout, refs[ref][1])]
    for ref in readable[:3]:
        assert skopeo_inspect(host, repo, ref)["Digest"] == refs[ref][1]

    # And back into a fresh layout: same refs, same blobs, byte for byte.
    out_dir = tmp_path / "back"
    options = options_for(registry_http)
    with DefaultTransport(options) as transport:
        src, _ = transport.open(f"docker://{host}/{repo}")
        dst, _ = transport.open(f"oci:{out_dir}", create=True)
        results = copy_all(src, dst)
    assert results == {ref: digest for ref, (_, digest, _) in refs.items()}
    assert layout_refs(out_dir) == refs
    copied = layout_blobs(out_dir)
    assert all(name == content for name, content in copied.items())
    assert set(copied) == set(layout_blobs(layout))


@pytest.fixture
def http_proxy(registry_http: RegistryInfo) -> Iterator[RecordingProxy]:
    """A recording proxy in front of the plain-HTTP registry."""
    proxy = RecordingProxy(registry_http).start()
    yield proxy
    proxy.stop()


def test_copy_index_between_repositories_mounts(http_proxy: RecordingProxy, unique_repo: RepoNamer) -> None:
    client, _ = proxy_client(http_proxy)
    with client:
        src = repo_at(client, http_proxy.host, unique_repo())
        dst = repo_at(client, http_proxy.host, unique_repo())
        index = make_index(src, "multi", seed="copy-mount", flavour=DOCKER)
        http_proxy.log.clear()
        lines: list[str] = []
        assert copy_image(src, "multi", dst, "copied", progress=lines.append) == index.digest
        assert not http_proxy.requests_matching("GET", "/blobs/")
        assert len(http_proxy.requests_matching("POST", r"/blobs/uploads/\?mount=")) == 4
        puts = [p for m, p, _ in http_proxy.log if m == "PUT"]
        assert puts[-1] == f"/v2/{dst.name}/manifests/copied"
        assert sorted(puts[:-1]) == sorted(f"/v2/{dst.name}/manifests/{c.digest}" for c in index.children)
        assert sum("mounted from" in line for line in lines) == 4
        assert dst.get_manifest("copied").raw == index.raw
        # Copying again: every blob already exists.
        lines.clear()
        assert copy_image(src, "multi", dst, "again", progress=lines.append) == index.digest
        assert sum("already exists" in line for line in lines) == 4


def test_mount_first_sends_no_head_and_asks_only_when_the_mount_is_refused(
    http_proxy: RecordingProxy, unique_repo: RepoNamer
) -> None:
    """``mount-first`` (a release pushed onto its base): a mount answers 201 whether the blob was
    there or not, so no HEAD goes first; a refused mount (202: the source lacks the blob) asks the
    destination then, which may have the blob all the same: the 202's session is cancelled unused."""
    client, _ = proxy_client(http_proxy)
    with client:
        src = repo_at(client, http_proxy.host, unique_repo())
        dst = repo_at(client, http_proxy.host, unique_repo())
        image = make_image(src, "v1", seed="mount-first", flavour=DOCKER)
        http_proxy.log.clear()
        assert copy_blobs(src, dst, image.layers, order="mount-first") == dict.fromkeys(
            (d.digest for d in image.layers), "mounted"
        )
        assert sorted(m for m, _, _ in http_proxy.log) == ["POST"] * len(image.layers)
        only_in_dst = make_image(dst, "own", seed="mount-first-dst", flavour=DOCKER).layers[-1]
        http_proxy.log.clear()
        assert copy_blobs(src, dst, [only_in_dst], order="mount-first") == {only_in_dst.digest: "exists"}
        assert [m for m, _, _ in http_proxy.log] == ["POST", "HEAD", "DELETE"]
        assert dst.has_blob(only_in_dst.digest)


@pytest.mark.parametrize(
    ("order", "sequence"),
    [("mount-first", ["POST", "HEAD", "GET", "PUT"]), ("ask-first", ["HEAD", "POST", "GET", "PUT"])],
)
def test_a_blob_refused_a_mount_goes_into_the_session_the_refusal_opened(
    http_proxy: RecordingProxy, unique_repo: RepoNamer, order: BlobOrder, sequence: list[str]
) -> None:
    """A registry that will not mount (here: the proxy answers the mount 202 with a real session, as
    a registry without cross-repository mounts does) opened an upload session: the layer is streamed
    into it, with no DELETE of that session and no POST for another (go-containerregistry's way)."""
    client, sleeps = proxy_client(http_proxy)
    with client:
        src = repo_at(client, http_proxy.host, unique_repo())
        dst = repo_at(client, http_proxy.host, unique_repo())
        blob = make_image(src, "v1", seed=f"refused-202-{order}", flavour=DOCKER).layers[0]
        layer = Descriptor(blob.media_type, blob.digest, len(blob.data))
        session = dst.start_upload()
        assert session is not None
        http_proxy.faults.append(Fault("POST", "mount=", 202, {"Location": session.location}))
        http_proxy.log.clear()
        assert copy_blobs(src, dst, [layer], order=order) == {layer.digest: "copied"}
        assert [m for m, _, _ in http_proxy.log] == sequence
        put = urllib.parse.urlsplit(http_proxy.log[-1][1])
        assert put.path == urllib.parse.urlsplit(session.location).path
        assert urllib.parse.parse_qs(put.query)["digest"] == [layer.digest]
        assert dst.read_blob(layer.digest, layer.size) == blob.data
    assert sleeps == []


def test_an_upload_into_a_refused_mount_s_session_that_fails_starts_another(
    http_proxy: RecordingProxy, unique_repo: RepoNamer
) -> None:
    """The session a 202 opened is used by the first attempt only: a 503 to its PUT cancels it, and
    the retry opens a session of its own and reads the source again."""
    client, sleeps = proxy_client(http_proxy)
    with client:
        src = repo_at(client, http_proxy.host, unique_repo())
        dst = repo_at(client, http_proxy.host, unique_repo())
        blob = make_image(src, "v1", seed="refused-202-retry", flavour=DOCKER).layers[0]
        layer = Descriptor(blob.media_type, blob.digest, len(blob.data))
        session = dst.start_upload()
        assert session is not None
        path = urllib.parse.urlsplit(session.location).path
        http_proxy.faults += [
            Fault("POST", "mount=", 202, {"Location": session.location}),
            Fault("PUT", re.escape(path), 503),
        ]
        http_proxy.log.clear()
        assert copy_blobs(src, dst, [layer], order="mount-first") == {layer.digest: "copied"}
        seen = [(m, urllib.parse.urlsplit(p).path) for m, p, _ in http_proxy.log]
        assert [m for m, _ in seen] == ["POST", "HEAD", "GET", "PUT", "DELETE", "POST", "GET", "PUT"]
        assert seen[3] == ("PUT", path) and seen[4] == ("DELETE", path)
        assert seen[5] == ("POST", f"/v2/{dst.name}/blobs/uploads/") and seen[7][1] != path
        assert dst.read_blob(layer.digest, layer.size) == blob.data
    assert len(sleeps) == 1


class _Session:
    """An ``UploadSession`` whose blob arrives with a byte flipped; it counts its puts and closes."""

    def __init__(self) -> None:
        self.puts = 0
        self.closed = 0

    def put_blob(self, source: BlobSource, digest: str, size: int | None = None) -> None:
        self.puts += 1
        raise DigestMismatchError(f"blob {digest}: a byte flipped on the way")

    def close(self) -> None:
        self.closed += 1


class _RefusingLayout(LayoutRepository):
    """A layout refusing every mount with the upload session ``session``."""

    session = _Session()

    def mount_blob(self, digest: str, source: Repository) -> BlobMount:
        return BlobMount(MountOutcome.REFUSED, self.session)


def test_only_a_refused_mount_carries_an_upload_session() -> None:
    """A mounted or present blob needs no upload: a BlobMount with a session is a refusal or nothing;
    leaving a refusal (``with``) closes its session once."""
    session = _Session()
    for outcome in (MountOutcome.MOUNTED, MountOutcome.PRESENT):
        with pytest.raises(ValueError, match=f"^a {outcome.value} blob mount carries no upload session"):
            BlobMount(outcome, session)
    with BlobMount(MountOutcome.REFUSED, session) as refused:
        assert refused.session is session and refused == REFUSED
    assert session.closed == 1


def test_only_the_first_attempt_of_a_copy_puts_into_the_refusal_s_session(tmp_path: Path) -> None:
    """A session a refused mount handed over takes the copy's first attempt only: after content that
    did not match its digest, the next attempt puts into the destination itself (a session of its
    own), and the refusal's session is closed once."""
    data = b"layer bytes"
    digest = sha256_digest(data)
    src = LayoutRepository(tmp_path / "src", create=True)
    src.put_blob(data, digest)
    dst = _RefusingLayout(tmp_path / "dst", create=True)
    dst.session = _Session()
    layer = Descriptor(mt.DOCKER_LAYER_GZIP, digest, len(data))
    policy = RetryPolicy(retries=2, base_delay=0)
    assert copy_blobs(src, dst, [layer], policy=policy) == {digest: "copied"}
    assert (dst.session.puts, dst.session.closed, dst.read_blob(digest)) == (1, 1, data)


@pytest.mark.parametrize(
    ("order", "handed_over", "sequence"),
    [
        ("mount-first", True, ["POST", "HEAD", "GET", "DELETE"]),
        ("ask-first", True, ["HEAD", "POST", "GET", "DELETE"]),
        ("ask-first", False, ["HEAD", "POST", "POST", "GET", "DELETE"]),
    ],
)
def test_a_source_that_cannot_be_read_leaves_no_upload_session_open(
    http_proxy: RecordingProxy,
    unique_repo: RepoNamer,
    order: BlobOrder,
    handed_over: bool,
    sequence: list[str],
) -> None:
    """The source's GET fails (500, no retries): the upload session is cancelled before the failure is
    raised, one a refused mount's 202 handed over (either order) as one the upload opened itself (a
    202 without a Location hands none over), and the registry no longer knows it."""
    client, sleeps = proxy_client(http_proxy, retries=0)
    with client:
        src = repo_at(client, http_proxy.host, unique_repo())
        dst = repo_at(client, http_proxy.host, unique_repo())
        blob = make_image(src, "v1", seed=f"unreadable-{order}-{handed_over}", flavour=DOCKER).layers[0]
        layer = Descriptor(blob.media_type, blob.digest, len(blob.data))
        session = dst.start_upload() if handed_over else None
        refusal = {"Location": session.location} if session is not None else {}
        http_proxy.faults += [Fault("POST", "mount=", 202, refusal), Fault("GET", "/blobs/sha256:", 500)]
        http_proxy.log.clear()
        http_proxy.answers.clear()
        with pytest.raises(RegistryError) as err:
            copy_blobs(src, dst, [layer], order=order)
        assert err.value.status == 500 and f"reading blob {src.display}@{layer.digest}" in str(err.value)
        assert [m for m, _, _ in http_proxy.log] == sequence
        opened = session.location if session is not None else http_proxy.answers[2][3]
        assert opened is not None
        where = urllib.parse.urlsplit(opened)
        assert http_proxy.log[-1][1] == f"{where.path}?{where.query}"
        assert upload_status(http_proxy, opened) == 404
    assert sleeps == []


@pytest.mark.parametrize("status", [401, 404])
def test_mount_first_takes_an_error_answer_to_the_mount_for_a_refusal(
    proxy: FaultProxy, unique_repo: RepoNamer, status: int
) -> None:
    """A registry that answers the mount itself with an error (Harbor's 401 for a project it does not
    know, docker.io's 401 when the token lacks pull on the source, 404) refuses it: the destination is
    asked then, a blob it has is reported present and one it lacks is streamed; no second mount."""
    options = TransportOptions(insecure_registries=frozenset({proxy.host}), retries=0)
    with RegistryClient(options) as client:
        src = repo_at(client, proxy.host, unique_repo())
        dst = repo_at(client, proxy.host, unique_repo())
        image = make_image(src, "v1", seed=f"refused-{status}", flavour=DOCKER)
        present, missing = (Descriptor(b.media_type, b.digest, len(b.data)) for b in image.layers[:2])
        assert present.digest != missing.digest
        copy_blobs(src, dst, [present])  # asks first, mounts
        proxy.clear()
        proxy.add(Rule("POST", "mount=", "status", times=None, status=status, code="DENIED"))
        assert copy_blobs(src, dst, [present, missing], order="mount-first") == {
            present.digest: "exists",
            missing.digest: "copied",
        }
        assert dst.has_blob(missing.digest)
        assert [s.fault for s in proxy.seen("POST", "mount=")] == ["status", "status"]
        assert proxy.count("HEAD", f"{dst.name}/blobs/{present.digest}") == 1
        assert proxy.count("HEAD", f"{dst.name}/blobs/{missing.digest}") >= 1
        assert proxy.count("GET", f"{src.name}/blobs/{missing.digest}") == 1
        assert proxy.count("PUT", "/blobs/uploads/") == 1


def test_mount_first_without_pull_on_the_source_asks_the_destination(
    registry_token: RegistryInfo, token_server: TokenServer, unique_repo: RepoNamer
) -> None:
    """The docker.io case on a real token registry: alice's token gets no pull on bob's repository, so
    the registry answers the mount 401 (twice: the token is fetched again once); the layer alice's
    repository already has is then found by a HEAD and reported present."""
    src, dst = unique_repo("bob"), unique_repo("alice")
    bob = TransportOptions(
        ca_file=registry_token.ca_file, credentials={registry_token.host: ("bob", "bob-secret-pw")}
    )
    with RegistryClient(bob) as client:
        image = make_image(repo_at(client, registry_token.host, src), "v1", seed="no-pull", flavour=DOCKER)
    with RegistryClient(options_for(registry_token)) as client:
        push_image(repo_at(client, registry_token.host, dst), image, "v1")
        layers = [Descriptor(b.media_type, b.digest, len(b.data)) for b in image.layers]
        source, dest = repo_at(client, registry_token.host, src), repo_at(client, registry_token.host, dst)
        assert copy_blobs(source, dest, layers, order="mount-first") == dict.fromkeys(
            (d.digest for d in layers), "exists"
        )
    mounts = [r for r in token_server.requests if r.user == "alice" and f"repository:{src}:pull" in r.scopes]
    assert mounts and {r.granted for r in mounts} == {(f"repository:{dst}:pull,push",)}


@pytest.mark.parametrize("status", [400, 401, 403, 404, 405])
def test_ask_first_streams_the_blob_when_the_mount_gets_an_error_answer(
    proxy: FaultProxy, unique_repo: RepoNamer, status: int
) -> None:
    """``copy`` and ``mirror`` (``ask-first``): a registry answering the mount POST 400/401/403/404
    refuses the mount, and the blob is uploaded instead (skopeo logs "Mount failed" and uploads, crane
    too): HEAD, the mount's POST, the upload's POST, the source's GET, the PUT; nothing retried.
    Before, the mount's error failed the whole copy."""
    sleeps: list[float] = []
    options = TransportOptions(insecure_registries=frozenset({proxy.host}))
    with RegistryClient(options, sleep=sleeps.append) as client:
        src = repo_at(client, proxy.host, unique_repo())
        dst = repo_at(client, proxy.host, unique_repo())
        blob = make_image(src, "v1", seed=f"ask-first-refused-{status}", flavour=DOCKER).layers[0]
        layer = Descriptor(blob.media_type, blob.digest, len(blob.data))
        proxy.clear()
        proxy.add(Rule("POST", "mount=", "status", times=None, status=status, code="DENIED"))
        assert copy_blobs(src, dst, [layer]) == {layer.digest: "copied"}
        mount = urllib.parse.urlencode({"mount": layer.digest, "from": src.name})
        assert [
            (s.method, re.sub(r"uploads/[^?]+\?.*", "uploads/ID", s.path), s.fault) for s in proxy.log
        ] == [
            ("HEAD", f"/v2/{dst.name}/blobs/{layer.digest}", None),
            ("POST", f"/v2/{dst.name}/blobs/uploads/?{mount}", "status"),
            ("POST", f"/v2/{dst.name}/blobs/uploads/", None),
            ("GET", f"/v2/{src.name}/blobs/{layer.digest}", None),
            ("PUT", f"/v2/{dst.name}/blobs/uploads/ID", None),
        ]
        assert proxy.log[-1].path.endswith("digest=" + urllib.parse.quote(layer.digest))
        stored = dst.read_blob(layer.digest)
    assert (stored, sha256_digest(stored), sleeps) == (blob.data, layer.digest, [])


def test_cli_copy_uploads_what_the_registry_will_not_mount(
    proxy: FaultProxy, unique_repo: RepoNamer, capsys: pytest.CaptureFixture[str]
) -> None:
    """``okdrelease copy`` within one registry whose every mount is answered 401 (Harbor, for a source
    project it does not know) copies the image by uploading its blobs."""
    src_name, dst_name = unique_repo(), unique_repo()
    with RegistryClient(TransportOptions(insecure_registries=frozenset({proxy.host}))) as client:
        image = make_image(repo_at(client, proxy.host, src_name), "v1", seed="cli-refused", flavour=DOCKER)
    proxy.clear()
    proxy.add(Rule("POST", "mount=", "status", times=None, status=401, code="UNAUTHORIZED"))
    code, out, err = run_cli(
        capsys,
        "copy",
        "-q",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        f"docker://{proxy.host}/{src_name}:v1",
        f"docker://{proxy.host}/{dst_name}:v1",
    )
    assert (code, out, err) == (0, image.digest + "\n", "")
    assert len(proxy.seen("POST", "mount=")) == len(image.blobs)
    assert proxy.count("PUT", f"/v2/{dst_name}/blobs/uploads/") == len(image.blobs)
    with RegistryClient(options_for(proxy.target)) as client:
        dst = repo_at(client, proxy.target.host, dst_name)
        assert dst.resolve("v1").digest == image.digest
        assert {b.digest: sha256_digest(dst.read_blob(b.digest)) for b in image.blobs} == {
            b.digest: b.digest for b in image.blobs
        }


@pytest.mark.parametrize("order", ["mount-first", "ask-first"])
@pytest.mark.parametrize(("fault", "status"), [("status", 503), ("status", 429), ("reset", 0)])
def test_a_transient_failure_of_the_mount_is_retried_then_the_blob_is_uploaded(
    proxy: FaultProxy, unique_repo: RepoNamer, order: BlobOrder, fault: str, status: int
) -> None:
    """A 5xx, a 429 or a broken connection to the mount is retried under the policy (one retry
    here); when it still fails, the mount is refused and the blob uploaded, in either order, as
    skopeo ("don't abort the entire operation") and crane (an upload without mount) do. Before,
    the mount's failure failed the copy."""
    sleeps: list[float] = []
    options = TransportOptions(insecure_registries=frozenset({proxy.host}), retries=1)
    with RegistryClient(options, sleep=sleeps.append) as client:
        src = repo_at(client, proxy.host, unique_repo())
        dst = repo_at(client, proxy.host, unique_repo())
        blob = make_image(src, "v1", seed=f"mount-{fault}-{status}-{order}", flavour=DOCKER).layers[0]
        layer = Descriptor(blob.media_type, blob.digest, len(blob.data))
        proxy.clear()
        proxy.add(Rule("POST", "mount=", fault, times=None, status=status or 503))
        assert copy_blobs(src, dst, [layer], order=order) == {layer.digest: "copied"}
        assert [s.fault for s in proxy.seen("POST", "mount=")] == [fault, fault]
        assert proxy.count("HEAD", "/blobs/") == 1
        assert (proxy.count("POST", r"uploads/$"), proxy.count("PUT", "/blobs/")) == (1, 1)
        stored = dst.read_blob(layer.digest)
    assert (stored, sleeps) == (blob.data, [0.25])


def test_a_registry_that_is_down_fails_the_copy_with_the_upload_s_error(
    proxy: FaultProxy, unique_repo: RepoNamer
) -> None:
    """Every upload POST (the mount's and the upload's) answered 503: the mount is refused after its
    retry, and the error the copy fails with is the upload's, naming the destination."""
    sleeps: list[float] = []
    options = TransportOptions(insecure_registries=frozenset({proxy.host}), retries=1)
    with RegistryClient(options, sleep=sleeps.append) as client:
        src = repo_at(client, proxy.host, unique_repo())
        dst = repo_at(client, proxy.host, unique_repo())
        blob = make_image(src, "v1", seed="mount-down", flavour=DOCKER).layers[0]
        layer = Descriptor(blob.media_type, blob.digest, len(blob.data))
        proxy.clear()
        proxy.add(Rule("POST", "/blobs/uploads/", "status", times=None, status=503))
        with pytest.raises(RegistryError) as err:
            copy_blobs(src, dst, [layer])
    assert (
        str(err.value) == f"starting upload of blob {dst.display}@{layer.digest}: HTTP 503 (FAULT: injected)"
    )
    assert (err.value.status, err.value.registry) == (503, proxy.host)
    assert [s.fault for s in proxy.seen("POST", "/blobs/uploads/")] == ["status"] * 4
    assert proxy.count("PUT", "/blobs/") == 0
    assert sleeps == [0.25, 0.25]


def test_ask_first_uploads_when_a_token_registry_refuses_the_mount(
    token_proxy: FaultProxy, registry_token: RegistryInfo, unique_repo: RepoNamer
) -> None:
    """A token registry answers the mount 401 (as docker.io does when the token lacks pull on the
    source): the token is fetched again, the mount answered 401 again, and the blob uploaded."""
    token_server = registry_token.token_server
    assert token_server is not None
    options = TransportOptions(
        insecure_registries=frozenset({token_proxy.host}),
        ca_file=registry_token.ca_file,
        credentials={token_proxy.host: ("alice", "alice-secret-pw")},
    )
    sleeps: list[float] = []
    with RegistryClient(options, sleep=sleeps.append) as client:
        src = repo_at(client, token_proxy.host, unique_repo("alice"))
        dst = repo_at(client, token_proxy.host, unique_repo("alice"))
        blob = make_image(src, "v1", seed="token-mount-401", flavour=DOCKER).layers[0]
        layer = Descriptor(blob.media_type, blob.digest, len(blob.data))
        token_proxy.clear()
        token_server.reset_log()
        token_proxy.add(Rule("POST", "mount=", "unauthorized", times=None))
        assert copy_blobs(src, dst, [layer]) == {layer.digest: "copied"}
        assert [s.fault for s in token_proxy.seen("POST", "mount=")] == ["unauthorized", "unauthorized"]
        assert (token_proxy.count("POST", r"uploads/$"), token_proxy.count("PUT", "/blobs/")) == (1, 1)
        stored = dst.read_blob(layer.digest)
    mount_scopes = {f"repository:{dst.name}:pull,push", f"repository:{src.name}:pull"}
    assert len([r for r in token_server.requests if set(r.scopes) == mount_scopes]) == 2
    assert (stored, sleeps) == (blob.data, [])


def test_copy_across_registries_streams(
    registry_tls: RegistryInfo, registry_token: RegistryInfo, unique_repo: RepoNamer
) -> None:
    with RegistryClient(options_for(registry_tls)) as a, RegistryClient(options_for(registry_token)) as b:
        src = repo_at(a, registry_tls.host, unique_repo())
        dst = repo_at(b, registry_token.host, unique_repo())
        image = make_image(src, "big", seed="stream", layers=3, layer_size=2_000_000)
        assert copy_image(src, "big", dst, "big") == image.digest
        for blob in image.blobs:
            assert dst.read_blob(blob.digest) == blob.data
        index = make_index(src, "multi", seed="stream-index")
        assert copy_image(src, index.digest, dst, None) == index.digest
        assert dst.get_manifest(index.digest).raw == index.raw
        # A single platform only: linux/amd64 is picked and tagged.
        amd64 = index.children[0]
        assert copy_image(src, "multi", dst, "single", multi_arch="system") == amd64.digest
        assert dst.resolve("single").digest == amd64.digest


def test_copy_refuses_corrupted_source_blob(
    registry_http: RegistryInfo, unique_repo: RepoNamer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with RegistryClient(options_for(registry_http)) as client:
        src = repo_at(client, registry_http.host, unique_repo())
        image = make_image(src, "v1", seed="corrupt-copy")
        layout = tmp_path / "layout"
        dst, _ = open_location(parse_location(f"oci:{layout}"), create=True)
        copy_image(src, "v1", dst, "v1")
    victim = image.layers[1]
    path = layout / "blobs" / "sha256" / victim.digest.partition(":")[2]
    data = bytearray(path.read_bytes())
    data[-20] ^= 0x55
    path.write_bytes(bytes(data))
    target = f"docker://{registry_http.host}/{unique_repo()}:v1"
    code, out, err = run_cli(capsys, "copy", "--dest-tls-verify=false", f"oci:{layout}:v1", target)
    assert code == 1 and out == ""
    assert victim.digest in err and "does not match its digest" in err
    with RegistryClient(options_for(registry_http)) as client:
        assert not repo_at(client, registry_http.host, target.split("/", 3)[3].split(":")[0]).has_blob(
            victim.digest
        )


def test_cli_copy_with_credentials_digestfile_and_progress(
    registry_basic: RegistryInfo,
    registry_http: RegistryInfo,
    unique_repo: RepoNamer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with RegistryClient(options_for(registry_http)) as client:
        src_name = unique_repo()
        image = make_image(repo_at(client, registry_http.host, src_name), "v1", seed="cli", flavour=DOCKER)
    src = f"docker://{registry_http.host}/{src_name}:v1"
    dst_name = unique_repo()
    dst = f"docker://{registry_basic.host}/{dst_name}:copied"
    digestfile = tmp_path / "digest"
    code, out, err = run_cli(
        capsys,
        "copy",
        "--src-tls-verify=false",
        "--certificate-authority",
        str(registry_basic.ca_file),
        "--dest-creds",
        f"alice:{registry_basic.users['alice']}",
        "--digestfile",
        str(digestfile),
        src,
        dst,
    )
    assert (code, out) == (0, image.digest + "\n"), err
    assert digestfile.read_text() == image.digest
    assert "Copying blob" in err and "Writing manifest" in err
    assert registry_basic.users["alice"] not in err
    # --dest-authfile, quiet; a tagless destination gets "latest".
    authfile = tmp_path / "auth.json"
    authfile.write_text(json.dumps(registry_basic.docker_config()))
    code, out, err = run_cli(
        capsys,
        "copy",
        "-q",
        "--src-tls-verify=false",
        "--certificate-authority",
        str(registry_basic.ca_file),
        "--dest-authfile",
        str(authfile),
        src,
        f"{registry_basic.host}/{dst_name}",
    )
    assert (code, out, err) == (0, image.digest + "\n", "")
    with RegistryClient(options_for(registry_basic)) as client:
        repo = repo_at(client, registry_basic.host, dst_name)
        assert repo.resolve("latest").digest == image.digest
        assert repo.get_manifest("copied").media_type == mt.DOCKER_MANIFEST
    # Without credentials the push is refused; the error names the registry and repository.
    (tmp_path / "empty.json").write_text('{"auths": {}}')
    code, out, err = run_cli(
        capsys,
        "copy",
        "-q",
        "--src-tls-verify=false",
        "--certificate-authority",
        str(registry_basic.ca_file),
        "--dest-authfile",
        str(tmp_path / "empty.json"),
        src,
        dst,
    )
    assert (code, out) == (1, "")
    assert f"{registry_basic.host}/{dst_name}" in err and "HTTP 401" in err


def test_cli_copy_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(
        capsys, "copy", "--src-creds", "a:b", f"oci:{tmp_path}:x", "docker://127.0.0.1:1/a/b"
    )
    assert code == 2 and "credentials given for oci:" in err
    code, _, err = run_cli(capsys, "copy", "quay.io/a/b", "http://x/y")
    assert code == 1 and "unsupported transport" in err


def test_copy_whole_layout_between_layouts_and_registry(
    registry_http: RegistryInfo, unique_repo: RepoNamer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = tmp_path / "first"
    name = unique_repo()
    with DefaultTransport(options_for(registry_http)) as transport:
        repo, _ = transport.open(f"{registry_http.host}/{name}")
        image = build_image(seed="whole-1")
        index = build_index(seed="whole-2", flavour=DOCKER)
        push_image(repo, image, "one")
        for child in index.children:
            push_image(repo, child, None)
        repo.put_manifest(index.raw, index.media_type, "two")
        layout, _ = transport.open(f"oci:{first}", create=True)
        assert copy_all(repo, layout) == {"one": image.digest, "two": index.digest}
    second = tmp_path / "second"
    code, out, _ = run_cli(capsys, "copy", "-q", f"oci:{first}", f"oci:{second}")
    assert code == 0
    assert sorted(out.splitlines()) == sorted([f"{image.digest} one", f"{index.digest} two"])
    assert layout_refs(second) == layout_refs(first)
    assert layout_blobs(second) == layout_blobs(first)
    # A single ref name from a layout to a registry tag.
    target = unique_repo()
    code, out, _ = run_cli(
        capsys,
        "copy",
        "-q",
        "--dest-tls-verify=false",
        f"oci:{second}:two",
        f"docker://{registry_http.host}/{target}:t",
    )
    assert (code, out) == (0, index.digest + "\n")
    with RegistryClient(options_for(registry_http)) as client:
        assert repo_at(client, registry_http.host, target).get_manifest("t").raw == index.raw


def test_a_spare_upload_session_whose_location_is_no_url_is_not_used(
    http_proxy: RecordingProxy, unique_repo: RepoNamer
) -> None:
    """A session opened ahead (``new``'s release image) or by a refused mount whose Location is no URL is
    left unused, and the blob's upload opens a session of its own (it stopped the run before)."""
    client, sleeps = proxy_client(http_proxy)
    with client:
        src = repo_at(client, http_proxy.host, unique_repo())
        dst = repo_at(client, http_proxy.host, unique_repo())
        blob = make_image(src, "v1", seed="spare-bad-location", flavour=DOCKER).layers[0]
        layer = Descriptor(blob.media_type, blob.digest, len(blob.data))
        http_proxy.faults += [
            Fault("POST", r"/blobs/uploads/$", 202, {"Location": "http://[::1"}, count=2),
            Fault("POST", "mount=", 202, {"Location": "http://127.0.0.1:99999/up"}),
        ]
        ahead = UploadsAhead.open(dst, 2)
        assert repr(ahead) == f"UploadsAhead({dst.display}, 0 open)"
        assert dst.mount_blob(layer.digest, src) == REFUSED
        http_proxy.log.clear()
        ahead.put_blob(blob.data, layer.digest, layer.size)
        assert [m for m, _, _ in http_proxy.log] == ["POST", "PUT"]
        assert dst.read_blob(layer.digest, layer.size) == blob.data
    assert sleeps == []


def test_a_copy_that_cannot_write_temporary_files_says_so(tmp_path: Path) -> None:
    from okdrelease.transport.layout import REF_NAME

    """Where no temporary file can be written (a full /tmp and working directory; here a file-size limit
    of 0), every copy failed with ``internal error: FileNotFoundError: [Errno 2] No usable temporary
    directory found in [...]`` (the CLI sweep's full-device pass), even one that re-compresses nothing
    and so needs none. Now such a copy gets as far as its own writes (and names the one that fails),
    and one that must re-compress fails saying what it could not make."""
    from bounded_run import run_file_size_limited

    sample = Path(__file__).resolve().parents[1] / "testdata" / "sample-payload"
    target = f"oci:{tmp_path / 'copy'}:cli"
    assert run_file_size_limited("-q", "copy", f"oci:{sample}:cli", target, limit=None).returncode == 0
    again = run_file_size_limited("-q", "copy", f"oci:{sample}:cli", target, limit=0)
    assert (again.returncode, again.stderr) == (  # every blob already there: only index.json is written
        1,
        f"error: cannot write index.json in oci:{tmp_path / 'copy'}: File too large\n",
    )
    zstd = run_file_size_limited(
        "-q",
        "copy",
        "--dest-compress-format",
        "zstd",
        f"oci:{sample}:cli",
        f"oci:{tmp_path / 'copy'}:z",
        limit=0,
    )
    assert (zstd.returncode, zstd.stdout) == (1, ""), zstd.stderr
    assert zstd.stderr.startswith(
        "error: cannot create a directory for re-compressed layers: No usable temporary directory found in ["
    ), zstd.stderr
    assert [
        entry["annotations"][REF_NAME]
        for entry in json.loads((tmp_path / "copy" / "index.json").read_text())["manifests"]
    ] == ["cli"]
