"""Opening a file a user or another run named, refusing what is not a regular file without waiting on it.

A FIFO opened for reading blocks until a writer comes, and a device (``/dev/zero``) reads without end:
``open_regular`` opens without blocking and looks at what it opened (links followed), so a signature
store, an input file or a cache pack named by a path can be neither. The callers word the refusal.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from okdrelease.errors import go_reason

__all__ = [
    "MAX_USER_FILE_BYTES",
    "FileTooLarge",
    "NoWriter",
    "NotRegularFile",
    "check_loadable",
    "failed_step",
    "made_dirs",
    "new_file",
    "open_regular",
    "read_capped",
    "read_failure",
    "read_open",
    "remove_empty",
    "temp_name",
    "undone_mkdirs",
    "write_whole",
]

_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)

#: What a file a user names for a run (keys, keyrings, policies, ConfigMaps, credentials, CA files)
#: may hold: far more than any real one does.
MAX_USER_FILE_BYTES = 16 << 20


class NotRegularFile(OSError):
    """The path names a directory, FIFO, device or socket (an OSError: whoever reports unreadable files
    reports it too)."""

    def __init__(self, path: str | os.PathLike[str], mode: int) -> None:
        self.is_dir = stat.S_ISDIR(mode)
        super().__init__(f"{os.fspath(path)}: {'is a directory' if self.is_dir else 'not a regular file'}")


class NoWriter(OSError):
    """A FIFO that gave nothing: nobody writes to it, and it is not waited for."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__(errno.ENXIO, "a FIFO with no writer (it is not waited for)", os.fspath(path))


def open_regular(path: str | os.PathLike[str]) -> int:
    """A read-only descriptor of the regular file at ``path`` (the caller closes it); ``NotRegularFile``
    (nothing left open) when it is none, the ``OSError`` of ``open`` when it cannot be opened."""
    fd = os.open(path, _OPEN_FLAGS)
    try:
        mode = os.fstat(fd).st_mode
    except BaseException:
        os.close(fd)
        raise
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise NotRegularFile(path, mode)
    return fd


def read_open(fd: int, max_bytes: int | None = None) -> bytes:
    """The bytes of an open file from its position: all of them, or at most ``max_bytes + 1`` (so a caller
    can tell a file that holds more than ``max_bytes``); the descriptor stays open."""
    with os.fdopen(fd, "rb", buffering=0, closefd=False) as handle:  # (no read-ahead past the bound)
        return handle.read() if max_bytes is None else handle.read(max_bytes + 1)


class FileTooLarge(OSError):
    """The file holds more than its reader takes."""

    def __init__(self, path: str | os.PathLike[str], max_bytes: int) -> None:
        self.max_bytes = max_bytes
        super().__init__(f"{os.fspath(path)} is larger than {max_bytes} bytes")


def read_capped(path: str | os.PathLike[str], max_bytes: int = MAX_USER_FILE_BYTES) -> bytes:
    """The bytes of the file a user named, a pipe such as ``<(cat auth.json)`` too; ``FileTooLarge``
    beyond ``max_bytes`` (``/dev/zero`` included), ``NoWriter`` for a FIFO nobody writes to, the
    ``OSError`` of ``open`` or ``read`` otherwise.

    The file is opened without waiting (opening a FIFO for reading blocks until a writer comes) and
    then read as usual: a pipe whose writer is there is read to its end, a FIFO without one gives
    nothing at once, which is refused rather than taken for an empty file."""
    fd = os.open(path, _OPEN_FLAGS)
    try:
        os.set_blocking(fd, True)
        with os.fdopen(fd, "rb", closefd=False) as handle:  # (buffered: a pipe's blocks read to the bound)
            data = handle.read(max_bytes + 1)
        if not data and stat.S_ISFIFO(os.fstat(fd).st_mode):
            raise NoWriter(path)
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        raise FileTooLarge(path, max_bytes)
    return data


def failed_step(err: OSError) -> str:
    """``open`` or ``read``: the step of reading a file (``read_capped``) that raised ``err``, as Go's
    ``*PathError`` names it in oc's errors. An error of ``open`` names its path, one of ``read`` does
    not; a directory (which opens) and a FIFO without a writer fail at ``read``."""
    opened = err.filename is None or isinstance(err, IsADirectoryError | NoWriter)
    return "read" if opened else "open"


def read_failure(path: str | os.PathLike[str], err: OSError) -> str:
    """``STEP PATH: REASON``, as Go's ``*PathError`` words a failed read of ``path`` in oc's errors: the
    step is :func:`failed_step`'s, the reason Go's words for ``err`` (a FIFO without a writer says so)."""
    reason = str(err.strerror) if isinstance(err, NoWriter) else go_reason(err)
    return f"{failed_step(err)} {os.fspath(path)}: {reason}"


