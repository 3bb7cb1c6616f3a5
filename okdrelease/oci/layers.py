"""Layer reading: decompression by magic bytes, streamed tar entries, whiteouts across a stack.

Nothing holds a whole layer in memory: entries are streamed, and only the files kept under the
wanted prefix are read. Every layer stream is read to its end so its digest is always verified.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import posixpath
import tarfile
from collections.abc import Callable, Iterator, Sequence
from typing import BinaryIO, cast

import attrs

from okdrelease.errors import DigestMismatchError, LayerError

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
BZIP2_MAGIC = b"BZh"
XZ_MAGIC = b"\xfd7zXZ\x00"
WHITEOUT_PREFIX = ".wh."
OPAQUE_WHITEOUT = ".wh..wh..opq"

LayerOpener = Callable[[], BinaryIO]


@attrs.frozen
class FileEntry:
    """A file or directory kept from a layer stack."""

    path: str
    data: bytes = attrs.field(repr=False)
    mtime: float
    mode: int
    is_file: bool = True


def open_layer(stream: BinaryIO, media_type: str | None = None, *, what: str = "layer") -> BinaryIO:
    """Return the uncompressed tar stream of a layer, detecting gzip, zstd, bzip2, xz or plain tar."""
    head = b""
    while len(head) < 6:
        chunk = stream.read(6 - len(head))
        if not chunk:
            break
        head += chunk
    buffered: BinaryIO = _Prefixed(head, stream)  # type: ignore[assignment]
    if head.startswith(GZIP_MAGIC):
        return cast(BinaryIO, gzip.GzipFile(fileobj=buffered, mode="rb"))
    if head.startswith(ZSTD_MAGIC):
        try:
            import zstandard
        except ImportError as err:
            raise LayerError(
                f"{what} is zstd-compressed; install zstd support with 'pip install okdrelease[zstd]'"
            ) from err
        return cast(BinaryIO, zstandard.ZstdDecompressor().stream_reader(buffered))
    if head.startswith(BZIP2_MAGIC):
        return cast(BinaryIO, bz2.BZ2File(buffered))
    if head.startswith(XZ_MAGIC):
        return cast(BinaryIO, lzma.LZMAFile(buffered))
    return buffered


class _Prefixed(io.RawIOBase):
    """A read-only stream: ``head`` bytes already read, then the rest of ``stream``."""

    def __init__(self, head: bytes, stream: BinaryIO) -> None:
        self._head = head
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            out, self._head = self._head, b""
            return out + self._stream.read()
        if self._head:
            out, self._head = self._head[:size], self._head[size:]
            return out
        return self._stream.read(size)


def clean_name(name: str) -> str:
    """Go's path.Clean for tar names (``./manifests/a/`` → ``manifests/a``)."""
    cleaned = posixpath.normpath(name) if name else "."
    if cleaned.startswith("//"):
        cleaned = "/" + cleaned.lstrip("/")
    return cleaned


def _drain(stream: BinaryIO) -> None:
    while stream.read(1 << 20):
        pass


def iter_members(
    stream: BinaryIO, *, what: str = "layer"
) -> Iterator[tuple[tarfile.TarInfo, tarfile.TarFile]]:
    """Stream the tar members of a (compressed) layer; the raw stream is drained at the end."""
    tar_stream = open_layer(stream, what=what)
    try:
        with tarfile.open(fileobj=tar_stream, mode="r|") as archive:
            for member in archive:
                yield member, archive
        _drain(tar_stream)
        _drain(stream)
    except DigestMismatchError:
        raise
    except (tarfile.TarError, OSError, EOFError, zlib_error()) as err:
        raise LayerError(f"cannot read {what}: {err}") from err


def zlib_error() -> type[Exception]:
    """zlib.error, typed for the except clause."""
    import zlib

    return zlib.error


def extract_prefix(
    openers: Sequence[LayerOpener], prefix: str, *, what: str = "layer"
) -> dict[str, FileEntry]:
    """Apply layers bottom→top and return the files under ``prefix`` (prefix stripped), whiteouts applied.

    Only regular files and directories are kept (links, devices, fifos dropped), as oc does when
    it reads ``/manifests`` of component images (spec §3.7.5).
    """
    result: dict[str, FileEntry] = {}
    for index, opener in enumerate(openers):
        written: set[str] = set()
        label = f"{what} {index + 1} of {len(openers)}"
        with opener() as stream:
            for member, archive in iter_members(stream, what=label):
                if not (member.isreg() or member.isdir()):
                    continue
                name = clean_name(member.name)
                if not name.startswith(prefix):
                    continue
                rel = name[len(prefix) :]
                if not rel:
                    continue
                directory, base = posixpath.split(rel)
                if base == OPAQUE_WHITEOUT:
                    lead = f"{directory}/" if directory else ""
                    for path in [p for p in result if p.startswith(lead) and p not in written]:
                        del result[path]
                    continue
                if base.startswith(WHITEOUT_PREFIX + WHITEOUT_PREFIX):
                    continue
                if base.startswith(WHITEOUT_PREFIX):
                    target = posixpath.join(directory, base[len(WHITEOUT_PREFIX) :])
                    for path in [
                        p for p in result if (p == target or p.startswith(target + "/")) and p not in written
                    ]:
                        del result[path]
                    continue
                if member.isdir():
                    result[rel] = FileEntry(rel, b"", float(member.mtime), member.mode, is_file=False)
                else:
                    handle = archive.extractfile(member)
                    data = handle.read() if handle is not None else b""
                    result[rel] = FileEntry(rel, data, float(member.mtime), member.mode)
                written.add(rel)
    return result


def read_top_down(
    openers: Sequence[LayerOpener], prefix: str, names: set[str], *, what: str = "layer"
) -> dict[str, FileEntry]:
    """Find ``prefix + name`` files walking layers from the top down; topmost wins, stop when all found."""
    found: dict[str, FileEntry] = {}
    for opener in reversed(openers):
        with opener() as stream:
            for member, archive in iter_members(stream, what=what):
                if not member.isreg():
                    continue
                name = clean_name(member.name)
                if not name.startswith(prefix):
                    continue
                rel = name[len(prefix) :]
                if rel in names and rel not in found:
                    handle = archive.extractfile(member)
                    data = handle.read() if handle is not None else b""
                    found[rel] = FileEntry(rel, data, float(member.mtime), member.mode)
        if len(found) == len(names):
            break
    return found
