"""``extract``: write a release's ``release-manifests/`` to a directory, safely (spec §6.2, §6.6).

All layers are read top-down, the topmost occurrence of a name wins and, unlike oc, whiteouts are
honoured (a file deleted by an upper layer is not resurrected). ``image-references`` and
``release-metadata`` are written byte for byte; manifests are re-serialised as YAML like oc does
(``---`` per document, keys sorted) unless ``keep_bytes`` is set.

Safety: every entry under the payload prefix is checked before anything is written. Entries whose
name is absolute or contains ``..``, symlinks and hard links pointing outside the payload, and
device/FIFO entries make the whole extraction fail with an error naming the entry. The files are
then written as oc creates them, all or nothing, never outside the target nor through a link in it
(``extract_write``).
"""

from __future__ import annotations

import logging
import posixpath
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import attrs

from okdrelease._repr import value_repr
from okdrelease.errors import LayerError, ReleaseError, UsageError
from okdrelease.gocompat.goconfig import check_config
from okdrelease.gocompat.gojson import GoJSONError, json_kind, parse_valid, sorted_map
from okdrelease.gocompat.gojson import marshal as marshal_json
from okdrelease.gocompat.strconv import go_quote
from okdrelease.images.resolve import Resolver
from okdrelease.oci.layerlimits import LayerLimits
from okdrelease.oci.layerread import LayerEntry
from okdrelease.oci.layerstack import WHITEOUT_OPAQUE, WHITEOUT_PREFIX, StackOptions, read_stack
from okdrelease.oci.model import Descriptor, Manifest
from okdrelease.release.extract_write import ExtractWriteError, printable_name, write_payload_files
from okdrelease.release.read import (
    IMAGE_REFERENCES,
    IMAGE_STREAM_API,
    MANIFEST_EXTENSIONS,
    PAYLOAD_PREFIX,
    RELEASE_METADATA,
    PlatformFilter,
    read_config,
    select_manifest,
)
from okdrelease.transport.base import BlobOpener, Repository

log = logging.getLogger(__name__)

_PAYLOAD_REMOVED = frozenset({WHITEOUT_PREFIX + PAYLOAD_PREFIX.rstrip("/"), WHITEOUT_OPAQUE})


class ManifestWriteError(ReleaseError):
    """A parsed manifest that cannot be written back as YAML: fatal, as in oc (not collected)."""


@attrs.frozen
class PayloadFile:
    """A regular file of the payload: its name below ``release-manifests/`` and its bytes."""

    __repr__ = value_repr

    name: str
    data: bytes = attrs.field(repr=False)
    #: The digest of the layer the file was read from ("" when not known).
    layer: str = ""


@attrs.frozen
class ExtractResult:
    """What ``extract_release`` wrote."""

    __repr__ = value_repr

    directory: str
    digest: str
    created: str
    by_digest: bool
    written: tuple[str, ...]
    errors: tuple[str, ...]

    @property
    def errors_text(self) -> str:
        """The manifest errors as oc prints them after ``Errors:`` (:func:`errors_text`)."""
        return errors_text(self.errors)

    @property
    def message(self) -> str:
        """oc's stdout line."""
        if self.by_digest:
            return f"Extracted release payload created at {self.created}"
        return f"Extracted release payload from digest {self.digest} created at {self.created}"


def errors_text(errors: Sequence[str]) -> str:
    """Manifest errors as oc prints them after ``Errors:``: one error, or a blank line and ``* e`` lines."""
    if len(errors) == 1:
        return errors[0]
    return "\n\n" + "".join(f"* {error}\n" for error in errors)


def _refuse(entry: LayerEntry, layer: str | None, why: str) -> LayerError:
    return LayerError(f"refusing release layer {layer} entry {entry.name!r}: {why}")


def _unsafe_name(name: str) -> bool:
    return name.startswith("/") or ".." in name.split("/")


def check_payload_entry(entry: LayerEntry, layer: str | None) -> None:
    """extract's safety checks on a raw entry under ``release-manifests/`` (the layer reader's hook).

    A name leaving the target, a symlink or hard link pointing out of the payload, a device or a FIFO
    makes the whole extraction fail, before anything is written.
    """
    raw = entry.name
    if raw in _PAYLOAD_REMOVED or not raw.startswith(PAYLOAD_PREFIX):
        return
    name = raw[len(PAYLOAD_PREFIX) :]
    if _unsafe_name(name):
        raise _refuse(entry, layer, "the path leaves the target directory")
    if entry.type == "symlink":
        target = entry.linkname
        resolved = posixpath.normpath(posixpath.join(posixpath.dirname(name), target))
        if target.startswith("/") or resolved == ".." or resolved.startswith("../"):
            raise _refuse(entry, layer, f"symlink to {target!r} points outside the target directory")
    elif entry.type == "hardlink":
        target = entry.linkname
        if not target.startswith(PAYLOAD_PREFIX) or _unsafe_name(target[len(PAYLOAD_PREFIX) :]):
            raise _refuse(entry, layer, f"hard link to {target!r} points outside the target directory")
    elif entry.type in ("char", "block", "fifo"):
        raise _refuse(entry, layer, "device and FIFO entries are not allowed")


