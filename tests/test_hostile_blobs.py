"""Hostile-input corpus, part 3 (issue 11.3): blobs that do not match their digests, oversized manifests and
configs, malformed manifest JSON, and links, devices and FIFOs in operator layers.

Each case is a CLI run (``new``, ``info``, ``extract``) ending in one exact error line, exit 1, no
traceback and nothing written; every case runs again in one child process under a 1 GiB address-space
limit. Every command runs with ``--no-cache`` so the blobs themselves are read, not verified copies a
cache keeps by digest.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from golden_support import push_layout
from registry_rig import RegistryInfo
from test_hostile_readers import run_under_one_gib
from test_release_extract import (
    file_entry,
    image_references,
    payload_layer,
    tar_bytes,
    write_blob,
    write_image,
)

from okdrelease.cli import main
from okdrelease.reference import ImageReference
from okdrelease.transport.base import MAX_CONFIG_SIZE, MAX_MANIFEST_SIZE, TransportOptions
from okdrelease.transport.client import RegistryClient

OPERATOR = {"io.openshift.release.operator": "true"}
NAMESPACE = b"kind: Namespace\napiVersion: v1\nmetadata:\n  name: x\n"
PADDING = {"pad": "x" * (MAX_CONFIG_SIZE + 1)}
REPO = "quay.io/okd/c"
Case = tuple[list[str], str, Path]


def _blob(root: Path, digest: str) -> Path:
    return root / "blobs" / "sha256" / digest.split(":")[1]


def _manifest(root: Path, digest: str) -> dict[str, object]:
    loaded: dict[str, object] = json.loads(_blob(root, digest).read_bytes())
    return loaded


def _flip(root: Path, digest: str) -> str:
    """Change the blob's bytes (keeping its name); return the digest of what it now holds."""
    path = _blob(root, digest)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _restamp(root: Path, digest: str) -> str:
    """Change a gzip layer's header time: still a valid gzip of the same tar, of the same size; only its
    digest tells. Return the digest of what it now holds."""
    path = _blob(root, digest)
    data = bytearray(path.read_bytes())
    data[4] ^= 0x01  # MTIME, little-endian
    path.write_bytes(bytes(data))
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _components(root: Path, labels: dict[str, str] | None = None, op_layer: bytes | None = None) -> str:
    """A layout with the CVO and one operator image ``op``; return op's manifest digest."""
    write_image(root, "cluster-version-operator", [tar_bytes([file_entry("bin/cvo", str(root).encode())])])
    layer = (
        op_layer if op_layer is not None else tar_bytes([file_entry("manifests/0000_50_op.yaml", NAMESPACE)])
    )
    return write_image(root, "op", [layer], labels={**OPERATOR, **(labels or {})})


def _new(root: Path) -> list[str]:
    out = root.parent / "out"
    return [
        "new",
        "--no-cache",
        "--from-oci-layout",
        str(root),
        "--layout-repository",
        REPO,
        "--name",
        "4.15.0",
    ] + [
        "--to-dir",
        str(out),
    ]


def new_config_mismatch(base: Path) -> Case:
    root = base / "layout"
    op = _components(root)
    config = str(_manifest(root, op)["config"]["digest"])  # type: ignore[index]
    got = _flip(root, config)
    return (
        _new(root),
        "error: one or more input images failed content verification and may have been tampered with: "
        f"{REPO}@{op}: content of blob {config} in oci:{root} does not match its digest {config} (got {got})",
        base / "out",
    )


def new_layer_mismatch(base: Path) -> Case:
    root = base / "layout"
    tar = tar_bytes([file_entry("manifests/0000_50_op.yaml", NAMESPACE)])
    op = _components(root, op_layer=tar)
    layer = str(_manifest(root, op)["layers"][0]["digest"])  # type: ignore[index]
    got = _restamp(root, layer)
    return (
        _new(root),
        f"error: content of blob {layer} in oci:{root} does not match its digest {layer} (got {got})",
        base / "out",
    )


def new_layer_corrupt(base: Path) -> Case:
    root = base / "layout"
    op = _components(root)
    layer = str(_manifest(root, op)["layers"][0]["digest"])  # type: ignore[index]
    got = _flip(root, layer)
    return (
        _new(root),
        f"error: content of blob {layer} in oci:{root} does not match its digest {layer} (got {got})",
        base / "out",
    )


