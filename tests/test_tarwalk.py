"""The tar header walker against tarfile: the same members, data, errors, end of archive and stream reads.

Every case runs twice: through ``tarfile.open(mode="r|")`` as layers read tars before the walker, and
through ``tarwalk.TarWalker``; both record the members (every field the layers use), the data of the
regular files that are read, how reading ended (the exception's type and message, or the end), and
every read of the underlying stream between members (so a byte budget counted there is reached at
the same entry). The archives are written by tarfile (ustar, GNU, PAX), by the Go-compatible writer,
by hand (v7, prefixes, every type, base-256 and unusual numbers, signed checksums, sparse files,
global headers), and then damaged: checksums flipped, cut at every kind of place, garbage and zero
blocks inserted, random bytes changed.
"""

from __future__ import annotations

import contextlib
import io
import random
import tarfile
from collections.abc import Callable, Iterator
from typing import Any
from unittest import mock

import pytest

from okdrelease.gocompat.gotar import GoTarWriter
from okdrelease.oci import layerlimits, layerread, layerstack, tarwalk

CHUNK = 1 << 16

#: Which regular files a run reads: all, none, every other one, each one twice.
READS = ("all", "none", "alternate", "twice")


class LoggedStream:
    """A stream over ``data`` that logs every read (size asked, bytes returned); may return short reads."""

    def __init__(self, data: bytes, log: list[object], short: int = 0) -> None:
        self._stream = io.BytesIO(data)
        self._log = log
        self._short = short

    def read(self, size: int = -1) -> bytes:
        if self._short and size > self._short:
            size = self._short
        data = self._stream.read(size)
        if data:  # reads at the end are not logged: tarfile asks again and again when told to skip past it
            self._log.append(("read", size, len(data)))
        return data


def _fields(
    name: str, kind: bytes, mode: int, uid: int, gid: int, size: int, mtime: float, link: str
) -> tuple[object, ...]:
    return (name, kind, mode, uid, gid, size, mtime, link)


def _member_fields(member: tarwalk.Member) -> tuple[object, ...]:
    fields = (member.name, member.type, member.mode, member.uid, member.gid, member.size, member.mtime)
    assert [type(value) for value in fields[2:6]] == [int] * 4
    attributes = member.attributes()  # the layers' one-step read of the same fields
    assert attributes == (member.mode, member.uid, member.gid, float(member.mtime))
    assert [type(value) for value in attributes] == [int, int, int, float]
    return _fields(*fields, member.linkname)


def _wants(reads: str, index: int) -> int:
    """How many times member ``index`` is read."""
    return {"all": 1, "none": 0, "alternate": index % 2, "twice": 2}[reads]


def _outcome(err: BaseException) -> tuple[str, str]:
    return type(err).__name__, str(err)


_STDLIB_SEEK = tarfile._Stream.seek  # type: ignore[attr-defined]


def _seek_stopping_at_the_end(self: Any, pos: int = 0) -> int:
    """tarfile's ``_Stream.seek`` (reads forward block by block), but once a block read comes back empty it
    stops: the stream is exhausted, so every further read of stdlib's loop would return nothing too and leave
    ``pos`` as it is (the streams here return nothing again and again at their end). The same position and the
    same logged reads; a base-256 size of 8**12 no longer costs a million empty reads per seek
    (``test_fast_seek_is_tarfiles_own``)."""
    if pos - self.pos < 0:
        return int(_STDLIB_SEEK(self, pos))  # stdlib's StreamError
    blocks, remainder = divmod(pos - self.pos, self.bufsize)
    for _ in range(blocks):
        if not self.read(self.bufsize):
            return int(self.pos)
    self.read(remainder)
    return int(self.pos)


@contextlib.contextmanager
def _fast_seek(enabled: bool = True) -> Iterator[None]:
    """tarfile's stream seeks through ``_seek_stopping_at_the_end`` while in the block."""
    if not enabled:
        yield
        return
    with mock.patch.object(tarfile._Stream, "seek", _seek_stopping_at_the_end):  # type: ignore[attr-defined]
        yield


def via_tarfile(data: bytes, reads: str, short: int = 0, *, fast_seek: bool = True) -> list[object]:
    """What layers saw through tarfile: members, data, reads, then the end or the error."""
    with _fast_seek(fast_seek):
        return _via_tarfile(data, reads, short)


def _via_tarfile(data: bytes, reads: str, short: int) -> list[object]:
    log: list[object] = []
    raw = LoggedStream(data, log, short)
    head = raw.read(1)
    try:
        tar = tarfile.open(fileobj=layerread._Prefixed(head, raw), mode="r|", bufsize=CHUNK)  # type: ignore[arg-type]
        index = 0
        while (info := tar.next()) is not None:
            tar.members.clear()  # type: ignore[attr-defined]
            log.append(
                _fields(
                    info.name, info.type, info.mode, info.uid, info.gid, info.size, info.mtime, info.linkname
                )
            )
            for _ in range(_wants(reads, index) if info.isreg() else 0):
                handle = tar.extractfile(info)
                log.append(("data", handle.read() if handle is not None else None))
            index += 1
        log.append(("end",))
    except Exception as err:  # noqa: BLE001 - the outcome compared
        log.append(("error", *_outcome(err)))
    return log


