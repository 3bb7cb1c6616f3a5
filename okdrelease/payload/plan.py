"""Stage 1 of ``new``: options, parsed and validated once into a :class:`Plan` (spec §2.3)."""

from __future__ import annotations

import datetime as dt
import enum
import os
from typing import Any

import attrs

from okdrelease._repr import value_repr
from okdrelease.errors import OkdReleaseError, ReleaseError, UsageError
from okdrelease.gocompat.semver import SemverError
from okdrelease.gocompat.semver import parse as parse_semver
from okdrelease.oci.convert import ManifestFormat
from okdrelease.oci.platform import KEEP_LIST_PLATFORM, PlatformSelector, compile_filter
from okdrelease.openshift.metadata import parse_metadata_flag
from okdrelease.payload.mappings import combine_mappings
from okdrelease.reference import LayoutLocation, parse_location, validate_tag

__all__ = [
    "InputKind",
    "NewOptions",
    "Plan",
    "default_created",
    "make_plan",
    "parse_created",
    "validate_options",
]


@attrs.frozen
class NewOptions:
    """Typed options of ``new``; names and meanings follow ``oc adm release new`` (spec §2)."""

    __repr__ = value_repr

    mappings: tuple[str, ...] = ()
    mapping_files: tuple[str, ...] = ()
    from_image_stream_file: str | None = None
    from_release: str | None = None
    from_dir: str | None = None
    from_oci_layout: str | None = None
    layout_repository: str | None = None
    #: Every tag of this registry repository (or ref name of ``oci:DIR``) is a component.
    from_repository: str | None = None
    reference_mode: str = ""
    component_versions: str = ""
    component_versions_display_names: str = ""
    name: str = ""
    #: The release controller's naming: ``PREFIX-YYYY-MM-DD-HHMMSS`` from the creation time.
    name_prefix: str = ""
    #: Build only when the component digests differ from this release's (a pull spec or ``oci:DIR:REF``).
    skip_if_unchanged: str | None = None
    previous: tuple[str, ...] | None = None
    next: tuple[str, ...] | None = None
    metadata: str = ""
    keep_manifest_list: bool = False
    #: --format oci|v2s2 of the release image (None: OCI in a layout, oc's Docker schema 2 in a registry).
    manifest_format: ManifestFormat | None = None
    allow_missing_images: bool = False
    skip_manifest_check: bool = False
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    dry_run: bool = False
    mirror: str | None = None
    to_dir: str | None = None
    to_file: str | None = None
    to_image: str | None = None
    to_image_base: str | None = None
    to_image_base_tag: str = "cluster-version-operator"
    to_signature: str | None = None
    output: str = ""
    dir: str | None = None
    created: dt.datetime | None = None
    #: Q6: oc emits an overridden operator's manifests twice; okdrelease emits them once.
    duplicate_override_manifests: bool = False
    #: Q8: resolve mapping destinations given by tag to digests in image-references.
    pin_digests: bool = False
    #: Regex over ``os/arch[/variant]`` choosing manifest-list entries (default: oc's choice).
    filter_by_os: str | None = None
    #: OpenPGP secret key file: sign the pushed release (atomic container signature).
    sign_by: str | None = None
    #: cosign private key file: push a ``sha256-<hex>.sig`` signature next to the release.
    sign_by_sigstore_private_key: str | None = None
    sign_passphrase: str | None = None
    #: Identity (repository) the signature names; default: the --to-image repository.
    sign_identity: str | None = None
    signature_dir: str | None = None
    signature_configmap_dir: str | None = None
    #: Sign with this key (fingerprint) of the user's gpg instead of a key file.
    sign_by_gpg: str | None = None
    #: Handed to gpg (loopback pinentry) with --sign-by-gpg.
    sign_passphrase_file: str | None = None
    #: containers/image lookaside directory the release signature is also written to.
    lookaside: str | None = None
    #: containers-policy.json every component image must satisfy before it enters the release.
    verify_components: str | None = None
    #: registries.d directory naming the lookaside stores (default: containers/image's).
    registries_d: str | None = None

    @property
    def signs(self) -> bool:
        """Whether the pushed release is signed (--sign-by, --sign-by-gpg, --sign-by-sigstore-private-key)."""
        return bool(self.sign_by or self.sign_by_gpg or self.sign_by_sigstore_private_key)


class InputKind(enum.Enum):
    """Where the release's component list comes from (spec §3.3)."""

    MAPPINGS = "mappings"
    IMAGE_STREAM_FILE = "image-stream-file"
    RELEASE = "release"
    DIRECTORY = "directory"
    LAYOUT = "layout"
    REPOSITORY = "repository"


