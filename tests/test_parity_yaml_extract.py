"""``extract`` reads a payload's YAML manifests as the real oc does (``../shared/tools/oc/oc``): the stream
split as the Kubernetes YAML-or-JSON decoder splits it, each document through sigs.k8s.io/yaml (go-yaml
v2's decoding, then the JSON conversion), the errors in its words.

:data:`MANIFESTS` holds what PyYAML's constructors (the reader before) read otherwise: tags, anchors,
merges, keys JSON has no string for, NaN, ``?`` in a plain flow scalar, directives, syntax errors (PyYAML's
words) and the line numbers of a later document. Each outcome is recorded from the real oc: the file
``extract`` writes, or its error after ``error parsing FILE: error parsing: ``. The real oc builds a
release holding them (``--skip-manifest-check``) and its ``extract`` is compared with okdrelease's.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from oc_oracle import CVO_TAG, OcRig, _from_dir, _oc_new, fresh, oc_release_rig, okd_run, tree

from okdrelease.errors import ReleaseError
from okdrelease.release.extract import ManifestWriteError, reserialize_manifest

__all__ = ["oc_release_rig"]

OBJECT = b"apiVersion: v1\nkind: ConfigMap\n"
CONVERTING = "error converting YAML to JSON: "

_JSON_HEAD = b'{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "j"}, '
#: (manifest, the file oc's extract writes, or its error after ``error parsing: ``), recorded from oc.
MANIFESTS: dict[str, tuple[bytes, bytes | str]] = {
    "binary": (
        OBJECT + b"metadata:\n  name: binary\ndata:\n  x: !!binary aGVsbG8=\n",
        b"---\napiVersion: v1\ndata:\n  x: hello\nkind: ConfigMap\nmetadata:\n  name: binary\n",
    ),
    "custom-tag": (
        OBJECT + b"metadata:\n  name: custom-tag\ndata:\n  x: !foo bar\n",
        b"---\napiVersion: v1\ndata:\n  x: bar\nkind: ConfigMap\nmetadata:\n  name: custom-tag\n",
    ),
    "non-specific-tag": (
        OBJECT + b"metadata:\n  name: non-specific\ndata:\n  x: ! 1\n",
        b'---\napiVersion: v1\ndata:\n  x: "1"\nkind: ConfigMap\nmetadata:\n  name: non-specific\n',
    ),
    "repeated-anchor": (
        OBJECT + b"metadata:\n  name: repeated\na: &x 1\nb: &x 2\nc: *x\n",
        b"---\na: 1\napiVersion: v1\nb: 2\nc: 2\nkind: ConfigMap\nmetadata:\n  name: repeated\n",
    ),
    "merge": (
        OBJECT + b"metadata:\n  name: merge\n<<: [{a: 1}, {a: 2, b: 3}]\n",
        b"---\na: 1\napiVersion: v1\nb: 3\nkind: ConfigMap\nmetadata:\n  name: merge\n",
    ),
    "int-tag-of-a-float": (
        OBJECT + b"metadata:\n  name: int\ndata:\n  x: !!int 1.5\n",
        CONVERTING + "yaml: cannot decode !!float `1.5` as a !!int",
    ),
    "null-key": (
        OBJECT + b"metadata:\n  name: null-key\n~: a\n",
        CONVERTING + 'unsupported map key of type: %!s(<nil>), key: <nil>, value: "a"',
    ),
    "nan": (
        OBJECT + b"metadata:\n  name: nan\ndata:\n  x: .nan\n",
        CONVERTING + "json: unsupported value: NaN",
    ),
    "invalid-map-key": (
        OBJECT + b"metadata:\n  name: key\n? [a]\n: b\n",
        CONVERTING + 'yaml: invalid map key: []interface {}{"a"}',
    ),
    "flow-question": (
        OBJECT + b"metadata:\n  name: flow-question\ndata: {url: http://a/b?c=d}\n",
        CONVERTING + "yaml: line 4: did not find expected ',' or '}'",
    ),
    "syntax": (
        OBJECT + b"metadata:\n  name: syntax\ndata: [a\n",
        CONVERTING + "yaml: line 5: did not find expected ',' or ']'",
    ),
    "second-document": (
        OBJECT + b"metadata:\n  name: first\n---\n" + OBJECT + b"x: {a: b\n",
        CONVERTING + "yaml: line 3: did not find expected ',' or '}'",
    ),
    "uint64-key": (
        OBJECT + b"metadata:\n  name: uint64\n18446744073709551615: a\n",
        CONVERTING + 'unsupported map key of type: uint64, key: 0xffffffffffffffff, value: "a"',
    ),
    "keys": (
        OBJECT + b"metadata:\n  name: keys\n1.5: a\ntrue: b\n-7: c\n.inf: d\n1e3: e\n",
        b'---\n"-7": c\n".inf": d\n"1.5": a\n"1000": e\napiVersion: v1\nkind: ConfigMap\nmetadata:\n'
        b'  name: keys\n"true": b\n',
    ),
    "inf": (
        OBJECT + b"metadata:\n  name: inf\ndata: {b: .nan, a: -.inf}\n",
        CONVERTING + "json: unsupported value: -Inf",
    ),
    "merge-of-a-sequence": (
        OBJECT + b"metadata:\n  name: m\nx: &s [1]\ny: {<<: *s}\n",
        CONVERTING + "yaml: map merge requires map or sequence of maps as the value",
    ),
    "self-containing": (
        OBJECT + b"metadata:\n  name: s\nx: &a [*a]\n",
        CONVERTING + "yaml: anchor 'a' value contains itself",
    ),
    "leading-separator": (
        b"---\n" + OBJECT + b"x: {a: b\n",
        CONVERTING + "yaml: line 4: did not find expected ',' or '}'",
    ),
    # bytes go-yaml's reader refuses, in its words (each document is read whole: a later one's too)
    "invalid-utf8": (
        OBJECT + b"metadata:\n  name: bad\ndata:\n  x: a\xffb\n",
        CONVERTING + "yaml: invalid leading UTF-8 octet",
    ),
    "cut-utf8": (
        OBJECT + b"metadata:\n  name: cut\ndata:\n  x: a\xc3b\n",
        CONVERTING + "yaml: invalid trailing UTF-8 octet",
    ),
    "late-nul": (
        OBJECT + b"metadata:\n  name: late\n---\n" + OBJECT + b"x: " + b"a" * 600 + b"\x00\n",
        CONVERTING + "yaml: control characters are not allowed",
    ),
    # a JSON manifest: Go 1.27's words for a bad escape; a byte that is no UTF-8 in a string is U+FFFD
    "json-escape": (
        b'{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "e"}, "x": "a\\qb"}\n',
        "json: offset 78: invalid escape sequence `\\q` in string",
    ),
    "json-escaped-c1": (  # go-yaml reads the escape as text: the character is no byte it refuses
        _JSON_HEAD + b'"x": "\\u0080", "y": "\\ufffe"}\n',
        b'---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: j\nx: "\\x80"\n"y": "\\uFFFE"\n',
    ),
    "directive": (
        b"%YAML 1.2\n---\n" + OBJECT + b"metadata:\n  name: directive\n",
        CONVERTING + "yaml: found incompatible YAML document",
    ),
}
#: The payload file of each manifest.
FILES = {f"0000_99_yaml_{number:02d}_{name}.yaml": name for number, name in enumerate(MANIFESTS)}


@pytest.mark.parametrize("name", sorted(FILES))
def test_manifest_read_and_written_as_recorded(name: str) -> None:
    """okdrelease's reading (and writing) of each manifest gives oc's recorded file or error."""
    data, expected = MANIFESTS[FILES[name]]
    if isinstance(expected, bytes):
        assert reserialize_manifest(name, data) == expected
        return
    with pytest.raises(ReleaseError) as refused:
        reserialize_manifest(name, data)
    assert str(refused.value) == f"error parsing {name}: error parsing: {expected}"


def test_json_number_past_float64_is_refused() -> None:
    """A JSON manifest's number past float64's range is refused (it was read as infinity and crashed the
    writer), in Go's JSON decoder's words."""
    data = b'{"apiVersion": "v1", "kind": "A", "metadata": {"name": "x"}, "x": 1e400}'
    with pytest.raises(ReleaseError) as refused:
        reserialize_manifest("a.json", data)
    assert str(refused.value) == (
        "error parsing a.json: error parsing: json: cannot unmarshal number 1e400 into Go value of type float64"
    )


@pytest.fixture(scope="module")
def yaml_release(oc_release_rig: OcRig, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A release the real oc built with :data:`MANIFESTS` in its payload."""
    rig = oc_release_rig
    cvo = rig.oc_run(["info", "--image-for", CVO_TAG, rig.control])
    assert cvo.code == 0, cvo.err
    edge = {name: MANIFESTS[case][0] for name, case in FILES.items()}
    from_dir = _from_dir(tmp_path_factory.mktemp("yaml-extract"), cvo.out.strip(), real=False, edge=edge)
    release = f"{rig.host}/parity/release:yaml"
    args = ["--from-dir", str(from_dir), "--name", "4.15.0-0.yaml", "--skip-manifest-check"]
    _oc_new(rig, [*args, "--to-image", release])
    return release


