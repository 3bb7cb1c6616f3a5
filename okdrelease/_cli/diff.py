"""``okdrelease diff OLD NEW``: what changed between two releases, and the build team's start/stop list."""

from __future__ import annotations

import argparse
import sys
import textwrap
from typing import Any

from okdrelease._cli.common import add_cache_flags, add_registry_flags, run_cache, transport_options
from okdrelease.errors import ReleaseError, UsageError
from okdrelease.images.resolve import Resolver
from okdrelease.release.diff import (
    build_list_json,
    diff_json,
    diff_releases,
    render_build_list_text,
    render_diff_text,
    render_json,
)
from okdrelease.release.read import PlatformFilter, ReleaseInfo, load_release_from
from okdrelease.transport.base import Transport
from okdrelease.transport.open import DefaultTransport

EPILOG = """\
examples:
  okdrelease diff quay.io/okd/scos-release:4.16.0-okd-scos.0 quay.io/okd/scos-release:4.16.0-okd-scos.1
  okdrelease diff --exit-code oci:/tmp/old:4.16 oci:/tmp/new:4.16 >/dev/null || echo "releases differ"
  okdrelease diff -o json OLD NEW | jq '.changed[].name'
  okdrelease diff --build-list OLD NEW
"""


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``diff`` subcommand."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "diff",
        help="compare two releases: components, versions, metadata, operator manifests",
        description=textwrap.fill(
            "Compare two release images. A summary comes first: components added, removed and changed "
            "(old -> new version, digest, commit, source) and release metadata that changed. Then the "
            "operator manifests: files that changed only because image digests or versions moved are "
            "folded into one line per operator, real edits are shown as unified diffs.",
            width=78,
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("old", metavar="OLD", help="the older release: a pull spec, docker://REF or oci:DIR[:REF]")
    p.add_argument("new", metavar="NEW", help="the newer release, in the same forms")
    p.add_argument(
        "-o",
        "--output",
        default="",
        metavar="FORMAT",
        help="json: everything, including each file's full unified diff (default: the text report)",
    )
    p.add_argument(
        "--exit-code",
        action="store_true",
        help="exit 1 when the releases differ, 0 when they do not and 2 when they could not be compared, as diff(1)",
    )
    p.add_argument(
        "-U",
        "--unified",
        type=int,
        default=1,
        metavar="N",
        help="lines of context around each change in manifest diffs (default 1)",
    )
    p.add_argument(
        "--build-list",
        action="store_true",
        help="only the component images to start, stop or re-point building (added, removed, source moved)",
    )
    p.add_argument(
        "--filter-by-os",
        metavar="REGEX",
        help="for manifest-listed releases, the platform to compare, as os/arch[/variant] (default: this machine's)",
    )
    add_registry_flags(p)
    add_cache_flags(p)
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Run ``diff``."""
    if args.output not in ("", "json"):
        raise UsageError("--output only supports json")
    if args.unified < 0:
        raise UsageError("--unified must be 0 or more")
    if args.exit_code:
        args.failure_exit_code = 2  # 1 means "different" here
    platform = PlatformFilter.from_flag(args.filter_by_os, UsageError)  # (as new: a usage error)
    with run_cache(args) as cache, DefaultTransport(transport_options(args)) as transport:
        resolver = Resolver(platform, store=cache)  # one per run: what both releases share is read once
        old = _load(transport, "old", args.old, platform, resolver)
        new = _load(transport, "new", args.new, platform, resolver)
    diff = diff_releases(old, new)
    if args.output == "json":
        sys.stdout.write(render_json(build_list_json(diff) if args.build_list else diff_json(diff)))
    elif args.build_list:
        sys.stdout.write(render_build_list_text(diff))
    else:
        sys.stdout.write(_encodable(render_diff_text(diff, context=args.unified)))
    return 1 if args.exit_code and not diff.identical else 0


def _load(
    transport: Transport, which: str, image: str, platform: PlatformFilter, resolver: Resolver
) -> ReleaseInfo:
    """The release ``image``; a release image that lacks or garbles its payload files is named, with
    which of the two it is (the reader's error says only "release image …")."""
    try:
        return load_release_from(transport, image, platform=platform, resolver=resolver)
    except ReleaseError as err:
        text = str(err)
        if type(err) is not ReleaseError or not text.startswith("release image "):
            raise
        raise ReleaseError(f"{which} release image {image}{text[len('release image') :]}") from None


def _encodable(text: str) -> str:
    """``text`` with ``→`` spelled ``->`` when stdout's encoding has no arrow (a C or Latin-1 locale)."""
    try:
        "→".encode(getattr(sys.stdout, "encoding", None) or "utf-8")
    except (UnicodeEncodeError, LookupError):
        return text.replace("→", "->")
    return text
