"""A persistent, content-addressed cache shared by runs (issue 9.3), stored as pack files.

Layout under the root (default ``$XDG_CACHE_HOME/okdrelease``, else ``~/.cache/okdrelease``)::

    v2/packs/<time>-<pid>-<random>.pack    immutable packs of entries (format: okdrelease.cache.pack)
    v2/packs/.tmp-<name>                   a pack being written (a killed run's is removed after an hour)
    v2/merge.lock                          held (flock) by the one run merging packs

Entries are manifests and configs under their own digest (kind ``blobs``) and records derived from
content (kinds ``layer-index``, ``verdict``, ``resolution``) under a key naming that content.
Everything is keyed by content, so nothing goes stale.

One pack per run. A run's entries are buffered in memory, small and large ones apart; whenever a
buffer passes ``flush_bytes`` (256 KiB) it is appended to the run's pack, a temporary file in the
packs directory, in one write; :meth:`Cache.close` appends the rest, adds the index and renames the
pack into place. So a run holds at most two buffers however much it stores, makes one pack (another
only past ``pack_bytes``, 64 MiB), and a run that stored nothing writes nothing. Concurrent runs and a
kill at any moment leave either no pack or a whole one (and at worst a temporary file). Packs are
never modified; a pack's name starts with its creation time, and when two packs hold the same entry
the later name wins.

Reading. On first use a run lists the packs and reads each one's index once (one or two preads at
the end of the file), keeping the file open; an entry is then one pread (small ones through the 256 KiB
blocks of the file that hold them, each read once and kept, so a warm benchmark run reads its
6.6 MB pack in about 30 preads rather than 275 re-reads of a sliding window, 76 MB), checked
before it is returned: a blob must hash to its digest, a record to its checksum in the (itself
checksummed) index. A damaged entry is never returned: it is forgotten (a miss, so the caller
refetches it and it goes into this run's pack, whose copy wins), and when the run closes its pack is
rewritten without it; one flipped byte costs one refetch, not a pack's worth. A pack whose trailer or
index is damaged, or that is shorter than its trailer says (torn), is deleted when it is opened:
nothing in it can be trusted. A read refreshes its pack's mtime once per run.

Size bound. :meth:`Cache.trim` (after a run that wrote) and :meth:`Cache.prune` evict whole packs,
least recently used (oldest mtime; an mtime hours ahead of the clock, left by a clock set back, oldest of all:
a read would have set it to now) first, until the packs fit. ``prune`` also removes what is left of
the one-file-per-entry layout of earlier versions in ``v1/`` (its entries, then its directories once
empty; any other file there is kept).

Pack count bound and why merging is safe. A closing run that wrote a pack and finds more than
``max_packs`` merges the smallest ones into one (their sound entries only, copied one at a time, the newest
mtime of its sources, named with its newest source's time so it sorts where that one did), under ``merge.lock``
(``flock``, non-blocking: if another run is merging, this one does not; the kernel releases the lock
of a killed run). The merged pack is renamed into place before its sources are unlinked, so at every
moment each entry is in some finished pack; a kill in between leaves duplicates, which are harmless
and merged away later. A concurrent reader that opened a source keeps reading it through its open
descriptor (an unlinked file stays readable); one that listed a source but finds it gone when
opening lists again, and then sees the merged pack (renamed before the unlink). A concurrent prune
that removes a source during a merge at worst sees the entries come back in the merged pack.
Rewriting a pack without its damaged entries is a merge of that one pack, under the same lock.

Thread safety: one :class:`Cache` serves many fetching threads; its maps and counters are guarded by
one lock, reads (preads, checksums) run outside it, appends to the pack being written under a second
one (entries being appended stay readable from memory until they are in the file). Descriptors are closed by :meth:`close` only, so
a dropped pack stays readable for a thread that is reading it.

The library takes a :class:`Cache` (or None for no cache) as a parameter; it never picks one itself.
The CLI opens it for a run and closes it (``with cache:``), then trims it (``_cli/common.run_cache``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
import weakref
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from okdrelease._repr import value_repr
from okdrelease.cache import pack
from okdrelease.cache.pack import BLOBS, DamagedPack, PackFile, Row
from okdrelease.errors import InvalidReferenceError, go_reason
from okdrelease.oci.digest import validate_digest
from okdrelease.regularfile import remove_empty

if TYPE_CHECKING:
    from okdrelease.cache.report import CacheInfo, PruneResult

log = logging.getLogger(__name__)

#: Default size bound: 1 GiB.
DEFAULT_MAX_BYTES = 1 << 30
#: Buffered entries past this many bytes are appended to the run's pack at once (memory stays bounded).
FLUSH_BYTES = 256 << 10
#: A pack being written is finished once it passes this size (the next entries start another).
PACK_BYTES = 64 << 20
#: A closing run that finds more packs than this merges the smallest ones (down to half as many).
MAX_PACKS = 16
#: The blocks small entries are read in, what is small, and how much of a pack's blocks a run keeps
#: (see _OpenPack).
_WINDOW = 256 << 10
_WINDOW_ENTRY = 64 << 10
_HELD = 16 << 20
_VERSION = "v2"
#: Layouts of earlier versions, removed by prune.
_OLD_VERSIONS = ("v1",)
#: What ``v1/`` held: ``blobs/<algorithm>/<hex>`` and ``records/<kind>/<hh>/<sha256 hex>`` (and ``.tmp-*``).
_OLD_RECORD_KINDS = ("layer-index", "verdict")
_HEX = frozenset("0123456789abcdef")


def _is_hex(text: str, length: int | None = None) -> bool:
    return bool(text) and set(text) <= _HEX and (length is None or len(text) == length)


def _old_layout_dir(parts: list[str]) -> bool:
    """Whether ``v1/<parts>`` is a directory of the v1 layout."""
    parts = [p for p in parts if p != "."]
    if not parts or len(parts) > 3 or parts[0] not in ("blobs", "records"):
        return False
    if parts[0] == "blobs":
        return len(parts) == 1 or (len(parts) == 2 and parts[1].isalnum() and parts[1].islower())
    return len(parts) == 1 or (parts[1] in _OLD_RECORD_KINDS and (len(parts) == 2 or _is_hex(parts[2], 2)))


def _old_layout_file(parts: list[str], name: str) -> bool:
    """Whether ``v1/<parts>/<name>`` is a file of the v1 layout (an entry or a temporary file)."""
    parts = [p for p in parts if p != "."]
    if not _old_layout_dir(parts):
        return False
    if parts[0] == "blobs" and len(parts) == 2:
        return _is_hex(name) or name.startswith(".tmp-")
    if parts[0] == "records" and len(parts) == 3:
        return (_is_hex(name, 64) and name.startswith(parts[2])) or name.startswith(".tmp-")
    return False


#: Record kinds: per-layer indexes, manifest-check verdicts, a stream's components as read
#: (okdrelease.payload.recorded).
LAYER_INDEX = "layer-index"
VERDICT = "verdict"
RESOLUTION = "resolution"
_KINDS = (LAYER_INDEX, VERDICT, RESOLUTION)
#: A temporary file older than this was left by a killed run; trim and prune remove it (one this far
#: ahead of the clock too). A pack's mtime this far ahead counts as its least recent use.
_STALE_TMP_SECONDS = 3600

_Ident = tuple[str, str]
#: Entries not yet in a pack: (kind, key) -> (payload, checksum).
_Buffer = dict[_Ident, tuple[pack.Payload, str]]


def _verdict_set_key(keys: Iterable[str]) -> str:
    """The record key of a set of verdicts: its content digests, sorted (one digest: the digest itself)."""
    ordered = sorted(keys)
    return ordered[0] if len(ordered) == 1 else "set:" + ",".join(ordered)


def default_root() -> Path:
    """``$OKDRELEASE_CACHE_DIR``, else ``$XDG_CACHE_HOME/okdrelease``, else ``~/.cache/okdrelease``."""
    explicit = os.environ.get("OKDRELEASE_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "okdrelease"


@attrs.define
class CacheStats:
    """Counters of one :class:`Cache` (updated under its lock). ``writes``: entries written into packs."""

    __repr__ = value_repr

    hits: int = 0
    misses: int = 0
    writes: int = 0
    dropped: int = 0


class _OpenPack:
    """A pack this run reads (or wrote): its descriptor stays open until :meth:`Cache.close`.

    Small entries are read through windows: the :data:`_WINDOW`-aligned blocks of the file that hold
    them, each read with one pread the first time and kept (up to :data:`_HELD` bytes per pack, then
    the kept blocks are let go). Packs hold their small entries side by side, so a warm run's 420
    manifests, configs, verdicts and small layer indexes come from about one read per block of the
    file (each pread releases and retakes the GIL, a hand-off whenever other threads are busy). A
    large entry is one pread of its own. A block read while the pack was being written may end
    short of an entry written later: it is read again.
    """

    __slots__ = ("fd", "name", "path", "windows")

    def __init__(self, name: str, path: str, fd: int) -> None:
        self.name = name
        self.path = path
        self.fd = fd
        self.windows: dict[int, bytes] = {}  # block number -> its bytes (fewer at the end of the file)

    def read(self, offset: int, length: int) -> bytes:
        """The ``length`` bytes at ``offset`` (fewer at the end of the file); OSError."""
        if length >= _WINDOW_ENTRY:
            return os.pread(self.fd, length, offset)
        first = offset // _WINDOW
        last = (offset + length - 1) // _WINDOW if length else first
        blocks = [self._block(k, min(offset + length - k * _WINDOW, _WINDOW)) for k in range(first, last + 1)]
        data = blocks[0] if len(blocks) == 1 else b"".join(blocks)
        start = offset - first * _WINDOW
        return data[start : start + length]

    def _block(self, number: int, needed: int) -> bytes:
        """Block ``number``, read again unless the kept copy holds its first ``needed`` bytes."""
        data = self.windows.get(number)  # whole values replaced by whichever thread reads: never torn
        if data is None or len(data) < needed:
            data = os.pread(self.fd, _WINDOW, number * _WINDOW)
            if len(self.windows) * _WINDOW >= _HELD:
                self.windows = {}
            self.windows[number] = data
        return data


def _close_all(fds: list[int]) -> None:
    while fds:
        with contextlib.suppress(OSError):
            os.close(fds.pop())


def _unlink(path: str) -> bool:
    """Remove ``path``: whether it is gone (a failure, such as a read-only cache or a directory that took
    the name, is a warning: what is left is a duplicate or a stale file, never a wrong entry)."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as err:
        log.warning("cache: cannot remove %s: %s", path, go_reason(err))
        return False
    return True


