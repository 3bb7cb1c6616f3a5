"""The "atomic container signature" payload (containers/image simple signing), spec §7.1/§7.2."""

from __future__ import annotations

import json
import re
from typing import Any

import attrs

from okdrelease._repr import value_repr
from okdrelease.errors import InvalidReferenceError, SignatureError
from okdrelease.gocompat.jsonbounds import json_loads
from okdrelease.reference import ImageReference

SIGNATURE_TYPE = "atomic container signature"
_DIGEST_RE = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")
#: The registered algorithms' hex lengths (OCI image-spec descriptor.md); others pass as library-go lets them.
_HEX_SIZES = {"sha256": 64, "sha512": 128}
_HEX_RE = re.compile(r"[a-f0-9]+")
#: ``optional.timestamp`` as library-go reads it: a Go int64.
TIMESTAMP_RANGE = range(-(1 << 63), 1 << 63)
#: The timestamps a signature is written with: library-go's int64 that containers/image (skopeo, podman,
#: CRI-O) also takes, reading a float64 that must convert to an int64 and back unchanged (2**63 - 1 is
#: the float 2**63: refused; 2**63 - 513 is the largest integer whose float is below 2**63).
WRITABLE_TIMESTAMPS = range(-(1 << 63), (1 << 63) - 512)


@attrs.frozen
class AtomicSignature:
    """The signed claim: this manifest digest is the image known as this reference."""

    __repr__ = value_repr

    docker_reference: str
    manifest_digest: str
    creator: str | None = None
    timestamp: int | None = None

    def to_bytes(self) -> bytes:
        """Serialise exactly as ``oc adm release new --to-signature``: two-space indent, no trailing newline."""
        optional: dict[str, Any] = {}
        if self.creator is not None:
            optional["creator"] = self.creator
        if self.timestamp is not None:
            optional["timestamp"] = self.timestamp
        document = {
            "critical": {
                "type": SIGNATURE_TYPE,
                "image": {"docker-manifest-digest": self.manifest_digest},
                "identity": {"docker-reference": self.docker_reference},
            },
            "optional": optional,
        }
        return json.dumps(document, indent=2).encode("utf-8")


WRITABLE_TIMESTAMPS_TEXT = (
    f"a signature's timestamp is {WRITABLE_TIMESTAMPS.start} to {WRITABLE_TIMESTAMPS.stop - 1} "
    "(a 64-bit integer that containers/image can read as a float64)"
)


def new_signature_payload(docker_reference: str, manifest_digest: str, creator: str, timestamp: int) -> bytes:
    """Build the payload oc writes; every input must be non-empty (oc's own check and message)."""
    if not creator or not timestamp or not manifest_digest or not docker_reference:
        raise SignatureError(
            "you must specify a signer, current timestamp, release digest, and pull spec to sign"
        )
    if timestamp not in WRITABLE_TIMESTAMPS:
        raise SignatureError(f"timestamp {timestamp} is out of range: {WRITABLE_TIMESTAMPS_TEXT}")
    return AtomicSignature(docker_reference, manifest_digest, creator, timestamp).to_bytes()


