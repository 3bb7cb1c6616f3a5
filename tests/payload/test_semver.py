"""Tests for the blang/semver-compatible strict parser."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from okdrelease.errors import ReleaseError
from okdrelease.gocompat.semver import SemverError, Version, go_quote, parse

GOLDEN = Path(__file__).resolve().parents[2] / ".." / "shared" / "golden"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.2.3", Version(1, 2, 3)),
        ("0.0.0", Version(0, 0, 0)),
        ("4.15.0-0.okd-scos-2024-01-20-000013", Version(4, 15, 0, (0, "okd-scos-2024-01-20-000013"))),
        ("1.0.0-alpha.1+build.5", Version(1, 0, 0, ("alpha", 1), ("build", "5"))),
        ("1.0.0+0001", Version(1, 0, 0, (), ("0001",))),
        ("1.0.0-0a", Version(1, 0, 0, ("0a",))),
        ("1.2.3-rc-1+x-y", Version(1, 2, 3, ("rc-1",), ("x-y",))),
        ("18446744073709551615.0.0", Version(18446744073709551615, 0, 0)),
    ],
)
def test_parse_valid(text: str, expected: Version) -> None:
    parsed = parse(text)
    assert parsed == expected
    assert str(parsed) == text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Version string empty"),
        ("4.15", "No Major.Minor.Patch elements found"),
        ("1", "No Major.Minor.Patch elements found"),
        ("v4.15.0", 'Invalid character(s) found in major number "v4"'),
        ("39.20231101.3.0", 'Invalid character(s) found in patch number "3.0"'),
        ("1.x.0", 'Invalid character(s) found in minor number "x"'),
        ("01.2.3", 'Major number must not contain leading zeroes "01"'),
        ("1.02.3", 'Minor number must not contain leading zeroes "02"'),
        ("1.2.03", 'Patch number must not contain leading zeroes "03"'),
        ("1.2.3-01", 'Numeric PreRelease version must not contain leading zeroes "01"'),
        ("1.2.3-a_b", 'Invalid character(s) found in prerelease "a_b"'),
        ("1.2.3-", "Prerelease is empty"),
        ("1.2.3-a..b", "Prerelease is empty"),
        ("1.2.3+", "Build meta data is empty"),
        ("1.2.3+a.", "Build meta data is empty"),
        ("1.2.3+a$", 'Invalid character(s) found in build meta data "a$"'),
        (".1.2", 'strconv.ParseUint: parsing "": invalid syntax'),
        ("1.2.", 'strconv.ParseUint: parsing "": invalid syntax'),
        ("18446744073709551616.0.0", 'strconv.ParseUint: parsing "18446744073709551616": value out of range'),
        (" 1.2.3", 'Invalid character(s) found in major number " 1"'),
        ("1.2.3 ", 'Invalid character(s) found in patch number "3 "'),
        ("1.2.3-é", 'Invalid character(s) found in prerelease "é"'),
        ("1.2.3-a\tb", 'Invalid character(s) found in prerelease "a\\tb"'),
    ],
)
def test_parse_errors(text: str, message: str) -> None:
    with pytest.raises(SemverError) as info:
        parse(text)
    assert str(info.value) == message
    assert isinstance(info.value, ReleaseError)


@pytest.mark.parametrize(
    ("case", "flag_value"),
    [("11a-name-not-semver", "4.15"), ("11b-name-v-prefix", "v4.15.0")],
)
def test_golden_name_errors(case: str, flag_value: str) -> None:
    case_dir = GOLDEN / case
    args = json.loads((case_dir / "case.json").read_text())["oc_args"]
    assert args[args.index("--name") + 1] == flag_value
    expected = (case_dir / "stderr.txt").read_text().splitlines()[-1]
    with pytest.raises(SemverError) as info:
        parse(flag_value)
    assert f"error: --name must be a semantic version: {info.value}" == expected


def test_without_build_and_str() -> None:
    version = parse("1.2.3-rc.1+abc.def")
    assert str(version.without_build()) == "1.2.3-rc.1"
    assert version.without_build().build == ()
    assert version.pre == ("rc", 1)


def test_ordering_is_semver_precedence() -> None:
    texts = [
        "1.0.0",
        "1.0.0-rc.1",
        "1.0.0-beta.11",
        "1.0.0-beta.2",
        "1.0.0-beta",
        "1.0.0-alpha.beta",
        "1.0.0-alpha.1",
        "1.0.0-alpha",
        "2.0.0",
        "1.10.0",
        "1.9.0",
    ]
    expected = [
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-alpha.beta",
        "1.0.0-beta",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
        "1.9.0",
        "1.10.0",
        "2.0.0",
    ]
    versions = [parse(t) for t in texts]
    assert [str(v) for v in sorted(versions)] == expected
    assert [str(v) for v in sorted(versions, key=Version.sort_key)] == expected
    assert parse("1.0.0+a").compare(parse("1.0.0+b")) == 0
    assert parse("1.0.0-1").compare(parse("1.0.0-a")) == -1
    assert parse("1.0.0-a").compare(parse("1.0.0-1")) == 1
    assert parse("1.0.0") > parse("1.0.0-a")
    assert parse("1.0.0") <= parse("1.0.0")


@pytest.mark.parametrize(
    ("text", "quoted"),
    [
        ("abc", '"abc"'),
        ('a"b\\c', '"a\\"b\\\\c"'),
        ("\n\t\x00\x7f", '"\\n\\t\\x00\\x7f"'),
        ("é ü", '"é ü"'),
        ("\u200b", '"\\u200b"'),
        ("\U000e0001", '"\\U000e0001"'),
        (b"\xff".decode("utf-8", "surrogateescape"), '"\\xff"'),
    ],
)
def test_go_quote(text: str, quoted: str) -> None:
    assert go_quote(text) == quoted
