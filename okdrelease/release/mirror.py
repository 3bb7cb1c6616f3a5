"""``okdrelease mirror``: copy a release and every component, unchanged, as ``oc adm release mirror`` does.

Stages over frozen values: ``plan_mirror`` reads the release (image-references, platform, version)
and names where each image goes; ``collect_release_signatures`` finds (and, given keys, verifies)
the release's signatures before anything is written; ``execute_mirror`` copies every image by
digest (blobs skipped when present, mounted within a registry, else streamed); ``write_signatures``
exports the signature ConfigMap; ``mirror_instructions`` renders oc's ImageDigestMirrorSet or
ImageContentSourcePolicy text. ``mirror_release`` runs them in that order. Nothing prints.

Destinations: a registry repository (``--to REPO``, tags ``VERSION-ARCH[-COMPONENT]`` as oc), an
OCI layout (``--to oci:DIR``) or a directory (``--to-dir DIR``: an OCI layout, not oc's
``file://`` store). The release manifest (or manifest list) is copied byte for byte, so its digest
and signatures stay valid, and image-references is never rewritten.

Into an OCI layout the ref names are written last, in one update of ``index.json``, once every
image, the cosign signature and the signature files are in place: a mirror that fails removes a
layout (or ``--to-dir`` directory) it created, as ``copy`` does, and leaves the ``index.json`` of a
layout that existed as it was (the blobs and manifests copied before the failure stay there,
untagged, and a second run finds them). Into a registry the components come first, then the release's
cosign signature, then the release image: its tag is the last thing written, so a failure leaves no
release tag naming a mirror that is not whole.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, wait
from typing import Any

import attrs
import yaml

from okdrelease._repr import value_repr
from okdrelease.errors import (
    NotFoundError,
    OkdReleaseError,
    ReleaseError,
    SignatureError,
    UsageError,
    printable,
)
from okdrelease.gocompat.yamlbounds import safe_load_all
from okdrelease.oci.convert import ManifestFormat
from okdrelease.oci.platform import PlatformSelector
from okdrelease.openshift.mirrortarget import (
    MirrorTarget,
    parse_destination,
    repository_of,
    with_tag,
)
from okdrelease.reference import (
    ImageLocation,
    ImageReference,
    LayoutLocation,
    RegistryLocation,
    parse_location,
)
from okdrelease.release.read import ReleaseInfo, load_release_from
from okdrelease.transport.base import Repository, Transport, TransportOptions
from okdrelease.workers import worker_pool

log = logging.getLogger(__name__)

Progress = Callable[[str], None]

INSTRUCTION_KINDS = ("idms", "icsp", "none")
#: oc's names for Go architectures that differ in OpenShift tags.
ARCH_NAMES = {"amd64": "x86_64", "arm64": "aarch64"}
CONFIG_DIR = "config"


@attrs.frozen
class MirrorOptions:
    """What to mirror and where (oc's flags of ``adm release mirror`` by their names).

    ``signature_dirs`` (lookaside directories) and ``signature_stores`` (``file://``/``http(s)://``)
    are read for the release's OpenPGP signatures, besides the stores of the release's own
    verification ConfigMap; ``verify_keys`` are public keyring files that signatures must satisfy.
    """

    __repr__ = value_repr

    source: str
    to: str | None = None
    to_release_image: str | None = None
    to_dir: str | None = None
    skip_release_image: bool = False
    dry_run: bool = False
    keep_manifest_list: bool = False
    release_image_signature_to_dir: str | None = None
    signature_dirs: tuple[str, ...] = ()
    signature_stores: tuple[str, ...] = ()
    verify_keys: tuple[str, ...] = ()
    instructions: str = "idms"
    workers: int = 4
    #: None: every manifest byte for byte (digests and signatures kept); else converted (``--format``).
    manifest_format: ManifestFormat | None = None

    def __attrs_post_init__(self) -> None:
        if self.instructions not in INSTRUCTION_KINDS:
            raise UsageError("--print-mirror-instructions must be one of icsp, idms, none")
        if not self.source:
            raise UsageError("must specify a release image with --from")
        if not (self.to or self.to_dir):
            raise UsageError("must specify an image repository or image stream to mirror the release to")
        if self.to and self.to_dir:
            raise UsageError("--to-dir writes an OCI layout; give either --to or --to-dir (or --to oci:DIR)")
        if self.skip_release_image and self.to_release_image:
            raise UsageError("--skip-release-image and --to-release-image may not both be specified")
        if self.workers < 1:
            raise UsageError("the number of parallel copies must be at least 1")

    @property
    def destination(self) -> str:
        """The repository (or ``oci:DIR``) template images go to, as text."""
        return self.to or f"oci:{self.to_dir}"

    def target(self) -> MirrorTarget:
        """Where images go: ``--to`` as oc reads it, or the layout at ``--to-dir`` (its path as given)."""
        return MirrorTarget.parse(self.to) if self.to else MirrorTarget.layout(self.to_dir or "")

    @property
    def signature_to_dir(self) -> str | None:
        """Where the signature ConfigMap goes: the flag, else ``TO_DIR/config`` as oc."""
        if self.release_image_signature_to_dir:
            return self.release_image_signature_to_dir
        return os.path.join(self.to_dir, CONFIG_DIR) if self.to_dir else None


@attrs.frozen
class ImageMapping:
    """One image to copy: ``name`` is the component tag ("" for the release image)."""

    __repr__ = value_repr

    name: str
    source: str
    digest: str
    destination: ImageLocation

    @property
    def destination_text(self) -> str:
        """The destination as the user would write it (``REPO:TAG`` or ``oci:DIR:REF``)."""
        return str(self.destination)


@attrs.frozen
class MirrorPlan:
    """Everything decided before copying."""

    __repr__ = value_repr

    release_digest: str
    version: str
    arch_ext: str
    mappings: tuple[ImageMapping, ...]
    source_repositories: tuple[str, ...]
    update_image: str
    mirror_targets: tuple[str, ...]
    has_prefix: bool
    to_disk: bool
    release: ReleaseInfo = attrs.field(eq=False, repr=False)
    manifest_format: ManifestFormat | None = None


@attrs.frozen
class CopiedImage:
    """What one mapping did: ``outcome`` is ``copied``, ``exists`` or ``planned`` (dry run)."""

    __repr__ = value_repr

    name: str
    source: str
    destination: str
    digest: str
    outcome: str
    blobs: Mapping[str, int] = attrs.field(factory=dict)
    #: what the destination's readers would need (a format), from ``copy_image``
    warnings: tuple[str, ...] = ()


@attrs.frozen
class ReleaseSignatures:
    """The release's OpenPGP signatures to carry, and whether they were verified against keys."""

    __repr__ = value_repr

    digest: str
    signatures: tuple[bytes, ...] = attrs.field(repr=False)
    verified: bool
    sources: tuple[str, ...]
    warnings: tuple[str, ...] = ()


@attrs.frozen
class MirrorResult:
    """The plan, what was copied, and the signature files written."""

    __repr__ = value_repr

    plan: MirrorPlan
    images: tuple[CopiedImage, ...]
    signatures: ReleaseSignatures | None
    signature_files: tuple[str, ...]
    cosign_signature: str | None
    dry_run: bool


# --------------------------------------------------------------------------------------------
# Planning


def arch_suffix(release: ReleaseInfo, keep_manifest_list: bool) -> str:
    """oc's tag suffix: ``-multi`` for a kept manifest list, else ``-x86_64``/``-aarch64``/``-ARCH``."""
    if keep_manifest_list and release.index is not None:
        return "-multi"
    arch = release.config.architecture or ""
    return "-" + ARCH_NAMES.get(arch, arch)


def _release_top_digest(release: ReleaseInfo) -> str:
    return release.index.digest if release.index is not None else release.digest


def _component_mappings(
    release: ReleaseInfo, target: MirrorTarget, version: str, arch_ext: str
) -> list[ImageMapping]:
    mappings: list[ImageMapping] = []
    for tag in release.tags:
        if not tag.is_image:
            continue
        try:
            ref = ImageReference.parse(tag.from_name)
        except OkdReleaseError as err:
            raise OkdReleaseError(f'release tag "{printable(tag.name)}" is not valid: {err}') from err
        if ref.tag or not ref.digest:
            raise OkdReleaseError(
                f"image-references should only contain pointers to images by digest: {printable(tag.from_name)}"
            )
        try:
            destination = target.image(tag.name, version, arch_ext)
        except ReleaseError as err:
            raise ReleaseError(f'release tag "{printable(tag.name)}" cannot be mirrored: {err}') from None
        mappings.append(ImageMapping(tag.name, tag.from_name, ref.digest, destination))
    return mappings


def _release_mapping(
    options: MirrorOptions, release: ReleaseInfo, destination: ImageLocation
) -> ImageMapping:
    return ImageMapping("", options.source, _release_top_digest(release), destination)


def plan_mirror(options: MirrorOptions, transport: Transport) -> MirrorPlan:
    """Read the release and decide every copy (oc's naming: ``VERSION-ARCH`` and ``VERSION-ARCH-NAME``)."""
    target = options.target()
    platform = PlatformSelector.from_flag("linux/amd64" if options.keep_manifest_list else None)
    try:
        release = load_release_from(transport, options.source, platform=platform)
    except OkdReleaseError as err:
        raise OkdReleaseError(f"unable to retrieve release image info: {err}") from err
    version = release.name
    arch_ext = arch_suffix(release, options.keep_manifest_list)
    try:
        release_target = target.image("", version, arch_ext)
    except ReleaseError as err:
        raise ReleaseError(f"release {printable(version)} cannot be mirrored: {err}") from None
    mappings: list[ImageMapping] = []
    if options.to_release_image:
        to_release = parse_destination(options.to_release_image, "invalid --to-release-image")
        mappings.append(_release_mapping(options, release, to_release))
    elif not options.skip_release_image:
        mappings.append(_release_mapping(options, release, release_target))
    components = _component_mappings(release, target, version, arch_ext)
    mappings.extend(components)
    sources = {ImageReference.parse(m.source).name for m in components}
    source_location = parse_location(options.source)
    if isinstance(source_location, RegistryLocation):
        sources.add(source_location.ref.name)
    targets = [t for t in (options.to, options.to_release_image) if t]
    update = options.to_release_image or str(release_target)
    return MirrorPlan(
        release_digest=release.display_digest,
        version=version,
        arch_ext=arch_ext,
        mappings=tuple(mappings),
        source_repositories=tuple(sorted(sources)),
        update_image=update,
        mirror_targets=tuple(targets),
        has_prefix=not target.template,
        to_disk=isinstance(release_target, LayoutLocation),
        release=release,
        manifest_format=options.manifest_format,
    )


# --------------------------------------------------------------------------------------------
# Signatures


def _release_verifier(release: ReleaseInfo) -> tuple[dict[str, bytes], dict[str, str]]:
    """Keys and stores of the release's own verification ConfigMap (the first in name order), as oc."""
    from okdrelease.sign.store import VERIFICATION_ANNOTATION, read_verification_configmap

    for name in sorted(release.manifest_files):
        data = release.manifest_files[name]
        for document in _documents(data):
            metadata = document.get("metadata") or {}
            annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
            if document.get("kind") != "ConfigMap" or not isinstance(annotations, dict):
                continue
            if VERIFICATION_ANNOTATION not in annotations:
                continue
            config = read_verification_configmap(
                yaml.safe_dump(document).encode(), f"release manifest {name}"
            )
            return dict(config.keyrings), dict(config.stores)
    return {}, {}


def _documents(data: bytes) -> list[dict[str, Any]]:
    try:
        return [d for d in safe_load_all(data) if isinstance(d, dict)]
    except yaml.YAMLError:
        return []


def collect_release_signatures(
    plan: MirrorPlan, options: MirrorOptions, transport_options: TransportOptions | None = None
) -> ReleaseSignatures:
    """Find the release's signatures in the given stores and the release's own; verify when keys are known.

    With keys (``verify_keys`` or the release's verification ConfigMap), only signatures that
    verify are carried, as oc caches only verified ones; without keys every signature found is
    carried and a warning says so. HTTP(S) stores are read with the TLS settings, proxies and
    timeout of ``transport_options`` (the run's), and named without their secrets.
    """
    from okdrelease.events import safe_url
    from okdrelease.sign.api import collect_signatures, verify_signatures
    from okdrelease.sign.openpgp import Keyring, load_keyring
    from okdrelease.transport.fetch import UrlReader

    keyrings_raw, stores = _release_verifier(plan.release)
    keyrings = {name: Keyring.from_bytes(raw, f"release key {name}") for name, raw in keyrings_raw.items()}
    for path in options.verify_keys:
        keyrings[path] = load_keyring(path)
    urls = [*options.signature_stores, *stores.values()]
    digest = plan.release_digest
    with UrlReader(transport_options) as reader:
        found, errors = collect_signatures(
            digest, signature_dirs=options.signature_dirs, store_urls=urls, reader=reader
        )
    candidates = [c for i, c in enumerate(found) if all(c.data != d.data for d in found[:i])]
    sources = tuple([*map(str, options.signature_dirs), *map(safe_url, urls)])
    if not keyrings:
        warning = (
            "warning: No release authenticity verification is configured, signatures are carried unverified"
        )
        return ReleaseSignatures(digest, tuple(c.data for c in candidates), False, sources, (warning,))
    verified: list[bytes] = []
    problems: list[str] = []
    for name, keyring in keyrings.items():
        try:
            result = verify_signatures(digest, candidates, {name: keyring}, store_errors=errors)
        except SignatureError as err:
            problems.append(str(err))
            continue
        verified.extend(s.data for s in result.signatures if s.data not in verified)
    ordered = tuple(c.data for c in candidates if c.data in verified)
    warnings = tuple(f"warning: An image was retrieved that failed verification: {p}" for p in problems)
    return ReleaseSignatures(digest, ordered, True, sources, warnings)


def write_signatures(signatures: ReleaseSignatures, directory: str) -> str:
    """Write oc's signature ConfigMap (``signature-sha256-<16 hex>.json``) into ``directory``."""
    from okdrelease.sign.store import write_signature_configmap

    return str(write_signature_configmap(directory, signatures.digest, signatures.signatures))


def _wants_signatures(options: MirrorOptions) -> bool:
    return bool(options.signature_to_dir)


# --------------------------------------------------------------------------------------------
# Copying


def _source_repository(
    transport: Transport, plan: MirrorPlan, mapping: ImageMapping
) -> tuple[Repository, str]:
    """The repository to read ``mapping`` from: the release's layout when it holds the digest (oc's file source)."""
    layout = plan.release.repository
    if mapping.name == "":
        return layout, mapping.digest
    if isinstance(parse_location(plan.release.image), LayoutLocation):
        try:
            layout.resolve(mapping.digest)
            return layout, mapping.digest
        except NotFoundError:
            pass
        except OkdReleaseError as err:
            log.debug("%s: %s not in the source layout: %s", mapping.name, mapping.digest, err)
    repository, _ = transport.open(RegistryLocation(ImageReference.parse(mapping.source)))
    return repository, mapping.digest


def _tag_of(location: ImageLocation) -> str | None:
    if isinstance(location, RegistryLocation):
        return location.ref.tag
    return location.refname


def _already_there(repository: Repository, tag: str | None, digest: str) -> bool:
    if tag is None:
        return False
    try:
        return repository.resolve(tag).digest == digest
    except NotFoundError:
        return False


def copy_mapping(
    transport: Transport, plan: MirrorPlan, mapping: ImageMapping, progress: Progress
) -> CopiedImage:
    """Copy one image by digest to its destination tag; skip it when the tag already names that digest.

    Into a layout the image is stored untagged: ``tag_layouts`` writes every ref name at the end.
    """
    from okdrelease.transport.copy import copy_image

    destination, _ = transport.open(mapping.destination, create=True)
    tag = _tag_of(mapping.destination)
    what = mapping.name or "release"
    fmt = plan.manifest_format
    if fmt is None and _already_there(destination, tag, mapping.digest):
        progress(f"info: {what} {mapping.digest} already in {mapping.destination_text}")
        return CopiedImage(mapping.name, mapping.source, mapping.destination_text, mapping.digest, "exists")
    source, reference = _source_repository(transport, plan, mapping)
    outcomes: dict[str, str] = {}
    policy = transport.options.retry_policy
    # Byte for byte unless a format is asked for (signatures stay valid).
    warnings: list[str] = []
    digest = copy_image(
        source,
        reference,
        destination,
        None if isinstance(mapping.destination, LayoutLocation) else tag,
        workers=1,
        policy=policy,
        outcomes=outcomes,
        warnings=warnings,
        manifest_format=fmt,
    )
    if fmt is None and digest != mapping.digest:
        raise OkdReleaseError(f"{mapping.source} was copied as {digest}, not {mapping.digest}")
    counts: dict[str, int] = {}
    for outcome in outcomes.values():
        counts[outcome] = counts.get(outcome, 0) + 1
    progress(f"info: mirrored {what} {digest} -> {mapping.destination_text}")
    return CopiedImage(
        mapping.name, mapping.source, mapping.destination_text, digest, "copied", counts, tuple(warnings)
    )


def execute_mirror(
    plan: MirrorPlan,
    transport: Transport,
    *,
    workers: int,
    progress: Progress | None = None,
    before_release: Callable[[], object] | None = None,
) -> list[CopiedImage]:
    """Copy the components in parallel, then call ``before_release`` (the cosign signature is copied
    there), then copy the release image: its tag appears last, once everything else is in place.

    The first failure cancels the copies not yet started and is raised once the running ones end.
    """
    emit = progress or (lambda _line: None)
    components = [m for m in plan.mappings if m.name]
    release = [m for m in plan.mappings if not m.name]
    with worker_pool(min(workers, len(components) or 1)) as pool:
        futures = [pool.submit(copy_mapping, transport, plan, m, emit) for m in components]
        wait(futures, return_when=FIRST_EXCEPTION)
        for future in futures:
            error = future.exception() if future.done() and not future.cancelled() else None
            if error is not None:
                raise error
        copied = [future.result() for future in futures]
    if before_release is not None:
        before_release()
    return [copy_mapping(transport, plan, m, emit) for m in release] + copied


def _copy_cosign_signature(
    plan: MirrorPlan, transport: Transport, progress: Progress
) -> tuple[ImageLocation, str] | None:
    """Copy the release's cosign ``sha256-<hex>.sig`` beside the mirrored release, when the source has one;
    return where it went and its digest (untagged in a layout, as ``copy_mapping``)."""
    from okdrelease.sign.cosign import signature_tag
    from okdrelease.transport.copy import copy_image

    release = next((m for m in plan.mappings if not m.name), None)
    if release is None:
        return None
    tag = signature_tag(plan.release_digest)
    source = plan.release.repository
    try:
        source.resolve(tag)
    except NotFoundError:
        return None
    target = with_tag(release.destination, tag)
    destination, _ = transport.open(target, create=True)
    digest = copy_image(
        source,
        tag,
        destination,
        None if isinstance(target, LayoutLocation) else tag,
        workers=1,
        policy=transport.options.retry_policy,
    )
    progress(f"info: mirrored cosign signature {tag} -> {target}")
    return target, digest


def layout_tags(
    plan: MirrorPlan, images: Sequence[CopiedImage], extra: Sequence[tuple[ImageLocation, str]] = ()
) -> dict[str, dict[str, str]]:
    """layout directory -> {ref name: digest} of what was copied into OCI layouts, the release's layout
    last (``tag_layouts`` writes them in this order: a failure leaves no release tag)."""
    where = {m.destination_text: m.destination for m in plan.mappings}
    pending: dict[str, dict[str, str]] = {}
    for location, digest in [*((where[i.destination], i.digest) for i in images), *extra]:
        if isinstance(location, LayoutLocation) and location.refname:
            pending.setdefault(location.path, {})[location.refname] = digest
    release = next((where[i.destination] for i in images if not i.name), None)
    if isinstance(release, LayoutLocation) and release.path in pending:
        pending[release.path] = pending.pop(release.path)
    return pending


def tag_layouts(transport: Transport, pending: Mapping[str, Mapping[str, str]]) -> None:
    """Write the ref names of each layout in one update of its ``index.json``."""
    from okdrelease.transport.layout import LayoutRepository

    for path, tags in pending.items():
        repository, _ = transport.open(LayoutLocation(path))
        assert isinstance(repository, LayoutRepository)
        repository.tag_manifests(tags)


@contextlib.contextmanager
def _new_layouts_removed_on_failure(plan: MirrorPlan) -> Iterator[None]:
    """On failure, remove every destination layout (and missing parent) this run created (``copy``'s rule)."""
    from okdrelease.transport.copy import no_new_layout_left

    paths = dict.fromkeys(
        m.destination.path for m in plan.mappings if isinstance(m.destination, LayoutLocation)
    )
    with contextlib.ExitStack() as stack:
        for path in paths:
            stack.enter_context(no_new_layout_left(LayoutLocation(path)))
        yield


def format_warnings(plan: MirrorPlan, images: Sequence[CopiedImage]) -> list[str]:
    """What ``--format`` changed that the release's signatures and image-references still name."""
    fmt = plan.manifest_format
    wanted = {m.destination_text: m.digest for m in plan.mappings}
    changed = [image for image in images if image.digest != wanted[image.destination]]
    lines = [
        f"warning: --format {fmt} wrote the release as {image.digest}; its signatures name {wanted[image.destination]}, "
        "the release as built (mirror without --format to keep it)"
        for image in changed
        if not image.name
    ]
    components = sum(1 for image in changed if image.name)
    if components:
        lines.append(
            f"warning: --format {fmt} changed the digests of {components} component images; the release's "
            "image-references still name the original digests (unpack and inspect them; mirror without "
            "--format to install from the mirror)"
        )
    return lines


def mirror_release(
    options: MirrorOptions, transport: Transport, progress: Progress | None = None
) -> MirrorResult:
    """Plan, gather signatures (failing before any write when they are asked for and missing), copy, export.

    A --release-image-signature-to-dir that cannot be written into fails first, before anything is read.
    """
    if options.release_image_signature_to_dir:
        from okdrelease.sign.store import check_output_dir

        check_output_dir("--release-image-signature-to-dir", options.release_image_signature_to_dir)
    emit = progress or (lambda _line: None)
    plan = plan_mirror(options, transport)
    signatures: ReleaseSignatures | None = None
    if _wants_signatures(options):
        signatures = collect_release_signatures(plan, options, transport.options)
        for warning in signatures.warnings:
            emit(warning)
        if not signatures.signatures:
            looked = (
                ", ".join(signatures.sources)
                or "no signature store given (--signature-dir, --signature-store)"
            )
            raise SignatureError(f"no signatures of the release {plan.release_digest} found ({looked})")
    if not plan.mappings:
        emit("warning: Release image contains no image references - is this a valid release?")
    emit(f"info: Mirroring {len(plan.mappings)} images to {options.destination} ...")
    if options.dry_run:
        images = [
            CopiedImage(m.name, m.source, m.destination_text, m.digest, "planned") for m in plan.mappings
        ]
        return MirrorResult(plan, tuple(images), signatures, (), None, True)
    files: list[str] = []
    signature: list[tuple[ImageLocation, str] | None] = []  # where the cosign signature went (None: none)

    def copy_signature() -> None:  # before the release image: its tag is the last thing written
        signature.append(_copy_cosign_signature(plan, transport, emit))

    with _new_layouts_removed_on_failure(plan):
        images = execute_mirror(
            plan, transport, workers=options.workers, progress=emit, before_release=copy_signature
        )
        for warning in dict.fromkeys(
            [*(w for i in images for w in i.warnings), *format_warnings(plan, images)]
        ):
            emit(warning)  # each once: a layout's readers that need a format, what --format changed
        cosign = signature[0] if signature else None
        if signatures is not None and options.signature_to_dir:
            files.append(write_signatures(signatures, options.signature_to_dir))
        tag_layouts(transport, layout_tags(plan, images, [cosign] if cosign else []))
    cosign_text = str(cosign[0]) if cosign else None
    return MirrorResult(plan, tuple(images), signatures, tuple(files), cosign_text, False)


# --------------------------------------------------------------------------------------------
# Text oc prints


def _yaml(document: Mapping[str, Any]) -> str:
    """YAML as sigs.k8s.io/yaml writes it (keys sorted, block style, sequences not indented)."""
    return str(yaml.safe_dump(dict(document), sort_keys=True, default_flow_style=False, width=1 << 20))


def mirror_sets(plan: MirrorPlan) -> list[tuple[str, list[str]]]:
    """(source repository, mirror repositories) pairs, sources sorted, mirrors in ``--to`` order."""
    mirrors: list[str] = []
    for text in plan.mirror_targets:
        location = parse_location(text)
        if not isinstance(location, RegistryLocation):
            return []
        name = location.ref.name
        if name not in mirrors:
            mirrors.append(name)
    return [(source, list(mirrors)) for source in plan.source_repositories] if mirrors else []


def mirror_instructions(plan: MirrorPlan, kind: str, signature_dir: str | None = None) -> str:
    """oc's install-config section and ImageDigestMirrorSet / ImageContentSourcePolicy example."""
    sets = mirror_sets(plan)
    if kind == "none" or not sets or plan.to_disk:
        return ""
    entries = [{"mirrors": mirrors, "source": source} for source, mirrors in sets]
    if kind == "idms":
        section = {"imageDigestSources": entries}
        kind_name, api = "ImageDigestMirrorSet", "config.openshift.io/v1"
        spec = {"imageDigestMirrors": entries}
    else:
        section = {"imageContentSources": entries}
        kind_name, api = "ImageContentSourcePolicy", "operator.openshift.io/v1alpha1"
        spec = {"repositoryDigestMirrors": entries}
    document = {"apiVersion": api, "kind": kind_name, "metadata": {"name": "example"}, "spec": spec}
    text = (
        "\nTo use the new mirrored repository to install, add the following section to the install-config.yaml:\n\n"
        + _yaml(section)
        + f"\n\nTo use the new mirrored repository for upgrades, use the following to create an {kind_name}:\n\n"
        + _yaml(document)
    )
    if signature_dir:
        text += f"\n\nTo apply signature configmaps use 'oc apply' on files found in {signature_dir}\n\n"
    return text


def render_summary(result: MirrorResult, options: MirrorOptions) -> str:
    """What oc prints on stdout after mirroring: pushed images, ``Success``, the update image, instructions."""
    plan = result.plan
    lines = [] if result.dry_run else [f"{image.digest} {image.destination}" for image in result.images]
    text = "".join(line + "\n" for line in lines)
    text += f"\nSuccess\nUpdate image:  {plan.update_image}\n"
    word = "Mirror prefix" if plan.has_prefix else "Mirrored to"
    text += "".join(f"{word}: {target}\n" for target in plan.mirror_targets)
    if plan.to_disk:
        layout = repository_of(plan.mappings[0].destination) if plan.mappings else options.destination
        if ":" in layout.removeprefix("oci:"):  # (oci:DIR:REF names DIR up to its first ':')
            text += (
                f"\nThe layout's directory {layout.removeprefix('oci:')} holds ':', which an oci: reference "
                "cannot name: link it from a path without ':' (NEWDIR) to upload its images:\n\n"
                "    okdrelease copy oci:NEWDIR REGISTRY/REPOSITORY\n\n"
            )
        else:
            text += (
                "\nTo upload local images to a registry, run:\n\n"
                f"    okdrelease copy {layout} REGISTRY/REPOSITORY\n\n"
            )
    else:
        text += mirror_instructions(plan, options.instructions, options.signature_to_dir)
    for path in result.signature_files:
        text += f"Configmap signature file {path} created\n"
    if result.dry_run and options.signature_to_dir and result.signatures is not None:
        from okdrelease.sign.store import signature_configmap_filename

        name = os.path.join(options.signature_to_dir, signature_configmap_filename(plan.release_digest))
        text += f"info: Write configmap signature file {name}\n"
    return text


def summary_counts(images: Sequence[CopiedImage]) -> dict[str, int]:
    """Totals for the report: images by outcome and blobs by outcome (``blobs-copied`` ...)."""
    counts: dict[str, int] = {}
    for image in images:
        counts[f"images-{image.outcome}"] = counts.get(f"images-{image.outcome}", 0) + 1
        for outcome, number in image.blobs.items():
            counts[f"blobs-{outcome}"] = counts.get(f"blobs-{outcome}", 0) + number
    return counts
