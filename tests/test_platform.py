"""The one manifest-list entry selector (oci/platform.py) in each of its uses: new, info/extract, copy."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

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