def via_walker(data: bytes, reads: str, short: int = 0) -> list[object]:
    """The same through the walker."""
    log: list[object] = []
    raw = LoggedStream(data, log, short)
    head = raw.read(1)
    walker = tarwalk.TarWalker(raw, head, bufsize=CHUNK)
    try:
        for index, member in enumerate(walker.members()):
            log.append(_member_fields(member))
            for _ in range(_wants(reads, index) if member.isreg else 0):
                log.append(("data", walker.read()))
        log.append(("end",))
    except Exception as err:  # noqa: BLE001 - the outcome compared
        log.append(("error", *_outcome(err)))
    finally:
        walker.close()
    return log


def assert_same(data: bytes, reads: tuple[str, ...] = READS, short: int = 0) -> list[object]:
    """Both readers agree on ``data`` for every reading pattern; tarfile's log for ``reads[0]``."""
    first: list[object] = []
    for how in reads:
        expected = via_tarfile(data, how, short)
        assert via_walker(data, how, short) == expected, how
        first = first or expected
    return first


def members(log: list[object]) -> list[object]:
    return [item for item in log if not (isinstance(item, tuple) and item and item[0] == "read")]


# -- archives ---------------------------------------------------------------------------------


def _info(name: str, kind: bytes = tarfile.REGTYPE, size: int = 0, **extra: object) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = size
    info.mode = 0o644 if kind != tarfile.DIRTYPE else 0o755
    info.mtime = 1_700_000_000
    info.uid, info.gid = 1000, 1001
    info.uname, info.gname = "user", "group"
    for key, value in extra.items():
        setattr(info, key, value)
    return info


def python_tar(fmt: int, *, long_names: bool = True, pax: dict[str, str] | None = None) -> bytes:
    """Every type tarfile writes, short and long names, empty and padded files, in format ``fmt``."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=fmt, pax_headers=pax or {}) as tar:
        tar.addfile(_info("manifests", tarfile.DIRTYPE))
        tar.addfile(_info("manifests/a.yaml", size=5), io.BytesIO(b"a: 1\n"))
        tar.addfile(_info("manifests/empty.yaml"))
        tar.addfile(_info("manifests/block.bin", size=512), io.BytesIO(bytes(range(256)) * 2))
        tar.addfile(_info("manifests/big.bin", size=70_000), io.BytesIO(b"x" * 70_000))
        tar.addfile(_info("usr/bin/sh", tarfile.SYMTYPE, linkname="../../bin/bash"))
        tar.addfile(_info("usr/bin/hard", tarfile.LNKTYPE, linkname="usr/bin/sh"))
        tar.addfile(_info("dev/null", tarfile.CHRTYPE, devmajor=1, devminor=3))
        tar.addfile(_info("dev/sda", tarfile.BLKTYPE, devmajor=8, devminor=0))
        tar.addfile(_info("run/fifo", tarfile.FIFOTYPE))
        tar.addfile(_info("contiguous", tarfile.CONTTYPE, size=3), io.BytesIO(b"abc"))
        if long_names:
            deep = "manifests/" + "/".join(["d" * 40] * 4) + "/file.yaml"
            tar.addfile(_info(deep, size=4), io.BytesIO(b"deep"))  # ustar: name and prefix fields
        if long_names and fmt != tarfile.USTAR_FORMAT:
            tar.addfile(_info("x" * 120, size=2), io.BytesIO(b"xx"))
            tar.addfile(_info("l" * 10, tarfile.SYMTYPE, linkname="t" * 150))
        if fmt != tarfile.USTAR_FORMAT:
            tar.addfile(_info("manifests/ünï.yaml", size=1), io.BytesIO(b"u"))
            tar.addfile(_info("huge-uid", uid=8**8, gid=8**9))
    return out.getvalue()


def go_tar() -> bytes:
    out = io.BytesIO()
    writer = GoTarWriter(out)
    writer.add_dir("manifests/", mtime=1_600_000_000)
    writer.add_file("manifests/0000_a.yaml", b"kind: A\n", mtime=1_600_000_000)
    writer.add_file("manifests/" + "n" * 120 + ".yaml", b"long", mtime=1)
    writer.add_file("manifests/é.yaml", b"accent")
    writer.add_file("manifests/" + "p" * 60 + "/" + "q" * 60, b"split")
    writer.add_file("image-references", b"{}" * 300)
    writer.close()
    return out.getvalue()


def _checksum(block: bytearray, *, signed: bool = False) -> None:
    block[148:156] = b" " * 8
    total = sum((b - 256 if signed and b > 127 else b) for b in block)
    block[148:156] = b"%06o\0 " % (total & 0o777777)


def raw_header(
    name: bytes,
    kind: bytes = b"0",
    size: int | bytes = 0,
    *,
    prefix: bytes = b"",
    magic: bytes = b"ustar\x0000",
    link: bytes = b"",
    numbers: dict[int, bytes] | None = None,
    signed: bool = False,
) -> bytes:
    """A hand-made header; ``numbers`` replaces whole numeric fields by offset."""
    block = bytearray(512)
    block[0 : len(name)] = name
    block[100:108] = b"0000644\0"
    block[108:116] = b"0001750\0"
    block[116:124] = b"0001751\0"
    block[124:136] = size if isinstance(size, bytes) else b"%011o\0" % size
    block[136:148] = b"14524770400\0"
    block[156:157] = kind
    block[157 : 157 + len(link)] = link
    block[257 : 257 + len(magic)] = magic
    block[345 : 345 + len(prefix)] = prefix
    for offset, value in (numbers or {}).items():
        block[offset : offset + len(value)] = value
    _checksum(block, signed=signed)
    return bytes(block)


def entry(header: bytes, data: bytes = b"") -> bytes:
    return header + data + bytes(-len(data) % 512)


END = bytes(1024)


def hand_tar() -> bytes:
    """Headers tarfile's writer never makes."""
    v7 = bytes(8)
    return b"".join(
        [
            entry(raw_header(b"v7file", b"\0", 3, magic=v7), b"abc"),
            entry(raw_header(b"v7dir/", b"\0", 0, magic=v7)),
            entry(raw_header(b"v7dir-with-size/", b"\0", 10, magic=v7)),  # a directory: no data follows
            entry(raw_header(b"dir-slashes///", b"5")),
            entry(raw_header(b"/", b"5", prefix=b"pre")),
            entry(raw_header(b"inner/", b"5", prefix=b"pre/fix//")),
            entry(raw_header(b"file", b"0", 2, prefix=b"some/prefix"), b"pf"),
            entry(raw_header(b"gnu-magic", b"0", 1, magic=b"ustar  \0", prefix=b"gnu-prefix"), b"g"),
            entry(raw_header(b"dir-with-size", b"5", 700)),
            entry(raw_header(b"link-with-size", b"1", 700, link=b"file")),
            entry(raw_header(b"\xff\xfe-not-utf8", b"0", 1, link=b"\xc3"), b"n"),
            entry(
                raw_header(
                    b"spaced", b"0", numbers={100: b"   644 \0", 108: b" 1750  \0", 124: b"         12 "}
                ),
                b"s" * 10,
            ),
            entry(raw_header(b"nul-first", b"0", numbers={108: b"\0\0\0\0\0\0\0\0", 116: b"\0" * 8})),
            entry(raw_header(b"after-nul", b"0", numbers={100: b"644\0zzz\0"})),
            entry(raw_header(b"octal-prefix", b"0", numbers={100: b"0o644\0\0\0"})),
            entry(raw_header(b"devices", b"3", numbers={329: b"0000001\0", 337: b"   3   \0"})),
            entry(raw_header(b"base256", b"0", b"\x80" + (5).to_bytes(11, "big")), b"b256!"),
            entry(raw_header(b"base256-uid", b"0", numbers={108: b"\x80" + (7).to_bytes(7, "big")})),
            entry(raw_header(b"signed-\xe9", b"0", 1, signed=True), b"z"),
            entry(raw_header(b"unknown-type", b"V", 600), b"v" * 600),
            entry(raw_header(b"after-unknown", b"0", 1), b"k"),
            END,
        ]
    )


