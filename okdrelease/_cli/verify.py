"""``okdrelease verify``: check OpenPGP release signatures from stores, or cosign signatures in a registry."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from okdrelease._cli.common import add_registry_flags
from okdrelease._cli.sign import open_image
from okdrelease.errors import SignatureError, UsageError
from okdrelease.sign import cosign
from okdrelease.sign.api import verify_release, verify_release_cosign
from okdrelease.sign.openpgp import Keyring, load_keyring
from okdrelease.sign.store import read_verification_configmap

_NAME_RE = re.compile(r"[^-._a-zA-Z0-9]+")


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``verify`` subcommand."""
    parser = subparsers.add_parser(
        "verify",
        help="verify the signatures of a release image digest",
        description=(
            "Verify IMAGE@sha256:HEX (or a bare sha256:HEX for OpenPGP). OpenPGP: every --keyring must be "
            "satisfied by a signature from --signature-dir, --store or --configmap (library-go's rule). "
            "cosign: --cosign-key checks the sha256-<hex>.sig signatures in the image's repository."
        ),
    )
    parser.add_argument("image", metavar="IMAGE@DIGEST", help="the release image, by digest")
    parser.add_argument(
        "--keyring",
        action="append",
        default=[],
        metavar="[NAME=]PUBLIC.asc",
        help="OpenPGP public keyring (armored or binary); repeatable, every keyring must verify",
    )
    parser.add_argument(
        "--signature-dir", action="append", default=[], metavar="DIR", help="signature store directory"
    )
    parser.add_argument(
        "--store", action="append", default=[], metavar="URL", help="signature store URL (http, https, file)"
    )
    parser.add_argument(
        "--configmap",
        action="append",
        default=[],
        metavar="FILE",
        help="signature ConfigMap file (JSON or YAML)",
    )
    parser.add_argument(
        "--verification-configmap",
        metavar="FILE",
        help="take keyrings and stores from a verification ConfigMap (release.openshift.io/verification-config-map)",
    )
    parser.add_argument("--cosign-key", metavar="KEY.pub", help="cosign public key (PEM)")
    parser.add_argument("--identity", help=argparse.SUPPRESS)
    add_registry_flags(parser)
    parser.set_defaults(func=run)
    return parser


def _keyrings(specs: list[str]) -> dict[str, Keyring]:
    keyrings: dict[str, Keyring] = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep:
            name, path = _NAME_RE.sub("-", Path(spec).stem) or "keyring", spec
        if name in keyrings:
            name = f"{name}-{len(keyrings) + 1}"
        keyrings[name] = load_keyring(path)
    return keyrings


def run(args: argparse.Namespace) -> int:
    """Verify and print what verified; failures raise SignatureError (exit 1)."""
    if args.cosign_key:
        if args.keyring or args.signature_dir or args.store or args.configmap or args.verification_configmap:
            raise UsageError("--cosign-key cannot be combined with OpenPGP keyrings or stores")
        try:
            public = cosign.load_public_key(Path(args.cosign_key).read_bytes(), args.cosign_key)
        except OSError as err:
            raise SignatureError(f"cannot read cosign key {args.cosign_key}: {err.strerror or err}") from err
        repository, ref = open_image(args.image, args, need_identity=False)
        checked = verify_release_cosign(repository, ref, public)
        for found in checked.signatures:
            print(
                f"Verified cosign signature of {checked.digest} "
                f"(identity {found.claim.docker_reference}, payload {found.payload_digest})"
            )
        return 0
    keyrings = _keyrings(args.keyring)
    stores = list(args.store)
    if args.verification_configmap:
        try:
            config = read_verification_configmap(
                Path(args.verification_configmap).read_bytes(), args.verification_configmap
            )
        except OSError as err:
            raise SignatureError(f"cannot read {args.verification_configmap}: {err.strerror or err}") from err
        for name, data in config.keyrings.items():
            keyrings[name] = Keyring.from_bytes(data, f"verifier-public-key-{name}")
        stores.extend(config.stores.values())
    if not keyrings:
        raise UsageError("give --keyring, --verification-configmap or --cosign-key")
    if not (args.signature_dir or stores or args.configmap):
        raise UsageError("give at least one of --signature-dir, --store or --configmap")
    result = verify_release(
        args.image,
        keyrings,
        signature_dirs=args.signature_dir,
        store_urls=stores,
        configmap_files=args.configmap,
    )
    for item in result.signatures:
        print(
            f"Verified {result.digest} with keyring {item.keyring}: signed by {item.signer_fingerprint} "
            f"(key {item.primary_fingerprint}), identity {item.claim.docker_reference}, from {item.source}"
        )
    return 0
