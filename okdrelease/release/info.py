"""``info`` output: oc's text layout (Go tabwriter), ``-o json`` and the ``--changes-from`` views (spec §5.4, §5.5)."""

from __future__ import annotations

import base64
import datetime
import functools
import logging
import posixpath
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import attrs

from okdrelease._repr import value_repr
from okdrelease.errors import OkdReleaseError, ReleaseError, UsageError
from okdrelease.gocompat import semver
from okdrelease.gocompat.goconfig import created_time, decoded_config, go_container_config
from okdrelease.gocompat.gojson import marshal_indent, sorted_map
from okdrelease.gocompat.gotime import ZERO, GoTime
from okdrelease.gocompat.tabwriter import TabWriter
from okdrelease.oci.model import ImageConfig
from okdrelease.openshift.labels import COMMIT_ID as ANNOTATION_COMMIT  # (release.diff's names for them)
from okdrelease.openshift.labels import SOURCE_LOCATION as ANNOTATION_SOURCE
from okdrelease.openshift.metadata import CincinnatiMetadata
from okdrelease.reference import ImageReference
from okdrelease.release.read import ComponentImage, ReleaseInfo, ReleaseTag

if TYPE_CHECKING:
    # loaded by --changes-from (its comparison), not to describe one release
    from okdrelease.release.diff import ImageChange, ReleaseComparison

log = logging.getLogger(__name__)

IMAGE_VIEWS = ("digest", "pullspecs", "commits", "commit-urls", "size")


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
        from okdrelease.gocompat.goyaml import format_float_g  # (and PyYAML: only to print a number)

        return format_float_g(float(value))
    if isinstance(value, list):
        return "[" + " ".join(go_value(item) for item in value) + "]"
    if isinstance(value, Mapping):
        return "map[" + " ".join(f"{k}:{go_value(value[k])}" for k in sorted(value)) + "]"
    return str(value)


def short_duration(seconds: float) -> str:
    """Kubernetes ``duration.ShortHumanDuration`` (whole seconds first, truncated toward zero as Go's
    ``int(d.Seconds())``: -1.5 s is -1, ``0s``)."""
    whole = int(seconds)
    if whole < -1:
        return "<invalid>"
    if whole < 0:
        return "0s"
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


#: The longest Go ``time.Duration`` in seconds (about 292 years): ``Time.Sub`` saturates at it.
_MAX_DURATION = ((1 << 63) - 1) / 1e9


def go_since(clock: datetime.datetime, when: GoTime) -> float:
    """``clock.Sub(when)`` in seconds as Go computes it, saturated at ``time.Duration``'s range: the age
    of Go's zero time is 292 years, not 2,000."""
    return max(-_MAX_DURATION, min(_MAX_DURATION, clock.timestamp() - when.unix()))


def created_text(info: ReleaseInfo) -> str:
    """The config ``created`` as oc's info prints it: ``Created.UTC().Format(time.RFC3339)`` (whole
    seconds; Go's zero time when the config has none)."""
    return created_time(info.config).utc().rfc3339()


def verify_line(info: ReleaseInfo) -> str:
    """``info --verify``'s line: digest (of the manifest read: a listed release's entry, not the list, as oc
    prints ``release.Digest``), image-references' ``creationTimestamp`` in UTC (Go's zero time when it has
    none, as oc's metav1.Time prints it) and the release name."""
    return f"{info.digest} {info.created_stream or ZERO.rfc3339()} {info.preferred_name}"


def sort_versions(values: list[str]) -> list[str]:
    """oc's ``sortSemanticVersions``: semver order, each re-rendered; the list as given when one does not parse."""
    try:
        versions = [semver.parse(text) for text in values]
    except semver.SemverError:
        return values
    return [str(v) for v in sorted(versions, key=functools.cmp_to_key(semver.Version.compare))]


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


