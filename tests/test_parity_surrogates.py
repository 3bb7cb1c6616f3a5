"""A JSON escape of a UTF-16 surrogate (``"\\ud800"``, or a pair such as ``"\\ud83d\\ude00"``) in an
ImageStream, against the real oc on each path that reads one.

oc reads image-references (``info``, ``new --from-release``, an operator's ``/manifests``) and the
``new -f`` stream through sigs.k8s.io/yaml, so go-yaml parses the JSON and refuses any escape of a
surrogate, a valid pair too, naming the line only past the first. ``extract`` reads image-references
with Go's encoding/json and takes both (a lone one becomes U+FFFD).
"""

from __future__ import annotations

import json
from pathlib import Path

import attrs
import pytest
from differential.images import Entry, ImageSpec, Pusher, build
from differential.runner import Session, oracle_session
from registry_rig import RegistryInfo

MTIME = 1_700_000_000
OPERATOR = {"io.openshift.release.operator": "true"}
REFUSED = "error converting YAML to JSON: yaml: {}found invalid Unicode character escape code"
ESCAPES = {"lone": "\\ud800", "pair": "\\ud83d\\ude00"}


def stream_json(name: str, tags: list[tuple[str, str, str]], escape: str, *, one_line: bool) -> bytes:
    """An ImageStream as JSON whose tags are (name, pull spec, annotation value); ``@ESC@`` in any of
    them becomes ``escape`` as it is (a JSON escape, not a backslash)."""
    doc = {
        "kind": "ImageStream",
        "apiVersion": "image.openshift.io/v1",
        "metadata": {"name": name, "creationTimestamp": "2024-01-01T00:00:00Z"},
        "spec": {
            "tags": [
                {"name": tag, "annotations": {"a": value}, "from": {"kind": "DockerImage", "name": spec}}
                for tag, spec, value in tags
            ]
        },
    }
    text = json.dumps(doc, separators=(",", ":")) if one_line else json.dumps(doc, indent=2)
    return text.replace("@ESC@", escape).encode()


@attrs.frozen
class Rig:
    """The images pushed: the CVO, an operator, and per case a release and an operator image."""

    session: Session
    cvo: str
    operator: str
    releases: dict[str, str]
    operators: dict[str, str]
    #: Per case: the image-references of the release, and (``op-CASE``) of the operator image.
    references: dict[str, bytes]


def _push(pusher: Pusher, repo: str, tag: str, files: dict[str, bytes], labels: dict[str, str]) -> str:
    entries = tuple(Entry(path, data, MTIME) for path, data in files.items())
    config = {"created": "2024-01-01T00:00:00Z"}
    return pusher.push(repo, build(ImageSpec(tag, (entries,), labels, config_extra=config)), tag)


def refused(data: bytes) -> str:
    """go-yaml's refusal of ``data``'s first surrogate escape: its line, unless it is the first."""
    line = data[: data.index(b"\\ud")].count(b"\n") + 1
    return REFUSED.format(f"line {line}: " if line > 1 else "")


CONFIG_MAP = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: op\n  namespace: x\n"
#: Per case: the escape, and whether the JSON is on one line (go-yaml names no line then).
CASES = {"lone": ("lone", False), "pair": ("pair", False), "pair-1line": ("pair", True)}


