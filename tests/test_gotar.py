"""Tests for okdrelease.gocompat.gotar: byte-exact Go archive/tar output."""

from __future__ import annotations

import hashlib
import io
import json
import random
import tarfile
from pathlib import Path

import pytest

from okdrelease.errors import LayerError
from okdrelease.gocompat import gotar
from okdrelease.gocompat.gotar import BLOCK_SIZE, GoTarWriter, extracted_mtime, go_mtime, go_unix_nano

GOLDEN = Path(__file__).resolve().parents[1] / ".." / "shared" / "golden"


def _write(build: object) -> bytes:
    """Run ``build(writer)`` against a fresh writer and return the closed archive bytes."""
    out = io.BytesIO()
    writer = GoTarWriter(out)
    build(writer)  # type: ignore[operator]
    writer.close()
    return out.getvalue()


@pytest.mark.parametrize("case", ["01-realistic", "05-name-collisions", "20-no-operators"])
def test_rewriting_golden_layer_reproduces_its_bytes(case: str) -> None:
    expected = (GOLDEN / case / "expected" / "layer.tar").read_bytes()
    results = json.loads((GOLDEN / case / "case.json").read_text())["results"]

    def build(writer: GoTarWriter) -> None:
        with tarfile.open(fileobj=io.BytesIO(expected)) as archive:
            for member in archive:
                if member.isdir():
                    writer.add_dir(member.name, member.mode, member.mtime)
                else:
                    handle = archive.extractfile(member)
                    assert handle is not None
                    writer.add_file(member.name, handle.read(), member.mode, member.mtime)

    produced = _write(build)
    assert produced == expected
    assert "sha256:" + hashlib.sha256(produced).hexdigest() == results["diff_id"]


def test_directory_header_fields() -> None:
    data = _write(lambda w: w.add_dir("release-manifests", 0o777, 1705612010))
    assert len(data) == 3 * BLOCK_SIZE
    header = data[:BLOCK_SIZE]
    assert header[:18] == b"release-manifests\0"
    assert header[100:108] == b"0000777\0"
    assert header[108:124] == b"0000000\x000000000\0"
    assert header[124:136] == b"00000000000\0"
    assert header[136:148] == b"14552311352\0"
    assert header[156:157] == b"5"
    assert header[257:265] == b"ustar\x0000"
    assert header[329:345] == b"0000000\x000000000\0"
    checksum = sum(header[:148]) + 8 * 32 + sum(header[156:])
    assert header[148:156] == f"{checksum:06o}".encode() + b"\0 "
    assert data[BLOCK_SIZE:] == bytes(2 * BLOCK_SIZE)


def test_file_data_is_padded_and_archive_has_no_record_padding() -> None:
    data = _write(lambda w: w.add_file("a", b"x" * 513, 0o444, 0))
    assert len(data) == BLOCK_SIZE + 2 * BLOCK_SIZE + 2 * BLOCK_SIZE
    assert data[BLOCK_SIZE : BLOCK_SIZE + 513] == b"x" * 513
    assert data[BLOCK_SIZE + 513 :] == bytes(BLOCK_SIZE - 1 + 2 * BLOCK_SIZE)


def test_empty_archive_is_two_zero_blocks_and_close_is_idempotent() -> None:
    out = io.BytesIO()
    writer = GoTarWriter(out)
    writer.close()
    writer.close()
    assert out.getvalue() == bytes(1024)
    with pytest.raises(LayerError, match="closed"):
        writer.add_file("late", b"", 0o444, 0)


@pytest.mark.parametrize(
    ("given", "recorded"),
    [
        (1705612010.75, 1705612011),
        (1705612010.5, 1705612011),
        (1705612010.49, 1705612010),
        (0.0, 0),
        (-0.25, 0),
        (-1.5, -1),
        (-5.0, -5),
        (9223372037.0, 9223372037),
        (9223372036.0, 9223372036),
        (float("nan"), 0),
    ],
)
def test_go_mtime(given: float, recorded: int) -> None:
    assert go_mtime(given) == recorded


