"""Layer reading: decompression by magic bytes, the streamed tar walk, names cleaned and filtered by a
prefix, and the entries a layer holds (``LayerEntry``; ``read_entries`` for a layer index).

Reading never holds a whole layer: tar entries are streamed, skipped entries are read past in
chunks, and only the files a caller keeps are buffered. Names are cleaned like Go's ``path.Clean``
and filtered by a prefix (``manifests/``) as ``oc`` does (spec §3.7.5). A layer is counted against
its ``LayerLimits`` while it is read. How a stack of layers composes (whiteouts) is
``oci.layerstack``; writing layers is ``oci.layerwrite``.
"""

from __future__ import annotations

import contextlib
import io
import logging
import posixpath
import zlib
from collections.abc import Callable, Iterator
from typing import IO, TYPE_CHECKING, Any, BinaryIO, Protocol, TypeVar, cast, runtime_checkable

import attrs

from okdrelease._repr import value_repr
from okdrelease.errors import DigestMismatchError, LayerError
from okdrelease.oci.layerlimits import LayerLimitError, LayerLimits

if TYPE_CHECKING:
    from okdrelease.oci import tarwalk  # loaded when a layer is read

log = logging.getLogger(__name__)

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
BZIP2_MAGIC = b"BZh"
XZ_MAGIC = b"\xfd7zXZ\x00"

_CHUNK = 1 << 16
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


#: The entry types and their tar type flags (tarfile's REGTYPE, DIRTYPE, SYMTYPE, LNKTYPE, CHRTYPE,
#: BLKTYPE, FIFOTYPE); a regular file is told by ``tarwalk.Member.isreg`` (several flags).
TYPE_FLAGS = {
    "file": b"0",
    "dir": b"5",
    "symlink": b"2",
    "hardlink": b"1",
    "char": b"3",
    "block": b"4",
    "fifo": b"6",
}
_TYPES = {flag: kind for kind, flag in TYPE_FLAGS.items() if kind != "file"}


def normal_prefix(prefix: str) -> str:
    """``prefix`` cleaned, with one trailing slash (``""`` for the whole layer: ``""``, ``.``, ``./``)."""
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
    wanted = normal_prefix(prefix)
    keep = wanted if keep_prefix is None else normal_prefix(keep_prefix)

    def reader() -> bytes:
        with _layer_errors(name):
            return walker.read()

    try:
        for member, path in _under(walker, wanted, name, budget, keep):
            entry = _entry(member, path, wanted, member.name, reader if member.isreg else None)
            try:
                yield entry
            finally:
                entry.invalidate()
    finally:
        walker.close()


def _held_entries(decoded: BinaryIO, prefix: str, name: str | None) -> list[LayerEntry]:
    """:func:`_iter_tar`'s entries (no budget, ``name`` left empty) with their file data read and held."""
    walker = _walker(decoded, name)
    if walker is None:
        return []
    wanted = normal_prefix(prefix)
    entries = []
    try:
        for member, path in _under(walker, wanted, name):
            held = None
            if member.isreg:
                try:
                    held = _holding(walker.read())
                except Exception as err:
                    _raise_layer_error(err, name)
                    raise
            entries.append(_entry(member, path, wanted, "", held))
    finally:
        walker.close()
    return entries


def _entry(
    member: tarwalk.Member, path: str, wanted: str, name: str, reader: Callable[[], bytes] | None
) -> LayerEntry:
    """The entry of one tar member at ``path``: its type (file, dir, ...), mode bits, link target (prefix
    stripped when under it); ``reader`` gives a regular file's data, and is None for any other member."""
    linkname = member.linkname
    if wanted and linkname and clean_name(linkname).startswith(wanted):
        linkname = clean_name(linkname)[len(wanted) :]
    mode, uid, gid, mtime = member.attributes()
    return LayerEntry(
        path=path,
        name=name,
        type="file" if reader is not None else _TYPES.get(member.type, "other"),
        mode=mode & 0o7777,
        mtime=mtime,
        size=member.size,
        linkname=linkname,
        uid=uid,
        gid=gid,
        reader=reader,
    )


def _holding(data: bytes) -> Callable[[], bytes]:
    """A reader of data already read."""
    return lambda: data


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
        reader=_holding(data) if kind == "file" else None,
    )


def _read_layer(
    stream: IO[bytes],
    media_type: str | None,
    name: str | None,
    budget: _Budget | None,
    read: Callable[[BinaryIO], T],
) -> T:
    """Run ``read`` on the decoded layer, then read the layer to its end (a verifying stream checks its
    digest) and close it; a layer that cannot be decoded is read to its end first (:func:`_settled`)."""
    decoded = open_layer(stream, media_type, name=name, budget=budget)
    try:
        with _settled(decoded):
            result = read(decoded)
            drain(decoded)
    finally:
        decoded.close()
    return result


def read_entries(
    stream: IO[bytes], prefix: str = "", *, media_type: str | None = None, name: str | None = None
) -> list[LayerEntry]:
    """The tar entries of a (compressed or plain) layer under ``prefix``, prefix stripped, in tar order,
    every file's data read and held (readable at any time); ``name`` (the layer's label in errors) is
    not kept in the entries.

    Names are cleaned like Go's ``path.Clean``; with a prefix only names starting with it are
    kept (``./manifests/a`` is kept for ``manifests/``, ``/manifests/a`` and ``manifests`` are not).
    The layer is read to its end, so a verifying stream has checked its digest when this returns.
    Closes ``stream``.
    """
    return _read_layer(stream, media_type, name, None, lambda decoded: _held_entries(decoded, prefix, name))


def walk_entries(
    stream: IO[bytes],
    scope: str,
    use: Callable[[Iterator[LayerEntry]], T],
    *,
    name: str | None,
    limits: LayerLimits,
    keep_prefix: str,
) -> T:
    """Hand ``use`` the entries of a layer under ``scope`` (stripped), each readable only until the next,
    and return what it returns; the layer is counted against ``limits`` (a regular file under
    ``keep_prefix`` is a kept one) and read to its end afterwards, so a verifying stream checks its
    digest even when ``use`` stops early. Closes ``stream``."""
    budget = _Budget(limits, name)

    def read(decoded: BinaryIO) -> T:
        return use(_iter_tar(decoded, scope, name, budget=budget, keep_prefix=keep_prefix))

    return _read_layer(stream, None, name, budget, read)


def _open_source(layer: LayerSource) -> IO[bytes]:
    if callable(layer) and not hasattr(layer, "read"):
        return cast(IO[bytes], layer())
    return cast(IO[bytes], layer)


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
