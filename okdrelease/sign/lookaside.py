"""Where containers/image (podman, skopeo, CRI-O) keeps simple signatures: lookaside stores and registries.d.

Facts from containers/image (docker/registries_d.go, docker/policyconfiguration/naming.go,
docs/containers-registries.d.5.md), followed exactly:

- A signature of manifest ``sha256:HEX`` of repository ``HOST/PATH`` lives at
  ``<base>/<PATH>@sha256=<HEX>/signature-<N>``, N = 1, 2, ...; ``PATH`` is the repository path
  *without* the registry host (``docker.io/library/busybox`` -> ``library/busybox``). Readers stop
  at the first missing N (at most 128).
- ``<base>`` comes from ``registries.d``: every ``*.yaml`` in the directory is merged (a namespace
  or ``default-docker`` defined twice is an error); the most specific ``docker:`` key wins: the
  full reference (``name:tag``/``name@digest``), then the repository and each parent namespace,
  then ``*.domain`` wildcards (port dropped), then ``default-docker``. Writers use
  ``lookaside-staging`` (or the older ``sigstore-staging``) before ``lookaside`` (``sigstore``).
  With nothing configured the base is ``~/.local/share/containers/sigstore`` (root:
  ``/var/lib/containers/sigstore``).
- ``use-sigstore-attachments`` (same lookup) decides whether cosign-style ``.sig`` attachments are read.
"""

from __future__ import annotations

import base64
import json
import os
import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import yaml

from okdrelease._repr import value_repr
from okdrelease.errors import FetchError, InvalidReferenceError, SignatureError
from okdrelease.events import safe_url
from okdrelease.gocompat.yamlbounds import safe_load
from okdrelease.reference import ImageReference
from okdrelease.sign.files import read_bounded
from okdrelease.sign.simple import strict_json_loads
from okdrelease.sign.store import read_numbered_signatures, split_digest, store_url, write_next_signature
from okdrelease.transport.fetch import UrlReader

#: containers/image reads at most this many lookaside signatures of one manifest.
MAX_LOOKASIDE_SIGNATURES = 128
_DOCKER_HUB = ("", "docker.io", "index.docker.io")


# ---------------------------------------------------------------------------------------------
# Docker references as containers/image normalizes them


@attrs.frozen
class DockerName:
    """A fully expanded Docker reference (``reference.ParseNormalizedNamed``): domain, path, tag, digest."""

    __repr__ = value_repr

    domain: str
    path: str
    tag: str | None = None
    digest: str | None = None

    @classmethod
    def parse(cls, text: str | ImageReference) -> DockerName:
        """Parse and expand (``busybox`` -> ``docker.io/library/busybox``)."""
        ref = text if isinstance(text, ImageReference) else ImageReference.parse(text)
        if ref.registry in _DOCKER_HUB:
            return cls("docker.io", ref.path, ref.tag, ref.digest)
        return cls(ref.registry, ref.repository, ref.tag, ref.digest)

    @property
    def name(self) -> str:
        """``domain/path``."""
        return f"{self.domain}/{self.path}"

    @property
    def name_only(self) -> bool:
        """Neither a tag nor a digest."""
        return self.tag is None and self.digest is None

    def __str__(self) -> str:
        text = self.name
        if self.tag is not None:
            text += f":{self.tag}"
        if self.digest is not None:
            text += f"@{self.digest}"
        return text

    def policy_identity(self) -> str:
        """``name:tag`` or ``name@digest`` (a reference with both is refused, as containers/image does)."""
        if self.tag is not None and self.digest is not None:
            raise SignatureError(f"{self}: references with both a tag and a digest are not supported")
        if self.name_only:
            raise SignatureError(f"{self}: a reference needs a tag or a digest")
        return str(self)

    def policy_namespaces(self) -> list[str]:
        """The repository, each parent namespace, the host, then ``*.`` wildcards of the domain."""
        out: list[str] = []
        name = self.name
        while True:
            out.append(name)
            slash = name.rfind("/")
            if slash < 0:
                break
            name = name[:slash]
        host = name.split(":", 1)[0]
        while "." in host:
            host = host[host.index(".") + 1 :]
            out.append(f"*.{host}")
        return out


