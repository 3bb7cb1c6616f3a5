"""The persistent, content-addressed cache (``store``) and the repository wrapper that reads through it."""

from okdrelease.cache.store import (
    DEFAULT_MAX_BYTES,
    LAYER_INDEX,
    VERDICT,
    Cache,
    CacheInfo,
    CacheStats,
    KindInfo,
    PruneResult,
    default_root,
)

__all__ = [
    "DEFAULT_MAX_BYTES",
    "LAYER_INDEX",
    "VERDICT",
    "Cache",
    "CacheInfo",
    "CacheStats",
    "KindInfo",
    "PruneResult",
    "default_root",
]
