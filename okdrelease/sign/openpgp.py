"""OpenPGP (RFC 4880, version-4 packets) on ``cryptography``: keys, signed messages, armor.

Only what release signatures need: RSA, ECDSA (P-256/P-384/P-521) and EdDSA (Ed25519, the
"legacy" algorithm 22 gpg 2.2 makes) keys to sign with, generated here or exported by gpg,
unprotected or protected by an iterated+salted S2K with AES; public keyrings with RSA, DSA,
ECDSA and EdDSA keys to verify with; one-pass signed messages like ``gpg --sign`` makes.
Every primitive (hashes, RSA, DSA, ECDSA, Ed25519, AES-CFB) comes from ``cryptography`` or
``hashlib``; this module only encodes and decodes the packet format.
"""

from __future__ import annotations

import base64
import bz2
import hashlib
import importlib
import logging
import os
import time
import zlib
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import attrs
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    Prehashed,
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

from okdrelease._repr import value_repr
from okdrelease.errors import SignatureError

log = logging.getLogger(__name__)


def _cfb_mode(iv: bytes) -> Any:
    """AES-CFB mode object (cryptography >= 47 keeps CFB under ``decrepit``)."""
    try:
        module = importlib.import_module("cryptography.hazmat.decrepit.ciphers.modes")
    except ImportError:  # older cryptography
        module = importlib.import_module("cryptography.hazmat.primitives.ciphers.modes")
    return module.CFB(iv)


# Packet tags.
TAG_PKESK = 1
TAG_SIGNATURE = 2
TAG_SKESK = 3
TAG_ONE_PASS = 4
TAG_SECRET_KEY = 5
TAG_PUBLIC_KEY = 6
TAG_SECRET_SUBKEY = 7
TAG_COMPRESSED = 8
TAG_MARKER = 10
TAG_LITERAL = 11
TAG_TRUST = 12
TAG_USER_ID = 13
TAG_PUBLIC_SUBKEY = 14
TAG_USER_ATTRIBUTE = 17
TAG_SEIPD = 18

# Public-key algorithms.
ALGO_RSA = 1
ALGO_RSA_SIGN = 3
ALGO_DSA = 17
ALGO_ECDSA = 19
ALGO_EDDSA = 22

# Signature types.
SIG_BINARY = 0x00
SIG_TEXT = 0x01
SIG_CERT_GENERIC = 0x10
SIG_CERT_POSITIVE = 0x13
SIG_SUBKEY_BINDING = 0x18
SIG_PRIMARY_BINDING = 0x19
SIG_KEY_REVOCATION = 0x20
SIG_SUBKEY_REVOCATION = 0x28

# Signature subpackets.
SUB_CREATED = 2
SUB_SIG_EXPIRES = 3
SUB_KEY_EXPIRES = 9
SUB_ISSUER = 16
SUB_PREF_HASH = 21
SUB_KEY_FLAGS = 27
SUB_FEATURES = 30
SUB_EMBEDDED = 32
SUB_ISSUER_FPR = 33

FLAG_CERTIFY = 0x01
FLAG_SIGN = 0x02

HASH_SHA256 = 8
_HASHES: dict[int, tuple[str, type[hashes.HashAlgorithm]]] = {
    2: ("sha1", hashes.SHA1),
    8: ("sha256", hashes.SHA256),
    9: ("sha384", hashes.SHA384),
    10: ("sha512", hashes.SHA512),
    11: ("sha224", hashes.SHA224),
}
#: Hashes accepted for document signatures: SHA-1 (and anything weaker) is refused.
_DOCUMENT_HASHES = frozenset({8, 9, 10, 11})
_CURVES: dict[bytes, ec.EllipticCurve] = {
    bytes.fromhex("2a8648ce3d030107"): ec.SECP256R1(),
    bytes.fromhex("2b81040022"): ec.SECP384R1(),
    bytes.fromhex("2b81040023"): ec.SECP521R1(),
}
_ED25519_OID = bytes.fromhex("2b06010401da470f01")
# Symmetric algorithms for protected secret keys: id -> key length in bytes (AES only).
_AES_KEY_BYTES = {7: 16, 8: 24, 9: 32}

ARMOR_PUBLIC = "PGP PUBLIC KEY BLOCK"
ARMOR_PRIVATE = "PGP PRIVATE KEY BLOCK"
ARMOR_MESSAGE = "PGP MESSAGE"

_ARMOR_MAX_PACKET = 1 << 24


# ---------------------------------------------------------------------------------------------
# Armor and CRC-24


def crc24(data: bytes) -> int:
    """Return the RFC 4880 CRC-24 of ``data``."""
    crc = 0xB704CE
    for byte in data:
        crc ^= byte << 16
        for _ in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= 0x1864CFB
    return crc & 0xFFFFFF


def armor(data: bytes, kind: str) -> str:
    """ASCII-armor ``data`` as ``-----BEGIN <kind>-----`` with a CRC-24 checksum line."""
    body = base64.b64encode(data).decode("ascii")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    checksum = base64.b64encode(crc24(data).to_bytes(3, "big")).decode("ascii")
    return "\n".join([f"-----BEGIN {kind}-----", "", *lines, f"={checksum}", f"-----END {kind}-----", ""])


def is_armored(data: bytes) -> bool:
    """True when ``data`` starts (after whitespace) with an armor header line."""
    return data.lstrip().startswith(b"-----BEGIN PGP ")


def dearmor(data: bytes | str) -> tuple[str, bytes]:
    """Decode the first armored block of ``data``; return ``(kind, bytes)``; check the CRC when present."""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    lines = [line.rstrip("\r") for line in text.splitlines()]
    start = next((i for i, line in enumerate(lines) if line.startswith("-----BEGIN PGP ")), None)
    if start is None:
        raise SignatureError("no OpenPGP armor header found")
    kind = lines[start][len("-----BEGIN ") :].rstrip("-").strip()
    i = start + 1
    while i < len(lines) and lines[i].strip() and ":" in lines[i]:
        i += 1  # armor headers (Version:, Comment:, ...)
    body: list[str] = []
    checksum: str | None = None
    for line in lines[i:]:
        stripped = line.strip()
        if stripped.startswith("-----END "):
            break
        if not stripped:
            continue
        if stripped.startswith("=") and len(stripped) == 5:
            checksum = stripped[1:]
            continue
        body.append(stripped)
    else:
        raise SignatureError(f"armored {kind} has no END line")
    try:
        raw = base64.b64decode("".join(body), validate=True)
    except ValueError as err:
        raise SignatureError(f"armored {kind} is not valid base64: {err}") from err
    if checksum is not None:
        try:
            expected = int.from_bytes(base64.b64decode(checksum), "big")
        except ValueError as err:
            raise SignatureError(f"armored {kind} has an invalid checksum line") from err
        if expected != crc24(raw):
            raise SignatureError(f"armored {kind} fails its CRC-24 checksum")
    return kind, raw


def _unarmor_any(data: bytes) -> bytes:
    return dearmor(data)[1] if is_armored(data) else data


# ---------------------------------------------------------------------------------------------
# Packets


@attrs.frozen
class Packet:
    """One OpenPGP packet: its tag and body (header removed, partial lengths joined)."""

    __repr__ = value_repr

    tag: int
    body: bytes = attrs.field(repr=False)


