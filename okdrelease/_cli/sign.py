"""``okdrelease sign``: OpenPGP release signatures to stores, or cosign signatures to a registry."""

from __future__ import annotations

import argparse
import sys

from okdrelease._cli.common import add_registry_flags, transport_options
from okdrelease.errors import UsageError
from okdrelease.reference import parse_location
from okdrelease.sign.api import DEFAULT_CREATOR, SignResult, sign_release, sign_release_cosign
from okdrelease.sign.keys import (
    PASSPHRASE_ENV,
    Signer,
    load_cosign_private_key,
    openpgp_signer,
    read_passphrase,
)
from okdrelease.sign.lookaside import DockerName, containers_configuration
from okdrelease.sign.simple import WRITABLE_TIMESTAMPS, WRITABLE_TIMESTAMPS_TEXT
from okdrelease.sign.store import check_output_dir
from okdrelease.sign.target import open_signed_image, signed_reference

DESCRIPTION = """\
Sign IMAGE@sha256:HEX. With --key (a secret key file) or --sign-by-gpg FINGERPRINT (a key in
your gpg, GNUPGHOME honoured; gpg's agent asks for the passphrase), write an OpenPGP 'atomic
container signature' (no registry is contacted) to --signature-dir (OpenShift store layout
DIR/sha256=<hex>/signature-N, read by the cluster-version operator), --lookaside (containers/image
layout DIR/<repository path>@sha256=<hex>/signature-N, read by podman, skopeo and CRI-O) and/or
--configmap-dir. With --lookaside, stdout continues after the result lines with a registries.d
file and a policy.json, each after a line starting with '# ': install them (or merge the
policy's transports.docker entry into your policy) and podman/skopeo require this key's
signature for the repository (signedIdentity matchRepository: the signature names REPO@DIGEST,
as oc's do, so pulls by tag are accepted too). With --cosign-key, push a cosign signature (tag sha256-<hex>.sig)
next to the image."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """Add the ``sign`` subcommand."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "sign",
        help="sign a release image digest (OpenPGP store/lookaside signature or cosign .sig)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("image", metavar="IMAGE@DIGEST", help="the release image, by digest")
    parser.add_argument("--key", metavar="SECRET.asc", help="OpenPGP secret key (armored or binary)")
    parser.add_argument(
        "--sign-by-gpg", metavar="FINGERPRINT", help="sign with this key of your gpg (as skopeo --sign-by)"
    )
    parser.add_argument(
        "--signature-dir", metavar="DIR", help="OpenShift signature store directory to write into"
    )
    parser.add_argument(
        "--lookaside", metavar="DIR", help="containers/image lookaside directory to write into"
    )
    parser.add_argument(
        "--lookaside-url",
        metavar="URL",
        help="where readers find --lookaside DIR when it is published (registries.d lookaside:)",
    )
    parser.add_argument(
        "--policy-key-path",
        metavar="PATH",
        help="name this public key file in the printed policy (keyPath) instead of embedding it (keyData)",
    )
    parser.add_argument(
        "--configmap-dir", metavar="DIR", help="also write the oc-mirror signature ConfigMap here"
    )
    parser.add_argument("--creator", default=DEFAULT_CREATOR, help="optional.creator of the signature")
    parser.add_argument(
        "--timestamp", type=_timestamp, metavar="UNIX", help="optional.timestamp (default: now)"
    )
    parser.add_argument("--cosign-key", metavar="KEY", help="cosign encrypted private key (cosign.key)")
    parser.add_argument(
        "--identity",
        metavar="REPO",
        help="repository to name in the signed docker-reference (default: the image's; required for oci:)",
    )
    parser.add_argument(
        "--passphrase-file",
        metavar="FILE",
        help="file holding the key's passphrase (default: $OKDRELEASE_SIGN_PASSPHRASE, else $COSIGN_PASSWORD; "
        "gpg: loopback pinentry)",
    )
    add_registry_flags(parser)
    parser.set_defaults(func=run)
    return parser


def _timestamp(text: str) -> int:
    """--timestamp: an integer every reader of the signature takes."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
    if value not in WRITABLE_TIMESTAMPS:
        raise argparse.ArgumentTypeError(f"{text} is out of range: {WRITABLE_TIMESTAMPS_TEXT}")
    return value


def run(args: argparse.Namespace) -> int:
    """Sign with the OpenPGP key (file or gpg) or the cosign key."""
    chosen = [flag for flag in (args.key, args.sign_by_gpg, args.cosign_key) if flag]
    if len(chosen) != 1:
        raise UsageError("give exactly one of --key or --sign-by-gpg (OpenPGP) or --cosign-key")
    if args.cosign_key:
        return _run_cosign(args)
    if not (args.signature_dir or args.configmap_dir or args.lookaside):
        raise UsageError(
            "OpenPGP signing needs --signature-dir, --lookaside and/or --configmap-dir to write to"
        )
    if (args.lookaside_url or args.policy_key_path) and not args.lookaside:
        raise UsageError("--lookaside-url and --policy-key-path go with --lookaside")
    for flag, directory in (
        ("--signature-dir", args.signature_dir),
        ("--lookaside", args.lookaside),
        ("--configmap-dir", args.configmap_dir),
    ):
        if directory:  # each checked before any is written
            check_output_dir(flag, directory)
    signer = openpgp_signer(
        key_file=args.key, gpg_key=args.sign_by_gpg, passphrase_file=args.passphrase_file, env=PASSPHRASE_ENV
    )
    image = signed_reference(parse_location(args.image), args.identity)
    result = sign_release(
        image,
        signer,
        # (an empty value is no directory, as for the checks above: not the working directory)
        signature_dir=args.signature_dir or None,
        configmap_dir=args.configmap_dir or None,
        lookaside=args.lookaside or None,
        creator=args.creator,
        timestamp=args.timestamp,
    )
    _print_result(result, signer)
    if args.lookaside:
        config = containers_configuration(
            DockerName.parse(image),
            args.lookaside,
            signer.export_public().encode(),
            lookaside_url=args.lookaside_url,
            key_path=args.policy_key_path,
        )
        print("# registries.d file (for example /etc/containers/registries.d/okdrelease.yaml):")
        print(config.registries_d, end="")
        print(
            "# policy.json (for example /etc/containers/policy.json; or merge its transports.docker entry):"
        )
        print(config.policy, end="")
    return 0


def _print_result(result: SignResult, signer: Signer) -> None:
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"Signed {result.identity} with key {signer.fingerprint}")
    if result.signature_path:
        print(f"Signature written to {result.signature_path}")
    if result.lookaside_path:
        print(f"Lookaside signature written to {result.lookaside_path}")
    if result.configmap_path:
        print(f"Configmap signature file {result.configmap_path} created")


def _run_cosign(args: argparse.Namespace) -> int:
    if args.signature_dir or args.lookaside or args.configmap_dir:
        raise UsageError(
            "--cosign-key pushes to the registry; --signature-dir, --lookaside and --configmap-dir are OpenPGP"
        )
    password = read_passphrase(args.passphrase_file, PASSPHRASE_ENV)
    private = load_cosign_private_key(args.cosign_key, password)
    repository, ref = open_signed_image(args.image, args.identity, transport_options(args))
    pushed = sign_release_cosign(repository, ref, private)
    print(
        f"Pushed signature of {pushed.digest} to {repository.display}:{pushed.tag} ({pushed.manifest_digest})"
    )
    return 0
