"""The manifest check against the real oc (``../shared/tools/oc/oc``): each case is one operator manifest,
refused or passed with the words oc prints, recorded from the real oc and checked against it again.

``oc adm release new --from-dir DIR`` runs the same check (spec §3.9: sigs.k8s.io/yaml's ``Unmarshal`` of
the file's own bytes, no line break added) on ``DIR/op/FILE`` before it writes anything, and prints
``error: unable to create a release: op/FILE: PROBLEM``; an operator image's manifest
(``test_operator_image_without_final_line_break_as_oc``) is checked the same way. The cases: errors at the
end of a text without a final line break, directives, ``kind``/``apiVersion`` and other scalars as
go-yaml resolves them (tags, merge keys, aliases, the JSON conversion), go-yaml's ``%#v`` of an invalid
map key, and the line of a surrogate's escape next to an escaped line break.
"""

from __future__ import annotations

import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from differential import cases
from differential.harness import ALL_CHECKS, run_scenario
from differential.runner import Session, oc_binary, oracle_session
from golden_support import SHARED
from registry_rig import RegistryInfo

from okdrelease.payload import check, checkyaml

OC = SHARED / "tools" / "oc" / "oc"
OBJECT = b"apiVersion: v1\nkind: ConfigMap\n"


def _key(text: bytes) -> bytes:
    """A manifest whose first key is ``text`` (``? text``)."""
    return b"? " + text + b"\n: b\n" + OBJECT


def _deep_through_aliases(anchors: int) -> bytes:
    """A manifest whose anchors nest 100 levels each, every one holding an alias of the one before: nested
    ``100 * anchors`` levels through aliases."""
    text = OBJECT + b"a0: &a0 " + b"[" * 100 + b"1" + b"]" * 100 + b"\n"
    for i in range(1, anchors):
        text += b"a%d: &a%d " % (i, i) + b"[" * 100 + b"*a%d" % (i - 1) + b"]" * 100 + b"\n"
    return text


def _aliases(count: int) -> bytes:
    """A manifest with a 200-item list anchored and ``count`` aliases of it in another list."""
    return OBJECT + b"a: &a [" + b",".join([b"0"] * 200) + b"]\nb: [" + b",".join([b"*a"] * count) + b"]\n"


def ended_at(offset: int, marker: bytes = b"---\n", bad: int = 512, head: bytes = OBJECT) -> bytes:
    """A manifest (``head`` first) whose first document ends with ``marker`` at byte ``offset`` (a comment
    fills the text before it), then text to a NUL at byte ``bad`` (right after the marker when that ends
    later): go-yaml reads 512 bytes at a time, as its scanner needs them, and the character after
    ``---``/``...`` is the last it needs for the first document."""
    head += b"#" + b"x" * (offset - len(head) - 2) + b"\n" + marker
    return head + b"a" * (bad - len(head)) + b"\x00\n"


def _syntax_error_near(bad: int) -> bytes:
    """A manifest with a syntax error near byte 16,300 (its line found by libyaml, which read 16 KiB at
    once, and read again by the pure loader from its root entry on) and a NUL at byte ``bad``."""
    text = OBJECT + b"".join(b"k%d: v\n" % i for i in range(1928))
    text += b"#" * (16_299 - len(text)) + b"\nx: [a, b}\n"
    return text + b"y: " + b"a" * (bad - len(text) - 3) + b"\x00\n"


REFUSED_UTF8 = (  # (the bytes after "x: a", go-yaml's words)
    (b"\xffb\n", "invalid leading UTF-8 octet"),
    (b"\x80b\n", "invalid leading UTF-8 octet"),
    (b"\xf8b\n", "invalid leading UTF-8 octet"),
    (b"\xc3Ab\n", "invalid trailing UTF-8 octet"),
    (b"\xe2Ab\n", "invalid trailing UTF-8 octet"),
    (b"\xc0\x80b\n", "invalid length of a UTF-8 sequence"),
    (b"\xed\xa0\x80b\n", "invalid Unicode character"),
    (b"\xf4\x90\x80\x80b\n", "invalid Unicode character"),
    (b"\x7fb\n", "control characters are not allowed"),
    (b"\xef\xbf\xbeb\n", "control characters are not allowed"),
    (b"\xe2\x82", "incomplete UTF-8 octet sequence"),
    (b"\xe2A", "incomplete UTF-8 octet sequence"),
    (b"\xc3", "incomplete UTF-8 octet sequence"),
    (b"\xf0\x90\x8d", "incomplete UTF-8 octet sequence"),
)

_KEY_LINE = "invalid YAML/JSON: line %d: could not find expected ':'"
_NO_KIND = "manifests must contain Kubernetes API objects with 'kind' and 'apiVersion' set: "

