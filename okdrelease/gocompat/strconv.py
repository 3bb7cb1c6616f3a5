"""Go's strconv.Quote and strings.TrimSpace, byte for byte."""

from __future__ import annotations

import unicodedata

__all__ = ["go_quote", "go_trim_space", "invalid_flag_argument", "syntax_error"]

_GO_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}
_GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"


def _go_printable(ch: str) -> bool:
    """Return whether Go's strconv.IsPrint would accept ``ch`` (letters, marks, numbers, punctuation, symbols, ASCII space)."""
    if ch == " ":
        return True
    return unicodedata.category(ch)[0] in "LMNPS"


def go_quote(text: str) -> str:
    """Return ``text`` quoted like Go's ``%q`` / strconv.Quote."""
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif 0xDC80 <= code <= 0xDCFF:  # a raw byte smuggled in by surrogateescape
            out.append(f"\\x{code - 0xDC00:02x}")
        elif _go_printable(ch):
            out.append(ch)
        elif ch in _GO_ESCAPES:
            out.append(_GO_ESCAPES[ch])
        elif code < 0x80:
            out.append(f"\\x{code:02x}")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


def invalid_flag_argument(value: str, flag: str, reason: str) -> str:
    """pflag's words for a value a flag's parser refused (oc's): ``invalid argument %q for %q flag: REASON``."""
    return f"invalid argument {go_quote(value)} for {go_quote(flag)} flag: {reason}"


def syntax_error(function: str, value: str) -> str:
    """strconv's NumError for text that is no number or boolean: ``strconv.ParseInt: parsing %q: invalid syntax``."""
    return f"strconv.{function}: parsing {go_quote(value)}: invalid syntax"


def go_trim_space(text: str) -> str:
    """Return ``text`` without leading/trailing white space, like Go's strings.TrimSpace."""
    return text.strip(_GO_SPACE)
