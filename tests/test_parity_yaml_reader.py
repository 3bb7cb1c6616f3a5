"""go-yaml's reader as the real oc (``../shared/tools/oc/oc``) has it, on the paths that read YAML: what it
reads of a text (512 bytes at a time, as its scanner needs them: a bad byte after the first document is
refused only when it is in a read the document needs) and its words for each byte it refuses
(``gocompat.yamlreader``). The manifest check's cases are in ``test_parity_yaml_check``; here ``new -f``
(sigs.k8s.io/yaml's ``Unmarshal`` of an image-stream file), ``extract --install-config`` (the same, of the
first document only) and the reader's own seams.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from oc_oracle import OcRig, oc_release_rig
from test_parity_install_config import extract_with_install_config
from test_parity_yaml_check import REFUSED_UTF8, ended_at
from test_parity_yaml_errors import HEADER, LATER, OC, PREFIX, oc_last_lines

from okdrelease.gocompat import yamlreader
from okdrelease.gocompat.gojson import GoJSONError
from okdrelease.gocompat.yamldecode import GoLoader
from okdrelease.gocompat.yamlerrors import go_error_text
from okdrelease.openshift.k8syaml import load_yaml

__all__ = ["oc_release_rig"]

CONVERTING = "error converting YAML to JSON: yaml: "
_CONTROL = "control characters are not allowed"

#: (image-stream file, sigs.k8s.io/yaml's error after ``error converting YAML to JSON: yaml: ``, None when
#: oc reads it: it goes on to refuse the stream for its public repositories), recorded from the real oc.
IMAGE_STREAMS: tuple[tuple[bytes, str | None], ...] = (
    *((HEADER + b"x: a" + tail, words) for tail, words in REFUSED_UTF8),
    (ended_at(508, head=HEADER), None),
    (ended_at(509, head=HEADER), _CONTROL),
    (ended_at(508, b"...\n", head=HEADER), None),
    (ended_at(509, b"...\n", head=HEADER), _CONTROL),
    (HEADER + b"---\n" + b"a" * 600 + b"\xff\n", None),
    (HEADER + b"---\n" + b"a" * 400 + b"\xff\n", "invalid leading UTF-8 octet"),
    # a syntax error in the first read: the reader refuses the bad byte there first
    (HEADER + b"x: [a, b}\n" + b"\x00\n", _CONTROL),
    (HEADER + b"x: [a, b}\n" + b"#" * 600 + b"\n\x00\n", "line 2: did not find expected ',' or ']'"),
)


def _ours(data: bytes) -> str | None:
    try:
        load_yaml(data)
    except GoJSONError as err:
        assert str(err).startswith(CONVERTING), err
        return str(err).removeprefix(CONVERTING)
    return None


@pytest.mark.parametrize(("data", "expected"), IMAGE_STREAMS)
def test_image_stream_read_as_recorded(data: bytes, expected: str | None) -> None:
    assert _ours(data) == expected


@pytest.mark.skipif(not OC.exists(), reason=f"the real oc is not at {OC}")
def test_image_stream_outcomes_are_the_real_ocs(tmp_path: Path) -> None:
    by_oc = oc_last_lines(tmp_path, "case", [data for data, _ in IMAGE_STREAMS])
    for (data, expected), oc_line in zip(IMAGE_STREAMS, by_oc, strict=True):
        line = LATER if expected is None else f"{PREFIX}{CONVERTING}{expected}"
        assert oc_line == (1, line), data


#: (install-config, oc's error line after ``error: ``; None: read), recorded from the real oc.
INSTALL_CONFIGS: tuple[tuple[bytes, str | None], ...] = (
    (b"apiVersion: v1\nx: a\xffb\n", "failed to parse {}: " + CONVERTING + "invalid leading UTF-8 octet"),
    (b"apiVersion: v1\nx: a\xc3Ab\n", "failed to parse {}: " + CONVERTING + "invalid trailing UTF-8 octet"),
    (
        b"apiVersion: v1\nx: a\xe2\x82",
        "failed to parse {}: " + CONVERTING + "incomplete UTF-8 octet sequence",
    ),
    (
        b"\xef\xbb\xbfapiVersion: v1\nx: a\xffb\n",
        "failed to parse {}: " + CONVERTING + "invalid leading UTF-8 octet",
    ),
    (b"apiVersion: v1\n---\nx: a\x00b\n", "failed to parse {}: " + CONVERTING + _CONTROL),
    # only the first document is read (before: every document, and a later one's errors)
    (b"apiVersion: v1\n---\n" + b"a" * 600 + b"\xff\n", None),
    (b"apiVersion: v1\n---\nx: [a\n", None),
    (b'{"apiVersion": "v1"}\n{"apiVersion": 5}\n', None),
    # read as YAML, JSON too (before: Go's JSON decoder's words)
    (
        b'{"apiVersion": "v1", "x": "a\\qb"}\n',
        "failed to parse {}: " + CONVERTING + "found unknown escape character",
    ),
    (
        b'{"apiVersion": "v1", "x": "a\xffb"}\n',
        "failed to parse {}: " + CONVERTING + "invalid leading UTF-8 octet",
    ),
    (
        b"apiVersion: v1\n~: a\n",
        'failed to parse {}: error converting YAML to JSON: unsupported map key of type: %!s(<nil>), key: <nil>, value: "a"',
    ),
    (b"null\n", 'unrecognized {} API version: "" (expected "v1")'),
)


@pytest.mark.parametrize(("text", "expected"), INSTALL_CONFIGS)
def test_install_config_read_as_oc_reads_it(
    oc_release_rig: OcRig,
    text: bytes,
    expected: str | None,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``extract --included --install-config FILE``: oc's error line (or a run that reads it), word for word."""
    oc, okd = extract_with_install_config(oc_release_rig, text, tmp_path, capsys)
    if expected is None:
        assert (oc.code, okd.code) == (0, 0), (oc.err, okd.err)
        return
    line = "error: " + expected.format(tmp_path / "install-config.yaml")
    assert (oc.code, oc.err.splitlines()[-1]) == (1, line)
    assert (okd.code, okd.out, okd.err) == (1, "", line + "\n")


