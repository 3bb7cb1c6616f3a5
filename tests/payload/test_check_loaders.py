"""The libyaml fast path of the manifest check gives the pure go-yaml-like loader's verdict on every input.

Real manifests come from ``../shared/testdata-real`` (read at run time); edge cases are generated
here, plus seeded mutations (tabs, anchors, brackets, quotes, control characters) of real files.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from okdrelease.cache import Cache
from okdrelease.gocompat import jsonbounds, yamlbounds
from okdrelease.gocompat.gojson import GoJSONError
from okdrelease.gocompat.yamldecode import GoLoader
from okdrelease.gocompat.yamlreader import AlignedBytes
from okdrelease.openshift.k8syaml import load_yaml
from okdrelease.payload import check, checktext, checkyaml

REAL = Path(__file__).resolve().parents[2] / ".." / "shared" / "testdata-real"
OBJECT = b"apiVersion: v1\nkind: ConfigMap\n"
BOM = b"\xef\xbb\xbf"
#: Texts after a leading UTF-8 byte-order mark (which both parsers skip): the libyaml path decides them.
_AFTER_BOM = (
    b"",
    b"[]",
    b"kind: A\n",
    b"---\n" + OBJECT,
    b"# a comment\n" + OBJECT,
    b"%YAML 1.1\n---\n" + OBJECT,
    b"{apiVersion: v1, kind: A}",
    b" apiVersion: v1\n kind: A\n",
    b"apiVersion: v1\n kind: A\n",
    OBJECT + BOM,
    OBJECT + b"x: a" + BOM + b"b\n",
    OBJECT + b"x: |\n  a\n" + BOM + b"\n",
    OBJECT + b'x: "' + BOM + b'"\n',
    b"---\n" + OBJECT + b"---\n" + BOM + b"a: [\n",
    b"---\n" + OBJECT + b"---\na: [\n",
)


def _real_files() -> list[Path]:
    files = sorted(p for p in REAL.rglob("*") if p.is_file() and check.is_checked(p.name))
    assert len(files) > 600, f"expected the real manifests under {REAL}"
    return files


#: Edge cases: empty texts, byte-order marks and UTF-16.
_MARKS_AND_EMPTY = (
    b"",
    b"---\n",
    b"...\n",
    b"# only a comment\n",
    OBJECT,
    b"\xef\xbb\xbf" + OBJECT,  # UTF-8 BOM
    "\ufeffapiVersion: v1\nkind: A\n".encode("utf-16-le"),
    "\ufeffapiVersion: v1\nkind: A\n".encode("utf-16-be"),
    b"\xef\xbb\xbf\xef\xbb\xbf" + OBJECT,  # two BOMs
    OBJECT + b"\xef\xbb\xbfx: 1\n",  # BOM inside
    *(BOM + text for text in _AFTER_BOM),  # a leading BOM (libyaml decides these too)
)

#: Edge cases: duplicate keys and tabs.
_DUPLICATES_AND_TABS = (
    b"apiVersion: v1\nkind: A\nkind: B\n",  # duplicate keys
    b"apiVersion: v1\napiVersion: v2\nkind: A\n",
    b"kind: A\napiVersion: v1\napiVersion: [x]\n",  # last duplicate wins, not a string
    b"apiVersion:\tv1\nkind:\tA\n",  # tabs after the colon
    b"apiVersion: v1\n\tkind: A\n",  # tab indentation
    b"apiVersion: v1\nkind: A\t\n",
    b"apiVersion: v1\nkind: A\nspec:\n\t- a\n",
    b"apiVersion: v1\nkind: A\nspec: [\ta,\tb]\n",
    b"apiVersion: v1\nkind: A\nspec: {\ta: 1}\n",
    b'{\n\t"apiVersion": "v1",\n\t"kind": "A"\n}\n',
    b"\tapiVersion: v1\nkind: A\n",
    b"apiVersion: v1\nkind: A # a comment\t\n",
    b"apiVersion: v1\nkind: A\ndata: |\n\ttabbed\n",
    b"apiVersion: v1\nkind: A\ndata: |\n  a\n\tb\n",
)

#: Edge cases: anchors, aliases, merge keys and several documents.
_ANCHORS_AND_DOCUMENTS = (
    b"a: &x 1\nb: &x v1\napiVersion: *x\nkind: A\n",  # repeated anchor
    b"a: &x [1]\nb: &x {c: 2}\napiVersion: v1\nkind: A\nd: *x\n",
    b"base: &b v1\napiVersion: *b\nkind: A\n",
    b"apiVersion: v1\nkind: *missing\n",
    b"apiVersion: &a v1\nkind: A\nx: &a\n",
    b"x: &a\n  y: *a\napiVersion: v1\nkind: A\n",  # alias to an unfinished node
    b"<<: {apiVersion: v1, kind: A}\n",  # merge key (not expanded by composition)
    b"apiVersion: v1\nkind: A\n---\nkey: [broken\n",  # broken second document
    b"apiVersion: v1\nkind: A\n---\napiVersion: v2\nkind: B\n",
    b"---\napiVersion: v1\nkind: A\n...\n---\n",
    b"--- !!map\napiVersion: v1\nkind: A\n",
    b"- apiVersion: v1\n  kind: A\n",
)

#: Edge cases: flow collections, JSON and complex keys.
_FLOW = (
    OBJECT + b"data: {url: http://a/b?c=d}\n",  # libyaml 0.2.5 reads '?' in a plain flow scalar
    OBJECT + b"metadata: {name: a?b}\n",
    OBJECT + b"data: [a?b]\n",
    OBJECT + b"data: {a?b: c}\n",
    OBJECT + b"data: [[{x: [a?]}]]\n",
    b"a: &x 1\n" + OBJECT + b"data: {url: a?b}\n",  # decided by the composed path
    OBJECT + b"data: {'a?b': \"c?\", d: e}\n",
    OBJECT + b"data: [a, b]\nurl: a?b\n",
    OBJECT + b"data: {? a, b: c}\n",
    b"{apiVersion: v1, kind: A}",
    b'{"apiVersion": "v1", "kind": "A",}',  # JSON trailing comma
    b'{"apiVersion":"v1","kind":"A"}',
    b'{"apiVersion": "v1", "kind": "A"',
    b'{"apiVersion": "v1" "kind": "A"}',
    b"[apiVersion, kind]",
    b"{a: [1, {b: c}], apiVersion: v1, kind: A}",
    b"{a:b, apiVersion: v1, kind: A}",
    b"{? a : b, apiVersion: v1, kind: A}",
    b"[a: b]",
    b"apiVersion: v1\nkind: A\nimage: {{.ReleaseImage}}\n",  # a mapping as a key
    b"apiVersion: v1\nkind: A\n? [a, b]\n: c\n",
    b"apiVersion: v1\nkind: A\nx: [a, b]: c\n",
)

#: Edge cases: line breaks, control characters, tags and scalar styles.
_SCALARS = (
    b"apiVersion: v1\r\nkind: A\r\n",
    b"apiVersion: v1\rkind: A\r",
    "apiVersion: v1\u2028kind: A\n".encode(),
    "apiVersion: v1\x85kind: A\n".encode(),
    b"apiVersion: v1\nkind: A\x07\n",
    b"apiVersion: v1\nkind: A\x00\n",
    b"apiVersion: v1\nkind: \xff\n",
    b"apiVersion: v1\nkind: \xc3\n",
    b"apiVersion: 2024-01-01\nkind: A\n",
    b"apiVersion: v1\nkind: !!str A\n",
    b"apiVersion: v1\nkind: !custom A\n",
    b"apiVersion: v1\nkind: !!int 5\n",
    b"apiVersion: v1\nkind: 5\n",
    b"apiVersion: v1\nkind: true\n",
    b"apiVersion: v1\nkind: null\n",
    b"apiVersion: v1\nkind: ~\n",
    b"apiVersion: v1\nkind: ''\n",
    b"apiVersion: v1\nkind: 1.5\n",
    b"apiVersion: v1\nkind: .inf\n",
    b"\"apiVersion\": v1\n'kind': A\n",
    b"? apiVersion\n: v1\n? kind\n: A\n",
    b"apiVersion: v1\nkind: >\n  folded\n  text\n",
    b"apiVersion: v1\nkind: |-\n  A\n",
    b'apiVersion: v1\nkind: "A\\q"\n',
    b'apiVersion: v1\nkind: "A\\x41\\u0041"\n',
    b"apiVersion: v1\nkind: 'it''s'\n",
    b"apiVersion: v1\nkind: A: B\n",
    b"apiVersion: v1\nkind: A\n  - x\n",
    b"apiVersion: v1\nkind:\n- A\n",
    b"apiVersion: v1\nkind: A\nlist:\n- a\n - b\n",
    b"apiVersion: v1\nkind: @A\n",
    b"apiVersion: v1\nkind: `A\n",
)

#: Edge cases: the non-specific tag ``!`` (libyaml's composer resolves the scalar; go-yaml keeps its text),
#: alone and beside anchors (the check then composes), and ``!`` in text, which is no tag.
_NON_SPECIFIC_TAGS = (
    b"apiVersion: v1\nkind: ! 1\n",
    b"apiVersion: v1\nkind: ! y\n",
    b"a: &x 1\nb: *x\napiVersion: v1\nkind: ! y\n",
    b"a: &x 1\nb: *x\n" + OBJECT + b"x: ! .nan\n",
    b"a: &x 1\nb: *x\n" + OBJECT + b"x: [1, !<!> 2]\n",
    b"a: &x 1\nb: *x\n" + OBJECT + b'x: {"y":! ~}\n',
    b"a: &x {kind: A, apiVersion: v1}\n! <<: *x\n",
    b"a: &x 1\nb: *x\n" + OBJECT + b"x: !\n",
    b"a: &x 1\nb: *x\n" + OBJECT + b"x: [!, !]\n",
    b"a: &x 1\nb: *x\n" + OBJECT + b"description: ready! Go!\nexpr: a != b\n",
    b"a: &x 1\nb: *x\n" + OBJECT + b"x: 'y!' \n",
)

#: Edge cases: directives and document markers.
_DIRECTIVES = (
    b"%YAML 1.1#c\n---\n" + OBJECT,  # go-yaml: blanks, then a comment
    b"%YAML 1.1 #c\n---\n" + OBJECT,
    b"%YAML 1.1x\n---\n" + OBJECT,
    b"%YAML 1.x\n---\n" + OBJECT,
    b"%YAML 1#\n---\n" + OBJECT,
    b"%YAML 1.1234567890\n---\n" + OBJECT,
    b"apiVersion: v1\nkind: A\n%YAML 1.1\n",
    b"%YAML 1.1\n---\napiVersion: v1\nkind: A\n",
    b"%YAML 1.2\n---\napiVersion: v1\nkind: A\n",
    b"%YAML 2.0\n---\napiVersion: v1\nkind: A\n",
    b"%YAML 1.1\n%YAML 1.1\n---\napiVersion: v1\nkind: A\n",
    b"%TAG ! tag:example.com,2000:\n---\napiVersion: v1\nkind: !x A\n",
    b"%TAG ! a:\n%TAG ! b:\n---\napiVersion: v1\nkind: A\n",
    b"apiVersion: v1\nkind: !u!x A\n",
    b"%FOO bar\n---\napiVersion: v1\nkind: A\n",
    b"apiVersion: v1\nkind: A\n" + b"k" * 1100 + b": v\n",  # simple key over 1024 characters
    b"apiVersion: v1\nkind: A\n---\n---\n",
    b"apiVersion: v1\nkind: A\n--- a\n",
    b"apiVersion: v1\n---kind: A\n",
)

#: Edge cases: broken syntax and plain top-level values.
#: What go-yaml's decoding and the JSON conversion decide (the real oc's verdicts are in
#: tests/test_parity_yaml_check.py): tags, merge keys, aliases, keys JSON has no string for, NaN, the
#: non-specific tag ``!`` (libyaml's composer resolves it: files with an anchor and a ``!`` go to the
#: pure loader), directives (libyaml takes ``%YAML 1.2``), line ends, and map keys.
_GO_DECODING = (
    *(OBJECT + b'x: "abc', OBJECT + b"x: {a: b", OBJECT + b"x:\n  a: b\n c: d", OBJECT + b"x: ? a"),
    *(b"%YAML 1.2\n---\n" + OBJECT, b"%YAML\t1.1\n---\n" + OBJECT, b"%FOO\n---\n" + OBJECT),
    *(b"%TAG !e! tag:x\n---\napiVersion: v1\nkind: !e!foo A\n", b"\r%YAML 1.2\n---\n" + OBJECT),
    *(b"%TAG\t!e!\ttag:x\n---\n" + OBJECT, BOM + b"%YAML 1.3\n---\n" + OBJECT),
    *(b"apiVersion: v1\nkind: y\n", b"apiVersion: v1\nkind: 12:30\n", b"apiVersion: v1\nkind: 1e3\n"),
    *(
        b"apiVersion: v1\nkind: ! 1\n",
        b"apiVersion: v1\nkind: !!binary QQ==\n",
        b"apiVersion: v1\nkind: <<\n",
    ),
    *(
        b"apiVersion: v1\nkind: '1'\n",
        b"apiVersion: v1\nkind: 2001-01-01\n",
        b"apiVersion: v1\nkind: !!int 1\n",
    ),
    *(
        OBJECT + b"x: !!int a\n",
        OBJECT + b"x: !!binary '%'\n",
        OBJECT + b"x: {<<: a}\n",
        OBJECT + b"x: .nan\n",
    ),
    *(OBJECT + b"x: .nan\nx: 1\n", OBJECT + b"x: [.inf]\n", OBJECT + b"~: a\n", OBJECT + b"x: {null: a}\n"),
    *(OBJECT + b"18446744073709551615: a\n", OBJECT + b"0xffffffffffffffff: a\n", OBJECT + b"1.5: a\n"),
    *(OBJECT + b"9223372036854775807: a\n", OBJECT + b"x: &a [*a]\n", OBJECT + b"x: &a {b: [*a]}\n"),
    *(b"<<: {kind: A, apiVersion: v1}\n", b"a: &m {kind: A, apiVersion: v1}\n<<: *m\n", b"<<: ~\n" + OBJECT),
    *(b"a: &m [{kind: A, apiVersion: v1}]\n<<: *m\n", b"<<: [{kind: A}, {apiVersion: v1}]\n"),
    *(b"a: &x 1\n" + OBJECT + b"b: ! 1\n", b"a: &x 1\nkind: ! y\napiVersion: v1\n", b"a: &x 1\n" + OBJECT),
    *(
        b"a: &x 1\n" + OBJECT + b"b: .nan\n",
        b"a: &x 1\n" + OBJECT + b"~: b\n",
        b"a: &x 1\nkind: y\napiVersion: v1\n",
    ),
    *(b"? [~]\n: b\n" + OBJECT, b"? {1: a, b: c, true: d, ~: e, 1.5: f}\n: b\n" + OBJECT),
    *(b"? [9223372036854775808, 1e3, y, 12:30]\n: b\n" + OBJECT, b"? [!!binary /w==]\n: b\n" + OBJECT),
    *(
        OBJECT + b"a: &a [" + b",".join([b"0"] * 200) + b"]\nb: [" + b",".join([b"*a"] * 203) + b"]\n",
        OBJECT + b"a: &a [" + b",".join([b"0"] * 200) + b"]\nb: [" + b",".join([b"*a"] * 204) + b"]\n",
    ),
    *(OBJECT + b"x: {<<: [{y: &s [{}]}, {<<: *s}]}\n", OBJECT + b"x:\n  <<: &s [{b: [*s]}]\n"),
    *(
        OBJECT + b"x: {<<: [1, {a: !!int x}]}\n",
        b"apiVersion: v1\nkind: .5_0\n",
        OBJECT + b"x: !!float .5_0\n",
    ),
    *(b"apiVersion: v1\nkind: .5e1_0\n", b"apiVersion: v1\nkind: ._5\n"),
    *(
        OBJECT + b"x: !!timestamp 2001-01-01T00:00:00,5Z\n",
        OBJECT + b"x: !!timestamp 2001-01-01T00:00:00+25:00\n",
    ),
    *(
        OBJECT + b'x: "\\ud800\\\n  b"\n',
        OBJECT + b'x: "\\\n\\ud800\\\n"\n',
        OBJECT + b'x: "a\\\n \\U00110000"\n',
    ),
)
_BROKEN = (
    b"apiVersion: v1\nkind: A\n...\nx: [\n",
    b"apiVersion: v1\nkind: A\nx: 'unterminated\n",
    b'apiVersion: v1\nkind: A\nx: "unterminated\n',
    b"apiVersion: v1\nkind: A\nx: |\n  a\n b\n",
    b"apiVersion: v1\nkind: A\nx: - a\n",
    b"apiVersion: v1\nkind: A\nx: ! a\n",
    b"apiVersion: v1\nkind: A\nx: & a\n",
    b"apiVersion: v1\nkind: A\nx: *\n",
    b"apiVersion: v1\nkind: A\nx: [a, b,]\n",
    b"apiVersion: v1\nkind: A\nx: [,]\n",
    b"apiVersion: v1\nkind: A\nx: {a, b}\n",
    b"apiVersion: v1\nkind: A\nx: {a: }\n",
    b"apiVersion: v1\nkind: A\nx: [a\n  b]\n",
    b"apiVersion: v1\nkind: A\nx: [a\nb]\n",
    b"apiVersion: v1\nkind: A\nx:\n  - a\n  -b\n",
    b"apiVersion: v1\nkind: A\nx: a #b\n#c\n",
    b"apiVersion: v1\nkind: A\nx: a#b\n",
    b"apiVersion: v1 \nkind: A  \n",
    b"apiVersion: v1\nkind: A\n" * 3,
    b"- [a, b]\n- {c: d}\n",
    b"'a'\n",
    b"42",
    b"null",
    b"!!map {}",
    b"{}",
    b"[]",
)


def _edge_cases() -> Iterator[bytes]:
    for theme in (
        _MARKS_AND_EMPTY,
        _DUPLICATES_AND_TABS,
        _ANCHORS_AND_DOCUMENTS,
        _FLOW,
        _SCALARS,
        _NON_SPECIFIC_TAGS,
        _DIRECTIVES,
        _GO_DECODING,
        _BROKEN,
    ):
        yield from theme


def _mutations(data: bytes, rng: random.Random, count: int) -> Iterator[bytes]:
    """Seeded local edits of ``data``: the kind of damage a hand edit or a bad template does."""
    inserts = (
        *(b"\t", b" ", b"  ", b": ", b"- ", b"? ", b"&a ", b"&a", b"*a", b"!", b"!!str ", b"|", b">", b"%"),
        *(b"[", b"]", b"{", b"}", b",", b'"', b"'", b"\\", b"#", b"@", b"`", b"...", b"---"),
        *(b"\x07", b"\n", b"\r", b"\xc2\x85", b"\xef\xbb\xbf", b"\xff"),
    )
    head = data[:1500]
    for _ in range(count):
        at = rng.randrange(len(head) + 1)
        choice = rng.randrange(4)
        if choice == 0:
            yield head[:at] + rng.choice(inserts) + head[at:]
        elif choice == 3:
            yield head[:at] + rng.choice(inserts) + head[at + 1 :]
        elif choice == 1:
            yield head[:at] + head[at + 1 :]
        else:
            line_start = head.rfind(b"\n", 0, at) + 1
            yield head[:line_start] + b"\t" + head[line_start:]


def _verdicts_agree(data: bytes) -> tuple[str | None, str | None]:
    return check.manifest_problem(data), checkyaml.pure_problem(data)


def test_libyaml_is_in_use() -> None:
    assert yaml.__with_libyaml__, "PyYAML without libyaml: the fast path is not exercised"
    assert checkyaml._FAST_LOADER is not None and issubclass(checkyaml._FAST_LOADER, yaml.CSafeLoader)


def test_real_manifests_same_verdicts() -> None:
    disagree = []
    passed = 0
    for path in _real_files():
        data = path.read_bytes()
        fast, pure = _verdicts_agree(data)
        passed += fast is None
        if fast != pure:
            disagree.append((path, fast, pure))
    assert disagree == []
    assert passed > 600  # the real manifests are objects; a fast path deciding nothing would show here


@pytest.mark.parametrize("data", list(_edge_cases()))
def test_edge_cases_same_verdicts(data: bytes) -> None:
    fast, pure = _verdicts_agree(data)
    assert fast == pure


def _pure_refused(data: bytes) -> str | None:
    raise AssertionError("decided by the pure loader")


def test_exclamation_mark_in_text_decided_by_libyaml(monkeypatch: pytest.MonkeyPatch) -> None:
    """A ``!`` that is no tag (prose, ``!=``, quoted) leaves a document with anchors to libyaml's composer; the
    non-specific tag ``!`` (``! 1``, ``!<!>``), which libyaml's composer resolves, sends it to the pure loader."""
    anchored = b"a: &x 1\nb: *x\n" + OBJECT
    texts = (b"d: ready!\n", b"e: a != b\n", b"f: '! '\n", b'g: "!"\n', b"i: [-!#]\n")
    tags = (b"x: ! 1\n", b"x: !<!> 1\n", b"x: [!]\n", b"x: {a: !}\n", b'x: {"a":! 1}\n', b"! x: 1\n", b"x: !")
    with monkeypatch.context() as patched:
        patched.setattr(checkyaml, "pure_problem", _pure_refused)
        assert [checkyaml.manifest_problem(anchored + text) for text in texts] == [None] * len(texts)
    assert [yamlbounds.may_have_differing_tag(anchored + text) for text in texts] == [False] * len(texts)
    assert [yamlbounds.may_have_differing_tag(anchored + tag) for tag in tags] == [True] * len(tags)


