"""The YAML side of the manifest sanity check (spec §3.9, Appendix C): a file's verdict and oc's words.

A file is composed with libyaml's C parser (PyYAML's ``CSafeLoader``) when PyYAML was built with it;
that decides the common case, a file that passes, about 20 times faster than the pure-Python parser.
Every other outcome (a parse error, a document that is not an object or lacks ``kind``/``apiVersion``)
is decided again by the go-yaml-like pure-Python loader, which words the error exactly as oc does, so
the verdicts are those of the pure loader (``tests/payload/test_check_loaders.py`` holds both to it).

``okdrelease.payload.check`` (the checker and its verdicts) loads this module, and PyYAML with it, only
when a verdict must be decided: a warm run finds every verdict in the cache and loads neither.
"""

from __future__ import annotations

import datetime
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from okdrelease.gocompat.jsonbounds import flow_overflow
from okdrelease.gocompat.strconv import go_quote
from okdrelease.gocompat.yamlbounds import (
    BoundedLoaderMixin,
    GoEscapesMixin,
    YAMLLimitError,
    check_text,
    libyaml_may_differ,
)
from okdrelease.gocompat.yamlerrors import go_error_text

__all__ = ["GO_YAML_MAX_DEPTH", "manifest_problem", "pure_problem"]

_EXCERPT = 30
_STRING_TAGS = ("tag:yaml.org,2002:str", "tag:yaml.org,2002:timestamp")


class _GoLikeLoader(BoundedLoaderMixin, GoEscapesMixin, yaml.SafeLoader):
    """A PyYAML loader closer to go-yaml: tabs between tokens where go-yaml allows them, repeated anchors,
    escapes of surrogates refused."""

    def scan_to_next_token(self) -> None:
        """Advance to the next token like go-yaml's ``yaml_parser_scan_to_next_token``."""
        if self.index == 0 and self.peek() == "\ufeff":
            self.forward()
        while True:
            while self.peek() == " " or (
                self.peek() == "\t" and (self.flow_level or not self.allow_simple_key)
            ):
                self.forward()
            if self.peek() == "#":
                while self.peek() not in "\0\r\n\x85\u2028\u2029":
                    self.forward()
            if self.scan_line_break():  # type: ignore[no-untyped-call]
                if not self.flow_level:
                    self.allow_simple_key = True
            else:
                return

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        """Compose a node, letting a repeated anchor replace the earlier one as go-yaml does."""
        if not self.check_event(yaml.AliasEvent):
            anchor = self.peek_event().anchor  # type: ignore[no-untyped-call]
            if anchor is not None:
                self.anchors.pop(anchor, None)
        return super().compose_node(parent, index)


#: libyaml's loader when PyYAML has it (``yaml.__with_libyaml__``), else None: the pure loader decides.
_FAST_LOADER: type[yaml.CSafeLoader] | None = yaml.CSafeLoader if yaml.__with_libyaml__ else None


def _first_document(data: bytes, fast: bool = False) -> Node | None:
    """Return the node of the first YAML document of ``data`` (None if empty); later documents are ignored.

    ``fast`` composes it with libyaml (only a passing verdict is taken from it), else with the go-yaml-like
    pure-Python loader.
    """
    loader: yaml.CSafeLoader | _GoLikeLoader
    if fast and _FAST_LOADER is not None:
        check_text(data)  # libyaml's composer overflows the C stack on ~100,000 nested brackets
        loader = _FAST_LOADER(data)
    else:
        loader = _GoLikeLoader(data)
    try:
        if not loader.check_node():
            return None
        return loader.get_node()
    finally:
        loader.dispose()


def _string_value(node: MappingNode, key: str) -> str:
    """Return the string value of ``key`` in a mapping node (last occurrence wins), or ``""``."""
    value = ""
    for key_node, value_node in node.value:
        if isinstance(key_node, ScalarNode) and key_node.value == key:
            is_string = isinstance(value_node, ScalarNode) and value_node.tag in _STRING_TAGS
            value = value_node.value if is_string else ""
    return value


def _first_bad_key(node: Node, seen: set[int]) -> Node | None:
    """The first mapping key that is itself a mapping or sequence, in go-yaml's decoding order (keys first)."""
    if id(node) in seen:
        return None
    seen.add(id(node))
    if isinstance(node, MappingNode):
        for key, value in node.value:
            found = _first_bad_key(key, seen)
            if found is None and isinstance(key, MappingNode | SequenceNode):
                found = key
            found = found or _first_bad_key(value, seen)
            if found is not None:
                return found
    elif isinstance(node, SequenceNode):
        for item in node.value:
            found = _first_bad_key(item, seen)
            if found is not None:
                return found
    return None


