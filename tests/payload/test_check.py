"""Tests for okdrelease.payload.check: oc's lenient manifest sanity check (spec §3.9, Appendix C)."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from okdrelease.errors import ReleaseError
from okdrelease.payload.check import check_manifest

GOLDEN = Path(__file__).resolve().parents[2] / ".." / "shared" / "golden"
LAYOUT = GOLDEN / "12a-invalid-yaml" / "inputs"
ERROR_PREFIX = "error: unable to create a release: "


def _blob(digest: str) -> bytes:
    return (LAYOUT / "blobs" / "sha256" / digest.split(":", 1)[1]).read_bytes()


def _operator_manifest(ref_name: str) -> tuple[str, bytes]:
    """Return (file name, bytes) of the ``*_01_config.*`` manifest in a 12a-layout image's last layer."""
    index = json.loads((LAYOUT / "index.json").read_text())
    (entry,) = [
        m for m in index["manifests"] if m["annotations"]["org.opencontainers.image.ref.name"] == ref_name
    ]
    manifest = json.loads(_blob(entry["digest"]))
    with tarfile.open(fileobj=io.BytesIO(_blob(manifest["layers"][-1]["digest"]))) as layer:
        for member in layer:
            name = member.name.removeprefix("manifests/")
            if "_01_config." in name and member.isfile():
                handle = layer.extractfile(member)
                assert handle is not None
                return name, handle.read()
    raise AssertionError(f"no config manifest in {ref_name}")


def _golden_error(case: str) -> str:
    line = (GOLDEN / case / "stderr.txt").read_text().splitlines()[-1]
    assert line.startswith(ERROR_PREFIX)
    return line[len(ERROR_PREFIX) :]


def _check_error(display: str, filename: str, data: bytes) -> str:
    with pytest.raises(ReleaseError) as err:
        check_manifest(display, filename, data)
    return str(err.value)


@pytest.mark.parametrize(
    ("case", "ref_name"),
    [
        ("12a-invalid-yaml", "bad-yaml"),
        ("12c-missing-kind", "no-kind"),
        ("12f-empty-file", "empty-file"),
    ],
)
def test_golden_error_messages(case: str, ref_name: str) -> None:
    filename, data = _operator_manifest(ref_name)
    assert _check_error(f"example-operator/{filename}", filename, data) == _golden_error(case)


def test_golden_12d_not_an_object() -> None:
    filename, data = _operator_manifest("not-object")
    expected = (
        (GOLDEN / "12d-not-an-object" / "stderr.txt").read_text().split(ERROR_PREFIX, 1)[1].rstrip("\n")
    )
    assert _check_error(f"example-operator/{filename}", filename, data) == expected
    assert expected.endswith("got: - apiVersion: v1\n  kind: Confi...")


def test_golden_12e_json_trailing_comma_passes() -> None:
    filename, data = _operator_manifest("bad-json")
    assert filename.endswith(".json")
    check_manifest(f"example-operator/{filename}", filename, data)


