"""``extract``: golden payload byte for byte, oc-style YAML, whiteouts, ``--file`` and refusal of unsafe layers."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
from collections.abc import Sequence
from pathlib import Path

import pytest
from golden_support import GOLDEN

from okdrelease.cli import main
from okdrelease.errors import LayerError, ReleaseError
from okdrelease.openshift import k8syaml
from okdrelease.openshift.imagestream import ImageStream, TagReference
from okdrelease.release.extract import extract_release, read_payload_file
from okdrelease.release.read import open_location
from okdrelease.transport.open import DefaultTransport

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
GOLDEN_01 = GOLDEN / "01-realistic"

# ---------------------------------------------------------------------------------------------
# Hand-made OCI layouts (shared with the info and diff tests)


def write_blob(root: Path, data: bytes) -> str:
    """Store ``data`` under blobs/sha256 and return its digest."""
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    path = root / "blobs" / "sha256" / digest[7:]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return digest


def tar_bytes(entries: Sequence[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    """An uncompressed tar of (header, content) pairs."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in entries:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buffer.getvalue()


def file_entry(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    """A regular-file tar entry."""
    info = tarfile.TarInfo(name)
    info.mode = 0o644
    info.mtime = 1700000000
    return info, data


def payload_layer(
    files: dict[str, bytes], extra: Sequence[tuple[tarfile.TarInfo, bytes | None]] = ()
) -> bytes:
    """A release layer: the release-manifests directory, then its files, then ``extra`` entries."""
    directory = tarfile.TarInfo("release-manifests")
    directory.type = tarfile.DIRTYPE
    directory.mode = 0o755
    entries: list[tuple[tarfile.TarInfo, bytes | None]] = [(directory, None)]
    entries += [file_entry(f"release-manifests/{name}", data) for name, data in files.items()]
    entries += list(extra)
    return tar_bytes(entries)


def image_references(name: str, tags: Sequence[tuple[str, str, dict[str, str]]]) -> bytes:
    """image-references JSON as oc writes it."""
    stream = ImageStream(name=name, creation_timestamp="2024-01-01T00:00:00Z")
    for tag, pullspec, tag_annotations in tags:
        ref = TagReference.docker_image(tag, pullspec)
        ref.annotations = dict(tag_annotations)
        stream.tags.append(ref)
    return stream.to_json()


def release_metadata(version: str, previous: Sequence[str] = ()) -> bytes:
    """release-metadata JSON."""
    doc = {"kind": "cincinnati-metadata-v0", "version": version, "previous": sorted(previous)}
    return json.dumps(doc, indent=2).encode()


def write_image(
    root: Path,
    tag: str,
    layers: Sequence[bytes],
    *,
    created: str = "2024-01-01T00:00:00Z",
    labels: dict[str, str] | None = None,
    gzipped: Sequence[bytes] = (),
) -> str:
    """Write an image (gzip layers, Docker manifest) into the layout at ``root``; return its digest.

    ``gzipped`` layers are stored as given, on top of ``layers`` (their diff ID is not computed).
    """
    root.mkdir(parents=True, exist_ok=True)
    (root / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    layer_descs = []
    diff_ids = []
    for tar, blob in [(tar, gzip.compress(tar, mtime=0)) for tar in layers] + [(b"", b) for b in gzipped]:
        layer_descs.append(
            {
                "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                "size": len(blob),
                "digest": write_blob(root, blob),
            }
        )
        diff_ids.append("sha256:" + hashlib.sha256(tar).hexdigest())
    config = json.dumps(
        {
            "created": created,
            "architecture": "amd64",
            "os": "linux",
            "config": {"Labels": labels or {}},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        }
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": DOCKER_MANIFEST,
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": len(config),
                "digest": write_blob(root, config),
            },
            "layers": layer_descs,
        }
    ).encode()
    digest = write_blob(root, manifest)
    index_path = root / "index.json"
    index = (
        json.loads(index_path.read_text()) if index_path.exists() else {"schemaVersion": 2, "manifests": []}
    )
    index["manifests"] = [
        m for m in index["manifests"] if m["annotations"]["org.opencontainers.image.ref.name"] != tag
    ]
    index["manifests"].append(
        {
            "mediaType": DOCKER_MANIFEST,
            "digest": digest,
            "size": len(manifest),
            "annotations": {"org.opencontainers.image.ref.name": tag},
        }
    )
    index_path.write_text(json.dumps(index))
    return digest


