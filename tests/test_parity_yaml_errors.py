"""YAML errors worded as the real oc words them (``../shared/tools/oc/oc``), for files oc reads with
sigs.k8s.io/yaml: ``oc adm release new -f FILE`` refuses a malformed ImageStream file before it
contacts a registry, with ``error: unable to load input image stream file: error converting YAML to
JSON: yaml: [line N: ]PROBLEM``; okdrelease's reader (``openshift.k8syaml``, the words shared with the
manifest check through ``gocompat.yamlerrors``) must give the same text for the same bytes."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from golden_support import SHARED

from okdrelease.gocompat.gojson import GoJSONError
from okdrelease.openshift.k8syaml import load_yaml

OC = SHARED / "tools" / "oc" / "oc"
HEADER = b"kind: ImageStream\napiVersion: image.openshift.io/v1\n"
CASES = (
    b"kind: [a",  # a parser error at the end of a text without a final line break: go-yaml's new line
    b"kind: [a\n",
    b'{"kind": "ImageStream",',
    HEADER + b"spec: {a: b",
    HEADER + b"spec:\n  - a\n  b: c",
    HEADER + b'x: "abc',  # a scanner error at the end: no new line
    HEADER + b"x: [a, b]]",
    HEADER + b"spec:\n  a: b\n c: d",
    HEADER + b"x: |\n a\n  b\nc",  # a simple key left open at the end: go-yaml's new line
    HEADER + b'x: "a\\xZZ"\n',
    HEADER + b"metadata: {name: a?b}\n",
    HEADER + b"x: `a",
    HEADER + b'x: "\\ud800\\\n  b"\n',  # the escape's line, not the line the scan ended on
    HEADER + b"x: !!int a\n",  # PyYAML's constructor refuses it (a ValueError); go-yaml's words
    b"%YAML 1.2\n---\n" + HEADER,  # libyaml takes it; go-yaml does not
)
PREFIX = "error: unable to load input image stream file: "


@pytest.mark.skipif(not OC.exists(), reason=f"the real oc is not at {OC}")
def test_image_stream_yaml_errors_worded_as_oc(tmp_path: Path) -> None:
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)}
    for number, data in enumerate(CASES):
        path = tmp_path / f"case{number}.yaml"
        path.write_bytes(data)
        run = subprocess.run(
            [str(OC), "adm", "release", "new", "-f", str(path), "--to-image", "127.0.0.1:9/x:y"],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
        last = run.stderr.strip().splitlines()[-1]
        assert run.returncode == 1 and last.startswith(PREFIX), (data, run.stderr)
        with pytest.raises(GoJSONError) as refused:
            load_yaml(data)
        assert str(refused.value) == last[len(PREFIX) :], data