def _exact_object(value: Any, allowed: dict[str, type | tuple[type, ...]], where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SignatureError(f"the signature is not valid JSON: {where} must be an object")
    for key, item in value.items():
        if key not in allowed:
            raise SignatureError(f'the signature is not valid JSON: unknown field "{key}" in {where}')
        expected = allowed[key]
        if item is not None and (not isinstance(item, expected) or isinstance(item, bool)):
            raise SignatureError(
                f'the signature is not valid JSON: field "{key}" in {where} has the wrong type'
            )
    return value


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise ValueError(f'duplicate field "{key}"')
        seen[key] = value
    return seen


def strict_json_loads(data: bytes) -> Any:
    """``json.loads`` that refuses duplicate object keys (as containers/image's paranoid parser does)."""
    return json_loads(data, object_pairs_hook=_no_duplicates)


def parse_signature_payload(data: bytes) -> AtomicSignature:
    """Parse signed content strictly, as library-go does (unknown fields refused, types checked)."""
    try:
        document = strict_json_loads(data)
    except (ValueError, UnicodeDecodeError) as err:
        raise SignatureError(f"the signature is not valid JSON: {err}") from err
    top = _exact_object(document, {"critical": dict, "optional": dict}, "the signature")
    critical = _exact_object(
        top.get("critical") or {}, {"type": str, "image": dict, "identity": dict}, "critical"
    )
    image = _exact_object(critical.get("image") or {}, {"docker-manifest-digest": str}, "critical.image")
    identity = _exact_object(critical.get("identity") or {}, {"docker-reference": str}, "critical.identity")
    optional = _exact_object(top.get("optional") or {}, {"creator": str, "timestamp": int}, "optional")
    if optional.get("timestamp") is not None and optional["timestamp"] not in TIMESTAMP_RANGE:
        raise SignatureError(
            'the signature is not valid JSON: field "timestamp" in optional has the wrong type'
        )
    if critical.get("type") != SIGNATURE_TYPE:
        raise SignatureError("signature is not the correct type")
    return AtomicSignature(
        docker_reference=identity.get("docker-reference") or "",
        manifest_digest=image.get("docker-manifest-digest") or "",
        creator=optional.get("creator"),
        timestamp=optional.get("timestamp"),
    )


def check_signature_claims(claim: AtomicSignature, digest: str) -> AtomicSignature:
    """library-go's checks (identity present, digest equal) plus: the identity must parse as a reference.

    The identity is never compared with where the image was pulled from (Q25).
    """
    if not claim.docker_reference:
        raise SignatureError("signature must have an identity")
    try:
        ImageReference.parse(claim.docker_reference)
    except InvalidReferenceError as err:
        raise SignatureError(f"signature identity is not a valid image reference: {err}") from err
    if claim.manifest_digest != digest:
        raise SignatureError(
            f"signature digest does not match: signed {claim.manifest_digest or '(none)'}, expected {digest}"
        )
    return claim


def validate_release_digest(digest: str) -> str:
    """Check a digest the way library-go does before verifying (non-empty, well formed)."""
    if not digest:
        raise SignatureError("release images that are not accessed via digest cannot be verified")
    if not _DIGEST_RE.match(digest):
        raise SignatureError(f'the provided release image digest has an invalid format: "{digest}"')
    algorithm, _, hex_part = digest.partition(":")
    size = _HEX_SIZES.get(algorithm)
    if size is not None and not (len(hex_part) == size and _HEX_RE.fullmatch(hex_part)):
        raise SignatureError(
            f'the provided release image digest has an invalid format: "{digest}"'
            f" ({algorithm} takes {size} lower case hex digits)"
        )
    return digest


def _exact(value: Any, fields: tuple[str, ...], where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SignatureError(f"invalid signature: {where} is not a JSON object")
    if set(value) != set(fields):
        missing = sorted(set(fields) - set(value))
        extra = sorted(set(value) - set(fields))
        detail = f"missing {', '.join(missing)}" if missing else f"unknown {', '.join(extra)}"
        raise SignatureError(f"invalid signature: {where} has the wrong fields ({detail})")
    return value


def _float_timestamp(value: Any) -> int:
    """containers/image's reading of optional.timestamp: a JSON number as a float64 that converts to an
    int64 and back unchanged (so 2**63 - 1, which is the float 2**63, is refused)."""
    try:
        number = float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
    except OverflowError:
        number = None
    if number is None or not -(2.0**63) <= number < 2.0**63 or number != int(number):
        raise SignatureError("invalid signature: Field optional.timestamp is not an integer")
    return int(number)


def parse_simple_signing_payload(data: bytes) -> AtomicSignature:
    """Parse signed content as containers/image does for policies (signature/simple.go).

    Stricter than library-go on presence (``critical`` and ``optional`` objects both required, every
    critical field present, the digest well formed) and laxer on ``optional`` (unknown keys ignored,
    an integral float timestamp accepted).
    """
    try:
        document = strict_json_loads(data)
    except (ValueError, UnicodeDecodeError) as err:
        raise SignatureError(f"invalid signature: not valid JSON: {err}") from err
    top = _exact(document, ("critical", "optional"), "the signature")
    optional = top["optional"]
    if not isinstance(optional, dict):
        raise SignatureError("invalid signature: optional is not a JSON object")
    creator, timestamp = optional.get("creator"), optional.get("timestamp")
    if creator is not None and not isinstance(creator, str):
        raise SignatureError("invalid signature: optional.creator is not a string")
    if timestamp is not None:
        timestamp = _float_timestamp(timestamp)
    critical = _exact(top["critical"], ("type", "image", "identity"), "critical")
    if critical["type"] != SIGNATURE_TYPE:
        raise SignatureError(f"invalid signature: Unrecognized signature type {critical['type']}")
    digest = _exact(critical["image"], ("docker-manifest-digest",), "critical.image")[
        "docker-manifest-digest"
    ]
    if not isinstance(digest, str) or not _DIGEST_RE.match(digest):
        raise SignatureError(f"invalid signature: invalid docker-manifest-digest value {digest!r}")
    reference = _exact(critical["identity"], ("docker-reference",), "critical.identity")["docker-reference"]
    if not isinstance(reference, str):
        raise SignatureError("invalid signature: critical.identity.docker-reference is not a string")
    return AtomicSignature(reference, digest, creator, timestamp)
