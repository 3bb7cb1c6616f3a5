"""Layer reading and writing: decompression by magic, name cleaning, whiteouts, golden operator layers, memory."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import json
import lzma
import sys
import tarfile
import threading
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, BinaryIO, cast

import pytest
import zstandard

from okdrelease.errors import DigestMismatchError, LayerError
from okdrelease.oci import mediatypes as mt
from okdrelease.oci.digest import sha256_digest
from okdrelease.oci.layerread import LayerEntry, clean_name, open_layer, read_entries
from okdrelease.oci.layerstack import FileEntry, extract_prefix, read_stack, read_top_down
from okdrelease.oci.layerwrite import (
    PAYLOAD_GZIP_LEVEL,
    LayerBuilder,
    PayloadGzip,
    TarEntry,
    build_layer,
    compress_gzip,
    compress_payload,
    gzip_stream,
    write_tar,
)
from okdrelease.oci.model import Manifest
from okdrelease.transport.layout import LayoutRepository

GOLDEN = Path(__file__).resolve().parents[1].parent / "shared" / "golden"


def tar_bytes(entries: list[TarEntry]) -> bytes:
    """A PAX tar of ``entries``."""
    out = io.BytesIO()
    write_tar(entries, out)
    return out.getvalue()


def opener(data: bytes) -> Callable[[], IO[bytes]]:
    """An opener returning a fresh stream over ``data``."""
    return lambda: io.BytesIO(data)


def layer_files(files: dict[str, FileEntry]) -> dict[str, bytes]:
    """path → data of the regular files."""
    return {path: entry.data for path, entry in files.items() if entry.is_file}


SAMPLE = [
    TarEntry("manifests", type="dir", mode=0o755, mtime=100),
    TarEntry("manifests/a.yaml", b"kind: A\n", mtime=101),
    TarEntry("manifests/sub/b.yaml", b"kind: B\n", mode=0o600, mtime=102.5),
    TarEntry("usr/bin/tool", b"\x7fELF" + bytes(300), mode=0o755, mtime=103),
]


# --------------------------------------------------------------------------------------------
# Decompression


@pytest.mark.parametrize(
    ("compression", "compress"),
    [
        ("gzip", compress_gzip),
        ("zstd", lambda data: zstandard.ZstdCompressor().compress(data)),
        ("bzip2", bz2.compress),
        ("xz", lzma.compress),
        ("none", lambda data: data),
    ],
)
def test_open_layer_detects_compression_by_magic(
    compression: str, compress: Callable[[bytes], bytes]
) -> None:
    raw = tar_bytes(SAMPLE)
    # The media type is only a hint: a wrong one does not change what the magic bytes say.
    decoded = open_layer(io.BytesIO(compress(raw)), mt.OCI_LAYER_GZIP, name="sha256:x")
    assert getattr(decoded, "compression") == compression  # noqa: B009
    assert decoded.read() == raw
    entries = [(e.path, e.type, e.mode, e.mtime, e.size) for e in read_entries(io.BytesIO(compress(raw)))]
    assert entries == [
        ("manifests", "dir", 0o755, 100.0, 0),
        ("manifests/a.yaml", "file", 0o644, 101.0, 8),
        ("manifests/sub/b.yaml", "file", 0o600, 102.5, 8),
        ("usr/bin/tool", "file", 0o755, 103.0, 304),
    ]


def test_zstd_multiple_frames_are_read_across() -> None:
    raw = tar_bytes(SAMPLE)
    half = len(raw) // 2
    data = zstandard.ZstdCompressor().compress(raw[:half]) + zstandard.ZstdCompressor().compress(raw[half:])
    assert layer_files(extract_prefix([opener(data)], "manifests/")) == {
        "a.yaml": b"kind: A\n",
        "sub/b.yaml": b"kind: B\n",
    }


def test_zstd_without_the_package_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "zstandard", None)
    data = zstandard.ZstdCompressor().compress(tar_bytes(SAMPLE))
    with pytest.raises(LayerError) as err:
        open_layer(io.BytesIO(data), name="sha256:abc")
    assert str(err.value) == (
        "layer sha256:abc is zstd-compressed; install zstandard to read it: pip install okdrelease[zstd]"
    )


def test_empty_blob_is_an_empty_layer() -> None:
    assert read_entries(io.BytesIO(b"")) == []
    assert extract_prefix([opener(b""), opener(compress_gzip(b""))], "manifests/") == {}


def test_corrupt_gzip_names_the_layer() -> None:
    good = compress_gzip(tar_bytes(SAMPLE))
    corrupt = good[:20] + bytes(b ^ 0xFF for b in good[20:60]) + good[60:]
    digest = sha256_digest(corrupt)
    with pytest.raises(LayerError, match=rf"^unable to read layer {digest}: "):
        extract_prefix([opener(good), opener(corrupt)], "manifests/", names=["sha256:good", digest])
    truncated = good[: len(good) // 2]
    with pytest.raises(LayerError, match=r"^unable to read layer sha256:trunc: Compressed file ended"):
        read_entries(io.BytesIO(truncated), name="sha256:trunc")
    with pytest.raises(LayerError, match=r"^unable to read layer: "):
        extract_prefix([opener(b"\x1f\x8bnot really gzip at all" * 30)], "manifests/")


def test_garbage_that_is_not_a_tar_is_a_layer_error() -> None:
    with pytest.raises(LayerError, match=r"^unable to read layer sha256:junk: "):
        read_entries(io.BytesIO(b"this is not a tar archive" * 100), name="sha256:junk")


def test_verifying_stream_is_drained_so_a_bad_digest_is_caught(tmp_path: Path) -> None:
    repo = LayoutRepository(tmp_path / "l", create=True)
    blob = compress_gzip(tar_bytes(SAMPLE))
    digest = sha256_digest(blob)
    repo.put_blob(blob, digest)
    # Extra bytes after the gzip stream's zero padding change the digest but not the tar.
    Path(repo.blob_path(digest)).write_bytes(blob + bytes(512))
    with pytest.raises(DigestMismatchError, match=digest):
        extract_prefix([lambda: repo.open_blob(digest)], "manifests/")


# --------------------------------------------------------------------------------------------
# Entries


def test_names_are_cleaned_like_go_path_clean() -> None:
    assert clean_name("./manifests/a") == "manifests/a"
    assert clean_name("manifests/") == "manifests"
    assert clean_name("manifests//x/./y/../z") == "manifests/x/z"
    assert clean_name("//manifests/a") == "/manifests/a"
    assert clean_name("../a") == "../a"
    assert clean_name("") == "."
    raw = tar_bytes(
        [
            TarEntry("./manifests", type="dir", mode=0o755),
            TarEntry("./manifests/a.yaml", b"a"),
            TarEntry("/manifests/absolute.yaml", b"abs"),
            TarEntry("manifests/../escape.yaml", b"esc"),
            TarEntry("manifests/../../up.yaml", b"up"),
            TarEntry("manifestsX/b.yaml", b"b"),
            TarEntry("manifests//c//d.yaml", b"d"),
            TarEntry("manifests/link", type="symlink", linkname="a.yaml", mode=0o777),
            TarEntry("manifests/hard", type="hardlink", linkname="./manifests/a.yaml"),
        ]
    )
    got = [(e.path, e.type, e.linkname) for e in read_entries(io.BytesIO(raw), "manifests/")]
    assert got == [
        ("a.yaml", "file", ""),
        ("c/d.yaml", "file", ""),
        ("link", "symlink", "a.yaml"),
        ("hard", "hardlink", "a.yaml"),
    ]
    everything = [e.path for e in read_entries(io.BytesIO(raw))]
    assert everything == [
        "manifests",
        "manifests/a.yaml",
        "/manifests/absolute.yaml",
        "escape.yaml",
        "../up.yaml",
        "manifestsX/b.yaml",
        "manifests/c/d.yaml",
        "manifests/link",
        "manifests/hard",
    ]


def test_a_streamed_entry_is_readable_only_while_current() -> None:
    """A stack read hands its hook (``extract``'s safety checks) the entries as the tar is streamed:
    each one's data can be read only until the next entry."""
    entries: list[LayerEntry] = []
    stale: list[str] = []

    def hook(entry: LayerEntry, _layer: str | None) -> None:
        if entries:
            with pytest.raises(LayerError) as err:
                entries[-1].read()
            stale.append(str(err.value))
        entries.append(entry)

    files = read_stack([opener(compress_gzip(tar_bytes(SAMPLE)))], "manifests/", on_entry=hook)
    assert layer_files(files) == {"a.yaml": b"kind: A\n", "sub/b.yaml": b"kind: B\n"}
    assert stale == ["tar entry a.yaml can only be read before the next entry"]


# --------------------------------------------------------------------------------------------
# Whiteouts


def test_whiteouts_across_three_layers() -> None:
    bottom = tar_bytes(
        [
            TarEntry("manifests", type="dir", mode=0o755, mtime=1),
            TarEntry("manifests/keep.yaml", b"keep-1", mtime=1),
            TarEntry("manifests/gone.yaml", b"gone", mtime=1),
            TarEntry("manifests/replaced.yaml", b"old", mtime=1),
            TarEntry("manifests/dir", type="dir", mode=0o755, mtime=1),
            TarEntry("manifests/dir/one.yaml", b"one", mtime=1),
            TarEntry("manifests/dir/two.yaml", b"two", mtime=1),
            TarEntry("manifests/tree/deep/x.yaml", b"x", mtime=1),
            TarEntry("manifests/becomes-dir", b"file", mtime=1),
            TarEntry("manifests/link.yaml", type="symlink", linkname="keep.yaml", mode=0o777),
        ]
    )
    middle = tar_bytes(
        [
            TarEntry("manifests/.wh.gone.yaml", mtime=2),
            TarEntry("manifests/.wh.tree", mtime=2),
            TarEntry("manifests/replaced.yaml", b"new", mtime=2.25),
            # The opaque marker comes after the layer's own entry: it still hides only lower ones.
            TarEntry("manifests/dir/three.yaml", b"three", mtime=2),
            TarEntry("manifests/dir/.wh..wh..opq", mtime=2),
            TarEntry("manifests/.wh..wh.plnk", b"aufs metadata", mtime=2),
            TarEntry("manifests/becomes-dir/inner.yaml", b"inner", mtime=2),
            TarEntry("manifests/added.yaml", b"added", mtime=2),
            # oc applies a layer in order (docker's applier): a whiteout also removes its own
            # layer's earlier entry (differential seed 184 against the real oc)
            TarEntry("manifests/.wh.added.yaml", mtime=2),
            TarEntry("manifests/readded.yaml", b"old", mtime=2),
            TarEntry("manifests/.wh.readded.yaml", mtime=2),
            TarEntry("manifests/readded.yaml", b"back", mtime=2),
        ]
    )
    top = tar_bytes(
        [
            TarEntry("manifests/dir/.wh.three.yaml", mtime=3),
            TarEntry("manifests/dir/four.yaml", b"four", mtime=3),
            TarEntry("manifests/.wh.link.yaml", mtime=3),
            TarEntry("manifests/fifo", type="symlink", linkname="/dev/null"),
        ]
    )
    layers = [opener(compress_gzip(bottom)), opener(zstandard.ZstdCompressor().compress(middle)), opener(top)]
    files = extract_prefix(layers, "manifests/")
    assert layer_files(files) == {
        "keep.yaml": b"keep-1",
        "replaced.yaml": b"new",
        "dir/four.yaml": b"four",
        "becomes-dir/inner.yaml": b"inner",
        "readded.yaml": b"back",
    }
    assert sorted(p for p, e in files.items() if e.is_dir) == ["dir"]
    assert files["replaced.yaml"] == FileEntry("replaced.yaml", b"new", 2.25, 0o644)
    assert files["dir"].mode == 0o755 and files["dir"].mtime == 1.0


def test_opaque_whiteout_at_the_prefix_root_hides_everything_below() -> None:
    lower = tar_bytes([TarEntry("manifests/a.yaml", b"a"), TarEntry("manifests/s/b.yaml", b"b")])
    upper = tar_bytes([TarEntry("manifests/c.yaml", b"c"), TarEntry("manifests/.wh..wh..opq")])
    assert layer_files(extract_prefix([opener(lower), opener(upper)], "manifests/")) == {"c.yaml": b"c"}


def test_whiteouts_outside_the_prefix_do_not_reach_into_it() -> None:
    # oc filters names before applying them: '.wh.manifests' at the root is not under manifests/.
    lower = tar_bytes([TarEntry("manifests/a.yaml", b"a")])
    upper = tar_bytes([TarEntry(".wh.manifests"), TarEntry("manifests", b"not a dir", type="file")])
    assert layer_files(extract_prefix([opener(lower), opener(upper)], "manifests/")) == {"a.yaml": b"a"}


# --------------------------------------------------------------------------------------------
# Golden operator layers


def _golden_layers(case: str, tag: str) -> tuple[LayoutRepository, Manifest]:
    repo = LayoutRepository(GOLDEN / case / "inputs")
    manifest = repo.get_manifest(tag)
    assert isinstance(manifest, Manifest)
    return repo, manifest


def _extract(case: str, tag: str, *, all_layers: bool) -> dict[str, FileEntry]:
    repo, manifest = _golden_layers(case, tag)
    layers = manifest.layers if all_layers else manifest.layers[-1:]
    openers = [(lambda d=d: repo.open_blob(d.digest, d.size)) for d in layers]
    return extract_prefix(openers, "manifests/", names=[d.digest for d in layers])


def _digest_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:12]


