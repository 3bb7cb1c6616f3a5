"""Where mirrored images go: oc's ``--to``/``--mirror`` repository or ``${component}``/``${version}`` template.

One implementation for both mirrors: ``okdrelease mirror`` (``oc adm release mirror``, tags
``VERSION-ARCH[-COMPONENT]``) and ``new --mirror`` (spec §3.8, tags ``NAME-COMPONENT``: no
architecture suffix). A template names one destination per component: ``${component}`` (exactly
once, in the tag) becomes the component's name (``release`` for the release image) and
``${version}`` the release's name or version.
"""

from __future__ import annotations

import attrs

from okdrelease._repr import value_repr
from okdrelease.errors import OkdReleaseError, ReleaseError, UsageError
from okdrelease.reference import (
    ImageLocation,
    LayoutLocation,
    RegistryLocation,
    parse_location,
    validate_ref_name,
)

COMPONENT_MARKER = "${component}"
VERSION_MARKER = "${version}"
#: oc parses a template with these in place of the markers (the tag must then hold the component's).
_COMPONENT_PROBE = "X-X-X-X-X-X-X"
_VERSION_PROBE = "V-V-V-V-V-V-V"
MULTIPLE_REPOSITORIES = (
    "when mirroring to multiple repositories, use the new release command with --from-release and --mirror"
)


@attrs.frozen
class MirrorTarget:
    """``--to`` (or ``--mirror``, or ``--to-dir DIR``) turned into one destination per component name.

    ``location`` is where every image goes (a registry repository or an OCI layout, without tag: a
    template may vary only the tag); ``tag_template`` is the template's tag, None for a plain repository.
    """

    __repr__ = value_repr

    text: str
    location: ImageLocation
    tag_template: str | None

    @classmethod
    def layout(cls, path: str) -> MirrorTarget:
        """The OCI layout at directory ``path``, taken as it is (``--to-dir``: a ':' in it is part of the
        directory's name, which an ``oci:DIR:REF`` text could not say)."""
        location = LayoutLocation(path)
        return cls(str(location), location, None)

    @property
    def repository(self) -> str:
        """The destination as text: ``host/repo`` or ``oci:DIR``."""
        return repository_of(self.location)

    @classmethod
    def parse(cls, text: str, flag: str = "--to") -> MirrorTarget:
        """Check ``text`` as oc does: a repository without tag or digest, or a template in the tag."""
        if COMPONENT_MARKER not in text:
            location = parse_destination(text, f"{flag} must be a valid image repository")
            if has_reference(location):
                raise UsageError(f"{flag} must be to an image repository and may not contain a tag or digest")
            return cls(text, _without_reference(location), None)
        probe = text.replace(COMPONENT_MARKER, _COMPONENT_PROBE).replace(VERSION_MARKER, _VERSION_PROBE)
        location = parse_destination(probe, f"{flag} must be a valid image reference")
        tag = (location.ref.tag if isinstance(location, RegistryLocation) else location.refname) or ""
        if text.count(COMPONENT_MARKER) > 1 or _COMPONENT_PROBE not in tag:
            raise UsageError(MULTIPLE_REPOSITORIES)
        template = tag.replace(_COMPONENT_PROBE, COMPONENT_MARKER).replace(_VERSION_PROBE, VERSION_MARKER)
        return cls(text, _without_reference(location), template)

    @property
    def template(self) -> bool:
        """Whether ``${component}`` names each image's tag."""
        return self.tag_template is not None

    def tag(self, name: str, version: str, arch_ext: str = "") -> str:
        """The (unchecked) tag of component ``name`` ("" = the release image).

        A template gets ``arch_ext`` appended (oc's release mirror; ``new --mirror`` passes "");
        a repository gets ``VERSION ARCH_EXT [-NAME]``.
        """
        if self.tag_template is None:
            return f"{version}{arch_ext}-{name}" if name else f"{version}{arch_ext}"
        value = self.tag_template.replace(COMPONENT_MARKER, name or "release")
        return value.replace(VERSION_MARKER, version) + arch_ext

    def image(self, name: str, version: str, arch_ext: str = "") -> ImageLocation:
        """Where the image of component ``name`` goes; ``ReleaseError`` when the destination cannot hold its tag."""
        return with_tag(self.location, self.tag(name, version, arch_ext))


def parse_destination(text: str, what: str) -> ImageLocation:
    """``parse_location`` with a usage error that starts with ``what``."""
    try:
        return parse_location(text)
    except OkdReleaseError as err:
        raise UsageError(f"{what}: {err}") from err


def has_reference(location: ImageLocation) -> bool:
    """Whether the location names a tag, ref name or digest (not only a repository)."""
    if isinstance(location, RegistryLocation):
        return bool(location.ref.tag or location.ref.digest)
    return bool(location.refname or location.digest)


def with_tag(location: ImageLocation, tag: str) -> ImageLocation:
    """The location's repository with ``tag`` (a layout's ref name); ``ReleaseError`` when invalid (the
    tag is made of the release's data: its version, its component's name)."""
    try:
        if isinstance(location, RegistryLocation):
            return RegistryLocation(location.ref.with_tag(tag))
        return attrs.evolve(location, refname=validate_ref_name(tag), digest=None)
    except OkdReleaseError:
        why = (
            "a tag is 1 to 128 letters, digits, '_', '.' and '-', not starting with '.' or '-'"
            if isinstance(location, RegistryLocation)
            else "it is not a valid OCI layout ref name"
        )
        raise ReleaseError(f"the mirror in {location} cannot be tagged {tag!r}: {why}") from None


def _without_reference(location: ImageLocation) -> ImageLocation:
    """The location's repository: no tag or digest (no ref name or digest of a layout)."""
    if isinstance(location, RegistryLocation):
        return RegistryLocation(location.ref.repository_only())
    return LayoutLocation(location.path)


def repository_of(location: ImageLocation) -> str:
    """A location without tag or digest (``host/repo`` or ``oci:DIR``)."""
    if isinstance(location, RegistryLocation):
        return location.ref.name
    return f"oci:{location.path}"