def test_slash_escape_routed_to_the_pure_loader(monkeypatch: pytest.MonkeyPatch) -> None:
    """A ``\\/`` escape in a double-quoted scalar (libyaml 0.2.5 reads it, go-yaml v2 refuses it) sends a file
    to the pure loader; a ``\\/`` anywhere else (the regular expressions of real CRDs, in plain scalars)
    leaves the pass to libyaml, and so does an escaped backslash before '/'."""
    real = [data for data in map(Path.read_bytes, _real_files()) if b"\\/" in data]
    assert len(real) >= 10, "expected real manifests with '\\/' in their patterns"
    with monkeypatch.context() as patched:
        patched.setattr(checkyaml, "pure_problem", _pure_refused)
        assert [checkyaml.manifest_problem(data) for data in real] == [None] * len(real)
    assert [jsonbounds.libyaml_may_differ(data) for data in real] == [False] * len(real)
    quoted = (
        b'x: "\\/"\n',
        b'x: "a\n  b\\/c"\n',
        b'x: ["a\\/b"]\n',
        b'x: {"a": "b\\\\\\/"}\n',
        b'"x\\/": y\n',
    )
    assert [jsonbounds.libyaml_may_differ(OBJECT + text) for text in quoted] == [True] * len(quoted)
    elsewhere = (b"x: a\\/b\n", b"x: 'a\\/b'\n", b'x: |\n  "a\\/b"\n', b'# "a\\/b"\nx: y\n', b'x: "\\\\/"\n')
    assert [jsonbounds.libyaml_may_differ(OBJECT + text) for text in elsewhere] == [False] * len(elsewhere)
    assert checkyaml.manifest_problem(OBJECT + quoted[1]) == (
        "invalid YAML/JSON: line 4: found unknown escape character"
    )


