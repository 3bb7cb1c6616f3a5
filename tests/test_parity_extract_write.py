"""``extract`` of payload files oc cannot create, against the real ``oc adm release extract``.

oc creates each file with ``os.Create(filepath.Join(DIR, NAME))`` and makes no directory below the
target, so a name below a directory the target lacks, a name below a file it wrote just before, a
directory where a file goes and a name too long fail with ``error: error creating file NAME: open
PATH: REASON`` (exit 1), after ``Errors:`` for the manifests that did not parse. okdrelease prints the
same stderr and exit code, writes nothing (oc stops half-way, and prints its ``Extracted`` line
first) and leaves an existing target as it was. A name below a directory the target holds is written
there by both.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import attrs
import pytest
from differential.images import Entry, ImageSpec, Pusher, build
from differential.runner import Session, oracle_session
from registry_rig import RegistryInfo

MTIME = 1_700_000_000
IR = (
    b'{"kind": "ImageStream", "apiVersion": "image.openshift.io/v1", "metadata": {"name": "4.16.9"}, '
    b'"spec": {"tags": [{"name": "cli", "from": {"kind": "DockerImage", "name": "quay.io/x/y@sha256:'
    + b"a" * 64
    + b'"}}]}}'
)
METADATA = b'{"kind": "cincinnati-metadata-v0", "version": "4.16.9", "previous": []}'
LONG = "x" * 300 + ".yaml"


def _cm(name: str, kind: str = "ConfigMap", api: str = "v1") -> bytes:
    return f"apiVersion: {api}\nkind: {kind}\nmetadata:\n  name: {name}\n  namespace: b\n".encode()


CREDENTIALS_REQUEST = (
    _cm("cr", "CredentialsRequest", "cloudcredential.openshift.io/v1")
    + b"spec:\n  providerSpec:\n    kind: AWSProviderSpec\n"
)

#: Per case: the payload entries after image-references, release-metadata and 0000_50_x_01.yaml
#: (``None``: a directory entry).
CASES: dict[str, list[tuple[str, bytes | None]]] = {
    "long-name": [("a\nb.yaml", _cm("nl")), (LONG, _cm("long")), ("z.yaml", _cm("z"))],
    "nested": [("sub/", None), ("sub/inner.yaml", _cm("inner")), ("sub", _cm("sub"))],
    "file-then-below": [("n.yaml", _cm("nn")), ("n.yaml/inner.yaml", _cm("inner"))],
    "nested-with-errors": [
        ("sub/a.yaml", _cm("a")),
        ("sub/bad.yaml", b"kind: [\n"),
        ("z.yaml", _cm("z")),
    ],
    "nested-credentials-request": [("sub/cr.yaml", CREDENTIALS_REQUEST)],
}


@attrs.frozen
class Rig:
    """The session and, per case, the release's pull spec."""

    session: Session
    releases: dict[str, str]


@pytest.fixture(scope="module")
def rig(registry_http: RegistryInfo, tmp_path_factory: pytest.TempPathFactory) -> Rig:
    session = oracle_session(registry_http.host, Path(tmp_path_factory.mktemp("extract-write")))
    pusher = Pusher(session.host)
    releases = {}
    for case, extra in CASES.items():
        files = [
            ("image-references", IR),
            ("release-metadata", METADATA),
            ("0000_50_x_01.yaml", _cm("a")),
            *extra,
        ]
        entries = (Entry("release-manifests/", None, MTIME, 0o755),) + tuple(
            Entry(f"release-manifests/{name}", data, MTIME, 0o644 if data is not None else 0o755)
            for name, data in files
        )
        spec = ImageSpec(
            case,
            (entries,),
            {"io.openshift.release": "4.16.9"},
            config_extra={"created": "2024-05-01T00:00:00Z"},
        )
        pusher.push("extract-write/release", build(spec), case)
        releases[case] = f"{session.host}/extract-write/release:{case}"
    return Rig(session, releases)


def _tree(root: Path) -> dict[str, bytes | None]:
    """Every entry below ``root`` (a directory: None)."""
    found: dict[str, bytes | None] = {}
    for dirpath, dirnames, filenames in os.walk(os.fsencode(root)):
        for name in dirnames:
            found[os.fsdecode(os.path.relpath(os.path.join(dirpath, name), os.fsencode(root)))] = None
        for name in filenames:
            path = os.path.join(dirpath, name)
            with open(path, "rb") as handle:
                found[os.fsdecode(os.path.relpath(path, os.fsencode(root)))] = handle.read()
    return found


def _prepare(root: Path, entries: dict[str, bytes | None]) -> None:
    """A target holding ``entries`` (a directory: None)."""
    root.mkdir(parents=True)
    for name, data in entries.items():
        if data is None:
            (root / name).mkdir(parents=True)
        else:
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_bytes(data)


PREVIOUS = {"image-references": b"old references\n", "keep/mine.txt": b"mine\n"}


