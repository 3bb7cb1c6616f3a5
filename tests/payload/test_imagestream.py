"""Tests for the ImageStream model, its Go encoding, decoding, reference-mode resolution and mappings."""

from __future__ import annotations

import json
from pathlib import Path

import attrs
import pytest

from okdrelease.errors import ReleaseError
from okdrelease.gocompat.gojson import GoJSONError
from okdrelease.openshift.imagestream import (
    ImageStream,
    NamedTagEventList,
    ObjectReference,
    TagEvent,
    TagEventCondition,
    TagImportPolicy,
    TagReference,
    format_time,
    load_image_stream,
    parse_time,
    sort_tags,
    validate_kind,
)
from okdrelease.payload.inputs.imagestream import resolve_input_stream
from okdrelease.payload.inputs.mappings import apply_mappings
from okdrelease.payload.mappings import combine_mappings

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
GOLDEN = SHARED / "golden"
REGISTRY = "127.0.0.1:5000"
D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64


def _image_references() -> list[Path]:
    files = sorted(GOLDEN.glob("*/expected/release-manifests/image-references"))
    files += sorted((SHARED / "testdata-real" / "releases").glob("*/release-manifests/image-references"))
    return files


IMAGE_REFERENCES = _image_references()


def _case(name: str) -> dict:
    return json.loads((GOLDEN / name / "case.json").read_text())


def _substitute(data: bytes, case: dict) -> bytes:
    repo = f"{REGISTRY}/{case['input_repo']}".encode()
    return data.replace(b"{registry}/{repo}", repo).replace(b"{registry}", REGISTRY.encode())


def _error_line(case: str) -> str:
    return (GOLDEN / case / "stderr.txt").read_text().splitlines()[-1]


def test_image_references_found() -> None:
    assert len(IMAGE_REFERENCES) > 15
    assert any("testdata-real" in str(p) for p in IMAGE_REFERENCES)


@pytest.mark.parametrize("path", IMAGE_REFERENCES, ids=lambda p: str(p).split("shared/")[-1])
def test_round_trip_is_byte_exact(path: Path) -> None:
    data = path.read_bytes()
    stream = load_image_stream(data)
    validate_kind(stream)
    assert stream.to_json() == data
    assert load_image_stream(data, json_only=True).to_json() == data


def test_golden_17b_output_json() -> None:
    """01's input stream, source mode, name and time → exactly oc's ``-o json`` output."""
    case = _case("17b-output-json")
    source = load_image_stream(_substitute((GOLDEN / "01-realistic" / "imagestream.yaml").read_bytes(), case))
    validate_kind(source)
    tags, ordered = resolve_input_stream(source, "source", set())
    assert len(tags) == len(ordered) == len(source.tags)
    stream = ImageStream(name="4.15.0-0.okd-scos-2024-01-18-223523", annotations={})
    stream.creation_timestamp = case["created"]
    stream.tags = tags
    apply_mappings(stream, [], set(), ordered)
    sort_tags(stream)
    expected = _substitute((GOLDEN / "17b-output-json" / "stdout.txt").read_bytes(), case)
    assert stream.to_json() + b"\n" == expected


def test_golden_04_public_mode_and_exclude() -> None:
    case = _case("04-prune-include-exclude")
    source = load_image_stream(
        _substitute((GOLDEN / "04-prune-include-exclude" / "imagestream.yaml").read_bytes(), case)
    )
    tags, ordered = resolve_input_stream(source, "", {"cluster-machine-approver"})
    assert "cluster-machine-approver" not in ordered
    assert ordered == [t.name for t in source.tags if t.name != "cluster-machine-approver"]
    resolved = {t.name: t.from_name for t in tags}
    expected = json.loads(
        (GOLDEN / "04-prune-include-exclude" / "expected/release-manifests/image-references").read_bytes()
    )
    assert expected["spec"]["tags"]
    for tag in expected["spec"]["tags"]:
        assert resolved[tag["name"]] == tag["from"]["name"]
        assert tag["from"]["name"].startswith(f"{REGISTRY}/{case['input_repo']}@sha256:")


