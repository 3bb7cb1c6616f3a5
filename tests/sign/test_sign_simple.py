"""The atomic container signature payload: exact bytes and strict parsing."""

from __future__ import annotations

import json

import pytest

from okdrelease.errors import SignatureError
from okdrelease.sign.simple import (
    AtomicSignature,
    check_signature_claims,
    new_signature_payload,
    parse_signature_payload,
    validate_release_digest,
)

DIGEST = "sha256:" + "0123456789abcdef" * 4


def test_payload_bytes_match_oc_to_signature() -> None:
    payload = new_signature_payload(
        f"quay.io/me/release@{DIGEST}", DIGEST, "oc-adm-release-new/6b8e30c5b", 1700000000
    )
    assert payload == (
        b'{\n  "critical": {\n    "type": "atomic container signature",\n    "image": {\n'
        b'      "docker-manifest-digest": "' + DIGEST.encode() + b'"\n    },\n    "identity": {\n'
        b'      "docker-reference": "quay.io/me/release@' + DIGEST.encode() + b'"\n    }\n  },\n'
        b'  "optional": {\n    "creator": "oc-adm-release-new/6b8e30c5b",\n    "timestamp": 1700000000\n  }\n}'
    )


@pytest.mark.parametrize(
    "args",
    [("", DIGEST, "c", 1), ("r", "", "c", 1), ("r", DIGEST, "", 1), ("r", DIGEST, "c", 0)],
)
def test_payload_needs_every_input(args: tuple[str, str, str, int]) -> None:
    with pytest.raises(
        SignatureError,
        match="^you must specify a signer, current timestamp, release digest, and pull spec to sign$",
    ):
        new_signature_payload(*args)


def test_parse_round_trip_and_missing_optional() -> None:
    claim = AtomicSignature("quay.io/a/b", DIGEST, "me", 5)
    assert parse_signature_payload(claim.to_bytes()) == claim
    bare = json.dumps(
        {
            "critical": {
                "type": "atomic container signature",
                "image": {"docker-manifest-digest": DIGEST},
                "identity": {"docker-reference": "x/y"},
            }
        }
    )
    assert parse_signature_payload(bare.encode()) == AtomicSignature("x/y", DIGEST)


@pytest.mark.parametrize(
    ("mutate", "error"),
    [
        (lambda d: d.update(extra=1), 'unknown field "extra" in the signature'),
        (lambda d: d["critical"].update(extra=1), 'unknown field "extra" in critical'),
        (lambda d: d["critical"]["image"].update(size=1), 'unknown field "size" in critical.image'),
        (lambda d: d["critical"]["identity"].update(tag="x"), 'unknown field "tag" in critical.identity'),
        (lambda d: d["optional"].update(foo="x"), 'unknown field "foo" in optional'),
        (lambda d: d["optional"].update(timestamp=1.5), 'field "timestamp" in optional has the wrong type'),
        (lambda d: d["optional"].update(timestamp="1"), 'field "timestamp" in optional has the wrong type'),
        (lambda d: d["critical"].update(image="x"), 'field "image" in critical has the wrong type'),
    ],
)
def test_strict_parse_refuses(mutate, error: str) -> None:  # type: ignore[no-untyped-def]
    document = json.loads(AtomicSignature("quay.io/a/b", DIGEST, "me", 5).to_bytes())
    mutate(document)
    with pytest.raises(SignatureError) as info:
        parse_signature_payload(json.dumps(document).encode())
    assert str(info.value) == f"the signature is not valid JSON: {error}"


def test_wrong_type_and_claims() -> None:
    document = json.loads(AtomicSignature("quay.io/a/b", DIGEST).to_bytes())
    document["critical"]["type"] = "cosign container image signature"
    with pytest.raises(SignatureError, match="^signature is not the correct type$"):
        parse_signature_payload(json.dumps(document).encode())
    with pytest.raises(SignatureError, match="^signature must have an identity$"):
        check_signature_claims(AtomicSignature("", DIGEST), DIGEST)
    with pytest.raises(SignatureError, match="^signature digest does not match"):
        check_signature_claims(AtomicSignature("a/b", DIGEST), "sha256:" + "f" * 64)
    assert (
        check_signature_claims(AtomicSignature("mirror.local:5000/a/b:tag", DIGEST), DIGEST).docker_reference
        == "mirror.local:5000/a/b:tag"
    )


def test_release_digest_checks() -> None:
    assert validate_release_digest(DIGEST) == DIGEST
    with pytest.raises(
        SignatureError, match="^release images that are not accessed via digest cannot be verified$"
    ):
        validate_release_digest("")
    with pytest.raises(
        SignatureError, match='^the provided release image digest has an invalid format: "sha256:a/b"$'
    ):
        validate_release_digest("sha256:a/b")
