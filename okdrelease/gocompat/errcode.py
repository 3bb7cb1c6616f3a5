"""A registry's error body worded as oc's registry client (docker/distribution ``registry/api/errcode``) words it.

oc prints ``manifest unknown: manifest unknown`` where okdrelease's transport says
``HTTP 404 (MANIFEST_UNKNOWN: manifest unknown)``: Go's client decodes each entry of the body's
``errors`` list into a registered error code (an unregistered code becomes ``UNKNOWN``) and prints
the code's value in lower case with spaces, then ``: <message>`` unless the entry has no detail and
its message is empty or the code's own message. Several entries print as ``errors:`` and one line
each.
"""

from __future__ import annotations

from collections.abc import Sequence

from okdrelease.errors import (
    NotFoundError,
    OkdReleaseError,
    RegistryError,
    RegistryErrorEntry,
    UnauthorizedError,
)

__all__ = ["REGISTERED_CODES", "describe_read_error", "go_error_text", "registry_error_text"]

#: Every code docker/distribution registers (``errcode`` and ``api/v2``), with its own message.
REGISTERED_CODES = {
    "UNKNOWN": "unknown error",
    "UNSUPPORTED": "The operation is unsupported.",
    "UNAUTHORIZED": "authentication required",
    "DENIED": "requested access to the resource is denied",
    "UNAVAILABLE": "service unavailable",
    "TOOMANYREQUESTS": "too many requests",
    "DIGEST_INVALID": "provided digest did not match uploaded content",
    "SIZE_INVALID": "provided length did not match content length",
    "NAME_INVALID": "invalid repository name",
    "TAG_INVALID": "manifest tag did not match URI",
    "NAME_UNKNOWN": "repository name not known to registry",
    "MANIFEST_UNKNOWN": "manifest unknown",
    "MANIFEST_INVALID": "manifest invalid",
    "MANIFEST_UNVERIFIED": "manifest failed signature verification",
    "MANIFEST_BLOB_UNKNOWN": "blob unknown to registry",
    "BLOB_UNKNOWN": "blob unknown to registry",
    "BLOB_UPLOAD_UNKNOWN": "blob upload unknown to registry",
    "BLOB_UPLOAD_INVALID": "blob upload invalid",
    "PAGINATION_NUMBER_INVALID": "invalid number of results requested",
    "RANGE_INVALID": "invalid content range",
}


def _entry_text(entry: RegistryErrorEntry) -> str:
    code = entry.code if entry.code in REGISTERED_CODES else "UNKNOWN"
    value = code.replace("_", " ").lower()
    if not entry.has_detail and entry.message in ("", REGISTERED_CODES[code]):
        return value
    return f"{value}: {entry.message}"


def registry_error_text(entries: Sequence[RegistryErrorEntry]) -> str:
    """``errcode.Errors.Error()`` of the decoded entries (at least one)."""
    texts = [_entry_text(entry) for entry in entries]
    if len(texts) == 1:
        return texts[0]
    return "errors:\n" + "".join(f"{text}\n" for text in texts)


def go_error_text(err: OkdReleaseError) -> str:
    """oc's text for a failed registry read: the error entries of a 4xx answer as Go words them (Go's client
    decodes the body of those only); otherwise (5xx, no error body, a connection failure) okdrelease's own
    message, which names registry and image."""
    if isinstance(err, RegistryError) and err.entries and err.status is not None and 400 <= err.status < 500:
        return registry_error_text(err.entries)
    return str(err)


def describe_read_error(ref: str, err: OkdReleaseError) -> str:
    """oc's words for an image it could not read (spec §3.7.2 step 3; ``info`` and ``extract`` say the same)."""
    if isinstance(err, UnauthorizedError):
        return f'image "{ref}" does not exist or you don\'t have permission to access the repository'
    if isinstance(err, NotFoundError):
        return f'image "{ref}" not found: {go_error_text(err)}'
    return f"unable to read image {ref}: {go_error_text(err)}"
