"""Tabs and byte-order marks read as go-yaml v2 (2.4, vendored in oc) reads them, by every reader of YAML
that oc reads with sigs.k8s.io/yaml: the manifest check (``new``), ``new -f`` (and image-references, the
same reader) and ``extract``; each outcome recorded from the real oc (``../shared/tools/oc/oc``) and
checked against it again.

go-yaml takes a tab as separation where no simple key may start (inside flow collections, after a scalar),
inside and after a plain scalar's words and after a block scalar's header, and refuses one in indentation
in its own words; PyYAML takes only spaces. A byte-order mark is skipped where the text opens with one
(go-yaml's test for one at a line's start looks at its buffer's first bytes). The payloads of differential
seeds 191 and 236 (JSON indented with tabs after a byte-order mark, which makes the Kubernetes decoder read
it as YAML) were refused by ``extract`` (the pure loader it moved to in b9a3517 read no tabs).
"""

from __future__ import annotations

import json
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from oc_oracle import CVO_TAG, OcRig, _from_dir, _oc_new, fresh, oc_release_rig, okd_run, tree
from test_parity_yaml_check import _oc_verdict

from okdrelease.gocompat.gojson import GoJSONError
from okdrelease.gocompat.goyaml import GoYamlError
from okdrelease.openshift import k8syaml
from okdrelease.payload import check, checkyaml
from okdrelease.release.extract import reserialize_manifest

__all__ = ["oc_release_rig"]

BOM = b"\xef\xbb\xbf"
HEADER = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: blanks\n"


def _object(**fields: Any) -> dict[str, Any]:
    """:data:`HEADER`'s object with ``fields``."""
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "blanks"}, **fields}


