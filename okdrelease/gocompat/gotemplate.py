"""Go ``text/template`` for ``-o template=…``/``-o go-template=…``, the subset oc users run.

Supported: text and ``{{pipeline}}`` actions with ``{{-``/``-}}`` trimming and ``{{/* comments */}}``;
fields ``.a.b``, ``.``, ``$``, variables (``{{$x := .a}}``, ``{{$x = .b}}``, ``{{range $i, $v := .list}}``),
chained fields of a parenthesised pipeline (``(index .list 0).name``);
``{{if}}``/``{{else if}}``/``{{else}}``/``{{end}}``, ``{{range}}`` (lists, maps in key order, integers,
with ``{{else}}``, left with ``{{break}}`` and ``{{continue}}``), ``{{with}}``; named templates:
``{{define "name"}}`` (at the top of the text only), ``{{template "name" pipeline}}`` and ``{{block}}``
(each parsed as a template of its own: no variables of the text, no enclosing range; an empty
definition gives way to one that is not, two that are not are Go's "multiple definition"; calls nest up
to Go's 100,000); pipelines with ``|``; string, raw-string, number, ``true``,
``false`` and ``nil`` literals; the functions ``index``, ``len``, ``printf`` (Go's verbs, flags,
width and precision, ``gotemplate_fmt``), ``print``, ``println``, ``eq``, ``ne``, ``lt``, ``le``,
``gt``, ``ge``, ``and``, ``or``, ``not`` and kubectl's ``base64decode``. A missing key prints
``<no value>``, as kubectl's default. The data is the JSON document as kubectl's template printer
decodes it: whole numbers are ``int64``, other numbers ``float64``. A value of the wrong type for
``len`` or ``index`` is Go's error; for a ``printf`` verb it prints as Go prints it (``%!d(string=x)``).

Errors are Go's, with Go's place: a template that does not parse names its line
(``template: output:2: …``), one that fails while running names the line, the byte column and the
node being evaluated (``template: output:1:2: executing "output" at <len 5>: …``), following Go's
executor in which node is current when. :class:`TemplateExecError` keeps what was printed before the
failure, which kubectl's printer writes out (``gotemplate_failure``).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import attrs

from okdrelease._repr import value_repr
from okdrelease.errors import OkdReleaseError
from okdrelease.gocompat.gotemplate_fmt import Int64, go_type, sprint_value, sprintf
from okdrelease.gocompat.strconv import go_quote

__all__ = ["TemplateError", "TemplateExecError", "failure_report", "render_template"]


class TemplateError(OkdReleaseError):
    """A template that does not parse or fails while executing (the message says where)."""


class TemplateExecError(TemplateError):
    """A template that failed while executing: ``reason`` is Go's error (``template: output:1:2: …``),
    ``partial`` what the template printed before it failed, ``template`` and ``data`` what it ran on."""

    def __init__(self, message: str, *, reason: str, partial: str, template: str, data: Any) -> None:
        super().__init__(message)
        self.reason = reason
        self.partial = partial
        self.template = template
        self.data = data


def failure_report(err: TemplateExecError, raw_json: str, go_value: Callable[[Any], str]) -> str:
    """What kubectl's template printer writes to its output when a template fails (``raw_json``: the
    object as JSON): what the template printed, the error, the template, the JSON and the decoded data."""
    return (
        f"{err.partial}Error executing template: {err.reason}. Printing more information for debugging the template:\n"
        f"\ttemplate was:\n\t\t{err.template}\n"
        f"\traw data was:\n\t\t{raw_json}\n"
        f"\tobject given to template engine was:\n\t\t{sprint_value(err.data, go_value)}\n\n"
    )


class _Missing:
    """The value of a missing map key (Go's invalid reflect.Value)."""

    def __repr__(self) -> str:
        return "<no value>"


MISSING = _Missing()
_NO_FINAL = object()  # no value piped into a command (Go's missingVal)

# ---------------------------------------------------------------------------------------------
# Nodes: each knows its position (a character offset in the template) and prints as Go's String()


@attrs.frozen
class _Dot:
    __repr__ = value_repr
    pos: int

    def __str__(self) -> str:
        return "."


@attrs.frozen
class _Field:
    __repr__ = value_repr
    pos: int
    idents: tuple[str, ...]

    def __str__(self) -> str:
        return "".join(f".{ident}" for ident in self.idents)


@attrs.frozen
class _Var:
    __repr__ = value_repr
    pos: int
    name: str
    idents: tuple[str, ...]

    def __str__(self) -> str:
        return self.name + "".join(f".{ident}" for ident in self.idents)


@attrs.frozen
class _Lit:
    """A number, string, bool or nil literal; ``text`` as written."""

    __repr__ = value_repr
    pos: int
    value: Any
    text: str
    kind: str  # number, string, bool, nil

    def __str__(self) -> str:
        return self.text


@attrs.frozen
class _Ident:
    """A function name."""

    __repr__ = value_repr
    pos: int
    name: str

    def __str__(self) -> str:
        return self.name


@attrs.frozen
class _Cmd:
    __repr__ = value_repr
    pos: int
    args: tuple[Any, ...]

    def __str__(self) -> str:
        return " ".join(f"({arg})" if isinstance(arg, _Pipe) else str(arg) for arg in self.args)


@attrs.frozen
class _Pipe:
    __repr__ = value_repr
    pos: int
    decl: tuple[str, ...]
    cmds: tuple[_Cmd, ...]
    assign: bool = False

    def __str__(self) -> str:
        head = ", ".join(self.decl) + (" = " if self.assign else " := ") if self.decl else ""
        return head + " | ".join(str(cmd) for cmd in self.cmds)


@attrs.frozen
class _Chain:
    """``(pipeline).a.b``."""

    __repr__ = value_repr
    pos: int
    pipe: _Pipe
    idents: tuple[str, ...]

    def __str__(self) -> str:
        return f"({self.pipe})" + "".join(f".{ident}" for ident in self.idents)


@attrs.frozen
class _Block:
    __repr__ = value_repr

    kind: str  # if, range, with
    pipe: _Pipe
    body: tuple[Any, ...]
    orelse: tuple[Any, ...]


@attrs.frozen
class _Template:
    """``{{template "name" pipeline}}`` (also what ``{{block}}`` leaves in its place); ``pos`` is the name's."""

    __repr__ = value_repr
    pos: int
    name: str
    pipe: _Pipe | None

    def __str__(self) -> str:
        return f"{{{{template {go_quote(self.name)}{f' {self.pipe}' if self.pipe else ''}}}}}"


@attrs.frozen
class _Loop:
    """``{{break}}`` or ``{{continue}}`` (only inside a ``{{range}}`` of the same template)."""

    __repr__ = value_repr
    pos: int
    word: str

    def __str__(self) -> str:
        return f"{{{{{self.word}}}}}"


# ---------------------------------------------------------------------------------------------
# Lexing and parsing

_ACTION = re.compile(r"\{\{(-\s)?(\s*)(.*?)(\s-)?\}\}", re.S)
_NUMBER = (
    r"[-+]?(?:0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+"
    r"|(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][-+]?\d[\d_]*)?)"
)
_TOKEN = re.compile(
    r"""\s*(?:(?P<str>"(?:[^"\\\n]|\\.)*")|(?P<raw>`[^`]*`)|(?P<char>'(?:[^'\\\n]|\\.)*')|(?P<op>:=|[()|,=])"""
    rf"""|(?P<var>\$\w*)|(?P<num>{_NUMBER})|(?P<field>\.\w+)|(?P<dot>\.)|(?P<ident>[A-Za-z_]\w*))"""
)
_ESCAPES = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11, "\\": 92}