def test_golden_06_dns_override_file_whiteout() -> None:
    files = _extract("06-overrides-by-tag", "dns-override", all_layers=True)
    assert sorted(layer_files(files)) == [
        "0000_70_dns-operator_00-cluster-role.yaml",
        "0000_70_dns-operator_00-namespace.yaml",
        "0000_70_dns-operator_00.crd.yaml",
        "0000_70_dns-operator_01-cluster-role-binding.yaml",
        "0000_70_dns-operator_01-role-binding.yaml",
        "0000_70_dns-operator_01-role.yaml",
        "0000_70_dns-operator_01-service-account.yaml",
        "0000_70_dns-operator_01-service.yaml",
        "0000_70_dns-operator_02-deployment-ibm-cloud-managed.yaml",
        "0000_70_dns-operator_02-deployment.yaml",
        "0000_70_dns-operator_03-cluster-operator.yaml",
        "0000_70_dns-operator_98_kept-from-lower-layer.yaml",
        "0000_90_dns-operator_00_prometheusrole.yaml",
        "0000_90_dns-operator_01_prometheusrolebinding.yaml",
        "0000_90_dns-operator_02_servicemonitor.yaml",
        "0000_90_dns-operator_03_prometheusrules.yaml",
        "image-references",
    ]
    kept = files["0000_70_dns-operator_98_kept-from-lower-layer.yaml"]
    assert (kept.mtime, kept.mode, len(kept.data)) == (1705613101.0, 0o644, 111)
    assert len(files["0000_70_dns-operator_00.crd.yaml"].data) == 29368
    # Only the top layer (as for a normal tag): the whiteout acts on nothing, no manifests remain.
    assert _extract("06-overrides-by-tag", "dns-override", all_layers=False) == {}


