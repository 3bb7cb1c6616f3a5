"""Bounds on YAML input shared by every PyYAML loader: alias expansion ("billion laughs") and nesting depth.

PyYAML shares one node (and one Python object) between an anchor and its aliases, so a tiny document
can stand for 10⁹ nodes that blow up in whatever walks the result (key conversion, JSON encoding).
:class:`BoundedLoaderMixin` checks each composed document before it is constructed:

* alias expansion follows go-yaml v2's rule (``decode.go`` ``allowedAliasRatio``): more than 100
  alias-driven nodes in a document of more than 1000 nodes, where the alias share exceeds 99 %
  (shrinking to 10 % between 400,000 and 4,000,000 nodes), is ``document contains excessive aliasing``;
* nesting deeper than :data:`MAX_DEPTH` is refused (go-yaml v3 has the same rule at 10,000; ours is
  lower because PyYAML's composer and the walks after it recurse).

A cheap scan of the raw text runs before composing, because libyaml's composer crashes the process
(a C stack overflow) on about 100,000 nested flow brackets and its parser takes quadratic time on them
(the scans, and the JSON depth bound, live in ``okdrelease.gocompat.jsonbounds``, which needs no PyYAML).
Every refusal is a :class:`YAMLLimitError`, a ``yaml.YAMLError``, so existing handlers name the file.

:func:`safe_load` and :func:`safe_load_all` are ``yaml.safe_load``/``yaml.safe_load_all`` with these
bounds, and :func:`json_loads` is ``json.loads`` with the depth bound (a ``ValueError`` when refused):
every reader of input that is not parsed the Go way uses them.
"""

from __future__ import annotations

import io
import re
from typing import Any, ClassVar

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from okdrelease.gocompat.jsonbounds import (
    MAX_DEPTH,
    json_loads,
    json_too_deep,
    libyaml_may_differ,
    max_depth_message,
    text_too_deep,
)

__all__ = [
    "EXCESSIVE_ALIASING",
    "MAX_DEPTH",
    "BoundedLoaderMixin",
    "GoBlanksMixin",
    "GoEscapesMixin",
    "GoFlowPlainMixin",
    "GoHeadKeyError",
    "GoSimpleKeysMixin",
    "BoundedSafeLoader",
    "YAMLLimitError",
    "allowed_alias_ratio",
    "check_node",
    "check_text",
    "flow_plain_differs",
    "has_differing_flow_plain",
    "has_directive",
    "may_have_differing_tag",
    "json_loads",
    "json_too_deep",
    "libyaml_may_differ",
    "max_depth_message",
    "safe_load",
    "safe_load_all",
]

EXCESSIVE_ALIASING = "document contains excessive aliasing"
_RATIO_LOW = 400_000
_RATIO_HIGH = 4_000_000


class YAMLLimitError(yaml.YAMLError):
    """A YAML document exceeds a bound (alias expansion or nesting depth)."""


def allowed_alias_ratio(decoded: int) -> float:
    """go-yaml v2's ``allowedAliasRatio``: 99 % up to 400,000 decoded nodes, falling to 10 % at 4,000,000."""
    if decoded <= _RATIO_LOW:
        return 0.99
    if decoded >= _RATIO_HIGH:
        return 0.10
    return 0.99 - 0.89 * ((decoded - _RATIO_LOW) / (_RATIO_HIGH - _RATIO_LOW))


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def check_node(root: Node) -> None:
    """Raise YAMLLimitError if ``root`` nests past MAX_DEPTH, contains itself, or expands too much through aliases.

    An iterative walk over the distinct nodes (each visited once), so it costs no more than composing.
    """
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            kids = _children(node)
            size[key] = 1 + sum(size[id(k)] for k in kids)
            depth[key] = 1 + max((depth[id(k)] for k in kids), default=0)
            on_path.discard(key)
            if depth[key] > MAX_DEPTH:
                raise YAMLLimitError(max_depth_message())
            continue
        if key in size:
            continue
        if key in on_path:
            raise YAMLLimitError("anchor value contains itself")
        on_path.add(key)
        stack.append((node, True))
        stack.extend((kid, False) for kid in _children(node) if id(kid) not in size)
    total = size[id(root)]
    aliased = total - len(size)
    if aliased > 100 and total > 1000 and aliased / total > allowed_alias_ratio(total):
        raise YAMLLimitError(EXCESSIVE_ALIASING)


def _text_of(stream: Any) -> str | bytes | None:
    if isinstance(stream, (str, bytes)):
        return stream
    if isinstance(stream, (io.BytesIO, io.StringIO)):
        value: str | bytes = stream.getvalue()
        return value
    return None