def _unquote(text: str) -> str:
    """Go's strconv.Unquote of a double-quoted or single-quoted literal (ValueError: invalid syntax)."""
    quote, body = text[0], text[1:-1]
    out = bytearray()
    index = 0
    while index < len(body):
        char = body[index]
        index += 1
        if char != "\\":
            if char == quote:
                raise ValueError(text)
            out += char.encode("utf-8", "surrogateescape")
            continue
        if index >= len(body):
            raise ValueError(text)
        code = body[index]
        index += 1
        if code in _ESCAPES:
            out.append(_ESCAPES[code])
        elif code == quote:
            out.append(ord(quote))
        elif code in "xuU":
            digits = {"x": 2, "u": 4, "U": 8}[code]
            value = int(body[index : index + digits], 16)  # ValueError when not hexadecimal
            if len(body[index : index + digits]) != digits or not body[index : index + digits].isalnum():
                raise ValueError(text)
            index += digits
            if code == "x":
                out.append(value)
            elif value > 0x10FFFF or 0xD800 <= value <= 0xDFFF:
                raise ValueError(text)
            else:
                out += chr(value).encode("utf-8")
        elif code in "01234567":
            octal = body[index - 1 : index + 2]
            if len(octal) != 3 or any(c not in "01234567" for c in octal) or int(octal, 8) > 255:
                raise ValueError(text)
            out.append(int(octal, 8))
            index += 2
        else:
            raise ValueError(text)
    return out.decode("utf-8", "surrogateescape")


def _number(text: str) -> int | float:
    """A Go number literal's value: ``int`` unless it has a fraction or exponent (then ``float64``)."""
    plain = text.replace("_", "")
    digits = plain.lstrip("+-")
    if digits[:2].lower() in ("0x", "0o", "0b"):
        return int(plain, 0)
    if any(c in digits for c in ".eE"):
        return float(plain)
    if len(digits) > 1 and digits.startswith("0"):
        return int(plain, 8)
    return int(plain)


@attrs.frozen
class _Tok:
    __repr__ = value_repr
    kind: str
    value: str
    pos: int
    end: int


class _ParseError(Exception):
    """A parse error at a position of the template (its line goes into the message)."""

    def __init__(self, message: str, pos: int) -> None:
        super().__init__(message)
        self.pos = pos


def _lex(template: str) -> Iterator[tuple[str, str, int]]:
    """("text", text, pos) and ("action", body, pos of the body) pieces, trim markers applied."""
    pieces: list[tuple[str, str, int]] = []
    position = 0
    for match in _ACTION.finditer(template):
        text = template[position : match.start()]
        if match.group(1):
            text = text.rstrip()
        pieces.append(("text", text, position))
        pieces.append(("action", match.group(3).rstrip(), match.start(3)))
        position = match.end()
        if match.group(4):
            rest = template[position:]
            position += len(rest) - len(rest.lstrip())
    if "{{" in template[position:]:
        raise _ParseError("unclosed action", template.index("{{", position))
    pieces.append(("text", template[position:], position))
    return (piece for piece in pieces if piece[:2] != ("text", ""))


def _tokens(text: str, offset: int) -> list[_Tok]:
    out: list[_Tok] = []
    position = 0
    while position < len(text.rstrip()):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise _ParseError(f'unexpected "{text[position:].strip()}" in command', offset + position)
        kind = match.lastgroup
        assert kind is not None
        out.append(_Tok(kind, match.group(kind), offset + match.start(kind), offset + match.end(kind)))
        position = match.end()
    return out


