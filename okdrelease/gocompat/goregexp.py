"""Go's regular expressions (``regexp.Compile``, RE2 syntax with Perl flags) read as Go's
``regexp/syntax`` parser reads them, and matched with Python's ``re``.

oc compiles ``--filter-by-os`` with Go's ``regexp``: an expression Go refuses fails in Go's words
(``error parsing regexp: missing closing ]: `[```), and one Go accepts means what it means in Go.
:func:`compile_go` walks the expression as Go's parser does, with its checks in its order (the
offending text each error quotes is the text Go quotes), and writes an equivalent Python pattern:
where the two syntaxes differ it says what Go means (``{`` that is no repeat count is a literal,
``$`` is the end of the text, ``\\d``/``\\s``/``\\w``/``\\b`` are ASCII, ``\\z``, ``\\Q...\\E``,
``[[:alpha:]]``, ``\\pL``, flag groups such as ``a(?i)b`` and ``(?U)``). Captures become plain
groups (only whether the platform text matches is asked).

Unicode classes (``\\pL``, ``\\p{Greek}``, ``\\P{Han}``, ``[\\p{Latin}\\d]``, Go's category aliases
such as ``\\p{Letter}``, ``Any``, ``ASCII``, ``Assigned``) take their code points from the ``regex``
package's Unicode tables: Unicode 17.0, the version of Go 1.27's ``unicode`` package (Python 3.11's
``unicodedata`` is 14.0), scripts by the Script property as Go's ``unicode.Scripts`` (not
Script_Extensions). A name Go does not know is Go's error (``invalid character class range:
`\\p{Foo}```).

Not followed: Go's size limits (``expression too large``: a program estimated past 3.3 million
instructions, or past 32 million runes in its classes) are not computed: Go estimates them on its own
parse tree (literal runs merged, alternations factored, nodes counted as its parser allocates them),
which this translation does not build; such an expression compiles here (or fails with
:class:`UnsupportedGoRegexp` when Python's ``re`` cannot take it).
"""

from __future__ import annotations

import array
import functools
import re
from typing import TypeAlias

__all__ = ["GoRegexpError", "UnsupportedGoRegexp", "compile_go"]

_FOLD, _ONELINE, _DOTNL, _NONGREEDY = 1, 2, 4, 8
_MAX_RUNE = 0x10FFFF
_MAX_REPEAT = 1000
_MAX_HEIGHT = 1000

_MISSING_BRACKET = "missing closing ]"
_MISSING_PAREN = "missing closing )"
_UNEXPECTED_PAREN = "unexpected )"
_BAD_ESCAPE = "invalid escape sequence"
_BAD_RANGE = "invalid character class range"
_BAD_NAMED = "invalid named capture"
_BAD_PERL = "invalid or unsupported Perl syntax"
_BAD_REPEAT_OP = "invalid nested repetition operator"
_BAD_REPEAT_SIZE = "invalid repeat count"
_MISSING_ARGUMENT = "missing argument to repetition operator"
_TRAILING_BACKSLASH = "trailing backslash at end of expression"
_BAD_UTF8 = "invalid UTF-8"
_TOO_DEEP = "expression nests too deeply"


class GoRegexpError(ValueError):
    """An expression Go's parser refuses; ``str()`` is Go's ``*syntax.Error`` text."""

    def __init__(self, code: str, expr: str) -> None:
        super().__init__(f"error parsing regexp: {code}: `{expr}`")


class UnsupportedGoRegexp(ValueError):
    """An expression Go accepts that okdrelease cannot match (nested deeper than Python's ``re`` goes)."""


Ranges = list[tuple[int, int]]
#: Counted repetitions nearest the top of an expression: (max, min, those inside it).
_Repeats: TypeAlias = "tuple[tuple[int, int, _Repeats], ...]"

