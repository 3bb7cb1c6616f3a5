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

from collections.abc import Callable
from typing import Any

import yaml
from yaml.nodes import Node

from okdrelease.gocompat import goyaml
from okdrelease.gocompat.jsonbounds import flow_overflow
from okdrelease.gocompat.yamlbounds import (
    YAMLLimitError,
    check_text,
    flow_plain_differs,
    has_differing_flow_plain,
    has_directive,
    libyaml_may_differ,
    max_depth_message,
    may_have_differing_tag,
)
from okdrelease.gocompat.yamldecode import (
    GoDecodeError,
    GoLoader,
    GoMap,
    GoResolvingMixin,
    compose_first,
    go_decode,
    go_implicit_tag,
    json_problem,
)
from okdrelease.gocompat.yamlerrors import go_error_text
from okdrelease.gocompat.yamlregion import go_syntax_error
from okdrelease.payload import checktext

__all__ = ["GO_YAML_MAX_DEPTH", "manifest_problem", "pure_problem"]

_EXCERPT = 30
#: go-yaml's tags of untagged plain scalars it keeps as text in ``interface{}``.
_STRING_TAGS = (goyaml.STR, goyaml.TIMESTAMP, goyaml.MERGE)


#: libyaml's loader resolving plain scalars as go-yaml does (libyaml's own composer: ``!`` is resolved, and
#: anchors are not named), when PyYAML has libyaml (``yaml.__with_libyaml__``), else None: the pure loader
#: decides.
_FAST_LOADER: type[yaml.CSafeLoader] | None = (
    type("_FastGoLoader", (GoResolvingMixin, yaml.CSafeLoader), {}) if yaml.__with_libyaml__ else None
)


def _first_document(data: bytes, fast: bool = False) -> tuple[Node | None, Callable[[Node], str]]:
    """The node of the first YAML document of ``data`` (None if empty; later documents are ignored), and
    the name of a node's anchor.

    ``fast`` composes it with libyaml (only a passing verdict is taken from it; anchors are not named),
    else with the go-yaml-like pure-Python loader.
    """
    if fast and _FAST_LOADER is not None:
        check_text(data)  # libyaml's composer overflows the C stack on ~100,000 nested brackets
        return compose_first(data, _FAST_LOADER)
    return compose_first(data, GoLoader)


def _node_problem(node: Node | None, data: bytes, anchor_of: Callable[[Node], str]) -> str | None:
    """The reason a composed first document is not a Kubernetes object (None when it is one): as go-yaml
    decodes it (:func:`go_decode`), converted to JSON (:func:`json_problem`), then its type and fields."""
    try:
        value = go_decode(node, anchor_of)
    except GoDecodeError as err:
        return f"invalid YAML/JSON: {err}"
    except RecursionError as err:
        raise YAMLLimitError(max_depth_message()) from err
    problem = json_problem(value)
    if problem is not None:
        return f"invalid YAML/JSON: {problem}"
    if not isinstance(value, GoMap):
        excerpt = data[:_EXCERPT] + b"..." if len(data) > _EXCERPT else data
        return f"not a valid YAML/JSON object, got: {excerpt.decode('utf-8', 'replace')}"
    for key in ("kind", "apiVersion"):
        field = value.get(key)
        if not isinstance(field, str) or not field:
            return "manifests must contain Kubernetes API objects with 'kind' and 'apiVersion' set: "
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
        node, anchor_of = _first_document(data)
        return _node_problem(node, data, anchor_of)
    except YAMLLimitError as err:
        return f"invalid YAML/JSON: {_go_depth_problem(data) or go_error_text(err)}"
    except yaml.YAMLError as err:
        return f"invalid YAML/JSON: {go_error_text(err)}"


_ITEM, _KEY, _VALUE = 0, 1, 2


#: Plain keys whose Go value JSON has no key for (nil): sigs.k8s.io/yaml refuses the document.
_NULL_KEYS = frozenset(("", *goyaml.NULL_WORDS))
#: Plain values go-yaml reads as NaN or an infinity, which JSON refuses unless a later key replaces them.
_NON_FINITE = frozenset(
    (*goyaml.NAN_WORDS, *(sign + word for word in goyaml.INF_WORDS for sign in ("", "+", "-")))
)
#: Plain scalars the event walk looks at again: the two above and the merge key ``<<``.
_SPECIAL_PLAIN = _NULL_KEYS | _NON_FINITE | {"<<"}
_SPECIAL_LENGTH = max(map(len, _SPECIAL_PLAIN))  # a longer scalar is not hashed to look it up
#: How long a plain key must be to be an integer past int64 (a uint64, refused as a key too): ``0x`` and
#: sixteen hexadecimal digits at the least.
_UINT_KEY_LENGTH = 18


def _special_plain(value: str, key: bool) -> bool | None:
    """The walk's verdict on a plain scalar of :data:`_SPECIAL_PLAIN` (``key``: a mapping key): False for a
    nil key; None (composing decides) for the merge key and a non-finite value; True to walk on."""
    if key:
        return None if value == "<<" else value not in _NULL_KEYS
    return None if value in _NON_FINITE else True


def _uint_key(value: str) -> bool:
    """Whether a plain key of :data:`_UINT_KEY_LENGTH` or more characters, a sign or digit first, is an
    integer past int64: JSON has no key for go-yaml's uint64."""
    tag, number = goyaml.resolve(value)
    return tag == goyaml.INT and number > (1 << 63) - 1


