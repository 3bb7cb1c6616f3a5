"""The ``image.openshift.io/v1`` ImageStream of ``image-references`` (spec §1.2, §13.5): model, Go encoding, loading."""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from okdrelease._repr import value_repr
from okdrelease.errors import ReleaseError
from okdrelease.gocompat.gojson import (
    GoCustom,
    GoJSONError,
    GoMap,
    GoSlice,
    GoStruct,
    RawNumber,
    decode_typed,
    go_type_error,
    json_kind,
    loads_typed,
    marshal_indent,
    parse_valid,
    sorted_map,
)
from okdrelease.gocompat.gotime import format_time, parse_time
from okdrelease.gocompat.plainyaml import load_plain
from okdrelease.openshift.labels import OVERRIDE_ANNOTATION

__all__ = [
    "API_VERSION",
    "KIND",
    "OVERRIDE_ANNOTATION",
    "ImageStream",
    "NamedTagEventList",
    "ObjectReference",
    "TagEvent",
    "TagEventCondition",
    "TagImportPolicy",
    "TagReference",
    "format_time",
    "load_image_stream",
    "parse_time",
    "sort_tags",
    "validate_kind",
]

log = logging.getLogger(__name__)

KIND = "ImageStream"
API_VERSION = "image.openshift.io/v1"


def _decode_time(value: Any, ctx: Any) -> str:
    """Decode a metav1.Time value (its UnmarshalJSON decodes a string, then parses RFC 3339; oc's Go names
    no path for that inner decoding's error where it names full paths)."""
    if not isinstance(value, str) or isinstance(value, RawNumber):
        if ctx.full:
            raise GoJSONError(f"json: cannot unmarshal {json_kind(value)} into Go value of type string")
        raise go_type_error(value, "string", ctx)
    return parse_time(value)


def _decode_type_meta(value: Any, ctx: Any) -> str:
    """``kind`` and ``apiVersion``, inlined from TypeMeta: sigs.k8s.io/yaml does not find them when it turns
    scalars bound for string fields into strings, so a number or bool stays one and is refused."""
    if not isinstance(value, str) or isinstance(value, RawNumber):
        raise go_type_error(value, "string", ctx)
    return value


# --------------------------------------------------------------------------------------------
# Go types, for decoding (field order = Go declaration order)

_TIME = GoCustom("v1.Time", _decode_time)
_TYPE_META_STRING = GoCustom("string", _decode_type_meta)
_STRING_MAP = GoMap("string")
_OBJECT_REFERENCE = GoStruct(
    "v1.ObjectReference",
    tuple(
        (name, "string")
        for name in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")
    ),
)
_TAG_REFERENCE = GoStruct(
    "v1.TagReference",
    (
        ("name", "string"),
        ("annotations", _STRING_MAP),
        ("from", _OBJECT_REFERENCE),
        ("reference", "bool"),
        ("generation", "int64"),
        (
            "importPolicy",
            GoStruct(
                "v1.TagImportPolicy", (("insecure", "bool"), ("scheduled", "bool"), ("importMode", "string"))
            ),
        ),
        ("referencePolicy", GoStruct("v1.TagReferencePolicy", (("type", "string"),))),
    ),
)
_TAG_EVENT = GoStruct(
    "v1.TagEvent",
    (("created", _TIME), ("dockerImageReference", "string"), ("image", "string"), ("generation", "int64")),
)
_TAG_EVENT_CONDITION = GoStruct(
    "v1.TagEventCondition",
    (
        ("type", "string"),
        ("status", "string"),
        ("lastTransitionTime", _TIME),
        ("reason", "string"),
        ("message", "string"),
        ("generation", "int64"),
    ),
)
_OBJECT_META = GoStruct(
    "v1.ObjectMeta",
    (
        ("name", "string"),
        ("generateName", "string"),
        ("namespace", "string"),
        ("selfLink", "string"),
        ("uid", "string"),
        ("resourceVersion", "string"),
        ("generation", "int64"),
        ("creationTimestamp", _TIME),
        ("deletionTimestamp", _TIME),
        ("deletionGracePeriodSeconds", "int64"),
        ("labels", _STRING_MAP),
        ("annotations", _STRING_MAP),
        ("finalizers", GoSlice("string")),
    ),
)
_IMAGE_STREAM = GoStruct(
    "v1.ImageStream",
    (
        ("kind", _TYPE_META_STRING),
        ("apiVersion", _TYPE_META_STRING),
        ("metadata", _OBJECT_META),
        (
            "spec",
            GoStruct(
                "v1.ImageStreamSpec",
                (
                    ("lookupPolicy", GoStruct("v1.ImageLookupPolicy", (("local", "bool"),))),
                    ("dockerImageRepository", "string"),
                    ("tags", GoSlice(_TAG_REFERENCE)),
                ),
            ),
        ),
        (
            "status",
            GoStruct(
                "v1.ImageStreamStatus",
                (
                    ("dockerImageRepository", "string"),
                    ("publicDockerImageRepository", "string"),
                    (
                        "tags",
                        GoSlice(
                            GoStruct(
                                "v1.NamedTagEventList",
                                (
                                    ("tag", "string"),
                                    ("items", GoSlice(_TAG_EVENT)),
                                    ("conditions", GoSlice(_TAG_EVENT_CONDITION)),
                                ),
                            )
                        ),
                    ),
                ),
            ),
        ),
    ),
)


