"""Tests for Cincinnati release-metadata building, --metadata parsing and loading."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from okdrelease.errors import ReleaseError
from okdrelease.gocompat.gojson import GoJSONError
from okdrelease.openshift.metadata import (
    CincinnatiMetadata,
    build_release_metadata,
    load_release_metadata,
    parse_metadata_flag,
)
from okdrelease.release.read import load_metadata

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
GOLDEN = SHARED / "golden"


def _flag(args: list[str], name: str) -> str | None:
    return args[args.index(name) + 1] if name in args else None


def _golden_metadata_cases() -> list[str]:
    cases = []
    for path in sorted(GOLDEN.glob("*/expected/release-manifests/release-metadata")):
        args = json.loads((path.parents[2] / "case.json").read_text())["oc_args"]
        if "--from-release" not in args and "--name" in args:
            cases.append(path.parents[2].name)
    return cases


GOLDEN_CASES = _golden_metadata_cases()


def test_golden_cases_found() -> None:
    assert "01-realistic" in GOLDEN_CASES


@pytest.mark.parametrize("case", GOLDEN_CASES)
def test_golden_release_metadata_bytes(case: str) -> None:
    """Build release-metadata from the recorded flags and compare with oc's bytes."""
    args = json.loads((GOLDEN / case / "case.json").read_text())["oc_args"]
    previous = (_flag(args, "--previous") or "").split(",")
    next_ = (_flag(args, "--next") or "").split(",")
    text = _flag(args, "--metadata")
    metadata = parse_metadata_flag(text) if text else None
    built = build_release_metadata(_flag(args, "--name") or "", previous, next_, metadata)
    expected = (GOLDEN / case / "expected/release-manifests/release-metadata").read_bytes()
    assert built.to_json() == expected


def _all_release_metadata() -> list[Path]:
    files = sorted(GOLDEN.glob("*/expected/release-manifests/release-metadata"))
    return files + sorted(
        (SHARED / "testdata-real" / "releases").glob("*/release-manifests/release-metadata")
    )


@pytest.mark.parametrize("path", _all_release_metadata(), ids=lambda p: str(p).split("shared/")[-1])
def test_load_and_re_encode(path: Path) -> None:
    data = path.read_bytes()
    loaded = load_release_metadata(data)
    assert loaded.kind == "cincinnati-metadata-v0"
    assert loaded.to_json() == data
    rebuilt = build_release_metadata(loaded.version, loaded.previous, loaded.next, loaded.metadata)
    assert rebuilt.to_json() == data


def test_build_rules() -> None:
    built = build_release_metadata(
        "4.11.1+build.7",
        ["4.11.0", "", "4.10.3", "4.10.20", "4.10.3"],
        ["4.12.0-rc.0+x", ""],
        {"b": 1, "a": "<x>"},
    )
    assert built == CincinnatiMetadata(
        version="4.11.1+build.7",
        previous=("4.10.20", "4.10.3", "4.10.3", "4.11.0"),
        next=("4.12.0-rc.0+x",),
        metadata={"a": "<x>", "b": 1.0},
    )
    assert built.to_json() == (
        b'{\n  "kind": "cincinnati-metadata-v0",\n  "version": "4.11.1+build.7",\n  "previous": [\n'
        b'    "4.10.20",\n    "4.10.3",\n    "4.10.3",\n    "4.11.0"\n  ],\n  "next": [\n    "4.12.0-rc.0+x"\n  ],\n'
        b'  "metadata": {\n    "a": "\\u003cx\\u003e",\n    "b": 1\n  }\n}'
    )
    empty = build_release_metadata("1.0.0", [], [""], {})
    assert (
        empty.to_json()
        == b'{\n  "kind": "cincinnati-metadata-v0",\n  "version": "1.0.0",\n  "previous": []\n}'
    )


