"""Command line: ``python -m tests.differential --seeds N [--start S] [--jobs J] [--check new,info,...]``."""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from .harness import ALL_CHECKS, SeedReport, run_seed
from .runner import Session, clean, oc_binary, scratch_dir

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from registry_rig import RegistryServer  # noqa: E402


def report(result: SeedReport, out: list[str]) -> None:
    """Append ``result``'s differences to ``out``."""
    for diff in result.differences:
        out.append(f"--- seed {result.seed} [{diff.area}] ({result.summary})")
        out.append(diff.detail)


def main(argv: list[str] | None = None) -> int:
    """Run the seeds; print differences; 1 if any."""
    parser = argparse.ArgumentParser(prog="python -m tests.differential")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--check", default=",".join(ALL_CHECKS), help="areas to compare")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    parser.add_argument(
        "--jobs", type=int, default=1, help="run the seeds in J processes (ranges), each with its registry"
    )
    args = parser.parse_args(argv)
    if args.jobs > 1:
        return _split(args)
    oc = oc_binary()
    if oc is None:
        print("../shared/tools/oc/oc not found", file=sys.stderr)
        return 2
    checks = tuple(args.check.split(","))
    # A terminated run still stops its registry (the ``with`` below) and removes its scratch files.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    scratch = scratch_dir(None)
    try:
        found = _run(args, oc, checks, scratch)
    finally:
        if not args.keep:
            clean(scratch)
    return found


def _split(args: argparse.Namespace) -> int:
    """Run the seeds as ``--jobs`` consecutive ranges in child processes; print each one's report as it ends."""
    started = time.monotonic()
    jobs = min(args.jobs, args.seeds)
    bounds = [args.start + args.seeds * k // jobs for k in range(jobs + 1)]
    children = []
    for first, end in zip(bounds, bounds[1:], strict=False):
        argv = [
            sys.executable,
            "-m",
            "tests.differential",
            "--start",
            str(first),
            "--seeds",
            str(end - first),
        ]
        argv += ["--check", args.check] + (["--keep"] if args.keep else [])
        children.append(subprocess.Popen(argv, stdout=subprocess.PIPE, text=True))  # noqa: S603 - ourselves
    codes = []
    for child in children:
        out, _ = child.communicate()
        print(out, end="", flush=True)
        codes.append(child.returncode)
    print(f"{args.seeds} seeds in {jobs} jobs in {time.monotonic() - started:.0f}s; exit codes {codes}")
    return max(codes)


def _run(args: argparse.Namespace, oc: str, checks: tuple[str, ...], scratch: Path) -> int:
    """Start a registry and run the seeds in it."""
    totals: Counter[str] = Counter()
    areas: Counter[str] = Counter()
    lines: list[str] = []
    failing: list[int] = []
    started = time.monotonic()
    with RegistryServer(scratch / "registry", flavour="http") as info:
        session = Session(info.host, oc, scratch)
        for seed in range(args.start, args.start + args.seeds):
            result = run_seed(session, seed, checks)
            totals.update(result.applied)
            areas.update(d.area for d in result.differences)
            print(f"seed {seed}: oc exit {result.oc_code}, {len(result.differences)} differences", flush=True)
            if result.differences:
                failing.append(seed)
                report(result, lines)
                print("\n".join(lines[-2 * len(result.differences) :]), flush=True)
            if not args.keep:
                clean(scratch / f"seed-{seed}")
    print(
        f"{args.seeds} seeds ({args.start}..{args.start + args.seeds - 1}) in {time.monotonic() - started:.0f}s; "
        f"{len(failing)} with differences {failing}; by area {dict(areas)}; "
        f"documented deviations applied {dict(totals)}"
    )
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main())
