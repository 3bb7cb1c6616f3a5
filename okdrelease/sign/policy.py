"""containers-policy.json: parse it and decide whether an image may be used, as containers/image does.

Followed from containers/image (signature/policy_config.go, policy_eval*.go, policy_reference_match.go):

- Parsing is strict: unknown or duplicate keys are errors; ``default`` is required; every
  requirement list is non-empty; ``signedBy`` needs a valid ``keyType`` and exactly one of
  ``keyPath``/``keyPaths``/``keyData``; ``signedIdentity`` defaults to ``matchRepoDigestOrExact``.
- The requirements for an image are those of the most specific scope of its transport: the full
  reference (``name:tag``/``name@digest``), the repository, each parent namespace, ``*.domain``
  wildcards, then the transport's ``""`` scope, else ``default``. Every requirement must allow the image.
- ``signedBy`` (GPGKeys) accepts the image when one simple signature verifies with the keys, names
  the image's digest and an identity ``signedIdentity`` accepts. ``sigstoreSigned`` does the same for
  cosign signatures with public keys. ``insecureAcceptAnything`` allows, ``reject`` refuses.

Not implemented (refused, with the reason, rather than guessed): ``signedBy`` key types other than
GPGKeys (containers/image does not implement them either), ``signedBaseLayer`` (nor does it),
and ``sigstoreSigned`` with Fulcio, PKI or Rekor keys.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import attrs

from okdrelease._repr import value_repr
from okdrelease.errors import InvalidReferenceError, SignatureError
from okdrelease.reference import ImageReference
from okdrelease.sign import cosign
from okdrelease.sign.files import read_bounded
from okdrelease.sign.lookaside import (
    DockerName,
    RegistriesConfig,
    load_registries_d,
    parse_json_document,
    read_lookaside,
)
from okdrelease.sign.openpgp import Keyring, verify_message
from okdrelease.sign.simple import parse_simple_signing_payload, validate_release_digest
from okdrelease.transport.base import Repository, TransportOptions
from okdrelease.transport.fetch import UrlReader

KEY_TYPES = ("GPGKeys", "signedByGPGKeys", "X509Certificates", "signedByX509CAs")


class PolicyFormatError(SignatureError):
    """The policy file is not a valid containers-policy.json."""


# ---------------------------------------------------------------------------------------------
# Identity matches (signedIdentity)


@attrs.frozen
class IdentityMatch:
    """A ``signedIdentity``: which signed docker-reference is accepted for an image."""

    __repr__ = value_repr

    kind: str = "matchRepoDigestOrExact"
    reference: str = ""  # exactReference's dockerReference, exactRepository's dockerRepository
    prefix: str = ""
    signed_prefix: str = ""

    def matches(self, intended: DockerName, signed_text: str) -> bool:
        """containers/image's ``matchesDockerReference`` for the image pulled as ``intended``."""
        signed = _parse_or_none(signed_text)
        if signed is None:
            return False
        if self.kind == "matchExact":
            return not intended.name_only and not signed.name_only and str(signed) == str(intended)
        if self.kind == "matchRepoDigestOrExact":
            return _repo_digest_or_exact(intended, signed)
        if self.kind == "matchRepository":
            return signed.name == intended.name
        if self.kind == "exactReference":
            wanted = DockerName.parse(self.reference)
            return not wanted.name_only and not signed.name_only and str(signed) == str(wanted)
        if self.kind == "exactRepository":
            return signed.name == DockerName.parse(self.reference).name
        remapped = self._remap(intended)
        return remapped is not None and _repo_digest_or_exact(remapped, signed)

    def _remap(self, intended: DockerName) -> DockerName | None:
        name = intended.name
        if not (
            name == self.prefix or (name.startswith(self.prefix) and name[len(self.prefix) :][:1] == "/")
        ):
            return intended
        text = str(intended).replace(self.prefix, self.signed_prefix, 1)
        remapped = _parse_or_none(text)
        # reference.ParseNamed: the rewritten reference must already be in canonical form.
        return remapped if remapped is not None and str(remapped) == text else None


def _parse_or_none(text: str) -> DockerName | None:
    try:
        return DockerName.parse(text)
    except InvalidReferenceError:
        return None


