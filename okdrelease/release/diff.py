"""Differences between two releases: oc's ``--changes-from`` view (spec §5.5) and ``okdrelease diff``."""

from __future__ import annotations

import re
from typing import Any

import attrs

from okdrelease.errors import OkdReleaseError
from okdrelease.payload.gojson import marshal_indent
from okdrelease.payload.versions import ANNOTATION_BUILD_VERSIONS
from okdrelease.reference import ImageReference
from okdrelease.release.read import ReleaseInfo, ReleaseTag

ANNOTATION_COMMIT = "io.openshift.build.commit.id"
ANNOTATION_SOURCE = "io.openshift.build.source-location"


@attrs.frozen
class ImageChange:
    """A tag whose pull spec differs (``old``/``new`` is None when added/removed)."""

    name: str
    old: ReleaseTag | None
    new: ReleaseTag | None


@attrs.frozen
class ManifestChange:
    """A payload file whose bytes differ (None when added/removed)."""

    name: str
    old: bytes | None = attrs.field(repr=False)
    new: bytes | None = attrs.field(repr=False)

    @property
    def status(self) -> str:
        """``added``, ``removed`` or ``changed``."""
        if self.old is None:
            return "added"
        if self.new is None:
            return "removed"
        return "changed"


@attrs.frozen
class ReleaseComparison:
    """oc's ReleaseDiff: the changed DockerImage tags and payload files."""

    old: ReleaseInfo
    new: ReleaseInfo
    changed_images: dict[str, ImageChange]
    changed_manifests: dict[str, ManifestChange]


def image_tags(info: ReleaseInfo) -> dict[str, ReleaseTag]:
    """The release's ``DockerImage`` tags by name."""
    return {tag.name: tag for tag in info.tags if tag.is_image}


def compare_releases(old: ReleaseInfo, new: ReleaseInfo) -> ReleaseComparison:
    """Compute oc's ``--changes-from`` diff: tags by pull spec, manifests by bytes."""
    old_tags, new_tags = image_tags(old), image_tags(new)
    images: dict[str, ImageChange] = {}
    for name in sorted(set(old_tags) | set(new_tags)):
        before, after = old_tags.get(name), new_tags.get(name)
        if before is not None and after is not None and before.from_name == after.from_name:
            continue
        images[name] = ImageChange(name, before, after)
    manifests: dict[str, ManifestChange] = {}
    for name in sorted(set(old.manifest_files) | set(new.manifest_files)):
        a, b = old.manifest_files.get(name), new.manifest_files.get(name)
        if a != b:
            manifests[name] = ManifestChange(name, a, b)
    return ReleaseComparison(old, new, images, manifests)


@attrs.frozen
class Component:
    """A component image of a release as the build team sees it."""

    name: str
    pullspec: str
    source: str
    commit: str


@attrs.frozen
class ComponentChange:
    """A component present in both releases with something different."""

    name: str
    old_pullspec: str
    new_pullspec: str
    digest_changed: bool
    commit: tuple[str, str] | None
    source: tuple[str, str] | None
    versions: tuple[str, str] | None


@attrs.frozen
class VersionChange:
    """A release-wide component version (§4.1) that differs; "" when absent on one side."""

    component: str
    old: str
    new: str


@attrs.frozen
class OperatorManifests:
    """The payload files of one operator (name derived from the file names) that changed."""

    operator: str
    files: tuple[ManifestChange, ...]


@attrs.frozen
class BuildList:
    """What the OKD build team must start, stop or re-point building."""

    start: tuple[Component, ...]
    stop: tuple[Component, ...]
    moved: tuple[ComponentChange, ...]


@attrs.frozen
class ReleaseDiff:
    """Everything ``okdrelease diff OLD NEW`` reports."""

    old_name: str
    new_name: str
    old_digest: str
    new_digest: str
    added: tuple[Component, ...]
    removed: tuple[Component, ...]
    changed: tuple[ComponentChange, ...]
    versions: tuple[VersionChange, ...]
    manifests: tuple[OperatorManifests, ...]

    @property
    def identical(self) -> bool:
        """True when nothing differs."""
        return not (self.added or self.removed or self.changed or self.versions or self.manifests)

    def build_list(self) -> BuildList:
        """Images to start building (added), stop building (removed), re-point (source moved)."""
        return BuildList(self.added, self.removed, tuple(c for c in self.changed if c.source is not None))


