"""YAML errors worded as the real oc words them (``../shared/tools/oc/oc``), for files oc reads with
sigs.k8s.io/yaml: ``oc adm release new -f FILE`` refuses a malformed ImageStream file before it
contacts a registry, with ``error: unable to load input image stream file: error converting YAML to
JSON: yaml: [line N: ]PROBLEM``; okdrelease's reader (``openshift.k8syaml``, the words shared with the
manifest check through ``gocompat.yamlerrors``) must give the same text for the same bytes."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
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
    HEADER + b"x: a\nb\n ",  # a key left stale by its own scalar's scan: the line the scan ended on
    HEADER + b"[",  # the end inside a flow collection where a key goes: its key kept, on the new line
    HEADER + b"[a,\n b\n c]\n",  # that key is checked when its token reaches the parser
    HEADER + b'x: "a\\xZZ"\n',
    HEADER + b"metadata: {name: a?b}\n",
    HEADER + b"x: `a",
    HEADER + b'x: "\\ud800\\\n  b"\n',  # the escape's line, not the line the scan ended on
    HEADER + b"x: !!int a\n",  # PyYAML's constructor refuses it (a ValueError); go-yaml's words
    b"%YAML 1.2\n---\n" + HEADER,  # libyaml takes it; go-yaml does not
    # go-yaml's decoding of tags, aliases and merges, and the JSON conversion (PyYAML's constructors read
    # these otherwise, or fail with a KeyError or AttributeError)
    HEADER + b"x: !!timestamp foo\n",
    HEADER + b"x: !!null x\n",
    HEADER + b"x: !!int 1:20\n",
    HEADER + b"~: a\n",
    HEADER + b"x: &a [*a]\n",
    HEADER + b"x: {<<: [{y: &s [{}]}, {<<: *s}]}\n",
    HEADER + b"x: !!timestamp 2001-01-01T00:00:00+25:00\n",  # Go's time.Parse: an offset up to 24:60
    HEADER + b"x: !!timestamp 2001-01-01T00:00:00+00:61\n",
    HEADER + b"x: !!timestamp 2001-01-01T00:00:00,Z\n",
    # go-yaml 2.4 takes no flow collection for a key unless something inside could start one
    HEADER + b"{? : a}\n",
    HEADER + b"x:\n  {}: c\n",
    HEADER + b"x: [[]: c]\n",
    # nested past okdrelease's bound of 200 levels (oc has none below go-yaml's 10,000): oc's own errors
    # come first, the JSON conversion's too
    HEADER + b"x: " + b"[" * 201 + b"1" + b"]" * 201 + b"\ny: .nan\n",
    HEADER + b"x: " + b"[" * 201 + b"1" + b"]" * 201 + b"\n~: a\n",
    HEADER + b"y: .nan\nx: " + b"[" * 250 + b"1" + b"]" * 250 + b"\n",
    HEADER
    + b"a0: &a0 [1]\n"
    + b"".join(b"a%d: &a%d [*a%d]\n" % (i, i, i - 1) for i in range(1, 250))
    + b"y: -.inf\n",
)
#: Files the real oc reads (it goes on to refuse the image stream for other reasons), with the value
#: sigs.k8s.io/yaml gives them.
ACCEPTED = (
    (HEADER + b"x: !!bool y\n", True),
    (HEADER + b"x: ! 1\n", "1"),
    (HEADER + b"x: !!float .5_0\n", 0.5),
    (HEADER + b"x: !!timestamp 2001-01-01T00:00:00,5Z\n", "2001-01-01T00:00:00,5Z"),  # Go takes a comma
    (HEADER + b"x: !!timestamp 2001-01-01T00:00:00+24:00\n", "2001-01-01T00:00:00+24:00"),
    (HEADER + b"x: !!timestamp 2001-01-01T00:00:00-00:60\n", "2001-01-01T00:00:00-00:60"),
    (HEADER + b"x: !!timestamp 2001-01-01 00:00:00,123\n", "2001-01-01 00:00:00,123"),
)
LATER = (
    "error: only image streams or releases with public image repositories can be the source for releases"
    " when using the default --reference-mode"
)
PREFIX = "error: unable to load input image stream file: "


def oc_last_line(tmp_path: Path, name: str, data: bytes) -> tuple[int, str]:
    """The real oc's exit code and last line of errors for ``oc adm release new -f FILE``."""
    path = tmp_path / f"{name}.yaml"
    path.write_bytes(data)
    run = subprocess.run(
        [str(OC), "adm", "release", "new", "-f", str(path), "--to-image", "127.0.0.1:9/x:y"],
        capture_output=True,
        text=True,
        env={"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)},
        timeout=60,
        check=False,
    )
    return run.returncode, run.stderr.strip().splitlines()[-1]


def oc_last_lines(tmp_path: Path, prefix: str, cases: Sequence[bytes]) -> list[tuple[int, str]]:
    """``oc_last_line`` of each case (named PREFIX0, PREFIX1, ...), several oc runs at a time: each keeps about
    one core busy for 0.2 s (34 runs: 6.8 s of CPU in 7.7 s), so a machine's cores share them."""
    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(lambda n: oc_last_line(tmp_path, f"{prefix}{n}", cases[n]), range(len(cases))))


@pytest.mark.skipif(not OC.exists(), reason=f"the real oc is not at {OC}")
def test_image_stream_yaml_errors_worded_as_oc(tmp_path: Path) -> None:
    for data, (returncode, last) in zip(CASES, oc_last_lines(tmp_path, "case", CASES), strict=True):
        assert returncode == 1 and last.startswith(PREFIX), (data, last)
        with pytest.raises(GoJSONError) as refused:
            load_yaml(data)
        assert str(refused.value) == last[len(PREFIX) :], data


@pytest.mark.skipif(not OC.exists(), reason=f"the real oc is not at {OC}")
def test_image_stream_yaml_read_as_oc_reads_it(tmp_path: Path) -> None:
    """Tagged scalars oc reads go on to the image stream's own checks, read as go-yaml reads them."""
    by_oc = oc_last_lines(tmp_path, "ok", [data for data, _ in ACCEPTED])
    for (data, value), oc_line in zip(ACCEPTED, by_oc, strict=True):
        assert oc_line == (1, LATER), data
        assert load_yaml(data) == {"kind": "ImageStream", "apiVersion": "image.openshift.io/v1", "x": value}
