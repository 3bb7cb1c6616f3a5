"""Manifest formats (skopeo's ``--format oci|v2s2``): media types of one format, and manifests converted to it.

Converting changes only the manifest (and list) bytes, so their digests; configs and layers
keep their bytes and digests, only the media types their descriptors carry change.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal

from okdrelease.errors import OkdReleaseError
from okdrelease.oci import mediatypes as mt
from okdrelease.oci.model import AnyManifest, Index, Manifest, parse_manifest

__all__ = [
    "FORMATS",
    "ConversionError",
    "ManifestFormat",
    "config_type",
    "convert",
    "format_of",
    "index_type",
    "layer_type",
    "manifest_type",
]

ManifestFormat = Literal["oci", "v2s2"]
FORMATS: tuple[ManifestFormat, ...] = ("oci", "v2s2")

_OCI_NONDISTRIBUTABLE_GZIP = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
#: Layer media types with an equivalent in the other format (same bytes).
_TO_OCI = {
    mt.DOCKER_LAYER_GZIP: mt.OCI_LAYER_GZIP,
    mt.DOCKER_FOREIGN_LAYER_GZIP: _OCI_NONDISTRIBUTABLE_GZIP,
}
_TO_DOCKER = {oci: docker for docker, oci in _TO_OCI.items()}
_DOCKER_LAYER_PREFIX = "application/vnd.docker.image.rootfs."
#: Keys a Docker schema 2 manifest or list has; others (annotations, subject, artifactType) are OCI's.
_DOCKER_KEYS = ("schemaVersion", "mediaType", "config", "layers", "manifests")


class ConversionError(OkdReleaseError):
    """A manifest cannot be written in the format asked for (a layer type the format has no name for)."""


def format_of(media_type: str) -> ManifestFormat | None:
    """The format of a manifest or list media type (None: neither)."""
    if media_type in (mt.OCI_MANIFEST, mt.OCI_INDEX):
        return "oci"
    if media_type in (mt.DOCKER_MANIFEST, mt.DOCKER_MANIFEST_LIST):
        return "v2s2"
    return None


def manifest_type(fmt: ManifestFormat) -> str:
    """The single-image manifest media type of ``fmt``."""
    return mt.OCI_MANIFEST if fmt == "oci" else mt.DOCKER_MANIFEST


def index_type(fmt: ManifestFormat) -> str:
    """The list (index) media type of ``fmt``."""
    return mt.OCI_INDEX if fmt == "oci" else mt.DOCKER_MANIFEST_LIST


def config_type(fmt: ManifestFormat) -> str:
    """The image config media type of ``fmt``."""
    return mt.OCI_CONFIG if fmt == "oci" else mt.DOCKER_CONFIG


def layer_type(media_type: str, fmt: ManifestFormat) -> str:
    """The media type of the same layer bytes in ``fmt``; ConversionError when ``fmt`` has none."""
    table = _TO_OCI if fmt == "oci" else _TO_DOCKER
    if media_type in table:
        return table[media_type]
    if fmt == "v2s2" and media_type.startswith(_DOCKER_LAYER_PREFIX):
        return media_type
    if fmt == "oci" and not media_type.startswith(_DOCKER_LAYER_PREFIX):
        return media_type  # OCI's own layer types, and the artifact types OCI allows
    raise ConversionError(f"layer media type {media_type} has no equivalent in the {fmt} format")


def _descriptor(item: Mapping[str, Any], media_type: str, fmt: ManifestFormat) -> dict[str, Any]:
    out = dict(item)
    out["mediaType"] = media_type
    if fmt == "v2s2":
        out.pop("annotations", None)
        out.pop("artifactType", None)
    return out


def _top(data: Mapping[str, Any], media_type: str, fmt: ManifestFormat) -> dict[str, Any]:
    out = {"schemaVersion": 2, "mediaType": media_type}
    for key, value in data.items():
        if key in out:
            continue
        if fmt == "v2s2" and key not in _DOCKER_KEYS:
            continue
        out[key] = value
    return out


def _manifest(manifest: Manifest, fmt: ManifestFormat) -> bytes:
    data = _top(manifest.parsed, manifest_type(fmt), fmt)
    data["config"] = _descriptor(manifest.parsed["config"], config_type(fmt), fmt)
    layers = manifest.parsed.get("layers") or []
    try:
        data["layers"] = [_descriptor(d, layer_type(str(d.get("mediaType", "")), fmt), fmt) for d in layers]
    except ConversionError as err:
        raise ConversionError(f"cannot convert manifest {manifest.digest} to {fmt}: {err}") from None
    return json.dumps(data, indent=3).encode()


def _index(index: Index, fmt: ManifestFormat, children: Mapping[str, tuple[str, int, str]]) -> bytes:
    data = _top(index.parsed, index_type(fmt), fmt)
    entries = []
    for item in index.parsed.get("manifests") or []:
        digest = str(item.get("digest", ""))
        if digest not in children:
            raise ConversionError(
                f"cannot convert list {index.digest} to {fmt}: entry {digest} was not converted"
            )
        new_digest, size, media_type = children[digest]
        entry = _descriptor(item, media_type, fmt)
        entry["digest"], entry["size"] = new_digest, size
        entries.append(entry)
    data["manifests"] = entries
    return json.dumps(data, indent=3).encode()


def convert(
    manifest: AnyManifest, fmt: ManifestFormat, children: Mapping[str, tuple[str, int, str]] | None = None
) -> AnyManifest:
    """``manifest`` in ``fmt``: itself when already in it (and a list's children unchanged), else rewritten.

    ``children`` maps each entry digest of a list to (new digest, size, media type) of its converted child.
    """
    moved = {k: v for k, v in (children or {}).items() if v[0] != k or format_of(v[2]) != fmt}
    if format_of(manifest.media_type) == fmt and not moved:
        return manifest
    if isinstance(manifest, Index):
        raw = _index(manifest, fmt, children or {})
    else:
        raw = _manifest(manifest, fmt)
    return parse_manifest(raw)