def iter_payload(
    repository: Repository,
    manifest: Manifest,
    *,
    stop_at: str | None = None,
    limits: LayerLimits | None = None,
) -> Iterator[PayloadFile]:
    """The payload's regular files over every layer, topmost first, whiteouts honoured (one stack reader).

    As when layers are applied one over the other, a lower-layer entry is hidden by a whiteout, an
    opaque directory, an upper non-directory at its path or at one of its parents, and (for a file) by
    an upper directory at its path; ``.wh.release-manifests``, a root opaque marker or a file at
    ``release-manifests`` hide the payload of the layers below.

    Each file names the layer it was read from: the topmost layer holding a regular file at its path
    (a file hidden in a layer is hidden in every layer below it, so the first one seen is the one kept).
    """
    options = StackOptions(
        outside_prefix=True,
        wanted=frozenset({stop_at}) if stop_at is not None else None,
        limits=limits or LayerLimits(),
    )
    names = [f"{desc.digest} of {repository.display}" for desc in manifest.layers]
    digests = {f"{desc.digest} of {repository.display}": desc.digest for desc in manifest.layers}
    first_seen: dict[str, str] = {}  # cleaned tar path -> digest of the topmost layer holding a file there

    def on_entry(entry: LayerEntry, layer: str | None) -> None:
        check_payload_entry(entry, layer)
        if entry.is_file and layer is not None and entry.path.startswith(PAYLOAD_PREFIX):
            first_seen.setdefault(entry.path, digests.get(layer, ""))

    files = read_stack(
        [_blob_opener(repository, desc) for desc in manifest.layers],
        PAYLOAD_PREFIX,
        names=names,
        options=options,
        on_entry=on_entry,
    )
    for path, entry in files.items():
        if entry.is_file:
            yield PayloadFile(path, entry.data, first_seen.get(PAYLOAD_PREFIX + path, ""))


def _blob_opener(repository: Repository, desc: Descriptor) -> BlobOpener:
    return BlobOpener(repository, desc.digest, desc.size)


def check_image_references(data: bytes) -> None:
    """Decode image-references as ``extract`` does: JSON as Go decodes it (oc's errors), else (Q33) YAML
    as ``info`` and ``new`` read it (sigs.k8s.io/yaml's reading: an escape of a surrogate is refused, as
    go-yaml refuses it; the JSON error when that fails too, as oc, which reads JSON only); ImageStream v1.

    What is not an object is refused in oc's words: Go's unmarshal error for JSON (``null`` is an empty
    object to Go), the JSON error for YAML (oc reads JSON only).
    """
    from okdrelease.openshift.k8syaml import load_yaml

    prefix = "unable to load image-references from release payload: "
    try:
        doc: Any = parse_valid(data)
    except GoJSONError as json_err:
        try:
            doc = load_yaml(data)
        except GoJSONError:
            doc = None
        if not isinstance(doc, dict):
            raise ReleaseError(f"{prefix}{json_err}") from json_err
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise ReleaseError(
            f"{prefix}json: cannot unmarshal {json_kind(doc)} into Go value of type v1.ImageStream"
        )
    api = doc.get("apiVersion")
    if api != IMAGE_STREAM_API:
        raise ReleaseError(
            f'unrecognized image-references in release payload: API version "{api or ""}" is not {IMAGE_STREAM_API}'
        )
    kind = doc.get("kind")
    if kind != "ImageStream":
        raise ReleaseError(
            f'unrecognized image-references in release payload: kind "{kind or ""}" is not ImageStream'
        )


#: What ``Manifest.UnmarshalJSON`` reports through sigs.k8s.io/yaml (oc's wording, YAML documents).
_DECODE_ERROR = "error parsing: error unmarshaling JSON: while decoding JSON: "
#: The same error of a document Go's JSON decoder read (oc's wording, JSON documents).
_JSON_DECODE_ERROR = "error parsing: "
_KIND_STRUCT = (
    'struct { APIVersion string "json:\\"apiVersion,omitempty\\""; Kind string "json:\\"kind,omitempty\\"" }'
)


