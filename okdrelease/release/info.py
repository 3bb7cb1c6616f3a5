"""``info`` output: oc's text layout (Go tabwriter), ``-o json`` and the ``--changes-from`` views (spec §5.4, §5.5)."""

from __future__ import annotations

import base64
import datetime
import logging
import math
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlparse

from okdrelease.errors import OkdReleaseError
from okdrelease.gocompat import semver
from okdrelease.gocompat.goconfig import CONFIG_TOP_FIELDS, go_container_config, go_decode_fields
from okdrelease.gocompat.gojson import format_float, marshal_indent, sorted_map
from okdrelease.gocompat.tabwriter import TabWriter
from okdrelease.reference import ImageReference
from okdrelease.release.diff import ANNOTATION_COMMIT, ANNOTATION_SOURCE, ImageChange, ReleaseComparison
from okdrelease.release.read import ComponentImage, ReleaseInfo, ReleaseTag

log = logging.getLogger(__name__)

ZERO_TIME = "0001-01-01T00:00:00Z"

IMAGE_VIEWS = ("digest", "pullspecs", "commits", "commit-urls")


def go_value(value: Any) -> str:
    """Format a JSON value like Go's ``%v`` of the interface{} it decodes to."""
    if value is None:
        return "<nil>"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return _go_g(float(value))
    if isinstance(value, list):
        return "[" + " ".join(go_value(item) for item in value) + "]"
    if isinstance(value, Mapping):
        return "map[" + " ".join(f"{k}:{go_value(value[k])}" for k in sorted(value)) + "]"
    return str(value)


def _go_g(value: float) -> str:
    """Go ``%v`` of a float64: shortest digits, %e form for exponents below -4 or from 6 up."""
    if math.isinf(value) or math.isnan(value):
        return {math.inf: "+Inf", -math.inf: "-Inf"}.get(value, "NaN")
    if value == 0:
        return "-0" if math.copysign(1, value) < 0 else "0"
    digits, exponent = _shortest(value)
    if exponent < -4 or exponent >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        sign = "-" if value < 0 else ""
        return f"{sign}{mantissa}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"
    return format_float(value)


def _shortest(value: float) -> tuple[str, int]:
    text = repr(abs(value))
    mantissa, _, exp = text.partition("e")
    whole, _, frac = mantissa.partition(".")
    digits = (whole + frac).lstrip("0")
    point = len(whole) + (int(exp) if exp else 0)
    leading = len(whole + frac) - len((whole + frac).lstrip("0"))
    digits = digits.rstrip("0") or "0"
    return digits, point - leading - 1


def short_duration(seconds: float) -> str:
    """Kubernetes ``duration.ShortHumanDuration``."""
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    minutes = whole // 60
    if minutes < 60:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 24:
        return f"{hours}h"
    if hours < 24 * 365:
        return f"{hours // 24}d"
    return f"{hours // (24 * 365)}y"


def parse_time(text: str) -> datetime.datetime | None:
    """Parse an RFC 3339 timestamp (None when empty or invalid)."""
    if not text:
        return None
    try:
        return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def created_text(info: ReleaseInfo) -> str:
    """The config ``created`` time in UTC, truncated to seconds, RFC 3339."""
    when = parse_time(info.config.created)
    if when is None:
        return ZERO_TIME
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.UTC)
    return when.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def sort_versions(values: list[str]) -> list[str]:
    """Semver order; entries that do not parse sort after the others, as strings."""

    def key(text: str) -> tuple[int, Any, str]:
        try:
            return (0, semver.parse(text), text)
        except semver.SemverError:
            return (1, 0, text)

    try:
        return sorted(values, key=key)
    except TypeError:
        return sorted(values)


def image_column(tag: ReleaseTag) -> str:
    """The digest of a tag's pull spec, or the whole pull spec when it names none."""
    try:
        ref = ImageReference.parse(tag.from_name)
    except OkdReleaseError:
        return tag.from_name
    return ref.digest or tag.from_name


def commit_url(location: str, commit: str) -> str:
    """A GitHub commit URL, or ``<location> <commit>`` for other hosts."""
    parsed = urlparse(location)
    if parsed.hostname == "github.com":
        path = parsed.path.removesuffix(".git")
        return f"https://github.com{path}/commit/{commit}"
    return f"{location} {commit}"


