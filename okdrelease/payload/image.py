"""The release image: the base (CVO) image plus one payload layer, as oc builds it (spec §3.12)."""

from __future__ import annotations

import hashlib
import logging
import threading
import zlib
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from okdrelease._repr import value_repr
from okdrelease.errors import ReleaseError
from okdrelease.gocompat.goconfig import CONFIG_TOP_FIELDS, go_container_config, go_decode_fields
from okdrelease.gocompat.gojson import marshal, marshal_indent
from okdrelease.oci import mediatypes as mt
from okdrelease.oci.convert import ManifestFormat, config_type, index_type, layer_type, manifest_type
from okdrelease.oci.digest import sha256_digest
from okdrelease.oci.model import Descriptor, ImageConfig, Index, Manifest
from okdrelease.openshift.labels import BASE_DIGEST_LABEL, RELEASE_LABEL
from okdrelease.transport import copy as transport_copy
from okdrelease.transport.base import BlobOpener, Repository
from okdrelease.transport.http import RetryPolicy
from okdrelease.workers import worker_pool

if TYPE_CHECKING:
    from okdrelease.oci.layerwrite import Gzipped

log = logging.getLogger(__name__)

#: Uploads one blob: ``Repository.put_blob`` or a session opened ahead's (source, digest, size).
BlobPut = Callable[[bytes, str, int], None]

HISTORY_COMMENT = "Release image for OpenShift"
#: The well-known gzipped empty layer oc always re-uploads (Q29).
EMPTY_GZIP_LAYER = "sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4"


def release_config(
    base: ImageConfig,
    *,
    release_name: str,
    base_digest: str,
    created: str,
    layer_sizes: Iterable[int],
    payload_diff_id: str,
) -> bytes:
    """Return the release image config bytes derived from ``base`` (spec §3.12.3 steps 6-10)."""
    src = go_decode_fields(base.parsed, CONFIG_TOP_FIELDS)
    labels = {RELEASE_LABEL: release_name}
    if base_digest:
        labels[BASE_DIGEST_LABEL] = base_digest
    sizes = list(layer_sizes)
    rootfs_src = src.get("rootfs") or {}
    diff_ids = list(rootfs_src.get("diff_ids") or []) + [payload_diff_id]
    history: list[dict[str, Any]] = [{"created": created, "comment": HISTORY_COMMENT}]
    while len(history) < len(sizes):
        history.append({"created": created})
    out: dict[str, Any] = {"id": str(src.get("id") or "")}
    if src.get("comment"):
        out["comment"] = src["comment"]
    out["created"] = created
    out["container_config"] = {}
    for key in ("docker_version", "author"):
        if src.get(key):
            out[key] = src[key]
    out["config"] = go_container_config(src.get("config") or {}, labels)
    out["architecture"] = src.get("architecture") or "amd64"
    total = sum(sizes)
    if total:
        out["size"] = total
    out["rootfs"] = {"type": rootfs_src.get("type") or "layers", "diff_ids": diff_ids}
    out["history"] = history
    out["os"] = src.get("os") or "linux"
    if src.get("os.version"):
        out["os.version"] = src["os.version"]
    if src.get("os.features"):
        out["os.features"] = src["os.features"]
    return marshal(out)


def _descriptor_object(desc: Descriptor) -> dict[str, Any]:
    raw = desc.raw or {}
    out: dict[str, Any] = {"mediaType": desc.media_type, "digest": desc.digest, "size": desc.size}
    for key in ("urls", "annotations", "platform"):
        if raw.get(key):
            out[key] = raw[key]
    return out


def release_manifest(
    config_digest: str, config_size: int, layers: Iterable[Descriptor], fmt: ManifestFormat | None = None
) -> bytes:
    """Return the manifest bytes with oc's three-space indentation (spec §3.12.3 step 11).

    ``fmt`` None is oc's: Docker schema 2, each base layer keeping the media type its base
    manifest gave it; ``oci`` or ``v2s2``: every media type of that format.
    """
    layer_objects = [_descriptor_object(d) for d in layers]
    if fmt is not None:
        layer_objects = [{**o, "mediaType": layer_type(o["mediaType"], fmt)} for o in layer_objects]
    body = {
        "schemaVersion": 2,
        "mediaType": manifest_type(fmt or "v2s2"),
        "config": {"mediaType": config_type(fmt or "v2s2"), "digest": config_digest, "size": config_size},
        "layers": layer_objects,
    }
    return marshal_indent(body, indent="   ")


