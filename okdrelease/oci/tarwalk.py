"""Tar headers read fast, exactly as the standard library's ``tarfile`` reads them in stream mode.

A layer scan reads every header of a layer (a base layer has 10,000-20,000 entries), and ``tarfile``
spends about 30 µs on each. :class:`TarWalker` reads the common header itself: a 512-byte block of
one of the plain types (regular file, v7 file, contiguous file, directory, hard and symbolic link,
character and block device, FIFO) whose numbers are plain octal and whose unsigned checksum is right,
decoded field by field as ``tarfile``'s ``TarInfo.frombuf`` decodes it; and a PAX extended header
written the same way whose records ``tarfile`` only applies to the member after it (path, linkpath,
mtime, uid, gid, and keywords that change nothing a layer reads), when it and that member's header
are in the buffer already (``_proc_pax``'s parsing, :func:`pax_records`). Every other header (PAX
records with a charset, a size or GNU's sparse keys, GNU extensions, sparse files, base-256 numbers,
unknown types, a signed checksum, anything damaged) is handed to ``tarfile``: a ``tarfile`` opened on
the rest of the stream reads that member with its extension headers, and the walker goes on after it.
``tarfile`` keeps the rest of the layer after a global PAX header (its values apply to every later
member) and whenever the hand-off did not end where expected.

``tarfile`` treats the first header of an archive apart (a bad one raises ``ReadError`` where a later
one ends the archive), so a header handed over after the first is preceded by a valid empty member,
the hand-off header, which is skipped: ``tarfile`` sees it as a later header, as a single ``tarfile``
reading the whole layer would. The walker raises ``tarfile``'s own errors where it decides itself
(data cut short, a file read twice), and reads its stream in the same ``bufsize`` chunks, only when
``tarfile`` would: a byte budget counted by that stream is reached at the same entry.
"""

from __future__ import annotations

import codecs
import functools
import os
import re
import struct
import sys
import zlib
from collections.abc import Callable, Iterator, Sequence
from typing import IO, TYPE_CHECKING, Any, NamedTuple, Protocol, cast

if TYPE_CHECKING:
    import tarfile  # loaded when a header is handed over (the common layer needs none of it)

BLOCK = 512
#: tarfile's regular types: REGTYPE, AREGTYPE (v7), CONTTYPE and the old GNU sparse type.
REGULAR_TYPES = frozenset({b"0", b"\0", b"7", b"S"})
#: The types the walker reads itself (a GNU or PAX extension goes to tarfile).
_PLAIN_TYPES = frozenset({b"0", b"\0", b"7", b"1", b"2", b"3", b"4", b"5", b"6"})
_DATA_TYPES = frozenset({b"0", b"\0", b"7"})
_DIRTYPE = b"5"
_ZERO_BLOCK = bytes(BLOCK)
_OCTAL_CHARS = b"01234567 \0"
#: A header as Go, GNU tar and Python write it: mode, uid, gid, size, mtime and chksum in zero-padded
#: octal (NUL-terminated; chksum NUL and blank), a plain type, devices both 0 or empty.
_HEADER = (
    rb"(?s).{100}([0-7]{7})\x00([0-7]{7})\x00([0-7]{7})\x00([0-7]{11})\x00([0-7]{11})\x00([0-7]{6})\x00 "
    rb"%b.{172}(?:\x00{16}|0{7}\x000{7}\x00)"
)
_USUAL_HEADER = re.compile(_HEADER % rb"[0-7\x00]")
#: A PAX extended header (type ``x``) written the same way.
_PAX_HEADER = re.compile(_HEADER % rb"x")
#: tarfile's PAX record: ``"%d %s=%s\n" % (length, keyword, value)``.
_PAX_LENGTH = re.compile(rb"([0-9]{1,20}) ")
#: mode, uid, gid, size, mtime, chksum, devmajor, devminor.
_NUMBER_FIELDS = struct.Struct("100x8s8s8s12s12s8s173x8s8s")
#: tarfile's encoding for names (and its error handler, surrogateescape).
_ENCODING = "utf-8" if os.name == "nt" else sys.getfilesystemencoding()
#: Names are decoded here only in UTF-8, whose decoder never fails with surrogateescape (else tarfile reads all).
_WALKS = codecs.lookup(_ENCODING).name == "utf-8"


class Readable(Protocol):
    """A binary stream read in chunks (a decoded layer)."""

    def read(self, size: int = -1, /) -> bytes:
        """Up to ``size`` bytes; empty at the end."""
        ...