# --------------------------------------------------------------------------------------------
# Model


def _omit_empty(pairs: Sequence[tuple[str, Any]]) -> dict[str, Any]:
    """Return the pairs whose values Go's omitempty keeps (non-empty strings/maps/lists, true, non-zero)."""
    return {key: value for key, value in pairs if value not in (None, "", 0, False, [], {})}


@attrs.define
class ObjectReference:
    """corev1.ObjectReference (all fields omitempty)."""

    __repr__ = value_repr

    kind: str = ""
    namespace: str = ""
    name: str = ""
    uid: str = ""
    api_version: str = ""
    resource_version: str = ""
    field_path: str = ""

    def copy(self) -> ObjectReference:
        """A copy (every field is immutable; ``attrs.evolve`` costs several times more)."""
        return ObjectReference(
            self.kind,
            self.namespace,
            self.name,
            self.uid,
            self.api_version,
            self.resource_version,
            self.field_path,
        )

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> ObjectReference:
        """Build from decoded fields."""
        return cls(
            kind=doc.get("kind") or "",
            namespace=doc.get("namespace") or "",
            name=doc.get("name") or "",
            uid=doc.get("uid") or "",
            api_version=doc.get("apiVersion") or "",
            resource_version=doc.get("resourceVersion") or "",
            field_path=doc.get("fieldPath") or "",
        )

    def to_go(self) -> dict[str, Any]:
        """Return the Go field-ordered encoding."""
        return _omit_empty(
            [
                ("kind", self.kind),
                ("namespace", self.namespace),
                ("name", self.name),
                ("uid", self.uid),
                ("apiVersion", self.api_version),
                ("resourceVersion", self.resource_version),
                ("fieldPath", self.field_path),
            ]
        )


@attrs.define
class TagImportPolicy:
    """TagImportPolicy (all fields omitempty)."""

    __repr__ = value_repr

    insecure: bool = False
    scheduled: bool = False
    import_mode: str = ""

    def copy(self) -> TagImportPolicy:
        """A copy (every field is immutable; ``attrs.evolve`` costs several times more)."""
        return TagImportPolicy(self.insecure, self.scheduled, self.import_mode)

    def to_go(self) -> dict[str, Any]:
        """Return the Go field-ordered encoding."""
        return _omit_empty(
            [("insecure", self.insecure), ("scheduled", self.scheduled), ("importMode", self.import_mode)]
        )


