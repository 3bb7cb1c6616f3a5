"""``new``: assemble a release payload the way ``oc adm release new`` does, as a library call.

Stages, each a function of the value before it (STYLE.md):
inputs (``build_input``) → resolved components (``resolve_components``) → operator manifests →
payload files (``assemble_payload``) → release image (``okdrelease.payload.image``) → sink.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import os
import re
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import attrs

from okdrelease.errors import DigestMismatchError, OkdReleaseError, ReleaseError, UsageError
from okdrelease.oci.model import Index, Manifest
from okdrelease.payload import image as release_image
from okdrelease.payload.components import (
    KEEP_LIST_PLATFORM,
    BlobCache,
    ManifestFile,
    ResolvedImage,
    describe_registry_error,
    read_operator_manifests,
    resolve_image,
    select_child,
)
from okdrelease.payload.imagestream import (
    ImageStream,
    TagReference,
    apply_mappings,
    load_image_stream,
    resolve_input_stream,
    sort_tags,
)
from okdrelease.payload.mappings import combine_mappings
from okdrelease.payload.metadata import build_release_metadata, load_release_metadata, parse_metadata_flag
from okdrelease.payload.semver import SemverError
from okdrelease.payload.semver import parse as parse_semver
from okdrelease.payload.versions import ALLOWED_COMPONENTS, parse_component_versions
from okdrelease.reference import ImageReference, LayoutLocation, RegistryLocation, parse_location
from okdrelease.transport.base import Repository, TransportOptions

log = logging.getLogger(__name__)

Progress = Callable[[str], None]

OVERRIDE_ANNOTATION = "io.openshift.release.override"
FROM_RELEASE_ANNOTATION = "release.openshift.io/from-release"
COMMIT_LABELS = (
    "io.openshift.build.commit.id",
    "io.openshift.build.commit.ref",
    "io.openshift.build.source-location",
)
VERSIONS_LABEL = "io.openshift.build.versions"
DISPLAY_NAMES_LABEL = "io.openshift.build.version-display-names"


def _noop(_line: str) -> None:
    return None


@attrs.frozen
class NewOptions:
    """Typed options of ``new``; names and meanings follow ``oc adm release new`` (spec §2)."""

    mappings: tuple[str, ...] = ()
    mapping_files: tuple[str, ...] = ()
    from_image_stream_file: str | None = None
    from_release: str | None = None
    from_dir: str | None = None
    from_oci_layout: str | None = None
    layout_repository: str | None = None
    reference_mode: str = ""
    component_versions: str = ""
    component_versions_display_names: str = ""
    name: str = ""
    previous: tuple[str, ...] | None = None
    next: tuple[str, ...] | None = None
    metadata: str = ""
    keep_manifest_list: bool = False
    allow_missing_images: bool = False
    skip_manifest_check: bool = False
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    dry_run: bool = False
    mirror: str | None = None
    to_dir: str | None = None
    to_file: str | None = None
    to_image: str | None = None
    to_image_base: str | None = None
    to_image_base_tag: str = "cluster-version-operator"
    to_signature: str | None = None
    output: str = ""
    dir: str | None = None
    created: dt.datetime | None = None
    #: Q6: oc emits an overridden operator's manifests twice; okdrelease emits them once.
    duplicate_override_manifests: bool = False
    #: Q8: resolve mapping destinations given by tag to digests in image-references.
    pin_digests: bool = False
    #: OpenPGP secret key file: sign the pushed release (atomic container signature).
    #: Regex over ``os/arch[/variant]`` choosing manifest-list entries (default: oc's choice).
    filter_by_os: str | None = None
    sign_by: str | None = None
    #: cosign private key file: push a ``sha256-<hex>.sig`` signature next to the release.
    sign_by_sigstore_private_key: str | None = None
    sign_passphrase: str | None = None
    #: Identity (repository) the signature names; default: the --to-image repository.
    sign_identity: str | None = None
    signature_dir: str | None = None
    signature_configmap_dir: str | None = None


@attrs.frozen
class ComponentInfo:
    """A component of the release: tag name, pull spec and digest."""

    name: str
    pullspec: str
    digest: str | None
    operator: bool


@attrs.frozen
class NewResult:
    """What ``new`` produced."""

    name: str
    created: str
    digest: str | None = None
    to_image: str | None = None
    components: tuple[ComponentInfo, ...] = ()
    operators: tuple[str, ...] = ()
    pruned: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    output: bytes | None = None
    diff_id: str | None = None
    image_references: bytes | None = attrs.field(default=None, repr=False)
    release_metadata: bytes | None = attrs.field(default=None, repr=False)
    stdout_lines: tuple[str, ...] = ()


def format_time(when: dt.datetime) -> str:
    """RFC 3339 UTC with second precision, as Go prints release times."""
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def default_created() -> dt.datetime:
    """SOURCE_DATE_EPOCH when set, else now; truncated to seconds."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        try:
            return dt.datetime.fromtimestamp(int(epoch), dt.UTC)
        except ValueError as err:
            raise UsageError(f"SOURCE_DATE_EPOCH must be an integer, got {epoch!r}") from err
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def parse_created(text: str) -> dt.datetime:
    """Parse ``--created`` (RFC 3339)."""
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as err:
        raise UsageError(
            f"--created must be an RFC 3339 time such as 2024-01-18T22:35:23Z, got {text!r}"
        ) from err
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).replace(microsecond=0)


