"""go-yaml's syntax error in a large document without reading all of it with the pure-Python loader.

When libyaml's fast path refuses a document, the pure loader (:class:`GoLoader`) reads it again to find
and word the error as go-yaml does: about 10-20 µs a byte, a minute for a manifest of a megabyte.
:func:`go_syntax_error` reads it with libyaml's parser instead, to its first error, and has the pure loader
read only the text from the last entry of the root mapping that libyaml read before it: at such an entry's
key the scanner and parser are where they are at any entry of a mapping at the start of a text (a block
mapping's key at column 0; a flow mapping's key after the ``{`` put before it), so the pure loader finds the
same first error, on the same line once the skipped lines are added. Aliases of anchors in the skipped text
are known (go-yaml refuses an alias of no anchor as it parses, before a later syntax error).

The skipped text must be text go-yaml reads as libyaml does: nothing is skipped past a plain scalar with
``?`` in a flow collection (libyaml reads on) or a collection standing for a key (go-yaml 2.4 refuses some),
nothing past an alias of no anchor, and text libyaml may read otherwise anywhere (tabs, later byte-order marks, directives, the non-specific
tag: :func:`libyaml_may_differ`) is left to the caller.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.events import (
    AliasEvent,
    CollectionEndEvent,
    CollectionStartEvent,
    DocumentEndEvent,
    MappingStartEvent,
    ScalarEvent,
    StreamEndEvent,
)

from okdrelease.gocompat.yamlbounds import (
    YAMLLimitError,
    check_text,
    flow_plain_differs,
    has_directive,
    libyaml_may_differ,
    may_have_differing_tag,
)
from okdrelease.gocompat.yamldecode import GoLoader
from okdrelease.gocompat.yamlreader import AlignedBytes

__all__ = ["go_syntax_error"]


class _Entry:
    """Where the pure loader may start: a key of the root mapping that libyaml read."""

    __slots__ = ("anchors", "flow", "index", "line")

    def __init__(self, index: int, line: int, flow: bool, anchors: int) -> None:
        self.index = index  # the key's character index (libyaml's, without a leading byte-order mark)
        self.line = line
        self.flow = flow
        self.anchors = anchors  # how many anchors the text before it defines


def _restart(data: bytes) -> tuple[_Entry, list[str]] | None:
    """The last root entry libyaml read before its first parse error in the first document of ``data``
    such that go-yaml reads the text before it as libyaml does (a simple key: the region read from an
    explicit ``? key``'s scalar would lose its ``?``), and the anchors in the order defined; None
    when libyaml parses the document or no entry is found."""
    parser: Any = yaml.CSafeLoader(data)
    open_: list[list[bool]] = []  # per open collection: [a mapping, a key next, flow]
    anchors: list[str] = []
    defined: set[str] = set()
    entry: _Entry | None = None
    root_column = 0  # where the root mapping's simple keys start (an explicit '? key' starts further in)
    alike = True  # the text so far is read by go-yaml as by libyaml
    try:
        while True:
            event: Any = parser.get_event()
            if event is None or isinstance(event, (DocumentEndEvent, StreamEndEvent)):
                return None
            key = bool(open_) and open_[-1][0] and open_[-1][1]
            flow = bool(open_) and open_[-1][2]
            anchor = None if isinstance(event, AliasEvent) else getattr(event, "anchor", None)
            if isinstance(event, ScalarEvent):
                mark: Any = event.start_mark
                if key and len(open_) == 1 and alike and (flow or mark.column == root_column):
                    entry = _Entry(mark.index, mark.line, flow, len(anchors))
                if flow and not event.style and flow_plain_differs(event.value):
                    alike = False
            elif isinstance(event, CollectionStartEvent):
                if not open_:
                    start: Any = event.start_mark
                    root_column = start.column
                alike = alike and not key
                open_.append([isinstance(event, MappingStartEvent), True, flow or bool(event.flow_style)])
            elif isinstance(event, CollectionEndEvent):
                open_.pop()
            elif isinstance(event, AliasEvent) and event.anchor not in defined:
                alike = False  # go-yaml refuses it here: the pure loader must read it
            if anchor is not None:
                anchors.append(anchor)
                defined.add(anchor)
            if open_ and open_[-1][0] and not isinstance(event, CollectionStartEvent):
                open_[-1][1] = not open_[-1][1]
    except yaml.MarkedYAMLError:
        return None if entry is None else (entry, anchors)
    except yaml.YAMLError:  # the reader's (bad UTF-8, control characters): left to the caller
        return None
    finally:
        parser.dispose()


def go_syntax_error(data: bytes) -> yaml.MarkedYAMLError | None:
    """go-yaml's first error in the first document of ``data`` (PyYAML's error, for
    :func:`~okdrelease.gocompat.yamlerrors.go_error_text`), read by the pure loader only from the last
    root entry before libyaml's first parse error; None when that does not decide it (libyaml absent or
    reading the text otherwise, no parse error, no such entry, or none found after it): the caller reads
    it all."""
    if not yaml.__with_libyaml__ or libyaml_may_differ(data) or has_directive(data):
        return None
    if may_have_differing_tag(data):
        return None
    try:
        check_text(data)
    except YAMLLimitError:
        return None
    found = _restart(data)
    if found is None:
        return None
    entry, anchors = found
    # libyaml read the text before the entry (UTF-8; its index skips a byte-order mark): the bytes from
    # the entry on are read where they stand, so that go-yaml's reads (and what it refuses) fall alike.
    mark = len(_UTF8_BOM) if data.startswith(_UTF8_BOM) else 0
    text = data[mark:].decode("utf-8", "surrogateescape")
    start = mark + len(text[: entry.index].encode("utf-8"))
    region = AlignedBytes(b"{" + data[start:], start - 1) if entry.flow else AlignedBytes(data[start:], start)
    return _pure_error(region, entry.line, set(anchors[: entry.anchors]))


_UTF8_BOM = b"\xef\xbb\xbf"


def _pure_error(region: AlignedBytes, line: int, anchors: set[str]) -> yaml.MarkedYAMLError | None:
    """The pure loader's first error in ``region`` (to the end of its first document), its marks moved
    down by ``line`` lines; ``anchors``: those defined before it."""
    loader: Any = GoLoader(region)
    try:
        while True:
            event: Any = loader.get_event()
            if event is None or isinstance(event, (DocumentEndEvent, StreamEndEvent)):
                return None
            if isinstance(event, AliasEvent):
                if event.anchor not in anchors:  # the words of PyYAML's composer, as composing would raise
                    at: Any = event.start_mark
                    raise yaml.composer.ComposerError(
                        None, None, f"found undefined alias {event.anchor!r}", at
                    )
            elif getattr(event, "anchor", None) is not None:
                anchors.add(event.anchor)
    except yaml.MarkedYAMLError as err:
        err.problem_mark = _moved(err.problem_mark, line)
        err.context_mark = _moved(err.context_mark, line)
        return err
    except YAMLLimitError:
        return None
    finally:
        loader.dispose()


def _moved(mark: yaml.Mark | None, lines: int) -> yaml.Mark | None:
    if mark is None:
        return None
    return yaml.Mark(mark.name, mark.index, mark.line + lines, mark.column, mark.buffer, mark.pointer)