@pytest.mark.parametrize(
    ("case", "before", "failing", "reason", "extra"),
    [
        ("long-name", None, LONG, "file name too long", []),
        ("long-name", PREVIOUS, LONG, "file name too long", []),
        ("nested", None, "sub/inner.yaml", "no such file or directory", []),
        ("nested", {"0000_50_x_01.yaml": None}, "0000_50_x_01.yaml", "is a directory", []),
        ("file-then-below", PREVIOUS, "n.yaml/inner.yaml", "not a directory", []),
        ("nested-with-errors", None, "sub/a.yaml", "no such file or directory", []),
        (
            "nested-credentials-request",
            None,
            "sub/cr.yaml",
            "no such file or directory",
            ["--credentials-requests"],
        ),
    ],
    ids=[
        "long-new",
        "long-existing",
        "nested",
        "directory-in-the-way",
        "file-then-below",
        "errors-first",
        "ccoctl",
    ],
)
def test_a_file_oc_cannot_create_fails_as_in_oc_and_writes_nothing(
    rig: Rig,
    case: str,
    before: dict[str, bytes | None] | None,
    failing: str,
    reason: str,
    extra: list[str],
    tmp_path: Path,
) -> None:
    """oc's stderr and exit code, word for word; okdrelease's target is as it was before the run."""
    session, release = rig.session, rig.releases[case]
    oc_dir, okd_dir = tmp_path / "oc" / "out", tmp_path / "okd" / "out"
    if before is not None:
        _prepare(oc_dir, before)
        _prepare(okd_dir, before)
    else:
        okd_dir.parent.mkdir()
    snapshot = _tree(okd_dir) if before is not None else None
    oc = session.run(
        session.oc_cmd("adm", "release", "extract", "--insecure", *extra, "--to", str(oc_dir), release)
    )
    ours = session.run(session.py_cmd("extract", "--insecure", *extra, "--to", str(okd_dir), release))
    expected = f"error: error creating file {failing}: open {oc_dir / failing}: {reason}\n"
    assert (oc.code, oc.stderr.splitlines(True)[-1]) == (1, expected)
    assert (ours.code, ours.stderr) == (1, oc.stderr.replace(str(oc_dir), str(okd_dir)))
    assert oc.stdout.startswith(b"Extracted release payload from digest ")
    assert ours.stdout == b""
    if snapshot is None:
        assert os.listdir(okd_dir.parent) == []
    else:
        assert _tree(okd_dir) == snapshot
        assert os.listdir(okd_dir.parent) == ["out"]


def test_a_name_below_a_directory_is_written_only_where_the_target_holds_it(rig: Rig, tmp_path: Path) -> None:
    """``sub/inner.yaml`` into a new target fails in both (okdrelease wrote the directory); into a target
    that has ``sub/`` both write it (the ``sub`` file has no manifest extension, so neither writes it):
    the same files, byte for byte."""
    session, release = rig.session, rig.releases["nested"]
    oc_dir, okd_dir = tmp_path / "oc", tmp_path / "okd"
    oc = session.run(session.oc_cmd("adm", "release", "extract", "--insecure", "--to", str(oc_dir), release))
    ours = session.run(session.py_cmd("extract", "--insecure", "--to", str(okd_dir), release))
    assert (ours.code, ours.stderr) == (oc.code, oc.stderr.replace(str(oc_dir), str(okd_dir)))
    assert (ours.code, ours.stdout, okd_dir.exists()) == (1, b"", False)
    shutil.rmtree(oc_dir)
    _prepare(oc_dir, {"sub": None})
    _prepare(okd_dir, {"sub": None})
    oc = session.run(session.oc_cmd("adm", "release", "extract", "--insecure", "--to", str(oc_dir), release))
    ours = session.run(session.py_cmd("extract", "--insecure", "--to", str(okd_dir), release))
    assert (ours.code, ours.stdout, ours.stderr) == (oc.code, oc.stdout, oc.stderr)
    assert ours.code == 0
    assert _tree(okd_dir) == _tree(oc_dir)
    assert sorted(_tree(okd_dir)) == [
        "0000_50_x_01.yaml",
        "image-references",
        "release-metadata",
        "sub",
        "sub/inner.yaml",
    ]


def test_a_target_below_a_file_fails_in_ocs_words(rig: Rig, tmp_path: Path) -> None:
    """--to a file, or a path below one: oc's MkdirAll error, word for word; nothing is left behind."""
    session, release = rig.session, rig.releases["nested"]
    blocker = tmp_path / "file"
    blocker.write_bytes(b"x\n")
    for to in (blocker, blocker / "sub" / "out"):
        oc = session.run(session.oc_cmd("adm", "release", "extract", "--insecure", "--to", str(to), release))
        ours = session.run(session.py_cmd("extract", "--insecure", "--to", str(to), release))
        assert (oc.code, oc.stderr) == (1, f"error: mkdir {blocker}: not a directory\n")
        assert (ours.code, ours.stdout, ours.stderr) == (1, b"", oc.stderr)
    assert sorted(os.listdir(tmp_path)) == ["file"]
