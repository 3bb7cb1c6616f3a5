"""The embedded sample payload (``testdata/``): generator determinism, its shape, and the README's first command."""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import io
import json
import re
import subprocess
import sys
import tarfile
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from registry_rig import RegistryInfo

from okdrelease import cli

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "testdata" / "sample-payload"
NAME = "4.16.0-okd.sample"
CREATED = "2024-05-01T00:00:00Z"
REF_NAME = "org.opencontainers.image.ref.name"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_sample", ROOT / "testdata" / "make_sample.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_sample"] = module
    spec.loader.exec_module(module)
    return module


gen = _load_generator()


# --------------------------------------------------------------------------------------------
# Reading layouts with the standard library only


def tree(path: Path) -> dict[str, bytes]:
    """Every file below ``path`` by relative name."""
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def entries(layout: Path) -> dict[str, dict[str, Any]]:
    """index.json descriptors by ref name."""
    index = json.loads((layout / "index.json").read_text())
    return {d["annotations"][REF_NAME]: d for d in index["manifests"]}


def blob(layout: Path, digest: str) -> bytes:
    """A blob's bytes, checked against its digest."""
    data = (layout / "blobs" / "sha256" / digest.removeprefix("sha256:")).read_bytes()
    assert "sha256:" + hashlib.sha256(data).hexdigest() == digest
    return data


