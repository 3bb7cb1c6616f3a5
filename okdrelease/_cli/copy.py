"""``okdrelease copy``: copy images between registries and OCI layouts, digests unchanged (skopeo-like)."""

from __future__ import annotations

import argparse
import sys

import attrs
import urllib3

from okdrelease._cli.common import (
    add_registry_flags,
    parse_creds,
    progress_printer,
    transport_options,
)
from okdrelease.errors import InvalidReferenceError, OkdReleaseError, UsageError
from okdrelease.reference import ImageLocation, LayoutLocation, RegistryLocation, parse_location, validate_tag
from okdrelease.transport.base import TransportOptions
from okdrelease.transport.copy import copy_all, copy_image
from okdrelease.transport.open import default_reference, open_location
from okdrelease.transport.registry import RegistryClient


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``copy`` subcommand."""
    parser = subparsers.add_parser(
        "copy",
        help="copy an image, a manifest list or a whole OCI layout between registries and layouts",
        description=(
            "Copy SRC to DST keeping every manifest and blob digest. SRC and DST are docker://REF, a bare "
            "REF or oci:DIR[:REF]; oci:DIR without a ref on both sides copies every ref name."
        ),
    )
    parser.add_argument("src", metavar="SRC")
    parser.add_argument("dst", metavar="DST")
    add_registry_flags(parser)
    for side, word in (("src", "source"), ("dest", "destination")):
        parser.add_argument(
            f"--{side}-tls-verify",
            dest=f"{side}_tls_verify",
            action="store_true",
            default=None,
            help=f"verify TLS and require https for the {word} registry (default true; =false to disable)",
        )
        parser.add_argument(
            f"--{side}-authfile", dest=f"{side}_authfile", metavar="PATH", help=f"auth file for the {word}"
        )
        parser.add_argument(
            f"--{side}-creds",
            dest=f"{side}_creds",
            metavar="USER[:PASSWORD]",
            help=f"credentials for the {word} registry",
        )
    parser.add_argument(
        "--all",
        action="store_true",
        help="copy every image of a manifest list (always done; for skopeo parity)",
    )
    parser.add_argument("--digestfile", metavar="PATH", help="write the digest of the copied image to PATH")
    parser.add_argument(
        "-q", "--quiet", action="store_true", default=argparse.SUPPRESS, help="no progress on stderr"
    )
    parser.set_defaults(func=run)
    return parser


def _side_options(
    base: TransportOptions,
    location: ImageLocation,
    *,
    authfile: str | None,
    creds: str | None,
    tls_verify: bool | None,
) -> TransportOptions:
    options = base
    if authfile:
        options = attrs.evolve(options, authfile=authfile)
    parsed = parse_creds(creds)
    if parsed is not None:
        if not isinstance(location, RegistryLocation):
            raise UsageError(f"credentials given for {location}, which is not a registry")
        options = attrs.evolve(options, credentials={**base.credentials, location.ref.api_host: parsed})
    if tls_verify is not None:
        options = attrs.evolve(options, insecure=not tls_verify)
    return options


def _whole_layout(location: ImageLocation) -> bool:
    return isinstance(location, LayoutLocation) and not location.refname and not location.digest


def run(args: argparse.Namespace) -> int:
    """Copy SRC to DST; print the digest (or ``digest tag`` lines for a whole layout) on stdout."""
    src = parse_location(args.src)
    dst = parse_location(args.dst)
    base = transport_options(args)
    src_options = _side_options(
        base, src, authfile=args.src_authfile, creds=args.src_creds, tls_verify=args.src_tls_verify
    )
    dst_options = _side_options(
        base, dst, authfile=args.dest_authfile, creds=args.dest_creds, tls_verify=args.dest_tls_verify
    )
    progress = progress_printer(args)
    if src_options.insecure or dst_options.insecure or base.insecure_registries:
        # The user asked for unverified TLS; one warning per request would drown the progress.
        urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    with RegistryClient(src_options) as src_client, RegistryClient(dst_options) as dst_client:
        src_repo, src_ref = open_location(src, src_options, client=src_client)
        whole = _whole_layout(src)
        dst_repo, dst_ref = open_location(dst, dst_options, client=dst_client, create=True)
        if whole and dst_ref is None:
            names = src_repo.list_tags()
            if isinstance(dst, RegistryLocation):
                _check_tags(src, dst, names)
            results = copy_all(src_repo, dst_repo, tags=names, progress=progress)
            lines = [f"{digest} {tag}" for tag, digest in results.items()]
        else:
            src_ref = default_reference(src, src_repo, src_ref)
            dst_tag, dst_digest = _destination_tag(dst, dst_ref, src_ref)
            digest = copy_image(src_repo, src_ref, dst_repo, dst_tag, progress=progress)
            if dst_digest and dst_digest != digest:
                raise OkdReleaseError(f"{dst} names digest {dst_digest}, but the copied image is {digest}")
            lines = [digest]
    text = "".join(line + "\n" for line in lines)
    if args.digestfile:
        try:
            with open(args.digestfile, "w", encoding="utf-8") as handle:
                handle.write(text if len(lines) > 1 else lines[0])
        except OSError as err:
            raise OkdReleaseError(f"cannot write digest file {args.digestfile}: {err.strerror}") from None
    sys.stdout.write(text)
    return 0


def _check_tags(src: ImageLocation, dst: RegistryLocation, names: list[str]) -> None:
    """Refuse, before copying anything, ref names that cannot be tags in the destination registry."""
    for name in names:
        try:
            validate_tag(name)
        except InvalidReferenceError:
            raise UsageError(f"{src} has ref name {name!r}, which cannot be a tag in {dst}") from None


def _destination_tag(dst: ImageLocation, dst_ref: str | None, src_ref: str) -> tuple[str | None, str | None]:
    """Return (tag to write or None, digest the destination names or None)."""
    if isinstance(dst, RegistryLocation):
        if dst.ref.digest:
            return dst.ref.tag, dst.ref.digest
        return dst.ref.tag or "latest", None
    assert isinstance(dst, LayoutLocation)
    if dst.digest:
        return dst.refname, dst.digest
    if dst.refname:
        return dst.refname, None
    return (None if src_ref.startswith("sha256:") else src_ref), None
