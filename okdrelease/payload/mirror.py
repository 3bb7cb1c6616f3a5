"""``new --mirror REPO``: copy every component image to one repository and point the release there (§3.8)."""

from __future__ import annotations

import copy
import re

from okdrelease.errors import OkdReleaseError, ReleaseError
from okdrelease.openshift.imagestream import ImageStream, TagReference
from okdrelease.payload.context import Run
from okdrelease.payload.resolve import resolve_all
from okdrelease.reference import ImageReference, parse_location


def _mirror_plan(stream: ImageStream, release_name: str) -> list[tuple[TagReference, ImageReference, str]]:
    plan: list[tuple[TagReference, ImageReference, str]] = []
    for tag in stream.tags:
        if tag.from_kind != "DockerImage":
            continue
        try:
            ref = ImageReference.parse(tag.from_name)
        except OkdReleaseError as err:
            raise ReleaseError(f'release tag "{tag.name}" is not valid: {err}') from err
        if not ref.digest or ref.tag:
            raise ReleaseError(
                f"image-references should only contain pointers to images by digest: {tag.from_name}"
            )
        plan.append((tag, ref, f"{release_name}-{tag.name}"))
    return plan


_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")


def _check_tags(
    plan: list[tuple[TagReference, ImageReference, str]], target: ImageReference, run: Run
) -> None:
    """Refuse destination tags a registry cannot hold (a release name with ``+build``), as oc reports them."""
    bad = [dest_tag for _tag, _ref, dest_tag in plan if not _TAG.fullmatch(dest_tag)]
    for dest_tag in bad:
        run.emit(f"error: unable to push manifest to {target.name}:{dest_tag}: invalid tag format")
    if bad:
        raise ReleaseError("one or more errors occurred while uploading images")


def mirror_release_images(
    stream: ImageStream, mirror: str, run: Run, release_name: str, *, dry_run: bool
) -> ImageStream:
    """Mirror the stream's DockerImage tags to ``mirror``; return the stream pointing there.

    oc's mirror report goes to stderr (progress) here, not stdout (Q9 fixed).
    """
    from okdrelease.transport.copy import copy_image

    try:
        target = ImageReference.parse(mirror)
    except OkdReleaseError as err:
        raise ReleaseError(f"--mirror was not a valid repository: {err}") from err
    if target.tag or target.digest:
        raise ReleaseError("--to must be to an image repository and may not contain a tag or digest")
    result = copy.deepcopy(stream)
    plan = _mirror_plan(result, release_name)
    if not plan:
        run.emit("warning: Release image contains no image references - is this a valid release?")
        return result
    run.emit(f"info: Mirroring {len(plan)} images to {mirror} ...")
    if not dry_run:
        _check_tags(plan, target, run)
    dest, _ = run.transport.open(parse_location(mirror), create=True)

    def one(item: tuple[TagReference, ImageReference, str]) -> str:
        _tag, ref, dest_tag = item
        assert ref.digest is not None
        if dry_run:
            return ref.digest
        source, _ = run.transport.open(parse_location(str(ref)))
        return str(copy_image(source, ref.digest, dest, dest_tag))

    # The first failed copy cancels the copies not yet started.
    digests = resolve_all(plan, one, run.transport.options.max_per_registry)
    for (tag, _ref, dest_tag), digest in zip(plan, digests, strict=True):
        run.emit(f"info: mirrored {digest} -> {target.name}:{dest_tag}")
        tag.from_name = f"{target.name}@{digest}"
    run.emit(f"info: Update image:  {target.name}:{release_name}")
    run.emit(f"info: Mirror prefix: {target.name}")
    return result
