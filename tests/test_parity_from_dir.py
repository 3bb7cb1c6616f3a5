"""``new --from-dir`` against the real oc: which entries of the directory are read, and the words of the
error when one cannot be read.

oc lists the directory and each operator directory without following links, skips the operator
directories' own sub-directories and reads every other entry following links: a symlinked manifest
file is part of the release, a symlinked operator directory is not. ``image-references`` is read
whatever it is. An entry that cannot be read is an error in Go's words (``open PATH: …``,
``read PATH: …``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from differential.runner import Session, oracle_session
from registry_rig import RegistryInfo

CONFIG_MAP = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\n  namespace: x\n"


@pytest.fixture(scope="module")
def session(registry_http: RegistryInfo, tmp_path_factory: pytest.TempPathFactory) -> Session:
    """oc and okdrelease side by side."""
    return oracle_session(registry_http.host, Path(tmp_path_factory.mktemp("from-dir")))


def _source(tmp_path: Path) -> Path:
    """``in/op-a`` holding ``02_b.yaml`` and ``01_cm.yaml``, a symlink to ``../../linked.yaml`` beside
    ``in``; ``in/op-linked``, a symlink to the operator directory ``elsewhere``."""
    source = tmp_path / "in"
    (source / "op-a").mkdir(parents=True)
    (source / "op-a" / "02_b.yaml").write_bytes(CONFIG_MAP % b"b")
    (tmp_path / "linked.yaml").write_bytes(CONFIG_MAP % b"linked")
    (source / "op-a" / "01_cm.yaml").symlink_to("../../linked.yaml")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "01_c.yaml").write_bytes(CONFIG_MAP % b"c")
    (source / "op-linked").symlink_to("../elsewhere")
    return source


def _run(session: Session, source: Path, tmp_path: Path) -> tuple[tuple[int, bytes, str], ...]:
    """(exit code, stdout, last stderr line) of oc and of okdrelease on ``source``."""
    args = ["new", "--from-dir", str(source), "--name", "4.16.0", "--to-dir"]
    oc = session.run(session.oc_cmd("adm", "release", *args, str(tmp_path / "oc")))
    ours = session.run(session.py_cmd(*args, str(tmp_path / "okd")))
    return tuple((p.code, p.stdout, p.stderr.splitlines()[-1]) for p in (oc, ours))


def test_symlinked_manifest_files_are_read_as_oc_reads_them(session: Session, tmp_path: Path) -> None:
    """A symlinked manifest file is in the release with its target's bytes (the link is not copied);
    a symlinked operator directory is skipped, by both."""
    source = _source(tmp_path)
    oc, ours = _run(session, source, tmp_path)
    assert oc == ours == (0, b"", "info: Found 1 operator manifest directories on disk")
    names = ["0000_50_op-a_01_cm.yaml", "0000_50_op-a_02_b.yaml", "image-references", "release-metadata"]
    for side in ("oc", "okd"):
        assert sorted(p.name for p in (tmp_path / side).iterdir()) == names
        linked = tmp_path / side / names[0]
        assert not linked.is_symlink()
        assert linked.read_bytes() == (tmp_path / "oc" / names[0]).read_bytes()
        assert b"name: linked" in linked.read_bytes()


UNREADABLE = {
    "refs-eio": ("image-references", "/proc/self/mem", "read {source}/image-references: input/output error"),
    "refs-dir": ("image-references", "{tmp}/elsewhere", "read {source}/image-references: is a directory"),
    "refs-dangling": (
        "image-references",
        "{tmp}/missing",
        "open {source}/image-references: no such file or directory",
    ),
    "file-eio": (
        "op-a/03.yaml",
        "/proc/self/mem",
        "unable to create a release: read {source}/op-a/03.yaml: input/output error",
    ),
    "file-dir": (
        "op-a/03.yaml",
        "{tmp}/elsewhere",
        "unable to create a release: read {source}/op-a/03.yaml: is a directory",
    ),
    "file-dangling": (
        "op-a/03.yaml",
        "{tmp}/missing",
        "unable to create a release: open {source}/op-a/03.yaml: no such file or directory",
    ),
}


@pytest.mark.parametrize("case", sorted(UNREADABLE))
def test_an_entry_that_cannot_be_read_is_oc_error(case: str, session: Session, tmp_path: Path) -> None:
    """A symlink whose target cannot be read (EIO, a directory, missing): exit 1 with oc's words."""
    source = _source(tmp_path)
    entry, target, message = UNREADABLE[case]
    (source / entry).symlink_to(target.format(tmp=tmp_path))
    oc, ours = _run(session, source, tmp_path)
    expected = (1, b"", "error: " + message.format(source=source))
    assert (oc, ours) == (expected, expected)
    assert not (tmp_path / "okd").exists()


def test_a_fifo_among_the_manifests_is_refused_not_waited_on(session: Session, tmp_path: Path) -> None:
    """A FIFO (linked or not) is refused at once, where oc would wait for a writer."""
    source = _source(tmp_path)
    os.mkfifo(tmp_path / "fifo")
    (source / "op-a" / "03.yaml").symlink_to(tmp_path / "fifo")
    args = ["new", "--from-dir", str(source), "--name", "4.16.0", "--to-dir", str(tmp_path / "okd")]
    ours = session.run(session.py_cmd(*args))
    message = f"error: unable to create a release: read {source}/op-a/03.yaml: not a regular file"
    assert (ours.code, ours.stdout, ours.stderr.splitlines()[-1]) == (1, b"", message)
    assert not (tmp_path / "okd").exists()