_RUN_LEVEL = re.compile(r"^(?:\d+_)+")


def operator_of(filename: str) -> str:
    """The operator a payload file belongs to, from its name (``0000_50_<operator>_<file>``)."""
    rest = _RUN_LEVEL.sub("", filename)
    head, sep, _tail = rest.partition("_")
    if sep:
        return head
    return rest.rsplit(".", 1)[0] if "." in rest else rest


def _component(tag: ReleaseTag) -> Component:
    return Component(
        tag.name, tag.from_name, tag.annotation(ANNOTATION_SOURCE), tag.annotation(ANNOTATION_COMMIT)
    )


def _digest(pullspec: str) -> str:
    try:
        return ImageReference.parse(pullspec).digest or pullspec
    except OkdReleaseError:
        return pullspec


def _pair(old: str, new: str) -> tuple[str, str] | None:
    return (old, new) if old != new else None


def diff_releases(old: ReleaseInfo, new: ReleaseInfo) -> ReleaseDiff:
    """Compare two loaded releases component by component and file by file."""
    old_tags, new_tags = image_tags(old), image_tags(new)
    added = tuple(_component(new_tags[n]) for n in sorted(set(new_tags) - set(old_tags)))
    removed = tuple(_component(old_tags[n]) for n in sorted(set(old_tags) - set(new_tags)))
    changed: list[ComponentChange] = []
    for name in sorted(set(old_tags) & set(new_tags)):
        a, b = old_tags[name], new_tags[name]
        change = ComponentChange(
            name=name,
            old_pullspec=a.from_name,
            new_pullspec=b.from_name,
            digest_changed=_digest(a.from_name) != _digest(b.from_name),
            commit=_pair(a.annotation(ANNOTATION_COMMIT), b.annotation(ANNOTATION_COMMIT)),
            source=_pair(a.annotation(ANNOTATION_SOURCE), b.annotation(ANNOTATION_SOURCE)),
            versions=_pair(a.annotation(ANNOTATION_BUILD_VERSIONS), b.annotation(ANNOTATION_BUILD_VERSIONS)),
        )
        if change.digest_changed or change.commit or change.source or change.versions:
            changed.append(change)
    versions = []
    for key in sorted(set(old.display_versions) | set(new.display_versions)):
        a_version = old.display_versions.get(key)
        b_version = new.display_versions.get(key)
        a_text = a_version.version if a_version else ""
        b_text = b_version.version if b_version else ""
        if a_text != b_text:
            versions.append(VersionChange(key, a_text, b_text))
    files = compare_releases(old, new).changed_manifests
    groups: dict[str, list[ManifestChange]] = {}
    for name in sorted(files):
        groups.setdefault(operator_of(name), []).append(files[name])
    return ReleaseDiff(
        old_name=old.preferred_name,
        new_name=new.preferred_name,
        old_digest=old.display_digest,
        new_digest=new.display_digest,
        added=added,
        removed=removed,
        changed=tuple(changed),
        versions=tuple(versions),
        manifests=tuple(OperatorManifests(op, tuple(items)) for op, items in sorted(groups.items())),
    )


def _what_changed(change: ComponentChange) -> list[str]:
    parts = []
    if change.digest_changed:
        parts.append(f"image {_digest(change.old_pullspec)} -> {_digest(change.new_pullspec)}")
    if change.commit:
        parts.append(f"commit {change.commit[0] or '<none>'} -> {change.commit[1] or '<none>'}")
    if change.source:
        parts.append(f"source {change.source[0] or '<none>'} -> {change.source[1] or '<none>'}")
    if change.versions:
        parts.append(f"versions {change.versions[0] or '<none>'} -> {change.versions[1] or '<none>'}")
    return parts