def _deep_sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _deep_sorted(v) for k, v in sorted_map(value).items()}
    if isinstance(value, list):
        return [_deep_sorted(v) for v in value]
    return value


def _identity(doc: Any, json_text: str | None) -> tuple[str, str, str, str]:
    """library-go's resource id of a document (group, kind, namespace, name); oc's errors for what it refuses.

    The document must be an object whose ``apiVersion`` and ``kind`` are strings (or absent), with a
    kind, a parseable group/version and a string ``metadata.name``; a non-string namespace counts as none.
    ``json_text``: the document's text when Go's JSON decoder read it (its errors lack sigs.k8s.io/yaml's
    prefix and quote the text as written), None for a YAML document.
    """
    prefix = _DECODE_ERROR if json_text is None else _JSON_DECODE_ERROR
    why = "unable to decode manifest: couldn't get version/kind; json parse error: json: cannot unmarshal"
    if not isinstance(doc, dict):
        raise ReleaseError(f"{prefix}{why} {json_kind(doc)} into Go value of type {_KIND_STRUCT}")
    for field in doc:
        value = doc[field]
        if field in ("apiVersion", "kind") and value is not None and not isinstance(value, str):
            raise ReleaseError(
                f"{prefix}{why} {json_kind(value)} into Go struct field .{field} of type string"
            )
    api = doc.get("apiVersion") or ""
    kind = doc.get("kind") or ""
    if api.count("/") > 1:
        raise ReleaseError(f"{prefix}unable to decode manifest: unexpected GroupVersion string: {api}")
    if not kind:
        data = marshal_json(_deep_sorted(doc)).decode() if json_text is None else json_text
        raise ReleaseError(f"{prefix}unable to decode manifest: Object 'Kind' is missing in '{data}'")
    metadata = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
    assert isinstance(metadata, dict)
    namespace, name = metadata.get("namespace"), metadata.get("name")
    group = api.rpartition("/")[0]
    identity = (
        group,
        kind,
        namespace if isinstance(namespace, str) else "",
        name if isinstance(name, str) else "",
    )
    if not identity[3]:
        raise ReleaseError(
            f"{prefix}Resource with fields {_id_text(identity)} must contain kubernetes required fields kind and name"
        )
    return identity


def _id_text(identity: tuple[str, str, str, str]) -> str:
    """library-go's ``resourceId.String()``."""
    group, kind, namespace, name = (go_quote(part) for part in identity)
    if identity[2]:
        return f"Group: {group} Kind: {kind} Namespace: {namespace} Name: {name}"
    return f"Group: {group} Kind: {kind} Name: {name}"


def parse_manifest(name: str, data: bytes) -> list[dict[str, Any]]:
    """The documents of a payload manifest as oc reads them (empty documents dropped).

    Each document is checked as it is read, as library-go's ``Manifest.UnmarshalJSON`` checks it in the
    decoder's call that read it: an earlier document's refusal is reported before a later one's parse error.
    """
    from okdrelease.gocompat import goyaml
    from okdrelease.openshift import k8syaml  # (and PyYAML: loaded with the first manifest read)

    shown = printable_name(name)
    seen: set[tuple[str, str, str, str]] = set()
    docs: list[dict[str, Any]] = []
    documents = k8syaml.iter_sourced_documents(data)
    while True:
        try:
            doc = next(documents, None)
        except goyaml.GoYamlError as err:  # library-go wraps every decoder error in "error parsing"
            raise ReleaseError(f"error parsing {shown}: error parsing: {err}") from err
        if doc is None:
            return docs
        try:
            key = _identity(doc.value, doc.json_text)
        except ReleaseError as err:
            if doc.fallback_error is not None:  # the decoder reports the JSON error that made it read YAML
                raise ReleaseError(f"error parsing {shown}: error parsing: {doc.fallback_error}") from err
            raise ReleaseError(f"error parsing {shown}: {err}") from err
        if key in seen:
            raise ReleaseError(f"error parsing {shown}: duplicate resource: ({_id_text(key)})")
        seen.add(key)
        docs.append(doc.value)


def write_manifest(name: str, docs: list[dict[str, Any]]) -> bytes:
    """Documents as oc writes them: ``---`` and sigs.k8s.io/yaml's YAML of each."""
    from okdrelease.gocompat import goyaml

    try:
        return goyaml.marshal_documents(docs)
    except goyaml.GoYamlError as err:
        raise ManifestWriteError(f"error serializing manifest in {name}: {err}") from err


def reserialize_manifest(name: str, data: bytes) -> bytes | None:
    """Parse a YAML/JSON stream and write it back as oc does; None when it holds no document."""
    docs = parse_manifest(name, data)
    return write_manifest(name, docs) if docs else None


