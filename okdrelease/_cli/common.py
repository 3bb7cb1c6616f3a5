"""Helpers shared by subcommands: oc-style flag syntax and registry options."""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from okdrelease.errors import UsageError
from okdrelease.transport.base import DEFAULT_MAX_PER_REGISTRY, TransportOptions
from okdrelease.transport.http import parse_duration, quiet_insecure_warnings

if TYPE_CHECKING:
    # loaded by cache_from_args: verify, sign and keys keep no cache
    from okdrelease.cache import Cache

#: What Go's strconv.ParseBool reads as true and false: the values oc's boolean flags take.
_GO_TRUE = frozenset(("1", "t", "T", "TRUE", "true", "True"))
_GO_FALSE = frozenset(("0", "f", "F", "FALSE", "false", "False"))
#: True values of an environment switch (:func:`env_flag`), in any case.
_ENV_TRUE = frozenset(("true", "1", "t", "yes"))

_NO_CLUSTER = "okdrelease never talks to a cluster"
_KUBE = f"{_NO_CLUSTER}: give the image or file it should read instead"
#: oc flags that read from a cluster, with what to use instead (they are usage errors, never abbreviations).
CLUSTER_FLAGS: dict[str, str] = {
    "--from-image-stream": (
        f"--from-image-stream reads an ImageStream from a cluster and {_NO_CLUSTER}: save it with "
        "'oc get imagestream NAME -n NAMESPACE -o yaml > is.yaml' and pass -f/--from-image-stream-file is.yaml, "
        "or start from a release image with --from-release PULLSPEC"
    ),
    "--kubeconfig": f"--kubeconfig selects a cluster and {_KUBE}",
    "--context": f"--context selects a cluster and {_KUBE}",
    "--cluster": f"--cluster selects a cluster and {_KUBE}",
    "--server": f"--server selects a cluster and {_KUBE}",
    "--token": (
        f"--token is a cluster token and {_NO_CLUSTER}: registry credentials come from "
        "-a/--registry-config (or --authfile)"
    ),
    "--namespace": f"--namespace names a cluster namespace and {_KUBE}",
    "-n": f"-n/--namespace names a cluster namespace and {_KUBE}",
}


_NEGATIVE_NUMBER = re.compile(r"^-\d+$|^-\d*\.\d+$")
#: A value with a sign, read as one where a flag expects a value: ``-5s``, ``-1M``, ``-.5G``.
_SIGNED_VALUE = re.compile(r"^-\.?\d")


class Parser(argparse.ArgumentParser):
    """argparse with oc's rules: no flag matched by prefix, unknown flags named, one ``error:`` prefix.

    A usage error prints the usage of the (sub)command that failed to parse, then ``error: MESSAGE``,
    and exits 2. Subcommand parsers are of this class too (``add_subparsers`` inherits it).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["allow_abbrev"] = False
        super().__init__(*args, **kwargs)

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        """Parse; any argument this parser does not know is a usage error naming it."""
        arg_list = self._join_signed_values(list(sys.argv[1:] if args is None else args))
        self._refuse_unknown_flags(arg_list)
        parsed, extras = super().parse_known_args(arg_list, namespace)
        if extras:
            self.error(unknown_argument_message(extras))
        return parsed, extras

    def _join_signed_values(self, args: list[str]) -> list[str]:
        """``--timeout -5s``, ``--max-layer-bytes -1M``: a value that starts with ``-`` and a digit after a
        flag that takes one is that flag's value, as pflag reads it (oc then refuses the value in its
        words); argparse took it for an unknown flag. Written ``--flag=VALUE`` for argparse."""
        if self._subparsers is not None:
            return args
        out: list[str] = []
        values = iter(args)
        for arg in values:
            action = self._option_string_actions.get(arg)
            if action is not None and action.nargs is None and action.option_strings:
                value = next(values, None)
                if value is not None and _SIGNED_VALUE.match(value) and not _NEGATIVE_NUMBER.match(value):
                    out.append(f"{arg}={value}" if arg.startswith("--") else f"{arg}{value}")
                    continue
                out.append(arg)
                if value is not None:
                    out.append(value)
                continue
            out.append(arg)
            if arg == "--":
                out.extend(values)
        return out

    def _refuse_unknown_flags(self, args: list[str]) -> None:
        """Name the first flag this parser lacks before argparse complains about anything else."""
        if self._subparsers is not None:
            return  # the subcommand's parser checks its own arguments
        for arg in args:
            if arg == "--":
                return
            if not arg.startswith("-") or arg == "-" or _NEGATIVE_NUMBER.match(arg):
                continue
            name = arg.partition("=")[0] if arg.startswith("--") else arg[:2]
            if name not in self._option_string_actions:
                self.error(unknown_argument_message([arg]))

    def format_help(self) -> str:
        """argparse's help, then the epilog (the examples) with its lines and indentation kept."""
        epilog, self.epilog = self.epilog, None
        try:
            text = super().format_help()
        finally:
            self.epilog = epilog
        return text + (f"\n{epilog.strip(chr(10))}\n" if epilog else "")

    def error(self, message: str) -> NoReturn:
        """Raise ``ParseError`` with this parser's usage (``okdrelease.cli.main`` shows it, exit 2)."""
        raise ParseError(message, self.format_usage())