def check_text(text: str | bytes) -> None:
    """Refuse raw YAML/JSON text that could nest past what the composers survive (cheap, C-speed)."""
    if text_too_deep(text):
        raise YAMLLimitError(max_depth_message())


class BoundedLoaderMixin:
    """Put first in a PyYAML loader's bases (pure-Python or libyaml) to bound depth and alias expansion."""

    def __init__(self, stream: Any) -> None:
        text = _text_of(stream)
        if text is not None:
            check_text(text)
        super().__init__(stream)  # type: ignore[call-arg]

    def get_node(self) -> Node | None:
        """Compose the next document; Python recursion running out is the depth refusal."""
        try:
            node: Node | None = super().get_node()  # type: ignore[misc]
        except RecursionError as err:
            raise YAMLLimitError(max_depth_message()) from err
        return node

    def get_single_node(self) -> Node | None:
        """Compose the only document; Python recursion running out is the depth refusal."""
        try:
            node: Node | None = super().get_single_node()  # type: ignore[misc]
        except RecursionError as err:
            raise YAMLLimitError(max_depth_message()) from err
        return node

    def construct_document(self, node: Node) -> Any:
        """Check ``node`` against the bounds, then construct it."""
        check_node(node)
        return super().construct_document(node)  # type: ignore[misc]


