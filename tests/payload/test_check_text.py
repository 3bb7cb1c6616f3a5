"""The manifest check's raw-text pass (``payload/checktext``) passes only files the event walk passes.

It must never say "passes" for a file the walk (and so oc) refuses or leaves to composing: every sample
here, real manifests from ``../shared/testdata-real``, hand-made texts with each thing the walk refuses
placed at many depths and places, and seeded mutations of real files, is held to that. It must also
decide most real manifests, or it would save nothing.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from okdrelease.payload import checktext, checkyaml

REAL = Path(__file__).resolve().parents[2] / ".." / "shared" / "testdata-real"

BASE = b"""apiVersion: v1
kind: ConfigMap
metadata:
  name: a
  labels:
    x: y
data:
  key: value
  list:
  - a
  - b: c
    d: e
"""

#: One-line things the walk refuses or leaves undecided, each placed as a line of its own.
REFUSED_LINES = (
    b"null: x",
    b"Null: x",
    b"NULL: x",
    b"~: x",
    b": x",
    b"- : x",
    b"- null: x",
    b"18446744073709551615: x",
    b"18_446_744_073_709_551_615: x",
    b"0xFFFFFFFFFFFFFFFF: x",
    b"0o1777777777777777777777: x",
    b"0b" + b"1" * 64 + b": x",
    b"- 18446744073709551615: x",
    b"? a",
    b"? a\n: b",
    b"? [a]\n: b",
    b"? - a",
    b"? a: b",
    b"- ? - a",
    b"? {a: b}",
    b"[a]: b",
    b"[a, b]: c",
    b"{a: b}: c",
    b"[a] : b",
    b"<<: {a: b}",
    b"&a x: y",
    b"x: &a y",
    b"x: &a\n  y: z",
    b"x: *a",
    b"x: !!str y",
    b"x: !foo y",
    b"x: ! y",
    b"!!str x: y",
    b"x: .nan",
    b"x: -.inf",
    b"x: +.Inf",
    b"x: .NaN",
    b"x: [.inf]",
    b"x: {null}",
    b"x: {Null, a: b}",
    b"x: {~: a}",
    b"x: {: a}",
    b"x: [: a]",
    b"x: {a, : b}",
    b"x: {a,: b}",
    b"x: {[a]: b}",
    b"x: {{a}}",
    b"x: {{.ReleaseImage}}",
    b"x: [[a]: b]",
    b"x: [{a: b}: c]",
    b"x: {a?b: c}",
    b"x: [a?b]",
    b"x: {url: http://a/b?c=d}",
    b"x: {? a: b}",
    b"x: [?a]",
    b"x: {18446744073709551615: a}",
    b"x: [a', 'b]', null: c]",
    b'x: [a", "b]", null: c]',
    b'x: {a", "b}", ~: c}',
    b'x: {a", "b}", [c]}',
    b"x: [a', 'b]', 18446744073709551615: c]",
    b"x: [a', 'b]', c?d]",
    b'x: [a", "]\n  ", null: b]',
    b"x: [a:'b]', null: c]",
    b"x: [a 'b', null: c]",
    b"x: {\"a\":'b]', null: c}",
    b"x: [a, 18446744073709551615: b]",
    b"x: [a,\n  null: b]",
    b"x: {a: b,\n  ~: c}",
    b"x: [a, # c\n  null: b]",
    b'x: ["a]", null: b]',
    b"x: ['a]', {null}]",
    b'x: "a\nkind: B"',
    b"x: 'a\napiVersion: 5'",
    b"x: [a,\nkind: B]",
    b"x: {a: b,\nkind: B}",
    b"kind: B",
    b"kind: 5",
    b"kind: true",
    b'kind: ""',
    b"kind:",
    b"kind: [A]",
    b"kind: {a: b}",
    b"kind: 1.5",
    b"kind: null",
    b"kind: ~",
    b'"kind": ""',
    b"'kind': 1",
    b'"ki\\u006ed": ""',
    b"apiVersion: 1",
    b"apiVersion: ''",
)

#: The ``kind`` line replaced: values the walk refuses or reads otherwise than its first line says.
KIND_LINES = (
    b"kind: 5",
    b"kind: 0x1F",
    b"kind: yes",
    b"kind: true",
    b"kind: 1e3",
    b"kind: .5",
    b"kind: null",
    b"kind: ~",
    b'kind: ""',
    b"kind: ''",
    b"kind:",
    b"kind: |\n  X",
    b"kind: >-\n  X",
    b"kind: [A]",
    b"kind: {a: b}",
    b"kind: &a A",
    b"kind: *a",
    b"kind: !!int 5",
    b"kind: 12\n  34",
    b"kind: 12\n\n  34",
    b"kind: 12#3",
    b"kind:\n  A",
    b'kind: "A\n  B"',
    b"kind : 5",
    b"kind: 5 # a comment",
    b"kinds: A",
)


def _placed(line: bytes) -> Iterator[bytes]:
    """``BASE`` with ``line`` put before each of its lines (and at the end), at that line's indentation
    and at column 0, and in a second document."""
    lines = BASE.splitlines(keepends=True)
    for at in range(len(lines) + 1):
        following = lines[at] if at < len(lines) else b""
        indent = following[: len(following) - len(following.lstrip(b" -"))]
        for prefix in {b"", indent.replace(b"-", b" "), indent}:
            text = prefix + line.replace(b"\n", b"\n" + prefix.replace(b"-", b" ")) + b"\n"
            yield b"".join(lines[:at]) + text + b"".join(lines[at:])
    yield BASE + b"---\n" + line + b"\n"


#: Root keys that are not: inside a quoted scalar or a flow collection over several lines.
HIDDEN_ROOT_KEYS = (
    b'x: "a\nkind: B"',
    b'x: "a\nkind: B\n  c"',
    b"x: 'a\nkind: B\n  c'",
    b"x: [a,\nkind: B\n  ]",
    b"x: {a: b,\nkind: B\n  }",
    b'x: "a\n\nkind: B\n"',
)


#: What may follow the first document: characters libyaml's and go-yaml's readers refuse in what they
#: read ahead.
UNREADABLE_TAILS = (
    b"\x00",
    b"\xff",
    b"\xc2\x80",
    b"\x7f",
    b"\x1b[0m",
    b"#" * 400 + b"\n\x00",
    b"\xed\xa0\x80",
)


def _samples() -> Iterator[bytes]:
    for line in REFUSED_LINES:
        yield from _placed(line)
    for tail in UNREADABLE_TAILS:
        for marker in (b"---\n", b"...\n", b"--- ", b"---\nx: 1\n"):
            yield BASE + marker + tail
    without_kind = BASE.replace(b"kind: ConfigMap\n", b"")
    for line in HIDDEN_ROOT_KEYS:
        yield without_kind + line + b"\n"
        yield line + b"\n" + without_kind
    for line in KIND_LINES:
        yield BASE.replace(b"kind: ConfigMap\n", line + b"\n")
        yield BASE.replace(b"kind: ConfigMap\n", b"") + line + b"\n"


def _real_files() -> list[Path]:
    if not REAL.is_dir():
        pytest.skip(f"{REAL} not found (../shared is read at run time)")
    return sorted(
        path for path in REAL.rglob("*") if path.is_file() and path.suffix in (".yaml", ".yml", ".json")
    )


def _mutations(data: bytes, rng: random.Random, count: int) -> Iterator[bytes]:
    """Seeded edits anywhere in ``data``: refused lines put at a random line's start, single characters
    inserted or dropped."""
    starts = [0] + [at + 1 for at in range(len(data)) if data[at] == 0x0A]
    for _ in range(count):
        if rng.randrange(2):
            at = rng.choice(starts)
            indent = len(data[at:]) - len(data[at:].lstrip(b" "))
            yield data[:at] + b" " * indent + rng.choice(REFUSED_LINES) + b"\n" + data[at:]
        else:
            at = rng.randrange(len(data) + 1)
            yield data[:at] + rng.choice(b"&*!?:[]{},'\"#\n-<.~").to_bytes(1, "big") + data[at:]


def _wrongly_passed(samples: Iterator[bytes]) -> list[bytes]:
    """The samples the text pass passes that the walk does not pass, or the pure loader refuses."""
    wrong = []
    for data in samples:
        if checktext.passes(data) and (
            checkyaml._events_pass(data) is not True or checkyaml.pure_problem(data) is not None
        ):
            wrong.append(data)
    return wrong


def test_base_passes() -> None:
    assert checktext.passes(BASE)
    assert checkyaml.pure_problem(BASE) is None


def test_refused_lines_never_pass() -> None:
    samples = list(_samples())
    assert len(samples) > 1500
    assert _wrongly_passed(iter(samples)) == []
    # the walk does refuse or leave undecided most of them: the samples test something
    assert sum(checkyaml._events_pass(data) is not True for data in samples) > 1000


@pytest.mark.parametrize("line", KIND_LINES)
def test_kind_values_decided_as_the_walk(line: bytes) -> None:
    text = BASE.replace(b"kind: ConfigMap\n", line + b"\n")
    if checktext.passes(text):
        assert checkyaml._events_pass(text) is True


def test_real_manifests_pass_only_as_the_walk_and_most_pass() -> None:
    files = [path.read_bytes() for path in _real_files()]
    assert _wrongly_passed(iter(files)) == []
    passed = [data for data in files if checktext.passes(data)]
    assert len(passed) > 550  # of 658: the prose of the others looks like structure to the search
    assert sum(map(len, passed)) > 0.6 * sum(map(len, files))


def test_mutated_real_manifests_never_pass_wrongly() -> None:
    rng = random.Random(20261207)
    files = _real_files()
    samples = [mutated for path in rng.sample(files, 80) for mutated in _mutations(path.read_bytes(), rng, 8)]
    assert _wrongly_passed(iter(samples)) == []


def test_manifest_problem_builds_no_event_for_a_passing_file(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(data: bytes) -> bool:
        raise AssertionError("the event walk ran")

    monkeypatch.setattr(checkyaml, "_events_pass", refuse)
    assert checkyaml.manifest_problem(BASE) is None
    with pytest.raises(AssertionError, match="the event walk ran"):
        checkyaml.manifest_problem(BASE + b"x: &a y\n")
