"""Manifest formats (``--format oci|v2s2``, issue 13.1): every OCI layout okdrelease writes is read by skopeo and umoci.

skopeo 1.9 and umoci skip ``index.json`` entries with Docker media types (skopeo: ``no descriptor
found for reference``; umoci: ``not implemented``), so a layout is written in OCI media types by
default, and a Docker schema 2 manifest put into a layout (copied byte for byte, or asked for)
comes with a warning on stderr.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from imagegen import DOCKER, OCI, make_image, make_index
from registry_rig import RegistryInfo, RepoNamer
from test_new_release import NAME, sample_args  # the README's first command is sample_args(oci:…)

from okdrelease.cli import main
from okdrelease.errors import OkdReleaseError
from okdrelease.oci import mediatypes as mt
from okdrelease.oci.convert import ConversionError, convert, layer_type
from okdrelease.oci.digest import sha256_digest
from okdrelease.oci.model import Manifest, parse_manifest
from okdrelease.transport.layout import LayoutRepository

LAYOUT_WARNING = "skopeo and umoci cannot open"


def tool(*argv: str) -> str:
    """Run skopeo or umoci; return stdout (fail the test with its stderr on error)."""
    proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, f"{argv}: {proc.stderr}"
    return proc.stdout


def index_entry(layout: Path, ref: str) -> dict[str, Any]:
    entries = json.loads((layout / "index.json").read_text())["manifests"]
    [entry] = [e for e in entries if e["annotations"]["org.opencontainers.image.ref.name"] == ref]
    return dict(entry)


def blob(layout: Path, digest: str) -> bytes:
    return (layout / "blobs" / "sha256" / digest.partition(":")[2]).read_bytes()


def assert_opened_by_skopeo_and_umoci(layout: Path, ref: str, digest: str, tmp_path: Path) -> None:
    """skopeo inspect/copy and umoci ls/unpack read ``layout:ref``, and see ``digest``."""
    inspected = json.loads(tool("skopeo", "inspect", f"oci:{layout}:{ref}"))
    assert inspected["Digest"] == digest
    copied = tmp_path / f"dir-{ref}"
    tool("skopeo", "copy", "--preserve-digests", f"oci:{layout}:{ref}", f"dir:{copied}")
    assert sha256_digest((copied / "manifest.json").read_bytes()) == digest
    assert ref in tool("umoci", "ls", "--layout", str(layout)).split()
    bundle = tmp_path / f"bundle-{ref}"
    tool("umoci", "unpack", "--rootless", "--image", f"{layout}:{ref}", str(bundle))
    assert (bundle / "config.json").is_file()


def assert_all_oci(layout: Path, ref: str) -> Manifest:
    entry = index_entry(layout, ref)
    assert entry["mediaType"] == mt.OCI_MANIFEST
    manifest = parse_manifest(blob(layout, entry["digest"]))
    assert isinstance(manifest, Manifest)
    assert manifest.media_type == mt.OCI_MANIFEST
    assert manifest.config.media_type == mt.OCI_CONFIG
    assert {d.media_type for d in manifest.layers} == {mt.OCI_LAYER_GZIP}
    return manifest


def test_readme_first_command_writes_a_layout_skopeo_and_umoci_open(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    layout = tmp_path / "okd-release"
    assert main(sample_args(f"oci:{layout}:{NAME}")) == 0
    captured = capsys.readouterr()
    digest, name, created = captured.out.split()
    assert (name, created) == (NAME, "2024-05-01T00:00:00Z")
    assert LAYOUT_WARNING not in captured.err
    manifest = assert_all_oci(layout, NAME)
    assert manifest.digest == digest
    assert_opened_by_skopeo_and_umoci(layout, NAME, digest, tmp_path)
    # The payload is there for umoci's users too.
    assert (tmp_path / f"bundle-{NAME}" / "rootfs" / "release-manifests" / "image-references").is_file()


def test_v2s2_layout_is_the_registry_release_and_warns(
    registry_http: RegistryInfo, unique_repo: RepoNamer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A registry gets oc's Docker schema 2 by default; --format v2s2 puts the same bytes into a layout."""
    target = f"{registry_http.host}/{unique_repo()}:{NAME}"
    assert main(sample_args(target, "--insecure")) == 0
    registry_digest = capsys.readouterr().out.split()[0]
    layout = tmp_path / "v2s2"
    assert main(sample_args(f"oci:{layout}:{NAME}", "--format", "v2s2")) == 0
    captured = capsys.readouterr()
    assert captured.out.split()[0] == registry_digest
    assert LAYOUT_WARNING in captured.err
    entry = index_entry(layout, NAME)
    assert (entry["mediaType"], entry["digest"]) == (mt.DOCKER_MANIFEST, registry_digest)
    # --format oci into the registry: the OCI release the layout gets by default.
    assert main(sample_args(target, "--insecure", "--format", "oci")) == 0
    oci_digest = capsys.readouterr().out.split()[0]
    default_layout = tmp_path / "default"
    assert main(sample_args(f"oci:{default_layout}:{NAME}")) == 0
    assert capsys.readouterr().out.split()[0] == oci_digest != registry_digest


