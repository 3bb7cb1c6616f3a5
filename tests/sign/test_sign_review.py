"""Security review: malicious signed messages and payloads are refused with a clean SignatureError."""

from __future__ import annotations

import hashlib
import json
import zlib

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from okdrelease.errors import SignatureError
from okdrelease.sign import openpgp as pgp
from okdrelease.sign.cosign import parse_cosign_payload
from okdrelease.sign.simple import parse_signature_payload

CREATED = 1_700_000_000


@pytest.fixture(scope="module")
def key() -> pgp.SecretKey:
    """A small RSA key (fast) with a sign+certify self-signature."""
    return pgp.generate_key("Review <review@example.com>", bits=2048, created=CREATED)


@pytest.fixture(scope="module")
def other() -> pgp.SecretKey:
    """A second key that is not in the keyring."""
    return pgp.generate_key("Other <other@example.com>", bits=2048, created=CREATED)


def _ring(key: pgp.SecretKey) -> pgp.Keyring:
    return pgp.Keyring.from_bytes(key.public_packets, "test keyring")


def _ops(key: pgp.SecretKey, hash_algorithm: int = pgp.HASH_SHA256) -> bytes:
    body = (
        bytes([3, pgp.SIG_BINARY, hash_algorithm, pgp.ALGO_RSA]) + bytes.fromhex(key.public.key_id) + b"\x01"
    )
    return pgp.encode_packet(pgp.TAG_ONE_PASS, body)


def _literal(data: bytes) -> bytes:
    return pgp.encode_packet(pgp.TAG_LITERAL, b"b\x00" + CREATED.to_bytes(4, "big") + data)


def _sig(key: pgp.SecretKey, data: bytes) -> bytes:
    body = pgp._make_signature(key.private, key.public, pgp.SIG_BINARY, data, CREATED)
    return pgp.encode_packet(pgp.TAG_SIGNATURE, body)


def test_well_formed_message_verifies(key: pgp.SecretKey) -> None:
    message = _ops(key) + _literal(b"payload") + _sig(key, b"payload")
    assert pgp.verify_message(message, _ring(key)).content == b"payload"


def test_decompression_bomb_is_refused(key: pgp.SecretKey) -> None:
    data = b"\0" * (pgp.MAX_DECOMPRESSED + 1024)
    compressed = pgp.encode_packet(pgp.TAG_COMPRESSED, b"\x02" + zlib.compress(_literal(data), 9))
    message = _ops(key) + compressed + _sig(key, data)
    with pytest.raises(SignatureError, match=f"expands to more than {pgp.MAX_DECOMPRESSED} bytes"):
        pgp.verify_message(message, _ring(key))


def test_compressed_message_within_the_limit_verifies(key: pgp.SecretKey) -> None:
    compressed = pgp.encode_packet(pgp.TAG_COMPRESSED, b"\x01" + zlib.compress(_literal(b"small"))[2:-4])
    message = _ops(key) + compressed + _sig(key, b"small")
    assert pgp.verify_message(message, _ring(key)).content == b"small"


def test_several_signatures_are_refused(key: pgp.SecretKey, other: pgp.SecretKey) -> None:
    message = _ops(other) + _ops(key) + _literal(b"x") + _sig(key, b"x") + _sig(other, b"x")
    with pytest.raises(SignatureError, match="expected one signature, found 2"):
        pgp.verify_message(message, _ring(key))


def test_one_pass_hash_mismatch_is_refused(key: pgp.SecretKey) -> None:
    message = _ops(key, hash_algorithm=10) + _literal(b"x") + _sig(key, b"x")
    with pytest.raises(SignatureError, match="one-pass signature packet does not match"):
        pgp.verify_message(message, _ring(key))


def test_one_pass_key_id_mismatch_is_refused(key: pgp.SecretKey, other: pgp.SecretKey) -> None:
    message = _ops(other) + _literal(b"x") + _sig(key, b"x")
    with pytest.raises(SignatureError, match="one-pass signature packet does not match"):
        pgp.verify_message(message, _ring(key))


