"""Byte-exact writer for the tar streams Go's ``archive/tar`` produces with default settings (spec §3.11.5)."""

from __future__ import annotations

import logging
import math
import posixpath
import zlib
from typing import BinaryIO

from okdrelease.errors import LayerError

log = logging.getLogger(__name__)

BLOCK_SIZE = 512
_NAME_SIZE = 100
_PREFIX_SIZE = 155
#: The latest instant Go can represent as int64 Unix nanoseconds (2262-04-11T23:47:16.854775807Z).
_MAX_UNIX_SECONDS = (2**63 - 1) / 1e9

# Field offsets and sizes of the ustar header.
_NAME = (0, 100)
_MODE = (100, 8)
_UID = (108, 8)
_GID = (116, 8)
_SIZE = (124, 12)
_MTIME = (136, 12)
_CHKSUM = (148, 8)
_TYPEFLAG = 156
_MAGIC = (257, 6)
_VERSION = (263, 2)
_DEVMAJOR = (329, 8)
_DEVMINOR = (337, 8)
_PREFIX = (345, 155)

TYPE_REG = b"0"
TYPE_DIR = b"5"
TYPE_PAX = b"x"


def go_mtime(mtime: float) -> int:
    """Return the whole-second mtime Go's tar writer records for a file time ``mtime`` (Unix seconds).

    Go rounds to the nearest second (``Time.Round``: halves up, towards the future); times outside
    the octal field (negative, after 2242) are kept and written as a PAX ``mtime`` record.
    """
    if not math.isfinite(mtime):
        return 0
    return math.floor(mtime + 0.5)


def go_unix_nano(seconds: int) -> int:
    """Return Go's ``Time.UnixNano`` of a whole-second time: int64 arithmetic, wrapping outside 1678..2262.

    ``os.Chtimes`` hands this value to the kernel unchanged, so a file oc stamps with a time after
    2262 gets the wrapped time (then whatever the filesystem clamps it to).
    """
    value = (seconds * 1_000_000_000) & (2**64 - 1)
    return value - 2**64 if value >= 2**63 else value


def extracted_mtime(mtime: float) -> float:
    """Return the mtime a file gets when oc extracts an image layer to disk.

    oc sets it with docker's ``chtimes``, which replaces a time before the epoch or beyond Go's
    int64-nanosecond range (year 2262) by the epoch. Files read from a directory keep their time.
    """
    if not math.isfinite(mtime) or mtime < 0 or mtime > _MAX_UNIX_SECONDS:
        return 0.0
    return mtime


def _is_ascii(raw: bytes) -> bool:
    """Return True if ``raw`` holds only non-NUL ASCII bytes (Go's ``isASCII``)."""
    return raw.isascii() and b"\0" not in raw


def _to_ascii(raw: bytes) -> bytes:
    """Return ``raw`` without NUL and non-ASCII bytes (Go's ``toASCII``)."""
    return raw if _is_ascii(raw) else bytes(b for b in raw if 0 < b < 0x80)


def _fits_octal(size: int, value: int) -> bool:
    """Return True if ``value`` fits a NUL-terminated octal field of ``size`` bytes."""
    limit: int = 8 ** (size - 1)
    return 0 <= value < limit


def _split_ustar_path(name: bytes) -> tuple[bytes, bytes] | None:
    """Split a long ASCII name into ustar (prefix, name) like Go's ``splitUSTARPath``; None if impossible."""
    length = len(name)
    if length <= _NAME_SIZE or not _is_ascii(name):
        return None
    if length > _PREFIX_SIZE + 1:
        length = _PREFIX_SIZE + 1
    elif name[length - 1 : length] == b"/":
        length -= 1
    i = name.rfind(b"/", 0, length)
    nlen = len(name) - i - 1
    if i <= 0 or nlen > _NAME_SIZE or nlen == 0 or i > _PREFIX_SIZE:
        return None
    return name[:i], name[i + 1 :]


