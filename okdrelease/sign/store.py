"""Where release signatures live: store directories, HTTP(S) stores and ConfigMaps (spec §7.2-§7.4)."""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import re
import urllib.parse
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import yaml

from okdrelease._repr import value_repr
from okdrelease.errors import FetchError, SignatureError, UsageError
from okdrelease.events import safe_url
from okdrelease.gocompat.yamlbounds import safe_load
from okdrelease.regularfile import new_file, undone_mkdirs, write_whole
from okdrelease.sign.files import read_bounded, read_stored_signature
from okdrelease.sign.openpgp import Keyring
from okdrelease.transport.fetch import UrlReader

log = logging.getLogger(__name__)

#: Stores are probed for signature-1 ... signature-9 (library-go's loop bound is 10, exclusive; Q26).
MAX_SIGNATURES = 9
#: HTTP bodies are read up to this many bytes.
MAX_SIGNATURE_BYTES = 50 * 1024

SIGNATURE_NAMESPACE = "openshift-config-managed"
SIGNATURES_LABEL = "release.openshift.io/verification-signatures"
VERIFICATION_ANNOTATION = "release.openshift.io/verification-config-map"
KEY_PREFIX = "verifier-public-key-"
STORE_PREFIX = "store-"
_NAME_RE = re.compile(r"^[-._a-zA-Z0-9]+$")
_LABEL_RE = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_SUBDOMAIN_RE = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
#: The longest Kubernetes object name and ConfigMap key.
_MAX_KEY = 253


def split_digest(digest: str) -> tuple[str, str]:
    """Split ``<algo>:<hex>``; raise SignatureError when it is not of that form."""
    algorithm, sep, hex_part = digest.partition(":")
    if not sep or not algorithm or not hex_part or "/" in digest:
        raise SignatureError(f"invalid digest {digest!r}")
    return algorithm, hex_part


def signature_dir_name(digest: str) -> str:
    """The lookaside directory name of a digest: ``<algo>=<hex>``."""
    algorithm, hex_part = split_digest(digest)
    return f"{algorithm}={hex_part}"


# ---------------------------------------------------------------------------------------------
# Store directories (file:// stores)


def _nearest_existing(path: Path) -> Path | None:
    for candidate in (path, *path.parents):
        if os.path.lexists(candidate):
            return candidate
    return None


def check_output_dir(flag: str, directory: str | os.PathLike[str]) -> None:
    """Refuse a ``flag`` directory that cannot be created or written into: it, or the nearest of its
    parents that exists, is not a directory (checked before anything is written)."""
    path = Path(directory)
    existing = _nearest_existing(path)
    if existing is not None and not existing.is_dir():
        where = "" if existing == path else f": {existing}"
        raise SignatureError(f"{flag} {directory}{where} is not a directory")


def check_output_file(flag: str, file: str | os.PathLike[str]) -> None:
    """Refuse a ``flag`` file that cannot be written: a directory, or in a directory that does not exist."""
    path = Path(file)
    parent = path.parent
    try:
        is_dir, parent_is_dir = path.is_dir(), parent.is_dir()
    except OSError as err:  # (a name too long: pathlib lets it through)
        raise SignatureError(f"{flag} {file}: {err.strerror or err}") from None
    if is_dir:
        raise SignatureError(f"{flag} {file} is a directory")
    if not parent_is_dir:
        what = "is not a directory" if os.path.lexists(parent) else "does not exist"
        raise SignatureError(f"{flag} {file}: directory {parent} {what}")


def write_next_signature(
    target: Path, signature: bytes, limit: int, why: str = "", *, created: list[Path] | None = None
) -> Path:
    """Write ``signature`` as ``target/signature-N`` with the next free N (1..limit); an identical one is
    reused. A file that cannot be written whole (a full disk) is removed, with the directories made for
    it: a store never keeps a partial signature. What this call created (the file, then each directory
    it made, deepest first) is appended to ``created``, for a caller that undoes a failed run."""
    try:
        with undone_mkdirs(target) as made:
            for index in range(1, limit + 1):
                path = target / f"signature-{index}"
                try:
                    with new_file(str(path), 0o666) as handle:  # (removed if not written whole)
                        handle.write(signature)
                        handle.close()
                except FileExistsError:
                    with contextlib.suppress(SignatureError):
                        if read_stored_signature(path, len(signature), refuse_larger=True) == signature:
                            return path
                    continue
                if created is not None:
                    created.extend([path, *made])
                return path
    except OSError as err:
        raise SignatureError(f"cannot write signature to {target}: {err.strerror or err}") from err
    raise SignatureError(f"{target} already holds {limit} signatures{why}")


