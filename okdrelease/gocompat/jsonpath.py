"""kubectl's JSONPath templates (``-o jsonpath=…``), the subset ``oc adm release info`` users run.

Supported: literal text; ``{.a.b}`` field chains (``['a']`` too, whose text is a path as in kubectl:
``['a.b']`` is ``.a.b``, ``['a\\.b']`` the key ``a.b``); ``{.a[*]}``, ``{.a[0]}``, ``{.a[-1]}``,
``{.a[1:3]}``, ``{.a[::2]}`` and unions ``{.a[0,2]}``, ``{.m['x','y']}``; recursive descent
``{..name}``; filters ``{.a[?(@.name=="x")]}`` (``==``, ``!=``, ``<``, ``<=``, ``>``, ``>=``, or a
bare ``@.field`` for existence); ``{range EXPR}…{end}`` (``.`` inside is the element); string
literals ``{"\\n"}``; ``$`` for the root. Missing keys print nothing (kubectl's default). Values print
as kubectl prints them: strings raw, numbers as Go's ``%v`` of a float64, ``null``, objects and
arrays as compact JSON; several results of one expression are separated by a space. Indexes and
slices are kubectl's, errors included: bounds are checked, not clamped (``[0:5]`` of three items is
``array index out of bounds: index 4, length 3``), the step must be positive, an index or a filter of
something that is no list is an error, and the first empty slice of several lists ends the step.

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
from okdrelease.gocompat.gotemplate_fmt import go_type
from okdrelease.gocompat.strconv import go_quote

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
#: kubectl's sliceOperatorRex: ``[i]``, ``[i:j]``, ``[i:j:k]``, each part optional, nothing else.
_SLICE = re.compile(r"(?a)(-?\d*)(:-?\d*)?(:-?\d*)?\Z")
_DICT_KEY = re.compile(r"'([^']*)'\Z")
_INT64 = 1 << 63


@attrs.frozen
class _Slice:
    """kubectl's array parameters: ``start`` and ``step`` None when absent; ``end`` None when absent
    after a colon, ``start + 1`` (``derived``) for a single index."""

    __repr__ = value_repr

    start: int | None
    end: int | None
    step: int | None
    derived: bool = False


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
            steps.extend(_bracket(match["bracket"], template))
    return _Expr(tuple(steps), rooted)


def _unescape(name: str) -> str:
    """``io\\.openshift`` names the key ``io.openshift`` (kubectl's escaped dots)."""
    return re.sub(r"\\(.)", r"\1", name)


def _bracket(inner: str, template: str) -> tuple[tuple[str, Any], ...]:
    """The steps of ``[inner]``, parsed as kubectl parses them."""
    if inner.strip().startswith("?"):
        inner = inner.strip()
        match = _FILTER.match(inner)
        if match is None:
            raise JSONPathError(f"error parsing jsonpath {template}, unrecognized filter {inner}")
        path, op, literal = match.groups()
        value = json.loads(literal.replace("'", '"')) if literal is not None else None
        return (("filter", (tuple(path[1:].split(".")), op, value)),)
    if inner == "*":
        inner = ":"
    parts = inner.split(",")
    if len(parts) > 1:
        return (("union", tuple(_bracket(part.strip(" "), template) for part in parts)),)
    key = _DICT_KEY.match(inner)
    if key is not None:
        return _parse_expr("." + key[1], template).steps if key[1] else (("field", ""),)
    match = _SLICE.match(inner)
    if match is None:
        raise JSONPathError(f"error parsing jsonpath {template}, invalid array index {inner}")
    start, end, step = (_array_index(part, template) for part in match.groups())
    if match[2] is None:
        # a single index [i] is [i:i+1], an int that wraps as Go's does
        end = (start or 0) + 1
        return (("array", _Slice(start, end - 2 * _INT64 if end >= _INT64 else end, step, True)),)
    return (("array", _Slice(start, end, step)),)


def _array_index(part: str | None, template: str) -> int | None:
    """One slice parameter (after its colon): None when absent or empty, else Go's ``strconv.Atoi``."""
    text = (part or "").removeprefix(":")
    if not text:
        return None
    try:
        number = int(text)
    except ValueError:
        number = _INT64
    if not -_INT64 <= number < _INT64:
        raise JSONPathError(f"error parsing jsonpath {template}, array index {text} is not a number")
    return number


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


def _array(values: list[Any], params: _Slice) -> list[Any]:
    """kubectl's evalArray: each list sliced, bounds checked; an empty slice ends the step."""
    out: list[Any] = []
    for value in values:
        if value is None:
            continue
        if not isinstance(value, list):
            raise JSONPathError(f"{go_type(value)} is not array or slice")
        length = len(value)
        start = params.start or 0
        if start < 0:
            start += length
        end = length if params.end is None else params.end
        if end < 0 or (end == 0 and params.derived):
            end += length
        if start == end:
            # kubectl returns what it has at the first empty slice, leaving later lists out
            return out
        if not 0 <= start < length:
            raise JSONPathError(f"array index out of bounds: index {start}, length {length}")
        if not 0 <= end <= length:
            raise JSONPathError(f"array index out of bounds: index {end - 1}, length {length}")
        if start > end:
            raise JSONPathError(f"starting index {start} is greater than ending index {end}")
        if params.step is not None and params.step <= 0:
            raise JSONPathError("step must be > 0")
        out.extend(value[start : end : params.step or 1])
    return out


def _filter(values: list[Any], arg: Any, go_value: Callable[[Any], str]) -> list[Any]:
    out: list[Any] = []
    for value in values:
        if not isinstance(value, list):
            raise JSONPathError(f"{go_value(value)} is not array or slice and cannot be filtered")
        out.extend(item for item in value if _keep(item, *arg))
    return out


def _step(values: list[Any], kind: str, arg: Any, go_value: Callable[[Any], str]) -> list[Any]:
    if kind == "array":
        return _array(values, arg)
    if kind == "filter":
        return _filter(values, arg, go_value)
    if kind == "union":
        return [found for steps in arg for found in _steps(values, steps, go_value)]
    out: list[Any] = []
    for value in values:
        if kind == "field" and arg == "*":
            out.extend(_children(value))
        elif kind == "field" and isinstance(value, Mapping) and arg in value:
            out.append(value[arg])
        elif kind == "recurse":
            out.extend(_descend(value, arg))
    return out


def _steps(
    values: list[Any], steps: tuple[tuple[str, Any], ...], go_value: Callable[[Any], str]
) -> list[Any]:
    for kind, arg in steps:
        values = _step(values, kind, arg, go_value)
    return values


def _evaluate(expr: _Expr, current: Any, root: Any, go_value: Callable[[Any], str]) -> list[Any]:
    return _steps([root if expr.rooted else current], expr.steps, go_value)


def _text(value: Any, go_value: Callable[[Any], str]) -> str:
    from okdrelease.gocompat.gojson import marshal

    if isinstance(value, Mapping | list):
        return marshal(value).decode("utf-8")
    if value is None:
        return "null"
    return go_value(value)


def _render(
    nodes: tuple[Any, ...], current: Any, root: Any, out: list[Any], go_value: Callable[[Any], str]
) -> None:
    """Append text pieces and, for each expression, the list of its results."""
    for node in nodes:
        if isinstance(node, _Text):
            out.append(node.text)
        elif isinstance(node, _Range):
            for item in _evaluate(node.expr, current, root, go_value):
                _render(node.body, item, root, out, go_value)
        else:
            out.append(_evaluate(node, current, root, go_value))


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
        _render(nodes, data, data, out, go_value)
    except JSONPathError as err:
        # oc's first sentence; oc goes on with "Printing more information for debugging the
        # template:" and a dump of the whole object, left out here
        raise JSONPathError(
            f"error executing jsonpath {go_quote(template)}: Error executing template: {err}"
        ) from err
    if as_json:
        results = [value for piece in out if isinstance(piece, list) for value in piece]
        return marshal_indent(results, indent="    ").decode("utf-8") + "\n"
    return "".join(
        piece if isinstance(piece, str) else " ".join(_text(value, go_value) for value in piece)
        for piece in out
    )
