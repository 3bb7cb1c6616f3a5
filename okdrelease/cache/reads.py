"""Reading manifests and small blobs through the persistent cache (None: straight from the repository).

Only content named by digest is served from the cache: a tag is always asked of the repository (it
may have moved), and what the repository returns is stored under its digest for the next run. With
``offline`` a read that the cache cannot serve raises :class:`NotCached` instead of asking.
"""

from __future__ import annotations

import logging

from okdrelease.cache.store import Cache
from okdrelease.errors import OkdReleaseError
from okdrelease.oci.model import AnyManifest, parse_manifest
from okdrelease.transport.base import Repository

log = logging.getLogger(__name__)

#: Blobs up to this size (configs) are kept; layers are indexed instead (okdrelease.oci.layerindex).
MAX_CACHED_BLOB = 4 << 20


class NotCached(Exception):
    """An ``offline`` read found nothing usable in the cache: only a repository could answer it.

    Deliberately not an :class:`~okdrelease.errors.OkdReleaseError`: no command words it as a failure;
    the caller asks again, this time letting the repository answer.
    """


def is_digest(reference: str) -> bool:
    """True for a ``sha256:…``-style digest reference (not a tag)."""
    return ":" in reference and reference.startswith("sha")


def get_manifest(
    repository: Repository, reference: str, cache: Cache | None, *, offline: bool = False
) -> AnyManifest:
    """``repository.get_manifest(reference)``, served from ``cache`` when ``reference`` is a cached digest."""
    if cache is not None and is_digest(reference):
        raw = cache.get_blob(reference)
        if raw is not None:
            try:
                return parse_manifest(raw, None, reference)
            except OkdReleaseError as err:  # a checked entry that does not parse: ask the repository
                log.debug("cached manifest %s unusable: %s", reference, err)
    if offline:
        raise NotCached(reference)
    manifest = repository.get_manifest(reference)
    if cache is not None:
        cache.put_blob(manifest.digest, manifest.raw)
    return manifest


def read_blob(
    repository: Repository, digest: str, size: int | None, cache: Cache | None, *, offline: bool = False
) -> bytes:
    """``repository.read_blob(digest, size)``, served from and stored in ``cache`` for small blobs."""
    if cache is not None:
        raw = cache.get_blob(digest)
        if raw is not None and (size is None or len(raw) == size):
            return raw
    if offline:
        raise NotCached(digest)
    raw = repository.read_blob(digest, size)
    if cache is not None and len(raw) <= MAX_CACHED_BLOB:
        cache.put_blob(digest, raw)
    return raw
