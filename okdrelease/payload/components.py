"""Stage 4 of ``new``: resolved components (spec §3.7).

Every DockerImage tag is read concurrently: labels become annotations, operators' ``/manifests``
are extracted. The result is a new value; the stream passed in is not changed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import attrs

from okdrelease._repr import value_repr
from okdrelease.errors import DigestMismatchError, NoMatchingPlatformError, OkdReleaseError, ReleaseError
from okdrelease.gocompat.goconfig import check_config
from okdrelease.images.resolve import ResolvedImage, open_pullspec, resolve_all
from okdrelease.openshift.imagestream import ImageStream, TagReference
from okdrelease.openshift.labels import (
    BUILD_VERSION_DISPLAY_NAMES,
    BUILD_VERSIONS,
    COMMIT_LABELS,
    OPERATOR_LABEL,
    OVERRIDE_ANNOTATION,
)
from okdrelease.payload.context import Run
from okdrelease.payload.recorded import Recorded, RecordedOperator, read_record, record_key, write_record
from okdrelease.payload.resolve import ManifestFile, Reference, describe_registry_error, tampered
from okdrelease.reference import ImageLocation, RegistryLocation, parse_location

__all__ = ["COMMIT_LABELS", "OVERRIDE_ANNOTATION", "Resolution", "label_annotations", "resolve_components"]

VERSIONS_LABEL = BUILD_VERSIONS
DISPLAY_NAMES_LABEL = BUILD_VERSION_DISPLAY_NAMES


@attrs.frozen
class Visited:
    """One component after its image was read (or found in a recorded resolution: no ``image``)."""

    __repr__ = value_repr

    name: str
    found: Recorded
    annotations: dict[str, str]
    image: ResolvedImage | None = attrs.field(default=None, eq=False, repr=False)


@attrs.frozen
class Resolution:
    """Per-tag results of visiting component images, and the stream with their labels as annotations."""

    __repr__ = value_repr

    stream: ImageStream
    #: The images read, by tag name: only when asked for (``resolve_components(images=True)``).
    images: Mapping[str, ResolvedImage] = attrs.field(factory=dict)
    operator_files: Mapping[str, tuple[ManifestFile, ...]] = attrs.field(factory=dict)
    operators: tuple[str, ...] = ()
    #: Tag name -> (the single-image manifest's digest, the list's it was chosen from or None).
    digests: Mapping[str, tuple[str, str | None]] = attrs.field(factory=dict)
    #: An operator's ``image-references`` tags, when it has one that loads (see ``resolve.known_references``).
    operator_references: Mapping[str, tuple[Reference, ...]] = attrs.field(factory=dict)


def label_annotations(tag: TagReference, labels: Mapping[str, str], ref: str) -> dict[str, str]:
    """The tag's annotations with the image's commit and version labels copied in (spec §3.7.3)."""
    annotations = dict(tag.annotations or {})
    for key in COMMIT_LABELS:
        annotations[key] = labels.get(key, "")
    versions = labels.get(VERSIONS_LABEL, "")
    if versions:
        from okdrelease.openshift.versions import ALLOWED_COMPONENTS, parse_component_versions

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


def _require_tag_or_digest(pullspec: str) -> ImageLocation | None:
    """oc reads a component only by tag or digest: a bare repository (``cli=busybox``) is refused
    before anything is fetched, never taken as ``docker.io/library/busybox:latest``. The location,
    None when the pull spec does not parse (worded by the visit, as oc words it)."""
    try:
        location = parse_location(pullspec)
    except OkdReleaseError:
        return None
    if isinstance(location, RegistryLocation) and not (location.ref.tag or location.ref.digest):
        raise ReleaseError(f"unable to read image {pullspec}: no tag or digest specified")
    return location


def _read(run: Run, pullspec: str) -> ResolvedImage:
    """Resolve one component, failures worded as oc words them; a config Go cannot decode (a history
    time out of range, a field of the wrong type) fails as in oc (``goconfig.check_config``)."""
    try:
        repo, reference = open_pullspec(run.transport, pullspec)
    except OkdReleaseError as err:
        raise ReleaseError(str(err)) from err
    try:
        image = run.resolver.resolve(repo, reference)
        check_config(image.config, pullspec)
        return image
    except DigestMismatchError as err:
        raise ReleaseError(tampered("one or more input images", pullspec, err)) from err
    except NoMatchingPlatformError as err:
        raise ReleaseError(f"failed to retrieve manifests from image {pullspec}: {err}") from err
    except ReleaseError:
        raise
    except OkdReleaseError as err:
        raise ReleaseError(describe_registry_error(pullspec, err)) from err


def _override(tag: TagReference) -> bool:
    return (tag.annotations or {}).get(OVERRIDE_ANNOTATION) == "true"


def _loading(run: Run, tag: TagReference) -> None:
    """The progress line of an operator's manifests being read."""
    pullspec = tag.from_name
    if _override(tag):
        run.emit(f"info: Loading override {pullspec} {tag.name}")
    else:
        digest = pullspec.rpartition("@")[2] if "@" in pullspec else ""
        run.emit(f"info: Loading {digest} {tag.name}")