class Member(NamedTuple):
    """One tar member, as ``tarfile`` reads it (``type`` is its type flag; a v7 directory's is ``5``).

    ``numbers`` holds mode, uid, gid, size and mtime (at 0, 1, 2, 3 and 4): values, or the octal digits
    of a plain header, read when asked (a layer scan passes most members by their name alone).
    """

    name: str
    type: bytes
    size: int
    linkname: str
    numbers: Sequence[bytes | float]

    @property
    def isreg(self) -> bool:
        """True for a regular file (tarfile's ``TarInfo.isreg``)."""
        return self.type in REGULAR_TYPES

    @property
    def mode(self) -> int:
        """The permission bits and more (tarfile's ``TarInfo.mode``)."""
        return int(_number(self.numbers[0]))

    @property
    def uid(self) -> int:
        """The owner's user id."""
        return int(_number(self.numbers[1]))

    @property
    def gid(self) -> int:
        """The owner's group id."""
        return int(_number(self.numbers[2]))

    @property
    def mtime(self) -> float:
        """The modification time (an int from a header, a float from a PAX record)."""
        return _number(self.numbers[4])

    def attributes(self) -> tuple[int, int, int, float]:
        """``(mode, uid, gid, float(mtime))`` in one step (an entry's)."""
        mode, uid, gid, _size, mtime = self.numbers[:5]
        if (
            isinstance(mode, bytes)
            and isinstance(uid, bytes)
            and isinstance(gid, bytes)
            and isinstance(mtime, bytes)
        ):
            return int(mode, 8), int(uid, 8), int(gid, 8), float(int(mtime, 8))  # a plain header's digits
        return int(_number(mode)), int(_number(uid)), int(_number(gid)), float(_number(mtime))


def _number(value: bytes | float) -> float:
    return int(value, 8) if isinstance(value, bytes) else value


#: Member((fields)) without NamedTuple's keyword-handling constructor (a third of a header's time).
_new_member = cast(Callable[[tuple[object, ...]], Member], functools.partial(tuple.__new__, Member))


def _member_of(info: tarfile.TarInfo) -> Member:
    numbers = (info.mode, info.uid, info.gid, info.size, info.mtime)
    return _new_member((info.name, info.type, info.size, info.linkname, numbers))


def _unusual_numbers(block: bytes) -> tuple[int, ...] | None:
    """mode, uid, gid, size, mtime and chksum as tarfile's ``nti`` reads them; None when a field is not
    plain octal (base-256, signs, other characters: tarfile decides) or tarfile would reject it."""
    if block[100:156].translate(None, _OCTAL_CHARS) or block[329:345].translate(None, _OCTAL_CHARS):
        return None
    try:  # nti: up to the first NUL, blanks stripped, empty is 0 (a blank inside is invalid)
        values = [int(f.partition(b"\0")[0].strip() or b"0", 8) for f in _NUMBER_FIELDS.unpack_from(block)]
    except ValueError:
        return None
    return tuple(values[:6])


def _text(field: bytes) -> str:
    """tarfile's ``nts``: up to the first NUL, decoded."""
    return field.partition(b"\0")[0].decode(_ENCODING, "surrogateescape")


def _checksum_ok(block: bytes, checksum: int) -> bool:
    """Whether ``checksum`` is the unsigned byte sum of ``block`` with its checksum field as 8 blanks."""
    low = (zlib.adler32(block[:256]) & 0xFFFF) + (zlib.adler32(block[256:]) & 0xFFFF) - 2
    return checksum == low - sum(block[148:156]) + 256


def pax_size(block: bytes) -> int | None:
    """The size of the records of a PAX extended header block written the usual way (plain octal
    numbers, the unsigned checksum right: tarfile reads it without fail); None for any other block."""
    usual = _PAX_HEADER.match(block) if len(block) == BLOCK else None
    if usual is None or not _checksum_ok(block, int(usual[6], 8)):
        return None
    return int(usual[4], 8)


