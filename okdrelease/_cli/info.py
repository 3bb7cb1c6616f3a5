"""``okdrelease info``: oc adm release info (spec §5)."""

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
from okdrelease.errors import OkdReleaseError, ReleaseError, UsageError
from okdrelease.images.resolve import Resolver
from okdrelease.oci.layerlimits import LayerLimits
from okdrelease.reference import ImageReference
from okdrelease.release import info as fmt
from okdrelease.release.read import PlatformFilter, ReleaseInfo, load_images, load_release_from, verify_images
from okdrelease.transport.base import Transport
from okdrelease.transport.open import DefaultTransport

_VIEWS = ("commits", "commit_urls", "pullspecs", "contents", "size", "verify", "image_for")


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``info`` subcommand."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "info",
        help="describe a release image (oc adm release info)",
        description="Show the name, metadata, component versions and images of a release, as oc does.",
    )
    p.add_argument("images", nargs="+", metavar="IMAGE", help="release pull spec or oci:DIR[:REF]")
    p.add_argument("--changes-from", metavar="IMAGE", help="show what changed since this release")
    p.add_argument(
        "--commits", action="store_true", help="show the source repository and commit of each image"
    )
    p.add_argument("--commit-urls", action="store_true", help="show a commit URL for each image")
    p.add_argument("--pullspecs", action="store_true", help="show the pull spec of each image")
    p.add_argument("--contents", action="store_true", help="print the payload files")
    p.add_argument("--size", action="store_true", help="show the size of each image (fetches every image)")
    p.add_argument("--verify", action="store_true", help="check that every component image is reachable")
    p.add_argument("--image-for", metavar="NAME", help="print the pull spec of one component")
    p.add_argument("--include-images", action="store_true", help="fetch component images (JSON images)")
    p.add_argument(
        "-o",
        "--output",
        default="",
        help="json, name, pullspec, digest, or a template: jsonpath=, jsonpath-file=, jsonpath-as-json=, "
        "template=, go-template=, templatefile=, go-template-file= (see the README for the supported subset)",
    )
    p.add_argument(
        "--template",
        metavar="TEMPLATE",
        help="the template (or its file) of -o go-template, go-template-file, template, templatefile, "
        "jsonpath, jsonpath-file or jsonpath-as-json given without =TEMPLATE (kubectl's printer flag)",
    )
    p.add_argument("--filter-by-os", metavar="REGEX", help="platform of a manifest-listed release (os/arch)")
    add_layer_limit_flag(p)
    add_skip_verification_flag(p)
    add_registry_flags(p)
    add_cache_flags(p)
    p.set_defaults(func=run)
    return p


def _validate(args: argparse.Namespace) -> None:
    chosen = [name for name in _VIEWS if getattr(args, name)]
    if len(chosen) > 1:
        raise UsageError(
            "only one of --commits, --commit-urls, --pullspecs, --contents, --size, --verify may be specified"
        )
    if args.output and args.image_for:
        raise UsageError("--output and --image-for may not both be specified")
    args.output = fmt.with_template_flag(args.output, args.template)
    fmt.check_output(args.output)


def run(args: argparse.Namespace) -> int:
    """Run ``info``."""
    _validate(args)
    platform = PlatformFilter.from_flag(args.filter_by_os)
    images = list(args.images)
    changes_from = args.changes_from
    if changes_from is None and len(images) == 2 and not args.verify:
        changes_from = images.pop(0)
    with run_cache(args) as cache, DefaultTransport(transport_options(args)) as transport:
        resolver = Resolver(platform, store=cache)  # one per run: what one image read is not fetched again
        if changes_from is not None:
            if len(images) != 1:
                raise UsageError(
                    "must specify a single release image as argument when comparing to another release image"
                )
            if not args.verify:  # oc: --verify checks the release alone, whatever --changes-from says
                return _compare(args, transport, resolver, changes_from, images[0])
        failed = False
        for image in images:
            try:
                _describe_one(args, transport, resolver, image)
            except OkdReleaseError as err:
                if len(images) == 1:
                    raise
                print(f"error: {err}", file=sys.stderr)
                failed = True
        return 1 if failed else 0


