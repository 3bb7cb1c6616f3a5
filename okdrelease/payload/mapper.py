"""Rewriting of operator manifests: image pull specs and version placeholders (spec §3.11.3, §3.11.4)."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

from okdrelease.errors import ReleaseError
from okdrelease.gocompat import semver
from okdrelease.gocompat.strconv import go_quote
from okdrelease.openshift.labels import BUILD_VERSION_DISPLAY_NAMES, BUILD_VERSIONS
from okdrelease.openshift.versions import parse_component_versions

log = logging.getLogger(__name__)

Transform = Callable[[bytes], bytes]

BUILD_VERSIONS_ANNOTATION = BUILD_VERSIONS
BUILD_VERSION_DISPLAY_NAMES_ANNOTATION = BUILD_VERSION_DISPLAY_NAMES
DOCKER_IMAGE_KIND = "DockerImage"

# Go RE2 classes spelled out in ASCII (§13.3): \W, \w, \s, [[:xdigit:]]; ^ and $ anchor the whole text.
_NON_WORD = rb"[^0-9A-Za-z_]"
_WORD = rb"[0-9A-Za-z_]"
_TAG_OR_DIGEST = (
    rb"(:" + _WORD + rb"[0-9A-Za-z_.\-]{0,127}"
    rb"|@[A-Za-z][A-Za-z0-9]*(?:[\-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9A-Fa-f]{2,})?"
)
_PLACEHOLDER = b"0.0.1-snapshot"
#: A placeholder and its ``-component`` suffix; the byte before it is checked apart (see ``_placeholders``).
_VERSION_PLACEHOLDER = re.compile(rb"0\.0\.1-snapshot([a-z0-9\-]*)")


#: What may follow a source: its tag or digest (dropped), then a delimiter (kept) or the end of the text.
_AFTER_SOURCE = re.compile(_TAG_OR_DIGEST + rb"([\t\n\f\r \"']|\Z)")
#: The bytes \W matches in Go RE2's ASCII sense: the one that may come before a source.
_NON_WORD_BYTES = frozenset(
    set(range(256)) - set(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
)


class ImageMapper:
    """Replaces each source pull spec (plus any tag or digest after it) with its target pull spec.

    This is ``re.sub`` of oc's expression ``(\\W|^)(SOURCE|...)(:TAG|@DIGEST)?([\\s"']|$)`` with the
    sources longest first (so a source that is a prefix of another cannot shadow it, §13.3), matched
    without compiling an expression per operator: the sources are found with ``bytes.find`` and each
    candidate is tried the way the expression's backtracking would, leftmost match first.
    """

    __slots__ = ("_order", "_prefix", "_targets")

    def __init__(self, references: Mapping[str, tuple[str, str]]) -> None:
        """Build the matcher from tag name -> (source, target); raises ReleaseError as oc does."""
        by_source: dict[str, str] = {}
        targets: dict[bytes, bytes] = {}
        for name, (source, target) in references.items():
            if not source:
                raise ReleaseError(f"an empty source repository is not allowed for name {go_quote(name)}")
            if source in by_source:
                raise ReleaseError(
                    f"the source repository {go_quote(source)} was defined more than once "
                    f"(for {go_quote(by_source[source])} and {go_quote(name)})"
                )
            by_source[source] = name
            targets[source.encode("utf-8", "surrogateescape")] = target.encode("utf-8", "surrogateescape")
        self._targets = targets
        self._order = sorted(targets, key=lambda s: (-len(s), s))  # the alternation's order
        #: What every source starts with (often a registry and repository prefix): a text without it
        #: names no source, found with one search instead of one per source.
        self._prefix = os.path.commonprefix(self._order) if len(self._order) > 1 else b""

    def __call__(self, data: bytes) -> bytes:
        """Return ``data`` with every delimited source reference replaced by its target."""
        if self._prefix and self._prefix not in data:
            return data
        present = [source for source in self._order if source in data]
        if not present:
            return data  # a plain substring search first: most files name no source at all
        out: list[bytes] = []
        done = 0  # data[:done] is decided (copied to ``out`` or replaced)
        for at, start in _candidates(data, present):
            if at < done:
                continue
            for source in present:
                if not data.startswith(source, start):
                    continue
                after = _AFTER_SOURCE.match(data, start + len(source))
                if after is not None:
                    out += (data[done:start], self._targets[source], after[2])
                    done = after.end()
                    break
        return b"".join(out) + data[done:] if out else data


def _candidates(data: bytes, sources: Sequence[bytes]) -> list[tuple[int, int]]:
    """Where the expression could match, in its search order: (match start, source start).

    A source starts either after a non-word byte (the match starts at that byte) or at the very
    start of the text (``^``); at position 0 the expression tries the non-word byte first.
    """
    starts: set[int] = set()
    for source in sources:
        found = data.find(source)
        while found >= 0:
            starts.add(found)
            found = data.find(source, found + 1)
    candidates = []
    for start in starts:
        if start > 0 and data[start - 1] in _NON_WORD_BYTES:
            candidates.append((start - 1, 0, start))
        if start == 0:
            candidates.append((0, 1, 0))
    candidates.sort()
    return [(at, start) for at, _order, start in candidates]


class VersionMapper:
    """Substitutes ``0.0.1-snapshot`` and ``0.0.1-snapshot-<component>`` placeholders (§3.11.4)."""

    __slots__ = ("_release", "_tags_by_name", "_versions")

    def __init__(
        self,
        release_name: str | None,
        versions: Mapping[str, str],
        tags_by_name: Mapping[str, Sequence[str]],
    ) -> None:
        """Use ``release_name`` (if semver) for bare placeholders and ``versions`` for component ones."""
        release = b""
        if release_name:
            try:
                release = str(semver.parse(release_name).without_build()).encode("ascii")
            except semver.SemverError:
                log.debug("release name %r is not semver; bare version placeholders stay", release_name)
        self._release = release
        self._versions = {k: v.encode("utf-8") for k, v in versions.items()}
        self._tags_by_name = {k: list(v) for k, v in tags_by_name.items()}

    def __call__(self, data: bytes) -> bytes:
        """Return ``data`` with placeholders replaced; raises ReleaseError on unknown or ambiguous keys."""
        if _PLACEHOLDER not in data:
            return data  # no placeholder: skip the regular expression
        missing: list[str] = []
        conflicts: list[str] = []

        def replace(start: int, match: re.Match[bytes]) -> bytes:
            before, text, suffix = data[start : match.start()], data[start : match.end()], match[1]
            if not suffix and self._release:
                return before + self._release
            if not suffix.startswith(b"-"):
                return text
            key = suffix[1:].decode("ascii")
            value = self._versions.get(key)
            if value is None:
                missing.append(key)
                return text
            if len(self._tags_by_name.get(key, ())) > 1:
                conflicts.append(key)
                return text
            return before + value

        out: list[bytes] = []
        done = 0
        for start, match in _placeholders(data):
            out += (data[done:start], replace(start, match))
            done = match.end()
        result = b"".join(out) + data[done:]
        if len(missing) == 1:
            if not missing[0]:
                raise ReleaseError("empty version references are not allowed")
            raise ReleaseError(f"unknown version reference {go_quote(missing[0])}")
        if missing:
            raise ReleaseError(f"unknown version references: {', '.join(missing)}")
        if conflicts:
            tags = ", ".join(sorted(self._tags_by_name[conflicts[0]]))
            raise ReleaseError(
                f"the version for {go_quote(conflicts[0])} is inconsistent across the referenced images: {tags}"
            )
        return result


def _placeholders(data: bytes) -> Iterator[tuple[int, re.Match[bytes]]]:
    """The matches of oc's ``(\\W|^)0\\.0\\.1-snapshot([a-z0-9\\-]*)`` in ``re.sub`` order: (start, match).

    ``start`` is where oc's match starts (the non-word byte before the placeholder, or the text's
    start). The placeholder literal is searched for directly (oc's expression, starting with an
    alternation, is tried at every byte); a match never ends right before another placeholder (its
    suffix would have taken that ``0``), so checking the byte before each one is all it takes.
    """
    at = 0
    while (match := _VERSION_PLACEHOLDER.search(data, at)) is not None:
        found = match.start()
        if found == 0:
            yield 0, match
        elif data[found - 1] in _NON_WORD_BYTES:
            yield found - 1, match
        else:
            at = found + 1
            continue
        at = match.end()


def untouched(data: bytes, sources: Iterable[bytes]) -> bool:
    """Whether every operator transform whose image sources are among ``sources`` returns ``data`` as it
    is, whatever the release: it names none of them and holds no version placeholder (an
    :class:`ImageMapper` and a :class:`VersionMapper` look no further without one of these)."""
    return _PLACEHOLDER not in data and not any(source in data for source in sources)


def simple_transform(release_name: str) -> Transform:
    """Return the transform for an operator without ``image-references``: bare placeholders only."""
    return VersionMapper(release_name, {}, {})


def _compose(image_mapper: ImageMapper, version_mapper: VersionMapper) -> Transform:
    """Return a transform applying image rewriting, then version substitution."""

    def transform(data: bytes) -> bytes:
        return version_mapper(image_mapper(data))

    return transform


def release_targets(release_tags: Sequence[tuple[str, str, Mapping[str, str] | None]]) -> dict[str, str]:
    """Tag name -> from.name of the release stream (the first tag of a name wins), as every operator's
    references are resolved against it (computed once per payload)."""
    targets: dict[str, str] = {}
    for name, from_name, _annotations in release_tags:
        targets.setdefault(name, from_name)
    return targets


def collect_references(
    operator_refs: Sequence[tuple[str, str, str]],
    release_tags: Sequence[tuple[str, str, Mapping[str, str] | None]],
    allow_missing: bool,
    targets: Mapping[str, str] | None = None,
) -> dict[str, tuple[str, str]]:
    """Return tag name -> (source, target) for the operator's DockerImage references (§3.11.3 step 1);
    ``targets``: :func:`release_targets` of ``release_tags`` when already computed."""
    if targets is None:
        targets = release_targets(release_tags)
    references: dict[str, tuple[str, str]] = {}
    for name, kind, from_name in operator_refs:
        if kind != DOCKER_IMAGE_KIND:
            continue
        if not from_name:
            raise ReleaseError(f"no from.name for the tag {name}")
        target = targets.get(name, "")
        if not target:
            if allow_missing:
                log.info(
                    "image-references names %r (%s), which is not an input image; skipping", name, from_name
                )
                continue
            raise ReleaseError(f"no input image tag named {go_quote(name)}")
        references[name] = (from_name, target)
    return references


def collect_versions(
    references: Mapping[str, tuple[str, str]],
    release_tags: Sequence[tuple[str, str, Mapping[str, str] | None]],
    stream_annotations: Mapping[str, str] | None,
    warn: Callable[[str], None],
) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Return (versions, tags_by_name) from the referenced release tags and stream defaults (step 3)."""
    versions: dict[str, str] = {}
    tags_by_name: dict[str, list[str]] = {}
    kubectl_versions: set[str] = set()
    for name, _from_name, tag_annotations in release_tags:
        if name not in references or not tag_annotations or BUILD_VERSIONS_ANNOTATION not in tag_annotations:
            continue
        value = tag_annotations[BUILD_VERSIONS_ANNOTATION]
        display_names = tag_annotations.get(BUILD_VERSION_DISPLAY_NAMES_ANNOTATION, "")
        try:
            items = parse_component_versions(value, display_names)
        except ReleaseError as err:
            raise ReleaseError(
                f"input image stream has an invalid version annotation for tag {go_quote(name)}: {value}"
            ) from err
        for key, component in items.items():
            version = component.version
            if key == "kubectl":
                kubectl_versions.add(version)
                if name not in ("cli", "cli-artifacts"):
                    continue
            existing = versions.get(key)
            if existing is None:
                versions[key] = version
            elif existing != version and key != "machine-os":
                raise ReleaseError(
                    f"input image stream has multiple versions defined for version {key}: {name} defines "
                    f"{version} but was already set to {existing} on {', '.join(tags_by_name.get(key, []))}"
                )
            tags_by_name.setdefault(key, []).append(name)
    if len(kubectl_versions) > 2:
        warn(
            "input image stream has multiple versions defined for version kubectl for all the tags "
            + ",".join(sorted(kubectl_versions))
        )
    stream = stream_annotations or {}
    try:
        defaults = parse_component_versions(
            stream.get(BUILD_VERSIONS_ANNOTATION, ""),
            stream.get(BUILD_VERSION_DISPLAY_NAMES_ANNOTATION, ""),
        )
    except ReleaseError as err:
        raise ReleaseError(f"unable to read default versions label on input image stream: {err}") from err
    for key, component in defaults.items():
        versions.setdefault(key, component.version)
    return versions, tags_by_name


