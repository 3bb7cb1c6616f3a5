"""The ``Transport`` protocol: every command opens images through ``open(location)``."""

from __future__ import annotations

from pathlib import Path

from imagegen import make_image
from registry_rig import RegistryInfo, RepoNamer
from test_registry import options_for

from okdrelease.reference import parse_location
from okdrelease.transport.base import Repository, Transport
from okdrelease.transport.layout import LayoutRepository
from okdrelease.transport.open import DefaultTransport
from okdrelease.transport.registry import RegistryRepository


def test_default_transport_opens_layouts_and_registries(
    tmp_path: Path, registry_http: RegistryInfo, unique_repo: RepoNamer
) -> None:
    with DefaultTransport(options_for(registry_http)) as transport:
        assert isinstance(transport, Transport)
        layout, refname = transport.open(parse_location(f"oci:{tmp_path / 'l'}:v1"), create=True)
        assert isinstance(layout, LayoutRepository) and isinstance(layout, Repository)
        assert refname == "v1"
        again, _ = transport.open(parse_location(f"oci:{tmp_path / 'l'}"))
        assert again is layout
        name = unique_repo()
        repo, tag = transport.open(parse_location(f"{registry_http.host}/{name}:t"))
        assert isinstance(repo, RegistryRepository) and tag == "t"
        image = make_image(repo, "t", seed="seam")
        assert repo.resolve("t").digest == image.digest
        digest_repo, digest = transport.open(parse_location(f"{registry_http.host}/{name}@{image.digest}"))
        assert digest == image.digest and digest_repo.get_manifest(digest).digest == image.digest
