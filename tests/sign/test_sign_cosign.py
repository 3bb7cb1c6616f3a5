"""cosign-compatible signatures: containers/image fixtures, key format, the .sig manifest in a repository."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import threading
from typing import BinaryIO

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from sign_support import FIXTURES, fixture

from okdrelease.errors import NotFoundError, SignatureError
from okdrelease.oci import mediatypes as mt
from okdrelease.oci.digest import sha256_digest, verify_bytes
from okdrelease.oci.model import AnyManifest, Descriptor, parse_manifest
from okdrelease.sign import cosign
from okdrelease.sign.api import sign_release_cosign, verify_cosign_candidates, verify_release_cosign
from okdrelease.transport.base import REFUSED, BlobMount, Repository


def fixture_key() -> cosign.CosignPublicKey:
    return cosign.load_public_key(fixture("cosign.pub"), "cosign.pub")


def dir_signatures(directory: str) -> list[cosign.CosignSignature]:
    out = []
    for index in range(1, 10):
        if not (FIXTURES / directory / f"signature-{index}").exists():
            break
        out.append(cosign.CosignSignature.from_sigstore_json(fixture(f"{directory}/signature-{index}")))
    return out


def manifest_digest(directory: str) -> str:
    return "sha256:" + hashlib.sha256(fixture(f"{directory}/manifest.json")).hexdigest()


# --------------------------------------------------------------------------------------------- fixtures


SINGLE = "192.168.64.2:5000/cosign-signed-single-sample"


@pytest.mark.parametrize(
    ("directory", "key_name", "identities"),
    [
        ("dir-img-cosign-valid", "cosign.pub", [SINGLE]),
        ("dir-img-cosign-valid-with-tag", "cosign.pub", ["192.168.64.2:5000/skopeo-signed:tag"]),
        ("dir-img-cosign-valid-2", "cosign.pub", [SINGLE, SINGLE]),
        ("dir-img-cosign-mixed", "cosign.pub", [SINGLE]),
        ("dir-img-cosign-key-rekor-valid", "cosign2.pub", ["192.168.64.2:5000/cosign-signed/key-1"]),
    ],
)
def test_valid_cosign_fixtures_verify(directory: str, key_name: str, identities: list[str]) -> None:
    digest = manifest_digest(directory)
    public = cosign.load_public_key(fixture(key_name), key_name)
    result = verify_cosign_candidates(digest, dir_signatures(directory), public, directory)
    assert [s.claim.docker_reference for s in result.signatures] == identities
    assert all(s.claim.manifest_digest == digest for s in result.signatures)


def test_pki_fixture_verifies_with_its_certificate_rsa_key() -> None:
    cert = x509.load_pem_x509_certificate(fixture("pki-cert"))
    public = cert.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    digest = manifest_digest("dir-img-cosign-pki-valid")
    result = verify_cosign_candidates(digest, dir_signatures("dir-img-cosign-pki-valid"), public, "pki")
    assert len(result.signatures) == 1


@pytest.mark.parametrize(
    ("directory", "error"),
    [
        ("dir-img-cosign-modified-manifest", "signature digest does not match"),
        ("dir-img-cosign-manifest-digest-error", "signature digest does not match"),
        ("dir-img-cosign-other-attachment", "unexpected signature media type 'text/plain'"),
        ("dir-img-cosign-fulcio-rekor-valid", "cryptographic signature verification failed"),
        ("dir-img-cosign-pki-valid", "cryptographic signature verification failed"),
    ],
)
def test_invalid_cosign_fixtures_are_refused(directory: str, error: str) -> None:
    digest = manifest_digest(directory)
    with pytest.raises(SignatureError) as info:
        verify_cosign_candidates(digest, dir_signatures(directory), fixture_key(), directory)
    assert str(info.value).startswith(f"unable to verify {digest} with the cosign key\n* signature 1: ")
    assert error in str(info.value)


def test_unknown_cosign_key_and_other_key_are_refused() -> None:
    digest = manifest_digest("dir-img-cosign-valid")
    unknown = cosign.CosignSignature.from_sigstore_json(fixture("unknown-cosign-key.signature"))
    with pytest.raises(SignatureError, match="cryptographic signature verification failed"):
        cosign.verify_cosign_signature(unknown, fixture_key(), digest)
    other_key = cosign.load_public_key(fixture("cosign2.pub"))
    with pytest.raises(SignatureError, match="cryptographic signature verification failed"):
        verify_cosign_candidates(digest, dir_signatures("dir-img-cosign-valid"), other_key, "x")


def test_tampered_cosign_payload_is_refused() -> None:
    valid = dir_signatures("dir-img-cosign-valid")[0]
    tampered = cosign.CosignSignature(valid.payload.replace(b"single", b"double"), valid.signature)
    with pytest.raises(SignatureError, match="^cryptographic signature verification failed"):
        cosign.verify_cosign_signature(tampered, fixture_key(), manifest_digest("dir-img-cosign-valid"))


# --------------------------------------------------------------------------------------------- keys


def test_encrypted_key_round_trip_and_format() -> None:
    key = cosign.generate_private_key()
    pem = cosign.encrypt_private_key(key, "hunter2")
    lines = pem.decode().splitlines()
    assert lines[0] == "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----"
    assert lines[-1] == "-----END ENCRYPTED SIGSTORE PRIVATE KEY-----"
    body = json.loads(base64.b64decode("".join(lines[1:-1])))
    assert list(body) == ["kdf", "cipher", "ciphertext"]
    assert body["kdf"]["name"] == "scrypt" and body["kdf"]["params"] == {"N": 32768, "r": 8, "p": 1}
    assert len(base64.b64decode(body["kdf"]["salt"])) == 32
    assert body["cipher"]["name"] == "nacl/secretbox" and len(base64.b64decode(body["cipher"]["nonce"])) == 24
    opened = cosign.decrypt_private_key(pem, b"hunter2")
    assert opened.private_numbers() == key.private_numbers()
    legacy = pem.replace(b"ENCRYPTED SIGSTORE PRIVATE KEY", b"ENCRYPTED COSIGN PRIVATE KEY")
    assert cosign.decrypt_private_key(legacy, "hunter2").private_numbers() == key.private_numbers()
    with pytest.raises(SignatureError, match="decryption failed"):
        cosign.decrypt_private_key(pem, "wrong")
    with pytest.raises(SignatureError, match="unsupported PEM type 'PUBLIC KEY'"):
        cosign.decrypt_private_key(cosign.public_key_pem(key), "hunter2")
    public = cosign.load_public_key(cosign.public_key_pem(key))
    assert isinstance(public, ec.EllipticCurvePublicKey)
    assert public.public_numbers() == key.public_key().public_numbers()
    assert cosign.public_key_pem(key).startswith(b"-----BEGIN PUBLIC KEY-----\n")


def test_payload_bytes_match_cosign() -> None:
    digest = "sha256:" + "ab" * 32
    assert cosign.cosign_payload("quay.io/okd/scos-release", digest) == (
        b'{"critical":{"identity":{"docker-reference":"quay.io/okd/scos-release"},"image":{"docker-manifest-digest":"'
        + digest.encode()
        + b'"},"type":"cosign container image signature"},"optional":null}'
    )
    with pytest.raises(
        SignatureError, match="critical must have exactly the fields identity, image and type"
    ):
        cosign.parse_cosign_payload(b'{"critical":{"identity":{},"image":{}},"optional":null}')


# --------------------------------------------------------------------------------------------- repository


class MemoryRepository:
    """A minimal in-memory Repository (test double) that stores manifests by digest and tag."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}
        self.manifests: dict[str, tuple[bytes, str]] = {}
        self.tags: dict[str, str] = {}
        self.lock = threading.Lock()

    @property
    def display(self) -> str:
        return "memory/repo"

    def get_manifest(self, reference: str) -> AnyManifest:
        digest = self.tags.get(reference, reference)
        if digest not in self.manifests:
            raise NotFoundError(
                f"manifest {reference} not found", repository="memory/repo", reference=reference
            )
        raw, media_type = self.manifests[digest]
        return parse_manifest(raw, media_type, digest)

    def resolve(self, reference: str) -> Descriptor:
        return self.get_manifest(reference).descriptor()

    def put_manifest(self, raw: bytes, media_type: str, tag: str | None = None) -> str:
        digest = sha256_digest(raw)
        with self.lock:
            self.manifests[digest] = (raw, media_type)
            if tag:
                self.tags[tag] = digest
        return digest

    def has_blob(self, digest: str) -> bool:
        return digest in self.blobs

    def open_blob(self, digest: str, size: int | None = None) -> BinaryIO:
        return io.BytesIO(self.read_blob(digest, size))

    def read_blob(self, digest: str, size: int | None = None) -> bytes:
        if digest not in self.blobs:
            raise NotFoundError(f"blob {digest} not found", repository="memory/repo", reference=digest)
        return self.blobs[digest]

    def put_blob(self, source: BinaryIO | bytes, digest: str, size: int | None = None) -> None:
        data = source if isinstance(source, bytes) else source.read()
        self.blobs[digest] = verify_bytes(data, digest, "blob")

    def mount_blob(self, digest: str, source: Repository) -> BlobMount:
        return REFUSED

    def list_tags(self) -> list[str]:
        return sorted(self.tags)


