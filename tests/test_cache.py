"""Tests for okdrelease.cache: checked reads, atomic writes, LRU eviction, concurrent processes, the CLI."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from okdrelease.cache import LAYER_INDEX, VERDICT, Cache, default_root
from okdrelease.cli import main as cli_main
from okdrelease.payload.check import ManifestChecker


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _flip_byte(path: Path, offset: int = -1) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def _only_file(root: Path) -> Path:
    (path,) = [p for p in root.rglob("*") if p.is_file()]
    return path


def test_blob_round_trip_and_flipped_byte_dropped(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    data = b'{"schemaVersion": 2}'
    cache.put_blob(_digest(data), data)
    assert cache.get_blob(_digest(data)) == data
    path = _only_file(tmp_path)
    assert path == tmp_path / "v1" / "blobs" / "sha256" / _digest(data).split(":")[1]
    _flip_byte(path, 3)
    assert cache.get_blob(_digest(data)) is None  # detected, never returned
    assert not path.exists()  # dropped
    assert (cache.stats.dropped, cache.stats.hits) == (1, 1)
    cache.put_blob(_digest(data), data)  # the caller refetched and stores it again
    assert cache.get_blob(_digest(data)) == data


def test_blob_not_matching_its_digest_is_not_stored(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    cache.put_blob(_digest(b"other"), b"content")
    cache.put_blob("sha256:xyz", b"content")
    assert not list(tmp_path.rglob("*.*")) and not [p for p in tmp_path.rglob("*") if p.is_file()]
    assert cache.get_blob("not-a-digest") is None


@pytest.mark.parametrize("offset", [0, 30, -1])
def test_record_damage_detected(tmp_path: Path, offset: int) -> None:
    cache = Cache(tmp_path)
    cache.put_record(LAYER_INDEX, "sha256:abc|manifests/", b"payload bytes")
    assert cache.get_record(LAYER_INDEX, "sha256:abc|manifests/") == b"payload bytes"
    assert cache.get_record(LAYER_INDEX, "sha256:abc|other/") is None
    _flip_byte(_only_file(tmp_path), offset)
    assert cache.get_record(LAYER_INDEX, "sha256:abc|manifests/") is None
    assert cache.stats.dropped == 1
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_torn_record_detected(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    cache.put_record(LAYER_INDEX, "k", b"x" * 1000)
    path = _only_file(tmp_path)
    path.write_bytes(path.read_bytes()[:500])
    assert cache.get_record(LAYER_INDEX, "k") is None


def test_verdicts_persist_across_checkers(tmp_path: Path) -> None:
    calls: list[bytes] = []

    def decide(data: bytes) -> str | None:
        calls.append(data)
        return None if data.startswith(b"kind") else "not a valid YAML/JSON object, got: []"

    for _ in range(2):
        checker = ManifestChecker(Cache(tmp_path), decide=decide)
        checker.check("op/a.yaml", "a.yaml", b"kind: A\napiVersion: v1\n")
        with pytest.raises(Exception, match=r"^op/b\.json: not a valid YAML/JSON object, got: \[\]$"):
            checker.check("op/b.json", "b.json", b"[]")
    assert calls == [b"kind: A\napiVersion: v1\n", b"[]"]  # the second checker read both from disk
    assert Cache(tmp_path).get_verdict(_digest(b"[]")) == (True, "not a valid YAML/JSON object, got: []")
    assert Cache(tmp_path).get_verdict(_digest(b"absent")) == (False, None)
    assert Cache(tmp_path).info().kinds[2].entries == 2
    assert VERDICT == Cache(tmp_path).info().kinds[2].kind


def test_lru_eviction(tmp_path: Path) -> None:
    cache = Cache(tmp_path, max_bytes=2500)
    blobs = [bytes([i]) * 1000 for i in range(3)]
    now = time.time()
    for i, blob in enumerate(blobs):
        cache.put_blob(_digest(blob), blob)
        path = tmp_path / "v1" / "blobs" / "sha256" / _digest(blob).split(":")[1]
        os.utime(path, (now - 100 + i, now - 100 + i))
    assert cache.get_blob(_digest(blobs[0])) == blobs[0]  # read: now the most recently used
    result = cache.prune()
    assert (result.removed, result.freed, result.left_entries, result.left_bytes) == (1, 1000, 2, 2000)
    assert cache.get_blob(_digest(blobs[1])) is None  # the least recently used went
    assert cache.get_blob(_digest(blobs[0])) == blobs[0]
    assert cache.get_blob(_digest(blobs[2])) == blobs[2]
    assert cache.prune(0).left_entries == 0


def test_trim_only_after_writes_and_stale_temporaries(tmp_path: Path) -> None:
    cache = Cache(tmp_path, max_bytes=0)
    stale = tmp_path / "v1" / "blobs" / "sha256" / ".tmp-killed"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"half")
    fresh = stale.with_name(".tmp-in-progress")
    fresh.write_bytes(b"half")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    cache.trim()  # nothing written by this run: no scan
    assert stale.exists()
    cache.put_blob(_digest(b"a"), b"a")
    assert cache.info().entries == 1  # temporaries are not entries
    cache.trim()
    assert cache.info().entries == 0
    assert not stale.exists() and fresh.exists()


def _hammer(root: str, seed: int, rounds: int) -> None:
    """Write and read the same keys as the other process; fail on any damaged read."""
    cache = Cache(root)
    for i in range(rounds):
        data = (b"%d-" % (i % 17)) * (1000 + 997 * (i % 17))
        digest = _digest(data)
        got = cache.get_blob(digest)
        if got is not None and got != data:
            raise AssertionError("wrong content")
        cache.put_blob(digest, data)
        index = (b"index-%d " % (i % 13)) * (500 + 331 * (i % 13))  # a key always names one content
        cache.put_record(LAYER_INDEX, f"key-{i % 13}", index)
        assert cache.get_record(LAYER_INDEX, f"key-{i % 13}") == index
    assert cache.stats.dropped == 0


def test_two_processes_share_a_cache(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_hammer, args=(str(tmp_path), seed, 300)) for seed in range(2)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
    assert [p.exitcode for p in procs] == [0, 0]
    cache = Cache(tmp_path)
    assert cache.info().kinds[0].entries == 17
    for path in (tmp_path / "v1" / "blobs" / "sha256").iterdir():
        assert not path.name.startswith(".")
        assert cache.get_blob("sha256:" + path.name) is not None
    assert cache.stats.dropped == 0


_KILLED_WRITER = """
import sys
from okdrelease.cache import Cache
cache = Cache(sys.argv[1])
print("ready", flush=True)
i = 0
while True:
    data = b"%d" % i * 200000
    cache.put_record("layer-index", "key-%d" % (i % 5), data)
    i += 1
