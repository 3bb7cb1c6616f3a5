"""The cache's pack files: many entries in one immutable file, written once, checked when read.

A pack is::

    b"okdrelease-pack-v2\n"
    <payloads, back to back>
    <index: JSON list of [kind, key, offset, length, checksum], offsets from the file's start>
    <trailer, 118 bytes: b"okdrelease-pack-v2 <index offset> <index length> <sha256 of the index>\n",
     offset and length as 16 hex digits>

The index comes last so a pack is written as it fills (:class:`PackWriter`: payloads appended to a
temporary file in batches, the index and trailer at the end, then a rename): a run holds no more
than a batch in memory however much it stores. The trailer's checksum binds every key to its
offset, length and checksum; each payload is checked against its own checksum (a record's
``crc32:<hex>``; a blob's is its digest) when it is read. A file that does not end in a sound
trailer and index (torn, truncated) is refused as a whole.

This module holds the format and the file operations (write through a temporary file and a rename,
list, read an index, read the sound entries of a pack); :mod:`okdrelease.cache.store` decides when
they happen.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import stat
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

from isal import isal_zlib

from okdrelease.errors import InvalidReferenceError, go_reason
from okdrelease.oci.digest import new_hasher
from okdrelease.regularfile import open_regular, remove_empty, undone_mkdirs

log = logging.getLogger(__name__)

MAGIC = b"okdrelease-pack-v2"
SUFFIX = ".pack"
TMP_PREFIX = ".tmp-"
#: Kinds an index row may name: ``blobs`` (manifests, configs) and the record kinds.
BLOBS = "blobs"
_HEAD = MAGIC + b"\n"
_TRAILER = len(MAGIC) + 1 + 16 + 1 + 16 + 1 + 64 + 1
#: A pack's name as :func:`new_name` makes it: creation time (16 hex digits), process id, 8 random hex
#: digits. Only files so named (or that with :data:`TMP_PREFIX`) are the cache's: anything else in the
#: packs directory (a user's ``backup.pack`` behind a linked directory) is never read or removed.
_NAME = re.compile(r"[0-9a-f]{16}-[0-9]{1,10}-[0-9a-f]{8}" + re.escape(SUFFIX), re.ASCII)
#: How much of a pack's end is read at once to find its index (the rest, if any, in a second read).
_TAIL_READ = 64 << 10


class DamagedPack(Exception):
    """A pack whose header or index is unreadable, or that is shorter than its index says (torn)."""


class Row(NamedTuple):
    """One index row: where an entry's payload lies (``offset`` from the file's start) and its checksum."""

    kind: str
    key: str
    offset: int
    length: int
    checksum: str


class PackFile(NamedTuple):
    """A finished pack in the directory listing: name (sorts by creation time), path, size, mtime."""

    name: str
    path: str
    size: int
    mtime: float


#: An entry's payload as written: its bytes (any bytes-like object), or a tuple of the parts that are
#: its bytes back to back (a record framed around files it does not copy: written with the parts' own
#: bytes, never joined). Only a tuple is parts: a ``bytearray`` or ``memoryview`` is one payload.
Payload = bytes | tuple[bytes, ...]


def payload_parts(payload: Payload) -> tuple[bytes, ...]:
    """The parts ``payload`` is written from (one bytes-like payload is one part)."""
    return payload if isinstance(payload, tuple) else (payload,)


def payload_length(payload: Payload) -> int:
    """How many bytes ``payload`` is."""
    return sum(len(part) for part in payload_parts(payload))


def checksum_of(payload: Payload) -> str:
    """The checksum an index records for a record's payload: CRC-32 (ISA-L's: 0.2 ms for the 6 MB of
    layer indexes a warm benchmark run reads, zlib's 1.4 ms, sha256 4.5 ms). It detects any flipped
    byte (any error burst up to 32 bits); a record is derived data under a key the index binds, not
    content named by its digest, so nothing more is claimed of it. Blobs are checked against their digest."""
    crc = 0
    for part in payload_parts(payload):
        crc = isal_zlib.crc32(part, crc)
    return f"crc32:{crc:08x}"


def matches(checksum: str, payload: bytes) -> bool:
    """Whether ``payload`` matches ``checksum`` (``crc32:hex`` or a digest; anything else never matches)."""
    if checksum.startswith("crc32:"):
        return checksum_of(payload) == checksum
    try:
        hasher = new_hasher(checksum)
    except InvalidReferenceError:
        return False
    hasher.update(payload)
    return hasher.hexdigest() == checksum.partition(":")[2]


def _trailer(offset: int, length: int, checksum: str) -> bytes:
    return b"%s %016x %016x %s\n" % (MAGIC, offset, length, checksum.encode())


def _parse_trailer(trailer: bytes) -> tuple[int, int, str]:
    """(index offset, index length, index checksum) from a pack's last bytes."""
    fields = trailer.split(b" ")
    if len(trailer) != _TRAILER or not trailer.endswith(b"\n") or len(fields) != 4 or fields[0] != MAGIC:
        raise DamagedPack("no pack trailer (torn or not a pack)")
    try:
        return int(fields[1], 16), int(fields[2], 16), fields[3][:-1].decode("ascii")
    except (ValueError, UnicodeDecodeError):
        raise DamagedPack("pack trailer unreadable") from None