_PERL_CLASSES: dict[str, Ranges] = {
    "d": [(0x30, 0x39)],
    "s": [(0x09, 0x0A), (0x0C, 0x0D), (0x20, 0x20)],
    "w": [(0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)],
}
_POSIX_CLASSES: dict[str, Ranges] = {
    "alnum": [(0x30, 0x39), (0x41, 0x5A), (0x61, 0x7A)],
    "alpha": [(0x41, 0x5A), (0x61, 0x7A)],
    "ascii": [(0x00, 0x7F)],
    "blank": [(0x09, 0x09), (0x20, 0x20)],
    "cntrl": [(0x00, 0x1F), (0x7F, 0x7F)],
    "digit": [(0x30, 0x39)],
    "graph": [(0x21, 0x7E)],
    "lower": [(0x61, 0x7A)],
    "print": [(0x20, 0x7E)],
    "punct": [(0x21, 0x2F), (0x3A, 0x40), (0x5B, 0x60), (0x7B, 0x7E)],
    "space": [(0x09, 0x0D), (0x20, 0x20)],
    "upper": [(0x41, 0x5A)],
    "word": [(0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)],
    "xdigit": [(0x30, 0x39), (0x41, 0x46), (0x61, 0x66)],
}
#: Go's general category names and their Unicode aliases (``\p{Lu}``, ``\p{Letter}``), by the
#: canonical form compared here (upper case, no ``_``, ``-`` or space): the categories each covers.
_CATEGORY_NAMES: dict[str, tuple[str, ...]] = {}
for _names, _cats in (
    (("C", "OTHER"), ("Cc", "Cf", "Co", "Cs")),
    (("CC", "CONTROL", "CNTRL"), ("Cc",)),
    (("CF", "FORMAT"), ("Cf",)),
    (("CN", "UNASSIGNED"), ("Cn",)),
    (("CO", "PRIVATEUSE"), ("Co",)),
    (("CS", "SURROGATE"), ("Cs",)),
    (("L", "LETTER"), ("Lu", "Ll", "Lt", "Lm", "Lo")),
    (("LC", "CASEDLETTER"), ("Lu", "Ll", "Lt")),
    (("LL", "LOWERCASELETTER"), ("Ll",)),
    (("LM", "MODIFIERLETTER"), ("Lm",)),
    (("LO", "OTHERLETTER"), ("Lo",)),
    (("LT", "TITLECASELETTER"), ("Lt",)),
    (("LU", "UPPERCASELETTER"), ("Lu",)),
    (("M", "MARK", "COMBININGMARK"), ("Mn", "Mc", "Me")),
    (("MC", "SPACINGMARK"), ("Mc",)),
    (("ME", "ENCLOSINGMARK"), ("Me",)),
    (("MN", "NONSPACINGMARK"), ("Mn",)),
    (("N", "NUMBER"), ("Nd", "Nl", "No")),
    (("ND", "DECIMALNUMBER", "DIGIT"), ("Nd",)),
    (("NL", "LETTERNUMBER"), ("Nl",)),
    (("NO", "OTHERNUMBER"), ("No",)),
    (("P", "PUNCTUATION", "PUNCT"), ("Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po")),
    (("PC", "CONNECTORPUNCTUATION"), ("Pc",)),
    (("PD", "DASHPUNCTUATION"), ("Pd",)),
    (("PE", "CLOSEPUNCTUATION"), ("Pe",)),
    (("PF", "FINALPUNCTUATION"), ("Pf",)),
    (("PI", "INITIALPUNCTUATION"), ("Pi",)),
    (("PO", "OTHERPUNCTUATION"), ("Po",)),
    (("PS", "OPENPUNCTUATION"), ("Ps",)),
    (("S", "SYMBOL"), ("Sm", "Sc", "Sk", "So")),
    (("SC", "CURRENCYSYMBOL"), ("Sc",)),
    (("SK", "MODIFIERSYMBOL"), ("Sk",)),
    (("SM", "MATHSYMBOL"), ("Sm",)),
    (("SO", "OTHERSYMBOL"), ("So",)),
    (("Z", "SEPARATOR"), ("Zs", "Zl", "Zp")),
    (("ZL", "LINESEPARATOR"), ("Zl",)),
    (("ZP", "PARAGRAPHSEPARATOR"), ("Zp",)),
    (("ZS", "SPACESEPARATOR"), ("Zs",)),
):
    for _name in _names:
        _CATEGORY_NAMES[_name] = _cats