@attrs.frozen
class Plan:
    """Validated options with every value the later stages need parsed once."""

    __repr__ = value_repr

    options: NewOptions
    source: InputKind
    mappings: tuple[tuple[str, str], ...]
    platform: PlatformSelector
    overridden: bool
    include: tuple[str, ...]
    exclude: frozenset[str]
    metadata: dict[str, Any] | None
    layout: LayoutLocation | None


#: The years a creation time may fall in, in UTC: the four digits of RFC 3339 (and of Go's times).
_CREATED_YEARS = "0001 to 9999"


def default_created() -> dt.datetime:
    """SOURCE_DATE_EPOCH when set, else now; truncated to seconds."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        try:
            seconds = int(epoch)
        except ValueError as err:
            raise UsageError(f"SOURCE_DATE_EPOCH must be an integer, got {epoch!r}") from err
        try:
            return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=seconds)
        except OverflowError as err:
            raise UsageError(
                f"SOURCE_DATE_EPOCH {epoch!r} is not a time in the years {_CREATED_YEARS}"
            ) from err
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def parse_created(text: str) -> dt.datetime:
    """Parse ``--created`` (RFC 3339); the time in UTC must fall in the years 0001 to 9999."""
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as err:
        raise UsageError(
            f"--created must be an RFC 3339 time such as 2024-01-18T22:35:23Z, got {text!r}"
        ) from err
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    try:
        return value.astimezone(dt.UTC).replace(microsecond=0)
    except OverflowError as err:
        raise UsageError(f"--created {text!r} is not a time in the years {_CREATED_YEARS} in UTC") from err


def validate_options(options: NewOptions) -> PlatformSelector:
    """Apply oc's flag validation, in oc's order; return the manifest-list entry selector."""
    if options.output not in ("", "json"):
        # Q17: oc ignores unknown -o values; okdrelease refuses them (README).
        raise UsageError(f"--output must be json, got {options.output!r}")
    inputs = [
        options.from_image_stream_file,
        options.from_release,
        options.from_dir,
        options.from_oci_layout,
        options.from_repository,
    ]
    if sum(1 for i in inputs if i) > 1:
        raise ReleaseError(
            "only one of --from-image-stream, --from-image-stream-file, --from-release, or --from-dir may be specified"
        )
    if options.skip_if_unchanged and options.output == "json":
        raise UsageError("--skip-if-unchanged cannot be combined with -o json, which builds nothing")
    if options.to_signature and not options.to_image:
        raise ReleaseError("--to-signature requires --to-image")
    if options.mirror and options.reference_mode not in ("", "public"):
        raise ReleaseError("--reference-mode must be public or empty when using --mirror")
    if options.mirror:
        from okdrelease.payload.mirror import mirror_target

        mirror_target(options.mirror)  # oc's checks of the repository or template, before any fetch
    platform = _platform(options)
    _validate_signing(options)
    _validate_verification(options)
    return platform


def _validate_signing(options: NewOptions) -> None:
    pgp = options.sign_by or options.sign_by_gpg
    if options.sign_by and options.sign_by_gpg:
        raise UsageError("--sign-by and --sign-by-gpg may not both be specified")
    if pgp and not (options.signature_dir or options.signature_configmap_dir or options.lookaside):
        flag = "--sign-by" if options.sign_by else "--sign-by-gpg"
        raise UsageError(f"{flag} requires --signature-dir, --signature-configmap-dir or --lookaside")
    if options.lookaside and not pgp:
        raise UsageError("--lookaside requires --sign-by or --sign-by-gpg")
    if (pgp or options.sign_by_sigstore_private_key) and (
        not options.to_image or options.dry_run or options.to_dir or options.to_file
    ):
        raise UsageError("signing requires --to-image and a push (not --dry-run, --to-dir or --to-file)")


def _validate_verification(options: NewOptions) -> None:
    if options.registries_d and not options.verify_components:
        raise UsageError("--registries.d requires --verify-components")
    if options.verify_components and options.from_dir:
        raise UsageError("--verify-components checks component images; --from-dir reads none")
    if options.verify_components and options.output:
        raise UsageError(
            "--verify-components checks component images; -o json prints the stream without reading them"
        )


def _platform(options: NewOptions) -> PlatformSelector:
    """--filter-by-os, else linux/amd64 with --keep-manifest-list, else the first entry (oc)."""
    if options.filter_by_os:
        return PlatformSelector(compile_filter(options.filter_by_os, UsageError))
    return PlatformSelector(KEEP_LIST_PLATFORM if options.keep_manifest_list else None)


def has_metadata_overrides(options: NewOptions, mappings: tuple[tuple[str, str], ...]) -> bool:
    """oc's hasMetadataOverrides (spec §3.2)."""
    return bool(
        options.name
        or options.name_prefix
        or options.metadata
        or options.previous
        or options.next
        or options.to_image_base
        or options.component_versions
        or options.component_versions_display_names
        or mappings
        or options.exclude
        or options.include
        # Q5 fixed: mirroring changes every pull spec, so it cannot be a canonical rebuild.
        or options.mirror
    )