#: (manifest, oc's words after ``op/FILE: ``, None when oc passes it), recorded from the real oc.
CASES: tuple[tuple[bytes, str | None], ...] = (
    # ends of a text without a final line break (and with one), and other scanner errors
    (OBJECT + b'x: "abc', "invalid YAML/JSON: line 3: found unexpected end of stream"),
    (OBJECT + b'x: "abc\n', "invalid YAML/JSON: line 4: found unexpected end of stream"),
    (OBJECT + b"x: 'abc", "invalid YAML/JSON: line 3: found unexpected end of stream"),
    (OBJECT + b"x: {a: b", "invalid YAML/JSON: line 3: did not find expected ',' or '}'"),
    (OBJECT + b"x:\n  a: b\n c: d", "invalid YAML/JSON: line 4: did not find expected key"),
    (
        OBJECT + b"x:\n  a: b\n   c: d",
        "invalid YAML/JSON: line 5: mapping values are not allowed in this context",
    ),
    (OBJECT + b"x: |\n a\n  b\nc", "invalid YAML/JSON: line 7: could not find expected ':'"),
    (OBJECT + b'x: "a\\', "invalid YAML/JSON: line 3: found unknown escape character"),
    (OBJECT + b'x: "a\\\n', "invalid YAML/JSON: line 4: found unexpected end of stream"),
    (OBJECT + b'x: "abc\r', "invalid YAML/JSON: line 4: found unexpected end of stream"),
    (
        b'apiVersion: v1\r\nkind: ConfigMap\r\nx: "abc',
        "invalid YAML/JSON: line 3: found unexpected end of stream",
    ),
    (
        b'{"apiVersion": "v1", "kind": "ConfigMap", "x": "ab',
        "invalid YAML/JSON: found unexpected end of stream",
    ),
    (
        b'{"apiVersion": "v1",\n "kind": "ConfigMap",\n "x": "ab',
        "invalid YAML/JSON: line 3: found unexpected end of stream",
    ),
    (OBJECT + b"x: ? a", "invalid YAML/JSON: line 3: mapping keys are not allowed in this context"),
    # directives
    (b"%YAML\t1.1\n---\n" + OBJECT, None),
    (b"%YAML 1.2\n---\n" + OBJECT, "invalid YAML/JSON: found incompatible YAML document"),
    (b"%YAML 2.0\n---\n" + OBJECT, "invalid YAML/JSON: found incompatible YAML document"),
    (b"%YAML 1.1 extra\n---\n" + OBJECT, "invalid YAML/JSON: did not find expected comment or line break"),
    (b"%YAML 1.1\n%YAML 1.1\n---\n" + OBJECT, "invalid YAML/JSON: line 1: found duplicate %YAML directive"),
    (b"%YAML 1.01\n---\n" + OBJECT, None),
    (b"%YAML1.1\n---\n" + OBJECT, "invalid YAML/JSON: found unexpected non-alphabetical character"),
    (b"%FOO bar\n---\n" + OBJECT, "invalid YAML/JSON: found unknown directive name"),
    (b"% YAML 1.1\n---\n" + OBJECT, "invalid YAML/JSON: could not find expected directive name"),
    (b"%TAG !e tag:x\n---\n" + OBJECT, "invalid YAML/JSON: did not find expected '!'"),
    (
        b"%TAG !e! tag:x\n%TAG !e! tag:y\n---\n" + OBJECT,
        "invalid YAML/JSON: line 1: found duplicate %TAG directive",
    ),
    (b"%TAG !! tag:x:\n---\napiVersion: v1\nkind: !!str ConfigMap\n", None),
    (b"%TAG !e!\n---\n" + OBJECT, "invalid YAML/JSON: did not find expected whitespace"),
    (b"%TAG !e! tag:x\n---\napiVersion: v1\nkind: !e!foo ConfigMap\n", None),
    (b"%TAG !e! tag:%2\n---\n" + OBJECT, "invalid YAML/JSON: did not find URI escaped octet"),
    (b"%YAML 1.1\n%FOO\n---\n" + OBJECT, "invalid YAML/JSON: line 2: found unknown directive name"),
    (
        b"%TAG !e! tag:x\n%YAML 1.2\n---\n" + OBJECT,
        "invalid YAML/JSON: line 1: found incompatible YAML document",
    ),
    (
        b"%YAML 1.1\n%TAG !e! tag:x\n%TAG !e! tag:y\n---\n" + OBJECT,
        "invalid YAML/JSON: line 2: found duplicate %TAG directive",
    ),
    (b"# c\n%YAML 1.3\n---\n" + OBJECT, "invalid YAML/JSON: line 1: found incompatible YAML document"),
    (b"%YAML\t1.1\t# c\n---\n" + OBJECT, None),
    (b"%TAG\t!e!\ttag:x\n---\n" + OBJECT, None),
    (
        b"%TAG !e! tag:x\tfoo\n---\n" + OBJECT,
        "invalid YAML/JSON: did not find expected comment or line break",
    ),
    (b"%YAML\t\n---\n" + OBJECT, "invalid YAML/JSON: did not find expected version number"),
    # kind and apiVersion as go-yaml resolves them
    (
        b"apiVersion: v1\nkind: y\n",
        "manifests must contain Kubernetes API objects with 'kind' and 'apiVersion' set: ",
    ),
    (
        b"apiVersion: v1\nkind: 1e3\n",
        "manifests must contain Kubernetes API objects with 'kind' and 'apiVersion' set: ",
    ),
    (b"apiVersion: v1\nkind: 12:30\n", None),
    (
        b"apiVersion: v1\nkind: 0o10\n",
        "manifests must contain Kubernetes API objects with 'kind' and 'apiVersion' set: ",
    ),
    (b"apiVersion: v1\nkind: !foo ConfigMap\n", None),
    (b"apiVersion: v1\nkind: !!binary Q29uZmlnTWFw\n", None),
    (
        b"apiVersion: v1\nkind: !!int 1\n",
        "manifests must contain Kubernetes API objects with 'kind' and 'apiVersion' set: ",
    ),
    (
        b"apiVersion: v1\nkind: !!null ConfigMap\n",
        "invalid YAML/JSON: cannot decode !!str `ConfigMap` as a !!null",
    ),
    (
        b"apiVersion: v1\nkind: !!binary '!!!'\n",
        "invalid YAML/JSON: !!binary value contains invalid base64 data",
    ),
    (b"apiVersion: v1\nkind: <<\n", None),
    (b"apiVersion: v1\nkind: ! 1\n", None),
    # tags, merges, aliases and the JSON conversion
    (OBJECT + b"x: !!null x\n", "invalid YAML/JSON: cannot decode !!str `x` as a !!null"),
    (OBJECT + b"x: !!int 1.5\n", "invalid YAML/JSON: cannot decode !!float `1.5` as a !!int"),
    (OBJECT + b"x: !!binary '%%%'\n", "invalid YAML/JSON: !!binary value contains invalid base64 data"),
    (
        OBJECT + b"x: {<<: [1]}\n",
        "invalid YAML/JSON: map merge requires map or sequence of maps as the value",
    ),
    (OBJECT + b"x: .nan\n", "invalid YAML/JSON: json: unsupported value: NaN"),
    (OBJECT + b"b: .nan\na: -.inf\n", "invalid YAML/JSON: json: unsupported value: -Inf"),
    (OBJECT + b"x: {b: .nan, a: .inf}\n", "invalid YAML/JSON: json: unsupported value: +Inf"),
    (
        OBJECT + b"~: a\n",
        'invalid YAML/JSON: Unsupported map key of type: %!s(<nil>), key: <nil>, value: "a"',
    ),
    (
        OBJECT + b"18446744073709551615: a\n",
        'invalid YAML/JSON: Unsupported map key of type: uint64, key: 0xffffffffffffffff, value: "a"',
    ),
    (OBJECT + b"x: &a [*a]\n", "invalid YAML/JSON: anchor 'a' value contains itself"),
    (OBJECT + b"x: !!int 2001-01-01\n", "invalid YAML/JSON: cannot decode !!str `2001-01-01` as a !!int"),
    (OBJECT + b"x: !!float 1e400\n", "invalid YAML/JSON: cannot decode !!str `1e400` as a !!float"),
    (b"<<: {kind: ConfigMap, apiVersion: v1}\n", None),
    (b"<<: [{kind: ConfigMap}, {kind: A, apiVersion: v1}]\n", None),
    (
        b"a: &m x\n<<: *m\n" + OBJECT,
        "invalid YAML/JSON: map merge requires map or sequence of maps as the value",
    ),
    (b"!!merge <<: {kind: ConfigMap, apiVersion: v1}\n", None),
    # an alias told apart from its anchor by its place: go-yaml's count of aliased nodes (203 aliases of a
    # 200-item list pass, 204 do not), a merge's aliases checked item by item, last first
    (_aliases(70), None),
    (_aliases(203), None),
    (_aliases(204), "invalid YAML/JSON: document contains excessive aliasing"),
    (
        OBJECT + b"x: {<<: [{y: &s [{}]}, {<<: *s}]}\n",
        "invalid YAML/JSON: map merge requires map or sequence of maps as the value",
    ),
    (OBJECT + b"x:\n  <<: &s [{b: [*s]}]\n", "invalid YAML/JSON: anchor 's' value contains itself"),
    (OBJECT + b"x: {<<: [1, {a: !!int x}]}\n", "invalid YAML/JSON: cannot decode !!str `x` as a !!int"),
    (
        OBJECT + b"x: &s [1]\ny: {<<: *s}\n",
        "invalid YAML/JSON: map merge requires map or sequence of maps as the value",
    ),
    (OBJECT + b"x: &a {b: &c [*c]}\n", "invalid YAML/JSON: anchor 'c' value contains itself"),
    (OBJECT + b"x: &a {b: 1}\ny: [*a, {c: *a}]\n", None),
    # nested thousands of levels through aliases (Python's recursion limit is about 1,000), as go-yaml
    # decodes it: passed while the aliasing ratio allows it
    (_deep_through_aliases(11), None),
    (_deep_through_aliases(30), None),
    # Go's ParseFloat takes an underscore between digits after a leading '.'
    (b"apiVersion: v1\nkind: .5_0\n", _NO_KIND),
    (b"apiVersion: v1\nkind: .5e1_0\n", _NO_KIND),
    (OBJECT + b"x: !!float .5_0\n", None),
    (b"apiVersion: v1\nkind: ._5\n", None),
    (b"apiVersion: v1\nkind: .5_e1\n", None),
    (OBJECT + b"x: !!float ._5\n", "invalid YAML/JSON: cannot decode !!str `._5` as a !!float"),
    # Go's time.Parse: a comma before the fraction of a second, an offset up to 24 hours and 60 minutes
    (OBJECT + b"x: !!timestamp 2001-01-01T00:00:00,5Z\n", None),
    (OBJECT + b"x: !!timestamp 2001-01-01T00:00:00+24:00\n", None),
    (
        OBJECT + b"x: !!timestamp 2001-01-01T00:00:00+25:00\n",
        "invalid YAML/JSON: cannot decode !!str `2001-01-01T00:00:00+25:00` as a !!timestamp",
    ),
    (b"apiVersion: v1\nkind: !!float .nan\n", "invalid YAML/JSON: json: unsupported value: NaN"),
    # invalid map keys (go-yaml's %#v of the key)
    (
        _key(b"{18446744073709551615: a, 1: b, b: c, true: d, 1.5: e, ~: f}"),
        'invalid YAML/JSON: invalid map key: map[interface {}]interface {}{interface {}(nil):"f", "b":"c", 0xffffffffffffffff:"a", 1:"b", 1.5:"e", true:"d"}',
    ),
    (
        _key(b"{.nan: a, 1.5: b, -.inf: c}"),
        'invalid YAML/JSON: invalid map key: map[interface {}]interface {}{NaN:"a", -Inf:"c", 1.5:"b"}',
    ),
    (
        _key(b"{b: 1, a: 2, B: 3, \xc3\xa9: 4, '': 5}"),
        'invalid YAML/JSON: invalid map key: map[interface {}]interface {}{"":5, "B":3, "a":2, "b":1, "é":4}',
    ),
    (_key(b"[!!binary /w==]"), 'invalid YAML/JSON: invalid map key: []interface {}{"\\xff"}'),
    (_key(b"[!!int 0o10, !!int x]"), "invalid YAML/JSON: cannot decode !!str `x` as a !!int"),
    (
        _key(b"[-0, 0x8000000000000000, -0x8000000000000000]"),
        "invalid YAML/JSON: invalid map key: []interface {}{0, 0x8000000000000000, -9223372036854775808}",
    ),
    (
        _key(b"[!!timestamp 2001-01-01T00:00:00Z, '2001-01-01']"),
        'invalid YAML/JSON: invalid map key: []interface {}{"2001-01-01T00:00:00Z", "2001-01-01"}',
    ),
    (_key(b"&a [*a]"), "invalid YAML/JSON: anchor 'a' value contains itself"),
    (_key(b"[~]"), "invalid YAML/JSON: invalid map key: []interface {}{interface {}(nil)}"),
    (
        _key(b"{1: a, b: c, true: d, ~: e, 1.5: f}"),
        'invalid YAML/JSON: invalid map key: map[interface {}]interface {}{interface {}(nil):"e", "b":"c", 1:"a", 1.5:"f", true:"d"}',
    ),
    (
        _key(b"[9223372036854775808]"),
        "invalid YAML/JSON: invalid map key: []interface {}{0x8000000000000000}",
    ),
    (
        _key(b"[-9223372036854775809]"),
        "invalid YAML/JSON: invalid map key: []interface {}{-9.223372036854776e+18}",
    ),
    (_key(b"[0o10]"), "invalid YAML/JSON: invalid map key: []interface {}{8}"),
    (_key(b"[.inf, -.inf, .nan]"), "invalid YAML/JSON: invalid map key: []interface {}{+Inf, -Inf, NaN}"),
    (
        _key(b"[2001-01-01T00:00:00Z]"),
        'invalid YAML/JSON: invalid map key: []interface {}{"2001-01-01T00:00:00Z"}',
    ),
    (
        _key(b"[2001-12-14 21:59:43.10 -5]"),
        'invalid YAML/JSON: invalid map key: []interface {}{"2001-12-14 21:59:43.10 -5"}',
    ),
    (_key(b"[!!binary aGVsbG8=]"), 'invalid YAML/JSON: invalid map key: []interface {}{"hello"}'),
    (
        _key(b"[yes, no, on, off, y, n, Y, N]"),
        "invalid YAML/JSON: invalid map key: []interface {}{true, false, true, false, true, false, true, false}",
    ),
    (_key(b"[1e3]"), "invalid YAML/JSON: invalid map key: []interface {}{1000}"),
    (
        _key(b"[0.1, 1.0, -0.0, 1.5e-7, 123456789.0, 1e21]"),
        "invalid YAML/JSON: invalid map key: []interface {}{0.1, 1, -0, 1.5e-07, 1.23456789e+08, 1e+21}",
    ),
    (_key(b"[12:30:00]"), 'invalid YAML/JSON: invalid map key: []interface {}{"12:30:00"}'),
    (_key(b"[!!null x]"), "invalid YAML/JSON: cannot decode !!str `x` as a !!null"),
    (_key(b"[!foo bar]"), 'invalid YAML/JSON: invalid map key: []interface {}{"bar"}'),
    (_key(b"[=]"), 'invalid YAML/JSON: invalid map key: []interface {}{"="}'),
    (b"a: &x [1]\n? *x\n: b\n" + OBJECT, "invalid YAML/JSON: invalid map key: []interface {}{1}"),
    (
        b"x: {? {a: ~}: b}\n" + OBJECT,
        'invalid YAML/JSON: invalid map key: map[interface {}]interface {}{"a":interface {}(nil)}',
    ),
    # go-yaml 2.4 takes a flow collection for a key only when something inside it could start a key
    # (closing a level drops the key entry of the collection's own token): else the parser meets the
    # bracket where a key must be (PyYAML waited for a ':' after it)
    (OBJECT + b"{? : a}\n", "invalid YAML/JSON: line 2: did not find expected key"),
    (OBJECT + b"{? : a}", "invalid YAML/JSON: line 2: did not find expected key"),
    (OBJECT + b"{}: c\n", "invalid YAML/JSON: line 2: did not find expected key"),
    (OBJECT + b"[]: c\n", "invalid YAML/JSON: line 2: did not find expected key"),
    (OBJECT + b"{? a: b}: c\n", "invalid YAML/JSON: line 2: did not find expected key"),
    (OBJECT + b"{? a}: c\n", "invalid YAML/JSON: line 2: did not find expected key"),
    (OBJECT + b"x:\n  {}: c\n", "invalid YAML/JSON: line 3: did not find expected key"),
    (OBJECT + b"x:\n- {}: c\n", "invalid YAML/JSON: line 3: did not find expected key"),
    (OBJECT + b"x: [{}: c]\n", "invalid YAML/JSON: line 2: did not find expected ',' or ']'"),
    (OBJECT + b"x: {[]: c}\n", "invalid YAML/JSON: line 2: did not find expected ',' or '}'"),
    (b"{}: c\n" + OBJECT, _NO_KIND),
    (OBJECT + b"{a: b}: c\n", 'invalid YAML/JSON: invalid map key: map[interface {}]interface {}{"a":"b"}'),
    (OBJECT + b"[[]]: c\n", "invalid YAML/JSON: invalid map key: []interface {}{[]interface {}{}}"),
    (
        OBJECT + b"x: [{? : a}]\n",
        'invalid YAML/JSON: Unsupported map key of type: %!s(<nil>), key: <nil>, value: "a"',
    ),
    # a surrogate's escape before (or after) an escaped line break: the escape's line
    (
        OBJECT + b'x: "\\ud800\\\n  b"\n',
        "invalid YAML/JSON: line 3: found invalid Unicode character escape code",
    ),
    (
        OBJECT + b'x: "\\\n\\ud800\\\n"\n',
        "invalid YAML/JSON: line 4: found invalid Unicode character escape code",
    ),
    (
        OBJECT + b'x: "a\\\n  \\ud800"\n',
        "invalid YAML/JSON: line 4: found invalid Unicode character escape code",
    ),
    # bytes go-yaml's reader refuses, in its words (each kind of invalid UTF-8 its own) ...
    *((OBJECT + b"x: a" + tail, f"invalid YAML/JSON: {words}") for tail, words in REFUSED_UTF8),
    # ... only where it reads them: 512 bytes at a time, through the character after the '---' or '...'
    # that ends the first document (here the NUL at byte 512 is read when that character is byte 512)
    (ended_at(508), None),
    (ended_at(509), "invalid YAML/JSON: control characters are not allowed"),
    (ended_at(510), "invalid YAML/JSON: control characters are not allowed"),
    (ended_at(508, b"...\n"), None),
    (ended_at(509, b"...\n"), "invalid YAML/JSON: control characters are not allowed"),
    (ended_at(508, b"---\xc2\x85"), "invalid YAML/JSON: control characters are not allowed"),
    (ended_at(507, b"---\n\xc3\xa9", 700), None),  # a character cut by a read is decoded with the next
    (OBJECT + b"---\n" + b"a" * 476 + b"\x00\n", "invalid YAML/JSON: control characters are not allowed"),
    (OBJECT + b"---\n" + b"a" * 477 + b"\x00\n", None),  # the NUL at byte 512
    (OBJECT + b"---\n" + b"a" * 600 + b"\x00\n", None),
    # a syntax error read again from the root entry before it, with go-yaml's reads where they fall in
    # the whole text (before: a ReaderError, a traceback)
    (_syntax_error_near(16_383), "invalid YAML/JSON: control characters are not allowed"),
    (_syntax_error_near(16_384), "invalid YAML/JSON: line 1931: did not find expected ',' or ']'"),
    (_syntax_error_near(16_390), "invalid YAML/JSON: line 1931: did not find expected ',' or ']'"),
    # go-yaml v2's escapes of a double-quoted scalar: no \/ (libyaml 0.2.5 and PyYAML take it), \'
    # (they refuse it); a backslash is text outside double quotes (real CRDs' patterns: ^https:\/\/)
    (OBJECT + b'x: "\\/"\n', "invalid YAML/JSON: line 3: found unknown escape character"),
    (OBJECT + b'x: "a\n  b\\/c"\n', "invalid YAML/JSON: line 4: found unknown escape character"),
    (OBJECT + b'x: ["a\\/b"]\n', "invalid YAML/JSON: line 3: found unknown escape character"),
    (OBJECT + b'"x\\/y": z\n', "invalid YAML/JSON: line 3: found unknown escape character"),
    (
        b'{"apiVersion": "v1", "kind": "ConfigMap", "x": "a\\/b"}',
        "invalid YAML/JSON: found unknown escape character",
    ),
    (OBJECT + b'x: "\\\\\\/"\n', "invalid YAML/JSON: line 3: found unknown escape character"),
    (OBJECT + b'x: "\\\\/"\n', None),  # an escaped backslash, then '/'
    (OBJECT + b'x: "a\\\'b"\n', None),
    (b'{"apiVersion": "v1", "kind": "ConfigMap", "x": "a\\\'b"}', None),
    (OBJECT + b"x: 'a\\/b'\n", None),
    (OBJECT + b"x: a\\/b\n", None),
    (OBJECT + b'x: |\n  "a\\/b"\n', None),
    (OBJECT + b'# "a\\/b"\nx: y\n', None),
    (OBJECT + b'x: "ok"\n---\ny: "\\/"\n', None),  # the first document only
    # tags libyaml 0.2.5 (and PyYAML's C wrapper) read otherwise: ',' right after a tag in a flow
    # collection (go-yaml reads it as part of the tag), %-escapes that are no UTF-8 (go-yaml checks only
    # the octets' bit patterns; the wrapper failed: an internal error)
    (OBJECT + b"x: [!foo,b]\n", "invalid YAML/JSON: line 3: did not find expected ',' or ']'"),
    (OBJECT + b"x: {a: !foo, b: c}\n", "invalid YAML/JSON: line 2: did not find expected ',' or '}'"),
    (OBJECT + b"x: [!!str,]\n", "invalid YAML/JSON: line 3: did not find expected ',' or ']'"),
    (OBJECT + b"x: [!<a>,b]\n", "invalid YAML/JSON: line 3: did not find expected whitespace or line break"),
    (OBJECT + b"x: !%C0%80 b\n", None),
    (OBJECT + b"x: !%ED%A0%80 b\n", None),
    (OBJECT + b"x: !!%C0%80 b\n", None),
    (OBJECT + b"x: !<%C0%80> b\n", None),
    (b"apiVersion: v1\nkind: !%C0%80 ConfigMap\n", None),
    (OBJECT + b"x: !%FF b\n", "invalid YAML/JSON: line 3: found an incorrect leading UTF-8 octet"),
    (OBJECT + b"x: !<%FF> b\n", "invalid YAML/JSON: line 3: found an incorrect leading UTF-8 octet"),
    (OBJECT + b"x: !%C3%28 b\n", "invalid YAML/JSON: line 3: found an incorrect trailing UTF-8 octet"),
    (OBJECT + b"x: !%C3 b\n", "invalid YAML/JSON: line 3: did not find URI escaped octet"),
    (OBJECT + b"x: !%E2%82 b\n", "invalid YAML/JSON: line 3: did not find URI escaped octet"),
    # a ':' before ',[]{}' in a flow collection is part of a plain scalar to go-yaml (PyYAML ends the scalar)
    (OBJECT + b"x: [a:[b]]\n", "invalid YAML/JSON: line 2: did not find expected ',' or ']'"),
    (OBJECT + b"x: {a:{b: c}}\n", "invalid YAML/JSON: line 2: did not find expected ',' or '}'"),
    (OBJECT + b"x: [a:{b}]\n", "invalid YAML/JSON: line 2: did not find expected ',' or ']'"),
    (OBJECT + b"x: {a: b:, c: d}\n", None),
    (b"{apiVersion: v1, kind: ConfigMap:}\n", None),
    (OBJECT + b"x: [~:]\n", None),
    # a syntax error after an explicit '? key': the region read again starts at a simple key, not at the
    # explicit key's scalar (which would lose its '?')
    (OBJECT + b'? a\n[b]: "x\n', "invalid YAML/JSON: line 5: found unexpected end of stream"),
    (
        OBJECT + b"'q': |2\n? &a v\n- - a: b\n  ...y'\n <<: y'\n",
        "invalid YAML/JSON: line 4: did not find expected key",
    ),
    # a simple key go-yaml checks when its token reaches the parser, with the scanner where the scan of the
    # tokens after it left it: a plain scalar reads the blanks and line breaks after it (to the end of a text
    # without a final line break, whose error would name the next line), a scalar may span lines, and the
    # key of a '[' or '{' where a block key goes is not checked at the tokens inside the collection
    (OBJECT + b"x: a\nb\n ", _KEY_LINE % 5),
    (OBJECT + b"x: a\nb\n\n ", _KEY_LINE % 6),
    (OBJECT + b"x: a\nb\n c\n ", _KEY_LINE % 6),
    (OBJECT + b"x: a\nb\n c", _KEY_LINE % 5),
    (OBJECT + b"x: a\n&a b\n ", _KEY_LINE % 5),
    (OBJECT + b"x:\n  y: a\n  b\n ", _KEY_LINE % 6),
    (OBJECT + b"x: a\nb\r\n ", _KEY_LINE % 5),
    (OBJECT + b"x: a\n'b\n c'", _KEY_LINE % 5),
    (OBJECT + b"b" * 1030, _KEY_LINE % 3),  # more than 1024 characters after the key's start
    (OBJECT + b"[" + b"a" * 1030, _KEY_LINE % 3),
    (OBJECT + b"[a,\n b\n c]\n", _KEY_LINE % 5),
    (OBJECT + b"{a: b,\n c\n d: e}\n", _KEY_LINE % 5),
    (OBJECT + b"[a,\n 'b\n c']\n", _KEY_LINE % 5),
    (OBJECT + b"[a,\n b\n c]: d\n", _KEY_LINE % 5),
    (OBJECT + b"[a, 'b\n c'", _KEY_LINE % 4),
    (OBJECT + b"[a,\n b\n ", _KEY_LINE % 5),
    (OBJECT + b"x: a\nb", _KEY_LINE % 5),  # left open at the end: go-yaml's new line
    (OBJECT + b"x: a\n'b'\n ", _KEY_LINE % 6),  # a quoted scalar reads nothing after it
    # the end of a text inside a flow collection opened where a key goes: go-yaml moves to a new line and
    # keeps the collection's key (PyYAML drops every key there), refused when its token reaches the parser
    (OBJECT + b"[", _KEY_LINE % 4),
    (OBJECT + b"{a: b", _KEY_LINE % 4),
    (OBJECT + b"[a, b", _KEY_LINE % 4),
    (OBJECT + b"&a [", _KEY_LINE % 4),
    (OBJECT + b"[{}", _KEY_LINE % 4),  # (closing '{}' drops its own key's entry, not the '[''s)
    (OBJECT + b"[# c", _KEY_LINE % 4),
    (OBJECT + b"[\n", _KEY_LINE % 4),
    # go-yaml sweeps no stale keys before a token: a character that starts none is refused first (PyYAML
    # refused the key left open on the line before); a plain key reads on to it (its own token's check)
    (OBJECT + b"'q'\n@", "invalid YAML/JSON: line 4: found character that cannot start any token"),
    (OBJECT + b"'q'\n`a\n", "invalid YAML/JSON: line 4: found character that cannot start any token"),
    (OBJECT + b'"d"\n\ta', "invalid YAML/JSON: line 4: found character that cannot start any token"),
    (OBJECT + b'"d"\n  \t{', "invalid YAML/JSON: line 4: found character that cannot start any token"),
    (OBJECT + b"[a]\n@", "invalid YAML/JSON: line 4: found character that cannot start any token"),
    (OBJECT + b"&a\n@", "invalid YAML/JSON: line 4: found character that cannot start any token"),
    (OBJECT + b"x:\n  'q'\n  @", "invalid YAML/JSON: line 5: found character that cannot start any token"),
    (OBJECT + b"b\n@", _KEY_LINE % 4),
    # the scanner's refusal of a '-' entry where a block sequence cannot start, in go-yaml's words
    (
        OBJECT + b"x: - a\n",
        "invalid YAML/JSON: line 3: block sequence entries are not allowed in this context",
    ),
    (
        OBJECT + b"x: &a - b\n",
        "invalid YAML/JSON: line 3: block sequence entries are not allowed in this context",
    ),
)
_REFERENCES = (
    b'{"kind":"ImageStream","apiVersion":"image.openshift.io/v1","metadata":{"name":"4.16.0"},'
    b'"spec":{"tags":[{"name":"op","from":{"kind":"DockerImage","name":"quay.io/x/op@sha256:'
    + b"0" * 64
    + b'"}}]}}'
)
_REFUSED = "error: unable to create a release: op/0000_50_a.yaml: "


