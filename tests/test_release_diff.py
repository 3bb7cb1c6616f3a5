"""``diff``: two hand-built releases with one component changed, one added and one removed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_release_extract import base_layer, image_references, payload_layer, release_metadata, write_image

from okdrelease.cli import main
from okdrelease.release.diff import (
    ComponentChange,
    VersionChange,
    diff_releases,
    operator_of,
    render_build_list_text,
    render_diff_text,
)
from okdrelease.release.read import ReleaseInfo, load_release_from
from okdrelease.transport.open import Transport

D = {c: "sha256:" + c * 64 for c in "abcdef"}
SRC = "io.openshift.build.source-location"
COMMIT = "io.openshift.build.commit.id"
VERSIONS = "io.openshift.build.versions"


def _tags(
    changed_digest: str, changed_commit: str, third: tuple[str, str]
) -> list[tuple[str, str, dict[str, str]]]:
    return [
        (
            "cluster-dns-operator",
            f"quay.io/okd/scos-content@{changed_digest}",
            {SRC: "https://github.com/openshift/cluster-dns-operator", COMMIT: changed_commit},
        ),
        (
            "hyperkube",
            f"quay.io/okd/scos-content@{D['b']}",
            {SRC: "https://github.com/openshift/kubernetes", COMMIT: "k1", VERSIONS: "kubernetes=1.28.3"},
        ),
        (
            third[0],
            f"quay.io/okd/scos-content@{third[1]}",
            {SRC: f"https://github.com/openshift/{third[0]}", COMMIT: "x"},
        ),
    ]


def _build(
    root: Path, tag: str, name: str, tags: list[tuple[str, str, dict[str, str]]], files: dict[str, bytes]
) -> str:
    payload = {
        "image-references": image_references(name, tags),
        "release-metadata": release_metadata(name),
        **files,
    }
    write_image(root, tag, [base_layer(), payload_layer(payload)])
    return f"oci:{root}:{tag}"


@pytest.fixture
def releases(tmp_path: Path) -> tuple[str, str]:
    root = tmp_path / "releases"
    dns = b"kind: Deployment\napiVersion: apps/v1\nmetadata:\n  name: dns-operator\n"
    old = _build(
        root,
        "old",
        "4.15.0-0.okd-1",
        _tags(D["a"], "c0ffee1", ("csi-driver-manila", D["c"])),
        {
            "0000_70_dns-operator_02_deployment.yaml": dns,
            "0000_50_csi-driver-manila_00_ns.yaml": b"kind: Namespace\n",
        },
    )
    new = _build(
        root,
        "new",
        "4.15.0-0.okd-2",
        _tags(D["d"], "c0ffee2", ("csi-driver-nfs", D["e"])),
        {
            "0000_70_dns-operator_02_deployment.yaml": dns + b"spec: {}\n",
            "0000_50_csi-driver-nfs_00_ns.yaml": b"kind: Namespace\n",
        },
    )
    return old, new


def _load(text: str) -> ReleaseInfo:
    with Transport() as transport:
        return load_release_from(transport, text)


def test_diff_reports_exactly_changed_added_removed(releases: tuple[str, str]) -> None:
    diff = diff_releases(_load(releases[0]), _load(releases[1]))
    assert [c.name for c in diff.added] == ["csi-driver-nfs"]
    assert [c.name for c in diff.removed] == ["csi-driver-manila"]
    assert diff.changed == (
        ComponentChange(
            name="cluster-dns-operator",
            old_pullspec=f"quay.io/okd/scos-content@{D['a']}",
            new_pullspec=f"quay.io/okd/scos-content@{D['d']}",
            digest_changed=True,
            commit=("c0ffee1", "c0ffee2"),
            source=None,
            versions=None,
        ),
    )
    assert diff.versions == ()
    assert [(g.operator, [(f.name, f.status) for f in g.files]) for g in diff.manifests] == [
        ("csi-driver-manila", [("0000_50_csi-driver-manila_00_ns.yaml", "removed")]),
        ("csi-driver-nfs", [("0000_50_csi-driver-nfs_00_ns.yaml", "added")]),
        ("dns-operator", [("0000_70_dns-operator_02_deployment.yaml", "changed")]),
    ]
    plan = diff.build_list()
    assert [c.name for c in plan.start] == ["csi-driver-nfs"]
    assert [c.name for c in plan.stop] == ["csi-driver-manila"]
    assert plan.moved == ()
    assert render_build_list_text(diff) == (
        "Build list from 4.15.0-0.okd-1 to 4.15.0-0.okd-2:\n\n"
        "Start building:\n  csi-driver-nfs https://github.com/openshift/csi-driver-nfs\n\n"
        "Stop building:\n  csi-driver-manila https://github.com/openshift/csi-driver-manila\n"
    )
    text = render_diff_text(diff)
    assert "Components added:\n  csi-driver-nfs quay.io/okd/scos-content@" in text
    assert f"  cluster-dns-operator\n    image {D['a']} -> {D['d']}\n    commit c0ffee1 -> c0ffee2\n" in text


def test_diff_cli_json_and_build_list(releases: tuple[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", "-o", "json", *releases]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [c["name"] for c in doc["added"]] == ["csi-driver-nfs"]
    assert [c["name"] for c in doc["removed"]] == ["csi-driver-manila"]
    assert [(c["name"], c["digestChanged"], c["commit"]) for c in doc["changed"]] == [
        ("cluster-dns-operator", True, {"from": "c0ffee1", "to": "c0ffee2"})
    ]
    assert main(["diff", "--build-list", "-o", "json", *releases]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert [c["name"] for c in plan["start"]] == ["csi-driver-nfs"]
    assert [c["name"] for c in plan["stop"]] == ["csi-driver-manila"]
    assert main(["diff", releases[0], releases[0]]) == 0
    assert capsys.readouterr().out.endswith("\nReleases are identical\n")


def test_version_and_source_changes(tmp_path: Path) -> None:
    root = tmp_path / "r"
    tags = _tags(D["a"], "c1", ("tests", D["c"]))
    old = _build(root, "old", "4.15.0", tags, {})
    moved = [(n, p, dict(a)) for n, p, a in tags]
    moved[1][2][VERSIONS] = "kubernetes=1.29.0"
    moved[2][2][SRC] = "https://github.com/okd-project/tests"
    new = _build(root, "new", "4.16.0", moved, {})
    diff = diff_releases(_load(old), _load(new))
    assert diff.versions == (VersionChange("kubernetes", "1.28.3", "1.29.0"),)
    assert [(c.name, c.digest_changed, c.versions, c.source) for c in diff.changed] == [
        ("hyperkube", False, ("kubernetes=1.28.3", "kubernetes=1.29.0"), None),
        (
            "tests",
            False,
            None,
            ("https://github.com/openshift/tests", "https://github.com/okd-project/tests"),
        ),
    ]
    assert [c.name for c in diff.build_list().moved] == ["tests"]


def test_operator_of() -> None:
    assert operator_of("0000_50_cluster-dns-operator_02_deployment.yaml") == "cluster-dns-operator"
    assert (
        operator_of("0000_10_01_etcdbackup-TechPreviewNoUpgrade.crd.yaml")
        == "etcdbackup-TechPreviewNoUpgrade.crd"
    )
    assert operator_of("image-references") == "image-references"
