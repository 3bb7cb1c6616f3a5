"""The ``okdrelease`` command line: argparse that parses, calls the library and formats."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from okdrelease import __version__
from okdrelease._cli.common import add_false_marker, normalize_bool_args
from okdrelease.errors import OkdReleaseError, UsageError

#: Subcommand modules under okdrelease._cli, in help order.
SUBCOMMANDS = ("new", "info", "extract", "diff", "copy", "sign", "verify", "keys")


def build_parser() -> argparse.ArgumentParser:
    """Return the top-level parser with every available subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="okdrelease",
        description="Build, read, copy and sign OpenShift/OKD release payloads without oc or a cluster.",
    )
    parser.add_argument("--version", action="version", version=f"okdrelease {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging on stderr")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress messages on stderr")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(f"okdrelease._cli.{name}")
        except ModuleNotFoundError as err:
            if err.name == f"okdrelease._cli.{name}":
                continue
            raise
        sub = module.register(subparsers)
        add_false_marker(sub)
        _add_common_flags(sub)
    add_false_marker(parser)
    return parser


def _add_common_flags(sub: argparse.ArgumentParser) -> None:
    """Accept -q and -v after the subcommand too (their values default to the top-level ones)."""
    for flags, kwargs in (
        (("-q", "--quiet"), {"action": "store_true", "help": "no progress messages on stderr"}),
        (("-v", "--verbose"), {"action": "count", "help": "more logging on stderr"}),
    ):
        try:
            sub.add_argument(*flags, default=argparse.SUPPRESS, **kwargs)  # type: ignore[arg-type]
        except argparse.ArgumentError:
            continue  # the subcommand defines it itself


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit code (0 success, 1 failure, 2 usage error)."""
    parser = build_parser()
    raw = list(sys.argv[1:] if argv is None else argv)
    try:
        args = parser.parse_args(normalize_bool_args(raw, parser))
    except UsageError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s: %(name)s: %(message)s", stream=sys.stderr)
    try:
        return int(args.func(args) or 0)
    except UsageError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except OkdReleaseError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1
    except Exception as err:  # noqa: BLE001 - no traceback reaches a CLI user
        if os.environ.get("OKDRELEASE_DEBUG"):
            raise
        print(f"error: internal error: {type(err).__name__}: {err}", file=sys.stderr)
        return 1