# --------------------------------------------------------------------------------------------
# Validation (spec §2.3)


def validate_options(options: NewOptions) -> None:
    """Apply oc's flag validation, in oc's order."""
    if options.output not in ("", "json"):
        # Q17: oc ignores unknown -o values; okdrelease refuses them (README).
        raise UsageError(f"--output must be json, got {options.output!r}")
    inputs = [options.from_image_stream_file, options.from_release, options.from_dir, options.from_oci_layout]
    if sum(1 for i in inputs if i) > 1:
        raise ReleaseError(
            "only one of --from-image-stream, --from-image-stream-file, --from-release, or --from-dir may be specified"
        )
    if options.to_signature and not options.to_image:
        raise ReleaseError("--to-signature requires --to-image")
    if options.mirror and options.reference_mode not in ("", "public"):
        raise ReleaseError("--reference-mode must be public or empty when using --mirror")
    platform_filter(options)
    if options.sign_by and not (options.signature_dir or options.signature_configmap_dir):
        raise UsageError("--sign-by requires --signature-dir or --signature-configmap-dir")
    if (options.sign_by or options.sign_by_sigstore_private_key) and (
        not options.to_image or options.dry_run or options.to_dir or options.to_file
    ):
        raise UsageError("signing requires --to-image and a push (not --dry-run, --to-dir or --to-file)")


def platform_filter(options: NewOptions) -> re.Pattern[str] | None:
    """The manifest-list entry filter: --filter-by-os, else linux/amd64 with --keep-manifest-list, else none."""
    if options.filter_by_os:
        try:
            return re.compile(options.filter_by_os)
        except re.error as err:
            raise UsageError(f"--filter-by-os was not a valid regular expression: {err}") from err
    return KEEP_LIST_PLATFORM if options.keep_manifest_list else None


def has_metadata_overrides(options: NewOptions, mappings: Sequence[tuple[str, str]]) -> bool:
    """oc's hasMetadataOverrides (spec §3.2)."""
    return bool(
        options.name
        or options.metadata
        or options.previous
        or options.next
        or options.to_image_base
        or options.component_versions
        or options.component_versions_display_names
        or mappings
        or options.exclude
        or options.include
        # Q5 fixed: mirroring changes every pull spec, so it cannot be a canonical rebuild.
        or options.mirror
    )


# --------------------------------------------------------------------------------------------
# Inputs (spec §3.3)


class LayoutContentTransport:
    """A transport that serves ``REPO@digest`` pull specs from an OCI layout (``--layout-repository``).

    The release names the repository the images will live in; their content is read locally.
    """

    def __init__(self, inner: Any, repository: str, layout_path: str) -> None:
        self.inner = inner
        self.options = inner.options
        self.repository = ImageReference.parse(repository).name
        self.layout_path = layout_path

    def open(self, location: Any, create: bool = False) -> tuple[Repository, str | None]:
        """Open ``location``; digests of the layout repository come from the layout."""
        if isinstance(location, str):
            location = parse_location(location)
        if (
            isinstance(location, RegistryLocation)
            and location.ref.name == self.repository
            and location.ref.digest
        ):
            layout, _ = self.inner.open(LayoutLocation(self.layout_path))
            if layout.has_blob(location.ref.digest):
                return layout, location.ref.digest
        result: tuple[Repository, str | None] = self.inner.open(location, create)
        return result

    def close(self) -> None:
        """Close the wrapped transport."""
        self.inner.close()


@attrs.define
class Inputs:
    """The input stream, candidate operator names and inherited release properties."""

    stream: ImageStream | None
    ordered: list[str]
    dirs: dict[str, list[ManifestFile]] | None = None
    inherited_name: str = ""
    inherited_metadata: dict[str, Any] | None = None
    inherited_previous: list[str] | None = None
    inherited_next: list[str] | None = None
    from_release_digest: str | None = None
    canonical_created: str | None = None
    to_image_base: str | None = None
    base_from_release: bool = False


def _read_text_source(path: str) -> bytes:
    if path == "-":
        import sys

        return sys.stdin.buffer.read()
    if path.startswith(("http://", "https://")):
        import requests

        try:
            resp = requests.get(path, timeout=60)
        except requests.RequestException as err:
            raise ReleaseError(f"unable to read input image stream file: {path}: {err}") from err
        if not 200 <= resp.status_code < 300:
            raise ReleaseError(f"unable to read input image stream file: {path}: HTTP {resp.status_code}")
        return resp.content
    return Path(path).read_bytes()


def load_checked_stream(
    data: bytes, *, load_error: str, kind_error: str, json_only: bool = False
) -> ImageStream:
    """Decode an ImageStream and require image.openshift.io/v1 ImageStream, with the caller's oc messages.

    ``load_error`` may hold ``{err}`` for the decoding error.
    """
    try:
        stream = load_image_stream(data, json_only=json_only)
    except OkdReleaseError as err:
        raise ReleaseError(load_error.format(err=err)) from err
    if stream.kind != "ImageStream" or stream.api_version != "image.openshift.io/v1":
        raise ReleaseError(kind_error)
    return stream


