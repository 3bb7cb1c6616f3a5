"""What a registry's error answer says: ``status_error`` turns an unwanted HTTP status and its
``errors`` body into the ``RegistryError`` a caller raises (``WHAT: HTTP 503 (CODE: message)``), with
the entries Go's client would decode for oc's wording."""

from __future__ import annotations

import json
from typing import Any

from okdrelease.errors import NotFoundError, RegistryError, RegistryErrorEntry, UnauthorizedError, printable
from okdrelease.transport.http import MAX_LOADED_BODY, Response
from okdrelease.transport.wire import TransportError

_ERROR_TEXT_LIMIT = 300


#: What a broken response body raises while it is read.
BODY_ERRORS = (TransportError, OSError)


def _error_field(value: object) -> str:
    """An error entry's ``code`` or ``message`` as an error message shows it: a string as sent, null as
    nothing, anything else as JSON (Go's clients quote the whole body then); control characters escaped."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return printable(text)


def _error_list(response: Response) -> list[Any] | None:
    """The ``errors`` list of a registry error body, None when the body holds none."""
    try:
        body = response.json()
    except ValueError:
        return None
    errors = body.get("errors") if isinstance(body, dict) else None
    return errors if isinstance(errors, list) else None


def _error_detail(response: Response) -> str:
    """Return ``CODE: message`` from a registry error body (or a short text excerpt)."""
    errors = _error_list(response)
    if errors:
        parts = []
        for item in errors[:3]:
            if isinstance(item, dict):
                code, message = _error_field(item.get("code")), _error_field(item.get("message"))
                parts.append(f"{code}: {message}" if code else message)
        return "; ".join(parts)
    text = (response.text or "").strip()
    return printable(text[:_ERROR_TEXT_LIMIT]) if text and not text.startswith("<") else ""


def error_codes(response: Response) -> set[str]:
    """The ``code`` of every entry of a registry error body."""
    errors = _error_list(response) or ()
    return {str(e.get("code")) for e in errors if isinstance(e, dict)}


def _error_entries(response: Response) -> tuple[RegistryErrorEntry, ...]:
    """The entries of a registry error body as Go's client decodes them (for oc's wording of the error):
    none when it cannot (an entry that is no object, a code or message that is no string: oc then
    reports the body as unparsable), control characters escaped."""
    errors = _error_list(response) or ()
    if not all(
        isinstance(e, dict) and all(isinstance(e.get(key), str | None) for key in ("code", "message"))
        for e in errors
    ):
        return ()
    return tuple(
        RegistryErrorEntry(
            _error_field(e.get("code")), _error_field(e.get("message")), e.get("detail") is not None
        )
        for e in errors
    )


def status_error(response: Response, what: str, **context: str) -> RegistryError:
    """The error for an unwanted HTTP status: ``WHAT: HTTP 503 (CODE: message)`` (the status alone
    when the body cannot be read); closes the response."""
    status = response.status_code
    try:
        detail, entries = _error_detail(response), _error_entries(response)
    except BODY_ERRORS:  # a broken error body: the status alone
        detail, entries = "", ()
    if response.unread:
        detail = f"its body, larger than {MAX_LOADED_BODY} bytes, was not read"
    message = prefixed(what, f"HTTP {status}") + (f" ({detail})" if detail else "")
    cls: type[RegistryError] = RegistryError
    if status == 404:
        cls = NotFoundError
    elif status in (401, 403):
        cls = UnauthorizedError
    response.close()
    error = cls(message, status=status, **context)
    error.entries = entries
    return error


def prefixed(what: str, message: str) -> str:
    return f"{what}: {message}" if what else message
