"""Differences between two releases: oc's ``--changes-from`` view (spec §5.5) and ``okdrelease diff``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import attrs

from okdrelease._repr import value_repr
from okdrelease.errors import OkdReleaseError
from okdrelease.gocompat.gojson import marshal_indent
from okdrelease.openshift.labels import COMMIT_ID, SOURCE_LOCATION
from okdrelease.openshift.payloadfiles import operator_of
from okdrelease.openshift.versions import ANNOTATION_BUILD_VERSIONS
from okdrelease.reference import ImageReference
from okdrelease.release.manifestdiff import ChurnFolder, side_tokens, unified_diff
from okdrelease.release.read import ReleaseInfo, ReleaseTag

ANNOTATION_COMMIT = COMMIT_ID
ANNOTATION_SOURCE = SOURCE_LOCATION


@attrs.frozen
class ImageChange:
    """A tag whose pull spec differs (``old``/``new`` is None when added/removed)."""

    __repr__ = value_repr

    name: str
    old: ReleaseTag | None
    new: ReleaseTag | None


@attrs.frozen
class ManifestChange:
    """A payload file whose bytes differ (None when added/removed)."""

    __repr__ = value_repr

    name: str
    old: bytes | None = attrs.field(repr=False)
    new: bytes | None = attrs.field(repr=False)
    #: What the change consists of when it only follows component changes (``manifestdiff.CHURN_*``).
    churn: str = ""

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

    __repr__ = value_repr

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

    __repr__ = value_repr

    name: str
    pullspec: str
    source: str
    commit: str
    versions: str = ""


@attrs.frozen
class ComponentChange:
    """A component present in both releases with something different."""

    __repr__ = value_repr

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

    __repr__ = value_repr

    component: str
    old: str
    new: str


@attrs.frozen
class OperatorManifests:
    """The payload files of one operator (name derived from the file names) that changed."""

    __repr__ = value_repr

    operator: str
    files: tuple[ManifestChange, ...]

    @property
    def churn(self) -> tuple[ManifestChange, ...]:
        """The files that changed only in image digests or versions."""
        return tuple(f for f in self.files if f.churn)

    @property
    def edits(self) -> tuple[ManifestChange, ...]:
        """The files added, removed or really changed."""
        return tuple(f for f in self.files if not f.churn)


@attrs.frozen
class MetadataChange:
    """A field of the release's metadata (release-metadata, image-references) that differs."""

    __repr__ = value_repr

    field: str
    old: str
    new: str


@attrs.frozen
class BuildList:
    """What the OKD build team must start, stop or re-point building."""

    __repr__ = value_repr

    start: tuple[Component, ...]
    stop: tuple[Component, ...]
    moved: tuple[ComponentChange, ...]


@attrs.frozen
class ReleaseDiff:
    """Everything ``okdrelease diff OLD NEW`` reports."""

    __repr__ = value_repr

    old_name: str
    new_name: str
    old_digest: str
    new_digest: str
    added: tuple[Component, ...]
    removed: tuple[Component, ...]
    changed: tuple[ComponentChange, ...]
    versions: tuple[VersionChange, ...]
    manifests: tuple[OperatorManifests, ...]
    metadata: tuple[MetadataChange, ...] = ()
    folder: ChurnFolder = attrs.field(factory=ChurnFolder, eq=False, repr=False)

    @property
    def identical(self) -> bool:
        """True when nothing differs."""
        return not (
            self.added or self.removed or self.changed or self.versions or self.manifests or self.metadata
        )

    def build_list(self) -> BuildList:
        """Images to start building (added), stop building (removed), re-point (source moved)."""
        return BuildList(self.added, self.removed, tuple(c for c in self.changed if c.source is not None))


def _component(tag: ReleaseTag) -> Component:
    return Component(
        tag.name,
        tag.from_name,
        tag.annotation(ANNOTATION_SOURCE),
        tag.annotation(ANNOTATION_COMMIT),
        tag.annotation(ANNOTATION_BUILD_VERSIONS),
    )


def _digest(pullspec: str) -> str:
    try:
        return ImageReference.parse(pullspec).digest or pullspec
    except OkdReleaseError:
        return pullspec


def _pair(old: str, new: str) -> tuple[str, str] | None:
    return (old, new) if old != new else None


def _component_changes(
    old_tags: dict[str, ReleaseTag], new_tags: dict[str, ReleaseTag]
) -> list[ComponentChange]:
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
        # a pull spec that moved to another repository with the same digest is a change too
        if change.old_pullspec != change.new_pullspec or change.commit or change.source or change.versions:
            changed.append(change)
    return changed


