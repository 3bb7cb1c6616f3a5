"""The requests ``new`` sends to push a release: no round trip the result does not need (issue 9)."""

from __future__ import annotations

import pytest
from faultproxy import FaultProxy
from registry_rig import RegistryInfo, RepoNamer
from test_faults import RELEASE, new_args
from test_registry import options_for, repo_at

from okdrelease.cli import main
from okdrelease.oci.model import Manifest
from okdrelease.transport.registry import RegistryClient


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
