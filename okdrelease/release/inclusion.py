"""``extract --included --install-config FILE``: the manifests a cluster described by an install-config applies.

The rules are the cluster-version operator's inclusion rules for manifest annotations, as oc applies
them for an install-config (no cluster connection):

* a manifest without annotations is excluded;
* ``release.openshift.io/feature-set`` (comma list of known sets) must contain the install-config's
  ``featureSet`` (``Default`` when empty); a manifest may not carry both that annotation and
  ``release.openshift.io/feature-gate``;
* ``release.openshift.io/feature-gate`` names gates that must be enabled (``-name``: disabled); the
  enabled gates are those of the payload's FeatureGate manifests that apply to the release's major
  version, the ``self-managed-high-availability`` profile and the feature set;
* ``release.openshift.io/major-version`` (FeatureGate and CustomResourceDefinition only) lists
  included and ``-``excluded major versions;
* ``include.release.openshift.io/self-managed-high-availability`` must be ``"true"``;
* ``capability.openshift.io/name`` (``+``-separated) must name known, enabled capabilities, when the
  install-config has a ``capabilities`` section (baseline set plus additional capabilities).

The install-config's single ``platform`` key also selects the CredentialsRequests' provider kind.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from okdrelease._repr import value_repr
from okdrelease.errors import ReleaseError
from okdrelease.gocompat.gojson import GoJSONError, decode_typed, loads_go
from okdrelease.gocompat.semver import SemverError, parse
from okdrelease.gocompat.yamldecode import DECODER_KEY_WORD
from okdrelease.openshift import k8syaml

if TYPE_CHECKING:
    from okdrelease.release.extract import Includer, PayloadFile

PROFILE = "self-managed-high-availability"
FEATURE_SET = "release.openshift.io/feature-set"
FEATURE_GATE = "release.openshift.io/feature-gate"
MAJOR_VERSION = "release.openshift.io/major-version"
CAPABILITY = "capability.openshift.io/name"
KNOWN_FEATURE_SETS = frozenset(
    {"CustomNoUpgrade", "Default", "DevPreviewNoUpgrade", "OKD", "TechPreviewNoUpgrade"}
)

_CAPS_4_11 = ("baremetal", "marketplace", "openshift-samples", "MachineAPI")
_CAPS_4_12 = (*_CAPS_4_11, "Console", "Insights", "Storage", "CSISnapshot")
_CAPS_4_13 = (*_CAPS_4_12, "NodeTuning")
_CAPS_4_14 = (*_CAPS_4_13, "Build", "DeploymentConfig", "ImageRegistry")
_CAPS_4_15 = (*_CAPS_4_14, "OperatorLifecycleManager", "CloudCredential")
_CAPS_4_16 = (*_CAPS_4_15, "Ingress", "CloudControllerManager")
_CAPS_4_18 = (*_CAPS_4_16, "OperatorLifecycleManagerV1")
#: openshift/api's capability sets (as in the oc oracle, openshift/oc 6b8e30c5b).
CAPABILITY_SETS: Mapping[str, tuple[str, ...]] = {
    "None": (),
    "v4.11": _CAPS_4_11,
    "v4.12": _CAPS_4_12,
    "v4.13": _CAPS_4_13,
    "v4.14": _CAPS_4_14,
    "v4.15": _CAPS_4_15,
    "v4.16": _CAPS_4_16,
    "v4.17": _CAPS_4_16,
    "v4.18": _CAPS_4_18,
    "vCurrent": _CAPS_4_18,
}
KNOWN_CAPABILITIES = frozenset(_CAPS_4_18)


@attrs.frozen
class InclusionConfig:
    """What decides inclusion: feature set, enabled gates and major version (None: not checked), capabilities."""

    __repr__ = value_repr

    feature_set: str
    platform: str | None
    enabled_capabilities: frozenset[str] | None
    enabled_gates: frozenset[str] | None = None
    major_version: int | None = None

    def include(self, doc: Mapping[str, Any]) -> str | None:
        """Why ``doc`` is excluded, or None when the cluster would apply it."""
        annotations = _annotations(doc)
        if annotations is None:
            return "no annotations"
        if self.enabled_gates is not None and FEATURE_SET in annotations and FEATURE_GATE in annotations:
            return "both feature set and feature gate annotations are present"
        for check in (
            self._feature_set,
            self._feature_gates,
            self._major_version,
            _profile,
            self._capabilities,
        ):
            reason = check(annotations)
            if reason is not None:
                return reason
        return None

    def _feature_set(self, annotations: Mapping[str, str]) -> str | None:
        if FEATURE_SET not in annotations:
            return None
        values = annotations[FEATURE_SET].split(",")
        unknown = [value for value in values if value not in KNOWN_FEATURE_SETS]
        if unknown:
            return f"unrecognized value {unknown[0]!r} in {FEATURE_SET}"
        required = self.feature_set or "Default"
        return None if required in values else f"{required!r} is required"

    def _feature_gates(self, annotations: Mapping[str, str]) -> str | None:
        if self.enabled_gates is None or FEATURE_GATE not in annotations:
            return None
        for requirement in (part.strip() for part in annotations[FEATURE_GATE].split(",")):
            if requirement.startswith("-") and requirement[1:] in self.enabled_gates:
                return f"feature gate {requirement[1:]} is enabled but manifest requires it to be disabled"
            if requirement and not requirement.startswith("-") and requirement not in self.enabled_gates:
                return f"feature gate {requirement} is required but not enabled"
        return None

    def _major_version(self, annotations: Mapping[str, str]) -> str | None:
        if self.major_version is None or MAJOR_VERSION not in annotations:
            return None
        wanted: set[int] = set()
        unwanted: set[int] = set()
        for requirement in (part.strip() for part in annotations[MAJOR_VERSION].split(",")):
            if not requirement:
                continue
            target = unwanted if requirement.startswith("-") else wanted
            digits = requirement.lstrip("-")
            if not digits.isdigit():
                return f"invalid major version {digits!r} in annotation"
            target.add(int(digits))
        if wanted & unwanted:
            return "inclusion and exclusion requirements overlap"
        if self.major_version in wanted:
            return None
        if self.major_version in unwanted or wanted:
            return f"major version {self.major_version} is not included"
        return None

    def _capabilities(self, annotations: Mapping[str, str]) -> str | None:
        if self.enabled_capabilities is None or not annotations.get(CAPABILITY):
            return None
        names = annotations[CAPABILITY].split("+")
        unknown = [name for name in names if name not in KNOWN_CAPABILITIES]
        if unknown:
            return f"unrecognized capability names: {', '.join(unknown)}"
        disabled = [name for name in names if name not in self.enabled_capabilities]
        return f"disabled capabilities: {', '.join(disabled)}" if disabled else None


def _profile(annotations: Mapping[str, str]) -> str | None:
    key = f"include.release.openshift.io/{PROFILE}"
    if key not in annotations:
        return f"{key} unset"
    return None if annotations[key] == "true" else f"unrecognized value {key}={annotations[key]}"


def _annotations(doc: Mapping[str, Any]) -> Mapping[str, str] | None:
    metadata = doc.get("metadata")
    annotations = metadata.get("annotations") if isinstance(metadata, Mapping) else None
    if not isinstance(annotations, Mapping):
        return None
    return {str(key): str(value) for key, value in annotations.items()}


def _applies(gate: Mapping[str, Any], major: int, feature_set: str) -> bool:
    """A payload FeatureGate for this version, the self-managed profile and the feature set."""
    annotations = _annotations(gate) or {}
    versions = annotations.get(MAJOR_VERSION)
    if versions is not None and str(major) not in (v.strip() for v in versions.split(",")):
        return False
    if annotations.get(f"include.release.openshift.io/{PROFILE}") != "false-except-for-the-config-operator":
        return False
    return annotations.get(FEATURE_SET) == (feature_set or "Default")


def _gates(files: Iterable[PayloadFile], feature_set: str) -> tuple[frozenset[str], int] | None:
    """Enabled gates and major version from the payload's FeatureGates; None when they cannot be told."""
    from okdrelease.release.extract import parse_manifest

    version = ""
    gates: list[Mapping[str, Any]] = []
    for item in files:
        if item.name == "release-metadata":
            try:
                version = str((loads_go(item.data) or {}).get("version") or "")
            except (ValueError, AttributeError, ReleaseError):
                return None
        elif item.name.endswith((".yaml", ".yml", ".json")):
            try:
                docs = parse_manifest(item.name, item.data)
            except ReleaseError:
                continue
            gates.extend(
                d
                for d in docs
                if (d.get("apiVersion"), d.get("kind")) == ("config.openshift.io/v1", "FeatureGate")
            )
    try:
        major = int(parse(version).major)
    except (SemverError, ValueError):
        return None
    enabled: set[str] = set()
    for gate in gates:
        if _applies(gate, major, feature_set):
            for entry in (gate.get("status") or {}).get("featureGates") or []:
                enabled.update(
                    str(item.get("name")) for item in entry.get("enabled") or [] if isinstance(item, Mapping)
                )
    return frozenset(enabled), major