def input_from_image_stream_file(options: NewOptions, progress: Progress) -> Inputs:
    """``--from-image-stream-file``: load and resolve the input stream."""
    path = options.from_image_stream_file or ""
    try:
        data = _read_text_source(path)
    except FileNotFoundError as err:
        raise ReleaseError(f"open {path}: no such file or directory") from err
    except OSError as err:
        raise ReleaseError(f"unable to read input image stream file: {err}") from err
    source = load_checked_stream(
        data,
        load_error="unable to load input image stream file: {err}",
        kind_error="unrecognized input image stream file, must be an ImageStream in image.openshift.io/v1",
    )
    tags, ordered = resolve_input_stream(source, options.reference_mode, set(options.exclude))
    stream = ImageStream(name="", annotations={})
    stream.tags = tags
    progress(f"info: Found {len(tags)} images in image stream")
    return Inputs(stream=stream, ordered=ordered)


def input_from_dir(options: NewOptions, progress: Progress) -> Inputs:
    """``--from-dir``: operator sub-directories and an optional image-references file."""
    root = Path(options.from_dir or "")
    progress(f"info: Using {options.from_dir} as the input to the release")
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except OSError as err:
        raise ReleaseError(f"unable to read --from-dir {root}: {err.strerror}") from err
    stream: ImageStream | None = None
    dirs: dict[str, list[ManifestFile]] = {}
    ordered: list[str] = []
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            if entry.name in options.exclude:
                continue
            files = []
            try:
                for child in sorted(os.scandir(entry.path), key=lambda e: e.name):
                    if child.is_file(follow_symlinks=False):
                        st = child.stat(follow_symlinks=False)
                        files.append(ManifestFile(child.name, Path(child.path).read_bytes(), st.st_mtime))
            except OSError as err:
                raise ReleaseError(f"unable to read --from-dir {entry.path}: {err.strerror}") from err
            dirs[entry.name] = files
            ordered.append(entry.name)
        elif entry.name == "image-references" and entry.is_file():
            stream = load_checked_stream(
                Path(entry.path).read_bytes(),
                json_only=True,
                load_error="unable to load image data from release directory",
                kind_error="could not parse images: invalid kind/apiVersion",
            )
    progress(f"info: Found {len(ordered)} operator manifest directories on disk")
    return Inputs(stream=stream, ordered=ordered, dirs=dirs)


def input_from_oci_layout(options: NewOptions, transport: Any, progress: Progress) -> Inputs:
    """``--from-oci-layout DIR``: every ref name of a layout is a component image."""
    text = options.from_oci_layout or ""
    location = parse_location(text if text.startswith("oci:") else f"oci:{text}")
    assert isinstance(location, LayoutLocation)
    repo, _ = transport.open(LayoutLocation(location.path))
    stream = ImageStream(name="", annotations={})
    tags: list[TagReference] = []
    ordered: list[str] = []
    prefix = options.layout_repository or f"oci:{location.path}"
    for desc in repo.entries():
        tag = desc.ref_name
        if not tag or tag in options.exclude:
            continue
        pullspec = f"{prefix}@{desc.digest}"
        tags.append(TagReference.docker_image(tag, pullspec))
        ordered.append(tag)
    stream.tags = tags
    progress(f"info: Found {len(tags)} images in OCI layout {location.path}")
    return Inputs(stream=stream, ordered=ordered)


def input_from_release(
    options: NewOptions,
    transport: Any,
    cache: BlobCache,
    overridden: bool,
    progress: Progress,
) -> Inputs:
    """``--from-release``: the release's image-references and release-metadata (spec §3.3.1)."""
    text = options.from_release or ""
    try:
        location = parse_location(text)
    except OkdReleaseError as err:
        raise ReleaseError(f"--from-release was not a valid pullspec: {err}") from err
    repo, reference = transport.open(location)
    platform = platform_filter(options)
    try:
        resolved = resolve_image(repo, reference or "latest", platform=platform, cache=cache)
    except DigestMismatchError as err:
        raise ReleaseError(tampered("the input release image", text, err)) from err
    except OkdReleaseError as err:
        raise ReleaseError(describe_registry_error(text, err)) from err
    files = read_release_files(resolved, ("image-references", "release-metadata"))
    refs = files.get("image-references")
    if refs is None:
        raise ReleaseError("release image did not contain any image-references content")
    stream = load_checked_stream(
        refs,
        load_error="unable to load image-references from release contents: {err}",
        kind_error="unable to load image-references from release contents: "
        "unrecognized image-references in release payload",
    )
    try:
        metadata = load_release_metadata(files.get("release-metadata", b""))
    except OkdReleaseError as err:
        raise ReleaseError(f"unable to load release-metadata from release contents: {err}") from err
    stream.tags = [t for t in stream.tags if t.name not in options.exclude]
    ordered = [t.name for t in stream.tags]
    inputs = Inputs(stream=stream, ordered=ordered)
    inputs.from_release_digest = resolved.digest
    inputs.inherited_name = stream.name
    inputs.inherited_metadata = metadata.metadata
    inputs.inherited_previous = list(metadata.previous)
    inputs.inherited_next = list(metadata.next or [])
    inputs.canonical_created = stream.creation_timestamp
    base_digest = resolved.labels.get(release_image.BASE_DIGEST_LABEL, "")
    if not options.to_image_base and base_digest:
        for tag in stream.tags:
            if tag.from_kind != "DockerImage":
                continue
            try:
                ref = ImageReference.parse(tag.from_name)
            except OkdReleaseError as err:
                raise ReleaseError(
                    f'release image contains unparseable reference for "{tag.name}": {err}'
                ) from err
            if ref.digest == base_digest:
                inputs.to_image_base = tag.from_name
                break
        else:
            if not options.keep_manifest_list:
                raise ReleaseError(
                    "unable to find an image within the release that matches the base image manifest "
                    f'"{base_digest}", please specify --to-image-base'
                )
            # §3.3.1 step 7: the input release itself is the base, and the build counts as overridden.
            inputs.to_image_base = text
            inputs.base_from_release = True
            overridden = True
            progress(
                "warning: no image in the release matches its base image digest; the input release is the "
                "base, so its old release-manifests layer stays underneath the new one (oc quirk Q7)"
            )
    if overridden:
        progress(f"info: Found {len(stream.tags)} images in release")
    elif isinstance(location, RegistryLocation) and location.ref.tag and not location.ref.digest:
        progress(f"info: Release {resolved.digest} built from {len(stream.tags)} images")
    else:
        progress(f"info: Release built from {len(stream.tags)} images")
    return inputs


