"""Tests for the Go encoding/json emulation."""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from pathlib import Path

import pytest

from okdrelease.errors import ReleaseError
from okdrelease.gocompat import gojson
from okdrelease.gocompat.gojson import (
    GoJSONError,
    GoMap,
    GoSlice,
    GoStruct,
    check_valid,
    decode_typed,
    format_float,
    go_type_name,
    loads_go,
    loads_go_numbers,
    loads_typed,
    marshal,
    marshal_indent,
    quote_string,
    sorted_map,
    to_interface,
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
    assert gojson._quote_escaping(text) == quoted


def test_quote_string_writes_plain_text_as_escaping_would() -> None:
    """A string with nothing to escape is written as it is: what the escaping path writes for it."""
    rng = random.Random(20261206)
    alphabet = "ab/:.-_ \x7fé日\U0001f600" + '"\\<>&\b\n\x00\x1f\u2028\u2029\ud800\udfff'
    plain = 0
    for _ in range(5000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 12)))
        plain += gojson._NEEDS_ESCAPE.search(text) is None
        assert quote_string(text) == gojson._quote_escaping(text), repr(text)
    assert 200 < plain < 5000


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
        # A bad escape and a control character in a string as Go 1.27 words them (the real oc's
        # ``--metadata``; tests/test_parity_json_escapes.py): the escape whole, after "in string".
        (b'"\\x"', "invalid escape sequence `\\x` in string"),
        (b'"\\u12x4"', "invalid escape sequence `\\u12x4` in string"),
        (b'"a\x01"', "invalid character '\\x01' in string"),
        (b"{}x", "invalid character 'x' after top-level value"),
        (b"'a'", "invalid character '\\'' looking for beginning of value"),
        (b'{"a":"b"}"', "invalid character '\"' after top-level value"),
        # The whole character, as the real oc (Go 1.27) names it (``oc adm release new --metadata TEXT``);
        # before: its first byte ('Ã' for 'é'). A byte that starts no character: its hexadecimal escape.
        (b"\xef\xbb\xbf{}", "invalid character '\\ufeff' looking for beginning of value"),
        ('{"a": é}'.encode(), "invalid character 'é' looking for beginning of value"),
        ('{"a": 日}'.encode(), "invalid character '日' looking for beginning of value"),
        ('{"a": \U0001f600}'.encode(), "invalid character '\U0001f600' looking for beginning of value"),
        ('{"a": \u2028}'.encode(), "invalid character '\\u2028' looking for beginning of value"),
        ('{"a": 1é}'.encode(), "invalid character 'é' after object key:value pair"),
        (b'{"a": \xff}', "invalid character '\\xff' looking for beginning of value"),
        (b'{"a": \xc3}', "invalid character '\\xc3' looking for beginning of value"),  # a character cut short
        (b'{"a": \xed\xa0\x80}', "invalid character '\\xed' looking for beginning of value"),  # a surrogate
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


def _scanner_accepts(data: bytes) -> bool:
    scanner = gojson._Scanner(data)
    try:
        scanner.value()
        scanner.skip_space()
    except GoJSONError:
        return False
    return scanner.pos == len(data)


def _mutated(base: list[bytes], pieces: Sequence[bytes], rng: random.Random, count: int = 400) -> list[bytes]:
    """``base`` and ``count`` seeded edits of each: a piece inserted at a random place, or replacing a byte."""
    samples = list(base)
    for data in base:
        for _ in range(count):
            at = rng.randrange(len(data) + 1)
            samples.append(data[:at] + rng.choice(pieces) + data[at + rng.randrange(2) :])
    return samples