def test_slash_escape_screened_by_one_libyaml_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    """A real manifest with ``\\/`` that the fast path passes is parsed by libyaml (``raw_parse``) once:
    the screen's parse of all of the text stands for the first document's (a text that parses with every
    ``\\/`` read as ``\\q`` parses as it is)."""
    real = [data for data in map(Path.read_bytes, _real_files()) if b"\\/" in data]
    parsed: list[int] = []
    parses = jsonbounds.libyaml_parses

    def counted(text: bytes) -> bool:
        parsed.append(len(text))
        return parses(text)

    monkeypatch.setattr(jsonbounds, "libyaml_parses", counted)
    monkeypatch.setattr(checktext, "libyaml_parses", counted)
    monkeypatch.setattr(checkyaml, "pure_problem", _pure_refused)
    for data in real:
        parsed.clear()
        assert checkyaml.manifest_problem(data) is None
        assert parsed[:1] == [len(data)]  # the screen's
        # then only the text before a root key's line the reading of the scalars does not reach
        assert all(data.startswith((b"kind", b"apiVersion"), at) for at in parsed[1:]), data[:80]


def test_libyaml_parses_odd_input() -> None:
    """libyaml's refusals of odd input are YAMLErrors (its reader's included): the screen answers for them
    (the pure loader decides), and a bytes-like text is parsed as bytes."""
    odd = (
        b"x: a\\/\xffb\n",  # no UTF-8
        b"x: a\\/\x00\n",  # a control character
        b"x: a\\/\xed\xa0\x80\n",  # a surrogate
        b"x: a\\/\xe2\x82",  # a sequence cut short at the end
        b"x: !%FF\\/ b\n",  # a %-escape that is no UTF-8 (the parse builds no tag's text)
        b"x: &\xff a\\/\n",
    )
    assert [jsonbounds.libyaml_may_differ(OBJECT + text) for text in odd] == [True] * len(odd)
    assert [jsonbounds.libyaml_parses(OBJECT + text) for text in odd] == [False] * len(odd)
    assert jsonbounds.libyaml_parses(bytearray(OBJECT))
    assert jsonbounds.libyaml_parses(AlignedBytes(OBJECT, 0))
    assert not jsonbounds.libyaml_parses(b"\xff\xfex: a\n")  # UTF-16 cut short


