"""Image references, parsed once at the edge into typed values.

``ImageReference`` follows Docker's reference grammar (``registry/namespace/repo:tag@digest``).
It keeps the text as written (``registry`` may be empty) so that oc's ``Exact()`` form can be
reproduced, and offers Docker's defaults (``docker.io``, ``library/``) for connecting.
``parse_location`` adds the transports ``docker://REF`` and ``oci:DIR[:REFNAME]``.
"""

from __future__ import annotations

import re

import attrs

from okdrelease.errors import InvalidReferenceError, ReleaseError
from okdrelease.oci.digest import validate_digest

DEFAULT_DOMAIN = "docker.io"
DOCKER_API_HOST = "registry-1.docker.io"
_DOCKER_HUB_NAMES = (DEFAULT_DOMAIN, "index.docker.io")

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*"
_PATH_RE = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
_DOMAIN_RE = re.compile(
    r"^(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
    r"(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?$"
)
_TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_IDENTIFIER_RE = re.compile(r"^[a-f0-9]{64}$")
NAME_TOTAL_LENGTH_MAX = 255


def validate_tag(tag: str) -> str:
    """Return ``tag`` if it is a valid registry tag; raise InvalidReferenceError quoting it otherwise."""
    if not _TAG_RE.match(tag):
        raise InvalidReferenceError(f"invalid tag {tag!r}")
    return tag


def _looks_like_registry(component: str) -> bool:
    """Docker's rule: a first component with ``.``, ``:``, ``localhost`` or an upper-case letter is a registry."""
    return (
        "." in component
        or ":" in component
        or component == "localhost"
        or component.startswith("[")
        or component != component.lower()
    )


@attrs.frozen
class ImageReference:
    """A parsed image reference. ``registry`` is empty when the text named none."""

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @classmethod
    def parse(cls, text: str) -> ImageReference:
        """Parse ``text``; raise InvalidReferenceError quoting it when it is not a reference."""
        original = text
        if not text or text != text.strip():
            raise InvalidReferenceError(f"invalid image reference {original!r}")
        if _IDENTIFIER_RE.match(text):
            raise InvalidReferenceError(
                f"invalid image reference {original!r}: cannot specify 64-byte hexadecimal strings"
            )
        digest: str | None = None
        if "@" in text:
            text, _, digest = text.partition("@")
            try:
                validate_digest(digest)
            except InvalidReferenceError as err:
                raise InvalidReferenceError(f"invalid image reference {original!r}: {err}") from err
        tag: str | None = None
        last = text.rfind("/")
        colon = text.rfind(":")
        if colon > last:
            text, tag = text[:colon], text[colon + 1 :]
            if not _TAG_RE.match(tag):
                raise InvalidReferenceError(f"invalid image reference {original!r}: invalid tag {tag!r}")
        first, sep, rest = text.partition("/")
        if sep and _looks_like_registry(first):
            registry, path = first, rest
            if not _DOMAIN_RE.match(registry):
                raise InvalidReferenceError(
                    f"invalid image reference {original!r}: invalid registry {registry!r}"
                )
        else:
            registry, path = "", text
        if not path or not _PATH_RE.match(path):
            raise InvalidReferenceError(
                f"invalid image reference {original!r}: repository name must be lowercase alphanumeric components"
            )
        parsed = cls(registry=registry, repository=path, tag=tag, digest=digest)
        if len(parsed.domain) + 1 + len(parsed.path) > NAME_TOTAL_LENGTH_MAX:
            raise InvalidReferenceError(
                f"invalid image reference {original!r}: repository name must not be more than"
                f" {NAME_TOTAL_LENGTH_MAX} characters"
            )
        return parsed

    @property
    def domain(self) -> str:
        """The registry to connect to, with Docker's default applied."""
        return self.registry or DEFAULT_DOMAIN

    @property
    def path(self) -> str:
        """The repository path on the registry, with ``library/`` added for Docker Hub."""
        if self.domain in _DOCKER_HUB_NAMES and "/" not in self.repository:
            return f"library/{self.repository}"
        return self.repository

    @property
    def api_host(self) -> str:
        """The host:port serving the registry API (Docker Hub's is registry-1.docker.io)."""
        return DOCKER_API_HOST if self.domain in _DOCKER_HUB_NAMES else self.domain

    @property
    def name(self) -> str:
        """``registry/repository`` as written (no tag or digest)."""
        return f"{self.registry}/{self.repository}" if self.registry else self.repository

    @property
    def reference(self) -> str:
        """What to ask the registry for: the digest when present, else the tag, else ``latest``."""
        return self.digest or self.tag or "latest"

    def exact(self) -> str:
        """oc's ``Exact()``: the digest form when a digest is present (tag dropped), else name:tag."""
        if self.digest:
            return f"{self.name}@{self.digest}"
        if self.tag:
            return f"{self.name}:{self.tag}"
        return self.name

    def with_digest(self, digest: str) -> ImageReference:
        """Return a copy pointing at ``digest`` with the tag dropped."""
        return attrs.evolve(self, tag=None, digest=validate_digest(digest))

    def with_tag(self, tag: str | None) -> ImageReference:
        """Return a copy with ``tag`` and no digest; raise InvalidReferenceError for a malformed tag."""
        if tag is not None and not _TAG_RE.match(tag):
            raise InvalidReferenceError(f"invalid tag {tag!r} for {self.name}")
        return attrs.evolve(self, tag=tag, digest=None)

    def repository_only(self) -> ImageReference:
        """Return the bare repository reference."""
        return attrs.evolve(self, tag=None, digest=None)

    def __str__(self) -> str:
        text = self.name
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


