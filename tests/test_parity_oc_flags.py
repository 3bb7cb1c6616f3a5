"""oc command lines okdrelease takes as oc does, each run by the real oc too: ``--skip-verification`` on
info and extract, kubectl's ``--template`` printer flag with ``-o go-template``/``template``/``jsonpath``;
and ``-n`` explained as ``--namespace`` is (oc reads it as a cluster namespace, which okdrelease never uses)."""

from __future__ import annotations

from pathlib import Path

import pytest
from oc_oracle import OcRig, oc_release_rig, okd_run

from okdrelease._cli.common import CLUSTER_FLAGS

__all__ = ["oc_release_rig"]

VERSION = "4.15.0-0.okd-scos-2024-01-18-223523"


@pytest.mark.parametrize(
    ("flags", "stdout"),
    [
        (["-o", "go-template", "--template={{.metadata.version}}"], VERSION),
        (["--template", "{{.metadata.version}}|", "-o", "go-template"], VERSION + "|"),
        (["-o", "template", "--template={{.metadata.version}}"], VERSION),
        (["-o", "jsonpath", "--template={.metadata.version}"], VERSION),
        (["-o", "go-template={{.metadata.version}}"], VERSION),
    ],
)
def test_info_template_flag_as_oc_reads_it(
    flags: list[str], stdout: str, oc_release_rig: OcRig, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["info", *flags, oc_release_rig.realistic]
    ours = okd_run(argv, capsys)
    assert (ours.code, ours.out, ours.err) == (0, stdout, "")
    theirs = oc_release_rig.oc_run(argv)
    assert (theirs.code, theirs.out, theirs.err) == (0, stdout, "")


def test_info_template_flag_with_a_file_and_ignored_by_other_formats(
    oc_release_rig: OcRig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    template = tmp_path / "t.tmpl"
    template.write_text("{{.metadata.version}}\n")
    for argv in (
        ["info", "-o", "go-template-file", f"--template={template}", oc_release_rig.realistic],
        ["info", "-o", "name", "--template=x", "--skip-verification", oc_release_rig.realistic],
    ):
        ours = okd_run(argv, capsys)
        theirs = oc_release_rig.oc_run(argv)
        assert (ours.code, ours.err) == (theirs.code, theirs.err) == (0, "")
        assert ours.out == theirs.out
    assert ours.out.splitlines()[:2] == ["alibaba-cloud-controller-manager", "alibaba-cloud-csi-driver"]


def test_info_refuses_a_template_given_twice_or_not_at_all(
    oc_release_rig: OcRig, capsys: pytest.CaptureFixture[str]
) -> None:
    """oc refuses these too (exit 1: 'output mode only supports …', 'template format specified but no
    template given'); okdrelease's usage errors exit 2."""
    twice = ["info", "-o", "go-template={{.metadata.version}}", "--template=x", oc_release_rig.realistic]
    ours = okd_run(twice, capsys)
    assert (ours.code, ours.out) == (2, "")
    assert ours.err.splitlines()[-1] == (
        "error: --output only supports json, pullspec, digest, name, go-template, go-template-file, template,"
        " templatefile, jsonpath, jsonpath-as-json, jsonpath-file: --template cannot be combined with"
        " go-template={{.metadata.version}}"
    )
    assert oc_release_rig.oc_run(twice).err.startswith("error: output mode only supports json, pullspec")
    empty = ["info", "-o", "go-template", "--template=", oc_release_rig.realistic]
    ours = okd_run(empty, capsys)
    assert (ours.code, ours.out, ours.err.splitlines()[-1]) == (
        2,
        "",
        "error: template format specified but no template given",
    )
    assert oc_release_rig.oc_run(empty).err == "error: template format specified but no template given\n"


def test_extract_takes_skip_verification(
    oc_release_rig: OcRig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ours = okd_run(
        ["extract", "--skip-verification", "--to", str(tmp_path / "ours"), oc_release_rig.realistic], capsys
    )
    assert (ours.code, ours.err) == (0, "")
    theirs = oc_release_rig.oc_run(
        ["extract", "--skip-verification", "--to", str(tmp_path / "theirs"), oc_release_rig.realistic]
    )
    assert theirs.code == 0
    names = sorted(p.name for p in (tmp_path / "ours").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "theirs").iterdir())
    assert "image-references" in names and "release-metadata" in names


@pytest.mark.parametrize("flags", [["-n", "ns"], ["-nns"], ["-n=ns"]])
def test_short_namespace_flag_is_explained_as_the_long_one(
    flags: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    for command in (["info", "quay.io/a/b:1"], ["extract", "quay.io/a/b:1"], ["new"]):
        code = okd_run([*command[:1], *flags, *command[1:]], capsys)
        assert (code.code, code.out) == (2, "")
        assert code.err.splitlines()[-1] == "error: " + CLUSTER_FLAGS["-n"]
    assert CLUSTER_FLAGS["-n"] == (
        "-n/--namespace names a cluster namespace and okdrelease never talks to a cluster: give the image"
        " or file it should read instead"
    )
