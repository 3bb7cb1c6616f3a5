"""Times as Go and oc read and write them: Go's RFC 3339 parser (``time.Parse(time.RFC3339, …)``, what
``time.Time`` and metav1.Time JSON decode with), ``Format(time.RFC3339)`` and metav1.Time's encoding."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, NamedTuple

from okdrelease.gocompat.goduration import quote as _quote
from okdrelease.gocompat.gojson import GoJSONError, json_kind

__all__ = [
    "RFC3339_SECONDS",
    "ZERO",
    "GoTime",
    "format_time",
    "parse_rfc3339",
    "parse_seconds",
    "parse_time",
    "unmarshal_time",
]

#: strftime/strptime form of every time okdrelease writes.
RFC3339_SECONDS = "%Y-%m-%dT%H:%M:%SZ"
_RFC3339_LAYOUT = "2006-01-02T15:04:05Z07:00"
_DAY = 86400
_400_YEARS = 146097  # days: the Gregorian calendar repeats every 400 years
_MARSHAL = "json: error calling MarshalJSON for type *time.Time: "
_UNIX_EPOCH = (dt.date(1970, 1, 1).toordinal() - 1) * _DAY  # seconds from 0001-01-01 to 1970-01-01


class GoTime(NamedTuple):
    """A Go ``time.Time`` as RFC 3339 gives it: the instant (``seconds`` from 0001-01-01T00:00:00Z,
    negative before it, and ``nanos``) and the zone's ``offset`` east of UTC in seconds."""

    seconds: int
    nanos: int = 0
    offset: int = 0

    def is_zero(self) -> bool:
        """Go's ``IsZero``: the instant is 0001-01-01T00:00:00Z, whatever the zone."""
        return self.seconds == 0 and self.nanos == 0

    def utc(self) -> GoTime:
        """The same instant in UTC (Go's ``UTC()``)."""
        return self._replace(offset=0)

    def unix(self) -> float:
        """Seconds since 1970-01-01T00:00:00Z."""
        return self.seconds - _UNIX_EPOCH + self.nanos / 1e9

    def rfc3339(self) -> str:
        """Go's ``Format(time.RFC3339)``: the wall clock in the time's zone, whole seconds, ``Z`` for a
        zero offset, ``±hh:mm`` otherwise; a year before 1 as Go writes it (``-0001``)."""
        return self._wall() + self._zone()

    def rfc3339_nano(self) -> str:
        """Go's ``Format(time.RFC3339Nano)`` (``MarshalJSON``): :meth:`rfc3339` with the fraction of a
        second, its trailing zeros dropped."""
        fraction = f".{self.nanos:09d}".rstrip("0") if self.nanos else ""
        return self._wall() + fraction + self._zone()

    def marshal_json(self) -> str:
        """Go's ``MarshalJSON`` text (:meth:`rfc3339_nano`); GoJSONError in oc's words for a year outside
        0-9999 or an offset of 24 hours, which RFC 3339 cannot write."""
        text = self.rfc3339_nano()
        if text[4] != "-":
            raise GoJSONError(f"{_MARSHAL}year outside of range [0,9999]")
        if not text.endswith("Z") and int(text[-5:-3]) >= 24:
            raise GoJSONError(f"{_MARSHAL}timezone hour outside of range [0,23]")
        return text

    def _wall(self) -> str:
        days, second = divmod(self.seconds + self.offset, _DAY)
        cycles = 0
        while days < 0:
            days += _400_YEARS
            cycles -= 1
        while days >= dt.date.max.toordinal():
            days -= _400_YEARS
            cycles += 1
        date = dt.date.fromordinal(days + 1)
        year = date.year + 400 * cycles
        hour, rest = divmod(second, 3600)
        return (
            f"{'-' if year < 0 else ''}{abs(year):04d}-{date.month:02d}-{date.day:02d}"
            f"T{hour:02d}:{rest // 60:02d}:{rest % 60:02d}"
        )

    def _zone(self) -> str:
        if self.offset == 0:
            return "Z"
        hours, minutes = divmod(abs(self.offset) // 60, 60)
        return f"{'-' if self.offset < 0 else '+'}{hours:02d}:{minutes:02d}"


#: Go's zero ``time.Time``: 0001-01-01T00:00:00Z.
ZERO = GoTime(0)


class _Bad(Exception):
    """Go's errBad (the element cannot be parsed), or a range error when ``message`` is set."""

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message


def _digits(text: str, start: int, count: int) -> bool:
    return len(text) >= start + count and all("0" <= c <= "9" for c in text[start : start + count])


def _number(text: str, fixed: bool) -> tuple[int, str]:
    """Go's ``getnum``: two digits, or one where not ``fixed``; (number, rest)."""
    if not _digits(text, 0, 1):
        raise _Bad
    if not _digits(text, 1, 1):
        if fixed:
            raise _Bad
        return int(text[0]), text[1:]
    return int(text[:2]), text[2:]


def _days_in(month: int, year: int) -> int:
    if month == 2:
        return 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28
    return 30 if month in (4, 6, 9, 11) else 31


#: The numeric elements of the RFC 3339 layout: (exclusive upper bound, name in a range error).
_NUMBERS = {
    "01": (13, "month"),
    "02": (100, ""),
    "15": (24, "hour"),
    "04": (60, "minute"),
    "05": (60, "second"),
}


#: The usual form of an RFC 3339 time: every field in two digits (the year in four), in range or not.
_PLAIN = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:[.,]([0-9]+))?(Z|[-+][0-9]{2}:[0-9]{2})"
)