class _Parser:
    """Go's parse.Tree for the supported subset; variables are checked as Go checks them (in scope)."""

    def __init__(self, template: str) -> None:
        self.template = template
        self.vars: list[str] = ["$"]
        self.trees: dict[str, tuple[Any, ...]] = {}

    def parse(self) -> dict[str, tuple[Any, ...]]:
        """The templates the text defines, by name (``output``: the text outside ``{{define}}``)."""
        # stack entries: (kind, pipe, body, orelse or None while in the body, variables before it);
        # define and block: (kind, pipe, body, None, the enclosing variables, (name, position of the name))
        stack: list[list[Any]] = [["root", None, [], None, 1]]
        for kind, text, pos in _lex(self.template):
            frame = stack[-1]
            target: list[Any] = frame[3] if frame[3] is not None else frame[2]
            word = _WORD.match(text)
            if kind == "text":
                target.append(text)
            elif text.startswith("/*"):
                continue
            elif text.split(" ", 1)[0] in ("if", "range", "with"):
                word_text, _, rest = text.partition(" ")
                mark = len(self.vars)
                pipe = self.pipeline(_tokens(rest, pos + len(word_text) + 1), pos, word_text)
                stack.append([word_text, pipe, [], None, mark])
            elif text == "else" or text.startswith("else "):
                self._else(stack, text, pos)
            elif text == "end":
                self._end(stack, pos)
            elif word is not None and word[0] in _CLAUSES:
                self._clause(
                    stack, target, word[0], _tokens(text[word.end() :], pos + word.end()), pos + len(text)
                )
            else:
                target.append(self.pipeline(_tokens(text, pos), pos))
        if len(stack) != 1:
            raise _ParseError("unexpected EOF", len(self.template))
        self._add(OUTPUT, tuple(stack[0][2]), len(self.template))
        return self.trees

    def _clause(
        self, stack: list[list[Any]], target: list[Any], word: str, tokens: list[_Tok], end: int
    ) -> None:
        """``{{define}}``, ``{{block}}``, ``{{template}}``, ``{{break}}`` and ``{{continue}}`` as Go parses them
        (``end``: where the action's ``}}`` is)."""
        if word in ("break", "continue"):
            if tokens:
                raise _ParseError(f"unexpected {_item(tokens[0])} in {{{{{word}}}}}", tokens[0].pos)
            if not _in_range(stack):
                raise _ParseError(f"{{{{{word}}}}} outside {{{{range}}}}", end)
            target.append(_Loop(end, word))
            return
        if word == "define" and len(stack) > 1:  # (only at the top of the text, as Go's parser looks for it)
            raise _ParseError("unexpected <define> in command", end)
        context = f"{word} clause"
        if not tokens:
            raise _ParseError(f'unexpected "}}}}" in {context}', end)
        name_token = tokens[0]
        if name_token.kind == "str":
            try:
                name = _unquote(name_token.value)
            except ValueError as err:
                raise _ParseError("invalid syntax", name_token.pos) from err
        elif name_token.kind == "raw":
            name = name_token.value[1:-1].replace("\r", "")
        else:
            raise _ParseError(f"unexpected {_item(name_token)} in {context}", name_token.pos)
        if word == "template":
            pipe = self.pipeline(tokens[1:], end, context) if len(tokens) > 1 else None
            target.append(_Template(name_token.pos, name, pipe))
            return
        if word == "define":
            if len(tokens) > 1:
                raise _ParseError(f"unexpected {_item(tokens[1])} in {context}", tokens[1].pos)
            stack.append(["define", None, [], None, self.vars, (name, name_token.pos)])
        else:
            stack.append(
                [
                    "block",
                    self.pipeline(tokens[1:], end, context),
                    [],
                    None,
                    self.vars,
                    (name, name_token.pos),
                ]
            )
        self.vars = ["$"]  # (a template's body is parsed as a template of its own: no variables of the text)

    def _add(self, name: str, body: tuple[Any, ...], pos: int) -> None:
        """Go's Tree.add: an empty template does not replace one that is not; two that are not are an error."""
        old = self.trees.get(name)
        if old is None or _empty(old):
            self.trees[name] = body
        elif not _empty(body):
            raise _ParseError(f"template: multiple definition of template {go_quote(name)}", pos)

    def _else(self, stack: list[list[Any]], text: str, pos: int) -> None:
        frame = stack[-1]
        if frame[0] in ("define", "block"):
            raise _ParseError(f"unexpected {{{{else}}}} in {frame[0]} clause", pos)
        if frame[0] == "root" or frame[3] is not None:
            raise _ParseError("unexpected {{else}}", pos)
        frame[3] = []
        rest = text[4:].lstrip()
        # {{else if X}}: an if inside the else branch, closed by the same {{end}}
        if rest == "if" or rest.startswith("if "):
            at = pos + len(text) - len(rest) + 3
            mark = len(self.vars)
            stack.append(["elif", self.pipeline(_tokens(rest[3:], at), at, "if"), [], None, mark])

    def _end(self, stack: list[list[Any]], pos: int) -> None:
        if stack[-1][0] in ("define", "block"):
            kind, pipe, body, _, self.vars, (name, name_pos) = stack.pop()
            self._add(name, tuple(body), pos)
            if kind == "block":
                parent = stack[-1]
                (parent[3] if parent[3] is not None else parent[2]).append(_Template(name_pos, name, pipe))
            return
        while True:
            if len(stack) == 1:
                raise _ParseError("unexpected {{end}}", pos)
            kind, pipe, body, orelse, mark = stack.pop()
            del self.vars[mark:]
            block = _Block("if" if kind == "elif" else kind, pipe, tuple(body), tuple(orelse or ()))
            parent = stack[-1]
            (parent[3] if parent[3] is not None else parent[2]).append(block)
            if kind != "elif":
                return

    def pipeline(self, tokens: list[_Tok], pos: int, context: str = "command") -> _Pipe:
        pipe, index = self._pipeline(tokens, 0, pos, closing=False, context=context)
        if index < len(tokens):
            raise _ParseError(f"unexpected {tokens[index].value!r} in command", tokens[index].pos)
        return pipe

    def _pipeline(
        self, tokens: list[_Tok], index: int, pos: int, *, closing: bool, context: str = "command"
    ) -> tuple[_Pipe, int]:
        start = tokens[index].pos if index < len(tokens) else pos
        decl: list[str] = []
        assign = False
        probe = index
        names: list[str] = []
        while probe < len(tokens) and tokens[probe].kind == "var" and not _joined(tokens, probe):
            names.append(tokens[probe].value)
            probe += 1
            if probe < len(tokens) and tokens[probe].value == ",":
                probe += 1
                continue
            break
        if names and probe < len(tokens) and tokens[probe].value in (":=", "="):
            decl, assign = names, tokens[probe].value == "="
            index = probe + 1
            self.vars.extend(decl)  # in scope for the commands too, as Go's parser has them
        cmds: list[_Cmd] = []
        context = "parenthesized pipeline" if closing else context
        while index < len(tokens) and tokens[index].value != ")":
            if tokens[index].value == "|":  # where a command should start
                raise _ParseError(f'unexpected "|" in {context}', tokens[index].pos)
            cmd_pos = tokens[index].pos
            args: list[Any] = []
            while index < len(tokens) and tokens[index].value not in ("|", ")"):
                operand, index = self._operand(tokens, index)
                args.append(operand)
            cmds.append(_Cmd(cmd_pos, tuple(args)))
            if index < len(tokens) and tokens[index].value == "|":  # a "|" at the end is let be, as Go does
                index += 1
        if index < len(tokens) and not closing:
            raise _ParseError("unexpected right paren", tokens[index].pos)
        if closing and index >= len(tokens):
            raise _ParseError("unclosed left paren", pos)
        if not cmds:
            raise _ParseError(f"missing value for {context}", pos)
        for stage, cmd in enumerate(cmds[1:], start=2):
            if isinstance(cmd.args[0], _Lit | _Dot):
                raise _ParseError(f"non executable command in pipeline stage {stage}", cmd.pos)
        return _Pipe(start, tuple(decl), tuple(cmds), assign), index

    def _operand(self, tokens: list[_Tok], index: int) -> tuple[Any, int]:
        node, index = self._term(tokens, index)
        if index < len(tokens) and tokens[index].kind == "field" and _joined(tokens, index):
            chain_pos = tokens[index].pos
            idents: list[str] = []
            while index < len(tokens) and tokens[index].kind == "field" and _joined(tokens, index):
                idents.append(tokens[index].value[1:])
                index += 1
            if isinstance(node, _Field):
                return _Field(chain_pos, node.idents + tuple(idents)), index
            if isinstance(node, _Var):
                return _Var(chain_pos, node.name, tuple(idents)), index
            if isinstance(node, _Pipe):
                return _Chain(chain_pos, node, tuple(idents)), index
            raise _ParseError(f"unexpected . after term {str(node)!r}", chain_pos)
        return node, index

    def _term(self, tokens: list[_Tok], index: int) -> tuple[Any, int]:
        tok = tokens[index]
        index += 1
        if tok.kind == "field":
            return _Field(tok.pos, (tok.value[1:],)), index
        if tok.kind == "dot":
            return _Dot(tok.pos), index
        if tok.kind == "var":
            if tok.value not in self.vars:
                raise _ParseError(f'undefined variable "{tok.value}"', tok.pos)
            return _Var(tok.pos, tok.value, ()), index
        if tok.kind in ("str", "char"):
            try:
                text = _unquote(tok.value)
            except ValueError as err:
                raise _ParseError("invalid syntax", tok.pos) from err
            if tok.kind == "str":
                return _Lit(tok.pos, text, tok.value, "string"), index
            if len(text) != 1:
                raise _ParseError(f"malformed character constant: {tok.value}", tok.pos)
            return _Lit(tok.pos, ord(text), tok.value, "number"), index
        if tok.kind == "raw":
            return _Lit(tok.pos, tok.value[1:-1], tok.value, "string"), index
        if tok.kind == "num":
            try:
                return _Lit(tok.pos, _number(tok.value), tok.value, "number"), index
            except ValueError as err:
                raise _ParseError(f"bad number syntax: {tok.value!r}", tok.pos) from err
        if tok.kind == "ident" and tok.value in ("true", "false"):
            return _Lit(tok.pos, tok.value == "true", tok.value, "bool"), index
        if tok.kind == "ident" and tok.value == "nil":
            # nil is Go's untyped nil: like a missing key, no value at all (null data is a nil interface)
            return _Lit(tok.pos, MISSING, "nil", "nil"), index
        if tok.kind == "ident":
            if tok.value not in _ARITY:
                raise _ParseError(f'function "{tok.value}" not defined', tok.pos)
            return _Ident(tok.pos, tok.value), index
        if tok.value == "(":
            pipe, index = self._pipeline(tokens, index, tok.end, closing=True)
            return pipe, index + 1
        raise _ParseError(f'unexpected "{tok.value}" in operand', tok.pos)