def sparse_tar() -> bytes:
    """An old GNU sparse file ('S', two data regions), then a plain file."""
    block = bytearray(raw_header(b"sparse", b"S", 1024, magic=b"ustar  \0"))
    block[386:398] = b"%011o\0" % 0
    block[398:410] = b"%011o\0" % 512
    block[410:422] = b"%011o\0" % 4096
    block[422:434] = b"%011o\0" % 512
    block[483:495] = b"%011o\0" % 4608
    _checksum(block)
    return bytes(block) + b"A" * 512 + b"B" * 512 + entry(raw_header(b"after", b"0", 2), b"ok") + END


def gnu_sparse_pax_tar() -> bytes:
    """A GNU sparse 1.0 file in PAX headers (its map in the data), then a plain file."""
    pax = {
        "GNU.sparse.major": "1",
        "GNU.sparse.minor": "0",
        "GNU.sparse.name": "sparse1",
        "GNU.sparse.realsize": "8192",
    }
    head = tarfile.TarInfo._create_pax_generic_header(pax, tarfile.XHDTYPE, "utf-8")  # type: ignore[attr-defined]
    sparse_map = b"1\n4096\n100\n".ljust(512, b"\0")
    member = raw_header(b"GNUSparseFile.0/sparse1", b"0", 512 + 100)
    return (
        head
        + member
        + sparse_map
        + b"D" * 100
        + bytes(412)
        + entry(raw_header(b"after", b"0", 2), b"ok")
        + END
    )


def global_tar(first: bool) -> bytes:
    """A global PAX header (at the start, or after a plain member) that changes later members."""
    glob = tarfile.TarInfo._create_pax_generic_header(
        {"mtime": "42.5", "uname": "g"}, tarfile.XGLTYPE, "utf-8"
    )  # type: ignore[attr-defined]
    plain = entry(raw_header(b"plain", b"0", 2), b"pl")
    rest = entry(raw_header(b"later", b"0", 3), b"lat") + entry(raw_header(b"later-dir", b"5"))
    body = glob + plain + rest if first else plain + glob + rest
    return body + END


