"""Layer reading (decompression by magic bytes, streaming tar, OCI whiteouts) and deterministic layer writing.

Reading never holds a whole layer: tar entries are streamed, skipped entries are read past in
chunks, and only the files a caller keeps are buffered. Names are cleaned like Go's ``path.Clean``
and filtered by a prefix (``manifests/``) as ``oc`` does (spec §3.7.5).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import posixpath
import queue
import re
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import IO, TYPE_CHECKING, Any, BinaryIO, Protocol, TypeVar, cast, runtime_checkable

import attrs

from okdrelease._repr import value_repr
from okdrelease.errors import DigestMismatchError, LayerError
from okdrelease.oci import mediatypes as mt
from okdrelease.oci.digest import sha256_digest
from okdrelease.oci.model import Descriptor

if TYPE_CHECKING:
    import tarfile  # loaded when a layer is written or holds an unusual header (a warm new does neither)

    from okdrelease.oci import tarwalk  # loaded when a layer is read

log = logging.getLogger(__name__)

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
BZIP2_MAGIC = b"BZh"
XZ_MAGIC = b"\xfd7zXZ\x00"

WHITEOUT_PREFIX = ".wh."
WHITEOUT_META_PREFIX = ".wh..wh."
WHITEOUT_OPAQUE = ".wh..wh..opq"

_CHUNK = 1 << 16


class LayerLimitError(LayerError):
    """A layer beyond a limit: too many decompressed bytes, entries, or a kept file too large."""


#: Default bounds on one decompressed layer (raise them with ``LayerLimits``/``--max-layer-bytes``).
DEFAULT_MAX_LAYER_BYTES = 8 << 30
DEFAULT_MAX_LAYER_ENTRIES = 1_000_000
DEFAULT_MAX_FILE_BYTES = 256 << 20
_DECODE_ERRORS: tuple[type[BaseException], ...] = (
    zlib.error,
    EOFError,
    OSError,
    ValueError,
)

T = TypeVar("T")

#: Opens one layer blob (compressed or not), e.g. ``lambda: repo.open_blob(digest, size)``.
LayerOpener = Callable[[], Any]
#: A layer given to ``extract_prefix``/``read_top_down``: an open stream or an opener.
LayerSource = BinaryIO | LayerOpener


@runtime_checkable
class RestartableSource(Protocol):
    """A layer blob that can be read again from its first byte (``transport.base.BlobOpener``).

    ``read_with(use)`` hands ``use`` a fresh verifying stream and returns what ``use`` returns;
    when the bytes turn out not to match their digest (changed on the way), ``use`` is started
    again on a new stream as the source's retry policy allows. ``use`` must keep its state to
    itself, so that nothing it saw on a failed attempt is counted twice.
    """

    def __call__(self) -> Any:
        """Open the blob (a verifying stream)."""
        ...

    def read_with(self, use: Callable[[BinaryIO], T]) -> T:
        """Run ``use`` on the blob's stream, again on a new stream after a digest mismatch."""
        ...


def read_source(source: LayerSource, use: Callable[[BinaryIO], T]) -> T:
    """Run ``use`` on the stream of one layer source and close it (restarted where the source can)."""
    read_with = getattr(source, "read_with", None)  # a RestartableSource (isinstance on a Protocol: 6-25 µs)
    if read_with is not None and callable(source):
        return cast(RestartableSource, source).read_with(use)
    stream = cast(BinaryIO, _open_source(source))
    try:
        return use(stream)
    finally:
        stream.close()


def _layer_label(name: str | None) -> str:
    return f"layer {name}" if name else "layer"


def _decode_errors() -> tuple[type[BaseException], ...]:
    """What decoding a layer raises for bad data (the gzip and zstd readers' own errors included)."""
    import lzma
    import tarfile

    from okdrelease.oci import decompress  # loaded when a layer is decoded (a warm run decodes none)

    return (
        tarfile.TarError,
        lzma.LZMAError,
        *_DECODE_ERRORS,
        *decompress.GZIP_ERRORS,
        *decompress.zstd_errors(),
    )


@contextlib.contextmanager
def _layer_errors(name: str | None) -> Iterator[None]:
    """Turn decompression and tar errors into LayerError naming the layer."""
    try:
        yield
    except Exception as err:
        _raise_layer_error(err, name)
        raise


def _raise_layer_error(err: Exception, name: str | None) -> None:
    """Raise a decompression or tar error as LayerError naming the layer (the caller raises any other)."""
    if not isinstance(err, LayerError) and isinstance(err, _decode_errors()):
        raise LayerError(f"unable to read {_layer_label(name)}: {err or type(err).__name__}") from err


def clean_name(name: str) -> str:
    """Return ``name`` cleaned like Go's ``path.Clean`` (``./a//b/`` → ``a/b``, ``""`` → ``.``)."""
    if not name:
        return "."
    cleaned = posixpath.normpath(name)
    if cleaned.startswith("//"):
        cleaned = "/" + cleaned.lstrip("/")
    return cleaned


class _Prefixed:
    """A read-only stream that returns ``head`` before the rest of ``raw``."""

    def __init__(self, head: bytes, raw: IO[bytes]) -> None:
        self._head = head
        self._raw = raw

    def read(self, size: int = -1) -> bytes:
        if self._head:
            if size is None or size < 0:
                data, self._head = self._head + self._raw.read(), b""
                return data
            data, self._head = self._head[:size], self._head[size:]
            return data
        return self._raw.read() if size is None or size < 0 else self._raw.read(size)

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._raw.close()


