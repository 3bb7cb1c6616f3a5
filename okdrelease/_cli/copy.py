"""``okdrelease copy``: copy images between registries and OCI layouts, digests unchanged (skopeo-like)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, cast

import attrs

from okdrelease._cli.common import (
    add_registry_flags,
    parse_creds,
    progress_printer,
    transport_options,
)
from okdrelease._repr import value_repr
from okdrelease.errors import OkdReleaseError, UsageError
from okdrelease.oci.convert import FORMATS
from okdrelease.reference import (
    ImageLocation,
    ImageReference,
    RegistryLocation,
    parse_identity,
    parse_location,
)
from okdrelease.regularfile import write_whole
from okdrelease.transport.auth import AnonymousCredentials
from okdrelease.transport.base import TransportOptions
from okdrelease.transport.client import RegistryClient
from okdrelease.transport.copy import MULTI_ARCH, CopyResult, MultiArch, copy_location
from okdrelease.transport.http import quiet_insecure_warnings
from okdrelease.transport.open import DefaultTransport
from okdrelease.transport.recompress import COMPRESS_FORMATS

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec

    from okdrelease.sign.keys import Signer


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
    _side_flags(parser)
    _image_flags(parser)
    _signing_flags(parser)
    parser.add_argument("--digestfile", metavar="PATH", help="write the digest of the copied image to PATH")
    parser.add_argument(
        "-q", "--quiet", action="store_true", default=argparse.SUPPRESS, help="no progress on stderr"
    )
    parser.set_defaults(func=run)
    return parser


def _side_flags(parser: argparse.ArgumentParser) -> None:
    """skopeo's per-side flags: TLS, auth file, credentials, anonymous access, certificate directory."""
    for side, word in (("src", "source"), ("dest", "destination")):
        parser.add_argument(
            f"--{side}-tls-verify",
            dest=f"{side}_tls_verify",
            action="store_true",
            default=None,
            help=f"verify TLS and require https for the {word} registry (default true; =false to disable)",
        )
        parser.add_argument(
            f"--{side}-authfile",
            dest=f"{side}_authfile",
            metavar="PATH",
            help=f"auth file for the {word} registry (default: that of --authfile)",
        )
        parser.add_argument(
            f"--{side}-creds",
            dest=f"{side}_creds",
            metavar="USER[:PASSWORD]",
            help=f"credentials for the {word} registry; without :PASSWORD it is asked for on a terminal",
        )
        parser.add_argument(
            f"--{side}-no-creds",
            dest=f"{side}_no_creds",
            action="store_true",
            help=f"access the {word} registry anonymously, whatever the auth files hold",
        )
        parser.add_argument(
            f"--{side}-cert-dir",
            dest=f"{side}_cert_dir",
            metavar="PATH",
            help=f"use the certificates in PATH for the {word} registry instead of certs.d/HOST: "
            "*.crt CAs (besides the system's) and *.cert/*.key client certificate pairs",
        )


def _image_flags(parser: argparse.ArgumentParser) -> None:
    """What of the image is copied and how its manifests are written."""
    parser.add_argument(
        "--multi-arch",
        choices=MULTI_ARCH,
        help="of a manifest list copy: all (the list and every image; the default here, so a release "
        "index keeps its digest), system (only the image for this machine's platform) or index-only "
        "(only the list; the destination must hold its images)",
    )
    parser.add_argument(
        "--all",
        action="store_true",
        help="copy a manifest list and all its images: --multi-arch all (the default)",
    )
    parser.add_argument(
        "--format",
        "-f",
        dest="manifest_format",
        choices=FORMATS,
        help="write manifests as oci or v2s2 (Docker schema 2), converting those in the other format "
        "(their digests change); default: every manifest byte for byte, digests kept",
    )
    parser.add_argument(
        "--dest-compress-format",
        choices=COMPRESS_FORMATS,
        metavar="FORMAT",
        help="re-compress layers compressed otherwise as gzip or zstd (their digests, and those of the "
        "manifests naming them, change; zstd layers need OCI manifests); default: layers as they are",
    )
    parser.add_argument(
        "--preserve-digests",
        action="store_true",
        help="fail rather than change any manifest digest (a --format that needs a conversion); "
        "--dest-compress-format is then ignored, as skopeo does",
    )
    parser.add_argument(
        "--remove-signatures",
        action="store_true",
        help="do not copy the source's signatures (copy never copies them; accepted as skopeo's)",
    )


