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
from okdrelease.errors import OkdReleaseError, UsageError
from okdrelease.oci.convert import FORMATS
from okdrelease.reference import ImageLocation, RegistryLocation, parse_location
from okdrelease.transport.base import TransportOptions
from okdrelease.transport.copy import CopyResult, copy_location
from okdrelease.transport.open import DefaultTransport


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """Add the ``copy`` subcommand."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "copy",
        help="copy an image, a manifest list or a whole OCI layout between registries and layouts",
        description=(
            "Copy SRC to DST keeping every manifest and blob digest (unless --format is given). SRC and DST are docker://REF, a bare "
            "REF or oci:DIR[:REF]; oci:DIR without a ref on both sides copies every ref name."
        ),
    )
    parser.add_argument(
        "src",
        metavar="SRC",
        help="the image to copy: docker://HOST/REPO[:TAG|@DIGEST], the same without docker://, "
        "oci:DIR[:REF], or oci:DIR for every ref name of a layout",
    )
    parser.add_argument(
        "dst",
        metavar="DST",
        help="where to write it, in the same forms (a registry tag defaults to latest; oci:DIR keeps SRC's ref name)",
    )
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
    parser.add_argument(
        "--format",
        dest="manifest_format",
        choices=FORMATS,
        help="write manifests as oci or v2s2 (Docker schema 2), converting those in the other format "
        "(their digests change); default: every manifest byte for byte, digests kept",
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
    if src_options.insecure or dst_options.insecure or base.insecure_registries:
        # The user asked for unverified TLS; one warning per request would drown the progress.
        urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    with DefaultTransport(src_options) as source, DefaultTransport(dst_options) as destination:
        result = copy_location(
            src,
            dst,
            source=source,
            destination=destination,
            progress=progress_printer(args),
            manifest_format=args.manifest_format,
        )
    for warning in result.warnings:
        sys.stderr.write(warning + "\n")
    lines = _lines(result)
    text = "".join(line + "\n" for line in lines)
    if args.digestfile:
        try:
            with open(args.digestfile, "w", encoding="utf-8") as handle:
                handle.write(text if len(lines) > 1 else lines[0])
        except OSError as err:
            raise OkdReleaseError(f"cannot write digest file {args.digestfile}: {err.strerror}") from None
    sys.stdout.write(text)
    return 0


def _lines(result: CopyResult) -> list[str]:
    """``digest tag`` per ref name for a whole layout, else the one digest."""
    if result.whole_layout:
        return [f"{image.digest} {image.tag}" for image in result.images]
    return [image.digest for image in result.images]
