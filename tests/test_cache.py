"""Tests for okdrelease.cache: packs checked when read, atomic writes, LRU eviction, merging, concurrent
processes, the CLI."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from bounded_run import run_bounded

from okdrelease.cache import LAYER_INDEX, RESOLUTION, VERDICT, Cache, default_root, pack, store
from okdrelease.cli import main as cli_main
from okdrelease.oci.layerlimits import size_in_bytes
from okdrelease.payload.check import ManifestChecker


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _packs(root: Path) -> list[Path]:
    """The finished packs (pathlib's glob also matches the temporary files, ``.tmp-NAME.pack``)."""
    return sorted(p for p in (root / "v2" / "packs").glob("*.pack") if not p.name.startswith("."))


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def _offset_of(path: Path, kind: str, key: str) -> int:
    """Where the payload of entry ``kind``/``key`` starts in the pack at ``path``."""
    (row,) = [r for r in pack.read_rows(str(path)) if (r.kind, r.key) == (kind, key)]
    return row.offset


def _run(root: Path, *blobs: bytes, **options: int) -> None:
    """One run that stores ``blobs``: one pack."""
    with Cache(root, **options) as cache:
        for blob in blobs:
            cache.put_blob(_digest(blob), blob)


def test_one_pack_per_run_and_a_flipped_byte_is_dropped_and_refetched(tmp_path: Path) -> None:
    manifest, config = b'{"schemaVersion": 2}', b'{"config": {}}'
    with Cache(tmp_path) as cache:
        cache.put_blob(_digest(manifest), manifest)
        cache.put_blob(_digest(config), config)
        cache.put_record(LAYER_INDEX, "sha256:abc|manifests/", b"index")
        assert cache.get_blob(_digest(manifest)) == manifest  # this run's entries, not yet in a pack
        assert _files(tmp_path) == []
    (path,) = _packs(tmp_path)
    assert _files(tmp_path) == [path]
    assert cache.stats.writes == 3
    _flip(path, _offset_of(path, "blobs", _digest(manifest)) + 3)
    with Cache(tmp_path) as cache:
        assert cache.get_blob(_digest(manifest)) is None  # detected, never returned
        assert cache.get_blob(_digest(config)) == config  # the rest of the pack is sound
        assert cache.get_record(LAYER_INDEX, "sha256:abc|manifests/") == b"index"
        assert (cache.stats.dropped, cache.stats.misses, cache.stats.hits) == (1, 1, 2)
        assert cache.get_blob(_digest(manifest)) is None  # forgotten: a miss, not read again
        assert cache.stats.dropped == 1
        cache.put_blob(_digest(manifest), manifest)  # the caller refetched it
    packs = _packs(tmp_path)
    assert len(packs) == 2 and path not in packs  # the damaged pack rewritten without the entry
    assert [(r.kind, r.key) for r in pack.read_rows(str(packs[0]))] == [
        (LAYER_INDEX, "sha256:abc|manifests/"),  # smallest first
        ("blobs", _digest(config)),
    ]
    assert [(r.kind, r.key) for r in pack.read_rows(str(packs[1]))] == [("blobs", _digest(manifest))]
    with Cache(tmp_path) as cache:
        assert cache.get_blob(_digest(manifest)) == manifest
        assert cache.stats.dropped == 0


def test_blob_not_matching_its_digest_is_not_stored(tmp_path: Path) -> None:
    with Cache(tmp_path) as cache:
        cache.put_blob(_digest(b"other"), b"content")
        cache.put_blob("sha256:xyz", b"content")
        assert cache.get_blob("not-a-digest") is None
    assert _files(tmp_path) == []


def test_damaged_header_trailer_or_index_drops_the_pack(tmp_path: Path) -> None:
    for offset in (0, -1, -30, -130):  # the head's magic, the trailer's newline and checksum, the index
        _run(tmp_path, b"a" * 100)
        (path,) = _packs(tmp_path)
        _flip(path, offset)
        cache = Cache(tmp_path)
        assert cache.get_blob(_digest(b"a" * 100)) is None
        assert (cache.stats.dropped, cache.stats.misses) == (1, 1)
        assert not path.exists()


def test_an_index_or_verdict_nested_too_deep_is_damage_not_a_crash(tmp_path: Path) -> None:
    """A pack whose index (checksummed as written) nests deeper than the JSON parser goes is dropped like
    any damaged pack, and such a verdict record is a miss: no RecursionError ('internal error') in every
    run that opens the cache."""
    packs_dir = tmp_path / "v2" / "packs"
    packs_dir.mkdir(parents=True)
    index = b"[" * 100000 + b"]" * 100000
    trailer = pack._trailer(len(pack._HEAD), len(index), hashlib.sha256(index).hexdigest())
    deep = packs_dir / pack.new_name()
    deep.write_bytes(pack._HEAD + index + trailer)
    assert Cache(tmp_path).info().packs == 1  # info warns, removes nothing
    cache = Cache(tmp_path)
    assert cache.get_blob(_digest(b"a")) is None
    assert cache.stats.dropped == 1 and not deep.exists()
    with cache:
        cache.put_record(VERDICT, _digest(b"a"), b"[" * 100000)
    assert Cache(tmp_path).get_verdict(_digest(b"a")) == (False, None)


def test_torn_pack_under_its_final_name_is_detected(tmp_path: Path) -> None:
    """A pack cut short (what a torn write would leave, were it not renamed only once whole) is dropped."""
    _run(tmp_path, b"a" * 1000, b"b" * 1000)
    (path,) = _packs(tmp_path)
    path.write_bytes(path.read_bytes()[:-500])
    with Cache(tmp_path) as cache:
        assert cache.get_blob(_digest(b"a" * 1000)) is None
        assert cache.get_blob(_digest(b"b" * 1000)) is None
        assert cache.stats.dropped == 1
        cache.put_blob(_digest(b"a" * 1000), b"a" * 1000)
    (fresh,) = _packs(tmp_path)
    assert fresh != path and Cache(tmp_path).get_blob(_digest(b"a" * 1000)) == b"a" * 1000


def test_leftover_temporary_file_is_no_entry_and_removed_when_stale(tmp_path: Path) -> None:
    """A killed writer leaves at most a temporary file: never read, not counted, removed after an hour."""
    _run(tmp_path, b"a")
    packs_dir = tmp_path / "v2" / "packs"
    (complete,) = _packs(tmp_path)
    stale = packs_dir / f".tmp-{complete.name}"
    stale.write_bytes(complete.read_bytes()[:40])
    fresh = packs_dir / ".tmp-in-progress.pack"
    fresh.write_bytes(b"half")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    cache = Cache(tmp_path)
    assert cache.get_blob(_digest(b"a")) == b"a"
    assert cache.stats.dropped == 0
    info = cache.info()
    assert (info.entries, info.packs, info.disk_bytes) == (1, 1, complete.stat().st_size)
    cache.close()
    cache.trim()  # nothing written: nothing looked at
    assert stale.exists()
    _run(tmp_path, b"b")
    Cache(tmp_path).prune()
    assert not stale.exists() and fresh.exists()


def test_verdicts_persist_across_checkers(tmp_path: Path) -> None:
    calls: list[bytes] = []

    def decide(data: bytes) -> str | None:
        calls.append(data)
        return None if data.startswith(b"kind") else "not a valid YAML/JSON object, got: []"

    for _ in range(2):
        with Cache(tmp_path) as cache:
            checker = ManifestChecker(cache, decide=decide)
            checker.check("op/a.yaml", "a.yaml", b"kind: A\napiVersion: v1\n")
            with pytest.raises(Exception, match=r"^op/b\.json: not a valid YAML/JSON object, got: \[\]$"):
                checker.check("op/b.json", "b.json", b"[]")
    assert calls == [b"kind: A\napiVersion: v1\n", b"[]"]  # the second checker read both from disk
    assert len(_packs(tmp_path)) == 1  # the second run wrote nothing
    assert Cache(tmp_path).get_verdict("rules-17:" + _digest(b"[]")) == (
        True,
        "not a valid YAML/JSON object, got: []",
    )
    assert Cache(tmp_path).get_verdict(_digest(b"[]")) == (False, None)  # not under the earlier rules' key
    assert Cache(tmp_path).get_verdict("rules-17:" + _digest(b"absent")) == (False, None)
    info = Cache(tmp_path).info()
    assert (info.kinds[2].kind, info.kinds[2].entries) == (VERDICT, 2)


def test_verdict_sets_keep_the_protocol(tmp_path: Path) -> None:
    verdicts = {_digest(b"x"): None, _digest(b"y"): "bad"}
    with Cache(tmp_path) as cache:
        cache.put_verdicts(verdicts)
    cache = Cache(tmp_path)
    assert cache.get_verdicts(sorted(verdicts, reverse=True)) == verdicts
    assert cache.get_verdicts([_digest(b"x")]) is None  # only the exact set
    assert cache.get_verdict(_digest(b"y")) == (False, None)


def test_lru_eviction_by_pack(tmp_path: Path) -> None:
    blobs = [bytes([i]) * 1000 for i in range(3)]
    now = time.time()
    for i, blob in enumerate(blobs):
        _run(tmp_path, blob)
        newest = _packs(tmp_path)[-1]
        os.utime(newest, (now - 100 + i, now - 100 + i))
    size = _packs(tmp_path)[0].stat().st_size
    cache = Cache(tmp_path, max_bytes=2 * size + 10)
    assert cache.get_blob(_digest(blobs[0])) == blobs[0]  # read: its pack is now the most recently used
    assert cache.get_blob(_digest(blobs[0])) == blobs[0]
    cache.close()
    result = cache.prune()
    assert (result.removed, result.freed, result.left_entries, result.left_bytes) == (1, size, 2, 2 * size)
    assert Cache(tmp_path).get_blob(_digest(blobs[1])) is None  # the least recently used went
    assert Cache(tmp_path).get_blob(_digest(blobs[0])) == blobs[0]
    assert Cache(tmp_path).get_blob(_digest(blobs[2])) == blobs[2]
    assert Cache(tmp_path).prune(0).left_entries == 0
    assert _files(tmp_path) == []


def test_a_time_in_the_future_is_no_recent_use(tmp_path: Path) -> None:
    """A pack whose mtime is hours ahead of the clock (the clock was set back, a copy kept its times) was
    not read since: a read sets it to now. It goes first, not last (it would outlive every pack in use);
    a temporary file so stamped is stale too (it would stay, uncounted, until the clock caught up)."""
    blobs = [bytes([i]) * 1000 for i in range(2)]
    now = time.time()
    for i, blob in enumerate(blobs):
        _run(tmp_path, blob)
        os.utime(_packs(tmp_path)[-1], (now + (10 * 86400 if i == 0 else -100),) * 2)
    future_tmp = tmp_path / "v2" / "packs" / f".tmp-{_packs(tmp_path)[0].name}"
    future_tmp.write_bytes(b"killed writer" * 1000)
    os.utime(future_tmp, (now + 10 * 86400, now + 10 * 86400))
    size = _packs(tmp_path)[0].stat().st_size
    result = Cache(tmp_path).prune(size)
    assert (result.left_entries, result.left_bytes) == (1, size)
    cache = Cache(tmp_path)
    assert (cache.get_blob(_digest(blobs[0])), cache.get_blob(_digest(blobs[1]))) == (None, blobs[1])
    assert not future_tmp.exists()


def test_trim_after_a_run_that_wrote(tmp_path: Path) -> None:
    _run(tmp_path, b"a" * 100)
    cache = Cache(tmp_path, max_bytes=0)
    assert cache.get_blob(_digest(b"a" * 100)) == b"a" * 100
    cache.close()
    cache.trim()  # wrote nothing: the cache is left as it is
    assert len(_packs(tmp_path)) == 1
    with cache:
        cache.put_blob(_digest(b"b"), b"b")
    cache.trim()
    assert _packs(tmp_path) == []


def test_a_warm_run_writes_nothing_and_lists_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blobs = [b"%d" % i * 100 for i in range(20)]
    _run(tmp_path, *blobs)
    before = {p: p.stat().st_mtime_ns for p in _files(tmp_path)}
    scans: list[str] = []
    real_scan = pack.scan
    monkeypatch.setattr(pack, "scan", lambda d: scans.append(d) or real_scan(d))
    with Cache(tmp_path) as cache:
        for blob in blobs:
            assert cache.get_blob(_digest(blob)) == blob
            cache.put_blob(_digest(blob), blob)  # already held: not stored again
    cache.trim()
    assert (cache.stats.writes, cache.stats.hits, len(scans)) == (0, 20, 1)
    assert list(before) == _files(tmp_path)


def test_a_run_appends_to_its_pack_as_the_buffer_fills(tmp_path: Path) -> None:
    """Memory stays bounded: every ``flush_bytes`` the buffer goes to the run's pack (a temporary file
    until the run closes), whose entries are read back from there; a run still makes one pack."""
    blobs = [bytes([i]) * 1000 for i in range(10)]
    packs_dir = tmp_path / "v2" / "packs"
    with Cache(tmp_path, flush_bytes=2500) as cache:
        for blob in blobs:
            cache.put_blob(_digest(blob), blob)
        (spool,) = packs_dir.iterdir()
        assert spool.name.startswith(".tmp-") and spool.stat().st_size == len(b"okdrelease-pack-v2\n") + 9000
        assert [cache.get_blob(_digest(b)) for b in blobs] == blobs
    assert [len(pack.read_rows(str(p))) for p in _packs(tmp_path)] == [10]
    assert _files(tmp_path) == _packs(tmp_path)
    assert cache.stats.writes == 10


def test_a_pack_passing_pack_bytes_is_finished(tmp_path: Path) -> None:
    blobs = [bytes([i]) * 1000 for i in range(10)]
    with Cache(tmp_path, flush_bytes=2500, pack_bytes=5000) as cache:
        for blob in blobs:
            cache.put_blob(_digest(blob), blob)
        assert len(_packs(tmp_path)) == 1  # 6 entries past 5000 bytes; 3 more appended to the next
        assert [cache.get_blob(_digest(b)) for b in blobs] == blobs
    assert [len(pack.read_rows(str(p))) for p in _packs(tmp_path)] == [6, 4]
    assert Cache(tmp_path).info().entries == 10


def test_too_many_packs_are_merged(tmp_path: Path) -> None:
    blobs = [bytes([i]) * (100 * (i + 1)) for i in range(5)]
    now = time.time()
    for i, blob in enumerate(blobs[:4]):
        _run(tmp_path, blob, max_packs=4)
        os.utime(_packs(tmp_path)[-1], (now - 100 + i, now - 100 + i))
    assert len(_packs(tmp_path)) == 4  # not more than max_packs: nothing merged
    fourth = _packs(tmp_path)[-1]
    _run(tmp_path, blobs[4], max_packs=4)
    # five packs: the four smallest merged into one, named with its newest source's time: two left
    merged, last = _packs(tmp_path)
    assert merged.name.split("-")[0] == fourth.name.split("-")[0] and not fourth.exists()
    assert [r.key for r in pack.read_rows(str(last))] == [_digest(blobs[4])]
    assert {r.key for r in pack.read_rows(str(merged))} == {_digest(b) for b in blobs[:4]}
    assert merged.stat().st_mtime == pytest.approx(now - 100 + 3)  # its newest source's
    cache = Cache(tmp_path)
    assert [cache.get_blob(_digest(b)) for b in blobs] == blobs
    assert cache.stats.dropped == 0


def test_merge_leaves_damaged_entries_out(tmp_path: Path) -> None:
    _run(tmp_path, b"a" * 100, b"b" * 100)
    _flip(_packs(tmp_path)[0], _offset_of(_packs(tmp_path)[0], "blobs", _digest(b"a" * 100)))
    _run(tmp_path, b"c" * 100, max_packs=1)
    (merged,) = _packs(tmp_path)
    assert sorted(r.key for r in pack.read_rows(str(merged))) == sorted(
        [_digest(b"b" * 100), _digest(b"c" * 100)]
    )


def test_no_merge_while_another_run_merges(tmp_path: Path) -> None:
    for blob in (b"a", b"b"):
        _run(tmp_path, blob)
    with pack.exclusive(str(tmp_path / "v2" / "merge.lock")) as held:
        assert held
        _run(tmp_path, b"c", max_packs=1)
        assert len(_packs(tmp_path)) == 3
    _run(tmp_path, b"d", max_packs=1)
    assert len(_packs(tmp_path)) == 1


def test_a_reader_survives_a_concurrent_merge(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A reader holding packs open reads them after a merge unlinked them; one that listed the packs
    just before a merge finds them gone and lists again: it sees the merged pack. No entry is lost."""
    blobs = [bytes([i]) * 100 for i in range(4)]
    for blob in blobs[:3]:
        _run(tmp_path, blob)
    holding = Cache(tmp_path)
    assert holding.get_blob(_digest(blobs[0])) == blobs[0]  # every pack's index read, the files open
    real_scan = pack.scan
    merged_meanwhile: list[int] = []

    def scan_then_merge(directory: str) -> tuple[list[pack.PackFile], list[pack.PackFile]]:
        listed = real_scan(directory)
        if not merged_meanwhile:
            merged_meanwhile.append(1)
            _run(tmp_path, blobs[3], max_packs=1)  # another run merges every pack into one
        return listed

    monkeypatch.setattr(pack, "scan", scan_then_merge)
    listing = Cache(tmp_path)
    assert [listing.get_blob(_digest(b)) for b in blobs] == blobs
    monkeypatch.setattr(pack, "scan", real_scan)
    assert len(_packs(tmp_path)) == 1
    assert [holding.get_blob(_digest(b)) for b in blobs[:3]] == blobs[:3]
    assert holding.stats.dropped == listing.stats.dropped == 0


def test_threads_share_one_cache(tmp_path: Path) -> None:
    """Many threads read and write at once while full buffers are written: every read is whole."""
    blobs = [(b"%d-" % i) * (200 + 37 * i) for i in range(40)]
    errors: list[BaseException] = []
    with Cache(tmp_path, flush_bytes=8000) as cache:

        def work(seed: int) -> None:
            try:
                for i in range(200):
                    blob = blobs[(i * (seed + 1)) % len(blobs)]
                    got = cache.get_blob(_digest(blob))
                    assert got is None or got == blob
                    cache.put_blob(_digest(blob), blob)
                    assert cache.get_blob(_digest(blob)) == blob
            except BaseException as err:
                errors.append(err)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == [] and cache.stats.dropped == 0
    assert Cache(tmp_path).info().entries == 40


def _hammer(root: str, seed: int, rounds: int) -> None:
    """Runs (one Cache each) writing and reading the same entries as the other process, merging often."""
    for run in range(rounds):
        with Cache(root, max_packs=3) as cache:
            for i in range(run, run + 5):
                data = (b"%d-" % (i % 17)) * (1000 + 997 * (i % 17))
                got = cache.get_blob(_digest(data))
                if got is not None and got != data:
                    raise AssertionError("wrong content")
                cache.put_blob(_digest(data), data)
                index = (b"index-%d " % (i % 13)) * (500 + 331 * (i % 13))  # a key always names one content
                if cache.get_record(LAYER_INDEX, f"key-{i % 13}") not in (None, index):
                    raise AssertionError("wrong record")
                cache.put_record(LAYER_INDEX, f"key-{i % 13}", index)
        assert cache.stats.dropped == 0


def test_two_processes_share_a_cache(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_hammer, args=(str(tmp_path), seed, 40)) for seed in range(2)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(120)
    assert [p.exitcode for p in procs] == [0, 0]
    cache = Cache(tmp_path)
    info = cache.info()
    assert [(k.kind, k.entries) for k in info.kinds] == [
        ("blobs", 17),
        (LAYER_INDEX, 13),
        (VERDICT, 0),
        (RESOLUTION, 0),
    ]
    assert info.packs <= 3 + 2  # merged as they went (each process may add one after the other merged)
    for i in range(17):
        data = (b"%d-" % i) * (1000 + 997 * i)
        assert cache.get_blob(_digest(data)) == data
    assert cache.stats.dropped == 0
    assert not list((tmp_path / "v2" / "packs").glob(".tmp-*"))


_KILLED_WRITER = """
import sys
from okdrelease.cache import Cache
print("ready", flush=True)
i = 0
while True:
    with Cache(sys.argv[1], max_packs=4) as cache:
        for k in range(5):
            cache.put_record("layer-index", "key-%d" % k, b"%d" % i * 200000)
    i += 1
"""


def test_killed_writer_leaves_no_torn_pack(tmp_path: Path) -> None:
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
    assert all(r is not None and len(r) >= 200000 for r in found)
    assert cache.stats.dropped == 0
    assert all(pack.read_rows(str(p)) for p in _packs(tmp_path))  # whole; a temporary file may be left


def test_cli_info_and_prune(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _run(tmp_path, b"x" * 2048)
    with Cache(tmp_path) as cache:
        cache.put_verdict(_digest(b"y"), None)
    sizes = [p.stat().st_size for p in _packs(tmp_path)]
    legacy = tmp_path / "v1" / "blobs" / "sha256" / ("0" * 64)
    legacy.parent.mkdir(parents=True)
    legacy.write_bytes(b"z" * 1000)
    assert cli_main(["cache", "info", "--cache-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"cache: {tmp_path}"
    assert out[2:] == [
        "blobs: 1 entries, 0.0 MiB",
        "layer-index: 0 entries, 0.0 MiB",
        "verdict: 1 entries, 0.0 MiB",
        "resolution: 0 entries, 0.0 MiB",
        "total: 2 entries, 0.0 MiB",
        f"packs: 2, {sum(sizes) / (1 << 20):.1f} MiB on disk",
        "an earlier version's v1/ directory is left: 'okdrelease cache prune' removes it",
    ]
    os.utime(
        _packs(tmp_path)[0], (time.time() - 60, time.time() - 60)
    )  # the blob's pack: least recently used
    assert cli_main(["cache", "prune", "--cache-dir", str(tmp_path), "--max-size", str(sizes[1])]) == 0
    assert capsys.readouterr().out == "removed 2 entries (0.0 MiB); 1 entries (0.0 MiB) left\n"  # one of v1/
    assert not (tmp_path / "v1").exists()
    assert Cache(tmp_path).get_verdict(_digest(b"y")) == (True, None)
    assert cli_main(["cache", "prune", "--cache-dir", str(tmp_path), "--all"]) == 0
    assert capsys.readouterr().out == "removed 1 entries (0.0 MiB); 0 entries (0.0 MiB) left\n"
    assert cli_main(["cache", "prune", "--cache-dir", str(tmp_path), "--max-size", "lots"]) == 2
    assert "invalid size 'lots'" in capsys.readouterr().err


def test_info_counts_distinct_entries_and_payload_bytes(tmp_path: Path) -> None:
    _run(tmp_path, b"a" * 300, b"b" * 200)
    with Cache(tmp_path) as cache:  # another run stored one of them again (as a concurrent one may)
        cache.put_record(LAYER_INDEX, "k", b"i" * 50)
    pack.write(str(tmp_path / "v2" / "packs"), [("blobs", _digest(b"a" * 300), b"a" * 300, "")])
    info = Cache(tmp_path).info()
    assert [(k.kind, k.entries, k.size) for k in info.kinds] == [
        ("blobs", 2, 500),
        (LAYER_INDEX, 1, 50),
        (VERDICT, 0, 0),
        (RESOLUTION, 0, 0),
    ]
    assert (info.entries, info.size, info.packs) == (3, 550, 3)
    assert info.disk_bytes == sum(p.stat().st_size for p in _packs(tmp_path))


def test_default_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("OKDRELEASE_CACHE_DIR", str(tmp_path / "explicit"))
    assert default_root() == tmp_path / "explicit"
    monkeypatch.delenv("OKDRELEASE_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_root() == tmp_path / "okdrelease"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_root() == tmp_path / ".cache" / "okdrelease"


def test_entries_read_through_windows_in_any_order(tmp_path: Path) -> None:
    """Entries smaller and larger than the read window, across its edges, read back in a shuffled order."""
    blobs = [bytes([i]) * (1000 + 150_000 * (i % 7)) for i in range(14)] + [b"L" * (3 << 20)]
    _run(tmp_path, *blobs)
    cache = Cache(tmp_path)
    order = [(i * 4) % len(blobs) for i in range(len(blobs))]
    assert sorted(order) == list(range(len(blobs)))
    assert [cache.get_blob(_digest(blobs[i])) for i in order] == [blobs[i] for i in order]
    assert (cache.stats.hits, cache.stats.dropped) == (15, 0)


def test_each_block_of_a_pack_is_read_once_in_any_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Small entries read in an order unlike the pack's: each 256 KiB block holding them is read with one
    pread, once (a sliding window re-read the file for every jump back and forth)."""
    small = [bytes([i % 251]) * (3000 + 17 * i) for i in range(400)]
    _run(tmp_path, *small)
    (written,) = _packs(tmp_path)
    rows = {r.key: r for r in pack.read_rows(str(written))}
    blocks = {
        k
        for b in small
        for k in range(
            rows[_digest(b)].offset // (256 << 10), (rows[_digest(b)].offset + len(b) - 1) // (256 << 10) + 1
        )
    }
    reads: list[tuple[int, int]] = []
    real_pread = os.pread

    def counting_pread(fd: int, length: int, offset: int) -> bytes:
        reads.append((length, offset))
        return real_pread(fd, length, offset)

    monkeypatch.setattr(store.os, "pread", counting_pread)
    cache = Cache(tmp_path)
    order = [(i * 7) % len(small) for i in range(len(small))]
    assert [cache.get_blob(_digest(small[i])) for i in order] == [small[i] for i in order]
    block_reads = sorted(offset for length, offset in reads if length == 256 << 10)
    assert block_reads == sorted(k * (256 << 10) for k in blocks)  # the index is read apart, at the end
    assert blocks == set(range(min(blocks), max(blocks) + 1)) and len(blocks) == 10  # 2.56 MB side by side


def test_a_later_pack_wins_also_after_a_merge(tmp_path: Path) -> None:
    """A record stored again (the one held was unusable) is read from the later pack, merged or not."""
    with Cache(tmp_path) as cache:
        cache.put_record(LAYER_INDEX, "k", b"the older, larger one")
    with Cache(tmp_path) as cache:
        cache.put_record(LAYER_INDEX, "k", b"newer")
    assert Cache(tmp_path).get_record(LAYER_INDEX, "k") == b"newer"
    _run(tmp_path, b"x", max_packs=1)
    assert len(_packs(tmp_path)) == 1
    assert Cache(tmp_path).get_record(LAYER_INDEX, "k") == b"newer"


def test_small_entries_lie_together_in_the_pack(tmp_path: Path) -> None:
    """Large entries go to the pack as their buffer fills; the small ones (manifests, configs, verdicts)
    are buffered apart, so they end up side by side, read with one pread."""
    large = [bytes([i]) * 70_000 for i in range(4)]
    small = [bytes([100 + i]) * 1000 for i in range(10)]
    with Cache(tmp_path, flush_bytes=200_000) as cache:
        for i, blob in enumerate(small):
            cache.put_blob(_digest(blob), blob)
            if i < len(large):
                cache.put_blob(_digest(large[i]), large[i])
    (written,) = _packs(tmp_path)
    rows = {r.key: r for r in pack.read_rows(str(written))}
    offsets = sorted(rows[_digest(b)].offset for b in small)
    assert offsets == list(range(offsets[0], offsets[0] + 10 * 1000, 1000))
    assert rows[_digest(large[0])].offset < offsets[0] < rows[_digest(large[3])].offset  # 3 went first


def test_a_short_write_is_completed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def short_pwritev(fd: int, parts: list[bytes], offset: int) -> int:
        data = b"".join(parts)
        return os.pwrite(fd, data[: max(len(data) // 2, 1)], offset)

    monkeypatch.setattr(pack.os, "pwritev", short_pwritev)
    blobs = [bytes([i]) * (500 + 300 * i) for i in range(6)]
    _run(tmp_path, *blobs)
    monkeypatch.undo()
    cache = Cache(tmp_path)
    assert [cache.get_blob(_digest(b)) for b in blobs] == blobs
    assert cache.stats.dropped == 0


def test_a_short_write_of_parts_continues_from_where_it_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pwritev that writes less than it was given (here at most 700 bytes a call, ending inside a part
    or on a part's end): the parts it covered are skipped and the rest is written by pwritev again, from
    the parts (the group was joined into one copy and written with pwrite before); the pack is exact."""
    real_pwritev = os.pwritev
    calls: list[int] = []

    def short_pwritev(fd: int, parts: list[bytes], offset: int) -> int:
        data = b"".join(parts)[:700]
        calls.append(len(data))
        return real_pwritev(fd, [data], offset)

    monkeypatch.setattr(pack.os, "pwritev", short_pwritev)
    record = (b"head:", bytes(range(256)) * 3, b"", b"x" * 700, b"tail")
    blobs = [bytes([i]) * (500 + 300 * i) for i in range(6)]
    with Cache(tmp_path) as cache:
        cache.put_record(RESOLUTION, "key", record)
        for blob in blobs:
            cache.put_blob(_digest(blob), blob)
    monkeypatch.undo()
    assert sum(calls) == sum(map(len, record)) + sum(map(len, blobs))  # every byte through pwritev
    cache = Cache(tmp_path)
    assert cache.get_record(RESOLUTION, "key") == b"".join(record)
    assert [cache.get_blob(_digest(b)) for b in blobs] == blobs
    assert cache.stats.dropped == 0


@pytest.mark.parametrize("kind", [bytearray, memoryview])
def test_a_bytes_like_payload_is_one_payload(kind: type, tmp_path: Path) -> None:
    """A ``bytearray`` or ``memoryview`` is stored as the bytes it holds (it was taken for a tuple of
    parts and iterated byte by byte: TypeError); only a tuple is parts."""
    assert pack.checksum_of(kind(b"hello")) == pack.checksum_of(b"hello") == pack.checksum_of((b"he", b"llo"))
    assert pack.payload_length(kind(b"hello")) == 5
    with Cache(tmp_path) as cache:
        cache.put_blob(_digest(b"hello"), kind(b"hello"))
        cache.put_record(LAYER_INDEX, "k", kind(b"record"))
        assert cache.get_record(LAYER_INDEX, "k") == b"record"  # still buffered
    cache = Cache(tmp_path)
    assert (cache.get_blob(_digest(b"hello")), cache.get_record(LAYER_INDEX, "k")) == (b"hello", b"record")


def test_an_unusable_cache_directory_is_a_warning_not_a_failure(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """``v2/packs`` is not a directory (or cannot be read or written): the run works without the cache,
    warned once for the listing and once for the writes."""
    (tmp_path / "v2").mkdir()
    (tmp_path / "v2" / "packs").write_bytes(b"not a directory")
    with Cache(tmp_path, flush_bytes=1500) as cache:
        for i in range(4):
            assert cache.get_blob(_digest(b"%d" % i * 1000)) is None
            cache.put_blob(_digest(b"%d" % i * 1000), b"%d" % i * 1000)
        assert cache.get_blob(_digest(b"0" * 1000)) is None  # the write failed: not held
    cache.trim()
    assert cache.stats.writes == 0
    warnings = [r.getMessage().split(": ")[0:2] for r in caplog.records if r.levelname == "WARNING"]
    packs_dir = str(tmp_path / "v2" / "packs")
    assert warnings == [
        ["cache", f"cannot list {packs_dir}"],
        ["cache", f"cannot write a pack in {packs_dir}"],
    ]


def test_prune_removes_only_what_the_v1_layout_held(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A v1/ that holds other files (a user's --cache-dir that happens to have one) keeps them, and the
    directories holding them; only the v1 layout's entries and temporary files go, and their
    directories once empty. A v1 that is a symlink is never followed."""
    v1 = tmp_path / "cache" / "v1"
    ours = [
        v1 / "blobs" / "sha256" / ("0" * 64),
        v1 / "blobs" / "sha256" / ".tmp-1-2-3",
        v1 / "records" / "verdict" / "ab" / ("ab" + "1" * 62),
        v1 / "records" / "layer-index" / "cd" / ("cd" + "2" * 62),
    ]
    theirs = [
        v1 / "src" / "main.go",
        v1 / "README",
        v1 / "blobs" / "sha256" / "notes.txt",
        v1 / "records" / "verdict" / "ab" / "keep.yaml",
        v1 / "records" / "other" / "ab" / ("ab" + "1" * 62),
    ]
    for path in ours + theirs:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"z" * 100)
    outside = tmp_path / "elsewhere" / "blobs" / "sha256"
    outside.mkdir(parents=True)
    (outside / ("0" * 64)).write_bytes(b"z")
    linked = tmp_path / "linked"
    linked.mkdir()
    (linked / "v1").symlink_to(tmp_path / "elsewhere")
    assert cli_main(["cache", "prune", "--cache-dir", str(tmp_path / "cache")]) == 0
    assert capsys.readouterr().out == "removed 3 entries (0.0 MiB); 0 entries (0.0 MiB) left\n"
    left = sorted(str(p.relative_to(v1)) for p in v1.rglob("*"))
    assert left == [
        "README",
        "blobs",
        "blobs/sha256",
        "blobs/sha256/notes.txt",
        "records",
        "records/other",
        "records/other/ab",
        f"records/other/ab/ab{'1' * 62}",
        "records/verdict",
        "records/verdict/ab",
        "records/verdict/ab/keep.yaml",
        "src",
        "src/main.go",
    ]
    assert cli_main(["cache", "info", "--cache-dir", str(tmp_path / "cache")]) == 0
    assert "v1/" not in capsys.readouterr().out  # nothing of the old layout is left
    assert cli_main(["cache", "prune", "--cache-dir", str(linked)]) == 0
    assert capsys.readouterr().out == "removed 0 entries (0.0 MiB); 0 entries (0.0 MiB) left\n"
    assert (outside / ("0" * 64)).exists()


def test_info_and_prune_pass_over_a_fifo_or_device_named_like_a_pack(tmp_path: Path) -> None:
    """A FIFO or a link to a device named ``*.pack`` is not a pack: info and prune neither wait on it
    nor read it, and leave it where it is."""
    _run(tmp_path, b"x" * 2048)
    packs = tmp_path / "v2" / "packs"
    os.mkfifo(packs / "0000-fifo.pack")
    (packs / "0001-zero.pack").symlink_to("/dev/zero")
    info = run_bounded("cache", "info", "--cache-dir", str(tmp_path))
    assert (info.returncode, info.stderr) == (0, "")
    assert "packs: 1, " in info.stdout
    pruned = run_bounded("cache", "prune", "--cache-dir", str(tmp_path), "--all")
    assert (pruned.returncode, pruned.stdout, pruned.stderr) == (
        0,
        "removed 1 entries (0.0 MiB); 0 entries (0.0 MiB) left\n",
        "",
    )
    assert sorted(p.name for p in packs.iterdir()) == ["0000-fifo.pack", "0001-zero.pack"]


def test_files_not_named_as_packs_are_left_alone_behind_a_linked_packs_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Only regular files named as the cache names its packs (``<16 hex>-<pid>-<8 hex>.pack``, and those
    with ``.tmp-``) are read, dropped or evicted: a user's ``backup.pack`` in the directory ``v2/packs``
    links to, a stale ``.tmp-notes.pack``, and a link named like a pack stay as they are."""
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "backup.pack").write_bytes(b"torn!")
    (victim / ".tmp-notes.pack").write_bytes(b"user's")
    os.utime(victim / ".tmp-notes.pack", (time.time() - 7200, time.time() - 7200))
    (tmp_path / "elsewhere.bin").write_bytes(b"torn too")
    (victim / "0123456789abcdef-1-89abcdef.pack").symlink_to(tmp_path / "elsewhere.bin")
    root = tmp_path / "cache"
    (root / "v2").mkdir(parents=True)
    (root / "v2" / "packs").symlink_to(victim)
    _run(root, b"a" * 100)
    with Cache(root) as cache:
        assert cache.get_blob(_digest(b"a" * 100)) == b"a" * 100
        assert cache.stats.dropped == 0
    assert cli_main(["cache", "prune", "--cache-dir", str(root), "--all"]) == 0
    assert capsys.readouterr() == ("removed 1 entries (0.0 MiB); 0 entries (0.0 MiB) left\n", "")
    assert sorted(p.name for p in victim.iterdir()) == [
        ".tmp-notes.pack",
        "0123456789abcdef-1-89abcdef.pack",
        "backup.pack",
    ]
    assert (victim / "backup.pack").read_bytes() == b"torn!"
    assert (tmp_path / "elsewhere.bin").read_bytes() == b"torn too"


def test_cache_commands_refuse_a_named_cache_directory_that_is_none(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--cache-dir`` names a directory: one that does not exist, or a file, is an error naming it (the
    default directory may not exist yet: an empty cache)."""
    missing = str(tmp_path / "nonexist")
    for action in ("info", "prune"):
        assert cli_main(["cache", action, "--cache-dir", missing]) == 1
        assert capsys.readouterr() == ("", f"error: cache directory {missing} does not exist\n")
        assert cli_main(["cache", action, "--cache-dir", "/dev/null"]) == 1
        assert capsys.readouterr() == ("", "error: cache directory /dev/null is not a directory\n")
    assert not os.path.exists(missing)


@pytest.mark.parametrize("text", ["١٢٣", "１２３", "12\u00a0M"])
def test_sizes_are_ascii_digits_only(text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--max-size`` (and ``--max-layer-bytes``, one parser) takes ASCII digits only: Arabic-Indic or
    full-width digits and a no-break space are refused, not read as 123."""
    _run(tmp_path, b"a" * 100)
    assert cli_main(["cache", "prune", "--cache-dir", str(tmp_path), "--max-size", text]) == 2
    assert capsys.readouterr() == (
        "",
        f"error: --max-size: invalid size {text!r}: use a number of bytes, optionally with K, M, G or T (1.5G)\n",
    )
    assert len(_packs(tmp_path)) == 1
    with pytest.raises(ValueError, match="invalid size"):
        size_in_bytes(text)


def test_a_read_refreshes_the_pack_it_read_not_what_its_name_links_to(tmp_path: Path) -> None:
    """The LRU refresh of a read touches the pack the run opened (its descriptor), never a file that a
    link now standing at the pack's name points to (a file outside the cache keeps its mtime)."""
    _run(tmp_path / "c", b"a")
    (packed,) = _packs(tmp_path / "c")
    outside = tmp_path / "outside"
    outside.write_bytes(b"user's file")
    os.utime(outside, (1000, 1000))
    os.utime(packed, (2000, 2000))
    cache = Cache(tmp_path / "c")
    assert cache.empty() is False  # the packs are open
    moved = tmp_path / "moved.pack"
    os.rename(packed, moved)
    packed.symlink_to(outside)
    assert cache.get_blob(_digest(b"a")) == b"a"
    cache.close()
    assert os.stat(outside).st_mtime == 1000
    assert moved.stat().st_mtime > 2000  # the pack read was refreshed


@pytest.mark.parametrize("where", ["prune", "merge"])
def test_a_file_that_cannot_be_removed_is_a_warning_not_a_failure(
    where: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A stale temporary file or a merged pack that cannot be unlinked (a read-only cache, a name a
    directory took meanwhile) is left with a warning: prune and a closing run go on."""
    packs_dir = tmp_path / "v2" / "packs"
    for i in range(3):
        _run(tmp_path, b"%d" % i)
    stale = packs_dir / f".tmp-{_packs(tmp_path)[0].name}"
    stale.write_bytes(b"half")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    unlink = os.unlink

    def refuse(path: str) -> None:
        if os.path.dirname(path) == str(packs_dir):
            raise OSError(30, "Read-only file system", path)
        unlink(path)

    monkeypatch.setattr(os, "unlink", refuse)
    if where == "prune":
        result = Cache(tmp_path).prune(0)
        assert result.left_entries == 3 and stale.exists()
    else:
        _run(tmp_path, b"3", max_packs=2)
        assert len(_packs(tmp_path)) == 5  # merged, its sources left (duplicates are harmless)
        cache = Cache(tmp_path)
        assert [cache.get_blob(_digest(b"%d" % i)) for i in range(4)] == [b"0", b"1", b"2", b"3"]
    assert any("cannot remove" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("limit", [0, len(pack._HEAD)], ids=["head-refused", "entries-refused"])
@pytest.mark.parametrize("existing", [False, True], ids=["made-by-the-run", "there-before"])
def test_a_run_that_cannot_write_its_pack_leaves_no_directory_it_made(
    tmp_path: Path, existing: bool, limit: int
) -> None:
    """``new --cache-dir DIR`` on a full disk (every write past ``limit`` bytes fails, EFBIG) fails writing
    ``--to-file``; the cache's pack could not be written either. Before, DIR/v2/packs/ stayed behind
    (with a ``.tmp-`` pack when its head write failed, its descriptor open until exit); now the
    directories the run made are gone, and a directory that was there before stays, empty."""
    from bounded_run import run_file_size_limited

    sample = Path(__file__).resolve().parents[1] / "testdata" / "sample-payload"
    cache_dir = tmp_path / "cache" / "okdrelease"
    if existing:
        cache_dir.mkdir(parents=True)
    done = run_file_size_limited(
        "new",
        "-q",
        "--cache-dir",
        str(cache_dir),
        "--from-oci-layout",
        str(sample),
        "--layout-repository",
        "quay.io/okd/scos-content",
        "--name",
        "4.16.0-okd.sample",
        "--to-file",
        str(tmp_path / "payload.tar.gz"),
        limit=limit,
    )
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == f"error: unable to write --to-file {tmp_path / 'payload.tar.gz'}: File too large\n"
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")) == (
        ["cache", "cache/okdrelease"] if existing else []
    )