class RawReader(io.RawIOBase):
    """A read-only raw stream whose subclasses implement ``read``; ``readinto`` follows from it."""

    def readable(self) -> bool:
        """Raw readers are readable."""
        return True

    def readinto(self, buffer: Any) -> int:
        """Fill ``buffer`` from ``read``."""
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class _DecodedLayer(RawReader):
    """The decompressed tar stream of a layer; decoding errors surface as LayerError."""

    def __init__(
        self,
        decoded: IO[bytes],
        source: IO[bytes],
        name: str | None,
        compression: str,
        budget: _Budget | None,
    ) -> None:
        super().__init__()
        self._decoded = decoded
        self._source = source
        self.layer_name = name
        self.compression = compression
        self._budget = budget

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = _CHUNK  # never the whole stream at once: a bomb stays a stream
            parts = []
            while chunk := self.read(size):
                parts.append(chunk)
            return b"".join(parts)
        try:
            data = self._decoded.read(size)
        except Exception as err:  # _layer_errors, without a context manager on every read
            _raise_layer_error(err, self.layer_name)
            raise
        if self._budget is not None:
            self._budget.add_bytes(len(data))
        return data

    def drain(self) -> None:
        """Read to the end of the compressed source so a verifying source checks its digest."""
        while self.read(_CHUNK):
            pass
        while self._source.read(_CHUNK):
            pass

    def settle(self) -> None:
        """After a decoding error: read the rest of the blob, so that bytes changed on the way raise
        the verifying source's DigestMismatchError (worth another read) instead of the LayerError."""
        try:
            while self._source.read(_CHUNK):
                pass
        except DigestMismatchError:
            raise
        except Exception as err:  # noqa: BLE001 - the layer error being handled is the one to report
            log.debug("reading the rest of %s after a decoding error failed: %s", self.layer_name, err)

    def close(self) -> None:
        if not self.closed:
            with contextlib.suppress(Exception):
                self._decoded.close()
            self._source.close()
        super().close()


@contextlib.contextmanager
def _settled(decoded: BinaryIO) -> Iterator[None]:
    """A layer that cannot be decoded is read to its end first: see ``_DecodedLayer.settle``."""
    try:
        yield
    except LayerLimitError:
        raise
    except LayerError:
        if isinstance(decoded, _DecodedLayer):
            decoded.settle()
        raise


def drain(stream: IO[bytes]) -> None:
    """Read a stream returned by ``open_layer`` to the end of its compressed source (digest checked)."""
    if isinstance(stream, _DecodedLayer):
        stream.drain()
    else:
        while stream.read(_CHUNK):
            pass


def read_full(stream: Any, count: int) -> bytes:
    """Read ``count`` bytes from ``stream``, fewer only at its end."""
    parts: list[bytes] = []
    remaining = count
    while remaining > 0:
        chunk = stream.read(remaining)
        if not chunk:
            break
        parts.append(chunk)
        remaining -= len(chunk)
    return b"".join(parts)


def open_layer(
    stream: IO[bytes],
    media_type: str | None = None,
    *,
    name: str | None = None,
    budget: _Budget | None = None,
) -> BinaryIO:
    """Return the uncompressed tar stream of a layer (gzip, zstd, bzip2, xz or plain, by magic bytes).

    ``name`` (usually the layer digest) is used in error messages. ``media_type`` is only a hint:
    the magic bytes decide, as ``oc`` does. Closing the result closes ``stream``.
    """
    with _layer_errors(name):
        head = read_full(stream, len(XZ_MAGIC))
    source = cast(IO[bytes], _Prefixed(head, stream))
    from okdrelease.oci import decompress  # loaded with the first layer decoded (a warm run decodes none)

    decoded: IO[bytes]
    if head.startswith(GZIP_MAGIC):
        compression = "gzip"
        decoded = decompress.gzip_reader(source)
    elif head.startswith(ZSTD_MAGIC):
        compression = "zstd"
        try:
            decoded = decompress.zstd_reader(source)
        except ImportError as err:
            raise LayerError(
                f"{_layer_label(name)} is zstd-compressed; install zstandard to read it: "
                "pip install okdrelease[zstd]"
            ) from err
    elif head.startswith(BZIP2_MAGIC):
        compression = "bzip2"
        import bz2  # bz2, lzma and gzip load when a layer needs them (issue 9: off the start)

        decoded = cast(IO[bytes], bz2.BZ2File(source, mode="rb"))
    elif head.startswith(XZ_MAGIC):
        compression = "xz"
        import lzma

        decoded = cast(IO[bytes], lzma.LZMAFile(source, mode="rb"))
    else:
        compression = "none"
        decoded = source
    if media_type and compression == "none" and media_type.endswith(("gzip", "zstd")) and head:
        log.debug("%s has media type %s but no compression magic; reading plain tar", name, media_type)
    return cast(BinaryIO, _DecodedLayer(decoded, source, name, compression, budget))


#: tarfile's type flags (DIRTYPE, SYMTYPE, LNKTYPE, CHRTYPE, BLKTYPE, FIFOTYPE, REGTYPE).
_DIRTYPE, _SYMTYPE, _LNKTYPE, _CHRTYPE, _BLKTYPE, _FIFOTYPE, _REGTYPE = (
    b"5",
    b"2",
    b"1",
    b"3",
    b"4",
    b"6",
    b"0",
)
_TYPES = {
    _DIRTYPE: "dir",
    _SYMTYPE: "symlink",
    _LNKTYPE: "hardlink",
    _CHRTYPE: "char",
    _BLKTYPE: "block",
    _FIFOTYPE: "fifo",
}