def test_slash_escape_screen_skips_deep_texts(monkeypatch: pytest.MonkeyPatch) -> None:
    """A text with ``\\/`` nested deep enough for the raw-text scan to refuse it goes to the pure loader
    without libyaml's parse, whose time grows with the square of the depth (a minute for 100,000
    brackets); the verdict is the depth refusal, as before."""
    calls: list[int] = []
    real = yaml._yaml.CParser  # type: ignore[attr-defined]

    def recording(data: bytes) -> object:
        calls.append(len(data))
        return real(data)

    monkeypatch.setattr(yaml._yaml, "CParser", recording)  # type: ignore[attr-defined]
    deep = OBJECT + b"x: '\\/'\ny: " + b"[" * 20_000 + b"]" * 20_000 + b"\n"
    assert jsonbounds.libyaml_may_differ(deep)
    assert calls == []
    assert jsonbounds.libyaml_may_differ(OBJECT + b'x: "\\/"\n')  # shallow: parsed
    assert calls == [len(OBJECT) + 8]
    monkeypatch.undo()
    assert check.manifest_problem(deep) == "invalid YAML/JSON: line 4: exceeded max depth of 10000"


def test_go_yaml_escapes_in_the_pure_loader() -> None:
    """The pure loader takes go-yaml v2's escapes: ``\\'`` is ``'``, ``\\/`` an unknown escape character (as
    ``-f`` and image-references read YAML too)."""
    assert yaml.load(b'a: "x\\\'y"', Loader=GoLoader) == {"a": "x'y"}  # noqa: S506 - a SafeLoader
    with pytest.raises(yaml.scanner.ScannerError, match="found unknown escape character '/'"):
        yaml.load(b'a: "x\\/y"', Loader=GoLoader)  # noqa: S506 - a SafeLoader
    assert load_yaml(b'kind: ImageStream\nx: "a\\\'b"\n') == {"kind": "ImageStream", "x": "a'b"}
    with pytest.raises(
        GoJSONError, match="^error converting YAML to JSON: yaml: line 2: found unknown escape character$"
    ):
        load_yaml(b'kind: ImageStream\nx: "a\\/b"\n')