class GoEscapesMixin:
    """Put in a pure-Python PyYAML loader's bases to refuse, as go-yaml (and libyaml) do, a quoted
    scalar's escape naming a surrogate or a code point past U+10FFFF (PyYAML keeps a lone surrogate,
    which no UTF-8 encoding takes), and to read directives (``%YAML``, ``%TAG``) as go-yaml does."""

    #: go-yaml v2's escapes of a double-quoted scalar (``yaml_parser_scan_flow_scalar``): PyYAML's
    #: (YAML 1.2's) without ``\/``, which go-yaml refuses as an unknown escape character, and with
    #: ``\'``, which it reads as ``'`` (libyaml 0.2.5 takes ``\/`` and refuses ``\'``:
    #: :func:`~okdrelease.gocompat.jsonbounds.libyaml_may_differ`).
    ESCAPE_REPLACEMENTS: ClassVar[dict[str, str]] = {
        **{k: v for k, v in yaml.scanner.Scanner.ESCAPE_REPLACEMENTS.items() if k != "/"},
        "'": "'",
    }

    def scan_flow_scalar_non_spaces(self, double: bool, start_mark: yaml.Mark) -> list[str]:
        """Scan quoted text; like go-yaml, refuse escapes naming a surrogate or a code point past U+10FFFF."""
        start: int = self.pointer  # type: ignore[attr-defined]
        try:
            chunks: list[str] = super().scan_flow_scalar_non_spaces(double, start_mark)  # type: ignore[misc]
        except ValueError:  # chr() of a code point past U+10FFFF
            chunks = ["\ud800"]
        if any("\ud800" <= ch <= "\udfff" for chunk in chunks for ch in chunk):
            raise yaml.scanner.ScannerError(
                "while parsing a quoted scalar",
                start_mark,
                "found invalid Unicode character escape code",
                self._bad_escape_mark(start),
            )
        return chunks

    def scan_uri_escapes(self, name: str, start_mark: yaml.Mark) -> str:
        """A tag's ``%``-escaped octets as go-yaml's ``yaml_parser_scan_uri_escapes`` reads them, one
        character at a time: its leading octet gives the number of octets (``%C0%80`` and a surrogate's
        three are taken: only the octets' bit patterns are checked), in go-yaml's words otherwise. The
        octets are kept as they are (surrogate escapes for those that are no UTF-8)."""
        me: Any = self
        octets = bytearray()
        while me.peek() == "%":
            left = 0  # octets still to come of this character; 0: a leading octet is next
            while True:
                if not (me.peek() == "%" and me.peek(1) in _HEX_DIGITS and me.peek(2) in _HEX_DIGITS):
                    raise self._uri_error(name, start_mark, "did not find URI escaped octet")
                octet = int(me.prefix(3)[1:], 16)
                if not left:
                    left = _utf8_width(octet)
                    if not left:
                        raise self._uri_error(name, start_mark, "found an incorrect leading UTF-8 octet")
                elif octet & 0xC0 != 0x80:
                    raise self._uri_error(name, start_mark, "found an incorrect trailing UTF-8 octet")
                octets.append(octet)
                me.forward(3)
                left -= 1
                if not left:
                    break
        return octets.decode("utf-8", "surrogateescape")

    def _uri_error(self, name: str, start_mark: yaml.Mark, problem: str) -> yaml.scanner.ScannerError:
        me: Any = self
        return yaml.scanner.ScannerError(f"while scanning a {name}", start_mark, problem, me.get_mark())

    def _bad_escape_mark(self, start: int) -> yaml.Mark:
        """Where go-yaml refuses the first escape scanned from ``start`` that names a surrogate or a code
        point past U+10FFFF: at its digits, on its own line (the scan may have gone on past escaped line
        breaks). The whole text is in the reader's buffer (PyYAML decodes bytes or str input at once)."""
        me: Any = self
        text: str = me.buffer
        for escape in _HEX_ESCAPE.finditer(text, start, me.pointer + 9):
            digits = escape.group(1) or escape.group(2)
            if digits and not (int(digits, 16) <= 0x10FFFF and not 0xD800 <= int(digits, 16) <= 0xDFFF):
                at = escape.start(1) if escape.group(1) else escape.start(2)
                line = me.line - len(_LINE_BREAK.findall(text, at, me.pointer))
                column = at - text.rfind("\n", 0, at) - 1
                return yaml.Mark(me.name, me.index - (me.pointer - at), line, column, text, at)
        return me.get_mark()  # type: ignore[no-any-return]

    def scan_yaml_directive_value(self, start_mark: yaml.Mark) -> tuple[int, int]:
        """``%YAML``'s version as go-yaml's ``yaml_parser_scan_version_directive_value`` reads it (blanks,
        spaces or tabs, before it); what may follow is :meth:`scan_directive_ignored_line`'s (so
        ``%YAML 1.1#c`` passes), and errors are worded as go-yaml's."""
        me: Any = self
        while me.peek() in " \t":
            me.forward()
        major = self._version_number(start_mark)
        if me.peek() != ".":
            raise self._directive_error(start_mark, "did not find expected digit or '.' character")
        me.forward()
        return (major, self._version_number(start_mark))

    def _version_number(self, start_mark: yaml.Mark) -> int:
        """go-yaml's ``yaml_parser_scan_version_directive_number``: one to nine digits."""
        me: Any = self
        length = 0
        while "0" <= me.peek(length) <= "9":
            length += 1
        if length > 9:
            raise self._directive_error(start_mark, "found extremely long version number")
        if not length:
            raise self._directive_error(start_mark, "did not find expected version number")
        value = int(me.prefix(length))
        me.forward(length)
        return value

    def _directive_error(self, start_mark: yaml.Mark, problem: str) -> yaml.scanner.ScannerError:
        mark: yaml.Mark = self.get_mark()  # type: ignore[attr-defined]
        return yaml.scanner.ScannerError("while scanning a directive", start_mark, problem, mark)

    def scan_directive_ignored_line(self, start_mark: yaml.Mark) -> None:
        """The rest of a directive's line as go-yaml's ``yaml_parser_scan_directive``: blanks (spaces or
        tabs), a comment, then the line break."""
        me: Any = self
        while me.peek() in " \t":
            me.forward()
        super().scan_directive_ignored_line(start_mark)  # type: ignore[misc]

    def scan_directive_name(self, start_mark: yaml.Mark) -> str:
        """A directive's name as go-yaml's ``yaml_parser_scan_directive_name`` reads it (a blank, a tab
        too, after it), and only ``YAML`` or ``TAG`` (go-yaml refuses others; PyYAML skips them)."""
        me: Any = self
        length = 0
        while me.peek(length) in _NAME_CHARS:
            length += 1
        if not length:
            raise self._directive_error(start_mark, "could not find expected directive name")
        name: str = me.prefix(length)
        me.forward(length)
        if me.peek() not in _BLANKZ:
            raise self._directive_error(start_mark, "found unexpected non-alphabetical character")
        if name not in ("YAML", "TAG"):
            raise self._directive_error(start_mark, "found unknown directive name")
        return name

    def scan_tag_directive_value(self, start_mark: yaml.Mark) -> tuple[str, str]:
        """``%TAG``'s handle and prefix as go-yaml's ``yaml_parser_scan_tag_directive_value`` reads them:
        blanks (spaces or tabs) around the handle, and go-yaml's words for what it refuses."""
        me: Any = self
        while me.peek() in " \t":
            me.forward()
        if me.peek() != "!":
            raise self._directive_error(start_mark, "did not find expected '!'")
        length = 1
        while me.peek(length) in _NAME_CHARS:
            length += 1
        if me.peek(length) == "!":
            length += 1
        elif length > 1:
            me.forward(length)
            raise self._directive_error(start_mark, "did not find expected '!'")
        handle: str = me.prefix(length)
        me.forward(length)
        if me.peek() not in " \t":
            raise self._directive_error(start_mark, "did not find expected whitespace")
        while me.peek() in " \t":
            me.forward()
        prefix: str = me.scan_tag_uri("directive", start_mark)
        if me.peek() not in _BLANKZ:
            raise self._directive_error(start_mark, "did not find expected whitespace or line break")
        return handle, prefix

    def process_directives(self) -> tuple[tuple[int, int] | None, dict[str, str] | None]:
        """The directives of a document as go-yaml's ``yaml_parser_process_directives`` takes them: one
        ``%YAML``, of version 1.1 only (PyYAML warns of 1.2), each ``%TAG`` handle once, go-yaml's words."""
        me: Any = self
        me.yaml_version = None
        me.tag_handles = {}
        while me.check_token(yaml.DirectiveToken):
            token = me.get_token()
            problem = None
            if token.name == "YAML":
                if me.yaml_version is not None:
                    problem = "found duplicate %YAML directive"
                elif token.value != (1, 1):
                    problem = "found incompatible YAML document"
                me.yaml_version = token.value
            elif token.name == "TAG":
                handle, prefix = token.value
                if handle in me.tag_handles:
                    problem = "found duplicate %TAG directive"
                me.tag_handles[handle] = prefix
            if problem is not None:
                raise yaml.parser.ParserError(None, None, problem, token.start_mark)
        value = (me.yaml_version, dict(me.tag_handles) if me.tag_handles else None)
        for handle, prefix in me.DEFAULT_TAGS.items():
            me.tag_handles.setdefault(handle, prefix)
        return value


