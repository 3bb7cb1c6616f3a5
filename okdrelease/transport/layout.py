"""The OCI image layout store: ``oci-layout``, ``index.json`` and ``blobs/<alg>/<hex>`` in one directory.

Many images live in one layout; the ``org.opencontainers.image.ref.name`` annotation of an
``index.json`` entry is the tag. Manifests are stored byte-exact (Docker-typed ones keep their
media type in ``index.json``), every blob read is verified against its digest, and every write
goes through a temporary file in the same directory and an atomic rename. Updates of
``index.json`` (read, change, replace) hold an exclusive ``flock`` on the layout directory, so
writers in other processes (two ``new --to-image oci:DIR:TAG`` at once) never lose each other's tags.

A temporary file is named ``.tmp-<owner>-<pid>-<random>``, ``owner`` standing for this machine's
boot and the writer's PID namespace. A process killed while writing (SIGKILL, a power loss) leaves
its file behind; the next run that tags an image in the layout removes the temporary files whose
writer provably is gone: the same boot and PID namespace as its own, and no process with that PID.
Any other temporary file (another host's on a shared filesystem, another container's, an earlier
boot's, an older version's name) is left alone: it may be a live writer's.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import io
import json
import logging
import os
import re
import secrets
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import IO, Any, BinaryIO

from okdrelease.errors import (
    InvalidReferenceError,
    LayoutError,
    NotFoundError,
    OkdReleaseError,
)
from okdrelease.events import BytesMoved, EventSink, metered
from okdrelease.gocompat.jsonbounds import json_loads
from okdrelease.oci import mediatypes as mt
from okdrelease.oci.digest import VerifyingReader, check_hash, new_hasher, validate_digest, verify_bytes
from okdrelease.oci.model import AnyManifest, Descriptor, Index, Manifest, parse_manifest
from okdrelease.reference import validate_ref_name
from okdrelease.regularfile import new_file
from okdrelease.transport.base import (
    MAX_CONFIG_SIZE,
    MAX_MANIFEST_SIZE,
    PRESENT,
    REFUSED,
    BlobMount,
    BlobSource,
    Repository,
)

log = logging.getLogger(__name__)

LAYOUT_FILE = "oci-layout"
INDEX_FILE = "index.json"
BLOBS_DIR = "blobs"
LAYOUT_VERSION = "1.0.0"
REF_NAME = "org.opencontainers.image.ref.name"

_CHUNK = 1 << 20

_LOCKS_GUARD = threading.Lock()
_INDEX_LOCKS: dict[str, threading.Lock] = {}


def _index_lock(root: str) -> threading.Lock:
    """One lock per real layout directory, shared by every LayoutRepository of this process."""
    key = os.path.realpath(root)
    with _LOCKS_GUARD:
        return _INDEX_LOCKS.setdefault(key, threading.Lock())


def _is_digest(reference: str) -> bool:
    try:
        validate_digest(reference)
    except InvalidReferenceError:
        return False
    return True


def _may_be_absent(media_type: str) -> bool:
    """Foreign and non-distributable layers need not be stored."""
    return "foreign" in media_type or "nondistributable" in media_type


_NOTES_GUARD = threading.Lock()
#: Layout directories (absolute paths) whose files written by this process are noted, with how many
#: :func:`noting_writes` are open on each and the files noted so far.
_NOTED: dict[str, tuple[int, set[str]]] = {}


@contextlib.contextmanager
def noting_writes(root: str) -> Iterator[set[str]]:
    """Note every file this process writes into the layout directory ``root`` while inside: its blobs
    (stored), ``oci-layout`` and ``index.json``. Yields the set of their absolute paths."""
    key = os.path.abspath(root)
    with _NOTES_GUARD:
        count, files = _NOTED.get(key, (0, set()))
        _NOTED[key] = (count + 1, files)
    try:
        yield files
    finally:
        with _NOTES_GUARD:
            count, files = _NOTED[key]
            if count > 1:
                _NOTED[key] = (count - 1, files)
            else:
                del _NOTED[key]


def _note_written(path: str) -> None:
    if not _NOTED:
        return
    full = os.path.abspath(path)
    with _NOTES_GUARD:
        for root, (_, files) in _NOTED.items():
            if full.startswith(root + os.sep):
                files.add(full)


def _lists_images(root: str) -> bool:
    """Whether the layout's ``index.json`` names an image (or cannot be read as one that names none)."""
    try:
        with open(os.path.join(root, INDEX_FILE), "rb") as handle:
            index = json.load(handle)
    except FileNotFoundError:
        return False
    except (OSError, ValueError):
        return True
    return not (isinstance(index, dict) and index.get("manifests") == [])