def _new_length(data: bytes, pos: int) -> tuple[int, int, bool]:
    """Decode a new-format length at ``pos``; return ``(length, new_pos, partial)``."""
    first = data[pos]
    if first < 192:
        return first, pos + 1, False
    if first < 224:
        if pos + 1 >= len(data):
            raise SignatureError("truncated packet length")
        return ((first - 192) << 8) + data[pos + 1] + 192, pos + 2, False
    if first == 255:
        if pos + 5 > len(data):
            raise SignatureError("truncated packet length")
        return int.from_bytes(data[pos + 1 : pos + 5], "big"), pos + 5, False
    return 1 << (first & 0x1F), pos + 1, True


def parse_packets(data: bytes) -> list[Packet]:
    """Split binary OpenPGP data into packets (old and new headers, partial and indeterminate lengths)."""
    packets: list[Packet] = []
    pos = 0
    while pos < len(data):
        ctb = data[pos]
        if not ctb & 0x80:
            raise SignatureError(f"invalid OpenPGP packet header byte 0x{ctb:02x} at offset {pos}")
        pos += 1
        if ctb & 0x40:
            tag = ctb & 0x3F
            chunks: list[bytes] = []
            while True:
                if pos >= len(data):
                    raise SignatureError("truncated OpenPGP packet header")
                length, pos, partial = _new_length(data, pos)
                if pos + length > len(data):
                    raise SignatureError(f"truncated OpenPGP packet (tag {tag})")
                chunks.append(data[pos : pos + length])
                pos += length
                if not partial:
                    break
            packets.append(Packet(tag, b"".join(chunks)))
            continue
        tag = (ctb >> 2) & 0x0F
        length_type = ctb & 0x03
        if length_type == 3:
            packets.append(Packet(tag, data[pos:]))
            break
        size = (1, 2, 4)[length_type]
        if pos + size > len(data):
            raise SignatureError("truncated OpenPGP packet header")
        length = int.from_bytes(data[pos : pos + size], "big")
        pos += size
        if pos + length > len(data):
            raise SignatureError(f"truncated OpenPGP packet (tag {tag})")
        packets.append(Packet(tag, data[pos : pos + length]))
        pos += length
    return packets


def encode_packet(tag: int, body: bytes) -> bytes:
    """Encode a packet with a new-format header and a definite length."""
    length = len(body)
    if length < 192:
        header = bytes([length])
    elif length < 8384:
        length -= 192
        header = bytes([(length >> 8) + 192, length & 0xFF])
    else:
        header = b"\xff" + length.to_bytes(4, "big")
    return bytes([0xC0 | tag]) + header + body


