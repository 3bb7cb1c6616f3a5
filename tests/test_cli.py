"""The command line itself: quiet stderr, oc's flag rules, usage errors, ``--version``."""

from __future__ import annotations

import argparse
import ast
import gc
import io
import json
import os
import re
import shlex
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.utils import CryptographyDeprecationWarning

from okdrelease import __version__
from okdrelease._cli.common import CLUSTER_FLAGS, normalize_bool_args, normalize_loglevel_args, parse_creds
from okdrelease.cli import SUBCOMMANDS, build_parser, main, quiet_dependencies
from okdrelease.errors import UsageError

ROOT = Path(__file__).resolve().parents[1]


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``main(argv)`` in-process: (exit code, stdout, stderr)."""
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def child_env() -> dict[str, str]:
    """The environment of a fresh interpreter importing this checkout, without inherited warning filters."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    env.pop("PYTHONWARNINGS", None)
    return env


def run_process(*argv: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """``python -m okdrelease ARGV`` in a fresh interpreter, so import-time warnings are seen too."""
    return run_python("-m", "okdrelease", *argv, cwd=cwd)


def run_python(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """``python ARGS`` in a fresh interpreter (:func:`child_env`): exit code, text output."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def all_parsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    """``parser`` and every (nested) subcommand parser under it."""
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from all_parsers(sub)


# --------------------------------------------------------------------------------------------
# Quiet by default


def command_paths() -> list[list[str]]:
    """Every command as argv: the top level, each subcommand and each nested action."""
    paths: list[list[str]] = [[]]
    for parser in all_parsers(build_parser()):
        words = parser.prog.split()[1:]
        if words:
            paths.append(words)
    return paths


def test_every_command_is_listed() -> None:
    names = {tuple(p) for p in command_paths()}
    assert {(name,) for name in SUBCOMMANDS} <= names
    assert ("keys", "generate") in names and ("keys", "configmap") in names


@pytest.mark.parametrize("words", command_paths(), ids=lambda words: " ".join(words) or "top")
def test_help_writes_nothing_on_stderr(words: list[str]) -> None:
    result = run_process(*words, "--help")
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.startswith(f"usage: okdrelease {' '.join(words)}".rstrip())


def test_version_lists_key_dependencies_and_nothing_on_stderr() -> None:
    result = run_process("--version")
    assert (result.returncode, result.stderr) == (0, "")
    lines = result.stdout.splitlines()
    assert lines[0] == f"okdrelease {__version__}"
    assert re.fullmatch(r"Python 3\.\d+\.\d+\S* \(\w+\)", lines[1])
    names = [re.split(r"[ :]", line)[0] for line in lines[2:]]
    assert names == ["urllib3", "requests", "PyYAML", "cryptography", "attrs", "PyNaCl", "zstandard", "isal"]
    assert re.fullmatch(r"PyYAML \S+ \((libyaml \S+|without libyaml: pure-Python YAML, slower)\)", lines[4])
    assert re.fullmatch(r"cryptography \S+ \(OpenSSL .+\)", lines[5])


def readme_new_args(to_image: str) -> list[str]:
    """The README's first command with another destination."""
    match = re.search(r"^pip install \. && okdrelease (new .*)$", (ROOT / "README.md").read_text(), re.M)
    assert match, "README.md lost its first command"
    args = match[1].split()
    args[args.index("--to-image") + 1] = to_image
    return args


def test_quiet_new_on_the_sample_writes_nothing_on_stderr(tmp_path: Path) -> None:
    result = run_process("-q", *readme_new_args(f"oci:{tmp_path / 'release'}:sample"))
    assert (result.returncode, result.stderr) == (0, "")
    assert re.fullmatch(r"sha256:[0-9a-f]{64} 4\.16\.0-okd\.sample 2024-05-01T00:00:00Z\n", result.stdout)
    without_q = run_process(*readme_new_args(f"oci:{tmp_path / 'again'}:sample"))
    assert without_q.returncode == 0
    lines = without_q.stderr.splitlines()
    assert lines and all(line.startswith("info: ") for line in lines), without_q.stderr


def test_the_process_entry_point_tunes_the_collector_and_main_leaves_it_alone() -> None:
    """The process entry (python -m okdrelease, the script: __main__.main, cli.run) freezes what the
    subcommand loaded and collects young objects every 5,000 allocations; cli.main() in someone
    else's process changes neither."""
    before = (gc.get_threshold(), gc.get_freeze_count(), gc.isenabled())
    assert main(["--version"]) == 0
    assert (gc.get_threshold(), gc.get_freeze_count(), gc.isenabled()) == before
    probe = (
        "import atexit, gc, sys\n"
        "atexit.register(lambda: print(gc.get_threshold(), gc.get_freeze_count() > 1000, gc.isenabled(),"
        " 'okdrelease._cli.info' in sys.modules, 'okdrelease.payload.pipeline' in sys.modules))\n"
        "sys.argv = ['okdrelease', 'info', '--help']\n"
        "from okdrelease.__main__ import main\n"
        "main()\n"
    )
    done = run_python("-c", probe)
    assert (done.returncode, done.stdout.splitlines()[-1]) == (0, "(5000, 10, 10) True True True False")


#: Modules a ``new`` that neither signs, verifies, skips if unchanged, uses a credential helper nor
#: reads a float from a manifest never needs (nor does its push recompress layers as ``copy`` may, nor
#: does it write files checked to stay inside a directory as --dir and --to-dir do),
#: nor urllib3 and http.client (registry requests go through transport.wire unless proxied), nor
#: without --from-release the reading of release images (``okdrelease.release``: components' configs
#: are decoded by ``gocompat.goconfig.check_config``): each is loaded by the function that needs it.
NOT_LOADED_BY_NEW = (
    "cryptography",
    "decimal",
    "email.parser",
    "http.client",
    "okdrelease.release",
    "okdrelease.release.read",
    "okdrelease.payload.safepath",
    "okdrelease.payload.signing",
    "okdrelease.payload.unchanged",
    "okdrelease.payload.verify",
    "okdrelease.sign.keys",
    "okdrelease.sign.policy",
    "okdrelease.transport.recompress",
    "requests",
    "subprocess",
    "tqdm",
    "urllib3",
)


def _loaded(args: list[str], modules: tuple[str, ...]) -> list[str]:
    """Which of ``modules`` a quiet ``okdrelease ARGS`` process has loaded when it exits (it must succeed)."""
    probe = (
        "import atexit, sys\n"
        f"atexit.register(lambda: print(sorted(set({modules!r}) & set(sys.modules))))\n"
        f"sys.argv = ['okdrelease', '-q', *{args!r}]\n"
        "from okdrelease.__main__ import main\n"
        "main()\n"
    )
    done = run_python("-c", probe)
    assert (done.returncode, done.stderr) == (0, "")
    loaded: list[str] = ast.literal_eval(done.stdout.splitlines()[-1])
    return loaded


def test_new_loads_no_module_it_does_not_use(tmp_path: Path) -> None:
    """What a plain ``new`` (the README's, pushed into an OCI layout) imports is what it runs: the
    modules of signing, verification, --skip-if-unchanged and the rest stay unloaded (each costs
    every run's start-up time)."""
    args = readme_new_args(f"oci:{tmp_path / 'release'}:sample")
    assert _loaded(args, NOT_LOADED_BY_NEW) == []


#: Modules ``okdrelease new`` does not load to start (``cli.run`` imports okdrelease.cli and the
#: subcommand's module, the library behind it, before its first request): each is needed only by a
#: later stage or by some inputs, and is imported by the function that needs it. Building and pushing
#: the release image (payload.image, transport.copy and its temporary files), a component-versions
#: label or flag, the bzip2 and xz readers, the gzip writers (``gzip``; ``oci.layerwrite``, its payload
#: gzip thread: loaded when the payload tar is written), the layer-stack rules (``oci.layerstack``:
#: loaded when the first image's layer indexes are composed). The start of a cold ``new`` runs on one
#: core, before any request keeps the registry busy, so each module costs its full import time.
NOT_LOADED_TO_START_NEW = (
    "bz2",
    "gzip",
    "lzma",
    "okdrelease.oci.layerstack",
    "okdrelease.oci.layerwrite",
    "okdrelease.openshift.versions",
    "okdrelease.payload.image",
    "okdrelease.transport.copy",
    "shutil",
    "tempfile",
)


#: Modules ``okdrelease verify`` does not load to start: requests and urllib3 (with http.client and the
#: email parser: about 60 ms), loaded to read a signature store or lookaside over HTTP; PyNaCl, loaded
#: to write or open a cosign private key (signing); gpg and subprocess (signing with gpg); the
#: signature-policy rules (``sign.policy``, loaded by --policy); the persistent cache (and ISA-L), which
#: verify never opens.
NOT_LOADED_TO_START_VERIFY = (
    "email.parser",
    "http.client",
    "isal",
    "nacl",
    "okdrelease.cache",
    "okdrelease.sign.gpg",
    "okdrelease.sign.policy",
    "requests",
    "subprocess",
    "urllib3",
)


#: Modules ``okdrelease info`` and ``extract`` do not load to start: PyYAML and the go-yaml decoder built
#: on it (about 30 ms), loaded to print a number in a template (info) or to read a manifest (extract);
#: the comparison of two releases and difflib (``release.diff``, loaded by ``info --changes-from``).
NOT_LOADED_TO_START_INFO = ("difflib", "okdrelease.gocompat.goyaml", "okdrelease.release.diff", "yaml")


@pytest.mark.parametrize(
    ("command", "modules"),
    [
        ("new", NOT_LOADED_TO_START_NEW),
        ("verify", NOT_LOADED_TO_START_VERIFY),
        ("info", NOT_LOADED_TO_START_INFO),
        ("extract", NOT_LOADED_TO_START_INFO),
    ],
)
def test_a_command_starts_without_the_modules_of_later_stages(command: str, modules: tuple[str, ...]) -> None:
    """Probed without site (-S, the parent's import path): a .pth file may import some of these
    modules for itself (certifi's in some environments loads tempfile and shutil)."""
    probe = (
        "import sys\n"
        f"sys.path[:] = {[str(ROOT), *sys.path]!r}\n"
        "before = set(sys.modules)\n"
        f"import okdrelease.cli, okdrelease._cli.{command}\n"
        f"print(sorted(set({modules!r}) & (set(sys.modules) - before)))\n"
    )
    done = run_python("-S", "-c", probe)
    assert (done.returncode, done.stderr, done.stdout) == (0, "", "[]\n")


#: Modules a warm ``new`` (every manifest-check verdict and layer index in the cache, image-references
#: plain YAML or JSON) does not load: PyYAML and the readers built on it, the tar reader.
NOT_LOADED_BY_WARM_NEW = (
    "okdrelease.oci.tarwalk",
    "okdrelease.openshift.k8syaml",
    "okdrelease.payload.checkyaml",
    "tarfile",
    "yaml",
)


def test_warm_new_loads_no_yaml_and_no_tar_reader(tmp_path: Path) -> None:
    """A cold ``new`` reads the layers (with the tar walker: their plain headers need no tarfile) and
    decides manifest-check verdicts with PyYAML (the sample's image-references are plain YAML and JSON:
    read without it); the same ``new`` again with the cache it filled finds the layer indexes and
    verdicts there and loads neither the tar readers nor PyYAML."""
    args = [*readme_new_args(f"oci:{tmp_path / 'release'}:sample"), "--cache-dir", str(tmp_path / "cache")]
    assert _loaded(args, NOT_LOADED_BY_WARM_NEW) == [
        "okdrelease.oci.tarwalk",
        "okdrelease.payload.checkyaml",
        "yaml",
    ]
    assert _loaded(args, NOT_LOADED_BY_WARM_NEW) == []


def test_the_process_exit_keeps_stdout_whole_and_the_exit_code(tmp_path: Path) -> None:
    """run() ends the process without tearing it down: a payload streamed to stdout (--to-file -)
    arrives whole, exit handlers still run, and a failure keeps its exit code."""
    from okdrelease.payload.pipeline import new_release
    from okdrelease.payload.plan import NewOptions, parse_created

    args = readme_new_args("unused")
    at = args.index("--to-image")
    args[at : at + 2] = ["--to-file", "-"]
    done = subprocess.run(
        [sys.executable, "-m", "okdrelease", "-q", *args],
        cwd=ROOT,
        env=child_env(),
        capture_output=True,
        timeout=120,
    )
    assert (done.returncode, done.stderr) == (0, b"")
    layout = args[args.index("--from-oci-layout") + 1]
    expected = new_release(
        NewOptions(
            from_oci_layout=str(ROOT / layout),
            layout_repository=args[args.index("--layout-repository") + 1],
            name=args[args.index("--name") + 1],
            created=parse_created(args[args.index("--created") + 1]),
            to_file="-",
        )
    ).output
    assert expected is not None and len(expected) > io.DEFAULT_BUFFER_SIZE and done.stdout == expected
    failed = run_process("new", "--from-oci-layout", str(tmp_path / "missing"), "--to-file", "-")
    assert (failed.returncode, failed.stdout) == (1, "")
    assert failed.stderr.startswith("error: ")


def test_dependency_deprecation_is_filtered_but_okdreleases_own_warnings_are_not() -> None:
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        quiet_dependencies()
        warnings.warn_explicit(
            "DSA is deprecated and support will be removed in a future release.",
            CryptographyDeprecationWarning,
            "openpgp.py",
            318,
            module="okdrelease.sign.openpgp",
        )
        warnings.warn_explicit("our own", UserWarning, "x.py", 1, module="okdrelease.payload.build")
        warnings.warn_explicit(
            "something else is deprecated", CryptographyDeprecationWarning, "o.py", 1, module="okdrelease.x"
        )
    assert [str(w.message) for w in seen] == ["our own", "something else is deprecated"]


# --------------------------------------------------------------------------------------------
# oc's flag rules and usage errors


def test_no_parser_matches_flags_by_prefix() -> None:
    parsers = list(all_parsers(build_parser()))
    assert len(parsers) >= len(SUBCOMMANDS) + 1
    assert all(p.allow_abbrev is False for p in parsers)


@pytest.mark.parametrize(
    "argv", [["--from-image-stream", "4.16"], ["--from-image-stream=4.16"], ["4.16", "--from-image-stream"]]
)
def test_from_image_stream_is_not_an_abbreviation_and_says_what_to_use(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(capsys, "new", *argv, "--to-image", "oci:/nonexistent/x")
    assert (code, out) == (2, "")
    assert err.startswith("usage: okdrelease new ")
    assert err.splitlines()[-1] == "error: " + CLUSTER_FLAGS["--from-image-stream"]
    assert "-f/--from-image-stream-file" in err and "no such file" not in err


@pytest.mark.parametrize(
    ("argv", "prog", "flag"),
    [
        (["new", "--from-image-stream-fil", "is.yaml"], "new", "--from-image-stream-fil"),
        (["new", "--to-imag=quay.io/a/b"], "new", "--to-imag"),
        (["info", "--siz", "quay.io/a/b:1"], "info", "--siz"),
        (["extract", "--bogus", "quay.io/a/b:1"], "extract", "--bogus"),
        (["diff", "a", "b", "--build"], "diff", "--build"),
        (["keys", "generate", "--bogus"], "keys generate", "--bogus"),
        (["info", "-Z", "quay.io/a/b:1"], "info", "-Z"),
    ],
)
def test_unknown_flag_is_a_usage_error_naming_it_with_the_subcommand_usage(
    argv: list[str], prog: str, flag: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(capsys, *argv)
    assert (code, out) == (2, "")
    assert err.startswith(f"usage: okdrelease {prog} ")
    assert err.splitlines()[-1] == f"error: unknown flag: {flag}"


def test_cluster_flag_named_even_when_other_arguments_are_missing(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "info", "--kubeconfig", "/root/.kube/config")
    assert code == 2
    assert err.startswith("usage: okdrelease info ")
    assert err.splitlines()[-1] == "error: " + CLUSTER_FLAGS["--kubeconfig"]


def test_top_level_flag_error_shows_top_level_usage(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "--bogus", "info", "quay.io/a/b:1")
    assert code == 2
    assert err.startswith("usage: okdrelease [-h] [--version] [-v] [-q] [--log-format {text,json}]")
    assert err.splitlines()[-1] == "error: unknown flag: --bogus"


def test_missing_argument_shows_the_subcommand_usage(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "diff", "oci:/a")
    assert code == 2
    assert err.startswith("usage: okdrelease diff ")
    assert err.splitlines()[-1] == "error: the following arguments are required: NEW"


def test_unknown_command(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "mirror-everything")
    assert code == 2
    assert err.startswith("usage: okdrelease ")
    assert err.splitlines()[-1].startswith("error: argument COMMAND: invalid choice: 'mirror-everything'")


def test_one_error_prefix_for_parse_and_run_time_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    outcomes = [
        run_cli(capsys, "info", "--bogus", "x"),
        run_cli(capsys, "new", "--insecure=maybe"),
        run_cli(capsys, "diff", "-o", "yaml", "oci:/a", "oci:/b"),
    ]
    for code, _, err in outcomes:
        assert code == 2
        errors = [line for line in err.splitlines() if "error" in line.lower()]
        assert len(errors) == 1 and errors[0].startswith("error: "), err
    assert outcomes[1][2] == (
        'error: invalid argument "maybe" for "--insecure" flag: strconv.ParseBool: parsing "maybe": invalid syntax\n'
    )


@pytest.mark.parametrize("value", ["yes", "no", "tRuE", "FaLsE", "Yes", "on", ""])
def test_boolean_flags_take_what_go_parses(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    """oc's flags read booleans with strconv.ParseBool: yes/no and mixed case are refused in its words
    (before, okdrelease took yes, no and any case)."""
    code, out, err = run_cli(capsys, "new", f"--keep-manifest-list={value}", "--from-release", "x")
    assert (code, out) == (2, "")
    assert err.endswith(
        f'error: invalid argument "{value}" for "--keep-manifest-list" flag: '
        f'strconv.ParseBool: parsing "{value}": invalid syntax\n'
    )


@pytest.mark.parametrize(
    ("words", "verbose"),
    [
        (["-v=0"], 0),
        (["--v=3"], 1),
        (["-v=5"], 1),
        (["--loglevel=4"], 1),
        (["--loglevel", "6"], 2),
        (["--v", "10"], 2),
        (["-vv"], 2),
        (["-v"], 1),
    ],
)
def test_oc_verbosity_levels_read_as_the_v_count(words: list[str], verbose: int) -> None:
    """oc's ``-v=N``/``--loglevel=N`` (klog levels) are accepted: 1-5 trace requests, 6 and more add debug
    logs (before: ``ignored explicit argument '5'``, or ``--loglevel`` an unknown flag)."""
    argv = normalize_bool_args(normalize_loglevel_args(["info", *words, "x"]), build_parser())
    assert build_parser().parse_args(argv).verbose == verbose


@pytest.mark.parametrize(("words", "named"), [(["--loglevel=x"], "--loglevel"), (["-v=x"], "-v, --v")])
def test_oc_verbosity_level_that_is_no_number(
    words: list[str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(capsys, "info", *words, "x")
    assert (code, out) == (2, "")
    assert err.endswith(
        f'error: invalid argument "x" for "{named}" flag: strconv.ParseInt: parsing "x": invalid syntax\n'
    )


@pytest.mark.parametrize(
    ("value", "kept"), [("T", True), ("TRUE", True), ("True", True), ("F", False), ("0", False)]
)
def test_boolean_flags_take_every_spelling_go_parses(value: str, kept: bool) -> None:
    args = build_parser().parse_args(
        normalize_bool_args(["new", f"--keep-manifest-list={value}"], build_parser())
    )
    assert args.keep_manifest_list is kept


def test_flags_and_values_that_look_like_flags_still_parse() -> None:
    """Grouped short flags, ``-oVALUE``, ``-`` and everything after ``--`` are not unknown flags."""
    parser = build_parser()
    args = parser.parse_args(["info", "-qv", "-ojson", "--", "-weird-name"])
    assert (args.quiet, args.verbose, args.output, args.images) == (True, 1, "json", ["-weird-name"])
    args = parser.parse_args(
        normalize_bool_args(["new", "--to-file", "-", "--insecure=false", "-vv"], parser)
    )
    assert (args.to_file, args.insecure, args.verbose) == ("-", False, 2)


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (
            ["--timeout", "-5s"],
            'error: invalid argument "-5s" for "--timeout" flag: the duration must be positive',
        ),
        (
            ["--max-layer-bytes", "-1M"],
            "error: argument --max-layer-bytes: invalid size '-1M': "
            "use a positive number of bytes, optionally with K, M, G or T (1.5G)",
        ),
    ],
)
def test_a_signed_value_after_a_flag_is_its_value(
    words: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """pflag takes the word after a flag as its value: ``--timeout -5s`` is a refused duration, not
    ``error: unknown flag: -5s`` (argparse's reading; the CLI sweep's negative values)."""
    code, out, err = run_cli(capsys, "info", *words, "oci:/nonexistent:x")
    assert (code, out, err.splitlines()[-1]) == (2, "", expected)


def test_creds_prompt_for_a_missing_password_only_on_a_terminal() -> None:
    asked: list[str] = []

    def prompt(text: str) -> str:
        asked.append(text)
        return "typed"

    assert parse_creds("alice:s3:cret", prompt=prompt, interactive=True) == ("alice", "s3:cret")
    assert parse_creds("alice:", prompt=prompt, interactive=True) == ("alice", "")
    assert asked == []
    assert parse_creds("alice", prompt=prompt, interactive=True) == ("alice", "typed")
    assert asked == ["Password for alice: "]
    with pytest.raises(
        UsageError, match="^--src-creds alice: no password given and standard input is not a terminal"
    ):
        parse_creds("alice", flag="--src-creds", prompt=prompt, interactive=False)
    with pytest.raises(UsageError, match=r"^credentials must be USERNAME\[:PASSWORD\]$"):
        parse_creds(":pw")
    assert parse_creds(None) is None and parse_creds("") is None


def test_usage_error_as_json_when_asked(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "info", "--log-format", "json", "--siz", "x")
    assert (code, out) == (2, "")
    [line] = err.splitlines()
    event = json.loads(line)
    assert (event["event"], event["level"], event["message"]) == ("error", "error", "unknown flag: --siz")
    assert event["usage"].startswith("usage: okdrelease info ")


# --------------------------------------------------------------------------------------------
# Help texts (issue 14.2)


def option_helps() -> dict[tuple[str, str], str | None]:
    """(command, option or positional) → its help text, for every visible argument of every command."""
    helps: dict[tuple[str, str], str | None] = {}
    for parser in all_parsers(build_parser()):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction) or action.help == argparse.SUPPRESS:
                continue
            name = action.option_strings[-1] if action.option_strings else action.dest
            helps[(parser.prog, name)] = action.help
    return helps


def test_every_option_of_every_command_has_a_help_text() -> None:
    helps = option_helps()
    assert len(helps) > 200 and ("okdrelease copy", "--multi-arch") in helps
    assert sorted(key for key, text in helps.items() if not (text and text.strip())) == []


def test_help_texts_cite_no_internal_ids() -> None:
    """Quirk ids (Q6), spec sections (§11) and the spec itself mean nothing to a user."""
    internal = re.compile(r"\bQ\d+[a-z]?\b|§|\bthe spec\b|\bspec section|release-new-spec", re.I)
    citing = {key: text for key, text in option_helps().items() if text and internal.search(text)}
    assert citing == {}
    for parser in all_parsers(build_parser()):
        assert not internal.search(parser.format_help()), parser.prog


def example_lines(parser: argparse.ArgumentParser) -> list[list[str]]:
    """The command lines of ``parser``'s examples, continuation lines joined, shell redirections cut off."""
    text = (parser.epilog or "").replace("\\\n", " ")
    commands = []
    for line in text.splitlines():
        words = shlex.split(line.strip(), comments=True)
        if not words or words[0] != "okdrelease":
            continue
        cut = next((i for i, w in enumerate(words) if w[0] in "|>" or w == "||"), len(words))
        commands.append(words[1:cut])
    return commands


@pytest.mark.parametrize("words", command_paths()[1:], ids=" ".join)
def test_every_command_ends_its_help_with_examples_that_parse(words: list[str]) -> None:
    parser = build_parser()
    [sub] = [p for p in all_parsers(parser) if p.prog == " ".join(["okdrelease", *words])]
    examples = example_lines(sub)
    assert len(examples) >= 2, sub.prog
    help_text = sub.format_help()
    epilog_lines = (sub.epilog or "").splitlines()
    assert not [line for line in epilog_lines if "   " in line.strip() or len(line) > 110], "lost line breaks"
    assert re.search(r"\nexamples:\n  (# .*\n  )?okdrelease ", help_text)
    for argv in examples:
        assert argv[: len(words)] == words, argv
        args = parser.parse_args(normalize_bool_args(argv, parser))  # a usage error raises
        assert getattr(args, "func", None) is not None or words == ["keys"], argv


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (["new", "--name", "x"], "new"),
        (["-q", "--log-format", "json", "info", "img"], "info"),
        (["--log-format", "new", "info"], "info"),  # "new" is the option's value here
        (["-v", "-v", "cache", "info"], "cache"),
        (["-h", "new"], None),
        (["--version"], None),
        (["nope", "new"], None),
        ([], None),
    ],
)
def test_named_subcommand(raw: list[str], expected: str | None) -> None:
    """Only the named subcommand is registered (and imported); anything else registers them all."""
    from okdrelease.cli import named_subcommand

    assert named_subcommand(raw) == expected


#: Started as ``python -c``: okdrelease.cli.run with a main() that makes worker threads allocate (as a
#: cold ``new``'s readers do) and prints how many glibc arenas serve the process (``malloc_info``).
_ARENAS_PROBE = """
import ctypes, sys, threading
import okdrelease.cli as cli

def count_arenas():
    held = [bytearray(65536) for _ in range(4)]
    def work():
        held.extend(bytearray(65536) for _ in range(16))
    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    libc = ctypes.CDLL(None)
    libc.open_memstream.restype = ctypes.c_void_p
    buf, size = ctypes.c_char_p(), ctypes.c_size_t()
    stream = libc.open_memstream(ctypes.byref(buf), ctypes.byref(size))
    libc.malloc_info(0, ctypes.c_void_p(stream))
    libc.fclose(ctypes.c_void_p(stream))
    print(buf.value.decode().count("<heap nr="))
    return 0

cli.main = count_arenas
sys.argv = ["okdrelease"]
cli.run()
"""


@pytest.mark.skipif(not hasattr(os, "confstr") or not os.confstr("CS_GNU_LIBC_VERSION"), reason="glibc only")
def test_the_process_allocates_from_one_malloc_arena() -> None:
    """``okdrelease`` (cli.run) limits glibc to one arena before any thread starts: what worker threads
    free is reused by the main thread (a cold ``new`` of 400 images peaks 18 MiB lower). Threads that
    allocate got arenas of their own before; main() called in-process leaves the limit alone."""
    done = run_python("-c", _ARENAS_PROBE)
    assert (done.returncode, done.stderr, done.stdout) == (0, "", "1\n")


class _FakeLibc:
    """A C library for ``ctypes.CDLL(None)`` that records ``mallopt`` calls."""

    def __init__(self, calls: list[tuple[int, int]]) -> None:
        self.calls = calls

    def mallopt(self, param: int, value: int) -> int:
        self.calls.append((param, value))
        return 1


def _fake_ctypes(monkeypatch: pytest.MonkeyPatch, libc: object) -> None:
    """``import ctypes`` gives a module whose ``CDLL(None)`` is ``libc``; the C library is glibc."""
    monkeypatch.setitem(sys.modules, "ctypes", type(sys)("ctypes"))
    sys.modules["ctypes"].CDLL = lambda name: libc  # type: ignore[attr-defined]
    monkeypatch.setattr(os, "confstr", lambda name: "glibc 2.36" if name == "CS_GNU_LIBC_VERSION" else None)
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    monkeypatch.delenv("GLIBC_TUNABLES", raising=False)


@pytest.mark.parametrize(
    ("name", "value", "calls"),
    [
        (None, None, [(-8, 1)]),
        ("MALLOC_ARENA_MAX", "4", []),
        ("MALLOC_ARENA_MAX", "", []),
        ("GLIBC_TUNABLES", "glibc.malloc.tcache_count=0:glibc.malloc.arena_max=2", []),
        ("GLIBC_TUNABLES", "glibc.malloc.tcache_count=0", [(-8, 1)]),
    ],
)
def test_the_arena_limit_leaves_the_users_choice_alone(
    monkeypatch: pytest.MonkeyPatch, name: str | None, value: str | None, calls: list[tuple[int, int]]
) -> None:
    """M_ARENA_MAX is set to 1 unless the user chose the arenas (MALLOC_ARENA_MAX, or arena_max among
    GLIBC_TUNABLES): the user's setting was overridden before."""
    from okdrelease.cli import _one_malloc_arena

    made: list[tuple[int, int]] = []
    _fake_ctypes(monkeypatch, _FakeLibc(made))
    if name is not None:
        monkeypatch.setenv(name, value or "")
    _one_malloc_arena()
    assert made == calls


@pytest.mark.parametrize("missing", ["ctypes", "_ctypes", "mallopt", "confstr"])
def test_the_arena_limit_is_skipped_where_it_cannot_be_set(
    monkeypatch: pytest.MonkeyPatch, missing: str
) -> None:
    """A CPython built without ``_ctypes``, a C library without ``mallopt``, an ``os`` without
    ``confstr``: the CLI starts as it would without the limit (``import ctypes`` raised ImportError
    out of cli.run before: a traceback instead of okdrelease)."""
    from okdrelease.cli import _one_malloc_arena

    _fake_ctypes(monkeypatch, object())
    if missing in ("ctypes", "_ctypes"):
        monkeypatch.setitem(sys.modules, "ctypes", None)  # import ctypes: ImportError
    if missing == "_ctypes":
        monkeypatch.delitem(sys.modules, "ctypes")
        monkeypatch.setitem(sys.modules, "_ctypes", None)
    if missing == "confstr":
        monkeypatch.delattr(os, "confstr")
    _one_malloc_arena()


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        # as the real oc prints them (oc adm release info --insecure=... / --loglevel=... x)
        (
            ['--insecure=a"b'],
            'error: invalid argument "a\\"b" for "--insecure" flag: strconv.ParseBool: parsing "a\\"b": invalid syntax\n',
        ),
        (
            ["--insecure=a\tb"],
            'error: invalid argument "a\\tb" for "--insecure" flag: strconv.ParseBool: parsing "a\\tb": invalid syntax\n',
        ),
        (
            ["--insecure=é"],
            'error: invalid argument "é" for "--insecure" flag: strconv.ParseBool: parsing "é": invalid syntax\n',
        ),
        (  # the value as given, in package time's quoting: Go's ParseDuration does not trim (before:
            # 'invalid duration ""')
            ["--timeout=\t"],
            'error: invalid argument "\\t" for "--timeout" flag: time: invalid duration "\\x09"\n',
        ),
        (  # a byte of invalid UTF-8 (Python's surrogate escape of it) as that byte, as Go's time.quote
            # quotes it (before: the surrogate's UTF-8, "\xed\xb3\xbf")
            ["--timeout=a\udcffb"],
            'error: invalid argument "a\\xffb" for "--timeout" flag: time: invalid duration "a\\xffb"\n',
        ),
        (
            ['--loglevel=1"x'],
            'error: invalid argument "1\\"x" for "--loglevel" flag: strconv.ParseInt: parsing "1\\"x": invalid syntax\n',
        ),
    ],
)
def test_refused_flag_values_quoted_as_go_quotes_them(
    words: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """pflag and strconv quote the refused value with Go's %q (before: plain quotes around it as given)."""
    code, out, err = run_cli(capsys, "info", *words, "x")
    assert (code, out) == (2, "")
    assert err.endswith(expected)
