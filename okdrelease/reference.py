"""Image references, parsed once at the edge into typed values.

``ImageReference`` follows Docker's reference grammar (``registry/namespace/repo:tag@digest``).
It keeps the text as written (``registry`` may be empty) so that oc's ``Exact()`` form can be
reproduced, and offers Docker's defaults (``docker.io``, ``library/``) for connecting.
``parse_location`` adds the transports ``docker://REF`` and ``oci:DIR[:REFNAME]``.
"""

from __future__ import annotations

import enum
import functools
import re

import attrs

from okdrelease._repr import value_repr
from okdrelease.errors import InvalidReferenceError, ReleaseError, UsageError
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
#: Docker's digest syntax (``algorithm:hex``, 32 or more hex digits); the known algorithms and lengths.
_DOCKER_DIGEST_RE = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}")
_DIGEST_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}
_LOWER_HEX_RE = re.compile(r"[a-f0-9]+")
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


class Problem(enum.Enum):
    """What is wrong with a reference, in the order ``ImageReference.parse`` reports the first one."""

    EMPTY = "empty"
    SPACE = "leading or trailing white space"
    IDENTIFIER = "a 64-character hexadecimal identifier"
    DIGEST = "digest"
    TAG = "tag"
    REGISTRY = "registry"
    PATH = "repository path"
    TOO_LONG = "name too long"


#: Problems Docker's reference regular expression itself rejects (its other checks come after a match).
_DOCKER_SYNTAX = frozenset({Problem.EMPTY, Problem.SPACE, Problem.TAG, Problem.REGISTRY, Problem.PATH})


@attrs.frozen
class ReferenceProblem:
    """One problem found in a reference: its kind and the part it is in (a digest, tag, registry or path)."""

    __repr__ = value_repr

    kind: Problem
    part: str = ""


@attrs.frozen
class _Parsed:
    __repr__ = value_repr

    registry: str
    path: str
    tag: str | None
    digest: str | None
    problems: tuple[ReferenceProblem, ...]


def _digest_ok(digest: str) -> bool:
    algorithm, _, hex_part = digest.partition(":")
    return (
        _DOCKER_DIGEST_RE.fullmatch(digest) is not None
        and _DIGEST_LENGTHS.get(algorithm) == len(hex_part)
        and _LOWER_HEX_RE.fullmatch(hex_part) is not None
    )


def _normalized_length(registry: str, path: str) -> int:
    domain = registry or DEFAULT_DOMAIN
    if domain in _DOCKER_HUB_NAMES and "/" not in path:
        path = f"library/{path}"
    return len(domain) + 1 + len(path)


@functools.lru_cache(maxsize=4096)
def _parse(text: str, *, normalized: bool) -> _Parsed:
    """The one reference grammar: ``[registry/]path[:tag][@digest]``, every problem found (none: valid).

    ``normalized`` is Docker's ``ParseNormalizedNamed`` (what is pulled: a first component that looks
    like a registry must be one, 64-character hexadecimal names are refused, the length limit applies
    to the name with ``docker.io/library/`` added); without it, Docker's ``Parse`` (the name as written,
    a first component that is no registry read as part of the path), as oc reads image-stream inputs.

    Remembered (up to 4,096 texts): a run parses each pull spec two or three times (544 parses of 180
    texts in a cold benchmark ``new``), and the answer, frozen, depends on nothing else.
    """
    problems: list[ReferenceProblem] = []
    if not text:
        problems.append(ReferenceProblem(Problem.EMPTY))
    elif text != text.strip():
        problems.append(ReferenceProblem(Problem.SPACE))
    if normalized and _IDENTIFIER_RE.fullmatch(text):
        problems.append(ReferenceProblem(Problem.IDENTIFIER))
    rest, digest = text, None
    if "@" in rest:
        rest, _, digest = rest.partition("@")
        if not _digest_ok(digest):
            problems.append(ReferenceProblem(Problem.DIGEST, digest))
    tag = None
    if rest.rfind(":") > rest.rfind("/"):
        rest, _, tag = rest.rpartition(":")
        if not _TAG_RE.fullmatch(tag):
            problems.append(ReferenceProblem(Problem.TAG, tag))
    registry, path = "", rest
    first, sep, remainder = rest.partition("/")
    if sep and _looks_like_registry(first):
        if _DOMAIN_RE.fullmatch(first) and (normalized or not first.startswith("[")):  # Parse: no IPv6
            registry, path = first, remainder
        elif normalized:
            registry, path = first, remainder
            problems.append(ReferenceProblem(Problem.REGISTRY, first))
    if not _PATH_RE.fullmatch(path):
        problems.append(ReferenceProblem(Problem.PATH, path))
    length = _normalized_length(registry, path) if normalized else len(rest)
    if length > NAME_TOTAL_LENGTH_MAX:
        problems.append(ReferenceProblem(Problem.TOO_LONG))
    order = list(Problem)
    return _Parsed(registry, path, tag, digest, tuple(sorted(problems, key=lambda p: order.index(p.kind))))


