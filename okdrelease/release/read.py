"""Loading a release image the way ``oc adm release info`` does (spec §5.3).

The platform is chosen from a manifest list (``--filter-by-os`` or the runtime platform), then only
the top layer's ``release-manifests/`` entries are read: ``image-references`` and
``release-metadata`` (raw bytes kept), manifests (``.yaml``/``.yml``/``.json``) and other files.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import attrs

from okdrelease._repr import value_repr
from okdrelease.errors import (
    NestedManifestListError,
    NoSingleImageError,
    OkdReleaseError,
    RegistryError,
    ReleaseError,
)
from okdrelease.gocompat.errcode import describe_read_error
from okdrelease.gocompat.goconfig import check_config, decoded_config
from okdrelease.gocompat.gojson import GoJSONError
from okdrelease.images.resolve import Resolver
from okdrelease.oci.layerlimits import LayerLimits
from okdrelease.oci.model import Descriptor, ImageConfig, Index, Manifest
from okdrelease.oci.platform import PlatformSelector
from okdrelease.openshift.metadata import CincinnatiMetadata
from okdrelease.openshift.versions import ComponentVersion, aggregate_release_versions
from okdrelease.reference import ImageLocation, ImageReference, LayoutLocation, RegistryLocation
from okdrelease.transport.base import BlobOpener, Repository
from okdrelease.workers import worker_pool

log = logging.getLogger(__name__)

PAYLOAD_PREFIX = "release-manifests/"
IMAGE_REFERENCES = "image-references"
RELEASE_METADATA = "release-metadata"
MANIFEST_EXTENSIONS = (".yaml", ".yml", ".json")
METADATA_KIND = "cincinnati-metadata-v0"
IMAGE_STREAM_API = "image.openshift.io/v1"


class Opener(Protocol):
    """What ``open_location`` needs from a transport: ``open(location) -> (repository, reference)``."""

    def open(self, location: ImageLocation, create: bool = False) -> tuple[Repository, str | None]:
        """Open the repository holding ``location``; return it and the tag or digest to read."""
        ...


#: The manifest-list entry selector of info, extract and diff (one implementation: oci/platform.py).
PlatformFilter = PlatformSelector


@attrs.frozen
class ReleaseTag:
    """One tag of the release's image-references, with its JSON object kept in Go order."""

    __repr__ = value_repr

    name: str
    annotations: Mapping[str, str] | None
    from_kind: str
    from_name: str
    raw: dict[str, Any] = attrs.field(eq=False, repr=False)

    def annotation(self, key: str) -> str:
        """The annotation value, or "" when absent."""
        return (self.annotations or {}).get(key, "")

    @property
    def is_image(self) -> bool:
        """True for a ``DockerImage`` reference."""
        return self.from_kind == "DockerImage"


@attrs.frozen
class TagProblem:
    """A component image that could not be read, as a warning: the tag and the full message."""

    __repr__ = value_repr

    tag: str
    message: str

    def __str__(self) -> str:
        return self.message


@attrs.frozen
class ComponentImage:
    """A component image of the release after its manifest and config were fetched."""

    __repr__ = value_repr

    name: str
    pullspec: str
    digest: str
    content_digest: str
    list_digest: str
    media_type: str
    layers: tuple[Descriptor, ...]
    config: ImageConfig | None


