"""The plain-YAML reader of image-references gives PyYAML's document whenever it reads one.

Inputs: the real image-references under ``../shared/testdata-real`` (read at run time), the sample
generator's, hand-written edge cases and seeded mutations of all of them. Whatever ``load_plain``
returns must be exactly what the PyYAML reader (``okdrelease.openshift.k8syaml``) returns, key order
and types included; what it declines is left to PyYAML.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from okdrelease.gocompat.plainyaml import load_plain
from okdrelease.openshift import k8syaml
from okdrelease.openshift.imagestream import load_image_stream

REAL = Path(__file__).resolve().parents[2] / ".." / "shared" / "testdata-real"
STREAM = b"""kind: ImageStream
apiVersion: image.openshift.io/v1
spec:
  tags:
  - name: cli
    from:
      kind: DockerImage
      name: quay.io/okd/scos-content:cli
  - name: tools # owned by someone@example.com
    annotations:
      io.openshift.build.commit.id: abc
    from:
      kind: "DockerImage"
      name: 'quay.io/okd/scos-content@sha256:0123'
"""


def _real() -> dict[str, bytes]:
    files = {str(p.relative_to(REAL)): p.read_bytes() for p in sorted(REAL.rglob("image-references"))}
    assert len(files) > 30, f"expected the real image-references under {REAL}"
    return files


def _pyyaml(data: bytes) -> object:
    """What the PyYAML reader returns, or the type of its error."""
    try:
        return k8syaml.load_yaml(data)
    except Exception as err:  # noqa: BLE001 - the outcome compared
        return type(err)


def _same(data: bytes) -> bool:
    """load_plain declines ``data`` or returns exactly PyYAML's document (order and types included)."""
    fast = load_plain(data)
    if fast is None:
        return True
    expected = _pyyaml(data)
    return isinstance(expected, dict) and json.dumps(fast) == json.dumps(expected)


EDGE_CASES = (
    b"kind: ImageStream\n",
    b"---\nkind: ImageStream\n",
    b"--- \nkind: ImageStream\n",
    b"---\nkind: ImageStream\n---\nkind: Other\n",
    b"kind: ImageStream\n...\n",
    b"kind: ImageStream\nkind: Other\n",
    b"kind: yes\n",
    b"kind: On\n",
    b"kind: NULL\n",
    b"kind: Null1\n",
    b"kind: y\n",
    b"kind: n\n",
    b"yes: a\n",
    b"kind: 1.0\n",
    b"kind: 0x1F\n",
    b"kind: 2024-01-01\n",
    b"kind: ~\n",
    b"kind:\n",
    b"kind: # only a comment\n",
    b"kind: a#b\n",
    b"kind: a #b\n",
    b"kind: a  # b\n",
    b"kind:a\n",
    b"kind: a:\n",
    b"kind: a:b\n",
    b"kind: a::b\n",
    b"kind: a: b\n",
    b"kind: a b\n",
    b"kind: 'a b'\n",
    b"kind: 'a''b'\n",
    b'kind: "a\\tb"\n',
    b'kind: "a" b\n',
    b'kind: "a"# b\n',
    b'kind: "a" # b\n',
    b'kind: ""\n',
    b'"kind": a\n',
    b"kind: &x a\n",
    b"kind: !!str a\n",
    b"kind: [a]\n",
    b"kind: {a: b}\n",
    b"kind: |\n  a\n",
    b"kind: >\n  a\n",
    b"kind: a\n  b\n",
    b"kind:\n  a\n",
    b"kind:\n  a: b\n",
    b"kind:\n- a\n- b\n",
    b"kind:\n  - a\n  -  b\n",
    b"kind:\n- a\n - b\n",
    b"kind:\n-\n  a: b\n",
    b"kind:\n- - a\n",
    b"kind:\n-   a: b\n    c: d\n",
    b"kind:\n- a: b\n   c: d\n",
    b"kind:\n- a: b\n  c: d\n- e: f\nx: y\n",
    b"kind:\n- a: b\n  c:\n  - d\n  e: f\n",
    b"kind:\n- http://a\n",
    b"kind:\n- 'http://a'\n",
    b"  kind: a\n",
    b"kind: a\n b: c\n",
    b"a:\n  b: c\n d: e\n",
    b"a:\n  b: c\n\n  # x\n# y\n  d: e\n",
    b"a: b\r\n",
    b"a:\tb\n",
    b"a: \xc3\xa9\n",
    b"\xef\xbb\xbfa: b\n",
    b"- a\n- b\n",
    b"a\n",
    b"",
    b"\n\n",
    b"# c\n",
    b"a: b\n<<: c\n",
    b"a/b.c-d_e: f@sha256:0+1=2\n",
    b"? a\n: b\n",
    b"%YAML 1.1\n---\na: b\n",
    b"a:\n" + b" " * 10_000 + b"b: c\n",  # indented past the depth scan: refused by PyYAML's readers
    STREAM,
)


