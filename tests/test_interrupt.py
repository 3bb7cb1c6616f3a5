"""Ctrl-C and SIGTERM stop ``mirror``, ``copy`` and ``new`` at once (second review #2 and #14).

Real processes against the real registry: the components' big layers come through the fault
proxy at about 1 MB/s (a copy of one takes 16 s), so a run that goes on after the signal is
plain from its exit time. The signal is sent once the proxy saw a big layer asked for (a copy is
in flight). Then: ``error: interrupted`` is the last line of stderr and the only error, exit 130
(SIGTERM: 143), within a few seconds, no traceback, nothing pushed after the signal, and a layout
the run created removed (no ``.tmp-*`` blob left anywhere).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import attrs
import pytest
from faultproxy import FaultProxy, Rule
from imagegen import DOCKER, build_image, push_image
from registry_rig import RegistryInfo, RepoNamer
from test_cli import child_env
from test_faults import cli
from test_mirror_templates import NAME, tags_of
from test_multiarch import CONFIGMAP, OPERATOR_LABELS, arch_image
from test_registry import options_for, repo_at

from okdrelease.reference import parse_location
from okdrelease.transport.base import TransportOptions
from okdrelease.transport.client import RegistryClient
from okdrelease.transport.copy import copy_location
from okdrelease.transport.open import DefaultTransport
from okdrelease.workers import interrupted

BIG = 16 << 20
RATE = 1 << 20
#: Far below the 16 s one big layer takes through the proxy, far above the ~1 s a stop takes.
BOUND = 8.0
BIG_NAMES = ("big-a", "big-b", "big-c")


@attrs.frozen
class Content:
    """A release's components in ``repository``: an operator naming three images of one 16 MB layer each."""

    digests: dict[str, str]  # component name -> manifest digest
    layers: tuple[str, ...]  # the big layers' digests
    repository: str

    @property
    def big_layers(self) -> str:
        """A pattern for the big layers' paths."""
        return "/blobs/(" + "|".join(self.layers) + ")$"

    def mappings(self, host: str) -> list[str]:
        """``new``'s mappings, naming the components through ``host``."""
        return [f"{name}={host}/{self.repository}@{digest}" for name, digest in self.digests.items()]


def operator_files(names: Sequence[str] = BIG_NAMES) -> dict[str, bytes]:
    """An operator's manifests whose image-references name the components ``names``."""
    tags = [
        {"name": name, "from": {"kind": "DockerImage", "name": f"quay.io/okd/{name}:latest"}}
        for name in names
    ]
    references = {"kind": "ImageStream", "apiVersion": "image.openshift.io/v1", "spec": {"tags": tags}}
    return {
        "manifests/0000_50_demo_01-cm.yaml": CONFIGMAP.encode(),
        "manifests/image-references": json.dumps(references).encode(),
    }


@pytest.fixture(scope="module")
def content(registry_http: RegistryInfo) -> Content:
    """Push the components once for the module."""
    repository = "interrupt/content"
    images = {
        "cluster-version-operator": arch_image("cvo", "amd64", DOCKER, {"usr/bin/cvo": b"cvo"}, {}),
        "demo-operator": arch_image("demo-operator", "amd64", DOCKER, operator_files(), OPERATOR_LABELS),
    }
    big = {name: build_image(seed=f"interrupt-{name}", layers=1, layer_size=BIG) for name in BIG_NAMES}
    with RegistryClient(options_for(registry_http)) as client:
        repo = repo_at(client, registry_http.host, repository)
        digests = {name: push_image(repo, image) for name, image in {**images, **big}.items()}
    layers = tuple(image.layers[0].digest for image in big.values())
    return Content(digests, layers, repository)


