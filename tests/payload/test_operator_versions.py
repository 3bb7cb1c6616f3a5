"""An operator's version placeholders are read from the release tags that name component versions,
picked once per payload (operators.versioned_tags); the payload is what reading every tag gives."""

from __future__ import annotations

import io
import json
import tarfile

import pytest

from okdrelease.errors import ReleaseError
from okdrelease.openshift.imagestream import ImageStream, TagReference
from okdrelease.openshift.metadata import CincinnatiMetadata
from okdrelease.payload.context import Reporter
from okdrelease.payload.operators import Operators, assemble_payload, operator_references, versioned_tags
from okdrelease.payload.plan import NewOptions, make_plan, parse_created
from okdrelease.payload.resolve import ManifestFile

VERSIONS = "io.openshift.build.versions"
DIGEST = "@sha256:" + "1" * 64


def _refs(*names: str) -> bytes:
    tags = [{"name": n, "from": {"kind": "DockerImage", "name": f"quay.io/src/{n}:v"}} for n in names]
    return json.dumps(
        {"kind": "ImageStream", "apiVersion": "image.openshift.io/v1", "spec": {"tags": tags}}
    ).encode()


def _stream(annotations: dict[str, dict[str, str] | None]) -> ImageStream:
    stream = ImageStream(name="4.16.0-0.okd-2024-05-01-000000", annotations={})
    stream.tags = []
    for name, tag_annotations in annotations.items():
        tag = TagReference.docker_image(name, f"quay.io/okd/content{DIGEST}")
        tag.annotations = tag_annotations
        stream.tags.append(tag)
    return stream


def _payload(stream: ImageStream, files: dict[str, tuple[ManifestFile, ...]]) -> dict[str, bytes]:
    operators = Operators(files=files, ordered=tuple(sorted(files)), references=operator_references(files))
    plan = make_plan(NewOptions(mappings=("a=b",), created=parse_created("2024-05-01T00:00:00Z")))
    payload = assemble_payload(stream, CincinnatiMetadata(stream.name), operators, plan, Reporter())
    assert payload.tar is not None
    with tarfile.open(fileobj=io.BytesIO(payload.tar)) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]


def test_versioned_tags_are_those_naming_component_versions() -> None:
    tags = [
        ("a", "x", None),
        ("b", "x", {}),
        ("c", "x", {"other": "1"}),
        ("d", "x", {VERSIONS: "kubernetes=1.29.1"}),
        ("e", "x", {VERSIONS: "", "other": "2"}),
    ]
    assert versioned_tags(tags) == [tags[3], tags[4]]


def test_placeholders_take_the_versions_of_the_referenced_tags_only() -> None:
    stream = _stream(
        {
            "plain": {"io.openshift.build.commit.id": "abc"},
            "hyperkube": {VERSIONS: "kubernetes=1.29.1"},
            "other": {VERSIONS: "kubernetes=1.30.0"},  # not referenced by the operator: not read
            "bare": None,
        }
    )
    manifest = (
        b"apiVersion: v1\nkind: ConfigMap\ndata:\n  k: 0.0.1-snapshot-kubernetes\n  r: 0.0.1-snapshot\n"
    )
    files = {
        "op": (
            ManifestFile("a.yaml", manifest, 0.0),
            ManifestFile("image-references", _refs("plain", "hyperkube"), 0.0),
        )
    }
    members = _payload(stream, files)
    assert members["release-manifests/0000_50_op_a.yaml"] == (
        b"apiVersion: v1\nkind: ConfigMap\ndata:\n  k: 1.29.1\n  r: 4.16.0-0.okd-2024-05-01-000000\n"
    )


def test_two_referenced_tags_disagreeing_on_a_version_are_refused() -> None:
    stream = _stream(
        {"plain": None, "one": {VERSIONS: "kubernetes=1.29.1"}, "two": {VERSIONS: "kubernetes=1.30.0"}}
    )
    files = {
        "op": (
            ManifestFile("a.yaml", b"kind: A\n", 0.0),
            ManifestFile("image-references", _refs("plain", "one", "two"), 0.0),
        )
    }
    with pytest.raises(ReleaseError) as info:
        _payload(stream, files)
    assert str(info.value) == (
        'unable to create a release: operator "op" contained an invalid image-references file: input image '
        "stream has multiple versions defined for version kubernetes: two defines 1.30.0 but was already set "
        "to 1.29.1 on one"
    )