@pytest.mark.parametrize("case", ["06-overrides-by-tag", "18-mapping-file-untagged"])
def test_golden_mapping_application(case: str, tmp_path: Path) -> None:
    info = _case(case)
    args = info["oc_args"]
    files = []
    if "--mapping-file" in args:
        mapping_file = tmp_path / "mappings.txt"
        mapping_file.write_bytes(_substitute((GOLDEN / case / "mappings.txt").read_bytes(), info))
        files.append(str(mapping_file))
    positional = [_substitute(a.encode(), info).decode() for a in args if "=" in a and not a.startswith("-")]
    stream = ImageStream(name="x", annotations={})
    ordered: list[str] = []
    if "--from-image-stream-file" in args:
        source = load_image_stream(_substitute((GOLDEN / case / "imagestream.yaml").read_bytes(), info))
        stream.tags, ordered = resolve_input_stream(source, "source", set())
    apply_mappings(stream, combine_mappings(files, positional), set(), ordered)
    sort_tags(stream)
    expected = json.loads((GOLDEN / case / "expected/release-manifests/image-references").read_bytes())
    by_name = {t.name: t for t in stream.tags}
    for tag in expected["spec"]["tags"]:
        ours = by_name[tag["name"]]
        assert ours.from_name == tag["from"]["name"]
        overridden = (tag["annotations"] or {}).get("io.openshift.release.override")
        assert (ours.annotations or {}).get("io.openshift.release.override") == overridden


def test_reference_mode_errors_match_golden() -> None:
    source = ImageStream(public_docker_image_repository="quay.io/x/y")
    with pytest.raises(ReleaseError) as info:
        resolve_input_stream(source, "internal", set())
    assert _error_line("11f-reference-mode-invalid") == f"error: {info.value}"
    with pytest.raises(ReleaseError) as info:
        resolve_input_stream(ImageStream(), "public", set())
    assert _error_line("11g-public-mode-no-public-repo") == f"error: {info.value}"
    with pytest.raises(ReleaseError):
        resolve_input_stream(ImageStream(), "", set())
    assert resolve_input_stream(ImageStream(), "source", set()) == ([], [])


def _events(
    tag: str, *items: TagEvent, conditions: list[TagEventCondition] | None = None
) -> NamedTagEventList:
    return NamedTagEventList(tag=tag, items=list(items), conditions=conditions or [])