def _normal_prefix(prefix: str) -> str:
    if not prefix or prefix in (".", "./"):
        return ""
    cleaned = clean_name(prefix)
    return cleaned if cleaned.endswith("/") else cleaned + "/"


def _strip_prefix(name: str, prefix: str) -> str | None:
    """The cleaned ``name`` with ``prefix`` removed; None when outside it (or the prefix itself).

    A name under the prefix with no empty, ``.`` or ``..`` component and no trailing slash is clean
    as it is (``clean_name`` would return it unchanged): its cut is taken without cleaning it.
    """
    if prefix and name.startswith(prefix) and "//" not in name and "/." not in name and name[-1] != "/":
        return name[len(prefix) :]
    cleaned = clean_name(name)
    if not prefix:
        return cleaned
    if not cleaned.startswith(prefix):
        return None
    return cleaned[len(prefix) :]


@attrs.define(slots=True, eq=False)
class LayerEntry:
    """One tar entry of a layer under the prefix; ``read()`` works only until the iteration moves on.

    ``type`` is file, dir, symlink, hardlink, char, block, fifo or other; ``mtime`` comes from the
    PAX record when there is one; ``name`` is the raw tar name (``path`` is cleaned, prefix stripped).
    """

    __repr__ = value_repr

    path: str
    type: str
    mode: int
    mtime: float
    size: int
    name: str = ""
    linkname: str = ""
    uid: int = 0
    gid: int = 0
    _reader: Callable[[], bytes] | None = attrs.field(default=None, repr=False)
    _valid: bool = attrs.field(default=True, repr=False)

    @property
    def is_file(self) -> bool:
        """True for a regular file."""
        return self.type == "file"

    @property
    def is_dir(self) -> bool:
        """True for a directory."""
        return self.type == "dir"

    def read(self) -> bytes:
        """Return the content of a regular file (empty for other types)."""
        if not self._valid:
            raise LayerError(f"tar entry {self.path} can only be read before the next entry")
        if self._reader is None:
            return b""
        return self._reader()

    def invalidate(self) -> None:
        """Mark the entry as passed: its data is gone from the stream."""
        self._valid = False


def _walker(decoded: BinaryIO, name: str | None) -> tarwalk.TarWalker | None:
    """The tar walker of a decoded layer; None for an empty blob (an empty layer: Go's archive/tar sees io.EOF)."""
    with _layer_errors(name):
        head = read_full(decoded, 1)
    if not head:
        return None
    from okdrelease.oci import tarwalk  # loaded with the first layer read (a warm run reads none)

    return tarwalk.TarWalker(decoded, head, bufsize=_CHUNK)


def _under(
    walker: tarwalk.TarWalker,
    wanted: str,
    name: str | None,
    budget: _Budget | None = None,
    keep: str = "",
) -> Iterator[tuple[tarwalk.Member, str]]:
    """The members under the cleaned prefix ``wanted`` with their paths (cleaned, prefix stripped);
    ``budget`` counts every member and bounds the regular files under ``keep``; tar and decoding
    errors raised as LayerError naming the layer.

    Headers are read by ``tarwalk.TarWalker`` (tarfile's members and errors, the common header read
    without tarfile). A name without the prefix's first component cannot clean to a name under the
    prefix (cleaning only drops components), so it is passed without cleaning it.
    """
    needle = wanted.split("/", 1)[0]
    try:
        for member in walker.members():
            if budget is not None:
                budget.add_entry(member, keep)
            if needle and needle not in member.name:
                continue
            path = _strip_prefix(member.name, wanted)
            if path:
                yield member, path
    except Exception as err:
        _raise_layer_error(err, name)
        raise


def _iter_tar(
    decoded: BinaryIO,
    prefix: str,
    name: str | None,
    *,
    budget: _Budget | None = None,
    keep_prefix: str | None = None,
) -> Iterator[LayerEntry]:
    """Entries under ``prefix`` (stripped), each readable until the next; ``budget`` counts entries and
    bounds files under ``keep_prefix`` (see :func:`_under`)."""
    walker = _walker(decoded, name)
    if walker is None:
        return
    wanted = _normal_prefix(prefix)
    keep = wanted if keep_prefix is None else _normal_prefix(keep_prefix)
    try:
        for member, path in _under(walker, wanted, name, budget, keep):
            entry = _layer_entry(member, path, wanted, walker, name)
            try:
                yield entry
            finally:
                entry.invalidate()
    finally:
        walker.close()


def _kind_and_link(member: tarwalk.Member, wanted: str) -> tuple[str, str]:
    """An entry's type (file, dir, ...) and its link target (prefix stripped when under it)."""
    kind = "file" if member.isreg else _TYPES.get(member.type, "other")
    linkname = member.linkname
    if wanted and linkname and clean_name(linkname).startswith(wanted):
        linkname = clean_name(linkname)[len(wanted) :]
    return kind, linkname


def _layer_entry(
    member: tarwalk.Member, path: str, wanted: str, walker: tarwalk.TarWalker, name: str | None
) -> LayerEntry:
    kind, linkname = _kind_and_link(member, wanted)
    mode, uid, gid, mtime = member.attributes()

    def reader() -> bytes:
        with _layer_errors(name):
            return walker.read()

    return LayerEntry(
        path=path,
        name=member.name,
        type=kind,
        mode=mode & 0o7777,
        mtime=mtime,
        size=member.size,
        linkname=linkname,
        uid=uid,
        gid=gid,
        reader=reader if kind == "file" else None,
    )


