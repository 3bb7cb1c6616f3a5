"""Streaming decompressors for layer blobs: the fastest gzip reader installed, zstd through ``zstandard``.

gzip: python-isal's ``igzip`` (ISA-L inflate) when installed, else zlib-ng's ``gzip_ng``, else the
standard library. All three are ``GzipFile`` readers with the standard library's semantics
(multi-member streams, zero padding after the last member, CRC and length checked at each member's
end; a bad checksum is ``gzip.BadGzipFile``). Measured on the 2-core development machine, streaming
a 40 MiB tar (22.8 MiB gzip) in 64 KiB reads: isal 0.17 s, zlib-ng 0.43 s, stdlib 0.50 s; so isal
comes first. ``benchmarks/decompress_bench.py`` measures it again on any machine.

zstd: ``zstandard`` (the ``zstd`` extra); without it :func:`zstd_reader` raises ImportError and the
caller words the error.
"""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Callable
from typing import IO, Any, BinaryIO, cast

GzipOpener = Callable[[IO[bytes]], BinaryIO]


def _stdlib(fileobj: IO[bytes]) -> BinaryIO:
    return cast(BinaryIO, gzip.GzipFile(fileobj=fileobj, mode="rb"))


class _ReadintoAdapter(io.RawIOBase):
    """``readinto`` over a stream that only has ``read`` (the C readers need it; the stdlib's does not)."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self._raw.read(len(view))
        view[: len(data)] = data
        return len(data)

    def close(self) -> None:
        super().close()
        self._raw.close()


def _opener(gzip_file: Any) -> GzipOpener:
    """An opener from a ``GzipFile`` class with the standard library's signature."""

    def open_gzip(fileobj: IO[bytes]) -> BinaryIO:
        source = fileobj if hasattr(fileobj, "readinto") else _ReadintoAdapter(fileobj)
        return cast(BinaryIO, gzip_file(fileobj=source, mode="rb"))

    return open_gzip


def _backends() -> list[tuple[str, GzipOpener, tuple[type[BaseException], ...]]]:
    """The gzip readers installed, fastest first, each with the exceptions it raises on bad data."""
    found: list[tuple[str, GzipOpener, tuple[type[BaseException], ...]]] = []
    try:
        from isal import igzip, isal_zlib
    except ImportError:
        pass
    else:
        found.append(("isal", _opener(igzip.GzipFile), (cast(type[BaseException], isal_zlib.error),)))
    try:
        from zlib_ng import gzip_ng, zlib_ng
    except ImportError:
        pass
    else:
        found.append(("zlib-ng", _opener(gzip_ng.GzipFile), (cast(type[BaseException], zlib_ng.error),)))
    found.append(("zlib", _stdlib, ()))
    return found


_BACKENDS = _backends()
#: Name of the gzip reader in use: ``isal``, ``zlib-ng`` or ``zlib`` (the standard library).
GZIP_BACKEND: str = _BACKENDS[0][0]
_GZIP_OPEN: GzipOpener = _BACKENDS[0][1]
#: Every exception a gzip reader raises on corrupt or truncated data (besides OSError/EOFError).
GZIP_ERRORS: tuple[type[BaseException], ...] = (
    zlib.error,
    gzip.BadGzipFile,
    EOFError,
    *(error for _, _, errors in _BACKENDS for error in errors),
)


def gzip_reader(fileobj: IO[bytes], backend: str | None = None) -> BinaryIO:
    """A reader of the decompressed bytes of the gzip stream ``fileobj`` (``backend`` forces one by name)."""
    if backend is None:
        return _GZIP_OPEN(fileobj)
    for name, opener, _ in _BACKENDS:
        if name == backend:
            return opener(fileobj)
    raise ValueError(f"gzip backend {backend!r} is not installed")


def gzip_backends() -> list[str]:
    """Names of the installed gzip readers, the one in use first."""
    return [name for name, _, _ in _BACKENDS]


def zstd_errors() -> tuple[type[BaseException], ...]:
    """``zstandard.ZstdError`` when zstandard is installed, else nothing."""
    try:
        import zstandard
    except ImportError:
        return ()
    return (zstandard.ZstdError,)


def zstd_reader(fileobj: IO[bytes]) -> BinaryIO:
    """A reader of the decompressed bytes of the zstd stream ``fileobj`` (every frame); ImportError without zstandard."""
    import zstandard

    return cast(BinaryIO, zstandard.ZstdDecompressor().stream_reader(fileobj, read_across_frames=True))