def test_resolution_passes() -> None:
    source = ImageStream(
        status_docker_image_repository="image-registry.svc:5000/ocp/release",
        public_docker_image_repository="quay.io/pub/release",
        tags=[
            TagReference(
                name="by-digest",
                annotations={"a": "b"},
                from_=ObjectReference(kind="DockerImage", name=f"quay.io/src/one@{D1}", namespace="ns"),
                generation=None,
                import_policy=TagImportPolicy(scheduled=True),
                reference_policy_type="Source",
            ),
            TagReference(
                name="by-tag", from_=ObjectReference(kind="DockerImage", name="quay.io/src/two:latest")
            ),
            TagReference(name="istag", from_=ObjectReference(kind="ImageStreamTag", name="other:tag")),
            TagReference(
                name="excluded", from_=ObjectReference(kind="DockerImage", name=f"quay.io/x/y@{D1}")
            ),
            TagReference(
                name="old-gen", generation=1, from_=ObjectReference(kind="DockerImage", name="q.io/a/b:1")
            ),
            TagReference(name="tag-no-status", from_=ObjectReference(kind="DockerImage", name="q.io/a/b:1")),
        ],
        status_tags=[
            _events("by-tag", TagEvent(docker_image_reference="quay.io/src/two:latest", image=D2)),
            _events(
                "istag",
                TagEvent(docker_image_reference=f"image-registry.svc:5000/ocp/release@{D1}", image=D1),
            ),
            _events("old-gen", TagEvent(docker_image_reference="q.io/a/b:old", image=D2, generation=2)),
            _events("status-only", TagEvent(docker_image_reference="registry.io/ns/name:tag", image=D2)),
            _events("no-image", TagEvent(docker_image_reference="registry.io/ns/name:tag", image="")),
            _events("no-items"),
            _events("excluded", TagEvent(docker_image_reference="registry.io/ns/name:tag", image=D2)),
        ],
    )
    tags, ordered = resolve_input_stream(source, "source", {"excluded"})
    assert ordered == ["by-digest", "by-tag", "istag", "old-gen", "status-only"]
    got = {t.name: t for t in tags}
    # pass 1, digest: deep copy keeps the tag's fields, "from" is replaced (namespace dropped)
    assert got["by-digest"].from_ == ObjectReference(kind="DockerImage", name=f"quay.io/src/one@{D1}")
    assert got["by-digest"].annotations == {"a": "b"}
    assert got["by-digest"].import_policy == TagImportPolicy(scheduled=True)
    assert got["by-digest"].reference_policy_type == "Source"
    assert source.tags[0].from_ is not None and source.tags[0].from_.namespace == "ns"
    assert got["by-digest"].annotations is not source.tags[0].annotations
    # pass 1, tag: status item's reference (source mode keeps an external source)
    assert got["by-tag"].from_name == "quay.io/src/two:latest"
    # pass 2: internal registry source → public repository @ image (Q35)
    assert got["istag"].from_name == f"quay.io/pub/release@{D1}"
    assert got["istag"].to_go() == {
        "name": "istag",
        "annotations": None,
        "from": {"kind": "DockerImage", "name": f"quay.io/pub/release@{D1}"},
        "generation": None,
        "importPolicy": {},
        "referencePolicy": {"type": ""},
    }
    # spec generation <= status generation: the status tag wins (pass 2, tag dropped, digest set)
    assert got["old-gen"].from_name == f"q.io/a/b@{D2}"
    assert got["old-gen"].generation is None
    assert got["status-only"].from_name == f"registry.io/ns/name@{D2}"

    public_tags, _ = resolve_input_stream(source, "public", {"excluded"})
    assert {t.name: t.from_name for t in public_tags} == {
        "by-digest": f"quay.io/pub/release@{D1}",
        "by-tag": f"quay.io/pub/release@{D2}",
        "istag": f"quay.io/pub/release@{D1}",
        "old-gen": f"quay.io/pub/release@{D2}",
        "status-only": f"quay.io/pub/release@{D2}",
    }


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            ImageStream(
                tags=[
                    TagReference(
                        name="t", generation=5, from_=ObjectReference(kind="DockerImage", name="a/b:1")
                    )
                ],
                status_tags=[_events("t", TagEvent(image=D1, docker_image_reference="a/b:1", generation=4))],
            ),
            'the tag "t" in the source input stream has not been imported yet',
        ),
        (
            ImageStream(
                tags=[TagReference(name="t", from_=ObjectReference(kind="DockerImage", name="a/b:1"))],
                status_tags=[
                    _events("t", conditions=[TagEventCondition(type="ImportSuccess", status="True")])
                ],
            ),
            'the tag "t" in the source input stream has not been imported yet',  # Q28
        ),
        (
            ImageStream(
                status_tags=[
                    _events("s", conditions=[TagEventCondition(type="ImportSuccess", status="False")])
                ]
            ),
            'the tag "s" in the source input stream has not been imported yet',
        ),
        (
            ImageStream(
                tags=[TagReference(name="t", from_=ObjectReference(kind="DockerImage", name="a/b:1"))],
                status_tags=[_events("t", TagEvent(image="", docker_image_reference="a/b:1"))],
            ),
            'the tag "t" in the source input stream has no image id',
        ),
        (
            ImageStream(
                status_tags=[_events("s", TagEvent(image=D1, docker_image_reference="Not/Valid Ref"))]
            ),
            'the tag "s" points to source "Not/Valid Ref" which is not valid: invalid reference format',
        ),
        (
            ImageStream(
                tags=[TagReference(name="t", from_=ObjectReference(kind="DockerImage", name="a/UPPER:1"))]
            ),
            'the tag "t" points to source "a/UPPER:1" which is not valid: repository name must be lowercase',
        ),
        (
            ImageStream(
                tags=[
                    TagReference(
                        name="t", from_=ObjectReference(kind="DockerImage", name="a/b@sha256:" + "0" * 40)
                    )
                ]
            ),
            f'the tag "t" points to source "a/b@sha256:{"0" * 40}" which is not valid: invalid checksum digest length',
        ),
        (
            ImageStream(
                tags=[
                    TagReference(
                        name="t", from_=ObjectReference(kind="DockerImage", name="a/b@md5:" + "0" * 32)
                    )
                ]
            ),
            f'the tag "t" points to source "a/b@md5:{"0" * 32}" which is not valid: unsupported digest algorithm',
        ),
        (
            ImageStream(
                tags=[
                    TagReference(
                        name="t", from_=ObjectReference(kind="DockerImage", name="a/b@sha256:" + "A" * 64)
                    )
                ]
            ),
            f'the tag "t" points to source "a/b@sha256:{"A" * 64}" which is not valid: invalid checksum digest format',
        ),
        (
            ImageStream(tags=[TagReference(name="t", from_=ObjectReference(kind="DockerImage", name=""))]),
            'the tag "t" points to source "" which is not valid: repository name must have at least one component',
        ),
        (
            ImageStream(tags=[TagReference(name="t", from_=ObjectReference(kind="DockerImage", name="a b"))]),
            'the tag "t" points to source "a b" which is not valid: invalid reference format',
        ),
    ],
)
def test_resolution_errors(source: ImageStream, message: str) -> None:
    with pytest.raises(ReleaseError) as info:
        resolve_input_stream(source, "source", set())
    assert str(info.value) == message


