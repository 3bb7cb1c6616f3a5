"""``okdrelease sign``: OpenPGP release signatures to a store directory, or cosign signatures to a registry."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import attrs

from okdrelease._cli.common import add_registry_flags, transport_options
from okdrelease.errors import SignatureError, UsageError
from okdrelease.reference import ImageReference, LayoutLocation, RegistryLocation, parse_location
from okdrelease.sign import cosign
from okdrelease.sign.api import DEFAULT_CREATOR, sign_release, sign_release_cosign
from okdrelease.sign.openpgp import load_secret_key
from okdrelease.transport.base import Repository


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``sign`` subcommand."""
    parser = subparsers.add_parser(
        "sign",
        help="sign a release image digest (OpenPGP store signature or cosign .sig)",
        description=(
            "Sign IMAGE@sha256:HEX. With --key, write an OpenPGP 'atomic container signature' to "
            "--signature-dir (no registry is contacted). With --cosign-key, push a cosign signature "
            "(tag sha256-<hex>.sig) next to the image."
        ),
    )
    parser.add_argument("image", metavar="IMAGE@DIGEST", help="the release image, by digest")
    parser.add_argument("--key", metavar="SECRET.asc", help="OpenPGP secret key (armored or binary)")
    parser.add_argument("--signature-dir", metavar="DIR", help="signature store directory to write into")
    parser.add_argument(
        "--configmap-dir", metavar="DIR", help="also write the oc-mirror signature ConfigMap here"
    )
    parser.add_argument("--creator", default=DEFAULT_CREATOR, help="optional.creator of the signature")
    parser.add_argument("--timestamp", type=int, metavar="UNIX", help="optional.timestamp (default: now)")
    parser.add_argument("--cosign-key", metavar="KEY", help="cosign encrypted private key (cosign.key)")
    parser.add_argument(
        "--identity",
        metavar="REPO",
        help="repository to name in the signed docker-reference (default: the image's; required for oci:)",
    )
    parser.add_argument(
        "--passphrase-file",
        metavar="FILE",
        help="file holding the key's passphrase (cosign: default COSIGN_PASSWORD)",
    )
    add_registry_flags(parser)
    parser.set_defaults(func=run)
    return parser


def read_passphrase(path: str | None, env: str | None = None) -> str | None:
    """The passphrase from a file (first line), else from the environment variable ``env``."""
    if path:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as err:
            raise UsageError(f"cannot read passphrase file {path}: {err.strerror or err}") from err
        return text.splitlines()[0] if text else ""
    if env is not None:
        return os.environ.get(env)
    return None


def run(args: argparse.Namespace) -> int:
    """Sign with the OpenPGP key or the cosign key."""
    if bool(args.key) == bool(args.cosign_key):
        raise UsageError("give exactly one of --key (OpenPGP) or --cosign-key")
    if args.key:
        if not args.signature_dir and not args.configmap_dir:
            raise UsageError("--key needs --signature-dir (and/or --configmap-dir) to write the signature to")
        key = load_secret_key(args.key, read_passphrase(args.passphrase_file))
        image = ImageReference.parse(args.image)
        if args.identity:
            image = attrs.evolve(ImageReference.parse(args.identity).repository_only(), digest=image.digest)
        result = sign_release(
            image,
            key,
            signature_dir=args.signature_dir,
            configmap_dir=args.configmap_dir,
            creator=args.creator,
            timestamp=args.timestamp,
        )
        print(f"Signed {result.identity} with key {result.fingerprint}")
        if result.signature_path:
            print(f"Signature written to {result.signature_path}")
        if result.configmap_path:
            print(f"Configmap signature file {result.configmap_path} created")
        return 0
    password = read_passphrase(args.passphrase_file, "COSIGN_PASSWORD")
    if password is None:
        raise UsageError("the cosign key needs a password: --passphrase-file or COSIGN_PASSWORD")
    try:
        key_data = Path(args.cosign_key).read_bytes()
    except OSError as err:
        raise SignatureError(f"cannot read cosign key {args.cosign_key}: {err.strerror or err}") from err
    private = cosign.decrypt_private_key(key_data, password, args.cosign_key)
    repository, ref = open_image(args.image, args)
    pushed = sign_release_cosign(repository, ref, private)
    print(
        f"Pushed signature of {pushed.digest} to {repository.display}:{pushed.tag} ({pushed.manifest_digest})"
    )
    return 0


def open_image(
    text: str, args: argparse.Namespace, *, need_identity: bool = True
) -> tuple[Repository, ImageReference]:
    """Open the repository of ``IMAGE@DIGEST`` or ``oci:DIR@DIGEST``; return it and the signed reference.

    For an OCI layout the signed identity comes from ``--identity REPO`` (a placeholder when not needed).
    """
    from okdrelease.transport.open import open_location

    location = parse_location(text)
    identity = getattr(args, "identity", None)
    if isinstance(location, RegistryLocation):
        ref = location.ref
        if identity:
            ref = ImageReference.parse(identity).repository_only()
            ref = attrs.evolve(ref, digest=location.ref.digest)
    elif isinstance(location, LayoutLocation):
        if not identity and need_identity:
            raise UsageError(f"{text}: an OCI layout needs --identity REPO for the signed docker-reference")
        identity = identity or "oci-layout"
        ref = attrs.evolve(ImageReference.parse(identity).repository_only(), digest=location.digest)
    if not ref.digest:
        raise UsageError(f"{text} must name the image by digest (IMAGE@sha256:HEX)")
    repository, _ = open_location(location, transport_options(args))
    return repository, ref