class ParseError(UsageError):
    """A command line argparse could not parse, with the usage of the (sub)command concerned."""

    def __init__(self, message: str, usage: str) -> None:
        super().__init__(message)
        self.usage = usage


def unknown_argument_message(extras: Sequence[str]) -> str:
    """Name the first argument that is not understood, the way oc does (``unknown flag: --x``)."""
    first = extras[0]
    if first.startswith("-") and first != "-":
        name = first.partition("=")[0]
        short = name if name.startswith("--") else name[:2]  # -nNS is -n NS
        return CLUSTER_FLAGS.get(short, f"unknown flag: {name}")
    return f"unexpected argument: {first!r}"


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
            if value in _GO_TRUE:
                out.append(name)
                continue
            if value in _GO_FALSE:
                out.append(bool_flags[name])
                continue
            from okdrelease.gocompat.strconv import invalid_flag_argument, syntax_error

            raise UsageError(invalid_flag_argument(value, name, syntax_error("ParseBool", value)))
        out.append(arg)
    return out


#: oc's klog verbosity flags (``-v=N``/``--v=N`` and ``--loglevel=N``), as oc names them in its errors.
_LEVEL_FLAGS = {"-v": "-v, --v", "--v": "-v, --v", "--loglevel": "--loglevel"}


def normalize_loglevel_args(argv: Sequence[str]) -> list[str]:
    """Read oc's verbosity levels, ``-v=N``, ``--v=N``/``--v N`` and ``--loglevel=N``/``--loglevel N``, as
    okdrelease's ``-v`` count: 0 nothing, 1-5 ``-v`` (each request), 6 and more ``-vv`` (debug logs too).

    ``-v`` alone keeps counting (``-vv``); ``-v N`` is not read as a level, since N may be a mapping.
    """
    out: list[str] = []
    args = iter(argv)
    for arg in args:
        if arg == "--":
            out.append(arg)
            out.extend(args)
            break
        name, eq, value = arg.partition("=")
        if name not in _LEVEL_FLAGS or (not eq and name == "-v"):
            out.append(arg)
            continue
        if not eq:
            value = next(args, "")
        try:
            level = int(value, 0)
        except ValueError:
            from okdrelease.gocompat.strconv import invalid_flag_argument, syntax_error

            raise UsageError(
                invalid_flag_argument(value, _LEVEL_FLAGS[name], syntax_error("ParseInt", value))
            ) from None
        out.extend(["-v"] * (0 if level < 1 else 1 if level < 6 else 2))
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


def add_skip_verification_flag(parser: argparse.ArgumentParser) -> None:
    """``--skip-verification``: oc's switch to accept content that does not match its digest, taken so
    oc command lines work; okdrelease verifies every digest regardless (a mismatch is never accepted)."""
    parser.add_argument(
        "--skip-verification", action="store_true", help="accepted for oc parity; content is always verified"
    )


def add_layer_limit_flag(parser: argparse.ArgumentParser) -> None:
    """``--max-layer-bytes SIZE``: the decompressed size of one layer beyond which it is refused."""
    from okdrelease.oci.layerlimits import DEFAULT_MAX_LAYER_BYTES, size_in_bytes

    def size(text: str) -> int:
        try:
            return size_in_bytes(text)
        except ValueError as err:  # (argparse shows only a type error's own message)
            raise argparse.ArgumentTypeError(str(err)) from None

    parser.add_argument(
        "--max-layer-bytes",
        type=size,
        default=DEFAULT_MAX_LAYER_BYTES,
        metavar="SIZE",
        help="refuse a layer that decompresses to more than SIZE bytes (K, M, G suffixes, 1.5G; default 8G)",
    )


def add_registry_flags(parser: argparse.ArgumentParser, *, prefix: str = "") -> None:
    """Add oc's and skopeo's registry flags (auth file, TLS, concurrency)."""
    parser.add_argument(
        "-a",
        "--registry-config",
        "--authfile",
        dest="authfile",
        metavar="PATH",
        help=(
            "registry credentials file, as oc's --registry-config and skopeo's --authfile (default: "
            "$REGISTRY_AUTH_FILE, then containers' auth.json, then ~/.docker/config.json)"
        ),
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
        help="verify registries' TLS certificates (default true); --tls-verify=false is --insecure",
    )
    parser.add_argument(
        "--insecure-registry",
        action="append",
        default=[],
        metavar="HOST[:PORT]",
        help="skip TLS verification and allow plain HTTP for this registry only (repeatable)",
    )
    parser.add_argument(
        "--certificate-authority",
        dest="ca_file",
        metavar="PATH",
        help="PEM file of CA certificates to trust for every registry, besides the system's and certs.d/HOST/",
    )
    parser.add_argument(
        "--max-per-registry",
        type=int,
        default=DEFAULT_MAX_PER_REGISTRY,
        metavar="N",
        help=f"concurrent requests per registry (default {DEFAULT_MAX_PER_REGISTRY})",
    )
    parser.add_argument(
        "--retry-times",
        type=int,
        default=3,
        metavar="N",
        help="retries of each request on transient errors (default 3)",
    )
    parser.add_argument(
        "--timeout",
        default="60s",
        metavar="DURATION",
        help="give up on a connection or a stalled read after DURATION (30s, 2m; default 60s)",
    )