def remove_created(paths: Sequence[Path]) -> None:
    """Undo ``write_next_signature``'s ``created``: remove those files and (empty) directories, in order."""
    for path in paths:
        with contextlib.suppress(OSError):
            if path.is_dir() and not path.is_symlink():
                path.rmdir()
            else:
                path.unlink()


def read_numbered_signatures(
    target: Path, limit: int, max_bytes: int = MAX_SIGNATURE_BYTES, *, refuse_larger: bool = False
) -> list[bytes]:
    """``target/signature-1``, ``-2``, ... up to ``limit``, stopping at the first missing file (empty ones
    skipped); each read up to ``max_bytes`` (see ``files.read_stored_signature``)."""
    out: list[bytes] = []
    for index in range(1, limit + 1):
        path = target / f"signature-{index}"
        try:
            data = read_stored_signature(path, max_bytes, refuse_larger=refuse_larger)
        except FileNotFoundError:
            break
        except OSError as err:
            raise SignatureError(f"cannot read signature {path}: {err.strerror or err}") from err
        if data:
            out.append(data)
    return out


def write_signature_to_dir(
    directory: str | os.PathLike[str], digest: str, signature: bytes, *, created: list[Path] | None = None
) -> Path:
    """Write ``signature`` as ``DIR/<algo>=<hex>/signature-N`` with the next free N (1..9); return the path."""
    why = f"; readers never look beyond signature-{MAX_SIGNATURES}"
    target = Path(directory) / signature_dir_name(digest)
    return write_next_signature(target, signature, MAX_SIGNATURES, why, created=created)


def read_signatures_from_dir(directory: str | os.PathLike[str], digest: str) -> list[bytes]:
    """Read ``DIR/<algo>=<hex>/signature-1..9``, stopping at the first missing file."""
    return read_numbered_signatures(Path(directory) / signature_dir_name(digest), MAX_SIGNATURES)


# ---------------------------------------------------------------------------------------------
# HTTP(S) stores


@attrs.frozen
class StoreResult:
    """Signatures read from one store, and the errors met on the way (non-fatal, as in library-go)."""

    __repr__ = value_repr

    signatures: tuple[bytes, ...]
    errors: tuple[str, ...] = ()


def store_url(base: str, *parts: str) -> str:
    """``base`` with ``parts`` appended to its path; its query (a token) stays after the path and
    its fragment is dropped, as library-go and containers/image set a store URL's path."""
    split = urllib.parse.urlsplit(base)
    path = "/".join((split.path.rstrip("/"), *parts))
    return urllib.parse.urlunsplit((split.scheme, split.netloc, path, split.query, ""))


def read_signatures_from_url(url: str, digest: str, *, reader: UrlReader | None = None) -> StoreResult:
    """Read a store by URL: ``file://DIR`` or ``http(s)://`` in the lookaside layout.

    HTTP (``reader``'s trust and timeout; without one, a reader with the default options): 404
    ends the store; other non-2xx statuses are recorded and the next N is tried; a request
    without an answer is recorded and ends the store; bodies are read up to 50 KiB; empty
    bodies are skipped. Errors name the URL without its credentials or query (``safe_url``).
    """
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme == "file":
        return StoreResult(tuple(read_signatures_from_dir(urllib.parse.unquote(parsed.path), digest)))
    if parsed.scheme not in ("http", "https"):
        raise SignatureError(
            f"signature store {safe_url(url)!r} must be a URL with scheme file://, http://, or https://"
        )
    own = reader is None
    http = reader or UrlReader()
    signatures: list[bytes] = []
    errors: list[str] = []
    try:
        for index in range(1, MAX_SIGNATURES + 1):
            location = store_url(url, signature_dir_name(digest), f"signature-{index}")
            try:
                status, body = http.get(location, MAX_SIGNATURE_BYTES)
            except FetchError as err:
                errors.append(str(err))
                break
            if status == 404:
                break
            if not 200 <= status < 300:
                errors.append(f"{safe_url(location)}: HTTP {status}")
                continue
            if body:
                signatures.append(body)
    finally:
        if own:
            http.close()
    for error in errors:
        log.warning("signature store: %s", error)
    return StoreResult(tuple(signatures), tuple(errors))


# ---------------------------------------------------------------------------------------------
# Signature ConfigMaps


def signature_configmap(digest: str, signatures: Sequence[bytes]) -> dict[str, Any]:
    """The ConfigMap ``oc adm release mirror`` exports for a digest (keys ``<algo>-<hex>-N`` from 1)."""
    algorithm, hex_part = split_digest(digest)
    name = f"{algorithm}-{hex_part}"
    return {
        "kind": "ConfigMap",
        "apiVersion": "v1",
        "metadata": {
            "name": name,
            "namespace": SIGNATURE_NAMESPACE,
            "labels": {SIGNATURES_LABEL: ""},
        },
        "binaryData": {
            f"{name}-{index}": base64.b64encode(signature).decode("ascii")
            for index, signature in enumerate(signatures, start=1)
        },
    }


