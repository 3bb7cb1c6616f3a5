"""``okdrelease extract``: oc adm release extract for the payload (spec §6; --command/--tools not supported)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from okdrelease._cli.common import (
    add_cache_flags,
    add_layer_limit_flag,
    add_registry_flags,
    add_skip_verification_flag,
    run_cache,
    transport_options,
)
from okdrelease.errors import UsageError
from okdrelease.images.resolve import Resolver
from okdrelease.oci.layerlimits import LayerLimits
from okdrelease.release.extract import (
    CREDENTIALS_WARNING,
    ManifestSelection,
    errors_text,
    extract_release,
    read_payload_file,
)
from okdrelease.release.extract_write import ExtractWriteError
from okdrelease.release.read import PlatformFilter, open_location
from okdrelease.transport.open import DefaultTransport


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``extract`` subcommand."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "extract",
        help="write a release's payload manifests to a directory (oc adm release extract)",
        description=(
            "Write release-manifests/ of a release image to a directory: image-references and "
            "release-metadata byte for byte, manifests re-serialised as YAML like oc (or kept as stored "
            "with --keep-bytes). Entries escaping the directory, links pointing out and device files are refused."
        ),
    )
    p.add_argument("image", nargs="*", metavar="IMAGE", help="release pull spec or oci:DIR[:REF]")
    p.add_argument("--from", dest="from_image", metavar="IMAGE", help="the release image")
    p.add_argument("--to", default=".", metavar="DIR", help="directory to write to (default: .)")
    p.add_argument("--file", metavar="NAME", help="print one payload file to stdout, byte for byte")
    p.add_argument(
        "--keep-bytes",
        "--raw",
        dest="keep_bytes",
        action="store_true",
        help="write manifests exactly as stored instead of re-serialising them",
    )
    p.add_argument("--filter-by-os", metavar="REGEX", help="platform of a manifest-listed release (os/arch)")
    p.add_argument(
        "--credentials-requests",
        action="store_true",
        help="write only CredentialsRequest manifests (for ccoctl); image-references and release-metadata are skipped",
    )
    p.add_argument(
        "--cloud",
        default="",
        metavar="CLOUD",
        help="keep only the CredentialsRequests of this cloud (aws, azure, gcp, ibmcloud, nutanix, openstack, "
        "ovirt, powervs, vsphere, alibabacloud); with --credentials-requests or --included",
    )
    p.add_argument(
        "--included",
        action="store_true",
        help="write only the manifests a cluster described by --install-config would apply",
    )
    p.add_argument(
        "--install-config",
        default="",
        metavar="FILE",
        help="install-config.yaml (as for openshift-install) deciding --included: feature set, platform, capabilities",
    )
    p.add_argument("--command", help=argparse.SUPPRESS)
    p.add_argument("--tools", action="store_true", help=argparse.SUPPRESS)
    add_layer_limit_flag(p)
    add_skip_verification_flag(p)
    add_registry_flags(p)
    add_cache_flags(p)
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Run ``extract``."""
    if args.command or args.tools:
        raise UsageError("--command and --tools are not supported by okdrelease extract")
    if (args.from_image and args.image) or len(args.image) > 1:
        raise UsageError("you may only specify a single image via --from or argument")
    image = args.from_image or (args.image[0] if args.image else "")
    if not image:
        raise UsageError("must specify an image containing a release payload with --from")
    selection = ManifestSelection.from_flags(
        credentials_requests=args.credentials_requests,
        cloud=args.cloud,
        included=args.included,
        install_config=args.install_config,
    )
    if args.credentials_requests and not args.included:
        print(f"warning: {CREDENTIALS_WARNING}", file=sys.stderr)
    if args.credentials_requests and args.file:
        raise UsageError(
            "only one of --tools, --command, --credentials-requests, --file, or --git may be specified"
        )
    if args.file and args.to != ".":
        raise UsageError("only one of --to and --file may be set")
    platform = PlatformFilter.from_flag(args.filter_by_os)
    limits = LayerLimits(max_bytes=args.max_layer_bytes)
    with run_cache(args) as cache, DefaultTransport(transport_options(args)) as transport:
        resolver = Resolver(platform, store=cache)
        _location, repository, reference = open_location(transport, image)
        if args.file:
            data = read_payload_file(
                repository,
                reference,
                args.file,
                platform=platform,
                limits=limits,
                resolver=resolver,
                image=image,
            )
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
            return 0
        try:
            result = extract_release(
                repository,
                reference,
                args.to,
                platform=platform,
                keep_bytes=args.keep_bytes,
                selection=selection,
                limits=limits,
                resolver=resolver,
                image=image,
            )
        except ExtractWriteError as err:
            if err.manifest_errors:  # oc lists them before the file it could not create
                print(f"Errors: {errors_text(err.manifest_errors)}", file=sys.stderr)
            raise
    print(result.message)
    if result.errors:
        print(f"Errors: {result.errors_text}", file=sys.stderr)
    return 0