def test_copy_keeps_docker_digests_and_warns_until_a_format_is_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "src"
    image = make_image(LayoutRepository(source, create=True), "v1", seed="fmt", flavour=DOCKER)
    kept = tmp_path / "kept"
    assert main(["copy", "-q", f"oci:{source}:v1", f"oci:{kept}:v1"]) == 0
    captured = capsys.readouterr()
    assert captured.out == image.digest + "\n"
    assert LAYOUT_WARNING in captured.err and "--format oci" in captured.err
    assert (
        index_entry(kept, "v1")["mediaType"] == mt.DOCKER_MANIFEST
    )  # the manifest's real type, as skopeo writes
    converted = tmp_path / "converted"
    assert main(["copy", "-q", "--format", "oci", f"oci:{source}:v1", f"oci:{converted}:v1"]) == 0
    captured = capsys.readouterr()
    digest = captured.out.strip()
    assert digest != image.digest and captured.err == ""
    manifest = assert_all_oci(converted, "v1")
    assert [d.digest for d in manifest.layers] == [b.digest for b in image.layers]
    assert manifest.config.digest == image.config.digest
    assert_opened_by_skopeo_and_umoci(converted, "v1", digest, tmp_path)
    # Already in the format asked for: byte for byte, digest kept.
    again = tmp_path / "again"
    assert main(["copy", "-q", "--format", "oci", f"oci:{converted}:v1", f"oci:{again}:v1"]) == 0
    assert capsys.readouterr().out == digest + "\n"
    # And back to Docker schema 2: the original bytes (same indentation, same fields).
    back = tmp_path / "back"
    assert main(["copy", "-q", "--format", "v2s2", f"oci:{converted}:v1", f"oci:{back}:v1"]) == 0
    captured = capsys.readouterr()
    assert captured.out == image.digest + "\n" and LAYOUT_WARNING in captured.err


def test_copy_format_converts_a_list_and_every_child(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "src"
    platforms = (("linux", "amd64"), ("linux", "arm64"))
    index = make_index(
        LayoutRepository(source, create=True), "list", seed="fmt-list", flavour=DOCKER, platforms=platforms
    )
    out = tmp_path / "out"
    assert main(["copy", "-q", "--format", "oci", f"oci:{source}:list", f"oci:{out}:list"]) == 0
    digest = capsys.readouterr().out.strip()
    entry = index_entry(out, "list")
    assert (entry["mediaType"], entry["digest"]) == (mt.OCI_INDEX, digest)
    top = json.loads(blob(out, digest))
    assert top["mediaType"] == mt.OCI_INDEX
    assert [m["platform"]["architecture"] for m in top["manifests"]] == ["amd64", "arm64"]
    for child, original in zip(top["manifests"], index.children, strict=True):
        assert child["mediaType"] == mt.OCI_MANIFEST
        manifest = json.loads(blob(out, child["digest"]))
        assert manifest["mediaType"] == mt.OCI_MANIFEST
        assert [d["digest"] for d in manifest["layers"]] == [b.digest for b in original.layers]
    raw = tool("skopeo", "inspect", "--raw", f"oci:{out}:list")
    assert sha256_digest(raw.encode()) == digest
    copied = tmp_path / "dir"
    tool("skopeo", "copy", "--all", "--preserve-digests", f"oci:{out}:list", f"dir:{copied}")
    assert sha256_digest((copied / "manifest.json").read_bytes()) == digest


def test_layer_types_without_an_equivalent_are_refused(tmp_path: Path) -> None:
    assert layer_type(mt.DOCKER_LAYER_GZIP, "oci") == mt.OCI_LAYER_GZIP
    assert layer_type(mt.OCI_LAYER_GZIP, "v2s2") == mt.DOCKER_LAYER_GZIP
    assert layer_type(mt.OCI_LAYER_ZSTD, "oci") == mt.OCI_LAYER_ZSTD
    with pytest.raises(
        ConversionError, match=r"application/vnd.oci.image.layer.v1.tar\+zstd has no equivalent"
    ):
        layer_type(mt.OCI_LAYER_ZSTD, "v2s2")
    source = tmp_path / "src"
    image = make_image(LayoutRepository(source, create=True), "v1", seed="zstd", flavour=OCI)
    doc = json.loads(image.manifest)
    doc["layers"][0]["mediaType"] = mt.OCI_LAYER_ZSTD
    doc["annotations"] = {"a": "b"}
    manifest = parse_manifest(json.dumps(doc).encode())
    with pytest.raises(OkdReleaseError, match=f"cannot convert manifest {manifest.digest} to v2s2"):
        convert(manifest, "v2s2")
    doc["layers"][0]["mediaType"] = mt.OCI_LAYER_GZIP
    converted = convert(parse_manifest(json.dumps(doc).encode()), "v2s2")
    assert "annotations" not in converted.parsed  # Docker schema 2 has none
    assert converted.media_type == mt.DOCKER_MANIFEST


def test_copy_cli_refuses_an_unconvertible_manifest_cleanly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "src"
    repo = LayoutRepository(source, create=True)
    image = make_image(repo, None, seed="zstd-cli", flavour=OCI)
    doc = json.loads(image.manifest)
    doc["layers"][0]["mediaType"] = mt.OCI_LAYER_ZSTD
    raw = json.dumps(doc).encode()
    repo.put_manifest(raw, mt.OCI_MANIFEST, "z")
    out = tmp_path / "out"
    assert main(["copy", "-q", "--format", "v2s2", f"oci:{source}:z", f"oci:{out}:z"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"cannot convert manifest {sha256_digest(raw)} to v2s2" in captured.err
    assert "Traceback" not in captured.err
    # Nothing was written: the destination layout the copy would have created does not exist.
    assert not out.exists()
