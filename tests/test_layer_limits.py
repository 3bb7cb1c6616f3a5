"""Decompression limits of the layer-stack reader: a 4 MiB gzip bomb is refused with memory flat (issue 11.3)."""

from __future__ import annotations

import io
import tarfile
import tracemalloc
import zlib
from pathlib import Path

import pytest
from test_release_extract import image_references, open_ref, payload_layer, write_image

from okdrelease.cli import main
from okdrelease.oci.layerlimits import DEFAULT_MAX_FILE_BYTES, LayerLimitError, LayerLimits, size_in_bytes
from okdrelease.oci.layerstack import StackOptions, read_stack
from okdrelease.oci.layerwrite import TarEntry, write_tar
from okdrelease.release.extract import extract_release

REFS = image_references("4.15.0", [("cli", "quay.io/okd/cli@sha256:" + "1" * 64, {})])
BOMB_FILE = 4 << 30


def gzip_bomb(name: str, size: int = BOMB_FILE) -> bytes:
    """A gzip stream of a tar holding one ``size``-byte file of zeros (~1 KiB per MiB; no trailer needed)."""
    header = tarfile.TarInfo(name)
    header.size = size
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    out = [
        compressor.compress(header.tobuf(format=tarfile.USTAR_FORMAT)),
        compressor.flush(zlib.Z_FULL_FLUSH),
    ]
    block = compressor.compress(bytes(1 << 20)) + compressor.flush(zlib.Z_FULL_FLUSH)
    out.append(block * (size >> 20))
    return b"".join(out)


@pytest.fixture(scope="module")
def bomb_release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A release whose top layer holds a 4 GiB ``release-manifests/big.yaml`` in 4 MiB of gzip."""
    root = tmp_path_factory.mktemp("bomb") / "layout"
    write_image(
        root,
        "r",
        [payload_layer({"image-references": REFS})],
        gzipped=[gzip_bomb("release-manifests/big.yaml")],
    )
    return root


def test_the_bomb_is_four_mib() -> None:
    assert 3 << 20 < len(gzip_bomb("x")) < 5 << 20


def test_a_payload_file_bomb_is_refused_at_its_header_with_flat_memory(
    bomb_release: Path, tmp_path: Path
) -> None:
    """The declared 4 GiB is beyond what a payload file may have: refused before inflating it, naming the layer."""
    repository, reference = open_ref(f"oci:{bomb_release}:r")
    tracemalloc.start()
    try:
        with pytest.raises(LayerLimitError) as caught:
            extract_release(repository, reference, str(tmp_path / "out"))
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 << 20
    message = str(caught.value)
    assert message.startswith("layer sha256:") and f"of oci:{bomb_release}" in message
    assert message.endswith(
        f"entry release-manifests/big.yaml is {BOMB_FILE} bytes, more than the {DEFAULT_MAX_FILE_BYTES} bytes "
        "a payload file may have"
    )
    assert not (tmp_path / "out").exists()


def test_decompressed_bytes_are_bounded_with_flat_memory() -> None:
    """A bomb outside the payload is streamed past, until the layer's decompressed limit stops it."""
    bomb = gzip_bomb("usr/lib/big.bin")
    tracemalloc.start()
    try:
        with pytest.raises(LayerLimitError) as caught:
            read_stack(
                [io.BytesIO(bomb)],
                "release-manifests/",
                names=["sha256:bomb of oci:/tmp/x"],
                options=StackOptions(limits=LayerLimits(max_bytes=64 << 20)),
            )
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20
    assert str(caught.value) == (
        f"layer sha256:bomb of oci:/tmp/x decompresses to more than {64 << 20} bytes "
        "(raise the limit with --max-layer-bytes)"
    )


def test_entry_count_is_bounded() -> None:
    out = io.BytesIO()
    write_tar([TarEntry(f"release-manifests/{i}.yaml", b"x") for i in range(20)], out)
    with pytest.raises(LayerLimitError, match=r"^layer L has more than 10 entries$"):
        read_stack(
            [io.BytesIO(out.getvalue())],
            "release-manifests/",
            names=["L"],
            options=StackOptions(limits=LayerLimits(max_entries=10)),
        )


def test_max_layer_bytes_flag(bomb_release: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """info and extract take --max-layer-bytes; a layer beyond it is one error line naming it."""
    small = tmp_path / "small"
    write_image(
        small,
        "r",
        [
            payload_layer(
                {
                    "image-references": REFS,
                    "a.yaml": b"kind: A\napiVersion: v1\nmetadata:\n  name: a\n" + b"# padding\n" * 200,
                }
            )
        ],
    )
    assert main(["extract", "--max-layer-bytes", "1K", "--to", str(tmp_path / "out"), f"oci:{small}:r"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: layer sha256:") and err.endswith(
        "decompresses to more than 1024 bytes (raise the limit with --max-layer-bytes)\n"
    )
    assert err.count("\n") == 1
    assert main(["info", "--max-layer-bytes", "1K", f"oci:{small}:r"]) == 1
    assert "decompresses to more than 1024 bytes" in capsys.readouterr().err
    assert main(["extract", "--max-layer-bytes", "64M", "--to", str(tmp_path / "out"), f"oci:{small}:r"]) == 0
    assert (tmp_path / "out" / "a.yaml").is_file()


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("4096", 4096),
        ("512M", 512 << 20),
        ("8G", 8 << 30),
        ("2GiB", 2 << 30),
        # a fraction, as cache prune --max-size takes it (one parser for both flags); a part byte is dropped
        ("1.5G", 3 << 29),
        ("1.3k", 1331),
        ("0.5 KB", 512),
    ],
)
def test_size_in_bytes(text: str, value: int) -> None:
    assert size_in_bytes(text) == value


@pytest.mark.parametrize("text", ["", "0", "0.0001", "-1", "12X", "1.G", "5iB", "9" * 21 + "T"])
def test_size_in_bytes_refuses(text: str) -> None:
    with pytest.raises(ValueError) as err:
        size_in_bytes(text)
    assert str(err.value) == (
        f"invalid size {text!r}: use a positive number of bytes, optionally with K, M, G or T (1.5G)"
    )


def test_size_flags_share_one_syntax(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--max-layer-bytes and cache prune --max-size take the same sizes and refuse them in the same words
    (neither is an oc flag); --max-size may be 0."""
    assert main(["info", "--max-layer-bytes", "1.5x", f"oci:{tmp_path}:r"]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        "error: argument --max-layer-bytes: invalid size '1.5x': use a positive number of bytes,"
        " optionally with K, M, G or T (1.5G)"
    )
    assert main(["cache", "prune", "--cache-dir", str(tmp_path), "--max-size", "1.5x"]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        "error: --max-size: invalid size '1.5x': use a number of bytes, optionally with K, M, G or T (1.5G)"
    )
    assert main(["cache", "prune", "--cache-dir", str(tmp_path), "--max-size", "0"]) == 0
    assert capsys.readouterr().out == "removed 0 entries (0.0 MiB); 0 entries (0.0 MiB) left\n"
