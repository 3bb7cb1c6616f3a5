"""Stage 7 of ``new``: the release image, built on the base image's manifest (or list) and config (§3.12)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import attrs

from okdrelease._repr import value_repr
from okdrelease.errors import DigestMismatchError, NoMatchingPlatformError, OkdReleaseError, ReleaseError
from okdrelease.gocompat.errcode import go_error_text
from okdrelease.images.resolve import Resolver, open_pullspec
from okdrelease.oci.convert import ManifestFormat
from okdrelease.oci.digest import sha256_digest
from okdrelease.oci.model import Descriptor, ImageConfig, Index, Manifest
from okdrelease.openshift.imagestream import ImageStream
from okdrelease.payload.context import Run
from okdrelease.payload.resolve import tampered
from okdrelease.reference import ReferenceSyntaxError, RegistryLocation, parse_location, redact_userinfo
from okdrelease.transport.base import Repository, Transport
from okdrelease.transport.http import RetryPolicy
from okdrelease.transport.registry import RegistryRepository
from okdrelease.transport.upload import UploadsAhead
from okdrelease.workers import stop_pool

if TYPE_CHECKING:
    from okdrelease.payload import image as release_image

__all__ = [
    "BaseImage",
    "BuiltRelease",
    "EarlyPush",
    "base_pullspec",
    "build_release_image",
    "push_release",
    "read_base",
]


@attrs.frozen
class BuiltRelease:
    """The release image, computed: one manifest, or a list of them (--keep-manifest-list)."""

    __repr__ = value_repr

    digest: str
    base: Repository = attrs.field(eq=False, repr=False)
    layer: release_image.PayloadLayer = attrs.field(repr=False)
    images: tuple[release_image.BuiltImage, ...]
    list_bytes: bytes = b""
    list_type: str = ""


def base_pullspec(stream: ImageStream, given: str | None, base_tag: str) -> str:
    """--to-image-base (or the base an input release named), else the ``base_tag`` image of the stream."""
    if given:
        return given
    matches = [t for t in stream.tags if t.name == base_tag]
    if not matches:
        raise ReleaseError(
            f'the base image tag "{base_tag}" could not be found in the input, cannot build a release image'
        )
    return matches[-1].from_name or ""


def _read_base(
    transport: Transport, resolver: Resolver, base_spec: str, to_text: str
) -> tuple[Repository, Manifest | Index]:
    """The base image's manifest (or list); a failure worded as oc's, within its ``failed to push image``."""
    failed = f"failed to push image {to_text}"
    try:
        location = parse_location(base_spec)
    except ReferenceSyntaxError as err:
        raise ReleaseError(
            f'{failed}: "{redact_userinfo(base_spec)}" is not a valid image reference: {err.docker_message}'
        ) from err
    if isinstance(location, RegistryLocation) and not (location.ref.tag or location.ref.digest):
        raise ReleaseError(f"{failed}: --from must point to an image ID or image tag")
    try:
        base_repo, reference = open_pullspec(transport, base_spec)
        return base_repo, resolver.manifest(base_repo, reference)
    except DigestMismatchError as err:
        # Q32 fixed: found while reading, before anything is pushed.
        raise ReleaseError(tampered("the base image", base_spec, err)) from err
    except OkdReleaseError as err:
        raise ReleaseError(f"{failed}: unable to read image {base_spec}: {go_error_text(err)}") from err


@attrs.frozen
class BaseImage:
    """The base image read: where it lives, the single manifests a release image is built on (one,
    or each child of a kept list) with their configs, and the kept list."""

    __repr__ = value_repr

    repository: Repository = attrs.field(eq=False, repr=False)
    images: tuple[tuple[Manifest, ImageConfig], ...]
    index: Index | None = None

    @property
    def layers(self) -> tuple[Descriptor, ...]:
        """Every base layer of every image, each once, in order."""
        seen: dict[str, Descriptor] = {}
        for manifest, _ in self.images:
            for layer in manifest.layers:
                seen.setdefault(layer.digest, layer)
        return tuple(seen.values())


def _single(resolver: Resolver, repository: Repository, base_spec: str, digest: str) -> Manifest:
    child = resolver.manifest(repository, digest)
    if not isinstance(child, Manifest):
        raise ReleaseError(f"nested manifest list {digest} in {base_spec}")
    return child


def _base_images(
    resolver: Resolver,
    repository: Repository,
    base_spec: str,
    top: Manifest | Index,
    keep_manifest_list: bool,
) -> BaseImage:
    if isinstance(top, Index) and keep_manifest_list:
        children = [_single(resolver, repository, base_spec, desc.digest) for desc in top.manifests]
        images = tuple((child, resolver.config(repository, child.config)) for child in children)
        return BaseImage(repository, images, top)
    if isinstance(top, Index):
        # Without --keep-manifest-list the selector is --filter-by-os or none (oc: first entry).
        top = _single(resolver, repository, base_spec, resolver.platform.select(top).digest)
    return BaseImage(repository, ((top, resolver.config(repository, top.config)),))


def read_base(
    transport: Transport, resolver: Resolver, base_spec: str, *, keep_manifest_list: bool, to_text: str
) -> BaseImage:
    """Read the base image through ``resolver`` (every manifest and config verified); failures worded
    as oc's, within its ``failed to push image`` of ``to_text``."""
    repository, top = _read_base(transport, resolver, base_spec, to_text)
    try:
        return _base_images(resolver, repository, base_spec, top, keep_manifest_list)
    except NoMatchingPlatformError as err:
        raise ReleaseError(f"failed to push image {to_text}: {err}") from err
    except ReleaseError:
        raise
    except DigestMismatchError as err:
        raise ReleaseError(tampered("the base image", base_spec, err)) from err
    except OkdReleaseError as err:
        raise ReleaseError(f"failed to push image {to_text}: {err}") from err


