"""Replaying the golden cases recorded from the real oc (../shared/golden/README.md)."""

from __future__ import annotations

import json
import random
import re
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
from registry_rig import RegistryInfo, RegistryServer

from okdrelease.oci.model import Descriptor, Index
from okdrelease.reference import ImageReference
from okdrelease.transport.base import Repository, TransportOptions
from okdrelease.transport.client import RegistryClient
from okdrelease.transport.layout import LayoutRepository

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
GOLDEN = SHARED / "golden"
RECORDED_REGISTRY = "127.0.0.1:5000"


def four_digit_port() -> int:
    """A free loopback port with four digits, so the address has the recorded length."""
    rng = random.Random()
    for _ in range(200):
        port = rng.randint(1100, 9999)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free four-digit loopback port")


@attrs.frozen
class Case:
    """One golden case folder."""

    path: Path
    data: dict[str, Any]

    @property
    def name(self) -> str:
        """Folder name."""
        return self.path.name

    @property
    def kind(self) -> str:
        """image, to-dir, to-file, dry-run, json or error."""
        return str(self.data["kind"])

    @property
    def input_layouts(self) -> list[Path]:
        """Layouts to push, in order: inputs_from cases, then the case's own inputs."""
        layouts = [GOLDEN / name / "inputs" for name in self.data.get("inputs_from") or []]
        if self.data.get("has_inputs"):
            layouts.append(self.path / "inputs")
        return layouts

    @property
    def results(self) -> dict[str, Any]:
        """The recorded results."""
        return dict(self.data.get("results") or {})


def load_cases() -> list[Case]:
    """All golden cases, sorted by name."""
    return [
        Case(p, json.loads((p / "case.json").read_text()))
        for p in sorted(GOLDEN.iterdir())
        if (p / "case.json").is_file()
    ]


def push_entry(src: Repository, dst: Repository, desc: Descriptor, tag: str | None) -> None:
    """Push one layout entry byte-exact: children first, then blobs, the manifest and its tag last."""
    manifest = src.get_manifest(desc.digest)
    if isinstance(manifest, Index):
        for child in manifest.manifests:
            push_entry(src, dst, child, None)
    else:
        for blob in [manifest.config, *manifest.layers]:
            if not dst.has_blob(blob.digest):
                dst.put_blob(src.read_blob(blob.digest, blob.size), blob.digest, blob.size)
    dst.put_manifest(manifest.raw, desc.media_type, tag)


def push_layout(layout: Path, dst: Repository, skip_tags: frozenset[str] = frozenset()) -> None:
    """Push every ref name of ``layout`` to ``dst`` under the same tag."""
    src = LayoutRepository(layout)
    for desc in src.entries():
        if desc.ref_name in skip_tags:
            continue
        push_entry(src, dst, desc, desc.ref_name)


def substitute(text: str, registry: str, repo: str, case_dir: str = "", tmp: str = "") -> str:
    """Fill the placeholders of oc_args and input files."""
    return (
        text.replace("{registry}", registry)
        .replace("{repo}", repo)
        .replace("{case}", case_dir)
        .replace("{tmp}", tmp)
    )


def with_registry(data: bytes, registry: str) -> bytes:
    """Expected bytes with the recorded registry address replaced by ours (same length)."""
    assert len(registry) == len(RECORDED_REGISTRY)
    return data.replace(RECORDED_REGISTRY.encode(), registry.encode())


def strip_config_size(raw: bytes) -> bytes:
    """Config bytes without the top-level size (gzip-dependent) and the payload diff ID.

    The payload diff ID hashes a layer that embeds the registry address, so it differs from the
    recording whenever the address does; the tests compare the layer itself instead.
    """
    raw = re.sub(rb',"size":\d+,"rootfs"', b',"rootfs"', raw)
    return re.sub(rb'"sha256:[0-9a-f]{64}"\]\},"history"', b'"<payload>"]},"history"', raw)


_DESC_RE = re.compile(rb'"digest": "sha256:[0-9a-f]{64}",\n(\s+)"size": \d+')


def mask_descriptors(raw: bytes, indexes: set[int]) -> bytes:
    """Mask digest/size of the descriptors at ``indexes`` (0 = config) in a 3-space manifest."""
    count = -1

    def repl(match: re.Match[bytes]) -> bytes:
        nonlocal count
        count += 1
        if count in indexes:
            return b'"digest": "<masked>",\n' + match.group(1) + b'"size": 0'
        return match.group(0)

    return _DESC_RE.sub(repl, raw)


#: What the ``golden_registry`` session fixture yields: the registry, a client for it and
#: ``ensure_inputs(case)``, which pushes a case's input layouts once per session.
GoldenRegistry = tuple[RegistryInfo, RegistryClient, Callable[[Case], None]]


def serve_golden_registry(directory: Path) -> Iterator[GoldenRegistry]:
    """A plain-HTTP registry on a four-digit port in ``directory``; golden inputs pushed on demand."""
    server = RegistryServer(directory, flavour="http", port_picker=four_digit_port)
    info = server.start()
    client = RegistryClient(TransportOptions(insecure=True))
    pushed: set[tuple[str, Path]] = set()

    def ensure_inputs(case: Case) -> None:
        repo_name = case.data.get("input_repo") or "golden/unused"
        repo = client.repository(ImageReference.parse(f"{info.host}/{repo_name}"))
        for layout in case.input_layouts:
            if (repo_name, layout) in pushed:
                continue
            push_layout(layout, repo)
            pushed.add((repo_name, layout))

    try:
        yield info, client, ensure_inputs
    finally:
        server.stop()
