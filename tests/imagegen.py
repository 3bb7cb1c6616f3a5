"""Build small random test images (real gzip tar layers) and write them into any Repository.

``make_image`` pushes the config and layers, then the manifest; ``make_index`` pushes one image per
platform and then a manifest list / OCI index over them. Content is derived from ``seed`` so the
same arguments give the same digests.
"""

from __future__ import annotations

import gzip
import io
import json
import random
import tarfile
from collections.abc import Sequence

import attrs

from okdrelease.oci import mediatypes as mt
from okdrelease.oci.digest import sha256_digest
from okdrelease.oci.model import Descriptor
from okdrelease.transport.base import Repository

OCI = "oci"
DOCKER = "docker"


@attrs.frozen
class Blob:
    """Bytes with their digest and media type."""

    data: bytes = attrs.field(repr=False)
    media_type: str

    @property
    def digest(self) -> str:
        """sha256 of the bytes."""
        return sha256_digest(self.data)

    def descriptor(self) -> dict[str, object]:
        """The descriptor JSON object."""
        return {"mediaType": self.media_type, "digest": self.digest, "size": len(self.data)}


@attrs.frozen
class GeneratedImage:
    """A generated image: manifest bytes and every blob it references."""

    manifest: bytes = attrs.field(repr=False)
    media_type: str
    config: Blob
    layers: tuple[Blob, ...]
    diff_ids: tuple[str, ...]

    @property
    def digest(self) -> str:
        """The manifest digest."""
        return sha256_digest(self.manifest)

    @property
    def blobs(self) -> tuple[Blob, ...]:
        """Config first, then layers."""
        return (self.config, *self.layers)

    def descriptor(self, platform: tuple[str, str] | None = None) -> dict[str, object]:
        """A descriptor of the manifest (with ``platform`` for an index entry)."""
        out: dict[str, object] = {
            "mediaType": self.media_type,
            "digest": self.digest,
            "size": len(self.manifest),
        }
        if platform:
            out["platform"] = {"architecture": platform[1], "os": platform[0]}
        return out


@attrs.frozen
class GeneratedIndex:
    """A generated manifest list / OCI index and its child images."""

    raw: bytes = attrs.field(repr=False)
    media_type: str
    children: tuple[GeneratedImage, ...]

    @property
    def digest(self) -> str:
        """The index digest."""
        return sha256_digest(self.raw)


def random_bytes(size: int, seed: int | str) -> bytes:
    """Return ``size`` pseudo-random (incompressible) bytes derived from ``seed``."""
    return random.Random(str(seed)).randbytes(size)


def layer_tar(files: dict[str, bytes]) -> bytes:
    """Return a deterministic uncompressed tar holding ``files`` (sorted, mtime 0, root-owned)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        directories = sorted(
            {"/".join(name.split("/")[:i]) for name in files for i in range(1, name.count("/") + 1)}
        )
        for directory in directories:
            info = tarfile.TarInfo(directory)
            info.type = tarfile.DIRTYPE
            info.mode = 0o755
            archive.addfile(info)
        for name in sorted(files):
            info = tarfile.TarInfo(name)
            info.size = len(files[name])
            info.mode = 0o644
            archive.addfile(info, io.BytesIO(files[name]))
    return buffer.getvalue()


def build_image(
    *,
    seed: int | str = 0,
    layers: int = 2,
    layer_size: int = 2048,
    flavour: str = OCI,
    platform: tuple[str, str] = ("linux", "amd64"),
    labels: dict[str, str] | None = None,
) -> GeneratedImage:
    """Build (without pushing) an image of ``layers`` random gzip layers."""
    docker = flavour == DOCKER
    layer_type = mt.DOCKER_LAYER_GZIP if docker else mt.OCI_LAYER_GZIP
    blobs: list[Blob] = []
    diff_ids: list[str] = []
    for index in range(layers):
        tar = layer_tar({f"data/{seed}-{index}.bin": random_bytes(layer_size, f"{seed}-{index}")})
        diff_ids.append(sha256_digest(tar))
        blobs.append(Blob(gzip.compress(tar, mtime=0), layer_type))
    config_doc = {
        "architecture": platform[1],
        "os": platform[0],
        "config": {"Labels": labels or {"seed": str(seed)}},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created_by": f"imagegen layer {i}"} for i in range(layers)],
    }
    config = Blob(
        json.dumps(config_doc, sort_keys=True).encode(), mt.DOCKER_CONFIG if docker else mt.OCI_CONFIG
    )
    media_type = mt.DOCKER_MANIFEST if docker else mt.OCI_MANIFEST
    manifest = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": config.descriptor(),
        "layers": [b.descriptor() for b in blobs],
    }
    raw = json.dumps(manifest, indent=3).encode()
    return GeneratedImage(raw, media_type, config, tuple(blobs), tuple(diff_ids))


def push_image(repo: Repository, image: GeneratedImage, tag: str | None = None) -> str:
    """Write the image's blobs (skipping present ones) and manifest into ``repo``; return the digest."""
    for blob in image.blobs:
        if not repo.has_blob(blob.digest):
            repo.put_blob(blob.data, blob.digest, len(blob.data))
    return repo.put_manifest(image.manifest, image.media_type, tag)


def make_image(repo: Repository, tag: str | None = "latest", **kwargs: object) -> GeneratedImage:
    """Build an image (see ``build_image``) and push it to ``repo`` under ``tag``."""
    image = build_image(**kwargs)  # type: ignore[arg-type]
    push_image(repo, image, tag)
    return image


def build_index(
    *,
    seed: int | str = 0,
    platforms: Sequence[tuple[str, str]] = (("linux", "amd64"), ("linux", "arm64")),
    flavour: str = OCI,
    layers: int = 1,
    layer_size: int = 1024,
) -> GeneratedIndex:
    """Build (without pushing) an index with one image per platform."""
    children = tuple(
        build_image(
            seed=f"{seed}-{os}-{arch}",
            layers=layers,
            layer_size=layer_size,
            flavour=flavour,
            platform=(os, arch),
        )
        for os, arch in platforms
    )
    media_type = mt.DOCKER_MANIFEST_LIST if flavour == DOCKER else mt.OCI_INDEX
    doc = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "manifests": [
            child.descriptor(platform) for child, platform in zip(children, platforms, strict=True)
        ],
    }
    return GeneratedIndex(json.dumps(doc, indent=2).encode(), media_type, children)


def make_index(repo: Repository, tag: str | None = "latest", **kwargs: object) -> GeneratedIndex:
    """Build an index (see ``build_index``), push children by digest, then the index under ``tag``."""
    index = build_index(**kwargs)  # type: ignore[arg-type]
    for child in index.children:
        push_image(repo, child, None)
    repo.put_manifest(index.raw, index.media_type, tag)
    return index


def descriptor_of(image: GeneratedImage) -> Descriptor:
    """The manifest descriptor as an okdrelease Descriptor."""
    return Descriptor(image.media_type, image.digest, len(image.manifest))
