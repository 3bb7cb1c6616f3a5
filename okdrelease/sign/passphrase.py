"""Signing passphrases: where ``new``, ``sign`` and ``keys`` read them (a module of its own, so reading
one does not load the signing machinery; ``okdrelease.sign.keys`` re-exports it)."""

from __future__ import annotations

import os
from collections.abc import Iterable

from okdrelease.errors import SignatureError
from okdrelease.sign.files import read_bounded

#: Where ``new`` and ``sign`` take a signing key's passphrase from when no passphrase file is given:
#: the first of these variables that is set (set and empty is the empty passphrase, as cosign reads
#: COSIGN_PASSWORD).
PASSPHRASE_ENV = ("OKDRELEASE_SIGN_PASSPHRASE", "COSIGN_PASSWORD")
#: What ``keys generate --cosign`` reads for the new key's password without a passphrase file (cosign's variable).
COSIGN_ENV = ("COSIGN_PASSWORD",)


def read_passphrase(path: str | os.PathLike[str] | None, env: Iterable[str] = ()) -> str | None:
    """The one passphrase reader of every command: the first line of the passphrase file ``path``; else
    the first variable of ``env`` that is set (``PASSPHRASE_ENV``, ``COSIGN_ENV``); else None."""
    if path:
        data = read_bounded(path, "passphrase file")  # (bounded; a FIFO nobody writes to is not waited on)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as err:
            raise SignatureError(f"passphrase file {path} is not UTF-8 text") from err
        return text.splitlines()[0] if text else ""
    for name in env:
        value = os.environ.get(name)
        if value is not None:
            return value
    return None