def read_install_config(path: str) -> InclusionConfig:
    """Parse ``path`` as oc does (``apiVersion: v1``, ``featureSet``, ``platform``, ``capabilities``)."""
    try:
        with open(path, "rb") as handle:
            text = handle.read()
    except OSError as err:
        raise ReleaseError(f"open {path}: {err.strerror or err}") from err
    try:  # sigs.k8s.io/yaml's Unmarshal: the first document, read as YAML (JSON too)
        data = k8syaml.load_yaml(text, DECODER_KEY_WORD)
    except GoJSONError as err:
        raise ReleaseError(f"failed to parse {path}: {err}") from err
    if data is None:
        data = {}
    problem = _install_config_type_error(data)
    if problem is not None:
        raise ReleaseError(
            f"failed to parse {path}: error unmarshaling JSON: while decoding JSON: json: {problem}"
        )
    if data.get("apiVersion") != "v1":
        raise ReleaseError(
            f'unrecognized {path} API version: "{data.get("apiVersion") or ""}" (expected "v1")'
        )
    platforms = sorted(data.get("platform") or {}) if isinstance(data.get("platform"), dict) else []
    capabilities: frozenset[str] | None = None
    section = data.get("capabilities")
    if isinstance(section, dict):
        baseline = _yaml_string(section.get("baselineCapabilitySet"))
        if baseline not in CAPABILITY_SETS:
            raise ReleaseError(f'unrecognized baselineCapabilitySet "{baseline}"')
        extra = [_yaml_string(name) for name in section.get("additionalEnabledCapabilities") or []]
        capabilities = frozenset((*CAPABILITY_SETS[baseline], *extra))
    return InclusionConfig(
        feature_set=_yaml_string(data.get("featureSet")),
        platform=platforms[0] if platforms else None,
        enabled_capabilities=capabilities,
    )