def remove_written(root: str, written: set[str], top: str | None) -> None:
    """Undo a failed write of a layout this process created at ``root``: remove the files it wrote there
    (``written``, from :func:`noting_writes`), then the directories left empty, up to and including
    ``top`` (the highest directory the write created; None: ``root`` existed and stays).

    Nothing else is removed: files others wrote keep their directories, and a layout whose
    ``index.json`` names an image by now (another run's, finished meanwhile) is left whole.
    """
    if _lists_images(root):
        return
    for path in written:
        with contextlib.suppress(OSError):
            os.unlink(path)
    blobs = os.path.join(root, BLOBS_DIR)
    with contextlib.suppress(OSError):
        for name in os.listdir(blobs):
            with contextlib.suppress(OSError):
                os.rmdir(os.path.join(blobs, name))
    with contextlib.suppress(OSError):
        os.rmdir(blobs)
    if top is None:
        return
    directory = root
    while True:
        try:
            os.rmdir(directory)
        except OSError:
            return
        if directory == top or os.path.dirname(directory) == directory:
            return
        directory = os.path.dirname(directory)


_TMP_PREFIX = ".tmp-"
#: ``.tmp-<owner>-<pid>-``, the start of a temporary file's name (``_atomic_file``).
_OWNED_TMP = re.compile(r"\.tmp-([0-9a-f]{16})-([0-9]+)-")


@functools.cache
def _owner() -> str:
    """This machine's boot and this process's PID namespace, as 16 hex digits ("" where unknown): a PID
    names one process only within them."""
    try:
        with open("/proc/sys/kernel/random/boot_id", "rb") as handle:
            boot = handle.read().strip()
        namespace = os.readlink("/proc/self/ns/pid").encode()
    except OSError:
        return ""
    return hashlib.sha256(boot + b"\0" + namespace).hexdigest()[:16]


def _tmp_prefix() -> str:
    owner = _owner()
    return f"{_TMP_PREFIX}{owner}-{os.getpid()}-" if owner else _TMP_PREFIX


