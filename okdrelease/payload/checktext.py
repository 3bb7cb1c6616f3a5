"""The manifest check's first pass: a pass decided from the raw text and libyaml's parse, with no Python
event built (spec §3.9, Appendix C).

Composing or walking libyaml's events costs a Python object per event: about two thirds of the check's
time goes to building them. Most operator manifests are plain Kubernetes objects in block style, and for
those the verdict the event walk (:func:`okdrelease.payload.checkyaml._events_pass`) would reach follows
from the text: libyaml parses the first document (``CParser.raw_parse``, no events built), its root is a
block mapping at column 0 whose ``kind`` and ``apiVersion`` are simple strings on their own lines, and
nothing the walk refuses or leaves undecided can be in it (an anchor, alias or tag; an explicit, empty,
null or uint64 key; a collection as a key; a merge key; a non-finite number; a ``?`` in a flow
collection). :func:`passes` says True only then; False leaves the file to the walk, so a file is never
refused here and no error is worded here.

Every screen is a search of the raw text for where such a thing could stand: a token's start (after a
line break, ``: ``, ``- ``, ``? ``, ``[``, ``{`` or ``,`` and spaces), a line's first key, or a flow
collection that opens and closes on one line. When they find something, they search again with the
text inside quoted and block scalars left out (CEL rules, templates, JSON dashboards, scripts), where
libyaml's scanner reads such scalars: line by line from the first key, as far as that reading follows
the lines. Text in comments and plain scalars is searched, so prose sends a file to the walk more often
than needed, never the other way round. ``tests/payload/test_check_text.py`` holds it to the walk's
verdicts, and the text it leaves out to libyaml's scanner's scalars. That reading also shows a late
root key's line to be one (a root key far into the text is read to rather than parsed up to).
"""

from __future__ import annotations

import bisect
import functools
import re
from dataclasses import dataclass

from yaml.reader import Reader

from okdrelease.gocompat import goyaml
from okdrelease.gocompat.jsonbounds import libyaml_parses
from okdrelease.gocompat.yamldecode import go_implicit_tag

__all__ = ["passes"]

#: go-yaml's tags of plain scalars it keeps as text (a ``kind`` of ``2024-01-01`` is a string to oc).
_STRING_TAGS = (goyaml.STR, goyaml.TIMESTAMP, goyaml.MERGE)
#: Blank lines, comments and one ``---`` before the first document's first line.
_LEAD = re.compile(rb"(?:(?: *#[^\n]*)?\n| +\n)*(?:---(?: +#[^\n]*| *)\n(?:(?: *#[^\n]*)?\n| +\n)*)?")
#: The first line is a plain key at column 0: the root is a block mapping there.
_FIRST_KEY = re.compile(rb"[A-Za-z_][\w./-]* ?:[ \n]")
#: A line at column 0 that is no sequence entry or comment, or a document start marker.
_COLUMN0 = re.compile(rb"\n(?:[^ \n#-]|---(?=[ \n]|\Z))")
#: go-yaml's null words as a regular expression's alternatives.
_NULL = "|".join(map(re.escape, goyaml.NULL_WORDS)).encode()
#: After spaces are removed: a line whose first key is empty, null or a long number (a uint64 to go-yaml).
_LINE_KEY = re.compile(rb"\n-*(?::|(?:" + _NULL + rb"):|[0-9][0-9A-Za-z_+-]{17,}:)")
#: In a one-line flow collection, spaces removed: an empty, null, long-number or collection key.
_FLOW_KEY = re.compile(rb"[\[{,](?::|[\[{]|(?:" + _NULL + rb")[,:}\]]|[0-9][0-9A-Za-z_+-]{17})|[\]}]:")
#: go-yaml's NaN and infinities without their sign, where a plain scalar could be only that (JSON
#: refuses them).
_NON_FINITE = re.compile(
    rb"\.(?:"  # each word starts with '.': the search looks for that byte first
    + "|".join(word.removeprefix(".") for word in goyaml.NAN_WORDS + goyaml.INF_WORDS).encode()
    + rb")(?=[ \n:,\]}#]|\Z)"
)
#: ``kind``/``apiVersion`` after its key: a simple plain or quoted value alone on its line.
_VALUE = re.compile(
    rb" *: +(?:([A-Za-z0-9][A-Za-z0-9._/-]*)|\"([A-Za-z0-9._/-]+)\"|'([A-Za-z0-9._/-]+)')(?: +#[^\n]*| *)(?:\n|\Z)"
)
_KEY_END = re.compile(rb" *:")
#: An anchor's or alias's name and what may follow it (libyaml's scanner refuses anything else).
_NAME = re.compile(rb"[0-9A-Za-z_-]+(?:[ \n?:,\]}%@`]|\Z)")
_ROOT_KEYS = (b"kind", b"apiVersion")
#: The ASCII characters YAML allows (a translation deleting them leaves the others).
_PRINTABLE_ASCII = bytes(range(0x20, 0x7F)) + b"\t\n\r"
_BOM = b"\xef\xbb\xbf"
#: Text that sends the file to the walk at once: other blanks and line breaks (tabs are the pure
#: loader's anyway), each found after a one-byte search for its first byte.
_REFUSED = (b"\t", b"\r", b"\xc2\x85", b"\xe2\x80\xa8", b"\xe2\x80\xa9")
#: The merge key, searched for with the other screens (scalars' text may be hidden from it).
_MERGE = b"<<"
_SPACE = 32
#: How far in a root key's line is read by :func:`_read_scalars` rather than by parsing the text before it
#: (the reading costs a third of a parse over block scalars, about as much over prose).
_READ_FROM = 4096


