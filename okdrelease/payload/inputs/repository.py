"""Input ``--from-repository REPO``: every tag of a registry repository (or ref name of a layout) is a component.

The registry-only stand-in for an ImageStream: each tag names a component and is pinned to the
digest it points at when the release is built. Tags cosign writes beside images
(``sha256-<hex>.sig``/``.att``/``.sbom``) are not images of the release and are skipped.
"""

from __future__ import annotations

import re

from okdrelease.errors import OkdReleaseError, ReleaseError, UsageError
from okdrelease.openshift.imagestream import ImageStream, TagReference
from okdrelease.payload.context import Run
from okdrelease.payload.inputs.base import Inputs
from okdrelease.payload.plan import Plan
from okdrelease.reference import ImageLocation, LayoutLocation, RegistryLocation, parse_location
from okdrelease.workers import worker_pool

#: Tags cosign (and tools like it) store next to an image: signatures, attestations, SBOMs.
ARTIFACT_TAG = re.compile(r"^sha256-[0-9a-f]{64}\.(sig|att|sbom)$")


def repository_location(text: str) -> ImageLocation:
    """``REPO`` (registry, no tag or digest) or ``oci:DIR``; UsageError otherwise."""
    try:
        location = parse_location(text)
    except OkdReleaseError as err:
        raise UsageError(f"--from-repository must be a repository or oci:DIR: {err}") from err
    if isinstance(location, RegistryLocation) and (location.ref.tag or location.ref.digest):
        raise UsageError(f"--from-repository must name a repository without tag or digest, got {text!r}")
    if isinstance(location, LayoutLocation) and (location.refname or location.digest):
        raise UsageError(f"--from-repository must name a whole OCI layout (oci:DIR), got {text!r}")
    return location


def pull_prefix(location: ImageLocation) -> str:
    """What a component's pull spec starts with: ``host/repo`` or ``oci:DIR``."""
    if isinstance(location, RegistryLocation):
        return location.ref.name
    return f"oci:{location.path}"


def read(plan: Plan, run: Run) -> Inputs:
    """List the tags (all pages), resolve each to its digest in parallel, name each ``REPO@digest``."""
    text = plan.options.from_repository or ""
    location = repository_location(text)
    repository, _ = run.transport.open(location)
    names = [t for t in repository.list_tags() if not ARTIFACT_TAG.match(t) and t not in plan.exclude]
    if not names:
        raise ReleaseError(f"{text} has no tags to build a release from")
    with worker_pool(min(run.workers, len(names))) as pool:
        digests = list(pool.map(lambda tag: repository.resolve(tag).digest, names))
    prefix = pull_prefix(location)
    tags = [
        TagReference.docker_image(name, f"{prefix}@{digest}")
        for name, digest in zip(names, digests, strict=True)
    ]
    run.emit(f"info: Found {len(tags)} images in repository {text}")
    return Inputs(stream=ImageStream(name="", annotations={}, tags=tags), ordered=tuple(t.name for t in tags))
