"""kubectl's JSONPath templates (``-o jsonpath=…``), the subset ``oc adm release info`` users run.

Supported: literal text; ``{.a.b}`` field chains (``['key.with.dots']`` too); ``{.a[*]}``,
``{.a[0]}``, ``{.a[-1]}``, ``{.a[1:3]}``; recursive descent ``{..name}``; filters
``{.a[?(@.name=="x")]}`` (``==``, ``!=``, ``<``, ``<=``, ``>``, ``>=``, or a bare ``@.field`` for
existence); ``{range EXPR}…{end}`` (``.`` inside is the element); string literals ``{"\\n"}``;
``$`` for the root. Missing keys print nothing (kubectl's default). Values print as kubectl prints
them: strings raw, numbers as Go's ``%v`` of a float64, ``null``, objects and arrays as compact
JSON; several results of one expression are separated by a space.

The data is the JSON document decoded as Go decodes it into ``interface{}`` (numbers are floats).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import attrs

from okdrelease._repr import value_repr
from okdrelease.errors import OkdReleaseError

__all__ = ["JSONPathError", "render_jsonpath"]


class JSONPathError(OkdReleaseError):
    """A JSONPath template that does not parse or cannot be evaluated."""


@attrs.frozen
class _Text:
    __repr__ = value_repr

    text: str


@attrs.frozen
class _Expr:
    __repr__ = value_repr

    steps: tuple[tuple[str, Any], ...]
    rooted: bool = False


@attrs.frozen
class _Range:
    __repr__ = value_repr

    expr: _Expr
    body: tuple[Any, ...]


_STEP = re.compile(
    r"""\.\.(?P<recurse>(?:[\w-]|\\.)+|\*)|\.(?P<field>(?:[\w-]|\\.)+|\*)"""
    r"""|\[(?P<bracket>(?:'[^']*'|"[^"]*"|[^\]'"])*)\]"""
)
_FILTER = re.compile(r"\?\(@((?:\.[\w-]+)+)\s*(?:(==|!=|<=|>=|<|>)\s*(.+?))?\s*\)\Z")
_SLICE = re.compile(r"(-?\d*):(-?\d*)(?::(-?\d+))?\Z")


def _parse_expr(text: str, template: str) -> _Expr:
    text = text.strip()
    rooted = text.startswith("$")
    if text.startswith(("$", "@")):
        text = text[1:]
    if text == ".":
        text = ""
    steps: list[tuple[str, Any]] = []
    position = 0
    while position < len(text):
        match = _STEP.match(text, position)
        if match is None:
            raise JSONPathError(
                f"error parsing jsonpath {template}, unrecognized identifier {text[position:]}"
            )
        position = match.end()
        if match["recurse"] is not None:
            steps.append(("recurse", _unescape(match["recurse"])))
        elif match["field"] is not None:
            steps.append(("field", _unescape(match["field"])))
        else:
            steps.append(_bracket(match["bracket"].strip(), template))
    return _Expr(tuple(steps), rooted)


def _unescape(name: str) -> str:
    """``io\\.openshift`` names the key ``io.openshift`` (kubectl's escaped dots)."""
    return re.sub(r"\\(.)", r"\1", name)


def _bracket(inner: str, template: str) -> tuple[str, Any]:
    if inner == "*":
        return ("field", "*")
    if inner[:1] in "'\"":
        return ("keys", tuple(part.strip()[1:-1] for part in inner.split(",")))
    if inner.startswith("?"):
        match = _FILTER.match(inner)
        if match is None:
            raise JSONPathError(f"error parsing jsonpath {template}, unrecognized filter {inner}")
        path, op, literal = match.groups()
        value = json.loads(literal.replace("'", '"')) if literal is not None else None
        return ("filter", (tuple(path[1:].split(".")), op, value))
    slice_match = _SLICE.match(inner)
    if slice_match is not None:
        start, end, step = (int(part) if part else None for part in slice_match.groups())
        return ("slice", (start, end, step))
    try:
        return ("index", int(inner))
    except ValueError:
        raise JSONPathError(f"error parsing jsonpath {template}, invalid array index {inner}") from None


def _tokens(template: str) -> Iterator[tuple[bool, str]]:
    """(is an action, text) pieces of ``template``: text outside braces and each ``{…}``."""
    position = 0
    while position < len(template):
        start = template.find("{", position)
        if start < 0:
            yield False, template[position:]
            return
        if start > position:
            yield False, template[position:start]
        end = _action_end(template, start)
        yield True, template[start + 1 : end]
        position = end + 1


def _action_end(template: str, start: int) -> int:
    quote = ""
    for index in range(start + 1, len(template)):
        char = template[index]
        if quote:
            if char == "\\":
                continue
            if char == quote and template[index - 1] != "\\":
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "}":
            return index
    raise JSONPathError(f"error parsing jsonpath {template}, unterminated action")


def _parse(template: str) -> tuple[Any, ...]:
    stack: list[tuple[_Expr | None, list[Any]]] = [(None, [])]
    for action, text in _tokens(template):
        body = stack[-1][1]
        stripped = text.strip()
        if not action:
            body.append(_Text(text))
        elif stripped.startswith("range "):
            stack.append((_parse_expr(stripped[6:], template), []))
        elif stripped == "end":
            if len(stack) == 1:
                raise JSONPathError(f"error parsing jsonpath {template}, not in range, nothing to end")
            expr, inner = stack.pop()
            assert expr is not None
            stack[-1][1].append(_Range(expr, tuple(inner)))
        elif stripped[:1] == '"':
            body.append(_Text(json.loads(stripped)))
        else:
            body.append(_parse_expr(stripped, template))
    if len(stack) != 1:
        raise JSONPathError(f"error parsing jsonpath {template}, unclosed range")
    return tuple(stack[0][1])


def _children(value: Any) -> list[Any]:
    if isinstance(value, Mapping):
        return [value[key] for key in sorted(value)]
    if isinstance(value, list):
        return list(value)
    return []


def _descend(value: Any, name: str) -> Iterator[Any]:
    if isinstance(value, Mapping):
        if name == "*":
            yield from _children(value)
        elif name in value:
            yield value[name]
    for child in _children(value):
        yield from _descend(child, name)


def _lookup(value: Any, path: tuple[str, ...]) -> tuple[bool, Any]:
    for name in path:
        if not isinstance(value, Mapping) or name not in value:
            return False, None
        value = value[name]
    return True, value


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "==": lambda a, b: bool(a == b),
    "!=": lambda a, b: bool(a != b),
    "<": lambda a, b: bool(a < b),
    "<=": lambda a, b: bool(a <= b),
    ">": lambda a, b: bool(a > b),
    ">=": lambda a, b: bool(a >= b),
}