def _signing_flags(parser: argparse.ArgumentParser) -> None:
    """Sign the copied image, with the signing okdrelease offers (OpenPGP via gpg, or cosign)."""
    parser.add_argument(
        "--sign-by",
        metavar="FINGERPRINT",
        help="sign the copied image with this key of your gpg (GNUPGHOME honoured) and write the signature "
        "to --lookaside DIR and/or --signature-dir DIR",
    )
    parser.add_argument(
        "--sign-by-sigstore-private-key",
        metavar="PATH",
        help="sign the copied image with this cosign private key and push the signature (sha256-HEX.sig) "
        "next to it (registry destinations)",
    )
    parser.add_argument(
        "--sign-passphrase-file",
        metavar="PATH",
        help="passphrase of the signing key (cosign: default COSIGN_PASSWORD; gpg: loopback pinentry)",
    )
    parser.add_argument(
        "--sign-identity",
        metavar="REPOSITORY",
        help="repository named in the signature (default: the destination's; needed for oci:)",
    )
    parser.add_argument(
        "--lookaside",
        metavar="DIR",
        help="with --sign-by: write the signature where containers/image reads it, "
        "DIR/<repository>@sha256=<hex>/signature-N",
    )
    parser.add_argument(
        "--signature-dir",
        metavar="DIR",
        help="with --sign-by: write the signature to DIR/sha256=<hex>/signature-N (OpenShift's store layout)",
    )


def _side_transport(
    base: TransportOptions, location: ImageLocation, args: argparse.Namespace, side: str
) -> DefaultTransport:
    """The transport of one side of the copy: the shared registry flags, then ``--SIDE-*``."""
    options = base
    authfile, creds = getattr(args, f"{side}_authfile"), getattr(args, f"{side}_creds")
    no_creds, tls_verify = getattr(args, f"{side}_no_creds"), getattr(args, f"{side}_tls_verify")
    cert_dir = getattr(args, f"{side}_cert_dir")
    if no_creds and creds:
        raise UsageError(f"--{side}-creds and --{side}-no-creds cannot be given together")
    if authfile:
        options = attrs.evolve(options, authfile=authfile)
    parsed = parse_creds(creds, flag=f"--{side}-creds")
    if parsed is not None:
        if not isinstance(location, RegistryLocation):
            raise UsageError(f"credentials given for {location}, which is not a registry")
        options = attrs.evolve(options, credentials={**base.credentials, location.ref.api_host: parsed})
    if tls_verify is not None:
        options = attrs.evolve(options, insecure=not tls_verify)
    if cert_dir:
        options = attrs.evolve(options, cert_dir=cert_dir)
    if not no_creds:
        return DefaultTransport(options)
    anonymous = AnonymousCredentials(f"--{side}-no-creds was given")
    return DefaultTransport(options, client=RegistryClient(options, credentials=anonymous))


def _multi_arch(args: argparse.Namespace) -> MultiArch:
    if args.all and args.multi_arch:
        raise UsageError("--all and --multi-arch cannot be used together")
    return cast("MultiArch", args.multi_arch or "all")


def run(args: argparse.Namespace) -> int:
    """Copy SRC to DST; print the digest (or ``digest tag`` lines for a whole layout) on stdout."""
    src = parse_location(args.src)
    dst = parse_location(args.dst)
    multi_arch = _multi_arch(args)
    signing = copy_signing(args, dst)
    base = transport_options(args)
    source = _side_transport(base, src, args, "src")
    destination = _side_transport(base, dst, args, "dest")
    if source.options.insecure or destination.options.insecure or base.insecure_registries:
        # The user asked for unverified TLS; one warning per request would drown the progress.
        quiet_insecure_warnings()
    with source, destination:
        result = copy_location(
            src,
            dst,
            source=source,
            destination=destination,
            progress=progress_printer(args),
            manifest_format=args.manifest_format,
            multi_arch=multi_arch,
            preserve_digests=args.preserve_digests,
            compress_format=args.dest_compress_format,
        )
        signed = signing.sign(result, destination) if signing is not None else []
    for warning in result.warnings:
        sys.stderr.write(warning + "\n")  # shown with -q too: what the destination's readers need
    show = progress_printer(args)
    for line in signed:
        show(line)
    lines = _lines(result)
    text = "".join(line + "\n" for line in lines)
    if args.digestfile:
        try:
            write_whole(args.digestfile, (text if len(lines) > 1 else lines[0]).encode("utf-8"), 0o666)
        except OSError as err:
            raise OkdReleaseError(f"cannot write digest file {args.digestfile}: {err.strerror}") from None
    sys.stdout.write(text)
    return 0