def test_resolution_skips() -> None:
    source = ImageStream(
        tags=[
            TagReference(name="ok-condition", from_=ObjectReference(kind="DockerImage", name="a/b:1")),
            TagReference(name="plain", from_=ObjectReference(kind="DockerImage", name="a/b")),
            TagReference(name="no-from"),
        ],
        status_tags=[
            _events("ok-condition", conditions=[TagEventCondition(type="ImportSuccess", status="Success")]),
            NamedTagEventList(tag="null-items", items=None),
        ],
    )
    assert resolve_input_stream(source, "source", set()) == ([], [])


def test_apply_mappings_and_sort() -> None:
    existing = TagReference(
        name="b",
        annotations={"keep": "no"},
        from_=ObjectReference(kind="DockerImage", name=f"q.io/a/b@{D1}"),
        generation=3,
        import_policy=TagImportPolicy(insecure=True),
        reference_policy_type="Local",
    )
    stream = ImageStream(name="n", tags=[TagReference.docker_image("c", "q.io/c"), existing])
    ordered = ["c", "b"]
    apply_mappings(
        stream,
        [("b", "q.io/new:tag"), ("a", f"q.io/a@{D2}"), ("x", "q.io/x"), ("b", "q.io/b2")],
        {"x"},
        ordered,
    )
    assert ordered == ["c", "b", "b", "a", "b"]
    sort_tags(stream)
    assert [t.name for t in stream.tags] == ["a", "b", "c"]
    b = stream.tags[1]
    assert b is existing
    assert b.annotations == {"io.openshift.release.override": "true"}
    assert b.from_ == ObjectReference(kind="DockerImage", name="q.io/b2")
    assert (b.generation, b.import_policy, b.reference_policy_type) == (
        3,
        TagImportPolicy(insecure=True),
        "Local",
    )
    assert stream.tags[0].to_go() == {
        "name": "a",
        "annotations": {"io.openshift.release.override": "true"},
        "from": {"kind": "DockerImage", "name": f"q.io/a@{D2}"},
        "generation": None,
        "importPolicy": {},
        "referencePolicy": {"type": ""},
    }