@pytest.mark.parametrize(
    ("given", "on_disk"),
    [
        (1705612010.75, 1705612010.75),
        (0.0, 0.0),
        (-0.25, 0.0),
        (-5.0, 0.0),
        (9223372036.0, 9223372036.0),
        (9223372037.0, 0.0),
        (11810783221.0, 0.0),
        (float("inf"), 0.0),
    ],
)
def test_extracted_mtime_clamps_like_docker_chtimes(given: float, on_disk: float) -> None:
    assert extracted_mtime(given) == on_disk


def test_negative_mtime_uses_pax_record_and_zero_octal_field() -> None:
    writer_out = io.BytesIO()
    writer = GoTarWriter(writer_out)
    writer.add_file("release-manifests/a", b"x", 0o444, -5)
    writer.close()
    raw = writer_out.getvalue()
    assert raw[156:157] == b"x"
    assert b"12 mtime=-5\n" in raw
    assert raw[BLOCK_SIZE * 2 + 136 : BLOCK_SIZE * 2 + 148] == b"00000000000\0"


def test_mtime_beyond_octal_range_uses_pax_mtime_record() -> None:
    data = _write(lambda w: w.add_file("f", b"", 0o444, 9000000000))
    assert data[156:157] == b"x"
    assert data[BLOCK_SIZE : BLOCK_SIZE + 20] == b"20 mtime=9000000000\n"
    main = data[2 * BLOCK_SIZE : 3 * BLOCK_SIZE]
    assert main[136:148] == b"00000000000\0"
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        assert archive.getmembers()[0].mtime == 9000000000


def test_long_ascii_name_is_split_into_prefix_and_name() -> None:
    name = "release-manifests/" + "n" * 100
    data = _write(lambda w: w.add_file(name, b"1", 0o444, 0))
    assert data[156:157] == b"0"
    assert data[:101] == b"n" * 100 + b"0"  # the mode field follows directly
    assert data[345:363] == b"release-manifests\0"
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        assert archive.getnames() == [name]


def test_splittable_name_keeps_its_path_record_when_mtime_forces_pax() -> None:
    name = "release-manifests/" + "n" * 100
    data = _write(lambda w: w.add_file(name, b"", 0o444, 9000000000))
    records = f"20 mtime=9000000000\n{len(name) + 10} path={name}\n".encode()
    assert data[124:136] == f"{len(records):011o}\0".encode()
    assert data[BLOCK_SIZE : BLOCK_SIZE + len(records)] == records
    main = data[2 * BLOCK_SIZE : 3 * BLOCK_SIZE]
    assert main[:100] == name.encode()[:100]
    assert main[345:346] == b"\0"
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        (member,) = archive.getmembers()
        assert (member.name, member.mtime) == (name, 9000000000)


def test_unsplittable_long_name_gets_pax_header() -> None:
    name = "release-manifests/" + "n" * 101
    data = _write(lambda w: w.add_file(name, b"1", 0o444, 7))
    xheader = data[:BLOCK_SIZE]
    assert xheader[156:157] == b"x"
    assert xheader[:100] == (b"release-manifests/PaxHeaders.0/" + b"n" * 101)[:100]
    assert xheader[100:108] == b"0000000\0"
    assert xheader[329:345] == bytes(16)
    record = f" path={name}\n"
    length = len(record) + 3
    assert xheader[124:136] == f"{length:011o}\0".encode()
    assert data[BLOCK_SIZE : BLOCK_SIZE + length] == f"{length}{record}".encode()
    main = data[2 * BLOCK_SIZE : 3 * BLOCK_SIZE]
    assert main[:100] == name.encode()[:100]
    assert main[136:148] == b"00000000007\0"
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        assert archive.getnames() == [name]