class ReferenceSyntaxError(InvalidReferenceError):
    """A text that is not an image reference: the text and every problem found in it.

    ``str()`` is the wording of ``ImageReference.parse`` (``invalid image reference 'TEXT': …``, the
    first problem); :attr:`docker_message` is Docker's own text, which oc prints for image-stream inputs.
    """

    def __init__(self, text: str, problems: tuple[ReferenceProblem, ...]) -> None:
        shown = redact_userinfo(text)
        # (a text with credentials is worded as its redacted form parses, so no problem quotes them)
        problem = problems[0] if shown == text else _parse(shown, normalized=True).problems[0]
        super().__init__(_message(shown, problem))
        self.text = text
        self.problems = problems

    @property
    def docker_message(self) -> str:
        """Docker's error for this text (``reference.Parse``'s checks in its order)."""
        digest = next((p.part for p in self.problems if p.kind is Problem.DIGEST), None)
        syntax = any(p.kind in _DOCKER_SYNTAX for p in self.problems)
        if syntax or (digest is not None and not _DOCKER_DIGEST_RE.fullmatch(digest)):
            if not self.text:
                return "repository name must have at least one component"
            if not _docker_syntax_problems(self.text.lower()):
                return "repository name must be lowercase"
            return "invalid reference format"
        if any(p.kind is Problem.TOO_LONG for p in self.problems):
            return f"repository name must not be more than {NAME_TOTAL_LENGTH_MAX} characters"
        assert digest is not None
        algorithm, _, hex_part = digest.partition(":")
        if algorithm not in _DIGEST_LENGTHS:
            return "unsupported digest algorithm"
        if len(hex_part) != _DIGEST_LENGTHS[algorithm]:
            return "invalid checksum digest length"
        return "invalid checksum digest format"


_SCHEME_RE = re.compile(r"\s*(?:[A-Za-z][A-Za-z0-9+.-]*://)?")
#: After the ``@`` of a reference: a digest (Docker's syntax, or a known algorithm however malformed).
_DIGEST_LIKE_RE = re.compile(rf"{_DOCKER_DIGEST_RE.pattern}|(?:{'|'.join(_DIGEST_LENGTHS)}):.*")


def redact_userinfo(text: str) -> str:
    """``text`` with the credentials a user typed into a reference (``user:pass@host/repo``,
    ``docker://user@host/repo``) replaced by ``***``, for errors that quote it; other texts unchanged.

    Credentials are what stands before the last ``@`` that is followed by no digest, when that part
    holds a ``:`` or a ``/`` follows the ``@``: ``name:tag@sha256:…`` and ``name@latest`` keep theirs."""
    prefix = _SCHEME_RE.match(text)
    start = prefix.end() if prefix else 0
    at = len(text)
    while (at := text.rfind("@", start, at)) >= 0:
        host, slash, _ = text[at + 1 :].partition("/")
        if _DIGEST_LIKE_RE.fullmatch(host):
            continue
        if ":" in text[start:at] or slash:
            return f"{text[:start]}***{text[at:]}"
        break
    return text


def _docker_syntax_problems(text: str) -> bool:
    parsed = _parse(text, normalized=False)
    return any(
        p.kind in _DOCKER_SYNTAX or (p.kind is Problem.DIGEST and not _DOCKER_DIGEST_RE.fullmatch(p.part))
        for p in parsed.problems
    )


