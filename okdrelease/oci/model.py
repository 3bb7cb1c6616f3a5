"""Image model: descriptors, manifests, indexes and configs that keep their exact bytes.

The digest of the raw bytes is the identity of a manifest or config. The parsed view is a plain
dict so unknown fields survive a read-modify-write; nothing here re-serialises what it read.
"""

from __future__ import annotations

import json
from typing import Any

import attrs

from okdrelease._repr import value_repr
from okdrelease.errors import InvalidReferenceError, OkdReleaseError
from okdrelease.gocompat.jsonbounds import json_too_deep, max_depth_message
from okdrelease.oci import mediatypes as mt
from okdrelease.oci.digest import sha256_digest, validate_digest


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
        """Build from a descriptor's ``platform`` object (None when absent)."""
        if not data:
            return None
        return cls(
            os=str(data.get("os", "")),
            architecture=str(data.get("architecture", "")),
            variant=str(data.get("variant", "")),
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
    def from_dict(cls, data: dict[str, Any]) -> Descriptor:
        """Parse a descriptor JSON object, keeping it verbatim in ``raw``."""
        try:
            size = int(data["size"])
            if size < 0:
                raise ValueError(f"negative size {size}")
            annotations = data.get("annotations")
            if annotations is not None and not isinstance(annotations, dict):
                raise TypeError("annotations is not an object")
            platform = data.get("platform")
            if platform is not None and not isinstance(platform, dict):
                raise TypeError("platform is not an object")
            return cls(
                media_type=str(data.get("mediaType", "")),
                digest=validate_digest(str(data["digest"])),
                size=size,
                annotations=annotations,
                platform=Platform.from_dict(platform),
                raw=data,
            )
        except (AttributeError, KeyError, TypeError, ValueError, InvalidReferenceError) as err:
            raise OkdReleaseError(f"invalid descriptor {data!r}: {err}") from err

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
    if json_too_deep(raw):
        raise OkdReleaseError(f"{what} is not valid JSON: {max_depth_message()}")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as err:
        raise OkdReleaseError(f"{what} is not valid JSON: {err}") from err
    if not isinstance(data, dict):
        raise OkdReleaseError(f"{what} is not a JSON object")
    return data


@attrs.frozen
class Manifest:
    """A single-image manifest (Docker schema 2 or OCI) with its exact bytes."""

    __repr__ = value_repr

    raw: bytes = attrs.field(repr=False)
    media_type: str
    digest: str
    parsed: dict[str, Any] = attrs.field(eq=False, repr=False)

    @property
    def config(self) -> Descriptor:
        """The config descriptor."""
        return Descriptor.from_dict(self.parsed["config"])

    @property
    def layers(self) -> list[Descriptor]:
        """Layer descriptors, bottom first."""
        return [Descriptor.from_dict(d) for d in self.parsed.get("layers") or []]

    @property
    def annotations(self) -> dict[str, str]:
        """Manifest annotations (empty when none)."""
        return dict(self.parsed.get("annotations") or {})

    def descriptor(self) -> Descriptor:
        """A descriptor pointing at this manifest."""
        return Descriptor(self.media_type, self.digest, len(self.raw))


@attrs.frozen
class Index:
    """A Docker manifest list or OCI index with its exact bytes."""

    __repr__ = value_repr

    raw: bytes = attrs.field(repr=False)
    media_type: str
    digest: str
    parsed: dict[str, Any] = attrs.field(eq=False, repr=False)

    @property
    def manifests(self) -> list[Descriptor]:
        """Child descriptors in list order."""
        return [Descriptor.from_dict(d) for d in self.parsed.get("manifests") or []]

    def descriptor(self) -> Descriptor:
        """A descriptor pointing at this index."""
        return Descriptor(self.media_type, self.digest, len(self.raw))


AnyManifest = Manifest | Index


def parse_manifest(raw: bytes, media_type: str | None = None, digest: str | None = None) -> AnyManifest:
    """Parse manifest bytes. The media type comes from the body, else from ``media_type``.

    ``digest`` is trusted only when given by a caller that verified it; otherwise it is computed.
    """
    data = _load_json(raw, "manifest")
    body_type = data.get("mediaType")
    kind = str(body_type or media_type or "")
    if not kind:
        # OCI manifests may omit mediaType: infer from shape.
        kind = mt.OCI_INDEX if "manifests" in data else mt.OCI_MANIFEST
    if media_type and body_type and media_type != body_type and media_type not in ("application/json",):
        raise OkdReleaseError(f"manifest declares media type {body_type} but was served as {media_type}")
    actual = digest or sha256_digest(raw)
    if kind in mt.INDEX_TYPES:
        return Index(raw=raw, media_type=kind, digest=actual, parsed=data)
    if kind in mt.MANIFEST_TYPES:
        if "config" not in data:
            raise OkdReleaseError(f"manifest {actual} has no config")
        return Manifest(raw=raw, media_type=kind, digest=actual, parsed=data)
    if kind in (mt.DOCKER_SCHEMA1, mt.DOCKER_SCHEMA1_SIGNED) or data.get("schemaVersion") == 1:
        raise OkdReleaseError(f"manifest {actual} uses Docker schema 1, which is not supported")
    raise OkdReleaseError(f"unsupported manifest media type {kind!r} for {actual}")


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
