"""Writing files whose names come from the input, without ever leaving the directory they belong in.

Each name must be one path component (not empty, ``.``, ``..``, nor holding ``/`` or NUL); files
are opened relative to a directory descriptor with ``O_NOFOLLOW``, written under a fresh name and
renamed into place, so neither a symlink nor a hard link already in the directory is written through.

A ``SafeDir`` opened with ``undo=True`` writes all or nothing: when its ``with`` block fails, the
files it created and the directories it made are removed and the files it replaced are put back
(each was kept under a hard link until then), so a failed ``--to-dir`` or ``--dir`` (a full disk)
leaves the directory as it found it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path
from types import TracebackType

from okdrelease.errors import UnsafePathError
from okdrelease.regularfile import new_file, temp_name


def check_component(name: str, *, what: str, flag: str, root: Path) -> str:
    """Return ``name`` if it is one safe path component; else UnsafePathError naming it and the directory."""
    if not name or name in (".", "..") or "/" in name or "\0" in name:
        raise UnsafePathError(
            f"{flag} {root}: {what} is not a single file name; it would be written outside {root}"
        )
    return name


class SafeDir:
    """An open directory; children are created and written relative to its descriptor."""

    def __init__(
        self,
        path: Path,
        flag: str,
        *,
        root: Path | None = None,
        fd: int | None = None,
        undo: bool = False,
        journal: _Journal | None = None,
    ) -> None:
        """Open ``path`` (the directory the user named; symlinks below it are never followed); with
        ``undo``, what is written below it is undone when the ``with`` block fails."""
        self.path = path
        self.flag = flag
        self.root = root or path
        self.fd = fd if fd is not None else os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        self._owns_journal = undo
        self._journal = _Journal() if undo else journal
        self._journal_fd: int | None = None

    def close(self) -> None:
        """Close the directory descriptor."""
        os.close(self.fd)

    def __enter__(self) -> SafeDir:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if self._owns_journal and self._journal is not None:
                self._journal.finish(undo=kind is not None)
        finally:
            self.close()

    def _note(self, name: str, backup: str | None, *, is_dir: bool = False) -> None:
        if self._journal is None:
            return
        if self._journal_fd is None:
            self._journal_fd = self._journal.keep(self.fd)
        self._journal.entries.append((self._journal_fd, name, backup, is_dir))

    def _name(self, name: str, what: str) -> str:
        return check_component(name, what=what, flag=self.flag, root=self.root)

    def subdir(self, name: str, *, what: str) -> SafeDir:
        """Create (or reuse) the directory ``name``; a symlink there is refused, not followed."""
        self._name(name, what)
        try:
            os.mkdir(name, 0o777, dir_fd=self.fd)
        except FileExistsError:
            pass
        else:
            self._note(name, None, is_dir=True)
        try:
            fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=self.fd)
        except OSError as err:
            raise UnsafePathError(
                f"{self.flag} {self.root}: {what} is a symlink or a file, not a directory inside {self.root}"
            ) from err
        return SafeDir(self.path / name, self.flag, root=self.root, fd=fd, journal=self._journal)

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
        temp = temp_name(name)
        with new_file(temp, dir_fd=self.fd) as out:
            out.write(data)
            out.flush()
            os.fchmod(out.fileno(), mode)
            if mtime_ns is not None:
                os.utime(out.fileno(), ns=(mtime_ns, mtime_ns))
            elif mtime is not None:
                os.utime(out.fileno(), (mtime, mtime))
            out.close()
            self._replace(temp, name)

    def _replace(self, temp: str, name: str) -> None:
        """Rename ``temp`` onto ``name``; journaled, what ``name`` was is kept under a hard link first."""
        if self._journal is None:
            os.replace(temp, name, src_dir_fd=self.fd, dst_dir_fd=self.fd)
            return
        kept = f".{name[:200]}.orig-{secrets.token_hex(6)}"
        backup: str | None = kept
        try:
            os.link(name, kept, src_dir_fd=self.fd, dst_dir_fd=self.fd, follow_symlinks=False)
        except OSError:  # a new file (or a directory in the way, which the rename refuses)
            backup = None
        os.replace(temp, name, src_dir_fd=self.fd, dst_dir_fd=self.fd)
        self._note(name, backup)


class _Journal:
    """What a run created and replaced below a ``SafeDir(undo=True)``: (directory descriptor, name, the
    hard link keeping what was replaced or None, whether it is a directory made), in order."""

    def __init__(self) -> None:
        self.entries: list[tuple[int, str, str | None, bool]] = []
        self._fds: list[int] = []

    def keep(self, fd: int) -> int:
        """A descriptor of the directory ``fd`` that stays open until the journal is finished."""
        kept = os.dup(fd)
        self._fds.append(kept)
        return kept

    def finish(self, *, undo: bool) -> None:
        """Undo every entry, newest first (``undo``), or drop the kept originals; nothing is raised."""
        try:
            for fd, name, backup, is_dir in reversed(self.entries):
                with contextlib.suppress(OSError):
                    if not undo:
                        if backup is not None:
                            os.unlink(backup, dir_fd=fd)
                    elif is_dir:
                        os.rmdir(name, dir_fd=fd)  # (one holding another's files stays)
                    elif backup is not None:
                        os.replace(backup, name, src_dir_fd=fd, dst_dir_fd=fd)
                    else:
                        os.unlink(name, dir_fd=fd)
        finally:
            for fd in self._fds:
                os.close(fd)
