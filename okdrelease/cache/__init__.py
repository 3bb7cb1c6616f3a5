"""The persistent, content-addressed cache (``store``, its ``pack`` files, what ``info``/``prune`` report:
``report``) and the repository wrapper that reads through it (``reads``)."""

from okdrelease.cache.store import (
    DEFAULT_MAX_BYTES,
    LAYER_INDEX,
    RESOLUTION,
    VERDICT,
    Cache,
    CacheStats,
    default_root,
)

__all__ = [
    "DEFAULT_MAX_BYTES",
    "LAYER_INDEX",
    "RESOLUTION",
    "VERDICT",
    "Cache",
    "CacheStats",
    "default_root",
]
