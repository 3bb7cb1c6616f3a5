"""The one image resolver: manifest (a list entry chosen by platform), config and labels, cached per run.

``new`` uses it for component images, the input release and the base image; a run's first
permanent failure cancels the work still pending (``resolve_all``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from typing import BinaryIO, Generic, TypeVar

import attrs

from okdrelease.cache import reads as cached
from okdrelease.cache.store import Cache
from okdrelease.errors import (
    DigestMismatchError,
    NotFoundError,
    OkdReleaseError,
    RegistryError,
    UnauthorizedError,
)
from okdrelease.oci.layerindex import LayerIndex, compose, load_index
from okdrelease.oci.model import Descriptor, ImageConfig, Index, Manifest
from okdrelease.oci.platform import PlatformSelector
from okdrelease.openshift.labels import OPERATOR_LABEL
from okdrelease.payload.check import ManifestChecker
from okdrelease.reference import RegistryLocation, parse_location
from okdrelease.transport.base import Repository, Transport

__all__ = [
    "OPERATOR_LABEL",
    "ManifestFile",
    "Memo",
    "ResolvedImage",
    "Resolver",
    "RunCache",
    "describe_registry_error",
    "open_pullspec",
    "resolve_all",
    "tampered",
]

MANIFESTS_PREFIX = "manifests/"
CONFIG_MEDIA_TYPES = (
    "application/vnd.docker.container.image.v1+json",
    "application/vnd.oci.image.config.v1+json",
)

K = TypeVar("K")
V = TypeVar("V")
T = TypeVar("T")
R = TypeVar("R")


class Memo(Generic[K, V]):
    """Thread-safe compute-once memo: each key is computed at most once, concurrent askers wait."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._futures: dict[K, Future[V]] = {}
        self.hits = 0

    def get(self, key: K, compute: Callable[[], V]) -> V:
        """Return the value for ``key``, computing it once."""
        with self._lock:
            future = self._futures.get(key)
            owner = future is None
            if future is None:
                future = Future()
                self._futures[key] = future
            else:
                self.hits += 1
        if owner:
            try:
                future.set_result(compute())
            except BaseException as err:
                future.set_exception(err)
        return future.result()


@attrs.frozen
class ManifestFile:
    """A top-level file of an operator's ``/manifests`` directory."""

    name: str
    data: bytes = attrs.field(repr=False)
    mtime: float


@attrs.frozen
class RunCache:
    """Per-run caches, by content digest: image configs, layer indexes, operators' ``/manifests`` files."""

    configs: Memo[str, ImageConfig] = attrs.field(factory=Memo)
    layers: Memo[str, LayerIndex] = attrs.field(factory=Memo)
    manifests: Memo[tuple[str, ...], tuple[ManifestFile, ...]] = attrs.field(factory=Memo)


@attrs.frozen
class ResolvedImage:
    """A component image after its manifest and config were read."""

    repository: Repository = attrs.field(eq=False, repr=False)
    manifest: Manifest
    config: ImageConfig
    list_digest: str | None = None
    index: Index | None = attrs.field(default=None, eq=False, repr=False)

    @property
    def digest(self) -> str:
        """The digest of the selected single-image manifest."""
        return self.manifest.digest

    @property
    def labels(self) -> dict[str, str]:
        """The image config labels."""
        return self.config.labels

    @property
    def is_operator(self) -> bool:
        """True for any non-empty operator label value (Q19)."""
        return bool(self.labels.get(OPERATOR_LABEL))


def describe_registry_error(ref: str, err: OkdReleaseError) -> str:
    """Word a failure to read a component image the way oc does (spec §3.7.2 step 3)."""
    if isinstance(err, UnauthorizedError):
        return f'image "{ref}" does not exist or you don\'t have permission to access the repository'
    if isinstance(err, NotFoundError):
        return f'image "{ref}" not found: {err}'
    if isinstance(err, RegistryError):
        return f"unable to read image {ref}: {err}"
    return f"unable to read image {ref}: {err}"


def tampered(what: str, pullspec: str, err: DigestMismatchError) -> str:
    """oc's content-verification failure (spec §3.3.1, §3.7.6, §3.12.3), naming the image and the digest."""
    return f"{what} failed content verification and may have been tampered with: {pullspec}: {err}"


def open_pullspec(transport: Transport, pullspec: str) -> tuple[Repository, str]:
    """Open the repository a pull spec points into; return it and the tag or digest."""
    location = parse_location(pullspec)
    repo, reference = transport.open(location)
    if isinstance(location, RegistryLocation):
        reference = location.ref.reference
    return repo, reference or "latest"