def _version_changes(old: ReleaseInfo, new: ReleaseInfo) -> list[VersionChange]:
    versions = []
    for key in sorted(set(old.display_versions) | set(new.display_versions)):
        a_version = old.display_versions.get(key)
        b_version = new.display_versions.get(key)
        a_text = a_version.version if a_version else ""
        b_text = b_version.version if b_version else ""
        if a_text != b_text:
            versions.append(VersionChange(key, a_text, b_text))
    return versions


def _metadata_fields(info: ReleaseInfo) -> dict[str, str]:
    """The release's own metadata as text, by field name (absent fields are "")."""
    meta = info.metadata
    fields = {
        "version": meta.version if meta else "",
        "previous": ", ".join(meta.previous or ()) if meta else "",
        "next": ", ".join(meta.next or ()) if meta else "",
        "name": info.name,
        "created": info.created_stream,
    }
    for key, value in sorted(((meta.metadata if meta else None) or {}).items()):
        fields[f"metadata.{key}"] = value if isinstance(value, str) else marshal_indent(value).decode()
    return fields


def metadata_changes(old: ReleaseInfo, new: ReleaseInfo) -> tuple[MetadataChange, ...]:
    """Fields of release-metadata and of image-references' metadata that differ."""
    a, b = _metadata_fields(old), _metadata_fields(new)
    if (a["name"], b["name"]) == (a["version"], b["version"]):
        del a["name"], b["name"]  # the usual case: image-references is named after the version
    keys = [*a, *(k for k in b if k not in a)]
    return tuple(MetadataChange(k, a.get(k, ""), b.get(k, "")) for k in keys if a.get(k, "") != b.get(k, ""))


def churn_folder(old: ReleaseInfo, new: ReleaseInfo, versions: Iterable[VersionChange]) -> ChurnFolder:
    """Fold the digests and pull specs of moved components and the versions that changed."""
    old_tags, new_tags = image_tags(old), image_tags(new)
    moved = [n for n in set(old_tags) & set(new_tags) if old_tags[n].from_name != new_tags[n].from_name]
    version_keys = {v.component: (v.old, v.new) for v in versions}
    old_meta = old.metadata.version if old.metadata else ""
    new_meta = new.metadata.version if new.metadata else ""
    if old_meta != new_meta:
        version_keys["release"] = (old_meta, new_meta)

    def side(tags: dict[str, ReleaseTag], index: int) -> Any:
        pullspecs = {n: tags[n].from_name for n in moved}
        return side_tokens(
            pullspecs,
            {n: _digest(p) for n, p in pullspecs.items()},
            {k: pair[index] for k, pair in version_keys.items()},
        )

    digests = frozenset(
        _digest(old_tags[n].from_name)
        for n in moved
        if _digest(old_tags[n].from_name) != _digest(new_tags[n].from_name)
    )
    return attrs.evolve(ChurnFolder.between(side(old_tags, 0), side(new_tags, 1)), old_digests=digests)


#: Payload files summarised as components and metadata rather than shown as file changes.
SUMMARISED_FILES = ("image-references", "release-metadata")


def _manifest_groups(
    old: ReleaseInfo, new: ReleaseInfo, folder: ChurnFolder
) -> tuple[OperatorManifests, ...]:
    files = compare_releases(old, new).changed_manifests
    groups: dict[str, list[ManifestChange]] = {}
    for name in sorted(files):
        change = files[name]
        if change.old is not None and change.new is not None:
            change = attrs.evolve(change, churn=folder.churn(change.old, change.new))
        groups.setdefault(operator_of(name), []).append(change)
    return tuple(OperatorManifests(op, tuple(items)) for op, items in sorted(groups.items()))


def diff_releases(old: ReleaseInfo, new: ReleaseInfo) -> ReleaseDiff:
    """Compare two loaded releases component by component and file by file."""
    old_tags, new_tags = image_tags(old), image_tags(new)
    versions = _version_changes(old, new)
    folder = churn_folder(old, new, versions)
    return ReleaseDiff(
        old_name=old.preferred_name,
        new_name=new.preferred_name,
        old_digest=old.display_digest,
        new_digest=new.display_digest,
        added=tuple(_component(new_tags[n]) for n in sorted(set(new_tags) - set(old_tags))),
        removed=tuple(_component(old_tags[n]) for n in sorted(set(old_tags) - set(new_tags))),
        changed=tuple(_component_changes(old_tags, new_tags)),
        versions=tuple(versions),
        manifests=_manifest_groups(old, new, folder),
        metadata=metadata_changes(old, new),
        folder=folder,
    )


