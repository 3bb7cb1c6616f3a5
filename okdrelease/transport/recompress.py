"""skopeo's ``--dest-compress-format``: layers compressed otherwise are re-compressed, manifests rewritten.

A layer in gzip or zstd that is not in the format asked for is decompressed and compressed again
into a temporary file (its digest and size change; the config's diff IDs, of the uncompressed
tar, do not). Each manifest naming such a layer is rewritten over the new descriptors (in OCI
media types when a layer becomes zstd, which Docker schema 2 cannot name), and each list over its
rewritten children. Layers in other types (uncompressed, foreign) are copied as they are.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import tempfile
from collections.abc import Iterable
from typing import IO, Any, BinaryIO, Literal, cast

import attrs

from okdrelease._repr import value_repr
from okdrelease.errors import OkdReleaseError
from okdrelease.oci import mediatypes as mt
from okdrelease.oci.convert import convert, format_of
from okdrelease.oci.layerread import open_layer
from okdrelease.oci.model import AnyManifest, Descriptor, Index, Manifest, parse_manifest
from okdrelease.transport.base import Repository

CompressFormat = Literal["gzip", "zstd"]
COMPRESS_FORMATS: tuple[CompressFormat, ...] = ("gzip", "zstd")
_CHUNK = 1 << 20
#: (layer media type, format asked for) → the media type of the re-compressed layer.
_NEW_TYPE = {
    (mt.OCI_LAYER_GZIP, "zstd"): mt.OCI_LAYER_ZSTD,
    (mt.DOCKER_LAYER_GZIP, "zstd"): mt.OCI_LAYER_ZSTD,
    (mt.OCI_LAYER_ZSTD, "gzip"): mt.OCI_LAYER_GZIP,
}


@attrs.frozen
class Recompressed:
    """A layer compressed anew: its new descriptor and the temporary file holding it."""

    __repr__ = value_repr

    old: Descriptor
    new: Descriptor
    path: str

    def open(self) -> BinaryIO:
        """The new layer's bytes (a fresh stream for each upload attempt)."""
        return open(self.path, "rb")


def needs_recompression(layer: Descriptor, fmt: CompressFormat) -> bool:
    """True when ``layer`` is compressed, but not in ``fmt``."""
    return (layer.media_type, fmt) in _NEW_TYPE


def recompress_layer(src: Repository, layer: Descriptor, fmt: CompressFormat, directory: str) -> Recompressed:
    """Decompress ``layer`` from ``src`` (verified) and compress it in ``fmt`` into a file in ``directory``."""
    fd, path = tempfile.mkstemp(dir=directory, prefix="layer-")
    hasher = hashlib.sha256()
    with os.fdopen(fd, "wb") as out:
        sink = _Hashing(out, hasher)
        with open_layer(src.open_blob(layer.digest, layer.size), layer.media_type, name=layer.digest) as tar:
            with _compressor(sink, fmt) as packed:
                while chunk := tar.read(_CHUNK):
                    packed.write(chunk)
    new = Descriptor(_NEW_TYPE[(layer.media_type, fmt)], "sha256:" + hasher.hexdigest(), sink.size)
    return Recompressed(layer, new, path)


def _compressor(out: _Hashing, fmt: CompressFormat) -> Any:
    if fmt == "gzip":
        return gzip.GzipFile(fileobj=out, mode="wb", mtime=0)
    try:
        import zstandard
    except ImportError as err:  # pragma: no cover - zstandard is a dependency
        raise OkdReleaseError("--dest-compress-format zstd needs zstandard: pip install zstandard") from err
    return zstandard.ZstdCompressor().stream_writer(cast("IO[bytes]", out), closefd=False)


class _Hashing:
    """A file that hashes and counts what is written to it."""

    def __init__(self, out: BinaryIO, hasher: Any) -> None:
        self._out = out
        self._hasher = hasher
        self.size = 0

    def write(self, data: bytes) -> int:
        self._hasher.update(data)
        self.size += len(data)
        return self._out.write(data)

    def flush(self) -> None:
        self._out.flush()


def rewrite(order: Iterable[AnyManifest], layers: dict[str, Recompressed]) -> list[AnyManifest]:
    """``order`` (children first) over the re-compressed ``layers``: manifests naming them, then lists."""
    children: dict[str, tuple[str, int, str]] = {}
    out: list[AnyManifest] = []
    for manifest in order:
        if isinstance(manifest, Index):
            moved = any(children.get(d.digest, (d.digest,))[0] != d.digest for d in manifest.manifests)
            oci = any(format_of(c[2]) == "oci" for c in children.values())
            new = convert(manifest, "oci" if oci else "v2s2", children) if moved else manifest
        else:
            assert isinstance(manifest, Manifest)
            new = _manifest(manifest, layers)
        children[manifest.digest] = (new.digest, len(new.raw), new.media_type)
        out.append(new)
    return out


def _manifest(manifest: Manifest, layers: dict[str, Recompressed]) -> AnyManifest:
    if not any(layer.digest in layers for layer in manifest.layers):
        return manifest
    if any(
        layers[d.digest].new.media_type == mt.OCI_LAYER_ZSTD for d in manifest.layers if d.digest in layers
    ):
        manifest = convert(manifest, "oci")  # type: ignore[assignment]
    data: dict[str, Any] = dict(manifest.parsed)
    entries = []
    for item in data.get("layers") or []:
        done = layers.get(str(item.get("digest", "")))
        if done is not None:
            item = {
                **item,
                "mediaType": done.new.media_type,
                "digest": done.new.digest,
                "size": done.new.size,
            }
        entries.append(item)
    data["layers"] = entries
    return parse_manifest(json.dumps(data, separators=(",", ":")).encode())