@attrs.define
class TagReference:
    """One ``spec.tags`` entry; ``annotations`` and ``generation`` encode as null when None."""

    __repr__ = value_repr

    name: str
    annotations: dict[str, str] | None = None
    from_: ObjectReference | None = None
    reference: bool = False
    generation: int | None = None
    import_policy: TagImportPolicy = attrs.field(factory=TagImportPolicy)
    reference_policy_type: str = ""

    @classmethod
    def docker_image(cls, name: str, pullspec: str) -> TagReference:
        """Return a bare tag pointing at DockerImage ``pullspec``."""
        return cls(name=name, from_=ObjectReference(kind="DockerImage", name=pullspec))

    @property
    def from_kind(self) -> str | None:
        """Return ``from.kind`` (None without ``from``)."""
        return self.from_.kind if self.from_ is not None else None

    @property
    def from_name(self) -> str:
        """Return ``from.name`` ("" without ``from``)."""
        return self.from_.name if self.from_ is not None else ""

    @from_name.setter
    def from_name(self, value: str) -> None:
        """Set ``from.name``, creating a DockerImage reference if there is none."""
        if self.from_ is None:
            self.from_ = ObjectReference(kind="DockerImage")
        self.from_.name = value

    def copy(self) -> TagReference:
        """A copy sharing nothing mutable with this tag (what ``copy.deepcopy`` gives, without its cost)."""
        return TagReference(
            name=self.name,
            annotations=dict(self.annotations) if self.annotations is not None else None,
            from_=self.from_.copy() if self.from_ is not None else None,
            reference=self.reference,
            generation=self.generation,
            import_policy=self.import_policy.copy(),
            reference_policy_type=self.reference_policy_type,
        )

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> TagReference:
        """Build from decoded fields."""
        policy = doc.get("importPolicy") or {}
        source = doc.get("from")
        return cls(
            name=doc.get("name") or "",
            annotations=doc.get("annotations"),
            from_=ObjectReference.from_dict(source) if source is not None else None,
            reference=bool(doc.get("reference")),
            generation=doc.get("generation"),
            import_policy=TagImportPolicy(
                insecure=bool(policy.get("insecure")),
                scheduled=bool(policy.get("scheduled")),
                import_mode=policy.get("importMode") or "",
            ),
            reference_policy_type=(doc.get("referencePolicy") or {}).get("type") or "",
        )

    def to_go(self) -> dict[str, Any]:
        """Return the Go field-ordered encoding."""
        out: dict[str, Any] = {
            "name": self.name,
            "annotations": sorted_map(self.annotations) if self.annotations is not None else None,
        }
        if self.from_ is not None:
            out["from"] = self.from_.to_go()
        if self.reference:
            out["reference"] = True
        out["generation"] = self.generation
        out["importPolicy"] = self.import_policy.to_go()
        out["referencePolicy"] = {"type": self.reference_policy_type}
        return out


@attrs.define
class TagEvent:
    """One status tag history item; ``created`` None is Go's zero time (null)."""

    __repr__ = value_repr

    created: str | None = None
    docker_image_reference: str = ""
    image: str = ""
    generation: int = 0

    def to_go(self) -> dict[str, Any]:
        """Return the Go field-ordered encoding."""
        return {
            "created": self.created,
            "dockerImageReference": self.docker_image_reference,
            "image": self.image,
            "generation": self.generation,
        }


@attrs.define
class TagEventCondition:
    """A status tag condition (e.g. ImportSuccess)."""

    __repr__ = value_repr

    type: str = ""
    status: str = ""
    last_transition_time: str | None = None
    reason: str = ""
    message: str = ""
    generation: int = 0

    def to_go(self) -> dict[str, Any]:
        """Return the Go field-ordered encoding (a zero lastTransitionTime is null, as Go writes it)."""
        out: dict[str, Any] = {
            "type": self.type,
            "status": self.status,
            "lastTransitionTime": self.last_transition_time,
        }
        out.update(_omit_empty([("reason", self.reason), ("message", self.message)]))
        out["generation"] = self.generation
        return out


@attrs.define
class NamedTagEventList:
    """One ``status.tags`` entry; ``items`` None encodes as null."""

    __repr__ = value_repr

    tag: str
    items: list[TagEvent] | None = None
    conditions: list[TagEventCondition] = attrs.field(factory=list)

    def to_go(self) -> dict[str, Any]:
        """Return the Go field-ordered encoding."""
        out: dict[str, Any] = {
            "tag": self.tag,
            "items": [item.to_go() for item in self.items] if self.items is not None else None,
        }
        if self.conditions:
            out["conditions"] = [c.to_go() for c in self.conditions]
        return out