def test_non_ascii_name_keeps_ascii_bytes_in_ustar_field() -> None:
    name = "release-manifests/0000_60_ünïcödé.yaml"
    data = _write(lambda w: w.add_file(name, b"kind: x\n", 0o444, 1))
    assert data[:48].rstrip(b"\0") == b"release-manifests/PaxHeaders.0/0000_60_ncd.yaml"
    assert data[BLOCK_SIZE : BLOCK_SIZE + 51] == b"51 path=" + name.encode() + b"\n"
    assert data[2 * BLOCK_SIZE : 2 * BLOCK_SIZE + 36] == b"release-manifests/0000_60_ncd.yaml\0\0"


def test_pax_record_length_crossing_a_digit_boundary() -> None:
    # A 97-byte " path=...\n" body gets length 99; a 98-byte body would give 100, which needs 3 digits: 101.
    for body_len, expected_len in ((97, 99), (98, 101)):
        name = "d/" + "é" + "a" * (body_len - 7 - 2 - 2)
        assert len(f" path={name}\n".encode()) == body_len
        data = _write(lambda w, n=name: w.add_file(n, b"", 0o444, 0))
        digits = len(str(expected_len))
        assert data[BLOCK_SIZE : BLOCK_SIZE + digits + 6] == f"{expected_len} path=".encode()
        assert int(data[124:135], 8) == expected_len


def test_invalid_names_and_modes_are_rejected() -> None:
    with pytest.raises(LayerError, match="NUL"):
        _write(lambda w: w.add_file("a\0b", b"", 0o444, 0))
    with pytest.raises(LayerError, match="invalid mode"):
        _write(lambda w: w.add_file("a", b"", 0o100000000, 0))


@pytest.mark.parametrize(
    ("seconds", "nanos"),
    [
        (0, 0),
        (-5, -5_000_000_000),
        (9_223_372_036, 9_223_372_036_000_000_000),
        (11_810_783_221, -6_635_960_852_709_551_616),
    ],
)
def test_go_unix_nano_wraps_like_int64(seconds: int, nanos: int) -> None:
    assert go_unix_nano(seconds) == nanos


def test_ustar_fast_path_writes_the_general_paths_bytes() -> None:
    """Entries that fit ustar as they are get their header in one go: the bytes of the general path."""
    rng = random.Random(20261206)
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-/ ~"
    cases = [
        ("release-manifests/0000_50_x.yaml", b"0", 0o444, 1234, 1714521600),
        ("a" * 100, b"0", 0o7777777, 8**11 - 1, 8**11 - 1),
        ("", b"5", 0, 0, 0),
        ("d/", b"5", 0o777, 0, 1),
    ]
    for _ in range(3000):
        name = "".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 101)))
        size = rng.choice([0, 1, 511, 512, 513, 8**11 - 1, rng.randrange(8**11)])
        seconds = rng.choice([0, 1, 8**11 - 1, rng.randrange(8**11)])
        cases.append((name, rng.choice([b"0", b"5", b"2"]), rng.randrange(8**7), size, seconds))
    for name, typeflag, mode, size, seconds in cases:
        raw = name.encode()
        general = gotar._header_blocks(name, raw, typeflag, mode, size, seconds)
        assert gotar._ustar_header(raw, typeflag, mode, size, seconds) == general, (name, mode, size, seconds)
        assert len(general) == BLOCK_SIZE