#: The name of the template the whole text is (kubectl's ``template.New("output")``).
OUTPUT = "output"
_CLAUSES = frozenset({"block", "break", "continue", "define", "template"})
_KEYWORDS = frozenset(
    {"block", "break", "continue", "define", "else", "end", "if", "nil", "range", "template", "with"}
)
_WORD = re.compile(r"[A-Za-z_]\w*(?!\w)")
#: Go's white space (unicode.IsSpace), which bytes.TrimSpace takes off a text to see whether it is empty.
_GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"


def _item(token: _Tok) -> str:
    """A token as Go's parser names it after "unexpected": a keyword in <>, other text quoted (%q, at most
    10 characters of it, then ...)."""
    if token.kind == "dot" or token.kind == "ident" and token.value in _KEYWORDS:
        return f"<{token.value}>"
    if len(token.value) > 10:
        return go_quote(token.value[:10]) + "..."
    return go_quote(token.value)


def _in_range(stack: list[list[Any]]) -> bool:
    """Whether the innermost template being parsed is inside the body of a ``{{range}}`` (Go's rangeDepth)."""
    for frame in reversed(stack):
        if frame[0] in ("define", "block"):
            return False
        if frame[0] == "range" and frame[3] is None:
            return True
    return False


def _nesting(body: tuple[Any, ...]) -> int:
    """How deep ``{{if}}``, ``{{range}}`` and ``{{with}}`` nest in a template's body."""
    return max(
        (1 + max(_nesting(n.body), _nesting(n.orelse)) for n in body if isinstance(n, _Block)), default=0
    )


