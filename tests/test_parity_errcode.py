"""oc's wording of a registry error body (docker/distribution's ``errcode``), as okdrelease reproduces it.

The wording itself is checked against the real oc in ``tests/test_differential.py`` (an unreadable base or
component: ``manifest unknown: manifest unknown``); these cases pin the rules Go's client applies.
"""

from __future__ import annotations

import pytest

from okdrelease.errors import NotFoundError, RegistryError, RegistryErrorEntry
from okdrelease.gocompat.errcode import go_error_text, registry_error_text


@pytest.mark.parametrize(
    ("entries", "text"),
    [
        # Distribution sends a detail with MANIFEST_UNKNOWN: the message is kept
        (
            [RegistryErrorEntry("MANIFEST_UNKNOWN", "manifest unknown", True)],
            "manifest unknown: manifest unknown",
        ),
        # no detail and the code's own message (or none): the code alone
        ([RegistryErrorEntry("MANIFEST_UNKNOWN", "manifest unknown", False)], "manifest unknown"),
        ([RegistryErrorEntry("DENIED", "", False)], "denied"),
        (
            [RegistryErrorEntry("NAME_UNKNOWN", "repository name not known to registry", False)],
            "name unknown",
        ),
        # another message is kept
        (
            [RegistryErrorEntry("UNAUTHORIZED", "access to the resource is denied", False)],
            "unauthorized: access to the resource is denied",
        ),
        # a code Go does not know is UNKNOWN
        ([RegistryErrorEntry("NOT_FOUND", "repository not found", False)], "unknown: repository not found"),
        ([RegistryErrorEntry("", "unknown error", False)], "unknown"),
        (
            [RegistryErrorEntry("BLOB_UNKNOWN", "x", False), RegistryErrorEntry("DENIED", "no", True)],
            "errors:\nblob unknown: x\ndenied: no\n",
        ),
    ],
    ids=[
        "detail",
        "own-message",
        "empty-message",
        "name-unknown",
        "other-message",
        "unregistered",
        "empty-code",
        "several",
    ],
)
def test_registry_error_text_as_go(entries: list[RegistryErrorEntry], text: str) -> None:
    """``errcode.Errors.Error()`` of the entries as Go's client decodes them."""
    assert registry_error_text(entries) == text


def test_go_error_text_falls_back_to_the_message() -> None:
    """Without an error body (a connection failure, a bare 404) the transport's message, naming the image, stays."""
    bare = NotFoundError("reading manifest r.example/a:b: HTTP 404", status=404)
    assert go_error_text(bare) == "reading manifest r.example/a:b: HTTP 404"
    sent = RegistryError(
        "reading manifest r.example/a:b: HTTP 404 (MANIFEST_UNKNOWN: manifest unknown)", status=404
    )
    sent.entries = (RegistryErrorEntry("MANIFEST_UNKNOWN", "manifest unknown", True),)
    assert go_error_text(sent) == "manifest unknown: manifest unknown"
    # Go's client reads no error body from a 5xx answer
    busy = RegistryError("reading manifest r.example/a:b: HTTP 503 (UNAVAILABLE: later)", status=503)
    busy.entries = (RegistryErrorEntry("UNAVAILABLE", "later", False),)
    assert go_error_text(busy) == "reading manifest r.example/a:b: HTTP 503 (UNAVAILABLE: later)"
