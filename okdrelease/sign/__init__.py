"""Release signatures: atomic container signatures over OpenPGP, signature stores, cosign, policies."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

#: Where each name lives: imported on first use, so that ``import okdrelease.sign.passphrase`` (say)
#: does not load signing, cosign and policies (``new`` reads a passphrase on every run).
_EXPORTS = {
    "CosignSignResult": "okdrelease.sign.api",
    "CosignVerifyResult": "okdrelease.sign.api",
    "SignResult": "okdrelease.sign.api",
    "VerifiedSignature": "okdrelease.sign.api",
    "VerifyResult": "okdrelease.sign.api",
    "sign_release": "okdrelease.sign.api",
    "sign_release_cosign": "okdrelease.sign.api",
    "verify_release": "okdrelease.sign.api",
    "verify_release_cosign": "okdrelease.sign.api",
    "GpgSigner": "okdrelease.sign.gpg",
    "gpg_signer": "okdrelease.sign.gpg",
    "Signer": "okdrelease.sign.keys",
    "openpgp_signer": "okdrelease.sign.keys",
    "read_passphrase": "okdrelease.sign.keys",
    "Keyring": "okdrelease.sign.openpgp",
    "SecretKey": "okdrelease.sign.openpgp",
    "generate_key": "okdrelease.sign.openpgp",
    "import_secret_key": "okdrelease.sign.openpgp",
    "load_keyring": "okdrelease.sign.openpgp",
    "load_secret_key": "okdrelease.sign.openpgp",
    "ImageSignatures": "okdrelease.sign.policy",
    "Policy": "okdrelease.sign.policy",
    "PolicyChecker": "okdrelease.sign.policy",
    "PolicyRejectedError": "okdrelease.sign.policy",
    "PolicyVerdict": "okdrelease.sign.policy",
    "load_policy": "okdrelease.sign.policy",
    "require_image_allowed": "okdrelease.sign.policy",
    "verify_image_against_policy": "okdrelease.sign.policy",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


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