#: ``--cloud`` values and the ``spec.providerSpec.kind`` of their CredentialsRequests.
CLOUD_PROVIDER_SPEC_KINDS = {
    "alibabacloud": "AlibabaCloudProviderSpec",
    "aws": "AWSProviderSpec",
    "azure": "AzureProviderSpec",
    "gcp": "GCPProviderSpec",
    "ibmcloud": "IBMCloudProviderSpec",
    "nutanix": "NutanixProviderSpec",
    "openstack": "OpenStackProviderSpec",
    "ovirt": "OvirtProviderSpec",
    "powervs": "IBMCloudPowerVSProviderSpec",
    "vsphere": "VSphereProviderSpec",
}
CREDENTIALS_REQUEST = ("cloudcredential.openshift.io/v1", "CredentialsRequest")
CREDENTIALS_WARNING = (
    "if you intend to pass CredentialsRequests to ccoctl, you should use --included to filter out "
    "requests that your cluster is not expected to need."
)

#: Decides whether a manifest document is included; returns why not, or None when it is.
Includer = Callable[[dict[str, Any]], "str | None"]


def is_credentials_request(doc: Mapping[str, Any]) -> bool:
    """True for a ``cloudcredential.openshift.io/v1`` ``CredentialsRequest``."""
    return (doc.get("apiVersion"), doc.get("kind")) == CREDENTIALS_REQUEST


@attrs.frozen
class ManifestSelection:
    """Which documents ``extract`` writes (``--credentials-requests``, ``--cloud``, ``--included``).

    ``includer`` is built once the payload is read (``--included --install-config`` needs its
    feature gates); ``cloud`` is the provider whose CredentialsRequests are kept.
    """

    __repr__ = value_repr

    credentials_requests: bool = False
    cloud: str = ""
    includer: Callable[[list[PayloadFile]], tuple[Includer, str]] | None = None

    @classmethod
    def from_flags(
        cls, *, credentials_requests: bool, cloud: str, included: bool, install_config: str
    ) -> ManifestSelection:
        """oc's checks, in oc's order; ``--included`` reads ``install_config`` (no cluster connection)."""
        if install_config and not included:
            raise UsageError("--install-config is only supported with --included")
        if cloud and not credentials_requests and not included:
            raise UsageError("--cloud is only supported with --credentials-requests or --included")
        if cloud and cloud not in CLOUD_PROVIDER_SPEC_KINDS:
            raise UsageError(
                f"--cloud value not recognized, must be one of: [{' '.join(sorted(CLOUD_PROVIDER_SPEC_KINDS))}]"
            )
        includer = None
        if included:
            if not install_config:
                raise UsageError(
                    "--included without --install-config needs a connection to a cluster, which okdrelease "
                    "does not make: pass --install-config FILE"
                )
            from okdrelease.release.inclusion import install_config_includer

            includer = install_config_includer(install_config, cloud)
        return cls(credentials_requests=credentials_requests, cloud=cloud, includer=includer)

    def chooser(self, files: list[PayloadFile]) -> Callable[[dict[str, Any]], bool]:
        """The per-document decision for this payload."""
        include: Includer | None = None
        cloud = self.cloud
        if self.includer is not None:
            include, cloud = self.includer(files)
        kind = CLOUD_PROVIDER_SPEC_KINDS.get(cloud, "")

        def keep(doc: dict[str, Any]) -> bool:
            manual = self.credentials_requests and include is not None and is_credentials_request(doc)
            if include is not None and not (manual and not _annotations(doc)) and include(doc) is not None:
                return False
            if not self.credentials_requests:
                return True
            if not is_credentials_request(doc):
                return False
            return not kind or _provider_kind(doc) == kind

        return keep


def _annotations(doc: Mapping[str, Any]) -> Mapping[str, Any]:
    metadata = doc.get("metadata")
    annotations = metadata.get("annotations") if isinstance(metadata, Mapping) else None
    return annotations if isinstance(annotations, Mapping) else {}


def _provider_kind(doc: Mapping[str, Any]) -> str:
    value: Any = doc
    for key in ("spec", "providerSpec", "kind"):
        value = value.get(key) if isinstance(value, Mapping) else None
    if value is not None and not isinstance(value, str):
        raise ReleaseError(
            f"error extracting cred request kind: .spec.providerSpec.kind accessor error: {value!r} is of the type "
            f"{type(value).__name__}, expected string"
        )
    return value or ""