def _merge_choice(packs: Sequence[PackFile], max_packs: int, cap: int) -> list[PackFile]:
    """The smallest packs to merge into one so that about ``max_packs // 2`` are left (at most ``cap`` bytes)."""
    wanted = len(packs) - max(max_packs // 2, 1) + 1
    chosen: list[PackFile] = []
    total = 0
    for found in sorted(packs, key=lambda p: (p.size, p.name)):
        if len(chosen) >= wanted or (total + found.size > cap and len(chosen) >= 2):
            break
        chosen.append(found)
        total += found.size
    return chosen if len(chosen) >= 2 else []


class Cache:
    """The persistent cache at ``root``, bounded to ``max_bytes`` (see the module docstring).

    Use it as a context manager (or call :meth:`close`): closing finishes the run's pack. ``flush_bytes``
    bounds the entries buffered in memory, ``pack_bytes`` a pack's size, ``max_packs`` the packs
    before a merge.
    """

    def __init__(
        self,
        root: Path | str,
        max_bytes: int = DEFAULT_MAX_BYTES,
        *,
        flush_bytes: int = FLUSH_BYTES,
        pack_bytes: int = PACK_BYTES,
        max_packs: int = MAX_PACKS,
    ) -> None:
        """Use (and create on first write) the cache directory ``root``."""
        self.root = Path(root)
        self.max_bytes = max_bytes
        self.flush_bytes = flush_bytes
        self.pack_bytes = pack_bytes
        self.max_packs = max_packs
        self.stats = CacheStats()
        self._lock = threading.Lock()
        self._load_lock = threading.Lock()
        self._dir = os.path.join(self.root, _VERSION)
        self._packs_dir = os.path.join(self._dir, "packs")
        self._fds: list[int] = []  # every descriptor this object opened and has not closed yet
        weakref.finalize(self, _close_all, self._fds)
        self._wrote = False  # a pack finished since the last close
        self._write_lock = threading.Lock()  # serialises appending to the pack being written
        # The pack being written, and the same file as its entries are read back.
        self._current: tuple[pack.PackWriter, _OpenPack] | None = None
        self._unwritable = ""  # why a write failed: later ones are not tried
        self._made: list[str] = []  # the directories this object's pack writers made, deepest first
        self._reset()

    def _reset(self) -> None:
        """Forget the packs read (the next use lists them again); the buffer must be empty."""
        self._loaded = False
        self._entries: dict[_Ident, tuple[_OpenPack, Row]] = {}
        self._touched: set[str] = set()
        # Small and large entries buffered apart, so each goes to the pack with its kind: the small
        # ones (420 in a benchmark run, 0.5 MB) lie together there and a reader gets them in one read.
        self._buffers: tuple[_Buffer, _Buffer] = ({}, {})
        self._buffered_bytes = [0, 0]
        self._flushing: list[_Buffer] = []
        self._damaged: dict[str, _OpenPack] = {}  # packs an entry was found damaged in

    def __enter__(self) -> Cache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Write the buffered entries as one pack (merging packs if there are too many), close the packs;
        the directories this object made and no pack went to (its writes failed) are removed.

        The object stays usable: its next use reads the packs again.
        """
        self._flush()
        with self._write_lock:
            self._finish_pack()
        if self._damaged:
            self._repair(list(self._damaged.values()))
        if self._wrote:
            self._wrote = False
            self._merge_if_many()
        with self._lock:
            self._reset()
            _close_all(self._fds)
            remove_empty(self._made)
            self._made.clear()

    # ---- reading packs

    def _ensure_loaded(self) -> None:
        with self._load_lock:
            if not self._loaded:
                self._load()
                self._loaded = True

    def _load(self) -> None:
        """Read every pack's index. A pack listed but gone when opened was merged away or evicted by
        another run: list again (a merge renames its result into place before unlinking its sources)."""
        tried: set[str] = set()
        for _ in range(3):
            vanished = False
            for found in pack.scan(self._packs_dir)[0]:
                if found.name in tried:
                    continue
                tried.add(found.name)
                try:
                    fd, rows = pack.open_pack(found.path)
                except FileNotFoundError:
                    vanished = True
                except DamagedPack as err:
                    self._drop_file(found.path, str(err))
                except OSError as err:
                    log.warning("cache: cannot read %s: %s", found.path, go_reason(err))
                else:
                    with self._lock:
                        self._fds.append(fd)
                    self._register(_OpenPack(found.name, found.path, fd), rows)
            if not vanished:
                return

    def _register(self, opened: _OpenPack, rows: Iterable[Row]) -> None:
        """Make ``rows`` of ``opened`` readable; an entry in a later-named pack wins."""
        with self._lock:
            entries = self._entries
            for row in rows:
                ident = (row.kind, row.key)
                held = entries.get(ident)
                if held is None or held[0].name < opened.name:
                    entries[ident] = (opened, row)

    def _buffered(self, ident: _Ident) -> bytes | None:
        """An entry of this run not yet in a pack (call with the lock held)."""
        found = self._buffers[0].get(ident) or self._buffers[1].get(ident)
        if found is None:
            for flushing in self._flushing:
                found = flushing.get(ident)
                if found is not None:
                    break
        if found is None:
            return None
        payload = found[0]
        return b"".join(payload) if isinstance(payload, tuple) else bytes(payload)

    def _get(self, kind: str, key: str) -> bytes | None:
        """The checked payload of entry ``kind``/``key``, or None (absent, or found damaged: its pack dropped)."""
        if not self._loaded:
            self._ensure_loaded()
        ident = (kind, key)
        with self._lock:
            data = self._buffered(ident) if self._buffers[0] or self._buffers[1] or self._flushing else None
            held = self._entries.get(ident) if data is None else None
            if held is None:
                if data is None:
                    self.stats.misses += 1
                else:
                    self.stats.hits += 1
                return data
        opened, row = held
        try:
            data = opened.read(row.offset, row.length)
        except OSError as err:
            self._drop(opened, ident, f"cannot read it: {go_reason(err)}")
            return None
        if len(data) != row.length:
            self._drop(opened, ident, f"torn: {len(data)} of {row.length} bytes")
            return None
        if not pack.sound(row, data):
            self._drop(opened, ident, "content does not match its checksum")
            return None
        if opened.name not in self._touched:
            self._touched.add(opened.name)
            with contextlib.suppress(OSError):
                os.utime(opened.fd)  # LRU = oldest mtime; the file read, never a link at its name
        with self._lock:
            self.stats.hits += 1
        return data

    def _drop(self, opened: _OpenPack, ident: _Ident, why: str) -> None:
        """Forget a damaged entry (a miss: the caller refetches it into this run's pack, which wins);
        :meth:`close` rewrites its pack without it."""
        log.warning("cache: dropped %s %s in %s: %s", ident[0], pack.short_key(ident[1]), opened.path, why)
        with self._lock:
            self.stats.misses += 1
            self.stats.dropped += 1
            held = self._entries.get(ident)
            if held is not None and held[0] is opened:
                del self._entries[ident]
            self._damaged[opened.name] = opened

    def _drop_file(self, path: str, why: str) -> None:
        log.warning("cache: dropped %s: %s", path, why)
        with self._lock:
            self.stats.dropped += 1
        with contextlib.suppress(OSError):
            os.unlink(path)

    def empty(self) -> bool:
        """Whether nothing is stored: no entry in the packs, none buffered or being written by this run."""
        if not self._loaded:
            self._ensure_loaded()
        with self._lock:
            return not (self._entries or self._buffers[0] or self._buffers[1] or self._flushing)

    # ---- writing packs

    def _put(self, kind: str, key: str, payload: pack.Payload, checksum: str, *, replace: bool) -> None:
        """Buffer an entry (``replace``: even if a pack holds one); write a pack once the buffer is full."""
        if not self._loaded:
            self._ensure_loaded()
        ident = (kind, key)
        length = pack.payload_length(payload)
        large = int(length >= _WINDOW_ENTRY)
        with self._lock:
            if ident in self._buffers[0] or ident in self._buffers[1]:
                return
            if not replace and (ident in self._entries or self._buffered(ident) is not None):
                return
            self._buffers[large][ident] = (payload, checksum)
            self._buffered_bytes[large] += length
            if self._buffered_bytes[large] < self.flush_bytes:
                return
            taken = self._take_buffers(large)
        self._write(taken)

    def _take_buffers(self, *which: int) -> _Buffer:
        """Buffers ``which`` (0: small entries, 1: large), now being written (still readable through
        ``_flushing``); call with the lock held."""
        taken: _Buffer = {}
        for i in which:
            taken.update(self._buffers[i])
            self._buffers[i].clear()
            self._buffered_bytes[i] = 0
        self._flushing.append(taken)
        return taken

    def _flush(self) -> None:
        """Write the buffered entries, if any, to the run's pack."""
        with self._lock:
            if not (self._buffers[0] or self._buffers[1]):
                return
            taken = self._take_buffers(0, 1)
        self._write(taken)

    def _write(self, taken: _Buffer) -> None:
        """Append ``taken`` to the run's pack (started on first use, finished once it passes
        ``pack_bytes``) and read its entries from there; a failure is logged, not raised."""
        rows = None
        with self._write_lock:
            try:
                if self._unwritable:
                    raise OSError(self._unwritable)
                writer, writing = self._writer_or_new()
                rows = writer.append(
                    (kind, key, payload, checksum) for (kind, key), (payload, checksum) in taken.items()
                )
            except OSError as err:
                if not self._unwritable:  # warned once: the run goes on without storing
                    self._unwritable = go_reason(err)
                    log.warning("cache: cannot write a pack in %s: %s", self._packs_dir, self._unwritable)
                if self._current is not None:
                    self._current[0].abort()
                    self._current = None
            else:
                self._register(writing, rows)
                if writer.size >= self.pack_bytes:
                    self._finish_pack()
        with self._lock:
            self._flushing = [f for f in self._flushing if f is not taken]
            if rows is not None:
                self.stats.writes += len(rows)

    def _writer_or_new(self) -> tuple[pack.PackWriter, _OpenPack]:
        """The pack being written, started if there is none (call with the write lock held)."""
        if self._current is None:
            writer = pack.PackWriter(self._packs_dir)
            with self._lock:
                self._made.extend(writer.made)
                self._fds.append(writer.fd)
                self._touched.add(writer.name)  # new: no mtime to refresh
            self._current = writer, _OpenPack(writer.name, writer.path, writer.fd)
        return self._current

    def _finish_pack(self) -> None:
        """Give the pack being written its index and rename it into place (call with the write lock held)."""
        if self._current is None:
            return
        writer, writing = self._current
        self._current = None
        try:
            writing.path = writer.finish()
        except OSError as err:
            log.warning("cache: cannot write a pack in %s: %s", self._packs_dir, go_reason(err))
            writer.abort()
        else:
            self._wrote = True

    def _merge_if_many(self) -> None:
        """Merge the smallest packs into one if there are more than ``max_packs`` (see the module docstring)."""
        if len(pack.scan(self._packs_dir)[0]) <= self.max_packs:
            return
        with pack.exclusive(os.path.join(self._dir, "merge.lock")) as held:
            if not held:
                return  # another run is merging
            chosen = _merge_choice(
                pack.scan(self._packs_dir)[0],
                self.max_packs,
                max(min(self.pack_bytes, self.max_bytes // 8), 1 << 20),
            )
            if chosen:
                self._merge(chosen)

    def _repair(self, damaged: Sequence[_OpenPack]) -> None:
        """Rewrite each pack an entry was found damaged in, with its sound entries only (as a merge of one)."""
        with pack.exclusive(os.path.join(self._dir, "merge.lock")) as held:
            if not held:
                return  # another run is merging (a merge leaves damaged entries out too)
            for opened in damaged:
                try:
                    st = os.stat(opened.path)
                except OSError:
                    continue  # merged, evicted or repaired meanwhile
                self._merge([PackFile(opened.name, opened.path, st.st_size, st.st_mtime)])

    def _merge(self, chosen: Sequence[PackFile]) -> None:
        """Write the sound entries of ``chosen`` as one pack (named with the newest one's time, with its
        mtime), one entry in memory at a time, then unlink them."""
        newest = max(chosen, key=lambda p: p.name)
        try:
            writer = pack.PackWriter(self._packs_dir, pack.new_name(pack.stamp_of(newest.name)))
        except OSError as err:
            log.warning("cache: cannot merge packs in %s: %s", self._packs_dir, go_reason(err))
            return
        try:
            merged = self._copy_sound(chosen, writer)
            if writer.entries:
                writer.finish()
                mtime = max(p.mtime for p in chosen)
                os.utime(writer.path, (mtime, mtime))
            else:
                writer.abort()
        except OSError as err:
            log.warning("cache: cannot merge packs in %s: %s", self._packs_dir, go_reason(err))
            writer.abort()
            return
        finally:
            os.close(writer.fd)
        for found in merged:
            _unlink(found.path)

    def _copy_sound(self, chosen: Sequence[PackFile], writer: pack.PackWriter) -> list[PackFile]:
        """Append the sound entries of ``chosen`` to ``writer`` (newest pack first: its copy of an entry
        wins), in batches of ``flush_bytes``; the packs read whole (a damaged one is deleted)."""
        seen: set[_Ident] = set()
        batch: list[tuple[str, str, bytes, str]] = []
        size = 0
        merged = []
        for found in sorted(chosen, key=lambda p: p.name, reverse=True):
            damaged = 0
            try:
                for entry in pack.sound_entries(found.path):
                    if entry is None:
                        damaged += 1
                    elif (entry[0], entry[1]) not in seen:
                        seen.add((entry[0], entry[1]))
                        batch.append(entry)
                        size += len(entry[2])
                        if size >= self.flush_bytes:
                            writer.append(batch)
                            batch, size = [], 0
            except FileNotFoundError:
                continue  # merged or evicted meanwhile
            except DamagedPack as err:
                self._drop_file(found.path, str(err))
                continue
            if damaged:
                log.warning(
                    "cache: left %d damaged %s of %s out of its rewrite",
                    damaged,
                    "entry" if damaged == 1 else "entries",
                    found.path,
                )
            merged.append(found)
        if batch:
            writer.append(batch)
        return merged

    # ---- blobs (manifests, configs) by digest

    def get_blob(self, digest: str) -> bytes | None:
        """The bytes stored under ``digest``, checked against it; None when absent or damaged."""
        return self._get(BLOBS, digest)

    def put_blob(self, digest: str, data: bytes) -> None:
        """Store ``data`` under ``digest`` if it hashes to it (content that does not is never stored)."""
        try:
            validate_digest(digest)
        except InvalidReferenceError:
            return
        if not pack.matches(digest, data):
            log.warning("cache: not storing content that does not match %s", digest)
            return
        self._put(BLOBS, digest, data, digest, replace=False)

    # ---- records (derived data) by key

    def get_record(self, kind: str, key: str) -> bytes | None:
        """The payload of the record ``kind``/``key``, checked against its checksum; None when absent or damaged."""
        if kind not in _KINDS:
            raise ValueError(f"unknown cache record kind {kind!r}")
        return self._get(kind, key)

    def put_record(self, kind: str, key: str, payload: pack.Payload) -> None:
        """Store ``payload`` as the record ``kind``/``key`` (it replaces one a pack holds: that one was
        unusable); given as parts, it is written from them (``get_record`` reads their bytes back to back)."""
        if kind not in _KINDS:
            raise ValueError(f"unknown cache record kind {kind!r}")
        self._put(kind, key, payload, pack.checksum_of(payload), replace=True)

    # ---- manifest-check verdicts (okdrelease.payload.check.VerdictStore)

    def get_verdicts(self, keys: Sequence[str]) -> dict[str, str | None] | None:
        """The manifest-check verdicts remembered together for exactly the content digests ``keys``, or None."""
        payload = self.get_record(VERDICT, _verdict_set_key(keys))
        if payload is None:
            return None
        try:
            value = json.loads(payload)
        except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser goes
            return None
        if not isinstance(value, dict) or sorted(value) != sorted(keys):
            return None
        if not all(v is None or isinstance(v, str) for v in value.values()):
            return None
        return value

    def put_verdicts(self, verdicts: Mapping[str, str | None]) -> None:
        """Remember manifest-check verdicts (content digest -> problem or None) as one entry."""
        payload = json.dumps(dict(sorted(verdicts.items())), separators=(",", ":")).encode()
        self.put_record(VERDICT, _verdict_set_key(verdicts), payload)

    def get_verdict(self, key: str) -> tuple[bool, str | None]:
        """``(found, problem)`` of the manifest-check verdict remembered for the content digest ``key`` alone."""
        found = self.get_verdicts((key,))
        return (False, None) if found is None else (True, found[key])

    def put_verdict(self, key: str, problem: str | None) -> None:
        """Remember the manifest-check verdict for the content digest ``key`` alone."""
        self.put_verdicts({key: problem})

    # ---- size bound, info

    def _indexes(self, packs: Iterable[PackFile], *, drop_damaged: bool) -> dict[str, tuple[Row, ...]]:
        """The index of each of ``packs`` that is sound (a damaged one is deleted with ``drop_damaged``)."""
        found = {}
        for listed in packs:
            try:
                found[listed.name] = pack.read_rows(listed.path)
            except FileNotFoundError:
                continue
            except DamagedPack as err:
                if drop_damaged:
                    self._drop_file(listed.path, str(err))
                else:
                    log.warning("cache: damaged pack %s: %s", listed.path, err)
            except OSError as err:
                log.warning("cache: cannot read %s: %s", listed.path, go_reason(err))
        return found

    def info(self) -> CacheInfo:
        """Distinct entries and their payload bytes by kind (``blobs`` and each record kind), and the packs
        on disk. Entries still buffered are not counted: :meth:`close` writes them."""
        packs = pack.scan(self._packs_dir)[0]
        latest: dict[_Ident, int] = {}
        for rows in self._indexes(packs, drop_damaged=False).values():
            latest.update(((row.kind, row.key), row.length) for row in rows)
        from okdrelease.cache.report import CacheInfo, KindInfo

        kinds = []
        for kind in (BLOBS, *_KINDS):
            sizes = [size for (k, _), size in latest.items() if k == kind]
            kinds.append(KindInfo(kind, len(sizes), sum(sizes)))
        legacy = bool(self._old_version_files())
        return CacheInfo(
            self.root, self.max_bytes, tuple(kinds), len(packs), sum(p.size for p in packs), legacy
        )

    def _evict(self, limit: int) -> list[PackFile]:
        """Remove stale temporary files, then least-recently-used packs until at most ``limit`` bytes are
        left; the packs left."""
        packs, temporaries = pack.scan(self._packs_dir)
        now = time.time()
        for tmp in temporaries:
            if abs(now - tmp.mtime) > _STALE_TMP_SECONDS:  # hours ahead: the clock went back since
                _unlink(tmp.path)
        total = sum(p.size for p in packs)
        kept = []

        def last_use(p: PackFile) -> tuple[float, str]:
            # An mtime hours ahead of the clock is no use since (a read sets it to now): oldest of all.
            return (p.mtime if p.mtime - now <= _STALE_TMP_SECONDS else float("-inf"), p.name)

        for listed in sorted(packs, key=last_use):
            if total > limit and _unlink(listed.path):
                total -= listed.size
                continue
            kept.append(listed)
        return kept

    def _old_version_files(self) -> list[str]:
        """The files of earlier versions' layouts (``v1/``) under the root: only what that layout held
        (``blobs/<algorithm>/<hex>``, ``records/<kind>/<hh>/<hex>``, their ``.tmp-*`` files), never a
        link followed, so a user's files in a directory that happens to be called ``v1`` are left."""
        found: list[str] = []
        for version in _OLD_VERSIONS:
            top = os.path.join(self.root, version)
            if os.path.islink(top) or not os.path.isdir(top):
                continue
            for dirpath, dirnames, filenames in os.walk(top):
                parts = os.path.relpath(dirpath, top).split(os.sep)
                dirnames[:] = [d for d in dirnames if _old_layout_dir([*parts, d])]
                found.extend(
                    os.path.join(dirpath, name)
                    for name in filenames
                    if _old_layout_file(parts, name) and not os.path.islink(os.path.join(dirpath, name))
                )
        return found

    def _remove_old_versions(self) -> tuple[int, int]:
        """Remove the files of earlier versions' layouts, then their directories left empty: (files,
        bytes) removed."""
        files = size = 0
        for path in self._old_version_files():
            with contextlib.suppress(OSError):
                length = os.lstat(path).st_size
                os.unlink(path)
                size += length
                files += 0 if os.path.basename(path).startswith(".") else 1
        for version in _OLD_VERSIONS:
            top = os.path.join(self.root, version)
            if os.path.islink(top) or not os.path.isdir(top):
                continue
            for dirpath, _, _ in sorted(os.walk(top), key=lambda walked: -len(walked[0])):
                parts = os.path.relpath(dirpath, top).split(os.sep)
                if parts == ["."] or _old_layout_dir(parts):
                    with contextlib.suppress(OSError):
                        os.rmdir(dirpath)  # only when empty
        return files, size

    def prune(self, max_bytes: int | None = None) -> PruneResult:
        """Evict least-recently-used packs until at most ``max_bytes`` are left (default: the bound);
        remove damaged packs, stale temporary files and an earlier version's layout (``v1/``)."""
        limit = self.max_bytes if max_bytes is None else max_bytes
        self._flush()
        old_files, old_bytes = self._remove_old_versions()
        before, _ = pack.scan(self._packs_dir)
        indexes = self._indexes(before, drop_damaged=True)
        kept = self._evict(limit)
        kept_names = {p.name for p in kept}
        for listed in kept:
            if listed.name not in indexes:  # written meanwhile
                indexes.update(self._indexes([listed], drop_damaged=False))
        all_entries = {(r.kind, r.key) for rows in indexes.values() for r in rows}
        left = {(r.kind, r.key) for name, rows in indexes.items() if name in kept_names for r in rows}
        left_bytes = sum(p.size for p in kept)
        freed = sum(p.size for p in before if p.name not in kept_names)
        from okdrelease.cache.report import PruneResult

        return PruneResult(len(all_entries) - len(left) + old_files, freed + old_bytes, len(left), left_bytes)

    def trim(self) -> None:
        """Keep the cache within its bound: call at the end of a run, after :meth:`close`. A run that
        wrote nothing does nothing here (no listing)."""
        self._flush()
        if self.stats.writes:
            self._evict(self.max_bytes)