def test_tags_libyaml_reads_otherwise_go_to_the_pure_loader() -> None:
    """A tag with ',' right after it, or with %-escapes, is read by the pure loader (as go-yaml reads it) in
    ``-f``'s and image-references' loading too: libyaml 0.2.5 ends ``!foo`` at the ',' (go-yaml refuses
    the text), and PyYAML's C wrapper fails on an escape that is no UTF-8 (go-yaml takes it)."""
    texts = (b"x: [!foo,b]\n", b"x: [!<a>,b]\n", b"x: !%C0%80 b\n", b"x: !a%41 b\n")
    assert [yamlbounds.may_have_differing_tag(OBJECT + text) for text in texts] == [True] * len(texts)
    prose = (b"x: ready!\n", b'x: "a != b, c"\n', b'x: |\n  rate{a!~"b"}, 100%\n', b"x: [!foo]\n")
    assert [yamlbounds.may_have_differing_tag(OBJECT + text) for text in prose] == [False] * len(prose)
    with pytest.raises(
        GoJSONError, match="^error converting YAML to JSON: yaml: line 3: did not find expected ',' or ']'$"
    ):
        load_yaml(OBJECT + texts[0])
    assert load_yaml(OBJECT + texts[2]) == {"apiVersion": "v1", "kind": "ConfigMap", "x": "b"}
    assert check.manifest_problem(OBJECT + texts[2]) is None


