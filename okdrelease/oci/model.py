"""Image model: descriptors, manifests, indexes and configs that keep their exact bytes.

The digest of the raw bytes is the identity of a manifest or config. The parsed view is a plain
dict so unknown fields survive a read-modify-write; nothing here re-serialises what it read.
"""

from __future__ import annotations

import json
from typing import Any

import attrs

from okdrelease._repr import value_repr
from okdrelease.errors import InvalidReferenceError, OkdReleaseError, printable
from okdrelease.gocompat.jsonbounds import json_loads
from okdrelease.oci import mediatypes as mt
from okdrelease.oci.digest import sha256_digest, validate_digest

#: Descriptor sizes are Go ``int64`` in containers/image and the OCI spec: larger ones are refused.
_INT64_MAX = (1 << 63) - 1


def _json_text(value: Any) -> str:
    """``value`` as JSON text for an error message (cut short when long)."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    return printable(text if len(text) <= 40 else f"{text[:37]}...")


def _kind(value: Any) -> str:
    """The JSON kind of ``value`` for an error message (``a string``, ``null``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


def _string_field(data: dict[str, Any], key: str) -> str:
    """``data[key]`` when it is a string, "" when absent; ValueError naming the key otherwise."""
    value = data.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"{key} is {_kind(value)}, not a string")
    return value


def _size_field(data: dict[str, Any]) -> int:
    """``data["size"]``: a JSON integer in 0..int64 max, as Go decodes it into an ``int64``."""
    if "size" not in data:
        raise ValueError("size is missing")
    size = data["size"]
    if isinstance(size, bool) or not isinstance(size, (int, float)):
        raise ValueError(f"size is {_kind(size)}, not an integer")
    if isinstance(size, float):
        raise ValueError(f"size {_json_text(size)} is not an integer")
    if size < 0:
        raise ValueError(f"negative size {size}")
    if size > _INT64_MAX:
        raise ValueError(f"size {size} is out of range")
    return size


def _string_map(value: Any, what: str, item: str) -> dict[str, str] | None:
    """A JSON object of strings as a dict, None when null; ValueError naming ``what`` or the ``item`` key."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValueError(f"{what} is {_kind(value)}, not an object")
    for key, text in value.items():
        if not isinstance(text, str):
            raise ValueError(f"{item} {printable(key)} is {_kind(text)}, not a string")
    return value


@attrs.frozen
class Platform:
    """The platform of an index entry (``os/architecture[/variant]``)."""

    __repr__ = value_repr

    os: str = ""
    architecture: str = ""
    variant: str = ""

    def __str__(self) -> str:
        text = f"{self.os}/{self.architecture}"
        return f"{text}/{self.variant}" if self.variant else text

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Platform | None:
        """Build from a descriptor's ``platform`` object (None when absent); ValueError for non-string fields."""
        if not data:
            return None
        return cls(
            os=_string_field(data, "os"),
            architecture=_string_field(data, "architecture"),
            variant=_string_field(data, "variant"),
        )


