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
    has_directive,
    libyaml_may_differ_small,
)
from okdrelease.gocompat.yamldecode import (
    GoDecodeError,
    GoResolvingMixin,
    go_decode,
    json_problem,
    json_value,
)
from okdrelease.gocompat.yamlerrors import go_error_text

__all__ = ["load_yaml"]


class _NoTimestampLoader(BoundedLoaderMixin, GoEscapesMixin, yaml.SafeLoader):
    """SafeLoader that keeps timestamps as strings (go-yaml does not convert them for JSON) and refuses
    escapes of surrogates as go-yaml does."""


_NoTimestampLoader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _yaml_keys_to_strings(value: Any) -> Any:
    """Turn non-string mapping keys into strings, as YAML-to-JSON conversion does."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if isinstance(key, bool):
                key = "true" if key else "false"
            elif key is None:
                key = "null"
            out[str(key)] = _yaml_keys_to_strings(item)
        return out
    if isinstance(value, list):
        return [_yaml_keys_to_strings(item) for item in value]
    return value


#: :class:`_NoTimestampLoader` on libyaml's parser (the same resolvers and constructors), when PyYAML has it.
_FAST_LOADER: type[Any] | None = (
    type(
        "_FastNoTimestampLoader",
        (BoundedLoaderMixin, yaml.CSafeLoader),
        {"yaml_implicit_resolvers": _NoTimestampLoader.yaml_implicit_resolvers},
    )
    if yaml.__with_libyaml__
    else None
)


def _first_document(data: bytes) -> Any:
    """The first YAML document of ``data`` constructed (None if empty).

    libyaml reads it when it can and PyYAML was built with it; what libyaml refuses, or may read more
    leniently (:func:`libyaml_may_differ_small`) or otherwise (:func:`has_directive`), is read by the
    pure-Python parser, which words errors.
    """
    if _FAST_LOADER is not None and not libyaml_may_differ_small(data) and not has_directive(data):
        try:
            return next(yaml.load_all(data, Loader=_FAST_LOADER), None)  # noqa: S506 - safe
        except yaml.YAMLError:
            pass  # the pure-Python parser decides and words the error
    return next(yaml.load_all(data, Loader=_NoTimestampLoader), None)  # noqa: S506 - safe


class _GoDecodingLoader(BoundedLoaderMixin, GoEscapesMixin, GoResolvingMixin, yaml.SafeLoader):
    """The pure-Python loader composing nodes as go-yaml reads them, for :func:`go_decode`."""


def _go_decoded(data: bytes) -> Any:
    """The first document as go-yaml decodes it and sigs.k8s.io/yaml converts it to JSON's values: for
    what PyYAML's constructors refuse (a tagged scalar that is not one, ``!!int x``, ``!!binary %``)."""
    loader = _GoDecodingLoader(data)
    try:
        node = loader.get_node() if loader.check_node() else None
    finally:
        loader.dispose()
    try:
        value = go_decode(node, loader.anchor_of)
    except GoDecodeError as err:
        raise GoJSONError(f"error converting YAML to JSON: yaml: {err}") from err
    problem = json_problem(value)
    if problem is not None:
        raise GoJSONError(f"error converting YAML to JSON: {problem}")
    return json_value(value)


def load_yaml(data: bytes) -> Any:
    """Parse the first YAML document of ``data``; errors in the style of sigs.k8s.io/yaml."""
    try:
        try:
            return _yaml_keys_to_strings(_first_document(data))
        except ValueError:  # PyYAML's constructors refused a tagged scalar: go-yaml decides
            return _go_decoded(data)
    except yaml.YAMLError as err:
        raise GoJSONError(f"error converting YAML to JSON: yaml: {go_error_text(err)}") from err
