"""The framing of cache records that hold files (okdrelease.cache.framing): a JSON header line, then the
files' bytes back to back, cut out again at the lengths the header names."""

from __future__ import annotations

from typing import Any

import pytest

from okdrelease.cache.framing import frame_parts, unframe


def _lengths(head: Any) -> list[int]:
    return list(head["lengths"])


def test_a_record_is_its_header_line_then_its_parts_and_reads_back() -> None:
    head = {"lengths": [3, 0, 2], "name": "\ud800é"}  # a lone surrogate and é, escaped: the line is ASCII
    payload = b"".join(frame_parts(head, [b"abc", b"", b"\n\n"]))
    assert payload == b'{"lengths":[3,0,2],"name":"\\ud800\\u00e9"}\nabc\n\n'
    assert unframe(payload, _lengths) == (head, [b"abc", b"", b"\n\n"])


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        (b'{"lengths":[]}', "no header line"),
        (b'{"lengths":[3]}\nab', "a part runs past the end of the record"),
        (b'{"lengths":[-1, 2]}\nab', "a part's length is not a count of bytes"),
        (b'{"lengths":[true]}\na', "a part's length is not a count of bytes"),
        (b'{"lengths":[1.0]}\na', "a part's length is not a count of bytes"),
        (b'{"lengths":[1.5]}\na', "a part's length is not a count of bytes"),
        (b'{"lengths":["1"]}\na', "a part's length is not a count of bytes"),
        (b'{"lengths":[1]}\nab', "the parts do not fill the record"),
        (b"[" * 100_000 + b"\n", "the header nests too deep"),
    ],
    ids=["no-header", "short", "negative", "true", "float-whole", "float", "string", "long", "deep"],
)
def test_a_record_whose_parts_do_not_fill_it_exactly_is_refused(payload: bytes, error: str) -> None:
    with pytest.raises(ValueError, match=f"^{error}$"):
        unframe(payload, _lengths)


def test_a_header_that_is_not_ascii_is_refused_and_one_that_is_not_json_too() -> None:
    with pytest.raises(UnicodeDecodeError):  # a ValueError, as every refusal of a record
        unframe('{"lengths":[],"name":"é"}\n'.encode(), _lengths)
    with pytest.raises(ValueError, match="^Expecting property name"):
        unframe(b'{"lengths":[1],}\na', _lengths)


def test_the_reader_of_the_header_may_refuse_it_before_anything_is_cut() -> None:
    def refuse(head: Any) -> list[int]:
        raise KeyError("format")

    with pytest.raises(KeyError):
        unframe(b'{"lengths":[1]}\na', refuse)


def test_a_layer_index_is_framed_so_its_bytes_are_pinned() -> None:
    """A stored layer index (okdrelease.oci.layerindex): a header row per entry (its data's length fifth),
    then each file's bytes; a name that is not UTF-8 (surrogate-escaped) stays an ASCII escape."""
    from okdrelease.oci.layerindex import INDEX_FORMAT, LayerIndex
    from okdrelease.oci.layerread import held_entry

    digest = "sha256:" + "1" * 64
    entries = (
        held_entry("a.yaml", "file", 0o644, 1.5, 3, "", 0, 0, b"a: "),
        held_entry("d", "dir", 0o755, 2.0, 0, "", 1, 2, b""),
        held_entry("\udcff.yaml", "file", 0o600, 0.0, 2, "", 0, 0, b"{}"),
        held_entry("l", "symlink", 0o777, 0.0, 0, "a.yaml", 0, 0, b""),
    )
    payload = LayerIndex(digest, "manifests/", entries).to_bytes()
    assert (
        payload
        == (
            f'{{"format":{INDEX_FORMAT},"digest":"{digest}","prefix":"manifests/","entries":['
            '["a.yaml","file",420,1.5,3,3,"",0,0],["d","dir",493,2.0,0,0,"",1,2],'
            '["\\udcff.yaml","file",384,0.0,2,2,"",0,0],["l","symlink",511,0.0,0,0,"a.yaml",0,0]]}\n'
            "a: {}"
        ).encode()
    )
    again = LayerIndex.from_bytes(payload)
    assert [(e.path, e.type, e.linkname, e.read()) for e in again.entries] == [
        ("a.yaml", "file", "", b"a: "),
        ("d", "dir", "", b""),
        ("\udcff.yaml", "file", "", b"{}"),
        ("l", "symlink", "a.yaml", b""),
    ]
    with pytest.raises(ValueError, match="^unknown layer index format$"):
        LayerIndex.from_bytes(payload.replace(f'"format":{INDEX_FORMAT}'.encode(), b'"format":0', 1))