def test_leading_bom_decided_by_libyaml(monkeypatch: pytest.MonkeyPatch) -> None:
    """A byte-order mark that opens a manifest (the console-operator's samples have one) leaves a pass to
    libyaml; a mark anywhere else, or a tab, still sends the file to the pure loader."""
    real = [data for data in map(Path.read_bytes, _real_files()) if data.startswith(BOM)]
    assert len(real) >= 4, "expected real manifests that open with a byte-order mark"
    with monkeypatch.context() as patched:
        patched.setattr(checkyaml, "pure_problem", _pure_refused)
        assert [checkyaml.manifest_problem(data) for data in real] == [None] * len(real)
        assert checkyaml.manifest_problem(BOM + OBJECT) is None
        assert checkyaml.manifest_problem(BOM + b"---\n" + OBJECT + b"---\na: [\n") is None
    for routed in (BOM + BOM + OBJECT, OBJECT + BOM, BOM + OBJECT + b"x: a" + BOM + b"b\n", BOM + b"a:\tb\n"):
        assert jsonbounds.libyaml_may_differ(routed)
    assert not jsonbounds.libyaml_may_differ(BOM + OBJECT + b"x: \xef\xbc\x81\n")  # U+FF01, a lead byte \xef
    assert check.manifest_problem(BOM + b"[]") == "not a valid YAML/JSON object, got: \ufeff[]"
    assert check.manifest_problem(BOM + b"kind: A\n") == (
        "manifests must contain Kubernetes API objects with 'kind' and 'apiVersion' set: "
    )
    assert check.manifest_problem(BOM + b"apiVersion: v1\n kind: A\n") == (
        "invalid YAML/JSON: line 2: mapping values are not allowed in this context"
    )
    assert check.manifest_problem(BOM + BOM + OBJECT) == (
        "manifests must contain Kubernetes API objects with 'kind' and 'apiVersion' set: "
    )


def test_mutated_real_manifests_same_verdicts() -> None:
    rng = random.Random(20261205)
    files = _real_files()
    disagree = []
    failing = 0
    for path in rng.sample(files, 120):
        for mutated in _mutations(path.read_bytes(), rng, 12):
            fast, pure = _verdicts_agree(mutated)
            failing += pure is not None
            if fast != pure:
                disagree.append((path.name, mutated[:200], fast, pure))
    assert disagree == []
    assert failing > 100  # the mutations do produce broken files


def test_checker_remembers_verdicts_by_content() -> None:
    calls: list[bytes] = []

    def decide(data: bytes) -> str | None:
        calls.append(data)
        return check.manifest_problem(data)

    checker = check.ManifestChecker(decide=decide)
    checker.precheck("a.yaml", OBJECT)
    checker.check("op/b.yaml", "b.yaml", OBJECT)
    checker.check("op/c.yaml", "c.yaml", bytes(bytearray(OBJECT)))  # the same content, another object
    checker.precheck_files([("d.yaml", OBJECT + b"#"), ("e.yaml", OBJECT), ("f.yaml", OBJECT + b"#")])
    checker.check("op/README", "README", b"[")
    with pytest.raises(check.ReleaseError, match=r"^op/c\.json: not a valid YAML/JSON object, got: \[\]$"):
        checker.check("op/c.json", "c.json", b"[]")
    assert calls == [OBJECT, OBJECT + b"#", b"[]"]


LAYER_A, LAYER_B = "sha256:" + "a" * 64, "sha256:" + "b" * 64
NOT_OBJECT = "not a valid YAML/JSON object, got: []"


def _counting(calls: list[bytes]) -> Callable[[bytes], str | None]:
    def decide(data: bytes) -> str | None:
        calls.append(data)
        return check.manifest_problem(data)

    return decide


def _set(*files: tuple[str, bytes]) -> list[tuple[str, bytes]]:
    """Files as a resolver reads them: new bytes objects each time (not the ones decided before)."""
    return [(name, bytes(bytearray(data))) for name, data in files]


def test_source_keyed_verdicts_need_no_file_hash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A set prechecked with a source is remembered under its source keys: a later run (a new checker,
    other bytes objects) finds every file's own verdict without deciding or hashing a file."""
    files = (("a.yaml", OBJECT), ("b.json", b"[]"), ("c.yaml", OBJECT), ("README", b"["))
    source_a, source_b = f"{LAYER_A}|manifests/", f"{LAYER_A},{LAYER_B}|manifests/"
    calls: list[bytes] = []
    with Cache(tmp_path) as store:  # closing writes the run's entries
        first = check.ManifestChecker(store, decide=_counting(calls))
        first.precheck_files(_set(*files), source_a)
        assert calls == [OBJECT, b"[]"]  # each distinct content decided once, README not checked
        first.precheck_files(
            _set(("a.yaml", b"[]"), ("b.json", OBJECT)), source_b
        )  # other layers, names swapped
        assert calls == [OBJECT, b"[]"]
    assert Cache(tmp_path).get_verdicts(
        [check.source_key(source_a, name) for name in ("a.yaml", "b.json", "c.yaml")]
    ) == {
        f"files-v1:rules-17:{source_a}:a.yaml": None,
        f"files-v1:rules-17:{source_a}:b.json": NOT_OBJECT,
        f"files-v1:rules-17:{source_a}:c.yaml": None,
    }

    def no_hash(data: bytes) -> str:
        raise AssertionError("a file was hashed")

    monkeypatch.setattr(check, "content_key", no_hash)
    later = check.ManifestChecker(Cache(tmp_path), decide=_counting(calls))
    read_a, read_b = _set(*files), _set(("a.yaml", b"[]"), ("b.json", OBJECT))
    later.precheck_files(read_a, source_a)
    later.precheck_files(read_b, source_b)
    later.precheck_files(_set(*files), source_a)  # an operator sharing the layer: the same entry
    assert calls == [OBJECT, b"[]"]
    got = {name: later.problem(name, data) for name, data in read_a}
    assert got == {"a.yaml": None, "b.json": NOT_OBJECT, "c.yaml": None, "README": None}
    assert [later.problem(name, data) for name, data in read_b] == [NOT_OBJECT, None]
    with pytest.raises(check.ReleaseError, match=r"^op/a\.yaml: not a valid YAML/JSON object, got: \[\]$"):
        later.check("op/a.yaml", "a.yaml", read_b[0][1])


