"""Tests for okdrelease.payload.assemble: the payload tar, rebuilt byte for byte from golden cases."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from okdrelease.errors import OkdReleaseError, ReleaseError
from okdrelease.oci.layerwrite import compress_payload
from okdrelease.openshift.payloadfiles import payload_name
from okdrelease.payload.assemble import (
    FilesByOperator,
    newest_mtime,
    write_payload_tar,
)
from okdrelease.payload.mapper import Transform, build_operator_transform, simple_transform

GOLDEN = Path(__file__).resolve().parents[2] / ".." / "shared" / "golden"
OPERATOR_LABEL = "io.openshift.release.operator"
VERSION_LABELS = ("io.openshift.build.versions", "io.openshift.build.version-display-names")
ERROR_PREFIX = "error: unable to create a release: "


def _ci(mapping: Mapping[str, Any], key: str) -> Any:
    """Look ``key`` up like Go's JSON decoder: exact match first, then case-insensitively."""
    if key in mapping:
        return mapping[key]
    return next((v for k, v in mapping.items() if k.lower() == key.lower()), None)


class GoldenCase:
    """Reads a golden case: component images from its layouts, the release stream, the operators."""

    def __init__(self, name: str) -> None:
        self.dir = GOLDEN / name
        self.info = json.loads((self.dir / "case.json").read_text())
        self.images: dict[str, tuple[dict[str, str], bytes]] = {}
        for source in [*self.info["inputs_from"], *([name] if self.info["has_inputs"] else [])]:
            self._load_layout(GOLDEN / source / "inputs")
        args = self.info["oc_args"]
        self.release_name = args[args.index("--name") + 1]
        self.stream = self._release_stream()
        meta = self.stream["metadata"]
        self.stream_annotations: dict[str, str] | None = meta.get("annotations")
        self.release_tags = [
            (t["name"], t["from"]["name"], t.get("annotations")) for t in self.stream["spec"]["tags"]
        ]
        self.operators: dict[str, list[tuple[str, bytes, float]]] = {}
        for tag, from_name, _annotations in self.release_tags:
            labels, layer = self.images[from_name.rsplit("@", 1)[1]]
            if labels.get(OPERATOR_LABEL):
                self.operators[tag] = _manifests_dir(layer)

    def _load_layout(self, layout: Path) -> None:
        def blob(digest: str) -> bytes:
            return (layout / "blobs" / "sha256" / digest.split(":", 1)[1]).read_bytes()

        for entry in json.loads((layout / "index.json").read_text())["manifests"]:
            manifest = json.loads(blob(entry["digest"]))
            if "config" not in manifest:
                continue
            labels = json.loads(blob(manifest["config"]["digest"]))["config"].get("Labels") or {}
            self.images[entry["digest"]] = (labels, blob(manifest["layers"][-1]["digest"]))

    def _release_stream(self) -> dict[str, Any]:
        """Return the recorded release image-references, or the input stream with version annotations."""
        recorded = self.dir / "expected" / "release-manifests" / "image-references"
        if recorded.exists():
            stream: dict[str, Any] = json.loads(recorded.read_bytes())
            return stream
        text = (self.dir / "imagestream.yaml").read_text()
        prefix = f"{self.info['registry_literal']}/{self.info['input_repo']}"
        stream = yaml.safe_load(text.replace("{registry}/{repo}", prefix))
        for tag in stream["spec"]["tags"]:
            labels, _layer = self.images[tag["from"]["name"].rsplit("@", 1)[1]]
            if labels.get(VERSION_LABELS[0]):
                tag["annotations"] = {key: labels.get(key, "") for key in VERSION_LABELS}
        stream["metadata"]["name"] = self.release_name
        return stream

    def transform_for(self, operator: str) -> Transform:
        """Return the operator's transform, wrapping image-references failures as oc does."""
        refs = next((data for name, data, _ in self.operators[operator] if name == "image-references"), None)
        if refs is None:
            return simple_transform(self.release_name)
        try:
            local = yaml.safe_load(refs)
            operator_refs = [
                (
                    _ci(t, "name"),
                    _ci(_ci(t, "from") or {}, "kind") or "",
                    _ci(_ci(t, "from") or {}, "name") or "",
                )
                for t in _ci(_ci(local, "spec"), "tags")
            ]
            allow_missing = "--allow-missing-images" in self.info["oc_args"]
            return build_operator_transform(
                operator_refs,
                self.release_tags,
                self.stream_annotations,
                self.release_name,
                allow_missing,
                _no_warning,
            )
        except OkdReleaseError as err:
            raise ReleaseError(
                f'operator "{operator}" contained an invalid image-references file: {err}'
            ) from err

    def write(self, out: io.BytesIO) -> list[str]:
        """Assemble the payload tar of this case into ``out``."""
        expected = self.dir / "expected" / "release-manifests"
        return write_payload_tar(
            out,
            FilesByOperator(self.operators),
            list(self.operators),
            self.transform_for,
            (expected / "image-references").read_bytes() if expected.exists() else b"{}",
            (expected / "release-metadata").read_bytes() if expected.exists() else b"{}",
            skip_manifest_check="--skip-manifest-check" in self.info["oc_args"],
        )


