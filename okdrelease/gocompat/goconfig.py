"""Go's decoding and re-encoding of a Docker image config (encoding/json field matching, DockerConfig omitempty),
and oc's decoding of a whole config into library-go's ``DockerImageConfig`` with the errors it reports."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from okdrelease.errors import ReleaseError
from okdrelease.gocompat.gojson import (
    GoJSONError,
    GoMap,
    GoSlice,
    GoStruct,
    RawNumber,
    json_kind,
    parse_valid,
)
from okdrelease.gocompat.gotime import ZERO, GoTime, parse_rfc3339, unmarshal_time

if TYPE_CHECKING:
    from okdrelease.oci.model import ImageConfig

__all__ = [
    "CONFIG_TOP_FIELDS",
    "check_config",
    "created_time",
    "decode_image_config",
    "decoded_config",
    "go_container_config",
    "go_decode_fields",
]

# Go's DockerConfig struct (docker10), in declaration order: JSON name -> kind for omitempty.
_CONFIG_FIELDS: tuple[tuple[str, str], ...] = (
    ("Hostname", "str"),
    ("Domainname", "str"),
    ("User", "str"),
    ("Memory", "int"),
    ("MemorySwap", "int"),
    ("CpuShares", "int"),
    ("Cpuset", "str"),
    ("AttachStdin", "bool"),
    ("AttachStdout", "bool"),
    ("AttachStderr", "bool"),
    ("PortSpecs", "list"),
    ("ExposedPorts", "set"),
    ("Tty", "bool"),
    ("OpenStdin", "bool"),
    ("StdinOnce", "bool"),
    ("Env", "list"),
    ("Cmd", "list"),
    ("Dns", "list"),
    ("Image", "str"),
    ("Volumes", "set"),
    ("VolumesFrom", "str"),
    ("WorkingDir", "str"),
    ("Entrypoint", "list"),
    ("NetworkDisabled", "bool"),
    ("SecurityOpts", "list"),
    ("OnBuild", "list"),
    ("Labels", "map"),
)


def go_decode_fields(data: Mapping[str, Any], names: Iterable[str]) -> dict[str, Any]:
    """Map JSON keys onto Go field names the way encoding/json does (exact, then case-insensitive)."""
    canonical = {name.lower(): name for name in names}
    out: dict[str, Any] = {}
    for key, value in data.items():
        field = key if key in canonical.values() else canonical.get(key.lower())
        if field is not None:
            out[field] = value
    return out


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == 0 or value is False or value == [] or value == {}


def go_container_config(config: Mapping[str, Any], labels: dict[str, str]) -> dict[str, Any]:
    """The ``config`` object as Go's DockerConfig struct re-encodes it, with ``labels`` in place."""
    decoded = go_decode_fields(config, [name for name, _ in _CONFIG_FIELDS])
    decoded["Labels"] = labels
    out: dict[str, Any] = {}
    for name, kind in _CONFIG_FIELDS:
        value = decoded.get(name)
        if _empty(value):
            continue
        if kind in ("set", "map") and isinstance(value, dict):
            value = {k: ({} if kind == "set" else value[k]) for k in sorted(value)}
        out[name] = value
    return out


CONFIG_TOP_FIELDS = (
    "id",
    "parent",
    "comment",
    "created",
    "container",
    "container_config",
    "docker_version",
    "author",
    "config",
    "architecture",
    "size",
    "rootfs",
    "history",
    "os",
    "os.version",
    "os.features",
)


_GO_TYPES = {
    "str": "string",
    "int": "int64",
    "bool": "bool",
    "list": GoSlice("string"),
    "set": GoMap(GoStruct("struct {}", ())),
    "map": GoMap("string"),
}
_TIME = "time.Time"
_DOCKER_CONFIG = GoStruct(
    "docker10.DockerConfig", tuple((name, _GO_TYPES[kind]) for name, kind in _CONFIG_FIELDS)
)
#: library-go's ``dockerv1client.DockerImageConfig``, what oc decodes every image config into.
_IMAGE_CONFIG = GoStruct(
    "dockerv1client.DockerImageConfig",
    (
        ("id", "string"),
        ("parent", "string"),
        ("comment", "string"),
        ("created", _TIME),
        ("container", "string"),
        ("container_config", _DOCKER_CONFIG),
        ("docker_version", "string"),
        ("author", "string"),
        ("config", _DOCKER_CONFIG),
        ("architecture", "string"),
        ("size", "int64"),
        (
            "rootfs",
            GoStruct(
                "dockerv1client.DockerConfigRootFS", (("type", "string"), ("diff_ids", GoSlice("string")))
            ),
        ),
        (
            "history",
            GoSlice(
                GoStruct(
                    "dockerv1client.DockerConfigHistory",
                    (
                        ("created", _TIME),
                        ("author", "string"),
                        ("created_by", "string"),
                        ("comment", "string"),
                        ("empty_layer", "bool"),
                    ),
                )
            ),
        ),
        ("os", "string"),
        ("os.version", "string"),
        ("os.features", GoSlice("string")),
    ),
)


