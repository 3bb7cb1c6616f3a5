"""``okdrelease.regularfile``: the one "open without blocking, refuse what is not a regular file" helper
that the signature store, input files (``new -f``, ``--from-dir``, mappings) and cache packs share."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from okdrelease.cache import pack
from okdrelease.regularfile import NotRegularFile, open_regular, read_open


def test_a_regular_file_is_opened_and_read_bounded(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"0123456789")
    os.symlink(tmp_path / "f", tmp_path / "link")
    for name in ("f", "link"):
        fd = open_regular(tmp_path / name)
        try:
            assert read_open(fd, 3) == b"0123"  # one byte more than asked: the caller sees "larger"
            assert read_open(fd) == b"456789"
        finally:
            os.close(fd)


@pytest.mark.parametrize(
    ("kind", "text", "is_dir"),
    [
        ("fifo", "not a regular file", False),
        ("dir", "is a directory", True),
        ("device", "not a regular file", False),
    ],
)
def test_anything_else_is_refused_without_waiting(tmp_path: Path, kind: str, text: str, is_dir: bool) -> None:
    path = tmp_path / kind
    if kind == "fifo":
        os.mkfifo(path)  # (no writer: a blocking open would wait for ever)
    elif kind == "dir":
        path.mkdir()
    else:
        os.symlink("/dev/zero", path)
    before = set(os.listdir("/proc/self/fd"))
    with pytest.raises(NotRegularFile) as err:
        open_regular(path)
    assert (str(err.value), err.value.is_dir) == (f"{path}: {text}", is_dir)
    assert isinstance(err.value, OSError)
    assert set(os.listdir("/proc/self/fd")) == before  # nothing left open
    with pytest.raises(FileNotFoundError):
        open_regular(tmp_path / "missing")


def test_a_fifo_in_place_of_a_pack_is_unreadable_not_damaged(tmp_path: Path) -> None:
    """A pack name taken by a FIFO after the listing is reported as unreadable (the cache logs it and
    leaves it alone), never read as a damaged pack, which the cache would delete."""
    os.mkfifo(tmp_path / "x.pack")
    with pytest.raises(NotRegularFile):
        pack.open_pack(str(tmp_path / "x.pack"))