def lookaside_signature_url(base: str, name: DockerName, digest: str, index: int) -> str:
    """``<base>/<path>@<algo>=<hex>/signature-<index>`` (index from 1) for a base URL."""
    algorithm, hex_part = split_digest(digest)
    if index < 1:
        raise SignatureError(f"signature index must be at least 1, not {index}")
    return store_url(base, f"{name.path}@{algorithm}={hex_part}", f"signature-{index}")


def lookaside_dir(base: str | os.PathLike[str], name: DockerName, digest: str) -> Path:
    """The directory holding the signatures of ``digest`` in a local lookaside store."""
    algorithm, hex_part = split_digest(digest)
    return Path(base) / f"{name.path}@{algorithm}={hex_part}"


# ---------------------------------------------------------------------------------------------
# registries.d


@attrs.frozen
class LookasideNamespace:
    """One ``docker:`` entry (or ``default-docker``) of registries.d."""

    __repr__ = value_repr

    lookaside: str = ""
    lookaside_staging: str = ""
    use_sigstore_attachments: bool | None = None

    def top_level(self, write: bool) -> str:
        """The configured base URL for reading (``write=False``) or writing, or ``""``."""
        if write and self.lookaside_staging:
            return self.lookaside_staging
        return self.lookaside


_NS_FIELDS = {
    "lookaside": "lookaside",
    "sigstore": "lookaside",
    "lookaside-staging": "lookaside_staging",
    "sigstore-staging": "lookaside_staging",
    "use-sigstore-attachments": "use_sigstore_attachments",
}


def _namespace(value: Any, where: str) -> LookasideNamespace:
    if value is None:
        return LookasideNamespace()
    if not isinstance(value, dict):
        raise SignatureError(f"{where} must be a map")
    fields: dict[str, Any] = {}
    for key, item in value.items():
        field = _NS_FIELDS.get(str(key))
        if field is None:
            continue  # yaml.Unmarshal ignores unknown fields
        if field == "use_sigstore_attachments":
            if not isinstance(item, bool):
                raise SignatureError(f"{where}: use-sigstore-attachments must be true or false")
        elif not isinstance(item, str):
            raise SignatureError(f"{where}: {key} must be a string")
        # The newer names win over the deprecated sigstore/sigstore-staging ones.
        if field not in fields or not str(key).startswith("sigstore"):
            fields[field] = item
    return LookasideNamespace(**fields)


@attrs.frozen
class RegistriesConfig:
    """The merged registries.d configuration."""

    __repr__ = value_repr

    default_docker: LookasideNamespace | None = None
    docker: Mapping[str, LookasideNamespace] = attrs.field(factory=dict)

    def _candidates(self, name: DockerName) -> list[LookasideNamespace]:
        keys = []
        if not name.name_only:
            keys.append(name.policy_identity())
        keys.extend(name.policy_namespaces())
        found = [self.docker[key] for key in keys if key in self.docker]
        if self.default_docker is not None:
            found.append(self.default_docker)
        return found

    def lookaside_base(self, name: DockerName, *, write: bool = False) -> str:
        """The lookaside base URL for ``name`` (the built-in default when nothing is configured)."""
        for namespace in self._candidates(name):
            top = namespace.top_level(write)
            if top:
                return top
        return default_lookaside_base()

    def use_sigstore_attachments(self, name: DockerName) -> bool:
        """Whether cosign-style ``.sig`` attachments are read for ``name``."""
        for namespace in self._candidates(name):
            if namespace.use_sigstore_attachments is not None:
                return namespace.use_sigstore_attachments
        return False


def default_lookaside_base() -> str:
    """containers/image's built-in lookaside: ``~/.local/share/containers/sigstore`` (root: /var/lib/...)."""
    if os.geteuid() == 0:
        return "file:///var/lib/containers/sigstore"
    return Path.home().joinpath(".local/share/containers/sigstore").as_uri()


