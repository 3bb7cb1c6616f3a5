"""``k8syaml.load_yaml`` reads the same through libyaml as through the pure-Python parser alone.

The fast path is taken only where libyaml reads as the pure parser does; these cases hold the routing
to that (a value, or the same error text, either way).
"""

from __future__ import annotations

import pytest
import yaml

from okdrelease.gocompat.gojson import GoJSONError
from okdrelease.openshift import k8syaml

BOM = b"\xef\xbb\xbf"
OBJECT = b"apiVersion: v1\nkind: A\n"
#: A leading byte-order mark goes to libyaml (both skip it); one after the first byte goes to the pure parser.
_MARKS = (
    BOM + OBJECT,
    BOM + b"[]",
    BOM + b"",
    BOM + b"---\n" + OBJECT,
    BOM + b"%YAML 1.1\n---\n" + OBJECT,
    BOM + b"{a: b}",
    BOM + b" a: b\n c: d\n",
    BOM + b"a: b\n c: d\n",
    BOM + BOM + OBJECT,
    BOM + OBJECT + b"x: a" + BOM + b"b\n",
    BOM + OBJECT + b"x: |\n  a\n" + BOM + b"\n",
    BOM + b"---\n" + OBJECT + b"---\n" + BOM + b"a: [\n",
    OBJECT + BOM,
)
#: libyaml (0.2.5+) reads '?' inside a plain scalar in a flow collection as text; go-yaml ends it there.
_FLOW_QUESTION = (
    OBJECT + b"metadata: {name: a?b}\n",
    OBJECT + b"data: {url: http://a/b?c=d}\n",
    OBJECT + b"data: [a?b]\n",
    OBJECT + b"data: {'a?b': \"c?\"}\n",
    OBJECT + b"data: [a]\nurl: a?b\n",
)


def _read(data: bytes) -> object:
    try:
        return k8syaml.load_yaml(data)
    except GoJSONError as err:
        return str(err)


@pytest.mark.parametrize("data", _MARKS + _FLOW_QUESTION)
def test_fast_path_reads_as_pure_parser(data: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    assert yaml.__with_libyaml__, "PyYAML without libyaml: the fast path is not exercised"
    fast = _read(data)
    monkeypatch.setattr(k8syaml, "_FAST_LOADER", None)
    assert fast == _read(data)


class _PureRefused:
    def __init__(self, data: bytes) -> None:
        raise AssertionError("read by the pure loader")


def test_libyaml_reads_what_has_no_non_specific_tag_or_question(monkeypatch: pytest.MonkeyPatch) -> None:
    """libyaml reads a document with a ``!`` that is no tag (prose, ``!=``), and one with ``?`` and flow
    collections apart (most CRDs); the pure loader is left the non-specific tag and ``?`` in a plain flow
    scalar (found in libyaml's nodes)."""
    read = OBJECT + b"description: ready! Or not?\nexpr: a != b\nlist: [a, b]\nurl: http://a/b?c=d\n"
    with monkeypatch.context() as patched:
        patched.setattr(k8syaml, "GoLoader", _PureRefused)
        assert k8syaml.load_yaml(read)["url"] == "http://a/b?c=d"
        for pure in (OBJECT + b"x: ! 1\n", OBJECT + b"metadata: {name: a?b}\n"):
            with pytest.raises(AssertionError, match="read by the pure loader"):
                k8syaml.load_yaml(pure)


def test_question_mark_in_plain_flow_scalar_refused() -> None:
    assert _read(OBJECT + b"metadata: {name: a?b}\n") == (
        "error converting YAML to JSON: yaml: line 2: did not find expected ',' or '}'"  # oc's words
    )
    assert _read(BOM + OBJECT) == {"apiVersion": "v1", "kind": "A"}
    assert _read(OBJECT + b"data: {'a?b': \"c?\"}\n") == {
        "apiVersion": "v1",
        "kind": "A",
        "data": {"a?b": "c?"},
    }
