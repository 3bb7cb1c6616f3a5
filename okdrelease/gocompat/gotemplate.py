"""Go ``text/template`` for ``-o template=…``/``-o go-template=…``, the subset oc users run.

Supported: text and ``{{pipeline}}`` actions with ``{{-``/``-}}`` trimming and ``{{/* comments */}}``;
fields ``.a.b``, ``.``, ``$``, variables (``{{$x := .a}}``, ``{{range $i, $v := .list}}``);
``{{if}}``/``{{else if}}``/``{{else}}``/``{{end}}``, ``{{range}}`` (lists, and maps in key order,
with ``{{else}}``), ``{{with}}``; pipelines with ``|``; string, raw-string, number, ``true``,
``false`` and ``nil`` literals; the functions ``index``, ``len``, ``printf`` (Go's verbs, flags,
width and precision, ``gotemplate_fmt``), ``print``, ``println``, ``eq``, ``ne``, ``lt``, ``le``,
``gt``, ``ge``, ``and``, ``or``, ``not`` and kubectl's ``base64decode``. A missing key prints
``<no value>``, as kubectl's default. The data is the JSON document as kubectl's template printer
decodes it: whole numbers are ``int64``, other numbers ``float64``. A value of the wrong type for
``len`` or ``index`` is Go's error; for a ``printf`` verb it prints as Go prints it (``%!d(string=x)``).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import attrs

from okdrelease._repr import value_repr
from okdrelease.errors import OkdReleaseError
from okdrelease.gocompat.gotemplate_fmt import Int64, go_type, sprint_value, sprintf
from okdrelease.gocompat.strconv import go_quote

__all__ = ["TemplateError", "render_template"]


class TemplateError(OkdReleaseError):
    """A template that does not parse or fails while executing (the message says where)."""


class _Missing:
    """The value of a missing map key (Go's invalid reflect.Value)."""

    def __repr__(self) -> str:
        return "<no value>"


MISSING = _Missing()

_ACTION = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.S)
_TOKEN = re.compile(
    r"""\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<raw>`[^`]*`)|(?P<op>:=|[()|,=])"""
    r"""|(?P<var>\$[\w]*(?:\.[\w]+)*)|(?P<field>(?:\.[\w]+)+|\.)|(?P<num>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)|(?P<ident>[A-Za-z_]\w*))"""
)


@attrs.frozen
class _Cmd:
    __repr__ = value_repr

    args: tuple[
        Any, ...
    ]  # ("field", names) | ("var", name, names) | ("lit", value) | ("fn", name) | ("pipe", _Pipe)


@attrs.frozen
class _Pipe:
    __repr__ = value_repr

    decl: tuple[str, ...]
    cmds: tuple[_Cmd, ...]


@attrs.frozen
class _Block:
    __repr__ = value_repr

    kind: str  # if, range, with
    pipe: _Pipe
    body: tuple[Any, ...]
    orelse: tuple[Any, ...]


def _lex(template: str) -> Iterator[tuple[str, str]]:
    """("text", text) and ("action", body) pieces, with trim markers applied to the text around them."""
    pieces: list[tuple[str, str]] = []
    position = 0
    for match in _ACTION.finditer(template):
        text = template[position : match.start()]
        if match.group(1):
            text = text.rstrip()
        pieces.append(("text", text))
        pieces.append(("action", match.group(2).strip()))
        position = match.end()
        if match.group(3):
            rest = template[position:]
            position += len(rest) - len(rest.lstrip())
    if "{{" in template[position:]:
        raise TemplateError("unclosed action")
    pieces.append(("text", template[position:]))
    return (piece for piece in pieces if piece != ("text", ""))


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    position = 0
    while position < len(text.rstrip()):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise TemplateError(f'unexpected "{text[position:].strip()}" in command')
        kind = match.lastgroup
        assert kind is not None
        out.append((kind, match.group(kind)))
        position = match.end()
    return out