@pytest.fixture(scope="module")
def rig(registry_http: RegistryInfo, tmp_path_factory: pytest.TempPathFactory) -> Rig:
    session = oracle_session(registry_http.host, Path(tmp_path_factory.mktemp("surrogates")))
    pusher, repo = Pusher(session.host), "surrogates/in"
    cvo_files = {"manifests/0000_00_cvo.yaml": b"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: cvo\n"}
    cvo = f"{session.host}/{repo}@{_push(pusher, repo, 'cvo', cvo_files, OPERATOR)}"
    operator = f"{session.host}/{repo}@{_push(pusher, repo, 'op', {'manifests/0000_50_op.yaml': CONFIG_MAP}, OPERATOR)}"
    releases, operators, references = {}, {}, {}
    for case, (kind, one_line) in CASES.items():
        refs = stream_json(
            "4.16.0", [("cvo", cvo, "@ESC@"), ("op", operator, "")], ESCAPES[kind], one_line=one_line
        )
        references[case] = refs
        metadata = b'{"kind":"cincinnati-metadata-v0","version":"4.16.0","previous":[]}'
        files = {"release-manifests/image-references": refs, "release-manifests/release-metadata": metadata}
        _push(pusher, "surrogates/release", case, files, {})
        releases[case] = f"{session.host}/surrogates/release:{case}"
        own = stream_json("op", [("op", "quay.io/x/op:latest", "@ESC@")], ESCAPES[kind], one_line=one_line)
        references[f"op-{case}"] = own
        files = {"manifests/0000_50_op.yaml": CONFIG_MAP, "manifests/image-references": own}
        operators[case] = f"{session.host}/{repo}@{_push(pusher, repo, f'op-{case}', files, OPERATOR)}"
    return Rig(session, cvo, operator, releases, operators, references)


@pytest.mark.parametrize("case", sorted(CASES))
def test_info_and_from_release_refuse_a_surrogate_escape_as_oc(rig: Rig, case: str, tmp_path: Path) -> None:
    """``info`` and ``new --from-release``: oc's exit code, stdout and stderr, word for word."""
    session, release = rig.session, rig.releases[case]
    oc = session.run(session.oc_cmd("adm", "release", "info", "--insecure", release))
    ours = session.run(session.py_cmd("info", "--insecure", release))
    assert (ours.code, ours.stdout, ours.stderr) == (oc.code, oc.stdout, oc.stderr)
    error = "unable to load release image-references: " + refused(rig.references[case])
    assert (ours.code, ours.stderr) == (1, f"error: release image could not be read: {error}\n")
    args = ["new", "--insecure", "--from-release", release]
    oc = session.run(session.oc_cmd("adm", "release", *args, "--to-dir", str(tmp_path / "oc")))
    ours = session.run(session.py_cmd(*args, "--to-dir", str(tmp_path / "okd")))
    assert (ours.code, ours.stdout, ours.stderr) == (oc.code, oc.stdout, oc.stderr)
    assert ours.stderr == f"error: unable to load image-references from release contents: {error}\n"
    assert not (tmp_path / "okd").exists()


@pytest.mark.parametrize("case", sorted(CASES))
def test_extract_takes_a_surrogate_escape_as_oc(rig: Rig, case: str, tmp_path: Path) -> None:
    """``extract`` reads image-references with Go's JSON decoder: oc's output and files."""
    session, release = rig.session, rig.releases[case]
    oc = session.run(
        session.oc_cmd("adm", "release", "extract", "--insecure", "--to", str(tmp_path / "oc"), release)
    )
    ours = session.run(session.py_cmd("extract", "--insecure", "--to", str(tmp_path / "okd"), release))
    assert (ours.code, ours.stdout, ours.stderr) == (oc.code, oc.stdout, oc.stderr)
    assert ours.code == 0
    written = {p.name: p.read_bytes() for p in (tmp_path / "okd").iterdir()}
    assert written == {p.name: p.read_bytes() for p in (tmp_path / "oc").iterdir()}
    assert ESCAPES[CASES[case][0]].encode() in written["image-references"]


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("field", ["tag name", "annotation", "from.name"])
def test_new_refuses_a_surrogate_escape_in_the_image_stream_file_as_oc(
    rig: Rig, case: str, field: str, tmp_path: Path
) -> None:
    """``new -f``: oc's exit code, stdout and stderr, word for word, before any image is read."""
    tags = [("cluster-version-operator", rig.cvo, ""), ("op", rig.operator, "")]
    tags.append(
        {
            "tag name": ("x@ESC@", rig.operator, ""),
            "annotation": ("y", rig.operator, "@ESC@"),
            "from.name": ("z", rig.operator.replace("@", "@ESC@@"), ""),
        }[field]
    )
    kind, one_line = CASES[case]
    stream = tmp_path / "is.json"
    stream.write_bytes(stream_json("", tags, ESCAPES[kind], one_line=one_line))
    args = ["new", "--insecure", "--reference-mode=source", "-f", str(stream)]
    oc = rig.session.run(rig.session.oc_cmd("adm", "release", *args, "--to-dir", str(tmp_path / "oc")))
    ours = rig.session.run(rig.session.py_cmd(*args, "--to-dir", str(tmp_path / "okd")))
    assert (ours.code, ours.stdout, ours.stderr) == (oc.code, oc.stdout, oc.stderr)
    error = refused(stream.read_bytes())
    assert ours.stderr == f"error: unable to load input image stream file: {error}\n"


