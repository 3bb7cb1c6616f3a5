"""gojson's encoder quotes strings with the C ``json`` string encoder and makes its output Go's afterwards
(``gojson._render``): generated values give the bytes the character-by-character quoting
(``quote_string``, held to Go's outputs by test_gojson.py) gives, and the usual document never needs it."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from okdrelease.gocompat import gojson
from okdrelease.gocompat.gojson import marshal, marshal_indent, quote_string

settings.register_profile(
    "gojson-ci",
    max_examples=400,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("gojson-dev", max_examples=20000, deadline=None)
PROFILE = "gojson-dev" if os.environ.get("HYPOTHESIS_PROFILE") == "dev" else "gojson-ci"

#: Characters where Python's and Go's string encoders differ or that sit next to such a difference:
#: HTML characters, U+2028/2029, a backslash and the letters of its escapes, controls,
#: surrogates (alone and as pairs), quotes, non-ASCII and non-BMP characters.
SPECIAL = (
    '<>&\u2028\u2029\b\f\\bfnrtu"\n\r\t\x00\x01\x1f\x7f\ud800\udbff\udc00\udfff\u00e9\u65e5\U0001f600 a0'
)


def _slow(obj: Any, newline: str | None, indent: str) -> bytes:
    """The encoding with every string quoted by :func:`quote_string`."""
    out: list[str] = []
    gojson._encode(obj, out, gojson._Layout(newline, indent), 0, quote_string)
    return "".join(out).encode("utf-8")


class _Frozen(Mapping[str, Any]):
    """A mapping that is no dict (the encoder's generic path)."""

    def __init__(self, items: dict[str, Any]) -> None:
        self._items = items

    def __getitem__(self, key: str) -> Any:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)


class _Text(str):
    """A str subclass (as gojson.RawNumber is)."""


texts = st.text(alphabet=st.sampled_from(SPECIAL), max_size=12) | st.text(max_size=8)
scalars = (
    texts
    | texts.map(_Text)
    | st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=3).map(tuple)
        | st.dictionaries(texts, inner, max_size=4)
        | st.dictionaries(texts, inner, max_size=3).map(_Frozen)
    ),
    max_leaves=20,
)
layouts = st.sampled_from(["", " ", "  ", "   ", "\t", "<", "&>", "\u2028", "\\b", "x\b"])


@settings.get_profile(PROFILE)
@given(values, layouts, layouts)
def test_encoding_is_the_character_by_character_one(value: Any, indent: str, prefix: str) -> None:
    assert marshal(value) == _slow(value, None, "")
    assert marshal_indent(value, indent, prefix) == _slow(value, "\n" + prefix, indent)


@settings.get_profile(PROFILE)
@given(st.text(alphabet=st.sampled_from(SPECIAL), max_size=40))
def test_a_string_is_the_character_by_character_one(text: str) -> None:
    assert marshal(text) == quote_string(text).encode("utf-8")
    assert marshal({text: [text]}) == ("{" + quote_string(text) + ":[" + quote_string(text) + "]}").encode()


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        ("a<b>&c", b'"a\\u003cb\\u003e\\u0026c"'),
        ("\u2028\u2029", b'"\\u2028\\u2029"'),
        ("\b\f\x1b", b'"\\b\\f\\u001b"'),  # as Go 1.22 and later write them
        ("\ud800x\udfff", '"\ufffdx\ufffd"'.encode()),
        ("\ud83d\ude00", '"\ufffd\ufffd"'.encode()),  # a pair in a str is two surrogates
        ({"<": ["&", "\x01"]}, b'{"\\u003c":["\\u0026","\\u0001"]}'),
    ],
)
def test_what_python_writes_otherwise(value: Any, encoded: bytes) -> None:
    assert marshal(value) == encoded


def test_layout_characters_are_kept() -> None:
    # Go's Indent writes prefix and indent as they are: an escape only applies inside strings.
    assert marshal_indent(["<"], "&", ">") == b'[\n>&"\\u003c"\n>]'


def test_the_usual_document_needs_no_character_by_character_quoting(monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(text: str) -> str:
        raise AssertionError(f"quote_string({text!r})")

    monkeypatch.setattr(gojson, "quote_string", refused)
    doc = {
        "kind": "ImageStream",
        "metadata": {"name": "4.99.1", "annotations": {"a": "x&y<z>"}},
        "spec": {"tags": [{"name": "cli", "from": {"kind": "DockerImage", "name": "r/c@sha256:ab"}}]},
        "n": [1, -2, 1.5, None, True, False, {}, []],
    }
    assert marshal_indent(doc) == (
        b'{\n  "kind": "ImageStream",\n  "metadata": {\n    "name": "4.99.1",\n    "annotations": {\n'
        b'      "a": "x\\u0026y\\u003cz\\u003e"\n    }\n  },\n  "spec": {\n    "tags": [\n      {\n'
        b'        "name": "cli",\n        "from": {\n          "kind": "DockerImage",\n'
        b'          "name": "r/c@sha256:ab"\n        }\n      }\n    ]\n  },\n'
        b'  "n": [\n    1,\n    -2,\n    1.5,\n    null,\n    true,\n    false,\n    {},\n    []\n  ]\n}'
    )
