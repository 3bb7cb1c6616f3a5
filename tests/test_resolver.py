"""The one image resolver (``okdrelease.images.resolve``): what a run has read by digest it does not ask again.

Requests are counted through the transport's event sink (every answered HTTP request of the run).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from registry_rig import RegistryInfo, RepoNamer

from okdrelease.cache import Cache
from okdrelease.events import Event, RequestDone
from okdrelease.images.resolve import Resolver
from okdrelease.payload.pipeline import new_release
from okdrelease.payload.plan import NewOptions, parse_created
from okdrelease.release.read import load_images, load_release_from
from okdrelease.transport.base import TransportOptions
from okdrelease.transport.copy import copy_all, copy_image
from okdrelease.transport.open import DefaultTransport

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "testdata" / "sample-payload"
NAME = "4.16.0-okd.resolver"
BY_DIGEST = re.compile(r"/v2/.+/manifests/sha256:[0-9a-f]{64}$")


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


def _build(content: str, to_image: str, cache: Cache, sink: Requests) -> str:
    result = new_release(
        NewOptions(
            from_repository=content,
            name=NAME,
            created=parse_created("2024-05-01T00:00:00Z"),
            to_image=to_image,
        ),
        transport_options=options(sink),
        cache=cache,
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