def _compare(
    args: argparse.Namespace, transport: Transport, resolver: Resolver, old_text: str, new_text: str
) -> int:
    """``--changes-from``: oc prints the ``--contents`` hint without reading either release; otherwise it
    reads both (the new one's error first), then refuses an output other than JSON or text."""
    if args.contents:
        sys.stdout.write(fmt.contents_hint(old_text, new_text))
        return 0
    from okdrelease.release.diff import compare_releases  # (and difflib: only to compare releases)

    new = _load(args, transport, resolver, new_text)
    old = _load(args, transport, resolver, old_text)
    if args.output not in ("", "json"):
        raise ReleaseError(f"unrecognized output mode: {args.output}")
    comparison = compare_releases(old, new)
    if args.output == "json":
        sys.stdout.write(fmt.render_comparison_json(comparison))
    else:
        sys.stdout.write(fmt.describe_comparison(comparison, show_commit=args.commits))
    return 0


def _load(args: argparse.Namespace, transport: Transport, resolver: Resolver, image: str) -> ReleaseInfo:
    """Read a release as oc's LoadReleaseInfo does: its version warnings on stderr, and its component
    images (manifests and configs) when a view needs them (``--size``, ``--verify``, ``--include-images``)."""
    info = load_release_from(
        transport,
        image,
        platform=resolver.platform,
        limits=LayerLimits(max_bytes=args.max_layer_bytes),
        resolver=resolver,
    )
    for line in info.stderr_warnings:
        print(f"warning: {line}", file=sys.stderr)
    if args.size or args.verify or args.include_images:
        info = load_images(
            info,
            transport,
            platform=resolver.platform,
            workers=args.max_per_registry,
            resolver=resolver,
        )
    return info


def _describe_one(args: argparse.Namespace, transport: Transport, resolver: Resolver, image: str) -> None:
    info = _load(args, transport, resolver, image)
    if args.verify:
        problems = verify_images(info)
        for problem in problems:
            print(f"error: {problem}", file=sys.stderr)
        if problems:
            raise ReleaseError(
                "the release image failed content verification and may have been tampered with"
            )
        print(fmt.verify_line(info))
        return
    if args.image_for:
        tag = info.tag(args.image_for)
        if tag is None:
            raise ReleaseError(f'no image tag "{args.image_for}" exists in the release image {image}')
        print(tag.from_name)
        return
    if args.output == "json":
        sys.stdout.write(fmt.render_json(info))
    elif args.output.split("=", 1)[0] in fmt.TEMPLATE_FORMATS:
        try:
            _write_bytes(fmt.render_template_output(info, args.output))
        except OkdReleaseError as err:  # oc prints what the template printed and a report first
            _write_bytes(fmt.template_failure_output(info, err))
            raise
    elif args.output in ("name", "pullspec", "digest"):
        _print_list(info, args.output)
    elif args.contents:
        _print_contents(info)
    else:
        sys.stdout.write(
            fmt.describe(info, view=fmt.image_view(args.commits, args.commit_urls, args.pullspecs, args.size))
        )


def _write_bytes(text: str) -> None:
    """Template output as its bytes: a literal such as ``"\\xff"`` is one byte, as oc writes it, whatever
    the locale's encoding."""
    sys.stdout.flush()
    sys.stdout.buffer.write(text.encode("utf-8", "surrogateescape"))
    sys.stdout.buffer.flush()


def _print_list(info: ReleaseInfo, what: str) -> None:
    for tag in info.tags:
        if not tag.is_image:
            continue
        if what == "name":
            print(tag.name)
        elif what == "pullspec":
            print(tag.from_name)
        else:
            try:
                ref = ImageReference.parse(tag.from_name)
            except OkdReleaseError as err:
                print(f"error: {tag.name} is not a valid reference: {err}", file=sys.stderr)
                continue
            if not ref.digest:
                print(f"error: {tag.name} does not point to a digest", file=sys.stderr)
                continue
            print(ref.digest)


def _print_contents(info: ReleaseInfo) -> None:
    """oc's ``--contents``: each file's name as its bytes (a name that is not UTF-8 too), then its data."""
    from okdrelease.release.extract_write import name_bytes  # loaded only for this view

    out = sys.stdout.buffer
    for files in (info.raw_metadata, info.manifest_files):
        for name in sorted(files, key=name_bytes):  # oc sorts Go strings: by their bytes
            data = files[name]
            out.write(b"# " + name_bytes(name) + b"\n")
            out.write(data)
            if not data.endswith(b"\n"):
                out.write(b"\n")
    out.flush()
