"""``diff``: two hand-built releases with one component changed, one added and one removed."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from test_release_extract import base_layer, image_references, payload_layer, release_metadata, write_image
from test_sample_payload import gen, readme_args

from okdrelease.cli import main
from okdrelease.openshift.payloadfiles import operator_of
from okdrelease.release.diff import (
    ComponentChange,
    VersionChange,
    diff_releases,
    render_build_list_text,
    render_diff_text,
)
from okdrelease.release.read import ReleaseInfo, load_release_from
from okdrelease.transport.open import DefaultTransport

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
    with DefaultTransport() as transport:
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
    old_digest, new_digest = _load(releases[0]).digest, _load(releases[1]).digest
    assert render_diff_text(diff) == (
        f"From 4.15.0-0.okd-1 {old_digest}\n"
        f"To   4.15.0-0.okd-2 {new_digest}\n"
        "Components added (1):\n"
        "  csi-driver-nfs  sha256:eeeeeeeeeeee\n"
        "Components removed (1):\n"
        "  csi-driver-manila  sha256:cccccccccccc\n"
        "Components changed (1):\n"
        "  cluster-dns-operator  sha256:aaaaaaaaaaaa → sha256:dddddddddddd  commit c0ffee1 → c0ffee2\n"
        "Release metadata changed:\n"
        "  version  4.15.0-0.okd-1 → 4.15.0-0.okd-2\n"
        "Manifests added or removed:\n"
        "  removed  0000_50_csi-driver-manila_00_ns.yaml\n"
        "  added    0000_50_csi-driver-nfs_00_ns.yaml\n"
        "--- a/0000_70_dns-operator_02_deployment.yaml\n"
        "+++ b/0000_70_dns-operator_02_deployment.yaml\n"
        "@@ -4 +4,2 @@\n"
        "   name: dns-operator\n"
        "+spec: {}\n"
    )


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


# --------------------------------------------------------------------------------------------
# Two releases built from the sample payload: two components and one manifest line apart


def _sample_variant(out: Path) -> None:
    """The sample layout with hyperkube rebuilt (kubernetes 1.29.5, new commit) and one line of
    cluster-dns-operator's deployment changed (``replicas: 2``)."""
    images = {image.tag: image for image in gen.sample_images()}
    base = gen.base_layer()
    seed = gen.SEED + 1
    versions = dict(gen.COMPONENT_VERSIONS)
    try:
        gen.COMPONENT_VERSIONS["hyperkube"] = "kubernetes=1.29.5"
        images["hyperkube"] = gen.component_image("hyperkube", [base], docker=True, seed=seed)
    finally:
        gen.COMPONENT_VERSIONS.clear()
        gen.COMPONENT_VERSIONS.update(versions)
    index, op = next((i, op) for i, op in enumerate(gen.OPERATORS) if op.tag == "cluster-dns-operator")
    files = gen.operator_files(op, index)
    deployment = next(name for name in files if name.endswith("_deployment.yaml"))
    assert files[deployment].count(b"  replicas: 1\n") == 1
    files[deployment] = files[deployment].replace(b"  replicas: 1\n", b"  replicas: 2\n")
    images[op.tag] = gen.component_image(
        op.tag, [base], manifests=files, operator=True, docker=op.docker, seed=seed
    )
    gen.write_layout(sorted(images.values(), key=lambda image: image.tag), out)


