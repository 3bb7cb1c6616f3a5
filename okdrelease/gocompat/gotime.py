"""Times as Go and oc write them: RFC 3339 in UTC with whole seconds (metav1.Time, release ``created``)."""

from __future__ import annotations

import datetime as dt
import re

from okdrelease.gocompat.gojson import GoJSONError

__all__ = ["RFC3339_SECONDS", "format_time", "parse_seconds", "parse_time"]

#: strftime/strptime form of every time okdrelease writes.
RFC3339_SECONDS = "%Y-%m-%dT%H:%M:%SZ"
_RFC3339_LAYOUT = "2006-01-02T15:04:05Z07:00"
_RFC3339_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:Z|([+-])(\d{2}):(\d{2}))", re.ASCII
)


def parse_time(text: str) -> str:
    """Parse an RFC 3339 time like Go's time.Parse and return it as oc re-encodes it (UTC, seconds)."""
    match = _RFC3339_RE.fullmatch(text)
    if match is None:
        raise GoJSONError(f'parsing time "{text}" as "{_RFC3339_LAYOUT}": cannot parse "{text}" as "2006"')
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    try:
        moment = dt.datetime(year, month, day, hour, minute, second, tzinfo=dt.UTC)
    except ValueError as err:
        raise GoJSONError(f'parsing time "{text}": {err}') from err
    if match.group(8):
        offset = dt.timedelta(hours=int(match.group(9)), minutes=int(match.group(10)))
        moment -= offset if match.group(8) == "+" else -offset
    return format_time(moment)


def format_time(moment: dt.datetime) -> str:
    """Format ``moment`` as Go's metav1.Time JSON: RFC 3339 in UTC, whole seconds."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC)
    return moment.strftime(RFC3339_SECONDS)


def parse_seconds(text: str) -> dt.datetime:
    """The aware UTC moment of a time written by :func:`format_time`."""
    return dt.datetime.strptime(text, RFC3339_SECONDS).replace(tzinfo=dt.UTC)
