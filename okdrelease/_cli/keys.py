"""``okdrelease keys``: generate signing keys and the verification-keys ConfigMap for a payload."""

from __future__ import annotations

import argparse

from okdrelease.errors import SignatureError, UsageError
from okdrelease.regularfile import write_whole
from okdrelease.sign.keys import (
    COSIGN_ENV,
    armored_public_keys,
    generate_cosign_key_files,
    generate_pgp_key_files,
    named_specs,
    read_passphrase,
)
from okdrelease.sign.openpgp import KEY_ALGORITHMS
from okdrelease.sign.store import verification_configmap_yaml


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """Add the ``keys`` subcommand with ``generate`` and ``configmap``."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "keys", help="generate signing keys and the verification-keys ConfigMap"
    )
    actions = parser.add_subparsers(dest="keys_command", metavar="ACTION")
    generate = actions.add_parser(
        "generate", help="generate an OpenPGP (--pgp) or cosign (--cosign) key pair"
    )
    kind = generate.add_mutually_exclusive_group(required=True)
    kind.add_argument("--pgp", action="store_true", help="OpenPGP key: secret.asc and public.asc")
    kind.add_argument(
        "--cosign", action="store_true", help="ECDSA P-256 cosign key: cosign.key and cosign.pub"
    )
    generate.add_argument("--name", help='OpenPGP user id, e.g. "OKD Release <release@example.com>"')
    generate.add_argument("--out", required=True, metavar="DIR", help="directory to write the key files to")
    generate.add_argument(
        "--algorithm",
        choices=KEY_ALGORITHMS,
        default="rsa4096",
        help="OpenPGP key algorithm, gpg's names (default rsa4096)",
    )
    generate.add_argument("--bits", type=int, help=argparse.SUPPRESS)
    generate.add_argument(
        "--passphrase-file",
        metavar="FILE",
        help="protect the key with this passphrase (OpenPGP: AES-256, iterated+salted SHA-256 S2K, as gpg; "
        "cosign: default COSIGN_PASSWORD)",
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
    configmap.add_argument(
        "--name", default="release-verification", help="ConfigMap name (default release-verification)"
    )
    configmap.add_argument(
        "--namespace",
        default="openshift-config-managed",
        help="ConfigMap namespace (default openshift-config-managed)",
    )
    configmap.add_argument(
        "-o", "--output", metavar="FILE", help="write the manifest here instead of stdout ('-': stdout)"
    )
    configmap.set_defaults(func=run_configmap)
    parser.set_defaults(func=lambda _args: _missing_action())
    return parser


def _missing_action() -> int:
    raise UsageError("keys needs an action: generate or configmap")


def run_generate(args: argparse.Namespace) -> int:
    """Write a new key pair into ``--out``."""
    if args.cosign:
        files = generate_cosign_key_files(args.out, read_passphrase(args.passphrase_file, COSIGN_ENV))
        print(f"Private key written to {files.secret_path}")
        print(f"Public key written to {files.public_path}")
        return 0
    if not args.name:
        raise UsageError("--pgp needs --name with the key's user id")
    algorithm = f"rsa{args.bits}" if args.bits else args.algorithm
    files = generate_pgp_key_files(
        args.out, args.name, algorithm=algorithm, passphrase=read_passphrase(args.passphrase_file)
    )
    print(f"Generated OpenPGP key {files.fingerprint} ({args.name})")
    protection = "protected by the passphrase" if files.protected else "unprotected: keep it safe"
    print(f"Secret key: {files.secret_path} ({protection})")
    print(f"Public key: {files.public_path}")
    return 0


def run_configmap(args: argparse.Namespace) -> int:
    """Print (or write) the verification-keys ConfigMap manifest."""
    keys = armored_public_keys(args.keyring, "okdrelease")
    stores = dict(named_specs(args.store, "okdrelease", "--store"))
    text = verification_configmap_yaml(keys, stores, name=args.name, namespace=args.namespace)
    if args.output and args.output != "-":
        try:
            write_whole(args.output, text.encode("utf-8"), 0o666)  # (an earlier file kept on failure)
        except OSError as err:
            raise SignatureError(f"cannot write {args.output}: {err.strerror or err}") from err
        print(f"Wrote {args.output}")
    else:
        print(text, end="")
    return 0