def image_view(commits: bool, commit_urls: bool, pullspecs: bool, size: bool) -> str:
    """The images view chosen by oc's flags (at most one is set; the digest view otherwise)."""
    for chosen, view in (
        (commits, "commits"),
        (commit_urls, "commit-urls"),
        (pullspecs, "pullspecs"),
        (size, "size"),
    ):
        if chosen:
            return view
    return "digest"


def describe(info: ReleaseInfo, *, view: str = "digest", now: datetime.datetime | None = None) -> str:
    """The default human output of ``info`` (``view``: digest, pullspecs, commits, commit-urls, size)."""
    if view not in IMAGE_VIEWS:
        raise ValueError(f"unknown image view {view!r}")
    w = TabWriter(0, 4, 1)
    _describe_header(w, info)
    if info.metadata is not None:
        _describe_metadata(w, info.metadata)
    if info.display_versions:
        w.write("\nComponent Versions:\n")
        for key in sorted(info.display_versions):
            version = info.display_versions[key]
            w.write(f"  {key}\t{version.version}\t{version.display_name}\n")
    w.flush()
    section = TabWriter(0, 4, 1)
    section.write("\nImages:\n")
    if view == "size":
        _describe_sizes(section, info, now or datetime.datetime.now(datetime.UTC))
    else:
        _describe_images(section, info, view)
    out = [w.getvalue(), section.getvalue()]
    if info.warnings:
        section = TabWriter(0, 4, 1)
        section.write("\nWarnings:\n")
        for warning in info.warnings:
            section.write(f"* {warning}\n")
        out.append(section.getvalue())
    return "".join(out) + "\n"


def _describe_header(w: TabWriter, info: ReleaseInfo) -> None:
    w.write(f"Name:\t{info.preferred_name}\n")
    w.write(f"Digest:\t{info.display_digest}\n")
    w.write(f"Created:\t{created_text(info)}\n")
    w.write(f"OS/Arch:\t{info.platform}\n")
    w.write(f"Manifests:\t{len(info.manifest_files)}\n")
    if info.unknown_files:
        w.write(f"Metadata files:\t{len(info.unknown_files)}\n")
    w.write("\n")
    w.write(f"Pull From:\t{info.pull_from}\n")


def _describe_metadata(w: TabWriter, meta: CincinnatiMetadata) -> None:
    w.write("\nRelease Metadata:\n")
    w.write(f"  Version:\t{meta.version}\n")
    upgrades = list(meta.previous or ())
    w.write(f"  Upgrades:\t{', '.join(sort_versions(upgrades)) if upgrades else '<none>'}\n")
    w.flush()
    w.write("  Metadata:\n")
    extra = meta.metadata or {}
    for key in sorted(extra):
        value = extra[key]
        if isinstance(value, (str, list, dict)) and not value:
            continue  # oc skips empty strings, lists and maps; a null prints as <nil>
        w.write(f"    {key}:\t{go_value(value)}\n")
    w.flush()


def _describe_images(w: TabWriter, info: ReleaseInfo, view: str) -> None:
    header = {
        "commits": "  NAME\tREPO\tCOMMIT\t\n",
        "commit-urls": "  NAME\tURL\t\n",
        "pullspecs": "  NAME\tPULL SPEC\n",
        "digest": "  NAME\tDIGEST\n",
    }
    w.write(header[view])
    for tag in info.tags:
        if not tag.is_image:
            continue
        source, commit = tag.annotation(ANNOTATION_SOURCE), tag.annotation(ANNOTATION_COMMIT)
        if view == "commits":
            w.write(f"  {tag.name}\t{source}\t{commit}\n")
        elif view == "commit-urls":
            w.write(f"  {tag.name}\t{commit_url(source, commit)}\n")
        elif view == "pullspecs":
            w.write(f"  {tag.name}\t{tag.from_name}\n")
        else:
            w.write(f"  {tag.name}\t{image_column(tag)}\n")