def test_golden_06_service_ca_override_opaque_whiteout() -> None:
    files = _extract("06-overrides-by-tag", "service-ca-override", all_layers=True)
    assert {path: (len(e.data), e.mtime) for path, e in files.items()} == {
        "0000_10_openshift_service-ca_00_namespace.yaml": (200, 1705613400.0),
        "0000_90_service-ca-operator_01_prometheusrole.yaml": (481, 1705613400.0),
        "0000_90_service-ca-operator_02_prometheusrolebinding.yaml": (549, 1705613400.0),
        "image-references": (192, 1705613400.0),
    }
    assert files["image-references"].data.startswith(b"kind: ImageStream\n")


def test_golden_06_lower_layer_operator() -> None:
    assert _extract("06-overrides-by-tag", "lower-layer-operator", all_layers=False) == {}
    files = _extract("06-overrides-by-tag", "lower-layer-operator", all_layers=True)
    assert list(files) == ["0000_50_lower-layer-operator_00_cm.yaml"]


def test_golden_05_gamma_tar_edge_cases() -> None:
    files = _extract("05-name-collisions", "gamma", all_layers=False)
    long_name = (
        "0000_70_gamma_a-very-long-manifest-file-name-a-very-long-manifest-file-name-"
        "a-very-long-manifest-file-name-that-needs-a-pax-header.yaml"
    )
    assert sorted(files) == sorted(
        [
            ".hidden.yaml",
            "0000_00_namespace_2.yaml",
            "0000_10_crd.json",
            "0000_60_ünïcödé.yaml",
            long_name,
            "0000_80_multi.yaml",
            "crlf.yaml",
            "newest.yaml",
        ]
    )
    assert files["newest.yaml"].mtime == 1705612010.75
    assert b"\r\n" in files["crlf.yaml"].data
    assert all(e.is_file for e in files.values())


