"""``okdrelease keys``: generate signing keys and the verification-keys ConfigMap for a payload."""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path

from okdrelease._cli.sign import read_passphrase
from okdrelease.errors import SignatureError, UsageError
from okdrelease.sign import cosign
from okdrelease.sign.openpgp import generate_key, load_keyring
from okdrelease.sign.store import verification_configmap_yaml

_NAME_RE = re.compile(r"[^-._a-zA-Z0-9]+")


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``keys`` subcommand with ``generate`` and ``configmap``."""
    parser = subparsers.add_parser("keys", help="generate signing keys and the verification-keys ConfigMap")
    actions = parser.add_subparsers(dest="keys_command", metavar="ACTION")
    generate = actions.add_parser(
        "generate", help="generate an OpenPGP (--pgp) or cosign (--cosign) key pair"
    )
    kind = generate.add_mutually_exclusive_group(required=True)
    kind.add_argument("--pgp", action="store_true", help="RSA-4096 OpenPGP key: secret.asc and public.asc")
    kind.add_argument(
        "--cosign", action="store_true", help="ECDSA P-256 cosign key: cosign.key and cosign.pub"
    )
    generate.add_argument("--name", help='OpenPGP user id, e.g. "OKD Release <release@example.com>"')
    generate.add_argument("--out", required=True, metavar="DIR", help="directory to write the key files to")
    generate.add_argument("--bits", type=int, default=4096, help=argparse.SUPPRESS)
    generate.add_argument(
        "--passphrase-file", metavar="FILE", help="cosign key password file (default COSIGN_PASSWORD)"
    )
    generate.set_defaults(func=run_generate)
    configmap = actions.add_parser(
        "configmap", help="emit a cluster-update-keys style ConfigMap trusting a key and a signature store"
    )
    configmap.add_argument(
        "--keyring",
        action="append",
        required=True,
        metavar="[NAME=]PUB.asc",
        help="public key file (repeatable)",
    )
    configmap.add_argument(
        "--store",
        action="append",
        required=True,
        metavar="[NAME=]URL",
        help="signature store URL (repeatable)",
    )
    configmap.add_argument("--name", default="release-verification", help="ConfigMap name")
    configmap.add_argument("--namespace", default="openshift-config-managed", help="ConfigMap namespace")
    configmap.add_argument("-o", "--output", metavar="FILE", help="write the manifest here instead of stdout")
    configmap.set_defaults(func=run_configmap)
    parser.set_defaults(func=lambda _args: _missing_action())
    return parser


def _missing_action() -> int:
    raise UsageError("keys needs an action: generate or configmap")


def _write(path: Path, data: bytes, mode: int) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError as err:
        raise SignatureError(f"{path} already exists; not overwriting a key") from err
    except OSError as err:
        raise SignatureError(f"cannot write {path}: {err.strerror or err}") from err
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def run_generate(args: argparse.Namespace) -> int:
    """Write a new key pair into ``--out``."""
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise SignatureError(f"cannot create {out}: {err.strerror or err}") from err
    if args.pgp:
        if not args.name:
            raise UsageError("--pgp needs --name with the key's user id")
        key = generate_key(args.name, bits=args.bits)
        _write(out / "secret.asc", key.export_secret().encode(), 0o600)
        _write(out / "public.asc", key.export_public().encode(), 0o644)
        print(f"Generated OpenPGP key {key.fingerprint} ({args.name})")
        print(f"Secret key: {out / 'secret.asc'} (unprotected: keep it safe)")
        print(f"Public key: {out / 'public.asc'}")
        return 0
    password = read_passphrase(args.passphrase_file, "COSIGN_PASSWORD")
    if password is None:
        raise UsageError("a cosign key needs a password: --passphrase-file or COSIGN_PASSWORD")
    private = cosign.generate_private_key()
    _write(out / "cosign.key", cosign.encrypt_private_key(private, password), 0o600)
    _write(out / "cosign.pub", cosign.public_key_pem(private), 0o644)
    print(f"Private key written to {out / 'cosign.key'}")
    print(f"Public key written to {out / 'cosign.pub'}")
    return 0


def _named(specs: list[str], default: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for index, spec in enumerate(specs, start=1):
        name, sep, value = spec.partition("=")
        if not sep or "://" in name:
            name, value = (default if len(specs) == 1 else f"{default}-{index}"), spec
        out.append((name, value))
    return out


def run_configmap(args: argparse.Namespace) -> int:
    """Print (or write) the verification-keys ConfigMap manifest."""
    keys: dict[str, str] = {}
    for name, path in _named(args.keyring, "okdrelease"):
        data = Path(path).read_bytes() if Path(path).is_file() else None
        if data is None:
            raise SignatureError(f"cannot read keyring {path}")
        load_keyring(path, data)  # refuse anything that is not a public keyring
        if data.lstrip().startswith(b"-----BEGIN PGP PRIVATE KEY"):
            raise SignatureError(f"{path} is a secret key; give the public key")
        if not data.lstrip().startswith(b"-----BEGIN PGP "):
            raise SignatureError(f"{path} must be ASCII-armored (export it with --armor)")
        keys[_NAME_RE.sub("-", name)] = data.decode("ascii")
    stores = {_NAME_RE.sub("-", name): url for name, url in _named(args.store, "okdrelease")}
    text = verification_configmap_yaml(keys, stores, name=args.name, namespace=args.namespace)
    if args.output:
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as err:
            raise SignatureError(f"cannot write {args.output}: {err.strerror or err}") from err
        print(f"Wrote {args.output}")
    else:
        print(text, end="")
    return 0