def slow_release(
    proxy: FaultProxy, registry: RegistryInfo, content: Content, capsys: pytest.CaptureFixture[str]
) -> str:
    """A release whose components are named through the proxy; from now on big layers come slowly."""
    repository = f"{proxy.host}/{RepoNamer('interrupt')()}"
    mappings = content.mappings(proxy.host)
    code, _, err = cli(
        capsys, "new", "--insecure", "--name", NAME, *mappings, "--to-image", f"{repository}:{NAME}"
    )
    assert code == 0, err
    proxy.add(Rule("GET", content.big_layers, "slow", times=None, rate=RATE))
    return f"{repository}:{NAME}"


@attrs.frozen
class Stopped:
    code: int
    seconds: float
    stderr: str

    @property
    def lines(self) -> list[str]:
        return self.stderr.splitlines()


def interrupted_run(
    proxy: FaultProxy,
    pattern: str,
    seen: int,
    cwd: Path,
    *argv: str,
    signals: Sequence[int] = (signal.SIGINT,),
) -> Stopped:
    """Run ``okdrelease ARGV``; once the proxy saw ``seen`` GETs of paths matching ``pattern``,
    send ``signals`` (0.3 s apart)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "okdrelease", *argv],
        cwd=cwd,
        env=child_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while proxy.count("GET", pattern) < seen:
            assert process.poll() is None, process.communicate()[1]
            assert time.monotonic() < deadline, f"not {seen} GETs of {pattern}"
            time.sleep(0.05)
        time.sleep(0.5)  # the answer is being read
        for number, sent in enumerate(signals):
            if number:
                time.sleep(0.3)
            if not number:
                start = time.monotonic()
            process.send_signal(sent)
        _, err = process.communicate(timeout=60)
        return Stopped(process.returncode, time.monotonic() - start, err)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def assert_stopped(stopped: Stopped, code: int) -> None:
    assert stopped.code == code, stopped.stderr
    assert stopped.lines[-1] == "error: interrupted", stopped.stderr
    assert [line for line in stopped.lines if line.startswith("error:")] == ["error: interrupted"]
    assert "Traceback" not in stopped.stderr and "Exception ignored" not in stopped.stderr
    assert stopped.seconds < BOUND, stopped


def leftovers(top: Path) -> list[str]:
    """Everything under ``top`` (relative paths)."""
    return sorted(str(p.relative_to(top)) for p in top.rglob("*"))


@pytest.mark.parametrize(
    ("into", "signals", "code"),
    [
        ("registry", (signal.SIGINT,), 130),
        ("registry", (signal.SIGINT,) * 3, 130),
        ("layout", (signal.SIGINT,), 130),
        ("layout", (signal.SIGTERM,), 143),
    ],
)
def test_a_signal_stops_a_mirror(
    registry_http: RegistryInfo,
    proxy: FaultProxy,
    content: Content,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    into: str,
    signals: tuple[int, ...],
    code: int,
) -> None:
    """Nothing is pushed after the signal (the big components' tags, the release's); a layout the
    mirror created is removed. Repeated Ctrl-C changes nothing."""
    release = slow_release(proxy, registry_http, content, capsys)
    target = RepoNamer("interrupt-mirror")()
    to = f"{registry_http.host}/{target}" if into == "registry" else f"oci:{tmp_path}/new/mirror"
    stopped = interrupted_run(
        proxy,
        content.big_layers,
        1,
        tmp_path,
        *("mirror", "--insecure", "--max-per-registry", "1", "--from", release, "--to", to),
        signals=signals,
    )
    assert_stopped(stopped, code)
    assert not any(line.startswith("info: mirrored") and "big-" in line for line in stopped.lines)
    if into == "layout":
        assert leftovers(tmp_path) == []
        return
    pushed = tags_of(registry_http, target) if "info: mirrored" in stopped.stderr else {}
    assert not [tag for tag in pushed if "big-" in tag or tag == NAME], pushed


@pytest.mark.parametrize(("sent", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_stops_a_copy_into_an_existing_layout_and_leaves_no_temporary_blob(
    proxy: FaultProxy,
    content: Content,
    tmp_path: Path,
    sent: int,
    code: int,
) -> None:
    proxy.add(Rule("GET", content.big_layers, "slow", times=None, rate=RATE))
    layout = tmp_path / "layout"
    layout.mkdir()
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (layout / "index.json").write_text('{"schemaVersion": 2, "manifests": []}')
    stopped = interrupted_run(
        proxy,
        content.big_layers,
        1,
        tmp_path,
        "copy",
        "--insecure",
        f"docker://{proxy.host}/{content.repository}@{content.digests['big-a']}",
        f"oci:{layout}:big",
        signals=(sent,),
    )
    assert_stopped(stopped, code)
    written = [name for name in leftovers(layout) if ".tmp" in name]
    assert written == []
    assert (layout / "index.json").read_text() == '{"schemaVersion": 2, "manifests": []}'


SMALL_NAMES = tuple(f"small-{n}" for n in range(32))


@pytest.fixture(scope="module")
def many(registry_http: RegistryInfo) -> Content:
    """An operator naming twelve tiny components, pushed once for the module."""
    repository = "interrupt/many"
    images = {
        "cluster-version-operator": arch_image("cvo", "amd64", DOCKER, {"usr/bin/cvo": b"cvo"}, {}),
        "demo-operator": arch_image(
            "demo-operator", "amd64", DOCKER, operator_files(SMALL_NAMES), OPERATOR_LABELS
        ),
        **{name: build_image(seed=f"interrupt-{name}", layers=1) for name in SMALL_NAMES},
    }
    with RegistryClient(options_for(registry_http)) as client:
        repo = repo_at(client, registry_http.host, repository)
        digests = {name: push_image(repo, image) for name, image in images.items()}
    return Content(digests, (), repository)


@pytest.mark.parametrize(("sent", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_stops_new_while_it_reads_the_components(
    proxy: FaultProxy, many: Content, tmp_path: Path, sent: int, code: int
) -> None:
    # Each manifest takes about a second and a half; one at a time, the components take 20 s.
    proxy.add(Rule("GET", "/(manifests|blobs)/sha256:", "slow", times=None, rate=400))
    stopped = interrupted_run(
        proxy,
        "/manifests/sha256:",
        2,
        tmp_path,
        "new",
        "--insecure",
        "--max-per-registry",
        "1",
        "--name",
        NAME,
        *many.mappings(proxy.host),
        "--to-image",
        f"oci:{tmp_path}/new/release:{NAME}",
        signals=(sent,),
    )
    assert_stopped(stopped, code)
    assert leftovers(tmp_path) == []


def test_an_interrupted_library_copy_raises_keyboardinterrupt_once_its_threads_ended(
    proxy: FaultProxy, content: Content, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """The library installs no signal handler: a KeyboardInterrupt (Python's for a SIGINT to the main
    thread) stops the copy's threads, removes the layout it created, and is raised after.

    Python's own SIGINT handler is put in place for the test: a process started with SIGINT ignored (a
    background job of a non-interactive shell, as `.ci/run &` is) keeps it ignored, and then no
    KeyboardInterrupt ever comes."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    request.addfinalizer(lambda: signal.signal(signal.SIGINT, previous))
    proxy.add(Rule("GET", content.big_layers, "slow", times=None, rate=RATE))
    before = set(threading.enumerate())
    main = threading.main_thread().ident
    assert main is not None

    def interrupt_when_copying() -> None:
        deadline = time.monotonic() + 60
        while proxy.count("GET", content.big_layers) == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
        signal.pthread_kill(main, signal.SIGINT)

    source = parse_location(f"{proxy.host}/{content.repository}@{content.digests['big-a']}")
    threading.Thread(target=interrupt_when_copying, daemon=True).start()
    start = time.monotonic()
    with DefaultTransport(TransportOptions(insecure=True)) as transport, pytest.raises(KeyboardInterrupt):
        copy_location(
            source, parse_location(f"oci:{tmp_path}/new/layout:x"), source=transport, destination=transport
        )
    assert time.monotonic() - start < BOUND
    assert [t.name for t in threading.enumerate() if t not in before and not t.daemon] == []
    assert not interrupted()
    assert leftovers(tmp_path) == []