@attrs.frozen
class LayerUse:
    """How the component images of a release share layers: users per layer, sizes, base layers in order."""

    __repr__ = value_repr

    counts: dict[str, int]
    sizes: dict[str, int]
    bases: tuple[str, ...]

    @classmethod
    def of(cls, images: Mapping[str, ComponentImage]) -> LayerUse:
        """Count layer users over ``images`` (each image's first layer is its base)."""
        counts: dict[str, int] = {}
        sizes: dict[str, int] = {}
        bases: dict[str, None] = {}
        for image in images.values():
            for index, layer in enumerate(image.layers):
                if index == 0:
                    bases[layer.digest] = None
                counts[layer.digest] = counts.get(layer.digest, 0) + 1
                sizes.setdefault(layer.digest, layer.size)
        return cls(counts, sizes, tuple(bases))

    @property
    def total(self) -> int:
        """Bytes of all distinct layers."""
        return sum(self.sizes.values())


def _describe_sizes(w: TabWriter, info: ReleaseInfo, now: datetime.datetime) -> None:
    """oc's ``--size`` table: age, layers, size and unique size per image, a base column, the total."""
    images = info.images or {}
    use = LayerUse.of(images)
    several_bases = len(use.bases) > 1
    w.write(f"  NAME\t AGE\t LAYERS\t SIZE MB\t UNIQUE MB\t {'BASE' if several_bases else ''}\n")
    covered: set[str] = set()
    base_index: dict[str, int] = {}
    for tag in info.tags:
        if not tag.is_image:
            continue
        image = images.get(tag.name)
        if image is None:
            w.write(f"  {tag.name}\t\t\t\t\t\n")
            continue
        base = ""
        if several_bases and image.layers:
            index = base_index.setdefault(image.layers[0].digest, len(base_index) + 1)
            base = " " * (index - 1) + chr(ord("A") + index - 1) if len(use.bases) <= 5 else str(index)
        size = sum(layer.size for layer in image.layers)
        unshared = sum(layer.size for layer in image.layers if use.counts[layer.digest] <= 1)
        if unshared == 0 and image.layers and image.layers[-1].digest not in covered:
            unshared = image.layers[-1].size
            covered.add(image.layers[-1].digest)
        age = _image_age(image.config, now)
        w.write(
            f"  {tag.name}\t{age:>4}\t{len(image.layers):7d}\t{size / 1024 / 1024:8.1f}"
            f"\t{unshared / 1024 / 1024:10.1f}\t {base}\n"
        )
    w.write("\n")
    line = f"  {human_size(use.total)} across {len(use.sizes)} layers"
    if several_bases:
        line += f", {len(use.bases)} different base images"
    w.write(line + "\n")


def _image_age(config: ImageConfig | None, now: datetime.datetime) -> str:
    """A component's age in the ``--size`` view: blank for Go's zero time (oc: ``!Created.IsZero()``),
    year 0 included."""
    if config is None:
        return ""
    when = created_time(config)  # decoded when the image was loaded (read.check_component_config)
    return "" if when.is_zero() else short_duration(go_since(now, when))


def human_size(size: float) -> str:
    """docker/go-units ``HumanSize``: four significant digits, decimal units (``513.6kB``)."""
    value = float(size)
    units = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")
    index = 0
    while value >= 1000 and index < len(units) - 1:
        value /= 1000
        index += 1
    return f"{value:.4g}{units[index]}"