def _parse_pipe(tokens: list[tuple[str, str]]) -> _Pipe:
    decl: list[str] = []
    if ("op", ":=") in tokens or ("op", "=") in tokens:
        split = next(i for i, tok in enumerate(tokens) if tok in (("op", ":="), ("op", "=")))
        decl = [value for kind, value in tokens[:split] if kind == "var"]
        tokens = tokens[split + 1 :]
    cmds: list[_Cmd] = []
    args: list[Any] = []
    index = 0
    while index < len(tokens):
        kind, value = tokens[index]
        index += 1
        if (kind, value) == ("op", "|"):
            cmds.append(_Cmd(tuple(args)))
            args = []
        elif (kind, value) == ("op", "("):
            depth, end = 1, index
            while depth:
                if end >= len(tokens):
                    raise TemplateError("unclosed left paren")
                depth += {("op", "("): 1, ("op", ")"): -1}.get(tokens[end], 0)
                end += 1
            args.append(("pipe", _parse_pipe(tokens[index : end - 1])))
            index = end
        else:
            args.append(_operand(kind, value))
    if args:
        cmds.append(_Cmd(tuple(args)))
    if not cmds:
        raise TemplateError("missing value for command")
    return _Pipe(tuple(decl), tuple(cmds))


def _operand(kind: str, value: str) -> tuple[Any, ...]:
    if kind == "field":
        return ("field", tuple(part for part in value.split(".") if part))
    if kind == "var":
        name, *names = value.split(".")
        return ("var", name, tuple(names))
    if kind == "str":
        return ("lit", json.loads(value))
    if kind == "raw":
        return ("lit", value[1:-1])
    if kind == "num":
        return ("lit", float(value) if any(c in value for c in ".eE") else int(value))
    if kind == "ident" and value in ("true", "false", "nil"):
        # nil is Go's untyped nil: like a missing key, no value at all (null data is a nil interface)
        return ("lit", {"true": True, "false": False, "nil": MISSING}[value])
    if kind == "ident":
        if value not in FUNCTIONS:
            raise TemplateError(f'function "{value}" not defined')
        return ("fn", value)
    raise TemplateError(f'unexpected "{value}" in operand')


FUNCTIONS = frozenset(
    {
        "index",
        "len",
        "not",
        "and",
        "or",
        "base64decode",
        "printf",
        "print",
        "println",
        "eq",
        "ne",
        "lt",
        "le",
        "gt",
        "ge",
    }
)


def _parse(template: str) -> tuple[Any, ...]:
    try:
        return _parse_nodes(template)
    except TemplateError as err:
        raise TemplateError(f"error parsing template {template}, template: output:1: {err}") from err


def _parse_nodes(template: str) -> tuple[Any, ...]:
    # stack entries: (kind, pipe, body, orelse or None while in the body)
    stack: list[list[Any]] = [["root", None, [], None]]
    for kind, text in _lex(template):
        frame = stack[-1]
        target: list[Any] = frame[3] if frame[3] is not None else frame[2]
        if kind == "text":
            target.append(text)
        elif text.startswith("/*"):
            continue
        elif text.split(" ", 1)[0] in ("if", "range", "with"):
            word, _, rest = text.partition(" ")
            stack.append([word, _parse_pipe(_tokens(rest)), [], None])
        elif text == "else" or text.startswith("else "):
            _else(stack, text)
        elif text == "end":
            _end(stack)
        else:
            target.append(_parse_pipe(_tokens(text)))
    if len(stack) != 1:
        raise TemplateError("unexpected EOF")
    return tuple(stack[0][2])


def _else(stack: list[list[Any]], text: str) -> None:
    frame = stack[-1]
    if frame[0] == "root" or frame[3] is not None:
        raise TemplateError("unexpected {{else}}")
    frame[3] = []
    rest = text[4:].strip()
    if rest.startswith("if "):  # {{else if X}}: an if inside the else branch, closed by the same {{end}}
        stack.append(["elif", _parse_pipe(_tokens(rest[3:])), [], None])


def _end(stack: list[list[Any]]) -> None:
    while True:
        if len(stack) == 1:
            raise TemplateError("unexpected {{end}}")
        kind, pipe, body, orelse = stack.pop()
        block = _Block("if" if kind == "elif" else kind, pipe, tuple(body), tuple(orelse or ()))
        parent = stack[-1]
        (parent[3] if parent[3] is not None else parent[2]).append(block)
        if kind != "elif":
            return


def truth(value: Any) -> bool:
    """Go template truth: false, 0, nil, empty string/list/map and missing values are false."""
    if value is MISSING or value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str | list | Mapping):
        return len(value) > 0
    return True