def held_entry(
    path: str, kind: str, mode: int, mtime: float, size: int, linkname: str, uid: int, gid: int, data: bytes
) -> LayerEntry:
    """A layer entry whose file data is held (readable at any time); ``name`` is left empty."""
    return LayerEntry(
        path=path,
        type=kind,
        mode=mode,
        mtime=mtime,
        size=size,
        linkname=linkname,
        uid=uid,
        gid=gid,
        reader=(lambda: data) if kind == "file" else None,
    )


def _held_entries(decoded: BinaryIO, prefix: str, name: str | None) -> list[LayerEntry]:
    """:func:`_iter_tar`'s entries (no budget) with their file data read and held."""
    walker = _walker(decoded, name)
    if walker is None:
        return []
    wanted = _normal_prefix(prefix)
    entries = []
    try:
        for member, path in _under(walker, wanted, name):
            kind, linkname = _kind_and_link(member, wanted)
            data = b""
            if kind == "file":
                try:
                    data = walker.read()
                except Exception as err:
                    _raise_layer_error(err, name)
                    raise
            mode, uid, gid, mtime = member.attributes()
            entries.append(
                held_entry(path, kind, mode & 0o7777, mtime, member.size, linkname, uid, gid, data)
            )
    finally:
        walker.close()
    return entries


def iter_entries(
    stream: IO[bytes], prefix: str = "", *, media_type: str | None = None, name: str | None = None
) -> Iterator[LayerEntry]:
    """Stream the tar entries of a (compressed or plain) layer under ``prefix``, prefix stripped.

    Names are cleaned like Go's ``path.Clean``; with a prefix only names starting with it are
    kept (``./manifests/a`` is kept for ``manifests/``, ``/manifests/a`` and ``manifests`` are not).
    File data is read lazily with ``entry.read()`` before advancing. ``stream`` is closed at the end.
    After the last entry the layer is read to its end, so a verifying stream checks its digest
    before iteration finishes; a consumer that stops early must verify the blob itself.
    """
    decoded = open_layer(stream, media_type, name=name)
    try:
        with _settled(decoded):
            yield from _iter_tar(decoded, prefix, name)
            drain(decoded)
    finally:
        decoded.close()


def read_entries(
    stream: IO[bytes], prefix: str = "", *, media_type: str | None = None, name: str | None = None
) -> list[LayerEntry]:
    """:func:`iter_entries`, every entry's data read and held (readable at any time): the layer is read
    to its end, so a verifying stream has checked its digest when this returns. Closes ``stream``."""
    decoded = open_layer(stream, media_type, name=name)
    try:
        with _settled(decoded):
            entries = _held_entries(decoded, prefix, name)
            drain(decoded)
    finally:
        decoded.close()
    return entries


@attrs.frozen(slots=True)
class FileEntry:
    """A file or directory kept from a layer stack: path (prefix stripped), data, mtime, tar mode."""

    __repr__ = value_repr

    path: str
    data: bytes = attrs.field(repr=False)
    mtime: float
    mode: int
    is_dir: bool = False

    @property
    def is_file(self) -> bool:
        """True for a regular file."""
        return not self.is_dir


def _open_source(layer: LayerSource) -> IO[bytes]:
    if callable(layer) and not hasattr(layer, "read"):
        return cast(IO[bytes], layer())
    return cast(IO[bytes], layer)


def _label(names: Sequence[str] | None, index: int) -> str | None:
    if names is not None and index < len(names):
        return names[index]
    return None


def _kept(entry: LayerEntry) -> FileEntry:
    data = entry.read() if entry.is_file else b""
    return FileEntry(entry.path, data, entry.mtime, entry.mode, is_dir=entry.is_dir)


def extract_prefix(
    layers: Sequence[LayerSource],
    prefix: str,
    *,
    names: Sequence[str] | None = None,
    limits: LayerLimits | None = None,
) -> dict[str, FileEntry]:
    """The files and directories under ``prefix`` once the layers are applied bottom→top (OCI whiteouts).

    ``.wh.NAME`` removes NAME from lower layers and from its own layer's earlier entries (oc applies a
    layer in order), ``.wh..wh..opq`` hides the lower children of its
    directory, other ``.wh..wh.*`` entries are skipped; names outside the prefix are filtered first
    (as oc does for operator images); a name repeated in one layer keeps its last entry.
    """
    options = StackOptions(last_in_layer=True, limits=limits or LayerLimits())
    return read_stack(layers, prefix, names=names, options=options)


def read_top_down(
    layers: Sequence[LayerSource],
    prefix: str,
    wanted: Iterable[str] | None = None,
    *,
    names: Sequence[str] | None = None,
    limits: LayerLimits | None = None,
) -> dict[str, FileEntry]:
    """Every path under ``prefix`` once, topmost first, whiteouts not honoured (oc's ``--from-release``).

    With ``wanted`` reading stops as soon as every wanted path has been found and only those are
    returned; the layer being read is still read to its end so its digest is checked.
    """
    want = frozenset(wanted) if wanted is not None else None
    options = StackOptions(whiteouts=False, wanted=want, limits=limits or LayerLimits())
    return read_stack(layers, prefix, names=names, options=options)


# --------------------------------------------------------------------------------------------
# Limits