@pytest.mark.parametrize(("data", "expected"), CASES)
def test_verdict_worded_as_recorded(data: bytes, expected: str | None) -> None:
    """The libyaml path and the pure loader both give oc's verdict, word for word."""
    assert check.manifest_problem(data) == expected
    assert checkyaml.pure_problem(data) == expected


def _oc_verdict(oc: str, data: bytes, root: Path) -> str | None:
    """The real oc's verdict on ``data`` as the one manifest of operator ``op`` (``--from-dir``)."""
    (root / "in" / "op").mkdir(parents=True)
    (root / "home").mkdir()
    (root / "in" / "image-references").write_bytes(_REFERENCES)
    (root / "in" / "op" / "0000_50_a.yaml").write_bytes(data)
    run = subprocess.run(
        [oc, "adm", "release", "new", "--from-dir", str(root / "in"), "--name", "4.16.0"]
        + ["--to-dir", str(root / "out")],
        capture_output=True,
        text=True,
        env={"PATH": os.environ.get("PATH", ""), "HOME": str(root / "home")},
        timeout=300,
        check=False,
    )
    if run.returncode == 0:
        return None
    error = run.stderr.split(_REFUSED, 1)
    assert run.returncode == 1 and len(error) == 2, (data, run.stderr)
    return error[1].removesuffix("\n")


