"""okdrelease in a child process with a time and memory bound, for inputs that would make a reader
wait or read without end: a regression fails the test instead of stalling or exhausting the machine."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _limit() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))


def run_bounded(*argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``python -m okdrelease ARGV`` with ``timeout`` seconds and 2 GiB of address space."""
    return subprocess.run(
        [sys.executable, "-m", "okdrelease", *argv],
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        timeout=timeout,
        preexec_fn=_limit,
        check=False,
    )