class GoBlanksMixin:
    """Put in a pure-Python PyYAML loader's bases to read blanks as go-yaml v2 (2.4) reads them, where
    PyYAML takes only spaces: a tab between tokens where no simple key may start (inside flow
    collections, after a scalar; not at a line's start nor after ``-``, ``?`` or ``:`` of a block), a tab
    inside or after a plain scalar's words and after a block scalar's header; and go-yaml's refusals of a
    tab in indentation (``found a tab character that violates indentation`` in a plain scalar's next
    line, ``found a tab character where an indentation space is expected`` in a block scalar's)."""

    def scan_to_next_token(self) -> None:
        """Advance to the next token like go-yaml's ``yaml_parser_scan_to_next_token``; a byte-order mark
        is skipped where the text opens with one (go-yaml's reader drops it: its scanner's test for a mark
        at a line's start looks at its buffer's first bytes, which are past it)."""
        me: Any = self
        if me.index == 0 and me.peek() == "\ufeff":
            me.forward()
        while True:
            while me.peek() == " " or (me.peek() == "\t" and (me.flow_level or not me.allow_simple_key)):
                me.forward()
            if me.peek() == "#":
                while me.peek() not in "\0\r\n\x85\u2028\u2029":
                    me.forward()
            if me.scan_line_break():
                if not me.flow_level:
                    me.allow_simple_key = True
            else:
                return

    def scan_plain_spaces(self, indent: int, start_mark: yaml.Mark) -> list[str] | None:
        """The blanks and line breaks after a plain scalar's words as go-yaml's
        ``yaml_parser_scan_plain_scalar`` reads them: tabs are blanks, and a tab left of ``indent`` on a
        following line is refused (None: a document marker ends the scalar)."""
        me: Any = self
        length = 0
        while me.peek(length) in " \t":
            length += 1
        whitespaces: str = me.prefix(length)
        me.forward(length)
        if me.peek() not in "\r\n\x85\u2028\u2029":
            return [whitespaces] if whitespaces else []
        line_break: str = me.scan_line_break()
        me.allow_simple_key = True
        breaks: list[str] = []
        while True:
            if _document_marker(me):
                return None
            while me.peek() in " \t":
                if me.peek() == "\t" and me.column < indent:
                    raise yaml.scanner.ScannerError(
                        "while scanning a plain scalar",
                        start_mark,
                        "found a tab character that violates indentation",
                        me.get_mark(),
                    )
                me.forward()
            if me.peek() not in "\r\n\x85\u2028\u2029":
                break
            breaks.append(me.scan_line_break())
        if line_break != "\n":
            return [line_break, *breaks]
        return breaks or [" "]

    def scan_tag(self) -> yaml.TagToken:
        """A node's tag as go-yaml's ``yaml_parser_scan_tag`` reads it: ``!<uri>``, or a handle (``!``, word
        characters, then ``!`` if one follows) whose suffix is a URI when the handle ends with ``!``, else
        the handle's word characters and a URI after them under the handle ``!``; a blank (a tab too), a
        line break or the end after it; errors in go-yaml's words."""
        me: Any = self
        start_mark: yaml.Mark = me.get_mark()
        handle: str | None = None
        if me.peek(1) == "<":
            me.forward(2)
            suffix = self._tag_uri(start_mark, required=True)
            if me.peek() != ">":
                raise yaml.scanner.ScannerError(
                    "while scanning a tag", start_mark, "did not find the expected '>'", me.get_mark()
                )
            me.forward()
        else:
            length = 1
            while me.peek(length) in _NAME_CHARS:
                length += 1
            if me.peek(length) == "!":
                length += 1
            handle = me.prefix(length)
            me.forward(length)
            if len(handle) > 1 and handle.endswith("!"):
                suffix = self._tag_uri(start_mark, required=True)
            else:
                suffix = handle[1:] + self._tag_uri(start_mark, required=False)
                handle = "!" if suffix else None
                suffix = suffix or "!"
        if me.peek() not in _BLANKZ:
            raise yaml.scanner.ScannerError(
                "while scanning a tag",
                start_mark,
                "did not find expected whitespace or line break",
                me.get_mark(),
            )
        return yaml.TagToken((handle, suffix), start_mark, me.get_mark())

    def _tag_uri(self, start_mark: yaml.Mark, *, required: bool) -> str:
        """A tag's URI characters (PyYAML's reading of them and their escapes); none is refused when
        ``required``, as go-yaml refuses a tag without a URI."""
        me: Any = self
        if me.peek() in _URI_CHARS:
            uri: str = me.scan_tag_uri("tag", start_mark)
            return uri
        if required:
            raise yaml.scanner.ScannerError(
                "while parsing a tag", start_mark, "did not find expected tag URI", me.get_mark()
            )
        return ""

    def scan_block_scalar(self, style: str) -> Any:
        """A block scalar; its start is kept for go-yaml's refusal of a tab in its indentation."""
        me: Any = self
        me._go_block_start = me.get_mark()
        return super().scan_block_scalar(style)  # type: ignore[misc]

    def scan_block_scalar_indicators(self, start_mark: yaml.Mark) -> tuple[bool | None, int | None]:
        """A block scalar's chomping and indentation indicators, either first, as go-yaml reads them (what
        follows is :meth:`scan_block_scalar_ignored_line`'s), in its words."""
        me: Any = self
        chomping: bool | None = None
        if me.peek() in "+-":
            chomping = me.peek() == "+"
            me.forward()
            return chomping, self._indentation_indicator(start_mark)
        increment = self._indentation_indicator(start_mark)
        if increment is not None and me.peek() in "+-":
            chomping = me.peek() == "+"
            me.forward()
        return chomping, increment

    def _indentation_indicator(self, start_mark: yaml.Mark) -> int | None:
        me: Any = self
        digit: str = me.peek()
        if digit not in "0123456789":
            return None
        if digit == "0":
            raise yaml.scanner.ScannerError(
                "while scanning a block scalar",
                start_mark,
                "found an indentation indicator equal to 0",
                me.get_mark(),
            )
        me.forward()
        return int(digit)

    def scan_block_scalar_ignored_line(self, start_mark: yaml.Mark) -> None:
        """The rest of a block scalar's header: blanks (tabs too), a comment, a line break."""
        me: Any = self
        while me.peek() in " \t":
            me.forward()
        super().scan_block_scalar_ignored_line(start_mark)  # type: ignore[misc]

    def scan_block_scalar_indentation(self) -> tuple[list[str], int, yaml.Mark]:
        """A block scalar's leading breaks and its indentation found from them; a tab after the spaces
        is refused (go-yaml's ``yaml_parser_scan_block_scalar_breaks``)."""
        found: tuple[list[str], int, yaml.Mark] = super().scan_block_scalar_indentation()  # type: ignore[misc]
        self._refuse_indenting_tab(None)
        return found

    def scan_block_scalar_breaks(self, indent: int) -> tuple[list[str], yaml.Mark]:
        """A block scalar's breaks and indentation up to ``indent``; a tab left of it is refused."""
        found: tuple[list[str], yaml.Mark] = super().scan_block_scalar_breaks(indent)  # type: ignore[misc]
        self._refuse_indenting_tab(indent)
        return found

    def _refuse_indenting_tab(self, indent: int | None) -> None:
        me: Any = self
        if me.peek() == "\t" and (indent is None or me.column < indent):
            raise yaml.scanner.ScannerError(
                "while scanning a block scalar",
                me._go_block_start,
                "found a tab character where an indentation space is expected",
                me.get_mark(),
            )


