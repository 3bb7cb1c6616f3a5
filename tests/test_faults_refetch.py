"""A streamed layer (larger than ``SMALL_BLOB``) whose bytes change on the way is read again.

The layer readers (``info``'s top layer, ``extract``'s stack; ``new``'s ``--from-release`` and
operator scans use the same ``read_source``) start again from the layer's first byte when its digest does not match, under the run's retry policy,
forgetting what the failed attempt found; ``new`` copying a base image's layers into a layout uses
the run's ``--retry-times`` and ``--timeout``, not defaults. Faults come from ``faultproxy``.
"""

from __future__ import annotations

import gzip
import io
import json
import tarfile
import time
from pathlib import Path

import pytest
from faultproxy import FaultProxy, Rule
from imagegen import layer_tar, random_bytes
from oc_oracle import tree
from registry_rig import RegistryInfo, RepoNamer
from test_faults import (
    FAST,
    RELEASE,
    RETRIES,
    SAMPLE,
    big_image,
    cli,
    new_args,
    one_error_line,
    seed_registry,
)
from test_registry import options_for, repo_at

from okdrelease.cli import main
from okdrelease.errors import DigestMismatchError, LayerError
from okdrelease.oci import mediatypes as mt
from okdrelease.oci.digest import VerifyingReader, sha256_digest
from okdrelease.oci.layerstack import read_stack
from okdrelease.transport.client import RegistryClient
from okdrelease.transport.layout import LayoutRepository
from okdrelease.transport.registry import SMALL_BLOB

#: A permanent fault ends the run within this many seconds: retries + 1 attempts of at most the
#: 20 s timeout each, plus back-off (before issue 11 such runs took 241 s, or never ended). Loose
#: on purpose: it bounds a hang, it does not measure speed.
PERMANENT_BOUND = (RETRIES + 1) * 20 + 30


def _with_filler(layer: bytes, size: int) -> bytes:
    """``layer`` (a gzip tar) with ``opt/filler.bin`` of ``size`` random bytes added: a big layer."""
    out = io.BytesIO()
    with (
        tarfile.open(fileobj=io.BytesIO(gzip.decompress(layer)), mode="r:") as source,
        tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as target,
    ):
        for member in source:
            target.addfile(member, source.extractfile(member) if member.isreg() else None)
        info = tarfile.TarInfo("opt/filler.bin")
        info.size = size
        target.addfile(info, io.BytesIO(random_bytes(size, "filler")))
    return out.getvalue()


@pytest.fixture(scope="module")
def big_release(registry_http: RegistryInfo) -> tuple[str, str]:
    """The sample release with a >1 MiB top layer (its payload plus random filler), pushed as
    okd/faults-big:TAG straight to the registry; returns (repository:tag, top layer digest)."""
    host = registry_http.host
    assert main([*new_args(f"{host}/okd/faults-src:{RELEASE}"), "--insecure-registry", host, "-q"]) == 0
    with RegistryClient(options_for(registry_http)) as client:
        source = repo_at(client, host, "okd/faults-src")
        dest = repo_at(client, host, "okd/faults-big")
        manifest = source.get_manifest(RELEASE)
        tar = _with_filler(source.read_blob(manifest.layers[-1].digest), SMALL_BLOB + (512 << 10))
        top = gzip.compress(tar, mtime=0)
        assert len(top) > SMALL_BLOB
        config = json.loads(source.read_blob(manifest.config.digest))
        config["rootfs"]["diff_ids"][-1] = sha256_digest(tar)
        config_bytes = json.dumps(config).encode()
        layers = [layer.to_dict() for layer in manifest.layers]
        layers[-1] = {"mediaType": mt.DOCKER_LAYER_GZIP, "digest": sha256_digest(top), "size": len(top)}
        for layer in manifest.layers[:-1]:
            dest.put_blob(source.read_blob(layer.digest), layer.digest, layer.size)
        dest.put_blob(top, sha256_digest(top), len(top))
        dest.put_blob(config_bytes, sha256_digest(config_bytes), len(config_bytes))
        body = {
            "schemaVersion": 2,
            "mediaType": mt.DOCKER_MANIFEST,
            "config": {
                "mediaType": mt.DOCKER_CONFIG,
                "digest": sha256_digest(config_bytes),
                "size": len(config_bytes),
            },
            "layers": layers,
        }
        dest.put_manifest(json.dumps(body).encode(), mt.DOCKER_MANIFEST, RELEASE)
    return f"okd/faults-big:{RELEASE}", sha256_digest(top)


