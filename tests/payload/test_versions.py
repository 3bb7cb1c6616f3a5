"""Tests for component-version label parsing and release-wide aggregation (spec §1.5, §4.1, §9.4, §9.7)."""

from __future__ import annotations

from pathlib import Path

import pytest

from okdrelease.errors import ReleaseError
from okdrelease.openshift.versions import (
    ALLOWED_COMPONENTS,
    ComponentVersion,
    aggregate_release_versions,
    format_component_versions,
    go_trim_space,
    parse_component_versions,
)

GOLDEN = Path(__file__).resolve().parents[2] / ".." / "shared" / "golden"
CV = ComponentVersion
V = "io.openshift.build.versions"
D = "io.openshift.build.version-display-names"
MULTI = "multiple versions or display names reported for the following component(s): "


def test_allowed_components() -> None:
    assert ALLOWED_COMPONENTS == ("kubernetes", "machine-os", "kernel", "crio", "kubectl", "kubernetes-tests")


@pytest.mark.parametrize(
    ("label", "names", "expected"),
    [
        ("", "", {}),  # CV-1
        ("", "a=b", {}),  # CV-2
        ("  ", "!!!", {}),
        ("a1=1.0.0", "", {"a1": CV("1.0.0", "")}),  # CV-7
        ("a1=1.0.0", "a1=b 1 c d : -", {"a1": CV("1.0.0", "b 1 c d : -")}),  # CV-8
        (
            "a1=1.0.0",
            "a1=Red Hat Enterprise Linux CoreOS 9.8",
            {"a1": CV("1.0.0", "Red Hat Enterprise Linux CoreOS 9.8")},
        ),  # CV-9
        ("a1=1.0.0", "a1=other,a1=valid", {"a1": CV("1.0.0", "valid")}),  # CV-12
        (
            "a1=1.0.0,b1=2.0.0",
            "a1=other,a1=valid",
            {"a1": CV("1.0.0", "valid"), "b1": CV("2.0.0", "")},
        ),  # CV-13
        (" a1=1.0.0+build.1 , b-1=2.0.0-rc.0+x ", "", {"a1": CV("1.0.0"), "b-1": CV("2.0.0-rc.0")}),
        ("a1=1.0.0,a1=2.0.0", "", {"a1": CV("2.0.0")}),
        ("a1=1.0.0", "a1=tab\there", {"a1": CV("1.0.0", "tab\there")}),
        (
            "machine-os=39.20231101.3",
            "machine-os=Fedora CoreOS",
            {"machine-os": CV("39.20231101.3", "Fedora CoreOS")},
        ),
    ],
)
def test_parse_component_versions(label: str, names: str, expected: dict[str, ComponentVersion]) -> None:
    assert parse_component_versions(label, names) == expected


@pytest.mark.parametrize(
    ("label", "names", "message"),
    [
        ("a=1.0.0", "", 'the version name "a" must be at least 2 characters'),  # CV-3
        (
            "a!=1.0.0",
            "",
            'the version name "a!" must only be ASCII alphanumerics and internal hyphens',
        ),  # CV-4
        ("ab", "", 'the version pair "ab" must be NAME=VERSION'),  # CV-5
        ("a1=1.0.0", "a=b", 'the version name "a" must be at least 2 characters'),  # CV-6
        (
            "a1=1.0.0",
            "a1=!",
            'the display name "!" must only be alphanumerics, spaces, and symbols in [().:-]',
        ),  # CV-10
        (
            "a1=1.0.0",
            "a1=!,a1=valid",
            'the display name "!" must only be alphanumerics, spaces, and symbols in [().:-]',
        ),  # CV-11
        ("a1=", "", 'the version pair "a1=" must have a valid semantic version: Version string empty'),
        ("a1=1.0.0", "a1", 'the display name pair "a1" must be NAME=DISPLAYNAME'),
        ("a1=1.0.0", "a1=", 'the display name "" must only be alphanumerics, spaces, and symbols in [().:-]'),
        (
            "a1=1.0.0",
            "a1=x\vy",
            'the display name "x\\vy" must only be alphanumerics, spaces, and symbols in [().:-]',
        ),
        ("-a=1.0.0", "", 'the version name "-a" must only be ASCII alphanumerics and internal hyphens'),
        ("Ab=1.0.0", "", 'the version name "Ab" must only be ASCII alphanumerics and internal hyphens'),
        ("é=1.0.0", "", 'the version name "é" must only be ASCII alphanumerics and internal hyphens'),
        ("a1=1.0.0,", "", 'the version pair "" must be NAME=VERSION'),
        (
            "kube=v1.28.3",
            "",
            'the version pair "kube=v1.28.3" must have a valid semantic version: Invalid character(s) found in major number "v1"',
        ),
    ],
)
def test_parse_component_versions_errors(label: str, names: str, message: str) -> None:
    with pytest.raises(ReleaseError) as info:
        parse_component_versions(label, names)
    assert str(info.value) == message


