#!/usr/bin/env python3
"""The fetch-only bound: only the GETs a release build cannot avoid, with urllib3 and N threads.

For every image of an ImageStream file: GET its manifest, then its config; an image labelled
``io.openshift.release.operator=true`` also has its top layer (where ``manifests/`` lives) read to
the end. ``--every-layer`` reads every image's top layer, operator or not: three GETs per image, as
issue 9 counted its bound ("the 543 GETs that must happen" for 181 images); more than a build needs. Nothing is decompressed, checked or pushed: it is the floor any tool sits on, run as a child
by ``bench.py`` so its wall time, CPU and RSS are measured the same way as the tools'.

Usage: ``python benchmarks/fetch_bound.py IMAGESTREAM.json [--threads 16] [--every-layer]`` (plain HTTP
registries).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import urllib3

ACCEPT = ", ".join(
    (
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    )
)
OPERATOR_LABEL = "io.openshift.release.operator"


def _get(pool: urllib3.PoolManager, url: str, headers: dict[str, str] | None = None) -> bytes:
    response = pool.request("GET", url, headers=headers, preload_content=True)
    if response.status != 200:
        raise SystemExit(f"GET {url}: HTTP {response.status}")
    return bytes(response.data)


def fetch_image(pool: urllib3.PoolManager, pullspec: str, every_layer: bool = False) -> int:
    """Fetch what a release build must read of one ``host/repo@digest`` image (``every_layer``: its top
    layer even when it is no operator); return the GET count."""
    host, _, rest = pullspec.partition("/")
    repo, _, digest = rest.partition("@")
    base = f"http://{host}/v2/{repo}"
    manifest = json.loads(_get(pool, f"{base}/manifests/{digest}", {"Accept": ACCEPT}))
    config = json.loads(_get(pool, f"{base}/blobs/{manifest['config']['digest']}"))
    labels = (config.get("config") or {}).get("Labels") or {}
    if labels.get(OPERATOR_LABEL) != "true" and not every_layer:
        return 2
    _get(pool, f"{base}/blobs/{manifest['layers'][-1]['digest']}")
    return 3


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: fetch every image of the ImageStream file with ``--threads`` workers; print the GET count."""
    parser = argparse.ArgumentParser(description="Fetch-only bound for a release build.")
    parser.add_argument("imagestream", type=Path)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument(
        "--every-layer",
        action="store_true",
        help="read every image's top layer (issue 9's count of its bound)",
    )
    args = parser.parse_args(argv)
    stream = json.loads(args.imagestream.read_text())
    pullspecs = [tag["from"]["name"] for tag in stream["spec"]["tags"]]
    pool = urllib3.PoolManager(maxsize=args.threads, retries=False)
    with ThreadPoolExecutor(max_workers=args.threads) as workers:
        gets = sum(workers.map(lambda spec: fetch_image(pool, spec, args.every_layer), pullspecs))
    print(f"{gets} GETs for {len(pullspecs)} images")
    return 0


if __name__ == "__main__":
    sys.exit(main())