def release_list(
    index: Index, children: Mapping[str, tuple[str, int]], fmt: ManifestFormat | None = None
) -> tuple[bytes, str]:
    """Rebuild a manifest list with new child digests/sizes; return (bytes, media type).

    ``fmt`` None is oc's (Q13: each entry keeps the media type of the base image's child; the
    list is an OCI index when the first entry was an OCI manifest); ``oci`` or ``v2s2``: the list
    and every entry in that format's media types, as the children were built.
    """
    entries = []
    for desc in index.manifests:
        digest, size = children[desc.digest]
        child_type = desc.media_type if fmt is None else manifest_type(fmt)
        entry = _descriptor_object(attrs.evolve(desc, digest=digest, size=size, media_type=child_type))
        entries.append(entry)
    if fmt is None:
        first = index.manifests[0].media_type if index.manifests else ""
        media_type = mt.OCI_INDEX if first == mt.OCI_MANIFEST else mt.DOCKER_MANIFEST_LIST
    else:
        media_type = index_type(fmt)
    body = {"schemaVersion": 2, "mediaType": media_type, "manifests": entries}
    return marshal_indent(body, indent="   "), media_type


@attrs.frozen
class PayloadLayer:
    """The compressed payload layer: bytes, blob digest, diff ID.

    ``reused``: the input release's own layer (``--from-release``), which the destination may
    already hold; a layer gzipped in this run names the release and its creation time, so a
    destination holding it already is the exception (the same release pushed again).
    """

    __repr__ = value_repr

    blob: bytes = attrs.field(repr=False)
    digest: str
    diff_id: str
    reused: bool = False

    @property
    def size(self) -> int:
        """Compressed size."""
        return len(self.blob)

    @classmethod
    def from_gzipped(cls, done: Gzipped) -> PayloadLayer:
        """The layer of a payload tar gzipped while it was written (``oci.layerwrite.BackgroundGzip``)."""
        return cls(blob=done.blob, digest=done.digest, diff_id=done.diff_id)

    @classmethod
    def from_tar(cls, tar: bytes) -> PayloadLayer:
        """Gzip the payload tar with the payload compressor (``oci.layerwrite.PayloadGzip``: ISA-L, Go's
        header; not oc's zlib level 6, spec P8)."""
        from okdrelease.oci.layerwrite import compress_payload

        blob = compress_payload(tar)
        return cls(blob=blob, digest=sha256_digest(blob), diff_id="sha256:" + hashlib.sha256(tar).hexdigest())


@attrs.frozen
class SourceLayer:
    """The top layer of an input release (``--from-release``): where it lives, its descriptor, its diff ID."""

    __repr__ = value_repr

    repository: Repository = attrs.field(eq=False, repr=False)
    descriptor: Descriptor
    diff_id: str

    def same_payload(self, tar: bytes) -> PayloadLayer | None:
        """This layer, read and checked, when it decompresses to ``tar`` exactly; else None.

        Go's gzip bytes cannot be produced with zlib, so a release oc built is only reproduced
        (digest for digest) by reusing its compressed layer when the rebuilt tar is the same.
        """
        diff_id = "sha256:" + hashlib.sha256(tar).hexdigest()
        gzip_types = (mt.DOCKER_LAYER_GZIP, mt.OCI_LAYER_GZIP)
        if diff_id != self.diff_id or self.descriptor.media_type not in gzip_types:
            return None
        blob = self.repository.read_blob(self.descriptor.digest, self.descriptor.size)
        inflate = zlib.decompressobj(wbits=31)
        try:
            content = inflate.decompress(blob, len(tar) + 1)
        except zlib.error:
            return None
        if content != tar or not inflate.eof or inflate.unused_data:
            return None
        log.debug("payload layer of the input release reused: %s", self.descriptor.digest)
        return PayloadLayer(blob=blob, digest=self.descriptor.digest, diff_id=diff_id, reused=True)


def payload_layer(
    tar: bytes | None, source: SourceLayer | None, gzipped: Callable[[], Gzipped] | None = None
) -> PayloadLayer:
    """The compressed payload layer: ``gzipped`` (the tar gzipped while it was written, then not kept:
    ``tar`` None and no ``source``), else the input release's own when it holds ``tar``, else gzip of
    ``tar``."""
    if gzipped is not None:
        return PayloadLayer.from_gzipped(gzipped())
    if tar is None:
        raise ValueError("payload_layer: neither the payload tar nor its gzip")
    reused = source.same_payload(tar) if source is not None else None
    return reused if reused is not None else PayloadLayer.from_tar(tar)


@attrs.frozen
class BuiltImage:
    """One release manifest with what must be pushed for it."""

    __repr__ = value_repr

    manifest: bytes = attrs.field(repr=False)
    digest: str
    config: bytes = attrs.field(repr=False)
    config_digest: str
    base_layers: tuple[Descriptor, ...]
    media_type: str = mt.DOCKER_MANIFEST