def _repo_digest_or_exact(intended: DockerName, signed: DockerName) -> bool:
    if signed.name_only:
        return False
    if intended.tag is not None:
        return str(signed) == str(intended)
    if intended.digest is not None:
        return signed.name == intended.name
    return False


# ---------------------------------------------------------------------------------------------
# Requirements


@attrs.frozen
class KeySources:
    """Where a requirement's keys are: files and inline data (base64-decoded)."""

    __repr__ = value_repr

    paths: tuple[str, ...] = ()
    datas: tuple[bytes, ...] = ()

    def load(self) -> list[tuple[str, bytes]]:
        """Every key blob with a name for messages; a missing file is an error naming it."""
        out = [(f"keyData {index}", data) for index, data in enumerate(self.datas, start=1)]
        for path in self.paths:
            out.append((path, read_bounded(path, "policy key")))
        return out


@attrs.frozen
class InsecureAcceptAnything:
    """``insecureAcceptAnything``."""

    __repr__ = value_repr


@attrs.frozen
class Reject:
    """``reject``."""

    __repr__ = value_repr


@attrs.frozen
class SignedBy:
    """``signedBy``: simple signatures by OpenPGP keys."""

    __repr__ = value_repr

    key_type: str
    keys: KeySources
    identity: IdentityMatch


@attrs.frozen
class SigstoreSigned:
    """``sigstoreSigned``: cosign-style signatures; ``unsupported`` names trust roots okdrelease does not check."""

    __repr__ = value_repr

    keys: KeySources
    identity: IdentityMatch
    unsupported: str = ""


@attrs.frozen
class SignedBaseLayer:
    """``signedBaseLayer`` (not implemented by containers/image either)."""

    __repr__ = value_repr

    identity: IdentityMatch


Requirement = InsecureAcceptAnything | Reject | SignedBy | SigstoreSigned | SignedBaseLayer


@attrs.frozen
class Policy:
    """A parsed containers-policy.json."""

    __repr__ = value_repr

    default: tuple[Requirement, ...]
    transports: Mapping[str, Mapping[str, tuple[Requirement, ...]]] = attrs.field(factory=dict)

    def requirements_for(self, transport: str, name: DockerName) -> tuple[str, tuple[Requirement, ...]]:
        """The most specific scope for ``name`` in ``transport`` (docker rules) and its requirements."""
        scopes = self.transports.get(transport)
        if scopes is not None:
            candidates = [name.policy_identity(), *name.policy_namespaces()] if transport == "docker" else []
            for scope in [*candidates, ""]:
                if scope in scopes:
                    return f'transports.{transport}["{scope}"]', scopes[scope]
        return "default", self.default


# ---------------------------------------------------------------------------------------------
# Parsing


def _object(value: Any, where: str, allowed: Sequence[str], required: Sequence[str] = ()) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise PolicyFormatError(f"{where} must be a JSON object")
    for key in value:
        if key not in allowed:
            raise PolicyFormatError(f'{where}: unknown key "{key}"')
    for key in required:
        if key not in value:
            raise PolicyFormatError(f'{where}: "{key}" is missing')
    return value


