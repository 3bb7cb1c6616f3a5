"""``okdrelease.regularfile``: the one "open without blocking, refuse what is not a regular file" helper
that the signature store, input files (``new -f``, ``--from-dir``, mappings) and cache packs share."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from okdrelease.cache import pack
from okdrelease.regularfile import NotRegularFile, made_dirs, new_file, open_regular, read_open, undone_mkdirs


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


def test_write_whole_refuses_a_fifo_without_a_reader_at_once(tmp_path: Path) -> None:
    """Opening a FIFO for writing waits for a reader: ``new --to-file FIFO`` and ``--to-signature FIFO``
    hung (the CLI sweep); a FIFO with a reader is written as before."""
    from okdrelease.regularfile import write_whole

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(OSError, match=r"^\[Errno 6\] a FIFO with no reader \(it is not waited for\)$"):
        write_whole(fifo, b"data", 0o644)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        write_whole(fifo, b"data", 0o644)
        assert os.read(reader, 10) == b"data"
    finally:
        os.close(reader)


@pytest.mark.parametrize("existing", [False, True], ids=["new", "existing"])
def test_keys_configmap_output_is_written_whole_or_not_at_all(existing: bool, tmp_path: Path) -> None:
    """``keys configmap -o FILE`` truncated FILE and then wrote it: a disk that filled (here a file-size
    limit) left a partial manifest, an earlier one destroyed (the CLI sweep's full-device pass). The
    same writer (regularfile.write_whole) now writes copy --digestfile, new --to-file and
    --to-signature, and the signature ConfigMaps of sign, new and mirror."""
    from bounded_run import run_file_size_limited

    from okdrelease.sign.openpgp import generate_key

    public = tmp_path / "public.asc"
    public.write_text(generate_key("T <t@example.com>", algorithm="ed25519").export_public())
    target = tmp_path / "out" / "cm.yaml"
    target.parent.mkdir()
    if existing:
        target.write_text("an earlier manifest\n")
    before = sorted((p.name, p.read_bytes()) for p in target.parent.iterdir())
    argv = f"keys configmap --keyring {public} --store https://s.example.com/s -o {target}".split()
    done = run_file_size_limited(*argv, limit=100)
    assert (done.returncode, done.stdout, done.stderr) == (
        1,
        "",
        f"error: cannot write {target}: File too large\n",
    )
    assert sorted((p.name, p.read_bytes()) for p in target.parent.iterdir()) == before


def test_new_to_file_on_a_fifo_without_a_reader_is_an_error_at_once(tmp_path: Path) -> None:
    from bounded_run import run_bounded

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    sample = Path(__file__).resolve().parents[1] / "testdata" / "sample-payload"
    argv = f"-q new --from-oci-layout {sample} --name 4.16.0 --no-cache --to-file {fifo}".split()
    done = run_bounded(*argv, timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (
        1,
        "",
        f"error: unable to write --to-file {fifo}: a FIFO with no reader (it is not waited for)\n",
    )


def test_undone_mkdirs_gives_what_it_made_and_removes_it_on_failure(tmp_path: Path) -> None:
    """The one "mkdir -p, undone on failure" helper (the signature stores, ``--dir``, ``--to-dir``): what it
    made, deepest first; on a failing block those directories go, what was there before stays."""
    (tmp_path / "a").mkdir()
    target = tmp_path / "a" / "b" / "c"
    assert made_dirs(target) == [target, target.parent]
    old = os.umask(0o022)
    try:
        with undone_mkdirs(target, 0o750) as made:
            assert made == [target, target.parent]
            assert (target.stat().st_mode & 0o777, target.parent.stat().st_mode & 0o777) == (0o750, 0o755)
    finally:
        os.umask(old)
    assert target.is_dir()  # (kept: the block did not fail)
    target.rmdir()
    target.parent.rmdir()
    with pytest.raises(RuntimeError), undone_mkdirs(target):
        raise RuntimeError("the block failed")
    assert os.listdir(tmp_path) == ["a"] and os.listdir(tmp_path / "a") == []


def test_undone_mkdirs_removes_the_parents_it_made_when_the_last_mkdir_fails(tmp_path: Path) -> None:
    """a and b are made, then the name too long for the file system is refused: a and b are removed too."""
    with pytest.raises(OSError) as info, undone_mkdirs(tmp_path / "a" / "b" / ("x" * 300)):
        pass
    assert info.value.strerror == "File name too long"
    assert os.listdir(tmp_path) == []


def test_new_file_is_never_an_existing_file_and_is_removed_when_the_block_fails(tmp_path: Path) -> None:
    """The core the three temporary-file writers share (``write_whole``, the OCI layout's blobs,
    ``SafeDir.write``): a file of its own, removed with what was written when the block fails."""
    (tmp_path / "there").write_bytes(b"kept")
    os.symlink(tmp_path / "elsewhere", tmp_path / "link")
    for taken in ("there", "link"):
        with pytest.raises(FileExistsError), new_file(str(tmp_path / taken)):
            pass
    assert not (tmp_path / "elsewhere").exists()
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        with pytest.raises(RuntimeError), new_file("temp", dir_fd=fd) as out:
            out.write(b"half")
            raise RuntimeError("the block failed")
        with new_file("temp", 0o644, dir_fd=fd) as out:
            out.write(b"whole")
            out.close()
            os.replace("temp", "done", src_dir_fd=fd, dst_dir_fd=fd)
    finally:
        os.close(fd)
    assert sorted(os.listdir(tmp_path)) == ["done", "link", "there"]
    assert (tmp_path / "done").read_bytes() == b"whole"
    assert (tmp_path / "there").read_bytes() == b"kept"


@pytest.mark.parametrize("flag", ["--mapping-file", "-f"])
@pytest.mark.parametrize(
    "target", ["/proc/self/mem", "{tmp}", "{tmp}/missing"], ids=["eio", "dir", "missing"]
)
def test_an_input_file_that_cannot_be_read_is_worded_as_oc_words_it(
    flag: str, target: str, tmp_path: Path
) -> None:
    """``new --mapping-file`` and ``-f`` against the real oc: a file that opens but cannot be read
    (``/proc/self/mem``: EIO; a directory) is ``read PATH: …``, one that cannot be opened ``open PATH: …``
    (``failed_step``). ``--mapping-file /proc/self/mem`` said ``open``."""
    from differential.runner import oracle_session

    session = oracle_session("127.0.0.1:1", tmp_path / "session")
    path = target.format(tmp=tmp_path)
    args = ["new", flag, path, "--name", "4.16.0", "--to-file"]
    oc = session.run(session.oc_cmd("adm", "release", *args, str(tmp_path / "oc.tar")))
    ours = session.run(session.py_cmd(*args, str(tmp_path / "okd.tar")))
    assert (ours.code, ours.stdout, ours.stderr) == (oc.code, oc.stdout, oc.stderr)
    assert oc.code == 1 and f" {path}: " in oc.stderr
