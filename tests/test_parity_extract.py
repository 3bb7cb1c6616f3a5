"""``okdrelease extract`` against the real ``oc adm release extract`` on releases oc built from real OKD operators."""

from __future__ import annotations

from pathlib import Path

import pytest
from oc_oracle import OcRig, fresh, oc_release_rig, okd_run, tree

__all__ = ["oc_release_rig"]


def _extract_both(
    rig: OcRig, release: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], *extra: str
) -> tuple[dict[str, bytes], dict[str, bytes], str, str]:
    oc_dir, okd_dir = fresh(tmp_path / "oc"), fresh(tmp_path / "okd")
    oc = rig.oc_run(["extract", "--to", str(oc_dir), *extra, release])
    okd = okd_run(["extract", "--to", str(okd_dir), *extra, release], capsys)
    assert (okd.code, okd.out) == (oc.code, oc.out), okd.err
    return tree(oc_dir), tree(okd_dir), oc.err, okd.err


def _differences(expected: dict[str, bytes], got: dict[str, bytes]) -> list[str]:
    names = sorted(set(expected) | set(got))
    return [name for name in names if expected.get(name) != got.get(name)]


def test_extract_of_the_realistic_release_is_file_for_file_ocs(
    oc_release_rig: OcRig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """497 files: quoting, folding past column 80, literal blocks and kept final line breaks as oc."""
    expected, got, oc_err, okd_err = _extract_both(oc_release_rig, oc_release_rig.realistic, tmp_path, capsys)
    assert len(expected) == 497
    assert _differences(expected, got) == []
    assert (oc_err, okd_err) == ("", "")


def test_extract_of_every_real_manifest_is_file_for_file_ocs(
    oc_release_rig: OcRig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every manifest of ../shared/testdata-real, and oc's error line for the one that does not parse."""
    expected, got, oc_err, okd_err = _extract_both(
        oc_release_rig, oc_release_rig.every_file, tmp_path, capsys
    )
    assert len(expected) > 600
    assert _differences(expected, got) == []
    name = "0000_00_cluster-version-operator_03_deployment.yaml"
    assert oc_err.startswith(f"Errors: error parsing {name}: ")
    assert okd_err.startswith(f"Errors: error parsing {name}: ")
    assert okd_err.count("\n") == 1


def test_a_value_go_yaml_cannot_read_back_fails_as_in_oc(
    oc_release_rig: OcRig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A DEL character: oc fails with its serializing error; okdrelease says the same and writes nothing."""
    oc = oc_release_rig.oc_run(["extract", "--to", str(fresh(tmp_path / "oc")), oc_release_rig.control])
    okd = okd_run(["extract", "--to", str(tmp_path / "okd"), oc_release_rig.control], capsys)
    line = (
        "error: error serializing manifest in 0000_99_control.yaml: yaml: control characters are not allowed"
    )
    assert (oc.code, oc.err.splitlines()[-1]) == (1, line)
    assert (okd.code, okd.err.splitlines()) == (1, [line])
    assert not (tmp_path / "okd").exists()
