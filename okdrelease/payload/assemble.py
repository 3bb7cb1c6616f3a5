"""Assembly of the ``release-manifests/`` payload tar from operator manifests (spec §3.11.1, §3.11.2)."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import BinaryIO, Protocol

import attrs

from okdrelease._repr import value_repr
from okdrelease.errors import ReleaseError
from okdrelease.gocompat.gotar import GoTarWriter
from okdrelease.openshift.payloadfiles import payload_name
from okdrelease.payload.check import check_manifest

log = logging.getLogger(__name__)

Transform = Callable[[bytes], bytes]

PAYLOAD_DIR = "release-manifests"
IMAGE_REFERENCES = "image-references"
RELEASE_METADATA = "release-metadata"
DIR_MODE = 0o777
FILE_MODE = 0o444


class NamedFile(Protocol):
    """Anything with ``name``, ``data`` and ``mtime`` (such as ``components.ManifestFile``)."""

    @property
    def name(self) -> str: ...

    @property
    def data(self) -> bytes: ...

    @property
    def mtime(self) -> float: ...


FileEntry = tuple[str, bytes, float] | NamedFile


def _entry(item: FileEntry) -> tuple[str, bytes, float]:
    """Return (file name, data, mtime) of a tuple or a ``NamedFile``."""
    if isinstance(item, tuple):
        return item
    return item.name, item.data, item.mtime


@attrs.frozen
class FilesByOperator:
    """Operator tag name -> the top-level regular files of its extracted ``/manifests`` directory."""

    __repr__ = value_repr

    files: Mapping[str, Sequence[FileEntry]] = attrs.field(factory=dict)

    def entries(self, operator: str) -> list[tuple[str, bytes, float]]:
        """Return the operator's files sorted by name; ReleaseError if the operator is unknown."""
        if operator not in self.files:
            raise ReleaseError(f"missing image data {operator}")
        return sorted((_entry(item) for item in self.files[operator]), key=lambda e: e[0])


def newest_mtime(operator_files: FilesByOperator, operators: Iterable[str]) -> int:
    """Return the newest file mtime (image-references included, Q24), truncated to seconds; 0 if none."""
    mtimes = [
        mtime
        for name in operators
        if name in operator_files.files
        for _file, _data, mtime in map(_entry, operator_files.files[name])
    ]
    if not mtimes:
        return 0
    newest = max(mtimes)
    return math.floor(newest) if math.isfinite(newest) else 0


class _NameTable:
    """The collision table oc keeps while naming payload files (``<stem>_<n><ext>``)."""

    def __init__(self) -> None:
        self._used: dict[str, int] = {}

    def claim(self, name: str) -> str:
        """Return the name to write for ``name``, suffixing ``_<n>`` if it was produced before."""
        count = self._used.get(name)
        if count is not None:
            count += 1
            self._used[name] = count
            ext = _go_ext(name)
            name = f"{name[: len(name) - len(ext)]}_{count}{ext}"
        self._used[name] = 1
        return name


def _go_ext(name: str) -> str:
    """Return Go's ``path.Ext(name)``: the suffix from the final ``.`` of the last element, or ``""``."""
    for i in range(len(name) - 1, -1, -1):
        if name[i] == "/":
            return ""
        if name[i] == ".":
            return name[i:]
    return ""


def write_payload_tar(
    out: BinaryIO,
    operator_files: FilesByOperator,
    ordered: Sequence[str],
    transform_for: Callable[[str], Transform],
    image_references: bytes,
    release_metadata: bytes,
    *,
    skip_manifest_check: bool = False,
    dedupe: bool = False,
    check: Callable[[str, str, bytes], None] = check_manifest,
) -> list[str]:
    """Write the uncompressed ``release-manifests/`` tar to ``out``; return the operators that contributed.

    ``transform_for(operator)`` is called once per operator that has files, in payload order, and
    returns its manifest transform (``build_operator_transform`` when the operator ships an
    ``image-references`` file, else ``simple_transform``). ``ordered`` is sorted here; with ``dedupe``
    an operator listed twice is emitted once (oc emits it again with ``_2`` names, Q6).
    """
    names = sorted(ordered)
    if dedupe:
        names = list(dict.fromkeys(names))
    newest = newest_mtime(operator_files, names)
    tar = GoTarWriter(out)
    tar.add_dir(PAYLOAD_DIR, DIR_MODE, newest)
    tar.add_file(f"{PAYLOAD_DIR}/{IMAGE_REFERENCES}", image_references, FILE_MODE, newest)
    tar.add_file(f"{PAYLOAD_DIR}/{RELEASE_METADATA}", release_metadata, FILE_MODE, newest)
    table = _NameTable()
    contributed: list[str] = []
    for operator in names:
        entries = operator_files.entries(operator)
        if not entries:
            log.debug("operator %s has no manifests; skipped", operator)
            continue
        transform = transform_for(operator)
        for filename, data, mtime in entries:
            if filename == IMAGE_REFERENCES:
                continue
            destination = table.claim(payload_name(operator, filename))
            if not skip_manifest_check:
                check(f"{operator}/{filename}", filename, data)
            tar.add_file(f"{PAYLOAD_DIR}/{destination}", transform(data), FILE_MODE, mtime)
        contributed.append(operator)
    tar.close()
    log.debug("payload tar written: %d operators contributed", len(contributed))
    return contributed