def test_sort_tags_is_bytewise() -> None:
    stream = ImageStream(tags=[TagReference(name=n) for n in ["b", "B", "a-b", "a", "a_b", "é"]])
    sort_tags(stream)
    assert [t.name for t in stream.tags] == ["B", "a", "a-b", "a_b", "b", "é"]


def test_tag_reference_helpers() -> None:
    tag = TagReference(name="t")
    assert tag.from_kind is None and tag.from_name == ""
    tag.from_name = "q.io/x@" + D1
    assert tag.from_ == ObjectReference(kind="DockerImage", name="q.io/x@" + D1)
    assert tag.from_kind == "DockerImage"
    docker = TagReference.docker_image("u", "q.io/u")
    assert docker.to_go()["from"] == {"kind": "DockerImage", "name": "q.io/u"}


def test_full_encoding_field_order_and_emptiness() -> None:
    stream = ImageStream(
        name="4.1.0",
        namespace="ns",
        creation_timestamp="2024-05-01T11:11:11Z",
        labels={"z": "1", "a": "2"},
        annotations={"b": "<&>", "a": ""},
        lookup_policy_local=True,
        docker_image_repository="reg/ns/is",
        tags=[
            TagReference(
                name="t",
                annotations={},
                from_=ObjectReference(
                    kind="DockerImage",
                    namespace="n",
                    name="x",
                    uid="u",
                    api_version="v",
                    resource_version="r",
                    field_path="f",
                ),
                reference=True,
                generation=0,
                import_policy=TagImportPolicy(insecure=True, scheduled=True, import_mode="Legacy"),
                reference_policy_type="Source",
            )
        ],
        status_docker_image_repository="",
        public_docker_image_repository="pub/ns/is",
        status_tags=[
            NamedTagEventList(
                tag="t",
                items=[
                    TagEvent(
                        created="2024-01-01T00:00:00Z", docker_image_reference="r", image=D1, generation=2
                    )
                ],
                conditions=[
                    TagEventCondition(
                        type="ImportSuccess", status="False", reason="R", message="M", generation=1
                    )
                ],
            ),
            NamedTagEventList(tag="empty", items=[]),
            NamedTagEventList(tag="nil"),
        ],
        extra_metadata={"uid": "abc", "generation": 4, "resourceVersion": "7"},
    )
    assert stream.to_go() == {
        "kind": "ImageStream",
        "apiVersion": "image.openshift.io/v1",
        "metadata": {
            "name": "4.1.0",
            "namespace": "ns",
            "uid": "abc",
            "resourceVersion": "7",
            "generation": 4,
            "creationTimestamp": "2024-05-01T11:11:11Z",
            "labels": {"a": "2", "z": "1"},
            "annotations": {"a": "", "b": "<&>"},
        },
        "spec": {
            "lookupPolicy": {"local": True},
            "dockerImageRepository": "reg/ns/is",
            "tags": [
                {
                    "name": "t",
                    "annotations": {},
                    "from": {
                        "kind": "DockerImage",
                        "namespace": "n",
                        "name": "x",
                        "uid": "u",
                        "apiVersion": "v",
                        "resourceVersion": "r",
                        "fieldPath": "f",
                    },
                    "reference": True,
                    "generation": 0,
                    "importPolicy": {"insecure": True, "scheduled": True, "importMode": "Legacy"},
                    "referencePolicy": {"type": "Source"},
                }
            ],
        },
        "status": {
            "dockerImageRepository": "",
            "publicDockerImageRepository": "pub/ns/is",
            "tags": [
                {
                    "tag": "t",
                    "items": [
                        {
                            "created": "2024-01-01T00:00:00Z",
                            "dockerImageReference": "r",
                            "image": D1,
                            "generation": 2,
                        }
                    ],
                    "conditions": [
                        {
                            "type": "ImportSuccess",
                            "status": "False",
                            "lastTransitionTime": None,
                            "reason": "R",
                            "message": "M",
                            "generation": 1,
                        }
                    ],
                },
                {"tag": "empty", "items": []},
                {"tag": "nil", "items": None},
            ],
        },
    }
    data = stream.to_json()
    assert b'"b": "\\u003c\\u0026\\u003e"' in data
    # what we write, we read back identically
    assert load_image_stream(data, json_only=True).to_json() == data
    assert load_image_stream(data).to_go() == stream.to_go()


