"""``new --mirror REPO``: copy every component image to one repository and point the release there (§3.8)."""

from __future__ import annotations

import re

from okdrelease.errors import OkdReleaseError, ReleaseError
from okdrelease.images.resolve import resolve_all
from okdrelease.openshift.imagestream import ImageStream, TagReference
from okdrelease.openshift.mirrortarget import MirrorTarget
from okdrelease.payload.context import Run
from okdrelease.reference import ImageReference, RegistryLocation, parse_location

#: (the stream's tag, its source by digest, the destination tag)
_Copy = tuple[TagReference, ImageReference, str]


def mirror_target(text: str) -> MirrorTarget:
    """``--mirror REPO`` checked as oc checks it (its messages name ``--to``): a registry repository,
    or a ``${component}``/``${version}`` template in its tag (§3.8 step 3)."""
    try:
        target = MirrorTarget.parse(text, "--to")
    except OkdReleaseError as err:
        raise ReleaseError(str(err)) from err
    if not isinstance(parse_location(target.repository), RegistryLocation):
        raise ReleaseError(f"--mirror must be a registry repository, not {text}")
    return target


def _mirror_plan(stream: ImageStream, target: MirrorTarget, release_name: str) -> list[_Copy]:
    plan: list[_Copy] = []
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
        plan.append((tag, ref, target.tag(tag.name, release_name)))
    return plan


_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")


def _check_tags(dest_tags: list[str], repository: str, run: Run) -> None:
    """Refuse destination tags a registry cannot hold (a release name with ``+build``), as oc reports them."""
    bad = [dest_tag for dest_tag in dest_tags if not _TAG.fullmatch(dest_tag)]
    for dest_tag in bad:
        run.emit(f"error: unable to push manifest to {repository}:{dest_tag}: invalid tag format")
    if bad:
        raise ReleaseError("one or more errors occurred while uploading images")


def mirror_release_images(
    stream: ImageStream,
    mirror: str,
    run: Run,
    release_name: str,
    *,
    dry_run: bool,
    unpruned: ImageStream | None = None,
) -> ImageStream:
    """Mirror the stream's DockerImage tags to ``mirror``; return the stream pointing there.

    Tags are ``NAME-COMPONENT`` in the repository, or the template's tag with ``${component}`` and
    ``${version}`` (the release name) substituted; every tag then points at ``REPOSITORY@DIGEST``.
    oc's mirror report goes to stderr (progress) here, not stdout (Q9 fixed). ``stream`` is the
    release's, pruned of what no operator references (not copied: PERF P11); the destination tags
    that cannot be tags are reported for every image of ``unpruned`` (the input's), as oc, which
    mirrors before it prunes, reports them.
    """
    from okdrelease.transport.copy import copy_image

    target = mirror_target(mirror)
    repository = target.repository
    result = stream.copy()
    plan = _mirror_plan(result, target, release_name)
    if not plan:
        run.emit("warning: Release image contains no image references - is this a valid release?")
        return result
    run.emit(f"info: Mirroring {len(plan)} images to {mirror} ...")
    if not dry_run:
        every = stream if unpruned is None else unpruned
        names = [tag.name for tag in every.tags if tag.from_kind == "DockerImage"]
        _check_tags([target.tag(name, release_name) for name in names], repository, run)
    dest, _ = run.transport.open(parse_location(repository), create=True)

    def one(item: _Copy) -> str:
        _tag, ref, dest_tag = item
        assert ref.digest is not None
        if dry_run:
            return ref.digest
        source, _ = run.transport.open(parse_location(str(ref)))
        return str(
            copy_image(
                source,
                ref.digest,
                dest,
                dest_tag,
                resolver=run.resolver,
                policy=run.transport.options.retry_policy,
            )
        )

    # The first failed copy cancels the copies not yet started.
    digests = resolve_all(plan, one, run.transport.options.max_per_registry)
    if dry_run:
        run.emit("info: Dry run complete")  # oc's mirror says so once its plan is printed
    for (tag, _ref, dest_tag), digest in zip(plan, digests, strict=True):
        run.emit(f"info: mirrored {digest} -> {repository}:{dest_tag}")
        tag.from_name = f"{repository}@{digest}"
    run.emit(f"info: Update image:  {repository}:{target.tag('', release_name)}")
    if target.template:
        run.emit(f"info: Mirrored to: {mirror}")
    else:
        run.emit(f"info: Mirror prefix: {repository}")
    return result