def extract_release(
    repository: Repository,
    reference: str,
    directory: str,
    *,
    platform: PlatformFilter | None = None,
    keep_bytes: bool = False,
    selection: ManifestSelection | None = None,
    limits: LayerLimits | None = None,
    resolver: Resolver | None = None,
    image: str = "",
) -> ExtractResult:
    """Extract the payload of the release at ``reference`` into ``directory``.

    Nothing is written until every kept manifest was parsed and re-serialised; a manifest that does
    not parse is reported in ``errors`` (as oc does) and skipped. A file oc could not create fails the
    whole extraction with :class:`ExtractWriteError` (carrying those errors), nothing written. ``image``: the release as the user
    named it, for oc's frame of an image-references error (default: the repository and ``reference``).
    """
    selection = selection or ManifestSelection()
    manifest, index = select_manifest(
        repository, reference, platform or PlatformFilter.from_flag(None), resolver
    )
    created = check_config(
        read_config(repository, manifest, resolver), image or _pull_spec(repository, reference)
    )
    files = list(iter_payload(repository, manifest, limits=limits))
    for item in files:
        if item.name == IMAGE_REFERENCES:
            _check_image_references_of(item, image or _pull_spec(repository, reference))
    outputs, errors = _outputs(files, keep_bytes=keep_bytes, selection=selection)
    try:
        write_payload_files(directory, outputs)
    except ExtractWriteError as err:
        err.manifest_errors = tuple(errors)
        raise
    digest = index.digest if index is not None else manifest.digest
    return ExtractResult(
        directory=directory,
        digest=digest,
        created=created.rfc3339(),  # oc: config.Created.Format(time.RFC3339), in the zone it was written in
        by_digest=reference.startswith("sha256:"),
        written=tuple(name for name, _ in outputs),
        errors=tuple(errors),
    )


def _pull_spec(repository: Repository, reference: str) -> str:
    """``host/repo:tag`` or ``host/repo@digest`` (``oci:DIR`` for a layout)."""
    return f"{repository.display}{'@' if ':' in reference else ':'}{reference}"


def _check_image_references_of(item: PayloadFile, image: str) -> None:
    """:func:`check_image_references` in oc's frame: oc reports it while iterating over the layer that
    holds the file (``unable to iterate over layer L from IMAGE:``, IMAGE as the user named it)."""
    try:
        check_image_references(item.data)
    except ReleaseError as err:
        raise ReleaseError(f"unable to iterate over layer {item.layer} from {image}: {err}") from err


def _outputs(
    files: list[PayloadFile], *, keep_bytes: bool, selection: ManifestSelection
) -> tuple[list[tuple[str, bytes]], list[str]]:
    """The files to write (name, bytes) and the manifest errors, in payload order."""
    parsed: list[tuple[PayloadFile, list[dict[str, Any]] | None]] = []
    errors: list[str] = []
    for item in files:
        if item.name in (IMAGE_REFERENCES, RELEASE_METADATA):  # image-references: checked by the caller
            parsed.append((item, None))
        elif item.name.endswith(MANIFEST_EXTENSIONS):
            if keep_bytes and selection == ManifestSelection():
                parsed.append((item, None))  # written as stored, parsed by nobody
                continue
            try:
                docs = parse_manifest(item.name, item.data)
            except ReleaseError as err:
                errors.append(str(err))
                continue
            if docs:
                parsed.append((item, docs))
    keep = selection.chooser(files)
    outputs: list[tuple[str, bytes]] = []
    for item, stored in parsed:
        if stored is None:
            if not selection.credentials_requests or item.name.endswith(MANIFEST_EXTENSIONS):
                outputs.append((item.name, item.data))
            continue
        kept = [doc for doc in stored if keep(doc)]
        if kept:
            outputs.append((item.name, item.data if keep_bytes else write_manifest(item.name, kept)))
    return outputs, errors


def read_payload_file(
    repository: Repository,
    reference: str,
    name: str,
    *,
    platform: PlatformFilter | None = None,
    limits: LayerLimits | None = None,
    resolver: Resolver | None = None,
    image: str = "",
) -> bytes:
    """Return the bytes of ``release-manifests/<name>`` (topmost occurrence, whiteouts honoured). The
    release's config is decoded first, as oc does (:func:`check_config`; ``image`` as for
    :func:`extract_release`)."""
    manifest, _index = select_manifest(
        repository, reference, platform or PlatformFilter.from_flag(None), resolver
    )
    check_config(read_config(repository, manifest, resolver), image or _pull_spec(repository, reference))
    for item in iter_payload(repository, manifest, stop_at=name, limits=limits):
        if item.name == name:
            return item.data
    raise ReleaseError(f"image did not contain {printable_name(name)}")