def _sha1_signature(key: pgp.SecretKey, data: bytes) -> bytes:
    hashed = pgp._subpacket(pgp.SUB_CREATED, CREATED.to_bytes(4, "big"))
    unhashed = pgp._subpacket(pgp.SUB_ISSUER, bytes.fromhex(key.public.key_id))
    head = bytes([4, pgp.SIG_BINARY, pgp.ALGO_RSA, 2]) + len(hashed).to_bytes(2, "big") + hashed
    digest = hashlib.sha1(data + head + b"\x04\xff" + len(head).to_bytes(4, "big")).digest()
    raw = key.private.sign(digest, padding.PKCS1v15(), Prehashed(hashes.SHA1()))
    body = (
        head + len(unhashed).to_bytes(2, "big") + unhashed + digest[:2] + pgp._mpi(int.from_bytes(raw, "big"))
    )
    return pgp.encode_packet(pgp.TAG_SIGNATURE, body)


def test_sha1_document_signature_is_refused(key: pgp.SecretKey) -> None:
    message = _literal(b"x") + _sha1_signature(key, b"x")
    with pytest.raises(SignatureError, match="hash algorithm 2 is too weak"):
        pgp.verify_message(message, _ring(key))


def test_primary_key_without_sign_flag_cannot_sign(key: pgp.SecretKey) -> None:
    uid = b"Certify Only <c@example.com>"
    flags = pgp._subpacket(pgp.SUB_KEY_FLAGS, bytes([pgp.FLAG_CERTIFY]))
    cert = pgp._make_signature(
        key.private, key.public, pgp.SIG_CERT_POSITIVE, pgp._uid_hash_data(key.public, uid), CREATED, flags
    )
    ring_bytes = (
        pgp.encode_packet(pgp.TAG_PUBLIC_KEY, key.public.body)
        + pgp.encode_packet(pgp.TAG_USER_ID, uid)
        + pgp.encode_packet(pgp.TAG_SIGNATURE, cert)
    )
    ring = pgp.Keyring.from_bytes(ring_bytes, "certify-only keyring")
    assert ring.certificates[0].flags == pgp.FLAG_CERTIFY
    with pytest.raises(SignatureError, match=f"key {key.public.key_id} is not a signing key"):
        pgp.verify_message(_literal(b"x") + _sig(key, b"x"), ring)


def test_subkey_without_key_flags_cannot_sign() -> None:
    primary = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    sub = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    main = pgp._secret_key_from_private(primary, "Primary <p@example.com>", CREATED)
    sub_public, _ = pgp._parse_public_key_body(pgp._public_body(sub.public_key(), CREATED))
    binding = pgp._make_signature(
        primary,
        main.public,
        pgp.SIG_SUBKEY_BINDING,
        main.public.hash_prefix() + sub_public.hash_prefix(),
        CREATED,
    )
    ring = pgp.Keyring.from_bytes(
        main.public_packets
        + pgp.encode_packet(pgp.TAG_PUBLIC_SUBKEY, sub_public.body)
        + pgp.encode_packet(pgp.TAG_SIGNATURE, binding),
        "keyring",
    )
    assert ring.certificates[0].subkeys[0].flags is None
    signature = pgp._make_signature(sub, sub_public, pgp.SIG_BINARY, b"x", CREATED)
    message = _literal(b"x") + pgp.encode_packet(pgp.TAG_SIGNATURE, signature)
    with pytest.raises(SignatureError, match=f"subkey {sub_public.key_id} is not a signing key"):
        pgp.verify_message(message, ring)


@pytest.mark.parametrize("bad", [b"\xc2\xff\xff", b"\xcb\x05ab", b"\xcb\xe1abc", b"\x88"])
def test_malformed_packets_raise_signature_error(key: pgp.SecretKey, bad: bytes) -> None:
    with pytest.raises(SignatureError, match="could not read the message"):
        pgp.verify_message(bad, _ring(key))


_DUPLICATE = (
    b'{"critical": {"type": "atomic container signature",'
    b' "image": {"docker-manifest-digest": "sha256:aa"},'
    b' "identity": {"docker-reference": "example.com/a:1"},'
    b' "image": {"docker-manifest-digest": "sha256:bb"}}, "optional": {}}'
)


def test_atomic_payload_duplicate_keys_are_refused() -> None:
    with pytest.raises(SignatureError, match='duplicate field "image"'):
        parse_signature_payload(_DUPLICATE)


def test_cosign_payload_duplicate_keys_are_refused() -> None:
    payload = _DUPLICATE.replace(b"atomic container signature", b"cosign container image signature")
    assert json.loads(payload)["critical"]["image"]["docker-manifest-digest"] == "sha256:bb"
    with pytest.raises(SignatureError, match='duplicate field "image"'):
        parse_cosign_payload(payload)