def describe(info: ReleaseInfo, *, view: str = "digest") -> str:
    """The default human output of ``info`` (``view``: digest, pullspecs, commits, commit-urls)."""
    if view not in IMAGE_VIEWS:
        raise ValueError(f"unknown image view {view!r}")
    w = TabWriter(0, 4, 1)
    w.write(f"Name:\t{info.preferred_name}\n")
    w.write(f"Digest:\t{info.display_digest}\n")
    w.write(f"Created:\t{created_text(info)}\n")
    w.write(f"OS/Arch:\t{info.platform}\n")
    w.write(f"Manifests:\t{len(info.manifest_files)}\n")
    if info.unknown_files:
        w.write(f"Metadata files:\t{len(info.unknown_files)}\n")
    w.write("\n")
    w.write(f"Pull From:\t{info.pull_from}\n")
    w.flush()
    if info.metadata is not None:
        meta = info.metadata
        w.write("\nRelease Metadata:\n")
        w.write(f"  Version:\t{meta.version}\n")
        upgrades = [v for v in meta.previous or () if v]
        w.write(f"  Upgrades:\t{', '.join(sort_versions(upgrades)) if upgrades else '<none>'}\n")
        if meta.next:
            w.write(f"  Next:\t{', '.join(sort_versions(list(meta.next)))}\n")
        w.flush()
        w.write("  Metadata:\n")
        extra = meta.metadata or {}
        for key in sorted(extra):
            value = extra[key]
            if value in ("", [], {}, None):
                continue
            w.write(f"    {key}:\t{go_value(value)}\n")
        w.flush()
    if info.display_versions:
        w.write("\nComponent Versions:\n")
        for key in sorted(info.display_versions):
            version = info.display_versions[key]
            w.write(f"  {key}\t{version.version}\t{version.display_name}\n")
        w.flush()
    w.write("\nImages:\n")
    if view == "commits":
        w.write("  NAME\tREPO\tCOMMIT\t\n")
    elif view == "commit-urls":
        w.write("  NAME\tURL\t\n")
    elif view == "pullspecs":
        w.write("  NAME\tPULL SPEC\n")
    else:
        w.write("  NAME\tDIGEST\n")
    for tag in info.tags:
        if not tag.is_image:
            continue
        if view == "commits":
            w.write(
                f"  {tag.name}\t{tag.annotation(ANNOTATION_SOURCE)}\t{tag.annotation(ANNOTATION_COMMIT)}\n"
            )
        elif view == "commit-urls":
            url = commit_url(tag.annotation(ANNOTATION_SOURCE), tag.annotation(ANNOTATION_COMMIT))
            w.write(f"  {tag.name}\t{url}\n")
        elif view == "pullspecs":
            w.write(f"  {tag.name}\t{tag.from_name}\n")
        else:
            w.write(f"  {tag.name}\t{image_column(tag)}\n")
    w.write("\n")
    w.flush()
    if info.warnings:
        w.write("Warnings:\n")
        for warning in info.warnings:
            w.write(f"* {warning}\n")
        w.write("\n")
    return w.getvalue()


def describe_size(info: ReleaseInfo, *, now: datetime.datetime | None = None) -> str:
    """The ``--size`` table: per image age, layer count, size and size not shared with other images."""
    images = info.images or {}
    now = now or datetime.datetime.now(datetime.UTC)
    users: dict[str, set[str]] = {}
    sizes: dict[str, int] = {}
    for entry in images.values():
        for layer in entry.layers:
            users.setdefault(layer.digest, set()).add(entry.name)
            sizes[layer.digest] = layer.size
    bases = {image.layers[0].digest for image in images.values() if image.layers}
    w = TabWriter(0, 4, 1)
    w.write("NAME\tAGE\tLAYERS\tSIZE MB\tUNIQUE MB\n")
    for tag in info.tags:
        image = images.get(tag.name)
        if image is None:
            continue
        total = sum(layer.size for layer in image.layers)
        unique = sum(layer.size for layer in image.layers if users[layer.digest] == {image.name})
        when = parse_time(image.config.created if image.config else "")
        age = short_duration((now - when).total_seconds()) if when and when.tzinfo else ""
        w.write(
            f"{tag.name}\t{age}\t{len(image.layers)}\t{total / 1024 / 1024:.1f}\t{unique / 1024 / 1024:.1f}\n"
        )
    w.flush()
    total_size = sum(sizes.values())
    line = f"{_human_size(total_size)} across {len(sizes)} layers"
    if len(bases) > 1:
        line += f", {len(bases)} different base images"
    return w.getvalue() + "\n" + line + "\n"


def _human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.4g}{unit}"
        value /= 1000
    return f"{value:.4g}TB"