def _document_marker(me: Any) -> bool:
    """Whether a ``---`` or ``...`` line starts at the reader's position (a blank or the end after it)."""
    return bool(me.prefix(3) in ("---", "...") and me.peek(3) in _BLANKZ)


class GoFlowPlainMixin:
    """Put in a pure-Python PyYAML loader's bases to end plain scalars where go-yaml v2 ends them
    (``yaml_parser_scan_plain_scalar``): at a ``:`` before a blank, and inside a flow collection at ``,``,
    ``?``, ``[``, ``]``, ``{`` or ``}``. A ``:`` before one of those is part of the scalar there
    (``{a: b:}`` is ``b:``, ``[a:[b]]`` a scalar ``a:`` then a refused ``[``); PyYAML ends the scalar at
    such a ``:``, as libyaml 0.2.5 does."""

    def scan_plain(self) -> yaml.ScalarToken:
        """A plain scalar token; its words and the blanks between them as PyYAML's ``scan_plain`` (the
        blanks by :meth:`scan_plain_spaces`), its end as go-yaml's."""
        me: Any = self
        chunks: list[str] = []
        start_mark = end_mark = me.get_mark()
        indent = me.indent + 1
        spaces: list[str] = []
        while me.peek() != "#":
            length = 0
            while True:
                ch = me.peek(length)
                if ch in _BLANKZ or (ch == ":" and me.peek(length + 1) in _BLANKZ):
                    break
                if me.flow_level and ch in ",?[]{}":
                    break
                length += 1
            if not length:
                break
            me.allow_simple_key = False
            chunks.extend(spaces)
            chunks.append(me.prefix(length))
            me.forward(length)
            end_mark = me.get_mark()
            spaces = me.scan_plain_spaces(indent, start_mark)
            if not spaces or me.peek() == "#" or (not me.flow_level and me.column < indent):
                break
        return yaml.ScalarToken("".join(chunks), True, start_mark, end_mark)