def tampered(what: str, pullspec: str, err: DigestMismatchError) -> str:
    """oc's content-verification failure (spec §3.3.1, §3.7.6, §3.12.3), naming the image and the digest."""
    return f"{what} failed content verification and may have been tampered with: {pullspec}: {err}"


def read_release_files(image: ResolvedImage, names: Sequence[str]) -> dict[str, bytes]:
    """Read ``release-manifests/<name>`` files of a release image, top layer first."""
    from okdrelease.oci.layers import read_top_down

    repo = image.repository
    openers = [(lambda d=d: repo.open_blob(d.digest, d.size)) for d in image.manifest.layers]
    found = read_top_down(openers, "release-manifests/", set(names))
    return {name: entry.data for name, entry in found.items()}


# --------------------------------------------------------------------------------------------
# Component resolution (spec §3.7)


@attrs.define
class Resolution:
    """Per-tag results of visiting component images."""

    images: dict[str, ResolvedImage] = attrs.field(factory=dict)
    operator_files: dict[str, list[ManifestFile]] = attrs.field(factory=dict)
    operators: list[str] = attrs.field(factory=list)


def open_pullspec(transport: Any, pullspec: str) -> tuple[Repository, str]:
    """Open the repository a pull spec points into; return it and the tag or digest."""
    location = parse_location(pullspec)
    repo, reference = transport.open(location)
    if isinstance(location, RegistryLocation):
        reference = location.ref.reference
    return repo, reference or "latest"


def _apply_labels(tag: TagReference, labels: dict[str, str], ref: str) -> None:
    annotations = dict(tag.annotations or {})
    for key in COMMIT_LABELS:
        annotations[key] = labels.get(key, "")
    versions = labels.get(VERSIONS_LABEL, "")
    if versions:
        display = labels.get(DISPLAY_NAMES_LABEL, "")
        try:
            parsed = parse_component_versions(versions, display)
        except OkdReleaseError as err:
            raise ReleaseError(
                f'unable to check whether to include image {ref}: tag "{tag.name}" has an invalid '
                f"io.openshift.build.versions or io.openshift.build.version-display-names label: {err}"
            ) from err
        for key in parsed:
            if key not in ALLOWED_COMPONENTS:
                raise ReleaseError(
                    f'unable to check whether to include image {ref}: tag "{tag.name}" references a component '
                    f'version "{key}" which is not in the allowed list'
                )
        annotations[VERSIONS_LABEL] = versions
        annotations[DISPLAY_NAMES_LABEL] = display
    tag.annotations = annotations


def resolve_components(
    stream: ImageStream,
    transport: Any,
    options: NewOptions,
    cache: BlobCache,
    progress: Progress,
    workers: int,
) -> Resolution:
    """Visit every DockerImage tag concurrently: labels → annotations; operators' /manifests."""
    platform = platform_filter(options)
    result = Resolution()
    tags = [t for t in stream.tags if t.from_kind == "DockerImage"]

    def visit(tag: TagReference) -> tuple[str, ResolvedImage | None, list[ManifestFile] | None]:
        pullspec = tag.from_name
        try:
            repo, reference = open_pullspec(transport, pullspec)
        except OkdReleaseError as err:
            raise ReleaseError(str(err)) from err
        try:
            image = resolve_image(repo, reference, platform=platform, cache=cache)
        except DigestMismatchError as err:
            raise ReleaseError(tampered("one or more input images", pullspec, err)) from err
        except OkdReleaseError as err:
            if isinstance(err, ReleaseError):
                raise
            if str(err) == "filtered all images from manifest list":
                raise ReleaseError(f"failed to retrieve manifests from image {pullspec}: {err}") from err
            raise ReleaseError(describe_registry_error(pullspec, err)) from err
        _apply_labels(tag, image.labels, pullspec)
        if not image.is_operator:
            return tag.name, image, None
        override = (tag.annotations or {}).get(OVERRIDE_ANNOTATION) == "true"
        if override:
            progress(f"info: Loading override {pullspec} {tag.name}")
        else:
            digest = pullspec.rpartition("@")[2] if "@" in pullspec else ""
            progress(f"info: Loading {digest} {tag.name}")
        files = read_operator_manifests(image, all_layers=override, cache=cache, ref=pullspec)
        return tag.name, image, files

    errors: list[tuple[int, BaseException]] = []
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = [pool.submit(visit, t) for t in tags]
        for position, future in enumerate(futures):
            try:
                name, image, files = future.result()
            except BaseException as err:  # collect; report the first in stream order
                errors.append((position, err))
                continue
            if image is not None:
                result.images[name] = image
            if files is not None:
                result.operator_files[name] = files
                result.operators.append(name)
    if errors:
        raise errors[0][1]
    return result