@pytest.mark.parametrize(
    "data",
    [
        b"apiVersion: v1\nkind: A\nkind: B\n",  # duplicate keys
        b'{\n\t"apiVersion": "v1",\n\t"kind": "A"\n}\n',  # tab-indented JSON
        b"apiVersion: v1\nkind: A\n",  # YAML in a .json file
        b'{"apiVersion": "v1", "kind": "A",}',  # JSON trailing comma
        "\ufeffapiVersion: v1\nkind: A\n".encode(),  # UTF-8 BOM
        b"apiVersion: v1\nkind: A\n---\nkey: [broken\n",  # broken second document
        b"apiVersion: v1\nkind: A\r\nmetadata:\r\n  name: crlf\r\n",
        b"apiVersion: 2024-01-01\nkind: A\n",  # go-yaml keeps timestamps as strings
        b"apiVersion: v1\nkind: !!str A\n",
        b"base: &b v1\napiVersion: *b\nkind: A\n",
        b"a: &x 1\nb: &x v1\napiVersion: *x\nkind: A\n",  # a repeated anchor replaces the first
    ],
)
def test_lenient_inputs_pass(data: bytes) -> None:
    check_manifest("op/file.json", "file.json", data)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "not a valid YAML/JSON object, got: "),
        (b"---\n", "not a valid YAML/JSON object, got: ---\n"),
        (b"null", "not a valid YAML/JSON object, got: null"),
        (b"- a\n- " + b"b" * 30, "not a valid YAML/JSON object, got: - a\n- " + "b" * 24 + "..."),
        (b"- " + b"b" * 28, "not a valid YAML/JSON object, got: - " + "b" * 28),
        (b"kind: A\n", "manifests must contain Kubernetes API objects with 'kind' and 'apiVersion' set: "),
        (
            b"kind: ''\napiVersion: v1",
            "manifests must contain Kubernetes API objects with 'kind' and 'apiVersion' set: ",
        ),
        (
            b"kind: 5\napiVersion: v1",
            "manifests must contain Kubernetes API objects with 'kind' and 'apiVersion' set: ",
        ),
        (
            b"kind: A\napiVersion: [v1]",
            "manifests must contain Kubernetes API objects with 'kind' and 'apiVersion' set: ",
        ),
        (b"a: b: c", "invalid YAML/JSON: mapping values are not allowed in this context"),
        (b"x: 1\na: b: c", "invalid YAML/JSON: line 2: mapping values are not allowed in this context"),
        (
            b"a: [1, 2",
            "invalid YAML/JSON: line 1: did not find expected ',' or ']'",
        ),  # go-yaml's new line at the end
        (b"x: 1\ny: {a: 1\n", "invalid YAML/JSON: line 2: did not find expected ',' or '}'"),
        (b"a:\n  - b\n c: d\n", "invalid YAML/JSON: line 2: did not find expected key"),
        (b"x: 1\ny: @z\n", "invalid YAML/JSON: line 2: found character that cannot start any token"),
        (b"x: 1\nkey: *missing\n", "invalid YAML/JSON: unknown anchor 'missing' referenced"),
        (b"a: 1\x07", "invalid YAML/JSON: control characters are not allowed"),
        (b"a: \xff\n", "invalid YAML/JSON: invalid leading UTF-8 octet"),
        # go-yaml refuses escapes of surrogates (JSON's \\ud83d\\ude80 for an emoji) and past U+10FFFF.
        (
            b'{"kind": "A", "x": "\\ud83d\\ude80"}',
            "invalid YAML/JSON: found invalid Unicode character escape code",
        ),
        (
            b'kind: A\napiVersion: v1\nx: "\\U00110000"\n',
            "invalid YAML/JSON: line 3: found invalid Unicode character escape code",
        ),
        (
            b'kind: A\napiVersion: v1\nx: "a \\udfff b"\n',
            "invalid YAML/JSON: line 3: found invalid Unicode character escape code",
        ),
    ],
)
def test_failures(data: bytes, message: str) -> None:
    assert _check_error("op/f.yaml", "f.yaml", data) == f"op/f.yaml: {message}"


@pytest.mark.parametrize("filename", ["README", "notes.txt", "x.yaml.orig", "image-references"])
def test_other_extensions_are_not_checked(filename: str) -> None:
    check_manifest(f"op/{filename}", filename, b"- not: [an object")


@pytest.mark.parametrize("filename", ["a.yml", "a.yaml", "a.json"])
def test_checked_extensions(filename: str) -> None:
    assert _check_error(f"op/{filename}", filename, b"[]").endswith("not a valid YAML/JSON object, got: []")


REAL_CVO = (
    Path(__file__).resolve().parents[2]
    / ".."
    / "shared"
    / "testdata-real"
    / "operators"
    / "cluster-version-operator"
    / "manifests"
    / "0000_00_cluster-version-operator_03_deployment.yaml"
)


def test_map_key_that_is_a_map_fails_as_in_oc() -> None:
    # The real oc refused this real template ({{.ReleaseImage}} is a flow mapping used as a key) with
    # exactly this message when the benchmark put it in an operator image.
    message = _check_error("op/d.yaml", "d.yaml", REAL_CVO.read_bytes())
    assert message == (
        'op/d.yaml: invalid YAML/JSON: invalid map key: map[interface {}]interface {}{".ReleaseImage":interface {}(nil)}'
    )


@pytest.mark.parametrize(
    ("data", "key"),
    [
        (b"apiVersion: v1\nkind: A\n[a, 1, null]: x\n", '[]interface {}{"a", 1, interface {}(nil)}'),
        (b"apiVersion: v1\nkind: A\n{b: 2, a: 1.5}: x\n", 'map[interface {}]interface {}{"a":1.5, "b":2}'),
        (b"apiVersion: v1\nkind: A\nx: {[1.0e+6]: 2}\n", "[]interface {}{1e+06}"),
        (b"[{[inner]: 1}]", '[]interface {}{"inner"}'),  # found before "not an object"
    ],
)
def test_map_keys_that_are_collections(data: bytes, key: str) -> None:
    assert (
        _check_error("op/f.yaml", "f.yaml", data) == f"op/f.yaml: invalid YAML/JSON: invalid map key: {key}"
    )
