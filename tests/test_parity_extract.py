"""``okdrelease extract`` against the real ``oc adm release extract`` on releases oc built from real OKD operators."""

from __future__ import annotations

from pathlib import Path

import pytest
from oc_oracle import (
    CONFIG_CASES,
    CONFIG_REFUSED,
    CREATED_READ,
    CREATED_REFUSED,
    FLOW_YAML,
    OcRig,
    fresh,
    oc_release_rig,
    okd_run,
    tree,
    with_config,
    without_created,
)

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
    assert got[FLOW_YAML] == (
        b"---\napiVersion: v1\nkind: Edge\nmetadata:\n  name: flow\nspec:\n  b: true\n  f: 1.5\n"
        b'  image: quay.io/a/b@sha256:0123\n  m: {}\n  s: "012"\n'
    )
    # the JSON key "n" is kept (quoted on output); the YAML key n is YAML 1.1's false
    assert got["0000_99_edge_08_json_then_yaml.yaml"] == (
        b'---\napiVersion: v1\nkind: Edge\nmetadata:\n  name: first\n"n": 1\n'
        b'---\napiVersion: v1\n"false": 1\nkind: Edge\nmetadata:\n  name: second\n'
    )
    assert (
        got["0000_99_edge_09_bom.json"]
        == b'---\napiVersion: v1\nkind: Edge\nmetadata:\n  name: bom-json\n"n": 1000\n'
    )
    name = "0000_00_cluster-version-operator_03_deployment.yaml"
    assert oc_err.startswith(f"Errors: error parsing {name}: ")
    assert okd_err.startswith(f"Errors: error parsing {name}: ")
    assert okd_err.count("\n") == 1