def go_config(config: ImageConfig, size: int) -> dict[str, Any]:
    """``config`` as oc's ``-o json`` writes the ``DockerImageConfig`` it decoded (field order, omitempty,
    fields it does not have left out; times through Go's MarshalJSON, GoJSONError in its words for one it
    cannot write); ``size``: the sum of the image's layer sizes, which oc puts there."""
    decoded = decoded_config(config)
    out: dict[str, Any] = {"id": decoded.get("id", "")}
    _copy_set(out, decoded, ("parent", "comment"))
    out["created"] = decoded.get("created", ZERO).marshal_json()
    _copy_set(out, decoded, ("container",))
    out["container_config"] = _docker_config(decoded.get("container_config") or {})
    _copy_set(out, decoded, ("docker_version", "author"))
    if "config" in decoded:  # a pointer: null or absent is nil, left out
        out["config"] = _docker_config(decoded["config"])
    _copy_set(out, decoded, ("architecture",))
    if size:
        out["size"] = size
    if "rootfs" in decoded:
        rootfs = decoded["rootfs"]
        out["rootfs"] = {"type": rootfs.get("type", "")}
        _copy_set(out["rootfs"], rootfs, ("diff_ids",))
    if decoded.get("history"):
        out["history"] = [_history(entry) for entry in decoded["history"]]
    _copy_set(out, decoded, ("os", "os.version", "os.features"))
    return out


def _copy_set(out: dict[str, Any], decoded: Mapping[str, Any], keys: tuple[str, ...]) -> None:
    """Go's omitempty: each of ``keys`` whose decoded value is not empty, copied into ``out``."""
    for key in keys:
        if decoded.get(key):
            out[key] = decoded[key]


def _docker_config(config: Mapping[str, Any]) -> dict[str, Any]:
    return go_container_config(config, dict(config.get("Labels") or {}))


def _history(entry: Mapping[str, Any]) -> dict[str, Any]:
    """A decoded history entry as Go writes ``DockerConfigHistory`` (``created`` always, the rest omitempty)."""
    out: dict[str, Any] = {"created": entry.get("created", ZERO).marshal_json()}
    _copy_set(out, entry, ("author", "created_by", "comment", "empty_layer"))
    return out


def _descriptor(desc: Any) -> dict[str, Any]:
    """A layer as distribution's Descriptor encodes it: mediaType, digest, size, urls, annotations, platform."""
    out: dict[str, Any] = {}
    if desc.media_type:
        out["mediaType"] = desc.media_type
    if desc.digest:
        out["digest"] = desc.digest
    if desc.size:
        out["size"] = desc.size
    raw = desc.raw or {}
    if raw.get("urls"):
        out["urls"] = raw["urls"]
    if desc.annotations:
        out["annotations"] = sorted_map(desc.annotations)
    if raw.get("platform"):
        out["platform"] = raw["platform"]
    return out


def _image_json(image: ComponentImage) -> dict[str, Any]:
    """oc's Image: the pull spec as name; the config's size is the sum of the layer sizes, as oc computes it."""
    config = (
        None if image.config is None else go_config(image.config, sum(layer.size for layer in image.layers))
    )
    return {
        "name": image.pullspec,
        "digest": image.digest,
        "contentDigest": image.content_digest,
        "listDigest": image.list_digest,
        "mediaType": image.media_type,
        "layers": [_descriptor(layer) for layer in image.layers],
        "config": config,
    }


