"""Writing files whose names come from the input, without ever leaving the directory they belong in.

Each name must be one path component (not empty, ``.``, ``..``, nor holding ``/`` or NUL); files
are opened relative to a directory descriptor with ``O_NOFOLLOW``, written under a fresh name and
renamed into place, so neither a symlink nor a hard link already in the directory is written through.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from types import TracebackType

from okdrelease.errors import UnsafePathError


def check_component(name: str, *, what: str, flag: str, root: Path) -> str:
    """Return ``name`` if it is one safe path component; else UnsafePathError naming it and the directory."""
    if not name or name in (".", "..") or "/" in name or "\0" in name:
        raise UnsafePathError(
            f"{flag} {root}: {what} is not a single file name; it would be written outside {root}"
        )
    return name


class SafeDir:
    """An open directory; children are created and written relative to its descriptor."""

    def __init__(self, path: Path, flag: str, *, root: Path | None = None, fd: int | None = None) -> None:
        """Open ``path`` (the directory the user named; symlinks below it are never followed)."""
        self.path = path
        self.flag = flag
        self.root = root or path
        self.fd = fd if fd is not None else os.open(path, os.O_RDONLY | os.O_DIRECTORY)

    def close(self) -> None:
        """Close the directory descriptor."""
        os.close(self.fd)

    def __enter__(self) -> SafeDir:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _name(self, name: str, what: str) -> str:
        return check_component(name, what=what, flag=self.flag, root=self.root)

    def subdir(self, name: str, *, what: str) -> SafeDir:
        """Create (or reuse) the directory ``name``; a symlink there is refused, not followed."""
        self._name(name, what)
        try:
            os.mkdir(name, 0o777, dir_fd=self.fd)
        except FileExistsError:
            pass
        try:
            fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=self.fd)
        except OSError as err:
            raise UnsafePathError(
                f"{self.flag} {self.root}: {what} is a symlink or a file, not a directory inside {self.root}"
            ) from err
        return SafeDir(self.path / name, self.flag, root=self.root, fd=fd)

    def write(
        self,
        name: str,
        data: bytes,
        mode: int,
        mtime: float | None,
        *,
        what: str,
        mtime_ns: int | None = None,
    ) -> None:
        """Write ``name`` atomically with ``mode`` (and ``mtime`` seconds or ``mtime_ns``), replacing what was there."""
        self._name(name, what)
        temp = f".{name[:200]}.tmp-{secrets.token_hex(6)}"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
        fd = os.open(temp, flags, 0o600, dir_fd=self.fd)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fchmod(out.fileno(), mode)
                if mtime_ns is not None:
                    os.utime(out.fileno(), ns=(mtime_ns, mtime_ns))
                elif mtime is not None:
                    os.utime(out.fileno(), (mtime, mtime))
            os.replace(temp, name, src_dir_fd=self.fd, dst_dir_fd=self.fd)
        except BaseException:
            try:
                os.unlink(temp, dir_fd=self.fd)
            except OSError:
                pass
            raise
