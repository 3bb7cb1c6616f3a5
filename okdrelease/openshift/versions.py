"""Component-version labels (``io.openshift.build.versions``): grammar (§1.5) and release-wide aggregation (§4.1)."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence

import attrs

from okdrelease._repr import value_repr
from okdrelease.errors import ReleaseError
from okdrelease.gocompat import semver
from okdrelease.gocompat.strconv import go_quote, go_trim_space
from okdrelease.openshift.labels import BUILD_VERSION_DISPLAY_NAMES, BUILD_VERSIONS

__all__ = [
    "ALLOWED_COMPONENTS",
    "ANNOTATION_BUILD_VERSIONS",
    "ANNOTATION_BUILD_VERSIONS_DISPLAY_NAMES",
    "ComponentVersion",
    "aggregate_release_versions",
    "format_component_versions",
    "parse_component_versions",
]

log = logging.getLogger(__name__)

ALLOWED_COMPONENTS = ("kubernetes", "machine-os", "kernel", "crio", "kubectl", "kubernetes-tests")
ANNOTATION_BUILD_VERSIONS = BUILD_VERSIONS
ANNOTATION_BUILD_VERSIONS_DISPLAY_NAMES = BUILD_VERSION_DISPLAY_NAMES

_KEY_RE = re.compile(r"[a-z0-9]+[\-a-z0-9]*[a-z0-9]+")
# Go's \s is [\t\n\f\r ]; Go's $ (no multiline flag) is the end of the text: hence fullmatch.
_DISPLAY_NAME_RE = re.compile(r"[a-zA-Z0-9\-:\t\n\f\r ().]+")
# unicode.IsSpace, which strings.TrimSpace uses (Python's str.strip also strips \x1c-\x1f).
_KUBECTL_AUTHORITATIVE_TAGS = ("cli", "cli-artifacts")


@attrs.frozen
class ComponentVersion:
    """The version (build metadata stripped) and display name of one component."""

    __repr__ = value_repr

    version: str
    display_name: str = ""


def _check_key(key: str) -> None:
    """Validate a component name of a version or display-name pair."""
    if len(key.encode("utf-8", "surrogateescape")) < 2:
        raise ReleaseError(f"the version name {go_quote(key)} must be at least 2 characters")
    if not _KEY_RE.fullmatch(key):
        raise ReleaseError(
            f"the version name {go_quote(key)} must only be ASCII alphanumerics and internal hyphens"
        )


def _split_pair(raw: str, missing_equals: str) -> tuple[str, str, str]:
    """Trim ``raw``, split it at the first '=' and validate the key; returns (pair, key, value)."""
    pair = go_trim_space(raw)
    if "=" not in pair:
        raise ReleaseError(missing_equals.format(go_quote(pair)))
    key, value = pair.split("=", 1)
    _check_key(key)
    return pair, key, value


def _parse_display_names(display_names: str) -> dict[str, str]:
    """Parse ``k=Display Name,...``; later duplicates win but every pair is validated."""
    names: dict[str, str] = {}
    for raw in display_names.split(","):
        _pair, key, value = _split_pair(raw, "the display name pair {} must be NAME=DISPLAYNAME")
        if not _DISPLAY_NAME_RE.fullmatch(value):
            raise ReleaseError(
                f"the display name {go_quote(value)} must only be alphanumerics, spaces, and symbols in [().:-]"
            )
        names[key] = value
    return names


def parse_component_versions(label: str, display_names: str = "") -> dict[str, ComponentVersion]:
    """Parse a component-version label and its display names (spec §1.5); empty label gives {}."""
    label = go_trim_space(label)
    if not label:
        return {}
    names = _parse_display_names(display_names) if display_names else {}
    versions: dict[str, ComponentVersion] = {}
    for raw in label.split(","):
        pair, key, value = _split_pair(raw, "the version pair {} must be NAME=VERSION")
        try:
            parsed = semver.parse(value)
        except semver.SemverError as err:
            raise ReleaseError(
                f"the version pair {go_quote(pair)} must have a valid semantic version: {err}"
            ) from err
        versions[key] = ComponentVersion(str(parsed.without_build()), names.get(key, ""))
    return versions


def format_component_versions(versions: Mapping[str, ComponentVersion]) -> str:
    """Return the canonical ``k1=v1,k2=v2`` form with keys sorted."""
    return ",".join(f"{key}={versions[key].version}" for key in sorted(versions))


def aggregate_release_versions(
    tags: Sequence[tuple[str, Mapping[str, str] | None]],
) -> tuple[dict[str, ComponentVersion], dict[str, str], list[str], list[str]]:
    """Aggregate per-tag version annotations like ``release info`` (spec §4.1).

    ``tags`` is (tag name, annotations) in stream order. Returns (displayVersions, versionsTags,
    warnings sorted, stderr warning lines without the ``warning: `` prefix).
    """
    warnings: list[str] = []
    versions_tags: dict[str, str] = {}
    combined: dict[str, set[str]] = {}
    display_names: dict[str, set[str]] = {}
    kubectl: dict[str, list[str]] = {}
    for name, tag_annotations in tags:
        if tag_annotations is None or ANNOTATION_BUILD_VERSIONS not in tag_annotations:
            continue
        try:
            parsed = parse_component_versions(
                tag_annotations[ANNOTATION_BUILD_VERSIONS],
                tag_annotations.get(ANNOTATION_BUILD_VERSIONS_DISPLAY_NAMES, ""),
            )
        except ReleaseError as err:
            warnings.append(f"the referenced image {name} had an invalid version annotation: {err}")
            continue
        for key, value in parsed.items():
            versions_tags[key] = name
            if key == "kubectl":
                users = kubectl.setdefault(value.version, [])
                if name not in users:
                    users.append(name)
                if name not in _KUBECTL_AUTHORITATIVE_TAGS:
                    continue
            combined.setdefault(key, set()).add(value.version)
            display_names.setdefault(key, set()).add(value.display_name)
    stderr: list[str] = []
    if len(kubectl) > 2:
        listed = ", ".join(f"{v} ({', '.join(users)})" for v, users in sorted(kubectl.items()))
        stderr.append(f"multiple versions reported for the kubectl: {listed}")
    result: dict[str, ComponentVersion] = {}
    multiples: list[str] = []
    for key in sorted(combined):
        names = display_names[key]
        result[key] = ComponentVersion(min(combined[key]), min(names))
        if (len(combined[key]) > 1 or len(names) > 1) and key != "machine-os":
            multiples.append(key)
    if multiples:
        warnings.append(
            "multiple versions or display names reported for the following component(s): "
            + ",  ".join(multiples)
        )
    warnings.sort()
    for line in stderr:
        log.debug("warning: %s", line)
    return result, versions_tags, warnings, stderr