@attrs.frozen
class RegistryLocation:
    """An image in a registry (``docker://REF`` or a bare reference)."""

    ref: ImageReference

    def __str__(self) -> str:
        return str(self.ref)


@attrs.frozen
class LayoutLocation:
    """An image (or the whole image set) in an OCI image layout: ``oci:DIR[:REFNAME]``."""

    path: str
    refname: str | None = None
    digest: str | None = None

    def __str__(self) -> str:
        text = f"oci:{self.path}"
        if self.refname:
            text += f":{self.refname}"
        if self.digest:
            text += f"@{self.digest}"
        return text


ImageLocation = RegistryLocation | LayoutLocation


def parse_location(text: str) -> ImageLocation:
    """Parse ``docker://REF``, ``oci:DIR[:REFNAME|@DIGEST]`` or a bare registry reference."""
    if text.startswith("docker://"):
        if text == "docker://":
            raise InvalidReferenceError(f"invalid image location {text!r}: no image reference")
        return RegistryLocation(ImageReference.parse(text[len("docker://") :]))
    if text.startswith("oci:"):
        rest = text[len("oci:") :]
        digest: str | None = None
        if "@sha256:" in rest:
            rest, _, digest_hex = rest.rpartition("@sha256:")
            digest = validate_digest("sha256:" + digest_hex)
        path, refname = rest, None
        colon = rest.rfind(":")
        if colon > 0 and "/" not in rest[colon + 1 :]:
            path, refname = rest[:colon], rest[colon + 1 :] or None
        if not path:
            raise InvalidReferenceError(f"invalid OCI layout location {text!r}: no directory")
        return LayoutLocation(path=path, refname=refname, digest=digest)
    if "://" in text:
        raise InvalidReferenceError(f"unsupported transport in {text!r} (use docker:// or oci:)")
    return RegistryLocation(ImageReference.parse(text))


# --------------------------------------------------------------------------------------------
# Docker's reference grammar with its own error texts, as oc reports them for image-stream inputs (§1.6, §3.3.2)

_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*(?::[0-9]+)?)"
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*"
_NAME = rf"(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
_REFERENCE_RE = re.compile(
    rf"({_NAME})(?::([\w][\w.-]{{0,127}}))?(?:@([A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{{32,}}))?",
    re.ASCII,
)
_DIGEST_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}


@attrs.frozen
class DockerReference:
    """A parsed pull spec: repository (registry/namespace/name), tag and digest."""

    repository: str
    tag: str
    digest: str


def parse_docker_reference(spec: str) -> DockerReference:
    """Parse ``registry/ns/name[:tag][@digest]`` with the Docker grammar and its error texts."""
    match = _REFERENCE_RE.fullmatch(spec)
    if match is None:
        if not spec:
            raise ReleaseError("repository name must have at least one component")
        if _REFERENCE_RE.fullmatch(spec.lower()) is not None:
            raise ReleaseError("repository name must be lowercase")
        raise ReleaseError("invalid reference format")
    repository, tag, digest = match.group(1), match.group(2) or "", match.group(3) or ""
    if len(repository) > 255:
        raise ReleaseError("repository name must not be more than 255 characters")
    if digest:
        algorithm, _, hex_part = digest.partition(":")
        expected = _DIGEST_LENGTHS.get(algorithm)
        if expected is None:
            raise ReleaseError("unsupported digest algorithm")
        if len(hex_part) != expected:
            raise ReleaseError("invalid checksum digest length")
        if not re.fullmatch(r"[a-f0-9]+", hex_part):
            raise ReleaseError("invalid checksum digest format")
    return DockerReference(repository, tag, digest)