def _put_string(block: bytearray, field: tuple[int, int], value: bytes) -> None:
    """Store ``value`` in a string field, truncating and NUL-terminating like Go's ``formatString``."""
    offset, size = field
    chunk = value[:size]
    block[offset : offset + len(chunk)] = chunk
    if len(value) < size:
        block[offset + len(value)] = 0
    if len(value) > size and chunk.endswith(b"/"):
        block[offset + len(chunk.rstrip(b"/"))] = 0


def _put_octal(block: bytearray, field: tuple[int, int], value: int) -> None:
    """Store ``value`` as zero-padded octal with a NUL terminator (0 if it does not fit), like Go."""
    _offset, size = field
    if not _fits_octal(size, value):
        value = 0
    _put_string(block, field, format(value, "o").rjust(size - 1, "0").encode("ascii"))


def _finish(block: bytearray) -> bytes:
    """Set the ustar magic and checksum of a header block and return it."""
    block[_MAGIC[0] : _MAGIC[0] + 6] = b"ustar\0"
    block[_VERSION[0] : _VERSION[0] + 2] = b"00"
    offset, size = _CHKSUM
    block[offset : offset + size] = b" " * size
    _put_octal(block, (offset, 7), sum(block))
    block[offset + 7] = 0x20
    return bytes(block)


def _pax_record(key: str, value: bytes) -> bytes:
    """Return one PAX extended-header record ``"<len> key=value\\n"``."""
    body = b" " + key.encode("ascii") + b"=" + value + b"\n"
    size = len(body) + len(str(len(body)))
    record = str(size).encode("ascii") + body
    if len(record) != size:
        record = str(len(record)).encode("ascii") + body
    return record


def _pax_header_name(name: bytes) -> bytes:
    """Return the name Go gives the ``x`` entry for ``name``: ``<dir>/PaxHeaders.0/<file>``, cleaned."""
    directory, file = posixpath.split(name)
    joined = posixpath.normpath(posixpath.join(directory, b"PaxHeaders.0", file))
    if joined.startswith(b"//"):
        joined = b"/" + joined.lstrip(b"/")
    return _to_ascii(joined)[:_NAME_SIZE].rstrip(b"/")


def _zero_fields() -> bytes:
    block = bytearray(BLOCK_SIZE)
    for field in (_UID, _GID, _DEVMAJOR, _DEVMINOR):
        _put_octal(block, field, 0)
    return bytes(block)


_ZERO_FIELDS = _zero_fields()
#: The end-of-archive marker, two zero blocks (the padding of a file is cut from it).
_END_MARKER = bytes(2 * BLOCK_SIZE)


class GoTarWriter:
    """Writes tar entries exactly as Go's ``archive/tar.Writer`` does for headers without a set format."""

    def __init__(self, fileobj: BinaryIO) -> None:
        """Write to the binary stream ``fileobj``."""
        self._out = fileobj
        self._closed = False
        #: The zeros that end the last file's data block, written with what comes next (as Go's writer
        #: pads a file when the next header or the end is written): one write less per file.
        self._padding = b""

    def add_dir(self, name: str, mode: int = 0o777, mtime: float = 0) -> None:
        """Write a directory entry ``name`` (no trailing slash is added)."""
        self._write_header(name, TYPE_DIR, mode, 0, mtime)

    def add_file(self, name: str, data: bytes, mode: int = 0o444, mtime: float = 0) -> None:
        """Write a regular-file entry ``name`` holding ``data``, padded to the block size (the padding
        is written with the next entry's header or the end-of-archive marker)."""
        self._write_header(name, TYPE_REG, mode, len(data), mtime)
        self._out.write(data)
        self._padding = _END_MARKER[: -len(data) % BLOCK_SIZE]

    def close(self) -> None:
        """Write the last file's padding and the end-of-archive marker: exactly two zero blocks, no
        record padding."""
        if not self._closed:
            self._out.write(self._padding + _END_MARKER)
            self._padding = b""
            self._closed = True

    def _write(self, header: bytes) -> None:
        """Write an entry's header block(s), after the last file's padding."""
        if self._padding:
            header = self._padding + header
            self._padding = b""
        self._out.write(header)

    def _write_header(self, name: str, typeflag: bytes, mode: int, size: int, mtime: float) -> None:
        """Choose ustar or PAX for one entry like Go and write its header block(s)."""
        if self._closed:
            raise LayerError(f"tar writer is closed; cannot add {name!r}")
        raw = name.encode("utf-8", "surrogateescape")
        seconds = go_mtime(mtime)
        if (
            _is_ascii(raw)
            and 0 <= mode < _MODE_LIMIT
            and 0 <= size < _OCTAL_12_LIMIT
            and 0 <= seconds < _OCTAL_12_LIMIT
        ):
            if len(raw) <= _NAME_SIZE:
                self._write(_ustar_header(raw, typeflag, mode, size, seconds))
                return
            split = _split_ustar_path(raw)
            if split is not None:  # a long ASCII name Go splits into ustar's prefix and name fields
                self._write(_ustar_header(split[1], typeflag, mode, size, seconds, split[0]))
            else:  # a long ASCII name that cannot be split: a PAX path record
                self._write(_pax_path_header(raw, typeflag, mode, size, seconds))
            return
        self._write(_header_blocks(name, raw, typeflag, mode, size, seconds))


