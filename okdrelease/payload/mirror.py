"""``new --mirror REPO``: copy every component image to one repository and point the release there (§3.8)."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from okdrelease.errors import OkdReleaseError, ReleaseError
from okdrelease.reference import ImageReference, parse_location


def mirror_release_images(
    stream: Any,
    resolution: Any,
    options: Any,
    transport: Any,
    release_name: str,
    emit: Callable[[str], None],
    *,
    dry_run: bool,
) -> list[str]:
    """Mirror the stream's DockerImage tags to ``options.mirror`` and rewrite their pull specs.

    Returns lines for stdout (none: oc's mirror report goes to stderr here, Q9 fixed).
    """
    from okdrelease.transport.copy import copy_image

    target_text = options.mirror or ""
    try:
        target = ImageReference.parse(target_text)
    except OkdReleaseError as err:
        raise ReleaseError(f"--mirror was not a valid repository: {err}") from err
    if target.tag or target.digest:
        raise ReleaseError("--to must be to an image repository and may not contain a tag or digest")
    plan: list[tuple[Any, ImageReference, str]] = []
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
    if not plan:
        emit("warning: Release image contains no image references - is this a valid release?")
        return []
    emit(f"info: Mirroring {len(plan)} images to {target_text} ...")
    dest, _ = transport.open(parse_location(target_text), create=True)

    def one(item: tuple[Any, ImageReference, str]) -> str:
        tag, ref, dest_tag = item
        assert ref.digest is not None
        if dry_run:
            return ref.digest
        source, _ = transport.open(parse_location(str(ref)))
        return str(copy_image(source, ref.digest, dest, dest_tag))

    with ThreadPoolExecutor(max_workers=max(1, transport.options.max_per_registry)) as pool:
        digests = list(pool.map(one, plan))
    for (tag, _ref, dest_tag), digest in zip(plan, digests, strict=True):
        emit(f"info: mirrored {digest} -> {target.name}:{dest_tag}")
        tag.from_name = f"{target.name}@{digest}"
    emit(f"info: Update image:  {target.name}:{release_name}")
    emit(f"info: Mirror prefix: {target.name}")
    return []