def test_golden_05_beta_nested_directory_is_kept() -> None:
    files = _extract("05-name-collisions", "beta", all_layers=False)
    assert "sub/nested.yaml" in files and files["sub"].is_dir


# --------------------------------------------------------------------------------------------
# Top-down reading


class CountingStream(io.RawIOBase):
    """Counts the bytes read from ``data``."""

    def __init__(self, data: bytes) -> None:
        super().__init__()
        self._inner = io.BytesIO(data)
        self.consumed = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        chunk = self._inner.read(size)
        self.consumed += len(chunk)
        return chunk


def test_read_top_down_stops_when_found_and_topmost_wins() -> None:
    lower = tar_bytes(
        [
            TarEntry("release-manifests/image-references", b"old-refs"),
            TarEntry("release-manifests/release-metadata", b"old-meta"),
        ]
    )
    filler = [
        TarEntry(f"release-manifests/0000_{i:03}.yaml", bytes(4096) + str(i).encode()) for i in range(50)
    ]
    top = tar_bytes(
        [
            TarEntry("release-manifests", type="dir", mode=0o755),
            TarEntry("release-manifests/image-references", b"new-refs", mtime=5),
            TarEntry("release-manifests/release-metadata", b"new-meta", mtime=6),
            *filler,
            TarEntry("release-manifests/image-references", b"second copy in the same layer"),
        ]
    )
    opened: list[str] = []
    streams: dict[str, CountingStream] = {}

    def open_named(name: str, data: bytes) -> Callable[[], IO[bytes]]:
        def do_open() -> IO[bytes]:
            opened.append(name)
            streams[name] = CountingStream(data)
            return streams[name]  # type: ignore[return-value]

        return do_open

    wanted = {"image-references", "release-metadata"}
    found = read_top_down([open_named("lower", lower), open_named("top", top)], "release-manifests/", wanted)
    assert {k: (v.data, v.mtime) for k, v in found.items()} == {
        "image-references": (b"new-refs", 5.0),
        "release-metadata": (b"new-meta", 6.0),
    }
    assert opened == ["top"]  # the lower layer is never opened

    # A file missing from the top layer comes from below.
    only_refs = tar_bytes([TarEntry("release-manifests/image-references", b"top-refs")])
    found = read_top_down([opener(lower), opener(compress_gzip(only_refs))], "release-manifests/", wanted)
    assert {k: v.data for k, v in found.items()} == {
        "image-references": b"top-refs",
        "release-metadata": b"old-meta",
    }

    # Without a wanted set every path is reported once, whiteouts are plain files there.
    marked = tar_bytes([TarEntry("release-manifests/.wh.release-metadata")])
    everything = read_top_down([opener(lower), opener(marked)], "release-manifests/")
    assert sorted(everything) == [".wh.release-metadata", "image-references", "release-metadata"]