@attrs.define
class _Exec:
    __repr__ = value_repr

    root: Any
    go_value: Callable[[Any], str]
    out: list[str] = attrs.Factory(list)

    def text(self, value: Any) -> str:
        if value is MISSING or value is None:
            return "<no value>"
        return self.value(value)

    def value(self, value: Any) -> str:
        """Go's ``%v`` (a function argument: nil is ``<nil>``)."""
        return sprint_value(None if value is MISSING else value, self.go_value)

    def run(self, nodes: tuple[Any, ...], dot: Any, scope: dict[str, Any]) -> None:
        for node in nodes:
            if isinstance(node, str):
                self.out.append(node)
            elif isinstance(node, _Pipe):
                value = self.pipe(node, dot, scope)
                if not node.decl:
                    self.out.append(self.text(value))
            else:
                self.block(node, dot, scope)

    def block(self, node: _Block, dot: Any, scope: dict[str, Any]) -> None:
        inner = dict(scope)
        value = self.pipe(_Pipe((), node.pipe.cmds), dot, inner)
        if node.kind == "range":
            items = _range_items(value)
            for key, item in items:
                if len(node.pipe.decl) == 2:
                    inner[node.pipe.decl[0]], inner[node.pipe.decl[1]] = key, item
                elif node.pipe.decl:
                    inner[node.pipe.decl[0]] = item
                self.run(node.body, item, inner)
            if not items:
                self.run(node.orelse, dot, inner)
            return
        if node.pipe.decl:
            inner[node.pipe.decl[0]] = value
        if truth(value):
            self.run(node.body, value if node.kind == "with" else dot, inner)
        else:
            self.run(node.orelse, dot, inner)

    def pipe(self, pipe: _Pipe, dot: Any, scope: dict[str, Any]) -> Any:
        value: Any = MISSING
        for index, cmd in enumerate(pipe.cmds):
            value = self.command(cmd, dot, scope, value if index else None, index > 0)
        if pipe.decl:
            scope[pipe.decl[0]] = value
        return value

    def command(self, cmd: _Cmd, dot: Any, scope: dict[str, Any], piped: Any, has_piped: bool) -> Any:
        first = cmd.args[0]
        if first[0] == "fn":
            args = [self.operand(arg, dot, scope) for arg in cmd.args[1:]]
            if has_piped:
                args.append(piped)
            return _call(first[1], args, self)
        if len(cmd.args) > 1 or has_piped:
            raise TemplateError("can't give argument to non-function")
        return self.operand(first, dot, scope)

    def operand(self, arg: tuple[Any, ...], dot: Any, scope: dict[str, Any]) -> Any:
        if arg[0] == "lit":
            return arg[1]
        if arg[0] == "pipe":
            return self.pipe(arg[1], dot, scope)
        if arg[0] == "fn":
            return _call(arg[1], [], self)
        if arg[0] == "var":
            name = arg[1]
            if name == "$":
                base = self.root
            elif name in scope:
                base = scope[name]
            else:
                raise TemplateError(f"undefined variable: {name}")
            return _fields(base, arg[2])
        return _fields(dot, arg[1])


def _fields(value: Any, names: tuple[str, ...]) -> Any:
    for name in names:
        if isinstance(value, Mapping):
            value = value.get(name, MISSING)
        elif value is None or value is MISSING:
            raise TemplateError(f"nil pointer evaluating interface {{}}.{name}")
        else:
            # the value came out of the data's maps and lists: Go names its static type
            raise TemplateError(f"can't evaluate field {name} in type interface {{}}")
    return value


def _int64_numbers(value: Any) -> Any:
    """The data as kubectl's template printer decodes it: a whole number that fits is an int64."""
    if isinstance(value, float) and value.is_integer() and -(1 << 63) <= value < (1 << 63):
        return Int64(int(value))
    if isinstance(value, Mapping):
        return {key: _int64_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_int64_numbers(item) for item in value]
    return value


def _range_items(value: Any) -> list[tuple[Any, Any]]:
    if isinstance(value, Mapping):
        return [(key, value[key]) for key in sorted(value)]
    if isinstance(value, list):
        return list(enumerate(value))
    if value is None or value is MISSING:
        return []
    raise TemplateError(f"range can't iterate over {value}")


