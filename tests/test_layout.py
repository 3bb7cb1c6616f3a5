"""OCI image layout store: index.json entries, byte-exact manifests, verified blobs, umoci/skopeo interop, golden inputs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from pathlib import Path
from typing import BinaryIO, cast

import pytest

from okdrelease.errors import (
    DigestMismatchError,
    InvalidReferenceError,
    LayoutError,
    NotFoundError,
)
from okdrelease.oci import mediatypes as mt
from okdrelease.oci.digest import sha256_digest
from okdrelease.oci.layerwrite import BuiltLayer, TarEntry, build_layer
from okdrelease.oci.model import Descriptor, ImageConfig, Index, Manifest, Platform
from okdrelease.transport.base import PRESENT, REFUSED, Repository
from okdrelease.transport.layout import REF_NAME, LayoutRepository

GOLDEN = Path(__file__).resolve().parents[1].parent / "shared" / "golden"
GOLDEN_LAYOUTS = sorted(p for p in [*GOLDEN.glob("*/inputs"), *GOLDEN.glob("*/release")] if p.is_dir())


def _json(data: object) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()


def make_image(
    repo: LayoutRepository, tag: str | None, files: dict[str, bytes], *, arch: str = "amd64"
) -> tuple[str, bytes, BuiltLayer]:
    """Store an OCI image with one layer holding ``files``; return (digest, manifest bytes, layer)."""
    layer = build_layer(
        [TarEntry("etc", type="dir", mode=0o755, mtime=1700000000)]
        + [TarEntry(path, data, mode=0o644, mtime=1700000000) for path, data in files.items()]
    )
    assert layer.data is not None
    config = _json(
        {
            "created": "2024-01-01T00:00:00Z",
            "architecture": arch,
            "os": "linux",
            "config": {"Env": ["PATH=/usr/bin"]},
            "rootfs": {"type": "layers", "diff_ids": [layer.diff_id]},
            "history": [{"created": "2024-01-01T00:00:00Z", "comment": "test"}],
        }
    )
    repo.put_blob(layer.data, layer.digest, layer.size)
    repo.put_blob(config, sha256_digest(config), len(config))
    manifest = _json(
        {
            "schemaVersion": 2,
            "mediaType": mt.OCI_MANIFEST,
            "config": {"mediaType": mt.OCI_CONFIG, "digest": sha256_digest(config), "size": len(config)},
            "layers": [layer.descriptor().to_dict()],
        }
    )
    digest = repo.put_manifest(manifest, mt.OCI_MANIFEST, tag)
    return digest, manifest, layer


def _index_json(root: Path) -> dict[str, object]:
    return json.loads((root / "index.json").read_text())


def _leftovers(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob(".tmp-*"))


# --------------------------------------------------------------------------------------------
# Opening and creating


def test_create_makes_an_empty_layout_and_reopens_it(tmp_path: Path) -> None:
    root = tmp_path / "new" / "layout"
    repo = LayoutRepository(root, create=True)
    assert isinstance(repo, Repository)
    assert repo.display == f"oci:{root}"
    assert json.loads((root / "oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}
    assert _index_json(root) == {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": []}
    assert (root / "blobs" / "sha256").is_dir()
    assert repo.entries() == [] and repo.list_tags() == []
    assert LayoutRepository(str(root)).list_tags() == []
    # create=True on an existing layout keeps its content.
    make_image(repo, "v1", {"etc/a": b"a"})
    assert LayoutRepository(root, create=True).list_tags() == ["v1"]
    out = subprocess.run(["umoci", "ls", "--layout", str(root)], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["v1"]


def test_missing_directory_or_file_in_the_way(tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    with pytest.raises(LayoutError, match=f"^{missing} is not an OCI image layout: no such directory$"):
        LayoutRepository(missing)
    afile = tmp_path / "file"
    afile.write_text("x")
    with pytest.raises(
        LayoutError, match=f"^cannot create OCI layout {afile}: it exists and is not a directory$"
    ):
        LayoutRepository(afile, create=True)
    # Below a file: the reason alone (before: '[Errno 20] Not a directory: 'FILE/x/blobs/sha256'').
    with pytest.raises(LayoutError, match=f"^cannot create OCI layout {afile}/x: Not a directory$"):
        LayoutRepository(afile / "x", create=True)


@pytest.mark.parametrize(
    ("oci_layout", "index_json", "message"),
    [
        (None, None, "^{dir} is not an OCI image layout: oci-layout is missing$"),
        ("{not json", None, "^malformed {dir}/oci-layout: Expecting property name"),
        (
            '{"imageLayoutVersion":"2.0.0"}',
            None,
            "^malformed {dir}/oci-layout: unsupported imageLayoutVersion '2.0.0'$",
        ),
        ('{"imageLayoutVersion":"1.0.0"}', None, "^{dir} is not an OCI image layout: index.json is missing$"),
        (
            '{"imageLayoutVersion":"1.0.0"}',
            '{"manifests": {}}',
            "^malformed {dir}/index.json: not an image index$",
        ),
        (
            '{"imageLayoutVersion":"1.0.0"}',
            '{"manifests": [{"size": 3}]}',
            "^malformed {dir}/index.json: invalid entry",
        ),
        ('{"imageLayoutVersion":"1.0.0"}', "[", "^malformed {dir}/index.json: Expecting value"),
    ],
)
def test_malformed_layouts_name_the_file(
    tmp_path: Path, oci_layout: str | None, index_json: str | None, message: str
) -> None:
    if oci_layout is not None:
        (tmp_path / "oci-layout").write_text(oci_layout)
    if index_json is not None:
        (tmp_path / "index.json").write_text(index_json)
    with pytest.raises(LayoutError, match=message.format(dir=tmp_path)):
        LayoutRepository(tmp_path)


# --------------------------------------------------------------------------------------------
# Manifests and index.json


def test_put_manifest_tags_replace_entries_in_place(tmp_path: Path) -> None:
    repo = LayoutRepository(tmp_path, create=True)
    first, first_raw, _ = make_image(repo, "v1", {"etc/a": b"1"})
    second, _, _ = make_image(repo, "v2", {"etc/a": b"2"}, arch="arm64")
    third, _, _ = make_image(repo, "v1", {"etc/a": b"3"})
    assert repo.list_tags() == ["v1", "v2"]
    entries = _index_json(tmp_path)["manifests"]
    assert isinstance(entries, list)
    assert entries[0] == {
        "mediaType": mt.OCI_MANIFEST,
        "digest": third,
        "size": (tmp_path / "blobs" / "sha256" / third[7:]).stat().st_size,
        "annotations": {REF_NAME: "v1"},
        "platform": {"architecture": "amd64", "os": "linux"},
    }
    assert entries[1]["digest"] == second and entries[1]["platform"] == {
        "architecture": "arm64",
        "os": "linux",
    }
    # The replaced image's blobs stay; it is still readable by digest.
    assert repo.get_manifest(first).raw == first_raw
    assert repo.resolve("v1") == Descriptor(
        mt.OCI_MANIFEST, third, entries[0]["size"], {REF_NAME: "v1"}, Platform("linux", "amd64")
    )
    assert repo.resolve(first) == Descriptor(mt.OCI_MANIFEST, first, len(first_raw))
    manifest = repo.get_manifest("v2")
    assert isinstance(manifest, Manifest) and manifest.digest == second
    config = ImageConfig.from_bytes(repo.read_blob(manifest.config.digest), manifest.config.digest)
    assert config.architecture == "arm64"


def test_untagged_manifest_only_writes_the_blob(tmp_path: Path) -> None:
    repo = LayoutRepository(tmp_path, create=True)
    make_image(repo, "v1", {"etc/a": b"1"})
    before = (tmp_path / "index.json").read_bytes()
    digest, raw, _ = make_image(repo, None, {"etc/a": b"untagged"})
    assert (tmp_path / "index.json").read_bytes() == before
    assert repo.get_manifest(digest).raw == raw
    assert repo.has_blob(digest)


def test_index_with_docker_children_keeps_media_types_and_bytes(tmp_path: Path) -> None:
    repo = LayoutRepository(tmp_path, create=True)
    child, child_raw, layer = make_image(repo, None, {"etc/a": b"a"})
    # Docker-typed bytes as a registry would hold them (3-space indent, no trailing newline).
    docker = json.loads(child_raw)
    docker["mediaType"] = mt.DOCKER_MANIFEST
    docker["config"]["mediaType"] = mt.DOCKER_CONFIG
    docker_raw = json.dumps(docker, indent=3).encode()
    docker_digest = repo.put_manifest(docker_raw, mt.DOCKER_MANIFEST, "docker")
    listing = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": mt.DOCKER_MANIFEST_LIST,
            "manifests": [
                {
                    "mediaType": mt.DOCKER_MANIFEST,
                    "digest": docker_digest,
                    "size": len(docker_raw),
                    "platform": {"architecture": "amd64", "os": "linux"},
                },
                {"mediaType": mt.OCI_MANIFEST, "digest": child, "size": len(child_raw)},
            ],
        },
        indent=3,
    ).encode()
    list_digest = repo.put_manifest(listing, mt.DOCKER_MANIFEST_LIST, "list")
    entries = {d.ref_name: d for d in repo.entries()}
    assert entries["docker"].media_type == mt.DOCKER_MANIFEST
    assert entries["docker"].platform is not None and str(entries["docker"].platform) == "linux/amd64"
    assert entries["list"] == Descriptor(
        mt.DOCKER_MANIFEST_LIST, list_digest, len(listing), {REF_NAME: "list"}
    )
    assert "platform" not in _index_json(tmp_path)["manifests"][1]  # type: ignore[index]
    top = repo.get_manifest("list")
    assert isinstance(top, Index) and top.raw == listing and top.media_type == mt.DOCKER_MANIFEST_LIST
    assert [repo.get_manifest(d.digest).media_type for d in top.manifests] == [
        mt.DOCKER_MANIFEST,
        mt.OCI_MANIFEST,
    ]
    assert repo.get_manifest(docker_digest).raw == docker_raw
    assert layer.digest in repo.get_manifest("docker").raw.decode()


def test_bad_manifests_and_references(tmp_path: Path) -> None:
    repo = LayoutRepository(tmp_path, create=True)
    with pytest.raises(InvalidReferenceError, match="invalid OCI layout ref name 'bad tag'"):
        repo.put_manifest(b"{}", mt.OCI_MANIFEST, "bad tag")
    with pytest.raises(
        LayoutError, match=f"^cannot store manifest in oci:{tmp_path}: manifest is not valid JSON"
    ):
        repo.put_manifest(b"not json", mt.OCI_MANIFEST, "t")
    missing = "sha256:" + "1" * 64
    manifest = _json(
        {
            "schemaVersion": 2,
            "mediaType": mt.OCI_MANIFEST,
            "config": {"mediaType": mt.OCI_CONFIG, "digest": missing, "size": 2},
            "layers": [],
        }
    )
    with pytest.raises(LayoutError, match=f"it references {missing}, which is not in the layout$"):
        repo.put_manifest(manifest, mt.OCI_MANIFEST, "t")
    assert repo.list_tags() == [] and not repo.has_blob(sha256_digest(manifest))
    with pytest.raises(NotFoundError, match=f"^oci:{tmp_path}: no image with ref name 'nope'$") as err:
        repo.get_manifest("nope")
    assert err.value.reference == "nope"
    with pytest.raises(
        NotFoundError, match=f"^manifest {missing} \\({missing}\\) not found in OCI layout {tmp_path}$"
    ):
        repo.get_manifest(missing)
    with pytest.raises(InvalidReferenceError):
        repo.has_blob("sha256:../../etc/passwd")


def test_duplicate_ref_names_written_by_others_are_ambiguous(tmp_path: Path) -> None:
    repo = LayoutRepository(tmp_path, create=True)
    one, _, _ = make_image(repo, "a", {"etc/a": b"1"})
    two, _, _ = make_image(repo, "b", {"etc/a": b"2"})
    index = _index_json(tmp_path)
    index["manifests"][1]["annotations"][REF_NAME] = "a"  # type: ignore[index]
    (tmp_path / "index.json").write_text(json.dumps(index))
    with pytest.raises(LayoutError, match=f"^oci:{tmp_path}: more than one image with ref name 'a'$"):
        repo.get_manifest("a")
    assert repo.list_tags() == ["a"]
    # Tagging again collapses the duplicates into one entry at the first position.
    repo.put_manifest(repo.get_manifest(two).raw, mt.OCI_MANIFEST, "a")
    assert [(d.ref_name, d.digest) for d in repo.entries()] == [("a", two)]
    assert one != two


def test_concurrent_tagging_keeps_every_entry(tmp_path: Path) -> None:
    repo = LayoutRepository(tmp_path, create=True)
    other = LayoutRepository(tmp_path)  # a second object on the same directory shares the lock
    digest, raw, _ = make_image(repo, None, {"etc/a": b"shared"})
    errors: list[BaseException] = []

    def tag(index: int) -> None:
        try:
            target = repo if index % 2 else other
            for round_ in range(5):
                target.put_manifest(raw, mt.OCI_MANIFEST, f"t{index}-{round_}")
        except BaseException as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=tag, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(repo.list_tags()) == sorted(f"t{i}-{r}" for i in range(16) for r in range(5))
    assert {d.digest for d in repo.entries()} == {digest}
    assert _leftovers(tmp_path) == []


# --------------------------------------------------------------------------------------------
# Blobs


def test_put_blob_verifies_and_leaves_nothing_behind(tmp_path: Path) -> None:
    repo = LayoutRepository(tmp_path, create=True)
    data = b"blob content" * 1000
    digest = sha256_digest(data)
    wrong = sha256_digest(b"something else")
    with pytest.raises(DigestMismatchError, match=f"does not match its digest {wrong}"):
        repo.put_blob(data, wrong)
    with pytest.raises(DigestMismatchError, match=f"does not match its digest {wrong}"):
        repo.put_blob(_stream(data), wrong, len(data))
    with pytest.raises(
        DigestMismatchError,
        match=f"^content of blob {digest} for oci:{tmp_path} has 12000 bytes, expected 5 for {digest}$",
    ):
        repo.put_blob(_stream(data), digest, 5)
    assert not repo.has_blob(wrong) and not repo.has_blob(digest)
    assert _leftovers(tmp_path) == []
    repo.put_blob(_stream(data), digest, len(data))
    path = tmp_path / "blobs" / "sha256" / digest[7:]
    assert path.read_bytes() == data and (path.stat().st_mode & 0o777) == 0o644
    # Present blobs are not rewritten; bytes are still checked.
    inode = path.stat().st_ino
    repo.put_blob(data, digest)
    assert path.stat().st_ino == inode
    with pytest.raises(DigestMismatchError):
        repo.put_blob(b"x" + data, digest)


def _stream(data: bytes) -> BinaryIO:
    """A minimal read-only stream that is not a BytesIO."""
    return cast(BinaryIO, _Stream(data))


class _Stream:
    """Only ``read``."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    def read(self, size: int = -1) -> bytes:
        end = len(self._data) if size < 0 else self._pos + size
        chunk = self._data[self._pos : end]
        self._pos += len(chunk)
        return chunk