def _message(text: str, problem: ReferenceProblem) -> str:
    """``ImageReference.parse``'s wording of ``problem``."""
    prefix = f"invalid image reference {text!r}"
    kind = problem.kind
    if kind in (Problem.EMPTY, Problem.SPACE):
        return prefix
    if kind is Problem.IDENTIFIER:
        return f"{prefix}: cannot specify 64-byte hexadecimal strings"
    if kind is Problem.DIGEST:
        try:
            validate_digest(problem.part)
        except InvalidReferenceError as err:
            return f"{prefix}: {err}"
        return f"{prefix}: invalid digest {problem.part!r}"  # not reached: the grammar's digest rule is validate_digest's
    if kind is Problem.TAG:
        return f"{prefix}: invalid tag {problem.part!r}"
    if kind is Problem.REGISTRY:
        return f"{prefix}: invalid registry {problem.part!r}"
    if kind is Problem.PATH:
        return f"{prefix}: repository name must be lowercase alphanumeric components"
    return f"{prefix}: repository name must not be more than {NAME_TOTAL_LENGTH_MAX} characters"


@attrs.frozen
class ImageReference:
    """A parsed image reference. ``registry`` is empty when the text named none."""

    __repr__ = value_repr

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @classmethod
    def parse(cls, text: str) -> ImageReference:
        """Parse ``text`` (Docker's normalised form); raise ReferenceSyntaxError quoting it when it is not a reference."""
        parsed = _parse(text, normalized=True)
        if parsed.problems:
            raise ReferenceSyntaxError(text, parsed.problems)
        return cls(registry=parsed.registry, repository=parsed.path, tag=parsed.tag, digest=parsed.digest)

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


def parse_identity(text: str) -> ImageReference:
    """``--sign-identity``: the repository a signature names, as a reference with no tag or digest (one
    given is dropped, as the signature names ``REPOSITORY@DIGEST``); UsageError naming the flag when
    ``text`` is no reference, so a bad identity fails before anything is read or pushed."""
    try:
        return ImageReference.parse(text).repository_only()
    except ReferenceSyntaxError as err:
        raise UsageError(f"--sign-identity: {err}") from None


@attrs.frozen
class RegistryLocation:
    """An image in a registry (``docker://REF`` or a bare reference)."""

    __repr__ = value_repr

    ref: ImageReference

    def __str__(self) -> str:
        return str(self.ref)


@attrs.frozen
class LayoutLocation:
    """An image (or the whole image set) in an OCI image layout: ``oci:DIR[:REFNAME]``."""

    __repr__ = value_repr

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

# The OCI ``org.opencontainers.image.ref.name`` grammar, which containers/image checks too.
_REF_COMPONENT = r"[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*"
_REF_NAME_RE = re.compile(rf"^{_REF_COMPONENT}(?:/{_REF_COMPONENT})*$")


def validate_ref_name(name: str) -> str:
    """Return ``name`` if it is a valid OCI layout ref name; raise InvalidReferenceError otherwise."""
    if not _REF_NAME_RE.match(name):
        raise InvalidReferenceError(f"invalid OCI layout ref name {name!r}")
    return name


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
        # containers/image (skopeo) splits at the first colon: the directory holds no ':', the ref
        # name may hold ':' and '/' (``oci:/tmp/l:okd/release:4.16``).
        path, _, refname = rest.partition(":")
        if not path:
            raise InvalidReferenceError(f"invalid OCI layout location {text!r}: no directory")
        return LayoutLocation(
            path=path, refname=validate_ref_name(refname) if refname else None, digest=digest
        )
    if "://" in text:
        raise InvalidReferenceError(
            f"unsupported transport in {redact_userinfo(text)!r} (use docker:// or oci:)"
        )
    return RegistryLocation(ImageReference.parse(text))


@attrs.frozen
class DockerReference:
    """A pull spec as Docker's ``reference.Parse`` reads it: repository (as written), tag and digest."""

    __repr__ = value_repr

    repository: str
    tag: str
    digest: str


def parse_docker_reference(spec: str) -> DockerReference:
    """Parse ``registry/ns/name[:tag][@digest]`` as oc reads image-stream inputs (§1.6, §3.3.2).

    The one grammar (``_parse``) in Docker's ``Parse`` form; a failure is a ReleaseError with Docker's
    own text (``ReferenceSyntaxError.docker_message``).
    """
    parsed = _parse(spec, normalized=False)
    if parsed.problems:
        raise ReleaseError(ReferenceSyntaxError(spec, parsed.problems).docker_message)
    name = f"{parsed.registry}/{parsed.path}" if parsed.registry else parsed.path
    return DockerReference(name, parsed.tag or "", parsed.digest or "")