def decode_image_config(data: Any) -> dict[str, Any]:
    """The JSON object ``data`` (parsed as :func:`gojson.parse_valid` parses it, numbers kept as written)
    decoded as oc decodes an image config: into ``DockerImageConfig``, the first error in document order
    ending it (GoJSONError in oc's words: ``json: cannot unmarshal KIND into Go struct field .PATH of
    type T``, ``into .PATH`` where the value is an array element, JSON-pointer escapes in keys; a time
    Go's parser refuses in its own words).

    The result holds the fields oc keeps, by their JSON names, with Go's values: ``created`` and each
    history entry's ``created`` a :class:`GoTime`, a null field left out (Go's zero value), a null
    element or map value its type's zero value (``""``, ``{}``)."""
    return _decode(data, _IMAGE_CONFIG, ()) or {}


_ZERO = {"string": "", "bool": False, "int64": 0}


def _element(value: Any, typ: Any, path: tuple[str | int, ...]) -> Any:
    """A slice element or map value: null is the element type's zero value (Go's ``""``, ``{}``...)."""
    if value is not None:
        return _decode(value, typ, path)
    return {} if isinstance(typ, GoStruct) else _ZERO.get(typ) if isinstance(typ, str) else None


_LEAF_KINDS = {"string": "string", "bool": "bool", "int64": "number"}


def _decode(value: Any, typ: Any, path: tuple[str | int, ...]) -> Any:
    if value is None:
        return None
    if typ.__class__ is str:  # a leaf: "string" (the usual case, first), "bool", "int64" or the time
        if value.__class__ is str and typ == "string":
            return value
        if typ == _TIME:
            # A string is parsed as unmarshal_time parses it, without writing the path it only names in errors.
            return parse_rfc3339(value) if value.__class__ is str else unmarshal_time(value, _where(path))
        kind = json_kind(value)
        if kind != _LEAF_KINDS.get(typ):
            raise _type_error(kind, typ, path)
        return _int64(value, path) if typ == "int64" else value
    kind = json_kind(value)
    if kind != ("array" if isinstance(typ, GoSlice) else "object"):
        raise _type_error(kind, typ, path)
    if isinstance(typ, GoSlice):
        return [_element(item, typ.elem, (*path, index)) for index, item in enumerate(value)]
    if isinstance(typ, GoMap):
        return {key: _element(item, typ.elem, (*path, key)) for key, item in value.items()}
    out: dict[str, Any] = {}
    by_name, by_folded_name = typ.by_name, typ.by_folded_name
    for key, item in value.items():
        name = key if key in by_name else by_folded_name.get(key.casefold())
        if name is not None:
            decoded = _decode(item, by_name[name], (*path, key))
            if decoded is not None:
                out[name] = decoded
    return out


def _int64(value: Any, path: tuple[str | int, ...]) -> int:
    """A JSON number as Go's int64: written without fraction or exponent, within 64 bits."""
    text = str(value)
    try:
        number = int(text)
    except ValueError:
        number = None
    if not isinstance(value, RawNumber) or number is None or not -(1 << 63) <= number < 1 << 63:
        raise _type_error(f"number {text}", "int64", path)
    return number


def _where(path: tuple[str | int, ...]) -> str:
    """The JSON pointer of ``path`` as Go's errors write it: dots for slashes, ``~0``/``~1`` escapes in keys."""
    return "".join(
        f".{part}" if isinstance(part, int) else "." + part.replace("~", "~0").replace("/", "~1")
        for part in path
    )


def _type_error(what: str, typ: Any, path: tuple[str | int, ...]) -> GoJSONError:
    name = typ if isinstance(typ, str) else typ.name
    where = (
        f"into {_where(path)}"
        if path and isinstance(path[-1], int)
        else f"into Go struct field {_where(path)}"
    )
    return GoJSONError(f"json: cannot unmarshal {what} {where} of type {name}")


def decoded_config(config: ImageConfig) -> dict[str, Any]:
    """``config`` as oc decodes every image config (:func:`decode_image_config`); GoJSONError
    in oc's words for what Go's decoder refuses (oc then cannot read the image)."""
    return decode_image_config(parse_valid(config.raw))


def created_time(config: ImageConfig) -> GoTime:
    """The config's ``created`` as oc decodes it, a Go ``time.Time`` (null or absent: the zero time);
    GoJSONError as :func:`decoded_config`."""
    created: GoTime = decoded_config(config).get("created", ZERO)
    return created


def check_config(config: ImageConfig, image: str) -> GoTime:
    """:func:`created_time` of the config of the release ``image`` (as the user named it); a config Go
    cannot decode fails in oc's words (ReleaseError): oc decodes the whole config before reading a layer."""
    try:
        return created_time(config)
    except GoJSONError as err:
        raise ReleaseError(
            f"unable to parse image {image}: unable to parse image configuration: {err}"
        ) from err