def empty_global_tar() -> bytes:
    glob = tarfile.TarInfo._create_pax_generic_header({}, tarfile.XGLTYPE, "utf-8")  # type: ignore[attr-defined]
    return entry(raw_header(b"one", b"0", 1), b"1") + glob + entry(raw_header(b"two", b"0", 1), b"2") + END


def gnu_long_tar() -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.GNU_FORMAT) as tar:
        tar.addfile(_info("short", size=1), io.BytesIO(b"s"))
        tar.addfile(_info("L" * 300, size=2), io.BytesIO(b"LL"))
        tar.addfile(_info("link", tarfile.SYMTYPE, linkname="K" * 300))
        tar.addfile(_info("after", size=3), io.BytesIO(b"aft"))
    return out.getvalue()


def base256_size_tar() -> bytes:
    """A GNU header whose size is in base-256 (huge); the archive is cut inside its data."""
    header = raw_header(b"huge", b"0", b"\x80" + (8**12).to_bytes(11, "big"), magic=b"ustar  \0")
    return entry(raw_header(b"before", b"0", 1), b"b") + header + b"y" * 5000


def many_tar(count: int = 3000) -> bytes:
    """A rootfs-like tar: directories, files of every size, links (chunk boundaries fall everywhere)."""
    out = io.BytesIO()
    rng = random.Random(count)
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for index in range(count):
            kind = rng.choice([tarfile.REGTYPE] * 6 + [tarfile.DIRTYPE, tarfile.SYMTYPE])
            name = f"usr/share/doc/pkg{index // 10}/file{index}"
            if kind == tarfile.REGTYPE:
                size = rng.choice([0, 1, 100, 511, 512, 513, 4000, 70_000])
                tar.addfile(_info(name, size=size), io.BytesIO(bytes([index % 256]) * size))
            else:
                tar.addfile(_info(name, kind, linkname="x" if kind == tarfile.SYMTYPE else ""))
    return out.getvalue()


#: A PAX record the walker leaves to tarfile (a header charset; UTF-8, so it changes nothing).
HANDED_RECORD = {"hdrcharset": "ISO-IR 10646 2000 UTF-8"}


def pax_heavy_tar(pax: int, plain: int, *, pax_first: bool = True, handed: bool = False) -> bytes:
    """``pax`` members with a PAX header each (a fractional mtime; ``handed``: and a record that makes
    the walker hand the member to tarfile) and ``plain`` members without."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        kinds = [True] * pax + [False] * plain
        for index, with_pax in enumerate(kinds if pax_first else kinds[::-1]):
            info = _info(
                f"manifests/m{index}", size=index % 700, mtime=1_700_000_000.5 if with_pax else 1_700_000_000
            )
            if with_pax and handed:
                info.pax_headers = dict(HANDED_RECORD)
            tar.addfile(info, io.BytesIO(b"p" * (index % 700)))
    return out.getvalue()


ARCHIVES: dict[str, Callable[[], bytes]] = {
    "ustar": lambda: python_tar(tarfile.USTAR_FORMAT),
    "gnu": lambda: python_tar(tarfile.GNU_FORMAT),
    "pax": lambda: python_tar(tarfile.PAX_FORMAT),
    "pax-global-writer": lambda: python_tar(tarfile.PAX_FORMAT, pax={"comment": "c"}),
    "go": go_tar,
    "hand": hand_tar,
    "sparse": sparse_tar,
    "gnu-sparse-pax": gnu_sparse_pax_tar,
    "global-first": lambda: global_tar(True),
    "global-later": lambda: global_tar(False),
    "empty-global": empty_global_tar,
    "gnu-long": gnu_long_tar,
    "base256-size": base256_size_tar,
    "pax-every-member": lambda: pax_heavy_tar(100, 0),
    "pax-then-plain": lambda: pax_heavy_tar(70, 60),
    "plain-then-pax": lambda: pax_heavy_tar(70, 60, pax_first=False),
    "pax-every-member-handed": lambda: pax_heavy_tar(100, 0, handed=True),
    "pax-then-plain-handed": lambda: pax_heavy_tar(70, 60, handed=True),
}


@pytest.mark.parametrize("kind", sorted(ARCHIVES))
def test_archives_read_the_same(kind: str) -> None:
    log = assert_same(ARCHIVES[kind]())
    assert any(isinstance(item, tuple) and len(item) == 8 for item in log), "no member at all"


def test_many_members_and_short_reads() -> None:
    data = many_tar()
    log = assert_same(data, ("all", "alternate"))
    assert sum(1 for item in log if isinstance(item, tuple) and len(item) == 8) == 3000
    assert log[-1] == ("end",)
    assert_same(data[:200_000], ("none",), short=1000)  # a stream returning less than asked
    assert_same(data, ("all",), short=700)


def test_what_tarfile_reads_from_hand_made_headers() -> None:
    """The hand-made archive's members, pinned (not only equal): the walker's rules are tarfile's."""
    log = members(via_walker(hand_tar(), "all"))
    names = [(item[0], item[1]) for item in log if isinstance(item, tuple) and len(item) == 8]
    assert names == [
        ("v7file", b"\0"),
        ("v7dir", b"5"),
        ("v7dir-with-size", b"5"),
        ("dir-slashes", b"5"),
        ("pre", b"5"),
        ("pre/fix///inner", b"5"),
        ("some/prefix/file", b"0"),
        ("gnu-prefix/gnu-magic", b"0"),
        ("dir-with-size", b"5"),
        ("link-with-size", b"1"),
        ("\udcff\udcfe-not-utf8", b"0"),
        ("spaced", b"0"),
        ("nul-first", b"0"),
        ("after-nul", b"0"),
        ("octal-prefix", b"0"),
        ("devices", b"3"),
        ("base256", b"0"),
        ("base256-uid", b"0"),
        ("signed-\udce9", b"0"),
        ("unknown-type", b"V"),
        ("after-unknown", b"0"),
    ]
    spaced = next(item for item in log if isinstance(item, tuple) and item[0] == "spaced")
    assert spaced[2:6] == (0o644, 0o1750, 0o1751, 10)
    assert ("data", b"b256!") in log and ("data", b"s" * 10) in log and ("data", b"k") in log
    assert log[-1] == ("end",)


