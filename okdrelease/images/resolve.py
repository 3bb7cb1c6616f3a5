"""The one image resolver: manifest (a list entry chosen by platform), config and layer indexes, cached.

``new`` (components, the input release, the base image), ``info``, ``extract``, ``diff`` and ``copy``
(the source) read images through a :class:`Resolver`. Within one run each manifest named by digest,
each config and each layer index is read at most once (:class:`RunCache`); with a persistent
:class:`~okdrelease.cache.store.Cache` what is named by digest is read once ever. A tag is always
asked of its repository (it may have moved). ``resolve_all`` runs work concurrently and cancels
what is pending on the first failure.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from typing import Generic, TypeVar

import attrs

from okdrelease.cache import reads as cached
from okdrelease.cache.store import Cache
from okdrelease.errors import LayerError, NestedManifestListError, OkdReleaseError
from okdrelease.oci.layerindex import LayerIndex, load_index
from okdrelease.oci.model import AnyManifest, Descriptor, ImageConfig, Index, Manifest
from okdrelease.oci.platform import PlatformSelector
from okdrelease.openshift.labels import OPERATOR_LABEL
from okdrelease.reference import RegistryLocation, parse_location
from okdrelease.transport.base import BlobOpener, Repository, Transport, check_config_size

__all__ = [
    "CONFIG_MEDIA_TYPES",
    "Memo",
    "ResolvedImage",
    "Resolver",
    "RunCache",
    "Selected",
    "open_pullspec",
    "resolve_all",
]

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
class RunCache:
    """One run's caches: manifests by (repository, digest), configs and layer indexes by content digest."""

    manifests: Memo[tuple[str, str], AnyManifest] = attrs.field(factory=Memo)
    configs: Memo[str, ImageConfig] = attrs.field(factory=Memo)
    layers: Memo[str, LayerIndex] = attrs.field(factory=Memo)


@attrs.frozen
class Selected:
    """A single-image manifest and the list it was chosen from (None when the reference named it)."""

    manifest: Manifest
    index: Index | None = None


@attrs.frozen
class ResolvedImage:
    """An image after its manifest and config were read."""

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


def open_pullspec(transport: Transport, pullspec: str) -> tuple[Repository, str]:
    """Open the repository a pull spec points into; return it and the tag or digest (``latest`` when none)."""
    location = parse_location(pullspec)
    repo, reference = transport.open(location)
    if isinstance(location, RegistryLocation):
        reference = location.ref.reference
    return repo, reference or "latest"


@attrs.frozen
class Resolver:
    """Reads images from repositories, choosing list entries with one platform selector.

    ``platform`` is the default selector (a call may pass another); ``store`` is the persistent
    cache (None: nothing outlives the run). Copies made with ``attrs.evolve`` share the run's cache.
    """

    platform: PlatformSelector = attrs.field(factory=PlatformSelector.first)
    cache: RunCache = attrs.field(factory=RunCache)
    store: Cache | None = None

    def manifest(self, repository: Repository, reference: str) -> AnyManifest:
        """The manifest or list at a tag (always asked) or a digest (read once per run; once ever with a store)."""
        if not cached.is_digest(reference):
            return cached.get_manifest(repository, reference, self.store)
        return self.cache.manifests.get(
            (repository.display, reference), lambda: cached.get_manifest(repository, reference, self.store)
        )

    def config(self, repository: Repository, desc: Descriptor) -> ImageConfig:
        """The image config blob ``desc``, read and verified once per run (once ever with a store)."""

        def load() -> ImageConfig:
            check_config_size(repository, desc)
            raw = cached.read_blob(repository, desc.digest, desc.size, self.store)
            return ImageConfig.from_bytes(raw, desc.digest)

        return self.cache.configs.get(desc.digest, load)

    def select(
        self, repository: Repository, reference: str, platform: PlatformSelector | None = None
    ) -> Selected:
        """The single-image manifest ``reference`` means: itself, or its list's entry for the platform.

        A list entry that is a list again raises :class:`NestedManifestListError` (commands word it).
        """
        top = self.manifest(repository, reference)
        if isinstance(top, Manifest):
            return Selected(top)
        assert isinstance(top, Index)
        child = self.manifest(repository, (platform or self.platform).select(top).digest)
        if not isinstance(child, Manifest):
            raise NestedManifestListError(repository.display, child.digest, child.media_type)
        return Selected(child, top)

    def resolve(
        self, repository: Repository, reference: str, platform: PlatformSelector | None = None
    ) -> ResolvedImage:
        """The selected manifest and its config, which must be an image configuration."""
        selected = self.select(repository, reference, platform)
        top, index = selected.manifest, selected.index
        config_desc = top.config
        if config_desc.media_type not in CONFIG_MEDIA_TYPES:
            raise OkdReleaseError(
                f"{repository.display}@{top.digest} does not have the expected image configuration media type: "
                f"{config_desc.media_type}"
            )
        config = self.config(repository, config_desc)
        return ResolvedImage(repository, top, config, index.digest if index is not None else None, index)

    def layer_index(self, repository: Repository, desc: Descriptor, prefix: str) -> LayerIndex:
        """What layer ``desc`` holds under ``prefix``: each layer read once per run (once ever with a store)."""

        def load() -> LayerIndex:
            try:
                return load_index(self.store, desc.digest, prefix, _opener(repository, desc), desc.media_type)
            except LayerError as err:  # the layer reader names the digest; the repository is known here
                raise LayerError(f"{repository.display}: {err}") from err

        return self.cache.layers.get(f"{desc.digest}|{prefix}", load)


def _opener(repo: Repository, desc: Descriptor) -> BlobOpener:
    return BlobOpener(repo, desc.digest, desc.size)


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