class GoSimpleKeysMixin:
    """Put in a pure-Python PyYAML loader's bases to tell when a token may still become a simple key as
    go-yaml v2 (2.4) does: by a map from token numbers to the flow level of their possible key, which it
    keeps apart from the keys themselves.

    go-yaml gives each flow level a slot holding the token number of the collection's own opening
    bracket until a key is saved at that level; closing the level drops the map's entry for the slot's
    number. When nothing inside could start a key (``{}``, ``[]``, ``{? : a}``, ``{? a: b}``), that entry
    is the collection's own: the parser is handed the bracket without waiting for a ``:`` after the
    collection, so such a collection is no key: ``{? : a}`` on a line of a block mapping is ``did not
    find expected key`` (PyYAML waits, and refuses it as ``could not find expected ':'`` at the end).

    go-yaml checks whether a key is still possible (on its line, within 1024 characters) only at the start
    of a token of the key's own flow level and when the key's token reaches the parser (PyYAML checks every
    level at every token and every request of the parser), and keeps the keys of outer levels at the end
    of the text: a required key's refusal (``could not find expected ':'``) names the line go-yaml names.
    """

    def _key_levels(self) -> dict[int, int]:
        """go-yaml's ``simple_keys_by_tok``: token number -> flow level of the possible key at that token."""
        me: Any = self
        levels: dict[int, int] | None = me.__dict__.get("_go_key_levels")
        if levels is None:
            levels = me._go_key_levels = {}
            me._go_level_tokens = {}
        return levels

    def save_possible_simple_key(self) -> None:
        """Save a possible key as PyYAML does; note its token in go-yaml's map and its level's slot."""
        me: Any = self
        super().save_possible_simple_key()  # type: ignore[misc]
        key = me.possible_simple_keys.get(me.flow_level)
        if key is not None and key.token_number == me.tokens_taken + len(me.tokens):
            self._key_levels()[key.token_number] = me.flow_level
            me._go_level_tokens[me.flow_level] = key.token_number

    def remove_possible_simple_key(self) -> None:
        """Remove the current level's possible key (its map entry with it), as PyYAML does."""
        me: Any = self
        key = me.possible_simple_keys.get(me.flow_level)
        super().remove_possible_simple_key()  # type: ignore[misc]
        if key is not None:
            self._key_levels().pop(key.token_number, None)

    def stale_possible_simple_keys(self) -> None:
        """Nothing: go-yaml sweeps no stale keys before a token (PyYAML refuses a required one there, before
        a character that starts no token, ``found character that cannot start any token`` to go-yaml).
        Each token's fetcher saves or removes the current level's key (a required one refused) or, a
        ``:``, checks it (:meth:`fetch_value`); other levels' keys are checked when their token reaches
        the parser (:meth:`need_more_tokens`)."""

    def _stale(self, key: Any) -> bool:
        """Whether ``key`` can no longer be a simple key: on another line or more than 1024 characters
        back, or the text has ended (go-yaml moves to a new line there)."""
        me: Any = self
        return bool(me.done or key.line != me.line or me.index - key.index > 1024)

    def fetch_flow_collection_start(self, token_class: Any) -> None:
        """``[`` or ``{``: the new level's slot holds the bracket's own token number."""
        me: Any = self
        number = me.tokens_taken + len(me.tokens)
        self._key_levels()
        super().fetch_flow_collection_start(token_class)  # type: ignore[misc]
        me._go_level_tokens[me.flow_level] = number

    def fetch_flow_collection_end(self, token_class: Any) -> None:
        """``]`` or ``}``: closing the level drops the map's entry for its slot's token number."""
        me: Any = self
        level = me.flow_level
        super().fetch_flow_collection_end(token_class)  # type: ignore[misc]
        number = me._go_level_tokens.pop(level, None) if level else None
        if number is not None:
            self._key_levels().pop(number, None)

    def fetch_value(self) -> None:
        """``:``: a possible key at this level becomes the key (its map entry goes), as in PyYAML, unless it
        can no longer be one (refused if required, else dropped), as go-yaml checks it there."""
        me: Any = self
        key = me.possible_simple_keys.get(me.flow_level)
        if key is not None:
            self._key_levels().pop(key.token_number, None)
            if self._stale(key):
                if key.required:
                    raise yaml.scanner.ScannerError(
                        "while scanning a simple key", key.mark, _SIMPLE_KEY, me.get_mark()
                    )
                del me.possible_simple_keys[me.flow_level]
        super().fetch_value()  # type: ignore[misc]

    def fetch_stream_end(self) -> None:
        """The end: the current level's key is removed (refused if required, as in PyYAML), and the keys
        of the flow levels around it are kept, as go-yaml keeps them (PyYAML drops them all): each is
        checked when its token reaches the parser (:meth:`need_more_tokens`)."""
        me: Any = self
        outer = {level: key for level, key in me.possible_simple_keys.items() if level != me.flow_level}
        super().fetch_stream_end()  # type: ignore[misc]
        me.possible_simple_keys = outer
        kept = {key.token_number for key in outer.values()}
        levels = self._key_levels()
        for number in [number for number in levels if number not in kept]:
            del levels[number]

    def need_more_tokens(self) -> bool:
        """Whether the parser must wait: the head token is in go-yaml's map and its key is still valid.

        go-yaml checks only the head token's key, at the scanner's mark as it stands
        (``yaml_simple_key_is_valid`` in ``yaml_parser_fetch_more_tokens``), and refuses it if required:
        a key left stale by the scan of the tokens after it, on the line that scan ended on
        (:class:`GoHeadKeyError`: a plain scalar reads the blanks and line breaks after it, to the end of a
        text without a final line break); after the end (every key left is stale then), on the new line
        go-yaml moves to there (``[`` unclosed where a key goes)."""
        me: Any = self
        if not me.tokens:
            return not me.done
        levels = self._key_levels()
        level = levels.get(me.tokens_taken)
        key = None if level is None else me.possible_simple_keys.get(level)
        if key is None or key.token_number != me.tokens_taken:
            return False
        if not self._stale(key):
            return True
        if key.required:
            error = yaml.scanner.ScannerError if me.done else GoHeadKeyError
            raise error("while scanning a simple key", key.mark, _SIMPLE_KEY, me.get_mark())
        del me.possible_simple_keys[level]
        del levels[me.tokens_taken]
        return False