def build_image(
    base_manifest: Manifest,
    base_config: ImageConfig,
    *,
    base_digest: str,
    release_name: str,
    created: str,
    payload: PayloadLayer,
    fmt: ManifestFormat | None = None,
) -> BuiltImage:
    """Compute config and manifest of a release image on top of one base manifest (``fmt``: see release_manifest)."""
    base_layers = tuple(base_manifest.layers)
    sizes = [d.size for d in base_layers] + [payload.size]
    config = release_config(
        base_config,
        release_name=release_name,
        base_digest=base_digest,
        created=created,
        layer_sizes=sizes,
        payload_diff_id=payload.diff_id,
    )
    payload_desc = Descriptor(mt.DOCKER_LAYER_GZIP, payload.digest, payload.size)
    manifest = release_manifest(sha256_digest(config), len(config), [*base_layers, payload_desc], fmt)
    return BuiltImage(
        manifest=manifest,
        digest=sha256_digest(manifest),
        config=config,
        config_digest=sha256_digest(config),
        base_layers=base_layers,
        media_type=manifest_type(fmt or "v2s2"),
    )


def copy_blobs(
    source: Repository,
    dest: Repository,
    layers: Iterable[Descriptor],
    *,
    workers: int,
    policy: RetryPolicy,
    cancel: threading.Event | None = None,
) -> None:
    """Make every base layer available in ``dest`` (mounted without asking first where it can be, present,
    or streamed from ``source``).

    ``policy`` is the run's: a layer whose bytes do not match is copied again as often as it allows.
    Like oc, the well-known gzipped empty layer is uploaded again even when present (Q29), from a
    source the upload can open again. Setting ``cancel`` stops the copies not finished yet.
    """
    layers = list(layers)
    transport_copy.copy_blobs(
        source, dest, layers, workers=workers, policy=policy, cancel=cancel, order="mount-first"
    )
    for desc in layers:
        if desc.digest == EMPTY_GZIP_LAYER:
            dest.put_blob(BlobOpener(source, desc.digest, desc.size), desc.digest, desc.size)
            break


def _put_payload(put: BlobPut, dest: Repository, payload: PayloadLayer, ask_first: bool) -> None:
    """Upload the payload layer with ``put``; with ``ask_first`` only when ``dest`` does not have it yet."""
    if not ask_first or not dest.has_blob(payload.digest):
        put(payload.blob, payload.digest, payload.size)


@attrs.frozen
class PushAhead:
    """Push work done before the payload existed (see ``release_image.EarlyPush``).

    ``uploads``: upload sessions opened in the destination (their blobs' ``put_blob``);
    ``base_copied``: waits until the base layers are in the destination (raising the copy's failure).
    """

    __repr__ = value_repr

    uploads: BlobPut | None = None
    base_copied: Callable[[], None] | None = None


def push_image(
    built: BuiltImage,
    payload: PayloadLayer,
    *,
    source: Repository,
    dest: Repository,
    tag: str | None,
    workers: int,
    policy: RetryPolicy,
    payload_pushed: bool = False,
    ahead: PushAhead | None = None,
) -> str:
    """Push blobs and config, then the manifest (tag last) under the run's retry ``policy``; return the digest.

    The payload layer and the config go up while the base layers are copied (or, with ``ahead``,
    into sessions opened ahead, while the early copy finishes): none waits for another, and the
    manifest is pushed only once every one of them is in place. A payload layer gzipped in this run
    goes up without a HEAD first (one round trip less before the manifest); a reused one, or one
    ``payload_pushed`` already (a list's earlier child), is asked for first.
    """
    ahead = ahead or PushAhead()
    put: BlobPut = ahead.uploads or dest.put_blob
    with worker_pool(2, "push-blob") as pool:
        uploads = [
            pool.submit(_put_payload, put, dest, payload, payload.reused or payload_pushed),
            pool.submit(put, built.config, built.config_digest, len(built.config)),
        ]
        if ahead.base_copied is not None:
            ahead.base_copied()
        else:
            copy_blobs(source, dest, built.base_layers, workers=workers, policy=policy)
    for upload in uploads:
        upload.result()
    return put_release_manifest(dest, built.manifest, built.media_type, tag, built.digest)


def put_release_manifest(dest: Repository, raw: bytes, media_type: str, tag: str | None, digest: str) -> str:
    """Put a release manifest (or list) under ``tag`` or by digest; fail unless ``dest`` names it ``digest``."""
    pushed = dest.put_manifest(raw, media_type, tag)
    if pushed != digest:
        what = "manifest" if media_type in mt.MANIFEST_TYPES else "list"
        raise ReleaseError(
            f"{dest.display} returned digest {pushed} for the release {what}, expected {digest}"
        )
    return pushed
