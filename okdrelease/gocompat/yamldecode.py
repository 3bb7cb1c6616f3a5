"""A composed YAML document read as sigs.k8s.io/yaml reads it into ``interface{}``: go-yaml v2 decodes
the node tree (scalars resolved by their tags, merge keys, aliases), then the value is converted to JSON.

:func:`go_decode` returns the Go value (Python values standing for Go's: ``None`` for nil, :class:`GoUint`
for a uint64, :class:`GoMap` for ``map[interface{}]interface{}``) or raises :class:`GoDecodeError` in
go-yaml's words (``cannot decode !!str `x` as a !!int``, ``invalid map key: ...``, ``anchor 'a' value
contains itself``, ``document contains excessive aliasing``, ...), the first in go-yaml's decoding order.
:func:`json_problem` is the refusal of the JSON conversion that follows (a nil or uint64 map key, a NaN or
infinite number). :func:`go_sharp_v` is Go's ``%#v`` of a decoded value.

The nodes are PyYAML's, composed by a loader whose resolver gives an untagged plain scalar go-yaml's tag
(:func:`go_implicit_tag`) and whose composer keeps the non-specific tag ``!`` (go-yaml reads such a scalar
as text): a scalar's tag then says what go-yaml makes of it.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Callable, Generator, Iterator
from typing import Any

import yaml
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from okdrelease.gocompat import goyaml
from okdrelease.gocompat.goyaml import go_implicit_tag
from okdrelease.gocompat.strconv import go_quote
from okdrelease.gocompat.yamlbounds import (
    EXCESSIVE_ALIASING,
    MAX_DEPTH,
    BoundedLoaderMixin,
    GoBlanksMixin,
    GoEscapesMixin,
    GoFlowPlainMixin,
    GoSimpleKeysMixin,
    YAMLLimitError,
    allowed_alias_ratio,
    max_depth_message,
)
from okdrelease.gocompat.yamlreader import GoReaderMixin

__all__ = [
    "GoDecodeError",
    "GoLoader",
    "GoMap",
    "GoResolvingMixin",
    "GoUint",
    "CHECK_KEY_WORD",
    "DECODER_KEY_WORD",
    "go_decode",
    "go_implicit_tag",
    "go_sharp_v",
    "json_problem",
    "json_value",
]

_PREFIX = "tag:yaml.org,2002:"
_BINARY = _PREFIX + "binary"
#: Tags go-yaml v2 resolves a scalar's text against (any other tag keeps the text as a string).
_RESOLVABLE = frozenset(
    ("", goyaml.STR, goyaml.BOOL, goyaml.INT, goyaml.FLOAT, goyaml.NULL, goyaml.TIMESTAMP)
)
_INT64_MAX = (1 << 63) - 1


class GoDecodeError(ValueError):
    """go-yaml v2 refused to decode the document (the message is its text after ``yaml: ``)."""


class GoUint(int):
    """A Go ``uint64`` (go-yaml's value for an integer past int64): ``%#v`` writes it in hexadecimal."""


class GoMap:
    """A Go ``map[interface{}]interface{}``: keys of different Go types stay apart (``1``, ``1.0``,
    ``true`` are three keys), and a later value of a key replaces the earlier one."""

    __slots__ = ("_items",)

    def __init__(self) -> None:
        self._items: dict[tuple[int, Any], tuple[Any, Any]] = {}

    def __setitem__(self, key: Any, value: Any) -> None:
        self._items[(_go_type(key), key)] = (key, value)

    def get(self, key: str) -> Any:
        """The value of the string key ``key``, or None."""
        pair = self._items.get((_STRING, key))
        return None if pair is None else pair[1]

    def items(self) -> Iterator[tuple[Any, Any]]:
        """The (key, value) pairs, in the order the keys were first set."""
        return iter(self._items.values())

    def __len__(self) -> int:
        return len(self._items)


# Go's types of decoded scalars, in the order Go's fmt sorts map keys of those types as the real oc's
# binary does (nil first; then by type: string, uint64, int, float64, bool).
_NIL, _STRING, _UINT, _INT, _FLOAT, _BOOL, _OTHER = range(7)


def _go_type(value: Any) -> int:
    if value is None:
        return _NIL
    if isinstance(value, str):
        return _STRING
    if isinstance(value, bool):
        return _BOOL
    if isinstance(value, GoUint):
        return _UINT
    if isinstance(value, int):
        return _INT
    if isinstance(value, float):
        return _FLOAT
    return _OTHER


def _short_tag(tag: str) -> str:
    return "!!" + tag[len(_PREFIX) :] if tag.startswith(_PREFIX) else tag


class GoResolvingMixin:
    """Put before a PyYAML loader in its bases to compose nodes :func:`go_decode` reads: an untagged plain
    scalar tagged as go-yaml resolves it (:func:`go_implicit_tag`); with the pure-Python composer also a
    scalar tagged ``!`` keeping that tag (go-yaml reads it as text; PyYAML resolves it), a repeated anchor
    taken, and each anchored node's name kept (:meth:`anchor_of`)."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        """go-yaml's tag of an untagged plain scalar; PyYAML's for everything else."""
        if kind is ScalarNode and implicit[0]:
            return go_implicit_tag(value)
        return super().resolve(kind, value, implicit)  # type: ignore[misc]

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        """Compose a node, keeping its anchor's name; a repeated anchor replaces the earlier one, as in
        go-yaml (PyYAML refuses it)."""
        me: Any = self
        anchor = None if me.check_event(AliasEvent) else me.peek_event().anchor
        if anchor is not None:
            me.anchors.pop(anchor, None)
        node: Node | None = super().compose_node(parent, index)  # type: ignore[misc]
        if anchor is not None:
            if not hasattr(self, "_anchor_names"):
                self._anchor_names: dict[int, str] = {}
            self._anchor_names[id(node)] = anchor
        return node

    def compose_scalar_node(self, anchor: Any) -> ScalarNode:
        """Compose a scalar; one tagged ``!`` keeps that tag."""
        me: Any = self
        tag = me.peek_event().tag
        node: ScalarNode = super().compose_scalar_node(anchor)  # type: ignore[misc]
        if tag == "!":
            node.tag = "!"
        return node

    def anchor_of(self, node: Node) -> str:
        """The name of ``node``'s anchor (``""`` when it has none)."""
        names: dict[int, str] = getattr(self, "_anchor_names", {})
        return names.get(id(node), "")


# typeshed declares Scanner.ESCAPE_REPLACEMENTS Final; GoEscapesMixin replaces it with go-yaml v2's escapes
class GoLoader(  # type: ignore[misc]
    BoundedLoaderMixin,
    GoReaderMixin,
    GoEscapesMixin,
    GoFlowPlainMixin,
    GoSimpleKeysMixin,
    GoBlanksMixin,
    GoResolvingMixin,
    yaml.SafeLoader,
):
    """The pure-Python loader composing nodes as go-yaml v2 reads the text (what of it its reader decodes
    and refuses, its tabs and byte-order marks between tokens, escapes, directives and simple keys), for
    :func:`go_decode`: the one that decides and words what libyaml's fast paths do not take (the manifest
    check's, ``-f``'s, image-references' and ``extract``'s)."""


def _number(tag: str, value: Any) -> Any:
    if tag == goyaml.INT and value > _INT64_MAX:
        return GoUint(value)
    return value


def _scalar(node: ScalarNode) -> Any:
    """go-yaml v2's ``resolve`` of a scalar's text against its tag, then what it keeps in ``interface{}``."""
    tag, text = node.tag, node.value
    if tag == _BINARY:
        try:
            data = base64.b64decode(text.replace("\n", "").replace("\r", ""), validate=True)
        except (binascii.Error, ValueError):
            raise GoDecodeError("!!binary value contains invalid base64 data") from None
        return data.decode("utf-8", "surrogateescape")
    if tag not in _RESOLVABLE:
        return text  # the merge key, ``!`` and every other tag: the text
    if tag == goyaml.STR:
        return text
    found, value = goyaml.resolve(text, timestamps=tag == goyaml.TIMESTAMP)
    if found == tag:
        return text if tag == goyaml.TIMESTAMP else _number(found, value)
    if tag == goyaml.FLOAT and found == goyaml.INT and value <= _INT64_MAX:
        return float(value)
    raise GoDecodeError(f"cannot decode {_short_tag(found)} `{text}` as a {_short_tag(tag)}")


def _is_merge(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.value == "<<" and node.tag in (goyaml.MERGE, "!")


def _alias_positions(root: Node) -> dict[int, frozenset[int]]:
    """The positions of aliases in the document ``root``: for a collection node's id, the indexes of its
    children that are aliases (a mapping's key ``i`` is child ``2 * i``, its value ``2 * i + 1``).

    PyYAML gives an alias its anchor's very node; in document order a node's first occurrence is the
    anchored node itself and every later occurrence is an alias (an alias names an anchor before it).
    """
    seen: set[int] = set()
    found: dict[int, set[int]] = {}
    stack: list[tuple[int, int, Node]] = [(0, 0, root)]
    while stack:  # pre-order, children pushed last first: document order
        parent, index, node = stack.pop()
        if id(node) in seen:
            found.setdefault(parent, set()).add(index)
            continue
        seen.add(id(node))
        if isinstance(node, SequenceNode):
            me = id(node)
            for i in range(len(node.value) - 1, -1, -1):
                stack.append((me, i, node.value[i]))
        elif isinstance(node, MappingNode):
            me = id(node)
            for i in range(len(node.value) - 1, -1, -1):
                key_node, value_node = node.value[i]
                stack.append((me, 2 * i + 1, value_node))
                stack.append((me, 2 * i, key_node))
    return {parent: frozenset(indexes) for parent, indexes in found.items()}


_NO_ALIASES: frozenset[int] = frozenset()
#: What :meth:`_Decoder._decode` yields (a node to decode, the map a merge sets its pairs in, the alias
#: naming it), is sent (the node's value) and returns.
_Decoding = Generator[tuple[Node, "GoMap | None", "tuple[int, int] | None"], Any, Any]


class _Decoder:
    """go-yaml v2's decoder into ``interface{}`` over PyYAML nodes, where an alias is its anchor's very node
    met again at another position (:func:`_alias_positions`): each alias position decoded is one more
    decoded node, and one met again while it is being expanded contains itself."""

    def __init__(self, root: Node, anchor_of: Callable[[Node], str]) -> None:
        self._anchor_of = anchor_of
        self._aliases = _alias_positions(root)
        self._decoded = 1  # the document
        self._aliased = 0
        self._alias_depth = 0
        self._open: set[tuple[int, int]] = set()

    def _count(self) -> None:
        """go-yaml's count of decoded nodes, and of those decoded through an alias, against its ratio."""
        self._decoded += 1
        if self._alias_depth:
            self._aliased += 1
            if (
                self._aliased > 100
                and self._decoded > 1000
                and self._aliased / self._decoded > allowed_alias_ratio(self._decoded)
            ):
                raise GoDecodeError(EXCESSIVE_ALIASING)

    def _alias_at(self, node: Node) -> frozenset[int]:
        """The indexes of ``node``'s children that are aliases."""
        return self._aliases.get(id(node), _NO_ALIASES)

    def decode(self, root: Node) -> Any:
        """The value of the document ``root``: :meth:`_decode`'s generators driven from one loop, a stack
        of them in place of recursion (a document nested deep through aliases is as deep as go-yaml lets
        its aliases make it, past Python's recursion limit)."""
        stack = [self._decode(root, None, None)]
        value: Any = None
        while True:
            try:
                request = stack[-1].send(value)
            except StopIteration as done:
                stack.pop()
                if not stack:
                    return done.value
                value = done.value
                continue
            stack.append(self._decode(*request))
            value = None

    def _scalar_at(self, node: Node, alias: tuple[int, int] | None) -> bool:
        """Whether the child ``node`` is decoded in place: a scalar standing where it is (not an alias)."""
        return alias is None and isinstance(node, ScalarNode)

    def _decode(self, node: Node, into: GoMap | None, alias: tuple[int, int] | None) -> _Decoding:
        """Decode ``node`` (a mapping's pairs set in ``into`` when given, as a merge does); ``alias`` the
        (parent id, index) of the alias that names it there, None where ``node`` itself stands. Yields
        each child collection or alias to decode (node, into, alias) and is sent its value; scalars
        standing in place are decoded at once."""
        if alias is not None:
            self._count()  # the alias
            if alias in self._open:
                raise GoDecodeError(f"anchor '{self._anchor_of(node)}' value contains itself")
            self._open.add(alias)
            self._alias_depth += 1
        try:
            self._count()
            if isinstance(node, ScalarNode):
                return _scalar(node)
            aliases = self._alias_at(node)
            me = id(node)
            if isinstance(node, SequenceNode):
                items = []
                for i, item in enumerate(node.value):
                    at = (me, i) if i in aliases else None
                    if self._scalar_at(item, at):
                        self._count()
                        items.append(_scalar(item))
                    else:
                        items.append((yield (item, None, at)))
                return items
            out = GoMap() if into is None else into
            yield from self._mapping(node, out, aliases)  # type: ignore[arg-type]
            return out
        finally:
            if alias is not None:
                self._alias_depth -= 1
                self._open.discard(alias)

    def _mapping(self, node: MappingNode, out: GoMap, aliases: frozenset[int]) -> _Decoding:
        me = id(node)
        for i, (key_node, value_node) in enumerate(node.value):
            at = 2 * i + 1
            value_alias = (me, at) if at in aliases else None
            if _is_merge(key_node):
                yield from self._merge(value_node, out, value_alias)
                continue
            key_alias = (me, 2 * i) if 2 * i in aliases else None
            if self._scalar_at(key_node, key_alias):
                self._count()
                key = _scalar(key_node)
            else:
                key = yield (key_node, None, key_alias)
            if isinstance(key, list | GoMap):
                raise GoDecodeError(f"invalid map key: {go_sharp_v(key)}")
            if self._scalar_at(value_node, value_alias):
                self._count()
                out[key] = _scalar(value_node)
            else:
                out[key] = yield (value_node, None, value_alias)

    def _merge(self, node: Node, out: GoMap, alias: tuple[int, int] | None) -> _Decoding:
        """go-yaml v2's merge into ``out``: a mapping (or an alias of one), or a sequence (not an alias)
        of mappings (or aliases of mappings) walked last first, so that earlier ones win, each checked
        just before it is decoded."""
        if isinstance(node, SequenceNode) and alias is None:
            aliases = self._alias_at(node)
            me = id(node)
            for i in range(len(node.value) - 1, -1, -1):
                part = node.value[i]
                if not isinstance(part, MappingNode):
                    raise GoDecodeError(_MERGE_WANTS_MAP)
                yield (part, out, (me, i) if i in aliases else None)
            return
        if not isinstance(node, MappingNode):
            raise GoDecodeError(_MERGE_WANTS_MAP)
        yield (node, out, alias)


_MERGE_WANTS_MAP = "map merge requires map or sequence of maps as the value"


def compose_first(data: bytes, loader_class: type[Any]) -> tuple[Node | None, Callable[[Node], str]]:
    """The node of the first document of ``data`` composed by ``loader_class`` (None if empty), and the
    name of a node's anchor (``""`` where the loader does not name anchors, as libyaml's composer)."""
    loader = loader_class(data)
    try:
        node = loader.get_node() if loader.check_node() else None
    finally:
        loader.dispose()
    return node, getattr(loader, "anchor_of", lambda anchored: "")


def go_decode(node: Node | None, anchor_of: Callable[[Node], str] = lambda node: "") -> Any:
    """The Go value go-yaml v2 decodes the document ``node`` into (None for an empty document).

    ``anchor_of`` names a node's anchor (for ``anchor '%s' value contains itself``). Raises
    :class:`GoDecodeError` in go-yaml's words. No recursion: a document nested deep through aliases (as
    deep as go-yaml's aliasing ratio lets it become, thousands of levels) is decoded as go-yaml decodes
    it; only the ``%#v`` of an invalid map key recurses (RecursionError for one nested that deep).
    """
    if node is None:
        return None
    return _Decoder(node, anchor_of).decode(node)


def go_sharp_v(value: Any, nested: bool = True) -> str:
    """Go's ``%#v`` of a decoded value; ``nested`` False for an operand that is itself a nil interface
    (``<nil>``, where an element is ``interface {}(nil)``)."""
    if value is None:
        return "interface {}(nil)" if nested else "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, GoUint):
        return f"0x{int(value):x}"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _go_float(value)
    if isinstance(value, str):
        return go_quote(value)
    parts = []  # loops, not generators: one frame per level of nesting
    if isinstance(value, list):
        for item in value:
            parts.append(go_sharp_v(item))
        return "[]interface {}{" + ", ".join(parts) + "}"
    for key, item in sorted(value.items(), key=lambda pair: _key_order(pair[0])):
        parts.append(f"{go_sharp_v(key)}:{go_sharp_v(item)}")
    return "map[interface {}]interface {}{" + ", ".join(parts) + "}"


def _key_order(key: Any) -> tuple[int, Any]:
    """Go's fmt order of map keys: by type (:data:`_NIL` ...), then by value (NaN first among floats)."""
    kind = _go_type(key)
    if kind == _FLOAT:
        return (kind, (0, 0.0) if math.isnan(key) else (1, key))
    if kind == _STRING:
        return (kind, key.encode("utf-8", "surrogateescape"))
    return (kind, 0 if key is None else key)


def _go_float(value: float) -> str:
    """Go's ``%v`` of a float64: strconv's shortest 'g' (:func:`goyaml.format_float_g`), with Go's own
    spelling of NaN and the infinities."""
    if value != value:
        return "NaN"
    if value in (math.inf, -math.inf):
        return "+Inf" if value > 0 else "-Inf"
    return goyaml.format_float_g(value)


#: The first word of sigs.k8s.io/yaml's refusal of a map key, as the copies oc vendors spell it: the one the
#: manifest check and ``new -f`` read with (:data:`CHECK_KEY_WORD`), and the Kubernetes decoder's, which
#: ``extract`` reads manifests with (:data:`DECODER_KEY_WORD`), both measured on the real oc.
CHECK_KEY_WORD, DECODER_KEY_WORD = "Unsupported", "unsupported"


def json_problem(value: Any, key_word: str = CHECK_KEY_WORD) -> str | None:
    """Why sigs.k8s.io/yaml cannot turn the decoded ``value`` into JSON, in its words, or None: a map key
    JSON has no string for (nil, a uint64; the refusal's first word ``key_word``), then a NaN or infinite
    number (in JSON's key order)."""
    unsupported = _unsupported_key(value, key_word)
    if unsupported is not None:
        return unsupported
    bad = _non_finite(value)
    return None if bad is None else f"json: unsupported value: {_go_float(bad)}"


def _unsupported_key(value: Any, key_word: str) -> str | None:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(reversed(item))
        elif isinstance(item, GoMap):
            pairs = list(item.items())
            for key, child in pairs:
                if key is None or isinstance(key, GoUint):
                    kind = "%!s(<nil>)" if key is None else "uint64"
                    return (
                        f"{key_word} map key of type: {kind}, key: {go_sharp_v(key, nested=False)}, "
                        f"value: {go_sharp_v(child, nested=False)}"
                    )
            stack.extend(child for _, child in reversed(pairs))
    return None


def _non_finite(value: Any) -> float | None:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return item
        if isinstance(item, list):
            stack.extend(reversed(item))
        elif isinstance(item, GoMap):
            by_key = {goyaml.json_key_text(k): v for k, v in item.items()}
            stack.extend(by_key[k] for k in sorted(by_key, reverse=True))
    return None


def json_value(value: Any, levels: int = MAX_DEPTH) -> Any:
    """The decoded ``value`` as sigs.k8s.io/yaml hands it on: JSON's values (map keys as JSON strings, text
    with bytes that are not UTF-8 mended as JSON's encoder mends them). Assumes :func:`json_problem` is None.

    Raises YAMLLimitError for a value nested more than ``levels`` deep (the root and a scalar each a level),
    which nesting through aliases can reach in text that is not deep: what takes the value recurses on it.
    """
    if levels <= 0:
        raise YAMLLimitError(max_depth_message())
    if isinstance(value, GoMap):
        return {goyaml.json_key_text(k): json_value(v, levels - 1) for k, v in value.items()}
    if isinstance(value, list):
        return [json_value(item, levels - 1) for item in value]
    if isinstance(value, GoUint):
        return int(value)
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return value
