"""Tests for the Go encoding/json emulation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from okdrelease.errors import ReleaseError
from okdrelease.payload.gojson import (
    GoJSONError,
    check_valid,
    format_float,
    loads_go,
    loads_go_numbers,
    marshal,
    marshal_indent,
    quote_string,
    sorted_map,
)

GOLDEN = Path(__file__).resolve().parents[2] / ".." / "shared" / "golden"


def _golden_json_files() -> list[Path]:
    files = []
    for path in sorted(GOLDEN.glob("*/expected/**/*")):
        name = path.name
        if name in ("image-references", "release-metadata") or name in (
            "config.json",
            "manifest.json",
            "signature.json",
        ):
            files.append(path)
        elif name.startswith(("manifest-", "config-")) and name.endswith(".json"):
            files.append(path)
    return files


GOLDEN_JSON = _golden_json_files()


def test_golden_files_found() -> None:
    names = {p.name for p in GOLDEN_JSON}
    assert {"image-references", "release-metadata", "config.json", "manifest.json", "signature.json"} <= names
    assert len(GOLDEN_JSON) > 40


@pytest.mark.parametrize("path", GOLDEN_JSON, ids=lambda p: str(p.relative_to(GOLDEN)))
def test_golden_round_trip(path: Path) -> None:
    data = path.read_bytes()
    obj = json.loads(data)
    if path.name in ("image-references", "release-metadata", "signature.json"):
        assert marshal_indent(obj) == data
    elif path.name.startswith("manifest"):
        assert marshal_indent(obj, "   ") == data
    else:
        assert marshal(obj) == data


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1e-7, "1e-7"),
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (5.0, "5"),
        (1.5, "1.5"),
        (-2.25, "-2.25"),
        (0.0, "0"),
        (-0.0, "-0"),
        (0.1, "0.1"),
        (1e-6, "0.000001"),
        (1.234e-6, "0.000001234"),
        (9.99e-7, "9.99e-7"),
        (1e-10, "1e-10"),
        (5e-324, "5e-324"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
        (1e100, "1e+100"),
        (-1.5e22, "-1.5e+22"),
        (12345678901234567890.0, "12345678901234567000"),
        (123456789.123, "123456789.123"),
    ],
)
def test_format_float(value: float, text: str) -> None:
    assert format_float(value) == text


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_format_float_rejects_non_finite(value: float) -> None:
    with pytest.raises(ValueError):
        format_float(value)


@pytest.mark.parametrize(
    ("text", "quoted"),
    [
        ("plain", '"plain"'),
        ("<a href='x'>&</a>", "\"\\u003ca href='x'\\u003e\\u0026\\u003c/a\\u003e\""),
        ('q"b\\', '"q\\"b\\\\"'),
        ("\b\f\n\r\t\x00\x1f\x7f", '"\\b\\f\\n\\r\\t\\u0000\\u001f\x7f"'),
        ("é ü 日本 \U0001f600", '"é ü 日本 \U0001f600"'),
        ("\u2028\u2029", '"\\u2028\\u2029"'),
        (b"a\xffb".decode("utf-8", "surrogateescape"), '"a\ufffdb"'),
    ],
)
def test_quote_string(text: str, quoted: str) -> None:
    assert quote_string(text) == quoted


def test_marshal_indent_shapes() -> None:
    obj = {"b": [], "a": {}, "c": [1, {"x": None, "y": True, "z": False}], "d": "<"}
    assert marshal_indent(obj) == (
        b'{\n  "b": [],\n  "a": {},\n  "c": [\n    1,\n    {\n      "x": null,\n      "y": true,\n'
        b'      "z": false\n    }\n  ],\n  "d": "\\u003c"\n}'
    )
    assert marshal(obj) == b'{"b":[],"a":{},"c":[1,{"x":null,"y":true,"z":false}],"d":"\\u003c"}'
    assert marshal_indent([], "\t") == b"[]"
    assert marshal_indent({}) == b"{}"
    assert marshal_indent([1, 2], "\t", ">") == b"[\n>\t1,\n>\t2\n>]"
    assert marshal(("a", 2.0)) == b'["a",2]'
    assert marshal({"é": "\u00e9"}) == '{"é":"é"}'.encode()


def test_marshal_rejects_unsupported() -> None:
    with pytest.raises(TypeError):
        marshal({"a": object()})
    with pytest.raises(TypeError):
        marshal({1: "a"})


def test_sorted_map() -> None:
    result = sorted_map({"b": 1, "B": 2, "a": 3, "é": 4, "z": 5})
    assert list(result) == ["B", "a", "b", "z", "é"]


def test_loads_go_numbers() -> None:
    value = loads_go_numbers(
        b'{"z": 1, "a": [2, 1e-7, 1e21, {"y": 3, "b": 10000000000000000000000}], "s": "x"}'
    )
    assert list(value) == ["a", "s", "z"]
    assert value["z"] == 1.0 and isinstance(value["z"], float)
    assert marshal(value) == b'{"a":[2,1e-7,1e+21,{"b":1e+22,"y":3}],"s":"x","z":1}'
    assert marshal(loads_go_numbers('{"n": 123456789012345678901234}')) == b'{"n":1.2345678901234569e+23}'


def test_loads_go_numbers_errors() -> None:
    with pytest.raises(GoJSONError) as info:
        loads_go_numbers(b'{"a": 1e400}')
    assert str(info.value) == "json: cannot unmarshal number 1e400 into Go value of type float64"
    assert isinstance(info.value, ReleaseError)
    with pytest.raises(GoJSONError) as info:
        loads_go_numbers(b"NaN")
    assert str(info.value) == "invalid character 'N' looking for beginning of value"


def test_loads_go_keeps_ints_and_order() -> None:
    value = loads_go(b'{"z": 1, "a": 2.5}')
    assert value == {"z": 1, "a": 2.5}
    assert list(value) == ["z", "a"]
    assert isinstance(value["z"], int)
    with pytest.raises(GoJSONError, match="^unexpected end of JSON input$"):
        loads_go(b"")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "unexpected end of JSON input"),
        (b"  \n", "unexpected end of JSON input"),
        (b"{", "unexpected end of JSON input"),
        (b'{"a":1', "unexpected end of JSON input"),
        (b'"abc', "unexpected end of JSON input"),
        (b"tru", "unexpected end of JSON input"),
        (b'{"a" 1}', "invalid character '1' after object key"),
        (b'{"a":1 2}', "invalid character '2' after object key:value pair"),
        (b"[1 2]", "invalid character '2' after array element"),
        (b"[1,]", "invalid character ']' looking for beginning of value"),
        (b"{,}", "invalid character ',' looking for beginning of object key string"),
        (b'{"a":1,}', "invalid character '}' looking for beginning of object key string"),
        (b"x", "invalid character 'x' looking for beginning of value"),
        (b"trux", "invalid character 'x' in literal true (expecting 'e')"),
        (b"nall", "invalid character 'a' in literal null (expecting 'u')"),
        (b"-a", "invalid character 'a' in numeric literal"),
        (b"01", "invalid character '1' after top-level value"),
        (b"1.x", "invalid character 'x' after decimal point in numeric literal"),
        (b"1ex", "invalid character 'x' in exponent of numeric literal"),
        (b'"\\x"', "invalid character 'x' in string escape code"),
        (b'"\\u12x4"', "invalid character 'x' in \\u hexadecimal character escape"),
        (b'"a\x01"', "invalid character '\\x01' in string literal"),
        (b"{}x", "invalid character 'x' after top-level value"),
        (b"'a'", "invalid character '\\'' looking for beginning of value"),
        (b'{"a":"b"}"', "invalid character '\"' after top-level value"),
        (b"\xef\xbb\xbf{}", "invalid character 'ï' looking for beginning of value"),
        (b"[1]]", "invalid character ']' after top-level value"),
    ],
)
def test_check_valid_errors(data: bytes, message: str) -> None:
    with pytest.raises(GoJSONError) as info:
        check_valid(data)
    assert str(info.value) == message


@pytest.mark.parametrize(
    "data", [b"0", b"-0.5e+10", b' {"a" : [ 1 , {"b":null} ] , "c":"\\u00e9\\n"} ', b"true", b"[]", b'"\xff"']
)
def test_check_valid_accepts(data: bytes) -> None:
    check_valid(data)