def build_operator_transform(
    operator_refs: Sequence[tuple[str, str, str]],
    release_tags: Sequence[tuple[str, str, Mapping[str, str] | None]],
    stream_annotations: Mapping[str, str] | None,
    release_name: str,
    allow_missing: bool,
    warn: Callable[[str], None],
    targets: Mapping[str, str] | None = None,
) -> Transform:
    """Return the image + version transform for an operator with ``image-references`` (§3.11.3).

    ``operator_refs`` are (tag name, from.kind, from.name) of the operator's own file; ``release_tags``
    are (name, from.name, annotations) of the release stream in order. ``warn`` receives warning text
    without the ``warning: `` prefix; ``targets``: :func:`release_targets` of ``release_tags`` when
    already computed.
    """
    references = collect_references(operator_refs, release_tags, allow_missing, targets)
    versions, tags_by_name = collect_versions(references, release_tags, stream_annotations, warn)
    image_mapper = ImageMapper(references)
    version_mapper = VersionMapper(release_name, versions, tags_by_name)
    if not references:
        log.debug("no image references to rewrite; only version placeholders are substituted")
    return _compose(image_mapper, version_mapper)


__all__ = [
    "ImageMapper",
    "Transform",
    "VersionMapper",
    "build_operator_transform",
    "collect_references",
    "collect_versions",
    "release_targets",
    "simple_transform",
    "untouched",
]
