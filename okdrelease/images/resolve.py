"""The one image resolver: manifest (a list entry chosen by platform), config and layer indexes, cached.

``new`` (components, the input release, the base image), ``info``, ``extract``, ``diff`` and ``copy``
(the source) read images through a :class:`Resolver`. Within one run each manifest named by digest,
each config and each layer index is read at most once (:class:`RunCache`); with a persistent
:class:`~okdrelease.cache.store.Cache` what is named by digest is read once ever. A tag is always
asked of its repository (it may have moved). ``resolve_all`` runs work concurrently and cancels
what is pending on the first failure; given a ``first`` attempt (a cache-only resolver's, see
:meth:`Resolver.cache_only`) it tries each item on the calling thread first and hands the pool only
what the cache could not answer: a warm run resolves without threads contending for the GIL.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, wait
from typing import IO, Any, Generic, TypeVar

import attrs

from okdrelease._repr import value_repr
from okdrelease.cache import reads as cached
from okdrelease.cache.reads import NotCached
from okdrelease.cache.store import Cache
from okdrelease.errors import LayerError, NestedManifestListError, OkdReleaseError
from okdrelease.oci.layerindex import LayerIndex, load_index
from okdrelease.oci.model import AnyManifest, Descriptor, ImageConfig, Index, Manifest
from okdrelease.oci.platform import PlatformSelector
from okdrelease.openshift.labels import OPERATOR_LABEL
from okdrelease.reference import RegistryLocation, parse_location
from okdrelease.transport.base import BlobOpener, Repository, Transport, check_config_size
from okdrelease.workers import worker_pool

__all__ = [
    "CONFIG_MEDIA_TYPES",
    "Memo",
    "NotCached",
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

log = logging.getLogger(__name__)


class _Cell:
    """One key's value being computed or computed: its waiters block on ``ready``, made by the first of
    them (a key nobody waits for, the usual case, never makes one)."""

    __slots__ = ("error", "ready", "settled", "value")

    def __init__(self) -> None:
        self.settled = False
        self.value: Any = None
        self.error: BaseException | None = None
        self.ready: threading.Event | None = None


class Memo(Generic[K, V]):
    """Thread-safe compute-once memo: each key is computed at most once, concurrent askers wait.

    A computation that raised :class:`NotCached` (a cache-only attempt) is forgotten, so the next
    asker computes the value again, this time able to ask a repository; an asker that was waiting
    for it asks again too (it may be able to fetch what the cache-only attempt could not). Any other
    failure is the key's value: every asker gets it raised.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cells: dict[K, _Cell] = {}
        self.hits = 0

    def get(self, key: K, compute: Callable[[], V]) -> V:
        """Return the value for ``key``, computing it once."""
        while True:
            with self._lock:
                cell = self._cells.get(key)
                if cell is None:
                    cell = self._cells[key] = _Cell()
                    ready = None
                else:
                    self.hits += 1
                    if not cell.settled and cell.ready is None:
                        cell.ready = threading.Event()
                    ready = cell.ready
            if ready is None and not cell.settled:
                return self._compute(key, cell, compute)
            if ready is not None:
                ready.wait()
            if cell.error is None:
                value: V = cell.value
                return value
            if isinstance(cell.error, NotCached):
                continue  # its owner could only ask the cache: compute it (or wait for who does)
            raise cell.error

    def _compute(self, key: K, cell: _Cell, compute: Callable[[], V]) -> V:
        try:
            value = compute()
        except BaseException as err:
            self._settle(key, cell, None, err)
            raise
        self._settle(key, cell, value, None)
        return value

    def _settle(self, key: K, cell: _Cell, value: Any, error: BaseException | None) -> None:
        with self._lock:
            if isinstance(error, NotCached):
                del self._cells[key]
            cell.value, cell.error, cell.settled = value, error, True
            ready = cell.ready
        if ready is not None:
            ready.set()


@attrs.frozen
class RunCache:
    """One run's caches: manifests by (repository, digest), configs by (digest, size), layer indexes by content digest."""

    __repr__ = value_repr

    manifests: Memo[tuple[str, str], AnyManifest] = attrs.field(factory=Memo)
    configs: Memo[tuple[str, int], ImageConfig] = attrs.field(factory=Memo)
    layers: Memo[str, LayerIndex] = attrs.field(factory=Memo)