# --------------------------------------------------------------------------------------------
# Writing


def test_write_tar_is_deterministic_pax_with_caller_metadata() -> None:
    entries = [
        TarEntry("release-manifests", type="dir", mode=0o777, mtime=1700000000),
        TarEntry("release-manifests/ünï.yaml", b"x", mode=0o444, mtime=1700000000.5, uid=7, gid=8, uname="u"),
        TarEntry("release-manifests/" + "n" * 120 + ".yaml", b"long", mode=0o444, mtime=1700000001),
        TarEntry("release-manifests/big", io.BytesIO(b"z" * 1000), size=1000),
    ]
    first = tar_bytes(entries[:3] + [TarEntry("release-manifests/big", io.BytesIO(b"z" * 1000), size=1000)])
    second = tar_bytes(entries)
    assert first == second
    assert len(first) % 10240 == 0
    with tarfile.open(fileobj=io.BytesIO(first)) as tar:
        members = tar.getmembers()
        assert [m.name for m in members] == [e.path for e in entries]
        assert members[1].pax_headers["path"] == "release-manifests/ünï.yaml"
        assert members[1].mtime == 1700000000.5
        assert (members[1].mode, members[1].uid, members[1].gid, members[1].uname) == (0o444, 7, 8, "u")
        assert members[0].isdir() and members[0].mode == 0o777
        big = tar.extractfile(members[3])
        assert big is not None and big.read() == b"z" * 1000
    with pytest.raises(LayerError, match="a stream needs its size"):
        tar_bytes([TarEntry("x", io.BytesIO(b"1"))])
    with pytest.raises(LayerError, match="unsupported type 'fifo'"):
        tar_bytes([TarEntry("x", type="fifo")])


def test_gzip_has_no_timestamp_and_no_name() -> None:
    data = b"payload" * 1000
    blob = compress_gzip(data)
    assert blob[:4] == b"\x1f\x8b\x08\x00"  # no FNAME flag
    assert blob[4:8] == bytes(4)  # mtime 0
    assert gzip.decompress(blob) == data
    streamed = io.BytesIO()
    stream = gzip_stream(streamed)
    for i in range(0, len(data), 333):
        stream.write(data[i : i + 333])
    stream.close()
    assert streamed.getvalue() == blob
    assert compress_gzip(data, level=1) != blob


def test_layer_builder_hashes_compressed_and_uncompressed_streams(tmp_path: Path) -> None:
    layer = build_layer(SAMPLE)
    assert layer.data is not None
    assert layer.digest == sha256_digest(layer.data)
    assert layer.size == len(layer.data)
    assert layer.diff_id == sha256_digest(gzip.decompress(layer.data))
    assert gzip.decompress(layer.data) == tar_bytes(SAMPLE)
    assert layer.descriptor().to_dict() == {
        "mediaType": mt.OCI_LAYER_GZIP,
        "digest": layer.digest,
        "size": layer.size,
    }
    with LayerBuilder(tmp_path / "layer.tar.gz") as builder:
        builder.add_all(SAMPLE)
    on_disk = builder.finish()
    assert on_disk.data is None and on_disk.path == str(tmp_path / "layer.tar.gz")
    assert (tmp_path / "layer.tar.gz").read_bytes() == layer.data
    assert (on_disk.digest, on_disk.diff_id, on_disk.size) == (layer.digest, layer.diff_id, layer.size)
    plain = build_layer(SAMPLE, compress=False)
    assert plain.digest == plain.diff_id == layer.diff_id and plain.media_type == mt.OCI_LAYER
    with pytest.raises(LayerError, match="finished layer"):
        builder.add(SAMPLE[0])


# --------------------------------------------------------------------------------------------
# Memory


