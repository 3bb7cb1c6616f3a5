"""Fixtures and helpers shared by the signing tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from registry_rig import RegistryInfo, RepoNamer

from okdrelease import cli
from okdrelease.reference import ImageReference
from okdrelease.transport.base import TransportOptions
from okdrelease.transport.client import RegistryClient
from okdrelease.transport.registry import RegistryRepository


@pytest.fixture
def loopback_repo(
    registry_http: RegistryInfo, unique_repo: RepoNamer
) -> Iterator[tuple[str, RegistryRepository]]:
    """A fresh repository of the loopback registry; yields ``host/name`` and the repository."""
    name = f"{registry_http.host}/{unique_repo()}"
    with RegistryClient(TransportOptions(insecure_registries=frozenset({registry_http.host}))) as client:
        yield name, client.repository(ImageReference.parse(name))


@pytest.fixture
def signature_commands_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Register only sign/verify/keys so other commands' state cannot affect a test."""
    monkeypatch.setattr(cli, "SUBCOMMANDS", ("sign", "verify", "keys"))