def build_release_image(
    base: BaseImage,
    *,
    name: str,
    created: str,
    layer: release_image.PayloadLayer,
    fmt: ManifestFormat | None = None,
) -> BuiltRelease:
    """The release on ``base``: one image per base manifest, and their list when the base list is kept.

    ``fmt``: the manifest format (None: oc's Docker schema 2, base layer media types kept).
    """
    from okdrelease.payload import image as release_image  # loaded by the push (issue 9: off the start)

    built = tuple(
        release_image.build_image(
            manifest,
            config,
            base_digest=manifest.digest,
            release_name=name,
            created=created,
            payload=layer,
            fmt=fmt,
        )
        for manifest, config in base.images
    )
    if base.index is None:
        return BuiltRelease(built[0].digest, base.repository, layer, built)
    children = {
        desc.digest: (image.digest, len(image.manifest))
        for desc, image in zip(base.index.manifests, built, strict=True)
    }
    list_bytes, list_type = release_image.release_list(base.index, children, fmt)
    return BuiltRelease(sha256_digest(list_bytes), base.repository, layer, built, list_bytes, list_type)


class EarlyPush:
    """The push work that does not need the payload, started while the payload is made (issue 9):
    the base image read, its layers made available in the destination (present, mounted or copied),
    upload sessions opened for the blobs still to come (the config, a payload layer gzipped in this run).

    No manifest and no tag is pushed early. A failure is kept and raised where the push would have
    met it: the base's when the release image is built, a copy's when it is pushed. ``close`` stops
    what still runs and cancels the sessions no blob went to; base layers may be in the destination
    already when a later stage fails (blobs, as a failed push leaves behind).
    """

    def __init__(
        self,
        run: Run,
        base_spec: str,
        dest: RegistryRepository,
        *,
        keep_manifest_list: bool,
        to_text: str,
        sessions: int,
    ) -> None:
        """Start reading ``base_spec``, copying its layers to ``dest`` and opening ``sessions`` uploads there."""
        self.base_spec = base_spec
        self._cancel = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=3, thread_name_prefix="push-early")
        self._base = self._pool.submit(
            read_base,
            run.transport,
            run.resolver,
            base_spec,
            keep_manifest_list=keep_manifest_list,
            to_text=to_text,
        )
        self._uploads = self._pool.submit(UploadsAhead.open, dest, sessions)
        policy = run.transport.options.retry_policy
        self._copied = self._pool.submit(self._copy, dest, run.workers, policy)

    def __repr__(self) -> str:
        return f"EarlyPush({self.base_spec})"

    def _copy(self, dest: RegistryRepository, workers: int, policy: RetryPolicy) -> None:
        base = self._base.result()
        # Loaded once the base is read (the components' requests are out by then), not at the start;
        # so are the payload tar's writers (assemble_payload's), which would otherwise load on the
        # serial tail of the run, after the last operator arrived.
        import okdrelease.oci.layerwrite
        import okdrelease.payload.assemble  # noqa: F401
        from okdrelease.payload import image as release_image

        release_image.copy_blobs(
            base.repository, dest, base.layers, workers=workers, policy=policy, cancel=self._cancel
        )

    def base(self) -> BaseImage:
        """The base image (its read failure raised, worded as oc's)."""
        return self._base.result()

    def ahead(self) -> release_image.PushAhead:
        """What the push takes from here: the sessions opened, and a wait for the base layers' copy."""
        from okdrelease.payload import image as release_image

        return release_image.PushAhead(
            uploads=self._uploads.result().put_blob, base_copied=self._copied.result
        )

    def close(self) -> None:
        """Stop what still runs, wait for it, cancel the sessions no blob went to."""
        stop_pool(self._pool, self._cancel, interrupting=False)
        if self._uploads.exception() is None:
            self._uploads.result().close()


def push_release(
    built: BuiltRelease,
    dest: Repository,
    tag: str | None,
    workers: int,
    policy: RetryPolicy,
    ahead: release_image.PushAhead | None = None,
    *,
    before_tag: Callable[[], None] | None = None,
) -> None:
    """Push the release under the run's retry ``policy``: a list's children by digest (payload blob
    uploaded once), the tag last; ``ahead``: what an early push already did; ``before_tag``: run once
    everything is pushed by digest, before the tag (which is then pushed by itself)."""
    from okdrelease.payload import image as release_image

    def push(image: release_image.BuiltImage, image_tag: str | None, payload_pushed: bool) -> None:
        release_image.push_image(
            image,
            built.layer,
            source=built.base,
            dest=dest,
            tag=image_tag,
            workers=workers,
            policy=policy,
            payload_pushed=payload_pushed,
            ahead=ahead,
        )

    if not built.list_bytes:
        image = built.images[0]
        if before_tag is None:
            push(image, tag, False)
            return
        push(image, None, False)
        before_tag()
        if tag is not None:
            release_image.put_release_manifest(dest, image.manifest, image.media_type, tag, image.digest)
        return
    for index, child in enumerate(built.images):
        push(child, None, index > 0)
    if before_tag is not None:
        release_image.put_release_manifest(dest, built.list_bytes, built.list_type, None, built.digest)
        before_tag()
        if tag is None:
            return
    release_image.put_release_manifest(dest, built.list_bytes, built.list_type, tag, built.digest)