@pytest.mark.parametrize("data", EDGE_CASES)
def test_edge_cases_as_pyyaml(data: bytes) -> None:
    assert _same(data)


def test_reads_the_usual_image_references_without_pyyaml() -> None:
    """Every real operator's image-references but the flow-style release one is read plainly, as PyYAML reads it."""
    real = _real()
    declined = [name for name, data in real.items() if load_plain(data) is None]
    assert declined == ["releases/ocp-4.12.0-x86_64/release-manifests/image-references"]
    assert all(_same(data) for data in real.values())
    assert load_plain(STREAM) == {
        "kind": "ImageStream",
        "apiVersion": "image.openshift.io/v1",
        "spec": {
            "tags": [
                {"name": "cli", "from": {"kind": "DockerImage", "name": "quay.io/okd/scos-content:cli"}},
                {
                    "name": "tools",
                    "annotations": {"io.openshift.build.commit.id": "abc"},
                    "from": {"kind": "DockerImage", "name": "quay.io/okd/scos-content@sha256:0123"},
                },
            ]
        },
    }


_SNIPPETS = (
    b" ", b"  ", b"\n", b"- ", b"-", b":", b": ", b"#", b" #", b"'", b'"', b"yes", b"1", b"~",
    b"---\n", b"&a ", b"*a", b"[", b"{", b"\t", b"\r", b"a: b\n", b"  - c\n", b"null", b"\\",
)  # fmt: skip


def _mutations(data: bytes, rng: random.Random, count: int) -> Iterator[bytes]:
    """Seeded edits: a snippet inserted, a byte or a line dropped, a line's indentation changed, a line repeated."""
    for _ in range(count):
        lines = data.split(b"\n")
        at = rng.randrange(len(lines))
        kind = rng.randrange(5)
        if kind == 0:
            pos = rng.randrange(len(data) + 1)
            yield data[:pos] + rng.choice(_SNIPPETS) + data[pos:]
        elif kind == 1 and data:
            pos = rng.randrange(len(data))
            yield data[:pos] + data[pos + 1 :]
        elif kind == 2:
            yield b"\n".join(lines[:at] + lines[at + 1 :])
        elif kind == 3:
            yield b"\n".join([*lines[:at], b" " * rng.randrange(1, 4) + lines[at], *lines[at + 1 :]])
        else:
            yield b"\n".join([*lines[: at + 1], lines[at], *lines[at + 1 :]])


def test_mutations_as_pyyaml() -> None:
    rng = random.Random(20261206)
    samples = [STREAM, *rng.sample(list(_real().values()), 20)]
    disagree = []
    read = 0
    for data in samples:
        for mutated in _mutations(data, rng, 150):
            read += load_plain(mutated) is not None
            if not _same(mutated):
                disagree.append(mutated)
    assert disagree == []
    assert read > 500  # many mutations stay plain (and agree); the rest went to PyYAML


def test_image_stream_the_same_through_either_reader() -> None:
    """load_image_stream gives the same ImageStream whether the plain reader or PyYAML read the file."""
    for data in (*_real().values(), STREAM):
        fast = load_image_stream(data)
        document = k8syaml.load_yaml(data)
        assert load_image_stream(json.dumps(document).encode()) == fast