def pin_tag_digests(stream: ImageStream, resolution: Resolution) -> None:
    """Q8 fix: rewrite mapping destinations given by tag to ``repo@digest``."""
    for tag in stream.tags:
        image = resolution.images.get(tag.name)
        if image is None or tag.from_kind != "DockerImage" or "@" in tag.from_name:
            continue
        if tag.from_name.startswith("oci:"):
            continue
        ref = ImageReference.parse(tag.from_name)
        tag.from_name = ref.with_digest(image.list_digest or image.digest).exact()


# --------------------------------------------------------------------------------------------
# Pruning and payload assembly (spec §3.10, §3.11)


def operator_references(operator_files: dict[str, list[ManifestFile]]) -> dict[str, ImageStream]:
    """Each operator's own ``image-references``, parsed once (used by pruning and by rewriting)."""
    out: dict[str, ImageStream] = {}
    for name, files in operator_files.items():
        for f in files:
            if f.name == "image-references":
                try:
                    out[name] = load_image_stream(f.data)
                except OkdReleaseError as err:
                    raise ReleaseError(
                        f'operator "{name}" contained an invalid image-references file: {err}'
                    ) from err
    return out


def prune(
    stream: ImageStream,
    references: dict[str, ImageStream],
    include: Sequence[str],
    ordered: list[str],
) -> list[str]:
    """Remove tags no operator references; return the removed names."""
    referenced: set[str] = set(include) | set(ordered)
    for local in references.values():
        referenced.update(t.name for t in local.tags)
    removed = [t.name for t in stream.tags if t.name not in referenced]
    stream.tags = [t for t in stream.tags if t.name in referenced]
    return removed


def operator_transform(
    name: str,
    local: ImageStream | None,
    stream: ImageStream,
    options: NewOptions,
    warn: Progress,
) -> Callable[[bytes], bytes]:
    """The rewriting function for one operator (spec §3.11.3 / §3.11.4); ``local`` is its image-references."""
    from okdrelease.payload.mapper import build_operator_transform, simple_transform

    if local is None:
        return simple_transform(stream.name)
    try:
        operator_refs = [(t.name, t.from_kind or "", t.from_name or "") for t in local.tags]
        release_tags = [(t.name, t.from_name or "", t.annotations) for t in stream.tags]
        return build_operator_transform(
            operator_refs,
            release_tags,
            stream.annotations,
            stream.name,
            options.allow_missing_images,
            lambda message: warn(f"warning: {message}"),
        )
    except OkdReleaseError as err:
        raise ReleaseError(f'operator "{name}" contained an invalid image-references file: {err}') from err


def assemble_payload(
    stream: ImageStream,
    metadata_json: bytes,
    operator_files: dict[str, list[ManifestFile]],
    ordered: list[str],
    options: NewOptions,
    warn: Progress,
    references: dict[str, ImageStream] | None = None,
) -> tuple[bytes, list[str]]:
    """Build the uncompressed ``release-manifests/`` tar; return it and the contributing operators."""
    from okdrelease.payload.assemble import OperatorFiles, write_payload_tar

    refs_json = stream.to_json()
    if references is None:
        references = operator_references(operator_files)
    transforms: dict[str, Callable[[bytes], bytes]] = {}

    def transform_for(name: str) -> Callable[[bytes], bytes]:
        if name not in transforms:
            transforms[name] = operator_transform(name, references.get(name), stream, options, warn)
        return transforms[name]

    files = OperatorFiles(
        {name: [(f.name, f.data, f.mtime) for f in operator_files[name]] for name in operator_files}
    )
    buf = io.BytesIO()
    try:
        contributed = write_payload_tar(
            buf,
            files,
            sorted(ordered),
            transform_for,
            refs_json,
            metadata_json,
            skip_manifest_check=options.skip_manifest_check,
        )
    except OkdReleaseError as err:
        raise ReleaseError(f"unable to create a release: {err}") from err
    return buf.getvalue(), list(contributed)


# --------------------------------------------------------------------------------------------
# The whole command


def new_release(
    options: NewOptions,
    *,
    transport_options: TransportOptions | None = None,
    transport: Any = None,
    progress: Progress | None = None,
) -> NewResult:
    """Assemble a release from ``options``; push or write it; return what was produced."""
    from okdrelease.transport.open import Transport

    emit = progress or _noop
    own_transport = transport is None
    transport = transport or Transport(transport_options or TransportOptions())
    try:
        return _new_release(options, transport, emit)
    finally:
        if own_transport:
            transport.close()


