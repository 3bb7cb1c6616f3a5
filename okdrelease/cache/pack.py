"""The cache's pack files: many entries in one immutable file, written once, checked when read.

A pack is::

    b"okdrelease-pack-v2 <index length> <sha256 of the index, hex>\\n"
    <index: JSON list of [kind, key, offset, length, checksum], offsets relative to the payloads>
    <payloads, back to back>

The header's checksum binds every key to its offset, length and checksum; each payload is checked
against its own checksum (a record's ``crc32:<hex>``; a blob's is its digest) when it is read. A
file that is short of what its index describes (torn, truncated) is refused as a whole.

This module holds the format and the file operations (write through a temporary file and a rename,
list, read an index, merge); :mod:`okdrelease.cache.store` decides when they happen.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import NamedTuple

from isal import isal_zlib

from okdrelease.errors import InvalidReferenceError
from okdrelease.oci.digest import new_hasher

MAGIC = b"okdrelease-pack-v2"
SUFFIX = ".pack"
TMP_PREFIX = ".tmp-"
#: Kinds an index row may name: ``blobs`` (manifests, configs) and the record kinds.
BLOBS = "blobs"
#: How much of a pack is read at once to find its index (the rest, if any, in a second read).
_HEAD_READ = 64 << 10
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)


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


def checksum_of(payload: bytes) -> str:
    """The checksum an index records for a record's payload: CRC-32 (ISA-L's: 0.2 ms for the 6 MB of
    layer indexes a warm benchmark run reads, zlib's 1.4 ms, sha256 4.5 ms). It detects any flipped
    byte (any error burst up to 32 bits); a record is derived data under a key the index binds, not
    content named by its digest, so nothing more is claimed of it. Blobs are checked against their digest."""
    return f"crc32:{isal_zlib.crc32(payload):08x}"


def matches(checksum: str, payload: bytes) -> bool:
    """Whether ``payload`` matches ``checksum`` (``crc32:hex`` or a digest; anything else never matches)."""
    if checksum.startswith("crc32:"):
        return f"crc32:{isal_zlib.crc32(payload):08x}" == checksum
    if checksum.startswith("sha256:"):
        return hashlib.sha256(payload).hexdigest() == checksum[7:]
    try:
        hasher = new_hasher(checksum)
    except InvalidReferenceError:
        return False
    hasher.update(payload)
    return hasher.hexdigest() == checksum.partition(":")[2]


def encode(entries: Iterable[tuple[str, str, bytes, str]]) -> tuple[list[bytes], tuple[Row, ...]]:
    """The parts of a pack holding ``entries`` (kind, key, payload, checksum), to be written in order,
    and its index rows (offsets from the file's start). Entries are stored smallest first, so the
    small ones (manifests, configs, verdicts) lie together and a reader gets them in one read."""
    items: list[tuple[str, str, int, int, str]] = []
    payloads: list[bytes] = []
    offset = 0
    for kind, key, payload, checksum in sorted(entries, key=lambda e: len(e[2])):
        items.append((kind, key, offset, len(payload), checksum))
        payloads.append(payload)
        offset += len(payload)
    index = json.dumps(items, separators=(",", ":")).encode()
    header = b"%s %d %s\n" % (MAGIC, len(index), hashlib.sha256(index).hexdigest().encode())
    base = len(header) + len(index)
    rows = tuple(
        Row(kind, key, base + offset, length, checksum) for kind, key, offset, length, checksum in items
    )
    return [header, index, *payloads], rows


def _parse_header(head: bytes) -> tuple[int, int, str]:
    """(index start, index length, index checksum) from the first bytes of a pack."""
    line, newline, _ = head[:200].partition(b"\n")
    fields = line.split(b" ")
    if not newline or len(fields) != 3 or fields[0] != MAGIC or not fields[1].isdigit():
        raise DamagedPack("not a pack header")
    return len(line) + 1, int(fields[1]), fields[2].decode("ascii", "replace")


def _parse_index(index: bytes, base: int, size: int) -> tuple[Row, ...]:
    """The rows of ``index`` (payloads from ``base``), refused unless every payload lies within ``size`` bytes."""
    try:
        raw = json.loads(index)
    except ValueError as err:
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
        if not (isinstance(offset, int) and isinstance(length, int) and offset >= 0 and length >= 0):
            raise DamagedPack("index row malformed")
        if base + offset + length > size:
            raise DamagedPack(f"torn: {size} bytes, an entry ends at {base + offset + length}")
        rows.append(Row(kind, key, base + offset, length, checksum))
    return tuple(rows)


def read_index(fd: int, size: int) -> tuple[Row, ...]:
    """The checked index of the pack open as ``fd`` (``size`` bytes); :class:`DamagedPack` otherwise."""
    head = os.pread(fd, _HEAD_READ, 0)
    start, length, checksum = _parse_header(head)
    index = head[start : start + length]
    if len(index) < length:
        index += os.pread(fd, length - len(index), start + len(index))
    if len(index) != length:
        raise DamagedPack(f"torn: index of {length} bytes, {len(index)} present")
    if hashlib.sha256(index).hexdigest() != checksum:
        raise DamagedPack("index checksum does not match")
    return _parse_index(index, start + length, size)


def open_pack(path: str) -> tuple[int, tuple[Row, ...]]:
    """``path`` opened for reading and its checked index (the caller closes the descriptor).

    FileNotFoundError when it went away (merged or evicted by another run); :class:`DamagedPack`.
    """
    fd = os.open(path, _OPEN_FLAGS)
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


def write(directory: str, parts: Sequence[bytes], name: str | None = None) -> tuple[str, int]:
    """Write a pack atomically into ``directory``: a temporary file there, then a rename.

    Returns (path, descriptor open for reading the written pack). A kill at any moment leaves
    either no pack or a whole one (and at worst a temporary file, which :func:`scan` reports).
    """
    final = os.path.join(directory, name or new_name())
    tmp = os.path.join(directory, TMP_PREFIX + os.path.basename(final))
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(tmp, flags, 0o600)
    except FileNotFoundError:  # first write, or the directory was removed under us
        os.makedirs(directory, exist_ok=True)
        fd = os.open(tmp, flags, 0o600)
    try:
        with os.fdopen(os.dup(fd), "wb", buffering=1 << 20) as out:
            for part in parts:
                out.write(part)
        os.replace(tmp, final)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return final, fd


def scan(directory: str) -> tuple[list[PackFile], list[PackFile]]:
    """(finished packs oldest name first, temporary files) in ``directory`` (none if it is missing)."""
    packs: list[PackFile] = []
    temporaries: list[PackFile] = []
    try:
        listing = list(os.scandir(directory))
    except FileNotFoundError:
        return packs, temporaries
    for entry in listing:
        if not (entry.name.endswith(SUFFIX) or entry.name.startswith(TMP_PREFIX)):
            continue
        try:
            st = entry.stat()
        except OSError:  # went away meanwhile
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


def sound_entries(path: str) -> tuple[dict[tuple[str, str], tuple[bytes, str]], int]:
    """The entries of the pack at ``path`` that match their checksums, (kind, key) -> (payload, checksum),
    and how many did not (left out). FileNotFoundError, :class:`DamagedPack` as :func:`open_pack`."""
    fd, rows = open_pack(path)
    try:
        data = os.pread(fd, os.fstat(fd).st_size, 0)
    finally:
        os.close(fd)
    found: dict[tuple[str, str], tuple[bytes, str]] = {}
    damaged = 0
    for row in rows:
        payload = data[row.offset : row.offset + row.length]
        if len(payload) == row.length and matches(row.key if row.kind == BLOBS else row.checksum, payload):
            found[(row.kind, row.key)] = (payload, row.checksum)
        else:
            damaged += 1
    return found, damaged


def short_key(key: str) -> str:
    """``key`` as a message shows it (a verdict set names many digests: the first, and how many)."""
    if not key.startswith("set:"):
        return key
    digests = key[4:].split(",")
    return f"set:{digests[0]},… ({len(digests)} digests)"


def stamp_of(name: str) -> str:
    """The creation-time field of a pack name."""
    return name.partition("-")[0]
