"""Release signatures: atomic container signatures over OpenPGP, signature stores, cosign, policies."""

from __future__ import annotations

from okdrelease.sign.api import (
    CosignSignResult,
    CosignVerifyResult,
    SignResult,
    VerifiedSignature,
    VerifyResult,
    sign_release,
    sign_release_cosign,
    verify_release,
    verify_release_cosign,
)
from okdrelease.sign.gpg import GpgSigner, gpg_signer
from okdrelease.sign.keys import Signer, openpgp_signer, read_passphrase
from okdrelease.sign.openpgp import (
    Keyring,
    SecretKey,
    generate_key,
    import_secret_key,
    load_keyring,
    load_secret_key,
)
from okdrelease.sign.policy import (
    ImageSignatures,
    Policy,
    PolicyChecker,
    PolicyRejectedError,
    PolicyVerdict,
    load_policy,
    require_image_allowed,
    verify_image_against_policy,
)

__all__ = [
    "CosignSignResult",
    "CosignVerifyResult",
    "GpgSigner",
    "ImageSignatures",
    "Keyring",
    "Policy",
    "PolicyChecker",
    "PolicyRejectedError",
    "PolicyVerdict",
    "SecretKey",
    "SignResult",
    "Signer",
    "VerifiedSignature",
    "VerifyResult",
    "generate_key",
    "gpg_signer",
    "import_secret_key",
    "load_keyring",
    "load_policy",
    "load_secret_key",
    "openpgp_signer",
    "read_passphrase",
    "require_image_allowed",
    "sign_release",
    "sign_release_cosign",
    "verify_image_against_policy",
    "verify_release",
    "verify_release_cosign",
]
