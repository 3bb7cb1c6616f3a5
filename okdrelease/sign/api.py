"""Library calls: sign a release digest and verify release signatures (OpenPGP and cosign)."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
from cryptography.hazmat.primitives.asymmetric import ec

from okdrelease import __version__
from okdrelease._repr import value_repr
from okdrelease.errors import SignatureError
from okdrelease.events import safe_url
from okdrelease.reference import ImageReference
from okdrelease.sign import cosign, store
from okdrelease.sign.files import read_bounded
from okdrelease.sign.keys import Signer
from okdrelease.sign.lookaside import (
    DockerName,
    read_lookaside,
    write_lookaside_signature,
)
from okdrelease.sign.openpgp import ALGO_EDDSA, Keyring, signature_algorithm, verify_message
from okdrelease.sign.simple import (
    AtomicSignature,
    check_signature_claims,
    new_signature_payload,
    parse_signature_payload,
    validate_release_digest,
)
from okdrelease.transport.base import Repository, TransportOptions
from okdrelease.transport.fetch import UrlReader

log = logging.getLogger(__name__)

DEFAULT_CREATOR = f"okdrelease/{__version__}"


def _digest_of(image: str | ImageReference) -> tuple[ImageReference | None, str]:
    """Accept ``REPO@sha256:HEX`` or a bare ``sha256:HEX``; return the reference (if any) and digest."""
    if isinstance(image, ImageReference):
        ref = image
    elif (
        ":" in image
        and "@" not in image
        and "/" not in image
        and image.partition(":")[0] in ("sha256", "sha512")
    ):
        return None, validate_release_digest(image)
    else:
        ref = ImageReference.parse(image)
    if not ref.digest:
        raise SignatureError(
            f"release images that are not accessed via digest cannot be signed or verified: {ref}"
        )
    return ref, validate_release_digest(ref.digest)


# ---------------------------------------------------------------------------------------------
# OpenPGP


@attrs.frozen
class SignResult:
    """An OpenPGP release signature that was made, and where it was written."""

    __repr__ = value_repr

    digest: str
    identity: str
    fingerprint: str
    payload: bytes = attrs.field(repr=False)
    signature: bytes = attrs.field(repr=False)
    signature_path: Path | None = None
    configmap_path: Path | None = None
    lookaside_path: Path | None = None
    #: Things the user should know (for example a signature the cluster-version operator cannot read).
    warnings: tuple[str, ...] = ()


#: The cluster-version operator verifies with golang.org/x/crypto/openpgp, which has no EdDSA.
CVO_EDDSA_WARNING = (
    "the signature is EdDSA (ed25519): podman, skopeo and gpg verify it, but the cluster-version "
    "operator (golang.org/x/crypto/openpgp) cannot; sign OpenShift stores and ConfigMaps with an RSA or ECDSA key"
)


def sign_release(
    image: str | ImageReference,
    key: Signer,
    *,
    signature_dir: str | os.PathLike[str] | None = None,
    configmap_dir: str | os.PathLike[str] | None = None,
    lookaside: str | os.PathLike[str] | None = None,
    creator: str = DEFAULT_CREATOR,
    timestamp: int | None = None,
) -> SignResult:
    """Sign ``REPO@DIGEST`` as ``oc --to-signature`` describes it (identity ``REPO@DIGEST``), without a registry.

    ``key`` is a secret key (``SecretKey``) or a key in the user's gpg (``GpgSigner``).
    With ``signature_dir`` the signature goes to ``DIR/sha256=<hex>/signature-N`` (next free N,
    the OpenShift store layout); with ``lookaside`` to ``DIR/<repository path>@sha256=<hex>/signature-N``
    (containers/image's lookaside layout); with ``configmap_dir`` the oc-mirror ConfigMap file is
    written holding every signature of the digest found in ``signature_dir`` (or just this one).
    """
    ref, digest = _digest_of(image)
    if ref is None:
        raise SignatureError("signing needs an image reference REPO@DIGEST, not a bare digest")
    identity = f"{ref.name}@{digest}"
    timestamp = int(time.time()) if timestamp is None else timestamp
    payload = new_signature_payload(identity, digest, creator, timestamp)
    # The OpenPGP packet carries the real signing time; the payload carries the release's timestamp
    # (a packet dated before the key's creation would be refused by gpg and the CVO).
    signature = key.sign(payload)
    signature_path = configmap_path = lookaside_path = None
    signatures = [signature]
    created: list[Path] = []  # all stores or none: a later one that fails undoes the earlier ones
    try:
        if signature_dir is not None:
            signature_path = store.write_signature_to_dir(signature_dir, digest, signature, created=created)
            signatures = store.read_signatures_from_dir(signature_dir, digest)
        if lookaside is not None:
            lookaside_path = write_lookaside_signature(
                lookaside, DockerName.parse(ref), digest, signature, created=created
            )
        if configmap_dir is not None:
            configmap_path = store.write_signature_configmap(configmap_dir, digest, signatures)
    except BaseException:
        store.remove_created(created)
        raise
    log.info("signed %s with key %s", identity, key.signing_fingerprint)
    warnings: tuple[str, ...] = ()
    if (signature_dir is not None or configmap_dir is not None) and signature_algorithm(
        signature
    ) == ALGO_EDDSA:
        warnings = (CVO_EDDSA_WARNING,)
    return SignResult(
        digest,
        identity,
        key.signing_fingerprint,
        payload,
        signature,
        signature_path,
        configmap_path,
        lookaside_path,
        warnings,
    )


@attrs.frozen
class Candidate:
    """A signature found in a store, with a human name of where it came from."""

    __repr__ = value_repr

    source: str
    data: bytes = attrs.field(repr=False)


@attrs.frozen
class VerifiedSignature:
    """A signature that satisfied a keyring."""

    __repr__ = value_repr

    source: str
    keyring: str
    claim: AtomicSignature
    signer_fingerprint: str
    primary_fingerprint: str
    created: int
    data: bytes = attrs.field(repr=False)


@attrs.frozen
class VerifyResult:
    """Every keyring was satisfied by at least one signature of ``digest``."""

    __repr__ = value_repr

    digest: str
    signatures: tuple[VerifiedSignature, ...]


def collect_signatures(
    digest: str,
    *,
    signature_dirs: Iterable[str | os.PathLike[str]] = (),
    store_urls: Iterable[str] = (),
    configmap_files: Iterable[str | os.PathLike[str]] = (),
    lookaside_dirs: Iterable[str | os.PathLike[str]] = (),
    name: DockerName | None = None,
    reader: UrlReader | None = None,
) -> tuple[list[Candidate], list[str]]:
    """Read candidate signatures of ``digest`` from every source; return them and the store errors.

    Lookaside directories need the image's repository ``name``; HTTP(S) stores and lookasides are
    read through ``reader`` (without one, a reader with the default options).
    """
    candidates: list[Candidate] = []
    errors: list[str] = []
    for base in lookaside_dirs:
        if name is None:
            raise SignatureError(
                "a lookaside store needs the image's repository (IMAGE@DIGEST, not a digest)"
            )
        for where, data in read_lookaside(base, name, digest, reader=reader):
            candidates.append(Candidate(where, data))
    for directory in signature_dirs:
        for index, data in enumerate(store.read_signatures_from_dir(directory, digest), start=1):
            candidates.append(
                Candidate(f"{directory}/{store.signature_dir_name(digest)}/signature-{index}", data)
            )
    for url in store_urls:
        result = store.read_signatures_from_url(url, digest, reader=reader)
        errors.extend(result.errors)
        for index, data in enumerate(result.signatures, start=1):
            where = store.store_url(url, store.signature_dir_name(digest), f"signature-{index}")
            candidates.append(Candidate(safe_url(where), data))
    for path in configmap_files:
        raw = read_bounded(path, "ConfigMap")
        for index, data in enumerate(store.read_signature_configmap(raw, digest, str(path)), start=1):
            candidates.append(Candidate(f"{path}#{index}", data))
    return candidates, errors


def verify_signatures(
    digest: str,
    candidates: Sequence[Candidate],
    keyrings: Mapping[str, Keyring],
    *,
    now: float | None = None,
    store_errors: Sequence[str] = (),
) -> VerifyResult:
    """library-go's rule: succeed only when **every** keyring is satisfied by at least one candidate."""
    validate_release_digest(digest)
    if not keyrings:
        raise SignatureError("the release verifier is incorrectly configured, unable to verify digests")
    verified: list[VerifiedSignature] = []
    errors: list[str] = [f"store: {e}" for e in store_errors]
    unsatisfied = dict(keyrings)
    for candidate in candidates:
        for name, keyring in list(unsatisfied.items()):
            try:
                message = verify_message(candidate.data, keyring, now=now)
                claim = check_signature_claims(parse_signature_payload(message.content), digest)
            except SignatureError as err:
                errors.append(f"{candidate.source} (keyring {name}): {err}")
                continue
            del unsatisfied[name]
            verified.append(
                VerifiedSignature(
                    candidate.source,
                    name,
                    claim,
                    message.signer_fingerprint,
                    message.primary_fingerprint,
                    message.created,
                    candidate.data,
                )
            )
    if unsatisfied or not verified:
        if not candidates:
            errors.append("no signatures found")
        details = "".join(f"\n* {error}" for error in errors)
        raise SignatureError(f"unable to verify {digest} against keyrings: {', '.join(unsatisfied)}{details}")
    return VerifyResult(digest, tuple(verified))


def verify_release(
    image: str | ImageReference,
    keyrings: Mapping[str, Keyring],
    *,
    signature_dirs: Iterable[str | os.PathLike[str]] = (),
    store_urls: Iterable[str] = (),
    configmap_files: Iterable[str | os.PathLike[str]] = (),
    lookaside_dirs: Iterable[str | os.PathLike[str]] = (),
    now: float | None = None,
    options: TransportOptions | None = None,
) -> VerifyResult:
    """Verify the OpenPGP signatures of ``REPO@DIGEST`` (or a bare digest) from the given stores.

    HTTP(S) stores and lookasides are read with the TLS settings, proxies and timeout of
    ``options`` (``transport.fetch.UrlReader``). The signed identity is reported but not compared with
    ``REPO`` (library-go, Q25).
    """
    ref, digest = _digest_of(image)
    dirs, urls, configmaps = list(signature_dirs), list(store_urls), list(configmap_files)
    lookasides = list(lookaside_dirs)
    if not (dirs or urls or configmaps or lookasides):
        raise SignatureError("the release verifier is incorrectly configured, unable to verify digests")
    with UrlReader(options) as reader:
        candidates, errors = collect_signatures(
            digest,
            signature_dirs=dirs,
            store_urls=urls,
            configmap_files=configmaps,
            lookaside_dirs=lookasides,
            name=DockerName.parse(ref) if ref is not None else None,
            reader=reader,
        )
    return verify_signatures(digest, candidates, keyrings, now=now, store_errors=errors)


# ---------------------------------------------------------------------------------------------
# cosign


@attrs.frozen
class CosignSignResult:
    """A cosign signature that was pushed next to the image."""

    __repr__ = value_repr

    digest: str
    tag: str
    manifest_digest: str
    payload: bytes = attrs.field(repr=False)
    signature: str = attrs.field(repr=False)


def sign_release_cosign(
    repository: Repository,
    image: str | ImageReference,
    key: ec.EllipticCurvePrivateKey,
    *,
    optional: dict[str, Any] | None = None,
) -> CosignSignResult:
    """Sign ``REPO@DIGEST`` as ``cosign sign --key`` does and push ``sha256-<hex>.sig`` to ``repository``."""
    ref, digest = _digest_of(image)
    if ref is None:
        raise SignatureError("cosign signing needs an image reference REPO@DIGEST, not a bare digest")
    repository.resolve(digest)  # the image must exist, as for cosign
    payload = cosign.cosign_payload(ref.name, digest, optional)
    signature = cosign.sign_payload(key, payload)
    pushed = cosign.push_signature(repository, digest, cosign.CosignSignature(payload, signature))
    tag = cosign.signature_tag(digest)
    log.info("pushed cosign signature of %s to %s:%s", digest, repository.display, tag)
    return CosignSignResult(digest, tag, pushed, payload, signature)


@attrs.frozen
class CosignVerifyResult:
    """Signatures of ``digest`` that verified with the cosign public key."""

    __repr__ = value_repr

    digest: str
    signatures: tuple[cosign.VerifiedCosignSignature, ...]


def verify_cosign_candidates(
    digest: str, candidates: Sequence[cosign.CosignSignature], public: cosign.CosignPublicKey, where: str
) -> CosignVerifyResult:
    """Succeed when at least one candidate verifies; otherwise report why each failed."""
    validate_release_digest(digest)
    verified: list[cosign.VerifiedCosignSignature] = []
    errors: list[str] = []
    for index, candidate in enumerate(candidates, start=1):
        try:
            verified.append(cosign.verify_cosign_signature(candidate, public, digest))
        except SignatureError as err:
            errors.append(f"signature {index}: {err}")
    if not verified:
        if not candidates:
            errors.append(f"no cosign signatures found in {where}")
        details = "".join(f"\n* {error}" for error in errors)
        raise SignatureError(f"unable to verify {digest} with the cosign key{details}")
    return CosignVerifyResult(digest, tuple(verified))


def verify_release_cosign(
    repository: Repository, image: str | ImageReference, public: cosign.CosignPublicKey
) -> CosignVerifyResult:
    """Verify the cosign ``.sig`` signatures of ``REPO@DIGEST`` in ``repository``."""
    _, digest = _digest_of(image)
    candidates = cosign.read_signatures(repository, digest)
    return verify_cosign_candidates(
        digest, candidates, public, f"{repository.display}:{cosign.signature_tag(digest)}"
    )