@pytest.mark.parametrize("by", ["tag", "digest"])
def test_extract_of_a_release_without_created_prints_gos_zero_time(
    oc_release_rig: OcRig, by: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A release config without ``created``: oc prints Go's zero time (``created at ``, empty, before)."""
    by_tag, by_digest = without_created(oc_release_rig)
    release = by_tag if by == "tag" else by_digest
    expected, got, oc_err, okd_err = _extract_both(oc_release_rig, release, tmp_path, capsys)
    assert _differences(expected, got) == []
    assert (oc_err, okd_err) == ("", "")
    assert okd_run(["extract", "--to", str(fresh(tmp_path / "again")), release], capsys).out.endswith(
        " created at 0001-01-01T00:00:00Z\n"
    )


#: Release configs for extract: (tag, fields set, whether oc refuses the config). ``created`` values
#: (by their index): Go's RFC 3339 rules, the zone as written; history times and every field's type.
EXTRACT_CONFIGS = [
    (f"created-{index}", {"created": created}, created in CREATED_REFUSED)
    for index, created in enumerate(CREATED_READ + CREATED_REFUSED)
] + [(f"config-{case}", fields, case in CONFIG_REFUSED) for case, fields in sorted(CONFIG_CASES.items())]


@pytest.mark.parametrize(
    ("tag", "fields", "refused"), EXTRACT_CONFIGS, ids=[tag for tag, _, _ in EXTRACT_CONFIGS]
)
def test_extract_reads_the_release_config_as_oc(
    oc_release_rig: OcRig,
    tag: str,
    fields: dict[str, object],
    refused: bool,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The release config as oc decodes it and the ``created`` it prints; oc's error (exit 1, nothing
    written) for a config Go refuses (extract succeeded before: every ``created``, history and field
    type error)."""
    release, _by_digest = with_config(oc_release_rig, fields, tag)
    expected, got, oc_err, okd_err = _extract_both(oc_release_rig, release, tmp_path, capsys)
    assert _differences(expected, got) == []
    assert okd_err == oc_err
    if refused:
        assert got == {}
        assert okd_err.startswith(
            f"error: unable to parse image {release}: unable to parse image configuration: "
        )


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


AWS_INSTALL_CONFIG = "apiVersion: v1\nmetadata:\n  name: test\nplatform:\n  aws:\n    region: us-east-1\n"
GCP_TECH_PREVIEW = (
    "apiVersion: v1\nmetadata:\n  name: test\nfeatureSet: TechPreviewNoUpgrade\n"
    "capabilities:\n  baselineCapabilitySet: v4.12\n  additionalEnabledCapabilities: [Build]\nplatform:\n  gcp: {}\n"
)


@pytest.mark.parametrize(
    ("args", "count"),
    [
        (["--credentials-requests", "--cloud=aws"], 4),
        (["--credentials-requests"], 23),
        (["--credentials-requests", "--cloud", "azure"], 5),
        (["--included", "--install-config", "{aws}"], 455),
        (["--included", "--install-config", "{aws}", "--credentials-requests"], 3),
    ],
)
def test_the_ccoctl_flow_gives_ocs_files(
    oc_release_rig: OcRig, args: list[str], count: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """extract --credentials-requests [--cloud] [--included --install-config]: oc's files, stdout and warning."""
    (tmp_path / "install-config.yaml").write_text(AWS_INSTALL_CONFIG)
    args = [arg.replace("{aws}", str(tmp_path / "install-config.yaml")) for arg in args]
    expected, got, oc_err, okd_err = _extract_both(
        oc_release_rig, oc_release_rig.realistic, tmp_path, capsys, *args
    )
    assert len(expected) == count
    assert _differences(expected, got) == []
    assert okd_err == oc_err


def test_included_with_a_feature_set_and_capabilities_gives_ocs_files(
    oc_release_rig: OcRig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """TechPreviewNoUpgrade, a v4.12 baseline plus Build, on gcp: the same 421 files (oc also logs a klog line)."""
    (tmp_path / "install-config.yaml").write_text(GCP_TECH_PREVIEW)
    config = str(tmp_path / "install-config.yaml")
    expected, got, _oc_err, okd_err = _extract_both(
        oc_release_rig, oc_release_rig.realistic, tmp_path, capsys, "--included", "--install-config", config
    )
    assert len(expected) == 421
    assert _differences(expected, got) == []
    assert okd_err == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--cloud", "aws"], "error: --cloud is only supported with --credentials-requests or --included\n"),
        (["--install-config", "x.yaml"], "error: --install-config is only supported with --included\n"),
        (
            ["--credentials-requests", "--cloud", "foo"],
            "error: --cloud value not recognized, must be one of: [",
        ),
    ],
)
def test_extract_flag_errors_are_ocs(
    oc_release_rig: OcRig, args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """oc's messages (okdrelease exits 2 for usage errors where oc exits 1)."""
    oc = oc_release_rig.oc_run(["extract", "--to", str(tmp_path / "oc"), *args, oc_release_rig.realistic])
    okd = okd_run(["extract", "--to", str(tmp_path / "okd"), *args, oc_release_rig.realistic], capsys)
    assert (oc.code, oc.err.startswith(message)) == (1, True), oc.err
    assert (okd.code, okd.err.startswith(message)) == (2, True), okd.err


def test_cloud_must_match_the_install_config_platform(
    oc_release_rig: OcRig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """oc's error line when --cloud contradicts the install-config; okdrelease says it before fetching anything."""
    (tmp_path / "ic.yaml").write_text(AWS_INSTALL_CONFIG)
    args = ["--included", "--install-config", str(tmp_path / "ic.yaml"), "--cloud", "gcp"]
    oc = oc_release_rig.oc_run(["extract", "--to", str(tmp_path / "oc"), *args, oc_release_rig.realistic])
    okd = okd_run(["extract", "--to", str(tmp_path / "okd"), *args, oc_release_rig.realistic], capsys)
    line = f'error: --cloud "gcp" set, but {tmp_path / "ic.yaml"} has "aws"\n'
    assert (oc.code, oc.err) == (1, line)
    assert (okd.code, okd.out, okd.err) == (1, "", line)


@pytest.mark.parametrize("case", sorted(CONFIG_CASES))
def test_extract_file_decodes_the_release_config_as_oc(
    oc_release_rig: OcRig, case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """--file reads the config first, as oc does: its error for a config it refuses (the file was
    printed before), the file byte for byte otherwise."""
    release, _by_digest = with_config(oc_release_rig, CONFIG_CASES[case], f"config-{case}")
    oc = oc_release_rig.oc_run(["extract", "--file", "release-metadata", release])
    okd = okd_run(["extract", "--file", "release-metadata", release], capsys)
    assert okd == oc
    assert oc.code == (1 if case in CONFIG_REFUSED else 0), oc.err