def _keep(item: Any, path: tuple[str, ...], op: str | None, literal: Any) -> bool:
    found, value = _lookup(item, path)
    if op is None:
        return found
    try:
        return found and _COMPARE[op](value, literal)
    except TypeError:
        return False


def _step(values: list[Any], kind: str, arg: Any) -> list[Any]:
    out: list[Any] = []
    for value in values:
        if kind == "field" and arg == "*":
            out.extend(_children(value))
        elif kind == "field" and isinstance(value, Mapping) and arg in value:
            out.append(value[arg])
        elif kind == "keys" and isinstance(value, Mapping):
            out.extend(value[key] for key in arg if key in value)
        elif kind == "recurse":
            out.extend(_descend(value, arg))
        elif kind == "index" and isinstance(value, list):
            index = arg + len(value) if arg < 0 else arg
            if not 0 <= index < len(value):
                raise JSONPathError(f"array index out of bounds: index {arg}, length {len(value)}")
            out.append(value[index])
        elif kind == "slice" and isinstance(value, list):
            out.extend(value[slice(*arg)])
        elif kind == "filter" and isinstance(value, list):
            out.extend(item for item in value if _keep(item, *arg))
    return out


def _evaluate(expr: _Expr, current: Any, root: Any) -> list[Any]:
    values = [root if expr.rooted else current]
    for kind, arg in expr.steps:
        values = _step(values, kind, arg)
    return values


def _text(value: Any, go_value: Callable[[Any], str]) -> str:
    from okdrelease.gocompat.gojson import marshal

    if isinstance(value, Mapping | list):
        return marshal(value).decode("utf-8")
    if value is None:
        return "null"
    return go_value(value)


def _render(nodes: tuple[Any, ...], current: Any, root: Any, out: list[Any]) -> None:
    """Append text pieces and, for each expression, the list of its results."""
    for node in nodes:
        if isinstance(node, _Text):
            out.append(node.text)
        elif isinstance(node, _Range):
            for item in _evaluate(node.expr, current, root):
                _render(node.body, item, root, out)
        else:
            out.append(_evaluate(node, current, root))


def render_jsonpath(
    template: str, data: Any, *, go_value: Callable[[Any], str], as_json: bool = False
) -> str:
    """Evaluate the JSONPath ``template`` over ``data``; ``go_value`` prints scalars as Go's ``%v``.

    ``as_json`` (``-o jsonpath-as-json``) prints every result of every expression as one JSON array.
    """
    from okdrelease.gocompat.gojson import marshal_indent

    nodes = _parse(template)
    out: list[Any] = []
    try:
        _render(nodes, data, data, out)
    except JSONPathError as err:
        raise JSONPathError(f'error executing jsonpath "{template}": {err}') from err
    if as_json:
        results = [value for piece in out if isinstance(piece, list) for value in piece]
        return marshal_indent(results, indent="    ").decode("utf-8") + "\n"
    return "".join(
        piece if isinstance(piece, str) else " ".join(_text(value, go_value) for value in piece)
        for piece in out
    )