@attrs.frozen
class ReleaseInfo:
    """Everything ``info`` knows about one release image."""

    __repr__ = value_repr

    image: str
    pull_from_name: str
    repository: Repository = attrs.field(eq=False, repr=False)
    digest: str
    content_digest: str
    list_digest: str
    manifest: Manifest = attrs.field(repr=False)
    index: Index | None = attrs.field(repr=False)
    config: ImageConfig = attrs.field(repr=False)
    metadata: CincinnatiMetadata | None
    references: dict[str, Any] = attrs.field(repr=False)
    tags: tuple[ReleaseTag, ...] = attrs.field(repr=False)
    raw_metadata: dict[str, bytes] = attrs.field(repr=False)
    manifest_files: dict[str, bytes] = attrs.field(repr=False)
    unknown_files: tuple[str, ...]
    display_versions: dict[str, ComponentVersion]
    versions_tags: dict[str, str]
    warnings: tuple[str, ...]
    stderr_warnings: tuple[str, ...] = ()
    images: dict[str, ComponentImage] | None = None
    #: Per-tag problems found while loading component images (also among ``warnings``, as text).
    tag_problems: tuple[TagProblem, ...] = ()

    @property
    def name(self) -> str:
        """``metadata.name`` of image-references."""
        return str((self.references.get("metadata") or {}).get("name") or "")

    @property
    def created_stream(self) -> str:
        """``metadata.creationTimestamp`` of image-references."""
        return str((self.references.get("metadata") or {}).get("creationTimestamp") or "")

    @property
    def preferred_name(self) -> str:
        """The metadata version, else the image-references name."""
        if self.metadata is not None and self.metadata.version:
            return self.metadata.version
        return self.name

    @property
    def display_digest(self) -> str:
        """The list digest when the release is a manifest list, else the manifest digest."""
        return self.list_digest or self.digest

    @property
    def platform(self) -> str:
        """``os/arch`` (``unknown`` for missing parts), ``multi (os/arch)`` for a list."""
        os_name = self.config.os or "unknown"
        arch = self.config.architecture or "unknown"
        text = f"{os_name}/{arch}"
        return f"multi ({text})" if self.list_digest else text

    @property
    def pull_from(self) -> str:
        """``<repository>@<digest or list digest>``."""
        return f"{self.pull_from_name}@{self.display_digest}"

    def tag(self, name: str) -> ReleaseTag | None:
        """The tag called ``name``, or None."""
        for tag in self.tags:
            if tag.name == name:
                return tag
        return None


def pull_from_name(location: ImageLocation) -> str:
    """The repository part shown in ``Pull From:`` (tag and digest dropped)."""
    if isinstance(location, RegistryLocation):
        return location.ref.name
    assert isinstance(location, LayoutLocation)
    return f"oci:{location.path}"


def open_location(opener: Opener, text: str) -> tuple[ImageLocation, Repository, str]:
    """Parse ``text`` and open its repository with ``opener``."""
    from okdrelease.reference import parse_location
    from okdrelease.transport.open import default_reference

    location = parse_location(text)
    if isinstance(location, RegistryLocation) and not (location.ref.tag or location.ref.digest):
        raise ReleaseError(f"unable to read image {text}: no tag or digest specified")
    repository, reference = opener.open(location)
    return location, repository, default_reference(location, repository, reference)


def load_release_from(
    opener: Opener,
    text: str,
    *,
    platform: PlatformFilter | None = None,
    limits: LayerLimits | None = None,
    resolver: Resolver | None = None,
) -> ReleaseInfo:
    """Open ``text`` (a pull spec or ``oci:DIR[:REF]``) and load it as a release.

    ``resolver``: the run's image resolver (its cache shared with the run's other reads); None: one for this call.
    """
    location, repository, reference = open_location(opener, text)
    return load_release(
        repository,
        reference,
        image=text,
        pull_from=pull_from_name(location),
        platform=platform or PlatformFilter.from_flag(None),
        limits=limits,
        resolver=resolver,
    )


def select_manifest(
    repository: Repository, reference: str, platform: PlatformFilter, resolver: Resolver | None = None
) -> tuple[Manifest, Index | None]:
    """Fetch ``reference`` through the resolver; for a list, the entry the platform filter selects.

    A registry's refusal is worded as oc words it (``image "REF" not found: manifest unknown: …``).
    """
    try:
        selected = (resolver or Resolver()).select(repository, reference, platform)
    except NestedManifestListError as err:
        raise ReleaseError(
            f"{err.repository}@{err.digest} is a nested manifest list, which is not supported"
        ) from err
    except RegistryError as err:
        separator = "@" if ":" in reference else ":"
        raise ReleaseError(describe_read_error(f"{repository.display}{separator}{reference}", err)) from err
    return selected.manifest, selected.index


def read_config(repository: Repository, manifest: Manifest, resolver: Resolver | None = None) -> ImageConfig:
    """Fetch and parse the image config of ``manifest`` (through the resolver: once per run)."""
    return (resolver or Resolver()).config(repository, manifest.config)


class ComponentConfigError(ReleaseError):
    """A component image's config oc cannot decode: the whole command fails (no per-tag warning)."""


