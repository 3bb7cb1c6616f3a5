"""Resolving component images: manifest, config, labels, and operator ``/manifests`` (spec §3.7)."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import BinaryIO

import attrs

from okdrelease.errors import NotFoundError, OkdReleaseError, RegistryError, UnauthorizedError
from okdrelease.oci.model import Descriptor, ImageConfig, Index, Manifest
from okdrelease.transport.base import Repository

OPERATOR_LABEL = "io.openshift.release.operator"
KEEP_LIST_PLATFORM = re.compile("linux/amd64")


@attrs.frozen
class ManifestFile:
    """A top-level file of an operator's ``/manifests`` directory."""

    name: str
    data: bytes = attrs.field(repr=False)
    mtime: float


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


def select_child(index: Index, platform: re.Pattern[str] | None) -> Descriptor:
    """Pick the first entry of a list that passes ``platform`` (None = no filter)."""
    for desc in index.manifests:
        if platform is None:
            return desc
        plat = desc.platform
        text = str(plat) if plat is not None else ""
        if platform.search(text):
            return desc
    raise OkdReleaseError("filtered all images from manifest list")


class BlobCache:
    """Per-run, thread-safe memo: every key is computed at most once, concurrent askers wait."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._futures: dict[object, Future[object]] = {}
        self.hits = 0

    def get(self, key: object, compute: Callable[[], object]) -> object:
        """Return the cached value for ``key``, computing it once."""
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


def describe_registry_error(ref: str, err: OkdReleaseError) -> str:
    """Word a failure to read a component image the way oc does (spec §3.7.2 step 3)."""
    if isinstance(err, UnauthorizedError):
        return f'image "{ref}" does not exist or you don\'t have permission to access the repository'
    if isinstance(err, NotFoundError):
        return f'image "{ref}" not found: {err}'
    if isinstance(err, RegistryError):
        return f"unable to read image {ref}: {err}"
    return f"unable to read image {ref}: {err}"


def resolve_image(
    repository: Repository,
    reference: str,
    *,
    platform: re.Pattern[str] | None,
    cache: BlobCache,
) -> ResolvedImage:
    """Read the manifest (first matching list entry) and config of one image."""
    top = repository.get_manifest(reference)
    list_digest: str | None = None
    index: Index | None = None
    if isinstance(top, Index):
        index = top
        list_digest = top.digest
        child = select_child(top, platform)
        top = repository.get_manifest(child.digest)
        if isinstance(top, Index):
            raise OkdReleaseError(f"use --keep-manifest-list option for image manifest type {top.media_type}")
    manifest = top
    config_desc = manifest.config
    if config_desc.media_type not in (
        "application/vnd.docker.container.image.v1+json",
        "application/vnd.oci.image.config.v1+json",
    ):
        raise OkdReleaseError(
            f"{repository.display}@{manifest.digest} does not have the expected image configuration media type: "
            f"{config_desc.media_type}"
        )

    def load_config() -> ImageConfig:
        raw = repository.read_blob(config_desc.digest, config_desc.size)
        return ImageConfig.from_bytes(raw, config_desc.digest)

    config = cache.get(("config", config_desc.digest), load_config)
    assert isinstance(config, ImageConfig)
    return ResolvedImage(repository, manifest, config, list_digest, index)


def read_operator_manifests(
    image: ResolvedImage,
    *,
    all_layers: bool,
    cache: BlobCache,
    ref: str,
) -> list[ManifestFile]:
    """Return the top-level files of ``/manifests`` from the last layer (or all layers, whiteouts applied)."""
    from okdrelease.oci.layers import extract_prefix

    layers = image.manifest.layers
    if not layers:
        raise OkdReleaseError(
            f"unable to filter layers for {ref}: tried to select layer -1, but image only has 0 layers"
        )
    selected: Sequence[Descriptor] = layers if all_layers else layers[-1:]
    repo = image.repository

    def extract() -> list[ManifestFile]:
        openers = [_opener(repo, d) for d in selected]
        files = extract_prefix(openers, "manifests/")
        out = []
        for path, entry in sorted(files.items()):
            if "/" in path or not entry.is_file:
                continue
            out.append(ManifestFile(path, entry.data, entry.mtime))
        return out

    result = cache.get(("manifests", tuple(d.digest for d in selected)), extract)
    assert isinstance(result, list)
    return result


def _opener(repo: Repository, desc: Descriptor) -> Callable[[], BinaryIO]:
    return lambda: repo.open_blob(desc.digest, desc.size)