#: The script names Go's ``unicode.Scripts`` holds (checked against the real oc: each is accepted, and
#: the four-letter codes, ``Katakana_Or_Hiragana`` and ``Unknown`` are not), canonical form.
_SCRIPT_NAMES = frozenset(
    """ADLAM AHOM ANATOLIANHIEROGLYPHS ARABIC ARMENIAN AVESTAN BALINESE BAMUM BASSAVAH BATAK BENGALI
    BERIAERFE BHAIKSUKI BOPOMOFO BRAHMI BRAILLE BUGINESE BUHID CANADIANABORIGINAL CARIAN CAUCASIANALBANIAN
    CHAKMA CHAM CHEROKEE CHORASMIAN COMMON COPTIC CUNEIFORM CYPRIOT CYPROMINOAN CYRILLIC DESERET DEVANAGARI
    DIVESAKURU DOGRA DUPLOYAN EGYPTIANHIEROGLYPHS ELBASAN ELYMAIC ETHIOPIC GARAY GEORGIAN GLAGOLITIC GOTHIC
    GRANTHA GREEK GUJARATI GUNJALAGONDI GURMUKHI GURUNGKHEMA HAN HANGUL HANIFIROHINGYA HANUNOO HATRAN HEBREW
    HIRAGANA IMPERIALARAMAIC INHERITED INSCRIPTIONALPAHLAVI INSCRIPTIONALPARTHIAN JAVANESE KAITHI KANNADA
    KATAKANA KAWI KAYAHLI KHAROSHTHI KHITANSMALLSCRIPT KHMER KHOJKI KHUDAWADI KIRATRAI LAO LATIN LEPCHA
    LIMBU LINEARA LINEARB LISU LYCIAN LYDIAN MAHAJANI MAKASAR MALAYALAM MANDAIC MANICHAEAN MARCHEN
    MASARAMGONDI MEDEFAIDRIN MEETEIMAYEK MENDEKIKAKUI MEROITICCURSIVE MEROITICHIEROGLYPHS MIAO MODI MONGOLIAN
    MRO MULTANI MYANMAR NABATAEAN NAGMUNDARI NANDINAGARI NEWA NEWTAILUE NKO NUSHU NYIAKENGPUACHUEHMONG OGHAM
    OLCHIKI OLDHUNGARIAN OLDITALIC OLDNORTHARABIAN OLDPERMIC OLDPERSIAN OLDSOGDIAN OLDSOUTHARABIAN OLDTURKIC
    OLDUYGHUR OLONAL ORIYA OSAGE OSMANYA PAHAWHHMONG PALMYRENE PAUCINHAU PHAGSPA PHOENICIAN PSALTERPAHLAVI
    REJANG RUNIC SAMARITAN SAURASHTRA SHARADA SHAVIAN SIDDHAM SIDETIC SIGNWRITING SINHALA SOGDIAN SORASOMPENG
    SOYOMBO SUNDANESE SUNUWAR SYLOTINAGRI SYRIAC TAGALOG TAGBANWA TAILE TAITHAM TAIVIET TAIYO TAKRI TAMIL
    TANGSA TANGUT TELUGU THAANA THAI TIBETAN TIFINAGH TIRHUTA TODHRI TOLONGSIKI TOTO TULUTIGALARI UGARITIC
    VAI VITHKUQI WANCHO WARANGCITI YEZIDI YI ZANABAZARSQUARE""".split()
)


@functools.cache
def _every_code_point() -> str:
    """U+0000 to U+10FFFF in order, surrogates included (the text the property tables are read from)."""
    return array.array("I", range(_MAX_RUNE + 1)).tobytes().decode("utf-32-le", "surrogatepass")


@functools.lru_cache(maxsize=64)
def _property_ranges(properties: tuple[str, ...]) -> tuple[tuple[int, int], ...]:
    """The code points that have any of ``properties`` (``gc=Lu``, ``sc=Greek``), as ranges: read from the
    ``regex`` package's Unicode tables (Unicode 17.0, as Go's ``unicode`` package), once per set."""
    import regex

    pattern = regex.compile("[" + "".join(f"\\p{{{prop}}}" for prop in properties) + "]+")
    return tuple((found.start(), found.end() - 1) for found in pattern.finditer(_every_code_point()))


def _category_ranges(categories: tuple[str, ...]) -> Ranges:
    """The code points of general categories, as ranges."""
    return list(_property_ranges(tuple(f"gc={category}" for category in categories)))