def _lines(result: CopyResult) -> list[str]:
    """``digest tag`` per ref name for a whole layout, else the one digest."""
    if result.whole_layout:
        return [f"{image.digest} {image.tag}" for image in result.images]
    return [image.digest for image in result.images]


@attrs.frozen
class _Signing:
    """What ``--sign-by``/``--sign-by-sigstore-private-key`` sign the copied images with, checked before copying."""

    __repr__ = value_repr

    dst: ImageLocation
    identity: str | None
    signer: Signer | None
    cosign_key: ec.EllipticCurvePrivateKey | None
    lookaside: str | None
    signature_dir: str | None

    def sign(self, result: CopyResult, destination: DefaultTransport) -> list[str]:
        """Sign every copied image; return the progress lines saying where the signatures went."""
        from okdrelease.sign.api import sign_release, sign_release_cosign

        lines: list[str] = []
        for image in result.images:
            ref = self.reference(image.digest)
            if self.signer is not None:
                done = sign_release(
                    ref, self.signer, signature_dir=self.signature_dir, lookaside=self.lookaside
                )
                paths = [p for p in (done.signature_path, done.lookaside_path) if p]
                lines += [
                    f"info: Signed {done.identity} with key {self.signer.fingerprint}: {p}" for p in paths
                ]
            if self.cosign_key is not None:
                repository, _ = destination.open(self.dst)
                pushed = sign_release_cosign(repository, ref, self.cosign_key)
                lines.append(
                    f"info: Pushed signature of {pushed.digest} to {repository.display}:{pushed.tag}"
                )
        return lines

    def reference(self, digest: str) -> ImageReference:
        """``REPOSITORY@DIGEST`` of a copied image: --sign-identity's repository, else the destination's."""
        if self.identity:
            name = parse_identity(self.identity)
        else:
            assert isinstance(self.dst, RegistryLocation)
            name = self.dst.ref.repository_only()
        return attrs.evolve(name, digest=digest)


def copy_signing(args: argparse.Namespace, dst: ImageLocation) -> _Signing | None:
    """The signing the flags ask for, refused before anything is copied when it cannot be done."""
    if not (args.sign_by or args.sign_by_sigstore_private_key):
        if args.lookaside or args.signature_dir:
            raise UsageError("--lookaside and --signature-dir say where --sign-by writes its signature")
        return None
    if args.sign_by and not (args.lookaside or args.signature_dir):
        raise UsageError(
            "--sign-by needs --lookaside DIR and/or --signature-dir DIR to write the signature to"
        )
    if args.sign_by_sigstore_private_key and not isinstance(dst, RegistryLocation):
        raise UsageError(
            f"--sign-by-sigstore-private-key pushes the signature to a registry, and {dst} is not one"
        )
    if args.sign_identity:
        parse_identity(args.sign_identity)  # (before anything is copied)
    if not args.sign_identity and not isinstance(dst, RegistryLocation):
        raise UsageError(f"signing a copy into {dst} needs --sign-identity REPOSITORY for the signature")
    from okdrelease.sign.keys import load_cosign_private_key, openpgp_signer, read_passphrase
    from okdrelease.sign.store import check_output_dir

    for flag, directory in (("--lookaside", args.lookaside), ("--signature-dir", args.signature_dir)):
        if directory:
            check_output_dir(flag, directory)

    signer = None
    if args.sign_by:
        signer = openpgp_signer(gpg_key=args.sign_by, passphrase_file=args.sign_passphrase_file)
    cosign_key = None
    if args.sign_by_sigstore_private_key:
        password = read_passphrase(args.sign_passphrase_file, ("COSIGN_PASSWORD",))
        cosign_key = load_cosign_private_key(args.sign_by_sigstore_private_key, password)
    return _Signing(dst, args.sign_identity, signer, cosign_key, args.lookaside, args.signature_dir)