def manifest_and_config(layout: Path, digest: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The manifest of ``digest`` and its config, parsed."""
    manifest = json.loads(blob(layout, digest))
    return manifest, json.loads(blob(layout, manifest["config"]["digest"]))


def layer_files(data: bytes) -> dict[str, bytes]:
    """Regular files of a gzip tar layer by name."""
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(data))) as tar:
        out = {}
        for member in tar.getmembers():
            if member.isfile():
                extracted = tar.extractfile(member)
                assert extracted is not None
                out[member.name] = extracted.read()
        return out


def last_layer_files(layout: Path, digest: str) -> dict[str, bytes]:
    """Files of the last layer of the image ``digest``."""
    manifest, _ = manifest_and_config(layout, digest)
    return layer_files(blob(layout, manifest["layers"][-1]["digest"]))


# --------------------------------------------------------------------------------------------
# The generator and the committed layout


def test_generator_twice_gives_identical_layouts(tmp_path: Path) -> None:
    assert gen.main([str(tmp_path / "a")]) == 0
    assert gen.main([str(tmp_path / "b")]) == 0
    first, second = tree(tmp_path / "a"), tree(tmp_path / "b")
    assert len(first) == 2 + 268  # oci-layout, index.json and the blobs
    assert first == second


def test_committed_layout_matches_generator(tmp_path: Path) -> None:
    """Configs (which carry the diff IDs) are byte-identical; committed layers decompress to those diff IDs."""
    gen.main([str(tmp_path / "fresh")])
    committed, fresh = entries(SAMPLE), entries(tmp_path / "fresh")
    assert sorted(committed) == sorted(fresh)
    for tag, desc in committed.items():
        manifest, config = manifest_and_config(SAMPLE, desc["digest"])
        fresh_manifest, _ = manifest_and_config(tmp_path / "fresh", fresh[tag]["digest"])
        assert desc["mediaType"] == fresh[tag]["mediaType"] == manifest["mediaType"], tag
        assert manifest["config"] == fresh_manifest["config"], tag
        diff_ids = [
            "sha256:" + hashlib.sha256(gzip.decompress(blob(SAMPLE, layer["digest"]))).hexdigest()
            for layer in manifest["layers"]
        ]
        assert diff_ids == config["rootfs"]["diff_ids"], tag


def test_sample_shape() -> None:
    refs = entries(SAMPLE)
    size = sum(p.stat().st_size for p in (SAMPLE / "blobs" / "sha256").iterdir())
    assert size < 2_000_000
    assert len(refs) == 89
    operators = set()
    for tag, desc in refs.items():
        _, config = manifest_and_config(SAMPLE, desc["digest"])
        labels = config["config"]["Labels"]
        assert re.fullmatch(r"[0-9a-f]{40}", labels["io.openshift.build.commit.id"]), tag
        assert labels["io.openshift.build.source-location"].startswith("https://github.com/openshift/"), tag
        if labels.get("io.openshift.release.operator") == "true":
            operators.add(tag)
    assert operators == {op.tag for op in gen.OPERATORS}
    assert len(operators) == 40

    _, hyperkube = manifest_and_config(SAMPLE, refs["hyperkube"]["digest"])
    assert hyperkube["config"]["Labels"]["io.openshift.build.versions"] == "kubernetes=1.29.4"
    assert refs["hyperkube"]["mediaType"] == DOCKER_MANIFEST

    cvo_manifest, cvo_config = manifest_and_config(SAMPLE, refs["cluster-version-operator"]["digest"])
    assert cvo_manifest["mediaType"] == DOCKER_MANIFEST
    assert "io.openshift.release.operator" not in cvo_config["config"]["Labels"]
    cvo_files = last_layer_files(SAMPLE, refs["cluster-version-operator"]["digest"])
    assert sorted(n for n in cvo_files if n.startswith("manifests/")) == [
        "manifests/0000_00_cluster-version-operator_00_namespace.yaml",
        "manifests/0000_00_cluster-version-operator_03_deployment.yaml",
    ]
    must_gather = last_layer_files(SAMPLE, refs["must-gather"]["digest"])
    assert "manifests/README.md" in must_gather


def test_operator_manifests_are_kubernetes_objects_with_resolvable_references() -> None:
    refs = entries(SAMPLE)
    placeholders_total = 0
    for op in gen.OPERATORS:
        files = last_layer_files(SAMPLE, refs[op.tag]["digest"])
        manifests = {n.removeprefix("manifests/"): d for n, d in files.items() if n.startswith("manifests/")}
        kinds = set()
        for name, data in manifests.items():
            if name == "image-references":
                continue
            for doc in yaml.safe_load_all(data):
                assert doc["kind"] and doc["apiVersion"], f"{op.tag}/{name}"
                kinds.add(doc["kind"])
        if not op.deployment:
            assert kinds == {"ConfigMap"}
            assert "image-references" not in manifests
            continue
        assert {"Namespace", "CustomResourceDefinition", "Deployment", "ServiceAccount"} <= kinds, op.tag
        assert ("ClusterOperator" in kinds) == (op.cluster_operator is not None), op.tag
        stream = yaml.safe_load(manifests["image-references"])
        assert stream["kind"] == "ImageStream" and stream["apiVersion"] == "image.openshift.io/v1"
        named = [t["name"] for t in stream["spec"]["tags"]]
        assert named[0] == op.tag and set(named) <= set(refs), op.tag
        text = b"".join(manifests.values()).decode()
        for tag in named:
            assert f" quay.io/okd/scos-content:{tag}\n" in text, (op.tag, tag)
            placeholders_total += 1
        assert '"0.0.1-snapshot"' in text
        assert ('"0.0.1-snapshot-kubernetes"' in text) == op.kube_version == ("hyperkube" in named), op.tag
    assert placeholders_total > 100


def test_sample_oci_entries_are_readable_by_skopeo() -> None:
    out = subprocess.run(
        ["skopeo", "inspect", f"oci:{SAMPLE}:cluster-dns-operator"],
        capture_output=True,
        text=True,
        check=True,
    )
    inspected = json.loads(out.stdout)
    assert inspected["Digest"] == entries(SAMPLE)["cluster-dns-operator"]["digest"]
    assert inspected["Labels"]["io.openshift.release.operator"] == "true"


# --------------------------------------------------------------------------------------------
# The README's first command: a release from the sample, layout in, layout out


def readme_args(to_image: str) -> list[str]:
    """The README's first command (read from README.md, so the two cannot drift) with another destination."""
    readme = (ROOT / "README.md").read_text()
    match = re.search(r"^pip install \. && okdrelease (new .*)$", readme, re.M)
    assert match, "README.md lost its first command"
    args = match[1].split()
    args[args.index("--to-image") + 1] = to_image
    return args


def run_readme(to_image: str, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[str, str]:
    """Run the README command (plus ``extra`` flags) from the repository root; return (digest, stderr)."""
    assert cli.main([*readme_args(to_image), *extra]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert len(lines) == 1, captured.out
    match = re.fullmatch(rf"(sha256:[0-9a-f]{{64}}) {re.escape(NAME)} {CREATED}", lines[0])
    assert match, lines[0]
    return match[1], captured.err


def expected_payload_names() -> set[str]:
    """The release-manifests/ names the sample's operators produce (oc's renaming rule)."""
    names = {"release-manifests/image-references", "release-manifests/release-metadata"}
    for i, op in enumerate(gen.OPERATORS):
        for name in gen.operator_files(op, i):
            if name == "image-references":
                continue
            final = name if name.startswith("0000_") else f"0000_50_{op.tag}_{name}"
            names.add(f"release-manifests/{final}")
    return names


def test_readme_command_assembles_a_stable_release(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(ROOT)
    first, stderr = run_readme(f"oci:{tmp_path / 'one'}:{NAME}", capsys)
    second, _ = run_readme(f"oci:{tmp_path / 'two'}:{NAME}", capsys)
    assert first == second
    kept = len(gen.expected_release_tags())
    assert f"info: Included {kept} images from 40 input operators into the release" in stderr

    out = tmp_path / "one"
    release = entries(out)
    assert list(release) == [NAME]
    assert release[NAME]["digest"] == first
    manifest, config = manifest_and_config(out, first)
    assert manifest["mediaType"] == OCI_MANIFEST  # an OCI layout gets OCI media types by default
    sample = entries(SAMPLE)
    cvo_manifest, _ = manifest_and_config(SAMPLE, sample["cluster-version-operator"]["digest"])
    assert [layer["digest"] for layer in manifest["layers"][:-1]] == [
        layer["digest"] for layer in cvo_manifest["layers"]
    ]
    assert config["config"]["Labels"] == {
        "io.openshift.release": NAME,
        "io.openshift.release.base-image-digest": sample["cluster-version-operator"]["digest"],
    }
    assert config["created"] == CREATED

    files = layer_files(blob(out, manifest["layers"][-1]["digest"]))
    assert set(files) == expected_payload_names()
    stream = json.loads(files["release-manifests/image-references"])
    assert stream["metadata"]["name"] == NAME
    assert stream["metadata"]["creationTimestamp"] == CREATED
    tags = {t["name"]: t["from"]["name"] for t in stream["spec"]["tags"]}
    assert sorted(tags) == gen.expected_release_tags()
    for tag, pullspec in tags.items():
        assert pullspec == f"quay.io/okd/scos-content@{sample[tag]['digest']}", (tag, pullspec)
    metadata = json.loads(files["release-manifests/release-metadata"])
    assert metadata["kind"] == "cincinnati-metadata-v0" and metadata["version"] == NAME

    text = {name: data.decode() for name, data in files.items()}
    # Every placeholder was rewritten: no version placeholder and no tag reference is left.
    assert not [n for n, t in text.items() if "0.0.1-snapshot" in t or "quay.io/okd/scos-content:" in t]
    kas = text["release-manifests/0000_20_cluster-kube-apiserver-operator_07_clusteroperator.yaml"]
    assert f'version: "{NAME}"' in kas and 'version: "1.29.4"' in kas
    dns = text["release-manifests/0000_70_cluster-dns-operator_05_deployment.yaml"]
    assert f"image: {tags['cluster-dns-operator']}\n" in dns
    assert f"value: {tags['coredns']}\n" in dns
    assert "release-manifests/0000_50_cluster-samples-operator_00_namespace.yaml" in files


def test_release_from_layout_copied_to_registry_equals_direct_push_and_skopeo_reads_it(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    registry_http: RegistryInfo,
    unique_repo: Any,
) -> None:
    """A layout written in the registry's format (``--format v2s2``), copied to a registry, is the direct push."""
    monkeypatch.chdir(ROOT)
    in_layout, _ = run_readme(f"oci:{tmp_path / 'release'}:{NAME}", capsys, "--format", "v2s2")
    copied = f"{registry_http.host}/{unique_repo('sample')}:{NAME}"
    assert cli.main(["copy", "--dest-tls-verify=false", f"oci:{tmp_path / 'release'}:{NAME}", copied]) == 0
    capsys.readouterr()
    direct_repo = f"{registry_http.host}/{unique_repo('sample')}"
    direct, _ = run_readme(f"{direct_repo}:{NAME}", capsys, "--insecure")
    assert direct == in_layout
    for ref in (copied, f"{direct_repo}:{NAME}"):
        out = subprocess.run(
            ["skopeo", "inspect", "--tls-verify=false", f"docker://{ref}"],
            capture_output=True,
            text=True,
            check=True,
        )
        inspected = json.loads(out.stdout)
        assert inspected["Digest"] == in_layout
        assert inspected["Labels"]["io.openshift.release"] == NAME