def _index(args: list[Any]) -> Any:
    value = args[0]
    for key in args[1:]:
        if value is None or value is MISSING:
            raise TemplateError("error calling index: index of untyped nil")
        if isinstance(value, list | str):
            items = value.encode("utf-8", "surrogateescape") if isinstance(value, str) else value
            if key is None or key is MISSING:
                raise TemplateError("error calling index: cannot index slice/array with nil")
            if not isinstance(key, int) or isinstance(key, bool):
                raise TemplateError(f"error calling index: cannot index slice/array with type {go_type(key)}")
            if not 0 <= key < len(items):
                raise TemplateError(f"error calling index: index out of range: {key}")
            value = items[key]
        elif isinstance(value, Mapping):
            if not isinstance(key, str):
                raise TemplateError(f"error calling index: value has type {go_type(key)}; should be string")
            value = value.get(key, MISSING)
        else:
            raise TemplateError(f"error calling index: can't index item of type {go_type(value)}")
    return value


def _len(value: Any) -> int:
    if value is MISSING:
        raise TemplateError("error calling len: reflect: call of reflect.Value.Type on zero Value")
    if value is None:
        raise TemplateError("error calling len: len of nil pointer")
    if isinstance(value, str):
        return len(value.encode("utf-8", "surrogateescape"))
    if isinstance(value, list | Mapping):
        return len(value)
    raise TemplateError(f"error calling len: len of type {go_type(value)}")


def _printf(args: list[Any], ex: _Exec) -> str:
    if not isinstance(args[0], str):
        raise TemplateError(f"expected string; found {ex.value(args[0])}")
    values = [None if value is MISSING else value for value in args[1:]]
    return sprintf(args[0], values, ex.go_value)


def _sprint(args: list[Any], ex: _Exec) -> str:
    out: list[str] = []
    for index, value in enumerate(args):
        if index and not isinstance(value, str) and not isinstance(args[index - 1], str):
            out.append(" ")
        out.append(ex.value(value))
    return "".join(out)


def _base64decode(args: list[Any]) -> str:
    try:
        return base64.b64decode(str(args[0]), validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError) as err:
        raise TemplateError(f"error calling base64decode: {err}") from err


def _kind(value: Any) -> str:
    """Go's basic kind of a template value: int (int and int64), float64, string, bool, nil, …"""
    if value is None or value is MISSING:
        return "nil"
    return "int" if go_type(value) == "int64" else go_type(value)


def _compare(name: str, args: list[Any]) -> bool:
    a, b = args[0], args[1]
    if _kind(a) != _kind(b) and "nil" not in (_kind(a), _kind(b)):
        raise TemplateError(
            f"error calling {name}: incompatible types for comparison: {go_type(a)} and {go_type(b)}"
        )
    try:
        return bool(
            {"eq": a == b, "ne": a != b}.get(name)
            if name in ("eq", "ne")
            else {"lt": a < b, "le": a <= b, "gt": a > b, "ge": a >= b}[name]
        )
    except TypeError as err:
        raise TemplateError(f"error calling {name}: incompatible types for comparison") from err


def _call(name: str, args: list[Any], ex: _Exec) -> Any:
    if name in ("eq", "ne", "lt", "le", "gt", "ge"):
        return _compare(name, args)
    simple: dict[str, Callable[[list[Any]], Any]] = {
        "index": _index,
        "len": lambda a: _len(a[0]),
        "not": lambda a: not truth(a[0]),
        "and": lambda a: next((v for v in a if not truth(v)), a[-1]),
        "or": lambda a: next((v for v in a if truth(v)), a[-1]),
        "base64decode": _base64decode,
        "printf": lambda a: _printf(a, ex),
        "print": lambda a: _sprint(a, ex),
        "println": lambda a: " ".join(ex.value(v) for v in a) + "\n",
    }
    if name not in simple:
        raise TemplateError(f'function "{name}" not defined')
    if not args and name not in ("print", "println"):
        raise TemplateError(f"wrong number of args for {name}")
    return simple[name](args)


def render_template(template: str, data: Any, *, go_value: Callable[[Any], str]) -> str:
    """Execute the Go template ``template`` over ``data``; ``go_value`` prints values as Go's ``%v``."""
    nodes = _parse(template)
    data = _int64_numbers(data)
    ex = _Exec(data, go_value)
    try:
        ex.run(nodes, data, {})
    except TemplateError as err:
        raise TemplateError(
            f"error executing template {go_quote(template)}: template: output: {err}"
        ) from err
    return "".join(ex.out)