def test_put_blob_from_a_failing_source_removes_the_temp_file(tmp_path: Path) -> None:
    repo = LayoutRepository(tmp_path, create=True)

    class Broken:
        def read(self, size: int = -1) -> bytes:
            raise OSError("connection reset")

    with pytest.raises(OSError, match="connection reset"):
        repo.put_blob(Broken(), sha256_digest(b"x"))  # type: ignore[arg-type]
    assert _leftovers(tmp_path) == []


def test_blob_reads_are_verified(tmp_path: Path) -> None:
    repo = LayoutRepository(tmp_path, create=True)
    data = b"0123456789" * 100
    digest = sha256_digest(data)
    repo.put_blob(data, digest)
    with repo.open_blob(digest, len(data)) as stream:
        assert stream.read(10) == b"0123456789"
        assert stream.read() == data[10:]
    assert repo.read_blob(digest) == data
    with pytest.raises(DigestMismatchError, match=f"is longer than the 999 bytes expected for {digest}"):
        repo.read_blob(digest, 999)
    with pytest.raises(DigestMismatchError, match=f"has 1000 bytes, expected 1001 for {digest}"):
        repo.read_blob(digest, 1001)
    (tmp_path / "blobs" / "sha256" / digest[7:]).write_bytes(data[:-1] + b"X")
    with pytest.raises(
        DigestMismatchError, match=f"content of blob {digest} in oci:{tmp_path} does not match"
    ):
        repo.read_blob(digest)
    missing = sha256_digest(b"missing")
    with pytest.raises(NotFoundError, match=f"^blob {missing} not found in OCI layout {tmp_path}$") as err:
        repo.open_blob(missing)
    assert (err.value.repository, err.value.reference) == (str(tmp_path), missing)


