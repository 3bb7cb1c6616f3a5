"""``new --verify-components``: every resolved component image checked against a containers-policy.json.

A stage of its own, run after the components are resolved and before anything is written or
pushed (the work directory, ``--mirror`` copies, the release image): one component the policy
refuses stops the run, naming the component, the image and the policy's reason.

The image checked is the one the release will reference: ``REPOSITORY@DIGEST``, the digest being
that of the manifest (or manifest list) the component's pull spec names, as containers/image checks
a pull of it. Under the default ``signedIdentity`` (``matchRepoDigestOrExact``) a pull by digest
accepts a signature naming any tag or digest of the same repository, provided the signed digest is
the image's. Signatures are read where containers/image reads them: the registries.d lookaside and,
when registries.d enables ``use-sigstore-attachments``, the component's ``.sig`` tag.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from okdrelease._repr import value_repr
from okdrelease.errors import ReleaseError, SignatureError
from okdrelease.images.resolve import ResolvedImage, resolve_all
from okdrelease.openshift.imagestream import TagReference
from okdrelease.payload.components import Resolution
from okdrelease.payload.context import Run
from okdrelease.payload.plan import NewOptions
from okdrelease.reference import RegistryLocation, parse_location

if TYPE_CHECKING:
    from okdrelease.sign.policy import PolicyChecker, PolicyVerdict
    from okdrelease.transport.base import TransportOptions

__all__ = ["ComponentRejectedError", "VerifiedComponents", "load_component_policy", "verify_components"]


class ComponentRejectedError(ReleaseError):
    """A component image the policy refuses; ``verdict`` names the image and the reason."""

    def __init__(self, component: str, verdict: PolicyVerdict) -> None:
        super().__init__(
            f'component "{component}" refused: {verdict.image}: rejected by policy {verdict.scope}: '
            f"{verdict.reason}"
        )
        self.component = component
        self.verdict = verdict


@attrs.frozen
class VerifiedComponents:
    """The verdicts of every component image, in stream order (all allowed)."""

    __repr__ = value_repr

    policy: str
    verdicts: tuple[PolicyVerdict, ...]


def load_component_policy(options: NewOptions, transport: TransportOptions) -> PolicyChecker | None:
    """Read --verify-components and --registries.d before any other work (None when not verifying).

    HTTP(S) lookasides and stores the policy reads are read with ``transport``, the run's options
    (its CA, insecure registries, proxies and timeout), as ``verify --policy`` reads them.
    """
    if not options.verify_components:
        return None
    from okdrelease.sign.policy import PolicyChecker

    return PolicyChecker.load(options.verify_components, options.registries_d, transport)


def _check(checker: PolicyChecker, tag: TagReference, image: ResolvedImage) -> PolicyVerdict:
    from okdrelease.sign.policy import PolicyRejectedError

    pullspec = tag.from_name or ""
    location = parse_location(pullspec)
    if not isinstance(location, RegistryLocation):
        raise ReleaseError(
            f'--verify-components: component "{tag.name}" ({pullspec}) is not a registry image; '
            "a containers policy is checked for docker:// images (name layout content with --layout-repository)"
        )
    digest = image.list_digest or image.digest
    try:
        return checker.require(f"{location.ref.name}@{digest}", digest, image.repository)
    except PolicyRejectedError as err:
        raise ComponentRejectedError(tag.name, err.verdict) from err
    except SignatureError as err:
        raise ReleaseError(f'verifying component "{tag.name}" ({pullspec}): {err}') from err


def verify_components(
    checker: PolicyChecker, policy: str, resolution: Resolution, run: Run
) -> VerifiedComponents:
    """Check every resolved component image; the first refusal (in stream order) is raised."""
    # resolve_components reads every DockerImage tag: each has its image.
    pairs = [
        (tag, resolution.images[tag.name]) for tag in resolution.stream.tags if tag.from_kind == "DockerImage"
    ]
    verdicts = resolve_all(pairs, lambda pair: _check(checker, *pair), run.workers)
    run.emit(f"info: Verified {len(verdicts)} component images against the policy {policy}")
    return VerifiedComponents(policy, tuple(verdicts))
