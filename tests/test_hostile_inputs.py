"""Hostile-input corpus (issue 11.3): each input ends in one exact error line, exit 1, no traceback.

Alias bombs and deep nesting go through every YAML/JSON loader a user can reach: an image-stream
file (``new -f``), an operator's ``image-references`` (``new --from-dir``) and a release's
``image-references`` (plain ``info``).
"""

from __future__ import annotations

import io
import json
import os
import resource
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from test_release_extract import file_entry, payload_layer, tar_bytes, write_blob, write_image

from okdrelease.cli import main
from okdrelease.gocompat import goyaml
from okdrelease.gocompat.yamlbounds import MAX_DEPTH
from okdrelease.openshift import k8syaml

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
HEADER = "kind: ImageStream\napiVersion: image.openshift.io/v1\n"
DEEP = 100_000


def alias_bomb(levels: int = 9) -> str:
    """The "billion laughs": each of ``levels`` anchors lists the previous one nine times (9**levels strings)."""
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


DEEP_YAML_FLOW = "[" * DEEP + "]" * DEEP
DEEP_YAML_BLOCK = "- " * (MAX_DEPTH + 1) + "x\n"
DEEP_JSON = '{"a":' * DEEP + "1" + "}" * DEEP
YAML = "error converting YAML to JSON: yaml: "
ALIASING = "document contains excessive aliasing"
TOO_DEEP = f"exceeded max depth of {MAX_DEPTH}"

RELEASE_REFS = "error: release image could not be read: unable to load release image-references: "
RELEASE_CASES = {
    "alias-bomb": (HEADER + alias_bomb(), RELEASE_REFS + YAML + ALIASING),
    "deep-flow-yaml": (DEEP_YAML_FLOW, RELEASE_REFS + YAML + TOO_DEEP),
    "deep-block-yaml": (DEEP_YAML_BLOCK, RELEASE_REFS + YAML + TOO_DEEP),
    "deep-json": (DEEP_JSON, RELEASE_REFS + YAML + TOO_DEEP),
    "self-alias": (
        HEADER + "spec: &s {tags: [*s]}\n",
        RELEASE_REFS + YAML + "anchor 's' value contains itself",
    ),
    "truncated-json": (
        '{"kind": "ImageStream",',
        RELEASE_REFS + YAML + "line 1: did not find expected node content",
    ),
    "malformed-yaml": (
        "kind: [ImageStream\n",
        RELEASE_REFS + YAML + "line 1: did not find expected ',' or ']'",
    ),
    "not-an-image-stream": (
        '{"kind": "Pod", "apiVersion": "v1"}',
        "error: release image could not be read: unrecognized image-references in release payload",
    ),
}


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run the CLI; it must exit 1 with its last stderr line the error and no traceback."""
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "internal error" not in err
    assert err.endswith("\n")
    return err.splitlines()[-1]


@pytest.fixture(scope="module")
def release_layout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One layout: a release per RELEASE_CASES entry, its image-references the hostile text."""
    root = tmp_path_factory.mktemp("hostile") / "layout"
    for tag, (text, _expected) in RELEASE_CASES.items():
        write_image(root, tag, [payload_layer({"image-references": text.encode()})])
    return root


@pytest.mark.parametrize("case", sorted(RELEASE_CASES))
def test_info_refuses_hostile_image_references(
    case: str, release_layout: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["info", f"oci:{release_layout}:{case}"], capsys) == RELEASE_CASES[case][1]


STREAM_FILE = "error: unable to load input image stream file: "
STREAM_CASES = {
    "alias-bomb": (HEADER + alias_bomb(), STREAM_FILE + YAML + ALIASING),
    "deep-flow-yaml": (DEEP_YAML_FLOW, STREAM_FILE + YAML + TOO_DEEP),
    "deep-json": (DEEP_JSON, STREAM_FILE + YAML + TOO_DEEP),
    "malformed-yaml": (
        HEADER + "spec: [\n",
        STREAM_FILE + YAML + "line 3: did not find expected node content",
    ),
    "wrong-type": (
        '{"kind": "ImageStream", "spec": {"tags": 5}}',
        STREAM_FILE
        + "error unmarshaling JSON: json: cannot unmarshal number into Go struct field .spec.tags of type []v1.TagReference",
    ),
}


