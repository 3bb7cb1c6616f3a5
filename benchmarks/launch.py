#!/usr/bin/env python3
"""Run a command and write its own resource usage as JSON: ``launch.py OUT.json CMD [ARG...]``.

On Linux a child's peak RSS (``ru_maxrss``) starts at its parent's resident size at fork, so a child
started straight from the benchmark runner (which holds the generated payload) would report at least
the runner's size. This small launcher forks the measured command from a fresh, small process and
reports the command's ``wait4`` usage: wall time, user and system CPU, peak RSS (KiB), exit code.

With ``BENCH_CPUS`` set (a comma list of CPU numbers) the command runs on those CPUs only: the
``pinned`` mode keeps the measured tool off the registry's cores. The variable is not passed on.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time


def main() -> int:
    """Run ``sys.argv[2:]``, write ``sys.argv[1]``, exit with the command's exit code."""
    out, argv = sys.argv[1], sys.argv[2:]
    cpus = os.environ.pop("BENCH_CPUS", "")
    if cpus:
        os.sched_setaffinity(0, {int(cpu) for cpu in cpus.split(",")})  # the child inherits it
    start = time.monotonic()
    child = subprocess.Popen(argv)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.monotonic() - start
    code = os.waitstatus_to_exitcode(status)
    with open(out, "w") as fh:
        json.dump(
            {
                "wall": wall,
                "utime": usage.ru_utime,
                "stime": usage.ru_stime,
                "maxrss_kib": usage.ru_maxrss,
                "code": code,
            },
            fh,
        )
    return code


if __name__ == "__main__":
    sys.exit(main())
