"""``new --from-release`` decodes the input release's config and every component's config as oc does
(``read.check_config``): a time Go's decoder refuses, in ``created`` or a history entry, fails the run in
oc's words before anything is written (okdrelease built and pushed the release before). Checked against
the real oc on the same releases (``oc_oracle``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from oc_oracle import OcRig, oc_release_rig, okd_run, with_component_configs, with_config

__all__ = ["oc_release_rig"]

#: Config fields oc's decoder refuses (``parsing time ...: month out of range`` and the like).
REFUSED = {
    "history-month": {"history": [{"created": "2024-13-45T00:00:00Z", "created_by": "x"}]},
    "history-offset": {"history": [{"created_by": "a"}, {"created": "2024-01-01T00:00:00+25:00"}]},
    "history-type": {"history": [{"created": 5}]},
    "created-day": {"created": "2024-02-30T00:00:00Z"},
}


def _compare(rig: OcRig, release: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """Run oc and okdrelease ``new --from-release RELEASE --to-dir``: same exit code (1), the same
    error line, no directory written by either; the error line."""
    oc = rig.oc_run(["new", "--from-release", release, "--to-dir", str(tmp_path / "oc")])
    okd = okd_run(["new", "--from-release", release, "--to-dir", str(tmp_path / "okd")], capsys)
    assert (okd.code, oc.code) == (1, 1), (okd.err, oc.err)
    assert okd.err.splitlines()[-1] == oc.err.splitlines()[-1]
    assert not (tmp_path / "oc").exists() and not (tmp_path / "okd").exists()
    return okd.err.splitlines()[-1]


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_a_release_config_oc_refuses_fails_new_from_release(
    oc_release_rig: OcRig, case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    release, _ = with_config(oc_release_rig, REFUSED[case], f"new-config-{case}")
    line = _compare(oc_release_rig, release, tmp_path, capsys)
    assert line.startswith(f"error: unable to parse image {release}: unable to parse image configuration: ")


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_a_component_config_oc_refuses_fails_new_from_release(
    oc_release_rig: OcRig, case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    release = with_component_configs(oc_release_rig, [{}, REFUSED[case]], f"new-components-{case}")
    line = _compare(oc_release_rig, release, tmp_path, capsys)
    assert line.startswith(f"error: unable to parse image {oc_release_rig.host}/parity/times@sha256:")
    assert ": unable to parse image configuration: " in line