def base_layer() -> bytes:
    """A CVO-like base layer with its own /manifests."""
    return tar_bytes([file_entry("manifests/0000_00_cvo.yaml", b"kind: Namespace\napiVersion: v1\n")])


def open_ref(text: str):  # type: ignore[no-untyped-def]
    """(repository, reference) of a location text."""
    _location, repository, reference = open_location(DefaultTransport(), text)
    return repository, reference


def tree(root: Path) -> list[str]:
    """Every path below ``root``, relative, sorted."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


# ---------------------------------------------------------------------------------------------
# Golden release built by oc


def test_keep_bytes_reproduces_the_golden_payload(tmp_path: Path) -> None:
    repository, reference = open_ref(f"oci:{GOLDEN_01 / 'release'}:01")
    result = extract_release(repository, reference, str(tmp_path / "out"), keep_bytes=True)
    expected = GOLDEN_01 / "expected" / "release-manifests"
    assert tree(tmp_path / "out") == tree(expected)
    for name in tree(expected):
        assert (tmp_path / "out" / name).read_bytes() == (expected / name).read_bytes(), name
    assert result.errors == ()
    assert result.message == (
        "Extracted release payload from digest "
        "sha256:5087372ae315a50854260d4b9fd659fe05b30e72770f6ea00a33354dae69fccc created at 2026-11-24T08:02:19Z"
    )


def test_default_rewrites_manifests_as_sorted_yaml(tmp_path: Path) -> None:
    repository, reference = open_ref(f"oci:{GOLDEN_01 / 'release'}:01")
    extract_release(repository, reference, str(tmp_path))
    expected = GOLDEN_01 / "expected" / "release-manifests"
    for raw_name in ("image-references", "release-metadata"):
        assert (tmp_path / raw_name).read_bytes() == (expected / raw_name).read_bytes()
    written = (tmp_path / "0000_10_config-operator_07_deployment.yaml").read_text()
    assert written.startswith("---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  annotations:\n")
    assert 'include.release.openshift.io/self-managed-high-availability: "true"\n' in written
    for name in sorted(os.listdir(expected)):
        if not name.endswith((".yaml", ".yml", ".json")):
            continue
        # as Go reads them: every line ends with a line break, so ``|+`` keeps a final one
        original = k8syaml.load_documents((expected / name).read_bytes())
        rewritten = k8syaml.load_documents((tmp_path / name).read_bytes())
        assert rewritten == original, name


def test_file_streams_one_payload_file(tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    location = f"oci:{GOLDEN_01 / 'release'}:01"
    repository, reference = open_ref(location)
    expected = (GOLDEN_01 / "expected" / "release-manifests" / "release-metadata").read_bytes()
    assert read_payload_file(repository, reference, "release-metadata") == expected
    with pytest.raises(ReleaseError, match="^image did not contain nothing.yaml$"):
        read_payload_file(repository, reference, "nothing.yaml")
    assert main(["extract", "--file", "image-references", location]) == 0
    out = capsysbinary.readouterr().out
    assert out == (GOLDEN_01 / "expected" / "release-manifests" / "image-references").read_bytes()


def test_cli_extract_prints_oc_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    location = f"oci:{GOLDEN_01 / 'release'}:01"
    assert main(["extract", "--to", str(tmp_path / "x"), "--keep-bytes", location]) == 0
    out = capsys.readouterr().out
    assert out == (
        "Extracted release payload from digest "
        "sha256:5087372ae315a50854260d4b9fd659fe05b30e72770f6ea00a33354dae69fccc created at 2026-11-24T08:02:19Z\n"
    )
    assert len(os.listdir(tmp_path / "x")) == 497
    assert main(["extract", "--to", str(tmp_path / "y"), "--file", "release-metadata", location]) == 2
    assert "only one of --to and --file may be set" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# Layers: whiteouts and unsafe entries


def _two_layer_release(root: Path, upper_extra: Sequence[tuple[tarfile.TarInfo, bytes | None]]) -> str:
    refs = image_references("4.15.0", [("cli", "quay.io/okd/cli@sha256:" + "1" * 64, {})])
    lower = payload_layer(
        {
            "image-references": refs,
            "release-metadata": release_metadata("4.15.0"),
            "a.yaml": b"kind: A\napiVersion: v1\nmetadata:\n  name: old\n",
            "b.yaml": b"kind: B\napiVersion: v1\n",
            "sub/c.yaml": b"kind: C\napiVersion: v1\n",
        }
    )
    upper = payload_layer({"a.yaml": b"kind: A\napiVersion: v1\nmetadata:\n  name: new\n"}, upper_extra)
    write_image(root, "r", [base_layer(), lower, upper])
    return f"oci:{root}:r"


def test_whiteouts_are_honoured(tmp_path: Path) -> None:
    location = _two_layer_release(
        tmp_path / "layout",
        [
            file_entry("release-manifests/.wh.b.yaml", b""),
            file_entry("release-manifests/sub/.wh..wh..opq", b""),
        ],
    )
    repository, reference = open_ref(location)
    out = tmp_path / "out"
    result = extract_release(repository, reference, str(out), keep_bytes=True)
    assert tree(out) == ["a.yaml", "image-references", "release-metadata"]
    assert (out / "a.yaml").read_bytes() == b"kind: A\napiVersion: v1\nmetadata:\n  name: new\n"
    assert result.written == ("a.yaml", "image-references", "release-metadata")
    with pytest.raises(ReleaseError, match="^image did not contain b.yaml$"):
        read_payload_file(repository, reference, "b.yaml")


def _symlink(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info, None


def _device(name: str) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = tarfile.CHRTYPE
    info.devmajor, info.devminor = 1, 3
    return info, None


@pytest.mark.parametrize(
    ("entry", "entry_name", "why"),
    [
        (
            file_entry("release-manifests/../../evil.yaml", b"kind: X\n"),
            "release-manifests/../../evil.yaml",
            "leaves",
        ),
        (_symlink("release-manifests/link.yaml", "/etc/passwd"), "release-manifests/link.yaml", "symlink"),
        (_symlink("release-manifests/up", "../../.."), "release-manifests/up", "symlink"),
        (
            _symlink("release-manifests/hard.yaml", "etc/passwd", tarfile.LNKTYPE),
            "release-manifests/hard.yaml",
            "hard link",
        ),
        (_device("release-manifests/null"), "release-manifests/null", "device"),
    ],
)
def test_unsafe_entries_are_refused_and_nothing_is_written(
    tmp_path: Path, entry: tuple[tarfile.TarInfo, bytes | None], entry_name: str, why: str
) -> None:
    location = _two_layer_release(tmp_path / "layout", [entry])
    repository, reference = open_ref(location)
    target = tmp_path / "work" / "deep" / "target"
    with pytest.raises(LayerError) as caught:
        extract_release(repository, reference, str(target))
    message = str(caught.value)
    assert repr(entry_name) in message
    assert why in message
    assert not target.exists()
    assert tree(tmp_path / "work") == []
    assert not (tmp_path / "evil.yaml").exists()


def test_existing_symlink_in_target_is_not_followed(tmp_path: Path) -> None:
    location = _two_layer_release(tmp_path / "layout", [])
    repository, reference = open_ref(location)
    target = tmp_path / "target"
    outside = tmp_path / "outside"
    outside.mkdir()
    target.mkdir()
    (target / "sub").symlink_to(outside)
    (target / "a.yaml").symlink_to(outside / "a.yaml")
    with pytest.raises(ReleaseError):
        extract_release(repository, reference, str(target), keep_bytes=True)
    assert tree(outside) == []


def test_unparseable_manifest_is_reported_not_written(tmp_path: Path) -> None:
    refs = image_references("4.15.0", [])
    layer = payload_layer(
        {
            "image-references": refs,
            "release-metadata": release_metadata("4.15.0"),
            "bad.yaml": b"kind: [unclosed\n",
            "dup.yaml": b"kind: A\napiVersion: v1\nmetadata:\n  name: x\n---\nkind: A\napiVersion: v1\nmetadata:\n  name: x\n",
            "empty.yaml": b"---\n",
            "notes.txt": b"ignored\n",
        }
    )
    write_image(tmp_path / "layout", "r", [layer])
    repository, reference = open_ref(f"oci:{tmp_path / 'layout'}:r")
    result = extract_release(repository, reference, str(tmp_path / "out"))
    assert tree(tmp_path / "out") == ["image-references", "release-metadata"]
    assert len(result.errors) == 2
    assert result.errors[0].startswith("error parsing bad.yaml: ")
    assert result.errors[1] == 'error parsing dup.yaml: duplicate resource: (Group: "" Kind: "A" Name: "x")'
    assert result.errors_text == f"\n\n* {result.errors[0]}\n* {result.errors[1]}\n"


def layer_digest(tar: bytes) -> str:
    """The digest of a layer as ``write_image`` stores it (gzip, mtime 0)."""
    return "sha256:" + hashlib.sha256(gzip.compress(tar, mtime=0)).hexdigest()


@pytest.mark.parametrize(
    ("references", "api"),
    [(b'{"kind": "ImageStream", "apiVersion": "v1"}', "v1"), (b"null", "")],
    ids=["api-v1", "json-null"],
)
def test_image_references_must_be_an_image_stream(tmp_path: Path, references: bytes, api: str) -> None:
    """oc's error in oc's frame: the layer holding the file and the release as named (by default the
    repository and reference). JSON ``null`` is an empty ImageStream to Go (measured with the real oc)."""
    layer = payload_layer({"image-references": references})
    write_image(tmp_path / "layout", "r", [layer])
    repository, reference = open_ref(f"oci:{tmp_path / 'layout'}:r")
    with pytest.raises(ReleaseError) as caught:
        extract_release(repository, reference, str(tmp_path / "out"))
    assert str(caught.value) == (
        f"unable to iterate over layer {layer_digest(layer)} from oci:{tmp_path / 'layout'}:r: "
        f'unrecognized image-references in release payload: API version "{api}" is not image.openshift.io/v1'
    )


def test_a_refused_manifest_with_a_non_utf8_name_is_named_printably() -> None:
    """The error names a non-UTF-8 file by its bytes as \\xNN (printable on any stderr), with oc's reason."""
    from okdrelease.release.extract import parse_manifest

    with pytest.raises(ReleaseError) as caught:
        parse_manifest("\udcff\udcfe.yaml", b"a: 1\n")
    assert str(caught.value) == (
        "error parsing \\xff\\xfe.yaml: error parsing: error unmarshaling JSON: while decoding JSON: "
        "unable to decode manifest: Object 'Kind' is missing in '{\"a\":1}'"
    )
    str(caught.value).encode("utf-8")


