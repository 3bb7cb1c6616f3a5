"""The lenient manifest sanity check oc runs on operator manifests (spec §3.9, Appendix C)."""

from __future__ import annotations

import logging
import re

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode

from okdrelease.errors import ReleaseError

log = logging.getLogger(__name__)

CHECKED_SUFFIXES = (".json", ".yml", ".yaml")
_EXCERPT = 30
_STRING_TAGS = ("tag:yaml.org,2002:str", "tag:yaml.org,2002:timestamp")

# PyYAML problem texts -> the go-yaml (v2) problem texts oc prints.
_PROBLEMS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), go)
    for pattern, go in (
        (r"expected ',' or '\]', but got ", "did not find expected ',' or ']'"),
        (r"expected ',' or '\}', but got ", "did not find expected ',' or '}'"),
        (r"expected the node content, but found ", "did not find expected node content"),
        (r"expected '<document start>', but found ", "did not find expected <document start>"),
        (r"mapping values are not allowed here", "mapping values are not allowed in this context"),
        (
            r"block sequence entries are not allowed here",
            "block sequence entries are not allowed in this context",
        ),
        (r"found character .* that cannot start any token", "found character that cannot start any token"),
        (r"found unknown escape character", "found unknown escape character"),
        (r"expected a comment or a line break, but found ", "did not find expected comment or line break"),
        (
            r"expected alphabetic or numeric character, but found ",
            "did not find expected alphabetic or numeric character",
        ),
        (r"found undefined tag handle", "found undefined tag handle"),
        (r"found duplicate tag handle", "found duplicate %TAG directive"),
        (r"found duplicate YAML directive", "found duplicate %YAML directive"),
        (r"found incompatible YAML document", "found incompatible YAML document"),
        (r"found unexpected document separator", "found unexpected document indicator"),
    )
)
_BLOCK_END_CONTEXTS = {
    "while parsing a block mapping": "did not find expected key",
    "while parsing a block collection": "did not find expected '-' indicator",
}


class _GoLikeLoader(yaml.SafeLoader):
    """A PyYAML loader closer to go-yaml: tabs between tokens where go-yaml allows them, repeated anchors."""

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
            if self.scan_line_break():
                if not self.flow_level:
                    self.allow_simple_key = True
            else:
                return

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        """Compose a node, letting a repeated anchor replace the earlier one as go-yaml does."""
        if not self.check_event(yaml.AliasEvent):
            anchor = self.peek_event().anchor
            if anchor is not None:
                self.anchors.pop(anchor, None)
        return super().compose_node(parent, index)


def _go_problem(err: yaml.MarkedYAMLError) -> str:
    """Return the go-yaml problem text for a PyYAML parse error."""
    problem = err.problem or ""
    if problem.startswith("expected <block end>, but found ") and err.context in _BLOCK_END_CONTEXTS:
        return _BLOCK_END_CONTEXTS[err.context]
    undefined_alias = re.fullmatch(r"found undefined alias '(.*)'", problem)
    if undefined_alias:
        return f"unknown anchor '{undefined_alias[1]}' referenced"
    for pattern, go in _PROBLEMS:
        if pattern.match(problem):
            return go
    return problem or "unknown problem parsing YAML content"


def _go_error_text(err: yaml.YAMLError) -> str:
    """Return the error text sigs.k8s.io/yaml would give after oc strips its prefixes."""
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
    line = 0
    if err.problem_mark is not None and err.problem_mark.line != 0:
        line = err.problem_mark.line + (1 if isinstance(err, yaml.scanner.ScannerError) else 0)
    elif err.context_mark is not None:
        line = err.context_mark.line
    return f"line {line}: {problem}" if line else problem


def _first_document(data: bytes) -> Node | None:
    """Return the node of the first YAML document of ``data`` (None if empty); later documents are ignored."""
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


def check_manifest(display_name: str, filename: str, data: bytes) -> None:
    """Raise ReleaseError (oc's wording) if a ``.json``/``.yml``/``.yaml`` file is not a Kubernetes object.

    ``display_name`` is ``<tag>/<file>``; files with other extensions are not checked.
    """
    if not filename.endswith(CHECKED_SUFFIXES):
        return
    try:
        node = _first_document(data)
    except yaml.YAMLError as err:
        raise ReleaseError(f"{display_name}: invalid YAML/JSON: {_go_error_text(err)}") from err
    if not isinstance(node, MappingNode):
        excerpt = data[:_EXCERPT] + b"..." if len(data) > _EXCERPT else data
        got = excerpt.decode("utf-8", "replace")
        raise ReleaseError(f"{display_name}: not a valid YAML/JSON object, got: {got}")
    for key in ("kind", "apiVersion"):
        value = _string_value(node, key)
        if not value:
            raise ReleaseError(
                f"{display_name}: manifests must contain Kubernetes API objects with 'kind' and "
                f"'apiVersion' set: {value}"
            )
    log.debug("manifest %s passed the sanity check", display_name)
