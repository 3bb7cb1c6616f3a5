"""A resolution in one cache record: what reading every component of a stream found, for the next run
with the same components (issue 9, warm mode).

Reading 180 components from the cache still means 180 manifests and configs read, checked and
parsed, and each operator's layer index composed (about 30 ms). When every component is named by
digest, all of that is a function of the pull specs alone: a manifest's digest fixes its content,
hence its config, labels and layers, and a layer's digest fixes its files. So the outcome (each
component's digests and labels, each operator's ``/manifests`` files) is kept as one record whose
key is the sha256 of the pull specs (with the override flag that selects an operator's layers), the
platform selector and :data:`RECORD_FORMAT`. Nothing in it can go stale; like every record it is
checked against its checksum when read, and a record that does not parse or does not name the
same pull specs is ignored (the components are then read one by one, and the record written again).
A record written by a run that skipped the manifest check holds no verdicts; the first run that
checks decides them and writes the record again, under the same key.

Bump :data:`RECORD_FORMAT` whenever what a record holds would come out differently for the same
pull specs: how operator files are selected or composed (``payload.resolve``), which files a layer
yields and how whiteouts apply (``oci.layerread``, ``oci.layerstack``, ``oci.tarwalk``), their mtimes
(``gocompat.gotar.extracted_mtime``), which labels are kept (``payload.components.READ_LABELS``),
which files no transform touches (``payload.resolve.untouched_flags``), how ``image-references`` is
read (``resolve.load_references``, and the JSON decoding behind it: ``gocompat.gojson``,
``openshift.imagestream``), which configs are refused (``payload.components._read``: ``goconfig.check_config``,
``gocompat.goconfig``), or this encoding (with its framing, ``cache.framing``). The manifest
check's verdicts kept with the files follow its ``SOURCE_FORMAT`` and ``VERDICT_RULES``, and the
layer indexes they were composed from their ``INDEX_FORMAT`` (``oci.layerindex``): all are part of
the key, so a change there needs no bump here.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from typing import Any

import attrs

from okdrelease._repr import value_repr
from okdrelease.cache.framing import frame_parts, unframe
from okdrelease.cache.store import RESOLUTION, Cache
from okdrelease.oci import layerindex
from okdrelease.oci.platform import PlatformSelector
from okdrelease.payload.check import SOURCE_FORMAT, VERDICT_RULES
from okdrelease.payload.resolve import ExtractedManifests, ManifestFile, Reference

__all__ = ["RECORD_FORMAT", "Recorded", "RecordedOperator", "read_record", "record_key", "write_record"]

log = logging.getLogger(__name__)

#: Part of every key and every record: a new value makes every earlier record unused.
RECORD_FORMAT = 8


def _one_per_file(
    instance: RecordedOperator, _attribute: attrs.Attribute[Any], verdicts: tuple[str | None, ...] | None
) -> None:
    """A record holds no verdicts or one verdict per file."""
    if verdicts is not None and len(verdicts) != len(instance.manifests.files):
        raise ValueError("verdicts do not match the files")


@attrs.frozen
class RecordedOperator:
    """An operator component as its visit found it: what its ``/manifests`` yielded, and the manifest
    check's verdict of each of its files (None: passed or not checked); ``verdicts`` is None when the
    run that read them skipped the check."""

    __repr__ = value_repr

    manifests: ExtractedManifests
    verdicts: tuple[str | None, ...] | None = attrs.field(default=None, repr=False, validator=_one_per_file)


@attrs.frozen
class Recorded:
    """One component as its visit found it: digests, labels and (an operator's) files."""

    __repr__ = value_repr

    #: The single-image manifest's digest, and the list's it was chosen from (None: no list).
    digest: str
    list_digest: str | None
    labels: dict[str, str] = attrs.field(repr=False)
    #: An operator's files and their verdicts (None: not an operator).
    operator: RecordedOperator | None = None


def record_key(pullspecs: Sequence[tuple[str, bool]], platform: PlatformSelector) -> str:
    """The key of the record for components ``(pull spec by digest, all layers)``, in stream order."""
    pattern = platform.pattern
    identity = {
        "format": RECORD_FORMAT,
        "verdicts": SOURCE_FORMAT,
        "verdict_rules": VERDICT_RULES,
        "layer_index": layerindex.INDEX_FORMAT,
        "platform": [
            pattern.pattern if pattern is not None else None,
            pattern.flags if pattern is not None else 0,
            platform.is_default,
            platform.fallback_first,
        ],
        "components": [[spec, override] for spec, override in pullspecs],
    }
    text = json.dumps(identity, separators=(",", ":"), sort_keys=True)
    return "sha256:" + hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def _row(item: Recorded) -> list[Any]:
    """A component's header row: every field but the file bytes (None for what a non-operator lacks)."""
    if item.operator is None:
        return [item.digest, item.list_digest, item.labels, None, None, None, None]
    read, verdicts = item.operator.manifests, item.operator.verdicts
    return [
        item.digest,
        item.list_digest,
        item.labels,
        list(read.layers),
        [[f.name, f.mtime, len(f.data), f.untouched] for f in read.files],
        list(verdicts) if verdicts is not None else None,
        [list(r) for r in read.references] if read.references is not None else None,
    ]


def _encode(pullspecs: Sequence[str], components: Sequence[Recorded]) -> bytes:
    """A header line (every field but the file bytes), then the file bytes back to back (``cache.framing``)."""
    return b"".join(_encode_parts(pullspecs, components))


def _encode_parts(pullspecs: Sequence[str], components: Sequence[Recorded]) -> tuple[bytes, ...]:
    """:func:`_encode`'s bytes as the header line and the files' own bytes (the record is written from
    them: no copy of every operator's files, about 13 MB at 400 components, is made to store it)."""
    head = {
        "format": RECORD_FORMAT,
        "pullspecs": list(pullspecs),
        "components": [_row(c) for c in components],
    }
    operators = [item.operator for item in components if item.operator is not None]
    return frame_parts(head, (f.data for operator in operators for f in operator.manifests.files))


def _decode(payload: bytes, pullspecs: Sequence[str]) -> list[Recorded]:
    """Parse :func:`_encode` output; ValueError (or TypeError, KeyError) when it is not one for ``pullspecs``.

    The header's rows are read once (:func:`_rows`): each file row becomes the index of its part, so
    the files and the parts cut at their lengths cannot fall out of step."""
    rows: list[_Row] = []
    _head, parts = unframe(payload, lambda head: _rows(head, pullspecs, rows))
    out = []
    for digest, list_digest, labels, layers, files, verdicts, references in rows:
        operator = None
        if files is not None:
            found = tuple(
                ManifestFile(name, parts[part], mtime, untouched) for name, mtime, part, untouched in files
            )
            read = ExtractedManifests(tuple(str(d) for d in layers), found, _references(references))
            operator = RecordedOperator(read, tuple(verdicts) if verdicts is not None else None)
        out.append(Recorded(str(digest), list_digest, labels, operator))
    if len(out) != len(pullspecs):
        raise ValueError("not one component per pull spec")
    return out


#: A component's header row as :func:`_rows` reads it: its files as (name, mtime, part, untouched),
#: ``part`` the index of the file's bytes among the record's parts.
_Row = tuple[Any, Any, dict[str, str], Any, list[tuple[Any, Any, int, bool]] | None, Any, Any]


def _rows(head: Any, pullspecs: Sequence[str], rows: list[_Row]) -> list[int]:
    """Read the header's component rows into ``rows`` (one pass); the files' lengths, in part order."""
    if head["format"] != RECORD_FORMAT or head["pullspecs"] != list(pullspecs):
        raise ValueError("another format or other components")
    lengths: list[int] = []
    for digest, list_digest, labels, layers, files, verdicts, references in head["components"]:
        if not isinstance(labels, dict):
            raise TypeError("labels are not an object")
        found = None
        if layers is not None or files is not None:
            if layers is None or files is None:
                raise ValueError("layers without files or files without layers")
            found = []
            for name, mtime, length, untouched in files:
                found.append((name, mtime, len(lengths), untouched is True))
                lengths.append(length)
        elif verdicts is not None or references is not None:
            raise ValueError("verdicts or references without files")
        rows.append((digest, list_digest, labels, layers, found, verdicts, references))
    return lengths


def _references(rows: Any) -> tuple[Reference, ...] | None:
    if rows is None:
        return None
    out = []
    for name, kind, source in rows:
        if not (isinstance(name, str) and isinstance(kind, str) and isinstance(source, str)):
            raise TypeError("a reference is not three strings")
        out.append((name, kind, source))
    return tuple(out)


def read_record(store: Cache, key: str, pullspecs: Sequence[str]) -> list[Recorded] | None:
    """The components recorded under ``key`` for ``pullspecs`` (in their order), or None."""
    payload = store.get_record(RESOLUTION, key)
    if payload is None:
        return None
    try:
        return _decode(payload, pullspecs)
    except (ValueError, TypeError, KeyError, UnicodeDecodeError) as err:
        log.debug("cached resolution %s unusable: %s", key, err)
        return None


def write_record(store: Cache, key: str, pullspecs: Sequence[str], components: Sequence[Recorded]) -> None:
    """Record ``components`` (read for ``pullspecs``, in their order) under ``key``."""
    store.put_record(RESOLUTION, key, _encode_parts(pullspecs, components))
