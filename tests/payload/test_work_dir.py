"""``new --dir DIR`` never writes outside DIR (issue 11 item 1): names from the input are checked, symlinks not followed."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import attrs
import pytest

from okdrelease.errors import ReleaseError
from okdrelease.payload.pipeline import new_release
from okdrelease.payload.plan import NewOptions, parse_created

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "testdata" / "sample-payload"
REPO = "quay.io/okd/scos-content"
OPERATOR = "cluster-dns-operator"


def _digest(tag: str) -> str:
    for entry in json.loads((SAMPLE / "index.json").read_bytes())["manifests"]:
        if entry["annotations"]["org.opencontainers.image.ref.name"] == tag:
            return str(entry["digest"])
    raise AssertionError(tag)


def _options(work: Path, **changes: Any) -> NewOptions:
    base = NewOptions(
        from_oci_layout=str(SAMPLE),
        layout_repository=REPO,
        name="4.16.0-okd.sample",
        created=parse_created("2024-05-01T00:00:00Z"),
        to_file="-",
        dir=str(work),
    )
    return attrs.evolve(base, **changes)


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def test_tag_climbing_out_of_dir_is_refused(tmp_path: Path) -> None:
    """A mapping source ``../../escaped`` would land two levels above DIR: refused, nothing written there."""
    work = tmp_path / "a" / "work"
    mapping = f"../../escaped={REPO}@{_digest(OPERATOR)}"
    with pytest.raises(ReleaseError) as info:
        new_release(_options(work, mappings=(mapping,)))
    assert str(info.value) == (
        f'--dir {work}: tag "../../escaped" is not a single file name; it would be written outside {work}'
    )
    assert _files(tmp_path) == []


def test_absolute_tag_is_refused(tmp_path: Path) -> None:
    """A mapping source that is an absolute path is not joined onto DIR as the path itself."""
    work = tmp_path / "work"
    target = tmp_path / "abs"
    with pytest.raises(ReleaseError) as info:
        new_release(_options(work, mappings=(f"{target}={REPO}@{_digest(OPERATOR)}",)))
    assert str(info.value) == (
        f'--dir {work}: tag "{target}" is not a single file name; it would be written outside {work}'
    )
    assert not target.exists()


def test_symlink_inside_dir_is_not_followed(tmp_path: Path) -> None:
    """DIR/<tag> already a symlink to elsewhere: refused, the symlink's target stays empty."""
    work = tmp_path / "work"
    outside = tmp_path / "outside"
    work.mkdir()
    outside.mkdir()
    (work / OPERATOR).symlink_to(outside)
    with pytest.raises(ReleaseError) as info:
        new_release(_options(work))
    assert str(info.value) == (
        f'--dir {work}: tag "{OPERATOR}" is a symlink or a file, not a directory inside {work}'
    )
    assert os.listdir(outside) == []


def test_file_symlink_inside_dir_is_replaced_not_written_through(tmp_path: Path) -> None:
    """DIR/image-references a symlink to a file elsewhere: the link is replaced, the file untouched."""
    work = tmp_path / "work"
    work.mkdir()
    victim = tmp_path / "victim"
    victim.write_bytes(b"keep")
    (work / "image-references").symlink_to(victim)
    new_release(_options(work))
    assert victim.read_bytes() == b"keep"
    assert not (work / "image-references").is_symlink()
    assert json.loads((work / "image-references").read_bytes())["kind"] == "ImageStream"
    assert (work / OPERATOR).is_dir()


def test_a_dir_that_cannot_be_made_leaves_no_parents(tmp_path: Path) -> None:
    """``--dir a/b/<a name too long>``: a and b are made before the last mkdir fails; both are removed again."""
    work = tmp_path / "a" / "b" / ("x" * 300)
    with pytest.raises(ReleaseError) as info:
        new_release(_options(work))
    assert str(info.value) == f"unable to write --dir {work}: File name too long"
    assert _files(tmp_path) == []
