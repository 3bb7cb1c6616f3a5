#!/usr/bin/env python3
"""Benchmark ``okdrelease new`` (and ``oc adm release new`` when ``oc`` is on PATH) on a generated payload.

Usage::

    python benchmarks/bench_new.py [--small] [--runs N] [--workdir DIR]

Starts a Debian ``docker-registry`` on a free 127.0.0.1 port, generates the payload of
``generate_payload.py`` into it, then runs each tool as a subprocess pushing a release to
``HOST/bench/release:<tool>``. For every run it records wall time, CPU time and peak RSS of the child
(``os.wait4``: the child's own ``getrusage``), and, from the registry's access log lines written
during the run, the number of HTTP requests by method, the bytes the registry sent (GET responses)
and the blobs mounted across repositories. It prints a Markdown table, with okdrelease/oc ratios
when oc ran.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import generate_payload as gen  # noqa: E402

MiB = 1024 * 1024
RELEASE_NAME = "4.16.0-0.bench"
OKDRELEASE_NEW = (sys.executable, "-m", "okdrelease", "new")
#: Distribution's access log line: ``127.0.0.1 - - [date] "GET /v2/... HTTP/1.1" 200 1234 "" "agent"``.
ACCESS_LINE = re.compile(
    r'^\S+ - \S+ \[[^\]]+\] "(?P<method>[A-Z]+) (?P<uri>\S+) HTTP/[\d.]+" (?P<status>\d{3}) (?P<size>\d+|-) '
)


@dataclass(frozen=True, slots=True)
class Traffic:
    """HTTP traffic seen by the registry during one run."""

    requests: int
    by_method: dict[str, int]
    bytes_sent: int
    blob_gets: int
    blob_bytes: int
    mounts: int


@dataclass(frozen=True, slots=True)
class Run:
    """One measured run of one tool."""

    tool: str
    exit_code: int
    wall: float
    cpu: float
    max_rss_kib: int
    traffic: Traffic
    stdout: str = field(repr=False)
    stderr: str = field(repr=False)

    @property
    def digest(self) -> str:
        """The release digest printed first on stdout (empty when the run failed)."""
        words = self.stdout.split()
        return words[0] if words and words[0].startswith("sha256:") else ""


def parse_access_log(text: str) -> Traffic:
    """Count the requests of an access-log excerpt and the bytes the registry answered GETs with."""
    by_method: Counter[str] = Counter()
    sent = blob_gets = blob_bytes = mounts = 0
    for line in text.splitlines():
        match = ACCESS_LINE.match(line)
        if not match:
            continue
        method, uri, status = match["method"], match["uri"], int(match["status"])
        size = 0 if match["size"] == "-" else int(match["size"])
        by_method[method] += 1
        if method == "GET":
            sent += size
            if "/blobs/sha256:" in uri and status == 200:
                blob_gets += 1
                blob_bytes += size
        if method == "POST" and "mount=" in uri and status == 201:
            mounts += 1
    return Traffic(sum(by_method.values()), dict(by_method), sent, blob_gets, blob_bytes, mounts)


def measure(tool: str, argv: Sequence[str], log_file: Path, workdir: Path, env: dict[str, str]) -> Run:
    """Run ``argv`` as a child process and measure it and the registry traffic it caused."""
    offset = log_file.stat().st_size
    out_path, err_path = workdir / f"{tool}.stdout", workdir / f"{tool}.stderr"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        start = time.monotonic()
        child = subprocess.Popen(list(argv), stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.monotonic() - start
        child.returncode = os.waitstatus_to_exitcode(status)
    time.sleep(0.3)  # let the registry flush the last access-log lines
    with log_file.open("rb") as fh:
        fh.seek(offset)
        excerpt = fh.read().decode(errors="replace")
    return Run(
        tool=tool,
        exit_code=child.returncode,
        wall=wall,
        cpu=usage.ru_utime + usage.ru_stime,
        max_rss_kib=usage.ru_maxrss,
        traffic=parse_access_log(excerpt),
        stdout=out_path.read_text(errors="replace"),
        stderr=err_path.read_text(errors="replace"),
    )


def release_new_argv(command: Sequence[str], imagestream: Path, to_image: str) -> list[str]:
    """``command`` (okdrelease new, or oc adm release new) with the benchmark's flags."""
    return [
        *command,
        "--insecure",
        "--from-image-stream-file",
        str(imagestream),
        "--reference-mode=source",
        "--name",
        RELEASE_NAME,
        "--to-image",
        to_image,
    ]


@dataclass(frozen=True, slots=True)
class Bench:
    """Where the runs happen: the registry and its log, the payload, a scratch directory and the child env."""

    registry: str
    log_file: Path
    imagestream: Path
    workdir: Path
    env: dict[str, str] = field(repr=False)