def test_mount_blob_never_links_a_blob_of_another_layout(tmp_path: Path) -> None:
    """A layout mounts nothing: another layout's blob is copied by ``copy_blob`` (before: hard-linked,
    so changing the copy's file changed the source's)."""
    source = LayoutRepository(tmp_path / "a", create=True)
    dest = LayoutRepository(tmp_path / "b", create=True)
    data = b"layer bytes"
    digest = sha256_digest(data)
    assert dest.mount_blob(digest, source) == REFUSED  # nowhere to take it from
    source.put_blob(data, digest)
    assert dest.mount_blob(digest, source) == REFUSED
    assert not dest.has_blob(digest)
    dest.put_blob(data, digest)
    assert dest.mount_blob(digest, source) == PRESENT

    class NotALayout:
        display = "elsewhere"

    other = sha256_digest(b"other")
    assert dest.mount_blob(other, NotALayout()) == REFUSED  # type: ignore[arg-type]
    dest.put_blob(b"other", other)
    assert dest.mount_blob(other, NotALayout()) == PRESENT  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="no truth value"):
        bool(dest.mount_blob(other, source))


# --------------------------------------------------------------------------------------------
# Interoperability


def test_umoci_and_skopeo_read_what_we_write(tmp_path: Path) -> None:
    root = tmp_path / "layout"
    repo = LayoutRepository(root, create=True)
    digest, _, layer = make_image(repo, "v1", {"etc/hello.txt": b"hello\n", "etc/two": b"2"})
    make_image(repo, "other", {"etc/x": b"x"}, arch="arm64")
    listing = subprocess.run(
        ["umoci", "ls", "--layout", str(root)], capture_output=True, text=True, check=True
    )
    assert sorted(listing.stdout.split()) == ["other", "v1"]
    bundle = tmp_path / "bundle"
    subprocess.run(
        ["umoci", "unpack", "--rootless", "--image", f"{root}:v1", str(bundle)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert (bundle / "rootfs" / "etc" / "hello.txt").read_bytes() == b"hello\n"
    assert (bundle / "rootfs" / "etc" / "two").read_bytes() == b"2"
    inspected = subprocess.run(
        ["skopeo", "inspect", f"oci:{root}:v1"], capture_output=True, text=True, check=True
    )
    info = json.loads(inspected.stdout)
    assert (info["Digest"], info["Layers"], info["Architecture"], info["Os"]) == (
        digest,
        [layer.digest],
        "amd64",
        "linux",
    )
    # A layout written by skopeo is read back with the same digests.
    copy = tmp_path / "copy"
    subprocess.run(
        ["skopeo", "copy", "--preserve-digests", f"oci:{root}:other", f"oci:{copy}:again"],
        capture_output=True,
        text=True,
        check=True,
    )
    other_digest = repo.resolve("other").digest
    assert LayoutRepository(copy).resolve("again").digest == other_digest
    assert LayoutRepository(copy).get_manifest("again").raw == repo.get_manifest("other").raw


# --------------------------------------------------------------------------------------------
# Golden layouts


def _check_tree(repo: LayoutRepository, desc: Descriptor, seen: set[str]) -> int:
    """Parse ``desc``'s manifest and config and verify every blob below it; return the blob count."""
    manifest = repo.get_manifest(desc.digest)
    # The body's mediaType wins: 16b's index types its Docker children as OCI (oc quirk Q13).
    assert manifest.media_type == json.loads(manifest.raw).get("mediaType", desc.media_type)
    assert len(manifest.raw) == desc.size
    seen.add(desc.digest)
    if isinstance(manifest, Index):
        return 1 + sum(_check_tree(repo, child, seen) for child in manifest.manifests)
    assert isinstance(manifest, Manifest)
    config = ImageConfig.from_bytes(repo.read_blob(manifest.config.digest, manifest.config.size))
    assert config.digest == manifest.config.digest and config.os == "linux"
    count = 2
    for layer in manifest.layers:
        with repo.open_blob(layer.digest, layer.size) as stream:
            while stream.read(1 << 16):
                pass
        seen.add(layer.digest)
        count += 1
    return count


@pytest.mark.parametrize("root", GOLDEN_LAYOUTS, ids=[f"{p.parent.name}/{p.name}" for p in GOLDEN_LAYOUTS])
def test_golden_layouts_parse_and_verify(root: Path) -> None:
    repo = LayoutRepository(root)
    index = json.loads((root / "index.json").read_text())
    entries = repo.entries()
    assert [d.to_dict() for d in entries] == index["manifests"]
    assert repo.list_tags() == [e["annotations"][REF_NAME] for e in index["manifests"]]
    seen: set[str] = set()
    blobs = sum(_check_tree(repo, desc, seen) for desc in entries)
    assert blobs >= len(entries) * 2
    for desc in entries:
        assert repo.resolve(desc.ref_name or "") == desc
        assert repo.get_manifest(desc.ref_name or "").digest == desc.digest


def test_golden_docker_typed_entries_copy_byte_exact(tmp_path: Path) -> None:
    source = LayoutRepository(GOLDEN / "15a-manifest-list-keep" / "inputs")
    dest = LayoutRepository(tmp_path / "copy", create=True)
    for desc in source.entries():
        top = source.get_manifest(desc.digest)
        children = top.manifests if isinstance(top, Index) else []
        for child in [*children, desc]:
            manifest = source.get_manifest(child.digest)
            assert isinstance(manifest, Manifest | Index)
            if isinstance(manifest, Manifest):
                for blob in [manifest.config, *manifest.layers]:
                    dest.put_blob(source.read_blob(blob.digest, blob.size), blob.digest, blob.size)
            tag = desc.ref_name if child is desc else None
            assert dest.put_manifest(manifest.raw, child.media_type, tag) == child.digest
    wanted = [(d.ref_name, d.media_type, d.digest, d.size) for d in source.entries()]
    assert [(d.ref_name, d.media_type, d.digest, d.size) for d in dest.entries()] == wanted
    assert any(media == mt.DOCKER_MANIFEST_LIST for _, media, _, _ in wanted)
    assert any(media == mt.DOCKER_MANIFEST for _, media, _, _ in wanted)
    blobs = sorted(os.listdir(tmp_path / "copy" / "blobs" / "sha256"))
    assert blobs == sorted(set(blobs))
    shutil.rmtree(tmp_path / "copy")


def test_a_blob_the_disk_cannot_take_is_an_error_naming_it_not_an_internal_error(tmp_path: Path) -> None:
    """A blob small enough to sit in the write buffer fails only when the temp file is closed (a full
    disk, a file-size limit); that failure escaped as ``internal error: OSError: [Errno 28] No space left
    on device`` (the CLI sweep, ``new --to-image oci:`` on a 16 KiB tmpfs). No temp file is left."""
    from bounded_run import run_file_size_limited

    root = tmp_path / "layout"
    LayoutRepository(root, create=True)
    sample = Path(__file__).resolve().parents[1] / "testdata" / "sample-payload"
    # every write past one byte fails (EFBIG), as on a full disk
    done = run_file_size_limited("-q", "copy", f"oci:{sample}:cli", f"oci:{root}:cli", limit=1)
    assert (done.returncode, done.stdout) == (1, ""), done.stderr
    assert done.stderr.startswith("error: cannot write blob sha256:"), done.stderr
    assert done.stderr.endswith(f" for oci:{root}: File too large\n"), done.stderr
    for blob in (root / "blobs" / "sha256").iterdir():  # whole blobs only; no temp file
        assert sha256_digest(blob.read_bytes()) == f"sha256:{blob.name}"


@pytest.mark.parametrize(
    "argv",
    [
        ("copy", "oci:{src}:cli", "oci:{dst}:cli"),
        ("copy", "oci:{src}", "oci:{dst}"),
        (
            "new",
            "--from-oci-layout",
            "{src}",
            "--layout-repository",
            "quay.io/okd/scos-content",
            "--name",
            "4.16.0-okd.sample",
            "--to-image",
            "oci:{dst}:release",
        ),
    ],
    ids=["copy-image", "copy-layout", "new"],
)
def test_an_output_layout_shares_no_file_with_its_source(
    argv: tuple[str, ...], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``copy`` and ``new --to-image oci:`` from a layout copy its blobs (verified as read): a chmod or an
    edit of the output changes nothing of the source. Before, the blobs were hard-linked."""
    from okdrelease.cli import main

    src, dst = tmp_path / "src", tmp_path / "dst"
    shutil.copytree(Path(__file__).resolve().parents[1] / "testdata" / "sample-payload", src)
    assert main(["-q", *(a.format(src=src, dst=dst) for a in argv)]) == 0, capsys.readouterr().err
    shared = sorted(set(os.listdir(src / "blobs" / "sha256")) & set(os.listdir(dst / "blobs" / "sha256")))
    assert shared
    for name in shared:
        ours, theirs = dst / "blobs" / "sha256" / name, src / "blobs" / "sha256" / name
        assert ours.stat().st_ino != theirs.stat().st_ino
        assert ours.read_bytes() == theirs.read_bytes()
        mode = theirs.stat().st_mode
        ours.chmod(0o600)
        assert theirs.stat().st_mode == mode
