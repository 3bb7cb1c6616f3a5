"""Which image a signing or verifying command names, and under which identity it is signed."""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from okdrelease.errors import UsageError
from okdrelease.reference import (
    ImageLocation,
    ImageReference,
    LayoutLocation,
    RegistryLocation,
    parse_location,
)
from okdrelease.transport.base import Repository, TransportOptions

if TYPE_CHECKING:
    from okdrelease.sign.policy import PolicyVerdict  # loaded by check_image_policy: only --policy reads one


def signed_reference(
    location: ImageLocation, identity: str | None, *, need_identity: bool = True
) -> ImageReference:
    """The ``REPO@DIGEST`` to sign or verify: the image's own repository unless ``identity`` names another.

    An OCI layout has no repository, so it needs ``identity`` (a placeholder when none is needed).
    """
    if isinstance(location, LayoutLocation):
        if not identity and need_identity:
            raise UsageError(
                f"{location}: an OCI layout needs --identity REPO for the signed docker-reference"
            )
        ref = attrs.evolve(
            ImageReference.parse(identity or "oci-layout").repository_only(), digest=location.digest
        )
    else:
        ref = location.ref
        if identity:
            ref = attrs.evolve(ImageReference.parse(identity).repository_only(), digest=location.ref.digest)
    if not ref.digest:
        raise UsageError(f"{location} must name the image by digest (IMAGE@sha256:HEX)")
    return ref


def open_signed_image(
    text: str, identity: str | None, options: TransportOptions, *, need_identity: bool = True
) -> tuple[Repository, ImageReference]:
    """Open the repository of ``IMAGE@DIGEST`` or ``oci:DIR@DIGEST``; return it and the signed reference."""
    from okdrelease.transport.open import open_location

    location = parse_location(text)
    ref = signed_reference(location, identity, need_identity=need_identity)
    repository, _ = open_location(location, options)
    return repository, ref


def check_image_policy(
    policy_path: str,
    image: str,
    options: TransportOptions,
    *,
    registries_d: str | None = None,
) -> PolicyVerdict:
    """Read the image's manifest from its registry and require ``policy_path`` to allow it.

    Signatures are read as containers/image reads them (registries.d lookaside, ``.sig``
    attachments when enabled); raises PolicyRejectedError naming the image and the reason.
    """
    from okdrelease.sign.policy import PolicyChecker
    from okdrelease.transport.open import open_location

    checker = PolicyChecker.load(policy_path, registries_d, options)
    location = parse_location(image)
    if not isinstance(location, RegistryLocation):
        raise UsageError(f"{image}: a policy is checked for registry images (docker://), not {location}")
    repository, _ = open_location(location, options)
    manifest = repository.get_manifest(location.ref.reference)
    ref = location.ref if location.ref.tag or location.ref.digest else location.ref.with_tag("latest")
    return checker.require(ref, manifest.digest, repository)