def _parse_index(index: bytes, end: int) -> tuple[Row, ...]:
    """The rows of ``index``, refused unless every payload lies between the head and ``end``."""
    try:
        raw = json.loads(index)
    except (ValueError, RecursionError) as err:  # RecursionError: nested deeper than the parser goes
        raise DamagedPack(f"index unreadable: {err}") from None
    if not isinstance(raw, list):
        raise DamagedPack("index is not a list")
    rows = []
    for item in raw:
        if not (isinstance(item, list) and len(item) == 5):
            raise DamagedPack("index row malformed")
        kind, key, offset, length, checksum = item
        if not (isinstance(kind, str) and isinstance(key, str) and isinstance(checksum, str)):
            raise DamagedPack("index row malformed")
        if not (isinstance(offset, int) and isinstance(length, int) and len(_HEAD) <= offset and length >= 0):
            raise DamagedPack("index row malformed")
        if offset + length > end:
            raise DamagedPack(f"index row past the payloads ({offset + length} > {end})")
        rows.append(Row(kind, key, offset, length, checksum))
    return tuple(rows)


def read_index(fd: int, size: int) -> tuple[Row, ...]:
    """The checked index of the pack open as ``fd`` (``size`` bytes); :class:`DamagedPack` otherwise."""
    if size < len(_HEAD) + _TRAILER:
        raise DamagedPack(f"torn: {size} bytes")
    start = max(size - _TAIL_READ, 0)
    tail = os.pread(fd, size - start, start)
    offset, length, checksum = _parse_trailer(tail[-_TRAILER:])
    if offset + length != size - _TRAILER or offset < len(_HEAD):
        raise DamagedPack("torn: the trailer does not match the file's size")
    if offset >= start:
        index = tail[offset - start : offset - start + length]
    else:
        index = os.pread(fd, length, offset)
    if len(index) != length or hashlib.sha256(index).hexdigest() != checksum:
        raise DamagedPack("index checksum does not match")
    head = tail[: len(_HEAD)] if start == 0 else os.pread(fd, len(_HEAD), 0)  # a small pack's tail holds it
    if head != _HEAD:
        raise DamagedPack("not a pack header")
    return _parse_index(index, offset)


def open_pack(path: str) -> tuple[int, tuple[Row, ...]]:
    """``path`` opened for reading and its checked index (the caller closes the descriptor).

    FileNotFoundError when it went away (merged or evicted by another run); :class:`DamagedPack`;
    ``NotRegularFile`` (an OSError) when something else took its name since it was listed.
    """
    fd = open_regular(path)
    try:
        return fd, read_index(fd, os.fstat(fd).st_size)
    except BaseException:
        os.close(fd)
        raise


def read_rows(path: str) -> tuple[Row, ...]:
    """The checked index of the pack at ``path`` (for ``info`` and ``prune``)."""
    fd, rows = open_pack(path)
    os.close(fd)
    return rows


def new_name(stamp: str | None = None) -> str:
    """A fresh pack name: creation time first (names sort oldest first), then what makes it unique.

    ``stamp`` keeps the time of a merged pack's newest source, so it sorts where that source did.
    """
    return f"{stamp or format(time.time_ns(), '016x')}-{os.getpid()}-{os.urandom(4).hex()}{SUFFIX}"


