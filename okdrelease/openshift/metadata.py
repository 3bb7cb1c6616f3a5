"""Cincinnati ``release-metadata`` (spec §1.3, §3.4): building, ``--metadata`` parsing, loading, Go encoding."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from okdrelease._repr import value_repr
from okdrelease.errors import ReleaseError
from okdrelease.gocompat import semver
from okdrelease.gocompat.gojson import (
    GoJSONError,
    GoMap,
    GoSlice,
    GoStruct,
    loads_typed,
    marshal_indent,
    to_interface,
)

__all__ = [
    "CINCINNATI_KIND",
    "CincinnatiMetadata",
    "build_release_metadata",
    "load_release_metadata",
    "parse_metadata_flag",
]

CINCINNATI_KIND = "cincinnati-metadata-v0"

_METADATA_MAP = GoMap("interface {}")
_CINCINNATI = GoStruct(
    "release.CincinnatiMetadata",
    (
        ("kind", "string"),
        ("version", "string"),
        ("previous", GoSlice("string")),
        ("next", GoSlice("string")),
        ("metadata", _METADATA_MAP),
    ),
)


@attrs.frozen
class CincinnatiMetadata:
    """The ``release-metadata`` document (spec §1.3); ``metadata`` holds Go interface{} values.

    ``previous`` is None when a document read from a release has none (Go's nil slice, null).
    """

    __repr__ = value_repr

    version: str
    previous: tuple[str, ...] | None = ()
    next: tuple[str, ...] | None = ()
    metadata: dict[str, Any] | None = None
    kind: str = CINCINNATI_KIND

    def to_go(self) -> dict[str, Any]:
        """The Go struct as a JSON object: kind, version, previous (null when absent), [next], [metadata]."""
        doc: dict[str, Any] = {
            "kind": self.kind,
            "version": self.version,
            "previous": list(self.previous) if self.previous is not None else None,
        }
        if self.next:
            doc["next"] = list(self.next)
        if self.metadata:
            doc["metadata"] = self.metadata
        return doc

    def to_json(self) -> bytes:
        """Return the document as oc writes it: MarshalIndent, two spaces, no trailing newline."""
        doc = self.to_go()
        if self.metadata:
            doc["metadata"] = to_interface(self.metadata)
        return marshal_indent(doc)


def _normalise_versions(values: Sequence[str]) -> tuple[str, ...]:
    """Validate and re-render ``--previous``/``--next`` entries, skip empties, sort as strings (Q23)."""
    out: list[str] = []
    for value in values:
        if not value:
            continue
        try:
            out.append(str(semver.parse(value)))
        except semver.SemverError as err:
            raise ReleaseError(f"{semver.go_quote(value)} is not a valid semantic version: {err}") from err
    return tuple(sorted(out))


def build_release_metadata(
    name: str, previous: Sequence[str], next_: Sequence[str], metadata: Mapping[str, Any] | None
) -> CincinnatiMetadata:
    """Return the release metadata for release ``name`` (which must be a semantic version)."""
    try:
        version = str(semver.parse(name))
    except semver.SemverError as err:
        raise ReleaseError(f"--name must be a semantic version: {err}") from err
    return CincinnatiMetadata(
        version=version,
        previous=_normalise_versions(previous),
        next=_normalise_versions(next_),
        metadata=to_interface(dict(metadata)) if metadata else None,
    )


def parse_metadata_flag(text: str) -> dict[str, Any]:
    """Parse ``--metadata``: checked first as a whole Cincinnati document (Q4), then as the map."""
    data = text.encode("utf-8", "surrogateescape")
    try:
        loads_typed(data, _CINCINNATI, full_paths=True)
        decoded = loads_typed(data, _METADATA_MAP, full_paths=True)
    except GoJSONError as err:
        raise ReleaseError(f"invalid --metadata: {err}") from err
    return decoded or {}


def load_release_metadata(data: bytes, *, nil_slices: bool = False) -> CincinnatiMetadata:
    """Decode a ``release-metadata`` file as Go's json.Unmarshal does (unknown fields dropped); raises GoJSONError.

    With ``nil_slices`` an absent or null ``previous``/``next`` stays None (Go's nil slice, written
    back as null by ``info -o json``); otherwise it is empty.
    """
    doc = loads_typed(data, _CINCINNATI) or {}

    def strings(key: str) -> tuple[str, ...] | None:
        value = doc.get(key)
        if value is None:
            return None if nil_slices else ()
        return tuple(value)

    return CincinnatiMetadata(
        kind=doc.get("kind") or "",
        version=doc.get("version") or "",
        previous=strings("previous"),
        next=strings("next"),
        metadata=doc.get("metadata"),
    )
