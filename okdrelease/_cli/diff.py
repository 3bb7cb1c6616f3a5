"""``okdrelease diff OLD NEW``: what changed between two releases, and the build team's start/stop list."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from okdrelease._cli.common import add_registry_flags, transport_options
from okdrelease.errors import UsageError
from okdrelease.release.diff import (
    build_list_json,
    diff_json,
    diff_releases,
    render_build_list_text,
    render_diff_text,
    render_json,
)
from okdrelease.release.read import PlatformFilter, load_release_from
from okdrelease.transport.open import Transport


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``diff`` subcommand."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "diff",
        help="compare two releases: components, versions, operator manifests",
        description=(
            "Report components added, removed and changed (digest, commit, source, versions), component "
            "version changes and operator manifests that changed, file by file."
        ),
    )
    p.add_argument("old", metavar="OLD", help="the older release (pull spec or oci:DIR[:REF])")
    p.add_argument("new", metavar="NEW", help="the newer release")
    p.add_argument("-o", "--output", default="", help="json for a machine-readable report")
    p.add_argument(
        "--build-list", action="store_true", help="only the component images to start or stop building"
    )
    p.add_argument("--filter-by-os", metavar="REGEX", help="platform of manifest-listed releases (os/arch)")
    add_registry_flags(p)
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Run ``diff``."""
    if args.output not in ("", "json"):
        raise UsageError("--output only supports json")
    platform = PlatformFilter.from_flag(args.filter_by_os)
    with Transport(transport_options(args)) as transport:
        old = load_release_from(transport, args.old, platform=platform)
        new = load_release_from(transport, args.new, platform=platform)
    diff = diff_releases(old, new)
    if args.output == "json":
        sys.stdout.write(render_json(build_list_json(diff) if args.build_list else diff_json(diff)))
    elif args.build_list:
        sys.stdout.write(render_build_list_text(diff))
    else:
        sys.stdout.write(render_diff_text(diff))
    return 0
