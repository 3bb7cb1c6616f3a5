"""Per-layer indexes: composing indexes gives the layer-stack view; each layer scanned once; persistent."""

from __future__ import annotations

import functools
import io
import threading
from pathlib import Path
from typing import IO

import pytest

from okdrelease.cache import LAYER_INDEX, Cache, pack
from okdrelease.errors import DigestMismatchError
from okdrelease.images.resolve import Resolver
from okdrelease.oci.digest import VerifyingReader, sha256_digest
from okdrelease.oci.layerindex import LayerIndex, compose, load_index, scan_layer
from okdrelease.oci.layerstack import extract_prefix
from okdrelease.oci.layerwrite import TarEntry, compress_gzip, write_tar
from okdrelease.oci.model import Descriptor

GOLDEN = Path(__file__).resolve().parents[1].parent / "shared" / "golden"


def _tar(entries: list[TarEntry]) -> bytes:
    out = io.BytesIO()
    write_tar(entries, out)
    return compress_gzip(out.getvalue())


BOTTOM = _tar(
    [
        TarEntry("manifests", type="dir", mode=0o755, mtime=1),
        TarEntry("manifests/keep.yaml", b"keep-1", mtime=1),
        TarEntry("manifests/gone.yaml", b"gone", mtime=1),
        TarEntry("manifests/dir/one.yaml", b"one", mtime=1),
        TarEntry("manifests/tree/deep/x.yaml", b"x", mtime=1),
        TarEntry("manifests/becomes-dir", b"file", mtime=1),
        TarEntry("manifests/link.yaml", type="symlink", linkname="keep.yaml", mode=0o777),
        TarEntry("usr/bin/tool", b"binary" * 1000),
    ]
)
MIDDLE = _tar(
    [
        TarEntry("manifests/.wh.gone.yaml", mtime=2),
        TarEntry("manifests/.wh.tree", mtime=2),
        TarEntry("manifests/dir/three.yaml", b"three", mtime=2),
        TarEntry("manifests/dir/.wh..wh..opq", mtime=2),
        TarEntry("manifests/becomes-dir/inner.yaml", b"inner", mtime=2.5),
        TarEntry("manifests/.wh..wh.plnk", b"aufs metadata", mtime=2),
    ]
)
TOP = _tar(
    [
        TarEntry("manifests/dir/.wh.three.yaml", mtime=3),
        TarEntry("manifests/dir/four.yaml", b"four", mtime=3),
        TarEntry("manifests/keep.yaml", b"keep-3", mtime=3),
    ]
)
BLOBS = {sha256_digest(b): b for b in (BOTTOM, MIDDLE, TOP)}
STACK = [sha256_digest(b) for b in (BOTTOM, MIDDLE, TOP)]


class _Repo:
    """Serves verifying streams over BLOBS and counts the opens per digest."""

    display = "test/repo"

    def __init__(self) -> None:
        self.opened: dict[str, int] = {}
        self._lock = threading.Lock()

    def open_blob(self, digest: str, size: int | None = None) -> IO[bytes]:
        with self._lock:
            self.opened[digest] = self.opened.get(digest, 0) + 1
        return VerifyingReader(io.BytesIO(BLOBS[digest]), digest, f"blob {digest}")  # type: ignore[return-value]


def _files(resolver: Resolver, repo: _Repo, stack: list[str]) -> dict[str, object]:
    descs = [Descriptor("application/vnd.oci.image.layer.v1.tar+gzip", d, len(BLOBS[d])) for d in stack]
    return compose(resolver.layer_index(repo, d, "manifests/") for d in descs)  # type: ignore[arg-type]


def _resolver(store: Cache | None = None) -> Resolver:
    return Resolver(store=store)


@pytest.mark.parametrize("stack", [STACK, STACK[:1], STACK[1:], STACK[::-1], STACK[2:]])
def test_composed_indexes_equal_reading_the_layers(stack: list[str]) -> None:
    expected = extract_prefix([io.BytesIO(BLOBS[d]) for d in stack], "manifests/")
    indexes = [scan_layer(io.BytesIO(BLOBS[d]), d, "manifests/") for d in stack]
    assert compose(indexes) == expected


def test_index_keeps_only_the_prefix_and_round_trips() -> None:
    index = scan_layer(io.BytesIO(BOTTOM), STACK[0], "manifests/")
    assert [e.path for e in index.entries] == [
        "keep.yaml",
        "gone.yaml",
        "dir/one.yaml",
        "tree/deep/x.yaml",
        "becomes-dir",
        "link.yaml",
    ]
    assert index.entries[0].read() == b"keep-1" and index.entries[5].linkname == "keep.yaml"
    again = LayerIndex.from_bytes(index.to_bytes())
    assert (again.digest, again.prefix, again.to_bytes()) == (index.digest, index.prefix, index.to_bytes())
    assert [(e.path, e.type, e.mode, e.mtime, e.size) for e in again.entries] == [
        (e.path, e.type, e.mode, e.mtime, e.size) for e in index.entries
    ]
    with pytest.raises(ValueError):
        LayerIndex.from_bytes(index.to_bytes() + b"x")


def test_golden_override_stacks() -> None:
    from okdrelease.transport.layout import LayoutRepository

    with_files = 0
    for case in ("06-overrides-by-tag", "16a-oci-inputs"):
        repo = LayoutRepository(GOLDEN / case / "inputs")
        for ref in repo.list_tags():
            manifest = repo.get_manifest(ref)
            layers = getattr(manifest, "layers", [])
            expected = extract_prefix([repo.open_blob(d.digest, d.size) for d in layers], "manifests/")
            got = compose(
                load_index(None, d.digest, "manifests/", functools.partial(repo.open_blob, d.digest, d.size))
                for d in layers
            )
            assert got == expected, ref
            with_files += bool(expected)
    assert with_files >= 5


def test_each_layer_scanned_once_while_others_wait() -> None:
    resolver = _resolver()
    repo = _Repo()
    results: list[object] = []
    barrier = threading.Barrier(8)

    def work() -> None:
        barrier.wait()
        results.append(_files(resolver, repo, STACK))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert repo.opened == {d: 1 for d in STACK}
    assert all(r == results[0] for r in results) and len(results) == 8
    assert results[0] == extract_prefix([io.BytesIO(BLOBS[d]) for d in STACK], "manifests/")


def test_bad_layer_digest_fails_and_is_not_stored(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    bad = "sha256:" + "0" * 64
    BLOBS[bad] = TOP
    try:
        for _ in range(2):
            with pytest.raises(DigestMismatchError):
                load_index(cache, bad, "manifests/", lambda: _Repo().open_blob(bad))
        assert cache.info().kinds[1].entries == 0
    finally:
        del BLOBS[bad]


def test_persistent_cache_skips_the_layer_and_damage_is_rescanned(tmp_path: Path) -> None:
    with Cache(tmp_path) as first:
        expected = _files(_resolver(first), _Repo(), STACK)
    again = _Repo()
    with Cache(tmp_path) as second:
        assert _files(_resolver(second), again, STACK) == expected
    assert again.opened == {}
    (written,) = (tmp_path / "v2" / "packs").glob("*.pack")
    data = bytearray(written.read_bytes())
    for row in pack.read_rows(str(written)):
        if row.kind == LAYER_INDEX:
            data[row.offset + row.length - 1] ^= 0x20
    written.write_bytes(bytes(data))
    rescanned = _Repo()
    with Cache(tmp_path) as third_cache:
        assert _files(_resolver(third_cache), rescanned, STACK) == expected
    assert rescanned.opened == {d: 1 for d in STACK}
    assert third_cache.stats.dropped == 3