def _string(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise PolicyFormatError(f"{where} must be a string")
    return value


def _bytes(value: Any, where: str) -> bytes:
    try:
        return base64.b64decode(_string(value, where), validate=True)
    except ValueError as err:
        raise PolicyFormatError(f"{where} is not base64: {err}") from err


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise PolicyFormatError(f"{where} must be a list")
    return tuple(_string(item, where) for item in value)


def _reference_or_error(text: str, where: str) -> DockerName:
    try:
        return DockerName.parse(text)
    except InvalidReferenceError as err:
        raise PolicyFormatError(f"{where}: invalid format of {text!r}: {err}") from err


def parse_identity(value: Any, where: str) -> IdentityMatch:
    """Parse a ``signedIdentity`` object."""
    kind = _string(
        _object(
            value, where, ("type", "dockerReference", "dockerRepository", "prefix", "signedPrefix"), ("type",)
        )["type"],
        f"{where}.type",
    )
    fields = {
        "matchExact": (),
        "matchRepoDigestOrExact": (),
        "matchRepository": (),
        "exactReference": ("dockerReference",),
        "exactRepository": ("dockerRepository",),
        "remapIdentity": ("prefix", "signedPrefix"),
    }
    if kind not in fields:
        raise PolicyFormatError(f"{where}: unknown policy reference match type {kind!r}")
    body = _object(value, where, ("type", *fields[kind]), ("type", *fields[kind]))
    if kind == "exactReference":
        text = _string(body["dockerReference"], f"{where}.dockerReference")
        if _reference_or_error(text, where).name_only:
            raise PolicyFormatError(f"{where}: dockerReference {text!r} contains neither a tag nor digest")
        return IdentityMatch(kind, text)
    if kind == "exactRepository":
        text = _string(body["dockerRepository"], f"{where}.dockerRepository")
        _reference_or_error(text, where)
        return IdentityMatch(kind, text)
    if kind == "remapIdentity":
        prefix = _string(body["prefix"], f"{where}.prefix")
        signed = _string(body["signedPrefix"], f"{where}.signedPrefix")
        for text in (prefix, signed):
            _check_prefix(text, where)
        return IdentityMatch(kind, prefix=prefix, signed_prefix=signed)
    return IdentityMatch(kind)


def _check_prefix(text: str, where: str) -> None:
    """A remap prefix is a registry host, or ``host/path`` naming a repository namespace."""
    host, _, path = text.partition("/")
    probe = f"{text}/x" if not path else text
    parsed = _parse_or_none(probe)
    if parsed is None or parsed.domain != host or not ("." in host or ":" in host or host == "localhost"):
        raise PolicyFormatError(f"{where}: prefix {text!r} is not valid")


def _key_sources(body: dict[str, Any], where: str, names: Mapping[str, str]) -> tuple[KeySources, int]:
    """Read the key fields ``names`` maps (JSON key -> path/paths/data/datas); return them and how many were set."""
    paths: list[str] = []
    datas: list[bytes] = []
    count = 0
    for key, kind in names.items():
        if key not in body:
            continue
        count += 1
        value = body[key]
        if kind == "path":
            paths.append(_string(value, f"{where}.{key}"))
        elif kind == "paths":
            paths.extend(_strings(value, f"{where}.{key}"))
        elif kind == "data":
            datas.append(_bytes(value, f"{where}.{key}"))
        else:
            if not isinstance(value, list):
                raise PolicyFormatError(f"{where}.{key} must be a list")
            datas.extend(_bytes(item, f"{where}.{key}") for item in value)
    return KeySources(tuple(paths), tuple(datas)), count


def _signed_by(value: dict[str, Any], where: str) -> SignedBy:
    body = _object(value, where, ("type", "keyType", "keyPath", "keyPaths", "keyData", "signedIdentity"))
    key_type = body.get("keyType", "")
    if key_type not in KEY_TYPES:
        raise PolicyFormatError(f"{where}: invalid keyType {key_type!r}")
    keys, count = _key_sources(body, where, {"keyPath": "path", "keyPaths": "paths", "keyData": "data"})
    if count != 1:
        raise PolicyFormatError(f"{where}: exactly one of keyPath, keyPaths and keyData must be specified")
    identity = (
        parse_identity(body["signedIdentity"], f"{where}.signedIdentity")
        if "signedIdentity" in body
        else IdentityMatch()
    )
    return SignedBy(str(key_type), keys, identity)


_SIGSTORE_KEYS = {"keyPath": "path", "keyPaths": "paths", "keyData": "data", "keyDatas": "datas"}
_REKOR = ("rekorPublicKeyPath", "rekorPublicKeyPaths", "rekorPublicKeyData", "rekorPublicKeyDatas")


def _sigstore_signed(value: dict[str, Any], where: str) -> SigstoreSigned:
    allowed = ("type", *_SIGSTORE_KEYS, "fulcio", "pki", *_REKOR, "signedIdentity")
    body = _object(value, where, allowed)
    keys, count = _key_sources(body, where, _SIGSTORE_KEYS)
    trust = [name for name in ("fulcio", "pki") if name in body]
    rekor = [name for name in _REKOR if name in body]
    if count + len(trust) != 1:
        raise PolicyFormatError(
            f"{where}: exactly one of keyPath, keyPaths, keyData, keyDatas, fulcio, and pki must be specified"
        )
    if len(rekor) > 1:
        raise PolicyFormatError(f"{where}: at most one of {', '.join(_REKOR)} can be used simultaneously")
    if "fulcio" in body and not rekor:
        raise PolicyFormatError(f"{where}: a Rekor public key must be specified if fulcio is used")
    if "pki" in body and rekor:
        raise PolicyFormatError(f"{where}: Rekor public keys are not supported for pki")
    identity = (
        parse_identity(body["signedIdentity"], f"{where}.signedIdentity")
        if "signedIdentity" in body
        else IdentityMatch()
    )
    unsupported = ", ".join(trust + rekor)
    return SigstoreSigned(keys, identity, unsupported)


def parse_requirement(value: Any, where: str) -> Requirement:
    """Parse one policy requirement object."""
    if not isinstance(value, dict):
        raise PolicyFormatError(f"{where} must be a JSON object")
    kind = value.get("type")
    if kind in ("insecureAcceptAnything", "reject"):
        _object(value, where, ("type",))
        return InsecureAcceptAnything() if kind == "insecureAcceptAnything" else Reject()
    if kind == "signedBy":
        return _signed_by(value, where)
    if kind == "sigstoreSigned":
        return _sigstore_signed(value, where)
    if kind == "signedBaseLayer":
        body = _object(value, where, ("type", "baseLayerIdentity"), ("baseLayerIdentity",))
        return SignedBaseLayer(parse_identity(body["baseLayerIdentity"], f"{where}.baseLayerIdentity"))
    raise PolicyFormatError(f"{where}: unknown policy requirement type {kind!r}")


def _requirements(value: Any, where: str) -> tuple[Requirement, ...]:
    if not isinstance(value, list):
        raise PolicyFormatError(f"{where} must be a list of requirements")
    if not value:
        raise PolicyFormatError(f"{where}: list of verification policy requirements must not be empty")
    return tuple(parse_requirement(item, f"{where}[{index}]") for index, item in enumerate(value))


def parse_policy(data: bytes, what: str = "policy") -> Policy:
    """Parse a containers-policy.json document."""
    try:
        document = parse_json_document(data, what)
    except SignatureError as err:
        raise PolicyFormatError(str(err)) from err
    top = _object(document, what, ("default", "transports"), ("default",))
    transports: dict[str, dict[str, tuple[Requirement, ...]]] = {}
    for transport, scopes in _object(
        top.get("transports") or {}, f"{what}: transports", list(top.get("transports") or {})
    ).items():
        where = f"{what}: transports.{transport}"
        transports[transport] = (
            {
                str(scope): _requirements(reqs, f'{where}["{scope}"]')
                for scope, reqs in _object(scopes, where, list(scopes or {})).items()
            }
            if scopes is not None
            else {}
        )
    return Policy(_requirements(top["default"], f"{what}: default"), transports)


def load_policy(path: str | os.PathLike[str]) -> Policy:
    """Read and parse a policy file; errors name the file."""
    return parse_policy(read_bounded(path, "policy"), f"policy {path}")


# ---------------------------------------------------------------------------------------------
# Evaluation


class SignatureSource(Protocol):
    """Where an image's signatures are read from (see ``ImageSignatures``)."""

    def simple_signatures(self, name: DockerName, digest: str) -> list[bytes]:
        """The image's simple (OpenPGP) signatures."""
        ...

    def sigstore_signatures(self, name: DockerName, digest: str) -> list[cosign.CosignSignature]:
        """The image's cosign-style signature attachments (empty when not configured)."""
        ...


@attrs.frozen
class PolicyVerdict:
    """Whether the policy allows the image, by which scope, and why not."""

    __repr__ = value_repr

    image: str
    digest: str
    allowed: bool
    scope: str
    reasons: tuple[str, ...] = ()

    @property
    def reason(self) -> str:
        """The reasons joined, containers/image style."""
        return "; ".join(self.reasons)

    def __str__(self) -> str:
        verdict = "allowed" if self.allowed else f"rejected: {self.reason}"
        return f"{self.image} ({self.digest}) {verdict} [policy {self.scope}]"


class PolicyRejectedError(SignatureError):
    """The policy refuses an image; ``verdict`` says which and why."""

    def __init__(self, verdict: PolicyVerdict) -> None:
        super().__init__(f"{verdict.image}: rejected by policy {verdict.scope}: {verdict.reason}")
        self.verdict = verdict


def verify_image_against_policy(
    policy: Policy,
    image_ref: str | ImageReference | DockerName,
    digest: str,
    signatures: SignatureSource,
    *,
    transport: str = "docker",
) -> PolicyVerdict:
    """Evaluate ``policy`` for the image pulled as ``image_ref`` whose manifest digest is ``digest``.

    ``digest`` must be the digest of the manifest actually read (containers/image checks the
    signed digest against the manifest). Every requirement of the scope must allow the image.
    """
    name = image_ref if isinstance(image_ref, DockerName) else DockerName.parse(image_ref)
    validate_release_digest(digest)
    scope, requirements = policy.requirements_for(transport, name)
    image = f"{transport}://{name}"
    reasons: list[str] = []
    for requirement in requirements:
        reason = _evaluate(requirement, name, digest, signatures, image)
        if reason is not None:
            reasons.append(reason)
            break  # containers/image stops at the first requirement that denies
    return PolicyVerdict(image, digest, not reasons, scope, tuple(reasons))


def require_image_allowed(
    policy: Policy,
    image_ref: str | ImageReference | DockerName,
    digest: str,
    signatures: SignatureSource,
    *,
    transport: str = "docker",
) -> PolicyVerdict:
    """``verify_image_against_policy``, raising PolicyRejectedError when the image is refused."""
    verdict = verify_image_against_policy(policy, image_ref, digest, signatures, transport=transport)
    if not verdict.allowed:
        raise PolicyRejectedError(verdict)
    return verdict


def _evaluate(
    requirement: Requirement, name: DockerName, digest: str, signatures: SignatureSource, image: str
) -> str | None:
    if isinstance(requirement, InsecureAcceptAnything):
        return None
    if isinstance(requirement, Reject):
        return f"Running image {image} is rejected by policy."
    if isinstance(requirement, SignedBaseLayer):
        return "signedBaseLayer not implemented yet!"
    if isinstance(requirement, SignedBy):
        if requirement.key_type != "GPGKeys":
            return f'Unimplemented "keyType" value "{requirement.key_type}"'
        return _summary(
            [
                _check_simple(requirement, name, digest, sig)
                for sig in signatures.simple_signatures(name, digest)
            ]
        )
    if requirement.unsupported:
        return f"okdrelease does not verify sigstoreSigned with {requirement.unsupported}"
    return _summary(
        [
            _check_sigstore(requirement, name, digest, sig)
            for sig in signatures.sigstore_signatures(name, digest)
        ]
    )


def _summary(results: Sequence[str | None]) -> str | None:
    """None when one signature was accepted; else containers/image's summary of the rejections."""
    if any(result is None for result in results):
        return None
    if not results:
        return "A signature was required, but no signature exists"
    if len(results) == 1:
        return results[0]
    return "None of the signatures were accepted, reasons: " + "; ".join(str(r) for r in results)


def _signed_by_keyring(requirement: SignedBy) -> Keyring:
    keyring: Keyring | None = None
    for label, data in requirement.keys.load():
        ring = Keyring.from_bytes(data, label)
        keyring = ring if keyring is None else keyring + ring
    if keyring is None:
        raise SignatureError("No public keys imported")
    return keyring


def _check_claim(
    identity: IdentityMatch, name: DockerName, digest: str, signed_digest: str, signed_ref: str
) -> str | None:
    if signed_digest != digest:
        return f"Signature for digest {signed_digest} does not match"
    if not identity.matches(name, signed_ref):
        return f'Signature for identity "{signed_ref}" is not accepted'
    return None


def _check_simple(requirement: SignedBy, name: DockerName, digest: str, signature: bytes) -> str | None:
    try:
        message = verify_message(signature, _signed_by_keyring(requirement))
        claim = parse_simple_signing_payload(message.content)
    except SignatureError as err:
        return str(err)
    return _check_claim(requirement.identity, name, digest, claim.manifest_digest, claim.docker_reference)


def _check_sigstore(
    requirement: SigstoreSigned, name: DockerName, digest: str, signature: cosign.CosignSignature
) -> str | None:
    if signature.media_type != cosign.SIMPLESIGNING_MEDIA_TYPE:
        return f"not a signature attachment (media type {signature.media_type})"
    if not signature.signature:
        return f"missing {cosign.SIGNATURE_ANNOTATION} annotation"
    failures: list[str] = []
    try:
        keys = [cosign.load_public_key(data, label) for label, data in requirement.keys.load()]
        for key in keys:
            try:
                cosign.verify_payload(key, signature.payload, signature.signature)
                break
            except SignatureError as err:
                failures.append(str(err))
        else:
            return "cryptographic signature verification failed: " + ", ".join(failures)
        claim = cosign.parse_cosign_payload(signature.payload)
    except SignatureError as err:
        return str(err)
    return _check_claim(requirement.identity, name, digest, claim.manifest_digest, claim.docker_reference)


# ---------------------------------------------------------------------------------------------
# Signature sources


@attrs.frozen
class ImageSignatures:
    """Signatures where containers/image finds them: the registries.d lookaside (``file``, ``http``,
    ``https``, read with the TLS settings of ``options``, as containers/image reads it with the
    registry's client) and, when registries.d enables ``use-sigstore-attachments``, the ``.sig`` tag
    in ``repository`` (the image's repository; without one no attachments are read)."""

    __repr__ = value_repr

    registries: RegistriesConfig = attrs.field(factory=RegistriesConfig)
    repository: Repository | None = None
    options: TransportOptions | None = attrs.field(default=None, eq=False)

    def simple_signatures(self, name: DockerName, digest: str) -> list[bytes]:
        """``signature-1``, ``signature-2``, ... from the lookaside until the first missing one."""
        base = self.registries.lookaside_base(name)
        with UrlReader(self.options) as reader:
            found = read_lookaside(base, name, digest, reader=reader)
        return [data for _, data in found]

    def sigstore_signatures(self, name: DockerName, digest: str) -> list[cosign.CosignSignature]:
        """The ``sha256-<hex>.sig`` layers, when registries.d enables attachments for ``name``."""
        if self.repository is None or not self.registries.use_sigstore_attachments(name):
            return []
        return cosign.read_signatures(self.repository, digest)


def default_registries_d() -> Path:
    """containers/image's registries.d: ``~/.config/containers/registries.d`` if present, else /etc's."""
    user = Path.home() / ".config/containers/registries.d"
    return user if user.exists() else Path("/etc/containers/registries.d")


@attrs.frozen
class PolicyChecker:
    """A policy and a registries.d loaded once, checked per image (for example per release component);
    HTTP(S) lookasides are read with the TLS settings, proxies and timeout of ``options``."""

    __repr__ = value_repr

    policy: Policy
    registries: RegistriesConfig = attrs.field(factory=RegistriesConfig)
    options: TransportOptions | None = attrs.field(default=None, eq=False)

    @classmethod
    def load(
        cls,
        policy_path: str | os.PathLike[str],
        registries_d: str | os.PathLike[str] | None = None,
        options: TransportOptions | None = None,
    ) -> PolicyChecker:
        """Read the policy file and registries.d (containers/image's default directory when None)."""
        registries = load_registries_d(registries_d or default_registries_d())
        return cls(load_policy(policy_path), registries, options)

    def verdict(
        self, image_ref: str | ImageReference | DockerName, digest: str, repository: Repository | None = None
    ) -> PolicyVerdict:
        """Evaluate the image; ``repository`` (the image's) is where ``.sig`` attachments are read."""
        return verify_image_against_policy(
            self.policy, image_ref, digest, ImageSignatures(self.registries, repository, self.options)
        )

    def require(
        self, image_ref: str | ImageReference | DockerName, digest: str, repository: Repository | None = None
    ) -> PolicyVerdict:
        """``verdict``, raising PolicyRejectedError (naming the image and the reason) when refused."""
        return require_image_allowed(
            self.policy, image_ref, digest, ImageSignatures(self.registries, repository, self.options)
        )