def _walk_root(loader: yaml.CSafeLoader, tags: bool) -> bool | None:
    """Walk the events of the root mapping (its start already read) to its end; see :func:`_events_pass`.
    ``tags``: whether the text holds a ``!``, without which no node has a tag."""
    values = {"kind": "", "apiVersion": ""}
    expect = [_KEY]  # per open collection: _KEY or _VALUE (a mapping), _ITEM (a sequence)
    depth = 1  # len(expect)
    pending: str | None = None  # the top-level key ("kind"/"apiVersion") whose value is next
    flow: int | None = None  # the length of ``expect`` inside the outermost open flow collection
    get, scalar, alias = loader.get_event, yaml.ScalarEvent, yaml.AliasEvent
    mapping, sequence = yaml.MappingStartEvent, yaml.SequenceStartEvent
    key, flip, special, special_length = _KEY, _KEY + _VALUE, _SPECIAL_PLAIN, _SPECIAL_LENGTH
    while depth:
        event: Any = get()
        kind = type(event)
        state = expect[-1]
        if kind is scalar:
            if event.anchor is not None or (tags and event.tag is not None):
                return None  # go-yaml reads a tagged scalar by its tag (``!!int x`` is refused)
            if not event.style:
                value = event.value
                if flow and flow_plain_differs(value):
                    return None  # libyaml read on where go-yaml ends the scalar: the pure loader decides
                size = len(value)
                if size <= special_length:
                    if value in special:
                        verdict = _special_plain(value, state == key)
                        if verdict is not True:
                            return verdict
                elif size >= _UINT_KEY_LENGTH and state == key and value[0] in "+-0123456789":
                    if _uint_key(value):
                        return False
                if depth == 1:
                    if state == key:
                        pending = value if value in values else None
                    elif pending is not None:
                        values[pending] = value if go_implicit_tag(value) in _STRING_TAGS else ""
            elif depth == 1:
                value = event.value
                if state == key:
                    pending = value if value in values else None
                elif pending is not None:
                    values[pending] = value
            if state:
                expect[-1] = flip - state
        elif kind is mapping or kind is sequence:
            if state == key:
                return False
            if event.anchor is not None:
                return None
            if depth == 1 and pending is not None:
                values[pending] = ""
            if state:
                expect[-1] = key
            expect.append(key if kind is mapping else _ITEM)
            depth += 1
            if flow is None and event.flow_style:
                flow = depth
        elif kind is alias or event is None:
            return None
        else:  # the end of a mapping or sequence
            if depth == flow:
                flow = None
            expect.pop()
            depth -= 1
    return all(values.values())


def _events_pass(data: bytes) -> bool | None:
    """Whether the first document passes, decided from libyaml's events without composing nodes.

    True: a mapping whose keys, at every depth, are scalars, with non-empty string ``kind`` and
    ``apiVersion`` (what :func:`_node_problem` accepts); False: it does not pass; None: undecided
    (anchors or aliases, which only composing resolves). Like composing, it reads the events of the
    first document and its end, nothing after.
    """
    loader = yaml.CSafeLoader(data)  # events only: no resolver needed
    try:
        loader.get_event()  # the stream start
        if not isinstance(loader.get_event(), yaml.DocumentStartEvent):
            return False  # an empty stream
        root = loader.get_event()
        if type(root) is not yaml.MappingStartEvent:
            return False
        if root.anchor is not None:
            return None
        verdict = _walk_root(loader, b"!" in data)
        if verdict is not None:
            loader.get_event()  # the document end
        return verdict
    except yaml.YAMLError:
        return False
    finally:
        loader.dispose()


def manifest_problem(data: bytes) -> str | None:
    """Why ``data`` fails oc's sanity check (the text after ``<file>: ``), or None when it passes.

    libyaml decides a pass, from the raw text and its parse when that suffices
    (:func:`okdrelease.payload.checktext.passes`, no Python event built), else from its events
    (:func:`_events_pass`), or when anchors or aliases leave that undecided, from the composed document; anything else is decided and worded by
    :func:`pure_problem`. Files libyaml reads more leniently than the pure loader go to it directly: a
    tab anywhere (the pure loader reads tabs as go-yaml does: :class:`GoLoader`), a UTF-8
    byte-order mark after the first byte (libyaml skips one at a line start; one that opens the file
    both skip), UTF-16 (found by its mark) and a ``\\/`` escape in a double-quoted scalar (go-yaml v2
    refuses it); so do files nested deep enough for the bounds' raw-text scan to refuse them.
    """
    if _FAST_LOADER is not None and not libyaml_may_differ(data) and not has_directive(data):
        try:
            check_text(data)
            # libyaml_may_differ parsed all of a text with a '\/' (to find where each one stands)
            if checktext.passes(data, parsed=b"\\/" in data):
                return None
            verdict = _events_pass(data)
            if verdict is None and not may_have_differing_tag(data):
                node, anchor_of = _first_document(data, fast=True)
                verdict = not has_differing_flow_plain(node) and _node_problem(node, data, anchor_of) is None
            if verdict:
                return None
        except (yaml.YAMLError, UnicodeDecodeError):  # (the latter: PyYAML's C wrapper, a %-escaped tag)
            pass
    located = go_syntax_error(data)  # a syntax error: the pure loader reads only the text near it
    if located is not None:
        return f"invalid YAML/JSON: {go_error_text(located)}"
    return pure_problem(data)
