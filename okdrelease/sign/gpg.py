"""Signing through the user's own ``gpg`` (agent, smartcard, pinentry), as skopeo's ``--sign-by`` does.

skopeo (containers/image ``mechanism_gpgme.go``) asks gpgme for a *normal* signature of the
payload: the output of ``gpg --sign``, a (compressed) one-pass signed message, not a detached
signature. This module runs ``gpg --batch --sign --local-user FPR`` with the payload on stdin;
``GNUPGHOME`` (or ``homedir``) selects the keyring, and gpg's agent handles passphrases unless a
passphrase file is given (then ``--pinentry-mode loopback --passphrase-file``). The message gpg
returns is verified against the key's exported public key before it is used.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping

import attrs

from okdrelease._repr import value_repr
from okdrelease.errors import SignatureError
from okdrelease.sign.openpgp import ARMOR_PUBLIC, Keyring, armor, verify_message

_FINGERPRINT_RE = re.compile(r"^(?:0x)?[0-9A-Fa-f]{16}(?:[0-9A-Fa-f]{24})?$")
#: gpg may ask the agent, a smartcard or a pinentry: allow it time, but not forever.
GPG_TIMEOUT = 300.0


def _gpg_binary(binary: str | None) -> str:
    found = shutil.which(binary or os.environ.get("OKDRELEASE_GPG", "gpg"))
    if found is None:
        raise SignatureError(f"cannot sign with gpg: {binary or 'gpg'} was not found on PATH")
    return found


@attrs.frozen
class GpgSigner:
    """A key in a gpg home, used through the ``gpg`` binary; ``sign`` makes what ``gpg --sign`` makes."""

    __repr__ = value_repr

    key: str
    binary: str
    public: Keyring = attrs.field(repr=False)
    homedir: str | None = None
    passphrase_file: str | None = None

    @property
    def fingerprint(self) -> str:
        """Fingerprint of the primary key."""
        return self.public.certificates[0].fingerprint

    @property
    def signing_fingerprint(self) -> str:
        """The primary key's fingerprint (gpg picks the signing subkey itself)."""
        return self.fingerprint

    def export_public(self) -> str:
        """The armored public key as gpg exported it."""
        return armor(_public_packets(self), ARMOR_PUBLIC)

    def sign(self, data: bytes) -> bytes:
        """Sign ``data`` with gpg; check the result verifies with the key before returning it."""
        args = ["--batch", "--no-tty", "--sign", "--local-user", self.key]
        if self.passphrase_file:
            args = ["--pinentry-mode", "loopback", "--passphrase-file", self.passphrase_file, *args]
        signed = _run(self, args, data, "sign with key")
        verified = verify_message(signed, self.public)
        if verified.content != data:
            raise SignatureError(f"gpg signed something other than the payload with key {self.key}")
        return signed


def _public_packets(signer: GpgSigner) -> bytes:
    return _run(signer, ["--batch", "--export", signer.key], b"", "export the public key")


def _run(signer: GpgSigner | _Probe, args: list[str], data: bytes, action: str) -> bytes:
    command = [signer.binary]
    if signer.homedir:
        command += ["--homedir", signer.homedir]
    env: Mapping[str, str] = dict(os.environ, LC_ALL="C")
    try:
        proc = subprocess.run(
            [*command, *args], input=data, capture_output=True, env=env, timeout=GPG_TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        raise SignatureError(f"gpg could not {action} {signer.key}: {err}") from err
    if proc.returncode != 0 or (not proc.stdout and action != "find key"):
        detail = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        reason = detail[-1] if detail else f"exit status {proc.returncode}"
        raise SignatureError(f"gpg could not {action} {signer.key}: {reason}")
    return proc.stdout


@attrs.frozen
class _Probe:
    __repr__ = value_repr

    key: str
    binary: str
    homedir: str | None


def gpg_signer(
    key: str,
    *,
    homedir: str | None = None,
    passphrase_file: str | None = None,
    binary: str | None = None,
) -> GpgSigner:
    """A signer for the gpg key ``key`` (a 40-hex fingerprint or 16-hex key id), found in the gpg home.

    Fails early, naming the key, when gpg is missing or does not have the key.
    """
    wanted = key.replace(" ", "")
    if not _FINGERPRINT_RE.match(wanted):
        raise SignatureError(f"--sign-by-gpg needs a key fingerprint (40 hex digits), not {key!r}")
    wanted = wanted.upper().removeprefix("0X")
    probe = _Probe(wanted, _gpg_binary(binary), homedir)
    packets = _run(probe, ["--batch", "--export", wanted], b"", "find key")
    if not packets:
        home = homedir or os.environ.get("GNUPGHOME") or "~/.gnupg"
        raise SignatureError(f"gpg has no key {wanted} (gpg home {home})")
    public = Keyring.from_bytes(packets, f"gpg key {wanted}")
    if len(public.certificates) != 1:
        raise SignatureError(
            f"gpg key {wanted} matches {len(public.certificates)} keys; give its fingerprint"
        )
    return GpgSigner(wanted, probe.binary, public, homedir, passphrase_file)
