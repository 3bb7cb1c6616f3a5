"""YAML input read as sigs.k8s.io/yaml reads it (the first document, converted to JSON's values; errors
in its words): ``-f`` image-stream files and operators' ``image-references`` that are not JSON
(:func:`load_yaml`); and streams of documents read as the Kubernetes YAML-or-JSON decoder reads them,
each YAML document by :func:`load_yaml` (:func:`load_documents`: ``extract``'s manifests).

Apart from ``okdrelease.openshift.imagestream`` so that reading JSON (the usual input) never loads PyYAML.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any, NamedTuple

import yaml

from okdrelease.gocompat.gojson import GoJSONError, first_value_error
from okdrelease.gocompat.goyaml import GoYamlError
from okdrelease.gocompat.yamlbounds import (
    BoundedLoaderMixin,
    YAMLLimitError,
    has_differing_flow_plain,
    has_directive,
    json_too_deep,
    libyaml_may_differ,
    max_depth_message,
    may_have_differing_tag,
)
from okdrelease.gocompat.yamldecode import (
    CHECK_KEY_WORD,
    DECODER_KEY_WORD,
    GoDecodeError,
    GoLoader,
    GoResolvingMixin,
    compose_first,
    go_decode,
    json_problem,
    json_value,
)
from okdrelease.gocompat.yamlerrors import go_error_text
from okdrelease.gocompat.yamlregion import go_syntax_error

__all__ = [
    "SourcedDocument",
    "iter_sourced_documents",
    "load_documents",
    "load_sourced_documents",
    "load_yaml",
    "split_documents",
]


#: libyaml's parser composing nodes with go-yaml's tags of plain scalars, when PyYAML has it. Its composer
#: resolves the non-specific tag ``!`` (go-yaml keeps the text) and does not name anchors: a file that may
#: hold that tag goes to the pure loader, and so does anything the fast path refuses (to word it) and a
#: document with a plain scalar libyaml read further than go-yaml (:func:`has_differing_flow_plain`).
_FAST_LOADER: type[Any] | None = (
    type("_FastGoDecodingLoader", (BoundedLoaderMixin, GoResolvingMixin, yaml.CSafeLoader), {})
    if yaml.__with_libyaml__
    else None
)


class _ReadOn(Exception):
    """libyaml read a plain scalar further than go-yaml: the pure loader decides."""


def _decoded(data: bytes, loader_class: type[Any], key_word: str) -> Any:
    """The first document as go-yaml decodes it and sigs.k8s.io/yaml converts it to JSON's values
    (``key_word``: :func:`json_problem`'s)."""
    node, anchor_of = compose_first(data, loader_class)
    if loader_class is _FAST_LOADER and has_differing_flow_plain(node):
        raise _ReadOn
    try:
        value = go_decode(node, anchor_of)  # go-yaml's own count bounds alias expansion
    except GoDecodeError as err:
        raise GoJSONError(f"error converting YAML to JSON: yaml: {err}") from err
    except RecursionError as err:
        raise YAMLLimitError(max_depth_message()) from err
    problem = json_problem(value, key_word)
    if problem is not None:
        raise GoJSONError(f"error converting YAML to JSON: {problem}")
    return json_value(value)  # nesting past MAX_DEPTH refused (oc has worded anything else first)


def _fast(data: bytes) -> bool:
    """Whether libyaml may read ``data`` as the pure loader does (:func:`libyaml_may_differ`,
    :func:`has_directive`, :func:`may_have_differing_tag`)."""
    return (
        _FAST_LOADER is not None
        and not may_have_differing_tag(data)
        and not libyaml_may_differ(data)
        and not has_directive(data)
    )


def load_yaml(data: bytes, key_word: str = CHECK_KEY_WORD) -> Any:
    """The first YAML document of ``data`` as sigs.k8s.io/yaml reads it into ``interface{}`` and converts it
    to JSON's values; errors in its words (go-yaml's decoding and the JSON conversion included; ``key_word``
    the first of its refusal of a map key, as the copy oc reads the file with spells it)."""
    try:
        if _fast(data):
            try:
                return _decoded(data, _FAST_LOADER, key_word)  # type: ignore[arg-type]
            except yaml.YAMLError as err:
                located = go_syntax_error(data)  # the pure loader reads only the text near the error
                if located is not None:
                    raise located from err
            except (GoJSONError, _ReadOn):
                pass  # the pure-Python loader decides (and words the error)
        return _decoded(data, GoLoader, key_word)
    except yaml.YAMLError as err:
        raise GoJSONError(f"error converting YAML to JSON: yaml: {go_error_text(err)}") from err


# --------------------------------------------------------------------------------------------
# Streams: the Kubernetes YAML-or-JSON decoder (the manifests ``oc adm release extract`` reads)


#: How far the Kubernetes decoder looks for the ``{`` that makes it try JSON first.
JSON_GUESS_BYTES = 1024


#: Go's ``unicode.IsSpace``.
_UNICODE_SPACES = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"


def _no_constant(name: str) -> Any:
    raise ValueError(f"invalid character {name[0]!r} looking for beginning of value")


def _finite_float(text: str) -> float:
    """A JSON number as Go's JSON decoder reads it into ``interface{}``: past float64's range refused in its
    words (a GoYamlError, not the ValueError of a syntax error)."""
    value = float(text)
    if value in (math.inf, -math.inf):
        raise GoYamlError(f"json: cannot unmarshal number {text} into Go value of type float64")
    return value


def _looks_like_json(data: bytes) -> bool:
    """``GuessJSONStream``: the first 1,024 bytes, Unicode spaces trimmed, start with ``{`` (a BOM is no space)."""
    head = data[:JSON_GUESS_BYTES].decode("utf-8", "replace")
    return head.lstrip(_UNICODE_SPACES).startswith("{")


class SourcedDocument(NamedTuple):
    """A document of a manifest stream and how Go's decoder read it."""

    value: Any
    #: The document's own text when Go's JSON decoder read it (None: read as YAML).
    json_text: str | None = None
    #: For the first document read as YAML after the JSON decoder failed on the stream: the JSON syntax
    #: error, which is what the decoder reports when that document is refused.
    fallback_error: str | None = None


class JSONObject(dict[str, Any]):
    """A document Go's JSON decoder read as an object, with its own text (``json_text``): what oc's writer
    reads back through go-yaml (:func:`okdrelease.gocompat.goyaml.marshal`), where a YAML document's is
    the JSON its value is written as."""

    json_text: str = ""


def _json_document(value: Any, text: str) -> SourcedDocument:
    if isinstance(value, dict):
        value = JSONObject(value)
        value.json_text = text
    return SourcedDocument(value, text)


def _go_json_syntax_error(text: str, start: int, *, offset: bool) -> str:
    """Go's error for the JSON value at ``start``: ``json: offset N: …`` (N: the bytes of the stream through
    the bad character) as the YAML-or-JSON decoder words it, or the scanner's bare text."""
    data = text[start:].encode("utf-8", "surrogateescape")
    message, through = first_value_error(data)
    if not message or through is None:
        return "unexpected EOF"
    if not offset:
        return message
    return f"json: offset {len(text[:start].encode('utf-8', 'surrogateescape')) + through}: {message}"


def _json_then_yaml(text: str) -> Iterator[SourcedDocument]:
    """The Kubernetes ``YAMLOrJSONDecoder`` on a stream starting with ``{``, one document at a time.

    JSON values are read one after the other; when one fails while at most one has been read, the
    stream is read as YAML from the end of the last good value (its trailing blanks up to the first
    line break skipped), so a flow-style YAML document such as ``{kind: X, …}`` is read as YAML; the first
    of them carries the JSON error, reported if it is refused (and when it does not parse: a later
    document's parse or separator error is reported as itself, as the decoder's later calls report it).
    After two JSON values a failure is an error.
    """
    decoder = json.JSONDecoder(parse_constant=_no_constant, parse_float=_finite_float)
    values = 0
    index = 0
    while True:
        start = index
        while index < len(text) and text[index] in " \t\r\n":
            index += 1
        if index >= len(text):
            return
        begin = index
        try:
            value, index = decoder.raw_decode(text, index)
        except ValueError as err:
            json_error = _go_json_syntax_error(text, begin, offset=values <= 1)
            if values > 1:
                raise GoYamlError(json_error) from err
            # The decoder reads the first YAML document in the call that failed: its refusal (a reader's
            # or go-yaml's) is the JSON error; a later document's, in a later call, is its own.
            first = True
            try:
                for chunk in split_documents(_after_blanks(text, start)):
                    doc = SourcedDocument(_first_document(chunk), None, json_error if first else None)
                    first = False
                    yield doc
            except GoYamlError:
                if not first:
                    raise
                raise GoYamlError(json_error) from err
            return
        values += 1
        yield _json_document(value, text[begin:index])


def _after_blanks(text: str, start: int) -> str:
    """``consumeWhitespace``: ``text`` from ``start`` with leading spaces up to and including one line break dropped."""
    index = start
    while index < len(text) and text[index] in _UNICODE_SPACES:
        index += 1
        if text[index - 1] == "\n":
            break
    return text[index:]


def _yaml_documents(text: str) -> Iterator[SourcedDocument]:
    for chunk in split_documents(text):
        yield SourcedDocument(_first_document(chunk))


def split_documents(text: str) -> Iterator[str]:
    """The document chunks of the Kubernetes ``YAMLReader``: every line ends with ``\\n``, ``---`` lines split.

    A line starting with ``---`` ends the current chunk and is dropped, unless the chunk is empty (the
    next chunk then starts with it: a line number in a YAML error counts it); after ``---`` only blanks or
    a comment may follow. ``\\r\\n`` line ends become ``\\n`` and the
    last line gets a ``\\n`` even when the file has none (so ``|+`` keeps a final line break).
    """
    buffer: list[str] = []
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for raw in lines:
        line = raw[:-1] if raw.endswith("\r") else raw
        if line.startswith("---"):
            rest = line[3:].strip()
            if rest and not rest.startswith("#"):
                raise GoYamlError(f"invalid Yaml document separator: {rest}")
            if buffer:
                yield "".join(buffer)
                buffer = []
                continue
        buffer.append(line + "\n")
    if buffer:
        yield "".join(buffer)


def _first_document(chunk: str) -> Any:
    """A chunk's first document as sigs.k8s.io/yaml's ``Unmarshal`` reads it (:func:`load_yaml`)."""
    try:
        return load_yaml(chunk.encode("utf-8", "surrogateescape"), DECODER_KEY_WORD)
    except GoJSONError as err:
        raise GoYamlError(str(err)) from err


def load_documents(data: bytes) -> list[Any]:
    """Parse a YAML (or JSON) stream into its non-null documents, as the Go manifest decoder does."""
    return [doc.value for doc in load_sourced_documents(data)]


def load_sourced_documents(data: bytes) -> list[SourcedDocument]:
    """:func:`load_documents`, each document with how Go's decoder read it.

    The decoder hands a JSON document's own text to the manifest's ``UnmarshalJSON`` (and its errors
    quote it), where a YAML document arrives re-encoded as compact JSON.
    """
    return list(iter_sourced_documents(data))


def iter_sourced_documents(data: bytes) -> Iterator[SourcedDocument]:
    """:func:`load_sourced_documents` one document at a time, as the decoder's calls read them: a later
    document's parse or separator error is raised only once the earlier ones were taken (library-go checks
    each document as it is decoded, so an earlier document's refusal is what oc reports)."""
    # Bytes that are no UTF-8 stay bytes (surrogate escapes): go-yaml refuses them in its words where it
    # reads them; Go's JSON decoder (1.27) keeps them in a string as they are. A BOM (never JSON: it is no
    # space) stays on the first line, which is then no ``---`` separator; go-yaml skips it.
    text = data.decode("utf-8", "surrogateescape")
    docs: Iterator[SourcedDocument]
    if _looks_like_json(data):
        if json_too_deep(text):
            raise GoYamlError(max_depth_message())
        docs = _json_then_yaml(text)
    else:
        docs = _yaml_documents(text)
    for doc in docs:
        if doc.value is not None:
            yield doc
