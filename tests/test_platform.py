"""The one manifest-list entry selector (oci/platform.py) in each of its uses: new, info/extract, copy."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from okdrelease.cli import main
from okdrelease.errors import NoMatchingPlatformError, ReleaseError, UsageError
from okdrelease.oci.model import Index, parse_manifest
from okdrelease.oci.platform import PlatformSelector, compile_filter


def _index(*platforms: dict[str, str] | None) -> Index:
    entries: list[dict[str, Any]] = []
    for position, platform in enumerate(platforms):
        entry: dict[str, Any] = {
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": "sha256:" + str(position) * 64,
            "size": 1,
        }
        if platform is not None:
            entry["platform"] = platform
        entries.append(entry)
    body = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": entries}
    index = parse_manifest(json.dumps(body).encode())
    assert isinstance(index, Index)
    return index


ARM = {"os": "linux", "architecture": "arm64"}
AMD_V2 = {"os": "linux", "architecture": "amd64", "variant": "v2"}


def _position(selector: PlatformSelector, index: Index) -> int:
    return int(selector.select(index).digest[-1])


def test_first_takes_the_first_entry() -> None:
    """new without --filter-by-os: oc takes the first entry."""
    assert _position(PlatformSelector.first(), _index(ARM, AMD_V2)) == 0


def test_filter_matches_os_arch_variant_text() -> None:
    """--filter-by-os is searched in os/arch[/variant]; no match is NoMatchingPlatformError (a ReleaseError)."""
    selector = PlatformSelector(re.compile("amd64/v2"))
    assert _position(selector, _index(ARM, AMD_V2)) == 1
    with pytest.raises(NoMatchingPlatformError) as info:
        PlatformSelector(re.compile("s390x")).select(_index(ARM, AMD_V2))
    assert isinstance(info.value, ReleaseError)
    assert str(info.value) == "filtered all images from manifest list"


def test_copy_prefers_linux_amd64_then_the_first_entry() -> None:
    """copy: linux/amd64 with any variant, else the first entry; no prefix confusion (amd64x, linuxx)."""
    selector = PlatformSelector.preferring("linux", "amd64")
    assert _position(selector, _index(ARM, AMD_V2)) == 1
    assert _position(selector, _index(ARM, None)) == 0
    assert (
        _position(
            selector,
            _index({"os": "linux", "architecture": "amd64x"}, {"os": "linuxx", "architecture": "amd64"}),
        )
        == 0
    )


def test_default_selector_passes_a_single_entry() -> None:
    """info/extract without --filter-by-os: a one-entry list is taken whatever its platform."""
    selector = PlatformSelector.from_flag(None)
    assert selector.is_default
    assert _position(selector, _index({"os": "plan9", "architecture": "mips"})) == 0


def test_bad_filter_raises_the_callers_error_class() -> None:
    """new refuses a bad expression as a usage error, info as a release error (their exit codes differ)."""
    with pytest.raises(UsageError, match="^--filter-by-os was not a valid regular expression: "):
        compile_filter("(", UsageError)
    with pytest.raises(ReleaseError, match="^--filter-by-os was not a valid regular expression: "):
        PlatformSelector.from_flag("(")


@pytest.mark.parametrize(
    ("pattern", "repeat"),
    [
        ("a{99999999999}", "{99999999999}"),  # Python: OverflowError "the repetition number is too large"
        ("linux/(amd64){1001}", "{1001}"),  # Python accepts it
        ("a{2,1}", "{2,1}"),
        ("a{1,99999999999999}", "{1,99999999999999}"),
    ],
)
def test_repeat_counts_are_refused_in_ocs_words(pattern: str, repeat: str) -> None:
    """Hunt #8g: Go's regexp refuses repeat counts past 1000; oc (checked) says so in these words."""
    with pytest.raises(UsageError) as err:
        compile_filter(pattern, UsageError)
    assert str(err.value) == (
        f"--filter-by-os was not a valid regular expression: error parsing regexp: invalid repeat count: `{repeat}`"
    )


@pytest.mark.parametrize("pattern", ["a{1000}", "[a{5000}]", r"\{5000}", "[]{5000}]", "a{3,}"])
def test_repeat_counts_go_accepts_compile(pattern: str) -> None:
    assert compile_filter(pattern, UsageError).pattern == pattern


def test_bad_filter_is_one_usage_line_from_the_cli(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["new", "--filter-by-os", "a{99999999999}", "-f", "/nonexistent", "--to-file", "/nonexistent"])
        == 2
    )
    err = capsys.readouterr().err
    assert err.splitlines()[-1] == (
        "error: --filter-by-os was not a valid regular expression: error parsing regexp: invalid repeat count: "
        "`{99999999999}`"
    )
