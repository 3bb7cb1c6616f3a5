"""The one image resolver (``okdrelease.images.resolve``): what a run has read by digest it does not ask again.

Requests are counted through the transport's event sink (every answered HTTP request of the run).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from registry_rig import RegistryInfo, RepoNamer

from okdrelease.cache import LAYER_INDEX, RESOLUTION, Cache, pack
from okdrelease.errors import DigestMismatchError
from okdrelease.events import Event, RequestDone
from okdrelease.images import resolve as resolve_module
from okdrelease.images.resolve import Memo, NotCached, Resolver, resolve_all
from okdrelease.openshift.imagestream import TagReference
from okdrelease.payload import components as components_module
from okdrelease.payload.components import visit_order
from okdrelease.payload.context import Reporter, Run
from okdrelease.payload.pipeline import new_release
from okdrelease.payload.plan import NewOptions, parse_created
from okdrelease.payload.resolve import OperatorManifests
from okdrelease.release.read import load_images, load_release_from
from okdrelease.transport.base import TransportOptions
from okdrelease.transport.copy import copy_all, copy_image
from okdrelease.transport.open import DefaultTransport

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "testdata" / "sample-payload"
NAME = "4.16.0-okd.resolver"
BY_DIGEST = re.compile(r"/v2/.+/manifests/sha256:[0-9a-f]{64}$")
BLOBS = re.compile(r"/v2/.+/blobs/sha256:[0-9a-f]{64}$")


class Requests:
    """The GET requests of one run, from its event sink."""

    def __init__(self) -> None:
        self.done: list[RequestDone] = []

    def __call__(self, event: Event) -> None:
        if isinstance(event, RequestDone):
            self.done.append(event)

    def gets(self, pattern: re.Pattern[str] = BY_DIGEST) -> list[str]:
        return [r.url for r in self.done if r.method == "GET" and pattern.search(r.url)]


def options(sink: Requests | None = None) -> TransportOptions:
    return TransportOptions(insecure=True, events=sink)


@pytest.fixture(scope="module")
def content(registry_http: RegistryInfo) -> str:
    """A registry repository holding the sample payload's images, one tag per component.

    One per module: the tests only read it (each run counts its own requests, with its own cache).
    """
    repo = f"{registry_http.host}/{RepoNamer('resolver')('content')}"
    with DefaultTransport(options()) as transport:
        copy_all(transport.open(f"oci:{SAMPLE}")[0], transport.open(repo)[0])
    return repo


def _build(content: str, to_image: str, cache: Cache, sink: Requests, lines: list[str] | None = None) -> str:
    """Build the sample release from ``content`` to ``to_image``; its progress lines into ``lines``."""
    result = new_release(
        NewOptions(
            from_repository=content,
            name=NAME,
            created=parse_created("2024-05-01T00:00:00Z"),
            to_image=to_image,
        ),
        transport_options=options(sink),
        cache=cache,
        progress=lines.append if lines is not None else None,
    )
    assert result.digest is not None
    return result.digest


def test_warm_new_asks_no_manifest_it_has_by_digest(content: str, tmp_path: Path) -> None:
    """Components, list entries and the base image are all named by digest: a warm run GETs none of them."""
    cache = Cache(tmp_path / "cache")
    cold, warm = Requests(), Requests()
    first = _build(content, f"oci:{tmp_path / 'a'}:{NAME}", cache, cold)
    assert cold.gets()  # the cold run read them
    second = _build(content, f"oci:{tmp_path / 'b'}:{NAME}", cache, warm)
    assert second == first
    assert warm.gets() == []


def test_info_reads_of_one_run_share_the_resolver(
    content: str, registry_http: RegistryInfo, unique_repo: Any, tmp_path: Path
) -> None:
    """A release loaded twice and its components: each manifest by digest GET once in the run."""
    release = f"{registry_http.host}/{unique_repo('release')}"
    digest = _build(content, f"{release}:{NAME}", Cache(tmp_path / "cache"), Requests())
    sink = Requests()
    resolver = Resolver()
    with DefaultTransport(options(sink)) as transport:
        info = load_release_from(transport, f"{release}@{digest}", resolver=resolver)
        once = sink.gets()
        assert once == [f"http://{release.replace('/', '/v2/', 1)}/manifests/{digest}"]
        again = load_release_from(transport, f"{release}@{digest}", resolver=resolver)
        assert sink.gets() == once
        assert again.digest == info.digest == digest
        loaded = load_images(info, transport, platform=resolver.platform, resolver=resolver)
        assert loaded.images is not None and len(loaded.images) == len([t for t in info.tags if t.is_image])
        component_gets = sink.gets()[len(once) :]
        assert len(component_gets) == len(set(component_gets))  # no manifest asked twice


def test_copy_reads_the_source_through_the_runs_resolver(content: str, tmp_path: Path) -> None:
    """What the run already read is not asked of the source again when it is copied."""
    sink = Requests()
    resolver = Resolver()
    with DefaultTransport(options(sink)) as transport:
        source, _ = transport.open(content)
        digest = source.resolve("cluster-version-operator").digest
        resolver.manifest(source, digest)
        assert len(sink.gets()) == 1
        copied = copy_image(
            source,
            digest,
            transport.open(f"oci:{tmp_path / 'copy'}", create=True)[0],
            "cvo",
            resolver=resolver,
        )
    assert copied == digest
    assert len(sink.gets()) == 1


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[str, list[str]]:
    """Run the CLI in-process with ``-v``: its stdout and the manifest URLs it GET by digest."""
    from okdrelease.cli import main

    code = main([*argv[:1], "-v", "--insecure", *argv[1:]])
    out, err = capsys.readouterr()
    assert code == 0, err
    gets = re.findall(r"^trace: GET (\S+/manifests/sha256:[0-9a-f]{64}) 200", err, re.M)
    return out, gets


@pytest.mark.parametrize("command", ["info", "extract", "diff"])
def test_read_commands_use_the_persistent_cache(
    command: str,
    content: str,
    registry_http: RegistryInfo,
    unique_repo: Any,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """info, extract and diff take --cache-dir: a second run GETs no manifest by digest; --no-cache keeps none."""
    release = f"{registry_http.host}/{unique_repo('release')}"
    ref = f"{release}@{_build(content, f'{release}:{NAME}', Cache(tmp_path / 'build-cache'), Requests())}"
    argv = {
        "info": ["info", "--include-images", "-o", "json", ref],
        "extract": ["extract", "--to", str(tmp_path / "out"), ref],
        "diff": ["diff", ref, ref],
    }[command]
    cache = tmp_path / "cache"
    cold_out, cold_gets = _cli(capsys, *argv, "--cache-dir", str(cache))
    assert cold_gets and len(set(cold_gets)) == len(cold_gets)
    assert any(cache.iterdir())
    warm_out, warm_gets = _cli(capsys, *argv, "--cache-dir", str(cache))
    assert (warm_out, warm_gets) == (cold_out, [])
    default = Path(os.environ["OKDRELEASE_CACHE_DIR"])  # this test's own default cache (conftest)
    before = sorted(default.rglob("*")) if default.exists() else []
    uncached_out, uncached_gets = _cli(capsys, *argv, "--no-cache")
    assert (uncached_out, sorted(uncached_gets)) == (cold_out, sorted(cold_gets))
    assert (sorted(default.rglob("*")) if default.exists() else []) == before


def test_memo_forgets_a_cache_only_attempt_and_remembers_failures() -> None:
    """NotCached is not the value: the next asker computes it; any other failure is the value."""
    memo: Memo[str, int] = Memo()

    def not_cached() -> int:
        raise NotCached("sha256:" + "1" * 64)

    def fails() -> int:
        raise ValueError("bad")

    with pytest.raises(NotCached):
        memo.get("k", not_cached)
    assert memo.get("k", lambda: 5) == 5
    assert memo.get("k", not_cached) == 5  # computed once, now remembered
    with pytest.raises(ValueError, match="bad"):
        memo.get("e", fails)
    with pytest.raises(ValueError, match="bad"):
        memo.get("e", lambda: 1)
    assert memo.hits == 2


def test_memo_asker_waiting_on_a_cache_only_attempt_computes_the_value_itself() -> None:
    """A pool thread waiting for a value a cache-only attempt was computing does not fail with NotCached:
    when the attempt gives up, the waiter computes the value (here: what a repository would answer)."""
    memo: Memo[str, int] = Memo()
    started, release = threading.Event(), threading.Event()

    def cache_only() -> int:
        started.set()
        release.wait(30)
        raise NotCached("sha256:" + "2" * 64)

    found: list[object] = []

    def waiter() -> None:
        started.wait(30)
        found.append(memo.get("k", lambda: 7))

    thread = threading.Thread(target=waiter)
    thread.start()

    def owner() -> None:
        with pytest.raises(NotCached):
            memo.get("k", cache_only)

    first = threading.Thread(target=owner)
    first.start()
    while memo.hits == 0 and thread.is_alive():  # the waiter found the attempt's future
        started.wait(0.01)
    release.set()
    first.join(30)
    thread.join(30)
    assert (found, memo.hits) == ([7], 1)  # it waited for the attempt, then computed the value itself
    assert memo.get("k", lambda: 9) == 7


def test_memo_askers_wait_for_the_one_computation_and_share_its_value_or_failure() -> None:
    """Askers that come while a key is computed wait for it: one computation, its value (or its failure,
    the same exception) for every asker, and for those that come later without waiting."""
    memo: Memo[str, object] = Memo()
    started, release = threading.Event(), threading.Event()
    calls: list[str] = []
    failure = ValueError("bad")

    def slow(key: str) -> Callable[[], object]:
        def compute() -> object:
            calls.append(key)
            started.set()
            release.wait(30)
            if key == "e":
                raise failure
            return [key]

        return compute

    for key in ("k", "e"):
        started.clear()
        release.clear()
        outcomes: list[object] = []

        def ask(key: str = key, outcomes: list[object] = outcomes) -> None:
            try:
                outcomes.append(memo.get(key, slow(key)))
            except ValueError as err:
                outcomes.append(err)

        owner = threading.Thread(target=ask)
        owner.start()
        started.wait(30)
        hits = memo.hits
        waiters = [threading.Thread(target=ask) for _ in range(4)]
        for thread in waiters:
            thread.start()
        deadline = time.monotonic() + 30
        while memo.hits < hits + 4 and time.monotonic() < deadline:  # every waiter found it under way
            time.sleep(0.001)
        release.set()
        for thread in (owner, *waiters):
            thread.join(30)
        ask()  # after it: no wait
        assert len(outcomes) == 6
        assert all(outcome is outcomes[0] for outcome in outcomes)
    assert calls == ["k", "e"]
    assert memo.hits == 10


def test_resolve_all_hands_the_pool_only_what_the_first_attempt_could_not_answer() -> None:
    """``first`` runs on the calling thread; what it raises for (NotCached or any failure) goes to ``work``."""
    caller = threading.get_ident()
    ran: dict[int, tuple[str, bool]] = {}

    def first(n: int) -> int:
        if n % 3 == 0:
            raise NotCached(str(n))
        if n == 4:
            raise ValueError("worded by work")
        ran[n] = ("first", threading.get_ident() == caller)
        return n * 10

    def work(n: int) -> int:
        ran[n] = ("work", threading.get_ident() == caller)
        return n * 10 + 1

    assert resolve_all(range(7), work, 4, first) == [1, 10, 20, 31, 41, 50, 61]
    assert ran == {
        0: ("work", False),
        1: ("first", True),
        2: ("first", True),
        3: ("work", False),
        4: ("work", False),
        5: ("first", True),
        6: ("work", False),
    }
    assert resolve_all(range(3), work, 4) == [1, 11, 21]  # no first attempt: all on the pool


def test_resolve_all_reports_the_first_failure_in_order_among_work_left_to_the_pool() -> None:
    """An item ``first`` answered never fails the run; of those left to ``work``, the earliest failure is raised."""

    def first(n: int) -> int:
        if n in (1, 3):
            raise NotCached(str(n))
        return n

    def work(n: int) -> int:
        raise ValueError(f"item {n}")

    with pytest.raises(ValueError, match="^item 1$"):
        resolve_all(range(5), work, 2, first)


def test_a_run_tries_its_cache_alone_first_only_when_the_cache_holds_something(tmp_path: Path) -> None:
    """No first attempt without a cache or with an empty one (each would miss: a cold run hands every
    image to the pool at once); one as soon as an entry is stored, buffered or in a pack."""

    def first(store: Cache | None) -> object:
        resolver = Resolver(store=store)
        run = Run(DefaultTransport(TransportOptions()), resolver, OperatorManifests(resolver), Reporter(), 4)
        return run.from_cache(lambda _run, item: item)

    root = tmp_path / "cache"
    assert first(None) is None
    with Cache(root) as store:
        assert store.empty()
        assert first(store) is None
        store.put_blob("sha256:" + hashlib.sha256(b"{}").hexdigest(), b"{}")  # buffered
        assert not store.empty()
        attempt = first(store)
        assert attempt is not None and attempt("x") == "x"  # type: ignore[operator]
    with Cache(root) as store:  # a later run: the entry is in a pack
        assert not store.empty()
        assert first(store) is not None


def test_cache_only_resolver_answers_from_the_store_or_raises_not_cached(
    content: str, tmp_path: Path
) -> None:
    """A cache-only resolver asks no repository: NotCached until an online read filled the store
    (the run's memo keeps no NotCached), then the same image, manifest, config and layer index."""
    store = Cache(tmp_path / "cache")
    sink = Requests()
    with DefaultTransport(options(sink)) as transport:
        repo, _ = transport.open(content)
        digest = repo.resolve("cluster-version-operator").digest
        online = Resolver(store=store)
        offline = online.cache_only()
        with pytest.raises(NotCached):
            offline.resolve(repo, digest)
        with pytest.raises(NotCached):
            offline.manifest(repo, "cluster-version-operator")  # a tag is always asked: not offline
        asked = len(sink.done)
        image = online.resolve(repo, digest)  # the same run cache: not poisoned by the attempts
        assert len(sink.done) > asked
        layer = image.manifest.layers[-1]
        with pytest.raises(NotCached):
            offline.layer_index(repo, layer, "manifests/")
        index = online.layer_index(repo, layer, "manifests/")
        asked = len(sink.done)
        again = Resolver(store=store).cache_only()  # a new run: only the persistent cache
        found = again.resolve(repo, digest)
        found_index = again.layer_index(repo, layer, "manifests/")
        assert len(sink.done) == asked
    assert (found.digest, found.config.digest, found.labels) == (
        image.digest,
        image.config.digest,
        image.labels,
    )
    assert [(e.path, e.read()) for e in found_index.entries] == [(e.path, e.read()) for e in index.entries]


def _new_lines(content: str, to_image: str, cache: Cache, sink: Requests) -> tuple[str, list[str]]:
    """:func:`_build`'s digest and progress lines, the destination written DEST."""
    lines: list[str] = []
    digest = _build(content, to_image, cache, sink, lines)
    return digest, [line.replace(to_image, "DEST") for line in lines]


def test_warm_new_resolves_on_the_calling_thread_and_refetches_a_damaged_entry(
    content: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Warm: no component goes to the pool (no GIL contention) and the progress is the cold run's, in the
    order visits start in. With the recorded resolution damaged too, a damaged layer index sends only its
    operator to the pool: one layer GET, each line once."""
    cache = Cache(tmp_path / "cache")
    cold_digest, cold_lines = _new_lines(content, f"oci:{tmp_path / 'cold'}:{NAME}", cache, Requests())
    cache.close()  # the run's entries written as a pack: the next runs read them from disk
    pooled: list[object] = []

    pool_of = resolve_module.worker_pool

    @contextlib.contextmanager
    def counting_pool(*args: Any, **kwargs: Any) -> Iterator[Any]:
        """resolve_all's pool, counting the work handed to it."""
        with pool_of(*args, **kwargs) as pool:
            submit = pool.submit

            def counted(fn: Any, /, *args: Any, **kwargs: Any) -> Any:
                pooled.append(args)
                return submit(fn, *args, **kwargs)

            pool.submit = counted  # type: ignore[method-assign]
            yield pool

    monkeypatch.setattr(resolve_module, "worker_pool", counting_pool)
    visits: list[str] = []

    def recorded_order(tags: list[TagReference]) -> list[int]:
        order = visit_order(tags)
        visits[:] = [tags[i].name for i in order]
        return order

    monkeypatch.setattr(components_module, "visit_order", recorded_order)
    warm = Requests()
    warm_digest, warm_lines = _new_lines(content, f"oci:{tmp_path / 'warm'}:{NAME}", cache, warm)
    assert (warm_digest, pooled, warm.gets()) == (cold_digest, [], [])
    assert sorted(warm_lines) == sorted(cold_lines)
    loading = [line for line in warm_lines if line.startswith("info: Loading")]
    loaded = [line.split()[-1] for line in loading]
    assert loading and loaded == [name for name in visits if name in set(loaded)]  # the order visits start in
    cache.close()
    (written,) = (tmp_path / "cache" / "v2" / "packs").glob("*.pack")  # the warm run wrote none
    data = bytearray(written.read_bytes())
    for kind in (RESOLUTION, LAYER_INDEX):  # the record first: else the components are not read at all
        row = next(r for r in pack.read_rows(str(written)) if r.kind == kind)
        data[row.offset + row.length - 1] ^= 1
    written.write_bytes(bytes(data))
    again = Requests()
    again_digest, again_lines = _new_lines(content, f"oci:{tmp_path / 'again'}:{NAME}", cache, again)
    assert (again_digest, len(pooled), sorted(again_lines)) == (warm_digest, 1, sorted(cold_lines))
    extra = sorted(set(again.gets(BLOBS)) - set(warm.gets(BLOBS)))  # besides the base layers copied
    assert (again.gets(), len(extra), len(again.gets(BLOBS))) == ([], 1, len(warm.gets(BLOBS)) + 1)


def test_a_config_read_before_with_another_size_fails_as_a_first_read() -> None:
    """The run's config memo is keyed by digest and size: a second descriptor naming a config already
    read, with a wrong size, fails with the error a first read of it gives (before: the config read
    for the first descriptor was handed out, its size never compared)."""
    transport = DefaultTransport(TransportOptions())
    try:
        repository, _ = transport.open(f"oci:{SAMPLE}:cli")
        manifest = Resolver().select(repository, "cli").manifest
        good = manifest.config
        bad = attrs.evolve(good, size=good.size + 1)
        expected = f"content of blob {good.digest} in oci:{SAMPLE} has {good.size} bytes, expected {bad.size} for {good.digest}"
        with pytest.raises(DigestMismatchError) as first:
            Resolver().config(repository, bad)
        assert str(first.value) == expected
        resolver = Resolver()
        assert resolver.config(repository, good).digest == good.digest
        with pytest.raises(DigestMismatchError) as second:
            resolver.config(repository, bad)
        assert str(second.value) == expected
    finally:
        transport.close()
