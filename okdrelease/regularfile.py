"""Opening a file a user or another run named, refusing what is not a regular file without waiting on it.

A FIFO opened for reading blocks until a writer comes, and a device (``/dev/zero``) reads without end:
``open_regular`` opens without blocking and looks at what it opened (links followed), so a signature
store, an input file or a cache pack named by a path can be neither. The callers word the refusal.
"""

from __future__ import annotations

import os
import stat

__all__ = ["NotRegularFile", "open_regular", "read_open"]

_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)


class NotRegularFile(OSError):
    """The path names a directory, FIFO, device or socket (an OSError: whoever reports unreadable files
    reports it too)."""

    def __init__(self, path: str | os.PathLike[str], mode: int) -> None:
        self.is_dir = stat.S_ISDIR(mode)
        super().__init__(f"{os.fspath(path)}: {'is a directory' if self.is_dir else 'not a regular file'}")


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