def _empty(body: tuple[Any, ...]) -> bool:
    """Go's parse.IsEmptyTree: nothing but white space (comments are not kept)."""
    return all(isinstance(node, str) and not node.strip(_GO_SPACE) for node in body)


def _joined(tokens: list[_Tok], index: int) -> bool:
    """Whether ``tokens[index]`` follows the token before it with no space (a field of that term)."""
    return index > 0 and tokens[index].pos == tokens[index - 1].end


#: Builtins: (fixed arguments, variadic) as Go's function signatures count them.
_ARITY: dict[str, tuple[int, bool]] = {
    "and": (1, True),
    "or": (1, True),
    "not": (1, False),
    "len": (1, False),
    "index": (1, True),
    "printf": (1, True),
    "print": (0, True),
    "println": (0, True),
    "eq": (1, True),
    "ne": (2, False),
    "lt": (2, False),
    "le": (2, False),
    "gt": (2, False),
    "ge": (2, False),
    "base64decode": (1, False),
}
#: Functions whose (first) parameters are strings: their arguments are checked as Go's evalArg does.
_STRING_PARAMETERS = {"printf": 1, "base64decode": 1}
FUNCTIONS = frozenset(_ARITY)


def _line(template: str, pos: int) -> int:
    return template.count("\n", 0, pos) + 1


def _parse(template: str) -> dict[str, tuple[Any, ...]]:
    try:
        return _Parser(template).parse()
    except _ParseError as err:
        raise TemplateError(
            f"error parsing template {template}, template: output:{_line(template, err.pos)}: {err}"
        ) from err


# ---------------------------------------------------------------------------------------------
# Execution


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


class _Failure(Exception):
    """An execution error, Go's ExecError text."""


class _Break(Exception):
    """``{{break}}`` leaving its range (Go's walkBreak)."""


class _Continue(Exception):
    """``{{continue}}`` ending an iteration of its range (Go's walkContinue)."""


#: Go's maxExecDepth: how deep ``{{template}}`` calls may nest.
_MAX_EXEC_DEPTH = 100000


def _static(value: Any, iface: bool) -> str:
    """The static type Go's messages name: ``interface {}`` for what came out of the data's maps and lists."""
    return "interface {}" if iface else go_type(value)


def _concrete(value: Any) -> Any:
    """A pipeline's value as Go hands it on: a nil interface becomes no value at all."""
    return MISSING if value is None else value


