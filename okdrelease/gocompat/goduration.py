"""Go's ``time.ParseDuration`` and the quoting of the time package's errors (no other import: the
command line parses ``--timeout`` with it before anything else is loaded)."""

from __future__ import annotations

__all__ = ["parse_duration", "quote"]


def quote(text: str) -> str:
    """Go's time package quoting in its errors: ``"`` and ``\\`` escaped, other bytes below space or
    beyond ASCII as ``\\xHH``; a byte of invalid UTF-8 (a surrogate escape, as Python decodes a command
    line) as that byte, as Go quotes the string's own bytes."""
    out: list[str] = []
    for char in text:
        if char < " " or char >= "\x80":
            try:
                raw = char.encode("utf-8", "surrogateescape")
            except UnicodeEncodeError:  # a surrogate no byte decodes to
                raw = char.encode("utf-8", "surrogatepass")
            out.extend(f"\\x{byte:02x}" for byte in raw)
        else:
            out.append("\\" + char if char in '"\\' else char)
    return '"' + "".join(out) + '"'


#: Go's duration units in nanoseconds (``µs`` as U+00B5 MICRO SIGN and U+03BC GREEK SMALL LETTER MU).
_DURATION_UNITS = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,
    "\u03bcs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_HIGH = 1 << 63  # nanoseconds past Go's largest Duration (2**63 - 1); its smallest is -2**63


def parse_duration(text: str) -> int:
    """``time.ParseDuration(text)`` in nanoseconds, with Go's rules and error texts (ValueError): an
    optional sign, then numbers with an optional fraction, each followed by its unit (``1h2m3.5s``,
    ``-1.5h``, ``.5us``); ``0`` alone needs no unit; within Go's Duration range (about 2,562,047 h)."""
    invalid = ValueError(f"time: invalid duration {quote(text)}")
    rest = text
    negative = rest[:1] == "-"
    if rest[:1] in ("-", "+"):
        rest = rest[1:]
    if rest == "0":
        return 0
    if not rest:
        raise invalid
    total = 0
    while rest:
        end = 0
        while end < len(rest) and "0" <= rest[end] <= "9":
            end += 1
        whole, rest = rest[:end], rest[end:]
        fraction = ""
        if rest[:1] == ".":
            end = 1
            while end < len(rest) and "0" <= rest[end] <= "9":
                end += 1
            fraction, rest = rest[1:end], rest[end:]
            if not whole and not fraction:
                raise invalid
        elif not whole:
            raise invalid
        value = int(whole or "0")
        if value > _HIGH:  # Go's leadingInt overflows
            raise invalid
        end = 0
        while end < len(rest) and rest[end] != "." and not "0" <= rest[end] <= "9":
            end += 1
        if end == 0:
            raise ValueError(f"time: missing unit in duration {quote(text)}")
        unit_name, rest = rest[:end], rest[end:]
        unit = _DURATION_UNITS.get(unit_name)
        if unit is None:
            raise ValueError(f"time: unknown unit {quote(unit_name)} in duration {quote(text)}")
        if value > _HIGH // unit:
            raise invalid
        value *= unit
        digits, scale = _fraction(fraction)
        if digits:
            # As Go: through float64, which is exact to the nanosecond for fractions of an hour.
            value += int(float(digits) * (float(unit) / scale))
            if value > _HIGH:
                raise invalid
        total += value
        if total > _HIGH:
            raise invalid
    if negative:
        return -total
    if total > _HIGH - 1:
        raise invalid
    return total


def _fraction(digits: str) -> tuple[int, float]:
    """Go's ``leadingFraction``: (the fraction's digits as a number, 10**their count), the digits that
    would overflow an int64 ignored."""
    number, scale = 0, 1.0
    for digit in digits:
        following = number * 10 + int(digit)
        if number > (_HIGH - 1) // 10 or following > _HIGH:
            break
        number, scale = following, scale * 10
    return number, scale
