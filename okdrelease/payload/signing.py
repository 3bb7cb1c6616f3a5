"""After the sink: ``--to-signature`` and signing through ``okdrelease.sign`` (OpenPGP store/ConfigMap, cosign)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from okdrelease._repr import value_repr
from okdrelease.errors import ReleaseError, UsageError
from okdrelease.gocompat.gotime import parse_seconds
from okdrelease.payload.context import Run
from okdrelease.payload.plan import NewOptions
from okdrelease.reference import RegistryLocation, parse_identity, parse_location
from okdrelease.regularfile import write_whole

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec

    from okdrelease.sign.keys import Signer

__all__ = ["SigningKeys", "check_signing_targets", "load_signing_keys", "sign_pushed", "write_to_signature"]


@attrs.frozen
class SigningKeys:
    """The keys ``new`` signs with, loaded before any other work so a bad key fails fast."""

    __repr__ = value_repr

    #: A secret key file's key (--sign-by) or a key of the user's gpg (--sign-by-gpg).
    pgp: Signer | None = None
    cosign: ec.EllipticCurvePrivateKey | None = None


def check_signing_targets(options: NewOptions) -> None:
    """Refuse, before anything is read, written or pushed, what would otherwise fail only after the push:
    a signature identity for a release written to a layout, and a signature path that cannot be written."""
    from okdrelease.sign.store import check_output_dir, check_output_file

    if options.sign_identity:
        parse_identity(options.sign_identity)
    if options.signs and options.to_image and not options.sign_identity:
        if not isinstance(parse_location(options.to_image), RegistryLocation):
            raise UsageError("signing a release written to an OCI layout needs --sign-identity REPOSITORY")
    for flag, directory in (
        ("--signature-dir", options.signature_dir),
        ("--signature-configmap-dir", options.signature_configmap_dir),
        ("--lookaside", options.lookaside),
    ):
        if directory:
            check_output_dir(flag, directory)
    if options.to_signature:
        check_output_file("--to-signature", options.to_signature)


def load_signing_keys(options: NewOptions) -> SigningKeys | None:
    """Check the signature targets (``check_signing_targets``); load --sign-by or --sign-by-gpg and
    --sign-by-sigstore-private-key (None when not signing)."""
    check_signing_targets(options)
    if not options.signs:
        return None
    pgp: Signer | None = None
    cosign_key = None
    if options.sign_by or options.sign_by_gpg:
        from okdrelease.sign.keys import openpgp_signer

        pgp = openpgp_signer(
            key_file=options.sign_by,
            gpg_key=options.sign_by_gpg,
            passphrase=options.sign_passphrase,
            passphrase_file=options.sign_passphrase_file,
        )
    if options.sign_by_sigstore_private_key:
        from okdrelease.sign.keys import load_cosign_private_key

        # new signs with a cosign key made with an empty password when no passphrase is given (as before).
        cosign_key = load_cosign_private_key(
            options.sign_by_sigstore_private_key, options.sign_passphrase or ""
        )
    return SigningKeys(pgp, cosign_key)


def _timestamp(created: str) -> int:
    return int(parse_seconds(created).timestamp())


def _signed_repository(options: NewOptions, to_image: str) -> str | None:
    """The repository a signature of the release names: --sign-identity's (a tag given dropped), else a
    registry destination's; None for a layout destination without --sign-identity."""
    if options.sign_identity:
        return parse_identity(options.sign_identity).name
    location = parse_location(to_image)
    return location.ref.name if isinstance(location, RegistryLocation) else None


def write_to_signature(options: NewOptions, to_image: str, digest: str, created: str) -> None:
    """``--to-signature PATH``: the atomic signature payload (unsigned), as oc writes it."""
    if not options.to_signature:
        return
    from okdrelease.sign.api import DEFAULT_CREATOR
    from okdrelease.sign.simple import new_signature_payload

    repository = _signed_repository(options, to_image) or str(parse_location(to_image))
    body = new_signature_payload(f"{repository}@{digest}", digest, DEFAULT_CREATOR, _timestamp(created))
    try:
        write_whole(options.to_signature, body, 0o644)  # (an earlier file kept on failure)
    except OSError as err:
        raise ReleaseError(
            f"unable to write signature file {options.to_signature}: {err.strerror or err}"
        ) from err


def sign_pushed(
    options: NewOptions, keys: SigningKeys, run: Run, to_image: str, digest: str, created: str
) -> None:
    """Sign the pushed release: OpenPGP into a store directory / ConfigMap, cosign into the registry."""
    location = parse_location(to_image)
    identity = _signed_repository(options, to_image)
    if identity is None:  # refused before anything was written (check_signing_targets)
        raise UsageError("signing a release written to an OCI layout needs --sign-identity REPOSITORY")
    if keys.pgp is not None:
        from okdrelease.sign.api import sign_release

        signed = sign_release(
            f"{identity}@{digest}",
            keys.pgp,
            # (an empty value is no directory, as check_signing_targets reads it: not the working directory)
            signature_dir=options.signature_dir or None,
            configmap_dir=options.signature_configmap_dir or None,
            lookaside=options.lookaside or None,
            timestamp=_timestamp(created),
        )
        for path in (signed.signature_path, signed.configmap_path, signed.lookaside_path):
            if path is not None:
                run.emit(f"info: Signed {identity}@{digest} with {signed.fingerprint}: {path}")
        for warning in signed.warnings:
            run.reporter.warn(f"warning: {warning}")
    if keys.cosign is not None:
        from okdrelease.sign.api import sign_release_cosign

        repo, _ = run.transport.open(location)
        sign_release_cosign(repo, f"{identity}@{digest}", keys.cosign)
        run.emit(f"info: Pushed cosign signature for {identity}@{digest}")