def test_recorded_words_are_the_real_ocs(tmp_path: Path) -> None:
    """Every recorded verdict is the real oc's (one run per case, in parallel)."""
    oc = oc_binary()
    if oc is None:
        pytest.skip(f"the real oc is not at {OC}")
    roots = [tmp_path / str(number) for number in range(len(CASES))]
    with ThreadPoolExecutor(8) as pool:
        verdicts = list(pool.map(_oc_verdict, [oc] * len(CASES), [data for data, _ in CASES], roots))
    assert [(data, verdict) for (data, _), verdict in zip(CASES, verdicts, strict=True)] == list(CASES)


@pytest.fixture(scope="module")
def session(registry_http: RegistryInfo, tmp_path_factory: pytest.TempPathFactory) -> Session:
    """A differential-harness session on the shared plain-HTTP registry."""
    return oracle_session(registry_http.host, Path(tmp_path_factory.mktemp("check-parity")))


#: Errors at the end of an operator image's manifest that lacks a final line break: oc reads the file's
#: own bytes (no line break added, unlike ``oc create -f``), and names the line go-yaml names for them.
_AT_THE_END = {
    "unterminated-quote": (OBJECT + b'x: "abc', "line 3: found unexpected end of stream"),
    "unclosed-flow-mapping": (OBJECT + b"x: {a: b", "line 3: did not find expected ',' or '}'"),
    "bad-indentation": (OBJECT + b"x:\n  a: b\n c: d", "line 4: did not find expected key"),
}


@pytest.mark.parametrize("case", sorted(_AT_THE_END))
def test_operator_image_without_final_line_break_as_oc(session: Session, case: str) -> None:
    """An operator image's manifest without a final line break: oc's exit code and words, from an image."""
    data, problem = _AT_THE_END[case]
    assert check.manifest_problem(data) == f"invalid YAML/JSON: {problem}"
    number = 910_000 + sorted(_AT_THE_END).index(case)
    report = run_scenario(session, cases.refused_manifest(number, data), ALL_CHECKS)
    details = "\n".join(f"[{d.area}]\n{d.detail}" for d in report.differences)
    assert not report.differences, details
    assert report.oc_code == 1
