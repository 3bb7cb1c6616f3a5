"""What every stage of ``new`` shares for one run: the transport seam, the resolver, progress."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import attrs

from okdrelease.transport.base import Transport

if TYPE_CHECKING:
    from okdrelease.images.resolve import Resolver
    from okdrelease.payload.resolve import OperatorManifests

Progress = Callable[[str], None]


def _noop(_line: str) -> None:
    return None


@attrs.define
class Reporter:
    """Progress lines to the caller; warnings also collected for the result."""

    emit: Progress = _noop
    warnings: list[str] = attrs.field(factory=list)

    def warn(self, line: str) -> None:
        """Report a warning line and keep it for the result."""
        self.warnings.append(line)
        self.emit(line)


@attrs.frozen
class Run:
    """One run's shared machinery: transport, resolver (with its cache), operators' files, progress, concurrency."""

    transport: Transport
    resolver: Resolver
    operators: OperatorManifests
    reporter: Reporter
    workers: int

    @property
    def emit(self) -> Progress:
        """Report a progress line."""
        return self.reporter.emit