def go_config(parsed: Mapping[str, Any]) -> dict[str, Any]:
    """Re-encode an image config as Go's ``DockerImageConfig`` struct (field order, omitempty)."""
    src = go_decode_fields(parsed, (*CONFIG_TOP_FIELDS, "variant"))
    out: dict[str, Any] = {"id": str(src.get("id") or "")}
    for key in ("parent", "comment"):
        if src.get(key):
            out[key] = src[key]
    out["created"] = src.get("created") or ZERO_TIME
    if src.get("container"):
        out["container"] = src["container"]
    out["container_config"] = _docker_config(src.get("container_config") or {})
    for key in ("docker_version", "author"):
        if src.get(key):
            out[key] = src[key]
    if isinstance(src.get("config"), Mapping):
        out["config"] = _docker_config(src["config"])
    if src.get("architecture"):
        out["architecture"] = src["architecture"]
    if src.get("size"):
        out["size"] = src["size"]
    rootfs = src.get("rootfs")
    if isinstance(rootfs, Mapping):
        fs = go_decode_fields(rootfs, ("type", "diff_ids"))
        out["rootfs"] = {"type": str(fs.get("type") or "")}
        if fs.get("diff_ids"):
            out["rootfs"]["diff_ids"] = fs["diff_ids"]
    if src.get("history"):
        out["history"] = [_history(item) for item in src["history"] if isinstance(item, Mapping)]
    for key in ("os", "os.version", "os.features", "variant"):
        if src.get(key):
            out[key] = src[key]
    return out


def _docker_config(config: Mapping[str, Any]) -> dict[str, Any]:
    labels = go_decode_fields(config, ("Labels",)).get("Labels")
    return go_container_config(config, dict(labels) if isinstance(labels, Mapping) else {})


def _history(item: Mapping[str, Any]) -> dict[str, Any]:
    src = go_decode_fields(item, ("created", "author", "created_by", "comment", "empty_layer"))
    out: dict[str, Any] = {"created": src.get("created") or ZERO_TIME}
    for key in ("author", "created_by", "comment", "empty_layer"):
        if src.get(key):
            out[key] = src[key]
    return out


def _descriptor(desc: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"mediaType": desc.media_type, "size": desc.size, "digest": desc.digest}
    raw = desc.raw or {}
    if raw.get("urls"):
        out["urls"] = raw["urls"]
    if desc.annotations:
        out["annotations"] = sorted_map(desc.annotations)
    if raw.get("platform"):
        out["platform"] = raw["platform"]
    return out


def _image_json(image: ComponentImage) -> dict[str, Any]:
    return {
        "name": image.name,
        "digest": image.digest,
        "contentDigest": image.content_digest,
        "listDigest": image.list_digest,
        "mediaType": image.media_type,
        "layers": [_descriptor(layer) for layer in image.layers],
        "config": go_config(image.config.parsed) if image.config is not None else None,
    }


def info_json(info: ReleaseInfo) -> dict[str, Any]:
    """The ReleaseInfo object of ``-o json`` in oc's key order."""
    return {
        "image": info.image,
        "digest": info.digest,
        "contentDigest": info.content_digest,
        "listDigest": info.list_digest,
        "config": go_config(info.config.parsed),
        "metadata": info.metadata.to_go() if info.metadata is not None else None,
        "references": info.references,
        "versions": None,
        "displayVersions": {
            key: {"Version": value.version, "DisplayName": value.display_name}
            for key, value in sorted(info.display_versions.items())
        }
        or None,
        "versionsTags": sorted_map(info.versions_tags),
        "images": {name: _image_json(info.images[name]) for name in sorted(info.images)}
        if info.images is not None
        else None,
        "warnings": list(info.warnings) or None,
    }


def render_json(info: ReleaseInfo) -> str:
    """``info -o json``: Go MarshalIndent with two spaces plus a newline."""
    return marshal_indent(info_json(info)).decode("utf-8") + "\n"


def comparison_json(comparison: ReleaseComparison) -> dict[str, Any]:
    """``info --changes-from -o json``: from, to, changedImages, changedManifests."""
    images = {
        name: {
            "name": name,
            "from": change.old.raw if change.old is not None else None,
            "to": change.new.raw if change.new is not None else None,
        }
        for name, change in sorted(comparison.changed_images.items())
    }
    manifests = {
        name: {
            "filename": name,
            "from": base64.b64encode(change.old).decode() if change.old is not None else None,
            "to": base64.b64encode(change.new).decode() if change.new is not None else None,
        }
        for name, change in sorted(comparison.changed_manifests.items())
    }
    return {
        "from": info_json(comparison.old),
        "to": info_json(comparison.new),
        "changedImages": images,
        "changedManifests": manifests,
    }


def render_comparison_json(comparison: ReleaseComparison) -> str:
    """``info --changes-from -o json`` text."""
    return marshal_indent(comparison_json(comparison)).decode("utf-8") + "\n"


