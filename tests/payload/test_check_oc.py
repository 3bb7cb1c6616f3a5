"""The manifest check's refusals against the real oc's YAML reading (``../shared/tools/oc/oc``).

``oc create --dry-run=client -f FILE`` parses a one-document file with sigs.k8s.io/yaml (go-yaml v2),
the reader of ``oc adm release new``'s sanity check, and refuses it before it would reach a server:
``error parsing FILE: error converting YAML to JSON: yaml: PROBLEM``. The check words the same
refusal ``invalid YAML/JSON: PROBLEM``.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from golden_support import SHARED

from okdrelease.payload import check

OC = SHARED / "tools" / "oc" / "oc"
OBJECT = b"apiVersion: v1\nkind: ConfigMap\n"
#: One-document files oc refuses while reading them (no '---': ``-f`` splits documents itself).
CASES = (
    OBJECT + b"metadata: {name: a?b}\n",  # libyaml 0.2.5 reads '?' in a plain flow scalar as text
    OBJECT + b"data: {url: http://a/b?c=d}\n",
    OBJECT + b"data: [a?b]\n",
    b"a: &x 1\n" + OBJECT + b"data: {url: a?b}\n",
    b"? [[[]]]\n: b\n" + OBJECT,
    b"? " + b"[" * 250 + b"]" * 250 + b"\n: b\n" + OBJECT,
)
_KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:9"}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
users: [{name: u, user: {}}]
current-context: c
"""


@pytest.mark.skipif(not OC.exists(), reason=f"the real oc is not at {OC}")
def test_refusals_worded_as_oc(tmp_path: Path) -> None:
    config = tmp_path / "kubeconfig"
    config.write_text(_KUBECONFIG)
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "KUBECONFIG": str(config)}
    for number, data in enumerate(CASES):
        path = tmp_path / f"case{number}.yaml"
        path.write_bytes(data)
        run = subprocess.run(
            [str(OC), "create", "--dry-run=client", "-o", "name", "-f", str(path)],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
        prefix = f"error: error parsing {path}: error converting YAML to JSON: yaml: "
        assert run.returncode == 1 and run.stderr.startswith(prefix), (data, run.stderr)
        problem = run.stderr[len(prefix) :].rstrip("\n")
        assert check.manifest_problem(data) == f"invalid YAML/JSON: {problem}", data