@attrs.frozen
class Resolver:
    """Reads images through one transport, choosing list entries with one platform selector."""

    transport: Transport
    platform: PlatformSelector = attrs.field(factory=PlatformSelector.first)
    cache: RunCache = attrs.field(factory=RunCache)
    #: The persistent cache (manifests and configs by digest, layer indexes), None for none.
    store: Cache | None = None
    #: Checks operator manifests as they arrive (None: the check is skipped).
    checker: ManifestChecker | None = None

    def config(self, repository: Repository, desc: Descriptor) -> ImageConfig:
        """The image config blob ``desc``, read and verified once per run."""

        def load() -> ImageConfig:
            raw = cached.read_blob(repository, desc.digest, desc.size, self.store)
            return ImageConfig.from_bytes(raw, desc.digest)

        return self.cache.configs.get(desc.digest, load)

    def resolve(self, repository: Repository, reference: str) -> ResolvedImage:
        """Read the manifest (the selected list entry) and config of one image."""
        top = cached.get_manifest(repository, reference, self.store)
        list_digest: str | None = None
        index: Index | None = None
        if isinstance(top, Index):
            index = top
            list_digest = top.digest
            top = cached.get_manifest(repository, self.platform.select(top).digest, self.store)
            if isinstance(top, Index):
                raise OkdReleaseError(
                    f"use --keep-manifest-list option for image manifest type {top.media_type}"
                )
        config_desc = top.config
        if config_desc.media_type not in CONFIG_MEDIA_TYPES:
            raise OkdReleaseError(
                f"{repository.display}@{top.digest} does not have the expected image configuration media type: "
                f"{config_desc.media_type}"
            )
        return ResolvedImage(repository, top, self.config(repository, config_desc), list_digest, index)

    def resolve_pullspec(self, pullspec: str) -> ResolvedImage:
        """Open ``pullspec`` and resolve it."""
        repository, reference = open_pullspec(self.transport, pullspec)
        return self.resolve(repository, reference)

    def operator_manifests(
        self, image: ResolvedImage, *, all_layers: bool, ref: str
    ) -> tuple[ManifestFile, ...]:
        """The top-level files of ``/manifests`` from the last layer (or all layers, whiteouts applied)."""
        from okdrelease.gocompat.gotar import extracted_mtime

        layers = image.manifest.layers
        if not layers:
            raise OkdReleaseError(
                f"unable to filter layers for {ref}: tried to select layer -1, but image only has 0 layers"
            )
        selected: Sequence[Descriptor] = layers if all_layers else layers[-1:]
        repo = image.repository

        def extract() -> tuple[ManifestFile, ...]:
            files = compose(self.layer_index(repo, d, MANIFESTS_PREFIX) for d in selected)
            found = tuple(
                ManifestFile(path, entry.data, extracted_mtime(entry.mtime))
                for path, entry in sorted(files.items())
                if "/" not in path and entry.is_file
            )
            if self.checker is not None:  # checked now, while other images are still being fetched
                for item in found:
                    self.checker.precheck(item.name, item.data)
            return found

        return self.cache.manifests.get(tuple(d.digest for d in selected), extract)

    def layer_index(self, repository: Repository, desc: Descriptor, prefix: str) -> LayerIndex:
        """What layer ``desc`` holds under ``prefix``: each layer read once per run (once ever with a store)."""

        def load() -> LayerIndex:
            return load_index(self.store, desc.digest, prefix, _opener(repository, desc), desc.media_type)

        return self.cache.layers.get(f"{desc.digest}|{prefix}", load)


def _opener(repo: Repository, desc: Descriptor) -> Callable[[], BinaryIO]:
    return lambda: repo.open_blob(desc.digest, desc.size)


def resolve_all(items: Sequence[T], work: Callable[[T], R], workers: int) -> list[R]:
    """Run ``work`` over ``items`` concurrently; results in order.

    The first failure cancels the work not yet started; the failure reported is the first in
    ``items`` order among those that ran.
    """
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = [pool.submit(work, item) for item in items]
        done, pending = wait(futures, return_when=FIRST_EXCEPTION)
        if any(f.exception() is not None for f in done):
            for future in pending:
                future.cancel()
        wait(futures)
    for future in futures:
        if not future.cancelled():
            error = future.exception()
            if error is not None:
                raise error
    return [future.result() for future in futures]