@attrs.frozen
class LayerLimits:
    """Bounds on what one layer may hold once decompressed; a layer beyond them is refused, naming it.

    ``max_bytes``: decompressed tar bytes per layer; ``max_entries``: tar entries per layer;
    ``max_file_bytes``: one file that is kept in memory (a manifest, image-references, …).
    """

    __repr__ = value_repr

    max_bytes: int = DEFAULT_MAX_LAYER_BYTES
    max_entries: int = DEFAULT_MAX_LAYER_ENTRIES
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES


_SIZE_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def size_in_bytes(text: str) -> int:
    """``4096``, ``512M``, ``8G`` (binary units, an optional ``i``/``B``): a byte count for a limit flag."""
    match = re.fullmatch(r"\s*(\d+)\s*([KMGT]?)i?B?\s*", text, re.IGNORECASE)
    if match is None or int(match.group(1)) <= 0:
        raise ValueError(
            f"invalid size {text!r}: use a positive number of bytes, optionally with K, M, G or T"
        )
    return int(match.group(1)) * _SIZE_UNITS[match.group(2).upper()]


class _Budget:
    """Counts the bytes and entries of one layer against its limits."""

    def __init__(self, limits: LayerLimits, name: str | None) -> None:
        self.limits = limits
        self.name = name
        self.bytes = 0
        self.entries = 0

    def add_bytes(self, count: int) -> None:
        self.bytes += count
        if self.bytes > self.limits.max_bytes:
            raise LayerLimitError(
                f"{_layer_label(self.name)} decompresses to more than {self.limits.max_bytes} bytes "
                "(raise the limit with --max-layer-bytes)"
            )

    def add_entry(self, member: tarwalk.Member, keep: str) -> None:
        """One more entry; a regular file under ``keep`` (a kept file) is bounded in size."""
        self.entries += 1
        if self.entries > self.limits.max_entries:
            raise LayerLimitError(
                f"{_layer_label(self.name)} has more than {self.limits.max_entries} entries"
            )
        size = member.size
        if size > self.limits.max_file_bytes and member.isreg and clean_name(member.name).startswith(keep):
            raise LayerLimitError(
                f"{_layer_label(self.name)} entry {member.name} is {size} bytes, more than the "
                f"{self.limits.max_file_bytes} bytes a payload file may have"
            )


# --------------------------------------------------------------------------------------------
# The layer stack: one reader for every command


#: Called with every entry of every layer (``name`` is the raw tar name) and the layer's label;
#: raise to refuse the stack. ``extract`` plugs its safety checks here.
EntryHook = Callable[["LayerEntry", "str | None"], None]


@attrs.define
class _Hidden:
    """What the layers above the one being read did to the tree: deletions and replacements."""

    __repr__ = value_repr

    whiteouts: set[str] = attrs.Factory(set)
    opaque: set[str] = attrs.Factory(set)
    nondirs: set[str] = attrs.Factory(set)
    dirs: set[str] = attrs.Factory(set)

    def hides(self, path: str, is_dir: bool) -> bool:
        """True when an upper layer deleted or replaced ``path`` of a lower layer."""
        if not (self.whiteouts or self.opaque or self.nondirs):  # nothing deleted above (a top layer)
            return not is_dir and path in self.dirs
        if path in self.whiteouts or path in self.nondirs or "" in self.opaque:
            return True
        if not is_dir and path in self.dirs:
            return True
        return any(p in self.whiteouts or p in self.opaque or p in self.nondirs for p in _parents(path))

    def merge(self, other: _Hidden) -> None:
        """Add what one more layer did (applied after the layer was read)."""
        self.whiteouts |= other.whiteouts
        self.opaque |= other.opaque
        self.nondirs |= other.nondirs
        self.dirs |= other.dirs

    def record(self, path: str, is_dir: bool) -> None:
        """An entry of this layer: it and its parents exist here."""
        self.dirs.update(_parents(path))
        (self.dirs if is_dir else self.nondirs).add(path)


def _parents(path: str) -> Iterator[str]:
    """The ancestors of a cleaned path, nearest first; the root of an absolute name (``/``) is none."""
    parent = posixpath.dirname(path)
    while parent and parent != "/":
        yield parent
        parent = posixpath.dirname(parent)


@attrs.frozen
class StackOptions:
    """How a layer stack is read.

    ``top_only``: only the last layer (``info``); ``whiteouts``: honour ``.wh.`` entries and upper
    entries replacing lower paths (else every path is reported once, topmost first, as oc's
    ``new --from-release`` does); ``outside_prefix``: entries above the prefix (``.wh.<prefix>``, a
    root opaque marker, a file at the prefix) hide it too (a release's payload; oc filters operator
    images' names first, so not there); ``last_in_layer``: a name repeated inside one layer keeps its
    last entry (what unpacking a tar does) instead of the first; ``wanted``: stop reading once these
    paths are found (first-in-layer only).
    """

    __repr__ = value_repr

    top_only: bool = False
    whiteouts: bool = True
    outside_prefix: bool = False
    last_in_layer: bool = False
    wanted: frozenset[str] | None = None
    limits: LayerLimits = LayerLimits()


def _whiteout(path: str) -> tuple[str, str] | None:
    """("opaque", dir) or ("remove", path) for a whiteout entry, ("meta", "") for other .wh..wh. names."""
    parent, base = posixpath.split(path)
    if base == WHITEOUT_OPAQUE:
        return "opaque", parent
    if base.startswith(WHITEOUT_META_PREFIX):
        return "meta", ""
    if base.startswith(WHITEOUT_PREFIX):
        return "remove", posixpath.join(parent, base[len(WHITEOUT_PREFIX) :])
    return None