def test_fast_validity_never_accepts_what_the_scanner_refuses() -> None:
    """check_valid's C fast path only says yes where Go's scanner (the slow path) says yes."""
    rng = random.Random(20261206)
    base = [
        b'{"kind":"ImageStream","spec":{"tags":[{"name":"a","from":{"name":"x@sha256:1"}}]},"n":-1.5e3}',
        b'[1, 2.0, "\\u00e9\\ud800", true, false, null, {"a": []}]',
    ]
    pieces = (b"NaN", b"Infinity", b"-Infinity", b"\xef\xbb\xbf", b"\x00", b"\x1f", b"\x7f", b"\xff", b"\\x")
    pieces += (
        b"'",
        b",",
        b"]",
        b"}",
        b"[",
        b"{",
        b":",
        b'"',
        b"\\",
        b"01",
        b"1.",
        b"1e",
        b"-",
        b"\t",
        b"\x0c",
    )
    samples = _mutated(base, pieces, rng)
    fast_yes = [d for d in samples if gojson._strictly_valid(d)]
    assert [d for d in fast_yes if not _scanner_accepts(d)] == []
    assert 10 < len(fast_yes) < len(samples)  # both verdicts occur


_INNER = GoStruct("pkg.Inner", (("n", "int64"), ("f", "float64"), ("any", "interface {}")))
_OUTER = GoStruct(
    "pkg.Outer",
    (
        ("name", "string"),
        ("ok", "bool"),
        ("inner", _INNER),
        ("list", GoSlice(_INNER)),
        ("labels", GoMap("string")),
    ),
)


def test_decode_typed_known_fields_case_insensitive() -> None:
    value = {
        "NAME": "a",
        "name": "b",
        "unknown": 1,
        "Inner": {"n": 3, "f": 2, "any": {"z": 1, "a": [2]}},
        "ok": None,
    }
    assert decode_typed(value, _OUTER) == {
        "name": "b",
        "inner": {"n": 3, "f": 2.0, "any": {"a": [2.0], "z": 1.0}},
        "ok": None,
    }
    assert go_type_name(GoSlice(GoMap("string"))) == "[]map[string]string"
    assert decode_typed(None, _OUTER) is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"name": 1}', "json: cannot unmarshal number into Go struct field Outer.name of type string"),
        (b'{"ok": "x"}', "json: cannot unmarshal string into Go struct field Outer.ok of type bool"),
        (
            b'{"inner": {"n": 1.5}}',
            "json: cannot unmarshal number 1.5 into Go struct field Inner.inner.n of type int64",
        ),
        (
            b'{"inner": {"n": 9223372036854775808}}',
            "json: cannot unmarshal number 9223372036854775808 into Go struct field Inner.inner.n of type int64",
        ),
        (
            b'{"inner": {"n": "1"}}',
            "json: cannot unmarshal string into Go struct field Inner.inner.n of type int64",
        ),
        (
            b'{"inner": {"f": 1e999}}',
            "json: cannot unmarshal number 1e999 into Go struct field Inner.inner.f of type float64",
        ),
        (
            b'{"list": [{"n": true}]}',
            "json: cannot unmarshal bool into Go struct field Inner.list.n of type int64",
        ),
        (
            b'{"list": {}}',
            "json: cannot unmarshal object into Go struct field Outer.list of type []pkg.Inner",
        ),
        (
            b'{"labels": []}',
            "json: cannot unmarshal array into Go struct field Outer.labels of type map[string]string",
        ),
        (b"[]", "json: cannot unmarshal array into Go value of type pkg.Outer"),
        (b"{", "unexpected end of JSON input"),
    ],
)
def test_loads_typed_errors(data: bytes, message: str) -> None:
    with pytest.raises(GoJSONError) as info:
        loads_typed(data, _OUTER)
    assert str(info.value) == message


