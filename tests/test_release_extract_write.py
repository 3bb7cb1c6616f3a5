"""``extract`` writes all or nothing: a file oc could not create fails the run and leaves no trace, a
target that existed keeps its content, names below a directory are created as oc creates them.

(Against the real oc: ``tests/test_parity_extract_write.py``.)
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from test_release_extract import image_references, open_ref, payload_layer, release_metadata, write_image

from okdrelease.cli import main
from okdrelease.errors import ReleaseError
from okdrelease.release import extract_write
from okdrelease.release.extract import extract_release
from okdrelease.release.extract_write import ExtractWriteError

REFS = image_references("4.15.0", [("cli", "quay.io/okd/cli@sha256:" + "1" * 64, {})])
METADATA = release_metadata("4.15.0")
LONG = "x" * 300 + ".yaml"


def _cm(name: str) -> bytes:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: b\n".encode()


def _yaml(name: str) -> bytes:
    """``_cm(name)`` as extract writes it back."""
    return b"---\n" + _cm(name)


def _release(root: Path, files: dict[str, bytes]) -> tuple[object, str]:
    """(repository, reference) of a one-layer release holding image-references, release-metadata and ``files``."""
    write_image(root, "r", [payload_layer({"image-references": REFS, "release-metadata": METADATA, **files})])
    return open_ref(f"oci:{root}:r")


def _snapshot(root: Path) -> dict[str, tuple[str, bytes]]:
    """Every entry below ``root``: kind and content (a link's target, a file's bytes)."""
    found: dict[str, tuple[str, bytes]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            key = str(path.relative_to(root))
            if path.is_symlink():
                found[key] = ("link", os.readlink(path).encode())
            elif path.is_dir():
                found[key] = ("dir", b"")
            else:
                found[key] = ("file", path.read_bytes())
    return found


def test_a_file_that_cannot_be_created_leaves_no_new_target(tmp_path: Path) -> None:
    """A 300-byte name fails as oc's os.Create fails; the target, its stage and the parents made for it are gone."""
    repository, reference = _release(tmp_path / "layout", {"a\nb.yaml": _cm("nl"), LONG: _cm("long")})
    target = tmp_path / "work" / "deep" / "out"
    with pytest.raises(ExtractWriteError) as caught:
        extract_release(repository, reference, str(target))
    assert str(caught.value) == f"error creating file {LONG}: open {target / LONG}: file name too long"
    assert sorted(os.listdir(tmp_path)) == ["layout"]


def test_an_existing_target_keeps_its_content_on_failure_and_gets_the_files_on_success(
    tmp_path: Path,
) -> None:
    """A failed run leaves files that would be replaced, a link and an unrelated file as they were; a run
    that succeeds replaces files (a link by a file, never written through) and keeps the others; no
    temporary directory is left either way."""
    target = tmp_path / "out"
    (target / "keep").mkdir(parents=True)
    (target / "image-references").write_bytes(b"old references\n")
    (target / "a.yaml").write_bytes(b"old a\n")
    (target / "mine.txt").write_bytes(b"mine\n")
    decoy = tmp_path / "decoy"
    decoy.write_bytes(b"decoy\n")
    (target / "release-metadata").symlink_to(decoy)
    before = _snapshot(target)
    repository, reference = _release(tmp_path / "bad", {"a.yaml": _cm("a"), LONG: _cm("long")})
    with pytest.raises(
        ExtractWriteError, match="^error creating file x+\\.yaml: open .*: file name too long$"
    ):
        extract_release(repository, reference, str(target))
    assert _snapshot(target) == before
    repository, reference = _release(tmp_path / "good", {"a.yaml": _cm("a"), "keep/b.yaml": _cm("b")})
    extract_release(repository, reference, str(target))
    assert _snapshot(target) == {
        "a.yaml": ("file", _yaml("a")),
        "image-references": ("file", REFS),
        "keep": ("dir", b""),
        "keep/b.yaml": ("file", _yaml("b")),
        "mine.txt": ("file", b"mine\n"),
        "release-metadata": ("file", METADATA),
    }
    assert decoy.read_bytes() == b"decoy\n"


@pytest.mark.parametrize(
    ("files", "prepare", "failing", "reason"),
    [
        ({"sub/inner.yaml": _cm("inner")}, None, "sub/inner.yaml", "no such file or directory"),
        (
            {"n.yaml": _cm("nn"), "n.yaml/inner.yaml": _cm("inner")},
            None,
            "n.yaml/inner.yaml",
            "not a directory",
        ),
        ({"a.yaml": _cm("a")}, "a.yaml", "a.yaml", "is a directory"),
        ({"sub/inner.yaml": _cm("inner")}, "sub.file", "sub/inner.yaml", "not a directory"),
    ],
    ids=["no-directory", "file-written-before", "directory-in-the-way", "file-in-the-way"],
)
def test_names_below_a_directory_fail_as_oc_creates_them(
    tmp_path: Path, files: dict[str, bytes], prepare: str | None, failing: str, reason: str
) -> None:
    """oc makes no directory below the target: its os.Create error for the first file it cannot create."""
    repository, reference = _release(tmp_path / "layout", files)
    target = tmp_path / "out"
    if prepare is not None:
        target.mkdir()
        if prepare.endswith(".file"):
            (target / prepare.removesuffix(".file")).write_bytes(b"a file\n")
        else:
            (target / prepare).mkdir()
    before = _snapshot(target) if target.exists() else None
    with pytest.raises(ExtractWriteError) as caught:
        extract_release(repository, reference, str(target))
    assert str(caught.value) == f"error creating file {failing}: open {target / failing}: {reason}"
    assert (_snapshot(target) if target.exists() else None) == before
    assert sorted(os.listdir(tmp_path)) == (["layout", "out"] if prepare else ["layout"])


