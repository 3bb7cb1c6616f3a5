"""Every installed gzip reader of okdrelease.oci.decompress reads and rejects what the standard library does."""

from __future__ import annotations

import gzip
import io

import pytest

from okdrelease.oci import decompress

DATA = b"".join(b"line %d of a layer\n" % i for i in range(20000))
GOOD = gzip.compress(DATA, 6, mtime=0)


def _read(blob: bytes, backend: str) -> bytes:
    reader = decompress.gzip_reader(io.BytesIO(blob), backend=backend)
    out = bytearray()
    while chunk := reader.read(1 << 14):
        out += chunk
    return bytes(out)


def test_fast_reader_in_use_when_installed() -> None:
    installed = decompress.gzip_backends()
    assert installed[-1] == "zlib"
    assert decompress.GZIP_BACKEND == installed[0]
    pytest.importorskip("isal")
    assert decompress.GZIP_BACKEND == "isal"


@pytest.mark.parametrize("backend", decompress.gzip_backends())
@pytest.mark.parametrize(
    ("blob", "expected"),
    [(GOOD, DATA), (GOOD + GOOD, DATA + DATA), (GOOD + b"\0" * 7, DATA), (gzip.compress(b"", mtime=0), b"")],
    ids=["one member", "two members", "zero padding", "empty"],
)
def test_reads(backend: str, blob: bytes, expected: bytes) -> None:
    assert _read(blob, backend) == expected


def _corrupt_deflate() -> bytes:
    blob = bytearray(GOOD)
    blob[20:40] = b"\xff" * 20
    return bytes(blob)


@pytest.mark.parametrize("backend", decompress.gzip_backends())
@pytest.mark.parametrize(
    "blob",
    [GOOD[:-8] + b"\0\0\0\0" + GOOD[-4:], GOOD[:-1], GOOD[:100], GOOD + b"xx", _corrupt_deflate()],
    ids=["bad crc", "truncated trailer", "truncated", "trailing garbage", "corrupt deflate"],
)
def test_rejects(backend: str, blob: bytes) -> None:
    with pytest.raises(decompress.GZIP_ERRORS):
        _read(blob, backend)


def test_unknown_backend() -> None:
    with pytest.raises(ValueError, match="gzip backend 'nope' is not installed"):
        decompress.gzip_reader(io.BytesIO(GOOD), backend="nope")


def test_zstd_reads_every_frame() -> None:
    zstandard = pytest.importorskip("zstandard")
    blob = zstandard.ZstdCompressor().compress(b"first ") + zstandard.ZstdCompressor().compress(b"second")
    assert decompress.zstd_reader(io.BytesIO(blob)).read() == b"first second"
    assert decompress.zstd_errors() == (zstandard.ZstdError,)


class _ReadOnly:
    """A stream with ``read`` only (like the layer reader's prefixed source)."""

    def __init__(self, data: bytes) -> None:
        self._inner = io.BytesIO(data)

    def read(self, size: int = -1) -> bytes:
        return self._inner.read(size)

    def close(self) -> None:
        self._inner.close()


@pytest.mark.parametrize("backend", decompress.gzip_backends())
def test_reads_streams_without_readinto(backend: str) -> None:
    reader = decompress.gzip_reader(_ReadOnly(GOOD), backend=backend)  # type: ignore[arg-type]
    assert reader.read() == DATA
