#!/usr/bin/env python3
"""Time every installed gzip reader of ``okdrelease.oci.decompress`` on a layer-like stream.

Usage: ``python benchmarks/decompress_bench.py [--mib 40] [--rounds 5]``. The input is ``--mib`` MiB of
seeded hex text (about 2:1 gzip, like the benchmark's base layers) compressed at level 6 and read
back in 64 KiB reads; the best of ``--rounds`` is printed per reader, fastest first.
"""

from __future__ import annotations

import argparse
import gzip
import io
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from okdrelease.oci import decompress  # noqa: E402


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: print seconds and MiB/s of each gzip reader."""
    parser = argparse.ArgumentParser(description="Compare the installed gzip readers.")
    parser.add_argument("--mib", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    rng = random.Random(9)
    raw = b"".join(rng.randbytes(32768).hex().encode() for _ in range(args.mib * 16))
    blob = gzip.compress(raw, 6, mtime=0)
    best: dict[str, float] = {}
    for _ in range(args.rounds):
        for name in decompress.gzip_backends():
            start = time.perf_counter()
            reader = decompress.gzip_reader(io.BytesIO(blob), backend=name)
            size = 0
            while chunk := reader.read(1 << 16):
                size += len(chunk)
            if size != len(raw):
                raise SystemExit(f"{name}: read {size} bytes, expected {len(raw)}")
            best[name] = min(best.get(name, 1e9), time.perf_counter() - start)
    print(
        f"{len(raw) / 2**20:.0f} MiB tar, {len(blob) / 2**20:.1f} MiB gzip; in use: {decompress.GZIP_BACKEND}"
    )
    for name, seconds in sorted(best.items(), key=lambda item: item[1]):
        print(f"{name:8} {seconds:6.3f} s {len(raw) / seconds / 2**20:7.0f} MiB/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