def _events(doc: dict[str, Any]) -> NamedTagEventList:
    """Build a NamedTagEventList from decoded fields."""
    items = doc.get("items")
    return NamedTagEventList(
        tag=doc.get("tag") or "",
        items=None
        if items is None
        else [
            TagEvent(
                created=i.get("created"),
                docker_image_reference=i.get("dockerImageReference") or "",
                image=i.get("image") or "",
                generation=i.get("generation") or 0,
            )
            for i in (x or {} for x in items)
        ],
        conditions=[
            TagEventCondition(
                type=c.get("type") or "",
                status=c.get("status") or "",
                last_transition_time=c.get("lastTransitionTime"),
                reason=c.get("reason") or "",
                message=c.get("message") or "",
                generation=c.get("generation") or 0,
            )
            for c in (x or {} for x in doc.get("conditions") or [])
        ],
    )


_EXTRA_META = ("generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation")


@attrs.define
class ImageStream:
    """An ImageStream as oc reads and writes it; ``tags`` is ``spec.tags``, ``status_tags`` is ``status.tags``."""

    __repr__ = value_repr

    name: str = ""
    annotations: dict[str, str] | None = None
    creation_timestamp: str | None = None
    labels: dict[str, str] | None = None
    namespace: str = ""
    kind: str = KIND
    api_version: str = API_VERSION
    lookup_policy_local: bool = False
    docker_image_repository: str = ""
    tags: list[TagReference] = attrs.field(factory=list)
    status_docker_image_repository: str = ""
    public_docker_image_repository: str = ""
    status_tags: list[NamedTagEventList] = attrs.field(factory=list)
    #: Other ObjectMeta fields carried over from an input (generateName, uid, ...), by JSON name.
    extra_metadata: dict[str, Any] = attrs.field(factory=dict)

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> ImageStream:
        """Build from fields decoded with the Go ImageStream type."""
        meta = doc.get("metadata") or {}
        spec = doc.get("spec") or {}
        status = doc.get("status") or {}
        extra = {
            key: meta[key] for key in ("generateName", "selfLink", "uid", "resourceVersion") if meta.get(key)
        }
        extra.update(
            {
                key: meta[key]
                for key in ("generation", "deletionTimestamp", "deletionGracePeriodSeconds", "finalizers")
                if meta.get(key) is not None
            }
        )
        return cls(
            name=meta.get("name") or "",
            annotations=meta.get("annotations"),
            creation_timestamp=meta.get("creationTimestamp"),
            labels=meta.get("labels"),
            namespace=meta.get("namespace") or "",
            kind=doc.get("kind") or "",
            api_version=doc.get("apiVersion") or "",
            lookup_policy_local=bool((spec.get("lookupPolicy") or {}).get("local")),
            docker_image_repository=spec.get("dockerImageRepository") or "",
            tags=[TagReference.from_dict(t or {}) for t in spec.get("tags") or []],
            status_docker_image_repository=status.get("dockerImageRepository") or "",
            public_docker_image_repository=status.get("publicDockerImageRepository") or "",
            status_tags=[_events(t or {}) for t in status.get("tags") or []],
            extra_metadata=extra,
        )

    def copy(self) -> ImageStream:
        """A copy sharing nothing mutable with this stream (what ``copy.deepcopy`` gives, at a fraction of its cost)."""
        return attrs.evolve(
            self,
            annotations=dict(self.annotations) if self.annotations is not None else None,
            labels=dict(self.labels) if self.labels is not None else None,
            tags=[tag.copy() for tag in self.tags],
            status_tags=copy.deepcopy(self.status_tags),
            extra_metadata=copy.deepcopy(self.extra_metadata),
        )

    def _metadata_go(self) -> dict[str, Any]:
        """Return ObjectMeta in Go field order with omitempty applied."""
        extra = self.extra_metadata
        pairs: list[tuple[str, Any]] = [
            ("name", self.name),
            ("generateName", extra.get("generateName")),
            ("namespace", self.namespace),
            ("selfLink", extra.get("selfLink")),
            ("uid", extra.get("uid")),
            ("resourceVersion", extra.get("resourceVersion")),
            ("generation", extra.get("generation")),
            ("creationTimestamp", self.creation_timestamp),
            ("deletionTimestamp", extra.get("deletionTimestamp")),
            ("deletionGracePeriodSeconds", extra.get("deletionGracePeriodSeconds")),
            ("labels", sorted_map(self.labels) if self.labels else None),
            ("annotations", sorted_map(self.annotations) if self.annotations else None),
            ("finalizers", extra.get("finalizers")),
        ]
        out = _omit_empty(pairs)
        if extra.get("deletionGracePeriodSeconds") == 0:  # a pointer: zero is still written
            out["deletionGracePeriodSeconds"] = 0
        return {key: out[key] for key, _ in pairs if key in out}

    def to_go(self) -> dict[str, Any]:
        """Return the whole stream as Go orders and omits its fields."""
        spec: dict[str, Any] = {"lookupPolicy": {"local": self.lookup_policy_local}}
        if self.docker_image_repository:
            spec["dockerImageRepository"] = self.docker_image_repository
        if self.tags:
            spec["tags"] = [t.to_go() for t in self.tags]
        status: dict[str, Any] = {"dockerImageRepository": self.status_docker_image_repository}
        if self.public_docker_image_repository:
            status["publicDockerImageRepository"] = self.public_docker_image_repository
        if self.status_tags:
            status["tags"] = [t.to_go() for t in self.status_tags]
        out: dict[str, Any] = _omit_empty([("kind", self.kind), ("apiVersion", self.api_version)])
        out["metadata"] = self._metadata_go()
        out["spec"] = spec
        out["status"] = status
        return out

    def to_json(self) -> bytes:
        """Return Go ``MarshalIndent`` (two spaces) of the stream, no trailing newline."""
        return marshal_indent(self.to_go())

    def status_tag(self, name: str) -> NamedTagEventList | None:
        """Return the status tag list named ``name``, if any."""
        return next((t for t in self.status_tags if t.tag == name), None)