def render_diff_text(diff: ReleaseDiff) -> str:
    """Human report of ``okdrelease diff``."""
    lines = [f"From: {diff.old_name} ({diff.old_digest})", f"To:   {diff.new_name} ({diff.new_digest})", ""]
    if diff.identical:
        return "\n".join([*lines, "Releases are identical", ""])
    for title, components in (("Components added:", diff.added), ("Components removed:", diff.removed)):
        if components:
            lines.append(title)
            lines.extend(f"  {c.name} {c.pullspec}" for c in components)
            lines.append("")
    if diff.changed:
        lines.append("Components changed:")
        for change in diff.changed:
            lines.append(f"  {change.name}")
            lines.extend(f"    {part}" for part in _what_changed(change))
        lines.append("")
    if diff.versions:
        lines.append("Component versions changed:")
        lines.extend(f"  {v.component} {v.old or '<none>'} -> {v.new or '<none>'}" for v in diff.versions)
        lines.append("")
    if diff.manifests:
        lines.append("Operator manifests changed:")
        for group in diff.manifests:
            lines.append(f"  {group.operator}:")
            lines.extend(f"    {f.status:<7} {f.name}" for f in group.files)
        lines.append("")
    return "\n".join(lines)


def render_build_list_text(diff: ReleaseDiff) -> str:
    """The build team's report: images to start, stop and re-point building."""
    plan = diff.build_list()
    lines = [f"Build list from {diff.old_name} to {diff.new_name}:", ""]
    for title, group in (("Start building:", plan.start), ("Stop building:", plan.stop)):
        lines.append(title)
        lines.extend(f"  {c.name} {c.source or '<unknown source>'}" for c in group)
        if not group:
            lines.append("  (none)")
        lines.append("")
    if plan.moved:
        lines.append("Source moved:")
        for change in plan.moved:
            assert change.source is not None
            lines.append(f"  {change.name} {change.source[0] or '<none>'} -> {change.source[1] or '<none>'}")
        lines.append("")
    return "\n".join(lines)


def _component_json(component: Component) -> dict[str, Any]:
    return {
        "name": component.name,
        "pullSpec": component.pullspec,
        "sourceLocation": component.source,
        "commit": component.commit,
    }


def _pair_json(pair: tuple[str, str] | None) -> dict[str, str] | None:
    return {"from": pair[0], "to": pair[1]} if pair is not None else None


def diff_json(diff: ReleaseDiff) -> dict[str, Any]:
    """The JSON object of ``okdrelease diff -o json``."""
    return {
        "from": {"name": diff.old_name, "digest": diff.old_digest},
        "to": {"name": diff.new_name, "digest": diff.new_digest},
        "added": [_component_json(c) for c in diff.added],
        "removed": [_component_json(c) for c in diff.removed],
        "changed": [
            {
                "name": c.name,
                "from": c.old_pullspec,
                "to": c.new_pullspec,
                "digestChanged": c.digest_changed,
                "commit": _pair_json(c.commit),
                "sourceLocation": _pair_json(c.source),
                "versions": _pair_json(c.versions),
            }
            for c in diff.changed
        ],
        "componentVersions": [{"component": v.component, "from": v.old, "to": v.new} for v in diff.versions],
        "manifests": [
            {"operator": g.operator, "files": [{"name": f.name, "status": f.status} for f in g.files]}
            for g in diff.manifests
        ],
    }


def build_list_json(diff: ReleaseDiff) -> dict[str, Any]:
    """The JSON object of ``okdrelease diff --build-list -o json``."""
    plan = diff.build_list()
    return {
        "from": diff.old_name,
        "to": diff.new_name,
        "start": [_component_json(c) for c in plan.start],
        "stop": [_component_json(c) for c in plan.stop],
        "moved": [{"name": c.name, "sourceLocation": _pair_json(c.source)} for c in plan.moved],
    }


def render_json(data: dict[str, Any]) -> str:
    """Indented JSON with a trailing newline."""
    return marshal_indent(data).decode("utf-8") + "\n"