def read_stack(
    layers: Sequence[LayerSource],
    prefix: str,
    *,
    names: Sequence[str] | None = None,
    options: StackOptions = StackOptions(),
    on_entry: EntryHook | None = None,
) -> dict[str, FileEntry]:
    """Read a layer stack from the top down; return the regular files and directories under ``prefix``.

    Paths have the prefix stripped; the dict is in discovery order (topmost layer first). Each
    layer is a stream or an opener (opened lazily, closed after use); ``names`` label errors. A
    layer that is read is read to its end, so a verifying stream checks its digest; a layer whose
    bytes did not match is read again from its start where its source can (``RestartableSource``),
    what the failed attempt found forgotten.
    """
    wanted_prefix = _normal_prefix(prefix)
    found: dict[str, FileEntry] = {}
    upper = _Hidden()
    indexes = range(len(layers) - 1, -1, -1)
    for index in indexes if not options.top_only else indexes[:1]:
        if options.wanted is not None and options.wanted.issubset(found):
            break
        name = _label(names, index)
        layer = _StackLayer(name, wanted_prefix, options, on_entry, upper, found)
        found, hidden = read_source(layers[index], layer.read)
        upper.merge(hidden)
    return found


@attrs.frozen
class _StackLayer:
    """One layer of ``read_stack``: read into a copy of what the layers above found, so that an
    attempt that fails (and is started again) leaves nothing behind."""

    __repr__ = value_repr

    name: str | None
    prefix: str
    options: StackOptions
    on_entry: EntryHook | None
    upper: _Hidden
    above: dict[str, FileEntry]

    def read(self, stream: BinaryIO) -> tuple[dict[str, FileEntry], _Hidden]:
        """(what the stack holds with this layer added, what this layer hides below it)."""
        found = dict(self.above)
        scope = "" if self.options.outside_prefix else self.prefix
        budget = _Budget(self.options.limits, self.name)
        decoded = open_layer(stream, name=self.name, budget=budget)
        try:
            with _settled(decoded):
                entries = _iter_tar(decoded, scope, self.name, budget=budget, keep_prefix=self.prefix)
                hidden = _walk(
                    entries, self.name, self.prefix, self.options, self.on_entry, self.upper, found
                )
                drain(decoded)
        finally:
            decoded.close()
        return found, hidden


def compose_stack(
    layer_entries: Sequence[Iterable[LayerEntry]], options: StackOptions = StackOptions(last_in_layer=True)
) -> dict[str, FileEntry]:
    """The same stack rules over entries already read (bottom layer first, paths below the prefix)."""
    found: dict[str, FileEntry] = {}
    upper = _Hidden()
    for depth, entries in enumerate(reversed(layer_entries)):
        bottom = depth == len(layer_entries) - 1  # what it hides hides nothing: not recorded
        upper.merge(_walk(entries, None, "", options, None, upper, found, record=not bottom))
    return found


def _walk(
    entries: Iterable[LayerEntry],
    name: str | None,
    prefix: str,
    options: StackOptions,
    on_entry: EntryHook | None,
    upper: _Hidden,
    found: dict[str, FileEntry],
    record: bool = True,
) -> _Hidden:
    """One layer, top-down, into ``found``; return what it hides below it (merged into ``upper`` once the
    layer is done: whiteouts and replacements hide lower layers only). ``record`` False: the bottom
    layer, whose entries' replacements of lower paths are not recorded (there are none)."""
    layer = _Hidden()
    this_layer: set[str] = set()
    added: dict[str, str] = {}  # this layer's entries in found: tar path -> key
    for entry in entries:
        if on_entry is not None:
            on_entry(entry, name)
        full = entry.path
        if options.outside_prefix and full in ("", "."):
            continue
        kind = _whiteout(full) if options.whiteouts else None
        if kind is not None:
            _note_whiteout(layer, kind, full)
            if kind[0] == "remove":
                _drop_earlier(found, this_layer, added, kind[1])
            continue
        if options.whiteouts:
            if record:  # what this layer does to lower ones holds even where it is hidden
                layer.record(full, entry.is_dir)
            if upper.hides(full, entry.is_dir):
                continue
        path = full[len(prefix) :] if options.outside_prefix and full.startswith(prefix) else full
        in_prefix = not options.outside_prefix or (full.startswith(prefix) and bool(path))
        if not in_prefix or entry.type not in ("file", "dir") or not path:
            continue
        if path in found and not (options.last_in_layer and path in this_layer):
            continue
        if options.wanted is not None and path not in options.wanted:
            continue
        found[path] = _kept(entry) if path == entry.path else attrs.evolve(_kept(entry), path=path)
        this_layer.add(path)
        added[full] = path
        if options.wanted is not None and not options.last_in_layer and options.wanted.issubset(found):
            break
    return layer


def _drop_earlier(
    found: dict[str, FileEntry], this_layer: set[str], added: dict[str, str], target: str
) -> None:
    """A whiteout also removes what its own layer wrote before it (oc and docker apply a layer in order)."""
    for full in [f for f in added if f == target or f.startswith(target + "/")]:
        path = added.pop(full)
        found.pop(path, None)
        this_layer.discard(path)


def _note_whiteout(layer: _Hidden, kind: tuple[str, str], full: str) -> None:
    what, path = kind
    if what == "opaque":
        layer.opaque.add(path)
    elif what == "remove":
        layer.whiteouts.add(path)


# --------------------------------------------------------------------------------------------
# Writing