def _token_start(text: bytes, at: int) -> bool:
    """Whether a token of libyaml's could start at ``at``: the text's start or, after spaces, a line
    break, ``:``, ``[``, ``{``, ``,``, or a ``-``/``?`` with a space after it."""
    back = at - 1
    while back >= 0 and text[back] == _SPACE:
        back -= 1
    if back < 0 or text[back] in b"\n:[{,":
        return True
    return text[back] in b"-?" and back < at - 1


def _any_token(text: bytes, char: bytes, after: re.Pattern[bytes] | None = None) -> bool:
    """Whether ``char`` stands at a token's start anywhere (followed by what ``after`` matches)."""
    at = text.find(char)
    while at != -1:
        if _token_start(text, at) and (after is None or after.match(text, at + 1)):
            return True
        at = text.find(char, at + 1)
    return False


_BLANK_OR_END = re.compile(rb"[ \n]|\Z")


def _skip_quoted(text: bytes, at: int, eol: int) -> int:
    """Where the quoted scalar opening at ``at`` ends (after its closing quote), read as libyaml reads
    one on a single line; -1 when it does not close on the line."""
    if text[at] == 0x22:  # double-quoted: backslash escapes
        i = at + 1
        while i < eol and text[i] != 0x22:
            i += 2 if text[i] == 0x5C else 1
        return i + 1 if i < eol else -1
    i = text.find(b"'", at + 1, eol)  # single-quoted: '' for a quote
    while i != -1 and text[i + 1 : i + 2] == b"'":
        i = text.find(b"'", i + 2, eol)
    return -1 if i == -1 else i + 1


def _flow_end(text: bytes, at: int, eol: int) -> int:
    """The end of the flow collection opening at ``at`` when it closes on its line, read token by token
    as libyaml's scanner reads a flow context; -1 when it does not close there, or holds a comment, a
    ``?`` or anything this reading does not follow.

    A quote opens a quoted scalar only at a token's start (after ``[``, ``{``, ``,`` or a value's ``:``
    and spaces); inside a plain scalar it is text, and a plain scalar goes on over spaces until ``: ``,
    a ``:`` before a flow indicator, or ``,[]{}``.
    """
    depth = 0
    i = at
    token_start = True  # after an indicator (and spaces): a node may start here
    plain = False  # inside a plain scalar
    while i < eol:
        char = text[i]
        if char == _SPACE:
            i += 1
            continue
        if char in b"#?":
            return -1
        if plain:
            if char == 0x3A:  # ':'
                follows = text[i + 1 : i + 2]
                if follows in (b"", b" ", b"\n") or follows in b",[]{}":
                    plain, token_start = False, True  # a value's ':'
                i += 1
                continue
            if char not in b",[]{}":
                i += 1  # text of the scalar, quotes included
                continue
            plain = False
        if char in b"[{":
            depth += 1
            token_start = True
        elif char in b"]}":
            depth -= 1
            if depth == 0:
                return i + 1
            token_start = False
        elif char in b",:":
            token_start = True
        elif not token_start:
            return -1  # a node right after another (libyaml refuses it)
        elif char in b"\"'":
            i = _skip_quoted(text, i, eol)
            if i == -1:
                return -1
            token_start = False
            continue
        else:
            plain, token_start = True, False
        i += 1
    return -1