@attrs.define
class _Exec:
    __repr__ = value_repr

    template: str
    go_value: Callable[[Any], str]
    trees: dict[str, tuple[Any, ...]] = attrs.Factory(dict)
    out: list[str] = attrs.Factory(list)
    vars: list[tuple[str, Any, bool]] = attrs.Factory(list)
    node: Any = None
    #: The template being executed and how many ``{{template}}`` calls deep it is.
    name: str = OUTPUT
    depth: int = 0

    # -- errors ------------------------------------------------------------------------------

    def at(self, node: Any) -> None:
        self.node = node

    def error(self, message: str) -> _Failure:
        """Go's state.errorf: where (line, byte column) and at which node."""
        if self.node is None:
            return _Failure(f"template: output: {message}")
        before = self.template[: self.node.pos]
        line = before.count("\n") + 1
        column = len(before[before.rfind("\n") + 1 :].encode("utf-8", "surrogateescape"))
        return _Failure(
            f"template: {OUTPUT}:{line}:{column}: executing {go_quote(self.name)} at <{self.node}>: {message}"
        )

    # -- printing ----------------------------------------------------------------------------

    def text(self, value: Any) -> str:
        if value is MISSING or value is None:
            return "<no value>"
        return self.value(value)

    def value(self, value: Any) -> str:
        """Go's ``%v`` (a function argument: nil is ``<nil>``)."""
        return sprint_value(None if value is MISSING else value, self.go_value)

    # -- walking -----------------------------------------------------------------------------

    def run(self, nodes: tuple[Any, ...], dot: Any, dot_iface: bool) -> None:
        for node in nodes:
            if isinstance(node, str):
                self.out.append(node)
            elif isinstance(node, _Pipe):
                value = self.pipe(node, dot, dot_iface)
                if not node.decl:
                    self.out.append(self.text(value))
            elif isinstance(node, _Template):
                self.call_template(node, dot, dot_iface)
            elif isinstance(node, _Loop):
                raise _Break if node.word == "break" else _Continue
            else:
                self.block(node, dot, dot_iface)

    def call_template(self, node: _Template, dot: Any, dot_iface: bool) -> None:
        """Go's walkTemplate: the named template over the pipeline's value, with only ``$`` (that value)."""
        self.at(node)
        body = self.trees.get(node.name)
        if body is None:
            raise self.error(f"template {go_quote(node.name)} not defined")
        if self.depth == _MAX_EXEC_DEPTH:
            raise self.error(f"exceeded maximum template depth ({_MAX_EXEC_DEPTH})")
        value = MISSING if node.pipe is None else self.pipe(node.pipe, dot, dot_iface)
        saved = self.vars, self.name, self.depth
        self.vars, self.name, self.depth = [("$", value, False)], node.name, self.depth + 1
        try:
            self.run(body, value, False)
        finally:
            self.vars, self.name, self.depth = saved

    def block(self, node: _Block, dot: Any, dot_iface: bool) -> None:
        mark = len(self.vars)
        try:
            if node.kind == "range":
                self.range(node, dot, dot_iface)
                return
            value = self.pipe(node.pipe, dot, dot_iface)
            if truth(value):
                if node.kind == "with":
                    self.run(node.body, value, False)
                else:
                    self.run(node.body, dot, dot_iface)
            else:
                self.run(node.orelse, dot, dot_iface)
        finally:
            del self.vars[mark:]

    def range(self, node: _Block, dot: Any, dot_iface: bool) -> None:
        value = self.pipe(node.pipe, dot, dot_iface, declare=False)
        items: list[tuple[Any, Any]]
        if isinstance(value, Mapping):
            items = [(key, value[key]) for key in sorted(value)]
        elif isinstance(value, list):
            items = list(enumerate(value))
        elif isinstance(value, int) and not isinstance(value, bool):
            if len(node.pipe.decl) > 1:
                raise self.error(f"can't use {self.value(value)} to iterate over more than one variable")
            items = [(i, i) for i in range(value)]
        elif value is MISSING:
            items = []
        else:
            raise self.error(f"range can't iterate over {self.value(value)}")
        element_iface = not (isinstance(value, int) and not isinstance(value, bool))
        decl = node.pipe.decl
        for key, item in items:
            mark = len(self.vars)
            try:
                if len(decl) == 2:
                    self.set(decl[0], key, False, assign=node.pipe.assign)
                    self.set(decl[1], item, element_iface, assign=node.pipe.assign)
                elif decl:
                    self.set(decl[0], item, element_iface, assign=node.pipe.assign)
                self.run(node.body, item, element_iface)
            except _Continue:
                pass
            except _Break:
                break
            finally:
                if not node.pipe.assign:
                    del self.vars[mark:]
        if not items:
            self.run(node.orelse, dot, dot_iface)

    def set(self, name: str, value: Any, iface: bool, *, assign: bool) -> None:
        """Declare (``:=``) or assign (``=``, the nearest variable of that name)."""
        if not assign:
            self.vars.append((name, value, iface))
            return
        for index in range(len(self.vars) - 1, -1, -1):
            if self.vars[index][0] == name:
                self.vars[index] = (name, value, iface)
                return
        raise self.error(f"undefined variable: {name}")

    def variable(self, name: str) -> tuple[Any, bool]:
        for var, value, iface in reversed(self.vars):
            if var == name:
                return value, iface
        raise self.error(f"undefined variable: {name}")

    # -- evaluation (Go's evalPipeline, evalCommand, evalArg, evalFieldChain) -----------------

    def pipe(self, pipe: _Pipe, dot: Any, dot_iface: bool, *, declare: bool = True) -> Any:
        """Go's evalPipeline: each command's value piped into the next, a nil interface made no value."""
        self.at(pipe)
        value: Any = _NO_FINAL
        for cmd in pipe.cmds:
            value = _concrete(self.command(cmd, dot, dot_iface, value))
        for name in pipe.decl if declare else ():
            self.set(name, value, False, assign=pipe.assign)
        return value

    def command(self, cmd: _Cmd, dot: Any, dot_iface: bool, final: Any) -> Any:
        first = cmd.args[0]
        if isinstance(first, _Field):
            self.at(first)
            return self.chain(dot, dot_iface, first.idents, cmd.args, final)
        if isinstance(first, _Chain):
            self.at(first)
            receiver = _concrete(self.arg(first.pipe, dot, dot_iface))
            return self.chain(receiver, False, first.idents, cmd.args, final)
        if isinstance(first, _Ident):
            return self.call(first, cmd, dot, dot_iface, final)
        if isinstance(first, _Pipe):
            self.not_a_function(cmd.args, final)
            return self.pipe(first, dot, dot_iface)
        if isinstance(first, _Var):
            self.at(first)
            value, iface = self.variable(first.name)
            if not first.idents:
                self.not_a_function(cmd.args, final)
                return value
            return self.chain(value, iface, first.idents, cmd.args, final)
        self.at(first)
        self.not_a_function(cmd.args, final)
        if isinstance(first, _Dot):
            return dot
        assert isinstance(first, _Lit)
        if first.kind == "nil":
            raise self.error("nil is not a command")
        return first.value

    def not_a_function(self, args: tuple[Any, ...], final: Any) -> None:
        if len(args) > 1 or final is not _NO_FINAL:
            raise self.error(f"can't give argument to non-function {args[0]}")

    def chain(
        self, receiver: Any, iface: bool, idents: tuple[str, ...], args: tuple[Any, ...], final: Any
    ) -> Any:
        """Go's evalFieldChain: each name looked up in the map before it."""
        for position, name in enumerate(idents):
            if receiver is MISSING:
                return MISSING
            if receiver is None:
                raise self.error(f"nil pointer evaluating interface {{}}.{name}")
            if not isinstance(receiver, Mapping):
                raise self.error(f"can't evaluate field {name} in type {_static(receiver, iface)}")
            if position == len(idents) - 1 and (len(args) > 1 or final is not _NO_FINAL):
                raise self.error(f"{name} is not a method but has arguments")
            receiver, iface = receiver.get(name, MISSING), True
        return receiver

    def arg(self, node: Any, dot: Any, dot_iface: bool) -> Any:
        """Go's evalArg for an interface parameter: the node's value (nil for no value)."""
        self.at(node)
        if isinstance(node, _Dot):
            return dot
        if isinstance(node, _Field):
            return self.chain(dot, dot_iface, node.idents, (node,), _NO_FINAL)
        if isinstance(node, _Var):
            value, iface = self.variable(node.name)
            return self.chain(value, iface, node.idents, (node,), _NO_FINAL) if node.idents else value
        if isinstance(node, _Pipe):
            return self.pipe(node, dot, dot_iface)
        if isinstance(node, _Ident):
            return self.call(node, _Cmd(node.pos, (node,)), dot, dot_iface, _NO_FINAL)
        if isinstance(node, _Chain):
            return self.command(_Cmd(node.pos, (node,)), dot, dot_iface, _NO_FINAL)
        return node.value

    def string_arg(self, node: Any, dot: Any, dot_iface: bool) -> str:
        """Go's evalArg for a string parameter: a string literal, or a value that is a string."""
        if isinstance(node, _Lit):
            self.at(node)
            if node.kind != "string":
                raise self.error(f"expected string; found {node}")
            return str(node.value)
        value = self.arg(node, dot, dot_iface)
        return self.string_value(value)

    def string_value(self, value: Any) -> str:
        if value is MISSING:
            raise self.error("invalid value; expected string")
        if not isinstance(value, str):
            got = "interface {}" if value is None else go_type(value)
            raise self.error(f"wrong type for value; expected string; got {got}")
        return value

    def call(self, ident: _Ident, cmd: _Cmd, dot: Any, dot_iface: bool, final: Any) -> Any:
        """Go's evalFunction and evalCall: arity, arguments in order, the call; errors at the command."""
        self.at(ident)
        name, args = ident.name, cmd.args[1:]
        fixed, variadic = _ARITY[name]
        count = len(args) + (final is not _NO_FINAL)
        if variadic and count < fixed:
            raise self.error(f"wrong number of args for {name}: want at least {fixed} got {len(args)}")
        if not variadic and count != fixed:
            raise self.error(f"wrong number of args for {name}: want {fixed} got {count}")
        if name in ("and", "or"):
            return self.and_or(name, args, dot, dot_iface, final)
        strings = _STRING_PARAMETERS.get(name, 0)
        values: list[Any] = [
            self.string_arg(node, dot, dot_iface) if index < strings else self.arg(node, dot, dot_iface)
            for index, node in enumerate(args)
        ]
        if final is not _NO_FINAL:
            values.append(self.string_value(final) if len(values) < strings else final)
        try:
            return _call(name, values, self)
        except _CallError as err:
            self.at(cmd)
            raise self.error(f"error calling {name}: {err}") from err

    def and_or(self, name: str, args: tuple[Any, ...], dot: Any, dot_iface: bool, final: Any) -> Any:
        """``and``/``or``: arguments evaluated until one decides, as Go's short-circuit."""
        value: Any = MISSING
        nodes = list(args)
        for node in nodes:
            value = self.arg(node, dot, dot_iface)
            if truth(value) != (name == "and"):
                return value
        if final is not _NO_FINAL:
            value = final
        return value