@attrs.frozen
class Selected:
    """A single-image manifest and the list it was chosen from (None when the reference named it)."""

    __repr__ = value_repr

    manifest: Manifest
    index: Index | None = None


@attrs.frozen
class ResolvedImage:
    """An image after its manifest and config were read."""

    __repr__ = value_repr

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
    ``offline``: answer only from this run's and the persistent cache, raising :class:`NotCached`
    where a repository would be asked (:meth:`cache_only`).
    """

    __repr__ = value_repr

    platform: PlatformSelector = attrs.field(factory=PlatformSelector.first)
    cache: RunCache = attrs.field(factory=RunCache)
    store: Cache | None = None
    offline: bool = False

    def cache_only(self) -> Resolver:
        """This resolver (sharing the run's cache) answering only from caches: NotCached where it would fetch."""
        return attrs.evolve(self, offline=True)

    def manifest(self, repository: Repository, reference: str) -> AnyManifest:
        """The manifest or list at a tag (always asked) or a digest (read once per run; once ever with a store)."""
        if not cached.is_digest(reference):
            if self.offline:
                raise NotCached(reference)
            return cached.get_manifest(repository, reference, self.store)
        return self.cache.manifests.get(
            (repository.display, reference),
            lambda: cached.get_manifest(repository, reference, self.store, offline=self.offline),
        )

    def config(self, repository: Repository, desc: Descriptor) -> ImageConfig:
        """The image config blob ``desc``, read and verified once per run (once ever with a store)."""

        def load() -> ImageConfig:
            check_config_size(repository, desc)
            raw = cached.read_blob(repository, desc.digest, desc.size, self.store, offline=self.offline)
            return ImageConfig.from_bytes(raw, desc.digest)

        # Keyed by size too: a descriptor naming a config already read with another size fails as a
        # first read of it would, not quietly given the config read before.
        return self.cache.configs.get((desc.digest, desc.size), load)

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
            opener = _not_cached(desc.digest) if self.offline else _opener(repository, desc)
            try:
                return load_index(self.store, desc.digest, prefix, opener, desc.media_type)
            except LayerError as err:  # the layer reader names the digest; the repository is known here
                raise LayerError(f"{repository.display}: {err}") from err

        return self.cache.layers.get(f"{desc.digest}|{prefix}", load)


def _opener(repo: Repository, desc: Descriptor) -> BlobOpener:
    return BlobOpener(repo, desc.digest, desc.size)


def _not_cached(digest: str) -> Callable[[], IO[bytes]]:
    """A cache-only resolver's layer opener: the layer is not read, the caller is told so."""

    def refuse() -> IO[bytes]:
        raise NotCached(digest)

    return refuse


def resolve_all(
    items: Sequence[T],
    work: Callable[[T], R],
    workers: int,
    first: Callable[[T], R] | None = None,
    order: Sequence[int] | None = None,
) -> list[R]:
    """Run ``work`` over ``items`` concurrently; results in order.

    ``first`` (a cache-only attempt) is tried on each item in turn on the calling thread; an item it
    raises for goes to ``work`` on the pool at once, so the pool starts on what is not cached while
    the calling thread goes on (an attempt that failed for another reason fails again there, worded
    by ``work``). ``order``: the positions of ``items`` in the order they are taken up (default:
    ``items`` order). The first failure of ``work`` cancels the work not yet started; the failure
    reported is the first in ``items`` order among those that ran.
    """
    results: dict[int, R] = {}
    with worker_pool(workers) as pool:
        futures: dict[int, Future[R]] = {}
        for position in range(len(items)) if order is None else order:
            item = items[position]
            if first is not None:
                try:
                    results[position] = first(item)
                    continue
                except Exception as err:  # noqa: BLE001 - left to work, which words its failures
                    log.debug("resolving from the cache alone: %s", err)
            futures[position] = pool.submit(work, item)
        done, pending = wait(futures.values(), return_when=FIRST_EXCEPTION)
        if any(f.exception() is not None for f in done):
            for future in pending:
                future.cancel()
        wait(futures.values())
    for position in sorted(futures):
        future = futures[position]
        if not future.cancelled():
            error = future.exception()
            if error is not None:
                raise error
    results.update((position, future.result()) for position, future in futures.items())
    return [results[position] for position in range(len(items))]