def _no_warning(message: str) -> None:
    raise AssertionError(f"unexpected warning: {message}")


def _manifests_dir(layer: bytes) -> list[tuple[str, bytes, float]]:
    """Return the top-level regular files under ``manifests/`` of a layer (``./`` stripped, absolute dropped)."""
    files = []
    with tarfile.open(fileobj=io.BytesIO(layer)) as archive:
        for member in archive:
            name = member.name
            while name.startswith("./"):
                name = name[2:]
            rest = name.removeprefix("manifests/")
            if rest == name or not rest or "/" in rest or not member.isreg():
                continue
            handle = archive.extractfile(member)
            assert handle is not None
            files.append((rest, handle.read(), member.mtime))
    return files


@pytest.mark.parametrize(
    ("case", "operators"),
    [
        ("05-name-collisions", 4),
        ("20-no-operators", 0),
        ("01-realistic", 32),
        ("10-allow-missing-images", 2),
        ("12b-invalid-yaml-skip-check", 1),
        ("12e-json-trailing-comma", 1),
        ("13g-version-substitution", 1),
    ],
)
def test_golden_payload_tar_is_byte_exact(case: str, operators: int) -> None:
    golden = GoldenCase(case)
    out = io.BytesIO()
    contributed = golden.write(out)
    assert len(contributed) == operators
    assert contributed == sorted(contributed)
    tar = out.getvalue()
    assert "sha256:" + hashlib.sha256(tar).hexdigest() == golden.info["results"]["diff_id"]
    assert tar == (golden.dir / "expected" / "layer.tar").read_bytes()


@pytest.mark.parametrize(
    "case",
    [
        "09-missing-image-reference",
        "12a-invalid-yaml",
        "12c-missing-kind",
        "12d-not-an-object",
        "12f-empty-file",
        "13d-version-inconsistent",
        "13e-version-conflict",
        "13f-unknown-version-reference",
    ],
)
def test_golden_errors(case: str) -> None:
    golden = GoldenCase(case)
    expected = (golden.dir / "stderr.txt").read_text().split(ERROR_PREFIX, 1)[1].removesuffix("\n")
    with pytest.raises(ReleaseError) as err:
        golden.write(io.BytesIO())
    assert str(err.value) == expected


def _files(**operators: list[tuple[str, bytes, float]]) -> FilesByOperator:
    return FilesByOperator(operators)


def _listing(tar: bytes) -> list[tuple[str, int, int, bytes]]:
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        out = []
        for member in archive:
            handle = archive.extractfile(member) if member.isfile() else None
            out.append((member.name, member.mode, int(member.mtime), handle.read() if handle else b""))
        return out


def _write(
    files: FilesByOperator,
    ordered: list[str],
    transform_for: Callable[[str], Transform] | None = None,
    **kwargs: bool,
) -> tuple[list[str], list[tuple[str, int, int, bytes]]]:
    out = io.BytesIO()
    contributed = write_payload_tar(
        out,
        files,
        ordered,
        transform_for or (lambda _op: simple_transform("4.15.0")),
        b"REFS",
        b"META",
        **kwargs,
    )
    return contributed, _listing(out.getvalue())


def test_entry_order_names_modes_and_mtimes() -> None:
    files = _files(
        beta=[("deploy.yaml", b"kind: D\napiVersion: v1\nv: 0.0.1-snapshot\n", 20.75)],
        alpha=[
            ("z.yaml", b"kind: Z\napiVersion: v1\n", 30.4),
            ("0000_10_crd.yaml", b"kind: C\napiVersion: v1\n", 10),
            ("image-references", b"ignored", 99.9),
            ("README", b"not checked: [", 5),
        ],
        empty=[],
    )
    contributed, listing = _write(files, ["empty", "beta", "alpha"])
    assert contributed == ["alpha", "beta"]
    assert listing == [
        ("release-manifests", 0o777, 99, b""),
        ("release-manifests/image-references", 0o444, 99, b"REFS"),
        ("release-manifests/release-metadata", 0o444, 99, b"META"),
        ("release-manifests/0000_10_crd.yaml", 0o444, 10, b"kind: C\napiVersion: v1\n"),
        ("release-manifests/0000_50_alpha_README", 0o444, 5, b"not checked: ["),
        ("release-manifests/0000_50_alpha_z.yaml", 0o444, 30, b"kind: Z\napiVersion: v1\n"),
        ("release-manifests/0000_50_beta_deploy.yaml", 0o444, 21, b"kind: D\napiVersion: v1\nv: 4.15.0\n"),
    ]


