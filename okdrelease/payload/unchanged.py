"""``new --skip-if-unchanged RELEASE``: build only when a component digest differs from an existing release's.

The release controller builds a release when its image stream changes; a pipeline run on a timer does the
same with this stage. The existing release's ``image-references`` is read through the neutral
``okdrelease/openshift`` model and the run's transport (``payload/`` does not import ``release/``), and its
tag → digest map is compared with the one of the release about to be built, after resolution, pruning,
mirroring and pinning.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from okdrelease._repr import value_repr
from okdrelease.errors import DigestMismatchError, NotFoundError, OkdReleaseError, ReleaseError
from okdrelease.openshift.imagestream import ImageStream
from okdrelease.payload.context import Run
from okdrelease.payload.inputs.base import load_checked_stream
from okdrelease.payload.inputs.release import read_release_files
from okdrelease.payload.resolve import describe_registry_error, tampered
from okdrelease.reference import ImageReference, parse_location

__all__ = ["ExistingRelease", "component_digests", "read_existing_release", "unchanged_since"]


@attrs.frozen
class ExistingRelease:
    """The release ``--skip-if-unchanged`` compares with: where it is, its digest, name, time and components."""

    __repr__ = value_repr

    pullspec: str
    digest: str
    name: str
    created: str
    #: tag name → component digest (None: the tag's pull spec names no digest).
    digests: Mapping[str, str | None]

    @property
    def result_line(self) -> str:
        """The line ``new`` prints for a pushed release (digest, name, creation time), for this release."""
        return f"{self.digest} {self.name} {self.created}"


def _digest_of(pullspec: str) -> str | None:
    try:
        return ImageReference.parse(pullspec).digest or None
    except OkdReleaseError:
        return None


def component_digests(
    stream: ImageStream, resolved: Mapping[str, str] | None = None
) -> dict[str, str | None]:
    """Tag name → the digest its pull spec names, else the digest it resolved to (``resolved``), else None."""
    found: dict[str, str | None] = {}
    for tag in stream.tags:
        digest = _digest_of(tag.from_name) if tag.from_kind == "DockerImage" else None
        found[tag.name] = digest or (resolved or {}).get(tag.name)
    return found


def read_existing_release(pullspec: str, run: Run) -> ExistingRelease | None:
    """Read the release at ``pullspec`` (a registry reference or ``oci:DIR:REF``); None when it does not exist."""
    try:
        location = parse_location(pullspec)
    except OkdReleaseError as err:
        raise ReleaseError(f"--skip-if-unchanged was not a valid pullspec: {err}") from err
    try:
        repo, reference = run.transport.open(location)
        resolved = run.resolver.resolve(repo, reference or "latest")
    except NotFoundError:
        run.emit(f"info: No release at {pullspec} yet, building")
        return None
    except DigestMismatchError as err:
        raise ReleaseError(tampered("the --skip-if-unchanged release image", pullspec, err)) from err
    except OkdReleaseError as err:
        raise ReleaseError(f"--skip-if-unchanged: {describe_registry_error(pullspec, err)}") from err
    refs = read_release_files(resolved, ("image-references",)).get("image-references")
    if refs is None:
        raise ReleaseError(
            f"--skip-if-unchanged: {pullspec} is not a release image: it has no image-references"
        )
    stream = load_checked_stream(
        refs,
        load_error=f"--skip-if-unchanged: unable to load image-references of {pullspec}: {{err}}",
        kind_error=f"--skip-if-unchanged: unable to load image-references of {pullspec}: "
        "unrecognized image-references in release payload",
    )
    return ExistingRelease(
        pullspec=pullspec,
        digest=resolved.list_digest or resolved.digest,
        name=stream.name,
        created=stream.creation_timestamp or "",
        digests=component_digests(stream),
    )


def unchanged_since(existing: ExistingRelease, digests: Mapping[str, str | None]) -> str | None:
    """Why the new components differ from ``existing``'s (None: they are the same tags at the same digests)."""
    added = sorted(set(digests) - set(existing.digests))
    removed = sorted(set(existing.digests) - set(digests))
    if added or removed:
        parts = ([f"added {', '.join(added)}"] if added else []) + (
            [f"removed {', '.join(removed)}"] if removed else []
        )
        return "; ".join(parts)
    changed = sorted(
        name for name, digest in digests.items() if digest is None or existing.digests[name] != digest
    )
    if changed:
        return f"changed {', '.join(changed)}"
    return None
