"""Key handling behind ``sign``, ``verify``, ``keys`` and ``new --sign-by*``: passphrases, key files, signers.

These are the use cases the command line only wires up: where a passphrase comes from, which
signer a set of options names (a secret key file or a key in the user's gpg), writing a new key
pair without overwriting anything, and reading keyrings and cosign keys with errors naming the file.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Protocol

import attrs
from cryptography.hazmat.primitives.asymmetric import ec

from okdrelease._repr import value_repr
from okdrelease.errors import SignatureError, UsageError
from okdrelease.regularfile import new_file, undone_mkdirs
from okdrelease.sign import cosign
from okdrelease.sign.files import read_bounded
from okdrelease.sign.openpgp import KEY_ALGORITHMS, Keyring, generate_key, load_keyring, load_secret_key
from okdrelease.sign.passphrase import COSIGN_ENV as COSIGN_ENV  # re-exported: the passphrase sources
from okdrelease.sign.passphrase import PASSPHRASE_ENV as PASSPHRASE_ENV
from okdrelease.sign.passphrase import read_passphrase as read_passphrase

_NAME_RE = re.compile(r"[^-._a-zA-Z0-9]+")


class Signer(Protocol):
    """Something that makes OpenPGP signed messages: a secret key file or a key in gpg."""

    @property
    def fingerprint(self) -> str:
        """Fingerprint of the primary key (what containers/image and policies name)."""
        ...

    @property
    def signing_fingerprint(self) -> str:
        """Fingerprint of the key that signs (primary or subkey; gpg's choice for gpg keys)."""
        ...

    def sign(self, data: bytes) -> bytes:
        """A binary signed message of ``data`` (what ``gpg --sign`` writes)."""
        ...

    def export_public(self) -> str:
        """The armored public key."""
        ...


def openpgp_signer(
    *,
    key_file: str | None = None,
    gpg_key: str | None = None,
    passphrase: str | None = None,
    passphrase_file: str | None = None,
    gpg_homedir: str | None = None,
    env: Iterable[str] = (),
) -> Signer:
    """The signer the options name: exactly one of a secret key file or a gpg key fingerprint.

    For a key file the passphrase is ``passphrase``, else ``read_passphrase(passphrase_file, env)``;
    gpg keys get the passphrase file handed to gpg (loopback pinentry) or let gpg's agent ask.
    """
    if bool(key_file) == bool(gpg_key):
        raise SignatureError("give exactly one OpenPGP key: a secret key file or a gpg key fingerprint")
    if gpg_key:
        from okdrelease.sign.gpg import gpg_signer  # (and subprocess: only to sign with gpg)

        return gpg_signer(gpg_key, homedir=gpg_homedir, passphrase_file=passphrase_file)
    assert key_file is not None
    if passphrase is None:
        passphrase = read_passphrase(passphrase_file, env)
    return load_secret_key(key_file, passphrase)


def load_cosign_private_key(path: str, password: str | None) -> ec.EllipticCurvePrivateKey:
    """Read and decrypt a cosign private key; a missing password is an error naming the key."""
    if password is None:
        raise SignatureError(f"the cosign key {path} needs a password: a passphrase file or COSIGN_PASSWORD")
    data = read_bounded(path, "cosign key")
    return cosign.decrypt_private_key(data, password, path)


def load_cosign_public_key(path: str) -> cosign.CosignPublicKey:
    """Read a cosign public key (PEM)."""
    data = read_bounded(path, "cosign key")
    return cosign.load_public_key(data, path)


def keyrings_from_specs(specs: Sequence[str]) -> dict[str, Keyring]:
    """Keyrings from ``[NAME=]PATH`` specs; unnamed ones are named after the file. A name met again
    is numbered (``a``, ``a-2``): every keyring must verify, so none is ever dropped."""
    keyrings: dict[str, Keyring] = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep:
            name, path = _NAME_RE.sub("-", Path(spec).stem) or "keyring", spec
        keyrings[unique_name(name, keyrings)] = load_keyring(path)
    return keyrings


def unique_name(name: str, taken: Iterable[str]) -> str:
    """``name``, or ``name-N`` with the smallest N from 2 that is not ``taken``."""
    used = set(taken)
    if name not in used:
        return name
    return next(f"{name}-{n}" for n in range(2, len(used) + 3) if f"{name}-{n}" not in used)


@attrs.frozen
class GeneratedKeyFiles:
    """A key pair written to disk."""

    __repr__ = value_repr

    fingerprint: str | None
    secret_path: Path
    public_path: Path
    protected: bool


def _write_new(path: Path, data: bytes, mode: int) -> None:
    try:
        with new_file(str(path), mode) as handle:  # (never an existing file; removed if not written whole)
            handle.write(data)
            handle.close()
    except FileExistsError as err:
        raise SignatureError(f"{path} already exists; not overwriting a key") from err
    except OSError as err:
        raise SignatureError(f"cannot write {path}: {err.strerror or err}") from err


def _write_key_files(out: Path, files: Sequence[tuple[str, bytes, int]]) -> None:
    """Create ``out`` and write ``files`` (name, bytes, mode) into it, all or none: one that exists is
    refused before anything is written, and a failure removes the files written and the directories
    made by this call."""
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(undone_mkdirs(out))
        except OSError as err:
            raise SignatureError(f"cannot create {out}: {err.strerror or err}") from err
        written: list[Path] = []
        try:
            for name, _data, _mode in files:
                if (out / name).exists():
                    raise SignatureError(f"{out / name} already exists; not overwriting a key")
            for name, data, mode in files:
                _write_new(out / name, data, mode)
                written.append(out / name)
        except BaseException:
            for path in written:
                path.unlink(missing_ok=True)
            raise  # (and undone_mkdirs removes the directories it made, deepest first, once empty)


def generate_pgp_key_files(
    out: str | os.PathLike[str],
    user_id: str,
    *,
    algorithm: str = "rsa4096",
    passphrase: str | None = None,
) -> GeneratedKeyFiles:
    """Write ``secret.asc`` (0600; protected when ``passphrase`` is given) and ``public.asc`` into ``out``
    (both or neither: the key is made before anything is written)."""
    if algorithm not in KEY_ALGORITHMS:
        raise SignatureError(
            f"unsupported key algorithm {algorithm!r}: use one of {', '.join(KEY_ALGORITHMS)}"
        )
    if passphrase is not None and not passphrase:
        raise SignatureError("the passphrase is empty; give a non-empty passphrase or none")
    try:
        user_id.encode("utf-8")
    except UnicodeEncodeError:  # (bytes of another encoding in a command-line argument)
        raise SignatureError(f"the user id {user_id!r} is not valid UTF-8") from None
    target = Path(out)
    key = generate_key(user_id, algorithm=algorithm)
    secret = key.export_secret(passphrase).encode()
    _write_key_files(
        target, (("secret.asc", secret, 0o600), ("public.asc", key.export_public().encode(), 0o644))
    )
    return GeneratedKeyFiles(
        key.fingerprint, target / "secret.asc", target / "public.asc", passphrase is not None
    )


def generate_cosign_key_files(out: str | os.PathLike[str], password: str | None) -> GeneratedKeyFiles:
    """Write ``cosign.key`` (encrypted, 0600) and ``cosign.pub`` into ``out`` (both or neither)."""
    if password is None:
        raise UsageError("a cosign key needs a password: give --passphrase-file or set COSIGN_PASSWORD")
    target = Path(out)
    private = cosign.generate_private_key()
    _write_key_files(
        target,
        (
            ("cosign.key", cosign.encrypt_private_key(private, password), 0o600),
            ("cosign.pub", cosign.public_key_pem(private), 0o644),
        ),
    )
    return GeneratedKeyFiles(None, target / "cosign.key", target / "cosign.pub", True)


def armored_public_keys(specs: Sequence[str], default: str) -> dict[str, str]:
    """``[NAME=]PATH`` public key files (``--keyring``) as armored text by name, for a verification
    ConfigMap; two that get one name are refused (``named_specs``)."""
    keys: dict[str, str] = {}
    for name, path in named_specs(specs, default, "--keyring"):
        data = read_bounded(path, "keyring")
        load_keyring(path, data)  # refuse anything that is not a keyring
        if data.lstrip().startswith(b"-----BEGIN PGP PRIVATE KEY"):
            raise SignatureError(f"{path} is a secret key; give the public key")
        if not data.lstrip().startswith(b"-----BEGIN PGP "):
            raise SignatureError(f"{path} must be ASCII-armored (export it with --armor)")
        keys[name] = data.decode("ascii")
    return keys


def named_specs(specs: Sequence[str], default: str, flag: str) -> list[tuple[str, str]]:
    """Split ``flag``'s ``[NAME=]VALUE`` specs; unnamed ones get ``default`` (numbered when there are
    several); characters a ConfigMap key cannot hold become ``-``. Two specs that end with one name
    are a UsageError naming both: each is a key of its own in the ConfigMap (library-go requires
    every ``verifier-public-key-*`` to verify), and a map keeps only one of them."""
    out: list[tuple[str, str]] = []
    given: dict[str, str] = {}
    for index, spec in enumerate(specs, start=1):
        name, sep, value = spec.partition("=")
        if not sep or "://" in name:
            name, value = (default if len(specs) == 1 else f"{default}-{index}"), spec
        name = _NAME_RE.sub("-", name)
        if name in given:
            raise UsageError(
                f"{flag} {given[name]!r} and {flag} {spec!r} both get the name {name!r}; give each its"
                " own NAME= (a ConfigMap holds one entry per name)"
            )
        given[name] = spec
        out.append((name, value))
    return out
