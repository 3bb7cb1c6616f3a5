"""cosign-compatible key-based signatures: keys in cosign's format and the ``sha256-<hex>.sig`` tag.

Keys: ECDSA P-256; the private key is PKCS#8 DER sealed with scrypt + NaCl secretbox in a PEM
``ENCRYPTED SIGSTORE PRIVATE KEY`` (go-securesystemslib ``encrypted`` JSON), as cosign writes it.
Signatures: ASN.1 ECDSA over SHA-256 of the simple-signing payload, stored as layers of an OCI
manifest tagged ``sha256-<hex>.sig`` in the image's repository (the legacy layout cosign v2 and v3 read).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
from collections.abc import Sequence
from typing import Any

import attrs
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from okdrelease._repr import value_repr
from okdrelease.errors import NotFoundError, SignatureError
from okdrelease.gocompat.jsonbounds import json_loads
from okdrelease.oci import mediatypes as mt
from okdrelease.oci.digest import sha256_digest
from okdrelease.oci.model import Manifest
from okdrelease.sign.simple import strict_json_loads
from okdrelease.sign.store import split_digest
from okdrelease.transport.base import Repository

log = logging.getLogger(__name__)

SIMPLESIGNING_MEDIA_TYPE = "application/vnd.dev.cosign.simplesigning.v1+json"
SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
COSIGN_SIGNATURE_TYPE = "cosign container image signature"
PEM_SIGSTORE = "ENCRYPTED SIGSTORE PRIVATE KEY"
PEM_COSIGN = "ENCRYPTED COSIGN PRIVATE KEY"
#: scrypt parameter sets cosign accepts; N=2^15 is what every version reads, so we write it.
_SCRYPT_ACCEPTED = {(1 << 15, 8, 1), (1 << 16, 8, 1), (1 << 17, 8, 1)}
_SCRYPT_WRITE = (1 << 15, 8, 1)
_SIGSTORE_JSON_PREFIX = b"\x00sigstore-json\n"

CosignPublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey


# ---------------------------------------------------------------------------------------------
# Keys


def generate_private_key() -> ec.EllipticCurvePrivateKey:
    """A new ECDSA P-256 key."""
    return ec.generate_private_key(ec.SECP256R1())


def _pem(kind: str, body: bytes) -> bytes:
    encoded = base64.b64encode(body).decode("ascii")
    lines = [encoded[i : i + 64] for i in range(0, len(encoded), 64)]
    return ("\n".join([f"-----BEGIN {kind}-----", *lines, f"-----END {kind}-----"]) + "\n").encode("ascii")


def _unpem(data: bytes) -> tuple[str, bytes]:
    text = data.decode("ascii", "replace").strip()
    lines = text.splitlines()
    if not lines or not lines[0].startswith("-----BEGIN ") or not lines[-1].startswith("-----END "):
        raise SignatureError("not a PEM block")
    kind = lines[0][len("-----BEGIN ") :].rstrip("-")
    try:
        return kind, base64.b64decode("".join(line.strip() for line in lines[1:-1]), validate=True)
    except ValueError as err:
        raise SignatureError(f"PEM {kind} is not valid base64: {err}") from err


def _scrypt(password: bytes, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password, salt=salt, n=n, r=r, p=p, maxmem=256 * 1024 * 1024, dklen=32)


def encrypt_private_key(key: ec.EllipticCurvePrivateKey, password: bytes | str) -> bytes:
    """PEM ``ENCRYPTED SIGSTORE PRIVATE KEY`` (scrypt N=32768,r=8,p=1 + nacl/secretbox)."""
    if isinstance(password, str):
        password = password.encode("utf-8")
    der = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    import nacl.secret  # only to write or open a private key (signing): verifying never loads PyNaCl

    salt = os.urandom(32)
    n, r, p = _SCRYPT_WRITE
    box = nacl.secret.SecretBox(_scrypt(password, salt, n, r, p))
    nonce = os.urandom(nacl.secret.SecretBox.NONCE_SIZE)
    ciphertext = box.encrypt(der, nonce).ciphertext
    document = {
        "kdf": {
            "name": "scrypt",
            "params": {"N": n, "r": r, "p": p},
            "salt": base64.b64encode(salt).decode(),
        },
        "cipher": {"name": "nacl/secretbox", "nonce": base64.b64encode(nonce).decode()},
        "ciphertext": base64.b64encode(ciphertext).decode(),
    }
    return _pem(PEM_SIGSTORE, json.dumps(document, separators=(",", ":")).encode())


def decrypt_private_key(
    data: bytes, password: bytes | str, what: str = "cosign key"
) -> ec.EllipticCurvePrivateKey:
    """Open an ``ENCRYPTED SIGSTORE|COSIGN PRIVATE KEY`` PEM with ``password``."""
    if isinstance(password, str):
        password = password.encode("utf-8")
    try:
        kind, body = _unpem(data)
    except SignatureError as err:
        raise SignatureError(f"{what}: {err}") from err
    if kind not in (PEM_SIGSTORE, PEM_COSIGN):
        raise SignatureError(f"{what}: unsupported PEM type {kind!r} (expected {PEM_SIGSTORE})")
    try:
        document = json_loads(body)
        kdf, cipher = document["kdf"], document["cipher"]
        if kdf["name"] != "scrypt" or cipher["name"] != "nacl/secretbox":
            raise SignatureError(f"{what}: unsupported encryption {kdf['name']}/{cipher['name']}")
        params = (int(kdf["params"]["N"]), int(kdf["params"]["r"]), int(kdf["params"]["p"]))
        salt = base64.b64decode(kdf["salt"])
        nonce = base64.b64decode(cipher["nonce"])
        ciphertext = base64.b64decode(document["ciphertext"])
    except (ValueError, KeyError, TypeError) as err:
        raise SignatureError(f"{what}: malformed encrypted key: {err}") from err
    if params not in _SCRYPT_ACCEPTED:
        raise SignatureError(
            f"{what}: unsupported scrypt parameters N={params[0]} r={params[1]} p={params[2]}"
        )
    import nacl.exceptions
    import nacl.secret

    box = nacl.secret.SecretBox(_scrypt(password, salt, *params))
    try:
        der = box.decrypt(ciphertext, nonce)
    except nacl.exceptions.CryptoError as err:
        raise SignatureError(f"{what}: decryption failed (wrong password?)") from err
    try:
        key = serialization.load_der_private_key(der, password=None)
    except (ValueError, UnsupportedAlgorithm) as err:
        raise SignatureError(f"{what}: decrypted key is not PKCS#8: {err}") from err
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise SignatureError(f"{what}: only ECDSA keys are supported for signing")
    return key


def public_key_pem(key: ec.EllipticCurvePrivateKey | CosignPublicKey) -> bytes:
    """The PEM ``PUBLIC KEY`` (SPKI) cosign writes as ``cosign.pub``."""
    public = key.public_key() if isinstance(key, ec.EllipticCurvePrivateKey) else key
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def load_public_key(data: bytes, what: str = "cosign public key") -> CosignPublicKey:
    """Read a PEM public key (ECDSA or RSA) as cosign accepts it."""
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm) as err:
        raise SignatureError(f"{what} is not a PEM public key: {err}") from err
    if not isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
        raise SignatureError(f"{what}: unsupported key type {type(key).__name__}")
    return key


# ---------------------------------------------------------------------------------------------
# Payloads and signatures


def cosign_payload(docker_reference: str, digest: str, optional: dict[str, Any] | None = None) -> bytes:
    """The simple-signing payload cosign signs (Go struct order, compact, ``optional`` null by default)."""
    document = {
        "critical": {
            "identity": {"docker-reference": docker_reference},
            "image": {"docker-manifest-digest": digest},
            "type": COSIGN_SIGNATURE_TYPE,
        },
        "optional": optional,
    }
    return json.dumps(document, separators=(",", ":")).encode("utf-8")


@attrs.frozen
class CosignClaim:
    """What a verified cosign payload says."""

    __repr__ = value_repr

    docker_reference: str
    manifest_digest: str
    optional: dict[str, Any] | None = attrs.field(eq=False, default=None)


def parse_cosign_payload(payload: bytes) -> CosignClaim:
    """Parse a cosign payload strictly (containers/image rules: exact critical fields, right type)."""
    try:
        document = strict_json_loads(payload)
    except (ValueError, UnicodeDecodeError) as err:
        raise SignatureError(f"the cosign payload is not valid JSON: {err}") from err
    try:
        if set(document) != {"critical", "optional"}:
            raise SignatureError("the cosign payload must have exactly the fields critical and optional")
        critical = document["critical"]
        if set(critical) != {"identity", "image", "type"}:
            raise SignatureError("critical must have exactly the fields identity, image and type")
        if critical["type"] != COSIGN_SIGNATURE_TYPE:
            raise SignatureError(f"unrecognized signature type {critical['type']!r}")
        if set(critical["identity"]) != {"docker-reference"} or set(critical["image"]) != {
            "docker-manifest-digest"
        }:
            raise SignatureError("critical.identity and critical.image have unexpected fields")
        reference = critical["identity"]["docker-reference"]
        digest = critical["image"]["docker-manifest-digest"]
        optional = document["optional"]
    except (TypeError, AttributeError) as err:
        raise SignatureError(f"the cosign payload has an invalid structure: {err}") from err
    if not isinstance(reference, str) or not isinstance(digest, str):
        raise SignatureError("the cosign payload's identity and digest must be strings")
    if optional is not None and not isinstance(optional, dict):
        raise SignatureError("the cosign payload's optional field must be an object or null")
    return CosignClaim(reference, digest, optional)


def sign_payload(key: ec.EllipticCurvePrivateKey, payload: bytes) -> str:
    """Return the base64 ASN.1 ECDSA/SHA-256 signature of ``payload``."""
    return base64.b64encode(key.sign(payload, ec.ECDSA(hashes.SHA256()))).decode("ascii")


def verify_payload(public: CosignPublicKey, payload: bytes, signature_b64: str) -> None:
    """Check a base64 signature over ``payload`` (ECDSA, or RSA PKCS#1 v1.5, with SHA-256)."""
    try:
        raw = base64.b64decode(signature_b64.replace("\n", "").replace("\r", ""), validate=True)
    except ValueError as err:
        raise SignatureError(f"cosign signature is not valid base64: {err}") from err
    try:
        if isinstance(public, ec.EllipticCurvePublicKey):
            public.verify(raw, payload, ec.ECDSA(hashes.SHA256()))
        else:
            public.verify(raw, payload, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature as err:
        raise SignatureError(
            "cryptographic signature verification failed (wrong key or tampered payload)"
        ) from err


@attrs.frozen
class CosignSignature:
    """One signature layer: payload bytes, base64 signature, and the layer's annotations."""

    __repr__ = value_repr

    payload: bytes = attrs.field(repr=False)
    signature: str
    media_type: str = SIMPLESIGNING_MEDIA_TYPE
    annotations: dict[str, str] = attrs.field(factory=dict, eq=False)

    @classmethod
    def from_sigstore_json(cls, data: bytes, what: str = "signature") -> CosignSignature:
        """Read containers/image's on-disk form: ``\\0sigstore-json\\n`` + {mimeType, payload, annotations}."""
        if not data.startswith(_SIGSTORE_JSON_PREFIX):
            raise SignatureError(f"{what} is not a sigstore signature")
        try:
            document = json_loads(data[len(_SIGSTORE_JSON_PREFIX) :])
            payload = base64.b64decode(document["payload"])
            annotations = dict(document.get("annotations") or {})
            media_type = str(document["mimeType"])
        except (ValueError, KeyError, TypeError) as err:
            raise SignatureError(f"{what} is not a valid sigstore signature: {err}") from err
        return cls(payload, annotations.get(SIGNATURE_ANNOTATION, ""), media_type, annotations)


@attrs.frozen
class VerifiedCosignSignature:
    """A cosign signature that verified: the claim and the payload digest."""

    __repr__ = value_repr

    claim: CosignClaim
    payload_digest: str


def verify_cosign_signature(
    signature: CosignSignature, public: CosignPublicKey, expected_digest: str
) -> VerifiedCosignSignature:
    """Verify one signature layer against ``public`` and the image digest (containers/image order)."""
    if signature.media_type != SIMPLESIGNING_MEDIA_TYPE:
        raise SignatureError(f"unexpected signature media type {signature.media_type!r}")
    if not signature.signature:
        raise SignatureError(f"signature layer has no {SIGNATURE_ANNOTATION} annotation")
    verify_payload(public, signature.payload, signature.signature)
    claim = parse_cosign_payload(signature.payload)
    if claim.manifest_digest != expected_digest:
        raise SignatureError(
            f"signature digest does not match: signed {claim.manifest_digest}, expected {expected_digest}"
        )
    if not claim.docker_reference:
        raise SignatureError("signature must have an identity")
    return VerifiedCosignSignature(claim, sha256_digest(signature.payload))


# ---------------------------------------------------------------------------------------------
# The .sig manifest in a repository


def signature_tag(digest: str) -> str:
    """The tag cosign stores signatures of ``digest`` under: ``sha256-<hex>.sig``."""
    algorithm, hex_part = split_digest(digest)
    return f"{algorithm}-{hex_part}.sig"


def _config_bytes(diff_ids: Sequence[str]) -> bytes:
    # go-containerregistry's ConfigFile for an empty image with appended layers, as cosign writes it.
    config = {
        "architecture": "",
        "created": "0001-01-01T00:00:00Z",
        "history": [{"created": "0001-01-01T00:00:00Z"} for _ in diff_ids],
        "os": "",
        "rootfs": {"type": "layers", "diff_ids": list(diff_ids)},
        "config": {},
    }
    return json.dumps(config, separators=(",", ":")).encode()


def _layer_descriptor(signature: CosignSignature) -> dict[str, Any]:
    annotations = dict(signature.annotations)
    annotations[SIGNATURE_ANNOTATION] = signature.signature
    return {
        "mediaType": signature.media_type,
        "size": len(signature.payload),
        "digest": sha256_digest(signature.payload),
        "annotations": annotations,
    }


def build_signature_manifest(layers: Sequence[dict[str, Any]]) -> tuple[bytes, bytes]:
    """Return ``(manifest, config)`` bytes of a .sig image whose layers are ``layers`` (descriptors)."""
    config = _config_bytes([layer["digest"] for layer in layers])
    manifest = {
        "schemaVersion": 2,
        "mediaType": mt.OCI_MANIFEST,
        "config": {"mediaType": mt.OCI_CONFIG, "size": len(config), "digest": sha256_digest(config)},
        "layers": list(layers),
    }
    return json.dumps(manifest, separators=(",", ":")).encode(), config


def _existing_signature_manifest(repository: Repository, tag: str) -> Manifest | None:
    try:
        existing = repository.get_manifest(tag)
    except NotFoundError:
        return None
    if not isinstance(existing, Manifest):
        raise SignatureError(f"{repository.display}:{tag} is an index, not a cosign signature manifest")
    return existing


def push_signature(repository: Repository, digest: str, signature: CosignSignature) -> str:
    """Add ``signature`` to the ``sha256-<hex>.sig`` manifest of ``digest`` (appending); return its digest."""
    tag = signature_tag(digest)
    existing = _existing_signature_manifest(repository, tag)
    layers: list[dict[str, Any]] = []
    if existing is not None:
        layers = [layer.to_dict() for layer in existing.layers]
        new = _layer_descriptor(signature)
        for layer in layers:
            if (
                layer.get("digest") == new["digest"]
                and (layer.get("annotations") or {}).get(SIGNATURE_ANNOTATION) == signature.signature
            ):
                log.info("%s:%s already holds this signature", repository.display, tag)
                return existing.digest
    layers.append(_layer_descriptor(signature))
    manifest, config = build_signature_manifest(layers)
    payload_digest = sha256_digest(signature.payload)
    if not repository.has_blob(payload_digest):
        repository.put_blob(signature.payload, payload_digest, len(signature.payload))
    config_digest = sha256_digest(config)
    if not repository.has_blob(config_digest):
        repository.put_blob(config, config_digest, len(config))
    return repository.put_manifest(manifest, mt.OCI_MANIFEST, tag)


def read_signatures(repository: Repository, digest: str) -> list[CosignSignature]:
    """Every signature layer of ``digest``'s .sig manifest (empty when there is none)."""
    existing = _existing_signature_manifest(repository, signature_tag(digest))
    if existing is None:
        return []
    out = []
    for layer in existing.layers:
        annotations = dict(layer.annotations or {})
        payload = repository.read_blob(layer.digest, layer.size)
        out.append(
            CosignSignature(payload, annotations.get(SIGNATURE_ANNOTATION, ""), layer.media_type, annotations)
        )
    return out
