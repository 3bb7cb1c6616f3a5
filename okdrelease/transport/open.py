"""The single entry point features use to turn a location into a repository and a reference."""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

from okdrelease.errors import UsageError
from okdrelease.reference import ImageLocation, LayoutLocation, RegistryLocation, parse_location
from okdrelease.transport.base import Repository, TransportOptions
from okdrelease.transport.client import RegistryClient

if TYPE_CHECKING:
    from okdrelease.transport.layout import LayoutRepository


def _layout_repository(path: str, create: bool, options: TransportOptions | None = None) -> LayoutRepository:
    from okdrelease.transport.layout import LayoutRepository

    return LayoutRepository(path, create=create, events=options.events if options else None)


def location_reference(location: ImageLocation) -> str | None:
    """Return the reference inside the repository: digest first, then tag or ref name (None if absent)."""
    if isinstance(location, RegistryLocation):
        return location.ref.digest or location.ref.tag
    return location.digest or location.refname


def open_location(
    location: ImageLocation,
    options: TransportOptions | None = None,
    *,
    client: RegistryClient | None = None,
    create: bool = False,
) -> tuple[Repository, str | None]:
    """Open ``location``; return (repository, tag/digest or layout ref name/digest, None when not given)."""
    if isinstance(location, RegistryLocation):
        registry_client = client or RegistryClient(options or TransportOptions())
        return registry_client.repository(location.ref), location_reference(location)
    return _layout_repository(location.path, create, options), location_reference(location)


def default_reference(location: ImageLocation, repository: Repository, reference: str | None) -> str:
    """The image a location names: its own reference, else ``latest`` (registry), else a layout's only ref."""
    if reference is not None:
        return reference
    if isinstance(location, RegistryLocation):
        return "latest"
    names = repository.list_tags()
    if len(names) != 1:
        raise UsageError(f"{location} holds {len(names)} images; name one as oci:DIR:REFNAME")
    return names[0]


class DefaultTransport:
    """The ``Transport`` of registries and OCI layouts: one RegistryClient, one LayoutRepository per directory."""

    def __init__(self, options: TransportOptions | None = None, *, client: RegistryClient | None = None):
        """Use ``client`` or create one from ``options``."""
        self.options = options or (client.options if client is not None else TransportOptions())
        self.client = client or RegistryClient(self.options)
        self._lock = threading.Lock()
        self._layouts: dict[str, LayoutRepository] = {}

    def __repr__(self) -> str:
        return f"DefaultTransport(layouts={sorted(self._layouts)})"

    def open(self, location: ImageLocation | str, create: bool = False) -> tuple[Repository, str | None]:
        """Open a location (or its text form); layouts are cached per absolute path."""
        if isinstance(location, str):
            location = parse_location(location)
        if isinstance(location, RegistryLocation):
            return open_location(location, self.options, client=self.client)
        assert isinstance(location, LayoutLocation)
        key = os.path.abspath(location.path)
        with self._lock:
            layout = self._layouts.get(key)
            if layout is None:
                layout = _layout_repository(location.path, create, self.options)
                self._layouts[key] = layout
        return layout, location_reference(location)

    def close(self) -> None:
        """Close the registry connections."""
        self.client.close()

    def __enter__(self) -> DefaultTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