class GeneratedLayer(io.RawIOBase):
    """A gzip layer produced on the fly from a generator of chunks (never stored whole)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        super().__init__()
        self._chunks = chunks
        self._buffer = b""
        self.produced = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buffer) < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._buffer += chunk
        if size < 0:
            size = len(self._buffer)
        out, self._buffer = self._buffer[:size], self._buffer[size:]
        self.produced += len(out)
        return out


def _big_tar(big_files: int, big_size: int) -> Iterator[bytes]:
    """Tar bytes: a manifest, ``big_files`` files of ``big_size`` outside the prefix, another manifest."""
    block = bytes(range(256)) * 256  # 64 KiB

    def member(name: str, size: int, body: Iterator[bytes]) -> Iterator[bytes]:
        info = tarfile.TarInfo(name)
        info.size = size
        info.mtime = 1700000000
        yield info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")
        yield from body
        if size % 512:
            yield bytes(512 - size % 512)

    def repeated(size: int) -> Iterator[bytes]:
        for start in range(0, size, len(block)):
            yield block[: min(len(block), size - start)]

    yield from member("manifests/first.yaml", 6, iter([b"first\n"]))
    for index in range(big_files):
        yield from member(f"usr/lib/blob-{index}", big_size, repeated(big_size))
    yield from member("manifests/last.yaml", 5, iter([b"last\n"]))
    yield bytes(1024)


def _gzip_chunks(chunks: Iterator[bytes]) -> Iterator[bytes]:
    compressor = zlib.compressobj(1, zlib.DEFLATED, 31)
    for chunk in chunks:
        out = compressor.compress(chunk)
        if out:
            yield out
    yield compressor.flush()


@pytest.mark.parametrize("compressed", [True, False], ids=["gzip", "plain"])
def test_extract_prefix_streams_a_200mb_layer_in_small_memory(compressed: bool) -> None:
    tar = _big_tar(4, 50 * 1024 * 1024)
    layer = GeneratedLayer(_gzip_chunks(tar) if compressed else tar)
    tracemalloc.start()
    try:
        files = extract_prefix([cast(BinaryIO, layer)], "manifests/", names=["sha256:generated"])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert layer_files(files) == {"first.yaml": b"first\n", "last.yaml": b"last\n"}
    assert peak < 20 * 1024 * 1024, f"peak traced memory {peak} bytes"
    if not compressed:
        assert layer.produced == 4 * (50 * 1024 * 1024 + 512) + 2 * 1024 + 1024


def test_golden_layers_decode_the_same_as_gzip() -> None:
    """Every top layer of the golden inputs decodes to the bytes Python's gzip gives."""
    for case in sorted(p for p in GOLDEN.glob("*/inputs") if p.is_dir()):
        index = json.loads((case / "index.json").read_text())
        repo = LayoutRepository(case)
        for item in index["manifests"]:
            manifest = repo.get_manifest(item["digest"])
            if not isinstance(manifest, Manifest):
                continue
            top = manifest.layers[-1]
            blob = repo.read_blob(top.digest, top.size)
            with open_layer(io.BytesIO(blob), top.media_type, name=top.digest) as decoded:
                assert decoded.read() == gzip.decompress(blob), (case, top.digest)


def _payload_sample(seed: int, blocks: float) -> bytes:
    """Text-like bytes (YAML-ish words and lines) of ``blocks`` payload gzip blocks."""
    import random

    rng = random.Random(seed)
    words = [bytes(rng.choices(b"abcdefghij klmnop:\n", k=rng.randint(1, 40))) for _ in range(300)]
    data = b"".join(rng.choice(words) for _ in range(int(blocks * PayloadGzip.BLOCK / 20) + 1))
    return data[: int(blocks * PayloadGzip.BLOCK)]


def _write_in_pieces(stream: Any, data: bytes, seed: int) -> None:
    import random

    rng = random.Random(seed)
    at = 0
    while at < len(data):
        size = rng.choice((1, 511, 512, 4096, 70_000, PayloadGzip.BLOCK, PayloadGzip.BLOCK + 1))
        assert stream.write(data[at : at + size]) == len(data[at : at + size])
        at += size


@pytest.mark.parametrize("blocks", [0, 0.5, 1, 2, 3.7])
def test_payload_gzip_bytes_do_not_depend_on_how_writes_split_them(blocks: float) -> None:
    """ISA-L's deflate depends on its input's split; PayloadGzip feeds it whole blocks, so only the data
    decides the bytes: any split of the writes (and the one-shot compress_payload) give the same stream,
    a gzip of the data with Go's header (no name, mtime 0, OS 255)."""
    data = _payload_sample(7, blocks)
    expected = compress_payload(data)
    assert gzip.decompress(expected) == data
    assert expected[:10] == bytes.fromhex("1f8b08000000000000ff")
    for seed in range(3):
        stream = PayloadGzip()
        _write_in_pieces(stream, data, seed)
        assert stream.finish() == expected
        # hashed as its parts came out, not over the whole stream at the end
        assert stream.digest == sha256_digest(expected)
    if blocks == 3.7:  # the split matters to ISA-L itself: PayloadGzip is what holds the bytes still
        from isal import isal_zlib

        deflate = isal_zlib.compressobj(PAYLOAD_GZIP_LEVEL, isal_zlib.DEFLATED, 31)
        pieces = [deflate.compress(data[at : at + 4096]) for at in range(0, len(data), 4096)]
        odd = b"".join(pieces) + deflate.flush()
        assert gzip.decompress(odd) == data and odd != expected