def check_component_config(config: ImageConfig) -> None:
    """A component's config as oc decodes it when it fetches the release's images (``--size``, ``--verify``,
    ``--include-images``): one it cannot decode fails the whole command in oc's words, naming no image
    (ComponentConfigError)."""
    try:
        decoded_config(config)
    except GoJSONError as err:
        raise ComponentConfigError(f"unable to parse image configuration: {err}") from err


def load_references(raw: bytes) -> tuple[dict[str, Any], tuple[ReleaseTag, ...]]:
    """Parse image-references (spec §1.2 reading rules) into its Go-ordered JSON object and its tags."""
    from okdrelease.openshift.imagestream import load_image_stream, validate_kind

    try:
        stream = load_image_stream(raw)
    except OkdReleaseError as err:
        raise ReleaseError(f"unable to load release image-references: {err}") from err
    try:
        validate_kind(stream)
    except ReleaseError as err:
        raise ReleaseError("unrecognized image-references in release payload") from err
    tags = tuple(
        ReleaseTag(
            name=tag.name,
            annotations=dict(tag.annotations) if tag.annotations is not None else None,
            from_kind=tag.from_kind or "",
            from_name=tag.from_name,
            raw=tag.to_go(),
        )
        for tag in stream.tags
    )
    return stream.to_go(), tags


def load_metadata(raw: bytes) -> CincinnatiMetadata:
    """Parse release-metadata (spec §1.3) as oc does, into the one Cincinnati model."""
    from okdrelease.openshift.metadata import load_release_metadata

    try:
        return load_release_metadata(raw, nil_slices=True)
    except OkdReleaseError as err:
        raise ReleaseError(f"invalid release metadata: {err}") from err


def read_top_layer(
    repository: Repository, manifest: Manifest, *, limits: LayerLimits | None = None
) -> tuple[dict[str, bytes], dict[str, bytes], list[str]]:
    """Return (raw metadata files, manifest files, unknown files) of the top layer's payload."""
    from okdrelease.oci.layerstack import StackOptions, read_stack

    layers = manifest.layers
    if not layers:
        raise ReleaseError(f"release image {repository.display}@{manifest.digest} has no layers")
    top = layers[-1]
    options = StackOptions(top_only=True, whiteouts=False, last_in_layer=True, limits=limits or LayerLimits())
    files = read_stack(
        [BlobOpener(repository, top.digest, top.size)],
        PAYLOAD_PREFIX,
        names=[f"{top.digest} of {repository.display}"],
        options=options,
    )
    raw: dict[str, bytes] = {}
    manifests: dict[str, bytes] = {}
    unknown: list[str] = []
    for name, entry in files.items():
        if name in (IMAGE_REFERENCES, RELEASE_METADATA):
            raw[name] = entry.data
        elif entry.is_file and name.endswith(MANIFEST_EXTENSIONS):
            manifests[name] = entry.data
        else:
            unknown.append(name)
    return raw, manifests, unknown


def load_release(
    repository: Repository,
    reference: str,
    *,
    image: str,
    pull_from: str,
    platform: PlatformFilter,
    limits: LayerLimits | None = None,
    resolver: Resolver | None = None,
) -> ReleaseInfo:
    """Load the release at ``reference`` of ``repository`` (spec §5.3 steps 1-4) through ``resolver``."""
    resolver = resolver or Resolver(platform)
    manifest, index = select_manifest(repository, reference, platform, resolver)
    config = read_config(repository, manifest, resolver)
    check_config(config, image)
    raw, manifest_files, unknown = read_top_layer(repository, manifest, limits=limits)
    errors: list[str] = []
    metadata: CincinnatiMetadata | None = None
    references: dict[str, Any] | None = None
    tags: tuple[ReleaseTag, ...] = ()
    if IMAGE_REFERENCES in raw:
        try:
            references, tags = load_references(raw[IMAGE_REFERENCES])
        except ReleaseError as err:
            errors.append(str(err))
    if RELEASE_METADATA in raw:
        try:
            metadata = load_metadata(raw[RELEASE_METADATA])
        except ReleaseError as err:
            errors.append(str(err))
    if len(errors) == 1:
        raise ReleaseError(f"release image could not be read: {errors[0]}")
    if errors:
        raise ReleaseError("release image could not be read:\n* " + "\n* ".join(errors))
    if references is None:
        raise ReleaseError("release image did not contain an image-references file")
    versions, versions_tags, warnings, stderr = aggregate_release_versions(
        [(tag.name, tag.annotations) for tag in tags]
    )
    return ReleaseInfo(
        image=image,
        pull_from_name=pull_from,
        repository=repository,
        digest=manifest.digest,
        content_digest=manifest.digest,
        list_digest=index.digest if index is not None else "",
        manifest=manifest,
        index=index,
        config=config,
        metadata=metadata,
        references=references,
        tags=tags,
        raw_metadata=raw,
        manifest_files=manifest_files,
        unknown_files=tuple(unknown),
        display_versions=versions,
        versions_tags=versions_tags,
        warnings=tuple(warnings),
        stderr_warnings=tuple(stderr),
    )