@pytest.fixture(scope="module")
def sample_releases(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    root = tmp_path_factory.mktemp("sample-diff")
    _sample_variant(root / "variant")
    old, new = f"oci:{root / 'releases'}:old", f"oci:{root / 'releases'}:new"
    assert main(["-q", *readme_args(old)]) == 0
    variant = readme_args(new)
    variant[variant.index("--from-oci-layout") + 1] = str(root / "variant")
    assert main(["-q", *variant]) == 0
    return old, new


def test_sample_diff_is_short_and_shows_both_changes(
    sample_releases: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["diff", "--exit-code", *sample_releases]) == 1
    out, err = capsys.readouterr()
    assert err == ""
    lines = out.splitlines()
    assert len(lines) <= 20, out
    assert lines[2:5] == [
        "Components changed (2):",
        _line_matching(lines, "  cluster-dns-operator  "),
        _line_matching(lines, "  hyperkube  "),
    ]
    assert re.fullmatch(
        r"  cluster-dns-operator  sha256:[0-9a-f]{12} → sha256:[0-9a-f]{12}  commit [0-9a-f]{12} → [0-9a-f]{12}",
        lines[3],
    )
    assert re.fullmatch(
        r"  hyperkube {13}kubernetes=1\.29\.4 → kubernetes=1\.29\.5  sha256:[0-9a-f]{12} → sha256:[0-9a-f]{12}"
        r"  commit [0-9a-f]{12} → [0-9a-f]{12}",
        lines[4],
    )
    assert lines[5:7] == ["Release metadata changed:", "  kubernetes version  1.29.4 → 1.29.5"]
    assert lines[7] == "Manifests changed only in image digests or versions:"
    folded = lines[8 : lines.index("--- a/0000_70_cluster-dns-operator_05_deployment.yaml")]
    assert [line.split()[0] for line in folded] == [
        "cluster-kube-apiserver-operator",
        "cluster-kube-controller-manager-operator",
        "cluster-kube-scheduler-operator",
        "cluster-network-operator",
    ]
    assert all(line.endswith("  2 files (image digests and versions)") for line in folded)
    assert lines[-7:] == [
        "--- a/0000_70_cluster-dns-operator_05_deployment.yaml",
        "+++ b/0000_70_cluster-dns-operator_05_deployment.yaml",
        "@@ -11,3 +11,3 @@",
        " spec:",
        "-  replicas: 1",
        "+  replicas: 2",
        "   selector:",
    ]


def _line_matching(lines: list[str], prefix: str) -> str:
    return next(line for line in lines if line.startswith(prefix))


def test_sample_diff_exit_codes_and_json_keeps_everything(
    sample_releases: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    old, new = sample_releases
    assert main(["diff", "--exit-code", old, old]) == 0
    assert capsys.readouterr().out.endswith("\nReleases are identical\n")
    assert main(["diff", old, new]) == 0  # without --exit-code a difference is no failure
    capsys.readouterr()
    assert main(["diff", "--exit-code", "-o", "json", old, new]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert [c["name"] for c in doc["changed"]] == ["cluster-dns-operator", "hyperkube"]
    assert doc["componentVersions"] == [{"component": "kubernetes", "from": "1.29.4", "to": "1.29.5"}]
    files = {f["name"]: f for g in doc["manifests"] for f in g["files"]}
    deployment = files["0000_70_cluster-dns-operator_05_deployment.yaml"]
    assert deployment["churn"] == ""
    assert "-  replicas: 1\n+  replicas: 2\n" in deployment["diff"]
    assert "-        image: quay.io/okd/scos-content@sha256:" in deployment["diff"]  # churn kept in JSON
    churned = {name: f["churn"] for name, f in files.items() if f["churn"]}
    assert (
        churned["0000_20_cluster-kube-apiserver-operator_05_deployment.yaml"] == "image digests and versions"
    )
    assert churned["0000_20_cluster-kube-apiserver-operator_07_clusteroperator.yaml"] == "versions"
    assert len(churned) == 8 and len(files) == 9
    kube_co = files["0000_20_cluster-kube-apiserver-operator_07_clusteroperator.yaml"]["diff"]
    assert '\n-    version: "1.29.4"\n+    version: "1.29.5"\n' in kube_co


def test_exit_code_tells_trouble_from_difference(
    sample_releases: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = f"oci:{tmp_path / 'nothing-here'}:x"
    capsys.readouterr()
    assert main(["diff", "--exit-code", sample_releases[0], missing]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and str(tmp_path / "nothing-here") in err
    assert main(["diff", sample_releases[0], missing]) == 1


def test_a_pull_spec_moved_to_another_registry_with_the_same_digest_is_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """hunt #6: the same digest under another registry is a changed component, and the operator
    manifests that follow it changed in image references, not digests (before: no component listed
    and "1 file (image digests)"). oc's info --changes-from lists it under "Images Rebuilt" without
    a line for it (tests/test_parity_info.py compares that view)."""
    root = tmp_path / "r"
    tags = _tags(D["a"], "c1", ("tests", f"quay.io/okd/scos-content@{D['c']}"))
    elsewhere = f"evil.example.com/x/dns@{D['a']}"
    moved = [(n, elsewhere if n == "cluster-dns-operator" else p, a) for n, p, a in tags]
    manifest = "0000_70_cluster-dns-operator_05_deployment.yaml"
    old = _build(root, "old", "4.15.0", tags, {manifest: f"image: {tags[0][1]}\n".encode()})
    new = _build(root, "new", "4.15.0", moved, {manifest: f"image: {elsewhere}\n".encode()})
    assert main(["diff", old, new]) == 0
    out = capsys.readouterr().out
    assert out.split("\n", 2)[2] == (
        "Components changed (1):\n"
        f"  cluster-dns-operator  quay.io/okd/scos-content@{D['a']} → {elsewhere}\n"
        "Manifests changed only in image digests or versions:\n"
        "  cluster-dns-operator  1 file (image references)\n"
    )
    assert main(["diff", "--exit-code", old, new]) == 1
