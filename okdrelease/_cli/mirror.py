"""``okdrelease mirror``: ``oc adm release mirror`` without a cluster (release digest and signatures kept)."""

from __future__ import annotations

import argparse
import sys

from okdrelease._cli.common import add_registry_flags, progress_printer, split_list, transport_options
from okdrelease.errors import UsageError
from okdrelease.oci.convert import FORMATS
from okdrelease.release.mirror import (
    MirrorOptions,
    mirror_release,
    plan_mirror,
    render_summary,
    summary_counts,
)
from okdrelease.transport.open import DefaultTransport

#: Report totals on stderr, in this order.
REPORT_LABELS = {
    "images-copied": "images copied",
    "images-exists": "images already present",
    "images-planned": "images planned",
    "blobs-copied": "blobs copied",
    "blobs-mounted": "blobs mounted",
    "blobs-exists": "blobs already present",
    "blobs-skipped": "foreign blobs skipped",
}
#: oc flags that need a cluster: accepted by name so the error can say why they do not apply.
CLUSTER_FLAGS = ("--to-image-stream", "--apply-release-image-signature", "--overwrite", "--from-dir")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """Add the ``mirror`` subcommand."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "mirror",
        help="copy a release and all its images to another repository, OCI layout or directory, unchanged",
        description=(
            "Mirror a release image and every image it references, by digest and byte for byte, to a "
            "registry repository (--to REPO; tags VERSION-ARCH and VERSION-ARCH-COMPONENT, as oc), an OCI "
            "layout (--to oci:DIR) or a directory (--to-dir DIR, an OCI layout). Prints what was copied and "
            "the ImageDigestMirrorSet (or ImageContentSourcePolicy) a cluster needs to use the mirror; "
            "--release-image-signature-to-dir writes the release's signature ConfigMap."
        ),
    )
    parser.add_argument("image", nargs="?", metavar="RELEASE", help="the release image (or use --from)")
    parser.add_argument(
        "--from", dest="from_image", metavar="IMAGE", help="image containing the release payload"
    )
    parser.add_argument(
        "--to", metavar="REPO", help="repository (or oci:DIR) to push to; ${component} allowed in the tag"
    )
    parser.add_argument(
        "--to-release-image", metavar="IMAGE", help="where the release image goes instead of --to"
    )
    parser.add_argument("--to-dir", metavar="DIR", help="write everything into DIR as an OCI image layout")
    parser.add_argument("--skip-release-image", action="store_true", help="do not copy the release image")
    parser.add_argument("--dry-run", action="store_true", help="show what would be mirrored, copy nothing")
    parser.add_argument(
        "--to-mirror", action="store_true", help="print 'SOURCE DESTINATION' lines, copy nothing"
    )
    parser.add_argument(
        "--keep-manifest-list",
        action="store_true",
        help="name the mirror VERSION-multi for a manifest-list release (lists are always copied whole)",
    )
    parser.add_argument(
        "--format",
        dest="manifest_format",
        choices=FORMATS,
        help="write manifests as oci or v2s2 (Docker schema 2), converting those in the other format: "
        "their digests change, the release's included, and its signatures name the original one; "
        "default: byte for byte, every digest kept",
    )
    _add_signature_flags(parser)
    parser.add_argument(
        "--print-mirror-instructions",
        default="idms",
        metavar="idms|icsp|none",
        help="print an ImageDigestMirrorSet (default), an ImageContentSourcePolicy or nothing",
    )
    parser.add_argument(
        "--skip-verification", action="store_true", help="accepted for oc parity; content is always verified"
    )
    for flag in CLUSTER_FLAGS:
        parser.add_argument(
            flag,
            dest=f"cluster_{flag[2:].replace('-', '_')}",
            nargs="?",
            const="true",
            help=argparse.SUPPRESS,
        )
    add_registry_flags(parser)
    parser.set_defaults(func=run)
    return parser


def _add_signature_flags(parser: argparse.ArgumentParser) -> None:
    """Where release signatures are read from and written to."""
    parser.add_argument(
        "--release-image-signature-to-dir",
        metavar="DIR",
        help="write the release's signature ConfigMap here (default TO_DIR/config with --to-dir)",
    )
    parser.add_argument(
        "--signature-dir",
        action="append",
        default=[],
        metavar="DIR",
        help="signature store directory (DIR/sha256=HEX/signature-N) to read release signatures from (repeatable)",
    )
    parser.add_argument(
        "--signature-store",
        "--lookaside",
        dest="signature_store",
        action="append",
        default=[],
        metavar="URL",
        help="file://, http:// or https:// signature store to read release signatures from (repeatable)",
    )
    parser.add_argument(
        "--verify-key",
        action="append",
        default=[],
        metavar="KEYRING",
        help="carry only signatures made by this public key (repeatable; the release's own keys are used too)",
    )


def options_from_args(args: argparse.Namespace) -> MirrorOptions:
    """Check the flags and build the library options."""
    for flag in CLUSTER_FLAGS:
        if getattr(args, f"cluster_{flag[2:].replace('-', '_')}", None) is not None:
            raise UsageError(
                f"{flag} needs a cluster (or oc's file:// store) and is not supported by okdrelease mirror"
            )
    if args.image and args.from_image:
        raise UsageError("you may not specify an argument and --from")
    return MirrorOptions(
        source=args.from_image or args.image or "",
        to=args.to,
        to_release_image=args.to_release_image,
        to_dir=args.to_dir,
        skip_release_image=args.skip_release_image,
        dry_run=args.dry_run,
        keep_manifest_list=args.keep_manifest_list,
        release_image_signature_to_dir=args.release_image_signature_to_dir,
        signature_dirs=tuple(args.signature_dir),
        signature_stores=tuple(split_list(args.signature_store)),
        verify_keys=tuple(args.verify_key),
        instructions=str(args.print_mirror_instructions).lower(),
        workers=max(1, args.max_per_registry),
        manifest_format=args.manifest_format,
    )


def run(args: argparse.Namespace) -> int:
    """Mirror; print oc's summary on stdout and progress and totals on stderr."""
    options = options_from_args(args)
    progress = progress_printer(args)
    with DefaultTransport(transport_options(args)) as transport:
        if args.to_mirror:
            plan = plan_mirror(options, transport)
            sys.stdout.write("".join(f"{m.source} {m.destination_text}\n" for m in plan.mappings))
            return 0
        result = mirror_release(options, transport, progress)
    sys.stdout.write(render_summary(result, options))
    counts = summary_counts(result.images)
    totals = ", ".join(f"{counts[key]} {label}" for key, label in REPORT_LABELS.items() if counts.get(key))
    progress(f"info: {'Dry run complete' if options.dry_run else 'Mirroring completed'}: {totals}")
    return 0