def test_hand_off_points_are_tarfile_reads() -> None:
    """The walker reads the plain headers and hands the others over (a count, to keep the fast path honest)."""
    plain = tarwalk.parse_header(raw_header(b"plain", b"0", 3))
    assert plain is not None
    assert _member_fields(plain) == ("plain", b"0", 0o644, 0o1750, 0o1751, 3, 0o14524770400, "")
    spaced = tarwalk.parse_header(raw_header(b"spaced", b"5", numbers={100: b" 755 \0\0\0"}))
    assert spaced is not None and (spaced.mode, spaced.size) == (0o755, 0)
    for odd in (
        raw_header(b"pax", b"x", 10),
        raw_header(b"global", b"g", 10),
        raw_header(b"long", b"L", 10),
        raw_header(b"sparse", b"S", 10),
        raw_header(b"unknown", b"V"),
        raw_header(b"base256", b"0", b"\x80" + bytes(11)),
        raw_header(b"signed-\xe9", b"0", signed=True),
        raw_header(b"octal-prefix", b"0", numbers={100: b"0o644\0\0\0"}),
        raw_header(b"inner-blank", b"0", numbers={100: b"06 44\0\0\0"}),
        raw_header(b"short", b"0")[:511],
        bytes(512),
    ):
        assert tarwalk.parse_header(odd) is None, odd[:20]


def test_tarfile_keeps_a_layer_where_it_reads_most_members() -> None:
    """After 64 hand-offs that are most of the members, tarfile reads the rest (the same members)."""
    for (pax, plain, pax_first), handed in {
        (100, 0, True): 64,
        (70, 60, True): 64,
        (70, 200, False): 70,
    }.items():
        data = pax_heavy_tar(pax, plain, pax_first=pax_first, handed=True)
        walker = tarwalk.TarWalker(io.BytesIO(data))
        assert sum(1 for _ in walker.members()) == pax + plain
        assert walker._handed == handed
        assert_same(data, ("all",))


def pax_member(records: bytes, header: bytes | None = None, data: bytes = b"abc") -> bytes:
    """A hand-made PAX extended header holding ``records``, then a member (``header``: a plain file)."""
    extended = entry(raw_header(b"PaxHeaders.0/file", b"x", len(records)), records)
    return extended + entry(header or raw_header(b"file", b"0", len(data)), data)


def record(keyword: bytes, value: bytes) -> bytes:
    """A PAX record with its right length."""
    body = b" " + keyword + b"=" + value + b"\n"
    length = len(body) + 1
    length = len(body) + len(str(length + (len(str(length)) > 1)))
    return b"%d%b" % (length, body)


