"""Temporary files a killed writer leaves in an OCI layout: the next run that writes into the layout
removes those whose writer is provably gone (``transport.layout.remove_abandoned``), and no other.

The writers are real processes killed with SIGKILL in the middle of a blob; the later write is the
CLI's ``copy`` into the same layout."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from imagegen import make_image

from okdrelease.cli import main as cli_main
from okdrelease.transport import layout
from okdrelease.transport.layout import LayoutRepository

ROOT = Path(__file__).resolve().parents[1]
DIGEST = "sha256:" + "ab" * 32

#: Stores one blob whose source gives 1000 bytes, says so on standard output, and then stalls.
_WRITER = """
import sys, time
from okdrelease.transport.layout import LayoutRepository

class Stalling:
    sent = False

    def read(self, size=-1):
        if not self.sent:
            self.sent = True
            return b"x" * 1000
        print("writing", flush=True)
        time.sleep(600)
        return b""

LayoutRepository(sys.argv[1], create=True).put_blob(Stalling(), sys.argv[2])
"""


def _writer(target: Path) -> subprocess.Popen[str]:
    """A process in the middle of writing a blob into ``target`` (its temporary file exists)."""
    process = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(target), DIGEST],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert process.stdout is not None and process.stdout.readline() == "writing\n"
    return process


@pytest.fixture
def writers() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait()


def _temporaries(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob(".tmp-*")}


def _copy(source: Path, target: Path, tag: str) -> None:
    assert cli_main(["copy", "-q", f"oci:{source}:src", f"oci:{target}:{tag}"]) == 0


def test_a_killed_writers_temporary_file_is_removed_by_the_next_write(
    tmp_path: Path, writers: list[subprocess.Popen[str]]
) -> None:
    """Before: every ``.tmp-*`` file a SIGKILLed copy/mirror/new left stayed in ``blobs/`` for good."""
    source, target = tmp_path / "source", tmp_path / "target"
    make_image(LayoutRepository(source, create=True), "src", seed="leftovers")
    killed = _writer(target)
    writers.append(killed)
    (killed_tmp,) = _temporaries(target)
    live = _writer(target)
    writers.append(live)
    (live_tmp,) = _temporaries(target) - {killed_tmp}
    killed.send_signal(signal.SIGKILL)
    assert killed.wait() == -signal.SIGKILL
    # Left alone whatever their age: another host's or another PID namespace's file (the dead PID
    # means nothing there), and a name that records no writer (an older version's).
    foreign = f"blobs/sha256/.tmp-{'0' * 16}-{killed.pid}-abc"
    unnamed = "blobs/sha256/.tmp-k3j2h1"
    for name in (foreign, unnamed):
        (target / name).write_bytes(b"half")
        os.utime(target / name, (0, 0))
    assert _temporaries(target) == {killed_tmp, live_tmp, foreign, unnamed}

    _copy(source, target, "first")
    assert _temporaries(target) == {live_tmp, foreign, unnamed}  # the live writer's is kept
    assert LayoutRepository(target).list_tags() == ["first"]

    live.send_signal(signal.SIGKILL)
    live.wait()
    _copy(source, target, "second")
    assert _temporaries(target) == {foreign, unnamed}
    assert not LayoutRepository(target).has_blob(DIGEST)
    # Each name records its writer: this boot and PID namespace, and its PID.
    for process, name in ((killed, killed_tmp), (live, live_tmp)):
        assert name.startswith(f"blobs/sha256/.tmp-{layout._owner()}-{process.pid}-"), name