def load_images(
    info: ReleaseInfo,
    opener: Opener,
    *,
    platform: PlatformFilter,
    workers: int = 4,
    progress: Callable[[str], None] | None = None,
    resolver: Resolver | None = None,
) -> ReleaseInfo:
    """Fetch every DockerImage tag's manifest and config (spec §5.3 step 5) through ``resolver``; add ``images``."""
    reader = resolver or Resolver(platform)
    images: dict[str, ComponentImage] = {}
    warnings = list(info.warnings)
    problems: list[TagProblem] = []

    def fetch(tag: ReleaseTag) -> ComponentImage:
        try:
            ref = ImageReference.parse(tag.from_name)
        except OkdReleaseError as err:
            raise _TagWarning(f'tag "{tag.name}" has an invalid reference: {err}') from err
        if progress is not None:
            progress(f"info: Loading {tag.name} {tag.from_name}")
        repository, reference = opener.open(RegistryLocation(ref))
        top = reader.manifest(repository, reference or "latest")
        list_digest = ""
        manifest = top
        if isinstance(top, Index):
            list_digest = top.digest
            matching = platform.matching(top)
            if len(matching) != 1:
                raise NoSingleImageError()
            child = reader.manifest(repository, matching[0].digest)
            if not isinstance(child, Manifest):
                raise ReleaseError(f"{tag.from_name} is a nested manifest list")
            manifest = child
        assert isinstance(manifest, Manifest)
        config = read_config(repository, manifest, reader)
        check_component_config(config)
        return ComponentImage(
            name=tag.name,
            pullspec=tag.from_name,
            digest=manifest.digest,
            content_digest=manifest.digest,
            list_digest=list_digest,
            media_type=manifest.media_type,
            layers=tuple(manifest.layers),
            config=config,
        )

    targets = [tag for tag in info.tags if tag.is_image]
    with worker_pool(workers) as pool:
        futures = [(tag, pool.submit(fetch, tag)) for tag in targets]
        for tag, future in futures:
            try:
                images[tag.name] = future.result()
            except (NoSingleImageError, ComponentConfigError):
                raise  # oc: the first tag's, here in tag order (oc's workers race)
            except _TagWarning as err:
                problems.append(TagProblem(tag.name, str(err)))
            except OkdReleaseError as err:
                problems.append(TagProblem(tag.name, f'tag "{tag.name}": {err}'))
    warnings.extend(p.message for p in problems)
    warnings.sort()
    return attrs.evolve(info, images=images, warnings=tuple(warnings), tag_problems=tuple(problems))


class _TagWarning(OkdReleaseError):
    """A per-tag problem reported as a warning."""


def verify_images(info: ReleaseInfo) -> list[str]:
    """Return the problems found by ``--verify``: unreachable images and digest mismatches."""
    problems = {p.message for p in info.tag_problems}
    images = info.images or {}
    for tag in info.tags:
        if not tag.is_image:
            continue
        image = images.get(tag.name)
        if image is None:
            if not any(p.tag == tag.name for p in info.tag_problems):
                problems.add(f'tag "{tag.name}": image {tag.from_name} could not be read')
            continue
        try:
            ref = ImageReference.parse(tag.from_name)
        except OkdReleaseError:
            continue
        if ref.digest and ref.digest not in (image.digest, image.list_digest):
            problems.add(f'tag "{tag.name}": {tag.from_name} resolved to {image.digest}')
    return sorted(problems)
