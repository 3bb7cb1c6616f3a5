"""Error hierarchy: every failure okdrelease reports derives from OkdReleaseError."""

from __future__ import annotations

import os
from typing import NamedTuple


def printable(text: str) -> str:
    """``text`` (anything a server or a file sent) as an error message shows it: each character that is
    not printable (control characters, CR and LF, Unicode line separators) as its escape (``\\x1b``,
    ``\\r``, ``\\u2028``), so it cannot move the cursor, colour the terminal or start a line of its
    own; printable Unicode stays as it is."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def go_reason(err: OSError) -> str:
    """The reason of an OS error as Go words it and the CLI shows it (``no such file or directory``,
    ``not a directory``), without Python's ``[Errno N]`` and file name; an error with no errno: its text."""
    return os.strerror(err.errno).lower() if err.errno else str(err)


class OkdReleaseError(Exception):
    """Base class; str(err) is the message a CLI user sees after 'error: '."""


class InvalidReferenceError(OkdReleaseError):
    """An image reference or transport string could not be parsed."""


class DigestMismatchError(OkdReleaseError):
    """Content read from a registry or a layout does not hash to its digest."""


class RegistryErrorEntry(NamedTuple):
    """One entry of a registry's error body (``{"errors": [{"code": …, "message": …, "detail": …}]}``)."""

    code: str
    message: str
    #: The entry carries a ``detail`` that is not null (Go's client then keeps the message as sent).
    has_detail: bool


class RegistryError(OkdReleaseError):
    """A registry request failed; the message names registry, repository, reference and status.

    ``entries``: the error body's entries as the registry sent them (empty when it sent none), from
    which oc's wording is made (``okdrelease.gocompat.errcode``); set by the transport after creation.
    """

    entries: tuple[RegistryErrorEntry, ...] = ()

    def __init__(
        self,
        message: str,
        *,
        registry: str = "",
        repository: str = "",
        reference: str = "",
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.registry = registry
        self.repository = repository
        self.reference = reference
        self.status = status


class NotFoundError(RegistryError):
    """The manifest, blob or tag does not exist (HTTP 404 or missing from a layout)."""


class UnauthorizedError(RegistryError):
    """The registry refused the credentials or the token scope (HTTP 401/403)."""


class LayoutError(OkdReleaseError):
    """An OCI image layout directory is missing, malformed or inconsistent."""


class LayerError(OkdReleaseError):
    """A layer could not be decompressed or read as a tar stream."""


class ReleaseError(OkdReleaseError):
    """Release assembly, reading or validation failed (messages follow oc's wording where recorded)."""


class SignatureError(OkdReleaseError):
    """A signature could not be created, or did not verify."""


class FetchError(OkdReleaseError):
    """A file over HTTP(S) (a signature store's, a lookaside's, ``new -f URL``) got no answer; the
    message names the URL without its secrets and what failed (``transport.fetch.UrlReader``)."""


class UsageError(OkdReleaseError):
    """The command line or library options are inconsistent."""


class NoMatchingPlatformError(ReleaseError):
    """No entry of a manifest list passed the platform filter."""

    def __init__(self) -> None:
        super().__init__("filtered all images from manifest list")


class UnsafePathError(ReleaseError):
    """A name from the input would write outside the directory it must stay in."""


class NoSingleImageError(ReleaseError):
    """A manifest list has no entry, or more than one, for the platform (``info`` component images)."""

    def __init__(self) -> None:
        super().__init__("no matching image found in manifest list")


class NestedManifestListError(OkdReleaseError):
    """The manifest-list entry chosen for the platform is a list again.

    ``str()`` is oc ``new``'s wording; ``info``, ``extract`` and ``diff`` word it from the fields.
    """

    def __init__(self, repository: str, digest: str, media_type: str) -> None:
        super().__init__(f"use --keep-manifest-list option for image manifest type {media_type}")
        self.repository = repository
        self.digest = digest
        self.media_type = media_type
