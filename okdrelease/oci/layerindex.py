"""Per-layer indexes: each distinct layer is read once per run (and once ever with a persistent cache).

A :class:`LayerIndex` holds what one layer has under a prefix: every entry in tar order (regular
files with their bytes, directories, links, whiteouts) with mode and mtime. An image's all-layers
view is composed from the indexes of its layers by the same whiteout rules as reading the layers
(``okdrelease.oci.layerstack``), so a base layer shared by sixty operator images is decompressed once,
not sixty times. :func:`load_index` reads an index from a :class:`~okdrelease.cache.Cache` (stored
under the layer digest, checked when read) or scans the layer and stores it; the resolver memoises
it per run, so the first thread to ask scans a layer and the others wait for it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import IO, TYPE_CHECKING, Any

import attrs

from okdrelease._repr import value_repr
from okdrelease.cache.framing import frame_parts, unframe
from okdrelease.cache.store import LAYER_INDEX, Cache
from okdrelease.oci.layerread import LayerEntry, held_entry, read_entries, read_source

if TYPE_CHECKING:
    from okdrelease.oci.layerstack import FileEntry  # loaded when indexes are composed

log = logging.getLogger(__name__)

#: Part of every stored index: a new value makes every earlier one unused (and, through its key,
#: every recorded resolution: ``payload.recorded``).
INDEX_FORMAT = 1


@attrs.frozen(slots=True)
class LayerIndex:
    """Everything one layer holds under ``prefix``, in tar order."""

    __repr__ = value_repr

    digest: str
    prefix: str
    entries: tuple[LayerEntry, ...] = attrs.field(eq=False)

    def to_bytes(self) -> bytes:
        """Serialise: a JSON header line, then the file bytes back to back (``cache.framing``)."""
        return b"".join(self.to_parts())

    def to_parts(self) -> tuple[bytes, ...]:
        """:meth:`to_bytes` not joined: the header line, then each entry's bytes (what a cache stores
        without a copy of them: ``Cache.put_record``)."""
        data = [e.read() for e in self.entries]
        head = {
            "format": INDEX_FORMAT,
            "digest": self.digest,
            "prefix": self.prefix,
            "entries": [
                [e.path, e.type, e.mode, e.mtime, len(d), e.size, e.linkname, e.uid, e.gid]
                for e, d in zip(self.entries, data, strict=True)
            ],
        }
        return frame_parts(head, data)

    @classmethod
    def from_bytes(cls, payload: bytes) -> LayerIndex:
        """Parse :meth:`to_bytes` output; ValueError (or TypeError, KeyError) when it is not one."""
        head, data = unframe(payload, _data_lengths)
        entries = tuple(
            held_entry(path, kind, mode, mtime, size, linkname, uid, gid, part)
            for (path, kind, mode, mtime, _length, size, linkname, uid, gid), part in zip(
                head["entries"], data, strict=True
            )
        )
        return cls(str(head["digest"]), str(head["prefix"]), entries)


def _data_lengths(head: Any) -> list[int]:
    """The length of each entry's data from a stored index's header; ValueError when it is not one of this format."""
    if not isinstance(head, dict) or head.get("format") != INDEX_FORMAT:
        raise ValueError("unknown layer index format")
    return [length for _path, _kind, _mode, _mtime, length, _size, _link, _uid, _gid in head["entries"]]


def scan_layer(stream: IO[bytes], digest: str, prefix: str, media_type: str | None = None) -> LayerIndex:
    """Read one layer blob (compressed or not) to its end and index what it has under ``prefix``.

    The stream is read to its end, so a verifying stream checks the layer digest before this returns.
    """
    entries = read_entries(stream, prefix, media_type=media_type, name=digest)
    return LayerIndex(digest, prefix, tuple(entries))


def compose(indexes: Iterable[LayerIndex]) -> dict[str, FileEntry]:
    """The files and directories of a layer stack (bottom first), whiteouts applied, from its indexes."""
    from okdrelease.oci.layerstack import compose_stack  # the stack rules load with the first image composed

    return compose_stack([index.entries for index in indexes])


def load_index(
    store: Cache | None,
    digest: str,
    prefix: str,
    opener: Callable[[], IO[bytes]],
    media_type: str | None = None,
) -> LayerIndex:
    """The index of layer ``digest`` under ``prefix``: from ``store`` when it holds a sound one, else scanned.

    ``opener`` opens the layer's verifying blob stream; a scanned index is stored for the next run.
    Callers memoise per run (one scan per layer, waiters share it: ``images.resolve.Resolver``).
    """
    key = f"{digest}|{prefix}"
    if store is not None:
        payload = store.get_record(LAYER_INDEX, key)
        if payload is not None:
            try:
                found = LayerIndex.from_bytes(payload)
            except (ValueError, TypeError, KeyError) as err:
                log.debug("cached index of %s unusable: %s", digest, err)
            else:
                if (found.digest, found.prefix) == (digest, prefix):
                    return found
    index = read_source(opener, lambda stream: scan_layer(stream, digest, prefix, media_type))
    if store is not None:
        store.put_record(LAYER_INDEX, key, index.to_parts())
    return index
