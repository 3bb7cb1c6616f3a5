"""A large document libyaml refuses is worded as go-yaml words it without the pure loader reading all of it
(``gocompat.yamlregion``): the manifest check, ``-f``/image-references and ``extract`` give the real oc's
words (``../shared/tools/oc/oc``) for 1.2 MB manifests, and the pure loader's reading of the text near the
error words every error as its reading of the whole text does."""

from __future__ import annotations

import contextlib
import glob
import json
import os
import random
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml
from golden_support import SHARED

from okdrelease.gocompat.gojson import GoJSONError
from okdrelease.gocompat.yamlerrors import go_error_text
from okdrelease.gocompat.yamlregion import go_syntax_error
from okdrelease.openshift import k8syaml
from okdrelease.payload import checkyaml

OC = SHARED / "tools" / "oc" / "oc"
HEADER = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\ndata:\n"
#: 1.2 MB of block mapping entries (lines 6 to 30,005), then a flow sequence left open on line 30,006.
BLOCK = HEADER + b"".join(b"  key%06d: value number %d with some words\n" % (i, i) for i in range(30_000))
#: The same as JSON (a flow mapping to YAML), 1.2 MB, a flow sequence left open in its last entry.
FLOW = (
    json.dumps(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "big"}, "data": {}}
        | {f"key{i:05d}": {"a": [1, {"b": "c d"}], "e": f"value {i}"} for i in range(11_500)},
        indent=2,
    ).encode()[:-2]
    + b',\n  "x": [a\n}\n'
)
#: name -> (document, go-yaml's words after ``yaml: ``), recorded from the real oc.
LARGE = {
    "block": (BLOCK + b"x: [a\n", "line 30006: did not find expected ',' or ']'"),
    "block-no-final-line-break": (BLOCK + b'x: "a', "line 30006: found unexpected end of stream"),
    "block-key-without-colon": (BLOCK + b"x: y\nz\n", "line 30008: could not find expected ':'"),
    "block-alias-of-no-anchor-first": (
        HEADER + b"  a: &a 1\n  b: *a\n  c: *b\n" + BLOCK[len(HEADER) :] + b"x: [a\n",
        "unknown anchor 'b' referenced",
    ),
    "block-alias-of-an-earlier-anchor": (
        HEADER + b"  a: &a 1\n" + BLOCK[len(HEADER) :] + b"x: *a\ny: [\n",
        "line 30008: did not find expected node content",
    ),
    "flow": (FLOW, "line 103508: did not find expected ',' or ']'"),
}

#: Nested past the pure loader's composing (Python's recursion), a syntax error after it: go-yaml's words,
#: where reading the whole text gave ``exceeded max depth of 200``.
DEEP = {
    "nested-400-then-error": (
        b"apiVersion: v1\nkind: ConfigMap\nx:\n"
        + b"".join(b"  " * (i + 1) + b"k%d:\n" % i for i in range(400))
        + b"  " * 401
        + b"v\nz: [\n",
        "line 405: did not find expected node content",
    ),
}
CASES = LARGE | DEEP


class _PureRefused:
    def __init__(self, data: object) -> None:
        raise AssertionError("the pure loader read the whole text")


