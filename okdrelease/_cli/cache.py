"""``okdrelease cache info|prune``, and the ``--cache-dir``/``--no-cache`` flags other subcommands take."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from okdrelease.cache import DEFAULT_MAX_BYTES, Cache, default_root
from okdrelease.errors import OkdReleaseError, UsageError


def parse_size(text: str) -> int:
    """``--max-size``: ``1024``, ``500M``, ``1.5GiB`` -> bytes (``layerlimits.size_in_bytes``); UsageError otherwise."""
    from okdrelease.oci.layerlimits import size_in_bytes

    try:
        return size_in_bytes(text, least=0)
    except ValueError as err:
        raise UsageError(f"--max-size: {err}") from None


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``cache`` subcommand (``info`` and ``prune``)."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "cache",
        help="show or shrink the persistent cache",
        description=(
            "The persistent cache holds manifests and configs by digest, per-layer indexes and "
            "manifest-check verdicts, in pack files (one per run that stored something). 'info' shows "
            "its entries and size; 'prune' evicts least-recently-used packs and removes damaged packs "
            "and the v1/ directory an earlier okdrelease left (one file per entry)."
        ),
    )
    p.add_argument("action", choices=("info", "prune"), help="info: entries and size; prune: evict")
    p.add_argument("--cache-dir", metavar="DIR", help="cache directory (default $XDG_CACHE_HOME/okdrelease)")
    p.add_argument(
        "--max-size",
        metavar="SIZE",
        help=f"prune down to SIZE (e.g. 500M; default {DEFAULT_MAX_BYTES >> 20}M)",
    )
    p.add_argument("--all", action="store_true", help="prune: remove every entry")
    p.set_defaults(func=run)
    return p


def _mib(size: int) -> str:
    return f"{size / (1 << 20):.1f} MiB"


def _named_directory(path: str) -> str:
    """``--cache-dir DIR`` as named: an error unless it is a directory (the default one may not exist yet:
    an empty cache)."""
    try:
        is_dir = os.path.isdir(path)
        exists = is_dir or os.path.lexists(path)
    except ValueError:  # a NUL byte
        is_dir = exists = False
    if not exists:
        raise OkdReleaseError(f"cache directory {path} does not exist")
    if not is_dir:
        raise OkdReleaseError(f"cache directory {path} is not a directory")
    return path


def run(args: argparse.Namespace) -> int:
    """Run ``cache info`` or ``cache prune``."""
    cache = Cache(_named_directory(args.cache_dir) if args.cache_dir else default_root())
    if args.action == "info":
        if args.max_size or args.all:
            raise UsageError("--max-size and --all only apply to prune")
        info = cache.info()
        lines = [f"cache: {info.root}", f"limit: {_mib(info.max_bytes)}"]
        lines += [f"{k.kind}: {k.entries} entries, {_mib(k.size)}" for k in info.kinds]
        lines.append(f"total: {info.entries} entries, {_mib(info.size)}")
        lines.append(f"packs: {info.packs}, {_mib(info.disk_bytes)} on disk")
        if info.legacy:
            lines.append("an earlier version's v1/ directory is left: 'okdrelease cache prune' removes it")
        sys.stdout.write("\n".join(lines) + "\n")
        return 0
    if args.all and args.max_size:
        raise UsageError("--all and --max-size cannot be combined")
    limit = 0 if args.all else parse_size(args.max_size) if args.max_size else None
    result = cache.prune(limit)
    sys.stdout.write(
        f"removed {result.removed} entries ({_mib(result.freed)}); "
        f"{result.left_entries} entries ({_mib(result.left_bytes)}) left\n"
    )
    return 0