def test_refusals_name_the_character_and_what_must_be_read() -> None:
    """Where each refused character starts, and how far go-yaml must read to refuse it."""
    cases = {
        b"ab\xffc": yamlreader.Refusal(2, 3, "invalid leading UTF-8 octet"),
        b"ab\xc3c": yamlreader.Refusal(2, 4, "invalid trailing UTF-8 octet"),
        b"ab\xe2\x82c": yamlreader.Refusal(2, 5, "invalid trailing UTF-8 octet"),
        b"ab\xe0\x80\x80": yamlreader.Refusal(2, 5, "invalid length of a UTF-8 sequence"),
        b"ab\xf4\x90\x80\x80": yamlreader.Refusal(2, 6, "invalid Unicode character"),
        b"ab\xf0\x90": yamlreader.Refusal(2, None, "incomplete UTF-8 octet sequence"),
        "ab\u0085\u0080".encode(): yamlreader.Refusal(4, 6, _CONTROL),  # NEL is allowed, the C1 U+0080 not
        "é\x1b\xff".encode(): yamlreader.Refusal(2, 3, _CONTROL),  # the first by position
        "é\x1b".encode(): yamlreader.Refusal(2, 3, _CONTROL),
    }
    for data, refusal in cases.items():
        assert yamlreader.first_refusal(data)[1] == refusal, data
    assert yamlreader.first_refusal("a: é\n".encode()) == ("a: é\n", None)


def _scanned(data: bytes) -> str | None:
    """The pure loader's error words parsing all of ``data``, or None."""
    try:
        loader = GoLoader(data)
        try:
            while loader.get_event() is not None:
                pass
        finally:
            loader.dispose()
    except yaml.YAMLError as err:
        return go_error_text(err)
    return None


def test_reads_fall_where_the_bytes_stand_in_the_whole_text() -> None:
    """A part of a larger text (:class:`~okdrelease.gocompat.yamlreader.AlignedBytes`) is read in the reads
    of the whole: a NUL 30 bytes after a flow collection's error, in the same read of the whole text or in
    the next, decides whether the reader or the scanner refuses first."""
    part = b"x: [a, b}\n" + b"a" * 20 + b"\x00\n"  # the NUL at byte 30 of the part
    assert _scanned(yamlreader.AlignedBytes(part, 400)) == _CONTROL  # both in [0, 512)
    assert _scanned(yamlreader.AlignedBytes(part, 490)) == "did not find expected ',' or ']'"
    assert _scanned(part) == _CONTROL
    assert str(yamlreader.GoReaderError(_CONTROL, 3)) == _CONTROL