# --------------------------------------------------------------------------------------------
# Loading


def _load_yaml(data: bytes) -> Any:
    """The first YAML document of ``data`` as sigs.k8s.io/yaml converts it: plain block YAML (the usual
    image-references) without PyYAML, anything else with it (loaded only then)."""
    plain = load_plain(data)
    if plain is not None:
        return plain
    from okdrelease.openshift.k8syaml import load_yaml

    return load_yaml(data)


#: A ``\\u`` escape naming a UTF-16 surrogate (D800-DFFF) that is an escape: after an even run of backslashes.
_SURROGATE_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u[dD][89a-fA-F]")


def load_image_stream(data: bytes, *, json_only: bool = False) -> ImageStream:
    """Decode an ImageStream like oc: JSON only if asked (Go's encoding/json, as ``--from-dir`` reads
    it), else as sigs.k8s.io/yaml reads YAML or JSON; kind/apiVersion are not checked.

    JSON is parsed as JSON when Go's JSON reading and go-yaml's agree on it. A JSON string's escape of a
    surrogate (lone or half of a pair) is where they do not: go-yaml refuses any, so such JSON is read
    as YAML, which refuses it in go-yaml's words.
    """
    if json_only:
        doc = loads_typed(data, _IMAGE_STREAM)
        return ImageStream.from_dict(doc or {})
    value: Any
    if data.lstrip(b" \t\r\n").startswith(b"{") and not (
        b"\\u" in data and _SURROGATE_ESCAPE.search(data) is not None
    ):
        try:
            value = parse_valid(data)
        except GoJSONError:
            value = _load_yaml(data)
    else:
        value = _load_yaml(data)
    # sigs.k8s.io/yaml reads JSON as YAML too: a scalar bound for a string field becomes that string, and
    # Go's decoder, run on the converted JSON, names the path without struct names after its prefix.
    try:
        doc = decode_typed(value, _IMAGE_STREAM, from_yaml=True, full_paths=True, anonymous=True)
    except GoJSONError as err:
        raise GoJSONError(f"error unmarshaling JSON: {err}") from err
    return ImageStream.from_dict(doc or {})


def validate_kind(stream: ImageStream | Mapping[str, Any]) -> None:
    """Raise ReleaseError("invalid kind/apiVersion") unless ``stream`` (model or raw mapping) is an image.openshift.io/v1 ImageStream."""
    if isinstance(stream, ImageStream):
        kind: Any = stream.kind
        api_version: Any = stream.api_version
    else:
        kind, api_version = stream.get("kind"), stream.get("apiVersion")
    if kind != KIND or api_version != API_VERSION:
        raise ReleaseError("invalid kind/apiVersion")


def sort_tags(stream: ImageStream) -> None:
    """Sort ``spec.tags`` by name in byte order."""
    stream.tags.sort(key=lambda t: t.name.encode("utf-8", "surrogateescape"))