def load_registries_d(directory: str | os.PathLike[str]) -> RegistriesConfig:
    """Merge every ``*.yaml`` of a registries.d directory (a missing directory is an empty configuration)."""
    root = Path(directory)
    try:
        names = sorted(entry.name for entry in root.iterdir() if entry.name.endswith(".yaml"))
    except FileNotFoundError:
        return RegistriesConfig()
    except OSError as err:
        raise SignatureError(f"cannot read registries.d directory {root}: {err.strerror or err}") from err
    default: LookasideNamespace | None = None
    default_from = ""
    docker: dict[str, LookasideNamespace] = {}
    origin: dict[str, str] = {}
    for name in names:
        path = root / name
        document = _load_yaml(path)
        if "default-docker" in document:
            if default is not None:
                raise SignatureError(f'"default-docker" defined both in {default_from} and {path}')
            default, default_from = (
                _namespace(document["default-docker"], f"{path}: default-docker"),
                str(path),
            )
        for key, value in (document.get("docker") or {}).items():
            if key in docker:
                raise SignatureError(f'"docker" namespace {key!r} defined both in {origin[key]} and {path}')
            docker[str(key)], origin[key] = _namespace(value, f"{path}: docker: {key}"), str(path)
    return RegistriesConfig(default, docker)


def _load_yaml(path: Path) -> dict[str, Any]:
    try:
        document = safe_load(read_bounded(path, "").decode("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise SignatureError(f"{path} is not valid YAML: {err}") from err
    if document is None:
        return {}
    if not isinstance(document, dict) or not isinstance(document.get("docker") or {}, dict):
        raise SignatureError(f"{path} is not a registries.d configuration (a map with docker: entries)")
    return document


# ---------------------------------------------------------------------------------------------
# Reading and writing lookaside signatures


def write_lookaside_signature(
    base_dir: str | os.PathLike[str],
    name: DockerName,
    digest: str,
    data: bytes,
    *,
    created: list[Path] | None = None,
) -> Path:
    """Write ``data`` as the next free ``signature-N`` of ``digest`` (an identical one is reused); what
    was created is appended to ``created`` (``store.write_next_signature``)."""
    where = lookaside_dir(base_dir, name, digest)
    return write_next_signature(where, data, MAX_LOOKASIDE_SIGNATURES, created=created)


def read_lookaside_signatures(base_dir: str | os.PathLike[str], name: DockerName, digest: str) -> list[bytes]:
    """``signature-1``, ``signature-2``, ... of ``digest`` until the first missing one."""
    where = lookaside_dir(base_dir, name, digest)
    return read_numbered_signatures(where, MAX_LOOKASIDE_SIGNATURES, MAX_SIGNATURE_BODY, refuse_larger=True)


#: containers/image's limit on one signature's size (iolimits.MaxSignatureBodySize).
MAX_SIGNATURE_BODY = 4 << 20


def read_lookaside(
    base: str | os.PathLike[str], name: DockerName, digest: str, *, reader: UrlReader | None = None
) -> list[tuple[str, bytes]]:
    """The signatures of ``digest`` in a lookaside given as a directory, ``file://``, ``http://`` or
    ``https://`` URL, with where each was read (a URL without its secrets); reading stops at the
    first missing ``signature-N``. HTTP goes through ``reader`` (without one, a reader with the
    default options)."""
    text = os.fspath(base)
    local = file_url_path(text) if "://" in text else text
    if local is not None:
        where = lookaside_dir(local, name, digest)
        found = read_lookaside_signatures(local, name, digest)
        return [(f"{where}/signature-{index}", data) for index, data in enumerate(found, start=1)]
    if not text.startswith(("http://", "https://")):
        raise SignatureError(f"unsupported scheme when reading signatures from {safe_url(text)}")
    http = reader or UrlReader()
    try:
        return _fetch_lookaside(http, text, name, digest)
    finally:
        if reader is None:
            http.close()


def _fetch_lookaside(http: UrlReader, base: str, name: DockerName, digest: str) -> list[tuple[str, bytes]]:
    out: list[tuple[str, bytes]] = []
    for index in range(1, MAX_LOOKASIDE_SIGNATURES + 1):
        url = lookaside_signature_url(base, name, digest, index)
        shown = safe_url(url)
        try:
            status, body = http.get(url, MAX_SIGNATURE_BODY + 1)
        except FetchError as err:
            raise SignatureError(f"reading signature from {err}") from None
        if status == 404:
            return out
        if status != 200:
            raise SignatureError(f"reading signature from {shown}: HTTP {status}")
        if len(body) > MAX_SIGNATURE_BODY:
            raise SignatureError(f"signature {shown} is larger than {MAX_SIGNATURE_BODY} bytes")
        out.append((shown, body))
    raise SignatureError(
        f"server provided {MAX_LOOKASIDE_SIGNATURES} signatures, assuming that's unreasonable"
    )


def file_url_path(url: str) -> str | None:
    """The local path of a ``file://`` URL, or None for other schemes."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme != "file":
        return None
    return urllib.parse.unquote(parsed.path)


# ---------------------------------------------------------------------------------------------
# Configuration snippets for a cluster or a podman host


def registries_d_snippet(name: DockerName, lookaside: str, staging: str | None = None) -> str:
    """A registries.d YAML file pointing ``name``'s repository at ``lookaside`` (and ``staging`` for writing)."""
    entry: dict[str, str] = {"lookaside": lookaside}
    if staging:
        entry["lookaside-staging"] = staging
    return yaml.safe_dump({"docker": {name.name: entry}}, sort_keys=False, default_flow_style=False)


def signed_by_policy(name: DockerName, public_key: bytes, *, key_path: str | None = None) -> dict[str, Any]:
    """A policy.json requiring ``signedBy`` the key for ``name``'s repository and rejecting the rest.

    The key goes in ``keyData`` (base64 of the key) unless ``key_path`` names a file holding it.
    ``signedIdentity`` is ``matchRepository``: okdrelease signs ``REPO@DIGEST`` (oc's identity), which
    the default ``matchRepoDigestOrExact`` would refuse for pulls by tag.
    """
    requirement: dict[str, Any] = {"type": "signedBy", "keyType": "GPGKeys"}
    if key_path:
        requirement["keyPath"] = key_path
    else:
        requirement["keyData"] = base64.b64encode(public_key).decode("ascii")
    requirement["signedIdentity"] = {"type": "matchRepository"}
    return {"default": [{"type": "reject"}], "transports": {"docker": {name.name: [requirement]}}}


def policy_json(document: Mapping[str, Any]) -> str:
    """A policy document as indented JSON with a final newline."""
    return json.dumps(document, indent=2) + "\n"


def parse_json_document(data: bytes, what: str) -> Any:
    """Parse JSON refusing duplicate keys, with an error naming ``what``."""
    try:
        return strict_json_loads(data)
    except (ValueError, UnicodeDecodeError) as err:
        raise SignatureError(f"{what} is not valid JSON: {err}") from err


def docker_name(text: str, what: str = "reference") -> DockerName:
    """Parse a Docker reference, raising SignatureError naming ``what``."""
    try:
        return DockerName.parse(text)
    except InvalidReferenceError as err:
        raise SignatureError(f"{what}: {err}") from err


@attrs.frozen
class ContainersConfiguration:
    """What a podman host or a cluster node needs to require the signatures in a lookaside store."""

    __repr__ = value_repr

    registries_d: str
    policy: str


def containers_configuration(
    name: DockerName,
    store: str | os.PathLike[str],
    public_key: bytes,
    *,
    lookaside_url: str | None = None,
    key_path: str | None = None,
) -> ContainersConfiguration:
    """registries.d YAML (``lookaside``: ``lookaside_url`` or the store as ``file://``; ``lookaside-staging``:
    the store) and a policy.json requiring ``signedBy`` the key for ``name``'s repository."""
    staging = Path(store).resolve().as_uri()
    snippet = registries_d_snippet(name, lookaside_url or staging, staging)
    policy = policy_json(signed_by_policy(name, public_key, key_path=key_path))
    return ContainersConfiguration(snippet, policy)
