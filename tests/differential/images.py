"""Image building and pushing for the differential harness, independent of okdrelease's transport.

Layers are written with Python's ``tarfile`` in PAX format, which is what lets the generator give
entries fractional, negative and post-2262 modification times (PAX ``mtime`` records). Images are
pushed with plain ``requests`` calls to the Distribution HTTP API (monolithic blob uploads), so a
bug in okdrelease's registry client cannot hide a difference.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Mapping, Sequence

import attrs
import requests

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
ACCEPT = ", ".join((DOCKER_LIST, OCI_INDEX, DOCKER_MANIFEST, OCI_MANIFEST))


def sha256(data: bytes) -> str:
    """``sha256:<hex>`` of ``data``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


@attrs.frozen
class Entry:
    """One tar entry of a layer: a file (``data``), a directory (``data is None``) or a symlink."""

    path: str
    data: bytes | None
    mtime: float
    mode: int = 0o644
    linkname: str = ""


@attrs.frozen
class ImageSpec:
    """An image to push under ``tag``: layers of entries, config labels and extra config fields."""

    tag: str
    layers: tuple[tuple[Entry, ...], ...]
    labels: Mapping[str, str]
    docker: bool = True
    config_extra: Mapping[str, object] = attrs.field(factory=dict)
    container_config: Mapping[str, object] = attrs.field(factory=dict)
    platforms: tuple[tuple[str, str], ...] = ()  # non-empty: push a manifest list of these
    compressed: bool = True


@attrs.frozen
class Blob:
    """Bytes to upload."""

    data: bytes = attrs.field(repr=False)

    @property
    def digest(self) -> str:
        """sha256 of the bytes."""
        return sha256(self.data)


@attrs.frozen
class Built:
    """A built manifest (image or list) with every blob and child it needs."""

    raw: bytes = attrs.field(repr=False)
    media_type: str
    blobs: tuple[Blob, ...] = ()
    children: tuple[Built, ...] = ()

    @property
    def digest(self) -> str:
        """The manifest digest."""
        return sha256(self.raw)


def layer_tar(entries: Sequence[Entry]) -> bytes:
    """An uncompressed PAX tar of ``entries`` in the given order."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for entry in entries:
            info = tarfile.TarInfo(entry.path)
            info.mtime = entry.mtime  # floats become PAX records
            info.mode = entry.mode
            if entry.linkname:
                info.type = tarfile.SYMTYPE
                info.linkname = entry.linkname
                archive.addfile(info)
            elif entry.data is None:
                info.type = tarfile.DIRTYPE
                archive.addfile(info)
            else:
                info.size = len(entry.data)
                archive.addfile(info, io.BytesIO(entry.data))
    return buffer.getvalue()


def _descriptor(media_type: str, data: bytes) -> dict[str, object]:
    return {"mediaType": media_type, "digest": sha256(data), "size": len(data)}


def build_image(spec: ImageSpec, platform: tuple[str, str] = ("linux", "amd64")) -> Built:
    """Build one image manifest (Docker schema 2 or OCI) with its config and layer blobs."""
    layers: list[bytes] = []
    diff_ids: list[str] = []
    for entries in spec.layers:
        tar = layer_tar(entries)
        diff_ids.append(sha256(tar))
        layers.append(gzip.compress(tar, mtime=0) if spec.compressed else tar)
    if spec.docker:
        layer_type = DOCKER_LAYER
    else:
        layer_type = OCI_LAYER_GZIP if spec.compressed else OCI_LAYER
    config_doc: dict[str, object] = {"architecture": platform[1], "os": platform[0]}
    config_doc.update(spec.config_extra)
    inner = dict(spec.container_config)
    if spec.labels:
        inner["Labels"] = dict(spec.labels)
    config_doc["config"] = inner
    config_doc["rootfs"] = {"type": "layers", "diff_ids": diff_ids}
    config_doc["history"] = [{"created_by": f"layer {i}"} for i in range(len(layers))]
    config = json.dumps(config_doc).encode()
    media_type = DOCKER_MANIFEST if spec.docker else OCI_MANIFEST
    manifest = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": _descriptor(DOCKER_CONFIG if spec.docker else OCI_CONFIG, config),
        "layers": [_descriptor(layer_type, layer) for layer in layers],
    }
    raw = json.dumps(manifest, indent=3).encode()
    return Built(raw, media_type, (Blob(config), *map(Blob, layers)))


def build(spec: ImageSpec) -> Built:
    """Build ``spec``: a single image, or a manifest list over one child per platform."""
    if not spec.platforms:
        return build_image(spec)
    children = tuple(build_image(spec, platform) for platform in spec.platforms)
    media_type = DOCKER_LIST if spec.docker else OCI_INDEX
    entries = []
    for child, (os_name, arch) in zip(children, spec.platforms, strict=True):
        entry = _descriptor(child.media_type, child.raw)
        entry["platform"] = {"architecture": arch, "os": os_name}
        entries.append(entry)
    raw = json.dumps({"schemaVersion": 2, "mediaType": media_type, "manifests": entries}, indent=3)
    return Built(raw.encode(), media_type, (), children)


class Pusher:
    """Pushes built images to a plain-HTTP loopback registry."""

    def __init__(self, host: str) -> None:
        """Talk to ``http://host``."""
        self.base = f"http://{host}/v2"
        self.session = requests.Session()

    def push_blob(self, repo: str, blob: Blob) -> None:
        """Upload ``blob`` unless the repository already has it."""
        head = self.session.head(f"{self.base}/{repo}/blobs/{blob.digest}", timeout=30)
        if head.status_code == 200:
            return
        start = self.session.post(f"{self.base}/{repo}/blobs/uploads/", timeout=30)
        start.raise_for_status()
        location = start.headers["Location"]
        if location.startswith("/"):
            location = self.base[: -len("/v2")] + location
        sep = "&" if "?" in location else "?"
        put = self.session.put(
            f"{location}{sep}digest={blob.digest}",
            data=blob.data,
            headers={"Content-Type": "application/octet-stream"},
            timeout=30,
        )
        put.raise_for_status()

    def push(self, repo: str, built: Built, tag: str | None) -> str:
        """Push children, blobs and the manifest (under ``tag`` or by digest); return the digest."""
        for child in built.children:
            self.push(repo, child, None)
        for blob in built.blobs:
            self.push_blob(repo, blob)
        reference = tag or built.digest
        put = self.session.put(
            f"{self.base}/{repo}/manifests/{reference}",
            data=built.raw,
            headers={"Content-Type": built.media_type},
            timeout=30,
        )
        put.raise_for_status()
        return built.digest

    def manifest(self, repo: str, reference: str) -> tuple[bytes, str] | None:
        """The manifest bytes and media type at ``reference``, or None when absent."""
        resp = self.session.get(
            f"{self.base}/{repo}/manifests/{reference}", headers={"Accept": ACCEPT}, timeout=30
        )
        if resp.status_code == 404:
            return None
        resp.raise_for_status()
        return resp.content, resp.headers.get("Content-Type", "")

    def blob(self, repo: str, digest: str) -> bytes:
        """The blob's bytes, checked against its digest."""
        resp = self.session.get(f"{self.base}/{repo}/blobs/{digest}", timeout=60)
        resp.raise_for_status()
        if sha256(resp.content) != digest:
            raise AssertionError(f"blob {digest} of {repo} does not match its digest")
        return resp.content
