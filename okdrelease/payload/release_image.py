"""Stage 7 of ``new``: the release image, built on the base image's manifest (or list) and config (§3.12)."""

from __future__ import annotations

import attrs

from okdrelease.errors import DigestMismatchError, NoMatchingPlatformError, OkdReleaseError, ReleaseError
from okdrelease.gocompat.errcode import go_error_text
from okdrelease.images.resolve import Resolver, open_pullspec
from okdrelease.oci.convert import ManifestFormat
from okdrelease.oci.digest import sha256_digest
from okdrelease.oci.model import Index, Manifest
from okdrelease.oci.platform import PlatformSelector
from okdrelease.openshift.imagestream import ImageStream
from okdrelease.payload import image as release_image
from okdrelease.payload.resolve import tampered
from okdrelease.reference import ReferenceSyntaxError, RegistryLocation, parse_location
from okdrelease.transport.base import Repository, Transport
from okdrelease.transport.http import RetryPolicy

__all__ = ["BuiltRelease", "base_pullspec", "build_release_image", "push_release"]


@attrs.frozen
class BuiltRelease:
    """The release image, computed: one manifest, or a list of them (--keep-manifest-list)."""

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
            f'{failed}: "{base_spec}" is not a valid image reference: {err.docker_message}'
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
class _Builder:
    resolver: Resolver
    base: Repository
    base_spec: str
    name: str
    created: str
    layer: release_image.PayloadLayer
    fmt: ManifestFormat | None

    def one(self, manifest: Manifest, base_digest: str) -> release_image.BuiltImage:
        config = self.resolver.config(self.base, manifest.config)
        return release_image.build_image(
            manifest,
            config,
            base_digest=base_digest,
            release_name=self.name,
            created=self.created,
            payload=self.layer,
            fmt=self.fmt,
        )

    def child(self, digest: str) -> Manifest:
        child = self.resolver.manifest(self.base, digest)
        if not isinstance(child, Manifest):
            raise ReleaseError(f"nested manifest list {digest} in {self.base_spec}")
        return child

    def keep_list(self, top: Index) -> BuiltRelease:
        children: dict[str, tuple[str, int]] = {}
        built: list[release_image.BuiltImage] = []
        for desc in top.manifests:
            child = self.child(desc.digest)
            image = self.one(child, child.digest)
            children[desc.digest] = (image.digest, len(image.manifest))
            built.append(image)
        list_bytes, list_type = release_image.release_list(top, children, self.fmt)
        return BuiltRelease(
            sha256_digest(list_bytes), self.base, self.layer, tuple(built), list_bytes, list_type
        )

    def single(self, top: Manifest | Index, platform: PlatformSelector) -> BuiltRelease:
        if isinstance(top, Index):
            # Without --keep-manifest-list the selector is --filter-by-os or none (oc: first entry).
            top = self.child(platform.select(top).digest)
        image = self.one(top, top.digest)
        return BuiltRelease(image.digest, self.base, self.layer, (image,))


def build_release_image(
    transport: Transport,
    resolver: Resolver,
    base_spec: str,
    *,
    keep_manifest_list: bool,
    name: str,
    created: str,
    layer: release_image.PayloadLayer,
    to_text: str,
    fmt: ManifestFormat | None = None,
) -> BuiltRelease:
    """Read the base image through ``resolver`` (every manifest and config verified) and compute the release on it.

    ``fmt``: the manifest format (None: oc's Docker schema 2, base layer media types kept).
    """
    base_repo, top = _read_base(transport, resolver, base_spec, to_text)
    builder = _Builder(resolver, base_repo, base_spec, name, created, layer, fmt)
    try:
        if isinstance(top, Index) and keep_manifest_list:
            return builder.keep_list(top)
        return builder.single(top, resolver.platform)
    except NoMatchingPlatformError as err:
        raise ReleaseError(f"failed to push image {to_text}: {err}") from err
    except ReleaseError:
        raise
    except DigestMismatchError as err:
        raise ReleaseError(tampered("the base image", base_spec, err)) from err
    except OkdReleaseError as err:
        raise ReleaseError(f"failed to push image {to_text}: {err}") from err


def push_release(
    built: BuiltRelease, dest: Repository, tag: str | None, workers: int, policy: RetryPolicy
) -> None:
    """Push the release under the run's retry ``policy``: a list's children by digest (payload blob
    uploaded once), the tag last."""

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
        )

    if not built.list_bytes:
        push(built.images[0], tag, False)
        return
    for index, child in enumerate(built.images):
        push(child, None, index > 0)
    pushed = dest.put_manifest(built.list_bytes, built.list_type, tag)
    if pushed != built.digest:
        raise ReleaseError(
            f"{dest.display} returned digest {pushed} for the release list, expected {built.digest}"
        )