@pytest.mark.parametrize("case", sorted(CASES))
def test_new_refuses_a_surrogate_escape_in_an_operators_image_references_as_oc(
    rig: Rig, case: str, tmp_path: Path
) -> None:
    """An operator image's image-references: oc's exit code and error, which okdrelease gives after naming
    the operator (oc does not); nothing written."""
    stream = tmp_path / "is.json"
    tags = [("cluster-version-operator", rig.cvo, ""), ("op", rig.operators[case], "")]
    stream.write_bytes(stream_json("", tags, "", one_line=False))
    args = ["new", "--insecure", "--reference-mode=source", "-f", str(stream)]
    oc = rig.session.run(rig.session.oc_cmd("adm", "release", *args, "--to-dir", str(tmp_path / "oc")))
    ours = rig.session.run(rig.session.py_cmd(*args, "--to-dir", str(tmp_path / "okd")))
    error = "unable to load release image-references: " + refused(rig.references[f"op-{case}"])
    assert (oc.code, oc.stdout, oc.stderr.splitlines()[-1]) == (1, b"", f"error: {error}")
    frame = 'operator "op" contained an invalid image-references file: '
    assert (ours.code, ours.stdout, ours.stderr.splitlines()[-1]) == (1, b"", f"error: {frame}{error}")
    assert not (tmp_path / "okd").exists()


def test_from_dir_reads_its_image_references_as_json_as_oc(rig: Rig, tmp_path: Path) -> None:
    """``--from-dir``'s own image-references is read by Go's encoding/json in oc: a lone surrogate escape
    is U+FFFD, a pair its character; the release written carries them so, as oc's does."""
    source = tmp_path / "in"
    (source / "op").mkdir(parents=True)
    tags = [("op", rig.operator, "@ESC@")]
    (source / "image-references").write_bytes(
        stream_json("4.16.0", tags, "\\ud800 \\ud83d\\ude00", one_line=False)
    )
    (source / "op" / "0000_50_op.yaml").write_bytes(CONFIG_MAP)
    args = ["new", "--from-dir", str(source), "--name", "4.16.0", "--to-dir"]
    oc = rig.session.run(rig.session.oc_cmd("adm", "release", *args, str(tmp_path / "oc")))
    ours = rig.session.run(rig.session.py_cmd(*args, str(tmp_path / "okd")))
    assert (ours.code, ours.stdout, oc.code, oc.stdout) == (0, b"", 0, b"")
    written, expected = (_undated(tmp_path / side) for side in ("okd", "oc"))
    assert written == expected
    assert '"a": "\ufffd \U0001f600"'.encode() in written["image-references"]


def _undated(root: Path) -> dict[str, bytes]:
    """The files under ``root`` without their creationTimestamp line (each run's own clock)."""
    return {
        p.name: b"".join(line for line in p.read_bytes().splitlines(True) if b"creationTimestamp" not in line)
        for p in root.iterdir()
    }