def _header_blocks(name: str, raw: bytes, typeflag: bytes, mode: int, size: int, seconds: int) -> bytes:
    """The header block(s) Go writes for one entry: ustar, or a PAX ``x`` entry and then ustar."""
    if b"\0" in raw:
        raise LayerError(f"tar entry name {name!r} contains a NUL byte")
    if not _fits_octal(_MODE[1], mode):
        raise LayerError(f"tar entry {name!r} has an invalid mode {mode:o}")
    # Like Go's Header.allowedFormats: a long name that can be split still allows ustar, but its
    # path record is kept in case another field forces PAX.
    pax: dict[str, bytes] = {}
    split = _split_ustar_path(raw)
    ustar = True
    if len(raw) > _NAME_SIZE or not _is_ascii(raw):
        pax["path"] = raw
        ustar = split is not None
    if not _fits_octal(_SIZE[1], size):
        pax["size"] = str(size).encode("ascii")
        ustar = False
    if not _fits_octal(_MTIME[1], seconds):
        pax["mtime"] = str(seconds).encode("ascii")
        ustar = False
    if ustar:
        prefix, short = split if split is not None else (b"", raw)
        block = _template(short, typeflag, mode, size, seconds)
        _put_string(block, _PREFIX, prefix)
        return _finish(block)
    records = b"".join(_pax_record(key, pax[key]) for key in sorted(pax))
    log.debug("PAX header for tar entry %r: %s", name, sorted(pax))
    xblock = bytearray(BLOCK_SIZE)
    xblock[_TYPEFLAG] = TYPE_PAX[0]
    _put_string(xblock, _NAME, _pax_header_name(raw))
    for field in (_MODE, _UID, _GID, _MTIME):
        _put_octal(xblock, field, 0)
    _put_octal(xblock, _SIZE, len(records))
    padding = bytes(-len(records) % BLOCK_SIZE)
    ustar_block = _finish(_template(_to_ascii(raw), typeflag, mode, size, seconds))
    return _finish(xblock) + records + padding + ustar_block


def _template(name: bytes, typeflag: bytes, mode: int, size: int, seconds: int) -> bytearray:
    """Return a header block with the fields Go's ``templateV7Plus`` fills (no magic or checksum)."""
    block = bytearray(_ZERO_FIELDS)  # uid, gid, devmajor and devminor are 0
    block[_TYPEFLAG] = typeflag[0]
    _put_string(block, _NAME, name)
    _put_octal(block, _MODE, mode)
    _put_octal(block, _SIZE, size)
    _put_octal(block, _MTIME, seconds)
    return block