def test_plain_pax_records_are_read_by_the_walker() -> None:
    """A PAX header whose records tarfile only applies (path, linkpath, mtime, uid, gid, names, other
    keywords) is read by the walker when it and its member's header are in the buffer (the same
    members as tarfile's, pinned here); a charset, a size or GNU records go to tarfile."""
    long_name = "manifests/" + "long/" * 25 + "x.yaml"
    read = {
        "path": (
            record(b"path", long_name.encode()),
            (long_name, b"0", 0o644, 0o1750, 0o1751, 3, 0o14524770400, ""),
        ),
        "dir": (
            record(b"path", b"dir/sub///"),
            ("dir/sub", b"0", 0o644, 0o1750, 0o1751, 3, 0o14524770400, ""),
        ),
        "numbers": (
            record(b"mtime", b"1.25")
            + record(b"uid", b" 12")
            + record(b"gid", b"x")
            + record(b"atime", b"1"),
            ("file", b"0", 0o644, 12, 0, 3, 1.25, ""),
        ),
        "bad-mtime": (
            record(b"mtime", b"soon") + record(b"uname", b"u"),
            ("file", b"0", 0o644, 0o1750, 0o1751, 3, 0, ""),
        ),
        "other": (
            record(b"SCHILY.xattr.user.a", b"\xff") + record(b"comment", b"c") + record(b"path", b"\xffname"),
            ("\udcffname", b"0", 0o644, 0o1750, 0o1751, 3, 0o14524770400, ""),
        ),
        "link": (
            record(b"linkpath", b"target/" * 20),
            ("file", b"2", 0o644, 0o1750, 0o1751, 0, 0o14524770400, "target/" * 20),
        ),
        "empty": (b"", ("file", b"0", 0o644, 0o1750, 0o1751, 3, 0o14524770400, "")),
    }
    for case, (records, expected) in read.items():
        header = raw_header(b"file", b"2", 0) if case == "link" else None
        data = pax_member(records, header, b"" if case == "link" else b"abc") + END
        log = assert_same(data)
        assert members(log)[0] == expected, case
        walker = tarwalk.TarWalker(io.BytesIO(data))
        assert [m.name for m in walker.members()] == [expected[0]] and walker._handed == 0, case
    handed = [
        record(b"hdrcharset", b"BINARY") + record(b"path", b"\xe9"),
        record(b"size", b"3"),
        record(b"GNU.sparse.name", b"x"),
    ]
    for records in handed:
        data = pax_member(records) + END
        assert_same(data)
        walker = tarwalk.TarWalker(io.BytesIO(data))
        assert len(list(walker.members())) == 1 and walker._handed == 1, records
    # Records the lax parser (Python before 3.11.10 and 3.12.6) and the strict one (CVE-2024-6232's fix)
    # read apart: handed to the running tarfile, whose member or error the walker's outcome is.
    malformed = {
        "uneven": b"30 path=abc\n" + record(b"uid", b"7"),
        "no-newline": b"9 path=ab" + record(b"uid", b"7"),
        "overrun": b"600 path=abc\n",
        "empty-keyword": b"7 =abc\n" + record(b"uid", b"7"),
        "no-equals": b"8 path7\n" + record(b"uid", b"7"),
        "short": b"4 a=" + record(b"uid", b"7"),
        "long-length": b"%021d path=x\n" % 30 + record(b"uid", b"7"),
    }
    first = entry(raw_header(b"a", b"0", 1), b"a")
    for case, records in malformed.items():
        assert_same(pax_member(records) + END)  # the first header (the strict parser: ReadError)
        data = first + pax_member(records) + END  # a later one (the strict parser: the archive's end)
        assert_same(data)
        walker = tarwalk.TarWalker(io.BytesIO(data))
        assert [m.name for m in walker.members()][0] == "a" and walker._handed == 1, case
        assert tarwalk.pax_records(records + bytes(-len(records) % 512)) is None, case
    # A negative size (tarfile's member has no data and the next header follows its header).
    log = assert_same(pax_member(record(b"size", b"-3"), data=b"") + END)
    assert members(log)[0] == ("file", b"0", 0o644, 0o1750, 0o1751, -3, 0o14524770400, "")
    assert ("data", b"") in log and log[-1] == ("end",)
    # A record of length 0: tarfile's error (the walker hands the header over and raises it).
    assert assert_same(pax_member(b"0 path=x\n") + END)[-1] == ("error", "ReadError", "invalid header")
    # Not all in the buffer (a header read in pieces): tarfile reads it, the same member.
    data = pax_member(record(b"path", long_name.encode())) + END
    walker = tarwalk.TarWalker(io.BytesIO(data), bufsize=512)
    assert [m.name for m in walker.members()] == [long_name] and walker._handed == 1


def test_pax_fast_path_headers() -> None:
    """Only a well-formed extended header is read by the walker (its numbers plain, its checksum right)."""
    good = raw_header(b"PaxHeaders.0/x", b"x", 30)
    assert tarwalk.pax_size(good) == 30
    for odd in (
        raw_header(b"global", b"g", 30),
        raw_header(b"PaxHeaders.0/\xe9", b"x", 30, signed=True),
        raw_header(b"PaxHeaders.0/x", b"x", b"\x80" + bytes(11)),
        good[:511],
        good[:148] + b"0000000\0" + good[156:],
    ):
        assert tarwalk.pax_size(odd) is None, odd[:20]


# -- damaged archives -------------------------------------------------------------------------


def _header_offsets(data: bytes) -> list[int]:
    """The offsets of the headers tarfile reads (plain ustar archives)."""
    offsets, tar = [], tarfile.open(fileobj=io.BytesIO(data), mode="r:")
    for info in tar:
        offsets.append(info.offset)
    return offsets


@pytest.mark.parametrize("kind", ["ustar", "go", "hand", "pax", "gnu-long"])
def test_flipped_checksums(kind: str) -> None:
    data = ARCHIVES[kind]()
    outcomes = []
    for offset in _header_offsets(data)[:6]:
        for where in (148, 153, 0, 156, 100, 124):
            for flip in (0x01, 0x41):  # another octal digit; a letter
                damaged = bytearray(data)
                damaged[offset + where] ^= flip
                outcomes.append(members(assert_same(bytes(damaged), ("all", "none")))[-1])
    if kind == "ustar":  # the first header raises, a later one ends the archive there
        assert outcomes[0] == ("error", "ReadError", "bad checksum")
        assert outcomes[1] == ("error", "ReadError", "invalid header")
        assert outcomes[12:14] == [("end",), ("end",)]