def test_verdicts_remembered_under_earlier_rules_are_not_used(tmp_path: Path) -> None:
    """Verdicts an earlier version remembered (keys without the rules, rules-1: a '?' in a plain flow
    scalar passed) are not used: the file is decided again under today's rules, by source and by content."""
    data = OBJECT + b"data: {url: http://a/b?c=d}\n"
    source = f"{LAYER_A}|manifests/"
    with Cache(tmp_path) as store:
        store.put_verdicts({f"files-v1:{source}:a.yaml": None})
        store.put_verdict("sha256:" + hashlib.sha256(data).hexdigest(), None)
    refused = "invalid YAML/JSON: line 2: did not find expected ',' or '}'"
    calls: list[bytes] = []
    by_source = check.ManifestChecker(Cache(tmp_path), decide=_counting(calls))
    by_source.precheck_files(_set(("a.yaml", data)), source)
    by_content = check.ManifestChecker(Cache(tmp_path), decide=_counting(calls))
    read = _set(("b.yaml", data))
    by_content.precheck_files(read)
    assert calls == [data, data]
    assert by_content.problem("b.yaml", read[0][1]) == refused
    assert check.content_key(data) == "rules-17:sha256:" + hashlib.sha256(data).hexdigest()
    assert check.source_key(source, "a.yaml") == f"files-v1:rules-17:{source}:a.yaml"


#: Verdicts earlier rules remembered that today's rules decide otherwise: (rules, manifest, the remembered
#: verdict, today's). rules-16 refused a key left open on the line before a character that starts no token
#: (go-yaml refuses the character first); rules-15 worded the end of a text inside a flow collection opened where a key goes as
#: the parser's refusal of its bracket (go-yaml keeps the collection's key, and refuses it on a new line);
#: rules-10 refused a NUL far after the first document (go-yaml never reads it) and
#: worded every byte that is no UTF-8 as an invalid leading octet; rules-9 refused a document nested past the pure loader's composing as too deep before
#: a syntax error after it (oc words the syntax error); rules-8 refused a tab between a plain scalar's words (PyYAML's reading; oc, go-yaml
#: 2.4, takes it as text); rules-6 worded an empty flow mapping standing for a key as an invalid map key
#: (go-yaml 2.4 does not take it for a key); rules-3 passed a NaN (JSON refuses it, as the real oc does).
_EARLIER_VERDICTS = (
    (
        "rules-16",
        OBJECT + b"'q'\n@",
        "invalid YAML/JSON: line 4: could not find expected ':'",
        "invalid YAML/JSON: line 4: found character that cannot start any token",
    ),
    (
        "rules-15",
        OBJECT + b"[",
        "invalid YAML/JSON: line 2: did not find expected key",
        "invalid YAML/JSON: line 4: could not find expected ':'",
    ),
    (
        "rules-10",
        OBJECT + b"---\n" + b"a" * 600 + b"\x00\n",
        "invalid YAML/JSON: control characters are not allowed",
        None,
    ),
    (
        "rules-10",
        OBJECT + b"x: a\xc3b\n",
        "invalid YAML/JSON: invalid leading UTF-8 octet",
        "invalid YAML/JSON: invalid trailing UTF-8 octet",
    ),
    (
        "rules-9",
        OBJECT
        + b"x:\n"
        + b"".join(b"  " * (i + 1) + b"k%d:\n" % i for i in range(400))
        + b"  " * 401
        + b"v\nz: [\n",
        "invalid YAML/JSON: exceeded max depth of 200",
        "invalid YAML/JSON: line 405: did not find expected node content",
    ),
    ("rules-8", OBJECT + b"x: a\tb\n", "invalid YAML/JSON: line 3: did not find expected key", None),
    (
        "rules-6",
        OBJECT + b"{}: c\n",
        "invalid YAML/JSON: invalid map key: map[interface {}]interface {}{}",
        "invalid YAML/JSON: line 2: did not find expected key",
    ),
    ("rules-3", OBJECT + b"x: .nan\n", None, "invalid YAML/JSON: json: unsupported value: NaN"),
)


@pytest.mark.parametrize(("rules", "data", "remembered", "decided"), _EARLIER_VERDICTS)
def test_verdicts_remembered_under_earlier_rules_are_decided_again(
    tmp_path: Path, rules: str, data: bytes, remembered: str | None, decided: str | None
) -> None:
    """A verdict an earlier version remembered by content is not used: the file is decided again."""
    with Cache(tmp_path) as store:
        store.put_verdict(f"{rules}:sha256:" + hashlib.sha256(data).hexdigest(), remembered)
    calls: list[bytes] = []
    checker = check.ManifestChecker(Cache(tmp_path), decide=_counting(calls))
    checker.precheck_files(_set(("a.yaml", data)))
    assert calls == [data]
    assert checker.problem("a.yaml", data) == decided


def test_source_keyed_verdicts_other_sources_decided(tmp_path: Path) -> None:
    """A source's entry serves only that source: the same names under another source are decided,
    and verdicts already decided in the run (by content) are reused, not decided again."""
    calls: list[bytes] = []
    with Cache(tmp_path) as store:  # closing writes the run's entries
        checker = check.ManifestChecker(store, decide=_counting(calls))
        checker.precheck_files(_set(("a.yaml", OBJECT)), f"{LAYER_A}|manifests/")
        checker.precheck_files(_set(("a.yaml", b"[]"), ("b.yaml", OBJECT)), f"{LAYER_B}|manifests/")
        assert calls == [OBJECT, b"[]"]
        assert checker.problem("x.yaml", b"[]") == NOT_OBJECT  # another object: found by content
        checker.precheck_files([], f"{LAYER_B}|empty/")  # nothing checked: nothing stored
    assert Cache(tmp_path).info().entries == 2


def test_source_ignored_without_store() -> None:
    calls: list[bytes] = []
    checker = check.ManifestChecker(decide=_counting(calls))
    checker.precheck_files(_set(("a.yaml", OBJECT), ("b.yaml", b"[]")), f"{LAYER_A}|manifests/")
    checker.precheck_files(_set(("a.yaml", OBJECT)), f"{LAYER_B}|manifests/")
    assert calls == [OBJECT, b"[]"]
    assert checker.problem("b.yaml", bytes(bytearray(b"[]"))) == NOT_OBJECT


def _composed_passes(data: bytes) -> bool:
    try:
        node, anchor_of = checkyaml._first_document(data, fast=True)
        return checkyaml._node_problem(node, data, anchor_of) is None
    except yaml.YAMLError:
        return False


