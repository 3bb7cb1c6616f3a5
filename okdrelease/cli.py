"""The ``okdrelease`` command line: argparse that parses, calls the library and formats."""

from __future__ import annotations

import argparse
import atexit
import contextlib
import gc
import importlib
import logging
import os
import signal
import sys
import threading
import warnings
from collections.abc import Iterator, Sequence
from typing import Any, NoReturn

from okdrelease import __version__
from okdrelease._cli.common import (
    ParseError,
    Parser,
    add_false_marker,
    normalize_bool_args,
    normalize_loglevel_args,
)
from okdrelease._cli.examples import EXAMPLES
from okdrelease._cli.progress import Reporter, ReporterLogHandler
from okdrelease.errors import OkdReleaseError, UsageError

#: Subcommand modules under okdrelease._cli, in help order.
SUBCOMMANDS = ("new", "info", "extract", "diff", "copy", "mirror", "sign", "verify", "keys", "cache")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """Return the top-level parser with every available subcommand registered (``only``: just that one).

    Registering a subcommand imports its module and the library behind it; a run that names its
    subcommand (the usual case) imports only that one's (``new`` skips signing, diff, extract: ~0.1 s).
    """
    parser = Parser(
        prog="okdrelease",
        description="Build, read, copy and sign OpenShift/OKD release payloads without oc or a cluster.",
    )
    parser.add_argument(
        "--version", action=_VersionAction, help="print the versions of okdrelease and its key libraries"
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="also trace every registry request on stderr (method, URL, status, bytes, time); -vv: debug logs",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr, only errors")
    parser.add_argument(
        "--log-format",
        choices=("text", "json"),
        default="text",
        help="json: every stderr line is a JSON object (messages, requests with -v, summary, errors)",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS if only is None else (only,):
        try:
            module = importlib.import_module(f"okdrelease._cli.{name}")
        except ModuleNotFoundError as err:
            if err.name == f"okdrelease._cli.{name}":
                continue
            raise
        sub = module.register(subparsers)
        _add_examples(sub)
        add_false_marker(sub)
        _add_common_flags(sub)
    add_false_marker(parser)
    return parser


def _add_examples(parser: argparse.ArgumentParser) -> None:
    """End the ``--help`` of ``parser`` and of its actions (``keys generate``) with their examples."""
    if parser.epilog is None:
        parser.epilog = EXAMPLES.get(parser.prog.removeprefix("okdrelease "))
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                _add_examples(sub)


def _add_common_flags(sub: argparse.ArgumentParser) -> None:
    """Accept -q, -v and --log-format after the subcommand too (their defaults are the top-level ones)."""
    for flags, kwargs in (
        (("-q", "--quiet"), {"action": "store_true", "help": "no progress on stderr, only errors"}),
        (
            ("-v", "--verbose"),
            {"action": "count", "help": "trace registry requests on stderr; -vv: debug logs"},
        ),
        (("--log-format",), {"choices": ("text", "json"), "help": "json: JSON objects on stderr"}),
    ):
        try:
            sub.add_argument(*flags, default=argparse.SUPPRESS, **kwargs)
        except argparse.ArgumentError:
            continue  # the subcommand defines it itself


class _VersionAction(argparse.Action):
    """``--version``: okdrelease's version and those of the libraries that decide its behaviour."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        sys.stdout.write("\n".join(version_lines()) + "\n")
        parser.exit(0)


def version_lines() -> list[str]:
    """``okdrelease X``, Python, then one line per key dependency (``name: not installed`` if absent).

    urllib3 carries requests through proxies and to other hosts (the registry's own go through
    okdrelease's HTTP/1.1 client); requests is used by signature stores and proxy rules;
    isal decides how fast gzip layers are read (okdrelease.oci.decompress falls back to zlib).
    """
    import platform
    from importlib import metadata

    lines = [
        f"okdrelease {__version__}",
        f"Python {platform.python_version()} ({platform.python_implementation()})",
    ]
    for dist, extra in (
        ("urllib3", None),
        ("requests", None),
        ("PyYAML", _libyaml),
        ("cryptography", _openssl),
        ("attrs", None),
        ("PyNaCl", None),
        ("zstandard", None),
        ("isal", None),
    ):
        try:
            version = metadata.version(dist)
        except metadata.PackageNotFoundError:
            lines.append(f"{dist}: not installed")
            continue
        lines.append(f"{dist} {version}" + (f" ({extra()})" if extra else ""))
    return lines


def _libyaml() -> str:
    import yaml

    if not getattr(yaml, "__with_libyaml__", False):
        return "without libyaml: pure-Python YAML, slower"
    from yaml import _yaml

    return f"libyaml {_yaml.get_version_string()}"


def _openssl() -> str:
    from cryptography.hazmat.backends.openssl import backend

    return str(backend.openssl_version_text())


def quiet_dependencies() -> None:
    """Keep dependencies' warnings away from users (okdrelease's own warnings are left alone).

    cryptography 51 deprecated DSA: every attribute of its ``dsa`` module warns when read, and
    okdrelease.sign.openpgp reads them to verify DSA OpenPGP keys (a supported, if old, algorithm).
    The warning is about cryptography's future, not about anything the user can change. Matched by
    its text in okdrelease's modules, whatever its class: naming CryptographyDeprecationWarning
    would import cryptography on every run, signing or not (1 ms of a warm ``new``).
    """
    warnings.filterwarnings("ignore", message="DSA is deprecated", module=r"okdrelease\.")


def named_subcommand(raw: Sequence[str]) -> str | None:
    """The subcommand ``raw`` names (its first word outside the top-level options) when it is a known
    one and no top-level help or version is asked for first; else None."""
    words = iter(raw)
    for word in words:
        if word == "--log-format":
            next(words, None)
        elif word in ("-h", "--help", "--version", "--"):
            return None
        elif not word.startswith("-"):
            return word if word in SUBCOMMANDS else None
    return None


def run() -> NoReturn:
    """The process entry point (``python -m okdrelease``, the ``okdrelease`` script): exit with :func:`main`'s code.

    The modules a command needs are loaded with the cyclic collector off and then frozen out of its
    view (``gc.freeze``: they live as long as the process); young objects are collected every 5,000
    allocations instead of 700. A warm ``new`` spent 12-17 ms in 87 collections, 1-3 ms so. The
    process then ends without freeing its objects one by one (:func:`_exit_now`). Only here:
    :func:`main` called in another program leaves that program's collector and exit alone; so does
    the limit on the C allocator's arenas (:func:`_one_malloc_arena`).
    """
    gc.disable()
    _one_malloc_arena()
    quiet_dependencies()  # before the subcommand's modules load: sign's read cryptography's DSA names
    try:
        name = named_subcommand(sys.argv[1:])
        if name is not None:
            importlib.import_module(f"okdrelease._cli.{name}")  # what main() loads for it
    except ImportError:
        pass  # main() words it
    finally:
        gc.freeze()
        gc.set_threshold(5000, 10, 10)
        gc.enable()
    _exit_now(main())


#: glibc's ``mallopt`` parameter M_ARENA_MAX (malloc.h).
_M_ARENA_MAX = -8


def _one_malloc_arena() -> None:
    """Have glibc's allocator serve every thread from one arena (M_ARENA_MAX 1), before any thread starts.

    By default each thread that allocates gets an arena of its own (up to 8 per core), and what a
    worker frees stays in its arena: the payload, built on the main thread once the workers have read
    the components, cannot reuse it. With one arena a cold ``new`` of 400 images peaks at about 63 MiB
    instead of 85, no slower (threads allocate mostly holding the GIL; small blocks come from each
    thread's cache without the arena's lock). Nothing is done on other C libraries, when the user chose
    the arenas (``MALLOC_ARENA_MAX``, or ``glibc.malloc.arena_max`` in ``GLIBC_TUNABLES``), or when
    the interpreter cannot call C (no ``ctypes``): the process then starts as it would without this.
    """
    if "MALLOC_ARENA_MAX" in os.environ or "glibc.malloc.arena_max" in os.environ.get("GLIBC_TUNABLES", ""):
        return
    try:
        if not os.confstr("CS_GNU_LIBC_VERSION"):
            return
        import ctypes

        ctypes.CDLL(None).mallopt(_M_ARENA_MAX, 1)
    except (ImportError, AttributeError, ValueError, OSError):
        return


def _silence_stdout() -> None:
    """Point standard output at the null device, so output still pending cannot fail again at exit."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.__stdout__.fileno() if sys.__stdout__ is not None else 1)
        os.close(devnull)


def _stdout_error(err: OSError) -> OkdReleaseError:
    _silence_stdout()
    return OkdReleaseError(f"cannot write to standard output: {err.strerror or err}")


@contextlib.contextmanager
def _stdout_failures() -> Iterator[None]:
    """Standard output's failures in the CLI's terms: a broken pipe stays one (standard output is then
    silenced); any other OSError becomes ``cannot write to standard output: REASON``."""
    try:
        yield
    except BrokenPipeError:
        _silence_stdout()
        raise
    except OSError as err:
        raise _stdout_error(err) from err


class _GuardedOutput:
    """Standard output (its text stream or that stream's ``buffer``) whose write failures say so: a
    command's results that cannot be written (a full disk, ``> /dev/full``) end it with a clear error,
    not an internal one. A broken pipe stays a BrokenPipeError (the reader went away: a quiet end)."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, data: Any) -> int:
        with _stdout_failures():
            return int(self._stream.write(data))

    def flush(self) -> None:
        with _stdout_failures():
            self._stream.flush()

    @property
    def buffer(self) -> _GuardedOutput:
        return _GuardedOutput(self._stream.buffer)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class _LossyErrors:
    """Standard error whose write failures are dropped: progress, warnings and errors that cannot be
    shown (``2> /dev/full``, a closed pipe) must not stop the command or turn its result into an
    internal error; what it writes to standard output and its exit code stay what they would be."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, data: Any) -> int:
        try:
            return int(self._stream.write(data))
        except OSError:
            return len(data)

    def flush(self) -> None:
        with contextlib.suppress(OSError):
            self._stream.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _exit_now(code: int) -> NoReturn:
    """End the process without freeing its objects one by one (10-20 ms at the end of a warm ``new``).

    What an ordinary exit does that anyone can see is done first: stdout and stderr flushed, the exit
    handlers run (logging's, any a caller or a tool such as coverage registered). Anything unusual
    (another thread still running, output that cannot be flushed) takes the ordinary exit instead.
    """
    if any(t is not threading.main_thread() and not t.daemon for t in threading.enumerate()):
        raise SystemExit(code)
    try:
        with _stdout_failures():
            sys.stdout.flush()
    except BrokenPipeError:
        code = code or 1
    except OkdReleaseError as err:
        Reporter(sys.stderr).error(str(err))
        code = code or 1
    except ValueError:
        raise SystemExit(code) from None
    try:
        sys.stderr.flush()
    except OSError:
        pass  # (standard error that cannot take it: what is pending is dropped, as _LossyErrors drops it)
    except ValueError:
        raise SystemExit(code) from None
    atexit._run_exitfuncs()
    with contextlib.suppress(OSError, ValueError):
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit code (0 success, 1 failure, 2 usage error)."""
    stdout, stderr = sys.stdout, sys.stderr
    sys.stdout = _GuardedOutput(stdout)  # a TextIO in every use made of it
    sys.stderr = _LossyErrors(stderr)  # (the same)
    try:
        return _main(argv)
    finally:
        sys.stdout, sys.stderr = stdout, stderr


def _main(argv: Sequence[str] | None) -> int:
    quiet_dependencies()
    raw = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(named_subcommand(raw))
    try:
        args = parser.parse_args(normalize_bool_args(normalize_loglevel_args(raw), parser))
    except UsageError as err:
        usage = err.usage if isinstance(err, ParseError) else ""
        Reporter(sys.stderr, json_log=_json_requested(raw)).usage_error(str(err), usage)
        return 2
    except SystemExit as exit_:  # --help, --version
        return exit_.code if isinstance(exit_.code, int) else 2
    except BrokenPipeError:  # --help or --version read by a reader that went away
        return 1
    except OkdReleaseError as err:  # --help or --version written to standard output that cannot take it
        Reporter(sys.stderr).error(str(err))
        return 1
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    reporter = Reporter(
        sys.stderr, quiet=args.quiet, verbose=args.verbose, json_log=args.log_format == "json"
    )
    args.reporter = reporter
    logger = logging.getLogger("okdrelease")
    handler = ReporterLogHandler(reporter, logging.WARNING - 10 * min(args.verbose, 2))
    logger.addHandler(handler)
    saved_level = logger.level
    logger.setLevel(min(handler.level, logging.WARNING))
    try:
        with _interruptions():
            code, message = _run(args)
            if message is not None:
                reporter.error(message)
        return code
    finally:
        reporter.close()
        logger.removeHandler(handler)
        logger.setLevel(saved_level)


def _json_requested(raw: Sequence[str]) -> bool:
    """``--log-format json`` on a command line that did not parse (so errors are JSON too)."""
    pairs = zip(raw, [*raw[1:], ""], strict=True)
    return "--log-format=json" in raw or any(a == "--log-format" and b == "json" for a, b in pairs)


class _Terminated(KeyboardInterrupt):
    """SIGTERM (a CI system's or Tekton's cancel or timeout), stopping the run as Ctrl-C does."""


@contextlib.contextmanager
def _interruptions() -> Iterator[None]:
    """The first SIGINT or SIGTERM interrupts the command (a KeyboardInterrupt: the library stops its
    threads and removes what it must); later ones are ignored while it winds down, so the cleanup
    runs to its end and ``error: interrupted`` is said once. Outside the main thread: no change."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    seen: list[int] = []

    def interrupt(signum: int, _frame: object) -> None:
        if not seen:
            seen.append(signum)
            raise _Terminated if signum == signal.SIGTERM else KeyboardInterrupt

    saved = {number: signal.signal(number, interrupt) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in saved.items():
            if handler is not None:  # None: not set from Python (left as it is)
                signal.signal(number, handler)


def _run(args: argparse.Namespace) -> tuple[int, str | None]:
    """Run the subcommand: (exit code, error message or None); no traceback reaches a user."""
    try:
        return int(args.func(args) or 0), None
    except UsageError as err:
        return 2, str(err)
    except OkdReleaseError as err:
        # A command may say that its failures need another code (diff --exit-code: 2, as diff(1)).
        return int(getattr(args, "failure_exit_code", 1)), str(err)
    except _Terminated:
        return 143, "interrupted"
    except KeyboardInterrupt:
        return 130, "interrupted"
    except BrokenPipeError:
        return 1, None
    except Exception as err:  # noqa: BLE001 - no traceback reaches a CLI user
        if os.environ.get("OKDRELEASE_DEBUG"):
            raise
        return 1, f"internal error: {type(err).__name__}: {err}"
