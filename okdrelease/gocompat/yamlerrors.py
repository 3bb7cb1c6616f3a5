"""go-yaml's (v2) words for PyYAML's parse errors: what sigs.k8s.io/yaml reports after oc strips its
prefixes (``error converting YAML to JSON: yaml: `` and the file name).

The one wording of YAML errors: the manifest sanity check (``payload.checkyaml``) and every file read as
sigs.k8s.io/yaml reads it (``openshift.k8syaml``: image-references, ``new -f`` streams) use it, with the
texts and line numbers checked against the real oc.
"""

from __future__ import annotations

import re

import yaml

from okdrelease.gocompat.yamlbounds import GoHeadKeyError
from okdrelease.gocompat.yamlreader import GoReaderError

__all__ = ["go_error_text"]

# PyYAML problem texts (regular expressions, compiled when an error is worded) -> the go-yaml (v2)
# problem texts oc prints.
_PROBLEMS: tuple[tuple[str, str], ...] = (
    (r"expected ',' or '\]', but got ", "did not find expected ',' or ']'"),
    (r"expected ',' or '\}', but got ", "did not find expected ',' or '}'"),
    (r"expected the node content, but found ", "did not find expected node content"),
    (r"expected '<document start>', but found ", "did not find expected <document start>"),
    (r"mapping values are not allowed here", "mapping values are not allowed in this context"),
    (r"mapping keys are not allowed here", "mapping keys are not allowed in this context"),
    (
        r"(?:block )?sequence entries are not allowed here",  # the parser's words, and the scanner's
        "block sequence entries are not allowed in this context",
    ),
    (r"found character .* that cannot start any token", "found character that cannot start any token"),
    (r"found unknown escape character", "found unknown escape character"),
    (
        r"expected escape sequence of \d+ hexadecimal numbers, but found ",
        "did not find expected hexdecimal number",
    ),
    (r"expected a comment or a line break, but found ", "did not find expected comment or line break"),
    (
        r"expected alphabetic or numeric character, but found ",
        "did not find expected alphabetic or numeric character",
    ),
    (r"found undefined tag handle", "found undefined tag handle"),
    (r"expected '!', but found ", "did not find expected '!'"),
    (r"expected URI escape sequence of 2 hexadecimal numbers, but found ", "did not find URI escaped octet"),
    (r"found unexpected document separator", "found unexpected document indicator"),
)
_BLOCK_END_CONTEXTS = {
    "while parsing a block mapping": "did not find expected key",
    "while parsing a block collection": "did not find expected '-' indicator",
}


def _go_problem(err: yaml.MarkedYAMLError) -> str:
    """Return the go-yaml problem text for a PyYAML parse error."""
    problem = err.problem or ""
    if problem.startswith("expected <block end>, but found ") and err.context in _BLOCK_END_CONTEXTS:
        return _BLOCK_END_CONTEXTS[err.context]
    undefined_alias = re.fullmatch(r"found undefined alias '(.*)'", problem)
    if undefined_alias:
        return f"unknown anchor '{undefined_alias[1]}' referenced"
    for pattern, go in _PROBLEMS:
        if re.match(pattern, problem):
            return go
    return problem or "unknown problem parsing YAML content"


def go_error_text(err: yaml.YAMLError) -> str:
    """Return the error text sigs.k8s.io/yaml would give after oc strips its prefixes."""
    if isinstance(err, GoReaderError):
        return err.problem
    if isinstance(err, yaml.reader.ReaderError):
        if err.encoding == "unicode":
            return "control characters are not allowed"
        return "invalid leading UTF-8 octet"
    if not isinstance(err, yaml.MarkedYAMLError):
        return str(err)
    problem = _go_problem(err)
    if problem.startswith("unknown anchor "):
        return problem
    # go-yaml reports the 0-based problem line, plus one for scanner errors, else the context line.
    scanner = isinstance(err, yaml.scanner.ScannerError)
    at_end = not scanner or (problem == _SIMPLE_KEY and not isinstance(err, GoHeadKeyError))
    problem_line = _line(err.problem_mark, at_end)
    line = 0
    if problem_line != 0:
        line = problem_line + (1 if scanner else 0)
    elif err.context_mark is not None:
        line = err.context_mark.line
    return f"line {line}: {problem}" if line else problem


#: The scanner's problem when a simple key has no ':'; at the end of the text go-yaml raises it after
#: moving to a new line (``yaml_parser_fetch_stream_end``), unless a key's own token's scan left it stale
#: before (:class:`~okdrelease.gocompat.yamlbounds.GoHeadKeyError`).
_SIMPLE_KEY = "could not find expected ':'"


def _line(mark: yaml.Mark | None, at_stream_end_token: bool) -> int:
    """The 0-based line go-yaml gives ``mark``. Where the stream-end token is fetched, go-yaml first
    moves to a new line unless the text ends with a line break: a parser error at the stream end, or a
    simple key left open there, names that line; an error while scanning a token does not."""
    if mark is None:
        return 0
    buffer = mark.buffer
    if (
        buffer is None
        or not at_stream_end_token
        or mark.pointer >= len(buffer)
        or buffer[mark.pointer] != "\0"
    ):
        return mark.line
    # The last line holds something (PyYAML's column counts no byte-order mark; go-yaml's counts one
    # after the text's start).
    last = buffer[mark.pointer - 1] if mark.pointer > (buffer[:1] == "\ufeff") else "\n"
    return mark.line if last in "\r\n\x85\u2028\u2029" else mark.line + 1