@attrs.frozen
class Descriptor:
    """A content descriptor. ``raw`` holds the original JSON object, key order included."""

    __repr__ = value_repr

    media_type: str
    digest: str
    size: int
    annotations: dict[str, str] | None = None
    platform: Platform | None = None
    raw: dict[str, Any] | None = attrs.field(default=None, eq=False, repr=False)

    @classmethod
    def from_dict(cls, data: Any, where: str = "descriptor") -> Descriptor:
        """Parse a descriptor JSON object, keeping it verbatim in ``raw``.

        Types are checked as Go's decoder checks them (strings, an ``int64`` size, string annotations);
        a malformed one is an OkdReleaseError ``invalid WHERE: PROBLEM``.
        """
        try:
            if not isinstance(data, dict):
                raise ValueError(f"{_kind(data)}, not an object")
            if "digest" not in data:
                raise ValueError("digest is missing")
            platform = data.get("platform")
            if platform is not None and not isinstance(platform, dict):
                raise ValueError(f"platform is {_kind(platform)}, not an object")
            return cls(
                media_type=_string_field(data, "mediaType"),
                digest=validate_digest(_string_field(data, "digest")),
                size=_size_field(data),
                annotations=_string_map(data.get("annotations"), "annotations", "annotation"),
                platform=Platform.from_dict(platform),
                raw=data,
            )
        except (ValueError, InvalidReferenceError) as err:
            raise OkdReleaseError(f"invalid {where}: {err}") from err

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON object: ``raw`` when read, else mediaType, digest, size[, annotations]."""
        if self.raw is not None:
            return self.raw
        out: dict[str, Any] = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        if self.annotations:
            out["annotations"] = self.annotations
        if self.platform is not None:
            platform = {"architecture": self.platform.architecture, "os": self.platform.os}
            if self.platform.variant:
                platform["variant"] = self.platform.variant
            out["platform"] = platform
        return out

    @property
    def ref_name(self) -> str | None:
        """The ``org.opencontainers.image.ref.name`` annotation, if any."""
        return (self.annotations or {}).get("org.opencontainers.image.ref.name")


def _load_json(raw: bytes, what: str) -> dict[str, Any]:
    try:
        data = json_loads(raw)
    except (ValueError, UnicodeDecodeError) as err:
        raise OkdReleaseError(f"{what} is not valid JSON: {err}") from err
    if not isinstance(data, dict):
        raise OkdReleaseError(f"{what} is not a JSON object")
    return data


@attrs.frozen
class Manifest:
    """A single-image manifest (Docker schema 2 or OCI) with its exact bytes and checked descriptors."""

    __repr__ = value_repr

    raw: bytes = attrs.field(repr=False)
    media_type: str
    digest: str
    parsed: dict[str, Any] = attrs.field(eq=False, repr=False)
    config_descriptor: Descriptor = attrs.field(eq=False, repr=False)
    layer_descriptors: tuple[Descriptor, ...] = attrs.field(eq=False, repr=False)

    @property
    def config(self) -> Descriptor:
        """The config descriptor."""
        return self.config_descriptor

    @property
    def layers(self) -> list[Descriptor]:
        """Layer descriptors, bottom first."""
        return list(self.layer_descriptors)

    @property
    def annotations(self) -> dict[str, str]:
        """Manifest annotations (empty when none)."""
        return dict(self.parsed.get("annotations") or {})

    def descriptor(self) -> Descriptor:
        """A descriptor pointing at this manifest."""
        return Descriptor(self.media_type, self.digest, len(self.raw))


@attrs.frozen
class Index:
    """A Docker manifest list or OCI index with its exact bytes and checked child descriptors."""

    __repr__ = value_repr

    raw: bytes = attrs.field(repr=False)
    media_type: str
    digest: str
    parsed: dict[str, Any] = attrs.field(eq=False, repr=False)
    manifest_descriptors: tuple[Descriptor, ...] = attrs.field(eq=False, repr=False)

    @property
    def manifests(self) -> list[Descriptor]:
        """Child descriptors in list order."""
        return list(self.manifest_descriptors)

    def descriptor(self) -> Descriptor:
        """A descriptor pointing at this index."""
        return Descriptor(self.media_type, self.digest, len(self.raw))


AnyManifest = Manifest | Index


def descriptor_list(data: dict[str, Any], key: str) -> tuple[Descriptor, ...]:
    """The descriptors in ``data[key]`` (null or absent: none); OkdReleaseError naming ``key[N]`` when malformed."""
    items = data.get(key)
    if items is None:
        return ()
    if not isinstance(items, list):
        raise OkdReleaseError(f"{key} is {_kind(items)}, not an array")
    return tuple(Descriptor.from_dict(item, f"descriptor {key}[{n}]") for n, item in enumerate(items))


def parse_manifest(raw: bytes, media_type: str | None = None, digest: str | None = None) -> AnyManifest:
    """Parse manifest bytes. The media type comes from the body, else from ``media_type``.

    ``digest`` is trusted only when given by a caller that verified it; otherwise it is computed.
    Every descriptor (config, layers, child manifests) and the annotations are checked here, so a
    malformed one is an OkdReleaseError that the store reading the bytes prefixes with their origin.
    """
    data = _load_json(raw, "manifest")
    body_type = data.get("mediaType")
    if body_type is not None and not isinstance(body_type, str):
        raise OkdReleaseError(f"manifest mediaType is {_kind(body_type)}, not a string")
    kind = body_type or media_type or ""
    if not kind:
        # OCI manifests may omit mediaType: infer from shape.
        kind = mt.OCI_INDEX if "manifests" in data else mt.OCI_MANIFEST
    if media_type and body_type and media_type != body_type and media_type not in ("application/json",):
        raise OkdReleaseError(
            f"manifest declares media type {printable(body_type)} but was served as {printable(media_type)}"
        )
    actual = digest or sha256_digest(raw)
    if kind not in mt.INDEX_TYPES and kind not in mt.MANIFEST_TYPES:
        if kind in (mt.DOCKER_SCHEMA1, mt.DOCKER_SCHEMA1_SIGNED) or data.get("schemaVersion") == 1:
            raise OkdReleaseError(f"manifest {actual} uses Docker schema 1, which is not supported")
        raise OkdReleaseError(f"unsupported manifest media type '{printable(kind)}' for {actual}")
    try:
        _string_map(data.get("annotations"), "annotations", "annotation")
    except ValueError as err:
        raise OkdReleaseError(f"manifest {err}") from None
    if kind in mt.INDEX_TYPES:
        manifests = descriptor_list(data, "manifests")
        return Index(raw=raw, media_type=kind, digest=actual, parsed=data, manifest_descriptors=manifests)
    if "config" not in data:
        raise OkdReleaseError(f"manifest {actual} has no config")
    config = Descriptor.from_dict(data["config"], "config descriptor")
    layers = descriptor_list(data, "layers")
    return Manifest(
        raw=raw,
        media_type=kind,
        digest=actual,
        parsed=data,
        config_descriptor=config,
        layer_descriptors=layers,
    )


@attrs.frozen
class ImageConfig:
    """An image config blob with its exact bytes and parsed view."""

    __repr__ = value_repr

    raw: bytes = attrs.field(repr=False)
    digest: str
    parsed: dict[str, Any] = attrs.field(eq=False, repr=False)

    @classmethod
    def from_bytes(cls, raw: bytes, digest: str | None = None) -> ImageConfig:
        """Parse config bytes (digest computed when not given)."""
        return cls(raw=raw, digest=digest or sha256_digest(raw), parsed=_load_json(raw, "image config"))

    @property
    def labels(self) -> dict[str, str]:
        """``config.Labels`` (empty when absent)."""
        return dict((self.parsed.get("config") or {}).get("Labels") or {})

    @property
    def created(self) -> str:
        """The ``created`` timestamp as written."""
        return str(self.parsed.get("created") or "")

    @property
    def os(self) -> str:
        """The ``os`` field."""
        return str(self.parsed.get("os") or "")

    @property
    def architecture(self) -> str:
        """The ``architecture`` field."""
        return str(self.parsed.get("architecture") or "")

    @property
    def diff_ids(self) -> list[str]:
        """``rootfs.diff_ids``."""
        return list((self.parsed.get("rootfs") or {}).get("diff_ids") or [])
