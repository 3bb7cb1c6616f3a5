"""Input ``--from-release``: the release's image-references and release-metadata (spec §3.3.1)."""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from okdrelease.errors import DigestMismatchError, OkdReleaseError, ReleaseError
from okdrelease.gocompat.goconfig import check_config
from okdrelease.images.resolve import ResolvedImage
from okdrelease.openshift.imagestream import ImageStream
from okdrelease.openshift.labels import BASE_DIGEST_LABEL
from okdrelease.openshift.metadata import load_release_metadata
from okdrelease.payload.context import Run
from okdrelease.payload.image import SourceLayer
from okdrelease.payload.inputs.base import Inputs, load_checked_stream
from okdrelease.payload.plan import Plan
from okdrelease.payload.resolve import describe_registry_error, tampered
from okdrelease.reference import ImageReference, RegistryLocation, parse_location
from okdrelease.transport.base import BlobOpener

QUIRK_Q7_WARNING = (
    "warning: no image in the release matches its base image digest; the input release is the "
    "base, so its old release-manifests layer stays underneath the new one (oc quirk Q7)"
)


def read_release_files(image: ResolvedImage, names: Sequence[str]) -> dict[str, bytes]:
    """Read ``release-manifests/<name>`` files of a release image, top layer first."""
    from okdrelease.oci.layerstack import read_top_down

    repo = image.repository
    openers = [BlobOpener(repo, d.digest, d.size) for d in image.manifest.layers]
    found = read_top_down(openers, "release-manifests/", set(names))
    return {name: entry.data for name, entry in found.items()}


def _resolve(plan: Plan, run: Run) -> tuple[ResolvedImage, RegistryLocation | None]:
    """The input release, its config decoded as oc decodes it (``goconfig.check_config``: a history time or
    field Go refuses fails here, in oc's words, before anything is built)."""
    text = plan.options.from_release or ""
    try:
        location = parse_location(text)
    except OkdReleaseError as err:
        raise ReleaseError(f"--from-release was not a valid pullspec: {err}") from err
    repo, reference = run.transport.open(location)
    try:
        resolved = run.resolver.resolve(repo, reference or "latest")
    except DigestMismatchError as err:
        raise ReleaseError(tampered("the input release image", text, err)) from err
    except OkdReleaseError as err:
        raise ReleaseError(describe_registry_error(text, err)) from err
    check_config(resolved.config, text)
    return resolved, location if isinstance(location, RegistryLocation) else None


def _load(resolved: ResolvedImage, plan: Plan) -> Inputs:
    files = read_release_files(resolved, ("image-references", "release-metadata"))
    refs = files.get("image-references")
    if refs is None:
        raise ReleaseError("release image did not contain any image-references content")
    stream = load_checked_stream(
        refs,
        load_error="unable to load image-references from release contents: "
        "unable to load release image-references: {err}",
        kind_error="unable to load image-references from release contents: "
        "unrecognized image-references in release payload",
    )
    try:
        metadata = load_release_metadata(files.get("release-metadata", b""))
    except OkdReleaseError as err:
        raise ReleaseError(f"unable to load release-metadata from release contents: {err}") from err
    kept = [t for t in stream.tags if t.name not in plan.exclude]
    return Inputs(
        stream=attrs.evolve(stream, tags=kept),
        ordered=tuple(t.name for t in kept),
        inherited_name=stream.name,
        inherited_metadata=metadata.metadata,
        inherited_previous=tuple(metadata.previous or ()),
        inherited_next=tuple(metadata.next or ()),
        # A release index rebuilt with --keep-manifest-list reproduces the index, not its entry (Q36).
        from_release_digest=(plan.options.keep_manifest_list and resolved.list_digest) or resolved.digest,
        canonical_created=stream.creation_timestamp,
        source_layer=_top_layer(resolved),
    )


def _top_layer(resolved: ResolvedImage) -> SourceLayer | None:
    """The release's payload layer (its last layer and last diff ID), if it has one."""
    layers, diff_ids = resolved.manifest.layers, resolved.config.diff_ids
    if not layers or len(diff_ids) != len(layers):
        return None
    return SourceLayer(resolved.repository, layers[-1], diff_ids[-1])


def _base_tag(stream: ImageStream, base_digest: str) -> str | None:
    """The pull spec of the tag whose digest is the release's base image digest."""
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
            return tag.from_name
    return None


def _base_list_tag(stream: ImageStream, base_digest: str, base_tag: str, run: Run) -> str | None:
    """Q7 fixed for a multi-arch release: the base tag's image when it is a list with an entry ``base_digest``.

    An entry of a release index records its own architecture's base image digest, which no tag
    names (the tags name the lists); the base tag's list holding that entry is the base.
    """
    from okdrelease.images.resolve import open_pullspec
    from okdrelease.oci.model import Index

    spec = next(
        (t.from_name for t in stream.tags if t.name == base_tag and t.from_kind == "DockerImage"), None
    )
    if not spec:
        return None
    try:
        repo, reference = open_pullspec(run.transport, spec)
        top = run.resolver.manifest(repo, reference)
    except OkdReleaseError:
        return None  # not readable here: oc's fallback (and its warning) applies
    if isinstance(top, Index) and any(d.digest == base_digest for d in top.manifests):
        return spec
    return None


def _with_base(inputs: Inputs, resolved: ResolvedImage, plan: Plan, run: Run) -> Inputs:
    """Find the base image among the release's tags (or fall back to the release itself, Q7)."""
    base_digest = resolved.labels.get(BASE_DIGEST_LABEL, "")
    if plan.options.to_image_base or not base_digest or inputs.stream is None:
        return inputs
    found = _base_tag(inputs.stream, base_digest)
    if found is not None:
        return attrs.evolve(inputs, to_image_base=found)
    if not plan.options.keep_manifest_list:
        raise ReleaseError(
            "unable to find an image within the release that matches the base image manifest "
            f'"{base_digest}", please specify --to-image-base'
        )
    listed = _base_list_tag(inputs.stream, base_digest, plan.options.to_image_base_tag, run)
    if listed is not None:
        return attrs.evolve(inputs, to_image_base=listed)
    run.emit(QUIRK_Q7_WARNING)
    return attrs.evolve(inputs, to_image_base=plan.options.from_release, base_from_release=True)


def read(plan: Plan, run: Run) -> Inputs:
    """Read the input release: its tags, metadata and base image."""
    resolved, location = _resolve(plan, run)
    inputs = _with_base(_load(resolved, plan), resolved, plan, run)
    count = len(inputs.ordered)
    if plan.overridden or inputs.base_from_release:
        run.emit(f"info: Found {count} images in release")
    elif location is not None and location.ref.tag and not location.ref.digest:
        run.emit(f"info: Release {resolved.digest} built from {count} images")
    else:
        run.emit(f"info: Release built from {count} images")
    return inputs