def parse_creds(
    value: str | None,
    *,
    flag: str = "credentials",
    prompt: Callable[[str], str] | None = None,
    interactive: bool | None = None,
) -> tuple[str, str] | None:
    """Parse ``USER[:PASSWORD]`` (skopeo's --creds form); ask for a missing password on a terminal.

    ``USER:`` is an empty password. ``USER`` alone prompts (without echo) when standard input is
    a terminal, and is a usage error otherwise, rather than trying an empty password.
    """
    if not value:
        return None
    user, colon, password = value.partition(":")
    if not user:
        raise UsageError(f"{flag} must be USERNAME[:PASSWORD]")
    if colon:
        return user, password
    if interactive is None:
        interactive = sys.stdin.isatty()
    if not interactive:
        raise UsageError(
            f"{flag} {user}: no password given and standard input is not a terminal to ask for it"
        )
    if prompt is None:
        import getpass

        prompt = getpass.getpass
    return user, prompt(f"Password for {user}: ")


def transport_options(args: argparse.Namespace) -> TransportOptions:
    """Build TransportOptions from the registry flags."""
    insecure = bool(args.insecure) or args.tls_verify is False
    if insecure or args.insecure_registry:
        # The user opted out of TLS verification; don't repeat urllib3's warning per request.
        quiet_insecure_warnings()
    if args.max_per_registry < 1:
        raise UsageError("--max-per-registry must be at least 1")
    if args.retry_times < 0:
        raise UsageError(f"--retry-times must not be negative (got {args.retry_times})")
    return TransportOptions(
        events=getattr(args, "reporter", None),
        authfile=args.authfile,
        insecure=insecure,
        insecure_registries=frozenset(args.insecure_registry or ()),
        ca_file=args.ca_file,
        max_per_registry=args.max_per_registry,
        retries=args.retry_times,
        timeout=parse_duration(args.timeout),
        user_agent=f"okdrelease/{_version()}",
    )


def _version() -> str:
    from okdrelease import __version__

    return __version__


def env_flag(name: str) -> bool:
    """True when the environment variable ``name`` is set to a true value."""
    return os.environ.get(name, "").lower() in _ENV_TRUE


def progress_printer(args: argparse.Namespace) -> Callable[[str], None]:
    """Return a thread-safe callback that shows whole progress lines on stderr unless --quiet.

    Lines go through the run's ``Reporter`` (``args.reporter``, set by ``okdrelease.cli.main``) so
    they respect the bar and ``--log-format json``; without one they are written to stderr.
    """
    reporter = getattr(args, "reporter", None)
    if reporter is not None:
        line: Callable[[str], None] = reporter.line
        return line
    if getattr(args, "quiet", False):
        return lambda _line: None
    lock = threading.Lock()

    def emit(line: str) -> None:
        with lock:
            sys.stderr.write(line + "\n")
            sys.stderr.flush()

    return emit


def add_cache_flags(p: argparse.ArgumentParser) -> None:
    """Add ``--cache-dir`` and ``--no-cache``."""
    p.add_argument(
        "--cache-dir", metavar="DIR", help="persistent cache directory (default $XDG_CACHE_HOME/okdrelease)"
    )
    p.add_argument("--no-cache", action="store_true", help="do not read or write the persistent cache")


def cache_from_args(args: argparse.Namespace) -> Cache | None:
    """The cache the flags ask for: None with ``--no-cache``, else the ``--cache-dir`` or default one."""
    if getattr(args, "no_cache", False):
        if getattr(args, "cache_dir", None):
            raise UsageError("--cache-dir and --no-cache cannot be combined")
        return None
    from okdrelease.cache import Cache, default_root

    return Cache(getattr(args, "cache_dir", None) or default_root())


@contextlib.contextmanager
def run_cache(args: argparse.Namespace) -> Iterator[Cache | None]:
    """The run's persistent cache (:func:`cache_from_args`): closed (its pack written), then kept within its bound."""
    cache = cache_from_args(args)
    if cache is None:
        yield None
        return
    try:
        with cache:  # closing writes the run's entries as one pack
            yield cache
    finally:
        cache.trim()
