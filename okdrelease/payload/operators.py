"""Stages 5 and 6 of ``new``: operator manifests, then pruning and rewriting into the payload tar (§3.10, §3.11)."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import attrs

from okdrelease._repr import value_repr
from okdrelease.errors import OkdReleaseError, ReleaseError
from okdrelease.openshift.imagestream import ImageStream
from okdrelease.openshift.metadata import CincinnatiMetadata
from okdrelease.payload.check import ManifestChecker, check_manifest
from okdrelease.payload.components import Resolution
from okdrelease.payload.context import Reporter
from okdrelease.payload.inputs import Inputs
from okdrelease.payload.plan import Plan
from okdrelease.payload.resolve import IMAGE_REFERENCES, ManifestFile, Reference, load_references
from okdrelease.reference import ImageReference

if TYPE_CHECKING:
    # the gzip writer is loaded once a payload tar is written (assemble_payload), not when ``new`` starts
    from okdrelease.oci.layerwrite import Gzipped

__all__ = [
    "Operators",
    "Payload",
    "assemble_payload",
    "collect_operators",
    "operator_references",
    "operator_transform",
    "pin_tag_digests",
    "prune",
]


@attrs.frozen
class Operators:
    """Each operator's ``/manifests`` files, the operators in payload order and their image-references' tags."""

    __repr__ = value_repr

    files: Mapping[str, tuple[ManifestFile, ...]]
    ordered: tuple[str, ...]
    references: Mapping[str, tuple[Reference, ...]] = attrs.field(factory=dict)


@attrs.frozen
class Payload:
    """The ``release-manifests/`` tar and what went into it."""

    __repr__ = value_repr

    #: The uncompressed tar; None when it was gzipped while written (``gzipped``) and not kept.
    tar: bytes | None = attrs.field(repr=False)
    stream: ImageStream
    metadata: CincinnatiMetadata
    #: Operators whose manifests are in the payload, in payload order.
    operators: tuple[str, ...]
    #: ``stream`` and ``metadata`` as written into the payload (encoded once).
    image_references: bytes = attrs.field(repr=False)
    release_metadata: bytes = attrs.field(repr=False)
    #: ``tar`` gzip-compressed as the payload layer (and its digests), when compressed while written.
    gzipped: Callable[[], Gzipped] | None = attrs.field(default=None, eq=False, repr=False)


def operator_references(
    operator_files: Mapping[str, tuple[ManifestFile, ...]],
    known: Mapping[str, tuple[Reference, ...]] | None = None,
) -> dict[str, tuple[Reference, ...]]:
    """Each operator's own ``image-references`` tags, read once (used by pruning and by rewriting):
    ``known`` ones as they were read with the operator's files, the others loaded now."""
    out: dict[str, tuple[Reference, ...]] = {}
    for name, files in operator_files.items():
        if known is not None and name in known:
            out[name] = known[name]
            continue
        for f in files:
            if f.name == IMAGE_REFERENCES:
                try:
                    out[name] = load_references(f.data)
                except OkdReleaseError as err:  # oc's words (its pruning reads it), after the operator
                    raise ReleaseError(
                        f'operator "{name}" contained an invalid image-references file: '
                        f"unable to load release image-references: {err}"
                    ) from err
    return out


def collect_operators(
    plan: Plan, inputs: Inputs, ordered: tuple[str, ...], resolution: Resolution | None
) -> Operators:
    """The operators' manifests: from ``--from-dir``, else from the resolved operator images."""
    if inputs.dirs is not None:
        files = inputs.dirs
        missing = [n for n in ordered if n not in files]
        if missing:
            raise ReleaseError(f"missing image data {missing[0]}")
    else:
        files = resolution.operator_files if resolution is not None else {}
        ordered = tuple(n for n in ordered if n in files)
    if not plan.options.duplicate_override_manifests:
        ordered = tuple(dict.fromkeys(ordered))
    known = resolution.operator_references if resolution is not None and inputs.dirs is None else None
    return Operators(files=files, ordered=ordered, references=operator_references(files, known))


def pin_tag_digests(stream: ImageStream, resolution: Resolution) -> ImageStream:
    """Q8 fix: a copy of ``stream`` with mapping destinations given by tag written as ``repo@digest``."""
    result = stream.copy()
    for tag in result.tags:
        found = resolution.digests.get(tag.name)
        if found is None or tag.from_kind != "DockerImage" or "@" in tag.from_name:
            continue
        if tag.from_name.startswith("oci:"):
            continue
        ref = ImageReference.parse(tag.from_name)
        digest, list_digest = found
        tag.from_name = ref.with_digest(list_digest or digest).exact()
    return result


def prune(
    stream: ImageStream, operators: Operators, include: tuple[str, ...]
) -> tuple[ImageStream, tuple[str, ...]]:
    """The stream without the tags no operator references (nor --include); and the removed names."""
    referenced: set[str] = set(include) | set(operators.ordered)
    for local in operators.references.values():
        referenced.update(tag for tag, _kind, _source in local)
    removed = tuple(t.name for t in stream.tags if t.name not in referenced)
    kept = attrs.evolve(stream, tags=[t.copy() for t in stream.tags if t.name in referenced])
    return kept, removed