def test_collisions_and_duplicate_operators() -> None:
    ns = b"kind: Namespace\napiVersion: v1\n"
    files = _files(
        a=[("0000_00_ns.yaml", ns, 1), ("0000_90_notes", b"a", 1)],
        b=[("0000_00_ns.yaml", ns, 1), ("0000_90_notes", b"b", 1)],
        c=[("0000_00_ns_2.yaml", ns, 1), ("0000_00_ns.yaml", ns, 1)],
    )
    _contributed, listing = _write(files, ["a", "b", "c"])
    assert [name.removeprefix("release-manifests/") for name, *_ in listing[3:]] == [
        "0000_00_ns.yaml",
        "0000_90_notes",
        "0000_00_ns_2.yaml",
        "0000_90_notes_2",
        "0000_00_ns_3.yaml",
        "0000_00_ns_2_2.yaml",
    ]
    # A genuine file first, the generated name later: oc writes two entries with the same name.
    files = _files(
        a=[("0000_00_ns_2.yaml", ns, 1)], b=[("0000_00_ns.yaml", ns, 1)], c=[("0000_00_ns.yaml", ns, 1)]
    )
    _contributed, listing = _write(files, ["a", "b", "c"])
    assert [name for name, *_ in listing[3:]] == [
        "release-manifests/0000_00_ns_2.yaml",
        "release-manifests/0000_00_ns.yaml",
        "release-manifests/0000_00_ns_2.yaml",
    ]


def test_duplicated_operator_q6_and_dedupe() -> None:
    files = _files(op=[("deploy.yaml", b"kind: D\napiVersion: v1\n", 1)])
    contributed, listing = _write(files, ["op", "op"])
    assert contributed == ["op", "op"]
    assert [name for name, *_ in listing[3:]] == [
        "release-manifests/0000_50_op_deploy.yaml",
        "release-manifests/0000_50_op_deploy_2.yaml",
    ]
    contributed, listing = _write(files, ["op", "op"], dedupe=True)
    assert contributed == ["op"]
    assert [name for name, *_ in listing[3:]] == ["release-manifests/0000_50_op_deploy.yaml"]


def test_transform_called_once_per_contributing_operator_in_order() -> None:
    calls: list[str] = []

    def transform_for(operator: str) -> Transform:
        calls.append(operator)
        return lambda data: data.upper()

    files = _files(b=[("x.txt", b"b", 1)], a=[("x.txt", b"a", 1), ("y.txt", b"y", 1)], n=[])
    _contributed, listing = _write(files, ["n", "b", "a"], transform_for)
    assert calls == ["a", "b"]
    assert [data for *_, data in listing[3:]] == [b"A", b"Y", b"B"]


def test_manifest_check_runs_on_original_bytes_unless_skipped() -> None:
    files = _files(op=[("bad.yaml", b"", 1)])
    with pytest.raises(ReleaseError) as err:
        _write(files, ["op"], lambda _op: lambda _data: b"kind: A\napiVersion: v1\n")
    assert str(err.value) == "op/bad.yaml: not a valid YAML/JSON object, got: "
    _contributed, listing = _write(files, ["op"], skip_manifest_check=True)
    assert listing[3] == ("release-manifests/0000_50_op_bad.yaml", 0o444, 1, b"")


def test_missing_operator_data() -> None:
    with pytest.raises(ReleaseError) as err:
        _write(_files(), ["ghost"])
    assert str(err.value) == "missing image data ghost"


def test_newest_mtime_includes_image_references_and_truncates() -> None:
    files = _files(a=[("x.yaml", b"", 10.9), ("image-references", b"", 12.99)], b=[("y.yaml", b"", 50)])
    assert newest_mtime(files, ["a"]) == 12
    assert newest_mtime(files, ["a", "b"]) == 50
    assert newest_mtime(files, []) == 0
    # Layer files arrive clamped (extracted_mtime); directory files keep their time, floored like Go.
    assert newest_mtime(_files(a=[("x", b"", -3.5)]), ["a"]) == -4
    assert newest_mtime(_files(a=[("x", b"", 0.0), ("y", b"", 11810783221.0)]), ["a"]) == 11810783221


def test_named_file_objects_are_accepted() -> None:
    class Named:
        def __init__(self, name: str, data: bytes, mtime: float) -> None:
            self.name, self.data, self.mtime = name, data, mtime

    files = FilesByOperator({"op": [Named("b.txt", b"2", 2), Named("a.txt", b"1", 1)]})
    assert files.entries("op") == [("a.txt", b"1", 1), ("b.txt", b"2", 2)]


@pytest.mark.parametrize(
    ("operator", "filename", "expected"),
    [
        ("foo", "deployment.yaml", "0000_50_foo_deployment.yaml"),
        ("foo", "0000_10_foo_crd.yaml", "0000_10_foo_crd.yaml"),
        ("foo", "000_x.yaml", "0000_50_foo_000_x.yaml"),
    ],
)
def test_payload_name(operator: str, filename: str, expected: str) -> None:
    assert payload_name(operator, filename) == expected


def test_payload_gzip_header_and_content() -> None:
    tar = (GOLDEN / "20-no-operators" / "expected" / "layer.tar").read_bytes()
    data = compress_payload(tar)
    assert data[:10] == bytes.fromhex("1f8b0800000000000 0ff".replace(" ", ""))
    assert gzip.decompress(data) == tar