def _source(options: NewOptions) -> InputKind:
    if options.from_release:
        return InputKind.RELEASE
    if options.from_image_stream_file:
        return InputKind.IMAGE_STREAM_FILE
    if options.from_dir:
        return InputKind.DIRECTORY
    if options.from_oci_layout:
        return InputKind.LAYOUT
    if options.from_repository:
        return InputKind.REPOSITORY
    return InputKind.MAPPINGS


def _layout(options: NewOptions) -> LayoutLocation | None:
    """``--from-oci-layout``: ``oci:DIR[:REF]`` as written, or a directory taken as it is (a ':' in it is
    part of its name, which the release's ``oci:DIR@DIGEST`` pull specs cannot say: then the images need
    ``--layout-repository``)."""
    text = options.from_oci_layout
    if not text:
        return None
    if not text.startswith("oci:"):
        if ":" in text and not options.layout_repository:
            raise UsageError(
                f"--from-oci-layout {text}: the release would name its images oci:{text}@DIGEST, which reads "
                f"as the directory {text.partition(':')[0]!r}: name them with --layout-repository REPO, or use "
                "a directory whose path holds no ':'"
            )
        return LayoutLocation(text)
    location = parse_location(text)
    if not isinstance(location, LayoutLocation):
        raise UsageError(f"--from-oci-layout must name an OCI layout directory, got {text!r}")
    return location


def prefixed_name(prefix: str, moment: dt.datetime) -> str:
    """The release controller's name for a build at ``moment``: ``PREFIX-YYYY-MM-DD-HHMMSS``."""
    return f"{prefix}-{moment:%Y-%m-%d-%H%M%S}"


def _check_values(options: NewOptions) -> None:
    """--component-versions and --name are checked before any input is read."""
    if options.component_versions or options.component_versions_display_names:
        from okdrelease.openshift.versions import parse_component_versions

        try:
            parse_component_versions(options.component_versions, options.component_versions_display_names)
        except OkdReleaseError as err:
            raise ReleaseError(f"--component-versions is invalid: {err}") from err
    if options.name:
        try:
            parse_semver(options.name)
        except SemverError as err:
            raise ReleaseError(f"--name must be a semantic version: {err}") from err
    if options.name_prefix:
        if options.name:
            raise UsageError("--name and --name-prefix may not both be specified")
        try:
            parse_semver(prefixed_name(options.name_prefix, dt.datetime(2006, 1, 2, 15, 4, 5)))
        except SemverError as err:
            raise UsageError(
                f"--name-prefix {options.name_prefix!r} followed by -YYYY-MM-DD-HHMMSS is not a semantic version: {err}"
            ) from err


def check_release_tag(to_image: str, tag: str) -> None:
    """oc's check of the release reference once ``--to-image`` without a tag gets the release name as its tag.

    oc reads the inputs and loads the operators first, then refuses a name that is no registry tag
    (build metadata such as ``+build.5``, over 128 characters) before anything is pushed, also in a
    dry run; the message quotes the reference it would have pushed to.
    """
    try:
        validate_tag(tag)
    except OkdReleaseError as err:
        exact = f"{to_image}:{tag}"
        raise ReleaseError(
            f'failed to push image {exact}: "{exact}" is not a valid image reference: invalid reference format'
        ) from err


def make_plan(options: NewOptions) -> Plan:
    """Validate ``options`` and parse every value once."""
    platform = validate_options(options)
    mappings = tuple(combine_mappings(options.mapping_files, options.mappings))
    source = _source(options)
    if source is InputKind.MAPPINGS and not mappings:
        raise ReleaseError("must specify image mappings when no other source is defined")
    _check_values(options)
    return Plan(
        options=options,
        source=source,
        mappings=mappings,
        platform=platform,
        overridden=has_metadata_overrides(options, mappings),
        include=(*options.include, options.to_image_base_tag),
        exclude=frozenset(options.exclude),
        metadata=parse_metadata_flag(options.metadata) if options.metadata else None,
        layout=_layout(options),
    )
