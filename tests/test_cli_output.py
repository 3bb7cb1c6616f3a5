"""Results written to a standard output that cannot take them: a clear error (a full device) or a quiet
end (a reader that went away), never a traceback or an internal error."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_cli import ROOT, child_env, run_python

SAMPLE = ROOT / "testdata" / "sample-payload"
FULL = "error: cannot write to standard output: No space left on device\n"


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> str:
    target = f"oci:{tmp_path_factory.mktemp('out') / 'rel'}:x"
    done = _run(["new", "--from-oci-layout", str(SAMPLE), "--name", "4.16.1", "--to-image", target])
    assert done.returncode == 0, done.stderr
    return target


def _run(argv: list[str], stdout: int | None = subprocess.DEVNULL) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "okdrelease", *argv],
        cwd=ROOT,
        env=child_env(),
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        timeout=120,
        check=False,
    )


def _to_full(argv: list[str]) -> subprocess.CompletedProcess[str]:
    with Path("/dev/full").open("w") as full:
        return _run(argv, stdout=full.fileno())


def _to_closed_pipe(argv: list[str]) -> subprocess.CompletedProcess[str]:
    read, write = os.pipe()
    os.close(read)
    try:
        return _run(argv, stdout=write)
    finally:
        os.close(write)


@pytest.mark.parametrize(
    "argv",
    [
        ["--version"],
        ["new", "--help"],
        ["info", "{release}"],
        ["info", "-o", "json", "{release}"],
        ["info", "--contents", "{release}"],
        ["diff", "{release}", "{release}"],
        ["extract", "--file", "image-references", "{release}"],
    ],
)
def test_full_device_is_a_clear_error(argv: list[str], release: str) -> None:
    done = _to_full([a.replace("{release}", release) for a in argv])
    assert (done.returncode, done.stderr) == (1, FULL)


@pytest.mark.parametrize(
    "argv", [["--version"], ["info", "--contents", "{release}"], ["info", "-o", "json", "{release}"]]
)
def test_reader_gone_ends_quietly(argv: list[str], release: str) -> None:
    done = _to_closed_pipe([a.replace("{release}", release) for a in argv])
    assert (done.returncode, done.stderr) == (1, "")


def test_ctrl_c_while_the_modules_load_ends_without_a_traceback() -> None:
    """A Ctrl-C before the command runs (here: while okdrelease.cli is imported) is worded as one during
    it: ``error: interrupted``, exit 130 (before: a Python traceback, exit 1)."""
    code = (
        "import builtins\n"
        "import okdrelease.__main__ as entry\n"
        "real = builtins.__import__\n"
        "def interrupted(name, *args, **kwargs):\n"
        "    if name == 'okdrelease.cli':\n"
        "        raise KeyboardInterrupt\n"
        "    return real(name, *args, **kwargs)\n"
        "builtins.__import__ = interrupted\n"
        "entry.main()\n"
    )
    done = run_python("-c", code, "info", "x")
    assert (done.returncode, done.stdout, done.stderr) == (130, "", "error: interrupted\n")


def test_a_standard_error_that_cannot_be_written_does_not_stop_the_command(tmp_path: Path) -> None:
    """``2> /dev/full``: the first progress line failed, the run became an internal error that could
    not be shown either, and the copy was undone (exit 1, nothing written; the CLI sweep). Lines that
    cannot be shown are dropped now: the copy is made and its digest printed; a failing run still
    exits 1."""
    env = child_env()
    for argv, code in (
        (["copy", f"oci:{SAMPLE}:cli", f"oci:{tmp_path / 'copy'}:cli"], 0),
        (["info", "nope::x"], 1),
    ):
        with open("/dev/full", "w") as full:
            done = subprocess.run(
                [sys.executable, "-m", "okdrelease", *argv],
                stdout=subprocess.PIPE,
                stderr=full,
                env=env,
                timeout=120,
            )
        assert (argv[0], done.returncode) == (argv[0], code)
    assert (tmp_path / "copy" / "index.json").is_file()