def test_first_and_later_headers_differ_like_tarfile() -> None:
    good = entry(raw_header(b"a", b"0", 1), b"a")
    bad_number = raw_header(b"b", b"0", numbers={108: b"12x\0\0\0\0\0"})
    cases = {
        bad_number + END: ("error", "ReadError", "invalid header"),
        good + bad_number + END: ("end",),
        raw_header(b"b", b"0")[:300]: ("error", "ReadError", "truncated header"),
        good + raw_header(b"b", b"0")[:300]: ("end",),
        good[:1000]: ("error", "ReadError", "unexpected end of data"),
        good + bytes(512) + good + END: ("end",),
        bytes(512) + good: ("end",),
        good + b"garbage" * 100: ("end",),
        good: ("end",),
        b"\x00": ("error", "ReadError", "truncated header"),
    }
    for data, outcome in cases.items():
        log = assert_same(data)
        assert members(log)[-1] == outcome, data[:40]
    assert members(via_walker(good + bytes(512) + good + END, "all")).count(("data", b"a")) == 1


@pytest.mark.parametrize(
    "kind", ["go", "hand", "pax", "sparse", "gnu-sparse-pax", "global-later", "gnu-long", "gnu"]
)
def test_cut_everywhere(kind: str) -> None:
    data = ARCHIVES[kind]()
    cuts = set(range(1, len(data), 97)) | {
        o + d for o in range(0, len(data), 512) for d in (-1, 0, 1, 100, 511)
    }
    for cut in sorted(c for c in cuts if 0 < c < len(data)):
        assert_same(data[:cut], ("all", "none"))


@pytest.mark.parametrize("kind", ["ustar", "go", "hand", "pax", "sparse", "global-first", "gnu-long"])
def test_garbage_and_zero_blocks_between_members(kind: str) -> None:
    data = ARCHIVES[kind]()
    rng = random.Random(kind)
    for offset in _offsets_of_blocks(data)[:12]:
        for insert in (bytes(512), bytes(1024), b"garbage!" * 64, rng.randbytes(512), rng.randbytes(700)):
            assert_same(data[:offset] + insert + data[offset:], ("all", "none"))


def _offsets_of_blocks(data: bytes) -> list[int]:
    return list(range(512, len(data), 512))


