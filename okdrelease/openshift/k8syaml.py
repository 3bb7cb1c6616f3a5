"""YAML input read as sigs.k8s.io/yaml reads it (the first document, converted to JSON's values; errors
in its words): ``-f`` image-stream files and operators' ``image-references`` that are not JSON.

Apart from ``okdrelease.openshift.imagestream`` so that reading JSON (the usual input) never loads PyYAML.
"""

from __future__ import annotations

from typing import Any

import yaml

from okdrelease.gocompat.gojson import GoJSONError
from okdrelease.gocompat.yamlbounds import (
    BoundedLoaderMixin,
    GoEscapesMixin,
    YAMLLimitError,
    check_node,
    has_directive,
    libyaml_may_differ_small,
    max_depth_message,
)
from okdrelease.gocompat.yamldecode import (
    GoDecodeError,
    GoResolvingMixin,
    compose_first,
    go_decode,
    json_problem,
    json_value,
)
from okdrelease.gocompat.yamlerrors import go_error_text

__all__ = ["load_yaml"]


class _GoDecodingLoader(BoundedLoaderMixin, GoEscapesMixin, GoResolvingMixin, yaml.SafeLoader):
    """The pure-Python loader composing nodes as go-yaml reads them, for :func:`go_decode`: it decides
    and words everything the fast path does not take."""


#: libyaml's parser composing nodes with go-yaml's tags of plain scalars, when PyYAML has it. Its composer
#: resolves the non-specific tag ``!`` (go-yaml keeps the text) and does not name anchors: a file with a
#: ``!`` goes to the pure loader, and so does anything the fast path refuses (to word it).
_FAST_LOADER: type[Any] | None = (
    type("_FastGoDecodingLoader", (BoundedLoaderMixin, GoResolvingMixin, yaml.CSafeLoader), {})
    if yaml.__with_libyaml__
    else None
)


def _decoded(data: bytes, loader_class: type[Any]) -> Any:
    """The first document as go-yaml decodes it and sigs.k8s.io/yaml converts it to JSON's values."""
    node, anchor_of = compose_first(data, loader_class)
    try:
        value = go_decode(node, anchor_of)  # go-yaml's own count bounds alias expansion
    except GoDecodeError as err:
        raise GoJSONError(f"error converting YAML to JSON: yaml: {err}") from err
    except RecursionError as err:
        raise YAMLLimitError(max_depth_message()) from err
    if node is not None:
        check_node(node)  # nesting past MAX_DEPTH refused (go-yaml has worded anything else first)
    problem = json_problem(value)
    if problem is not None:
        raise GoJSONError(f"error converting YAML to JSON: {problem}")
    return json_value(value)


def _fast(data: bytes) -> bool:
    """Whether libyaml reads ``data`` as the pure loader does (:func:`libyaml_may_differ_small`,
    :func:`has_directive`, a tag ``!``)."""
    return (
        _FAST_LOADER is not None
        and b"!" not in data
        and not libyaml_may_differ_small(data)
        and not has_directive(data)
    )


def load_yaml(data: bytes) -> Any:
    """The first YAML document of ``data`` as sigs.k8s.io/yaml reads it into ``interface{}`` and converts it
    to JSON's values; errors in its words (go-yaml's decoding and the JSON conversion included)."""
    try:
        if _fast(data):
            try:
                return _decoded(data, _FAST_LOADER)  # type: ignore[arg-type]
            except (yaml.YAMLError, GoJSONError):
                pass  # the pure-Python loader decides and words the error
        return _decoded(data, _GoDecodingLoader)
    except yaml.YAMLError as err:
        raise GoJSONError(f"error converting YAML to JSON: yaml: {go_error_text(err)}") from err