@pytest.mark.parametrize("case", sorted(STREAM_CASES))
def test_new_refuses_hostile_image_stream_file(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text, expected = STREAM_CASES[case]
    (tmp_path / "is.yaml").write_text(text)
    out = tmp_path / "out"
    assert run(["new", "-f", str(tmp_path / "is.yaml"), "--to-dir", str(out)], capsys) == expected
    assert not out.exists()


#: oc says ``unable to load release image-references: …`` alone; okdrelease names the operator first.
OPERATOR = 'error: operator "op" contained an invalid image-references file: unable to load release image-references: '


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (HEADER + alias_bomb(), OPERATOR + YAML + ALIASING),
        (DEEP_YAML_FLOW, OPERATOR + YAML + TOO_DEEP),
        (DEEP_JSON, OPERATOR + YAML + TOO_DEEP),
        # go-yaml refuses a surrogate's escape (PyYAML's pure parser kept it: an internal error after)
        (
            HEADER
            + 'spec:\n  tags:\n  - name: op\n    from:\n      kind: DockerImage\n      name: "\\ud800"\n',
            OPERATOR + YAML + "line 8: found invalid Unicode character escape code",
        ),
    ],
    ids=["alias-bomb", "deep-flow-yaml", "deep-json", "yaml-surrogate-escape"],
)
def test_new_refuses_hostile_operator_image_references(
    text: str, expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    operator = tmp_path / "in" / "op"
    operator.mkdir(parents=True)
    (operator / "image-references").write_text(text)
    (operator / "0000_50_op.yaml").write_text("kind: Namespace\napiVersion: v1\nmetadata:\n  name: x\n")
    out = tmp_path / "out.tar"
    assert (
        run(["new", "--from-dir", str(tmp_path / "in"), "--to-file", str(out), "--name", "4.15.0"], capsys)
        == expected
    )
    assert not out.exists()


def _operator_release(
    tmp_path: Path, run_name: str, source: bytes, capsys: pytest.CaptureFixture[str]
) -> tuple[int, dict[str, bytes]]:
    """``new --to-dir`` over an operator image whose image-references names ``source`` (JSON string
    content) and whose manifest holds U+FFFD: its exit code and the files written, the image's digest
    as ``DIGEST``."""
    refs = b'{"kind":"ImageStream","apiVersion":"image.openshift.io/v1","spec":{"tags":[{"name":"op",'
    refs += b'"from":{"kind":"DockerImage","name":"' + source + b'"}}]}}'
    manifest = "kind: ConfigMap\napiVersion: v1\nmetadata:\n  name: a\ndata:\n  image: \ufffd\n".encode()
    directory = tarfile.TarInfo("manifests")
    directory.type, directory.mode = tarfile.DIRTYPE, 0o755
    layer = tar_bytes(
        [
            (directory, None),
            file_entry("manifests/image-references", refs),
            file_entry("manifests/a.yaml", manifest),
        ]
    )
    layout, out = tmp_path / run_name, tmp_path / f"{run_name}-out"
    digest = write_image(layout, "op", [layer], labels={"io.openshift.release.operator": "true"})
    args = [
        "new",
        "--from-oci-layout",
        str(layout),
        "--layout-repository",
        "quay.io/okd/x",
        "--name",
        "4.16.0",
    ]
    code = main([*args, "--created", "2024-05-01T00:00:00Z", "--to-dir", str(out)])
    if not out.exists():
        return code, {}
    return code, {p.name: p.read_bytes().replace(digest.encode(), b"DIGEST") for p in sorted(out.iterdir())}


@pytest.mark.parametrize("escape", [b"\\ud800", b"\\ud83d\\ude00"], ids=["lone", "pair"])
def test_a_surrogate_escape_in_operator_image_references_is_refused_as_in_oc(
    escape: bytes, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``"\\ud800"`` (or a pair) in an operator's JSON image-references: oc reads it through go-yaml, which
    refuses any escape of a surrogate (Go's JSON decoder would take it: measured against the real oc).
    Nothing is written; the same file with the raw U+FFFD builds, its tag rewriting the manifest."""
    assert _operator_release(tmp_path, "escaped", escape, capsys) == (1, {})
    assert capsys.readouterr().err.endswith(
        "\n" + OPERATOR + YAML + "found invalid Unicode character escape code\n"
    )
    code, raw = _operator_release(tmp_path, "raw", "\ufffd".encode(), capsys)
    assert (code, "error" in capsys.readouterr().err) == (0, False)
    assert sorted(raw) == ["0000_50_op_a.yaml", "image-references", "release-metadata"]
    assert json.loads(raw["image-references"])["spec"]["tags"][0]["from"]["name"] == "quay.io/okd/x@DIGEST"
    assert raw["0000_50_op_a.yaml"].endswith(b"  image: quay.io/okd/x@DIGEST\n")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (alias_bomb(), YAML + ALIASING),
        (DEEP_YAML_FLOW, YAML + TOO_DEEP),
        (DEEP_YAML_BLOCK, YAML + TOO_DEEP),
        ("- " * 20_000 + "x\n", YAML + TOO_DEEP),
        (DEEP_JSON, TOO_DEEP),
        ("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), YAML + TOO_DEEP),
    ],
    ids=["alias-bomb", "deep-flow", "deep-block", "very-deep-block", "deep-json", "just-too-deep-flow"],
)
def test_manifest_loader_bounds(text: str, expected: str) -> None:
    """The manifest stream reader (extract): refused, not a crash or RecursionError; a YAML document in
    sigs.k8s.io/yaml's words, as every file read through it."""
    with pytest.raises(goyaml.GoYamlError) as caught:
        k8syaml.load_documents(text.encode())
    assert str(caught.value) == expected


def test_nesting_at_the_limit_and_modest_aliasing_are_accepted() -> None:
    flow = "[" * (MAX_DEPTH - 1) + "1" + "]" * (MAX_DEPTH - 1)
    nested: object = k8syaml.load_documents(flow.encode())[0]
    for _ in range(MAX_DEPTH - 2):
        assert isinstance(nested, list)
        nested = nested[0]
    assert nested == [1]
    assert k8syaml.load_documents(b"a: &x {b: 1}\nc: *x\nd: *x\n") == [
        {"a": {"b": 1}, "c": {"b": 1}, "d": {"b": 1}}
    ]


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))


def run_limited(
    args: list[str], *, timeout: float, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python args`` in a child process with 1 GiB of address space and a deadline (text in and out)."""
    return subprocess.run(
        [sys.executable, *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)),
        timeout=timeout,
        preexec_fn=_limit_memory,  # noqa: PLW1509 - no threads in the test process's child setup
        check=False,
    )


def test_alias_bomb_under_one_gib_ends_in_a_clear_error(release_layout: Path) -> None:
    """Under a 1 GiB address-space limit, plain ``info`` of the alias bomb prints the error (no MemoryError)."""
    done = run_limited(["-m", "okdrelease", "info", f"oci:{release_layout}:alias-bomb"], timeout=120)
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == RELEASE_CASES["alias-bomb"][1] + "\n"


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        (
            "quay.io/UPPER/x:y",
            "invalid image reference 'quay.io/UPPER/x:y': repository name must be lowercase alphanumeric components",
        ),
        (
            "quay.io/x@sha256:abc",
            "invalid image reference 'quay.io/x@sha256:abc': invalid checksum digest length",
        ),
        ("", "invalid image reference ''"),
        (
            "127.0.0.1:99999/x:y",
            "unable to read image 127.0.0.1:99999/x:y: reading manifest 127.0.0.1:99999/x:y: "
            "invalid registry address 127.0.0.1:99999: the port must be a number from 1 to 65535",
        ),
    ],
)
def test_info_refuses_invalid_references(ref: str, expected: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["info", ref], capsys) == "error: " + expected


def _add_to_index(root: Path, tag: str, media_type: str, manifest: bytes) -> str:
    digest = write_blob(root, manifest)
    index = json.loads((root / "index.json").read_text())
    index["manifests"].append(
        {
            "mediaType": media_type,
            "digest": digest,
            "size": len(manifest),
            "annotations": {"org.opencontainers.image.ref.name": tag},
        }
    )
    (root / "index.json").write_text(json.dumps(index))
    return digest


def test_info_refuses_wrong_media_types_and_deep_manifests(
    release_layout: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = release_layout
    good = json.loads((root / "index.json").read_text())["manifests"][0]
    manifest = (root / "blobs" / "sha256" / good["digest"][7:]).read_bytes()
    digest = _add_to_index(root, "served-as-text", "text/plain", manifest)
    assert run(["info", f"oci:{root}:served-as-text"], capsys) == (
        f"error: oci:{root}@{digest}: manifest declares media type "
        "application/vnd.docker.distribution.manifest.v2+json but was served as text/plain"
    )
    digest = _add_to_index(root, "deep-manifest", OCI_MANIFEST, DEEP_JSON.encode())
    assert run(["info", f"oci:{root}:deep-manifest"], capsys) == (
        f"error: oci:{root}@{digest}: manifest is not valid JSON: {TOO_DEEP}"
    )


def test_extract_keeps_non_utf8_names_as_bytes_inside_the_target(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A payload file name that is not UTF-8 is written byte for byte (as oc does), inside the target directory."""
    refs = b'{"kind":"ImageStream","apiVersion":"image.openshift.io/v1","spec":{"tags":[]}}'
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT, errors="surrogateescape") as tar:
        for name, data in (
            ("release-manifests/image-references", refs),
            ("release-manifests/\udcff\udcfe.yaml", b"kind: A\nmetadata:\n  name: a\n"),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    write_image(tmp_path / "layout", "r", [buffer.getvalue()])
    out = tmp_path / "out"
    assert main(["extract", "--to", str(out), f"oci:{tmp_path / 'layout'}:r"]) == 0
    assert "Traceback" not in capsys.readouterr().err
    assert sorted(os.listdir(os.fsencode(out))) == [b"image-references", b"\xff\xfe.yaml"]
    assert (out / os.fsdecode(b"\xff\xfe.yaml")).read_bytes() == b"---\nkind: A\nmetadata:\n  name: a\n"


@pytest.mark.parametrize(
    ("stream", "tag", "spec", "why"),
    [
        (
            {
                "spec": {
                    "tags": [{"name": "cli", "from": {"kind": "DockerImage", "name": "quay.io/x/y:bad tag"}}]
                }
            },
            "cli",
            "quay.io/x/y:bad tag",
            "invalid reference format",
        ),
        (
            {
                "spec": {"tags": []},
                "status": {
                    "publicDockerImageRepository": "quay.io/okd/Upper",
                    "tags": [{"tag": "etcd", "items": [{"image": "sha256:" + "1" * 64, "generation": 1}]}],
                },
            },
            "etcd",
            f"quay.io/okd/Upper@sha256:{'1' * 64}",
            "repository name must be lowercase",
        ),
    ],
    ids=["spec-tag", "status-tag"],
)
def test_new_names_the_image_stream_tag_with_an_invalid_reference(
    stream: dict[str, object],
    tag: str,
    spec: str,
    why: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "is.json"
    path.write_text(json.dumps({"kind": "ImageStream", "apiVersion": "image.openshift.io/v1", **stream}))
    out = tmp_path / "out"
    mode = ["--reference-mode", "source"] if tag == "cli" else []
    assert run(["new", "-f", str(path), *mode, "--to-dir", str(out)], capsys) == (
        f'error: input image stream file {path}: the tag "{tag}" points to source "{spec}" which is not valid: {why}'
    )
    assert not out.exists()


def test_extract_passes_over_absolute_names_outside_the_payload(tmp_path: Path) -> None:
    """Absolute entry names (``/etc/x``, ``/release-manifests/x``) are not the payload: ignored, not a hang.

    They once sent the layer stack reader into an endless loop (``dirname("/")`` is ``/``); the run is
    a child process with a deadline, under the 1 GiB limit.
    """
    refs = b'{"kind":"ImageStream","apiVersion":"image.openshift.io/v1","spec":{"tags":[]}}'
    absolute = [
        file_entry(name, b"kind: X\napiVersion: v1\n") for name in ("/etc/x", "/release-manifests/b.yaml")
    ]
    root = tmp_path / "layout"
    write_image(
        root,
        "r",
        [payload_layer({"image-references": refs, "a.yaml": b"kind: A\nmetadata:\n  name: a\n"}, absolute)],
    )
    out = tmp_path / "work" / "out"
    done = run_limited(["-m", "okdrelease", "extract", "--to", str(out), f"oci:{root}:r"], timeout=60)
    assert (done.returncode, done.stderr) == (0, "")
    assert sorted(os.listdir(tmp_path / "work")) == ["out"]
    assert sorted(os.listdir(out)) == ["a.yaml", "image-references"]


def test_manifest_check_survives_deep_flow_nesting() -> None:
    """libyaml's composer (the manifest check's fast path) overflowed the C stack on 100,000 brackets: a crash.

    Run in a child process (a crash there fails this test instead of ending the run), under 1 GiB.
    """
    code = (
        "from okdrelease.payload.check import manifest_problem\n"
        "print(manifest_problem(b'kind: [' + b'[' * 100000 + b']' * 100000 + b']\\n'))\n"
    )
    done = run_limited(["-c", code], timeout=60)
    # go-yaml's words (its flow limit is 10,000; the first line is not named), as the real oc says them
    # (tests/test_differential.py::test_deep_nesting_as_oc)
    assert (done.returncode, done.stdout, done.stderr) == (
        0,
        "invalid YAML/JSON: exceeded max depth of 10000\n",
        "",
    )


#: A FIFO without a writer, as the signing readers word it.
NO_WRITER = "a FIFO with no writer (it is not waited for)"


@pytest.mark.parametrize(
    ("flag", "errors"),
    [
        (
            "-f",
            {
                "zero": "unable to read input image stream file: /dev/zero is larger than 16777216 bytes",
                "fifo": f"unable to read input image stream file: read {{fifo}}: {NO_WRITER}",
                "dir": "unable to read input image stream file: read {dir}: is a directory",
            },
        ),
        (
            "--mapping-file",
            {
                "zero": "mapping file /dev/zero is larger than 16777216 bytes",
                "fifo": f"read {{fifo}}: {NO_WRITER}",
                "dir": "read {dir}: is a directory",
            },
        ),
    ],
)
def test_new_input_files_are_read_up_to_a_bound_and_never_waited_on(
    flag: str, errors: dict[str, str], tmp_path: Path
) -> None:
    """``new -f`` and ``--mapping-file`` naming /dev/zero read without end and a FIFO nobody writes to
    waited forever (the CLI sweep's hangs); a directory was Python's ``[Errno 21] Is a directory: '…'``
    where oc says ``read DIR: is a directory``. Each is now one error line naming the file, at once."""
    from bounded_run import run_bounded

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    paths = {"zero": "/dev/zero", "fifo": str(fifo), "dir": str(tmp_path)}
    out = tmp_path / "out"
    for case, path in paths.items():
        source = ["-f", path] if flag == "-f" else ["--mapping-file", path, "--from-dir", str(tmp_path)]
        done = run_bounded("new", *source, "--name", "4.1.0", "--to-dir", str(out), timeout=30)
        expected = "error: " + errors[case].format(fifo=fifo, dir=tmp_path) + "\n"
        assert (case, done.returncode, done.stdout, done.stderr) == (case, 1, "", expected)
        assert not out.exists()


def test_new_reads_standard_input_up_to_a_bound() -> None:
    """``new -f -`` with /dev/zero on standard input read without end (the sweep's hang)."""
    with open("/dev/zero", "rb") as zero:
        done = subprocess.run(
            [sys.executable, "-m", "okdrelease", "new", "-f", "-", "--name", "4.1.0", "--dry-run"],
            stdin=zero,
            capture_output=True,
            text=True,
            env=dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1])),
            timeout=60,
            check=False,
        )
    assert (done.returncode, done.stdout, done.stderr) == (
        1,
        "",
        "error: unable to read input image stream file: standard input is larger than 16777216 bytes\n",
    )
