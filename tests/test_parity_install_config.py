"""``extract --included --install-config FILE`` refuses wrong-typed fields with the real oc's words.

oc decodes the install-config (YAML converted to JSON with sorted keys) into its
``release.installConfig`` and fails on the first field of the wrong type, writing nothing. oc prints
its "Extracted release payload" line first; okdrelease reads the install-config before fetching
anything, so its stderr is the error line alone.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from oc_oracle import OcRig, Run, oc_release_rig, okd_run

__all__ = ["oc_release_rig"]

_FIELD = "cannot unmarshal {} into Go struct field .{} of type {}"

#: (install-config, Go's error after "error unmarshaling JSON: while decoding JSON: json: ")
REFUSED = [
    ("apiVersion: v1\nplatform: 5\n", _FIELD.format("number", "platform", "map[string]interface {}")),
    (
        "apiVersion: v1\nmetadata: 5\ncapabilities: 7\n",
        _FIELD.format("number", "capabilities", "v1.ClusterVersionCapabilitiesSpec"),
    ),
    ("apiVersion: v1\nmetadata: 5\n", _FIELD.format("number", "metadata", "v1.ObjectMeta")),
    (
        "apiVersion: v1\nmetadata: {name: 5, labels: [1]}\n",
        _FIELD.format("array", "metadata.labels", "map[string]string"),
    ),
    # sorted keys: capabilities is decoded before platform; keys match case-insensitively
    (
        "apiVersion: v1\nplatform: [a]\nCAPABILITIES: x\n",
        _FIELD.format("string", "CAPABILITIES", "v1.ClusterVersionCapabilitiesSpec"),
    ),
    ("apiVersion: 5\n", _FIELD.format("number", "apiVersion", "string")),
    ("apiVersion: v1\nkind: true\n", _FIELD.format("bool", "kind", "string")),
    ("apiVersion: v1\nfeatureSet: {}\n", _FIELD.format("object", "featureSet", "v1.FeatureSet")),
    (
        "apiVersion: v1\ncapabilities: {baselineCapabilitySet: [x]}\n",
        _FIELD.format("array", "capabilities.baselineCapabilitySet", "v1.ClusterVersionCapabilitySet"),
    ),
    (
        "apiVersion: v1\ncapabilities: {additionalEnabledCapabilities: {}}\n",
        _FIELD.format(
            "object", "capabilities.additionalEnabledCapabilities", "[]v1.ClusterVersionCapability"
        ),
    ),
    (
        "apiVersion: v1\ncapabilities: {additionalEnabledCapabilities: [5, {}]}\n",
        "cannot unmarshal object into .capabilities.additionalEnabledCapabilities.1 of type v1.ClusterVersionCapability",
    ),
    ("- a\n", "cannot unmarshal array into Go value of type release.installConfig"),
]


def extract_with_install_config(
    rig: OcRig, text: bytes, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[Run, Run]:
    """oc's and okdrelease's ``extract --included --install-config TMP/install-config.yaml`` (holding ``text``)
    of the rig's realistic release."""
    config = tmp_path / "install-config.yaml"
    config.write_bytes(text)
    args = ["--included", "--install-config", str(config), rig.realistic]
    oc = rig.oc_run(["extract", "--to", str(tmp_path / "oc"), *args])
    return oc, okd_run(["extract", "--to", str(tmp_path / "okd"), *args], capsys)


@pytest.mark.parametrize(("text", "message"), REFUSED)
def test_wrong_typed_fields_are_refused_as_by_oc(
    oc_release_rig: OcRig, text: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """oc's error line and exit code 1; nothing written."""
    config = tmp_path / "install-config.yaml"
    line = f"error: failed to parse {config}: error unmarshaling JSON: while decoding JSON: json: {message}"
    oc, okd = extract_with_install_config(oc_release_rig, text.encode(), tmp_path, capsys)
    assert (oc.code, oc.err.splitlines()[-1]) == (1, line)
    assert (okd.code, okd.out, okd.err) == (1, "", line + "\n")
    assert not (tmp_path / "okd").exists()


@pytest.mark.parametrize(
    ("text", "line"),
    [
        # YAML scalars bound for string fields are converted as sigs.k8s.io/yaml converts them
        (
            "apiVersion: v1\ncapabilities: {baselineCapabilitySet: true}\n",
            'error: unrecognized baselineCapabilitySet "true"',
        ),
        (
            "apiVersion: v1\ncapabilities: {baselineCapabilitySet: 4.1}\n",
            'error: unrecognized baselineCapabilitySet "4.1"',
        ),
    ],
)
def test_scalars_read_as_strings_as_by_oc(
    oc_release_rig: OcRig, text: str, line: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bool or number where a string is expected is that string (Python's str(True) was "True")."""
    oc, okd = extract_with_install_config(oc_release_rig, text.encode(), tmp_path, capsys)
    assert (oc.code, oc.err.splitlines()[-1]) == (1, line)
    assert (okd.code, okd.out, okd.err) == (1, "", line + "\n")