ReleaseTags = list[tuple[str, str, dict[str, str] | None]]


def release_tags(stream: ImageStream) -> ReleaseTags:
    """The release stream's tags as every operator's transform reads them: (name, from.name, annotations)."""
    return [(t.name, t.from_name or "", t.annotations) for t in stream.tags]


def versioned_tags(tags: ReleaseTags) -> ReleaseTags:
    """The ``tags`` whose annotations name component versions (``io.openshift.build.versions``): the only
    release tags an operator's version mapping reads (``mapper.collect_versions`` skips the others),
    picked once per payload instead of once per operator."""
    from okdrelease.payload.mapper import BUILD_VERSIONS_ANNOTATION

    return [tag for tag in tags if tag[2] and BUILD_VERSIONS_ANNOTATION in tag[2]]


def operator_transform(
    name: str,
    local: tuple[Reference, ...] | None,
    stream: ImageStream,
    plan: Plan,
    reporter: Reporter,
    tags: ReleaseTags,
    targets: Mapping[str, str] | None = None,
) -> Callable[[bytes], bytes]:
    """The rewriting function for one operator (spec §3.11.3 / §3.11.4); ``local`` is its image-references' tags,
    ``tags`` the :func:`release_tags` of ``stream`` (or only their :func:`versioned_tags`, all an
    operator's versions are read from) and ``targets`` the ``mapper.release_targets`` of all of them
    (computed once per payload)."""
    from okdrelease.payload.mapper import build_operator_transform, simple_transform

    if local is None:
        return simple_transform(stream.name)
    try:
        return build_operator_transform(
            local,
            tags,
            stream.annotations,
            stream.name,
            plan.options.allow_missing_images,
            lambda message: reporter.warn(f"warning: {message}"),
            targets,
        )
    except OkdReleaseError as err:
        raise ReleaseError(f'operator "{name}" contained an invalid image-references file: {err}') from err


def _skipping(
    transform: Callable[[bytes], bytes], untouched: Mapping[int, bytes]
) -> Callable[[bytes], bytes]:
    """``transform``, except for the ``untouched`` contents (by id, held), returned as they are."""

    def rewrite(data: bytes) -> bytes:
        return data if untouched.get(id(data)) is data else transform(data)

    return rewrite


def assemble_payload(
    stream: ImageStream,
    metadata: CincinnatiMetadata,
    operators: Operators,
    plan: Plan,
    reporter: Reporter,
    checker: ManifestChecker | None = None,
    *,
    compress: bool = False,
) -> Payload:
    """Build the uncompressed ``release-manifests/`` tar, each operator's manifests rewritten.

    ``checker`` holds the manifest-check verdicts found while fetching (None: each file checked here);
    ``compress``: gzip the tar for the payload layer on a thread while it is written
    (``Payload.gzipped``), holding only a few blocks of it at a time: ``Payload.tar`` is then None.
    """
    from okdrelease.oci.layerwrite import BackgroundGzip
    from okdrelease.payload.assemble import FilesByOperator, write_payload_tar
    from okdrelease.payload.mapper import release_targets

    transforms: dict[str, Callable[[bytes], bytes]] = {}
    tags = release_tags(stream)
    targets = release_targets(tags)
    tags = versioned_tags(tags)

    def transform_for(name: str) -> Callable[[bytes], bytes]:
        if name not in transforms:
            transform = operator_transform(
                name, operators.references.get(name), stream, plan, reporter, tags, targets
            )
            # The operator's files its transforms return as they are (``ManifestFile.untouched``, decided
            # with its own image-references) are not rewritten.
            untouched = {id(f.data): f.data for f in operators.files.get(name, ()) if f.untouched}
            transforms[name] = _skipping(transform, untouched) if untouched else transform
        return transforms[name]

    files = FilesByOperator(
        {name: [(f.name, f.data, f.mtime) for f in operators.files[name]] for name in operators.files}
    )
    image_references, release_metadata = stream.to_json(), metadata.to_json()
    # The gzip is finished on success, its thread stopped on an error.
    with BackgroundGzip() if compress else contextlib.nullcontext(io.BytesIO()) as buf:
        try:
            contributed = write_payload_tar(
                buf,  # type: ignore[arg-type]  # BackgroundGzip is a write-only binary stream
                files,
                sorted(operators.ordered),
                transform_for,
                image_references,
                release_metadata,
                skip_manifest_check=plan.options.skip_manifest_check,
                check=checker.check if checker is not None else check_manifest,
            )
        except OkdReleaseError as err:
            raise ReleaseError(f"unable to create a release: {err}") from err
    tar, gzipped = (None, buf.gzipped) if isinstance(buf, BackgroundGzip) else (buf.getvalue(), None)
    return Payload(tar, stream, metadata, tuple(contributed), image_references, release_metadata, gzipped)
