"""Tests for SRC=DST mapping arguments and mapping files (spec §2.2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from okdrelease.errors import ReleaseError
from okdrelease.payload.mappings import combine_mappings, parse_mapping_args, parse_mapping_file

GOLDEN = Path(__file__).resolve().parents[2] / ".." / "shared" / "golden"


def test_parse_args() -> None:
    assert parse_mapping_args(["a=q.io/a:1", "b=x=y", "a=q.io/a:2"]) == [
        ("a", "q.io/a:1"),
        ("b", "x=y"),
        ("a", "q.io/a:2"),  # Q3: repeated sources are accepted
    ]
    assert parse_mapping_args([]) == []


@pytest.mark.parametrize("arg", ["cluster-config-api", "=x", "x=", "=", ""])
def test_parse_args_invalid(arg: str) -> None:
    with pytest.raises(ReleaseError, match=r"^all arguments must be valid SRC=DST mappings$"):
        parse_mapping_args(["ok=fine", arg])


def test_golden_bad_mapping() -> None:
    case = GOLDEN / "11l-bad-mapping"
    args = json.loads((case / "case.json").read_text())["oc_args"]
    positional = [a for a in args[3:] if not a.startswith("-") and "{" not in a and "=" not in a]
    assert positional == ["cluster-config-api"]
    with pytest.raises(ReleaseError) as info:
        parse_mapping_args(positional)
    assert f"error: {info.value}" == (case / "stderr.txt").read_text().splitlines()[-1]


def test_duplicate_rule_q3() -> None:
    with pytest.raises(ReleaseError) as info:
        parse_mapping_args(["a=b", "b=c"])
    assert str(info.value) == "each source tag may only be specified once: c"
    assert parse_mapping_args(["a=b", "c=b"]) == [("a", "b"), ("c", "b")]


def test_golden_mapping_file(tmp_path: Path) -> None:
    source = (GOLDEN / "18-mapping-file-untagged" / "mappings.txt").read_bytes()
    path = tmp_path / "mappings.txt"
    path.write_bytes(source.replace(b"{registry}/{repo}", b"r/p"))
    assert parse_mapping_file(str(path)) == [
        (
            "cluster-version-operator",
            "r/p@sha256:ee58e6e299746f7a00196e3f466dce17d6d7b6e4f8fad0196175b1ba36ca03bd",
        ),
        (
            "service-ca-operator",
            "r/p@sha256:1e49239b013e9689784de9d5b1fbe596f7cf4f4682093e696765b2cbe3d48697",
        ),
        ("cluster-config-operator", "r/p:cluster-config-operator"),
        ("cluster-config-api", "r/p@sha256:1c8f515b3d4a1ff77cff303851757edc0ec2d8ee6672d172c31f5ba8cf2a2a0c"),
    ]


def test_mapping_file_details(tmp_path: Path) -> None:
    path = tmp_path / "m.txt"
    path.write_bytes(b"# only a comment\r\n\r\n  a=x:1 b=y@sha256:1#c=z\r\n\tc=z\n")
    assert parse_mapping_file(str(path)) == [("a", "x:1"), ("b", "y@sha256:1"), ("c", "z")]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"a=x\n\nb=y  c=z\n", "line 3: all arguments must be valid SRC=DST mappings"),
        (b"a=x\nnot-a-mapping\n", "line 2: all arguments must be valid SRC=DST mappings"),
        (b"a=x\nx=y\n", "line 2: each source tag may only be specified once: y"),
    ],
)
def test_mapping_file_errors(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "m.txt"
    path.write_bytes(content)
    with pytest.raises(ReleaseError) as info:
        parse_mapping_file(str(path))
    assert str(info.value) == f"file {path}, {message}"


def test_mapping_file_missing(tmp_path: Path) -> None:
    missing = tmp_path / "nope.txt"
    with pytest.raises(ReleaseError) as info:
        parse_mapping_file(str(missing))
    assert str(info.value) == f"open {missing}: no such file or directory"
    with pytest.raises(ReleaseError) as info:
        parse_mapping_file(str(tmp_path))
    assert str(info.value) == f"read {tmp_path}: is a directory"


def test_combine_mappings(tmp_path: Path) -> None:
    first = tmp_path / "1.txt"
    first.write_text("a=q/a\n")
    second = tmp_path / "2.txt"
    second.write_text("b=q/b\n")
    assert combine_mappings([str(first), str(second)], ["c=q/c", "a=q/a2"]) == [
        ("a", "q/a"),
        ("b", "q/b"),
        ("c", "q/c"),
        ("a", "q/a2"),
    ]
    # the duplicate table spans files and arguments
    with pytest.raises(ReleaseError, match=r"^each source tag may only be specified once: z$"):
        combine_mappings([str(first)], ["q/a=z"])
    assert combine_mappings([], []) == []