@pytest.mark.parametrize("seed", [1, 2])
def test_background_gzip_is_compress_payload_byte_for_byte(seed: int) -> None:
    """Deflated on a thread in blocks, as written in pieces of any size: the same bytes as in one go."""
    from okdrelease.oci.layerwrite import BackgroundGzip

    data = _payload_sample(seed, 2.5)
    stream = BackgroundGzip()
    with pytest.raises(ValueError, match="before finish"):
        stream.gzipped()
    _write_in_pieces(stream, data, seed)
    stream.finish()
    done = stream.gzipped()
    assert (done.blob, done.digest, done.diff_id) == (
        compress_payload(data),
        sha256_digest(compress_payload(data)),
        sha256_digest(data),
    )
    assert not stream._thread.is_alive()
    empty = BackgroundGzip()
    empty.finish()
    assert empty.gzipped().blob == compress_payload(b"")


@pytest.mark.parametrize("pieces", [2048, 1 << 18])
def test_background_gzip_holds_a_few_blocks_whatever_is_written(pieces: int) -> None:
    """What is written is not kept once deflated, large writes are cut into blocks, and at most
    ``QUEUED`` blocks wait for the thread: the Python memory the stream holds while 48 MiB go through
    it in writes of 64 KiB or of 8 MiB stays under 4 MiB (about 3.1; it held all 48 MiB, then joined
    them into a second copy; then, with writes queued whole, 4.2 MiB and up to four of the largest
    write: 10.3 MiB)."""
    import tracemalloc

    from okdrelease.oci.layerwrite import BackgroundGzip

    piece = b"apiVersion: v1\nkind: ConfigMap\n" * pieces  # 64 KiB or 8 MiB, its gzip tiny
    writes = 48 * PayloadGzip.BLOCK // len(piece)
    tracemalloc.start()
    try:
        stream = BackgroundGzip()
        for _ in range(writes):
            stream.write(piece)
        stream.finish()
        done = stream.gzipped()
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20, peak
    assert (done.blob, done.diff_id) == (compress_payload(piece * writes), sha256_digest(piece * writes))


def test_background_gzip_fails_without_stranding_the_writer(monkeypatch: pytest.MonkeyPatch) -> None:
    """A deflating thread that fails goes on taking blocks (the writer never waits on a full queue) and
    its error is raised by gzipped()."""
    from okdrelease.oci.layerwrite import BackgroundGzip

    def broken(self: PayloadGzip, data: bytes) -> int:
        raise OSError("deflate failed")

    monkeypatch.setattr(PayloadGzip, "write", broken)
    stream = BackgroundGzip()
    raised: list[BaseException] = []

    def writer() -> None:
        try:
            for _ in range(16):  # four times the queue's room
                stream.write(b"x" * BackgroundGzip.BLOCK)
            stream.finish()
        except BaseException as err:  # noqa: BLE001 - asserted below
            raised.append(err)

    # on a helper thread: a writer stranded on a full queue fails the test instead of hanging it
    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    thread.join(timeout=30)
    assert not thread.is_alive(), "the writer waits on a queue the failed deflating thread no longer empties"
    assert raised == []
    with pytest.raises(OSError, match="deflate failed"):
        stream.gzipped()
    assert not stream._thread.is_alive()


def _gzip_thread_ends(thread: threading.Thread) -> bool:
    """Whether ``thread`` ends within 10 s (a parked one never does)."""
    thread.join(timeout=10)
    return not thread.is_alive()


def test_background_gzip_dropped_unfinished_stops_its_thread() -> None:
    """A library caller that drops a stream it never finished (an error between two writes) leaves no
    thread behind: the thread does not hold the stream, whose finaliser stops it (it stayed parked on
    its queue for the life of the process)."""
    import gc

    from okdrelease.oci.layerwrite import BackgroundGzip

    def write_then_fail() -> threading.Thread:
        stream = BackgroundGzip()
        stream.write(b"x" * (3 * BackgroundGzip.BLOCK))
        thread = stream._thread
        try:
            raise RuntimeError("the caller failed mid-write")
        except RuntimeError:
            return thread

    thread = write_then_fail()
    gc.collect()
    assert _gzip_thread_ends(thread)
    finished = BackgroundGzip()  # dropped after finish(): its thread ends too
    finished.write(b"y" * 1000)
    finished.finish()
    thread = finished._thread
    del finished
    assert _gzip_thread_ends(thread)


