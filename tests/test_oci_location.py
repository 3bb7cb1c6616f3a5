"""``oci:DIR[:REF]`` as containers/image (skopeo) reads it, and ref names checked before any blob is written.

containers/image splits an ``oci:`` reference at the first colon (``strings.Cut`` in
``oci/internal.SplitPathAndImage``): the directory holds no ':', the ref name may hold ':' and '/'
(the OCI ref.name grammar). Hunt #10 and #14.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from imagegen import build_image
from test_faults import cli, one_error_line, seed_layout

from okdrelease.errors import InvalidReferenceError
from okdrelease.reference import LayoutLocation, parse_location

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("oci:/d", LayoutLocation("/d")),
        ("oci:/d:", LayoutLocation("/d")),
        ("oci:/d:okd/release", LayoutLocation("/d", "okd/release")),
        ("oci:/d:a:b", LayoutLocation("/d", "a:b")),
        ("oci:rel:okd/release:4.16.0-okd", LayoutLocation("rel", "okd/release:4.16.0-okd")),
        (f"oci:/d:a:b@{DIGEST}", LayoutLocation("/d", "a:b", DIGEST)),
        (f"oci:/d@{DIGEST}", LayoutLocation("/d", None, DIGEST)),
    ],
)
def test_layout_locations_split_at_the_first_colon(text: str, expected: LayoutLocation) -> None:
    assert parse_location(text) == expected
    if expected.refname or not text.endswith(":"):
        assert str(parse_location(text)) == text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("oci:", "invalid OCI layout location 'oci:': no directory"),
        ("oci::x", "invalid OCI layout location 'oci::x': no directory"),
        ("oci:/d:ünï/../x", "invalid OCI layout ref name 'ünï/../x'"),
        ("oci:/d:a//b", "invalid OCI layout ref name 'a//b'"),
    ],
)
def test_bad_layout_locations_are_refused(text: str, message: str) -> None:
    with pytest.raises(InvalidReferenceError) as err:
        parse_location(text)
    assert str(err.value) == message


def test_ref_names_with_colons_and_slashes_round_trip_with_skopeo(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image = build_image(seed="colon-refs")
    source = seed_layout(tmp_path / "src", image)
    skopeo_written = tmp_path / "skrel"
    subprocess.run(
        ["skopeo", "copy", "-q", "--preserve-digests", source, f"oci:{skopeo_written}:okd/release:4.16"],
        capture_output=True,
        text=True,
        check=True,
    )
    ours = tmp_path / "ours"
    code, out, err = cli(capsys, "copy", "-q", f"oci:{skopeo_written}:okd/release:4.16", f"oci:{ours}:a:b/c")
    assert (code, err) == (0, ""), err
    index = json.loads((ours / "index.json").read_text())
    assert [entry["annotations"]["org.opencontainers.image.ref.name"] for entry in index["manifests"]] == [
        "a:b/c"
    ]
    raw = subprocess.run(
        ["skopeo", "inspect", "--raw", f"oci:{ours}:a:b/c"], capture_output=True, check=True
    ).stdout
    assert raw == image.manifest


def test_oci_colon_without_directory_is_refused_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    source = seed_layout(tmp_path / "src", build_image(seed="no-dir"))
    monkeypatch.chdir(tmp_path)
    code, out, err = cli(capsys, "copy", "-q", source, "oci::x")
    assert (code, out) == (1, "")  # as for "oci:"
    assert one_error_line(err) == "error: invalid OCI layout location 'oci::x': no directory"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def test_copy_refuses_an_invalid_ref_name_before_writing_a_blob(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Hunt #14: every ref name of a layout copied into an existing layout; one cannot be a ref name."""
    seed_layout(tmp_path / "odd", build_image(seed="odd-ref"))
    index_path = tmp_path / "odd" / "index.json"
    index = json.loads(index_path.read_text())
    index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"] = "ünï/../x"
    index_path.write_text(json.dumps(index))
    existing = tmp_path / "rel2"
    seed_layout(existing, build_image(seed="existing"))
    before = _files(existing)
    index_before = (existing / "index.json").read_bytes()
    for target in (f"oci:{existing}", f"oci:{tmp_path / 'fresh'}"):
        code, out, err = cli(capsys, "copy", "-q", f"oci:{tmp_path / 'odd'}", target)
        assert (code, out) == (2, "")
        assert one_error_line(err) == (
            f"error: oci:{tmp_path / 'odd'} has ref name 'ünï/../x', which cannot be a ref name in {target}"
        )
    assert _files(existing) == before
    assert (existing / "index.json").read_bytes() == index_before
    assert not (tmp_path / "fresh").exists()
