"""Go's ``time.ParseDuration`` (gocompat.goduration): the values and the error texts, the latter as the
real oc's duration flags give them (``oc wait --timeout=VALUE``, checked on each value below)."""

from __future__ import annotations

import pytest

from okdrelease.gocompat.goduration import parse_duration


@pytest.mark.parametrize(
    ("text", "nanoseconds"),
    [
        ("0", 0),
        ("-0", 0),
        ("+0", 0),
        ("1ns", 1),
        ("1us", 1_000),
        ("1\u00b5s", 1_000),
        ("1\u03bcs", 1_000),
        ("1ms", 1_000_000),
        ("-1s", -1_000_000_000),
        ("+5s", 5_000_000_000),
        ("2m", 120_000_000_000),
        ("1h2m3.5s", 3_723_500_000_000),
        ("1.5h", 5_400_000_000_000),
        ("-1.5h", -5_400_000_000_000),
        (".5s", 500_000_000),
        ("1.s", 1_000_000_000),
        ("0.000000001s", 1),
        ("1.0000000000000000000000001s", 1_000_000_000),  # fraction digits past int64 are ignored
        ("1h1h", 7_200_000_000_000),
        ("9223372036854775807ns", 2**63 - 1),
        ("-9223372036854775808ns", -(2**63)),
        ("-2562047h47m16.854775808s", -(2**63)),
    ],
)
def test_what_go_accepts(text: str, nanoseconds: int) -> None:
    assert parse_duration(text) == nanoseconds


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", 'time: invalid duration ""'),
        ("-", 'time: invalid duration "-"'),
        ("+-1s", 'time: invalid duration "+-1s"'),
        ("soon", 'time: invalid duration "soon"'),
        (".s", 'time: invalid duration ".s"'),
        (" 5s", 'time: invalid duration " 5s"'),
        ("\u0663s", 'time: invalid duration "\\xd9\\xa3s"'),  # an Arabic-Indic digit is no digit
        ("2", 'time: missing unit in duration "2"'),
        ("00", 'time: missing unit in duration "00"'),
        ("0.0", 'time: missing unit in duration "0.0"'),
        ("1.5.5s", 'time: missing unit in duration "1.5.5s"'),
        ("1x", 'time: unknown unit "x" in duration "1x"'),
        ("1e3s", 'time: unknown unit "e" in duration "1e3s"'),
        ("1h-1s", 'time: unknown unit "h-" in duration "1h-1s"'),
        ("1s ", 'time: unknown unit "s " in duration "1s "'),
        ('1"s', 'time: unknown unit "\\"s" in duration "1\\"s"'),
        ("1\u00b5x", 'time: unknown unit "\\xc2\\xb5x" in duration "1\\xc2\\xb5x"'),
        ("9223372036854775808ns", 'time: invalid duration "9223372036854775808ns"'),
        ("2562047h47m16.854775808s", 'time: invalid duration "2562047h47m16.854775808s"'),
        ("-9223372036854775809ns", 'time: invalid duration "-9223372036854775809ns"'),
        ("99999999999h", 'time: invalid duration "99999999999h"'),
        ("99999999999999999999s", 'time: invalid duration "99999999999999999999s"'),
    ],
)
def test_what_go_refuses_in_its_words(text: str, message: str) -> None:
    with pytest.raises(ValueError) as refused:
        parse_duration(text)
    assert str(refused.value) == message
