"""Release signatures: atomic container signatures over OpenPGP, signature stores, cosign."""

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
from okdrelease.sign.openpgp import (
    Keyring,
    SecretKey,
    generate_key,
    import_secret_key,
    load_keyring,
    load_secret_key,
)

__all__ = [
    "CosignSignResult",
    "CosignVerifyResult",
    "Keyring",
    "SecretKey",
    "SignResult",
    "VerifiedSignature",
    "VerifyResult",
    "generate_key",
    "import_secret_key",
    "load_keyring",
    "load_secret_key",
    "sign_release",
    "sign_release_cosign",
    "verify_release",
    "verify_release_cosign",
]