def test_empty_stream_encoding() -> None:
    assert ImageStream().to_json() == (
        b'{\n  "kind": "ImageStream",\n  "apiVersion": "image.openshift.io/v1",\n  "metadata": {},\n'
        b'  "spec": {\n    "lookupPolicy": {\n      "local": false\n    }\n  },\n'
        b'  "status": {\n    "dockerImageRepository": ""\n  }\n}'
    )


def test_load_yaml_go_semantics() -> None:
    data = b"""
apiVersion: image.openshift.io/v1
Kind: ImageStream
metadata:
  name: 4.15
  creationTimestamp: 2024-05-01T13:11:11+02:00
  unknownField: dropped
  annotations:
    int: 0000000000000000000000000000000000000000
    bool: yes
    float: 1234567.0
spec:
  lookupPolicy: {local: true}
  tags:
  - name: a
    FROM: {kind: DockerImage, name: q.io/a}
    generation: 7
    reference: true
status:
  dockerImageRepository: ""
  tags:
  - tag: a
    items:
    - created: 2024-01-02T03:04:05.999Z
      image: sha256:abc
---
this: is ignored
"""
    stream = load_image_stream(data)
    assert stream.kind == "ImageStream"  # matched case-insensitively, like Go
    assert stream.name == "4.15"
    assert stream.creation_timestamp == "2024-05-01T11:11:11Z"
    assert stream.annotations == {"int": "0", "bool": "true", "float": "1.234567e+06"}
    assert stream.lookup_policy_local is True
    assert stream.tags[0].from_ == ObjectReference(kind="DockerImage", name="q.io/a")
    assert (stream.tags[0].generation, stream.tags[0].reference) == (7, True)
    assert stream.status_tags[0].items == [TagEvent(created="2024-01-02T03:04:05Z", image="sha256:abc")]
    assert "unknownField" not in stream.to_json().decode()


@pytest.mark.parametrize(
    ("data", "json_only", "message"),
    [
        (
            b"metadata:\n  name: [a]\n",
            False,
            "error unmarshaling JSON: json: cannot unmarshal array into Go struct field .metadata.name of type string",
        ),
        (
            b'{"spec": {"tags": [{"generation": 1.5}]}}',
            True,
            "json: cannot unmarshal number 1.5 into Go struct field TagReference.spec.tags.generation of type int64",
        ),
        (
            b'{"spec": {"tags": {}}}',
            True,
            "json: cannot unmarshal object into Go struct field ImageStreamSpec.spec.tags of type []v1.TagReference",
        ),
        (
            b'{"spec": {"tags": ["x"]}}',
            True,
            "json: cannot unmarshal string into Go struct field ImageStreamSpec.spec.tags of type v1.TagReference",
        ),
        (
            b'{"spec": {"lookupPolicy": {"local": "yes"}}}',
            True,
            "json: cannot unmarshal string into Go struct field ImageLookupPolicy.spec.lookupPolicy.local of type bool",
        ),
        (
            b'{"metadata": {"annotations": {"a": 1}}}',
            True,
            "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.annotations of type string",
        ),
        (
            b'{"metadata": {"creationTimestamp": 1}}',
            True,
            "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.creationTimestamp of type string",
        ),
        (
            b'{"metadata": {"creationTimestamp": "yesterday"}}',
            True,
            'parsing time "yesterday" as "2006-01-02T15:04:05Z07:00": cannot parse "yesterday" as "2006"',
        ),
        (b"[1]", True, "json: cannot unmarshal array into Go value of type v1.ImageStream"),
        (
            b"- a\n",
            False,
            "error unmarshaling JSON: json: cannot unmarshal array into Go value of type v1.ImageStream",
        ),
        (b"", True, "unexpected end of JSON input"),
        (b"kind: ImageStream\n", True, "invalid character 'k' looking for beginning of value"),
        (
            b'{"kind": "ImageStream",}',
            True,
            "invalid character '}' looking for beginning of object key string",
        ),
        (
            b"a: [b\n",
            False,
            "error converting YAML to JSON: yaml: line 1: did not find expected ',' or ']'",
        ),
    ],
)
def test_load_errors(data: bytes, json_only: bool, message: str) -> None:
    with pytest.raises(GoJSONError) as info:
        load_image_stream(data, json_only=json_only)
    assert str(info.value) == message


