"""Go's decoding and re-encoding of a Docker image config (encoding/json field matching, DockerConfig omitempty)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["CONFIG_TOP_FIELDS", "go_container_config", "go_decode_fields"]

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