def median_run(runs: Sequence[Run]) -> Run:
    """The run with the median wall time."""
    ordered = sorted(runs, key=lambda r: r.wall)
    return ordered[(len(ordered) - 1) // 2]


def _fmt(value: float, digits: int) -> str:
    return f"{value:,.{digits}f}"


def table(ours: Run, oc: Run | None) -> str:
    """Markdown table of the measurements, with okdrelease/oc ratios when oc ran."""
    rows: list[tuple[str, float, float | None, int]] = []

    def add(name: str, getter: Callable[[Run], float], digits: int) -> None:
        rows.append((name, getter(ours), getter(oc) if oc else None, digits))

    add("wall time (s)", lambda r: r.wall, 2)
    add("CPU time, user+sys (s)", lambda r: r.cpu, 2)
    add("peak RSS (MiB)", lambda r: r.max_rss_kib / 1024, 1)
    add("HTTP requests", lambda r: r.traffic.requests, 0)
    add("bytes fetched, all GET responses (MiB)", lambda r: r.traffic.bytes_sent / MiB, 2)
    add("blobs downloaded", lambda r: r.traffic.blob_gets, 0)
    add("blob bytes downloaded (MiB)", lambda r: r.traffic.blob_bytes / MiB, 2)
    add("cross-repository mounts", lambda r: r.traffic.mounts, 0)
    lines = ["| metric | okdrelease | oc adm release new | okdrelease / oc |", "| --- | ---: | ---: | ---: |"]
    for name, mine, theirs, digits in rows:
        other = _fmt(theirs, digits) if theirs is not None else "n/a"
        ratio = f"{mine / theirs:.2f}" if theirs else "n/a"
        lines.append(f"| {name} | {_fmt(mine, digits)} | {other} | {ratio} |")
    methods = ", ".join(f"{m} {n}" for m, n in sorted(ours.traffic.by_method.items()))
    lines.append("")
    lines.append(f"okdrelease requests by method: {methods}")
    if oc is not None:
        lines.append(
            "oc requests by method: " + ", ".join(f"{m} {n}" for m, n in sorted(oc.traffic.by_method.items()))
        )
    return "\n".join(lines)


def run_tool(bench: Bench, tool: str, command: Sequence[str], runs: int) -> Run:
    """Run one tool ``runs`` times, each into a fresh repository; fail loudly on errors; return the median run.

    Run N pushes to ``bench/release-<tool>-N:x``, so every run uploads (or mounts) the base layers
    instead of finding them in place from the previous run.
    """
    results = []
    for i in range(1, runs + 1):
        argv = release_new_argv(command, bench.imagestream, f"{bench.registry}/bench/release-{tool}-{i}:x")
        result = measure(tool, argv, bench.log_file, bench.workdir, bench.env)
        if result.exit_code != 0:
            sys.stderr.write(result.stderr)
            raise SystemExit(f"{tool} failed with exit code {result.exit_code} (run {i}): {' '.join(argv)}")
        results.append(result)
        print(f"{tool} run {i}: {result.wall:.2f} s, {result.stdout.strip()}", file=sys.stderr)
    if len(results) > 1:
        spread = statistics.pstdev(r.wall for r in results)
        print(f"{tool}: wall time spread (stdev) {spread:.2f} s over {len(results)} runs", file=sys.stderr)
    return median_run(results)


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: generate the payload, run the tools, print the table."""
    parser = argparse.ArgumentParser(
        description="Time okdrelease new (and oc adm release new) on a generated payload."
    )
    parser.add_argument("--small", action="store_true", help="a quick run on a small payload")
    parser.add_argument("--runs", type=int, default=1, help="runs per tool; the median is reported (1)")
    parser.add_argument("--workdir", type=Path, help="keep registry storage, logs and outputs here")
    args = parser.parse_args(argv)
    from registry_rig import RegistryServer

    scale = gen.SMALL_SCALE if args.small else gen.DEFAULT_SCALE
    with tempfile.TemporaryDirectory(prefix="okdrelease-bench-") as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(gen.ROOT), env.get("PYTHONPATH")]))
        with RegistryServer(workdir / "registry", flavour="http") as info:
            payload = gen.generate(info.host, workdir, scale)
            print(f"payload: {gen.describe(payload)}", file=sys.stderr)
            bench = Bench(info.host, info.log_file, payload.imagestream, workdir, env)
            ours = run_tool(bench, "okdrelease", OKDRELEASE_NEW, args.runs)
            oc_path = shutil.which("oc")
            theirs = None
            if oc_path is None:
                print("oc: not found on PATH")
            else:
                theirs = run_tool(bench, "oc", [oc_path, "adm", "release", "new"], args.runs)
        cores = os.cpu_count()
        print(f"Payload: {gen.describe(payload)}; {cores} CPUs; release {RELEASE_NAME}")
        print(f"okdrelease: {ours.digest}" + (f", oc: {theirs.digest}" if theirs else ""))
        print()
        print(table(ours, theirs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