def test_a_symlinked_directory_in_the_target_is_refused(tmp_path: Path) -> None:
    """oc would follow it; okdrelease never writes through a link in the target."""
    repository, reference = _release(tmp_path / "layout", {"sub/inner.yaml": _cm("inner")})
    outside = tmp_path / "outside"
    outside.mkdir()
    target = tmp_path / "out"
    target.mkdir()
    (target / "sub").symlink_to(outside)
    with pytest.raises(ReleaseError) as caught:
        extract_release(repository, reference, str(target))
    assert str(caught.value) == (
        f"error creating file sub/inner.yaml: {target / 'sub'} is a symlink, and extract does not follow "
        "links in the target directory"
    )
    assert sorted(os.listdir(outside)) == []
    assert sorted(os.listdir(target)) == ["sub"]


def test_a_failure_while_moving_files_in_puts_the_target_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second rename into place fails (as on a full or failing disk): the first file moved in is taken
    out again and the file it replaced restored."""
    repository, reference = _release(tmp_path / "layout", {"a.yaml": _cm("a")})
    target = tmp_path / "out"
    target.mkdir()
    (target / "image-references").write_bytes(b"old references\n")
    before = _snapshot(target)
    real_rename = os.rename
    moved_in: list[str] = []

    def failing_rename(src: str, dst: str, **kwargs: int) -> None:
        if "src_dir_fd" in kwargs and not src.startswith("old/") and not dst.startswith("old/"):
            moved_in.append(dst)
            if len(moved_in) == 2:
                raise OSError(28, os.strerror(28))
        real_rename(src, dst, **kwargs)

    monkeypatch.setattr(extract_write.os, "rename", failing_rename)
    with pytest.raises(ReleaseError) as caught:
        extract_release(repository, reference, str(target))
    assert str(caught.value) == (
        f"unable to write release-metadata into {target}: No space left on device; "
        "the target directory was left as it was"
    )
    assert moved_in == ["image-references", "release-metadata"]
    assert _snapshot(target) == before


def test_cli_lists_manifest_errors_before_the_file_it_could_not_create(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """As oc: ``Errors:`` with the manifests that did not parse, then the error; exit 1, nothing written."""
    write_image(
        tmp_path / "layout",
        "r",
        [payload_layer({"image-references": REFS, "sub/a.yaml": _cm("a"), "sub/bad.yaml": b"kind: [\n"})],
    )
    target = tmp_path / "out"
    assert main(["extract", "--to", str(target), f"oci:{tmp_path / 'layout'}:r"]) == 1
    out, err = capsys.readouterr()
    assert (out, err) == (
        "",
        "Errors: error parsing sub/bad.yaml: error parsing: error converting YAML to JSON: yaml: line 1: "
        "did not find expected node content\n"
        f"error: error creating file sub/a.yaml: open {target / 'sub/a.yaml'}: no such file or directory\n",
    )
    assert not target.exists()


def test_a_relative_target_is_named_as_go_joins_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``filepath.Join`` cleans the path: ``./out/`` names ``out/sub/a.yaml``, ``.`` names ``sub/a.yaml``."""
    write_image(tmp_path / "layout", "r", [payload_layer({"image-references": REFS, "sub/a.yaml": _cm("a")})])
    monkeypatch.chdir(tmp_path)
    for to, shown in (("./out/", "out/sub/a.yaml"), (".", "sub/a.yaml")):
        assert main(["extract", "--to", to, "oci:layout:r"]) == 1
        assert (
            capsys.readouterr().err
            == f"error: error creating file sub/a.yaml: open {shown}: no such file or directory\n"
        )
    assert sorted(os.listdir(tmp_path)) == ["layout"]


def test_a_target_that_cannot_be_made_fails_in_ocs_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Go's MkdirAll errors (``mkdir PATH: REASON``) for the target or a parent; a target that exists but
    cannot be written fails at its first file, as oc's os.Create does; nothing is left behind."""
    repository, reference = _release(tmp_path / "layout", {"a.yaml": _cm("a")})
    blocker = tmp_path / "file"
    blocker.write_bytes(b"x\n")
    for to in (blocker, blocker / "sub" / "out"):
        with pytest.raises(ReleaseError) as caught:
            extract_release(repository, reference, str(to))
        assert str(caught.value) == f"mkdir {blocker}: not a directory"
    real_mkdir = os.mkdir

    def refused_mkdir(path: str, mode: int = 0o777, **kwargs: int) -> None:
        if "okdrelease" in os.path.basename(path) or os.path.basename(path) == "deeper":
            raise PermissionError(13, os.strerror(13), path)
        real_mkdir(path, mode, **kwargs)

    monkeypatch.setattr(extract_write.os, "mkdir", refused_mkdir)
    existing = tmp_path / "existing"
    existing.mkdir()
    cases = [
        (
            existing,
            f"error creating file image-references: open {existing / 'image-references'}: permission denied",
        ),
        (tmp_path / "new", f"mkdir {tmp_path / 'new'}: permission denied"),
        (tmp_path / "made" / "deeper" / "out", f"mkdir {tmp_path / 'made' / 'deeper'}: permission denied"),
    ]
    for to, message in cases:
        with pytest.raises(ReleaseError) as caught:
            extract_release(repository, reference, str(to))
        assert str(caught.value) == message
    assert sorted(os.listdir(tmp_path)) == ["existing", "file", "layout"]
    assert os.listdir(existing) == []