#: The install-config fields oc decodes (its ``release.installConfig``) and their Go types; a
#: ``(name, fields)`` pair is a struct. oc's decoder reports the struct of every field as "".
#: apiVersion and kind (Go's inline TypeMeta) take no YAML scalar as a string; the other strings do.
_STRICT_STRING = "string "
_INSTALL_CONFIG: tuple[tuple[str, Any], ...] = (
    ("apiVersion", _STRICT_STRING),
    ("kind", _STRICT_STRING),
    ("metadata", ("v1.ObjectMeta", (("labels", "map[string]string"), ("annotations", "map[string]string")))),
    ("platform", "map[string]interface {}"),
    ("featureSet", "v1.FeatureSet"),
    (
        "capabilities",
        (
            "v1.ClusterVersionCapabilitiesSpec",
            (
                ("baselineCapabilitySet", "v1.ClusterVersionCapabilitySet"),
                ("additionalEnabledCapabilities", "[]v1.ClusterVersionCapability"),
            ),
        ),
    ),
)


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _yaml_string(value: Any) -> str:
    """A YAML scalar bound for a Go string field, as sigs.k8s.io/yaml converts it ("" for null)."""
    return "" if value is None else str(decode_typed(value, "string", from_yaml=True))


def _install_config_type_error(data: Any) -> str | None:
    """Go's first "cannot unmarshal" error decoding ``data`` into oc's install-config, or None.

    sigs.k8s.io/yaml hands Go's decoder JSON with sorted keys, so the first error is the first in key
    order; field names match case-insensitively and are reported as written.
    """
    if not isinstance(data, dict):
        return f"cannot unmarshal {_json_kind(data)} into Go value of type release.installConfig"
    return _struct_type_error(data, _INSTALL_CONFIG, "")


def _struct_type_error(data: Mapping[Any, Any], fields: tuple[tuple[str, Any], ...], path: str) -> str | None:
    types = {name.casefold(): typ for name, typ in fields}
    for key in sorted(data, key=str):
        typ, value, field = types.get(str(key).casefold()), data[key], f"{path}.{key}"
        problem = None if typ is None or value is None else _field_type_error(value, typ, field)
        if problem is not None:
            return problem
    return None


def _field_type_error(value: Any, typ: str | tuple[str, Any], field: str) -> str | None:
    kind = _json_kind(value)
    wrong = f"cannot unmarshal {kind} into Go struct field {field} of type "
    if isinstance(typ, tuple):
        name, fields = typ
        return wrong + name if kind != "object" else _struct_type_error(value, fields, field)
    if typ == _STRICT_STRING:
        return wrong + "string" if kind != "string" else None
    if typ.startswith("map["):
        return wrong + typ if kind != "object" else None
    if typ.startswith("[]"):
        if kind != "array":
            return wrong + typ
        return next(
            (
                f"cannot unmarshal {_json_kind(item)} into {field}.{index} of type {typ[2:]}"
                for index, item in enumerate(value)
                if isinstance(item, list | dict)
            ),
            None,
        )
    return wrong + typ if kind in ("array", "object") else None


def install_config_includer(path: str, cloud: str) -> Callable[[list[PayloadFile]], tuple[Includer, str]]:
    """The ``--included --install-config`` decision, built once the payload is read; also the cloud it implies."""
    from okdrelease.release.extract import CLOUD_PROVIDER_SPEC_KINDS

    config = read_install_config(path)
    if config.platform is not None:
        if cloud and config.platform != cloud:
            raise ReleaseError(f'--cloud "{cloud}" set, but {path} has "{config.platform}"')
        if config.platform not in CLOUD_PROVIDER_SPEC_KINDS:
            raise ReleaseError(f'unrecognized platform for CredentialsRequests: "{config.platform}"')
        cloud = config.platform

    def build(files: list[PayloadFile]) -> tuple[Includer, str]:
        gates = _gates(files, config.feature_set)
        final = attrs.evolve(config, enabled_gates=gates[0], major_version=gates[1]) if gates else config
        return final.include, cloud

    return build