#: name -> (document, go-yaml's problem after ``yaml: `` or the value sigs.k8s.io/yaml reads), from oc.
BLANKS: dict[str, tuple[bytes, str | dict[str, Any]]] = {
    # tabs between tokens
    "flow-tab-after-bracket": (HEADER + b"x: {\ta: b}\n", _object(x={"a": "b"})),
    "flow-tab-before-bracket": (HEADER + b"x: {a: b\t}\n", _object(x={"a": "b"})),
    "flow-tab-after-colon": (HEADER + b"x: {a:\tb}\n", _object(x={"a": "b"})),
    "flow-tab-after-comma": (HEADER + b"x: [a,\tb]\n", _object(x=["a", "b"])),
    "flow-tab-line-start": (HEADER + b"x: [a,\n\tb]\n", _object(x=["a", "b"])),
    "block-tab-after-colon": (HEADER + b"x:\tb\n", _object(x="b")),
    "block-tab-after-colon-flow": (HEADER + b"x:\t[a]\n", _object(x=["a"])),
    "block-tab-after-scalar": (HEADER + b"x: b\t\n", _object(x="b")),
    "block-tab-after-flow-end": (HEADER + b"x: [a]\t\n", _object(x=["a"])),
    "block-tab-after-quoted": (HEADER + b"x: 'b'\t\n", _object(x="b")),
    "block-tab-before-comment": (HEADER + b"x: b\t# c\n", _object(x="b")),
    "block-tab-after-anchor": (HEADER + b"x: &a\tb\nz: *a\n", _object(x="b", z="b")),
    "block-tab-line-start": (HEADER + b"\tx: b\n", "line 5: found a tab character that violates indentation"),
    "block-tab-after-dash": (HEADER + b"x:\n-\ta\n", "line 6: found character that cannot start any token"),
    "block-tab-after-question": (b"?\tx\n: b\n" + HEADER, "found character that cannot start any token"),
    # plain scalars: a tab is a blank between words and after them, and indentation after a line break
    "plain-tab-inside": (HEADER + b"x: a\tb\n", _object(x="a\tb")),
    "plain-tabs-between-words": (HEADER + b"x: a \t b\n", _object(x="a \t b")),
    "plain-tab-before-colon": (HEADER + b"x\t: b\n", _object(x="b")),
    "plain-tab-then-key": (HEADER + b"x: a\t\nz: b\n", _object(x="a", z="b")),
    "plain-tab-continuation": (HEADER + b"x: a\n \tb\n", _object(x="a b")),
    "plain-tab-empty-line": (
        HEADER + b"\t\nx: b\n",
        "line 5: found a tab character that violates indentation",
    ),
    "plain-tab-continuation-flow": (
        HEADER + b"x: [a\n\tb]\n",
        "line 6: found a tab character that violates indentation",
    ),
    "plain-tab-continuation-flow-indented": (
        HEADER + b"x:\n  y: [a\n  \tb]\n",
        "line 7: found a tab character that violates indentation",
    ),
    # block scalars: a tab in indentation refused, blanks after the header
    "block-scalar-tab-indentation": (
        HEADER + b"x: |\n\ta\n",
        "line 6: found a tab character where an indentation space is expected",
    ),
    "block-scalar-spaces-then-tab": (
        HEADER + b"x: |\n  \ta\n",
        "line 6: found a tab character where an indentation space is expected",
    ),
    "block-scalar-tab-after": (
        HEADER + b"x: |\n  a\n\tz: b\n",
        "line 7: found a tab character where an indentation space is expected",
    ),
    "block-scalar-tab-in-content": (HEADER + b"x: |\n  a\n  \tb\n", _object(x="a\n\tb\n")),
    "block-scalar-tab-empty-line": (
        HEADER + b"x: |\n  a\n\t\n  b\n",
        "line 7: found a tab character where an indentation space is expected",
    ),
    "block-scalar-explicit-indentation-tab": (
        HEADER + b"x: |2\n  a\n \tb\n",
        "line 7: found a tab character where an indentation space is expected",
    ),
    "block-scalar-header-tab": (HEADER + b"x: |\t\n  a\n", _object(x="a\n")),
    "block-scalar-header-tab-comment": (HEADER + b"x: >-\t# c\n  a\n", _object(x="a")),
    "block-scalar-header-text": (
        HEADER + b"x: |x\n  a\n",
        "line 5: did not find expected comment or line break",
    ),
    "block-scalar-indentation-zero": (
        HEADER + b"x: |0\n  a\n",
        "line 5: found an indentation indicator equal to 0",
    ),
    "quoted-tab-continuation": (HEADER + b"x: 'a\n\tb'\n", _object(x="a b")),
    # tags end at a tab as at a space
    "tag-then-tab": (HEADER + b"x: !!str\tb\n", _object(x="b")),
    "tag-int-then-tab": (HEADER + b"x: !!int\t5\n", _object(x=5)),
    "tag-verbatim-then-tab": (HEADER + b"x: !<tag:yaml.org,2002:str>\tb\n", _object(x="b")),
    "tag-local-then-tab": (HEADER + b"x: !foo\tb\n", _object(x="b")),
    "tag-non-specific-then-tab": (HEADER + b"x: !\tb\n", _object(x="b")),
    "tag-handle-without-suffix": (HEADER + b"x: !!\tb\n", "line 5: did not find expected tag URI"),
    "tag-in-flow-then-tab": (HEADER + b"x: [!!str\ta]\n", _object(x=["a"])),
    "tag-word-then-uri": (HEADER + b"x: !a.b!c\tb\n", _object(x="b")),
    "tag-then-comma": (HEADER + b"x: !!str,b\t\n", _object(x="")),
    "tag-verbatim-empty": (HEADER + b"x: !<>\tb\n", "line 5: did not find expected tag URI"),
    "tag-verbatim-unclosed": (HEADER + b"x: !<a\tb\n", "line 5: did not find the expected '>'"),
    # byte-order marks: skipped only where the text opens with one
    "mark-line-start": (
        b"apiVersion: v1\n" + BOM + b"kind: ConfigMap\nmetadata:\n  name: blanks\n",
        {"apiVersion": "v1", "\ufeffkind": "ConfigMap", "metadata": {"name": "blanks"}},
    ),
    "mark-at-end": (HEADER + BOM, "line 6: could not find expected ':'"),
    "mark-before-comment": (HEADER + BOM + b"# c\nx: y\n", "line 6: could not find expected ':'"),
    "mark-in-plain": (HEADER + b"x: a" + BOM + b"b\n", _object(x="a\ufeffb")),
    "mark-then-tab": (BOM + b"apiVersion: v1\nkind:\tConfigMap\nmetadata:\n  name: blanks\n", _object()),
}
_NO_KIND = "manifests must contain Kubernetes API objects with 'kind' and 'apiVersion' set: "


