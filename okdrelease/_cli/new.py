"""``okdrelease new``: oc adm release new, with oc's flags and syntax."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from okdrelease._cli.common import (
    add_cache_flags,
    add_registry_flags,
    progress_printer,
    run_cache,
    split_list,
    transport_options,
)
from okdrelease.oci.convert import FORMATS
from okdrelease.payload.pipeline import new_release
from okdrelease.payload.plan import NewOptions, parse_created
from okdrelease.sign.passphrase import PASSPHRASE_ENV, read_passphrase


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``new`` subcommand."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "new",
        help="assemble a release payload (oc adm release new)",
        description=(
            "Assemble an OpenShift/OKD release payload from component images, the way "
            "'oc adm release new' does, straight against registries or OCI layouts."
        ),
    )
    p.add_argument("mappings", nargs="*", metavar="SRC=DST", help="add or override component images")
    _input_flags(p)
    _release_flags(p)
    _validation_flags(p)
    _destination_flags(p)
    _signing_flags(p)
    add_registry_flags(p)
    add_cache_flags(p)
    p.set_defaults(func=run)
    return p


def _input_flags(p: argparse.ArgumentParser) -> None:
    inputs = p.add_argument_group("inputs")
    inputs.add_argument("-f", "--from-image-stream-file", metavar="PATH", help="ImageStream file, - or URL")
    inputs.add_argument("--from-release", metavar="PULLSPEC", help="an existing release image")
    inputs.add_argument("--from-dir", metavar="DIR", help="pre-extracted operator manifest directories")
    inputs.add_argument(
        "--from-oci-layout", metavar="DIR", help="every ref name of an OCI layout is a component image"
    )
    inputs.add_argument(
        "--from-repository",
        metavar="REPO",
        help="every tag of a registry repository (or ref name of oci:DIR) is a component, pinned to its digest",
    )
    inputs.add_argument(
        "--layout-repository",
        metavar="REPO",
        help="with --from-oci-layout: name images REPO@digest in the release (content still read from the layout)",
    )
    inputs.add_argument(
        "--mapping-file", action="append", default=[], metavar="PATH", help="SRC=DST mapping file"
    )
    inputs.add_argument("--reference-mode", default="", help="public (default) or source")
    inputs.add_argument(
        "--component-versions",
        default="",
        metavar="K=V,...",
        help="additional component versions for the release metadata, key=value[,key=value] "
        "(e.g. kubernetes=1.29.4), besides those the operators' images declare",
    )
    inputs.add_argument(
        "--component-versions-display-names",
        default="",
        metavar="K=NAME,...",
        help="display names of component versions, key=value[,key=value] (e.g. kubernetes=Kubernetes)",
    )


def _release_flags(p: argparse.ArgumentParser) -> None:
    release = p.add_argument_group("release")
    release.add_argument("--name", default="", help="release name, a semantic version")
    release.add_argument(
        "--name-prefix",
        default="",
        metavar="STREAM",
        help="name the release STREAM-YYYY-MM-DD-HHMMSS from its creation time, as the release controller does",
    )
    release.add_argument(
        "--skip-if-unchanged",
        metavar="RELEASE",
        help="when the resolved component digests equal those of release RELEASE (a pull spec or oci:DIR:REF), "
        "print its digest and name, push nothing and exit 0; a missing RELEASE is built",
    )
    release.add_argument(
        "--previous",
        action="append",
        default=None,
        metavar="V,...",
        help="semantic versions that may update to this release (comma separated or repeated; "
        "default: those of --from-release)",
    )
    release.add_argument(
        "--next",
        action="append",
        default=None,
        metavar="V,...",
        help="semantic versions this release may update to (comma separated or repeated); they need not "
        "exist yet, so use with care",
    )
    release.add_argument(
        "--metadata",
        default="",
        metavar="JSON",
        help="a JSON object attached as the release metadata's metadata field, e.g. "
        '\'{"url":"https://example.com/errata"}\'',
    )
    release.add_argument("--release-manifest", action="store_true", help=argparse.SUPPRESS)
    release.add_argument(
        "--keep-manifest-list",
        action="store_true",
        help="reference a component that is a manifest list as the whole list, even with one entry "
        "(default: the entry of --filter-by-os); lists for the release base make a multi-arch release index",
    )
    release.add_argument(
        "--format",
        dest="manifest_format",
        choices=FORMATS,
        help="manifest format of the release image: oci or v2s2 (Docker schema 2); default oci for an "
        "OCI layout, v2s2 as oc writes it for a registry",
    )
    release.add_argument(
        "--created", metavar="TIME", help="creation time, RFC 3339 (default: SOURCE_DATE_EPOCH or now)"
    )


def _validation_flags(p: argparse.ArgumentParser) -> None:
    checks = p.add_argument_group("validation")
    checks.add_argument(
        "--allow-missing-images",
        action="store_true",
        help="do not fail when an operator's image-references names an image that is not an input",
    )
    checks.add_argument(
        "--skip-manifest-check",
        action="store_true",
        help="do not fail when an operator ships a .yaml, .yml or .json manifest that does not parse",
    )
    checks.add_argument(
        "--include",
        action="append",
        default=[],
        metavar="TAG,...",
        help="keep these image tags even when no operator references them (they are pruned otherwise); "
        "comma separated or repeated; --exclude wins",
    )
    checks.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="TAG,...",
        help="leave out these image names or tags, after every input is read; comma separated or repeated",
    )
    checks.add_argument(
        "--duplicate-override-manifests",
        action="store_true",
        help="emit an overridden operator's manifests twice, once from its original image and once "
        "from the override, as oc does (default: once)",
    )
    checks.add_argument(
        "--pin-digests",
        action="store_true",
        help="reference SRC=DST overrides given by tag as REPO@DIGEST in the release, resolved once "
        "(default: as oc, the tag's pull spec)",
    )


def _destination_flags(p: argparse.ArgumentParser) -> None:
    dest = p.add_argument_group("destination")
    dest.add_argument("--to-image", metavar="PULLSPEC", help="push the release here (or oci:DIR[:TAG])")
    dest.add_argument(
        "--to-image-base",
        metavar="PULLSPEC",
        help="put the release layer on top of this image (default: the --to-image-base-tag component)",
    )
    dest.add_argument(
        "--to-image-base-tag",
        default="cluster-version-operator",
        metavar="TAG",
        help="the component whose image the release layer goes on top of (default cluster-version-operator)",
    )
    dest.add_argument(
        "--to-file",
        metavar="PATH",
        help="write the release payload as a gzipped tar to PATH (- for stdout) instead of an image",
    )
    dest.add_argument(
        "--to-dir", metavar="DIR", help="write the release manifests to DIR instead of building an image"
    )
    dest.add_argument(
        "--to-signature",
        metavar="PATH",
        help="also write the message to sign for the pushed release (a simple-signing JSON) to PATH; "
        "needs --to-image",
    )
    dest.add_argument(
        "--mirror",
        metavar="REPO",
        help="copy every component image to REPO (by digest) and reference the copies in the release",
    )
    dest.add_argument(
        "--dry-run",
        action="store_true",
        help="build the release but push and mirror nothing (registries are only read)",
    )
    dest.add_argument("-o", "--output", default="", help="json: print the image stream and stop")
    dest.add_argument("--dir", metavar="DIR", help="also write each operator's /manifests to DIR/<tag>/")
    dest.add_argument(
        "--filter-by-os",
        metavar="REGEX",
        help="choose manifest-list entries by os/arch[/variant] (default: oc's)",
    )
    dest.add_argument("--skip-verification", action="store_true", help=argparse.SUPPRESS)


def _signing_flags(p: argparse.ArgumentParser) -> None:
    sign = p.add_argument_group("signing")
    sign.add_argument("--sign-by", metavar="SECRET.asc", help="OpenPGP secret key: sign the pushed release")
    sign.add_argument(
        "--sign-by-gpg",
        metavar="FINGERPRINT",
        help="sign the pushed release with this key of your gpg (GNUPGHOME honoured; as skopeo --sign-by)",
    )
    sign.add_argument(
        "--sign-by-sigstore-private-key", metavar="KEY", help="cosign private key: push a cosign signature"
    )
    sign.add_argument(
        "--sign-passphrase-file",
        metavar="FILE",
        help="passphrase of the signing key (default: $OKDRELEASE_SIGN_PASSPHRASE, else $COSIGN_PASSWORD; "
        "with --sign-by-gpg: handed to gpg, loopback pinentry)",
    )
    sign.add_argument("--sign-identity", metavar="REPOSITORY", help="identity in the signature")
    sign.add_argument("--signature-dir", metavar="DIR", help="write DIR/sha256=<hex>/signature-N")
    sign.add_argument(
        "--signature-configmap-dir",
        metavar="DIR",
        help="write the signature ConfigMap oc adm release mirror writes",
    )
    sign.add_argument(
        "--lookaside",
        metavar="DIR",
        help="also write the signature where containers/image looks: DIR/<repository>@sha256=<hex>/signature-N",
    )
    verify = p.add_argument_group("component verification")
    verify.add_argument(
        "--verify-components",
        metavar="POLICY.json",
        help="check every component image against this containers-policy.json before anything is pushed",
    )
    verify.add_argument(
        "--registries.d",
        dest="registries_d",
        metavar="DIR",
        help="registries.d directory naming signature lookasides (default: containers/image's)",
    )


def options_from_args(args: argparse.Namespace) -> NewOptions:
    """Translate parsed flags into NewOptions."""
    for mapping in args.mappings:
        if "=" not in mapping:
            raise_mapping_error()
    previous = tuple(split_list(args.previous)) if args.previous is not None else None
    next_ = tuple(split_list(args.next)) if args.next is not None else None
    return NewOptions(
        mappings=tuple(args.mappings),
        mapping_files=tuple(split_list(args.mapping_file)),
        from_image_stream_file=args.from_image_stream_file,
        from_release=args.from_release,
        from_dir=args.from_dir,
        from_oci_layout=args.from_oci_layout,
        layout_repository=args.layout_repository,
        from_repository=args.from_repository,
        reference_mode=args.reference_mode,
        component_versions=args.component_versions,
        component_versions_display_names=args.component_versions_display_names,
        name=args.name,
        name_prefix=args.name_prefix,
        skip_if_unchanged=args.skip_if_unchanged,
        previous=previous,
        next=next_,
        metadata=args.metadata,
        keep_manifest_list=args.keep_manifest_list,
        manifest_format=args.manifest_format,
        allow_missing_images=args.allow_missing_images,
        skip_manifest_check=args.skip_manifest_check,
        include=tuple(split_list(args.include)),
        exclude=tuple(split_list(args.exclude)),
        dry_run=args.dry_run,
        mirror=args.mirror,
        to_dir=args.to_dir,
        to_file=args.to_file,
        to_image=args.to_image,
        to_image_base=args.to_image_base,
        to_image_base_tag=args.to_image_base_tag,
        to_signature=args.to_signature,
        output=args.output,
        dir=args.dir,
        created=parse_created(args.created) if args.created else None,
        duplicate_override_manifests=args.duplicate_override_manifests,
        pin_digests=args.pin_digests,
        filter_by_os=args.filter_by_os,
        sign_by=args.sign_by,
        sign_by_sigstore_private_key=args.sign_by_sigstore_private_key,
        sign_passphrase=read_passphrase(args.sign_passphrase_file, PASSPHRASE_ENV),
        sign_identity=args.sign_identity,
        signature_dir=args.signature_dir,
        signature_configmap_dir=args.signature_configmap_dir,
        sign_by_gpg=args.sign_by_gpg,
        sign_passphrase_file=args.sign_passphrase_file,
        lookaside=args.lookaside,
        verify_components=args.verify_components,
        registries_d=args.registries_d,
    )


def raise_mapping_error() -> None:
    """oc's message for a positional argument that is not SRC=DST."""
    from okdrelease.errors import ReleaseError

    raise ReleaseError("all arguments must be valid SRC=DST mappings")


def run(args: argparse.Namespace) -> int:
    """Run ``new`` and print the result line (or JSON) to stdout."""
    options = options_from_args(args)
    with run_cache(args) as cache:
        result = new_release(
            options, transport_options=transport_options(args), progress=progress_printer(args), cache=cache
        )
    if result.output is not None:
        # -o json or --to-file -: bytes as the library produced them (a gzip stream is not text).
        sys.stdout.flush()
        out = getattr(sys.stdout, "buffer", None)
        if out is None:
            sys.stdout.write(result.output.decode("utf-8", "surrogateescape"))
        else:
            out.write(result.output)
            out.flush()
        return 0
    for line in result.stdout_lines:
        print(line)
    return 0