def pax_records(buf: bytes) -> dict[str, str] | None:
    """The records of an extended header's ``buf`` (its size rounded up to blocks), read as tarfile's
    ``_proc_pax`` reads them; None where the walker leaves them to tarfile: a header charset, a size
    (it moves the next header), GNU's records (sparse files), and any record that the lax parser
    (Python before 3.11.10 and 3.12.6) and the strict one (CVE-2024-6232's fix) would not read alike:
    a length that is not 1-20 digits and a space, below 5 or past the buffer, a record not ending in
    a newline exactly at its length, no ``=`` or an empty keyword (the running tarfile decides those).

    Without ``hdrcharset`` every keyword and value is UTF-8, else decoded with surrogateescape (tarfile's
    strict attempt, then its fallback: the same text when the names' encoding is UTF-8).
    """
    if b"hdrcharset=" in buf:
        return None
    records: dict[str, str] = {}
    pos = 0
    while pos < len(buf) and buf[pos]:
        match = _PAX_LENGTH.match(buf, pos)
        if match is None:
            return None
        length = int(match[1])
        end = pos + length - 1
        if length < 5 or pos + length > len(buf) or buf[end] != 0x0A:
            return None
        keyword, equals, value = buf[match.end() : end].partition(b"=")
        if not keyword or not equals:
            return None
        name = keyword.decode("utf-8", "surrogateescape")
        if name == "size" or name.startswith("GNU."):
            return None
        records[name] = value.decode("utf-8", "surrogateescape")
        pos += length
    return records


def _pax_number(kind: type[int] | type[float], value: str) -> float:
    """tarfile's ``_apply_pax_info`` number: 0 when it does not parse."""
    try:
        return kind(value)
    except ValueError:
        return 0


def with_pax(member: Member, records: dict[str, str]) -> Member:
    """``member`` with the :func:`pax_records` before it applied, as tarfile's ``_apply_pax_info``
    applies them (``uname``, ``gname``, times other than mtime and unknown keywords change nothing here)."""
    name, linkname = member.name, member.linkname
    mode, uid, gid, size, mtime = member.numbers[:5]
    if "path" in records:
        name = records["path"].rstrip("/")
    if "linkpath" in records:
        linkname = records["linkpath"]
    if "uid" in records:
        uid = _pax_number(int, records["uid"])
    if "gid" in records:
        gid = _pax_number(int, records["gid"])
    if "mtime" in records:
        mtime = _pax_number(float, records["mtime"])
    return _new_member((name, member.type, member.size, linkname, (mode, uid, gid, size, mtime)))


def parse_header(block: bytes) -> Member | None:
    """The member a 512-byte header block holds, exactly as ``tarfile`` reads it; None when the walker
    leaves the block to tarfile (an extension, an unusual number, a bad or signed checksum).

    tarfile accepts the unsigned or the signed byte sum (the checksum field counted as 8 blanks); the
    walker checks the unsigned one. Adler-32's low half is 1 + the byte sum modulo 65521, and a 256-byte
    half sums to at most 65280: two halves give the sum.
    """
    if len(block) != BLOCK:
        return None
    kind = block[156:157]
    usual = _USUAL_HEADER.match(block)
    numbers: Sequence[bytes | float]
    if usual is not None:
        numbers = usual.groups()  # mode, uid, gid, size, mtime, chksum (octal digits)
        size, checksum = int(numbers[3], 8), int(numbers[5], 8)
    else:
        unusual = _unusual_numbers(block) if kind in _PLAIN_TYPES else None
        if unusual is None:
            return None
        numbers, size, checksum = unusual, unusual[3], unusual[5]
    if not _checksum_ok(block, checksum):
        return None
    name = _text(block[:100])
    if kind == b"\0" and name.endswith("/"):
        kind = _DIRTYPE  # the v7 format's directory
    if kind == _DIRTYPE:
        name = name.rstrip("/")
    if block[345]:
        name = _text(block[345:500]) + "/" + name  # ustar's prefix field
        if kind == _DIRTYPE:
            name = name.rstrip("/")
    linkname = _text(block[157:257]) if block[157] else ""
    return _new_member((name, kind, size, linkname, numbers))


def _read_error(message: str) -> Exception:
    import tarfile

    return tarfile.ReadError(message)


def _stream_error(message: str) -> Exception:
    import tarfile

    return tarfile.StreamError(message)


#: How many members tarfile reads before it keeps the rest of a layer where it has read most of them.
_HANDED_BEFORE_TARFILE = 64


@functools.cache
def _handoff_header() -> bytes:
    """A valid empty member for tarfile to read first, so that the header handed over is a later one."""
    import tarfile

    return tarfile.TarInfo("handoff").tobuf(tarfile.USTAR_FORMAT, "utf-8", "strict")


class _HandOff:
    """The stream tarfile reads: the hand-off header (after the first), the header handed over, then
    the walker's stream; a block at a time while tarfile reads one member, so that it holds no bytes
    beyond it; then in tarfile's own chunks, the walker's buffer first."""

    def __init__(self, walker: TarWalker, head: bytes) -> None:
        self._walker = walker
        self.head = head
        self.one_member = True

    def read(self, size: int = -1) -> bytes:
        if self.head:
            data, self.head = self.head[:size], self.head[size:]
            return data
        if self.one_member:
            return self._walker.take(min(size, BLOCK))
        return self._walker.read_through(size)

    def readable(self) -> bool:
        return True