def test_load_lenient_inputs() -> None:
    # JSON with a trailing comma is not JSON, but it is YAML
    stream = load_image_stream(b'{"kind": "ImageStream", "apiVersion": "image.openshift.io/v1",}')
    validate_kind(stream)
    assert load_image_stream(b"").kind == ""
    assert load_image_stream(b"null").tags == []


@pytest.mark.parametrize(
    "stream",
    [
        ImageStream(kind="ImageStreamList"),
        ImageStream(api_version="v1"),
        ImageStream(kind="", api_version=""),
    ],
)
def test_validate_kind(stream: ImageStream) -> None:
    with pytest.raises(ReleaseError, match=r"^invalid kind/apiVersion$"):
        validate_kind(stream)


def test_validate_kind_raw_mapping() -> None:
    validate_kind({"kind": "ImageStream", "apiVersion": "image.openshift.io/v1"})
    with pytest.raises(ReleaseError, match=r"^invalid kind/apiVersion$"):
        validate_kind({"kind": "ImageStream"})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-01T11:11:11Z", "2024-05-01T11:11:11Z"),
        ("2024-05-01T11:11:11.999999999Z", "2024-05-01T11:11:11Z"),
        ("2024-05-01T01:11:11-10:30", "2024-05-01T11:41:11Z"),
        ("2024-01-01T00:30:00+01:00", "2023-12-31T23:30:00Z"),
    ],
)
def test_parse_time(text: str, expected: str) -> None:
    assert parse_time(text) == expected


@pytest.mark.parametrize("text", ["2024-05-01 11:11:11Z", "2024-05-01T11:11:11", "2024-13-01T11:11:11Z", ""])
def test_parse_time_errors(text: str) -> None:
    with pytest.raises(GoJSONError):
        parse_time(text)