@attrs.frozen(slots=True)
class TarEntry:
    """An entry to write: ``type`` is file, dir, symlink or hardlink; ``data`` is bytes or a stream of ``size``."""

    __repr__ = value_repr

    path: str
    data: bytes | IO[bytes] = attrs.field(default=b"", repr=False)
    mode: int = 0o644
    mtime: float = 0
    type: str = "file"
    linkname: str = ""
    uid: int = 0
    gid: int = 0
    uname: str = ""
    gname: str = ""
    size: int | None = None
    pax: dict[str, str] | None = None


_WRITE_TYPES = {"file": _REGTYPE, "dir": _DIRTYPE, "symlink": _SYMTYPE, "hardlink": _LNKTYPE}


def _tar_info(entry: TarEntry) -> tuple[tarfile.TarInfo, IO[bytes] | None]:
    try:
        kind = _WRITE_TYPES[entry.type]
    except KeyError:
        raise LayerError(f"cannot write tar entry {entry.path}: unsupported type {entry.type!r}") from None
    import tarfile

    info = tarfile.TarInfo(entry.path)
    info.type = kind
    info.mode = entry.mode
    info.mtime = entry.mtime
    info.uid, info.gid, info.uname, info.gname = entry.uid, entry.gid, entry.uname, entry.gname
    info.linkname = entry.linkname
    if entry.pax:
        info.pax_headers = dict(entry.pax)
    if kind != _REGTYPE:
        return info, None
    if isinstance(entry.data, bytes | bytearray):
        info.size = len(entry.data)
        return info, io.BytesIO(entry.data)
    if entry.size is None:
        raise LayerError(f"cannot write tar entry {entry.path}: a stream needs its size")
    info.size = entry.size
    return info, entry.data


def _open_tar_writer(out: IO[bytes]) -> tarfile.TarFile:
    import tarfile

    return tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT, encoding="utf-8")


def write_tar(entries: Iterable[TarEntry], out: IO[bytes]) -> None:
    """Write ``entries`` to ``out`` as a PAX tar in the given order; only the entries decide the bytes."""
    with _open_tar_writer(out) as tar:
        for entry in entries:
            tar.addfile(*_tar_info(entry))


def gzip_stream(out: IO[bytes], level: int = 6) -> BinaryIO:
    """A writable gzip stream into ``out`` with header mtime 0 and no file name (close it to finish)."""
    import gzip

    return cast(BinaryIO, gzip.GzipFile(filename="", mode="wb", compresslevel=level, fileobj=out, mtime=0))


def compress_gzip(data: bytes, level: int = 6) -> bytes:
    """Return ``data`` gzip-compressed deterministically (header mtime 0, no file name)."""
    buffer = io.BytesIO()
    with gzip_stream(buffer, level) as stream:
        stream.write(data)
    return buffer.getvalue()


#: The payload layer's deflate level in ISA-L (python-isal): 1 gzips the benchmark's 6.5 MB payload tar
#: in 6 ms (853 KB) where zlib level 6, oc's, takes 70 ms (656 KB) and zlib level 1 29 ms (915 KB).
PAYLOAD_GZIP_LEVEL = 1


class PayloadGzip:
    """The payload layer's gzip stream (spec P8): ISA-L deflate at :data:`PAYLOAD_GZIP_LEVEL`, Go's
    header (no name, mtime 0, OS 255).

    ISA-L's output depends on how its input is split into calls, so the input is always handed to it
    in blocks of exactly :data:`BLOCK` bytes (the last one shorter): the bytes depend only on what is
    written, never on how the writes split it (held by tests). They do depend on the ISA-L version
    (python-isal, a required dependency: nothing falls back to another compressor and changes digests).
    """

    BLOCK = 1 << 20

    def __init__(self) -> None:
        from isal import isal_zlib

        self._deflate = isal_zlib.compressobj(PAYLOAD_GZIP_LEVEL, isal_zlib.DEFLATED, 31)
        self._pending = bytearray()
        self._out: list[bytes] = []

    def write(self, data: bytes) -> int:
        """Add ``data`` to the stream; whole blocks are deflated now."""
        self._pending += data
        whole = len(self._pending) - len(self._pending) % self.BLOCK
        if whole:
            with memoryview(self._pending) as view:
                for start in range(0, whole, self.BLOCK):
                    self._out.append(self._deflate.compress(view[start : start + self.BLOCK]))
            del self._pending[:whole]
        return len(data)

    def finish(self) -> bytes:
        """Deflate the last (short) block, end the stream and return all of it."""
        self._out.append(self._deflate.compress(bytes(self._pending)))
        self._out.append(self._deflate.flush())
        self._pending = bytearray()
        return b"".join(self._out)


def compress_payload(data: bytes) -> bytes:
    """``data`` as the payload layer's gzip (:class:`PayloadGzip`)."""
    stream = PayloadGzip()
    stream.write(data)
    return stream.finish()


@attrs.frozen
class Gzipped:
    """A gzip stream with the digests of its bytes and of what it holds (a layer's blob digest, diff ID)."""

    __repr__ = value_repr

    blob: bytes = attrs.field(repr=False)
    digest: str
    diff_id: str