def _short(pullspec: str) -> str:
    """``sha256:`` and the first 12 hex digits of a pull spec's digest (the pull spec without one)."""
    digest = _digest(pullspec)
    algorithm, sep, hexdigits = digest.partition(":")
    return f"{algorithm}:{hexdigits[:12]}" if sep and digest != pullspec else pullspec


def _arrow(old: str, new: str) -> str:
    return f"{old or '<none>'} → {new or '<none>'}"


def _what_changed(change: ComponentChange) -> list[str]:
    parts = []
    if change.versions:
        parts.append(_arrow(*change.versions))
    if change.digest_changed:
        parts.append(_arrow(_short(change.old_pullspec), _short(change.new_pullspec)))
    elif change.old_pullspec != change.new_pullspec:
        parts.append(_arrow(change.old_pullspec, change.new_pullspec))
    if change.commit:
        parts.append("commit " + _arrow(change.commit[0][:12], change.commit[1][:12]))
    if change.source:
        parts.append("source " + _arrow(*change.source))
    return parts


def _table(rows: list[tuple[str, str]], indent: str = "  ") -> list[str]:
    width = max((len(name) for name, _ in rows), default=0)
    return [f"{indent}{name:<{width}}  {text}".rstrip() for name, text in rows]


def _summary_lines(diff: ReleaseDiff) -> list[str]:
    lines: list[str] = []
    for title, components in (("added", diff.added), ("removed", diff.removed)):
        if components:
            lines.append(f"Components {title} ({len(components)}):")
            rows = [(c.name, f"{c.versions} {_short(c.pullspec)}".strip()) for c in components]
            lines.extend(_table(rows))
    if diff.changed:
        lines.append(f"Components changed ({len(diff.changed)}):")
        lines.extend(_table([(c.name, "  ".join(_what_changed(c))) for c in diff.changed]))
    rows = [(m.field, _arrow(m.old, m.new)) for m in diff.metadata]
    rows += [(f"{v.component} version", _arrow(v.old, v.new)) for v in diff.versions]
    if rows:
        lines.append("Release metadata changed:")
        lines.extend(_table(rows))
    return lines


def _manifest_lines(diff: ReleaseDiff, context: int) -> list[str]:
    groups = [g for g in diff.manifests if g.operator not in SUMMARISED_FILES]
    lines: list[str] = []
    churned = [g for g in groups if g.churn]
    if churned:
        lines.append("Manifests changed only in image digests or versions:")
        lines.extend(_table([(g.operator, _churn_text(g.churn)) for g in churned]))
    listed = [f for g in groups for f in g.edits if f.status != "changed"]
    if listed:
        lines.append("Manifests added or removed:")
        lines.extend(f"  {f.status:<7}  {f.name}" for f in listed)
    for group in groups:
        for change in group.edits:
            if change.status == "changed":
                lines.extend(
                    unified_diff(change.name, change.old, change.new, context=context, folder=diff.folder)
                )
    return lines


def _churn_text(files: tuple[ManifestChange, ...]) -> str:
    kinds = {f.churn for f in files}
    images = (
        "image digests"
        if any("digests" in k for k in kinds)
        else "image references"
        if any("references" in k for k in kinds)
        else ""
    )
    what = " and ".join(
        part for part in (images, "versions" if any("versions" in k for k in kinds) else "") if part
    )
    return f"{len(files)} file{'s' if len(files) != 1 else ''} ({what})"


def render_diff_text(diff: ReleaseDiff, *, context: int = 1) -> str:
    """Human report of ``okdrelease diff``: summary first, then the manifest changes that matter."""
    lines = [f"From {diff.old_name} {diff.old_digest}", f"To   {diff.new_name} {diff.new_digest}"]
    if diff.identical:
        return "\n".join([*lines, "Releases are identical", ""])
    lines.extend(_summary_lines(diff))
    lines.extend(_manifest_lines(diff, context))
    return "\n".join([*lines, ""])


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
        "versions": component.versions,
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
        "metadata": [{"field": m.field, "from": m.old, "to": m.new} for m in diff.metadata],
        "manifests": [
            {"operator": g.operator, "files": [_manifest_json(f) for f in g.files]} for g in diff.manifests
        ],
    }


def _manifest_json(change: ManifestChange) -> dict[str, Any]:
    """A changed payload file: status, what its churn is ("" for a real change) and its full diff."""
    return {
        "name": change.name,
        "status": change.status,
        "churn": change.churn,
        "diff": "".join(line + "\n" for line in unified_diff(change.name, change.old, change.new)),
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