def test_golden_version_label_not_semver() -> None:
    line = (GOLDEN / "13a-version-label-not-semver" / "stderr.txt").read_text().splitlines()[-1]
    with pytest.raises(ReleaseError) as info:
        parse_component_versions("machine-os=39.20231101.3.0")
    assert line.endswith(" label: " + str(info.value))


def test_golden_display_name_invalid() -> None:
    line = (GOLDEN / "13c-display-name-invalid" / "stderr.txt").read_text().splitlines()[-1]
    with pytest.raises(ReleaseError) as info:
        parse_component_versions("kubernetes=1.28.3", "kubernetes=Kubernetes [upstream]")
    assert line.endswith(" label: " + str(info.value))


def test_go_trim_space() -> None:
    assert go_trim_space("\u3000 a b\t\n\v\x85") == "a b"
    assert go_trim_space("\x1ca\x1f") == "\x1ca\x1f"


def test_format_component_versions() -> None:
    assert format_component_versions({}) == ""
    assert format_component_versions({"kubernetes": CV("1.2.3"), "crio": CV("1.0.0", "CRI-O")}) == (
        "crio=1.0.0,kubernetes=1.2.3"
    )


def _tag(name: str, versions: str | None, names: str | None = None) -> tuple[str, dict[str, str]]:
    annotations: dict[str, str] = {}
    if versions is not None:
        annotations[V] = versions
    if names is not None:
        annotations[D] = names
    return name, annotations