def signature_configmap_json(digest: str, signatures: Sequence[bytes]) -> bytes:
    """The ConfigMap as the Kubernetes JSON serializer writes it: compact, one line, newline."""
    return json.dumps(signature_configmap(digest, signatures), separators=(",", ":")).encode() + b"\n"


def signature_configmap_filename(digest: str) -> str:
    """``signature-<algo>-<first 16 hex>.json``."""
    algorithm, hex_part = split_digest(digest)
    return f"signature-{algorithm}-{hex_part[:16]}.json"


def write_signature_configmap(
    directory: str | os.PathLike[str], digest: str, signatures: Sequence[bytes]
) -> Path:
    """Write the ConfigMap file into ``directory`` (dir mode 0750, file mode 0640); return its path."""
    target = Path(directory)
    path = target / signature_configmap_filename(digest)
    try:
        with undone_mkdirs(target, 0o750):
            # (whole or not at all: an earlier ConfigMap is kept on failure)
            write_whole(path, signature_configmap_json(digest, signatures), 0o640)
    except OSError as err:
        raise SignatureError(f"cannot write signature ConfigMap {path}: {err.strerror or err}") from err
    return path


def _load_document(data: bytes, what: str) -> dict[str, Any]:
    try:
        document = safe_load(data)
    except yaml.YAMLError as err:
        raise SignatureError(f"{what} is not valid JSON or YAML: {err}") from err
    if not isinstance(document, dict) or document.get("kind") != "ConfigMap":
        raise SignatureError(f"{what} is not a ConfigMap")
    return document


def read_signature_configmap(data: bytes, digest: str, what: str = "ConfigMap") -> list[bytes]:
    """Signatures of ``digest`` in a ConfigMap: every ``binaryData`` key starting ``<algo>-<hex>`` (Q27)."""
    algorithm, hex_part = split_digest(digest)
    prefix = f"{algorithm}-{hex_part}"
    binary = _string_map(_load_document(data, what), "binaryData", what)
    return [
        _base64_value(binary[key], key, what)
        for key in sorted(binary, key=lambda k: _suffix_order(k, prefix))
        if key.startswith(prefix)
    ]


def _string_map(document: dict[str, Any], field: str, what: str) -> dict[str, str]:
    """A ConfigMap's ``data`` or ``binaryData``: a map of strings to strings (as Kubernetes requires)."""
    value = document.get(field) or {}
    if not isinstance(value, dict):
        raise SignatureError(f"{what}: {field} is not a map")
    for key, item in value.items():
        if not isinstance(key, str):
            raise SignatureError(f"{what}: {field} key {key!r} is not a string")
        if not isinstance(item, str):
            raise SignatureError(f"{what}: {field} key {key!r} has a value that is not a string")
    return value


def _base64_value(value: str, key: str, what: str) -> bytes:
    """A ``binaryData`` value: standard base64, padded (as Kubernetes decodes it)."""
    try:
        return base64.b64decode(value, validate=True)
    except ValueError as err:
        raise SignatureError(f"{what}: binaryData key {key!r} is not base64: {err}") from err


def _suffix_order(key: str, prefix: str) -> tuple[int, str]:
    suffix = str(key)[len(prefix) :].lstrip("-")
    return (int(suffix), key) if suffix.isdigit() else (1 << 30, key)


# ---------------------------------------------------------------------------------------------
# Verification-keys ConfigMap (cluster-update-keys)


def verification_configmap(
    keys: Mapping[str, str],
    stores: Mapping[str, str],
    *,
    name: str = "release-verification",
    namespace: str = SIGNATURE_NAMESPACE,
    extra_data: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A ConfigMap like cluster-update-keys': ``verifier-public-key-<name>`` keys and ``store-<name>`` URLs."""
    if not keys:
        raise SignatureError("a verification ConfigMap needs at least one public key")
    if not stores:
        raise SignatureError("a verification ConfigMap needs at least one signature store")
    _check_object_name(name, namespace)
    data: dict[str, str] = {}
    for key_name, armored in keys.items():
        _check_name(key_name)
        data[f"{KEY_PREFIX}{key_name}"] = armored if armored.endswith("\n") else armored + "\n"
    for store_name, url in stores.items():
        _check_name(store_name)
        check_store_url(url, f"{STORE_PREFIX}{store_name}")
        data[f"{STORE_PREFIX}{store_name}"] = url
    for key, value in (extra_data or {}).items():
        if key in data:
            raise SignatureError(f"ConfigMap key {key!r} is given twice")
        data[key] = value
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "annotations": {
                VERIFICATION_ANNOTATION: "",
                "include.release.openshift.io/self-managed-high-availability": "true",
                "include.release.openshift.io/single-node-developer": "true",
            },
        },
        "data": data,
    }