#: Limits of the octal fields: mode (7 digits), size and mtime (11 digits).
_MODE_LIMIT = 8 ** (_MODE[1] - 1)
_OCTAL_12_LIMIT = 8 ** (_SIZE[1] - 1)
_ZEROS_UID_GID = _ZERO_FIELDS[_UID[0] : _GID[0] + _GID[1]]
#: A ustar header after the typeflag: linkname, magic and version, uname and gname, devmajor and
#: devminor (0), prefix and padding.
_USTAR_TAIL = _finish(bytearray(_ZERO_FIELDS))[_TYPEFLAG + 1 :]
#: Where the prefix field starts and ends within that tail (it is all zeros there).
_TAIL_PREFIX = _PREFIX[0] - _TYPEFLAG - 1
_TAIL_PAD = _TAIL_PREFIX + _PREFIX_SIZE
#: The checksum's share of the tail and of the checksum field itself (eight blanks while it is summed).
_USTAR_TAIL_SUM = sum(_USTAR_TAIL) + 8 * 0x20


def _byte_sum(data: bytes) -> int:
    """``sum(data)`` of at most 256 bytes (a header's fields), from zlib's Adler-32 (in C): its low half
    is 1 + the sum modulo 65521, and 256 bytes sum to at most 65,280."""
    return (zlib.adler32(data) & 0xFFFF) - 1


def _ustar_header(
    name: bytes, typeflag: bytes, mode: int, size: int, seconds: int, prefix: bytes = b""
) -> bytes:
    """:func:`_header_blocks` of an entry that fits ustar (an ASCII name of at most 100 bytes, or one
    :func:`_split_ustar_path` splits into ``prefix`` and ``name``; every number in its octal field),
    built in one go: the same bytes (tests hold both to it)."""
    name_field = name.ljust(_NAME_SIZE, b"\0")
    head = b"%s%07o\0%s%011o\0%011o\0" % (name_field, mode, _ZEROS_UID_GID, size, seconds)
    tail = _USTAR_TAIL
    checksum = _byte_sum(head) + typeflag[0] + _USTAR_TAIL_SUM
    if prefix:
        tail = b"%s%s%s" % (
            _USTAR_TAIL[:_TAIL_PREFIX],
            prefix.ljust(_PREFIX_SIZE, b"\0"),
            _USTAR_TAIL[_TAIL_PAD:],
        )
        checksum += _byte_sum(prefix)
    return b"%s%06o\0 %s%s" % (head, checksum, typeflag, tail)


#: The tail of a PAX ``x`` header after its typeflag: magic and version only (Go leaves the device
#: numbers of an ``x`` entry empty), and its share of the checksum with the checksum field's blanks.
_PAX_TAIL = _finish(bytearray(BLOCK_SIZE))[_TYPEFLAG + 1 :]
_PAX_TAIL_SUM = sum(_PAX_TAIL) + 8 * 0x20 + TYPE_PAX[0]


def _pax_path_header(name: bytes, typeflag: bytes, mode: int, size: int, seconds: int) -> bytes:
    """:func:`_header_blocks` of an entry whose only PAX record is its path (a long ASCII name
    :func:`_split_ustar_path` cannot split; every number in its octal field), built in one go: the
    same bytes (tests hold both to it)."""
    records = _pax_record("path", name)
    log.debug("PAX header for tar entry %r: %s", name.decode("ascii"), ["path"])
    xname = _pax_header_name(name).ljust(_NAME_SIZE, b"\0")
    xhead = b"%s%07o\0%s%011o\0%011o\0" % (xname, 0, _ZEROS_UID_GID, len(records), 0)
    xblock = b"%s%06o\0 %s%s" % (xhead, _byte_sum(xhead) + _PAX_TAIL_SUM, TYPE_PAX, _PAX_TAIL)
    field = bytearray(_NAME_SIZE)
    _put_string(field, _NAME, name)  # cut, a trailing slash of the cut name becoming its NUL terminator
    padding = bytes(-len(records) % BLOCK_SIZE)
    return xblock + records + padding + _ustar_header(bytes(field), typeflag, mode, size, seconds)