def test_event_walk_agrees_with_composing() -> None:
    """The event walk that decides most files decides as composing with libyaml does (or leaves it to it)."""
    rng = random.Random(20261206)
    real = [p.read_bytes() for p in _real_files()]
    samples = [*_edge_cases(), *real]
    for data in rng.sample(real, 60):
        samples.extend(_mutations(data, rng, 10))
    disagree = []
    decided = 0
    for data in samples:
        walked = checkyaml._events_pass(data)
        decided += walked is True
        if walked is not None and walked != _composed_passes(data):
            disagree.append((data[:200], walked))
    assert disagree == []
    assert decided > 600


def _image_stream_reads(data: bytes) -> tuple[object, object]:
    """The first document as the ImageStream reader builds it (libyaml or its fallback, the pure loader
    only), or the error's words."""
    from okdrelease.openshift import k8syaml

    def read() -> object:
        try:
            return k8syaml.load_yaml(data)
        except GoJSONError as err:
            return str(err)

    fast = read()
    loader = k8syaml._FAST_LOADER
    k8syaml._FAST_LOADER = None
    try:
        return fast, read()
    finally:
        k8syaml._FAST_LOADER = loader


def test_image_stream_yaml_same_documents() -> None:
    """image-references (and -f files) read through libyaml give the pure parser's document or error."""
    from okdrelease.openshift import k8syaml

    assert k8syaml._FAST_LOADER is not None
    rng = random.Random(20261207)
    real = [p.read_bytes() for p in sorted(REAL.rglob("image-references")) if p.is_file()]
    assert len(real) > 30, f"expected the real image-references under {REAL}"
    samples = [*_edge_cases(), *real, b"a: 2024-01-01\nb: 2024-01-01T00:00:00Z\n", b"1: a\ntrue: b\n~: c\n"]
    for data in rng.sample(real, 30):
        samples.extend(_mutations(data, rng, 10))
    disagree = [(data[:200], *pair) for data in samples if (pair := _image_stream_reads(data))[0] != pair[1]]
    assert disagree == []
    assert sum(isinstance(_image_stream_reads(d)[1], dict) for d in real) == len(real)


def test_deep_first_line_after_bom_is_too_deep() -> None:
    """A leading byte-order mark does not hide a first line of 200000 sequence entries from the prescan."""
    deep = b"- " * 200000 + b"a\n"
    assert jsonbounds.text_too_deep(deep)
    assert jsonbounds.text_too_deep(BOM + deep)
    assert jsonbounds.text_too_deep("\ufeff" + deep.decode())
    assert not jsonbounds.text_too_deep(BOM + b"- " * 100 + b"a\n")
    assert check.manifest_problem(BOM + deep) == "invalid YAML/JSON: exceeded max depth of 200"


def test_question_mark_in_plain_flow_scalar_refused_as_go_yaml() -> None:
    """libyaml (0.2.5+) reads ``?`` inside a plain scalar in a flow collection as text; go-yaml v2 (oc)
    ends the scalar there, a parse error: neither the event walk nor the composed path passes it."""
    refused = {
        OBJECT + b"data: {url: http://a/b?c=d}\n": "line 2: did not find expected ',' or '}'",
        OBJECT + b"data: [a?b]\n": "line 2: did not find expected ',' or ']'",
        b"a: &x 1\n" + OBJECT + b"data: {url: a?b}\n": "line 3: did not find expected ',' or '}'",
        b"a: &x 1\n" + OBJECT + b"data: [{b: *x}, c?]\n": "line 3: did not find expected ',' or ']'",
    }
    for data, problem in refused.items():
        assert yaml.load(data, Loader=yaml.CSafeLoader)  # noqa: S506 - libyaml alone reads it
        assert check.manifest_problem(data) == f"invalid YAML/JSON: {problem}"
    assert checkyaml._events_pass(OBJECT + b"data: {url: a?b}\n") is None
    for passed in (OBJECT + b"data: {url: 'a?b'}\n", OBJECT + b"url: a?b\n", OBJECT + b"d: [a]\nu: a?b\n"):
        assert checkyaml._events_pass(passed) is True
        assert check.manifest_problem(passed) is None


def test_yaml_directive_read_as_go_yaml() -> None:
    """go-yaml (and libyaml) take blanks then a comment after ``%YAML``'s version, ``%YAML 1.1#c``; the pure
    loader (here reached by a tab) words the version's errors as go-yaml does."""
    tab = b'x: "a\tb"\n'
    for header in (b"%YAML 1.1#c\n", b"%YAML 1.1\t#c\n", b"%YAML 1.1\t\n", b"%YAML \t1.1\n"):
        assert checkyaml.pure_problem(header + b"---\nkind: A\napiVersion: v1\n" + tab) is None
    refused = {
        b"%YAML 1.1x\n": "did not find expected comment or line break",
        b"%YAML 1.x\n": "did not find expected version number",
        b"%YAML 1#\n": "did not find expected digit or '.' character",
        b"%YAML 1.1234567890\n": "found extremely long version number",
    }
    for header, problem in refused.items():
        assert check.manifest_problem(header + b"---\n" + OBJECT + tab) == f"invalid YAML/JSON: {problem}"
        with pytest.raises(yaml.YAMLError, match=problem):
            yaml.load(header + b"---\n" + OBJECT, Loader=yaml.CSafeLoader)  # noqa: S506 - libyaml's words


def test_deeply_nested_key_worded_as_go_yaml() -> None:
    """A mapping key nested 250 deep (which ran out of Python recursion when constructed) is worded as oc
    words it (checked with the real oc: ``%#v`` of the nested empty slices)."""
    for depth in (1, 250, 300):
        data = b"? " + b"[" * depth + b"]" * depth + b"\n: b\napiVersion: v1\nkind: A\n"
        expected = "[]interface {}{" * depth + "}" * depth
        assert check.manifest_problem(data) == f"invalid YAML/JSON: invalid map key: {expected}"
    # A tagged scalar that is not one (``!!int x``): go-yaml refuses it while decoding the key.
    assert check.manifest_problem(b"? [!!int x]\n: c\n") == (
        "invalid YAML/JSON: cannot decode !!str `x` as a !!int"
    )