#: image-references as YAML (not JSON) naming a lone surrogate by an escape, which go-yaml refuses.
SURROGATE_YAML = (
    b'kind: ImageStream\napiVersion: image.openshift.io/v1\nmetadata:\n  name: "\\ud800"\nspec:\n  tags: []\n'
)


@pytest.mark.parametrize(
    ("references", "error"),
    [
        (SURROGATE_YAML, "invalid character 'k' looking for beginning of value"),
        (SURROGATE_YAML.replace(b"ud800", b"udfff"), "invalid character 'k' looking for beginning of value"),
        (b'{"kind": "ImageStream",', "unexpected end of JSON input"),
        # not an object: oc's words (measured with the real oc)
        (b"", "unexpected end of JSON input"),
        (b"foo\n", "invalid character 'o' in literal false (expecting 'a')"),
        (b"- a\n", "invalid character ' ' in numeric literal"),
        (b"[1]", "json: cannot unmarshal array into Go value of type v1.ImageStream"),
        (b'"s"', "json: cannot unmarshal string into Go value of type v1.ImageStream"),
        (b"1", "json: cannot unmarshal number into Go value of type v1.ImageStream"),
        (b"true", "json: cannot unmarshal bool into Go value of type v1.ImageStream"),
    ],
    ids=["yaml-surrogate", "yaml-low-surrogate", "json-cut", "empty", "yaml-scalar", "yaml-list"]
    + ["json-array", "json-string", "json-number", "json-bool"],
)
def test_image_references_that_do_not_load_stop_extract_with_gos_json_error(
    tmp_path: Path, references: bytes, error: str
) -> None:
    """oc's extract reads image-references as JSON only and reports Go's JSON error; YAML is taken too
    (Q33), read as sigs.k8s.io/yaml reads it, so a YAML file go-yaml refuses (an escape of a surrogate)
    fails as in oc, with oc's JSON error. Nothing is written."""
    layer = payload_layer({"image-references": references})
    digest = write_image(tmp_path / "layout", "r", [layer])
    repository, reference = open_ref(f"oci:{tmp_path / 'layout'}@{digest}")
    with pytest.raises(ReleaseError) as caught:
        extract_release(repository, reference, str(tmp_path / "out"), image="the-release")
    assert str(caught.value) == (
        f"unable to iterate over layer {layer_digest(layer)} from the-release: "
        f"unable to load image-references from release payload: {error}"
    )
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("bad_on_top", [True, False], ids=["upper", "lower"])
def test_an_image_references_error_names_the_layer_the_file_was_read_from(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], bad_on_top: bool
) -> None:
    """The topmost layer holding image-references is named (as oc, which stops in that layer), not the
    top layer; one hidden below a good one is not read (as oc). The CLI names the release as given."""
    good = image_references("4.16.0", [])
    lower = payload_layer(
        {"image-references": good if bad_on_top else SURROGATE_YAML, "a.yaml": b"kind: A\n"}
    )
    upper = payload_layer({"image-references": SURROGATE_YAML} if bad_on_top else {"b.json": b"{}"})
    write_image(tmp_path / "layout", "r", [lower, upper])
    text = f"oci:{tmp_path / 'layout'}:r"
    assert main(["extract", "--to", str(tmp_path / "out"), text]) == 1
    assert capsys.readouterr() == (
        "",
        f"error: unable to iterate over layer {layer_digest(upper if bad_on_top else lower)} from {text}: "
        "unable to load image-references from release payload: invalid character 'k' looking for beginning "
        "of value\n",
    )
    assert not (tmp_path / "out").exists()
    write_image(tmp_path / "layout", "r", [payload_layer({"image-references": SURROGATE_YAML}), lower])
    assert (bad_on_top, main(["extract", "--to", str(tmp_path / "out"), text])) in ((True, 0), (False, 1))


@pytest.mark.parametrize(
    "references",
    [
        SURROGATE_YAML.replace(b"ud800", b"ud7ff"),  # the code point before the surrogates
        SURROGATE_YAML.replace(b"ud800", b"U0001F600"),  # a code point past U+FFFF, escaped whole
        b'{"kind":"ImageStream","apiVersion":"image.openshift.io/v1","metadata":{"name":"\\ud800"}}',  # Go: U+FFFD
    ],
    ids=["yaml-d7ff", "yaml-astral", "json-surrogate"],
)
def test_image_references_written_as_they_are_once_they_load(tmp_path: Path, references: bytes) -> None:
    """YAML without a surrogate escape loads (Q33), and JSON naming a lone surrogate loads as Go's
    decoder reads it (as oc): the file is written byte for byte."""
    write_image(tmp_path / "layout", "r", [payload_layer({"image-references": references})])
    repository, reference = open_ref(f"oci:{tmp_path / 'layout'}:r")
    result = extract_release(repository, reference, str(tmp_path / "out"))
    assert result.written == ("image-references",)
    assert (tmp_path / "out" / "image-references").read_bytes() == references