@pytest.mark.parametrize("name", sorted(CASES))
def test_large_document_worded_without_reading_all_of_it(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The check's and ``-f``'s (and ``extract``'s) words, with the pure loader's reading of the whole text
    refused."""
    data, problem = CASES[name]
    assert len(data) > 1_200_000 or name in DEEP
    monkeypatch.setattr(checkyaml, "GoLoader", _PureRefused)
    monkeypatch.setattr(k8syaml, "GoLoader", _PureRefused)
    assert checkyaml.manifest_problem(data) == f"invalid YAML/JSON: {problem}"
    with pytest.raises(GoJSONError) as refused:
        k8syaml.load_yaml(data)
    assert str(refused.value) == f"error converting YAML to JSON: yaml: {problem}"


def _oc_words(oc: Path, data: bytes, root: Path) -> str:
    """The last line of the real oc's errors for ``oc adm release new -f FILE``."""
    root.mkdir()
    (root / "big.yaml").write_bytes(data)
    run = subprocess.run(
        [str(oc), "adm", "release", "new", "-f", str(root / "big.yaml"), "--to-image", "127.0.0.1:9/x:y"],
        capture_output=True,
        text=True,
        env={"PATH": os.environ.get("PATH", ""), "HOME": str(root)},
        timeout=120,
        check=False,
    )
    assert run.returncode == 1, run.stderr
    return run.stderr.strip().splitlines()[-1]


@pytest.mark.skipif(not OC.exists(), reason=f"the real oc is not at {OC}")
def test_recorded_words_are_the_real_ocs(tmp_path: Path) -> None:
    """oc's ``-f`` gives each recorded problem (its check reads the file with the same go-yaml)."""
    names = sorted(CASES)
    with ThreadPoolExecutor(len(names)) as pool:  # one oc per case, all at once
        words = pool.map(lambda name: _oc_words(OC, CASES[name][0], tmp_path / name), names)
        got = dict(zip(names, words, strict=True))
    assert got == {
        name: f"error: unable to load input image stream file: error converting YAML to JSON: yaml: {problem}"
        for name, (_, problem) in sorted(CASES.items())
    }


#: Text put into real manifests to break them (and some that do not).
_JUNK = (
    *(
        b"[",
        b"{",
        b"]",
        b"}",
        b": ",
        b"- ",
        b"'",
        b'"',
        b"? ",
        b"#",
        b"|",
        b">",
        b",",
        b"\\",
        b"@",
        b"`",
        b"%",
    ),
    *(b"\n  x: y\n", b"\n- a", b"&a ", b"*b ", b"*a ", b"\n ", b"\n---\n", b"\n...\n", b"\nk: ", b"\n:"),
    *(b"x: &a 1\n", b"\nz", b"\r", b"\r\n", b"{}: c\n", b"[a?b]", b"!!int ", b"<<: ", b"\n<<: *a\n"),
)


def test_near_reading_words_errors_as_the_whole_reading() -> None:
    """Real manifests (and their JSON) with text put in at random places: wherever the reading near the
    error decides, its words are the pure loader's reading of the whole text."""
    files = sorted(glob.glob(str(SHARED / "testdata-real" / "operators" / "*" / "manifests" / "*.yaml")))
    rng = random.Random(20261207)
    decided: list[tuple[bytes, str]] = []
    for _ in range(250):
        data = Path(rng.choice(files)).read_bytes()
        if rng.random() < 0.4:
            with contextlib.suppress(yaml.YAMLError):  # a template ({{...}}) is no YAML to PyYAML
                first = next(iter(yaml.safe_load_all(data)))
                data = json.dumps(first, indent=rng.choice((None, 2))).encode()
        for _ in range(rng.choice((1, 1, 2, 3))):
            at = rng.randrange(len(data))
            data = data[:at] + rng.choice(_JUNK) + data[at:]
        located = go_syntax_error(data)
        if located is not None:
            decided.append((data, f"invalid YAML/JSON: {go_error_text(located)}"))
    assert len(decided) > 80
    assert [(data, checkyaml.pure_problem(data)) for data, _ in decided] == decided


def test_undecided_left_to_the_whole_reading() -> None:
    """No syntax error, an error before any key of a root mapping, and text libyaml may read otherwise
    (a tab, a directive, a later byte-order mark, the non-specific tag) are left to the caller."""
    for data in (
        BLOCK,
        b"- a\n- [\n",
        BLOCK + b"x:\ty\nz: [\n",
        b"%YAML 1.1\n---\n" + BLOCK + b"x: [\n",
        BLOCK + b"x: \xef\xbb\xbf\nz: [\n",
        BLOCK + b"x: ! a\nz: [\n",
    ):
        assert go_syntax_error(data) is None
