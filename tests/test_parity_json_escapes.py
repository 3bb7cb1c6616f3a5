"""Go 1.27's JSON decoder words (encoding/json over jsontext) as the real oc (``../shared/tools/oc/oc``)
prints them for ``oc adm release new --metadata TEXT``: a bad escape is named whole (``invalid escape
sequence `\\q` in string``, Go-quoted when it holds a backquote, a space, a byte that starts no character or
anything unprintable), and a control character in a string is ``invalid character '\\x01' in string``
(Go before 1.25: ``invalid character 'q' in string escape code``, ``... in string literal``)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from oc_oracle import okd_run
from test_parity_yaml_errors import OC

from okdrelease.gocompat.gojson import first_value_error

#: (--metadata text, oc's words after ``error: invalid --metadata: ``), recorded from the real oc.
CASES = (
    ('{"a":"\\q"}', "invalid escape sequence `\\q` in string"),
    ('{"a":"a\\b\\x01"}', "invalid escape sequence `\\x` in string"),
    ('{"a":"\\u12"}', 'invalid escape sequence `\\u12"}` in string'),  # the four bytes after \u
    ('{"a":"\\u1"}', 'invalid escape sequence `\\u1"}` in string'),
    ('{"a":"\\u12"', 'invalid escape sequence `\\u12"` in string'),
    ('{"a":"\\u12xy"}', "invalid escape sequence `\\u12xy` in string"),
    ('{"a":"\\uZZZZ"}', "invalid escape sequence `\\uZZZZ` in string"),
    ('{"a":"\\ud800\\uZZZZ"}', "invalid escape sequence `\\uZZZZ` in string"),
    ('{"a":"\\u1日"}', "invalid escape sequence `\\u1日` in string"),
    ('{"a":"\\é"}', 'invalid escape sequence "\\\\\\xc3" in string'),  # one byte of the character
    ('{"a":"\\日"}', 'invalid escape sequence "\\\\\\xe6" in string'),
    ('{"a":"\\`"}', 'invalid escape sequence "\\\\`" in string'),
    ('{"a":"\\ "}', 'invalid escape sequence "\\\\ " in string'),
    ('{"a":"\\\t"}', 'invalid escape sequence "\\\\\\t" in string'),
    ('{"a":"\\\x01"}', 'invalid escape sequence "\\\\\\x01" in string'),
    ('{"a":"\\\u2028"}', 'invalid escape sequence "\\\\\\xe2" in string'),
    ('{"a":"\\u00', "unexpected end of JSON input"),  # the input ends before four bytes
    ('{"a":"\\u1', "unexpected end of JSON input"),
    ('{"a":"\\', "unexpected end of JSON input"),
    ('{"a":"a\x01"}', "invalid character '\\x01' in string"),
    ('{"a\x01":1}', "invalid character '\\x01' in string"),
    ('{"a":"\\ud800\\u0041"}', None),  # read (oc goes on to its input directory)
)


@pytest.mark.parametrize(("text", "words"), CASES)
def test_scanner_words(text: str, words: str | None) -> None:
    assert first_value_error(text.encode())[0] == (words or "")


def test_json_escape_errors_are_the_real_ocs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """oc's error line for each text, and okdrelease's, word for word."""
    if not OC.exists():
        pytest.skip(f"the real oc is not at {OC}")
    missing = tmp_path / "missing"
    (tmp_path / "home").mkdir()
    for text, words in CASES:
        args = ["--metadata", text, "--to-image", "127.0.0.1:9/x:y", "--from-dir", str(missing)]
        run = subprocess.run(
            [str(OC), "adm", "release", "new", *args],
            capture_output=True,
            text=True,
            env={"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path / "home")},
            timeout=60,
            check=False,
        )
        line = f"error: open {missing}: no such file or directory"
        if words is not None:
            line = f"error: invalid --metadata: {words}"
        assert (run.returncode, run.stderr.splitlines()[-1]) == (1, line), text
        if words is not None:
            okd = okd_run(["new", *args], capsys)
            assert (okd.code, okd.err.splitlines()[-1]) == (1, line), text
