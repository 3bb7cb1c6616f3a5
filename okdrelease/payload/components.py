"""Stage 4 of ``new``: resolved components (spec §3.7).

Every DockerImage tag is read concurrently: labels become annotations, operators' ``/manifests``
are extracted. The result is a new value; the stream passed in is not changed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import attrs

from okdrelease._repr import value_repr
from okdrelease.errors import DigestMismatchError, NoMatchingPlatformError, OkdReleaseError, ReleaseError
from okdrelease.images.resolve import ResolvedImage, open_pullspec, resolve_all
from okdrelease.openshift.imagestream import ImageStream, TagReference
from okdrelease.openshift.labels import (
    BUILD_VERSION_DISPLAY_NAMES,
    BUILD_VERSIONS,
    COMMIT_LABELS,
    OVERRIDE_ANNOTATION,
)
from okdrelease.openshift.versions import ALLOWED_COMPONENTS, parse_component_versions
from okdrelease.payload.context import Run
from okdrelease.payload.resolve import ManifestFile, describe_registry_error, tampered
from okdrelease.reference import RegistryLocation, parse_location

__all__ = ["COMMIT_LABELS", "OVERRIDE_ANNOTATION", "Resolution", "label_annotations", "resolve_components"]

VERSIONS_LABEL = BUILD_VERSIONS
DISPLAY_NAMES_LABEL = BUILD_VERSION_DISPLAY_NAMES


@attrs.frozen
class Visited:
    """One component after its image was read."""

    __repr__ = value_repr

    name: str
    image: ResolvedImage
    annotations: dict[str, str]
    manifests: tuple[ManifestFile, ...] | None


@attrs.frozen
class Resolution:
    """Per-tag results of visiting component images, and the stream with their labels as annotations."""

    __repr__ = value_repr

    stream: ImageStream
    images: Mapping[str, ResolvedImage] = attrs.field(factory=dict)
    operator_files: Mapping[str, tuple[ManifestFile, ...]] = attrs.field(factory=dict)
    operators: tuple[str, ...] = ()


def label_annotations(tag: TagReference, labels: Mapping[str, str], ref: str) -> dict[str, str]:
    """The tag's annotations with the image's commit and version labels copied in (spec §3.7.3)."""
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
    return annotations


def _require_tag_or_digest(pullspec: str) -> None:
    """oc reads a component only by tag or digest: a bare repository (``cli=busybox``) is refused
    before anything is fetched, never taken as ``docker.io/library/busybox:latest``."""
    try:
        location = parse_location(pullspec)
    except OkdReleaseError:
        return  # worded by the visit, as oc words it
    if isinstance(location, RegistryLocation) and not (location.ref.tag or location.ref.digest):
        raise ReleaseError(f"unable to read image {pullspec}: no tag or digest specified")


def _read(run: Run, pullspec: str) -> ResolvedImage:
    """Resolve one component, failures worded as oc words them."""
    try:
        repo, reference = open_pullspec(run.transport, pullspec)
    except OkdReleaseError as err:
        raise ReleaseError(str(err)) from err
    try:
        return run.resolver.resolve(repo, reference)
    except DigestMismatchError as err:
        raise ReleaseError(tampered("one or more input images", pullspec, err)) from err
    except NoMatchingPlatformError as err:
        raise ReleaseError(f"failed to retrieve manifests from image {pullspec}: {err}") from err
    except ReleaseError:
        raise
    except OkdReleaseError as err:
        raise ReleaseError(describe_registry_error(pullspec, err)) from err


def visit(run: Run, tag: TagReference) -> Visited:
    """Read one component: its labels as annotations; an operator's ``/manifests``."""
    pullspec = tag.from_name
    image = _read(run, pullspec)
    annotations = label_annotations(tag, image.labels, pullspec)
    if not image.is_operator:
        return Visited(tag.name, image, annotations, None)
    override = (tag.annotations or {}).get(OVERRIDE_ANNOTATION) == "true"
    if override:
        run.emit(f"info: Loading override {pullspec} {tag.name}")
    else:
        digest = pullspec.rpartition("@")[2] if "@" in pullspec else ""
        run.emit(f"info: Loading {digest} {tag.name}")
    files = run.operators.read(image, all_layers=override, ref=pullspec)
    return Visited(tag.name, image, annotations, files)


def visit_order(tags: Sequence[TagReference]) -> list[int]:
    """The order visits start in: tags named like operators alternating with the others, each kind in
    stream order, then the rest of whichever kind is left.

    An operator's visit is the longest chain (manifest, config, its layer, then the manifest check
    on the CPU), and oc sorts the stream by name, which may put every operator last: their layers
    and checks would then run in a tail with the registry idle. Alternated with the other images,
    the checks' CPU work overlaps the fetching from the start and the operators are done by the
    last third (measured faster than all operators first, whose checks crowd out the fetching).
    Only the order work starts in changes; results and the failure reported stay in stream order.
    """
    operators = [i for i, tag in enumerate(tags) if "operator" in tag.name]
    others = [i for i, tag in enumerate(tags) if "operator" not in tag.name]
    pairs = min(len(operators), len(others))
    alternating = [i for pair in zip(operators, others, strict=False) for i in pair]
    return alternating + operators[pairs:] + others[pairs:]


def resolve_components(stream: ImageStream, run: Run) -> Resolution:
    """Visit every DockerImage tag concurrently; the first failure (in stream order) is raised."""
    tags = [t for t in stream.tags if t.from_kind == "DockerImage"]
    for tag in tags:
        _require_tag_or_digest(tag.from_name or "")
    visited = resolve_all(
        tags, lambda tag: visit(run, tag), run.workers, run.from_cache(visit), order=visit_order(tags)
    )
    annotations = {id(tag): result.annotations for tag, result in zip(tags, visited, strict=True)}
    copies = [tag.copy() for tag in stream.tags]
    for original, tag in zip(stream.tags, copies, strict=True):
        if id(original) in annotations:
            tag.annotations = annotations[id(original)]
    annotated = attrs.evolve(stream, tags=copies)
    operators = tuple(v.name for v in visited if v.manifests is not None)
    return Resolution(
        stream=annotated,
        images={v.name: v.image for v in visited},
        operator_files={v.name: v.manifests for v in visited if v.manifests is not None},
        operators=operators,
    )