def _flow_clear(text: bytes) -> bool:
    """Whether every flow collection closes on its line and holds no key the walk refuses or leaves
    undecided, no ``?`` and is no key itself."""
    checked: list[tuple[int, int]] = []
    for char in (b"[", b"{"):
        at = text.find(char)
        while at != -1:
            if not any(begin <= at < end for begin, end in checked) and _token_start(text, at):
                eol = text.find(b"\n", at)
                end = _flow_end(text, at, len(text) if eol == -1 else eol)
                if end == -1:
                    return False
                if _FLOW_KEY.search(text[at:end].translate(None, b" ")):  # (a '?' ended it at -1)
                    return False
                if _KEY_END.match(text, end):
                    return False
                checked.append((at, end))
            at = text.find(char, at + 1)
    return True


def _simple_value(doc: bytes, at: int) -> bool:
    """Whether the value after a root key ending at ``at`` is a non-empty string to go-yaml: a simple plain
    or quoted scalar, nothing after it on its line but a comment."""
    value = _VALUE.match(doc, at)
    if value is None:
        return False
    plain = value.group(1)
    # A plain scalar going on over more lines is a string whatever its first line is.
    return plain is None or go_implicit_tag(plain.decode("ascii")) in _STRING_TAGS


def _readable(text: bytes) -> bool:
    """Whether ``text`` (what follows the first document) is UTF-8 holding only characters YAML allows."""
    if text.isascii():
        return not text.translate(None, _PRINTABLE_ASCII)
    try:
        # YAML's printable characters, as the pure loader's reader (and libyaml's, go-yaml's) take them;
        # they refuse any other wherever it is in what they read ahead, past the first document too.
        return Reader.NON_PRINTABLE.search(text.decode("utf-8")) is None
    except UnicodeDecodeError:
        return False


def _first_document(data: bytes, start: int) -> tuple[int, dict[bytes, int]] | None:
    """The end of the first document and where its root ``kind``/``apiVersion`` lines start; None when
    either is missing or twice there, or a root key is quoted or empty."""
    lines = [start]
    end = len(data)
    for match in _COLUMN0.finditer(data, start):
        at = match.start() + 1
        head = data[at : at + 3]
        if head == b"---" or (head == b"..." and _BLANK_OR_END.match(data, at + 3)):
            end = at
            break
        lines.append(at)
    roots: dict[bytes, int] = {}
    for at in lines:
        if data[at : at + 1] in (b'"', b"'", b":"):
            return None
        for key in _ROOT_KEYS:
            if data.startswith(key, at) and _KEY_END.match(data, at + len(key)):
                if key in roots:
                    return None
                roots[key] = at
    return (end, roots) if len(roots) == len(_ROOT_KEYS) else None


# The scalars' text. When the searches find something, they search again with the text inside the
# quoted and block scalars left out, where libyaml's scanner reads such a scalar: line by line from the
# document's first line (block context), up to the first line this reading does not follow (the rest is
# searched as it stands). A line's reading holds when libyaml's scanner reads the document without an
# error, which passes() requires (it parses it); the document holds no document marker (it ends at the
# first).