class PackWriter:
    """A pack being written: entries appended in batches to a temporary file in ``directory``,
    then :meth:`finish` adds the index and trailer and renames it into place.

    A kill at any moment leaves either no pack or a whole one (and at worst a temporary file,
    which :func:`scan` reports apart). Not thread-safe: the caller serialises :meth:`append`.
    """

    def __init__(self, directory: str, name: str | None = None) -> None:
        """Create the temporary file, and ``directory`` with its parents where missing (``made``: the
        directories this made, deepest first); OSError if it cannot be, nothing left behind."""
        self.name = name or new_name()
        self.path = os.path.join(directory, TMP_PREFIX + self.name)
        self._final = os.path.join(directory, self.name)
        self.made: list[str] = []
        self.size = 0
        self._items: list[tuple[str, str, int, int, str]] = []
        flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
        try:
            self.fd = os.open(self.path, flags, 0o600)
        except FileNotFoundError:  # first write, or the directory was removed under us
            with undone_mkdirs(Path(directory)) as made:
                self.fd = os.open(self.path, flags, 0o600)
            self.made = [str(path) for path in made]
        try:
            self._write(_HEAD)
        except BaseException:  # (a full disk): neither the file nor its descriptor is left
            os.close(self.fd)
            self.abort()
            remove_empty(self.made)
            raise

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.pwrite(self.fd, view, self.size + len(data) - len(view)) :]
        self.size += len(data)

    def append(self, entries: Iterable[tuple[str, str, Payload, str]]) -> list[Row]:
        """Append ``entries`` (kind, key, payload, checksum), smallest first, in one write; their rows."""
        ordered = sorted(((e, payload_length(e[2])) for e in entries), key=lambda item: item[1])
        rows = []
        offset = self.size
        parts: list[bytes] = []
        for (kind, key, payload, checksum), length in ordered:
            rows.append(Row(kind, key, offset, length, checksum))
            offset += length
            parts.extend(payload_parts(payload))
        self._write_parts(parts)
        self._items.extend(rows)
        return rows

    def _write_parts(self, parts: list[bytes]) -> None:
        """Write ``parts`` back to back with one pwritev per 512 of them (no joined copy in memory); after
        a short write (rare) the parts it covered are skipped, the one it ended in is sliced (a view, not
        a copy) and the rest is written the same way."""
        for start in range(0, len(parts), 512):
            group: list[bytes | memoryview] = list(parts[start : start + 512])
            while group:
                done = os.pwritev(self.fd, group, self.size)
                self.size += done
                for index, part in enumerate(group):
                    if done < len(part):
                        group = [memoryview(part)[done:], *group[index + 1 :]]
                        break
                    done -= len(part)
                else:
                    group = []

    @property
    def entries(self) -> int:
        """How many entries were appended."""
        return len(self._items)

    def finish(self) -> str:
        """Write the index and trailer and rename the pack into place: its path (the descriptor stays
        open for reading until the caller closes ``fd``)."""
        index = json.dumps(self._items, separators=(",", ":")).encode()
        offset = self.size
        self._write(index + _trailer(offset, len(index), hashlib.sha256(index).hexdigest()))
        os.replace(self.path, self._final)
        self.path = self._final
        return self.path

    def abort(self) -> None:
        """Remove the temporary file (the caller still closes ``fd``: a reader may be using it)."""
        with contextlib.suppress(OSError):
            os.unlink(self.path)


def write(directory: str, entries: Iterable[tuple[str, str, bytes, str]], name: str | None = None) -> str:
    """Write a pack of ``entries`` at once (tests, small rewrites): its path."""
    writer = PackWriter(directory, name)
    try:
        writer.append(entries)
        return writer.finish()
    except BaseException:
        writer.abort()
        raise
    finally:
        with contextlib.suppress(OSError):
            os.close(writer.fd)


def scan(directory: str) -> tuple[list[PackFile], list[PackFile]]:
    """(finished packs oldest name first, temporary files) in ``directory`` (none if it is missing or
    cannot be read: the cache is then empty, with a warning, and the run goes on without it). Only
    regular files named as this module names them are listed (no link is followed)."""
    packs: list[PackFile] = []
    temporaries: list[PackFile] = []
    try:
        listing = list(os.scandir(directory))
    except FileNotFoundError:
        return packs, temporaries
    except OSError as err:
        log.warning("cache: cannot list %s: %s", directory, go_reason(err))
        return packs, temporaries
    for entry in listing:
        if not _NAME.fullmatch(entry.name.removeprefix(TMP_PREFIX)):  # not one of ours: left alone
            continue
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:  # went away meanwhile
            continue
        if not stat.S_ISREG(st.st_mode):  # not one of ours (a link, a FIFO that would block): left alone
            continue
        found = PackFile(entry.name, entry.path, st.st_size, st.st_mtime)
        (temporaries if entry.name.startswith(TMP_PREFIX) else packs).append(found)
    packs.sort(key=lambda p: p.name)
    return packs, temporaries


@contextlib.contextmanager
def exclusive(path: str) -> Iterator[bool]:
    """Hold the lock file ``path`` if no other process does (True), else yield False at once.

    The kernel releases it when its holder exits, however that happens.
    """
    import fcntl  # only a run that merges needs it

    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
    except OSError:
        yield False
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


def sound(row: Row, payload: bytes) -> bool:
    """Whether ``payload`` is the entry ``row`` describes: a blob checked against its digest (its key),
    a record against the checksum its index row holds."""
    return matches(row.key if row.kind == BLOBS else row.checksum, payload)


def sound_entries(path: str) -> Iterator[tuple[str, str, bytes, str] | None]:
    """The entries of the pack at ``path``, one read each: (kind, key, payload, checksum), or None for
    one that does not match its checksum. FileNotFoundError, :class:`DamagedPack` as :func:`open_pack`."""
    fd, rows = open_pack(path)
    try:
        for row in rows:
            payload = os.pread(fd, row.length, row.offset)
            if len(payload) == row.length and sound(row, payload):
                yield row.kind, row.key, payload, row.checksum
            else:
                yield None
    finally:
        os.close(fd)


def short_key(key: str) -> str:
    """``key`` as a message shows it (a verdict set names many digests: the first, and how many)."""
    if not key.startswith("set:"):
        return key
    digests = key[4:].split(",")
    return f"set:{digests[0]},… ({len(digests)} digests)"


def stamp_of(name: str) -> str:
    """The creation-time field of a pack name."""
    return name.partition("-")[0]
