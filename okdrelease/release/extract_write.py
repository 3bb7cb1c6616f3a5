"""Writing ``extract``'s files into the target directory: as oc creates them, all or nothing.

oc creates each file with ``os.Create(filepath.Join(DIR, NAME))`` in payload order and makes no
directory below ``DIR``: a name whose directory the target does not hold (``sub/x.yaml``), or whose
directory is a file written just before (``a.yaml`` then ``a.yaml/x.yaml``), a name too long for the
file system, or a directory where the file goes, fails with ``error creating file NAME: open PATH:
REASON`` and stops the run; a target it cannot make fails as Go's MkdirAll does (``mkdir PATH:
REASON``). okdrelease decides each file the same way, but nothing reaches the target before every
file is in hand:

* a target that does not exist is built beside it, in a hidden directory of its parent (the same
  file system), and renamed into place once complete; on failure that directory is removed, and so
  are the parents created for it;
* into an existing target (oc extracts into one), the files are first written into a hidden
  directory inside it, then renamed into place one by one, each file they replace set aside; on
  failure the files moved in are removed and the ones set aside put back, so the target keeps its
  prior content.

Nothing is written outside the target, and links in it are never written through: directories are
opened with ``O_NOFOLLOW`` (a symlinked directory is refused), and a file, symlink or hard link
already at a name is replaced by a rename, not opened.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import posixpath
import secrets
import shutil
import stat
from collections.abc import Iterator, Sequence

import attrs

from okdrelease._repr import value_repr
from okdrelease.errors import ReleaseError, go_reason
from okdrelease.oci.layerread import clean_name

log = logging.getLogger(__name__)

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


class ExtractWriteError(ReleaseError):
    """A payload file that cannot be created in the target; nothing was written.

    ``manifest_errors``: the manifests that did not parse, which oc lists (``Errors:``) before this error.
    """

    manifest_errors: tuple[str, ...] = ()


def name_bytes(name: str) -> bytes:
    """A payload file name as the bytes of its tar entry (names that are not UTF-8 are read with
    ``surrogateescape``); what oc prints and sorts by."""
    try:
        return name.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate no byte stands for: as Python holds it
        return name.encode("utf-8", "surrogatepass")


def printable_name(name: str) -> str:
    """A payload file name for a message: bytes that are not UTF-8 shown as ``\\xNN``."""
    return name_bytes(name).decode("utf-8", "backslashreplace")


@attrs.frozen
class _Target:
    """Where the files go: ``directory`` as the user gave it (oc's messages join names to it)."""

    __repr__ = value_repr

    directory: str
    #: The first file to write (oc's first os.Create).
    first: str = ""

    def path(self, name: str) -> str:
        """Go's ``filepath.Join(directory, name)``."""
        return clean_name(f"{self.directory}/{name}" if self.directory else name)

    def create_error(self, name: str, err: OSError) -> ExtractWriteError:
        """oc's error for a file it cannot create."""
        shown = printable_name(name)
        return ExtractWriteError(
            f"error creating file {shown}: open {printable_name(self.path(name))}: {go_reason(err)}"
        )


def write_payload_files(directory: str, files: Sequence[tuple[str, bytes]]) -> None:
    """Write each ``(name, data)`` below ``directory`` as oc does, in order; all or nothing.

    Raises :class:`ExtractWriteError` naming the first file oc could not create (nothing written),
    ``ReleaseError`` for a target that cannot be created (oc's ``mkdir PATH: REASON``) or a symlinked
    directory in it.
    """
    target = _Target(directory, files[0][0] if files else "")
    if not directory:  # Go's MkdirAll("")
        raise ReleaseError(f"mkdir : {go_reason(OSError(errno.ENOENT, ''))}")
    try:
        info: os.stat_result | None = os.stat(directory)
    except OSError:
        info = None
    if info is None:
        _write_new(target, files)
    elif not stat.S_ISDIR(info.st_mode):
        raise ReleaseError(f"mkdir {directory}: {go_reason(OSError(errno.ENOTDIR, ''))}")
    elif files:  # nothing to write into an existing target: nothing to do
        _write_into(target, files)


def _write_new(target: _Target, files: Sequence[tuple[str, bytes]]) -> None:
    """Build the target in a hidden directory beside it and rename it into place."""
    directory = target.directory.rstrip("/") or "/"
    parent = posixpath.dirname(directory) or "."
    created: list[str] = []
    try:
        _mkdir_all(parent, created)
        stage, stage_fd = _make_stage(parent, f".{posixpath.basename(directory)}.okdrelease-", target)
        try:
            try:
                _stage_files(target, files, check_fd=stage_fd, stage_fd=stage_fd, mirror=False)
            finally:
                os.close(stage_fd)
            try:
                os.rename(stage, directory)
            except OSError as err:
                raise ReleaseError(f"mkdir {target.directory}: {go_reason(err)}") from err
        except BaseException:
            shutil.rmtree(stage, ignore_errors=True)
            raise
    except BaseException:
        for path in reversed(created):  # deepest first; only directories this run made (now empty)
            with contextlib.suppress(OSError):
                os.rmdir(path)
        raise


def _mkdir_all(path: str, created: list[str]) -> None:
    """Go's os.MkdirAll(path), its errors (``mkdir PATH: REASON``); the directories made go into ``created``."""
    try:
        info: os.stat_result | None = os.stat(path)
    except OSError:
        info = None
    if info is not None:
        if stat.S_ISDIR(info.st_mode):
            return
        raise ReleaseError(f"mkdir {path}: {go_reason(OSError(errno.ENOTDIR, ''))}")
    trimmed = path.rstrip("/")
    cut = trimmed.rfind("/")
    if cut > 0:
        _mkdir_all(trimmed[:cut], created)
    try:
        os.mkdir(path, 0o777)
    except OSError as err:
        if os.path.isdir(path) and not os.path.islink(path):
            return
        raise ReleaseError(f"mkdir {path}: {go_reason(err)}") from err
    created.append(path)


def _make_stage(parent: str, prefix: str, target: _Target, *, dir_fd: int | None = None) -> tuple[str, int]:
    """A new hidden directory (its path, and an open descriptor of it); when it cannot be made, the
    error oc meets where it would write: ``mkdir DIR`` for a new target, the first file for an existing one."""
    while True:
        name = f"{prefix}{secrets.token_hex(6)}"
        path = name if dir_fd is not None else posixpath.join(parent, name)
        try:
            os.mkdir(path, 0o777, dir_fd=dir_fd)
        except FileExistsError:
            continue
        except OSError as err:
            if dir_fd is None:
                raise ReleaseError(f"mkdir {target.directory}: {go_reason(err)}") from err
            raise target.create_error(target.first, err) from err
        return path, os.open(path, _DIR_FLAGS, dir_fd=dir_fd)


def _write_into(target: _Target, files: Sequence[tuple[str, bytes]]) -> None:
    """Stage the files inside the existing target, then rename them into place (undone on failure)."""
    try:
        root_fd = os.open(target.directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as err:
        raise ReleaseError(f"unable to open target directory {target.directory}: {err.strerror}") from err
    try:
        stage, stage_fd = _make_stage(target.directory, ".okdrelease-extract-", target, dir_fd=root_fd)
        try:
            try:
                os.mkdir("new", 0o777, dir_fd=stage_fd)
                os.mkdir("old", 0o700, dir_fd=stage_fd)
                new_fd = os.open("new", _DIR_FLAGS, dir_fd=stage_fd)
                try:
                    _stage_files(target, files, check_fd=root_fd, stage_fd=new_fd, mirror=True)
                    _move_in(target, [name for name, _ in files], root_fd, new_fd, stage_fd)
                finally:
                    os.close(new_fd)
            finally:
                os.close(stage_fd)
        finally:
            _remove_tree(root_fd, stage)
    finally:
        os.close(root_fd)


def _stage_files(
    target: _Target, files: Sequence[tuple[str, bytes]], *, check_fd: int, stage_fd: int, mirror: bool
) -> None:
    """Write the files below ``stage_fd``, failing where oc's ``os.Create`` below the target would.

    ``check_fd``: the directory that stands for the target (the stage itself for a new target);
    ``mirror``: create in the stage the target directories that names pass through.
    """
    written: set[str] = set()
    for name, data in files:
        if name.startswith("/") or ".." in name.split("/"):
            raise ReleaseError(f"refusing to write {printable_name(name)!r} outside the target directory")
        *parents, base = name.split("/")
        with _walk(target, name, parents, check_fd, written) as parent_fd:
            _check_final(target, name, base, parent_fd)
        if parents and mirror:
            _mirror_dirs(stage_fd, parents)
        try:
            out = os.open(name, _NEW_FILE_FLAGS, 0o666, dir_fd=stage_fd)
        except OSError as err:
            raise target.create_error(name, err) from err
        try:
            with os.fdopen(out, "wb") as handle:
                handle.write(data)
        except OSError as err:
            raise ExtractWriteError(
                f"error writing file {printable_name(name)}: write {printable_name(target.path(name))}: "
                f"{go_reason(err)}"
            ) from err
        written.add(name)


@contextlib.contextmanager
def _walk(target: _Target, name: str, parents: list[str], root_fd: int, written: set[str]) -> Iterator[int]:
    """An open descriptor of the directory ``parents`` below ``root_fd``, or oc's error for ``name``.

    A file written earlier in this run at one of the ``parents`` is no directory (oc wrote it there);
    a symlinked directory is refused (okdrelease does not follow links in the target; oc would).
    """
    fd = os.dup(root_fd)
    try:
        walked: list[str] = []
        for part in parents:
            walked.append(part)
            if "/".join(walked) in written:
                raise target.create_error(name, OSError(errno.ENOTDIR, ""))
            try:
                info = os.lstat(part, dir_fd=fd)
            except OSError as err:
                raise target.create_error(name, err) from err
            if stat.S_ISLNK(info.st_mode):
                raise ReleaseError(
                    f"error creating file {printable_name(name)}: {printable_name(target.path('/'.join(walked)))} "
                    "is a symlink, and extract does not follow links in the target directory"
                )
            if not stat.S_ISDIR(info.st_mode):
                raise target.create_error(name, OSError(errno.ENOTDIR, ""))
            try:
                next_fd = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except OSError as err:
                raise target.create_error(name, err) from err
            os.close(fd)
            fd = next_fd
        yield fd
    finally:
        os.close(fd)


def _check_final(target: _Target, name: str, base: str, parent_fd: int) -> None:
    """oc's error when ``base`` cannot be a file: a directory is there, or the name is too long."""
    try:
        info = os.lstat(base, dir_fd=parent_fd)
    except FileNotFoundError:
        return
    except OSError as err:
        raise target.create_error(name, err) from err
    if stat.S_ISDIR(info.st_mode):
        raise target.create_error(name, OSError(errno.EISDIR, ""))


def _mirror_dirs(stage_fd: int, parents: list[str]) -> None:
    """Create ``parents`` below the stage (the target holds them)."""
    path = ""
    for part in parents:
        path = f"{path}/{part}" if path else part
        with contextlib.suppress(FileExistsError):
            os.mkdir(path, 0o777, dir_fd=stage_fd)


@attrs.frozen
class _Moved:
    """A staged file renamed into the target, and what it replaced (set aside in the stage as ``old``)."""

    __repr__ = value_repr

    name: str
    old: str | None


def _open_dir(root_fd: int, parents: Sequence[str]) -> int:
    """An open descriptor of the directory ``parents`` below ``root_fd``, no link followed."""
    fd = os.dup(root_fd)
    try:
        for part in parents:
            next_fd = os.open(part, _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = next_fd
    except BaseException:
        os.close(fd)
        raise
    return fd


def _move_in(target: _Target, names: list[str], root_fd: int, new_fd: int, stage_fd: int) -> None:
    """Rename each staged file into the target; on any failure undo every move, in reverse."""
    moved: list[_Moved] = []
    name = ""
    try:
        for index, name in enumerate(names):
            *parents, base = name.split("/")
            to_fd = _open_dir(root_fd, parents)
            from_fd = _open_dir(new_fd, parents)
            try:
                old: str | None = f"old/{index}"
                try:
                    os.rename(base, str(old), src_dir_fd=to_fd, dst_dir_fd=stage_fd)
                except FileNotFoundError:
                    old = None
                moved.append(_Moved(name, old))
                os.rename(base, base, src_dir_fd=from_fd, dst_dir_fd=to_fd)
            finally:
                os.close(to_fd)
                os.close(from_fd)
    except BaseException as err:
        _undo(root_fd, stage_fd, moved)
        if isinstance(err, OSError):
            raise ReleaseError(
                f"unable to write {printable_name(name)} into {target.directory}: {err.strerror or err}; "
                "the target directory was left as it was"
            ) from err
        raise


def _undo(root_fd: int, stage_fd: int, moved: list[_Moved]) -> None:
    """Put the target back as it was: remove the files moved in, return the ones set aside."""
    for item in reversed(moved):
        *parents, base = item.name.split("/")
        try:
            parent_fd = _open_dir(root_fd, parents)
            try:
                if item.old is not None:
                    os.rename(item.old, base, src_dir_fd=stage_fd, dst_dir_fd=parent_fd)
                else:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(base, dir_fd=parent_fd)
            finally:
                os.close(parent_fd)
        except OSError as err:
            log.warning("could not restore %s after a failed extract: %s", printable_name(item.name), err)


def _remove_tree(root_fd: int, name: str) -> None:
    """Remove the stage below ``root_fd`` (links in it are removed, never followed)."""
    try:
        shutil.rmtree(name, dir_fd=root_fd)
    except OSError as err:
        log.warning("could not remove the temporary directory %s: %s", name, err)