def new_oversized_config(base: Path) -> Case:
    root = base / "layout"
    op = _components(root, PADDING)
    config = str(_manifest(root, op)["config"]["digest"])  # type: ignore[index]
    return (
        _new(root),
        f"error: unable to read image {REPO}@{op}: image config {config} in oci:{root} "
        f"is larger than {MAX_CONFIG_SIZE} bytes",
        base / "out",
    )


def _point_op_at(root: Path, raw: bytes) -> str:
    digest = write_blob(root, raw)
    index = json.loads((root / "index.json").read_text())
    for entry in index["manifests"]:
        if entry["annotations"]["org.opencontainers.image.ref.name"] == "op":
            entry["digest"], entry["size"] = digest, len(raw)
    (root / "index.json").write_text(json.dumps(index))
    return digest


def new_malformed_manifest(base: Path) -> Case:
    root = base / "layout"
    _components(root)
    digest = _point_op_at(root, b'{"schemaVersion": 2, "config": ')
    return (
        _new(root),
        f"error: unable to read image {REPO}@{digest}: oci:{root}@{digest}: "
        "manifest is not valid JSON: Expecting value: line 1 column 32 (char 31)",
        base / "out",
    )


def new_oversized_manifest(base: Path) -> Case:
    root = base / "layout"
    op = _components(root)
    manifest = _manifest(root, op)
    manifest["annotations"] = {"pad": "x" * MAX_MANIFEST_SIZE}
    digest = _point_op_at(root, json.dumps(manifest).encode())
    return (
        _new(root),
        f"error: unable to read image {REPO}@{digest}: manifest {digest} ({digest}) in oci:{root} "
        f"is larger than {MAX_MANIFEST_SIZE} bytes",
        base / "out",
    )


def _release(root: Path, labels: dict[str, str] | None = None) -> str:
    refs = image_references("4.15.0", [])
    return write_image(
        root, "r", [payload_layer({"image-references": refs, "a.yaml": NAMESPACE})], labels=labels
    )


def _info_and_extract(
    name: str, build: Callable[[Path], tuple[Path, str]]
) -> list[tuple[str, Callable[[Path], Case]]]:
    def info(base: Path) -> Case:
        root, expected = build(base)
        return ["info", "--no-cache", f"oci:{root}:r"], expected, base / "none"

    def extract(base: Path) -> Case:
        root, expected = build(base)
        return ["extract", "--no-cache", "--to", str(base / "x"), f"oci:{root}:r"], expected, base / "x"

    return [(f"info-{name}", info), (f"extract-{name}", extract)]


def _release_config_mismatch(base: Path) -> tuple[Path, str]:
    root = base / "layout"
    config = str(_manifest(root, _release(root))["config"]["digest"])  # type: ignore[index]
    got = _flip(root, config)
    return (
        root,
        f"error: content of blob {config} in oci:{root} does not match its digest {config} (got {got})",
    )


def _release_layer_mismatch(base: Path) -> tuple[Path, str]:
    root = base / "layout"
    refs = image_references("4.15.0", [])
    tar = payload_layer({"image-references": refs, "a.yaml": NAMESPACE})
    layer = str(_manifest(root, write_image(root, "r", [tar]))["layers"][0]["digest"])  # type: ignore[index]
    got = _restamp(root, layer)
    return root, (
        f"error: content of blob {layer} in oci:{root} does not match its digest {layer} (got {got})"
    )


def _release_oversized_config(base: Path) -> tuple[Path, str]:
    root = base / "layout"
    config = str(_manifest(root, _release(root, PADDING))["config"]["digest"])  # type: ignore[index]
    return root, f"error: image config {config} in oci:{root} is larger than {MAX_CONFIG_SIZE} bytes"


CASES: dict[str, Callable[[Path], Case]] = {
    "new-config-mismatch": new_config_mismatch,
    "new-layer-mismatch": new_layer_mismatch,
    "new-layer-corrupt": new_layer_corrupt,
    "new-oversized-config": new_oversized_config,
    "new-oversized-manifest": new_oversized_manifest,
    "new-malformed-manifest": new_malformed_manifest,
    **dict(_info_and_extract("config-mismatch", _release_config_mismatch)),
    **dict(_info_and_extract("layer-mismatch", _release_layer_mismatch)),
    **dict(_info_and_extract("oversized-config", _release_oversized_config)),
}


def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def _check(result: tuple[int, str, str], expected: str) -> None:
    code, out, err = result
    assert "Traceback" not in err and "internal error" not in err
    assert (code, out, err.splitlines()[-1]) == (1, "", expected)


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_blob_is_refused_and_nothing_is_written(case: str, tmp_path: Path) -> None:
    argv, expected, absent = CASES[case](tmp_path)
    _check(_run(argv), expected)
    assert not absent.exists()


