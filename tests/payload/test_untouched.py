"""Operator files no transform touches (``ManifestFile.untouched``): decided once from the operator's own
image-references, then not rewritten; the payload is the same bytes as rewriting every file."""

from __future__ import annotations

import io
import json
import tarfile

import pytest

from okdrelease.errors import ReleaseError
from okdrelease.openshift.imagestream import ImageStream, TagReference
from okdrelease.openshift.metadata import CincinnatiMetadata
from okdrelease.payload.context import Reporter
from okdrelease.payload.mapper import build_operator_transform
from okdrelease.payload.operators import Operators, assemble_payload, operator_references
from okdrelease.payload.plan import NewOptions, make_plan, parse_created
from okdrelease.payload.resolve import ManifestFile, known_references, untouched_flags

SOURCE = "quay.io/openshift/origin-cli:v4.0"
REFS = json.dumps(
    {
        "kind": "ImageStream",
        "apiVersion": "image.openshift.io/v1",
        "spec": {"tags": [{"name": "cli", "from": {"kind": "DockerImage", "name": SOURCE}}]},
    }
).encode()
NAMES_SOURCE = f"apiVersion: v1\nkind: Pod\nspec:\n  image: {SOURCE}\n".encode()
PLACEHOLDER = b"apiVersion: v1\nkind: ConfigMap\ndata:\n  version: 0.0.1-snapshot\n"
PLAIN = b"apiVersion: v1\nkind: ConfigMap\ndata:\n  a: b\n"


def test_a_file_is_untouched_when_it_names_no_source_and_holds_no_placeholder() -> None:
    files = [("a.yaml", NAMES_SOURCE), ("b.yaml", PLACEHOLDER), ("c.yaml", PLAIN), ("image-references", REFS)]
    references = known_references(files)
    assert references == (("cli", "DockerImage", SOURCE),)
    assert untouched_flags(files, references) == (False, False, True, False)  # it names its sources
    # Without image-references only the placeholder counts; one that does not load: nothing is untouched.
    assert known_references(files[:3]) is None
    assert untouched_flags(files[:3], None) == (True, False, True)
    unloadable = [*files[:3], ("image-references", b"{not json")]
    assert known_references(unloadable) is None
    assert untouched_flags(unloadable, None) == (False, False, False, False)


def test_every_transform_returns_an_untouched_file_as_it_is() -> None:
    files = [("a.yaml", NAMES_SOURCE), ("b.yaml", PLACEHOLDER), ("c.yaml", PLAIN)]
    flags = untouched_flags([*files, ("image-references", REFS)], (("cli", "DockerImage", SOURCE),))
    for release in ("4.16.0-0.okd-2024-05-01-000000", "not-semver"):
        for target in ("quay.io/okd/scos-content@sha256:" + "1" * 64, "example.com/cli:x"):
            transform = build_operator_transform(
                [("cli", "DockerImage", SOURCE)], [("cli", target, None)], None, release, False, print
            )
            for (_name, data), untouched in zip(files, flags, strict=False):
                assert (transform(data) == data) if untouched else True
            assert transform(NAMES_SOURCE) != NAMES_SOURCE


def _payload_members(files: dict[str, tuple[ManifestFile, ...]]) -> dict[str, bytes]:
    stream = ImageStream(name="4.16.0-0.okd-2024-05-01-000000", annotations={})
    stream.tags = [TagReference.docker_image("cli", "quay.io/okd/scos-content@sha256:" + "1" * 64)]
    operators = Operators(files=files, ordered=tuple(sorted(files)), references=operator_references(files))
    plan = make_plan(NewOptions(mappings=("a=b",), created=parse_created("2024-05-01T00:00:00Z")))
    payload = assemble_payload(stream, CincinnatiMetadata(stream.name), operators, plan, Reporter())
    with tarfile.open(fileobj=io.BytesIO(payload.tar)) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]


def test_an_untouched_file_is_decided_per_operator() -> None:
    """The same bytes object in two operators (images sharing layers): untouched where its operator's
    image-references names no source in it, rewritten where the other operator's does."""
    shared = NAMES_SOURCE
    without_refs = (ManifestFile("a.yaml", shared, 0.0, untouched=True),)
    with_refs = (ManifestFile("a.yaml", shared, 0.0), ManifestFile("image-references", REFS, 0.0))
    members = _payload_members({"op-plain": without_refs, "op-refs": with_refs})
    rewritten = shared.replace(SOURCE.encode(), b"quay.io/okd/scos-content@sha256:" + b"1" * 64)
    assert {name: data for name, data in members.items() if name.endswith("a.yaml")} == {
        "release-manifests/0000_50_op-plain_a.yaml": shared,
        "release-manifests/0000_50_op-refs_a.yaml": rewritten,
    }


def test_image_references_read_with_the_files_are_not_read_again() -> None:
    """collect_operators takes the tags read with an operator's files (or recorded with them); an
    operator without them has its image-references loaded there, a bad one worded as oc words it."""
    known = {"op-a": (("cli", "DockerImage", SOURCE),)}
    files = {
        "op-a": (ManifestFile("image-references", b"not read again", 0.0),),
        "op-b": (ManifestFile("image-references", REFS, 0.0),),
    }
    assert operator_references(files, known) == {"op-a": known["op-a"], "op-b": known["op-a"]}
    files["op-c"] = (ManifestFile("image-references", b"{not json", 0.0),)
    with pytest.raises(ReleaseError, match='^operator "op-c" contained an invalid image-references file: '):
        operator_references(files, known)