#: The scanner's problem when a simple key has no ':'.
_SIMPLE_KEY = "could not find expected ':'"


class GoHeadKeyError(yaml.scanner.ScannerError):
    """A required simple key found stale before the end of the text, when its token reaches the parser:
    go-yaml names the line its scanner stands on (the end's own line in a text without a final line
    break, where an error at the end names the next line)."""


_HEX_DIGITS = frozenset("0123456789ABCDEFabcdef")


def _utf8_width(octet: int) -> int:
    """The length of the UTF-8 sequence ``octet`` leads, by its bit pattern alone (go-yaml's ``width``), or 0."""
    if octet < 0x80:
        return 1
    if octet & 0xE0 == 0xC0:
        return 2
    if octet & 0xF0 == 0xE0:
        return 3
    if octet & 0xF8 == 0xF0:
        return 4
    return 0


#: A double-quoted scalar's escape (a backslash and the character after it), with the digits of ``\\u``
#: (group 1) and ``\\U`` (group 2): an escaped backslash is one escape.
_HEX_ESCAPE = re.compile(r"\\(?:u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8})|.)", re.DOTALL)
#: A line break as PyYAML's reader counts lines (CR LF once).
_LINE_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")
#: What go-yaml's ``is_alpha`` takes in a directive's name or a tag handle.
_NAME_CHARS = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_-")
#: The characters of a tag's URI (go-yaml's ``yaml_parser_scan_tag_uri``; ``%`` starts an escape).
_URI_CHARS = _NAME_CHARS | frozenset(";/?:@&=+$,.!~*'()[]%")
#: go-yaml's ``is_blankz``: a blank (space, tab), a line break or the end of the text.
_BLANKZ = frozenset(" \t\r\n\x85\u2028\u2029\0")