def parse_rfc3339(text: str) -> GoTime:
    """``time.Parse(time.RFC3339, text)`` with Go's rules and error texts (GoJSONError): four-digit years
    0000-9999, a one-digit hour, a fraction of a second after ``.`` or ``,`` (nanoseconds, the digits
    past nine ignored), ``Z`` or an offset up to ±24:60, nothing after it.

    A time of the usual form with every field in range is read by one match; any other text (and every
    error) by Go's element-by-element parse (:func:`_parse_elements`), which gives the same time."""
    match = _PLAIN.fullmatch(text)
    if match is not None:
        year, month, day, hour, minute, second, fraction, zone = match.groups()
        y, mo, d, h, mi, s = int(year), int(month), int(day), int(hour), int(minute), int(second)
        if y >= 1 and 1 <= mo <= 12 and 1 <= d <= _days_in(mo, y) and h < 24 and mi < 60 and s < 60:
            offset = 0
            if zone != "Z":
                zone_hours, zone_minutes = int(zone[1:3]), int(zone[4:6])
                if zone_hours > 24 or zone_minutes > 60:
                    return _parse_elements(text)
                offset = (zone_hours * 60 + zone_minutes) * 60 * (-1 if zone[0] == "-" else 1)
            nanos = 0
            if fraction is not None:
                digits = fraction[:9]
                nanos = int(digits) * 10 ** (9 - len(digits))
            days = dt.date(y, mo, d).toordinal() - 1
            return GoTime(days * _DAY + h * 3600 + mi * 60 + s - offset, nanos, offset)
    return _parse_elements(text)