def _reader_argv(command: str, proxy: FaultProxy, image: str, out: Path) -> list[str]:
    """``info -o json`` or ``extract --to OUT`` of ``image`` through the proxy."""
    common = [*FAST, "--insecure-registry", proxy.host]
    if command == "info":
        return ["info", *common, "-o", "json", f"{proxy.host}/{image}"]
    return ["extract", *common, "--to", str(out), f"{proxy.host}/{image}"]


@pytest.mark.parametrize("command", ["info", "extract"])
def test_flipped_byte_in_a_big_layer_is_read_again(
    proxy: FaultProxy,
    big_release: tuple[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    command: str,
) -> None:
    image, top = big_release
    code, clean, err = cli(capsys, *_reader_argv(command, proxy, image, tmp_path / "clean"))
    assert code == 0, err
    proxy.clear()
    injected = proxy.add(Rule("GET", f"/blobs/{top}$", "flip")).rules[0]
    code, out, err = cli(capsys, *_reader_argv(command, proxy, image, tmp_path / "faulted"))
    assert (code, out) == (0, clean.replace(str(tmp_path / "clean"), str(tmp_path / "faulted"))), err
    assert injected.injected == 1
    # The flipped body, then the whole layer once more from its first byte.
    requests = proxy.seen("GET", f"/blobs/{top}$")
    assert [r.fault for r in requests] == ["flip", None]
    assert requests[1].range is None
    if command == "extract":
        assert tree(tmp_path / "faulted") == tree(tmp_path / "clean")
        assert tree(tmp_path / "clean")  # something was extracted


@pytest.mark.parametrize("command", ["info", "extract"])
def test_flipped_byte_in_every_read_of_a_big_layer_is_one_clear_line(
    proxy: FaultProxy,
    big_release: tuple[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    command: str,
) -> None:
    image, top = big_release
    proxy.add(Rule("GET", f"/blobs/{top}$", "flip", times=None))
    started = time.monotonic()
    code, out, err = cli(capsys, *_reader_argv(command, proxy, image, tmp_path / "out"))
    assert time.monotonic() - started < PERMANENT_BOUND
    assert (code, out) == (1, "")
    line = one_error_line(err)
    assert f"blob {proxy.host}/okd/faults-big@{top} does not match its digest" in line
    assert proxy.count("GET", f"/blobs/{top}$") == RETRIES + 1
    assert not (tmp_path / "out").exists() or tree(tmp_path / "out") == {}


# --------------------------------------------------------------------------------------------
# new: the base image's layers are copied under the run's --retry-times and --timeout


def _new_with_base(proxy: FaultProxy, base: str, out: Path, *flags: str) -> list[str]:
    return [
        *new_args(f"oci:{out}:{RELEASE}"),
        "--to-image-base",
        f"{proxy.host}/{base}",
        "--insecure-registry",
        proxy.host,
        "-q",
        *flags,
    ]


@pytest.mark.parametrize("retries", [0, 1])
def test_new_copies_base_layers_under_the_runs_retry_times(
    proxy: FaultProxy,
    registry_http: RegistryInfo,
    unique_repo: RepoNamer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    retries: int,
) -> None:
    """A base layer that never arrives intact: --retry-times N means N + 1 reads, not the default 4."""
    name = unique_repo()
    base = big_image(f"base-retries-{retries}")
    seed_registry(registry_http, name, base)
    layer = base.layers[0].digest
    proxy.add(Rule("GET", f"/blobs/{layer}$", "flip", times=None))
    argv = _new_with_base(proxy, f"{name}:v1", tmp_path / "out", "--retry-times", str(retries))
    code, out, err = cli(capsys, *argv, "--timeout", "20s")
    assert (code, out) == (1, "")
    line = one_error_line(err)
    assert layer in line and "does not match its digest" in line
    assert proxy.count("GET", f"/blobs/{layer}$") == retries + 1
    assert (
        not (tmp_path / "out" / "index.json").exists() or LayoutRepository(tmp_path / "out").list_tags() == []
    )


def test_new_copies_base_layers_under_the_runs_timeout(
    proxy: FaultProxy,
    registry_http: RegistryInfo,
    unique_repo: RepoNamer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Every read of a base layer stalls for 30 s, then is reset: "timed out" (not a reset) and two
    reads show that --timeout 1s and --retry-times 1 reached the copy."""
    name = unique_repo()
    base = big_image("base-timeout")
    seed_registry(registry_http, name, base)
    layer = base.layers[0].digest
    proxy.add(Rule("GET", f"/blobs/{layer}$", "stall", times=None, stall=30.0))
    argv = _new_with_base(proxy, f"{name}:v1", tmp_path / "out", "--retry-times", "1", "--timeout", "1s")
    started = time.monotonic()
    code, out, err = cli(capsys, *argv)
    assert time.monotonic() - started < PERMANENT_BOUND
    assert (code, out) == (1, "")
    line = one_error_line(err)
    assert f"{proxy.host}/{name}@{layer}" in line and "timed out" in line
    assert proxy.count("GET", f"/blobs/{layer}$") == 2


def test_new_survives_a_flipped_big_base_layer(
    proxy: FaultProxy,
    registry_http: RegistryInfo,
    unique_repo: RepoNamer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    name = unique_repo()
    base = big_image("base-flip-once")
    seed_registry(registry_http, name, base)
    layer = base.layers[0]
    proxy.add(Rule("GET", f"/blobs/{layer.digest}$", "flip"))
    code, out, err = cli(capsys, *_new_with_base(proxy, f"{name}:v1", tmp_path / "out", "--retry-times", "1"))
    assert code == 0, err
    result = LayoutRepository(tmp_path / "out")
    assert result.resolve(RELEASE).digest == out.split()[0]
    assert result.read_blob(layer.digest) == layer.data
    assert proxy.count("GET", f"/blobs/{layer.digest}$") == 2


# --------------------------------------------------------------------------------------------
# The layer reader itself: a layer that cannot be decoded is first read to its end


class _FlakySource:
    """A restartable layer source whose first stream has ``bad`` bytes, later ones ``good``."""

    def __init__(self, good: bytes, bad: bytes) -> None:
        self.good = good
        self.bad = bad
        self.opened = 0

    def __call__(self) -> VerifyingReader:
        self.opened += 1
        data = self.bad if self.opened == 1 else self.good
        return VerifyingReader(io.BytesIO(data), sha256_digest(self.good), "blob under test", len(self.good))  # type: ignore[arg-type]

    def read_with(self, use):  # type: ignore[no-untyped-def]
        for _ in range(3):
            try:
                with self() as stream:
                    return use(stream)
            except DigestMismatchError:
                continue
        raise AssertionError("not read")


def _corrupt_header(layer: bytes) -> bytes:
    """The gzip layer with its compression method byte changed: undecodable from the first read."""
    return layer[:2] + b"\x07" + layer[3:]


def test_undecodable_layer_with_a_bad_digest_is_a_digest_mismatch_and_read_again() -> None:
    tar = layer_tar({"release-manifests/a.yaml": b"a: 1\n", "other/b": b"b"})
    good = gzip.compress(tar, mtime=0)
    source = _FlakySource(good, _corrupt_header(good))
    found = read_stack([source], "release-manifests/")
    assert {path: entry.data for path, entry in found.items()} == {"a.yaml": b"a: 1\n"}
    assert source.opened == 2
    # Without a way to read it again, the error says what happened: the bytes do not match.
    with pytest.raises(DigestMismatchError, match="content of blob under test does not match its digest"):
        read_stack(
            [
                lambda: VerifyingReader(
                    io.BytesIO(_corrupt_header(good)), sha256_digest(good), "blob under test"
                )
            ],
            "",
        )
    # A layer that really is broken (its digest matches) stays a layer error.
    broken = _corrupt_header(good)
    with pytest.raises(LayerError, match="unable to read layer"):
        read_stack(
            [lambda: VerifyingReader(io.BytesIO(broken), sha256_digest(broken), "blob under test")], ""
        )


# --------------------------------------------------------------------------------------------
# new: an operator image's big layer, scanned for manifests/, read again after a flipped byte


@pytest.fixture(scope="module")
def filler_content(registry_http: RegistryInfo) -> tuple[str, str]:
    """The sample components copied straight to okd/faults-content, one operator image with a
    >1 MiB random layer on top; returns (repository, that layer's digest)."""
    from okdrelease.transport.copy import copy_all
    from okdrelease.transport.open import DefaultTransport

    name = "okd/faults-content"
    with DefaultTransport(options_for(registry_http)) as transport:
        source, _ = transport.open(f"oci:{SAMPLE}")
        destination, _ = transport.open(f"{registry_http.host}/{name}")
        copy_all(source, destination)
        operator = destination.get_manifest(OPERATOR)
        tar = layer_tar({"opt/filler.bin": random_bytes(SMALL_BLOB + (512 << 10), "operator-filler")})
        filler = gzip.compress(tar, mtime=0)
        config = json.loads(destination.read_blob(operator.config.digest))
        config["rootfs"]["diff_ids"].append(sha256_digest(tar))
        config_bytes = json.dumps(config).encode()
        body = json.loads(operator.raw)
        body["config"] = {**body["config"], "digest": sha256_digest(config_bytes), "size": len(config_bytes)}
        body["layers"].append(
            {"mediaType": mt.OCI_LAYER_GZIP, "digest": sha256_digest(filler), "size": len(filler)}
        )
        destination.put_blob(filler, sha256_digest(filler), len(filler))
        destination.put_blob(config_bytes, sha256_digest(config_bytes), len(config_bytes))
        destination.put_manifest(json.dumps(body).encode(), operator.media_type, OPERATOR)
    return name, sha256_digest(filler)


OPERATOR = "aws-ebs-csi-driver-operator"


def test_new_reads_a_flipped_big_operator_layer_again(
    proxy: FaultProxy, filler_content: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name, filler = filler_content

    def new(out: str) -> list[str]:
        return [
            "new",
            *FAST,
            "--no-cache",
            "--insecure-registry",
            proxy.host,
            "--from-repository",
            f"{proxy.host}/{name}",
            "--name",
            RELEASE,
            "--created",
            "2024-05-01T00:00:00Z",
            "--to-image",
            f"oci:{tmp_path / out}:{RELEASE}",
        ]

    code, clean, err = cli(capsys, *new("clean"))
    assert code == 0, err
    assert proxy.count("GET", f"/blobs/{filler}$") == 1  # the operator's layers are scanned
    proxy.clear()
    injected = proxy.add(Rule("GET", f"/blobs/{filler}$", "flip")).rules[0]
    code, out, err = cli(capsys, *new("faulted"))
    assert (code, out.replace("faulted", "clean")) == (0, clean), err
    assert injected.injected == 1
    assert [r.fault for r in proxy.seen("GET", f"/blobs/{filler}$")] == ["flip", None]