def _go_float(value: float) -> str:
    """Go's ``%v`` of a float64 (strconv 'g', shortest): exponent form below 1e-4 and from 1e6."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    from decimal import Decimal  # only for a float in a manifest (rare): ~1 ms of every run's start

    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    text = "".join(map(str, digits)) or "0"
    point = len(text) + int(exponent)  # decimal point position after the first ``point`` digits
    if value != 0 and not -4 < point <= 6:
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        return f"{'-' if sign else ''}{mantissa}e{point - 1:+03d}"
    if point <= 0:
        body = "0." + "0" * -point + text
    elif point >= len(text):
        body = text + "0" * (point - len(text))
    else:
        body = text[:point] + "." + text[point:]
    return ("-" if sign else "") + body


def _go_value(value: object) -> str:
    """Go's ``%#v`` of what go-yaml v2 decodes into ``interface{}``."""
    if value is None:
        return "interface {}(nil)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _go_float(value)
    if isinstance(value, list):
        return "[]interface {}{" + ", ".join(_go_value(v) for v in value) + "}"
    if isinstance(value, dict):
        rank = {type(None): 0, bool: 1, int: 2, float: 3, str: 4}
        keys = sorted(
            value, key=lambda k: (rank.get(type(k), 5), k if isinstance(k, int | float | str) else 0)
        )
        return (
            "map[interface {}]interface {}{"
            + ", ".join(f"{_go_value(k)}:{_go_value(value[k])}" for k in keys)
            + "}"
        )
    return go_quote(str(value))


def _bad_key_problem(node: Node) -> str | None:
    """go-yaml v2's ``invalid map key: %#v`` for the first mapping key that is a mapping or sequence."""
    key = _first_bad_key(node, set())
    if key is None:
        return None
    value = None
    loader = yaml.SafeLoader("")
    try:
        if not _contains_itself(key):
            # construct_document fills nested collections from a queue, not by recursion (a key nested
            # ~250 deep ran out of Python recursion with construct_object(deep=True)).
            value = loader.construct_document(key)
    except (yaml.YAMLError, ValueError):  # ValueError: a tagged scalar that is not one (``!!int x``)
        pass
    finally:
        loader.dispose()
    if isinstance(value, dict | list):
        value = _plain(value)
    return f"invalid YAML/JSON: invalid map key: {_go_value(value)}"


def _contains_itself(node: Node) -> bool:
    """Whether ``node`` reaches itself through aliases (``&a [*a]``): a deep construction refuses it."""
    on_path: set[int] = set()
    done: set[int] = set()
    stack: list[tuple[Node, bool]] = [(node, False)]
    while stack:
        item, leaving = stack.pop()
        if leaving:
            on_path.discard(id(item))
            done.add(id(item))
            continue
        if id(item) in on_path:
            return True
        if id(item) in done or isinstance(item, ScalarNode):
            continue
        on_path.add(id(item))
        stack.append((item, True))
        kids = item.value if isinstance(item, SequenceNode) else [n for pair in item.value for n in pair]
        stack.extend((kid, False) for kid in kids)
    return False


def _plain(value: object) -> object:
    """Timestamps and binary as the strings go-yaml v2 keeps them as (into interface{})."""
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, bytes | datetime.date):
        return str(value)
    return value


def _plain_flow_question(node: Node | None) -> bool:
    """Whether a plain scalar inside a flow collection holds ``?``: libyaml (0.2.5+) reads it as text,
    go-yaml v2 ends the scalar there (``{url: http://a/b?c=d}`` is a parse error to oc)."""
    stack = [(node, False)]
    seen: set[int] = set()
    while stack:
        item, in_flow = stack.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, ScalarNode):
            if in_flow and not item.style and "?" in item.value:
                return True
        elif isinstance(item, SequenceNode):
            stack.extend((child, in_flow or bool(item.flow_style)) for child in item.value)
        elif isinstance(item, MappingNode):
            in_flow = in_flow or bool(item.flow_style)
            stack.extend((child, in_flow) for pair in item.value for child in pair)
    return False


def _node_problem(node: Node | None, data: bytes) -> str | None:
    """The reason a composed first document is not a Kubernetes object (None when it is one)."""
    if node is not None:
        bad_key = _bad_key_problem(node)
        if bad_key is not None:
            return bad_key
    if not isinstance(node, MappingNode):
        excerpt = data[:_EXCERPT] + b"..." if len(data) > _EXCERPT else data
        return f"not a valid YAML/JSON object, got: {excerpt.decode('utf-8', 'replace')}"
    for key in ("kind", "apiVersion"):
        value = _string_value(node, key)
        if not value:
            return f"manifests must contain Kubernetes API objects with 'kind' and 'apiVersion' set: {value}"
    return None


#: go-yaml v2's max_flow_level: deeper flow nesting is a scanner error.
GO_YAML_MAX_DEPTH = 10_000


def _go_depth_problem(data: bytes) -> str | None:
    """go-yaml's refusal of flow nesting past GO_YAML_MAX_DEPTH, or None.

    The scanner fails at the bracket that opens flow level 10,001 and names its line (1-based) unless
    it is the first line: ``line 3: exceeded max depth of 10000``. (Shallower documents that go-yaml
    reads but Go's JSON decoder refuses, past 10,000 nested collections with the root, are not
    recognised: libyaml's own limit depends on its build, 1,000 in PyYAML 6.0.4's wheels.)
    """
    offset = flow_overflow(data, GO_YAML_MAX_DEPTH)
    if offset is None:
        return None
    line = data.count(b"\n", 0, offset)
    problem = f"exceeded max depth of {GO_YAML_MAX_DEPTH}"
    return f"line {line + 1}: {problem}" if line else problem