def _verdict(outcome: str | dict[str, Any]) -> str | None:
    """The manifest check's verdict on a document whose outcome is ``outcome``."""
    if isinstance(outcome, str):
        return f"invalid YAML/JSON: {outcome}"
    return None if "kind" in outcome else _NO_KIND


@pytest.mark.parametrize("name", sorted(BLANKS))
def test_read_as_recorded(name: str) -> None:
    """The manifest check (libyaml's path and the pure loader), ``-f``'s reader and ``extract``'s give oc's
    outcome."""
    data, outcome = BLANKS[name]
    assert check.manifest_problem(data) == _verdict(outcome)
    assert checkyaml.pure_problem(data) == _verdict(outcome)
    if isinstance(outcome, str):
        with pytest.raises(GoJSONError) as refused:
            k8syaml.load_yaml(data)
        assert str(refused.value) == f"error converting YAML to JSON: yaml: {outcome}"
        return
    assert k8syaml.load_yaml(data) == outcome
    assert k8syaml.load_documents(data) == [outcome]


_NEW_F_PREFIX = "error: unable to load input image stream file: error converting YAML to JSON: yaml: "
#: What oc says of a ``-f`` file it reads that holds a ConfigMap.
_NOT_A_STREAM = "error: unrecognized input image stream file, must be an ImageStream in image.openshift.io/v1"


def _oc_new_f(oc: str, data: bytes, root: Path) -> str:
    """The last line of the real oc's errors for ``oc adm release new -f FILE``."""
    root.mkdir()
    (root / "stream.yaml").write_bytes(data)
    run = subprocess.run(
        [oc, "adm", "release", "new", "-f", str(root / "stream.yaml"), "--to-image", "127.0.0.1:9/x:y"],
        capture_output=True,
        text=True,
        env={"PATH": os.environ.get("PATH", ""), "HOME": str(root)},
        timeout=60,
        check=False,
    )
    assert run.returncode == 1, run
    return run.stderr.strip().splitlines()[-1]


def test_recorded_outcomes_are_the_real_ocs(oc_release_rig: OcRig, tmp_path: Path) -> None:
    """The real oc's manifest check (``--from-dir``) and ``-f`` give each recorded outcome."""
    oc = oc_release_rig.oc
    names = sorted(BLANKS)
    with ThreadPoolExecutor(8) as pool:
        verdicts = pool.map(
            _oc_verdict, [oc] * len(names), [BLANKS[n][0] for n in names], [tmp_path / n for n in names]
        )
        lines = pool.map(
            _oc_new_f, [oc] * len(names), [BLANKS[n][0] for n in names], [tmp_path / f"f-{n}" for n in names]
        )
        got = {name: (verdict, line) for name, verdict, line in zip(names, verdicts, lines, strict=True)}
    assert got == {
        name: (
            _verdict(outcome),
            _NEW_F_PREFIX + outcome if isinstance(outcome, str) else _NOT_A_STREAM,
        )
        for name, (_, outcome) in sorted(BLANKS.items())
    }


def _tabbed_json(doc: dict[str, Any], line_end: bytes) -> bytes:
    """``doc`` as JSON indented with tabs after a byte-order mark, lines ended by ``line_end``."""
    return BOM + (json.dumps(doc, indent="\t") + "\n").encode().replace(b"\n", line_end)


def _operator(name: str, **fields: Any) -> dict[str, Any]:
    return {
        "apiVersion": "config.openshift.io/v1",
        "kind": "ClusterOperator",
        "metadata": {
            "name": name,
            "annotations": {"include.release.openshift.io/self-managed-high-availability": "true"},
        },
        **fields,
    }