def _running(pid: int) -> bool:
    """Whether a process ``pid`` exists in this PID namespace (one of another user's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def remove_abandoned(root: str) -> list[str]:
    """Remove the temporary files in the layout at ``root`` (its top directory and ``blobs/<alg>/``)
    that a killed writer left: named by this boot and PID namespace, and no process with their PID
    runs. Returns the paths removed. Every other file is left; nothing here fails a write."""
    owner = _owner()
    if not owner:
        return []
    directories = [root]
    blobs = os.path.join(root, BLOBS_DIR)
    with contextlib.suppress(OSError):
        directories.extend(os.path.join(blobs, name) for name in sorted(os.listdir(blobs)))
    removed: list[str] = []
    for directory in directories:
        try:
            names = os.listdir(directory)
        except OSError:
            continue
        for name in names:
            match = _OWNED_TMP.match(name)
            if match is None or match.group(1) != owner or _running(int(match.group(2))):
                continue
            path = os.path.join(directory, name)
            with contextlib.suppress(OSError):
                os.unlink(path)
                removed.append(path)
    for path in removed:
        log.debug("removed %s, left by a writer that is gone", path)
    return removed


@contextlib.contextmanager
def _atomic_file(final: str, what: str) -> Iterator[Callable[[bytes], None]]:
    """Yield a writer into a temp file next to ``final``; rename it onto ``final`` on success, remove it on failure.

    Failures of the destination (disk full, not a directory, permissions) are LayoutErrors naming ``what``.
    """

    def failed(err: OSError) -> LayoutError:
        return LayoutError(f"cannot write {what}: {err.strerror or err}")

    directory = os.path.dirname(final)
    tmp = os.path.join(directory, f"{_tmp_prefix()}{secrets.token_hex(6)}")
    with contextlib.ExitStack() as stack:
        try:
            os.makedirs(directory, exist_ok=True)
            handle = stack.enter_context(new_file(tmp))
        except OSError as err:
            raise failed(err) from None

        def write(data: bytes) -> None:
            try:
                handle.write(data)
            except OSError as err:
                raise failed(err) from None

        yield write
        try:
            handle.close()  # (flushes what is buffered: a full disk may say so only here)
            os.chmod(tmp, 0o644)
            os.replace(tmp, final)
        except OSError as err:
            raise failed(err) from None
        _note_written(final)


def _write_atomic(final: str, data: bytes, what: str) -> None:
    with _atomic_file(final, what) as write:
        write(data)


class LayoutRepository:
    """An OCI image layout directory implementing the Repository protocol."""

    max_concurrency = 8

    def __init__(
        self, path: str | os.PathLike[str], *, create: bool = False, events: EventSink | None = None
    ) -> None:
        """Open the layout at ``path``; with ``create`` make an empty one when it does not exist.

        ``events`` is told about the bytes of every blob read or stored (``BytesMoved``).
        """
        self._path = os.fspath(path)
        self.events = events
        self._lock = _index_lock(self._path)
        self._swept = False
        if create:
            self._create()
        self._check()

    # ---------------------------------------------------------------- layout files

    @property
    def path(self) -> str:
        """The layout directory as given."""
        return self._path

    @property
    def display(self) -> str:
        """``oci:<path>``."""
        return f"oci:{self._path}"

    def __repr__(self) -> str:
        return f"LayoutRepository({self._path!r})"

    def _file(self, *parts: str) -> str:
        return os.path.join(self._path, *parts)

    def _create(self) -> None:
        if os.path.exists(self._path) and not os.path.isdir(self._path):
            raise LayoutError(f"cannot create OCI layout {self._path}: it exists and is not a directory")
        try:
            os.makedirs(self._file(BLOBS_DIR, "sha256"), exist_ok=True)
            with self._index_locked():
                if not os.path.exists(self._file(LAYOUT_FILE)):
                    data = json.dumps({"imageLayoutVersion": LAYOUT_VERSION}, separators=(",", ":"))
                    _write_atomic(self._file(LAYOUT_FILE), data.encode(), f"{LAYOUT_FILE} in {self.display}")
                if not os.path.exists(self._file(INDEX_FILE)):
                    self._write_index({"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": []})
        except OSError as err:  # (the reason only: Python's '[Errno N] …: PATH' would name a path twice)
            raise LayoutError(f"cannot create OCI layout {self._path}: {err.strerror or err}") from err

    @contextlib.contextmanager
    def _index_locked(self) -> Iterator[None]:
        """Hold this process's lock and an exclusive ``flock`` on the layout directory."""
        with self._lock:
            try:
                fd = os.open(self._path, os.O_RDONLY | os.O_DIRECTORY)
            except OSError as err:
                raise LayoutError(f"cannot lock OCI layout {self._path}: {err.strerror or err}") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)  # releases the flock

    def _load_json(self, filename: str) -> Any:
        """Parse one of the layout's JSON files; a missing or malformed file is a LayoutError naming it."""
        name = self._file(filename)
        try:
            with open(name, "rb") as handle:
                raw = handle.read()
        except FileNotFoundError:
            raise LayoutError(f"{self._path} is not an OCI image layout: {filename} is missing") from None
        except OSError as err:
            raise LayoutError(f"cannot read {name}: {err}") from err
        try:
            return json_loads(raw)
        except ValueError as err:
            raise LayoutError(f"malformed {name}: {err}") from err

    def _check(self) -> None:
        if not os.path.isdir(self._path):
            raise LayoutError(f"{self._path} is not an OCI image layout: no such directory")
        data = self._load_json(LAYOUT_FILE)
        version = data.get("imageLayoutVersion") if isinstance(data, dict) else None
        if not isinstance(version, str) or not version.startswith("1."):
            raise LayoutError(
                f"malformed {self._file(LAYOUT_FILE)}: unsupported imageLayoutVersion {version!r}"
            )
        self._read_index()

    def _read_index(self) -> dict[str, Any]:
        name = self._file(INDEX_FILE)
        data = self._load_json(INDEX_FILE)
        if not isinstance(data, dict) or not isinstance(data.get("manifests", []), list):
            raise LayoutError(f"malformed {name}: not an image index")
        data.setdefault("manifests", [])
        for item in data["manifests"]:
            if not isinstance(item, dict) or not isinstance(item.get("digest"), str):
                raise LayoutError(f"malformed {name}: invalid entry {item!r}")
        return data

    def _write_index(self, data: dict[str, Any]) -> None:
        raw = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
        _write_atomic(self._file(INDEX_FILE), raw, f"{INDEX_FILE} in {self.display}")

    def entries(self) -> list[Descriptor]:
        """Every ``index.json`` entry, in index order."""
        out = []
        for item in self._read_index()["manifests"]:
            try:
                out.append(Descriptor.from_dict(item))
            except OkdReleaseError as err:
                raise LayoutError(f"malformed {self._file(INDEX_FILE)}: {err}") from err
        return out

    def list_tags(self) -> list[str]:
        """Ref names in index order (each once)."""
        names: list[str] = []
        for desc in self.entries():
            name = desc.ref_name
            if name and name not in names:
                names.append(name)
        return names

    def _entry_for_tag(self, tag: str) -> Descriptor:
        matches = [d for d in self.entries() if d.ref_name == tag]
        if not matches:
            raise NotFoundError(
                f"{self.display}: no image with ref name {tag!r}", repository=self._path, reference=tag
            )
        if len({d.digest for d in matches}) > 1:
            raise LayoutError(f"{self.display}: more than one image with ref name {tag!r}")
        return matches[0]

    # ---------------------------------------------------------------- blobs

    def _blob_path(self, digest: str) -> str:
        validate_digest(digest)
        algorithm, _, hex_part = digest.partition(":")
        return self._file(BLOBS_DIR, algorithm, hex_part)

    def blob_path(self, digest: str) -> str:
        """The file that holds (or would hold) ``digest``."""
        return self._blob_path(digest)

    def has_blob(self, digest: str) -> bool:
        """True when ``blobs/<alg>/<hex>`` exists."""
        return os.path.isfile(self._blob_path(digest))

    def open_blob(self, digest: str, size: int | None = None) -> BinaryIO:
        """Open a blob as a stream that raises DigestMismatchError at EOF when the content is wrong.

        What is read from it is reported to ``events`` (whole reads of ``read_blob`` are not).
        """
        return self._open(digest, size, self.events)

    def _open(self, digest: str, size: int | None, events: EventSink | None) -> BinaryIO:
        path = self._blob_path(digest)
        try:
            handle = open(path, "rb")
        except FileNotFoundError:
            raise NotFoundError(
                f"blob {digest} not found in OCI layout {self._path}", repository=self._path, reference=digest
            ) from None
        except OSError as err:
            raise LayoutError(f"cannot read blob {digest} in OCI layout {self._path}: {err}") from err
        stream = metered(handle, events, digest, size, "read")
        return VerifyingReader(stream, digest, f"blob {digest} in {self.display}", size)  # type: ignore[return-value]

    def read_blob(self, digest: str, size: int | None = None) -> bytes:
        """Read a whole blob, verified against its digest (and ``size`` when given)."""
        with self._open(digest, size, None) as stream:
            # In blocks: a file longer than ``size`` fails at the first block past it, not once in memory.
            return b"".join(iter(lambda: stream.read(_CHUNK), b""))

    def put_blob(self, source: BlobSource, digest: str, size: int | None = None) -> None:
        """Store a blob through a temp file and an atomic rename; the content must hash to ``digest``."""
        final = self._blob_path(digest)
        what = f"blob {digest} for {self.display}"
        if isinstance(source, bytes | bytearray):
            verify_bytes(bytes(source), digest, what, size)
            if os.path.isfile(final):
                return
            self._store(io.BytesIO(source), final, digest, size, what, report=False)
        elif os.path.isfile(final):
            return
        elif callable(source):
            with source() as stream:
                self._store(stream, final, digest, size, what)
        else:
            self._store(source, final, digest, size, what)

    def _store(
        self, stream: IO[bytes], final: str, digest: str, size: int | None, what: str, *, report: bool = True
    ) -> None:
        """Write ``stream`` into place; streamed content (not bytes in hand) is reported to ``events``."""
        events = self.events if report else None
        hasher = new_hasher(digest)
        written = 0
        with _atomic_file(final, what) as write:
            while chunk := stream.read(_CHUNK):
                hasher.update(chunk)
                written += len(chunk)
                write(chunk)
                if events is not None:
                    events(BytesMoved(digest, len(chunk), size or 0, "write"))
            check_hash(hasher, digest, what, length=written, size=size)
        log.debug("stored blob %s in %s (%d bytes)", digest, self.display, written)

    def mount_blob(self, digest: str, source: Repository) -> BlobMount:
        """``PRESENT`` when the blob is here, else ``REFUSED``: a layout mounts nothing. A blob of
        another layout is copied (``put_blob``, the bytes verified as read), never hard-linked: a
        copy whose file is changed in place (a chmod, an edit) would change its source too.
        """
        return PRESENT if self.has_blob(digest) else REFUSED

    # ---------------------------------------------------------------- manifests

    def _find_descriptor(self, digest: str) -> Descriptor | None:
        """The first ``index.json`` entry with this digest (it gives the media type), if any."""
        for desc in self.entries():
            if desc.digest == digest:
                return desc
        return None

    def get_manifest(self, reference: str) -> AnyManifest:
        """Read a manifest or index by ref name or digest; its bytes are verified against the digest."""
        desc = self.resolve(reference)
        raw = self._read_manifest_blob(desc.digest, reference)
        try:
            return parse_manifest(raw, desc.media_type or None, desc.digest)
        except OkdReleaseError as err:
            raise LayoutError(f"{self.display}@{desc.digest}: {err}") from err

    def _read_manifest_blob(self, digest: str, reference: str) -> bytes:
        path = self._blob_path(digest)
        try:
            length = os.path.getsize(path) if os.path.isfile(path) else None
        except OSError:
            length = None
        if length is None:
            raise NotFoundError(
                f"manifest {digest} ({reference}) not found in OCI layout {self._path}",
                repository=self._path,
                reference=reference,
            )
        if length > MAX_MANIFEST_SIZE:
            raise LayoutError(
                f"manifest {digest} ({reference}) in {self.display} is larger than {MAX_MANIFEST_SIZE} bytes"
            )
        return self.read_blob(digest)

    def resolve(self, reference: str) -> Descriptor:
        """The descriptor a ref name or digest points at (media type from ``index.json`` or the bytes)."""
        if not _is_digest(reference):
            return self._entry_for_tag(reference)
        known = self._find_descriptor(reference)
        if known is not None:
            return known
        raw = self._read_manifest_blob(reference, reference)
        try:
            parsed = parse_manifest(raw, None, reference)
        except OkdReleaseError as err:
            raise LayoutError(f"{self.display}@{reference}: {err}") from err
        return Descriptor(parsed.media_type, reference, len(raw))

    def _platform(self, manifest: Manifest) -> dict[str, str] | None:
        """The platform of an image from its config, when the config is stored and says."""
        config = manifest.config
        if config.size > MAX_CONFIG_SIZE or not self.has_blob(config.digest):
            return None
        try:
            data = json_loads(self.read_blob(config.digest, config.size))
        except (ValueError, OkdReleaseError):
            return None
        if not isinstance(data, dict) or not data.get("os") or not data.get("architecture"):
            return None
        platform = {"architecture": str(data["architecture"]), "os": str(data["os"])}
        if data.get("variant"):
            platform["variant"] = str(data["variant"])
        return platform

    def _check_references(self, parsed: AnyManifest) -> None:
        if isinstance(parsed, Index):
            wanted = [(d.digest, d.media_type) for d in parsed.manifests]
        else:
            wanted = [(d.digest, d.media_type) for d in [parsed.config, *parsed.layers]]
        for digest, media_type in wanted:
            if not self.has_blob(digest) and not _may_be_absent(media_type):
                raise LayoutError(
                    f"cannot store manifest {parsed.digest} in {self.display}: "
                    f"it references {digest}, which is not in the layout"
                )

    def put_manifest(self, raw: bytes, media_type: str, tag: str | None = None) -> str:
        """Store manifest bytes unchanged; with ``tag`` add or replace the ``index.json`` entry of that ref name."""
        if tag is not None:
            validate_ref_name(tag)
        try:
            parsed = parse_manifest(raw, media_type)
        except OkdReleaseError as err:
            raise LayoutError(f"cannot store manifest in {self.display}: {err}") from err
        self._check_references(parsed)
        digest = parsed.digest
        self.put_blob(raw, digest, len(raw))
        if tag is None:
            return digest
        self._set_entries([self._index_entry(raw, media_type, parsed, tag)])
        return digest

    def tag_manifests(self, tags: Mapping[str, str]) -> None:
        """Point each ref name at its digest, a manifest already stored, in one update of ``index.json``."""
        entries = []
        for tag, digest in tags.items():
            validate_ref_name(tag)
            raw = self._read_manifest_blob(digest, tag)
            try:
                parsed = parse_manifest(raw, None, digest)
            except OkdReleaseError as err:
                raise LayoutError(f"{self.display}@{digest}: {err}") from err
            entries.append(self._index_entry(raw, parsed.media_type, parsed, tag))
        if entries:
            self._set_entries(entries)

    def _index_entry(self, raw: bytes, media_type: str, parsed: AnyManifest, tag: str) -> dict[str, Any]:
        entry: dict[str, Any] = {"mediaType": media_type, "digest": parsed.digest, "size": len(raw)}
        entry["annotations"] = {REF_NAME: tag}
        if isinstance(parsed, Manifest):
            platform = self._platform(parsed)
            if platform:
                entry["platform"] = platform
        return entry

    def _set_entries(self, entries: list[dict[str, Any]]) -> None:
        """Add the entries to ``index.json``, each in place of the first entry of its ref name (others dropped)."""
        wanted = {entry["annotations"][REF_NAME]: entry for entry in entries}
        with self._index_locked():
            index = self._read_index()
            manifests: list[dict[str, Any]] = []
            placed: set[str] = set()
            for item in index["manifests"]:
                annotations = item.get("annotations")
                name = annotations.get(REF_NAME) if isinstance(annotations, dict) else None
                if isinstance(name, str) and name in wanted:
                    if name not in placed:
                        manifests.append(wanted[name])
                        placed.add(name)
                    continue
                manifests.append(item)
            manifests.extend(entry for name, entry in wanted.items() if name not in placed)
            index["manifests"] = manifests
            self._write_index(index)
        if not self._swept:  # once a write succeeded: what killed writers left (``remove_abandoned``)
            self._swept = True
            remove_abandoned(self._path)
        for name, entry in wanted.items():
            log.debug("tagged %s as %s in %s", entry["digest"], name, self.display)