def _new_release(options: NewOptions, transport: Any, emit: Progress) -> NewResult:
    validate_options(options)
    mappings = combine_mappings(options.mapping_files, options.mappings)
    inputs_given = (
        options.from_image_stream_file or options.from_release or options.from_dir or options.from_oci_layout
    )
    if not inputs_given and not mappings:
        raise ReleaseError("must specify image mappings when no other source is defined")
    overridden = has_metadata_overrides(options, mappings)
    include = list(options.include) + [options.to_image_base_tag]
    warnings: list[str] = []

    def warn(line: str) -> None:
        warnings.append(line)
        emit(line)

    if options.component_versions or options.component_versions_display_names:
        try:
            parse_component_versions(options.component_versions, options.component_versions_display_names)
        except OkdReleaseError as err:
            raise ReleaseError(f"--component-versions is invalid: {err}") from err
    if options.name:
        try:
            parse_semver(options.name)
        except SemverError as err:
            raise ReleaseError(f"--name must be a semantic version: {err}") from err
    metadata_obj: dict[str, Any] | None = None
    if options.metadata:
        metadata_obj = parse_metadata_flag(options.metadata)

    signing_key = _load_signing_keys(options)

    cache = BlobCache()
    workers = max(4, transport.options.max_per_registry * 2)
    if options.from_oci_layout and options.layout_repository:
        text = options.from_oci_layout
        layout_path = parse_location(text if text.startswith("oci:") else f"oci:{text}")
        assert isinstance(layout_path, LayoutLocation)
        transport = LayoutContentTransport(transport, options.layout_repository, layout_path.path)
    if options.from_release:
        inputs = input_from_release(options, transport, cache, overridden, emit)
    elif options.from_image_stream_file:
        inputs = input_from_image_stream_file(options, emit)
    elif options.from_dir:
        inputs = input_from_dir(options, emit)
    elif options.from_oci_layout:
        inputs = input_from_oci_layout(options, transport, emit)
    else:
        inputs = Inputs(stream=None, ordered=[])

    overridden = overridden or inputs.base_from_release
    canonical = bool(options.from_release) and not overridden
    if canonical and inputs.canonical_created:
        created_text = inputs.canonical_created
    else:
        created_text = format_time(options.created or default_created())
    name = options.name or inputs.inherited_name
    if not name:
        created_dt = dt.datetime.strptime(created_text, "%Y-%m-%dT%H:%M:%SZ")
        name = "0.0.1-" + created_dt.strftime("%Y-%m-%d-%H%M%S")
    try:
        parse_semver(name)
    except SemverError as err:
        raise ReleaseError("--name must be a semantic version") from err
    if metadata_obj is None and not options.metadata:
        metadata_obj = inputs.inherited_metadata
    previous = list(options.previous) if options.previous is not None else (inputs.inherited_previous or [])
    next_ = list(options.next) if options.next is not None else (inputs.inherited_next or [])
    metadata = build_release_metadata(name, previous, next_, metadata_obj)

    stream = inputs.stream or ImageStream(name="", annotations={})
    stream.name = name
    stream.creation_timestamp = created_text
    if stream.annotations is None:
        stream.annotations = {}
    if options.from_release and overridden:
        stream.annotations[FROM_RELEASE_ANNOTATION] = options.from_release
    ordered = list(inputs.ordered)
    apply_mappings(stream, mappings, set(options.exclude), ordered)
    sort_tags(stream)

    if options.output == "json":
        return NewResult(name=name, created=created_text, output=stream.to_json() + b"\n")

    operator_files: dict[str, list[ManifestFile]]
    resolution = Resolution()
    if inputs.dirs is not None:
        operator_files = inputs.dirs
        missing = [n for n in ordered if n not in operator_files]
        if missing:
            raise ReleaseError(f"missing image data {missing[0]}")
    else:
        if not stream.tags:
            raise ReleaseError("no component images defined, unable to build a release payload")
        resolution = resolve_components(stream, transport, options, cache, emit, workers)
        operator_files = resolution.operator_files
        ordered = [n for n in ordered if n in operator_files]
    if options.dir and inputs.dirs is None:
        write_work_dir(Path(options.dir), operator_files, stream)
    if not options.duplicate_override_manifests:
        ordered = list(dict.fromkeys(ordered))
    if options.pin_digests:
        pin_tag_digests(stream, resolution)

    stdout_lines: list[str] = []
    references = operator_references(operator_files)
    removed = prune(stream, references, include, ordered)
    if options.mirror:
        # Pruned before mirroring (PERF P11): images the release drops are not copied.
        from okdrelease.payload.mirror import mirror_release_images

        stdout_lines.extend(
            mirror_release_images(stream, resolution, options, transport, name, emit, dry_run=options.dry_run)
        )
    if removed:
        emit(
            f"info: Included {len(stream.tags)} images from {len(operator_files)} input operators into the release"
        )

    tar, contributed = assemble_payload(
        stream, metadata.to_json(), operator_files, ordered, options, warn, references
    )
    components = tuple(
        ComponentInfo(
            t.name,
            t.from_name or "",
            (resolution.images[t.name].digest if t.name in resolution.images else None),
            t.name in operator_files,
        )
        for t in stream.tags
    )
    result_kwargs: dict[str, Any] = {
        "name": name,
        "created": created_text,
        "components": components,
        "operators": tuple(contributed),
        "pruned": tuple(removed),
        "image_references": stream.to_json(),
        "release_metadata": metadata.to_json(),
    }
    if options.to_dir:
        write_to_dir(tar, Path(options.to_dir))
        return NewResult(warnings=tuple(warnings), stdout_lines=tuple(stdout_lines), **result_kwargs)
    # Compressed once per run: the same layer serves --to-file, the image and the result's diff ID.
    payload = release_image.PayloadLayer.from_tar(tar)
    if options.to_file:
        # ``--to-file -``: the bytes are the result's output; the CLI writes them to stdout.
        output = None
        if options.to_file == "-":
            output = payload.blob
        else:
            write_to_file(payload.blob, options.to_file, created_text)
        return NewResult(
            warnings=tuple(warnings),
            diff_id=payload.diff_id,
            output=output,
            stdout_lines=tuple(stdout_lines),
            **result_kwargs,
        )

    digest, to_image = build_and_push(
        options, transport, stream, inputs, payload, name, created_text, cache, emit, workers
    )
    if canonical and inputs.from_release_digest and digest != inputs.from_release_digest:
        raise ReleaseError("the release could not be reproduced from its inputs")
    if options.to_signature and to_image:
        from okdrelease.sign.api import DEFAULT_CREATOR
        from okdrelease.sign.simple import new_signature_payload

        location = parse_location(to_image)
        repository = location.ref.name if isinstance(location, RegistryLocation) else str(location)
        when = dt.datetime.strptime(created_text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
        body = new_signature_payload(
            f"{options.sign_identity or repository}@{digest}", digest, DEFAULT_CREATOR, int(when.timestamp())
        )
        try:
            fd = os.open(options.to_signature, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            with os.fdopen(fd, "wb") as out:
                out.write(body)
        except OSError as err:
            raise ReleaseError(f"unable to write signature file: {err}") from err
    if to_image and signing_key is not None:
        _sign(options, signing_key, transport, to_image, digest, created_text, emit)
    stdout_lines.append(f"{digest} {name} {created_text}")
    if not contributed:
        warn("warning: No operator metadata was found, no operators will be part of the release.")
    return NewResult(
        digest=digest,
        to_image=to_image,
        warnings=tuple(warnings),
        diff_id=payload.diff_id,
        stdout_lines=tuple(stdout_lines),
        **result_kwargs,
    )


@attrs.frozen
class _SigningKeys:
    pgp: Any = None
    cosign: Any = None


def _load_signing_keys(options: NewOptions) -> _SigningKeys | None:
    """Load the signing keys before any work, so a bad key or passphrase fails fast."""
    if not options.sign_by and not options.sign_by_sigstore_private_key:
        return None
    pgp = cosign_key = None
    if options.sign_by:
        from okdrelease.sign.openpgp import load_secret_key

        pgp = load_secret_key(options.sign_by, options.sign_passphrase)
    if options.sign_by_sigstore_private_key:
        from okdrelease.sign.cosign import decrypt_private_key

        path = options.sign_by_sigstore_private_key
        try:
            data = Path(path).read_bytes()
        except OSError as err:
            raise ReleaseError(f"cannot read cosign key {path}: {err.strerror}") from err
        cosign_key = decrypt_private_key(data, options.sign_passphrase or "", what=path)
    return _SigningKeys(pgp, cosign_key)


def _sign(
    options: NewOptions,
    keys: _SigningKeys,
    transport: Any,
    to_image: str,
    digest: str,
    created: str,
    emit: Progress,
) -> None:
    """Sign the pushed release: OpenPGP into a store directory / ConfigMap, cosign into the registry."""
    location = parse_location(to_image)
    if options.sign_identity:
        identity = options.sign_identity
    elif isinstance(location, RegistryLocation):
        identity = location.ref.name
    else:
        raise UsageError("signing a release written to an OCI layout needs --sign-identity REPOSITORY")
    if keys.pgp is not None:
        from okdrelease.sign.api import sign_release

        when = dt.datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
        signed = sign_release(
            f"{identity}@{digest}",
            keys.pgp,
            signature_dir=options.signature_dir,
            configmap_dir=options.signature_configmap_dir,
            timestamp=int(when.timestamp()),
        )
        for path in (signed.signature_path, signed.configmap_path):
            if path is not None:
                emit(f"info: Signed {identity}@{digest} with {signed.fingerprint}: {path}")
    if keys.cosign is not None:
        from okdrelease.sign.api import sign_release_cosign

        repo, _ = transport.open(location)
        sign_release_cosign(repo, f"{identity}@{digest}", keys.cosign)
        emit(f"info: Pushed cosign signature for {identity}@{digest}")


def write_work_dir(
    directory: Path, operator_files: dict[str, list[ManifestFile]], stream: ImageStream
) -> None:
    """``--dir``: keep each operator's /manifests in DIR/<tag>/ and the input stream in DIR/image-references."""
    try:
        for name, files in operator_files.items():
            target = directory / name
            target.mkdir(parents=True, exist_ok=True)
            for f in files:
                path = target / f.name
                path.write_bytes(f.data)
                os.chmod(path, 0o640)
                os.utime(path, (f.mtime, f.mtime))
        refs = directory / "image-references"
        refs.write_bytes(stream.to_json())
        os.chmod(refs, 0o644)
    except OSError as err:
        raise ReleaseError(f"unable to write --dir {directory}: {err.strerror}") from err


def write_to_dir(tar: bytes, directory: Path) -> None:
    """``--to-dir``: write every ``release-manifests/<file>`` flat, mode 0644, mtime from the tar."""
    try:
        _write_to_dir(tar, directory)
    except OSError as err:
        raise ReleaseError(f"unable to write --to-dir {directory}: {err.strerror}") from err


def _write_to_dir(tar: bytes, directory: Path) -> None:
    import tarfile

    directory.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(tar), mode="r:") as archive:
        for member in archive:
            if not member.isreg() or not member.name.startswith("release-manifests/"):
                continue
            rest = member.name[len("release-manifests/") :]
            if not rest or "/" in rest or rest in (".", ".."):
                continue
            target = directory / rest
            extracted = archive.extractfile(member)
            assert extracted is not None
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            with os.fdopen(fd, "wb") as out:
                out.write(extracted.read())
            os.chmod(target, 0o644)
            os.utime(target, (member.mtime, member.mtime))


def write_to_file(blob: bytes, path: str, created: str) -> None:
    """``--to-file PATH``: the gzipped payload; mode 0750 on create; mtime = created (``-`` is the CLI's)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o750)
        with os.fdopen(fd, "wb") as out:
            out.write(blob)
        when = dt.datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC).timestamp()
        os.utime(path, (when, when))
    except OSError as err:
        raise ReleaseError(f"unable to write --to-file {path}: {err.strerror}") from err


def build_and_push(
    options: NewOptions,
    transport: Any,
    stream: ImageStream,
    inputs: Inputs,
    payload: release_image.PayloadLayer,
    name: str,
    created: str,
    cache: BlobCache,
    emit: Progress,
    workers: int,
) -> tuple[str, str | None]:
    """Build the release image on the base and push it (or compute it, in a dry run)."""
    dry_run = options.dry_run or not options.to_image
    to_text = options.to_image or "release:latest"
    try:
        to_location = parse_location(to_text)
    except OkdReleaseError as err:
        raise ReleaseError(f"--to-image was not valid: {err}") from err
    # Q2 (replicated for registries): without a tag the --name given or inherited is the tag; the
    # default 0.0.1-<time> name is not, so such a release is pushed untagged, by digest. An OCI layout
    # keeps only what index.json names, so there the computed name is the tag.
    given_name = options.name or inputs.inherited_name or None
    tag: str | None
    if isinstance(to_location, RegistryLocation):
        if to_location.ref.digest:
            raise ReleaseError("--to-image may only point to a repository or tag, not a digest")
        tag = to_location.ref.tag or given_name
    else:
        if to_location.digest:
            raise ReleaseError("--to-image may only point to a repository or tag, not a digest")
        tag = to_location.refname or name or None

    base_spec = options.to_image_base or inputs.to_image_base
    if not base_spec:
        matches = [t for t in stream.tags if t.name == options.to_image_base_tag]
        if not matches:
            raise ReleaseError(
                f'the base image tag "{options.to_image_base_tag}" could not be found in the input, '
                "cannot build a release image"
            )
        base_spec = matches[-1].from_name or ""
    try:
        base_repo, base_reference = open_pullspec(transport, base_spec)
        top = base_repo.get_manifest(base_reference)
    except DigestMismatchError as err:
        # Q32 fixed: found while reading, before anything is pushed.
        raise ReleaseError(tampered("the base image", base_spec, err)) from err
    except OkdReleaseError as err:
        raise ReleaseError(f"unable to read image {base_spec}: {err}") from err

    def build_one(manifest: Manifest, base_digest: str) -> release_image.BuiltImage:
        config_desc = manifest.config

        def load() -> object:
            from okdrelease.oci.model import ImageConfig

            return ImageConfig.from_bytes(
                base_repo.read_blob(config_desc.digest, config_desc.size), config_desc.digest
            )

        config = cache.get(("config", config_desc.digest), load)
        from okdrelease.oci.model import ImageConfig

        assert isinstance(config, ImageConfig)
        return release_image.build_image(
            manifest, config, base_digest=base_digest, release_name=name, created=created, payload=payload
        )

    # Read and build everything first (every base manifest and config verified), then push.
    built_children: list[release_image.BuiltImage] = []
    list_bytes = b""
    list_type = ""
    try:
        if isinstance(top, Index) and options.keep_manifest_list:
            children: dict[str, tuple[str, int]] = {}
            for desc in top.manifests:
                child = base_repo.get_manifest(desc.digest)
                if not isinstance(child, Manifest):
                    raise ReleaseError(f"nested manifest list {desc.digest} in {base_spec}")
                built = build_one(child, child.digest)
                children[desc.digest] = (built.digest, len(built.manifest))
                built_children.append(built)
            list_bytes, list_type = release_image.release_list(top, children)
            from okdrelease.oci.digest import sha256_digest

            digest = sha256_digest(list_bytes)
        else:
            if isinstance(top, Index):
                # keep_manifest_list is off here, so the filter is --filter-by-os or none (oc: first entry).
                first = select_child(top, platform_filter(options))
                child = base_repo.get_manifest(first.digest)
                if not isinstance(child, Manifest):
                    raise ReleaseError(f"nested manifest list {first.digest} in {base_spec}")
                top = child
            built = build_one(top, top.digest)
            digest = built.digest
    except ReleaseError:
        raise
    except DigestMismatchError as err:
        raise ReleaseError(tampered("the base image", base_spec, err)) from err
    except OkdReleaseError as err:
        raise ReleaseError(f"failed to push image {to_text}: {err}") from err
    if dry_run:
        return digest, None
    try:
        dest, _ = transport.open(to_location, create=True)
        if built_children:
            # Children by digest (the payload blob uploaded once, HEAD for the rest), the list tag last.
            for child_built in built_children:
                release_image.push_image(
                    child_built, payload, source=base_repo, dest=dest, tag=None, workers=workers
                )
            pushed = dest.put_manifest(list_bytes, list_type, tag)
            if pushed != digest:
                raise ReleaseError(
                    f"{dest.display} returned digest {pushed} for the release list, expected {digest}"
                )
        else:
            release_image.push_image(built, payload, source=base_repo, dest=dest, tag=tag, workers=workers)
    except ReleaseError:
        raise
    except OkdReleaseError as err:
        raise ReleaseError(f"failed to push image {to_text}: {err}") from err
    emit(f"info: Pushed to {to_text}")
    return digest, to_text