@pytest.mark.parametrize("kind", sorted(ARCHIVES))
def test_random_damage(kind: str) -> None:
    data = ARCHIVES[kind]()
    rng = random.Random(f"damage-{kind}")
    for _ in range(150):
        damaged = bytearray(data)
        for _ in range(rng.choice([1, 1, 2, 5])):
            block = rng.randrange(0, max(1, len(data) // 512)) * 512
            at = block + rng.choice([rng.randrange(512), rng.randrange(100, 160), rng.randrange(329, 345)])
            if at < len(damaged):
                damaged[at] = rng.choice([0, 0x20, 0x30, 0x37, 0x38, 0x80, 0xFF, rng.randrange(256)])
        assert_same(bytes(damaged), (rng.choice(READS),))


def test_fast_seek_is_tarfiles_own() -> None:
    """``via_tarfile``'s seek that stops at the end of the stream gives what tarfile's own seek gives: the
    same members, data, reads and outcome for damaged archives of every kind (among them base-256 sizes
    that seek far past the end, with a size small enough for stdlib's block-by-block loop)."""
    rng = random.Random("fast-seek")
    far = entry(raw_header(b"before", b"0", 1), b"b") + raw_header(
        b"far", b"0", b"\x80" + (CHUNK * 300).to_bytes(11, "big"), magic=b"ustar  \0"
    )
    cases = [far, far + b"y" * 5000, far + bytes(1024)]
    for kind in sorted(ARCHIVES):
        if kind == "base256-size":
            continue  # 8**12: stdlib's own seek takes seconds per case (what the fast seek is for)
        data = ARCHIVES[kind]()
        for _ in range(4):
            damaged = bytearray(data)
            at = rng.randrange(len(data))
            damaged[at] = rng.choice([0, 0x37, 0x80, 0xFF])
            cases.append(bytes(damaged))
        cases.append(data[: rng.randrange(1, len(data))])
    reached_the_end = 0
    for data in cases:
        for how in READS:
            own = via_tarfile(data, how, fast_seek=False)
            assert via_tarfile(data, how) == own, (how, data[:40])
        counter = _SeekCounter()
        with mock.patch.object(tarfile._Stream, "seek", counter):  # type: ignore[attr-defined]
            via_tarfile(data, "all", fast_seek=False)
        reached_the_end += counter.past_the_end
    assert reached_the_end > 0  # some seeks did run past the end (the case the fast seek shortens)


class _SeekCounter:
    """tarfile's own seek, counting the seeks that ran past the end of the stream."""

    def __init__(self) -> None:
        self.past_the_end = 0

    def __get__(self, obj: Any, owner: type) -> Callable[[int], int]:
        def seek(pos: int = 0) -> int:
            reached = int(_STDLIB_SEEK(obj, pos))
            self.past_the_end += reached < pos
            return reached

        return seek


# -- the layer reader on top of it ------------------------------------------------------------

TRICKY_NAMES = [
    "manifests/a.yaml",
    "./manifests/b.yaml",
    "manifests//c.yaml",
    "manifests/../manifests/d.yaml",
    "x/../manifests/e.yaml",
    "/manifests/f.yaml",
    "manifests",
    "manifests/",
    "manifestsX/g.yaml",
    "a/manifests/h.yaml",
    "manifests/./i/../j.yaml",
    "mani/fests/k.yaml",
    "usr/share/doc/copyright",
]


def test_names_outside_the_prefix_are_passed_as_cleaning_them_would() -> None:
    """The quick test on the raw name (the prefix's first component is in it) keeps exactly the names
    whose cleaned form is under the prefix."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in TRICKY_NAMES:
            tar.addfile(_info(name, size=len(name)), io.BytesIO(name.encode()))
    named: list[tuple[str, str]] = []
    files = layerstack.read_stack(
        [io.BytesIO(out.getvalue())],
        "manifests/",
        options=layerstack.StackOptions(whiteouts=False),
        on_entry=lambda e, _layer: named.append((e.path, e.name)),
    )
    entries = [(path, name, files[path].data) for path, name in named]
    assert entries == [
        ("a.yaml", "manifests/a.yaml", b"manifests/a.yaml"),
        ("b.yaml", "./manifests/b.yaml", b"./manifests/b.yaml"),
        ("c.yaml", "manifests//c.yaml", b"manifests//c.yaml"),
        ("d.yaml", "manifests/../manifests/d.yaml", b"manifests/../manifests/d.yaml"),
        ("e.yaml", "x/../manifests/e.yaml", b"x/../manifests/e.yaml"),
        ("j.yaml", "manifests/./i/../j.yaml", b"manifests/./i/../j.yaml"),
    ]
    expected = [layerread._strip_prefix(name, "manifests/") for name in TRICKY_NAMES]
    assert [path for path, _name, _data in entries] == [path for path in expected if path]


def test_a_name_is_cut_as_cleaning_it_would() -> None:
    """The cut taken without cleaning (a name clean as it is) is the cleaned name's, for every prefix."""
    names = [
        *TRICKY_NAMES,
        *(
            "manifests",
            "manifests/",
            "manifests/a/",
            "manifests/a//",
            "manifests/.a",
            "manifests/a/.",
            "manifests/a/..",
            "manifests/..a",
            "manifests/a./b",
            "manifests/a.b/c",
            "/manifests/a",
            "//manifests/a",
            "manifests/a/./b",
            "manifests/a b",
            "manifests/\u00e9",
            ".",
        ),
    ]
    for prefix in ("", "manifests/", "manifests/a/", "usr/"):
        for name in names:
            cleaned = layerread.clean_name(name)
            expected = (
                cleaned if not prefix else cleaned[len(prefix) :] if cleaned.startswith(prefix) else None
            )
            assert layerread._strip_prefix(name, prefix) == expected, (prefix, name)


def test_the_budget_counts_every_entry_and_bounds_kept_files_only() -> None:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        tar.addfile(_info("usr/big", size=3000), io.BytesIO(b"b" * 3000))
        tar.addfile(_info("./manifests/x/../big.yaml", size=2000), io.BytesIO(b"m" * 2000))
    blob = out.getvalue()
    small_files = layerlimits.LayerLimits(max_file_bytes=1000)
    with pytest.raises(layerlimits.LayerLimitError) as caught:
        layerstack.extract_prefix([io.BytesIO(blob)], "manifests/", names=["L"], limits=small_files)
    assert str(caught.value) == (
        "layer L entry ./manifests/x/../big.yaml is 2000 bytes, more than the 1000 bytes a payload file may have"
    )
    assert layerstack.extract_prefix(
        [io.BytesIO(blob)], "usr/", limits=layerlimits.LayerLimits(max_file_bytes=3000)
    )
    with pytest.raises(layerlimits.LayerLimitError, match="^layer L has more than 1 entries$"):
        layerstack.extract_prefix(
            [io.BytesIO(blob)], "none/", names=["L"], limits=layerlimits.LayerLimits(max_entries=1)
        )


@pytest.mark.parametrize("kind", ["hand", "pax", "global-later"])
def test_tarfile_reads_everything_when_names_are_not_utf8(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """With a file-system encoding other than UTF-8 the walker leaves every header to tarfile."""
    monkeypatch.setattr(tarwalk, "_WALKS", False)
    monkeypatch.setattr(tarwalk, "parse_header", None)  # never called
    data = ARCHIVES[kind]()
    assert_same(data, ("all", "twice"))
    assert_same(data[:3000], ("all",))
    assert_same(bytes(512) + data, ("all",))
