"""Bounds on one decompressed layer: ``LayerLimits`` (bytes, entries, a kept file's size), their defaults,
the error a layer beyond them raises, and the size syntax of the limit flags (``512M``, ``8G``).

Loaded without the layer reader: the CLI parses ``--max-layer-bytes`` and builds the limits value
before any layer is opened (``oci.layerread`` counts a layer against them while it reads it).
"""

from __future__ import annotations

import re

import attrs

from okdrelease._repr import value_repr
from okdrelease.errors import LayerError


class LayerLimitError(LayerError):
    """A layer beyond a limit: too many decompressed bytes, entries, or a kept file too large."""


#: Default bounds on one decompressed layer (raise them with ``LayerLimits``/``--max-layer-bytes``).
DEFAULT_MAX_LAYER_BYTES = 8 << 30
DEFAULT_MAX_LAYER_ENTRIES = 1_000_000
DEFAULT_MAX_FILE_BYTES = 256 << 20


@attrs.frozen
class LayerLimits:
    """Bounds on what one layer may hold once decompressed; a layer beyond them is refused, naming it.

    ``max_bytes``: decompressed tar bytes per layer; ``max_entries``: tar entries per layer;
    ``max_file_bytes``: one file that is kept in memory (a manifest, image-references, …).
    """

    __repr__ = value_repr

    max_bytes: int = DEFAULT_MAX_LAYER_BYTES
    max_entries: int = DEFAULT_MAX_LAYER_ENTRIES
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES


_SIZE_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


#: ASCII digits and spaces only (Unicode ``\d`` would read ``١٢٣`` as 123).
_SIZE_RE = re.compile(
    r"\s*(\d{1,20}(?:\.\d{1,20})?)\s*([KMGT]?)(?:(?<=[KMGT])i)?B?\s*", re.IGNORECASE | re.ASCII
)


def size_in_bytes(text: str, *, least: int = 1) -> int:
    """``4096``, ``512M``, ``1.5G``, ``8GiB`` (binary units, case ignored, a fraction of a byte dropped): the
    byte count of a size flag (``--max-layer-bytes``, ``cache prune --max-size``); ValueError when it is
    no size or less than ``least``."""
    match = _SIZE_RE.fullmatch(text)
    size = -1
    if match:
        whole, _, fraction = match.group(1).partition(".")
        scale = 10 ** len(fraction)  # (exact: integers, no float rounding)
        size = (int(whole) * scale + int(fraction or 0)) * _SIZE_UNITS[match.group(2).upper()] // scale
    if size < least:
        kind = "a positive number" if least > 0 else "a number"
        raise ValueError(f"invalid size {text!r}: use {kind} of bytes, optionally with K, M, G or T (1.5G)")
    return size