#: A plain scalar's first character in block context: no indicator, or a '-' before a non-blank.
_PLAIN_FIRST = rb"(?:[^ \n\-?:,\[\]{}#&*!|>'\"%@`]|-(?=[^ \n]))"
#: A plain key (no blank, no '#', a ':' only before a non-blank: the scanner reads it to its ': ').
_PLAIN_KEY = _PLAIN_FIRST + rb"[^ \n:#]*+(?::[^ \n:#]++)*+"
#: The rest of a plain scalar's line up to a comment or its end: no ': ' or ':' at the end, a '#' only
#: after a non-blank.
_PLAIN_REST = rb"(?:[^:#\n]++|:(?=[^ \n])|(?<=[^ ])#)*+"
_KEY = _PLAIN_KEY + rb" *+:(?: ++|(?=\n))"
_LINE_END = rb"(?:#[^\n]*+)?\n"


def _plain_line(indent: bytes) -> bytes:
    """A plain scalar to its line's end that no line indented past the group ``indent`` goes on with."""
    return _PLAIN_FIRST + _PLAIN_REST + _LINE_END + rb"(?!(?: *+\n)*+(?P=" + indent + rb") ++[^ #\n])"


#: From a line in block context: the lines that leave it there with no scalar text to hide (blank and
#: comment lines, keys and ``-`` entries whose values start on a later line, plain scalars after a key
#: or ``-`` that no more-indented line goes on with: the scanner's bound is the key's or last ``-``'s
#: column, at least the line's indentation), then the next line's ``-`` entries and key (a plain or
#: simple quoted scalar) and its value: a quoted scalar to its end and the rest of its line, a block
#: scalar's header, a plain scalar to its line's end, a flow collection's start, or nothing.
_STEP = re.compile(
    b"".join(
        (
            rb"(?:(?P<key_indent> *+)"
            + _KEY
            + rb"(?:"
            + _plain_line(b"key_indent")
            + rb"|"
            + _LINE_END
            + rb")",
            rb"|(?P<entry_indent> *+)(?:-(?: ++|(?=\n)))++(?:" + _KEY + rb")?+",
            rb"(?:" + _plain_line(b"entry_indent") + rb"|" + _LINE_END + rb")",
            rb"| *+" + _LINE_END + rb")*+",
            rb"(?P<line>) *+(?P<dashes>(?:-(?: ++|(?=\n|\Z)))*+)",
            rb"(?:(?P<key>" + _PLAIN_KEY + rb"|\"[^\"\\\n]*+\"|'[^'\n]*+') *+:(?: ++|(?=\n|\Z)))?",
            rb"(?:(?P<quoted>\"[^\"\\]*+(?:\\.[^\"\\]*+)*+\"|'[^']*+(?:''[^']*+)*+')(?: ++#[^\n]*+| *+)(?:\n|\Z)",
            rb"|(?P<block>[|>][+-]?(?: ++#[^\n]*+| *+)(?:\n|\Z))",
            rb"|(?P<plain>" + _PLAIN_FIRST + _PLAIN_REST + rb")(?P<comment>#[^\n]*+)?(?:\n|\Z)",
            rb"|(?P<flow>[\[{])",
            rb"|(?P<empty>(?:#[^\n]*+)?(?:\n|\Z)))?",
        )
    ),
    re.DOTALL,
)
#: A more-indented line going on with a plain scalar, from its first character (group 1: the comment
#: ending the scalar).
_PLAIN_MORE = re.compile(_PLAIN_REST + rb"(#[^\n]*+)?(?=\n|\Z)")
#: Blanks and an optional comment to the end of the line.
_TAIL = re.compile(rb"(?: +#[^\n]*| *)(?=\n|\Z)")
_SPACES = re.compile(rb" *")
_BLANK_LINES = re.compile(rb"(?: *\n)*")


def _skip(pattern: re.Pattern[bytes], text: bytes, at: int) -> int:
    """Where ``pattern`` (which matches anywhere: every part of it is optional) ends from ``at``."""
    match = pattern.match(text, at)
    return at if match is None else match.end()