"""


def test_killed_writer_leaves_no_torn_entry(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[1]), *sys.path])}
    child = subprocess.Popen(
        [sys.executable, "-c", _KILLED_WRITER, str(tmp_path)], stdout=subprocess.PIPE, env=env
    )
    assert child.stdout is not None and child.stdout.readline() == b"ready\n"
    time.sleep(0.5)
    child.send_signal(signal.SIGKILL)
    child.wait()
    cache = Cache(tmp_path)
    found = [cache.get_record(LAYER_INDEX, f"key-{k}") for k in range(5)]
    assert sum(r is not None for r in found) >= 1
    assert cache.stats.dropped == 0


def test_cli_info_and_prune(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cache = Cache(tmp_path)
    cache.put_blob(_digest(b"x" * 2048), b"x" * 2048)
    cache.put_verdict(_digest(b"y"), None)
    assert cli_main(["cache", "info", "--cache-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"cache: {tmp_path}"
    assert out[2:] == [
        "blobs: 1 entries, 0.0 MiB",
        "layer-index: 0 entries, 0.0 MiB",
        "verdict: 1 entries, 0.0 MiB",
        "total: 2 entries, 0.0 MiB",
    ]
    assert cli_main(["cache", "prune", "--cache-dir", str(tmp_path), "--max-size", "1K"]) == 0
    assert capsys.readouterr().out == "removed 1 entries (0.0 MiB); 1 entries (0.0 MiB) left\n"
    assert cli_main(["cache", "prune", "--cache-dir", str(tmp_path), "--all"]) == 0
    assert capsys.readouterr().out == "removed 1 entries (0.0 MiB); 0 entries (0.0 MiB) left\n"
    assert cli_main(["cache", "prune", "--cache-dir", str(tmp_path), "--max-size", "lots"]) == 2
    assert "invalid size 'lots'" in capsys.readouterr().err


def test_default_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("OKDRELEASE_CACHE_DIR", str(tmp_path / "explicit"))
    assert default_root() == tmp_path / "explicit"
    monkeypatch.delenv("OKDRELEASE_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_root() == tmp_path / "okdrelease"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_root() == tmp_path / ".cache" / "okdrelease"