def has_directive(data: bytes) -> bool:
    """Whether ``data`` may hold a directive (a ``%`` that opens the text, after a byte-order mark, or
    follows a YAML line break), which libyaml reads otherwise than go-yaml (``%YAML 1.2`` passes libyaml;
    a tab after ``%YAML`` passes go-yaml): such input goes to the pure parser only."""
    at = data.find(b"%")
    if at == 0 or data.startswith(b"\xef\xbb\xbf%"):
        return True
    while at > 0:
        if (
            data[at - 1] in b"\n\r"
            or data[max(at - 3, 0) : at] in (b"\xe2\x80\xa8", b"\xe2\x80\xa9")
            or (data[at - 2 : at] == b"\xc2\x85")
        ):
            return True
        at = data.find(b"%", at + 1)
    return False


#: A ``!`` where a node's tag may start (first, or after a blank, a line break or ``[{,:``) that is the whole
#: tag (a blank, a line break, ``,]}`` or the end after it), also written ``!<!>``: the non-specific tag.
_DIFFERING_TAG = re.compile(
    rb"(?<![^\s\[{,:\x85\xa8\xa9])!"  # a '!' where a token starts, then:
    rb"(?:(?:<!>)?(?![^\s,\]}\x85\xa8\xa9])"  # the non-specific tag
    rb"|[^\s%]*%"  # a tag with a %-escape
    rb"|(?:<[^>\s]*>|[^\s,\[\]{}]*),)"  # a tag with ',' right after it
)


def may_have_differing_tag(data: bytes) -> bool:
    """Whether ``data`` may hold a tag libyaml (with PyYAML's C wrapper) reads otherwise than go-yaml v2:
    such a document is composed by the pure parser. The non-specific tag ``!`` (``! 1``), which libyaml's
    composer resolves as an untagged plain scalar (go-yaml and the pure-Python composer keep the text); a
    tag with ``,`` right after it (``[!foo,b]``: libyaml 0.2.5 ends the tag there inside a flow
    collection, go-yaml reads ``,`` as part of it and then wants a blank); a tag with ``%``-escapes
    (go-yaml checks only their octets' bit patterns, ``!%C0%80``, which PyYAML's wrapper fails to decode
    as UTF-8). A ``!`` in prose (``ready!``, ``!=``) does not count."""
    return b"!" in data and _DIFFERING_TAG.search(data) is not None


def flow_plain_differs(plain: str) -> bool:
    """Whether libyaml (0.2.5+) has read the plain scalar ``plain`` of a flow collection past where go-yaml
    v2 ends it: at a ``?``, which libyaml takes as text there (``{url: http://a/b?c=d}`` is a parse error
    to oc); the pure-Python parser ends it where go-yaml does. The one statement of this rule: the manifest
    check's event walk and :func:`has_differing_flow_plain` ask it."""
    return "?" in plain


def has_differing_flow_plain(root: Node | None) -> bool:
    """Whether libyaml, composing the document ``root``, read a plain scalar inside a flow collection past
    where go-yaml ends it (:func:`flow_plain_differs`)."""
    stack = [(root, False)]
    seen: set[int] = set()
    while stack:
        item, in_flow = stack.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, ScalarNode):
            if in_flow and not item.style and flow_plain_differs(item.value):
                return True
        elif isinstance(item, SequenceNode):
            in_flow = in_flow or bool(item.flow_style)
            stack.extend((child, in_flow) for child in item.value)
        elif isinstance(item, MappingNode):
            in_flow = in_flow or bool(item.flow_style)
            stack.extend((child, in_flow) for pair in item.value for child in pair)
    return False


class BoundedSafeLoader(BoundedLoaderMixin, yaml.SafeLoader):
    """``yaml.SafeLoader`` with the alias and depth bounds."""


def safe_load(data: str | bytes) -> Any:
    """``yaml.safe_load`` with the bounds: the first document, or None; a refusal is a YAMLLimitError."""
    return yaml.load(data, Loader=BoundedSafeLoader)  # noqa: S506 - a SafeLoader


def safe_load_all(data: str | bytes) -> list[Any]:
    """``yaml.safe_load_all`` with the bounds, every document read; a refusal is a YAMLLimitError."""
    return list(yaml.load_all(data, Loader=BoundedSafeLoader))  # noqa: S506 - a SafeLoader