class _CallError(Exception):
    """A builtin's error, which Go reports as ``error calling NAME: …`` at the command."""


def _int64_numbers(value: Any) -> Any:
    """The data as kubectl's template printer decodes it: a whole number that fits is an int64."""
    if isinstance(value, float) and value.is_integer() and -(1 << 63) <= value < (1 << 63):
        return Int64(int(value))
    if isinstance(value, Mapping):
        return {key: _int64_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_int64_numbers(item) for item in value]
    return value


def _index(args: list[Any]) -> Any:
    value = args[0]
    for key in args[1:]:
        if value is None or value is MISSING:
            raise _CallError("index of untyped nil")
        if isinstance(value, list | str):
            items = value.encode("utf-8", "surrogateescape") if isinstance(value, str) else value
            if key is None or key is MISSING:
                raise _CallError("cannot index slice/array with nil")
            if not isinstance(key, int) or isinstance(key, bool):
                raise _CallError(f"cannot index slice/array with type {go_type(key)}")
            if not 0 <= key < len(items):
                raise _CallError(f"index out of range: {key}")
            value = items[key]
        elif isinstance(value, Mapping):
            if not isinstance(key, str):
                raise _CallError(f"value has type {go_type(key)}; should be string")
            value = value.get(key, MISSING)
        else:
            raise _CallError(f"can't index item of type {go_type(value)}")
    return value


