"""Go's RFC 3339 reading and writing of ``time.Time`` (gocompat.gotime), checked against the real oc
through extract and info in tests/test_parity_extract.py and tests/test_parity_info.py."""

from __future__ import annotations

import re

import pytest

from okdrelease.gocompat.gojson import GoJSONError, RawNumber
from okdrelease.gocompat.gotime import ZERO, _parse_elements, parse_rfc3339, unmarshal_time


@pytest.mark.parametrize(
    ("text", "written", "utc", "nano"),
    [
        ("0000-01-01T00:00:00Z", "0000-01-01T00:00:00Z", "0000-01-01T00:00:00Z", "0000-01-01T00:00:00Z"),
        ("0000-01-01T00:30:00+01:00", "0000-01-01T00:30:00+01:00", "-0001-12-31T23:30:00Z", None),
        ("9999-12-31T23:59:59-23:59", "9999-12-31T23:59:59-23:59", "10000-01-01T23:58:59Z", None),
        ("2024-01-01T12:00:00.5+02:00", "2024-01-01T12:00:00+02:00", "2024-01-01T10:00:00Z", None),
        (
            "2024-01-01T12:00:00,50-00:00",
            "2024-01-01T12:00:00Z",
            "2024-01-01T12:00:00Z",
            "2024-01-01T12:00:00.5Z",
        ),
        ("2024-02-29T1:02:03.1234567891Z", "2024-02-29T01:02:03Z", None, "2024-02-29T01:02:03.123456789Z"),
    ],
)
def test_rfc3339_read_and_written_as_go(text: str, written: str, utc: str | None, nano: str | None) -> None:
    """Format(RFC3339) keeps the zone written, UTC() moves the instant (years before 1 and past 9999 as
    Go writes them), RFC3339Nano keeps the fraction without trailing zeros."""
    when = parse_rfc3339(text)
    assert when.rfc3339() == written
    assert when.utc().rfc3339() == (utc or written)
    assert when.rfc3339_nano() == (nano or text)


def test_the_zero_time_is_an_instant() -> None:
    """IsZero whatever the zone; year 0 is not zero; null is the zero time."""
    assert parse_rfc3339("0001-01-01T01:00:00+01:00").is_zero()
    assert not parse_rfc3339("0000-12-31T23:59:59Z").is_zero()
    assert unmarshal_time(None, ".created") == ZERO
    assert ZERO.rfc3339() == "0001-01-01T00:00:00Z"
    assert parse_rfc3339("1970-01-01T01:00:00.25+01:00").unix() == 0.25


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", 'parsing time "" as "2006-01-02T15:04:05Z07:00": cannot parse "" as "2006"'),
        ("2024-01-01", 'parsing time "2024-01-01" as "2006-01-02T15:04:05Z07:00": cannot parse "" as "T"'),
        ("2024-00-01T00:00:00Z", 'parsing time "2024-00-01T00:00:00Z": month out of range'),
        ("2023-02-29T00:00:00Z", 'parsing time "2023-02-29T00:00:00Z": day out of range'),
        ("2024-01-01T24:00:00Z", 'parsing time "2024-01-01T24:00:00Z": hour out of range'),
        (
            "2024-01-01T00:00:00+01:61",
            'parsing time "2024-01-01T00:00:00+01:61": time zone offset minute out of range',
        ),
        (
            "2024-01-01T00:00:00 ",
            'parsing time "2024-01-01T00:00:00 " as "2006-01-02T15:04:05Z07:00": cannot parse " " as "Z07:00"',
        ),
        (
            "2024-01-01T00:00:00Z\u00e9",
            'parsing time "2024-01-01T00:00:00Z\\xc3\\xa9": extra text: "\\xc3\\xa9"',
        ),
        (RawNumber("5"), "json: cannot unmarshal number into Go struct field .created of type time.Time"),
        (False, "json: cannot unmarshal bool into Go struct field .created of type time.Time"),
        ([], "json: cannot unmarshal array into Go struct field .created of type time.Time"),
    ],
)
def test_refused_in_gos_words(value: object, message: str) -> None:
    with pytest.raises(GoJSONError) as caught:
        unmarshal_time(value, ".created")
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ("2024-01-01T12:00:00,500+00:00", "2024-01-01T12:00:00.5Z"),
        ("0000-01-01T00:00:00+23:59", "0000-01-01T00:00:00+23:59"),
        ("0000-01-01T00:00:00Z", "0000-01-01T00:00:00Z"),
    ],
)
def test_marshal_json_as_go(text: str, written: str) -> None:
    """MarshalJSON: RFC3339Nano, the zone as written."""
    assert parse_rfc3339(text).marshal_json() == written


def test_marshal_json_refuses_what_rfc3339_cannot_write() -> None:
    """A year outside 0-9999 or an offset of 24 hours: oc's json error."""
    prefix = "json: error calling MarshalJSON for type *time.Time: "
    with pytest.raises(GoJSONError, match=rf"^{re.escape(prefix)}year outside of range \[0,9999\]$"):
        parse_rfc3339("0000-01-01T00:30:00+01:00").utc().marshal_json()
    with pytest.raises(GoJSONError, match=rf"^{re.escape(prefix)}timezone hour outside of range \[0,23\]$"):
        parse_rfc3339("2024-01-01T00:00:00+24:00").marshal_json()


def _outcome(parse: object, text: str) -> object:
    try:
        return parse(text)  # type: ignore[operator]
    except GoJSONError as err:
        return f"error: {err}"


def _near_plain_times() -> list[str]:
    """Times of the usual form with each field (and the fraction and zone) replaced by values at and
    past its bounds, one- and three-digit forms, and odd characters: what the one-match read takes, and
    what it must leave to Go's element-by-element parse."""
    base = ["2024", "-", "02", "-", "29", "T", "23", ":", "59", ":", "59", "", "Z"]
    values = {
        0: ["0000", "0001", "1970", "2023", "2100", "2000", "9999", "999", "20245", "２０２４", "20a4"],
        2: ["00", "01", "12", "13", "99", "1", "011", "0x"],
        4: ["00", "01", "28", "30", "31", "32", "1", "001"],
        6: ["00", "1", "23", "24", "99", "001"],
        8: ["00", "59", "60", "5", "099"],
        10: ["00", "59", "60", "61", "5", "059"],
        11: [".", ",", ".0", ",5", ".123456789", ".1234567891", ".000000000001", ".x", "..5"],
        12: [
            "z",
            "+00:00",
            "-00:00",
            "+24:00",
            "+25:00",
            "-23:59",
            "+01:60",
            "+01:61",
            "+1:00",
            "+0100",
            "+01:0",
            "+01:00 ",
            "Z ",
            "ZZ",
            "",
            "\u00e9",
        ],
    }
    out = ["".join(base)]
    for index, choices in values.items():
        for choice in choices:
            parts = list(base)
            parts[index] = choice
            out.append("".join(parts))
    for separator, index in (("/", 1), (" ", 5), ("t", 5), (".", 7)):
        parts = list(base)
        parts[index] = separator
        out.append("".join(parts))
    return out + ["", "2024-01-01", "2024-01-01T00:00:00", "2023-02-29T00:00:00Z", "0000-02-29T00:00:00Z"]


@pytest.mark.parametrize("text", _near_plain_times())
def test_one_match_read_is_gos_parse(text: str) -> None:
    """parse_rfc3339 (one match for the usual form) gives the time, or the error, Go's element-by-element
    parse gives."""
    assert _outcome(parse_rfc3339, text) == _outcome(_parse_elements, text)