class TarWalker:
    """The members of a tar stream (``tarfile.open(fileobj=..., mode="r|")``'s, with the same errors).

    ``head``: bytes already read from ``raw`` (its first ones). :meth:`members` yields each member;
    :meth:`read` returns the data of the regular file just yielded, once, before the next member.
    """

    def __init__(self, raw: Readable, head: bytes = b"", *, bufsize: int = 1 << 16) -> None:
        """Walk ``raw`` (``head`` is what was read of it already), reading ``bufsize`` bytes at a time."""
        self._raw = raw
        self._bufsize = bufsize
        self._buf = head
        self._at = 0  # the next byte's index in _buf
        self._base = 0  # the stream offset of _buf[0]
        self._data_start = 0  # the current member's data
        self._size = 0  # its data size (0: none the walker reads)
        self._next = 0  # the next header's offset
        self._tar: tarfile.TarFile | None = None  # reading the current member's data, or the rest
        self._info: tarfile.TarInfo | None = None
        self._members = 0  # members read so far
        self._handed = 0  # of which tarfile read

    # -- the stream ---------------------------------------------------------------------------

    def position(self) -> int:
        """The stream offset of the next byte to read."""
        return self._base + self._at

    def take(self, count: int) -> bytes:
        """The next ``count`` bytes (fewer at the end); more is read only when the buffer runs out.

        Across chunks the pieces are joined once, through views: the last chunk read becomes the
        buffer as it is (no copy of what is left of it)."""
        at = self._at
        buf = self._buf
        end = at + count
        if end <= len(buf):
            self._at = end
            return buf[at:end]
        parts: list[bytes | memoryview] = [memoryview(buf)[at:]] if at < len(buf) else []
        need = end - len(buf)  # bytes wanted beyond the buffer
        base = self._base + len(buf)  # the stream offset of the next chunk
        while chunk := self._raw.read(self._bufsize):
            if len(chunk) >= need:
                self._base, self._buf, self._at = base, chunk, need
                if not parts and need == len(chunk):
                    return chunk
                parts.append(memoryview(chunk)[:need])
                return b"".join(parts)
            parts.append(chunk)
            need -= len(chunk)
            base += len(chunk)
        self._base, self._buf, self._at = base, b"", 0
        return b"".join(parts)

    def _skip(self, count: int) -> bool:
        """Pass ``count`` bytes; False when the stream ends first."""
        left = len(self._buf) - self._at
        if count <= left:
            self._at += count
            return True
        count -= left
        self._base += len(self._buf)
        self._buf, self._at = b"", 0
        while chunk := self._raw.read(self._bufsize):
            if len(chunk) >= count:
                self._buf, self._at = chunk, count
                return True
            self._base += len(chunk)
            count -= len(chunk)
        return False

    def read_through(self, size: int) -> bytes:
        """What is left in the buffer, then straight from the stream (once tarfile reads the rest)."""
        if self._at < len(self._buf):
            data = self._buf[self._at : self._at + size]
            self._at += len(data)
            return data
        return self._raw.read(size)

    # -- members ------------------------------------------------------------------------------

    def members(self) -> Iterator[Member]:
        """Every member, as tarfile's ``next()`` returns them; tarfile's errors where it raises them."""
        if not _WALKS:
            tar, info, _handoff = self._hand_over(b"", rest=True)
            yield from self._rest(tar, info)
            return
        while True:
            start = self._next
            at = start - self._base
            if self._at <= at and at + BLOCK <= len(self._buf):  # the next header is in the buffer
                block = self._buf[at : at + BLOCK]
                self._at = at + BLOCK
            else:
                self._to_next_header()
                block = self.take(BLOCK)
            member = parse_header(block)
            if member is None and block[156:157] == b"x":
                member = self._extended(block)
                if member is not None:
                    start = self.position() - BLOCK  # the member's own header
            if member is not None:
                self._data_start = self._next = start + BLOCK
                self._size = 0
                self._info = None
                if member.type in _DATA_TYPES:
                    self._size = member.size
                    self._next += -member.size % BLOCK + member.size
                self._members += 1
                yield member
                continue
            if (not block and start) or block == _ZERO_BLOCK:
                return  # tarfile's end of the archive: nothing after a header, or a zero block
            tar, info, handoff = self._hand_over(block, start=start)
            self._members += 1
            self._handed += 1
            if info is None:
                return
            if not self._resume(tar, info, handoff, start):
                yield from self._rest(tar, info)
                return
            yield _member_of(info)

    def _extended(self, block: bytes) -> Member | None:
        """The member after the PAX extended header ``block`` (just taken), its records applied, read
        here when its records are plain ones (:func:`pax_records`) and they and the member's header are
        in the buffer already (no read of the stream: tarfile's reads stay the same); the position is
        then past the member's header. None: the block is left to tarfile, nothing taken."""
        size = pax_size(block)
        if size is None:
            return None
        at = self._at
        head = at + size + -size % BLOCK
        if head + BLOCK > len(self._buf):
            return None
        records = pax_records(self._buf[at:head])
        member = parse_header(self._buf[head : head + BLOCK]) if records is not None else None
        if records is None or member is None:
            return None
        self._at = head + BLOCK
        return with_pax(member, records)

    def _to_next_header(self) -> None:
        """Pass the rest of the current member like tarfile's ``next()`` (which seeks to the next header)."""
        gap = self._next - self.position()
        if gap < 0:
            raise _stream_error("seeking backwards is not allowed")
        if gap and not self._skip(gap):
            raise _read_error("unexpected end of data")

    def _hand_over(
        self, block: bytes, *, start: int = 0, rest: bool = False
    ) -> tuple[tarfile.TarFile, tarfile.TarInfo | None, _HandOff]:
        """Open tarfile on the stream from the header ``block`` at offset ``start``; its first member."""
        import tarfile

        lead = _handoff_header() if start else b""
        handoff = _HandOff(self, lead + block)
        handoff.one_member = not rest
        bufsize = self._bufsize if rest else BLOCK
        tar = tarfile.open(fileobj=cast(IO[bytes], handoff), mode="r|", bufsize=bufsize)
        if lead:
            tar.next()  # the hand-off header
        info = tar.next()
        tar.members.clear()  # type: ignore[attr-defined]  # streaming: forget passed headers
        return tar, info, handoff

    def _resume(self, tar: tarfile.TarFile, info: tarfile.TarInfo, handoff: _HandOff, start: int) -> bool:
        """Take the stream back after tarfile read one member: False (tarfile reads the rest) after a
        global PAX header, whose values apply to later members, when tarfile did not stop at the
        member's data, or when tarfile has read most members (a hand-off costs twice tarfile's own
        ``next()``: a layer whose every member has a PAX header is read by tarfile alone)."""
        origin = start - (len(_handoff_header()) if start else 0)  # the stream offset of tarfile's 0
        mostly_handed = self._handed >= _HANDED_BEFORE_TARFILE and 2 * self._handed > self._members
        if tar.pax_headers or handoff.head or self.position() != origin + info.offset_data or mostly_handed:
            handoff.one_member = False
            cast(Any, tar.fileobj).bufsize = self._bufsize  # tarfile's stream: its own chunks from now on
            return False
        self._data_start = origin + info.offset_data
        self._next = origin + tar.offset  # the next header, as tarfile found it
        self._size = 0
        self._tar, self._info = None, None
        if info.isreg() and info.sparse is None:
            self._size = info.size
        elif info.isreg():  # a sparse file: tarfile reads it (its map and holes)
            self._tar, self._info = tar, info
        return True

    def _rest(self, tar: tarfile.TarFile, info: tarfile.TarInfo | None) -> Iterator[Member]:
        """tarfile reads the rest of the stream."""
        self._tar = tar
        while info is not None:
            self._info = info
            yield _member_of(info)
            info = tar.next()
            tar.members.clear()  # type: ignore[attr-defined]

    def read(self) -> bytes:
        """The data of the regular file just yielded (tarfile's ``extractfile(member).read()``)."""
        if self._info is not None:
            assert self._tar is not None
            handle = self._tar.extractfile(self._info)
            return handle.read() if handle is not None else b""
        size = self._size
        if size <= 0:  # none (or a negative PAX or base-256 size: tarfile reads nothing either)
            return b""
        if self.position() != self._data_start:
            raise _stream_error("seeking backwards is not allowed")  # read already: tarfile cannot go back
        data = self.take(size)
        if len(data) != size:
            raise _read_error("unexpected end of data")
        return data

    def close(self) -> None:
        """Close the tarfile reading the rest, if any (never the stream)."""
        if self._tar is not None:
            self._tar.close()
