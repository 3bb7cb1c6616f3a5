"""The library's ``logging`` warnings as the command line shows them: in the CLI's own words
(``warning: …``, as oc and the CLI's progress lines put it), without the logger's name."""

from __future__ import annotations

from pathlib import Path

import pytest

from okdrelease.cache import pack
from okdrelease.cli import main as cli_main

SAMPLE = Path(__file__).resolve().parents[1] / "testdata" / "sample-payload"


def _new(cache: Path, out: Path, *extra: str) -> list[str]:
    return [
        "new",
        "--from-oci-layout",
        str(SAMPLE),
        "--to-image",
        f"oci:{out}:x",
        "--name",
        "4.1.0",
        "--created",
        "2024-05-01T00:00:00Z",
        "--cache-dir",
        str(cache),
        *extra,
    ]


def test_a_damaged_cache_entry_is_a_warning_line_in_the_clis_words(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: ``WARNING: okdrelease.cache.store: cache: dropped …`` (the logger's level and name)."""
    cache = tmp_path / "cache"
    assert cli_main(_new(cache, tmp_path / "first")) == 0
    first = capsys.readouterr()
    assert "warning" not in first.err.lower()
    (packed,) = (cache / "v2" / "packs").glob("*.pack")
    row = pack.read_rows(str(packed))[0]
    data = bytearray(packed.read_bytes())
    data[row.offset + row.length // 2] ^= 0x01
    packed.write_bytes(bytes(data))
    assert cli_main(_new(cache, tmp_path / "second")) == 0
    second = capsys.readouterr()
    assert second.out.split()[0] == first.out.split()[0]  # the same release, the entry computed again
    warnings = [line for line in second.err.splitlines() if not line.startswith("info: ")]
    assert warnings == [
        f"warning: cache: dropped {row.kind} {pack.short_key(row.key)} in {packed}: content does not match"
        " its checksum",
        f"warning: cache: left 1 damaged entry of {packed} out of its rewrite",
    ]


def test_quiet_silences_library_warnings_and_keeps_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``-q`` is nothing but errors: the cache's warning about a damaged entry is not shown (before:
    ``warning: cache: dropped …`` printed with ``-q`` too), and an error still is."""
    cache = tmp_path / "cache"
    assert cli_main(_new(cache, tmp_path / "first", "-q")) == 0
    first = capsys.readouterr()
    assert first.err == ""
    (packed,) = (cache / "v2" / "packs").glob("*.pack")
    row = pack.read_rows(str(packed))[0]
    data = bytearray(packed.read_bytes())
    data[row.offset + row.length // 2] ^= 0x01
    packed.write_bytes(bytes(data))
    assert cli_main(_new(cache, tmp_path / "second", "-q")) == 0
    second = capsys.readouterr()
    assert second.out == first.out
    assert second.err == ""
    missing = tmp_path / "missing"
    assert (
        cli_main(["new", "-q", "--from-oci-layout", str(missing), "--to-image", f"oci:{tmp_path}/x:x"]) == 1
    )
    assert capsys.readouterr().err == f"error: {missing} is not an OCI image layout: no such directory\n"


def test_an_os_error_of_the_cache_is_worded_as_the_cli_words_os_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``v2/packs`` is a file: the run goes on without the cache, warned in the words the CLI gives OS
    errors elsewhere (before: Python's ``[Errno 20] Not a directory: '…/packs/.tmp-….pack'``)."""
    cache = tmp_path / "cache"
    (cache / "v2").mkdir(parents=True)
    (cache / "v2" / "packs").write_bytes(b"not a directory")
    assert cli_main(_new(cache, tmp_path / "out")) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if not line.startswith("info: ")]
    packs = cache / "v2" / "packs"
    assert warnings == [
        f"warning: cache: cannot list {packs}: not a directory",
        f"warning: cache: cannot write a pack in {packs}: not a directory",
    ]