def _negate(ranges: Ranges) -> Ranges:
    """The code points outside ``ranges``."""
    out, low = [], 0
    for start, end in sorted(ranges):
        if start > low:
            out.append((low, start - 1))
        low = max(low, end + 1)
    if low <= _MAX_RUNE:
        out.append((low, _MAX_RUNE))
    return out


def _char(code: int) -> str:
    """One code point as Python pattern text (escaped where it is special; by number where unprintable)."""
    char = chr(code)
    return re.escape(char) if char.isprintable() else f"\\U{code:08x}"


def _class_text(ranges: Ranges, flags: int) -> str:
    """A Python pattern for one character of ``ranges`` (nothing matches an empty class)."""
    merged: Ranges = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    if not merged:
        return "(?!)"
    body = "".join(_char(start) if start == end else f"{_char(start)}-{_char(end)}" for start, end in merged)
    return f"(?i:[{body}])" if flags & _FOLD else f"[{body}]"


def _literal_text(code: int, flags: int) -> str:
    return f"(?i:{_char(code)})" if flags & _FOLD else _char(code)


def _canonical(name: str) -> str:
    """A Unicode class name as Go looks it up: ASCII case ignored, ``_``, ``-`` and spaces left out."""
    return "".join(c.upper() if "a" <= c <= "z" else c for c in name if c not in "_- ")


class _Item:
    """One entry of the parse stack: an expression (``text`` its Python pattern), or a marker."""

    __slots__ = ("flags", "height", "kind", "repeats", "text")

    def __init__(
        self, kind: str, text: str = "", height: int = 1, repeats: _Repeats = (), flags: int = 0
    ) -> None:
        self.kind = kind  # "re", "(" or "|"
        self.text = text
        self.height = height
        #: The counted repetitions (max, min, inner) nearest the top, for Go's limit on their product.
        self.repeats = repeats
        self.flags = flags  # "(": the flags to restore at its ")"