@pytest.mark.parametrize(
    ("tags", "versions", "version_tags", "warnings", "stderr"),
    [
        ([_tag("test1", "", "")], {}, {}, [], []),  # RC-1
        ([_tag("bar", "a1=1.0.0")], {"a1": CV("1.0.0")}, {"a1": "bar"}, [], []),  # RC-2
        (
            [_tag("bar", "a1=1.0.0,b1=1.0.1", "b1=Test Name")],
            {"a1": CV("1.0.0"), "b1": CV("1.0.1", "Test Name")},
            {"a1": "bar", "b1": "bar"},
            [],
            [],
        ),  # RC-3
        (
            [_tag("test1", "a1=")],
            {},
            {},
            [
                "the referenced image test1 had an invalid version annotation: the version pair "
                '"a1=" must have a valid semantic version: Version string empty'
            ],
            [],
        ),  # RC-4
        (
            [_tag("test1", "a1=1.0.0"), _tag("test2", "a1=1.0.0")],
            {"a1": CV("1.0.0")},
            {"a1": "test2"},
            [],
            [],
        ),  # RC-5
        (
            [_tag("test1", "a1=1.0.0"), _tag("test2", "a1=1.0.1")],
            {"a1": CV("1.0.0")},
            {"a1": "test2"},
            [MULTI + "a1"],
            [],
        ),  # RC-6
        (
            [_tag("test1", "a1=1.0.0", "a1=Test Name"), _tag("test2", "a1=1.0.1")],
            {"a1": CV("1.0.0", "")},
            {"a1": "test2"},
            [MULTI + "a1"],
            [],
        ),  # RC-7
        (
            [_tag("test1", "a1=1.0.0", "a1=Test Name"), _tag("test2", "a1=1.0.0", "a1=Test Name")],
            {"a1": CV("1.0.0", "Test Name")},
            {"a1": "test2"},
            [],
            [],
        ),  # RC-8
        (
            [_tag("test1", "a1=1.0.0", "a1=Test Name"), _tag("test2", "a1=1.0.0", "a1=Test Name 2")],
            {"a1": CV("1.0.0", "Test Name")},
            {"a1": "test2"},
            [MULTI + "a1"],
            [],
        ),  # RC-9
        (
            [_tag("cli", "kubectl=1.1.0"), _tag("test2", "kubectl=1.0.0"), _tag("test3", "kubectl=1.0.0")],
            {"kubectl": CV("1.1.0")},
            {"kubectl": "test3"},
            [],
            [],
        ),  # RC-10
        (
            [
                _tag("cli", "kubectl=1.1.0"),
                _tag("cli-artifacts", "kubectl=1.0.0"),
                _tag("test3", "kubectl=1.0.0"),
            ],
            {"kubectl": CV("1.0.0")},
            {"kubectl": "test3"},
            [MULTI + "kubectl"],
            [],
        ),  # RC-11
        (
            [
                _tag("cli", "kubectl=1.1.0"),
                _tag("cli-artifacts", "kubectl=1.1.0"),
                _tag("test3", "kubectl=1.0.0"),
                _tag("test3", "kubectl=1.0.1"),
            ],
            {"kubectl": CV("1.1.0")},
            {"kubectl": "test3"},
            [],
            [
                "multiple versions reported for the kubectl: 1.0.0 (test3), 1.0.1 (test3), 1.1.0 (cli, cli-artifacts)"
            ],
        ),  # RC-12/13
        (
            [
                _tag("cli", "kubectl=1.1.0"),
                _tag("cli-artifacts", "kubectl=1.1.0"),
                _tag("test4", "kubectl=1.1.0"),
                _tag("test3", "kubectl=1.0.0"),
            ],
            {"kubectl": CV("1.1.0")},
            {"kubectl": "test3"},
            [],
            [],
        ),  # RC-14 (stream order: test3 last)
        (
            [
                _tag("a", "machine-os=1.0.0,zz=1.0.0"),
                _tag("b", "machine-os=2.0.0,aa=1.0.0,zz=2.0.0"),
                ("c", None),
            ],
            {"aa": CV("1.0.0"), "machine-os": CV("1.0.0"), "zz": CV("1.0.0")},
            {"machine-os": "b", "zz": "b", "aa": "b"},
            [MULTI + "zz"],
            [],
        ),
        (
            [_tag("x", "a1=1.10.0,b1=1.0.0"), _tag("y", "a1=1.9.0,b1=1.0.1"), _tag("z", "bad")],
            {"a1": CV("1.10.0"), "b1": CV("1.0.0")},
            {"a1": "y", "b1": "y"},
            [
                MULTI + "a1,  b1",
                'the referenced image z had an invalid version annotation: the version pair "bad" must be NAME=VERSION',
            ],
            [],
        ),
    ],
)
def test_aggregate_release_versions(
    tags: list[tuple[str, dict[str, str] | None]],
    versions: dict[str, ComponentVersion],
    version_tags: dict[str, str],
    warnings: list[str],
    stderr: list[str],
) -> None:
    got = aggregate_release_versions(tags)
    assert got == (versions, version_tags, warnings, stderr)


def test_aggregate_rc14_as_recorded_order() -> None:
    tags = [
        _tag("cli", "kubectl=1.1.0"),
        _tag("cli-artifacts", "kubectl=1.1.0"),
        _tag("test3", "kubectl=1.0.0"),
        _tag("test4", "kubectl=1.1.0"),
    ]
    versions, version_tags, warnings, stderr = aggregate_release_versions(tags)
    assert versions == {"kubectl": CV("1.1.0")}
    assert version_tags == {"kubectl": "test4"}
    assert warnings == [] and stderr == []