def visit(run: Run, tag: TagReference, recorded: Recorded | None = None) -> Visited:
    """Read one component, or take what a recorded resolution found for it (``recorded``): its labels
    as annotations; an operator's ``/manifests`` with the manifest check's verdicts (a recorded
    operator without verdicts has them decided now, when this run checks)."""
    image: ResolvedImage | None = None
    found = recorded
    if found is None:
        image = _read(run, tag.from_name)
        found = Recorded(image.digest, image.list_digest, _read_labels(image.labels))
    annotations = label_annotations(tag, found.labels, tag.from_name)
    if image is not None and image.is_operator:
        _loading(run, tag)
        read = run.operators.read(image, all_layers=_override(tag), ref=tag.from_name)
        found = attrs.evolve(found, operator=RecordedOperator(read, run.operators.verdicts(read.files)))
    elif found.operator is not None:
        _loading(run, tag)
        verdicts = run.operators.recall(found.operator.manifests, found.operator.verdicts)
        if verdicts != found.operator.verdicts:
            found = attrs.evolve(found, operator=attrs.evolve(found.operator, verdicts=verdicts))
    return Visited(tag.name, found, annotations, image)


#: The labels a visit reads (``label_annotations``, the operator label): all a recorded resolution keeps.
READ_LABELS = (*COMMIT_LABELS, VERSIONS_LABEL, DISPLAY_NAMES_LABEL, OPERATOR_LABEL)


def _read_labels(labels: Mapping[str, str]) -> dict[str, str]:
    return {key: labels[key] for key in READ_LABELS if key in labels}


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


def _from_record(run: Run, tags: Sequence[TagReference], recorded: Sequence[Recorded]) -> list[Visited]:
    """The visits a recorded resolution stands for, taken up in the order visits start in (so progress
    lines come as visits report them); the first failure in stream order is raised."""
    visited: dict[int, Visited] = {}
    failed: dict[int, ReleaseError] = {}
    for position in visit_order(tags):
        try:
            visited[position] = visit(run, tags[position], recorded[position])
        except ReleaseError as err:
            failed[position] = err
    if failed:
        raise failed[min(failed)]
    return [visited[position] for position in range(len(tags))]


def _record_key(run: Run, tags: Sequence[TagReference], locations: Sequence[object]) -> str | None:
    """The key of the recorded resolution of ``tags`` (see ``okdrelease.payload.recorded``): None
    without a persistent cache, or when a component is not named by digest in a registry."""
    if run.resolver.store is None:
        return None
    if not all(isinstance(loc, RegistryLocation) and loc.ref.digest for loc in locations):
        return None
    return record_key([(t.from_name, _override(t)) for t in tags], run.resolver.platform)


def resolve_components(stream: ImageStream, run: Run, *, images: bool = False) -> Resolution:
    """Visit every DockerImage tag concurrently; the first failure (in stream order) is raised.

    With components all named by digest and a persistent cache, a resolution recorded by an earlier
    run stands for the visits (``okdrelease.payload.recorded``); ``images``: the images are wanted
    (``Resolution.images``), so they are read.
    """
    tags = [t for t in stream.tags if t.from_kind == "DockerImage"]
    locations = [_require_tag_or_digest(tag.from_name or "") for tag in tags]
    key = None if images else _record_key(run, tags, locations)
    store = run.resolver.store
    pullspecs = [t.from_name for t in tags]
    recorded = read_record(store, key, pullspecs) if store is not None and key is not None else None
    if recorded is not None:
        visited = _from_record(run, tags, recorded)
    else:
        visited = resolve_all(
            tags, lambda tag: visit(run, tag), run.workers, run.from_cache(visit), order=visit_order(tags)
        )
    found = [v.found for v in visited]
    # Recorded when read, or when a record without verdicts had them decided by this run (same key).
    if store is not None and key is not None and found != recorded:
        write_record(store, key, pullspecs, found)
    return _resolution(stream, tags, visited, images=images)


def _resolution(
    stream: ImageStream, tags: Sequence[TagReference], visited: Sequence[Visited], *, images: bool
) -> Resolution:
    annotations = {id(tag): result.annotations for tag, result in zip(tags, visited, strict=True)}
    copies = [tag.copy() for tag in stream.tags]
    for original, tag in zip(stream.tags, copies, strict=True):
        if id(original) in annotations:
            tag.annotations = annotations[id(original)]
    annotated = attrs.evolve(stream, tags=copies)
    # An operator's files and image-references tags come from one component: the last of that name with
    # files (two spec tags of one name in --from-image-stream-file), as the files alone did.
    operators = {v.name: v.found.operator.manifests for v in visited if v.found.operator is not None}
    return Resolution(
        stream=annotated,
        images={v.name: v.image for v in visited if v.image is not None} if images else {},
        operator_files={name: read.files for name, read in operators.items()},
        operators=tuple(v.name for v in visited if v.found.operator is not None),
        digests={v.name: (v.found.digest, v.found.list_digest) for v in visited},
        operator_references={
            n: read.references for n, read in operators.items() if read.references is not None
        },
    )
