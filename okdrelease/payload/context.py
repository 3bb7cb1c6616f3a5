"""What every stage of ``new`` shares for one run: the transport seam, the resolver, progress."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import attrs

from okdrelease._repr import value_repr
from okdrelease.transport.base import Transport

if TYPE_CHECKING:
    from okdrelease.images.resolve import Resolver
    from okdrelease.payload.resolve import OperatorManifests

Progress = Callable[[str], None]
T = TypeVar("T")
R = TypeVar("R")


def _noop(_line: str) -> None:
    return None


@attrs.define
class Reporter:
    """Progress lines to the caller; warnings also collected for the result."""

    __repr__ = value_repr

    emit: Progress = _noop
    warnings: list[str] = attrs.field(factory=list)

    def warn(self, line: str) -> None:
        """Report a warning line and keep it for the result."""
        self.warnings.append(line)
        self.emit(line)


@attrs.frozen
class Run:
    """One run's shared machinery: transport, resolver (with its cache), operators' files, progress, concurrency."""

    __repr__ = value_repr

    transport: Transport
    resolver: Resolver
    operators: OperatorManifests
    reporter: Reporter
    workers: int

    @property
    def emit(self) -> Progress:
        """Report a progress line."""
        return self.reporter.emit

    def from_cache(self, work: Callable[[Run, T], R]) -> Callable[[T], R] | None:
        """``work`` on a copy of this run whose resolver answers only from caches (None without a
        persistent cache, or with an empty one, where every attempt would miss): a ``first`` attempt
        for ``resolve_all``.

        The copy raises ``NotCached`` where a repository would be asked; its progress lines and
        warnings reach this run's reporter only when ``work`` succeeds (an attempt left to the pool
        reports them there, once). Without the attempts (a cold run) every item goes to the pool
        at once: the attempts' misses cost 12 ms of CPU for 180 images.
        """
        store = self.resolver.store
        if store is None or store.empty():
            return None
        resolver = self.resolver.cache_only()
        offline = attrs.evolve(
            self, resolver=resolver, operators=attrs.evolve(self.operators, resolver=resolver)
        )

        def attempt(item: T) -> R:
            lines: list[str] = []
            held = Reporter(lines.append)
            result = work(attrs.evolve(offline, reporter=held), item)
            for line in lines:
                self.reporter.emit(line)
            self.reporter.warnings.extend(held.warnings)
            return result

        return attempt