def _len(value: Any) -> int:
    if value is MISSING:
        raise _CallError("reflect: call of reflect.Value.Type on zero Value")
    if value is None:
        raise _CallError("len of nil pointer")
    if isinstance(value, str):
        return len(value.encode("utf-8", "surrogateescape"))
    if isinstance(value, list | Mapping):
        return len(value)
    raise _CallError(f"len of type {go_type(value)}")


def _printf(args: list[Any], ex: _Exec) -> str:
    values = [None if value is MISSING else value for value in args[1:]]
    return sprintf(args[0], values, ex.go_value)


def _sprint(args: list[Any], ex: _Exec) -> str:
    out: list[str] = []
    for index, value in enumerate(args):
        if index and not isinstance(value, str) and not isinstance(args[index - 1], str):
            out.append(" ")
        out.append(ex.value(value))
    return "".join(out)


_BASE64_ALPHABET = {
    c: i for i, c in enumerate(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
}


def _base64decode(args: list[Any]) -> str:
    """kubectl's base64decode: Go's StdEncoding, its error offsets; the bytes as a Go string."""
    data = _go_base64(str(args[0]).encode("utf-8", "surrogateescape"))
    return data.decode("utf-8", "surrogateescape")


def _go_base64(src: bytes) -> bytes:
    """Go's base64.StdEncoding.DecodeString: line breaks skipped, ``=`` padding required."""
    out = bytearray()
    index = 0
    while index < len(src):
        index, group = _quantum(src, index)
        out += group
    return bytes(out)


def _corrupt(offset: int) -> _CallError:
    return _CallError(f"base64 decode failed: illegal base64 data at input byte {offset}")


def _quantum(src: bytes, index: int) -> tuple[int, bytes]:
    """Go's decodeQuantum: up to four symbols at ``index`` (index after them, the bytes they hold)."""
    symbols: list[int] = []
    while len(symbols) < 4:
        if index == len(src):
            if not symbols:
                return index, b""
            raise _corrupt(index - len(symbols))
        byte = src[index]
        index += 1
        if byte in _BASE64_ALPHABET:
            symbols.append(_BASE64_ALPHABET[byte])
            continue
        if byte in b"\r\n":
            continue
        if byte != ord("=") or len(symbols) < 2:
            raise _corrupt(index - 1)
        if len(symbols) == 2:  # "==" expected: the second "=" after any line breaks
            while index < len(src) and src[index] in b"\r\n":
                index += 1
            if index == len(src):
                raise _corrupt(len(src))
            if src[index] != ord("="):
                raise _corrupt(index - 1)
            index += 1
        while index < len(src) and src[index] in b"\r\n":
            index += 1
        if index < len(src):
            raise _corrupt(index)
        break
    value = 0
    for position in range(4):
        value = value << 6 | (symbols[position] if position < len(symbols) else 0)
    return index, value.to_bytes(3, "big")[: len(symbols) - 1]


def _kind(value: Any) -> str:
    """Go's basic kind of a template value: int (int and int64), float64, string, bool, nil, …"""
    if value is None or value is MISSING:
        return "nil"
    return "int" if go_type(value) == "int64" else go_type(value)


def _compare(name: str, args: list[Any]) -> bool:
    if name == "eq" and len(args) == 1:
        raise _CallError("missing argument for comparison")
    a = args[0]
    for b in args[1:]:
        if _kind(a) != _kind(b) and "nil" not in (_kind(a), _kind(b)):
            raise _CallError(f"incompatible types for comparison: {go_type(a)} and {go_type(b)}")
        try:
            result = bool(
                {"eq": a == b, "ne": a != b}.get(name)
                if name in ("eq", "ne")
                else {"lt": a < b, "le": a <= b, "gt": a > b, "ge": a >= b}[name]
            )
        except TypeError as err:
            raise _CallError("incompatible types for comparison") from err
        if name != "eq" or result:
            return result
    return False


def _call(name: str, args: list[Any], ex: _Exec) -> Any:
    if name in ("eq", "ne", "lt", "le", "gt", "ge"):
        return _compare(name, args)
    simple: dict[str, Callable[[list[Any]], Any]] = {
        "index": _index,
        "len": lambda a: _len(a[0]),
        "not": lambda a: not truth(a[0]),
        "base64decode": _base64decode,
        "printf": lambda a: _printf(a, ex),
        "print": lambda a: _sprint(a, ex),
        "println": lambda a: " ".join(ex.value(v) for v in a) + "\n",
    }
    return simple[name](args)


def render_template(template: str, data: Any, *, go_value: Callable[[Any], str]) -> str:
    """Execute the Go template ``template`` over ``data``; ``go_value`` prints values as Go's ``%v``."""
    trees = _parse(template)
    data = _int64_numbers(data)
    ex = _Exec(template, go_value, trees)
    ex.vars.append(("$", data, False))
    limit = sys.getrecursionlimit()
    # Go nests {{template}} calls up to 100,000 deep: each call costs the executor two Python frames,
    # and three more for each if, with or range around it (calls between Python functions use no C stack)
    sys.setrecursionlimit(
        max(limit, limit + (_MAX_EXEC_DEPTH + 1) * (2 + 3 * max(map(_nesting, trees.values()))))
    )
    try:
        ex.run(trees[OUTPUT], data, False)
    except _Failure as err:
        raise TemplateExecError(
            f"error executing template {go_quote(template)}: {err}",
            reason=str(err),
            partial="".join(ex.out),
            template=template,
            data=data,
        ) from err
    finally:
        sys.setrecursionlimit(limit)
    return "".join(ex.out)