class BackgroundGzip:
    """:func:`compress_payload` of everything written to it, deflated (and the written bytes hashed) on a
    thread while the writer goes on.

    :class:`PayloadGzip`'s bytes do not depend on how its input is split, so they are exactly
    ``compress_payload(b"".join(written))``; deflating and hashing release the GIL, so building the
    payload tar and compressing it overlap. Writes are handed over in blocks of about :data:`BLOCK`
    through a queue of at most :data:`QUEUED` blocks (a writer ahead of the deflating waits), and
    nothing written is kept once deflated: the stream holds about 2 MiB (these blocks and
    PayloadGzip's one pending block) and the gzip, never the whole tar.
    """

    BLOCK = 256 << 10
    QUEUED = 4

    def __init__(self) -> None:
        self._pending: list[bytes] = []
        self._pending_size = 0
        self._queue: queue.Queue[bytes | None] = queue.Queue(self.QUEUED)
        self._result: Gzipped | None = None
        self._error: BaseException | None = None
        self._finished = False
        self._thread = threading.Thread(target=self._deflate, name="okdrelease-gzip", daemon=True)
        self._thread.start()

    def write(self, data: bytes) -> int:
        """Add ``data`` to the stream (a file-like ``write``)."""
        self._pending.append(bytes(data))
        self._pending_size += len(data)
        if self._pending_size >= self.BLOCK:
            self._hand_over()
        return len(data)

    def _hand_over(self) -> None:
        if self._pending:
            block = b"".join(self._pending)
            self._pending, self._pending_size = [], 0
            self._queue.put(block)

    def _deflate(self) -> None:
        ended = False
        try:
            stream = PayloadGzip()  # the one payload gzip writer
            written = hashlib.sha256()
            while (block := self._queue.get()) is not None:
                written.update(block)
                stream.write(block)
            ended = True
            blob = stream.finish()
            self._result = Gzipped(blob, sha256_digest(blob), "sha256:" + written.hexdigest())
        except BaseException as err:  # noqa: BLE001 - handed to the caller of gzipped()
            self._error = err
            # Go on taking blocks to the end: a writer never waits on a queue nobody empties.
            while not ended and self._queue.get() is not None:
                pass

    def finish(self) -> None:
        """End the stream (the thread deflates the rest on its own)."""
        if not self._finished:
            self._hand_over()
            self._queue.put(None)
            self._finished = True

    def gzipped(self) -> Gzipped:
        """The gzip stream of everything written and its digests (waits for the thread); :meth:`finish` first."""
        if not self._finished:
            raise ValueError("BackgroundGzip.gzipped() before finish()")
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result


class _HashingWriter(io.RawIOBase):
    """Forward writes to ``out`` while hashing and counting them."""

    def __init__(self, out: IO[bytes]) -> None:
        super().__init__()
        self._out = out
        self.hasher = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self.hasher.update(chunk)
        self.size += len(chunk)
        self._out.write(chunk)
        return len(chunk)

    @property
    def digest(self) -> str:
        return "sha256:" + self.hasher.hexdigest()


@attrs.frozen(slots=True)
class BuiltLayer:
    """A written layer: digest and size of the blob, diff_id of its tar, and its bytes or file path."""

    __repr__ = value_repr

    digest: str
    diff_id: str
    size: int
    media_type: str
    data: bytes | None = attrs.field(default=None, repr=False)
    path: str | None = None

    def descriptor(self) -> Descriptor:
        """The layer descriptor (media type, digest, size)."""
        return Descriptor(self.media_type, self.digest, self.size)


class LayerBuilder:
    """Stream tar entries into a layer blob (gzip unless ``compress=False``), hashing blob and tar as written.

    With ``path`` the blob goes to that file, else it is kept in memory. ``finish()`` returns a
    BuiltLayer; as a context manager the builder finishes on a clean exit.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        compress: bool = True,
        level: int = 6,
        media_type: str | None = None,
    ) -> None:
        """Open the sink; ``media_type`` defaults to the OCI layer type for the compression."""
        self._path = os.fspath(path) if path is not None else None
        self._file: IO[bytes] = open(self._path, "wb") if self._path else io.BytesIO()
        self._blob = _HashingWriter(self._file)
        self._gzip = gzip_stream(cast(IO[bytes], self._blob), level) if compress else None
        tar_out = cast(IO[bytes], self._gzip) if self._gzip is not None else cast(IO[bytes], self._blob)
        self._tar_sink = _HashingWriter(tar_out)
        self._tar = _open_tar_writer(cast(IO[bytes], self._tar_sink))
        self._media_type = media_type or (mt.OCI_LAYER_GZIP if compress else mt.OCI_LAYER)
        self._result: BuiltLayer | None = None

    def add(self, entry: TarEntry) -> None:
        """Append one entry to the tar."""
        if self._result is not None:
            raise LayerError("cannot add to a finished layer")
        self._tar.addfile(*_tar_info(entry))

    def add_all(self, entries: Iterable[TarEntry]) -> None:
        """Append entries in order."""
        for entry in entries:
            self.add(entry)

    def finish(self) -> BuiltLayer:
        """Close the tar and the compressor; return digests, size and the blob."""
        if self._result is not None:
            return self._result
        self._tar.close()
        if self._gzip is not None:
            self._gzip.close()
        data = None
        if isinstance(self._file, io.BytesIO):
            data = self._file.getvalue()
        else:
            self._file.close()
        self._result = BuiltLayer(
            digest=self._blob.digest,
            diff_id=self._tar_sink.digest,
            size=self._blob.size,
            media_type=self._media_type,
            data=data,
            path=self._path,
        )
        return self._result

    def __enter__(self) -> LayerBuilder:
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if exc_type is None:
            self.finish()
        elif not isinstance(self._file, io.BytesIO):
            self._file.close()


def build_layer(entries: Iterable[TarEntry], *, compress: bool = True, level: int = 6) -> BuiltLayer:
    """Build an in-memory layer from ``entries``."""
    builder = LayerBuilder(compress=compress, level=level)
    builder.add_all(entries)
    return builder.finish()
