"""The golden cases with the persistent cache warm (filled by an earlier run of the same case) and disabled.

The cold cache is what ``tests/test_golden_new.py`` runs (each test gets an empty cache directory).
Here each image and error case runs again: once after a first run filled the cache (the second run
must still match oc byte for byte, the manifest-check verdicts and layer indexes coming from disk),
and once with ``--no-cache``. A flipped byte in the pack a first run wrote is refetched; a final test
runs a case twice at once on one cache directory.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import test_golden_new as golden

from okdrelease.cache import LAYER_INDEX, RESOLUTION, VERDICT, Cache, pack
from okdrelease.cli import main as cli_main

ROOT = Path(__file__).resolve().parents[1]
#: The subcommands that read through the persistent cache (``--cache-dir``, ``--no-cache``).
CACHED_COMMANDS = ("new", "info", "extract", "diff")


def _with_flags(monkeypatch: pytest.MonkeyPatch, *flags: str) -> None:
    """Make the golden helpers run ``okdrelease new|info|extract … FLAGS`` (the commands with cache flags)."""
    monkeypatch.setattr(
        golden, "main", lambda argv: cli_main([*argv, *flags] if argv[0] in CACHED_COMMANDS else argv)
    )


@pytest.mark.parametrize("mode", ["warm", "no-cache"])
@pytest.mark.parametrize("name", golden.IMAGE_CASES)
def test_image_case(
    name: str, mode: str, golden_registry, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    cache_dir = tmp_path / "cache"
    if mode == "no-cache":
        monkeypatch.setenv("OKDRELEASE_CACHE_DIR", str(cache_dir))
        _with_flags(monkeypatch, "--no-cache")
        golden.test_image_case(name, golden_registry, tmp_path, capsys)
        assert not cache_dir.exists()  # nothing read or written
        return
    _with_flags(monkeypatch, "--cache-dir", str(cache_dir))
    golden.test_image_case(name, golden_registry, tmp_path / "first", capsys)
    filled = Cache(cache_dir).info()
    assert filled.kinds[0].entries > 0  # manifests and configs stored by the first run
    packs = sorted(p.name for p in cache_dir.rglob("*") if p.is_file())
    golden.test_image_case(name, golden_registry, tmp_path / "warm", capsys)
    assert Cache(cache_dir).info().entries == filled.entries  # nothing new: everything came from the cache
    assert sorted(p.name for p in cache_dir.rglob("*") if p.is_file()) == packs  # and nothing written


@pytest.mark.parametrize("name", golden.ERROR_CASES)
def test_error_case_warm_and_no_cache(
    name: str,
    golden_registry,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch,
) -> None:
    _with_flags(monkeypatch, "--cache-dir", str(tmp_path / "cache"))
    golden.test_error_case(name, golden_registry, tmp_path / "first", capsys)
    golden.test_error_case(name, golden_registry, tmp_path / "warm", capsys)
    _with_flags(monkeypatch, "--no-cache")
    golden.test_error_case(name, golden_registry, tmp_path / "none", capsys)


def test_two_concurrent_processes_share_a_cache(golden_registry, tmp_path: Path) -> None:
    """Two okdrelease processes at once on one cold cache directory both succeed with identical digests."""
    case = golden.CASES["01-realistic"]
    info, _client, ensure_inputs = golden_registry
    ensure_inputs(case)
    cache_dir = tmp_path / "cache"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *sys.path])}
    children = []
    for i in range(2):
        argv = golden.prepare(case, info.host, tmp_path / f"run-{i}")
        argv = [a.replace("golden/release", f"golden/concurrent-{i}") for a in argv]
        command = [sys.executable, "-m", "okdrelease", *argv, "--cache-dir", str(cache_dir)]
        children.append(subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env))
    outputs = [child.communicate(timeout=300) for child in children]
    assert [child.returncode for child in children] == [0, 0], outputs
    digests = [out.split()[0] for out, _ in outputs]
    assert digests[0] == digests[1] and digests[0].startswith(b"sha256:")
    cache = Cache(cache_dir)
    assert cache.info().kinds[0].entries > 0
    for path in cache_dir.rglob("*"):
        assert not path.name.startswith(".tmp-")


def test_flipped_bytes_in_a_pack_are_refetched(
    golden_registry, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    """A byte flipped in the recorded resolution, a layer index and a verdict set of the first run's
    pack: the next run still matches oc byte for byte, drops the three entries (the record first: the
    components are then read one by one), writes them again into its own pack (and only them) and
    rewrites the first pack without them."""
    cache_dir = tmp_path / "cache"
    _with_flags(monkeypatch, "--cache-dir", str(cache_dir))
    golden.test_image_case("01-realistic", golden_registry, tmp_path / "first", capsys)
    packs_dir = cache_dir / "v2" / "packs"
    before = {path: {(r.kind, r.key) for r in pack.read_rows(str(path))} for path in packs_dir.glob("*.pack")}
    first = next(path for path, keys in before.items() if any(kind == LAYER_INDEX for kind, _ in keys))
    rows = pack.read_rows(str(first))
    damaged = [next(r for r in rows if r.kind == kind) for kind in (RESOLUTION, LAYER_INDEX, VERDICT)]
    data = bytearray(first.read_bytes())
    for row in damaged:
        data[row.offset + row.length // 2] ^= 0x01
    first.write_bytes(bytes(data))
    warnings: list[str] = []
    split = golden.split_stderr

    def without_cache_warnings(text: str) -> tuple[list[str], set[str]]:
        lines, loading = split(text)
        warnings.extend(line for line in lines if line.startswith("warning: cache: "))
        return [line for line in lines if not line.startswith("warning: cache: ")], loading

    monkeypatch.setattr(golden, "split_stderr", without_cache_warnings)
    golden.test_image_case("01-realistic", golden_registry, tmp_path / "damaged", capsys)
    dropped = [
        f"dropped {r.kind} {pack.short_key(r.key)} in {first}: content does not match its checksum"
        for r in damaged
    ]
    assert sorted(w.removeprefix("warning: ") for w in warnings) == sorted(
        [
            *(f"cache: {line}" for line in dropped),
            f"cache: left 3 damaged entries of {first} out of its rewrite",
        ]
    )
    after = {path: {(r.kind, r.key) for r in pack.read_rows(str(path))} for path in packs_dir.glob("*.pack")}
    assert not first.exists()
    (repaired,) = [path for path in after if path.name.split("-")[0] == first.name.split("-")[0]]
    assert after[repaired] == before[first] - {(r.kind, r.key) for r in damaged}
    written = set().union(*(keys for path, keys in after.items() if path not in before and path != repaired))
    assert written == {(r.kind, r.key) for r in damaged}