def _mpi(value: int) -> bytes:
    bits = value.bit_length()
    return bits.to_bytes(2, "big") + value.to_bytes((bits + 7) // 8, "big")


class _Reader:
    """A cursor over a packet body that raises SignatureError when it runs out."""

    def __init__(self, data: bytes, what: str) -> None:
        self.data = data
        self.pos = 0
        self.what = what

    def take(self, count: int) -> bytes:
        if count < 0 or self.pos + count > len(self.data):
            raise SignatureError(f"truncated {self.what}")
        out = self.data[self.pos : self.pos + count]
        self.pos += count
        return out

    def byte(self) -> int:
        return self.take(1)[0]

    def uint(self, size: int) -> int:
        return int.from_bytes(self.take(size), "big")

    def mpi_bytes(self) -> bytes:
        bits = self.uint(2)
        return self.take((bits + 7) // 8)

    def mpi(self) -> int:
        return int.from_bytes(self.mpi_bytes(), "big")

    def rest(self) -> bytes:
        out = self.data[self.pos :]
        self.pos = len(self.data)
        return out

    @property
    def remaining(self) -> int:
        return len(self.data) - self.pos


# ---------------------------------------------------------------------------------------------
# Keys


if TYPE_CHECKING:  # naming dsa.DSAPublicKey at run time warns (DSA deprecated, cryptography 51+)
    PublicKeyMaterial = (
        rsa.RSAPublicKey | dsa.DSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey
    )


@attrs.frozen
class PublicKey:
    """A version-4 public key or subkey packet, parsed."""

    __repr__ = value_repr

    algorithm: int
    created: int
    material: PublicKeyMaterial | None = attrs.field(eq=False, repr=False)
    body: bytes = attrs.field(repr=False)

    @property
    def fingerprint(self) -> str:
        """The v4 fingerprint as 40 upper-case hex digits."""
        return hashlib.sha1(self.hash_prefix()).hexdigest().upper()

    @property
    def key_id(self) -> str:
        """The key id: the last 16 hex digits of the fingerprint."""
        return self.fingerprint[-16:]

    def hash_prefix(self) -> bytes:
        """The bytes hashed for fingerprints and key signatures: 0x99, 2-byte length, body."""
        return b"\x99" + len(self.body).to_bytes(2, "big") + self.body


def _parse_public_key_body(body: bytes) -> tuple[PublicKey, int]:
    """Parse a v4 public key body; return the key and where its public part ends."""
    reader = _Reader(body, "public key packet")
    version = reader.byte()
    if version != 4:
        raise SignatureError(f"unsupported OpenPGP key version {version}")
    created = reader.uint(4)
    algorithm = reader.byte()
    material: PublicKeyMaterial | None = None
    try:
        if algorithm in (ALGO_RSA, ALGO_RSA_SIGN, 2):
            n = reader.mpi()
            e = reader.mpi()
            material = rsa.RSAPublicNumbers(e, n).public_key()
        elif algorithm == ALGO_DSA:
            p, q, g, y = reader.mpi(), reader.mpi(), reader.mpi(), reader.mpi()
            material = dsa.DSAPublicNumbers(y, dsa.DSAParameterNumbers(p, q, g)).public_key()
        elif algorithm in (ALGO_ECDSA, 18, ALGO_EDDSA):
            oid = reader.take(reader.byte())
            point = reader.mpi_bytes()
            if algorithm == 18:
                reader.take(reader.byte())  # ECDH KDF parameters
            elif algorithm == ALGO_ECDSA and oid in _CURVES:
                material = ec.EllipticCurvePublicKey.from_encoded_point(_CURVES[oid], point)
            elif algorithm == ALGO_EDDSA and oid == _ED25519_OID and point[:1] == b"\x40":
                material = ed25519.Ed25519PublicKey.from_public_bytes(point[1:])
        elif algorithm == 16:  # ElGamal (encryption only)
            reader.mpi(), reader.mpi(), reader.mpi()
        else:
            reader.rest()
    except (ValueError, UnsupportedAlgorithm) as err:
        raise SignatureError(f"invalid OpenPGP public key material (algorithm {algorithm}): {err}") from err
    end = reader.pos
    return PublicKey(algorithm, created, material, body[:end]), end


@attrs.frozen
class Subkey:
    """A subkey with what its binding and revocation signatures say (both checked)."""

    __repr__ = value_repr

    key: PublicKey
    flags: int | None
    expires: int | None
    revoked: bool


@attrs.frozen
class Certificate:
    """A transferable public key: primary key, user ids, subkeys (all self-signatures checked)."""

    __repr__ = value_repr

    primary: PublicKey
    user_ids: tuple[str, ...]
    subkeys: tuple[Subkey, ...]
    flags: int | None = None
    expires: int | None = None
    revoked: bool = False

    @property
    def fingerprint(self) -> str:
        """The primary key fingerprint."""
        return self.primary.fingerprint


# ---------------------------------------------------------------------------------------------
# Signatures


@attrs.frozen
class Signature:
    """A parsed signature packet (version 3 or 4)."""

    __repr__ = value_repr

    version: int
    sig_type: int
    pub_algorithm: int
    hash_algorithm: int
    hashed_area: bytes = attrs.field(repr=False)
    hashed: tuple[tuple[int, bytes], ...] = attrs.field(repr=False)
    unhashed: tuple[tuple[int, bytes], ...] = attrs.field(repr=False)
    left16: bytes = attrs.field(repr=False)
    values: tuple[bytes, ...] = attrs.field(repr=False)
    v3_created: int = 0
    v3_issuer: bytes = b""

    def _sub(self, kind: int, hashed_only: bool = True) -> bytes | None:
        for sub_kind, value in self.hashed:
            if sub_kind == kind:
                return value
        if not hashed_only:
            for sub_kind, value in self.unhashed:
                if sub_kind == kind:
                    return value
        return None

    @property
    def created(self) -> int:
        """Signature creation time (seconds since the epoch; 0 when absent)."""
        if self.version == 3:
            return self.v3_created
        value = self._sub(SUB_CREATED)
        return int.from_bytes(value, "big") if value else 0

    @property
    def lifetime(self) -> int:
        """Signature lifetime in seconds (0 = never expires)."""
        value = self._sub(SUB_SIG_EXPIRES)
        return int.from_bytes(value, "big") if value else 0

    @property
    def key_lifetime(self) -> int:
        """Key expiration offset from key creation (0 = never); meaningful on self-signatures."""
        value = self._sub(SUB_KEY_EXPIRES)
        return int.from_bytes(value, "big") if value else 0

    @property
    def key_flags(self) -> int | None:
        """The key-flags subpacket's first byte, or None."""
        value = self._sub(SUB_KEY_FLAGS)
        return value[0] if value else None

    @property
    def issuer_ids(self) -> list[str]:
        """Issuer key ids (16 upper-case hex) named by the signature, fingerprint subpacket first."""
        ids: list[str] = []
        if self.version == 3:
            return [self.v3_issuer.hex().upper()]
        for kind, value in (*self.hashed, *self.unhashed):
            if kind == SUB_ISSUER_FPR and len(value) == 21:
                ids.append(value[1:].hex().upper()[-16:])
            elif kind == SUB_ISSUER and len(value) == 8:
                ids.append(value.hex().upper())
        return list(dict.fromkeys(ids))

    def embedded(self) -> list[Signature]:
        """Embedded signatures (subpacket 32), e.g. a subkey's primary-key binding."""
        out = []
        for kind, value in (*self.hashed, *self.unhashed):
            if kind == SUB_EMBEDDED:
                out.append(parse_signature(value))
        return out

    def trailer(self) -> bytes:
        """The bytes hashed after the signed data."""
        if self.version == 3:
            return bytes([self.sig_type]) + self.v3_created.to_bytes(4, "big")
        head = bytes([4, self.sig_type, self.pub_algorithm, self.hash_algorithm])
        head += len(self.hashed_area).to_bytes(2, "big") + self.hashed_area
        return head + b"\x04\xff" + len(head).to_bytes(4, "big")


def _parse_subpackets(area: bytes) -> tuple[tuple[int, bytes], ...]:
    out: list[tuple[int, bytes]] = []
    pos = 0
    while pos < len(area):
        length, pos, partial = _new_length(area, pos)
        if partial or length == 0 or pos + length > len(area):
            raise SignatureError("malformed signature subpacket")
        out.append((area[pos] & 0x7F, area[pos + 1 : pos + length]))
        pos += length
    return tuple(out)


def _parse_signature_values(reader: _Reader, algorithm: int) -> tuple[bytes, ...]:
    if algorithm in (ALGO_RSA, ALGO_RSA_SIGN):
        return (reader.mpi_bytes(),)
    if algorithm in (ALGO_DSA, ALGO_ECDSA, ALGO_EDDSA):
        return (reader.mpi_bytes(), reader.mpi_bytes())
    raise SignatureError(f"unsupported signature public-key algorithm {algorithm}")


def parse_signature(body: bytes) -> Signature:
    """Parse a signature packet body (version 3 or 4)."""
    reader = _Reader(body, "signature packet")
    version = reader.byte()
    if version in (2, 3):
        if reader.byte() != 5:
            raise SignatureError("invalid version 3 signature packet")
        sig_type = reader.byte()
        created = reader.uint(4)
        issuer = reader.take(8)
        pub_algorithm = reader.byte()
        hash_algorithm = reader.byte()
        left16 = reader.take(2)
        values = _parse_signature_values(reader, pub_algorithm)
        return Signature(
            3, sig_type, pub_algorithm, hash_algorithm, b"", (), (), left16, values, created, issuer
        )
    if version != 4:
        raise SignatureError(f"unsupported OpenPGP signature version {version}")
    sig_type = reader.byte()
    pub_algorithm = reader.byte()
    hash_algorithm = reader.byte()
    hashed_area = reader.take(reader.uint(2))
    unhashed_area = reader.take(reader.uint(2))
    left16 = reader.take(2)
    values = _parse_signature_values(reader, pub_algorithm)
    return Signature(
        4,
        sig_type,
        pub_algorithm,
        hash_algorithm,
        hashed_area,
        _parse_subpackets(hashed_area),
        _parse_subpackets(unhashed_area),
        left16,
        values,
    )


def _hash_of(signature: Signature, data: bytes) -> tuple[bytes, hashes.HashAlgorithm]:
    entry = _HASHES.get(signature.hash_algorithm)
    if entry is None:
        raise SignatureError(f"unsupported signature hash algorithm {signature.hash_algorithm}")
    name, algorithm = entry
    digest = hashlib.new(name, data + signature.trailer()).digest()
    return digest, algorithm()


def check_signature(signature: Signature, key: PublicKey, data: bytes) -> None:
    """Verify ``signature`` by ``key`` over ``data`` (the signed bytes before the trailer)."""
    digest, algorithm = _hash_of(signature, data)
    if digest[:2] != signature.left16:
        raise SignatureError("hash tag doesn't match")
    material = key.material
    if material is None:
        raise SignatureError(f"unsupported key algorithm {key.algorithm} of key {key.key_id}")
    try:
        if isinstance(material, rsa.RSAPublicKey) and signature.pub_algorithm in (ALGO_RSA, ALGO_RSA_SIGN):
            raw = signature.values[0]
            size = (material.key_size + 7) // 8
            if len(raw) > size:
                raise SignatureError("RSA signature is longer than the key modulus")
            material.verify(raw.rjust(size, b"\0"), digest, padding.PKCS1v15(), Prehashed(algorithm))
        elif signature.pub_algorithm == ALGO_DSA and isinstance(material, dsa.DSAPublicKey):
            r, s = (int.from_bytes(v, "big") for v in signature.values)
            material.verify(encode_dss_signature(r, s), digest, Prehashed(algorithm))
        elif isinstance(material, ec.EllipticCurvePublicKey) and signature.pub_algorithm == ALGO_ECDSA:
            r, s = (int.from_bytes(v, "big") for v in signature.values)
            material.verify(encode_dss_signature(r, s), digest, ec.ECDSA(Prehashed(algorithm)))
        elif isinstance(material, ed25519.Ed25519PublicKey) and signature.pub_algorithm == ALGO_EDDSA:
            r_raw, s_raw = signature.values
            material.verify(r_raw.rjust(32, b"\0") + s_raw.rjust(32, b"\0"), digest)
        else:
            raise SignatureError(
                f"signature algorithm {signature.pub_algorithm} does not match key {key.key_id}"
            )
    except InvalidSignature as err:
        raise SignatureError(f"verification failure with key {key.key_id}") from err


def _uid_hash_data(primary: PublicKey, uid: bytes) -> bytes:
    return primary.hash_prefix() + b"\xb4" + len(uid).to_bytes(4, "big") + uid


def _key_expiry(key: PublicKey, sig: Signature) -> int | None:
    lifetime = sig.key_lifetime
    return key.created + lifetime if lifetime else None


def _build_certificate(packets: Sequence[Packet]) -> Certificate:
    primary, _ = _parse_public_key_body(packets[0].body)
    user_ids: list[str] = []
    subkeys: list[Subkey] = []
    flags: int | None = None
    expires: int | None = None
    revoked = False
    best_self_sig = -1
    current_uid: bytes | None = None
    current_sub: PublicKey | None = None
    sub_state: dict[str, tuple[int, int | None, int | None, bool]] = {}
    for packet in packets[1:]:
        if packet.tag in (TAG_USER_ID, TAG_USER_ATTRIBUTE):
            current_uid = packet.body if packet.tag == TAG_USER_ID else None
            current_sub = None
            if packet.tag == TAG_USER_ID:
                user_ids.append(packet.body.decode("utf-8", "replace"))
        elif packet.tag in (TAG_PUBLIC_SUBKEY, TAG_SECRET_SUBKEY):
            current_sub, _ = _parse_public_key_body(packet.body)
            current_uid = None
            subkeys.append(Subkey(current_sub, None, None, False))
            sub_state[current_sub.fingerprint] = (-1, None, None, False)
        elif packet.tag == TAG_SIGNATURE:
            try:
                sig = parse_signature(packet.body)
            except SignatureError as err:
                log.debug("skipping unparsable key signature: %s", err)
                continue
            if primary.key_id not in sig.issuer_ids and sig.sig_type != SIG_PRIMARY_BINDING:
                continue  # third-party certification
            try:
                if sig.sig_type == SIG_KEY_REVOCATION and current_uid is None and current_sub is None:
                    check_signature(sig, primary, primary.hash_prefix())
                    revoked = True
                elif sig.sig_type in range(SIG_CERT_GENERIC, SIG_CERT_POSITIVE + 1) and current_uid:
                    check_signature(sig, primary, _uid_hash_data(primary, current_uid))
                    if sig.created > best_self_sig:
                        best_self_sig = sig.created
                        flags = sig.key_flags
                        expires = _key_expiry(primary, sig)
                elif current_sub is not None and sig.sig_type in (SIG_SUBKEY_BINDING, SIG_SUBKEY_REVOCATION):
                    data = primary.hash_prefix() + current_sub.hash_prefix()
                    check_signature(sig, primary, data)
                    created, sub_flags, sub_expires, sub_revoked = sub_state[current_sub.fingerprint]
                    if sig.sig_type == SIG_SUBKEY_REVOCATION:
                        sub_revoked = True
                    elif sig.created > created:
                        sub_flags = sig.key_flags
                        if sub_flags is not None and sub_flags & FLAG_SIGN:
                            _check_primary_binding(sig, primary, current_sub, data)
                        created, sub_expires = sig.created, _key_expiry(current_sub, sig)
                    sub_state[current_sub.fingerprint] = (created, sub_flags, sub_expires, sub_revoked)
            except SignatureError as err:
                log.debug("ignoring invalid self-signature on key %s: %s", primary.key_id, err)
    bound = []
    for sub in subkeys:
        created, sub_flags, sub_expires, sub_revoked = sub_state[sub.key.fingerprint]
        if created < 0 and not sub_revoked:
            log.debug("ignoring subkey %s without a valid binding signature", sub.key.key_id)
            continue
        bound.append(Subkey(sub.key, sub_flags, sub_expires, sub_revoked or created < 0))
    return Certificate(primary, tuple(user_ids), tuple(bound), flags, expires, revoked)


def _check_primary_binding(sig: Signature, primary: PublicKey, sub: PublicKey, data: bytes) -> None:
    """A signing subkey must cross-certify its primary (embedded 0x19 signature)."""
    for embedded in sig.embedded():
        if embedded.sig_type == SIG_PRIMARY_BINDING:
            check_signature(embedded, sub, data)
            return
    raise SignatureError(f"signing subkey {sub.key_id} has no primary key binding signature")


# ---------------------------------------------------------------------------------------------
# Keyrings


@attrs.frozen
class Keyring:
    """A set of certificates (a public keyring), as read from armored or binary data."""

    __repr__ = value_repr

    certificates: tuple[Certificate, ...]

    @classmethod
    def from_bytes(cls, data: bytes, what: str = "keyring") -> Keyring:
        """Read every transferable public (or secret) key in armored or binary ``data``."""
        try:
            raw = _unarmor_all(data)
            groups = _group_keys(parse_packets(raw))
            certificates = tuple(_build_certificate(group) for group in groups)
        except SignatureError as err:
            raise SignatureError(f"{what} is not a valid OpenPGP keyring: {err}") from err
        if not certificates:
            raise SignatureError(f"{what} contains no OpenPGP keys")
        return cls(certificates)

    def __add__(self, other: Keyring) -> Keyring:
        return Keyring(self.certificates + other.certificates)

    @property
    def fingerprints(self) -> list[str]:
        """Primary key fingerprints, in keyring order."""
        return [cert.fingerprint for cert in self.certificates]

    def find(self, key_id: str) -> list[tuple[Certificate, PublicKey, Subkey | None]]:
        """Return ``(certificate, key, subkey)`` for every key (primary or subkey) with id ``key_id``."""
        out: list[tuple[Certificate, PublicKey, Subkey | None]] = []
        for cert in self.certificates:
            if cert.primary.key_id == key_id:
                out.append((cert, cert.primary, None))
            for sub in cert.subkeys:
                if sub.key.key_id == key_id:
                    out.append((cert, sub.key, sub))
        return out


def _unarmor_all(data: bytes) -> bytes:
    if not is_armored(data):
        return data
    text = data.decode("utf-8", "replace")
    out = b""
    marker = "-----BEGIN PGP "
    pos = text.find(marker)
    while pos >= 0:
        end = text.find("-----END PGP ", pos)
        if end < 0:
            raise SignatureError("armored block has no END line")
        end = text.find("\n", end)
        block = text[pos : len(text) if end < 0 else end]
        out += dearmor(block)[1]
        pos = text.find(marker, len(text) if end < 0 else end)
    return out


def _group_keys(packets: Iterable[Packet]) -> list[list[Packet]]:
    groups: list[list[Packet]] = []
    for packet in packets:
        if packet.tag in (TAG_PUBLIC_KEY, TAG_SECRET_KEY):
            groups.append([packet])
        elif packet.tag in (TAG_TRUST, TAG_MARKER):
            continue
        elif groups:
            groups[-1].append(packet)
        else:
            raise SignatureError(f"unexpected packet (tag {packet.tag}) before a key packet")
    return groups


# ---------------------------------------------------------------------------------------------
# Secret keys


PrivateKeyMaterial = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
#: Public-key algorithms okdrelease signs with.
_SIGNING_ALGORITHMS = frozenset({ALGO_RSA, ALGO_RSA_SIGN, ALGO_ECDSA, ALGO_EDDSA})
#: ECDSA hashes by curve: at least as long as the curve order, as gpg picks them.
_EC_HASH = {"secp256r1": 8, "secp384r1": 9, "secp521r1": 10}
#: Key algorithms ``generate_key`` makes (gpg's names).
KEY_ALGORITHMS = ("rsa2048", "rsa3072", "rsa4096", "ed25519", "nistp256", "nistp384", "nistp521")
#: S2K for protected secret keys: iterated+salted (3), SHA-256 (8), AES-256 (9), count byte 0xFF
#: (65011712 bytes hashed, gpg's upper calibration), SHA-1 check of the cleartext (usage 254).
_S2K_ITERATED, _S2K_COUNT, _CIPHER_AES256 = 3, 0xFF, 9


@attrs.frozen
class SecretKey:
    """A signing key (RSA, ECDSA or EdDSA) with its OpenPGP public packets (for export and for signing)."""

    __repr__ = value_repr

    private: PrivateKeyMaterial = attrs.field(repr=False)
    public: PublicKey
    primary: PublicKey
    user_ids: tuple[str, ...] = ()
    #: The transferable public key (binary packets including self-signatures).
    public_packets: bytes = attrs.field(default=b"", repr=False)

    @property
    def fingerprint(self) -> str:
        """Fingerprint of the primary key."""
        return self.primary.fingerprint

    @property
    def signing_fingerprint(self) -> str:
        """Fingerprint of the key that makes signatures (the primary or a signing subkey)."""
        return self.public.fingerprint

    def sign(self, data: bytes) -> bytes:
        """A binary one-pass signed message of ``data`` (the ``Signer`` protocol)."""
        return sign_message(self, data)

    def export_public(self) -> str:
        """The armored transferable public key."""
        return armor(self.public_packets, ARMOR_PUBLIC)

    def export_secret(self, passphrase: bytes | str | None = None) -> str:
        """An armored secret key (primary secret key packet plus the public packets).

        With ``passphrase`` the secret part is protected as gpg protects it: iterated+salted
        SHA-256 S2K, AES-256 in CFB mode, SHA-1 check; an empty passphrase is refused.
        """
        if self.public != self.primary:
            raise SignatureError("exporting an imported key with a signing subkey is not supported")
        if isinstance(passphrase, str):
            passphrase = passphrase.encode("utf-8")
        material = _secret_material(self.private)
        if passphrase is None:
            secret = b"\x00" + material + (sum(material) & 0xFFFF).to_bytes(2, "big")
        elif not passphrase:
            raise SignatureError("refusing to protect a secret key with an empty passphrase")
        else:
            secret = _protect(material, passphrase)
        packets = parse_packets(self.public_packets)
        out = encode_packet(TAG_SECRET_KEY, self.primary.body + secret)
        for packet in packets[1:]:
            out += encode_packet(packet.tag, packet.body)
        return armor(out, ARMOR_PRIVATE)

    def keyring(self) -> Keyring:
        """The public keyring of this key."""
        return Keyring.from_bytes(self.public_packets, "generated key")


def _secret_material(key: PrivateKeyMaterial) -> bytes:
    """The cleartext secret MPIs of a key, in OpenPGP order."""
    if isinstance(key, ed25519.Ed25519PrivateKey):
        raw = key.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        return _mpi(int.from_bytes(raw, "big"))
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return _mpi(key.private_numbers().private_value)
    numbers = key.private_numbers()
    # OpenPGP wants p < q and u = p^-1 mod q; cryptography's iqmp = q^-1 mod p, so swap p and q.
    p, q = sorted((numbers.p, numbers.q))
    return _mpi(numbers.d) + _mpi(p) + _mpi(q) + _mpi(pow(p, -1, q))


def _protect(material: bytes, passphrase: bytes) -> bytes:
    """S2K usage 254: AES-256-CFB over ``material`` + SHA-1(material), key from iterated+salted SHA-256."""
    salt = os.urandom(8)
    iv = os.urandom(16)
    key = _s2k_derive(_S2K_ITERATED, HASH_SHA256, salt, _s2k_count(_S2K_COUNT), passphrase, 32)
    encryptor = Cipher(algorithms.AES(key), _cfb_mode(iv)).encryptor()
    plain = material + hashlib.sha1(material).digest()
    encrypted = encryptor.update(plain) + encryptor.finalize()
    s2k = bytes([_S2K_ITERATED, HASH_SHA256]) + salt + bytes([_S2K_COUNT])
    return bytes([254, _CIPHER_AES256]) + s2k + iv + encrypted


def _public_body(key: PublicKeyMaterial, created: int) -> bytes:
    """A v4 public key packet body for ``key``."""
    head = bytes([4]) + created.to_bytes(4, "big")
    if isinstance(key, rsa.RSAPublicKey):
        numbers = key.public_numbers()
        return head + bytes([ALGO_RSA]) + _mpi(numbers.n) + _mpi(numbers.e)
    if isinstance(key, ed25519.Ed25519PublicKey):
        point = b"\x40" + key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        oid = _ED25519_OID
        algorithm = ALGO_EDDSA
    elif isinstance(key, ec.EllipticCurvePublicKey):
        oid = next((o for o, curve in _CURVES.items() if curve.name == key.curve.name), b"")
        if not oid:
            raise SignatureError(f"unsupported elliptic curve {key.curve.name}")
        point = key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        algorithm = ALGO_ECDSA
    else:
        raise SignatureError("DSA keys are not supported for signing")
    return head + bytes([algorithm, len(oid)]) + oid + _mpi(int.from_bytes(point, "big"))


def _subpacket(kind: int, value: bytes) -> bytes:
    length = len(value) + 1
    if length < 192:
        header = bytes([length])
    else:
        length -= 192
        header = bytes([(length >> 8) + 192, length & 0xFF])
    return header + bytes([kind]) + value


def _algorithms_of(private: PrivateKeyMaterial) -> tuple[int, int]:
    """The (public-key algorithm, hash algorithm) a key signs with."""
    if isinstance(private, rsa.RSAPrivateKey):
        return ALGO_RSA, HASH_SHA256
    if isinstance(private, ec.EllipticCurvePrivateKey):
        return ALGO_ECDSA, _EC_HASH.get(private.curve.name, 10)
    return ALGO_EDDSA, HASH_SHA256


def _signature_values(private: PrivateKeyMaterial, digest: bytes, hash_algorithm: int) -> bytes:
    """The signature MPIs of ``digest``: RSA s, ECDSA r and s, EdDSA R and S (native octets as MPIs)."""
    algorithm = _HASHES[hash_algorithm][1]()
    if isinstance(private, rsa.RSAPrivateKey):
        raw = private.sign(digest, padding.PKCS1v15(), Prehashed(algorithm))
        return _mpi(int.from_bytes(raw, "big"))
    if isinstance(private, ec.EllipticCurvePrivateKey):
        r, s = decode_dss_signature(private.sign(digest, ec.ECDSA(Prehashed(algorithm))))
        return _mpi(r) + _mpi(s)
    raw = private.sign(digest)  # legacy EdDSA signs the hash value itself
    return _mpi(int.from_bytes(raw[:32], "big")) + _mpi(int.from_bytes(raw[32:], "big"))


def _make_signature(
    private: PrivateKeyMaterial,
    signer: PublicKey,
    sig_type: int,
    data: bytes,
    created: int,
    extra_hashed: bytes = b"",
) -> bytes:
    """Build a v4 signature packet body over ``data`` (issuer fingerprint and creation time hashed)."""
    pub_algorithm, hash_algorithm = _algorithms_of(private)
    hashed_area = (
        _subpacket(SUB_ISSUER_FPR, b"\x04" + bytes.fromhex(signer.fingerprint))
        + _subpacket(SUB_CREATED, created.to_bytes(4, "big"))
        + extra_hashed
    )
    unhashed_area = _subpacket(SUB_ISSUER, bytes.fromhex(signer.key_id))
    head = bytes([4, sig_type, pub_algorithm, hash_algorithm]) + len(hashed_area).to_bytes(2, "big")
    head += hashed_area
    trailer = head + b"\x04\xff" + len(head).to_bytes(4, "big")
    digest = hashlib.new(_HASHES[hash_algorithm][0], data + trailer).digest()
    values = _signature_values(private, digest, hash_algorithm)
    return head + len(unhashed_area).to_bytes(2, "big") + unhashed_area + digest[:2] + values


def _new_private_key(algorithm: str) -> PrivateKeyMaterial:
    if algorithm == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    curves: dict[str, ec.EllipticCurve] = {
        "nistp256": ec.SECP256R1(),
        "nistp384": ec.SECP384R1(),
        "nistp521": ec.SECP521R1(),
    }
    if algorithm in curves:
        return ec.generate_private_key(curves[algorithm])
    if algorithm.startswith("rsa") and algorithm[3:].isdigit() and int(algorithm[3:]) >= 2048:
        return rsa.generate_private_key(public_exponent=65537, key_size=int(algorithm[3:]))
    raise SignatureError(f"unsupported key algorithm {algorithm!r}: use one of {', '.join(KEY_ALGORITHMS)}")


def generate_key(
    user_id: str, *, bits: int = 4096, created: int | None = None, algorithm: str | None = None
) -> SecretKey:
    """Generate a sign+certify key (RSA of ``bits`` unless ``algorithm`` names another) with one user id."""
    if not user_id:
        raise SignatureError("a key needs a non-empty user id")
    created = int(time.time()) if created is None else created
    return _secret_key_from_private(_new_private_key(algorithm or f"rsa{bits}"), user_id, created)


def _secret_key_from_private(private: PrivateKeyMaterial, user_id: str, created: int) -> SecretKey:
    body = _public_body(private.public_key(), created)
    public, _ = _parse_public_key_body(body)
    uid = user_id.encode("utf-8")
    extra = (
        _subpacket(SUB_KEY_FLAGS, bytes([FLAG_CERTIFY | FLAG_SIGN]))
        + _subpacket(SUB_PREF_HASH, bytes([HASH_SHA256, 10, 9]))
        + _subpacket(SUB_FEATURES, b"\x01")
    )
    cert = _make_signature(private, public, SIG_CERT_POSITIVE, _uid_hash_data(public, uid), created, extra)
    packets = (
        encode_packet(TAG_PUBLIC_KEY, body)
        + encode_packet(TAG_USER_ID, uid)
        + encode_packet(TAG_SIGNATURE, cert)
    )
    return SecretKey(private, public, public, (user_id,), packets)


def _s2k_count(coded: int) -> int:
    return (16 + (coded & 15)) << ((coded >> 4) + 6)


def _s2k_key(reader: _Reader, passphrase: bytes, key_bytes: int) -> bytes:
    kind = reader.byte()
    hash_id = reader.byte()
    if hash_id not in _HASHES:
        raise SignatureError(f"unsupported S2K hash algorithm {hash_id}")
    if kind == 0:
        return _s2k_derive(kind, hash_id, b"", 0, passphrase, key_bytes)
    if kind == 1:
        return _s2k_derive(kind, hash_id, reader.take(8), 0, passphrase, key_bytes)
    if kind == 3:
        salt = reader.take(8)
        return _s2k_derive(kind, hash_id, salt, _s2k_count(reader.byte()), passphrase, key_bytes)
    raise SignatureError(f"unsupported S2K type {kind}")


def _s2k_derive(kind: int, hash_id: int, salt: bytes, count: int, passphrase: bytes, key_bytes: int) -> bytes:
    """RFC 4880 3.7.1: simple, salted or iterated+salted string-to-key."""
    material = salt + passphrase
    total = max(count, len(material))
    out = b""
    preload = 0
    while len(out) < key_bytes:
        hasher = hashlib.new(_HASHES[hash_id][0])
        hasher.update(b"\0" * preload)
        if kind == 3 and material:
            full, tail = divmod(total, len(material))
            chunk = material * min(full, 4096)
            remaining = full
            while remaining > 0:
                step = min(remaining, 4096)
                hasher.update(chunk if step == 4096 else material * step)
                remaining -= step
            hasher.update(material[:tail])
        else:
            hasher.update(material)
        out += hasher.digest()
        preload += 1
    return out[:key_bytes]


def _read_secret_material(body: bytes, public_end: int, passphrase: bytes | None, what: str) -> bytes:
    """Return the cleartext secret MPIs of a secret key packet body (checksum verified)."""
    reader = _Reader(body, what)
    reader.pos = public_end
    usage = reader.byte()
    if usage == 0:
        data = reader.rest()
        material, checksum = data[:-2], data[-2:]
        if (sum(material) & 0xFFFF).to_bytes(2, "big") != checksum:
            raise SignatureError(f"{what}: secret key checksum mismatch")
        return material
    if usage not in (254, 255):
        if usage == 253:
            raise SignatureError(f"{what}: AEAD-protected secret keys are not supported")
        raise SignatureError(f"{what}: unsupported secret key protection (usage {usage})")
    cipher_id = reader.byte()
    key_bytes = _AES_KEY_BYTES.get(cipher_id)
    if key_bytes is None:
        raise SignatureError(f"{what}: unsupported secret key cipher {cipher_id} (AES only)")
    if passphrase is None:
        raise SignatureError(f"{what} is protected by a passphrase; none was given")
    key = _s2k_key(reader, passphrase, key_bytes)
    iv = reader.take(16)
    decryptor = Cipher(algorithms.AES(key), _cfb_mode(iv)).decryptor()
    plain = decryptor.update(reader.rest()) + decryptor.finalize()
    if usage == 254:
        material, check = plain[:-20], plain[-20:]
        if hashlib.sha1(material).digest() != check:
            raise SignatureError(f"{what}: wrong passphrase (or corrupt key)")
        return material
    material, check = plain[:-2], plain[-2:]
    if (sum(material) & 0xFFFF).to_bytes(2, "big") != check:
        raise SignatureError(f"{what}: wrong passphrase (or corrupt key)")
    return material


def _private_from_material(public: PublicKey, material: bytes, what: str) -> PrivateKeyMaterial:
    """Rebuild the ``cryptography`` private key from a key's cleartext secret MPIs (checked against ``public``)."""
    reader = _Reader(material, what)
    key = public.material
    try:
        if isinstance(key, rsa.RSAPublicKey):
            return _rsa_private(key, reader.mpi(), reader.mpi(), reader.mpi())
        if isinstance(key, ec.EllipticCurvePublicKey) and public.algorithm == ALGO_ECDSA:
            private: PrivateKeyMaterial = ec.derive_private_key(reader.mpi(), key.curve)
        elif isinstance(key, ed25519.Ed25519PublicKey):
            private = ed25519.Ed25519PrivateKey.from_private_bytes(reader.mpi_bytes().rjust(32, b"\0"))
        else:
            raise SignatureError(
                f"{what}: key {public.key_id} (algorithm {public.algorithm}) cannot sign; "
                "RSA, ECDSA (P-256, P-384, P-521) and EdDSA (Ed25519) keys can"
            )
    except ValueError as err:
        raise SignatureError(f"{what}: invalid secret key material: {err}") from err
    if _public_body(private.public_key(), public.created) != public.body:
        raise SignatureError(f"{what}: the secret key does not match its public key {public.key_id}")
    return private


def _rsa_private(public: rsa.RSAPublicKey, d: int, p: int, q: int) -> rsa.RSAPrivateKey:
    numbers = rsa.RSAPrivateNumbers(
        p=p,
        q=q,
        d=d,
        dmp1=rsa.rsa_crt_dmp1(d, p),
        dmq1=rsa.rsa_crt_dmq1(d, q),
        iqmp=rsa.rsa_crt_iqmp(p, q),
        public_numbers=public.public_numbers(),
    )
    return numbers.private_key()


def import_secret_key(
    data: bytes,
    passphrase: bytes | str | None = None,
    what: str = "secret key",
    *,
    fingerprint: str | None = None,
) -> SecretKey:
    """Import an armored or binary secret key (``gpg --export-secret-keys``), unprotected or protected.

    With several keys, ``fingerprint`` (of a primary key) selects one; else the first is used.
    The signing key is the newest valid signing subkey whose secret is present, else the primary.
    """
    if isinstance(passphrase, str):
        passphrase = passphrase.encode("utf-8")
    try:
        groups = [g for g in _group_keys(parse_packets(_unarmor_all(data))) if g[0].tag == TAG_SECRET_KEY]
    except SignatureError as err:
        raise SignatureError(f"{what} is not a valid OpenPGP secret key: {err}") from err
    if fingerprint is not None:
        wanted = fingerprint.replace(" ", "").upper()
        groups = [g for g in groups if _parse_public_key_body(g[0].body)[0].fingerprint == wanted]
    if not groups:
        suffix = f" with fingerprint {fingerprint}" if fingerprint else ""
        raise SignatureError(f"{what} contains no OpenPGP secret key{suffix}")
    group = groups[0]
    cert = _build_certificate(group)
    secrets: dict[str, tuple[PublicKey, bytes, int]] = {}
    for packet in group:
        if packet.tag in (TAG_SECRET_KEY, TAG_SECRET_SUBKEY):
            public, end = _parse_public_key_body(packet.body)
            secrets[public.fingerprint] = (public, packet.body, end)
    chosen: PublicKey | None = None
    now = int(time.time())
    for sub in sorted(cert.subkeys, key=lambda s: s.key.created, reverse=True):
        usable = (
            not sub.revoked
            and sub.flags is not None
            and sub.flags & FLAG_SIGN
            and (sub.expires is None or sub.expires > now)
            and sub.key.algorithm in _SIGNING_ALGORITHMS
            and sub.key.material is not None
        )
        if usable and sub.key.fingerprint in secrets and _has_secret(*secrets[sub.key.fingerprint][1:]):
            chosen = sub.key
            break
    if chosen is None:
        chosen = cert.primary
    public, body, end = secrets[chosen.fingerprint]
    if not _has_secret(body, end):
        raise SignatureError(f"{what}: the secret part of key {chosen.key_id} is missing")
    label = f"{what} (key {chosen.key_id})"
    private = _private_from_material(public, _read_secret_material(body, end, passphrase, label), label)
    public_packets = b"".join(
        encode_packet(TAG_PUBLIC_KEY if p.tag == TAG_SECRET_KEY else TAG_PUBLIC_SUBKEY, _public_part(p.body))
        if p.tag in (TAG_SECRET_KEY, TAG_SECRET_SUBKEY)
        else encode_packet(p.tag, p.body)
        for p in group
    )
    return SecretKey(private, chosen, cert.primary, cert.user_ids, public_packets)


def _has_secret(body: bytes, end: int) -> bool:
    """False for a missing secret part or gpg's "gnu-dummy" stub (S2K type 101)."""
    if end >= len(body):
        return False
    return not (body[end] in (254, 255) and len(body) > end + 2 and body[end + 2] == 101)


def _public_part(body: bytes) -> bytes:
    return _parse_public_key_body(body)[0].body


# ---------------------------------------------------------------------------------------------
# Signed messages


def sign_message(key: SecretKey, data: bytes, *, created: int | None = None, filename: str = "") -> bytes:
    """Return a binary one-pass signed message (OPS, literal 'b', v4 signature), as ``gpg --sign``."""
    created = int(time.time()) if created is None else created
    signer = key.public
    pub_algorithm, hash_algorithm = _algorithms_of(key.private)
    ops = bytes([3, SIG_BINARY, hash_algorithm, pub_algorithm]) + bytes.fromhex(signer.key_id) + b"\x01"
    name = filename.encode("utf-8")
    literal = b"b" + bytes([len(name)]) + name + created.to_bytes(4, "big") + data
    signature = _make_signature(key.private, signer, SIG_BINARY, data, created)
    return (
        encode_packet(TAG_ONE_PASS, ops)
        + encode_packet(TAG_LITERAL, literal)
        + encode_packet(TAG_SIGNATURE, signature)
    )


@attrs.frozen
class VerifiedMessage:
    """The content of a signed message whose signature verified, and who signed it."""

    __repr__ = value_repr

    content: bytes = attrs.field(repr=False)
    signer_fingerprint: str
    primary_fingerprint: str
    key_id: str
    created: int


#: The most a signed message may decompress to (library-go reads signatures up to a size limit too).
MAX_DECOMPRESSED = 4 << 20


def _decompress(body: bytes, limit: int) -> bytes:
    """Inflate a compressed packet body, refusing output longer than ``limit`` bytes."""
    if not body:
        raise SignatureError("empty compressed packet")
    algorithm, data = body[0], body[1:]
    decompressor: Any
    if algorithm == 0:
        out = data
    elif algorithm in (1, 2, 3):
        if algorithm == 3:
            decompressor = bz2.BZ2Decompressor()
        else:
            decompressor = zlib.decompressobj(-15 if algorithm == 1 else 15)
        try:
            out = decompressor.decompress(data, limit + 1)
        except (zlib.error, OSError, ValueError, EOFError) as err:
            raise SignatureError(f"corrupt compressed data: {err}") from err
    else:
        raise SignatureError(f"unsupported compression algorithm {algorithm}")
    if len(out) > limit:
        raise SignatureError(f"compressed data expands to more than {limit} bytes")
    return out


def _message_packets(data: bytes, depth: int = 0, limit: int = MAX_DECOMPRESSED) -> Iterator[Packet]:
    for packet in parse_packets(data):
        if packet.tag == TAG_COMPRESSED:
            if depth > 4:
                raise SignatureError("compressed packets nested too deeply")
            yield from _message_packets(_decompress(packet.body, limit), depth + 1, limit)
        elif packet.tag != TAG_MARKER:
            yield packet


def signature_algorithm(message: bytes) -> int:
    """The public-key algorithm of the (first) signature in a signed message."""
    for packet in _message_packets(_unarmor_any(message)):
        if packet.tag == TAG_SIGNATURE:
            return parse_signature(packet.body).pub_algorithm
    raise SignatureError("the message has no signature packet")


def _literal_content(body: bytes) -> bytes:
    reader = _Reader(body, "literal data packet")
    reader.byte()
    reader.take(reader.byte())
    reader.uint(4)
    return reader.rest()


def verify_message(data: bytes, keyring: Keyring, *, now: float | None = None) -> VerifiedMessage:
    """Verify a signed message (binary or armored) against ``keyring``; return its literal content.

    Follows library-go and containers/image: the message must be signed by a key of the keyring,
    the signature must verify and must not have expired; errors use their wording.
    """
    now = time.time() if now is None else now
    try:
        packets = list(_message_packets(_unarmor_any(data)))
    except SignatureError as err:
        raise SignatureError(f"could not read the message: {err}") from err
    if any(p.tag in (TAG_PKESK, TAG_SKESK, TAG_SEIPD, 9) for p in packets):
        raise SignatureError("not signed: the message is encrypted")
    literals = [p for p in packets if p.tag == TAG_LITERAL]
    one_pass = [p for p in packets if p.tag == TAG_ONE_PASS]
    signatures = [p for p in packets if p.tag == TAG_SIGNATURE]
    if len(literals) != 1:
        raise SignatureError(
            f"could not read the message: expected one literal data packet, found {len(literals)}"
        )
    if not one_pass and not signatures:
        raise SignatureError("not signed")
    if not signatures:
        raise SignatureError("signature error: the message has no signature packet")
    if len(signatures) != 1:
        raise SignatureError(f"could not read the message: expected one signature, found {len(signatures)}")
    try:
        content = _literal_content(literals[0].body)
        parsed = [parse_signature(p.body) for p in signatures]
        if one_pass:
            _check_one_pass(one_pass, parsed[0])
    except SignatureError as err:
        raise SignatureError(f"could not read the message: {err}") from err
    errors: list[str] = []
    for signature in parsed:
        candidates = [c for key_id in signature.issuer_ids for c in keyring.find(key_id)]
        if not candidates:
            errors.append(f"unknown signing key {', '.join(signature.issuer_ids) or '(no issuer)'}")
            continue
        for cert, key, sub in candidates:
            try:
                _check_signer(cert, key, sub, signature)
                if signature.sig_type not in (SIG_BINARY, SIG_TEXT):
                    raise SignatureError(f"unexpected signature type 0x{signature.sig_type:02x}")
                if signature.hash_algorithm not in _DOCUMENT_HASHES:
                    raise SignatureError(
                        f"signature hash algorithm {signature.hash_algorithm} is too weak or unsupported"
                    )
                signed = content
                if signature.sig_type == SIG_TEXT:  # text mode: lines end in CR LF when hashed
                    signed = b"\r\n".join(line.rstrip(b"\r") for line in content.split(b"\n"))
                check_signature(signature, key, signed)
            except SignatureError as err:
                errors.append(str(err))
                continue
            if signature.lifetime and now > signature.created + signature.lifetime:
                expiry = time.strftime(
                    "%Y-%m-%d %H:%M:%S +0000 UTC", time.gmtime(signature.created + signature.lifetime)
                )
                raise SignatureError(f"signature expired on {expiry}")
            return VerifiedMessage(content, key.fingerprint, cert.fingerprint, key.key_id, signature.created)
    if all(e.startswith("unknown signing key") for e in errors):
        raise SignatureError(f"invalid signature: {'; '.join(errors)}")
    raise SignatureError(f"signature error: {'; '.join(errors)}")


def _check_one_pass(one_pass: Sequence[Packet], signature: Signature) -> None:
    """The one-pass header must announce exactly the signature that follows (type, algorithms, key)."""
    if len(one_pass) != 1:
        raise SignatureError(f"expected one one-pass signature packet, found {len(one_pass)}")
    body = one_pass[0].body
    if len(body) != 13 or body[0] != 3:
        raise SignatureError("malformed one-pass signature packet")
    announced = (body[1], body[2], body[3])
    actual = (signature.sig_type, signature.hash_algorithm, signature.pub_algorithm)
    key_id = body[4:12].hex().upper()
    if announced != actual or key_id not in signature.issuer_ids:
        raise SignatureError("the one-pass signature packet does not match the signature packet")


def _check_signer(cert: Certificate, key: PublicKey, sub: Subkey | None, signature: Signature) -> None:
    if cert.revoked:
        raise SignatureError(f"key {cert.primary.key_id} is revoked")
    if sub is None:
        if cert.flags is not None and not cert.flags & FLAG_SIGN:
            raise SignatureError(f"key {key.key_id} is not a signing key")
        if cert.expires is not None and signature.created > cert.expires:
            raise SignatureError(f"key {key.key_id} had expired when the signature was made")
        return
    if sub.revoked:
        raise SignatureError(f"signing subkey {key.key_id} is revoked")
    if sub.flags is None or not sub.flags & FLAG_SIGN:
        raise SignatureError(f"subkey {key.key_id} is not a signing key")
    if sub.expires is not None and signature.created > sub.expires:
        raise SignatureError(f"subkey {key.key_id} had expired when the signature was made")


def load_keyring(path: str, data: bytes | None = None) -> Keyring:
    """Read a keyring file (armored or binary)."""
    if data is None:
        from okdrelease.sign.files import read_bounded

        data = read_bounded(path, "keyring")
    return Keyring.from_bytes(data, path)


def load_secret_key(
    path: str, passphrase: bytes | str | None = None, *, fingerprint: str | None = None
) -> SecretKey:
    """Read a secret key file (armored or binary)."""
    from okdrelease.sign.files import read_bounded

    data = read_bounded(path, "secret key")
    return import_secret_key(data, passphrase, path, fingerprint=fingerprint)