def test_every_blob_case_under_one_gib(tmp_path: Path) -> None:
    built = [CASES[case](tmp_path / case) for case in sorted(CASES)]
    results = run_under_one_gib([argv for argv, _, _ in built])
    for (_argv, expected, absent), result in zip(built, results, strict=True):
        _check(result, expected)
        assert not absent.exists()


def test_registry_refuses_an_oversized_config(
    registry_http: RegistryInfo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "layout"
    config = str(_manifest(root, _release(root, PADDING))["config"]["digest"])  # type: ignore[index]
    name = f"{registry_http.host}/hostile/big-config"
    with RegistryClient(TransportOptions(insecure_registries=frozenset({registry_http.host}))) as client:
        push_layout(root, client.repository(ImageReference.parse(name)))
    assert main(["info", "--insecure", f"{name}:r"]) == 1
    err = capsys.readouterr().err
    assert err == f"error: image config {config} in {name} is larger than {MAX_CONFIG_SIZE} bytes\n"


@pytest.mark.parametrize(
    ("name", "kind", "link"),
    [
        ("manifests/passwd.yaml", "symlink", "/etc/passwd"),
        ("manifests/up.yaml", "symlink", "../../../../x.yaml"),
        ("manifests/hard.yaml", "hardlink", "etc/passwd"),
        ("manifests/hard-up.yaml", "hardlink", "../../x.yaml"),
        ("manifests/null.yaml", "char", ""),
        ("manifests/disk.yaml", "block", ""),
        ("manifests/pipe.yaml", "fifo", ""),
    ],
)
def test_links_devices_and_fifos_in_an_operator_layer_are_not_manifests(
    name: str, kind: str, link: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``new`` keeps only regular files of an operator's manifests/: the entry is passed over, nothing leaves DIR."""
    import tarfile

    types = {"symlink": tarfile.SYMTYPE, "hardlink": tarfile.LNKTYPE, "char": tarfile.CHRTYPE}
    info = tarfile.TarInfo(name)
    info.type = types.get(kind, tarfile.BLKTYPE if kind == "block" else tarfile.FIFOTYPE)
    info.linkname = link
    layer = tar_bytes([file_entry("manifests/0000_50_op.yaml", NAMESPACE), (info, None)])
    root = tmp_path / "work" / "layout"
    _components(root, op_layer=layer)
    (tmp_path / "x.yaml").write_bytes(b"outside\n")
    assert main(_new(root)) == 0
    assert "Traceback" not in capsys.readouterr().err
    out = tmp_path / "work" / "out"
    assert sorted(os.listdir(out)) == ["0000_50_op.yaml", "image-references", "release-metadata"]
    assert all(not (out / entry).is_symlink() for entry in os.listdir(out))
    assert (tmp_path / "x.yaml").read_bytes() == b"outside\n"
    assert sorted(os.listdir(tmp_path / "work")) == ["layout", "out"]


@pytest.mark.parametrize(
    ("kind", "link", "why"),
    [
        ("fifo", "", "device and FIFO entries are not allowed"),
        ("block", "", "device and FIFO entries are not allowed"),
        ("char", "", "device and FIFO entries are not allowed"),
        (
            "symlink",
            "../../../etc/passwd",
            "symlink to '../../../etc/passwd' points outside the target directory",
        ),
        ("hardlink", "etc/shadow", "hard link to 'etc/shadow' points outside the target directory"),
    ],
)
def test_extract_refuses_devices_fifos_and_links_out_of_the_payload(
    kind: str, link: str, why: str, tmp_path: Path
) -> None:
    import tarfile

    types = {"fifo": tarfile.FIFOTYPE, "block": tarfile.BLKTYPE, "char": tarfile.CHRTYPE}
    types |= {"symlink": tarfile.SYMTYPE, "hardlink": tarfile.LNKTYPE}
    info = tarfile.TarInfo("release-manifests/x.yaml")
    info.type, info.linkname = types[kind], link
    refs = image_references("4.15.0", [])
    root = tmp_path / "layout"
    digest = write_image(root, "r", [payload_layer({"image-references": refs}, [(info, None)])])
    layer = str(_manifest(root, digest)["layers"][0]["digest"])  # type: ignore[index]
    out = tmp_path / "out"
    _check(
        _run(["extract", "--to", str(out), f"oci:{root}:r"]),
        f"error: refusing release layer {layer} of oci:{root} entry 'release-manifests/x.yaml': {why}",
    )
    assert not out.exists()