def test_background_gzip_closes_on_an_error_in_its_with_block_and_finishes_on_a_clean_exit() -> None:
    from okdrelease.oci.layerwrite import BackgroundGzip

    with pytest.raises(RuntimeError, match="mid-write"), BackgroundGzip() as failed:
        failed.write(b"x" * (5 * BackgroundGzip.BLOCK))
        raise RuntimeError("mid-write")
    assert not failed._thread.is_alive()  # stopped and waited for by the with block
    with pytest.raises(ValueError, match=r"gzipped\(\) after close\(\)"):
        failed.gzipped()
    with pytest.raises(ValueError, match=r"write\(\) after finish\(\) or close\(\)"):
        failed.write(b"more")
    failed.close()  # again: nothing
    with BackgroundGzip() as clean:
        clean.write(b"abc")
    assert clean.gzipped().blob == compress_payload(b"abc")
    clean.close()  # after gzipped(): its result stays
    assert clean.gzipped().diff_id == sha256_digest(b"abc")


def test_background_gzip_close_stops_a_thread_with_blocks_still_queued(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """close() while the thread is still busy with earlier blocks: it returns once the thread has
    stopped, and the thread deflated none of the blocks that were queued behind (nor ended the gzip)."""
    from okdrelease.oci.layerwrite import BackgroundGzip

    busy, release = threading.Event(), threading.Event()
    deflated: list[int] = []
    ended: list[bool] = []
    write, finish = PayloadGzip.write, PayloadGzip.finish

    def slow_write(self: PayloadGzip, data: bytes) -> int:
        deflated.append(len(data))
        busy.set()
        release.wait(timeout=30)
        return write(self, data)

    monkeypatch.setattr(PayloadGzip, "write", slow_write)
    monkeypatch.setattr(PayloadGzip, "finish", lambda self: ended.append(True) or finish(self))
    stream = BackgroundGzip()
    stream.write(b"x" * BackgroundGzip.BLOCK)
    assert busy.wait(timeout=30)
    for _ in range(BackgroundGzip.QUEUED):  # the queue is now full
        stream.write(b"x" * BackgroundGzip.BLOCK)
    threading.Timer(0.2, release.set).start()
    stream.close()
    assert not stream._thread.is_alive()
    assert (deflated, ended) == ([BackgroundGzip.BLOCK], [])


def test_a_payload_that_fails_mid_write_stops_its_gzip(monkeypatch: pytest.MonkeyPatch) -> None:
    """``assemble_payload(compress=True)`` failing on an operator's file has stopped the gzip's thread
    when it raises, and the tar written so far is not deflated to its end (it was: the stream was
    finished on the error, its thread left to deflate it)."""
    from okdrelease.errors import ReleaseError
    from okdrelease.openshift.imagestream import ImageStream, TagReference
    from okdrelease.openshift.metadata import CincinnatiMetadata
    from okdrelease.payload.context import Reporter
    from okdrelease.payload.operators import Operators, assemble_payload, operator_references
    from okdrelease.payload.plan import NewOptions, make_plan, parse_created
    from okdrelease.payload.resolve import ManifestFile

    ended: list[bool] = []
    finish = PayloadGzip.finish
    monkeypatch.setattr(PayloadGzip, "finish", lambda self: ended.append(True) or finish(self))
    large = b"apiVersion: v1\nkind: ConfigMap\ndata:\n" + b"".join(b"  k%d: v\n" % i for i in range(200_000))
    files = {
        "a-op": (ManifestFile("a.yaml", large, 0.0),),
        "b-op": (ManifestFile("b.yaml", b"kind: [unclosed\n", 0.0),),
    }
    stream = ImageStream(name="4.16.0-0.okd-2024-05-01-000000", annotations={})
    stream.tags = [TagReference.docker_image("cli", "quay.io/okd/scos-content@sha256:" + "1" * 64)]
    operators = Operators(files=files, ordered=tuple(sorted(files)), references=operator_references(files))
    plan = make_plan(NewOptions(mappings=("a=b",), created=parse_created("2024-05-01T00:00:00Z")))
    before = set(threading.enumerate())
    with pytest.raises(ReleaseError, match="b-op/b.yaml: invalid YAML/JSON"):
        assemble_payload(stream, CincinnatiMetadata(stream.name), operators, plan, Reporter(), compress=True)
    running = [t for t in set(threading.enumerate()) - before if t.name == "okdrelease-gzip"]
    for thread in running:
        thread.join(timeout=30)
    assert (running, ended) == ([], [])