def test_loads_typed_values() -> None:
    assert loads_typed(
        b'{"inner": {"n": -9223372036854775808, "f": 1}, "labels": {"b": "1", "a": "2"}}', _OUTER
    ) == {
        "inner": {"n": -9223372036854775808, "f": 1.0},
        "labels": {"a": "2", "b": "1"},
    }
    assert list(loads_typed(b'{"labels": {"b": "1", "a": "2"}}', _OUTER)["labels"]) == ["a", "b"]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (True, "true"),
        (False, "false"),
        (0, "0"),
        (-12, "-12"),
        (4.15, "4.15"),
        (1234567.0, "1.234567e+06"),
        (123456.0, "123456"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (3.14159265358979, "3.1415927"),
        (-0.0, "-0"),
        (float("inf"), "+Inf"),
        # Rounded to float32 before formatting (strconv.FormatFloat(v, 'g', -1, 32)), not the float64's digits.
        (16777217.0, "1.6777216e+07"),
        (786.6340625, "786.63403"),
        (-0.865436568018784, "-0.86543655"),
        # Beyond float32's range: an infinity.
        (1e39, "+Inf"),
        (-1e39, "-Inf"),
    ],
)
def test_yaml_scalars_into_string_fields(value: object, text: str) -> None:
    """sigs.k8s.io/yaml turns YAML numbers/bools bound for Go strings into strings (floats as float32 'g')."""
    assert decode_typed({"name": value}, _OUTER, from_yaml=True) == {"name": text}
    with pytest.raises(GoJSONError):
        decode_typed({"name": value}, _OUTER)


def test_to_interface() -> None:
    assert to_interface({"b": 1, "a": [True, None, "x", 2.5]}) == {"a": [True, None, "x", 2.5], "b": 1.0}
    assert list(to_interface({"b": 1, "a": 2})) == ["a", "b"]


def _checked_then_parsed(data: bytes) -> object:
    """What loads_typed did before parse_valid: Go's syntax check, then a lenient parse."""
    try:
        check_valid(data)
    except GoJSONError as err:
        return str(err)
    return json.loads(
        data.decode("utf-8", "replace"), parse_int=gojson.RawNumber, parse_float=gojson.RawNumber
    )


def test_parse_valid_is_the_syntax_check_then_the_parse() -> None:
    """parse_valid checks and parses strict JSON in one go: the same value (numbers as RawNumber) or
    the same error text as checking with Go's scanner first, on seeded mutations of JSON documents."""
    rng = random.Random(20261206)
    base = [
        b'{"kind": "ImageStream", "spec": {"tags": [{"name": "a", "generation": 1, "x": 1.5e3}]}}',
        b'[1, -0, 2.50, "\\u00e9", true, false, null, {"": []}]',
    ]
    snippets = [
        b"{",
        b"}",
        b"[",
        b"]",
        b",",
        b":",
        b'"',
        b"\\",
        b"\xff",
        b"\x00",
        b"NaN",
        b"1e999",
        b"-",
        b" ",
    ]
    samples = _mutated(base, snippets, rng)
    outcomes = set()
    for data in samples:
        try:
            got: object = gojson.parse_valid(data)
        except GoJSONError as err:
            got = str(err)
        expected = _checked_then_parsed(data)
        assert json.dumps(got) == json.dumps(expected), data
        assert [type(v) for v in _leaves(got)] == [type(v) for v in _leaves(expected)]
        outcomes.add(type(got))
    assert outcomes == {str, dict, list}


def _leaves(value: object) -> list[object]:
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in _leaves(item)]
    if isinstance(value, list):
        return [leaf for item in value for leaf in _leaves(item)]
    return [value]


def test_a_surrogate_escape_that_is_not_half_of_a_pair_decodes_to_u_fffd() -> None:
    """Go's unquote: a \\uD800-\\uDFFF escape without its other half is U+FFFD (keys too); a pair is one
    character; an escaped backslash before "ud800" is no escape. Every decoding entry point alike."""
    data = rb'{"\udfff": ["\ud800", "a\udc00\ud800b", "\ud83d\ude80", "\ud800\u0041", "\\ud800", 1.5]}'
    expected = {"\ufffd": ["\ufffd", "a\ufffd\ufffdb", "\U0001f680", "\ufffdA", "\\ud800", 1.5]}
    parsed = gojson.parse_valid(data)
    assert parsed == {"\ufffd": [*expected["\ufffd"][:5], "1.5"]}
    assert type(parsed["\ufffd"][5]) is gojson.RawNumber
    # Invalid UTF-8 in a string: the scanner's path (Go replaces the byte), the escapes alike.
    assert gojson.parse_valid(data.replace(b'"a', b'"\xffa'))["\ufffd"][1] == "\ufffda\ufffd\ufffdb"
    assert gojson.loads_go(data) == expected
    assert gojson.loads_go_numbers(data) == expected