#: The shapes of differential seeds 191 (two such JSON objects, CRLF line ends: the YAML decoder reads the
#: first) and 236 (one, line feeds): payload file -> (bytes, the file oc's extract writes), from oc.
SEED_SHAPES: dict[str, tuple[bytes, bytes]] = {
    "0000_90_seed191_shared.json": (
        _tabbed_json(_operator("a", spec={"field0": "colon: inside"}), b"\r\n")
        + _tabbed_json(_operator("b"), b"\r\n"),
        b"---\napiVersion: config.openshift.io/v1\nkind: ClusterOperator\nmetadata:\n  annotations:\n"
        b'    include.release.openshift.io/self-managed-high-availability: "true"\n  name: a\nspec:\n'
        b"  field0: 'colon: inside'\n",
    ),
    "0000_90_seed236_svc.json": (
        _tabbed_json(_operator("c", spec={"field1": {"k0-1": 1.5}, "field2": "a b"}), b"\n"),
        b"---\napiVersion: config.openshift.io/v1\nkind: ClusterOperator\nmetadata:\n  annotations:\n"
        b'    include.release.openshift.io/self-managed-high-availability: "true"\n  name: c\nspec:\n'
        b"  field1:\n    k0-1: 1.5\n  field2: a b\n",
    ),
}
#: Each case of :data:`BLANKS` as a payload file.
FILES = {f"0000_99_blanks_{number:02d}_{name}.yaml": name for number, name in enumerate(sorted(BLANKS))}


@pytest.mark.parametrize("name", sorted(SEED_SHAPES))
def test_seed_shapes_extracted_as_recorded(name: str) -> None:
    data, written = SEED_SHAPES[name]
    assert reserialize_manifest(name, data) == written


def test_extract_writes_and_refuses_file_for_file_as_oc(
    oc_release_rig: OcRig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A release the real oc built with every case: okdrelease's ``extract`` writes and refuses what oc's
    does, word for word; oc writes the recorded seed shapes, and each case it reads as okdrelease
    rewrites it."""
    rig = oc_release_rig
    cvo = rig.oc_run(["info", "--image-for", CVO_TAG, rig.control])
    assert cvo.code == 0, cvo.err
    edge = {name: BLANKS[case][0] for name, case in FILES.items()} | {
        name: data for name, (data, _) in SEED_SHAPES.items()
    }
    from_dir = _from_dir(tmp_path, cvo.out.strip(), real=False, edge=edge)
    release = f"{rig.host}/parity/release:blanks"
    _oc_new(
        rig,
        [
            "--from-dir",
            str(from_dir),
            "--name",
            "4.15.0-0.blanks",
            "--skip-manifest-check",
            "--to-image",
            release,
        ],
    )
    oc_dir, okd_dir = fresh(tmp_path / "oc"), fresh(tmp_path / "okd")
    oc = rig.oc_run(["extract", "--to", str(oc_dir), release])
    okd = okd_run(["extract", "--to", str(okd_dir), release], capsys)
    assert (okd.code, okd.out, okd.err) == (oc.code, oc.out, oc.err)
    assert tree(okd_dir) == tree(oc_dir)
    written = tree(oc_dir)
    assert {name: written.get(name) for name in SEED_SHAPES} == {
        name: expected for name, (_, expected) in SEED_SHAPES.items()
    }
    read = {
        name: written[name]
        for name, case in FILES.items()
        if not isinstance(BLANKS[case][1], str) and name in written
    }
    assert read == {name: reserialize_manifest(name, BLANKS[FILES[name]][0]) for name in read}
    problems = {name: BLANKS[case][1] for name, case in FILES.items() if isinstance(BLANKS[case][1], str)}
    assert [
        line for line in oc.err.splitlines() if line.split(" ")[3:4] in ([f"{n}:"] for n in problems)
    ] == [
        f"* error parsing {name}: error parsing: error converting YAML to JSON: yaml: {problem}"
        for name, problem in sorted(problems.items())
    ]


def test_document_errors_in_go_yaml_words_in_a_stream() -> None:
    """A stream's YAML document is refused by ``extract``'s decoder in the same words (``GoYamlError``)."""
    with pytest.raises(GoYamlError) as refused:
        k8syaml.load_documents(BLANKS["block-tab-line-start"][0])
    assert (
        str(refused.value)
        == "error converting YAML to JSON: yaml: line 5: found a tab character that violates indentation"
    )