@pytest.fixture
def repo_with_image() -> tuple[MemoryRepository, str]:
    repo = MemoryRepository()
    config = b"{}"
    repo.put_blob(config, sha256_digest(config))
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": mt.OCI_MANIFEST,
            "config": {"mediaType": mt.OCI_CONFIG, "digest": sha256_digest(config), "size": 2},
            "layers": [],
        }
    ).encode()
    return repo, repo.put_manifest(manifest, mt.OCI_MANIFEST, "4.99")


def test_push_and_verify_cosign_signature(repo_with_image: tuple[MemoryRepository, str]) -> None:
    repo, digest = repo_with_image
    assert isinstance(repo, Repository)
    key = cosign.generate_private_key()
    first = sign_release_cosign(repo, f"quay.io/okd/scos-release@{digest}", key)
    assert first.tag == f"sha256-{digest.split(':')[1]}.sig"
    sig_manifest = repo.get_manifest(first.tag)
    assert sig_manifest.digest == first.manifest_digest
    parsed = json.loads(sig_manifest.raw)
    assert parsed["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert parsed["config"]["mediaType"] == "application/vnd.oci.image.config.v1+json"
    (layer,) = parsed["layers"]
    assert list(layer) == ["mediaType", "size", "digest", "annotations"]
    assert layer["mediaType"] == "application/vnd.dev.cosign.simplesigning.v1+json"
    assert layer["digest"] == sha256_digest(first.payload)
    assert layer["annotations"] == {"dev.cosignproject.cosign/signature": first.signature}
    config = json.loads(repo.read_blob(parsed["config"]["digest"]))
    assert config["rootfs"] == {"type": "layers", "diff_ids": [sha256_digest(first.payload)]}
    assert cosign.parse_cosign_payload(first.payload).docker_reference == "quay.io/okd/scos-release"

    public = cosign.load_public_key(cosign.public_key_pem(key))
    result = verify_release_cosign(repo, f"quay.io/okd/scos-release@{digest}", public)
    assert [s.claim.manifest_digest for s in result.signatures] == [digest]

    # a second key appends a layer; the same signature again is not duplicated
    other = cosign.generate_private_key()
    second = sign_release_cosign(repo, f"quay.io/okd/scos-release@{digest}", other)
    assert len(json.loads(repo.get_manifest(second.tag).raw)["layers"]) == 2
    again = cosign.push_signature(repo, digest, cosign.CosignSignature(second.payload, second.signature))
    assert again == second.manifest_digest
    assert len(verify_release_cosign(repo, digest, public).signatures) == 1

    stranger = cosign.load_public_key(fixture("cosign.pub"))
    with pytest.raises(
        SignatureError,
        match=r"^unable to verify sha256:\w+ with the cosign key\n\* signature 1: cryptographic",
    ):
        verify_release_cosign(repo, digest, stranger)


def test_cosign_signing_needs_an_existing_image_and_finds_no_signature(
    repo_with_image: tuple[MemoryRepository, str],
) -> None:
    repo, digest = repo_with_image
    key = cosign.generate_private_key()
    missing = "sha256:" + "0" * 64
    with pytest.raises(NotFoundError):
        sign_release_cosign(repo, f"quay.io/a/b@{missing}", key)
    public = cosign.load_public_key(cosign.public_key_pem(key))
    with pytest.raises(SignatureError, match=r"no cosign signatures found in memory/repo:sha256-\w+\.sig"):
        verify_release_cosign(repo, digest, public)


def test_public_key_loader_refuses_non_keys() -> None:
    with pytest.raises(SignatureError, match="is not a PEM public key"):
        cosign.load_public_key(b"garbage", "k.pub")
    key = cosign.generate_private_key()
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(SignatureError, match="is not a PEM public key"):
        cosign.load_public_key(private_pem, "k.pub")