def test_format_time() -> None:
    import datetime as dt

    moment = dt.datetime(2024, 5, 1, 13, 11, 11, 500000, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert format_time(moment) == "2024-05-01T11:11:11Z"


def test_copies_keep_every_field_and_share_nothing_mutable() -> None:
    import copy

    source = ObjectReference(*(f"v{i}" for i in range(7)))
    policy = TagImportPolicy(True, True, "PreserveOriginal")
    assert len(attrs.fields(ObjectReference)) == 7 and len(attrs.fields(TagImportPolicy)) == 3
    assert source.copy() == source and source.copy() is not source
    assert policy.copy() == policy and policy.copy() is not policy
    tag = TagReference(name="a", annotations={"k": "v"}, from_=source, generation=3, import_policy=policy)
    stream = ImageStream(
        name="s", annotations={"a": "b"}, labels={"l": "m"}, tags=[tag], extra_metadata={"uid": "u"}
    )
    copied = stream.copy()
    assert copied == copy.deepcopy(stream)
    assert copied.tags[0] is not tag and copied.tags[0].from_ is not source
    assert copied.annotations is not stream.annotations and copied.labels is not stream.labels


#: JSON image-references whose annotation value ``ESC`` is replaced by the escape under test.
_ESCAPED_JSON = (
    b'{"kind": "ImageStream", "apiVersion": "image.openshift.io/v1",\n'
    b' "spec": {"tags": [{"name": "op", "annotations": {"a": "ESC"}}]}}'
)
_REFUSED = "error converting YAML to JSON: yaml: {}found invalid Unicode character escape code"


@pytest.mark.parametrize(
    ("escape", "where"),
    [
        (rb"\ud800", "line 2: "),
        (rb"\udfff", "line 2: "),
        (rb"\ud83d\ude00", "line 2: "),  # a valid pair: go-yaml refuses it too
        (rb"\\\ud800", "line 2: "),  # an escaped backslash, then the escape
    ],
    ids=["lone-high", "lone-low", "pair", "after-escaped-backslash"],
)
def test_json_with_a_surrogate_escape_is_refused_as_go_yaml_refuses_it(escape: bytes, where: str) -> None:
    """oc reads image-references and ``-f`` streams through sigs.k8s.io/yaml, JSON too: go-yaml refuses
    any escape of a surrogate, where Go's encoding/json would take it (measured against the real oc)."""
    data = _ESCAPED_JSON.replace(b"ESC", escape)
    with pytest.raises(GoJSONError) as caught:
        load_image_stream(data)
    assert str(caught.value) == _REFUSED.format(where)
    with pytest.raises(GoJSONError) as caught:  # on the first line: go-yaml names no line
        load_image_stream(data.replace(b"\n", b""))
    assert str(caught.value) == _REFUSED.format("")


@pytest.mark.parametrize(
    ("escape", "value"),
    [(rb"\\ud800", "\\ud800"), (rb"\ud7ff\ue000", "\ud7ff\ue000"), (rb"\u00e9", "é")],
    ids=["escaped-backslash", "around-the-surrogates", "latin"],
)
def test_json_without_a_surrogate_escape_reads_as_json(escape: bytes, value: str) -> None:
    data = _ESCAPED_JSON.replace(b"ESC", escape)
    assert load_image_stream(data).tags[0].annotations == {"a": value}


def test_json_only_reading_keeps_gos_json_reading_of_a_surrogate_escape() -> None:
    """``--from-dir``'s image-references is read by encoding/json: a lone surrogate is U+FFFD, a pair its
    character."""
    data = _ESCAPED_JSON.replace(b"ESC", rb"\ud800 \ud83d\ude00")
    assert load_image_stream(data, json_only=True).tags[0].annotations == {"a": "\ufffd \U0001f600"}


def test_sigs_yaml_reads_json_scalars_into_strings_but_not_type_meta() -> None:
    """oc reads an image stream (-f, image-references) with sigs.k8s.io/yaml, JSON too: a number bound for a
    string field becomes that string (oc builds on; okdrelease refused a JSON one), except inlined TypeMeta's
    kind and apiVersion, which it does not find (recorded from the real oc's -f)."""
    stream = load_image_stream(b'{"metadata": {"name": 5}, "spec": {"tags": [{"name": 1.50}]}}')
    assert (stream.name, stream.tags[0].name) == ("5", "1.5")
    with pytest.raises(GoJSONError) as info:
        load_image_stream(b'{"kind": 5}')
    assert str(info.value) == (
        "error unmarshaling JSON: json: cannot unmarshal number into Go struct field .kind of type string"
    )
    with pytest.raises(GoJSONError) as info:
        load_image_stream(b'{"spec": {"tags": [{"name": "a", "generation": "x"}]}}')
    assert str(info.value) == (
        "error unmarshaling JSON: json: cannot unmarshal string into Go struct field .spec.tags.0.generation of type int64"
    )