class _BlockDumper(yaml.SafeDumper):
    """YAML dumper that writes multi-line strings (armored keys) as literal blocks."""


def _str_representer(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _str_representer)


def verification_configmap_yaml(keys: Mapping[str, str], stores: Mapping[str, str], **kwargs: Any) -> str:
    """The verification-keys ConfigMap as a YAML manifest (armored keys as literal blocks)."""
    document = verification_configmap(keys, stores, **kwargs)
    return yaml.dump(document, Dumper=_BlockDumper, sort_keys=False, default_flow_style=False)


def _check_name(name: str) -> None:
    if not name or not _NAME_RE.match(name):
        raise SignatureError(f"invalid key or store name {name!r} (letters, digits, '-', '_' and '.')")
    if len(KEY_PREFIX + name) > _MAX_KEY:
        raise SignatureError(
            f"key or store name of {len(name)} characters is too long: a ConfigMap key holds at most {_MAX_KEY}"
        )


def _check_object_name(name: str, namespace: str) -> None:
    """Refuse what the Kubernetes API refuses: a ConfigMap name that is no lowercase RFC 1123
    subdomain, a namespace that is no RFC 1123 label."""
    if len(name) > _MAX_KEY or not _SUBDOMAIN_RE.fullmatch(name):
        raise UsageError(
            f"invalid ConfigMap name {name!r}: lower case letters, digits, '-' and '.', starting and ending"
            " with a letter or digit, at most 253 characters (a Kubernetes object name)"
        )
    if len(namespace) > 63 or not _LABEL_RE.fullmatch(namespace):
        raise UsageError(
            f"invalid namespace {namespace!r}: lower case letters, digits and '-', starting and ending"
            " with a letter or digit, at most 63 characters (a Kubernetes namespace)"
        )


def check_store_url(url: str, key: str) -> str:
    """Check a store URL the way library-go does (scheme file, http or https)."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("file", "http", "https") or (parsed.scheme != "file" and not parsed.netloc):
        raise SignatureError(
            f'has an invalid key "{key}": must be a valid URL with scheme file://, http://, or https://'
        )
    return url


@attrs.frozen
class VerificationConfig:
    """What a verification ConfigMap configures: armored/binary keyrings and store URLs by name."""

    __repr__ = value_repr

    keyrings: dict[str, bytes]
    stores: dict[str, str]
    #: Where the ConfigMap was read (its file), for errors.
    what: str = "ConfigMap"

    def parsed_keyrings(self) -> dict[str, Keyring]:
        """The keyrings, parsed (errors name the ConfigMap and the key)."""
        return {
            name: Keyring.from_bytes(data, f"{self.what}: {KEY_PREFIX}{name}")
            for name, data in self.keyrings.items()
        }


def load_verification_configmap(path: str | os.PathLike[str]) -> VerificationConfig:
    """Read a verification ConfigMap file."""
    return read_verification_configmap(read_bounded(path, ""), str(path))


def read_verification_configmap(data: bytes, what: str = "ConfigMap") -> VerificationConfig:
    """Parse a verification ConfigMap (YAML or JSON) with library-go's checks and messages."""
    document = _load_document(data, what)
    metadata = document.get("metadata")
    metadata = metadata if isinstance(metadata, dict) else {}
    source = f"configmap {metadata.get('namespace', '')}/{metadata.get('name', '')} ({what})"
    keyrings: dict[str, bytes] = {}
    stores: dict[str, str] = {}
    entries: dict[str, bytes] = {k: v.encode("utf-8") for k, v in _string_map(document, "data", what).items()}
    for key, value in _string_map(document, "binaryData", what).items():
        entries[key] = _base64_value(value, key, what)
    for key, raw in entries.items():
        if key.startswith(KEY_PREFIX):
            keyrings[key[len(KEY_PREFIX) :]] = raw
        elif key.startswith(STORE_PREFIX):
            try:
                stores[key[len(STORE_PREFIX) :]] = check_store_url(raw.decode("utf-8").strip(), key)
            except SignatureError as err:
                raise SignatureError(f"{source} {err}") from err
        else:
            log.warning("%s has an unrecognized key %r that will be ignored", source, key)
    if not stores:
        raise SignatureError(f"{source} did not provide any signature stores to read from and cannot be used")
    if not keyrings:
        raise SignatureError(
            f"{source} did not provide any GPG public keys to verify signatures from and cannot be used"
        )
    return VerificationConfig(keyrings, stores, what)