def _parse_elements(text: str) -> GoTime:
    """:func:`parse_rfc3339` element by element as Go's parser goes, with its error texts."""
    value = text
    fields: list[int] = []
    nanos = offset = 0
    for element in ("2006", "-", "01", "-", "02", "T", "15", ":", "04", ":", "05", "Z07:00"):
        hold = value
        try:
            if element in ("-", "T", ":"):
                if not value.startswith(element):
                    raise _Bad
                value = value[1:]
            elif element == "2006":
                if not _digits(value, 0, 4):
                    raise _Bad
                fields.append(int(value[:4]))
                value = value[4:]
            elif element == "Z07:00":
                offset, value = _zone(value)
            else:
                number, value = _number(value, fixed=element != "15")
                limit, name = _NUMBERS[element]
                if (element == "01" and number == 0) or number >= limit:
                    raise _Bad(f": {name} out of range")
                fields.append(number)
                if element == "05" and len(value) >= 2 and value[0] in ".," and _digits(value, 1, 1):
                    end = 2
                    while _digits(value, end, 1):
                        end += 1
                    digits = value[1:end][:9]
                    nanos = int(digits) * 10 ** (9 - len(digits))
                    value = value[end:]
        except _Bad as bad:
            if bad.message:
                raise GoJSONError(f"parsing time {_quote(text)}{bad.message}") from None
            raise GoJSONError(
                f"parsing time {_quote(text)} as {_quote(_RFC3339_LAYOUT)}: cannot parse {_quote(hold)} as "
                f"{_quote(element)}"
            ) from None
    if value:
        raise GoJSONError(f"parsing time {_quote(text)}: extra text: {_quote(value)}")
    year, month, day, hour, minute, second = fields
    if not 1 <= day <= _days_in(month, year):
        raise GoJSONError(f"parsing time {_quote(text)}: day out of range")
    if year >= 1:
        days = dt.date(year, month, day).toordinal() - 1
    else:  # year 0: the same day 400 years later, moved back
        days = dt.date(year + 400, month, day).toordinal() - 1 - _400_YEARS
    return GoTime(days * _DAY + hour * 3600 + minute * 60 + second - offset, nanos, offset)


def _zone(value: str) -> tuple[int, str]:
    """Go's ``Z07:00`` element: ``Z`` or ``±hh:mm`` (hours up to 24, minutes up to 60); (offset, rest)."""
    if value.startswith("Z"):
        return 0, value[1:]
    if len(value) < 6 or value[3] != ":":
        raise _Bad
    hours = minutes = 0
    bad = value[0] not in "+-"
    try:
        hours, _ = _number(value[1:3], fixed=True)
        minutes, _ = _number(value[4:6], fixed=True)
    except _Bad:
        bad = True
    if hours > 24:  # Go's order: the ranges, then the digits and the sign
        raise _Bad(": time zone offset hour out of range")
    if minutes > 60:
        raise _Bad(": time zone offset minute out of range")
    if bad:
        raise _Bad
    offset = (hours * 60 + minutes) * 60
    return (-offset if value[0] == "-" else offset), value[6:]


def unmarshal_time(value: Any, field: str) -> GoTime:
    """A ``time.Time`` struct field decoded from the JSON ``value`` as oc decodes it: null is the zero
    time, a string is parsed by :func:`parse_rfc3339`, anything else is ``json: cannot unmarshal KIND
    into Go struct field FIELD of type time.Time`` (GoJSONError)."""
    if value is None:
        return ZERO
    kind = json_kind(value)
    if kind == "string":
        return parse_rfc3339(value)
    raise GoJSONError(f"json: cannot unmarshal {kind} into Go struct field {field} of type time.Time")


def parse_time(text: str) -> str:
    """Parse an RFC 3339 time like Go's time.Parse and return it as oc re-encodes it (UTC, seconds)."""
    return parse_rfc3339(text).utc().rfc3339()


def format_time(moment: dt.datetime) -> str:
    """Format ``moment`` as Go's metav1.Time JSON: RFC 3339 in UTC, whole seconds."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC)
    # The year in four digits, as Go writes it (strftime's %Y drops the leading zeros of years before 1000).
    return f"{moment.year:04d}-" + moment.strftime(RFC3339_SECONDS.removeprefix("%Y-"))


def parse_seconds(text: str) -> dt.datetime:
    """The aware UTC moment of a time written by :func:`format_time`."""
    return dt.datetime.strptime(text, RFC3339_SECONDS).replace(tzinfo=dt.UTC)
