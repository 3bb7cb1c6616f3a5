"""What ``okdrelease cache info`` and ``prune`` report (:meth:`Cache.info`, :meth:`Cache.prune`).

Apart from :mod:`okdrelease.cache.store` so that a run, which reports neither, does not define these
classes (attrs builds each at import: about 0.4 ms apiece).
"""

from __future__ import annotations

from pathlib import Path

import attrs

from okdrelease._repr import value_repr


@attrs.frozen
class KindInfo:
    """How many distinct entries of one kind and their payload bytes."""

    __repr__ = value_repr

    kind: str
    entries: int
    size: int


@attrs.frozen
class CacheInfo:
    """What :meth:`Cache.info` reports: entries by kind, and the packs holding them."""

    __repr__ = value_repr

    root: Path
    max_bytes: int
    kinds: tuple[KindInfo, ...]
    packs: int = 0
    #: The packs' bytes on disk (what the size bound applies to).
    disk_bytes: int = 0
    #: An earlier version's layout (``v1/``) is still there: ``prune`` removes it.
    legacy: bool = False

    @property
    def entries(self) -> int:
        """All entries."""
        return sum(k.entries for k in self.kinds)

    @property
    def size(self) -> int:
        """All payload bytes."""
        return sum(k.size for k in self.kinds)


@attrs.frozen
class PruneResult:
    """What :meth:`Cache.prune` removed (entries, bytes on disk) and what is left."""

    __repr__ = value_repr

    removed: int
    freed: int
    left_entries: int
    left_bytes: int