def _repeats_valid(repeats: _Repeats, limit: int) -> bool:
    """Go's ``repeatIsValid``: nested counted repetitions multiply to at most ``limit``."""
    for high, low, inner in repeats:
        if high == 0:
            continue
        count = low if high < 0 else high
        if count > limit:
            return False
        if not _repeats_valid(inner, limit // count if count > 0 else limit):
            return False
    return True


class _Parser:
    def __init__(self, text: str) -> None:
        self.whole = text
        self.stack: list[_Item] = []
        self.flags = _ONELINE

    # -- the stack

    def push(self, text: str, height: int = 1, repeats: _Repeats = ()) -> None:
        self.stack.append(_Item("re", text, height, repeats))
        if height > _MAX_HEIGHT:
            raise GoRegexpError(_TOO_DEEP, self.whole)

    def concat(self) -> None:
        """The items above the topmost marker become one (Go's empty match when there are none)."""
        i = len(self.stack)
        while i > 0 and self.stack[i - 1].kind == "re":
            i -= 1
        items = self.stack[i:]
        del self.stack[i:]
        if len(items) == 1:
            self.stack.append(items[0])
            return
        height = 1 + max((item.height for item in items), default=0)
        self.push("".join(item.text for item in items), height, tuple(r for it in items for r in it.repeats))

    def alternate(self) -> None:
        """The alternatives above the topmost ``(`` become one."""
        i = len(self.stack)
        while i > 0 and self.stack[i - 1].kind != "(":
            i -= 1
        items = [item for item in self.stack[i:] if item.kind == "re"]
        del self.stack[i:]
        if len(items) == 1:
            self.stack.append(items[0])
            return
        height = 1 + max((item.height for item in items), default=0)
        text = "|".join(item.text for item in items)
        self.push(f"(?:{text})" if items else "(?!)", height, tuple(r for it in items for r in it.repeats))

    def vertical_bar(self) -> None:
        self.concat()
        self.stack.append(_Item("|"))

    def right_paren(self) -> None:
        self.concat()
        self.alternate()
        if len(self.stack) < 2 or self.stack[-2].kind != "(":
            raise GoRegexpError(_UNEXPECTED_PAREN, self.whole)
        inner = self.stack.pop()
        opened = self.stack.pop()
        self.flags = opened.flags
        self.push(f"(?:{inner.text})", inner.height + (1 if opened.text == "capture" else 0), inner.repeats)

    def repeat(self, op: str, low: int, high: int, before: str, after: str, last: str) -> str:
        """Apply ``op`` to the top item; the text after the operator (a ``?`` taken off)."""
        flags = self.flags
        if after.startswith("?"):
            after = after[1:]
            flags ^= _NONGREEDY
        if last:
            raise GoRegexpError(_BAD_REPEAT_OP, last[: len(last) - len(after)])
        if not self.stack or self.stack[-1].kind != "re":
            raise GoRegexpError(_MISSING_ARGUMENT, before[: len(before) - len(after)])
        sub = self.stack.pop()
        quantifier = op + ("?" if flags & _NONGREEDY else "")
        repeats = ((high, low, sub.repeats),) if op.startswith("{") else sub.repeats
        self.push(f"(?:{sub.text}){quantifier}", sub.height + 1, repeats)
        if op.startswith("{") and (low >= 2 or high >= 2) and not _repeats_valid(repeats, _MAX_REPEAT):
            raise GoRegexpError(_BAD_REPEAT_SIZE, before[: len(before) - len(after)])
        return after

    # -- the pieces

    def next_rune(self, text: str) -> tuple[int, str]:
        """The first character of ``text`` and the rest; a byte that was no UTF-8 is Go's error."""
        if not text:
            return 0xFFFD, ""
        char = text[0]
        if "\udc80" <= char <= "\udcff":  # (an undecodable byte of the command line, surrogateescape)
            raise GoRegexpError(_BAD_UTF8, text)
        return ord(char), text[1:]

    def perl_flags(self, text: str) -> str:
        """``(?flags)``, ``(?flags:`` or a named capture; the text after it."""
        named = text[2:3] == "<" and len(text) > 3 or text[2:4] == "P<" and len(text) > 4
        if named:
            end = text.find(">")
            if end < 0:
                raise GoRegexpError(_BAD_NAMED, text)
            name = text[4 if text[2] == "P" else 3 : end]
            if not name or not all(c == "_" or (c.isascii() and c.isalnum()) for c in name):
                raise GoRegexpError(_BAD_NAMED, text[: end + 1])
            self.stack.append(_Item("(", "capture", flags=self.flags))
            return text[end + 1 :]
        rest, flags, sign, saw = text[2:], self.flags, 1, False
        while rest:
            code, rest = self.next_rune(rest)
            char = chr(code)
            if char in "imsU":
                bit = {"i": _FOLD, "m": _ONELINE, "s": _DOTNL, "U": _NONGREEDY}[char]
                # ("m" clears OneLine; a "-" inverts every flag named after it)
                on = (sign > 0) != (char == "m")
                flags = flags | bit if on else flags & ~bit
                saw = True
            elif char == "-" and sign > 0:
                sign, saw = -1, False
            elif char in ":)" and (sign > 0 or saw):
                if char == ":":
                    self.stack.append(_Item("(", "group", flags=self.flags))
                self.flags = flags
                return rest
            else:
                break
        raise GoRegexpError(_BAD_PERL, text[: len(text) - len(rest)])

    def escape(self, text: str) -> tuple[int, str]:
        """An escaped character (``\\n``, ``\\x41``, ``\\101``, ``\\.``); Go's error for any other."""
        rest = text[1:]
        if not rest:
            raise GoRegexpError(_TRAILING_BACKSLASH, "")
        code, rest = self.next_rune(rest)
        char = chr(code)
        if code < 0x80 and not char.isalnum():
            return code, rest
        if char in "01234567" and (char == "0" or rest[:1] in tuple("01234567")):
            value = code - 0x30
            for _ in range(2):
                if rest[:1] not in tuple("01234567") or not rest:
                    break
                value, rest = value * 8 + ord(rest[0]) - 0x30, rest[1:]
            return value, rest
        if char == "x" and rest:
            code, rest = self.next_rune(rest)
            if code == ord("{"):
                value, digits = 0, 0
                while rest:
                    code, rest = self.next_rune(rest)
                    if code == ord("}"):
                        if digits:
                            return value, rest
                        break
                    if chr(code) not in "0123456789abcdefABCDEF":
                        break
                    value, digits = value * 16 + int(chr(code), 16), digits + 1
                    if value > _MAX_RUNE:
                        break
            else:
                first = chr(code)
                code, rest = self.next_rune(rest)
                pair = first + (chr(code) if rest or code != 0xFFFD else "")
                if len(pair) == 2 and all(c in "0123456789abcdefABCDEF" for c in pair):
                    return int(pair, 16), rest
        elif char in "afnrtv":
            return {"a": 7, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11}[char], rest
        raise GoRegexpError(_BAD_ESCAPE, text[: len(text) - len(rest)])

    def unicode_class(self, text: str) -> tuple[Ranges, str] | None:
        """``\\pN``, ``\\p{Name}``, ``\\P{^Name}``: its code points and the rest; None when ``text`` holds none."""
        if not text.startswith(("\\p", "\\P")):
            return None
        sign = -1 if text[1] == "P" else 1
        code, rest = self.next_rune(text[2:])
        if code != ord("{"):
            seq = text[: len(text) - len(rest)]
            name = seq[2:]
        else:
            end = text.find("}")
            if end < 0:
                raise GoRegexpError(_BAD_RANGE, text)
            seq, rest, name = text[: end + 1], text[end + 1 :], text[3:end]
            for char in name:
                if "\udc80" <= char <= "\udcff":
                    raise GoRegexpError(_BAD_UTF8, name)
        if name.startswith("^"):
            sign, name = -sign, name[1:]
        key = _canonical(name)
        if key == "ANY":
            ranges: Ranges = [(0, _MAX_RUNE)]
        elif key == "ASCII":
            ranges = [(0, 0x7F)]
        elif key == "ASSIGNED":
            ranges = _negate(_category_ranges(("Cn",)))
        elif key in _CATEGORY_NAMES:
            ranges = _category_ranges(_CATEGORY_NAMES[key])
        elif key in _SCRIPT_NAMES:
            ranges = list(_property_ranges((f"sc={key}",)))
        else:
            raise GoRegexpError(_BAD_RANGE, seq)
        return (_negate(ranges) if sign < 0 else ranges), rest

    def perl_class(self, text: str) -> tuple[Ranges, str] | None:
        """``\\d``, ``\\S``, ...: its code points and the rest; None when ``text`` holds none."""
        if len(text) < 2 or text[0] != "\\" or text[1].lower() not in _PERL_CLASSES:
            return None
        ranges = _PERL_CLASSES[text[1].lower()]
        return (_negate(ranges) if text[1].isupper() else list(ranges)), text[2:]

    def char_class(self, text: str) -> str:
        """``[...]``: pushes it; the text after it."""
        rest = text[1:]
        negated = rest.startswith("^")
        if negated:
            rest = rest[1:]
        ranges: Ranges = []
        first = True
        while not rest or rest[0] != "]" or first:
            first = False
            if len(rest) > 2 and rest.startswith("[:") and (end := rest.find(":]", 2)) >= 0:
                name = rest[: end + 2]
                group = name[2:-2]
                posix = _POSIX_CLASSES.get(group.removeprefix("^"))
                if posix is None:
                    raise GoRegexpError(_BAD_RANGE, name)
                ranges += _negate(posix) if group.startswith("^") else posix
                rest = rest[end + 2 :]
                continue
            found = self.unicode_class(rest) or self.perl_class(rest)
            if found is not None:
                ranges += found[0]
                rest = found[1]
                continue
            start_text = rest
            low, rest = self.class_char(rest, text)
            high = low
            if len(rest) >= 2 and rest[0] == "-" and rest[1] != "]":
                high, rest = self.class_char(rest[1:], text)
                if high < low:
                    raise GoRegexpError(_BAD_RANGE, start_text[: len(start_text) - len(rest)])
            ranges.append((low, high))
        if negated:
            ranges = _negate(ranges)
        self.push(_class_text(ranges, self.flags))
        return rest[1:]

    def class_char(self, text: str, whole: str) -> tuple[int, str]:
        if not text:
            raise GoRegexpError(_MISSING_BRACKET, whole)
        if text[0] == "\\":
            return self.escape(text)
        return self.next_rune(text)

    # -- the whole expression

    def parse(self) -> str:
        """The Python pattern of the whole expression (Go's checks, in Go's order, on the way)."""
        text, last = self.whole, ""
        while text:
            repeat = ""
            char = text[0]
            if char == "(":
                if text.startswith("(?"):
                    text = self.perl_flags(text)
                else:
                    self.stack.append(_Item("(", "capture", flags=self.flags))
                    text = text[1:]
            elif char == "|":
                self.vertical_bar()
                text = text[1:]
            elif char == ")":
                self.right_paren()
                text = text[1:]
            elif char in "^$.":
                self.push(self.anchor_or_dot(char))
                text = text[1:]
            elif char == "[":
                text = self.char_class(text)
            elif char in "*+?":
                repeat, text = text, self.repeat(char, 0, 0, text, text[1:], last)
            elif char == "{" and (count := _repeat_count(text)) is not None:
                low, high, after = count
                if low < 0 or low > _MAX_REPEAT or high > _MAX_REPEAT or 0 <= high < low:
                    raise GoRegexpError(_BAD_REPEAT_SIZE, text[: len(text) - len(after)])
                op = f"{{{low}}}" if high == low else f"{{{low},}}" if high < 0 else f"{{{low},{high}}}"
                repeat, text = text, self.repeat(op, low, high, text, after, last)
            elif char == "\\":
                text = self.backslash(text)
            else:  # (a "{" that is no repeat count is a literal)
                code, text = self.next_rune(text)
                self.push(_literal_text(code, self.flags))
            last = repeat
        self.concat()
        self.alternate()
        if len(self.stack) != 1:
            raise GoRegexpError(_MISSING_PAREN, self.whole)
        return self.stack[0].text

    def anchor_or_dot(self, char: str) -> str:
        """``^`` and ``$``: the text's start and end (``(?m)``: a line's); ``.``: any but newline (``(?s)``: any)."""
        if char == ".":
            return "(?s:.)" if self.flags & _DOTNL else "[^\\n]"
        if char == "^":
            return "\\A" if self.flags & _ONELINE else "(?m:^)"
        return "\\Z" if self.flags & _ONELINE else "(?m:$)"

    def backslash(self, text: str) -> str:
        """``\\A``, ``\\b``, ``\\B``, ``\\z``, ``\\Q...\\E``, a class (``\\pL``, ``\\d``) or an escaped
        character: pushes it; the text after it."""
        perl = {"A": "\\A", "b": "(?a:\\b)", "B": "(?a:\\B)", "z": "\\Z"}
        second = text[1:2]
        if second in perl:
            self.push(perl[second])
            return text[2:]
        if second == "C":
            raise GoRegexpError(_BAD_ESCAPE, text[:2])
        if second == "Q":
            literal, _, rest = text[2:].partition("\\E")
            while literal:
                code, literal = self.next_rune(literal)
                self.push(_literal_text(code, self.flags))
            return rest
        found = self.unicode_class(text) or self.perl_class(text)
        if found is not None:
            self.push(_class_text(found[0], self.flags))
            return found[1]
        code, rest = self.escape(text)
        self.push(_literal_text(code, self.flags))
        return rest


def _repeat_count(text: str) -> tuple[int, int, str] | None:
    """``{n}``, ``{n,}`` (max -1) or ``{n,m}`` at the start of ``text``: (min, max, rest); min -1 when a
    number is too large; None when ``text`` holds no repeat count (then ``{`` is a literal, as in Go)."""
    found = re.match(r"\{(0|[1-9][0-9]*)(?:(,)(0|[1-9][0-9]*)?)?\}", text)
    if found is None:
        return None
    low = int(found[1]) if len(found[1]) <= 8 else -1
    if not found[2]:
        high = low
    elif found[3] is None:
        high = -1
    else:
        high = int(found[3]) if len(found[3]) <= 8 else -1
        if high < 0:
            low = -1
    return low, high, text[found.end() :]


def compile_go(text: str) -> re.Pattern[str]:
    """``text`` compiled as Go's ``regexp.Compile`` reads it; GoRegexpError (Go's words) when Go refuses
    it, UnsupportedGoRegexp for what Go accepts and okdrelease cannot match."""
    try:
        return re.compile(_Parser(text).parse())
    except RecursionError:  # (valid in Go, which nests up to 1000 deep; Python's re stops sooner)
        raise UnsupportedGoRegexp("the expression nests too deeply for okdrelease") from None
