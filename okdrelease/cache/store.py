"""A persistent, content-addressed cache shared by runs (issue 9.3).

Layout under the root (default ``$XDG_CACHE_HOME/okdrelease``, else ``~/.cache/okdrelease``)::

    v1/blobs/sha256/<hex>            manifests and configs, stored under their own digest
    v1/records/<kind>/<hh>/<hex>     derived data (per-layer indexes, manifest-check verdicts), framed:
                                     b"okdrelease-cache-v1 " + sha256(payload) hex + b"\\n" + payload

Everything is keyed by content digest (a record's key names the content it was derived from), so
nothing goes stale. Every entry is checked when read: a blob must hash to its name, a record to the
checksum in its frame; a damaged entry is dropped and reported as a miss, so the caller refetches.
Writes go to a temporary file in the same directory, then ``os.replace``: concurrent runs and a kill
at any moment leave either no entry or a whole one. Reads refresh an entry's mtime; :meth:`Cache.trim`
evicts least-recently-used entries until the cache fits ``max_bytes``.

The library takes a :class:`Cache` (or None for no cache) as a parameter; it never picks one itself.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import logging
import os
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import attrs

from okdrelease.errors import InvalidReferenceError
from okdrelease.oci.digest import new_hasher, validate_digest

log = logging.getLogger(__name__)

#: Default size bound: 1 GiB.
DEFAULT_MAX_BYTES = 1 << 30
_VERSION = "v1"
_FRAME = b"okdrelease-cache-v1 "
_FRAME_LENGTH = len(_FRAME) + 64 + 1
#: Record kinds: per-layer indexes and manifest-check verdicts.
LAYER_INDEX = "layer-index"
VERDICT = "verdict"
_KINDS = (LAYER_INDEX, VERDICT)


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


@attrs.frozen
class KindInfo:
    """How many entries of one kind and their bytes on disk."""

    kind: str
    entries: int
    size: int


@attrs.frozen
class CacheInfo:
    """What :meth:`Cache.info` reports."""

    root: Path
    max_bytes: int
    kinds: tuple[KindInfo, ...]

    @property
    def entries(self) -> int:
        """All entries."""
        return sum(k.entries for k in self.kinds)

    @property
    def size(self) -> int:
        """All bytes."""
        return sum(k.size for k in self.kinds)


@attrs.frozen
class PruneResult:
    """What :meth:`Cache.prune` removed and what is left."""

    removed: int
    freed: int
    left_entries: int
    left_bytes: int


@attrs.define
class CacheStats:
    """Counters of one run (thread-safe updates through :meth:`Cache._count`)."""

    hits: int = 0
    misses: int = 0
    writes: int = 0
    dropped: int = 0


#: A temporary file older than this was left by a killed run; prune removes it.
_STALE_TMP_SECONDS = 3600


def _entry_files(directory: Path) -> Iterator[Path]:
    """Every finished entry under ``directory`` (temporary files of unfinished writes are skipped)."""
    for dirpath, _, filenames in os.walk(directory):
        for name in filenames:
            if not name.startswith("."):
                yield Path(dirpath, name)


def _remove_stale_tmp(directory: Path, now: float) -> None:
    """Remove temporary files a killed run left behind (older than an hour)."""
    for dirpath, _, filenames in os.walk(directory):
        for name in filenames:
            if name.startswith(".tmp-"):
                path = Path(dirpath, name)
                with contextlib.suppress(OSError):
                    if now - path.stat().st_mtime > _STALE_TMP_SECONDS:
                        path.unlink()


class Cache:
    """The persistent cache at ``root``, bounded to ``max_bytes`` (see the module docstring)."""

    def __init__(self, root: Path | str, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        """Use (and create on first write) the cache directory ``root``."""
        self.root = Path(root)
        self.max_bytes = max_bytes
        self.stats = CacheStats()
        self._lock = threading.Lock()
        self._dirs: set[str] = set()  # directories this run created or found
        self._serial = itertools.count()
        # Entry paths are built as strings: pathlib's joins cost more than the reads on a warm run.
        self._base_dir = os.path.join(self.root, _VERSION)

    def _count(self, field: str) -> None:
        with self._lock:
            setattr(self.stats, field, getattr(self.stats, field) + 1)

    # ---- paths

    @property
    def _base(self) -> Path:
        return self.root / _VERSION

    def _blob_path(self, digest: str) -> str:
        algorithm, _, hex_part = validate_digest(digest).partition(":")
        return f"{self._base_dir}/blobs/{algorithm}/{hex_part}"

    def _record_path(self, kind: str, key: str) -> str:
        if kind not in _KINDS:
            raise ValueError(f"unknown cache record kind {kind!r}")
        name = hashlib.sha256(key.encode()).hexdigest()
        return f"{self._base_dir}/records/{kind}/{name[:2]}/{name}"

    # ---- reading and writing files

    def _read(self, path: str) -> bytes | None:
        try:
            with open(path, "rb") as entry:
                data = entry.read()
        except FileNotFoundError:
            self._count("misses")
            return None
        except OSError as err:
            log.warning("cache: cannot read %s: %s", path, err)
            self._count("misses")
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # least recently used = oldest mtime
        return data

    def _drop(self, path: str, why: str) -> None:
        log.warning("cache: dropped %s: %s", path, why)
        self._count("dropped")
        self._count("misses")
        with contextlib.suppress(OSError):
            os.unlink(path)

    def _open_tmp(self, directory: str) -> tuple[int, str]:
        """A new temporary file in ``directory`` (created once per run; again if it went away)."""
        tmp = os.path.join(directory, f".tmp-{os.getpid()}-{threading.get_ident()}-{next(self._serial)}")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
        if directory not in self._dirs:
            os.makedirs(directory, exist_ok=True)
            self._dirs.add(directory)
        try:
            return os.open(tmp, flags, 0o600), tmp
        except FileNotFoundError:  # removed under us (a user emptied the cache): create it again
            os.makedirs(directory, exist_ok=True)
            return os.open(tmp, flags, 0o600), tmp

    def _write(self, path: str, data: bytes) -> None:
        """Write ``data`` to ``path`` atomically (temporary file in the same directory, then rename)."""
        try:
            fd, tmp = self._open_tmp(os.path.dirname(path))
        except OSError as err:
            log.warning("cache: cannot write %s: %s", path, err)
            return
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(tmp, path)
        except OSError as err:
            log.warning("cache: cannot write %s: %s", path, err)
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            return
        self._count("writes")

    # ---- blobs (manifests, configs) by digest

    def get_blob(self, digest: str) -> bytes | None:
        """The bytes stored under ``digest``, checked against it; None (and the entry dropped) otherwise."""
        try:
            path = self._blob_path(digest)
        except InvalidReferenceError:
            return None
        data = self._read(path)
        if data is None:
            return None
        hasher = new_hasher(digest)
        hasher.update(data)
        if f"{digest.partition(':')[0]}:{hasher.hexdigest()}" != digest:
            self._drop(path, f"content does not match {digest}")
            return None
        self._count("hits")
        return data

    def put_blob(self, digest: str, data: bytes) -> None:
        """Store ``data`` under ``digest`` if it hashes to it (content that does not is never stored)."""
        try:
            path = self._blob_path(digest)
            hasher = new_hasher(digest)
        except InvalidReferenceError:
            return
        hasher.update(data)
        if f"{digest.partition(':')[0]}:{hasher.hexdigest()}" != digest:
            log.warning("cache: not storing content that does not match %s", digest)
            return
        if not os.path.exists(path):
            self._write(path, data)

    # ---- records (derived data) by key

    def get_record(self, kind: str, key: str) -> bytes | None:
        """The payload of the record ``kind``/``key``, checked against its frame; None when absent or damaged."""
        path = self._record_path(kind, key)
        data = self._read(path)
        if data is None:
            return None
        payload = data[_FRAME_LENGTH:]
        expected = _FRAME + hashlib.sha256(payload).hexdigest().encode() + b"\n"
        if data[:_FRAME_LENGTH] != expected:
            self._drop(path, "checksum does not match")
            return None
        self._count("hits")
        return payload

    def put_record(self, kind: str, key: str, payload: bytes) -> None:
        """Store ``payload`` as the record ``kind``/``key`` (atomically, with its checksum)."""
        frame = _FRAME + hashlib.sha256(payload).hexdigest().encode() + b"\n"
        self._write(self._record_path(kind, key), frame + payload)

    # ---- manifest-check verdicts (okdrelease.payload.check.VerdictStore)

    def get_verdicts(self, keys: Sequence[str]) -> dict[str, str | None] | None:
        """The manifest-check verdicts remembered together for exactly the content digests ``keys``, or None."""
        payload = self.get_record(VERDICT, _verdict_set_key(keys))
        if payload is None:
            return None
        try:
            value = json.loads(payload)
        except ValueError:
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

    # ---- size bound

    def _entries(self) -> list[tuple[float, int, Path]]:
        found = []
        for path in _entry_files(self._base):
            try:
                st = path.stat()
            except OSError:
                continue
            found.append((st.st_mtime, st.st_size, path))
        return found

    def info(self) -> CacheInfo:
        """Entries and bytes by kind (``blobs`` and each record kind)."""
        kinds = []
        for kind, directory in (("blobs", self._base / "blobs"),) + tuple(
            (k, self._base / "records" / k) for k in _KINDS
        ):
            sizes = []
            for path in _entry_files(directory):
                with contextlib.suppress(OSError):
                    sizes.append(path.stat().st_size)
            kinds.append(KindInfo(kind, len(sizes), sum(sizes)))
        return CacheInfo(self.root, self.max_bytes, tuple(kinds))

    def prune(self, max_bytes: int | None = None) -> PruneResult:
        """Evict least-recently-used entries until at most ``max_bytes`` are left (default: the bound)."""
        limit = self.max_bytes if max_bytes is None else max_bytes
        _remove_stale_tmp(self._base, time.time())
        entries = sorted(self._entries(), key=lambda e: e[0])
        total = sum(size for _, size, _ in entries)
        removed = freed = 0
        for _, size, path in entries:
            if total <= limit:
                break
            try:
                path.unlink()
            except FileNotFoundError:
                pass
            except OSError as err:
                log.warning("cache: cannot remove %s: %s", path, err)
                continue
            total -= size
            removed += 1
            freed += size
        return PruneResult(removed, freed, len(entries) - removed, total)

    def trim(self) -> None:
        """Keep the cache within its bound (call at the end of a run that wrote entries)."""
        if self.stats.writes:
            self.prune()
