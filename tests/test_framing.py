"""The framing of cache records that hold files (okdrelease.cache.framing): a JSON header line, then the
files' bytes back to back, cut out again at the lengths the header names."""

from __future__ import annotations

from typing import Any

import pytest

from okdrelease.cache.framing import frame, unframe


def _lengths(head: Any) -> list[int]:
    return [int(n) for n in head["lengths"]]


def test_a_record_is_its_header_line_then_its_parts_and_reads_back() -> None:
    head = {"lengths": [3, 0, 2], "name": "\ud800é"}  # a lone surrogate and é, escaped: the line is ASCII
    payload = frame(head, [b"abc", b"", b"\n\n"])
    assert payload == b'{"lengths":[3,0,2],"name":"\\ud800\\u00e9"}\nabc\n\n'
    assert unframe(payload, _lengths) == (head, [b"abc", b"", b"\n\n"])


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        (b'{"lengths":[]}', "no header line"),
        (b'{"lengths":[3]}\nab', "a part runs past the end of the record"),
        (b'{"lengths":[-1, 2]}\nab', "a part runs past the end of the record"),
        (b'{"lengths":[1]}\nab', "the parts do not fill the record"),
    ],
    ids=["no-header", "short", "negative", "long"],
)
def test_a_record_whose_parts_do_not_fill_it_exactly_is_refused(payload: bytes, error: str) -> None:
    with pytest.raises(ValueError, match=f"^{error}$"):
        unframe(payload, _lengths)


def test_the_reader_of_the_header_may_refuse_it_before_anything_is_cut() -> None:
    def refuse(head: Any) -> list[int]:
        raise KeyError("format")

    with pytest.raises(KeyError):
        unframe(b'{"lengths":[1]}\na', refuse)
