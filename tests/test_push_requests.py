"""The requests ``new`` sends to push a release: no round trip the result does not need (issue 9)."""

from __future__ import annotations

import pytest
from faultproxy import FaultProxy
from imagegen import DOCKER, make_image
from registry_rig import RegistryInfo, RepoNamer
from test_faults import RELEASE, new_args
from test_registry import options_for, repo_at

from okdrelease.cli import main
from okdrelease.errors import NotFoundError, ReleaseError
from okdrelease.images.resolve import Resolver
from okdrelease.oci.model import Manifest
from okdrelease.openshift.imagestream import ImageStream
from okdrelease.openshift.metadata import CincinnatiMetadata
from okdrelease.payload.context import Reporter, Run
from okdrelease.payload.operators import Payload
from okdrelease.payload.pipeline import may_push_early
from okdrelease.payload.plan import NewOptions
from okdrelease.payload.resolve import OperatorManifests
from okdrelease.payload.sinks import ImageSink, pushing_early
from okdrelease.transport.base import TransportOptions
from okdrelease.transport.client import RegistryClient
from okdrelease.transport.open import DefaultTransport


def push_sample(proxy: FaultProxy, to_image: str) -> None:
    assert main([*new_args(to_image), "--insecure-registry", proxy.host, "-q"]) == 0


def digests(proxy: FaultProxy, method: str, pattern: str, marker: str) -> list[str]:
    """The blob digests named after ``marker`` in the paths of the matching requests, sorted."""
    return sorted(
        s.path.split(marker, 1)[1].split("&")[0].replace("%3A", ":") for s in proxy.seen(method, pattern)
    )


def test_payload_layer_is_uploaded_without_asking_first(
    proxy: FaultProxy, registry_http: RegistryInfo, unique_repo: RepoNamer, capsys: pytest.CaptureFixture[str]
) -> None:
    """The payload layer gzipped in this run goes up straight (POST, PUT): only the base layers get a HEAD.

    Pushing the same release again uploads that layer again rather than spend a round trip on
    every push asking for it; the result is the same image.
    """
    name = unique_repo("okd")
    for attempt in range(2):
        proxy.clear()
        push_sample(proxy, f"{proxy.host}/{name}:{RELEASE}")
        capsys.readouterr()
        with RegistryClient(options_for(registry_http)) as client:
            manifest = repo_at(client, registry_http.host, name).get_manifest(RELEASE)
        assert isinstance(manifest, Manifest)
        *base, payload = [layer.digest for layer in manifest.layers]
        assert digests(proxy, "HEAD", "/blobs/sha256", "/blobs/") == sorted(base)
        uploaded = [payload, manifest.config.digest] + ([] if attempt else base)
        assert digests(proxy, "PUT", "/blobs/uploads/", "digest=") == sorted(uploaded)
        assert proxy.count("POST", "/blobs/uploads/") == len(uploaded)
        assert proxy.count("PUT", "/manifests/") == 1


# --------------------------------------------------------------------------------------------
# The push work that does not need the payload starts before it exists (issue 9, 30 ms mode)

CREATED = "2024-05-01T00:00:00Z"


def _sink(proxy: FaultProxy, base: str, dest: str) -> ImageSink:
    return ImageSink(
        to_image=f"{proxy.host}/{dest}:rel",
        given_name=None,
        name="4.16.0-early",
        created=CREATED,
        base_image=f"{proxy.host}/{base}:v1",
        base_tag="cluster-version-operator",
        keep_manifest_list=False,
        dry_run=False,
    )


def _run(proxy: FaultProxy) -> Run:
    transport = DefaultTransport(TransportOptions(insecure_registries=frozenset({proxy.host}), retries=0))
    resolver = Resolver()
    return Run(transport, resolver, OperatorManifests(resolver), Reporter(), workers=4)


def _payload() -> Payload:
    tar = b"release-manifests payload, any bytes will do" * 50
    return Payload(tar, ImageStream(), CincinnatiMetadata("4.16.0-early"), (), b"", b"")


def _requests(proxy: FaultProxy) -> list[tuple[str, str]]:
    """(method, what) of every request the proxy saw, sorted: blob paths name their digest, a
    session POST or a PUT into one is ``session``."""
    out = []
    for seen in proxy.log:
        path = seen.path.split("?", 1)[0]
        if seen.method == "POST" and "mount=" in seen.path:
            what = "mount " + seen.path.split("mount=", 1)[1].split("&")[0].replace("%3A", ":")
        elif seen.method == "PUT" and "digest=" in seen.path:
            what = "blob " + seen.path.split("digest=", 1)[1].split("&")[0].replace("%3A", ":")
        elif "/blobs/uploads/" in path:
            what = "session"
        else:
            what = path.rsplit("/", 2)[-2] + "/" + path.rsplit("/", 1)[-1] if "/v2/" != path else "/v2/"
        out.append((seen.method, what))
    return sorted(out)