def info_json(info: ReleaseInfo) -> dict[str, Any]:
    """The ReleaseInfo object of ``-o json`` in oc's key order."""
    return {
        "image": info.image,
        "digest": info.digest,
        "contentDigest": info.content_digest,
        "listDigest": info.list_digest,
        "config": go_config(info.config, sum(layer.size for layer in info.manifest.layers)),
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


#: oc's ``--output`` values for ``info``, in the order its error message lists them.
OUTPUT_FORMATS = (
    "json",
    "pullspec",
    "digest",
    "name",
    "go-template",
    "go-template-file",
    "template",
    "templatefile",
    "jsonpath",
    "jsonpath-as-json",
    "jsonpath-file",
)
TEMPLATE_FORMATS = OUTPUT_FORMATS[4:]


def check_output(output: str) -> None:
    """Refuse an ``--output`` value oc refuses (only the part before ``=`` names the format)."""
    name = output.split("=", 1)[0]
    if output and name not in OUTPUT_FORMATS:
        raise UsageError(f"--output only supports {', '.join(OUTPUT_FORMATS)}")
    if name in TEMPLATE_FORMATS and not output.partition("=")[2]:
        raise UsageError("template format specified but no template given")


def with_template_flag(output: str, template: str | None) -> str:
    """``--output`` with kubectl's ``--template`` applied, as oc reads the pair: ``-o go-template
    --template=T`` is ``-o go-template=T`` (any template format); with any other format ``--template`` is
    ignored. A format that carries its own template too is refused as oc refuses it (it reads the two
    as one unknown format)."""
    if not template or output.split("=", 1)[0] not in TEMPLATE_FORMATS:
        return output
    if "=" in output:
        raise UsageError(
            f"--output only supports {', '.join(OUTPUT_FORMATS)}: --template cannot be combined with {output}"
        )
    return f"{output}={template}"


def _template_text(kind: str, argument: str) -> str:
    if not kind.endswith("-file") and kind != "templatefile":
        return argument
    try:
        with open(argument, encoding="utf-8") as handle:
            return handle.read()
    except OSError as err:
        raise ReleaseError(f"error reading --template {argument}: {err.strerror or err}") from err


def contents_hint(old: str, new: str, program: str = "okdrelease") -> str:
    """``info --changes-from A --contents B``: oc's hint, with okdrelease's extract command."""
    return (
        "To see the differences between these releases, run:\n\n"
        f"  {program} extract {old} --to=/tmp/old\n"
        f"  {program} extract {new} --to=/tmp/new\n"
        "  diff /tmp/old /tmp/new\n\n"
    )


def render_template_output(info: ReleaseInfo, output: str) -> str:
    """``-o jsonpath=…``/``-o template=…`` (and the file variants) over oc's JSON of the release."""
    from okdrelease.gocompat.gojson import loads_go_numbers
    from okdrelease.gocompat.gotemplate import render_template
    from okdrelease.gocompat.jsonpath import render_jsonpath

    kind, _, argument = output.partition("=")
    text = _template_text(kind, argument)
    data = loads_go_numbers(marshal_indent(info_json(info)))
    if kind.startswith("jsonpath"):
        return render_jsonpath(text, data, go_value=go_value, as_json=kind == "jsonpath-as-json")
    return render_template(text, data, go_value=go_value)


def template_failure_output(info: ReleaseInfo, err: Exception) -> str:
    """What oc writes to stdout when ``-o template=…`` fails while executing: what the template printed,
    then kubectl's report (the error, the template, the release as JSON and as the template saw it);
    empty for any other error."""
    from okdrelease.gocompat.gojson import marshal
    from okdrelease.gocompat.gotemplate import TemplateExecError, failure_report

    if not isinstance(err, TemplateExecError):
        return ""
    return failure_report(err, marshal(info_json(info)).decode("utf-8"), go_value)


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


GITHUB_PREFIX = "https://github.com/"


def _source_url(repo: str, *parts: str) -> str:
    """oc's ``urlForRepoAndCommit``/``…Range``: a GitHub URL path joined with ``parts``, else the words."""
    if repo.startswith(GITHUB_PREFIX):
        parsed = urlparse(repo)
        path = posixpath.normpath(posixpath.join(parsed.path or "/", *parts))
        return parsed._replace(path=path).geturl()
    return " ".join((repo, *(parts[1].split("...") if parts[0] == "compare" else parts[1:])))


def _repo_and_commit(tag: ReleaseTag) -> str:
    repo, commit = tag.annotation(ANNOTATION_SOURCE), tag.annotation(ANNOTATION_COMMIT)
    return _source_url(repo, "commit", commit) if repo and commit else "<unknown>"


def _git_diff_or_commit(old: ReleaseTag, new: ReleaseTag) -> str:
    """oc's ``gitDiffOrCommit``: a compare URL, one commit, or both sides of a moved repository."""
    old_repo, new_repo = old.annotation(ANNOTATION_SOURCE), new.annotation(ANNOTATION_SOURCE)
    old_commit, new_commit = old.annotation(ANNOTATION_COMMIT), new.annotation(ANNOTATION_COMMIT)
    if not new_repo or not new_commit:
        return "<unknown>"
    new_url = _source_url(new_repo, "commit", new_commit)
    if old_repo == new_repo:
        return (
            new_url
            if old_commit == new_commit
            else _source_url(new_repo, "compare", f"{old_commit}...{new_commit}")
        )
    if not old_commit:
        return f"{old_repo} <unknown> -> {new_url}"
    if old_commit == new_commit:
        return f"{old_repo} -> {new_url}"
    return f"{_source_url(old_repo, 'commit', old_commit)} -> {new_url}"


def describe_comparison(
    comparison: ReleaseComparison,
    *,
    show_commit: bool = False,
    now: Callable[[], datetime.datetime] | None = None,
) -> str:
    """The human ``--changes-from`` output, or ``Releases are identical``."""
    old, new = comparison.old, comparison.new
    if old.digest == new.digest:  # oc compares the manifests read (a listed release's entry), not the lists
        return "Releases are identical\n"
    clock = (now or (lambda: datetime.datetime.now(datetime.UTC)))()
    out = [_comparison_header(old, new, clock)]
    changes = comparison.changed_images
    if changes:
        width = max(len(name) for name in changes)
        groups: dict[str, list[ImageChange]] = {"changed": [], "rebuilt": [], "added": [], "removed": []}
        for name in sorted(changes):
            groups[_change_kind(changes[name])].append(changes[name])
        for title, kind in (("Images Changed:", "changed"), ("Images Rebuilt:", "rebuilt")):
            if groups[kind]:
                out.append(_changed_section(title, groups[kind], width, show_commit))
        if groups["added"]:
            out.append(_added_section(groups["added"], width, show_commit))
        if groups["removed"]:
            section = TabWriter(0, 4, 1, discard_empty=True)
            section.write("\nImages Removed:\n")
            for change in groups["removed"]:
                section.write(f"  {change.name.ljust(width)}\n")
            out.append(section.getvalue())
    out.append("\n")
    return "".join(out)


def _change_kind(change: ImageChange) -> str:
    if change.old is not None and change.new is not None:
        return "changed" if _commit_changed(change.old, change.new) else "rebuilt"
    return "added" if change.new is not None else "removed"


def _comparison_header(old: ReleaseInfo, new: ReleaseInfo, clock: datetime.datetime) -> str:
    def age(info: ReleaseInfo) -> str:
        return short_duration(go_since(clock, created_time(info.config)))

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
    return w.getvalue()


def _changed_section(title: str, group: list[ImageChange], width: int, show_commit: bool) -> str:
    section = TabWriter(0, 4, 1, discard_empty=True)
    section.write(f"\n{title}\n")
    for change in group:
        assert change.old is not None and change.new is not None
        old_ref, new_ref = image_column(change.old), image_column(change.new)
        if old_ref == new_ref:
            continue
        name = change.name.ljust(width)
        if show_commit:
            section.write(f"  {name}\t{_git_diff_or_commit(change.old, change.new)}\n")
        else:
            section.write(f"  {name}\t{old_ref}\t{new_ref}\n")
    return section.getvalue()


def _added_section(group: list[ImageChange], width: int, show_commit: bool) -> str:
    section = TabWriter(0, 4, 1, discard_empty=True)
    section.write("\nImages Added:\n")
    for change in group:
        assert change.new is not None
        name = change.name.ljust(width)
        if show_commit:
            section.write(f"  {name}\t{_repo_and_commit(change.new)}\n")
        else:
            section.write(f"  {name}\t{image_column(change.new)}\n")
    return section.getvalue()