@functools.lru_cache(maxsize=64)
def _plain_lines(bound: int) -> re.Pattern[bytes]:
    """Lines going on with a plain scalar whose bound is ``bound``: empty, or indented past it with
    plain text to their end (no comment, no ': ')."""
    return re.compile(rb"(?: *+\n| {%d} *+(?=[^#\n])" % (bound + 1) + _PLAIN_REST + rb"\n)*+")


@functools.lru_cache(maxsize=64)
def _block_lines(indent: int) -> re.Pattern[bytes]:
    """The lines of a block scalar of ``indent``: at least that many spaces, or only spaces."""
    return re.compile(rb"(?:(?: {%d}[^\n]*+| *+)\n)*+" % indent)


def _block_end(text: bytes, begin: int, bound: int) -> int:
    """The end of the block scalar whose lines start at ``begin`` (the start of the line that ends it,
    or the text's end), read as libyaml reads one: its indentation is the most spaces of its leading
    empty lines and its first line, at least ``bound`` (the key's or ``-``'s column) + 1."""
    leading = _skip(_BLANK_LINES, text, begin)
    first = _skip(_SPACES, text, leading)
    if first == len(text):
        return leading  # only spaces on the last line: not the scalar's
    indent = max(first - leading, bound + 1, *map(len, text[begin:leading].split(b"\n")))
    if first - leading < indent:
        return leading
    end = _skip(_block_lines(indent), text, leading)
    if text.find(b"\n", end) == -1 and len(text) - end > indent and text.startswith(b" " * indent, end):
        return len(text)  # its last line, with no line break
    return end


def _plain_end(doc: bytes, at: int, bound: int) -> int:
    """Where the line after the multi-line plain scalar going on at ``at`` (a line's start) starts, its
    bound ``bound``; -1 when a line in it holds a ': '."""
    at = _skip(_plain_lines(bound), doc, at)
    text = _skip(_SPACES, doc, at)
    if text == len(doc) or text - at <= bound:
        return at  # the text's end, or a line at the bound or before it: the scalar ended
    if doc[text] != 0x23:  # a line going on with the scalar up to a comment or the text's end
        if _PLAIN_MORE.match(doc, text) is None:
            return -1
    eol = doc.find(b"\n", text)
    return len(doc) if eol == -1 else eol + 1


@dataclass(frozen=True)
class _Scalars:
    """Where a document's quoted and block scalars hold text, as libyaml's scanner reads them from the
    document's first line (:func:`_read_scalars`), and how far that reading went."""

    #: The start and end of each scalar's text, in order: a quoted scalar's inside, a block scalar's lines.
    spans: tuple[tuple[int, int], ...]
    #: Where the reading stopped: the start of the first line it does not follow, or the text's end.
    reach: int

    def cut(self, doc: bytes) -> bytes:
        """``doc`` with each scalar's text cut down to one ``x`` (and the line break ending a block
        scalar's last line).

        Every token libyaml reads outside them keeps the text around it that the searches look at: the
        indicator or line break before it, what follows it on its line.
        """
        pieces: list[bytes] = []
        at = 0
        for begin, end in self.spans:
            pieces.append(doc[at:begin])
            pieces.append(b"x\n" if doc[end - 1 : end] == b"\n" else b"x")
            at = end
        pieces.append(doc[at:])
        return b"".join(pieces)

    def holds_line(self, at: int) -> bool:
        """Whether the line starting at ``at`` with a character at column 0 (a root key's) was read in
        block context, outside the scalars' text, before the reading stopped (a plain scalar below a root
        mapping at column 0 goes on only on indented lines): its first token starts there, or it is the
        closing quote of a quoted scalar (``x: "a\n"``), a line the caller never takes for a root key
        (:func:`_first_document` refuses a quote at column 0)."""
        before = bisect.bisect_right(self.spans, (at + 1, 0)) - 1  # the last span starting at or before
        return at < self.reach and (before < 0 or self.spans[before][1] <= at)


