"""okdrelease in a child process with a time and memory bound, for inputs that would make a reader
wait or read without end: a regression fails the test instead of stalling or exhausting the machine."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _limit() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))


def run_bounded(*argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``python -m okdrelease ARGV`` with ``timeout`` seconds and 2 GiB of address space."""
    return _run(argv, _limit, timeout)


def _run(
    argv: tuple[str, ...], limit: Callable[[], None], timeout: float
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "okdrelease", *argv],
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        timeout=timeout,
        preexec_fn=limit,
        check=False,
    )


def run_file_size_limited(
    *argv: str, limit: int | None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``python -m okdrelease ARGV`` where a write past ``limit`` bytes of a file fails (RLIMIT_FSIZE:
    EFBIG, as a disk that fills); ``limit`` None: no limit."""

    def file_size_limit() -> None:
        if limit is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return _run(argv, file_size_limit, timeout)