def test_long_name_fast_paths_write_the_general_paths_bytes() -> None:
    """Long ASCII names get their header in one go, split into prefix and name like Go or with a PAX path
    record: the general path's bytes."""
    rng = random.Random(20261207)
    parts = [
        "release-manifests",
        "0000_50_cluster-monitoring-operator",
        "a" * 100,
        "b" * 54,
        "c" * 99,
        "x",
        "",
    ]
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789._-/"
    names = [
        "release-manifests/" + "n" * 100,  # name field exactly 100 bytes
        "p" * 155 + "/" + "n" * 100,  # prefix exactly 155, name exactly 100
        "p" * 156 + "/" + "n",  # prefix one too long: PAX
        "/" + "n" * 100,  # the only slash first: PAX
        "p" * 100 + "/",  # a trailing slash is not a split point: PAX
        "p" * 50 + "/" + "q" * 50 + "/",  # directory: split before its last component, the slash kept
        "p" * 120 + "//" + "q" * 20,  # double slash: split at the second
        "release-manifests/" + "n" * 101,  # the name one too long for its field: PAX
        "p" * 98 + "//" + "q" * 101,  # PAX: the ustar name field cut after two slashes: a NUL and a slash
        "p" * 99 + "/" + "q" * 160,  # PAX: the cut field's one trailing slash becomes its NUL
        "/" * 130,  # all slashes: split into 128 of them and "/"
        "a/" * 200,  # PAX: a PAX header name cleaned and cut
    ]
    for _ in range(3000):
        if rng.random() < 0.5:
            name = "/".join(rng.choice(parts) for _ in range(rng.randrange(2, 6)))
        else:
            name = "".join(rng.choice(alphabet) for _ in range(rng.randrange(101, 300)))
        names.append(name if len(name) > 100 else name + "/" + "z" * (101 - len(name)))
    for name in names:
        typeflag = b"5" if name.endswith("/") else b"0"
        mode, size, seconds = rng.randrange(8**7), rng.choice([0, 513, 8**11 - 1]), rng.randrange(8**11)
        out = io.BytesIO()
        GoTarWriter(out)._write_header(name, typeflag, mode, size, seconds)
        raw = name.encode()
        assert out.getvalue() == gotar._header_blocks(name, raw, typeflag, mode, size, seconds), name
        if gotar._split_ustar_path(raw) is not None:
            assert len(out.getvalue()) == BLOCK_SIZE
        else:  # the PAX path record's own fast path
            assert gotar._pax_path_header(raw, typeflag, mode, size, seconds) == out.getvalue(), name


@pytest.mark.parametrize(
    ("name", "mode", "size", "mtime"),
    [
        ("a" * 101, 0o644, 1, 0),  # too long: split into prefix and name (or PAX)
        ("é", 0o644, 1, 0),  # non-ASCII: PAX path record
        ("a", 0o644, 8**11, 0),  # size past the octal field: PAX size record
        ("a", 0o644, 1, -1),  # mtime before the epoch: PAX mtime record
        ("a", 0o644, 1, 8**11),
    ],
)
def test_entries_past_ustar_take_the_general_path(name: str, mode: int, size: int, mtime: float) -> None:
    out = io.BytesIO()
    GoTarWriter(out)._write_header(name, b"0", mode, size, mtime)
    raw = name.encode()
    assert out.getvalue() == gotar._header_blocks(name, raw, b"0", mode, size, gotar.go_mtime(mtime))


def test_a_files_padding_goes_out_with_what_follows() -> None:
    # Go's writer pads a file when the next header or the end is written; so does GoTarWriter (one
    # write less per file), and the bytes are those of padding at once.
    out = io.BytesIO()
    writer = GoTarWriter(out)
    writer.add_file("a", b"abc", 0o444, 0)
    assert len(out.getvalue()) == BLOCK_SIZE + 3
    writer.add_file("b", bytes(BLOCK_SIZE), 0o444, 0)
    assert len(out.getvalue()) == 3 * BLOCK_SIZE + BLOCK_SIZE
    writer.add_file("c", b"d", 0o444, 0)
    writer.close()
    data = out.getvalue()
    assert len(data) == 8 * BLOCK_SIZE
    assert data[BLOCK_SIZE : 2 * BLOCK_SIZE] == b"abc" + bytes(BLOCK_SIZE - 3)
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        assert [(m.name, m.size) for m in archive] == [("a", 3), ("b", BLOCK_SIZE), ("c", 1)]
        member = archive.extractfile("c")
        assert member is not None and member.read() == b"d"
    assert data[-2 * BLOCK_SIZE :] == bytes(2 * BLOCK_SIZE)


@pytest.mark.parametrize("size", [0, 1, 148, 155, 256])
def test_header_checksums_add_bytes_up_to_256(size: int) -> None:
    rng = random.Random(size)
    for data in (bytes([255]) * size, bytes([127]) * size, bytes(rng.randrange(256) for _ in range(size))):
        assert gotar._byte_sum(data) == sum(data)