def _read_scalars(doc: bytes, start: int) -> _Scalars:
    """The text of the quoted and block scalars of ``doc``, read from ``start`` (a line in block
    context, the document's first) as libyaml's scanner reads them, up to the first line this reading
    does not follow (all of them when libyaml parses ``doc``)."""
    spans: list[tuple[int, int]] = []
    size = len(doc)
    at = start
    while at < size:
        step = _STEP.match(doc, at)
        assert step is not None  # every part of it is optional
        at = step.end()
        line = step.start("line")
        if line == size:
            break
        if step.start("key") >= 0:
            bound = step.start("key") - line
        elif step.end("dashes") > step.start("dashes"):
            bound = doc.rindex(b"-", line, step.end("dashes")) - line
        else:
            bound = -1  # a value alone on its line: the scanner's bound is not read here
        if step.start("quoted") >= 0:
            begin, end = step.span("quoted")
            if end - begin > 2:
                spans.append((begin + 1, end - 1))
        elif step.start("block") >= 0:
            if bound < 0:
                return _Scalars(tuple(spans), line)
            begin = at
            at = _block_end(doc, begin, bound)
            if at > begin:
                spans.append((begin, at))
        elif step.start("plain") >= 0:
            if step.start("comment") < 0 and at < size:
                if bound < 0:
                    return _Scalars(tuple(spans), line)
                at = _plain_end(doc, at, bound)
                if at < 0:
                    return _Scalars(tuple(spans), line)
        elif step.start("empty") >= 0:
            pass
        elif step.start("flow") >= 0:
            eol = doc.find(b"\n", at)
            eol = size if eol == -1 else eol
            end = _flow_end(doc, step.start("flow"), eol)
            if end == -1 or _TAIL.match(doc, end) is None:
                return _Scalars(tuple(spans), line)
            at = eol + 1
        else:
            return _Scalars(tuple(spans), line)
    return _Scalars(tuple(spans), size)


def _screened(text: bytes) -> bool:
    """Whether the searches find nothing the walk refuses or leaves undecided in ``text``."""
    if b"<" in text and _MERGE in text:
        return False
    if b"!" in text and _any_token(text, b"!"):
        return False
    for char in (b"&", b"*"):
        if char in text and _any_token(text, char, _NAME):
            return False
    if b"?" in text and _any_token(text, b"?", _BLANK_OR_END):
        return False
    if (b"[" in text or b"{" in text) and not _flow_clear(text):
        return False
    if _LINE_KEY.search(b"\n" + text.translate(None, b" ")):
        return False
    for number in _NON_FINITE.finditer(text):
        at = number.start()
        if _token_start(text, at - 1 if at and text[at - 1] in b"+-" else at):
            return False
    return True


def passes(data: bytes, parsed: bool = False) -> bool:
    """True when the manifest check certainly passes ``data`` (the event walk would); False: undecided.

    Called on text the libyaml path may read (no tab, directive or late byte-order mark) after the depth
    bounds' check (without libyaml the manifest check never calls it). ``parsed``: libyaml has parsed all
    of ``data`` without an error (every document, so the first one too), which is not done again.
    """
    if data.startswith(_BOM):
        data = data[len(_BOM) :]  # both readers skip a byte-order mark that opens the text
    lead = _LEAD.match(data)
    start = lead.end() if lead else 0
    if not _FIRST_KEY.match(data, start):
        return False
    found = _first_document(data, start)
    if found is None:
        return False
    end, roots = found
    if end < len(data) and not _readable(data[end:]):
        return False
    doc = data[:end]
    if any(text[:1] in doc and text in doc for text in _REFUSED):
        return False
    scalars = None
    if not _screened(doc):
        scalars = _read_scalars(doc, start)
        if not scalars.spans or not _screened(scalars.cut(doc)):
            return False
    if not all(_simple_value(doc, at + len(key)) for key, at in roots.items()):
        return False
    # The root keys' lines are root keys when the reading of the scalars holds them, or the text before
    # each parses: one inside a quoted scalar or a flow collection would leave it open.
    later = [at for at in roots.values() if at > start]
    if scalars is None and later and max(later) > _READ_FROM:
        scalars = _read_scalars(doc, start)
    if scalars is not None:
        later = [at for at in later if not scalars.holds_line(at)]
    return (parsed or libyaml_parses(doc)) and all(map(libyaml_parses, (doc[:at] for at in later)))