def test_previous_error_matches_golden() -> None:
    line = (GOLDEN / "11c-previous-invalid" / "stderr.txt").read_text().splitlines()[-1]
    with pytest.raises(ReleaseError) as info:
        build_release_metadata("4.15.0", ["4.14.0", "4.14"], [], None)
    assert f"error: {info.value}" == line
    with pytest.raises(ReleaseError, match=r'^"v1.0.0" is not a valid semantic version: Invalid character'):
        build_release_metadata("4.15.0", [], ["v1.0.0"], None)
    with pytest.raises(ReleaseError, match=r"^--name must be a semantic version: No Major"):
        build_release_metadata("4.15", [], [], None)


@pytest.mark.parametrize("case", ["11d-metadata-wrong-type", "11e-metadata-not-object"])
def test_metadata_flag_errors_match_golden(case: str) -> None:
    args = json.loads((GOLDEN / case / "case.json").read_text())["oc_args"]
    line = (GOLDEN / case / "stderr.txt").read_text().splitlines()[-1]
    with pytest.raises(ReleaseError) as info:
        parse_metadata_flag(_flag(args, "--metadata") or "")
    assert f"error: {info.value}" == line


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '{"Next": "4.1.0"}',
            "json: cannot unmarshal string into Go struct field CincinnatiMetadata.Next of type []string",
        ),
        (
            '{"previous": [1]}',
            "json: cannot unmarshal number into CincinnatiMetadata.previous.0 of type string",
        ),
        (
            '{"kind": true}',
            "json: cannot unmarshal bool into Go struct field CincinnatiMetadata.kind of type string",
        ),
        (
            '{"metadata": "x"}',
            "json: cannot unmarshal string into Go struct field CincinnatiMetadata.metadata of type map[string]interface {}",
        ),
        ('"text"', "json: cannot unmarshal string into Go value of type release.CincinnatiMetadata"),
        ("{x", "invalid character 'x' looking for beginning of object key string"),
        ("", "unexpected end of JSON input"),
        ('{"a": 1e400}', "json: cannot unmarshal number 1e400 into Go struct field .a of type float64"),
    ],
)
def test_metadata_flag_errors(text: str, message: str) -> None:
    with pytest.raises(ReleaseError) as info:
        parse_metadata_flag(text)
    assert str(info.value) == f"invalid --metadata: {message}"


def test_metadata_flag_values() -> None:
    value = parse_metadata_flag(
        '{"z": 1e-7, "y": 1e21, "x": {"b": [1, true, null], "a": "s"}, "version": "any"}'
    )
    assert list(value) == ["version", "x", "y", "z"]
    assert list(value["x"]) == ["a", "b"]
    built = build_release_metadata("1.0.0", [], [], value)
    assert b'"z": 1e-7' in built.to_json()
    assert b'"y": 1e+21' in built.to_json()
    assert b'"b": [\n        1,\n        true,\n        null\n      ]' in built.to_json()
    assert parse_metadata_flag("null") == {}
    assert parse_metadata_flag('{"next": null, "previous": ["x"]}') == {"next": None, "previous": ["x"]}


def test_load_errors() -> None:
    with pytest.raises(GoJSONError, match=r"^unexpected end of JSON input$"):
        load_release_metadata(b"")
    with pytest.raises(
        GoJSONError,
        match=r"^json: cannot unmarshal number into Go struct field CincinnatiMetadata.version of type string$",
    ):
        load_release_metadata(b'{"version": 1}')
    loaded = load_release_metadata(b'{"VERSION": "1.0.0", "unknown": 1}')
    assert loaded == CincinnatiMetadata(version="1.0.0", kind="")


def test_info_reading_keeps_nil_slices_and_go_errors() -> None:
    """info reads release-metadata with the same decoder: absent previous/next stay None (null in -o json),
    and a wrong type is Go's json error, prefixed as oc prefixes it."""
    loaded = load_metadata(b'{"kind":"cincinnati-metadata-v0","version":"4.1.0"}')
    assert loaded.previous is None and loaded.next is None
    assert loaded.to_go() == {"kind": "cincinnati-metadata-v0", "version": "4.1.0", "previous": None}
    with pytest.raises(ReleaseError) as info:
        load_metadata(b'{"kind":1}')
    assert str(info.value) == (
        "invalid release metadata: json: cannot unmarshal number into Go struct field CincinnatiMetadata.kind "
        "of type string"
    )
