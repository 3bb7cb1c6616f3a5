#!/usr/bin/env python3
"""Generate a benchmark payload (about 180 images, 60 operators, shared base layers of tens of MB) in a registry.

Usage::

    python benchmarks/generate_payload.py [--small] [--registry HOST:PORT] [--workdir DIR] [--keep-running]

Without ``--registry`` a Debian ``docker-registry`` is started on a free 127.0.0.1 port (storage in
``WORKDIR/registry``). Images are pushed with okdrelease's registry transport to
``HOST/bench/content:<tag>``; ``WORKDIR/imagestream.json`` names each of them by digest, ready for
``okdrelease new --from-image-stream-file``. The operator manifests come from the sample payload
generator (``testdata/make_sample.py``): its 40 operators plus synthetic ones. Base layers are made of
seeded pseudo-random hex text (compressible about 2:1), streamed through gzip into a file while both
digests are computed, then streamed to the registry; nothing big is held in memory.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import gzip
import hashlib
import io
import json
import logging
import random
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[1]
for _extra in (ROOT, ROOT / "testdata", ROOT / "tests"):
    if str(_extra) not in sys.path:
        sys.path.insert(0, str(_extra))

import make_sample as sample  # noqa: E402

from okdrelease.reference import ImageReference  # noqa: E402
from okdrelease.transport.base import Repository, TransportOptions  # noqa: E402
from okdrelease.transport.client import RegistryClient  # noqa: E402

log = logging.getLogger("generate_payload")

MiB = 1024 * 1024
CONTENT_REPO = "bench/content"
_CHUNK = 256 * 1024


@dataclass(frozen=True, slots=True)
class Scale:
    """How big the generated payload is.

    ``images`` component images: about a third are operators (``images // 3``), the rest operands
    spread over them, plus the cluster-version-operator base image. Every operator ships the sample
    generator's manifests plus ``real_per_operator`` real manifests from ``../shared/testdata-real``
    (read at run time). Every image sits on all ``base_layers_mib`` shared base layers.
    """

    images: int
    base_layers_mib: tuple[int, ...]
    base_file_kib: int
    binary_kib: int
    real_per_operator: int

    @property
    def operators(self) -> int:
        """How many operator images."""
        return max(1, self.images // 3)


#: The issue's payload: 180 images, 60 operators with about 726 manifests, base layers of 42 + 21 MB.
DEFAULT_SCALE = Scale(
    images=180, base_layers_mib=(40, 20), base_file_kib=512, binary_kib=256, real_per_operator=5
)
SMALL_SCALE = Scale(images=36, base_layers_mib=(4, 2), base_file_kib=256, binary_kib=16, real_per_operator=2)
REAL = ROOT.parent / "shared" / "testdata-real"


def scaled(scale: Scale, images: int) -> Scale:
    """``scale`` with another image count (the scaling series)."""
    return Scale(
        images, scale.base_layers_mib, scale.base_file_kib, scale.binary_kib, scale.real_per_operator
    )


@dataclass(frozen=True, slots=True)
class Payload:
    """What was generated: the ImageStream file and figures for the report."""

    imagestream: Path
    registry: str
    repository: str
    digests: dict[str, str]
    images: int
    operators: int
    manifests: int
    base_layers: tuple[sample.Layer, ...]
    pushed_bytes: int
    seconds: float


def bench_operators(scale: Scale) -> list[sample.Operator]:
    """Return ``scale.operators`` synthetic operators sharing ``images - 1 - operators`` operands round-robin."""
    count = scale.operators
    operands: list[list[str]] = [[] for _ in range(count)]
    for j in range(max(0, scale.images - 1 - count)):
        operands[j % count].append(f"bench-component-{j:04d}")
    ops = []
    for i in range(count):
        ops.append(
            sample.Operator(
                tag=f"bench-operator-{i:03d}",
                cluster_operator=f"bench-{i:03d}",
                namespace=f"openshift-bench-{i:03d}",
                operands=tuple(operands[i]),
                kube_version=False,
                prefixed=i % 2 == 0,
                run_level=f"{50 + i % 40:02d}",
            )
        )
    return ops


# --------------------------------------------------------------------------------------------
# Streamed base layers


class SeededText(io.RawIOBase):
    """``size`` bytes of pseudo-random lowercase hex text derived from ``seed`` (compresses about 2:1)."""

    def __init__(self, seed: str, size: int) -> None:
        """Produce ``size`` bytes from ``random.Random(seed)``."""
        self._rng = random.Random(seed)
        self._left = size
        self._pending = b""

    def readable(self) -> bool:
        """Always readable."""
        return True

    def readinto(self, buffer: Any) -> int:
        """Fill ``buffer`` with the next bytes (0 at the end)."""
        view = memoryview(buffer).cast("B")
        want = min(len(view), self._left)
        while len(self._pending) < want:
            self._pending += self._rng.randbytes(_CHUNK // 2).hex().encode()
        view[:want] = self._pending[:want]
        self._pending = self._pending[want:]
        self._left -= want
        return want


class _HashingWriter:
    """Write-only file object that hashes and counts what passes through it to ``target``."""

    def __init__(self, target: IO[bytes]) -> None:
        self.target = target
        self.hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.hash.update(data)
        self.size += len(data)
        return self.target.write(data)

    def flush(self) -> None:
        self.target.flush()

    @property
    def digest(self) -> str:
        return "sha256:" + self.hash.hexdigest()


def stream_base_layer(name: str, size_mib: int, file_kib: int, seed: int, path: Path) -> sample.Layer:
    """Write a base layer of ``size_mib`` MiB of files to ``path`` (gzip, mtime 0); return its digests."""
    with path.open("wb") as out:
        gz_side = _HashingWriter(out)
        with gzip.GzipFile(filename="", mode="wb", fileobj=gz_side, compresslevel=6, mtime=0) as gz:
            tar_side = _HashingWriter(gz)  # type: ignore[arg-type]
            with tarfile.open(fileobj=tar_side, mode="w|", format=tarfile.PAX_FORMAT) as tar:  # type: ignore[call-overload]
                for dirname in ("usr", "usr/lib", f"usr/lib/{name}"):
                    tar.addfile(sample.tar_header(dirname, None))
                count = max(1, size_mib * 1024 // file_kib)
                for i in range(count):
                    member = f"usr/lib/{name}/part-{i:05d}.dat"
                    size = file_kib * 1024
                    tar.addfile(sample.tar_header(member, size), SeededText(f"{seed}:{name}:{i}", size))
    return sample.Layer(gz_side.digest, gz_side.size, tar_side.digest)


class Zeros(io.RawIOBase):
    """``size`` zero bytes (the big layer's file: gzip shrinks it about 1000:1)."""

    def __init__(self, size: int) -> None:
        """Produce ``size`` zero bytes."""
        self._left = size

    def readable(self) -> bool:
        """Always readable."""
        return True

    def readinto(self, buffer: Any) -> int:
        """Fill ``buffer`` with zeros (0 at the end)."""
        view = memoryview(buffer).cast("B")
        want = min(len(view), self._left)
        view[:want] = bytes(want)
        self._left -= want
        return want


def stream_big_layer(manifests: dict[str, bytes], big_bytes: int, path: Path) -> sample.Layer:
    """Write an operator's top layer to ``path`` (gzip): its ``manifests/`` and one file of ``big_bytes`` zeros."""
    with path.open("wb") as out:
        gz_side = _HashingWriter(out)
        with gzip.GzipFile(filename="", mode="wb", fileobj=gz_side, compresslevel=1, mtime=0) as gz:
            tar_side = _HashingWriter(gz)  # type: ignore[arg-type]
            with tarfile.open(fileobj=tar_side, mode="w|", format=tarfile.PAX_FORMAT) as tar:  # type: ignore[call-overload]
                for dirname in ("manifests", "usr", "usr/lib", "usr/lib/big"):
                    tar.addfile(sample.tar_header(dirname, None))
                for name, data in sorted(manifests.items()):
                    tar.addfile(sample.tar_header(f"manifests/{name}", len(data)), io.BytesIO(data))
                tar.addfile(sample.tar_header("usr/lib/big/zeros.bin", big_bytes), Zeros(big_bytes))
    return sample.Layer(gz_side.digest, gz_side.size, tar_side.digest)


# --------------------------------------------------------------------------------------------
# Pushing


def _push_file(repo: Repository, layer: sample.Layer, path: Path) -> None:
    if repo.has_blob(layer.digest):
        return
    with path.open("rb") as stream:
        repo.put_blob(stream, layer.digest, layer.size)


def push_image(repo: Repository, image: sample.Image, known: set[str]) -> int:
    """Push the config, the in-memory layers and then the manifest under the image's tag; return bytes sent."""
    sent = 0
    for blob in image.blobs():
        if blob.digest in known:
            continue
        repo.put_blob(blob.data, blob.digest)
        sent += len(blob.data)
    repo.put_manifest(image.manifest.data, image.manifest.media_type, image.tag)
    return sent + len(image.manifest.data)


def real_manifests() -> list[tuple[str, bytes]]:
    """Every ``.yaml`` manifest of the real operators in ``../shared/testdata-real`` (name, bytes), sorted."""
    # the cluster-version-operator's own manifests live in the base image, not in an operator image;
    # its deployment template ({{.ReleaseImage}} as a map key) is refused by oc's manifest check
    files = sorted(
        p
        for p in (REAL / "operators").rglob("*.yaml")
        if p.is_file() and "cluster-version-operator" not in p.parts
    )
    if not files:
        raise SystemExit(f"no real manifests under {REAL}/operators (../shared is needed at run time)")
    # files with version placeholders (0.0.1-snapshot-kubernetes) need that component in their operator's
    # image-references; the synthetic operators do not have it
    found = [(p.name, p.read_bytes()) for p in files]
    return [(name, data) for name, data in found if b"0.0.1-snapshot" not in data]


def operator_manifests(
    op: sample.Operator, index: int, scale: Scale, real: Sequence[tuple[str, bytes]]
) -> dict[str, bytes]:
    """The sample generator's files of ``op`` plus ``real_per_operator`` real manifests (picked round-robin)."""
    files = sample.operator_files(op, index)
    for k in range(scale.real_per_operator):
        name, data = real[(index * scale.real_per_operator + k) % len(real)]
        files[f"90_real_{k:02d}_{name}"] = data
    return files


def build_images(scale: Scale, bases: Sequence[sample.Layer], seed: int) -> Iterator[sample.Image]:
    """Yield every benchmark image, each on all base layers plus its own small top layer."""
    ops = bench_operators(scale)
    real = real_manifests()
    binary = scale.binary_kib * 1024
    for i, op in enumerate(ops):
        files = operator_manifests(op, i, scale, real)
        yield sample.component_image(
            op.tag, bases, manifests=files, operator=True, docker=op.docker, seed=seed, binary_size=binary
        )
    for i, tag in enumerate(sample.operand_tags(ops)):
        yield sample.component_image(tag, bases, docker=i % 4 == 3, seed=seed, binary_size=binary)
    yield sample.component_image(
        sample.BASE_TAG, bases, manifests=sample.cvo_files(), docker=True, seed=seed, binary_size=binary
    )


def manifest_count(scale: Scale) -> int:
    """How many files the operators ship under ``manifests/`` (image-references included)."""
    real = real_manifests()
    return sum(len(operator_manifests(op, i, scale, real)) for i, op in enumerate(bench_operators(scale)))


def imagestream_json(registry: str, digests: dict[str, str], repository: str = CONTENT_REPO) -> bytes:
    """Return an ImageStream naming ``tag -> registry/repository@digest`` for every tag."""
    tags = [
        {"name": tag, "from": {"kind": "DockerImage", "name": f"{registry}/{repository}@{digest}"}}
        for tag, digest in sorted(digests.items())
    ]
    doc = {
        "kind": "ImageStream",
        "apiVersion": "image.openshift.io/v1",
        "metadata": {"name": "bench"},
        "spec": {"tags": tags},
    }
    return json.dumps(doc, indent=2).encode() + b"\n"


def mapping_file(registry: str, digests: dict[str, str], repository: str = CONTENT_REPO) -> bytes:
    """Return a ``--mapping-file`` naming ``tag=registry/repository@digest`` for every tag."""
    lines = [f"{tag}={registry}/{repository}@{digest}" for tag, digest in sorted(digests.items())]
    return ("\n".join(lines) + "\n").encode()


def make_bases(scale: Scale, workdir: Path, seed: int = sample.SEED) -> list[tuple[sample.Layer, Path]]:
    """Write the shared base layers as gzip files under ``workdir`` (kept, so several payloads reuse them)."""
    workdir.mkdir(parents=True, exist_ok=True)
    bases = []
    for i, size in enumerate(scale.base_layers_mib):
        path = workdir / f"base-{i}-{size}MiB.tar.gz"
        layer = stream_base_layer(f"base{i}", size, scale.base_file_kib, seed, path)
        log.info("base layer %d: %d MiB of files, %d bytes gzip, %s", i, size, layer.size, layer.digest)
        bases.append((layer, path))
    return bases


def generate(
    registry: str,
    workdir: Path,
    scale: Scale = DEFAULT_SCALE,
    seed: int = sample.SEED,
    repository: str = CONTENT_REPO,
    bases: Sequence[tuple[sample.Layer, Path]] | None = None,
) -> Payload:
    """Push the payload to ``registry/repository`` (plain HTTP); write ``workdir/imagestream.json``.

    ``bases`` are base layers from :func:`make_bases` (made here, then deleted, when not given).
    """
    start = time.monotonic()
    workdir.mkdir(parents=True, exist_ok=True)
    client = RegistryClient(TransportOptions(insecure=True, max_per_registry=8))
    repo = client.repository(ImageReference.parse(f"{registry}/{repository}"))
    digests: dict[str, str] = {}
    pushed = 0
    try:
        with tempfile.TemporaryDirectory(dir=workdir, prefix="layers-") as tmp:
            made = list(bases) if bases is not None else make_bases(scale, Path(tmp), seed)
            for layer, path in made:
                _push_file(repo, layer, path)
                pushed += layer.size
            layers = [layer for layer, _ in made]
            known = {layer.digest for layer in layers}
            with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
                futures = {}
                for image in build_images(scale, layers, seed):
                    futures[pool.submit(push_image, repo, image, known)] = image
                for future in concurrent.futures.as_completed(futures):
                    image = futures[future]
                    pushed += future.result()
                    digests[image.tag] = image.manifest.digest
    finally:
        client.close()
    return _written(
        workdir / "imagestream.json",
        registry,
        repository,
        digests,
        operators=scale.operators,
        manifests=manifest_count(scale),
        base_layers=tuple(layers),
        pushed=pushed,
        start=start,
    )


def _written(
    imagestream: Path,
    registry: str,
    repository: str,
    digests: dict[str, str],
    *,
    operators: int,
    manifests: int,
    base_layers: tuple[sample.Layer, ...],
    pushed: int,
    start: float,
) -> Payload:
    """Write the ImageStream file naming ``digests`` and describe the pushed payload."""
    imagestream.write_bytes(imagestream_json(registry, digests, repository))
    return Payload(
        imagestream=imagestream,
        registry=registry,
        repository=repository,
        digests=digests,
        images=len(digests),
        operators=operators,
        manifests=manifests,
        base_layers=base_layers,
        pushed_bytes=pushed,
        seconds=time.monotonic() - start,
    )


BIG_REPO = "bench/big"


def generate_big(registry: str, workdir: Path, big_bytes: int, repository: str = BIG_REPO) -> Payload:
    """Push a two-image payload: the cluster-version-operator and one operator whose top layer holds
    its ``manifests/`` and a ``big_bytes`` file (streamed to a file, then to the registry)."""
    start = time.monotonic()
    workdir.mkdir(parents=True, exist_ok=True)
    (op,) = bench_operators(scaled(SMALL_SCALE, 2))
    base = sample.base_layer()
    client = RegistryClient(TransportOptions(insecure=True, max_per_registry=4))
    repo = client.repository(ImageReference.parse(f"{registry}/{repository}"))
    try:
        with tempfile.TemporaryDirectory(dir=workdir, prefix="big-") as tmp:
            path = Path(tmp) / "big.tar.gz"
            big = stream_big_layer(sample.operator_files(op, 0), big_bytes, path)
            log.info("big layer: %d bytes of files, %d bytes gzip, %s", big_bytes, big.size, big.digest)
            _push_file(repo, big, path)
            layers = [base, big]
            history = ["ADD base-0.tar /", f"COPY {op.tag} /usr/lib/big && COPY manifests /manifests"]
            config = sample.image_config(
                sample.labels_for(op.tag, operator=True), layers, "/usr/lib/big/zeros.bin", history
            )
            images = [
                sample.build_image(op.tag, config, layers, docker=False),
                sample.component_image(sample.BASE_TAG, [base], manifests=sample.cvo_files(), docker=True),
            ]
            pushed = big.size + sum(push_image(repo, image, set()) for image in images)
    finally:
        client.close()
    digests = {image.tag: image.manifest.digest for image in images}
    return _written(
        workdir / "imagestream-big.json",
        registry,
        repository,
        digests,
        operators=1,
        manifests=len(sample.operator_files(op, 0)),
        base_layers=(big,),
        pushed=pushed,
        start=start,
    )


def describe(payload: Payload) -> str:
    """One line summarising a generated payload."""
    bases = ", ".join(f"{layer.size / MiB:.1f} MiB" for layer in payload.base_layers)
    return (
        f"{payload.images} images ({payload.operators} operators, {payload.manifests} manifest files) in "
        f"{payload.registry}/{payload.repository}; "
        f"base layers (gzip) {bases}; {payload.pushed_bytes / MiB:.1f} MiB pushed in {payload.seconds:.1f} s"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: generate the payload (starting a registry unless --registry is given)."""
    parser = argparse.ArgumentParser(description="Generate a benchmark release payload in a local registry.")
    parser.add_argument(
        "--small", action="store_true", help="a quick, small payload (12 operators, small bases)"
    )
    parser.add_argument(
        "--registry", metavar="HOST:PORT", help="an existing plain-HTTP registry on 127.0.0.1"
    )
    parser.add_argument(
        "--workdir", type=Path, default=Path("bench-work"), help="output directory (bench-work)"
    )
    parser.add_argument("--keep-running", action="store_true", help="serve the started registry until Ctrl-C")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    scale = SMALL_SCALE if args.small else DEFAULT_SCALE
    if args.registry:
        payload = generate(args.registry, args.workdir, scale)
        print(describe(payload))
        print(f"ImageStream: {payload.imagestream}")
        return 0
    from registry_rig import RegistryServer

    with RegistryServer(args.workdir / "registry", flavour="http") as info:
        payload = generate(info.host, args.workdir, scale)
        print(describe(payload))
        print(f"ImageStream: {payload.imagestream}")
        if args.keep_running:
            print(f"registry {info.host} running (log {info.log_file}); Ctrl-C to stop", flush=True)
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