def _commit_changed(old: ReleaseTag, new: ReleaseTag) -> bool:
    a, b = old.annotation(ANNOTATION_COMMIT), new.annotation(ANNOTATION_COMMIT)
    return bool(a) and bool(b) and a != b


def _git_diff_or_commit(old: ReleaseTag, new: ReleaseTag) -> str:
    old_repo, new_repo = old.annotation(ANNOTATION_SOURCE), new.annotation(ANNOTATION_SOURCE)
    old_commit, new_commit = old.annotation(ANNOTATION_COMMIT), new.annotation(ANNOTATION_COMMIT)
    if old_repo == new_repo and old_commit and new_commit:
        parsed = urlparse(new_repo)
        if parsed.hostname == "github.com":
            path = parsed.path.removesuffix(".git")
            return f"https://github.com{path}/compare/{old_commit}...{new_commit}"
        return f"{new_repo} {old_commit} {new_commit}"
    if new_commit:
        return commit_url(new_repo, new_commit)
    return ""


def describe_comparison(
    comparison: ReleaseComparison,
    *,
    show_commit: bool = False,
    now: Callable[[], datetime.datetime] | None = None,
) -> str:
    """The human ``--changes-from`` output, or ``Releases are identical``."""
    old, new = comparison.old, comparison.new
    if old.display_digest == new.display_digest:
        return "Releases are identical\n"
    clock = (now or (lambda: datetime.datetime.now(datetime.UTC)))()

    def age(info: ReleaseInfo) -> str:
        when = parse_time(created_text(info))
        assert when is not None
        return short_duration((clock - when).total_seconds())

    w = TabWriter(0, 4, 2)
    w.write("\tFROM\tTO\n")
    w.write(f"Name:\t{old.preferred_name}\t{new.preferred_name}\n")
    w.write(f"Created:\t{age(old)}\t{age(new)}\n")
    if old.platform != new.platform:
        w.write(f"OS/Arch:\t{old.platform}\t{new.platform}\n")
    if old.metadata is not None and new.metadata is not None:
        w.write("\n")
        w.write(f"Version:\t{old.metadata.version}\t{new.metadata.version}\n")
        upgrade = "Yes" if old.metadata.version in (new.metadata.previous or ()) else "No"
        w.write(f"Upgrade From:\t\t{upgrade}\n")
    elif old.metadata is not None:
        w.write("Has Release Metadata:\tYes\t\n")
    elif new.metadata is not None:
        w.write("Has Release Metadata:\t\tYes\n")
    w.flush()
    out = [w.getvalue()]
    changes = comparison.changed_images
    if changes:
        width = max(len(name) for name in changes)

        def justify(text: str) -> str:
            return text + " " * (width - len(text))

        changed: list[ImageChange] = []
        rebuilt: list[ImageChange] = []
        added: list[ImageChange] = []
        removed: list[ImageChange] = []
        for name in sorted(changes):
            change = changes[name]
            if change.old is not None and change.new is not None:
                (changed if _commit_changed(change.old, change.new) else rebuilt).append(change)
            elif change.new is not None:
                added.append(change)
            else:
                removed.append(change)
        for title, group in (("Images Changed:", changed), ("Images Rebuilt:", rebuilt)):
            if not group:
                continue
            section = TabWriter(0, 4, 1, discard_empty=True)
            section.write(f"\n{title}\n")
            for change in group:
                assert change.old is not None and change.new is not None
                old_ref, new_ref = image_column(change.old), image_column(change.new)
                if old_ref == new_ref:
                    continue
                if show_commit:
                    section.write(
                        f"  {justify(change.name)}\t{_git_diff_or_commit(change.old, change.new)}\n"
                    )
                else:
                    section.write(f"  {justify(change.name)}\t{old_ref}\t{new_ref}\n")
            out.append(section.getvalue())
        if added:
            section = TabWriter(0, 4, 1, discard_empty=True)
            section.write("\nImages Added:\n")
            for change in added:
                assert change.new is not None
                if show_commit:
                    url = commit_url(
                        change.new.annotation(ANNOTATION_SOURCE), change.new.annotation(ANNOTATION_COMMIT)
                    )
                    section.write(f"  {justify(change.name)}\t{url}\n")
                else:
                    section.write(f"  {justify(change.name)}\t{image_column(change.new)}\n")
            out.append(section.getvalue())
        if removed:
            section = TabWriter(0, 4, 1, discard_empty=True)
            section.write("\nImages Removed:\n")
            for change in removed:
                section.write(f"  {change.name}\n")
            out.append(section.getvalue())
    out.append("\n")
    return "".join(out)
