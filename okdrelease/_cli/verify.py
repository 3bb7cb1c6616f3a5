"""``okdrelease verify``: check OpenPGP release signatures from stores, or cosign signatures in a registry."""

from __future__ import annotations

import argparse

from okdrelease._cli.common import add_registry_flags, transport_options
from okdrelease.errors import UsageError
from okdrelease.sign.api import verify_release, verify_release_cosign
from okdrelease.sign.keys import keyrings_from_specs, load_cosign_public_key, unique_name
from okdrelease.sign.store import load_verification_configmap
from okdrelease.sign.target import check_image_policy, open_signed_image


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """Add the ``verify`` subcommand."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "verify",
        help="verify the signatures of a release image digest",
        description=(
            "Verify IMAGE@sha256:HEX (or a bare sha256:HEX for OpenPGP stores). OpenPGP: every --keyring must be "
            "satisfied by a signature from --signature-dir, --lookaside, --store or --configmap (library-go's "
            "rule). cosign: --cosign-key checks the sha256-<hex>.sig signatures in the image's repository."
        ),
    )
    parser.add_argument(
        "image", metavar="IMAGE@DIGEST", help="the release image, by digest (by tag with --policy)"
    )
    parser.add_argument(
        "--keyring",
        action="append",
        default=[],
        metavar="[NAME=]PUBLIC.asc",
        help="OpenPGP public keyring (armored or binary); repeatable, every keyring must verify",
    )
    parser.add_argument(
        "--signature-dir",
        action="append",
        default=[],
        metavar="DIR",
        help="OpenShift signature store directory",
    )
    parser.add_argument(
        "--lookaside",
        action="append",
        default=[],
        metavar="DIR|URL",
        help="containers/image lookaside: a directory or a file/http/https URL (<repository path>@sha256=<hex>/signature-N)",
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
    parser.add_argument(
        "--policy",
        metavar="POLICY.json",
        help="check IMAGE (tag or digest) against a containers-policy.json, as podman/skopeo would",
    )
    parser.add_argument(
        "--registries.d",
        dest="registries_d",
        metavar="DIR",
        help="registries.d directory for --policy (default: ~/.config/containers/registries.d or /etc's)",
    )
    parser.add_argument("--identity", help=argparse.SUPPRESS)
    add_registry_flags(parser)
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Verify and print what verified; failures raise SignatureError (exit 1)."""
    openpgp_sources = (
        args.keyring or args.signature_dir or args.lookaside or args.store or args.configmap
    ) or args.verification_configmap
    if args.policy:
        if openpgp_sources or args.cosign_key:
            raise UsageError("--policy takes its keys and stores from the policy and registries.d")
        verdict = check_image_policy(
            args.policy, args.image, transport_options(args), registries_d=args.registries_d
        )
        print(f"Allowed {verdict.image} ({verdict.digest}) by policy {verdict.scope}")
        return 0
    if args.registries_d:
        raise UsageError("--registries.d goes with --policy")
    if args.cosign_key:
        if openpgp_sources:
            raise UsageError("--cosign-key cannot be combined with OpenPGP keyrings or stores")
        return _run_cosign(args)
    keyrings = keyrings_from_specs(args.keyring)
    stores = list(args.store)
    if args.verification_configmap:
        config = load_verification_configmap(args.verification_configmap)
        for name, keyring in config.parsed_keyrings().items():  # (a --keyring of that name stays)
            keyrings[unique_name(name, keyrings)] = keyring
        stores.extend(config.stores.values())
    if not keyrings:
        raise UsageError("give --keyring, --verification-configmap or --cosign-key")
    if not (args.signature_dir or stores or args.configmap or args.lookaside):
        raise UsageError("give at least one of --signature-dir, --lookaside, --store or --configmap")
    result = verify_release(
        args.image,
        keyrings,
        signature_dirs=args.signature_dir,
        store_urls=stores,
        configmap_files=args.configmap,
        lookaside_dirs=args.lookaside,
        options=transport_options(args),
    )
    for item in result.signatures:
        print(
            f"Verified {result.digest} with keyring {item.keyring}: signed by {item.signer_fingerprint} "
            f"(key {item.primary_fingerprint}), identity {item.claim.docker_reference}, from {item.source}"
        )
    return 0


def _run_cosign(args: argparse.Namespace) -> int:
    public = load_cosign_public_key(args.cosign_key)
    repository, ref = open_signed_image(
        args.image, args.identity, transport_options(args), need_identity=False
    )
    checked = verify_release_cosign(repository, ref, public)
    for found in checked.signatures:
        print(
            f"Verified cosign signature of {checked.digest} "
            f"(identity {found.claim.docker_reference}, payload {found.payload_digest})"
        )
    return 0
