"""Helpers shared by subcommands: oc-style flag syntax and registry options."""

from __future__ import annotations

import argparse
import os
import sys
import threading
from collections.abc import Callable, Iterable, Sequence

from okdrelease.errors import UsageError
from okdrelease.transport.base import TransportOptions

_TRUE = {"true", "1", "t", "yes"}
_FALSE = {"false", "0", "f", "no"}


def normalize_bool_args(argv: Sequence[str], parser: argparse.ArgumentParser) -> list[str]:
    """Rewrite Go-style ``--flag=true|false`` for boolean flags into argparse form.

    ``--flag=true`` becomes ``--flag``; ``--flag=false`` becomes ``--no-okd-bool-flag`` marker
    handling via ``_FALSE_PREFIX`` (the flag is dropped, restoring its default of False).
    """
    bool_flags = _bool_flags(parser)
    out: list[str] = []
    for arg in argv:
        name, eq, value = arg.partition("=")
        if eq and name in bool_flags:
            lowered = value.lower()
            if lowered in _TRUE:
                out.append(name)
                continue
            if lowered in _FALSE:
                out.append(bool_flags[name])
                continue
            raise UsageError(f'invalid argument "{value}" for "{name}" flag: expected true or false')
        out.append(arg)
    return out


def _bool_flags(parser: argparse.ArgumentParser) -> dict[str, str]:
    flags: dict[str, str] = {}
    for action in parser._actions:
        if isinstance(action, argparse._StoreTrueAction):
            for option in action.option_strings:
                flags[option] = f"--okd-false={action.dest}"
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                flags.update(_bool_flags(sub))
    return flags


class _FalseAction(argparse.Action):
    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        setattr(namespace, str(values), False)


def add_false_marker(parser: argparse.ArgumentParser) -> None:
    """Add the hidden option that ``--flag=false`` is rewritten to."""
    parser.add_argument("--okd-false", action=_FalseAction, help=argparse.SUPPRESS)


def split_list(values: Iterable[str] | None) -> list[str]:
    """Flatten a repeated, comma-separated list flag (empty items dropped)."""
    out: list[str] = []
    for value in values or []:
        out.extend(item.strip() for item in value.split(",") if item.strip())
    return out


def add_registry_flags(parser: argparse.ArgumentParser, *, prefix: str = "") -> None:
    """Add oc's and skopeo's registry flags (auth file, TLS, concurrency)."""
    parser.add_argument(
        "-a",
        "--registry-config",
        "--authfile",
        dest="authfile",
        metavar="PATH",
        help="registry credentials file (default: REGISTRY_AUTH_FILE, containers and docker auth files)",
    )
    parser.add_argument(
        "--insecure",
        action="store_true",
        help="allow plain HTTP and skip TLS verification for every registry",
    )
    parser.add_argument(
        "--tls-verify",
        action="store_true",
        default=None,
        help="--tls-verify=false is the same as --insecure",
    )
    parser.add_argument(
        "--insecure-registry",
        action="append",
        default=[],
        metavar="HOST[:PORT]",
        help="skip TLS verification and allow plain HTTP for this registry only (repeatable)",
    )
    parser.add_argument(
        "--certificate-authority", dest="ca_file", metavar="PATH", help="extra CA bundle for registries"
    )
    parser.add_argument(
        "--max-per-registry",
        type=int,
        default=8,
        metavar="N",
        help="concurrent requests per registry (default 8)",
    )
    parser.add_argument("--retry-times", type=int, default=3, metavar="N", help="retries on transient errors")


def parse_creds(value: str | None) -> tuple[str, str] | None:
    """Parse ``USER[:PASSWORD]`` (skopeo's --creds form)."""
    if not value:
        return None
    user, _, password = value.partition(":")
    if not user:
        raise UsageError("credentials must be USERNAME[:PASSWORD]")
    return user, password


def transport_options(args: argparse.Namespace) -> TransportOptions:
    """Build TransportOptions from the registry flags."""
    insecure = bool(args.insecure) or args.tls_verify is False
    if insecure or args.insecure_registry:
        # The user opted out of TLS verification; don't repeat urllib3's warning per request.
        import urllib3

        urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    if args.max_per_registry < 1:
        raise UsageError("--max-per-registry must be at least 1")
    return TransportOptions(
        authfile=args.authfile,
        insecure=insecure,
        insecure_registries=frozenset(args.insecure_registry or ()),
        ca_file=args.ca_file,
        max_per_registry=args.max_per_registry,
        retries=max(0, args.retry_times),
        user_agent=f"okdrelease/{_version()}",
    )


def _version() -> str:
    from okdrelease import __version__

    return __version__


def env_flag(name: str) -> bool:
    """True when the environment variable ``name`` is set to a true value."""
    return os.environ.get(name, "").lower() in _TRUE


def progress_printer(args: argparse.Namespace) -> Callable[[str], None]:
    """Return a thread-safe callback that writes whole progress lines to stderr unless --quiet."""
    if getattr(args, "quiet", False):
        return lambda _line: None
    lock = threading.Lock()

    def emit(line: str) -> None:
        with lock:
            sys.stderr.write(line + "\n")
            sys.stderr.flush()

    return emit