def test_base_layers_and_sessions_are_ready_before_the_payload(
    proxy: FaultProxy, registry_http: RegistryInfo, unique_repo: RepoNamer
) -> None:
    """Before the payload exists the base is read, its layers mounted (no HEAD: a mount answers 201
    whether the layer was there or not) and two upload sessions opened; once it exists, only the payload and config PUTs (into those sessions) and the manifest follow."""
    base, dest = unique_repo("base"), unique_repo("dest")
    with RegistryClient(options_for(registry_http)) as client:
        image = make_image(repo_at(client, registry_http.host, base), "v1", seed="early", flavour=DOCKER)
    layers = [layer.digest for layer in image.layers]
    run = _run(proxy)
    with pushing_early(_sink(proxy, base, dest), ImageStream(), run, True) as sink:
        assert isinstance(sink, ImageSink) and sink.early is not None
        sink.early.ahead().base_copied()  # the early work, waited for
        assert _requests(proxy) == sorted(
            [("GET", "/v2/"), ("GET", "manifests/v1"), ("GET", f"blobs/{image.config.digest}")]
            + [("POST", f"mount {digest}") for digest in layers]  # mounted without a HEAD first
            + [("POST", "session")] * 2
        )
        sessions = {s.path for s in proxy.log if s.method == "POST" and "mount=" not in s.path}
        proxy.clear()
        delivery = sink.deliver(_payload(), run)
    run.transport.close()
    with RegistryClient(options_for(registry_http)) as client:
        pushed = repo_at(client, registry_http.host, dest).get_manifest("rel")
    assert isinstance(pushed, Manifest) and pushed.digest == delivery.digest
    payload_digest = pushed.layers[-1].digest
    assert [layer.digest for layer in pushed.layers[:-1]] == layers
    assert _requests(proxy) == sorted(
        [("PUT", f"blob {payload_digest}"), ("PUT", f"blob {pushed.config.digest}"), ("PUT", "manifests/rel")]
    )
    assert len(sessions) == 1  # both POSTs went to .../blobs/uploads/; the PUTs went to what they opened


def test_early_push_stopped_before_the_payload_leaves_no_tag_and_no_session(
    proxy: FaultProxy, registry_http: RegistryInfo, unique_repo: RepoNamer
) -> None:
    """A run that fails before its payload exists (a bad component, a bad manifest) stops the early
    work: its unused sessions are cancelled, nothing is tagged; the base layers may be there (blobs)."""
    base, dest = unique_repo("base"), unique_repo("dest")
    with RegistryClient(options_for(registry_http)) as client:
        make_image(repo_at(client, registry_http.host, base), "v1", seed="early-stop", flavour=DOCKER)
    run = _run(proxy)
    with pytest.raises(ReleaseError, match="a later stage failed"):
        with pushing_early(_sink(proxy, base, dest), ImageStream(), run, True) as sink:
            assert isinstance(sink, ImageSink) and sink.early is not None
            sink.early.ahead()
            raise ReleaseError("a later stage failed")
    run.transport.close()
    assert proxy.count("DELETE", "/blobs/uploads/") == 2
    assert proxy.count("PUT", "") == 0
    with RegistryClient(options_for(registry_http)) as client, pytest.raises(NotFoundError):
        repo_at(client, registry_http.host, dest).resolve("rel")


def test_early_push_failure_is_raised_where_the_push_meets_it(
    proxy: FaultProxy, registry_http: RegistryInfo, unique_repo: RepoNamer
) -> None:
    """A base image that cannot be read fails the delivery with oc's wording, not the run's start."""
    dest = unique_repo("dest")
    run = _run(proxy)
    sink = _sink(proxy, unique_repo("missing"), dest)
    with pushing_early(sink, ImageStream(), run, True) as started:
        assert isinstance(started, ImageSink) and started.early is not None
        with pytest.raises(ReleaseError) as err:
            started.deliver(_payload(), run)
    run.transport.close()
    assert str(err.value).startswith(
        f"failed to push image {proxy.host}/{dest}:rel: unable to read image {sink.base_image}: "
    )
    assert proxy.count("PUT", "") == 0
    assert proxy.count("DELETE", "/blobs/uploads/") == 2


@pytest.mark.parametrize(
    ("options", "early"),
    [
        ({}, True),
        ({"verify_components": "policy.json"}, False),
        ({"skip_if_unchanged": "quay.io/okd/release:4.16"}, False),
        ({"mirror": "quay.io/okd/mirror"}, False),
        ({"pin_digests": True}, False),
    ],
)
def test_push_starts_early_only_when_nothing_later_may_forbid_or_move_it(
    options: dict[str, object], early: bool
) -> None:
    assert may_push_early(NewOptions(to_image="quay.io/okd/release:4.16", **options)) is early  # type: ignore[arg-type]