def check_loadable(path: str | os.PathLike[str], max_bytes: int = MAX_USER_FILE_BYTES) -> None:
    """Refuse, before a library reads the file at ``path`` by its name (OpenSSL: CA files, client
    certificates), a device (``/dev/zero`` reads without end: ``NotRegularFile``) or a regular file
    over ``max_bytes`` (``FileTooLarge``); a pipe is left to its reader, as ``read_capped`` leaves it."""
    mode = os.stat(path)
    if stat.S_ISCHR(mode.st_mode) or stat.S_ISBLK(mode.st_mode):
        raise NotRegularFile(path, mode.st_mode)
    if stat.S_ISREG(mode.st_mode) and mode.st_size > max_bytes:
        raise FileTooLarge(path, max_bytes)


def write_whole(path: str | os.PathLike[str], data: bytes, mode: int, *, mtime: float | None = None) -> None:
    """Write ``data`` to the file at ``path`` (links followed) whole or not at all: into a new file beside
    it, renamed onto it once written, so a failure (a full disk) leaves no partial file and an earlier
    file as it was. A new file gets ``mode`` less the umask, a replaced one keeps its mode; ``mtime``
    sets its times. What is not a regular file (a device, a pipe) is written in place; a FIFO without a
    reader is refused (``OSError``: ``a FIFO with no reader (it is not waited for)``), never waited on.
    Failures are the ``OSError`` of the step that failed."""
    final = os.path.realpath(path)
    try:
        info: os.stat_result | None = os.stat(final)
    except FileNotFoundError:
        info = None
    if info is not None and not stat.S_ISREG(info.st_mode):
        fifo = stat.S_ISFIFO(info.st_mode)
        try:
            fd = os.open(final, os.O_WRONLY | os.O_TRUNC | (os.O_NONBLOCK if fifo else 0))
        except OSError as err:
            if fifo and err.errno == errno.ENXIO:
                raise OSError(err.errno, "a FIFO with no reader (it is not waited for)") from None
            raise
        os.set_blocking(fd, True)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        return
    directory, name = os.path.split(final)
    temp = os.path.join(directory, temp_name(name))
    with new_file(temp, mode) as out:
        out.write(data)
        if info is not None:
            os.fchmod(out.fileno(), stat.S_IMODE(info.st_mode))
        out.close()
        if mtime is not None:
            os.utime(temp, (mtime, mtime))
        os.replace(temp, final)


def temp_name(name: str) -> str:
    """A fresh name for a temporary file beside the file ``name``: ``.<name>.tmp-<12 random hex digits>``."""
    return f".{name[:200]}.tmp-{secrets.token_hex(6)}"


_NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


@contextlib.contextmanager
def new_file(path: str, mode: int = 0o600, *, dir_fd: int | None = None) -> Iterator[BinaryIO]:
    """The one core of every "write a temporary file, rename it into place" writer: a file created at
    ``path`` (relative to ``dir_fd`` when given; never one that exists, never through a link; ``mode``
    less the umask), open for writing. The block writes it, closes it (a full disk may say so only
    then) and renames it; when the block fails, the file is closed and removed, the error raised."""
    out = os.fdopen(os.open(path, _NEW_FILE_FLAGS, mode, dir_fd=dir_fd), "wb")
    try:
        yield out
    except BaseException:
        with contextlib.suppress(OSError):
            out.close()  # (its flush fails again on a full disk; the descriptor is closed all the same)
        with contextlib.suppress(OSError):
            os.unlink(path, dir_fd=dir_fd)
        raise
    out.close()  # (closed by the block, as it renamed it: nothing left to do)


def made_dirs(path: Path) -> list[Path]:
    """The directories ``path.mkdir(parents=True)`` would make, deepest first."""
    missing: list[Path] = []
    while not os.path.lexists(path) and path.parent != path:
        missing.append(path)
        path = path.parent
    return missing


@contextlib.contextmanager
def undone_mkdirs(path: Path, mode: int = 0o777) -> Iterator[list[Path]]:
    """Make ``path`` (with ``mode``, less the umask) and its parents; give the directories this call made,
    deepest first. When making them or the block fails, those of them left empty are removed."""
    made = made_dirs(path)
    try:
        path.mkdir(mode, parents=True, exist_ok=True)
        yield made
    except BaseException:
        remove_empty(made)
        raise


def remove_empty(directories: Iterable[str | os.PathLike[str]]) -> None:
    """Remove each of ``directories`` (deepest first) that is empty; leave the others, quietly."""
    for directory in directories:
        with contextlib.suppress(OSError):
            os.rmdir(directory)