def pure_problem(data: bytes) -> str | None:
    """The verdict of the go-yaml-like pure-Python loader: oc's error text after ``<file>: ``, or None.

    A document too deep for the loader's bounds is refused in go-yaml's words when its flow nesting
    passes go-yaml's own limit (the bounds' refusal otherwise).
    """
    try:
        node = _first_document(data)
    except YAMLLimitError as err:
        return f"invalid YAML/JSON: {_go_depth_problem(data) or go_error_text(err)}"
    except yaml.YAMLError as err:
        return f"invalid YAML/JSON: {go_error_text(err)}"
    return _node_problem(node, data)


_ITEM, _KEY, _VALUE = 0, 1, 2


def _scalar_tag(loader: yaml.CSafeLoader, event: yaml.ScalarEvent) -> str:
    """The tag the composer would give the scalar ``event`` (explicit, else resolved)."""
    tag = event.tag
    if tag is None or tag == "!":
        return str(loader.resolve(ScalarNode, event.value, event.implicit))  # type: ignore[no-untyped-call]
    return str(tag)


def _walk_root(loader: yaml.CSafeLoader) -> bool | None:
    """Walk the events of the root mapping (its start already read) to its end; see :func:`_events_pass`."""
    values = {"kind": "", "apiVersion": ""}
    expect = [_KEY]  # per open collection: _KEY or _VALUE (a mapping), _ITEM (a sequence)
    pending: str | None = None  # the top-level key ("kind"/"apiVersion") whose value is next
    flow: int | None = None  # the length of ``expect`` inside the outermost open flow collection
    get, scalar, alias = loader.get_event, yaml.ScalarEvent, yaml.AliasEvent
    mapping, sequence = yaml.MappingStartEvent, yaml.SequenceStartEvent
    while expect:
        event: Any = get()
        kind = type(event)
        state = expect[-1]
        if kind is scalar:
            if event.anchor is not None or (flow and not event.style and "?" in event.value):
                return None  # libyaml 0.2.5 reads '?' inside a plain flow scalar; go-yaml ends it there
            if len(expect) == 1:
                if state == _KEY:
                    pending = event.value if event.value in values else None
                elif pending is not None:
                    values[pending] = event.value if _scalar_tag(loader, event) in _STRING_TAGS else ""
            if state:
                expect[-1] = _KEY + _VALUE - state
        elif kind is mapping or kind is sequence:
            if state == _KEY:
                return False
            if event.anchor is not None:
                return None
            if len(expect) == 1 and pending is not None:
                values[pending] = ""
            if state:
                expect[-1] = _KEY
            expect.append(_KEY if kind is mapping else _ITEM)
            if flow is None and event.flow_style:
                flow = len(expect)
        elif kind is alias or event is None:
            return None
        else:  # the end of a mapping or sequence
            if len(expect) == flow:
                flow = None
            expect.pop()
    return all(values.values())


def _events_pass(data: bytes) -> bool | None:
    """Whether the first document passes, decided from libyaml's events without composing nodes.

    True: a mapping whose keys, at every depth, are scalars, with non-empty string ``kind`` and
    ``apiVersion`` (what :func:`_node_problem` accepts); False: it does not pass; None: undecided
    (anchors or aliases, which only composing resolves). Like composing, it reads the events of the
    first document and its end, nothing after.
    """
    assert _FAST_LOADER is not None
    loader = _FAST_LOADER(data)
    try:
        loader.get_event()  # the stream start
        if not isinstance(loader.get_event(), yaml.DocumentStartEvent):
            return False  # an empty stream
        root = loader.get_event()
        if type(root) is not yaml.MappingStartEvent:
            return False
        if root.anchor is not None:
            return None
        verdict = _walk_root(loader)
        if verdict is not None:
            loader.get_event()  # the document end
        return verdict
    except yaml.YAMLError:
        return False
    finally:
        loader.dispose()


def manifest_problem(data: bytes) -> str | None:
    """Why ``data`` fails oc's sanity check (the text after ``<file>: ``), or None when it passes.

    libyaml decides a pass, from its events (:func:`_events_pass`), or when anchors or aliases leave
    that undecided, from the composed document; anything else is decided and worded by
    :func:`pure_problem`. Files libyaml reads more leniently than the pure loader go to it directly: a
    tab anywhere (libyaml takes a tab inside a plain scalar, ``kind: a\tb``, as text), a UTF-8
    byte-order mark after the first byte (libyaml skips one at a line start; one that opens the file
    both skip) and UTF-16 (found by its mark); so do files nested deep enough for the bounds' raw-text
    scan to refuse them.
    """
    if _FAST_LOADER is not None and not libyaml_may_differ(data):
        try:
            check_text(data)
            verdict = _events_pass(data)
            if verdict is None:
                node = _first_document(data, fast=True)
                verdict = not _plain_flow_question(node) and _node_problem(node, data) is None
            if verdict:
                return None
        except yaml.YAMLError:
            pass
    return pure_problem(data)