def test_recorded_outcomes_are_the_real_ocs_and_extract_is_file_for_file_ocs(
    oc_release_rig: OcRig, yaml_release: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """oc's extract writes the recorded files and prints the recorded errors; okdrelease's does the same."""
    oc_dir, okd_dir = fresh(tmp_path / "oc"), fresh(tmp_path / "okd")
    oc = oc_release_rig.oc_run(["extract", "--to", str(oc_dir), yaml_release])
    okd = okd_run(["extract", "--to", str(okd_dir), yaml_release], capsys)
    written = {name: data for name, data in tree(oc_dir).items() if name in FILES}
    errors = [
        f"* error parsing {name}: error parsing: {expected}"
        for name, (_, expected) in ((name, MANIFESTS[FILES[name]]) for name in sorted(FILES))
        if isinstance(expected, str)
    ]
    assert (oc.code, oc.err) == (0, "Errors: \n\n" + "\n".join(errors) + "\n\n")
    assert written == {
        name: expected
        for name, (_, expected) in ((n, MANIFESTS[c]) for n, c in FILES.items())
        if isinstance(expected, bytes)
    }
    assert (okd.code, okd.out, okd.err) == (oc.code, oc.out, oc.err)
    assert tree(okd_dir) == tree(oc_dir)


#: Manifests oc reads and then fails to write (``error: error serializing manifest in FILE: PROBLEM``, exit
#: 1): go-yaml reads back a JSON manifest's own text (bytes that are no UTF-8 in a string kept, as Go's
#: decoder keeps them; its blanks and keys' order as written) and refuses its first such byte, in its words;
#: a YAML manifest's value is read back as Go's JSON, where U+FFFE is written as it is. (manifest, PROBLEM)
UNWRITABLE = {
    "leading": (_JSON_HEAD + b'"x": "a\xffb"}\n', "yaml: invalid leading UTF-8 octet"),
    "first-as-written": (_JSON_HEAD + b'"x": "\xc3b", "a": "\xff"}', "yaml: invalid trailing UTF-8 octet"),
    "cut-at-the-end": (_JSON_HEAD + b'"x": "\xf0"}', "yaml: incomplete UTF-8 octet sequence"),
    "blank-before-the-end": (_JSON_HEAD + b'"x": "\xf0" }', "yaml: invalid trailing UTF-8 octet"),
    "surrogate": (_JSON_HEAD + b'"x": "\xed\xa0\x80"}', "yaml: invalid Unicode character"),
    "yaml-ufffe": (
        OBJECT + b'metadata:\n  name: b\nx: "\\uFFFE"\n',
        "yaml: control characters are not allowed",
    ),
}


@pytest.mark.parametrize("case", sorted(UNWRITABLE))
def test_manifests_oc_reads_but_cannot_write_as_oc(
    oc_release_rig: OcRig, case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """oc reads such a manifest and fails writing it (exit 1) with go-yaml's words; okdrelease alike."""
    data, problem = UNWRITABLE[case]
    name = "0000_99_yaml_00_bytes.yaml"
    with pytest.raises(ManifestWriteError) as refused:
        reserialize_manifest(name, data)
    assert str(refused.value) == f"error serializing manifest in {name}: {problem}"
    rig = oc_release_rig
    cvo = rig.oc_run(["info", "--image-for", CVO_TAG, rig.control])
    assert cvo.code == 0, cvo.err
    from_dir = _from_dir(tmp_path, cvo.out.strip(), real=False, edge={name: data})
    release = f"{rig.host}/parity/release:bytes-{case}"
    args = ["--from-dir", str(from_dir), "--name", "4.15.0-0.bytes", "--skip-manifest-check"]
    _oc_new(rig, [*args, "--to-image", release])
    oc_dir, okd_dir = fresh(tmp_path / "oc"), fresh(tmp_path / "okd")
    oc = rig.oc_run(["extract", "--to", str(oc_dir), release])
    okd = okd_run(["extract", "--to", str(okd_dir), release], capsys)
    refusal = f"error: error serializing manifest in {name}: {problem}"
    assert (oc.code, oc.err.splitlines()[-1]) == (1, refusal)
    # oc prints its "Extracted release payload" line and writes the files before this one (and this one,
    # empty) before it fails; okdrelease reads every manifest before it writes, and writes none.
    assert (okd.code, okd.out, okd.err) == (oc.code, "", oc.err)
    assert tree(okd_dir) == {}
