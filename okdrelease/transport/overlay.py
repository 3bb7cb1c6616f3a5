"""A transport that serves ``REPO@digest`` pull specs from an OCI layout (``new --layout-repository``).

The release names the repository the images will live in; their content is read locally.
Everything else goes to the wrapped transport.
"""

from __future__ import annotations

from okdrelease.reference import (
    ImageLocation,
    ImageReference,
    LayoutLocation,
    RegistryLocation,
    parse_location,
)
from okdrelease.transport.base import Repository, Transport, TransportOptions


class LayoutContentTransport:
    """Digests of ``repository`` are read from the layout at ``layout_path`` when it holds them."""

    def __init__(self, inner: Transport, repository: str, layout_path: str) -> None:
        """Wrap ``inner``; ``repository`` is the name the release gives the layout's images."""
        self.inner = inner
        self.repository = ImageReference.parse(repository).name
        self.layout_path = layout_path

    @property
    def options(self) -> TransportOptions:
        """The wrapped transport's options."""
        return self.inner.options

    def open(self, location: ImageLocation | str, create: bool = False) -> tuple[Repository, str | None]:
        """Open ``location``; digests of the layout repository come from the layout."""
        if isinstance(location, str):
            location = parse_location(location)
        if (
            isinstance(location, RegistryLocation)
            and location.ref.name == self.repository
            and location.ref.digest
        ):
            layout, _ = self.inner.open(LayoutLocation(self.layout_path))
            if layout.has_blob(location.ref.digest):
                return layout, location.ref.digest
        return self.inner.open(location, create)

    def close(self) -> None:
        """Close the wrapped transport."""
        self.inner.close()
